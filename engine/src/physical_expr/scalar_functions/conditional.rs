//! `COALESCE`, `NULLIF`, `GREATEST`, `LEAST` with PostgreSQL's NULL rules.
//!
//! COALESCE returns the first non-NULL argument and, like PostgreSQL, does not evaluate an
//! argument for rows an earlier one decided: each argument runs on the whole batch (fast), and
//! only if that fails is it run again on the rows still NULL, so an error those rows would
//! not have caused never surfaces. GREATEST and LEAST ignore NULL arguments (NULL only when
//! all are NULL) and order floats as PostgreSQL does (NaN above every number).

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow::compute::kernels::boolean::{is_null, or};
use arrow::compute::kernels::filter::filter_record_batch;
use arrow::compute::kernels::nullif::nullif;
use arrow::compute::kernels::zip::zip;
use arrow::datatypes::DataType;
use quiver_storage::ScalarValue;

use crate::error::{EngineError, Result};
use crate::expr::type_coercion::{comparison_common_type, value_type};
use crate::expr::Operator;
use crate::physical_expr::cast::{cast_value, CastMode};
use crate::physical_expr::columnar_value::{nulls_as_false, scatter, KernelArg};
use crate::physical_expr::comparison::evaluate_comparison;
use crate::physical_expr::planner::coerce;
use crate::physical_expr::{ColumnarValue, PhysicalExpr, PhysicalExprRef};

/// `COALESCE(a, b, …)` over arguments already coerced to one type.
#[derive(Debug)]
pub struct CoalesceExpr {
    args: Vec<PhysicalExprRef>,
    data_type: DataType,
}

impl CoalesceExpr {
    /// A COALESCE of `args`, each of type `data_type`.
    pub fn new(args: Vec<PhysicalExprRef>, data_type: DataType) -> CoalesceExpr {
        CoalesceExpr { args, data_type }
    }

    /// Fills the NULL rows of `current` from `arg`.
    fn fill(
        &self,
        batch: &RecordBatch,
        current: &ArrayRef,
        arg: &PhysicalExprRef,
    ) -> Result<ArrayRef> {
        let missing = is_null(current.as_ref())?;
        let next = match arg.evaluate(batch) {
            Ok(next) => next,
            Err(error) => {
                if missing.true_count() == missing.len() {
                    return Err(error);
                }
                let subset = filter_record_batch(batch, &missing)?;
                let values = arg.evaluate(&subset)?.into_array(subset.num_rows())?;
                ColumnarValue::Array(scatter(&missing, values.as_ref())?)
            }
        };
        let next: KernelArg = next.to_kernel_arg();
        Ok(zip(&missing, &next, current)?)
    }
}

impl fmt::Display for CoalesceExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("coalesce(")?;
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{a}")?;
        }
        f.write_str(")")
    }
}

impl PhysicalExpr for CoalesceExpr {
    fn data_type(&self) -> DataType {
        self.data_type.clone()
    }

    fn nullable(&self) -> bool {
        self.args.iter().all(|a| a.nullable())
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let mut result: Option<ColumnarValue> = None;
        for arg in &self.args {
            result = Some(match result.take() {
                None => arg.evaluate(batch)?,
                Some(ColumnarValue::Scalar(s)) if s.is_null() => arg.evaluate(batch)?,
                Some(decided @ ColumnarValue::Scalar(_)) => return Ok(decided),
                Some(ColumnarValue::Array(a)) if a.logical_null_count() == 0 => {
                    return Ok(ColumnarValue::Array(a))
                }
                Some(ColumnarValue::Array(a)) => ColumnarValue::Array(self.fill(batch, &a, arg)?),
            });
        }
        Ok(result.unwrap_or_else(|| ColumnarValue::Scalar(ScalarValue::null_of(&self.data_type))))
    }
}

/// `NULLIF(value, other)`: NULL where `value = other`, else `value` (in `value`'s type).
#[derive(Debug)]
pub struct NullIfExpr {
    value: PhysicalExprRef,
    other: PhysicalExprRef,
    /// The type the two are compared in.
    compare_type: DataType,
}

