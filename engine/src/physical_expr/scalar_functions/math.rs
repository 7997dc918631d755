//! Numeric functions with PostgreSQL's domain errors: the square root of a negative number,
//! the logarithm of zero or of a negative number, zero to a negative power and a float result
//! outside `float8`'s range are errors, not NaN or infinity.
//!
//! `round` on a float rounds half away from zero at the decimal digit, because Django's
//! `Round` casts a `FloatField` to `numeric` on PostgreSQL (`FixDecimalInputMixin`), so
//! `Round(2.5)` is 3 and `Round(2.675, 2)` is 2.68 (the float's 15 significant digits are
//! what gets rounded, as PostgreSQL's `float8 → numeric` conversion keeps). Decimals keep
//! their type: `round(1.25::numeric(5,2), 1)` is `1.30`. Integers with a negative digit
//! count round to tens, hundreds, ….

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, PrimitiveArray};
use arrow::compute::kernels::arity::try_binary;
use arrow::datatypes::{DataType, Decimal128Type, Float64Type, Int64Type};
use arrow::error::ArrowError;

use crate::error::{EngineError, Result};
use crate::physical_expr::cast::{cast_array, div_round_half_away, pow10, sql_type_name, CastMode};

fn floats(array: &ArrayRef) -> Result<&Float64Array> {
    array.as_primitive_opt::<Float64Type>().ok_or_else(|| {
        EngineError::Internal(format!(
            "expected double precision, got {}",
            array.data_type()
        ))
    })
}

fn overflow(data_type: &DataType) -> ArrowError {
    ArrowError::ArithmeticOverflow(sql_type_name(data_type).to_string())
}

/// A domain error (`sqrt(-1)`): the user's data, reported as it is.
fn domain(message: &str) -> ArrowError {
    ArrowError::ComputeError(message.to_string())
}

fn map_error(error: ArrowError) -> EngineError {
    match error {
        ArrowError::ComputeError(message) => EngineError::Execution(message),
        ArrowError::ArithmeticOverflow(t) => EngineError::NumericOverflow(t),
        other => other.into(),
    }
}

/// Runs an integer kernel in `i64` and narrows back to the argument's type (checked).
fn via_int64(array: &ArrayRef, f: impl Fn(i64) -> Result<i64, ArrowError>) -> Result<ArrayRef> {
    let original = array.data_type().clone();
    let wide = cast_array(array, &DataType::Int64, CastMode::Implicit)?;
    let out: Int64Array = wide
        .as_primitive::<Int64Type>()
        .try_unary(f)
        .map_err(map_error)?;
    cast_array(&(Arc::new(out) as ArrayRef), &original, CastMode::Explicit)
}

fn decimal_kernel(
    array: &ArrayRef,
    f: impl Fn(i128, i8) -> Result<i128, ArrowError>,
) -> Result<ArrayRef> {
    let data_type = array.data_type().clone();
    let DataType::Decimal128(_, scale) = data_type else {
        return Err(EngineError::Internal(format!(
            "expected numeric, got {data_type}"
        )));
    };
    let out: PrimitiveArray<Decimal128Type> = array
        .as_primitive::<Decimal128Type>()
        .try_unary(|v| f(v, scale))
        .map_err(map_error)?;
    Ok(Arc::new(out.with_data_type(data_type)))
}

fn float_kernel(array: &ArrayRef, f: impl Fn(f64) -> Result<f64, ArrowError>) -> Result<ArrayRef> {
    let out: Float64Array = floats(array)?.try_unary(f).map_err(map_error)?;
    Ok(Arc::new(out))
}

/// `abs(x)`; `abs(-32768::smallint)` is out of range.
pub fn abs(array: &ArrayRef) -> Result<ArrayRef> {
    let data_type = array.data_type().clone();
    match &data_type {
        DataType::Null => Ok(Arc::clone(array)),
        DataType::Float64 => float_kernel(array, |v| Ok(v.abs())),
        DataType::Decimal128(..) => decimal_kernel(array, |v, _| {
            v.checked_abs().ok_or_else(|| overflow(&data_type))
        }),
        _ => via_int64(array, |v| {
            v.checked_abs().ok_or_else(|| overflow(&data_type))
        }),
    }
}

