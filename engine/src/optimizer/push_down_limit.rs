//! [`PushDownLimit`]: moves a limit below the operators that keep rows one for one, so it
//! reaches the sort (which then becomes a top-k) and nothing computes rows that are thrown
//! away.
//!
//! ```text
//! before                                  after
//! Limit: skip=0, fetch=10                 Projection: T0.name
//!   Projection: T0.name                     TopK: fetch=10, T0.age ASC NULLS LAST
//!     Sort: T0.age ASC NULLS LAST             Scan: author AS T0
//!       Scan: author AS T0
//!
//! Limit: skip=2, fetch=3                  Limit: skip=7, fetch=3
//!   Limit: skip=5, fetch=None               Scan: author AS T0
//!     Scan: author AS T0
//!
//! Limit: skip=0, fetch=0                  Values: rows=0
//!   Scan: author AS T0
//! ```
//!
//! A limit moves below projections and subquery aliases, merges with a limit below it, and
//! bounds a sort below it (the same rewrite as
//! [`ReplaceSortLimitWithTopK`](super::ReplaceSortLimitWithTopK), shared through
//! [`limit_over_sort`]). It never moves below a filter, join, aggregate or DISTINCT, which
//! change how many rows there are.

use std::sync::Arc;

use super::replace_sort_limit_with_top_k::limit_over_sort;
use super::utils::empty_relation;
use super::OptimizerRule;
use crate::error::Result;
use crate::expr::Transformed;
use crate::logical_plan::{Limit, LogicalPlan, Projection, SubqueryAlias};

/// Limit push-down; see the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct PushDownLimit;

impl OptimizerRule for PushDownLimit {
    fn name(&self) -> &'static str {
        "push_down_limit"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
        plan.transform_up(&mut |node| {
            let LogicalPlan::Limit(limit) = node.as_ref() else {
                return Ok(Transformed::no(node));
            };
            Ok(match push_limit(limit)? {
                Some(new) => Transformed::yes(new),
                None => Transformed::no(node),
            })
        })
    }
}

/// The rewritten plan for `limit`, or `None` when it stays as it is.
fn push_limit(limit: &Limit) -> Result<Option<Arc<LogicalPlan>>> {
    if limit.fetch == Some(0) {
        return Ok(Some(empty_relation(limit.input.schema())?));
    }
    Ok(Some(match limit.input.as_ref() {
        LogicalPlan::Projection(projection) => {
            let input = push_or_keep(below(limit, &projection.input))?;
            Arc::new(LogicalPlan::Projection(Projection::try_new(
                input,
                projection.exprs.clone(),
            )?))
        }
        LogicalPlan::SubqueryAlias(alias) => {
            let input = push_or_keep(below(limit, &alias.input))?;
            Arc::new(LogicalPlan::SubqueryAlias(SubqueryAlias::new(
                input,
                alias.alias.clone(),
            )))
        }
        LogicalPlan::Limit(inner) => push_or_keep(merge(limit, inner))?,
        LogicalPlan::Sort(sort) => return Ok(limit_over_sort(limit, sort)),
        _ => return Ok(None),
    }))
}

/// The same limit over `input`.
fn below(limit: &Limit, input: &Arc<LogicalPlan>) -> Limit {
    Limit {
        input: Arc::clone(input),
        skip: limit.skip,
        fetch: limit.fetch,
    }
}

/// A limit that was just created lower in the plan, pushed further if it can go.
fn push_or_keep(limit: Limit) -> Result<Arc<LogicalPlan>> {
    Ok(match push_limit(&limit)? {
        Some(plan) => plan,
        None => Arc::new(LogicalPlan::Limit(limit)),
    })
}

/// `outer` over `inner` as one limit.
fn merge(outer: &Limit, inner: &Limit) -> Limit {
    let (skip, fetch) = merge_limits((outer.skip, outer.fetch), (inner.skip, inner.fetch));
    Limit {
        input: Arc::clone(&inner.input),
        skip,
        fetch,
    }
}

