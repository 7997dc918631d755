//! [`PushDownFilter`]: moves predicates as close to the data as they may go, so fewer rows
//! flow through joins and aggregates, and predicates reach the scan, where they can skip
//! whole chunks.
//!
//! ```text
//! before                                          after
//! Filter: ((T1.pages > 100) AND (T0.id = T1.author_id))
//!   Join: Left, on=[]                              Join: Inner, on=[T0.id = T1.author_id]
//!     Scan: author AS T0                             Scan: author AS T0
//!     Scan: book AS T1                               Scan: book AS T1 filters=[(T1.pages > 100)]
//! ```
//!
//! A Filter's conjunction is split and each conjunct goes down separately: through
//! projections (with the projected expressions substituted for their aliases, unless they are
//! volatile), sorts, DISTINCT and subquery aliases; into an aggregate when it uses only
//! grouping columns; into the sides of a join where that keeps the join's meaning; and finally
//! into `Scan.filters`. Nothing moves below a Limit or a TopK, which keep a number of rows
//! that a filter below would change.
//!
//! Joins: an inner join takes a predicate into whichever side it reads, and a cross-side
//! equality becomes a join key. A cross-side disjunction whose every branch restricts one side
//! (`(n1.name = 'FRANCE' AND n2.name = 'GERMANY') OR (n1.name = 'GERMANY' AND …)`) also
//! sends that side what it implies (`n1.name = 'FRANCE' OR n1.name = 'GERMANY'`), and itself
//! becomes the join's condition, so it is derived from once. An outer join only takes predicates on its preserved side;
//! but a predicate above it that can never be TRUE on a NULL-extended row (it *rejects
//! nulls*: `T1.pages > 100` is NULL when T1's columns are NULL) removes exactly the rows the
//! outer join added, so the join is turned into an inner one first. That is what lets Django's
//! `filter(publisher__name=…)` over a nullable foreign key run as an inner join. Conjuncts of
//! a join's own ON condition move into the side whose rows they restrict where the join type
//! allows it (the right side of a LEFT join, either side of an inner or semi join).

use std::sync::Arc;

use super::utils::{is_volatile, with_filter};
use super::OptimizerRule;
use crate::error::Result;
use crate::expr::type_coercion::comparison_common_type;
use crate::expr::{BinaryExpr, Column, Expr, Operator, ScalarFunction, Transformed};
use crate::logical_plan::{
    Aggregate, Distinct, Join, JoinType, LogicalPlan, PlanSchema, Projection, Scan, Sort,
    SubqueryAlias, Window,
};

/// Predicate push-down; see the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct PushDownFilter;

impl OptimizerRule for PushDownFilter {
    fn name(&self) -> &'static str {
        "push_down_filter"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
        optimize(&plan)
    }
}

/// Pushes every Filter of `plan` down as far as it may go.
fn optimize(plan: &Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
    match plan.as_ref() {
        LogicalPlan::Filter(filter) => {
            let t = push_into(&filter.input, filter.predicate.clone().split_conjunction())?;
            // Unchanged means the same predicates over the same input: keep the original
            // node rather than a re-associated copy of its conjunction.
            if t.transformed {
                Ok(t)
            } else {
                Ok(Transformed::no(Arc::clone(plan)))
            }
        }
        LogicalPlan::Join(join) => push_into_join(plan, join, vec![]),
        _ => optimize_inputs(plan),
    }
}

fn optimize_inputs(plan: &Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
    let mut changed = false;
    let mut inputs = Vec::new();
    for input in plan.inputs() {
        let t = optimize(input)?;
        changed |= t.transformed;
        inputs.push(t.data);
    }
    if !changed {
        return Ok(Transformed::no(Arc::clone(plan)));
    }
    Ok(Transformed::yes(Arc::new(plan.with_new_inputs(inputs)?)))
}

