//! Index selection: the `use_indexes` rule chooses an index for every kind of lookup the
//! issue lists — points and `IN` lists, ranges, `order_by(...)[:k]` in either direction,
//! composite prefixes (with `IN` lists, ranges and a top-k after them), partial indexes when the
//! filter implies their condition (and never otherwise), joins on an indexed key, `get()` and
//! `exists()` by key — and EXPLAIN names the index. Every QuerySet gives exactly the rows real
//! Django gives, and the same rows with the rule switched off.
//!
//! `django/indexes.py` declares the same model and `Meta.indexes` in Django 5.1.4 on SQLite;
//! its output `django/indexes.sqlite.jsonl` holds one `[label, value]` line per case:
//!
//! ```text
//! /tmp/django-venv/bin/python /work/shared/django-oracle/django_runner.py \
//!     tests/integration/django/indexes.py --db sqlite > tests/integration/django/indexes.sqlite.jsonl
//! ```
//!
//! Every ordered case orders by a unique column (or ends with `id`), so SQLite's NULL order
//! and tie order never show. A property test then runs random conjunctions of lookups, with
//! and without a top-k order, with the rule on and off.
//!
//! Float keys sort as PostgreSQL orders floats (`-0 = 0`, NaN above every number, NULLs last
//! ascending). SQLite stores no NaN, so the cases with NaN, infinities and `-0.0`
//! (`float_keys_*`) state PostgreSQL's answer by hand, and a second property test runs random
//! lookups and orders over such values with the rule on and off.

use std::collections::HashMap;
use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use quiver::prelude::*;
use quiver::QuerySet;
use serde_json::Value as Json;

use crate::semantics::{matches, scalar, Actual};

static DJANGO: LazyLock<HashMap<String, Json>> =
    LazyLock::new(|| crate::semantics::django_lines(include_str!("django/indexes.sqlite.jsonl")));

fn assert_django(label: &str, actual: &Actual) {
    let expected = DJANGO
        .get(label)
        .unwrap_or_else(|| panic!("no Django output for {label}: re-run django/indexes.py"));
    assert!(
        matches(expected, actual),
        "{label}:\n  Django: {expected}\n  Quiver: {actual:?}"
    );
}

const STATUSES: [&str; 3] = ["open", "paid", "void"];

/// The fixture of `django/indexes.py`: 13 customers, 400 tickets.
fn tickets() -> Database {
    let db = Database::new();
    db.register(Model::new("Customer").field("name", CharField::new(20).unique()))
        .expect("valid model");
    db.register(
        Model::new("Ticket")
            .field("customer", ForeignKey::new("Customer", OnDelete::Cascade))
            .field("status", CharField::new(10))
            .field("priority", IntegerField::new())
            .field("created", IntegerField::new())
            .field("code", IntegerField::new().db_index())
            .field("amount", IntegerField::new())
            .field("score", FloatField::new().db_index())
            .field("paid", BooleanField::new())
            .index_spec(IndexSpec::new(
                ["customer", "-created"],
                "ticket_customer_recent",
            ))
            .index_spec(IndexSpec::new(
                ["priority", "-created"],
                "ticket_priority_recent",
            ))
            // A hash index here (Django's is a btree): IN lists over a whole hash key.
            .index_spec(IndexSpec::new(["status", "priority"], "ticket_status_priority").hash())
            .index_spec(
                IndexSpec::new(["-created"], "ticket_open_recent").condition(q!(status = "open")),
            )
            .index_spec(
                IndexSpec::new(["amount"], "ticket_big_amount").condition(q!(amount__gte = 500)),
            )
            .index_spec(IndexSpec::new(["created"], "ticket_unpaid").condition(q!(paid = false)))
            .index_spec(
                IndexSpec::new(["amount"], "ticket_void_low")
                    .condition(q!(status = "void", priority__lte = 2)),
            )
            .index_spec(IndexSpec::new(["-score"], "ticket_paid_score").condition(q!(paid = true))),
    )
    .expect("valid model");
    db.register(
        Model::new("Visit")
            .field("customer", ForeignKey::new("Customer", OnDelete::Cascade))
            .field("status", CharField::new(10))
            .field("created", IntegerField::new())
            .field("amount", IntegerField::new())
            .index_spec(IndexSpec::new(
                ["customer", "status"],
                "visit_customer_status",
            ))
            .index_spec(
                IndexSpec::new(["customer"], "visit_big_customer").condition(q!(amount__gte = 500)),
            ),
    )
    .expect("valid model");
    db.objects("Customer")
        .bulk_create((0..13).map(|c| vec![("name", ScalarValue::from(format!("c{c}")))]))
        .expect("customers");
    let rows = (0..400i64).map(|i| {
        vec![
            ("customer", ScalarValue::Int64(Some((i * 7) % 13 + 1))),
            (
                "status",
                ScalarValue::from(STATUSES[((i * 5 + i / 7) % 3) as usize]),
            ),
            ("priority", ScalarValue::Int64(Some((i * 3 + i / 11) % 5))),
            ("created", ScalarValue::Int64(Some((i * 37) % 1009))),
            ("code", ScalarValue::Int64(Some((i * 101) % 1013))),
            ("amount", ScalarValue::Int64(Some((i * 53) % 997 - 300))),
            (
                "score",
                ScalarValue::Float64(Some(((i * 31) % 200 - 100) as f64 / 4.0)),
            ),
            ("paid", ScalarValue::Boolean(Some(i % 4 == 1))),
        ]
    });
    db.objects("Ticket").bulk_create(rows).expect("tickets");
    let visits = (0..600i64).map(|i| {
        vec![
            ("customer", ScalarValue::Int64(Some((i * 5) % 13 + 1))),
            (
                "status",
                ScalarValue::from(STATUSES[((i * 7 + i / 5) % 3) as usize]),
            ),
            ("created", ScalarValue::Int64(Some((i * 43) % 1201))),
            ("amount", ScalarValue::Int64(Some((i * 59) % 1009 - 200))),
        ]
    });
    db.objects("Visit").bulk_create(visits).expect("visits");
    db
}

