//! [`Table`]: an Arrow schema plus copy-on-write versions of its chunks.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use parking_lot::{Mutex, RwLock};

use crate::{Chunk, Result, StorageError, CHUNK_ROWS};

/// One committed state of a table. Immutable: readers keep the `Arc` they got from
/// [`Table::snapshot`] for as long as their query runs and see exactly this state.
#[derive(Debug, Default)]
pub struct TableVersion {
    version: u64,
    chunks: Vec<Arc<Chunk>>,
    num_rows: usize,
}

impl TableVersion {
    /// Monotonic version number; increases with every committed write.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The chunks, in insertion order.
    pub fn chunks(&self) -> &[Arc<Chunk>] {
        &self.chunks
    }

    /// Total rows across chunks.
    pub fn num_rows(&self) -> usize {
        self.num_rows
    }

    /// Bytes of Arrow memory held by this version's chunks.
    pub fn memory_size(&self) -> usize {
        self.chunks.iter().map(|c| c.memory_size()).sum()
    }
}

/// A named table. Reads are lock-free apart from cloning one `Arc`; writers are serialised by
/// `write_lock` and publish a whole new [`TableVersion`] at once, so a reader never sees half
/// of a write.
#[derive(Debug)]
pub struct Table {
    name: String,
    schema: SchemaRef,
    current: RwLock<Arc<TableVersion>>,
    write_lock: Mutex<()>,
}

impl Table {
    /// An empty table.
    pub fn new(name: impl Into<String>, schema: SchemaRef) -> Table {
        Table {
            name: name.into(),
            schema,
            current: RwLock::new(Arc::new(TableVersion::default())),
            write_lock: Mutex::new(()),
        }
    }

    /// The table's name in the catalog.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The table's Arrow schema.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// A consistent, immutable view of the table as of now.
    pub fn snapshot(&self) -> Arc<TableVersion> {
        Arc::clone(&self.current.read())
    }

    /// Rows in the current version.
    pub fn num_rows(&self) -> usize {
        self.current.read().num_rows
    }

    /// Bytes of Arrow memory the current version holds.
    pub fn memory_size(&self) -> usize {
        self.current.read().memory_size()
    }

    /// Appends batches atomically: either all rows become visible in one new version or, on a
    /// schema mismatch, nothing changes. Rows are packed into chunks of up to [`CHUNK_ROWS`];
    /// a trailing partial chunk is rewritten (copy-on-write) rather than left fragmented.
    pub fn append(&self, batches: &[RecordBatch]) -> Result<()> {
        for batch in batches {
            self.check_schema(batch)?;
        }
        let incoming: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if incoming == 0 {
            return Ok(());
        }
        let _writer = self.write_lock.lock();
        let base = self.snapshot();
        let mut chunks = base.chunks.clone();
        let mut pending: Vec<RecordBatch> = Vec::new();
        if chunks.last().is_some_and(|c| c.num_rows() < CHUNK_ROWS) {
            if let Some(last) = chunks.pop() {
                pending.push(last.batch().clone());
            }
        }
        pending.extend(batches.iter().map(|b| self.with_table_schema(b)));
        let merged = concat_batches(&self.schema, &pending)?;
        let mut offset = 0;
        while offset < merged.num_rows() {
            let len = CHUNK_ROWS.min(merged.num_rows() - offset);
            chunks.push(Chunk::new(merged.slice(offset, len)));
            offset += len;
        }
        self.publish(base.version, chunks);
        Ok(())
    }

    /// Replaces the table's content with `chunks` computed from the version the closure is
    /// given, atomically. This is the hook for updates and deletes: they rewrite the chunks
    /// they touch and share the rest.
    pub fn rewrite<F>(&self, edit: F) -> Result<()>
    where
        F: FnOnce(&TableVersion) -> Result<Vec<Arc<Chunk>>>,
    {
        let _writer = self.write_lock.lock();
        let base = self.snapshot();
        let chunks = edit(&base)?;
        for chunk in &chunks {
            self.check_schema(chunk.batch())?;
        }
        self.publish(base.version, chunks);
        Ok(())
    }

    fn publish(&self, base_version: u64, chunks: Vec<Arc<Chunk>>) {
        let num_rows = chunks.iter().map(|c| c.num_rows()).sum();
        let version = TableVersion {
            version: base_version + 1,
            chunks,
            num_rows,
        };
        *self.current.write() = Arc::new(version);
    }

    fn check_schema(&self, batch: &RecordBatch) -> Result<()> {
        let mismatch = |detail: String| StorageError::SchemaMismatch {
            table: self.name.clone(),
            detail,
        };
        let theirs = batch.schema();
        if theirs.fields().len() != self.schema.fields().len() {
            return Err(mismatch(format!(
                "expected {} columns, got {}",
                self.schema.fields().len(),
                theirs.fields().len()
            )));
        }
        for (ours, (field, column)) in self
            .schema
            .fields()
            .iter()
            .zip(theirs.fields().iter().zip(batch.columns()))
        {
            if ours.data_type() != field.data_type() {
                return Err(mismatch(format!(
                    "column \"{}\" has type {}, expected {}",
                    ours.name(),
                    field.data_type(),
                    ours.data_type()
                )));
            }
            if !ours.is_nullable() && column.null_count() > 0 {
                return Err(mismatch(format!(
                    "column \"{}\" does not allow NULL",
                    ours.name()
                )));
            }
        }
        Ok(())
    }

    fn with_table_schema(&self, batch: &RecordBatch) -> RecordBatch {
        RecordBatch::try_new(Arc::clone(&self.schema), batch.columns().to_vec())
            .unwrap_or_else(|_| batch.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};

    fn table() -> Table {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        Table::new("t", schema)
    }

    fn batch(t: &Table, n: usize) -> RecordBatch {
        let values: Int64Array = (0..n as i64).collect();
        RecordBatch::try_new(t.schema(), vec![Arc::new(values)]).unwrap()
    }

    #[test]
    fn packs_rows_into_full_chunks() {
        let t = table();
        t.append(&[batch(&t, 1000)]).unwrap();
        t.append(&[batch(&t, CHUNK_ROWS)]).unwrap();
        let snap = t.snapshot();
        assert_eq!(snap.num_rows(), CHUNK_ROWS + 1000);
        assert_eq!(snap.chunks().len(), 2);
        assert_eq!(snap.chunks()[0].num_rows(), CHUNK_ROWS);
        assert_eq!(snap.version(), 2);
    }

    #[test]
    fn snapshots_do_not_see_later_writes() {
        let t = table();
        t.append(&[batch(&t, 10)]).unwrap();
        let before = t.snapshot();
        t.append(&[batch(&t, 5)]).unwrap();
        assert_eq!(before.num_rows(), 10);
        assert_eq!(t.snapshot().num_rows(), 15);
    }

    #[test]
    fn rejects_nulls_in_not_null_columns_without_changing_anything() {
        let t = table();
        let nullable = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let bad = RecordBatch::try_new(
            nullable,
            vec![Arc::new(Int64Array::from(vec![Some(1), None]))],
        )
        .unwrap();
        assert!(t.append(&[bad]).is_err());
        assert_eq!(t.num_rows(), 0);
    }
}
