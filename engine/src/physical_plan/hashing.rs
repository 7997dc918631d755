//! Row hashing shared by the hash-based operators (aggregate merge partitioning, join keys).
//!
//! [`create_hashes`] computes one `u64` per row over any number of key columns, column by
//! column, so the per-type work stays in tight typed loops. Two rules make it usable as a key
//! hash rather than a storage hash:
//! - **Equal values hash equal whatever their physical type**: every integer width hashes as
//!   its `i64` value, `Float32` as its `Float64` value, and a dictionary hashes exactly as its
//!   plain values would (the dictionary's values are hashed once per batch, then gathered by
//!   key), as do `Utf8`, `LargeUtf8` and `Utf8View` with the same bytes.
//! - **Floats are normalized**: `-0.0` hashes as `0.0` and every NaN as one NaN, matching the
//!   SQL rule that they compare equal in grouping.
//!
//! The seeds are fixed: Quiver is embedded and hashes its owner's data, so a per-process random
//! seed buys no protection and would make plans non-reproducible. NULL hashes to a fixed value
//! ([`NULL_HASH`]); operators decide separately whether NULL keys match (join: never; group by:
//! NULL forms its own group).

use std::hash::{BuildHasher, Hasher};

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, BooleanArray, GenericByteArray,
    GenericByteViewArray, PrimitiveArray,
};
use arrow::datatypes::{
    ArrowDictionaryKeyType, ByteArrayType, ByteViewType, DataType, Date32Type, Date64Type,
    Decimal128Type, DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType,
    DurationSecondType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};

use crate::error::{EngineError, Result};

/// The hash of a NULL key.
pub const NULL_HASH: u64 = 0x5bd1_e995_7f4a_7c15;

const SEED: u64 = 0x243f_6a88_85a3_08d3;
const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;
const COMBINE_SEED: u64 = 0x1319_8a2e_0370_7344;

/// Hasher for byte strings: ahash with fixed seeds.
static BYTES_STATE: ahash::RandomState = ahash::RandomState::with_seeds(
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
    0x4528_21e6_38d0_1377,
    0xbe54_66cf_34e9_0c6c,
);

/// Multiplies into 128 bits and folds the halves: every output bit depends on every input bit,
/// at the cost of one multiplication (the core of foldhash and ahash's fallback).
#[inline(always)]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = (a as u128).wrapping_mul(b as u128);
    (full as u64) ^ ((full >> 64) as u64)
}

/// Hash of a 64-bit value (integers, temporal values, float bits).
#[inline(always)]
pub fn hash_u64(value: u64) -> u64 {
    folded_multiply(value ^ SEED, MULTIPLIER)
}

/// Hash of a 128-bit value (decimals, short-string views).
#[inline(always)]
pub fn hash_u128(value: u128) -> u64 {
    folded_multiply((value as u64) ^ SEED, ((value >> 64) as u64) ^ MULTIPLIER)
}

/// Hash of a byte string.
#[inline]
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut hasher = BYTES_STATE.build_hasher();
    hasher.write(bytes);
    hasher.finish()
}

/// Hash of a float with `-0.0` and NaN normalized (see the module docs).
#[inline(always)]
pub fn hash_f64(value: f64) -> u64 {
    hash_u64(normalized_f64_bits(value))
}

/// The bits of `value` with `-0.0` mapped to `0.0` and every NaN to the canonical NaN, so that
/// values SQL considers equal have equal bits.
#[inline(always)]
pub fn normalized_f64_bits(value: f64) -> u64 {
    if value.is_nan() {
        f64::NAN.to_bits()
    } else if value == 0.0 {
        0
    } else {
        value.to_bits()
    }
}

/// Folds the hash of a further key column into the hash of the previous ones.
#[inline(always)]
pub fn combine_hashes(previous: u64, next: u64) -> u64 {
    folded_multiply(previous.rotate_left(23) ^ next, COMBINE_SEED)
}

/// Computes one hash per row over `columns` (all of the same length) into `hashes`, which is
/// resized to the number of rows. Errors for a type Quiver cannot hash.
pub fn create_hashes(columns: &[ArrayRef], hashes: &mut Vec<u64>) -> Result<()> {
    let rows = columns.first().map_or(0, |c| c.len());
    hashes.clear();
    hashes.resize(rows, 0);
    for (i, column) in columns.iter().enumerate() {
        if column.len() != rows {
            return Err(EngineError::Internal(format!(
                "hash key columns of different lengths ({} and {rows})",
                column.len()
            )));
        }
        hash_array(column.as_ref(), hashes, i > 0)?;
    }
    Ok(())
}

