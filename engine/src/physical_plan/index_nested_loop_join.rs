//! [`IndexNestedLoopJoinExec`]: a join whose inner side is a table scan with an index on the
//! join key reads only the inner rows the outer side's keys find in that index, when the outer
//! side turns out to be small. The inner side is the right input, or the left one when the
//! optimizer put the small side on the right (`choose_build_side`).
//!
//! The outer side runs first. If it has at most [`MAX_OUTER_ROWS`] rows (and the inner table is
//! several times bigger), its distinct keys are looked up in the index built for the inner
//! scan's snapshot and the hash join runs against just those inner rows; otherwise against the
//! whole inner scan. Either way the hash join decides the result, so the two paths agree: every
//! inner row that can match an outer row has one of the outer keys. That holds whenever the
//! join keeps no unmatched inner rows: inner joins, and left/semi/anti joins with the inner
//! side on the right or right joins with it on the left — the only cases the planner hands to
//! this operator.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parking_lot::Mutex;
use quiver_storage::index::{gather, index_of};
use quiver_storage::{column_keys, IndexDefinition, RowKey};

use super::hash_join::HashJoinExec;
use super::scan::ScanExec;
use super::values::ValuesExec;
use super::{collect, BatchIter, ExecutionPlan, TaskContext};
use crate::error::Result;
use crate::logical_plan::{JoinType, Scan};
use crate::physical_expr::PhysicalExprRef;

/// Outer sides up to this many rows are joined through the index.
pub const MAX_OUTER_ROWS: usize = 4096;

/// A hash join that narrows its inner scan through an index; see the module documentation.
#[derive(Debug)]
pub struct IndexNestedLoopJoinExec {
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
    /// The inner (indexed) side is `left`; otherwise `right`. The other input is the outer one.
    inner_is_left: bool,
    inner_scan: Scan,
    inner_filters: Vec<PhysicalExprRef>,
    index: IndexDefinition,
    on: Vec<(PhysicalExprRef, PhysicalExprRef)>,
    filter: Option<PhysicalExprRef>,
    join_type: JoinType,
    schema: SchemaRef,
    /// How the last execution read the inner side (for EXPLAIN ANALYZE and tests).
    last_path: Mutex<Option<String>>,
}

impl IndexNestedLoopJoinExec {
    /// The inner side's key in `on[0]` must be the inner scan's column that `index` is on.
    pub fn try_new(
        left: Arc<dyn ExecutionPlan>,
        right: Arc<dyn ExecutionPlan>,
        inner_is_left: bool,
        inner_scan: Scan,
        inner_filters: Vec<PhysicalExprRef>,
        index: IndexDefinition,
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
        Ok(IndexNestedLoopJoinExec {
            left,
            right,
            inner_is_left,
            inner_scan,
            inner_filters,
            index,
            on,
            filter,
            join_type,
            schema,
            last_path: Mutex::new(None),
        })
    }

    /// "index" or "scan": how the last execution read the inner side.
    pub fn last_path(&self) -> Option<String> {
        self.last_path.lock().clone()
    }

    /// The inner rows the outer keys find in the index, scanned with the inner filters.
    fn narrowed_inner(&self, outer: &[RecordBatch]) -> Result<Arc<dyn ExecutionPlan>> {
        let outer_key = if self.inner_is_left {
            &self.on[0].1
        } else {
            &self.on[0].0
        };
        let mut keys: Vec<RowKey> = Vec::new();
        for batch in outer {
            let values = outer_key.evaluate(batch)?.into_array(batch.num_rows())?;
            keys.extend(column_keys(&values)?.into_iter().filter(|k| !k.has_null()));
        }
        keys.sort();
        keys.dedup();
        let built = index_of(&self.inner_scan.snapshot, &self.index)?;
        let gathered = Arc::new(gather(&self.inner_scan.snapshot, &built.lookup(&keys))?);
        Ok(Arc::new(ScanExec::try_new(
            self.inner_scan.table_name.clone(),
            gathered,
            self.inner_scan.source.schema(),
            self.inner_scan.projection.clone(),
            self.inner_filters.clone(),
            None,
            1,
        )?))
    }
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
        let (outer_plan, full_inner) = if self.inner_is_left {
            (&self.right, &self.left)
        } else {
            (&self.left, &self.right)
        };
        let outer = collect(Arc::clone(outer_plan), ctx)?;
        let outer_rows: usize = outer.iter().map(RecordBatch::num_rows).sum();
        let inner_rows = self.inner_scan.snapshot.num_rows();
        let use_index = outer_rows <= MAX_OUTER_ROWS && inner_rows >= outer_rows.saturating_mul(8);
        let inner = if use_index {
            self.narrowed_inner(&outer)?
        } else {
            Arc::clone(full_inner)
        };
        *self.last_path.lock() = Some(if use_index { "index" } else { "scan" }.to_string());
        let outer: Arc<dyn ExecutionPlan> =
            Arc::new(ValuesExec::try_new(outer_plan.schema(), outer)?);
        let (left, right) = if self.inner_is_left {
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
        Ok(Box::new(batches.into_iter().map(Ok)))
    }

    fn describe(&self) -> String {
        let on: Vec<String> = self.on.iter().map(|(l, r)| format!("{l} = {r}")).collect();
        format!(
            "IndexNestedLoopJoinExec: {}, on=[{}], index={} (outer rows <= {MAX_OUTER_ROWS}, \
             else hash join)",
            self.join_type.sql(),
            on.join(", "),
            self.index.name
        )
    }
}
