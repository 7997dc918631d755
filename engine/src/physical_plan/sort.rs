//! [`SortExec`]: a full, stable sort of all input partitions into one ordered partition.
//!
//! Sorting is a pipeline breaker. Every input partition is drained on its own thread into a
//! `SortBuffer` that keeps the batches as they came plus their evaluated sort keys (so key
//! expressions are computed in parallel and exactly once). The buffers are then joined in
//! partition order — which is the input's order — and sorted once.
//!
//! Arrow's sort kernels are unstable, but SQL users expect `ORDER BY a` to keep the input
//! order of rows with equal `a` (Django's `order_by('a')` over a table read in insertion
//! order, and top-k must return exactly the rows a sort followed by a limit returns). So the
//! position of a row decides between equal keys, in one of three ways:
//!
//! - one key: Arrow's specialised `sort_to_indices` (values sorted next to their positions, no
//!   dynamic dispatch per comparison), then each run of equal keys is re-sorted by position;
//! - several keys: Arrow's `RowConverter` encodes them into byte-comparable rows, which Rust's
//!   stable sort orders with a `memcmp` per comparison;
//! - with a limit (top-k): `lexsort_to_indices` with the position as the last key, so every
//!   key is distinct and its bounded heap sort can only produce the stable order.
//!
//! The output is gathered from the buffered batches with `interleave`, one copy per output
//! batch of `batch_size` rows, instead of concatenating the input and then taking from it.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow::compute::kernels::cmp::distinct;
use arrow::compute::{
    concat, interleave, lexsort_to_indices, sort_to_indices, take, SortColumn, SortOptions,
};
use arrow::datatypes::{DataType, Float32Type, Float64Type, SchemaRef};
use arrow::row::{RowConverter, SortField};

use super::hashing::normalized_f64_bits;
use super::{BatchIter, ExecutionPlan, OperatorMetrics, TaskContext};
use crate::error::{EngineError, Result};
use crate::physical_expr::PhysicalExprRef;

/// One sort key bound to the input schema.
#[derive(Debug, Clone)]
pub struct PhysicalSortExpr {
    pub expr: PhysicalExprRef,
    pub options: SortOptions,
}

impl fmt::Display for PhysicalSortExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} NULLS {}",
            self.expr,
            if self.options.descending {
                "DESC"
            } else {
                "ASC"
            },
            if self.options.nulls_first {
                "FIRST"
            } else {
                "LAST"
            }
        )
    }
}

/// `[a@0 ASC NULLS LAST, b@1 DESC NULLS FIRST]`: sort keys as EXPLAIN shows them.
pub(crate) fn display_sort_exprs(exprs: &[PhysicalSortExpr]) -> String {
    let keys: Vec<String> = exprs.iter().map(ToString::to_string).collect();
    format!("[{}]", keys.join(", "))
}

/// Sorts all rows of its input by `exprs`; equal keys keep their input order (partition 0's
/// rows first). Produces one partition of batches of at most `batch_size` rows.
#[derive(Debug)]
pub struct SortExec {
    input: Arc<dyn ExecutionPlan>,
    exprs: Arc<[PhysicalSortExpr]>,
    metrics: Arc<OperatorMetrics>,
}

impl SortExec {
    /// Sorts `input` by `exprs` (bound to the input's schema).
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        exprs: Vec<PhysicalSortExpr>,
    ) -> Result<SortExec> {
        Ok(SortExec {
            input,
            exprs: exprs.into(),
            metrics: Arc::new(OperatorMetrics::default()),
        })
    }

    /// The sort keys.
    pub fn exprs(&self) -> &[PhysicalSortExpr] {
        &self.exprs
    }
}