/// Writes (or, with `combine`, folds in) the hash of every row of `array`.
fn hash_array(array: &dyn Array, hashes: &mut [u64], combine: bool) -> Result<()> {
    macro_rules! primitive {
        ($t:ty, $to_u64:expr) => {
            hash_primitive::<$t>(array.as_primitive::<$t>(), hashes, combine, $to_u64)
        };
    }
    match array.data_type() {
        DataType::Null => write_hashes(hashes, None, combine, |_| NULL_HASH),
        DataType::Boolean => hash_boolean(array.as_boolean(), hashes, combine),
        DataType::Int8 => primitive!(Int8Type, |v| v as i64 as u64),
        DataType::Int16 => primitive!(Int16Type, |v| v as i64 as u64),
        DataType::Int32 => primitive!(Int32Type, |v| v as i64 as u64),
        DataType::Int64 => primitive!(Int64Type, |v| v as u64),
        DataType::UInt8 => primitive!(UInt8Type, |v| v as u64),
        DataType::UInt16 => primitive!(UInt16Type, |v| v as u64),
        DataType::UInt32 => primitive!(UInt32Type, |v| v as u64),
        DataType::UInt64 => primitive!(UInt64Type, |v| v),
        DataType::Float32 => primitive!(Float32Type, |v| normalized_f64_bits(v as f64)),
        DataType::Float64 => primitive!(Float64Type, normalized_f64_bits),
        DataType::Date32 => primitive!(Date32Type, |v| v as i64 as u64),
        DataType::Date64 => primitive!(Date64Type, |v| v as u64),
        DataType::Time32(TimeUnit::Second) => primitive!(Time32SecondType, |v| v as i64 as u64),
        DataType::Time32(TimeUnit::Millisecond) => {
            primitive!(Time32MillisecondType, |v| v as i64 as u64)
        }
        DataType::Time64(TimeUnit::Microsecond) => primitive!(Time64MicrosecondType, |v| v as u64),
        DataType::Time64(TimeUnit::Nanosecond) => primitive!(Time64NanosecondType, |v| v as u64),
        DataType::Timestamp(TimeUnit::Second, _) => primitive!(TimestampSecondType, |v| v as u64),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            primitive!(TimestampMillisecondType, |v| v as u64)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            primitive!(TimestampMicrosecondType, |v| v as u64)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            primitive!(TimestampNanosecondType, |v| v as u64)
        }
        DataType::Duration(TimeUnit::Second) => primitive!(DurationSecondType, |v| v as u64),
        DataType::Duration(TimeUnit::Millisecond) => {
            primitive!(DurationMillisecondType, |v| v as u64)
        }
        DataType::Duration(TimeUnit::Microsecond) => {
            primitive!(DurationMicrosecondType, |v| v as u64)
        }
        DataType::Duration(TimeUnit::Nanosecond) => {
            primitive!(DurationNanosecondType, |v| v as u64)
        }
        DataType::Decimal128(_, _) => {
            let array = array.as_primitive::<Decimal128Type>();
            write_hashes(hashes, array.nulls(), combine, |i| {
                hash_u128(array.value(i) as u128)
            })
        }
        DataType::Utf8 => hash_bytes_array(array.as_string::<i32>(), hashes, combine),
        DataType::LargeUtf8 => hash_bytes_array(array.as_string::<i64>(), hashes, combine),
        DataType::Binary => hash_bytes_array(array.as_binary::<i32>(), hashes, combine),
        DataType::LargeBinary => hash_bytes_array(array.as_binary::<i64>(), hashes, combine),
        DataType::Utf8View => hash_view_array(array.as_string_view(), hashes, combine),
        DataType::BinaryView => hash_view_array(array.as_binary_view(), hashes, combine),
        DataType::Dictionary(key, _) => match key.as_ref() {
            DataType::Int8 => hash_dictionary::<Int8Type>(array, hashes, combine),
            DataType::Int16 => hash_dictionary::<Int16Type>(array, hashes, combine),
            DataType::Int32 => hash_dictionary::<Int32Type>(array, hashes, combine),
            DataType::Int64 => hash_dictionary::<Int64Type>(array, hashes, combine),
            DataType::UInt8 => hash_dictionary::<UInt8Type>(array, hashes, combine),
            DataType::UInt16 => hash_dictionary::<UInt16Type>(array, hashes, combine),
            DataType::UInt32 => hash_dictionary::<UInt32Type>(array, hashes, combine),
            DataType::UInt64 => hash_dictionary::<UInt64Type>(array, hashes, combine),
            other => Err(EngineError::Execution(format!(
                "cannot hash dictionary keys of type {other}"
            ))),
        },
        other => Err(EngineError::Execution(format!(
            "cannot hash values of type {other}"
        ))),
    }
}

