//! Comparisons `= <> < <= > >=` and `IS [NOT] DISTINCT FROM` over operands coerced to one
//! type, with Arrow's `cmp` kernels.
//!
//! A dictionary-encoded string column compared with a string stays encoded: Arrow compares
//! the dictionary's values once and picks the results by key, so `status = 'open'` costs one
//! comparison per distinct status.
//!
//! Floats: Arrow orders them by IEEE `totalOrder`, under which `-0.0 < 0.0` and NaNs with
//! the sign bit set sort first. PostgreSQL has `-0 = 0` and every NaN equal to every other
//! and greater than all numbers. Canonicalising both operands (zero to `+0.0`, NaN to the
//! positive quiet NaN) before comparing makes `totalOrder` agree with PostgreSQL.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use arrow::compute::kernels::cmp;
use arrow::datatypes::{DataType, Float64Type};
use quiver_storage::ScalarValue;

use super::columnar_value::{apply_binary, KernelArg};
use super::ColumnarValue;
use crate::error::{EngineError, Result};
use crate::expr::Operator;

/// `-0.0 → 0.0` and any NaN → the canonical NaN, so `totalOrder` is PostgreSQL's order.
pub fn canonical_float(value: f64) -> f64 {
    if value.is_nan() {
        f64::NAN
    } else {
        value + 0.0
    }
}

/// Canonicalises the floats of an array (other types pass through). Most columns hold
/// neither NaN nor -0.0; those are returned as they are after one read-only scan.
pub fn canonical_floats(array: &ArrayRef) -> ArrayRef {
    match array.as_primitive_opt::<Float64Type>() {
        Some(floats)
            if floats
                .values()
                .iter()
                .any(|v| v.is_nan() || (*v == 0.0 && v.is_sign_negative())) =>
        {
            Arc::new(floats.unary::<_, Float64Type>(canonical_float))
        }
        _ => Arc::clone(array),
    }
}

/// Runs a comparison kernel on two operands of the same (value) type.
pub fn compare_datums(
    op: Operator,
    left: &dyn arrow::array::Datum,
    right: &dyn arrow::array::Datum,
) -> Result<BooleanArray> {
    let out = match op {
        Operator::Eq => cmp::eq(left, right),
        Operator::NotEq => cmp::neq(left, right),
        Operator::Lt => cmp::lt(left, right),
        Operator::LtEq => cmp::lt_eq(left, right),
        Operator::Gt => cmp::gt(left, right),
        Operator::GtEq => cmp::gt_eq(left, right),
        Operator::IsDistinctFrom => cmp::distinct(left, right),
        Operator::IsNotDistinctFrom => cmp::not_distinct(left, right),
        other => {
            return Err(EngineError::Internal(format!(
                "{other} is not a comparison"
            )))
        }
    };
    Ok(out?)
}

/// Compares two evaluated operands of one common type (a dictionary of strings counts as a
/// string). Scalar with scalar gives a scalar.
pub fn evaluate_comparison(
    op: Operator,
    left: &ColumnarValue,
    right: &ColumnarValue,
) -> Result<ColumnarValue> {
    // Only NULL literals have type Null: the comparison is NULL, or decided by DISTINCT.
    if left.data_type() == DataType::Null || right.data_type() == DataType::Null {
        return null_comparison(op, left, right);
    }
    apply_binary(left, right, |l, r| {
        let (l, r) = (canonical_arg(l), canonical_arg(r));
        Ok(Arc::new(compare_datums(op, &l, &r)?) as ArrayRef)
    })
}

fn canonical_arg(arg: &KernelArg) -> KernelArg {
    if arg.array().data_type() != &DataType::Float64 {
        return arg.clone();
    }
    KernelArg::new(canonical_floats(arg.array()), arg.is_scalar())
}

