//! Rows of any number of key columns → dense group ids.
//!
//! [`GroupValues`] is what the aggregate's per-partition state and the join's build table are
//! keyed by. [`new_group_values`] picks the layout from the key types:
//! - no keys ([`NoKeys`]): every row is group 0, which exists even before any row (a global
//!   aggregate returns one row over empty input);
//! - one key ([`OneColumn`]): the column's [`ColumnInterner`] is the whole table;
//! - several keys ([`ManyColumns`]): each column is first interned on its own (the cheap,
//!   type-specialised step), and the tuple of per-column ids is then interned in one more
//!   table: packed into one `u64` while the columns' id widths fit (the usual case, and then
//!   the tuple table is as fast as an integer key), else as a `[u32; n]` row. No row encoding
//!   of strings is ever built, and emitting a key column is one `take` of that column's
//!   distinct values.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, DictionaryArray, Int32Array, UInt32Array};
use arrow::buffer::NullBuffer;
use arrow::compute::take;
use arrow::datatypes::{DataType, Int32Type};
use hashbrown::HashTable;

use super::interner::{ColumnInterner, LookupCache};
use super::NO_GROUP;
use crate::error::{EngineError, Result};
use crate::physical_plan::hashing::{combine_hashes, hash_u64};

/// Maps rows of key columns to dense group ids (`0..len()`, in order of first appearance).
pub trait GroupValues: Send + Sync {
    /// Appends the group id of every row of `columns` to `ids`, creating groups for new keys.
    /// NULL is a key like any other (it forms its own group).
    fn intern(&mut self, columns: &[ArrayRef], ids: &mut Vec<u32>) -> Result<()>;

    /// Appends the group id of every row of `columns` to `ids` without creating groups:
    /// [`NO_GROUP`] where the key is absent. `cache` belongs to the calling thread.
    fn lookup(
        &self,
        columns: &[ArrayRef],
        ids: &mut Vec<u32>,
        cache: &mut GroupLookupCache,
    ) -> Result<()>;

    /// How many groups exist.
    fn len(&self) -> usize;

    /// Whether no group exists.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key columns of every group, in group id order, dictionaries decoded.
    fn emit(&self) -> Result<Vec<ArrayRef>>;

    /// The same keys as [`GroupValues::emit`], but a text or binary column of a multi-column
    /// table comes back as an `Int32` dictionary over its distinct values, so no value is
    /// copied per group. Merging partial states (hashing, `take`, interning again) and casting
    /// to the plan's type are then per distinct value, not per group: with millions of groups
    /// over a few thousand strings that is most of the merge.
    fn emit_encoded(&self) -> Result<Vec<ArrayRef>> {
        self.emit()
    }
}

/// Per-thread state of [`GroupValues::lookup`].
#[derive(Default)]
pub struct GroupLookupCache {
    columns: Vec<LookupCache>,
    ids: Vec<Vec<u32>>,
}

impl GroupLookupCache {
    fn ensure(&mut self, columns: usize) {
        self.columns.resize_with(columns, LookupCache::default);
        self.ids.resize_with(columns, Vec::new);
    }
}

/// An empty group table for key columns of `key_types`.
pub fn new_group_values(key_types: &[DataType]) -> Result<Box<dyn GroupValues>> {
    Ok(match key_types {
        [] => Box::new(NoKeys),
        [one] => Box::new(OneColumn(ColumnInterner::try_new(one)?)),
        many => Box::new(ManyColumns::try_new(many)?),
    })
}

fn check_columns(columns: &[ArrayRef], expected: usize) -> Result<()> {
    if columns.len() != expected {
        return Err(EngineError::Internal(format!(
            "group table over {expected} key columns was given {}",
            columns.len()
        )));
    }
    Ok(())
}

/// The single group of an aggregate without GROUP BY.
pub struct NoKeys;

impl GroupValues for NoKeys {
    /// Without key columns the number of rows is not known here: the aggregate puts every
    /// row in group 0 itself and never calls this.
    fn intern(&mut self, columns: &[ArrayRef], _ids: &mut Vec<u32>) -> Result<()> {
        Err(EngineError::Internal(format!(
            "interning {} columns in a table without keys",
            columns.len()
        )))
    }

