//! [`HashJoinExec`]: equi-join by hashing the right input and streaming the left through it.
//!
//! **Build.** The right input is collected once (its partitions on parallel threads),
//! however many left partitions call `execute`: the first caller builds, the others wait on
//! a `OnceLock`. A small build side becomes one batch (its columns concatenated on parallel
//! threads); one of `ROW_LAYOUT_ROWS` (4 Mi) rows or more is stored row by row
//! (`join_build.rs`), so that the probe's gathers, random reads of a table larger than the
//! cache, cost one miss per row instead of one per column. The build keys are interned into
//! a [`GroupValues`] table, the same type-specialised structure the aggregate groups by,
//! which gives every distinct key a dense id; rows sharing a key are chained through a
//! `next` vector (`heads[key] → row → next[row]`), CSR-like, so duplicates cost one `u32`
//! each, linked on parallel threads that each own a range of key ids. Rows with a NULL in
//! any key are left out of the chains: NULL never matches. Two cases skip most of that work:
//! - one integer key whose values span at most a few times as many values as the build has
//!   rows (primary and surrogate keys) gets a direct table (`DirectKeys`): the key id is
//!   `value - min`, so neither side hashes or compares keys, and the build computes the
//!   ids of a share of the rows per thread;
//! - when no two rows share a key (a primary key, or any unique column) `next` is dropped:
//!   a probe then reads one `heads` entry per row and no chain.
//!
//! **Probe.** Each left partition streams on its own: a batch's keys are looked up (no
//! insertion, so the table is shared read-only), the chains give `(left row, right row)`
//! pairs, and output batches are assembled with `take`. A probe batch whose matches would
//! exceed `batch_size` rows is emitted in several batches. Over unique build keys without a
//! residual filter (a join on a primary key, H2O's joins) an INNER, LEFT, RIGHT or FULL
//! join's output follows the left rows, at most one pair each: a chunk of left rows that all
//! matched, or any chunk of a LEFT/FULL join, is emitted as a zero-copy slice; otherwise the
//! matched rows of every column are copied run by run by one filter predicate. The build
//! columns are gathered for them (short build strings by fixed-size windows, see
//! `join_build.rs`). An embedded projection (a column-only
//! projection above the join, folded in by the physical planner) limits the output to the
//! columns the parent reads; the unique-key probe then copies only those. A residual `filter` is
//! evaluated on the candidate pairs; "matched" always means "keys equal and filter TRUE", so
//! LEFT, SEMI and ANTI joins treat a left row whose candidates all fail the filter as
//! unmatched. A MARK join emits every left row once with that outcome as a boolean column.
//!
//! **Unmatched right rows** (RIGHT and FULL joins) are emitted exactly once, after every left
//! partition has finished: each probe stream marks the right rows it matched in a private
//! bitmap, ORs it into a shared atomic bitmap when its input ends, and the last stream to end
//! emits the right rows nobody matched. (So every left partition must be run to its end, and
//! each once, for those rows to appear.) RIGHT SEMI and RIGHT ANTI joins — a left semi or
//! anti join swapped so that the table is built over the smaller, preserved side — work the
//! same way and emit nothing while probing: the last stream emits the matched (semi) or
//! unmatched (anti) right rows, right columns only. Without a residual filter a match is a
//! key match, so their probe only looks keys up and marks key ids, not rows.
//!
//! Join keys of different types are cast to their common comparison type first (`Int32` with
//! `Int64` compares as `Int64`); a dictionary and a plain column of the same value type need no
//! cast, since the key table reads dictionaries directly. Without any equality condition every
//! row shares the empty key: a cross join, narrowed by the filter.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, BooleanArray, PrimitiveArray, RecordBatch,
    RecordBatchOptions, UInt32Array,
};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::compute::{
    cast, concat, concat_batches, filter_record_batch, prep_null_mask_filter, take, FilterBuilder,
    FilterPredicate,
};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Field, Int32Type, Int64Type, Schema, SchemaRef, UInt32Type,
};

use super::aggregate::group_values::{new_group_values, GroupLookupCache, GroupValues};
use super::aggregate::NO_GROUP;
use super::join_build::{BuildColumns, BuildRows};
use super::runtime_filter::RuntimeFilter;
use super::{collect, join_worker, BatchIter, ExecutionPlan, OperatorMetrics, TaskContext};
use crate::error::{EngineError, Result};
use crate::expr::type_coercion::{comparison_common_type, value_type};
use crate::logical_plan::JoinType;
use crate::physical_expr::PhysicalExprRef;

/// The physical rule that folds a column-only projection above a hash join into the join
/// (see [`HashJoinExec::with_projection`]); `disable_rule` switches it off by this name.
pub const JOIN_PROJECTION: &str = "join_projection";

/// End of a chain of build rows.
const NO_ROW: u32 = u32::MAX;

/// Hash join: builds a hash table over the right input, probes it with the left input's partitions.
#[derive(Debug)]
pub struct HashJoinExec {
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
    params: Arc<JoinParams>,
    build: OnceLock<Result<Arc<BuildSide>>>,
    metrics: Arc<OperatorMetrics>,
    /// Filters given this join's build keys once it has built (see `runtime_filter.rs`).
    runtime_filters: Vec<Arc<RuntimeFilter>>,
    /// Build sides of at least this many rows are stored row by row (see `join_build.rs`).
    row_layout_rows: usize,
}

/// From this many build rows on, the build is stored as rows: writing them costs more than
/// concatenating columns, which only pays when many rows are gathered from a table far
/// larger than the cache (H2O j5's 1e7-row `big`, about 9M gathered rows). TPC-H q18's
/// 1.5M-row build, probed by 399 rows, measured 15% slower as rows (SF1, 2 threads).
const ROW_LAYOUT_ROWS: usize = 1 << 22;

/// Everything a probe stream needs besides the build side.
#[derive(Debug)]
struct JoinParams {
    on: Vec<(PhysicalExprRef, PhysicalExprRef)>,
    /// Per key pair: the type both sides are cast to, or `None` when they already agree.
    key_casts: Vec<Option<DataType>>,
    filter: Option<PhysicalExprRef>,
    join_type: JoinType,
    /// The operator's output: the join's columns, or the projection's when there is one.
    schema: SchemaRef,
    /// Left columns then right columns, all nullable: what the filter is evaluated over.
    pairs_schema: SchemaRef,
    left_schema: SchemaRef,
    /// The join's columns the output keeps, in output order (an embedded projection, see
    /// [`HashJoinExec::with_projection`]); `None`: all of them.
    projection: Option<Vec<usize>>,
    /// The join's columns before the projection.
    join_schema: SchemaRef,
}

/// The collected right input and its key table.
struct BuildSide {
    payload: Payload,
    /// How many right rows there are.
    rows: usize,
    keys: KeyTable,
    /// First right row of each key id (`NO_ROW` for a key whose rows all hold a NULL, or, in
    /// a direct table, for a value no row holds).
    heads: Vec<u32>,
    /// Next right row with the same key; empty when no two rows share a key.
    next: Vec<u32>,
    /// Right rows matched by any probe stream (RIGHT/FULL/RIGHT SEMI/RIGHT ANTI joins), or
    /// the key ids matched when [`JoinParams::marks_keys`].
    visited: Vec<AtomicU64>,
    /// Probe streams still running (RIGHT/FULL/RIGHT SEMI/RIGHT ANTI joins).
    remaining_probes: AtomicUsize,
}

/// The right rows' columns, as gathered by [`BuildSide::gather`].
enum Payload {
    /// One batch (a small build side: gathers stay in cache).
    Columns(BuildColumns),
    /// Row by row (a large build side: one cache miss per gathered row, see `join_build.rs`).
    Rows(BuildRows),
}

impl BuildSide {
    /// The build columns at `indices` (a NULL index gives a NULL row), in build column order.
    fn gather(&self, indices: &UInt32Array) -> Result<Vec<ArrayRef>> {
        let wanted = vec![true; self.width()];
        Ok(self
            .gather_wanted(indices, &wanted)?
            .into_iter()
            .flatten()
            .collect())
    }

    /// How many columns the build side has.
    fn width(&self) -> usize {
        match &self.payload {
            Payload::Columns(columns) => columns.column_count(),
            Payload::Rows(rows) => rows.column_count(),
        }
    }

    /// [`BuildSide::gather`] of the build columns `wanted` marks (the ones an embedded
    /// projection keeps); `None` for the others, which are not copied.
    fn gather_wanted(
        &self,
        indices: &UInt32Array,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayRef>>> {
        match &self.payload {
            Payload::Columns(columns) => columns.gather_wanted(indices, wanted),
            Payload::Rows(rows) => rows.gather_wanted(indices, wanted),
        }
    }
}

impl fmt::Debug for BuildSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BuildSide({} rows)", self.rows)
    }
}

impl HashJoinExec {
    /// Creates the operator. `schema` is the logical join's output schema (for semi and anti
    /// joins one side's columns only).
    pub fn try_new(
        left: Arc<dyn ExecutionPlan>,
        right: Arc<dyn ExecutionPlan>,
        on: Vec<(PhysicalExprRef, PhysicalExprRef)>,
        filter: Option<PhysicalExprRef>,
        join_type: JoinType,
        schema: SchemaRef,
    ) -> Result<HashJoinExec> {
        let mut key_casts = Vec::with_capacity(on.len());
        let mut build_types = Vec::with_capacity(on.len());
        for (l, r) in &on {
            let (lt, rt) = (l.data_type(), r.data_type());
            let common = comparison_common_type(&lt, &rt).ok_or_else(|| {
                EngineError::Plan(format!(
                    "join keys {l} ({lt}) and {r} ({rt}) cannot be compared"
                ))
            })?;
            if value_type(&lt) == value_type(&rt) {
                key_casts.push(None);
                build_types.push(rt);
            } else {
                build_types.push(common.clone());
                key_casts.push(Some(common));
            }
        }
        // Reject key types the table cannot hold now rather than at execution.
        new_group_values(&build_types)?;
        let (left_schema, right_schema) = (left.schema(), right.schema());
        let pairs_fields: Vec<Field> = left_schema
            .fields()
            .iter()
            .chain(right_schema.fields().iter())
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        let expected_fields = match join_type {
            JoinType::LeftSemi | JoinType::LeftAnti => left_schema.fields().len(),
            JoinType::RightSemi | JoinType::RightAnti => right_schema.fields().len(),
            JoinType::LeftMark => left_schema.fields().len() + 1,
            _ => pairs_fields.len(),
        };
        if schema.fields().len() != expected_fields {
            return Err(EngineError::Internal(format!(
                "{} output schema has {} fields, expected {expected_fields}",
                join_type.sql(),
                schema.fields().len()
            )));
        }
        Ok(HashJoinExec {
            left,
            right,
            params: Arc::new(JoinParams {
                on,
                key_casts,
                filter,
                join_type,
                join_schema: Arc::clone(&schema),
                schema,
                pairs_schema: Arc::new(Schema::new(pairs_fields)),
                left_schema,
                projection: None,
            }),
            build: OnceLock::new(),
            metrics: Arc::new(OperatorMetrics::default()),
            runtime_filters: Vec::new(),
            row_layout_rows: ROW_LAYOUT_ROWS,
        })
    }

