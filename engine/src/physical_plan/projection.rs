//! [`ProjectionExec`]: evaluates one expression per output column.
//!
//! Column references cost an `Arc` clone; literals come back from the evaluator as scalars and
//! are expanded to arrays here, once per batch. The output schema is the logical plan's, so
//! names and nullability are what the user asked for; a column whose evaluated type differs
//! from the schema's (a NULL literal in a typed column) is cast to it.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::SchemaRef;

use super::{BatchIter, ExecutionPlan, OperatorMetrics, TaskContext};
use crate::error::{EngineError, Result};
use crate::physical_expr::PhysicalExprRef;

/// Casts that fail on values they cannot convert instead of turning them into NULLs.
const STRICT_CAST: CastOptions<'static> = CastOptions {
    safe: false,
    format_options: arrow::util::display::FormatOptions::new(),
};

/// Computes `exprs` (bound to the input's schema) over every input batch. Keeps the input's
/// partitioning.
#[derive(Debug)]
pub struct ProjectionExec {
    input: Arc<dyn ExecutionPlan>,
    exprs: Arc<[PhysicalExprRef]>,
    schema: SchemaRef,
    metrics: Arc<OperatorMetrics>,
}

impl ProjectionExec {
    /// Projects `input` to `exprs`, producing batches of `schema` (one field per expression).
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        exprs: Vec<PhysicalExprRef>,
        schema: SchemaRef,
    ) -> Result<ProjectionExec> {
        if exprs.len() != schema.fields().len() {
            return Err(EngineError::Internal(format!(
                "projection has {} expressions but its schema has {} fields",
                exprs.len(),
                schema.fields().len()
            )));
        }
        Ok(ProjectionExec {
            input,
            exprs: exprs.into(),
            schema,
            metrics: Arc::new(OperatorMetrics::default()),
        })
    }

    /// The expressions, one per output column.
    pub fn exprs(&self) -> &[PhysicalExprRef] {
        &self.exprs
    }
}

/// Evaluates `exprs` over `batch` into a batch of `schema`.
fn project(
    exprs: &[PhysicalExprRef],
    schema: &SchemaRef,
    batch: &RecordBatch,
) -> Result<RecordBatch> {
    let rows = batch.num_rows();
    let columns = exprs
        .iter()
        .zip(schema.fields())
        .map(|(expr, field)| {
            let array = expr.evaluate(batch)?.into_array(rows)?;
            if array.data_type() == field.data_type() {
                Ok(array)
            } else {
                Ok(cast_with_options(&array, field.data_type(), &STRICT_CAST)?)
            }
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(Arc::clone(schema), columns, &options)
        .map_err(|e| EngineError::Execution(format!("projection produced an invalid batch: {e}")))
}

impl ExecutionPlan for ProjectionExec {
    fn name(&self) -> &'static str {
        "ProjectionExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn output_partitions(&self) -> usize {
        self.input.output_partitions()
    }

    fn execute(&self, partition: usize, ctx: &Arc<TaskContext>) -> Result<BatchIter> {
        let input = self.input.execute(partition, ctx)?;
        let exprs = Arc::clone(&self.exprs);
        let schema = Arc::clone(&self.schema);
        let metrics = Arc::clone(&self.metrics);
        Ok(Box::new(input.map(move |batch| {
            let batch = batch?;
            let start = Instant::now();
            let out = project(&exprs, &schema, &batch);
            metrics.add_elapsed(start.elapsed());
            if let Ok(out) = &out {
                metrics.record_batch(out.num_rows());
            }
            out
        })))
    }

    fn describe(&self) -> String {
        let columns: Vec<String> = self
            .exprs
            .iter()
            .zip(self.schema.fields())
            .map(|(expr, field)| {
                let text = expr.to_string();
                if text == *field.name() {
                    text
                } else {
                    format!("{text} AS {}", field.name())
                }
            })
            .collect();
        format!("ProjectionExec: [{}]", columns.join(", "))
    }

    fn metrics(&self) -> Option<&OperatorMetrics> {
        Some(&self.metrics)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;
    use crate::physical_expr::create_physical_expr;
    use crate::physical_plan::collect;
    use crate::physical_plan::values::ValuesExec;
    use crate::{col, lit, PlanSchema, ScalarValue};

    fn input() -> (Arc<dyn ExecutionPlan>, PlanSchema) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(Int64Array::from(vec![Some(10), None, Some(30)])),
            ],
        )
        .unwrap();
        let plan_schema = PlanSchema::from_arrow(Some("t"), &schema);
        let values = ValuesExec::try_new(schema, vec![batch.clone(), batch]).unwrap();
        (Arc::new(values), plan_schema)
    }

    #[test]
    fn reorders_columns_and_materializes_literals() {
        let (input, plan_schema) = input();
        let exprs = vec![
            create_physical_expr(&col("b"), &plan_schema).unwrap(),
            create_physical_expr(&lit(7i64).alias("seven"), &plan_schema).unwrap(),
            create_physical_expr(&lit(ScalarValue::Null), &plan_schema).unwrap(),
        ];
        let schema = Arc::new(Schema::new(vec![
            Field::new("b", DataType::Int64, true),
            Field::new("seven", DataType::Int64, false),
            Field::new("nothing", DataType::Utf8, true),
        ]));
        let projection =
            Arc::new(ProjectionExec::try_new(input, exprs, Arc::clone(&schema)).unwrap());
        assert_eq!(
            projection.describe(),
            "ProjectionExec: [b@1 AS b, 7 AS seven, NULL AS nothing]"
        );
        let out = collect(
            Arc::clone(&projection) as _,
            &TaskContext::new(Default::default()),
        )
        .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].schema(), schema);
        let b: Vec<Option<i64>> = out[0]
            .column(0)
            .as_primitive::<Int64Type>()
            .iter()
            .collect();
        assert_eq!(b, vec![Some(10), None, Some(30)]);
        let seven: Vec<Option<i64>> = out[1]
            .column(1)
            .as_primitive::<Int64Type>()
            .iter()
            .collect();
        assert_eq!(seven, vec![Some(7); 3]);
        assert_eq!(out[1].column(2).null_count(), 3);
        assert_eq!(projection.metrics().unwrap().output_rows(), 6);
    }

    #[test]
    fn empty_projection_keeps_row_counts() {
        let (input, _) = input();
        let projection = ProjectionExec::try_new(input, vec![], Arc::new(Schema::empty())).unwrap();
        let out = collect(Arc::new(projection), &TaskContext::new(Default::default())).unwrap();
        assert_eq!(out.iter().map(RecordBatch::num_rows).sum::<usize>(), 6);
    }

    #[test]
    fn rejects_a_schema_of_the_wrong_width() {
        let (input, plan_schema) = input();
        let exprs = vec![create_physical_expr(&col("a"), &plan_schema).unwrap()];
        assert!(ProjectionExec::try_new(input, exprs, Arc::new(Schema::empty())).is_err());
    }
}
