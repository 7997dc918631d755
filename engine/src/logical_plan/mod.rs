//! Logical plans: relational operators over [`Expr`](crate::expr::Expr)s.
//!
//! Every node is a small struct with `Arc` inputs that computes its [`PlanSchema`] once when it
//! is built (`try_new`), so a malformed plan fails at construction with a clear error rather
//! than during execution. `Display` prints one line per node; that text is EXPLAIN's output,
//! the plan snapshots in tests and what error messages quote.

mod builder;
mod cte;
mod display;
mod plan;
mod schema;
mod set_operations;

pub use builder::LogicalPlanBuilder;
pub use cte::{Cte, RecursiveQuery, WorkTable};
pub use plan::{
    Aggregate, Distinct, DistinctOn, Filter, IndexKeys, IndexLookup, Join, JoinType, Limit,
    LogicalPlan, PartitionFetch, Projection, Scan, Sort, SubqueryAlias, Values, Window,
    MARK_COLUMN,
};
pub use schema::{PlanSchema, PlanSchemaRef, QualifiedField};
pub use set_operations::{Except, Intersect, Union};
