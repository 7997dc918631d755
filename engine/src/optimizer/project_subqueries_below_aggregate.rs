//! [`ProjectSubqueriesBelowAggregate`]: moves the subqueries of an `Aggregate`'s group keys
//! and aggregate arguments into a `Projection` under it, where
//! [`DecorrelateSubqueries`](super::DecorrelateSubqueries) turns them into joins.
//!
//! Django groups by an annotation as a whole, so `Customer.annotate(n=Subquery(count per
//! customer)).values("n").annotate(c=Count("*"))` (TPC-H Q13) puts a correlated subquery in
//! a GROUP BY key, and `Sum(F("x") - Subquery(...))` (Q9) puts one in an aggregate's
//! argument. Left there, the subquery runs once per distinct outer key: a nested loop over
//! the subquery's table. Computed by a projection first, it is an ordinary column to group
//! by or to sum, and decorrelation gives it a hash join.
//!
//! ```text
//! before                                              after
//! Aggregate: groupBy=[coalesce((<subquery>), 0)       Aggregate: groupBy=[__subquery_input0 AS
//!            AS n], aggr=[count(*)]                              n], aggr=[count(*)]
//!   Subquery: …outer_ref(T1.id)…                        Projection: T1.id, T1.name,
//!   Scan: customer AS T1                                            coalesce((<subquery>), 0)
//!                                                                   AS __subquery_input0
//!                                                         Subquery: …outer_ref(T1.id)…
//!                                                         Scan: customer AS T1
//! ```
//!
//! The aggregate's output keeps its names and types: a rewritten expression is aliased with
//! the name it had. The projection passes every input column through, so the other
//! expressions read what they read before.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::OptimizerRule;
use crate::error::Result;
use crate::expr::{col, Expr, Transformed};
use crate::logical_plan::{Aggregate, LogicalPlan, Projection};

/// Moves subqueries out of aggregates into a projection below; see the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProjectSubqueriesBelowAggregate;

impl OptimizerRule for ProjectSubqueriesBelowAggregate {
    fn name(&self) -> &'static str {
        "project_subqueries_below_aggregate"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
        plan.transform_up(&mut |node| match node.as_ref() {
            LogicalPlan::Aggregate(aggregate)
                if aggregate
                    .group_exprs
                    .iter()
                    .chain(&aggregate.aggr_exprs)
                    .any(Expr::contains_subquery) =>
            {
                Ok(Transformed::yes(project_below(aggregate)?))
            }
            _ => Ok(Transformed::no(node)),
        })
    }
}

/// The expressions moved into the projection, each under a fresh column name.
struct Moved {
    taken: BTreeSet<String>,
    exprs: Vec<Expr>,
}

impl Moved {
    /// A column reading `expr`, which the projection computes.
    fn column_for(&mut self, expr: Expr) -> Expr {
        let mut index = self.exprs.len();
        let mut name = format!("__subquery_input{index}");
        while self.taken.contains(&name) {
            index += 1;
            name = format!("__subquery_input{index}");
        }
        self.taken.insert(name.clone());
        self.exprs.push(expr.alias(name.as_str()));
        col(name)
    }
}

fn project_below(aggregate: &Aggregate) -> Result<Arc<LogicalPlan>> {
    let input_schema = aggregate.input.schema();
    let mut moved = Moved {
        taken: input_schema
            .fields()
            .iter()
            .map(|f| f.name().to_string())
            .collect(),
        exprs: vec![],
    };
    let keep_name = |new: Expr, old: &Expr| {
        if new.output_name() == old.output_name() {
            new
        } else {
            new.alias(old.output_name())
        }
    };
    let mut group_exprs = Vec::with_capacity(aggregate.group_exprs.len());
    for old in &aggregate.group_exprs {
        let new = match old {
            Expr::Alias(alias) if alias.expr.contains_subquery() => {
                moved.column_for(alias.expr.as_ref().clone())
            }
            e if e.contains_subquery() => moved.column_for(e.clone()),
            e => e.clone(),
        };
        group_exprs.push(keep_name(new, old));
    }
    let mut aggr_exprs = Vec::with_capacity(aggregate.aggr_exprs.len());
    for old in &aggregate.aggr_exprs {
        // The subquery sits inside the aggregate call (its arguments or FILTER); an
        // aggregate cannot be computed by the projection, its inputs can.
        let new = old
            .clone()
            .transform_down(&mut |e| match e {
                Expr::Aggregate(mut call) => {
                    for arg in &mut call.args {
                        if arg.contains_subquery() {
                            *arg = moved.column_for(arg.clone());
                        }
                    }
                    if let Some(filter) = &mut call.filter {
                        if filter.contains_subquery() {
                            **filter = moved.column_for(filter.as_ref().clone());
                        }
                    }
                    Ok(Transformed::yes(Expr::Aggregate(call)))
                }
                other => Ok(Transformed::no(other)),
            })?
            .data;
        aggr_exprs.push(keep_name(new, old));
    }
    let mut projected: Vec<Expr> = input_schema
        .fields()
        .iter()
        .map(|f| Expr::Column(f.column()))
        .collect();
    projected.extend(moved.exprs);
    let projection = Arc::new(LogicalPlan::Projection(Projection::try_new(
        Arc::clone(&aggregate.input),
        projected,
    )?));
    Ok(Arc::new(LogicalPlan::Aggregate(Aggregate::try_new(
        projection,
        group_exprs,
        aggr_exprs,
    )?)))
}

