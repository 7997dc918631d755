//! [`HashJoinExec`]: Hash join: builds a hash table over the right input, probes it with the left input's partitions.
//!
//! (Stub: the operator is being written; it reports a clear error until then.)

use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use super::{BatchIter, ExecutionPlan, TaskContext};
use crate::error::{EngineError, Result};
use crate::logical_plan::JoinType;
use crate::physical_expr::PhysicalExprRef;

/// Hash join: builds a hash table over the right input, probes it with the left input's partitions.
#[derive(Debug)]
pub struct HashJoinExec {
    schema: SchemaRef,
}

impl HashJoinExec {
    /// Creates the operator.
    #[allow(unused_variables)]
    pub fn try_new(
        left: Arc<dyn ExecutionPlan>,
        right: Arc<dyn ExecutionPlan>,
        on: Vec<(PhysicalExprRef, PhysicalExprRef)>,
        filter: Option<PhysicalExprRef>,
        join_type: JoinType,
        schema: SchemaRef,
    ) -> Result<HashJoinExec> {
        Err(EngineError::Internal(
            "HashJoinExec is not implemented yet".into(),
        ))
    }
}

impl ExecutionPlan for HashJoinExec {
    fn name(&self) -> &'static str {
        "HashJoinExec"
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
            "HashJoinExec is not implemented yet".into(),
        ))
    }
    fn describe(&self) -> String {
        "HashJoinExec".to_string()
    }
}
