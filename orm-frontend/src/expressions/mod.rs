//! Django's query expressions: `F`, `Value`, `Q`, lookups and transforms, `Case`/`When`,
//! `Cast`, database functions and aggregates. Each resolves to an engine
//! [`Expr`](quiver_engine::Expr) through a [`Resolver`] supplied by the QuerySet compiler.

mod resolver;

pub use resolver::{ResolvedField, Resolver};
