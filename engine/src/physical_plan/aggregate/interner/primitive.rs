//! [`PrimitiveInterner`]: fixed-width keys, by dense id array or by hash table.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, ArrowPrimitiveType, AsArray, PrimitiveArray};
use arrow::buffer::ScalarBuffer;
use arrow::datatypes::{ArrowNativeType, DataType};
use hashbrown::HashTable;

use super::{next_id, null_buffer, wrong_type, ValueInterner};
use crate::error::{EngineError, Result};
use crate::physical_plan::aggregate::NO_GROUP;
use crate::physical_plan::hashing::{hash_u128, hash_u64, normalized_f64_bits};

/// A native type usable as a hash-table key: its equality is SQL's (floats compare by
/// normalized bits) and it hashes consistently with that equality.
pub trait KeyNative: ArrowNativeType {
    /// The representation stored in the hash table.
    type Key: Copy + Eq + Send + Sync + 'static;
    /// The key of a value.
    fn key(self) -> Self::Key;
    /// The hash of a key.
    fn hash_key(key: Self::Key) -> u64;
    /// The value as a position on the integer line, for types whose values can index an
    /// array directly (integers); `None` otherwise.
    fn dense_key(self) -> Option<i64>;
}

macro_rules! integer_key_native {
    ($($t:ty),*) => {$(
        impl KeyNative for $t {
            type Key = $t;
            #[inline(always)]
            fn key(self) -> $t {
                self
            }
            #[inline(always)]
            fn hash_key(key: $t) -> u64 {
                hash_u64(key as u64)
            }
            #[inline(always)]
            fn dense_key(self) -> Option<i64> {
                i64::try_from(self).ok()
            }
        }
    )*};
}
integer_key_native!(i8, i16, i32, i64, u8, u16, u32, u64);

impl KeyNative for i128 {
    type Key = i128;
    #[inline(always)]
    fn key(self) -> i128 {
        self
    }
    #[inline(always)]
    fn hash_key(key: i128) -> u64 {
        hash_u128(key as u128)
    }
    fn dense_key(self) -> Option<i64> {
        None
    }
}

impl KeyNative for f64 {
    type Key = u64;
    #[inline(always)]
    fn key(self) -> u64 {
        normalized_f64_bits(self)
    }
    #[inline(always)]
    fn hash_key(key: u64) -> u64 {
        hash_u64(key)
    }
    fn dense_key(self) -> Option<i64> {
        None
    }
}

impl KeyNative for f32 {
    type Key = u64;
    #[inline(always)]
    fn key(self) -> u64 {
        normalized_f64_bits(self as f64)
    }
    #[inline(always)]
    fn hash_key(key: u64) -> u64 {
        hash_u64(key)
    }
    fn dense_key(self) -> Option<i64> {
        None
    }
}

/// Key ranges up to this wide are always eligible for a dense id array (4 MiB of ids).
const DENSE_MIN_RANGE: i128 = 1 << 20;

/// Ids of integer keys in a small range, by position: `ids[value - base]`. A probe is one
/// array read instead of a hash-table lookup (a "perfect hash", as DuckDB calls it), and the
/// array is smaller than a table over the same keys.
struct DenseIds {
    base: i64,
    /// [`NO_GROUP`] where no value was seen.
    ids: Vec<u32>,
}

impl DenseIds {
    #[inline(always)]
    fn get(&self, key: i64) -> u32 {
        key.checked_sub(self.base)
            .and_then(|offset| usize::try_from(offset).ok())
            .and_then(|offset| self.ids.get(offset).copied())
            .unwrap_or(NO_GROUP)
    }
}

/// Interner for fixed-width values.
pub struct PrimitiveInterner<T: ArrowPrimitiveType>
where
    T::Native: KeyNative,
{
    data_type: DataType,
    /// The ids while every key so far is an integer in a small enough range; after that
    /// (or for non-integer types) `None`, and the hash table holds the ids.
    dense: Option<DenseIds>,
    table: HashTable<(<T::Native as KeyNative>::Key, u32)>,
    /// The value of each id (a placeholder at the NULL id).
    values: Vec<T::Native>,
    null_group: Option<u32>,
}

