//! `Subquery`, `Exists`, `OuterRef`, `__in=qs`, set operations and CTEs, checked against real
//! Django (and django-cte for the CTEs).
//!
//! `django/subqueries.py` runs the same QuerySets in Django 5.1.4 with django-cte 4.0.0; its
//! output, `django/subqueries.sqlite.jsonl`, holds one `[label, value]` line per case and is
//! produced by
//!
//! ```text
//! /tmp/django-venv/bin/python /work/shared/django-oracle/django_runner.py \
//!     tests/integration/django/subqueries.py --db sqlite > tests/integration/django/subqueries.sqlite.jsonl
//! ```
//!
//! Every test runs its QuerySet twice, with the `decorrelate_subqueries` rule and without it
//! (the once-per-key evaluation), and both must give Django's answer.

use std::collections::HashMap;
use std::sync::LazyLock;

use quiver::prelude::*;
use quiver::QuerySet;
use serde_json::Value as Json;

use crate::semantics::{matches, rows, Actual};

/// Django's answers, by label.
static DJANGO: LazyLock<HashMap<String, Json>> = LazyLock::new(|| {
    include_str!("django/subqueries.sqlite.jsonl")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let parsed: Json = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("bad line {line}: {error}"));
            match parsed {
                Json::Array(mut pair) if pair.len() == 2 => {
                    let value = pair.pop().unwrap_or(Json::Null);
                    let label = pair.pop().and_then(|l| l.as_str().map(str::to_owned));
                    (label.unwrap_or_default(), value)
                }
                other => panic!("not a [label, value] line: {other}"),
            }
        })
        .collect()
});

fn assert_django(label: &str, actual: Actual) {
    let expected = DJANGO
        .get(label)
        .unwrap_or_else(|| panic!("no Django output for {label}: re-run django/subqueries.py"));
    assert!(
        matches(expected, &actual),
        "{label}:\n  Django: {expected}\n  Quiver: {actual:?}"
    );
}

/// The shop of `django/subqueries.py`, in a database with or without decorrelation.
fn shop(decorrelate: bool) -> Database {
    let config = if decorrelate {
        SessionConfig::new()
    } else {
        SessionConfig::new().disable_rule("decorrelate_subqueries")
    };
    let db = Database::with_config(config);
    db.register(
        Model::new("Customer")
            .field("name", CharField::new(50))
            .field("region", CharField::new(20).null()),
    )
    .expect("customer");
    db.register(
        Model::new("Order")
            .field(
                "customer",
                ForeignKey::new("Customer", OnDelete::Cascade).related_name("orders"),
            )
            .field("amount", IntegerField::new())
            .field("created", IntegerField::new())
            .field("status", CharField::new(10)),
    )
    .expect("order");
    db.register(
        Model::new("Visit")
            .field(
                "customer",
                ForeignKey::new("Customer", OnDelete::Cascade)
                    .null()
                    .related_name("visits"),
            )
            .field("region", CharField::new(20).null()),
    )
    .expect("visit");
    for (name, region) in [
        ("Ann", Some("EU")),
        ("Bob", None),
        ("Cid", Some("US")),
        ("Dee", Some("EU")),
    ] {
        db.objects("Customer")
            .create([
                ("name", ScalarValue::from(name)),
                ("region", ScalarValue::Utf8(region.map(str::to_owned))),
            ])
            .expect("customer created");
    }
    let orders = [
        (1, 100, 3, "paid"),
        (1, 250, 5, "new"),
        (2, 40, 1, "paid"),
        (1, 70, 4, "paid"),
        (3, 15, 2, "cancelled"),
    ];
    for (customer, amount, created, status) in orders {
        db.objects("Order")
            .create([
                ("customer", ScalarValue::Int64(Some(customer))),
                ("amount", ScalarValue::Int32(Some(amount))),
                ("created", ScalarValue::Int32(Some(created))),
                ("status", ScalarValue::from(status)),
            ])
            .expect("order created");
    }
    for (customer, region) in [(Some(1), Some("EU")), (None, Some("US")), (Some(3), None)] {
        db.objects("Visit")
            .create([
                ("customer", ScalarValue::Int64(customer)),
                ("region", ScalarValue::Utf8(region.map(str::to_owned))),
            ])
            .expect("visit created");
    }
    db
}