    fn lookup(
        &self,
        columns: &[ArrayRef],
        _ids: &mut Vec<u32>,
        _cache: &mut GroupLookupCache,
    ) -> Result<()> {
        Err(EngineError::Internal(format!(
            "looking up {} columns in a table without keys",
            columns.len()
        )))
    }

    fn len(&self) -> usize {
        1
    }

    fn emit(&self) -> Result<Vec<ArrayRef>> {
        Ok(vec![])
    }
}

/// One key column.
pub struct OneColumn(ColumnInterner);

impl GroupValues for OneColumn {
    fn intern(&mut self, columns: &[ArrayRef], ids: &mut Vec<u32>) -> Result<()> {
        check_columns(columns, 1)?;
        self.0.intern(columns[0].as_ref(), ids)
    }

    fn lookup(
        &self,
        columns: &[ArrayRef],
        ids: &mut Vec<u32>,
        cache: &mut GroupLookupCache,
    ) -> Result<()> {
        check_columns(columns, 1)?;
        cache.ensure(1);
        self.0
            .lookup(columns[0].as_ref(), ids, &mut cache.columns[0])
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn emit(&self) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.0.emit()?])
    }
}

/// Several key columns: per-column ids, then a table of id tuples.
pub struct ManyColumns {
    columns: Vec<ColumnInterner>,
    tuples: TupleStore,
    /// Scratch: per-column ids of the current batch.
    column_ids: Vec<Vec<u32>>,
}

/// The id tuples of [`ManyColumns`].
enum TupleStore {
    /// Every column's id gets a fixed number of bits of one `u64`, so a tuple is one integer
    /// and the table compares keys without leaving the entry. Column counts are small in
    /// practice (100 values need 7 bits), so this holds for most multi-column GROUP BYs.
    Packed(PackedTuples),
    /// Tuples that no longer fit 64 bits: `width` ids per group in one vector.
    Wide(WideTuples),
}

struct PackedTuples {
    /// Bits given to each column (their sum is at most 64).
    bits: Vec<u32>,
    /// The key of each group.
    keys: Vec<u64>,
    /// `(key, group)`.
    table: HashTable<(u64, u32)>,
    /// While the keys fit [`DIRECT_MAX_BITS`] bits: the group of every possible key
    /// ([`NO_GROUP`] when none), so a row costs one array read instead of a hash probe — the
    /// common few-groups case (TPC-H q1's flag × status) never hashes.
    direct: Vec<u32>,
}

/// Largest packed key width that [`PackedTuples::direct`] indexes (64 KiB of ids).
const DIRECT_MAX_BITS: u32 = 14;

impl PackedTuples {
    #[inline(always)]
    fn key(bits: &[u32], column_ids: &[Vec<u32>], row: usize) -> u64 {
        let mut key = 0;
        let mut shift = 0;
        for (ids, &width) in column_ids.iter().zip(bits) {
            key |= (ids[row] as u64) << shift;
            shift += width;
        }
        key
    }

    /// The id of column `column` in `key`.
    fn column_id(bits: &[u32], key: u64, column: usize) -> u32 {
        let shift: u32 = bits[..column].iter().sum();
        ((key >> shift) & ((1_u64 << bits[column]) - 1)) as u32
    }

    /// Re-encodes every key with wider columns.
    fn repack(&mut self, bits: Vec<u32>) {
        for key in &mut self.keys {
            let mut packed = 0;
            let mut shift = 0;
            for (column, &width) in bits.iter().enumerate() {
                packed |= (Self::column_id(&self.bits, *key, column) as u64) << shift;
                shift += width;
            }
            *key = packed;
        }
        self.bits = bits;
        self.table = HashTable::with_capacity(self.keys.len());
        for (group, &key) in self.keys.iter().enumerate() {
            self.table
                .insert_unique(hash_u64(key), (key, group as u32), |e| hash_u64(e.0));
        }
        let width: u32 = self.bits.iter().sum();
        self.direct.clear();
        if width <= DIRECT_MAX_BITS {
            self.direct.resize(1 << width, NO_GROUP);
            for (group, &key) in self.keys.iter().enumerate() {
                self.direct[key as usize] = group as u32;
            }
        }
    }