impl<T: ArrowPrimitiveType> PrimitiveInterner<T>
where
    T::Native: KeyNative,
{
    /// An empty interner producing arrays of `data_type` (which carries precision, scale and
    /// time zone).
    pub fn new(data_type: DataType) -> Self {
        let dense = T::Native::default().dense_key().map(|_| DenseIds {
            base: 0,
            ids: Vec::new(),
        });
        PrimitiveInterner {
            data_type,
            dense,
            table: HashTable::new(),
            values: Vec::new(),
            null_group: None,
        }
    }

    /// Makes the dense array cover the keys of `array`, or gives it up for the hash table
    /// when the range would be too wide: wider than [`DENSE_MIN_RANGE`] and than twice the
    /// number of values seen so far (so the array stays proportional to the input).
    /// Returns whether the dense array is in use.
    fn fit_dense(&mut self, array: &PrimitiveArray<T>) -> bool {
        let Some(dense) = &mut self.dense else {
            return false;
        };
        let values = array.values();
        // Arrow's min/max kernels are vectorized; a value outside `i64` (a huge `u64`) has
        // no dense position, which ends the dense mode.
        let (low, high) = match (arrow::compute::min(array), arrow::compute::max(array)) {
            (Some(low), Some(high)) => match (low.dense_key(), high.dense_key()) {
                (Some(low), Some(high)) => (low, high),
                _ => {
                    self.leave_dense();
                    return false;
                }
            },
            // No non-NULL value: nothing to place.
            _ => return true,
        };
        let (low, high) = if dense.ids.is_empty() {
            (low, high)
        } else {
            let end = dense.base + dense.ids.len() as i64 - 1;
            (low.min(dense.base), high.max(end))
        };
        let width = high as i128 - low as i128 + 1;
        let allowed = DENSE_MIN_RANGE.max(2 * (self.values.len() + values.len()) as i128);
        if width > allowed {
            self.leave_dense();
            return false;
        }
        if dense.ids.is_empty() || low < dense.base || width as usize > dense.ids.len() {
            let mut ids = vec![NO_GROUP; width as usize];
            let shift = (dense.base - low) as usize;
            for (offset, &id) in dense.ids.iter().enumerate() {
                ids[offset + shift] = id;
            }
            *dense = DenseIds { base: low, ids };
        }
        true
    }

    /// Moves every id into the hash table.
    fn leave_dense(&mut self) {
        self.dense = None;
        self.table = HashTable::with_capacity(self.values.len());
        for (id, &value) in self.values.iter().enumerate() {
            if Some(id as u32) != self.null_group {
                let key = value.key();
                self.table.insert_unique(
                    <T::Native as KeyNative>::hash_key(key),
                    (key, id as u32),
                    |entry| <T::Native as KeyNative>::hash_key(entry.0),
                );
            }
        }
    }

    fn intern_dense(&mut self, array: &PrimitiveArray<T>, ids: &mut Vec<u32>) -> Result<()> {
        let Some(dense) = &mut self.dense else {
            return Err(EngineError::Internal("dense key ids missing".into()));
        };
        let values = array.values();
        let nulls = array.nulls().filter(|n| n.null_count() > 0);
        let base = dense.base;
        if nulls.is_none() {
            // The common case once the keys have been seen: one gather with no branch but
            // the bounds check, then one scan for keys that are still new (rare after the
            // first batches), which the general loop below fixes up.
            let start = ids.len();
            let dense_ids = &dense.ids;
            ids.extend(values.iter().map(|&value| {
                let offset = value.dense_key().unwrap_or(base).wrapping_sub(base) as usize;
                dense_ids.get(offset).copied().unwrap_or(NO_GROUP)
            }));
            if !ids[start..].contains(&NO_GROUP) {
                return Ok(());
            }
            ids.truncate(start);
        }
        for (row, &value) in values.iter().enumerate() {
            if nulls.is_some_and(|n| n.is_null(row)) {
                ids.push(match self.null_group {
                    Some(id) => id,
                    None => {
                        let id = next_id(self.values.len())?;
                        self.values.push(T::Native::default());
                        self.null_group = Some(id);
                        id
                    }
                });
                continue;
            }
            // `fit_dense` has made every key of this batch an index of the array.
            let offset = value.dense_key().unwrap_or(base).wrapping_sub(base) as usize;
            let slot = &mut dense.ids[offset];
            if *slot == NO_GROUP {
                *slot = next_id(self.values.len())?;
                self.values.push(value);
            }
            ids.push(*slot);
        }
        Ok(())
    }

    #[inline(always)]
    fn intern_value(&mut self, value: T::Native) -> Result<u32> {
        let key = value.key();
        let hash = <T::Native as KeyNative>::hash_key(key);
        if let Some(&(_, id)) = self.table.find(hash, |entry| entry.0 == key) {
            return Ok(id);
        }
        let id = next_id(self.values.len())?;
        self.values.push(value);
        self.table.insert_unique(hash, (key, id), |entry| {
            <T::Native as KeyNative>::hash_key(entry.0)
        });
        Ok(id)
    }

    #[inline(always)]
    fn lookup_value(&self, value: T::Native) -> u32 {
        let key = value.key();
        let hash = <T::Native as KeyNative>::hash_key(key);
        self.table
            .find(hash, |entry| entry.0 == key)
            .map_or(NO_GROUP, |entry| entry.1)
    }

    fn typed<'a>(&self, array: &'a dyn Array) -> Result<&'a PrimitiveArray<T>> {
        array
            .as_primitive_opt::<T>()
            .ok_or_else(|| wrong_type(&self.data_type, array.data_type()))
    }
}

