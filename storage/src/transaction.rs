//! Transactions over copy-on-write table versions: [`Transaction`] and [`TransactionManager`].
//!
//! # Isolation level
//!
//! Quiver gives PostgreSQL's default, **READ COMMITTED** with row locks, which is what Django
//! applications are written against:
//! - A read (one query) sees one committed state of each table it reads, from start to end,
//!   whatever writers do meanwhile: it holds an immutable [`TableVersion`]. Readers take no
//!   locks, so they never block writers or each other.
//! - Inside a transaction, each statement sees the latest committed state *plus the
//!   transaction's own uncommitted writes*; other transactions see none of them until commit.
//! - Every update or delete of a row, and every `select_for_update`, takes that row's exclusive
//!   lock ([`LockManager`]) and keeps it until the transaction ends. A second writer of the row
//!   waits and then re-reads the row as committed, so concurrent `update(x=F("x") + 1)` never
//!   loses an increment. Waits that would close a cycle fail with "deadlock detected".
//! - Inserts take no locks; two transactions inserting the same key both succeed until the
//!   second one commits, which fails with the unique violation (first committer wins).
//! - A commit publishes every table it changed under the catalog's single writer lock, so other
//!   writers never interleave with it, and as one publication: a query pins one committed state
//!   of the whole database while it is planned ([`Catalog::pin_snapshot`]), so a join or a
//!   subquery over two tables never sees a commit in one table and not in the other.
//!
//! # Representation
//!
//! A transaction keeps, per table it wrote, a `TableDelta`: the keys of committed rows it
//! replaced or deleted, and the batch of rows it wrote (inserts and new images of updated
//! rows). Its view of a table is the latest committed version minus the removed keys plus
//! the written rows; commit computes the same thing under the writer lock and publishes it.
//! Because every replaced row is locked, no other transaction can have changed those rows
//! since they were read, so re-applying the delta onto a newer committed version is exact.
//!
//! Rows are found by key through each chunk's cached hash index on the key column, unique
//! constraints are checked through each chunk's cached index of the constraint, and foreign
//! keys through the referenced and referencing columns' indexes (see `index`): chunks a commit
//! leaves untouched keep their indexes, so a one-row write costs a probe per chunk and the
//! indexing of the chunks it creates, not a pass over the table.
//!
//! Savepoints copy the deltas (nested `atomic()` blocks); rolling back to one restores them and
//! drops the `on_commit` callbacks registered since. Row locks taken inside a rolled-back
//! savepoint stay held until the transaction ends (PostgreSQL releases them; holding them longer
//! is safe, only less concurrent).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, filter_record_batch, take};
use parking_lot::Mutex;

use crate::index::{rows_with_keys, Indexed};
use crate::locks::{LockManager, LockWait, TxnId};
use crate::row_key::{batch_keys, column_keys, RowKey};
use crate::table::{ForeignKeyConstraint, UniqueConstraint};
use crate::{Catalog, Chunk, Result, StorageError, Table, TableVersion, CHUNK_ROWS};

/// Transaction ids and the row locks of one catalog.
#[derive(Debug)]
pub struct TransactionManager {
    next_id: AtomicU64,
    locks: LockManager,
}

impl Default for TransactionManager {
    fn default() -> Self {
        TransactionManager::new()
    }
}

impl TransactionManager {
    /// No transactions yet.
    pub fn new() -> TransactionManager {
        TransactionManager {
            next_id: AtomicU64::new(1),
            locks: LockManager::new(),
        }
    }

    /// The row locks.
    pub fn locks(&self) -> &LockManager {
        &self.locks
    }
}

/// One table's uncommitted changes.
#[derive(Clone)]
struct TableDelta {
    table: Arc<Table>,
    /// Keys of committed rows this transaction replaced or deleted.
    removed: HashSet<RowKey>,
    /// Rows this transaction wrote: inserts and new images of updated rows.
    added: Option<RecordBatch>,
    added_keys: HashSet<RowKey>,
}

