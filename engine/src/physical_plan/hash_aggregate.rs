//! [`HashAggregateExec`]: GROUP BY (and SQL DISTINCT) by hashing, one thread per input
//! partition.
//!
//! Each input partition is drained by its own thread into a private `PartialAggregate`: a
//! [`GroupValues`] table turns every batch into a vector of group ids, and each
//! [`GroupsAccumulator`] folds the batch's argument column in by group id. Nothing is shared
//! while the input is read, so the threads never wait on each other.
//!
//! The partial states are then merged. With few groups one state absorbs the others (the
//! other's keys are interned into it, giving a group-id mapping the accumulators merge
//! through). With many groups the merge itself is parallel: the groups of every partial are
//! split by key hash into one bucket per thread, and each thread builds the final state of its
//! bucket from all partials; buckets hold disjoint keys, so their results are simply emitted
//! one after the other.
//!
//! When the keys are nearly unique (a thread's first `ROUTING_PROBE_ROWS` rows make almost as
//! many groups), local tables would hold every row only for the merge to intern them all again.
//! Such a thread then routes its remaining rows by key hash into the same buckets, and the
//! bucket's merge thread aggregates them directly: every group is interned once.
//!
//! The output is one partition: the group columns (in the types of the plan's schema, so a
//! dictionary key comes back dictionary-encoded), then one column per aggregate, in batches of
//! `batch_size` rows. Without GROUP BY there is exactly one row, even over empty input.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions};
use arrow::buffer::NullBuffer;
use arrow::compute::{cast, nullif, prep_null_mask_filter, take, take_record_batch};
use arrow::datatypes::{DataType, SchemaRef};

use super::aggregate::accumulators::{create_accumulator, GroupsAccumulator};
use super::aggregate::group_values::{new_group_values, GroupValues};
use super::aggregate::interner::emit_as;
use super::aggregate::NO_GROUP;
use super::hashing::create_hashes;
use super::{BatchIter, ExecutionPlan, OperatorMetrics, TaskContext};
use crate::error::{EngineError, Result};
use crate::expr::type_coercion::value_type;
use crate::expr::AggregateFunction;
use crate::physical_expr::PhysicalExprRef;

/// Below this many groups (summed over the partial states) one thread merges everything;
/// above it the merge is split by key hash across threads.
const PARALLEL_MERGE_MIN_GROUPS: usize = 1 << 17;

/// Rows a thread aggregates before it judges whether partial aggregation pays off.
const ROUTING_PROBE_ROWS: usize = 100_000;

/// A thread whose groups reach this share of its rows after [`ROUTING_PROBE_ROWS`] stops
/// aggregating locally: nearly every row is a new group, so a thread-local table would only
/// be built to be interned again by the merge (DataFusion skips partial aggregation on the
/// same kind of probe). It routes its remaining rows by key hash to the merge's buckets
/// instead, so each group is interned once, by the one thread that owns its bucket.
const ROUTING_MIN_GROUP_RATIO: f64 = 0.8;

/// Hash aggregation: thread-local hash tables per input partition, merged at the end.
/// Cloning is shallow: the clones share the input, the expressions and the metrics.
#[derive(Debug, Clone)]
pub struct HashAggregateExec {
    input: Arc<dyn ExecutionPlan>,
    group_exprs: Vec<PhysicalExprRef>,
    aggregates: Vec<AggregateSpec>,
    schema: SchemaRef,
    metrics: Arc<OperatorMetrics>,
}

/// One aggregate bound to the input schema.
#[derive(Debug, Clone)]
pub struct AggregateSpec {
    pub func: AggregateFunction,
    /// Empty for `COUNT(*)`.
    pub args: Vec<PhysicalExprRef>,
    pub distinct: bool,
    pub filter: Option<PhysicalExprRef>,
    /// The logical result type ([`crate::expr::aggregate_type`]).
    pub output_type: DataType,
}

impl AggregateSpec {
    /// The argument type the accumulator sees: dictionaries arrive decoded, except for COUNT,
    /// which only needs to know which rows are NULL.
    fn input_type(&self) -> Option<DataType> {
        let data_type = self.args.first()?.data_type();
        Some(if self.func == AggregateFunction::Count {
            data_type
        } else {
            value_type(&data_type).clone()
        })
    }

    fn new_accumulator(&self) -> Result<Box<dyn GroupsAccumulator>> {
        if self.args.len() > self.func.max_arguments() {
            return Err(EngineError::Plan(format!(
                "{} takes at most {} argument(s), got {}",
                self.func.name(),
                self.func.max_arguments(),
                self.args.len()
            )));
        }
        create_accumulator(
            self.func,
            self.input_type().as_ref(),
            &self.output_type,
            self.distinct,
        )
    }

