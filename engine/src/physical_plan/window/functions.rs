//! The window functions themselves, computed over rows already sorted by partition and order.
//!
//! Every function writes its result for the sorted rows in one pass over the partitions:
//! ranking functions from the peer groups alone; `lag`/`lead` and the value functions
//! (`first_value`, `last_value`, `nth_value`, `min`, `max`) as the position of the row whose
//! value they return, gathered with one `take` at the end, so they work for every type;
//! the numeric aggregates over a state per row combined either as a running state (frames that
//! start at the partition's first row: `O(n)`) or through a [`SegmentTree`] (any other frame:
//! `O(n log n)`). Results follow the grouped aggregates' types and PostgreSQL's rules:
//! integer sums are checked `Int64`, decimal sums `Decimal128(38, s)`, a decimal average is
//! exact at scale `s + 4`, and every aggregate but COUNT is NULL over a frame without values.

use std::sync::Arc;

use arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, Decimal128Array, Float64Array, Int64Array,
    UInt32Array,
};
use arrow::compute::{cast, concat, take};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use arrow::row::{RowConverter, Rows, SortField};

use super::frame::{FrameBounds, PartitionLayout, Pieces, RangeKeys};
use super::segment_tree::SegmentTree;
use crate::error::{EngineError, Result};
use crate::expr::{AggregateFunction, WindowFrame, WindowFunctionKind};
use crate::physical_plan::aggregate::accumulators::{max_decimal, AvgDecimal};

/// What one window expression needs besides the layout: its arguments (evaluated, in sorted
/// order), its frame and its result type.
pub(crate) struct WindowInput<'a> {
    pub fun: WindowFunctionKind,
    pub args: &'a [ArrayRef],
    pub frame: WindowFrame,
    pub output_type: &'a DataType,
    /// The RANGE offset keys of each partition (only for a RANGE frame with an offset).
    pub range_keys: Option<&'a [RangeKeys]>,
}

/// Computes `input`'s function for every sorted row.
pub(crate) fn evaluate(
    input: &WindowInput<'_>,
    layouts: &[PartitionLayout],
    rows: usize,
) -> Result<ArrayRef> {
    use WindowFunctionKind as K;
    if rows == 0 {
        return Ok(arrow::array::new_empty_array(input.output_type));
    }
    let result = match input.fun {
        K::RowNumber | K::Rank | K::DenseRank | K::Ntile => {
            let buckets = if input.fun == K::Ntile {
                Some(positive_constant(input, 0, "ntile")?)
            } else {
                None
            };
            Arc::new(ranking_ints(input.fun, layouts, rows, buckets)) as ArrayRef
        }
        K::PercentRank | K::CumeDist => Arc::new(ranking_floats(input.fun, layouts, rows)),
        K::Lag | K::Lead => lag_lead(input, layouts, rows)?,
        K::FirstValue | K::LastValue | K::NthValue => value_function(input, layouts, rows)?,
        K::Aggregate(AggregateFunction::Min | AggregateFunction::Max) => min_max(input, layouts)?,
        K::Aggregate(func) => numeric_aggregate(func, input, layouts, rows)?,
    };
    if result.data_type() == input.output_type {
        Ok(result)
    } else {
        Ok(cast(&result, input.output_type)?)
    }
}

fn argument<'a>(input: &'a WindowInput<'_>, i: usize) -> Result<&'a ArrayRef> {
    input.args.get(i).ok_or_else(|| {
        EngineError::Internal(format!(
            "{} is missing argument {}",
            input.fun.name(),
            i + 1
        ))
    })
}

/// A constant integer argument (ntile's buckets, nth_value's position), which must be > 0.
fn positive_constant(input: &WindowInput<'_>, i: usize, what: &str) -> Result<usize> {
    let value = constant_integer(input, i)?;
    match value {
        Some(n) if n > 0 => Ok(n as usize),
        _ => Err(EngineError::Execution(format!(
            "argument of {what} must be greater than zero"
        ))),
    }
}

/// The first value of an integer argument the planner made constant; `None` for NULL.
fn constant_integer(input: &WindowInput<'_>, i: usize) -> Result<Option<i64>> {
    let array = cast(argument(input, i)?, &DataType::Int64)?;
    let array = array.as_primitive::<Int64Type>();
    if array.is_empty() || array.is_null(0) {
        return Ok(None);
    }
    Ok(Some(array.value(0)))
}

