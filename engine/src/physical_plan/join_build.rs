//! How a hash join keeps its build side's payload for the probe's gathers: [`BuildRows`],
//! a large build side stored row by row, and [`BuildColumns`], a smaller one kept as columns.
//!
//! **Columns.** A build side that stays in cache is one batch; gathering from it is Arrow's
//! `take`, except for string columns whose values are all short, which are also kept as
//! fixed-size windows ([`ShortStrings`]) when the build side is made: a gather then copies a
//! window per row instead of calling `memcpy` for a few bytes (H2O's j2 gathers two such
//! columns for nine million rows).
//!
//! **Rows.**
//! A probe gathers build rows in key order, which is random order: with the build side kept
//! as columns, every output row costs one cache miss per build column (two for a string: its
//! offset, then its bytes), about ten for H2O's `big` table. Stored as rows, a build row's
//! fixed-width values, its short strings (inline, after a length byte) and its validity
//! bits lie in one cache line (rows of up to 64 bytes are padded to a power of two, so none
//! straddles two lines): one miss per output row, whatever the width.
//!
//! A gather first copies the wanted rows into a scratch buffer — a tight loop whose loads
//! are independent, so the processor keeps many misses in flight — then cuts that buffer,
//! now in cache, into output columns (an inline string by a fixed 32-byte window, the way
//! [`ShortStrings`] gathers). A NULL index copies a row of zeros, whose validity
//! bits say NULL. Columns a row cannot hold (strings longer than [`MAX_INLINE`] bytes,
//! booleans, nested types) are concatenated and gathered with `take`, as before.
//!
//! Building the rows replaces concatenating the build columns; it runs on parallel threads,
//! each writing the rows of a run of input batches.

use std::sync::Arc;