/// Applies `predicates` to `plan`, placing each as deep as it may go. Reports no change when
/// the result is just a Filter of `predicates` over an unchanged `plan`.
fn push_into(
    plan: &Arc<LogicalPlan>,
    predicates: Vec<Expr>,
) -> Result<Transformed<Arc<LogicalPlan>>> {
    match plan.as_ref() {
        // A join also has its own ON condition to push, predicates or not.
        LogicalPlan::Join(join) => push_into_join(plan, join, predicates),
        _ if predicates.is_empty() => optimize(plan),
        LogicalPlan::Filter(inner) => {
            let mut all = predicates;
            all.extend(inner.predicate.clone().split_conjunction());
            // Two filters merged into one is a change even if nothing moves further.
            Ok(Transformed::yes(push_into(&inner.input, all)?.data))
        }
        LogicalPlan::Projection(projection) => {
            let (below, above) = partition_map(predicates, |p| through_projection(p, projection));
            if below.is_empty() {
                return keep_above(plan, above);
            }
            let input = push_into(&projection.input, below)?.data;
            let node = Projection::try_new(input, projection.exprs.clone())?;
            Ok(Transformed::yes(with_filter(
                Arc::new(LogicalPlan::Projection(node)),
                above,
            )?))
        }
        LogicalPlan::Sort(sort) if sort.fetch.is_none() => {
            let input = push_into(&sort.input, predicates)?.data;
            Ok(Transformed::yes(Arc::new(LogicalPlan::Sort(Sort {
                input,
                exprs: sort.exprs.clone(),
                fetch: None,
            }))))
        }
        // Rows that are equal satisfy a predicate alike, so filtering before or after
        // removing duplicates keeps the same rows.
        LogicalPlan::Distinct(distinct) => {
            let input = push_into(&distinct.input, predicates)?.data;
            Ok(Transformed::yes(Arc::new(LogicalPlan::Distinct(
                Distinct { input },
            ))))
        }
        LogicalPlan::SubqueryAlias(alias) => {
            let (below, above) = partition_map(predicates, |p| through_alias(p, alias));
            if below.is_empty() {
                return keep_above(plan, above);
            }
            let input = push_into(&alias.input, below)?.data;
            let node = SubqueryAlias::new(input, alias.alias.clone());
            Ok(Transformed::yes(with_filter(
                Arc::new(LogicalPlan::SubqueryAlias(node)),
                above,
            )?))
        }
        LogicalPlan::Aggregate(aggregate) => {
            let (below, above) = partition_map(predicates, |p| through_aggregate(p, aggregate));
            if below.is_empty() {
                return keep_above(plan, above);
            }
            let input = push_into(&aggregate.input, below)?.data;
            let node = Aggregate::try_new(
                input,
                aggregate.group_exprs.clone(),
                aggregate.aggr_exprs.clone(),
            )?;
            Ok(Transformed::yes(with_filter(
                Arc::new(LogicalPlan::Aggregate(node)),
                above,
            )?))
        }
        LogicalPlan::Scan(scan) => {
            let (below, above): (Vec<Expr>, Vec<Expr>) = predicates.into_iter().partition(|p| {
                // A subquery predicate stays in a Filter, where decorrelation finds it.
                !p.contains_subquery() && p.column_refs().iter().all(|c| scan.schema.has_column(c))
            });
            if below.is_empty() {
                return keep_above(plan, above);
            }
            let mut filters = scan.filters.clone();
            for p in below {
                if !filters.contains(&p) {
                    filters.push(p);
                }
            }
            let node = Scan {
                filters,
                ..scan.clone()
            };
            Ok(Transformed::yes(with_filter(
                Arc::new(LogicalPlan::Scan(node)),
                above,
            )?))
        }
        // Only a predicate on columns every window partitions by keeps or drops whole
        // partitions, so it cannot change any window's value; anything else stays above.
        LogicalPlan::Window(window) => {
            let (below, above): (Vec<Expr>, Vec<Expr>) = predicates
                .into_iter()
                .partition(|p| through_window(p, window));
            if below.is_empty() {
                return keep_above(plan, above);
            }
            let input = push_into(&window.input, below)?.data;
            let node = window.with_input(input)?;
            Ok(Transformed::yes(with_filter(
                Arc::new(LogicalPlan::Window(node)),
                above,
            )?))
        }
        // A Limit or TopK keeps a number of rows; filtering below it would keep others.
        LogicalPlan::Sort(_) | LogicalPlan::Limit(_) | LogicalPlan::Values(_) => {
            keep_above(plan, predicates)
        }
        // Set operations and CTEs are boundaries (a filter could move into each input of a
        // UNION, but plans of that shape are rare from the ORM).
        LogicalPlan::DistinctOn(_)
        | LogicalPlan::Union(_)
        | LogicalPlan::Intersect(_)
        | LogicalPlan::Except(_)
        | LogicalPlan::Cte(_)
        | LogicalPlan::RecursiveQuery(_)
        | LogicalPlan::WorkTable(_) => keep_above(plan, predicates),
    }
}