impl ExecutionPlan for SortExec {
    fn name(&self) -> &'static str {
        "SortExec"
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
                "SortExec has one partition, asked for partition {partition}"
            )));
        }
        let input = Arc::clone(&self.input);
        let exprs = Arc::clone(&self.exprs);
        let metrics = Arc::clone(&self.metrics);
        let ctx = Arc::clone(ctx);
        Ok(deferred(move || {
            let width = input.schema().fields().len();
            let (sink_exprs, sink_metrics) = (Arc::clone(&exprs), Arc::clone(&metrics));
            let buffers = drain_partitions(&input, &ctx, move |batches| {
                let mut buffer = SortBuffer::new(width);
                for batch in batches {
                    let batch = batch?;
                    let start = Instant::now();
                    buffer.push(&batch, &sink_exprs)?;
                    sink_metrics.add_elapsed(start.elapsed());
                }
                Ok(buffer)
            })?;
            let start = Instant::now();
            let buffer = SortBuffer::concat(buffers);
            let indices = buffer.sorted_indices(&exprs, None)?;
            metrics.add_elapsed(start.elapsed());
            Ok(buffer.into_batches(input.schema(), indices, ctx.config.batch_size, metrics))
        }))
    }

    fn describe(&self) -> String {
        format!("SortExec: {}", display_sort_exprs(&self.exprs))
    }

    fn metrics(&self) -> Option<&OperatorMetrics> {
        Some(&self.metrics)
    }
}

/// An iterator that calls `start` on its first `next()` and then yields what `start`
/// returned: pipeline breakers do their work when first pulled, not when planned.
pub(crate) fn deferred(start: impl FnOnce() -> Result<BatchIter> + Send + 'static) -> BatchIter {
    Box::new(
        std::iter::once_with(start).flat_map(|started| -> BatchIter {
            match started {
                Ok(batches) => batches,
                Err(e) => Box::new(std::iter::once(Err(e))),
            }
        }),
    )
}

/// Runs every partition of `input` through `sink`, each on a worker thread of its own (inline
/// when there is only one), and returns the sinks' results in partition order.
pub(crate) fn drain_partitions<T, F>(
    input: &Arc<dyn ExecutionPlan>,
    ctx: &Arc<TaskContext>,
    sink: F,
) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(BatchIter) -> Result<T> + Send + Sync + 'static,
{
    let partitions = input.output_partitions();
    if partitions <= 1 {
        return Ok(vec![sink(input.execute(0, ctx)?)?]);
    }
    let sink = Arc::new(sink);
    crate::workers::run_all(
        (0..partitions)
            .map(|p| {
                let (input, ctx, sink) = (Arc::clone(input), Arc::clone(ctx), Arc::clone(&sink));
                move || sink(input.execute(p, &ctx)?)
            })
            .collect(),
    )
}

/// Rows waiting to be sorted: per buffered batch, its columns followed by its evaluated sort
/// keys. Rows are numbered in the order they were pushed ("positions").
#[derive(Debug)]
pub(crate) struct SortBuffer {
    /// Columns per row of the input schema; the rest of each entry are sort keys.
    num_columns: usize,
    entries: Vec<Vec<ArrayRef>>,
    /// Position of the first row of each entry.
    starts: Vec<usize>,
    rows: usize,
}

impl SortBuffer {
    /// An empty buffer for batches of `num_columns` columns.
    pub(crate) fn new(num_columns: usize) -> SortBuffer {
        SortBuffer {
            num_columns,
            entries: Vec::new(),
            starts: Vec::new(),
            rows: 0,
        }
    }

    /// Rows held.
    pub(crate) fn num_rows(&self) -> usize {
        self.rows
    }

