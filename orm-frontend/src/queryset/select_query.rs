//! [`SelectQuery`]: one resolved SELECT, and how it becomes operators.
//!
//! The compiler resolves a QuerySet into a `SelectQuery`: expressions over the FROM clause's
//! rows (WHERE and HAVING conditions, the output columns, ORDER BY keys) plus what to group
//! by. [`assemble`] builds the plan in SQL's logical order — Filter (WHERE) → Aggregate →
//! Filter (HAVING) → Projection → Distinct → Sort → Limit — collecting every aggregate call
//! into the Aggregate node once and rewriting the expressions above it to read the
//! Aggregate's output columns. [`group_by_rule`] is the one place that decides the GROUP BY.

use std::sync::Arc;

use quiver_engine::expr::Transformed;
use quiver_engine::{col, Expr, LogicalPlan, LogicalPlanBuilder, SortExpr};

use crate::error::Result;

/// Everything one SELECT computes, resolved, before operators are built. Expressions are over
/// the FROM clause's rows and may contain aggregates.
#[derive(Debug)]
pub(crate) struct SelectQuery {
    pub where_: Vec<Expr>,
    pub having: Vec<Expr>,
    /// Output name and expression, in output order.
    pub select: Vec<(String, Expr)>,
    /// `None`: no aggregation; `Some(vec![])`: one group over all rows.
    pub group_by: Option<Vec<Expr>>,
    pub order: Vec<SortExpr>,
    pub distinct: bool,
    pub offset: usize,
    pub limit: Option<usize>,
}

impl SelectQuery {
    /// A one-row aggregation of `select` over the rows matching `where_`.
    pub fn aggregate(where_: Vec<Expr>, select: Vec<(String, Expr)>) -> SelectQuery {
        SelectQuery {
            where_,
            having: vec![],
            select,
            group_by: Some(vec![]),
            order: vec![],
            distinct: false,
            offset: 0,
            limit: None,
        }
    }
}