fn ids(qs: &QuerySet) -> Vec<i64> {
    qs.fetch()
        .and_then(|rows| rows.column::<i64>("id"))
        .unwrap_or_else(|error| panic!("{error}"))
}

fn id_list(ids: &[i64]) -> Actual {
    Actual::List(ids.iter().map(|&id| Actual::Int(id.into())).collect())
}

/// What EXPLAIN must say about a QuerySet's index.
enum Plan {
    /// The text appears (an index scan, with its lookup).
    Uses(&'static str),
    /// The text does not appear (an index the query must not read).
    Avoids(&'static str),
}

/// Checks `make`'s plan, then that its ids are Django's under `label`, with the rule on and
/// off.
fn check(db: &Database, label: &str, plan: Plan, make: impl Fn(QuerySet) -> QuerySet) {
    let qs = || make(db.objects("Ticket"));
    let explained = qs().explain().unwrap_or_else(|error| panic!("{error}"));
    match plan {
        Plan::Uses(text) => assert!(
            explained.contains(text),
            "{label}: no {text} in\n{explained}"
        ),
        Plan::Avoids(text) => assert!(!explained.contains(text), "{label}: {text} in\n{explained}"),
    }
    let with = ids(&qs());
    db.set_config(SessionConfig::new().disable_rule("use_indexes"));
    let plain = qs().explain().unwrap_or_else(|error| panic!("{error}"));
    let without = ids(&qs());
    db.set_config(SessionConfig::new());
    assert!(
        !plain.contains("IndexScanExec"),
        "{label}: rule off\n{plain}"
    );
    assert_eq!(with, without, "{label}: rule on and off");
    assert_django(label, &id_list(&with));
}

#[test]
fn partial_indexes_are_read_only_when_the_filter_implies_their_condition() {
    let db = tickets();
    use Plan::{Avoids, Uses};
    let cases: Vec<(&str, Plan, fn(QuerySet) -> QuerySet)> = vec![
        // The condition is one of the filters, and the filter is the index's order.
        (
            "open_recent_top",
            Uses("IndexScanExec: ticket index=ticket_open_recent order=desc limit=5"),
            |t| {
                t.filter(q!(status = "open"))
                    .order_by(["-created"])
                    .slice(0..5)
            },
        ),
        // `amount >= 600`, `amount = 654` and `NOT (amount < 500)` each imply `amount >= 500`.
        (
            "big_amount_range",
            Uses("index=ticket_big_amount range=[600..*)"),
            |t| t.filter(q!(amount__gte = 600)).order_by(["id"]),
        ),
        (
            "big_amount_point",
            Uses("index=ticket_big_amount points=1"),
            |t| t.filter(q!(amount = 654)),
        ),
        (
            "excluded_small_amount",
            Uses("index=ticket_big_amount range=[500..*)"),
            |t| t.exclude(q!(amount__lt = 500)).order_by(["id"]),
        ),
        // A boolean condition, and one of two conjuncts (`status = 'void' AND priority <= 2`,
        // the second implied by `priority <= 1`).
        (
            "unpaid_range",
            Uses("index=ticket_unpaid range=(*..100)"),
            |t| {
                t.filter(q!(paid = false, created__lt = 100))
                    .order_by(["id"])
            },
        ),
        (
            "void_low",
            Uses("index=ticket_void_low range=(300..*)"),
            |t| {
                t.filter(q!(status = "void", priority__lte = 1, amount__gt = 300))
                    .order_by(["id"])
            },
        ),
        // Not implied: 10 is below 500, 400 is below 500, 'paid' is not 'open', TRUE is not
        // FALSE, and an OR implies neither side.
        ("big_amount_in", Avoids("ticket_big_amount"), |t| {
            t.filter(q!(amount__in = vec![654i64, 601, 10]))
                .order_by(["id"])
        }),
        ("amount_below_condition", Avoids("ticket_big_amount"), |t| {
            t.filter(q!(amount__gte = 400)).order_by(["id"])
        }),
        ("paid_recent_top", Avoids("ticket_open_recent"), |t| {
            t.filter(q!(status = "paid"))
                .order_by(["-created"])
                .slice(0..5)
        }),
        ("paid_range", Avoids("ticket_unpaid"), |t| {
            t.filter(q!(paid = true, created__lt = 100))
                .order_by(["id"])
        }),
        ("either", Avoids("IndexScanExec"), |t| {
            t.filter(q!(amount__gte = 600) | q!(status = "open"))
                .order_by(["id"])
        }),
    ];
    for (label, plan, make) in cases {
        check(&db, label, plan, make);
    }
}

#[test]
fn partial_indexes_stay_exact_as_writes_move_rows_in_and_out_of_their_condition() {
    let db = tickets();
    let queries: [fn(QuerySet) -> QuerySet; 4] = [
        |t| t.filter(q!(amount__gte = 600)).order_by(["id"]),
        |t| {
            t.filter(q!(amount__in = vec![520i64, 610, 700]))
                .order_by(["id"])
        },
        |t| {
            t.filter(q!(status = "open"))
                .order_by(["-created"])
                .slice(0..6)
        },
        |t| {
            t.filter(q!(paid = false, created__lt = 200))
                .order_by(["id"])
        },
    ];
    let agree = |when: &str| {
        for (i, make) in queries.iter().enumerate() {
            let with = ids(&make(db.objects("Ticket")));
            db.set_config(SessionConfig::new().disable_rule("use_indexes"));
            let without = ids(&make(db.objects("Ticket")));
            db.set_config(SessionConfig::new());
            assert_eq!(with, without, "{when}: query {i}");
        }
    };
    agree("loaded");
    let tickets = db.objects("Ticket");
    let explained = queries[1](tickets.clone())
        .explain()
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        explained.contains("index=ticket_big_amount points=3"),
        "{explained}"
    );
    // Into the condition and out of it, by update, delete and a rolled-back transaction.
    let moved = tickets
        .filter(q!(amount__lt = 0))
        .update([("amount", F("amount") + 1000)])
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(moved > 0);
    tickets
        .filter(q!(amount__gte = 900))
        .update([
            ("amount", Value(520i64)),
            ("status", Value("open")),
            ("paid", Value(false)),
        ])
        .unwrap_or_else(|error| panic!("{error}"));
    tickets
        .filter(q!(status = "open", created__gt = 900))
        .update([("status", "void")])
        .unwrap_or_else(|error| panic!("{error}"));
    tickets
        .filter(q!(code__lt = 100))
        .delete()
        .unwrap_or_else(|error| panic!("{error}"));
    agree("after writes");
    let before = ids(&queries[1](tickets.clone()));
    let rolled_back = db.atomic(|_| {
        tickets
            .filter(q!(amount = 520))
            .update([("amount", Value(10i64)), ("paid", Value(true))])?;
        assert!(ids(&queries[1](db.objects("Ticket")))
            .iter()
            .all(|id| !before.contains(id)));
        agree("inside the transaction");
        Err::<(), _>(Error::ValueError("roll back".into()))
    });
    assert!(rolled_back.is_err());
    assert_eq!(ids(&queries[1](tickets.clone())), before);
    assert!(!before.is_empty());
    agree("after the rollback");
}

#[test]
fn in_lists_on_a_composite_prefix_make_one_lookup_per_value() {
    let db = tickets();
    use Plan::Uses;
    let cases: Vec<(&str, Plan, fn(QuerySet) -> QuerySet)> = vec![
        (
            "priority_in",
            Uses("index=ticket_priority_recent prefixes=[[1], [3]]"),
            |t| t.filter(q!(priority__in = vec![1i64, 3])).order_by(["id"]),
        ),
        (
            "priority_in_range",
            Uses("index=ticket_priority_recent prefixes=[[1], [3]] range=[900..*)"),
            |t| {
                t.filter(q!(priority__in = vec![1i64, 3], created__gte = 900))
                    .order_by(["id"])
            },
        ),
        // Each priority's first seven rows by -created; the top-k above keeps the best seven.
        (
            "priority_in_top",
            Uses("index=ticket_priority_recent prefixes=[[1], [3]] order=desc limit=7"),
            |t| {
                t.filter(q!(priority__in = vec![1i64, 3]))
                    .order_by(["-created"])
                    .slice(0..7)
            },
        ),
        (
            "priority_in_range_top",
            Uses(
                "index=ticket_priority_recent prefixes=[[1], [3]] range=(*..300) order=asc limit=4",
            ),
            |t| {
                t.filter(q!(priority__in = vec![1i64, 3], created__lt = 300))
                    .order_by(["created"])
                    .slice(0..4)
            },
        ),
        // Both columns of a hash key: every combination.
        (
            "status_in_priority",
            Uses("index=ticket_status_priority prefixes=[[open, 2], [void, 2]]"),
            |t| {
                t.filter(q!(status__in = vec!["open", "void"], priority = 2))
                    .order_by(["id"])
            },
        ),
        // Two IN lists on one column: the values both allow.
        (
            "priority_in_twice",
            Uses("index=ticket_priority_recent prefix=[2]"),
            |t| {
                t.filter(q!(priority__in = vec![1i64, 2]))
                    .filter(q!(priority__in = vec![2i64, 3]))
                    .order_by(["id"])
            },
        ),
    ];
    for (label, plan, make) in cases {
        check(&db, label, plan, make);
    }
}

#[test]
fn points_ranges_and_top_k_on_indexed_orders() {
    let db = tickets();
    use Plan::Uses;
    let cases: Vec<(&str, Plan, fn(QuerySet) -> QuerySet)> = vec![
        (
            "pk_point",
            Uses("IndexScanExec: ticket index=ticket_pkey points=1"),
            |t| t.filter(q!(id = 17)),
        ),
        ("pk_in", Uses("index=ticket_pkey points=4"), |t| {
            t.filter(q!(id__in = vec![3i64, 99, 4000, 250]))
                .order_by(["id"])
        }),
        (
            "code_range",
            Uses("index=ticket_code_idx range=[10..60]"),
            |t| t.filter(q!(code__range = (10i64, 60i64))).order_by(["id"]),
        ),
        (
            "code_top_asc",
            Uses("index=ticket_code_idx order=asc limit=3"),
            |t| t.order_by(["code"]).slice(0..3),
        ),
        (
            "code_top_desc",
            Uses("index=ticket_code_idx order=desc limit=3"),
            |t| t.order_by(["-code"]).slice(0..3),
        ),
        // A range and the order on one indexed column: the first rows of the range only.
        (
            "code_range_top",
            Uses("index=ticket_code_idx range=[500..*) order=asc limit=5"),
            |t| t.filter(q!(code__gte = 500)).order_by(["code"]).slice(0..5),
        ),
        (
            "code_range_top_desc",
            Uses("index=ticket_code_idx range=(100..500) order=desc limit=5"),
            |t| {
                t.filter(q!(code__lt = 500, code__gt = 100))
                    .order_by(["-code"])
                    .slice(0..5)
            },
        ),
        (
            "customer_recent",
            Uses("index=ticket_customer_recent prefix=[4] order=desc limit=3"),
            |t| {
                t.filter(q!(customer = 4))
                    .order_by(["-created"])
                    .slice(0..3)
            },
        ),
        // More sort keys after the indexed one: the index also returns the last row's ties.
        (
            "priority_ties_top",
            Uses("index=ticket_priority_recent order=asc limit=5 with ties"),
            |t| t.order_by(["priority", "id"]).slice(0..5),
        ),
        (
            "priority_ties_top_desc",
            Uses("index=ticket_priority_recent order=desc limit=5 with ties"),
            |t| t.order_by(["-priority", "-id"]).slice(0..5),
        ),
        (
            "customer_recent_ties",
            Uses("index=ticket_customer_recent prefix=[4] order=desc limit=3 with ties"),
            |t| {
                t.filter(q!(customer = 4))
                    .order_by(["-created", "id"])
                    .slice(0..3)
            },
        ),
        (
            "code_range_ties",
            Uses("index=ticket_code_idx range=[500..*) order=asc limit=4 with ties"),
            |t| {
                t.filter(q!(code__gte = 500))
                    .order_by(["code", "-id"])
                    .slice(0..4)
            },
        ),
        // Float keys sort numerically, negative values included.
        (
            "score_point",
            Uses("index=ticket_score_idx points=1"),
            |t| t.filter(q!(score = -12.5)).order_by(["id"]),
        ),
        ("score_zero", Uses("index=ticket_score_idx points=1"), |t| {
            t.filter(q!(score = 0.0)).order_by(["id"])
        }),
        (
            "score_range",
            Uses("index=ticket_score_idx range=(*..-20)"),
            |t| t.filter(q!(score__lt = -20.0)).order_by(["id"]),
        ),
        (
            "score_between",
            Uses("index=ticket_score_idx range=[-1.5..1.5]"),
            |t| t.filter(q!(score__range = (-1.5, 1.5))).order_by(["id"]),
        ),
        (
            "score_top",
            Uses("index=ticket_score_idx order=asc limit=5 with ties"),
            |t| t.order_by(["score", "id"]).slice(0..5),
        ),
        (
            "score_top_desc",
            Uses("index=ticket_score_idx order=desc limit=5 with ties"),
            |t| t.order_by(["-score", "-id"]).slice(0..5),
        ),
        // Range, order and limit on a float: the negative values nearest zero first.
        (
            "score_negative_top",
            Uses("index=ticket_score_idx range=(*..0) order=desc limit=6 with ties"),
            |t| {
                t.filter(q!(score__lt = 0.0))
                    .order_by(["-score", "id"])
                    .slice(0..6)
            },
        ),
        (
            "score_range_top",
            Uses("index=ticket_score_idx range=[-3.5..10) order=asc limit=6 with ties"),
            |t| {
                t.filter(q!(score__gte = -3.5, score__lt = 10.0))
                    .order_by(["score", "id"])
                    .slice(0..6)
            },
        ),
        // A partial index whose condition is the filter serves the top-k on its key.
        (
            "paid_score_top",
            Uses("index=ticket_paid_score order=desc limit=10 with ties"),
            |t| {
                t.filter(q!(paid = true))
                    .order_by(["-score", "id"])
                    .slice(0..10)
            },
        ),
    ];
    for (label, plan, make) in cases {
        check(&db, label, plan, make);
    }
}

#[test]
fn a_float_top_k_orders_negative_values_numerically() {
    let db = tickets();
    let scores = |qs: QuerySet| {
        qs.fetch()
            .and_then(|rows| rows.column::<f64>("score"))
            .unwrap_or_else(|error| panic!("{error}"))
    };
    let lowest = || db.objects("Ticket").order_by(["score"]).slice(0..5);
    let plan = lowest().explain().unwrap_or_else(|error| panic!("{error}"));
    assert!(
        plan.contains("index=ticket_score_idx order=asc limit=5"),
        "{plan}"
    );
    assert_eq!(scores(lowest()), [-25.0, -25.0, -24.75, -24.75, -24.5]);
    // `filter(paid=True).order_by("-score")[:10]` over
    // `Index(fields=["-score"], condition=Q(paid=True))`: a top-k read from the partial index,
    // never the whole of it, with Django's scores (ties make only the scores certain).
    let best_paid = || {
        db.objects("Ticket")
            .filter(q!(paid = true))
            .order_by(["-score"])
            .slice(0..10)
    };
    let plan = best_paid()
        .explain()
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        plan.contains("IndexScanExec: ticket index=ticket_paid_score order=desc limit=10, rows=10"),
        "{plan}"
    );
    let found = scores(best_paid());
    assert_django(
        "paid_score_top_scores",
        &Actual::List(found.iter().map(|&s| Actual::Float(s)).collect()),
    );
    db.set_config(SessionConfig::new().disable_rule("use_indexes"));
    assert_eq!(scores(best_paid()), found);
    db.set_config(SessionConfig::new());
}

