//! [`ScanExec`]: reads a table snapshot, applying the pushed-down filters and the projection.
//!
//! The scan is where parallelism starts: the rows of the selected chunks (the optimizer's chunk
//! pruning picked them) are laid end to end and cut into `partitions` contiguous ranges of
//! nearly equal row counts, so partition `p` holds the rows that come after those of
//! partition `p - 1` and reading partitions in order reads the table in order. A range may
//! start or end inside a chunk (slicing an Arrow batch is free), which keeps all cores busy
//! even when a table has fewer chunks than cores.
//!
//! Each partition hands out slices of at most `batch_size` rows: small enough for the arrays
//! an expression builds to stay in cache, large enough to amortise per-batch work. Filters are
//! bound to the *whole* table schema and run on the unprojected slice (a filter may read a
//! column the query does not return); only the projected columns are then copied by the
//! filter kernel.
//!
//! A scan below a hash join's probe side may also hold runtime join filters
//! ([`RuntimeFilterExpr`]): once the join has built, they skip row ranges whose chunk
//! statistics lie outside the join's keys and drop rows without a matching key before the
//! other filters run.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::compute::filter_record_batch;
use arrow::datatypes::SchemaRef;
use quiver_storage::TableVersion;

use super::filter::{check_boolean, Selection};
use super::runtime_filter::{RangeTest, RuntimeFilterExpr};
use super::{BatchIter, ExecutionPlan, OperatorMetrics, TaskContext};
use crate::error::{EngineError, Result};
use crate::expr::Expr;
use crate::physical_expr::{PhysicalExpr, PhysicalExprRef};

/// What a row costs a filter that calls a function, matches a LIKE pattern or a regular
/// expression, in rows read without one: such filters are the per-row work that makes a
/// scan worth splitting across threads before its row count alone would. TPC-H q22's
/// `substr(c_phone, 1, 2) IN (…)` over 150,000 customers (twice, with the average's
/// subquery) ran on one thread under the 200,000-row threshold.
const FUNCTION_FILTER_COST: usize = 2;

/// The rows a scan of `rows` rows with `filters` weighs for the parallelism threshold
/// ([`SessionConfig::parallel_threshold_rows`](crate::execution::SessionConfig)): each
/// filter that calls a function or matches a pattern adds `FUNCTION_FILTER_COST` rows'
/// worth per row.
pub fn scan_work_rows(rows: usize, filters: &[Expr]) -> usize {
    let costly = filters
        .iter()
        .filter(|filter| {
            let mut found = false;
            filter.visit(&mut |e| {
                found |= matches!(
                    e,
                    Expr::ScalarFunction(_) | Expr::Like(_) | Expr::RegexMatch(_)
                );
                !found
            });
            found
        })
        .count();
    rows.saturating_mul(1 + FUNCTION_FILTER_COST * costly)
}

/// Rows `offset..offset + len` of chunk `chunk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ChunkRange {
    chunk: usize,
    offset: usize,
    len: usize,
}

/// Reads the chunks of one table snapshot. Output: the projected columns of the rows where
/// every filter is TRUE, in table order within each partition.
#[derive(Debug)]
pub struct ScanExec {
    table_name: String,
    snapshot: Arc<TableVersion>,
    table_schema: SchemaRef,
    projection: Option<Vec<usize>>,
    filters: Vec<PhysicalExprRef>,
    /// Filters on a hash join's build keys, tested before `filters`.
    runtime_filters: Vec<Arc<RuntimeFilterExpr>>,
    chunks: Option<Vec<usize>>,
    schema: SchemaRef,
    /// The row ranges each output partition reads.
    partitions: Vec<Vec<ChunkRange>>,
    metrics: Arc<OperatorMetrics>,
}