fn ranking_ints(
    fun: WindowFunctionKind,
    layouts: &[PartitionLayout],
    rows: usize,
    buckets: Option<usize>,
) -> Int64Array {
    let mut out = vec![0i64; rows];
    for layout in layouts {
        let values = &mut out[layout.offset..layout.offset + layout.len];
        match fun {
            WindowFunctionKind::RowNumber => {
                for (i, v) in values.iter_mut().enumerate() {
                    *v = i as i64 + 1;
                }
            }
            WindowFunctionKind::Rank => {
                for (i, v) in values.iter_mut().enumerate() {
                    *v = layout.peers(i).0 as i64 + 1;
                }
            }
            WindowFunctionKind::DenseRank => {
                for (i, v) in values.iter_mut().enumerate() {
                    *v = layout.group_of[i] as i64 + 1;
                }
            }
            _ => {
                // PostgreSQL: the first `len % n` buckets get one row more.
                let n = buckets.unwrap_or(1);
                let (size, extra) = (layout.len / n, layout.len % n);
                let big_rows = extra * (size + 1);
                for (i, v) in values.iter_mut().enumerate() {
                    *v = if i < big_rows {
                        i / (size + 1) + 1
                    } else {
                        extra + (i - big_rows) / size.max(1) + 1
                    } as i64;
                }
            }
        }
    }
    Int64Array::from(out)
}

fn ranking_floats(
    fun: WindowFunctionKind,
    layouts: &[PartitionLayout],
    rows: usize,
) -> Float64Array {
    let mut out = vec![0f64; rows];
    for layout in layouts {
        let values = &mut out[layout.offset..layout.offset + layout.len];
        for (i, v) in values.iter_mut().enumerate() {
            let (peers_start, peers_end) = layout.peers(i);
            *v = if fun == WindowFunctionKind::PercentRank {
                if layout.len > 1 {
                    peers_start as f64 / (layout.len - 1) as f64
                } else {
                    0.0
                }
            } else {
                peers_end as f64 / layout.len as f64
            };
        }
    }
    Float64Array::from(out)
}

/// `lag`/`lead`: the value `offset` rows back/ahead in the partition, else the default.
fn lag_lead(input: &WindowInput<'_>, layouts: &[PartitionLayout], rows: usize) -> Result<ArrayRef> {
    let values = cast(argument(input, 0)?, input.output_type)?;
    let offset = match input.args.get(1) {
        Some(_) => constant_integer(input, 1)?,
        None => Some(1),
    };
    let Some(offset) = offset else {
        return Ok(new_null_array(input.output_type, rows));
    };
    let offset = if input.fun == WindowFunctionKind::Lag {
        -offset
    } else {
        offset
    };
    let defaults = match input.args.get(2) {
        Some(d) => Some(cast(d, input.output_type)?),
        None => None,
    };
    let mut indices: Vec<Option<u32>> = Vec::with_capacity(rows);
    for layout in layouts {
        for i in 0..layout.len {
            let target = i as i64 + offset;
            indices.push(if target >= 0 && (target as usize) < layout.len {
                Some((layout.offset + target as usize) as u32)
            } else if defaults.is_some() {
                Some((rows + layout.offset + i) as u32)
            } else {
                None
            });
        }
    }
    let source = match &defaults {
        Some(d) => concat(&[values.as_ref(), d.as_ref()])?,
        None => values,
    };
    Ok(take(&source, &UInt32Array::from(indices), None)?)
}

/// `first_value`, `last_value`, `nth_value` over each row's frame.
fn value_function(
    input: &WindowInput<'_>,
    layouts: &[PartitionLayout],
    rows: usize,
) -> Result<ArrayRef> {
    let values = argument(input, 0)?;
    let nth = if input.fun == WindowFunctionKind::NthValue {
        positive_constant(input, 1, "nth_value")?
    } else {
        1
    };
    let mut indices: Vec<Option<u32>> = Vec::with_capacity(rows);
    for (p, layout) in layouts.iter().enumerate() {
        let keys = input.range_keys.map(|k| &k[p]);
        let bounds = FrameBounds::new(input.frame, layout, keys);
        for i in 0..layout.len {
            let pieces: Pieces = bounds.pieces(i);
            let position = match input.fun {
                WindowFunctionKind::LastValue => pieces.last(),
                _ => pieces.nth(nth - 1),
            };
            indices.push(position.map(|at| (layout.offset + at) as u32));
        }
    }
    Ok(take(values, &UInt32Array::from(indices), None)?)
}