/// `(skip, fetch)` of an outer limit over an inner one as a single `(skip, fetch)`: the inner
/// limit yields rows `[s1, s1 + f1)`, of which the outer one skips `s2` and keeps `f2`.
pub(crate) fn merge_limits(
    (outer_skip, outer_fetch): (usize, Option<usize>),
    (inner_skip, inner_fetch): (usize, Option<usize>),
) -> (usize, Option<usize>) {
    let inner_left = inner_fetch.map(|f1| f1.saturating_sub(outer_skip));
    let fetch = match (outer_fetch, inner_left) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    (inner_skip.saturating_add(outer_skip), fetch)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use insta::assert_snapshot;

    use super::*;
    use crate::expr::qualified_col;
    use crate::optimizer::utils::fixtures::{author_scan, optimize_with};
    use crate::optimizer::{Optimizer, ReplaceSortLimitWithTopK};

    #[test]
    fn through_projection_into_top_k() {
        let plan = author_scan()
            .sort(vec![qualified_col("T0", "age").sort_asc()])
            .unwrap()
            .project(vec![qualified_col("T0", "name")])
            .unwrap()
            .limit(0, Some(10))
            .build();
        assert_snapshot!(optimize_with(PushDownLimit, plan), @r"
        Projection: T0.name
          TopK: fetch=10, T0.age ASC NULLS LAST
            Scan: author AS T0
        ");
    }

    #[test]
    fn merges_limits() {
        let plan = author_scan().limit(5, None).limit(2, Some(3)).build();
        assert_snapshot!(optimize_with(PushDownLimit, plan), @r"
        Limit: skip=7, fetch=3
          Scan: author AS T0
        ");

        // The inner limit returns 10 rows; after the outer skip of 6, 4 are left.
        let plan = author_scan().limit(1, Some(10)).limit(6, Some(8)).build();
        assert_snapshot!(optimize_with(PushDownLimit, plan), @r"
        Limit: skip=7, fetch=4
          Scan: author AS T0
        ");

        // Skipping 5 of 3 rows leaves nothing.
        let plan = author_scan().limit(0, Some(3)).limit(5, None).build();
        assert_snapshot!(optimize_with(PushDownLimit, plan), @"Values: rows=0");
    }

    #[test]
    fn limit_zero_is_empty() {
        let plan = author_scan()
            .project(vec![qualified_col("T0", "name")])
            .unwrap()
            .limit(3, Some(0))
            .build();
        assert_snapshot!(optimize_with(PushDownLimit, plan), @"Values: rows=0");
    }

    #[test]
    fn stops_at_filters() {
        let plan = author_scan()
            .filter(qualified_col("T0", "age").is_null())
            .unwrap()
            .limit(0, Some(1))
            .build();
        assert_snapshot!(optimize_with(PushDownLimit, plan), @r"
        Limit: skip=0, fetch=1
          Filter: T0.age IS NULL
            Scan: author AS T0
        ");
    }

    #[test]
    fn each_limit_rule_alone_and_together_give_a_top_k() {
        let plan = author_scan()
            .sort(vec![qualified_col("T0", "id").sort_desc()])
            .unwrap()
            .limit(1, Some(2))
            .build();
        let expected = "Limit: skip=1, fetch=2\n  TopK: fetch=3, T0.id DESC NULLS FIRST\n    Scan: author AS T0";
        assert_eq!(optimize_with(PushDownLimit, Arc::clone(&plan)), expected);
        assert_eq!(
            optimize_with(ReplaceSortLimitWithTopK, Arc::clone(&plan)),
            expected
        );
        let both = Optimizer::with_rules(vec![
            Arc::new(PushDownLimit),
            Arc::new(ReplaceSortLimitWithTopK),
        ]);
        assert_eq!(
            both.optimize(plan, &BTreeSet::new()).unwrap().to_string(),
            expected
        );
    }
}
