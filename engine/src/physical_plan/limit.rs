//! [`LimitExec`]: OFFSET/LIMIT over every input partition, read in partition order.
//!
//! A scan's partitions are contiguous row ranges in table order (and every other operator
//! keeps or defines an order the same way), so "partition 0, then partition 1, …" is the
//! input's order and `skip`/`fetch` count rows in it. The operator pulls lazily: once `fetch`
//! rows are out it drops the input iterator, so a `LIMIT 10` over a large scan reads only the
//! first batches of the first partition and never starts the others.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::{BatchIter, ExecutionPlan, OperatorMetrics, TaskContext};
use crate::error::{EngineError, Result};

/// Skips `skip` rows, then returns at most `fetch` rows (all with `None`), as one partition.
#[derive(Debug)]
pub struct LimitExec {
    input: Arc<dyn ExecutionPlan>,
    skip: usize,
    fetch: Option<usize>,
    metrics: Arc<OperatorMetrics>,
}

impl LimitExec {
    /// Limits `input`.
    pub fn new(input: Arc<dyn ExecutionPlan>, skip: usize, fetch: Option<usize>) -> LimitExec {
        LimitExec {
            input,
            skip,
            fetch,
            metrics: Arc::new(OperatorMetrics::default()),
        }
    }

    /// Rows skipped.
    pub fn skip(&self) -> usize {
        self.skip
    }

    /// Most rows returned.
    pub fn fetch(&self) -> Option<usize> {
        self.fetch
    }
}

impl ExecutionPlan for LimitExec {
    fn name(&self) -> &'static str {
        "LimitExec"
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
                "LimitExec has one partition, asked for partition {partition}"
            )));
        }
        Ok(Box::new(LimitIter {
            input: Arc::clone(&self.input),
            ctx: Arc::clone(ctx),
            next_partition: 0,
            current: None,
            skip: self.skip,
            remaining: self.fetch,
            metrics: Arc::clone(&self.metrics),
        }))
    }

    fn describe(&self) -> String {
        match self.fetch {
            Some(fetch) => format!("LimitExec: skip={}, fetch={fetch}", self.skip),
            None => format!("LimitExec: skip={}, fetch=None", self.skip),
        }
    }

    fn metrics(&self) -> Option<&OperatorMetrics> {
        Some(&self.metrics)
    }
}

/// Pulls the input's partitions one after another, slicing off skipped and excess rows.
struct LimitIter {
    input: Arc<dyn ExecutionPlan>,
    ctx: Arc<TaskContext>,
    next_partition: usize,
    current: Option<BatchIter>,
    /// Rows still to skip.
    skip: usize,
    /// Rows still to return; `None` for no limit.
    remaining: Option<usize>,
    metrics: Arc<OperatorMetrics>,
}

impl LimitIter {
    /// The next input batch, moving on to the next partition when one is exhausted.
    fn next_input(&mut self) -> Option<Result<RecordBatch>> {
        loop {
            if let Some(current) = &mut self.current {
                match current.next() {
                    Some(batch) => return Some(batch),
                    None => self.current = None,
                }
            }
            if self.next_partition >= self.input.output_partitions() {
                return None;
            }
            match self.input.execute(self.next_partition, &self.ctx) {
                Ok(iter) => self.current = Some(iter),
                Err(e) => {
                    self.next_partition = usize::MAX;
                    return Some(Err(e));
                }
            }
            self.next_partition += 1;
        }
    }

    /// Stops for good: no further input is pulled.
    fn finish(&mut self) {
        self.current = None;
        self.next_partition = usize::MAX;
    }
}

impl Iterator for LimitIter {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        loop {
            if self.remaining == Some(0) {
                self.finish();
                return None;
            }
            let batch = match self.next_input()? {
                Ok(batch) => batch,
                Err(e) => {
                    self.finish();
                    return Some(Err(e));
                }
            };
            let start = Instant::now();
            let rows = batch.num_rows();
            if self.skip >= rows {
                self.skip -= rows;
                continue;
            }
            let offset = std::mem::take(&mut self.skip);
            let mut len = rows - offset;
            if let Some(remaining) = &mut self.remaining {
                len = len.min(*remaining);
                *remaining -= len;
            }
            let out = if offset == 0 && len == rows {
                batch
            } else {
                batch.slice(offset, len)
            };
            self.metrics.add_elapsed(start.elapsed());
            self.metrics.record_batch(len);
            return Some(Ok(out));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use quiver_storage::Catalog;

