//! [`PruneProjections`] (stub: rule being written; it changes nothing yet).

use std::sync::Arc;

use super::OptimizerRule;
use crate::error::Result;
use crate::expr::Transformed;
use crate::logical_plan::LogicalPlan;

/// See the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct PruneProjections;

impl OptimizerRule for PruneProjections {
    fn name(&self) -> &'static str {
        "prune_projections"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
        Ok(Transformed::no(plan))
    }
}