    /// Adds a new group for `key`.
    fn insert(&mut self, key: u64, hash: u64) -> Result<u32> {
        let group = next_group(self.keys.len())?;
        self.keys.push(key);
        self.table
            .insert_unique(hash, (key, group), |e| hash_u64(e.0));
        if let Some(slot) = self.direct.get_mut(key as usize) {
            *slot = group;
        }
        Ok(group)
    }

    fn find(&self, key: u64) -> Option<u32> {
        self.table.find(hash_u64(key), |e| e.0 == key).map(|e| e.1)
    }
}

struct WideTuples {
    width: usize,
    /// The per-column ids of every group, `width` per group.
    tuples: Vec<u32>,
    /// `(hash, group)`.
    table: HashTable<(u64, u32)>,
}

impl WideTuples {
    #[inline(always)]
    fn hash(column_ids: &[Vec<u32>], row: usize) -> u64 {
        let mut hash = hash_u64(column_ids[0][row] as u64);
        for ids in &column_ids[1..] {
            hash = combine_hashes(hash, ids[row] as u64);
        }
        hash
    }

    #[inline(always)]
    fn find(&self, column_ids: &[Vec<u32>], row: usize, hash: u64) -> Option<u32> {
        let width = self.width;
        self.table
            .find(hash, |&(h, group)| {
                h == hash && {
                    let start = group as usize * width;
                    self.tuples[start..start + width]
                        .iter()
                        .zip(column_ids)
                        .all(|(stored, ids)| *stored == ids[row])
                }
            })
            .map(|entry| entry.1)
    }

    fn push(&mut self, tuple: impl Iterator<Item = u32>, hash: u64) -> Result<u32> {
        let group = next_group(self.tuples.len() / self.width)?;
        self.tuples.extend(tuple);
        self.table
            .insert_unique(hash, (hash, group), |entry| entry.0);
        Ok(group)
    }
}

fn next_group(len: usize) -> Result<u32> {
    u32::try_from(len)
        .ok()
        .filter(|g| *g < NO_GROUP - 1)
        .ok_or_else(|| EngineError::ResourcesExhausted("more than 4 billion groups".into()))
}

/// Bits needed for ids `0..count`.
fn bits_for(count: usize) -> u32 {
    (usize::BITS - count.saturating_sub(1).leading_zeros()).max(1)
}

impl ManyColumns {
    fn try_new(key_types: &[DataType]) -> Result<ManyColumns> {
        Ok(ManyColumns {
            columns: key_types
                .iter()
                .map(ColumnInterner::try_new)
                .collect::<Result<_>>()?,
            tuples: TupleStore::Packed(PackedTuples {
                bits: vec![0; key_types.len()],
                keys: Vec::new(),
                table: HashTable::new(),
                direct: vec![NO_GROUP],
            }),
            column_ids: vec![Vec::new(); key_types.len()],
        })
    }

    fn width(&self) -> usize {
        self.columns.len()
    }

