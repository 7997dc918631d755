//! Per-group aggregate state, updated a whole batch at a time.
//!
//! A [`GroupsAccumulator`] holds the state of one aggregate for every group of a partition in
//! flat vectors indexed by group id (`sums[g]`, `counts[g]`), in the style of DataFusion's
//! `GroupsAccumulator`. An update receives the batch's argument column and the group id of
//! each row and runs one typed loop over the raw value slice, skipping NULLs through the
//! validity bitmap; no value is ever boxed. Partial states of different partitions are merged
//! through a group-id mapping, then [`GroupsAccumulator::evaluate`] produces the result column.
//!
//! Arguments arrive prepared by the operator: a `FILTER (WHERE …)` has already turned the rows
//! it rejects into NULLs (so every aggregate skips them for free), and dictionaries have been
//! decoded. This module holds COUNT, SUM and AVG; MIN/MAX, the variance family and DISTINCT
//! live next to it.
//!
//! Results follow PostgreSQL: integer sums are `Int64` and overflow is an error (never a
//! wrap), decimal sums are `Decimal128(38, s)`, and a decimal average is exact, rounded half
//! away from zero at the output scale (16 fractional digits where the precision allows,
//! PostgreSQL's significant digits; see `aggregate_type`). Every aggregate but COUNT is NULL for a group without
//! non-NULL input.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;

use arrow::array::{make_array, ArrayData};
use arrow::array::{
    new_null_array, Array, ArrayRef, ArrowPrimitiveType, AsArray, Decimal128Array, Float64Array,
    Int64Array, PrimitiveArray,
};
use arrow::buffer::{Buffer, NullBuffer};
use arrow::datatypes::{
    ArrowNativeType, DataType, Decimal128Type, DurationMicrosecondType, DurationMillisecondType,
    DurationNanosecondType, DurationSecondType, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, TimeUnit, UInt16Type, UInt32Type, UInt8Type,
};

use super::distinct::DistinctAccumulator;
use super::{correlation, min_max, percentile, variance, NO_GROUP};
use crate::error::{EngineError, Result};
use crate::expr::AggregateFunction;

/// The state of one aggregate over all groups of a partition.
pub trait GroupsAccumulator: Send + Sync + Any {
    /// Folds in one batch: `values` are the (prepared) argument columns, empty for `COUNT(*)`;
    /// `group_ids[row]` is the group of each row; groups are `0..total_groups`.
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_ids: &[u32],
        total_groups: usize,
    ) -> Result<()>;

    /// Folds in the state of another accumulator of the same aggregate: its group `g` goes
    /// into group `mapping[g]`, or nowhere when that is [`NO_GROUP`].
    fn merge(
        &mut self,
        other: &dyn GroupsAccumulator,
        mapping: &[u32],
        total_groups: usize,
    ) -> Result<()>;

    /// The result of every group `0..total_groups`.
    fn evaluate(&mut self, total_groups: usize) -> Result<ArrayRef>;

    /// How many threads [`GroupsAccumulator::evaluate`] may use; only accumulators with
    /// heavy work left at the end (exact percentiles) use more than one.
    fn set_evaluation_threads(&mut self, _threads: usize) {}

    /// For downcasting `other` in [`GroupsAccumulator::merge`].
    fn as_any(&self) -> &dyn Any;
}

