//! Seeded generators for the H2O db-benchmark tables (`/work/shared/bench/h2o.md`).
//!
//! Quiver and DataFusion are timed on the same in-memory batches, so the data is regenerated
//! on every run instead of being read from files; at the headline size (1e7 rows) that has to
//! take seconds, which is why batches (group-by) and columns (join) are generated on all cores
//! and strings are written as bytes rather than through `format!`.
//!
//! Output depends only on the arguments and the seed, never on the number of threads: every unit
//! of parallel work draws from its own ChaCha8 stream (`stream_rng`), and integers are mapped to
//! ranges by our own multiply-shift (`below`) rather than by `rand`'s distributions, whose
//! algorithms may change between `rand` releases. The R generator's exact bytes are not
//! reproduced, only its distributions.
//!
//! The entry points are [`groupby_batches`] (table `x` of the group-by questions) and
//! [`join_tables`] (`x`, `small`, `medium` and `big` of the join questions).

use std::ops::Range;
use std::sync::Arc;
use std::thread;

use arrow::array::{
    ArrayRef, BooleanBufferBuilder, DictionaryArray, Float64Array, Int32Array, Int64Array,
    StringArray,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Rows per generated batch (DataFusion's and Arrow's usual chunk size is 8192; larger batches
/// keep per-batch overhead out of the group-by timings).
pub const BATCH_SIZE: usize = 65_536;

/// One generated table: its schema and its batches (each of at most [`BATCH_SIZE`] rows).
#[derive(Debug, Clone)]
pub struct Table {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl Table {
    /// Total number of rows over all batches.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// The four tables of the join questions (`J1_<N>_NA_0_0` and its right-hand tables).
#[derive(Debug, Clone)]
pub struct JoinTables {
    /// Left table, N rows: id1..id3 (Int64), id4..id6 (Utf8), v1 (Float64).
    pub x: Table,
    /// N/1e6 rows: id1, id4, v2; id1 unique.
    pub small: Table,
    /// N/1e3 rows: id1, id2, id4, id5, v2; id2 unique.
    pub medium: Table,
    /// N rows: id1..id6, v2; id3 unique.
    pub big: Table,
}

// Stream tags: the high 32 bits of a ChaCha stream id say what the stream is for, the low 32
// bits which batch or column, so no two uses of one seed ever share a stream.
const STREAM_GROUPBY_BATCH: u64 = 1 << 32;
const STREAM_GROUPBY_NULL_IDS: u64 = 2 << 32;
const STREAM_GROUPBY_NULL_VALUES: u64 = 3 << 32;
const STREAM_JOIN_KEYS: u64 = 4 << 32;
const STREAM_JOIN_KEY_COLUMN: u64 = 5 << 32;
const STREAM_JOIN_VALUE_COLUMN: u64 = 6 << 32;

fn stream_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// A uniform integer in `0..n` (Lemire's multiply-shift without the rejection step: the bias is
/// at most n / 2^64, far below anything a benchmark can observe).
fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as u64
}

fn shuffle<T>(values: &mut [T], rng: &mut ChaCha8Rng) {
    for i in (1..values.len()).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        values.swap(i, j);
    }
}

/// `count` distinct indices out of `0..domain` as a membership mask (Floyd's algorithm: exactly
/// `count` draws, no retries).
fn sample_mask(domain: usize, count: usize, rng: &mut ChaCha8Rng) -> Vec<bool> {
    let mut mask = vec![false; domain];
    for j in domain - count..domain {
        let t = below(rng, j as u64 + 1) as usize;
        let pick = if mask[t] { j } else { t };
        mask[pick] = true;
    }
    mask
}

/// Runs `f(0..count)` on all cores and returns the results in index order. Work is assigned
/// round-robin, which is balanced because every unit costs about the same.
fn parallel_map<T: Send>(count: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(count)
        .max(1);
    let f = &f;
    let mut parts: Vec<(usize, T)> = thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|first| {
                scope.spawn(move || {
                    (first..count)
                        .step_by(threads)
                        .map(|index| (index, f(index)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    parts.sort_unstable_by_key(|(index, _)| *index);
    parts.into_iter().map(|(_, value)| value).collect()
}

fn batch_ranges(rows: usize) -> Vec<Range<usize>> {
    (0..rows.div_ceil(BATCH_SIZE))
        .map(|batch| batch * BATCH_SIZE..((batch + 1) * BATCH_SIZE).min(rows))
        .collect()
}

/// Appends the decimal digits of `value`, left-padded with zeros to at least `width` digits.
fn push_decimal(out: &mut Vec<u8>, mut value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    start = start.min(digits.len().saturating_sub(width));
    out.extend_from_slice(&digits[start..]);
}

/// A Utf8 array of `"id"` followed by each number (zero-padded to `width`); `None` is NULL.
fn id_strings(numbers: impl Iterator<Item = Option<u64>>, width: usize) -> StringArray {
    let len = numbers.size_hint().0;
    let mut offsets = Vec::with_capacity(len + 1);
    let mut bytes = Vec::with_capacity(len * (2 + width.max(8)));
    let mut validity = BooleanBufferBuilder::new(len);
    offsets.push(0_i32);
    for number in numbers {
        if let Some(number) = number {
            bytes.extend_from_slice(b"id");
            push_decimal(&mut bytes, number, width);
        }
        validity.append(number.is_some());
        let end = i32::try_from(bytes.len()).expect("a batch's strings stay below 2 GiB");
        offsets.push(end);
    }
    let nulls = NullBuffer::new(validity.finish());
    let nulls = (nulls.null_count() > 0).then_some(nulls);
    StringArray::new(
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        Buffer::from_vec(bytes),
        nulls,
    )
}

// ---------------------------------------------------------------------------------------------
// Group-by table
// ---------------------------------------------------------------------------------------------

/// The schema of the group-by table; every field is nullable exactly when `nullable`.
pub fn groupby_schema(nullable: bool) -> SchemaRef {
    let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    Arc::new(Schema::new(vec![
        Field::new("id1", dictionary.clone(), nullable),
        Field::new("id2", dictionary, nullable),
        Field::new("id3", DataType::Utf8, nullable),
        Field::new("id4", DataType::Int32, nullable),
        Field::new("id5", DataType::Int32, nullable),
        Field::new("id6", DataType::Int32, nullable),
        Field::new("v1", DataType::Int32, nullable),
        Field::new("v2", DataType::Int32, nullable),
        Field::new("v3", DataType::Float64, nullable),
    ]))
}

/// Everything the per-batch workers share: sizes, the dictionary, and which values are NULL.
struct GroupbyPlan {
    k: u64,
    /// Distinct values of id3 and id6: N/K.
    fine_domain: u64,
    /// The K strings `"id001"`… shared by every id1 and id2 batch.
    dictionary: ArrayRef,
    /// Per id column (id1..id6): the value indices (0-based) that are NULL everywhere.
    null_ids: [Option<Vec<bool>>; 6],
    /// Per v column (v1..v3): which rows of the whole table are NULL. Each batch copies its
    /// part, so batches do not share (and over-report the size of) one table-wide buffer.
    null_values: [Option<Vec<bool>>; 3],
}

/// The H2O group-by table `x` (`G1_<n>_<k>_<nas>_0`): `n` rows in batches of [`BATCH_SIZE`].
///
/// Columns and distributions follow `h2o.md`: id1, id2 are `Dictionary(Int32, Utf8)` over
/// `"id001"`…`"id{k:03}"`; id3 is Utf8 `"id0000000001"`… with n/k distinct values; id4, id5 are
/// `1..=k`, id6 `1..=n/k` (Int32); v1 `1..=5`, v2 `1..=15` (Int32); v3 is uniform in `[0, 100)`
/// with 6 decimals (Float64). With `nas_percent > 0`, like the R generator, `floor(nas% × d)` of
/// the `d` distinct values of each id column are NULL in every row that holds them, and exactly
/// `floor(nas% × n)` random rows of each v column are NULL; fields are nullable iff `nas > 0`.
///
/// Degenerate arguments are clamped rather than rejected: `k` to `1..=i32::MAX`, `n/k` to
/// `1..=i32::MAX` (the Int32 id columns must hold it) and `nas_percent` to 100.
pub fn groupby_batches(
    n: usize,
    k: usize,
    nas_percent: u8,
    seed: u64,
) -> (SchemaRef, Vec<RecordBatch>) {
    let int_max = i32::MAX as u64;
    let k = (k as u64).clamp(1, int_max);
    let fine_domain = (n as u64 / k).clamp(1, int_max);
    let nas = u64::from(nas_percent.min(100));
    let schema = groupby_schema(nas > 0);

    let dictionary: ArrayRef = Arc::new(id_strings((1..=k).map(Some), 3));
    let domains = [k, k, fine_domain, k, k, fine_domain];
    let null_ids = std::array::from_fn(|column| {
        let domain = domains[column];
        let count = domain * nas / 100;
        (count > 0).then(|| {
            let mut rng = stream_rng(seed, STREAM_GROUPBY_NULL_IDS | column as u64);
            sample_mask(domain as usize, count as usize, &mut rng)
        })
    });
    let null_values = std::array::from_fn(|column| {
        let count = n * nas as usize / 100;
        (count > 0).then(|| {
            let mut rng = stream_rng(seed, STREAM_GROUPBY_NULL_VALUES | column as u64);
            sample_mask(n, count, &mut rng)
        })
    });
    let plan = GroupbyPlan {
        k,
        fine_domain,
        dictionary,
        null_ids,
        null_values,
    };

    let ranges = batch_ranges(n);
    let batches = parallel_map(ranges.len(), |batch| {
        let mut rng = stream_rng(seed, STREAM_GROUPBY_BATCH | batch as u64);
        groupby_batch(&plan, &schema, ranges[batch].clone(), &mut rng)
    });
    (schema, batches)
}

fn groupby_batch(
    plan: &GroupbyPlan,
    schema: &SchemaRef,
    rows: Range<usize>,
    rng: &mut ChaCha8Rng,
) -> RecordBatch {
    let len = rows.len();
    // Each id column as 0-based value indices; NULLs are applied from `null_ids` afterwards so
    // the drawn values do not depend on `nas`.
    let mut draw =
        |domain: u64| -> Vec<u32> { (0..len).map(|_| below(rng, domain) as u32).collect() };
    let ids: [Vec<u32>; 6] = [
        draw(plan.k),
        draw(plan.k),
        draw(plan.fine_domain),
        draw(plan.k),
        draw(plan.k),
        draw(plan.fine_domain),
    ];
    let v1: Vec<i32> = (0..len).map(|_| below(rng, 5) as i32 + 1).collect();
    let v2: Vec<i32> = (0..len).map(|_| below(rng, 15) as i32 + 1).collect();
    // An integer count of millionths, so each value is exactly the double nearest a 6-decimal
    // number, as R's round(x, 6) produces.
    let v3: Vec<f64> = (0..len)
        .map(|_| below(rng, 100_000_000) as f64 / 1e6)
        .collect();

    let id_nulls = |column: usize| -> Option<NullBuffer> {
        let mask = plan.null_ids[column].as_ref()?;
        let validity: BooleanBuffer = ids[column].iter().map(|&v| !mask[v as usize]).collect();
        Some(NullBuffer::new(validity)).filter(|nulls| nulls.null_count() > 0)
    };
    let value_nulls = |column: usize| -> Option<NullBuffer> {
        let mask = &plan.null_values[column].as_ref()?[rows.clone()];
        let validity: BooleanBuffer = mask.iter().map(|&is_null| !is_null).collect();
        Some(NullBuffer::new(validity)).filter(|nulls| nulls.null_count() > 0)
    };
    let dictionary_column = |column: usize| -> ArrayRef {
        let keys: Vec<i32> = ids[column].iter().map(|&v| v as i32).collect();
        let keys = Int32Array::new(ScalarBuffer::from(keys), id_nulls(column));
        Arc::new(DictionaryArray::<Int32Type>::new(
            keys,
            Arc::clone(&plan.dictionary),
        ))
    };
    let int_id_column = |column: usize| -> ArrayRef {
        let values: Vec<i32> = ids[column].iter().map(|&v| v as i32 + 1).collect();
        Arc::new(Int32Array::new(
            ScalarBuffer::from(values),
            id_nulls(column),
        ))
    };
    let id3 = {
        let mask = plan.null_ids[2].as_ref();
        let numbers = ids[2].iter().map(|&v| {
            let is_null = mask.is_some_and(|mask| mask[v as usize]);
            (!is_null).then_some(u64::from(v) + 1)
        });
        Arc::new(id_strings(numbers, 10)) as ArrayRef
    };

    let columns: Vec<ArrayRef> = vec![
        dictionary_column(0),
        dictionary_column(1),
        id3,
        int_id_column(3),
        int_id_column(4),
        int_id_column(5),
        Arc::new(Int32Array::new(ScalarBuffer::from(v1), value_nulls(0))),
        Arc::new(Int32Array::new(ScalarBuffer::from(v2), value_nulls(1))),
        Arc::new(Float64Array::new(ScalarBuffer::from(v3), value_nulls(2))),
    ];
    RecordBatch::try_new(Arc::clone(schema), columns)
        .expect("generated columns match the group-by schema")
}

// ---------------------------------------------------------------------------------------------
// Join tables
// ---------------------------------------------------------------------------------------------

/// The keys of one join column: a permutation of `1..=1.1n` split into the keys on both sides
/// (0.9n), on the left only (0.1n) and on the right only (0.1n).
struct KeySplit {
    /// `both ++ left_only ++ right_only`, as drawn.
    keys: Vec<i64>,
    both: usize,
    /// Number of distinct keys on each side: `both + 0.1n`.
    per_side: usize,
}

impl KeySplit {
    fn new(n: usize, rng: &mut ChaCha8Rng) -> Self {
        let both = (n * 9).div_ceil(10).min(n);
        let side_only = n - both;
        let mut keys: Vec<i64> = (1..=(n + side_only) as i64).collect();
        shuffle(&mut keys, rng);
        Self {
            keys,
            both,
            per_side: n,
        }
    }

    fn left(&self) -> Vec<i64> {
        self.keys[..self.per_side].to_vec()
    }

    fn right(&self) -> Vec<i64> {
        let mut right = self.keys[..self.both].to_vec();
        right.extend_from_slice(&self.keys[self.per_side..]);
        right
    }
}

/// Every key once, then draws with replacement up to `size`, shuffled (the R `sample_all`).
fn sample_all(mut keys: Vec<i64>, size: usize, rng: &mut ChaCha8Rng) -> Vec<i64> {
    let distinct = keys.len();
    debug_assert!(distinct <= size || size == 0);
    keys.truncate(size);
    if distinct > 0 && size > distinct {
        let extra: Vec<i64> = (distinct..size)
            .map(|_| keys[below(rng, distinct as u64) as usize])
            .collect();
        keys.extend(extra);
    }
    shuffle(&mut keys, rng);
    keys
}

/// How a join table's field is produced.
enum FieldSource<'a> {
    /// An Int64 key column.
    Key(&'a [i64]),
    /// `"id"‖key` of a key column, as Utf8.
    Label(&'a [i64]),
    /// A Float64 value column.
    Value(&'a [f64]),
}

impl FieldSource<'_> {
    fn len(&self) -> usize {
        match self {
            FieldSource::Key(keys) | FieldSource::Label(keys) => keys.len(),
            FieldSource::Value(values) => values.len(),
        }
    }

    fn data_type(&self) -> DataType {
        match self {
            FieldSource::Key(_) => DataType::Int64,
            FieldSource::Label(_) => DataType::Utf8,
            FieldSource::Value(_) => DataType::Float64,
        }
    }

    fn array(&self, rows: Range<usize>) -> ArrayRef {
        match self {
            FieldSource::Key(keys) => Arc::new(Int64Array::from(keys[rows].to_vec())),
            FieldSource::Label(keys) => {
                Arc::new(id_strings(keys[rows].iter().map(|&k| Some(k as u64)), 0))
            }
            FieldSource::Value(values) => Arc::new(Float64Array::from(values[rows].to_vec())),
        }
    }
}

/// The H2O join tables for `n` left rows (`J1_<n>_NA_0_0`), as described in `h2o.md`.
///
/// Key domains are N/1e6, N/1e3 and N (each at least 1 when `n > 0`); every right-hand key is
/// unique, so each join is many-to-one, and about 90% of left rows find a match. No NULLs.
pub fn join_tables(n: usize, seed: u64) -> JoinTables {
    let scaled = |divisor: usize| if n == 0 { 0 } else { (n / divisor).max(1) };
    let (n1, n2) = (scaled(1_000_000), scaled(1_000));
    let splits = parallel_map(3, |key| {
        let mut rng = stream_rng(seed, STREAM_JOIN_KEYS | key as u64);
        KeySplit::new([n1, n2, n][key], &mut rng)
    });
    let [key1, key2, key3] = [&splits[0], &splits[1], &splits[2]];

    // Every key column as (key split, left side?, rows), in the order the tables use them.
    let key_columns: [(&KeySplit, bool, usize); 9] = [
        // x: id1, id2, id3 (id3 is a permutation of the left keys, hence unique)
        (key1, true, n),
        (key2, true, n),
        (key3, true, n),
        // small: id1
        (key1, false, n1),
        // medium: id1, id2
        (key1, false, n2),
        (key2, false, n2),
        // big: id1, id2, id3
        (key1, false, n),
        (key2, false, n),
        (key3, false, n),
    ];
    let keys = parallel_map(key_columns.len(), |column| {
        let (split, left, rows) = key_columns[column];
        let mut rng = stream_rng(seed, STREAM_JOIN_KEY_COLUMN | column as u64);
        let distinct = if left { split.left() } else { split.right() };
        sample_all(distinct, rows, &mut rng)
    });
    // v1 of x, v2 of small, medium and big.
    let values = parallel_map(4, |column| {
        let mut rng = stream_rng(seed, STREAM_JOIN_VALUE_COLUMN | column as u64);
        (0..[n, n1, n2, n][column])
            .map(|_| below(&mut rng, 100_000_000) as f64 / 1e6)
            .collect::<Vec<_>>()
    });
    drop(splits);

    use FieldSource::{Key, Label, Value};
    let x = join_table(&[
        ("id1", Key(&keys[0])),
        ("id2", Key(&keys[1])),
        ("id3", Key(&keys[2])),
        ("id4", Label(&keys[0])),
        ("id5", Label(&keys[1])),
        ("id6", Label(&keys[2])),
        ("v1", Value(&values[0])),
    ]);
    let small = join_table(&[
        ("id1", Key(&keys[3])),
        ("id4", Label(&keys[3])),
        ("v2", Value(&values[1])),
    ]);
    let medium = join_table(&[
        ("id1", Key(&keys[4])),
        ("id2", Key(&keys[5])),
        ("id4", Label(&keys[4])),
        ("id5", Label(&keys[5])),
        ("v2", Value(&values[2])),
    ]);
    let big = join_table(&[
        ("id1", Key(&keys[6])),
        ("id2", Key(&keys[7])),
        ("id3", Key(&keys[8])),
        ("id4", Label(&keys[6])),
        ("id5", Label(&keys[7])),
        ("id6", Label(&keys[8])),
        ("v2", Value(&values[3])),
    ]);
    JoinTables {
        x,
        small,
        medium,
        big,
    }
}

fn join_table(fields: &[(&str, FieldSource<'_>)]) -> Table {
    let schema = Arc::new(Schema::new(
        fields
            .iter()
            .map(|(name, source)| Field::new(*name, source.data_type(), false))
            .collect::<Vec<_>>(),
    ));
    let rows = fields.first().map_or(0, |(_, source)| source.len());
    let ranges = batch_ranges(rows);
    let batches = parallel_map(ranges.len(), |batch| {
        let arrays = fields
            .iter()
            .map(|(_, source)| source.array(ranges[batch].clone()))
            .collect();
        RecordBatch::try_new(Arc::clone(&schema), arrays)
            .expect("generated columns match the join table's schema")
    });
    Table { schema, batches }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Float64Type, Int64Type};

    use super::*;

    fn column<'a>(batch: &'a RecordBatch, name: &str) -> &'a ArrayRef {
        batch.column_by_name(name).expect("column exists")
    }

    /// All values of an Int32 column, NULLs as `None`.
    fn int32s(batches: &[RecordBatch], name: &str) -> Vec<Option<i32>> {
        batches
            .iter()
            .flat_map(|batch| column(batch, name).as_primitive::<Int32Type>().iter())
            .collect()
    }

    /// All values of a string or dictionary-of-string column, NULLs as `None`.
    fn strings(batches: &[RecordBatch], name: &str) -> Vec<Option<String>> {
        let mut out = Vec::new();
        for batch in batches {
            let array = column(batch, name);
            let array = match array.data_type() {
                DataType::Dictionary(_, _) => {
                    arrow::compute::cast(array, &DataType::Utf8).expect("dictionary casts")
                }
                _ => Arc::clone(array),
            };
            out.extend(
                array
                    .as_string::<i32>()
                    .iter()
                    .map(|s| s.map(str::to_owned)),
            );
        }
        out
    }

    fn float64s(batches: &[RecordBatch], name: &str) -> Vec<Option<f64>> {
        batches
            .iter()
            .flat_map(|batch| column(batch, name).as_primitive::<Float64Type>().iter())
            .collect()
    }

    fn int64s(table: &Table, name: &str) -> Vec<i64> {
        table
            .batches
            .iter()
            .flat_map(|batch| {
                column(batch, name)
                    .as_primitive::<Int64Type>()
                    .values()
                    .to_vec()
            })
            .collect()
    }

    fn distinct<T: std::hash::Hash + Eq>(values: impl IntoIterator<Item = T>) -> usize {
        values.into_iter().collect::<HashSet<_>>().len()
    }

    fn assert_near(actual: f64, expected: f64, relative: f64, what: &str) {
        assert!(
            (actual - expected).abs() <= expected.abs() * relative,
            "{what}: {actual} is not within {relative} of {expected}"
        );
    }

    #[test]
    fn groupby_shape_and_distributions() {
        let (n, k) = (200_000, 100);
        let (schema, batches) = groupby_batches(n, k, 0, 42);
        assert_eq!(batches.len(), 4);
        assert_eq!(batches[0].num_rows(), BATCH_SIZE);
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), n);
        assert!(schema.fields().iter().all(|field| !field.is_nullable()));
        assert!(batches
            .iter()
            .all(|b| b.columns().iter().all(|c| c.null_count() == 0)));

        let id1 = strings(&batches, "id1");
        assert_eq!(distinct(&id1), k);
        assert_eq!(
            id1.iter().flatten().min().map(String::as_str),
            Some("id001")
        );
        assert_eq!(
            id1.iter().flatten().max().map(String::as_str),
            Some("id100")
        );
        assert_eq!(distinct(strings(&batches, "id2")), k);
        let id3 = strings(&batches, "id3");
        assert_eq!(distinct(&id3), n / k);
        assert_eq!(
            id3.iter().flatten().min().map(String::as_str),
            Some("id0000000001")
        );
        assert_eq!(
            id3.iter().flatten().max().map(String::as_str),
            Some("id0000002000")
        );

        for name in ["id4", "id5"] {
            let values = int32s(&batches, name);
            assert_eq!(distinct(&values), k, "{name}");
            assert_eq!(values.iter().flatten().min(), Some(&1));
            assert_eq!(values.iter().flatten().max(), Some(&(k as i32)));
        }
        let id6 = int32s(&batches, "id6");
        assert_eq!(distinct(&id6), n / k);
        assert_eq!(id6.iter().flatten().max(), Some(&((n / k) as i32)));

        let sum = |values: Vec<Option<i32>>| values.iter().flatten().map(|&v| f64::from(v)).sum();
        let v1 = int32s(&batches, "v1");
        assert_eq!(distinct(&v1), 5);
        assert_near(sum(v1), 3.0 * n as f64, 0.01, "sum(v1)");
        let v2 = int32s(&batches, "v2");
        assert_eq!(distinct(&v2), 15);
        assert_near(sum(v2), 8.0 * n as f64, 0.01, "sum(v2)");
        let v3 = float64s(&batches, "v3");
        assert_near(v3.iter().flatten().sum(), 50.0 * n as f64, 0.01, "sum(v3)");
        for &v in v3.iter().flatten() {
            assert!((0.0..100.0).contains(&v), "{v} out of range");
            assert_eq!((v * 1e6).round() / 1e6, v, "{v} has more than 6 decimals");
        }
    }

    #[test]
    fn groupby_nulls_follow_the_nas_rule() {
        let (n, k, nas) = (100_000, 100, 10);
        let (schema, batches) = groupby_batches(n, k, nas, 7);
        assert!(schema.fields().iter().all(|field| field.is_nullable()));

        // id columns: exactly 10% of the distinct values vanish, and with them ~10% of rows.
        let id1 = strings(&batches, "id1");
        assert_eq!(distinct(id1.iter().flatten()), 90);
        assert_near(
            id1.iter().filter(|v| v.is_none()).count() as f64,
            0.1 * n as f64,
            0.1,
            "id1",
        );
        let id3 = strings(&batches, "id3");
        assert_eq!(distinct(id3.iter().flatten()), 900);
        let id6 = int32s(&batches, "id6");
        assert_eq!(distinct(id6.iter().flatten()), 900);
        assert_near(
            id6.iter().filter(|v| v.is_none()).count() as f64,
            0.1 * n as f64,
            0.1,
            "id6",
        );

        // v columns: exactly 10% of rows.
        assert_eq!(
            int32s(&batches, "v1")
                .iter()
                .filter(|v| v.is_none())
                .count(),
            n / 10
        );
        assert_eq!(
            int32s(&batches, "v2")
                .iter()
                .filter(|v| v.is_none())
                .count(),
            n / 10
        );
        assert_eq!(
            float64s(&batches, "v3")
                .iter()
                .filter(|v| v.is_none())
                .count(),
            n / 10
        );

        // NULLs are masks over the same draws as without them.
        let (_, plain) = groupby_batches(n, k, 0, 7);
        let with_nulls = int32s(&batches, "id4");
        for (masked, plain) in with_nulls.iter().zip(int32s(&plain, "id4")) {
            assert!(masked.is_none() || *masked == plain);
        }
    }

    #[test]
    fn groupby_is_deterministic_per_seed() {
        let (_, first) = groupby_batches(70_000, 10, 5, 1);
        let (_, again) = groupby_batches(70_000, 10, 5, 1);
        let (_, other) = groupby_batches(70_000, 10, 5, 2);
        assert_eq!(first, again);
        assert_ne!(first, other);
    }

    #[test]
    fn groupby_degenerate_sizes() {
        let (_, empty) = groupby_batches(0, 100, 0, 0);
        assert!(empty.is_empty());
        let (_, tiny) = groupby_batches(3, 0, 100, 0);
        assert_eq!(tiny.iter().map(RecordBatch::num_rows).sum::<usize>(), 3);
        let all_null = tiny
            .iter()
            .all(|b| b.columns().iter().all(|c| c.null_count() == 3));
        assert!(all_null, "nas = 100 makes every value NULL");
    }

    #[test]
    fn join_tables_follow_the_key_splits() {
        let n = 200_000;
        let tables = join_tables(n, 3);
        assert_eq!(tables.x.num_rows(), n);
        assert_eq!(tables.small.num_rows(), 1);
        assert_eq!(tables.medium.num_rows(), n / 1_000);
        assert_eq!(tables.big.num_rows(), n);

        // Every right-hand join key is unique; x.id3 is a permutation of its key set.
        let x_id3 = int64s(&tables.x, "id3");
        assert_eq!(distinct(&x_id3), n);
        let big_id3 = int64s(&tables.big, "id3");
        assert_eq!(distinct(&big_id3), n);
        let medium_id2 = int64s(&tables.medium, "id2");
        assert_eq!(distinct(&medium_id2), n / 1_000);

        // 90% of the key set is shared: exactly so for the unique id3, about so for id2.
        let big_id3: HashSet<i64> = big_id3.into_iter().collect();
        let matched = x_id3.iter().filter(|k| big_id3.contains(k)).count();
        assert_eq!(matched, n * 9 / 10);
        let x_id2 = int64s(&tables.x, "id2");
        assert_eq!(distinct(&x_id2), n / 1_000, "sample_all keeps every key");
        let medium_id2: HashSet<i64> = medium_id2.into_iter().collect();
        let matched = x_id2.iter().filter(|k| medium_id2.contains(k)).count();
        assert_near(matched as f64, 0.9 * n as f64, 0.02, "x ⋈ medium on id2");
        let all_keys: HashSet<i64> = x_id3.iter().chain(&big_id3).copied().collect();
        assert_eq!(all_keys.len(), n * 11 / 10);
        assert_eq!(all_keys.iter().min(), Some(&1));
        assert_eq!(all_keys.iter().max(), Some(&((n * 11 / 10) as i64)));

        // Labels are "id"‖key, values have 6 decimals.
        let batch = &tables.big.batches[1];
        let id1 = column(batch, "id1").as_primitive::<Int64Type>();
        let id4 = column(batch, "id4").as_string::<i32>();
        for (key, label) in id1.values().iter().zip(id4.iter()) {
            assert_eq!(label, Some(format!("id{key}").as_str()));
        }
        let v1 = float64s(&tables.x.batches, "v1");
        assert_near(
            v1.iter().flatten().sum(),
            50.0 * n as f64,
            0.01,
            "sum(x.v1)",
        );
        assert_eq!(tables.small.schema.fields().len(), 3);
        assert_eq!(tables.medium.schema.field(4).name(), "v2");
    }

    #[test]
    fn join_tables_are_deterministic_per_seed() {
        let first = join_tables(20_000, 9);
        let again = join_tables(20_000, 9);
        assert_eq!(first.x.batches, again.x.batches);
        assert_eq!(first.big.batches, again.big.batches);
        assert_ne!(first.x.batches, join_tables(20_000, 10).x.batches);
        let empty = join_tables(0, 9);
        assert_eq!(empty.x.num_rows() + empty.big.num_rows(), 0);
    }

    #[test]
    fn push_decimal_pads_and_does_not_truncate() {
        let mut out = Vec::new();
        push_decimal(&mut out, 7, 3);
        push_decimal(&mut out, 1234, 3);
        push_decimal(&mut out, 0, 0);
        push_decimal(&mut out, u64::MAX, 0);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "0071234018446744073709551615"
        );
    }
}