impl ScanExec {
    /// Scans `snapshot` of table `table_name`.
    ///
    /// `projection` indexes `table_schema` (`None`: every column); `filters` are bound to
    /// `table_schema`; `chunks` selects chunk indices of the snapshot (`None`: all);
    /// `partitions` is the number of partitions wanted (fewer are used when there are fewer
    /// rows than that, and always at least one).
    pub fn try_new(
        table_name: String,
        snapshot: Arc<TableVersion>,
        table_schema: SchemaRef,
        projection: Option<Vec<usize>>,
        filters: Vec<PhysicalExprRef>,
        chunks: Option<Vec<usize>>,
        partitions: usize,
    ) -> Result<ScanExec> {
        let schema = match &projection {
            Some(indices) => Arc::new(table_schema.project(indices).map_err(|e| {
                EngineError::Internal(format!("bad projection for scan of {table_name}: {e}"))
            })?),
            None => Arc::clone(&table_schema),
        };
        let chunk_count = snapshot.chunks().len();
        if let Some(selected) = &chunks {
            if let Some(bad) = selected.iter().find(|&&c| c >= chunk_count) {
                return Err(EngineError::Internal(format!(
                    "scan of {table_name} selects chunk {bad}, but the snapshot has {chunk_count}"
                )));
            }
        }
        for filter in &filters {
            check_boolean(filter.as_ref())?;
        }
        let selected: Vec<usize> = match &chunks {
            Some(selected) => selected.clone(),
            None => (0..chunk_count).collect(),
        };
        let row_counts: Vec<(usize, usize)> = selected
            .iter()
            .map(|&c| (c, snapshot.chunks()[c].num_rows()))
            .collect();
        let partitions = split_rows(&row_counts, partitions);
        Ok(ScanExec {
            table_name,
            snapshot,
            table_schema,
            projection,
            filters,
            runtime_filters: Vec::new(),
            chunks,
            schema,
            partitions,
            metrics: Arc::new(OperatorMetrics::default()),
        })
    }

    /// Adds runtime join filters (their columns index the table schema).
    pub fn with_runtime_filters(mut self, runtime_filters: Vec<Arc<RuntimeFilterExpr>>) -> Self {
        self.runtime_filters = runtime_filters;
        self
    }

    /// The scanned table's name.
    pub fn table_name(&self) -> &str {
        &self.table_name
    }

    /// Rows the scan reads before filtering (the selected chunks' rows).
    pub fn rows_to_read(&self) -> usize {
        self.partitions.iter().flatten().map(|r| r.len).sum()
    }
}

/// Cuts the rows of `chunks` (`(chunk index, rows)`, in scan order) into at most `partitions`
/// contiguous ranges whose sizes differ by at most one row. Always returns at least one
/// (possibly empty) partition.
fn split_rows(chunks: &[(usize, usize)], partitions: usize) -> Vec<Vec<ChunkRange>> {
    let total: usize = chunks.iter().map(|&(_, rows)| rows).sum();
    let count = partitions.clamp(1, total.max(1));
    let mut out = vec![Vec::new(); count];
    let mut pending = chunks
        .iter()
        .filter(|&&(_, rows)| rows > 0)
        .map(|&(chunk, rows)| ChunkRange {
            chunk,
            offset: 0,
            len: rows,
        });
    let mut current: Option<ChunkRange> = None;
    for (p, ranges) in out.iter_mut().enumerate() {
        let mut wanted = (p + 1) * total / count - p * total / count;
        while wanted > 0 {
            let Some(range) = current.take().or_else(|| pending.next()) else {
                break;
            };
            let len = wanted.min(range.len);
            ranges.push(ChunkRange { len, ..range });
            wanted -= len;
            if len < range.len {
                current = Some(ChunkRange {
                    chunk: range.chunk,
                    offset: range.offset + len,
                    len: range.len - len,
                });
            }
        }
    }
    out
}

/// Splits `range` into pieces of at most `batch_size` rows.
fn batches_of(range: ChunkRange, batch_size: usize) -> impl Iterator<Item = ChunkRange> {
    (0..range.len)
        .step_by(batch_size)
        .map(move |start| ChunkRange {
            chunk: range.chunk,
            offset: range.offset + start,
            len: batch_size.min(range.len - start),
        })
}

