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
//! replaced or deleted, and the batches of rows it wrote (inserts and new images of updated
//! rows), of which the latest image per key is live. Next to that logical delta it keeps a
//! *view*: the committed version it read, edited statement by statement as a commit would —
//! an update rewrites the rows in place in the chunks holding them (`Chunk::replace_rows`:
//! only changed columns are copied, indexes of unchanged columns shared, the others
//! patched), a delete filters the chunks holding its rows, an insert appends chunks and
//! merges the trailing small ones geometrically. So a statement costs what it changes, not
//! what the transaction wrote before it, and N statements cost O(N log N) copied rows.
//!
//! Commit publishes the view as it is when no other commit came since it was built (the
//! statements already checked it); otherwise it re-applies the logical delta to the newer
//! committed version (minus the removed keys, plus the live written rows) and checks the
//! unique constraints again. Because every replaced row is locked, no other transaction can
//! have changed those rows since they were read, so re-applying is exact.
//!
//! Rows are found by key through each chunk's cached hash index on the key column, with the
//! wanted keys clipped to each chunk's key bounds first (a run of ids touches the chunks
//! holding them only); unique constraints are checked the same way, and only when a
//! statement changed one of their columns; foreign keys through the referenced and
//! referencing columns' indexes (see `index`). An insert's keys are checked distinct on the
//! inserted column itself and absent from the rows stored before, so the chunks of new rows
//! are not indexed until something reads them through an index: a bulk load builds no index.
//!
//! Savepoints (nested `atomic()` blocks, and every statement inside a transaction) cost
//! nothing up front: changes to the deltas are logged while a savepoint or a statement is
//! open, and rolling back undoes the log's suffix and drops the `on_commit` callbacks
//! registered since. Row locks taken inside a rolled-back savepoint stay held until the
//! transaction ends (PostgreSQL releases them; holding them longer is safe, only less
//! concurrent).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, filter_record_batch, take, take_record_batch};
use arrow::datatypes::Int64Type;
use parking_lot::Mutex;

use crate::index::{find_rows, rows_with_keys, sorted_keys, Indexed};
use crate::locks::{LockManager, LockWait, TxnId};
use crate::row_key::{batch_keys, column_keys, int_keys, RowKey};
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

/// What a transaction reads of a table: a version built on one committed version, kept up
/// to date statement by statement (so a statement costs what it changes, not the size of
/// everything the transaction wrote before it).
#[derive(Clone)]
struct View {
    /// The committed version it was built on.
    base: u64,
    /// True when it was rebuilt from the delta over a newer committed version than the
    /// statements were checked against: commit checks unique constraints again.
    rebased: bool,
    version: Arc<TableVersion>,
    /// Chunks from this position on hold rows the transaction inserted; the others come from
    /// the committed version (rewritten where the transaction changed rows).
    own_from: usize,
}

/// One table's uncommitted changes: the logical delta (which committed rows are gone, which
/// rows were written) that commit re-applies when the committed version moved on, and the
/// view it reads meanwhile.
struct TableDelta {
    table: Arc<Table>,
    /// The table's name, shared by the undo entries.
    name: Arc<str>,
    /// Keys of committed rows this transaction replaced or deleted.
    removed: HashSet<RowKey, ahash::RandomState>,
    /// Batches of rows written (inserts and new images of updated rows), in statement order.
    /// Only their live rows count (see `live`).
    written: Vec<RecordBatch>,
    /// Per key, where its current image is in `written` (batch, row): a later image of the
    /// same row, or its deletion, makes an earlier one dead. Tables without a key keep every
    /// written row. Holds the rows of `written[..indexed]` only (see `indexed`).
    live: HashMap<RowKey, (u32, u32), ahash::RandomState>,
    /// `written[indexed..]` are inserted batches whose rows are not in `live` yet: every one
    /// of them is live (the primary key's unique check made their keys new, and an update or
    /// delete enters them into `live` before it supersedes any). A bulk insert of 10M rows
    /// then builds no per-row map at all; the first later update or delete in the same
    /// transaction pays for it once.
    indexed: usize,
    view: Option<View>,
}

/// How to undo one change to a delta (statement failures and savepoint rollbacks undo a
/// suffix of the log instead of copying the deltas beforehand).
enum Undo {
    /// Keys one statement added to `removed`.
    Removed(Arc<str>, Vec<RowKey>),
    Written(Arc<str>),
    Live(Arc<str>, RowKey, Option<(u32, u32)>),
    View(Arc<str>, Option<View>),
}

/// Merges the trailing chunks of rows a transaction inserted while the last is at least half
/// the one before it (and both fit one chunk): chunk sizes then grow geometrically, so N
/// small inserts keep O(log N) chunks and copy each row O(log N) times.
fn merge_tail(chunks: &mut Vec<Arc<Chunk>>, own_from: usize) -> Result<()> {
    while chunks.len() >= own_from + 2 {
        let n = chunks.len();
        let (before, last) = (chunks[n - 2].num_rows(), chunks[n - 1].num_rows());
        if before > 2 * last || before + last > CHUNK_ROWS {
            break;
        }
        #[cfg(test)]
        ROWS_COPIED.with(|c| c.set(c.get() + before + last));
        let schema = chunks[n - 1].batch().schema();
        let merged = concat_batches(&schema, [chunks[n - 2].batch(), chunks[n - 1].batch()])?;
        chunks.truncate(n - 2);
        chunks.push(Chunk::new(merged));
    }
    Ok(())
}

