//! [`ReplaceSortLimitWithTopK`]: a sort under a limit only needs its first `skip + fetch`
//! rows, which a top-k keeps in a heap of that size instead of sorting everything.
//!
//! ```text
//! before                              after
//! Limit: skip=10, fetch=5             Limit: skip=10, fetch=5
//!   Sort: T0.age DESC NULLS FIRST       TopK: fetch=15, T0.age DESC NULLS FIRST
//!     Scan: author AS T0                  Scan: author AS T0
//!
//! Limit: skip=0, fetch=5              Limit: skip=0, fetch=5
//!   Projection: T0.name                 Projection: T0.name
//!     Sort: T0.age ASC NULLS LAST         TopK: fetch=5, T0.age ASC NULLS LAST
//!       Scan: author AS T0                  Scan: author AS T0
//! ```
//!
//! The rule looks through projections and subquery aliases between the limit and the sort
//! (they keep rows one for one), so it does its job when `push_down_limit` is switched off;
//! [`PushDownLimit`](super::PushDownLimit) uses [`limit_over_sort`] for the same rewrite when
//! the limit reaches the sort itself.

use std::sync::Arc;

use super::OptimizerRule;
use crate::error::Result;
use crate::expr::Transformed;
use crate::logical_plan::{Limit, LogicalPlan, Projection, Sort, SubqueryAlias};

/// Turns Sort + Limit into a TopK (`Sort.fetch`); see the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReplaceSortLimitWithTopK;

impl OptimizerRule for ReplaceSortLimitWithTopK {
    fn name(&self) -> &'static str {
        "replace_sort_limit_with_top_k"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
        plan.transform_up(&mut |node| {
            let LogicalPlan::Limit(limit) = node.as_ref() else {
                return Ok(Transformed::no(node));
            };
            if let LogicalPlan::Sort(sort) = limit.input.as_ref() {
                return Ok(match limit_over_sort(limit, sort) {
                    Some(new) => Transformed::yes(new),
                    None => Transformed::no(node),
                });
            }
            let Some(wanted) = rows_wanted(limit) else {
                return Ok(Transformed::no(node));
            };
            Ok(match bound_sort_below(&limit.input, wanted)? {
                Some(input) => Transformed::yes(Arc::new(LogicalPlan::Limit(Limit {
                    input,
                    skip: limit.skip,
                    fetch: limit.fetch,
                }))),
                None => Transformed::no(node),
            })
        })
    }
}

/// How many rows from its input a limit can return: `skip + fetch`.
fn rows_wanted(limit: &Limit) -> Option<usize> {
    limit.fetch.map(|fetch| limit.skip.saturating_add(fetch))
}

/// The rewrite of `limit` directly over `sort`: the sort keeps `skip + fetch` rows, and the
/// limit stays only to skip. `None` when there is nothing to change.
pub(crate) fn limit_over_sort(limit: &Limit, sort: &Sort) -> Option<Arc<LogicalPlan>> {
    let wanted = rows_wanted(limit)?;
    let bounded = match bounded_sort(sort, wanted) {
        Some(sort) => Arc::new(LogicalPlan::Sort(sort)),
        None => Arc::clone(&limit.input),
    };
    if limit.skip == 0 {
        // The sort now returns at most `fetch` rows: the limit has nothing left to do.
        return Some(bounded);
    }
    if Arc::ptr_eq(&bounded, &limit.input) {
        return None;
    }
    Some(Arc::new(LogicalPlan::Limit(Limit {
        input: bounded,
        skip: limit.skip,
        fetch: limit.fetch,
    })))
}

/// `sort` keeping at most `wanted` rows; `None` when it already keeps no more.
fn bounded_sort(sort: &Sort, wanted: usize) -> Option<Sort> {
    if sort.fetch.is_some_and(|fetch| fetch <= wanted) {
        return None;
    }
    Some(Sort {
        input: Arc::clone(&sort.input),
        exprs: sort.exprs.clone(),
        fetch: Some(wanted),
    })
}