/// A Filter of `predicates` directly over `plan`, with `plan`'s own subtree optimized.
fn keep_above(
    plan: &Arc<LogicalPlan>,
    predicates: Vec<Expr>,
) -> Result<Transformed<Arc<LogicalPlan>>> {
    let input = optimize(plan)?;
    Ok(Transformed {
        data: with_filter(input.data, predicates)?,
        transformed: input.transformed,
    })
}

/// Splits `predicates` into those `f` rewrites for the input (`Some`) and those that stay.
fn partition_map(
    predicates: Vec<Expr>,
    mut f: impl FnMut(&Expr) -> Option<Expr>,
) -> (Vec<Expr>, Vec<Expr>) {
    let mut below = Vec::new();
    let mut above = Vec::new();
    for p in predicates {
        match f(&p) {
            Some(rewritten) => below.push(rewritten),
            None => above.push(p),
        }
    }
    (below, above)
}

/// Rewrites every column of `predicate` with `f`; `None` when `f` refuses one.
fn substitute(predicate: &Expr, mut f: impl FnMut(&Column) -> Option<Expr>) -> Option<Expr> {
    let mut ok = true;
    let rewritten = predicate
        .clone()
        .replace_columns(&mut |c| {
            let replacement = f(c);
            ok &= replacement.is_some();
            replacement
        })
        .ok()?;
    ok.then_some(rewritten)
}

/// The predicate over the projection's input: output columns replaced by the expressions
/// that compute them.
fn through_projection(predicate: &Expr, projection: &Projection) -> Option<Expr> {
    substitute(predicate, |c| {
        let i = projection.schema.maybe_index_of_column(c).ok()??;
        let expr = projection.exprs[i].clone().unalias();
        (!is_volatile(&expr)).then_some(expr)
    })
}

/// The predicate over the alias's input: same positions, the input's qualifiers.
fn through_alias(predicate: &Expr, alias: &SubqueryAlias) -> Option<Expr> {
    substitute(predicate, |c| {
        let i = alias.schema.maybe_index_of_column(c).ok()??;
        Some(Expr::Column(alias.input.schema().field(i).column()))
    })
}

/// Whether `predicate` reads only columns that every window expression of `window`
/// partitions by (so it may run below the window unchanged).
fn through_window(predicate: &Expr, window: &Window) -> bool {
    let columns = predicate.column_refs();
    !columns.is_empty()
        && !is_volatile(predicate)
        && columns.iter().all(|c| {
            window
                .window_exprs
                .iter()
                .all(|w| match w.clone().unalias() {
                    Expr::WindowFunction(call) => call
                        .partition_by
                        .iter()
                        .any(|key| matches!(key, Expr::Column(k) if k == c)),
                    _ => false,
                })
        })
}

/// The predicate over the aggregate's input, when it reads grouping columns only (each group
/// is then kept or dropped whole). A predicate without columns stays: over no groups an
/// aggregate without GROUP BY still returns its one row.
fn through_aggregate(predicate: &Expr, aggregate: &Aggregate) -> Option<Expr> {
    if predicate.column_refs().is_empty() {
        return None;
    }
    substitute(predicate, |c| {
        let i = aggregate.schema.maybe_index_of_column(c).ok()??;
        let group = aggregate.group_exprs.get(i)?.clone().unalias();
        (!is_volatile(&group)).then_some(group)
    })
}

/// Which join input a predicate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    None,
    Left,
    Right,
    Both,
}

fn side_of(predicate: &Expr, left: &PlanSchema, right: &PlanSchema) -> Side {
    let (mut reads_left, mut reads_right) = (false, false);
    for c in predicate.column_refs() {
        if left.has_column(&c) {
            reads_left = true;
        } else if right.has_column(&c) {
            reads_right = true;
        } else {
            // Resolves in neither (an outer reference): it cannot move into either side.
            return Side::Both;
        }
    }
    match (reads_left, reads_right) {
        (false, false) => Side::None,
        (true, false) => Side::Left,
        (false, true) => Side::Right,
        (true, true) => Side::Both,
    }
}

