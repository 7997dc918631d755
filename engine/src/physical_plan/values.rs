//! [`ValuesExec`]: batches held in memory (literal rows, `QuerySet.none()`, test inputs).
//!
//! The planner evaluates a `VALUES` list into batches once, when the plan is built, so running
//! the operator is only handing out clones of `Arc`ed arrays.

use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::datatypes::SchemaRef;

use super::{BatchIter, ExecutionPlan, OperatorMetrics, TaskContext};
use crate::error::{EngineError, Result};

/// Produces the given batches, in order, as one partition. Empty batches are dropped.
#[derive(Debug)]
pub struct ValuesExec {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    metrics: Arc<OperatorMetrics>,
}

impl ValuesExec {
    /// Checks that every batch has `schema`'s column types.
    pub fn try_new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<ValuesExec> {
        for batch in &batches {
            let theirs = batch.schema();
            let same_types = theirs.fields().len() == schema.fields().len()
                && theirs
                    .fields()
                    .iter()
                    .zip(schema.fields())
                    .all(|(a, b)| a.data_type() == b.data_type());
            if !same_types {
                return Err(EngineError::Internal(format!(
                    "ValuesExec batch schema {theirs} does not match {schema}"
                )));
            }
        }
        let batches = batches
            .into_iter()
            .filter(|b| b.num_rows() > 0)
            .map(|b| {
                let options = RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
                RecordBatch::try_new_with_options(
                    Arc::clone(&schema),
                    b.columns().to_vec(),
                    &options,
                )
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| EngineError::Plan(format!("invalid VALUES rows: {e}")))?;
        Ok(ValuesExec {
            schema,
            batches,
            metrics: Arc::new(OperatorMetrics::default()),
        })
    }

    /// Total rows held.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
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

    fn execute(&self, partition: usize, _ctx: &Arc<TaskContext>) -> Result<BatchIter> {
        if partition != 0 {
            return Err(EngineError::Internal(format!(
                "ValuesExec has one partition, asked for partition {partition}"
            )));
        }
        let metrics = Arc::clone(&self.metrics);
        Ok(Box::new(self.batches.clone().into_iter().map(move |b| {
            metrics.record_batch(b.num_rows());
            Ok(b)
        })))
    }

    fn describe(&self) -> String {
        format!("ValuesExec: rows={}", self.num_rows())
    }

    fn metrics(&self) -> Option<&OperatorMetrics> {
        Some(&self.metrics)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int32Array, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::physical_plan::collect;

    fn schema(name: &str, data_type: DataType, nullable: bool) -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new(name, data_type, nullable)]))
    }

    #[test]
    fn returns_batches_under_its_own_schema_and_drops_empty_ones() {
        let input_schema = schema("a", DataType::Int64, true);
        let batch = |v: Vec<i64>| {
            RecordBatch::try_new(
                Arc::clone(&input_schema),
                vec![Arc::new(Int64Array::from(v))],
            )
            .unwrap()
        };
        let out_schema = schema("renamed", DataType::Int64, true);
        let values = ValuesExec::try_new(
            Arc::clone(&out_schema),
            vec![batch(vec![1, 2]), batch(vec![]), batch(vec![3])],
        )
        .unwrap();
        assert_eq!(values.describe(), "ValuesExec: rows=3");
        let out = collect(Arc::new(values), &TaskContext::new(Default::default())).unwrap();
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|b| b.schema() == out_schema));
    }

    #[test]
    fn rejects_mismatched_types_and_nulls_in_not_null_columns() {
        let ints = RecordBatch::try_new(
            schema("a", DataType::Int32, true),
            vec![Arc::new(Int32Array::from(vec![Some(1), None]))],
        )
        .unwrap();
        assert!(
            ValuesExec::try_new(schema("a", DataType::Int64, true), vec![ints.clone()]).is_err()
        );
        let err = ValuesExec::try_new(schema("a", DataType::Int32, false), vec![ints]).unwrap_err();
        assert!(matches!(err, EngineError::Plan(_)), "{err}");
    }
}
