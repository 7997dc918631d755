//! Physical expressions: [`Expr`](crate::expr::Expr)s bound to column positions and evaluated
//! batch-at-a-time with Arrow kernels.
//!
//! [`create_physical_expr`] resolves columns against the input [`PlanSchema`] and inserts the
//! same coercions [`Expr::data_type`](crate::expr::Expr::data_type) assumes, so
//! `PhysicalExpr::data_type` always equals the logical type (the planner checks it).
//! Semantics are PostgreSQL's, since Django on PostgreSQL is what Quiver reproduces:
//! arithmetic is checked (overflow and division by zero are errors, floats included),
//! AND/OR/NOT follow three-valued logic, comparisons treat NaN as equal to itself and larger
//! than every number, and an error in a CASE branch no row takes never surfaces.
//!
//! One file per expression node (`binary.rs`, `case.rs`, `in_list.rs`, `like.rs`, …); the
//! kernels they share live in `arithmetic.rs`, `comparison.rs` and `cast.rs`, PostgreSQL's
//! text forms of values in `text.rs`, and the built-in functions in `scalar_functions/`.
//! `properties.rs` holds the property tests that run all of them on random batches.
//!
//! [`PlanSchema`]: crate::logical_plan::PlanSchema

mod arithmetic;
mod binary;
mod case;
pub mod cast;
mod column;
mod column_range;
mod columnar_value;
mod comparison;
mod decimal_comparison;
mod in_list;
mod is_null;
mod like;
mod literal;
mod negative;
mod not;
mod planner;
#[cfg(test)]
mod properties;
mod regex;
mod scalar_functions;
mod subquery;
mod substring_pattern;
pub mod text;

use std::fmt;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use quiver_storage::ScalarValue;

use crate::error::Result;

pub use binary::BinaryExpr;
pub use case::CaseExpr;
pub use cast::{CastExpr, CastMode};
pub use column::ColumnExpr;
pub use column_range::{create_conjunction, ColumnRangeExpr, FUSE_RANGE_FILTERS};
pub use columnar_value::{ColumnarValue, KernelArg};
pub use decimal_comparison::DecimalComparisonExpr;
pub use in_list::InListExpr;
pub use is_null::IsNullExpr;
pub use like::LikeExpr;
pub use literal::LiteralExpr;
pub use negative::NegativeExpr;
pub use not::NotExpr;
pub use planner::create_physical_expr;
pub use regex::RegexMatchExpr;
pub use scalar_functions::{CoalesceExpr, FunctionExpr, NullIfExpr};
pub use subquery::{SubqueryExpr, SubqueryKind};

/// An expression ready to run on batches of one schema.
pub trait PhysicalExpr: Send + Sync + fmt::Debug + fmt::Display {
    /// The type of the values produced.
    fn data_type(&self) -> DataType;
    /// Whether NULLs can be produced.
    fn nullable(&self) -> bool;
    /// Evaluates over every row of `batch`.
    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue>;
    /// The constant this expression always produces, when it is a literal. Lets the planner
    /// convert constants once instead of per batch.
    fn literal_value(&self) -> Option<&ScalarValue> {
        None
    }
}

/// Shared physical expression.
pub type PhysicalExprRef = Arc<dyn PhysicalExpr>;
