//! Window functions against real Django: every function, frame kind and exclusion, with ties,
//! NULLs in partition and order keys, and single-row partitions; filters on windows (Django
//! 4.2's QUALIFY) with slicing, `count()`, `values()` and `aggregate()` after them; windows over
//! grouped rows; Django's errors for invalid frames and arguments.
//!
//! `django/windows.py` runs the same QuerySets in Django 5.1.4 on SQLite; its output,
//! `django/windows.sqlite.jsonl`, holds one `[label, value]` line per case:
//!
//! ```text
//! /tmp/django-venv/bin/python /work/shared/django-oracle/django_runner.py \
//!     tests/integration/django/windows.py --db sqlite > tests/integration/django/windows.sqlite.jsonl
//! ```
//!
//! Every window ORDER BY there places NULLs explicitly, so SQLite's NULL order (first when
//! ascending) never shows; RANGE frames with offsets come from SQLite because Django refuses
//! them on PostgreSQL (SEMANTICS.md says to compute them and take SQLite's answer).

use std::collections::HashMap;
use std::sync::LazyLock;

use quiver::prelude::*;
use quiver::QuerySet;
use serde_json::Value as Json;

use crate::semantics::{column, django_lines, error, matches, rows, scalar, Actual};

static DJANGO: LazyLock<HashMap<String, Json>> =
    LazyLock::new(|| django_lines(include_str!("django/windows.sqlite.jsonl")));

/// The `[label, value]` lines a Django script printed, by label.
fn assert_django(label: &str, actual: Actual) {
    let expected = DJANGO
        .get(label)
        .unwrap_or_else(|| panic!("no Django output for {label}: re-run django/windows.py"));
    assert!(
        matches(expected, &actual),
        "{label}:\n  Django: {expected}\n  Quiver: {actual:?}"
    );
}

/// The fixture of `django/windows.py`.
fn staff() -> Database {
    staff_in(Database::new())
}

/// The fixture in `db`.
fn staff_in(db: Database) -> Database {
    db.register(
        Model::new("Emp")
            .field("name", CharField::new(20))
            .field("dept", CharField::new(20).null())
            .field("salary", IntegerField::new().null())
            .field("bonus", DecimalField::new(8, 2).null())
            .field("hired", DateField::new()),
    )
    .expect("valid model");
    let rows: [(
        &str,
        Option<&str>,
        Option<i32>,
        Option<i128>,
        (i32, u32, u32),
    ); 10] = [
        ("Ann", Some("eng"), Some(100), Some(1050), (2019, 3, 1)),
        ("Bob", Some("eng"), Some(120), Some(725), (2020, 6, 1)),
        ("Cy", Some("eng"), Some(100), None, (2020, 1, 15)),
        ("Dee", Some("eng"), None, Some(300), (2021, 2, 1)),
        ("Eve", Some("ops"), Some(90), Some(100), (2019, 7, 1)),
        ("Fay", Some("ops"), Some(95), Some(250), (2021, 9, 9)),
        ("Gus", Some("ops"), Some(90), Some(475), (2022, 1, 1)),
        ("Hal", Some("solo"), Some(70), Some(10), (2018, 1, 1)),
        ("Ivy", None, Some(80), Some(800), (2020, 5, 5)),
        ("Jon", None, Some(85), None, (2023, 3, 3)),
    ];
    for (name, dept, salary, bonus, (y, m, d)) in rows {
        db.objects("Emp")
            .create([
                ("name", ScalarValue::from(name)),
                ("dept", ScalarValue::Utf8(dept.map(str::to_owned))),
                ("salary", ScalarValue::Int32(salary)),
                ("bonus", ScalarValue::Decimal128(bonus, 8, 2)),
                ("hired", date(y, m, d).expect("valid date")),
            ])
            .expect("row created");
    }
    db
}

/// `[[name, w], …]` by name, `w` being the window annotation.
fn pairs(db: &Database, window: Expression) -> Actual {
    pairs_of(&db.objects("Emp"), window)
}

fn pairs_of(qs: &QuerySet, window: Expression) -> Actual {
    let qs = qs.annotate([("w", window)]).order_by(["name"]);
    match qs.values(["name", "w"]).fetch() {
        Ok(result) => Actual::List(
            result
                .iter()
                .map(|r| {
                    Actual::List(
                        ["name", "w"]
                            .iter()
                            .map(|c| r.get_value(c).map_or(Actual::Null, |v| scalar(&v)))
                            .collect(),
                    )
                })
                .collect(),
        ),
        Err(e) => error(e),
    }
}

fn by_salary() -> [OrderBy; 1] {
    [F("salary").asc_nulls_last()]
}

