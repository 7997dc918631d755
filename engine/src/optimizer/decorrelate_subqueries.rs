//! [`DecorrelateSubqueries`]: turns correlated subqueries into joins, so that a query reads
//! each table once instead of running the subquery per outer row (the N+1 pattern that
//! `Subquery`/`Exists` exist to avoid).
//!
//! Three shapes are rewritten; anything else stays and is evaluated once per distinct outer
//! key (see `physical_expr/subquery.rs`):
//!
//! 1. `[NOT] EXISTS` and `[NOT] IN` among a filter's conjuncts become a semi (anti) join on the
//!    subquery's equality correlations (and, for IN, the probe = the selected column). The
//!    other correlated predicates become the join's residual filter.
//!
//!    ```text
//!    before                                            after
//!    Filter: EXISTS (<subquery>)                       Join: LeftSemi, on=[T1.id = U0.customer_id]
//!      Subquery:                                         Scan: customer AS T1
//!        Filter: (U0.customer_id = outer_ref(T1.id))     Scan: order AS U0
//!          Scan: order AS U0
//!      Scan: customer AS T1
//!    ```
//!
//!    `x NOT IN (…)` is NULL, not TRUE, when `x` is NULL or the subquery yields a NULL (and
//!    the subquery is not empty), so a nullable NOT IN keeps only the correlation as join keys
//!    and matches with `x = y OR x IS NULL OR y IS NULL`: any such match removes the row. An
//!    uncorrelated nullable NOT IN is left to the evaluate-once path.
//!
//! 2. A scalar subquery over an aggregate (`(SELECT sum(amount) FROM order WHERE customer_id =
//!    outer.id)`, also Django's `values(key).annotate(total=…).values("total")` idiom, which
//!    groups by the correlated key) becomes a LEFT join with that aggregate grouped by the
//!    correlated keys. An outer row without related rows gets NULL from the join, which is
//!    what the subquery gives — except that `COUNT` over no rows is 0: for a subquery without
//!    GROUP BY whose value involves a count, a marker column tells a matched group from no
//!    group, and the no-group value is the subquery's value over no rows (the COUNT bug).
//!
//! 3. The top-1 idiom (`… ORDER BY created DESC LIMIT 1`, Django's `order_by(…)[:1]`) becomes a
//!    LEFT join with the first row per correlated key ([`DistinctOn`]).
//!
//! 4. A correlated `[NOT] EXISTS` or `[NOT] IN` used as a value becomes a mark join (see
//!    [`mark_join`]).
//!
//! 5. A lookup (`(SELECT cost FROM partsupp WHERE partkey = outer.partkey AND suppkey =
//!    outer.suppkey)`, no aggregate, no LIMIT) becomes a LEFT *single* join: one value per
//!    outer row, NULL without a match, PostgreSQL's "more than one row returned by a subquery
//!    used as an expression" with several. When the catalog proves the keys unique the join
//!    reads the inner rows as they are; otherwise the inner side counts the rows per key and a
//!    key with several re-runs the subquery, which raises (see [`single_row`]).
//!
//! Scalar subqueries are rewritten in projections and filters; the node keeps its output
//! schema (a filter gets a projection back to its input's columns on top).

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::datatypes::{DataType, TimeUnit};
use quiver_storage::ScalarValue;

use super::OptimizerRule;
use crate::error::Result;
use crate::expr::{
    lit, AggregateExpr, AggregateFunction, BinaryExpr, Column, Expr, Operator, SortExpr, Subquery,
    Transformed,
};
use crate::logical_plan::{
    Aggregate, DistinctOn, Filter, Join, JoinType, Limit, LogicalPlan, PlanSchema, Projection,
    SubqueryAlias, MARK_COLUMN,
};

/// Subquery decorrelation; see the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct DecorrelateSubqueries;

impl OptimizerRule for DecorrelateSubqueries {
    fn name(&self) -> &'static str {
        "decorrelate_subqueries"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
        plan.transform_up(&mut |node| {
            // Subqueries nested inside this node's expressions first.
            let nested = node.map_expressions(&mut |e| rewrite_nested(self, e))?;
            let node = nested.data;
            let t = match node.as_ref() {
                LogicalPlan::Filter(filter) => decorrelate_filter(&node, filter)?,
                LogicalPlan::Projection(projection) => decorrelate_projection(&node, projection)?,
                _ => Transformed::no(node),
            };
            Ok(Transformed {
                data: t.data,
                transformed: t.transformed || nested.transformed,
            })
        })
    }
}

/// Applies the rule to the plans of the subquery expressions inside `expr`.
fn rewrite_nested(rule: &DecorrelateSubqueries, expr: Expr) -> Result<Transformed<Expr>> {
    expr.transform_up(&mut |e| match e {
        Expr::ScalarSubquery(s) => Ok(rule
            .rewrite(s.plan)?
            .map(|plan| Expr::ScalarSubquery(Subquery::new(plan)))),
        Expr::Exists(mut x) => {
            let t = rule.rewrite(Arc::clone(&x.subquery.plan))?;
            x.subquery = Subquery::new(t.data);
            Ok(Transformed {
                data: Expr::Exists(x),
                transformed: t.transformed,
            })
        }
        Expr::InSubquery(mut i) => {
            let t = rule.rewrite(Arc::clone(&i.subquery.plan))?;
            i.subquery = Subquery::new(t.data);
            Ok(Transformed {
                data: Expr::InSubquery(i),
                transformed: t.transformed,
            })
        }
        other => Ok(Transformed::no(other)),
    })
}

/// The correlation pulled out of a subquery's filters.
#[derive(Debug)]
struct Correlation {
    /// Equality correlations: (expression over the outer row, expression over `inner`).
    keys: Vec<(Expr, Expr)>,
    /// Other correlated predicates, outer references turned into plain columns.
    filters: Vec<Expr>,
    /// The subquery's input with only its local predicates.
    inner: Arc<LogicalPlan>,
}

/// Pulls the correlated predicates out of the filters at the top of `plan`. `None` when a
/// reference does not resolve in `outer` or something below still reads the outer row.
fn pull_correlation(plan: &Arc<LogicalPlan>, outer: &PlanSchema) -> Option<Correlation> {
    let mut conjuncts = Vec::new();
    let mut input = Arc::clone(plan);
    while let LogicalPlan::Filter(filter) = input.as_ref() {
        conjuncts.extend(filter.predicate.clone().split_conjunction());
        input = Arc::clone(&filter.input);
    }
    let (correlated, local): (Vec<Expr>, Vec<Expr>) =
        conjuncts.into_iter().partition(Expr::contains_outer_column);
    let inner = super::utils::with_filter(input, local).ok()?;
    if Subquery::new(Arc::clone(&inner)).is_correlated() {
        return None;
    }
    let mut keys = Vec::new();
    let mut filters = Vec::new();
    for predicate in correlated {
        if predicate.contains_subquery() {
            return None;
        }
        if let Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) = &predicate
        {
            let pure_outer = |e: &Expr| e.contains_outer_column() && e.column_refs().is_empty();
            let pure_inner = |e: &Expr| !e.contains_outer_column();
            if pure_outer(left) && pure_inner(right) {
                keys.push((to_outer_columns(left, outer)?, (**right).clone()));
                continue;
            }
            if pure_outer(right) && pure_inner(left) {
                keys.push((to_outer_columns(right, outer)?, (**left).clone()));
                continue;
            }
        }
        filters.push(to_outer_columns(&predicate, outer)?);
    }
    Some(Correlation {
        keys,
        filters,
        inner,
    })
}

/// `expr` with its outer references as columns of `outer`; `None` when one does not resolve
/// there (it belongs to a query further out).
fn to_outer_columns(expr: &Expr, outer: &PlanSchema) -> Option<Expr> {
    let mut resolves = true;
    let t = expr
        .clone()
        .replace_outer_columns(&mut |o| {
            resolves &= outer.has_column(&o.column);
            Some(Expr::Column(o.column.clone()))
        })
        .ok()?;
    resolves.then_some(t.data)
}

/// Relation names of a schema's fields.
fn relations(schema: &PlanSchema) -> BTreeSet<String> {
    schema
        .fields()
        .iter()
        .filter_map(|f| f.relation.clone())
        .collect()
}

/// A relation name no field of `schema` uses.
fn fresh_alias(schema: &PlanSchema) -> String {
    let taken = relations(schema);
    (1..)
        .map(|n| format!("__subquery{n}"))
        .find(|a| !taken.contains(a))
        .unwrap_or_else(|| "__subquery".to_string())
}

