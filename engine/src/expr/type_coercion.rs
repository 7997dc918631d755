//! Type coercion rules shared by type inference (plan schemas) and evaluation, so that the type
//! a plan promises is the type its arrays have.
//!
//! Numeric widening follows PostgreSQL: `smallint < integer < bigint < numeric < double`;
//! integer arithmetic stays integer (and is checked), anything with a float is a float.

use arrow::datatypes::{DataType, TimeUnit};

use super::Operator;
use crate::error::{EngineError, Result};

/// The largest decimal precision Arrow's Decimal128 holds.
pub const MAX_DECIMAL_PRECISION: u8 = 38;

/// Strips dictionary encoding: a `Dictionary(_, Utf8)` behaves as `Utf8` in expressions.
pub fn value_type(t: &DataType) -> &DataType {
    match t {
        DataType::Dictionary(_, v) => value_type(v),
        other => other,
    }
}

/// True for the integer types.
pub fn is_integer(t: &DataType) -> bool {
    matches!(
        value_type(t),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
    )
}

/// True for integers, floats and decimals.
pub fn is_numeric(t: &DataType) -> bool {
    is_integer(t)
        || matches!(
            value_type(t),
            DataType::Float32 | DataType::Float64 | DataType::Decimal128(_, _)
        )
}

