//! [`ColumnExpr`]: a reference to a column of the input batch, bound to its position.

use std::fmt;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;

use super::{ColumnarValue, PhysicalExpr};
use crate::error::{EngineError, Result};

/// Column `index` of the input batch.
#[derive(Debug)]
pub struct ColumnExpr {
    name: String,
    index: usize,
    data_type: DataType,
    nullable: bool,
}

impl ColumnExpr {
    /// The column at `index`, named `name` for display.
    pub fn new(name: impl Into<String>, index: usize, data_type: DataType, nullable: bool) -> Self {
        ColumnExpr {
            name: name.into(),
            index,
            data_type,
            nullable,
        }
    }

    /// The position in the input batch.
    pub fn index(&self) -> usize {
        self.index
    }
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
        match batch.columns().get(self.index) {
            Some(column) => Ok(ColumnarValue::Array(Arc::clone(column))),
            None => Err(EngineError::Internal(format!(
                "column {self} is outside a batch of {} columns",
                batch.num_columns()
            ))),
        }
    }
}
