//! [`ReplaceRankFilterWithTopK`]: `row_number() <= k` or `rank() <= k` over a window only
//! needs each partition's first `k` rows, so the window need not sort whole partitions.
//!
//! ```text
//! before
//! Filter: (__win0 <= 3)
//!   Window: row_number() OVER (PARTITION BY T0.country ORDER BY T0.score DESC NULLS FIRST) AS __win0
//!     Scan: player AS T0
//! after
//! Filter: (__win0 <= 3)
//!   Window: row_number() OVER (PARTITION BY T0.country ORDER BY T0.score DESC NULLS FIRST) AS __win0, partition_fetch=3
//!     Scan: player AS T0
//! ```
//!
//! This is "top N per group" (Django: `filter(rank__lte=3)` over `Window(RowNumber(),
//! partition_by=…)`), the most common window query. With `partition_fetch` set the
//! `WindowExec` first selects each partition's best `k` rows (plus the rows tied with the
//! `k`-th for `rank`) in linear time and ranks only those. The rule applies when the filter
//! bounds a `row_number()` or `rank()` column from above and every window expression of the
//! node is a ranking function that only looks at earlier rows (`row_number`, `rank`,
//! `dense_rank`) over the same PARTITION BY and ORDER BY: their values on a partition's first
//! rows do not depend on the rows after them. The filter stays, so the rows are exactly
//! those of the plan before.
//!
//! A lower bound as well (`rank() BETWEEN 500 AND 510`, Django's `rk__range`: "the players
//! ranked around this one") sets `partition_fetch.skip`: the rows before position 500 are
//! then only counted, not sorted, and each kept row's rank is its rank among the kept rows
//! plus that count. This needs every window expression to be `row_number` or `rank` with an
//! ORDER BY (`dense_rank` would need the skipped rows' distinct keys):
//!
//! ```text
//! Filter: ((__win0 >= 500) AND (__win0 <= 510))
//!   Window: rank() OVER (ORDER BY T0.score DESC NULLS FIRST) AS __win0, partition_fetch=500..=510 with ties
//! ```

use std::sync::Arc;

use super::OptimizerRule;
use crate::error::Result;
use crate::expr::{BinaryExpr, Column, Expr, Operator, Transformed, WindowFunctionKind};
use crate::logical_plan::{LogicalPlan, PartitionFetch, Window};

/// Sets `Window.partition_fetch` under a ranking filter; see the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReplaceRankFilterWithTopK;

impl OptimizerRule for ReplaceRankFilterWithTopK {
    fn name(&self) -> &'static str {
        "replace_rank_filter_with_top_k"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
        plan.transform_up(&mut |node| {
            let LogicalPlan::Filter(filter) = node.as_ref() else {
                return Ok(Transformed::no(node));
            };
            let LogicalPlan::Window(window) = filter.input.as_ref() else {
                return Ok(Transformed::no(node));
            };
            let bounds: Vec<Bound> = filter
                .predicate
                .clone()
                .split_conjunction()
                .iter()
                .flat_map(|conjunct| bounds(conjunct, window))
                .collect();
            let Some(mut fetch) = bounds
                .iter()
                .filter_map(|b| match b {
                    Bound::Upper(fetch) => Some(*fetch),
                    Bound::Lower(_) => None,
                })
                .min_by_key(|f| (f.rows, f.with_ties))
            else {
                return Ok(Transformed::no(node));
            };
            if skippable(window) {
                fetch.skip = bounds
                    .iter()
                    .filter_map(|b| match b {
                        Bound::Lower(skip) => Some(*skip),
                        Bound::Upper(_) => None,
                    })
                    .max()
                    .unwrap_or(0);
            }
            if window.partition_fetch == Some(fetch) || !prefix_stable(window) {
                return Ok(Transformed::no(node));
            }
            let mut limited = window.with_input(Arc::clone(&window.input))?;
            limited.partition_fetch = Some(fetch);
            Ok(Transformed::yes(Arc::new(node.with_new_inputs(vec![
                Arc::new(LogicalPlan::Window(limited)),
            ])?)))
        })
    }
}

/// What one conjunct of the filter says about the rows' positions in their partition.
enum Bound {
    /// `rank <= k`: the rows of the first `k` positions (with ties for `rank`).
    Upper(PartitionFetch),
    /// `rank >= k`: no row before position `k - 1` (0-based), the value here.
    Lower(usize),
}

