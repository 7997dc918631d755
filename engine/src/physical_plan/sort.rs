//! [`SortExec`]: Full sort of its input (all partitions merged into one ordered output).
//!
//! (Stub: the operator is being written; it reports a clear error until then.)

use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use arrow::compute::SortOptions;

use super::{BatchIter, ExecutionPlan, TaskContext};
use crate::error::{EngineError, Result};
use crate::physical_expr::PhysicalExprRef;

/// Full sort of its input (all partitions merged into one ordered output).
#[derive(Debug)]
pub struct SortExec {
    schema: SchemaRef,
}

impl SortExec {
    /// Creates the operator.
    #[allow(unused_variables)]
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        exprs: Vec<PhysicalSortExpr>,
    ) -> Result<SortExec> {
        Err(EngineError::Internal(
            "SortExec is not implemented yet".into(),
        ))
    }
}

impl ExecutionPlan for SortExec {
    fn name(&self) -> &'static str {
        "SortExec"
    }
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }
    fn output_partitions(&self) -> usize {
        1
    }
    fn execute(&self, _partition: usize, _ctx: &Arc<TaskContext>) -> Result<BatchIter> {
        Err(EngineError::Internal(
            "SortExec is not implemented yet".into(),
        ))
    }
    fn describe(&self) -> String {
        "SortExec".to_string()
    }
}

/// One sort key bound to the input schema.
#[derive(Debug, Clone)]
pub struct PhysicalSortExpr {
    pub expr: PhysicalExprRef,
    pub options: SortOptions,
}