    /// Widens the packed layout when a column has outgrown its bits (with one bit to spare,
    /// so repacking stays rare), or switches to wide tuples once 64 bits are not enough.
    fn fit_layout(&mut self) {
        let TupleStore::Packed(packed) = &mut self.tuples else {
            return;
        };
        let needed: Vec<u32> = self.columns.iter().map(|c| bits_for(c.len())).collect();
        if needed.iter().zip(&packed.bits).all(|(n, b)| n <= b) {
            return;
        }
        let bits: Vec<u32> = needed
            .iter()
            .zip(&packed.bits)
            .map(|(&n, &b)| if n <= b { b } else { n + 1 })
            .collect();
        if bits.iter().sum::<u32>() <= 64 {
            packed.repack(bits);
            return;
        }
        if needed.iter().sum::<u32>() <= 64 {
            packed.repack(needed);
            return;
        }
        let width = self.columns.len();
        let mut wide = WideTuples {
            width,
            tuples: Vec::with_capacity(packed.keys.len() * width),
            table: HashTable::with_capacity(packed.keys.len()),
        };
        for &key in &packed.keys {
            let tuple: Vec<Vec<u32>> = (0..width)
                .map(|c| vec![PackedTuples::column_id(&packed.bits, key, c)])
                .collect();
            let hash = WideTuples::hash(&tuple, 0);
            let group = wide.tuples.len() / width;
            wide.tuples.extend(tuple.iter().map(|ids| ids[0]));
            wide.table
                .insert_unique(hash, (hash, group as u32), |entry| entry.0);
        }
        self.tuples = TupleStore::Wide(wide);
    }
}

impl GroupValues for ManyColumns {
    fn intern(&mut self, columns: &[ArrayRef], ids: &mut Vec<u32>) -> Result<()> {
        check_columns(columns, self.width())?;
        for ((interner, column), column_ids) in self
            .columns
            .iter_mut()
            .zip(columns)
            .zip(&mut self.column_ids)
        {
            column_ids.clear();
            interner.intern(column.as_ref(), column_ids)?;
        }
        self.fit_layout();
        let rows = columns[0].len();
        ids.reserve(rows);
        let column_ids = &self.column_ids;
        match &mut self.tuples {
            TupleStore::Packed(packed) if !packed.direct.is_empty() => {
                for row in 0..rows {
                    let key = PackedTuples::key(&packed.bits, column_ids, row);
                    let group = match packed.direct[key as usize] {
                        NO_GROUP => packed.insert(key, hash_u64(key))?,
                        group => group,
                    };
                    ids.push(group);
                }
            }
            TupleStore::Packed(packed) => {
                for row in 0..rows {
                    let key = PackedTuples::key(&packed.bits, column_ids, row);
                    let hash = hash_u64(key);
                    let group = match packed.table.find(hash, |e| e.0 == key) {
                        Some(&(_, group)) => group,
                        None => packed.insert(key, hash)?,
                    };
                    ids.push(group);
                }
            }
            TupleStore::Wide(wide) => {
                for row in 0..rows {
                    let hash = WideTuples::hash(column_ids, row);
                    let group = match wide.find(column_ids, row, hash) {
                        Some(group) => group,
                        None => wide.push(column_ids.iter().map(|ids| ids[row]), hash)?,
                    };
                    ids.push(group);
                }
            }
        }
        Ok(())
    }

    fn lookup(
        &self,
        columns: &[ArrayRef],
        ids: &mut Vec<u32>,
        cache: &mut GroupLookupCache,
    ) -> Result<()> {
        check_columns(columns, self.width())?;
        cache.ensure(self.width());
        for (((interner, column), column_cache), column_ids) in self
            .columns
            .iter()
            .zip(columns)
            .zip(&mut cache.columns)
            .zip(&mut cache.ids)
        {
            column_ids.clear();
            interner.lookup(column.as_ref(), column_ids, column_cache)?;
        }
        let rows = columns[0].len();
        ids.reserve(rows);
        for row in 0..rows {
            if cache
                .ids
                .iter()
                .any(|column_ids| column_ids[row] == NO_GROUP)
            {
                ids.push(NO_GROUP);
                continue;
            }
            let group = match &self.tuples {
                TupleStore::Packed(packed) => {
                    packed.find(PackedTuples::key(&packed.bits, &cache.ids, row))
                }
                TupleStore::Wide(wide) => {
                    wide.find(&cache.ids, row, WideTuples::hash(&cache.ids, row))
                }
            };
            ids.push(group.unwrap_or(NO_GROUP));
        }
        Ok(())
    }

    fn len(&self) -> usize {
        match &self.tuples {
            TupleStore::Packed(packed) => packed.keys.len(),
            TupleStore::Wide(wide) => wide.tuples.len() / wide.width,
        }
    }

