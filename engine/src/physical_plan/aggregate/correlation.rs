//! CORR, COVAR_POP, COVAR_SAMP, REGR_SLOPE, REGR_INTERCEPT and REGR_R2.
//!
//! All six are functions of the same per-group moments of a pair `(y, x)`: the count, the
//! two means, the sums of squared deviations `Sxx`, `Syy` and the co-deviation `Sxy`. They
//! are kept with Welford's updates (stable when the means are large next to the spread) and
//! partial states merge with Chan et al.'s pairwise formulas, as the variance family's do.
//! A row counts only when both `y` and `x` are non-NULL (PostgreSQL's rule). The results
//! follow PostgreSQL's `float8_corr`, `float8_regr_*` and `float8_covar_*`: NULL over no
//! rows, COVAR_SAMP NULL below two rows, CORR/REGR_SLOPE/REGR_INTERCEPT NULL when `x` (or,
//! for CORR, `y`) does not vary, and REGR_R2 1 when only `y` is constant.

use std::any::Any;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use arrow::buffer::NullBuffer;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};

use super::accumulators::{downcast, for_each_mapped, GroupsAccumulator};
use crate::error::{EngineError, Result};
use crate::expr::AggregateFunction;

/// The moments of `(y, x)` for every group.
pub struct BivariateAccumulator {
    func: AggregateFunction,
    counts: Vec<u64>,
    means_x: Vec<f64>,
    means_y: Vec<f64>,
    /// Σ(x − mean x)².
    sxx: Vec<f64>,
    /// Σ(y − mean y)².
    syy: Vec<f64>,
    /// Σ(x − mean x)(y − mean y).
    sxy: Vec<f64>,
}

impl BivariateAccumulator {
    /// A new accumulator for one of the bivariate functions.
    pub fn try_new(func: AggregateFunction) -> Result<Box<dyn GroupsAccumulator>> {
        if !func.is_bivariate() {
            return Err(EngineError::Internal(format!(
                "{} is not a function of (y, x)",
                func.name()
            )));
        }
        Ok(Box::new(BivariateAccumulator {
            func,
            counts: Vec::new(),
            means_x: Vec::new(),
            means_y: Vec::new(),
            sxx: Vec::new(),
            syy: Vec::new(),
            sxy: Vec::new(),
        }))
    }

    fn resize(&mut self, total_groups: usize) {
        self.counts.resize(total_groups, 0);
        self.means_x.resize(total_groups, 0.0);
        self.means_y.resize(total_groups, 0.0);
        self.sxx.resize(total_groups, 0.0);
        self.syy.resize(total_groups, 0.0);
        self.sxy.resize(total_groups, 0.0);
    }

    fn add(&mut self, group: usize, y: f64, x: f64) {
        self.counts[group] += 1;
        let count = self.counts[group] as f64;
        let delta_x = x - self.means_x[group];
        let delta_y = y - self.means_y[group];
        self.means_x[group] += delta_x / count;
        self.means_y[group] += delta_y / count;
        self.sxx[group] += delta_x * (x - self.means_x[group]);
        self.syy[group] += delta_y * (y - self.means_y[group]);
        self.sxy[group] += delta_x * (y - self.means_y[group]);
    }

    fn result(&self, group: usize) -> Option<f64> {
        use AggregateFunction as A;
        let count = self.counts[group];
        if count == 0 {
            return None;
        }
        let (sxx, syy, sxy) = (self.sxx[group], self.syy[group], self.sxy[group]);
        match self.func {
            A::CovarPop => Some(sxy / count as f64),
            A::CovarSamp => (count > 1).then(|| sxy / (count - 1) as f64),
            A::Corr => (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt()),
            A::RegrSlope => (sxx > 0.0).then(|| sxy / sxx),
            A::RegrIntercept => {
                (sxx > 0.0).then(|| self.means_y[group] - self.means_x[group] * sxy / sxx)
            }
            A::RegrR2 => match (sxx > 0.0, syy > 0.0) {
                (false, _) => None,
                (true, false) => Some(1.0),
                (true, true) => Some(sxy * sxy / (sxx * syy)),
            },
            _ => None,
        }
    }
}

/// An argument as `Float64` (numbers of any type are read as floats).
fn floats(array: &ArrayRef) -> Result<ArrayRef> {
    Ok(if array.data_type() == &DataType::Float64 {
        Arc::clone(array)
    } else {
        cast(array, &DataType::Float64)?
    })
}