/// `l = r` with `l` over one input and `r` over the other, as a `(left, right)` key pair.
fn as_join_key(predicate: &Expr, left: &PlanSchema, right: &PlanSchema) -> Option<(Expr, Expr)> {
    let Expr::BinaryExpr(BinaryExpr {
        left: a,
        op: Operator::Eq,
        right: b,
    }) = predicate
    else {
        return None;
    };
    let (l, r) = match (side_of(a, left, right), side_of(b, left, right)) {
        (Side::Left, Side::Right) => (a.as_ref().clone(), b.as_ref().clone()),
        (Side::Right, Side::Left) => (b.as_ref().clone(), a.as_ref().clone()),
        _ => return None,
    };
    let comparable = match (l.data_type(left), r.data_type(right)) {
        (Ok(lt), Ok(rt)) => comparison_common_type(&lt, &rt).is_some(),
        _ => false,
    };
    (comparable && !is_volatile(&l) && !is_volatile(&r)).then_some((l, r))
}

/// Pushes `predicates` (from a Filter above) and the join's own ON conjuncts into its inputs.
fn push_into_join(
    plan: &Arc<LogicalPlan>,
    join: &Join,
    predicates: Vec<Expr>,
) -> Result<Transformed<Arc<LogicalPlan>>> {
    let (left_schema, right_schema) = (join.left.schema(), join.right.schema());

    // Predicates above that reject the NULL-extended rows of an outer join make it inner
    // (or, for a FULL join, preserve only the other side).
    let rejects = |side: &PlanSchema| predicates.iter().any(|p| rejects_nulls(p, side));
    let join_type = match join.join_type {
        JoinType::Left if rejects(right_schema) => JoinType::Inner,
        JoinType::Right if rejects(left_schema) => JoinType::Inner,
        JoinType::Full => match (rejects(left_schema), rejects(right_schema)) {
            (true, true) => JoinType::Inner,
            (true, false) => JoinType::Left,
            (false, true) => JoinType::Right,
            (false, false) => JoinType::Full,
        },
        other => other,
    };
    let mut changed = join_type != join.join_type;

    let mut left_predicates = Vec::new();
    let mut right_predicates = Vec::new();
    let mut on = join.on.clone();
    let mut above = Vec::new();
    let mut join_filter = Vec::new();

    // Conjuncts of the ON condition. A conjunct on the side whose unmatched rows the join
    // preserves must stay in the ON condition (it decides matching, not which rows survive).
    let (on_left, on_right) = match join_type {
        JoinType::Inner | JoinType::LeftSemi | JoinType::RightSemi => (true, true),
        // A mark join keeps every left row: the ON condition only decides the mark.
        JoinType::Left | JoinType::LeftAnti | JoinType::LeftMark => (false, true),
        JoinType::Right | JoinType::RightAnti => (true, false),
        JoinType::Full => (false, false),
    };
    for conjunct in join
        .filter
        .clone()
        .map(Expr::split_conjunction)
        .unwrap_or_default()
    {
        match side_of(&conjunct, left_schema, right_schema) {
            Side::Left if on_left => left_predicates.push(conjunct),
            Side::Right if on_right => right_predicates.push(conjunct),
            _ => match as_join_key(&conjunct, left_schema, right_schema) {
                // NULL keys never match, exactly as `=` in an ON condition never holds.
                Some(key) => on.push(key),
                None => {
                    join_filter.push(conjunct);
                    continue;
                }
            },
        }
        changed = true;
    }

    // Predicates from a Filter above the join.
    let (above_left, above_right) = match join_type {
        JoinType::Inner => (true, true),
        JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => {
            (true, false)
        }
        JoinType::Right | JoinType::RightSemi | JoinType::RightAnti => (false, true),
        JoinType::Full => (false, false),
    };
    for predicate in predicates {
        match side_of(&predicate, left_schema, right_schema) {
            Side::Left if above_left => left_predicates.push(predicate),
            Side::Right if above_right => right_predicates.push(predicate),
            Side::Both if join_type == JoinType::Inner => {
                match as_join_key(&predicate, left_schema, right_schema) {
                    Some(key) => on.push(key),
                    None => {
                        let implied = |schema| implied_by(&predicate, schema);
                        match (implied(left_schema), implied(right_schema)) {
                            (None, None) => {
                                above.push(predicate);
                                continue;
                            }
                            (left, right) => {
                                left_predicates.extend(left);
                                right_predicates.extend(right);
                                // In the join's own condition it is not derived from again.
                                join_filter.push(predicate);
                            }
                        }
                    }
                }
            }
            _ => {
                above.push(predicate);
                continue;
            }
        }
        changed = true;
    }

    if !changed {
        let t = optimize_inputs(plan)?;
        return Ok(Transformed {
            data: with_filter(t.data, above)?,
            transformed: t.transformed,
        });
    }
    let left = push_into(&join.left, left_predicates)?.data;
    let right = push_into(&join.right, right_predicates)?.data;
    let node = Join::try_new(left, right, on, Expr::conjunction(join_filter), join_type)?;
    Ok(Transformed::yes(with_filter(
        Arc::new(LogicalPlan::Join(node)),
        above,
    )?))
}

