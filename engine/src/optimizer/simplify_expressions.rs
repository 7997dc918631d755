//! [`SimplifyExpressions`]: folds constant subexpressions and simplifies boolean logic, so that
//! later rules see `T0.age > 5` rather than `T0.age > 2 + 3` (chunk pruning needs a literal),
//! and filters that are always true or never true disappear.
//!
//! ```text
//! before                                    after
//! Filter: ((T0.age > (2 + 3)) AND true)      Filter: (T0.age > 5)
//!   Scan: author AS T0                         Scan: author AS T0
//!
//! Filter: (T0.id IN () OR false)             Values: rows=0
//!   Scan: author AS T0
//!
//! Projection: NOT (T0.age < 18)              Projection: (T0.age >= 18) AS NOT (T0.age < 18)
//!   Scan: author AS T0                         Scan: author AS T0
//! ```
//!
//! Constants are evaluated by the physical expression evaluator on a one-row batch, so folding
//! computes exactly what execution would. An expression whose evaluation fails (`1 / 0`,
//! `CAST('x' AS INT)`) is left alone: the error belongs to run time, and only if the query
//! reaches it. Every boolean rewrite holds under SQL's three-valued logic (`NOT (a < b)` is
//! `a >= b` because both are NULL when an operand is). A rewritten projection or aggregate
//! expression keeps its output name through an alias, so the plan's schema never changes.

use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::datatypes::{DataType, Schema};
use quiver_storage::ScalarValue;

use super::utils::empty_relation;
use super::OptimizerRule;
use crate::error::Result;
use crate::expr::type_coercion::comparison_common_type;
use crate::expr::{BinaryExpr, Expr, InList, Operator, SortExpr, Transformed};
use crate::logical_plan::{
    Aggregate, Filter, Join, LogicalPlan, PlanSchema, Projection, Scan, Sort,
};
use crate::physical_expr::{create_physical_expr, ColumnarValue};

/// Constant folding and boolean simplification; see the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct SimplifyExpressions;

impl OptimizerRule for SimplifyExpressions {
    fn name(&self) -> &'static str {
        "simplify_expressions"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
        plan.transform_up(&mut simplify_node)
    }
}