impl TableDelta {
    fn new(table: &Arc<Table>) -> TableDelta {
        TableDelta {
            table: Arc::clone(table),
            removed: HashSet::new(),
            added: None,
            added_keys: HashSet::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.as_ref().is_none_or(|b| b.num_rows() == 0)
    }

    /// Drops `keys` from the rows this transaction wrote; the other keys name committed rows,
    /// which are hidden instead.
    fn forget(&mut self, keys: &[RowKey]) -> Result<()> {
        let mut own = HashSet::new();
        for key in keys {
            if self.added_keys.remove(key) {
                own.insert(key.clone());
            } else {
                self.removed.insert(key.clone());
            }
        }
        if own.is_empty() {
            return Ok(());
        }
        if let (Some(added), Some(key_column)) = (&self.added, self.table.key_column()) {
            let added_keys = column_keys(added.column(key_column))?;
            let keep: BooleanArray = added_keys.iter().map(|k| Some(!own.contains(k))).collect();
            self.added = Some(filter_record_batch(added, &keep)?);
        }
        Ok(())
    }

    fn add(&mut self, batch: RecordBatch, keys: Vec<RowKey>) -> Result<()> {
        self.added = Some(match self.added.take() {
            Some(added) if added.num_rows() > 0 => {
                concat_batches(&self.table.schema(), [&added, &batch])?
            }
            _ => batch,
        });
        self.added_keys.extend(keys);
        Ok(())
    }

    /// `committed` minus the removed rows plus the added ones. Chunks holding none of the
    /// removed keys (found through each chunk's key index) are shared untouched.
    fn apply(&self, committed: &TableVersion) -> Result<Vec<Arc<Chunk>>> {
        let mut chunks = Vec::with_capacity(committed.chunks().len() + 1);
        let removed: HashSet<&RowKey> = self.removed.iter().collect();
        for chunk in committed.chunks() {
            if removed.is_empty() {
                chunks.push(Arc::clone(chunk));
                continue;
            }
            let key_column = self.table.key_column().ok_or_else(|| {
                StorageError::Internal(format!("table \"{}\" has no key", self.table.name()))
            })?;
            let rows = rows_with_keys(chunk, key_column, &removed)?;
            if rows.is_empty() {
                chunks.push(Arc::clone(chunk));
            } else if rows.len() < chunk.num_rows() {
                let mut keep = vec![true; chunk.num_rows()];
                for row in rows {
                    keep[row as usize] = false;
                }
                let keep = BooleanArray::from(keep);
                chunks.push(Chunk::new(filter_record_batch(chunk.batch(), &keep)?));
            }
        }
        if let Some(added) = &self.added {
            let mut offset = 0;
            while offset < added.num_rows() {
                let len = CHUNK_ROWS.min(added.num_rows() - offset);
                chunks.push(Chunk::new(added.slice(offset, len)));
                offset += len;
            }
        }
        Ok(chunks)
    }
}

struct Savepoint {
    deltas: BTreeMap<String, TableDelta>,
    on_commit_len: usize,
}

struct CachedView {
    committed_version: u64,
    generation: u64,
    view: Arc<TableVersion>,
}

type Callback = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct TxnState {
    deltas: BTreeMap<String, TableDelta>,
    savepoints: Vec<Savepoint>,
    on_commit: Vec<Callback>,
    generation: u64,
    cache: HashMap<String, CachedView>,
    finished: bool,
}

thread_local! {
    static ACTIVE: RefCell<Vec<Arc<Transaction>>> = const { RefCell::new(Vec::new()) };
}

/// A transaction of one catalog: uncommitted changes, row locks, savepoints and `on_commit`
/// callbacks. See the [module docs](self) for the isolation level.
pub struct Transaction {
    id: TxnId,
    catalog: Catalog,
    state: Mutex<TxnState>,
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction").field("id", &self.id).finish()
    }
}

/// Keeps a transaction the calling thread's active one until dropped.
#[derive(Debug)]
pub struct ActiveGuard {
    catalog_id: u64,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        ACTIVE.with(|active| {
            let mut active = active.borrow_mut();
            if let Some(i) = active
                .iter()
                .rposition(|t| t.catalog.id() == self.catalog_id)
            {
                active.remove(i);
            }
        });
    }
}

impl Transaction {
    pub(crate) fn begin(catalog: Catalog) -> Arc<Transaction> {
        let id = catalog
            .transactions()
            .next_id
            .fetch_add(1, Ordering::Relaxed);
        Arc::new(Transaction {
            id,
            catalog,
            state: Mutex::new(TxnState::default()),
        })
    }

    /// The calling thread's active transaction on catalog `catalog_id`.
    pub fn current(catalog_id: u64) -> Option<Arc<Transaction>> {
        ACTIVE.with(|active| {
            active
                .borrow()
                .iter()
                .rev()
                .find(|t| t.catalog.id() == catalog_id)
                .cloned()
        })
    }

    /// Makes this the calling thread's transaction for its catalog until the guard drops:
    /// reads of the catalog's tables on this thread then see its uncommitted writes.
    pub fn activate(self: &Arc<Self>) -> ActiveGuard {
        ACTIVE.with(|active| active.borrow_mut().push(Arc::clone(self)));
        ActiveGuard {
            catalog_id: self.catalog.id(),
        }
    }

    /// The transaction id (the owner in the lock table).
    pub fn id(&self) -> TxnId {
        self.id
    }

    /// The catalog this transaction writes.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// True once committed or rolled back.
    pub fn is_finished(&self) -> bool {
        self.state.lock().finished
    }

    /// What this transaction sees of `table`: the latest committed version with its own
    /// changes applied.
    pub fn view(&self, table: &Table) -> Result<Arc<TableVersion>> {
        let committed = table.read_base();
        let mut state = self.state.lock();
        let Some(delta) = state.deltas.get(table.name()) else {
            return Ok(committed);
        };
        if delta.is_empty() {
            return Ok(committed);
        }
        let generation = state.generation;
        if let Some(cached) = state.cache.get(table.name()) {
            if cached.committed_version == committed.version() && cached.generation == generation {
                return Ok(Arc::clone(&cached.view));
            }
        }
        let view = Arc::new(TableVersion::from_chunks(
            committed.version(),
            delta.apply(&committed)?,
        ));
        state.cache.insert(
            table.name().to_string(),
            CachedView {
                committed_version: committed.version(),
                generation,
                view: Arc::clone(&view),
            },
        );
        Ok(view)
    }

    /// Locks rows of `table` by key until this transaction ends (see [`LockManager`]).
    pub fn lock_rows(&self, table: &str, keys: &[RowKey], wait: LockWait) -> Result<Vec<RowKey>> {
        self.check_open()?;
        self.catalog
            .transactions()
            .locks
            .lock_rows(self.id, table, keys, wait)
    }

