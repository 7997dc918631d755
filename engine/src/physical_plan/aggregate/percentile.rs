//! MEDIAN and PERCENTILE_CONT: exact, so every value is kept until the end.
//!
//! A percentile cannot be folded into a running state the way a sum can, so each partition
//! keeps its non-NULL values as `(group, value)` pairs in two flat vectors — one push per
//! row, no per-group allocation, and merging partitions is an append. At `evaluate` the
//! pairs are bucketed by group (a counting sort: one pass to count, one to place) and each
//! group's percentile is found by selection (`select_nth_unstable`), not by a full sort.
//! With millions of values the groups are cut into ranges of about equal value counts, one
//! per thread the session allows, and each thread places and selects its own range (the merge that precedes
//! `evaluate` runs on one thread, so this is where a median over many rows gets its cores).
//!
//! The result follows PostgreSQL's `percentile_cont`: over `n` sorted values the fraction
//! `f` falls at position `f·(n−1)`; between the two nearest values the result is
//! interpolated linearly. Input of any numeric type is read as `Float64` and the result is
//! `Float64` (PostgreSQL casts numeric input to `double precision` too). NaN sorts above
//! every number, as in PostgreSQL.

use std::any::Any;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};

use super::accumulators::{downcast, for_each_valid, GroupsAccumulator};
use super::NO_GROUP;
use crate::error::{EngineError, Result};
use crate::expr::type_coercion::is_numeric;
use crate::expr::AggregateFunction;

/// The values of every group, kept for an exact percentile.
pub struct PercentileAccumulator {
    /// The fraction: fixed for MEDIAN; for PERCENTILE_CONT read from the second argument
    /// (a constant) on the first batch that has it.
    fraction: Option<f64>,
    groups: Vec<u32>,
    values: Vec<f64>,
    /// Most threads `evaluate` may use (the session's partitions, set by the aggregate).
    threads: usize,
}

impl PercentileAccumulator {
    /// A new accumulator for `func` (MEDIAN or PERCENTILE_CONT) over `input_type`.
    pub fn try_new(
        func: AggregateFunction,
        input_type: &DataType,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        if !is_numeric(input_type) {
            return Err(EngineError::Plan(format!(
                "{} does not accept values of type {input_type}",
                func.name()
            )));
        }
        let fraction = match func {
            AggregateFunction::Median => Some(0.5),
            AggregateFunction::PercentileCont => None,
            other => {
                return Err(EngineError::Internal(format!(
                    "{} is not a percentile",
                    other.name()
                )))
            }
        };
        Ok(Box::new(PercentileAccumulator {
            fraction,
            groups: Vec::new(),
            values: Vec::new(),
            threads: 1,
        }))
    }

    /// Reads the fraction from PERCENTILE_CONT's second argument: it must be one constant
    /// in `[0, 1]` (rows a FILTER rejected are NULL there and do not count).
    fn read_fraction(&mut self, argument: &ArrayRef) -> Result<()> {
        let floats = cast(argument, &DataType::Float64)?;
        let floats = floats.as_primitive::<Float64Type>();
        let mut seen = self.fraction;
        for fraction in floats.iter().flatten() {
            if !(0.0..=1.0).contains(&fraction) {
                return Err(EngineError::Execution(format!(
                    "percentile value {fraction} is not between 0 and 1"
                )));
            }
            match seen {
                Some(previous) if previous != fraction => {
                    return Err(EngineError::Execution(
                        "the percentile fraction must be the same for every row".into(),
                    ))
                }
                _ => seen = Some(fraction),
            }
        }
        self.fraction = seen;
        Ok(())
    }
}