impl NullIfExpr {
    /// Plans `NULLIF(value, other)`; the two must be comparable.
    pub fn try_new(value: PhysicalExprRef, other: PhysicalExprRef) -> Result<NullIfExpr> {
        let (v, o) = (value.data_type(), other.data_type());
        let compare_type = comparison_common_type(&v, &o).ok_or_else(|| {
            EngineError::Plan(format!(
                "nullif cannot compare {} with {}",
                value_type(&v),
                value_type(&o)
            ))
        })?;
        let out = value_type(&v).clone();
        Ok(NullIfExpr {
            value: coerce(value, &out, false)?,
            other: coerce(other, &compare_type, true)?,
            compare_type,
        })
    }
}

impl fmt::Display for NullIfExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "nullif({}, {})", self.value, self.other)
    }
}

impl PhysicalExpr for NullIfExpr {
    fn data_type(&self) -> DataType {
        self.value.data_type()
    }

    fn nullable(&self) -> bool {
        true
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let value = self.value.evaluate(batch)?;
        let comparable = if value_type(&value.data_type()) == &self.compare_type {
            value.clone()
        } else {
            cast_value(value.clone(), &self.compare_type, CastMode::Implicit)?
        };
        let equal = evaluate_comparison(Operator::Eq, &comparable, &self.other.evaluate(batch)?)?;
        match (value, equal) {
            (value @ ColumnarValue::Scalar(_), ColumnarValue::Scalar(equal)) => {
                Ok(if equal == ScalarValue::Boolean(Some(true)) {
                    ColumnarValue::Scalar(ScalarValue::null_of(&self.data_type()))
                } else {
                    value
                })
            }
            (value, equal) => {
                let rows = batch.num_rows();
                let equal = nulls_as_false(equal.into_boolean(rows)?);
                let value = value.into_array(rows)?;
                if value.data_type() == &DataType::Null {
                    return Ok(ColumnarValue::Array(value));
                }
                Ok(ColumnarValue::Array(nullif(value.as_ref(), &equal)?))
            }
        }
    }
}

/// `GREATEST(…)` (or `LEAST`) over arrays of one type, skipping NULLs.
pub fn greatest_least(arrays: &[ArrayRef], greatest: bool) -> Result<ArrayRef> {
    let Some(first) = arrays.first() else {
        return Err(EngineError::Internal(
            "greatest/least without arguments".to_string(),
        ));
    };
    if first.data_type() == &DataType::Null {
        return Ok(Arc::clone(first));
    }
    let op = if greatest { Operator::Gt } else { Operator::Lt };
    let mut best = Arc::clone(first);
    for next in &arrays[1..] {
        let better = evaluate_comparison(
            op,
            &ColumnarValue::Array(Arc::clone(next)),
            &ColumnarValue::Array(Arc::clone(&best)),
        )?
        .into_boolean(next.len())?;
        let better: BooleanArray = nulls_as_false(better);
        let take_next = or(&is_null(best.as_ref())?, &better)?;
        best = zip(&take_next, next, &best)?;
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, Float64Array, Int64Array};
    use arrow::datatypes::{Float64Type, Int64Type};

    fn ints(values: Vec<Option<i64>>) -> ArrayRef {
        Arc::new(Int64Array::from(values))
    }

    #[test]
    fn greatest_and_least_skip_nulls() {
        let a = ints(vec![Some(1), None, Some(5), None]);
        let b = ints(vec![Some(3), Some(2), None, None]);
        let c = ints(vec![Some(2), Some(-1), Some(4), None]);
        let out = greatest_least(&[Arc::clone(&a), Arc::clone(&b), Arc::clone(&c)], true).unwrap();
        let values: Vec<_> = out.as_primitive::<Int64Type>().iter().collect();
        assert_eq!(values, vec![Some(3), Some(2), Some(5), None]);
        let out = greatest_least(&[a, b, c], false).unwrap();
        let values: Vec<_> = out.as_primitive::<Int64Type>().iter().collect();
        assert_eq!(values, vec![Some(1), Some(-1), Some(4), None]);
    }

    #[test]
    fn nan_is_the_greatest_float() {
        let a: ArrayRef = Arc::new(Float64Array::from(vec![f64::NAN, 1.0]));
        let b: ArrayRef = Arc::new(Float64Array::from(vec![f64::INFINITY, -f64::NAN]));
        let out = greatest_least(&[Arc::clone(&a), Arc::clone(&b)], true).unwrap();
        let out = out.as_primitive::<Float64Type>();
        assert!(out.value(0).is_nan() && out.value(1).is_nan());
        let out = greatest_least(&[a, b], false).unwrap();
        let out = out.as_primitive::<Float64Type>();
        assert_eq!((out.value(0), out.value(1)), (f64::INFINITY, 1.0));
    }
}