fn simplify_node(plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
    let node = match plan.as_ref() {
        LogicalPlan::Filter(filter) => {
            let predicate = simplify(filter.predicate.clone(), filter.input.schema())?;
            match boolean_literal(&predicate.data) {
                Some(Some(true)) => return Ok(Transformed::yes(Arc::clone(&filter.input))),
                Some(_) => return Ok(Transformed::yes(empty_relation(plan.schema())?)),
                None if !predicate.transformed => return Ok(Transformed::no(plan)),
                None => {
                    LogicalPlan::Filter(Filter::try_new(Arc::clone(&filter.input), predicate.data)?)
                }
            }
        }
        LogicalPlan::Projection(projection) => {
            let schema = projection.input.schema();
            let exprs = simplify_all(&projection.exprs, |e| simplify_named(e, schema))?;
            let Some(exprs) = exprs else {
                return Ok(Transformed::no(plan));
            };
            LogicalPlan::Projection(Projection::try_new(Arc::clone(&projection.input), exprs)?)
        }
        LogicalPlan::Aggregate(aggregate) => {
            let schema = aggregate.input.schema();
            let group_exprs = simplify_all(&aggregate.group_exprs, |e| simplify_named(e, schema))?;
            let aggr_exprs = simplify_all(&aggregate.aggr_exprs, |e| simplify_named(e, schema))?;
            if group_exprs.is_none() && aggr_exprs.is_none() {
                return Ok(Transformed::no(plan));
            }
            LogicalPlan::Aggregate(Aggregate::try_new(
                Arc::clone(&aggregate.input),
                group_exprs.unwrap_or_else(|| aggregate.group_exprs.clone()),
                aggr_exprs.unwrap_or_else(|| aggregate.aggr_exprs.clone()),
            )?)
        }
        LogicalPlan::Sort(sort) => {
            let schema = sort.input.schema();
            let mut changed = false;
            let mut exprs = Vec::with_capacity(sort.exprs.len());
            for key in &sort.exprs {
                let t = simplify(key.expr.clone(), schema)?;
                changed |= t.transformed;
                exprs.push(SortExpr::new(t.data, key.asc, key.nulls_first));
            }
            if !changed {
                return Ok(Transformed::no(plan));
            }
            LogicalPlan::Sort(Sort {
                input: Arc::clone(&sort.input),
                exprs,
                fetch: sort.fetch,
            })
        }
        LogicalPlan::Join(join) => {
            let (left, right) = (join.left.schema(), join.right.schema());
            let mut changed = false;
            let mut on = Vec::with_capacity(join.on.len());
            for (l, r) in &join.on {
                let l = simplify(l.clone(), left)?;
                let r = simplify(r.clone(), right)?;
                changed |= l.transformed || r.transformed;
                on.push((l.data, r.data));
            }
            let mut filter = None;
            if let Some(f) = &join.filter {
                let t = simplify(f.clone(), &left.join(right))?;
                changed |= t.transformed;
                // An ON condition that always holds is no condition at all.
                if boolean_literal(&t.data) == Some(Some(true)) {
                    changed = true;
                } else {
                    filter = Some(t.data);
                }
            }
            if !changed {
                return Ok(Transformed::no(plan));
            }
            LogicalPlan::Join(Join::try_new(
                Arc::clone(&join.left),
                Arc::clone(&join.right),
                on,
                filter,
                join.join_type,
            )?)
        }
        LogicalPlan::Scan(scan) => {
            let schema = scan.table_schema();
            let mut changed = false;
            let mut filters = Vec::with_capacity(scan.filters.len());
            for f in &scan.filters {
                let t = simplify(f.clone(), &schema)?;
                changed |= t.transformed;
                match boolean_literal(&t.data) {
                    Some(Some(true)) => changed = true,
                    Some(_) => return Ok(Transformed::yes(empty_relation(plan.schema())?)),
                    None => filters.push(t.data),
                }
            }
            if !changed {
                return Ok(Transformed::no(plan));
            }
            LogicalPlan::Scan(Scan {
                filters,
                ..scan.clone()
            })
        }
        LogicalPlan::Limit(_)
        | LogicalPlan::Distinct(_)
        | LogicalPlan::Values(_)
        | LogicalPlan::SubqueryAlias(_)
        | LogicalPlan::Window(_)
        | LogicalPlan::DistinctOn(_)
        | LogicalPlan::Union(_)
        | LogicalPlan::Intersect(_)
        | LogicalPlan::Except(_)
        | LogicalPlan::Cte(_)
        | LogicalPlan::RecursiveQuery(_)
        | LogicalPlan::WorkTable(_) => return Ok(Transformed::no(plan)),
    };
    Ok(Transformed::yes(Arc::new(node)))
}

/// Applies `f` to every expression; `None` when none changed.
fn simplify_all(
    exprs: &[Expr],
    mut f: impl FnMut(Expr) -> Result<Transformed<Expr>>,
) -> Result<Option<Vec<Expr>>> {
    let mut changed = false;
    let mut out = Vec::with_capacity(exprs.len());
    for e in exprs {
        let t = f(e.clone())?;
        changed |= t.transformed;
        out.push(t.data);
    }
    Ok(changed.then_some(out))
}

/// Simplifies an output expression and keeps its output name (and with it the plan schema):
/// `(1 + 2)` becomes `3 AS "(1 + 2)"`.
fn simplify_named(expr: Expr, schema: &PlanSchema) -> Result<Transformed<Expr>> {
    let name = expr.output_name();
    let t = simplify(expr, schema)?;
    if !t.transformed {
        return Ok(t);
    }
    let data = t.data;
    // A bare column would also bring its relation into the output field, so it is aliased
    // even when the name already matches.
    if matches!(data, Expr::Column(_)) || data.output_name() != name {
        return Ok(Transformed::yes(data.alias(name)));
    }
    Ok(Transformed::yes(data))
}

