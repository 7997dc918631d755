//! [`FilterExec`]: keeps the rows where a predicate is TRUE.
//!
//! SQL drops a row when its predicate is FALSE *or NULL*, so a predicate's result is first
//! turned into a `Selection`: all rows, no rows, or a NULL-free mask. The first two are common
//! (a literal predicate, a chunk where every row matches) and cost nothing; only a real mask
//! runs Arrow's `filter_record_batch`. [`ScanExec`](super::scan::ScanExec) uses the same
//! selection logic for the predicates pushed into it.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::compute::{and, filter_record_batch, prep_null_mask_filter};
use arrow::datatypes::{DataType, SchemaRef};
use quiver_storage::ScalarValue;

use super::{BatchIter, ExecutionPlan, OperatorMetrics, TaskContext};
use crate::error::{EngineError, Result};
use crate::physical_expr::{ColumnarValue, PhysicalExpr, PhysicalExprRef};

/// Keeps the rows of its input where `predicate` is TRUE. Keeps the input's partitioning and
/// never emits empty batches.
#[derive(Debug)]
pub struct FilterExec {
    input: Arc<dyn ExecutionPlan>,
    predicate: PhysicalExprRef,
    metrics: Arc<OperatorMetrics>,
}

impl FilterExec {
    /// Filters `input` by `predicate`, which must be bound to the input's schema and be boolean.
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        predicate: PhysicalExprRef,
    ) -> Result<FilterExec> {
        check_boolean(predicate.as_ref())?;
        Ok(FilterExec {
            input,
            predicate,
            metrics: Arc::new(OperatorMetrics::default()),
        })
    }

    /// The predicate.
    pub fn predicate(&self) -> &PhysicalExprRef {
        &self.predicate
    }
}

impl ExecutionPlan for FilterExec {
    fn name(&self) -> &'static str {
        "FilterExec"
    }

    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn output_partitions(&self) -> usize {
        self.input.output_partitions()
    }

    fn execute(&self, partition: usize, ctx: &Arc<TaskContext>) -> Result<BatchIter> {
        let input = self.input.execute(partition, ctx)?;
        let predicate = Arc::clone(&self.predicate);
        let metrics = Arc::clone(&self.metrics);
        Ok(Box::new(input.filter_map(move |batch| {
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => return Some(Err(e)),
            };
            let start = Instant::now();
            let filtered = Selection::evaluate(predicate.as_ref(), &batch)
                .and_then(|selection| selection.apply(&batch));
            metrics.add_elapsed(start.elapsed());
            match filtered {
                Ok(Some(out)) => {
                    metrics.record_batch(out.num_rows());
                    Some(Ok(out))
                }
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            }
        })))
    }

    fn describe(&self) -> String {
        format!("FilterExec: {}", self.predicate)
    }

    fn metrics(&self) -> Option<&OperatorMetrics> {
        Some(&self.metrics)
    }
}

/// Rejects predicates that cannot produce booleans (NULL-typed ones are fine: they select
/// nothing).
pub(crate) fn check_boolean(predicate: &dyn PhysicalExpr) -> Result<()> {
    match predicate.data_type() {
        DataType::Boolean | DataType::Null => Ok(()),
        other => Err(EngineError::Plan(format!(
            "filter predicate must be boolean, got {other}: {predicate}"
        ))),
    }
}

/// Which rows of a batch a predicate keeps.
#[derive(Debug, Clone)]
pub(crate) enum Selection {
    /// Every row.
    All,
    /// No row.
    Nothing,
    /// The rows where the mask is true; the mask has no NULLs and both true and false values.
    Rows(BooleanArray),
}