#[cfg(test)]
thread_local! {
    /// Rows copied by merges and rebuilds of transaction views on this thread (tests count
    /// them to show that a transaction's cost grows linearly, not quadratically).
    static ROWS_COPIED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Keys entered into transactions' `live` maps on this thread (tests count them to show
    /// that a bulk insert builds no per-row map).
    static KEYS_INDEXED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// `batch` cut into chunks of at most [`CHUNK_ROWS`] rows.
fn push_chunks(chunks: &mut Vec<Arc<Chunk>>, batch: &RecordBatch) {
    let mut offset = 0;
    while offset < batch.num_rows() {
        let len = CHUNK_ROWS.min(batch.num_rows() - offset);
        chunks.push(Chunk::new(batch.slice(offset, len)));
        offset += len;
    }
}

impl TableDelta {
    fn new(table: &Arc<Table>) -> TableDelta {
        TableDelta {
            table: Arc::clone(table),
            name: Arc::from(table.name()),
            removed: HashSet::default(),
            written: Vec::new(),
            live: HashMap::default(),
            indexed: 0,
            view: None,
        }
    }

    fn name(&self) -> Arc<str> {
        Arc::clone(&self.name)
    }

    fn key_column(&self) -> Result<usize> {
        self.table.key_column().ok_or_else(|| {
            StorageError::Internal(format!("table \"{}\" has no key", self.table.name()))
        })
    }

    fn is_empty(&self) -> bool {
        self.removed.is_empty()
            && match self.table.key_column() {
                Some(_) => {
                    self.live.is_empty()
                        && self.written[self.indexed..]
                            .iter()
                            .all(|b| b.num_rows() == 0)
                }
                None => self.written.iter().all(|b| b.num_rows() == 0),
            }
    }

    /// The rows written that are still current, batch by batch.
    fn live_rows(&self) -> Result<Vec<RecordBatch>> {
        let Some(key_column) = self.table.key_column() else {
            return Ok(self.written.clone());
        };
        let mut out = Vec::new();
        for (b, batch) in self.written[..self.indexed].iter().enumerate() {
            let keys = column_keys(batch.column(key_column))?;
            let keep: BooleanArray = keys
                .iter()
                .enumerate()
                .map(|(r, key)| Some(self.live.get(key) == Some(&(b as u32, r as u32))))
                .collect();
            let kept = filter_record_batch(batch, &keep)?;
            if kept.num_rows() > 0 {
                out.push(kept);
            }
        }
        out.extend(
            self.written[self.indexed..]
                .iter()
                .filter(|b| b.num_rows() > 0)
                .cloned(),
        );
        Ok(out)
    }

    /// The view over `committed`, rebuilt from the logical delta when it was built on
    /// another committed version.
    fn current_view(&mut self, committed: &Arc<TableVersion>) -> Result<View> {
        if let Some(view) = &self.view {
            if view.base == committed.version() {
                return Ok(view.clone());
            }
        }
        let (chunks, own_from) = self.apply(committed)?;
        let view = View {
            base: committed.version(),
            rebased: !self.is_empty(),
            version: Arc::new(TableVersion::from_chunks(committed.version(), chunks)),
            own_from,
        };
        self.view = Some(view.clone());
        Ok(view)
    }

    fn set_view(&mut self, view: &View, chunks: Vec<Arc<Chunk>>, own_from: usize) {
        self.view = Some(View {
            base: view.base,
            rebased: view.rebased,
            version: Arc::new(TableVersion::from_chunks(view.base, chunks)),
            own_from,
        });
    }

    /// Enters the rows of the inserted batches not yet in `live` (see `indexed`).
    fn index_live(&mut self) -> Result<()> {
        let Some(key_column) = self.table.key_column() else {
            self.indexed = self.written.len();
            return Ok(());
        };
        while self.indexed < self.written.len() {
            let b = self.indexed;
            let keys = column_keys(self.written[b].column(key_column))?;
            #[cfg(test)]
            KEYS_INDEXED.with(|c| c.set(c.get() + keys.len()));
            self.live.reserve(keys.len());
            for (r, key) in keys.into_iter().enumerate() {
                self.live.insert(key, (b as u32, r as u32));
            }
            self.indexed += 1;
        }
        Ok(())
    }

    /// Records `batch` as inserted: its rows enter `live` only when an update or delete
    /// needs them (see `indexed`).
    fn write_inserted(&mut self, batch: &RecordBatch, undo: &mut Vec<Undo>) {
        self.written.push(batch.clone());
        undo.push(Undo::Written(self.name()));
    }

    /// Records `batch` as written with `keys` (empty for a table without a key).
    fn write(&mut self, batch: &RecordBatch, keys: &[RowKey], undo: &mut Vec<Undo>) -> Result<()> {
        self.index_live()?;
        #[cfg(test)]
        KEYS_INDEXED.with(|c| c.set(c.get() + keys.len()));
        let b = self.written.len() as u32;
        self.written.push(batch.clone());
        undo.push(Undo::Written(self.name()));
        // Undoing `Written` forgets the batch's own live entries; only keys that were live
        // before (a later image of a row) need their previous place logged.
        for (r, key) in keys.iter().enumerate() {
            if let Some(previous) = self.live.insert(key.clone(), (b, r as u32)) {
                undo.push(Undo::Live(self.name(), key.clone(), Some(previous)));
            }
        }
        self.indexed = self.written.len();
        Ok(())
    }

    /// Marks the committed row of `key` as gone (unless the transaction wrote it). Callers
    /// index `live` first.
    /// One undo entry per statement, not per row.
    fn remove_committed<'a>(
        &mut self,
        keys: impl IntoIterator<Item = &'a RowKey>,
        undo: &mut Vec<Undo>,
    ) {
        let mut newly = Vec::new();
        for key in keys {
            if !self.live.contains_key(key) && self.removed.insert(key.clone()) {
                newly.push(key.clone());
            }
        }
        if !newly.is_empty() {
            undo.push(Undo::Removed(self.name(), newly));
        }
    }

    /// Appends `batch`; returns the view before it (what its keys are checked against).
    fn insert(
        &mut self,
        committed: &Arc<TableVersion>,
        batch: &RecordBatch,
        undo: &mut Vec<Undo>,
    ) -> Result<Arc<TableVersion>> {
        let view = self.current_view(committed)?;
        self.write_inserted(batch, undo);
        let mut chunks = view.version.chunks().to_vec();
        push_chunks(&mut chunks, batch);
        merge_tail(&mut chunks, view.own_from)?;
        self.set_view(&view, chunks, view.own_from);
        Ok(view.version)
    }

    /// Replaces the rows named by the keys of `batch` with its rows, in place; images of
    /// keys no row holds are inserted. Returns which columns changed (all, when a row was
    /// inserted).
    fn update(
        &mut self,
        committed: &Arc<TableVersion>,
        batch: &RecordBatch,
        keys: &[RowKey],
        undo: &mut Vec<Undo>,
    ) -> Result<Vec<bool>> {
        let key_column = self.key_column()?;
        self.index_live()?;
        let view = self.current_view(committed)?;
        // The wanted keys in order, each with the row of its image in `batch` (the last one
        // when a key comes twice): a sort, which costs one pass over keys in key order,
        // instead of a map from key to image.
        let mut images_by_key: Vec<(&RowKey, u32)> = keys
            .iter()
            .enumerate()
            .filter(|(_, key)| !key.has_null())
            .map(|(row, key)| (key, row as u32))
            .collect();
        if !images_by_key.is_sorted() {
            images_by_key.sort_unstable();
        }
        images_by_key.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                earlier.1 = later.1;
            }
            same
        });
        let wanted: Vec<&RowKey> = images_by_key.iter().map(|(key, _)| *key).collect();
        let mut found_key = vec![false; wanted.len()];
        let mut changed = vec![false; batch.num_columns()];
        let mut chunks = view.version.chunks().to_vec();
        for chunk in chunks.iter_mut() {
            let found = find_rows(Indexed::Columns(&[key_column]).of(chunk)?.as_ref(), &wanted);
            if found.is_empty() {
                continue;
            }
            let rows: Vec<u32> = found.iter().map(|f| f.0).collect();
            let images = UInt32Array::from_iter_values(found.iter().map(|f| {
                found_key[f.1] = true;
                images_by_key[f.1].1
            }));
            let images = take_record_batch(batch, &images)?;
            let (replaced, columns) = chunk.replace_rows(&rows, &images)?;
            *chunk = replaced;
            for (any, this) in changed.iter_mut().zip(columns) {
                *any |= this;
            }
        }
        let missing: Vec<u32> = found_key
            .iter()
            .enumerate()
            .filter(|(_, found)| !**found)
            .map(|(i, _)| images_by_key[i].1)
            .collect();
        if !missing.is_empty() {
            push_chunks(
                &mut chunks,
                &take_record_batch(batch, &UInt32Array::from(missing))?,
            );
            merge_tail(&mut chunks, view.own_from)?;
            changed = vec![true; batch.num_columns()];
        }
        self.remove_committed(keys, undo);
        self.write(batch, keys, undo)?;
        self.set_view(&view, chunks, view.own_from);
        Ok(changed)
    }

    fn delete(
        &mut self,
        committed: &Arc<TableVersion>,
        keys: &[RowKey],
        undo: &mut Vec<Undo>,
    ) -> Result<()> {
        let key_column = self.key_column()?;
        self.index_live()?;
        let view = self.current_view(committed)?;
        let wanted = sorted_keys(keys);
        let mut chunks = Vec::with_capacity(view.version.chunks().len());
        let mut own_from = view.own_from;
        for (position, chunk) in view.version.chunks().iter().enumerate() {
            let rows = rows_with_keys(chunk, key_column, &wanted)?;
            if rows.is_empty() {
                chunks.push(Arc::clone(chunk));
            } else if rows.len() < chunk.num_rows() {
                chunks.push(chunk.without_rows(&rows)?);
            } else if position < view.own_from {
                own_from -= 1;
            }
        }
        let mut committed_keys = Vec::with_capacity(keys.len());
        for key in keys {
            match self.live.remove(key) {
                Some(previous) => undo.push(Undo::Live(self.name(), key.clone(), Some(previous))),
                None => committed_keys.push(key),
            }
        }
        self.remove_committed(committed_keys, undo);
        self.set_view(&view, chunks, own_from);
        Ok(())
    }

    /// `committed` minus the removed rows plus the live written ones, and where the written
    /// ones start. Chunks holding none of the removed keys are shared untouched.
    fn apply(&self, committed: &TableVersion) -> Result<(Vec<Arc<Chunk>>, usize)> {
        let mut chunks = Vec::with_capacity(committed.chunks().len() + 1);
        let removed = sorted_keys(&self.removed);
        for chunk in committed.chunks() {
            if removed.is_empty() {
                chunks.push(Arc::clone(chunk));
                continue;
            }
            let rows = rows_with_keys(chunk, self.key_column()?, &removed)?;
            if rows.is_empty() {
                chunks.push(Arc::clone(chunk));
            } else if rows.len() < chunk.num_rows() {
                chunks.push(chunk.without_rows(&rows)?);
            }
        }
        let own_from = chunks.len();
        let live = self.live_rows()?;
        #[cfg(test)]
        ROWS_COPIED
            .with(|c| c.set(c.get() + live.iter().map(RecordBatch::num_rows).sum::<usize>()));
        if !live.is_empty() {
            push_chunks(&mut chunks, &concat_batches(&self.table.schema(), &live)?);
        }
        Ok((chunks, own_from))
    }
}

