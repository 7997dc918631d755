//! `DISTINCT ON`: the first row of each group of equal keys, in a given order — what a
//! correlated `ORDER BY … LIMIT 1` subquery becomes (each customer's latest order).
//!
//! [`HashFirstPerKeyExec`] is the plan the planner picks: one pass over the input that keeps,
//! per key, only the best row so far (an arg-min over the order key), on one thread per input
//! partition, merged at the end. It costs a hash probe and a short byte comparison per row
//! where sorting every row costs `n log n` comparisons and a copy of the whole input.
//!
//! [`FirstPerKeyExec`] is the sort path: the first row of each run of equal keys in an input
//! sorted by the keys then the order. The planner keeps it for keys or order types the hash
//! path cannot handle.
//!
//! Both paths return the same rows: keys are equal when Arrow's row format says so (NULLs
//! equal to each other, as in `DISTINCT ON`), the order compares in Arrow's row format with
//! the sort's own `SortOptions` (so `NULLS FIRST/LAST` agree), and between rows with equal
//! order the one that comes first in the input wins (the sort is stable; partition 0's rows
//! come first).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::{interleave, take_record_batch};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::row::{OwnedRow, RowConverter, SortField};

use super::aggregate::group_values::{new_group_values, GroupValues};
use super::sort::{display_sort_exprs, sql_ordered_float_key, PhysicalSortExpr};
use super::{BatchIter, ExecutionPlan, OperatorMetrics, TaskContext};
use crate::error::{EngineError, Result};
use crate::physical_expr::PhysicalExprRef;

/// Keeps the first row of each run of equal `keys`.
#[derive(Debug)]
pub struct FirstPerKeyExec {
    input: Arc<dyn ExecutionPlan>,
    keys: Vec<PhysicalExprRef>,
    metrics: Arc<OperatorMetrics>,
}

impl FirstPerKeyExec {
    /// Over an input with one partition, sorted by `keys` first.
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        keys: Vec<PhysicalExprRef>,
    ) -> Result<FirstPerKeyExec> {
        if input.output_partitions() != 1 {
            return Err(EngineError::Internal(
                "FirstPerKeyExec needs one sorted input partition".into(),
            ));
        }
        Ok(FirstPerKeyExec {
            input,
            keys,
            metrics: Arc::new(OperatorMetrics::default()),
        })
    }
}

impl ExecutionPlan for FirstPerKeyExec {
    fn name(&self) -> &'static str {
        "FirstPerKeyExec"
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
                "FirstPerKeyExec has one partition, asked for partition {partition}"
            )));
        }
        let fields = self
            .keys
            .iter()
            .map(|k| SortField::new(k.data_type()))
            .collect();
        let converter = RowConverter::new(fields)?;
        let keys = self.keys.clone();
        let metrics = Arc::clone(&self.metrics);
        let mut previous: Option<OwnedRow> = None;
        let input = self.input.execute(0, ctx)?;
        Ok(Box::new(input.filter_map(move |batch| {
            let run = || -> Result<Option<arrow::array::RecordBatch>> {
                let batch = batch?;
                let columns = keys
                    .iter()
                    .map(|k| k.evaluate(&batch)?.into_array(batch.num_rows()))
                    .collect::<Result<Vec<_>>>()?;
                let rows = converter.convert_columns(&columns)?;
                let mut indices = Vec::new();
                for (i, row) in rows.iter().enumerate() {
                    if previous.as_ref().map(|p| p.row()) != Some(row) {
                        indices.push(i as u32);
                        previous = Some(row.owned());
                    }
                }
                if indices.is_empty() {
                    return Ok(None);
                }
                let kept = take_record_batch(&batch, &UInt32Array::from(indices))?;
                metrics.record_batch(kept.num_rows());
                Ok(Some(kept))
            };
            run().transpose()
        })))
    }

    fn describe(&self) -> String {
        let keys: Vec<String> = self.keys.iter().map(ToString::to_string).collect();
        format!("FirstPerKeyExec: keys=[{}]", keys.join(", "))
    }

    fn metrics(&self) -> Option<&OperatorMetrics> {
        Some(&self.metrics)
    }
}

/// Keeps, per group of equal `keys`, the row that sorts first by `order` (the earliest such
/// row in input order between equal ones), by hashing instead of sorting.
/// Cloning is shallow: the clones share the input, the converter and the metrics.
#[derive(Debug, Clone)]
pub struct HashFirstPerKeyExec {
    input: Arc<dyn ExecutionPlan>,
    keys: Vec<PhysicalExprRef>,
    order: Vec<PhysicalSortExpr>,
    /// Encodes the order keys into byte-comparable rows; shared by every partition's thread.
    converter: Arc<RowConverter>,
    metrics: Arc<OperatorMetrics>,
}

