//! Per-operator run-time figures for EXPLAIN ANALYZE.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Counters an operator updates while it runs; shared by all its partitions.
#[derive(Debug, Default)]
pub struct OperatorMetrics {
    output_rows: AtomicU64,
    output_batches: AtomicU64,
    elapsed_nanos: AtomicU64,
}

impl OperatorMetrics {
    /// Records one produced batch.
    pub fn record_batch(&self, rows: usize) {
        self.output_rows.fetch_add(rows as u64, Ordering::Relaxed);
        self.output_batches.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds time spent inside this operator (excluding its children where measurable).
    pub fn add_elapsed(&self, d: Duration) {
        self.elapsed_nanos
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Rows produced so far.
    pub fn output_rows(&self) -> u64 {
        self.output_rows.load(Ordering::Relaxed)
    }

    /// Time recorded so far.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.elapsed_nanos.load(Ordering::Relaxed))
    }
}

impl fmt::Display for OperatorMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rows={}, batches={}, time={:.3?}",
            self.output_rows(),
            self.output_batches.load(Ordering::Relaxed),
            self.elapsed()
        )
    }
}