impl GroupsAccumulator for PercentileAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_ids: &[u32],
        _total_groups: usize,
    ) -> Result<()> {
        let value = match values {
            [value] => value,
            [value, fraction] => {
                self.read_fraction(fraction)?;
                value
            }
            _ => {
                return Err(EngineError::Internal(format!(
                    "percentile expected one or two arguments, got {}",
                    values.len()
                )))
            }
        };
        if value.len() != group_ids.len() {
            return Err(EngineError::Internal(
                "percentile argument and group ids differ in length".into(),
            ));
        }
        let floats = cast(value, &DataType::Float64)?;
        let floats = floats.as_primitive::<Float64Type>();
        self.groups.reserve(floats.len() - floats.null_count());
        self.values.reserve(floats.len() - floats.null_count());
        let (groups, kept) = (&mut self.groups, &mut self.values);
        for_each_valid(floats, group_ids, |group, value| {
            groups.push(group as u32);
            kept.push(value);
        });
        Ok(())
    }

    fn merge(
        &mut self,
        other: &dyn GroupsAccumulator,
        mapping: &[u32],
        _total_groups: usize,
    ) -> Result<()> {
        let other = downcast::<Self>(other)?;
        if self.fraction.is_none() {
            self.fraction = other.fraction;
        }
        for (&group, &value) in other.groups.iter().zip(&other.values) {
            let target = mapping.get(group as usize).copied().unwrap_or(NO_GROUP);
            if target != NO_GROUP {
                self.groups.push(target);
                self.values.push(value);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, total_groups: usize) -> Result<ArrayRef> {
        // Counting sort of the values by group: `starts[g]..starts[g + 1]` is group g.
        let mut starts = vec![0usize; total_groups + 1];
        for &group in &self.groups {
            let slot = starts.get_mut(group as usize + 1).ok_or_else(|| {
                EngineError::Internal("percentile group beyond the group count".into())
            })?;
            *slot += 1;
        }
        for g in 0..total_groups {
            starts[g + 1] += starts[g];
        }
        let fraction = self.fraction.unwrap_or(0.5);
        let mut sorted = vec![0.0; self.values.len()];
        let mut results: Vec<Option<f64>> = vec![None; total_groups];
        // Ranges of groups holding about the same number of values, one per thread; each
        // thread scatters and selects only its own groups, into its own part of `sorted`.
        let threads = evaluation_threads(self.values.len(), self.threads);
        let mut bounds = vec![0];
        for t in 1..threads {
            let share = self.values.len() * t / threads;
            let bound = starts
                .partition_point(|&start| start < share)
                .min(total_groups);
            if bound > *bounds.last().unwrap_or(&0) {
                bounds.push(bound);
            }
        }
        bounds.push(total_groups);
        let mut tasks = Vec::with_capacity(bounds.len());
        let (mut rest_sorted, mut rest_results) = (sorted.as_mut_slice(), results.as_mut_slice());
        for range in bounds.windows(2) {
            let (low, high) = (range[0], range[1]);
            let (slice, tail) =
                std::mem::take(&mut rest_sorted).split_at_mut(starts[high] - starts[low]);
            let (out, tail_results) = std::mem::take(&mut rest_results).split_at_mut(high - low);
            rest_sorted = tail;
            rest_results = tail_results;
            tasks.push(GroupRange {
                low,
                starts: &starts[low..=high],
                sorted: slice,
                results: out,
            });
        }
        let (groups, values) = (&self.groups, &self.values);
        if tasks.len() == 1 {
            for task in tasks {
                task.evaluate(groups, values, fraction);
            }
        } else {
            std::thread::scope(|scope| {
                for task in tasks {
                    scope.spawn(move || task.evaluate(groups, values, fraction));
                }
            });
        }
        self.groups = Vec::new();
        self.values = Vec::new();
        Ok(Arc::new(Float64Array::from(results)))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn set_evaluation_threads(&mut self, threads: usize) {
        self.threads = threads;
    }
}

/// Values below which one thread evaluates every group: a thread pays off only when it has
/// millions of values to scatter and select.
const VALUES_PER_THREAD: usize = 1 << 20;

/// Threads for evaluating `values` kept values: at most `allowed`.
fn evaluation_threads(values: usize, allowed: usize) -> usize {
    (values / VALUES_PER_THREAD).clamp(1, allowed.max(1))
}

/// Groups `low..low + results.len()`, evaluated by one thread.
struct GroupRange<'a> {
    low: usize,
    /// The counting sort's starts of these groups and of the next one (absolute positions).
    starts: &'a [usize],
    /// `sorted[starts[0]..starts[last]]`: where these groups' values are gathered.
    sorted: &'a mut [f64],
    results: &'a mut [Option<f64>],
}

impl GroupRange<'_> {
    /// Gathers the values of these groups from all the `(group, value)` pairs, then selects
    /// each group's percentile.
    fn evaluate(self, groups: &[u32], values: &[f64], fraction: f64) {
        let base = self.starts[0];
        let count = self.results.len();
        let mut next: Vec<usize> = self.starts[..count].iter().map(|s| s - base).collect();
        for (&group, &value) in groups.iter().zip(values) {
            let local = (group as usize).wrapping_sub(self.low);
            if local < count {
                self.sorted[next[local]] = value;
                next[local] += 1;
            }
        }
        for (local, result) in self.results.iter_mut().enumerate() {
            let range = self.starts[local] - base..self.starts[local + 1] - base;
            *result = percentile_cont(&mut self.sorted[range], fraction);
        }
    }
}

