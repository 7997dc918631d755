//! [`NegativeExpr`]: unary minus, checked like the rest of the arithmetic.

use std::fmt;

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;

use super::arithmetic::evaluate_negative;
use super::{ColumnarValue, PhysicalExpr, PhysicalExprRef};
use crate::error::Result;

/// `- expr` for numbers and intervals.
#[derive(Debug)]
pub struct NegativeExpr {
    expr: PhysicalExprRef,
}

impl NegativeExpr {
    /// Negates a numeric or interval expression.
    pub fn new(expr: PhysicalExprRef) -> NegativeExpr {
        NegativeExpr { expr }
    }
}

impl fmt::Display for NegativeExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(- {})", self.expr)
    }
}

impl PhysicalExpr for NegativeExpr {
    fn data_type(&self) -> DataType {
        self.expr.data_type()
    }
    fn nullable(&self) -> bool {
        self.expr.nullable()
    }
    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        evaluate_negative(&self.expr.evaluate(batch)?)
    }
}
