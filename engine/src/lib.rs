//! Quiver's query engine: a native, vectorized, in-memory columnar engine over Arrow.
//!
//! A query flows through the modules in this order, and the folders are named after the stages:
//!
//! 1. [`expr`]: the logical expression tree ([`Expr`]), its types and its rewrites.
//! 2. [`logical_plan`]: relational operators ([`LogicalPlan`]) with cached, qualified schemas.
//! 3. [`optimizer`]: named rewrite rules driven to a fixed point; any rule can be switched off.
//! 4. [`physical_expr`]: expressions compiled against a batch schema and evaluated with Arrow
//!    kernels (checked arithmetic, three-valued logic).
//! 5. [`physical_plan`]: pull-based operators (`…Exec`) that return iterators of `RecordBatch`;
//!    pipeline breakers are sinks that a scan's partitions feed from several threads.
//! 6. [`execution`]: the planner from logical to physical plans and the [`SessionContext`] that
//!    runs a plan against a storage [`Catalog`](quiver_storage::Catalog).
//!
//! [`sql`] renders a logical plan as PostgreSQL-dialect SQL (what `QuerySet::sql()` shows, and
//! what DataFusion runs in the differential tests).

pub mod error;
pub mod execution;
pub mod expr;
pub mod logical_plan;
pub mod optimizer;
pub mod physical_expr;
pub mod physical_plan;
pub mod sql;
mod workers;

pub use error::{EngineError, Result};
pub use execution::{SessionConfig, SessionContext};
pub use expr::{col, lit, Column, Expr, Operator, SortExpr};
pub use logical_plan::{JoinType, LogicalPlan, LogicalPlanBuilder, PlanSchema, PlanSchemaRef};
pub use quiver_storage::ScalarValue;