    /// Inserts `batch` (in the table's schema). Checks NOT NULL, unique and check constraints
    /// against this transaction's view; on a violation nothing changes.
    pub fn insert(&self, table: &Arc<Table>, batch: &RecordBatch) -> Result<()> {
        self.insert_batches(table, std::slice::from_ref(batch))
    }

    /// Inserts every row of `batches` as one statement: all of them or, on a violation, none.
    ///
    /// Loading a table batch by batch through [`insert`](Self::insert) would make each call
    /// re-concatenate and re-check everything the transaction added before it (quadratic in
    /// the number of batches); this concatenates once and checks once.
    pub fn insert_batches(&self, table: &Arc<Table>, batches: &[RecordBatch]) -> Result<()> {
        let mut conformed = Vec::with_capacity(batches.len());
        for batch in batches.iter().filter(|batch| batch.num_rows() > 0) {
            table.check_batch(batch)?;
            conformed.push(table.conform(batch));
        }
        let batch = match conformed.len() {
            0 => return Ok(()),
            1 => conformed.remove(0),
            _ => concat_batches(&table.schema(), &conformed)?,
        };
        drop(conformed);
        let keys = match table.key_column() {
            Some(k) => column_keys(batch.column(k))?,
            None => vec![],
        };
        self.change(table, &batch, |delta| delta.add(batch.clone(), keys))
    }

    /// Replaces existing rows by key with the new images in `batch` (locking them first).
    pub fn update(&self, table: &Arc<Table>, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        table.check_batch(batch)?;
        let batch = table.conform(batch);
        let keys = table_keys(table, &batch)?;
        self.lock_committed(table, &keys)?;
        self.change(table, &batch, |delta| {
            delta.forget(&keys)?;
            delta.add(batch.clone(), keys.clone())
        })
    }

    /// Deletes rows by key (locking them first); returns how many keys were given.
    pub fn delete(&self, table: &Arc<Table>, keys: &[RowKey]) -> Result<usize> {
        if keys.is_empty() {
            return Ok(0);
        }
        self.lock_committed(table, keys)?;
        let empty = RecordBatch::new_empty(table.schema());
        self.change(table, &empty, |delta| delta.forget(keys))?;
        Ok(keys.len())
    }

    /// Locks the keys that do not name this transaction's own new rows.
    fn lock_committed(&self, table: &Table, keys: &[RowKey]) -> Result<()> {
        let foreign: Vec<RowKey> = {
            let state = self.state.lock();
            match state.deltas.get(table.name()) {
                Some(delta) => keys
                    .iter()
                    .filter(|k| !delta.added_keys.contains(*k))
                    .cloned()
                    .collect(),
                None => keys.to_vec(),
            }
        };
        self.lock_rows(table.name(), &foreign, LockWait::Block)?;
        Ok(())
    }

    /// Applies `edit` to the table's delta, then checks the statement-level constraints on
    /// the `touched` rows; a violation restores the delta.
    fn change(
        &self,
        table: &Arc<Table>,
        touched: &RecordBatch,
        edit: impl FnOnce(&mut TableDelta) -> Result<()>,
    ) -> Result<()> {
        self.check_open()?;
        let previous = {
            let mut state = self.state.lock();
            let delta = state
                .deltas
                .entry(table.name().to_string())
                .or_insert_with(|| TableDelta::new(table));
            let previous = delta.clone();
            edit(delta)?;
            state.generation += 1;
            previous
        };
        let checked = self
            .view(table)
            .and_then(|view| check_row_constraints(table, &view, touched));
        if checked.is_err() {
            let mut state = self.state.lock();
            state.deltas.insert(table.name().to_string(), previous);
            state.generation += 1;
        }
        checked
    }

    fn check_open(&self) -> Result<()> {
        if self.state.lock().finished {
            return Err(StorageError::TransactionState(
                "the transaction has already ended".into(),
            ));
        }
        Ok(())
    }

    /// Registers a callback to run after a successful commit (dropped on rollback, or on a
    /// rollback to a savepoint taken before it was registered).
    pub fn on_commit(&self, callback: Box<dyn FnOnce() + Send>) {
        self.state.lock().on_commit.push(callback);
    }

    /// Starts a savepoint; returns its depth for [`rollback_to`](Self::rollback_to) and
    /// [`release`](Self::release).
    pub fn savepoint(&self) -> usize {
        let mut state = self.state.lock();
        let savepoint = Savepoint {
            deltas: state.deltas.clone(),
            on_commit_len: state.on_commit.len(),
        };
        state.savepoints.push(savepoint);
        state.savepoints.len() - 1
    }

    /// Undoes every change since savepoint `depth` was taken, and ends it.
    pub fn rollback_to(&self, depth: usize) -> Result<()> {
        let mut state = self.state.lock();
        if depth >= state.savepoints.len() {
            return Err(StorageError::TransactionState(format!(
                "savepoint {depth} does not exist"
            )));
        }
        let savepoint = state.savepoints.swap_remove(depth);
        state.savepoints.truncate(depth);
        state.deltas = savepoint.deltas;
        state.on_commit.truncate(savepoint.on_commit_len);
        state.generation += 1;
        Ok(())
    }

