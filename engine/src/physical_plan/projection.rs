//! [`ProjectionExec`]: Evaluates one expression per output column.
//!
//! (Stub: the operator is being written; it reports a clear error until then.)

use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use super::{BatchIter, ExecutionPlan, TaskContext};
use crate::error::{EngineError, Result};
use crate::physical_expr::PhysicalExprRef;

/// Evaluates one expression per output column.
#[derive(Debug)]
pub struct ProjectionExec {
    schema: SchemaRef,
}

impl ProjectionExec {
    /// Creates the operator.
    #[allow(unused_variables)]
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        exprs: Vec<PhysicalExprRef>,
        schema: SchemaRef,
    ) -> Result<ProjectionExec> {
        Err(EngineError::Internal(
            "ProjectionExec is not implemented yet".into(),
        ))
    }
}

impl ExecutionPlan for ProjectionExec {
    fn name(&self) -> &'static str {
        "ProjectionExec"
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
            "ProjectionExec is not implemented yet".into(),
        ))
    }
    fn describe(&self) -> String {
        "ProjectionExec".to_string()
    }
}