    /// Publishes the build keys into `runtime_filters` once the build is complete.
    pub fn with_runtime_filters(mut self, runtime_filters: Vec<Arc<RuntimeFilter>>) -> Self {
        self.runtime_filters = runtime_filters;
        self
    }

    /// Outputs only the join's columns at `columns`, in that order, as `schema` (their
    /// names may differ: a projection's aliases). Folding a column-only projection into the
    /// join lets the probe skip the columns nobody reads (a key the parent drops), and saves
    /// the operator above it.
    pub fn with_projection(mut self, columns: Vec<usize>, schema: SchemaRef) -> Result<Self> {
        let joined = Arc::clone(&self.params.join_schema);
        if columns.len() != schema.fields().len() {
            return Err(EngineError::Internal(format!(
                "join projection of {} columns with a schema of {} fields",
                columns.len(),
                schema.fields().len()
            )));
        }
        for (&column, field) in columns.iter().zip(schema.fields()) {
            match joined.fields().get(column) {
                Some(joined_field) if joined_field.data_type() == field.data_type() => {}
                _ => {
                    return Err(EngineError::Internal(format!(
                        "join projection column {column} does not give {field}"
                    )))
                }
            }
        }
        let params = Arc::get_mut(&mut self.params).ok_or_else(|| {
            EngineError::Internal("join projection set after the join started".into())
        })?;
        params.projection = Some(columns);
        params.schema = schema;
        Ok(self)
    }

    /// Stores build sides of at least `rows` rows row by row (tests use small ones).
    #[cfg(test)]
    fn with_row_layout_from(mut self, rows: usize) -> Self {
        self.row_layout_rows = rows;
        self
    }

    /// The build side, built by the first caller.
    fn build_side(&self, ctx: &Arc<TaskContext>) -> Result<Arc<BuildSide>> {
        self.build
            .get_or_init(|| {
                let start = Instant::now();
                let build = self.build(ctx).map(Arc::new);
                self.metrics.add_elapsed(start.elapsed());
                build
            })
            .clone()
    }

    fn build(&self, ctx: &Arc<TaskContext>) -> Result<BuildSide> {
        let batches = collect(Arc::clone(&self.right), ctx)?;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if rows >= NO_ROW as usize {
            return Err(EngineError::ResourcesExhausted(format!(
                "join build side of {rows} rows"
            )));
        }
        let schema = self.right.schema();
        let threads = ctx.config.target_partitions;
        let row_payload = if rows >= self.row_layout_rows.max(1) {
            BuildRows::try_new(&schema, &batches, threads)?
        } else {
            None
        };
        let (payload, keys) = match row_payload {
            Some(row_payload) => {
                // Only the key columns are concatenated.
                let mut per_batch = Vec::with_capacity(batches.len());
                for batch in &batches {
                    per_batch.push(self.params.keys(batch, |(_, right)| right)?);
                }
                drop(batches);
                let keys = (0..self.params.on.len())
                    .map(|k| {
                        let arrays: Vec<&dyn Array> =
                            per_batch.iter().map(|keys| keys[k].as_ref()).collect();
                        match arrays.as_slice() {
                            [_] => Ok(Arc::clone(&per_batch[0][k])),
                            _ => Ok(concat(&arrays)?),
                        }
                    })
                    .collect::<Result<Vec<ArrayRef>>>()?;
                (Payload::Rows(row_payload), keys)
            }
            None => {
                let batch = concat_columns(&schema, &batches, threads)?;
                drop(batches);
                let keys = self.params.keys(&batch, |(_, right)| right)?;
                (Payload::Columns(BuildColumns::new(batch)), keys)
            }
        };
        // Below this many rows one thread is faster than several starting.
        const PARALLEL_ROWS: usize = 1 << 16;
        let threads = if rows < PARALLEL_ROWS {
            1
        } else {
            threads.max(1)
        };
        let (table, ids) = std::thread::scope(|scope| {
            // Publishing only reads the keys: it overlaps computing their ids.
            let publisher = (threads > 1 && !self.runtime_filters.is_empty()).then(|| {
                scope.spawn(|| {
                    self.runtime_filters.iter().for_each(|f| f.publish(&keys));
                    Ok(())
                })
            });
            if publisher.is_none() {
                self.runtime_filters.iter().for_each(|f| f.publish(&keys));
            }
            let ids = key_ids(&keys, rows, threads);
            publisher.map(join_worker).transpose()?;
            ids
        })?;
        let valid = all_valid(&keys);
        let (heads, mut next, duplicates) =
            link_chains(&ids, valid.as_ref(), table.len(), threads)?;
        drop(ids);
        if !duplicates {
            // Unique keys (a primary key's table): every chain is one row long, and probing
            // need not read a `next` entry per match — with a large build side, a cache miss.
            next = Vec::new();
        }
        let visits = if self.params.marks_keys() {
            heads.len()
        } else if self.params.tracks_right_rows() {
            rows
        } else {
            0
        };
        Ok(BuildSide {
            payload,
            rows,
            keys: table,
            heads,
            next,
            visited: (0..visits.div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
            remaining_probes: AtomicUsize::new(self.left.output_partitions()),
        })
    }
}

/// The key table over the build `keys` and the key id of each of their `rows` rows; a direct
/// table's ids are computed on up to `threads` threads, a share of the rows each.
fn key_ids(keys: &[ArrayRef], rows: usize, threads: usize) -> Result<(KeyTable, Vec<u32>)> {
    if let Some(direct) = DirectKeys::try_new(keys, rows)? {
        let mut ids = vec![0; rows];
        let share = rows.div_ceil(threads).max(1);
        if threads <= 1 {
            direct.slots_into(&keys[0], &mut ids)?;
        } else {
            let direct = &direct;
            std::thread::scope(|scope| {
                let handles: Vec<_> = ids
                    .chunks_mut(share)
                    .enumerate()
                    .map(|(part, out)| {
                        let key = keys[0].slice(part * share, out.len());
                        scope.spawn(move || direct.slots_into(&key, out))
                    })
                    .collect();
                handles.into_iter().try_for_each(join_worker)
            })?;
        }
        return Ok((KeyTable::Direct(direct), ids));
    }
    let key_types: Vec<DataType> = keys.iter().map(|k| k.data_type().clone()).collect();
    let mut table = new_group_values(&key_types)?;
    let mut ids = Vec::with_capacity(rows);
    if keys.is_empty() {
        // No equality condition: every right row shares the one (empty) key.
        ids.resize(rows, 0);
    } else {
        table.intern(keys, &mut ids)?;
    }
    Ok((KeyTable::Hashed(table), ids))
}

/// Chains the build rows by key id: `heads[id]` is the first row with key id `id` and
/// `next[row]` the next row with the same id, both in input order, leaving out rows not
/// `valid` (a NULL key) and ids of [`NO_GROUP`]; also says whether any chain is longer
/// than one row. On several threads each links a range of key ids, walking all the ids:
/// its share of `heads` is its own, and a row's `next` entry is written only by the
/// thread that owns its id.
fn link_chains(
    ids: &[u32],
    valid: Option<&NullBuffer>,
    keys: usize,
    threads: usize,
) -> Result<(Vec<u32>, Vec<u32>, bool)> {
    let mut heads = vec![NO_ROW; keys];
    let next: Vec<AtomicU32> = (0..ids.len()).map(|_| AtomicU32::new(NO_ROW)).collect();
    let share = keys.div_ceil(threads.max(1)).max(1);
    let link = |first: usize, part: &mut [u32]| -> Result<bool> {
        let mut duplicates = false;
        // Walking backwards makes each chain list its rows in input order.
        for (row, &id) in ids.iter().enumerate().rev() {
            let slot = (id as usize).wrapping_sub(first);
            if slot < part.len() && valid.is_none_or(|v| v.is_valid(row)) {
                let head = &mut part[slot];
                duplicates |= *head != NO_ROW;
                next[row].store(*head, Ordering::Relaxed);
                *head = row as u32;
            }
        }
        Ok(duplicates)
    };
    let duplicates = if threads <= 1 || keys <= 1 {
        link(0, &mut heads)?
    } else {
        let link = &link;
        std::thread::scope(|scope| {
            let handles: Vec<_> = heads
                .chunks_mut(share)
                .enumerate()
                .map(|(part, heads)| scope.spawn(move || link(part * share, heads)))
                .collect();
            handles
                .into_iter()
                .map(join_worker)
                .try_fold(false, |any, duplicates| {
                    Ok::<_, EngineError>(any | duplicates?)
                })
        })?
    };
    let next = next.into_iter().map(AtomicU32::into_inner).collect();
    Ok((heads, next, duplicates))
}

/// The build side's key → key id map; a key id indexes [`BuildSide::heads`].
enum KeyTable {
    /// One integer key over a dense range: the id is the value's offset in the range.
    Direct(DirectKeys),
    /// Any keys: ids from the aggregate's type-specialised group table.
    Hashed(Box<dyn GroupValues>),
}

impl KeyTable {
    /// How many key ids exist.
    fn len(&self) -> usize {
        match self {
            KeyTable::Direct(direct) => direct.slots,
            KeyTable::Hashed(table) => table.len(),
        }
    }

    /// Appends the key id of every row of `keys` to `ids`: [`NO_GROUP`] for a key the build
    /// side lacks (a direct table also gives it for NULL keys).
    fn lookup(
        &self,
        keys: &[ArrayRef],
        ids: &mut Vec<u32>,
        cache: &mut GroupLookupCache,
    ) -> Result<()> {
        match self {
            KeyTable::Direct(direct) => direct.slots_of(&keys[0], ids),
            KeyTable::Hashed(table) => table.lookup(keys, ids, cache),
        }
    }
}

/// A "perfect hash" for one integer key whose values span a range not much larger than the
/// build side (surrogate and primary keys: TPC-H's `orderkey`, H2O's `id1`..`id3`): the key
/// id is `value - min`, so building and probing hash nothing and compare no keys, and a
/// probe is one subtraction and one load from `heads`.
struct DirectKeys {
    min: i64,
    /// `max - min + 1`.
    slots: usize,
}

impl DirectKeys {
    /// The range may be at most this many times the build rows: `heads` then costs at most
    /// 32 bytes per build row, about what a hash table over the keys would (TPC-H's orderkeys
    /// use 1 value in 4, and a date filter on orders keeps about half of them).
    const MAX_SLOTS_PER_ROW: usize = 8;
    /// Small builds may always use a direct table.
    const MIN_SLOTS: usize = 1 << 12;

