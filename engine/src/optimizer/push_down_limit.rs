//! [`PushDownLimit`] (stub: rule being written; it changes nothing yet).

use std::sync::Arc;

use super::OptimizerRule;
use crate::error::Result;
use crate::expr::Transformed;
use crate::logical_plan::LogicalPlan;

/// See the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct PushDownLimit;

impl OptimizerRule for PushDownLimit {
    fn name(&self) -> &'static str {
        "push_down_limit"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
        Ok(Transformed::no(plan))
    }
}