/// Runs `make` over `db`'s `model` with the rule on and off: its plan contains each of
/// `texts` with the rule on and no index at all with it off, and both give the same rows, as
/// `(ids, tuples of names)`.
fn rule_on_and_off(
    db: &Database,
    model: &str,
    texts: &[&str],
    names: &[&str],
    make: &dyn Fn(QuerySet) -> QuerySet,
) -> Actual {
    let qs = || make(db.objects(model));
    let explained = qs().explain().unwrap_or_else(|error| panic!("{error}"));
    for text in texts {
        assert!(explained.contains(text), "no {text} in\n{explained}");
    }
    let tuples = |qs: QuerySet| -> Actual {
        let rows = qs.fetch().unwrap_or_else(|error| panic!("{error}"));
        Actual::List(
            rows.iter()
                .map(|row| {
                    let values: Vec<Actual> = names
                        .iter()
                        .map(|name| scalar(&row.get_value(name).unwrap_or(ScalarValue::Null)))
                        .collect();
                    match <[Actual; 1]>::try_from(values) {
                        Ok([single]) => single,
                        Err(values) => Actual::List(values),
                    }
                })
                .collect(),
        )
    };
    let with = tuples(qs());
    db.set_config(SessionConfig::new().disable_rule("use_indexes"));
    let plain = qs().explain().unwrap_or_else(|error| panic!("{error}"));
    let without = tuples(qs());
    db.set_config(SessionConfig::new());
    assert!(
        !plain.contains("IndexScanExec") && !plain.contains("IndexNestedLoop"),
        "rule off\n{plain}"
    );
    assert_eq!(
        format!("{with:?}"),
        format!("{without:?}"),
        "rule on and off"
    );
    with
}

