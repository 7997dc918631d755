//! Physical operators: synchronous, vectorized, pull-based.
//!
//! Every operator implements [`ExecutionPlan`]: `execute(partition)` returns an iterator of
//! `RecordBatch`es. Scans split their chunks into `output_partitions()` partitions; row-wise
//! operators (filter, projection) keep their input's partitioning; pipeline breakers (hash
//! aggregate, hash-join build, sort) drain every input partition — one thread per partition,
//! each pushing into its own sink state — and merge the states when all are finished. This is
//! how a query uses every core without an async runtime.

pub mod aggregate;
pub mod cte;
pub mod filter;
pub mod first_per_key;
pub mod hash_aggregate;
pub mod hash_join;
pub mod hashing;
pub mod index_nested_loop_join;
pub mod index_scan;
mod join_build;
pub mod limit;
pub mod metrics;
pub mod projection;
pub mod recursive_query;
pub mod runtime_filter;
pub mod scan;
mod selection;
pub mod set_operation;
pub mod sort;
pub mod top_k;
pub mod union;
pub mod values;
pub mod window;

use std::fmt;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

pub use metrics::OperatorMetrics;

use crate::error::Result;
use crate::execution::SessionConfig;

/// A stream of batches from one partition of an operator.
pub type BatchIter = Box<dyn Iterator<Item = Result<RecordBatch>> + Send>;

/// What every operator may consult while running: configuration now; cancellation and memory
/// accounting slot in here later.
#[derive(Debug, Clone, Default)]
pub struct TaskContext {
    pub config: SessionConfig,
}

impl TaskContext {
    /// A context with the given configuration.
    pub fn new(config: SessionConfig) -> Arc<TaskContext> {
        Arc::new(TaskContext { config })
    }
}

/// A physical operator.
pub trait ExecutionPlan: Send + Sync + fmt::Debug {
    /// Operator name as shown by EXPLAIN (`HashAggregateExec`).
    fn name(&self) -> &'static str;

    /// The schema of every batch this operator produces.
    fn schema(&self) -> SchemaRef;

    /// Input operators.
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>>;

    /// How many independent partitions `execute` can be called with.
    fn output_partitions(&self) -> usize;

    /// Runs one partition. Calling it for each partition from different threads is allowed.
    fn execute(&self, partition: usize, ctx: &Arc<TaskContext>) -> Result<BatchIter>;

    /// One EXPLAIN line describing this operator (without children).
    fn describe(&self) -> String;

    /// Rows and time recorded so far (EXPLAIN ANALYZE).
    fn metrics(&self) -> Option<&OperatorMetrics> {
        None
    }
}

/// Indented EXPLAIN text of a physical plan, with metrics when `analyze` is set.
pub fn display_plan(plan: &dyn ExecutionPlan, analyze: bool) -> String {
    let mut out = String::new();
    fn go(plan: &dyn ExecutionPlan, depth: usize, analyze: bool, out: &mut String) {
        out.push_str(&"  ".repeat(depth));
        out.push_str(&plan.describe());
        if analyze {
            if let Some(m) = plan.metrics() {
                out.push_str(&format!(", {m}"));
            }
        }
        out.push('\n');
        for child in plan.children() {
            go(child.as_ref(), depth + 1, analyze, out);
        }
    }
    go(plan, 0, analyze, &mut out);
    out
}

/// The result of a scoped worker thread; a panic becomes an internal error.
pub(crate) fn join_worker<T>(handle: std::thread::ScopedJoinHandle<'_, Result<T>>) -> Result<T> {
    handle.join().unwrap_or_else(|_| {
        Err(crate::error::EngineError::Internal(
            "a query worker thread panicked".into(),
        ))
    })
}

/// Runs every partition of `plan` (in parallel when there are several) and collects the
/// batches, partition by partition in order.
pub fn collect(plan: Arc<dyn ExecutionPlan>, ctx: &Arc<TaskContext>) -> Result<Vec<RecordBatch>> {
    let partitions = plan.output_partitions();
    if partitions <= 1 {
        return plan.execute(0, ctx)?.collect();
    }
    let results = crate::workers::run_all(
        (0..partitions)
            .map(|p| {
                let (plan, ctx) = (Arc::clone(&plan), Arc::clone(ctx));
                move || -> Result<Vec<RecordBatch>> { plan.execute(p, &ctx)?.collect() }
            })
            .collect(),
    )?;
    Ok(results.into_iter().flatten().collect())
}