struct Savepoint {
    undo_len: usize,
    on_commit_len: usize,
}

type Callback = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct TxnState {
    deltas: BTreeMap<String, TableDelta>,
    savepoints: Vec<Savepoint>,
    on_commit: Vec<Callback>,
    /// Changes to the deltas since the oldest open savepoint or the running statement began.
    undo: Vec<Undo>,
    finished: bool,
}

impl TxnState {
    /// Undoes the changes logged after position `mark`, newest first.
    fn undo_to(&mut self, mark: usize) {
        while self.undo.len() > mark {
            let Some(undo) = self.undo.pop() else { break };
            let table = match &undo {
                Undo::Removed(t, _) | Undo::Written(t) | Undo::Live(t, _, _) | Undo::View(t, _) => {
                    Arc::clone(t)
                }
            };
            let Some(delta) = self.deltas.get_mut(table.as_ref()) else {
                continue;
            };
            match undo {
                Undo::Removed(_, keys) => {
                    for key in &keys {
                        delta.removed.remove(key);
                    }
                }
                Undo::Written(_) => {
                    let Some(batch) = delta.written.pop() else {
                        continue;
                    };
                    let b = delta.written.len() as u32;
                    let indexed = delta.indexed > delta.written.len();
                    delta.indexed = delta.indexed.min(delta.written.len());
                    let keys = match delta.table.key_column() {
                        // The keys were read from this batch when it was written.
                        Some(k) if indexed => column_keys(batch.column(k)).unwrap_or_default(),
                        _ => Vec::new(),
                    };
                    for (r, key) in keys.iter().enumerate() {
                        if delta.live.get(key) == Some(&(b, r as u32)) {
                            delta.live.remove(key);
                        }
                    }
                }
                Undo::Live(_, key, Some(previous)) => {
                    delta.live.insert(key, previous);
                }
                Undo::Live(_, key, None) => {
                    delta.live.remove(&key);
                }
                Undo::View(_, view) => delta.view = view,
            }
        }
    }
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
        let Some(delta) = state.deltas.get_mut(table.name()) else {
            return Ok(committed);
        };
        if delta.is_empty() {
            return Ok(committed);
        }
        Ok(delta.current_view(&committed)?.version)
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
    /// Loading a table batch by batch through [`insert`](Self::insert) would check each
    /// batch as its own statement; this concatenates once and checks once.
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
        let all = vec![true; batch.num_columns()];
        self.change(table, &batch, |delta, committed, undo| {
            let before = delta.insert(committed, &batch, undo)?;
            Ok(Edited {
                changed: all,
                added_to: Some(before),
            })
        })
    }

    /// Replaces existing rows by key with the new images in `batch` (locking them first), in
    /// place: chunks holding none of them are shared, and the ones holding them copy only
    /// the columns whose values change.
    pub fn update(&self, table: &Arc<Table>, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        table.check_batch(batch)?;
        let batch = table.conform(batch);
        let keys = table_keys(table, &batch)?;
        self.lock_committed(table, &keys)?;
        self.change(table, &batch, |delta, committed, undo| {
            Ok(Edited {
                changed: delta.update(committed, &batch, &keys, undo)?,
                added_to: None,
            })
        })
    }

    /// Deletes rows by key (locking them first); returns how many keys were given.
    pub fn delete(&self, table: &Arc<Table>, keys: &[RowKey]) -> Result<usize> {
        if keys.is_empty() {
            return Ok(0);
        }
        self.lock_committed(table, keys)?;
        let empty = RecordBatch::new_empty(table.schema());
        self.change(table, &empty, |delta, committed, undo| {
            delta.delete(committed, keys, undo)?;
            Ok(Edited::nothing())
        })?;
        Ok(keys.len())
    }

    /// Locks the keys that do not name this transaction's own new rows.
    fn lock_committed(&self, table: &Table, keys: &[RowKey]) -> Result<()> {
        let foreign: Vec<RowKey> = {
            let mut state = self.state.lock();
            match state.deltas.get_mut(table.name()) {
                Some(delta) => {
                    delta.index_live()?;
                    keys.iter()
                        .filter(|k| !delta.live.contains_key(*k) || delta.removed.contains(*k))
                        .cloned()
                        .collect()
                }
                None => keys.to_vec(),
            }
        };
        self.lock_rows(table.name(), &foreign, LockWait::Block)?;
        Ok(())
    }

    /// Applies `edit` (which returns the columns it changed) to the table's delta, then
    /// checks the statement-level constraints on the `touched` rows; a violation undoes the
    /// statement. Costs what the statement changes: nothing the transaction wrote before is
    /// copied or re-checked.
    fn change(
        &self,
        table: &Arc<Table>,
        touched: &RecordBatch,
        edit: impl FnOnce(&mut TableDelta, &Arc<TableVersion>, &mut Vec<Undo>) -> Result<Edited>,
    ) -> Result<()> {
        self.check_open()?;
        let committed = table.read_base();
        let (mark, view, edited) = {
            let mut guard = self.state.lock();
            let state = &mut *guard;
            if state.savepoints.is_empty() {
                state.undo.clear();
            }
            let mark = state.undo.len();
            let delta = state
                .deltas
                .entry(table.name().to_string())
                .or_insert_with(|| TableDelta::new(table));
            state
                .undo
                .push(Undo::View(delta.name(), delta.view.clone()));
            let edited = edit(delta, &committed, &mut state.undo);
            let view = delta.view.as_ref().map(|v| Arc::clone(&v.version));
            match (edited, view) {
                (Ok(edited), Some(view)) => (mark, view, edited),
                (Ok(_), None) => (mark, Arc::clone(&committed), Edited::nothing()),
                (Err(error), _) => {
                    state.undo_to(mark);
                    return Err(error);
                }
            }
        };
        let checked = check_row_constraints(table, &view, touched, &edited);
        if checked.is_err() {
            self.state.lock().undo_to(mark);
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
    /// [`release`](Self::release). Costs nothing: changes made after it are logged, and a
    /// rollback undoes them.
    pub fn savepoint(&self) -> usize {
        let mut state = self.state.lock();
        if state.savepoints.is_empty() {
            state.undo.clear();
        }
        let savepoint = Savepoint {
            undo_len: state.undo.len(),
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
        state.undo_to(savepoint.undo_len);
        state.on_commit.truncate(savepoint.on_commit_len);
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
        state.undo.clear();
        drop(state);
        self.catalog.transactions().locks.release_all(self.id);
    }

    /// Publishes every change at once, checking unique constraints again against the latest
    /// committed data when it moved on since the statements checked them, and foreign keys
    /// (deferred, as Django declares them); on a violation the transaction is rolled back
    /// and the error returned. Runs the `on_commit` callbacks after the locks are released.
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
        state.undo.clear();
        drop(state);
        self.catalog.transactions().locks.release_all(self.id);
        published?;
        for callback in callbacks {
            callback();
        }
        Ok(())
    }

    /// The chunks each changed table will have, checked. Runs under the writer lock. When
    /// no other commit came between, the view the statements built and checked is what is
    /// published; otherwise the delta is re-applied to the newer version and checked again.
    fn prepare(&self, state: &TxnState) -> Result<Vec<(Arc<Table>, Vec<Arc<Chunk>>)>> {
        let mut versions = Vec::new();
        let mut new_versions: HashMap<String, Arc<TableVersion>> = HashMap::new();
        let mut written: HashMap<String, Vec<RecordBatch>> = HashMap::new();
        for (name, delta) in &state.deltas {
            if delta.is_empty() {
                continue;
            }
            let committed = delta.table.committed();
            let (chunks, checked) = match &delta.view {
                Some(view) if view.base == committed.version() && !view.rebased => {
                    (view.version.chunks().to_vec(), true)
                }
                _ => (delta.apply(&committed)?.0, false),
            };
            let chunks = compact(chunks)?;
            let version = Arc::new(TableVersion::from_chunks(
                committed.version(),
                chunks.clone(),
            ));
            // The written rows are read again only when something is checked again: unique
            // constraints after a rebase, foreign keys always.
            let has_foreign_keys = !delta.table.constraints().foreign_keys.is_empty();
            if !checked || has_foreign_keys {
                let live = delta.live_rows()?;
                if !checked {
                    for batch in &live {
                        for constraint in delta.table.constraints().unique {
                            check_unique(&delta.table, &version, batch, &constraint)?;
                        }
                    }
                }
                written.insert(name.clone(), live);
            }
            new_versions.insert(name.clone(), version);
            versions.push((Arc::clone(&delta.table), chunks));
        }
        self.check_foreign_keys(state, &new_versions, &written)?;
        Ok(versions)
    }

    fn check_foreign_keys(
        &self,
        state: &TxnState,
        new_versions: &HashMap<String, Arc<TableVersion>>,
        written: &HashMap<String, Vec<RecordBatch>>,
    ) -> Result<()> {
        let version_of = |table: &Table| -> Arc<TableVersion> {
            new_versions
                .get(table.name())
                .cloned()
                .unwrap_or_else(|| table.committed())
        };
        // Rows written here must reference existing rows.
        for delta in state.deltas.values() {
            let Some(batches) = written.get(delta.table.name()) else {
                continue;
            };
            for added in batches {
                for fk in delta.table.constraints().foreign_keys {
                    let target = self.catalog.table(&fk.target_table)?;
                    let target_column = referenced_column(&fk, &target)?;
                    let values = column_keys(added.column(fk.column))?;
                    let wanted: HashSet<&RowKey> =
                        values.iter().filter(|k| !k.has_null()).collect();
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
                             \"{}\"\nDETAIL:  Key ({column})=({missing}) is not present in \
                             table \"{}\".",
                            delta.table.name(),
                            fk.name,
                            fk.target_table
                        )));
                    }
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
                let gone = sorted_keys(&gone);
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
    let removed = sorted_keys(&delta.removed);
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

/// What one statement did to a table's view, for the statement-level checks.
struct Edited {
    /// Per column: whether the statement changed some row's value (all, for an insert).
    changed: Vec<bool>,
    /// For a statement that only added rows (an insert): the view before it. The new rows'
    /// keys are then checked to be distinct and absent from it, so the chunks holding the new
    /// rows are neither probed nor indexed: loading a table builds none of its indexes.
    added_to: Option<Arc<TableVersion>>,
}

impl Edited {
    /// A statement that wrote no row (a delete).
    fn nothing() -> Edited {
        Edited {
            changed: Vec::new(),
            added_to: None,
        }
    }
}

/// Statement-level checks on the rows a statement wrote: check constraints, then the unique
/// constraints, against the whole view (an update) or the view before the statement (an
/// insert). A unique constraint none of whose columns changed (an update of other columns)
/// and without a condition cannot have become violated.
fn check_row_constraints(
    table: &Table,
    view: &TableVersion,
    touched: &RecordBatch,
    edited: &Edited,
) -> Result<()> {
    let changed = &edited.changed;
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
        let unchanged = constraint.condition.is_none()
            && constraint
                .columns
                .iter()
                .all(|&c| changed.get(c) == Some(&false));
        match &edited.added_to {
            Some(before) => check_new_keys(table, before, touched, constraint)?,
            None if !unchanged => check_unique(table, view, touched, constraint)?,
            None => {}
        }
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

/// Fails when two rows of `added` share a key of `constraint`, or one has a key some row of
/// `before` holds (`added` being new rows, not in `before`). Keys of one integer column are
/// checked for distinctness on the column itself, without a `RowKey` per row, and automatic
/// ids (ascending) in one pass; `before`'s chunks are probed through their indexes.
fn check_new_keys(
    table: &Table,
    before: &TableVersion,
    added: &RecordBatch,
    constraint: &UniqueConstraint,
) -> Result<()> {
    if let ([column], None) = (constraint.columns.as_slice(), &constraint.condition) {
        if let Some(ints) = int_keys(added.column(*column))? {
            let ints = ints.as_primitive::<Int64Type>();
            // Ascending without NULLs (automatic ids) is read in place; otherwise the
            // non-NULL values are sorted. A duplicate is reported by the general path,
            // which names the first in row order, as PostgreSQL does.
            let ascending = ints.null_count() == 0 && ints.values().is_sorted_by(|a, b| a < b);
            let distinct = ascending || {
                let mut values: Vec<i64> = ints.iter().flatten().collect();
                values.sort_unstable();
                values.windows(2).all(|pair| pair[0] != pair[1])
            };
            if distinct && before.chunks().is_empty() {
                return Ok(());
            }
        }
    }
    let keys: Vec<RowKey> = constrained_keys(added, constraint)?
        .into_iter()
        .flatten()
        .collect();
    let wanted = sorted_keys(&keys);
    if wanted.len() < keys.len() {
        let mut seen = HashSet::new();
        if let Some(key) = keys.iter().find(|k| !seen.insert(*k)) {
            return Err(duplicate_key(table, constraint, key));
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let indexed = Indexed::Unique(constraint);
    for chunk in before.chunks() {
        if let Some((_, key)) = find_rows(indexed.of(chunk)?.as_ref(), &wanted).first() {
            return Err(duplicate_key(table, constraint, wanted[*key]));
        }
    }
    Ok(())
}

/// Counts, through each chunk's index of the constraint, how often each key of `touched`
/// occurs in `version`; a count above one is a violation. Each chunk is asked only for the
/// keys within its bounds, so new keys above every stored one (automatic ids) cost two
/// binary searches per chunk.
fn check_unique(
    table: &Table,
    version: &TableVersion,
    touched: &RecordBatch,
    constraint: &UniqueConstraint,
) -> Result<()> {
    let keys: Vec<RowKey> = constrained_keys(touched, constraint)?
        .into_iter()
        .flatten()
        .collect();
    let wanted = sorted_keys(&keys);
    if wanted.is_empty() {
        return Ok(());
    }
    if wanted.len() < keys.len() {
        // Two touched rows share a key.
        let mut seen = HashSet::new();
        if let Some(key) = keys.iter().find(|k| !seen.insert(*k)) {
            return Err(duplicate_key(table, constraint, key));
        }
    }
    let mut counts = vec![0usize; wanted.len()];
    let indexed = Indexed::Unique(constraint);
    for chunk in version.chunks() {
        for (_, key) in find_rows(indexed.of(chunk)?.as_ref(), &wanted) {
            counts[key] += 1;
            if counts[key] > 1 {
                return Err(duplicate_key(table, constraint, wanted[key]));
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

    /// A bulk insert's keys are checked on the column (sorted or not), and against the rows
    /// stored before; a duplicate is the first one in row order, as PostgreSQL names it, and
    /// a unique column allows any number of NULLs.
    #[test]
    fn bulk_inserts_find_duplicates_among_new_and_stored_rows() {
        let (catalog, table) = catalog();
        table.add_unique_constraint(UniqueConstraint {
            name: "t_v_key".into(),
            columns: vec![1],
            condition: None,
        });
        let nullable = |pairs: &[(i64, Option<i64>)]| {
            RecordBatch::try_new(
                table.schema(),
                vec![
                    Arc::new(pairs.iter().map(|r| r.0).collect::<Int64Array>()),
                    Arc::new(pairs.iter().map(|r| r.1).collect::<Int64Array>()),
                ],
            )
            .unwrap()
        };
        let error = |batch: &RecordBatch| {
            let txn = catalog.begin();
            let message = txn.insert(&table, batch).unwrap_err().to_string();
            txn.rollback();
            message
        };
        let duplicate = |constraint: &str, column: &str, key: i64| {
            format!(
                "duplicate key value violates unique constraint \"{constraint}\"\nDETAIL:  \
                 Key ({column})=({key}) already exists."
            )
        };
        let unsorted = nullable(&[
            (5, Some(1)),
            (3, Some(2)),
            (9, Some(3)),
            (3, Some(4)),
            (5, None),
        ]);
        assert_eq!(error(&unsorted), duplicate("t_pkey", "id", 3));
        let repeated_values = nullable(&[
            (1, Some(7)),
            (2, None),
            (3, Some(8)),
            (4, None),
            (5, Some(7)),
        ]);
        assert_eq!(error(&repeated_values), duplicate("t_v_key", "v", 7));
        let txn = catalog.begin();
        txn.insert(&table, &nullable(&[(1, Some(10)), (2, None), (3, None)]))
            .unwrap();
        txn.commit().unwrap();
        assert_eq!(
            error(&nullable(&[(4, Some(11)), (2, Some(12))])),
            duplicate("t_pkey", "id", 2)
        );
        assert_eq!(
            error(&nullable(&[(4, Some(11)), (5, Some(10))])),
            duplicate("t_v_key", "v", 10)
        );
        let txn = catalog.begin();
        txn.insert(&table, &nullable(&[(7, None), (4, Some(11))]))
            .unwrap();
        txn.commit().unwrap();
        assert_eq!(table.snapshot().num_rows(), 5);
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
    fn a_one_row_update_rewrites_one_column_of_one_chunk_in_place() {
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
        let key_index = |chunk: &Chunk| Indexed::Columns(&[0]).of(chunk).unwrap();
        let target = CHUNK_ROWS as i64 + 1;
        let txn = catalog.begin();
        txn.update(&table, &rows(&table, &[(target, -1)])).unwrap();
        txn.commit().unwrap();
        let after = table.snapshot();
        // Only the chunk holding the row is new; the row stays where it was; its key column
        // and key index are the old chunk's, shared.
        assert_eq!(after.chunks().len(), 3);
        for i in [0, 2] {
            assert!(Arc::ptr_eq(&before.chunks()[i], &after.chunks()[i]));
        }
        let (old, new) = (&before.chunks()[1], &after.chunks()[1]);
        assert!(!Arc::ptr_eq(old, new));
        assert!(Arc::ptr_eq(old.batch().column(0), new.batch().column(0)));
        assert!(Arc::ptr_eq(&key_index(old), &key_index(new)));
        let values = new.batch().column(1).as_primitive::<Int64Type>();
        assert_eq!(values.value(1), -1);
        assert_eq!(values.value(2), target + 1);
        // Statistics stay exact in NULLs and enclosing in bounds.
        let statistics = new.statistics(1).unwrap();
        assert_eq!(statistics.min, Some(crate::ScalarValue::Int64(Some(-1))));
        assert_eq!(statistics.null_count, 0);
        assert_eq!(after.num_rows(), n as usize);
        assert_eq!(contents(&after)[target as usize], (target, -1));
    }

    /// `t_v`: an ordered index on the table's `v` column.
    fn ordered_index_on_v() -> crate::index::IndexDefinition {
        crate::index::IndexDefinition {
            name: "t_v".into(),
            columns: vec![1],
            descending: vec![false],
            kind: crate::index::IndexKind::Ordered,
            condition: None,
            condition_expr: None,
        }
    }

    /// A declared ordered index on `v` after many updates of one chunk, against a sorted
    /// copy of the data: patched indexes answer points, ranges and orders exactly, and a
    /// chunk's patch is rebuilt once it holds more than `PATCH_ROWS` rows.
    #[test]
    fn patched_indexes_agree_with_the_data_under_updates() {
        use crate::index::{index_of, RowAddress};
        use std::ops::Bound;
        let (catalog, table) = catalog();
        table.add_index(ordered_index_on_v()).unwrap();
        let n = 2_000i64;
        let txn = catalog.begin();
        let all: Vec<(i64, i64)> = (0..n).map(|i| (i, i % 100)).collect();
        txn.insert(&table, &rows(&table, &all)).unwrap();
        txn.commit().unwrap();
        let definition = table.indexes().remove(0);
        let mut model: Vec<(i64, i64)> = all;
        let mut seed = 7u64;
        for step in 0..600 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let id = (seed >> 33) as i64 % n;
            let v = (seed >> 17) as i64 % 120 - 10;
            // Read the index first so that the update patches it rather than leaving it to
            // be built.
            index_of(&table.snapshot(), &definition).unwrap();
            let txn = catalog.begin();
            txn.update(&table, &rows(&table, &[(id, v)])).unwrap();
            txn.commit().unwrap();
            model[id as usize].1 = v;
            if step % 50 != 49 {
                continue;
            }
            let version = table.snapshot();
            let index = index_of(&version, &definition).unwrap();
            let values_at = |addresses: Vec<RowAddress>| -> Vec<(i64, i64)> {
                addresses
                    .iter()
                    .map(|a| {
                        let batch = version.chunks()[a.chunk as usize].batch();
                        (
                            batch
                                .column(0)
                                .as_primitive::<Int64Type>()
                                .value(a.row as usize),
                            batch
                                .column(1)
                                .as_primitive::<Int64Type>()
                                .value(a.row as usize),
                        )
                    })
                    .collect()
            };
            let mut expected: Vec<(i64, i64)> = model.iter().map(|r| (r.1, r.0)).collect();
            expected.sort();
            let ordered: Vec<i64> = values_at(index.ordered(false, None).unwrap())
                .iter()
                .map(|r| r.1)
                .collect();
            assert_eq!(ordered, expected.iter().map(|e| e.0).collect::<Vec<_>>());
            let mut found = values_at(index.lookup(&[RowKey::Int(7)]));
            found.sort();
            let wanted: Vec<(i64, i64)> = model.iter().filter(|r| r.1 == 7).copied().collect();
            assert_eq!(found, wanted);
            let range = values_at(
                index
                    .range(
                        Bound::Included(RowKey::Int(-5)),
                        Bound::Excluded(RowKey::Int(3)),
                    )
                    .unwrap(),
            );
            let in_range = model.iter().filter(|r| (-5..3).contains(&r.1)).count();
            assert_eq!(range.len(), in_range);
            assert!(range.iter().all(|r| (-5..3).contains(&r.1)));
            assert_eq!(index.len(), n as usize);
            assert!(index
                .chunk_indexes()
                .iter()
                .all(|c| c.patched_rows() <= crate::index::PATCH_ROWS));
        }
        assert_eq!(contents(&table.snapshot()), model);
    }

    /// Deletes carry a chunk's indexes over, renumbered, instead of rebuilding them: after
    /// each delete (mixed with updates, whose patched indexes are rebuilt instead) the
    /// ordered index and the primary key's hash index agree with a model of the rows, and
    /// no entry was built from the data for an unpatched index.
    #[test]
    fn deletes_renumber_indexes_exactly() {
        use crate::index::{index_of, ENTRIES_BUILT, ENTRIES_RENUMBERED};
        let (catalog, table) = catalog();
        table.add_index(ordered_index_on_v()).unwrap();
        let n = 3_000i64;
        let all: Vec<(i64, i64)> = (0..n).map(|i| (i, i % 100)).collect();
        let txn = catalog.begin();
        txn.insert(&table, &rows(&table, &all)).unwrap();
        txn.commit().unwrap();
        let definition = table.indexes().remove(0);
        let mut model = all;
        let mut seed = 11u64;
        let mut next = |bound: i64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as i64 % bound
        };
        for step in 0..60 {
            let version = table.snapshot();
            let patched = index_of(&version, &definition)
                .unwrap()
                .chunk_indexes()
                .iter()
                .any(|c| c.patched_rows() > 0);
            let pk = Indexed::Columns(&[0]);
            for chunk in version.chunks() {
                pk.of(chunk).unwrap();
            }
            let (built, renumbered) = (
                ENTRIES_BUILT.with(|c| c.get()),
                ENTRIES_RENUMBERED.with(|c| c.get()),
            );
            let txn = catalog.begin();
            if step % 5 == 4 {
                let id = model[next(model.len() as i64) as usize].0;
                txn.update(&table, &rows(&table, &[(id, -7)])).unwrap();
                if let Some(row) = model.iter_mut().find(|r| r.0 == id) {
                    row.1 = -7;
                }
            } else {
                let gone: Vec<RowKey> = (0..5)
                    .map(|_| RowKey::Int(model[next(model.len() as i64) as usize].0))
                    .collect();
                txn.delete(&table, &gone).unwrap();
                model.retain(|r| !gone.contains(&RowKey::Int(r.0)));
            }
            txn.commit().unwrap();
            let version = table.snapshot();
            let index = index_of(&version, &definition).unwrap();
            if step % 5 != 4 && !patched {
                assert_eq!(ENTRIES_BUILT.with(|c| c.get()), built, "step {step}");
                assert!(ENTRIES_RENUMBERED.with(|c| c.get()) > renumbered);
            }
            let value_at = |a: &crate::index::RowAddress| {
                let batch = version.chunks()[a.chunk as usize].batch();
                (
                    batch
                        .column(0)
                        .as_primitive::<Int64Type>()
                        .value(a.row as usize),
                    batch
                        .column(1)
                        .as_primitive::<Int64Type>()
                        .value(a.row as usize),
                )
            };
            let ordered: Vec<i64> = index
                .ordered(false, None)
                .unwrap()
                .iter()
                .map(|a| value_at(a).1)
                .collect();
            let mut expected: Vec<i64> = model.iter().map(|r| r.1).collect();
            expected.sort();
            assert_eq!(ordered, expected, "step {step}");
            let mut sevens: Vec<(i64, i64)> = index
                .lookup(&[RowKey::Int(7)])
                .iter()
                .map(value_at)
                .collect();
            sevens.sort();
            let wanted: Vec<(i64, i64)> = model.iter().filter(|r| r.1 == 7).copied().collect();
            assert_eq!(sevens, wanted, "step {step}");
            // Every remaining key is found by the primary key's index at its own row.
            let keys: Vec<RowKey> = model.iter().map(|r| RowKey::Int(r.0)).collect();
            let wanted = sorted_keys(&keys);
            let mut found = 0;
            for chunk in version.chunks() {
                let ids = chunk.batch().column(0).as_primitive::<Int64Type>().clone();
                for (row, key) in
                    find_rows(Indexed::Columns(&[0]).of(chunk).unwrap().as_ref(), &wanted)
                {
                    assert_eq!(&RowKey::Int(ids.value(row as usize)), wanted[key]);
                    found += 1;
                }
            }
            assert_eq!(found, model.len(), "step {step}");
        }
        assert_eq!(contents(&table.snapshot()), model);
    }

    /// N one-row statements in one transaction cost O(N log N) copied rows, not O(N²): the
    /// delta is appended to, the view is edited, and nothing is re-concatenated, re-checked
    /// or copied for a savepoint.
    #[test]
    fn many_statements_in_one_transaction_copy_each_row_a_few_times() {
        let (catalog, table) = catalog();
        let txn = catalog.begin();
        let _active = txn.activate();
        let n = 4_096i64;
        ROWS_COPIED.with(|c| c.set(0));
        for i in 0..n {
            let depth = txn.savepoint();
            txn.insert(&table, &rows(&table, &[(i, i)])).unwrap();
            txn.release(depth);
            if i % 2 == 1 {
                txn.update(&table, &rows(&table, &[(i - 1, -i)])).unwrap();
            }
        }
        let copied = ROWS_COPIED.with(|c| c.get());
        let log = (n as f64).log2() as usize + 1;
        assert!(copied <= n as usize * log, "{copied} rows copied");
        let view = table.snapshot();
        assert!(view.chunks().len() <= 2 * log, "{}", view.chunks().len());
        assert_eq!(view.num_rows(), n as usize);
        {
            let state = txn.state.lock();
            let delta = &state.deltas["t"];
            assert_eq!(delta.written.len(), n as usize + n as usize / 2);
            assert!(state.undo.len() <= 4, "{}", state.undo.len());
        }
        // A duplicate key undoes its statement only.
        assert!(txn.insert(&table, &rows(&table, &[(3, 3)])).is_err());
        drop(_active);
        txn.commit().unwrap();
        let committed = contents(&table.snapshot());
        assert_eq!(committed.len(), n as usize);
        assert_eq!(committed[0], (0, -1));
        assert_eq!(committed[3], (3, 3));
    }

    /// Work counted, not timed: a bulk insert indexes none of its new rows (their keys are
    /// checked distinct on the column, and against the rows stored before through those
    /// rows' chunk indexes, built once, on first need, and kept), builds no per-row map of
    /// written keys, and copies no row, however many rows the table already holds; the first
    /// update of the transaction's own rows enters them into that map once.
    #[test]
    fn bulk_inserts_index_only_the_stored_rows_once() {
        use crate::index::ENTRIES_BUILT;
        let (catalog, table) = catalog();
        let counters = || {
            (
                ENTRIES_BUILT.with(|c| c.get()),
                KEYS_INDEXED.with(|c| c.get()),
                ROWS_COPIED.with(|c| c.get()),
            )
        };
        let batches = |from: i64, rows: i64| -> Vec<RecordBatch> {
            (from..from + rows)
                .collect::<Vec<i64>>()
                .chunks(10_000)
                .map(|ids| rows_of(&table, ids))
                .collect()
        };
        fn rows_of(table: &Table, ids: &[i64]) -> RecordBatch {
            let pairs: Vec<(i64, i64)> = ids.iter().map(|&i| (i, i % 7)).collect();
            rows(table, &pairs)
        }
        let first = 3 * CHUNK_ROWS as i64 + 5;
        let second = 2 * CHUNK_ROWS as i64;
        let third = 10;
        for (from, count) in [(0, first), (first, second), (first + second, third)] {
            let before = counters();
            let txn = catalog.begin();
            txn.insert_batches(&table, &batches(from, count)).unwrap();
            let after_insert = counters();
            // The first insert probes no stored row; the second indexes the rows stored by
            // the first, once; the third finds every stored chunk indexed already (by the
            // second insert's check and its updates).
            let indexed = if from == first { first as usize } else { 0 };
            assert_eq!(after_insert.0 - before.0, indexed, "rows indexed");
            assert_eq!(after_insert.1, before.1, "no written-key map");
            assert_eq!(after_insert.2, before.2, "no row copied");
            if from == first {
                // The transaction's own rows enter its key map once, at its first update.
                txn.update(&table, &rows(&table, &[(from + 1, -1)]))
                    .unwrap();
                let updated = counters();
                assert_eq!(updated.1 - after_insert.1, count as usize + 1);
                txn.update(&table, &rows(&table, &[(from + 2, -2)]))
                    .unwrap();
                assert_eq!(counters().1 - updated.1, 1);
            }
            txn.commit().unwrap();
        }
        let stored = contents(&table.snapshot());
        assert_eq!(stored.len(), (first + second + third) as usize);
        assert_eq!(stored[first as usize + 1], (first + 1, -1));
        assert_eq!(stored[first as usize + 3], (first + 3, (first + 3) % 7));
    }

    #[test]
    fn updates_and_deletes_of_own_rows_then_a_concurrent_commit_rebase_exactly() {
        let (catalog, table) = catalog();
        let setup = catalog.begin();
        setup
            .insert(&table, &rows(&table, &[(1, 1), (2, 2), (3, 3)]))
            .unwrap();
        setup.commit().unwrap();
        let txn = catalog.begin();
        txn.insert(&table, &rows(&table, &[(4, 4), (5, 5)]))
            .unwrap();
        txn.update(&table, &rows(&table, &[(4, 40), (1, 10)]))
            .unwrap();
        txn.delete(&table, &[RowKey::Int(5), RowKey::Int(2)])
            .unwrap();
        let depth = txn.savepoint();
        txn.update(&table, &rows(&table, &[(3, 30), (4, 41)]))
            .unwrap();
        txn.rollback_to(depth).unwrap();
        assert_eq!(
            contents(&txn.view(&table).unwrap()),
            [(1, 10), (3, 3), (4, 40)]
        );
        // Another transaction commits a row meanwhile: the view is rebuilt over it.
        let other = catalog.begin();
        other.insert(&table, &rows(&table, &[(6, 6)])).unwrap();
        other.commit().unwrap();
        assert_eq!(
            contents(&txn.view(&table).unwrap()),
            [(1, 10), (3, 3), (4, 40), (6, 6)]
        );
        txn.update(&table, &rows(&table, &[(6, 60)])).unwrap();
        txn.commit().unwrap();
        assert_eq!(
            contents(&table.snapshot()),
            [(1, 10), (3, 3), (4, 40), (6, 60)]
        );
        // Rows inserted by two transactions with one key: the second commit fails even
        // when its view was rebuilt after the first.
        let first = catalog.begin();
        let second = catalog.begin();
        first.insert(&table, &rows(&table, &[(7, 7)])).unwrap();
        second.insert(&table, &rows(&table, &[(7, 8)])).unwrap();
        first.commit().unwrap();
        second.update(&table, &rows(&table, &[(1, 11)])).unwrap();
        assert!(second.commit().is_err());
        assert_eq!(contents(&table.snapshot()).len(), 5);
    }
}
