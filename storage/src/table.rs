//! [`Table`]: an Arrow schema plus copy-on-write versions of its chunks.
//!
//! A table also carries what the transaction layer needs to name and check rows: its key
//! column (the primary key, a row's stable identity) and its constraints. The committed
//! version is what [`Table::committed`] returns; [`Table::snapshot`] returns what the calling
//! thread should read — the committed version, or, inside a transaction on this table's
//! catalog, that version with the transaction's own uncommitted changes applied.

use std::sync::Arc;

use arrow::array::{BooleanArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use parking_lot::{Mutex, RwLock};

use std::collections::HashMap;

use crate::catalog::{pinned, Publication};
use crate::index::{BuiltIndex, IndexDefinition};
use crate::transaction::Transaction;
use crate::{Chunk, Result, StorageError, CHUNK_ROWS};

/// A predicate over rows of the table (a constraint's `condition=` or a `CheckConstraint`),
/// evaluated by whoever registered it (the ORM compiles it with the engine). A NULL result
/// counts as satisfied for checks and as "not covered" for partial unique constraints, as in
/// PostgreSQL.
pub type RowPredicate = Arc<dyn Fn(&RecordBatch) -> Result<BooleanArray> + Send + Sync>;

/// A `UNIQUE` (or `PRIMARY KEY`) constraint over some columns, optionally partial.
#[derive(Clone)]
pub struct UniqueConstraint {
    /// The constraint's name in error messages (`"customer_pkey"`).
    pub name: String,
    /// Column indices in table order.
    pub columns: Vec<usize>,
    /// Only rows for which this holds take part (`UniqueConstraint(condition=Q(..))`).
    pub condition: Option<RowPredicate>,
}

impl std::fmt::Debug for UniqueConstraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UniqueConstraint")
            .field("name", &self.name)
            .field("columns", &self.columns)
            .field("partial", &self.condition.is_some())
            .finish()
    }
}

/// A `CHECK` constraint.
#[derive(Clone)]
pub struct CheckConstraint {
    /// The constraint's name in error messages.
    pub name: String,
    /// The condition every row must not make FALSE.
    pub predicate: RowPredicate,
}

impl std::fmt::Debug for CheckConstraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckConstraint")
            .field("name", &self.name)
            .finish()
    }
}

/// A `FOREIGN KEY` from a column of this table to another table's key column. Checked when a
/// transaction commits (Django declares its foreign keys `DEFERRABLE INITIALLY DEFERRED`).
#[derive(Debug, Clone)]
pub struct ForeignKeyConstraint {
    /// The constraint's name in error messages (`"order_customer_id_fkey"`).
    pub name: String,
    /// The referencing column of this table.
    pub column: usize,
    /// The referenced table.
    pub target_table: String,
    /// The referenced column (`ForeignKey(to_field=...)`, a unique column); `None`: the
    /// referenced table's primary key.
    pub target_column: Option<usize>,
}

/// What a table enforces on every write.
#[derive(Debug, Clone, Default)]
pub struct TableConstraints {
    /// Unique constraints, the primary key first when there is one.
    pub unique: Vec<UniqueConstraint>,
    /// Check constraints.
    pub checks: Vec<CheckConstraint>,
    /// Foreign keys.
    pub foreign_keys: Vec<ForeignKeyConstraint>,
}

/// One committed state of a table. Immutable: readers keep the `Arc` they got from
/// [`Table::snapshot`] for as long as their query runs and see exactly this state.
#[derive(Debug, Default)]
pub struct TableVersion {
    version: u64,
    chunks: Vec<Arc<Chunk>>,
    num_rows: usize,
    /// Indexes built over exactly these chunks, by index name (see `index`).
    indexes: Mutex<HashMap<String, Arc<BuiltIndex>>>,
}

impl TableVersion {
    /// A version made of `chunks` (the transaction layer builds its private views this way).
    pub fn from_chunks(version: u64, chunks: Vec<Arc<Chunk>>) -> TableVersion {
        let num_rows = chunks.iter().map(|c| c.num_rows()).sum();
        TableVersion {
            version,
            chunks,
            num_rows,
            indexes: Mutex::default(),
        }
    }

    /// The index `definition` over this version, built on first use.
    pub(crate) fn cached_index(&self, definition: &IndexDefinition) -> Result<Arc<BuiltIndex>> {
        if let Some(built) = self.indexes.lock().get(&definition.name) {
            return Ok(Arc::clone(built));
        }
        // Built outside the lock: two racing builders produce the same index.
        let built = Arc::new(BuiltIndex::build(definition, self)?);
        self.indexes
            .lock()
            .insert(definition.name.clone(), Arc::clone(&built));
        Ok(built)
    }

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
    /// Shared by every table of a catalog, so that a transaction commit that publishes several
    /// tables excludes every other writer for the whole publication.
    write_lock: Arc<Mutex<()>>,
    /// The catalog's publication lock and commit version (see `catalog`).
    publication: Arc<Publication>,
    /// The catalog this table belongs to (0: none), to find the calling thread's transaction.
    catalog_id: u64,
    /// The primary key column: a row's identity for updates, deletes and locks.
    key_column: RwLock<Option<usize>>,
    constraints: RwLock<TableConstraints>,
    indexes: RwLock<Vec<IndexDefinition>>,
}

