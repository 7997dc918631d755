//! Checked arithmetic: `+ - * / %` and unary minus with PostgreSQL's rules.
//!
//! Operands arrive already coerced to the types [`arithmetic_types`] gives, so each kernel sees
//! one type pair. Integer, decimal and temporal arithmetic use Arrow's checked
//! `numeric::{add, sub, mul, div, rem}` (overflow and division by zero are errors; integer
//! division truncates toward zero). Arrow's float kernels follow IEEE 754 instead, so floats
//! are computed here: PostgreSQL raises "division by zero" for `float8` too and reports a
//! finite computation that overflows to infinity (or underflows to zero) as out of range.
//! Decimal division is also ours: Arrow truncates the quotient, PostgreSQL rounds it.
//!
//! [`arithmetic_types`]: crate::expr::type_coercion::arithmetic_types

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use arrow::buffer::NullBuffer;
use arrow::compute::kernels::arity::try_binary;
use arrow::compute::kernels::numeric;
use arrow::datatypes::{
    i256, ArrowPrimitiveType, DataType, Decimal128Type, DurationMicrosecondType, Float64Type,
    Int64Type, TimeUnit,
};
use arrow::error::ArrowError;

use super::cast::{pow10, sql_type_name};
use super::columnar_value::{apply_binary, apply_unary, KernelArg};
use super::ColumnarValue;
use crate::error::{EngineError, Result};
use crate::expr::type_coercion::is_integer;
use crate::expr::Operator;

/// Maps Arrow's arithmetic errors to PostgreSQL's wording for a result of type `result_type`.
pub fn arithmetic_error(error: ArrowError, result_type: &DataType) -> EngineError {
    match error {
        ArrowError::ArithmeticOverflow(_) => {
            EngineError::NumericOverflow(sql_type_name(result_type).to_string())
        }
        ArrowError::DivideByZero => EngineError::DivisionByZero,
        other => other.into(),
    }
}

fn primitive<T: ArrowPrimitiveType>(array: &ArrayRef) -> Result<&PrimitiveArray<T>> {
    array.as_primitive_opt::<T>().ok_or_else(|| {
        EngineError::Internal(format!(
            "arithmetic expected {}, got {}",
            T::DATA_TYPE,
            array.data_type()
        ))
    })
}

/// A fallible element-wise kernel over two operands that may each be a scalar. NULL in
/// either operand gives NULL, and `op` never sees a NULL slot.
pub fn try_binary_values<L, R, O>(
    left: &KernelArg,
    right: &KernelArg,
    op: impl Fn(L::Native, R::Native) -> Result<O::Native, ArrowError>,
) -> Result<PrimitiveArray<O>, EngineError>
where
    L: ArrowPrimitiveType,
    R: ArrowPrimitiveType,
    O: ArrowPrimitiveType,
{
    let l = primitive::<L>(left.array())?;
    let r = primitive::<R>(right.array())?;
    let out = match (left.is_scalar(), right.is_scalar()) {
        (true, false) => match l.is_valid(0) {
            true => {
                let value = l.value(0);
                r.try_unary(|v| op(value, v))
            }
            false => Ok(PrimitiveArray::new_null(r.len())),
        },
        (false, true) => match r.is_valid(0) {
            true => {
                let value = r.value(0);
                l.try_unary(|v| op(v, value))
            }
            false => Ok(PrimitiveArray::new_null(l.len())),
        },
        _ => try_binary(l, r, op),
    };
    Ok(out?)
}

/// `left op right` for operands coerced by `arithmetic_types`; the result has `result_type`.
pub fn evaluate_arithmetic(
    op: Operator,
    left: &ColumnarValue,
    right: &ColumnarValue,
    result_type: &DataType,
) -> Result<ColumnarValue> {
    apply_binary(left, right, |l, r| {
        let out = arithmetic_kernel(op, l, r, result_type)?;
        conform(out, result_type)
    })
}