/// A filter that keeps at most one row in this many makes the scan copy those rows out
/// before evaluating the next filter on them (copying every column of a few rows costs
/// less than evaluating a filter over every row).
const SPARSE_SELECTION: usize = 32;

/// What one partition needs to turn a chunk range into an output batch.
struct ScanTask {
    snapshot: Arc<TableVersion>,
    filters: Vec<PhysicalExprRef>,
    runtime_filters: Vec<Arc<RuntimeFilterExpr>>,
    projection: Option<Vec<usize>>,
    schema: SchemaRef,
    metrics: Arc<OperatorMetrics>,
}

impl ScanTask {
    /// The projected, filtered rows of `range`, or `None` when no row passes.
    fn read(&self, range: ChunkRange) -> Result<Option<RecordBatch>> {
        let start = Instant::now();
        let out = self.read_inner(range);
        self.metrics.add_elapsed(start.elapsed());
        if let Ok(Some(batch)) = &out {
            self.metrics.record_batch(batch.num_rows());
        }
        out
    }

    fn read_inner(&self, range: ChunkRange) -> Result<Option<RecordBatch>> {
        let chunk = self.snapshot.chunks().get(range.chunk).ok_or_else(|| {
            EngineError::Internal(format!("chunk {} vanished from a snapshot", range.chunk))
        })?;
        let mut runtime_filters = Vec::with_capacity(self.runtime_filters.len());
        for filter in &self.runtime_filters {
            match filter
                .filter()
                .test_range(chunk.statistics(filter.column()))
            {
                RangeTest::Skip => return Ok(None),
                RangeTest::KeepAll => {}
                RangeTest::Test => runtime_filters.push(filter.as_ref() as &dyn PhysicalExpr),
            }
        }
        let mut slice = chunk.batch().slice(range.offset, range.len);
        let mut selection = Selection::All;
        let filters: Vec<&dyn PhysicalExpr> = runtime_filters
            .into_iter()
            .chain(self.filters.iter().map(|filter| filter.as_ref()))
            .collect();
        for (index, filter) in filters.iter().enumerate() {
            selection = selection.and(Selection::evaluate(*filter, &slice)?)?;
            if let Selection::Rows(mask) = &selection {
                // Few rows left (a runtime join filter typically keeps a sliver): the
                // later filters read only those rows, not the whole range.
                let kept = mask.true_count();
                if index + 1 < filters.len() && kept * SPARSE_SELECTION <= mask.len() {
                    slice = filter_record_batch(&slice, mask)?;
                    selection = Selection::All;
                }
            }
            if matches!(selection, Selection::Nothing) {
                return Ok(None);
            }
        }
        let projected = match &self.projection {
            Some(indices) => {
                let columns = indices
                    .iter()
                    .map(|&i| Arc::clone(slice.column(i)))
                    .collect();
                let options = RecordBatchOptions::new().with_row_count(Some(slice.num_rows()));
                RecordBatch::try_new_with_options(Arc::clone(&self.schema), columns, &options)?
            }
            None => slice,
        };
        selection.apply(&projected)
    }
}

