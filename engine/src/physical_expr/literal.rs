//! [`LiteralExpr`]: a constant. It evaluates to a [`ColumnarValue::Scalar`], never an array,
//! so kernels see it as one value for every row.

use std::fmt;

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use quiver_storage::ScalarValue;

use super::{ColumnarValue, PhysicalExpr};
use crate::error::Result;
use crate::expr::Expr;

/// A constant.
#[derive(Debug)]
pub struct LiteralExpr {
    value: ScalarValue,
}

impl LiteralExpr {
    /// A literal of `value`.
    pub fn new(value: ScalarValue) -> LiteralExpr {
        LiteralExpr { value }
    }

    /// The constant.
    pub fn value(&self) -> &ScalarValue {
        &self.value
    }
}

impl fmt::Display for LiteralExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Expr::Literal(self.value.clone()))
    }
}

impl PhysicalExpr for LiteralExpr {
    fn data_type(&self) -> DataType {
        self.value.data_type()
    }
    fn nullable(&self) -> bool {
        self.value.is_null()
    }
    fn evaluate(&self, _batch: &RecordBatch) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(self.value.clone()))
    }
    fn literal_value(&self) -> Option<&ScalarValue> {
        Some(&self.value)
    }
}
