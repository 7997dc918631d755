//! Window functions in a SELECT: where the `Window` plan node goes and what reads it.
//!
//! SQL computes windows after WHERE, GROUP BY and HAVING and before DISTINCT, ORDER BY and
//! LIMIT; Django 4.2+ filters on a window annotation *after* the windows, by wrapping the
//! query in an outer SELECT ("QUALIFY"). [`plan_windows`] builds exactly that order into one
//! plan: every distinct window call of the SELECT list, the window filters and the ORDER BY
//! is computed once by a `Window` node over the (grouped) rows, as a hidden column
//! `__win<i>`; the expressions above read those columns; the window filters become a
//! Filter right above the Window node, so slicing and `count()` apply after them.

use quiver_engine::expr::Transformed;
use quiver_engine::{col, Expr, LogicalPlanBuilder, SortExpr};

use super::queryset::Query;
use crate::error::Result;
use crate::expressions::contains_over_clause;

/// Whether any annotation of `query` holds a window (then `aggregate()`/`count()` must run
/// over the query as a subquery, as Django's `get_aggregation` does for a QUALIFY).
pub(crate) fn has_windows(query: &Query) -> bool {
    query
        .annotations
        .iter()
        .any(|a| contains_over_clause(&a.expression))
}

/// Adds the Window node and the window filters (`qualify`) over `builder`, rewriting
/// `select` and `order` to read the window columns. A no-op without window calls.
pub(crate) fn plan_windows(
    mut builder: LogicalPlanBuilder,
    select: &mut [(String, Expr)],
    qualify: Vec<Expr>,
    order: &mut [SortExpr],
) -> Result<LogicalPlanBuilder> {
    let mut calls: Vec<Expr> = Vec::new();
    for e in select
        .iter()
        .map(|(_, e)| e)
        .chain(&qualify)
        .chain(order.iter().map(|s| &s.expr))
    {
        e.visit(&mut |e| {
            if let Expr::WindowFunction(_) = e {
                if !calls.contains(e) {
                    calls.push(e.clone());
                }
                return false;
            }
            true
        });
    }
    if calls.is_empty() {
        return Ok(builder);
    }
    builder = builder.window(
        calls
            .iter()
            .enumerate()
            .map(|(i, c)| c.clone().alias(format!("__win{i}")))
            .collect(),
    )?;
    let over_window = |e: Expr| -> Result<Expr> {
        Ok(e.transform_down(&mut |e| {
            if let Expr::WindowFunction(_) = &e {
                if let Some(i) = calls.iter().position(|c| c == &e) {
                    return Ok(Transformed::yes(col(format!("__win{i}"))));
                }
            }
            Ok(Transformed::no(e))
        })?
        .data)
    };
    for (_, e) in select.iter_mut() {
        *e = over_window(e.clone())?;
    }
    for key in order.iter_mut() {
        key.expr = over_window(key.expr.clone())?;
    }
    let qualify = qualify
        .into_iter()
        .map(over_window)
        .collect::<Result<Vec<_>>>()?;
    if let Some(predicate) = Expr::conjunction(qualify) {
        builder = builder.filter(predicate)?;
    }
    Ok(builder)
}
