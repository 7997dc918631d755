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
//! The registry of shared results lives for one call of `create_physical_plan` at the top
//! (the planner enters it). Plans made later at run time — the per-key runs of a subquery
//! the optimizer could not decorrelate, the rounds of a recursive query — get their own.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
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
}

impl SharedRows {
    fn batches(&self, ctx: &Arc<TaskContext>) -> Result<Arc<Vec<RecordBatch>>> {
        self.batches
            .get_or_init(|| collect(Arc::clone(&self.input), ctx).map(Arc::new))
            .clone()
    }
}

/// The shared results of the plan being built, by CTE name and query text.
type Registry = HashMap<(String, String), Arc<SharedRows>>;

thread_local! {
    static SHARED: RefCell<Option<Registry>> = const { RefCell::new(None) };
}

/// Keeps the registry of shared CTE results open while the outermost physical plan is built;
/// a nested call (an input of the plan) finds it open and leaves it alone.
pub(crate) struct SharedCtesScope {
    opened: bool,
}

impl SharedCtesScope {
    /// Opens the registry unless it is open already.
    pub(crate) fn enter() -> SharedCtesScope {
        let opened = SHARED.with(|s| {
            let mut shared = s.borrow_mut();
            if shared.is_some() {
                return false;
            }
            *shared = Some(HashMap::new());
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
        let known = SHARED.with(|s| {
            s.borrow()
                .as_ref()
                .and_then(|registry| registry.get(&key).cloned())
        });
        let (rows, reference) = match known {
            Some(rows) => {
                let reference = Arc::strong_count(&rows);
                (rows, reference)
            }
            None => {
                let rows = Arc::new(SharedRows {
                    input: plan_input()?,
                    batches: OnceLock::new(),
                });
                SHARED.with(|s| {
                    if let Some(registry) = s.borrow_mut().as_mut() {
                        registry.insert(key, Arc::clone(&rows));
                    }
                });
                (rows, 1)
            }
        };
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
