//! [`MaterializedCteExec`]: a `WITH name AS MATERIALIZED (…)` common table expression,
//! computed once per query and read by every reference.
//!
//! The logical plan holds one `Cte` node per reference (the ORM compiles a CTE where it is
//! used), so sharing is decided while planning: all references of one physical plan whose
//! name and (optimized) query are the same get one [`SharedRows`]; the first reference to
//! run fills it, the others wait for it and read the same batches. A CTE that is not
//! materialized never reaches this operator: the `inline_ctes` rule turns it into its query
//! under the CTE's name, so filters push into it as PostgreSQL 12+ does.
//!
//! The registry of shared results is opened by the outermost `create_physical_plan` call.
//! The subquery expressions planned inside keep it, so the plans they make at run time (a
//! subquery that was not decorrelated runs once, or once per outer key) read the same
//! rows; the rounds of a recursive query plan their term afresh, with a registry of their
//! own.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::{collect, BatchIter, ExecutionPlan, OperatorMetrics, TaskContext};
use crate::error::Result;
use crate::logical_plan::Cte;

/// The rows of one materialized CTE, computed by whichever reference runs first.
#[derive(Debug)]
pub struct SharedRows {
    input: Arc<dyn ExecutionPlan>,
    batches: OnceLock<Result<Arc<Vec<RecordBatch>>>>,
    /// How many references have been planned (for EXPLAIN).
    references: AtomicUsize,
}

impl SharedRows {
    fn batches(&self, ctx: &Arc<TaskContext>) -> Result<Arc<Vec<RecordBatch>>> {
        self.batches
            .get_or_init(|| collect(Arc::clone(&self.input), ctx).map(Arc::new))
            .clone()
    }
}

/// The shared results of one query's CTEs, by CTE name and query text.
pub(crate) type SharedCtes = Arc<Mutex<HashMap<(String, String), Arc<SharedRows>>>>;

thread_local! {
    static SHARED: RefCell<Option<SharedCtes>> = const { RefCell::new(None) };
}

/// The registry open on this thread (a subquery expression keeps it, so the plans it makes
/// at run time read the same materialized CTEs as the query around it).
pub(crate) fn current_shared_ctes() -> Option<SharedCtes> {
    SHARED.with(|s| s.borrow().clone())
}

/// Keeps the registry of shared CTE results open while the outermost physical plan is built;
/// a nested call (an input of the plan) finds it open and leaves it alone.
pub(crate) struct SharedCtesScope {
    opened: bool,
}

impl SharedCtesScope {
    /// Opens a new registry unless one is open already.
    pub(crate) fn enter() -> SharedCtesScope {
        SharedCtesScope::resume(None)
    }

    /// Opens `registry` (a fresh one for `None`) unless one is open already.
    pub(crate) fn resume(registry: Option<SharedCtes>) -> SharedCtesScope {
        let opened = SHARED.with(|s| {
            let mut shared = s.borrow_mut();
            if shared.is_some() {
                return false;
            }
            *shared = Some(registry.unwrap_or_default());
            true
        });
        SharedCtesScope { opened }
    }
}

impl Drop for SharedCtesScope {
    fn drop(&mut self) {
        if self.opened {
            SHARED.with(|s| s.borrow_mut().take());
        }
    }
}

/// Reads a materialized CTE: every reference to the same CTE in one physical plan computes
/// its query once (see the module documentation).
#[derive(Debug)]
pub struct MaterializedCteExec {
    name: String,
    rows: Arc<SharedRows>,
    /// 1 for the reference that shows the CTE's query in EXPLAIN, 2… for the others.
    reference: usize,
    schema: SchemaRef,
    metrics: Arc<OperatorMetrics>,
}

impl MaterializedCteExec {
    /// The operator for `cte`, planning its query with `plan_input` unless another
    /// reference of the plan being built has already done so.
    pub(crate) fn try_new(
        cte: &Cte,
        plan_input: impl FnOnce() -> Result<Arc<dyn ExecutionPlan>>,
    ) -> Result<MaterializedCteExec> {
        let key = (cte.name.clone(), cte.input.display_indent());
        let registry = current_shared_ctes();
        let known = registry
            .as_ref()
            .and_then(|r| r.lock().map(|r| r.get(&key).cloned()).unwrap_or_default());
        let rows = match known {
            Some(rows) => rows,
            None => {
                let rows = Arc::new(SharedRows {
                    input: plan_input()?,
                    batches: OnceLock::new(),
                    references: AtomicUsize::new(0),
                });
                if let Some(Ok(mut registry)) = registry.as_ref().map(|r| r.lock()) {
                    registry.insert(key, Arc::clone(&rows));
                }
                rows
            }
        };
        let reference = rows.references.fetch_add(1, Ordering::Relaxed) + 1;
        let schema = rows.input.schema();
        Ok(MaterializedCteExec {
            name: cte.name.clone(),
            rows,
            reference,
            schema,
            metrics: Arc::new(OperatorMetrics::default()),
        })
    }
}