/// A new accumulator for `func` over an argument of `input_type` (`None` for `COUNT(*)`)
/// producing `output_type`. Dictionary arguments must be passed decoded (`input_type` is the
/// value type) except to COUNT.
pub fn create_accumulator(
    func: AggregateFunction,
    input_type: Option<&DataType>,
    output_type: &DataType,
    distinct: bool,
) -> Result<Box<dyn GroupsAccumulator>> {
    use AggregateFunction as F;
    if distinct {
        if !func.supports_window_and_distinct() {
            return Err(EngineError::Plan(format!(
                "{}(DISTINCT …) is not supported",
                func.name()
            )));
        }
        let Some(input_type) = input_type else {
            return Err(EngineError::Plan(format!(
                "{}(DISTINCT *) is not valid",
                func.name()
            )));
        };
        let inner = create_accumulator(func, Some(input_type), output_type, false)?;
        return Ok(Box::new(DistinctAccumulator::try_new(input_type, inner)?));
    }
    let Some(input_type) = input_type else {
        return match func {
            F::Count => Ok(Box::new(CountAccumulator::default())),
            other => Err(EngineError::Plan(format!(
                "{}(*) is not valid",
                other.name()
            ))),
        };
    };
    if input_type == &DataType::Null && func != F::Count {
        return Ok(Box::new(AllNullAccumulator {
            output_type: output_type.clone(),
        }));
    }
    let unsupported = || {
        EngineError::Plan(format!(
            "{} does not accept values of type {input_type}",
            func.name()
        ))
    };
    macro_rules! integer_or_duration {
        ($make:ident) => {
            match input_type {
                DataType::Int8 => $make!(Int8Type),
                DataType::Int16 => $make!(Int16Type),
                DataType::Int32 => $make!(Int32Type),
                DataType::Int64 => $make!(Int64Type),
                DataType::UInt8 => $make!(UInt8Type),
                DataType::UInt16 => $make!(UInt16Type),
                DataType::UInt32 => $make!(UInt32Type),
                DataType::Duration(TimeUnit::Second) => $make!(DurationSecondType),
                DataType::Duration(TimeUnit::Millisecond) => $make!(DurationMillisecondType),
                DataType::Duration(TimeUnit::Microsecond) => $make!(DurationMicrosecondType),
                DataType::Duration(TimeUnit::Nanosecond) => $make!(DurationNanosecondType),
                _ => return Err(unsupported()),
            }
        };
    }
    Ok(match func {
        F::Count => Box::new(CountAccumulator::default()),
        F::Sum => match input_type {
            DataType::Float32 => Box::new(SumFloat::<Float32Type>::new()),
            DataType::Float64 => Box::new(SumFloat::<Float64Type>::new()),
            DataType::Decimal128(_, _) => Box::new(SumDecimal::new(output_type.clone())),
            _ => {
                macro_rules! sum_int {
                    ($t:ty) => {
                        Box::new(SumInt::<$t>::new(output_type.clone()))
                    };
                }
                integer_or_duration!(sum_int)
            }
        },
        F::Avg => match input_type {
            DataType::Float32 => Box::new(AvgFloat::<Float32Type>::new()),
            DataType::Float64 => Box::new(AvgFloat::<Float64Type>::new()),
            DataType::Decimal128(_, scale) => {
                Box::new(AvgDecimal::try_new(*scale, output_type.clone())?)
            }
            DataType::Duration(_) => {
                macro_rules! avg_duration {
                    ($t:ty) => {
                        Box::new(AvgInteger::<$t>::new(output_type.clone()))
                    };
                }
                integer_or_duration!(avg_duration)
            }
            _ => {
                macro_rules! avg_int {
                    ($t:ty) => {
                        Box::new(AvgInteger::<$t>::new(output_type.clone()))
                    };
                }
                integer_or_duration!(avg_int)
            }
        },
        F::AnyValue => Box::new(super::any_value::AnyValueAccumulator::new(
            input_type.clone(),
        )),
        F::Min => min_max::create(input_type, false)?,
        F::Max => min_max::create(input_type, true)?,
        F::StdDevSamp | F::StdDevPop | F::VarSamp | F::VarPop => {
            variance::VarianceAccumulator::try_new(func, input_type)?
        }
        F::Median | F::PercentileCont => {
            percentile::PercentileAccumulator::try_new(func, input_type)?
        }
        F::Corr | F::CovarPop | F::CovarSamp | F::RegrSlope | F::RegrIntercept | F::RegrR2 => {
            correlation::BivariateAccumulator::try_new(func)?
        }
    })
}

/// `other` as the concrete type of `self` (accumulators only merge with their own kind).
pub(crate) fn downcast<T: 'static>(other: &dyn GroupsAccumulator) -> Result<&T> {
    other
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| EngineError::Internal("merging aggregate states of different kinds".into()))
}

/// The single argument of an aggregate, as a primitive array of `T`.
pub(crate) fn primitive_argument<'a, T: ArrowPrimitiveType>(
    values: &'a [ArrayRef],
    group_ids: &[u32],
) -> Result<&'a PrimitiveArray<T>> {
    let array = single_argument(values, group_ids)?;
    array.as_primitive_opt::<T>().ok_or_else(|| {
        EngineError::Internal(format!(
            "aggregate state for {} was given {}",
            T::DATA_TYPE,
            array.data_type()
        ))
    })
}

/// The single argument of an aggregate, checked against the number of group ids.
pub(crate) fn single_argument<'a>(
    values: &'a [ArrayRef],
    group_ids: &[u32],
) -> Result<&'a ArrayRef> {
    match values {
        [array] if array.len() == group_ids.len() => Ok(array),
        _ => Err(EngineError::Internal(format!(
            "aggregate expected one argument of {} rows, got {} arguments",
            group_ids.len(),
            values.len()
        ))),
    }
}

/// Calls `f(group, value)` for every non-NULL row. The NULL-free case is a plain zip, which
/// is the loop every hot aggregate spends its time in.
#[inline(always)]
pub(crate) fn for_each_valid<T: ArrowPrimitiveType>(
    array: &PrimitiveArray<T>,
    group_ids: &[u32],
    mut f: impl FnMut(usize, T::Native),
) {
    let values = array.values();
    match array.nulls().filter(|n| n.null_count() > 0) {
        None => {
            for (&group, &value) in group_ids.iter().zip(values.iter()) {
                f(group as usize, value);
            }
        }
        Some(nulls) => {
            for row in nulls.valid_indices() {
                f(group_ids[row] as usize, values[row]);
            }
        }
    }
}

/// Calls `f(target, source)` for every group `source` of the other state that maps somewhere.
/// `source_len` is the length of the other state's vectors: groups beyond it never received a
/// row there (their state is empty), so they are skipped.
#[inline(always)]
pub(crate) fn for_each_mapped(mapping: &[u32], source_len: usize, mut f: impl FnMut(usize, usize)) {
    for (source, &target) in mapping.iter().take(source_len).enumerate() {
        if target != NO_GROUP {
            f(target as usize, source);
        }
    }
}

/// Validity from per-group "has a value" flags (none when every group has one).
pub(crate) fn validity(seen: &[bool]) -> Option<NullBuffer> {
    if seen.iter().all(|s| *s) {
        None
    } else {
        Some(NullBuffer::from(seen))
    }
}