    /// The argument columns of one batch, prepared for the accumulator: dictionaries decoded
    /// (but for COUNT) and the rows a FILTER rejects turned into NULLs, which every aggregate
    /// skips. `COUNT(*) FILTER (…)` gets a boolean column that is NULL on rejected rows.
    fn arguments(&self, batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
        let rows = batch.num_rows();
        let mut args = Vec::with_capacity(self.args.len().max(1));
        for arg in &self.args {
            let mut array = arg.evaluate(batch)?.into_array(rows)?;
            if self.func != AggregateFunction::Count {
                if let DataType::Dictionary(_, values) = array.data_type() {
                    array = cast(&array, values)?;
                }
            }
            args.push(array);
        }
        let Some(filter) = &self.filter else {
            return Ok(args);
        };
        let predicate = filter.evaluate(batch)?.into_array(rows)?;
        let Some(predicate) = predicate.as_any().downcast_ref::<BooleanArray>() else {
            return Err(EngineError::Plan(format!(
                "aggregate FILTER must be boolean, not {}",
                predicate.data_type()
            )));
        };
        // TRUE rows only: NULL counts as not passing.
        let keep = if predicate.null_count() > 0 {
            prep_null_mask_filter(predicate)
        } else {
            predicate.clone()
        };
        if args.is_empty() {
            let valid = NullBuffer::new(keep.values().clone());
            args.push(Arc::new(BooleanArray::new(
                keep.values().clone(),
                Some(valid),
            )));
        } else {
            let reject = arrow::compute::not(&keep)?;
            for array in &mut args {
                *array = nullif(array.as_ref(), &reject)?;
            }
        }
        Ok(args)
    }
}

impl fmt::Display for AggregateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.func.name())?;
        if self.distinct {
            f.write_str("DISTINCT ")?;
        }
        if self.args.is_empty() {
            f.write_str("*")?;
        }
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{arg}")?;
        }
        f.write_str(")")?;
        if let Some(filter) = &self.filter {
            write!(f, " FILTER (WHERE {filter})")?;
        }
        Ok(())
    }
}

/// The state one thread builds: groups seen so far and every aggregate's per-group state.
struct PartialAggregate {
    groups: Box<dyn GroupValues>,
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
}

/// What one input thread hands to the merge: its partial state and, once partial aggregation
/// stopped paying off, the rest of its rows routed by key hash, one list of batches per bucket.
struct WorkerOutput {
    partial: PartialAggregate,
    routed: Vec<Vec<RecordBatch>>,
}

