//! Physical expressions: [`Expr`](crate::expr::Expr)s bound to column positions and evaluated
//! batch-at-a-time with Arrow kernels.
//!
//! [`create_physical_expr`] resolves columns against the input [`PlanSchema`] and applies the
//! same coercions as [`Expr::data_type`](crate::expr::Expr::data_type), so
//! `PhysicalExpr::data_type` always equals the logical type. Integer arithmetic is checked
//! (overflow and division by zero are errors) and AND/OR/NOT follow SQL's three-valued logic.

mod planner;

use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::DataType;
use quiver_storage::ScalarValue;

use crate::error::Result;

pub use planner::create_physical_expr;

/// The result of evaluating an expression over a batch: a whole column, or one value that
/// stands for every row (literals and expressions over literals stay scalar, cheaply).
#[derive(Debug, Clone)]
pub enum ColumnarValue {
    Array(ArrayRef),
    Scalar(ScalarValue),
}

impl ColumnarValue {
    /// Materialises the value as an array of `num_rows` rows.
    pub fn into_array(self, num_rows: usize) -> Result<ArrayRef> {
        Ok(match self {
            ColumnarValue::Array(a) => a,
            ColumnarValue::Scalar(s) => s.to_array(num_rows),
        })
    }
}

/// An expression ready to run on batches of one schema.
pub trait PhysicalExpr: Send + Sync + fmt::Debug + fmt::Display {
    /// The type of the values produced.
    fn data_type(&self) -> DataType;
    /// Whether NULLs can be produced.
    fn nullable(&self) -> bool;
    /// Evaluates over every row of `batch`.
    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue>;
}

/// Shared physical expression.
pub type PhysicalExprRef = Arc<dyn PhysicalExpr>;