/// Runs `combine` over each row's frame: carried along for running frames, through a segment
/// tree otherwise; `emit` receives the sorted position and the frame's state.
fn fold_frames<S: Copy>(
    input: &WindowInput<'_>,
    layouts: &[PartitionLayout],
    leaves: &[S],
    identity: S,
    combine: impl Fn(&S, &S) -> S,
    mut emit: impl FnMut(usize, &S) -> Result<()>,
) -> Result<()> {
    for (p, layout) in layouts.iter().enumerate() {
        let keys = input.range_keys.map(|k| &k[p]);
        let bounds = FrameBounds::new(input.frame, layout, keys);
        let leaves = &leaves[layout.offset..layout.offset + layout.len];
        if bounds.is_running() {
            let mut state = identity;
            let mut next = 0;
            for i in 0..layout.len {
                let (_, end) = bounds.bounds(i);
                while next < end {
                    state = combine(&state, &leaves[next]);
                    next += 1;
                }
                emit(layout.offset + i, &state)?;
            }
        } else {
            let tree = SegmentTree::new(leaves.to_vec(), identity, &combine);
            for i in 0..layout.len {
                let mut state = identity;
                for &(start, end) in bounds.pieces(i).ranges() {
                    state = combine(&state, &tree.query(start, end));
                }
                emit(layout.offset + i, &state)?;
            }
        }
    }
    Ok(())
}

/// MIN/MAX: the position of the best non-NULL value of the frame, compared through Arrow's
/// row format so that every orderable type works.
fn min_max(input: &WindowInput<'_>, layouts: &[PartitionLayout]) -> Result<ArrayRef> {
    let values = argument(input, 0)?;
    let converter = RowConverter::new(vec![SortField::new(values.data_type().clone())])?;
    let encoded: Rows = converter.convert_columns(&[Arc::clone(values)])?;
    let want_max = input.fun == WindowFunctionKind::Aggregate(AggregateFunction::Max);
    let leaves: Vec<Option<u32>> = (0..values.len())
        .map(|i| values.is_valid(i).then_some(i as u32))
        .collect();
    let combine = |a: &Option<u32>, b: &Option<u32>| match (*a, *b) {
        (Some(x), Some(y)) => {
            let ordering = encoded.row(x as usize).cmp(&encoded.row(y as usize));
            let keep_x = if want_max {
                ordering.is_ge()
            } else {
                ordering.is_le()
            };
            Some(if keep_x { x } else { y })
        }
        (x, None) => x,
        (None, y) => y,
    };
    let mut indices = vec![None; values.len()];
    fold_frames(input, layouts, &leaves, None, combine, |at, state| {
        indices[at] = *state;
        Ok(())
    })?;
    Ok(take(values, &UInt32Array::from(indices), None)?)
}

/// Values as exact integers (integers, decimals unscaled) or floats, NULLs as `None`.
enum Numbers {
    Exact {
        values: Vec<Option<i128>>,
        scale: i8,
    },
    Float(Vec<Option<f64>>),
}

impl Numbers {
    fn from_array(array: &ArrayRef, what: &str) -> Result<Numbers> {
        Ok(match array.data_type() {
            DataType::Decimal128(_, scale) => Numbers::Exact {
                values: array
                    .as_primitive::<arrow::datatypes::Decimal128Type>()
                    .iter()
                    .collect(),
                scale: *scale,
            },
            DataType::Float16 | DataType::Float32 | DataType::Float64 => Numbers::Float(
                cast(array, &DataType::Float64)?
                    .as_primitive::<Float64Type>()
                    .iter()
                    .collect(),
            ),
            t if t.is_integer() || t == &DataType::Null => Numbers::Exact {
                values: cast(array, &DataType::Int64)?
                    .as_primitive::<Int64Type>()
                    .iter()
                    .map(|v| v.map(i128::from))
                    .collect(),
                scale: 0,
            },
            other => {
                return Err(EngineError::Plan(format!(
                    "{what} over {other} is not supported as a window function"
                )))
            }
        })
    }

    fn as_floats(&self) -> Vec<Option<f64>> {
        match self {
            Numbers::Exact { values, scale } => {
                let divisor = 10f64.powi(*scale as i32);
                values
                    .iter()
                    .map(|v| v.map(|v| v as f64 / divisor))
                    .collect()
            }
            Numbers::Float(values) => values.clone(),
        }
    }
}

