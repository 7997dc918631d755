//! The physical planner: one physical operator (or a few) per logical node.
//!
//! (Stub: being written.)

use std::sync::Arc;

use super::SessionConfig;
use crate::error::{EngineError, Result};
use crate::logical_plan::LogicalPlan;
use crate::physical_plan::ExecutionPlan;

/// Turns an (optimized) logical plan into an executable operator tree.
pub fn create_physical_plan(
    plan: &LogicalPlan,
    config: &SessionConfig,
) -> Result<Arc<dyn ExecutionPlan>> {
    let _ = config;
    Err(EngineError::Internal(format!(
        "physical planning is not implemented yet for {}",
        plan.name()
    )))
}
