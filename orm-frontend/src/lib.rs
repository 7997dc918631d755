//! Quiver: Django's QuerySet API over a native, in-memory, columnar engine.
//!
//! Models are declared at run time (or with `#[derive(Model)]`), registered with a
//! [`Database`], and queried with lazy, immutable [`QuerySet`]s that read like Django's:
//!
//! ```text
//! db.objects("Order").filter(q!(amount__gte = 100)).values(["customer__region"])
//!     .annotate([("n", Count("id"))]).order_by(["-n"])
//! ```
//!
//! A QuerySet records what was asked; evaluating it (`fetch`, `count`, `aggregate`, …)
//! compiles the record in one pass into a logical plan (`queryset/compiler.rs`), which the
//! engine (`quiver-engine`) optimizes and runs over Arrow tables (`quiver-storage`).
//! Semantics follow Django 5 on PostgreSQL, including NULL handling, GROUP BY rules and
//! error messages.

pub mod database;
pub mod error;
pub mod expressions;
#[doc(hidden)]
pub mod expressions_placeholder;
pub mod model;
pub mod prelude;
pub mod queryset;
pub mod results;
pub mod typed;

pub use database::{Database, TableUsage};
pub use error::{Error, Result};
pub use model::Model;
pub use queryset::QuerySet;
pub use quiver_engine::ScalarValue;