/// The window call computing output column `column` of `window`, if it is one.
fn call_for<'a>(column: &Column, window: &'a Window) -> Option<&'a crate::expr::WindowFunction> {
    let width = window.input.schema().len();
    let index = window.schema.maybe_index_of_column(column).ok()??;
    match window.window_exprs.get(index.checked_sub(width)?)? {
        Expr::WindowFunction(w) => Some(w),
        Expr::Alias(a) => match a.expr.as_ref() {
            Expr::WindowFunction(w) => Some(w),
            _ => None,
        },
        _ => None,
    }
}

/// `rank_column <= k` (or `<`, `=`, mirrored) as the fetch it allows, or `rank_column >= k`
/// (`>`, `=`) as the rows it skips. A row's `row_number()` and `rank()` are both at least one
/// more than its 0-based position's first peer, so `>= k` on either skips `k - 1` positions.
fn bounds(conjunct: &Expr, window: &Window) -> Vec<Bound> {
    bounds_of(conjunct, window).unwrap_or_default()
}

fn bounds_of(conjunct: &Expr, window: &Window) -> Option<Vec<Bound>> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = conjunct else {
        return None;
    };
    let (column, op, value) = match (left.as_ref(), right.as_ref()) {
        (Expr::Column(c), Expr::Literal(v)) => (c, *op, v),
        (Expr::Literal(v), Expr::Column(c)) => (c, op.swap()?, v),
        _ => return None,
    };
    let k = match value {
        quiver_storage::ScalarValue::Int64(Some(k)) => *k,
        quiver_storage::ScalarValue::Int32(Some(k)) => i64::from(*k),
        quiver_storage::ScalarValue::Int16(Some(k)) => i64::from(*k),
        _ => return None,
    };
    let with_ties = match call_for(column, window)?.fun {
        WindowFunctionKind::RowNumber => false,
        WindowFunctionKind::Rank => true,
        _ => return None,
    };
    let (rows, skip) = match op {
        Operator::LtEq => (Some(k), None),
        Operator::Lt => (Some(k.saturating_sub(1)), None),
        Operator::Eq => (Some(k), Some(k.saturating_sub(1))),
        Operator::GtEq => (None, Some(k.saturating_sub(1))),
        Operator::Gt => (None, Some(k)),
        _ => return None,
    };
    let upper = rows.and_then(|rows| {
        Some(Bound::Upper(PartitionFetch {
            skip: 0,
            rows: usize::try_from(rows).ok()?,
            with_ties,
        }))
    });
    let lower = skip.and_then(|skip| Some(Bound::Lower(usize::try_from(skip.max(0)).ok()?)));
    Some(upper.into_iter().chain(lower).collect())
}

/// Whether the rows before a lower bound can be skipped: every expression's value on a kept
/// row is then its value among the kept rows plus the number skipped, which holds for
/// `row_number` and `rank` (not `dense_rank`, which would need the skipped rows' distinct
/// keys) when there is an ORDER BY (without one, every row is a peer of the first).
fn skippable(window: &Window) -> bool {
    window
        .window_exprs
        .iter()
        .all(|e| match e.clone().unalias() {
            Expr::WindowFunction(w) => {
                matches!(
                    w.fun,
                    WindowFunctionKind::RowNumber | WindowFunctionKind::Rank
                ) && !w.order_by.is_empty()
            }
            _ => false,
        })
}