    /// Ends savepoint `depth`, keeping its changes.
    pub fn release(&self, depth: usize) {
        self.state.lock().savepoints.truncate(depth);
    }

    /// Ends the transaction without publishing anything and releases its locks.
    pub fn rollback(&self) {
        let mut state = self.state.lock();
        if state.finished {
            return;
        }
        state.finished = true;
        state.deltas.clear();
        state.on_commit.clear();
        state.cache.clear();
        drop(state);
        self.catalog.transactions().locks.release_all(self.id);
    }

    /// Publishes every change at once, checking unique constraints again against the latest
    /// committed data and foreign keys (deferred, as Django declares them); on a violation the
    /// transaction is rolled back and the error returned. Runs the `on_commit` callbacks after
    /// the locks are released.
    pub fn commit(&self) -> Result<()> {
        let mut state = self.state.lock();
        if state.finished {
            return Err(StorageError::TransactionState(
                "the transaction has already ended".into(),
            ));
        }
        let published = {
            let write_lock = Arc::clone(self.catalog.write_lock());
            let _writer = write_lock.lock();
            let result = self.prepare(&state);
            if let Ok(versions) = &result {
                self.catalog.publication().publish(|| {
                    for (table, chunks) in versions {
                        table.publish_locked(chunks.clone());
                    }
                });
            }
            result.map(|_| ())
        };
        state.finished = true;
        let callbacks = std::mem::take(&mut state.on_commit);
        state.deltas.clear();
        state.cache.clear();
        drop(state);
        self.catalog.transactions().locks.release_all(self.id);
        published?;
        for callback in callbacks {
            callback();
        }
        Ok(())
    }

    /// The chunks each changed table will have, checked. Runs under the writer lock.
    fn prepare(&self, state: &TxnState) -> Result<Vec<(Arc<Table>, Vec<Arc<Chunk>>)>> {
        let mut versions = Vec::new();
        let mut new_versions: HashMap<String, Arc<TableVersion>> = HashMap::new();
        for (name, delta) in &state.deltas {
            if delta.is_empty() {
                continue;
            }
            let committed = delta.table.committed();
            let chunks = compact(delta.apply(&committed)?)?;
            let version = Arc::new(TableVersion::from_chunks(
                committed.version(),
                chunks.clone(),
            ));
            if let Some(added) = &delta.added {
                for constraint in delta.table.constraints().unique {
                    check_unique(&delta.table, &version, added, &constraint)?;
                }
            }
            new_versions.insert(name.clone(), version);
            versions.push((Arc::clone(&delta.table), chunks));
        }
        self.check_foreign_keys(state, &new_versions)?;
        Ok(versions)
    }

    fn check_foreign_keys(
        &self,
        state: &TxnState,
        new_versions: &HashMap<String, Arc<TableVersion>>,
    ) -> Result<()> {
        let version_of = |table: &Table| -> Arc<TableVersion> {
            new_versions
                .get(table.name())
                .cloned()
                .unwrap_or_else(|| table.committed())
        };
        // Rows written here must reference existing rows.
        for delta in state.deltas.values() {
            let Some(added) = &delta.added else { continue };
            for fk in delta.table.constraints().foreign_keys {
                let target = self.catalog.table(&fk.target_table)?;
                let target_column = referenced_column(&fk, &target)?;
                let values = column_keys(added.column(fk.column))?;
                let wanted: HashSet<&RowKey> = values.iter().filter(|k| !k.has_null()).collect();
                if wanted.is_empty() {
                    continue;
                }
                let present = present_values(&version_of(&target), target_column, &wanted)?;
                if let Some(missing) = values
                    .iter()
                    .find(|k| !k.has_null() && !present.contains(*k))
                {
                    let column = delta.table.schema().field(fk.column).name().clone();
                    return Err(StorageError::IntegrityViolation(format!(
                        "insert or update on table \"{}\" violates foreign key constraint \
                         \"{}\"\nDETAIL:  Key ({column})=({missing}) is not present in table \
                         \"{}\".",
                        delta.table.name(),
                        fk.name,
                        fk.target_table
                    )));
                }
            }
        }
        // Referenced values that rows removed here held, and that no row holds any more, must
        // no longer be referenced.
        let mut referencing: Vec<(Arc<Table>, ForeignKeyConstraint)> = Vec::new();
        for name in self.catalog.table_names() {
            let table = self.catalog.table(&name)?;
            for fk in table.constraints().foreign_keys {
                referencing.push((Arc::clone(&table), fk));
            }
        }
        for delta in state.deltas.values() {
            if delta.removed.is_empty() {
                continue;
            }
            let table = &delta.table;
            for (from, fk) in referencing
                .iter()
                .filter(|(_, fk)| fk.target_table == table.name())
            {
                let target_column = referenced_column(fk, table)?;
                let gone = gone_values(delta, &version_of(table), target_column)?;
                if gone.is_empty() {
                    continue;
                }
                let gone: HashSet<&RowKey> = gone.iter().collect();
                for chunk in version_of(from).chunks() {
                    let rows = rows_with_keys(chunk, fk.column, &gone)?;
                    let Some(&row) = rows.first() else { continue };
                    let key = column_keys(&chunk.batch().column(fk.column).slice(row as usize, 1))?
                        .into_iter()
                        .next()
                        .unwrap_or(RowKey::Null);
                    let key_name = table.schema().field(target_column).name().clone();
                    return Err(StorageError::IntegrityViolation(format!(
                        "update or delete on table \"{}\" violates foreign key constraint \"{}\" \
                         on table \"{}\"\nDETAIL:  Key ({key_name})=({key}) is still referenced \
                         from table \"{}\".",
                        table.name(),
                        fk.name,
                        from.name(),
                        from.name()
                    )));
                }
            }
        }
        Ok(())
    }
}