/// Stores `hash_of(row)` for valid rows and [`NULL_HASH`] for NULL rows, writing or combining.
#[inline(always)]
fn write_hashes(
    hashes: &mut [u64],
    nulls: Option<&arrow::buffer::NullBuffer>,
    combine: bool,
    hash_of: impl Fn(usize) -> u64,
) -> Result<()> {
    let nulls = nulls.filter(|n| n.null_count() > 0);
    match (nulls, combine) {
        (None, false) => {
            for (i, h) in hashes.iter_mut().enumerate() {
                *h = hash_of(i);
            }
        }
        (None, true) => {
            for (i, h) in hashes.iter_mut().enumerate() {
                *h = combine_hashes(*h, hash_of(i));
            }
        }
        (Some(nulls), false) => {
            for (i, h) in hashes.iter_mut().enumerate() {
                *h = if nulls.is_valid(i) {
                    hash_of(i)
                } else {
                    NULL_HASH
                };
            }
        }
        (Some(nulls), true) => {
            for (i, h) in hashes.iter_mut().enumerate() {
                let value = if nulls.is_valid(i) {
                    hash_of(i)
                } else {
                    NULL_HASH
                };
                *h = combine_hashes(*h, value);
            }
        }
    }
    Ok(())
}

fn hash_primitive<T: ArrowPrimitiveType>(
    array: &PrimitiveArray<T>,
    hashes: &mut [u64],
    combine: bool,
    to_u64: impl Fn(T::Native) -> u64,
) -> Result<()> {
    let values = array.values();
    write_hashes(hashes, array.nulls(), combine, |i| {
        hash_u64(to_u64(values[i]))
    })
}

fn hash_boolean(array: &BooleanArray, hashes: &mut [u64], combine: bool) -> Result<()> {
    let values = array.values();
    write_hashes(hashes, array.nulls(), combine, |i| {
        hash_u64(values.value(i) as u64)
    })
}

fn hash_bytes_array<T: ByteArrayType>(
    array: &GenericByteArray<T>,
    hashes: &mut [u64],
    combine: bool,
) -> Result<()> {
    write_hashes(hashes, array.nulls(), combine, |i| {
        let bytes: &[u8] = array.value(i).as_ref();
        hash_bytes(bytes)
    })
}

fn hash_view_array<T: ByteViewType + ?Sized>(
    array: &GenericByteViewArray<T>,
    hashes: &mut [u64],
    combine: bool,
) -> Result<()> {
    write_hashes(hashes, array.nulls(), combine, |i| {
        let bytes: &[u8] = array.value(i).as_ref();
        hash_bytes(bytes)
    })
}

/// Hashes the dictionary's values once, then gathers the value hashes by key, so a dictionary
/// column hashes exactly like its decoded values.
fn hash_dictionary<K: ArrowDictionaryKeyType>(
    array: &dyn Array,
    hashes: &mut [u64],
    combine: bool,
) -> Result<()> {
    let dictionary = array.as_dictionary::<K>();
    let mut value_hashes = Vec::new();
    create_hashes(std::slice::from_ref(dictionary.values()), &mut value_hashes)?;
    let keys = dictionary.keys();
    let key_values = keys.values();
    let value_count = value_hashes.len();
    // A key outside the dictionary would be an invalid array; hash it as NULL rather than
    // indexing out of bounds.
    write_hashes(hashes, keys.nulls(), combine, |i| {
        let index = num_key_index(key_values[i]);
        if index < value_count {
            value_hashes[index]
        } else {
            NULL_HASH
        }
    })
}