/// An array of `data_type` built from raw values and validity (for result columns whose
/// native type is shared by several logical types, such as `Duration` over `i64`).
pub(crate) fn native_array<N: ArrowNativeType>(
    data_type: &DataType,
    values: Vec<N>,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef> {
    let data = ArrayData::try_new(
        data_type.clone(),
        values.len(),
        nulls.map(|n| n.into_inner().into_inner()),
        0,
        vec![Buffer::from_vec(values)],
        vec![],
    )?;
    Ok(make_array(data))
}

fn overflow(what: &str) -> EngineError {
    EngineError::NumericOverflow(format!("sum of {what}"))
}

/// COUNT(*) and COUNT(expr).
#[derive(Default)]
pub struct CountAccumulator {
    counts: Vec<i64>,
}

impl GroupsAccumulator for CountAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_ids: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        self.counts.resize(total_groups, 0);
        let counts = &mut self.counts;
        let nulls = match values {
            [] => None,
            [array] if array.len() == group_ids.len() => {
                array.logical_nulls().filter(|n| n.null_count() > 0)
            }
            _ => return Err(EngineError::Internal("COUNT takes one argument".into())),
        };
        match nulls {
            None => {
                for &group in group_ids {
                    counts[group as usize] += 1;
                }
            }
            Some(nulls) => {
                for row in nulls.valid_indices() {
                    counts[group_ids[row] as usize] += 1;
                }
            }
        }
        Ok(())
    }

    fn merge(
        &mut self,
        other: &dyn GroupsAccumulator,
        mapping: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let other = downcast::<Self>(other)?;
        self.counts.resize(total_groups, 0);
        for_each_mapped(mapping, other.counts.len(), |target, source| {
            self.counts[target] += other.counts[source];
        });
        Ok(())
    }

    fn evaluate(&mut self, total_groups: usize) -> Result<ArrayRef> {
        self.counts.resize(total_groups, 0);
        Ok(Arc::new(Int64Array::from(std::mem::take(&mut self.counts))))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Any aggregate but COUNT over the `Null` type: NULL for every group.
pub struct AllNullAccumulator {
    output_type: DataType,
}

impl GroupsAccumulator for AllNullAccumulator {
    fn update_batch(&mut self, _: &[ArrayRef], _: &[u32], _: usize) -> Result<()> {
        Ok(())
    }

    fn merge(&mut self, _: &dyn GroupsAccumulator, _: &[u32], _: usize) -> Result<()> {
        Ok(())
    }

    fn evaluate(&mut self, total_groups: usize) -> Result<ArrayRef> {
        Ok(new_null_array(&self.output_type, total_groups))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// SUM of integers or durations, in checked `i64`.
pub struct SumInt<T: ArrowPrimitiveType> {
    sums: Vec<i64>,
    seen: Vec<bool>,
    output_type: DataType,
    input: PhantomData<fn() -> T>,
}

impl<T: ArrowPrimitiveType> SumInt<T>
where
    T::Native: Into<i64>,
{
    fn new(output_type: DataType) -> Self {
        SumInt {
            sums: Vec::new(),
            seen: Vec::new(),
            output_type,
            input: PhantomData,
        }
    }
}

impl<T: ArrowPrimitiveType> GroupsAccumulator for SumInt<T>
where
    T::Native: Into<i64>,
{
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_ids: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let array = primitive_argument::<T>(values, group_ids)?;
        self.sums.resize(total_groups, 0);
        self.seen.resize(total_groups, false);
        let (sums, seen) = (&mut self.sums, &mut self.seen);
        // Overflow is collected as a flag so the loop has no early exit.
        let mut overflowed = false;
        for_each_valid(array, group_ids, |group, value| {
            let (sum, o) = sums[group].overflowing_add(value.into());
            sums[group] = sum;
            overflowed |= o;
            seen[group] = true;
        });
        if overflowed {
            return Err(overflow("bigint"));
        }
        Ok(())
    }

    fn merge(
        &mut self,
        other: &dyn GroupsAccumulator,
        mapping: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let other = downcast::<Self>(other)?;
        self.sums.resize(total_groups, 0);
        self.seen.resize(total_groups, false);
        let mut overflowed = false;
        for_each_mapped(mapping, other.sums.len(), |target, source| {
            let (sum, o) = self.sums[target].overflowing_add(other.sums[source]);
            self.sums[target] = sum;
            overflowed |= o;
            self.seen[target] |= other.seen[source];
        });
        if overflowed {
            return Err(overflow("bigint"));
        }
        Ok(())
    }

    fn evaluate(&mut self, total_groups: usize) -> Result<ArrayRef> {
        self.sums.resize(total_groups, 0);
        self.seen.resize(total_groups, false);
        let nulls = validity(&self.seen);
        native_array(&self.output_type, std::mem::take(&mut self.sums), nulls)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// SUM of floats, in `f64`.
pub struct SumFloat<T: ArrowPrimitiveType> {
    sums: Vec<f64>,
    seen: Vec<bool>,
    input: PhantomData<fn() -> T>,
}

impl<T: ArrowPrimitiveType> SumFloat<T>
where
    T::Native: Into<f64>,
{
    fn new() -> Self {
        SumFloat {
            sums: Vec::new(),
            seen: Vec::new(),
            input: PhantomData,
        }
    }
}

impl<T: ArrowPrimitiveType> GroupsAccumulator for SumFloat<T>
where
    T::Native: Into<f64>,
{
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_ids: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let array = primitive_argument::<T>(values, group_ids)?;
        self.sums.resize(total_groups, 0.0);
        self.seen.resize(total_groups, false);
        let (sums, seen) = (&mut self.sums, &mut self.seen);
        for_each_valid(array, group_ids, |group, value| {
            sums[group] += value.into();
            seen[group] = true;
        });
        Ok(())
    }

    fn merge(
        &mut self,
        other: &dyn GroupsAccumulator,
        mapping: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let other = downcast::<Self>(other)?;
        self.sums.resize(total_groups, 0.0);
        self.seen.resize(total_groups, false);
        for_each_mapped(mapping, other.sums.len(), |target, source| {
            self.sums[target] += other.sums[source];
            self.seen[target] |= other.seen[source];
        });
        Ok(())
    }

    fn evaluate(&mut self, total_groups: usize) -> Result<ArrayRef> {
        self.sums.resize(total_groups, 0.0);
        self.seen.resize(total_groups, false);
        Ok(Arc::new(Float64Array::new(
            std::mem::take(&mut self.sums).into(),
            validity(&self.seen),
        )))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The largest magnitude a `Decimal128(38, _)` holds: 38 nines.
const MAX_DECIMAL38: i128 = 99_999_999_999_999_999_999_999_999_999_999_999_999;

/// The largest magnitude of a decimal of `precision` digits.
pub(crate) fn max_decimal(precision: u8) -> i128 {
    10_i128
        .checked_pow(precision as u32)
        .map_or(MAX_DECIMAL38, |p| p - 1)
}

/// SUM of decimals, in checked `i128`, result `Decimal128(38, s)`.
pub struct SumDecimal {
    sums: Vec<i128>,
    seen: Vec<bool>,
    output_type: DataType,
}

impl SumDecimal {
    fn new(output_type: DataType) -> Self {
        SumDecimal {
            sums: Vec::new(),
            seen: Vec::new(),
            output_type,
        }
    }
}

impl GroupsAccumulator for SumDecimal {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_ids: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let array = primitive_argument::<Decimal128Type>(values, group_ids)?;
        self.sums.resize(total_groups, 0);
        self.seen.resize(total_groups, false);
        let (sums, seen) = (&mut self.sums, &mut self.seen);
        let mut overflowed = false;
        for_each_valid(array, group_ids, |group, value| {
            let (sum, o) = sums[group].overflowing_add(value);
            sums[group] = sum;
            overflowed |= o;
            seen[group] = true;
        });
        if overflowed {
            return Err(overflow("numeric"));
        }
        Ok(())
    }

    fn merge(
        &mut self,
        other: &dyn GroupsAccumulator,
        mapping: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let other = downcast::<Self>(other)?;
        self.sums.resize(total_groups, 0);
        self.seen.resize(total_groups, false);
        let mut overflowed = false;
        for_each_mapped(mapping, other.sums.len(), |target, source| {
            let (sum, o) = self.sums[target].overflowing_add(other.sums[source]);
            self.sums[target] = sum;
            overflowed |= o;
            self.seen[target] |= other.seen[source];
        });
        if overflowed {
            return Err(overflow("numeric"));
        }
        Ok(())
    }

    fn evaluate(&mut self, total_groups: usize) -> Result<ArrayRef> {
        self.sums.resize(total_groups, 0);
        self.seen.resize(total_groups, false);
        let limit = match self.output_type {
            DataType::Decimal128(precision, _) => max_decimal(precision),
            _ => MAX_DECIMAL38,
        };
        if self.sums.iter().any(|s| s.unsigned_abs() > limit as u128) {
            return Err(overflow("numeric"));
        }
        let array =
            Decimal128Array::new(std::mem::take(&mut self.sums).into(), validity(&self.seen))
                .with_data_type(self.output_type.clone());
        Ok(Arc::new(array))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `numerator / denominator` rounded half away from zero (`denominator > 0`).
fn div_round_half_away(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder.unsigned_abs() * 2 >= denominator.unsigned_abs() {
        quotient + numerator.signum()
    } else {
        quotient
    }
}

/// AVG of integers (`Float64` result) or durations (a duration, rounded half away from
/// zero). The sum is kept in `i128` so it cannot overflow.
pub struct AvgInteger<T: ArrowPrimitiveType> {
    sums: Vec<i128>,
    counts: Vec<u64>,
    /// Scratch: one batch's sums of narrow values, per group.
    batch_sums: Vec<i64>,
    output_type: DataType,
    input: PhantomData<fn() -> T>,
}

impl<T: ArrowPrimitiveType> AvgInteger<T>
where
    T::Native: Into<i64>,
{
    fn new(output_type: DataType) -> Self {
        AvgInteger {
            sums: Vec::new(),
            counts: Vec::new(),
            batch_sums: Vec::new(),
            output_type,
            input: PhantomData,
        }
    }
}

impl<T: ArrowPrimitiveType> GroupsAccumulator for AvgInteger<T>
where
    T::Native: Into<i64>,
{
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_ids: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let array = primitive_argument::<T>(values, group_ids)?;
        self.sums.resize(total_groups, 0);
        self.counts.resize(total_groups, 0);
        let (sums, counts) = (&mut self.sums, &mut self.counts);
        // With values of at most 32 bits, fewer than 2^31 of them cannot overflow an `i64`
        // sum, and `i64` adds are cheaper than `i128` ones in the per-row loop. The batch is
        // summed per group in `i64` and folded into the `i128` sums once per group, which
        // pays when groups are fewer than rows.
        if std::mem::size_of::<T::Native>() <= 4
            && group_ids.len() < (1 << 31)
            && total_groups <= group_ids.len()
        {
            let batch_sums = &mut self.batch_sums;
            batch_sums.clear();
            batch_sums.resize(total_groups, 0);
            for_each_valid(array, group_ids, |group, value| {
                batch_sums[group] += value.into();
                counts[group] += 1;
            });
            for (sum, &batch_sum) in sums.iter_mut().zip(batch_sums.iter()) {
                *sum += batch_sum as i128;
            }
            return Ok(());
        }
        for_each_valid(array, group_ids, |group, value| {
            sums[group] += value.into() as i128;
            counts[group] += 1;
        });
        Ok(())
    }

    fn merge(
        &mut self,
        other: &dyn GroupsAccumulator,
        mapping: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let other = downcast::<Self>(other)?;
        self.sums.resize(total_groups, 0);
        self.counts.resize(total_groups, 0);
        for_each_mapped(mapping, other.sums.len(), |target, source| {
            self.sums[target] += other.sums[source];
            self.counts[target] += other.counts[source];
        });
        Ok(())
    }

    fn evaluate(&mut self, total_groups: usize) -> Result<ArrayRef> {
        self.sums.resize(total_groups, 0);
        self.counts.resize(total_groups, 0);
        let seen: Vec<bool> = self.counts.iter().map(|c| *c > 0).collect();
        let nulls = validity(&seen);
        let pairs = self.sums.iter().zip(&self.counts);
        if let DataType::Duration(_) = self.output_type {
            let averages = pairs
                .map(|(&sum, &count)| {
                    if count == 0 {
                        return Ok(0);
                    }
                    i64::try_from(div_round_half_away(sum, count as i128))
                        .map_err(|_| EngineError::NumericOverflow("avg of interval".into()))
                })
                .collect::<Result<Vec<i64>>>()?;
            return native_array(&self.output_type, averages, nulls);
        }
        let averages: Vec<f64> = pairs
            .map(|(&sum, &count)| {
                if count == 0 {
                    0.0
                } else {
                    sum as f64 / count as f64
                }
            })
            .collect();
        Ok(Arc::new(Float64Array::new(averages.into(), nulls)))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// AVG of floats.
pub struct AvgFloat<T: ArrowPrimitiveType> {
    sums: Vec<f64>,
    counts: Vec<u64>,
    input: PhantomData<fn() -> T>,
}

impl<T: ArrowPrimitiveType> AvgFloat<T>
where
    T::Native: Into<f64>,
{
    fn new() -> Self {
        AvgFloat {
            sums: Vec::new(),
            counts: Vec::new(),
            input: PhantomData,
        }
    }
}

impl<T: ArrowPrimitiveType> GroupsAccumulator for AvgFloat<T>
where
    T::Native: Into<f64>,
{
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_ids: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let array = primitive_argument::<T>(values, group_ids)?;
        self.sums.resize(total_groups, 0.0);
        self.counts.resize(total_groups, 0);
        let (sums, counts) = (&mut self.sums, &mut self.counts);
        for_each_valid(array, group_ids, |group, value| {
            sums[group] += value.into();
            counts[group] += 1;
        });
        Ok(())
    }

    fn merge(
        &mut self,
        other: &dyn GroupsAccumulator,
        mapping: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let other = downcast::<Self>(other)?;
        self.sums.resize(total_groups, 0.0);
        self.counts.resize(total_groups, 0);
        for_each_mapped(mapping, other.sums.len(), |target, source| {
            self.sums[target] += other.sums[source];
            self.counts[target] += other.counts[source];
        });
        Ok(())
    }

    fn evaluate(&mut self, total_groups: usize) -> Result<ArrayRef> {
        self.sums.resize(total_groups, 0.0);
        self.counts.resize(total_groups, 0);
        let seen: Vec<bool> = self.counts.iter().map(|c| *c > 0).collect();
        let averages: Vec<f64> = self
            .sums
            .iter()
            .zip(&self.counts)
            .map(|(&sum, &count)| if count == 0 { 0.0 } else { sum / count as f64 })
            .collect();
        Ok(Arc::new(Float64Array::new(
            averages.into(),
            validity(&seen),
        )))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// AVG of decimals: exact `sum / count` at the output scale, rounded half away from zero.
pub struct AvgDecimal {
    sums: Vec<i128>,
    counts: Vec<u64>,
    /// Output scale minus input scale.
    scale_up: u32,
    output_type: DataType,
}

impl AvgDecimal {
    fn try_new(input_scale: i8, output_type: DataType) -> Result<Self> {
        let DataType::Decimal128(_, output_scale) = output_type else {
            return Err(EngineError::Internal(format!(
                "decimal avg cannot produce {output_type}"
            )));
        };
        let scale_up = u32::try_from(output_scale as i16 - input_scale as i16)
            .ok()
            .ok_or_else(|| {
                EngineError::Internal(format!(
                    "decimal avg from scale {input_scale} to {output_type}"
                ))
            })?;
        Ok(AvgDecimal {
            sums: Vec::new(),
            counts: Vec::new(),
            scale_up,
            output_type,
        })
    }

    /// `sum / count` scaled by `10^scale_up`, rounded half away from zero; `None` if it does
    /// not fit. Long division in steps of at most 19 digits: the remainder is below `count`
    /// (< 2^64), so `remainder * 10^19` never overflows and `sum * 10^scale_up` is never
    /// formed.
    pub(crate) fn average(sum: i128, count: u64, scale_up: u32) -> Option<i128> {
        let count = count as u128;
        let magnitude = sum.unsigned_abs();
        let (mut quotient, mut remainder) = (magnitude / count, magnitude % count);
        let mut digits_left = scale_up;
        while digits_left > 0 {
            let step = digits_left.min(19);
            let scaled = remainder * 10_u128.pow(step);
            quotient = quotient
                .checked_mul(10_u128.pow(step))?
                .checked_add(scaled / count)?;
            remainder = scaled % count;
            digits_left -= step;
        }
        if remainder * 2 >= count {
            quotient = quotient.checked_add(1)?;
        }
        let result = i128::try_from(quotient).ok()?;
        Some(if sum < 0 { -result } else { result })
    }
}

impl GroupsAccumulator for AvgDecimal {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_ids: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let array = primitive_argument::<Decimal128Type>(values, group_ids)?;
        self.sums.resize(total_groups, 0);
        self.counts.resize(total_groups, 0);
        let (sums, counts) = (&mut self.sums, &mut self.counts);
        let mut overflowed = false;
        for_each_valid(array, group_ids, |group, value| {
            let (sum, o) = sums[group].overflowing_add(value);
            sums[group] = sum;
            overflowed |= o;
            counts[group] += 1;
        });
        if overflowed {
            return Err(overflow("numeric"));
        }
        Ok(())
    }

    fn merge(
        &mut self,
        other: &dyn GroupsAccumulator,
        mapping: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let other = downcast::<Self>(other)?;
        self.sums.resize(total_groups, 0);
        self.counts.resize(total_groups, 0);
        let mut overflowed = false;
        for_each_mapped(mapping, other.sums.len(), |target, source| {
            let (sum, o) = self.sums[target].overflowing_add(other.sums[source]);
            self.sums[target] = sum;
            overflowed |= o;
            self.counts[target] += other.counts[source];
        });
        if overflowed {
            return Err(overflow("numeric"));
        }
        Ok(())
    }

    fn evaluate(&mut self, total_groups: usize) -> Result<ArrayRef> {
        self.sums.resize(total_groups, 0);
        self.counts.resize(total_groups, 0);
        let limit = match self.output_type {
            DataType::Decimal128(precision, _) => max_decimal(precision),
            _ => MAX_DECIMAL38,
        };
        let averages = self
            .sums
            .iter()
            .zip(&self.counts)
            .map(|(&sum, &count)| {
                if count == 0 {
                    return Ok(0);
                }
                Self::average(sum, count, self.scale_up)
                    .filter(|avg| avg.unsigned_abs() <= limit as u128)
                    .ok_or_else(|| EngineError::NumericOverflow("avg of numeric".into()))
            })
            .collect::<Result<Vec<i128>>>()?;
        let seen: Vec<bool> = self.counts.iter().map(|c| *c > 0).collect();
        let array = Decimal128Array::new(averages.into(), validity(&seen))
            .with_data_type(self.output_type.clone());
        Ok(Arc::new(array))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{DurationMicrosecondArray, Float32Array, Int16Array, Int32Array};

    use super::*;

    /// Runs `func` over `batches` (argument column, group ids) in one accumulator.
    fn run(
        func: AggregateFunction,
        input_type: Option<&DataType>,
        output_type: &DataType,
        batches: &[(Vec<ArrayRef>, Vec<u32>)],
        total_groups: usize,
    ) -> Result<ArrayRef> {
        let mut accumulator = create_accumulator(func, input_type, output_type, false)?;
        for (values, ids) in batches {
            accumulator.update_batch(values, ids, total_groups)?;
        }
        accumulator.evaluate(total_groups)
    }

    fn int32(values: Vec<Option<i32>>) -> ArrayRef {
        Arc::new(Int32Array::from(values))
    }

    #[test]
    fn count_rows_and_values() {
        let values = int32(vec![Some(1), None, Some(3), None]);
        let ids = vec![0, 0, 1, 2];
        let star = run(
            AggregateFunction::Count,
            None,
            &DataType::Int64,
            &[(vec![], ids.clone())],
            4,
        )
        .unwrap();
        assert_eq!(star.as_primitive::<Int64Type>().values(), &[2, 1, 1, 0]);
        let of_values = run(
            AggregateFunction::Count,
            Some(&DataType::Int32),
            &DataType::Int64,
            &[(vec![values], ids)],
            4,
        )
        .unwrap();
        assert_eq!(
            of_values.as_primitive::<Int64Type>().values(),
            &[1, 1, 0, 0]
        );
        assert_eq!(of_values.null_count(), 0);
    }

    #[test]
    fn sum_of_integers_with_nulls_and_empty_groups() {
        let batch1 = (vec![int32(vec![Some(1), Some(2), None])], vec![0, 1, 2]);
        let batch2: (Vec<ArrayRef>, Vec<u32>) =
            (vec![Arc::new(Int32Array::from(vec![10, -20]))], vec![0, 1]);
        let sum = run(
            AggregateFunction::Sum,
            Some(&DataType::Int32),
            &DataType::Int64,
            &[batch1, batch2],
            4,
        )
        .unwrap();
        let expected: ArrayRef = Arc::new(Int64Array::from(vec![Some(11), Some(-18), None, None]));
        assert_eq!(&sum, &expected);
    }

    #[test]
    fn sum_overflow_is_an_error() {
        let values: ArrayRef = Arc::new(Int64Array::from(vec![i64::MAX, 1]));
        let err = run(
            AggregateFunction::Sum,
            Some(&DataType::Int64),
            &DataType::Int64,
            &[(vec![values], vec![0, 0])],
            1,
        )
        .unwrap_err();
        assert!(matches!(err, EngineError::NumericOverflow(_)), "{err}");
        // Overflow only in the merge of two partial states is caught too.
        let mut a = create_accumulator(
            AggregateFunction::Sum,
            Some(&DataType::Int64),
            &DataType::Int64,
            false,
        )
        .unwrap();
        let mut b = create_accumulator(
            AggregateFunction::Sum,
            Some(&DataType::Int64),
            &DataType::Int64,
            false,
        )
        .unwrap();
        let big: ArrayRef = Arc::new(Int64Array::from(vec![i64::MAX]));
        a.update_batch(&[Arc::clone(&big)], &[0], 1).unwrap();
        b.update_batch(&[big], &[0], 1).unwrap();
        assert!(matches!(
            a.merge(b.as_ref(), &[0], 1),
            Err(EngineError::NumericOverflow(_))
        ));
    }

    #[test]
    fn sum_and_avg_of_floats() {
        let values: ArrayRef = Arc::new(Float32Array::from(vec![Some(1.5), None, Some(2.5)]));
        let batch = (vec![values], vec![0, 0, 0]);
        let sum = run(
            AggregateFunction::Sum,
            Some(&DataType::Float32),
            &DataType::Float64,
            std::slice::from_ref(&batch),
            2,
        )
        .unwrap();
        let expected: ArrayRef = Arc::new(Float64Array::from(vec![Some(4.0), None]));
        assert_eq!(&sum, &expected);
        let avg = run(
            AggregateFunction::Avg,
            Some(&DataType::Float32),
            &DataType::Float64,
            &[batch],
            2,
        )
        .unwrap();
        let expected: ArrayRef = Arc::new(Float64Array::from(vec![Some(2.0), None]));
        assert_eq!(&avg, &expected);
    }

    #[test]
    fn avg_of_integers_is_float() {
        let values: ArrayRef = Arc::new(Int16Array::from(vec![1, 2, 2, 7]));
        let avg = run(
            AggregateFunction::Avg,
            Some(&DataType::Int16),
            &DataType::Float64,
            &[(vec![values], vec![0, 0, 1, 1])],
            2,
        )
        .unwrap();
        let expected: ArrayRef = Arc::new(Float64Array::from(vec![1.5, 4.5]));
        assert_eq!(&avg, &expected);
    }

    #[test]
    fn avg_of_extreme_integers_over_batches_is_exact() {
        // Batches with fewer groups than rows take the per-batch `i64` sums; the last batch
        // (more groups than rows) the direct `i128` ones. Group 2 gets rows only there.
        let narrow: ArrayRef = Arc::new(Int32Array::from(vec![i32::MAX, i32::MAX, i32::MIN]));
        let wide: ArrayRef = Arc::new(Int32Array::from(vec![i32::MIN, 3]));
        let batches = [
            (vec![Arc::clone(&narrow)], vec![0, 0, 1]),
            (vec![Arc::clone(&narrow)], vec![0, 0, 1]),
            (vec![wide], vec![1, 2]),
        ];
        let avg = run(
            AggregateFunction::Avg,
            Some(&DataType::Int32),
            &DataType::Float64,
            &batches,
            3,
        )
        .unwrap();
        let expected: ArrayRef = Arc::new(Float64Array::from(vec![
            i32::MAX as f64,
            i32::MIN as f64,
            3.0,
        ]));
        assert_eq!(&avg, &expected);
    }

    fn decimal(values: Vec<Option<i128>>, precision: u8, scale: i8) -> ArrayRef {
        Arc::new(
            Decimal128Array::from(values)
                .with_precision_and_scale(precision, scale)
                .unwrap(),
        )
    }

    #[test]
    fn decimal_sum_and_exact_avg() {
        // 1.00, 2.00, 2.00 → sum 5.00, avg 1.666666 (scale 6, rounded up); -1.00, -0.01 →
        // avg -0.505000; 0.01, 0.01, 0.02 → 0.013333; a lone -0.01 …
        let values = decimal(
            vec![Some(100), Some(200), Some(200), Some(-100), Some(-1), None],
            10,
            2,
        );
        let ids = vec![0, 0, 0, 1, 1, 2];
        let sum = run(
            AggregateFunction::Sum,
            Some(&DataType::Decimal128(10, 2)),
            &DataType::Decimal128(38, 2),
            &[(vec![Arc::clone(&values)], ids.clone())],
            3,
        )
        .unwrap();
        assert_eq!(sum.data_type(), &DataType::Decimal128(38, 2));
        let expected = decimal(vec![Some(500), Some(-101), None], 38, 2);
        assert_eq!(&sum, &expected);
        let avg = run(
            AggregateFunction::Avg,
            Some(&DataType::Decimal128(10, 2)),
            &DataType::Decimal128(14, 6),
            &[(vec![values], ids)],
            3,
        )
        .unwrap();
        let expected = decimal(vec![Some(1_666_667), Some(-505_000), None], 14, 6);
        assert_eq!(&avg, &expected);
    }

    #[test]
    fn decimal_avg_rounds_half_away_from_zero() {
        assert_eq!(AvgDecimal::average(1, 8, 2), Some(13)); // 0.125 → 0.13
        assert_eq!(AvgDecimal::average(-1, 8, 2), Some(-13));
        assert_eq!(AvgDecimal::average(1, 3, 4), Some(3333));
        assert_eq!(AvgDecimal::average(2, 3, 4), Some(6667));
        assert_eq!(AvgDecimal::average(i128::MAX, 1, 0), Some(i128::MAX));
        assert_eq!(AvgDecimal::average(i128::MAX, 1, 1), None);
        // 143 / 12 = 11.91666…: at 16 more digits, as PostgreSQL's numeric average shows.
        assert_eq!(
            AvgDecimal::average(143, 12, 16),
            Some(119_166_666_666_666_667)
        );
        assert_eq!(
            AvgDecimal::average(-2, 3, 30),
            Some(-(10_i128.pow(30) * 2 / 3 + 1))
        );
    }

    #[test]
    fn decimal_sum_beyond_38_digits_is_an_error() {
        let values = decimal(vec![Some(MAX_DECIMAL38), Some(1)], 38, 0);
        let err = run(
            AggregateFunction::Sum,
            Some(&DataType::Decimal128(38, 0)),
            &DataType::Decimal128(38, 0),
            &[(vec![values], vec![0, 0])],
            1,
        )
        .unwrap_err();
        assert!(matches!(err, EngineError::NumericOverflow(_)));
    }

    #[test]
    fn duration_sum_and_avg() {
        let values: ArrayRef = Arc::new(DurationMicrosecondArray::from(vec![10, 15, -3]));
        let unit = DataType::Duration(TimeUnit::Microsecond);
        let batch = (vec![values], vec![0, 0, 1]);
        let sum = run(
            AggregateFunction::Sum,
            Some(&unit),
            &unit,
            std::slice::from_ref(&batch),
            2,
        )
        .unwrap();
        let expected: ArrayRef = Arc::new(DurationMicrosecondArray::from(vec![25, -3]));
        assert_eq!(&sum, &expected);
        let avg = run(AggregateFunction::Avg, Some(&unit), &unit, &[batch], 2).unwrap();
        // 12.5 rounds away from zero.
        let expected: ArrayRef = Arc::new(DurationMicrosecondArray::from(vec![13, -3]));
        assert_eq!(&avg, &expected);
    }

    #[test]
    fn aggregates_over_the_null_type_are_null() {
        let values: ArrayRef = Arc::new(arrow::array::NullArray::new(2));
        let sum = run(
            AggregateFunction::Sum,
            Some(&DataType::Null),
            &DataType::Int64,
            &[(vec![Arc::clone(&values)], vec![0, 0])],
            1,
        )
        .unwrap();
        assert_eq!(sum.data_type(), &DataType::Int64);
        assert_eq!(sum.null_count(), 1);
        let count = run(
            AggregateFunction::Count,
            Some(&DataType::Null),
            &DataType::Int64,
            &[(vec![values], vec![0, 0])],
            1,
        )
        .unwrap();
        assert_eq!(count.as_primitive::<Int64Type>().value(0), 0);
    }

    #[test]
    fn invalid_combinations_are_plan_errors() {
        assert!(matches!(
            create_accumulator(
                AggregateFunction::Sum,
                Some(&DataType::Utf8),
                &DataType::Int64,
                false
            ),
            Err(EngineError::Plan(_))
        ));
        assert!(matches!(
            create_accumulator(AggregateFunction::Sum, None, &DataType::Int64, false),
            Err(EngineError::Plan(_))
        ));
    }

    #[test]
    fn merge_maps_groups_and_skips_unmapped() {
        let make = || {
            create_accumulator(
                AggregateFunction::Avg,
                Some(&DataType::Int32),
                &DataType::Float64,
                false,
            )
            .unwrap()
        };
        let (mut a, mut b) = (make(), make());
        a.update_batch(&[int32(vec![Some(1), Some(3)])], &[0, 1], 2)
            .unwrap();
        b.update_batch(&[int32(vec![Some(5), Some(100), Some(7)])], &[0, 1, 2], 3)
            .unwrap();
        // b's group 0 is a's group 1, b's group 2 is new group 2, b's group 1 goes elsewhere.
        a.merge(b.as_ref(), &[1, NO_GROUP, 2], 3).unwrap();
        let expected: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 4.0, 7.0]));
        assert_eq!(&a.evaluate(3).unwrap(), &expected);
    }
}