#[test]
fn index_joins_read_composite_prefixes_and_implied_partial_indexes() {
    let db = tickets();
    // The join fixes `customer`, the inner filter `status`: one look-up of both per customer.
    let composite = rule_on_and_off(
        &db,
        "Visit",
        &[
            "IndexNestedLoopJoinExec: INNER JOIN",
            "index=visit_customer_status prefix=[customer_id, status = 1 value]",
        ],
        &["id", "customer__name"],
        &|v| {
            v.filter(q!(customer__name__in = vec!["c3", "c4"], status = "paid"))
                .order_by(["id"])
                .values(["id", "customer__name"])
        },
    );
    assert_django("visit_join_composite", &composite);
    // `amount >= 600` implies the partial index's `amount >= 500`; it and `created < 900`
    // stay as the residual filter on the rows found.
    let partial = rule_on_and_off(
        &db,
        "Visit",
        &["index=visit_big_customer partial prefix=[customer_id]"],
        &["id"],
        &|v| {
            v.filter(q!(
                customer__name__in = vec!["c5", "c6"],
                amount__gte = 600,
                created__lt = 900
            ))
            .order_by(["id"])
        },
    );
    assert_django("visit_join_partial", &partial);
    // A reverse relation from a small outer side, aggregated.
    let reverse = rule_on_and_off(
        &db,
        "Customer",
        &["index=visit_customer_status prefix=[customer_id, status = 1 value]"],
        &["name", "n", "total"],
        &|c| {
            c.filter(q!(name__in = vec!["c1", "c2"], visit__status = "open"))
                .annotate([("n", Count("visit")), ("total", Sum("visit__amount"))])
                .order_by(["name"])
                .values(["name", "n", "total"])
        },
    );
    assert_django("visit_reverse_open", &reverse);
    // `customer__in=<QuerySet>` is a semi join: the visits read through the index are those
    // of the two customers the subquery finds.
    let subquery = rule_on_and_off(
        &db,
        "Visit",
        &[
            "IndexNestedLoopJoinExec: LEFT SEMI JOIN",
            "index=visit_customer_status prefix=[customer_id, status = 1 value]",
        ],
        &["id"],
        &|v| {
            let wanted = db
                .objects("Customer")
                .filter(q!(name__in = vec!["c7", "c8"]));
            v.filter(Q::new("customer__in", wanted) & q!(status = "void"))
                .order_by(["id"])
        },
    );
    assert_django("visit_subquery_in", &subquery);
}

