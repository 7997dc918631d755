//! Quiver: Django's QuerySet API over a native, in-memory, columnar engine.
//!
//! Models are declared at run time (or with `#[derive(Model)]`) and registered with a
//! [`Database`]; lazy, immutable [`QuerySet`]s read like Django's and answer like Django 5
//! on PostgreSQL — NULL handling, GROUP BY rules, error classes and messages included.
//!
//! ```
//! use quiver::prelude::*;
//!
//! # fn main() -> quiver::Result<()> {
//! let db = Database::new();
//! db.register(
//!     Model::new("Customer")
//!         .field("name", CharField::new(100))
//!         .field("region", CharField::new(20).null())
//!         .ordering(["name"]),
//! )?;
//! db.register(
//!     Model::new("Order")
//!         .field("customer", ForeignKey::new("Customer", OnDelete::Cascade).related_name("orders"))
//!         .field("amount", IntegerField::new())
//!         .field("status", CharField::new(10).default("new")),
//! )?;
//!
//! let ann = db.objects("Customer").create([("name", "Ann".into()), ("region", "EU".into())])?;
//! let bob = db.objects("Customer").create([("name", "Bob".into())])?;
//! db.objects("Order").bulk_create([
//!     [("customer", (&ann).into()), ("amount", 120i64.into())],
//!     [("customer", (&ann).into()), ("amount", 80i64.into())],
//!     [("customer", (&bob).into()), ("amount", 35i64.into())],
//! ])?;
//!
//! let big = db.objects("Order").filter(q!(amount__gte = 50)).order_by(["-amount"]);
//! assert_eq!(big.count()?, 2);
//! assert_eq!(big.first()?.map(|o| o.pk()), Some(ScalarValue::Int64(Some(1))));
//!
//! // values() before an aggregate groups by those values.
//! let per_customer = db
//!     .objects("Order")
//!     .values(["customer__name"])
//!     .annotate([("n", Count("id")), ("total", Sum("amount"))])
//!     .order_by(["customer__name"]);
//! let rows = per_customer.fetch()?;
//! assert_eq!(rows.column::<i64>("total")?, [200, 35]);
//! println!("{rows}");
//! println!("{}", per_customer.sql()?);
//!
//! let err = db.objects("Customer").get(q!(name = "Zed")).unwrap_err();
//! assert_eq!(err.to_string(), "Customer matching query does not exist.");
//! # Ok(())
//! # }
//! ```
//!
//! Evaluating a QuerySet (`fetch`, `count`, `aggregate`, …) compiles what it recorded in one
//! pass into a logical plan (`queryset/compiler.rs`), which the engine (`quiver-engine`)
//! optimizes and runs over Arrow tables (`quiver-storage`). The modules follow that path:
//! [`model`] (models and fields), [`database`], [`queryset`], [`results`], and
//! [`expressions`] (F, Q, lookups, aggregates, functions), plus [`typed`] for Rust structs.

pub mod database;
pub mod error;
pub mod expressions;
pub mod loaders;
pub mod model;
pub mod prelude;
pub mod query_log;
pub mod queryset;
pub mod results;
pub mod typed;

// Lets `#[derive(Model)]`'s generated `::quiver::…` paths resolve inside this crate's own tests.
#[allow(unused_extern_crates)]
extern crate self as quiver;

pub use database::{Database, TableUsage};
pub use error::{Error, Result};
pub use model::Model;
pub use query_log::QueryRecord;
pub use queryset::QuerySet;
/// `#[derive(Model)]` (the derive macro shares the name of the [`Model`](struct@Model) struct; they live in
/// different namespaces, as serde's `Serialize` trait and derive do).
pub use quiver_derive::Model;
pub use quiver_engine::ScalarValue;
pub use results::{Row, Rows};
pub use typed::{FromRow, IntoRow, ModelDef};

/// The README's example, compiled and run as a doctest so the front page never goes stale.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
