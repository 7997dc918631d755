//! [`RowKey`]: the hashable identity of a row (its primary key) or of a unique-constraint tuple.
//!
//! Updates, deletes and row locks name rows by their primary key value, which is stable across
//! table versions (a copy-on-write rewrite moves rows between chunks, so a position is not an
//! identity). Keys are extracted column-at-a-time: one cast per column to a small set of
//! physical shapes, then a tight loop, so building the key set of a 10M-row table stays cheap.
//!
//! The same keys are the entries of ordered indexes, so their `Ord` must be SQL's order for
//! every type. Floats are therefore not stored by bit pattern (which puts negative numbers
//! after positive ones, in reverse) but by an order-preserving encoding, in PostgreSQL's order:
//! `-0` and `0` are one key, every NaN is one key, and NaN sorts above every number, infinity
//! included (see [`RowKey::float`]).

use std::fmt;
use std::sync::Arc;

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
    /// Floats, by their order-preserving encoding ([`RowKey::float`]): comparing two keys
    /// compares the numbers as PostgreSQL does.
    Float(u64),
    /// Text.
    Text(Box<str>),
    /// Several columns.
    Composite(Box<[RowKey]>),
}

/// The sign bit of an `f64`.
const SIGN: u64 = 1 << 63;

impl RowKey {
    /// The key of a float: `-0.0` folded into `0.0` and every NaN into the positive quiet NaN
    /// (PostgreSQL's `-0 = 0` and `NaN = NaN`), then the bits of a negative number all flipped
    /// and the sign bit of a positive one set, so that the keys' unsigned order is the numbers'
    /// order: `-inf < … < -0 = 0 < … < inf < NaN`.
    pub fn float(value: f64) -> RowKey {
        let canonical = if value == 0.0 {
            0.0
        } else if value.is_nan() {
            f64::NAN
        } else {
            value
        };
        let bits = canonical.to_bits();
        RowKey::Float(if bits & SIGN != 0 { !bits } else { bits | SIGN })
    }

    /// The number a [`RowKey::Float`] encodes (its canonical value: `0.0`, not `-0.0`; one
    /// NaN), `None` for other keys.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            RowKey::Float(key) => Some(f64::from_bits(if key & SIGN != 0 {
                key ^ SIGN
            } else {
                !key
            })),
            _ => None,
        }
    }

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
            RowKey::Float(_) => write!(f, "{}", self.as_f64().unwrap_or(f64::NAN)),
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

/// `array` as the `Int64` array of its keys' integers, when its keys are [`RowKey::Int`]
/// (integers, dates, times, booleans); `None` for other types.
pub(crate) fn int_keys(array: &ArrayRef) -> Result<Option<ArrayRef>> {
    Ok(match array.data_type() {
        DataType::Int64 => Some(Arc::clone(array)),
        DataType::Boolean => Some(cast(&cast(array, &DataType::Int8)?, &DataType::Int64)?),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::Date32
        | DataType::Date64
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Timestamp(_, _)
        | DataType::Duration(_) => Some(cast(array, &DataType::Int64)?),
        _ => None,
    })
}

/// `array` as the `Utf8` array of its keys' text, when its keys are [`RowKey::Text`];
/// `None` for other types.
pub(crate) fn text_keys(array: &ArrayRef) -> Result<Option<ArrayRef>> {
    Ok(match array.data_type() {
        DataType::Utf8 => Some(Arc::clone(array)),
        DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
            Some(cast(array, &DataType::Utf8)?)
        }
        _ => None,
    })
}

/// The keys of every row of `array`.
pub fn column_keys(array: &ArrayRef) -> Result<Vec<RowKey>> {
    let n = array.len();
    let nulls = |i: usize| array.is_null(i);
    if let Some(ints) = int_keys(array)? {
        let values = ints.as_primitive::<Int64Type>();
        return Ok((0..n)
            .map(|i| {
                if nulls(i) {
                    RowKey::Null
                } else {
                    RowKey::Int(values.value(i))
                }
            })
            .collect());
    }
    if let Some(text) = text_keys(array)? {
        let values = text.as_string::<i32>();
        return Ok((0..n)
            .map(|i| {
                if nulls(i) {
                    RowKey::Null
                } else {
                    RowKey::Text(values.value(i).into())
                }
            })
            .collect());
    }
    let keys = match array.data_type() {
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
                        RowKey::float(values.value(i))
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

    use arrow::array::{Float32Array, Float64Array, Int32Array, StringArray};

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

    #[test]
    fn float_keys_sort_as_postgres_orders_numbers() {
        let ascending = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -1.0,
            -f64::MIN_POSITIVE,
            0.0,
            f64::MIN_POSITIVE,
            0.5,
            1.0,
            1e300,
            f64::INFINITY,
            f64::NAN,
        ];
        let keys: Vec<RowKey> = ascending.iter().map(|&v| RowKey::float(v)).collect();
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "{keys:?}");
        // -0 = 0 and NaN = NaN, whatever the NaN's sign or payload.
        assert_eq!(RowKey::float(-0.0), RowKey::float(0.0));
        assert_eq!(RowKey::float(-f64::NAN), RowKey::float(f64::NAN));
        assert_eq!(
            RowKey::float(f64::from_bits(f64::NAN.to_bits() | 1)),
            RowKey::float(f64::NAN)
        );
        // Every key decodes to its number, and displays as it.
        for (key, value) in keys.iter().zip(ascending) {
            let decoded = key.as_f64().unwrap();
            assert!(decoded == value || (decoded.is_nan() && value.is_nan()));
        }
        assert_eq!(RowKey::float(-0.0).to_string(), "0");
        assert_eq!(RowKey::float(-2.5).to_string(), "-2.5");
        assert_eq!(RowKey::Int(1).as_f64(), None);
        // Column keys use the encoding, from either float width, NULLs apart.
        let wide: ArrayRef = Arc::new(Float64Array::from(vec![Some(-3.0), None, Some(2.0)]));
        let narrow: ArrayRef = Arc::new(Float32Array::from(vec![Some(-3.0), None, Some(2.0)]));
        let expected = [RowKey::float(-3.0), RowKey::Null, RowKey::float(2.0)];
        assert_eq!(column_keys(&wide).unwrap(), expected);
        assert_eq!(column_keys(&narrow).unwrap(), expected);
    }
}