/// Simplifies one expression over rows of `schema`, bottom-up.
pub(crate) fn simplify(expr: Expr, schema: &PlanSchema) -> Result<Transformed<Expr>> {
    expr.transform_up(&mut |e| {
        let mut e = e;
        let mut changed = false;
        // Each rewrite makes the node smaller or moves a NOT inwards, so this ends.
        while let Some(next) = simplify_once(&e, schema) {
            e = next;
            changed = true;
        }
        Ok(Transformed {
            data: e,
            transformed: changed,
        })
    })
}

/// One rewrite of the node `e` (whose children are already simplified), if any applies.
fn simplify_once(e: &Expr, schema: &PlanSchema) -> Option<Expr> {
    let is_boolean = |e: &Expr| matches!(e.data_type(schema), Ok(DataType::Boolean));
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if *op == Operator::And => {
            let (l, r) = (boolean_literal(left), boolean_literal(right));
            // FALSE AND anything is FALSE, even NULL AND FALSE.
            if l == Some(Some(false)) || r == Some(Some(false)) {
                return Some(Expr::Literal(ScalarValue::Boolean(Some(false))));
            }
            if l == Some(Some(true)) && is_boolean(right) {
                return Some(right.as_ref().clone());
            }
            if r == Some(Some(true)) && is_boolean(left) {
                return Some(left.as_ref().clone());
            }
            fold(e)
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if *op == Operator::Or => {
            let (l, r) = (boolean_literal(left), boolean_literal(right));
            // TRUE OR anything is TRUE, even TRUE OR NULL.
            if l == Some(Some(true)) || r == Some(Some(true)) {
                return Some(Expr::Literal(ScalarValue::Boolean(Some(true))));
            }
            if l == Some(Some(false)) && is_boolean(right) {
                return Some(right.as_ref().clone());
            }
            if r == Some(Some(false)) && is_boolean(left) {
                return Some(left.as_ref().clone());
            }
            fold(e)
        }
        Expr::Not(inner) => match inner.as_ref() {
            Expr::Not(x) if is_boolean(x) => Some(x.as_ref().clone()),
            // NULL stays NULL on both sides, and comparisons use one total order (NaN
            // included), so the negated comparison is exact.
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op.negate() {
                Some(negated) => Some(Expr::BinaryExpr(BinaryExpr {
                    left: left.clone(),
                    op: negated,
                    right: right.clone(),
                })),
                None => fold(e),
            },
            Expr::IsNull(x) => Some(Expr::IsNotNull(x.clone())),
            Expr::IsNotNull(x) => Some(Expr::IsNull(x.clone())),
            Expr::InList(list) => Some(Expr::InList(InList {
                negated: !list.negated,
                ..list.clone()
            })),
            Expr::Like(like) => {
                let mut like = like.clone();
                like.negated = !like.negated;
                Some(Expr::Like(like))
            }
            Expr::RegexMatch(regex) => {
                let mut regex = regex.clone();
                regex.negated = !regex.negated;
                Some(Expr::RegexMatch(regex))
            }
            _ => fold(e),
        },
        Expr::InList(list) if list.list.is_empty() => {
            // Nothing is in an empty list, not even NULL.
            Some(Expr::Literal(ScalarValue::Boolean(Some(list.negated))))
        }
        Expr::InList(list) if list.list.len() == 1 => {
            let item = &list.list[0];
            let comparable = match (list.expr.data_type(schema), item.data_type(schema)) {
                (Ok(l), Ok(r)) => comparison_common_type(&l, &r).is_some(),
                _ => false,
            };
            if !comparable {
                return fold(e);
            }
            let op = if list.negated {
                Operator::NotEq
            } else {
                Operator::Eq
            };
            Some(list.expr.as_ref().clone().binary_op(op, item.clone()))
        }
        _ => fold(e),
    }
}

/// `Some(Some(b))` for a boolean literal, `Some(None)` for a NULL literal of boolean or unknown
/// type, `None` for anything else.
fn boolean_literal(e: &Expr) -> Option<Option<bool>> {
    match e {
        Expr::Literal(ScalarValue::Boolean(v)) => Some(*v),
        Expr::Literal(ScalarValue::Null) => Some(None),
        _ => None,
    }
}