fn decorrelate_filter(
    node: &Arc<LogicalPlan>,
    filter: &Filter,
) -> Result<Transformed<Arc<LogicalPlan>>> {
    if !filter.predicate.contains_subquery() {
        return Ok(Transformed::no(Arc::clone(node)));
    }
    let mut input = Arc::clone(&filter.input);
    let mut remaining = Vec::new();
    let mut changed = false;
    for conjunct in filter.predicate.clone().split_conjunction() {
        match semi_join(&input, &conjunct)? {
            Some(joined) => {
                input = joined;
                changed = true;
            }
            None => remaining.push(conjunct),
        }
    }
    // Scalar subqueries left in the remaining conjuncts join in below the filter.
    let predicate = Expr::conjunction(remaining);
    if let Some(predicate) = &predicate {
        if let Some((joined, rewritten)) = join_scalar_subqueries(&input, vec![predicate.clone()])?
        {
            let filtered = Arc::new(LogicalPlan::Filter(Filter::try_new(
                joined,
                rewritten.into_iter().next().unwrap_or_else(|| lit(true)),
            )?));
            return Ok(Transformed::yes(restore_columns(filtered, &filter.input)?));
        }
    }
    if !changed {
        return Ok(Transformed::no(Arc::clone(node)));
    }
    let plan = super::utils::with_filter(input, predicate.into_iter().collect())?;
    Ok(Transformed::yes(plan))
}

/// A projection of `plan` back to exactly the columns of `original`.
fn restore_columns(
    plan: Arc<LogicalPlan>,
    original: &Arc<LogicalPlan>,
) -> Result<Arc<LogicalPlan>> {
    let exprs = original
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    Ok(Arc::new(LogicalPlan::Projection(Projection::try_new(
        plan, exprs,
    )?)))
}

/// An `[NOT] EXISTS` or `[NOT] IN` test taken apart: its correlation with the outer row,
/// whether it is negated, and for IN the probe expression (over the outer row) and the
/// subquery's selected column (over `correlation.inner`).
struct SubqueryTest {
    correlation: Correlation,
    negated: bool,
    probe: Option<(Expr, Expr)>,
}

/// Takes apart an EXISTS or IN expression whose subquery can join `outer`; `None` for any
/// other expression or a subquery of a shape the rule leaves alone.
fn subquery_test(expr: &Expr, outer: &PlanSchema) -> Option<SubqueryTest> {
    let test = match expr {
        Expr::Exists(x) => {
            let mut plan = Arc::clone(&x.subquery.plan);
            // Which columns and how many rows (at least one) do not matter to EXISTS.
            loop {
                plan = match plan.as_ref() {
                    LogicalPlan::Projection(p) => Arc::clone(&p.input),
                    LogicalPlan::Sort(s) if s.fetch != Some(0) => Arc::clone(&s.input),
                    LogicalPlan::Distinct(d) => Arc::clone(&d.input),
                    LogicalPlan::Limit(l) if l.skip == 0 && l.fetch != Some(0) => {
                        Arc::clone(&l.input)
                    }
                    _ => break,
                };
            }
            if plan.expressions().iter().any(Expr::contains_outer_column)
                && !matches!(plan.as_ref(), LogicalPlan::Filter(_))
            {
                return None;
            }
            let correlation = pull_correlation(&plan, outer)?;
            if correlation.keys.is_empty() {
                return None;
            }
            SubqueryTest {
                correlation,
                negated: x.negated,
                probe: None,
            }
        }
        Expr::InSubquery(i) => {
            let mut plan = Arc::clone(&i.subquery.plan);
            if let LogicalPlan::Distinct(d) = plan.as_ref() {
                plan = Arc::clone(&d.input);
            }
            let LogicalPlan::Projection(projection) = plan.as_ref() else {
                return None;
            };
            let [selected] = projection.exprs.as_slice() else {
                return None;
            };
            let selected = selected.clone().unalias();
            if selected.contains_outer_column()
                || selected.contains_subquery()
                || i.expr.contains_subquery()
                || i.expr.contains_outer_column()
            {
                return None;
            }
            let correlation = pull_correlation(&projection.input, outer)?;
            SubqueryTest {
                correlation,
                negated: i.negated,
                probe: Some(((*i.expr).clone(), selected)),
            }
        }
        _ => return None,
    };
    relations(outer)
        .is_disjoint(&relations(test.correlation.inner.schema()))
        .then_some(test)
}

/// `input` semi/anti-joined with the subquery of an EXISTS or IN conjunct, when its shape
/// allows.
fn semi_join(input: &Arc<LogicalPlan>, conjunct: &Expr) -> Result<Option<Arc<LogicalPlan>>> {
    let outer = input.schema();
    // NOT EXISTS / NOT (x IN …) are the negated forms (NOT of NULL is NULL, like NOT IN).
    let flipped;
    let conjunct = match conjunct {
        Expr::Not(inner) => match inner.as_ref() {
            Expr::Exists(x) => {
                let mut x = x.clone();
                x.negated = !x.negated;
                flipped = Expr::Exists(x);
                &flipped
            }
            Expr::InSubquery(i) => {
                let mut i = i.clone();
                i.negated = !i.negated;
                flipped = Expr::InSubquery(i);
                &flipped
            }
            _ => return Ok(None),
        },
        other => other,
    };
    let Some(SubqueryTest {
        mut correlation,
        negated,
        probe,
    }) = subquery_test(conjunct, outer)
    else {
        return Ok(None);
    };
    let join_type = if negated {
        JoinType::LeftAnti
    } else {
        JoinType::LeftSemi
    };
    if let Some((probe, selected)) = probe {
        let nullable = probe.nullable(outer)? || selected.nullable(correlation.inner.schema())?;
        if negated && nullable {
            if correlation.keys.is_empty() {
                return Ok(None);
            }
            let matches = probe
                .clone()
                .eq(selected.clone())
                .or(probe.is_null())
                .or(selected.is_null());
            correlation.filters.push(matches);
        } else {
            correlation.keys.push((probe, selected));
        }
    }
    let join = Join::try_new(
        Arc::clone(input),
        correlation.inner,
        correlation.keys,
        Expr::conjunction(correlation.filters),
        join_type,
    )?;
    Ok(Some(Arc::new(LogicalPlan::Join(join))))
}

/// Shape 4: a correlated `[NOT] EXISTS` or `[NOT] IN` used as a value — in a projection, under
/// OR, inside CASE — becomes a mark join of `input`, which keeps every row and adds whether it
/// has a match; returns the joined input and the test's value over the joined row.
///
/// EXISTS is never NULL, so one mark answers it. `x IN (…)` is NULL when no row equals `x`
/// but `x` is NULL or some row's value is (among the rows of the correlation); when either
/// side is nullable a second mark join finds those rows, and the value is
/// `CASE WHEN equal THEN TRUE WHEN unknown THEN NULL ELSE FALSE END`.
fn mark_join(input: &Arc<LogicalPlan>, expr: &Expr) -> Result<Option<(Arc<LogicalPlan>, Expr)>> {
    if !matches!(expr, Expr::Exists(x) if x.subquery.is_correlated())
        && !matches!(expr, Expr::InSubquery(i) if i.subquery.is_correlated())
    {
        return Ok(None);
    }
    let outer = Arc::clone(input.schema());
    let Some(SubqueryTest {
        correlation,
        negated,
        probe,
    }) = subquery_test(expr, &outer)
    else {
        return Ok(None);
    };
    let Some((probe, selected)) = probe else {
        let (joined, mark) = mark_join_with(input, &correlation, vec![], vec![])?;
        return Ok(Some((joined, if negated { mark.not() } else { mark })));
    };
    let nullable = probe.nullable(&outer)? || selected.nullable(correlation.inner.schema())?;
    if nullable && correlation.keys.is_empty() {
        // The unknown-mark would be a cross join: leave it to the once-per-key path.
        return Ok(None);
    }
    let (joined, equal) = mark_join_with(
        input,
        &correlation,
        vec![(probe.clone(), selected.clone())],
        vec![],
    )?;
    let (joined, value) = if nullable {
        let unknown_rows = probe.is_null().or(selected.is_null());
        let (joined, unknown) = mark_join_with(&joined, &correlation, vec![], vec![unknown_rows])?;
        let value = Expr::Case(crate::expr::Case {
            operand: None,
            when_then: vec![
                (equal, lit(true)),
                (unknown, Expr::Literal(ScalarValue::Boolean(None))),
            ],
            else_expr: Some(Box::new(lit(false))),
        });
        (joined, value)
    } else {
        (joined, equal)
    };
    Ok(Some((joined, if negated { value.not() } else { value })))
}