fn by_salary_total() -> [OrderBy; 2] {
    [F("salary").asc_nulls_last(), F("name").asc()]
}

fn dept<T>(window: Expression, order: impl IntoIterator<Item = T>) -> Expression
where
    T: Into<OrderItem>,
{
    window.partition_by(["dept"]).order_by(order)
}

#[test]
fn ranking_functions_with_ties_and_null_partitions() {
    let db = staff();
    assert_django(
        "row_number",
        pairs(&db, dept(Window(RowNumber()), by_salary_total())),
    );
    assert_django("rank", pairs(&db, dept(Window(Rank()), by_salary())));
    assert_django(
        "dense_rank",
        pairs(
            &db,
            Window(DenseRank())
                .partition_by([F("dept")])
                .order_by(by_salary()),
        ),
    );
    assert_django(
        "percent_rank",
        pairs(&db, dept(Window(PercentRank()), by_salary())),
    );
    assert_django(
        "cume_dist",
        pairs(&db, dept(Window(CumeDist()), by_salary())),
    );
    assert_django(
        "ntile_3",
        pairs(&db, Window(Ntile(3)).order_by(by_salary_total())),
    );
    assert_django(
        "ntile_partition",
        pairs(&db, dept(Window(Ntile(2)), by_salary_total())),
    );
    assert_django(
        "rank_desc_nulls_first",
        pairs(
            &db,
            Window(Rank()).order_by([F("salary").desc_nulls_first()]),
        ),
    );
    assert_django(
        "rank_no_order",
        pairs(&db, Window(Rank()).partition_by(["dept"])),
    );
    assert_django(
        "rank_by_year",
        pairs(&db, Window(Rank()).order_by([ExtractYear("hired").asc()])),
    );
    assert_django(
        "rank_by_transform",
        pairs(&db, Window(DenseRank()).order_by([F("hired__year").desc()])),
    );
    assert_django(
        "row_number_two_keys",
        pairs(
            &db,
            Window(RowNumber()).order_by([
                F("dept").asc_nulls_first(),
                F("salary").desc_nulls_last(),
                F("name").asc(),
            ]),
        ),
    );
}

#[test]
fn lag_lead_and_value_functions_honour_frames() {
    let db = staff();
    assert_django(
        "lag",
        pairs(&db, dept(Window(Lag("salary")), by_salary_total())),
    );
    assert_django(
        "lag_2_default",
        pairs(
            &db,
            Window(Lag("salary").offset(2).default(-1)).order_by(by_salary_total()),
        ),
    );
    assert_django(
        "lead",
        pairs(&db, dept(Window(Lead("name")), by_salary_total())),
    );
    assert_django(
        "lead_default",
        pairs(&db, dept(Window(Lead("bonus").default(dec("0"))), ["name"])),
    );
    assert_django(
        "first_value",
        pairs(&db, dept(Window(FirstValue("name")), by_salary_total())),
    );
    assert_django(
        "last_value_default_frame",
        pairs(&db, dept(Window(LastValue("name")), by_salary())),
    );
    assert_django(
        "last_value_whole",
        pairs(
            &db,
            dept(Window(LastValue("name")), by_salary_total()).frame(RowRange(None, None)),
        ),
    );
    assert_django(
        "nth_value_2",
        pairs(&db, dept(Window(NthValue("name", 2)), by_salary_total())),
    );
    assert_django(
        "nth_value_frame",
        pairs(
            &db,
            Window(NthValue("salary", 2))
                .order_by(by_salary_total())
                .frame(RowRange(Some(-1), Some(1))),
        ),
    );
}

#[test]
fn aggregates_over_default_frames() {
    let db = staff();
    assert_django(
        "sum_partition",
        pairs(&db, Window(Sum("salary")).partition_by(["dept"])),
    );
    assert_django(
        "sum_running_peers",
        pairs(&db, Window(Sum("salary")).order_by(by_salary())),
    );
    assert_django(
        "count_running",
        pairs(&db, dept(Window(Count("salary")), by_salary())),
    );
    assert_django(
        "count_star",
        pairs(&db, Window(Count("*")).partition_by(["dept"])),
    );
    assert_django(
        "avg_partition",
        pairs(&db, Window(Avg("salary")).partition_by(["dept"])),
    );
    assert_django(
        "min_running",
        pairs(&db, Window(Min("name")).order_by(by_salary_total())),
    );
    assert_django(
        "max_partition",
        pairs(&db, Window(Max("hired")).partition_by(["dept"])),
    );
    assert_django(
        "sum_decimal",
        pairs(&db, Window(Sum("bonus")).partition_by(["dept"])),
    );
    assert_django(
        "sum_filter",
        pairs(
            &db,
            Window(Sum("salary").filter(q!(bonus__gt = 2))).partition_by(["dept"]),
        ),
    );
}

