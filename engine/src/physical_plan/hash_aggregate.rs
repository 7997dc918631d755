//! [`HashAggregateExec`]: Hash aggregation: thread-local hash tables per input partition, merged at the end.
//!
//! (Stub: the operator is being written; it reports a clear error until then.)

use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use arrow::datatypes::DataType;

use super::{BatchIter, ExecutionPlan, TaskContext};
use crate::error::{EngineError, Result};
use crate::expr::AggregateFunction;
use crate::physical_expr::PhysicalExprRef;

/// Hash aggregation: thread-local hash tables per input partition, merged at the end.
#[derive(Debug)]
pub struct HashAggregateExec {
    schema: SchemaRef,
}

impl HashAggregateExec {
    /// Creates the operator.
    #[allow(unused_variables)]
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        group_exprs: Vec<PhysicalExprRef>,
        aggregates: Vec<AggregateSpec>,
        schema: SchemaRef,
    ) -> Result<HashAggregateExec> {
        Err(EngineError::Internal(
            "HashAggregateExec is not implemented yet".into(),
        ))
    }
}

impl ExecutionPlan for HashAggregateExec {
    fn name(&self) -> &'static str {
        "HashAggregateExec"
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
            "HashAggregateExec is not implemented yet".into(),
        ))
    }
    fn describe(&self) -> String {
        "HashAggregateExec".to_string()
    }
}

/// One aggregate bound to the input schema.
#[derive(Debug, Clone)]
pub struct AggregateSpec {
    pub func: AggregateFunction,
    /// Empty for `COUNT(*)`.
    pub args: Vec<PhysicalExprRef>,
    pub distinct: bool,
    pub filter: Option<PhysicalExprRef>,
    /// The logical result type ([`crate::expr::aggregate_type`]).
    pub output_type: DataType,
}