impl HashAggregateExec {
    /// Creates the operator. `schema` is the logical plan's: the group columns then the
    /// aggregates. Unsupported key or argument types are reported here, before execution.
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        group_exprs: Vec<PhysicalExprRef>,
        aggregates: Vec<AggregateSpec>,
        schema: SchemaRef,
    ) -> Result<HashAggregateExec> {
        if schema.fields().len() != group_exprs.len() + aggregates.len() {
            return Err(EngineError::Internal(format!(
                "aggregate schema has {} fields for {} group expressions and {} aggregates",
                schema.fields().len(),
                group_exprs.len(),
                aggregates.len()
            )));
        }
        let exec = HashAggregateExec {
            input,
            group_exprs,
            aggregates,
            schema,
            metrics: Arc::default(),
        };
        exec.new_partial()?;
        Ok(exec)
    }

    fn new_partial(&self) -> Result<PartialAggregate> {
        let key_types: Vec<DataType> = self.group_exprs.iter().map(|e| e.data_type()).collect();
        Ok(PartialAggregate {
            groups: new_group_values(&key_types)?,
            accumulators: self
                .aggregates
                .iter()
                .map(AggregateSpec::new_accumulator)
                .collect::<Result<_>>()?,
        })
    }

    /// Interns the keys of one batch into `state` and folds its rows into the accumulators.
    fn aggregate_batch(
        &self,
        state: &mut PartialAggregate,
        batch: &RecordBatch,
        keys: &mut Vec<ArrayRef>,
        ids: &mut Vec<u32>,
    ) -> Result<()> {
        let rows = batch.num_rows();
        ids.clear();
        if self.group_exprs.is_empty() {
            ids.resize(rows, 0);
        } else {
            self.evaluate_keys(batch, keys)?;
            state.groups.intern(keys, ids)?;
        }
        let total_groups = state.groups.len();
        for (spec, accumulator) in self.aggregates.iter().zip(&mut state.accumulators) {
            let args = spec.arguments(batch)?;
            accumulator.update_batch(&args, ids, total_groups)?;
        }
        Ok(())
    }

    fn evaluate_keys(&self, batch: &RecordBatch, keys: &mut Vec<ArrayRef>) -> Result<()> {
        keys.clear();
        for expr in &self.group_exprs {
            keys.push(expr.evaluate(batch)?.into_array(batch.num_rows())?);
        }
        Ok(())
    }

    /// Drains one input partition into a fresh partial state; with `buckets > 1` it may switch
    /// to routing rows to the merge's buckets (see [`ROUTING_MIN_GROUP_RATIO`]).
    fn aggregate_partition(
        &self,
        partition: usize,
        buckets: usize,
        ctx: &Arc<TaskContext>,
    ) -> Result<WorkerOutput> {
        let mut state = self.new_partial()?;
        let mut routed: Vec<Vec<RecordBatch>> = Vec::new();
        let mut ids: Vec<u32> = Vec::new();
        let mut keys: Vec<ArrayRef> = Vec::with_capacity(self.group_exprs.len());
        let mut hashes: Vec<u64> = Vec::new();
        let mut rows_seen = 0;
        let may_route = buckets > 1 && !self.group_exprs.is_empty();
        // Time spent here, not in the input that produces the batches.
        let mut busy = Duration::ZERO;
        for batch in self.input.execute(partition, ctx)? {
            let batch = batch?;
            let start = Instant::now();
            let rows = batch.num_rows();
            if rows == 0 {
                continue;
            }
            if !routed.is_empty() {
                self.evaluate_keys(&batch, &mut keys)?;
                route_batch(&batch, &keys, &mut hashes, &mut routed)?;
            } else {
                self.aggregate_batch(&mut state, &batch, &mut keys, &mut ids)?;
                let probed = rows_seen < ROUTING_PROBE_ROWS;
                rows_seen += rows;
                if may_route
                    && probed
                    && rows_seen >= ROUTING_PROBE_ROWS
                    && state.groups.len() as f64 >= ROUTING_MIN_GROUP_RATIO * rows_seen as f64
                {
                    routed = vec![Vec::new(); buckets];
                }
            }
            busy += start.elapsed();
        }
        self.metrics.add_elapsed(busy);
        Ok(WorkerOutput {
            partial: state,
            routed,
        })
    }

    /// Runs every input partition on a worker thread of its own.
    fn aggregate_partitions(&self, ctx: &Arc<TaskContext>) -> Result<Vec<WorkerOutput>> {
        let partitions = self.input.output_partitions();
        if partitions <= 1 {
            return Ok(vec![self.aggregate_partition(0, 1, ctx)?]);
        }
        let this = Arc::new(self.clone());
        crate::workers::run_all(
            (0..partitions)
                .map(|p| {
                    let (this, ctx) = (Arc::clone(&this), Arc::clone(ctx));
                    move || this.aggregate_partition(p, partitions, &ctx)
                })
                .collect(),
        )
    }

    /// The result batch of one final state.
    /// `threads`: how many threads an accumulator's own evaluation may use (the session's
    /// partitions when one thread finishes every group, 1 when each bucket has its thread).
    fn finish(&self, state: PartialAggregate, threads: usize) -> Result<RecordBatch> {
        let groups = state.groups.len();
        let fields = self.schema.fields();
        let mut columns = Vec::with_capacity(fields.len());
        for (key, field) in state.groups.emit_encoded()?.into_iter().zip(fields.iter()) {
            columns.push(emit_as(key, field.data_type())?);
        }
        let aggregate_fields = &fields[self.group_exprs.len()..];
        for (mut accumulator, field) in state.accumulators.into_iter().zip(aggregate_fields) {
            accumulator.set_evaluation_threads(threads);
            let result = accumulator.evaluate(groups)?;
            columns.push(if result.data_type() == field.data_type() {
                result
            } else {
                cast(&result, field.data_type())?
            });
        }
        let options = RecordBatchOptions::new().with_row_count(Some(groups));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &options,
        )?)
    }

    /// Folds every partial state into the largest one, on this thread.
    fn merge_serial(
        &self,
        mut partials: Vec<PartialAggregate>,
        threads: usize,
    ) -> Result<Vec<RecordBatch>> {
        // The largest state absorbs the others, so the fewest keys are interned again.
        let largest = (0..partials.len())
            .max_by_key(|&i| partials[i].groups.len())
            .unwrap_or(0);
        let mut target = partials.swap_remove(largest);
        let mut mapping = Vec::new();
        for other in partials {
            mapping.clear();
            if self.group_exprs.is_empty() {
                mapping.push(0);
            } else {
                target
                    .groups
                    .intern(&other.groups.emit_encoded()?, &mut mapping)?;
            }
            let total_groups = target.groups.len();
            for (accumulator, other_accumulator) in
                target.accumulators.iter_mut().zip(&other.accumulators)
            {
                accumulator.merge(other_accumulator.as_ref(), &mapping, total_groups)?;
            }
        }
        Ok(vec![self.finish(target, threads)?])
    }

    /// Splits the groups of every partial state by key hash into one bucket per partial and
    /// merges each bucket on its own thread.
    /// `routed[b]` are rows (not yet aggregated) whose key hash falls in bucket `b`.
    fn merge_parallel(
        &self,
        partials: Vec<PartialAggregate>,
        routed: Vec<Vec<RecordBatch>>,
    ) -> Result<Vec<RecordBatch>> {
        let buckets = partials.len();
        let partials = Arc::new(partials);
        // Per partial: its keys, and the positions of its groups falling in each bucket.
        let split: Vec<(Vec<ArrayRef>, Vec<Vec<u32>>)> = crate::workers::run_all(
            (0..partials.len())
                .map(|p| {
                    let partials = Arc::clone(&partials);
                    move || split_by_hash(&partials[p], buckets)
                })
                .collect(),
        )?;
        let split = Arc::new(split);
        let this = Arc::new(self.clone());
        crate::workers::run_all(
            routed
                .into_iter()
                .enumerate()
                .map(|(bucket, rows)| {
                    let (this, partials, split) =
                        (Arc::clone(&this), Arc::clone(&partials), Arc::clone(&split));
                    move || this.merge_bucket(&partials, &split, bucket, rows)
                })
                .collect(),
        )
    }

    fn merge_bucket(
        &self,
        partials: &[PartialAggregate],
        split: &[(Vec<ArrayRef>, Vec<Vec<u32>>)],
        bucket: usize,
        routed: Vec<RecordBatch>,
    ) -> Result<RecordBatch> {
        let mut target = self.new_partial()?;
        let mut ids = Vec::new();
        let mut keys = Vec::with_capacity(self.group_exprs.len());
        for batch in routed {
            self.aggregate_batch(&mut target, &batch, &mut keys, &mut ids)?;
        }
        for (partial, (keys, positions)) in partials.iter().zip(split) {
            let positions = &positions[bucket];
            let indices = arrow::array::UInt32Array::from(positions.clone());
            let bucket_keys = keys
                .iter()
                .map(|k| Ok(take(k.as_ref(), &indices, None)?))
                .collect::<Result<Vec<_>>>()?;
            ids.clear();
            target.groups.intern(&bucket_keys, &mut ids)?;
            let mut mapping = vec![NO_GROUP; partial.groups.len()];
            for (&position, &id) in positions.iter().zip(&ids) {
                mapping[position as usize] = id;
            }
            let total_groups = target.groups.len();
            for (accumulator, other) in target.accumulators.iter_mut().zip(&partial.accumulators) {
                accumulator.merge(other.as_ref(), &mapping, total_groups)?;
            }
        }
        self.finish(target, 1)
    }

    fn run(&self, ctx: &Arc<TaskContext>) -> Result<Vec<RecordBatch>> {
        let outputs = self.aggregate_partitions(ctx)?;
        let start = Instant::now();
        let buckets = outputs.len();
        let mut partials = Vec::with_capacity(buckets);
        let mut routed: Vec<Vec<RecordBatch>> = vec![Vec::new(); buckets];
        let mut any_routed = false;
        for output in outputs {
            partials.push(output.partial);
            for (bucket, batches) in output.routed.into_iter().enumerate() {
                any_routed = true;
                routed[bucket].extend(batches);
            }
        }
        let total_groups: usize = partials.iter().map(|p| p.groups.len()).sum();
        let results = if any_routed
            || (partials.len() > 1
                && !self.group_exprs.is_empty()
                && total_groups >= PARALLEL_MERGE_MIN_GROUPS)
        {
            self.merge_parallel(partials, routed)?
        } else {
            self.merge_serial(partials, ctx.config.target_partitions.max(1))?
        };
        let batch_size = ctx.config.batch_size.max(1);
        let mut batches = Vec::new();
        for result in results {
            let rows = result.num_rows();
            if rows <= batch_size {
                if rows > 0 || self.group_exprs.is_empty() {
                    batches.push(result);
                }
                continue;
            }
            let mut offset = 0;
            while offset < rows {
                let len = batch_size.min(rows - offset);
                batches.push(result.slice(offset, len));
                offset += len;
            }
        }
        self.metrics.add_elapsed(start.elapsed());
        Ok(batches)
    }
}

