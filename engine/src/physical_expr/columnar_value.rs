//! [`ColumnarValue`]: what evaluating an expression over a batch returns, and the glue that
//! feeds such values to Arrow kernels.
//!
//! Literals and expressions over literals stay [`ColumnarValue::Scalar`]: a filter
//! `price > 10` compares the column against one value through Arrow's [`Datum`] support
//! instead of materialising a column of tens, and `1 + 2` is computed once, not per row.

use std::sync::Arc;

use arrow::array::{
    new_null_array, Array, ArrayRef, BooleanArray, Datum, RecordBatch, RecordBatchOptions,
    UInt32Array,
};
use arrow::compute::kernels::take::take;
use arrow::datatypes::DataType;
use quiver_storage::ScalarValue;

use crate::error::{EngineError, Result};

/// The result of evaluating an expression over a batch: a whole column, or one value that
/// stands for every row (literals and expressions over literals stay scalar, cheaply).
#[derive(Debug, Clone)]
pub enum ColumnarValue {
    Array(ArrayRef),
    Scalar(ScalarValue),
}

impl ColumnarValue {
    /// Materialises the value as an array of `num_rows` rows.
    pub fn into_array(self, num_rows: usize) -> Result<ArrayRef> {
        Ok(match self {
            ColumnarValue::Array(a) => a,
            ColumnarValue::Scalar(s) => scalar_to_array(&s, num_rows),
        })
    }

    /// The Arrow type of the value.
    pub fn data_type(&self) -> DataType {
        match self {
            ColumnarValue::Array(a) => a.data_type().clone(),
            ColumnarValue::Scalar(s) => s.data_type(),
        }
    }

    /// The value as an operand of an Arrow kernel: the array itself, or a one-row array
    /// flagged as a scalar.
    pub fn to_kernel_arg(&self) -> KernelArg {
        match self {
            ColumnarValue::Array(a) => KernelArg {
                array: Arc::clone(a),
                is_scalar: false,
            },
            ColumnarValue::Scalar(s) => KernelArg {
                array: scalar_to_array(s, 1),
                is_scalar: true,
            },
        }
    }

    /// The boolean array of a predicate, materialising a scalar to `num_rows` rows.
    pub fn into_boolean(self, num_rows: usize) -> Result<BooleanArray> {
        let array = self.into_array(num_rows)?;
        match array.data_type() {
            DataType::Boolean => Ok(array
                .as_any()
                .downcast_ref::<BooleanArray>()
                .cloned()
                .unwrap_or_else(|| BooleanArray::new_null(num_rows))),
            DataType::Null => Ok(BooleanArray::new_null(array.len())),
            other => Err(EngineError::Internal(format!(
                "expected a boolean value, got {other}"
            ))),
        }
    }
}

/// `len` copies of `value`. Unlike [`ScalarValue::to_array`] a typed NULL keeps its type.
pub fn scalar_to_array(value: &ScalarValue, len: usize) -> ArrayRef {
    if value.is_null() {
        return new_null_array(&value.data_type(), len);
    }
    value.to_array(len)
}

/// An operand of an Arrow kernel (implements [`Datum`]).
#[derive(Debug, Clone)]
pub struct KernelArg {
    array: ArrayRef,
    is_scalar: bool,
}

impl KernelArg {
    /// An operand; with `is_scalar`, `array` has one row that stands for every row.
    pub fn new(array: ArrayRef, is_scalar: bool) -> KernelArg {
        KernelArg { array, is_scalar }
    }

    /// The underlying array (one row when [`is_scalar`](Self::is_scalar)).
    pub fn array(&self) -> &ArrayRef {
        &self.array
    }

    /// True when the single row stands for every row.
    pub fn is_scalar(&self) -> bool {
        self.is_scalar
    }
}

impl Datum for KernelArg {
    fn get(&self) -> (&dyn Array, bool) {
        (self.array.as_ref(), self.is_scalar)
    }
}

/// Applies a kernel to two operands. Scalar op scalar runs on one-row arrays and gives a
/// scalar back, so expressions over literals stay cheap.
pub fn apply_binary(
    left: &ColumnarValue,
    right: &ColumnarValue,
    kernel: impl FnOnce(&KernelArg, &KernelArg) -> Result<ArrayRef>,
) -> Result<ColumnarValue> {
    let (l, r) = (left.to_kernel_arg(), right.to_kernel_arg());
    let out = kernel(&l, &r)?;
    if l.is_scalar && r.is_scalar {
        Ok(ColumnarValue::Scalar(array_to_scalar(out.as_ref())?))
    } else {
        Ok(ColumnarValue::Array(out))
    }
}

