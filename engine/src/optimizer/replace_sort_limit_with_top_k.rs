//! [`ReplaceSortLimitWithTopK`] (stub: rule being written; it changes nothing yet).

use std::sync::Arc;

use super::OptimizerRule;
use crate::error::Result;
use crate::expr::Transformed;
use crate::logical_plan::LogicalPlan;

/// See the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReplaceSortLimitWithTopK;

impl OptimizerRule for ReplaceSortLimitWithTopK {
    fn name(&self) -> &'static str {
        "replace_sort_limit_with_top_k"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
        Ok(Transformed::no(plan))
    }
}