/// `input` mark-joined with `correlation.inner` on the correlation's keys plus `extra_keys`,
/// with its filters plus `extra_filters` as the residual condition (outer columns as plain
/// columns, inner ones over `correlation.inner`). The right side is a projection of just the
/// key and filter columns under a fresh alias, so the mark column's name is unique.
fn mark_join_with(
    input: &Arc<LogicalPlan>,
    correlation: &Correlation,
    extra_keys: Vec<(Expr, Expr)>,
    extra_filters: Vec<Expr>,
) -> Result<(Arc<LogicalPlan>, Expr)> {
    let outer = input.schema();
    let alias = fresh_alias(outer);
    let inner_schema = correlation.inner.schema();
    let keys: Vec<(Expr, Expr)> = correlation.keys.iter().cloned().chain(extra_keys).collect();
    let mut exprs: Vec<Expr> = keys
        .iter()
        .enumerate()
        .map(|(i, (_, inner))| inner.clone().alias(format!("__key{}", i + 1)))
        .collect();
    // Inner columns the residual condition reads, projected under names of their own.
    let mut inner_columns: Vec<Column> = Vec::new();
    let filters = correlation
        .filters
        .iter()
        .cloned()
        .chain(extra_filters)
        .map(|f| {
            f.replace_columns(&mut |c| {
                if outer.has_column(c) || !inner_schema.has_column(c) {
                    return None;
                }
                let position = match inner_columns.iter().position(|known| known == c) {
                    Some(p) => p,
                    None => {
                        inner_columns.push(c.clone());
                        inner_columns.len() - 1
                    }
                };
                Some(Expr::Column(Column::qualified(
                    alias.clone(),
                    format!("__col{}", position + 1),
                )))
            })
        })
        .collect::<Result<Vec<Expr>>>()?;
    exprs.extend(
        inner_columns
            .iter()
            .enumerate()
            .map(|(i, c)| Expr::Column(c.clone()).alias(format!("__col{}", i + 1))),
    );
    let projected = Arc::new(LogicalPlan::Projection(Projection::try_new(
        Arc::clone(&correlation.inner),
        exprs,
    )?));
    let right = Arc::new(LogicalPlan::SubqueryAlias(SubqueryAlias::new(
        projected, &alias,
    )));
    let on = keys
        .iter()
        .enumerate()
        .map(|(i, (outer_key, _))| {
            (
                outer_key.clone(),
                Expr::Column(Column::qualified(&alias, format!("__key{}", i + 1))),
            )
        })
        .collect();
    let join = Join::try_new(
        Arc::clone(input),
        right,
        on,
        Expr::conjunction(filters),
        JoinType::LeftMark,
    )?;
    let mark = Expr::Column(Column::qualified(alias, MARK_COLUMN));
    Ok((Arc::new(LogicalPlan::Join(join)), mark))
}

fn decorrelate_projection(
    node: &Arc<LogicalPlan>,
    projection: &Projection,
) -> Result<Transformed<Arc<LogicalPlan>>> {
    if !projection.exprs.iter().any(Expr::contains_subquery) {
        return Ok(Transformed::no(Arc::clone(node)));
    }
    let Some((joined, exprs)) =
        join_scalar_subqueries(&projection.input, projection.exprs.clone())?
    else {
        return Ok(Transformed::no(Arc::clone(node)));
    };
    // Same names as before: a rewritten expression keeps the original's output name.
    let exprs = exprs
        .into_iter()
        .zip(&projection.exprs)
        .map(|(new, old)| {
            if new.output_name() == old.output_name() {
                new
            } else {
                new.alias(old.output_name())
            }
        })
        .collect();
    Ok(Transformed::yes(Arc::new(LogicalPlan::Projection(
        Projection::try_new(joined, exprs)?,
    ))))
}

/// LEFT-joins `input` with a decorrelated form of each correlated scalar subquery in `exprs`
/// that has one, returning the joined input and `exprs` reading the joined columns instead.
fn join_scalar_subqueries(
    input: &Arc<LogicalPlan>,
    exprs: Vec<Expr>,
) -> Result<Option<(Arc<LogicalPlan>, Vec<Expr>)>> {
    let mut plan = Arc::clone(input);
    let mut changed = false;
    let mut out = Vec::with_capacity(exprs.len());
    for expr in exprs {
        let t = expr.transform_up(&mut |e| {
            if matches!(e, Expr::Exists(_) | Expr::InSubquery(_)) {
                return match mark_join(&plan, &e)? {
                    Some((joined, value)) => {
                        plan = joined;
                        Ok(Transformed::yes(value))
                    }
                    None => Ok(Transformed::no(e)),
                };
            }
            let Expr::ScalarSubquery(s) = &e else {
                return Ok(Transformed::no(e));
            };
            if !s.is_correlated() {
                return Ok(Transformed::no(e));
            }
            match decorrelate_scalar(&plan, &s.plan)? {
                Some((joined, value)) => {
                    plan = joined;
                    Ok(Transformed::yes(value))
                }
                None => Ok(Transformed::no(e)),
            }
        })?;
        changed |= t.transformed;
        out.push(t.data);
    }
    Ok(changed.then_some((plan, out)))
}

/// `input` LEFT-joined with the decorrelated scalar subquery `subquery`, and the expression
/// that gives the subquery's value over the joined row.
fn decorrelate_scalar(
    input: &Arc<LogicalPlan>,
    subquery: &Arc<LogicalPlan>,
) -> Result<Option<(Arc<LogicalPlan>, Expr)>> {
    if per_key_is_cheaper(input, subquery) {
        return Ok(None);
    }
    let outer = input.schema();
    let mut plan = Arc::clone(subquery);
    // A projection above the LIMIT picks the value out of the sorted rows (the ORM sorts on
    // hidden columns, then drops them).
    let mut top = None;
    if let LogicalPlan::Projection(p) = plan.as_ref() {
        if p.exprs.len() == 1 && matches!(p.input.as_ref(), LogicalPlan::Limit(_)) {
            top = Some(p.exprs[0].clone().unalias());
            plan = Arc::clone(&p.input);
        }
    }
    // At most one row per key comes out of either shape, so `[:1]` changes nothing.
    let mut limited = false;
    let mut has_limit = false;
    if let LogicalPlan::Limit(l) = plan.as_ref() {
        if l.skip != 0 || l.fetch == Some(0) {
            return Ok(None);
        }
        limited = l.fetch == Some(1);
        has_limit = true;
        plan = Arc::clone(&l.input);
    }
    let alias = fresh_alias(outer);
    let (right, value, keys) = match plan.as_ref() {
        _ if limited && top.is_some() => match first_per_key(outer, &plan, top.as_ref(), &alias)? {
            Some(found) => found,
            None => return Ok(None),
        },
        _ if top.is_some() => return Ok(None),
        LogicalPlan::Projection(p) if matches!(p.input.as_ref(), LogicalPlan::Aggregate(_)) => {
            let LogicalPlan::Aggregate(aggregate) = p.input.as_ref() else {
                return Ok(None);
            };
            let [value] = p.exprs.as_slice() else {
                return Ok(None);
            };
            match grouped(outer, aggregate, value.clone().unalias(), &alias)? {
                Some(found) => found,
                None => return Ok(None),
            }
        }
        LogicalPlan::Aggregate(aggregate) if aggregate.schema.len() == 1 => {
            let value = Expr::Column(aggregate.schema.field(0).column());
            match grouped(outer, aggregate, value, &alias)? {
                Some(found) => found,
                None => return Ok(None),
            }
        }
        _ if limited => match first_per_key(outer, &plan, None, &alias)? {
            Some(found) => found,
            None => return Ok(None),
        },
        // A LIMIT other than 1 (such as the single join's own re-check) stays per key.
        _ if has_limit => return Ok(None),
        _ => match single_row(outer, &plan, &alias)? {
            Some(found) => found,
            None => return Ok(None),
        },
    };
    if !relations(outer).is_disjoint(&relations(right.schema())) {
        return Ok(None);
    }
    let join = Join::try_new(Arc::clone(input), right, keys, None, JoinType::Left)?;
    Ok(Some((Arc::new(LogicalPlan::Join(join)), value)))
}

/// What one run of a correlated subquery through an index costs, in rows of a full read of
/// its table: a run plans, optimizes and executes a query (about 30 µs) where a join reads a
/// row in about a quarter of a microsecond, so 256 rows leaves a margin for the per-key path
/// running on one core while the join uses them all.
const PER_KEY_RUN_ROWS: f64 = 256.0;

