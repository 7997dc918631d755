//! `CAST(expr AS type)` with PostgreSQL's rules, and the implicit coercions the other
//! operators insert.
//!
//! Arrow's `cast` does most conversions; PostgreSQL differs where users see it, and there we
//! convert ourselves:
//! - a value that does not fit is an error, never NULL (`CastOptions { safe: false }`);
//! - `float8 → integer` rounds to nearest, ties to even (`rint`), `numeric → integer` rounds
//!   half away from zero; Arrow truncates both;
//! - text output follows PostgreSQL ([`super::text`]) and text input ignores surrounding
//!   blanks;
//! - `timestamp → date` floors (a time before the epoch keeps its own day).
//!
//! An *implicit* coercion (the one that lets `int_col + 1.5` or `dec_col = 3` run) does not
//! check a decimal's declared precision, since an intermediate result carries no typmod in
//! PostgreSQL either, and it leaves a dictionary-encoded string column encoded when the
//! consumer accepts dictionaries (comparisons, LIKE).

use std::fmt;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Decimal128Array, DurationMicrosecondArray, Float64Array,
    Int64Array, PrimitiveArray, RecordBatch, StringArray, Time64MicrosecondArray,
    TimestampMicrosecondArray,
};
use arrow::compute::kernels::cast::{cast_with_options, CastOptions};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Decimal128Type, DurationMicrosecondType, Float64Type,
    Int16Type, Int32Type, Int64Type, Time64MicrosecondType, TimeUnit, TimestampMicrosecondType,
};
use arrow::error::ArrowError;
use arrow::util::display::FormatOptions;
use quiver_storage::ScalarValue;

use super::columnar_value::{array_to_scalar, scalar_to_array};
use super::text::{
    format_date, format_duration, format_float, format_time, format_timestamp, parse_duration,
    MICROS_PER_DAY,
};
use super::{ColumnarValue, PhysicalExpr, PhysicalExprRef};
use crate::error::{EngineError, Result};
use crate::expr::type_coercion::{is_integer, is_numeric, is_string, value_type};

const STRICT: CastOptions<'static> = CastOptions {
    safe: false,
    format_options: FormatOptions::new(),
};

/// The PostgreSQL name of a type, for error messages (`"integer out of range"`).
pub fn sql_type_name(data_type: &DataType) -> &'static str {
    match value_type(data_type) {
        DataType::Boolean => "boolean",
        DataType::Int8 | DataType::Int16 => "smallint",
        DataType::Int32 => "integer",
        DataType::Int64 => "bigint",
        DataType::Float32 | DataType::Float64 => "double precision",
        DataType::Decimal128(..) => "numeric",
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "text",
        DataType::Date32 => "date",
        DataType::Timestamp(..) => "timestamp",
        DataType::Time64(_) => "time",
        DataType::Duration(_) => "interval",
        DataType::Null => "unknown",
        _ => "value",
    }
}

/// Whether `CAST(from AS to)` is allowed (PostgreSQL's cast catalogue over Quiver's types).
pub fn can_cast(from: &DataType, to: &DataType) -> bool {
    let (f, t) = (value_type(from), value_type(to));
    if f == t || f == &DataType::Null {
        return true;
    }
    let temporal = |d: &DataType| {
        matches!(
            d,
            DataType::Date32
                | DataType::Timestamp(..)
                | DataType::Time64(_)
                | DataType::Duration(_)
        )
    };
    match (f, t) {
        (a, b) if is_numeric(a) && is_numeric(b) => true,
        (DataType::Boolean, b) | (b, DataType::Boolean) if is_integer(b) => true,
        (_, b) if is_string(b) => true,
        (a, b) if is_string(a) => is_numeric(b) || temporal(b) || b == &DataType::Boolean,
        (DataType::Date32, DataType::Timestamp(..))
        | (DataType::Timestamp(..), DataType::Date32 | DataType::Timestamp(..))
        | (DataType::Timestamp(..), DataType::Time64(_))
        | (DataType::Time64(_), DataType::Duration(_))
        | (DataType::Duration(_), DataType::Time64(_)) => true,
        _ => false,
    }
}

/// How a cast treats values: as an explicit `CAST` or as an implicit coercion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CastMode {
    /// `CAST(x AS t)`: decimals are checked against their declared precision.
    Explicit,
    /// A coercion inserted by an operator: no precision check.
    Implicit,
}

