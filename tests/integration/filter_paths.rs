//! The filters Quiver's engine plans specially, against real Django: a leading substring
//! tested with `__in` (probed in place, by characters, not bytes), a decimal column compared
//! with a subquery's average (compared at the column's scale, the average rounded up or down
//! by operator) and a two-sided range on one column (tested in one pass).
//!
//! `django/filter_paths.py` runs the same QuerySets in Django 5.1.4; its output,
//! `django/filter_paths.sqlite.jsonl`, is produced by
//!
//! ```text
//! /tmp/django-venv/bin/python /work/shared/django-oracle/django_runner.py \
//!     tests/integration/django/filter_paths.py --db sqlite > tests/integration/django/filter_paths.sqlite.jsonl
//! ```
//!
//! SQLite answers these as PostgreSQL does: `substr` counts characters in both, and the
//! averages (0.7525, 0.2475, 1.00 and -1.255) are exact in SQLite's floats to the cent.

use std::collections::HashMap;
use std::sync::LazyLock;

use quiver::prelude::*;
use quiver::QuerySet;
use serde_json::Value as Json;

use crate::semantics::{column, django_lines, matches, Actual};

static DJANGO: LazyLock<HashMap<String, Json>> =
    LazyLock::new(|| django_lines(include_str!("django/filter_paths.sqlite.jsonl")));

fn assert_django(label: &str, actual: Actual) {
    let expected = DJANGO
        .get(label)
        .unwrap_or_else(|| panic!("no Django output for {label}: re-run django/filter_paths.py"));
    assert!(
        matches(expected, &actual),
        "{label}:\n  Django: {expected}\n  Quiver: {actual:?}"
    );
}

/// The fixture of `django/filter_paths.py`.
fn accounts() -> Database {
    let db = Database::new();
    db.register(
        Model::new("Account")
            .field("phone", CharField::new(20).null())
            .field("balance", DecimalField::new(10, 2))
            .field("kind", CharField::new(5))
            .field("opened", DateField::new()),
    )
    .expect("valid model");
    let rows: [(Option<&str>, i128, &str, u32); 8] = [
        (Some("13-555"), 100, "a", 1),
        (None, 100, "a", 2),
        (Some(""), 101, "a", 3),
        (Some("1"), -250, "b", 4),
        (Some("日本-1"), 150, "b", 5),
        (Some("日x"), 200, "b", 6),
        (Some("é3"), -1, "b", 7),
        (Some("3é"), 0, "a", 8),
    ];
    for (phone, balance, kind, day) in rows {
        let opened = NaiveDate::from_ymd_opt(2024, 1, day).expect("a January day");
        db.objects("Account")
            .create([
                ("phone", ScalarValue::Utf8(phone.map(str::to_owned))),
                ("balance", ScalarValue::Decimal128(Some(balance), 10, 2)),
                ("kind", ScalarValue::from(kind)),
                ("opened", opened.into()),
            ])
            .expect("account created");
    }
    db
}

fn ids(qs: QuerySet) -> Actual {
    column(&qs.order_by(["id"]), "id")
}

#[test]
fn leading_substrings_in_lists() {
    let db = accounts();
    let codes = vec!["13", "日本", "", "1", "é", "3é"];
    let with_code = || {
        db.objects("Account")
            .annotate([("code", Substr("phone", Value(1), 2))])
    };
    assert_django(
        "substr_in",
        ids(with_code().filter(Q::new("code__in", codes.clone()))),
    );
    assert_django(
        "substr_not_in_not_null",
        ids(with_code()
            .filter(q!(code__isnull = false))
            .exclude(Q::new("code__in", codes))),
    );
    assert_django(
        "left_in",
        ids(db
            .objects("Account")
            .annotate([("code", Left("phone", 1))])
            .filter(Q::new("code__in", vec!["日", "1", "é"]))),
    );
}

/// Django's `exclude()` adds `AND x IS NOT NULL` inside the negation for a nullable *field*
/// only; on an annotation it writes `NOT (SUBSTR(phone, 1, 2) IN (…))`, which drops the row
/// whose phone is NULL (Quiver used to add the NULL test for annotations too, and kept it).
#[test]
fn exclude_on_an_annotation_has_no_null_test() {
    let db = accounts();
    let codes = vec!["13", "日本", "", "1", "é", "3é"];
    let qs = db
        .objects("Account")
        .annotate([("code", Substr("phone", Value(1), 2))])
        .exclude(Q::new("code__in", codes));
    assert_django("substr_not_in", ids(qs));
}

#[test]
fn decimals_against_an_average() {
    let db = accounts();
    let average = |within: Q| {
        db.objects("Account")
            .filter(within)
            .annotate([("all_rows", Value(1))])
            .values(["all_rows"])
            .annotate([("average", Avg("balance"))])
            .values(["average"])
    };
    let averages = [
        ("a", q!(kind = "a")),
        ("b", q!(kind = "b")),
        ("ones", Q::new("pk__in", vec![1i64, 2])),
        ("negative", Q::new("pk__in", vec![4i64, 7])),
    ];
    for (name, within) in averages {
        for lookup in ["gt", "gte", "lt", "lte", "exact"] {
            let qs = db.objects("Account").filter(Q::new(
                format!("balance__{lookup}"),
                Subquery(average(within.clone())),
            ));
            assert_django(&format!("balance_{lookup}_average_{name}"), ids(qs));
        }
    }
}

#[test]
fn two_sided_ranges() {
    let db = accounts();
    let day = |d: u32| NaiveDate::from_ymd_opt(2024, 1, d).expect("a January day");
    let accounts = || db.objects("Account");
    let opened = accounts().filter(q!(opened__gte = day(3), opened__lt = day(6)));
    assert!(opened.explain().expect("explains").contains("range("));
    assert_django("opened_range", ids(opened));
    // Switched off, the two comparisons run one by one, with the same rows.
    let off = Database::with_config(SessionConfig::new().disable_rule("fuse_range_filters"));
    off.register(
        Model::new("Account")
            .field("phone", CharField::new(20).null())
            .field("balance", DecimalField::new(10, 2))
            .field("kind", CharField::new(5))
            .field("opened", DateField::new()),
    )
    .expect("valid model");
    off.load_batches("Account", db.objects("Account").to_batches().expect("rows"))
        .expect("loaded");
    let opened = off
        .objects("Account")
        .filter(q!(opened__gte = day(3), opened__lt = day(6)));
    assert!(!opened.explain().expect("explains").contains("range("));
    assert_django("opened_range", ids(opened));
    assert_django(
        "balance_range",
        ids(accounts().filter(q!(balance__gt = -1, balance__lte = dec("1.5")))),
    );
    assert_django(
        "balance_range_cents",
        ids(accounts().filter(q!(balance__gte = dec("-0.01"), balance__lt = dec("1.01")))),
    );
}
