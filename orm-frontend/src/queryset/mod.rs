//! QuerySets: [`QuerySet`] records what was asked ([`queryset`](self)), the compiler turns the
//! record into a `SelectQuery` (`select_query.rs`) and then a logical plan, `evaluate` runs it,
//! `write` inserts rows.

mod compiler;
mod constraints;
mod evaluate;
#[cfg(test)]
pub(crate) mod fixtures;
#[allow(clippy::module_inception)]
mod queryset;
mod save;
mod select_for_update;
mod select_query;
mod transaction;
mod update;
mod write;

pub(crate) use constraints::declare_constraints;
pub use constraints::{CheckConstraint, IndexSpec, UniqueConstraintSpec};
pub use queryset::{AggregateArg, OrderItem, QuerySet};
pub use select_for_update::SelectForUpdate;
pub(crate) use transaction::storage_error;
pub use transaction::Atomic;
pub use write::{BulkCreateOptions, IntoFieldValues};
