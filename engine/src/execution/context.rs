//! [`SessionContext`]: optimize, plan and run logical plans against a catalog.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use quiver_storage::Catalog;

use super::planner::create_physical_plan;
use super::SessionConfig;
use crate::error::Result;
use crate::logical_plan::LogicalPlan;
use crate::optimizer::Optimizer;
use crate::physical_plan::{collect, display_plan, ExecutionPlan, TaskContext};

/// The batches a query returned, with its schema (kept even when there are no batches).
#[derive(Debug, Clone)]
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl QueryResult {
    /// Total rows.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// A catalog plus settings; cheap to clone.
#[derive(Debug, Clone)]
pub struct SessionContext {
    catalog: Catalog,
    config: SessionConfig,
    optimizer: Arc<Optimizer>,
}

impl SessionContext {
    /// A session over `catalog` with default settings.
    pub fn new(catalog: Catalog) -> SessionContext {
        SessionContext::with_config(catalog, SessionConfig::default())
    }

    /// A session with explicit settings.
    pub fn with_config(catalog: Catalog, config: SessionConfig) -> SessionContext {
        SessionContext {
            catalog,
            config,
            optimizer: Arc::new(Optimizer::new()),
        }
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The settings.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Mutable settings.
    pub fn config_mut(&mut self) -> &mut SessionConfig {
        &mut self.config
    }

    /// Names of the optimizer rules, in the order they run.
    pub fn rule_names(&self) -> Vec<&'static str> {
        self.optimizer.rule_names()
    }

    /// Runs the optimizer (minus disabled rules).
    pub fn optimize(&self, plan: Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
        self.optimizer.optimize(plan, &self.config.disabled_rules)
    }

    /// Optimizes and turns a logical plan into a physical one.
    pub fn create_physical_plan(&self, plan: Arc<LogicalPlan>) -> Result<Arc<dyn ExecutionPlan>> {
        let optimized = self.optimize(plan)?;
        create_physical_plan(&optimized, &self.config)
    }

    /// Optimizes, plans and runs `plan`, returning every batch.
    pub fn execute(&self, plan: Arc<LogicalPlan>) -> Result<QueryResult> {
        let schema = plan.schema().arrow_schema();
        let physical = self.create_physical_plan(plan)?;
        let ctx = TaskContext::new(self.config.clone());
        let batches = collect(physical, &ctx)?;
        Ok(QueryResult { schema, batches })
    }

    /// EXPLAIN: the logical plan before and after optimization and the physical plan; with
    /// `analyze`, the query is run and each operator shows its rows and time.
    pub fn explain(&self, plan: Arc<LogicalPlan>, analyze: bool) -> Result<String> {
        let mut out = String::new();
        out.push_str("== Logical plan ==\n");
        out.push_str(&plan.display_indent());
        let optimized = self.optimize(plan)?;
        out.push_str("== Optimized logical plan ==\n");
        out.push_str(&optimized.display_indent());
        let physical = create_physical_plan(&optimized, &self.config)?;
        let mut elapsed = Duration::ZERO;
        if analyze {
            let ctx = TaskContext::new(self.config.clone());
            let start = Instant::now();
            collect(Arc::clone(&physical), &ctx)?;
            elapsed = start.elapsed();
        }
        out.push_str("== Physical plan ==\n");
        out.push_str(&display_plan(physical.as_ref(), analyze));
        if analyze {
            out.push_str(&format!("== Total: {elapsed:.3?} ==\n"));
        }
        Ok(out)
    }
}
