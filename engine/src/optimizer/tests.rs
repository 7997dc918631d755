//! Tests of the rules working together through the driver, and of switching rules off by
//! name (the rules' own behaviour is tested at the bottom of each rule's file).

use std::collections::BTreeSet;
use std::sync::Arc;

use insta::assert_snapshot;

use super::utils::fixtures::{author_scan, book_scan, optimize_all};
use super::Optimizer;
use crate::expr::{lit, qualified_col, AggregateExpr, AggregateFunction, Expr};
use crate::logical_plan::{JoinType, LogicalPlan};

fn t0(name: &str) -> Expr {
    qualified_col("T0", name)
}

fn t1(name: &str) -> Expr {
    qualified_col("T1", name)
}

/// `Author.objects.filter(book__title="Dune", age__gt=25).order_by("-age").values("name")[:3]`
/// with the book relation joined LEFT (as for a nullable relation).
fn django_like_plan() -> Arc<LogicalPlan> {
    author_scan()
        .join(
            book_scan().build(),
            JoinType::Left,
            vec![(t0("id"), t1("author_id"))],
            None,
        )
        .unwrap()
        .filter(
            t1("title")
                .eq(lit("Dune"))
                .and(t0("age").gt(lit(25i32)).and(lit(true))),
        )
        .unwrap()
        .sort(vec![t0("age").sort_desc()])
        .unwrap()
        .project(vec![t0("name")])
        .unwrap()
        .limit(0, Some(3))
        .build()
}

fn disabled(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn all_rules_together() {
    assert_snapshot!(optimize_all(django_like_plan()), @r"
    Projection: T0.name
      TopK: fetch=3, T0.age DESC NULLS FIRST
        Join: Inner, on=[T0.id = T1.author_id]
          Scan: author AS T0 filters=[(T0.age > 25)] chunks=2/3
          Scan: book AS T1 projection=[author_id] filters=[(T1.title = 'Dune')] chunks=0/1
    ");
}

#[test]
fn rules_can_be_switched_off_by_name() {
    let optimizer = Optimizer::new();
    let plan = optimizer
        .optimize(
            django_like_plan(),
            &disabled(&["push_down_filter", "prune_projections"]),
        )
        .unwrap();
    assert_snapshot!(plan.to_string(), @r"
    Projection: T0.name
      TopK: fetch=3, T0.age DESC NULLS FIRST
        Filter: ((T1.title = 'Dune') AND (T0.age > 25))
          Join: Left, on=[T0.id = T1.author_id]
            Scan: author AS T0
            Scan: book AS T1
    ");

    let everything: Vec<&str> = optimizer.rule_names();
    let plan = optimizer
        .optimize(django_like_plan(), &disabled(&everything))
        .unwrap();
    assert_eq!(plan.to_string(), django_like_plan().to_string());
}

#[test]
fn unknown_rule_names_are_errors() {
    let err = Optimizer::new()
        .optimize(django_like_plan(), &disabled(&["push_down_filters"]))
        .unwrap_err();
    assert!(err
        .to_string()
        .contains("unknown optimizer rule \"push_down_filters\""));
}

#[test]
fn each_rule_alone_keeps_the_schema_and_reaches_a_fixed_point() {
    let count = Expr::from(AggregateExpr::new(AggregateFunction::Count, vec![])).alias("n");
    let plans = [
        django_like_plan(),
        author_scan()
            .aggregate(vec![t0("age")], vec![count])
            .unwrap()
            .filter(
                t0("age")
                    .is_not_null()
                    .and(qualified_col("T0", "age").gt(lit(1i32))),
            )
            .unwrap()
            .limit(1, Some(1))
            .build(),
    ];
    let optimizer = Optimizer::new();
    for name in optimizer.rule_names() {
        let others: Vec<&str> = optimizer
            .rule_names()
            .into_iter()
            .filter(|n| *n != name)
            .collect();
        for plan in &plans {
            let optimized = optimizer
                .optimize(Arc::clone(plan), &disabled(&others))
                .unwrap();
            assert!(
                optimized.schema().equivalent(plan.schema()),
                "{name} changed the schema"
            );
            // A second run of the same rule alone must change nothing.
            let again = optimizer
                .optimize(Arc::clone(&optimized), &disabled(&others))
                .unwrap();
            assert_eq!(again.to_string(), optimized.to_string(), "{name}");
        }
    }
}
