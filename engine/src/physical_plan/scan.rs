//! [`ScanExec`]: Reads chunks of a table snapshot, applying pushed-down filters and the projection; chunks are split into partitions.
//!
//! (Stub: the operator is being written; it reports a clear error until then.)

use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use super::{BatchIter, ExecutionPlan, TaskContext};
use crate::error::{EngineError, Result};
use crate::physical_expr::PhysicalExprRef;
use quiver_storage::TableVersion;

/// Reads chunks of a table snapshot, applying pushed-down filters and the projection; chunks are split into partitions.
#[derive(Debug)]
pub struct ScanExec {
    schema: SchemaRef,
}

impl ScanExec {
    /// Creates the operator.
    #[allow(unused_variables)]
    pub fn try_new(
        table_name: String,
        snapshot: Arc<TableVersion>,
        table_schema: SchemaRef,
        projection: Option<Vec<usize>>,
        filters: Vec<PhysicalExprRef>,
        chunks: Option<Vec<usize>>,
        partitions: usize,
    ) -> Result<ScanExec> {
        Err(EngineError::Internal(
            "ScanExec is not implemented yet".into(),
        ))
    }
}

impl ExecutionPlan for ScanExec {
    fn name(&self) -> &'static str {
        "ScanExec"
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
            "ScanExec is not implemented yet".into(),
        ))
    }
    fn describe(&self) -> String {
        "ScanExec".to_string()
    }
}