/// Converts `array` to `to` with PostgreSQL's rules; failures are errors.
pub fn cast_array(array: &ArrayRef, to: &DataType, mode: CastMode) -> Result<ArrayRef> {
    let from = array.data_type();
    if from == to {
        return Ok(Arc::clone(array));
    }
    if let DataType::Dictionary(_, value) = from {
        if !matches!(to, DataType::Dictionary(..)) {
            let unpacked = cast_with_options(array, value, &STRICT)?;
            return cast_array(&unpacked, to, mode);
        }
    }
    match (from, to) {
        (DataType::Null, _) => Ok(arrow::array::new_null_array(to, array.len())),
        (DataType::Float64, t) if is_integer(t) => float_to_integer(array, t),
        (DataType::Decimal128(_, scale), t) if is_integer(t) => {
            decimal_to_integer(array, *scale, t)
        }
        (DataType::Decimal128(_, from_scale), DataType::Decimal128(p, s)) => {
            let validate = mode == CastMode::Explicit;
            rescale_decimal(array.as_primitive(), *from_scale, *p, *s, validate)
        }
        (f, DataType::Decimal128(p, s)) if is_integer(f) => {
            let wide = cast_with_options(array, &DataType::Int64, &STRICT)?;
            let wide: PrimitiveArray<Decimal128Type> =
                wide.as_primitive::<Int64Type>().unary(i128::from);
            rescale_decimal(&wide, 0, *p, *s, mode == CastMode::Explicit)
        }
        (f, t) if is_numeric(f) && is_numeric(t) => {
            cast_with_options(array, to, &STRICT).map_err(|e| overflow_or(e, to))
        }
        (_, t) if is_string(t) => {
            let text = to_text(array)?;
            Ok(cast_with_options(&text, to, &STRICT)?)
        }
        (f, t) if is_string(f) => from_text(array, t),
        (DataType::Date32, DataType::Timestamp(TimeUnit::Microsecond, _)) => {
            let days = array.as_primitive::<Date32Type>();
            let out: TimestampMicrosecondArray = days.try_unary(|d| {
                i64::from(d)
                    .checked_mul(MICROS_PER_DAY)
                    .ok_or_else(|| ArrowError::ArithmeticOverflow("timestamp".to_string()))
            })?;
            Ok(Arc::new(out.with_data_type(to.clone())))
        }
        (DataType::Timestamp(TimeUnit::Microsecond, _), DataType::Date32) => {
            let micros = array.as_primitive::<TimestampMicrosecondType>();
            let out: Date32Array = micros.try_unary(|v| {
                i32::try_from(v.div_euclid(MICROS_PER_DAY))
                    .map_err(|_| ArrowError::ArithmeticOverflow("date".to_string()))
            })?;
            Ok(Arc::new(out))
        }
        (
            DataType::Timestamp(TimeUnit::Microsecond, _),
            DataType::Time64(TimeUnit::Microsecond),
        ) => {
            let micros = array.as_primitive::<TimestampMicrosecondType>();
            let out: Time64MicrosecondArray = micros.unary(|v| v.rem_euclid(MICROS_PER_DAY));
            Ok(Arc::new(out))
        }
        (DataType::Time64(TimeUnit::Microsecond), DataType::Duration(TimeUnit::Microsecond)) => {
            let out: DurationMicrosecondArray = array
                .as_primitive::<Time64MicrosecondType>()
                .reinterpret_cast::<DurationMicrosecondType>();
            Ok(Arc::new(out))
        }
        (DataType::Duration(TimeUnit::Microsecond), DataType::Time64(TimeUnit::Microsecond)) => {
            let out: Time64MicrosecondArray = array
                .as_primitive::<DurationMicrosecondType>()
                .unary(|v| v.rem_euclid(MICROS_PER_DAY));
            Ok(Arc::new(out))
        }
        _ if can_cast(from, to) => Ok(cast_with_options(array, to, &STRICT)?),
        _ => Err(EngineError::Plan(format!(
            "cannot cast type {} to {}",
            sql_type_name(from),
            sql_type_name(to)
        ))),
    }
}