/// Whether running `subquery` once per outer key is estimated to cost less than joining it:
/// when its correlated keys reach an index of the table it reads (each run is then a lookup)
/// and the outer side is small next to that table — `Customer.objects.filter(id__lte=100)
/// .annotate(latest=Subquery(...))` over a million orders reads a hundred orders' worth of
/// index entries instead of every order. The outer estimate is `reorder_joins`'s (the
/// statistics of the scans, their filters' selectivity); a slice above the projection is not
/// seen, as the rule runs before limits are pushed down.
fn per_key_is_cheaper(input: &Arc<LogicalPlan>, subquery: &Arc<LogicalPlan>) -> bool {
    let mut plan = Arc::clone(subquery);
    loop {
        plan = match plan.as_ref() {
            LogicalPlan::Projection(p) => Arc::clone(&p.input),
            LogicalPlan::Limit(l) => Arc::clone(&l.input),
            LogicalPlan::Sort(s) => Arc::clone(&s.input),
            LogicalPlan::Aggregate(a) => Arc::clone(&a.input),
            LogicalPlan::Distinct(d) => Arc::clone(&d.input),
            _ => break,
        };
    }
    let Some(correlation) = pull_correlation(&plan, input.schema()) else {
        return false;
    };
    let mut inner = correlation.inner.as_ref();
    while let LogicalPlan::Filter(filter) = inner {
        inner = filter.input.as_ref();
    }
    let LogicalPlan::Scan(scan) = inner else {
        return false;
    };
    let table_schema = scan.source.schema();
    let key_columns: Vec<usize> = correlation
        .keys
        .iter()
        .filter_map(|(_, key)| match key {
            Expr::Column(c) if c.relation.as_deref().is_none_or(|r| r == scan.relation) => {
                table_schema.index_of(&c.name).ok()
            }
            _ => None,
        })
        .collect();
    let indexed = scan.source.indexes().iter().any(|index| {
        index.condition.is_none()
            && index
                .columns
                .first()
                .is_some_and(|c| key_columns.contains(c))
    });
    indexed
        && super::reorder_joins::cardinality(input) * PER_KEY_RUN_ROWS
            < scan.snapshot.num_rows() as f64
}

type Decorrelated = (Arc<LogicalPlan>, Expr, Vec<(Expr, Expr)>);

/// Key columns `__key1…` and the value `__value` (plus `__present` when needed) over
/// `input`, under `alias`; the join keys pair the outer expressions with the key columns.
fn keyed_projection(
    input: Arc<LogicalPlan>,
    keys: &[(Expr, Expr)],
    mut value_columns: Vec<Expr>,
    alias: &str,
) -> Result<(Arc<LogicalPlan>, Vec<(Expr, Expr)>)> {
    let mut exprs: Vec<Expr> = keys
        .iter()
        .enumerate()
        .map(|(i, (_, inner))| inner.clone().alias(format!("__key{}", i + 1)))
        .collect();
    exprs.append(&mut value_columns);
    let projected = Arc::new(LogicalPlan::Projection(Projection::try_new(input, exprs)?));
    let aliased = Arc::new(LogicalPlan::SubqueryAlias(SubqueryAlias::new(
        projected, alias,
    )));
    let join_keys = keys
        .iter()
        .enumerate()
        .map(|(i, (outer, _))| {
            (
                outer.clone(),
                Expr::Column(Column::qualified(alias, format!("__key{}", i + 1))),
            )
        })
        .collect();
    Ok((aliased, join_keys))
}

/// Shape 2: an aggregate with no GROUP BY, or grouped by correlated keys only.
fn grouped(
    outer: &PlanSchema,
    aggregate: &Aggregate,
    value: Expr,
    alias: &str,
) -> Result<Option<Decorrelated>> {
    let Some(correlation) = pull_correlation(&aggregate.input, outer) else {
        return Ok(None);
    };
    if correlation.keys.is_empty() || !correlation.filters.is_empty() {
        return Ok(None);
    }
    let inner_keys: Vec<Expr> = correlation.keys.iter().map(|(_, i)| i.clone()).collect();
    let grouped_by_keys = aggregate
        .group_exprs
        .iter()
        .all(|g| inner_keys.contains(&g.clone().unalias()));
    if !grouped_by_keys
        || value.contains_outer_column()
        || value.contains_subquery()
        || aggregate.aggr_exprs.iter().any(Expr::contains_outer_column)
    {
        return Ok(None);
    }
    // Grouped by every key; the value expression reads the aggregates by their names.
    let regrouped = Arc::new(LogicalPlan::Aggregate(Aggregate::try_new(
        Arc::clone(&correlation.inner),
        inner_keys.clone(),
        aggregate.aggr_exprs.clone(),
    )?));
    // Columns of the regrouped aggregate for the original group columns: the same keys.
    let value = value.replace_columns(&mut |c| {
        let i = aggregate.schema.maybe_index_of_column(c).ok()??;
        let group = aggregate.group_exprs.get(i)?;
        let k = inner_keys
            .iter()
            .position(|k| k == &group.clone().unalias())?;
        Some(Expr::Column(regrouped.schema().field(k).column()))
    })?;
    let key_columns: Vec<(Expr, Expr)> = correlation
        .keys
        .iter()
        .enumerate()
        .map(|(k, (o, _))| {
            (
                o.clone(),
                Expr::Column(regrouped.schema().field(k).column()),
            )
        })
        .collect();
    // Over no rows an aggregate without GROUP BY still yields one row: COUNT 0, others NULL.
    let empty_value = if aggregate.group_exprs.is_empty() {
        empty_input_value(&value, aggregate)?
    } else {
        None
    };
    let mut columns = vec![value.alias("__value")];
    if empty_value.is_some() {
        columns.push(lit(true).alias("__present"));
    }
    let (right, join_keys) = keyed_projection(regrouped, &key_columns, columns, alias)?;
    let joined_value = Expr::Column(Column::qualified(alias, "__value"));
    let result = match empty_value {
        Some(empty) => Expr::Case(crate::expr::Case {
            operand: None,
            when_then: vec![(
                Expr::Column(Column::qualified(alias, "__present")).is_null(),
                empty,
            )],
            else_expr: Some(Box::new(joined_value)),
        }),
        None => joined_value,
    };
    Ok(Some((right, result, join_keys)))
}

/// The subquery's value over no rows, when it is not simply NULL (it involves a COUNT).
fn empty_input_value(value: &Expr, aggregate: &Aggregate) -> Result<Option<Expr>> {
    let mut has_count = false;
    let replaced = value.clone().replace_columns(&mut |c| {
        let i = aggregate.schema.maybe_index_of_column(c).ok()??;
        let aggr = aggregate
            .aggr_exprs
            .get(i.checked_sub(aggregate.group_exprs.len())?)?;
        let Expr::Aggregate(call) = aggr.clone().unalias() else {
            return None;
        };
        let field = aggregate.schema.field(i);
        Some(if call.func == AggregateFunction::Count {
            has_count = true;
            lit(0i64)
        } else {
            Expr::Literal(ScalarValue::null_of(field.field.data_type()))
        })
    })?;
    Ok(has_count.then_some(replaced))
}