    /// Buffers `batch` and its sort keys (empty batches are ignored).
    pub(crate) fn push(&mut self, batch: &RecordBatch, exprs: &[PhysicalSortExpr]) -> Result<()> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        let mut entry = Vec::with_capacity(self.num_columns + exprs.len());
        entry.extend(batch.columns().iter().map(Arc::clone));
        for key in exprs {
            entry.push(key.expr.evaluate(batch)?.into_array(rows)?);
        }
        self.push_entry(entry, rows);
        Ok(())
    }

    fn push_entry(&mut self, entry: Vec<ArrayRef>, rows: usize) {
        self.starts.push(self.rows);
        self.entries.push(entry);
        self.rows += rows;
    }

    /// The buffers' rows one after another, in the order given.
    pub(crate) fn concat(buffers: Vec<SortBuffer>) -> SortBuffer {
        let num_columns = buffers.first().map_or(0, |b| b.num_columns);
        let mut out = SortBuffer::new(num_columns);
        for buffer in buffers {
            let shift = out.rows;
            out.starts
                .extend(buffer.starts.iter().map(|start| start + shift));
            out.entries.extend(buffer.entries);
            out.rows += buffer.rows;
        }
        out
    }

    /// Positions of the first `limit` rows (all with `None`) in stable sorted order.
    pub(crate) fn sorted_indices(
        &self,
        exprs: &[PhysicalSortExpr],
        limit: Option<usize>,
    ) -> Result<UInt32Array> {
        if self.rows == 0 {
            return Ok(UInt32Array::from(Vec::<u32>::new()));
        }
        let keys = (0..exprs.len())
            .map(|k| self.concat_column(self.num_columns + k))
            .collect::<Result<Vec<_>>>()?;
        let options: Vec<SortOptions> = exprs.iter().map(|e| e.options).collect();
        stable_sort_indices(&keys, &options, self.rows, limit)
    }

    /// Column `index` of every entry, concatenated.
    fn concat_column(&self, index: usize) -> Result<ArrayRef> {
        match self.entries.as_slice() {
            [entry] => Ok(Arc::clone(&entry[index])),
            entries => {
                let parts: Vec<&dyn Array> = entries.iter().map(|e| e[index].as_ref()).collect();
                Ok(concat(&parts)?)
            }
        }
    }

    /// Columns `columns` (of an entry: input columns, then keys) of the rows at `positions`,
    /// in that order.
    fn gather(&self, positions: &UInt32Array, columns: Range<usize>) -> Result<Vec<ArrayRef>> {
        match self.entries.as_slice() {
            [] => Err(EngineError::Internal(
                "gathering rows from an empty sort buffer".into(),
            )),
            [entry] => Ok(entry[columns]
                .iter()
                .map(|column| take(column.as_ref(), positions, None))
                .collect::<std::result::Result<_, _>>()?),
            entries => {
                let pairs: Vec<(usize, usize)> = positions
                    .values()
                    .iter()
                    .map(|&position| {
                        let position = position as usize;
                        let entry = self.starts.partition_point(|&s| s <= position) - 1;
                        (entry, position - self.starts[entry])
                    })
                    .collect();
                columns
                    .map(|c| {
                        let parts: Vec<&dyn Array> =
                            entries.iter().map(|e| e[c].as_ref()).collect();
                        Ok(interleave(&parts, &pairs)?)
                    })
                    .collect()
            }
        }
    }

    /// Keeps only the first `limit` rows in sorted order, as one entry (top-k compaction).
    pub(crate) fn truncate_sorted(
        &mut self,
        exprs: &[PhysicalSortExpr],
        limit: usize,
    ) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let positions = self.sorted_indices(exprs, Some(limit))?;
        let entry = self.gather(&positions, 0..self.num_columns + exprs.len())?;
        let rows = positions.len();
        *self = SortBuffer::new(self.num_columns);
        if rows > 0 {
            self.push_entry(entry, rows);
        }
        Ok(())
    }

    /// Output batches of `schema` holding the rows at `positions`, `batch_size` rows each.
    pub(crate) fn into_batches(
        self,
        schema: SchemaRef,
        positions: UInt32Array,
        batch_size: usize,
        metrics: Arc<OperatorMetrics>,
    ) -> BatchIter {
        let batch_size = batch_size.max(1);
        let total = positions.len();
        Box::new((0..total).step_by(batch_size).map(move |offset| {
            let start = Instant::now();
            let len = batch_size.min(total - offset);
            let columns = self.gather(&positions.slice(offset, len), 0..self.num_columns)?;
            let options = RecordBatchOptions::new().with_row_count(Some(len));
            let batch = RecordBatch::try_new_with_options(Arc::clone(&schema), columns, &options)?;
            metrics.add_elapsed(start.elapsed());
            metrics.record_batch(len);
            Ok(batch)
        }))
    }
}

