//! [`Catalog`]: the set of named tables of one database, and its transaction manager.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use parking_lot::{Mutex, RwLock};

use crate::transaction::{Transaction, TransactionManager};
use crate::{Result, StorageError, Table};

static NEXT_CATALOG_ID: AtomicU64 = AtomicU64::new(1);

/// Named tables. Cloning a `Catalog` is cheap and shares the tables.
#[derive(Debug, Clone)]
pub struct Catalog {
    id: u64,
    tables: Arc<RwLock<BTreeMap<String, Arc<Table>>>>,
    /// One writer lock for all tables: commits publish several tables under it.
    write_lock: Arc<Mutex<()>>,
    transactions: Arc<TransactionManager>,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog {
            id: NEXT_CATALOG_ID.fetch_add(1, Ordering::Relaxed),
            tables: Arc::default(),
            write_lock: Arc::default(),
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