/// Whether every window expression keeps its values on a partition's first rows when the
/// later rows are dropped (and all share one PARTITION BY and ORDER BY).
fn prefix_stable(window: &Window) -> bool {
    let mut calls = window
        .window_exprs
        .iter()
        .map(|e| match e.clone().unalias() {
            Expr::WindowFunction(w) => Some(w),
            _ => None,
        });
    let Some(Some(first)) = calls.next() else {
        return false;
    };
    let ranking = |fun: WindowFunctionKind| {
        matches!(
            fun,
            WindowFunctionKind::RowNumber
                | WindowFunctionKind::Rank
                | WindowFunctionKind::DenseRank
        )
    };
    ranking(first.fun)
        && calls.all(|call| {
            call.is_some_and(|w| {
                ranking(w.fun)
                    && w.partition_by == first.partition_by
                    && w.order_by == first.order_by
            })
        })
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;

    use super::*;
    use crate::expr::{col, lit, qualified_col, WindowFunction};
    use crate::optimizer::utils::fixtures::author_scan;
    use crate::optimizer::Optimizer;

    fn ranked(fun: WindowFunctionKind) -> crate::logical_plan::LogicalPlanBuilder {
        let mut call = WindowFunction::new(fun, vec![]);
        call.partition_by = vec![qualified_col("T0", "name")];
        call.order_by = vec![qualified_col("T0", "age").sort_desc()];
        author_scan()
            .window(vec![Expr::from(call).alias("rn")])
            .unwrap()
    }

    fn optimize(plan: Arc<LogicalPlan>) -> String {
        Optimizer::with_rules(vec![Arc::new(ReplaceRankFilterWithTopK)])
            .optimize(plan, &Default::default())
            .unwrap()
            .to_string()
    }

    #[test]
    fn row_number_and_rank_filters_fetch_per_partition() {
        let plan = ranked(WindowFunctionKind::RowNumber)
            .filter(col("rn").lt_eq(lit(3i64)))
            .unwrap()
            .build();
        assert_snapshot!(optimize(plan), @r"
        Filter: (rn <= 3)
          Window: row_number() OVER (PARTITION BY T0.name ORDER BY T0.age DESC NULLS FIRST) AS rn, partition_fetch=3
            Scan: author AS T0
        ");
        let plan = ranked(WindowFunctionKind::Rank)
            .filter(lit(2i64).gt(col("rn")))
            .unwrap()
            .build();
        assert!(optimize(plan).contains("partition_fetch=1 with ties"));
    }

    #[test]
    fn other_functions_and_lower_bounds_are_left_alone() {
        let plan = ranked(WindowFunctionKind::CumeDist)
            .filter(col("rn").lt_eq(lit(3i64)))
            .unwrap()
            .build();
        assert!(!optimize(plan).contains("partition_fetch"));
        let plan = ranked(WindowFunctionKind::RowNumber)
            .filter(col("rn").gt_eq(lit(3i64)))
            .unwrap()
            .build();
        assert!(!optimize(plan).contains("partition_fetch"));
    }

    #[test]
    fn a_lower_bound_skips_rows_for_row_number_and_rank_only() {
        let plan = ranked(WindowFunctionKind::Rank)
            .filter(
                col("rn")
                    .gt_eq(lit(500i64))
                    .and(col("rn").lt_eq(lit(510i64))),
            )
            .unwrap()
            .build();
        assert_snapshot!(optimize(plan), @r"
        Filter: ((rn >= 500) AND (rn <= 510))
          Window: rank() OVER (PARTITION BY T0.name ORDER BY T0.age DESC NULLS FIRST) AS rn, partition_fetch=500..=510 with ties
            Scan: author AS T0
        ");
        // `= k` is both bounds; `> k` skips k positions.
        let plan = ranked(WindowFunctionKind::RowNumber)
            .filter(col("rn").eq(lit(7i64)))
            .unwrap()
            .build();
        assert!(optimize(plan).contains("partition_fetch=7..=7\n"));
        let plan = ranked(WindowFunctionKind::RowNumber)
            .filter(col("rn").gt(lit(7i64)).and(col("rn").lt(lit(20i64))))
            .unwrap()
            .build();
        assert!(optimize(plan).contains("partition_fetch=8..=19"));
        // Extreme bounds neither overflow nor skip anything.
        let plan = ranked(WindowFunctionKind::Rank)
            .filter(
                col("rn")
                    .gt_eq(lit(i64::MIN))
                    .and(col("rn").lt(lit(i64::MIN))),
            )
            .unwrap()
            .build();
        assert!(!optimize(plan).contains("partition_fetch"));
        // A lower bound alone fetches nothing.
        let plan = ranked(WindowFunctionKind::Rank)
            .filter(col("rn").gt_eq(lit(500i64)))
            .unwrap()
            .build();
        assert!(!optimize(plan).contains("partition_fetch"));
        // dense_rank beside the ranked column keeps every row before the range.
        let mut call = WindowFunction::new(WindowFunctionKind::Rank, vec![]);
        call.order_by = vec![qualified_col("T0", "age").sort_desc()];
        let mut dense = call.clone();
        dense.fun = WindowFunctionKind::DenseRank;
        let plan = author_scan()
            .window(vec![
                Expr::from(call).alias("rk"),
                Expr::from(dense).alias("dr"),
            ])
            .unwrap()
            .filter(col("rk").gt_eq(lit(5i64)).and(col("rk").lt_eq(lit(9i64))))
            .unwrap()
            .build();
        let optimized = optimize(plan);
        assert!(
            optimized.contains("partition_fetch=9 with ties"),
            "{optimized}"
        );
    }
}
