//! [`NotExpr`]: boolean negation; `NOT NULL` is NULL.

use std::fmt;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::kernels::boolean::not;
use arrow::datatypes::DataType;
use quiver_storage::ScalarValue;

use super::{ColumnarValue, PhysicalExpr, PhysicalExprRef};
use crate::error::{EngineError, Result};

/// `NOT expr` over a boolean operand.
#[derive(Debug)]
pub struct NotExpr {
    expr: PhysicalExprRef,
}

impl NotExpr {
    /// Negates a boolean expression.
    pub fn new(expr: PhysicalExprRef) -> NotExpr {
        NotExpr { expr }
    }
}

impl fmt::Display for NotExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NOT {}", self.expr)
    }
}

impl PhysicalExpr for NotExpr {
    fn data_type(&self) -> DataType {
        DataType::Boolean
    }
    fn nullable(&self) -> bool {
        self.expr.nullable()
    }
    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        match self.expr.evaluate(batch)? {
            ColumnarValue::Scalar(ScalarValue::Boolean(v)) => {
                Ok(ColumnarValue::Scalar(ScalarValue::Boolean(v.map(|b| !b))))
            }
            ColumnarValue::Scalar(ScalarValue::Null) => {
                Ok(ColumnarValue::Scalar(ScalarValue::Boolean(None)))
            }
            ColumnarValue::Scalar(other) => Err(EngineError::Internal(format!(
                "NOT of {}",
                other.data_type()
            ))),
            array => {
                let values = array.into_boolean(batch.num_rows())?;
                Ok(ColumnarValue::Array(Arc::new(not(&values)?)))
            }
        }
    }
}