/// A comparison where one side is an untyped NULL: `=` and friends give NULL;
/// `IS DISTINCT FROM` asks whether the other side is not NULL.
fn null_comparison(
    op: Operator,
    left: &ColumnarValue,
    right: &ColumnarValue,
) -> Result<ColumnarValue> {
    let other = if left.data_type() == DataType::Null {
        right
    } else {
        left
    };
    let distinct = match op {
        Operator::IsDistinctFrom => true,
        Operator::IsNotDistinctFrom => false,
        _ => return Ok(ColumnarValue::Scalar(ScalarValue::Boolean(None))),
    };
    Ok(match other {
        ColumnarValue::Scalar(s) => {
            ColumnarValue::Scalar(ScalarValue::Boolean(Some(s.is_null() != distinct)))
        }
        ColumnarValue::Array(a) => {
            let not_null = arrow::compute::is_not_null(a.as_ref())?;
            if distinct {
                ColumnarValue::Array(Arc::new(not_null))
            } else {
                ColumnarValue::Array(Arc::new(arrow::compute::not(&not_null)?))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{DictionaryArray, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::Int32Type;

    fn compare(op: Operator, l: ColumnarValue, r: ColumnarValue) -> Vec<Option<bool>> {
        evaluate_comparison(op, &l, &r)
            .unwrap()
            .into_boolean(4)
            .unwrap()
            .iter()
            .collect()
    }

    fn floats(v: Vec<f64>) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(Float64Array::from(v)))
    }

    #[test]
    fn nan_equals_nan_and_sorts_above_numbers() {
        let neg_nan = -f64::NAN;
        let l = floats(vec![f64::NAN, neg_nan, f64::INFINITY, -0.0]);
        let r = floats(vec![neg_nan, 1.0, f64::NAN, 0.0]);
        assert_eq!(
            compare(Operator::Eq, l.clone(), r.clone()),
            vec![Some(true), Some(false), Some(false), Some(true)]
        );
        assert_eq!(
            compare(Operator::Gt, l.clone(), r.clone()),
            vec![Some(false), Some(true), Some(false), Some(false)]
        );
        assert_eq!(
            compare(Operator::Lt, l, r),
            vec![Some(false), Some(false), Some(true), Some(false)]
        );
        let nan = ColumnarValue::Scalar(ScalarValue::Float64(Some(f64::NAN)));
        assert_eq!(
            compare(Operator::GtEq, floats(vec![1.0, neg_nan, 0.0, 5.0]), nan),
            vec![Some(false), Some(true), Some(false), Some(false)]
        );
    }

    #[test]
    fn nulls_propagate_except_for_distinct() {
        let l = ColumnarValue::Array(Arc::new(Int64Array::from(vec![
            Some(1),
            None,
            Some(3),
            None,
        ])));
        let r = ColumnarValue::Array(Arc::new(Int64Array::from(vec![
            Some(1),
            None,
            None,
            Some(4),
        ])));
        assert_eq!(
            compare(Operator::Eq, l.clone(), r.clone()),
            vec![Some(true), None, None, None]
        );
        assert_eq!(
            compare(Operator::IsDistinctFrom, l.clone(), r.clone()),
            vec![Some(false), Some(false), Some(true), Some(true)]
        );
        assert_eq!(
            compare(Operator::IsNotDistinctFrom, l.clone(), r),
            vec![Some(true), Some(true), Some(false), Some(false)]
        );
        let null = ColumnarValue::Scalar(ScalarValue::Null);
        assert_eq!(
            compare(Operator::Eq, l.clone(), null.clone()),
            vec![None, None, None, None]
        );
        assert_eq!(
            compare(Operator::IsNotDistinctFrom, l, null),
            vec![Some(false), Some(true), Some(false), Some(true)]
        );
    }

    #[test]
    fn dictionary_strings_compare_with_a_string_scalar() {
        let dict: DictionaryArray<Int32Type> =
            vec![Some("open"), Some("closed"), None, Some("open")]
                .into_iter()
                .collect();
        let l = ColumnarValue::Array(Arc::new(dict));
        let r = ColumnarValue::Scalar(ScalarValue::from("open"));
        assert_eq!(
            compare(Operator::Eq, l.clone(), r.clone()),
            vec![Some(true), Some(false), None, Some(true)]
        );
        assert_eq!(
            compare(Operator::Lt, l.clone(), r),
            vec![Some(false), Some(true), None, Some(false)]
        );
        let plain = ColumnarValue::Array(Arc::new(StringArray::from(vec![
            "open", "open", "x", "zzz",
        ])));
        assert_eq!(
            compare(Operator::Eq, l, plain),
            vec![Some(true), Some(false), None, Some(false)]
        );
    }

    #[test]
    fn scalar_comparison_stays_scalar() {
        let out = evaluate_comparison(
            Operator::Lt,
            &ColumnarValue::Scalar(ScalarValue::Int64(Some(1))),
            &ColumnarValue::Scalar(ScalarValue::Int64(Some(2))),
        )
        .unwrap();
        match out {
            ColumnarValue::Scalar(s) => assert_eq!(s, ScalarValue::Boolean(Some(true))),
            other => panic!("expected a scalar, got {other:?}"),
        }
    }
}