/// Converts one value; NULL of any type becomes NULL of `to`.
pub fn cast_scalar(value: &ScalarValue, to: &DataType, mode: CastMode) -> Result<ScalarValue> {
    if value.is_null() {
        return Ok(ScalarValue::null_of(to));
    }
    if value.data_type() == *value_type(to) {
        return Ok(value.clone());
    }
    let array = cast_array(&scalar_to_array(value, 1), value_type(to), mode)?;
    array_to_scalar(array.as_ref())
}

/// Converts an evaluated value, keeping scalars scalar.
pub fn cast_value(value: ColumnarValue, to: &DataType, mode: CastMode) -> Result<ColumnarValue> {
    Ok(match value {
        ColumnarValue::Array(a) => ColumnarValue::Array(cast_array(&a, to, mode)?),
        ColumnarValue::Scalar(s) => ColumnarValue::Scalar(cast_scalar(&s, to, mode)?),
    })
}

/// Maps a failed numeric conversion to PostgreSQL's "<type> out of range".
fn overflow_or(error: ArrowError, to: &DataType) -> EngineError {
    match error {
        ArrowError::CastError(_)
        | ArrowError::ComputeError(_)
        | ArrowError::ArithmeticOverflow(_) => {
            EngineError::NumericOverflow(sql_type_name(to).to_string())
        }
        ArrowError::InvalidArgumentError(msg) if msg.contains("precision") => {
            EngineError::NumericOverflow(sql_type_name(to).to_string())
        }
        other => other.into(),
    }
}

fn out_of_range(to: &DataType) -> ArrowError {
    ArrowError::ArithmeticOverflow(sql_type_name(to).to_string())
}

/// Narrows an `i64` computed from a float or decimal into the integer type `to`.
fn narrow_integers(values: Int64Array, to: &DataType) -> Result<ArrayRef> {
    Ok(match to {
        DataType::Int64 => Arc::new(values),
        DataType::Int32 => Arc::new(
            values
                .try_unary::<_, Int32Type, _>(|v| i32::try_from(v).map_err(|_| out_of_range(to)))?,
        ),
        DataType::Int16 => Arc::new(
            values
                .try_unary::<_, Int16Type, _>(|v| i16::try_from(v).map_err(|_| out_of_range(to)))?,
        ),
        other => cast_with_options(&(Arc::new(values) as ArrayRef), other, &STRICT)
            .map_err(|e| overflow_or(e, other))?,
    })
}

/// `float8 → integer`: round to nearest, ties to even (PostgreSQL's `rint`); NaN and values
/// outside the target range are errors.
fn float_to_integer(array: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    // Bounds of i64 as floats: [-2^63, 2^63).
    const LOW: f64 = -9_223_372_036_854_775_808.0;
    let rounded: Int64Array = array.as_primitive::<Float64Type>().try_unary(|v| {
        let r = v.round_ties_even();
        if r.is_nan() || !(LOW..-LOW).contains(&r) {
            Err(out_of_range(to))
        } else {
            Ok(r as i64)
        }
    })?;
    narrow_integers(rounded, to)
}

/// `10^exponent` as an `i128`, if it fits.
pub fn pow10(exponent: u32) -> Option<i128> {
    10i128.checked_pow(exponent)
}

/// Divides by `divisor` (> 0) rounding half away from zero, as PostgreSQL rounds numerics.
pub fn div_round_half_away(value: i128, divisor: i128) -> i128 {
    let quotient = value / divisor;
    let remainder = value % divisor;
    if remainder.unsigned_abs() * 2 >= divisor.unsigned_abs() {
        quotient + value.signum()
    } else {
        quotient
    }
}

/// `numeric → integer`: round half away from zero.
fn decimal_to_integer(array: &ArrayRef, scale: i8, to: &DataType) -> Result<ArrayRef> {
    let decimals = array.as_primitive::<Decimal128Type>();
    let rounded: Int64Array = decimals.try_unary(|v| {
        let whole = if scale > 0 {
            match pow10(scale as u32) {
                Some(divisor) => div_round_half_away(v, divisor),
                None => 0,
            }
        } else {
            pow10((-(scale as i32)) as u32)
                .and_then(|m| v.checked_mul(m))
                .ok_or_else(|| out_of_range(to))?
        };
        i64::try_from(whole).map_err(|_| out_of_range(to))
    })?;
    narrow_integers(rounded, to)
}