/// What one thread keeps: the groups seen and, per group id, the best row so far.
struct Winners {
    groups: Box<dyn GroupValues>,
    /// The winner's order key, in row format.
    order: Vec<Vec<u8>>,
    /// The winner's `(batch, row)`; `batch == NO_ROW` until the group has one.
    source: Vec<(u32, u32)>,
    /// Batches holding at least one winner (`None` once none of their rows wins any more).
    batches: Vec<Option<RecordBatch>>,
    /// How many winners each batch holds.
    live: Vec<u32>,
}

const NO_ROW: u32 = u32::MAX;

impl HashFirstPerKeyExec {
    /// Returns `None` when the key or order types are not supported by the hash path (the
    /// planner then sorts).
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        keys: Vec<PhysicalExprRef>,
        order: Vec<PhysicalSortExpr>,
    ) -> Result<Option<HashFirstPerKeyExec>> {
        let key_types: Vec<DataType> = keys.iter().map(|k| k.data_type()).collect();
        if keys.is_empty() || new_group_values(&key_types).is_err() {
            return Ok(None);
        }
        let fields: Vec<SortField> = order
            .iter()
            .map(|o| SortField::new_with_options(o.expr.data_type(), o.options))
            .collect();
        if !RowConverter::supports_fields(&fields) {
            return Ok(None);
        }
        Ok(Some(HashFirstPerKeyExec {
            input,
            keys,
            order,
            converter: Arc::new(RowConverter::new(fields)?),
            metrics: Arc::default(),
        }))
    }

    fn new_winners(&self) -> Result<Winners> {
        let key_types: Vec<DataType> = self.keys.iter().map(|k| k.data_type()).collect();
        Ok(Winners {
            groups: new_group_values(&key_types)?,
            order: Vec::new(),
            source: Vec::new(),
            batches: Vec::new(),
            live: Vec::new(),
        })
    }

    /// Folds one batch into `state`: each row replaces its group's winner when its order key
    /// is strictly smaller (so the earlier row stays on ties).
    fn push_batch(
        &self,
        state: &mut Winners,
        batch: RecordBatch,
        keys: &mut Vec<ArrayRef>,
        ids: &mut Vec<u32>,
    ) -> Result<()> {
        let rows = batch.num_rows();
        keys.clear();
        for key in &self.keys {
            keys.push(key.evaluate(&batch)?.into_array(rows)?);
        }
        ids.clear();
        state.groups.intern(keys, ids)?;
        let order_columns = self
            .order
            .iter()
            .map(|o| {
                Ok(sql_ordered_float_key(
                    &o.expr.evaluate(&batch)?.into_array(rows)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let order = self.converter.convert_columns(&order_columns)?;
        let groups = state.groups.len();
        state.order.resize(groups, Vec::new());
        state.source.resize(groups, (NO_ROW, 0));
        let batch_index = u32::try_from(state.batches.len())
            .map_err(|_| EngineError::ResourcesExhausted("too many batches".into()))?;
        let mut live = 0u32;
        for (row, &group) in ids.iter().enumerate() {
            let group = group as usize;
            let candidate = order.row(row);
            let candidate = candidate.as_ref();
            let (winner_batch, _) = state.source[group];
            if winner_batch != NO_ROW {
                if candidate >= state.order[group].as_slice() {
                    continue;
                }
                if winner_batch == batch_index {
                    live -= 1;
                } else {
                    let count = &mut state.live[winner_batch as usize];
                    *count -= 1;
                    if *count == 0 {
                        state.batches[winner_batch as usize] = None;
                    }
                }
            }
            live += 1;
            state.source[group] = (batch_index, row as u32);
            let best = &mut state.order[group];
            best.clear();
            best.extend_from_slice(candidate);
        }
        state.batches.push((live > 0).then_some(batch));
        state.live.push(live);
        Ok(())
    }

    /// Drains one input partition.
    fn winners_of(&self, partition: usize, ctx: &Arc<TaskContext>) -> Result<Winners> {
        let mut state = self.new_winners()?;
        let mut keys = Vec::with_capacity(self.keys.len());
        let mut ids = Vec::new();
        let mut busy = Duration::ZERO;
        for batch in self.input.execute(partition, ctx)? {
            let batch = batch?;
            if batch.num_rows() == 0 {
                continue;
            }
            let start = Instant::now();
            self.push_batch(&mut state, batch, &mut keys, &mut ids)?;
            busy += start.elapsed();
        }
        self.metrics.add_elapsed(busy);
        Ok(state)
    }

    /// Every partition's winners, each partition on a worker thread of its own, in partition
    /// order.
    fn all_winners(&self, ctx: &Arc<TaskContext>) -> Result<Vec<Winners>> {
        let partitions = self.input.output_partitions();
        if partitions <= 1 {
            return Ok(vec![self.winners_of(0, ctx)?]);
        }
        let this = Arc::new(self.clone());
        crate::workers::run_all(
            (0..partitions)
                .map(|p| {
                    let (this, ctx) = (Arc::clone(&this), Arc::clone(ctx));
                    move || this.winners_of(p, &ctx)
                })
                .collect(),
        )
    }

    /// The winning rows of one state, one per group in group-id order.
    fn materialize(&self, state: &Winners) -> Result<RecordBatch> {
        if state.source.is_empty() {
            return Ok(RecordBatch::new_empty(self.input.schema()));
        }
        let mut slots = vec![usize::MAX; state.batches.len()];
        let mut kept: Vec<&RecordBatch> = Vec::new();
        let mut indices = Vec::with_capacity(state.source.len());
        for &(batch, row) in &state.source {
            let slot = &mut slots[batch as usize];
            if *slot == usize::MAX {
                let Some(Some(kept_batch)) = state.batches.get(batch as usize) else {
                    return Err(EngineError::Internal(
                        "first-per-key winner in a released batch".into(),
                    ));
                };
                *slot = kept.len();
                kept.push(kept_batch);
            }
            indices.push((*slot, row as usize));
        }
        interleave_batches(&self.input.schema(), &kept, &indices)
    }

    fn run(&self, ctx: &Arc<TaskContext>) -> Result<Vec<RecordBatch>> {
        let mut states = self.all_winners(ctx)?.into_iter();
        let Some(mut target) = states.next() else {
            return Ok(Vec::new());
        };
        let start = Instant::now();
        let mut sources = vec![self.materialize(&target)?];
        // Winner of each final group: (index into `sources`, row).
        let mut winners: Vec<(usize, usize)> = (0..target.source.len()).map(|g| (0, g)).collect();
        let mut mapping = Vec::new();
        // Later partitions come later in input order, so they win only on a strictly
        // smaller order key.
        for state in states {
            if state.groups.is_empty() {
                continue;
            }
            let source = sources.len();
            sources.push(self.materialize(&state)?);
            mapping.clear();
            target
                .groups
                .intern(&state.groups.emit_encoded()?, &mut mapping)?;
            for (group, &id) in mapping.iter().enumerate() {
                let id = id as usize;
                if id >= winners.len() {
                    winners.resize(id + 1, (usize::MAX, 0));
                    target.order.resize(id + 1, Vec::new());
                }
                if winners[id].0 == usize::MAX || state.order[group] < target.order[id] {
                    winners[id] = (source, group);
                    target.order[id].clone_from(&state.order[group]);
                }
            }
        }
        let result = if sources.len() == 1 {
            sources.swap_remove(0)
        } else {
            let sources: Vec<&RecordBatch> = sources.iter().collect();
            interleave_batches(&self.input.schema(), &sources, &winners)?
        };
        let batch_size = ctx.config.batch_size.max(1);
        let rows = result.num_rows();
        let mut batches = Vec::with_capacity(rows / batch_size + 1);
        let mut offset = 0;
        while offset < rows {
            let len = batch_size.min(rows - offset);
            batches.push(result.slice(offset, len));
            offset += len;
        }
        self.metrics.add_elapsed(start.elapsed());
        Ok(batches)
    }
}

/// Gathers `indices` (`(batch, row)` pairs) from `batches` into one batch of `schema`.
fn interleave_batches(
    schema: &SchemaRef,
    batches: &[&RecordBatch],
    indices: &[(usize, usize)],
) -> Result<RecordBatch> {
    let columns = (0..schema.fields().len())
        .map(|c| {
            let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(c).as_ref()).collect();
            Ok(interleave(&arrays, indices)?)
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(indices.len()));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &options,
    )?)
}

impl ExecutionPlan for HashFirstPerKeyExec {
    fn name(&self) -> &'static str {
        "HashFirstPerKeyExec"
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
                "HashFirstPerKeyExec has one partition, asked for partition {partition}"
            )));
        }
        let batches = self.run(ctx)?;
        for batch in &batches {
            self.metrics.record_batch(batch.num_rows());
        }
        Ok(Box::new(batches.into_iter().map(Ok)))
    }

    fn describe(&self) -> String {
        let keys: Vec<String> = self.keys.iter().map(ToString::to_string).collect();
        format!(
            "HashFirstPerKeyExec: keys=[{}], order={}",
            keys.join(", "),
            display_sort_exprs(&self.order)
        )
    }

    fn metrics(&self) -> Option<&OperatorMetrics> {
        Some(&self.metrics)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{AsArray, Int64Array};
    use arrow::compute::SortOptions;
    use arrow::datatypes::{Field, Int64Type, Schema};

    use super::*;
    use crate::physical_plan::collect;
    use crate::physical_plan::hash_aggregate::tests::{col, MemorySourceExec};
    use crate::physical_plan::sort::tests::context;
    use crate::physical_plan::sort::SortExec;

    /// `(k, o1, o2, id)` rows: key, two order columns, and the row's position.
    type Row = (Option<i64>, Option<i64>, Option<i64>, i64);

    fn batches(rows: &[Row], per_batch: usize) -> Vec<RecordBatch> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("o1", DataType::Int64, true),
            Field::new("o2", DataType::Int64, true),
            Field::new("id", DataType::Int64, false),
        ]));
        rows.chunks(per_batch.max(1))
            .map(|chunk| {
                let column = |f: fn(&Row) -> Option<i64>| -> ArrayRef {
                    Arc::new(chunk.iter().map(f).collect::<Int64Array>())
                };
                RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![
                        column(|r| r.0),
                        column(|r| r.1),
                        column(|r| r.2),
                        column(|r| Some(r.3)),
                    ],
                )
                .unwrap()
            })
            .collect()
    }

    fn order(
        schema: &SchemaRef,
        name: &str,
        descending: bool,
        nulls_first: bool,
    ) -> PhysicalSortExpr {
        PhysicalSortExpr {
            expr: col(name, schema),
            options: SortOptions {
                descending,
                nulls_first,
            },
        }
    }

    /// The `id`s each path keeps, sorted (the hash path's output order is its own).
    fn kept_ids(plan: Arc<dyn ExecutionPlan>, batch_size: usize) -> Vec<i64> {
        let out = collect(plan, &context(batch_size)).unwrap();
        let mut ids: Vec<i64> = out
            .iter()
            .flat_map(|b| b.column(3).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        ids.sort_unstable();
        ids
    }

    fn hashed(
        input: Arc<dyn ExecutionPlan>,
        order: Vec<PhysicalSortExpr>,
    ) -> Arc<dyn ExecutionPlan> {
        let keys = vec![col("k", &input.schema())];
        Arc::new(
            HashFirstPerKeyExec::try_new(input, keys, order)
                .unwrap()
                .unwrap(),
        )
    }

    fn sorted(
        input: Arc<dyn ExecutionPlan>,
        order: Vec<PhysicalSortExpr>,
    ) -> Arc<dyn ExecutionPlan> {
        let schema = input.schema();
        let mut sort_keys = vec![order_key(&schema)];
        sort_keys.extend(order);
        let sorted = Arc::new(SortExec::try_new(input, sort_keys).unwrap());
        Arc::new(FirstPerKeyExec::try_new(sorted, vec![col("k", &schema)]).unwrap())
    }

    fn order_key(schema: &SchemaRef) -> PhysicalSortExpr {
        order(schema, "k", false, false)
    }

    #[test]
    fn float_order_ties_minus_zero_with_zero_and_every_nan() {
        // PostgreSQL: -0 = 0 (a tie: the earlier row wins), every NaN one value above all
        // numbers — as the sort path orders them.
        let negative_nan = f64::from_bits(f64::NAN.to_bits() | (1 << 63));
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("o", DataType::Float64, false),
            Field::new("unused", DataType::Int64, false),
            Field::new("id", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(vec![1, 1, 2, 2, 3, 3])),
                Arc::new(arrow::array::Float64Array::from(vec![
                    0.0,
                    -0.0,
                    f64::NAN,
                    negative_nan,
                    negative_nan,
                    5.0,
                ])),
                Arc::new(Int64Array::from(vec![0; 6])),
                Arc::new(Int64Array::from(vec![0, 1, 2, 3, 4, 5])),
            ],
        )
        .unwrap();
        let input: Arc<dyn ExecutionPlan> =
            MemorySourceExec::new(Arc::clone(&schema), vec![batch], 1);
        let ascending = vec![order(&schema, "o", false, false)];
        assert_eq!(
            kept_ids(hashed(Arc::clone(&input), ascending), 8),
            [0, 2, 5]
        );
        let descending = vec![order(&schema, "o", true, false)];
        assert_eq!(kept_ids(hashed(input, descending), 8), [0, 2, 4]);
    }

    #[test]
    fn keeps_the_first_row_per_key_with_ties_and_nulls() {
        // k: 1 has a tie on the best order value (rows 1 and 3: the earlier one wins); 2 has
        // a NULL order value; NULL keys form one group.
        let rows: Vec<Row> = vec![
            (Some(1), Some(5), None, 0),
            (Some(1), Some(9), None, 1),
            (Some(2), None, None, 2),
            (Some(1), Some(9), None, 3),
            (None, Some(1), None, 4),
            (Some(2), Some(3), None, 5),
            (None, Some(2), None, 6),
        ];
        let input = MemorySourceExec::new(batches(&rows, 7)[0].schema(), batches(&rows, 2), 1);
        let schema = input.schema();
        let check = |descending, nulls_first, expected: Vec<i64>| {
            let plan = hashed(
                Arc::clone(&input) as Arc<dyn ExecutionPlan>,
                vec![order(&schema, "o1", descending, nulls_first)],
            );
            assert_eq!(
                kept_ids(plan, 3),
                expected,
                "descending={descending} nulls_first={nulls_first}"
            );
        };
        check(true, true, vec![1, 2, 6]); // DESC NULLS FIRST (PostgreSQL's DESC)
        check(true, false, vec![1, 5, 6]);
        check(false, false, vec![0, 4, 5]); // ASC NULLS LAST
        check(false, true, vec![0, 2, 4]);
    }

    #[test]
    fn explain_names_the_keys_and_the_order() {
        let rows: Vec<Row> = vec![(Some(1), Some(1), Some(1), 0)];
        let input = MemorySourceExec::new(batches(&rows, 1)[0].schema(), batches(&rows, 1), 1);
        let schema = input.schema();
        let plan = hashed(input, vec![order(&schema, "o1", true, true)]);
        assert_eq!(
            plan.describe(),
            "HashFirstPerKeyExec: keys=[k@0], order=[o1@1 DESC NULLS FIRST]"
        );
    }

    #[test]
    fn empty_input_gives_no_rows() {
        let rows: Vec<Row> = vec![(Some(1), Some(1), Some(1), 0)];
        let schema = batches(&rows, 1)[0].schema();
        let input = MemorySourceExec::new(schema, Vec::new(), 2);
        let order = vec![order(&input.schema(), "o1", false, false)];
        assert_eq!(kept_ids(hashed(input, order), 4), Vec::<i64>::new());
    }

    /// The hash path keeps exactly the rows the sort path keeps, over partitions and batch
    /// sizes, with many ties and NULLs in keys and order (DataFusion's fuzz-test idea: two
    /// physical paths, one answer).
    #[test]
    fn agrees_with_the_sort_path() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |modulus: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % modulus
        };
        let maybe = |value: u64, null: bool| (!null).then_some(value as i64);
        let rows: Vec<Row> = (0..600)
            .map(|id| {
                let k = next(40);
                let o1 = next(6);
                let o2 = next(4);
                (maybe(k, k == 0), maybe(o1, o1 == 0), maybe(o2, o2 == 0), id)
            })
            .collect();
        let schema = batches(&rows, 600)[0].schema();
        for per_batch in [1, 7, 50, 600] {
            for partitions in [1, 2, 3] {
                for (descending, nulls_first) in
                    [(false, false), (false, true), (true, false), (true, true)]
                {
                    let input: Arc<dyn ExecutionPlan> = MemorySourceExec::new(
                        Arc::clone(&schema),
                        batches(&rows, per_batch),
                        partitions,
                    );
                    let first = order(&schema, "o1", descending, nulls_first);
                    let second = order(&schema, "o2", !descending, nulls_first);
                    // One order key ties often; two break most ties.
                    for order in [vec![first.clone()], vec![first, second]] {
                        let expected = kept_ids(sorted(Arc::clone(&input), order.clone()), 16);
                        assert_eq!(expected.len(), 40);
                        assert_eq!(
                            kept_ids(hashed(Arc::clone(&input), order.clone()), 16),
                            expected,
                            "per_batch={per_batch} partitions={partitions} keys={} \
                             descending={descending} nulls_first={nulls_first}",
                            order.len()
                        );
                    }
                }
            }
        }
    }
}
