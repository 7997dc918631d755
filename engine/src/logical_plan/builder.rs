//! [`LogicalPlanBuilder`]: a fluent way to assemble plans (used by the ORM compiler and tests).

use std::sync::Arc;

use quiver_storage::Table;

use super::{
    Aggregate, Distinct, Filter, Join, JoinType, Limit, LogicalPlan, Projection, Scan, Sort,
    SubqueryAlias, Window,
};
use crate::error::Result;
use crate::expr::{Expr, SortExpr};

/// Builds a plan bottom-up, validating each node as it is added.
#[derive(Debug, Clone)]
pub struct LogicalPlanBuilder {
    plan: Arc<LogicalPlan>,
}

impl LogicalPlanBuilder {
    /// Starts from an existing plan.
    pub fn from(plan: impl Into<Arc<LogicalPlan>>) -> LogicalPlanBuilder {
        LogicalPlanBuilder { plan: plan.into() }
    }

    /// Starts from a scan of `table` whose columns are qualified by `relation`.
    pub fn scan(table: Arc<Table>, relation: impl Into<String>) -> LogicalPlanBuilder {
        LogicalPlanBuilder::from(LogicalPlan::Scan(Scan::new(table, relation)))
    }

    /// Adds a filter.
    pub fn filter(self, predicate: Expr) -> Result<Self> {
        Ok(Self::from(LogicalPlan::Filter(Filter::try_new(
            self.plan, predicate,
        )?)))
    }

    /// Adds a projection.
    pub fn project(self, exprs: Vec<Expr>) -> Result<Self> {
        Ok(Self::from(LogicalPlan::Projection(Projection::try_new(
            self.plan, exprs,
        )?)))
    }

    /// Adds a grouping aggregation.
    pub fn aggregate(self, group_exprs: Vec<Expr>, aggr_exprs: Vec<Expr>) -> Result<Self> {
        Ok(Self::from(LogicalPlan::Aggregate(Aggregate::try_new(
            self.plan,
            group_exprs,
            aggr_exprs,
        )?)))
    }

    /// Adds a sort.
    pub fn sort(self, exprs: Vec<SortExpr>) -> Result<Self> {
        for e in &exprs {
            e.expr.data_type(self.plan.schema())?;
        }
        Ok(Self::from(LogicalPlan::Sort(Sort {
            input: self.plan,
            exprs,
            fetch: None,
        })))
    }

    /// Adds OFFSET/LIMIT.
    pub fn limit(self, skip: usize, fetch: Option<usize>) -> Self {
        Self::from(LogicalPlan::Limit(Limit {
            input: self.plan,
            skip,
            fetch,
        }))
    }

    /// Joins with `right` on equality of the `on` pairs.
    pub fn join(
        self,
        right: impl Into<Arc<LogicalPlan>>,
        join_type: JoinType,
        on: Vec<(Expr, Expr)>,
        filter: Option<Expr>,
    ) -> Result<Self> {
        Ok(Self::from(LogicalPlan::Join(Join::try_new(
            self.plan,
            right.into(),
            on,
            filter,
            join_type,
        )?)))
    }

    /// Removes duplicate rows.
    pub fn distinct(self) -> Self {
        Self::from(LogicalPlan::Distinct(Distinct { input: self.plan }))
    }

    /// Adds a Window node computing `window_exprs` (window function calls, possibly aliased).
    pub fn window(self, window_exprs: Vec<Expr>) -> Result<Self> {
        Ok(Self::from(LogicalPlan::Window(Window::try_new(
            self.plan,
            window_exprs,
        )?)))
    }

    /// Requalifies the output columns with `alias`.
    pub fn alias(self, alias: impl Into<String>) -> Self {
        Self::from(LogicalPlan::SubqueryAlias(SubqueryAlias::new(
            self.plan, alias,
        )))
    }

    /// The plan so far.
    pub fn plan(&self) -> &Arc<LogicalPlan> {
        &self.plan
    }

    /// Finishes.
    pub fn build(self) -> Arc<LogicalPlan> {
        self.plan
    }
}
