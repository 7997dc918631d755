//! QuerySets: [`QuerySet`] records what was asked ([`queryset`](self)), the compiler turns the
//! record into a `SelectQuery` (`select_query.rs`) and then a logical plan, `evaluate` runs it,
//! `write` inserts rows.

mod compiler;
mod constraints;
mod cte;
mod delete;
pub(crate) mod eager;
mod evaluate;
#[cfg(test)]
pub(crate) mod fixtures;
#[allow(clippy::module_inception)]
mod queryset;
mod related_manager;
mod save;
mod select_for_update;
mod select_query;
mod set_operations;
mod transaction;
mod update;
mod window;
mod write;

pub(crate) use constraints::{declare_constraints, declare_meta};
pub use constraints::{CheckConstraint, IndexSpec, UniqueConstraintSpec};
pub use cte::{with_cte, CteJoinType, CTE};
pub use delete::{DeleteCount, APP_LABEL};
pub use eager::{prefetch_related_objects, Prefetch, SelectRelated};
pub use queryset::{AggregateArg, OrderItem, QuerySet};
pub use related_manager::RelatedManager;
pub use select_for_update::SelectForUpdate;
pub(crate) use transaction::storage_error;
pub use transaction::Atomic;
pub use write::{BulkCreateOptions, IntoFieldValues};