#[test]
fn joins_get_and_exists_by_key() {
    let db = tickets();
    let forward = || {
        db.objects("Ticket")
            .filter(q!(code__in = vec![500i64, 501, 7, 1000]))
            .order_by(["id"])
            .values(["id", "customer__name"])
    };
    let reverse = || {
        db.objects("Customer")
            .filter(q!(name__in = vec!["c3", "c4"]))
            .annotate([("n", Count("ticket")), ("total", Sum("ticket__amount"))])
            .order_by(["name"])
            .values(["name", "n", "total"])
    };
    let plan = forward()
        .explain()
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        plan.contains("IndexNestedLoopJoinExec: INNER JOIN")
            && plan.contains("index=customer_pkey"),
        "{plan}"
    );
    assert!(plan.contains("index=ticket_code_idx points=4"), "{plan}");
    let plan = reverse()
        .explain()
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        plan.contains("IndexNestedLoopJoinExec") && plan.contains("index=ticket_customer_id_idx"),
        "{plan}"
    );
    let tuples = |qs: QuerySet, names: &[&str]| -> Actual {
        let rows = qs.fetch().unwrap_or_else(|error| panic!("{error}"));
        Actual::List(
            rows.iter()
                .map(|row| {
                    Actual::List(
                        names
                            .iter()
                            .map(|name| scalar(&row.get_value(name).unwrap_or(ScalarValue::Null)))
                            .collect(),
                    )
                })
                .collect(),
        )
    };
    let with = (
        tuples(forward(), &["id", "customer__name"]),
        tuples(reverse(), &["name", "n", "total"]),
    );
    assert_django("join_customer_name", &with.0);
    assert_django("reverse_join_counts", &with.1);
    db.set_config(SessionConfig::new().disable_rule("use_indexes"));
    let plan = forward()
        .explain()
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(!plan.contains("IndexNestedLoopJoinExec"), "{plan}");
    assert_eq!(
        format!("{with:?}"),
        format!(
            "{:?}",
            (
                tuples(forward(), &["id", "customer__name"]),
                tuples(reverse(), &["name", "n", "total"])
            )
        )
    );
    db.set_config(SessionConfig::new());

    let tickets = db.objects("Ticket");
    let plan = tickets
        .filter(q!(pk = 42))
        .explain()
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(plan.contains("index=ticket_pkey points=1"), "{plan}");
    let found = tickets
        .get(q!(pk = 42))
        .unwrap_or_else(|error| panic!("{error}"));
    assert_django(
        "get_by_pk",
        &scalar(&found.get_value("code").unwrap_or(ScalarValue::Null)),
    );
    let exists = [
        tickets.filter(q!(id = 400)).exists(),
        tickets.filter(q!(id = 401)).exists(),
    ]
    .map(|found| Actual::Bool(found.unwrap_or_else(|error| panic!("{error}"))));
    assert_django("exists_by_pk", &Actual::List(exists.into()));
    let missing = tickets.get(q!(pk = 401)).map(|_| ()).unwrap_err();
    assert_eq!(missing.django_name(), "DoesNotExist");
}