/// Changes a decimal's scale (rounding half away from zero when digits are dropped) and
/// labels it `Decimal128(precision, scale)`. With `validate`, a value with more digits than
/// `precision` allows is an error ("numeric field overflow" in PostgreSQL).
pub fn rescale_decimal(
    values: &PrimitiveArray<Decimal128Type>,
    from_scale: i8,
    precision: u8,
    scale: i8,
    validate: bool,
) -> Result<ArrayRef> {
    let target = DataType::Decimal128(precision, scale);
    let overflow = || out_of_range(&target);
    let shift = i32::from(scale) - i32::from(from_scale);
    let limit = if validate {
        pow10(u32::from(precision))
    } else {
        None
    };
    let rescaled: Decimal128Array = values.try_unary(|v| {
        let out = match shift {
            0 => v,
            s if s > 0 => pow10(s as u32)
                .and_then(|m| v.checked_mul(m))
                .ok_or_else(overflow)?,
            s => match pow10((-s) as u32) {
                Some(divisor) => div_round_half_away(v, divisor),
                None => 0,
            },
        };
        match limit {
            Some(limit) if out.unsigned_abs() >= limit.unsigned_abs() => Err(overflow()),
            _ => Ok(out),
        }
    })?;
    Ok(Arc::new(rescaled.with_data_type(target)))
}

/// The PostgreSQL text form of every value of `array`.
pub fn to_text(array: &ArrayRef) -> Result<ArrayRef> {
    fn format_each<T: ArrowPrimitiveType>(
        array: &ArrayRef,
        f: impl Fn(T::Native) -> Result<String>,
    ) -> Result<ArrayRef> {
        let values = array.as_primitive::<T>();
        let out = values
            .iter()
            .map(|v| v.map(&f).transpose())
            .collect::<Result<StringArray>>()?;
        Ok(Arc::new(out))
    }
    match array.data_type() {
        DataType::Utf8 => Ok(Arc::clone(array)),
        DataType::Float64 => format_each::<Float64Type>(array, |v| Ok(format_float(v))),
        DataType::Date32 => format_each::<Date32Type>(array, format_date),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            format_each::<TimestampMicrosecondType>(array, format_timestamp)
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            format_each::<Time64MicrosecondType>(array, |v| Ok(format_time(v)))
        }
        DataType::Duration(TimeUnit::Microsecond) => {
            format_each::<DurationMicrosecondType>(array, |v| Ok(format_duration(v)))
        }
        _ => Ok(cast_with_options(array, &DataType::Utf8, &STRICT)?),
    }
}

/// Parses text into `to`. Surrounding blanks are ignored, as PostgreSQL's input functions do.
fn from_text(array: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    let text = cast_with_options(array, &DataType::Utf8, &STRICT)?;
    let strings = text.as_string::<i32>();
    let needs_trim = strings
        .iter()
        .flatten()
        .any(|s| s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace));
    let text: ArrayRef = if needs_trim {
        Arc::new(
            strings
                .iter()
                .map(|s| s.map(str::trim))
                .collect::<StringArray>(),
        )
    } else {
        text
    };
    let invalid = |e: ArrowError| EngineError::InvalidCast {
        target: sql_type_name(to).to_string(),
        detail: e.to_string(),
    };
    match to {
        DataType::Duration(TimeUnit::Microsecond) => {
            let out = text
                .as_string::<i32>()
                .iter()
                .map(|s| s.map(parse_duration).transpose())
                .collect::<Result<DurationMicrosecondArray>>()?;
            Ok(Arc::new(out))
        }
        DataType::Date32 => match cast_with_options(&text, to, &STRICT) {
            Ok(dates) => Ok(dates),
            // PostgreSQL reads a date from timestamp text too ('2024-01-01 10:00').
            Err(date_error) => {
                let timestamp = DataType::Timestamp(TimeUnit::Microsecond, None);
                let timestamps = cast_with_options(&text, &timestamp, &STRICT)
                    .map_err(|_| invalid(date_error))?;
                cast_array(&timestamps, to, CastMode::Explicit)
            }
        },
        DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            cast_with_options(&text, to, &STRICT).map_err(|e| match e {
                // Digits that do not fit are out of range, not malformed.
                ArrowError::CastError(_) if text_is_integer(&text) => {
                    EngineError::NumericOverflow(sql_type_name(to).to_string())
                }
                other => invalid(other),
            })
        }
        DataType::Float64 => {
            let out = text
                .as_string::<i32>()
                .iter()
                .map(|s| s.map(parse_float).transpose())
                .collect::<Result<Float64Array>>()?;
            Ok(Arc::new(out))
        }
        _ => cast_with_options(&text, to, &STRICT).map_err(invalid),
    }
}

