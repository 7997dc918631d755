//! [`Chunk`]: an immutable slice of a table with its statistics and the indexes built over it.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    make_array, ArrayRef, BooleanArray, MutableArrayData, RecordBatch, UInt32Array,
};
use arrow::compute::{filter_record_batch, interleave, take};
use arrow::datatypes::DataType;
use parking_lot::Mutex;

use crate::index::{ChunkIndex, Derived};
use crate::{ColumnStatistics, Result};

/// The most rows one chunk holds. Large enough to amortise per-batch overhead in the engine,
/// small enough that statistics can prune usefully and that chunks spread over cores.
pub const CHUNK_ROWS: usize = 64 * 1024;

/// An immutable RecordBatch plus one [`ColumnStatistics`] per column. Chunks are shared between
/// table versions (`Arc`), so a new version costs only a new list of pointers — and so do the
/// chunk's indexes, cached here the first time a lookup needs them (see `index`).
#[derive(Debug)]
pub struct Chunk {
    batch: RecordBatch,
    statistics: Vec<ColumnStatistics>,
    indexes: Mutex<HashMap<String, Arc<ChunkIndex>>>,
}

impl Chunk {
    /// Wraps a batch and computes its statistics.
    pub fn new(batch: RecordBatch) -> Arc<Chunk> {
        let statistics = batch
            .columns()
            .iter()
            .map(|c| ColumnStatistics::compute(c.as_ref()))
            .collect();
        Arc::new(Chunk {
            batch,
            statistics,
            indexes: Mutex::default(),
        })
    }

    /// The chunk made from this one by replacing `rows` (ascending, distinct) with the rows
    /// of `images`, in the same positions, and which columns changed. Columns whose values
    /// stay the same are shared, not copied; statistics are widened rather than recomputed;
    /// cached indexes whose columns did not change are shared, the others are patched with
    /// the replaced rows' entries (see `index`), so a one-row update costs a copy of the
    /// changed columns of one chunk, not a pass over it per index.
    pub(crate) fn replace_rows(
        &self,
        rows: &[u32],
        images: &RecordBatch,
    ) -> Result<(Arc<Chunk>, Vec<bool>)> {
        let indices = UInt32Array::from(rows.to_vec());
        let mut columns = Vec::with_capacity(self.batch.num_columns());
        let mut statistics = Vec::with_capacity(self.batch.num_columns());
        let mut changed = Vec::with_capacity(self.batch.num_columns());
        for (position, (old, new)) in self
            .batch
            .columns()
            .iter()
            .zip(images.columns())
            .enumerate()
        {
            let replaced = take(old.as_ref(), &indices, None)?;
            if replaced.to_data() == new.to_data() {
                columns.push(Arc::clone(old));
                statistics.push(self.statistics[position].clone());
                changed.push(false);
                continue;
            }
            columns.push(scatter(old, rows, new)?);
            statistics.push(self.statistics[position].replaced(replaced.as_ref(), new.as_ref()));
            changed.push(true);
        }
        let batch = RecordBatch::try_new(self.batch.schema(), columns)?;
        let mut indexes = HashMap::new();
        for (key, index) in self.indexes.lock().iter() {
            match index.derive(&self.batch, rows, images, &changed)? {
                Derived::Same => {
                    indexes.insert(key.clone(), Arc::clone(index));
                }
                Derived::Patched(patched) => {
                    indexes.insert(key.clone(), Arc::new(patched));
                }
                Derived::Rebuild => {}
            }
        }
        let chunk = Arc::new(Chunk {
            batch,
            statistics,
            indexes: Mutex::new(indexes),
        });
        Ok((chunk, changed))
    }