#[test]
fn rows_and_range_frames_with_exclusions() {
    let db = staff();
    let sum = || Window(Sum("salary"));
    assert_django(
        "rows_sliding",
        pairs(
            &db,
            sum()
                .order_by(by_salary_total())
                .frame(RowRange(Some(-1), Some(1))),
        ),
    );
    assert_django(
        "rows_preceding_only",
        pairs(
            &db,
            sum()
                .order_by(by_salary_total())
                .frame(RowRange(Some(-2), Some(-1))),
        ),
    );
    assert_django(
        "rows_following_only",
        pairs(
            &db,
            Window(Max("salary"))
                .order_by(by_salary_total())
                .frame(RowRange(Some(1), Some(3))),
        ),
    );
    assert_django(
        "rows_to_end",
        pairs(
            &db,
            dept(Window(Count("*")), by_salary_total()).frame(RowRange(Some(0), None)),
        ),
    );
    assert_django(
        "range_offset",
        pairs(
            &db,
            sum()
                .order_by(by_salary())
                .frame(ValueRange(Some(-10), Some(5))),
        ),
    );
    assert_django(
        "range_offset_desc",
        pairs(
            &db,
            Window(Count("salary"))
                .order_by([F("salary").desc_nulls_last()])
                .frame(ValueRange(Some(-10), Some(0))),
        ),
    );
    assert_django(
        "range_current",
        pairs(
            &db,
            sum()
                .order_by(by_salary())
                .frame(ValueRange(Some(0), Some(0))),
        ),
    );
    assert_django(
        "range_unbounded_following",
        pairs(
            &db,
            dept(Window(Min("name")), by_salary()).frame(ValueRange(Some(0), None)),
        ),
    );
    assert_django(
        "exclude_current_row",
        pairs(
            &db,
            sum()
                .partition_by(["dept"])
                .frame(RowRange(None, None).exclusion(WindowFrameExclusion::CURRENT_ROW)),
        ),
    );
    assert_django(
        "exclude_group",
        pairs(
            &db,
            Window(Count("*"))
                .order_by(by_salary())
                .frame(RowRange(None, None).exclusion(WindowFrameExclusion::GROUP)),
        ),
    );
    assert_django(
        "exclude_ties",
        pairs(
            &db,
            sum()
                .order_by(by_salary())
                .frame(ValueRange(None, Some(0)).exclusion(WindowFrameExclusion::TIES)),
        ),
    );
    assert_django(
        "exclude_no_others",
        pairs(
            &db,
            sum()
                .order_by(by_salary_total())
                .frame(RowRange(Some(-1), Some(0)).exclusion(WindowFrameExclusion::NO_OTHERS)),
        ),
    );
    assert_django(
        "first_value_exclude_current",
        pairs(
            &db,
            Window(FirstValue("name"))
                .order_by(by_salary_total())
                .frame(RowRange(Some(0), Some(2)).exclusion(WindowFrameExclusion::CURRENT_ROW)),
        ),
    );
}

#[test]
fn invalid_frames_and_arguments_raise_djangos_errors() {
    let db = staff();
    let sum = || Window(Sum("salary")).order_by(by_salary());
    assert_django(
        "frame_start_after_end",
        pairs(&db, sum().frame(RowRange(Some(2), Some(1)))),
    );
    assert_django(
        "value_range_positive_start",
        pairs(&db, sum().frame(ValueRange(Some(1), None))),
    );
    assert_django(
        "value_range_negative_end",
        pairs(&db, sum().frame(ValueRange(None, Some(-1)))),
    );
    assert_django(
        "lag_zero_offset",
        pairs(&db, Window(Lag("salary").offset(0))),
    );
    assert_django("ntile_zero", pairs(&db, Window(Ntile(0))));
    assert_django("nth_value_zero", pairs(&db, Window(NthValue("salary", 0))));
    assert_django("window_of_field", pairs(&db, Window(F("salary"))));
}

fn ranked(db: &Database) -> QuerySet {
    db.objects("Emp").annotate([(
        "rn",
        dept(
            Window(RowNumber()),
            [F("salary").desc_nulls_last(), F("name").asc()],
        ),
    )])
}