impl GroupsAccumulator for BivariateAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_ids: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let [y, x] = values else {
            return Err(EngineError::Internal(format!(
                "{} expected two arguments, got {}",
                self.func.name(),
                values.len()
            )));
        };
        if y.len() != group_ids.len() || x.len() != group_ids.len() {
            return Err(EngineError::Internal(format!(
                "{} arguments and group ids differ in length",
                self.func.name()
            )));
        }
        let (y, x) = (floats(y)?, floats(x)?);
        let (y, x) = (
            y.as_primitive::<Float64Type>(),
            x.as_primitive::<Float64Type>(),
        );
        self.resize(total_groups);
        let (ys, xs) = (y.values(), x.values());
        match NullBuffer::union(y.nulls(), x.nulls()).filter(|n| n.null_count() > 0) {
            None => {
                for (row, &group) in group_ids.iter().enumerate() {
                    self.add(group as usize, ys[row], xs[row]);
                }
            }
            Some(nulls) => {
                for row in nulls.valid_indices() {
                    self.add(group_ids[row] as usize, ys[row], xs[row]);
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
        self.resize(total_groups);
        for_each_mapped(mapping, other.counts.len(), |target, source| {
            let other_count = other.counts[source];
            if other_count == 0 {
                return;
            }
            let count = self.counts[target];
            if count == 0 {
                self.counts[target] = other_count;
                self.means_x[target] = other.means_x[source];
                self.means_y[target] = other.means_y[source];
                self.sxx[target] = other.sxx[source];
                self.syy[target] = other.syy[source];
                self.sxy[target] = other.sxy[source];
                return;
            }
            let total = (count + other_count) as f64;
            let weight = count as f64 * other_count as f64 / total;
            let delta_x = other.means_x[source] - self.means_x[target];
            let delta_y = other.means_y[source] - self.means_y[target];
            self.means_x[target] += delta_x * other_count as f64 / total;
            self.means_y[target] += delta_y * other_count as f64 / total;
            self.sxx[target] += other.sxx[source] + delta_x * delta_x * weight;
            self.syy[target] += other.syy[source] + delta_y * delta_y * weight;
            self.sxy[target] += other.sxy[source] + delta_x * delta_y * weight;
            self.counts[target] += other_count;
        });
        Ok(())
    }

    fn evaluate(&mut self, total_groups: usize) -> Result<ArrayRef> {
        self.resize(total_groups);
        let results: Float64Array = (0..total_groups).map(|g| self.result(g)).collect();
        Ok(Arc::new(results))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::Int64Array;

    use super::*;

    fn run(func: AggregateFunction, ys: Vec<Option<f64>>, xs: Vec<Option<i64>>) -> Option<f64> {
        let mut accumulator = BivariateAccumulator::try_new(func).unwrap();
        let rows = ys.len();
        let y: ArrayRef = Arc::new(Float64Array::from(ys));
        let x: ArrayRef = Arc::new(Int64Array::from(xs));
        accumulator
            .update_batch(&[y, x], &vec![0; rows], 1)
            .unwrap();
        accumulator
            .evaluate(1)
            .unwrap()
            .as_primitive::<Float64Type>()
            .iter()
            .next()
            .flatten()
    }

    fn close(got: Option<f64>, expected: f64) -> bool {
        got.is_some_and(|g| (g - expected).abs() < 1e-9)
    }

    #[test]
    fn hand_computed_statistics_skip_rows_with_a_null() {
        // (x, y): (1, 2), (2, 4), (3, 5), (4, 4), (5, 5); (6, NULL) and (NULL, 9) are skipped.
        // mean x 3, mean y 4; Sxx 10, Syy 6, Sxy 6.
        let ys = vec![
            Some(2.0),
            Some(4.0),
            Some(5.0),
            Some(4.0),
            Some(5.0),
            None,
            Some(9.0),
        ];
        let xs = vec![Some(1), Some(2), Some(3), Some(4), Some(5), Some(6), None];
        use AggregateFunction as A;
        let cases = [
            (A::CovarPop, 6.0 / 5.0),
            (A::CovarSamp, 6.0 / 4.0),
            (A::Corr, 6.0 / 60.0_f64.sqrt()),
            (A::RegrSlope, 0.6),
            (A::RegrIntercept, 4.0 - 3.0 * 0.6),
            (A::RegrR2, 36.0 / 60.0),
        ];
        for (func, expected) in cases {
            let got = run(func, ys.clone(), xs.clone());
            assert!(close(got, expected), "{func:?}: {got:?} vs {expected}");
        }
    }

    #[test]
    fn degenerate_groups_follow_postgresql() {
        use AggregateFunction as A;
        // One row: covar_pop 0, covar_samp NULL, corr NULL (x does not vary).
        assert_eq!(run(A::CovarPop, vec![Some(1.0)], vec![Some(2)]), Some(0.0));
        assert_eq!(run(A::CovarSamp, vec![Some(1.0)], vec![Some(2)]), None);
        assert_eq!(run(A::Corr, vec![Some(1.0)], vec![Some(2)]), None);
        // Constant y, varying x: corr NULL, regr_r2 1, slope 0.
        let ys = vec![Some(3.0), Some(3.0), Some(3.0)];
        let xs = vec![Some(1), Some(2), Some(4)];
        assert_eq!(run(A::Corr, ys.clone(), xs.clone()), None);
        assert_eq!(run(A::RegrR2, ys.clone(), xs.clone()), Some(1.0));
        assert_eq!(run(A::RegrSlope, ys, xs), Some(0.0));
        assert_eq!(run(A::CovarPop, vec![None], vec![Some(1)]), None);
    }

    #[test]
    fn merged_partitions_equal_one_pass() {
        let ys: Vec<f64> = (0..60).map(|i| 1e6 + ((i * 13) % 7) as f64).collect();
        let xs: Vec<i64> = (0..60).map(|i| 5_000 + (i * 31) % 17).collect();
        let one_pass = run(
            AggregateFunction::Corr,
            ys.iter().copied().map(Some).collect(),
            xs.iter().copied().map(Some).collect(),
        )
        .unwrap();
        let make = || BivariateAccumulator::try_new(AggregateFunction::Corr).unwrap();
        let (mut a, mut b) = (make(), make());
        let part = |range: std::ops::Range<usize>| -> [ArrayRef; 2] {
            [
                Arc::new(Float64Array::from(ys[range.clone()].to_vec())),
                Arc::new(Int64Array::from(xs[range].to_vec())),
            ]
        };
        a.update_batch(&part(0..25), &[0; 25], 1).unwrap();
        b.update_batch(&part(25..60), &[0; 35], 1).unwrap();
        a.merge(b.as_ref(), &[0], 1).unwrap();
        let merged = a
            .evaluate(1)
            .unwrap()
            .as_primitive::<Float64Type>()
            .value(0);
        assert!((merged - one_pass).abs() < 1e-9, "{merged} vs {one_pass}");
        assert!(one_pass.abs() < 1.0 && one_pass != 0.0, "{one_pass}");
    }
}