    /// The table for build `keys` of `rows` rows, when they qualify.
    fn try_new(keys: &[ArrayRef], rows: usize) -> Result<Option<DirectKeys>> {
        let [key] = keys else {
            return Ok(None);
        };
        if !is_direct_type(key.data_type()) {
            return Ok(None);
        }
        let bounds = match key.data_type() {
            DataType::Int32 => {
                let values = key.as_primitive::<Int32Type>();
                arrow::compute::min(values)
                    .map(i64::from)
                    .zip(arrow::compute::max(values).map(i64::from))
            }
            _ => {
                let values = cast(key, &DataType::Int64)?;
                let values = values.as_primitive::<Int64Type>();
                arrow::compute::min(values).zip(arrow::compute::max(values))
            }
        };
        let Some((min, max)) = bounds else {
            // Every key NULL (or no rows): nothing can match; the hashed table handles that.
            return Ok(None);
        };
        let slots = (max as i128 - min as i128 + 1) as u128;
        let limit = (rows.saturating_mul(Self::MAX_SLOTS_PER_ROW)).max(Self::MIN_SLOTS);
        if slots > limit as u128 || slots >= NO_GROUP as u128 {
            return Ok(None);
        }
        Ok(Some(DirectKeys {
            min,
            slots: slots as usize,
        }))
    }

    /// Appends the slot of every value of `key`, [`NO_GROUP`] where it is NULL or out of range.
    fn slots_of(&self, key: &ArrayRef, ids: &mut Vec<u32>) -> Result<()> {
        let start = ids.len();
        ids.resize(start + key.len(), 0);
        self.slots_into(key, &mut ids[start..])
    }

    /// [`DirectKeys::slots_of`] into `out`, one slot per value of `key`.
    fn slots_into(&self, key: &ArrayRef, out: &mut [u32]) -> Result<()> {
        if !is_direct_type(key.data_type()) || out.len() != key.len() {
            return Err(EngineError::Internal(format!(
                "direct join key table probed with {} rows of {}",
                key.len(),
                key.data_type()
            )));
        }
        match key.data_type() {
            // The common key types, read without a cast's copy.
            DataType::Int32 => self.typed_slots(key.as_primitive::<Int32Type>(), out),
            DataType::Int64 => self.typed_slots(key.as_primitive::<Int64Type>(), out),
            _ => {
                let values = cast(key, &DataType::Int64)?;
                self.typed_slots(values.as_primitive::<Int64Type>(), out);
            }
        }
        Ok(())
    }

    fn typed_slots<T: ArrowPrimitiveType>(&self, values: &PrimitiveArray<T>, out: &mut [u32])
    where
        T::Native: Into<i64>,
    {
        let (min, slots) = (self.min, self.slots as u64);
        for (slot, &value) in out.iter_mut().zip(values.values().iter()) {
            let offset = value.into().wrapping_sub(min) as u64;
            *slot = if offset < slots {
                offset as u32
            } else {
                NO_GROUP
            };
        }
        if let Some(nulls) = values.logical_nulls().filter(|n| n.null_count() > 0) {
            for row in (0..nulls.len()).filter(|row| nulls.is_null(*row)) {
                out[row] = NO_GROUP;
            }
        }
    }
}

/// Key types a [`DirectKeys`] table holds: integers that convert to `i64` exactly, plain or
/// dictionary-encoded.
fn is_direct_type(data_type: &DataType) -> bool {
    matches!(
        value_type(data_type),
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
    )
}

impl JoinParams {
    /// Whether the join emits right rows after probing, by whether they were matched.
    fn tracks_right_rows(&self) -> bool {
        matches!(
            self.join_type,
            JoinType::Right | JoinType::Full | JoinType::RightSemi | JoinType::RightAnti
        )
    }

    /// Whether the probe marks matched key ids instead of rows: a right semi or anti join
    /// without a residual filter, where every right row of a matched key is matched.
    fn marks_keys(&self) -> bool {
        self.join_type.outputs_right_only() && self.filter.is_none()
    }

    /// One side's key columns of `batch`, cast to the common types where needed.
    fn keys(
        &self,
        batch: &RecordBatch,
        side: impl Fn(&(PhysicalExprRef, PhysicalExprRef)) -> &PhysicalExprRef,
    ) -> Result<Vec<ArrayRef>> {
        self.on
            .iter()
            .zip(&self.key_casts)
            .map(|(pair, cast_to)| {
                let array = side(pair).evaluate(batch)?.into_array(batch.num_rows())?;
                Ok(match cast_to {
                    Some(data_type) if array.data_type() != data_type => cast(&array, data_type)?,
                    _ => array,
                })
            })
            .collect()
    }

    /// Left rows `probe` next to right rows `build` (a NULL index gives NULLs), in the pairs
    /// schema. `left_rows` says how the probe indices run, so the left side can be a
    /// zero-copy slice or a filter instead of a gather.
    fn pairs(
        &self,
        left: &RecordBatch,
        left_rows: LeftRows<'_>,
        right: &BuildSide,
        build: &UInt32Array,
    ) -> Result<RecordBatch> {
        let mut columns = Vec::with_capacity(self.pairs_schema.fields().len());
        match left_rows {
            LeftRows::Slice { start, len } => {
                columns.extend(left.slice(start, len).columns().iter().cloned());
            }
            LeftRows::Filter { start, len, keep } => {
                let slice = left.slice(start, len);
                columns.extend(filter_record_batch(&slice, keep)?.columns().iter().cloned());
            }
            LeftRows::Take(probe) => {
                for column in left.columns() {
                    columns.push(take(column.as_ref(), probe, None)?);
                }
            }
        }
        columns.extend(right.gather(build)?);
        let options = RecordBatchOptions::new().with_row_count(Some(build.len()));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.pairs_schema),
            columns,
            &options,
        )?)
    }

    /// Which pairs pass the residual filter (TRUE only).
    fn passing(&self, pairs: &RecordBatch) -> Result<Option<BooleanArray>> {
        let Some(filter) = &self.filter else {
            return Ok(None);
        };
        let result = filter.evaluate(pairs)?.into_array(pairs.num_rows())?;
        let Some(result) = result.as_any().downcast_ref::<BooleanArray>() else {
            return Err(EngineError::Plan(format!(
                "join filter must be boolean, not {}",
                result.data_type()
            )));
        };
        // TRUE only: a NULL outcome does not pass.
        Ok(Some(if result.null_count() > 0 {
            prep_null_mask_filter(result)
        } else {
            result.clone()
        }))
    }

    /// A batch of pairs relabelled with the output schema.
    fn output(&self, pairs: RecordBatch) -> Result<RecordBatch> {
        let rows = pairs.num_rows();
        self.emit(pairs.columns(), rows)
    }

    /// The output batch of `rows` rows from all the join's columns (before the embedded
    /// projection): the projected ones, under the output schema.
    fn emit(&self, columns: &[ArrayRef], rows: usize) -> Result<RecordBatch> {
        let columns = match &self.projection {
            None => columns.to_vec(),
            Some(projection) => projection
                .iter()
                .map(|&c| {
                    columns.get(c).cloned().ok_or_else(|| {
                        EngineError::Internal(format!("join projection column {c} is missing"))
                    })
                })
                .collect::<Result<_>>()?,
        };
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            columns,
            &options,
        )?)
    }

    /// Each output column's source: a left column, or a right column (index into the right
    /// input's columns).
    fn output_sources(&self, left_width: usize) -> Vec<Source> {
        let source = |c: usize| {
            if c < left_width {
                Source::Left(c)
            } else {
                Source::Right(c - left_width)
            }
        };
        match &self.projection {
            Some(projection) => projection.iter().map(|&c| source(c)).collect(),
            None => (0..self.schema.fields().len()).map(source).collect(),
        }
    }
}

/// Where an output column of an inner or outer join comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    Left(usize),
    Right(usize),
}

/// Which left rows a chunk of pairs holds, in order.
enum LeftRows<'a> {
    /// Every row of `start..start + len`, once each (a left join, or an inner join in which
    /// every row matched once): the left columns are sliced, not copied.
    Slice { start: usize, len: usize },
    /// The rows of `start..start + len` where `keep` is true, once each (the many-to-one case
    /// of an inner join): a filter copies runs instead of gathering row by row.
    Filter {
        start: usize,
        len: usize,
        keep: &'a BooleanArray,
    },
    /// Any rows, repeated or not.
    Take(&'a UInt32Array),
}

/// The left rows of a chunk that have a partner in `partners` (each left row's build row),
/// `matched` of them, as one filter predicate for every left column, and their build rows.
/// At nine rows in ten the filter copies runs of matched rows (one `memcpy` per run).
/// Measured against the alternatives (8192 rows, H2O's columns): for integers it beats a
/// gather by position (0.27 against 0.31 ns a row) and a run-by-run kernel of our own; for
/// strings a kernel of our own copies faster but must then validate its UTF-8, which costs
/// more than it saves (see `selection.rs`).
fn matched_left_rows(partners: &[u32], matched: usize) -> (FilterPredicate, UInt32Array) {
    let mut build = Vec::with_capacity(matched);
    build.extend(partners.iter().copied().filter(|&p| p != NO_ROW));
    let mask = BooleanBuffer::collect_bool(partners.len(), |i| partners[i] != NO_ROW);
    let predicate = FilterBuilder::new(&BooleanArray::new(mask, None))
        .optimize()
        .build();
    (predicate, UInt32Array::from(build))
}

/// Right row indices with [`NO_ROW`] as NULL (a left row without a match).
fn build_indices(mut rows: Vec<u32>) -> UInt32Array {
    if !rows.contains(&NO_ROW) {
        return UInt32Array::from(rows);
    }
    let valid = NullBuffer::from_iter(rows.iter().map(|r| *r != NO_ROW));
    for r in &mut rows {
        if *r == NO_ROW {
            *r = 0;
        }
    }
    UInt32Array::new(rows.into(), Some(valid))
}

/// The rows where every key column is non-NULL, or `None` when all are.
fn all_valid(keys: &[ArrayRef]) -> Option<NullBuffer> {
    keys.iter()
        .fold(None, |acc: Option<NullBuffer>, key| {
            NullBuffer::union(acc.as_ref(), key.logical_nulls().as_ref())
        })
        .filter(|n| n.null_count() > 0)
}

