//! [`RowKey`]: the hashable identity of a row (its primary key) or of a unique-constraint tuple.
//!
//! Updates, deletes and row locks name rows by their primary key value, which is stable across
//! table versions (a copy-on-write rewrite moves rows between chunks, so a position is not an
//! identity). Keys are extracted column-at-a-time: one cast per column to a small set of
//! physical shapes, then a tight loop, so building the key set of a 10M-row table stays cheap.

use std::fmt;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::kernels::cast::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};

use crate::{Result, StorageError};

/// One value of a key column, or a tuple of them for composite keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RowKey {
    /// SQL NULL (a NULL never equals another in a unique constraint; see `has_null`).
    Null,
    /// Integers, dates, times and booleans, by their integer representation.
    Int(i64),
    /// Decimals, by their unscaled 128-bit value.
    Wide(i128),
    /// Floats, by bit pattern (with -0.0 folded into 0.0).
    Float(u64),
    /// Text.
    Text(Box<str>),
    /// Several columns.
    Composite(Box<[RowKey]>),
}

impl RowKey {
    /// True when the key or any part of it is NULL: PostgreSQL treats such rows as distinct in
    /// a unique constraint (`NULLS DISTINCT`).
    pub fn has_null(&self) -> bool {
        match self {
            RowKey::Null => true,
            RowKey::Composite(parts) => parts.iter().any(RowKey::has_null),
            _ => false,
        }
    }
}

impl fmt::Display for RowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowKey::Null => write!(f, "null"),
            RowKey::Int(v) => write!(f, "{v}"),
            RowKey::Wide(v) => write!(f, "{v}"),
            RowKey::Float(bits) => write!(f, "{}", f64::from_bits(*bits)),
            RowKey::Text(s) => write!(f, "{s}"),
            RowKey::Composite(parts) => {
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{part}")?;
                }
                Ok(())
            }
        }
    }
}

/// The keys of every row of `array`.
pub fn column_keys(array: &ArrayRef) -> Result<Vec<RowKey>> {
    let n = array.len();
    let nulls = |i: usize| array.is_null(i);
    let keys = match array.data_type() {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::Date32
        | DataType::Date64
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Timestamp(_, _)
        | DataType::Duration(_)
        | DataType::Boolean => {
            let ints = if matches!(array.data_type(), DataType::Boolean) {
                cast(&cast(array, &DataType::Int8)?, &DataType::Int64)?
            } else {
                cast(array, &DataType::Int64)?
            };
            let values = ints.as_primitive::<Int64Type>();
            (0..n)
                .map(|i| {
                    if nulls(i) {
                        RowKey::Null
                    } else {
                        RowKey::Int(values.value(i))
                    }
                })
                .collect()
        }
        DataType::Decimal128(_, _) => {
            let values = array.as_primitive::<arrow::datatypes::Decimal128Type>();
            (0..n)
                .map(|i| {
                    if nulls(i) {
                        RowKey::Null
                    } else {
                        RowKey::Wide(values.value(i))
                    }
                })
                .collect()
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let floats = cast(array, &DataType::Float64)?;
            let values = floats.as_primitive::<Float64Type>();
            (0..n)
                .map(|i| {
                    if nulls(i) {
                        RowKey::Null
                    } else {
                        let v = values.value(i);
                        RowKey::Float(if v == 0.0 {
                            0f64.to_bits()
                        } else {
                            v.to_bits()
                        })
                    }
                })
                .collect()
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
            let text = cast(array, &DataType::Utf8)?;
            let values = text.as_string::<i32>();
            (0..n)
                .map(|i| {
                    if nulls(i) {
                        RowKey::Null
                    } else {
                        RowKey::Text(values.value(i).into())
                    }
                })
                .collect()
        }
        other => {
            return Err(StorageError::Internal(format!(
                "columns of type {other} cannot be keys"
            )))
        }
    };
    Ok(keys)
}

/// The keys of `batch` over `columns` (one column: plain keys; several: composite keys).
pub fn batch_keys(batch: &RecordBatch, columns: &[usize]) -> Result<Vec<RowKey>> {
    match columns {
        [single] => column_keys(batch.column(*single)),
        _ => {
            let per_column = columns
                .iter()
                .map(|&c| column_keys(batch.column(c)))
                .collect::<Result<Vec<_>>>()?;
            Ok((0..batch.num_rows())
                .map(|row| RowKey::Composite(per_column.iter().map(|c| c[row].clone()).collect()))
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int32Array, StringArray};

    use super::*;

    #[test]
    fn keys_by_column_type_and_composite() {
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), None]));
        assert_eq!(column_keys(&ints).unwrap(), [RowKey::Int(1), RowKey::Null]);
        let text: ArrayRef = Arc::new(StringArray::from(vec!["a", "b"]));
        let batch = RecordBatch::try_from_iter([("i", ints), ("t", text)]).unwrap();
        let keys = batch_keys(&batch, &[0, 1]).unwrap();
        assert_eq!(keys[0].to_string(), "1, a");
        assert!(!keys[0].has_null());
        assert!(keys[1].has_null());
    }
}