#[test]
fn filters_on_windows_run_after_them() {
    let db = staff();
    let top2 = ranked(&db).filter(q!(rn__lte = 2)).order_by(["name"]);
    let result = top2.values(["name", "rn"]).fetch().expect("runs");
    let pairs = Actual::List(
        result
            .iter()
            .map(|r| {
                Actual::List(vec![
                    r.get_value("name").map_or(Actual::Null, |v| scalar(&v)),
                    r.get_value("rn").map_or(Actual::Null, |v| scalar(&v)),
                ])
            })
            .collect(),
    );
    assert_django("filter_top2", pairs);
    assert_django(
        "exclude_first",
        column(&ranked(&db).exclude(q!(rn = 1)).order_by(["name"]), "name"),
    );
    assert_django(
        "filter_count",
        match ranked(&db).filter(q!(rn__lte = 2)).count() {
            Ok(n) => Actual::Int(n as i128),
            Err(e) => error(e),
        },
    );
    assert_django(
        "filter_slice",
        column(
            &ranked(&db)
                .filter(q!(rn = 1))
                .order_by(["-salary"])
                .slice(1..3),
            "name",
        ),
    );
    assert_django(
        "filter_values",
        rows(
            &ranked(&db)
                .filter(q!(rn = 1, salary__gte = 90))
                .order_by(["dept"])
                .values(["dept", "rn"]),
        ),
    );
    assert_django(
        "filter_and_plain",
        column(
            &ranked(&db)
                .filter(q!(rn = 1) | q!(name = "Gus"))
                .order_by(["name"]),
            "name",
        ),
    );
    let aliased = db
        .objects("Emp")
        .alias([(
            "r",
            Window(Rank()).order_by([F("salary").desc_nulls_last()]),
        )])
        .filter(q!(r__lte = 3))
        .order_by(["name"]);
    assert_django("alias_filter", column(&aliased, "name"));
    assert_django(
        "window_arithmetic",
        pairs_of(
            &db.objects("Emp"),
            F("salary") - Window(Avg("salary")).partition_by(["dept"]),
        ),
    );
}

#[test]
fn windows_over_grouped_rows_and_aggregates_over_windows() {
    let db = staff();
    let per_dept = db
        .objects("Emp")
        .values(["dept"])
        .annotate([("total", Sum("salary"))])
        .annotate([(
            "rank",
            Window(Rank()).order_by([F("total").desc_nulls_last()]),
        )])
        .order_by([OrderItem::from("rank"), F("dept").asc_nulls_first().into()]);
    let result = per_dept.fetch().expect("runs");
    let triples = Actual::List(
        result
            .iter()
            .map(|r| {
                Actual::List(
                    ["dept", "total", "rank"]
                        .iter()
                        .map(|c| r.get_value(c).map_or(Actual::Null, |v| scalar(&v)))
                        .collect(),
                )
            })
            .collect(),
    );
    assert_django("rank_of_group_totals", triples);
    let running = db
        .objects("Emp")
        .values(["dept"])
        .annotate([("n", Count("id"))])
        .annotate([(
            "running",
            Window(Sum("n")).order_by([F("dept").asc_nulls_first()]),
        )]);
    assert_django("running_share", rows(&running));
    let total = ranked(&db)
        .filter(q!(rn__lte = 2))
        .aggregate([AggregateArg::from(("total", Sum("salary")))]);
    assert_django(
        "aggregate_over_window",
        match total {
            Ok(row) => Actual::Object(
                row.iter()
                    .map(|(name, value)| (name.to_owned(), scalar(value)))
                    .collect(),
            ),
            Err(e) => error(e),
        },
    );
}

#[test]
fn top_k_per_partition_is_planned_and_answers_like_the_full_sort() {
    let fast = staff();
    let plain = staff_in(Database::with_config(
        SessionConfig::new().disable_rule("replace_rank_filter_with_top_k"),
    ));
    let plan = ranked(&fast)
        .filter(q!(rn__lte = 2))
        .explain()
        .expect("explains");
    assert!(
        plan.contains("WindowExec") && plan.contains("partition_fetch=2"),
        "{plan}"
    );
    let plan = ranked(&plain)
        .filter(q!(rn__lte = 2))
        .explain()
        .expect("explains");
    assert!(!plan.contains("partition_fetch"), "{plan}");
    let windows = [
        Window(RowNumber()).order_by([F("salary").desc_nulls_first()]),
        dept(Window(RowNumber()), [F("salary").asc_nulls_first()]),
        dept(Window(Rank()), [F("salary").desc_nulls_last()]),
        Window(Rank()).partition_by(["dept"]),
    ];
    for window in windows {
        for k in 0..5i64 {
            let query = |db: &Database| {
                let qs = db
                    .objects("Emp")
                    .annotate([("r", window.clone())])
                    .filter(q!(r__lte = k))
                    .order_by(["name"])
                    .values(["name", "r"]);
                format!("{}", qs.fetch().expect("runs"))
            };
            assert_eq!(query(&fast), query(&plain), "{window} <= {k}");
        }
    }
}