/// A predicate over `side`'s columns alone that holds wherever `predicate` holds, derived
/// from a disjunction whose every branch restricts `side`: from TPC-H q7's
/// `(n1.name = 'FRANCE' AND n2.name = 'GERMANY') OR (n1.name = 'GERMANY' AND n2.name =
/// 'FRANCE')`, `n1.name = 'FRANCE' OR n1.name = 'GERMANY'` for `n1`'s side. `None` when
/// `predicate` is no such disjunction (or reads anything volatile or outside the plan).
/// The original stays where it is; the derived one only lets the side drop rows early.
fn implied_by(predicate: &Expr, side: &PlanSchema) -> Option<Expr> {
    if !matches!(
        predicate,
        Expr::BinaryExpr(BinaryExpr {
            op: Operator::Or,
            ..
        })
    ) || is_volatile(predicate)
    {
        return None;
    }
    implied_on(predicate, side)
}

fn implied_on(predicate: &Expr, side: &PlanSchema) -> Option<Expr> {
    match predicate {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => Some(implied_on(left, side)?.or(implied_on(right, side)?)),
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) => match (implied_on(left, side), implied_on(right, side)) {
            (Some(l), Some(r)) => Some(l.and(r)),
            (one, other) => one.or(other),
        },
        other => {
            let columns = other.column_refs();
            (!columns.is_empty()
                && !other.contains_subquery()
                && columns.iter().all(|c| side.has_column(c)))
            .then(|| other.clone())
        }
    }
}

/// True when `predicate` is never TRUE on a row whose `side` columns are all NULL.
fn rejects_nulls(predicate: &Expr, side: &PlanSchema) -> bool {
    match predicate {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) => rejects_nulls(left, side) || rejects_nulls(right, side),
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => rejects_nulls(left, side) && rejects_nulls(right, side),
        // NOT NULL is NULL; x IS NOT NULL is FALSE for a NULL x.
        Expr::Not(inner) | Expr::IsNotNull(inner) => null_when_side_null(inner, side),
        other => null_when_side_null(other, side),
    }
}

