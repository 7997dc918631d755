//! Renders logical plans as PostgreSQL-dialect SQL: what `QuerySet::sql()` shows (Django's
//! `str(qs.query)`) and what DataFusion runs, unchanged, in the differential tests.
//!
//! The text has to mean the same thing to both engines and to Quiver, so it says everything
//! explicitly: identifiers are quoted, every operation is parenthesized, literals carry their
//! types, NULL placement is spelled out in ORDER BY, and the output columns are named exactly
//! as the plan names them. `select.rs` folds the plan into as few SELECTs as the clause order
//! allows; `expr.rs` writes expressions. Something neither engine can express the same way is
//! an [`EngineError::Plan`](crate::EngineError::Plan), never SQL that would return other rows.

mod expr;
mod select;

use crate::error::Result;
use crate::logical_plan::LogicalPlan;

/// The SQL text of `plan`. The statement's output columns are named exactly as the plan's
/// output fields.
pub fn plan_to_sql(plan: &LogicalPlan) -> Result<String> {
    let mut builder = select::SelectBuilder::new(plan);
    let select = builder.build(plan)?;
    let names: Vec<String> = plan
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    let body = select.to_sql(&names)?;
    if builder.ctes.is_empty() {
        return Ok(body);
    }
    let recursive = builder.ctes.iter().any(|(_, _, recursive)| *recursive);
    let entries: Vec<String> = builder
        .ctes
        .iter()
        .map(|(name, text, _)| format!("{} AS {text}", expr::quote_identifier(name)))
        .collect();
    Ok(format!(
        "WITH {}{} {body}",
        if recursive { "RECURSIVE " } else { "" },
        entries.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field, TimeUnit};
    use insta::assert_snapshot;
    use quiver_storage::ScalarValue;

    use super::*;
    use crate::expr::{
        col, lit, qualified_col, AggregateExpr, AggregateFunction, Expr, ScalarFunction,
        ScalarFunctionExpr, TruncUnit,
    };
    use crate::logical_plan::{JoinType, LogicalPlanBuilder, Sort, Values};
    use crate::optimizer::utils::fixtures::{author_scan, book_scan};
    use crate::optimizer::Optimizer;

    fn t0(name: &str) -> Expr {
        qualified_col("T0", name)
    }
    fn t1(name: &str) -> Expr {
        qualified_col("T1", name)
    }
    fn count_star() -> Expr {
        AggregateExpr::new(AggregateFunction::Count, vec![]).into()
    }
    fn sql(plan: &Arc<LogicalPlan>) -> String {
        plan_to_sql(plan).unwrap()
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
    fn the_usual_shape_is_one_select() {
        let plan = author_book(JoinType::Inner)
            .filter(t1("pages").gt(lit(100i32)))
            .unwrap()
            .aggregate(vec![t0("name")], vec![count_star().alias("books")])
            .unwrap()
            .filter(col("books").gt(lit(1i64)))
            .unwrap()
            .project(vec![t0("name"), (col("books") * lit(2i64)).alias("twice")])
            .unwrap()
            .distinct()
            .sort(vec![col("twice").sort_desc(), t0("name").sort_asc()])
            .unwrap()
            .limit(5, Some(10))
            .build();
        assert_snapshot!(sql(&plan), @r#"SELECT DISTINCT "T0"."name", (count(*) * 2) AS "twice" FROM "author" AS "T0" INNER JOIN "book" AS "T1" ON ("T0"."id" = "T1"."author_id") WHERE ("T1"."pages" > 100) GROUP BY "T0"."name" HAVING (count(*) > 1) ORDER BY "twice" DESC NULLS FIRST, "T0"."name" ASC NULLS LAST LIMIT 10 OFFSET 5"#);
    }

    #[test]
    fn output_names_match_the_plan_exactly() {
        let plan = author_scan()
            .project(vec![
                t0("id"),
                t0("name").alias("Author \"Name\""),
                t0("age").gt(lit(30i32)),
            ])
            .unwrap()
            .build();
        assert_snapshot!(sql(&plan), @r#"SELECT "T0"."id", "T0"."name" AS "Author ""Name""", ("T0"."age" > 30) AS "(T0.age > 30)" FROM "author" AS "T0""#);

        // A bare scan, and a join whose two `id`s stay qualified.
        assert_snapshot!(sql(&author_scan().build()), @r#"SELECT "T0"."id", "T0"."name", "T0"."age" FROM "author" AS "T0""#);
        let plan = author_book(JoinType::Inner)
            .project(vec![t0("id"), t1("id")])
            .unwrap()
            .build();
        assert_snapshot!(sql(&plan), @r#"SELECT "T0"."id", "T1"."id" FROM "author" AS "T0" INNER JOIN "book" AS "T1" ON ("T0"."id" = "T1"."author_id")"#);
    }

    #[test]
    fn outer_joins_keep_null_extended_conditions_in_on() {
        let right = book_scan()
            .filter(t1("pages").gt(lit(100i32)))
            .unwrap()
            .build();
        let plan = author_scan()
            .filter(t0("age").is_not_null())
            .unwrap()
            .join(
                right,
                JoinType::Left,
                vec![(t0("id"), t1("author_id"))],
                None,
            )
            .unwrap()
            .project(vec![t0("name"), t1("title")])
            .unwrap()
            .build();
        assert_snapshot!(sql(&plan), @r#"SELECT "T0"."name", "T1"."title" FROM "author" AS "T0" LEFT JOIN "book" AS "T1" ON ("T0"."id" = "T1"."author_id") AND ("T1"."pages" > 100) WHERE ("T0"."age" IS NOT NULL)"#);

        // A computed column on the null-extended side must become NULL for unmatched rows:
        // that side becomes a derived table.
        let right = book_scan()
            .project(vec![t1("author_id"), lit(1i64).alias("one")])
            .unwrap()
            .build();
        let plan = author_scan()
            .join(
                right,
                JoinType::Left,
                vec![(t0("id"), t1("author_id"))],
                None,
            )
            .unwrap()
            .build();
        assert_snapshot!(sql(&plan), @r#"SELECT "T0"."id", "T0"."name", "T0"."age", "subquery"."author_id", "subquery"."one" FROM "author" AS "T0" LEFT JOIN (SELECT "T1"."author_id", 1 AS "one" FROM "book" AS "T1") AS "subquery" ON ("T0"."id" = "subquery"."author_id")"#);

        // An EXISTS test on the null-extended side cannot move into DataFusion's ON.
        let right = book_scan()
            .join(
                author_scan().alias("A").build(),
                JoinType::LeftSemi,
                vec![(t1("author_id"), qualified_col("A", "id"))],
                None,
            )
            .unwrap()
            .build();
        let plan = author_scan()
            .join(
                right,
                JoinType::Left,
                vec![(t0("id"), t1("author_id"))],
                None,
            )
            .unwrap()
            .project(vec![t0("name"), t1("title")])
            .unwrap()
            .build();
        assert_snapshot!(sql(&plan), @r#"SELECT "T0"."name", "subquery"."title" FROM "author" AS "T0" LEFT JOIN (SELECT "T1"."id", "T1"."title", "T1"."author_id", "T1"."pages", "T1"."pub_date" FROM "book" AS "T1" WHERE EXISTS (SELECT 1 FROM "author" AS "A" WHERE ("T1"."author_id" = "A"."id"))) AS "subquery" ON ("T0"."id" = "subquery"."author_id")"#);

        let plan = author_book(JoinType::Full)
            .project(vec![t0("name")])
            .unwrap()
            .build();
        assert_snapshot!(sql(&plan), @r#"SELECT "T0"."name" FROM "author" AS "T0" FULL JOIN "book" AS "T1" ON ("T0"."id" = "T1"."author_id")"#);

        let plan = author_scan()
            .join(book_scan().build(), JoinType::Inner, vec![], None)
            .unwrap()
            .project(vec![t0("name")])
            .unwrap()
            .build();
        assert_snapshot!(sql(&plan), @r#"SELECT "T0"."name" FROM "author" AS "T0" CROSS JOIN "book" AS "T1""#);
    }

    #[test]
    fn semi_and_anti_joins_are_exists() {
        let right = book_scan()
            .filter(t1("pages").gt(lit(100i32)))
            .unwrap()
            .build();
        let plan = author_scan()
            .join(
                right,
                JoinType::LeftSemi,
                vec![(t0("id"), t1("author_id"))],
                Some(t1("title").not_eq(t0("name"))),
            )
            .unwrap()
            .project(vec![t0("name")])
            .unwrap()
            .build();
        assert_snapshot!(sql(&plan), @r#"SELECT "T0"."name" FROM "author" AS "T0" WHERE EXISTS (SELECT 1 FROM "book" AS "T1" WHERE ("T1"."pages" > 100) AND ("T0"."id" = "T1"."author_id") AND ("T1"."title" <> "T0"."name"))"#);

        // A self anti join: the inner scan gets a derived table so its alias cannot capture
        // the outer one.
        let plan = author_scan()
            .join(
                author_scan().build(),
                JoinType::LeftAnti,
                vec![(t0("age"), t0("id"))],
                None,
            )
            .unwrap()
            .build();
        assert_snapshot!(sql(&plan), @r#"SELECT "T0"."id", "T0"."name", "T0"."age" FROM "author" AS "T0" WHERE NOT EXISTS (SELECT 1 FROM (SELECT "T0"."id", "T0"."name", "T0"."age" FROM "author" AS "T0") AS "subquery" WHERE ("T0"."age" = "subquery"."id"))"#);
    }

    #[test]
    fn right_semi_and_anti_joins_are_the_swapped_exists() {
        // What ChooseBuildSide makes of `author WHERE [NOT] EXISTS (book …)`: the SQL is the
        // EXISTS it came from, the kept side (author, now on the right) outside.
        for (join_type, not) in [(JoinType::RightSemi, ""), (JoinType::RightAnti, "NOT ")] {
            let plan = book_scan()
                .filter(t1("pages").gt(lit(100i32)))
                .unwrap()
                .join(
                    author_scan().build(),
                    join_type,
                    vec![(t1("author_id"), t0("id"))],
                    Some(t1("title").not_eq(t0("name"))),
                )
                .unwrap()
                .project(vec![t0("name")])
                .unwrap()
                .build();
            assert_eq!(
                sql(&plan),
                format!(
                    r#"SELECT "T0"."name" FROM "author" AS "T0" WHERE {not}EXISTS (SELECT 1 FROM "book" AS "T1" WHERE ("T1"."pages" > 100) AND ("T0"."id" = "T1"."author_id") AND ("T1"."title" <> "T0"."name"))"#
                )
            );
        }
    }

    #[test]
    fn nodes_that_cannot_merge_become_derived_tables() {
        // A filter over a limit, and an aggregate over a sliced query (Django's
        // `qs[:5].aggregate(...)`).
        let plan = author_scan()
            .sort(vec![t0("id").sort_asc()])
            .unwrap()
            .limit(0, Some(5))
            .filter(t0("age").gt(lit(22i32)))
            .unwrap()
            .aggregate(vec![], vec![count_star().alias("n")])
            .unwrap()
            .build();
        assert_snapshot!(sql(&plan), @r#"SELECT count(*) AS "n" FROM (SELECT "T0"."id", "T0"."name", "T0"."age" FROM "author" AS "T0" ORDER BY "T0"."id" ASC NULLS LAST LIMIT 5) AS "subquery" WHERE ("subquery"."age" > 22)"#);

        // An aggregate over an aggregate, with the plan's own subquery alias.
        let plan = author_scan()
            .aggregate(vec![t0("age")], vec![count_star().alias("n")])
            .unwrap()
            .alias("per_age")
            .aggregate(
                vec![],
                vec![Expr::from(AggregateExpr::new(
                    AggregateFunction::Max,
                    vec![qualified_col("per_age", "n")],
                ))
                .alias("most")],
            )
            .unwrap()
            .build();
        assert_snapshot!(sql(&plan), @r#"SELECT max("per_age"."n") AS "most" FROM (SELECT "T0"."age", count(*) AS "n" FROM "author" AS "T0" GROUP BY "T0"."age") AS "per_age""#);

        // ORDER BY over DISTINCT of other columns.
        let plan = author_scan()
            .project(vec![t0("name")])
            .unwrap()
            .distinct()
            .sort(vec![t0("name").sort_desc()])
            .unwrap()
            .build();
        assert_snapshot!(sql(&plan), @r#"SELECT DISTINCT "T0"."name" FROM "author" AS "T0" ORDER BY "T0"."name" DESC NULLS FIRST"#);
    }

    #[test]
    fn top_k_and_offsets() {
        let top_k = Arc::new(LogicalPlan::Sort(Sort {
            input: author_scan().build(),
            exprs: vec![t0("age").sort_desc()],
            fetch: Some(3),
        }));
        let plan = LogicalPlanBuilder::from(top_k).limit(1, Some(2)).build();
        assert_snapshot!(sql(&plan), @r#"SELECT "T0"."id", "T0"."name", "T0"."age" FROM "author" AS "T0" ORDER BY "T0"."age" DESC NULLS FIRST LIMIT 2 OFFSET 1"#);
        let plan = author_scan().limit(4, None).build();
        assert_snapshot!(sql(&plan), @r#"SELECT "T0"."id", "T0"."name", "T0"."age" FROM "author" AS "T0" OFFSET 4"#);
    }

    #[test]
    fn values() {
        let schema = Arc::new(crate::logical_plan::PlanSchema::new(vec![
            crate::logical_plan::QualifiedField::new(None, Field::new("x", DataType::Int32, true)),
            crate::logical_plan::QualifiedField::new(None, Field::new("y", DataType::Utf8, true)),
        ]));
        let rows = vec![
            vec![lit(1i32), lit("a")],
            vec![lit(ScalarValue::Null), lit("it's")],
        ];
        let plan = LogicalPlanBuilder::from(LogicalPlan::Values(
            Values::try_new(Arc::clone(&schema), rows).unwrap(),
        ))
        .filter(col("x").is_not_null())
        .unwrap()
        .build();
        assert_snapshot!(sql(&plan), @r#"SELECT "subquery"."column1" AS "x", "subquery"."column2" AS "y" FROM (VALUES (CAST(1 AS INT), CAST('a' AS TEXT)), (CAST(NULL AS INT), CAST('it''s' AS TEXT))) AS "subquery" WHERE ("subquery"."column1" IS NOT NULL)"#);

        let empty = LogicalPlanBuilder::from(LogicalPlan::Values(
            Values::try_new(schema, vec![]).unwrap(),
        ))
        .aggregate(vec![], vec![count_star()])
        .unwrap()
        .build();
        assert_snapshot!(sql(&empty), @r#"SELECT count(*) AS "count(*)" WHERE FALSE"#);
    }

    #[test]
    fn group_keys_and_dialect_casts() {
        let trunc = Expr::ScalarFunction(ScalarFunctionExpr {
            func: ScalarFunction::Trunc(TruncUnit::Month),
            args: vec![t1("pub_date")],
        });
        let plan = book_scan()
            .aggregate(vec![trunc.alias("month"), lit(1i64)], vec![count_star()])
            .unwrap()
            .build();
        assert_snapshot!(sql(&plan), @r#"SELECT CAST(date_trunc('month', "T1"."pub_date") AS DATE) AS "month", 1 AS "1", count(*) AS "count(*)" FROM "book" AS "T1" GROUP BY CAST(date_trunc('month', "T1"."pub_date") AS DATE), CAST(1 AS BIGINT)"#);
    }

    #[test]
    fn optimized_plans_render_their_scan_filters() {
        let plan = author_book(JoinType::Left)
            .filter(t1("title").eq(lit("Dune")).and(t0("age").gt(lit(25i32))))
            .unwrap()
            .project(vec![t0("name")])
            .unwrap()
            .build();
        let optimized = Optimizer::new()
            .optimize(plan, &Default::default())
            .unwrap();
        assert_snapshot!(sql(&optimized), @r#"SELECT "T0"."name" FROM "author" AS "T0" INNER JOIN "book" AS "T1" ON ("T0"."id" = "T1"."author_id") WHERE ("T0"."age" > 25) AND ("T1"."title" = 'Dune')"#);
    }

    #[test]
    fn what_cannot_be_expressed_is_an_error() {
        let plan = author_scan()
            .project(vec![
                t0("id").cast_to(DataType::Duration(TimeUnit::Microsecond))
            ])
            .unwrap()
            .build();
        let err = plan_to_sql(&plan).unwrap_err();
        assert!(matches!(err, crate::EngineError::Plan(_)), "{err}");
    }

    #[test]
    fn windows_render_with_over_and_filters_on_them_in_a_derived_table() {
        use crate::expr::{
            WindowFrame, WindowFrameBound, WindowFrameUnits, WindowFunction, WindowFunctionKind,
        };
        let mut rank = WindowFunction::new(WindowFunctionKind::RowNumber, vec![]);
        rank.partition_by = vec![t0("name")];
        rank.order_by = vec![t0("age").sort_desc()];
        let mut moving = WindowFunction::new(
            WindowFunctionKind::Aggregate(AggregateFunction::Sum),
            vec![t0("age")],
        );
        moving.order_by = vec![t0("id").sort_asc()];
        moving.frame = Some(WindowFrame::new(
            WindowFrameUnits::Rows,
            WindowFrameBound::Preceding(2),
            WindowFrameBound::CurrentRow,
        ));
        let plan = author_scan()
            .filter(t0("age").gt(lit(20i32)))
            .unwrap()
            .window(vec![
                Expr::from(rank).alias("rn"),
                Expr::from(moving).alias("moving"),
            ])
            .unwrap()
            .filter(col("rn").lt_eq(lit(2i64)))
            .unwrap()
            .project(vec![t0("name"), col("rn"), col("moving")])
            .unwrap()
            .build();
        assert_snapshot!(sql(&plan), @r#"SELECT "subquery"."name", "subquery"."rn", "subquery"."moving" FROM (SELECT "T0"."id", "T0"."name", "T0"."age", row_number() OVER (PARTITION BY "T0"."name" ORDER BY "T0"."age" DESC NULLS FIRST) AS "rn", sum("T0"."age") OVER (ORDER BY "T0"."id" ASC NULLS LAST ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS "moving" FROM "author" AS "T0" WHERE ("T0"."age" > 20)) AS "subquery" WHERE ("subquery"."rn" <= 2)"#);
    }
}