#[test]
fn windows_with_model_grouping_ordering_count_and_distinct() {
    let db = staff();
    let emps = db.objects("Emp");
    let grouped = emps
        .annotate([("n", Count("id"))])
        .annotate([(
            "r",
            Window(DenseRank()).order_by([F("salary").desc_nulls_last()]),
        )])
        .order_by(["name"]);
    let result = grouped.values(["name", "n", "r"]).fetch().expect("runs");
    let triples = Actual::List(
        result
            .iter()
            .map(|r| {
                Actual::List(
                    ["name", "n", "r"]
                        .iter()
                        .map(|c| r.get_value(c).map_or(Actual::Null, |v| scalar(&v)))
                        .collect(),
                )
            })
            .collect(),
    );
    assert_django("window_over_model_groups", triples);
    let ordered = emps
        .annotate([("r", Window(Sum("salary")).partition_by(["dept"]))])
        .order_by(["-r", "name"]);
    assert_django("order_by_window_annotation", column(&ordered, "name"));
    assert_django(
        "count_with_window_no_filter",
        match emps.annotate([("r", Window(RowNumber()))]).count() {
            Ok(n) => Actual::Int(n as i128),
            Err(e) => error(e),
        },
    );
    let distinct = emps
        .annotate([("r", Window(Count("*")).partition_by(["dept"]))])
        .values(["r"])
        .distinct()
        .order_by(["r"]);
    assert_django("distinct_window_values", column(&distinct, "r"));
}

/// `[[name, value], …]` of a QuerySet ordered by name.
fn name_pairs(qs: &QuerySet, value: &str) -> Actual {
    match qs.order_by(["name"]).values(["name", value]).fetch() {
        Ok(result) => Actual::List(
            result
                .iter()
                .map(|r| {
                    Actual::List(
                        ["name", value]
                            .iter()
                            .map(|c| r.get_value(c).map_or(Actual::Null, |v| scalar(&v)))
                            .collect(),
                    )
                })
                .collect(),
        ),
        Err(e) => error(e),
    }
}

#[test]
fn windows_inside_subqueries_are_computed_by_the_subquery() {
    // Every case runs with and without subquery decorrelation.
    for decorrelate in [true, false] {
        let config = if decorrelate {
            SessionConfig::new()
        } else {
            SessionConfig::new().disable_rule("decorrelate_subqueries")
        };
        let db = staff_in(Database::with_config(config));
        let emps = || db.objects("Emp");
        let top2 = ranked(&db).filter(q!(rn__lte = 2)).values(["pk"]);
        assert_django(
            "subquery_window_pk_in",
            column(
                &emps().filter(Q::new("pk__in", top2)).order_by(["name"]),
                "name",
            ),
        );
        let top3 = emps()
            .annotate([(
                "r",
                Window(Rank()).order_by([F("salary").desc_nulls_last()]),
            )])
            .filter(q!(r__lte = 3))
            .values(["pk"]);
        assert_django(
            "subquery_window_in_subquery_expression",
            column(
                &emps()
                    .filter(Q::new("pk__in", Subquery(top3)))
                    .order_by(["name"]),
                "name",
            ),
        );
        // `dept=OuterRef` is a WHERE (before the window), `rn=1` a QUALIFY (after it).
        let top_of_dept = ranked(&db)
            .filter(Q::new("dept", OuterRef("dept")) & q!(rn = 1))
            .values(["name"])
            .slice(0..1);
        assert_django(
            "subquery_window_top_of_dept",
            name_pairs(&emps().annotate([("top", Subquery(top_of_dept))]), "top"),
        );
        let dept_total = emps()
            .filter(Q::new("dept", OuterRef("dept")))
            .annotate([("t", Window(Sum("salary")))])
            .values(["t"])
            .slice(0..1);
        assert_django(
            "subquery_window_value",
            name_pairs(&emps().annotate([("total", Subquery(dept_total))]), "total"),
        );
        // A filter on pk=OuterRef runs before the window: each ranking sees one row.
        let own = ranked(&db)
            .filter(Q::new("pk", OuterRef("pk")))
            .values(["rn"]);
        assert_django(
            "subquery_window_where_before_window",
            name_pairs(&emps().annotate([("r", Subquery(own))]), "r"),
        );
        // A QUALIFY that reads the outer row: the global position equal to my id.
        let at_my_id = emps()
            .annotate([(
                "g",
                Window(RowNumber()).order_by([F("salary").desc_nulls_last(), F("name").asc()]),
            )])
            .filter(Q::new("g", OuterRef("pk")))
            .values(["name"])
            .slice(0..1);
        assert_django(
            "subquery_window_correlated_qualify",
            name_pairs(&emps().annotate([("who", Subquery(at_my_id))]), "who"),
        );
        let big_dept = ranked(&db).filter(Q::new("dept", OuterRef("dept")) & q!(rn__gt = 3));
        assert_django(
            "exists_window",
            column(&emps().filter(Exists(big_dept)).order_by(["name"]), "name"),
        );
        let firsts = ranked(&db).filter(q!(rn = 1)).values(["pk"]);
        assert_django(
            "window_annotation_of_subquery_values",
            name_pairs(
                &emps().filter(Q::new("pk__in", firsts)).annotate([(
                    "r",
                    Window(Rank()).order_by([F("salary").desc_nulls_last()]),
                )]),
                "r",
            ),
        );
    }
}