/// THE GROUP BY RULE (SEMANTICS.md, "Aggregation and grouping"), in one place.
///
/// `base` is what the QuerySet asked to group by: the `values()` that preceded the first
/// aggregate `annotate()` (and the non-aggregate annotations selected with them), or — for an
/// aggregate annotated on model rows — the model's columns (its primary key determines the
/// rest, so grouping by all of them splits nothing; it is what Django emits on backends
/// without functional-dependency grouping). To that, as Django's
/// `SQLCompiler.get_group_by` does, every non-aggregate part of the SELECT list, of the
/// explicit ORDER BY (so ordering by a column that is not grouped splits groups) and of the
/// HAVING clause is added, since each must be computable per group. `values()` applied after
/// the aggregate only changes the SELECT list, so it does not regroup model rows. The model's
/// `Meta.ordering` never reaches here: the compiler drops it for grouped queries.
pub(crate) fn group_by_rule(
    base: Vec<Expr>,
    select: &[(String, Expr)],
    order: &[SortExpr],
    having: &[Expr],
) -> Vec<Expr> {
    let mut out = base;
    for (_, e) in select {
        group_by_parts(e, &mut out);
    }
    for key in order {
        group_by_parts(&key.expr, &mut out);
    }
    for condition in having {
        group_by_parts(condition, &mut out);
    }
    let mut unique: Vec<Expr> = Vec::with_capacity(out.len());
    for e in out {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    unique
}

/// Django's `get_group_by_cols()`: a non-aggregate expression groups as a whole (constants
/// not at all); inside an expression that contains aggregates, only the non-aggregate parts.
fn group_by_parts(expr: &Expr, out: &mut Vec<Expr>) {
    // Django's `Window.get_group_by_cols()`: what the window partitions and orders by.
    if let Expr::WindowFunction(w) = expr {
        for e in w
            .partition_by
            .iter()
            .chain(w.order_by.iter().map(|s| &s.expr))
        {
            group_by_parts(e, out);
        }
        return;
    }
    if !expr.contains_aggregate() && !expr.contains_window() {
        if !expr.column_refs().is_empty() {
            out.push(expr.clone().unalias());
        }
        return;
    }
    if matches!(expr, Expr::Aggregate(_)) {
        return;
    }
    for child in expr.children() {
        group_by_parts(child, out);
    }
}

/// Builds the operators for a resolved SELECT over `from` (see the module docs for the shape).
pub(crate) fn assemble(from: LogicalPlanBuilder, query: SelectQuery) -> Result<Arc<LogicalPlan>> {
    let SelectQuery {
        where_,
        having,
        mut select,
        group_by,
        mut order,
        distinct,
        offset,
        limit,
    } = query;
    let mut builder = from;
    if let Some(predicate) = Expr::conjunction(where_) {
        builder = builder.filter(predicate)?;
    }
    let mut having = having;
    if let Some(group) = group_by {
        let mut aggregates: Vec<Expr> = Vec::new();
        for e in select
            .iter()
            .map(|(_, e)| e)
            .chain(&having)
            .chain(order.iter().map(|s| &s.expr))
        {
            collect_aggregates(e, &mut aggregates);
        }
        let group_exprs: Vec<Expr> = group
            .iter()
            .enumerate()
            .map(|(i, g)| match g {
                Expr::Column(_) => g.clone(),
                _ => g.clone().alias(format!("__group{i}")),
            })
            .collect();
        let aggregate_exprs: Vec<Expr> = aggregates
            .iter()
            .enumerate()
            .map(|(i, a)| a.clone().alias(format!("__agg{i}")))
            .collect();
        builder = builder.aggregate(group_exprs, aggregate_exprs)?;
        let rewrite = |e: Expr| over_aggregate(e, &group, &aggregates);
        select = select
            .into_iter()
            .map(|(name, e)| Ok((name, rewrite(e)?)))
            .collect::<Result<_>>()?;
        having = having.into_iter().map(rewrite).collect::<Result<_>>()?;
        order = order
            .into_iter()
            .map(|s| Ok(SortExpr::new(rewrite(s.expr)?, s.asc, s.nulls_first)))
            .collect::<Result<_>>()?;
    }
    // Conditions on window functions (Django's QUALIFY) run after the windows.
    let (qualify, having): (Vec<Expr>, Vec<Expr>) =
        having.into_iter().partition(Expr::contains_window);
    if let Some(predicate) = Expr::conjunction(having) {
        builder = builder.filter(predicate)?;
    }
    builder = super::window::plan_windows(builder, &mut select, qualify, &mut order)?;
    let mut projection: Vec<Expr> = select
        .iter()
        .map(|(name, e)| match e {
            Expr::Column(c) if &c.name == name => e.clone(),
            _ => e.clone().alias(name.clone()),
        })
        .collect();
    // Sort keys that are not selected travel as hidden columns (and, as in Django, take part
    // in DISTINCT); they are projected away after the limit.
    let mut sort_keys = Vec::with_capacity(order.len());
    let mut hidden = 0;
    for key in order {
        let name = match select.iter().find(|(_, e)| e == &key.expr) {
            Some((name, _)) => name.clone(),
            None => {
                let name = format!("__order{hidden}");
                hidden += 1;
                projection.push(key.expr.clone().alias(name.clone()));
                name
            }
        };
        sort_keys.push(SortExpr::new(col(name), key.asc, key.nulls_first));
    }
    builder = builder.project(projection)?;
    if distinct {
        builder = builder.distinct();
    }
    if !sort_keys.is_empty() {
        builder = builder.sort(sort_keys)?;
    }
    if offset > 0 || limit.is_some() {
        builder = builder.limit(offset, limit);
    }
    if hidden > 0 {
        builder = builder.project(select.iter().map(|(name, _)| col(name.clone())).collect())?;
    }
    Ok(builder.build())
}

/// Every distinct aggregate call inside `expr`, in order of appearance.
fn collect_aggregates(expr: &Expr, out: &mut Vec<Expr>) {
    expr.visit(&mut |e| {
        if let Expr::Aggregate(_) = e {
            if !out.contains(e) {
                out.push(e.clone());
            }
            return false;
        }
        true
    });
}

/// Rewrites an expression over the FROM rows into one over the Aggregate's output: group
/// expressions become their output columns, aggregate calls `__agg<i>`.
fn over_aggregate(expr: Expr, group: &[Expr], aggregates: &[Expr]) -> Result<Expr> {
    Ok(expr
        .transform_down(&mut |e| {
            if let Some(i) = group.iter().position(|g| g == &e) {
                return Ok(match &e {
                    Expr::Column(_) => Transformed::no(e),
                    _ => Transformed::yes(col(format!("__group{i}"))),
                });
            }
            if let Expr::Aggregate(_) = &e {
                if let Some(i) = aggregates.iter().position(|a| a == &e) {
                    return Ok(Transformed::yes(col(format!("__agg{i}"))));
                }
            }
            Ok(Transformed::no(e))
        })?
        .data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quiver_engine::expr::{AggregateExpr, AggregateFunction};
    use quiver_engine::lit;

    fn sum(e: Expr) -> Expr {
        Expr::Aggregate(AggregateExpr::new(AggregateFunction::Sum, vec![e]))
    }

    #[test]
    fn group_by_rule_adds_the_non_aggregate_parts_of_select_order_and_having() {
        let (a, b, c, d) = (col("a"), col("b"), col("c"), col("d"));
        let select = vec![
            ("a".to_string(), a.clone()),
            ("x".to_string(), b.clone() + sum(c.clone())),
            ("n".to_string(), sum(c.clone())),
            ("k".to_string(), lit(1i64)),
        ];
        let order = vec![
            (d.clone() + lit(1i64)).sort_asc(),
            sum(c.clone()).sort_desc(),
        ];
        let having = vec![sum(c.clone()).gt(b.clone())];
        assert_eq!(
            group_by_rule(vec![a.clone()], &select, &order, &having),
            vec![a, b, d + lit(1i64)]
        );
    }

    #[test]
    fn aggregates_are_computed_once_and_read_above_the_aggregate() {
        let scan_schema = arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("g", arrow::datatypes::DataType::Int64, false),
            arrow::datatypes::Field::new("v", arrow::datatypes::DataType::Int64, false),
        ]);
        let values = quiver_engine::logical_plan::Values::empty(
            scan_schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect(),
        );
        let from = LogicalPlanBuilder::from(LogicalPlan::Values(values));
        let total = sum(col("v"));
        let query = SelectQuery {
            where_: vec![],
            having: vec![total.clone().gt(lit(10i64))],
            select: vec![
                ("g".to_string(), col("g")),
                ("total".to_string(), total.clone()),
                ("twice".to_string(), total.clone() * lit(2i64)),
            ],
            group_by: Some(vec![col("g")]),
            order: vec![total.sort_desc()],
            distinct: false,
            offset: 0,
            limit: Some(3),
        };
        assert_eq!(
            assemble(from, query).unwrap().to_string(),
            "Limit: skip=0, fetch=3\n  \
             Sort: total DESC NULLS FIRST\n    \
             Projection: g, __agg0 AS total, (__agg0 * 2) AS twice\n      \
             Filter: (__agg0 > 10)\n        \
             Aggregate: groupBy=[g], aggr=[sum(v) AS __agg0]\n          \
             Values: rows=0"
        );
    }
}