/// The column of `target` that `fk` references: its `to_field` column or the primary key.
fn referenced_column(fk: &ForeignKeyConstraint, target: &Table) -> Result<usize> {
    fk.target_column.or(target.key_column()).ok_or_else(|| {
        StorageError::Internal(format!(
            "foreign key \"{}\" references table \"{}\", which has no key",
            fk.name,
            target.name()
        ))
    })
}

/// The non-NULL values of `column` that rows `delta` removed held in the committed version and
/// that no row of `new_version` holds.
fn gone_values(
    delta: &TableDelta,
    new_version: &TableVersion,
    column: usize,
) -> Result<HashSet<RowKey>> {
    let table = &delta.table;
    let key_column = table
        .key_column()
        .ok_or_else(|| StorageError::Internal(format!("table \"{}\" has no key", table.name())))?;
    let removed: HashSet<&RowKey> = delta.removed.iter().collect();
    let mut old: HashSet<RowKey> = HashSet::new();
    for chunk in table.committed().chunks() {
        let rows = rows_with_keys(chunk, key_column, &removed)?;
        if rows.is_empty() {
            continue;
        }
        let values = take(chunk.batch().column(column), &UInt32Array::from(rows), None)?;
        old.extend(column_keys(&values)?.into_iter().filter(|k| !k.has_null()));
    }
    let candidates: HashSet<&RowKey> = old.iter().collect();
    let still = present_values(new_version, column, &candidates)?;
    Ok(old.into_iter().filter(|k| !still.contains(k)).collect())
}

/// The keys of `batch` by the table's key column.
fn table_keys(table: &Table, batch: &RecordBatch) -> Result<Vec<RowKey>> {
    let key_column = table.key_column().ok_or_else(|| {
        StorageError::Internal(format!(
            "table \"{}\" has no primary key to name rows by",
            table.name()
        ))
    })?;
    column_keys(batch.column(key_column))
}

/// Which of `wanted` (non-NULL) some row of `version` holds in `column`, through each chunk's
/// index on the column.
fn present_values(
    version: &TableVersion,
    column: usize,
    wanted: &HashSet<&RowKey>,
) -> Result<HashSet<RowKey>> {
    let mut present = HashSet::new();
    if wanted.is_empty() {
        return Ok(present);
    }
    let indexed = Indexed::Columns(std::slice::from_ref(&column));
    for chunk in version.chunks() {
        let index = indexed.of(chunk)?;
        if wanted.len() <= index.len() {
            present.extend(
                wanted
                    .iter()
                    .filter(|k| !index.get(k).is_empty())
                    .map(|k| (*k).clone()),
            );
        } else {
            present.extend(
                index
                    .keyed()
                    .filter(|(k, _)| wanted.contains(k))
                    .map(|(k, _)| k.clone()),
            );
        }
        if present.len() == wanted.len() {
            break;
        }
    }
    Ok(present)
}

/// Statement-level checks on the rows a statement wrote: check constraints, then every
/// unique constraint against the whole view.
fn check_row_constraints(table: &Table, view: &TableVersion, touched: &RecordBatch) -> Result<()> {
    if touched.num_rows() == 0 {
        return Ok(());
    }
    let constraints = table.constraints();
    for check in &constraints.checks {
        let holds = (check.predicate)(touched)?;
        if (0..holds.len()).any(|i| holds.is_valid(i) && !holds.value(i)) {
            return Err(StorageError::IntegrityViolation(format!(
                "new row for relation \"{}\" violates check constraint \"{}\"",
                table.name(),
                check.name
            )));
        }
    }
    for constraint in &constraints.unique {
        check_unique(table, view, touched, constraint)?;
    }
    Ok(())
}

/// The keys of `batch` over the constraint's columns that take part in it (no NULL part, the
/// condition TRUE), by row.
fn constrained_keys(
    batch: &RecordBatch,
    constraint: &UniqueConstraint,
) -> Result<Vec<Option<RowKey>>> {
    let keys = batch_keys(batch, &constraint.columns)?;
    let covered = match &constraint.condition {
        Some(condition) => Some(condition(batch)?),
        None => None,
    };
    Ok(keys
        .into_iter()
        .enumerate()
        .map(|(i, key)| {
            let in_scope = covered.as_ref().is_none_or(|c| c.is_valid(i) && c.value(i));
            (in_scope && !key.has_null()).then_some(key)
        })
        .collect())
}

/// Fails when a key of `touched` occurs more than once in `version` (which contains the
/// touched rows themselves). Public so that a new constraint can be validated against the
/// rows already stored.
pub fn check_unique_rows(
    table: &Table,
    version: &TableVersion,
    touched: &RecordBatch,
    constraint: &UniqueConstraint,
) -> Result<()> {
    check_unique(table, version, touched, constraint)
}

