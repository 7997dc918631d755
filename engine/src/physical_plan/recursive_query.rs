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

#[cfg(test)]
mod tests {
    use arrow::array::{ArrayRef, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};
    use quiver_storage::{Catalog, Table};

    use super::*;
    use crate::expr::{lit, qualified_col};
    use crate::logical_plan::{LogicalPlanBuilder, PlanSchema, QualifiedField, Values};
    use crate::{SessionConfig, SessionContext};

    /// Edges 1→2, 2→3, 3→1 (a cycle) and 3→4.
    fn edges() -> Arc<Table> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("src", DataType::Int64, false),
            Field::new("dst", DataType::Int64, false),
        ]));
        let table = Arc::new(Table::new("edge", Arc::clone(&schema)));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![1, 2, 3, 3])),
            Arc::new(Int64Array::from(vec![2, 3, 1, 4])),
        ];
        table
            .append(&[RecordBatch::try_new(schema, columns).unwrap()])
            .unwrap();
        table
    }

    /// `WITH RECURSIVE reach AS (SELECT 1 AS node UNION [ALL] SELECT e.dst FROM reach JOIN
    /// edge e ON reach.node = e.src) SELECT node FROM reach`.
    fn reachability(distinct: bool) -> Arc<LogicalPlan> {
        let schema = Arc::new(PlanSchema::new(vec![QualifiedField::new(
            None,
            Field::new("node", DataType::Int64, false),
        )]));
        let start = Arc::new(LogicalPlan::Values(
            Values::try_new(Arc::clone(&schema), vec![vec![lit(1i64)]]).unwrap(),
        ));
        let work = Arc::new(LogicalPlan::WorkTable(WorkTable::new("reach", &schema)));
        let step = LogicalPlanBuilder::from(work)
            .join(
                LogicalPlanBuilder::scan(edges(), "E").build(),
                crate::JoinType::Inner,
                vec![(qualified_col("reach", "node"), qualified_col("E", "src"))],
                None,
            )
            .unwrap()
            .project(vec![qualified_col("E", "dst").alias("node")])
            .unwrap()
            .build();
        let recursive = RecursiveQuery::try_new("reach", start, step, distinct).unwrap();
        LogicalPlanBuilder::from(LogicalPlan::RecursiveQuery(recursive))
            .sort(vec![qualified_col("reach", "node").sort_asc()])
            .unwrap()
            .build()
    }

    fn nodes(plan: Arc<LogicalPlan>, config: SessionConfig) -> Result<Vec<i64>> {
        let result = SessionContext::with_config(Catalog::new(), config).execute(plan)?;
        Ok(result
            .batches
            .iter()
            .flat_map(|b| {
                let a = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                a.values().to_vec()
            })
            .collect())
    }

    #[test]
    fn union_reaches_a_fixed_point_over_a_cycle() {
        assert_eq!(
            nodes(reachability(true), SessionConfig::new()).unwrap(),
            [1, 2, 3, 4]
        );
        assert_eq!(
            crate::sql::plan_to_sql(&reachability(true)).unwrap(),
            "WITH RECURSIVE \"reach\" AS (SELECT \"subquery\".\"column1\" AS \"node\" FROM (VALUES (CAST(1 AS BIGINT))) AS \"subquery\" UNION SELECT \"E\".\"dst\" AS \"node\" FROM \"reach\" INNER JOIN \"edge\" AS \"E\" ON (\"reach\".\"node\" = \"E\".\"src\")) SELECT \"reach\".\"node\" FROM \"reach\" ORDER BY \"reach\".\"node\" ASC NULLS LAST"
        );
    }

    #[test]
    fn union_all_over_a_cycle_stops_at_the_recursion_limit() {
        let err = nodes(
            reachability(false),
            SessionConfig::new().with_max_recursion_depth(50),
        )
        .unwrap_err();
        assert!(matches!(err, EngineError::ResourcesExhausted(_)), "{err}");
        assert!(err
            .to_string()
            .contains("recursive query reach did not finish within 50"));
    }
}