/// Runs `build` on the shop with and without decorrelation; both must be Django's answer.
fn check(label: &str, build: impl Fn(&Database) -> Actual) {
    for decorrelate in [true, false] {
        let actual = build(&shop(decorrelate));
        let expected = DJANGO.get(label).cloned().unwrap_or(Json::Null);
        assert!(
            matches(&expected, &actual),
            "{label} (decorrelate={decorrelate}):\n  Django: {expected}\n  Quiver: {actual:?}"
        );
    }
    assert_django(label, build(&shop(true)));
}

fn flat(qs: &QuerySet, name: &str) -> Actual {
    match qs.values_list([name]).fetch() {
        Ok(r) => Actual::List(
            r.iter()
                .map(|row| match row.get_value(name) {
                    Ok(v) => crate::semantics::scalar(&v),
                    Err(_) => Actual::Null,
                })
                .collect(),
        ),
        Err(e) => Actual::Error {
            name: e.django_name().to_owned(),
            message: e.to_string(),
        },
    }
}

fn customers(db: &Database) -> QuerySet {
    db.objects("Customer").order_by(["name"])
}

fn orders_of(db: &Database) -> QuerySet {
    db.objects("Order")
        .filter(Q::new("customer", OuterRef("pk")))
}

#[test]
fn latest_order_amount_per_customer() {
    check("latest_amount", |db| {
        let latest = orders_of(db)
            .order_by(["-created"])
            .values(["amount"])
            .slice(0..1);
        rows(
            &customers(db)
                .annotate([("latest", Subquery(latest))])
                .values(["name", "latest"]),
        )
    });
}

#[test]
fn has_orders_and_exists_filters() {
    check("has_orders", |db| {
        rows(
            &customers(db)
                .annotate([("has_orders", Exists(orders_of(db)))])
                .values(["name", "has_orders"]),
        )
    });
    check("filter_exists", |db| {
        flat(
            &customers(db).filter(Exists(orders_of(db).filter(q!(status = "paid")))),
            "name",
        )
    });
    check("filter_not_exists", |db| {
        flat(&customers(db).filter(!Exists(orders_of(db))), "name")
    });
    check("exclude_exists", |db| {
        flat(
            &customers(db).exclude(Exists(orders_of(db).filter(q!(amount__gt = 60)))),
            "name",
        )
    });
}

#[test]
fn counts_and_totals_per_parent_include_parents_without_rows() {
    check("order_count", |db| {
        let count = orders_of(db)
            .order_by(Vec::<&str>::new())
            .values(["customer"])
            .annotate([("c", Count("id"))])
            .values(["c"]);
        rows(
            &customers(db)
                .annotate([("n", Coalesce([Subquery(count), Value(0)]))])
                .values(["name", "n"]),
        )
    });
    let total = |db: &Database| {
        Subquery(
            orders_of(db)
                .order_by(Vec::<&str>::new())
                .values(["customer"])
                .annotate([("t", Sum("amount"))])
                .values(["t"]),
        )
    };
    check("order_total", |db| {
        rows(
            &customers(db)
                .annotate([("total", total(db))])
                .values(["name", "total"]),
        )
    });
    check("filter_on_subquery", |db| {
        flat(
            &customers(db)
                .annotate([("total", total(db))])
                .filter(q!(total__gt = 50)),
            "name",
        )
    });
}

#[test]
fn subqueries_inside_case_arithmetic_and_ordering() {
    check("subquery_in_case", |db| {
        let kind = Case([
            When(
                Exists(orders_of(db).filter(q!(amount__gte = 200))),
                Value("big"),
            ),
            When(Exists(orders_of(db)), Value("small")),
        ])
        .default(Value("none"));
        rows(
            &customers(db)
                .annotate([("kind", kind)])
                .values(["name", "kind"]),
        )
    });
    check("subquery_arithmetic", |db| {
        let first = orders_of(db)
            .order_by(["created"])
            .values(["amount"])
            .slice(0..1);
        rows(
            &customers(db)
                .annotate([("x", Subquery(first) * 2 + 1)])
                .values(["name", "x"]),
        )
    });
    check("order_by_subquery", |db| {
        let first = orders_of(db)
            .order_by(["created"])
            .values(["created"])
            .slice(0..1);
        flat(
            &db.objects("Customer")
                .annotate([("first", Subquery(first))])
                .filter(q!(first__isnull = false))
                .order_by(["-first"]),
            "name",
        )
    });
}