/// True when `expr` is NULL whenever every column of `side` is NULL.
fn null_when_side_null(expr: &Expr, side: &PlanSchema) -> bool {
    let strict = |e: &Expr| null_when_side_null(e, side);
    match expr {
        Expr::Column(c) => side.has_column(c),
        Expr::Literal(v) => v.is_null(),
        Expr::BinaryExpr(b) => match b.op {
            Operator::IsDistinctFrom | Operator::IsNotDistinctFrom => false,
            // NULL AND FALSE is FALSE, NULL OR TRUE is TRUE.
            Operator::And | Operator::Or => strict(&b.left) && strict(&b.right),
            _ => strict(&b.left) || strict(&b.right),
        },
        Expr::Not(e) | Expr::Negative(e) => strict(e),
        Expr::Cast(c) => strict(&c.expr),
        // `NULL IN ()` is FALSE, not NULL.
        Expr::InList(i) => !i.list.is_empty() && strict(&i.expr),
        Expr::Like(l) => strict(&l.expr) || strict(&l.pattern),
        Expr::RegexMatch(r) => strict(&r.expr) || strict(&r.pattern),
        Expr::ScalarFunction(f) => match f.func {
            ScalarFunction::Coalesce | ScalarFunction::Greatest | ScalarFunction::Least => {
                f.args.iter().all(strict)
            }
            // Django's Concat treats NULL as an empty string.
            ScalarFunction::Concat => false,
            ScalarFunction::NullIf => f.args.first().is_some_and(strict),
            _ => f.args.iter().any(strict),
        },
        Expr::Alias(a) => strict(&a.expr),
        Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::Case(_)
        | Expr::Aggregate(_)
        | Expr::WindowFunction(_)
        | Expr::OuterColumn(_)
        | Expr::ScalarSubquery(_)
        | Expr::Exists(_)
        | Expr::InSubquery(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;

    use super::*;
    use crate::expr::{lit, qualified_col, AggregateExpr, AggregateFunction};
    use crate::logical_plan::LogicalPlanBuilder;
    use crate::optimizer::utils::fixtures::{author_scan, book_scan, optimize_with};

    fn t0(name: &str) -> Expr {
        qualified_col("T0", name)
    }
    fn t1(name: &str) -> Expr {
        qualified_col("T1", name)
    }

    fn author_book(join_type: JoinType) -> LogicalPlanBuilder {
        author_scan()
            .join(
                book_scan().build(),
                join_type,
                vec![(t0("id"), t1("author_id"))],
                None,
            )
            .unwrap()
    }

    #[test]
    fn into_scan_through_projection_and_sort() {
        let plan = author_scan()
            .project(vec![t0("id"), (t0("age") + lit(1i32)).alias("next_age")])
            .unwrap()
            .sort(vec![t0("id").sort_asc()])
            .unwrap()
            .filter(
                qualified_col("T0", "id")
                    .gt(lit(3i64))
                    .and(Expr::Column(Column::new("next_age")).lt(lit(40i32))),
            )
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PushDownFilter, plan), @r"
        Sort: T0.id ASC NULLS LAST
          Projection: T0.id, (T0.age + 1) AS next_age
            Scan: author AS T0 filters=[(T0.id > 3), ((T0.age + 1) < 40)]
        ");
    }

    #[test]
    fn merges_filters_and_stops_at_limits() {
        let plan = author_scan()
            .filter(t0("age").gt(lit(20i32)))
            .unwrap()
            .limit(0, Some(5))
            .filter(t0("id").gt(lit(1i64)))
            .unwrap()
            .filter(t0("name").not_eq(lit("x")))
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PushDownFilter, plan), @r"
        Filter: ((T0.name <> 'x') AND (T0.id > 1))
          Limit: skip=0, fetch=5
            Scan: author AS T0 filters=[(T0.age > 20)]
        ");

        let top_k = Arc::new(LogicalPlan::Sort(Sort {
            input: author_scan().build(),
            exprs: vec![t0("age").sort_desc()],
            fetch: Some(3),
        }));
        let plan = LogicalPlanBuilder::from(top_k)
            .filter(t0("id").gt(lit(1i64)))
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PushDownFilter, plan), @r"
        Filter: (T0.id > 1)
          TopK: fetch=3, T0.age DESC NULLS FIRST
            Scan: author AS T0
        ");
    }

    #[test]
    fn into_aggregate_only_on_group_columns() {
        let count = Expr::from(AggregateExpr::new(AggregateFunction::Count, vec![])).alias("n");
        let plan = author_scan()
            .aggregate(vec![t0("age")], vec![count])
            .unwrap()
            .filter(
                t0("age")
                    .gt(lit(21i32))
                    .and(Expr::Column(Column::new("n")).gt(lit(1i64))),
            )
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PushDownFilter, plan), @r"
        Filter: (n > 1)
          Aggregate: groupBy=[T0.age], aggr=[count(*) AS n]
            Scan: author AS T0 filters=[(T0.age > 21)]
        ");

        // Without GROUP BY a constant predicate decides whether the single row exists.
        let count = Expr::from(AggregateExpr::new(AggregateFunction::Count, vec![]));
        let plan = author_scan()
            .aggregate(vec![], vec![count])
            .unwrap()
            .filter(lit(false))
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PushDownFilter, plan), @r"
        Filter: false
          Aggregate: groupBy=[], aggr=[count(*)]
            Scan: author AS T0
        ");
    }

    #[test]
    fn through_subquery_alias() {
        let plan = author_scan()
            .alias("sub")
            .filter(qualified_col("sub", "age").is_null())
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PushDownFilter, plan), @r"
        SubqueryAlias: sub
          Scan: author AS T0 filters=[T0.age IS NULL]
        ");
    }

    #[test]
    fn inner_join_sides_and_keys() {
        let plan = author_scan()
            .join(book_scan().build(), JoinType::Inner, vec![], None)
            .unwrap()
            .filter(
                t0("age")
                    .gt(lit(30i32))
                    .and(t1("pages").lt(lit(500i32)))
                    .and(t1("author_id").eq(t0("id")))
                    .and(t1("pages").gt(t0("age"))),
            )
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PushDownFilter, plan), @r"
        Filter: (T1.pages > T0.age)
          Join: Inner, on=[T0.id = T1.author_id]
            Scan: author AS T0 filters=[(T0.age > 30)]
            Scan: book AS T1 filters=[(T1.pages < 500)]
        ");
    }

    #[test]
    fn disjunctions_send_each_side_what_they_imply() {
        // TPC-H q7's shape: every branch restricts both sides, so each side gets the OR of
        // its own restrictions, and the whole condition stays on the join.
        let plan = author_book(JoinType::Inner)
            .filter(
                t0("age")
                    .eq(lit(30i32))
                    .and(t1("pages").eq(lit(100i32)))
                    .or(t0("age").eq(lit(40i32)).and(t1("pages").gt(lit(200i32)))),
            )
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PushDownFilter, plan), @r"
        Join: Inner, on=[T0.id = T1.author_id], filter=(((T0.age = 30) AND (T1.pages = 100)) OR ((T0.age = 40) AND (T1.pages > 200)))
          Scan: author AS T0 filters=[((T0.age = 30) OR (T0.age = 40))]
          Scan: book AS T1 filters=[((T1.pages = 100) OR (T1.pages > 200))]
        ");
        // A branch that does not restrict a side implies nothing for it.
        let plan = author_book(JoinType::Inner)
            .filter(
                t0("age")
                    .eq(lit(30i32))
                    .and(t1("pages").eq(lit(100i32)))
                    .or(t0("age").eq(lit(40i32))),
            )
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PushDownFilter, plan), @r"
        Join: Inner, on=[T0.id = T1.author_id], filter=(((T0.age = 30) AND (T1.pages = 100)) OR (T0.age = 40))
          Scan: author AS T0 filters=[((T0.age = 30) OR (T0.age = 40))]
          Scan: book AS T1
        ");
        // Outer joins are left alone.
        let plan = author_book(JoinType::Full)
            .filter(t0("age").eq(lit(30i32)).or(t1("pages").eq(lit(100i32))))
            .unwrap()
            .build();
        let before = plan.to_string();
        assert_eq!(optimize_with(PushDownFilter, plan), before);
    }

    #[test]
    fn left_join_keeps_right_predicates_that_accept_nulls() {
        let plan = author_book(JoinType::Left)
            .filter(t0("age").gt(lit(30i32)).and(t1("id").is_null()))
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PushDownFilter, plan), @r"
        Filter: T1.id IS NULL
          Join: Left, on=[T0.id = T1.author_id]
            Scan: author AS T0 filters=[(T0.age > 30)]
            Scan: book AS T1
        ");
    }

    #[test]
    fn left_join_becomes_inner_under_a_null_rejecting_predicate() {
        let plan = author_book(JoinType::Left)
            .filter(t1("title").eq(lit("Dune")))
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PushDownFilter, plan), @r"
        Join: Inner, on=[T0.id = T1.author_id]
          Scan: author AS T0
          Scan: book AS T1 filters=[(T1.title = 'Dune')]
        ");

        // An OR is null-rejecting only if both branches are.
        let plan = author_book(JoinType::Left)
            .filter(t1("pages").gt(lit(1i32)).or(t0("age").gt(lit(1i32))))
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PushDownFilter, plan), @r"
        Filter: ((T1.pages > 1) OR (T0.age > 1))
          Join: Left, on=[T0.id = T1.author_id]
            Scan: author AS T0
            Scan: book AS T1
        ");
    }

    #[test]
    fn right_and_full_joins() {
        let plan = author_book(JoinType::Right)
            .filter(t1("pages").gt(lit(1i32)).and(t0("name").is_null()))
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PushDownFilter, plan), @r"
        Filter: T0.name IS NULL
          Join: Right, on=[T0.id = T1.author_id]
            Scan: author AS T0
            Scan: book AS T1 filters=[(T1.pages > 1)]
        ");

        // Rejecting NULLs on the left removes the right-only rows: FULL becomes LEFT.
        let plan = author_book(JoinType::Full)
            .filter(t0("age").gt(lit(1i32)))
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PushDownFilter, plan), @r"
        Join: Left, on=[T0.id = T1.author_id]
          Scan: author AS T0 filters=[(T0.age > 1)]
          Scan: book AS T1
        ");
    }

    #[test]
    fn semi_and_anti_joins_take_left_predicates_only() {
        let plan = author_scan()
            .join(
                book_scan().build(),
                JoinType::LeftAnti,
                vec![(t0("id"), t1("author_id"))],
                Some(t1("pages").gt(lit(100i32)).and(t0("age").gt(lit(3i32)))),
            )
            .unwrap()
            .filter(t0("name").eq(lit("x")))
            .unwrap()
            .build();
        // The ON conjunct on the anti join's left side decides matching: it must stay.
        assert_snapshot!(optimize_with(PushDownFilter, plan), @r"
        Join: LeftAnti, on=[T0.id = T1.author_id], filter=(T0.age > 3)
          Scan: author AS T0 filters=[(T0.name = 'x')]
          Scan: book AS T1 filters=[(T1.pages > 100)]
        ");
    }

    #[test]
    fn left_join_on_conditions() {
        let plan = author_scan()
            .join(
                book_scan().build(),
                JoinType::Left,
                vec![],
                Some(
                    t0("id")
                        .eq(t1("author_id"))
                        .and(t1("pages").gt(lit(100i32)))
                        .and(t0("age").gt(lit(3i32))),
                ),
            )
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PushDownFilter, plan), @r"
        Join: Left, on=[T0.id = T1.author_id], filter=(T0.age > 3)
          Scan: author AS T0
          Scan: book AS T1 filters=[(T1.pages > 100)]
        ");
    }

    #[test]
    fn nothing_to_do_is_no_change() {
        let plan = author_book(JoinType::Left)
            .filter(t1("id").is_null().or(t0("age").gt(lit(1i32))))
            .unwrap()
            .build();
        let t = PushDownFilter.rewrite(Arc::clone(&plan)).unwrap();
        assert!(!t.transformed);
        assert!(Arc::ptr_eq(&t.data, &plan));
    }

    #[test]
    fn null_rejection() {
        let scan = book_scan().build();
        let side = scan.schema();
        assert!(rejects_nulls(&t1("pages").gt(lit(1i32)), side));
        assert!(rejects_nulls(&t1("pages").is_not_null(), side));
        let like = Expr::Like(crate::expr::Like {
            expr: Box::new(t1("title")),
            pattern: Box::new(lit("a%")),
            negated: false,
            case_insensitive: false,
        });
        assert!(rejects_nulls(&like.not(), side));
        assert!(!rejects_nulls(&t1("pages").is_null(), side));
        assert!(!rejects_nulls(
            &Expr::BinaryExpr(BinaryExpr {
                left: Box::new(t1("pages")),
                op: Operator::IsDistinctFrom,
                right: Box::new(lit(1i32)),
            }),
            side
        ));
        assert!(!rejects_nulls(&t1("pages").in_list(vec![], false), side));
        assert!(!rejects_nulls(&t0("age").gt(lit(1i32)), side));
        let coalesce = Expr::ScalarFunction(crate::expr::ScalarFunctionExpr {
            func: ScalarFunction::Coalesce,
            args: vec![t1("pages"), lit(0i32)],
        });
        assert!(!rejects_nulls(&coalesce.gt(lit(1i32)), side));
    }

    #[test]
    fn only_partition_key_predicates_go_below_a_window() {
        use crate::expr::{WindowFunction, WindowFunctionKind};
        let mut rank = WindowFunction::new(WindowFunctionKind::Rank, vec![]);
        rank.partition_by = vec![t0("name")];
        rank.order_by = vec![t0("age").sort_desc()];
        let plan = author_scan()
            .window(vec![Expr::from(rank).alias("r")])
            .unwrap()
            .filter(
                t0("name")
                    .eq(lit("Ann"))
                    .and(t0("age").gt(lit(30i32)))
                    .and(crate::expr::col("r").lt_eq(lit(2i64))),
            )
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PushDownFilter, plan), @r"
        Filter: ((T0.age > 30) AND (r <= 2))
          Window: rank() OVER (PARTITION BY T0.name ORDER BY T0.age DESC NULLS FIRST) AS r
            Scan: author AS T0 filters=[(T0.name = 'Ann')]
        ");
    }
}
