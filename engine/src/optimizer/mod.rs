//! The optimizer: named rewrite rules driven to a fixed point.
//!
//! Each rule is an [`OptimizerRule`] with a stable `name()` (a verb phrase, the same as its
//! file), so EXPLAIN, the rule list and `SessionConfig::disable_rule` agree. The driver runs the
//! enabled rules in order, repeatedly, until a whole pass changes nothing (or a pass limit is
//! hit), and checks after every rule that the plan's output schema did not change — a rule
//! that changes what a query returns is a bug, reported as `Internal`.

mod choose_build_side;
mod decorrelate_subqueries;
mod group_by_primary_key;
mod inline_ctes;
mod project_subqueries_below_aggregate;
mod prune_chunks;
mod prune_projections;
mod push_down_filter;
mod push_down_limit;
mod push_down_semi_joins;
mod reorder_joins;
mod replace_rank_filter_with_top_k;
mod replace_sort_limit_with_top_k;
mod simplify_expressions;

/// Rewrites each join of `plan`, children first, with `rewrite`: the replacement node, or
/// `None` to keep the join. For rules that look at one join at a time.
pub(crate) fn rewrite_joins(
    plan: Arc<LogicalPlan>,
    rewrite: impl Fn(&crate::logical_plan::Join) -> Result<Option<Arc<LogicalPlan>>>,
) -> Result<Transformed<Arc<LogicalPlan>>> {
    plan.transform_up(&mut |node| {
        let LogicalPlan::Join(join) = node.as_ref() else {
            return Ok(Transformed::no(node));
        };
        Ok(match rewrite(join)? {
            Some(new) => Transformed::yes(new),
            None => Transformed::no(node),
        })
    })
}

#[cfg(test)]
mod tests;
mod use_indexes;
pub(crate) mod utils;

use std::collections::BTreeSet;
use std::sync::Arc;

pub use choose_build_side::ChooseBuildSide;
pub use decorrelate_subqueries::DecorrelateSubqueries;
pub use group_by_primary_key::GroupByPrimaryKey;
pub use inline_ctes::InlineCtes;
pub use project_subqueries_below_aggregate::ProjectSubqueriesBelowAggregate;
pub use prune_chunks::PruneChunks;
pub use prune_projections::PruneProjections;
pub use push_down_filter::PushDownFilter;
pub(crate) use push_down_limit::merge_limits;
pub use push_down_limit::PushDownLimit;
pub use push_down_semi_joins::PushDownSemiJoins;
pub use reorder_joins::ReorderJoins;
pub(crate) use reorder_joins::{cardinality, join_cardinality};
pub use replace_rank_filter_with_top_k::ReplaceRankFilterWithTopK;
pub use replace_sort_limit_with_top_k::ReplaceSortLimitWithTopK;
pub use simplify_expressions::SimplifyExpressions;
pub(crate) use use_indexes::index_join;
pub use use_indexes::IndexJoin;
pub use use_indexes::UseIndexes;

use crate::error::{EngineError, Result};
use crate::expr::Transformed;
use crate::logical_plan::LogicalPlan;

/// Optimizations the physical planner makes rather than a logical rewrite; `disable_rule`
/// switches them off by these names like any rule (`runtime_join_filters`: see
/// `physical_plan/runtime_filter.rs`; `join_projection`: `physical_plan/hash_join.rs`;
/// `fuse_range_filters`: `physical_expr/column_range.rs`).
pub const PHYSICAL_RULES: &[&str] = &[
    crate::physical_plan::runtime_filter::RUNTIME_JOIN_FILTERS,
    crate::physical_plan::hash_join::JOIN_PROJECTION,
    crate::physical_expr::FUSE_RANGE_FILTERS,
];

/// A logical rewrite.
pub trait OptimizerRule: Send + Sync {
    /// Stable name, e.g. `"push_down_filter"`.
    fn name(&self) -> &'static str;

    /// Rewrites the whole plan; reports whether anything changed.
    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>>;
}

/// Runs rules to a fixed point.
pub struct Optimizer {
    rules: Vec<Arc<dyn OptimizerRule>>,
    max_passes: usize,
}

impl std::fmt::Debug for Optimizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Optimizer")
            .field("rules", &self.rule_names())
            .finish()
    }
}

impl Default for Optimizer {
    fn default() -> Self {
        Optimizer::new()
    }
}

impl Optimizer {
    /// The default rule list, in the order they run.
    pub fn new() -> Optimizer {
        Optimizer::with_rules(vec![
            Arc::new(InlineCtes),
            Arc::new(ProjectSubqueriesBelowAggregate),
            Arc::new(DecorrelateSubqueries),
            Arc::new(SimplifyExpressions),
            Arc::new(PushDownFilter),
            Arc::new(PushDownLimit),
            Arc::new(PushDownSemiJoins),
            Arc::new(GroupByPrimaryKey),
            Arc::new(ReplaceSortLimitWithTopK),
            Arc::new(ReplaceRankFilterWithTopK),
            Arc::new(PruneProjections),
            Arc::new(PruneChunks),
            Arc::new(ReorderJoins),
            Arc::new(ChooseBuildSide),
            Arc::new(UseIndexes),
        ])
    }

    /// A custom rule list.
    pub fn with_rules(rules: Vec<Arc<dyn OptimizerRule>>) -> Optimizer {
        Optimizer {
            rules,
            max_passes: 8,
        }
    }

    /// Names of every rule, in order.
    pub fn rule_names(&self) -> Vec<&'static str> {
        self.rules.iter().map(|r| r.name()).collect()
    }

    /// Every name `disable_rule` accepts: the logical rules in order, then [`PHYSICAL_RULES`].
    pub fn switchable_rule_names(&self) -> Vec<&'static str> {
        let mut names = self.rule_names();
        names.extend_from_slice(PHYSICAL_RULES);
        names
    }

    /// Optimizes `plan`, skipping the rules named in `disabled`. An unknown name in
    /// `disabled` is an error, so a typo never silently benchmarks the wrong thing.
    pub fn optimize(
        &self,
        plan: Arc<LogicalPlan>,
        disabled: &BTreeSet<String>,
    ) -> Result<Arc<LogicalPlan>> {
        let names = self.switchable_rule_names();
        if let Some(unknown) = disabled.iter().find(|d| !names.contains(&d.as_str())) {
            return Err(EngineError::Plan(format!(
                "unknown optimizer rule \"{unknown}\"; rules are: {}",
                names.join(", ")
            )));
        }
        let mut plan = plan;
        for _ in 0..self.max_passes {
            let mut changed = false;
            for rule in &self.rules {
                if disabled.contains(rule.name()) {
                    continue;
                }
                let before = Arc::clone(plan.schema());
                let t = rule.rewrite(Arc::clone(&plan))?;
                if t.transformed {
                    if !before.equivalent(t.data.schema()) {
                        return Err(EngineError::Internal(format!(
                            "optimizer rule {} changed the plan schema from {} to {}",
                            rule.name(),
                            before,
                            t.data.schema()
                        )));
                    }
                    changed = true;
                    plan = t.data;
                }
            }
            if !changed {
                break;
            }
        }
        Ok(plan)
    }
}