/// `batches` as one batch. A large build side's columns are concatenated on up to `threads`
/// threads, a share of the columns each: copying them is most of a big build's time.
fn concat_columns(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    threads: usize,
) -> Result<RecordBatch> {
    /// Below this many rows one thread copies faster than two start.
    const PARALLEL_ROWS: usize = 1 << 16;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let width = schema.fields().len();
    let threads = threads.min(width);
    if threads <= 1 || batches.len() <= 1 || rows < PARALLEL_ROWS {
        return Ok(concat_batches(schema, batches)?);
    }
    // On worker threads: the copies outlive this call, and a parked thread's arena keeps the
    // pages for the next query's copies.
    let batches = Arc::new(batches.to_vec());
    let shares: Vec<Vec<(usize, ArrayRef)>> = crate::workers::run_all(
        (0..threads)
            .map(|thread| {
                let batches = Arc::clone(&batches);
                move || -> Result<Vec<(usize, ArrayRef)>> {
                    (thread..width)
                        .step_by(threads)
                        .map(|column| {
                            let arrays: Vec<&dyn Array> =
                                batches.iter().map(|b| b.column(column).as_ref()).collect();
                            Ok((column, concat(&arrays)?))
                        })
                        .collect()
                }
            })
            .collect(),
    )?;
    let mut columns: Vec<Option<ArrayRef>> = vec![None; width];
    for (column, array) in shares.into_iter().flatten() {
        columns[column] = Some(array);
    }
    let columns = columns
        .into_iter()
        .map(|c| c.ok_or_else(|| EngineError::Internal("a build column was not copied".into())))
        .collect::<Result<Vec<_>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &options,
    )?)
}

/// Streams one left partition through the build side.
struct ProbeStream {
    left: BatchIter,
    build: Arc<BuildSide>,
    params: Arc<JoinParams>,
    metrics: Arc<OperatorMetrics>,
    batch_size: usize,
    cache: GroupLookupCache,
    /// Right rows this stream matched (RIGHT/FULL joins), merged into the shared bitmap when
    /// the left input ends.
    visited: Vec<u64>,
    ready: VecDeque<RecordBatch>,
    left_done: bool,
}

impl ProbeStream {
    fn probe(&mut self, left: &RecordBatch) -> Result<()> {
        let keys = self.params.keys(left, |(l, _)| l)?;
        let mut ids = Vec::with_capacity(left.num_rows());
        // A handle of our own, so `self` stays free for pushing output.
        let side = Arc::clone(&self.build);
        if keys.is_empty() {
            ids.resize(left.num_rows(), 0);
        } else {
            side.keys.lookup(&keys, &mut ids, &mut self.cache)?;
        }
        let heads = &side.heads;
        let first = |id: u32| {
            if id == NO_GROUP {
                NO_ROW
            } else {
                heads[id as usize]
            }
        };
        let join_type = self.params.join_type;
        if side.next.is_empty()
            && self.params.filter.is_none()
            && matches!(
                join_type,
                JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full
            )
        {
            return self.probe_unique(left, &ids, &side);
        }
        if self.params.marks_keys() {
            for &id in &ids {
                if id != NO_GROUP {
                    if let Some(word) = self.visited.get_mut(id as usize / 64) {
                        *word |= 1 << (id % 64);
                    }
                }
            }
            return Ok(());
        }
        if self.params.filter.is_none() && join_type.outputs_left_only() {
            // Without a filter a key match is a match: no pairs needed.
            let keep: BooleanArray = ids
                .iter()
                .map(|&id| Some((first(id) != NO_ROW) == (join_type != JoinType::LeftAnti)))
                .collect();
            return self.finish_left_only(left, keep);
        }
        let keeps_unmatched_left = matches!(join_type, JoinType::Left | JoinType::Full);
        // Left rows that found a passing match: needed by semi, anti and mark joins, and by
        // LEFT/FULL joins whose filter can reject every candidate of a row.
        let tracks_matches =
            join_type.outputs_left_only() || (keeps_unmatched_left && self.params.filter.is_some());
        let mut matched = vec![false; if tracks_matches { left.num_rows() } else { 0 }];
        // A right semi or anti join only asks whether a build row has some passing partner:
        // the build rows this stream has matched already need no more pairs.
        let skips_matched_right = join_type.outputs_right_only();
        // The next left row to pair, and where its chain resumes when a chunk ended inside
        // it (`NO_ROW`: start from the chain's head).
        let (mut row, mut resume) = (0, NO_ROW);
        // Left rows before this one have been checked for LEFT/FULL padding.
        let mut padded_until = 0;
        while row < ids.len() {
            // One chunk of at most `batch_size` pairs. A long chain may continue in the next
            // chunk, so whether a row matched is only final once `row` has moved past it.
            // Sized for the common many-to-one case: about one pair per left row.
            let capacity = self.batch_size.min(ids.len() - row);
            let (mut probe, mut build) =
                (Vec::with_capacity(capacity), Vec::with_capacity(capacity));
            let chunk_start = row;
            // Whether every left row of the chunk produced at most one pair: then the probe
            // indices are increasing and the left side needs no gather.
            let mut at_most_once = true;
            while row < ids.len() && probe.len() < self.batch_size {
                let mut right = if resume != NO_ROW {
                    std::mem::replace(&mut resume, NO_ROW)
                } else {
                    let head = first(ids[row]);
                    if head == NO_ROW && keeps_unmatched_left && self.params.filter.is_none() {
                        probe.push(row as u32);
                        build.push(NO_ROW);
                    }
                    head
                };
                let pairs_before = probe.len();
                while right != NO_ROW && probe.len() < self.batch_size {
                    let settled = skips_matched_right
                        && self
                            .visited
                            .get(right as usize / 64)
                            .is_some_and(|word| word & (1 << (right % 64)) != 0);
                    if !settled {
                        probe.push(row as u32);
                        build.push(right);
                    }
                    right = side.next.get(right as usize).copied().unwrap_or(NO_ROW);
                }
                at_most_once &= probe.len() - pairs_before <= 1;
                if right != NO_ROW {
                    // The chunk is full in the middle of this row's chain.
                    resume = right;
                    at_most_once = false;
                    break;
                }
                row += 1;
            }
            let chunk_len = row - chunk_start;
            let probe = UInt32Array::from(probe);
            let build = build_indices(build);
            let keep: BooleanArray;
            let left_rows = if !at_most_once {
                LeftRows::Take(&probe)
            } else if probe.len() == chunk_len {
                LeftRows::Slice {
                    start: chunk_start,
                    len: chunk_len,
                }
            } else {
                let mut rows = vec![false; chunk_len];
                for &r in probe.values() {
                    rows[r as usize - chunk_start] = true;
                }
                keep = BooleanArray::from(rows);
                LeftRows::Filter {
                    start: chunk_start,
                    len: chunk_len,
                    keep: &keep,
                }
            };
            let pairs = self.params.pairs(left, left_rows, &side, &build)?;
            let (pairs, probe, build) = match self.params.passing(&pairs)? {
                None => (pairs, probe, build),
                Some(passing) => (
                    filter_record_batch(&pairs, &passing)?,
                    arrow::compute::filter(&probe, &passing)?
                        .as_primitive::<UInt32Type>()
                        .clone(),
                    arrow::compute::filter(&build, &passing)?
                        .as_primitive::<UInt32Type>()
                        .clone(),
                ),
            };
            if !self.visited.is_empty() {
                for right in build.iter().flatten() {
                    if let Some(word) = self.visited.get_mut(right as usize / 64) {
                        *word |= 1 << (right % 64);
                    }
                }
            }
            if tracks_matches {
                for (left_row, right) in probe.values().iter().zip(build.iter()) {
                    if right.is_some() {
                        matched[*left_row as usize] = true;
                    }
                }
            }
            match join_type {
                JoinType::Inner | JoinType::Right => self.push(self.params.output(pairs)?)?,
                JoinType::Left | JoinType::Full => {
                    self.push(self.params.output(pairs)?)?;
                    if self.params.filter.is_some() {
                        // Finished left rows whose candidates all failed the filter.
                        let unmatched: UInt32Array = (padded_until..row)
                            .filter(|r| !matched[*r])
                            .map(|r| r as u32)
                            .collect();
                        padded_until = row;
                        if !unmatched.is_empty() {
                            let nulls = UInt32Array::new_null(unmatched.len());
                            let padded = self.params.pairs(
                                left,
                                LeftRows::Take(&unmatched),
                                &side,
                                &nulls,
                            )?;
                            self.push(self.params.output(padded)?)?;
                        }
                    }
                }
                JoinType::LeftSemi
                | JoinType::LeftAnti
                | JoinType::LeftMark
                | JoinType::RightSemi
                | JoinType::RightAnti => {}
            }
        }
        if join_type.outputs_left_only() {
            let anti = join_type == JoinType::LeftAnti;
            let keep: BooleanArray = matched.iter().map(|m| Some(*m != anti)).collect();
            self.finish_left_only(left, keep)?;
        }
        Ok(())
    }

    /// The probe of an inner or outer join without a residual filter over unique build keys:
    /// each left row has at most one partner, so the output follows the left rows in order.
    /// A chunk whose rows all matched (or a LEFT/FULL join's chunk, which keeps every row)
    /// slices the left columns without copying; otherwise one filter predicate, computed
    /// once, selects the matched rows of every left column. The right columns are gathered
    /// once per output batch.
    fn probe_unique(&mut self, left: &RecordBatch, ids: &[u32], side: &BuildSide) -> Result<()> {
        let heads = &side.heads;
        // NO_GROUP is past the end of `heads`: a missing key and an absent id agree.
        let partners: Vec<u32> = ids
            .iter()
            .map(|&id| heads.get(id as usize).copied().unwrap_or(NO_ROW))
            .collect();
        let keeps_unmatched_left = matches!(self.params.join_type, JoinType::Left | JoinType::Full);
        let sources = self.params.output_sources(left.num_columns());
        let mut wanted = vec![false; side.width()];
        for source in &sources {
            if let Source::Right(c) = *source {
                if let Some(w) = wanted.get_mut(c) {
                    *w = true;
                }
            }
        }
        let mut start = 0;
        while start < partners.len() {
            let len = self.batch_size.min(partners.len() - start);
            let chunk = &partners[start..start + len];
            let matched = chunk.iter().filter(|&&r| r != NO_ROW).count();
            if !self.visited.is_empty() {
                for &right in chunk.iter().filter(|&&r| r != NO_ROW) {
                    if let Some(word) = self.visited.get_mut(right as usize / 64) {
                        *word |= 1 << (right % 64);
                    }
                }
            }
            let left_chunk = left.slice(start, len);
            let (build, selection) = if matched == len {
                (UInt32Array::from(chunk.to_vec()), None)
            } else if keeps_unmatched_left {
                (build_indices(chunk.to_vec()), None)
            } else if matched == 0 {
                start += len;
                continue;
            } else {
                let (selection, build) = matched_left_rows(chunk, matched);
                (build, Some(selection))
            };
            let right = side.gather_wanted(&build, &wanted)?;
            let columns = sources
                .iter()
                .map(|source| match *source {
                    Source::Left(c) => match &selection {
                        None => Ok(Arc::clone(left_chunk.column(c))),
                        Some(selection) => Ok(selection.filter(left_chunk.column(c))?),
                    },
                    Source::Right(c) => right.get(c).cloned().flatten().ok_or_else(|| {
                        EngineError::Internal(format!("build column {c} is missing"))
                    }),
                })
                .collect::<Result<Vec<ArrayRef>>>()?;
            let options = RecordBatchOptions::new().with_row_count(Some(build.len()));
            let batch = RecordBatch::try_new_with_options(
                Arc::clone(&self.params.schema),
                columns,
                &options,
            )?;
            self.push(batch)?;
            start += len;
        }
        Ok(())
    }

