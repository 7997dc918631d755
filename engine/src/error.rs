//! Errors of the engine. Each variant says whose fault it is: the user's query (`Plan`,
//! `Execution` with a data-dependent cause such as overflow), resources, or us (`Internal`).

use arrow::error::ArrowError;
use quiver_storage::StorageError;

/// An error raised while planning, optimizing or executing a query.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// The query is not valid: unknown column, type mismatch, bad argument.
    #[error("{0}")]
    Plan(String),
    /// A column reference that does not resolve against the input schema.
    #[error("column {name} not found; available columns: {available}")]
    ColumnNotFound { name: String, available: String },
    /// Integer or decimal arithmetic left the range of its type (never a silent wrap).
    #[error("{0} out of range")]
    NumericOverflow(String),
    /// Division or modulo by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// A value could not be converted (`CAST('x' AS integer)`).
    #[error("invalid input for {target}: {detail}")]
    InvalidCast { target: String, detail: String },
    /// Data-dependent failure while running a query.
    #[error("{0}")]
    Execution(String),
    /// A limit (memory, recursion depth) was reached.
    #[error("resources exhausted: {0}")]
    ResourcesExhausted(String),
    /// The query was cancelled.
    #[error("query cancelled")]
    Cancelled,
    /// Storage layer failure.
    #[error("{0}")]
    Storage(String),
    /// An Arrow kernel failed.
    #[error("{0}")]
    Arrow(String),
    /// A bug in Quiver: a user should never be able to trigger this.
    #[error("internal error: {0}; this is a bug in Quiver")]
    Internal(String),
}

impl From<ArrowError> for EngineError {
    fn from(e: ArrowError) -> Self {
        match e {
            ArrowError::DivideByZero => EngineError::DivisionByZero,
            ArrowError::ArithmeticOverflow(msg) => EngineError::NumericOverflow(msg),
            ArrowError::CastError(msg) => EngineError::InvalidCast {
                target: "cast".to_string(),
                detail: msg,
            },
            other => EngineError::Arrow(other.to_string()),
        }
    }
}

impl From<StorageError> for EngineError {
    fn from(e: StorageError) -> Self {
        EngineError::Storage(e.to_string())
    }
}

/// Result alias of the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Returns early with an [`EngineError::Plan`] built from a format string.
#[macro_export]
macro_rules! plan_err {
    ($($arg:tt)*) => {
        return Err($crate::error::EngineError::Plan(format!($($arg)*)))
    };
}

/// Returns early with an [`EngineError::Internal`] built from a format string.
#[macro_export]
macro_rules! internal_err {
    ($($arg:tt)*) => {
        return Err($crate::error::EngineError::Internal(format!($($arg)*)))
    };
}
