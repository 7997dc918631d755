//! [`UnionExec`]: the rows of every input, one after another (`UNION ALL`; the planner adds
//! a grouping on every column above it for a distinct `UNION`).
//!
//! Each input partition is an output partition, so a union of large scans stays parallel. The
//! inputs' columns line up by position and are cast to the common type the logical plan chose.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::SchemaRef;

use super::{BatchIter, ExecutionPlan, OperatorMetrics, TaskContext};
use crate::error::{EngineError, Result};

/// Concatenates its inputs' partitions.
#[derive(Debug)]
pub struct UnionExec {
    inputs: Vec<Arc<dyn ExecutionPlan>>,
    schema: SchemaRef,
    metrics: Arc<OperatorMetrics>,
}

impl UnionExec {
    /// Checks every input has as many columns as `schema`.
    pub fn try_new(inputs: Vec<Arc<dyn ExecutionPlan>>, schema: SchemaRef) -> Result<UnionExec> {
        for input in &inputs {
            if input.schema().fields().len() != schema.fields().len() {
                return Err(EngineError::Internal(format!(
                    "union input {} does not line up with {schema}",
                    input.schema()
                )));
            }
        }
        Ok(UnionExec {
            inputs,
            schema,
            metrics: Arc::new(OperatorMetrics::default()),
        })
    }
}

impl ExecutionPlan for UnionExec {
    fn name(&self) -> &'static str {
        "UnionExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.inputs.iter().collect()
    }

    fn output_partitions(&self) -> usize {
        self.inputs.iter().map(|i| i.output_partitions()).sum()
    }

    fn execute(&self, partition: usize, ctx: &Arc<TaskContext>) -> Result<BatchIter> {
        let mut rest = partition;
        for input in &self.inputs {
            let n = input.output_partitions();
            if rest < n {
                let schema = Arc::clone(&self.schema);
                let metrics = Arc::clone(&self.metrics);
                return Ok(Box::new(input.execute(rest, ctx)?.map(move |batch| {
                    let batch = align_batch(&batch?, &schema)?;
                    metrics.record_batch(batch.num_rows());
                    Ok(batch)
                })));
            }
            rest -= n;
        }
        Err(EngineError::Internal(format!(
            "UnionExec has {} partitions, asked for partition {partition}",
            self.output_partitions()
        )))
    }

    fn describe(&self) -> String {
        format!("UnionExec: inputs={}", self.inputs.len())
    }

    fn metrics(&self) -> Option<&OperatorMetrics> {
        Some(&self.metrics)
    }
}

/// `batch` under `schema`: columns cast (strictly) to its types, fields renamed to its names.
pub(crate) fn align_batch(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let strict = CastOptions {
        safe: false,
        format_options: arrow::util::display::FormatOptions::new(),
    };
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                Ok(Arc::clone(column))
            } else {
                Ok(cast_with_options(column, field.data_type(), &strict)?)
            }
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &options,
    )?)
}