    /// This chunk without the rows at positions `rows` (ascending, distinct, fewer than all),
    /// for a delete. Its cached indexes are carried over with the remaining rows renumbered
    /// (see `ChunkIndex::without_rows`) instead of being rebuilt from the data, so a delete
    /// costs no key extraction or hashing of the rows that stay.
    pub(crate) fn without_rows(&self, rows: &[u32]) -> Result<Arc<Chunk>> {
        let mut keep = vec![true; self.num_rows()];
        for &row in rows {
            if let Some(slot) = keep.get_mut(row as usize) {
                *slot = false;
            }
        }
        let batch = filter_record_batch(&self.batch, &BooleanArray::from(keep))?;
        let mut indexes = HashMap::new();
        for (key, index) in self.indexes.lock().iter() {
            if let Some(renumbered) = index.without_rows(rows) {
                indexes.insert(key.clone(), Arc::new(renumbered));
            }
        }
        let statistics = batch
            .columns()
            .iter()
            .map(|c| ColumnStatistics::compute(c.as_ref()))
            .collect();
        Ok(Arc::new(Chunk {
            batch,
            statistics,
            indexes: Mutex::new(indexes),
        }))
    }

    /// The index cached under `key`, built by `build` on first use.
    pub(crate) fn cached_index(
        &self,
        key: &str,
        build: impl FnOnce(&RecordBatch) -> Result<ChunkIndex>,
    ) -> Result<Arc<ChunkIndex>> {
        if let Some(index) = self.indexes.lock().get(key) {
            return Ok(Arc::clone(index));
        }
        // Built outside the lock: two racing builders produce the same index.
        let index = Arc::new(build(&self.batch)?);
        self.indexes
            .lock()
            .insert(key.to_string(), Arc::clone(&index));
        Ok(index)
    }

    /// How many indexes are cached on this chunk (tests check that writes reuse them).
    pub fn cached_indexes(&self) -> usize {
        self.indexes.lock().len()
    }

    /// The chunk's data.
    pub fn batch(&self) -> &RecordBatch {
        &self.batch
    }

    /// Statistics of column `index` (in table schema order).
    pub fn statistics(&self, index: usize) -> Option<&ColumnStatistics> {
        self.statistics.get(index)
    }

    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// Bytes of Arrow memory this chunk's rows occupy. Chunks cut from one appended batch
    /// share its buffers, so this counts the chunk's slice of them (summing chunks gives the
    /// table's footprint instead of counting each shared buffer once per chunk).
    pub fn memory_size(&self) -> usize {
        self.batch
            .columns()
            .iter()
            .map(|c| {
                let data = c.to_data();
                data.get_slice_memory_size()
                    .unwrap_or_else(|_| c.get_array_memory_size())
            })
            .sum()
    }
}

/// `old` with the values at `rows` (ascending) replaced by `new`'s, in order: runs of
/// unchanged values are copied as slices.
fn scatter(old: &ArrayRef, rows: &[u32], new: &ArrayRef) -> Result<ArrayRef> {
    if matches!(old.data_type(), DataType::Dictionary(_, _)) {
        // Two dictionaries are merged by `interleave`; a slice copy would mix their keys.
        let mut next = 0;
        let pairs: Vec<(usize, usize)> = (0..old.len())
            .map(|i| {
                if rows.get(next) == Some(&(i as u32)) {
                    next += 1;
                    (1, next - 1)
                } else {
                    (0, i)
                }
            })
            .collect();
        return Ok(interleave(&[old.as_ref(), new.as_ref()], &pairs)?);
    }
    let (old_data, new_data) = (old.to_data(), new.to_data());
    let mut out = MutableArrayData::new(vec![&old_data, &new_data], false, old.len());
    let mut from = 0;
    for (i, &row) in rows.iter().enumerate() {
        let row = row as usize;
        if row > from {
            out.try_extend(0, from, row)?;
        }
        out.try_extend(1, i, i + 1)?;
        from = row + 1;
    }
    if from < old.len() {
        out.try_extend(0, from, old.len())?;
    }
    Ok(make_array(out.freeze()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch};

    use super::Chunk;

    #[test]
    fn slices_of_one_batch_count_their_own_bytes() {
        let values: Int64Array = (0..1000).collect();
        let batch = RecordBatch::try_from_iter([("x", Arc::new(values) as _)]).unwrap();
        let half = Chunk::new(batch.slice(0, 500));
        assert_eq!(half.memory_size(), 500 * 8);
    }
}
