//! [`LimitExec`]: Skips and limits rows (OFFSET/LIMIT) over all input partitions in order.
//!
//! (Stub: the operator is being written; it reports a clear error until then.)

use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use super::{BatchIter, ExecutionPlan, TaskContext};
use crate::error::{EngineError, Result};

/// Skips and limits rows (OFFSET/LIMIT) over all input partitions in order.
#[derive(Debug)]
pub struct LimitExec {
    schema: SchemaRef,
}

impl LimitExec {
    /// Creates the operator.
    #[allow(unused_variables)]
    pub fn new(input: Arc<dyn ExecutionPlan>, skip: usize, fetch: Option<usize>) -> LimitExec {
        LimitExec {
            schema: input.schema(),
        }
    }
}

impl ExecutionPlan for LimitExec {
    fn name(&self) -> &'static str {
        "LimitExec"
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
            "LimitExec is not implemented yet".into(),
        ))
    }
    fn describe(&self) -> String {
        "LimitExec".to_string()
    }
}