/// PostgreSQL's `percentile_cont(fraction)` of `values` (reordered in place); NULL for none.
fn percentile_cont(values: &mut [f64], fraction: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let position = fraction * (values.len() - 1) as f64;
    let lower_index = position.floor() as usize;
    let (_, &mut lower, above) = values.select_nth_unstable_by(lower_index, f64::total_cmp);
    let weight = position - lower_index as f64;
    if weight == 0.0 || above.is_empty() {
        return Some(lower);
    }
    let upper = above.iter().copied().fold(f64::NAN, |smallest, v| {
        if smallest.is_nan() || v.total_cmp(&smallest).is_lt() {
            v
        } else {
            smallest
        }
    });
    Some(lower + (upper - lower) * weight)
}

#[cfg(test)]
mod tests {
    use arrow::array::{Float64Array as Floats, Int32Array};

    use super::*;

    fn results(array: ArrayRef) -> Vec<Option<f64>> {
        array.as_primitive::<Float64Type>().iter().collect()
    }

    #[test]
    fn median_interpolates_between_the_middle_values_per_group() {
        let mut median =
            PercentileAccumulator::try_new(AggregateFunction::Median, &DataType::Int32).unwrap();
        // Group 0: 1, 3, 4, 10 → (3 + 4) / 2; group 1: 7, NULL → 7; group 2: nothing.
        let values: ArrayRef = Arc::new(Int32Array::from(vec![
            Some(10),
            Some(7),
            Some(3),
            None,
            Some(1),
            Some(4),
        ]));
        median
            .update_batch(&[values], &[0, 1, 0, 1, 0, 0], 3)
            .unwrap();
        assert_eq!(
            results(median.evaluate(3).unwrap()),
            vec![Some(3.5), Some(7.0), None]
        );
    }

    #[test]
    fn percentile_cont_matches_postgresql_positions() {
        // PostgreSQL: percentile_cont(0.25) WITHIN GROUP (ORDER BY x) over 1, 2, 3, 4, 5
        // is 2 (position 1); 0.1 gives 1.4 (position 0.4); 1.0 gives the maximum.
        for (fraction, expected) in [(0.25, 2.0), (0.1, 1.4), (1.0, 5.0), (0.0, 1.0)] {
            let mut accumulator = PercentileAccumulator::try_new(
                AggregateFunction::PercentileCont,
                &DataType::Float64,
            )
            .unwrap();
            let values: ArrayRef = Arc::new(Floats::from(vec![5.0, 1.0, 4.0, 2.0, 3.0]));
            let fractions: ArrayRef = Arc::new(Floats::from(vec![fraction; 5]));
            accumulator
                .update_batch(&[values, fractions], &[0; 5], 1)
                .unwrap();
            let got = results(accumulator.evaluate(1).unwrap())[0].unwrap();
            assert!((got - expected).abs() < 1e-12, "{fraction}: {got}");
        }
    }

