//! [`IndexNestedLoopJoinExec`]: a join whose inner side is a table scan with an index on the
//! join key reads only the inner rows the outer side's keys find in that index, when the outer
//! side turns out to be small. The inner side is the right input, or the left one when the
//! optimizer put the small side on the right (`choose_build_side`).
//!
//! The outer side runs first. If it has at most [`MAX_OUTER_ROWS`] rows (and the inner table is
//! several times bigger), its distinct keys are looked up in the index built for the inner
//! scan's snapshot and the hash join runs against just those inner rows (with every filter of
//! the inner scan applied to them); otherwise against the whole inner scan. The index may be a
//! composite one whose leading columns the join keys fill — then any values the inner scan's
//! equalities fix the next columns to — or a partial one whose condition the inner scan's
//! filters imply (`optimizer::use_indexes::index_join` chooses). Either way the hash join decides the result, so the two paths agree: every
//! inner row that can match an outer row has one of the outer keys. That holds whenever the
//! join keeps no unmatched inner rows: inner joins, left/semi/anti joins with the inner side
//! on the right, and right or semi joins with it on the left (a semi join's left rows without
//! a match are dropped anyway) — the only cases the planner hands to this operator.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parking_lot::Mutex;
use quiver_storage::index::{gather, index_of};
use quiver_storage::{column_keys, RowKey};

use super::hash_join::HashJoinExec;
use super::scan::ScanExec;
use super::values::ValuesExec;
use super::{collect, BatchIter, ExecutionPlan, OperatorMetrics, TaskContext};
use crate::error::{EngineError, Result};
use crate::logical_plan::JoinType;
use crate::optimizer::IndexJoin;
use crate::physical_expr::PhysicalExprRef;

/// Outer sides up to this many rows are joined through the index.
pub const MAX_OUTER_ROWS: usize = 4096;

/// A hash join that narrows its inner scan through an index; see the module documentation.
#[derive(Debug)]
pub struct IndexNestedLoopJoinExec {
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
    /// The inner scan and how its index is looked up (the inner side is `left` when it says
    /// so, else `right`; the other input is the outer one).
    inner: IndexJoin,
    /// The inner scan's filters, applied to the rows the index finds.
    inner_filters: Vec<PhysicalExprRef>,
    /// The index's key parts after the join's, as index keys (one look-up per combination).
    fixed: Vec<Vec<RowKey>>,
    on: Vec<(PhysicalExprRef, PhysicalExprRef)>,
    filter: Option<PhysicalExprRef>,
    join_type: JoinType,
    schema: SchemaRef,
    /// How the last execution read the inner side (for EXPLAIN ANALYZE and tests).
    last_path: Mutex<Option<String>>,
    metrics: OperatorMetrics,
}