/// Evaluates `e` when all its children are literals. `None` when it is not constant, when
/// evaluation fails (the error is left for run time) or when the value would not have
/// exactly the expression's type.
fn fold(e: &Expr) -> Option<Expr> {
    let constant = match e {
        Expr::Column(_)
        | Expr::Literal(_)
        | Expr::Aggregate(_)
        | Expr::WindowFunction(_)
        | Expr::Alias(_)
        | Expr::OuterColumn(_)
        | Expr::ScalarSubquery(_)
        | Expr::Exists(_)
        | Expr::InSubquery(_) => false,
        other => other
            .children()
            .iter()
            .all(|c| matches!(c, Expr::Literal(_))),
    };
    if !constant || super::utils::is_volatile(e) {
        return None;
    }
    let schema = PlanSchema::empty();
    let expected = e.data_type(&schema).ok()?;
    let physical = create_physical_expr(e, &schema).ok()?;
    let batch = RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )
    .ok()?;
    let value = match physical.evaluate(&batch).ok()? {
        ColumnarValue::Scalar(v) => v,
        ColumnarValue::Array(a) if a.len() == 1 => {
            ScalarValue::try_from_array(a.as_ref(), 0).ok()?
        }
        ColumnarValue::Array(_) => return None,
    };
    (value.data_type() == expected).then_some(Expr::Literal(value))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use insta::assert_snapshot;

    use super::*;
    use crate::expr::{col, lit, qualified_col};
    use crate::optimizer::utils::fixtures::{author_scan, optimize_with};

    fn simplified(expr: Expr) -> String {
        let scan = author_scan().build();
        simplify(expr, scan.schema()).unwrap().data.to_string()
    }

    #[test]
    fn boolean_identities() {
        let age = || col("age").gt(lit(30i32));
        assert_eq!(simplified(age().and(lit(true))), "(age > 30)");
        assert_eq!(simplified(lit(true).and(age())), "(age > 30)");
        assert_eq!(simplified(age().or(lit(false))), "(age > 30)");
        assert_eq!(simplified(lit(false).and(age())), "false");
        assert_eq!(simplified(age().and(lit(false))), "false");
        assert_eq!(simplified(lit(true).or(age())), "true");
        assert_eq!(simplified(age().not().not()), "(age > 30)");
        // NULL AND TRUE is NULL, not TRUE: only the known-true side goes.
        assert_eq!(
            simplified(lit(ScalarValue::Boolean(None)).and(age())),
            "(NULL AND (age > 30))"
        );
    }

    #[test]
    fn negations_move_into_comparisons() {
        assert_eq!(simplified(col("age").lt(lit(3i32)).not()), "(age >= 3)");
        assert_eq!(simplified(col("age").eq(lit(3i32)).not()), "(age <> 3)");
        assert_eq!(simplified(col("age").is_null().not()), "age IS NOT NULL");
        assert_eq!(
            simplified(col("age").in_list(vec![lit(1i32), lit(2i32)], false).not()),
            "age NOT IN (1, 2)"
        );
        // NOT (a AND b) is left for three-valued-logic-aware rules that need it.
        assert_eq!(
            simplified(col("age").gt(lit(1i32)).and(col("id").gt(lit(1i64))).not()),
            "NOT ((age > 1) AND (id > 1))"
        );
    }

    #[test]
    fn in_lists() {
        assert_eq!(simplified(col("age").in_list(vec![], false)), "false");
        assert_eq!(simplified(col("age").in_list(vec![], true)), "true");
        assert_eq!(
            simplified(col("age").in_list(vec![lit(7i32)], false)),
            "(age = 7)"
        );
        assert_eq!(
            simplified(col("age").in_list(vec![lit(7i32)], true)),
            "(age <> 7)"
        );
        // Not comparable: left for the type checker to report, not rewritten into an error.
        assert_eq!(
            simplified(col("age").in_list(vec![lit("x")], false)),
            "age IN ('x')"
        );
    }

    #[test]
    fn filters_that_always_hold_or_never_hold() {
        let plan = author_scan()
            .filter(col("age").gt(lit(3i32)).or(lit(false)).and(lit(true)))
            .unwrap()
            .filter(lit(true))
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(SimplifyExpressions, plan), @r"
        Filter: (age > 3)
          Scan: author AS T0
        ");

        let plan = author_scan()
            .filter(col("age").in_list(vec![], false))
            .unwrap()
            .project(vec![col("name")])
            .unwrap()
            .build();
        let optimized = optimize_with(SimplifyExpressions, Arc::clone(&plan));
        assert_snapshot!(optimized, @r"
        Projection: name
          Values: rows=0
        ");

        // A NULL predicate keeps no row either.
        let plan = author_scan()
            .filter(lit(ScalarValue::Null))
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(SimplifyExpressions, plan), @"Values: rows=0");
    }

    #[test]
    fn empty_values_keep_qualified_columns() {
        let plan = author_scan()
            .filter(lit(false))
            .unwrap()
            .filter(qualified_col("T0", "age").gt(lit(1i32)))
            .unwrap()
            .build();
        let optimizer =
            crate::optimizer::Optimizer::with_rules(vec![Arc::new(SimplifyExpressions)]);
        let optimized = optimizer.optimize(plan, &BTreeSet::new()).unwrap();
        assert_eq!(
            optimized.schema().to_string(),
            "[T0.id:Int64, T0.name:Utf8, T0.age:Int32;N]"
        );
    }

    #[test]
    fn projections_keep_their_names() {
        let plan = author_scan()
            .project(vec![
                col("age").gt(lit(1i32)).and(lit(true)),
                col("name").alias("n"),
                col("id").in_list(vec![lit(1i64)], false).alias("one"),
            ])
            .unwrap()
            .build();
        let before = plan.schema().to_string();
        let optimizer =
            crate::optimizer::Optimizer::with_rules(vec![Arc::new(SimplifyExpressions)]);
        let optimized = optimizer.optimize(plan, &BTreeSet::new()).unwrap();
        assert_snapshot!(optimized.to_string(), @r#"
        Projection: (age > 1) AS ((age > 1) AND true), name AS n, (id = 1) AS one
          Scan: author AS T0
        "#);
        assert_eq!(optimized.schema().to_string(), before);
    }

    #[test]
    fn errors_are_left_for_run_time() {
        // Whether or not the evaluator can run it yet, 1 / 0 must never be folded away.
        let e = lit(1i64) / lit(0i64);
        assert_eq!(simplified(e.clone()), "(1 / 0)");
        assert_eq!(simplified(col("id").gt(e)), "(id > (1 / 0))");
    }

    #[test]
    fn folds_constants() {
        assert_eq!(simplified(col("id").gt(lit(2i64) + lit(3i64))), "(id > 5)");
        assert_eq!(
            simplified(col("id").gt(lit(2i64) * lit(3i64) - lit(1i64))),
            "(id > 5)"
        );
        assert_eq!(simplified(lit(1i64).lt(lit(2i64)).not()), "false");
        // Casts of literals become typed literals, which chunk pruning can use.
        let date = lit("2024-01-01").cast_to(DataType::Date32);
        assert_eq!(
            simplified(
                qualified_col("T0", "id")
                    .is_null()
                    .or(date.clone().is_null())
            ),
            "T0.id IS NULL"
        );
        assert_eq!(simplified(date), "DATE '2024-01-01'");
        // A cast that fails is a run-time error, kept for run time.
        let bad = lit("x").cast_to(DataType::Int32);
        assert_eq!(simplified(bad), "CAST('x' AS Int32)");
        // NULL propagates through folding with its type.
        assert_eq!(
            simplified(lit(ScalarValue::Int64(None)) + lit(1i64)),
            "NULL"
        );
        let plan = author_scan()
            .project(vec![lit(1i64) + lit(2i64)])
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(SimplifyExpressions, plan), @r#"
        Projection: 3 AS (1 + 2)
          Scan: author AS T0
        "#);
    }
}