    #[test]
    fn fraction_outside_zero_to_one_is_an_error() {
        let mut accumulator =
            PercentileAccumulator::try_new(AggregateFunction::PercentileCont, &DataType::Float64)
                .unwrap();
        let values: ArrayRef = Arc::new(Floats::from(vec![1.0]));
        let fractions: ArrayRef = Arc::new(Floats::from(vec![1.5]));
        let error = accumulator
            .update_batch(&[values, fractions], &[0], 1)
            .unwrap_err();
        assert!(error.to_string().contains("not between 0 and 1"), "{error}");
    }

    #[test]
    fn merged_partitions_give_the_one_pass_median() {
        let make = || {
            PercentileAccumulator::try_new(AggregateFunction::Median, &DataType::Float64).unwrap()
        };
        let (mut a, mut b) = (make(), make());
        let first: ArrayRef = Arc::new(Floats::from(vec![9.0, 1.0, 100.0]));
        let second: ArrayRef = Arc::new(Floats::from(vec![2.0, 8.0, 50.0]));
        a.update_batch(&[first], &[0, 0, 1], 2).unwrap();
        // b's group 0 is a's group 1 and b's group 1 is a's group 0.
        b.update_batch(&[second], &[1, 1, 0], 2).unwrap();
        a.merge(b.as_ref(), &[1, 0], 2).unwrap();
        // Group 0: 9, 1, 2, 8 → 5; group 1: 100, 50 → 75.
        assert_eq!(results(a.evaluate(2).unwrap()), vec![Some(5.0), Some(75.0)]);
    }

    #[test]
    fn millions_of_values_are_evaluated_in_parallel_ranges() {
        // Enough values for several threads; group g holds (g % 7) * 300 + 1 values, and
        // every third group none, so the ranges are uneven. Checked against sorting.
        let total_groups = 5000;
        let mut group_ids = Vec::new();
        let mut values = Vec::new();
        let mut per_group: Vec<Vec<f64>> = vec![Vec::new(); total_groups];
        let mut state = 12345u64;
        for (g, kept) in per_group.iter_mut().enumerate() {
            if g % 3 == 2 {
                continue;
            }
            for _ in 0..(g % 7) * 300 + 1 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let value = (state >> 40) as f64 / 7.0;
                group_ids.push(g as u32);
                values.push(value);
                kept.push(value);
            }
        }
        // Shuffle the rows' order across groups: interleave the two halves.
        let half = values.len() / 2;
        let order: Vec<usize> = (0..half)
            .flat_map(|i| [i, half + i])
            .chain(2 * half..values.len())
            .collect();
        let group_ids: Vec<u32> = order.iter().map(|&i| group_ids[i]).collect();
        let values: Vec<f64> = order.iter().map(|&i| values[i]).collect();
        assert!(values.len() > 2 * VALUES_PER_THREAD);
        let mut median =
            PercentileAccumulator::try_new(AggregateFunction::Median, &DataType::Float64).unwrap();
        let array: ArrayRef = Arc::new(Floats::from(values));
        median
            .update_batch(&[array], &group_ids, total_groups)
            .unwrap();
        // More threads than the values need: the ranges are cut by value counts.
        median.set_evaluation_threads(8);
        let got = results(median.evaluate(total_groups).unwrap());
        for (g, mut kept) in per_group.into_iter().enumerate() {
            kept.sort_by(f64::total_cmp);
            let expected = match kept.len() {
                0 => None,
                n if n % 2 == 1 => Some(kept[n / 2]),
                n => Some((kept[n / 2 - 1] + kept[n / 2]) / 2.0),
            };
            match (got[g], expected) {
                (Some(a), Some(b)) => assert!((a - b).abs() <= 1e-9 * b.abs(), "group {g}"),
                (a, b) => assert_eq!(a, b, "group {g}"),
            }
        }
    }
}