/// Positions `0..rows` of the first `limit` rows (all with `None`) ordered by `keys`, equal
/// keys in position order.
pub(crate) fn stable_sort_indices(
    keys: &[ArrayRef],
    options: &[SortOptions],
    rows: usize,
    limit: Option<usize>,
) -> Result<UInt32Array> {
    let Ok(row_count) = u32::try_from(rows) else {
        return Err(EngineError::ResourcesExhausted(format!(
            "cannot sort {rows} rows at once (the limit is {})",
            u32::MAX
        )));
    };
    let len = limit.map_or(rows, |limit| limit.min(rows));
    if keys.is_empty() || len == 0 {
        return Ok(UInt32Array::from_iter_values(0..len as u32));
    }
    let normalized: Vec<ArrayRef> = keys.iter().map(sql_ordered_float_key).collect();
    let keys = normalized.as_slice();
    if limit.is_none() && keys.len() == 1 && has_fast_single_key_sort(keys[0].data_type()) {
        return single_key_stable_sort(&keys[0], options[0]);
    }
    if limit.is_none() && keys.len() > 1 {
        let fields: Vec<SortField> = keys
            .iter()
            .zip(options)
            .map(|(key, &options)| SortField::new_with_options(key.data_type().clone(), options))
            .collect();
        if RowConverter::supports_fields(&fields) {
            let converter = RowConverter::new(fields)?;
            let encoded = converter.convert_columns(keys)?;
            let mut positions: Vec<u32> = (0..row_count).collect();
            // `sort_by` is stable, so equal rows keep position order.
            positions.sort_by(|&a, &b| encoded.row(a as usize).cmp(&encoded.row(b as usize)));
            return Ok(UInt32Array::from(positions));
        }
    }
    let mut columns: Vec<SortColumn> = keys
        .iter()
        .zip(options)
        .map(|(key, &options)| SortColumn {
            values: Arc::clone(key),
            options: Some(options),
        })
        .collect();
    columns.push(SortColumn {
        values: Arc::new(UInt32Array::from_iter_values(0..row_count)),
        options: None,
    });
    Ok(lexsort_to_indices(&columns, limit)?)
}

/// `key` with `-0.0` as `0.0` and every NaN as the positive canonical NaN. Arrow orders
/// floats by IEEE total order (`-0.0` before `0.0`, a negative NaN before every number);
/// PostgreSQL orders them by value: `-0` equals `0` (a tie, broken by the next key or the
/// input order) and NaN is one value above every number. Other types, and float keys without
/// such values, are returned as they are (no copy).
pub(crate) fn sql_ordered_float_key(key: &ArrayRef) -> ArrayRef {
    fn normalized_f32(value: f32) -> f32 {
        if value.is_nan() {
            f32::NAN
        } else if value == 0.0 {
            0.0
        } else {
            value
        }
    }
    match key.data_type() {
        DataType::Float64 => {
            let values = key.as_primitive::<Float64Type>();
            if values
                .values()
                .iter()
                .any(|&v| v.to_bits() != normalized_f64_bits(v))
            {
                return Arc::new(
                    values.unary::<_, Float64Type>(|v| f64::from_bits(normalized_f64_bits(v))),
                );
            }
        }
        DataType::Float32 => {
            let values = key.as_primitive::<Float32Type>();
            if values
                .values()
                .iter()
                .any(|&v| v.to_bits() != normalized_f32(v).to_bits())
            {
                return Arc::new(values.unary::<_, Float32Type>(normalized_f32));
            }
        }
        _ => {}
    }
    Arc::clone(key)
}

/// Types that Arrow's specialised one-column sort handles and whose equality kernel agrees
/// with its order (floats compare by IEEE total order in both).
fn has_fast_single_key_sort(data_type: &DataType) -> bool {
    match data_type {
        DataType::Dictionary(_, values) => matches!(values.as_ref(), DataType::Utf8),
        DataType::Boolean | DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        other => other.is_primitive(),
    }
}

/// A stable sort on one key: `sort_to_indices` (the fastest sort Arrow has: values sorted
/// next to their positions, no dynamic dispatch per comparison) is unstable, but it leaves
/// equal keys next to each other, so sorting each run of equal keys by position afterwards
/// restores input order. Finding the runs is two vectorized kernels; with unique keys there
/// are none and nothing more is done.
fn single_key_stable_sort(key: &ArrayRef, options: SortOptions) -> Result<UInt32Array> {
    let positions = sort_to_indices(key.as_ref(), Some(options), None)?;
    let rows = positions.len();
    if rows < 2 {
        return Ok(positions);
    }
    let sorted = take(key.as_ref(), &positions, None)?;
    // `distinct` treats two NULLs as equal, as the sort does.
    let differs_from_next = distinct(&sorted.slice(0, rows - 1), &sorted.slice(1, rows - 1))?;
    if differs_from_next.true_count() == rows - 1 {
        return Ok(positions);
    }
    let equals_next = !differs_from_next.values();
    let mut positions = positions.values().to_vec();
    let mut ties = equals_next.set_indices().peekable();
    while let Some(first) = ties.next() {
        let mut last = first;
        while let Some(next) = ties.next_if_eq(&(last + 1)) {
            last = next;
        }
        // Rows first..=last+1 share one key.
        positions[first..=last + 1].sort_unstable();
    }
    Ok(UInt32Array::from(positions))
}

