//! Seeded data generators shared by Quiver's benchmarks, tests and CLI.
//!
//! Every figure Quiver publishes is a ratio to a peer engine measured in the same run on the
//! same data, so the data lives here, in one place, rather than in each benchmark: the criterion
//! suites in `benches/` feed the same batches to Quiver and to DataFusion. This crate itself
//! depends on Arrow and Quiver; DataFusion is a dev-dependency of the benchmark files and an
//! optional dependency (feature `datafusion`) of the runner, which `quiver bench` enables
//! only when the CLI is built with its `bench` feature — CI never builds it for the CLI.
//!
//! - [`h2o`]: the H2O db-benchmark tables — [`groupby_batches`] and [`join_tables`].
//! - [`questions`]: the H2O questions as QuerySets next to the SQL DataFusion runs.
//! - [`leaderboard`]: players and the leaderboard's top-k and window queries.
//! - [`tiny`]: small QuerySets on a 10-row table, for the fixed cost per query.
//! - [`runner`]: times a workload's queries on Quiver and the peer engine (`quiver bench`).
//! - [`chart`]: the SVG bar chart of a run's ratios.
//! - [`shop`]: customers and orders, and a tree of nodes, for the subquery and CTE benchmarks.
//! - [`parse_row_count`]: sizes such as `1e7` from environment variables and command lines.

pub mod chart;
pub mod h2o;
pub mod leaderboard;
#[cfg(feature = "datafusion")]
pub mod peer;
pub mod questions;
pub mod runner;
pub mod shop;
pub mod tiny;

pub use h2o::{groupby_batches, groupby_schema, join_tables, JoinTables, Table, BATCH_SIZE};

/// A row count as benchmark sizes are written: plainly (`10000000`, `10_000_000`) or in
/// scientific notation (`1e7`, `2.5e6`). `None` unless it is a whole, non-negative number.
pub fn parse_row_count(text: &str) -> Option<usize> {
    let text = text.trim().replace('_', "");
    if let Ok(rows) = text.parse::<usize>() {
        return Some(rows);
    }
    let rows = text.parse::<f64>().ok()?;
    // Below 2^53 every whole f64 is exact, so the cast cannot round.
    let whole = rows.is_finite() && rows >= 0.0 && rows.fract() == 0.0 && rows < 2f64.powi(53);
    whole.then_some(rows as usize)
}

#[cfg(test)]
mod tests {
    use super::parse_row_count;

    #[test]
    fn row_counts_accept_plain_and_scientific_notation() {
        assert_eq!(parse_row_count("10000000"), Some(10_000_000));
        assert_eq!(parse_row_count("1e7"), Some(10_000_000));
        assert_eq!(parse_row_count(" 2.5e6 "), Some(2_500_000));
        assert_eq!(parse_row_count("1_000"), Some(1_000));
        assert_eq!(parse_row_count("1.5"), None);
        assert_eq!(parse_row_count("-1e3"), None);
        assert_eq!(parse_row_count("1e400"), None);
        assert_eq!(parse_row_count("lots"), None);
    }
}