/// Readings with every kind of float key: ids 1..=12 hold, for sensor 1, `-0.0`, `0.0`, NaN,
/// infinity, -infinity and NULL; for sensor 2, `-2.5`, `2.5`, `-1e-300`, `1.0`, NaN and NULL.
/// A descending index on the value and a composite one on `(sensor, value)`.
fn readings() -> Database {
    let db = Database::new();
    db.register(
        Model::new("Reading")
            .field("sensor", IntegerField::new())
            .field("value", FloatField::new().null())
            .index_spec(IndexSpec::new(["-value"], "reading_value_desc"))
            .index_spec(IndexSpec::new(["sensor", "value"], "reading_sensor_value")),
    )
    .expect("valid model");
    // `-0.0` and `0.0` tie (as in PostgreSQL); ties keep pk order on both paths.
    let values = [
        Some(-0.0),
        Some(0.0),
        Some(f64::NAN),
        Some(f64::INFINITY),
        Some(f64::NEG_INFINITY),
        None,
        Some(-2.5),
        Some(2.5),
        Some(-1e-300),
        Some(1.0),
        Some(f64::NAN),
        None,
    ];
    let rows = values.iter().enumerate().map(|(i, &value)| {
        vec![
            ("sensor", ScalarValue::Int64(Some(1 + i as i64 / 6))),
            ("value", ScalarValue::Float64(value)),
        ]
    });
    db.objects("Reading").bulk_create(rows).expect("readings");
    db
}

