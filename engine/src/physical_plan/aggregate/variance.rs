//! VAR_SAMP, VAR_POP, STDDEV_SAMP and STDDEV_POP.
//!
//! Each group keeps `(count, mean, m2)` updated with Welford's algorithm, which does not lose
//! precision the way `Σx² − (Σx)²/n` does when the mean is large next to the spread. Partial
//! states merge with Chan et al.'s pairwise formula. Numeric input of any type is converted to
//! `Float64` first; the sample variants are NULL for fewer than two values, the population
//! variants for none.

use std::any::Any;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};

use super::accumulators::{
    downcast, for_each_mapped, for_each_valid, primitive_argument, GroupsAccumulator,
};
use crate::error::{EngineError, Result};
use crate::expr::type_coercion::is_numeric;
use crate::expr::AggregateFunction;

/// The variance family over one numeric argument.
pub struct VarianceAccumulator {
    counts: Vec<u64>,
    means: Vec<f64>,
    m2s: Vec<f64>,
    sample: bool,
    root: bool,
}

impl VarianceAccumulator {
    /// A new accumulator for `func` (one of the four variance functions).
    pub fn try_new(
        func: AggregateFunction,
        input_type: &DataType,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        use AggregateFunction as F;
        if !is_numeric(input_type) {
            return Err(EngineError::Plan(format!(
                "{} does not accept values of type {input_type}",
                func.name()
            )));
        }
        let (sample, root) = match func {
            F::VarSamp => (true, false),
            F::VarPop => (false, false),
            F::StdDevSamp => (true, true),
            F::StdDevPop => (false, true),
            other => {
                return Err(EngineError::Internal(format!(
                    "{} is not a variance",
                    other.name()
                )))
            }
        };
        Ok(Box::new(VarianceAccumulator {
            counts: Vec::new(),
            means: Vec::new(),
            m2s: Vec::new(),
            sample,
            root,
        }))
    }

    fn resize(&mut self, total_groups: usize) {
        self.counts.resize(total_groups, 0);
        self.means.resize(total_groups, 0.0);
        self.m2s.resize(total_groups, 0.0);
    }
}

impl GroupsAccumulator for VarianceAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_ids: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let converted;
        let values = match values {
            [array] if array.data_type() != &DataType::Float64 => {
                converted = [cast(array, &DataType::Float64)?];
                &converted[..]
            }
            other => other,
        };
        let array = primitive_argument::<Float64Type>(values, group_ids)?;
        self.resize(total_groups);
        let (counts, means, m2s) = (&mut self.counts, &mut self.means, &mut self.m2s);
        for_each_valid(array, group_ids, |group, value| {
            counts[group] += 1;
            let delta = value - means[group];
            means[group] += delta / counts[group] as f64;
            m2s[group] += delta * (value - means[group]);
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
        self.resize(total_groups);
        for_each_mapped(mapping, other.counts.len(), |target, source| {
            let other_count = other.counts[source];
            if other_count == 0 {
                return;
            }
            let count = self.counts[target];
            if count == 0 {
                self.counts[target] = other_count;
                self.means[target] = other.means[source];
                self.m2s[target] = other.m2s[source];
                return;
            }
            let total = (count + other_count) as f64;
            let delta = other.means[source] - self.means[target];
            self.means[target] += delta * other_count as f64 / total;
            self.m2s[target] +=
                other.m2s[source] + delta * delta * count as f64 * other_count as f64 / total;
            self.counts[target] += other_count;
        });
        Ok(())
    }

    fn evaluate(&mut self, total_groups: usize) -> Result<ArrayRef> {
        self.resize(total_groups);
        let minimum = if self.sample { 2 } else { 1 };
        let results: Float64Array = self
            .counts
            .iter()
            .zip(&self.m2s)
            .map(|(&count, &m2)| {
                if count < minimum {
                    return None;
                }
                let divisor = if self.sample { count - 1 } else { count };
                // Rounding can leave m2 a hair below zero for constant input.
                let variance = (m2 / divisor as f64).max(0.0);
                Some(if self.root { variance.sqrt() } else { variance })
            })
            .collect();
        Ok(Arc::new(results))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{AsArray, Int32Array};

    use super::*;

    fn run(
        func: AggregateFunction,
        values: Vec<Option<i32>>,
        ids: Vec<u32>,
        groups: usize,
    ) -> Vec<Option<f64>> {
        let mut accumulator = VarianceAccumulator::try_new(func, &DataType::Int32).unwrap();
        let values: ArrayRef = Arc::new(Int32Array::from(values));
        accumulator.update_batch(&[values], &ids, groups).unwrap();
        let result = accumulator.evaluate(groups).unwrap();
        result.as_primitive::<Float64Type>().iter().collect()
    }

    fn close(a: Option<f64>, b: Option<f64>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-9,
            (None, None) => true,
            _ => false,
        }
    }

    #[test]
    fn four_variants_against_hand_results() {
        // Group 0: 2, 4, 4, 4, 5, 5, 7, 9 → mean 5, Σ(x−5)² = 32.
        // Group 1: one value. Group 2: no value.
        let values = vec![
            Some(2),
            Some(4),
            Some(4),
            Some(4),
            Some(5),
            Some(5),
            Some(7),
            Some(9),
            Some(3),
            None,
        ];
        let ids = vec![0, 0, 0, 0, 0, 0, 0, 0, 1, 2];
        let cases = [
            (AggregateFunction::VarPop, [Some(4.0), Some(0.0), None]),
            (AggregateFunction::VarSamp, [Some(32.0 / 7.0), None, None]),
            (AggregateFunction::StdDevPop, [Some(2.0), Some(0.0), None]),
            (
                AggregateFunction::StdDevSamp,
                [Some((32.0_f64 / 7.0).sqrt()), None, None],
            ),
        ];
        for (func, expected) in cases {
            let got = run(func, values.clone(), ids.clone(), 3);
            for (g, e) in got.iter().zip(expected) {
                assert!(close(*g, e), "{func:?}: {got:?}");
            }
        }
    }

    #[test]
    fn merging_halves_equals_one_pass() {
        let all: Vec<f64> = (0..100).map(|i| 1e9 + (i * 37 % 11) as f64).collect();
        let one_pass = {
            let mut acc =
                VarianceAccumulator::try_new(AggregateFunction::VarSamp, &DataType::Float64)
                    .unwrap();
            let values: ArrayRef = Arc::new(Float64Array::from(all.clone()));
            acc.update_batch(&[values], &[0; 100], 1).unwrap();
            acc.evaluate(1)
                .unwrap()
                .as_primitive::<Float64Type>()
                .value(0)
        };
        let mut a =
            VarianceAccumulator::try_new(AggregateFunction::VarSamp, &DataType::Float64).unwrap();
        let mut b =
            VarianceAccumulator::try_new(AggregateFunction::VarSamp, &DataType::Float64).unwrap();
        let first: ArrayRef = Arc::new(Float64Array::from(all[..30].to_vec()));
        let second: ArrayRef = Arc::new(Float64Array::from(all[30..].to_vec()));
        a.update_batch(&[first], &[0; 30], 1).unwrap();
        b.update_batch(&[second], &[0; 70], 1).unwrap();
        a.merge(b.as_ref(), &[0], 1).unwrap();
        let merged = a
            .evaluate(1)
            .unwrap()
            .as_primitive::<Float64Type>()
            .value(0);
        assert!((merged - one_pass).abs() < 1e-6, "{merged} vs {one_pass}");
        assert!(one_pass > 5.0 && one_pass < 20.0, "{one_pass}");
    }
}