/// A partial state's keys and, per bucket, the positions of its groups whose key hash falls
/// in that bucket.
fn split_by_hash(
    partial: &PartialAggregate,
    buckets: usize,
) -> Result<(Vec<ArrayRef>, Vec<Vec<u32>>)> {
    let keys = partial.groups.emit_encoded()?;
    let mut hashes = Vec::new();
    create_hashes(&keys, &mut hashes)?;
    let mut positions = vec![Vec::with_capacity(hashes.len() / buckets + 1); buckets];
    for (position, &hash) in hashes.iter().enumerate() {
        positions[bucket_of(hash, buckets)].push(position as u32);
    }
    Ok((keys, positions))
}

/// The merge bucket of a key hash. The middle bits pick it: hashbrown uses the low bits for
/// the slot and the top seven for its tag, and a bucket whose keys all shared those would
/// probe badly.
#[inline(always)]
fn bucket_of(hash: u64, buckets: usize) -> usize {
    (((hash >> 16) as u32 as u64 * buckets as u64) >> 32) as usize
}

/// Splits `batch` by the hash of its key columns `keys` (hashed as [`split_by_hash`] hashes
/// emitted keys, so a key lands in the same bucket either way) and appends each bucket's rows
/// to `routed[bucket]`.
fn route_batch(
    batch: &RecordBatch,
    keys: &[ArrayRef],
    hashes: &mut Vec<u64>,
    routed: &mut [Vec<RecordBatch>],
) -> Result<()> {
    create_hashes(keys, hashes)?;
    let buckets = routed.len();
    let mut positions = vec![Vec::with_capacity(hashes.len() / buckets + 1); buckets];
    for (row, &hash) in hashes.iter().enumerate() {
        positions[bucket_of(hash, buckets)].push(row as u32);
    }
    for (positions, target) in positions.into_iter().zip(routed) {
        if !positions.is_empty() {
            let indices = arrow::array::UInt32Array::from(positions);
            target.push(take_record_batch(batch, &indices)?);
        }
    }
    Ok(())
}