fn text_is_integer(text: &ArrayRef) -> bool {
    text.as_string::<i32>().iter().flatten().all(|s| {
        let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

/// `float8` input: numbers plus PostgreSQL's `NaN`, `Infinity`, `-Infinity` (any case).
fn parse_float(text: &str) -> Result<f64> {
    let lower = text.to_ascii_lowercase();
    let value = match lower.as_str() {
        "nan" => Some(f64::NAN),
        "infinity" | "+infinity" | "inf" | "+inf" => Some(f64::INFINITY),
        "-infinity" | "-inf" => Some(f64::NEG_INFINITY),
        _ if lower.contains("inf") || lower.contains("nan") => None,
        _ => lower.parse::<f64>().ok(),
    };
    value.ok_or_else(|| EngineError::InvalidCast {
        target: "double precision".to_string(),
        detail: format!("invalid input syntax for type double precision: \"{text}\""),
    })
}

/// `CAST(expr AS type)` or an implicit coercion.
#[derive(Debug)]
pub struct CastExpr {
    expr: PhysicalExprRef,
    data_type: DataType,
    mode: CastMode,
}

impl CastExpr {
    /// Casts `expr` to `data_type`; refuses pairs PostgreSQL has no cast for.
    pub fn try_new(expr: PhysicalExprRef, data_type: DataType, mode: CastMode) -> Result<CastExpr> {
        let from = expr.data_type();
        if !can_cast(&from, &data_type) {
            return Err(EngineError::Plan(format!(
                "cannot cast type {} to {}",
                sql_type_name(&from),
                sql_type_name(&data_type)
            )));
        }
        Ok(CastExpr {
            expr,
            data_type,
            mode,
        })
    }
}

impl fmt::Display for CastExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CAST({} AS {})", self.expr, self.data_type)
    }
}

impl PhysicalExpr for CastExpr {
    fn data_type(&self) -> DataType {
        self.data_type.clone()
    }
    fn nullable(&self) -> bool {
        self.expr.nullable()
    }
    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        cast_value(self.expr.evaluate(batch)?, &self.data_type, self.mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BooleanArray, DictionaryArray, Int16Array};
    use arrow::datatypes::Int32Type as Key;

    fn explicit(array: ArrayRef, to: &DataType) -> Result<ArrayRef> {
        cast_array(&array, to, CastMode::Explicit)
    }

    fn ints(array: &ArrayRef) -> Vec<Option<i64>> {
        let wide = cast_with_options(array, &DataType::Int64, &STRICT).unwrap();
        wide.as_primitive::<Int64Type>().iter().collect()
    }

    fn strings(array: &ArrayRef) -> Vec<Option<String>> {
        array
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect()
    }

    #[test]
    fn float_to_integer_rounds_ties_to_even_like_rint() {
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(2.5),
            Some(3.5),
            Some(-2.5),
            Some(2.4999),
            Some(-0.6),
            None,
        ]));
        let out = explicit(floats, &DataType::Int32).unwrap();
        assert_eq!(
            ints(&out),
            vec![Some(2), Some(4), Some(-2), Some(2), Some(-1), None]
        );
    }

    #[test]
    fn float_to_integer_out_of_range_is_an_error() {
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![40000.0]));
        let err = explicit(Arc::clone(&floats), &DataType::Int16).unwrap_err();
        assert_eq!(err.to_string(), "smallint out of range");
        let nan: ArrayRef = Arc::new(Float64Array::from(vec![f64::NAN]));
        assert!(matches!(
            explicit(nan, &DataType::Int64),
            Err(EngineError::NumericOverflow(_))
        ));
        let big: ArrayRef = Arc::new(Float64Array::from(vec![9.3e18]));
        assert!(explicit(big, &DataType::Int64).is_err());
    }

    #[test]
    fn decimal_to_integer_rounds_half_away_from_zero() {
        let decimals: ArrayRef = Arc::new(
            Decimal128Array::from(vec![250, 249, -250, -251, 0])
                .with_precision_and_scale(5, 2)
                .unwrap(),
        );
        let out = explicit(decimals, &DataType::Int64).unwrap();
        assert_eq!(
            ints(&out),
            vec![Some(3), Some(2), Some(-3), Some(-3), Some(0)]
        );
    }

    #[test]
    fn decimal_rescale_rounds_and_checks_precision() {
        let decimals: ArrayRef = Arc::new(
            Decimal128Array::from(vec![12345, -12355])
                .with_precision_and_scale(7, 3)
                .unwrap(),
        );
        let out = explicit(Arc::clone(&decimals), &DataType::Decimal128(5, 2)).unwrap();
        let values: Vec<_> = out.as_primitive::<Decimal128Type>().iter().collect();
        assert_eq!(values, vec![Some(1235), Some(-1236)]);
        assert_eq!(out.data_type(), &DataType::Decimal128(5, 2));
        let err = explicit(Arc::clone(&decimals), &DataType::Decimal128(3, 2)).unwrap_err();
        assert!(matches!(err, EngineError::NumericOverflow(_)));
        // An implicit coercion only relabels.
        let out = cast_array(&decimals, &DataType::Decimal128(3, 2), CastMode::Implicit).unwrap();
        assert_eq!(out.as_primitive::<Decimal128Type>().value(0), 1235);
    }

    #[test]
    fn floats_round_into_decimals_and_respect_precision() {
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![123.455, -0.005]));
        let out = explicit(floats, &DataType::Decimal128(5, 2)).unwrap();
        let values: Vec<_> = out.as_primitive::<Decimal128Type>().iter().collect();
        assert_eq!(values, vec![Some(12346), Some(-1)]);
        let big: ArrayRef = Arc::new(Float64Array::from(vec![1234.5]));
        assert!(matches!(
            explicit(big, &DataType::Decimal128(5, 2)),
            Err(EngineError::NumericOverflow(_))
        ));
        let text: ArrayRef = Arc::new(StringArray::from(vec![" 1.005 ", "-2"]));
        let out = explicit(text, &DataType::Decimal128(5, 2)).unwrap();
        let values: Vec<_> = out.as_primitive::<Decimal128Type>().iter().collect();
        assert_eq!(values, vec![Some(101), Some(-200)]);
    }

    #[test]
    fn integer_narrowing_overflow_is_an_error() {
        let wide: ArrayRef = Arc::new(Int64Array::from(vec![1, 70000]));
        let err = explicit(wide, &DataType::Int16).unwrap_err();
        assert_eq!(err.to_string(), "smallint out of range");
        let small: ArrayRef = Arc::new(Int16Array::from(vec![7]));
        assert_eq!(
            ints(&explicit(small, &DataType::Int64).unwrap()),
            vec![Some(7)]
        );
    }

    #[test]
    fn text_output_follows_postgres() {
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![Some(100.0), Some(0.5), None]));
        assert_eq!(
            strings(&explicit(floats, &DataType::Utf8).unwrap()),
            vec![Some("100".to_string()), Some("0.5".to_string()), None]
        );
        let stamps: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![
            19723 * MICROS_PER_DAY + 3_600_000_000,
        ]));
        assert_eq!(
            strings(&explicit(stamps, &DataType::Utf8).unwrap()),
            vec![Some("2024-01-01 01:00:00".to_string())]
        );
        let booleans: ArrayRef = Arc::new(BooleanArray::from(vec![true, false]));
        assert_eq!(
            strings(&explicit(booleans, &DataType::Utf8).unwrap()),
            vec![Some("true".to_string()), Some("false".to_string())]
        );
        let decimals: ArrayRef = Arc::new(
            Decimal128Array::from(vec![150])
                .with_precision_and_scale(5, 2)
                .unwrap(),
        );
        assert_eq!(
            strings(&explicit(decimals, &DataType::Utf8).unwrap()),
            vec![Some("1.50".to_string())]
        );
    }

    #[test]
    fn text_input_parses_or_fails() {
        let text: ArrayRef = Arc::new(StringArray::from(vec![Some(" 42 "), Some("-7"), None]));
        assert_eq!(
            ints(&explicit(text, &DataType::Int32).unwrap()),
            vec![Some(42), Some(-7), None]
        );
        let bad: ArrayRef = Arc::new(StringArray::from(vec!["4x2"]));
        assert!(matches!(
            explicit(bad, &DataType::Int32),
            Err(EngineError::InvalidCast { .. })
        ));
        let huge: ArrayRef = Arc::new(StringArray::from(vec!["99999999999"]));
        assert!(matches!(
            explicit(huge, &DataType::Int32),
            Err(EngineError::NumericOverflow(_))
        ));
        let dates: ArrayRef =
            Arc::new(StringArray::from(vec!["2024-01-01", "2024-01-02 10:00:00"]));
        let out = explicit(dates, &DataType::Date32).unwrap();
        let days: Vec<_> = out.as_primitive::<Date32Type>().iter().collect();
        assert_eq!(days, vec![Some(19723), Some(19724)]);
        let bad_date: ArrayRef = Arc::new(StringArray::from(vec!["2024-13-01"]));
        assert!(explicit(bad_date, &DataType::Date32).is_err());
        let floats: ArrayRef = Arc::new(StringArray::from(vec!["1.5", "NaN", "-Infinity"]));
        let out = explicit(floats, &DataType::Float64).unwrap();
        let out = out.as_primitive::<Float64Type>();
        assert_eq!(out.value(0), 1.5);
        assert!(out.value(1).is_nan());
        assert_eq!(out.value(2), f64::NEG_INFINITY);
        let booleans: ArrayRef = Arc::new(StringArray::from(vec!["yes", "f"]));
        let out = explicit(booleans, &DataType::Boolean).unwrap();
        assert_eq!(out.as_boolean(), &BooleanArray::from(vec![true, false]));
        let intervals: ArrayRef = Arc::new(StringArray::from(vec!["1 day"]));
        let out = explicit(intervals, &DataType::Duration(TimeUnit::Microsecond)).unwrap();
        assert_eq!(
            out.as_primitive::<DurationMicrosecondType>().value(0),
            MICROS_PER_DAY
        );
    }

    #[test]
    fn timestamps_floor_to_dates_and_times() {
        let stamps: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![-1, MICROS_PER_DAY]));
        let dates = explicit(Arc::clone(&stamps), &DataType::Date32).unwrap();
        let days: Vec<_> = dates.as_primitive::<Date32Type>().iter().collect();
        assert_eq!(days, vec![Some(-1), Some(1)]);
        let times = explicit(stamps, &DataType::Time64(TimeUnit::Microsecond)).unwrap();
        assert_eq!(
            times.as_primitive::<Time64MicrosecondType>().value(0),
            MICROS_PER_DAY - 1
        );
        let back = explicit(dates, &DataType::Timestamp(TimeUnit::Microsecond, None)).unwrap();
        assert_eq!(
            back.as_primitive::<TimestampMicrosecondType>().value(1),
            MICROS_PER_DAY
        );
    }

    #[test]
    fn dictionaries_unpack_and_nulls_cast_to_anything() {
        let dict: DictionaryArray<Key> = vec!["1", "2", "1"].into_iter().collect();
        let out = explicit(Arc::new(dict), &DataType::Int64).unwrap();
        assert_eq!(ints(&out), vec![Some(1), Some(2), Some(1)]);
        let nulls = arrow::array::new_null_array(&DataType::Null, 2);
        let out = explicit(nulls, &DataType::Date32).unwrap();
        assert_eq!(out.data_type(), &DataType::Date32);
        assert_eq!(out.null_count(), 2);
    }

    #[test]
    fn impossible_casts_are_refused() {
        assert!(!can_cast(&DataType::Date32, &DataType::Int64));
        assert!(!can_cast(&DataType::Float64, &DataType::Boolean));
        assert!(can_cast(&DataType::Int32, &DataType::Boolean));
        assert!(can_cast(&DataType::Date32, &DataType::Utf8));
        let dates: ArrayRef = Arc::new(Date32Array::from(vec![1]));
        assert!(matches!(
            explicit(dates, &DataType::Int32),
            Err(EngineError::Plan(_))
        ));
        let out = cast_scalar(
            &ScalarValue::Int32(None),
            &DataType::Utf8,
            CastMode::Explicit,
        )
        .unwrap();
        assert_eq!(out, ScalarValue::Utf8(None));
    }
}
