//! [`Chunk`]: an immutable slice of a table with its statistics and the indexes built over it.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use parking_lot::Mutex;

use crate::index::ChunkIndex;
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