impl ExecutionPlan for ScanExec {
    fn name(&self) -> &'static str {
        "ScanExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn output_partitions(&self) -> usize {
        self.partitions.len()
    }

    fn execute(&self, partition: usize, ctx: &Arc<TaskContext>) -> Result<BatchIter> {
        let ranges = self.partitions.get(partition).cloned().ok_or_else(|| {
            EngineError::Internal(format!(
                "ScanExec of {} has {} partitions, asked for partition {partition}",
                self.table_name,
                self.partitions.len()
            ))
        })?;
        let batch_size = ctx.config.batch_size.max(1);
        let task = ScanTask {
            snapshot: Arc::clone(&self.snapshot),
            filters: self.filters.clone(),
            runtime_filters: self.runtime_filters.clone(),
            projection: self.projection.clone(),
            schema: Arc::clone(&self.schema),
            metrics: Arc::clone(&self.metrics),
        };
        Ok(Box::new(
            ranges
                .into_iter()
                .flat_map(move |range| batches_of(range, batch_size))
                .filter_map(move |range| task.read(range).transpose()),
        ))
    }

    fn describe(&self) -> String {
        let mut line = format!("ScanExec: {}", self.table_name);
        if let Some(indices) = &self.projection {
            let names: Vec<&str> = indices
                .iter()
                .map(|&i| self.table_schema.field(i).name().as_str())
                .collect();
            line.push_str(&format!(" projection=[{}]", names.join(", ")));
        }
        if !self.filters.is_empty() {
            let filters: Vec<String> = self.filters.iter().map(ToString::to_string).collect();
            line.push_str(&format!(" filters=[{}]", filters.join(", ")));
        }
        if !self.runtime_filters.is_empty() {
            let filters: Vec<String> = self
                .runtime_filters
                .iter()
                .map(|filter| filter.describe())
                .collect();
            line.push_str(&format!(" runtime_filters=[{}]", filters.join(", ")));
        }
        if let Some(chunks) = &self.chunks {
            line.push_str(&format!(
                " chunks={}/{}",
                chunks.len(),
                self.snapshot.chunks().len()
            ));
        }
        line.push_str(&format!(" partitions={}", self.partitions.len()));
        line
    }

    fn metrics(&self) -> Option<&OperatorMetrics> {
        Some(&self.metrics)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use arrow::array::{AsArray, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use quiver_storage::{Catalog, Table, CHUNK_ROWS};

    use super::*;
    use crate::execution::SessionConfig;
    use crate::physical_plan::collect;
    use crate::physical_plan::filter::tests::column_gt;

    /// A table `name(id Int64 NOT NULL, grp Int64 NULL, tag Utf8)` with `rows` rows:
    /// `id = i`, `grp = i % 7` (NULL when `i % 10 == 3`), `tag = "t{i % 5}"`, appended in
    /// batches of 50 000 rows so that big tables span several chunks.
    pub(crate) fn numbers_table(catalog: &Catalog, name: &str, rows: usize) -> Arc<Table> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("grp", DataType::Int64, true),
            Field::new("tag", DataType::Utf8, true),
        ]));
        let table = catalog.create_table(name, Arc::clone(&schema)).unwrap();
        let mut batches = Vec::new();
        let mut start = 0;
        while start < rows {
            let end = (start + 50_000).min(rows);
            let ids: Int64Array = (start as i64..end as i64).collect();
            let groups: Int64Array = (start as i64..end as i64)
                .map(|i| (i % 10 != 3).then_some(i % 7))
                .collect();
            let tags: StringArray = (start..end).map(|i| Some(format!("t{}", i % 5))).collect();
            batches.push(
                RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![Arc::new(ids), Arc::new(groups), Arc::new(tags)],
                )
                .unwrap(),
            );
            start = end;
        }
        table.append(&batches).unwrap();
        table
    }

    /// Every value of Int64 column `column`, in output order.
    pub(crate) fn int64_column(batches: &[RecordBatch], column: usize) -> Vec<Option<i64>> {
        batches
            .iter()
            .flat_map(|b| b.column(column).as_primitive::<Int64Type>().iter())
            .collect()
    }

    fn context(batch_size: usize) -> Arc<TaskContext> {
        TaskContext::new(SessionConfig {
            batch_size,
            ..SessionConfig::default()
        })
    }

    fn scan(
        table: &Table,
        projection: Option<Vec<usize>>,
        filters: Vec<PhysicalExprRef>,
        chunks: Option<Vec<usize>>,
        partitions: usize,
    ) -> Arc<ScanExec> {
        Arc::new(
            ScanExec::try_new(
                table.name().to_string(),
                table.snapshot(),
                table.schema(),
                projection,
                filters,
                chunks,
                partitions,
            )
            .unwrap(),
        )
    }

    #[test]
    fn splits_rows_into_balanced_contiguous_ranges() {
        let ranges = split_rows(&[(0, 10), (1, 0), (2, 5)], 4);
        let r = |chunk, offset, len| ChunkRange { chunk, offset, len };
        assert_eq!(
            ranges,
            vec![
                vec![r(0, 0, 3)],
                vec![r(0, 3, 4)],
                vec![r(0, 7, 3), r(2, 0, 1)],
                vec![r(2, 1, 4)],
            ]
        );
        assert_eq!(split_rows(&[(0, 2)], 8).len(), 2);
        assert_eq!(split_rows(&[], 8), vec![Vec::<ChunkRange>::new()]);
    }

    #[test]
    fn reads_every_row_in_order_across_chunks_and_partitions() {
        let catalog = Catalog::new();
        let rows = 2 * CHUNK_ROWS + 1234;
        let table = numbers_table(&catalog, "numbers", rows);
        assert_eq!(table.snapshot().chunks().len(), 3);
        for partitions in [1, 2, 5] {
            let plan = scan(&table, None, vec![], None, partitions);
            assert_eq!(plan.output_partitions(), partitions);
            let out = collect(plan, &context(10_000)).unwrap();
            assert!(out.iter().all(|b| b.num_rows() <= 10_000));
            let ids = int64_column(&out, 0);
            let expected: Vec<Option<i64>> = (0..rows as i64).map(Some).collect();
            assert_eq!(ids, expected, "partitions={partitions}");
        }
    }

    #[test]
    fn filters_on_columns_outside_the_projection() {
        let catalog = Catalog::new();
        let table = numbers_table(&catalog, "numbers", 100);
        // Keep `tag` only, filtered on `id > 94`.
        let plan = scan(&table, Some(vec![2]), vec![column_gt(0, 94)], None, 1);
        assert_eq!(plan.schema().fields().len(), 1);
        assert_eq!(plan.schema().field(0).name(), "tag");
        let out = collect(Arc::clone(&plan) as _, &context(8192)).unwrap();
        let tags: Vec<&str> = out
            .iter()
            .flat_map(|b| b.column(0).as_string::<i32>().iter().flatten())
            .collect();
        assert_eq!(tags, vec!["t0", "t1", "t2", "t3", "t4"]);
        assert_eq!(plan.metrics().unwrap().output_rows(), 5);
        assert_eq!(
            plan.describe(),
            "ScanExec: numbers projection=[tag] filters=[#0 > 94] partitions=1"
        );
    }

    #[test]
    fn several_filters_must_all_hold() {
        let catalog = Catalog::new();
        let table = numbers_table(&catalog, "numbers", 1000);
        // id > 10 AND grp > 5: grp = id % 7 = 6, and id % 10 != 3 (else grp is NULL).
        let plan = scan(
            &table,
            None,
            vec![column_gt(0, 10), column_gt(1, 5)],
            None,
            3,
        );
        let ids = int64_column(&collect(plan, &context(64)).unwrap(), 0);
        let expected: Vec<Option<i64>> = (11..1000)
            .filter(|i| i % 7 == 6 && i % 10 != 3)
            .map(Some)
            .collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn later_filters_read_only_the_rows_a_sparse_filter_keeps() {
        let catalog = Catalog::new();
        let table = numbers_table(&catalog, "numbers", 5000);
        // id > 4950 keeps 49 of the 2500 rows of the second partition's range (under one in
        // 32), so grp > 3 and the projection are evaluated on the copied-out rows; a NULL grp
        // (id % 10 == 3) still fails.
        for batch_size in [64, 8192] {
            let plan = scan(
                &table,
                Some(vec![2, 0]),
                vec![column_gt(0, 4950), column_gt(1, 3)],
                None,
                2,
            );
            let batches = collect(plan, &context(batch_size)).unwrap();
            let ids = int64_column(&batches, 1);
            let expected: Vec<Option<i64>> = (4951..5000)
                .filter(|i| i % 7 > 3 && i % 10 != 3)
                .map(Some)
                .collect();
            assert_eq!(ids, expected, "batch size {batch_size}");
            let tags: Vec<String> = batches
                .iter()
                .flat_map(|b| b.column(0).as_string::<i32>().iter())
                .map(|t| t.unwrap_or_default().to_string())
                .collect();
            let expected_tags: Vec<String> = expected
                .iter()
                .map(|i| format!("t{}", i.unwrap_or_default() % 5))
                .collect();
            assert_eq!(tags, expected_tags);
        }
    }

    #[test]
    fn reads_only_the_selected_chunks() {
        let catalog = Catalog::new();
        let table = numbers_table(&catalog, "numbers", 3 * CHUNK_ROWS);
        let plan = scan(&table, Some(vec![0]), vec![], Some(vec![2, 0]), 2);
        assert_eq!(plan.rows_to_read(), 2 * CHUNK_ROWS);
        assert!(plan.describe().ends_with("chunks=2/3 partitions=2"));
        let ids = int64_column(&collect(plan, &context(8192)).unwrap(), 0);
        let chunk = CHUNK_ROWS as i64;
        let expected: Vec<Option<i64>> = (2 * chunk..3 * chunk).chain(0..chunk).map(Some).collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn empty_tables_produce_no_rows_with_the_right_schema() {
        let catalog = Catalog::new();
        let table = numbers_table(&catalog, "empty", 0);
        let plan = scan(&table, Some(vec![1, 0]), vec![column_gt(0, 0)], None, 4);
        assert_eq!(plan.output_partitions(), 1);
        let schema = plan.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, vec!["grp", "id"]);
        assert!(collect(plan, &context(8192)).unwrap().is_empty());
    }

    #[test]
    fn empty_projection_keeps_row_counts() {
        let catalog = Catalog::new();
        let table = numbers_table(&catalog, "numbers", 50);
        let plan = scan(&table, Some(vec![]), vec![column_gt(0, 9)], None, 1);
        let out = collect(plan, &context(8192)).unwrap();
        assert_eq!(out.iter().map(RecordBatch::num_rows).sum::<usize>(), 40);
        assert!(out.iter().all(|b| b.num_columns() == 0));
    }

    #[test]
    fn rejects_chunks_outside_the_snapshot() {
        let catalog = Catalog::new();
        let table = numbers_table(&catalog, "numbers", 10);
        let err = ScanExec::try_new(
            "numbers".into(),
            table.snapshot(),
            table.schema(),
            None,
            vec![],
            Some(vec![1]),
            1,
        )
        .unwrap_err();
        assert!(matches!(err, EngineError::Internal(_)), "{err}");
        let plan = scan(&table, None, vec![], None, 1);
        assert!(plan.execute(1, &context(8192)).is_err());
    }

    /// Function and pattern filters weigh more than comparisons of plain values.
    #[test]
    fn filters_that_call_functions_weigh_more() {
        use crate::expr::{col, lit, ScalarFunction, ScalarFunctionExpr};
        let prefix = Expr::ScalarFunction(ScalarFunctionExpr {
            func: ScalarFunction::Substr,
            args: vec![col("phone"), lit(1i64), lit(2i64)],
        })
        .in_list(vec![lit("13"), lit("31")], false);
        assert_eq!(scan_work_rows(150_000, &[]), 150_000);
        assert_eq!(scan_work_rows(150_000, &[col("x").gt(lit(0i64))]), 150_000);
        assert_eq!(
            scan_work_rows(150_000, &[prefix.clone(), col("x").gt(lit(0i64))]),
            450_000
        );
        assert_eq!(scan_work_rows(usize::MAX, &[prefix]), usize::MAX);
    }
}