/// COUNT, SUM, AVG and the variance family.
fn numeric_aggregate(
    func: AggregateFunction,
    input: &WindowInput<'_>,
    layouts: &[PartitionLayout],
    rows: usize,
) -> Result<ArrayRef> {
    use AggregateFunction as A;
    if func == A::Count {
        let leaves: Vec<u64> = match input.args.first() {
            Some(values) => (0..rows).map(|i| values.is_valid(i) as u64).collect(),
            None => vec![1; rows],
        };
        let mut out = vec![0i64; rows];
        fold_frames(
            input,
            layouts,
            &leaves,
            0,
            |a, b| a + b,
            |at, n| {
                out[at] = *n as i64;
                Ok(())
            },
        )?;
        return Ok(Arc::new(Int64Array::from(out)));
    }
    let numbers = Numbers::from_array(argument(input, 0)?, func.name())?;
    match func {
        A::StdDevSamp | A::StdDevPop | A::VarSamp | A::VarPop => {
            variance(func, input, layouts, &numbers.as_floats())
        }
        _ => match numbers {
            Numbers::Exact { values, scale } => exact_sum_avg(func, input, layouts, &values, scale),
            Numbers::Float(values) => {
                let leaves: Vec<(f64, u64)> = values
                    .iter()
                    .map(|v| v.map_or((0.0, 0), |v| (v, 1)))
                    .collect();
                let mut out: Vec<Option<f64>> = vec![None; rows];
                fold_frames(
                    input,
                    layouts,
                    &leaves,
                    (0.0, 0),
                    |a, b| (a.0 + b.0, a.1 + b.1),
                    |at, &(sum, count)| {
                        if count > 0 {
                            out[at] = Some(if func == A::Avg {
                                sum / count as f64
                            } else {
                                sum
                            });
                        }
                        Ok(())
                    },
                )?;
                Ok(Arc::new(Float64Array::from(out)))
            }
        },
    }
}

fn exact_sum_avg(
    func: AggregateFunction,
    input: &WindowInput<'_>,
    layouts: &[PartitionLayout],
    values: &[Option<i128>],
    scale: i8,
) -> Result<ArrayRef> {
    let rows = values.len();
    let leaves: Vec<(i128, u64)> = values
        .iter()
        .map(|v| v.map_or((0, 0), |v| (v, 1)))
        .collect();
    // Sums of at most 2^64 values below 2^127 / 2^64 cannot overflow i128 in practice;
    // saturating keeps a pathological one detectable as out of range below.
    let combine = |a: &(i128, u64), b: &(i128, u64)| (a.0.saturating_add(b.0), a.1 + b.1);
    let output_type = input.output_type.clone();
    match (&output_type, func) {
        (DataType::Float64, AggregateFunction::Avg) => {
            let mut out: Vec<Option<f64>> = vec![None; rows];
            fold_frames(
                input,
                layouts,
                &leaves,
                (0, 0),
                combine,
                |at, &(sum, count)| {
                    if count > 0 {
                        out[at] = Some(sum as f64 / count as f64);
                    }
                    Ok(())
                },
            )?;
            Ok(Arc::new(Float64Array::from(out)))
        }
        (DataType::Decimal128(precision, output_scale), AggregateFunction::Avg) => {
            let scale_up = u32::try_from(*output_scale as i16 - scale as i16).map_err(|_| {
                EngineError::Internal(format!("decimal avg from scale {scale} to {output_type}"))
            })?;
            let limit = max_decimal(*precision);
            let mut out: Vec<Option<i128>> = vec![None; rows];
            fold_frames(
                input,
                layouts,
                &leaves,
                (0, 0),
                combine,
                |at, &(sum, count)| {
                    if count > 0 {
                        let average = AvgDecimal::average(sum, count, scale_up)
                            .filter(|v| v.unsigned_abs() <= limit as u128)
                            .ok_or_else(|| {
                                EngineError::NumericOverflow("avg of decimals".into())
                            })?;
                        out[at] = Some(average);
                    }
                    Ok(())
                },
            )?;
            Ok(Arc::new(
                Decimal128Array::from(out).with_precision_and_scale(*precision, *output_scale)?,
            ))
        }
        (DataType::Decimal128(precision, output_scale), _) => {
            let limit = max_decimal(*precision);
            let mut out: Vec<Option<i128>> = vec![None; rows];
            fold_frames(
                input,
                layouts,
                &leaves,
                (0, 0),
                combine,
                |at, &(sum, count)| {
                    if count > 0 {
                        if sum.unsigned_abs() > limit as u128 {
                            return Err(EngineError::NumericOverflow("sum of decimals".into()));
                        }
                        out[at] = Some(sum);
                    }
                    Ok(())
                },
            )?;
            Ok(Arc::new(
                Decimal128Array::from(out).with_precision_and_scale(*precision, *output_scale)?,
            ))
        }
        _ => {
            let mut out: Vec<Option<i64>> = vec![None; rows];
            fold_frames(
                input,
                layouts,
                &leaves,
                (0, 0),
                combine,
                |at, &(sum, count)| {
                    if count > 0 {
                        out[at] =
                            Some(i64::try_from(sum).map_err(|_| {
                                EngineError::NumericOverflow("sum of integers".into())
                            })?);
                    }
                    Ok(())
                },
            )?;
            Ok(Arc::new(Int64Array::from(out)))
        }
    }
}