impl ExecutionPlan for HashAggregateExec {
    fn name(&self) -> &'static str {
        "HashAggregateExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
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
                "HashAggregateExec has one output partition, asked for {partition}"
            )));
        }
        let batches = self.run(ctx)?;
        for batch in &batches {
            self.metrics.record_batch(batch.num_rows());
        }
        Ok(Box::new(batches.into_iter().map(Ok)))
    }

    fn describe(&self) -> String {
        let keys: Vec<String> = self.group_exprs.iter().map(|e| e.to_string()).collect();
        let aggregates: Vec<String> = self.aggregates.iter().map(|a| a.to_string()).collect();
        format!(
            "HashAggregateExec: group_by=[{}], aggregates=[{}]",
            keys.join(", "),
            aggregates.join(", ")
        )
    }

    fn metrics(&self) -> Option<&OperatorMetrics> {
        Some(self.metrics.as_ref())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use arrow::array::{
        AsArray, DictionaryArray, Float64Array, Int32Array, Int64Array, StringArray,
    };
    use arrow::datatypes::{Field, Int32Type, Int64Type, Schema};
    use quiver_storage::ScalarValue;

    use super::*;
    use crate::execution::SessionConfig;
    use crate::expr::{Column, Expr};
    use crate::logical_plan::PlanSchema;
    use crate::physical_expr::create_physical_expr;
    use crate::physical_plan::collect;

    /// An in-memory source: one vector of batches per partition.
    #[derive(Debug)]
    pub(crate) struct MemorySourceExec {
        schema: SchemaRef,
        partitions: Vec<Vec<RecordBatch>>,
    }

    impl MemorySourceExec {
        /// `batches` dealt round-robin into `partitions` partitions.
        pub(crate) fn new(
            schema: SchemaRef,
            batches: Vec<RecordBatch>,
            partitions: usize,
        ) -> Arc<Self> {
            let mut split = vec![Vec::new(); partitions.max(1)];
            for (i, batch) in batches.into_iter().enumerate() {
                split[i % partitions.max(1)].push(batch);
            }
            Arc::new(MemorySourceExec {
                schema,
                partitions: split,
            })
        }
    }

    impl ExecutionPlan for MemorySourceExec {
        fn name(&self) -> &'static str {
            "MemorySourceExec"
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
        fn execute(&self, partition: usize, _ctx: &Arc<TaskContext>) -> Result<BatchIter> {
            let batches = self.partitions[partition].clone();
            Ok(Box::new(batches.into_iter().map(Ok)))
        }
        fn describe(&self) -> String {
            "MemorySourceExec".into()
        }
    }

    /// A physical column reference by name.
    pub(crate) fn col(name: &str, schema: &SchemaRef) -> PhysicalExprRef {
        let plan_schema = PlanSchema::from_arrow(None, schema);
        create_physical_expr(&Expr::Column(Column::new(name)), &plan_schema).unwrap()
    }

    fn literal(value: ScalarValue) -> PhysicalExprRef {
        let plan_schema = PlanSchema::empty();
        create_physical_expr(&Expr::Literal(value), &plan_schema).unwrap()
    }

    /// `SUM(v)` and `COUNT(*)`, both `Int64`, over a batch with an `Int64` column `v`.
    fn sum_v_and_count(schema: &SchemaRef) -> Vec<AggregateSpec> {
        vec![
            spec(
                AggregateFunction::Sum,
                vec![col("v", schema)],
                DataType::Int64,
            ),
            spec(AggregateFunction::Count, vec![], DataType::Int64),
        ]
    }

    fn spec(
        func: AggregateFunction,
        args: Vec<PhysicalExprRef>,
        output_type: DataType,
    ) -> AggregateSpec {
        AggregateSpec {
            func,
            args,
            distinct: false,
            filter: None,
            output_type,
        }
    }

    /// Runs an aggregate over `batches` split into `partitions` and returns the output
    /// sorted by its first column's text, so results compare independently of group order.
    fn aggregate(
        batches: Vec<RecordBatch>,
        partitions: usize,
        group_by: &[&str],
        aggregates: Vec<AggregateSpec>,
        batch_size: usize,
    ) -> Result<Vec<Vec<String>>> {
        let input_schema = batches[0].schema();
        let source = MemorySourceExec::new(Arc::clone(&input_schema), batches, partitions);
        let group_exprs: Vec<PhysicalExprRef> = group_by
            .iter()
            .map(|name| col(name, &input_schema))
            .collect();
        let mut fields: Vec<Field> = group_by
            .iter()
            .map(|name| input_schema.field_with_name(name).unwrap().clone())
            .collect();
        for (i, a) in aggregates.iter().enumerate() {
            fields.push(Field::new(format!("a{i}"), a.output_type.clone(), true));
        }
        let schema = Arc::new(Schema::new(fields));
        let exec = Arc::new(HashAggregateExec::try_new(
            source,
            group_exprs,
            aggregates,
            Arc::clone(&schema),
        )?);
        let mut config = SessionConfig::new();
        config.batch_size = batch_size;
        let result = collect(exec, &TaskContext::new(config))?;
        for batch in &result {
            assert_eq!(batch.schema(), schema);
            assert!(batch.num_rows() <= batch_size);
        }
        let mut rows = Vec::new();
        for batch in &result {
            for row in 0..batch.num_rows() {
                rows.push(
                    batch
                        .columns()
                        .iter()
                        .map(|c| arrow::util::display::array_value_to_string(c, row).unwrap())
                        .collect(),
                );
            }
        }
        rows.sort();
        Ok(rows)
    }

    fn table(names: &[&str], columns: Vec<ArrayRef>) -> RecordBatch {
        let fields: Vec<Field> = names
            .iter()
            .zip(&columns)
            .map(|(n, c)| Field::new(*n, c.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    fn rows(expected: &[&[&str]]) -> Vec<Vec<String>> {
        expected
            .iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    /// Cuts `batch` into batches of `size` rows.
    fn chunks(batch: &RecordBatch, size: usize) -> Vec<RecordBatch> {
        (0..batch.num_rows())
            .step_by(size)
            .map(|o| batch.slice(o, size.min(batch.num_rows() - o)))
            .collect()
    }

    fn sample() -> RecordBatch {
        table(
            &["k", "v", "f"],
            vec![
                Arc::new(StringArray::from(vec![
                    Some("a"),
                    Some("b"),
                    Some("a"),
                    None,
                    Some("b"),
                    Some("a"),
                    None,
                ])),
                Arc::new(Int32Array::from(vec![
                    Some(1),
                    Some(10),
                    Some(2),
                    Some(100),
                    None,
                    Some(3),
                    Some(200),
                ])),
                Arc::new(Float64Array::from(vec![
                    Some(1.0),
                    Some(2.0),
                    Some(4.0),
                    None,
                    None,
                    Some(1.0),
                    Some(8.0),
                ])),
            ],
        )
    }

    #[test]
    fn group_by_string_with_null_key_every_accumulator() {
        let batch = sample();
        let schema = batch.schema();
        let v = || col("v", &schema);
        let f = || col("f", &schema);
        let aggregates = vec![
            spec(AggregateFunction::Count, vec![], DataType::Int64),
            spec(AggregateFunction::Count, vec![f()], DataType::Int64),
            spec(AggregateFunction::Sum, vec![v()], DataType::Int64),
            spec(AggregateFunction::Avg, vec![v()], DataType::Float64),
            spec(AggregateFunction::Min, vec![v()], DataType::Int32),
            spec(AggregateFunction::Max, vec![f()], DataType::Float64),
            spec(AggregateFunction::VarPop, vec![f()], DataType::Float64),
            spec(AggregateFunction::StdDevSamp, vec![v()], DataType::Float64),
        ];
        let expected = rows(&[
            // b: v = 10, NULL; f = 2, NULL → one value: stddev_samp NULL.
            &[
                "",
                "2",
                "1",
                "300",
                "150.0",
                "100",
                "8.0",
                "0.0",
                "70.71067811865476",
            ],
            &["a", "3", "3", "6", "2.0", "1", "4.0", "2.0", "1.0"],
            &["b", "2", "1", "10", "10.0", "10", "2.0", "0.0", ""],
        ]);
        for partitions in [1, 2, 3] {
            for chunk in [1, 2, 7] {
                let got = aggregate(
                    chunks(&batch, chunk),
                    partitions,
                    &["k"],
                    aggregates.clone(),
                    8192,
                )
                .unwrap();
                assert_eq!(got, expected, "partitions {partitions}, chunk {chunk}");
            }
        }
    }

    #[test]
    fn global_aggregate_over_empty_input_is_one_row() {
        let batch = sample().slice(0, 0);
        let schema = batch.schema();
        let aggregates = vec![
            spec(AggregateFunction::Count, vec![], DataType::Int64),
            spec(
                AggregateFunction::Count,
                vec![col("v", &schema)],
                DataType::Int64,
            ),
            spec(
                AggregateFunction::Sum,
                vec![col("v", &schema)],
                DataType::Int64,
            ),
            spec(
                AggregateFunction::Max,
                vec![col("k", &schema)],
                DataType::Utf8,
            ),
        ];
        for partitions in [1, 2] {
            let got = aggregate(
                vec![batch.clone()],
                partitions,
                &[],
                aggregates.clone(),
                8192,
            )
            .unwrap();
            assert_eq!(got, rows(&[&["0", "0", "", ""]]));
        }
        // Grouped over empty input: no rows.
        let got = aggregate(vec![batch], 2, &["k"], aggregates, 8192).unwrap();
        assert!(got.is_empty());
    }

    #[test]
    fn global_aggregate_over_several_partitions() {
        let batch = sample();
        let schema = batch.schema();
        let aggregates = vec![
            spec(AggregateFunction::Count, vec![], DataType::Int64),
            spec(
                AggregateFunction::Sum,
                vec![col("v", &schema)],
                DataType::Int64,
            ),
            spec(
                AggregateFunction::Min,
                vec![col("k", &schema)],
                DataType::Utf8,
            ),
        ];
        let got = aggregate(chunks(&batch, 2), 3, &[], aggregates, 8192).unwrap();
        assert_eq!(got, rows(&[&["7", "316", "a"]]));
    }

    #[test]
    fn distinct_and_filter() {
        let batch = table(
            &["k", "v"],
            vec![
                Arc::new(Int64Array::from(vec![1, 1, 1, 1, 2, 2, 2])),
                Arc::new(Int32Array::from(vec![
                    Some(5),
                    Some(5),
                    Some(6),
                    None,
                    Some(7),
                    Some(7),
                    Some(-1),
                ])),
            ],
        );
        let schema = batch.schema();
        let v = col("v", &schema);
        // FILTER (WHERE v > 5) is spelled as a boolean column here.
        let predicate: ArrayRef = Arc::new(BooleanArray::from(vec![
            Some(false),
            Some(false),
            Some(true),
            None,
            Some(true),
            Some(true),
            Some(false),
        ]));
        let batch = {
            let mut columns = batch.columns().to_vec();
            columns.push(predicate);
            table(&["k", "v", "p"], columns)
        };
        let schema = batch.schema();
        let p = col("p", &schema);
        let mut count_distinct = spec(
            AggregateFunction::Count,
            vec![Arc::clone(&v)],
            DataType::Int64,
        );
        count_distinct.distinct = true;
        let mut sum_distinct = spec(
            AggregateFunction::Sum,
            vec![Arc::clone(&v)],
            DataType::Int64,
        );
        sum_distinct.distinct = true;
        let mut count_filtered = spec(AggregateFunction::Count, vec![], DataType::Int64);
        count_filtered.filter = Some(Arc::clone(&p));
        let mut sum_filtered = spec(
            AggregateFunction::Sum,
            vec![Arc::clone(&v)],
            DataType::Int64,
        );
        sum_filtered.filter = Some(Arc::clone(&p));
        let mut distinct_filtered = spec(AggregateFunction::Count, vec![v], DataType::Int64);
        distinct_filtered.filter = Some(p);
        distinct_filtered.distinct = true;
        let aggregates = vec![
            count_distinct,
            sum_distinct,
            count_filtered,
            sum_filtered,
            distinct_filtered,
        ];
        for partitions in [1, 2, 4] {
            let got = aggregate(
                chunks(&batch, 1),
                partitions,
                &["k"],
                aggregates.clone(),
                8192,
            )
            .unwrap();
            assert_eq!(
                got,
                rows(&[
                    &["1", "2", "11", "1", "6", "1"],
                    &["2", "2", "6", "2", "14", "1"]
                ])
            );
        }
    }

    #[test]
    fn filter_without_nulls_in_the_predicate() {
        let batch = table(
            &["k", "v", "p"],
            vec![
                Arc::new(Int32Array::from(vec![1, 1, 2])),
                Arc::new(Int32Array::from(vec![4, 5, 6])),
                Arc::new(BooleanArray::from(vec![true, false, false])),
            ],
        );
        let schema = batch.schema();
        let mut count = spec(AggregateFunction::Count, vec![], DataType::Int64);
        count.filter = Some(col("p", &schema));
        let mut max = spec(
            AggregateFunction::Max,
            vec![col("v", &schema)],
            DataType::Int32,
        );
        max.filter = Some(col("p", &schema));
        let got = aggregate(vec![batch], 1, &["k"], vec![count, max], 8192).unwrap();
        assert_eq!(got, rows(&[&["1", "1", "4"], &["2", "0", ""]]));
    }

    #[test]
    fn sum_overflow_is_an_error_not_a_wrap() {
        let batch = table(
            &["k", "v"],
            vec![
                Arc::new(Int32Array::from(vec![1, 1])),
                Arc::new(Int64Array::from(vec![i64::MAX, 1])),
            ],
        );
        let schema = batch.schema();
        let aggregates = vec![spec(
            AggregateFunction::Sum,
            vec![col("v", &schema)],
            DataType::Int64,
        )];
        // In one partition the update overflows; in two, the merge does.
        for partitions in [1, 2] {
            let err = aggregate(
                chunks(&batch, 1),
                partitions,
                &["k"],
                aggregates.clone(),
                8192,
            )
            .unwrap_err();
            assert!(matches!(err, EngineError::NumericOverflow(_)), "{err}");
        }
    }

    #[test]
    fn dictionary_key_comes_back_as_dictionary() {
        let keys: DictionaryArray<Int32Type> = vec![Some("x"), Some("y"), None, Some("x")]
            .into_iter()
            .collect();
        let batch = table(
            &["k", "v"],
            vec![Arc::new(keys), Arc::new(Int32Array::from(vec![1, 2, 3, 4]))],
        );
        let schema = batch.schema();
        let aggregates = vec![spec(
            AggregateFunction::Sum,
            vec![col("v", &schema)],
            DataType::Int64,
        )];
        // The output schema check inside `aggregate` proves the dictionary type.
        let got = aggregate(chunks(&batch, 1), 2, &["k"], aggregates, 8192).unwrap();
        assert_eq!(got, rows(&[&["", "3"], &["x", "5"], &["y", "2"]]));
    }

    #[test]
    fn multi_column_keys_and_distinct_rows() {
        let batch = table(
            &["a", "b", "c"],
            vec![
                Arc::new(Int32Array::from(vec![
                    Some(1),
                    Some(1),
                    Some(1),
                    None,
                    None,
                    Some(2),
                ])),
                Arc::new(StringArray::from(vec![
                    Some("p"),
                    Some("q"),
                    Some("p"),
                    None,
                    None,
                    Some("p"),
                ])),
                Arc::new(
                    vec!["u", "u", "u", "v", "v", "u"]
                        .into_iter()
                        .collect::<DictionaryArray<Int32Type>>(),
                ),
            ],
        );
        // SQL DISTINCT: every column a key, no aggregates.
        let expected = rows(&[
            &["", "", "v"],
            &["1", "p", "u"],
            &["1", "q", "u"],
            &["2", "p", "u"],
        ]);
        for partitions in [1, 2, 3] {
            let got = aggregate(
                chunks(&batch, 2),
                partitions,
                &["a", "b", "c"],
                vec![],
                8192,
            )
            .unwrap();
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn output_is_cut_into_batches_and_many_groups_merge_in_parallel() {
        // Enough groups to take the parallel merge path, checked against a direct count.
        let n = PARALLEL_MERGE_MIN_GROUPS as i64 + 5000;
        let keys: Vec<i64> = (0..2 * n).map(|i| (i * 7919) % n).collect();
        let batch = table(
            &["k", "v"],
            vec![
                Arc::new(Int64Array::from(keys.clone())),
                Arc::new(Int64Array::from(vec![1; keys.len()])),
            ],
        );
        let schema = batch.schema();
        let aggregates = sum_v_and_count(&schema);
        let got = aggregate(chunks(&batch, 10_000), 3, &["k"], aggregates, 4096).unwrap();
        assert_eq!(got.len(), n as usize);
        assert!(got.iter().all(|r| r[1] == "2" && r[2] == "2"));
    }

    #[test]
    fn sorted_sparse_integer_keys_over_a_wide_range() {
        // TPC-H's l_orderkey: ascending, one value in four of a range wider than the dense
        // array's minimum, each key on one to four rows. Both the serial and the parallel
        // merge give every group's sum and count.
        let groups = 300_000i64;
        let mut keys = Vec::new();
        let mut values = Vec::new();
        let mut expected = Vec::new();
        for g in 0..groups {
            let key = 1 + 4 * g - g % 3;
            let repeats = g % 4 + 1;
            for r in 0..repeats {
                keys.push(key);
                values.push(g % 50 + r);
            }
            let sum: i64 = (0..repeats).map(|r| g % 50 + r).sum();
            expected.push(vec![key.to_string(), sum.to_string(), repeats.to_string()]);
        }
        expected.sort();
        let batch = table(
            &["k", "v"],
            vec![
                Arc::new(Int64Array::from(keys)),
                Arc::new(Int64Array::from(values)),
            ],
        );
        let schema = batch.schema();
        let aggregates = sum_v_and_count(&schema);
        for partitions in [1, 2] {
            let got = aggregate(
                chunks(&batch, 8192),
                partitions,
                &["k"],
                aggregates.clone(),
                8192,
            )
            .unwrap();
            assert_eq!(got, expected, "{partitions} partitions");
        }
    }

    #[test]
    fn nearly_unique_multi_column_keys_are_routed_to_the_merge_buckets() {
        // Every key (a, b) occurs twice, 120_000 rows apart: each thread's first rows make
        // almost as many groups as rows, so past ROUTING_PROBE_ROWS it routes the rest by key
        // hash, and the second occurrence of a key must meet the first (aggregated locally, or
        // routed by another thread) in the same bucket. `b` is text with NULLs (emitted as a
        // dictionary for the merge) and `c` a dictionary.
        let half: i64 = 120_000;
        let n = 2 * half;
        assert!(half as usize > ROUTING_PROBE_ROWS);
        let a: Vec<i64> = (0..n).map(|i| i % half).collect();
        let b: Vec<Option<String>> = a
            .iter()
            .map(|a| (a % 13 != 0).then(|| format!("s{}", a % 50)))
            .collect();
        let c: DictionaryArray<Int32Type> = a
            .iter()
            .map(|a| Some(if a % 2 == 0 { "even" } else { "odd" }))
            .collect();
        let batch = table(
            &["a", "b", "c", "v"],
            vec![
                Arc::new(Int64Array::from(a)),
                Arc::new(StringArray::from(b)),
                Arc::new(c),
                Arc::new(Int64Array::from((0..n).collect::<Vec<i64>>())),
            ],
        );
        let schema = batch.schema();
        let aggregates = || sum_v_and_count(&schema);
        let serial = aggregate(
            chunks(&batch, 8192),
            1,
            &["a", "b", "c"],
            aggregates(),
            8192,
        )
        .unwrap();
        assert_eq!(serial.len(), half as usize);
        for row in &serial {
            let a: i64 = row[0].parse().unwrap();
            let b = if a % 13 == 0 {
                String::new()
            } else {
                format!("s{}", a % 50)
            };
            let c = if a % 2 == 0 { "even" } else { "odd" };
            let expected = [
                b,
                c.to_string(),
                (2 * a + half).to_string(),
                "2".to_string(),
            ];
            assert_eq!(row[1..], expected, "group {a}");
        }
        for partitions in [2, 3] {
            let routed = aggregate(
                chunks(&batch, 8192),
                partitions,
                &["a", "b", "c"],
                aggregates(),
                8192,
            )
            .unwrap();
            assert_eq!(routed, serial, "{partitions} partitions");
        }
    }

    #[test]
    fn literal_argument_and_describe() {
        let batch = sample();
        let schema = batch.schema();
        let aggregates = vec![spec(
            AggregateFunction::Sum,
            vec![literal(ScalarValue::Int64(Some(2)))],
            DataType::Int64,
        )];
        let got = aggregate(vec![batch.clone()], 1, &["k"], aggregates.clone(), 8192).unwrap();
        assert_eq!(got, rows(&[&["", "4"], &["a", "6"], &["b", "4"]]));
        let exec = HashAggregateExec::try_new(
            MemorySourceExec::new(Arc::clone(&schema), vec![batch], 1),
            vec![col("k", &schema)],
            aggregates,
            Arc::new(Schema::new(vec![
                Field::new("k", DataType::Utf8, true),
                Field::new("s", DataType::Int64, true),
            ])),
        )
        .unwrap();
        assert_eq!(
            exec.describe(),
            "HashAggregateExec: group_by=[k@0], aggregates=[sum(2)]"
        );
    }

    #[test]
    fn unsupported_types_are_rejected_when_planned() {
        let batch = sample();
        let schema = batch.schema();
        let err = HashAggregateExec::try_new(
            MemorySourceExec::new(Arc::clone(&schema), vec![batch], 1),
            vec![],
            vec![spec(
                AggregateFunction::Avg,
                vec![col("k", &schema)],
                DataType::Float64,
            )],
            Arc::new(Schema::new(vec![Field::new("a", DataType::Float64, true)])),
        )
        .unwrap_err();
        assert!(matches!(err, EngineError::Plan(_)), "{err}");
    }

    #[test]
    fn results_keep_their_types() {
        let batch = sample();
        let schema = batch.schema();
        let aggregates = vec![spec(
            AggregateFunction::Sum,
            vec![col("v", &schema)],
            DataType::Int64,
        )];
        let source = MemorySourceExec::new(Arc::clone(&schema), vec![batch], 1);
        let out_schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("s", DataType::Int64, true),
        ]));
        let exec = Arc::new(
            HashAggregateExec::try_new(source, vec![col("k", &schema)], aggregates, out_schema)
                .unwrap(),
        );
        let out = collect(exec, &TaskContext::new(SessionConfig::new())).unwrap();
        let sums = out[0].column(1).as_primitive::<Int64Type>();
        assert_eq!(sums.len(), 3);
    }
}