/// Django's message up to the expression's repr, which is Django's own (`<Window: Max(Col(…))
/// OVER ()>`); Quiver writes its expressions' repr there.
fn django_message_before_repr(label: &str) -> (String, String) {
    let expected = DJANGO.get(label).cloned().unwrap_or(Json::Null);
    let name = expected["error"].as_str().unwrap_or_default().to_owned();
    let message = expected["message"].as_str().unwrap_or_default();
    let prefix = message.split_once('=').map_or(message, |(head, _)| head);
    (name, format!("{prefix}="))
}

#[test]
fn update_with_a_window_expression_is_a_field_error() {
    let db = staff();
    for (label, qs, value) in [
        (
            "update_with_window",
            db.objects("Emp"),
            Window(Max("salary")),
        ),
        (
            "update_with_window_in_arithmetic",
            db.objects("Emp").filter(q!(name = "Ann")),
            F("salary") + Window(Max("salary")).partition_by(["dept"]),
        ),
    ] {
        let (name, prefix) = django_message_before_repr(label);
        let err = qs.update([("salary", value)]).unwrap_err();
        assert_eq!(err.django_name(), name, "{label}");
        assert_eq!(name, "FieldError");
        let message = err.to_string();
        assert!(
            message.starts_with(&prefix) && message.ends_with(")."),
            "{label}: {message} (Django: {prefix}…)"
        );
    }
    // Nothing was written.
    assert_django(
        "row_number",
        pairs(&db, dept(Window(RowNumber()), by_salary_total())),
    );
    // A window inside Case/When is refused too; `create()`, `bulk_create()`, `bulk_update()`
    // and `save()` take values, not expressions, so a window cannot reach them.
    let err = db
        .objects("Emp")
        .update([(
            "salary",
            Case([When(q!(name = "Ann"), Window(Max("salary")))]).default(F("salary")),
        )])
        .unwrap_err();
    assert_eq!(err.django_name(), "FieldError");
}

/// Django's answers for the rank ranges ("the players ranked around one player"):
///
/// ```text
/// /tmp/django-venv/bin/python /work/shared/django-oracle/django_runner.py \
///     tests/integration/django/rank_ranges.py --db sqlite > tests/integration/django/rank_ranges.sqlite.jsonl
/// ```
static RANK_RANGES: LazyLock<HashMap<String, Json>> =
    LazyLock::new(|| django_lines(include_str!("django/rank_ranges.sqlite.jsonl")));

/// The fixture of `django/rank_ranges.py`: ties that straddle the ranges' ends, NULL scores,
/// levels and countries.
fn gamers_in(db: Database) -> Database {
    db.register(
        Model::new("Gamer")
            .field("name", CharField::new(20))
            .field("country", CharField::new(2).null())
            .field("score", IntegerField::new().null())
            .field("level", IntegerField::new().null()),
    )
    .expect("valid model");
    let rows: [(&str, Option<&str>, Option<i32>, Option<i32>); 12] = [
        ("a", Some("FR"), Some(50), Some(1)),
        ("b", Some("FR"), Some(70), Some(2)),
        ("c", Some("DE"), Some(70), None),
        ("d", Some("DE"), None, Some(3)),
        ("e", Some("FR"), Some(40), Some(1)),
        ("f", None, Some(70), Some(2)),
        ("g", Some("DE"), Some(40), Some(2)),
        ("h", None, None, Some(1)),
        ("i", Some("FR"), Some(90), Some(3)),
        ("j", Some("DE"), Some(40), None),
        ("k", Some("FR"), Some(10), Some(1)),
        ("l", None, Some(40), Some(3)),
    ];
    for (name, country, score, level) in rows {
        db.objects("Gamer")
            .create([
                ("name", ScalarValue::from(name)),
                ("country", ScalarValue::Utf8(country.map(str::to_owned))),
                ("score", ScalarValue::Int32(score)),
                ("level", ScalarValue::Int32(level)),
            ])
            .expect("row created");
    }
    db
}

