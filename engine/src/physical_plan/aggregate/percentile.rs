//! MEDIAN and PERCENTILE_CONT: exact, so every value is kept until the end.
//!
//! A percentile cannot be folded into a running state the way a sum can, so each partition
//! keeps its non-NULL values as `(group, value)` pairs in two flat vectors — one push per
//! row, no per-group allocation, and merging partitions is an append. At `evaluate` the
//! pairs are bucketed by group (a counting sort: one pass to count, one to place) and each
//! group's percentile is found by selection (`select_nth_unstable`), not by a full sort.
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
        let mut next = starts.clone();
        let mut sorted = vec![0.0; self.values.len()];
        for (&group, &value) in self.groups.iter().zip(&self.values) {
            sorted[next[group as usize]] = value;
            next[group as usize] += 1;
        }
        let fraction = self.fraction.unwrap_or(0.5);
        let results: Float64Array = (0..total_groups)
            .map(|g| percentile_cont(&mut sorted[starts[g]..starts[g + 1]], fraction))
            .collect();
        self.groups = Vec::new();
        self.values = Vec::new();
        Ok(Arc::new(results))
    }

    fn as_any(&self) -> &dyn Any {
        self
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
}
