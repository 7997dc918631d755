//! [`SessionConfig`]: knobs of one session.

use std::collections::BTreeSet;

/// Execution and optimizer settings.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Partitions (threads) a large scan is split into; defaults to the number of cores.
    pub target_partitions: usize,
    /// Rows per batch produced by operators that build new batches.
    pub batch_size: usize,
    /// Below this many input rows a scan runs as one partition: threads cost more than they
    /// save. A row counts several times when a filter calls a function or matches a pattern
    /// on it ([`scan_work_rows`](crate::physical_plan::scan::scan_work_rows)).
    pub parallel_threshold_rows: usize,
    /// Optimizer rules switched off by name.
    pub disabled_rules: BTreeSet<String>,
    /// Most rounds a recursive CTE may iterate before the query fails (a `UNION ALL` walk
    /// over a cycle never ends on its own).
    pub max_recursion_depth: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            target_partitions: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            batch_size: 8192,
            parallel_threshold_rows: 200_000,
            disabled_rules: BTreeSet::new(),
            max_recursion_depth: 10_000,
        }
    }
}

impl SessionConfig {
    /// Default settings.
    pub fn new() -> SessionConfig {
        SessionConfig::default()
    }

    /// Sets the number of partitions.
    pub fn with_target_partitions(mut self, n: usize) -> Self {
        self.target_partitions = n.max(1);
        self
    }

    /// Sets the most rounds a recursive CTE may iterate.
    pub fn with_max_recursion_depth(mut self, depth: usize) -> Self {
        self.max_recursion_depth = depth;
        self
    }

    /// Switches an optimizer rule off by name.
    pub fn disable_rule(mut self, name: impl Into<String>) -> Self {
        self.disabled_rules.insert(name.into());
        self
    }
}
