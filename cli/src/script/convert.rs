//! Conversions between script values and the `quiver` crate's values: [`ScalarValue`]s
//! (what rows hold and what `create()` takes) and [`Expression`]s (what lookups, `annotate`
//! and functions take).

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use quiver::expressions::{Decimal, Expression};
use quiver::ScalarValue;

use super::error::ScriptError;
use super::values::Value;

/// A row value as a script value.
pub fn from_scalar(value: &ScalarValue) -> Value {
    match value {
        ScalarValue::Null => Value::None,
        ScalarValue::Boolean(v) => v.map_or(Value::None, Value::Bool),
        ScalarValue::Int16(v) => v.map_or(Value::None, |v| Value::Int(v.into())),
        ScalarValue::Int32(v) => v.map_or(Value::None, |v| Value::Int(v.into())),
        ScalarValue::Int64(v) => v.map_or(Value::None, Value::Int),
        ScalarValue::Float64(v) => v.map_or(Value::None, Value::Float),
        ScalarValue::Decimal128(v, _, s) => {
            v.map_or(Value::None, |v| Value::Decimal(Decimal::new(v, *s)))
        }
        ScalarValue::Utf8(v) => v.as_ref().map_or(Value::None, Value::str),
        ScalarValue::Date32(v) => v
            .and_then(|days| NaiveDate::from_num_days_from_ce_opt(days + 719_163))
            .map_or(Value::None, Value::Date),
        ScalarValue::TimestampMicrosecond(v) => v
            .and_then(chrono::DateTime::from_timestamp_micros)
            .map_or(Value::None, |d| Value::DateTime(d.naive_utc())),
        ScalarValue::DurationMicrosecond(v) => v.map_or(Value::None, |us| {
            Value::TimeDelta(TimeDelta::microseconds(us))
        }),
        ScalarValue::Time64Microsecond(v) => v
            .and_then(|us| {
                NaiveTime::from_num_seconds_from_midnight_opt(
                    u32::try_from(us / 1_000_000).ok()?,
                    u32::try_from(us % 1_000_000 * 1000).ok()?,
                )
            })
            .map_or(Value::None, Value::Time),
    }
}

/// A script value as a row value (for `create()`, `Value()`, lookups).
pub fn to_scalar(value: &Value) -> Result<ScalarValue, ScriptError> {
    Ok(match value {
        Value::None => ScalarValue::Null,
        Value::Bool(b) => ScalarValue::Boolean(Some(*b)),
        Value::Int(i) => ScalarValue::Int64(Some(*i)),
        Value::Float(f) => ScalarValue::Float64(Some(*f)),
        Value::Str(s) => ScalarValue::Utf8(Some(s.to_string())),
        Value::Decimal(d) => d.to_scalar(),
        Value::Date(d) => quiver::prelude::date_value(*d),
        Value::DateTime(d) => quiver::prelude::datetime_value(*d),
        Value::Time(t) => quiver::prelude::time_value(*t),
        Value::TimeDelta(d) => ScalarValue::DurationMicrosecond(Some(
            d.num_microseconds()
                .ok_or_else(|| ScriptError::new("OverflowError", "timedelta out of range"))?,
        )),
        Value::Instance(i) => to_scalar(&i.borrow().pk_value())?,
        other => {
            return Err(ScriptError::type_error(format!(
                "Field expected a plain value but got {} ({})",
                other.type_name(),
                other.repr()
            )))
        }
    })
}

/// A script value as an expression: expressions stay, `Q` becomes a condition, lists and
/// tuples become `__in`/`__range` lists, anything else a literal.
pub fn to_expression(value: &Value) -> Result<Expression, ScriptError> {
    Ok(match value {
        Value::Expression(e) => (**e).clone(),
        Value::Q(q) => Expression::from((**q).clone()),
        Value::List(items) | Value::Set(items) => Expression::List(
            items
                .borrow()
                .iter()
                .map(to_expression)
                .collect::<Result<_, _>>()?,
        ),
        Value::Tuple(items) => {
            Expression::List(items.iter().map(to_expression).collect::<Result<_, _>>()?)
        }
        // `pk__in=qs`, `amount=qs[:1]`: the QuerySet is a subquery (its single column).
        Value::QuerySet(q) => Expression::from(q.qs.clone()),
        other => Expression::from(to_scalar(other)?),
    })
}

/// A function or aggregate argument: a string names a field (`Sum("amount")`), as in Django.
pub fn to_argument(value: &Value) -> Result<Expression, ScriptError> {
    match value {
        Value::Str(s) => Ok(quiver::expressions::F(s.to_string())),
        other => to_expression(other),
    }
}

/// A datetime from its parts.
pub fn make_datetime(date: NaiveDate, h: u32, m: u32, s: u32, us: u32) -> Option<NaiveDateTime> {
    date.and_hms_micro_opt(h, m, s, us)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::operators::values_equal;

    #[test]
    fn row_values_round_trip() {
        let date = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        let values = [
            Value::None,
            Value::Bool(true),
            Value::Int(-7),
            Value::Float(2.5),
            Value::str("é"),
            Value::Decimal(Decimal::new(1250, 2)),
            Value::Date(date),
            Value::DateTime(date.and_hms_micro_opt(1, 2, 3, 4).unwrap()),
            Value::Time(NaiveTime::from_hms_opt(23, 59, 1).unwrap()),
            Value::TimeDelta(TimeDelta::microseconds(-1_500_000)),
        ];
        for v in values {
            let back = from_scalar(&to_scalar(&v).unwrap());
            assert!(
                values_equal(&v, &back) || matches!(v, Value::None),
                "{v:?} came back as {back:?}"
            );
            assert_eq!(v.type_name(), back.type_name());
        }
        assert_eq!(
            to_scalar(&Value::list(vec![])).unwrap_err().kind,
            "TypeError"
        );
    }

    #[test]
    fn strings_are_fields_only_as_arguments() {
        assert_eq!(
            to_argument(&Value::str("amount")).unwrap(),
            quiver::expressions::F("amount")
        );
        assert!(matches!(
            to_expression(&Value::str("amount")).unwrap(),
            Expression::Value { .. }
        ));
        let list = to_expression(&Value::tuple(vec![Value::Int(1), Value::Int(2)])).unwrap();
        assert!(matches!(list, Expression::List(items) if items.len() == 2));
    }
}