/// `sign(x)`: -1, 0 or 1 in the argument's type (NaN gives 0, as PostgreSQL's C does).
pub fn sign(array: &ArrayRef) -> Result<ArrayRef> {
    match array.data_type() {
        DataType::Null => Ok(Arc::clone(array)),
        DataType::Float64 => float_kernel(array, |v| {
            Ok(if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                0.0
            })
        }),
        DataType::Decimal128(..) => decimal_kernel(array, |v, scale| {
            let one = pow10(scale.max(0) as u32).unwrap_or(1);
            Ok(v.signum() * one)
        }),
        _ => via_int64(array, |v| Ok(v.signum())),
    }
}

/// Rounds a decimal's unscaled value to `digits` places, keeping its scale.
fn round_decimal(value: i128, scale: i8, digits: i64) -> Result<i128, ArrowError> {
    let drop = i64::from(scale) - digits;
    if drop <= 0 {
        return Ok(value);
    }
    let Some(factor) = u32::try_from(drop).ok().and_then(pow10) else {
        return Ok(0);
    };
    div_round_half_away(value, factor)
        .checked_mul(factor)
        .ok_or_else(|| ArrowError::ArithmeticOverflow("numeric".to_string()))
}

/// Rounds a float the way `round(x::numeric, digits)` does: at its 15 significant decimal
/// digits (and at most 15 places, Django's cast), half away from zero.
pub fn round_float(value: f64, digits: i64) -> f64 {
    if !value.is_finite() || value == 0.0 {
        return value;
    }
    let text = format!("{value:.14e}");
    let Some((mantissa, exponent)) = text.split_once('e') else {
        return value;
    };
    let (Ok(digits_value), Ok(exponent)) = (
        mantissa.replace('.', "").parse::<i128>(),
        exponent.parse::<i64>(),
    ) else {
        return value;
    };
    // value = digits_value * 10^-scale
    let mut unscaled = digits_value;
    let mut scale = 14 - exponent;
    for target in [15, digits] {
        if target < scale {
            let drop = scale - target;
            unscaled = match u32::try_from(drop).ok().and_then(pow10) {
                Some(factor) => div_round_half_away(unscaled, factor),
                None => 0,
            };
            scale = target;
        }
    }
    format!("{unscaled}e{}", -scale).parse().unwrap_or(value)
}

/// `round(x[, digits])`.
pub fn round(args: &[ArrayRef]) -> Result<ArrayRef> {
    let value = &args[0];
    let digits: Int64Array = match args.get(1) {
        Some(d) => d.as_primitive::<Int64Type>().clone(),
        None => Int64Array::from(vec![0; value.len()]),
    };
    match value.data_type().clone() {
        DataType::Float64 => {
            let out: Float64Array = try_binary(floats(value)?, &digits, |v, d| {
                Ok::<_, ArrowError>(round_float(v, d))
            })?;
            Ok(Arc::new(out))
        }
        data_type @ DataType::Decimal128(_, scale) => {
            let out: PrimitiveArray<Decimal128Type> =
                try_binary(value.as_primitive::<Decimal128Type>(), &digits, |v, d| {
                    round_decimal(v, scale, d)
                })
                .map_err(map_error)?;
            Ok(Arc::new(out.with_data_type(data_type)))
        }
        data_type => {
            let wide = cast_array(value, &DataType::Int64, CastMode::Implicit)?;
            let out: Int64Array = try_binary(wide.as_primitive::<Int64Type>(), &digits, |v, d| {
                let rounded = round_decimal(i128::from(v), 0, d)?;
                i64::try_from(rounded).map_err(|_| overflow(&data_type))
            })
            .map_err(map_error)?;
            cast_array(&(Arc::new(out) as ArrayRef), &data_type, CastMode::Explicit)
        }
    }
}

/// `ceil(x)` / `floor(x)`; integers are unchanged, decimals keep their scale.
pub fn ceil_floor(array: &ArrayRef, ceil: bool) -> Result<ArrayRef> {
    match array.data_type() {
        DataType::Float64 => float_kernel(array, |v| Ok(if ceil { v.ceil() } else { v.floor() })),
        DataType::Decimal128(..) => decimal_kernel(array, |v, scale| {
            let Some(factor) = pow10(scale.max(0) as u32) else {
                return Ok(0);
            };
            let floor = v.div_euclid(factor);
            let whole = if ceil && v.rem_euclid(factor) != 0 {
                floor + 1
            } else {
                floor
            };
            whole
                .checked_mul(factor)
                .ok_or_else(|| ArrowError::ArithmeticOverflow("numeric".to_string()))
        }),
        _ => Ok(Arc::clone(array)),
    }
}

fn check_float(result: f64, inputs_finite: bool) -> Result<f64, ArrowError> {
    if result.is_infinite() && inputs_finite {
        Err(overflow(&DataType::Float64))
    } else {
        Ok(result)
    }
}