#[cfg(test)]
pub(crate) mod tests {
    use arrow::array::{AsArray, DictionaryArray, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema};

    use super::*;
    use crate::execution::SessionConfig;
    use crate::physical_expr::create_physical_expr;
    use crate::physical_plan::collect;
    use crate::physical_plan::values::ValuesExec;
    use crate::{col, PlanSchema};

    /// Sort key on column `name` of `schema`.
    pub(crate) fn key(
        schema: &Schema,
        name: &str,
        descending: bool,
        nulls_first: bool,
    ) -> PhysicalSortExpr {
        let plan_schema = PlanSchema::from_arrow(None, schema);
        PhysicalSortExpr {
            expr: create_physical_expr(&col(name), &plan_schema).unwrap(),
            options: SortOptions {
                descending,
                nulls_first,
            },
        }
    }

    pub(crate) fn context(batch_size: usize) -> Arc<TaskContext> {
        TaskContext::new(SessionConfig {
            batch_size,
            ..SessionConfig::default()
        })
    }

    /// `(k Int64, v Int64)` rows split into batches of `per_batch`.
    pub(crate) fn values_input(
        rows: &[(Option<i64>, i64)],
        per_batch: usize,
    ) -> Arc<dyn ExecutionPlan> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("v", DataType::Int64, false),
        ]));
        let batches = rows
            .chunks(per_batch.max(1))
            .map(|chunk| {
                let k: Int64Array = chunk.iter().map(|r| r.0).collect();
                let v: Int64Array = chunk.iter().map(|r| Some(r.1)).collect();
                RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(k), Arc::new(v)]).unwrap()
            })
            .collect();
        Arc::new(ValuesExec::try_new(schema, batches).unwrap())
    }

    pub(crate) fn int64s(batches: &[RecordBatch], column: usize) -> Vec<Option<i64>> {
        batches
            .iter()
            .flat_map(|b| b.column(column).as_primitive::<Int64Type>().iter())
            .collect()
    }

    fn sorted(
        input: Arc<dyn ExecutionPlan>,
        keys: Vec<PhysicalSortExpr>,
        batch_size: usize,
    ) -> Vec<RecordBatch> {
        collect(
            Arc::new(SortExec::try_new(input, keys).unwrap()),
            &context(batch_size),
        )
        .unwrap()
    }

    #[test]
    fn nulls_first_and_last_in_both_directions() {
        let rows = [
            (Some(2), 0),
            (None, 1),
            (Some(-1), 2),
            (Some(2), 3),
            (None, 4),
            (Some(0), 5),
        ];
        let input = values_input(&rows, 2);
        let schema = input.schema();
        let check = |descending, nulls_first, expected: Vec<i64>| {
            let out = sorted(
                Arc::clone(&input),
                vec![key(&schema, "k", descending, nulls_first)],
                4,
            );
            let v: Vec<Option<i64>> = expected.into_iter().map(Some).collect();
            assert_eq!(
                int64s(&out, 1),
                v,
                "descending={descending} nulls_first={nulls_first}"
            );
        };
        // Equal keys (2 at rows 0 and 3, NULL at rows 1 and 4) keep input order every time.
        check(false, false, vec![2, 5, 0, 3, 1, 4]); // ASC NULLS LAST (PostgreSQL's ASC)
        check(false, true, vec![1, 4, 2, 5, 0, 3]);
        check(true, true, vec![1, 4, 0, 3, 5, 2]); // DESC NULLS FIRST (PostgreSQL's DESC)
        check(true, false, vec![0, 3, 5, 2, 1, 4]);
    }

    #[test]
    fn output_batches_have_batch_size_rows() {
        let rows: Vec<(Option<i64>, i64)> = (0..10).map(|i| (Some(10 - i), i)).collect();
        let input = values_input(&rows, 3);
        let out = sorted(
            Arc::clone(&input),
            vec![key(&input.schema(), "k", false, false)],
            4,
        );
        let sizes: Vec<usize> = out.iter().map(RecordBatch::num_rows).collect();
        assert_eq!(sizes, vec![4, 4, 2]);
        assert_eq!(int64s(&out, 0), (1..=10).map(Some).collect::<Vec<_>>());
    }

    #[test]
    fn several_keys_use_each_in_turn_and_stay_stable() {
        let rows = [
            (Some(1), 3),
            (Some(0), 3),
            (Some(1), 1),
            (None, 1),
            (Some(0), 3),
            (Some(1), 3),
        ];
        let input = values_input(&rows, 4);
        let schema = input.schema();
        // ORDER BY v ASC, k DESC NULLS LAST
        let out = sorted(
            Arc::clone(&input),
            vec![
                key(&schema, "v", false, false),
                key(&schema, "k", true, false),
            ],
            100,
        );
        assert_eq!(
            int64s(&out, 0),
            vec![Some(1), None, Some(1), Some(1), Some(0), Some(0)]
        );
        let positions = stable_sort_indices(
            &[
                Arc::new(Int64Array::from(vec![1, 1, 0, 1])),
                Arc::new(Int64Array::from(vec![5, 5, 5, 5])),
            ],
            &[SortOptions::default(); 2],
            4,
            None,
        )
        .unwrap();
        assert_eq!(positions.values().to_vec(), vec![2, 0, 1, 3]);
    }

    #[test]
    fn sorts_strings_dictionaries_and_floats() {
        let words = vec![
            Some("pear"),
            None,
            Some("apple"),
            Some("fig"),
            Some("apple"),
        ];
        let dictionary: DictionaryArray<Int32Type> = words.iter().copied().collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("d", dictionary.data_type().clone(), true),
            Field::new("f", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from(words.clone())),
                Arc::new(dictionary),
                Arc::new(Float64Array::from(vec![
                    Some(f64::NAN),
                    Some(-0.5),
                    None,
                    Some(2.0),
                    Some(1.0),
                ])),
            ],
        )
        .unwrap();
        let input: Arc<dyn ExecutionPlan> = Arc::new(
            ValuesExec::try_new(
                Arc::clone(&schema),
                vec![batch.slice(0, 2), batch.slice(2, 3)],
            )
            .unwrap(),
        );
        let strings = |out: &[RecordBatch]| -> Vec<Option<String>> {
            out.iter()
                .flat_map(|b| {
                    b.column(0)
                        .as_string::<i32>()
                        .iter()
                        .map(|s| s.map(str::to_string))
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let expect =
            |v: &[Option<&str>]| v.iter().map(|s| s.map(str::to_string)).collect::<Vec<_>>();
        let by_string = sorted(
            Arc::clone(&input),
            vec![key(&schema, "s", false, false)],
            10,
        );
        assert_eq!(
            strings(&by_string),
            expect(&[
                Some("apple"),
                Some("apple"),
                Some("fig"),
                Some("pear"),
                None
            ])
        );
        let by_dictionary = sorted(Arc::clone(&input), vec![key(&schema, "d", true, true)], 10);
        assert_eq!(
            strings(&by_dictionary),
            expect(&[
                None,
                Some("pear"),
                Some("fig"),
                Some("apple"),
                Some("apple")
            ])
        );
        // NaN sorts above every number, as in PostgreSQL.
        let by_float = sorted(Arc::clone(&input), vec![key(&schema, "f", true, false)], 10);
        assert_eq!(
            strings(&by_float),
            expect(&[
                Some("pear"),
                Some("fig"),
                Some("apple"),
                None,
                Some("apple")
            ])
        );
    }

    #[test]
    fn floats_sort_by_value_as_postgres_does() {
        // PostgreSQL: -0 equals 0 (a tie, kept in input order here), every NaN is one value
        // above +infinity, whatever its sign bit. Arrow's total order would put -0 before 0
        // and a negative NaN first.
        let negative_nan = f64::from_bits(f64::NAN.to_bits() | (1 << 63));
        let floats = Arc::new(Float64Array::from(vec![
            Some(0.0),
            Some(negative_nan),
            Some(-0.0),
            Some(f64::INFINITY),
            None,
            Some(f64::NAN),
            Some(-1.5),
        ])) as ArrayRef;
        let second = Arc::new(Int64Array::from(vec![1, 1, 1, 1, 1, 1, 1])) as ArrayRef;
        let ascending = SortOptions {
            descending: false,
            nulls_first: false,
        };
        let order = [6, 0, 2, 3, 1, 5, 4];
        let one_key = stable_sort_indices(&[Arc::clone(&floats)], &[ascending], 7, None).unwrap();
        assert_eq!(one_key.values().to_vec(), order);
        let two_keys = stable_sort_indices(
            &[Arc::clone(&floats), Arc::clone(&second)],
            &[ascending, ascending],
            7,
            None,
        )
        .unwrap();
        assert_eq!(two_keys.values().to_vec(), order);
        let limited =
            stable_sort_indices(&[Arc::clone(&floats)], &[ascending], 7, Some(3)).unwrap();
        assert_eq!(limited.values().to_vec(), order[..3]);
        let descending = SortOptions {
            descending: true,
            nulls_first: true,
        };
        let down = stable_sort_indices(&[floats], &[descending], 7, None).unwrap();
        assert_eq!(down.values().to_vec(), [4, 1, 5, 3, 0, 2, 6]);
    }

    #[test]
    fn sorts_every_partition_of_a_parallel_scan() {
        use crate::physical_plan::scan::tests::numbers_table;
        use crate::physical_plan::scan::ScanExec;
        let catalog = quiver_storage::Catalog::new();
        let rows = 150_000;
        let table = numbers_table(&catalog, "numbers", rows);
        let scan: Arc<dyn ExecutionPlan> = Arc::new(
            ScanExec::try_new(
                "numbers".into(),
                table.snapshot(),
                table.schema(),
                None,
                vec![],
                None,
                4,
            )
            .unwrap(),
        );
        let schema = scan.schema();
        // ORDER BY grp DESC NULLS FIRST: ties keep table order (id ascending).
        let out = sorted(scan, vec![key(&schema, "grp", true, true)], 8192);
        let ids = int64s(&out, 0);
        let grp = |i: i64| (i % 10 != 3).then_some(i % 7);
        let mut expected: Vec<i64> = (0..rows as i64).collect();
        // A stable sort: NULLs first, then groups descending.
        expected.sort_by_key(|&i| (grp(i).is_some(), std::cmp::Reverse(grp(i))));
        assert_eq!(ids, expected.into_iter().map(Some).collect::<Vec<_>>());
    }

    /// The stable order of `keys` under `options`, computed the slow, obvious way.
    fn reference_order(keys: &[Option<i64>], options: SortOptions) -> Vec<Option<i64>> {
        let mut positions: Vec<i64> = (0..keys.len() as i64).collect();
        positions.sort_by(|&a, &b| match (keys[a as usize], keys[b as usize]) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) if options.nulls_first => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(_), None) if options.nulls_first => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
            (Some(x), Some(y)) if options.descending => y.cmp(&x),
            (Some(x), Some(y)) => x.cmp(&y),
        });
        positions.into_iter().map(Some).collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn one_key_sort_is_stable_and_correct(
            keys in proptest::collection::vec(proptest::option::weighted(0.8, -4i64..4), 0..2000),
            per_batch in proptest::sample::select(vec![1usize, 7, 50, 51, 1000]),
            descending: bool,
            nulls_first: bool,
        ) {
            let rows: Vec<(Option<i64>, i64)> =
                keys.iter().enumerate().map(|(i, &k)| (k, i as i64)).collect();
            let input = values_input(&rows, per_batch);
            let out = sorted(Arc::clone(&input), vec![key(&input.schema(), "k", descending, nulls_first)], 100);
            let options = SortOptions { descending, nulls_first };
            proptest::prop_assert_eq!(int64s(&out, 1), reference_order(&keys, options));
        }
    }

    #[test]
    fn empty_input_and_describe() {
        let input = values_input(&[], 1);
        let sort = SortExec::try_new(
            Arc::clone(&input),
            vec![key(&input.schema(), "k", true, true)],
        )
        .unwrap();
        assert_eq!(sort.describe(), "SortExec: [k@0 DESC NULLS FIRST]");
        assert!(collect(Arc::new(sort), &context(10)).unwrap().is_empty());
    }
}
