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

/// Beyond [`DENSE_MIN_RANGE`], a key range stays dense while it is at most this many times
/// the number of groups. At 8 the array costs 32 bytes per group, about what a hash table
/// entry of an `i64` key and its id costs at hashbrown's load factor, and it takes in the
/// usual surrogate keys: TPC-H's `l_orderkey` uses one value in four of its range.
const DENSE_MAX_SPREAD: i128 = 8;

/// Ids of integer keys in a small range, by position: `ids[value - base]`. A probe is one
/// array read instead of a hash-table lookup (a "perfect hash", as DuckDB calls it), and the
/// array is smaller than a table over the same keys.
struct DenseIds {
    base: i64,
    /// [`NO_GROUP`] where no value was seen. It may reach beyond the keys seen so far: it
    /// grows geometrically (as a `Vec` does), so keys arriving in ascending order, as a
    /// sorted key column delivers them, are not copied once per batch.
    ids: Vec<u32>,
    /// The smallest and the largest key placed so far.
    seen: Option<(i64, i64)>,
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
            seen: None,
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
    /// when the range would be too wide: wider than [`DENSE_MIN_RANGE`] and than
    /// [`DENSE_MAX_SPREAD`] times the number of groups (counting every row of `array` as a
    /// possible new one), so the array stays proportional to the groups.
    /// Returns whether the dense array is in use.
    fn fit_dense(&mut self, array: &PrimitiveArray<T>) -> bool {
        let Some(dense) = &mut self.dense else {
            return false;
        };
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
        let (low, high) = match dense.seen {
            None => (low, high),
            Some((seen_low, seen_high)) => (low.min(seen_low), high.max(seen_high)),
        };
        let width = high as i128 - low as i128 + 1;
        let groups = (self.values.len() + array.len()) as i128;
        let allowed = DENSE_MIN_RANGE.max(DENSE_MAX_SPREAD * groups);
        if width > allowed {
            self.leave_dense();
            return false;
        }
        dense.seen = Some((low, high));
        let len = dense.ids.len() as i128;
        let base = dense.base as i128;
        if !dense.ids.is_empty() && low as i128 >= base && (high as i128) < base + len {
            return true;
        }
        // Double the array (within what the groups allow), extended on the side the new
        // keys fell off; copying the old ids costs amortized O(1) per key. The new array
        // covers the old one too, slack included.
        let (cover_low, cover_high) = if dense.ids.is_empty() {
            (low as i128, high as i128)
        } else {
            ((low as i128).min(base), (high as i128).max(base + len - 1))
        };
        let target = (cover_high - cover_low + 1).max((2 * len).min(allowed));
        let new_base = if !dense.ids.is_empty() && (low as i128) < base {
            (cover_high - target + 1).max(i64::MIN as i128)
        } else {
            cover_low
        };
        let mut ids = vec![NO_GROUP; target as usize];
        if !dense.ids.is_empty() {
            let shift = (base - new_base) as usize;
            ids[shift..shift + dense.ids.len()].copy_from_slice(&dense.ids);
        }
        dense.base = new_base as i64;
        dense.ids = ids;
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use arrow::array::Int64Array;
    use arrow::datatypes::Int64Type;

    use super::*;

    /// Interns `batches` and checks every id against `expected`, the first-seen numbering
    /// of the keys, which it extends.
    fn intern_all(
        interner: &mut PrimitiveInterner<Int64Type>,
        expected: &mut HashMap<i64, u32>,
        batches: &[Vec<i64>],
    ) {
        for batch in batches {
            let mut ids = Vec::new();
            interner
                .intern(&Int64Array::from(batch.clone()), &mut ids)
                .unwrap();
            let want: Vec<u32> = batch
                .iter()
                .map(|&key| {
                    let fresh = expected.len() as u32;
                    *expected.entry(key).or_insert(fresh)
                })
                .collect();
            assert_eq!(ids, want);
        }
        assert_eq!(interner.len(), expected.len());
    }

    /// Ascending batches of keys using one value in four of their range, 1.5 million of
    /// them over a range of 6 million: the shape of TPC-H's `l_orderkey`.
    fn sparse_ascending(groups: i64, rows_per_batch: i64) -> Vec<Vec<i64>> {
        let keys: Vec<i64> = (0..groups).map(|g| 1 + g * 4 - (g % 3)).collect();
        keys.chunks(rows_per_batch as usize)
            .map(|chunk| chunk.iter().flat_map(|&k| [k, k]).collect())
            .collect()
    }

    #[test]
    fn keys_using_one_value_in_four_stay_dense_and_grow_geometrically() {
        let mut interner = PrimitiveInterner::<Int64Type>::new(DataType::Int64);
        let batches = sparse_ascending(1_500_000, 4096);
        let mut allocations = 0;
        let mut last_len = 0;
        let mut expected = HashMap::new();
        for batch in &batches {
            intern_all(&mut interner, &mut expected, std::slice::from_ref(batch));
            let len = interner.dense.as_ref().map_or(0, |d| d.ids.len());
            if len != last_len {
                allocations += 1;
                last_len = len;
            }
        }
        let dense = interner.dense.as_ref().expect("the keys stay dense");
        assert_eq!(dense.seen, Some((1, 1 + 1_499_999 * 4 - 2)));
        // Doubling: a few dozen arrays at most, not one per batch (366 batches).
        assert!(allocations < 20, "{allocations} allocations");
        assert!(dense.ids.len() < 2 * 6_000_000 + 8192);
        let emitted = interner.emit().unwrap();
        assert_eq!(emitted.len(), 1_500_000);
    }

    #[test]
    fn descending_and_scattered_keys_keep_their_ids_across_growth() {
        let mut interner = PrimitiveInterner::<Int64Type>::new(DataType::Int64);
        let mut batches = sparse_ascending(300_000, 1000);
        batches.reverse();
        // After growing downward, keys inside the old slack and below the range again.
        batches.push(vec![1_000_000, 5, 1_199_990, -7, 1_199_999]);
        batches.push(vec![-1_000_000, 3, 1_000_000]);
        intern_all(&mut interner, &mut HashMap::new(), &batches);
        assert!(interner.dense.is_some());
        assert_eq!(
            interner.dense.as_ref().unwrap().seen,
            Some((-1_000_000, 1_199_999))
        );
    }

    #[test]
    fn keys_spread_wider_than_the_groups_allow_move_to_the_hash_table() {
        let mut interner = PrimitiveInterner::<Int64Type>::new(DataType::Int64);
        let mut expected = HashMap::new();
        let spread: Vec<i64> = (0..200_000).map(|g| g * 16).collect();
        intern_all(&mut interner, &mut expected, &[spread[..50_000].to_vec()]);
        assert!(interner.dense.is_some(), "within the 1 Mi minimum range");
        let rest = [spread[50_000..].to_vec(), vec![0, 16, 3]];
        intern_all(&mut interner, &mut expected, &rest);
        assert!(
            interner.dense.is_none(),
            "16 values per group is too sparse"
        );
    }
}
