//! [`TopKExec`]: the first k rows of an ordering, without sorting the whole input.
//!
//! `ORDER BY amount DESC LIMIT 10` over millions of rows only ever needs the best 10 seen so
//! far. Each input partition (on its own thread) appends batches to a `SortBuffer`; once it
//! holds more than `2k` rows it is cut back to its best `k` with a bounded sort
//! (`lexsort_to_indices` with a limit). Memory stays within about `2k` rows plus one batch and
//! every row is compared against a small buffer. At the end the partitions' survivors are
//! joined in partition order and cut to `k` once more.
//!
//! Ties resolve exactly as a stable full sort followed by a limit would: the buffer keeps
//! survivors before later rows and each cut is itself stable, so among equal keys a row that
//! came earlier in the input always wins — within a partition and, at the merge, across
//! partitions (partition 0 first).

use std::sync::Arc;
use std::time::Instant;

use arrow::datatypes::SchemaRef;

use super::sort::{deferred, display_sort_exprs, drain_partitions, PhysicalSortExpr, SortBuffer};
use super::{BatchIter, ExecutionPlan, OperatorMetrics, TaskContext};
use crate::error::{EngineError, Result};

/// Below this many buffered rows a partition is not cut back even when `2k` is smaller: a cut
/// has a fixed cost, and tiny batches with a tiny `k` would pay it every batch.
const MIN_CUT_ROWS: usize = 1024;

/// Returns the first `k` rows of its input ordered by `exprs`, as one partition.
#[derive(Debug)]
pub struct TopKExec {
    input: Arc<dyn ExecutionPlan>,
    exprs: Arc<[PhysicalSortExpr]>,
    k: usize,
    metrics: Arc<OperatorMetrics>,
}

impl TopKExec {
    /// The first `k` rows of `input` ordered by `exprs` (bound to the input's schema).
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        exprs: Vec<PhysicalSortExpr>,
        k: usize,
    ) -> Result<TopKExec> {
        Ok(TopKExec {
            input,
            exprs: exprs.into(),
            k,
            metrics: Arc::new(OperatorMetrics::default()),
        })
    }

    /// The sort keys.
    pub fn exprs(&self) -> &[PhysicalSortExpr] {
        &self.exprs
    }

    /// Rows returned at most.
    pub fn k(&self) -> usize {
        self.k
    }
}