impl<T: ArrowPrimitiveType> ValueInterner for PrimitiveInterner<T>
where
    T::Native: KeyNative,
{
    fn intern(&mut self, array: &dyn Array, ids: &mut Vec<u32>) -> Result<()> {
        let array = self.typed(array)?;
        let values = array.values();
        ids.reserve(values.len());
        if self.fit_dense(array) {
            return self.intern_dense(array, ids);
        }
        match array.nulls().filter(|n| n.null_count() > 0) {
            None => {
                for &value in values.iter() {
                    ids.push(self.intern_value(value)?);
                }
            }
            Some(nulls) => {
                for (row, &value) in values.iter().enumerate() {
                    ids.push(if nulls.is_valid(row) {
                        self.intern_value(value)?
                    } else {
                        self.null_group()?
                    });
                }
            }
        }
        Ok(())
    }

    fn lookup(&self, array: &dyn Array, ids: &mut Vec<u32>) -> Result<()> {
        let array = self.typed(array)?;
        let values = array.values();
        ids.reserve(values.len());
        let null_id = self.null_group.unwrap_or(NO_GROUP);
        if let Some(dense) = &self.dense {
            let nulls = array.nulls().filter(|n| n.null_count() > 0);
            ids.extend(values.iter().enumerate().map(|(row, &v)| {
                if nulls.is_some_and(|n| n.is_null(row)) {
                    null_id
                } else {
                    v.dense_key().map_or(NO_GROUP, |key| dense.get(key))
                }
            }));
            return Ok(());
        }
        match array.nulls().filter(|n| n.null_count() > 0) {
            None => ids.extend(values.iter().map(|&v| self.lookup_value(v))),
            Some(nulls) => ids.extend(values.iter().enumerate().map(|(row, &v)| {
                if nulls.is_valid(row) {
                    self.lookup_value(v)
                } else {
                    null_id
                }
            })),
        }
        Ok(())
    }

    fn null_group(&mut self) -> Result<u32> {
        if let Some(id) = self.null_group {
            return Ok(id);
        }
        let id = next_id(self.values.len())?;
        self.values.push(T::Native::default());
        self.null_group = Some(id);
        Ok(id)
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    fn emit(&self) -> Result<ArrayRef> {
        let array = PrimitiveArray::<T>::new(
            ScalarBuffer::from(self.values.clone()),
            null_buffer(self.values.len(), self.null_group),
        )
        .with_data_type(self.data_type.clone());
        Ok(Arc::new(array))
    }
}
