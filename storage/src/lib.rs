//! Quiver's storage layer: an in-memory catalog of Arrow tables.
//!
//! A [`Table`] is an Arrow schema plus an immutable, copy-on-write [`TableVersion`]: a list of
//! [`Chunk`]s (RecordBatches of at most [`CHUNK_ROWS`] rows) each carrying per-column
//! [`ColumnStatistics`] (min, max, null count) that the engine uses to skip chunks. Writers build
//! a new version and swap it in atomically, so a reader holding a snapshot never sees half of a
//! write.
//!
//! Writes with identity and isolation build on that: every row is named by its primary key
//! ([`RowKey`]); a [`Transaction`] (`transaction.rs`, READ COMMITTED with row locks, documented
//! there) keeps its uncommitted changes as a delta that [`Table::snapshot`] applies for the
//! thread running it, checks unique, check and foreign-key constraints, and publishes all its
//! tables at once on commit; [`LockManager`] (`locks.rs`) holds row locks with deadlock
//! detection; `index/` builds hash and ordered indexes per immutable chunk and caches them on
//! the chunk, so table versions that share chunks share their indexes (an update patches the
//! indexes of the chunk it rewrites in place; other writes index only the chunks they create)
//! and every index is exact for whatever version a query reads. The
//! [`Catalog`] publishes commits atomically across tables and pins one database-wide state for a
//! query ([`Catalog::pin_snapshot`]).
//!
//! This crate is the bottom of the stack (`orm-frontend → engine → storage`) and also hosts
//! [`ScalarValue`], the single-value type shared by statistics, literals and results.

mod catalog;
mod chunk;
mod error;
pub mod index;
pub mod locks;
mod row_key;
mod scalar;
mod statistics;
mod table;
pub mod transaction;

pub use catalog::{Catalog, SnapshotGuard};
pub use chunk::{Chunk, CHUNK_ROWS};
pub use error::{Result, StorageError};
pub use index::{BuiltIndex, ChunkIndex, IndexDefinition, IndexKind, RowAddress};
pub use locks::{LockManager, LockWait, TxnId};
pub use row_key::{batch_keys, column_keys, RowKey};
pub use scalar::ScalarValue;
pub use statistics::ColumnStatistics;
pub use table::{
    CheckConstraint, ForeignKeyConstraint, RowPredicate, Table, TableConstraints, TableVersion,
    UniqueConstraint,
};
pub use transaction::{Transaction, TransactionManager};