/// Relabels a result whose type differs from the declared one only in metadata (a decimal's
/// precision, a timestamp's zone); anything else is a bug in the type rules.
fn conform(array: ArrayRef, result_type: &DataType) -> Result<ArrayRef> {
    let actual = array.data_type();
    if actual == result_type {
        return Ok(array);
    }
    match (actual, result_type) {
        (DataType::Decimal128(_, s1), DataType::Decimal128(_, s2)) if s1 == s2 => Ok(Arc::new(
            array
                .as_primitive::<Decimal128Type>()
                .clone()
                .with_data_type(result_type.clone()),
        )),
        (DataType::Decimal128(_, from), DataType::Decimal128(p, s)) => {
            super::cast::rescale_decimal(array.as_primitive(), *from, *p, *s, false)
        }
        (DataType::Timestamp(u1, _), DataType::Timestamp(u2, _)) if u1 == u2 => {
            Ok(arrow::compute::kernels::cast::cast(&array, result_type)?)
        }
        _ => Err(EngineError::Internal(format!(
            "arithmetic produced {actual} where {result_type} was planned"
        ))),
    }
}

fn arithmetic_kernel(
    op: Operator,
    l: &KernelArg,
    r: &KernelArg,
    result_type: &DataType,
) -> Result<ArrayRef> {
    let error = |e: ArrowError| arithmetic_error(e, result_type);
    let (lt, rt) = (l.array().data_type(), r.array().data_type());
    match (lt, rt) {
        (DataType::Float64, DataType::Float64) => {
            let out = try_binary_values::<Float64Type, Float64Type, Float64Type>(l, r, |a, b| {
                float_op(op, a, b)
            })
            .map_err(|e| remap(e, result_type))?;
            Ok(Arc::new(out))
        }
        (DataType::Decimal128(_, s1), DataType::Decimal128(_, s2)) if op == Operator::Divide => {
            let DataType::Decimal128(_, scale) = result_type else {
                return Err(EngineError::Internal(format!(
                    "decimal division planned as {result_type}"
                )));
            };
            let shift = i32::from(*scale) - i32::from(*s1) + i32::from(*s2);
            let out = try_binary_values::<Decimal128Type, Decimal128Type, Decimal128Type>(
                l,
                r,
                |a, b| decimal_divide(a, b, shift),
            )
            .map_err(|e| remap(e, result_type))?;
            Ok(Arc::new(out.with_data_type(result_type.clone())))
        }
        (DataType::Duration(TimeUnit::Microsecond), b)
            if is_integer(b) && matches!(op, Operator::Multiply | Operator::Divide) =>
        {
            let out = try_binary_values::<
                DurationMicrosecondType,
                Int64Type,
                DurationMicrosecondType,
            >(l, r, |a, b| match op {
                Operator::Multiply => a
                    .checked_mul(b)
                    .ok_or_else(|| ArrowError::ArithmeticOverflow("interval".into())),
                _ if b == 0 => Err(ArrowError::DivideByZero),
                _ => a
                    .checked_div(b)
                    .ok_or_else(|| ArrowError::ArithmeticOverflow("interval".into())),
            })
            .map_err(|e| remap(e, result_type))?;
            Ok(Arc::new(out))
        }
        (a, DataType::Duration(TimeUnit::Microsecond))
            if is_integer(a) && op == Operator::Multiply =>
        {
            arithmetic_kernel(op, r, l, result_type)
        }
        (DataType::Decimal128(_, _), DataType::Decimal128(_, _))
            if matches!(op, Operator::Plus | Operator::Minus | Operator::Multiply) =>
        {
            match unchecked_decimal(op, l, r) {
                Some(out) => Ok(out),
                None => {
                    let kernel = match op {
                        Operator::Plus => numeric::add,
                        Operator::Minus => numeric::sub,
                        _ => numeric::mul,
                    };
                    kernel(l, r).map_err(error)
                }
            }
        }
        _ => {
            let kernel = match op {
                Operator::Plus => numeric::add,
                Operator::Minus => numeric::sub,
                Operator::Multiply => numeric::mul,
                Operator::Divide => numeric::div,
                Operator::Modulo => numeric::rem,
                other => {
                    return Err(EngineError::Internal(format!(
                        "{other} is not an arithmetic operator"
                    )))
                }
            };
            kernel(l, r).map_err(error)
        }
    }
}