#[cfg(test)]
mod tests {
    use arrow::array::{ArrayRef, Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::util::pretty::pretty_format_batches;
    use quiver_storage::{Catalog, Table};

    use super::*;
    use crate::expr::{
        lit, outer_col, qualified_col, scalar_subquery, AggregateExpr, AggregateFunction, Column,
        ScalarFunction,
    };
    use crate::logical_plan::LogicalPlanBuilder;
    use crate::optimizer::{DecorrelateSubqueries, Optimizer};
    use crate::{SessionConfig, SessionContext};

    fn table(name: &str, columns: &[&str], rows: Vec<Vec<Option<i64>>>) -> Arc<Table> {
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|c| Field::new(*c, DataType::Int64, true))
                .collect::<Vec<_>>(),
        ));
        let table = Arc::new(Table::new(name, Arc::clone(&schema)));
        let arrays: Vec<ArrayRef> = (0..columns.len())
            .map(|i| {
                Arc::new(Int64Array::from(
                    rows.iter().map(|row| row[i]).collect::<Vec<_>>(),
                )) as ArrayRef
            })
            .collect();
        table
            .append(&[RecordBatch::try_new(schema, arrays).unwrap()])
            .unwrap();
        table
    }

    /// TPC-H Q13's shape over customers 1–4 (orders: 1 has three, 2 has one, 3 and 4 none):
    /// how many customers have each number of orders.
    fn customers_per_order_count() -> Arc<LogicalPlan> {
        let customers = table(
            "customer",
            &["id"],
            (1..=4).map(|i| vec![Some(i)]).collect(),
        );
        let orders = table(
            "order",
            &["id", "customer_id"],
            vec![
                vec![Some(10), Some(1)],
                vec![Some(11), Some(1)],
                vec![Some(12), Some(2)],
                vec![Some(13), Some(1)],
                vec![Some(14), None],
            ],
        );
        let count_per_customer = LogicalPlanBuilder::scan(orders, "U0")
            .filter(qualified_col("U0", "customer_id").eq(outer_col(
                Column::qualified("T1", "id"),
                DataType::Int64,
                false,
            )))
            .unwrap()
            .aggregate(
                vec![qualified_col("U0", "customer_id")],
                vec![
                    Expr::Aggregate(AggregateExpr::new(AggregateFunction::Count, vec![]))
                        .alias("n"),
                ],
            )
            .unwrap()
            .project(vec![col("n")])
            .unwrap()
            .build();
        let order_count = Expr::ScalarFunction(crate::expr::ScalarFunctionExpr {
            func: ScalarFunction::Coalesce,
            args: vec![scalar_subquery(count_per_customer), lit(0i64)],
        });
        LogicalPlanBuilder::scan(customers, "T1")
            .aggregate(
                vec![order_count.alias("orders")],
                vec![
                    Expr::Aggregate(AggregateExpr::new(AggregateFunction::Count, vec![]))
                        .alias("customers"),
                ],
            )
            .unwrap()
            .sort(vec![col("orders").sort_asc()])
            .unwrap()
            .build()
    }

    #[test]
    fn a_subquery_group_key_is_projected_then_joined() {
        let plan = customers_per_order_count();
        let optimizer = Optimizer::with_rules(vec![
            Arc::new(ProjectSubqueriesBelowAggregate),
            Arc::new(DecorrelateSubqueries),
        ]);
        let optimized = optimizer
            .optimize(Arc::clone(&plan), &BTreeSet::new())
            .unwrap()
            .to_string();
        assert!(
            optimized.contains("Aggregate: groupBy=[__subquery_input0 AS orders]"),
            "{optimized}"
        );
        assert!(optimized.contains("Join: Left"), "{optimized}");
        assert!(!optimized.contains("<subquery>"), "{optimized}");

        let run = |config: SessionConfig| {
            let result = SessionContext::with_config(Catalog::new(), config)
                .execute(Arc::clone(&plan))
                .unwrap();
            pretty_format_batches(&result.batches).unwrap().to_string()
        };
        let expected = "+--------+-----------+\n\
                        | orders | customers |\n\
                        +--------+-----------+\n\
                        | 0      | 2         |\n\
                        | 1      | 1         |\n\
                        | 3      | 1         |\n\
                        +--------+-----------+";
        assert_eq!(run(SessionConfig::new()), expected);
        assert_eq!(
            run(SessionConfig::new().disable_rule("project_subqueries_below_aggregate")),
            expected
        );
    }
}
