//! Turns logical expressions into physical ones.

use std::fmt;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use quiver_storage::ScalarValue;

use super::{ColumnarValue, PhysicalExpr, PhysicalExprRef};
use crate::error::{EngineError, Result};
use crate::expr::Expr;
use crate::logical_plan::PlanSchema;

/// Column `index` of the input batch.
#[derive(Debug)]
pub struct ColumnExpr {
    name: String,
    index: usize,
    data_type: DataType,
    nullable: bool,
}

impl fmt::Display for ColumnExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.index)
    }
}

impl PhysicalExpr for ColumnExpr {
    fn data_type(&self) -> DataType {
        self.data_type.clone()
    }
    fn nullable(&self) -> bool {
        self.nullable
    }
    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Array(Arc::clone(batch.column(self.index))))
    }
}

/// A constant.
#[derive(Debug)]
pub struct LiteralExpr {
    value: ScalarValue,
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
}

/// Binds `expr` to the positions of `schema`.
pub fn create_physical_expr(expr: &Expr, schema: &PlanSchema) -> Result<PhysicalExprRef> {
    match expr {
        Expr::Column(c) => {
            let index = schema.index_of_column(c)?;
            let field = &schema.field(index).field;
            Ok(Arc::new(ColumnExpr {
                name: c.name.clone(),
                index,
                data_type: field.data_type().clone(),
                nullable: field.is_nullable(),
            }))
        }
        Expr::Literal(v) => Ok(Arc::new(LiteralExpr { value: v.clone() })),
        Expr::Alias(a) => create_physical_expr(&a.expr, schema),
        other => Err(EngineError::Internal(format!(
            "physical expression not supported yet: {other}"
        ))),
    }
}