    fn emit(&self) -> Result<Vec<ArrayRef>> {
        (0..self.width())
            .map(|c| {
                let values = self.columns[c].emit()?;
                Ok(take(values.as_ref(), &self.column_indices(c), None)?)
            })
            .collect()
    }

    fn emit_encoded(&self) -> Result<Vec<ArrayRef>> {
        (0..self.width())
            .map(|c| {
                let values = self.columns[c].emit()?;
                let indices = self.column_indices(c);
                if !is_variable_width(values.data_type()) {
                    return Ok(take(values.as_ref(), &indices, None)?);
                }
                dictionary_of(indices, values)
            })
            .collect()
    }
}

impl ManyColumns {
    /// The id of column `c` in every group, in group id order.
    fn column_indices(&self, c: usize) -> UInt32Array {
        match &self.tuples {
            TupleStore::Packed(packed) => {
                let shift: u32 = packed.bits[..c].iter().sum();
                let mask = (1_u64 << packed.bits[c]) - 1;
                packed
                    .keys
                    .iter()
                    .map(|&key| ((key >> shift) & mask) as u32)
                    .collect()
            }
            TupleStore::Wide(wide) => wide
                .tuples
                .iter()
                .skip(c)
                .step_by(wide.width)
                .copied()
                .collect(),
        }
    }
}

/// Types whose `take` copies bytes per row (and whose hashing and interning look at them).
fn is_variable_width(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
    )
}

