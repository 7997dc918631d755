//! [`InlineCtes`]: decides, for each common table expression, whether it is computed once
//! and shared (materialized) or inlined into every reference, as PostgreSQL 12+ does:
//!
//! - `CTE(qs, materialized=True)` is materialized;
//! - `CTE(qs, materialized=False)` is inlined;
//! - without the option, a CTE referenced once is inlined and one referenced more than once
//!   (anywhere in the query, subqueries included) is materialized.
//!
//! An inlined CTE becomes its query under the CTE's name (a `SubqueryAlias`, which keeps the
//! columns' qualification), so filters and projections push into it; a materialized one
//! stays a `Cte` node marked `materialized`, a boundary for pushdown that the physical planner
//! runs once for all its references (`physical_plan/cte.rs`).
//!
//! ```text
//! before                                        after (referenced once)
//! Filter: totals.total > 30                     SubqueryAlias: totals
//!   Cte: totals                                   Filter: total > 30   (then into the HAVING)
//!     Aggregate: …                                  Aggregate: …
//! ```
//!
//! With the rule switched off every `Cte` node stays as written: an explicit
//! `materialized=True` is still shared, anything else is recomputed per reference.

use std::collections::HashMap;
use std::sync::Arc;

use super::OptimizerRule;
use crate::error::Result;
use crate::expr::{Expr, Subquery, Transformed};
use crate::logical_plan::{Cte, LogicalPlan, SubqueryAlias};

/// CTE materialization; see the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct InlineCtes;

impl OptimizerRule for InlineCtes {
    fn name(&self) -> &'static str {
        "inline_ctes"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
        let mut references = HashMap::new();
        count_references(&plan, &mut references);
        if references.is_empty() {
            return Ok(Transformed::no(plan));
        }
        decide(&plan, &references)
    }
}

/// A CTE's identity within one query: its name and its query's text (two CTEs of the same
/// name in different scopes are different CTEs).
fn key(cte: &Cte) -> (String, String) {
    (cte.name.clone(), cte.input.display_indent())
}

/// The subquery plans inside `expr`.
fn subquery_plans(expr: &Expr) -> Vec<Arc<LogicalPlan>> {
    let mut plans = Vec::new();
    expr.visit(&mut |e| {
        match e {
            Expr::ScalarSubquery(s) => plans.push(Arc::clone(&s.plan)),
            Expr::Exists(x) => plans.push(Arc::clone(&x.subquery.plan)),
            Expr::InSubquery(i) => plans.push(Arc::clone(&i.subquery.plan)),
            _ => {}
        }
        true
    });
    plans
}

fn count_references(plan: &Arc<LogicalPlan>, references: &mut HashMap<(String, String), usize>) {
    if let LogicalPlan::Cte(cte) = plan.as_ref() {
        *references.entry(key(cte)).or_default() += 1;
    }
    for expr in plan.expressions() {
        for subquery in subquery_plans(&expr) {
            count_references(&subquery, references);
        }
    }
    for input in plan.inputs() {
        count_references(input, references);
    }
}

/// Rewrites the plan top-down (a CTE is looked up by its query as written, before the CTEs
/// inside it are decided).
fn decide(
    plan: &Arc<LogicalPlan>,
    references: &HashMap<(String, String), usize>,
) -> Result<Transformed<Arc<LogicalPlan>>> {
    if let LogicalPlan::Cte(cte) = plan.as_ref() {
        let shared = references.get(&key(cte)).copied().unwrap_or(1) > 1;
        let materialize = cte.materialized.unwrap_or(shared);
        let input = decide(&cte.input, references)?;
        if !materialize {
            return Ok(Transformed::yes(Arc::new(LogicalPlan::SubqueryAlias(
                SubqueryAlias::new(input.data, cte.name.clone()),
            ))));
        }
        if cte.materialized == Some(true) && !input.transformed {
            return Ok(Transformed::no(Arc::clone(plan)));
        }
        return Ok(Transformed::yes(Arc::new(LogicalPlan::Cte(Cte::new(
            cte.name.clone(),
            input.data,
            Some(true),
        )))));
    }
    let mut changed = false;
    let mut inputs = Vec::new();
    for input in plan.inputs() {
        let t = decide(input, references)?;
        changed |= t.transformed;
        inputs.push(t.data);
    }
    let node = if changed {
        Arc::new(plan.with_new_inputs(inputs)?)
    } else {
        Arc::clone(plan)
    };
    let t = node.map_expressions(&mut |e| decide_in_subqueries(e, references))?;
    Ok(Transformed {
        data: t.data,
        transformed: t.transformed || changed,
    })
}

/// Applies [`decide`] to the plans of the subqueries inside `expr`.
fn decide_in_subqueries(
    expr: Expr,
    references: &HashMap<(String, String), usize>,
) -> Result<Transformed<Expr>> {
    if subquery_plans(&expr).is_empty() {
        return Ok(Transformed::no(expr));
    }
    expr.transform_up(&mut |e| match e {
        Expr::ScalarSubquery(s) => {
            Ok(decide(&s.plan, references)?.map(|plan| Expr::ScalarSubquery(Subquery::new(plan))))
        }
        Expr::Exists(mut x) => {
            let t = decide(&x.subquery.plan, references)?;
            x.subquery = Subquery::new(t.data);
            Ok(Transformed {
                data: Expr::Exists(x),
                transformed: t.transformed,
            })
        }
        Expr::InSubquery(mut i) => {
            let t = decide(&i.subquery.plan, references)?;
            i.subquery = Subquery::new(t.data);
            Ok(Transformed {
                data: Expr::InSubquery(i),
                transformed: t.transformed,
            })
        }
        other => Ok(Transformed::no(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{col, lit, qualified_col};
    use crate::logical_plan::{JoinType, LogicalPlanBuilder};
    use crate::optimizer::utils::fixtures::author_scan;

    fn cte(materialized: Option<bool>) -> Arc<LogicalPlan> {
        let query = author_scan()
            .filter(col("age").gt(lit(30i64)))
            .unwrap()
            .build();
        Arc::new(LogicalPlan::Cte(Cte::new("older", query, materialized)))
    }

    fn decided(plan: Arc<LogicalPlan>) -> String {
        InlineCtes.rewrite(plan).unwrap().data.display_indent()
    }

    #[test]
    fn a_cte_read_once_is_inlined_unless_materialized() {
        for materialized in [None, Some(false)] {
            let text = decided(cte(materialized));
            assert!(text.starts_with("SubqueryAlias: older"), "{text}");
            assert!(!text.contains("Cte"), "{text}");
        }
        let text = decided(cte(Some(true)));
        assert!(text.starts_with("Cte: older materialized"), "{text}");
        // Already decided: nothing changes on the next pass.
        assert!(!InlineCtes.rewrite(cte(Some(true))).unwrap().transformed);
    }

    #[test]
    fn a_cte_read_twice_is_materialized_unless_told_otherwise() {
        let self_join = |materialized| {
            LogicalPlanBuilder::from(cte(materialized))
                .join(
                    LogicalPlanBuilder::from(cte(materialized))
                        .alias("again")
                        .build(),
                    JoinType::Inner,
                    vec![(qualified_col("older", "id"), qualified_col("again", "id"))],
                    None,
                )
                .unwrap()
                .build()
        };
        let text = decided(self_join(None));
        assert_eq!(text.matches("Cte: older materialized").count(), 2, "{text}");
        let text = decided(self_join(Some(false)));
        assert_eq!(text.matches("SubqueryAlias: older").count(), 2, "{text}");
        assert!(!text.contains("Cte:"), "{text}");
    }
}
