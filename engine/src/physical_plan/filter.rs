//! [`FilterExec`]: Keeps the rows where a predicate is TRUE.
//!
//! (Stub: the operator is being written; it reports a clear error until then.)

use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use super::{BatchIter, ExecutionPlan, TaskContext};
use crate::error::{EngineError, Result};
use crate::physical_expr::PhysicalExprRef;

/// Keeps the rows where a predicate is TRUE.
#[derive(Debug)]
pub struct FilterExec {
    schema: SchemaRef,
}

impl FilterExec {
    /// Creates the operator.
    #[allow(unused_variables)]
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        predicate: PhysicalExprRef,
    ) -> Result<FilterExec> {
        Err(EngineError::Internal(
            "FilterExec is not implemented yet".into(),
        ))
    }
}

impl ExecutionPlan for FilterExec {
    fn name(&self) -> &'static str {
        "FilterExec"
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
            "FilterExec is not implemented yet".into(),
        ))
    }
    fn describe(&self) -> String {
        "FilterExec".to_string()
    }
}