/// Decimal `+ - *` when no result can overflow `i128`, without a check per value (Arrow's
/// checked kernels call a non-inlined closure per value; this is most of TPC-H q1's
/// `price * (1 - discount) * (1 + tax)`). The largest magnitude of each operand (NULL
/// slots included) bounds every result, so one comparison per batch proves the loop cannot
/// wrap; otherwise `None` sends the operands to Arrow's checked kernel, which reports the
/// overflow. Result precision and scale are Arrow's (Hive's rules), so the two paths agree.
fn unchecked_decimal(op: Operator, l: &KernelArg, r: &KernelArg) -> Option<ArrayRef> {
    let (DataType::Decimal128(p1, s1), DataType::Decimal128(p2, s2)) =
        (l.array().data_type(), r.array().data_type())
    else {
        return None;
    };
    let (p1, s1, p2, s2) = (
        i32::from(*p1),
        i32::from(*s1),
        i32::from(*p2),
        i32::from(*s2),
    );
    if s1 < 0 || s2 < 0 {
        return None;
    }
    let a = l.array().as_primitive_opt::<Decimal128Type>()?;
    let b = r.array().as_primitive_opt::<Decimal128Type>()?;
    if !l.is_scalar() && !r.is_scalar() && a.len() != b.len() {
        return None;
    }
    let largest = |array: &PrimitiveArray<Decimal128Type>| {
        array
            .values()
            .iter()
            .fold(0u128, |max, v| max.max(v.unsigned_abs()))
    };
    let (a_max, b_max) = (largest(a), largest(b));
    let (scale, precision) = match op {
        Operator::Multiply => (s1 + s2, p1 + p2 + 1),
        _ => {
            let scale = s1.max(s2);
            (scale, scale + (p1 - s1).max(p2 - s2).max(0) + 1)
        }
    };
    let max_scale = i32::from(arrow::datatypes::DECIMAL128_MAX_SCALE);
    if scale > max_scale {
        return None;
    }
    let precision = precision.min(i32::from(arrow::datatypes::DECIMAL128_MAX_PRECISION));
    let (a_factor, b_factor) = match op {
        Operator::Multiply => (1, 1),
        _ => (pow10((scale - s1) as u32)?, pow10((scale - s2) as u32)?),
    };
    let bound = match op {
        Operator::Multiply => a_max.checked_mul(b_max)?,
        _ => a_max
            .checked_mul(a_factor.unsigned_abs())?
            .checked_add(b_max.checked_mul(b_factor.unsigned_abs())?)?,
    };
    if bound > i128::MAX as u128 {
        return None;
    }
    // When every operand, factor and result fits in 64 bits (TPC-H's prices, discounts and
    // taxes do), one 64-bit multiply replaces the three of a 128-bit one.
    let narrow = |v: u128| v <= i64::MAX as u128;
    let fits_i64 = narrow(bound)
        && narrow(a_max)
        && narrow(b_max)
        && narrow(a_factor.unsigned_abs())
        && narrow(b_factor.unsigned_abs());
    let out = match op {
        Operator::Multiply if fits_i64 => {
            combine(l, r, |x, y| i128::from((x as i64).wrapping_mul(y as i64)))
        }
        Operator::Plus if fits_i64 && a_factor == 1 && b_factor == 1 => {
            combine(l, r, |x, y| i128::from((x as i64).wrapping_add(y as i64)))
        }
        Operator::Minus if fits_i64 && a_factor == 1 && b_factor == 1 => {
            combine(l, r, |x, y| i128::from((x as i64).wrapping_sub(y as i64)))
        }
        Operator::Multiply => combine(l, r, |x, y| x.wrapping_mul(y)),
        Operator::Plus if a_factor == 1 && b_factor == 1 => combine(l, r, |x, y| x.wrapping_add(y)),
        Operator::Minus if a_factor == 1 && b_factor == 1 => {
            combine(l, r, |x, y| x.wrapping_sub(y))
        }
        Operator::Plus => combine(l, r, |x, y| {
            x.wrapping_mul(a_factor)
                .wrapping_add(y.wrapping_mul(b_factor))
        }),
        _ => combine(l, r, |x, y| {
            x.wrapping_mul(a_factor)
                .wrapping_sub(y.wrapping_mul(b_factor))
        }),
    };
    let out = out
        .with_precision_and_scale(precision as u8, scale as i8)
        .ok()?;
    Some(Arc::new(out))
}