/// `[[field, …], …]` of `qs` ordered by name.
fn listed(qs: &QuerySet, fields: &[&str]) -> Actual {
    match qs.order_by(["name"]).values(fields.to_vec()).fetch() {
        Ok(result) => Actual::List(
            result
                .iter()
                .map(|r| {
                    Actual::List(
                        fields
                            .iter()
                            .map(|c| r.get_value(c).map_or(Actual::Null, |v| scalar(&v)))
                            .collect(),
                    )
                })
                .collect(),
        ),
        Err(e) => error(e),
    }
}

#[test]
fn rank_ranges_skip_the_rows_before_them_and_answer_like_django() {
    let fast = gamers_in(Database::new());
    let plain = gamers_in(Database::with_config(
        SessionConfig::new().disable_rule("replace_rank_filter_with_top_k"),
    ));
    let desc_first = || [F("score").desc_nulls_first()];
    let desc_last = || [F("score").desc_nulls_last()];
    let asc_first = || [F("score").asc_nulls_first()];
    let asc_last = || [F("score").asc_nulls_last()];
    let cases: Vec<(&str, Expression, Q, &[&str])> = vec![
        (
            "rank_desc_nulls_first_3_6",
            Window(Rank()).order_by(desc_first()),
            q!(w__range = (3, 6)),
            &["name", "w"],
        ),
        (
            "rank_desc_nulls_last_3_6",
            Window(Rank()).order_by(desc_last()),
            q!(w__range = (3, 6)),
            &["name", "w"],
        ),
        (
            "rank_desc_nulls_last_6_9",
            Window(Rank()).order_by(desc_last()),
            q!(w__range = (6, 9)),
            &["name", "w"],
        ),
        (
            "rank_asc_nulls_first_eq_3",
            Window(Rank()).order_by(asc_first()),
            q!(w = 3),
            &["name", "w"],
        ),
        (
            "rank_asc_nulls_first_eq_4",
            Window(Rank()).order_by(asc_first()),
            q!(w = 4),
            &["name", "w"],
        ),
        (
            "rank_asc_nulls_last_gt_8_lt_12",
            Window(Rank()).order_by(asc_last()),
            q!(w__gt = 8, w__lt = 12),
            &["name", "w"],
        ),
        (
            "rank_beyond_the_table",
            Window(Rank()).order_by(desc_last()),
            q!(w__range = (20, 30)),
            &["name", "w"],
        ),
        (
            "row_number_total_4_7",
            Window(RowNumber()).order_by([F("score").desc_nulls_last(), F("name").asc()]),
            q!(w__range = (4, 7)),
            &["name", "w"],
        ),
        (
            "row_number_two_keys_2_5",
            Window(RowNumber()).order_by([
                F("score").desc_nulls_last(),
                F("level").asc_nulls_first(),
                F("name").asc(),
            ]),
            q!(w__range = (2, 5)),
            &["name", "w"],
        ),
        (
            "rank_two_keys_2_5",
            Window(Rank()).order_by([F("score").desc_nulls_last(), F("level").asc_nulls_first()]),
            q!(w__range = (2, 5)),
            &["name", "w"],
        ),
        (
            "rank_per_country_2_3",
            Window(Rank())
                .partition_by(["country"])
                .order_by(desc_last()),
            q!(w__range = (2, 3)),
            &["name", "country", "w"],
        ),
        (
            "row_number_per_country_gt_1_lt_4",
            Window(RowNumber())
                .partition_by(["country"])
                .order_by([F("score").desc_nulls_first(), F("name").asc()]),
            q!(w__gt = 1, w__lt = 4),
            &["name", "country", "w"],
        ),
    ];
    for (label, window, lookup, fields) in cases {
        let expected = RANK_RANGES
            .get(label)
            .unwrap_or_else(|| panic!("no Django output for {label}: re-run rank_ranges.py"));
        for db in [&fast, &plain] {
            let qs = db
                .objects("Gamer")
                .annotate([("w", window.clone())])
                .filter(lookup.clone());
            let actual = listed(&qs, fields);
            assert!(
                matches(expected, &actual),
                "{label}:\n  Django: {expected}\n  Quiver: {actual:?}"
            );
        }
    }
    let both = |db: &Database| {
        db.objects("Gamer")
            .annotate([
                ("rk", Window(Rank()).order_by(desc_last())),
                (
                    "rn",
                    Window(RowNumber()).order_by([F("score").desc_nulls_last(), F("name").asc()]),
                ),
            ])
            .filter(q!(rk__range = (5, 8)))
    };
    let count = |db: &Database| {
        db.objects("Gamer")
            .annotate([("w", Window(Rank()).order_by(desc_last()))])
            .filter(q!(w__range = (2, 7)))
    };
    for db in [&fast, &plain] {
        let actual = listed(&both(db), &["name", "rk", "rn"]);
        let expected = &RANK_RANGES["rank_and_row_number_5_8"];
        assert!(matches(expected, &actual), "{expected} vs {actual:?}");
        let n = count(db).count().expect("counts");
        assert!(matches(
            &RANK_RANGES["rank_range_count"],
            &Actual::Int(n as i128)
        ));
    }
    let plan = count(&fast).explain().expect("explains");
    assert!(plan.contains("partition_fetch=2..=7 with ties"), "{plan}");
    let plan = count(&plain).explain().expect("explains");
    assert!(!plan.contains("partition_fetch"), "{plan}");
}