/// A dictionary key as an index (negative keys are out of range).
#[inline(always)]
pub(crate) fn num_key_index<N: arrow::datatypes::ArrowNativeType>(key: N) -> usize {
    key.to_usize().unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        BooleanArray, Decimal128Array, DictionaryArray, Float64Array, Int16Array, Int32Array,
        Int64Array, LargeStringArray, StringArray, StringViewArray,
    };

    use super::*;

    fn hashes_of(columns: &[ArrayRef]) -> Vec<u64> {
        let mut out = Vec::new();
        create_hashes(columns, &mut out).unwrap();
        out
    }

    #[test]
    fn integer_widths_hash_alike() {
        let a: ArrayRef = Arc::new(Int16Array::from(vec![1, -7, 300]));
        let b: ArrayRef = Arc::new(Int32Array::from(vec![1, -7, 300]));
        let c: ArrayRef = Arc::new(Int64Array::from(vec![1, -7, 300]));
        assert_eq!(hashes_of(&[Arc::clone(&a)]), hashes_of(&[b]));
        assert_eq!(hashes_of(&[a]), hashes_of(&[c]));
    }

    #[test]
    fn distinct_values_hash_apart() {
        let a: ArrayRef = Arc::new(Int64Array::from((0..1000).collect::<Vec<i64>>()));
        let mut h = hashes_of(&[a]);
        h.sort_unstable();
        h.dedup();
        assert_eq!(h.len(), 1000);
    }

    #[test]
    fn floats_normalize_zero_and_nan() {
        let a: ArrayRef = Arc::new(Float64Array::from(vec![
            0.0,
            -0.0,
            f64::NAN,
            -f64::NAN,
            1.5,
        ]));
        let h = hashes_of(&[a]);
        assert_eq!(h[0], h[1]);
        assert_eq!(h[2], h[3]);
        assert_ne!(h[0], h[2]);
        assert_ne!(h[0], h[4]);
    }

    #[test]
    fn strings_hash_alike_in_every_encoding() {
        let words = vec![Some("a"), None, Some("a much longer string"), Some("b")];
        let plain: ArrayRef = Arc::new(StringArray::from(words.clone()));
        let large: ArrayRef = Arc::new(LargeStringArray::from(words.clone()));
        let view: ArrayRef = Arc::new(StringViewArray::from(words.clone()));
        let dictionary: ArrayRef = Arc::new(
            words
                .iter()
                .copied()
                .collect::<DictionaryArray<Int32Type>>(),
        );
        let expected = hashes_of(&[plain]);
        assert_eq!(expected[1], NULL_HASH);
        assert_eq!(hashes_of(&[large]), expected);
        assert_eq!(hashes_of(&[view]), expected);
        assert_eq!(hashes_of(&[dictionary]), expected);
    }

    #[test]
    fn nulls_and_multiple_columns() {
        let a: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), None, Some(1), Some(2)]));
        let b: ArrayRef = Arc::new(BooleanArray::from(vec![true, true, false, true]));
        let d: ArrayRef = Arc::new(
            Decimal128Array::from(vec![5, 5, 5, 5])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        );
        let h = hashes_of(&[Arc::clone(&a), Arc::clone(&b), d]);
        assert_eq!(h.len(), 4);
        assert_ne!(h[0], h[2], "differs in the second column");
        let single = hashes_of(&[a]);
        assert_eq!(single[1], NULL_HASH);
        assert_ne!(h[0], single[0], "the second column is folded in");
        // Order of the columns matters.
        let x: ArrayRef = Arc::new(Int32Array::from(vec![1, 2]));
        let y: ArrayRef = Arc::new(Int32Array::from(vec![2, 1]));
        let xy = hashes_of(&[Arc::clone(&x), Arc::clone(&y)]);
        assert_ne!(xy[0], xy[1]);
    }

    #[test]
    fn unsupported_type_is_an_error() {
        let list: ArrayRef = Arc::new(arrow::array::ListArray::new_null(
            Arc::new(arrow::datatypes::Field::new("item", DataType::Int32, true)),
            2,
        ));
        assert!(create_hashes(&[list], &mut Vec::new()).is_err());
    }
}