/// `f` over two decimal operands (either may be a scalar), NULL where either is NULL. `f`
/// sees NULL slots too (their value is arbitrary), so it must not fail or panic on any input.
#[inline(always)]
fn combine(
    l: &KernelArg,
    r: &KernelArg,
    f: impl Fn(i128, i128) -> i128,
) -> PrimitiveArray<Decimal128Type> {
    let a = l.array().as_primitive::<Decimal128Type>();
    let b = r.array().as_primitive::<Decimal128Type>();
    let (values, nulls): (Vec<i128>, _) = match (l.is_scalar(), r.is_scalar()) {
        (true, false) => {
            if a.is_null(0) {
                return PrimitiveArray::new_null(b.len());
            }
            let x = a.value(0);
            (
                b.values().iter().map(|&y| f(x, y)).collect(),
                b.nulls().cloned(),
            )
        }
        (false, true) => {
            if b.is_null(0) {
                return PrimitiveArray::new_null(a.len());
            }
            let y = b.value(0);
            (
                a.values().iter().map(|&x| f(x, y)).collect(),
                a.nulls().cloned(),
            )
        }
        _ => (
            a.values()
                .iter()
                .zip(b.values().iter())
                .map(|(&x, &y)| f(x, y))
                .collect(),
            NullBuffer::union(a.nulls(), b.nulls()),
        ),
    };
    PrimitiveArray::new(values.into(), nulls)
}

fn remap(error: EngineError, result_type: &DataType) -> EngineError {
    match error {
        EngineError::NumericOverflow(_) => {
            EngineError::NumericOverflow(sql_type_name(result_type).to_string())
        }
        other => other,
    }
}

fn float_overflow() -> ArrowError {
    ArrowError::ArithmeticOverflow("double precision".to_string())
}

/// One `float8` operation with PostgreSQL's checks (`float.c`'s `check_float8_val`).
fn float_op(op: Operator, a: f64, b: f64) -> Result<f64, ArrowError> {
    let finite = a.is_finite() && b.is_finite();
    let value = match op {
        Operator::Plus => a + b,
        Operator::Minus => a - b,
        Operator::Multiply => {
            let v = a * b;
            if v == 0.0 && a != 0.0 && b != 0.0 && finite {
                return Err(float_overflow());
            }
            v
        }
        Operator::Divide => {
            if b == 0.0 && !a.is_nan() {
                return Err(ArrowError::DivideByZero);
            }
            let v = a / b;
            if v == 0.0 && a != 0.0 && finite {
                return Err(float_overflow());
            }
            v
        }
        Operator::Modulo => {
            if b == 0.0 && !a.is_nan() {
                return Err(ArrowError::DivideByZero);
            }
            a % b
        }
        _ => return Err(ArrowError::InvalidArgumentError(format!("{op} on floats"))),
    };
    if value.is_infinite() && finite {
        return Err(float_overflow());
    }
    Ok(value)
}