    /// The output of a semi, anti or mark join for one left batch, given whether each row
    /// is kept (semi, anti) or matched (mark): the kept rows, or every row with its mark.
    fn finish_left_only(&mut self, left: &RecordBatch, keep: BooleanArray) -> Result<()> {
        if self.params.join_type != JoinType::LeftMark {
            // The columns are the left's: project first, so only the kept ones are filtered.
            let projected = self.params.emit(left.columns(), left.num_rows())?;
            return self.push(filter_record_batch(&projected, &keep)?);
        }
        let mut columns = left.columns().to_vec();
        columns.push(Arc::new(keep));
        let batch = self.params.emit(&columns, left.num_rows())?;
        self.push(batch)
    }

    fn push(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() > 0 {
            self.ready.push_back(batch);
        }
        Ok(())
    }

    /// Called once when the left input ends: publishes this stream's visits and, if it is the
    /// last stream, emits the right rows no stream matched (or, for a right semi join, those
    /// some stream matched).
    fn finish_left(&mut self) -> Result<()> {
        if !self.params.tracks_right_rows() {
            return Ok(());
        }
        for (shared, mine) in self.build.visited.iter().zip(&self.visited) {
            if *mine != 0 {
                shared.fetch_or(*mine, Ordering::Relaxed);
            }
        }
        // AcqRel: the last stream sees every other stream's visits.
        if self.build.remaining_probes.fetch_sub(1, Ordering::AcqRel) != 1 {
            return Ok(());
        }
        let matched = self.matched_right_rows();
        let wanted = self.params.join_type == JoinType::RightSemi;
        let emitted: Vec<u32> = (0..self.build.rows as u32)
            .filter(|&r| (matched[r as usize / 64] & (1 << (r % 64)) != 0) == wanted)
            .collect();
        let right_only = self.params.join_type.outputs_right_only();
        for chunk in emitted.chunks(self.batch_size) {
            let indices = UInt32Array::from(chunk.to_vec());
            let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.params.schema.fields().len());
            if !right_only {
                columns.extend(
                    self.params
                        .left_schema
                        .fields()
                        .iter()
                        .map(|f| new_null_array(f.data_type(), chunk.len())),
                );
            }
            columns.extend(self.build.gather(&indices)?);
            let batch = self.params.emit(&columns, chunk.len())?;
            self.push(batch)?;
        }
        Ok(())
    }

    /// The bitmap of right rows any stream matched, once every stream has published its
    /// visits: the shared bitmap itself, or for marked key ids the rows of their chains.
    fn matched_right_rows(&self) -> Vec<u64> {
        let shared = self
            .build
            .visited
            .iter()
            .map(|word| word.load(Ordering::Relaxed));
        if !self.params.marks_keys() {
            return shared.collect();
        }
        let mut rows = vec![0u64; self.build.rows.div_ceil(64)];
        for (word_index, mut word) in shared.enumerate() {
            while word != 0 {
                let key = word_index * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                let mut row = self.build.heads.get(key).copied().unwrap_or(NO_ROW);
                while row != NO_ROW {
                    rows[row as usize / 64] |= 1 << (row % 64);
                    row = self.build.next.get(row as usize).copied().unwrap_or(NO_ROW);
                }
            }
        }
        rows
    }
}

impl Iterator for ProbeStream {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(batch) = self.ready.pop_front() {
                self.metrics.record_batch(batch.num_rows());
                return Some(Ok(batch));
            }
            if self.left_done {
                return None;
            }
            let next = self.left.next();
            // Timed after the pull, so the left input's own time is not counted here.
            let start = Instant::now();
            let step = match next {
                Some(Ok(batch)) => self.probe(&batch),
                Some(Err(e)) => Err(e),
                None => {
                    self.left_done = true;
                    self.finish_left()
                }
            };
            self.metrics.add_elapsed(start.elapsed());
            if let Err(e) = step {
                self.left_done = true;
                self.ready.clear();
                return Some(Err(e));
            }
        }
    }
}