impl Selection {
    /// Evaluates `predicate` over `batch`; NULL counts as FALSE.
    pub(crate) fn evaluate(predicate: &dyn PhysicalExpr, batch: &RecordBatch) -> Result<Selection> {
        match predicate.evaluate(batch)? {
            ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))) => Ok(Selection::All),
            ColumnarValue::Scalar(ScalarValue::Boolean(_) | ScalarValue::Null) => {
                Ok(Selection::Nothing)
            }
            ColumnarValue::Scalar(other) => Err(EngineError::Internal(format!(
                "predicate {predicate} produced the non-boolean value {other}"
            ))),
            ColumnarValue::Array(array) => match array.data_type() {
                DataType::Boolean => Ok(Selection::from_mask(array.as_boolean())),
                DataType::Null => Ok(Selection::Nothing),
                other => Err(EngineError::Internal(format!(
                    "predicate {predicate} produced an array of type {other}"
                ))),
            },
        }
    }

    /// Classifies a boolean array (NULL counts as FALSE).
    fn from_mask(mask: &BooleanArray) -> Selection {
        let mask = if mask.null_count() > 0 {
            prep_null_mask_filter(mask)
        } else {
            mask.clone()
        };
        let selected = mask.true_count();
        if selected == mask.len() {
            Selection::All
        } else if selected == 0 {
            Selection::Nothing
        } else {
            Selection::Rows(mask)
        }
    }

    /// The rows both selections keep.
    pub(crate) fn and(self, other: Selection) -> Result<Selection> {
        Ok(match (self, other) {
            (Selection::Nothing, _) | (_, Selection::Nothing) => Selection::Nothing,
            (Selection::All, s) | (s, Selection::All) => s,
            (Selection::Rows(a), Selection::Rows(b)) => Selection::from_mask(&and(&a, &b)?),
        })
    }

    /// The selected rows of `batch`, or `None` when no row is selected.
    pub(crate) fn apply(self, batch: &RecordBatch) -> Result<Option<RecordBatch>> {
        Ok(match self {
            Selection::All if batch.num_rows() > 0 => Some(batch.clone()),
            Selection::All | Selection::Nothing => None,
            Selection::Rows(mask) => Some(filter_record_batch(batch, &mask)?),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::fmt;

    use arrow::array::{Int64Array, StringArray};
    use arrow::compute::kernels::cmp::gt;
    use arrow::datatypes::{Field, Schema};

    use super::*;
    use crate::physical_expr::create_physical_expr;
    use crate::physical_plan::collect;
    use crate::physical_plan::values::ValuesExec;
    use crate::{lit, PlanSchema};

    /// `column > value` over an Int64 column: a predicate for operator tests that does not
    /// depend on the full expression evaluator.
    #[derive(Debug)]
    pub(crate) struct ColumnGreaterThan {
        pub(crate) index: usize,
        pub(crate) value: i64,
    }

    impl fmt::Display for ColumnGreaterThan {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "#{} > {}", self.index, self.value)
        }
    }

    impl PhysicalExpr for ColumnGreaterThan {
        fn data_type(&self) -> DataType {
            DataType::Boolean
        }
        fn nullable(&self) -> bool {
            true
        }
        fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
            let threshold = Int64Array::new_scalar(self.value);
            Ok(ColumnarValue::Array(Arc::new(gt(
                batch.column(self.index),
                &threshold,
            )?)))
        }
    }

    /// An `Arc`ed [`ColumnGreaterThan`].
    pub(crate) fn column_gt(index: usize, value: i64) -> PhysicalExprRef {
        Arc::new(ColumnGreaterThan { index, value })
    }

    fn input() -> Arc<dyn ExecutionPlan> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("x", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let batch = |xs: Vec<Option<i64>>, ss: Vec<&str>| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(Int64Array::from(xs)),
                    Arc::new(StringArray::from(ss)),
                ],
            )
            .unwrap()
        };
        Arc::new(
            ValuesExec::try_new(
                Arc::clone(&schema),
                vec![
                    batch(vec![Some(1), None, Some(5)], vec!["a", "b", "c"]),
                    batch(vec![Some(0), Some(-1)], vec!["d", "e"]),
                    batch(vec![Some(7), Some(3)], vec!["f", "g"]),
                ],
            )
            .unwrap(),
        )
    }

    fn strings(batches: &[RecordBatch], column: usize) -> Vec<String> {
        batches
            .iter()
            .flat_map(|b| {
                let a = b.column(column).as_string::<i32>();
                (0..a.len())
                    .map(|i| a.value(i).to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn keeps_true_rows_drops_null_and_skips_empty_batches() {
        let filter = Arc::new(FilterExec::try_new(input(), column_gt(0, 2)).unwrap());
        let out = collect(
            Arc::clone(&filter) as _,
            &TaskContext::new(Default::default()),
        )
        .unwrap();
        // The middle batch has no match and must not appear as an empty batch.
        assert_eq!(out.len(), 2);
        assert_eq!(strings(&out, 1), vec!["c", "f", "g"]);
        assert_eq!(filter.metrics().unwrap().output_rows(), 3);
        assert_eq!(filter.describe(), "FilterExec: #0 > 2");
    }

    #[test]
    fn literal_predicates_select_all_or_nothing() {
        let schema = PlanSchema::empty();
        let run = |value: ScalarValue| {
            let predicate = create_physical_expr(&lit(value), &schema).unwrap();
            let filter = Arc::new(FilterExec::try_new(input(), predicate).unwrap());
            let out = collect(filter, &TaskContext::new(Default::default())).unwrap();
            strings(&out, 1).len()
        };
        assert_eq!(run(ScalarValue::Boolean(Some(true))), 7);
        assert_eq!(run(ScalarValue::Boolean(Some(false))), 0);
        assert_eq!(run(ScalarValue::Boolean(None)), 0);
        assert_eq!(run(ScalarValue::Null), 0);
    }

    #[test]
    fn rejects_non_boolean_predicates() {
        let predicate = create_physical_expr(&lit(1i64), &PlanSchema::empty()).unwrap();
        let err = FilterExec::try_new(input(), predicate).unwrap_err();
        assert!(err.to_string().contains("must be boolean"), "{err}");
    }

    #[test]
    fn selection_and_combines_masks() {
        let a = Selection::from_mask(&BooleanArray::from(vec![Some(true), Some(true), None]));
        let b = Selection::from_mask(&BooleanArray::from(vec![true, false, true]));
        match a.and(b).unwrap() {
            Selection::Rows(mask) => {
                assert_eq!(mask, BooleanArray::from(vec![true, false, false]))
            }
            other => panic!("expected a mask, got {other:?}"),
        }
        let all = Selection::from_mask(&BooleanArray::from(vec![true, true]));
        assert!(matches!(all, Selection::All));
        let none = Selection::from_mask(&BooleanArray::from(vec![None, Some(false)]));
        assert!(matches!(none, Selection::Nothing));
    }
}
