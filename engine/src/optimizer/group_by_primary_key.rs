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
use crate::logical_plan::{Aggregate, JoinType, LogicalPlan, Projection};

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
/// their primary key column's name (`None` for a relation that appears twice or has no key),
/// and the join key pairs `(a, b)` where a row's `a` decides `b`'s row.
fn keyed_relations(
    plan: &LogicalPlan,
    out: &mut BTreeMap<String, Option<String>>,
    equal: &mut Vec<(Column, Column)>,
) {
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
        LogicalPlan::Filter(filter) => keyed_relations(&filter.input, out, equal),
        LogicalPlan::Sort(sort) => keyed_relations(&sort.input, out, equal),
        LogicalPlan::Limit(limit) => keyed_relations(&limit.input, out, equal),
        LogicalPlan::Join(join) => {
            keyed_relations(&join.left, out, equal);
            keyed_relations(&join.right, out, equal);
            // `left = right` decides the right row from the left value in an inner join and
            // in a left join (no match: NULLs, for every row with that value); an inner join
            // also the other way round.
            for (left, right) in &join.on {
                let (Expr::Column(left), Expr::Column(right)) = (left, right) else {
                    continue;
                };
                match join.join_type {
                    JoinType::Inner => {
                        equal.push((left.clone(), right.clone()));
                        equal.push((right.clone(), left.clone()));
                    }
                    // A residual filter could match one left row and not another with the
                    // same value.
                    JoinType::Left if join.filter.is_none() => {
                        equal.push((left.clone(), right.clone()))
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// `aggregate` grouped by its primary keys only, under a projection that restores its
/// columns; `None` when no grouped column depends on a grouped key.
fn collapsed(aggregate: &Aggregate) -> Result<Option<Arc<LogicalPlan>>> {
    let mut relations = BTreeMap::new();
    let mut equal = Vec::new();
    keyed_relations(&aggregate.input, &mut relations, &mut equal);
    let key_of = |relation: &str| relations.get(relation).and_then(Option::as_ref);
    let qualified = |expr: &Expr| match expr {
        Expr::Column(
            column @ Column {
                relation: Some(_), ..
            },
        ) => Some(column.clone()),
        _ => None,
    };
    let grouped: Vec<Column> = aggregate.group_exprs.iter().filter_map(qualified).collect();
    let relation_of = |column: &Column| column.relation.clone().unwrap_or_default();
    let is_key = |column: &Column| key_of(&relation_of(column)) == Some(&column.name);
    // Relations whose primary key is grouped: their other columns depend on it.
    let by_key: Vec<String> = grouped
        .iter()
        .filter(|c| is_key(c))
        .map(relation_of)
        .collect();
    // Relations whose key a grouped column of another relation decides through a join (an
    // order's `customer_id` decides the customer), when that column stays grouped: its own
    // relation is neither keyed nor decided this way, so no two relations decide each other.
    let deciders: Vec<(String, String)> = grouped
        .iter()
        .flat_map(|column| {
            equal
                .iter()
                .filter(move |(a, b)| a == column && is_key(b))
                .map(|(a, b)| (relation_of(b), relation_of(a)))
        })
        .filter(|(decided, decider)| decided != decider && !by_key.contains(decided))
        .collect();
    let decided: Vec<String> = deciders
        .iter()
        .filter(|(_, decider)| {
            !by_key.contains(decider) && !deciders.iter().any(|(d, _)| d == decider)
        })
        .map(|(decided, _)| decided.clone())
        .collect();
    let depends = |expr: &Expr| {
        qualified(expr).is_some_and(|column| {
            let relation = relation_of(&column);
            (by_key.contains(&relation) && !is_key(&column))
                || (decided.contains(&relation) && !by_key.contains(&relation))
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
    fn a_grouped_foreign_key_decides_the_joined_row() {
        // `Book.objects.values("author_id", "author__name", "author__age").annotate(n=Count("id"))`
        let authors = author();
        authors.set_primary_key(0, "author_pkey".to_string());
        let plan = LogicalPlanBuilder::scan(book(), "T1")
            .join(
                LogicalPlanBuilder::scan(authors, "T0").build(),
                JoinType::Inner,
                vec![(qualified_col("T1", "author_id"), t0("id"))],
                None,
            )
            .unwrap()
            .aggregate(
                vec![qualified_col("T1", "author_id"), t0("name"), t0("age")],
                vec![Expr::Aggregate(AggregateExpr::new(
                    AggregateFunction::Count,
                    vec![qualified_col("T1", "id")],
                ))
                .alias("n")],
            )
            .unwrap()
            .build();
        let optimized = optimize_with(GroupByPrimaryKey, Arc::clone(&plan));
        assert!(
            optimized.contains(
                "Aggregate: groupBy=[T1.author_id], aggr=[count(T1.id) AS n, \
                 any_value(T0.name) AS T0.name, any_value(T0.age) AS T0.age]"
            ),
            "{optimized}"
        );
        let with = rows(&plan, true);
        assert_eq!(with, rows(&plan, false));
        assert!(
            with.iter()
                .any(|l| l.contains("| 1         | author1 | 21  | 1 |")),
            "{with:?}"
        );
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
