//! Copy kernels for a join's output: the selected rows of a probe chunk, and the build rows
//! gathered for them.
//!
//! A unique-key inner join (H2O's j1/j2, a join on a primary key) keeps about nine left rows
//! in ten, in order, and pairs each with one build row. Arrow's general kernels pay per row
//! where this shape needs not: `filter` pushes each string offset separately behind a bounds
//! check, and `take` copies each string with its own `memcpy` call, whose set-up costs more
//! than the five bytes it moves. The kernels here copy the same bytes in bigger, fixed-size
//! steps:
//! - [`RowRuns`] are a chunk's selected rows as runs of consecutive rows. [`RowRuns::select`]
//!   copies a column run by run: a run's offsets are rebased in one loop the compiler
//!   vectorizes, and its bytes (string values, or fixed-width values) are copied at once — by
//!   a fixed [`RUN_WINDOW`]-byte copy (a few vector moves, no call) when the run is short and
//!   the source has that many bytes left, else by one `memcpy`.
//! - [`ShortStrings`] hold a build column whose values all fit in [`STRING_WINDOW`] bytes as
//!   one fixed-size window per row, made once when the build side is. A gather copies each
//!   gathered row's whole window into the output and advances by the value's real length, so
//!   the next value overwrites the slack: one vector move per row instead of a call.
//!
//! Every kernel computes its output's exact size first, so no buffer grows while copying,
//! and builds its array with Arrow's validating constructors (`try_new`); a string column's
//! UTF-8 check is one pass over the copied bytes. NULLs are carried exactly (a selected NULL
//! stays NULL; a gathered row is NULL when its index or its build value is), and sliced
//! arrays (a non-zero offset) are read through their own offsets.

use std::sync::Arc;

use arrow::array::BooleanBufferBuilder;
use arrow::array::{
    make_array, Array, ArrayData, ArrayRef, AsArray, GenericByteArray, UInt32Array,
};
use arrow::buffer::{BooleanBuffer, Buffer, MutableBuffer, NullBuffer};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{
    ArrowNativeType, BinaryType, ByteArrayType, DataType, LargeBinaryType, LargeUtf8Type, Utf8Type,
};

use crate::error::{EngineError, Result};

/// Bytes a run is copied by when it has at most this many (and the source has this many
/// left): a fixed-size copy compiles to eight 16-byte moves (larger ones become a `memcpy`
/// call); H2O's runs of about ten rows of five-byte strings, or of eight-byte integers, fit.
pub(super) const RUN_WINDOW: usize = 128;

/// The longest value a [`ShortStrings`] column holds: each row's window is this wide.
pub(super) const STRING_WINDOW: usize = 16;

/// The selected rows of a chunk of `len` rows, as runs of consecutive rows in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RowRuns {
    /// `(start, end)` of each run, end exclusive; runs are non-empty, increasing and apart.
    runs: Vec<(usize, usize)>,
    /// Rows selected in all.
    rows: usize,
    /// Rows of the chunk.
    len: usize,
}

impl RowRuns {
    /// The rows `i` of `0..len` for which `selected(i)` holds.
    pub(super) fn new(len: usize, selected: impl Fn(usize) -> bool) -> RowRuns {
        let mut runs = Vec::new();
        let mut rows = 0;
        let mut i = 0;
        while i < len {
            if !selected(i) {
                i += 1;
                continue;
            }
            let start = i;
            while i < len && selected(i) {
                i += 1;
            }
            runs.push((start, i));
            rows += i - start;
        }
        RowRuns { runs, rows, len }
    }

    /// How many rows are selected.
    pub(super) fn rows(&self) -> usize {
        self.rows
    }

    /// Whether each row of the chunk is selected, as a filter mask.
    pub(super) fn mask(&self) -> BooleanBuffer {
        let mut builder = BooleanBufferBuilder::new(self.len);
        let mut at = 0;
        for &(start, end) in &self.runs {
            builder.append_n(start - at, false);
            builder.append_n(end - start, true);
            at = end;
        }
        builder.append_n(self.len - at, false);
        builder.finish()
    }