#[test]
fn outer_references_over_relations_and_two_levels_out() {
    check("outer_ref_relation", |db| {
        let visits = db
            .objects("Visit")
            .filter(Q::new("region", OuterRef("customer__region")))
            .order_by(Vec::<&str>::new())
            .values(["region"])
            .annotate([("c", Count("id"))])
            .values(["c"]);
        rows(
            &db.objects("Order")
                .annotate([("same_region_visits", Coalesce([Subquery(visits), Value(0)]))])
                .order_by(["id"])
                .values(["id", "same_region_visits"]),
        )
    });
    check("nested_outer_ref", |db| {
        let visits = db.objects("Visit").filter(
            Q::new("customer", OuterRef("customer"))
                & Q::new("region", OuterRef(OuterRef("region"))),
        );
        flat(
            &customers(db).filter(Exists(orders_of(db).filter(Exists(visits)))),
            "name",
        )
    });
}

#[test]
fn in_with_a_queryset_and_not_in_with_nulls() {
    check("pk_in", |db| {
        let ids = db
            .objects("Order")
            .filter(q!(amount__gt = 60))
            .values(["customer"]);
        flat(&customers(db).filter(Q::new("pk__in", ids)), "name")
    });
    check("fk_in", |db| {
        let eu = db.objects("Customer").filter(q!(region = "EU"));
        flat(
            &db.objects("Order")
                .filter(Q::new("customer__in", eu))
                .order_by(["id"]),
            "id",
        )
    });
    check("not_in_with_null", |db| {
        let regions = db.objects("Visit").values(["region"]);
        flat(
            &customers(db).exclude(Q::new("region__in", regions)),
            "name",
        )
    });
    check("not_in_without_null", |db| {
        let regions = db
            .objects("Visit")
            .filter(q!(region__isnull = false))
            .values(["region"]);
        flat(
            &customers(db).exclude(Q::new("region__in", regions)),
            "name",
        )
    });
    check("filter_not_in_with_null", |db| {
        let visitors = db.objects("Visit").values(["customer"]);
        flat(&customers(db).filter(!Q::new("pk__in", visitors)), "name")
    });
}

#[test]
fn an_outer_ref_cannot_be_evaluated_alone() {
    check("outer_ref_alone", |db| rows(&orders_of(db)));
}

#[test]
fn decorrelation_shows_in_explain_and_can_be_switched_off() {
    let plan = |decorrelate: bool| {
        let db = shop(decorrelate);
        let latest = orders_of(&db)
            .order_by(["-created"])
            .values(["amount"])
            .slice(0..1);
        customers(&db)
            .annotate([("latest", Subquery(latest))])
            .filter(Exists(orders_of(&db)))
            .explain()
            .expect("explain")
    };
    let with = plan(true);
    let optimized = with
        .split("== Optimized logical plan ==")
        .nth(1)
        .unwrap_or_default();
    assert!(optimized.contains("DistinctOn"), "{with}");
    assert!(optimized.contains("Join: LeftSemi"), "{with}");
    assert!(!optimized.contains("<subquery>"), "{with}");
    let without = plan(false);
    let optimized = without
        .split("== Optimized logical plan ==")
        .nth(1)
        .unwrap_or_default();
    assert!(optimized.contains("EXISTS (<subquery>)"), "{without}");
}

#[test]
fn sql_shows_django_style_subqueries() {
    let db = shop(true);
    let latest = orders_of(&db)
        .order_by(["-created"])
        .values(["amount"])
        .slice(0..1);
    let sql = customers(&db)
        .annotate([("latest", Subquery(latest))])
        .filter(Exists(orders_of(&db)))
        .values(["name", "latest"])
        .sql()
        .expect("sql");
    assert_eq!(
        sql,
        r#"SELECT "customer"."name", (SELECT "U0"."amount" FROM "order" AS "U0" WHERE ("U0"."customer_id" = "customer"."id") ORDER BY "U0"."created" DESC NULLS FIRST LIMIT 1) AS "latest" FROM "customer" AS "customer" WHERE (EXISTS (SELECT "U0"."id", "U0"."customer_id", "U0"."amount", "U0"."created", "U0"."status" FROM "order" AS "U0" WHERE ("U0"."customer_id" = "customer"."id"))) ORDER BY "customer"."name" ASC NULLS LAST"#
    );
}