/// Shape 3: `… ORDER BY … LIMIT 1` over a correlated filter (the limit is already stripped):
/// the first row per key.
fn first_per_key(
    outer: &PlanSchema,
    plan: &Arc<LogicalPlan>,
    top: Option<&Expr>,
    alias: &str,
) -> Result<Option<Decorrelated>> {
    // Projection[value] over Sort over Filter, or Sort over Projection[value] over Filter;
    // with `top`, the value is that expression over the projection's output.
    let (value, order, below) = match plan.as_ref() {
        LogicalPlan::Projection(p) => match p.input.as_ref() {
            LogicalPlan::Sort(s) if s.fetch.is_none() && top.is_none() => {
                (p.exprs.clone(), s.exprs.clone(), Arc::clone(&s.input))
            }
            _ => return Ok(None),
        },
        LogicalPlan::Sort(s) if s.fetch.is_none() => match s.input.as_ref() {
            LogicalPlan::Projection(p) => {
                // Sort keys name the projection's outputs; rewrite them over its input.
                let mut order = Vec::with_capacity(s.exprs.len());
                for key in &s.exprs {
                    let Some(expr) = over_projection_input(&key.expr, p) else {
                        return Ok(None);
                    };
                    order.push(SortExpr::new(expr, key.asc, key.nulls_first));
                }
                let value = match top {
                    Some(top) => match over_projection_input(top, p) {
                        Some(value) => vec![value],
                        None => return Ok(None),
                    },
                    None => p.exprs.clone(),
                };
                (value, order, Arc::clone(&p.input))
            }
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    let [value] = value.as_slice() else {
        return Ok(None);
    };
    let value = value.clone().unalias();
    let Some(correlation) = pull_correlation(&below, outer) else {
        return Ok(None);
    };
    if correlation.keys.is_empty()
        || !correlation.filters.is_empty()
        || value.contains_outer_column()
        || value.contains_subquery()
        || order
            .iter()
            .any(|k| k.expr.contains_outer_column() || k.expr.contains_subquery())
    {
        return Ok(None);
    }
    let on: Vec<Expr> = correlation.keys.iter().map(|(_, i)| i.clone()).collect();
    let first = Arc::new(LogicalPlan::DistinctOn(DistinctOn::try_new(
        Arc::clone(&correlation.inner),
        on,
        order,
    )?));
    let (right, join_keys) = keyed_projection(
        first,
        &correlation.keys,
        vec![value.alias("__value")],
        alias,
    )?;
    Ok(Some((
        right,
        Expr::Column(Column::qualified(alias, "__value")),
        join_keys,
    )))
}

/// Shape 5, a *single* join (DuckDB's name): a subquery that selects one value of the rows
/// matching the correlation, with neither aggregate nor LIMIT (a lookup such as
/// `Partsupp.objects.filter(ps_partkey=OuterRef("l_partkey"), ps_suppkey=OuterRef("l_suppkey"))
/// .values("ps_supplycost")`). Each outer row gets the value of its one matching row, NULL
/// when there is none, and PostgreSQL's "more than one row returned by a subquery used as an
/// expression" when there are several.
///
/// When the inner keys are provably unique (they cover a primary key or a unique constraint
/// without condition, see [`unique_keys`]), the right side is the inner rows themselves. Else
/// it is grouped by the keys, counting each key's rows, and a key with more than one row runs
/// the original subquery (with `LIMIT 2`, which also keeps this rule off it) for the rows that
/// read it, which raises the error exactly where the per-key path would: only for an outer
/// row that meets such a key, never for a duplicate no outer row asks for.
///
/// ```text
/// Projection: T2.id, CASE WHEN (__subquery1.__rows > 1) THEN (<subquery>) ELSE __subquery1.__value END AS region
///   Subquery:
///     Limit: skip=0, fetch=2
///       Projection: U0.region
///         Filter: (U0.id = outer_ref(T2.customer_id))
///           Scan: customer AS U0
///   Join: Left, on=[T2.customer_id = __subquery1.__key1]
///     Scan: order AS T2
///     SubqueryAlias: __subquery1
///       Projection: U0.id AS __key1, __rows, __value
///         Aggregate: groupBy=[U0.id], aggr=[count(*) AS __rows, min(U0.region) AS __value]
///           Scan: customer AS U0
/// ```
fn single_row(
    outer: &PlanSchema,
    plan: &Arc<LogicalPlan>,
    alias: &str,
) -> Result<Option<Decorrelated>> {
    let LogicalPlan::Projection(projection) = plan.as_ref() else {
        return Ok(None);
    };
    let [value] = projection.exprs.as_slice() else {
        return Ok(None);
    };
    let value = value.clone().unalias();
    if value.contains_outer_column() || value.contains_subquery() {
        return Ok(None);
    }
    let Some(correlation) = pull_correlation(&projection.input, outer) else {
        return Ok(None);
    };
    if correlation.keys.is_empty() || !correlation.filters.is_empty() {
        return Ok(None);
    }
    let inner_keys: Vec<Expr> = correlation.keys.iter().map(|(_, i)| i.clone()).collect();
    let value_column = Expr::Column(Column::qualified(alias, "__value"));
    if unique_keys(&correlation.inner, &inner_keys) {
        let (right, join_keys) = keyed_projection(
            Arc::clone(&correlation.inner),
            &correlation.keys,
            vec![value.alias("__value")],
            alias,
        )?;
        return Ok(Some((right, value_column, join_keys)));
    }
    // Any one value of a one-row group will do; MIN is that, for the types it orders.
    if !has_min(&value.data_type(correlation.inner.schema())?) {
        return Ok(None);
    }
    let counted = Arc::new(LogicalPlan::Aggregate(Aggregate::try_new(
        Arc::clone(&correlation.inner),
        inner_keys,
        vec![
            Expr::Aggregate(AggregateExpr::new(AggregateFunction::Count, vec![])).alias("__rows"),
            Expr::Aggregate(AggregateExpr::new(AggregateFunction::Min, vec![value]))
                .alias("__value"),
        ],
    )?));
    let schema = counted.schema();
    let key_count = correlation.keys.len();
    let key_columns: Vec<(Expr, Expr)> = correlation
        .keys
        .iter()
        .enumerate()
        .map(|(k, (o, _))| (o.clone(), Expr::Column(schema.field(k).column())))
        .collect();
    let columns = vec![
        Expr::Column(schema.field(key_count).column()),
        Expr::Column(schema.field(key_count + 1).column()),
    ];
    let (right, join_keys) = keyed_projection(Arc::clone(&counted), &key_columns, columns, alias)?;
    let recheck = Arc::new(LogicalPlan::Limit(Limit {
        input: Arc::clone(plan),
        skip: 0,
        fetch: Some(2),
    }));
    let result = Expr::Case(crate::expr::Case {
        operand: None,
        when_then: vec![(
            Expr::Column(Column::qualified(alias, "__rows")).gt(lit(1i64)),
            Expr::ScalarSubquery(Subquery::new(recheck)),
        )],
        else_expr: Some(Box::new(value_column)),
    });
    Ok(Some((right, result, join_keys)))
}

/// Whether MIN accepts values of `data_type` (what `physical_plan/aggregate/min_max.rs` has).
fn has_min(data_type: &DataType) -> bool {
    use arrow::datatypes::IntervalUnit;
    match data_type {
        DataType::Interval(IntervalUnit::YearMonth | IntervalUnit::DayTime)
        | DataType::Interval(IntervalUnit::MonthDayNano) => false,
        DataType::Time32(TimeUnit::Microsecond | TimeUnit::Nanosecond)
        | DataType::Time64(TimeUnit::Second | TimeUnit::Millisecond) => false,
        DataType::Boolean
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView => true,
        DataType::Float16 => false,
        other => {
            other.is_integer()
                || other.is_floating()
                || other.is_temporal()
                || matches!(other, DataType::Decimal128(_, _))
        }
    }
}

/// Whether no two rows of `plan` share a value of every expression in `keys` (NULLs aside:
/// a NULL key never matches a join), proved from the catalog: the keys, traced as plain
/// columns through filters, sorts, limits and projections down to a scan, cover its table's
/// primary key or one of its unique constraints without condition; or they cover the
/// grouping of an aggregate.
pub(crate) fn unique_keys(plan: &LogicalPlan, keys: &[Expr]) -> bool {
    let mut columns = Vec::with_capacity(keys.len());
    for key in keys {
        match key.clone().unalias() {
            Expr::Column(c) => columns.push(c),
            _ => return false,
        }
    }
    match plan {
        LogicalPlan::Filter(filter) => unique_keys(&filter.input, keys),
        LogicalPlan::Sort(sort) => unique_keys(&sort.input, keys),
        LogicalPlan::Limit(limit) => unique_keys(&limit.input, keys),
        LogicalPlan::Distinct(distinct) => unique_keys(&distinct.input, keys),
        LogicalPlan::Projection(projection) => {
            let mut below = Vec::with_capacity(columns.len());
            for c in &columns {
                let Ok(Some(i)) = projection.schema.maybe_index_of_column(c) else {
                    return false;
                };
                let Some(expr) = projection.exprs.get(i) else {
                    return false;
                };
                below.push(expr.clone().unalias());
            }
            unique_keys(&projection.input, &below)
        }
        LogicalPlan::Aggregate(aggregate) => {
            !aggregate.group_exprs.is_empty()
                && (0..aggregate.group_exprs.len()).all(|i| {
                    let grouped = aggregate.schema.field(i).column();
                    columns.contains(&grouped)
                })
        }
        LogicalPlan::Scan(scan) => {
            let table_schema = scan.source.schema();
            let mut indices = Vec::with_capacity(columns.len());
            for c in &columns {
                if c.relation.as_deref().is_some_and(|r| r != scan.relation) {
                    return false;
                }
                match table_schema.index_of(&c.name) {
                    Ok(i) => indices.push(i),
                    Err(_) => return false,
                }
            }
            scan.source
                .constraints()
                .unique
                .iter()
                .any(|u| u.condition.is_none() && u.columns.iter().all(|i| indices.contains(i)))
        }
        _ => false,
    }
}

/// `expr` over a projection's output rewritten over its input.
fn over_projection_input(expr: &Expr, projection: &Projection) -> Option<Expr> {
    let mut ok = true;
    let rewritten = expr
        .clone()
        .replace_columns(
            &mut |c| match projection.schema.maybe_index_of_column(c).ok().flatten() {
                Some(i) => projection.exprs.get(i).map(|e| e.clone().unalias()),
                None => {
                    ok = false;
                    None
                }
            },
        )
        .ok()?;
    ok.then_some(rewritten)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::util::pretty::pretty_format_batches;
    use insta::assert_snapshot;
    use quiver_storage::{Catalog, Table};

    use super::*;
    use crate::expr::{
        exists, in_subquery, not_exists, outer_col, qualified_col, scalar_subquery, AggregateExpr,
    };
    use crate::logical_plan::LogicalPlanBuilder;
    use crate::optimizer::Optimizer;
    use crate::{SessionConfig, SessionContext};

    /// `customer(id, name, region NULL)`: 1 Ann EU, 2 Bob NULL, 3 Cid US, 4 Dee EU.
    fn customer() -> Arc<Table> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, false),
            Field::new("region", DataType::Utf8, true),
        ]));
        let table = Arc::new(Table::new("customer", Arc::clone(&schema)));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
            Arc::new(StringArray::from(vec!["Ann", "Bob", "Cid", "Dee"])),
            Arc::new(StringArray::from(vec![
                Some("EU"),
                None,
                Some("US"),
                Some("EU"),
            ])),
        ];
        table
            .append(&[RecordBatch::try_new(schema, columns).unwrap()])
            .unwrap();
        table
    }

    /// `order(id, customer_id NULL, amount, created)`: Ann has 3 orders, Bob 1, Cid none,
    /// Dee none, and one order has no customer.
    fn order() -> Arc<Table> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("customer_id", DataType::Int64, true),
            Field::new("amount", DataType::Int64, false),
            Field::new("created", DataType::Int64, false),
        ]));
        let table = Arc::new(Table::new("order", Arc::clone(&schema)));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![10, 11, 12, 13, 14])),
            Arc::new(Int64Array::from(vec![
                Some(1),
                Some(1),
                Some(2),
                Some(1),
                None,
            ])),
            Arc::new(Int64Array::from(vec![100, 250, 40, 70, 999])),
            Arc::new(Int64Array::from(vec![3, 5, 1, 4, 9])),
        ];
        table
            .append(&[RecordBatch::try_new(schema, columns).unwrap()])
            .unwrap();
        table
    }

    fn t1(name: &str) -> Expr {
        qualified_col("T1", name)
    }
    fn u0(name: &str) -> Expr {
        qualified_col("U0", name)
    }
    fn outer_id() -> Expr {
        outer_col(Column::qualified("T1", "id"), DataType::Int64, false)
    }

    /// Orders of the outer customer (`Order.objects.filter(customer=OuterRef("pk"))`).
    fn orders_of_outer(customers: &Arc<Table>, orders: &Arc<Table>) -> LogicalPlanBuilder {
        let _ = customers;
        LogicalPlanBuilder::scan(Arc::clone(orders), "U0")
            .filter(u0("customer_id").eq(outer_id()))
            .unwrap()
    }

    /// Runs `plan` with and without the rule, checks both agree, and returns the rows.
    fn run_both(plan: &Arc<LogicalPlan>) -> String {
        let with = SessionContext::new(Catalog::new())
            .execute(Arc::clone(plan))
            .unwrap();
        let without = SessionContext::with_config(
            Catalog::new(),
            SessionConfig::new().disable_rule("decorrelate_subqueries"),
        )
        .execute(Arc::clone(plan))
        .unwrap();
        let a = pretty_format_batches(&with.batches).unwrap().to_string();
        let b = pretty_format_batches(&without.batches).unwrap().to_string();
        assert_eq!(a, b, "decorrelated and per-key results differ");
        a
    }

    fn decorrelated(plan: &Arc<LogicalPlan>) -> String {
        let optimizer = Optimizer::with_rules(vec![Arc::new(DecorrelateSubqueries)]);
        optimizer
            .optimize(Arc::clone(plan), &BTreeSet::new())
            .unwrap()
            .to_string()
    }

    #[test]
    fn exists_becomes_a_semi_join_and_not_exists_an_anti_join() {
        let (customers, orders) = (customer(), order());
        let has_orders = |negated: bool| {
            let sub = orders_of_outer(&customers, &orders).build();
            let predicate = if negated {
                not_exists(sub)
            } else {
                exists(sub)
            };
            LogicalPlanBuilder::scan(Arc::clone(&customers), "T1")
                .filter(predicate)
                .unwrap()
                .project(vec![t1("name")])
                .unwrap()
                .sort(vec![t1("name").sort_asc()])
                .unwrap()
                .build()
        };
        let plan = has_orders(false);
        assert_snapshot!(plan.to_string(), @r"
        Sort: T1.name ASC NULLS LAST
          Projection: T1.name
            Filter: EXISTS (<subquery>)
              Subquery:
                Filter: (U0.customer_id = outer_ref(T1.id))
                  Scan: order AS U0
              Scan: customer AS T1
        ");
        assert_snapshot!(decorrelated(&plan), @r"
        Sort: T1.name ASC NULLS LAST
          Projection: T1.name
            Join: LeftSemi, on=[T1.id = U0.customer_id]
              Scan: customer AS T1
              Scan: order AS U0
        ");
        assert_snapshot!(run_both(&plan), @r"
        +------+
        | name |
        +------+
        | Ann  |
        | Bob  |
        +------+
        ");
        let plan = has_orders(true);
        assert!(decorrelated(&plan).contains("Join: LeftAnti"));
        assert_snapshot!(run_both(&plan), @r"
        +------+
        | name |
        +------+
        | Cid  |
        | Dee  |
        +------+
        ");
    }

    #[test]
    fn exists_as_a_value_becomes_a_mark_join() {
        // Customer.objects.annotate(has_orders=Exists(orders_of), big=~Exists(orders over 200))
        let (customers, orders) = (customer(), order());
        let big = orders_of_outer(&customers, &orders)
            .filter(u0("amount").gt(lit(200i64)))
            .unwrap()
            .build();
        let plan = LogicalPlanBuilder::scan(Arc::clone(&customers), "T1")
            .project(vec![
                t1("name"),
                exists(orders_of_outer(&customers, &orders).build()).alias("has_orders"),
                not_exists(big).alias("no_big"),
            ])
            .unwrap()
            .sort(vec![t1("name").sort_asc()])
            .unwrap()
            .build();
        let optimized = decorrelated(&plan);
        assert_snapshot!(optimized, @r"
        Sort: T1.name ASC NULLS LAST
          Projection: T1.name, __subquery1.__mark AS has_orders, NOT __subquery2.__mark AS no_big
            Join: LeftMark, on=[T1.id = __subquery2.__key1], mark=__subquery2.__mark
              Join: LeftMark, on=[T1.id = __subquery1.__key1], mark=__subquery1.__mark
                Scan: customer AS T1
                SubqueryAlias: __subquery1
                  Projection: U0.customer_id AS __key1
                    Scan: order AS U0
              SubqueryAlias: __subquery2
                Projection: U0.customer_id AS __key1
                  Filter: (U0.amount > 200)
                    Scan: order AS U0
        ");
        assert_snapshot!(run_both(&plan), @r"
        +------+------------+--------+
        | name | has_orders | no_big |
        +------+------------+--------+
        | Ann  | true       | false  |
        | Bob  | true       | true   |
        | Cid  | false      | true   |
        | Dee  | false      | true   |
        +------+------------+--------+
        ");
        // The optimized plan still has SQL: the marks are EXISTS tests in the select list.
        let optimized = Optimizer::with_rules(vec![Arc::new(DecorrelateSubqueries)])
            .optimize(Arc::clone(&plan), &BTreeSet::new())
            .unwrap();
        let sql = crate::sql::plan_to_sql(&optimized).unwrap();
        assert_eq!(sql.matches("EXISTS (SELECT").count(), 2, "{sql}");
        assert!(
            sql.contains(r#"WHERE ("T1"."id" = "__subquery1"."__key1")"#),
            "{sql}"
        );
        // The second mark reads the first one's row through the derived table.
        assert!(
            sql.contains(r#"WHERE ("subquery"."id" = "__subquery2"."__key1")"#),
            "{sql}"
        );
    }

    #[test]
    fn not_in_keeps_null_semantics() {
        let (customers, orders) = (customer(), order());
        // customer.id NOT IN (SELECT customer_id FROM order): a NULL customer_id makes the
        // test NULL for every customer not listed, so no row qualifies.
        let ids = LogicalPlanBuilder::scan(Arc::clone(&orders), "U0")
            .project(vec![u0("customer_id")])
            .unwrap()
            .build();
        let plan = LogicalPlanBuilder::scan(Arc::clone(&customers), "T1")
            .filter(in_subquery(t1("id"), Arc::clone(&ids), true))
            .unwrap()
            .project(vec![t1("name")])
            .unwrap()
            .build();
        // Uncorrelated and nullable: left to the evaluate-once path.
        assert!(decorrelated(&plan).contains("NOT IN (<subquery>)"));
        assert_eq!(run_both(&plan), "++\n++");
        // Without the NULL (`customer_id IS NOT NULL` in the subquery): Cid and Dee.
        let ids = LogicalPlanBuilder::scan(Arc::clone(&orders), "U0")
            .filter(u0("customer_id").is_not_null())
            .unwrap()
            .project(vec![u0("customer_id")])
            .unwrap()
            .build();
        let plan = LogicalPlanBuilder::scan(Arc::clone(&customers), "T1")
            .filter(in_subquery(t1("id"), ids, true))
            .unwrap()
            .project(vec![t1("name")])
            .unwrap()
            .build();
        assert_snapshot!(run_both(&plan), @r"
        +------+
        | name |
        +------+
        | Cid  |
        | Dee  |
        +------+
        ");
        // Correlated NOT IN with a nullable probe: region NOT IN (regions of customers with a
        // larger id). Bob's NULL region is NULL against a non-empty set; Dee has an empty set.
        let regions = LogicalPlanBuilder::scan(Arc::clone(&customers), "U0")
            .filter(u0("id").eq(outer_id().binary_op(Operator::Plus, lit(1i64))))
            .unwrap()
            .project(vec![u0("region")])
            .unwrap()
            .build();
        let plan = LogicalPlanBuilder::scan(Arc::clone(&customers), "T1")
            .filter(in_subquery(t1("region"), regions, true))
            .unwrap()
            .project(vec![t1("name")])
            .unwrap()
            .build();
        assert_snapshot!(decorrelated(&plan), @r"
        Projection: T1.name
          Join: LeftAnti, on=[(T1.id + 1) = U0.id], filter=(((T1.region = U0.region) OR T1.region IS NULL) OR U0.region IS NULL)
            Scan: customer AS T1
            Scan: customer AS U0
        ");
        assert_snapshot!(run_both(&plan), @r"
        +------+
        | name |
        +------+
        | Cid  |
        | Dee  |
        +------+
        ");
    }

    fn sum_amount() -> Expr {
        Expr::Aggregate(AggregateExpr::new(
            AggregateFunction::Sum,
            vec![u0("amount")],
        ))
    }

    fn count_star() -> Expr {
        Expr::Aggregate(AggregateExpr::new(AggregateFunction::Count, vec![]))
    }

    #[test]
    fn count_per_parent_is_zero_for_parents_without_rows() {
        let (customers, orders) = (customer(), order());
        let count = orders_of_outer(&customers, &orders)
            .aggregate(vec![], vec![count_star().alias("n")])
            .unwrap()
            .project(vec![col_n()])
            .unwrap()
            .build();
        let plan = LogicalPlanBuilder::scan(Arc::clone(&customers), "T1")
            .project(vec![t1("name"), scalar_subquery(count).alias("orders")])
            .unwrap()
            .sort(vec![t1("name").sort_asc()])
            .unwrap()
            .build();
        assert_snapshot!(decorrelated(&plan), @r"
        Sort: T1.name ASC NULLS LAST
          Projection: T1.name, CASE WHEN __subquery1.__present IS NULL THEN 0 ELSE __subquery1.__value END AS orders
            Join: Left, on=[T1.id = __subquery1.__key1]
              Scan: customer AS T1
              SubqueryAlias: __subquery1
                Projection: U0.customer_id AS __key1, n AS __value, true AS __present
                  Aggregate: groupBy=[U0.customer_id], aggr=[count(*) AS n]
                    Scan: order AS U0
        ");
        assert_snapshot!(run_both(&plan), @r"
        +------+--------+
        | name | orders |
        +------+--------+
        | Ann  | 3      |
        | Bob  | 1      |
        | Cid  | 0      |
        | Dee  | 0      |
        +------+--------+
        ");
    }

    fn col_n() -> Expr {
        crate::expr::col("n")
    }

    #[test]
    fn grouped_aggregate_idiom_becomes_a_grouped_left_join() {
        // filter(customer=OuterRef("pk")).order_by().values("customer").annotate(t=Sum(..)).values("t")
        let (customers, orders) = (customer(), order());
        let total = orders_of_outer(&customers, &orders)
            .aggregate(vec![u0("customer_id")], vec![sum_amount().alias("t")])
            .unwrap()
            .project(vec![crate::expr::col("t")])
            .unwrap()
            .build();
        let plan = LogicalPlanBuilder::scan(Arc::clone(&customers), "T1")
            .filter(scalar_subquery(total).gt(lit(50i64)))
            .unwrap()
            .project(vec![t1("name")])
            .unwrap()
            .build();
        assert_snapshot!(decorrelated(&plan), @r"
        Projection: T1.name
          Projection: T1.id, T1.name, T1.region
            Filter: (__subquery1.__value > 50)
              Join: Left, on=[T1.id = __subquery1.__key1]
                Scan: customer AS T1
                SubqueryAlias: __subquery1
                  Projection: U0.customer_id AS __key1, t AS __value
                    Aggregate: groupBy=[U0.customer_id], aggr=[sum(U0.amount) AS t]
                      Scan: order AS U0
        ");
        assert_snapshot!(run_both(&plan), @r"
        +------+
        | name |
        +------+
        | Ann  |
        +------+
        ");
    }

    #[test]
    fn latest_order_per_customer_is_a_first_per_key_join() {
        // Order.objects.filter(customer=OuterRef("pk")).order_by("-created").values("amount")[:1]
        let (customers, orders) = (customer(), order());
        let latest = orders_of_outer(&customers, &orders)
            .sort(vec![u0("created").sort_desc()])
            .unwrap()
            .project(vec![u0("amount")])
            .unwrap()
            .limit(0, Some(1))
            .build();
        let plan = LogicalPlanBuilder::scan(Arc::clone(&customers), "T1")
            .project(vec![t1("name"), scalar_subquery(latest).alias("latest")])
            .unwrap()
            .sort(vec![t1("name").sort_asc()])
            .unwrap()
            .build();
        assert_snapshot!(decorrelated(&plan), @r"
        Sort: T1.name ASC NULLS LAST
          Projection: T1.name, __subquery1.__value AS latest
            Join: Left, on=[T1.id = __subquery1.__key1]
              Scan: customer AS T1
              SubqueryAlias: __subquery1
                Projection: U0.customer_id AS __key1, U0.amount AS __value
                  DistinctOn: on=[U0.customer_id], order=[U0.created DESC NULLS FIRST]
                    Scan: order AS U0
        ");
        assert_snapshot!(run_both(&plan), @r"
        +------+--------+
        | name | latest |
        +------+--------+
        | Ann  | 250    |
        | Bob  | 40     |
        | Cid  |        |
        | Dee  |        |
        +------+--------+
        ");
    }

    /// `(SELECT region FROM customer U0 WHERE U0.id = T2.customer_id)` for every order.
    fn region_of_each_order(customers: &Arc<Table>, orders: &Arc<Table>) -> Arc<LogicalPlan> {
        let region = LogicalPlanBuilder::scan(Arc::clone(customers), "U0")
            .filter(u0("id").eq(outer_col(
                Column::qualified("T2", "customer_id"),
                DataType::Int64,
                true,
            )))
            .unwrap()
            .project(vec![u0("region")])
            .unwrap()
            .build();
        LogicalPlanBuilder::scan(Arc::clone(orders), "T2")
            .project(vec![
                qualified_col("T2", "id"),
                scalar_subquery(region).alias("region"),
            ])
            .unwrap()
            .sort(vec![qualified_col("T2", "id").sort_asc()])
            .unwrap()
            .build()
    }

    const REGION_OF_EACH_ORDER: &str = "\
+----+--------+
| id | region |
+----+--------+
| 10 | EU     |
| 11 | EU     |
| 12 |        |
| 13 | EU     |
| 14 |        |
+----+--------+";

    #[test]
    fn a_lookup_by_a_unique_key_is_a_plain_left_join() {
        // Order.objects.annotate(region=Subquery(Customer.objects.filter(pk=OuterRef("customer"))
        // .values("region"))): customer.id is the primary key, so no check is needed.
        let (customers, orders) = (customer(), order());
        customers.set_primary_key(0, "customer_pkey");
        let plan = region_of_each_order(&customers, &orders);
        assert_snapshot!(decorrelated(&plan), @r"
        Sort: T2.id ASC NULLS LAST
          Projection: T2.id, __subquery1.__value AS region
            Join: Left, on=[T2.customer_id = __subquery1.__key1]
              Scan: order AS T2
              SubqueryAlias: __subquery1
                Projection: U0.id AS __key1, U0.region AS __value
                  Scan: customer AS U0
        ");
        assert_eq!(run_both(&plan), REGION_OF_EACH_ORDER);
    }

    #[test]
    fn a_lookup_without_a_uniqueness_proof_counts_the_rows_per_key() {
        // The same lookup on a table that declares no key: the join counts each key's rows.
        let (customers, orders) = (customer(), order());
        let plan = region_of_each_order(&customers, &orders);
        assert_snapshot!(decorrelated(&plan), @r"
        Sort: T2.id ASC NULLS LAST
          Projection: T2.id, CASE WHEN (__subquery1.__rows > 1) THEN (<subquery>) ELSE __subquery1.__value END AS region
            Subquery:
              Limit: skip=0, fetch=2
                Projection: U0.region
                  Filter: (U0.id = outer_ref(T2.customer_id))
                    Scan: customer AS U0
            Join: Left, on=[T2.customer_id = __subquery1.__key1]
              Scan: order AS T2
              SubqueryAlias: __subquery1
                Projection: U0.id AS __key1, __rows, __value
                  Aggregate: groupBy=[U0.id], aggr=[count(*) AS __rows, min(U0.region) AS __value]
                    Scan: customer AS U0
        ");
        assert_eq!(run_both(&plan), REGION_OF_EACH_ORDER);
        // A unique constraint with a condition proves nothing.
        customers.add_unique_constraint(quiver_storage::UniqueConstraint {
            name: "customer_id_when_named".into(),
            columns: vec![0],
            condition: Some(Arc::new(|batch: &RecordBatch| {
                Ok(arrow::array::BooleanArray::from(vec![
                    true;
                    batch.num_rows()
                ]))
            })),
        });
        assert!(decorrelated(&plan).contains("__rows"));
    }

    /// `(SELECT amount FROM order U0 WHERE U0.customer_id = T1.id)` for the customers that
    /// `keep` lets through: Ann has three orders, Bob one, Cid and Dee none.
    fn amount_of_the_order(keep: Option<Expr>) -> Arc<LogicalPlan> {
        let (customers, orders) = (customer(), order());
        let amount = orders_of_outer(&customers, &orders)
            .project(vec![u0("amount")])
            .unwrap()
            .build();
        let mut builder = LogicalPlanBuilder::scan(Arc::clone(&customers), "T1");
        if let Some(keep) = keep {
            builder = builder.filter(keep).unwrap();
        }
        builder
            .project(vec![t1("name"), scalar_subquery(amount).alias("amount")])
            .unwrap()
            .sort(vec![t1("name").sort_asc()])
            .unwrap()
            .build()
    }

    fn run(plan: &Arc<LogicalPlan>, config: SessionConfig) -> crate::error::Result<String> {
        let result =
            SessionContext::with_config(Catalog::new(), config).execute(Arc::clone(plan))?;
        Ok(pretty_format_batches(&result.batches).unwrap().to_string())
    }

    #[test]
    fn more_than_one_row_is_an_error_only_for_an_outer_row_that_meets_it() {
        // Ann's three orders make her row an error, with and without the rule (PostgreSQL:
        // "more than one row returned by a subquery used as an expression").
        let plan = amount_of_the_order(None);
        assert!(decorrelated(&plan).contains("Aggregate: groupBy=[U0.customer_id]"));
        for config in [
            SessionConfig::new(),
            SessionConfig::new().disable_rule("decorrelate_subqueries"),
        ] {
            let err = run(&plan, config).unwrap_err();
            assert!(
                matches!(err, crate::error::EngineError::Execution(_)),
                "{err:?}"
            );
            assert_eq!(
                err.to_string(),
                "more than one row returned by a subquery used as an expression"
            );
        }
        // Without Ann the duplicates are never asked for: one value or NULL.
        let plan = amount_of_the_order(Some(t1("name").not_eq(lit("Ann"))));
        assert_snapshot!(run_both(&plan), @r"
        +------+--------+
        | name | amount |
        +------+--------+
        | Bob  | 40     |
        | Cid  |        |
        | Dee  |        |
        +------+--------+
        ");
    }

    #[test]
    fn a_lookup_in_a_filter_is_a_single_join_too() {
        // Order.objects.filter(Subquery(Customer.objects.filter(pk=OuterRef("customer"))
        // .values("region")) = "EU")
        let (customers, orders) = (customer(), order());
        let region = LogicalPlanBuilder::scan(Arc::clone(&customers), "U0")
            .filter(u0("id").eq(outer_col(
                Column::qualified("T2", "customer_id"),
                DataType::Int64,
                true,
            )))
            .unwrap()
            .project(vec![u0("region")])
            .unwrap()
            .build();
        let plan = LogicalPlanBuilder::scan(Arc::clone(&orders), "T2")
            .filter(scalar_subquery(region).eq(lit("EU")))
            .unwrap()
            .project(vec![qualified_col("T2", "id")])
            .unwrap()
            .sort(vec![qualified_col("T2", "id").sort_asc()])
            .unwrap()
            .build();
        assert!(
            decorrelated(&plan).contains("Join: Left, on=[T2.customer_id = __subquery1.__key1]")
        );
        assert_snapshot!(run_both(&plan), @r"
        +----+
        | id |
        +----+
        | 10 |
        | 11 |
        | 13 |
        +----+
        ");
    }

    #[test]
    fn what_cannot_be_decorrelated_runs_once_per_distinct_key() {
        // A correlation that is not an equality stays; results are still right.
        let (customers, orders) = (customer(), order());
        let outer_customer = || {
            outer_col(
                Column::qualified("T2", "customer_id"),
                DataType::Int64,
                true,
            )
        };
        let region = LogicalPlanBuilder::scan(Arc::clone(&customers), "U0")
            .filter(
                u0("id")
                    .gt_eq(outer_customer())
                    .and(u0("id").lt_eq(outer_customer())),
            )
            .unwrap()
            .project(vec![u0("region")])
            .unwrap()
            .build();
        let plan = LogicalPlanBuilder::scan(Arc::clone(&orders), "T2")
            .project(vec![
                qualified_col("T2", "id"),
                scalar_subquery(region).alias("region"),
            ])
            .unwrap()
            .sort(vec![qualified_col("T2", "id").sort_asc()])
            .unwrap()
            .build();
        assert!(decorrelated(&plan).contains("(<subquery>) AS region"));
        assert_eq!(run_both(&plan), REGION_OF_EACH_ORDER);
        // More than one row is an error, as in PostgreSQL.
        let all = LogicalPlanBuilder::scan(Arc::clone(&customers), "U0")
            .project(vec![u0("id")])
            .unwrap()
            .build();
        let plan = LogicalPlanBuilder::scan(Arc::clone(&orders), "T2")
            .project(vec![scalar_subquery(all).alias("x")])
            .unwrap()
            .build();
        let err = SessionContext::new(Catalog::new())
            .execute(plan)
            .unwrap_err();
        assert!(err.to_string().contains("more than one row"), "{err}");
    }

    #[test]
    fn nested_outer_references_reach_two_levels_out() {
        // Customers with an order whose amount exceeds every other customer's... simpler:
        // customers for which EXISTS(order o WHERE o.customer_id = T1.id AND EXISTS(customer c
        // WHERE c.id = o.customer_id AND c.region = T1.region)).
        let (customers, orders) = (customer(), order());
        let innermost = LogicalPlanBuilder::scan(Arc::clone(&customers), "V0")
            .filter(
                qualified_col("V0", "id")
                    .eq(outer_col(
                        Column::qualified("U0", "customer_id"),
                        DataType::Int64,
                        true,
                    ))
                    .and(qualified_col("V0", "region").eq(outer_col(
                        Column::qualified("T1", "region"),
                        DataType::Utf8,
                        true,
                    ))),
            )
            .unwrap()
            .build();
        let middle = orders_of_outer(&customers, &orders)
            .filter(exists(innermost))
            .unwrap()
            .build();
        let plan = LogicalPlanBuilder::scan(Arc::clone(&customers), "T1")
            .filter(exists(middle))
            .unwrap()
            .project(vec![t1("name")])
            .unwrap()
            .build();
        // Bob's region is NULL, so only Ann qualifies.
        assert_snapshot!(run_both(&plan), @r"
        +------+
        | name |
        +------+
        | Ann  |
        +------+
        ");
    }
}