/// splitmix64: the random test below needs no `rand` and is the same on every run.
fn split_mix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn random_rank_ranges_answer_like_the_full_sort() {
    // 3,000 players over 4 countries (and NULL), scores in 0..40 (heavy ties) or NULL, levels
    // in 0..3 or NULL: every range end lands inside a peer group somewhere.
    let mut state = 7;
    let mut players = Vec::new();
    for i in 0..3_000 {
        let mut draw = |n: u64| split_mix(&mut state) % n;
        let country = ["FR", "DE", "JP", "US"]
            .get(draw(5) as usize)
            .map(|c| (*c).to_owned());
        let score = (draw(10) != 0).then(|| draw(40) as i32);
        let level = (draw(4) != 0).then(|| draw(3) as i32);
        players.push(vec![
            ("name", ScalarValue::from(format!("p{i:04}").as_str())),
            ("country", ScalarValue::Utf8(country)),
            ("score", ScalarValue::Int32(score)),
            ("level", ScalarValue::Int32(level)),
        ]);
    }
    let load = |config: SessionConfig| {
        let db = Database::with_config(config);
        db.register(
            Model::new("Gamer")
                .field("name", CharField::new(20))
                .field("country", CharField::new(2).null())
                .field("score", IntegerField::new().null())
                .field("level", IntegerField::new().null()),
        )
        .expect("valid model");
        db.objects("Gamer")
            .bulk_create(players.clone())
            .expect("rows created");
        db
    };
    let fast = load(SessionConfig::new());
    let plain = load(SessionConfig::new().disable_rule("replace_rank_filter_with_top_k"));
    let orders: Vec<Vec<OrderBy>> = vec![
        vec![F("score").desc_nulls_first()],
        vec![F("score").desc_nulls_last()],
        vec![F("score").asc_nulls_first()],
        vec![F("score").asc_nulls_last(), F("level").desc_nulls_first()],
        vec![F("level").asc_nulls_last(), F("score").desc_nulls_last()],
    ];
    let mut checked = 0;
    for (o, order) in orders.iter().enumerate() {
        for partitioned in [false, true] {
            for row_number in [false, true] {
                let mut keys = order.clone();
                if row_number {
                    keys.push(F("name").asc());
                }
                let mut window = if row_number {
                    Window(RowNumber())
                } else {
                    Window(Rank())
                };
                if partitioned {
                    window = window.partition_by(["country"]);
                }
                let window = window.order_by(keys);
                let size: i64 = if partitioned { 700 } else { 3_100 };
                for _ in 0..4 {
                    let low = (split_mix(&mut state) % size as u64) as i64;
                    let high = low + (split_mix(&mut state) % 90) as i64;
                    let query = |db: &Database| {
                        let qs = db
                            .objects("Gamer")
                            .annotate([("w", window.clone())])
                            .filter(q!(w__range = (low, high)));
                        listed(&qs, &["name", "w"])
                    };
                    let (a, b) = (query(&fast), query(&plain));
                    assert!(matches!(a, Actual::List(_)), "{a:?}");
                    assert_eq!(a, b, "order {o} partitioned {partitioned} {low}..={high}");
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 80);
    // Some ranges must have hit rows, or the comparison proves nothing.
    let hit = fast
        .objects("Gamer")
        .annotate([("w", Window(Rank()).order_by([F("score").desc_nulls_last()]))])
        .filter(q!(w__range = (1_000, 1_100)))
        .count()
        .expect("counts");
    assert!(hit > 50, "{hit}");
}