/// `round(a * 10^shift / b)` half away from zero, the quotient of two decimals rescaled to
/// the result's scale. Falls back to 256-bit arithmetic when the scaled dividend does not
/// fit 128 bits.
fn decimal_divide(a: i128, b: i128, shift: i32) -> Result<i128, ArrowError> {
    let overflow = || ArrowError::ArithmeticOverflow("numeric".to_string());
    if b == 0 {
        return Err(ArrowError::DivideByZero);
    }
    let (numerator_shift, denominator_shift) = if shift >= 0 {
        (shift as u32, 0)
    } else {
        (0, shift.unsigned_abs())
    };
    let negative = (a < 0) != (b < 0);
    let narrow = pow10(numerator_shift)
        .and_then(|m| a.checked_mul(m))
        .zip(pow10(denominator_shift).and_then(|m| b.checked_mul(m)));
    if let Some((n, d)) = narrow {
        if let (Some(q), Some(rem)) = (n.checked_div(d), n.checked_rem(d)) {
            let round = rem.unsigned_abs() >= d.unsigned_abs() - rem.unsigned_abs();
            let step = if negative { -1 } else { 1 };
            return if round && rem != 0 {
                q.checked_add(step).ok_or_else(overflow)
            } else {
                Ok(q)
            };
        }
    }
    let ten = i256::from_i128(10);
    let n = i256::from_i128(a)
        .checked_mul(ten.checked_pow(numerator_shift).ok_or_else(overflow)?)
        .ok_or_else(overflow)?;
    let d = i256::from_i128(b)
        .checked_mul(ten.checked_pow(denominator_shift).ok_or_else(overflow)?)
        .ok_or_else(overflow)?;
    let q = n.checked_div(d).ok_or_else(overflow)?;
    let rem = n.checked_rem(d).ok_or_else(overflow)?;
    let twice = rem
        .wrapping_abs()
        .checked_mul(i256::from_i128(2))
        .ok_or_else(overflow)?;
    let q = if rem != i256::ZERO && twice >= d.wrapping_abs() {
        q.checked_add(if negative { i256::MINUS_ONE } else { i256::ONE })
            .ok_or_else(overflow)?
    } else {
        q
    };
    q.to_i128().ok_or_else(overflow)
}

