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
    crate::semantics::django_lines(include_str!("django/subqueries.sqlite.jsonl"))
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

/// `list(values_list(...))`: one list per row, the columns in `names`' order.
fn tuples(qs: &QuerySet, names: &[&str]) -> Actual {
    match qs.fetch() {
        Ok(result) => Actual::List(
            result
                .iter()
                .map(|row| {
                    Actual::List(
                        names
                            .iter()
                            .map(|n| {
                                row.get_value(n)
                                    .map_or(Actual::Null, |v| crate::semantics::scalar(&v))
                            })
                            .collect(),
                    )
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

/// EXISTS and IN as values: `check` runs each with the mark join (decorrelated) and with the
/// once-per-key evaluation; both must give Django's answer, NULLs included.
#[test]
fn exists_and_in_as_values_combined_negated_and_over_nulls() {
    let visit_regions = |db: &Database| {
        db.objects("Visit")
            .filter(Q::new("customer", OuterRef("pk")))
            .values(["region"])
    };
    check("exists_and_q_annotation", |db| {
        let paid = Exists(orders_of(db).filter(q!(status = "paid")));
        rows(
            &customers(db)
                .annotate([("x", Q::from(paid) & q!(region = "EU"))])
                .values(["name", "x"]),
        )
    });
    check("exists_or_filter", |db| {
        let big = Exists(orders_of(db).filter(q!(amount__gt = 200)));
        flat(
            &customers(db).filter(Q::from(big) | q!(region = "US")),
            "name",
        )
    });
    check("exists_or_exists_annotation", |db| {
        let small = Exists(orders_of(db).filter(q!(amount__lt = 20)));
        let visited = Exists(
            db.objects("Visit")
                .filter(Q::new("customer", OuterRef("pk"))),
        );
        rows(
            &customers(db)
                .annotate([("x", small | visited)])
                .values(["name", "x"]),
        )
    });
    check("not_exists_annotation", |db| {
        rows(
            &customers(db)
                .annotate([("none", !Exists(orders_of(db)))])
                .values(["name", "none"]),
        )
    });
    check("filter_on_exists_annotation", |db| {
        let paid = Exists(orders_of(db).filter(q!(status = "paid")));
        flat(
            &customers(db)
                .annotate([("has", paid)])
                .filter(q!(has = false)),
            "name",
        )
    });
    check("in_as_value_with_nulls", |db| {
        rows(
            &customers(db)
                .annotate([("x", Q::new("region__in", visit_regions(db)))])
                .values(["name", "x"]),
        )
    });
    check("not_in_as_value_with_nulls", |db| {
        rows(
            &customers(db)
                .annotate([("x", !Q::new("region__in", visit_regions(db)))])
                .values(["name", "x"]),
        )
    });
    check("pk_in_as_value", |db| {
        let big = db
            .objects("Order")
            .filter(Q::new("customer", OuterRef("pk")) & q!(amount__gt = 60))
            .values(["customer"]);
        rows(
            &customers(db)
                .annotate([("x", Q::new("pk__in", big))])
                .values(["name", "x"]),
        )
    });
    check("exists_in_when_with_or", |db| {
        let cancelled = Exists(orders_of(db).filter(q!(status = "cancelled")));
        let kind = Case([When(
            Q::from(cancelled) | q!(region__isnull = true),
            Value("odd"),
        )])
        .default(Value("plain"));
        rows(
            &customers(db)
                .annotate([("kind", kind)])
                .values(["name", "kind"]),
        )
    });
}

#[test]
fn exists_as_a_value_is_one_mark_join_in_explain() {
    let optimized = |decorrelate: bool, qs: &dyn Fn(&Database) -> QuerySet| {
        let db = shop(decorrelate);
        let text = qs(&db).explain().expect("explain");
        text.split("== Optimized logical plan ==")
            .nth(1)
            .unwrap_or_default()
            .split("== Physical plan ==")
            .collect::<Vec<_>>()
            .join("\n== Physical plan ==")
    };
    let has_orders = |db: &Database| {
        customers(db)
            .annotate([("has_orders", Exists(orders_of(db)))])
            .values(["name", "has_orders"])
    };
    let with = optimized(true, &has_orders);
    assert_eq!(with.matches("Join: LeftMark").count(), 1, "{with}");
    assert!(with.contains("HashJoinExec: LEFT MARK JOIN"), "{with}");
    assert!(!with.contains("<subquery>"), "{with}");
    let without = optimized(false, &has_orders);
    assert!(!without.contains("LeftMark"), "{without}");
    assert!(without.contains("EXISTS (<subquery>)"), "{without}");
    // A nullable IN needs a second mark for its NULL outcome; a NOT NULL one does not.
    let nullable_in = |db: &Database| {
        customers(db).annotate([(
            "x",
            Q::new(
                "region__in",
                db.objects("Visit")
                    .filter(Q::new("customer", OuterRef("pk")))
                    .values(["region"]),
            ),
        )])
    };
    let plan = optimized(true, &nullable_in);
    assert_eq!(plan.matches("Join: LeftMark").count(), 2, "{plan}");
    let pk_in = |db: &Database| {
        customers(db).annotate([(
            "x",
            Q::new(
                "pk__in",
                db.objects("Order")
                    .filter(Q::new("customer", OuterRef("pk")))
                    .values(["customer"]),
            ),
        )])
    };
    let plan = optimized(true, &pk_in);
    assert_eq!(plan.matches("Join: LeftMark").count(), 1, "{plan}");
    // order_by(Exists(...).desc()) and Exists under OR in a filter: marks too.
    let ordered = |db: &Database| {
        let small = Exists(orders_of(db).filter(q!(amount__lt = 50)));
        customers(db).order_by([OrderItem::from(small.desc()), "name".into()])
    };
    let plan = optimized(true, &ordered);
    assert_eq!(plan.matches("Join: LeftMark").count(), 1, "{plan}");
    let either = |db: &Database| {
        let big = Exists(orders_of(db).filter(q!(amount__gt = 200)));
        customers(db).filter(Q::from(big) | q!(region = "US"))
    };
    let plan = optimized(true, &either);
    assert_eq!(plan.matches("Join: LeftMark").count(), 1, "{plan}");
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

/// `Customer.objects.filter(pk=OuterRef("customer")).values("region")`: a lookup by the
/// primary key, no aggregate, no slice.
fn region_of_customer(db: &Database) -> QuerySet {
    db.objects("Customer")
        .filter(Q::new("pk", OuterRef("customer")))
        .values(["region"])
}

fn optimized_plan(qs: &QuerySet) -> String {
    let explain = qs.explain().expect("explain");
    explain
        .split("== Optimized logical plan ==")
        .nth(1)
        .and_then(|rest| rest.split("== ").next())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn lookups_without_aggregate_or_slice_are_single_joins() {
    check("lookup_by_pk", |db| {
        rows(
            &db.objects("Order")
                .order_by(["id"])
                .annotate([("region", Subquery(region_of_customer(db)))])
                .values(["id", "region"]),
        )
    });
    check("lookup_in_filter", |db| {
        let qs = db
            .objects("Order")
            .annotate([("region", Subquery(region_of_customer(db)))])
            .filter(q!(region = "EU"))
            .order_by(["id"]);
        flat(&qs, "id")
    });
    // Orders per customer are not unique: Ann's three would be an error, the others one or
    // no row each.
    check("lookup_by_non_unique_key", |db| {
        rows(
            &customers(db)
                .exclude(q!(name = "Ann"))
                .annotate([("amount", Subquery(orders_of(db).values(["amount"])))])
                .values(["name", "amount"]),
        )
    });
    check("lookup_visit_region", |db| {
        let visit = db
            .objects("Visit")
            .filter(Q::new("customer", OuterRef("pk")))
            .values(["region"]);
        rows(
            &customers(db)
                .annotate([("visit", Subquery(visit))])
                .values(["name", "visit"]),
        )
    });
    // The plans: a plain LEFT join on the primary key, a counted one on the foreign key.
    let db = shop(true);
    let by_pk = db
        .objects("Order")
        .annotate([("region", Subquery(region_of_customer(&db)))]);
    let plan = optimized_plan(&by_pk);
    assert!(plan.contains("Join: Left"), "{plan}");
    assert!(
        !plan.contains("<subquery>") && !plan.contains("__rows"),
        "{plan}"
    );
    let by_foreign_key =
        customers(&db).annotate([("amount", Subquery(orders_of(&db).values(["amount"])))]);
    let plan = optimized_plan(&by_foreign_key);
    // (choose_build_side may turn the LEFT join around: it builds on the smaller side.)
    assert!(plan.contains("__subquery1.__key1 = customer.id"), "{plan}");
    assert!(plan.contains("count(*) AS __rows"), "{plan}");
}

#[test]
fn a_lookup_that_meets_several_rows_is_postgresqls_error() {
    // Ann has three orders. PostgreSQL raises "more than one row returned by a subquery used
    // as an expression" (a CardinalityViolation, which Django re-raises as a DatabaseError
    // subclass); SQLite, the oracle's backend, silently takes one of the rows, so this case
    // follows PostgreSQL, as SEMANTICS.md says, and is not in the Django output.
    for decorrelate in [true, false] {
        let db = shop(decorrelate);
        let qs = customers(&db)
            .annotate([("amount", Subquery(orders_of(&db).values(["amount"])))])
            .values(["name", "amount"]);
        let error = qs.fetch().expect_err("Ann has three orders");
        assert_eq!(
            error.django_name(),
            "DatabaseError",
            "decorrelate={decorrelate}"
        );
        assert!(
            error
                .to_string()
                .contains("more than one row returned by a subquery used as an expression"),
            "decorrelate={decorrelate}: {error}"
        );
    }
}

/// 400 customers and 4000 orders: order `j` belongs to customer `j % 400 + 1`, with amount
/// and creation time `j`, so customer `c`'s latest order has amount `3600 + c - 1`.
fn big_shop() -> Database {
    let db = Database::new();
    db.register(Model::new("Customer").field("name", CharField::new(20)))
        .expect("customer");
    db.register(
        Model::new("Order")
            .field(
                "customer",
                ForeignKey::new("Customer", OnDelete::Cascade).related_name("orders"),
            )
            .field("amount", BigIntegerField::new())
            .field("created", BigIntegerField::new()),
    )
    .expect("order");
    let customers: Vec<Vec<(&str, ScalarValue)>> = (1..=400)
        .map(|c| vec![("name", ScalarValue::from(format!("c{c}").as_str()))])
        .collect();
    db.objects("Customer")
        .bulk_create(customers)
        .expect("customers");
    let orders: Vec<Vec<(&str, ScalarValue)>> = (0..4000i64)
        .map(|j| {
            vec![
                ("customer", ScalarValue::Int64(Some(j % 400 + 1))),
                ("amount", ScalarValue::Int64(Some(j))),
                ("created", ScalarValue::Int64(Some(j))),
            ]
        })
        .collect();
    db.objects("Order").bulk_create(orders).expect("orders");
    db
}

#[test]
fn a_small_outer_side_keeps_the_indexed_per_key_path() {
    // Customer.objects.filter(id__lte=n).annotate(latest=Subquery(Order.objects.filter(
    // customer=OuterRef("pk")).order_by("-created").values("amount")[:1])): three customers
    // are three index lookups on order.customer_id, cheaper than reading 4000 orders; all 400
    // are not.
    let db = big_shop();
    let latest = |n: i64| {
        let latest = db
            .objects("Order")
            .filter(Q::new("customer", OuterRef("pk")))
            .order_by(["-created"])
            .values(["amount"])
            .slice(0..1);
        db.objects("Customer")
            .filter(q!(id__lte = n))
            .annotate([("latest", Subquery(latest))])
            .order_by(["id"])
            .values(["id", "latest"])
    };
    let few = latest(3);
    let plan = optimized_plan(&few);
    assert!(plan.contains("(<subquery>) AS latest"), "{plan}");
    assert!(!plan.contains("DistinctOn"), "{plan}");
    let all = latest(400);
    let plan = optimized_plan(&all);
    assert!(plan.contains("DistinctOn"), "{plan}");
    assert!(!plan.contains("<subquery>"), "{plan}");
    for (qs, n) in [(few, 3), (all, 400)] {
        let fetched = qs.fetch().expect("fetch");
        let got: Vec<(i64, i64)> = fetched
            .iter()
            .map(|row| {
                (
                    row.get::<i64>("id").expect("id"),
                    row.get::<i64>("latest").expect("latest"),
                )
            })
            .collect();
        let expected: Vec<(i64, i64)> = (1..=n).map(|c| (c, 3600 + c - 1)).collect();
        assert_eq!(got, expected);
    }
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

fn names_of(qs: &QuerySet) -> QuerySet {
    qs.values(["name"])
}

#[test]
fn set_operations_follow_djangos_rules() {
    let eu = |db: &Database| names_of(&db.objects("Customer").filter(q!(region = "EU")));
    let buyers =
        |db: &Database| names_of(&db.objects("Customer").filter(q!(orders__amount__gt = 60)));
    check("union", |db| {
        rows(&eu(db).union([buyers(db)], false).order_by(["name"]))
    });
    check("union_all_count", |db| {
        match eu(db).union([buyers(db)], true).count() {
            Ok(n) => Actual::Int(n as i128),
            Err(e) => Actual::Error {
                name: e.django_name().to_owned(),
                message: e.to_string(),
            },
        }
    });
    check("intersection", |db| {
        rows(&eu(db).intersection([buyers(db)]).order_by(["name"]))
    });
    check("difference", |db| {
        rows(&eu(db).difference([buyers(db)]).order_by(["name"]))
    });
    check("union_exists", |db| {
        match eu(db).union([buyers(db)], false).exists() {
            Ok(b) => Actual::Bool(b),
            Err(e) => Actual::Error {
                name: e.django_name().to_owned(),
                message: e.to_string(),
            },
        }
    });
    check("filter_after_union", |db| {
        rows(&eu(db).union([buyers(db)], false).filter(q!(name = "Ann")))
    });
    check("annotate_after_intersection", |db| {
        rows(
            &eu(db)
                .intersection([buyers(db)])
                .annotate([("n", Value(1))]),
        )
    });
    check("union_names_of_first", |db| {
        let first = db
            .objects("Customer")
            .filter(q!(name = "Ann"))
            .values_list(["name", "region"]);
        let second = db
            .objects("Visit")
            .filter(q!(region = "US"))
            .values_list(["region", "region"]);
        tuples(
            &first.union([second], false).order_by(["name"]),
            &["name", "region"],
        )
    });
    check("union_slice", |db| {
        let names = db.objects("Customer").values(["name"]);
        let regions = db
            .objects("Visit")
            .filter(q!(region__isnull = false))
            .values(["region"]);
        flat(
            &names
                .union([regions], false)
                .order_by(["-name"])
                .slice(1..3),
            "name",
        )
    });
}

/// The trees of `django/subqueries.py`: categories with products, an org chart, a bill of
/// materials and a graph with a cycle.
fn trees() -> Database {
    let db = shop(true);
    let models = [
        Model::new("Category")
            .field("name", CharField::new(30))
            .field(
                "parent",
                ForeignKey::new("Category", OnDelete::Cascade)
                    .null()
                    .related_name("children"),
            ),
        Model::new("Product")
            .field(
                "category",
                ForeignKey::new("Category", OnDelete::Cascade).related_name("products"),
            )
            .field("price", IntegerField::new()),
        Model::new("Employee")
            .field("name", CharField::new(30))
            .field(
                "manager",
                ForeignKey::new("Employee", OnDelete::Cascade)
                    .null()
                    .related_name("reports"),
            ),
        Model::new("Part").field("name", CharField::new(30)),
        Model::new("BomLine")
            .field(
                "parent",
                ForeignKey::new("Part", OnDelete::Cascade).related_name("lines"),
            )
            .field(
                "child",
                ForeignKey::new("Part", OnDelete::Cascade).related_name("used_in"),
            )
            .field("qty", IntegerField::new()),
        Model::new("Edge")
            .field("src", IntegerField::new())
            .field("dst", IntegerField::new()),
    ];
    for model in models {
        db.register(model).expect("model");
    }
    let create = |model: &str, values: Vec<(&str, ScalarValue)>| {
        db.objects(model).create(values).expect("row created");
    };
    let categories = [
        ("Electronics", None),
        ("Computers", Some(1)),
        ("Laptops", Some(2)),
        ("Phones", Some(1)),
        ("Books", None),
        ("Novels", Some(5)),
    ];
    for (name, parent) in categories {
        create(
            "Category",
            vec![
                ("name", name.into()),
                ("parent", ScalarValue::Int64(parent)),
            ],
        );
    }
    for (category, price) in [
        (3, 1000),
        (3, 1500),
        (2, 700),
        (4, 400),
        (6, 20),
        (5, 35),
        (1, 5),
    ] {
        create(
            "Product",
            vec![
                ("category", ScalarValue::Int64(Some(category))),
                ("price", ScalarValue::Int32(Some(price))),
            ],
        );
    }
    let employees = [
        ("Ceo", None),
        ("Cto", Some(1)),
        ("Cfo", Some(1)),
        ("Dev1", Some(2)),
        ("Dev2", Some(2)),
        ("Intern", Some(4)),
    ];
    for (name, manager) in employees {
        create(
            "Employee",
            vec![
                ("name", name.into()),
                ("manager", ScalarValue::Int64(manager)),
            ],
        );
    }
    for name in ["Bike", "Wheel", "Spoke", "Frame", "Bolt"] {
        create("Part", vec![("name", name.into())]);
    }
    for (parent, child, qty) in [(1, 2, 2), (1, 4, 1), (2, 3, 32), (2, 5, 2), (4, 5, 6)] {
        create(
            "BomLine",
            vec![
                ("parent", ScalarValue::Int64(Some(parent))),
                ("child", ScalarValue::Int64(Some(child))),
                ("qty", ScalarValue::Int32(Some(qty))),
            ],
        );
    }
    for (src, dst) in [(1, 2), (2, 3), (3, 1), (3, 4), (5, 6)] {
        create(
            "Edge",
            vec![
                ("src", ScalarValue::Int32(Some(src))),
                ("dst", ScalarValue::Int32(Some(dst))),
            ],
        );
    }
    db
}

/// Categories with their paths and depths, from the roots down.
fn category_tree(db: &Database) -> CTE {
    let categories = db.objects("Category");
    CTE::recursive(|cte| {
        categories
            .filter(q!(parent__isnull = true))
            .annotate([("path", F("name")), ("depth", Value(0))])
            .values(["id", "path", "depth"])
            .union(
                [cte.join(categories.clone(), [("parent", cte.col("id"))])
                    .annotate([
                        ("path", Concat([cte.col("path"), Value("/"), F("name")])),
                        ("depth", cte.col("depth") + 1),
                    ])
                    .values(["id", "path", "depth"])],
                true,
            )
    })
}

/// (root, node) for every node of every subtree.
fn subtree_pairs(db: &Database) -> CTE {
    let categories = db.objects("Category");
    CTE::recursive(|cte| {
        categories
            .annotate([("root", F("id")), ("node", F("id"))])
            .values(["root", "node"])
            .union(
                [cte.join(categories.clone(), [("parent", cte.col("node"))])
                    .annotate([("root", cte.col("root")), ("node", F("id"))])
                    .values(["root", "node"])],
                true,
            )
    })
}

fn check_trees(label: &str, build: impl Fn(&Database) -> Actual) {
    let db = trees();
    assert_django(label, build(&db));
}

#[test]
fn recursive_ctes_walk_trees() {
    check_trees("tree_paths", |db| {
        let tree = category_tree(db);
        rows(
            &with_cte(
                [&tree],
                tree.join(db.objects("Category"), [("id", tree.col("id"))]),
            )
            .annotate([("path", tree.col("path")), ("depth", tree.col("depth"))])
            .order_by(["path"])
            .values(["name", "path", "depth"]),
        )
    });
    check_trees("subtree_totals", |db| {
        let pairs = subtree_pairs(db);
        rows(
            &pairs
                .join(db.objects("Product"), [("category", pairs.col("node"))])
                .with_cte(&pairs)
                .annotate([("root", pairs.col("root"))])
                .values(["root"])
                .annotate([("total", Sum("price"))])
                .order_by(["root"]),
        )
    });
    check_trees("descendants_of_electronics", |db| {
        let pairs = subtree_pairs(db);
        flat(
            &pairs
                .join(db.objects("Category"), [("id", pairs.col("node"))])
                .annotate([("root", pairs.col("root"))])
                .filter(q!(root = 1))
                .order_by(["name"]),
            "name",
        )
    });
    check_trees("org_chart", |db| {
        let employees = db.objects("Employee");
        let org = CTE::recursive(|cte| {
            employees
                .filter(q!(manager__isnull = true))
                .annotate([("depth", Value(0))])
                .values(["id", "depth"])
                .union(
                    [cte.join(employees.clone(), [("manager", cte.col("id"))])
                        .annotate([("depth", cte.col("depth") + 1)])
                        .values(["id", "depth"])],
                    true,
                )
        });
        rows(
            &org.join(employees.clone(), [("id", org.col("id"))])
                .annotate([("depth", org.col("depth"))])
                .order_by(["depth", "name"])
                .values(["name", "depth"]),
        )
    });
    check_trees("bill_of_materials", |db| {
        let lines = db.objects("BomLine");
        let bom = CTE::recursive(|cte| {
            lines
                .filter(q!(parent__name = "Bike"))
                .annotate([("part", F("child")), ("need", F("qty"))])
                .values(["part", "need"])
                .union(
                    [cte.join(lines.clone(), [("parent", cte.col("part"))])
                        .annotate([("part", F("child")), ("need", cte.col("need") * F("qty"))])
                        .values(["part", "need"])],
                    true,
                )
        });
        rows(
            &bom.join(db.objects("Part"), [("id", bom.col("part"))])
                .values(["name"])
                .annotate([("total", Sum(bom.col("need")))])
                .order_by(["name"]),
        )
    });
}

fn reachability(db: &Database, all: bool) -> CTE {
    let edges = db.objects("Edge");
    CTE::recursive(|cte| {
        edges
            .filter(q!(src = 1))
            .annotate([("node", F("dst"))])
            .values(["node"])
            .union(
                [cte.join(edges.clone(), [("src", cte.col("node"))])
                    .annotate([("node", F("dst"))])
                    .values(["node"])],
                all,
            )
    })
}

#[test]
fn graph_reachability_ends_on_cycles_with_union_and_hits_the_limit_with_union_all() {
    check_trees("reachable_from_1", |db| {
        let reach = reachability(db, false);
        flat(
            &reach.queryset().with_cte(&reach).order_by(["node"]),
            "node",
        )
    });
    // UNION ALL around the cycle 1 → 2 → 3 → 1 never ends; the recursion limit (the default,
    // SessionConfig::max_recursion_depth) stops it.
    let err = reachability(&trees(), true)
        .queryset()
        .count()
        .expect_err("a cycle under UNION ALL must not finish");
    assert_eq!(err.django_name(), "ResourcesExhausted", "{err}");
    assert!(
        err.to_string()
            .contains("did not finish within 10000 iterations"),
        "{err}"
    );
}

#[test]
fn plain_ctes_join_and_filter() {
    let totals = |db: &Database| {
        CTE::new(
            db.objects("Order")
                .values(["customer"])
                .annotate([("total", Sum("amount"))]),
        )
        .name("totals")
    };
    check_trees("cte_join_totals", |db| {
        let totals = totals(db);
        rows(
            &totals
                .join(db.objects("Customer"), [("id", totals.col("customer"))])
                .annotate([("total", totals.col("total"))])
                .order_by(["name"])
                .values(["name", "total"]),
        )
    });
    check_trees("cte_queryset_filter", |db| {
        let totals = totals(db);
        flat(
            &totals
                .queryset()
                .filter(q!(total__gt = 30))
                .order_by(["customer"]),
            "customer",
        )
    });
    let db = trees();
    let totals = totals(&db);
    let sql = totals
        .join(db.objects("Customer"), [("id", totals.col("customer"))])
        .annotate([("total", totals.col("total"))])
        .values(["name", "total"])
        .sql()
        .expect("sql");
    assert!(sql.starts_with("WITH \"totals\" AS (SELECT"), "{sql}");
    let tree = category_tree(&db);
    let sql = tree.queryset().sql().expect("sql");
    assert!(sql.starts_with("WITH RECURSIVE \"cte\" AS ("), "{sql}");
    assert!(sql.contains(" UNION ALL "), "{sql}");
}

#[test]
fn subqueries_in_ordering_filter_values_and_aggregates() {
    check("order_by_exists", |db| {
        let small = Exists(orders_of(db).filter(q!(amount__lt = 50)));
        flat(
            &customers(db).order_by([OrderItem::from(small.desc()), "name".into()]),
            "name",
        )
    });
    check("filter_equals_subquery", |db| {
        let largest = db
            .objects("Order")
            .filter(Q::new("customer", OuterRef("customer")))
            .order_by(["-amount"])
            .values(["amount"])
            .slice(0..1);
        flat(
            &db.objects("Order")
                .filter(Q::new("amount", Subquery(largest)))
                .order_by(["id"]),
            "id",
        )
    });
    check("aggregate_over_subquery", |db| {
        let latest = orders_of(db)
            .order_by(["-created"])
            .values(["amount"])
            .slice(0..1);
        match customers(db)
            .annotate([("latest", Subquery(latest))])
            .aggregate([("s", Sum("latest"))])
        {
            Ok(row) => Actual::Object(
                row.iter()
                    .map(|(name, value)| (name.to_owned(), crate::semantics::scalar(value)))
                    .collect(),
            ),
            Err(e) => Actual::Error {
                name: e.django_name().to_owned(),
                message: e.to_string(),
            },
        }
    });
    check("two_columns_in_subquery", |db| {
        let two = orders_of(db).values(["amount", "created"]).slice(0..1);
        rows(
            &customers(db)
                .annotate([("x", Subquery(two))])
                .values(["name", "x"]),
        )
    });
}

/// `CTE(qs, materialized=…)`: results agree whichever way the CTE runs; the plans differ. A
/// CTE read once (or `materialized=False`) is inlined, so a filter on its grouping key reaches
/// the scan; `materialized=True` keeps it a boundary and runs it once.
#[test]
fn materialized_and_inlined_ctes_agree_and_plan_differently() {
    let db = trees();
    let totals = |materialized: Option<bool>| {
        let cte = CTE::new(
            db.objects("Order")
                .values(["customer"])
                .annotate([("total", Sum("amount"))]),
        )
        .name("totals");
        match materialized {
            Some(m) => cte.materialized(m),
            None => cte,
        }
    };
    // django-cte (same fixture): `with_cte(totals, select=totals.queryset())
    //     .filter(customer__lte=2).order_by("customer").values_list("customer", "total")`
    // gives [[1, 420], [2, 40]] with materialized=True, False and unset.
    for materialized in [Some(true), Some(false), None] {
        let qs = totals(materialized)
            .queryset()
            .filter(q!(customer__lte = 2))
            .order_by(["customer"])
            .values_list(["customer", "total"]);
        let rows = qs.fetch().expect("runs");
        assert_eq!(rows.column::<i64>("customer").expect("ints"), [1, 2]);
        assert_eq!(rows.column::<i64>("total").expect("ints"), [420, 40]);
        let explain = qs.explain().expect("explain");
        let physical = explain
            .split("== Physical plan ==")
            .nth(1)
            .unwrap_or_default();
        let optimized = explain
            .split("== Optimized logical plan ==")
            .nth(1)
            .unwrap_or_default();
        // Inlined, the filter on the grouping key goes below the aggregate into the scan.
        let pushed = optimized.contains("filters=[(order.customer_id <= 2)]");
        if materialized == Some(true) {
            assert!(optimized.contains("Cte: totals materialized"), "{explain}");
            assert!(
                physical.contains("MaterializedCteExec: totals"),
                "{explain}"
            );
            assert!(!pushed, "{explain}");
        } else {
            assert!(!optimized.contains("Cte:"), "{explain}");
            assert!(!physical.contains("MaterializedCteExec"), "{explain}");
            assert!(pushed, "{explain}");
        }
        assert!(
            qs.sql().expect("sql").starts_with(match materialized {
                Some(true) => "WITH \"totals\" AS MATERIALIZED (",
                Some(false) => "WITH \"totals\" AS NOT MATERIALIZED (",
                None => "WITH \"totals\" AS (",
            }),
            "{}",
            qs.sql().unwrap_or_default()
        );
    }
}

/// A CTE read twice in one query runs once by default (PostgreSQL 12+), twice when
/// `materialized=False`; either way the answer is the same.
#[test]
fn a_cte_read_twice_is_computed_once_unless_not_materialized() {
    let db = trees();
    for materialized in [None, Some(false)] {
        let base = CTE::new(
            db.objects("Order")
                .values(["customer"])
                .annotate([("total", Sum("amount"))]),
        )
        .name("totals");
        let totals = match materialized {
            Some(m) => base.materialized(m),
            None => base,
        };
        // Customers joined with their total, keeping those whose total is above the
        // smallest one (a second read of the CTE, in a subquery).
        let smallest = totals
            .queryset()
            .order_by(["total"])
            .values(["total"])
            .slice(0..1);
        let qs = totals
            .join(db.objects("Customer"), [("id", totals.col("customer"))])
            .annotate([("total", totals.col("total"))])
            .filter(Q::new("total__gt", Subquery(smallest)))
            .order_by(["name"])
            .values(["name", "total"]);
        let rows = qs.fetch().expect("runs");
        assert_eq!(
            rows.column::<String>("name").expect("names"),
            ["Ann", "Bob"]
        );
        assert_eq!(rows.column::<i64>("total").expect("ints"), [420, 40]);
        let explain = qs.explain().expect("explain");
        let optimized = explain
            .split("== Optimized logical plan ==")
            .nth(1)
            .unwrap_or_default();
        let shared = optimized.matches("Cte: totals materialized").count();
        if materialized.is_none() {
            assert_eq!(shared, 2, "{explain}");
        } else {
            assert_eq!(shared, 0, "{explain}");
        }
    }
}