    /// The selected rows of `array` (a column of the chunk, `len` rows), or `None` for a type
    /// these kernels do not copy (booleans, nested, dictionary and view types): the caller
    /// filters those with Arrow's kernel.
    pub(super) fn select(&self, array: &dyn Array) -> Result<Option<ArrayRef>> {
        if array.len() != self.len {
            return Err(EngineError::Internal(format!(
                "selecting from {} rows of a chunk of {}",
                array.len(),
                self.len
            )));
        }
        let selected: ArrayRef = match array.data_type() {
            DataType::Utf8 => Arc::new(self.select_bytes::<Utf8Type>(array.as_string())?),
            DataType::LargeUtf8 => Arc::new(self.select_bytes::<LargeUtf8Type>(array.as_string())?),
            DataType::Binary => Arc::new(self.select_bytes::<BinaryType>(array.as_binary())?),
            DataType::LargeBinary => {
                Arc::new(self.select_bytes::<LargeBinaryType>(array.as_binary())?)
            }
            data_type if data_type.is_primitive() => match data_type.primitive_width() {
                Some(width) => self.select_fixed(array, width)?,
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        Ok(Some(selected))
    }

    /// [`RowRuns::select`] of a string or binary column.
    fn select_bytes<T: ByteArrayType>(
        &self,
        array: &GenericByteArray<T>,
    ) -> Result<GenericByteArray<T>> {
        // Offsets of this (possibly sliced) array, into the whole values buffer.
        let offsets = array.value_offsets();
        let source = array.value_data();
        let bytes: usize = self
            .runs
            .iter()
            .map(|&(start, end)| (offsets[end] - offsets[start]).as_usize())
            .sum();
        let mut out_offsets = vec![T::Offset::usize_as(0); self.rows + 1];
        let mut values = MutableBuffer::from_len_zeroed(bytes + RUN_WINDOW);
        let (mut row, mut written) = (0, 0);
        for &(start, end) in &self.runs {
            let (first, last) = (offsets[start], offsets[end]);
            // The run's offsets moved to where its bytes land: `o - first + written` is at
            // most the selected bytes, which fit the offset type as the source's did.
            let shift = T::Offset::usize_as(written) - first;
            let run_offsets = &mut out_offsets[row + 1..row + 1 + (end - start)];
            for (out, &offset) in run_offsets.iter_mut().zip(&offsets[start + 1..=end]) {
                *out = offset + shift;
            }
            copy_run(
                values.as_slice_mut(),
                written,
                source,
                first.as_usize(),
                last.as_usize(),
            );
            row += end - start;
            written += (last - first).as_usize();
        }
        values.truncate(bytes);
        let nulls = self.select_nulls(array.nulls());
        let offsets = OffsetBuffer::new(ScalarBuffer::from(out_offsets));
        Ok(GenericByteArray::<T>::try_new(
            offsets,
            values.into(),
            nulls,
        )?)
    }

    /// [`RowRuns::select`] of a fixed-width column of `width` bytes per value: runs of values
    /// are runs of bytes, whatever the type.
    fn select_fixed(&self, array: &dyn Array, width: usize) -> Result<ArrayRef> {
        let data = array.to_data();
        let buffer = data
            .buffers()
            .first()
            .ok_or_else(|| EngineError::Internal("a fixed-width column without values".into()))?;
        let source = buffer
            .as_slice()
            .get(data.offset() * width..)
            .filter(|source| source.len() >= self.len * width)
            .ok_or_else(|| {
                EngineError::Internal("a fixed-width column shorter than its rows".into())
            })?;
        // A `MutableBuffer`, not a `Vec<u8>`: its allocation is aligned for any value type.
        let mut values = MutableBuffer::from_len_zeroed(self.rows * width + RUN_WINDOW);
        let mut written = 0;
        for &(start, end) in &self.runs {
            copy_run(
                values.as_slice_mut(),
                written,
                source,
                start * width,
                end * width,
            );
            written += (end - start) * width;
        }
        values.truncate(self.rows * width);
        let data = ArrayData::builder(array.data_type().clone())
            .len(self.rows)
            .add_buffer(values.into())
            .nulls(self.select_nulls(array.nulls()))
            .build()?;
        Ok(make_array(data))
    }

    /// The selected rows' validity, `None` when they are all valid.
    fn select_nulls(&self, nulls: Option<&NullBuffer>) -> Option<NullBuffer> {
        let nulls = nulls.filter(|n| n.null_count() > 0)?;
        let mut builder = BooleanBufferBuilder::new(self.rows);
        for &(start, end) in &self.runs {
            builder.append_buffer(&nulls.inner().slice(start, end - start));
        }
        Some(NullBuffer::new(builder.finish())).filter(|n| n.null_count() > 0)
    }
}

/// Copies `source[from..to]` to `out[at..]`, which has [`RUN_WINDOW`] bytes of slack past
/// the copy: a short run is copied as a whole window (a fixed-size copy, no call); the next
/// run overwrites what the window wrote past this one.
#[inline(always)]
fn copy_run(out: &mut [u8], at: usize, source: &[u8], from: usize, to: usize) {
    let len = to - from;
    if len <= RUN_WINDOW && from + RUN_WINDOW <= source.len() {
        out[at..at + RUN_WINDOW].copy_from_slice(&source[from..from + RUN_WINDOW]);
    } else {
        out[at..at + len].copy_from_slice(&source[from..to]);
    }
}

/// A build column of strings (or binary values) that all fit in [`STRING_WINDOW`] bytes, as
/// one window per row: what [`ShortStrings::gather`] copies a row by.
#[derive(Debug)]
pub(super) struct ShortStrings {
    data_type: DataType,
    /// Row `r`'s value, zero-padded to the window (empty for a NULL), then one empty row.
    windows: Vec<[u8; STRING_WINDOW]>,
    /// Row `r`'s length in bytes (0 for a NULL), then 0 for the empty row.
    lengths: Vec<u8>,
    nulls: Option<NullBuffer>,
}

/// A window of zeros: the value of a NULL.
const EMPTY_WINDOW: [u8; STRING_WINDOW] = [0; STRING_WINDOW];

impl ShortStrings {
    /// The windows of `array` when it is a `Utf8` or `Binary` column whose non-NULL values
    /// all have at most [`STRING_WINDOW`] bytes; `None` otherwise.
    pub(super) fn try_new(array: &dyn Array) -> Option<ShortStrings> {
        match array.data_type() {
            DataType::Utf8 => Self::of(array.as_string::<i32>()),
            DataType::Binary => Self::of(array.as_binary::<i32>()),
            _ => None,
        }
    }

    fn of<T: ByteArrayType<Offset = i32>>(array: &GenericByteArray<T>) -> Option<ShortStrings> {
        let offsets = array.value_offsets();
        let source = array.value_data();
        let nulls = array.nulls().filter(|n| n.null_count() > 0).cloned();
        let mut windows = Vec::with_capacity(array.len());
        let mut lengths = Vec::with_capacity(array.len());
        for (row, pair) in offsets.windows(2).enumerate() {
            let (from, to) = (pair[0].as_usize(), pair[1].as_usize());
            let mut window = EMPTY_WINDOW;
            if nulls.as_ref().is_some_and(|n| n.is_null(row)) {
                lengths.push(0);
            } else {
                let value = source.get(from..to)?;
                window.get_mut(..value.len())?.copy_from_slice(value);
                lengths.push(value.len() as u8);
            }
            windows.push(window);
        }
        // An empty row past the last, read for a NULL index.
        windows.push(EMPTY_WINDOW);
        lengths.push(0);
        Some(ShortStrings {
            data_type: T::DATA_TYPE,
            windows,
            lengths,
            nulls,
        })
    }

    /// The values at `indices` (a NULL index gives NULL), like Arrow's `take`.
    pub(super) fn gather(&self, indices: &UInt32Array) -> Result<ArrayRef> {
        Ok(match self.data_type {
            DataType::Binary => Arc::new(self.gather_as::<BinaryType>(indices)?),
            _ => Arc::new(self.gather_as::<Utf8Type>(indices)?),
        })
    }

    fn gather_as<T: ByteArrayType<Offset = i32>>(
        &self,
        indices: &UInt32Array,
    ) -> Result<GenericByteArray<T>> {
        // The last window is an extra empty row, read for a NULL index.
        let rows = self.lengths.len() - 1;
        let index_nulls = indices.nulls().filter(|n| n.null_count() > 0);
        let redirected: Vec<u32>;
        let (rows_read, past_end) = match index_nulls {
            None => {
                let values = indices.values().as_ref();
                // `max` vectorizes, where a search for the first bad index would not.
                let largest = values.iter().copied().max().unwrap_or(0);
                (values, largest as usize >= rows && !values.is_empty())
            }
            Some(valid) => {
                let mut past_end = false;
                redirected = indices
                    .values()
                    .iter()
                    .zip(valid.iter())
                    .map(|(&index, valid)| match valid {
                        true => {
                            past_end |= index as usize >= rows;
                            index
                        }
                        false => rows as u32,
                    })
                    .collect();
                (redirected.as_slice(), past_end)
            }
        };
        if past_end {
            return Err(EngineError::Internal(format!(
                "a join build row index past {rows} rows"
            )));
        }
        let bytes: usize = rows_read
            .iter()
            .map(|&r| self.lengths[r as usize] as usize)
            .sum();
        if bytes > i32::MAX as usize {
            return Err(EngineError::ResourcesExhausted(format!(
                "a gathered string column of {bytes} bytes"
            )));
        }
        let mut offsets = vec![0i32; rows_read.len() + 1];
        let mut values = vec![0u8; bytes + STRING_WINDOW];
        let mut written = 0;
        for (offset, &row) in offsets[1..].iter_mut().zip(rows_read) {
            let row = row as usize;
            values[written..written + STRING_WINDOW].copy_from_slice(&self.windows[row]);
            written += self.lengths[row] as usize;
            *offset = written as i32;
        }
        values.truncate(bytes);
        let nulls = match (&self.nulls, index_nulls) {
            (None, None) => None,
            (build_nulls, _) => {
                let valid = BooleanBuffer::collect_bool(indices.len(), |position| {
                    indices.is_valid(position)
                        && build_nulls
                            .as_ref()
                            .is_none_or(|n| n.is_valid(indices.values()[position] as usize))
                });
                Some(NullBuffer::new(valid)).filter(|n| n.null_count() > 0)
            }
        };
        Ok(GenericByteArray::<T>::try_new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Buffer::from_vec(values),
            nulls,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        BinaryArray, BooleanArray, Decimal128Array, Float64Array, Int64Array, Int8Array,
        LargeStringArray, StringArray, TimestampMicrosecondArray,
    };
    use arrow::compute::{filter, take};
    use proptest::prelude::*;

    /// Values of every length class: empty, short ASCII, short multi-byte, long.
    fn value() -> impl Strategy<Value = Option<String>> {
        prop::option::weighted(
            0.85,
            prop_oneof![
                Just(String::new()),
                "[a-z0-9]{1,6}",
                "[é€a]{1,5}",
                "[a-z]{17,90}",
            ],
        )
    }

    /// Values of at most [`STRING_WINDOW`] bytes (a multi-byte character is up to 3 here).
    fn short_value() -> impl Strategy<Value = Option<String>> {
        prop::option::weighted(
            0.85,
            prop_oneof![Just(String::new()), "[a-z]{1,16}", "[é€]{1,5}"],
        )
    }

    /// Columns of every layout the kernels copy, and one (booleans) they leave to Arrow.
    fn columns(values: &[Option<String>]) -> Vec<ArrayRef> {
        let numbers = || {
            values
                .iter()
                .enumerate()
                .map(|(i, v)| v.as_ref().map(|_| i as i64 * 7919 - 3))
        };
        vec![
            Arc::new(StringArray::from_iter(values.iter().cloned())),
            Arc::new(LargeStringArray::from_iter(values.iter().cloned())),
            Arc::new(BinaryArray::from_iter(
                values.iter().map(|v| v.as_ref().map(String::as_bytes)),
            )),
            Arc::new(Int64Array::from_iter(numbers())),
            Arc::new(Int8Array::from_iter(numbers().map(|v| v.map(|v| v as i8)))),
            Arc::new(Float64Array::from_iter_values(
                numbers().map(|v| v.unwrap_or(0) as f64 / 8.0),
            )),
            Arc::new(
                Decimal128Array::from_iter(numbers().map(|v| v.map(|v| v as i128 * 1_000_003)))
                    .with_precision_and_scale(30, 4)
                    .unwrap(),
            ),
            Arc::new(TimestampMicrosecondArray::from_iter(numbers()).with_timezone("Europe/Paris")),
            Arc::new(BooleanArray::from_iter(
                numbers().map(|v| v.map(|v| v % 3 == 0)),
            )),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn selecting_runs_gives_arrows_filter(
            values in prop::collection::vec(value(), 0..400),
            share in prop::sample::select(vec![0.0, 0.3, 0.9, 1.0]),
            seed in any::<u64>(),
            offset in 0usize..40,
        ) {
            let offset = offset.min(values.len());
            let len = values.len() - offset;
            // A pseudo-random mask keeping about `share` of the rows.
            let keep: Vec<bool> = (0..len)
                .map(|i| {
                    let draw = ((i as u64 ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as f64;
                    draw / ((1u64 << 24) as f64) < share
                })
                .collect();
            let runs = RowRuns::new(len, |i| keep[i]);
            prop_assert_eq!(runs.rows(), keep.iter().filter(|k| **k).count());
            prop_assert_eq!(runs.mask(), BooleanBuffer::from(keep.clone()));
            let predicate = BooleanArray::from(keep);
            for column in columns(&values) {
                let sliced = column.slice(offset, len);
                let expected = filter(sliced.as_ref(), &predicate).unwrap();
                match runs.select(sliced.as_ref()).unwrap() {
                    Some(got) => {
                        prop_assert_eq!(got.to_data(), expected.to_data(), "{}", column.data_type());
                        prop_assert_eq!(got.null_count(), expected.null_count());
                    }
                    None => prop_assert_eq!(column.data_type(), &DataType::Boolean),
                }
            }
        }

        #[test]
        fn gathering_short_strings_gives_arrows_take(
            values in prop::collection::vec(short_value(), 1..300),
            picks in prop::collection::vec(prop::option::weighted(0.9, any::<u32>()), 0..500),
            offset in 0usize..20,
        ) {
            let offset = offset.min(values.len() - 1);
            let rows = values.len() - offset;
            // Valid indices within the rows; a NULL index holds a value past them.
            let indices = UInt32Array::from_iter(picks.iter().map(|p| p.map(|p| p % rows as u32)));
            let indices = UInt32Array::new(
                picks.iter().map(|p| p.map_or(u32::MAX, |p| p % rows as u32)).collect(),
                indices.nulls().cloned(),
            );
            let strings: ArrayRef = Arc::new(StringArray::from_iter(values.iter().cloned()));
            let binary: ArrayRef = Arc::new(BinaryArray::from_iter(
                values.iter().map(|v| v.as_ref().map(String::as_bytes)),
            ));
            for column in [strings, binary] {
                let sliced = column.slice(offset, rows);
                let short = ShortStrings::try_new(sliced.as_ref());
                prop_assert!(short.is_some());
                let got = short.unwrap().gather(&indices).unwrap();
                let expected = take(sliced.as_ref(), &indices, None).unwrap();
                prop_assert_eq!(got.to_data(), expected.to_data());
                prop_assert_eq!(got.null_count(), expected.null_count());
            }
        }
    }

    #[test]
    fn runs_of_a_pattern() {
        let keep = [
            false, true, true, false, false, true, true, true, false, true,
        ];
        let runs = RowRuns::new(keep.len(), |i| keep[i]);
        assert_eq!(runs.runs, vec![(1, 3), (5, 8), (9, 10)]);
        assert_eq!(runs.rows(), 6);
        assert_eq!(RowRuns::new(4, |_| true).runs, vec![(0, 4)]);
        assert_eq!(RowRuns::new(4, |_| false).rows(), 0);
        assert_eq!(RowRuns::new(0, |_| true).runs, vec![]);
    }

    #[test]
    fn runs_longer_than_the_window_and_values_at_the_buffers_end() {
        // A 300-byte run, then single rows up to the last byte of the values buffer: the
        // window copy must not read past it.
        let values: Vec<String> = (0..100).map(|i| "x".repeat(i % 7)).collect();
        let array = StringArray::from(values.iter().map(String::as_str).collect::<Vec<_>>());
        let keep: Vec<bool> = (0..100).map(|i| i < 90 || i % 2 == 1).collect();
        let runs = RowRuns::new(100, |i| keep[i]);
        let got = runs.select(&array).unwrap().unwrap();
        let expected = filter(&array, &BooleanArray::from(keep)).unwrap();
        assert_eq!(got.as_ref(), expected.as_ref());
        assert_eq!(got.as_string::<i32>().value(0), "");
        assert_eq!(
            got.as_string::<i32>().value(got.len() - 1),
            "x".repeat(99 % 7)
        );
    }

    #[test]
    fn a_column_of_another_length_is_an_error() {
        let runs = RowRuns::new(3, |_| true);
        let column = Int64Array::from(vec![1, 2]);
        assert!(matches!(
            runs.select(&column),
            Err(EngineError::Internal(_))
        ));
    }

    #[test]
    fn short_strings_only_for_short_values() {
        let short = StringArray::from(vec![Some("id1"), None, Some("sixteen_bytes_ok")]);
        assert!(ShortStrings::try_new(&short).is_some());
        let long = StringArray::from(vec![Some("id1"), Some("seventeen_bytes_x")]);
        assert!(ShortStrings::try_new(&long).is_none());
        assert!(ShortStrings::try_new(&LargeStringArray::from(vec!["a"])).is_none());
        assert!(ShortStrings::try_new(&Int64Array::from(vec![1])).is_none());
        // A long value under a NULL is never copied: the column still qualifies.
        let offsets = OffsetBuffer::new(ScalarBuffer::from(vec![0, 2, 42]));
        let values = Buffer::from_vec(b"ab".repeat(21));
        let hidden = StringArray::new(offsets, values, Some(NullBuffer::from(vec![true, false])));
        let gathered = ShortStrings::try_new(&hidden)
            .unwrap()
            .gather(&UInt32Array::from(vec![1, 0, 1]))
            .unwrap();
        let expected = StringArray::from(vec![None, Some("ab"), None]);
        assert_eq!(gathered.as_ref(), &expected as &dyn Array);
    }

    #[test]
    fn an_index_past_the_build_rows_is_an_error_not_a_panic() {
        let short = ShortStrings::try_new(&StringArray::from(vec!["a", "b"])).unwrap();
        let past = UInt32Array::from(vec![0, 2]);
        assert!(matches!(short.gather(&past), Err(EngineError::Internal(_))));
        let gathered = short.gather(&UInt32Array::from(vec![1, 1, 0])).unwrap();
        assert_eq!(
            gathered.as_ref(),
            &StringArray::from(vec!["b", "b", "a"]) as &dyn Array
        );
    }
}
