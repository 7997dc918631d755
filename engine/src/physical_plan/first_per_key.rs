//! [`FirstPerKeyExec`]: the first row of each run of equal keys in a sorted input — the
//! second half of `DISTINCT ON` (the planner sorts by the keys, then the order, below it).
//!
//! Keys are compared in Arrow's row format, where NULLs are equal to each other (as in
//! `DISTINCT ON`); the last key of a batch is carried into the next, so runs may span batches.

use std::sync::Arc;

use arrow::array::UInt32Array;
use arrow::compute::take_record_batch;
use arrow::datatypes::SchemaRef;
use arrow::row::{OwnedRow, RowConverter, SortField};

use super::{BatchIter, ExecutionPlan, OperatorMetrics, TaskContext};
use crate::error::{EngineError, Result};
use crate::physical_expr::PhysicalExprRef;

/// Keeps the first row of each run of equal `keys`.
#[derive(Debug)]
pub struct FirstPerKeyExec {
    input: Arc<dyn ExecutionPlan>,
    keys: Vec<PhysicalExprRef>,
    metrics: Arc<OperatorMetrics>,
}

impl FirstPerKeyExec {
    /// Over an input with one partition, sorted by `keys` first.
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        keys: Vec<PhysicalExprRef>,
    ) -> Result<FirstPerKeyExec> {
        if input.output_partitions() != 1 {
            return Err(EngineError::Internal(
                "FirstPerKeyExec needs one sorted input partition".into(),
            ));
        }
        Ok(FirstPerKeyExec {
            input,
            keys,
            metrics: Arc::new(OperatorMetrics::default()),
        })
    }
}

impl ExecutionPlan for FirstPerKeyExec {
    fn name(&self) -> &'static str {
        "FirstPerKeyExec"
    }

    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn output_partitions(&self) -> usize {
        1
    }

    fn execute(&self, partition: usize, ctx: &Arc<TaskContext>) -> Result<BatchIter> {
        if partition != 0 {
            return Err(EngineError::Internal(format!(
                "FirstPerKeyExec has one partition, asked for partition {partition}"
            )));
        }
        let fields = self
            .keys
            .iter()
            .map(|k| SortField::new(k.data_type()))
            .collect();
        let converter = RowConverter::new(fields)?;
        let keys = self.keys.clone();
        let metrics = Arc::clone(&self.metrics);
        let mut previous: Option<OwnedRow> = None;
        let input = self.input.execute(0, ctx)?;
        Ok(Box::new(input.filter_map(move |batch| {
            let run = || -> Result<Option<arrow::array::RecordBatch>> {
                let batch = batch?;
                let columns = keys
                    .iter()
                    .map(|k| k.evaluate(&batch)?.into_array(batch.num_rows()))
                    .collect::<Result<Vec<_>>>()?;
                let rows = converter.convert_columns(&columns)?;
                let mut indices = Vec::new();
                for (i, row) in rows.iter().enumerate() {
                    if previous.as_ref().map(|p| p.row()) != Some(row) {
                        indices.push(i as u32);
                        previous = Some(row.owned());
                    }
                }
                if indices.is_empty() {
                    return Ok(None);
                }
                let kept = take_record_batch(&batch, &UInt32Array::from(indices))?;
                metrics.record_batch(kept.num_rows());
                Ok(Some(kept))
            };
            run().transpose()
        })))
    }

    fn describe(&self) -> String {
        let keys: Vec<String> = self.keys.iter().map(ToString::to_string).collect();
        format!("FirstPerKeyExec: keys=[{}]", keys.join(", "))
    }

    fn metrics(&self) -> Option<&OperatorMetrics> {
        Some(&self.metrics)
    }
}