impl ExecutionPlan for HashJoinExec {
    fn name(&self) -> &'static str {
        "HashJoinExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.params.schema)
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.left, &self.right]
    }

    fn output_partitions(&self) -> usize {
        self.left.output_partitions()
    }

    fn execute(&self, partition: usize, ctx: &Arc<TaskContext>) -> Result<BatchIter> {
        let build = self.build_side(ctx)?;
        let left = self.left.execute(partition, ctx)?;
        let visited = if build.visited.is_empty() {
            Vec::new()
        } else {
            vec![0; build.visited.len()]
        };
        Ok(Box::new(ProbeStream {
            left,
            build,
            params: Arc::clone(&self.params),
            metrics: Arc::clone(&self.metrics),
            batch_size: ctx.config.batch_size.max(1),
            cache: GroupLookupCache::default(),
            visited,
            ready: VecDeque::new(),
            left_done: false,
        }))
    }

    fn describe(&self) -> String {
        let on: Vec<String> = self
            .params
            .on
            .iter()
            .map(|(l, r)| format!("{l} = {r}"))
            .collect();
        let mut text = format!(
            "HashJoinExec: {}, on=[{}]",
            self.params.join_type.sql(),
            on.join(", ")
        );
        if let Some(filter) = &self.params.filter {
            text.push_str(&format!(", filter={filter}"));
        }
        if let Some(projection) = &self.params.projection {
            let joined = self.params.join_schema.fields();
            let columns: Vec<String> = projection
                .iter()
                .zip(self.params.schema.fields())
                .map(|(&c, field)| {
                    let from = joined.get(c).map_or("?", |f| f.name().as_str());
                    if from == field.name() {
                        format!("{from}@{c}")
                    } else {
                        format!("{from}@{c} AS {}", field.name())
                    }
                })
                .collect();
            text.push_str(&format!(", projection=[{}]", columns.join(", ")));
        }
        text
    }

    fn metrics(&self) -> Option<&OperatorMetrics> {
        Some(&self.metrics)
    }
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use arrow::array::{DictionaryArray, Int32Array, Int64Array, StringArray};
    use arrow::datatypes::Int32Type;
    use arrow::util::display::array_value_to_string;

    use super::*;
    use crate::execution::SessionConfig;
    use crate::physical_expr::{ColumnarValue, PhysicalExpr};
    use crate::physical_plan::collect;
    use crate::physical_plan::hash_aggregate::tests::{col, MemorySourceExec};

    /// `column[left] < column[right]` over the pairs batch: the residual filter of the tests
    /// (the general expression evaluator is not needed for it).
    #[derive(Debug)]
    struct Less(usize, usize);

    impl fmt::Display for Less {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "#{} < #{}", self.0, self.1)
        }
    }

    impl PhysicalExpr for Less {
        fn data_type(&self) -> DataType {
            DataType::Boolean
        }
        fn nullable(&self) -> bool {
            true
        }
        fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
            let result =
                arrow::compute::kernels::cmp::lt(batch.column(self.0), batch.column(self.1))?;
            Ok(ColumnarValue::Array(Arc::new(result)))
        }
    }

    /// One test row: two key columns and a value.
    type Row = (Option<i64>, Option<&'static str>, i64);

    fn left_rows() -> Vec<Row> {
        vec![
            (Some(1), Some("a"), 10),
            (Some(1), Some("a"), 11),
            (Some(2), Some("b"), 12),
            (Some(3), Some("c"), 13),
            (None, Some("a"), 14),
            (Some(1), None, 15),
            (Some(4), Some("d"), 16),
            (Some(2), Some("x"), 17),
        ]
    }

    fn right_rows() -> Vec<Row> {
        vec![
            (Some(1), Some("a"), 5),
            (Some(1), Some("a"), 20),
            (Some(2), Some("b"), 30),
            (Some(3), Some("z"), 40),
            (None, Some("a"), 50),
            (Some(1), None, 60),
            (Some(5), Some("e"), 70),
            (Some(2), Some("b"), 1),
        ]
    }

    /// Left: k1 Int32, k2 Utf8, v Int64. Right: k1 Int64, k2 Dictionary, w Int64 — so the
    /// keys need casting (Int32 vs Int64) and dictionary-aware lookups.
    fn left_batch(rows: &[Row]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("lk1", DataType::Int32, true),
            Field::new("lk2", DataType::Utf8, true),
            Field::new("v", DataType::Int64, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(
                    rows.iter()
                        .map(|r| r.0.map(|k| k as i32))
                        .collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap()
    }

    fn right_batch(rows: &[Row]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("rk1", DataType::Int64, true),
            Field::new(
                "rk2",
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                true,
            ),
            Field::new("w", DataType::Int64, false),
        ]));
        let k2: DictionaryArray<Int32Type> = rows.iter().map(|r| r.1).collect();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                )),
                Arc::new(k2),
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap()
    }

    fn text(value: Option<impl ToString>) -> String {
        value.map(|v| v.to_string()).unwrap_or_default()
    }

    fn row_text(row: Option<&Row>) -> Vec<String> {
        match row {
            Some(r) => vec![text(r.0), text(r.1), r.2.to_string()],
            None => vec![String::new(); 3],
        }
    }

    /// The join by nested loops, for comparison.
    fn reference(
        left: &[Row],
        right: &[Row],
        join_type: JoinType,
        keys: usize,
        filter: bool,
    ) -> Vec<Vec<String>> {
        let matches = |l: &Row, r: &Row| {
            let first = keys < 1 || (l.0.is_some() && l.0 == r.0);
            let second = keys < 2 || (l.1.is_some() && l.1 == r.1);
            first && second && (!filter || l.2 < r.2)
        };
        let mut out = Vec::new();
        for l in left {
            let partners: Vec<&Row> = right.iter().filter(|r| matches(l, r)).collect();
            match join_type {
                JoinType::LeftSemi if !partners.is_empty() => out.push(row_text(Some(l))),
                JoinType::LeftAnti if partners.is_empty() => out.push(row_text(Some(l))),
                JoinType::LeftSemi
                | JoinType::LeftAnti
                | JoinType::RightSemi
                | JoinType::RightAnti => {}
                JoinType::LeftMark => {
                    let mark = if partners.is_empty() { "false" } else { "true" };
                    out.push([row_text(Some(l)), vec![mark.to_string()]].concat());
                }
                _ => {
                    for r in &partners {
                        out.push([row_text(Some(l)), row_text(Some(r))].concat());
                    }
                    if partners.is_empty() && matches!(join_type, JoinType::Left | JoinType::Full) {
                        out.push([row_text(Some(l)), row_text(None)].concat());
                    }
                }
            }
        }
        if matches!(join_type, JoinType::Right | JoinType::Full) {
            for r in right {
                if !left.iter().any(|l| matches(l, r)) {
                    out.push([row_text(None), row_text(Some(r))].concat());
                }
            }
        }
        if join_type.outputs_right_only() {
            let anti = join_type == JoinType::RightAnti;
            for r in right {
                if left.iter().any(|l| matches(l, r)) != anti {
                    out.push(row_text(Some(r)));
                }
            }
        }
        out.sort();
        out
    }

    fn output_schema(left: &SchemaRef, right: &SchemaRef, join_type: JoinType) -> SchemaRef {
        let nullable =
            |f: &Arc<Field>, all: bool| f.as_ref().clone().with_nullable(all || f.is_nullable());
        let left_nullable = matches!(join_type, JoinType::Right | JoinType::Full);
        let right_nullable = matches!(join_type, JoinType::Left | JoinType::Full);
        let mut fields: Vec<Field> = left
            .fields()
            .iter()
            .map(|f| nullable(f, left_nullable))
            .collect();
        if join_type.outputs_right_only() {
            fields.clear();
        }
        match join_type {
            JoinType::LeftSemi | JoinType::LeftAnti => {}
            JoinType::LeftMark => fields.push(Field::new("mark", DataType::Boolean, false)),
            JoinType::RightSemi | JoinType::RightAnti => {
                fields.extend(right.fields().iter().map(|f| f.as_ref().clone()));
            }
            _ => fields.extend(right.fields().iter().map(|f| nullable(f, right_nullable))),
        }
        Arc::new(Schema::new(fields))
    }

    /// How a test join's inputs are cut and run.
    struct Layout {
        left_partitions: usize,
        right_partitions: usize,
        batch_size: usize,
        left_batch_rows: usize,
        right_batch_rows: usize,
        threads: usize,
    }

    /// `rows` of `all` cut into batches of `per_batch` rows.
    fn cut(all: &RecordBatch, per_batch: usize) -> Vec<RecordBatch> {
        (0..all.num_rows())
            .step_by(per_batch)
            .map(|i| all.slice(i, per_batch.min(all.num_rows() - i)))
            .collect()
    }

    /// Runs the hash join: left rows dealt one per batch into `left_partitions`, right rows
    /// two per batch into `right_partitions`.
    fn run_join(
        left: &[Row],
        right: &[Row],
        join_type: JoinType,
        keys: usize,
        filter: bool,
        left_partitions: usize,
        right_partitions: usize,
        batch_size: usize,
    ) -> Vec<Vec<String>> {
        let layout = Layout {
            left_partitions,
            right_partitions,
            batch_size,
            left_batch_rows: 1,
            right_batch_rows: 2,
            threads: 2,
        };
        run_join_in(left, right, join_type, keys, filter, &layout)
    }

    /// Runs the hash join with its inputs cut and dealt as `layout` says, its build side
    /// stored as columns and then as rows: both must give the same rows.
    fn run_join_in(
        left: &[Row],
        right: &[Row],
        join_type: JoinType,
        keys: usize,
        filter: bool,
        layout: &Layout,
    ) -> Vec<Vec<String>> {
        let columns = run_projected_join(
            left,
            right,
            join_type,
            keys,
            filter,
            layout,
            None,
            usize::MAX,
        );
        let rows = run_projected_join(left, right, join_type, keys, filter, layout, None, 1);
        assert_eq!(columns, rows, "build stored as rows, {join_type:?}");
        columns
    }

    /// Runs the hash join as [`run_join_in`] does, outputting only the join's columns at
    /// `projection` (renamed `p0`, `p1`, ...) when given, with build sides of at least
    /// `row_layout_rows` rows stored as rows.
    #[allow(clippy::too_many_arguments)]
    fn run_projected_join(
        left: &[Row],
        right: &[Row],
        join_type: JoinType,
        keys: usize,
        filter: bool,
        layout: &Layout,
        projection: Option<&[usize]>,
        row_layout_rows: usize,
    ) -> Vec<Vec<String>> {
        let Layout {
            left_partitions,
            right_partitions,
            batch_size,
            ..
        } = *layout;
        let left_all = left_batch(left);
        let right_all = right_batch(right);
        let (left_schema, right_schema) = (left_all.schema(), right_all.schema());
        let left_batches = cut(&left_all, layout.left_batch_rows);
        let right_batches = cut(&right_all, layout.right_batch_rows);
        let left_source =
            MemorySourceExec::new(Arc::clone(&left_schema), left_batches, left_partitions);
        let right_source =
            MemorySourceExec::new(Arc::clone(&right_schema), right_batches, right_partitions);
        let on = [
            (col("lk1", &left_schema), col("rk1", &right_schema)),
            (col("lk2", &left_schema), col("rk2", &right_schema)),
        ][..keys]
            .to_vec();
        let filter: Option<PhysicalExprRef> =
            filter.then(|| Arc::new(Less(2, 5)) as PhysicalExprRef);
        let mut schema = output_schema(&left_schema, &right_schema, join_type);
        let mut join = HashJoinExec::try_new(
            left_source,
            right_source,
            on,
            filter,
            join_type,
            Arc::clone(&schema),
        )
        .unwrap()
        .with_row_layout_from(row_layout_rows);
        if let Some(projection) = projection {
            let fields: Vec<Field> = projection
                .iter()
                .enumerate()
                .map(|(i, &c)| schema.field(c).clone().with_name(format!("p{i}")))
                .collect();
            schema = Arc::new(Schema::new(fields));
            join = join
                .with_projection(projection.to_vec(), Arc::clone(&schema))
                .unwrap();
        }
        let join = Arc::new(join);
        assert_eq!(join.output_partitions(), left_partitions);
        let mut config = SessionConfig::new().with_target_partitions(layout.threads);
        config.batch_size = batch_size;
        let batches = collect(join, &TaskContext::new(config)).unwrap();
        let mut out = Vec::new();
        for batch in &batches {
            assert_eq!(batch.schema(), schema);
            assert!(batch.num_rows() <= batch_size, "{} rows", batch.num_rows());
            for row in 0..batch.num_rows() {
                out.push(
                    batch
                        .columns()
                        .iter()
                        .map(|c| array_value_to_string(c, row).unwrap())
                        .collect(),
                );
            }
        }
        out.sort();
        out
    }

    const ALL: [JoinType; 9] = [
        JoinType::Inner,
        JoinType::Left,
        JoinType::Right,
        JoinType::Full,
        JoinType::LeftSemi,
        JoinType::LeftAnti,
        JoinType::LeftMark,
        JoinType::RightSemi,
        JoinType::RightAnti,
    ];

    #[test]
    fn every_join_type_against_nested_loops() {
        let (left, right) = (left_rows(), right_rows());
        for join_type in ALL {
            for keys in [0, 1, 2] {
                for filter in [false, true] {
                    let expected = reference(&left, &right, join_type, keys, filter);
                    for (left_partitions, right_partitions, batch_size) in
                        [(1, 1, 8192), (3, 2, 8192), (2, 3, 2), (4, 1, 1)]
                    {
                        let got = run_join(
                            &left,
                            &right,
                            join_type,
                            keys,
                            filter,
                            left_partitions,
                            right_partitions,
                            batch_size,
                        );
                        assert_eq!(
                            got, expected,
                            "{join_type:?}, {keys} keys, filter {filter}, \
                             partitions {left_partitions}/{right_partitions}, batch {batch_size}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn hand_checked_inner_join_with_duplicates_and_nulls() {
        let got = run_join(
            &left_rows(),
            &right_rows(),
            JoinType::Inner,
            2,
            false,
            2,
            2,
            8192,
        );
        // (1, a) twice on each side: four pairs; (2, b) once left, twice right: two pairs.
        // NULL keys match nothing.
        assert_eq!(got.len(), 6);
        assert_eq!(got.iter().filter(|r| r[0] == "1").count(), 4);
        assert_eq!(got.iter().filter(|r| r[0] == "2").count(), 2);
        let anti = run_join(
            &left_rows(),
            &right_rows(),
            JoinType::LeftAnti,
            2,
            false,
            1,
            1,
            8192,
        );
        let mut anti_values: Vec<&str> = anti.iter().map(|r| r[2].as_str()).collect();
        anti_values.sort();
        assert_eq!(anti_values, vec!["13", "14", "15", "16", "17"]);
    }

    #[test]
    fn hand_checked_right_semi_and_anti_joins() {
        let values = |join_type, filter| {
            let rows = run_join(&left_rows(), &right_rows(), join_type, 2, filter, 3, 2, 2);
            let mut values: Vec<i64> = rows.iter().map(|r| r[2].parse().unwrap()).collect();
            values.sort();
            values
        };
        // (1, a) and (2, b) are on both sides, each twice on the right: four right rows
        // match, duplicates included; NULL keys never match, so the anti join keeps them.
        assert_eq!(values(JoinType::RightSemi, false), vec![1, 5, 20, 30]);
        assert_eq!(values(JoinType::RightAnti, false), vec![40, 50, 60, 70]);
        // With `left.v < right.w` only w = 20 (10 < 20) and w = 30 (12 < 30) have a partner.
        assert_eq!(values(JoinType::RightSemi, true), vec![20, 30]);
        assert_eq!(
            values(JoinType::RightAnti, true),
            vec![1, 5, 40, 50, 60, 70]
        );
    }

    #[test]
    fn empty_sides() {
        let (left, right) = (left_rows(), right_rows());
        for join_type in ALL {
            // An empty right side: every left row is unmatched.
            let expected = reference(&left, &[], join_type, 2, false);
            let got = run_join(&left, &[], join_type, 2, false, 2, 1, 8192);
            assert_eq!(got, expected, "{join_type:?} with an empty right side");
            // An empty left side: only RIGHT/FULL/RIGHT ANTI produce (unmatched right) rows.
            let expected = reference(&[], &right, join_type, 2, false);
            let got = run_join(&[], &right, join_type, 2, false, 1, 2, 8192);
            assert_eq!(got, expected, "{join_type:?} with an empty left side");
        }
    }

    /// A right semi or anti join stops pairing a build row once this stream matched it: many
    /// probe rows per build row, a filter that some pairs pass (`l.2 < r.2`; right row 0's
    /// never do), chunks that end inside a chain.
    #[test]
    fn right_semi_and_anti_joins_with_a_filter_over_many_partners() {
        let left: Vec<Row> = (0..2000).map(|i| (Some(i % 50), Some("k"), i)).collect();
        let right: Vec<Row> = (0..120)
            .map(|i| (Some(i % 60), Some("k"), i * 15))
            .collect();
        for join_type in [JoinType::RightSemi, JoinType::RightAnti] {
            let expected = reference(&left, &right, join_type, 1, true);
            assert!(!expected.is_empty(), "{join_type:?}");
            for batch_size in [3, 64, 8192] {
                let got = run_join(&left, &right, join_type, 1, true, 2, 2, batch_size);
                assert_eq!(got, expected, "{join_type:?}, batch {batch_size}");
            }
        }
    }

    #[test]
    fn many_to_one_join_over_many_rows() {
        let left: Vec<Row> = (0..3000).map(|i| (Some(i % 700), Some("k"), i)).collect();
        let right: Vec<Row> = (0..600).map(|i| (Some(i), Some("k"), -i)).collect();
        // Unique right keys: one key is a direct table, two keys a hashed one; neither keeps
        // a `next` chain.
        for keys in [1, 2] {
            for join_type in [
                JoinType::Inner,
                JoinType::Left,
                JoinType::Full,
                JoinType::LeftAnti,
                JoinType::RightSemi,
                JoinType::RightAnti,
            ] {
                let expected = reference(&left, &right, join_type, keys, false);
                let got = run_join(&left, &right, join_type, keys, false, 3, 2, 1000);
                assert_eq!(got, expected, "{join_type:?}, {keys} keys");
            }
        }
    }

    /// Unique right keys probed by whole left batches (the path without chains): batches in
    /// which every row matches (sliced), some rows match (filtered), none match, and NULL
    /// keys; output batches smaller than an input batch; many right partitions and batches.
    #[test]
    fn unique_keys_probed_by_whole_batches() {
        // Left keys: 0..2000 all present on the right, then 2000..4000 with every third row
        // absent or NULL, then 4000..4500 absent everywhere.
        let left: Vec<Row> = (0..4500)
            .map(|i| {
                let key = match i {
                    0..2000 => Some(i),
                    2000..4000 if i % 3 == 0 => Some(1_000_000 + i),
                    2000..4000 if i % 3 == 1 => None,
                    2000..4000 => Some(i),
                    _ => Some(2_000_000 + i),
                };
                (key, Some("k"), i)
            })
            .collect();
        let right: Vec<Row> = (0..5000).map(|i| (Some(i), Some("k"), -i)).collect();
        for keys in [1, 2] {
            for join_type in [
                JoinType::Inner,
                JoinType::Left,
                JoinType::Right,
                JoinType::Full,
            ] {
                let expected = reference(&left, &right, join_type, keys, false);
                for layout in [
                    Layout {
                        left_partitions: 2,
                        right_partitions: 3,
                        batch_size: 8192,
                        left_batch_rows: 500,
                        right_batch_rows: 700,
                        threads: 2,
                    },
                    Layout {
                        left_partitions: 1,
                        right_partitions: 1,
                        batch_size: 300,
                        left_batch_rows: 1000,
                        right_batch_rows: 5000,
                        threads: 1,
                    },
                    Layout {
                        left_partitions: 3,
                        right_partitions: 8,
                        batch_size: 97,
                        left_batch_rows: 4500,
                        right_batch_rows: 999,
                        threads: 4,
                    },
                ] {
                    let got = run_join_in(&left, &right, join_type, keys, false, &layout);
                    assert_eq!(
                        got.len(),
                        expected.len(),
                        "{join_type:?}, {keys} keys, batch {}",
                        layout.batch_size
                    );
                    assert_eq!(got, expected, "{join_type:?}, {keys} keys");
                }
            }
        }
        // Hand-checked: 2000 + 667 left rows (2000..4000 with i % 3 == 2) find their key.
        let inner = reference(&left, &right, JoinType::Inner, 1, false);
        assert_eq!(inner.len(), 2667);
    }

    /// A unique-key join whose build side holds plain `Utf8` columns: one of short values
    /// (gathered by windows, see `selection.rs`) and one with longer values (gathered by
    /// `take`), both with NULLs; as columns and as rows, against a reference by hand.
    #[test]
    fn unique_keys_gather_plain_string_build_columns() {
        let left_schema = Arc::new(Schema::new(vec![
            Field::new("lk", DataType::Int64, true),
            Field::new("lv", DataType::Utf8, true),
        ]));
        let right_schema = Arc::new(Schema::new(vec![
            Field::new("rk", DataType::Int64, false),
            Field::new("short", DataType::Utf8, true),
            Field::new("long", DataType::Utf8, true),
        ]));
        // Left keys 0..3000 step 1, every fifth past the right's keys, every eleventh NULL.
        let left_key = |i: i64| (i % 11 != 0).then_some(if i % 5 == 0 { 10_000 + i } else { i });
        let left_value = |i: i64| (i % 13 != 0).then(|| format!("l{i}"));
        let short = |k: i64| (k % 7 != 0).then(|| "é".repeat((k % 8) as usize));
        let long = |k: i64| (k % 9 != 0).then(|| format!("{k:>width$}", width = (k % 40) as usize));
        let left = RecordBatch::try_new(
            Arc::clone(&left_schema),
            vec![
                Arc::new(Int64Array::from_iter((0..3000).map(left_key))),
                Arc::new(StringArray::from_iter((0..3000).map(left_value))),
            ],
        )
        .unwrap();
        let right = RecordBatch::try_new(
            Arc::clone(&right_schema),
            vec![
                Arc::new(Int64Array::from_iter_values((0..2000).rev())),
                Arc::new(StringArray::from_iter((0..2000).rev().map(short))),
                Arc::new(StringArray::from_iter((0..2000).rev().map(long))),
            ],
        )
        .unwrap();
        let text = |v: Option<String>| v.unwrap_or_else(|| "NULL".into());
        let right_row = |k: i64| vec![k.to_string(), text(short(k)), text(long(k))];
        for join_type in [
            JoinType::Inner,
            JoinType::Left,
            JoinType::Right,
            JoinType::Full,
        ] {
            let mut expected = Vec::new();
            for i in 0..3000 {
                let key = left_key(i).filter(|k| *k < 2000);
                let mut row = vec![
                    text(left_key(i).map(|k| k.to_string())),
                    text(left_value(i)),
                ];
                match key {
                    Some(k) => row.extend(right_row(k)),
                    None if matches!(join_type, JoinType::Left | JoinType::Full) => {
                        row.extend(["NULL".to_string(), "NULL".into(), "NULL".into()])
                    }
                    None => continue,
                }
                expected.push(row);
            }
            if matches!(join_type, JoinType::Right | JoinType::Full) {
                let matched: std::collections::HashSet<i64> =
                    (0..3000).filter_map(left_key).collect();
                for k in (0..2000).filter(|k| !matched.contains(k)) {
                    let mut row = vec!["NULL".to_string(), "NULL".into()];
                    row.extend(right_row(k));
                    expected.push(row);
                }
            }
            expected.sort();
            for row_layout_rows in [usize::MAX, 1] {
                let join = HashJoinExec::try_new(
                    MemorySourceExec::new(Arc::clone(&left_schema), cut(&left, 700), 2),
                    MemorySourceExec::new(Arc::clone(&right_schema), cut(&right, 900), 2),
                    vec![(col("lk", &left_schema), col("rk", &right_schema))],
                    None,
                    join_type,
                    output_schema(&left_schema, &right_schema, join_type),
                )
                .unwrap()
                .with_row_layout_from(row_layout_rows);
                let mut config = SessionConfig::new().with_target_partitions(2);
                config.batch_size = 256;
                let batches = collect(Arc::new(join), &TaskContext::new(config)).unwrap();
                let mut got: Vec<Vec<String>> = Vec::new();
                for batch in &batches {
                    for row in 0..batch.num_rows() {
                        got.push(
                            batch
                                .columns()
                                .iter()
                                .map(|c| match c.is_null(row) {
                                    true => "NULL".to_string(),
                                    false => array_value_to_string(c, row).unwrap(),
                                })
                                .collect(),
                        );
                    }
                }
                got.sort();
                assert_eq!(
                    got.len(),
                    expected.len(),
                    "{join_type:?}, {row_layout_rows}"
                );
                assert_eq!(got, expected, "{join_type:?}, {row_layout_rows}");
            }
        }
    }

    /// Every join type with an embedded projection (columns reordered, one repeated, the
    /// keys dropped) gives the projected columns of the plain join, on the chained path
    /// (duplicate build keys, filters) and the unique-key path (all, some and no left rows
    /// matched, NULL keys), over several partitions and batch sizes.
    #[test]
    fn embedded_projection_gives_the_projected_join() {
        let unique_right: Vec<Row> = (0..40).map(|i| (Some(i), Some("k"), 100 - i)).collect();
        let unique_left: Vec<Row> = (0..300)
            .map(|i| {
                let key = match i {
                    0..100 => Some(i % 40),
                    100..200 if i % 4 == 0 => None,
                    100..200 if i % 4 == 1 => Some(500 + i),
                    100..200 => Some(i % 40),
                    _ => Some(1000 + i),
                };
                (key, Some("k"), i)
            })
            .collect();
        let cases = [(left_rows(), right_rows()), (unique_left, unique_right)];
        for (left, right) in &cases {
            for join_type in ALL {
                for keys in [1, 2] {
                    for filter in [false, true] {
                        let expected = reference(left, right, join_type, keys, filter);
                        let width = expected.first().map_or(0, Vec::len);
                        if width == 0 {
                            continue;
                        }
                        // Reversed, without the first column (a key), the last one twice;
                        // and every other column (build columns left out are not gathered).
                        let mut reversed: Vec<usize> = (1..width).rev().collect();
                        reversed.push(width - 1);
                        let alternate: Vec<usize> = (0..width).step_by(2).collect();
                        for projection in [reversed, alternate] {
                            let mut expected: Vec<Vec<String>> = expected
                                .iter()
                                .map(|row| projection.iter().map(|&c| row[c].clone()).collect())
                                .collect();
                            expected.sort();
                            for layout in [
                                Layout {
                                    left_partitions: 1,
                                    right_partitions: 1,
                                    batch_size: 8192,
                                    left_batch_rows: 300,
                                    right_batch_rows: 40,
                                    threads: 1,
                                },
                                Layout {
                                    left_partitions: 3,
                                    right_partitions: 2,
                                    batch_size: 7,
                                    left_batch_rows: 7,
                                    right_batch_rows: 3,
                                    threads: 2,
                                },
                            ] {
                                for row_layout_rows in [usize::MAX, 1] {
                                    let got = run_projected_join(
                                        left,
                                        right,
                                        join_type,
                                        keys,
                                        filter,
                                        &layout,
                                        Some(&projection),
                                        row_layout_rows,
                                    );
                                    assert_eq!(
                                        got, expected,
                                        "{join_type:?}, {keys} keys, filter {filter}, batch {}, \
                                     rows from {row_layout_rows}",
                                        layout.batch_size
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn embedded_projection_shows_in_describe_and_checks_its_columns() {
        let left = left_batch(&left_rows());
        let right = right_batch(&right_rows());
        let (left_schema, right_schema) = (left.schema(), right.schema());
        let join = || {
            HashJoinExec::try_new(
                MemorySourceExec::new(Arc::clone(&left_schema), vec![left.clone()], 1),
                MemorySourceExec::new(Arc::clone(&right_schema), vec![right.clone()], 1),
                vec![(col("lk1", &left_schema), col("rk1", &right_schema))],
                None,
                JoinType::Inner,
                output_schema(&left_schema, &right_schema, JoinType::Inner),
            )
            .unwrap()
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("v", DataType::Int64, false),
            Field::new("right_w", DataType::Int64, false),
        ]));
        let projected = join()
            .with_projection(vec![2, 5], Arc::clone(&schema))
            .unwrap();
        assert_eq!(
            projected.describe(),
            "HashJoinExec: INNER JOIN, on=[lk1@0 = rk1@0], projection=[v@2, w@5 AS right_w]"
        );
        assert_eq!(projected.schema(), schema);
        // A column the join lacks, or of another type, is a bug in the caller.
        for columns in [vec![2, 6], vec![1, 5]] {
            let error = join()
                .with_projection(columns, Arc::clone(&schema))
                .unwrap_err();
            assert!(matches!(error, EngineError::Internal(_)), "{error}");
        }
    }

    #[test]
    fn build_columns_concatenated_on_threads_keep_their_order() {
        let right: Vec<Row> = (0..80_000)
            .map(|i| {
                (
                    Some(i),
                    Some(if i % 2 == 0 { "even" } else { "odd" }),
                    3 * i,
                )
            })
            .collect();
        let all = right_batch(&right);
        let batches = cut(&all, 777);
        for threads in [1, 2, 3, 8] {
            let joined = concat_columns(&all.schema(), &batches, threads).unwrap();
            assert_eq!(joined, all, "{threads} threads");
        }
        assert_eq!(concat_columns(&all.schema(), &[], 2).unwrap().num_rows(), 0);
    }

    /// Left and right rows on one integer key, `spread` apart: with spread 1 the right keys
    /// are dense (a direct key table), with a large spread sparse (the hashed table). The left
    /// side probes below, inside and above the right range, and with NULLs.
    fn spread_rows(spread: i64) -> (Vec<Row>, Vec<Row>) {
        let left = (-3..12)
            .map(|k| Some(k * spread))
            .chain([None, Some(i64::from(i32::MIN)), Some(i64::from(i32::MAX))])
            .enumerate()
            .map(|(i, k)| (k, Some("k"), i as i64))
            .collect();
        let right = [0, 1, 1, 3, 4, 4, 4, 7, 8]
            .into_iter()
            .map(|k| Some(k * spread))
            .chain([None])
            .enumerate()
            .map(|(i, k)| (k, Some("k"), 5 + i as i64))
            .collect();
        (left, right)
    }

    #[test]
    fn direct_and_hashed_key_tables_give_the_same_joins() {
        for spread in [1, 100_000_000] {
            let (left, right) = spread_rows(spread);
            for join_type in ALL {
                for filter in [false, true] {
                    let expected = reference(&left, &right, join_type, 1, filter);
                    for (left_partitions, batch_size) in [(1, 8192), (3, 2)] {
                        let got = run_join(
                            &left,
                            &right,
                            join_type,
                            1,
                            filter,
                            left_partitions,
                            2,
                            batch_size,
                        );
                        assert_eq!(got, expected, "spread {spread}, {join_type:?}, {filter}");
                    }
                }
            }
        }
    }

    #[test]
    fn direct_key_table_only_for_one_dense_integer_key() {
        let table = |keys: Vec<ArrayRef>, rows| {
            DirectKeys::try_new(&keys, rows)
                .unwrap()
                .map(|d| (d.min, d.slots))
        };
        let dense: ArrayRef = Arc::new(Int64Array::from(vec![Some(-2), None, Some(9), Some(3)]));
        assert_eq!(table(vec![Arc::clone(&dense)], 4), Some((-2, 12)));
        // 8 slots per row, at least 4096: 10_000 keys spread over 80_000 values qualify,
        // over 80_001 they do not.
        let spread = |last: i64| -> ArrayRef {
            Arc::new(Int64Array::from_iter_values((0..9_999).chain([last])))
        };
        assert_eq!(table(vec![spread(79_999)], 10_000), Some((0, 80_000)));
        assert_eq!(table(vec![spread(80_000)], 10_000), None);
        let wide: ArrayRef = Arc::new(Int64Array::from(vec![i64::MIN, i64::MAX]));
        assert_eq!(table(vec![wide], 2), None);
        let dictionary: ArrayRef = Arc::new(
            DictionaryArray::<Int32Type>::try_new(
                Int32Array::from(vec![1, 0, 1]),
                Arc::new(Int32Array::from(vec![5, 7])),
            )
            .unwrap(),
        );
        assert_eq!(table(vec![dictionary], 3), Some((5, 3)));
        let strings: ArrayRef = Arc::new(StringArray::from(vec!["a"]));
        assert_eq!(table(vec![strings], 1), None);
        assert_eq!(table(vec![Arc::clone(&dense), dense], 4), None);
        let nulls: ArrayRef = Arc::new(Int64Array::from(vec![None, None]));
        assert_eq!(table(vec![nulls], 2), None);
    }

    /// Key ids with long and short chains, ids no row of the table holds and NULL keys.
    fn chained_ids(rows: usize) -> (Vec<u32>, NullBuffer) {
        let ids = (0..rows as u32)
            .map(|row| match row % 10 {
                0 => NO_GROUP,
                1..=3 => row.wrapping_mul(2_654_435_761) % 97,
                _ => row % (rows as u32 / 2),
            })
            .collect();
        let valid = NullBuffer::from_iter((0..rows).map(|row| row % 17 != 5));
        (ids, valid)
    }

    /// The chains walked from `heads`: each key id's rows, in order.
    fn chains(heads: &[u32], next: &[u32]) -> Vec<Vec<u32>> {
        heads
            .iter()
            .map(|&head| {
                let mut rows = Vec::new();
                let mut row = head;
                while row != NO_ROW {
                    rows.push(row);
                    row = next.get(row as usize).copied().unwrap_or(NO_ROW);
                }
                rows
            })
            .collect()
    }

    #[test]
    fn chains_linked_on_threads_match_one_thread() {
        let rows = 10_000;
        let keys = rows / 2;
        let (ids, valid) = chained_ids(rows);
        // The chains as a plain reference builds them: every valid row under its id.
        let mut expected = vec![Vec::new(); keys];
        for (row, &id) in ids.iter().enumerate() {
            if id != NO_GROUP && valid.is_valid(row) {
                expected[id as usize].push(row as u32);
            }
        }
        for threads in 1..=8 {
            let (heads, next, duplicates) = link_chains(&ids, Some(&valid), keys, threads).unwrap();
            assert!(duplicates);
            assert_eq!(chains(&heads, &next), expected, "{threads} threads");
        }
        // Unique ids: no chain is longer than one row, whatever the threads.
        let unique: Vec<u32> = (0..rows as u32).rev().collect();
        for threads in [1, 2, 3, 8] {
            let (heads, _, duplicates) = link_chains(&unique, None, rows, threads).unwrap();
            assert!(!duplicates);
            assert_eq!(heads[0], rows as u32 - 1);
            assert_eq!(heads[rows - 1], 0);
        }
    }

    #[test]
    fn direct_key_ids_on_threads_match_one_thread() {
        let values: Vec<Option<i32>> = (0..100_003)
            .map(|i| (i % 13 != 0).then_some(-500 + (i * 7919) % 120_000))
            .collect();
        for key in [
            Arc::new(Int32Array::from(values.clone())) as ArrayRef,
            Arc::new(arrow::array::Int64Array::from_iter(
                values.iter().map(|v| v.map(i64::from)),
            )),
            Arc::new(arrow::array::Int16Array::from_iter(
                values.iter().map(|v| v.map(|v| (v / 8) as i16)),
            )),
        ] {
            let keys = [Arc::clone(&key)];
            let (_, one) = key_ids(&keys, key.len(), 1).unwrap();
            // A direct table's id is the value's distance from the smallest value.
            let wide = cast(&key, &DataType::Int64).unwrap();
            let wide = wide.as_primitive::<Int64Type>();
            let min = arrow::compute::min(wide).unwrap();
            let expected: Vec<u32> = wide
                .iter()
                .map(|v| v.map_or(NO_GROUP, |v| (v - min) as u32))
                .collect();
            assert_eq!(one, expected, "{}", key.data_type());
            for threads in 2..=8 {
                let (table, ids) = key_ids(&keys, key.len(), threads).unwrap();
                assert!(matches!(table, KeyTable::Direct(_)));
                assert_eq!(ids, one, "{} on {threads} threads", key.data_type());
            }
        }
    }

    #[test]
    fn incomparable_keys_are_a_plan_error() {
        let left = left_batch(&left_rows());
        let right = right_batch(&right_rows());
        let (ls, rs) = (left.schema(), right.schema());
        let err = HashJoinExec::try_new(
            MemorySourceExec::new(Arc::clone(&ls), vec![left], 1),
            MemorySourceExec::new(Arc::clone(&rs), vec![right], 1),
            vec![(col("lk2", &ls), col("rk1", &rs))],
            None,
            JoinType::Inner,
            output_schema(&ls, &rs, JoinType::Inner),
        )
        .unwrap_err();
        assert!(matches!(err, EngineError::Plan(_)), "{err}");
    }

    #[test]
    fn describe_names_the_keys() {
        let left = left_batch(&left_rows());
        let right = right_batch(&right_rows());
        let (ls, rs) = (left.schema(), right.schema());
        let join = HashJoinExec::try_new(
            MemorySourceExec::new(Arc::clone(&ls), vec![left], 1),
            MemorySourceExec::new(Arc::clone(&rs), vec![right], 1),
            vec![(col("lk1", &ls), col("rk1", &rs))],
            Some(Arc::new(Less(2, 5))),
            JoinType::Left,
            output_schema(&ls, &rs, JoinType::Left),
        )
        .unwrap();
        assert_eq!(
            join.describe(),
            "HashJoinExec: LEFT JOIN, on=[lk1@0 = rk1@0], filter=#2 < #5"
        );
    }
}