use arrow::array::{make_array, Array, ArrayData, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::buffer::{BooleanBuffer, Buffer, MutableBuffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::compute::{concat, take};
use arrow::datatypes::{DataType, SchemaRef};

use super::join_worker;
use super::selection::ShortStrings;
use crate::error::{EngineError, Result};

/// Build sides of up to this many rows keep their short string columns also as windows
/// (16 bytes a row: 16 MiB per column at most).
const SHORT_STRING_ROWS: usize = 1 << 20;

/// The build side's columns as one batch, gathered by row index (see the module docs).
pub(super) struct BuildColumns {
    batch: RecordBatch,
    /// Per column: its values as windows, when it is a column of short strings.
    short: Vec<Option<ShortStrings>>,
}

impl BuildColumns {
    /// The build side `batch`, its short string columns also as windows.
    pub(super) fn new(batch: RecordBatch) -> BuildColumns {
        let short = batch
            .columns()
            .iter()
            .map(|column| {
                (column.len() <= SHORT_STRING_ROWS)
                    .then(|| ShortStrings::try_new(column.as_ref()))
                    .flatten()
            })
            .collect();
        BuildColumns { batch, short }
    }

    /// How many build columns there are.
    pub(super) fn column_count(&self) -> usize {
        self.batch.num_columns()
    }

    /// The build columns at `indices` (a NULL index gives a NULL row) that `wanted` marks, in
    /// build column order; `None` for the others.
    pub(super) fn gather_wanted(
        &self,
        indices: &arrow::array::UInt32Array,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayRef>>> {
        self.batch
            .columns()
            .iter()
            .zip(&self.short)
            .enumerate()
            .map(|(c, (column, short))| {
                if !wanted.get(c).copied().unwrap_or(true) {
                    return Ok(None);
                }
                Ok(Some(match short {
                    Some(short) => short.gather(indices)?,
                    None => take(column.as_ref(), indices, None)?,
                }))
            })
            .collect()
    }
}

/// Longest string kept inside a row; a column with a longer value stays a column.
const MAX_INLINE: usize = 30;
/// Bytes an inline string is copied by when gathered: at least [`MAX_INLINE`].
const INLINE_WINDOW: usize = 32;
/// Rows written per pass over the columns while building: the rows stay in cache
/// while each column's values are copied into them.
const BUILD_CHUNK: usize = 2048;

/// Where one build column lives.
#[derive(Debug)]
enum Slot {
    /// A fixed-width value of `width` bytes at `offset` in each row.
    Fixed { offset: usize, width: usize },
    /// A string of at most `capacity` bytes at `offset`: its length byte, then its bytes.
    Inline { offset: usize, capacity: usize },
    /// Not in the rows: the whole column, gathered with `take`.
    Column(ArrayRef),
}

#[derive(Debug)]
struct PayloadColumn {
    data_type: DataType,
    slot: Slot,
    /// The bit of the row's leading validity bytes that says the value is not NULL, for a
    /// column holding NULLs.
    null_bit: Option<usize>,
}

/// The build side's columns as fixed-width rows (see the module docs).
pub(super) struct BuildRows {
    rows: usize,
    /// Bytes per row.
    width: usize,
    /// Row `r` is `data[start + r * width..][..width]`; `start` aligns rows to cache lines.
    data: Vec<u8>,
    start: usize,
    columns: Vec<PayloadColumn>,
}

impl BuildRows {
    /// The rows of `batches`, written on up to `threads` threads; `None` when no column of
    /// `schema` fits in a row (then rows would only add a copy).
    pub(super) fn try_new(
        schema: &SchemaRef,
        batches: &[RecordBatch],
        threads: usize,
    ) -> Result<Option<BuildRows>> {
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let mut columns = Vec::with_capacity(schema.fields().len());
        let nullable: Vec<bool> = (0..schema.fields().len())
            .map(|c| batches.iter().any(|b| b.column(c).logical_null_count() > 0))
            .collect();
        let null_bytes = nullable.iter().filter(|n| **n).count().div_ceil(8);
        let (mut width, mut null_bit, mut in_rows) = (null_bytes, 0, 0);
        for (c, field) in schema.fields().iter().enumerate() {
            let data_type = field.data_type().clone();
            let slot = match fixed_width(&data_type) {
                Some(size) => Slot::Fixed {
                    offset: width,
                    width: size,
                },
                None => match longest_string(batches, c, &data_type) {
                    Some(capacity) if capacity <= MAX_INLINE => Slot::Inline {
                        offset: width,
                        capacity,
                    },
                    _ => {
                        let arrays: Vec<&dyn Array> =
                            batches.iter().map(|b| b.column(c).as_ref()).collect();
                        Slot::Column(if arrays.len() == 1 {
                            Arc::clone(batches[0].column(c))
                        } else {
                            concat(&arrays)?
                        })
                    }
                },
            };
            match &slot {
                Slot::Fixed { width: size, .. } => width += size,
                Slot::Inline { capacity, .. } => width += 1 + capacity,
                Slot::Column(_) => {}
            }
            in_rows += usize::from(!matches!(slot, Slot::Column(_)));
            let bit = (nullable[c] && !matches!(slot, Slot::Column(_))).then(|| {
                null_bit += 1;
                null_bit - 1
            });
            columns.push(PayloadColumn {
                data_type,
                slot,
                null_bit: bit,
            });
        }
        if in_rows == 0 {
            return Ok(None);
        }
        // Up to a cache line, a power of two: no row straddles two lines.
        let width = if width <= 64 {
            width.next_power_of_two()
        } else {
            width.div_ceil(16) * 16
        };
        let mut data = vec![0u8; rows * width + 64];
        let start = data.as_ptr().align_offset(64).min(63);
        let mut rows_built = BuildRows {
            rows,
            width,
            data: Vec::new(),
            start,
            columns,
        };
        rows_built.write(&mut data[start..start + rows * width], batches, threads)?;
        rows_built.data = data;
        Ok(Some(rows_built))
    }

    /// Writes the rows of `batches` into `out`, runs of batches on parallel threads.
    fn write(&self, out: &mut [u8], batches: &[RecordBatch], threads: usize) -> Result<()> {
        let threads = threads.clamp(1, batches.len().max(1));
        if threads == 1 {
            return self.write_batches(out, batches);
        }
        // Contiguous runs of batches of about equal rows, one per thread.
        let share = self.rows.div_ceil(threads);
        let mut runs: Vec<(&[RecordBatch], &mut [u8])> = Vec::with_capacity(threads);
        let (mut rest_batches, mut rest_out) = (batches, out);
        while !rest_batches.is_empty() {
            let (mut count, mut rows) = (0, 0);
            while count < rest_batches.len() && (rows < share || count == 0) {
                rows += rest_batches[count].num_rows();
                count += 1;
            }
            let (run, others) = rest_batches.split_at(count);
            let (run_out, others_out) = rest_out.split_at_mut(rows * self.width);
            runs.push((run, run_out));
            (rest_batches, rest_out) = (others, others_out);
        }
        std::thread::scope(|scope| {
            let handles: Vec<_> = runs
                .into_iter()
                .map(|(run, run_out)| scope.spawn(move || self.write_batches(run_out, run)))
                .collect();
            handles.into_iter().try_for_each(join_worker)
        })
    }

    /// Writes the rows of `batches`, in order, into `out`.
    fn write_batches(&self, out: &mut [u8], batches: &[RecordBatch]) -> Result<()> {
        let mut out = out;
        for batch in batches {
            let (batch_out, rest) = out.split_at_mut(batch.num_rows() * self.width);
            out = rest;
            for first in (0..batch.num_rows()).step_by(BUILD_CHUNK) {
                let len = BUILD_CHUNK.min(batch.num_rows() - first);
                let chunk = &mut batch_out[first * self.width..(first + len) * self.width];
                for (column, array) in self.columns.iter().zip(batch.columns()) {
                    column.write(chunk, self.width, &array.slice(first, len))?;
                }
            }
        }
        Ok(())
    }

    /// How many build columns the rows hold.
    pub(super) fn column_count(&self) -> usize {
        self.columns.len()
    }

    /// The build columns at `indices` (a NULL index gives a NULL row) that `wanted` marks, in
    /// build column order; `None` for the others. Nothing is copied when no column is wanted.
    pub(super) fn gather_wanted(
        &self,
        indices: &arrow::array::UInt32Array,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayRef>>> {
        if !wanted.iter().any(|&w| w) {
            return Ok(vec![None; self.columns.len()]);
        }
        let width = self.width;
        let rows = &self.data[self.start..self.start + self.rows * width];
        let scratch = match width {
            16 => gather_rows::<16>(rows, indices),
            32 => gather_rows::<32>(rows, indices),
            64 => gather_rows::<64>(rows, indices),
            _ => gather_rows_of(rows, width, indices),
        }
        .ok_or_else(|| {
            EngineError::Internal(format!("a join build row index past {} rows", self.rows))
        })?;
        self.columns
            .iter()
            .enumerate()
            .map(|(c, column)| {
                if wanted.get(c).copied().unwrap_or(true) {
                    column.read(&scratch, width, indices).map(Some)
                } else {
                    Ok(None)
                }
            })
            .collect()
    }
}

/// The rows at `indices`, `W` bytes each, one after another; zeros for a NULL index.
/// `None` when a valid index is out of range.
fn gather_rows<const W: usize>(
    rows: &[u8],
    indices: &arrow::array::UInt32Array,
) -> Option<Vec<u8>> {
    let mut scratch = vec![0u8; indices.len() * W];
    let valid = indices.nulls();
    for (position, (out, &index)) in scratch
        .chunks_exact_mut(W)
        .zip(indices.values().iter())
        .enumerate()
    {
        if valid.is_none_or(|v| v.is_valid(position)) {
            let start = index as usize * W;
            out.copy_from_slice(rows.get(start..start + W)?);
        }
    }
    Some(scratch)
}

/// [`gather_rows`] for any row width.
fn gather_rows_of(
    rows: &[u8],
    width: usize,
    indices: &arrow::array::UInt32Array,
) -> Option<Vec<u8>> {
    let mut scratch = vec![0u8; indices.len() * width];
    let valid = indices.nulls();
    for (position, (out, &index)) in scratch
        .chunks_exact_mut(width)
        .zip(indices.values().iter())
        .enumerate()
    {
        if valid.is_none_or(|v| v.is_valid(position)) {
            let start = index as usize * width;
            out.copy_from_slice(rows.get(start..start + width)?);
        }
    }
    Some(scratch)
}

impl PayloadColumn {
    /// Copies `array`'s values into `rows` (one row per value, `width` bytes each).
    fn write(&self, rows: &mut [u8], width: usize, array: &ArrayRef) -> Result<()> {
        let nulls = array.logical_nulls();
        let valid = |i: usize| nulls.as_ref().is_none_or(|n| n.is_valid(i));
        match &self.slot {
            Slot::Fixed {
                offset,
                width: size,
            } => {
                let data = array.to_data();
                let values = data.buffers().first().ok_or_else(|| {
                    EngineError::Internal("fixed-width column without values".into())
                })?;
                let values = &values.as_slice()[data.offset() * size..];
                let rows = rows.chunks_exact_mut(width);
                match size {
                    1 => write_fixed::<1>(rows, *offset, values),
                    2 => write_fixed::<2>(rows, *offset, values),
                    4 => write_fixed::<4>(rows, *offset, values),
                    8 => write_fixed::<8>(rows, *offset, values),
                    _ => write_fixed::<16>(rows, *offset, values),
                }
            }
            Slot::Inline { offset, .. } => {
                let strings: &StringArray = array.as_string::<i32>();
                for (i, row) in rows.chunks_exact_mut(width).enumerate() {
                    if valid(i) {
                        let value = strings.value(i).as_bytes();
                        row[*offset] = value.len() as u8;
                        row[offset + 1..offset + 1 + value.len()].copy_from_slice(value);
                    }
                }
            }
            Slot::Column(_) => return Ok(()),
        }
        if let Some(bit) = self.null_bit {
            for (i, row) in rows.chunks_exact_mut(width).enumerate() {
                if valid(i) {
                    row[bit / 8] |= 1 << (bit % 8);
                }
            }
        }
        Ok(())
    }

    /// This column of the gathered `scratch` rows; `indices` gives the NULL rows of a
    /// column whose rows hold no validity bit.
    fn read(
        &self,
        scratch: &[u8],
        width: usize,
        indices: &arrow::array::UInt32Array,
    ) -> Result<ArrayRef> {
        let len = indices.len();
        let nulls = match self.null_bit {
            Some(bit) => {
                let valid = BooleanBuffer::collect_bool(len, |i| {
                    scratch[i * width + bit / 8] & (1 << (bit % 8)) != 0
                });
                Some(NullBuffer::new(valid)).filter(|n| n.null_count() > 0)
            }
            None => indices.nulls().cloned(),
        };
        let rows = scratch.chunks_exact(width);
        match &self.slot {
            Slot::Fixed {
                offset,
                width: size,
            } => {
                let values = match size {
                    1 => fixed::<1>(rows, *offset),
                    2 => fixed::<2>(rows, *offset),
                    4 => fixed::<4>(rows, *offset),
                    8 => fixed::<8>(rows, *offset),
                    _ => fixed::<16>(rows, *offset),
                };
                let data = ArrayData::builder(self.data_type.clone())
                    .len(len)
                    .add_buffer(values)
                    .nulls(nulls)
                    .build()?;
                Ok(make_array(data))
            }
            Slot::Inline { offset, .. } => {
                // The output's exact size first; then each value is copied as a fixed
                // window of scratch (one vector move, no `memcpy` call), which may run into
                // the next row: the next value overwrites what lies past this one.
                let bytes: usize = rows.map(|row| row[*offset] as usize).sum();
                let mut offsets = vec![0i32; len + 1];
                let mut values = vec![0u8; bytes + INLINE_WINDOW];
                let mut written = 0;
                for (i, out) in offsets[1..].iter_mut().enumerate() {
                    let at = i * width + offset;
                    let length = scratch[at] as usize;
                    match scratch.get(at + 1..at + 1 + INLINE_WINDOW) {
                        Some(window) => {
                            values[written..written + INLINE_WINDOW].copy_from_slice(window)
                        }
                        None => values[written..written + length]
                            .copy_from_slice(&scratch[at + 1..at + 1 + length]),
                    }
                    written += length;
                    *out = written as i32;
                }
                values.truncate(bytes);
                let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
                Ok(Arc::new(StringArray::try_new(
                    offsets,
                    Buffer::from_vec(values),
                    nulls,
                )?))
            }
            Slot::Column(column) => Ok(take(column.as_ref(), indices, None)?),
        }
    }
}

/// Writes value `i` of `values` (`N` bytes each) at `offset` of row `i`.
fn write_fixed<const N: usize>(
    rows: std::slice::ChunksExactMut<'_, u8>,
    offset: usize,
    values: &[u8],
) {
    for (row, value) in rows.zip(values.chunks_exact(N)) {
        row[offset..offset + N].copy_from_slice(value);
    }
}

/// `N` bytes at `offset` of every row.
fn fixed<const N: usize>(rows: std::slice::ChunksExact<'_, u8>, offset: usize) -> Buffer {
    // A `MutableBuffer`, not a `Vec<u8>`: its allocation is aligned for any value type.
    let mut out = MutableBuffer::with_capacity(rows.len() * N);
    for row in rows {
        out.extend_from_slice(&row[offset..offset + N]);
    }
    out.into()
}

/// The byte width of a fixed-width type a row can hold.
fn fixed_width(data_type: &DataType) -> Option<usize> {
    if !data_type.is_primitive() {
        return None;
    }
    data_type
        .primitive_width()
        .filter(|w| matches!(w, 1 | 2 | 4 | 8 | 16))
}

/// The longest value of column `c` when it is a plain string column.
fn longest_string(batches: &[RecordBatch], c: usize, data_type: &DataType) -> Option<usize> {
    if *data_type != DataType::Utf8 {
        return None;
    }
    let mut longest = 0;
    for batch in batches {
        let offsets = batch.column(c).as_string::<i32>().value_offsets();
        for pair in offsets.windows(2) {
            longest = longest.max((pair[1] - pair[0]) as usize);
        }
    }
    Some(longest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        BooleanArray, Decimal128Array, Float64Array, Int16Array, Int64Array, Int8Array,
        TimestampMicrosecondArray, UInt32Array,
    };
    use arrow::compute::concat_batches;
    use arrow::datatypes::{Field, Schema, TimeUnit};

    /// Columns of every kind a row holds (and two it does not), with NULLs in some.
    fn batch(first: i64, rows: usize) -> RecordBatch {
        let range = first..first + rows as i64;
        let schema = Arc::new(Schema::new(vec![
            Field::new("i8", DataType::Int8, true),
            Field::new("i16", DataType::Int16, false),
            Field::new("i64", DataType::Int64, true),
            Field::new("f64", DataType::Float64, false),
            Field::new("dec", DataType::Decimal128(20, 2), true),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("short", DataType::Utf8, true),
            Field::new("long", DataType::Utf8, true),
            Field::new("flag", DataType::Boolean, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int8Array::from_iter(
                range.clone().map(|v| (v % 3 != 0).then_some(v as i8)),
            )),
            Arc::new(Int16Array::from_iter_values(
                range.clone().map(|v| -v as i16),
            )),
            Arc::new(Int64Array::from_iter(
                range.clone().map(|v| (v % 5 != 0).then_some(v << 40)),
            )),
            Arc::new(Float64Array::from_iter_values(
                range.clone().map(|v| v as f64 / 4.0),
            )),
            Arc::new(
                Decimal128Array::from_iter(
                    range
                        .clone()
                        .map(|v| (v % 4 != 1).then_some(v as i128 * 1_000_003)),
                )
                .with_precision_and_scale(20, 2)
                .unwrap(),
            ),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(range.clone().map(|v| v * 1_000_000))
                    .with_timezone("UTC"),
            ),
            Arc::new(StringArray::from_iter(
                range
                    .clone()
                    .map(|v| (v % 7 != 3).then(|| "é".repeat(v as usize % 16))),
            )),
            Arc::new(StringArray::from_iter(
                range
                    .clone()
                    .map(|v| (v % 2 == 0).then(|| format!("{v:>40}"))),
            )),
            Arc::new(BooleanArray::from_iter(
                range.map(|v| (v % 6 != 0).then_some(v % 4 == 0)),
            )),
        ];
        RecordBatch::try_new(schema, columns).unwrap()
    }

    /// Every build column at `indices`.
    fn gather_all(built: &BuildRows, indices: &UInt32Array) -> Result<Vec<ArrayRef>> {
        let wanted = vec![true; built.column_count()];
        Ok(built
            .gather_wanted(indices, &wanted)?
            .into_iter()
            .flatten()
            .collect())
    }

    #[test]
    fn gathers_what_take_gathers() {
        let batches = vec![batch(0, 5000), batch(5000, 1), batch(5001, 3000)];
        let schema = batches[0].schema();
        let all = concat_batches(&schema, &batches).unwrap();
        let rows = all.num_rows() as u32;
        // Random order, repeats, a NULL index, first and last row.
        let indices = UInt32Array::from_iter(
            (0..3000u32)
                .map(|i| (i % 11 != 5).then_some(i.wrapping_mul(2_654_435_761) % rows))
                .chain([Some(0), Some(rows - 1), None]),
        );
        for threads in [1, 2, 3, 8] {
            let built = BuildRows::try_new(&schema, &batches, threads)
                .unwrap()
                .unwrap();
            assert_eq!(built.rows, rows as usize);
            // Seven columns in the row, "long" and "flag" as columns.
            let in_rows = built
                .columns
                .iter()
                .filter(|c| !matches!(c.slot, Slot::Column(_)))
                .count();
            assert_eq!(in_rows, 7);
            assert_eq!((built.data.as_ptr() as usize + built.start) % 64, 0);
            let got = gather_all(&built, &indices).unwrap();
            for (c, column) in all.columns().iter().enumerate() {
                let expected = take(column.as_ref(), &indices, None).unwrap();
                assert_eq!(
                    got[c].as_ref(),
                    expected.as_ref(),
                    "column {c}, {threads} threads"
                );
            }
        }
    }

    #[test]
    fn an_index_past_the_rows_is_an_error_not_a_panic() {
        let batches = vec![batch(0, 100)];
        let built = BuildRows::try_new(&batches[0].schema(), &batches, 1)
            .unwrap()
            .unwrap();
        let past = UInt32Array::from(vec![3, 100]);
        assert!(matches!(
            gather_all(&built, &past),
            Err(EngineError::Internal(_))
        ));
        // A NULL index's value is never read.
        let null_past = UInt32Array::from(vec![Some(3), None]);
        let null_past = UInt32Array::new(vec![3, 100_000].into(), null_past.nulls().cloned());
        let got = gather_all(&built, &null_past).unwrap();
        assert_eq!(
            got[3]
                .as_primitive::<arrow::datatypes::Float64Type>()
                .value(0),
            0.75
        );
        assert!(got.iter().all(|column| column.is_null(1)));
    }

    #[test]
    fn rows_fit_in_a_cache_line_when_they_can() {
        let batches = vec![batch(0, 16)];
        let built = BuildRows::try_new(&batches[0].schema(), &batches, 2)
            .unwrap()
            .unwrap();
        // 1 validity byte + 1 + 2 + 8 + 8 + 16 + 8 + (1 + 30) = 75 bytes: rounded to 80.
        assert_eq!(built.width, 80);
        let batches = vec![batch(0, 10)];
        let built = BuildRows::try_new(&batches[0].schema(), &batches, 2)
            .unwrap()
            .unwrap();
        // The longest short string is 18 bytes: 1 + 1 + 2 + 8 + 8 + 16 + 8 + (1 + 18) = 63.
        assert_eq!(built.width, 64);
        let narrow = batches[0].project(&[0, 1, 3]).unwrap();
        let built = BuildRows::try_new(&narrow.schema(), &[narrow], 2)
            .unwrap()
            .unwrap();
        // 1 + 1 + 2 + 8 = 12 bytes: padded to 16.
        assert_eq!(built.width, 16);
        let flags = batches[0].project(&[7, 8]).unwrap();
        assert!(BuildRows::try_new(&flags.schema(), &[flags], 2)
            .unwrap()
            .is_none());
    }
}
