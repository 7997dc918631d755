//! QuerySets: [`QuerySet`] records what was asked ([`queryset`](self)), the compiler turns the
//! record into a `SelectQuery` (`select_query.rs`) and then a logical plan, `evaluate` runs it,
//! `write` inserts rows.

mod compiler;
mod cte;
mod evaluate;
#[cfg(test)]
pub(crate) mod fixtures;
#[allow(clippy::module_inception)]
mod queryset;
mod select_query;
mod set_operations;
mod write;

pub use cte::{with_cte, CteJoinType, CTE};
pub use queryset::{AggregateArg, OrderItem, QuerySet};
pub use write::IntoFieldValues;
