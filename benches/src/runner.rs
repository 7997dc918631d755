//! Times the H2O questions in Quiver and reports a median per question: the library half of
//! `quiver bench h2o`, which the command-line crate calls to print its table (the peer
//! engine's column is timed by the criterion suites, which may link DataFusion; this crate
//! may not).
//!
//! Each iteration builds the QuerySet, compiles, optimizes and runs it and materialises the
//! whole result, as the criterion suites time it. Loading the data is not timed.

use std::time::{Duration, Instant};

use quiver::prelude::{Database, QuerySet, SessionConfig};

use crate::h2o::{groupby_batches, join_tables};
use crate::questions::{
    groupby_database, groupby_queryset, join_database, join_queryset, GROUPBY_QUESTIONS,
    JOIN_QUESTIONS,
};

/// Which workload to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Group-by q1–q10 over table `x` (K = 100, no NULLs, unsorted).
    GroupBy,
    /// Join j1–j5.
    Join,
}

/// What to run: the workload, its size, how often, and which optimizer rules to switch off.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub workload: Workload,
    /// Rows of the (left) table `x`.
    pub rows: usize,
    /// Timed runs per question (after one untimed warm-up run).
    pub iterations: usize,
    /// Optimizer rules switched off by name (`SessionConfig::disable_rule`).
    pub disabled_rules: Vec<String>,
    /// Seed of the data generator.
    pub seed: u64,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            workload: Workload::GroupBy,
            rows: 1_000_000,
            iterations: 5,
            disabled_rules: Vec::new(),
            seed: 20_240_601,
        }
    }
}

/// One question's figures.
#[derive(Debug, Clone)]
pub struct QuestionTiming {
    pub question: String,
    /// Rows of the result.
    pub rows: usize,
    pub median: Duration,
}

/// Generates the workload's data, loads it, and times every question; the medians come back
/// in question order. An error names the question that failed.
pub fn run(options: &BenchOptions) -> Result<Vec<QuestionTiming>, String> {
    let mut config = SessionConfig::default();
    for rule in &options.disabled_rules {
        config = config.disable_rule(rule);
    }
    let (db, names): (Database, Vec<&str>) = match options.workload {
        Workload::GroupBy => {
            let (_, batches) = groupby_batches(options.rows, 100, 0, options.seed);
            let db = groupby_database(&batches, config).map_err(|e| e.to_string())?;
            (db, GROUPBY_QUESTIONS.iter().map(|(q, _)| *q).collect())
        }
        Workload::Join => {
            let tables = join_tables(options.rows, options.seed);
            let db = join_database(&tables, config).map_err(|e| e.to_string())?;
            (db, JOIN_QUESTIONS.iter().map(|(q, _)| *q).collect())
        }
    };
    let build = |question: &str| -> Option<QuerySet> {
        match options.workload {
            Workload::GroupBy => groupby_queryset(&db, question),
            Workload::Join => join_queryset(&db, question),
        }
    };
    let mut timings = Vec::new();
    for question in names {
        let mut samples = Vec::with_capacity(options.iterations);
        let mut rows = 0;
        for iteration in 0..=options.iterations {
            let started = Instant::now();
            let queryset = build(question).ok_or_else(|| format!("no question {question}"))?;
            let batches = queryset
                .to_batches()
                .map_err(|e| format!("{question}: {e}"))?;
            let elapsed = started.elapsed();
            rows = batches.iter().map(|b| b.num_rows()).sum();
            // The first run warms caches and allocators and is not counted.
            if iteration > 0 {
                samples.push(elapsed);
            }
        }
        timings.push(QuestionTiming {
            question: question.to_string(),
            rows,
            median: median(&mut samples),
        });
    }
    Ok(timings)
}

/// The median of `samples` (the mean of the middle two for an even count); zero for none.
pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    match samples.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => samples[n / 2],
        n => (samples[n / 2 - 1] + samples[n / 2]) / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let ms = Duration::from_millis;
        assert_eq!(median(&mut [ms(5), ms(1), ms(3)]), ms(3));
        assert_eq!(median(&mut [ms(4), ms(1), ms(2), ms(10)]), ms(3));
        assert_eq!(median(&mut []), Duration::ZERO);
    }

    #[test]
    fn every_groupby_question_runs_at_a_tiny_scale() {
        let options = BenchOptions {
            rows: 2_000,
            iterations: 1,
            ..BenchOptions::default()
        };
        let timings = run(&options).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(timings.len(), 10);
        // q1 groups by id1: 100 distinct values at this size (2,000 draws from 100).
        assert_eq!(timings[0].question, "q1");
        assert_eq!(timings[0].rows, 100);
        // q10 groups by all six ids, which are nearly unique.
        assert!(timings[9].rows > 1_900, "{:?}", timings[9]);
    }
}