/// Variance and standard deviation from `(count, mean, m2)` states merged with Chan et al.'s
/// formula (the grouped aggregate's Welford state, made combinable).
fn variance(
    func: AggregateFunction,
    input: &WindowInput<'_>,
    layouts: &[PartitionLayout],
    values: &[Option<f64>],
) -> Result<ArrayRef> {
    let sample = matches!(
        func,
        AggregateFunction::StdDevSamp | AggregateFunction::VarSamp
    );
    let root = matches!(
        func,
        AggregateFunction::StdDevSamp | AggregateFunction::StdDevPop
    );
    let leaves: Vec<(u64, f64, f64)> = values
        .iter()
        .map(|v| v.map_or((0, 0.0, 0.0), |v| (1, v, 0.0)))
        .collect();
    let combine = |a: &(u64, f64, f64), b: &(u64, f64, f64)| {
        if a.0 == 0 {
            return *b;
        }
        if b.0 == 0 {
            return *a;
        }
        let count = a.0 + b.0;
        let delta = b.1 - a.1;
        let mean = a.1 + delta * b.0 as f64 / count as f64;
        let m2 = a.2 + b.2 + delta * delta * a.0 as f64 * b.0 as f64 / count as f64;
        (count, mean, m2)
    };
    let minimum = if sample { 2 } else { 1 };
    let mut out: Vec<Option<f64>> = vec![None; values.len()];
    fold_frames(
        input,
        layouts,
        &leaves,
        (0, 0.0, 0.0),
        combine,
        |at, &(count, _, m2)| {
            if count >= minimum {
                let divisor = if sample { count - 1 } else { count };
                let variance = (m2 / divisor as f64).max(0.0);
                out[at] = Some(if root { variance.sqrt() } else { variance });
            }
            Ok(())
        },
    )?;
    Ok(Arc::new(Float64Array::from(out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{WindowFrameBound as B, WindowFrameExclusion, WindowFrameUnits};
    use arrow::array::{Int32Array, StringArray};

    /// One partition of six rows in peer groups [0,1] [2] [3,4] [5].
    fn layouts() -> Vec<PartitionLayout> {
        vec![PartitionLayout {
            offset: 0,
            len: 6,
            group_of: vec![0, 0, 1, 2, 2, 3],
            group_starts: vec![0, 2, 3, 5, 6],
        }]
    }

    fn run(
        fun: WindowFunctionKind,
        args: Vec<ArrayRef>,
        frame: WindowFrame,
        out: DataType,
    ) -> ArrayRef {
        let input = WindowInput {
            fun,
            args: &args,
            frame,
            output_type: &out,
            range_keys: None,
        };
        evaluate(&input, &layouts(), 6).unwrap()
    }

    fn ints(array: &ArrayRef) -> Vec<Option<i64>> {
        array.as_primitive::<Int64Type>().iter().collect()
    }

    #[test]
    fn ranking_functions_follow_peer_groups() {
        let frame = WindowFrame::default_for(true);
        let rank = run(WindowFunctionKind::Rank, vec![], frame, DataType::Int64);
        assert_eq!(ints(&rank), [1, 1, 3, 4, 4, 6].map(Some));
        let dense = run(
            WindowFunctionKind::DenseRank,
            vec![],
            frame,
            DataType::Int64,
        );
        assert_eq!(ints(&dense), [1, 1, 2, 3, 3, 4].map(Some));
        let four: ArrayRef = Arc::new(Int64Array::from(vec![4; 6]));
        let ntile = run(
            WindowFunctionKind::Ntile,
            vec![four],
            frame,
            DataType::Int64,
        );
        assert_eq!(ints(&ntile), [1, 1, 2, 2, 3, 4].map(Some));
        let cume = run(
            WindowFunctionKind::CumeDist,
            vec![],
            frame,
            DataType::Float64,
        );
        let cume: Vec<f64> = cume.as_primitive::<Float64Type>().values().to_vec();
        assert_eq!(cume, [2.0 / 6.0, 2.0 / 6.0, 0.5, 5.0 / 6.0, 5.0 / 6.0, 1.0]);
    }

    #[test]
    fn running_and_sliding_sums_skip_nulls() {
        let values: ArrayRef = Arc::new(Int32Array::from(vec![
            Some(1),
            Some(2),
            None,
            Some(4),
            Some(5),
            Some(6),
        ]));
        let sum = WindowFunctionKind::Aggregate(AggregateFunction::Sum);
        let running = run(
            sum,
            vec![Arc::clone(&values)],
            WindowFrame::default_for(true),
            DataType::Int64,
        );
        assert_eq!(ints(&running), [3, 3, 3, 12, 12, 18].map(Some));
        let sliding = WindowFrame::new(WindowFrameUnits::Rows, B::Preceding(1), B::Following(1));
        let sliding = run(sum, vec![Arc::clone(&values)], sliding, DataType::Int64);
        assert_eq!(ints(&sliding), [3, 3, 6, 9, 15, 11].map(Some));
        let mut lonely = WindowFrame::new(WindowFrameUnits::Rows, B::CurrentRow, B::CurrentRow);
        lonely.exclusion = WindowFrameExclusion::CurrentRow;
        let lonely = run(sum, vec![values], lonely, DataType::Int64);
        assert_eq!(ints(&lonely), [None; 6]);
    }

    #[test]
    fn value_functions_and_lag_work_for_strings() {
        let names: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "c", "d", "e", "f"]));
        let last = run(
            WindowFunctionKind::LastValue,
            vec![Arc::clone(&names)],
            WindowFrame::default_for(true),
            DataType::Utf8,
        );
        let last: Vec<&str> = last.as_string::<i32>().iter().map(|v| v.unwrap()).collect();
        assert_eq!(last, ["b", "b", "c", "e", "e", "f"]);
        let two: ArrayRef = Arc::new(Int64Array::from(vec![2; 6]));
        let fallback: ArrayRef = Arc::new(StringArray::from(vec!["-"; 6]));
        let lag = run(
            WindowFunctionKind::Lag,
            vec![names, two, fallback],
            WindowFrame::default_for(true),
            DataType::Utf8,
        );
        let lag: Vec<&str> = lag.as_string::<i32>().iter().map(|v| v.unwrap()).collect();
        assert_eq!(lag, ["-", "-", "a", "b", "c", "d"]);
    }

    #[test]
    fn variance_merges_states_over_sliding_frames() {
        let values: ArrayRef = Arc::new(Int32Array::from(vec![
            Some(1),
            Some(2),
            Some(4),
            None,
            Some(6),
            Some(6),
        ]));
        let frame = WindowFrame::new(WindowFrameUnits::Rows, B::Preceding(1), B::Following(1));
        let samp = run(
            WindowFunctionKind::Aggregate(AggregateFunction::VarSamp),
            vec![Arc::clone(&values)],
            frame,
            DataType::Float64,
        );
        let samp: Vec<Option<f64>> = samp.as_primitive::<Float64Type>().iter().collect();
        let expected = [
            Some(0.5),
            Some(7.0 / 3.0),
            Some(2.0),
            Some(2.0),
            Some(0.0),
            Some(0.0),
        ];
        for (got, want) in samp.iter().zip(expected) {
            assert!(
                (got.unwrap() - want.unwrap()).abs() < 1e-12,
                "{samp:?} vs {expected:?}"
            );
        }
        let one = WindowFrame::new(WindowFrameUnits::Rows, B::CurrentRow, B::CurrentRow);
        let std = run(
            WindowFunctionKind::Aggregate(AggregateFunction::StdDevSamp),
            vec![values],
            one,
            DataType::Float64,
        );
        // One value has no sample deviation; NULL has none at all.
        assert_eq!(std.null_count(), 6);
    }
}
