//! [`ValuesExec`]: Produces literal rows from memory.
//!
//! (Stub: the operator is being written; it reports a clear error until then.)

use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use super::{BatchIter, ExecutionPlan, TaskContext};
use crate::error::{EngineError, Result};
use arrow::array::RecordBatch;

/// Produces literal rows from memory.
#[derive(Debug)]
pub struct ValuesExec {
    schema: SchemaRef,
}

impl ValuesExec {
    /// Creates the operator.
    #[allow(unused_variables)]
    pub fn try_new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<ValuesExec> {
        Err(EngineError::Internal(
            "ValuesExec is not implemented yet".into(),
        ))
    }
}

impl ExecutionPlan for ValuesExec {
    fn name(&self) -> &'static str {
        "ValuesExec"
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
            "ValuesExec is not implemented yet".into(),
        ))
    }
    fn describe(&self) -> String {
        "ValuesExec".to_string()
    }
}