/// Applies a kernel to one operand; a scalar in gives a scalar out.
pub fn apply_unary(
    value: &ColumnarValue,
    kernel: impl FnOnce(&ArrayRef) -> Result<ArrayRef>,
) -> Result<ColumnarValue> {
    match value {
        ColumnarValue::Array(a) => Ok(ColumnarValue::Array(kernel(a)?)),
        ColumnarValue::Scalar(s) => {
            let out = kernel(&scalar_to_array(s, 1))?;
            Ok(ColumnarValue::Scalar(array_to_scalar(out.as_ref())?))
        }
    }
}

/// The first row of a (one-row) array as a scalar.
pub fn array_to_scalar(array: &dyn Array) -> Result<ScalarValue> {
    if array.is_empty() {
        return Err(EngineError::Internal(
            "a scalar expression produced no row".to_string(),
        ));
    }
    if array.data_type() == &DataType::Null {
        return Ok(ScalarValue::Null);
    }
    Ok(ScalarValue::try_from_array(array, 0)?)
}

/// Spreads `values` (one row per set bit of `mask`) back over `mask.len()` rows; rows where
/// `mask` is not set are NULL. This is how results computed on a subset of a batch (the rows
/// a CASE branch or the right side of AND actually needs) return to the batch's row order.
pub fn scatter(mask: &BooleanArray, values: &dyn Array) -> Result<ArrayRef> {
    let mut next = 0u32;
    let indices: UInt32Array = (0..mask.len())
        .map(|i| {
            if mask.is_valid(i) && mask.value(i) {
                next += 1;
                Some(next - 1)
            } else {
                None
            }
        })
        .collect();
    if next as usize != values.len() {
        return Err(EngineError::Internal(format!(
            "scatter of {} values over a mask of {} rows",
            values.len(),
            next
        )));
    }
    Ok(take(values, &indices, None)?)
}

/// A predicate with NULL read as false (a row whose condition is unknown is not selected).
pub fn nulls_as_false(predicate: BooleanArray) -> BooleanArray {
    match predicate.nulls() {
        Some(nulls) if nulls.null_count() > 0 => {
            BooleanArray::new(predicate.values() & nulls.inner(), None)
        }
        _ => predicate,
    }
}

/// The rows `indices` of `batch`, in that order (also for a batch without columns).
pub fn take_rows(batch: &RecordBatch, indices: &UInt32Array) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .map(|c| take(c.as_ref(), indices, None))
        .collect::<Result<Vec<_>, _>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(indices.len()));
    Ok(RecordBatch::try_new_with_options(
        batch.schema(),
        columns,
        &options,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::Int64Type;

    #[test]
    fn scalar_op_scalar_stays_scalar() {
        let one = ColumnarValue::Scalar(ScalarValue::Int64(Some(1)));
        let two = ColumnarValue::Scalar(ScalarValue::Int64(Some(2)));
        let out = apply_binary(&one, &two, |l, r| {
            Ok(arrow::compute::kernels::numeric::add(l, r)?)
        })
        .unwrap();
        match out {
            ColumnarValue::Scalar(s) => assert_eq!(s, ScalarValue::Int64(Some(3))),
            other => panic!("expected a scalar, got {other:?}"),
        }
    }

    #[test]
    fn typed_null_scalars_keep_their_type() {
        let array = scalar_to_array(&ScalarValue::Int32(None), 3);
        assert_eq!(array.data_type(), &DataType::Int32);
        assert_eq!(array.null_count(), 3);
    }

    #[test]
    fn scatter_puts_values_back_in_place() {
        let mask = BooleanArray::from(vec![Some(true), Some(false), None, Some(true)]);
        let values = Int64Array::from(vec![10, 20]);
        let out = scatter(&mask, &values).unwrap();
        let out = out.as_primitive::<Int64Type>();
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            vec![Some(10), None, None, Some(20)]
        );
        assert!(scatter(&mask, &Int64Array::from(vec![1])).is_err());
    }
}