    use super::*;
    use crate::execution::SessionConfig;
    use crate::physical_plan::collect;
    use crate::physical_plan::scan::tests::{int64_column, numbers_table};
    use crate::physical_plan::scan::ScanExec;

    fn scan_of(rows: usize, partitions: usize) -> Arc<dyn ExecutionPlan> {
        let catalog = Catalog::new();
        let table = numbers_table(&catalog, "numbers", rows);
        Arc::new(
            ScanExec::try_new(
                "numbers".into(),
                table.snapshot(),
                table.schema(),
                Some(vec![0]),
                vec![],
                None,
                partitions,
            )
            .unwrap(),
        )
    }

    fn context(batch_size: usize) -> Arc<TaskContext> {
        TaskContext::new(SessionConfig {
            batch_size,
            ..SessionConfig::default()
        })
    }

    fn ids(limit: LimitExec, batch_size: usize) -> Vec<Option<i64>> {
        int64_column(&collect(Arc::new(limit), &context(batch_size)).unwrap(), 0)
    }

    fn expected(range: std::ops::Range<i64>) -> Vec<Option<i64>> {
        range.map(Some).collect()
    }

    #[test]
    fn skip_and_fetch_span_batches_and_partitions() {
        // 100 rows in 4 partitions of 25, batches of 7.
        let input = scan_of(100, 4);
        assert_eq!(
            ids(LimitExec::new(Arc::clone(&input), 20, Some(40)), 7),
            expected(20..60)
        );
        assert_eq!(
            ids(LimitExec::new(Arc::clone(&input), 0, Some(3)), 7),
            expected(0..3)
        );
        assert_eq!(
            ids(LimitExec::new(Arc::clone(&input), 95, None), 7),
            expected(95..100)
        );
        assert_eq!(
            ids(LimitExec::new(Arc::clone(&input), 25, Some(25)), 7),
            expected(25..50)
        );
        assert_eq!(
            ids(LimitExec::new(Arc::clone(&input), 100, Some(5)), 7),
            vec![]
        );
        assert_eq!(
            ids(LimitExec::new(Arc::clone(&input), 0, Some(0)), 7),
            vec![]
        );
        assert_eq!(
            ids(LimitExec::new(input, 90, Some(50)), 7),
            expected(90..100)
        );
    }

    #[test]
    fn describes_itself() {
        let input = scan_of(1, 1);
        assert_eq!(
            LimitExec::new(Arc::clone(&input), 5, Some(10)).describe(),
            "LimitExec: skip=5, fetch=10"
        );
        assert_eq!(
            LimitExec::new(input, 0, None).describe(),
            "LimitExec: skip=0, fetch=None"
        );
    }

    /// Counts how many partitions were started and how many batches were pulled.
    #[derive(Debug)]
    struct Counting {
        input: Arc<dyn ExecutionPlan>,
        started: Arc<AtomicUsize>,
        pulled: Arc<AtomicUsize>,
    }

    impl ExecutionPlan for Counting {
        fn name(&self) -> &'static str {
            "Counting"
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
            self.started.fetch_add(1, Ordering::SeqCst);
            let pulled = Arc::clone(&self.pulled);
            Ok(Box::new(self.input.execute(partition, ctx)?.inspect(
                move |_| {
                    pulled.fetch_add(1, Ordering::SeqCst);
                },
            )))
        }
        fn describe(&self) -> String {
            "Counting".into()
        }
    }

    #[test]
    fn stops_pulling_once_fetch_is_satisfied() {
        let counting = Arc::new(Counting {
            input: scan_of(1000, 4),
            started: Arc::new(AtomicUsize::new(0)),
            pulled: Arc::new(AtomicUsize::new(0)),
        });
        let limit = LimitExec::new(Arc::clone(&counting) as _, 5, Some(10));
        assert_eq!(ids(limit, 10), expected(5..15));
        assert_eq!(counting.started.load(Ordering::SeqCst), 1);
        assert_eq!(counting.pulled.load(Ordering::SeqCst), 2);
    }
}