impl ExecutionPlan for MaterializedCteExec {
    fn name(&self) -> &'static str {
        "MaterializedCteExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// The CTE's query shows under its first reference only: it runs once.
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        if self.reference == 1 {
            vec![&self.rows.input]
        } else {
            vec![]
        }
    }

    fn output_partitions(&self) -> usize {
        1
    }

    fn execute(&self, _partition: usize, ctx: &Arc<TaskContext>) -> Result<BatchIter> {
        let start = Instant::now();
        let batches = self.rows.batches(ctx)?;
        self.metrics.add_elapsed(start.elapsed());
        let metrics = Arc::clone(&self.metrics);
        Ok(Box::new((0..batches.len()).map(move |i| {
            let batch = batches[i].clone();
            metrics.record_batch(batch.num_rows());
            Ok(batch)
        })))
    }

    fn describe(&self) -> String {
        if self.reference == 1 {
            format!("MaterializedCteExec: {}", self.name)
        } else {
            format!(
                "MaterializedCteExec: {} (reference {}, reads the rows of reference 1)",
                self.name, self.reference
            )
        }
    }

    fn metrics(&self) -> Option<&OperatorMetrics> {
        Some(&self.metrics)
    }
}

#[cfg(test)]
mod tests {
    use quiver_storage::Catalog;

    use crate::execution::SessionContext;
    use crate::expr::{
        col, lit, qualified_col, scalar_subquery, AggregateExpr, AggregateFunction, Expr,
    };
    use crate::logical_plan::{Cte, JoinType, LogicalPlan, LogicalPlanBuilder};
    use crate::optimizer::utils::fixtures::author_scan;
    use std::sync::Arc;

    /// `older` (authors over 40) self-joined, plus a scalar subquery counting it: three
    /// references.
    fn three_references(materialized: Option<bool>) -> Arc<LogicalPlan> {
        let older = || {
            let query = author_scan()
                .filter(col("age").gt(lit(35i32)))
                .unwrap()
                .build();
            Arc::new(LogicalPlan::Cte(Cte::new("older", query, materialized)))
        };
        let count = LogicalPlanBuilder::from(older())
            .aggregate(
                vec![],
                vec![
                    Expr::Aggregate(AggregateExpr::new(AggregateFunction::Count, vec![]))
                        .alias("n"),
                ],
            )
            .unwrap()
            .build();
        LogicalPlanBuilder::from(older())
            .join(
                LogicalPlanBuilder::from(older()).alias("again").build(),
                JoinType::Inner,
                vec![(qualified_col("older", "id"), qualified_col("again", "id"))],
                None,
            )
            .unwrap()
            .project(vec![
                qualified_col("older", "id"),
                scalar_subquery(count).alias("n"),
            ])
            .unwrap()
            .build()
    }

    #[test]
    fn a_materialized_cte_runs_once_for_all_its_references() {
        let ctx = SessionContext::new(Catalog::new());
        for materialized in [None, Some(true), Some(false)] {
            let plan = three_references(materialized);
            let result = ctx.execute(Arc::clone(&plan)).unwrap();
            // Ages are 20 + id for ids 1..=20: ids 16..=20 are over 35.
            assert_eq!(result.num_rows(), 5, "{materialized:?}");
            let text = ctx.explain(plan, true).unwrap();
            let physical = text.split("== Physical plan ==").nth(1).unwrap();
            let scans = physical.matches("ScanExec: author").count();
            if materialized == Some(false) {
                assert_eq!(scans, 2, "{text}");
                assert!(!physical.contains("MaterializedCteExec"), "{text}");
            } else {
                // Shown and run once: its rows are counted once.
                assert_eq!(scans, 1, "{text}");
                assert!(physical.contains("ScanExec: author filters=[(age@2 > 35)]"));
                assert!(
                    physical.contains("chunks=1/3 partitions=1, rows=5,"),
                    "{text}"
                );
                assert!(
                    physical.contains("(reference 2, reads the rows of reference 1)"),
                    "{text}"
                );
            }
        }
    }
}
