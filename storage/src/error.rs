//! Errors of the storage layer.

use arrow::error::ArrowError;

/// Everything that can go wrong while storing or reading table data.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A table with this name is already registered.
    #[error("table \"{0}\" already exists")]
    TableExists(String),
    /// An index with this name is already declared (PostgreSQL's wording).
    #[error("relation \"{0}\" already exists")]
    IndexExists(String),
    /// No table with this name is registered.
    #[error("table \"{0}\" does not exist")]
    TableNotFound(String),
    /// Appended data does not have the table's schema.
    #[error("schema mismatch appending to \"{table}\": {detail}")]
    SchemaMismatch { table: String, detail: String },
    /// A constraint was violated; the write changed nothing. PostgreSQL's wording.
    #[error("{0}")]
    IntegrityViolation(String),
    /// `nowait=True` met a row locked by another transaction.
    #[error("{0}")]
    LockNotAvailable(String),
    /// Waiting for a row lock would never end; this transaction was chosen to fail.
    #[error("{0}")]
    Deadlock(String),
    /// Misuse of the transaction API (a savepoint that does not exist, a finished transaction).
    #[error("{0}")]
    TransactionState(String),
    /// An Arrow kernel failed.
    #[error(transparent)]
    Arrow(#[from] ArrowError),
    /// A bug in Quiver: a user should never be able to trigger this.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result alias of the storage layer.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
