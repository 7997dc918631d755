//! [`PruneChunks`] (stub: rule being written; it changes nothing yet).

use std::sync::Arc;

use super::OptimizerRule;
use crate::error::Result;
use crate::expr::Transformed;
use crate::logical_plan::LogicalPlan;

/// See the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct PruneChunks;

impl OptimizerRule for PruneChunks {
    fn name(&self) -> &'static str {
        "prune_chunks"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
        Ok(Transformed::no(plan))
    }
}
