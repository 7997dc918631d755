//! [`Catalog`]: the set of named tables of one database, its transaction manager, and
//! database-wide snapshots.
//!
//! Every publication of new table versions (a transaction commit, which may change several
//! tables, or a direct append) happens under the catalog's publication lock and advances the
//! catalog's commit [`version`](Catalog::version). [`Catalog::pin_snapshot`] takes the set of
//! every table's committed version under that lock, so the set is one committed state of the
//! whole database, and makes it the calling thread's: until the guard drops,
//! [`Table::snapshot`] on that thread reads the pinned versions. A query pins once while it
//! is planned, so its joins and subqueries read one state even if a transaction that moves
//! rows between two tables commits in between.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use parking_lot::{Mutex, RwLock};

use crate::transaction::{Transaction, TransactionManager};
use crate::{Result, StorageError, Table, TableVersion};

static NEXT_CATALOG_ID: AtomicU64 = AtomicU64::new(1);

/// Named tables. Cloning a `Catalog` is cheap and shares the tables.
#[derive(Debug, Clone)]
pub struct Catalog {
    id: u64,
    tables: Arc<RwLock<BTreeMap<String, Arc<Table>>>>,
    /// One writer lock for all tables: commits publish several tables under it.
    write_lock: Arc<Mutex<()>>,
    /// Held exclusively while new versions are swapped in, shared while a snapshot is pinned.
    publication: Arc<Publication>,
    transactions: Arc<TransactionManager>,
}

/// The lock and counter that make a catalog's publications atomic for readers.
#[derive(Debug, Default)]
pub(crate) struct Publication {
    lock: RwLock<()>,
    version: AtomicU64,
}

impl Publication {
    /// Runs `swap` (pointer swaps of new table versions) as one publication.
    pub(crate) fn publish<T>(&self, swap: impl FnOnce() -> T) -> T {
        let _exclusive = self.lock.write();
        let out = swap();
        self.version.fetch_add(1, Ordering::AcqRel);
        out
    }
}

/// One pinned database state on this thread.
struct Pin {
    catalog_id: u64,
    version: u64,
    tables: HashMap<String, Arc<TableVersion>>,
    depth: usize,
}

thread_local! {
    static PINNED: RefCell<Vec<Pin>> = const { RefCell::new(Vec::new()) };
}

/// The version of table `name` pinned on this thread for catalog `catalog_id`, if any.
pub(crate) fn pinned(catalog_id: u64, name: &str) -> Option<Arc<TableVersion>> {
    PINNED.with(|pins| {
        pins.borrow()
            .iter()
            .rev()
            .find(|p| p.catalog_id == catalog_id)
            .and_then(|p| p.tables.get(name).cloned())
    })
}

/// Keeps a database snapshot pinned on the calling thread until dropped (see
/// [`Catalog::pin_snapshot`]). Not `Send`: the pin belongs to the thread that took it.
#[derive(Debug)]
pub struct SnapshotGuard {
    catalog_id: u64,
    version: u64,
    _not_send: PhantomData<*const ()>,
}

impl SnapshotGuard {
    /// The catalog commit version the pinned state is.
    pub fn version(&self) -> u64 {
        self.version
    }
}

impl Drop for SnapshotGuard {
    fn drop(&mut self) {
        PINNED.with(|pins| {
            let mut pins = pins.borrow_mut();
            if let Some(i) = pins.iter().rposition(|p| p.catalog_id == self.catalog_id) {
                pins[i].depth -= 1;
                if pins[i].depth == 0 {
                    pins.remove(i);
                }
            }
        });
    }
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog {
            id: NEXT_CATALOG_ID.fetch_add(1, Ordering::Relaxed),
            tables: Arc::default(),
            write_lock: Arc::default(),
            publication: Arc::default(),
            transactions: Arc::new(TransactionManager::new()),
        }
    }
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// A process-unique id of this catalog (shared by its clones).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The transaction manager (row locks, transaction ids).
    pub fn transactions(&self) -> &Arc<TransactionManager> {
        &self.transactions
    }

    /// Starts a transaction; [`Transaction::activate`] makes it the calling thread's.
    pub fn begin(&self) -> Arc<Transaction> {
        Transaction::begin(self.clone())
    }

    /// The calling thread's active transaction on this catalog, if any.
    pub fn current_transaction(&self) -> Option<Arc<Transaction>> {
        Transaction::current(self.id)
    }

    pub(crate) fn write_lock(&self) -> &Arc<Mutex<()>> {
        &self.write_lock
    }

    pub(crate) fn publication(&self) -> &Publication {
        &self.publication
    }

    /// The database-wide commit version: advances with every publication of new table
    /// versions (a commit, however many tables it changed, counts once).
    pub fn version(&self) -> u64 {
        self.publication.version.load(Ordering::Acquire)
    }

    /// Pins one committed state of every table for the calling thread until the guard
    /// drops: [`Table::snapshot`] then reads those versions (plus the thread's own
    /// transaction's changes). Pins nest: an inner pin keeps the outer state, so a query's
    /// subqueries read what the query reads.
    pub fn pin_snapshot(&self) -> SnapshotGuard {
        let nested = PINNED.with(|pins| {
            let mut pins = pins.borrow_mut();
            let pin = pins.iter_mut().rev().find(|p| p.catalog_id == self.id)?;
            pin.depth += 1;
            Some(pin.version)
        });
        if let Some(version) = nested {
            return SnapshotGuard {
                catalog_id: self.id,
                version,
                _not_send: PhantomData,
            };
        }
        let tables: Vec<Arc<Table>> = self.tables.read().values().cloned().collect();
        let (version, versions) = {
            let _shared = self.publication.lock.read();
            let versions: HashMap<String, Arc<TableVersion>> = tables
                .iter()
                .map(|t| (t.name().to_string(), t.committed()))
                .collect();
            (self.version(), versions)
        };
        PINNED.with(|pins| {
            pins.borrow_mut().push(Pin {
                catalog_id: self.id,
                version,
                tables: versions,
                depth: 1,
            })
        });
        SnapshotGuard {
            catalog_id: self.id,
            version,
            _not_send: PhantomData,
        }
    }

    /// Creates an empty table; fails if the name is taken.
    pub fn create_table(&self, name: &str, schema: SchemaRef) -> Result<Arc<Table>> {
        let mut tables = self.tables.write();
        if tables.contains_key(name) {
            return Err(StorageError::TableExists(name.to_string()));
        }
        let table = Arc::new(Table::in_catalog(
            name,
            schema,
            self.id,
            Arc::clone(&self.write_lock),
            Arc::clone(&self.publication),
        ));
        tables.insert(name.to_string(), Arc::clone(&table));
        Ok(table)
    }

    /// Looks a table up by name.
    pub fn table(&self, name: &str) -> Result<Arc<Table>> {
        self.tables
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| StorageError::TableNotFound(name.to_string()))
    }

    /// Removes a table; readers holding snapshots keep them.
    pub fn drop_table(&self, name: &str) -> Result<()> {
        self.tables
            .write()
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| StorageError::TableNotFound(name.to_string()))
    }

    /// Table names in sorted order.
    pub fn table_names(&self) -> Vec<String> {
        self.tables.read().keys().cloned().collect()
    }

    /// `(name, rows, bytes)` for every table: what each table holds.
    pub fn usage(&self) -> Vec<(String, usize, usize)> {
        self.tables
            .read()
            .values()
            .map(|t| {
                let snap = t.snapshot();
                (t.name().to_string(), snap.num_rows(), snap.memory_size())
            })
            .collect()
    }
}