/// `values[indices]` as an `Int32` dictionary. A NULL value is made a NULL key too: most
/// kernels read a dictionary's validity from its keys alone.
fn dictionary_of(indices: UInt32Array, values: ArrayRef) -> Result<ArrayRef> {
    if i32::try_from(values.len()).is_err() {
        return Ok(take(values.as_ref(), &indices, None)?);
    }
    let nulls = values
        .logical_nulls()
        .filter(|n| n.null_count() > 0)
        .map(|value_nulls| {
            NullBuffer::from_iter(
                indices
                    .values()
                    .iter()
                    .map(|&index| value_nulls.is_valid(index as usize)),
            )
        });
    // Every index is below `values.len()`, which fits `i32`.
    let keys = Int32Array::new(
        indices.values().iter().map(|&index| index as i32).collect(),
        nulls,
    );
    Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
        keys, values,
    )?))
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;
    use arrow::array::{
        DictionaryArray, Float64Array, Int32Array, Int64Array, StringArray, StringViewArray,
    };
    use arrow::datatypes::Int32Type;

    use std::sync::Arc;

    use super::*;

    fn intern(table: &mut dyn GroupValues, columns: &[ArrayRef]) -> Vec<u32> {
        let mut ids = Vec::new();
        table.intern(columns, &mut ids).unwrap();
        ids
    }

    #[test]
    fn one_integer_column_with_nulls() {
        let mut table = new_group_values(&[DataType::Int64]).unwrap();
        let a: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(5),
            None,
            Some(7),
            Some(5),
            None,
        ]));
        assert_eq!(intern(table.as_mut(), &[a]), vec![0, 1, 2, 0, 1]);
        let b: ArrayRef = Arc::new(Int64Array::from(vec![7, 8]));
        assert_eq!(intern(table.as_mut(), &[b]), vec![2, 3]);
        let keys = table.emit().unwrap();
        let expected: ArrayRef = Arc::new(Int64Array::from(vec![Some(5), None, Some(7), Some(8)]));
        assert_eq!(&keys[0], &expected);
    }

    #[test]
    fn integer_keys_move_from_dense_ids_to_the_hash_table() {
        let mut table = new_group_values(&[DataType::Int64]).unwrap();
        let mut cache = GroupLookupCache::default();
        let small: ArrayRef = Arc::new(Int64Array::from(vec![Some(-3), Some(10), None, Some(-3)]));
        assert_eq!(intern(table.as_mut(), &[small]), vec![0, 1, 2, 0]);
        // Below the range start: the dense ids are re-based.
        let lower: ArrayRef = Arc::new(Int64Array::from(vec![-100, 10]));
        assert_eq!(intern(table.as_mut(), &[lower]), vec![3, 1]);
        let probe: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(10),
            Some(11),
            None,
            Some(i64::MIN),
        ]));
        let mut ids = Vec::new();
        table
            .lookup(&[Arc::clone(&probe)], &mut ids, &mut cache)
            .unwrap();
        assert_eq!(ids, vec![1, NO_GROUP, 2, NO_GROUP]);
        // A key far away makes the range too wide: the hash table takes over, same ids.
        let far: ArrayRef = Arc::new(Int64Array::from(vec![i64::MAX, -3, i64::MIN, -100]));
        assert_eq!(intern(table.as_mut(), &[far]), vec![4, 0, 5, 3]);
        ids.clear();
        table.lookup(&[probe], &mut ids, &mut cache).unwrap();
        assert_eq!(ids, vec![1, NO_GROUP, 2, 5]);
        let expected: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(-3),
            Some(10),
            None,
            Some(-100),
            Some(i64::MAX),
            Some(i64::MIN),
        ]));
        assert_eq!(&table.emit().unwrap()[0], &expected);
    }

    #[test]
    fn floats_group_zero_and_nan_together() {
        let mut table = new_group_values(&[DataType::Float64]).unwrap();
        let a: ArrayRef = Arc::new(Float64Array::from(vec![
            0.0,
            -0.0,
            f64::NAN,
            -f64::NAN,
            1.0,
        ]));
        assert_eq!(intern(table.as_mut(), &[a]), vec![0, 0, 1, 1, 2]);
    }

    #[test]
    fn strings_short_and_long_in_every_encoding() {
        let words = vec![
            Some("id001"),
            Some("a value longer than twelve bytes"),
            None,
            Some("id001"),
            Some("a value longer than twelve bytes!"),
            Some(""),
            Some("exactly12byt"),
        ];
        let expected = vec![0, 1, 2, 0, 3, 4, 5];
        let plain: ArrayRef = Arc::new(StringArray::from(words.clone()));
        let view: ArrayRef = Arc::new(StringViewArray::from(words.clone()));
        let dictionary: ArrayRef = Arc::new(
            words
                .iter()
                .copied()
                .collect::<DictionaryArray<Int32Type>>(),
        );
        for data_type in [DataType::Utf8, DataType::Utf8View] {
            let mut table = new_group_values(std::slice::from_ref(&data_type)).unwrap();
            assert_eq!(intern(table.as_mut(), &[Arc::clone(&plain)]), expected);
            assert_eq!(intern(table.as_mut(), &[Arc::clone(&view)]), expected);
            assert_eq!(intern(table.as_mut(), &[Arc::clone(&dictionary)]), expected);
            let keys = table.emit().unwrap();
            assert_eq!(keys[0].data_type(), &data_type);
            let decoded = arrow::compute::cast(&keys[0], &DataType::Utf8).unwrap();
            let expected_keys: ArrayRef = Arc::new(StringArray::from(vec![
                Some("id001"),
                Some("a value longer than twelve bytes"),
                None,
                Some("a value longer than twelve bytes!"),
                Some(""),
                Some("exactly12byt"),
            ]));
            assert_eq!(&decoded, &expected_keys);
        }
    }

    #[test]
    fn dictionary_rows_only_create_groups_for_used_values() {
        let values: ArrayRef = Arc::new(StringArray::from(vec!["x", "y", "z"]));
        let keys = Int32Array::from(vec![Some(2), None, Some(2), Some(0)]);
        let dictionary: ArrayRef =
            Arc::new(DictionaryArray::<Int32Type>::try_new(keys, Arc::clone(&values)).unwrap());
        let mut table = new_group_values(&[dictionary.data_type().clone()]).unwrap();
        assert_eq!(intern(table.as_mut(), &[dictionary]), vec![1, 0, 1, 2]);
        // Same dictionary values, another batch: the cached mapping is extended.
        let keys = Int32Array::from(vec![1, 2]);
        let second: ArrayRef =
            Arc::new(DictionaryArray::<Int32Type>::try_new(keys, values).unwrap());
        assert_eq!(intern(table.as_mut(), &[second]), vec![3, 1]);
        let expected: ArrayRef = Arc::new(StringArray::from(vec![
            None,
            Some("z"),
            Some("x"),
            Some("y"),
        ]));
        assert_eq!(&table.emit().unwrap()[0], &expected);
    }

    #[test]
    fn many_columns_and_lookup() {
        let mut table = new_group_values(&[DataType::Int32, DataType::Utf8]).unwrap();
        let a: ArrayRef = Arc::new(Int32Array::from(vec![
            Some(1),
            Some(1),
            None,
            Some(2),
            Some(1),
        ]));
        let b: ArrayRef = Arc::new(StringArray::from(vec!["x", "y", "x", "x", "x"]));
        assert_eq!(intern(table.as_mut(), &[a, b]), vec![0, 1, 2, 3, 0]);
        let keys = table.emit().unwrap();
        let expected_a: ArrayRef =
            Arc::new(Int32Array::from(vec![Some(1), Some(1), None, Some(2)]));
        let expected_b: ArrayRef = Arc::new(StringArray::from(vec!["x", "y", "x", "x"]));
        assert_eq!(keys, vec![expected_a, expected_b]);

        let probe_a: ArrayRef = Arc::new(Int32Array::from(vec![2, 2, 9, 1]));
        let probe_b: ArrayRef = Arc::new(StringArray::from(vec!["x", "y", "x", "y"]));
        let mut ids = Vec::new();
        let mut cache = GroupLookupCache::default();
        table
            .lookup(&[probe_a, probe_b], &mut ids, &mut cache)
            .unwrap();
        assert_eq!(ids, vec![3, NO_GROUP, NO_GROUP, 1]);
        assert_eq!(table.len(), 4, "lookups create nothing");
    }

    #[test]
    fn dictionary_lookup_uses_its_own_cache() {
        let mut table = new_group_values(&[DataType::Utf8]).unwrap();
        let built: ArrayRef = Arc::new(StringArray::from(vec!["a", "b"]));
        intern(table.as_mut(), &[built]);
        let probe: ArrayRef = Arc::new(
            vec![Some("b"), Some("c"), None, Some("a")]
                .into_iter()
                .collect::<DictionaryArray<Int32Type>>(),
        );
        let mut cache = GroupLookupCache::default();
        for _ in 0..2 {
            let mut ids = Vec::new();
            table
                .lookup(&[Arc::clone(&probe)], &mut ids, &mut cache)
                .unwrap();
            assert_eq!(ids, vec![1, NO_GROUP, NO_GROUP, 0]);
        }
    }

    #[test]
    fn packed_tuples_widen_and_fall_back_to_wide_rows() {
        // Five columns of 2^13 distinct values each need more than 64 bits together; the
        // earlier, smaller batches start packed and are re-laid out twice.
        let mut table = ManyColumns::try_new(&vec![DataType::Int64; 5]).unwrap();
        let columns_of = |values: &[i64]| -> Vec<ArrayRef> {
            (0..5_i64)
                .map(|c| {
                    Arc::new(Int64Array::from(
                        values.iter().map(|v| v * (c + 1)).collect::<Vec<_>>(),
                    )) as ArrayRef
                })
                .collect()
        };
        for n in [10_i64, 500, 1 << 13] {
            let values: Vec<i64> = (0..n).collect();
            // Group ids follow first appearance, and earlier keys keep their ids.
            let ids = intern(&mut table, &columns_of(&values));
            assert!(ids.iter().enumerate().all(|(row, id)| *id as usize == row));
            let packed = matches!(table.tuples, TupleStore::Packed(_));
            assert_eq!(packed, n < 1 << 13, "{n} values");
        }
        assert_eq!(table.len(), 1 << 13);
        let keys = table.emit().unwrap();
        for (c, column) in keys.iter().enumerate() {
            let column = column.as_primitive::<arrow::datatypes::Int64Type>();
            for group in [0, 9, 499, (1 << 13) - 1] {
                assert_eq!(column.value(group), group as i64 * (c as i64 + 1));
            }
        }
        let mut ids = Vec::new();
        let probe = columns_of(&[7, 1 << 13]);
        table
            .lookup(&probe, &mut ids, &mut GroupLookupCache::default())
            .unwrap();
        assert_eq!(ids, vec![7, NO_GROUP]);
    }

    #[test]
    fn packed_tuples_relayout_keeps_groups() {
        let mut table = new_group_values(&[DataType::Int32, DataType::Utf8]).unwrap();
        let a: ArrayRef = Arc::new(Int32Array::from(vec![1, 2]));
        let b: ArrayRef = Arc::new(StringArray::from(vec!["x", "x"]));
        assert_eq!(intern(table.as_mut(), &[a, b]), vec![0, 1]);
        // 300 new values in the first column outgrow its bits.
        let a: ArrayRef = Arc::new(Int32Array::from((0..300).rev().collect::<Vec<i32>>()));
        let b: ArrayRef = Arc::new(StringArray::from(vec!["x"; 300]));
        let ids = intern(table.as_mut(), &[a, b]);
        assert_eq!(ids[298], 0, "key (1, x) keeps group 0");
        assert_eq!(ids[297], 1, "key (2, x) keeps group 1");
        assert_eq!(table.len(), 300);
    }

    #[test]
    fn no_keys_is_one_group() {
        let table = new_group_values(&[]).unwrap();
        assert_eq!(table.len(), 1, "the group exists before any row");
        assert!(table.emit().unwrap().is_empty());
    }

    /// Two `CHAR(1)` columns (TPC-H q1's return flag and line status): the one-byte string
    /// path and the direct-indexed packed keys, then longer values and NULLs in the same
    /// columns, which leave both fast paths; ids stay those of first appearance throughout.
    #[test]
    fn one_byte_strings_and_direct_packed_keys() {
        let mut table = new_group_values(&[DataType::Utf8, DataType::Utf8]).unwrap();
        let strings = |values: Vec<Option<&str>>| -> ArrayRef {
            Arc::new(arrow::array::StringArray::from(values))
        };
        let flag = strings(vec![Some("N"), Some("R"), Some("N"), Some("A")]);
        let status = strings(vec![Some("O"), Some("F"), Some("O"), Some("F")]);
        assert_eq!(intern(table.as_mut(), &[flag, status]), vec![0, 1, 0, 2]);
        // A sliced batch (offsets not starting at 0) takes the same path.
        let flag = strings(vec![Some("x"), Some("A"), Some("R")]).slice(1, 2);
        let status = strings(vec![Some("F"), Some("F"), Some("F")]).slice(1, 2);
        assert_eq!(intern(table.as_mut(), &[flag, status]), vec![2, 1]);
        let flag = strings(vec![Some("NN"), None, Some("N"), Some("")]);
        let status = strings(vec![Some("O"), Some("O"), Some("O"), Some("O")]);
        assert_eq!(intern(table.as_mut(), &[flag, status]), vec![3, 4, 0, 5]);
        let keys = table.emit().unwrap();
        let flags: Vec<Option<&str>> = keys[0].as_string::<i32>().iter().collect();
        assert_eq!(
            flags,
            vec![Some("N"), Some("R"), Some("A"), Some("NN"), None, Some("")]
        );
        // Many groups outgrow the direct array; earlier ids survive the move to the table.
        let many: Vec<String> = (0..20_000).map(|i| format!("k{i}")).collect();
        let flag = Arc::new(arrow::array::StringArray::from_iter_values(&many)) as ArrayRef;
        let status = strings(vec![Some("O"); many.len()]);
        let ids = intern(table.as_mut(), &[flag, status]);
        assert_eq!(ids[0], 6);
        assert_eq!(ids[19_999], 20_005);
        let flag = strings(vec![Some("R"), Some("k7")]);
        let status = strings(vec![Some("F"), Some("O")]);
        assert_eq!(intern(table.as_mut(), &[flag, status]), vec![1, 13]);
    }
}