/// Fails when two rows of `version` share a key of `constraint` (validating a constraint added
/// to a table that already holds rows): one pass over the chunks' constraint indexes.
pub fn validate_unique(
    table: &Table,
    version: &TableVersion,
    constraint: &UniqueConstraint,
) -> Result<()> {
    let indexed = Indexed::Unique(constraint);
    let mut seen: HashSet<RowKey> = HashSet::new();
    for chunk in version.chunks() {
        let index = indexed.of(chunk)?;
        for (key, rows) in index.keyed() {
            if rows.len() > 1 || !seen.insert(key.clone()) {
                return Err(duplicate_key(table, constraint, key));
            }
        }
    }
    Ok(())
}

fn duplicate_key(table: &Table, constraint: &UniqueConstraint, key: &RowKey) -> StorageError {
    let schema = table.schema();
    let columns: Vec<&str> = constraint
        .columns
        .iter()
        .map(|&c| schema.field(c).name().as_str())
        .collect();
    StorageError::IntegrityViolation(format!(
        "duplicate key value violates unique constraint \"{}\"\nDETAIL:  Key ({})=({key}) \
         already exists.",
        constraint.name,
        columns.join(", ")
    ))
}

/// Counts, through each chunk's index of the constraint, how often each key of `touched`
/// occurs in `version`; a count above one is a violation.
fn check_unique(
    table: &Table,
    version: &TableVersion,
    touched: &RecordBatch,
    constraint: &UniqueConstraint,
) -> Result<()> {
    let wanted: Vec<RowKey> = constrained_keys(touched, constraint)?
        .into_iter()
        .flatten()
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let mut counts: HashMap<&RowKey, usize> = wanted.iter().map(|k| (k, 0)).collect();
    let indexed = Indexed::Unique(constraint);
    for chunk in version.chunks() {
        let index = indexed.of(chunk)?;
        let mut found: Vec<(&RowKey, usize)> = Vec::new();
        if counts.len() <= index.len() {
            for key in counts.keys() {
                let rows = index.get(key).len();
                if rows > 0 {
                    found.push((*key, rows));
                }
            }
        } else {
            for (key, rows) in index.keyed() {
                if counts.contains_key(key) {
                    found.push((key, rows.len()));
                }
            }
        }
        for (key, rows) in found {
            if let Some(count) = counts.get_mut(key) {
                *count += rows;
                if *count > 1 {
                    return Err(duplicate_key(table, constraint, key));
                }
            }
        }
    }
    Ok(())
}