/// Unary minus, checked (`-(-9223372036854775808)` is out of range).
pub fn evaluate_negative(value: &ColumnarValue) -> Result<ColumnarValue> {
    apply_unary(value, |array| {
        let result_type = array.data_type().clone();
        if result_type == DataType::Null {
            return Ok(Arc::clone(array));
        }
        numeric::neg(array.as_ref()).map_err(|e| arithmetic_error(e, &result_type))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        Decimal128Array, DurationMicrosecondArray, Float64Array, Int16Array, Int32Array,
        Int64Array, TimestampMicrosecondArray,
    };
    use arrow::datatypes::{Int16Type, Int32Type, TimestampMicrosecondType};
    use quiver_storage::ScalarValue;

    fn array(a: impl Array + 'static) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(a))
    }

    fn scalar(v: impl Into<ScalarValue>) -> ColumnarValue {
        ColumnarValue::Scalar(v.into())
    }

    fn eval(op: Operator, l: &ColumnarValue, r: &ColumnarValue, t: &DataType) -> Result<ArrayRef> {
        evaluate_arithmetic(op, l, r, t)?.into_array(1)
    }

    #[test]
    fn integer_overflow_is_an_error() {
        let l = array(Int64Array::from(vec![i64::MAX]));
        let err = eval(Operator::Plus, &l, &scalar(1i64), &DataType::Int64).unwrap_err();
        assert_eq!(err.to_string(), "bigint out of range");
        let l = array(Int16Array::from(vec![200i16]));
        let err = eval(Operator::Multiply, &l, &scalar(200i16), &DataType::Int16).unwrap_err();
        assert_eq!(err.to_string(), "smallint out of range");
        let l = array(Int64Array::from(vec![i64::MIN]));
        assert!(matches!(
            eval(Operator::Divide, &l, &scalar(-1i64), &DataType::Int64),
            Err(EngineError::NumericOverflow(_))
        ));
    }

    #[test]
    fn integer_division_truncates_toward_zero_and_checks_zero() {
        let l = array(Int32Array::from(vec![Some(7), Some(-7), None, Some(0)]));
        let out = eval(Operator::Divide, &l, &scalar(2i32), &DataType::Int32).unwrap();
        let values: Vec<_> = out.as_primitive::<Int32Type>().iter().collect();
        assert_eq!(values, vec![Some(3), Some(-3), None, Some(0)]);
        let out = eval(Operator::Modulo, &l, &scalar(2i32), &DataType::Int32).unwrap();
        let values: Vec<_> = out.as_primitive::<Int32Type>().iter().collect();
        assert_eq!(values, vec![Some(1), Some(-1), None, Some(0)]);
        for op in [Operator::Divide, Operator::Modulo] {
            let err = eval(op, &l, &scalar(0i32), &DataType::Int32).unwrap_err();
            assert!(matches!(err, EngineError::DivisionByZero), "{op}");
        }
        // A NULL divisor gives NULL, not an error, even where the slot holds a zero.
        let divisors = array(Int32Array::from(vec![None, Some(1), Some(1), Some(1)]));
        let out = eval(Operator::Divide, &l, &divisors, &DataType::Int32).unwrap();
        assert_eq!(out.null_count(), 2);
    }

    #[test]
    fn float_division_by_zero_is_an_error_like_postgres() {
        let l = array(Float64Array::from(vec![1.0, 2.0]));
        let err = eval(Operator::Divide, &l, &scalar(0.0), &DataType::Float64).unwrap_err();
        assert!(matches!(err, EngineError::DivisionByZero));
        let big = array(Float64Array::from(vec![1e308]));
        let err = eval(Operator::Multiply, &big, &scalar(10.0), &DataType::Float64).unwrap_err();
        assert_eq!(err.to_string(), "double precision out of range");
        // Infinity in, infinity out is fine.
        let inf = array(Float64Array::from(vec![f64::INFINITY]));
        let out = eval(Operator::Plus, &inf, &scalar(1.0), &DataType::Float64).unwrap();
        assert_eq!(out.as_primitive::<Float64Type>().value(0), f64::INFINITY);
        let out = eval(Operator::Divide, &l, &scalar(4.0), &DataType::Float64).unwrap();
        assert_eq!(out.as_primitive::<Float64Type>().value(1), 0.5);
    }

    #[test]
    fn decimal_arithmetic_matches_declared_types() {
        let d = |v: Vec<i128>, p, s| {
            array(
                Decimal128Array::from(v)
                    .with_precision_and_scale(p, s)
                    .unwrap(),
            )
        };
        // 1.50 + 2.25 = 3.75 as Decimal(6, 2)
        let out = eval(
            Operator::Plus,
            &d(vec![150], 5, 2),
            &d(vec![225], 5, 2),
            &DataType::Decimal128(6, 2),
        )
        .unwrap();
        assert_eq!(out.data_type(), &DataType::Decimal128(6, 2));
        assert_eq!(out.as_primitive::<Decimal128Type>().value(0), 375);
        // 2.00 / 3.00 = 0.666667 (rounded, scale 6); -2 / 3 = -0.666667
        let out = eval(
            Operator::Divide,
            &d(vec![200, -200], 5, 2),
            &d(vec![300, 300], 5, 2),
            &DataType::Decimal128(9, 6),
        )
        .unwrap();
        let values: Vec<_> = out.as_primitive::<Decimal128Type>().iter().collect();
        assert_eq!(values, vec![Some(666_667), Some(-666_667)]);
        let err = eval(
            Operator::Divide,
            &d(vec![200], 5, 2),
            &d(vec![0], 5, 2),
            &DataType::Decimal128(9, 6),
        )
        .unwrap_err();
        assert!(matches!(err, EngineError::DivisionByZero));
    }

    #[test]
    fn decimal_division_rounds_in_wide_arithmetic() {
        assert_eq!(decimal_divide(1, 3, 6).unwrap(), 333_333);
        assert_eq!(decimal_divide(2, 3, 0).unwrap(), 1);
        assert_eq!(decimal_divide(-1, 2, 0).unwrap(), -1);
        assert_eq!(decimal_divide(10, 4, -1).unwrap(), 0);
        // 10^37 * 10^6 does not fit 128 bits, but the quotient does.
        let big = 10i128.pow(37);
        assert_eq!(decimal_divide(big, big, 6).unwrap(), 1_000_000);
        assert!(decimal_divide(big, 1, 6).is_err());
    }

    #[test]
    fn temporal_arithmetic() {
        let day = 86_400_000_000i64;
        let stamps = array(TimestampMicrosecondArray::from(vec![day, 2 * day]));
        let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
        let dur = DataType::Duration(TimeUnit::Microsecond);
        let one_day = ColumnarValue::Scalar(ScalarValue::DurationMicrosecond(Some(day)));
        let out = eval(Operator::Plus, &stamps, &one_day, &ts).unwrap();
        let values: Vec<_> = out
            .as_primitive::<TimestampMicrosecondType>()
            .iter()
            .collect();
        assert_eq!(values, vec![Some(2 * day), Some(3 * day)]);
        let out = eval(Operator::Plus, &one_day, &stamps, &ts).unwrap();
        assert_eq!(out.data_type(), &ts);
        let out = eval(Operator::Minus, &stamps, &stamps, &dur).unwrap();
        assert_eq!(out.as_primitive::<DurationMicrosecondType>().value(1), 0);
        let durations = array(DurationMicrosecondArray::from(vec![day]));
        let out = eval(Operator::Multiply, &durations, &scalar(3i64), &dur).unwrap();
        assert_eq!(
            out.as_primitive::<DurationMicrosecondType>().value(0),
            3 * day
        );
        let out = eval(Operator::Multiply, &scalar(2i64), &durations, &dur).unwrap();
        assert_eq!(
            out.as_primitive::<DurationMicrosecondType>().value(0),
            2 * day
        );
        let err = eval(Operator::Divide, &durations, &scalar(0i64), &dur).unwrap_err();
        assert!(matches!(err, EngineError::DivisionByZero));
        let max = array(TimestampMicrosecondArray::from(vec![i64::MAX]));
        let err = eval(Operator::Plus, &max, &one_day, &ts).unwrap_err();
        assert_eq!(err.to_string(), "timestamp out of range");
    }

    #[test]
    fn negation_is_checked() {
        let v = array(Int16Array::from(vec![Some(5), None]));
        let out = evaluate_negative(&v).unwrap().into_array(2).unwrap();
        let values: Vec<_> = out.as_primitive::<Int16Type>().iter().collect();
        assert_eq!(values, vec![Some(-5), None]);
        let min = array(Int64Array::from(vec![i64::MIN]));
        let err = evaluate_negative(&min).unwrap_err();
        assert_eq!(err.to_string(), "bigint out of range");
        match evaluate_negative(&scalar(2.5)).unwrap() {
            ColumnarValue::Scalar(s) => assert_eq!(s, ScalarValue::Float64(Some(-2.5))),
            other => panic!("expected a scalar, got {other:?}"),
        }
    }

    /// The unchecked decimal path gives Arrow's checked kernel's values, types and NULLs,
    /// for arrays and scalars on either side and unequal scales; near `i128`'s limits it
    /// steps aside and the checked kernel reports the overflow.
    #[test]
    fn unchecked_decimal_agrees_with_the_checked_kernel() {
        let decimal = |values: Vec<Option<i128>>, precision, scale| -> ArrayRef {
            Arc::new(
                Decimal128Array::from(values)
                    .with_precision_and_scale(precision, scale)
                    .unwrap(),
            )
        };
        let price = decimal(
            vec![Some(123_456), None, Some(-99_999), Some(0), Some(7)],
            15,
            2,
        );
        let discount = decimal(vec![Some(5), Some(10), None, Some(100), Some(-3)], 15, 2);
        let tax = decimal(
            vec![Some(1_234), Some(-50), Some(0), None, Some(999)],
            10,
            4,
        );
        let one = decimal(vec![Some(1)], 20, 0);
        let null = decimal(vec![None], 15, 2);
        let cases: Vec<(KernelArg, KernelArg)> = vec![
            (
                KernelArg::new(Arc::clone(&price), false),
                KernelArg::new(Arc::clone(&discount), false),
            ),
            (
                KernelArg::new(Arc::clone(&price), false),
                KernelArg::new(Arc::clone(&tax), false),
            ),
            (
                KernelArg::new(Arc::clone(&one), true),
                KernelArg::new(Arc::clone(&discount), false),
            ),
            (
                KernelArg::new(Arc::clone(&tax), false),
                KernelArg::new(Arc::clone(&one), true),
            ),
            (
                KernelArg::new(Arc::clone(&null), true),
                KernelArg::new(Arc::clone(&price), false),
            ),
        ];
        for (l, r) in &cases {
            for (op, kernel) in [
                (
                    Operator::Plus,
                    numeric::add as fn(&dyn arrow::array::Datum, &dyn arrow::array::Datum) -> _,
                ),
                (Operator::Minus, numeric::sub),
                (Operator::Multiply, numeric::mul),
            ] {
                let fast = unchecked_decimal(op, l, r).expect("small values take the fast path");
                let checked = kernel(l, r).unwrap();
                assert_eq!(fast.data_type(), checked.data_type(), "{op}");
                assert_eq!(fast.to_data(), checked.to_data(), "{op}");
            }
        }
        // Beyond 64 bits but within 128: the wide loop, with the same values as the kernel.
        let wide = decimal(
            vec![
                Some(3 * 10i128.pow(15)),
                Some(-(10i128.pow(18))),
                None,
                Some(7),
            ],
            20,
            2,
        );
        let small = decimal(vec![Some(9_999), Some(-10), Some(3), None], 6, 2);
        for (l, r) in [
            (Arc::clone(&wide), Arc::clone(&small)),
            (Arc::clone(&wide), Arc::clone(&wide)),
        ] {
            let (l, r) = (KernelArg::new(l, false), KernelArg::new(r, false));
            for (op, kernel) in [
                (
                    Operator::Plus,
                    numeric::add as fn(&dyn arrow::array::Datum, &dyn arrow::array::Datum) -> _,
                ),
                (Operator::Minus, numeric::sub),
                (Operator::Multiply, numeric::mul),
            ] {
                let fast = unchecked_decimal(op, &l, &r).expect("fits in 128 bits");
                let checked = kernel(&l, &r).unwrap();
                assert_eq!(fast.to_data(), checked.to_data(), "{op}");
            }
        }
        let huge = decimal(vec![Some(10i128.pow(37)), Some(1)], 38, 0);
        let (l, r) = (
            KernelArg::new(Arc::clone(&huge), false),
            KernelArg::new(huge, false),
        );
        assert!(unchecked_decimal(Operator::Multiply, &l, &r).is_none());
        assert!(unchecked_decimal(Operator::Plus, &l, &r).is_some());
        let err = arithmetic_kernel(Operator::Multiply, &l, &r, &DataType::Decimal128(38, 0))
            .unwrap_err();
        assert_eq!(err.to_string(), "numeric out of range");
    }
}
