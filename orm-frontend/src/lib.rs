//! Quiver: Django's QuerySet API over a native, in-memory, columnar engine.
//!
//! (Being assembled: models and fields, expressions, QuerySets and results land here.)

pub mod error;
pub mod expressions;
pub mod model;

pub use error::{Error, Result};
pub use quiver_engine::ScalarValue;