/// Bounds the first sort reached through row-preserving nodes; `None` when there is none or
/// it is already bounded.
fn bound_sort_below(plan: &Arc<LogicalPlan>, wanted: usize) -> Result<Option<Arc<LogicalPlan>>> {
    Ok(Some(match plan.as_ref() {
        LogicalPlan::Sort(sort) => match bounded_sort(sort, wanted) {
            Some(sort) => Arc::new(LogicalPlan::Sort(sort)),
            None => return Ok(None),
        },
        LogicalPlan::Projection(projection) => {
            let Some(input) = bound_sort_below(&projection.input, wanted)? else {
                return Ok(None);
            };
            Arc::new(LogicalPlan::Projection(Projection::try_new(
                input,
                projection.exprs.clone(),
            )?))
        }
        LogicalPlan::SubqueryAlias(alias) => {
            let Some(input) = bound_sort_below(&alias.input, wanted)? else {
                return Ok(None);
            };
            Arc::new(LogicalPlan::SubqueryAlias(SubqueryAlias::new(
                input,
                alias.alias.clone(),
            )))
        }
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;

    use super::*;
    use crate::expr::qualified_col;
    use crate::optimizer::utils::fixtures::{author_scan, optimize_with};

    #[test]
    fn sort_under_limit_becomes_top_k() {
        let plan = author_scan()
            .sort(vec![qualified_col("T0", "age").sort_desc()])
            .unwrap()
            .limit(10, Some(5))
            .build();
        assert_snapshot!(optimize_with(ReplaceSortLimitWithTopK, plan), @r"
        Limit: skip=10, fetch=5
          TopK: fetch=15, T0.age DESC NULLS FIRST
            Scan: author AS T0
        ");

        // Without an offset the limit is redundant once the sort keeps `fetch` rows.
        let plan = author_scan()
            .sort(vec![qualified_col("T0", "age").sort_desc()])
            .unwrap()
            .limit(0, Some(5))
            .build();
        assert_snapshot!(optimize_with(ReplaceSortLimitWithTopK, plan), @r"
        TopK: fetch=5, T0.age DESC NULLS FIRST
          Scan: author AS T0
        ");
    }

    #[test]
    fn looks_through_projections_and_aliases() {
        let plan = author_scan()
            .sort(vec![qualified_col("T0", "age").sort_asc()])
            .unwrap()
            .project(vec![qualified_col("T0", "name")])
            .unwrap()
            .alias("sub")
            .limit(2, Some(3))
            .build();
        assert_snapshot!(optimize_with(ReplaceSortLimitWithTopK, plan), @r"
        Limit: skip=2, fetch=3
          SubqueryAlias: sub
            Projection: T0.name
              TopK: fetch=5, T0.age ASC NULLS LAST
                Scan: author AS T0
        ");
    }

    #[test]
    fn keeps_a_smaller_top_k_and_ignores_offset_only_limits() {
        let top_k = Arc::new(LogicalPlan::Sort(Sort {
            input: author_scan().build(),
            exprs: vec![qualified_col("T0", "age").sort_asc()],
            fetch: Some(3),
        }));
        let plan = Arc::new(LogicalPlan::Limit(Limit {
            input: top_k,
            skip: 1,
            fetch: Some(10),
        }));
        assert_snapshot!(optimize_with(ReplaceSortLimitWithTopK, plan), @r"
        Limit: skip=1, fetch=10
          TopK: fetch=3, T0.age ASC NULLS LAST
            Scan: author AS T0
        ");

        let plan = author_scan()
            .sort(vec![qualified_col("T0", "age").sort_asc()])
            .unwrap()
            .limit(4, None)
            .build();
        assert_snapshot!(optimize_with(ReplaceSortLimitWithTopK, plan), @r"
        Limit: skip=4, fetch=None
          Sort: T0.age ASC NULLS LAST
            Scan: author AS T0
        ");
    }
}