/// `power(a, b)`.
pub fn power(args: &[ArrayRef]) -> Result<ArrayRef> {
    let out: Float64Array = try_binary(floats(&args[0])?, floats(&args[1])?, |a, b| {
        if a == 0.0 && b < 0.0 {
            return Err(domain("zero raised to a negative power is undefined"));
        }
        if a < 0.0 && b.is_finite() && b.fract() != 0.0 {
            return Err(domain(
                "a negative number raised to a non-integer power yields a complex result",
            ));
        }
        check_float(a.powf(b), a.is_finite() && b.is_finite())
    })
    .map_err(map_error)?;
    Ok(Arc::new(out))
}

/// `sqrt(x)`.
pub fn sqrt(array: &ArrayRef) -> Result<ArrayRef> {
    float_kernel(array, |v| {
        if v < 0.0 {
            Err(domain("cannot take square root of a negative number"))
        } else {
            Ok(v.sqrt())
        }
    })
}

/// `exp(x)`; a finite argument whose result leaves `float8`'s range is an error.
pub fn exp(array: &ArrayRef) -> Result<ArrayRef> {
    float_kernel(array, |v| {
        let result = v.exp();
        if v.is_finite() && (result.is_infinite() || result == 0.0) {
            Err(overflow(&DataType::Float64))
        } else {
            Ok(result)
        }
    })
}

fn check_log_argument(v: f64) -> Result<(), ArrowError> {
    if v == 0.0 {
        Err(domain("cannot take logarithm of zero"))
    } else if v < 0.0 {
        Err(domain("cannot take logarithm of a negative number"))
    } else {
        Ok(())
    }
}

/// `ln(x)`.
pub fn ln(array: &ArrayRef) -> Result<ArrayRef> {
    float_kernel(array, |v| {
        check_log_argument(v)?;
        Ok(v.ln())
    })
}