impl ExecutionPlan for TopKExec {
    fn name(&self) -> &'static str {
        "TopKExec"
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
                "TopKExec has one partition, asked for partition {partition}"
            )));
        }
        if self.k == 0 {
            return Ok(Box::new(std::iter::empty()));
        }
        let input = Arc::clone(&self.input);
        let exprs = Arc::clone(&self.exprs);
        let metrics = Arc::clone(&self.metrics);
        let ctx = Arc::clone(ctx);
        let k = self.k;
        let cut_above = k.saturating_mul(2).max(MIN_CUT_ROWS);
        Ok(deferred(move || {
            let width = input.schema().fields().len();
            let (sink_exprs, sink_metrics) = (Arc::clone(&exprs), Arc::clone(&metrics));
            let survivors = drain_partitions(&input, &ctx, move |batches| {
                let mut buffer = SortBuffer::new(width);
                for batch in batches {
                    let batch = batch?;
                    let start = Instant::now();
                    buffer.push(&batch, &sink_exprs)?;
                    if buffer.num_rows() > cut_above {
                        buffer.truncate_sorted(&sink_exprs, k)?;
                    }
                    sink_metrics.add_elapsed(start.elapsed());
                }
                let start = Instant::now();
                buffer.truncate_sorted(&sink_exprs, k)?;
                sink_metrics.add_elapsed(start.elapsed());
                Ok(buffer)
            })?;
            let start = Instant::now();
            let buffer = SortBuffer::concat(survivors);
            let positions = buffer.sorted_indices(&exprs, Some(k))?;
            metrics.add_elapsed(start.elapsed());
            Ok(buffer.into_batches(input.schema(), positions, ctx.config.batch_size, metrics))
        }))
    }

    fn describe(&self) -> String {
        format!(
            "TopKExec: fetch={}, {}",
            self.k,
            display_sort_exprs(&self.exprs)
        )
    }

    fn metrics(&self) -> Option<&OperatorMetrics> {
        Some(&self.metrics)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::RecordBatch;
    use proptest::prelude::*;

    use super::*;
    use crate::physical_plan::collect;
    use crate::physical_plan::limit::LimitExec;
    use crate::physical_plan::sort::tests::{context, int64s, key, values_input};
    use crate::physical_plan::sort::SortExec;

    fn top_k(
        input: Arc<dyn ExecutionPlan>,
        keys: Vec<PhysicalSortExpr>,
        k: usize,
        batch_size: usize,
    ) -> Vec<RecordBatch> {
        collect(
            Arc::new(TopKExec::try_new(input, keys, k).unwrap()),
            &context(batch_size),
        )
        .unwrap()
    }

    fn sort_then_limit(
        input: Arc<dyn ExecutionPlan>,
        keys: Vec<PhysicalSortExpr>,
        k: usize,
        batch_size: usize,
    ) -> Vec<RecordBatch> {
        let sort = Arc::new(SortExec::try_new(input, keys).unwrap());
        collect(
            Arc::new(LimitExec::new(sort, 0, Some(k))),
            &context(batch_size),
        )
        .unwrap()
    }

    #[test]
    fn keeps_the_first_k_rows_and_breaks_ties_by_input_order() {
        // Many equal keys spread over many batches: compaction happens repeatedly (k * 2 is
        // below MIN_CUT_ROWS here, so use enough rows to pass it).
        let rows: Vec<(Option<i64>, i64)> = (0..5000).map(|i| (Some(i % 3), i)).collect();
        let input = values_input(&rows, 100);
        let schema = input.schema();
        let out = top_k(
            Arc::clone(&input),
            vec![key(&schema, "k", true, false)],
            5,
            2,
        );
        assert_eq!(
            out.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
        // k = 2 first (DESC), in input order: v = 2, 5, 8, 11, 14.
        assert_eq!(
            int64s(&out, 1),
            vec![Some(2), Some(5), Some(8), Some(11), Some(14)]
        );
    }

    #[test]
    fn k_larger_than_input_and_k_zero() {
        let rows = [(Some(3), 0), (None, 1), (Some(1), 2)];
        let input = values_input(&rows, 2);
        let keys = vec![key(&input.schema(), "k", false, true)];
        let out = top_k(Arc::clone(&input), keys.clone(), 10, 8);
        assert_eq!(int64s(&out, 1), vec![Some(1), Some(2), Some(0)]);
        assert!(top_k(input, keys, 0, 8).is_empty());
    }

    #[test]
    fn describe_shows_fetch_and_keys() {
        let input = values_input(&[], 1);
        let top = TopKExec::try_new(
            Arc::clone(&input),
            vec![key(&input.schema(), "v", true, true)],
            10,
        )
        .unwrap();
        assert_eq!(top.describe(), "TopKExec: fetch=10, [v@1 DESC NULLS FIRST]");
    }

    #[test]
    fn matches_sort_and_limit_over_a_parallel_scan() {
        use crate::physical_plan::scan::tests::numbers_table;
        use crate::physical_plan::scan::ScanExec;
        let catalog = quiver_storage::Catalog::new();
        let table = numbers_table(&catalog, "numbers", 100_000);
        let scan: Arc<dyn ExecutionPlan> = Arc::new(
            ScanExec::try_new(
                "numbers".into(),
                table.snapshot(),
                table.schema(),
                None,
                vec![],
                None,
                3,
            )
            .unwrap(),
        );
        let schema = scan.schema();
        let keys = vec![
            key(&schema, "grp", false, true),
            key(&schema, "id", true, false),
        ];
        for k in [1, 7, 3000] {
            let expected = sort_then_limit(Arc::clone(&scan), keys.clone(), k, 1000);
            let actual = top_k(Arc::clone(&scan), keys.clone(), k, 1000);
            assert_eq!(int64s(&actual, 0), int64s(&expected, 0), "k={k}");
            assert_eq!(int64s(&actual, 0).len(), k);
        }
    }

    fn rows_strategy() -> impl Strategy<Value = Vec<(Option<i64>, i64)>> {
        // Few distinct keys so that ties are common; v numbers the rows.
        prop::collection::vec(prop::option::weighted(0.8, -5i64..5), 0..3000).prop_map(|keys| {
            keys.into_iter()
                .enumerate()
                .map(|(i, k)| (k, i as i64))
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn top_k_equals_sort_then_limit(
            rows in rows_strategy(),
            k in 0usize..2500,
            per_batch in prop::sample::select(vec![1usize, 2, 7, 49, 50, 51, 100, 1000]),
            descending: bool,
            nulls_first: bool,
            second_key: bool,
        ) {
            let input = values_input(&rows, per_batch);
            let schema = input.schema();
            let mut keys = vec![key(&schema, "k", descending, nulls_first)];
            if second_key {
                keys.push(key(&schema, "v", !descending, false));
            }
            let expected = sort_then_limit(Arc::clone(&input), keys.clone(), k, 64);
            let actual = top_k(input, keys, k, 64);
            prop_assert_eq!(int64s(&actual, 1), int64s(&expected, 1));
        }
    }
}