impl IndexNestedLoopJoinExec {
    /// `inner.key_pairs` name pairs of `on` whose inner keys are the inner scan's columns the
    /// index leads with, in index order.
    #[allow(clippy::too_many_arguments)]
    pub fn try_new(
        left: Arc<dyn ExecutionPlan>,
        right: Arc<dyn ExecutionPlan>,
        inner: IndexJoin,
        inner_filters: Vec<PhysicalExprRef>,
        on: Vec<(PhysicalExprRef, PhysicalExprRef)>,
        filter: Option<PhysicalExprRef>,
        join_type: JoinType,
        schema: SchemaRef,
    ) -> Result<IndexNestedLoopJoinExec> {
        // Validates keys and types once, as the hash join it will run.
        HashJoinExec::try_new(
            Arc::clone(&left),
            Arc::clone(&right),
            on.clone(),
            filter.clone(),
            join_type,
            Arc::clone(&schema),
        )?;
        if inner.key_pairs.is_empty() || inner.key_pairs.iter().any(|&pair| pair >= on.len()) {
            return Err(EngineError::Internal(format!(
                "an index join on key pairs {:?} of {}",
                inner.key_pairs,
                on.len()
            )));
        }
        let fixed = inner
            .fixed
            .iter()
            .map(|values| {
                values
                    .iter()
                    .map(|value| single_key(&value.to_array(1)))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(IndexNestedLoopJoinExec {
            left,
            right,
            inner,
            inner_filters,
            fixed,
            on,
            filter,
            join_type,
            schema,
            last_path: Mutex::new(None),
            metrics: OperatorMetrics::default(),
        })
    }

    /// "index" or "scan": how the last execution read the inner side.
    pub fn last_path(&self) -> Option<String> {
        self.last_path.lock().clone()
    }

    /// The inner rows the outer keys find in the index, scanned with the inner filters.
    fn narrowed_inner(&self, outer: &[RecordBatch]) -> Result<Arc<dyn ExecutionPlan>> {
        // Per outer row, its key parts in index order.
        let mut prefixes: Vec<Vec<RowKey>> = Vec::new();
        for batch in outer {
            let columns = self
                .inner
                .key_pairs
                .iter()
                .map(|&pair| {
                    let (left_key, right_key) = &self.on[pair];
                    let outer_key = if self.inner.inner_is_left {
                        right_key
                    } else {
                        left_key
                    };
                    column_keys(&outer_key.evaluate(batch)?.into_array(batch.num_rows())?)
                        .map_err(EngineError::from)
                })
                .collect::<Result<Vec<_>>>()?;
            prefixes.extend((0..batch.num_rows()).filter_map(|row| {
                let parts: Vec<RowKey> = columns.iter().map(|c| c[row].clone()).collect();
                (!parts.iter().any(RowKey::has_null)).then_some(parts)
            }));
        }
        prefixes.sort_unstable();
        prefixes.dedup();
        for values in &self.fixed {
            prefixes = prefixes
                .iter()
                .flat_map(|prefix| {
                    values.iter().map(move |value| {
                        let mut longer = prefix.clone();
                        longer.push(value.clone());
                        longer
                    })
                })
                .collect();
        }
        let scan = &self.inner.scan;
        let built = index_of(&scan.snapshot, &self.inner.index)?;
        let addresses = built.lookup_prefixes(&prefixes)?;
        let gathered = Arc::new(gather(&scan.snapshot, &addresses)?);
        Ok(Arc::new(ScanExec::try_new(
            scan.table_name.clone(),
            gathered,
            scan.source.schema(),
            scan.projection.clone(),
            self.inner_filters.clone(),
            None,
            1,
        )?))
    }
}

/// The index key of a one-value array.
fn single_key(array: &arrow::array::ArrayRef) -> Result<RowKey> {
    column_keys(array)?
        .into_iter()
        .next()
        .ok_or_else(|| EngineError::Internal("an index key of no value".into()))
}

impl ExecutionPlan for IndexNestedLoopJoinExec {
    fn name(&self) -> &'static str {
        "IndexNestedLoopJoinExec"
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

    fn execute(&self, _partition: usize, ctx: &Arc<TaskContext>) -> Result<BatchIter> {
        let start = Instant::now();
        let inner_is_left = self.inner.inner_is_left;
        let (outer_plan, full_inner) = if inner_is_left {
            (&self.right, &self.left)
        } else {
            (&self.left, &self.right)
        };
        let outer = collect(Arc::clone(outer_plan), ctx)?;
        let outer_rows: usize = outer.iter().map(RecordBatch::num_rows).sum();
        let inner_rows = self.inner.scan.snapshot.num_rows();
        let use_index = outer_rows <= MAX_OUTER_ROWS && inner_rows >= outer_rows.saturating_mul(8);
        let inner = if use_index {
            self.narrowed_inner(&outer)?
        } else {
            Arc::clone(full_inner)
        };
        *self.last_path.lock() = Some(if use_index { "index" } else { "scan" }.to_string());
        let outer: Arc<dyn ExecutionPlan> =
            Arc::new(ValuesExec::try_new(outer_plan.schema(), outer)?);
        let (left, right) = if inner_is_left {
            (inner, outer)
        } else {
            (outer, inner)
        };
        let join = HashJoinExec::try_new(
            left,
            right,
            self.on.clone(),
            self.filter.clone(),
            self.join_type,
            Arc::clone(&self.schema),
        )?;
        let batches = collect(Arc::new(join), ctx)?;
        self.metrics.add_elapsed(start.elapsed());
        for batch in &batches {
            self.metrics.record_batch(batch.num_rows());
        }
        Ok(Box::new(batches.into_iter().map(Ok)))
    }

    fn metrics(&self) -> Option<&OperatorMetrics> {
        Some(&self.metrics)
    }

    fn describe(&self) -> String {
        let on: Vec<String> = self.on.iter().map(|(l, r)| format!("{l} = {r}")).collect();
        // After a run, how it read the inner side (its scan below then reads nothing itself
        // when the index was used).
        let path = match self.last_path.lock().as_deref() {
            Some(path) => format!(", read the inner side by {path}"),
            None => String::new(),
        };
        format!(
            "IndexNestedLoopJoinExec: {}, on=[{}], {} (outer rows <= {MAX_OUTER_ROWS}, \
             else hash join){path}",
            self.join_type.sql(),
            on.join(", "),
            self.inner.describe()
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{AsArray, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use quiver_storage::{Catalog, IndexDefinition, IndexKind};

    use super::*;
    use crate::execution::{SessionConfig, SessionContext};
    use crate::expr::qualified_col;
    use crate::lit;
    use crate::logical_plan::{LogicalPlan, LogicalPlanBuilder};

    const STATUSES: [&str; 3] = ["a", "b", "c"];

    /// `visit` (2000 rows: customer `i % 50`, status `STATUSES[i % 3]`, amount `i`) with a hash
    /// index on `(status, customer)`, and five wanted `(customer, status)` pairs, NULLs
    /// among them.
    fn tables(catalog: &Catalog) -> Arc<LogicalPlan> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("customer", DataType::Int64, true),
            Field::new("status", DataType::Utf8, true),
        ]));
        let visit = catalog.create_table("visit", Arc::clone(&schema)).unwrap();
        visit
            .add_index(IndexDefinition {
                name: "visit_status_customer".into(),
                columns: vec![2, 1],
                descending: vec![false, false],
                kind: IndexKind::Hash,
                condition: None,
                condition_expr: None,
            })
            .unwrap();
        let ids: Int64Array = (0..2000).collect();
        let customers: Int64Array = (0..2000).map(|i| Some(i % 50)).collect();
        let statuses: StringArray = (0..2000).map(|i| Some(STATUSES[i % 3])).collect();
        visit
            .append(&[RecordBatch::try_new(
                Arc::clone(&schema),
                vec![Arc::new(ids), Arc::new(customers), Arc::new(statuses)],
            )
            .unwrap()])
            .unwrap();
        let wanted = catalog.create_table("wanted", Arc::clone(&schema)).unwrap();
        let pairs = [
            (Some(7), Some("a")),
            (Some(7), Some("b")),
            (Some(8), Some("c")),
            (None, Some("a")),
            (Some(9), None),
        ];
        wanted
            .append(&[RecordBatch::try_new(
                schema,
                vec![
                    Arc::new((0..5).collect::<Int64Array>()),
                    Arc::new(pairs.iter().map(|p| p.0).collect::<Int64Array>()),
                    Arc::new(pairs.iter().map(|p| p.1).collect::<StringArray>()),
                ],
            )
            .unwrap()])
            .unwrap();
        // The inner filter (`id >= 100`) stays a residual on the rows the index finds.
        let inner = LogicalPlanBuilder::scan(visit, "V")
            .filter(qualified_col("V", "id").gt_eq(lit(100i64)))
            .unwrap()
            .build();
        LogicalPlanBuilder::scan(wanted, "W")
            .join(
                inner,
                JoinType::Inner,
                vec![
                    (
                        qualified_col("W", "customer"),
                        qualified_col("V", "customer"),
                    ),
                    (qualified_col("W", "status"), qualified_col("V", "status")),
                ],
                None,
            )
            .unwrap()
            .project(vec![qualified_col("V", "id")])
            .unwrap()
            .build()
    }

    fn ids(context: &SessionContext, plan: &Arc<LogicalPlan>) -> Vec<i64> {
        let result = context.execute(Arc::clone(plan)).unwrap();
        let mut ids: Vec<i64> = result
            .batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn a_join_on_two_keys_reads_both_columns_of_a_hash_index_in_its_order() {
        let catalog = Catalog::new();
        let plan = tables(&catalog);
        let context = SessionContext::new(catalog.clone());
        let explained = context.explain(Arc::clone(&plan), false).unwrap();
        assert!(
            explained.contains("IndexNestedLoopJoinExec: INNER JOIN")
                && explained.contains("index=visit_status_customer prefix=[status, customer]"),
            "{explained}"
        );
        let expected: Vec<i64> = (100..2000)
            .filter(|i| {
                let (customer, status) = (i % 50, STATUSES[(i % 3) as usize]);
                matches!((customer, status), (7, "a") | (7, "b") | (8, "c"))
            })
            .collect();
        assert_eq!(ids(&context, &plan), expected);
        // EXPLAIN ANALYZE gives the join its own rows and says how the inner side was read.
        let analyzed = context.explain(Arc::clone(&plan), true).unwrap();
        let join_line = analyzed
            .lines()
            .find(|line| line.contains("IndexNestedLoopJoinExec"))
            .unwrap_or_default();
        assert!(
            join_line.contains("read the inner side by index")
                && join_line.contains(&format!("rows={}", expected.len())),
            "{analyzed}"
        );
        let plain =
            SessionContext::with_config(catalog, SessionConfig::new().disable_rule("use_indexes"));
        let explained = plain.explain(Arc::clone(&plan), false).unwrap();
        assert!(!explained.contains("IndexNestedLoop"), "{explained}");
        assert_eq!(ids(&plain, &plan), expected);
    }
}