/// True for string types.
pub fn is_string(t: &DataType) -> bool {
    matches!(
        value_type(t),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// The decimal type that holds every value of an integer type exactly.
pub fn integer_as_decimal(t: &DataType) -> Option<DataType> {
    Some(match value_type(t) {
        DataType::Int8 => DataType::Decimal128(3, 0),
        DataType::Int16 => DataType::Decimal128(5, 0),
        DataType::Int32 => DataType::Decimal128(10, 0),
        DataType::Int64 => DataType::Decimal128(19, 0),
        DataType::Decimal128(p, s) => DataType::Decimal128(*p, *s),
        _ => return None,
    })
}

fn int_rank(t: &DataType) -> u8 {
    match t {
        DataType::Int8 => 1,
        DataType::Int16 => 2,
        DataType::Int32 => 3,
        _ => 4,
    }
}

/// The common type two numeric types are compared or combined in.
pub fn numeric_common_type(l: &DataType, r: &DataType) -> Option<DataType> {
    let (l, r) = (value_type(l), value_type(r));
    if !is_numeric(l) || !is_numeric(r) {
        return None;
    }
    if matches!(l, DataType::Float32 | DataType::Float64)
        || matches!(r, DataType::Float32 | DataType::Float64)
    {
        return Some(DataType::Float64);
    }
    if let (DataType::Decimal128(..), _) | (_, DataType::Decimal128(..)) = (l, r) {
        let (DataType::Decimal128(p1, s1), DataType::Decimal128(p2, s2)) =
            (integer_as_decimal(l)?, integer_as_decimal(r)?)
        else {
            return None;
        };
        let scale = s1.max(s2);
        let int_digits = (p1 as i16 - s1 as i16).max(p2 as i16 - s2 as i16);
        let precision = (int_digits + scale as i16).clamp(1, MAX_DECIMAL_PRECISION as i16) as u8;
        return Some(DataType::Decimal128(precision, scale));
    }
    Some(if int_rank(l) >= int_rank(r) {
        l.clone()
    } else {
        r.clone()
    })
}

/// The type two values are compared in (`=`, `<`, `IN`, `CASE` branches, `Coalesce`).
/// NULL-typed values take the other side's type; strings and temporal types compare with
/// themselves; a date meets a timestamp as a timestamp.
pub fn comparison_common_type(l: &DataType, r: &DataType) -> Option<DataType> {
    let (lv, rv) = (value_type(l), value_type(r));
    if lv == rv {
        return Some(lv.clone());
    }
    match (lv, rv) {
        (DataType::Null, other) | (other, DataType::Null) => Some(other.clone()),
        (a, b) if is_numeric(a) && is_numeric(b) => numeric_common_type(a, b),
        (a, b) if is_string(a) && is_string(b) => Some(DataType::Utf8),
        (DataType::Date32, DataType::Timestamp(u, tz))
        | (DataType::Timestamp(u, tz), DataType::Date32) => {
            Some(DataType::Timestamp(*u, tz.clone()))
        }
        // A string literal against a temporal column is parsed as that type (PostgreSQL's
        // unknown-literal rule), so `pub_date = '2024-01-01'` works.
        (s, t) | (t, s)
            if is_string(s)
                && matches!(
                    t,
                    DataType::Date32
                        | DataType::Timestamp(..)
                        | DataType::Time64(_)
                        | DataType::Duration(_)
                ) =>
        {
            Some(t.clone())
        }
        _ => None,
    }
}

/// Coercion of an arithmetic operation: `(left cast type, right cast type, result type)`.
pub fn arithmetic_types(
    op: Operator,
    l: &DataType,
    r: &DataType,
) -> Result<(DataType, DataType, DataType)> {
    let (lv, rv) = (value_type(l), value_type(r));
    let err = || {
        EngineError::Plan(format!(
            "operator {op} does not support types {lv} and {rv}"
        ))
    };
    let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
    let dur = DataType::Duration(TimeUnit::Microsecond);
    match (lv, rv) {
        (DataType::Null, DataType::Null) => Ok((DataType::Int64, DataType::Int64, DataType::Int64)),
        (DataType::Null, other) => arithmetic_types(op, other, other),
        (other, DataType::Null) => arithmetic_types(op, other, other),
        (a, b) if is_numeric(a) && is_numeric(b) => {
            let common = numeric_common_type(a, b).ok_or_else(err)?;
            let out = match (&common, op) {
                (DataType::Decimal128(_, _), _) => decimal_result_type(
                    op,
                    &integer_as_decimal(a).ok_or_else(err)?,
                    &integer_as_decimal(b).ok_or_else(err)?,
                ),
                _ => common.clone(),
            };
            match common {
                DataType::Decimal128(..) => Ok((
                    integer_as_decimal(a).ok_or_else(err)?,
                    integer_as_decimal(b).ok_or_else(err)?,
                    out,
                )),
                _ => Ok((common.clone(), common, out)),
            }
        }
        (DataType::Timestamp(..) | DataType::Date32, DataType::Duration(_))
            if matches!(op, Operator::Plus | Operator::Minus) =>
        {
            Ok((ts.clone(), dur, ts))
        }
        (DataType::Duration(_), DataType::Timestamp(..) | DataType::Date32)
            if op == Operator::Plus =>
        {
            Ok((dur, ts.clone(), ts))
        }
        (
            DataType::Timestamp(..) | DataType::Date32,
            DataType::Timestamp(..) | DataType::Date32,
        ) if op == Operator::Minus => Ok((ts.clone(), ts, dur)),
        (DataType::Duration(_), DataType::Duration(_))
            if matches!(op, Operator::Plus | Operator::Minus) =>
        {
            Ok((dur.clone(), dur.clone(), dur))
        }
        (DataType::Duration(_), b)
            if is_integer(b) && matches!(op, Operator::Multiply | Operator::Divide) =>
        {
            Ok((dur.clone(), DataType::Int64, dur))
        }
        (a, DataType::Duration(_)) if is_integer(a) && op == Operator::Multiply => {
            Ok((DataType::Int64, dur.clone(), dur))
        }
        _ => Err(err()),
    }
}

/// Result type of decimal arithmetic (inputs already decimals), following Arrow's kernels.
pub fn decimal_result_type(op: Operator, l: &DataType, r: &DataType) -> DataType {
    let (DataType::Decimal128(p1, s1), DataType::Decimal128(p2, s2)) = (l, r) else {
        return DataType::Float64;
    };
    let (p1, s1, p2, s2) = (*p1 as i32, *s1 as i32, *p2 as i32, *s2 as i32);
    let (p, s) = match op {
        Operator::Plus | Operator::Minus => {
            let s = s1.max(s2);
            ((p1 - s1).max(p2 - s2) + s + 1, s)
        }
        Operator::Multiply => (p1 + p2 + 1, s1 + s2),
        Operator::Divide => {
            // At least 6 and 4 more than the dividend's digits after the point (PostgreSQL
            // keeps about 16 significant digits, data-dependently; a fixed type cannot).
            // The physical kernel computes the quotient at this scale, rounded.
            let s = (s1 + 4).max(6).min(MAX_DECIMAL_PRECISION as i32);
            (p1 - s1 + s2 + s, s)
        }
        _ => {
            let s = s1.max(s2);
            ((p1 - s1).min(p2 - s2) + s, s)
        }
    };
    let p = p.clamp(1, MAX_DECIMAL_PRECISION as i32);
    DataType::Decimal128(p as u8, s.min(p) as i8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_widen_and_stay_integers() {
        let (l, r, out) =
            arithmetic_types(Operator::Divide, &DataType::Int32, &DataType::Int64).unwrap();
        assert_eq!(
            (l, r, out),
            (DataType::Int64, DataType::Int64, DataType::Int64)
        );
        let (_, _, out) =
            arithmetic_types(Operator::Plus, &DataType::Int32, &DataType::Float64).unwrap();
        assert_eq!(out, DataType::Float64);
    }

    #[test]
    fn strings_meet_dates_as_dates() {
        assert_eq!(
            comparison_common_type(&DataType::Utf8, &DataType::Date32),
            Some(DataType::Date32)
        );
        assert_eq!(
            comparison_common_type(&DataType::Utf8, &DataType::Int64),
            None
        );
    }
}
