//! Renders logical plans as PostgreSQL-dialect SQL: what `QuerySet::sql()` shows (Django's
//! `str(qs.query)`) and what DataFusion runs, unchanged, in the differential tests.

use crate::error::{EngineError, Result};
use crate::logical_plan::LogicalPlan;

/// The SQL text of `plan`.
pub fn plan_to_sql(plan: &LogicalPlan) -> Result<String> {
    Err(EngineError::Internal(format!(
        "SQL rendering is not implemented yet for {}",
        plan.name()
    )))
}
