//! [`SetOperationExec`]: `INTERSECT` and `EXCEPT` (both distinct, as Django's `intersection()`
//! and `difference()` are).
//!
//! The right input is drained into a set of rows in Arrow's row format, where NULLs compare
//! equal (set operations treat them so, unlike `=`); the left input then streams through,
//! keeping each distinct row that is (INTERSECT) or is not (EXCEPT) in that set, in the order
//! of first appearance.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::UInt32Array;
use arrow::compute::take_record_batch;
use arrow::datatypes::SchemaRef;
use arrow::row::{RowConverter, SortField};

use super::union::align_batch;
use super::{collect, BatchIter, ExecutionPlan, OperatorMetrics, TaskContext};
use crate::error::{EngineError, Result};

/// Which rows of the left input survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOperator {
    /// Rows also in the right input.
    Intersect,
    /// Rows not in the right input.
    Except,
}

/// Distinct left rows filtered by membership in the right input.
#[derive(Debug)]
pub struct SetOperationExec {
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
    operator: SetOperator,
    schema: SchemaRef,
    metrics: Arc<OperatorMetrics>,
}

impl SetOperationExec {
    /// Checks both inputs line up with `schema`.
    pub fn try_new(
        left: Arc<dyn ExecutionPlan>,
        right: Arc<dyn ExecutionPlan>,
        operator: SetOperator,
        schema: SchemaRef,
    ) -> Result<SetOperationExec> {
        for input in [&left, &right] {
            if input.schema().fields().len() != schema.fields().len() {
                return Err(EngineError::Internal(format!(
                    "set operation input {} does not line up with {schema}",
                    input.schema()
                )));
            }
        }
        Ok(SetOperationExec {
            left,
            right,
            operator,
            schema,
            metrics: Arc::new(OperatorMetrics::default()),
        })
    }

    fn converter(&self) -> Result<RowConverter> {
        let fields = self
            .schema
            .fields()
            .iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect();
        Ok(RowConverter::new(fields)?)
    }
}

impl ExecutionPlan for SetOperationExec {
    fn name(&self) -> &'static str {
        "SetOperationExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.left, &self.right]
    }

    fn output_partitions(&self) -> usize {
        1
    }

    fn execute(&self, partition: usize, ctx: &Arc<TaskContext>) -> Result<BatchIter> {
        if partition != 0 {
            return Err(EngineError::Internal(format!(
                "SetOperationExec has one partition, asked for partition {partition}"
            )));
        }
        let converter = self.converter()?;
        let mut right_rows: HashSet<Vec<u8>> = HashSet::new();
        for batch in collect(Arc::clone(&self.right), ctx)? {
            let batch = align_batch(&batch, &self.schema)?;
            let rows = converter.convert_columns(batch.columns())?;
            right_rows.extend(rows.iter().map(|r| r.data().to_vec()));
        }
        let keep_members = self.operator == SetOperator::Intersect;
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        let mut out = Vec::new();
        for batch in collect(Arc::clone(&self.left), ctx)? {
            let batch = align_batch(&batch, &self.schema)?;
            let rows = converter.convert_columns(batch.columns())?;
            let mut indices = Vec::new();
            for (i, row) in rows.iter().enumerate() {
                let key = row.data();
                if right_rows.contains(key) == keep_members && seen.insert(key.to_vec()) {
                    indices.push(i as u32);
                }
            }
            if !indices.is_empty() {
                let kept = take_record_batch(&batch, &UInt32Array::from(indices))?;
                self.metrics.record_batch(kept.num_rows());
                out.push(kept);
            }
        }
        Ok(Box::new(out.into_iter().map(Ok)))
    }

    fn describe(&self) -> String {
        format!("SetOperationExec: {:?}", self.operator)
    }

    fn metrics(&self) -> Option<&OperatorMetrics> {
        Some(&self.metrics)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field};
    use quiver_storage::Catalog;

    use crate::expr::lit;
    use crate::logical_plan::{
        Except, Intersect, LogicalPlan, PlanSchema, QualifiedField, Union, Values,
    };
    use crate::{ScalarValue, SessionContext};
    use std::sync::Arc;

    fn values(name: &str, rows: &[Option<i64>]) -> Arc<LogicalPlan> {
        let schema = Arc::new(PlanSchema::new(vec![QualifiedField::new(
            None,
            Field::new(name, DataType::Int64, true),
        )]));
        let rows = rows
            .iter()
            .map(|v| vec![lit(ScalarValue::Int64(*v))])
            .collect();
        Arc::new(LogicalPlan::Values(Values::try_new(schema, rows).unwrap()))
    }

    fn run(plan: LogicalPlan) -> (String, Vec<Option<i64>>) {
        let result = SessionContext::new(Catalog::new())
            .execute(Arc::new(plan))
            .unwrap();
        let name = result.schema.field(0).name().clone();
        let mut out: Vec<Option<i64>> = result
            .batches
            .iter()
            .flat_map(|b: &RecordBatch| {
                let a = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                a.iter().collect::<Vec<_>>()
            })
            .collect();
        out.sort();
        (name, out)
    }

    #[test]
    fn set_operations_treat_nulls_as_equal_and_keep_the_first_names() {
        let a = values("a", &[Some(1), Some(2), Some(2), None, Some(3)]);
        let b = values("b", &[Some(2), None, Some(4)]);
        let (name, rows) = run(LogicalPlan::Union(
            Union::try_new(vec![Arc::clone(&a), Arc::clone(&b)], true).unwrap(),
        ));
        assert_eq!(name, "a");
        assert_eq!(rows.len(), 8);
        let (_, rows) = run(LogicalPlan::Union(
            Union::try_new(vec![Arc::clone(&a), Arc::clone(&b)], false).unwrap(),
        ));
        assert_eq!(rows, [None, Some(1), Some(2), Some(3), Some(4)]);
        let (_, rows) = run(LogicalPlan::Intersect(
            Intersect::try_new(Arc::clone(&a), Arc::clone(&b)).unwrap(),
        ));
        assert_eq!(rows, [None, Some(2)]);
        let (_, rows) = run(LogicalPlan::Except(Except::try_new(a, b).unwrap()));
        assert_eq!(rows, [Some(1), Some(3)]);
    }
}