/// Merges runs of small chunks (left by many small commits) into chunks of up to
/// [`CHUNK_ROWS`] rows; full chunks are shared untouched.
fn compact(chunks: Vec<Arc<Chunk>>) -> Result<Vec<Arc<Chunk>>> {
    let small = CHUNK_ROWS / 2;
    let mut out = Vec::with_capacity(chunks.len());
    let mut pending: Vec<Arc<Chunk>> = Vec::new();
    let mut pending_rows = 0;
    let flush = |pending: &mut Vec<Arc<Chunk>>, out: &mut Vec<Arc<Chunk>>| -> Result<()> {
        match pending.len() {
            0 => {}
            1 => out.append(pending),
            _ => {
                let schema = pending[0].batch().schema();
                let merged = concat_batches(&schema, pending.iter().map(|c| c.batch()))?;
                out.push(Chunk::new(merged));
                pending.clear();
            }
        }
        Ok(())
    };
    for chunk in chunks {
        if chunk.num_rows() >= small {
            flush(&mut pending, &mut out)?;
            pending_rows = 0;
            out.push(chunk);
            continue;
        }
        if pending_rows + chunk.num_rows() > CHUNK_ROWS {
            flush(&mut pending, &mut out)?;
            pending_rows = 0;
        }
        pending_rows += chunk.num_rows();
        pending.push(chunk);
    }
    flush(&mut pending, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;
    use crate::ForeignKeyConstraint;

    fn catalog() -> (Catalog, Arc<Table>) {
        let catalog = Catalog::new();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("v", DataType::Int64, true),
        ]));
        let table = catalog.create_table("t", schema).unwrap();
        table.set_primary_key(0, "t_pkey");
        (catalog, table)
    }

    fn rows(table: &Table, rows: &[(i64, i64)]) -> RecordBatch {
        RecordBatch::try_new(
            table.schema(),
            vec![
                Arc::new(rows.iter().map(|r| r.0).collect::<Int64Array>()),
                Arc::new(rows.iter().map(|r| r.1).collect::<Int64Array>()),
            ],
        )
        .unwrap()
    }

    fn contents(version: &TableVersion) -> Vec<(i64, i64)> {
        let mut out: Vec<(i64, i64)> = version
            .chunks()
            .iter()
            .flat_map(|c| {
                let ids = c.batch().column(0).as_primitive::<Int64Type>().clone();
                let vs = c.batch().column(1).as_primitive::<Int64Type>().clone();
                (0..ids.len())
                    .map(move |i| (ids.value(i), vs.value(i)))
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn uncommitted_writes_are_visible_only_to_their_transaction() {
        let (catalog, table) = catalog();
        let setup = catalog.begin();
        setup
            .insert(&table, &rows(&table, &[(1, 10), (2, 20)]))
            .unwrap();
        setup.commit().unwrap();
        let txn = catalog.begin();
        txn.update(&table, &rows(&table, &[(1, 11)])).unwrap();
        txn.delete(&table, &[RowKey::Int(2)]).unwrap();
        txn.insert(&table, &rows(&table, &[(3, 30)])).unwrap();
        assert_eq!(contents(&table.snapshot()), [(1, 10), (2, 20)]);
        {
            let _active = txn.activate();
            assert_eq!(contents(&table.snapshot()), [(1, 11), (3, 30)]);
        }
        txn.commit().unwrap();
        assert_eq!(contents(&table.snapshot()), [(1, 11), (3, 30)]);
        assert_eq!(catalog.transactions().locks().held_count(), 0);
    }

    #[test]
    fn savepoints_and_rollback_undo_changes_and_callbacks() {
        let (catalog, table) = catalog();
        let txn = catalog.begin();
        txn.insert(&table, &rows(&table, &[(1, 1)])).unwrap();
        let ran = Arc::new(AtomicU64::new(0));
        let depth = txn.savepoint();
        txn.update(&table, &rows(&table, &[(1, 2)])).unwrap();
        let counter = Arc::clone(&ran);
        txn.on_commit(Box::new(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        }));
        txn.rollback_to(depth).unwrap();
        assert_eq!(contents(&txn.view(&table).unwrap()), [(1, 1)]);
        let counter = Arc::clone(&ran);
        txn.on_commit(Box::new(move || {
            counter.fetch_add(10, Ordering::Relaxed);
        }));
        txn.commit().unwrap();
        assert_eq!(ran.load(Ordering::Relaxed), 10);
        assert_eq!(contents(&table.snapshot()), [(1, 1)]);

        let txn = catalog.begin();
        txn.delete(&table, &[RowKey::Int(1)]).unwrap();
        txn.rollback();
        assert_eq!(contents(&table.snapshot()), [(1, 1)]);
        assert!(txn.insert(&table, &rows(&table, &[(5, 5)])).is_err());
    }

    #[test]
    fn unique_violations_change_nothing_and_first_committer_wins() {
        let (catalog, table) = catalog();
        let txn = catalog.begin();
        txn.insert(&table, &rows(&table, &[(1, 1)])).unwrap();
        let err = txn
            .insert(&table, &rows(&table, &[(2, 2), (1, 3)]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "duplicate key value violates unique constraint \"t_pkey\"\nDETAIL:  Key (id)=(1) \
             already exists."
        );
        assert_eq!(contents(&txn.view(&table).unwrap()), [(1, 1)]);
        let other = catalog.begin();
        other.insert(&table, &rows(&table, &[(1, 9)])).unwrap();
        other.commit().unwrap();
        assert!(txn.commit().is_err());
        assert_eq!(contents(&table.snapshot()), [(1, 9)]);
    }

    #[test]
    fn insert_batches_is_one_statement() {
        let (catalog, table) = catalog();
        let txn = catalog.begin();
        let batches = [
            rows(&table, &[(1, 1), (2, 2)]),
            rows(&table, &[]),
            rows(&table, &[(3, 3)]),
        ];
        txn.insert_batches(&table, &batches).unwrap();
        assert_eq!(
            contents(&txn.view(&table).unwrap()),
            [(1, 1), (2, 2), (3, 3)]
        );
        // A duplicate across two batches refuses both: nothing of the statement stays.
        let clashing = [rows(&table, &[(4, 4)]), rows(&table, &[(5, 5), (4, 6)])];
        assert!(txn.insert_batches(&table, &clashing).is_err());
        txn.insert_batches(&table, &[]).unwrap();
        txn.commit().unwrap();
        assert_eq!(contents(&table.snapshot()), [(1, 1), (2, 2), (3, 3)]);
    }

    #[test]
    fn foreign_keys_are_checked_at_commit() {
        let (catalog, parent) = catalog();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("parent_id", DataType::Int64, true),
        ]));
        let child = catalog.create_table("c", schema).unwrap();
        child.set_primary_key(0, "c_pkey");
        child.add_foreign_key(ForeignKeyConstraint {
            name: "c_parent_id_fkey".into(),
            column: 1,
            target_table: "t".into(),
            target_column: None,
        });
        let txn = catalog.begin();
        txn.insert(&child, &rows(&child, &[(1, 7)])).unwrap();
        txn.insert(&parent, &rows(&parent, &[(7, 0)])).unwrap();
        txn.commit().unwrap();
        let txn = catalog.begin();
        txn.delete(&parent, &[RowKey::Int(7)]).unwrap();
        let err = txn.commit().unwrap_err();
        assert!(err.to_string().starts_with(
            "update or delete on table \"t\" violates foreign key constraint \"c_parent_id_fkey\""
        ));
        let txn = catalog.begin();
        txn.insert(&child, &rows(&child, &[(2, 8)])).unwrap();
        let err = txn.commit().unwrap_err();
        assert!(err
            .to_string()
            .contains("Key (parent_id)=(8) is not present in table \"t\"."));
        assert_eq!(parent.snapshot().num_rows(), 1);
        assert_eq!(child.snapshot().num_rows(), 1);
    }

    #[test]
    fn many_small_commits_stay_compact() {
        let (catalog, table) = catalog();
        for i in 0..50 {
            let txn = catalog.begin();
            txn.insert(&table, &rows(&table, &[(i, i)])).unwrap();
            if i > 0 {
                txn.update(&table, &rows(&table, &[(i - 1, -i)])).unwrap();
            }
            txn.commit().unwrap();
        }
        let snapshot = table.snapshot();
        assert_eq!(snapshot.num_rows(), 50);
        assert!(snapshot.chunks().len() <= 2, "{}", snapshot.chunks().len());
        assert_eq!(contents(&snapshot)[48], (48, -49));
    }

    #[test]
    fn foreign_keys_to_a_unique_column_are_checked_at_commit() {
        let (catalog, parent) = catalog();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("parent_v", DataType::Int64, true),
        ]));
        let child = catalog.create_table("c", schema).unwrap();
        child.set_primary_key(0, "c_pkey");
        child.add_foreign_key(ForeignKeyConstraint {
            name: "c_parent_v_fkey".into(),
            column: 1,
            target_table: "t".into(),
            target_column: Some(1),
        });
        let txn = catalog.begin();
        txn.insert(&parent, &rows(&parent, &[(1, 100), (2, 200)]))
            .unwrap();
        txn.insert(&child, &rows(&child, &[(1, 200)])).unwrap();
        txn.commit().unwrap();
        // Referencing a key value (1) instead of the to_field value fails.
        let txn = catalog.begin();
        txn.insert(&child, &rows(&child, &[(2, 1)])).unwrap();
        let err = txn.commit().unwrap_err();
        assert!(
            err.to_string()
                .contains("Key (parent_v)=(1) is not present in table \"t\"."),
            "{err}"
        );
        // Changing the referenced value of a referenced row fails; of another row it does not.
        let txn = catalog.begin();
        txn.update(&parent, &rows(&parent, &[(2, 201)])).unwrap();
        let err = txn.commit().unwrap_err();
        assert!(
            err.to_string()
                .contains("Key (v)=(200) is still referenced from table \"c\"."),
            "{err}"
        );
        let txn = catalog.begin();
        txn.update(&parent, &rows(&parent, &[(1, 101)])).unwrap();
        txn.commit().unwrap();
        // Deleting the referenced row while another row takes over its value is fine.
        let txn = catalog.begin();
        txn.delete(&parent, &[RowKey::Int(2)]).unwrap();
        txn.update(&parent, &rows(&parent, &[(1, 200)])).unwrap();
        txn.commit().unwrap();
        assert_eq!(contents(&parent.snapshot()), [(1, 200)]);
    }

    #[test]
    fn a_pinned_snapshot_reads_one_state_of_every_table() {
        let (catalog, left) = catalog();
        let right = catalog.create_table("u", left.schema()).unwrap();
        right.set_primary_key(0, "u_pkey");
        let txn = catalog.begin();
        txn.insert(&left, &rows(&left, &[(1, 10)])).unwrap();
        txn.insert(&right, &rows(&right, &[(1, 0)])).unwrap();
        txn.commit().unwrap();
        let before = catalog.version();
        let pin = catalog.pin_snapshot();
        assert_eq!(pin.version(), before);
        // A transaction on another thread moves 10 from one table to the other meanwhile.
        let mover = catalog.clone();
        std::thread::spawn(move || {
            let (left, right) = (mover.table("t").unwrap(), mover.table("u").unwrap());
            let txn = mover.begin();
            txn.update(&left, &rows(&left, &[(1, 0)])).unwrap();
            txn.update(&right, &rows(&right, &[(1, 10)])).unwrap();
            txn.commit().unwrap();
        })
        .join()
        .unwrap();
        assert_eq!(catalog.version(), before + 1);
        {
            let _nested = catalog.pin_snapshot();
            assert_eq!(contents(&right.snapshot()), [(1, 0)]);
        }
        assert_eq!(contents(&left.snapshot()), [(1, 10)]);
        assert_eq!(contents(&right.snapshot()), [(1, 0)]);
        drop(pin);
        assert_eq!(contents(&left.snapshot()), [(1, 0)]);
        assert_eq!(contents(&right.snapshot()), [(1, 10)]);
    }

    #[test]
    fn a_one_row_update_reuses_every_untouched_chunks_key_index() {
        let (catalog, table) = catalog();
        let n = CHUNK_ROWS as i64 * 3;
        let all: Vec<(i64, i64)> = (0..n).map(|i| (i, i)).collect();
        let txn = catalog.begin();
        txn.insert(&table, &rows(&table, &all)).unwrap();
        txn.commit().unwrap();
        let txn = catalog.begin();
        txn.update(&table, &rows(&table, &[(5, -5)])).unwrap();
        txn.commit().unwrap();
        let before = table.snapshot();
        assert!(before.chunks().iter().all(|c| c.cached_indexes() > 0));
        let txn = catalog.begin();
        txn.update(&table, &rows(&table, &[(CHUNK_ROWS as i64 + 1, -1)]))
            .unwrap();
        txn.commit().unwrap();
        let after = table.snapshot();
        // Only the chunk holding the row, and the chunk of the new image, are new.
        let shared = after
            .chunks()
            .iter()
            .filter(|c| before.chunks().iter().any(|b| Arc::ptr_eq(b, c)))
            .count();
        assert_eq!(shared, after.chunks().len() - 2, "{}", after.chunks().len());
        assert_eq!(after.num_rows(), n as usize);
    }
}