/// `log(base, x)` (Django's `Log` order), or `log(x)` in base 10.
pub fn log(args: &[ArrayRef]) -> Result<ArrayRef> {
    if args.len() == 1 {
        return float_kernel(&args[0], |v| {
            check_log_argument(v)?;
            Ok(v.log10())
        });
    }
    let out: Float64Array = try_binary(floats(&args[0])?, floats(&args[1])?, |base, x| {
        check_log_argument(base)?;
        check_log_argument(x)?;
        if base == 1.0 {
            return Err(ArrowError::DivideByZero);
        }
        Ok(x.ln() / base.ln())
    })
    .map_err(map_error)?;
    Ok(Arc::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Decimal128Array, Int16Array, Int32Array};
    use arrow::datatypes::{Int16Type, Int32Type};

    fn f(values: Vec<Option<f64>>) -> ArrayRef {
        Arc::new(Float64Array::from(values))
    }

    fn float_values(array: &ArrayRef) -> Vec<Option<f64>> {
        array.as_primitive::<Float64Type>().iter().collect()
    }

    fn decimals(values: Vec<i128>, p: u8, s: i8) -> ArrayRef {
        Arc::new(
            Decimal128Array::from(values)
                .with_precision_and_scale(p, s)
                .unwrap(),
        )
    }

    fn decimal_values(array: &ArrayRef) -> Vec<Option<i128>> {
        array.as_primitive::<Decimal128Type>().iter().collect()
    }

    #[test]
    fn float_round_is_numeric_round_half_away_from_zero() {
        assert_eq!(round_float(2.5, 0), 3.0);
        assert_eq!(round_float(-2.5, 0), -3.0);
        assert_eq!(round_float(0.5, 0), 1.0);
        assert_eq!(round_float(1.5, 0), 2.0);
        assert_eq!(round_float(2.675, 2), 2.68);
        assert_eq!(round_float(1234.5678, -2), 1200.0);
        assert_eq!(round_float(0.1 + 0.2, 15), 0.3);
        assert_eq!(round_float(1e-20, 2), 0.0);
        assert_eq!(round_float(1e300, 2), 1e300);
        assert!(round_float(f64::NAN, 2).is_nan());
        let out = round(&[
            f(vec![Some(2.5), None]),
            Arc::new(Int64Array::from(vec![0, 0])),
        ])
        .unwrap();
        assert_eq!(float_values(&out), vec![Some(3.0), None]);
    }

    #[test]
    fn decimal_and_integer_round_keep_their_types() {
        let d = decimals(vec![125, -125, 124], 5, 2);
        let out = round(&[Arc::clone(&d), Arc::new(Int64Array::from(vec![1, 1, 1]))]).unwrap();
        assert_eq!(out.data_type(), &DataType::Decimal128(5, 2));
        assert_eq!(decimal_values(&out), vec![Some(130), Some(-130), Some(120)]);
        let out = round(&[d]).unwrap();
        assert_eq!(decimal_values(&out), vec![Some(100), Some(-100), Some(100)]);
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![1250, -1250, 7]));
        let out = round(&[ints, Arc::new(Int64Array::from(vec![-2, -2, 3]))]).unwrap();
        let values: Vec<_> = out.as_primitive::<Int32Type>().iter().collect();
        assert_eq!(values, vec![Some(1300), Some(-1300), Some(7)]);
        let small: ArrayRef = Arc::new(Int16Array::from(vec![32760]));
        assert!(matches!(
            round(&[small, Arc::new(Int64Array::from(vec![-2]))]),
            Err(EngineError::NumericOverflow(_))
        ));
    }

    #[test]
    fn abs_sign_ceil_floor() {
        let small: ArrayRef = Arc::new(Int16Array::from(vec![Some(-3), None, Some(i16::MIN)]));
        assert_eq!(
            abs(&small).unwrap_err().to_string(),
            "smallint out of range"
        );
        let ok: ArrayRef = Arc::new(Int16Array::from(vec![Some(-3), None]));
        let out = abs(&ok).unwrap();
        assert_eq!(
            out.as_primitive::<Int16Type>().iter().collect::<Vec<_>>(),
            vec![Some(3), None]
        );
        let out = sign(&f(vec![Some(-2.0), Some(0.0), Some(f64::NAN)])).unwrap();
        assert_eq!(float_values(&out), vec![Some(-1.0), Some(0.0), Some(0.0)]);
        let d = decimals(vec![-150, 0, 101], 5, 2);
        assert_eq!(
            decimal_values(&sign(&d).unwrap()),
            vec![Some(-100), Some(0), Some(100)]
        );
        assert_eq!(
            decimal_values(&ceil_floor(&d, true).unwrap()),
            vec![Some(-100), Some(0), Some(200)]
        );
        assert_eq!(
            decimal_values(&ceil_floor(&d, false).unwrap()),
            vec![Some(-200), Some(0), Some(100)]
        );
        let out = ceil_floor(&f(vec![Some(-1.5), Some(1.2)]), true).unwrap();
        assert_eq!(float_values(&out), vec![Some(-1.0), Some(2.0)]);
    }

    #[test]
    fn domain_errors_are_errors() {
        let err = sqrt(&f(vec![Some(4.0), Some(-1.0)])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot take square root of a negative number"
        );
        assert_eq!(
            float_values(&sqrt(&f(vec![Some(9.0), None])).unwrap()),
            vec![Some(3.0), None]
        );
        assert_eq!(
            ln(&f(vec![Some(0.0)])).unwrap_err().to_string(),
            "cannot take logarithm of zero"
        );
        assert_eq!(
            ln(&f(vec![Some(-1.0)])).unwrap_err().to_string(),
            "cannot take logarithm of a negative number"
        );
        let out = log(&[f(vec![Some(2.0)]), f(vec![Some(8.0)])]).unwrap();
        assert!((float_values(&out)[0].unwrap() - 3.0).abs() < 1e-12);
        assert!(matches!(
            log(&[f(vec![Some(1.0)]), f(vec![Some(8.0)])]),
            Err(EngineError::DivisionByZero)
        ));
        assert_eq!(
            float_values(&log(&[f(vec![Some(1000.0)])]).unwrap()),
            vec![Some(3.0)]
        );
        assert!(power(&[f(vec![Some(0.0)]), f(vec![Some(-1.0)])]).is_err());
        assert!(power(&[f(vec![Some(-8.0)]), f(vec![Some(0.5)])]).is_err());
        assert_eq!(
            float_values(&power(&[f(vec![Some(-2.0)]), f(vec![Some(3.0)])]).unwrap()),
            vec![Some(-8.0)]
        );
        assert!(matches!(
            power(&[f(vec![Some(10.0)]), f(vec![Some(400.0)])]),
            Err(EngineError::NumericOverflow(_))
        ));
        assert!(exp(&f(vec![Some(1000.0)])).is_err());
        assert!(exp(&f(vec![Some(-1000.0)])).is_err());
        assert_eq!(
            float_values(&exp(&f(vec![Some(0.0)])).unwrap()),
            vec![Some(1.0)]
        );
    }
}
