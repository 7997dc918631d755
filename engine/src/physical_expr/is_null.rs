//! [`IsNullExpr`]: `expr IS NULL` / `expr IS NOT NULL`, which are never NULL themselves.

use std::fmt;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::kernels::boolean::{is_not_null, is_null};
use arrow::datatypes::DataType;
use quiver_storage::ScalarValue;

use super::{ColumnarValue, PhysicalExpr, PhysicalExprRef};
use crate::error::Result;

/// `expr IS [NOT] NULL`.
#[derive(Debug)]
pub struct IsNullExpr {
    expr: PhysicalExprRef,
    negated: bool,
}

impl IsNullExpr {
    /// `expr IS NULL`, or `expr IS NOT NULL` when `negated`.
    pub fn new(expr: PhysicalExprRef, negated: bool) -> IsNullExpr {
        IsNullExpr { expr, negated }
    }
}

impl fmt::Display for IsNullExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let not = if self.negated { "NOT " } else { "" };
        write!(f, "{} IS {not}NULL", self.expr)
    }
}

impl PhysicalExpr for IsNullExpr {
    fn data_type(&self) -> DataType {
        DataType::Boolean
    }
    fn nullable(&self) -> bool {
        false
    }
    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        Ok(match self.expr.evaluate(batch)? {
            ColumnarValue::Scalar(s) => {
                ColumnarValue::Scalar(ScalarValue::Boolean(Some(s.is_null() != self.negated)))
            }
            ColumnarValue::Array(a) => ColumnarValue::Array(Arc::new(if self.negated {
                is_not_null(a.as_ref())?
            } else {
                is_null(a.as_ref())?
            })),
        })
    }
}
