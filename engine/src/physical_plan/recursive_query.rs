//! [`RecursiveQueryExec`]: `WITH RECURSIVE`, iterated natively to a fixed point.
//!
//! The static term runs once; its rows are the first *delta*. Each round binds the previous
//! delta as the work table, plans and runs the recursive term over it, and keeps what it
//! produced as the next delta, until a round produces nothing. With `UNION` (distinct) a row
//! already produced in any round is dropped before it enters the delta — that is the cycle
//! guard of a graph walk. With `UNION ALL` nothing is dropped, so a cycle would run forever:
//! `SessionConfig::max_recursion_depth` stops it with `ResourcesExhausted`, naming the query
//! and the limit.
//!
//! The recursive term is planned afresh each round (planning is cheap next to running it) so
//! its operators, such as a hash join's build side, see only that round's work table.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::SchemaRef;
use arrow::row::{RowConverter, SortField};

use super::union::align_batch;
use super::values::ValuesExec;
use super::{collect, BatchIter, ExecutionPlan, OperatorMetrics, TaskContext};
use crate::error::{EngineError, Result};
use crate::execution::planner::create_physical_plan;
use crate::execution::SessionConfig;
use crate::logical_plan::{LogicalPlan, RecursiveQuery, WorkTable};

thread_local! {
    /// Work tables bound on this thread while a recursive term is being planned.
    static WORK_TABLES: RefCell<HashMap<String, Arc<Vec<RecordBatch>>>> =
        RefCell::new(HashMap::new());
}

/// The operator reading the work table `work_table` names: its current rows. Only valid while
/// [`RecursiveQueryExec`] plans its recursive term.
pub(crate) fn work_table_exec(work_table: &WorkTable) -> Result<Arc<dyn ExecutionPlan>> {
    let bound = WORK_TABLES.with(|w| w.borrow().get(&work_table.name).cloned());
    let Some(batches) = bound else {
        return Err(EngineError::Plan(format!(
            "the work table of recursive query {} is read outside of it",
            work_table.name
        )));
    };
    let schema = work_table.schema.arrow_schema();
    let batches = batches
        .iter()
        .map(|b| align_batch(b, &schema))
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(ValuesExec::try_new(schema, batches)?))
}

/// Runs a recursive CTE to its fixed point; see the module documentation.
#[derive(Debug)]
pub struct RecursiveQueryExec {
    name: String,
    static_term: Arc<dyn ExecutionPlan>,
    recursive_term: Arc<LogicalPlan>,
    distinct: bool,
    config: SessionConfig,
    schema: SchemaRef,
    metrics: Arc<OperatorMetrics>,
}

impl RecursiveQueryExec {
    /// The operator for `query`, whose static term is already planned.
    pub fn try_new(
        query: &RecursiveQuery,
        static_term: Arc<dyn ExecutionPlan>,
        config: SessionConfig,
    ) -> Result<RecursiveQueryExec> {
        Ok(RecursiveQueryExec {
            name: query.name.clone(),
            static_term,
            recursive_term: Arc::clone(&query.recursive_term),
            distinct: query.distinct,
            config,
            schema: query.schema.arrow_schema(),
            metrics: Arc::new(OperatorMetrics::default()),
        })
    }

    fn run(&self, ctx: &Arc<TaskContext>) -> Result<Vec<RecordBatch>> {
        let converter = RowConverter::new(
            self.schema
                .fields()
                .iter()
                .map(|f| SortField::new(f.data_type().clone()))
                .collect(),
        )?;
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        let mut keep_new = |batches: Vec<RecordBatch>| -> Result<Vec<RecordBatch>> {
            let mut out = Vec::new();
            for batch in batches {
                let batch = align_batch(&batch, &self.schema)?;
                if batch.num_rows() == 0 {
                    continue;
                }
                if !self.distinct {
                    out.push(batch);
                    continue;
                }
                let rows = converter.convert_columns(batch.columns())?;
                let indices: Vec<u32> = rows
                    .iter()
                    .enumerate()
                    .filter(|(_, row)| seen.insert(row.data().to_vec()))
                    .map(|(i, _)| i as u32)
                    .collect();
                if !indices.is_empty() {
                    out.push(take_record_batch(&batch, &UInt32Array::from(indices))?);
                }
            }
            Ok(out)
        };
        let mut delta = keep_new(collect(Arc::clone(&self.static_term), ctx)?)?;
        let mut all = delta.clone();
        let mut rounds = 0usize;
        while delta.iter().any(|b| b.num_rows() > 0) {
            if rounds >= self.config.max_recursion_depth {
                return Err(EngineError::ResourcesExhausted(format!(
                    "recursive query {} did not finish within {} iterations \
                     (SessionConfig::max_recursion_depth); with UNION ALL a cycle in the data \
                     never ends, UNION drops repeated rows",
                    self.name, self.config.max_recursion_depth
                )));
            }
            rounds += 1;
            let physical = {
                let _bound = WorkTableBinding::bind(&self.name, std::mem::take(&mut delta));
                create_physical_plan(&self.recursive_term, &self.config)?
            };
            delta = keep_new(collect(physical, ctx)?)?;
            all.extend(delta.iter().cloned());
        }
        Ok(all)
    }
}

/// Binds a work table for the duration of planning; restores the previous binding (an
/// enclosing recursive query of the same name) when dropped.
struct WorkTableBinding {
    name: String,
    previous: Option<Arc<Vec<RecordBatch>>>,
}

impl WorkTableBinding {
    fn bind(name: &str, batches: Vec<RecordBatch>) -> WorkTableBinding {
        let previous =
            WORK_TABLES.with(|w| w.borrow_mut().insert(name.to_string(), Arc::new(batches)));
        WorkTableBinding {
            name: name.to_string(),
            previous,
        }
    }
}

impl Drop for WorkTableBinding {
    fn drop(&mut self) {
        WORK_TABLES.with(|w| {
            let mut tables = w.borrow_mut();
            match self.previous.take() {
                Some(p) => tables.insert(self.name.clone(), p),
                None => tables.remove(&self.name),
            };
        });
    }
}

impl ExecutionPlan for RecursiveQueryExec {
    fn name(&self) -> &'static str {
        "RecursiveQueryExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.static_term]
    }

    fn output_partitions(&self) -> usize {
        1
    }

    fn execute(&self, partition: usize, ctx: &Arc<TaskContext>) -> Result<BatchIter> {
        if partition != 0 {
            return Err(EngineError::Internal(format!(
                "RecursiveQueryExec has one partition, asked for partition {partition}"
            )));
        }
        let batches = self.run(ctx)?;
        for b in &batches {
            self.metrics.record_batch(b.num_rows());
        }
        Ok(Box::new(batches.into_iter().map(Ok)))
    }

    fn describe(&self) -> String {
        format!(
            "RecursiveQueryExec: {} {}",
            self.name,
            if self.distinct { "distinct" } else { "all" }
        )
    }

    fn metrics(&self) -> Option<&OperatorMetrics> {
        Some(&self.metrics)
    }
}