impl Table {
    /// An empty table.
    pub fn new(name: impl Into<String>, schema: SchemaRef) -> Table {
        Table::in_catalog(name, schema, 0, Arc::default(), Arc::default())
    }

    pub(crate) fn in_catalog(
        name: impl Into<String>,
        schema: SchemaRef,
        catalog_id: u64,
        write_lock: Arc<Mutex<()>>,
        publication: Arc<Publication>,
    ) -> Table {
        Table {
            name: name.into(),
            schema,
            current: RwLock::new(Arc::new(TableVersion::default())),
            write_lock,
            publication,
            catalog_id,
            key_column: RwLock::new(None),
            constraints: RwLock::new(TableConstraints::default()),
            indexes: RwLock::new(Vec::new()),
        }
    }

    /// Declares the primary key column (a row's identity) and its constraint named `name`.
    pub fn set_primary_key(&self, column: usize, name: impl Into<String>) {
        *self.key_column.write() = Some(column);
        self.constraints.write().unique.insert(
            0,
            UniqueConstraint {
                name: name.into(),
                columns: vec![column],
                condition: None,
            },
        );
    }

    /// The primary key column, if declared.
    pub fn key_column(&self) -> Option<usize> {
        *self.key_column.read()
    }

    /// Adds a unique constraint.
    pub fn add_unique_constraint(&self, constraint: UniqueConstraint) {
        self.constraints.write().unique.push(constraint);
    }

    /// Adds a check constraint.
    pub fn add_check_constraint(&self, constraint: CheckConstraint) {
        self.constraints.write().checks.push(constraint);
    }

    /// Adds a foreign key.
    pub fn add_foreign_key(&self, constraint: ForeignKeyConstraint) {
        self.constraints.write().foreign_keys.push(constraint);
    }

    /// Declares an index; fails if the name is taken on this table.
    pub fn add_index(&self, definition: IndexDefinition) -> Result<()> {
        let mut indexes = self.indexes.write();
        if indexes.iter().any(|i| i.name == definition.name) {
            return Err(StorageError::IndexExists(definition.name));
        }
        indexes.push(definition);
        Ok(())
    }

    /// The declared indexes.
    pub fn indexes(&self) -> Vec<IndexDefinition> {
        self.indexes.read().clone()
    }

    /// The constraints this table enforces.
    pub fn constraints(&self) -> TableConstraints {
        self.constraints.read().clone()
    }

    /// The table's name in the catalog.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The table's Arrow schema.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// A consistent, immutable view of the table for the calling thread: the committed version
    /// (the one pinned by [`Catalog::pin_snapshot`](crate::Catalog::pin_snapshot) while a
    /// database snapshot is pinned on this thread, else the latest) or, inside a transaction
    /// of this table's catalog, that version plus the transaction's own changes (PostgreSQL's
    /// READ COMMITTED: each statement sees what was committed when it started, and its own
    /// transaction's writes).
    pub fn snapshot(&self) -> Arc<TableVersion> {
        if self.catalog_id != 0 {
            if let Some(transaction) = Transaction::current(self.catalog_id) {
                // A view only fails on an Arrow kernel error while filtering a chunk by a key
                // mask it built itself; the committed version is the safe answer then.
                if let Ok(view) = transaction.view(self) {
                    return view;
                }
            }
        }
        self.read_base()
    }

    /// The committed version this thread reads: the pinned one, else the latest.
    pub(crate) fn read_base(&self) -> Arc<TableVersion> {
        if self.catalog_id != 0 {
            if let Some(version) = pinned(self.catalog_id, &self.name) {
                return version;
            }
        }
        self.committed()
    }

    /// The latest committed version, ignoring any transaction of the calling thread.
    pub fn committed(&self) -> Arc<TableVersion> {
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
        let base = self.committed();
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
        let base = self.committed();
        let chunks = edit(&base)?;
        for chunk in &chunks {
            self.check_schema(chunk.batch())?;
        }
        self.publish(base.version, chunks);
        Ok(())
    }

    /// Publishes `chunks` as the next committed version. The caller holds the catalog's write
    /// lock and publication lock (a commit publishing several tables as one publication) and
    /// computed `chunks` from the version it read under the write lock.
    pub(crate) fn publish_locked(&self, chunks: Vec<Arc<Chunk>>) {
        let base = self.current.read().version;
        self.swap(base, chunks);
    }

    /// Checks a batch against the table's schema (types and NOT NULL).
    pub(crate) fn check_batch(&self, batch: &RecordBatch) -> Result<()> {
        self.check_schema(batch)
    }

    /// `batch` relabelled with the table's schema (field names and nullability).
    pub(crate) fn conform(&self, batch: &RecordBatch) -> RecordBatch {
        self.with_table_schema(batch)
    }

    fn publish(&self, base_version: u64, chunks: Vec<Arc<Chunk>>) {
        self.publication.publish(|| self.swap(base_version, chunks));
    }

    fn swap(&self, base_version: u64, chunks: Vec<Arc<Chunk>>) {
        let num_rows = chunks.iter().map(|c| c.num_rows()).sum();
        let version = TableVersion {
            version: base_version + 1,
            chunks,
            num_rows,
            indexes: Mutex::default(),
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
