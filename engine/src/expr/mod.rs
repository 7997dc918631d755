//! Logical expressions: what a query computes, independent of how.
//!
//! [`Expr`] is a plain tree of owned nodes. Names are unresolved [`Column`] references that are
//! bound to batch positions only when a plan is turned into a physical plan, so the optimizer
//! can move expressions between operators freely. Types come from [`Expr::data_type`], which
//! uses the same coercion rules ([`type_coercion`]) that evaluation uses, so a plan's schema and
//! the arrays it produces always agree.

mod aggregate;
#[allow(clippy::module_inception)]
mod expr;
mod functions;
mod schema;
mod subquery;
pub mod type_coercion;
mod visit;
mod window;

pub use aggregate::{AggregateExpr, AggregateFunction};
pub use expr::{
    col, lit, qualified_col, Alias, BinaryExpr, Case, Cast, Column, Expr, InList, Like, Operator,
    RegexMatch, ScalarFunctionExpr, SortExpr,
};
pub use functions::{DatePart, ScalarFunction, TruncUnit};
pub use schema::aggregate_type;
pub use subquery::{
    exists, in_subquery, not_exists, outer_col, replace_in_plan, scalar_subquery, Exists,
    InSubquery, OuterColumn, Subquery,
};
pub use visit::Transformed;
pub use window::{
    WindowFrame, WindowFrameBound, WindowFrameExclusion, WindowFrameUnits, WindowFunction,
    WindowFunctionKind,
};