/// PostgreSQL's answers, by hand: `-0 = 0`, NaN equal to itself and above every number
/// (so `NaN >= 0`, and `NaN` is not `< infinity`), NULLs last ascending and first descending.
#[test]
fn float_keys_order_zero_nan_infinity_and_null_as_postgres_does() {
    let db = readings();
    type Case = (&'static str, Vec<i64>, fn(QuerySet) -> QuerySet);
    let cases: Vec<Case> = vec![
        (
            "index=reading_value_desc order=asc limit=7 with ties",
            vec![5, 7, 9, 1, 2, 10, 8],
            |r| r.order_by(["value", "id"]).slice(0..7),
        ),
        (
            "index=reading_value_desc order=desc limit=5 with ties",
            vec![6, 12, 3, 11, 4],
            |r| r.order_by(["-value", "id"]).slice(0..5),
        ),
        (
            "index=reading_value_desc range=(*..0)",
            vec![5, 7, 9],
            |r| r.filter(q!(value__lt = 0.0)).order_by(["id"]),
        ),
        (
            "index=reading_value_desc range=[0..*)",
            vec![1, 2, 3, 4, 8, 10, 11],
            |r| r.filter(q!(value__gte = 0.0)).order_by(["id"]),
        ),
        ("index=reading_value_desc points=1", vec![1, 2], |r| {
            r.filter(q!(value = -0.0)).order_by(["id"])
        }),
        ("index=reading_value_desc points=1", vec![3, 11], |r| {
            r.filter(q!(value = f64::NAN)).order_by(["id"])
        }),
        (
            "index=reading_value_desc range=(*..inf) order=desc limit=3 with ties",
            vec![8, 10, 2],
            |r| {
                r.filter(q!(value__lt = f64::INFINITY))
                    .order_by(["-value", "-id"])
                    .slice(0..3)
            },
        ),
        (
            "index=reading_sensor_value prefix=[1] order=desc limit=3 with ties",
            vec![6, 3, 4],
            |r| {
                r.filter(q!(sensor = 1))
                    .order_by(["-value", "id"])
                    .slice(0..3)
            },
        ),
        (
            "index=reading_sensor_value prefix=[1] order=asc limit=10 with ties",
            vec![5, 1, 2, 4, 3, 6],
            |r| {
                r.filter(q!(sensor = 1))
                    .order_by(["value", "id"])
                    .slice(0..10)
            },
        ),
        (
            "index=reading_sensor_value prefix=[2] range=(-1..*)",
            vec![8, 9, 10, 11],
            |r| r.filter(q!(sensor = 2, value__gt = -1.0)).order_by(["id"]),
        ),
    ];
    for (plan, expected, make) in cases {
        let found = rule_on_and_off(&db, "Reading", &[plan], &["id"], &make);
        let expected = Actual::List(
            expected
                .into_iter()
                .map(|id| Actual::Int(id.into()))
                .collect(),
        );
        assert_eq!(format!("{found:?}"), format!("{expected:?}"), "{plan}");
    }
}

/// One lookup of a random filter, over columns every index of the fixture reads.
fn atom() -> impl Strategy<Value = Q> {
    let small = || prop::collection::vec(0i64..5, 0..4);
    prop_oneof![
        prop::sample::select(STATUSES.to_vec()).prop_map(|s| q!(status = s)),
        prop::sample::subsequence(STATUSES.to_vec(), 0..3).prop_map(|s| q!(status__in = s)),
        (0i64..5).prop_map(|p| q!(priority = p)),
        small().prop_map(|p| q!(priority__in = p)),
        (0i64..6).prop_map(|p| q!(priority__lte = p)),
        (0i64..1009).prop_map(|c| q!(created__gte = c)),
        (0i64..1009).prop_map(|c| q!(created__lt = c)),
        (0i64..1013, 0i64..300).prop_map(|(c, w)| q!(code__range = (c, c + w))),
        (0i64..1013).prop_map(|c| q!(code__gt = c)),
        (-300i64..700).prop_map(|a| q!(amount__gte = a)),
        (-300i64..700).prop_map(|a| q!(amount = a)),
        prop::collection::vec(-300i64..700, 0..4).prop_map(|a| q!(amount__in = a)),
        any::<bool>().prop_map(|p| q!(paid = p)),
        (1i64..14).prop_map(|c| q!(customer = c)),
        prop::collection::vec(1i64..14, 0..4).prop_map(|c| q!(customer__in = c)),
        (-100i64..100).prop_map(|s| q!(score__lt = s as f64 / 4.0)),
        (-100i64..100).prop_map(|s| q!(score__gte = s as f64 / 4.0)),
        (-100i64..100, 0i64..60)
            .prop_map(|(s, w)| q!(score__range = (s as f64 / 4.0, (s + w) as f64 / 4.0))),
        (-100i64..100).prop_map(|s| q!(score = s as f64 / 4.0)),
        (1i64..420).prop_map(|id| q!(id = id)),
    ]
}

/// A conjunction of lookups, sometimes with one OR or NOT, and an optional top-k in a total
/// order (a unique column, or one with ties and a unique one after it).
type Order = Option<(Vec<&'static str>, isize)>;

fn random_query() -> impl Strategy<Value = (Q, Order)> {
    let filter = prop_oneof![
        4 => prop::collection::vec(atom(), 1..4)
            .prop_map(|atoms| atoms.into_iter().fold(Q::all(), |q, a| q & a)),
        1 => (atom(), atom()).prop_map(|(a, b)| a | b),
        1 => (atom(), atom()).prop_map(|(a, b)| a & !b),
    ];
    let order = prop::option::of((
        prop::sample::select(vec![
            vec!["created"],
            vec!["-created"],
            vec!["code"],
            vec!["-code"],
            vec!["-id"],
            vec!["priority", "id"],
            vec!["-priority", "-id"],
            vec!["paid", "-created"],
            vec!["customer", "code"],
            vec!["score", "id"],
            vec!["-score", "-id"],
            vec!["-score", "id"],
        ]),
        1isize..12,
    ));
    (filter, order)
}

/// The ids of `model`'s rows that `filter` selects (`order` then sliced, or ordered by id),
/// with the `use_indexes` rule on and then off. The configuration is per database, so both
/// runs hold one lock.
fn ids_with_the_rule_on_and_off(
    db: &Database,
    model: &str,
    filter: &Q,
    order: &Order,
) -> Result<(Vec<i64>, Vec<i64>), TestCaseError> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let run = |config: SessionConfig| -> Result<Vec<i64>, TestCaseError> {
        let qs = db.objects(model).filter(filter.clone());
        let qs = match order {
            Some((keys, k)) => qs.order_by(keys.clone()).slice(0..*k),
            None => qs.order_by(["id"]),
        };
        db.set_config(config);
        let found = qs.fetch().and_then(|rows| rows.column::<i64>("id"));
        found.map_err(|error| TestCaseError::fail(format!("{error}")))
    };
    let with = run(SessionConfig::new());
    let without = run(SessionConfig::new().disable_rule("use_indexes"));
    db.set_config(SessionConfig::new());
    Ok((with?, without?))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Random filters (and top-k orders) over the indexed table give the same rows with the
    /// `use_indexes` rule on and off.
    #[test]
    fn random_filters_agree_with_the_rule_on_and_off((filter, order) in random_query()) {
        static DB: LazyLock<Database> = LazyLock::new(tickets);
        let (with, without) = ids_with_the_rule_on_and_off(&DB, "Ticket", &filter, &order)?;
        prop_assert_eq!(with, without, "filter {:?} order {:?}", filter, order);
    }

    /// Random lookups and orders over float keys of every kind (`-0.0`, NaN, infinities, NULL,
    /// tiny and large magnitudes) give the same rows with the `use_indexes` rule on and off,
    /// through a descending single-column index and a composite `(sensor, value)` one.
    #[test]
    fn random_float_lookups_agree_with_the_rule_on_and_off((filter, order) in float_query()) {
        static DB: LazyLock<Database> = LazyLock::new(float_readings);
        let (with, without) = ids_with_the_rule_on_and_off(&DB, "Reading", &filter, &order)?;
        prop_assert_eq!(with, without, "filter {:?} order {:?}", filter, order);
    }
}

/// Float values the random readings and lookups draw from.
const SPECIAL_FLOATS: [f64; 13] = [
    f64::NEG_INFINITY,
    -1e300,
    -2.5,
    -1.0,
    -1e-300,
    -0.0,
    0.0,
    1e-300,
    0.5,
    2.5,
    1e300,
    f64::INFINITY,
    f64::NAN,
];

/// 300 readings over 4 sensors, their values drawn (deterministically) from
/// [`SPECIAL_FLOATS`] and NULL, in the model of [`readings`].
fn float_readings() -> Database {
    let db = readings();
    let rows = (0..300usize).map(|i| {
        let pick = (i * 7 + i / 13) % (SPECIAL_FLOATS.len() + 1);
        vec![
            ("sensor", ScalarValue::Int64(Some((i % 4) as i64))),
            (
                "value",
                ScalarValue::Float64(SPECIAL_FLOATS.get(pick).copied()),
            ),
        ]
    });
    db.objects("Reading").bulk_create(rows).expect("readings");
    db
}

fn float_atom() -> impl Strategy<Value = Q> {
    let value = || prop::sample::select(SPECIAL_FLOATS.to_vec());
    prop_oneof![
        value().prop_map(|v| q!(value = v)),
        value().prop_map(|v| q!(value__lt = v)),
        value().prop_map(|v| q!(value__lte = v)),
        value().prop_map(|v| q!(value__gt = v)),
        value().prop_map(|v| q!(value__gte = v)),
        (value(), value()).prop_map(|(a, b)| q!(value__range = (a, b))),
        prop::collection::vec(value(), 0..4).prop_map(|v| q!(value__in = v)),
        any::<bool>().prop_map(|n| q!(value__isnull = n)),
        (0i64..4).prop_map(|s| q!(sensor = s)),
        prop::collection::vec(0i64..4, 0..3).prop_map(|s| q!(sensor__in = s)),
    ]
}

fn float_query() -> impl Strategy<Value = (Q, Order)> {
    let filter = prop_oneof![
        4 => prop::collection::vec(float_atom(), 1..4)
            .prop_map(|atoms| atoms.into_iter().fold(Q::all(), |q, a| q & a)),
        1 => (float_atom(), float_atom()).prop_map(|(a, b)| a | b),
    ];
    let order = prop::option::of((
        prop::sample::select(vec![
            vec!["value", "id"],
            vec!["-value", "id"],
            vec!["-value", "-id"],
            vec!["sensor", "value", "id"],
            vec!["sensor", "-value", "-id"],
        ]),
        1isize..20,
    ));
    (filter, order)
}
