//! [`TopKExec`]: Keeps the first k rows of an ordering without sorting the whole input.
//!
//! (Stub: the operator is being written; it reports a clear error until then.)

use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use super::sort::PhysicalSortExpr;
use super::{BatchIter, ExecutionPlan, TaskContext};
use crate::error::{EngineError, Result};

/// Keeps the first k rows of an ordering without sorting the whole input.
#[derive(Debug)]
pub struct TopKExec {
    schema: SchemaRef,
}

impl TopKExec {
    /// Creates the operator.
    #[allow(unused_variables)]
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        exprs: Vec<PhysicalSortExpr>,
        k: usize,
    ) -> Result<TopKExec> {
        Err(EngineError::Internal(
            "TopKExec is not implemented yet".into(),
        ))
    }
}

impl ExecutionPlan for TopKExec {
    fn name(&self) -> &'static str {
        "TopKExec"
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
            "TopKExec is not implemented yet".into(),
        ))
    }
    fn describe(&self) -> String {
        "TopKExec".to_string()
    }
}
