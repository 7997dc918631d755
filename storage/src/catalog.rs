//! [`Catalog`]: the set of named tables of one database.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use parking_lot::RwLock;

use crate::{Result, StorageError, Table};

/// Named tables. Cloning a `Catalog` is cheap and shares the tables.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    tables: Arc<RwLock<BTreeMap<String, Arc<Table>>>>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// Creates an empty table; fails if the name is taken.
    pub fn create_table(&self, name: &str, schema: SchemaRef) -> Result<Arc<Table>> {
        let mut tables = self.tables.write();
        if tables.contains_key(name) {
            return Err(StorageError::TableExists(name.to_string()));
        }
        let table = Arc::new(Table::new(name, schema));
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
