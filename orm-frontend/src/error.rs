//! The errors a QuerySet user sees, named and worded as Django's exceptions.

use quiver_engine::EngineError;

/// An error from the ORM layer. Variant names are Django's exception classes so that a Django
/// developer recognises them (`FieldError`, `DoesNotExist`, …); messages use Django's wording.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// `django.core.exceptions.FieldError`: an unknown field or lookup, or an invalid expression.
    #[error("{0}")]
    FieldError(String),
    /// `Model.DoesNotExist`: `get()` found nothing. The message is
    /// "`<Model>` matching query does not exist."
    #[error("{0}")]
    DoesNotExist(String),
    /// `RelatedObjectDoesNotExist`: a single-valued relation has no object — a reverse
    /// OneToOne with no row ("Place has no restaurant."), or an unset non-null ForeignKey.
    /// In Django a subclass of the related model's `DoesNotExist` (and of `AttributeError`):
    /// [`Error::is_object_does_not_exist`] is true for both.
    #[error("{0}")]
    RelatedObjectDoesNotExist(String),
    /// `Model.MultipleObjectsReturned`: `get()` found more than one row.
    #[error("{0}")]
    MultipleObjectsReturned(String),
    /// `ValidationError`.
    #[error("{0}")]
    ValidationError(String),
    /// `IntegrityError`: a constraint was violated; nothing was changed.
    #[error("{0}")]
    IntegrityError(String),
    /// `TypeError`: wrong kind of argument (e.g. a QuerySet method called with bad arguments).
    #[error("{0}")]
    TypeError(String),
    /// `ValueError`.
    #[error("{0}")]
    ValueError(String),
    /// `NotSupportedError`: an operation this QuerySet state does not allow.
    #[error("{0}")]
    NotSupportedError(String),
    /// `TransactionManagementError`.
    #[error("{0}")]
    TransactionManagementError(String),
    /// `django.db.utils.DataError`: a value out of range for its type, division by zero,
    /// numeric overflow — raised while the query runs.
    #[error("{0}")]
    DataError(String),
    /// `LookupError`: an unknown model.
    #[error("{0}")]
    LookupError(String),
    /// `IndexError`: `qs[i]` past the end of the results.
    #[error("{0}")]
    IndexError(String),
    /// `ImproperlyConfigured`: a model definition failed Django's system checks (two primary
    /// keys, a relation to an unknown model, …). The message carries the check id
    /// (`fields.E300`).
    #[error("{0}")]
    ImproperlyConfigured(String),
    /// `AttributeError`: an instance has no such relation accessor.
    #[error("{0}")]
    AttributeError(String),
    /// `ProtectedError`: `delete()` would delete rows a `PROTECT` ForeignKey points at.
    #[error("{0}")]
    ProtectedError(String),
    /// `RestrictedError`: `delete()` would delete rows a `RESTRICT` ForeignKey points at
    /// without also deleting the referencing rows through a CASCADE.
    #[error("{0}")]
    RestrictedError(String),
    /// Anything else from the engine (`ResourcesExhausted`, `Cancelled`, `Internal`, …).
    #[error("{0}")]
    Engine(EngineError),
}

impl Error {
    /// The Django exception class name (`"FieldError"`), as the script frontend prints it.
    pub fn django_name(&self) -> &'static str {
        match self {
            Error::FieldError(_) => "FieldError",
            Error::DoesNotExist(_) => "DoesNotExist",
            Error::RelatedObjectDoesNotExist(_) => "RelatedObjectDoesNotExist",
            Error::MultipleObjectsReturned(_) => "MultipleObjectsReturned",
            Error::ValidationError(_) => "ValidationError",
            Error::IntegrityError(_) => "IntegrityError",
            Error::TypeError(_) => "TypeError",
            Error::ValueError(_) => "ValueError",
            Error::NotSupportedError(_) => "NotSupportedError",
            Error::TransactionManagementError(_) => "TransactionManagementError",
            Error::DataError(_) => "DataError",
            Error::LookupError(_) => "LookupError",
            Error::IndexError(_) => "IndexError",
            Error::ImproperlyConfigured(_) => "ImproperlyConfigured",
            Error::AttributeError(_) => "AttributeError",
            Error::ProtectedError(_) => "ProtectedError",
            Error::RestrictedError(_) => "RestrictedError",
            Error::Engine(EngineError::ResourcesExhausted(_)) => "ResourcesExhausted",
            Error::Engine(EngineError::Cancelled) => "Cancelled",
            Error::Engine(EngineError::Internal(_)) => "InternalError",
            Error::Engine(_) => "DatabaseError",
        }
    }
}

impl Error {
    /// Whether `except ObjectDoesNotExist` would catch this error: `DoesNotExist` and its
    /// subclass `RelatedObjectDoesNotExist`.
    pub fn is_object_does_not_exist(&self) -> bool {
        matches!(
            self,
            Error::DoesNotExist(_) | Error::RelatedObjectDoesNotExist(_)
        )
    }
}

impl From<EngineError> for Error {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::NumericOverflow(_)
            | EngineError::DivisionByZero
            | EngineError::InvalidCast { .. } => Error::DataError(e.to_string()),
            EngineError::Plan(msg) => Error::FieldError(msg),
            other => Error::Engine(other),
        }
    }
}

impl From<quiver_storage::StorageError> for Error {
    fn from(e: quiver_storage::StorageError) -> Self {
        Error::from(EngineError::from(e))
    }
}

/// Result alias of the ORM.
pub type Result<T, E = Error> = std::result::Result<T, E>;
