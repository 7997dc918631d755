//! [`GroupByPrimaryKey`]: a GROUP BY that holds a table's primary key groups by that key
//! alone; the table's other grouped columns depend on it and ride along as `any_value`.
//!
//! `values("id", "name", "address").annotate(total=Sum(...))` groups by three columns, but
//! rows sharing `id` share the rest of the row, so hashing and comparing `name` and `address`
//! (long strings, often) decides nothing. PostgreSQL knows this functional dependency and
//! Django's PostgreSQL backend writes such a GROUP BY with the primary key only
//! (`allows_group_by_selected_pks`); TPC-H q10 groups by a customer's key and six more of its
//! columns.
//!
//! ```text
//! before                                      after
//! Aggregate: groupBy=[T0.id, T0.name],        Projection: T0.id, T0.name, total
//!            aggr=[sum(T1.x) AS total]          Aggregate: groupBy=[T0.id],
//!   Join: Inner, on=[T0.id = T1.owner_id]                  aggr=[sum(T1.x) AS total,
//!     Scan: owner AS T0                                          any_value(T0.name) AS T0.name]
//!     Scan: item AS T1                            Join: ...
//! ```
//!
//! The dependency holds through filters, sorts, limits and joins of any type (a row whose
//! table side is NULL-padded has a NULL key and NULLs in every other column of that table),
//! so the rule looks for the scans below the aggregate through those nodes only. A column
//! counts when it is qualified by the relation of exactly one such scan whose table declares
//! a primary key that is grouped too. The projection on top restores the aggregate's columns
//! in their order, under their names.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::OptimizerRule;
use crate::error::Result;
use crate::expr::{AggregateExpr, AggregateFunction, Column, Expr, Transformed};
use crate::logical_plan::{Aggregate, LogicalPlan, Projection};

/// Groups by a primary key instead of the columns that depend on it; see the module
/// documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct GroupByPrimaryKey;

impl OptimizerRule for GroupByPrimaryKey {
    fn name(&self) -> &'static str {
        "group_by_primary_key"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
        plan.transform_up(&mut |node| {
            let LogicalPlan::Aggregate(aggregate) = node.as_ref() else {
                return Ok(Transformed::no(node));
            };
            Ok(match collapsed(aggregate)? {
                Some(plan) => Transformed::yes(plan),
                None => Transformed::no(node),
            })
        })
    }
}

/// The relations of the scans under `plan` (through filters, sorts, limits and joins) with
/// their primary key column's name; `None` for a relation that appears twice or has no key.
fn keyed_relations(plan: &LogicalPlan, out: &mut BTreeMap<String, Option<String>>) {
    match plan {
        LogicalPlan::Scan(scan) => {
            let key = scan
                .source
                .key_column()
                .map(|i| scan.source.schema().field(i).name().clone());
            out.entry(scan.relation.clone())
                .and_modify(|seen| *seen = None)
                .or_insert(key);
        }
        LogicalPlan::Filter(filter) => keyed_relations(&filter.input, out),
        LogicalPlan::Sort(sort) => keyed_relations(&sort.input, out),
        LogicalPlan::Limit(limit) => keyed_relations(&limit.input, out),
        LogicalPlan::Join(join) => {
            keyed_relations(&join.left, out);
            keyed_relations(&join.right, out);
        }
        _ => {}
    }
}

/// `aggregate` grouped by its primary keys only, under a projection that restores its
/// columns; `None` when no grouped column depends on a grouped key.
fn collapsed(aggregate: &Aggregate) -> Result<Option<Arc<LogicalPlan>>> {
    let mut relations = BTreeMap::new();
    keyed_relations(&aggregate.input, &mut relations);
    let qualified = |expr: &Expr| match expr {
        Expr::Column(Column {
            relation: Some(relation),
            name,
        }) => Some((relation.clone(), name.clone())),
        _ => None,
    };
    // Relations whose primary key is grouped.
    let grouped_keys: Vec<String> = aggregate
        .group_exprs
        .iter()
        .filter_map(qualified)
        .filter(|(relation, name)| relations.get(relation).and_then(Option::as_ref) == Some(name))
        .map(|(relation, _)| relation)
        .collect();
    let depends = |expr: &Expr| {
        qualified(expr).is_some_and(|(relation, name)| {
            grouped_keys.contains(&relation)
                && relations.get(&relation).and_then(Option::as_ref) != Some(&name)
        })
    };
    if !aggregate.group_exprs.iter().any(depends) {
        return Ok(None);
    }
    let mut group_exprs = Vec::new();
    let mut aggr_exprs = aggregate.aggr_exprs.clone();
    for (i, expr) in aggregate.group_exprs.iter().enumerate() {
        if depends(expr) {
            // Under the column's own qualified name, so the projection above resolves it.
            let field = aggregate.schema.field(i);
            let any_value = Expr::Aggregate(AggregateExpr::new(
                AggregateFunction::AnyValue,
                vec![expr.clone()],
            ));
            aggr_exprs.push(match &field.relation {
                Some(relation) => any_value.alias_qualified(relation.clone(), field.name()),
                None => any_value.alias(field.name()),
            });
        } else {
            group_exprs.push(expr.clone());
        }
    }
    let inner = Aggregate::try_new(Arc::clone(&aggregate.input), group_exprs, aggr_exprs)?;
    let columns = aggregate
        .schema
        .fields()
        .iter()
        .map(|field| Expr::Column(field.column()))
        .collect();
    let projection = Projection::try_new(Arc::new(LogicalPlan::Aggregate(inner)), columns)?;
    Ok(Some(Arc::new(LogicalPlan::Projection(projection))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{lit, qualified_col};
    use crate::logical_plan::{JoinType, LogicalPlanBuilder};
    use crate::optimizer::utils::fixtures::{author, book, optimize_with};

    fn t0(name: &str) -> Expr {
        qualified_col("T0", name)
    }

    /// `author LEFT JOIN book` grouped by `group`, counting books per group; the author
    /// table declares `id` as its primary key.
    fn counted(group: &[&str]) -> Arc<LogicalPlan> {
        let authors = author();
        authors.set_primary_key(0, "author_pkey".to_string());
        LogicalPlanBuilder::scan(authors, "T0")
            .filter(t0("id").lt(lit(25i64)))
            .unwrap()
            .join(
                LogicalPlanBuilder::scan(book(), "T1").build(),
                JoinType::Left,
                vec![(t0("id"), qualified_col("T1", "author_id"))],
                None,
            )
            .unwrap()
            .aggregate(
                group.iter().map(|c| t0(c)).collect(),
                vec![Expr::Aggregate(AggregateExpr::new(
                    AggregateFunction::Count,
                    vec![qualified_col("T1", "id")],
                ))
                .alias("n")],
            )
            .unwrap()
            .build()
    }

    /// The plan's rows, sorted, with the rule on or off.
    fn rows(plan: &Arc<LogicalPlan>, rule: bool) -> Vec<String> {
        let mut config = crate::SessionConfig::new().with_target_partitions(2);
        if !rule {
            config = config.disable_rule("group_by_primary_key");
        }
        let ctx = crate::SessionContext::with_config(quiver_storage::Catalog::new(), config);
        let result = ctx.execute(Arc::clone(plan)).unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&result.batches)
            .unwrap()
            .to_string();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.sort();
        lines
    }

    #[test]
    fn columns_of_a_grouped_primary_key_ride_along_as_any_value() {
        let plan = counted(&["name", "id", "age"]);
        let optimized = optimize_with(GroupByPrimaryKey, Arc::clone(&plan));
        assert!(
            optimized.starts_with(
                "Projection: T0.name, T0.id, T0.age, n\n  Aggregate: groupBy=[T0.id], \
                 aggr=[count(T1.id) AS n, any_value(T0.name) AS T0.name, \
                 any_value(T0.age) AS T0.age]"
            ),
            "{optimized}"
        );
        let with = rows(&plan, true);
        assert_eq!(with, rows(&plan, false));
        // 24 authors, NULL ages among them (ids 21..=24), the two books' counts.
        assert!(with
            .iter()
            .any(|l| l.contains("| author1 ") && l.ends_with("| 1 |")));
        assert!(with
            .iter()
            .any(|l| l.contains("| author24 | 24 |     | 0 |")));
        assert_eq!(with.iter().filter(|l| l.contains("| author")).count(), 24);
    }

    #[test]
    fn without_the_key_in_the_group_nothing_changes() {
        for group in [&["name", "age"][..], &["id"][..]] {
            let plan = counted(group);
            assert_eq!(
                optimize_with(GroupByPrimaryKey, Arc::clone(&plan)),
                plan.to_string()
            );
        }
    }
}
