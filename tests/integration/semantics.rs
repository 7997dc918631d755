//! Django's rules from SEMANTICS.md that filters, annotations and aggregates touch, checked
//! against real Django where Django on SQLite answers as PostgreSQL would.
//!
//! `django/semantics.py` runs the same QuerySets in Django 5.1.4; its output,
//! `django/semantics.sqlite.jsonl`, holds one `[label, value]` line per case and is produced by
//!
//! ```text
//! /tmp/django-venv/bin/python /work/shared/django-oracle/django_runner.py \
//!     tests/integration/django/semantics.py --db sqlite > tests/integration/django/semantics.sqlite.jsonl
//! ```
//!
//! Each test here builds the same QuerySet in Quiver and compares with the line of its label:
//! numbers by value (relative tolerance 1e-9), but an integer where Django has a float, or a
//! float where Django has an integer, is a difference (integer division must truncate, `Avg`
//! must be a float). Errors compare by Django exception name and message.
//!
//! Where SQLite differs from PostgreSQL (which Quiver follows) the expected values are written
//! here by hand from PostgreSQL's rules, and each such test says so: default NULL ordering
//! (PostgreSQL: last ascending, first descending), LIKE case sensitivity, division by zero
//! and integer overflow (errors, not NULL or a wrapped value), and NaN and `-0.0` (SQLite
//! cannot store NaN).

use std::collections::HashMap;
use std::sync::LazyLock;

use quiver::prelude::*;
use quiver::QuerySet;
use serde_json::Value as Json;

/// Django's answers, by label.
static DJANGO: LazyLock<HashMap<String, Json>> =
    LazyLock::new(|| django_lines(include_str!("django/semantics.sqlite.jsonl")));

/// Parses a Django oracle output file (`django_runner.py ... > X.sqlite.jsonl`): one
/// `[label, value]` JSON array per line, into Django's answers by label.
pub fn django_lines(text: &str) -> HashMap<String, Json> {
    text.lines()
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
}

/// A Quiver result in the shape of the runner's JSON, keeping whether a number is an
/// integer, a float or a decimal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Actual {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    /// A decimal, as its nearest float: Django on SQLite computes decimals as floats.
    Decimal(f64),
    Text(String),
    List(Vec<Actual>),
    Object(Vec<(String, Actual)>),
    Error {
        name: String,
        message: String,
    },
}

pub(crate) fn scalar(value: &ScalarValue) -> Actual {
    match value {
        ScalarValue::Null => Actual::Null,
        value if value.is_null() => Actual::Null,
        ScalarValue::Boolean(Some(v)) => Actual::Bool(*v),
        ScalarValue::Int16(Some(v)) => Actual::Int(i128::from(*v)),
        ScalarValue::Int32(Some(v)) => Actual::Int(i128::from(*v)),
        ScalarValue::Int64(Some(v)) => Actual::Int(i128::from(*v)),
        ScalarValue::Float64(Some(v)) => Actual::Float(*v),
        ScalarValue::Decimal128(Some(v), _, scale) => {
            Actual::Decimal(*v as f64 / 10f64.powi(i32::from(*scale)))
        }
        ScalarValue::Utf8(Some(v)) => Actual::Text(v.clone()),
        other => Actual::Text(other.to_string()),
    }
}

fn row(row: &Row) -> Actual {
    Actual::Object(
        row.iter()
            .map(|(name, value)| (name.to_owned(), scalar(value)))
            .collect(),
    )
}

pub(crate) fn error(error: quiver::Error) -> Actual {
    Actual::Error {
        name: error.django_name().to_owned(),
        message: error.to_string(),
    }
}

/// `list(qs)` of a values() QuerySet: one object per row.
pub(crate) fn rows(qs: &QuerySet) -> Actual {
    match qs.fetch() {
        Ok(rows) => Actual::List(rows.iter().map(|r| row(&r)).collect()),
        Err(e) => error(e),
    }
}

/// One column of a QuerySet, in its order (`values_list(name, flat=True)`).
pub(crate) fn column(qs: &QuerySet, name: &str) -> Actual {
    match qs.values([name]).fetch() {
        Ok(rows) => Actual::List(
            rows.iter()
                .map(|r| r.get_value(name).map_or(Actual::Null, |v| scalar(&v)))
                .collect(),
        ),
        Err(e) => error(e),
    }
}

/// The names of a QuerySet's authors, by name.
pub(crate) fn names(qs: &QuerySet) -> Actual {
    column(&qs.order_by(["name"]), "name")
}

/// `qs.aggregate(...)`.
pub(crate) fn aggregate<A: Into<AggregateArg>>(
    qs: &QuerySet,
    items: impl IntoIterator<Item = A>,
) -> Actual {
    match qs.aggregate(items) {
        Ok(result) => row(&result),
        Err(e) => error(e),
    }
}

pub(crate) fn matches(expected: &Json, actual: &Actual) -> bool {
    let close = |a: f64, b: f64| a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
    match (expected, actual) {
        (Json::Null, Actual::Null) => true,
        (Json::Bool(a), Actual::Bool(b)) => a == b,
        (Json::Number(n), Actual::Int(v)) => n.as_i64().is_some_and(|n| i128::from(n) == *v),
        (Json::Number(n), Actual::Float(v)) => {
            n.is_f64() && n.as_f64().is_some_and(|n| close(n, *v))
        }
        (Json::Number(n), Actual::Decimal(v)) => n.as_f64().is_some_and(|n| close(n, *v)),
        (Json::String(a), Actual::Text(b)) => a == b,
        (Json::Array(a), Actual::List(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| matches(x, y))
        }
        (Json::Object(a), Actual::Error { name, message }) => {
            a.get("error").and_then(Json::as_str) == Some(name.as_str())
                && a.get("message").and_then(Json::as_str) == Some(message.as_str())
        }
        (Json::Object(a), Actual::Object(b)) => {
            a.len() == b.len()
                && b.iter()
                    .all(|(key, value)| a.get(key).is_some_and(|e| matches(e, value)))
        }
        _ => false,
    }
}

/// Asserts that Quiver's `actual` is Django's answer for `label`.
pub(crate) fn assert_django(label: &str, actual: Actual) {
    let expected = DJANGO
        .get(label)
        .unwrap_or_else(|| panic!("no Django output for {label}: re-run django/semantics.py"));
    assert!(
        matches(expected, &actual),
        "{label}:\n  Django: {expected}\n  Quiver: {actual:?}"
    );
}

pub(crate) fn text(value: &str) -> Actual {
    Actual::Text(value.to_owned())
}

pub(crate) fn texts(values: &[&str]) -> Actual {
    Actual::List(values.iter().map(|v| text(v)).collect())
}

/// The fixture of `django/semantics.py`: authors (Meta.ordering by name) and their books.
pub(crate) fn library() -> Database {
    let db = Database::new();
    let author = Model::new("Author")
        .field("name", CharField::new(50))
        .field("age", IntegerField::new().null())
        .field("city", CharField::new(20).null())
        .field("rating", FloatField::new().null())
        .ordering(["name"]);
    let book = Model::new("Book")
        .field("title", CharField::new(50))
        .field("pages", IntegerField::new())
        .field("price", DecimalField::new(8, 2).null())
        .field(
            "author",
            ForeignKey::new("Author", OnDelete::Cascade)
                .null()
                .related_name("books"),
        );
    for model in [author, book] {
        db.register(model).expect("valid model");
    }
    let authors: [(&str, Option<i32>, Option<&str>, Option<f64>); 4] = [
        ("Ann", Some(30), Some("Oslo"), Some(4.5)),
        ("Bob", None, Some("Rome"), None),
        ("Cy", Some(40), None, Some(3.0)),
        ("Dee", Some(30), Some("Oslo"), Some(2.5)),
    ];
    for (name, age, city, rating) in authors {
        db.objects("Author")
            .create([
                ("name", ScalarValue::from(name)),
                ("age", ScalarValue::Int32(age)),
                ("city", ScalarValue::Utf8(city.map(str::to_owned))),
                ("rating", ScalarValue::Float64(rating)),
            ])
            .expect("author created");
    }
    let books: [(&str, i32, Option<i128>, Option<i64>); 4] = [
        ("A", 100, Some(1050), Some(1)),
        ("B", 200, None, Some(1)),
        ("C", 150, Some(2000), Some(3)),
        ("D", 50, Some(525), None),
    ];
    for (title, pages, price, author) in books {
        db.objects("Book")
            .create([
                ("title", ScalarValue::from(title)),
                ("pages", ScalarValue::Int32(Some(pages))),
                ("price", ScalarValue::Decimal128(price, 8, 2)),
                ("author", ScalarValue::Int64(author)),
            ])
            .expect("book created");
    }
    db
}

#[test]
fn null_in_filter_exclude_in_and_isnull() {
    let db = library();
    let authors = db.objects("Author");
    assert_django("filter_none", names(&authors.filter(q!(age = None::<i32>))));
    assert_django(
        "exclude_none",
        names(&authors.exclude(q!(age = None::<i32>))),
    );
    assert_django(
        "isnull_false",
        names(&authors.filter(q!(age__isnull = false))),
    );
    let thirty_or_none: Vec<Option<i32>> = vec![Some(30), None];
    assert_django(
        "in_ignores_none",
        names(&authors.filter(q!(age__in = thirty_or_none))),
    );
    let empty: Vec<i32> = Vec::new();
    assert_django(
        "in_empty",
        names(&authors.filter(q!(age__in = empty.clone()))),
    );
    assert_django(
        "exclude_in_empty",
        names(&authors.exclude(q!(age__in = empty))),
    );
}

#[test]
fn exclude_keeps_null_rows() {
    let db = library();
    let authors = db.objects("Author");
    assert_django("exclude_keeps_null", names(&authors.exclude(q!(age = 30))));
    assert_django(
        "filter_negated_keeps_null",
        names(&authors.filter(!q!(age = 30))),
    );
    assert_django(
        "exclude_or",
        names(&authors.exclude(q!(age = 30) | q!(city = "Rome"))),
    );
    assert_django(
        "exclude_gt_f_nullable",
        names(&authors.exclude(q!(age__gt = F("rating")))),
    );
    assert_django(
        "filter_gt_f_nullable",
        names(&authors.filter(q!(age__gt = F("rating")))),
    );
    assert_django(
        "exclude_through_nullable_fk",
        column(
            &db.objects("Book")
                .exclude(q!(author__city = "Oslo"))
                .order_by(["title"]),
            "title",
        ),
    );
    let q = q!(age__lt = 35) | q!(city = "Rome");
    let split = Actual::List(vec![
        names(&authors.filter(q.clone())),
        names(&authors.exclude(q)),
    ]);
    assert_django("filter_and_exclude_split", split);
}

#[test]
fn aggregates_over_empty_sets_and_nulls() {
    let db = library();
    let authors = db.objects("Author");
    let nobody = authors.filter(q!(name = "nobody"));
    assert_django(
        "aggregate_empty",
        aggregate(
            &nobody,
            [
                Count("id"),
                Sum("age"),
                Avg("age"),
                Max("name"),
                Min("rating"),
            ],
        ),
    );
    assert_django(
        "aggregate_default",
        aggregate(
            &nobody,
            [
                ("s", Sum("age").default(0)),
                ("c", Coalesce([Sum("age"), Value(0)])),
                ("m", Max("rating").default(1.5)),
            ],
        ),
    );
    assert_django(
        "aggregate_skips_null",
        aggregate(
            &authors,
            [
                AggregateArg::from(Avg("age")),
                Count("age").into(),
                Sum("rating").into(),
                ("n", Count("*")).into(),
            ],
        ),
    );
    assert_django(
        "aggregate_distinct",
        aggregate(&authors, [Count("city").distinct(), Sum("age").distinct()]),
    );
    assert_django(
        "aggregate_filter",
        aggregate(
            &authors,
            [
                ("old", Count("id").filter(q!(age__gte = 35))),
                ("young_age", Sum("age").filter(q!(age__lt = 35))),
            ],
        ),
    );
    assert_django(
        "aggregate_over_slice",
        aggregate(
            &authors.order_by(["name"]).slice(1..3),
            [Sum("age"), Count("id")],
        ),
    );
}

#[test]
fn aggregate_result_names_and_types() {
    let db = library();
    let books = db.objects("Book");
    assert_django(
        "default_names",
        aggregate(
            &books,
            [Avg("pages"), Max("price"), Sum("pages"), Min("title")],
        ),
    );
    assert_django(
        "decimal_aggregates",
        aggregate(&books, [Sum("price"), Max("price"), Min("price")]),
    );
    assert_django(
        "avg_of_integers_is_float",
        aggregate(&books.filter(q!(pages__lte = 150)), [Avg("pages")]),
    );
}

/// Django on SQLite averages decimals as floats (11.9166666666667); PostgreSQL's numeric
/// average is 11.9166666666666667 (Django returns that `Decimal`). Within the comparison's
/// tolerance (1e-9) only if Quiver keeps at least 10 significant digits.
#[test]
fn decimal_avg_keeps_postgresql_precision() {
    let db = library();
    assert_django(
        "decimal_avg",
        aggregate(&db.objects("Book"), [Avg("price")]),
    );
}

/// `values()` then `annotate()` groups; `annotate()` on models groups by the key;
/// `values()` after `annotate()` does not regroup; `order_by` fields join the GROUP BY;
/// Meta.ordering does not; `order_by()` clears; filters on aggregates are HAVING.
#[test]
fn group_by_rules() {
    let db = library();
    let authors = db.objects("Author");
    let by_city = authors.values(["city"]).annotate([("n", Count("id"))]);
    assert_django(
        "values_annotate_groups",
        rows(&by_city.order_by([F("city").asc_nulls_last()])),
    );
    assert_django(
        "annotate_groups_by_pk",
        rows(
            &authors
                .annotate([("n", Count("books"))])
                .values(["name", "n"])
                .order_by(["name"]),
        ),
    );
    assert_django(
        "values_after_annotate_does_not_regroup",
        rows(
            &authors
                .annotate([("n", Count("books"))])
                .values(["city", "n"])
                .order_by(["name"]),
        ),
    );
    assert_django(
        "order_by_field_joins_group_by",
        rows(&by_city.order_by(["name"])),
    );
    // The script sorts these two by city with NULL last, as `sorted_by_city` does.
    assert_django(
        "meta_ordering_not_in_group_by",
        sorted_by_city(rows(&by_city)),
    );
    assert_django(
        "order_by_cleared",
        sorted_by_city(rows(&by_city.order_by(["name"]).clear_ordering())),
    );
    assert_django("having", rows(&by_city.filter(q!(n__gt = 1))));
    assert_django(
        "having_and_where",
        rows(
            &authors
                .filter(q!(age__isnull = false))
                .values(["age"])
                .annotate([("n", Count("id")), ("pages", Sum("books__pages"))])
                .filter(q!(n__gte = 1))
                .order_by(["age"]),
        ),
    );
    assert_django(
        "empty_group_sum",
        rows(
            &authors
                .annotate([
                    ("s", Sum("books__pages")),
                    ("c", Coalesce([Sum("books__pages"), Value(0)])),
                    ("n", Count("books")),
                ])
                .values(["name", "s", "c", "n"])
                .order_by(["name"]),
        ),
    );
}

/// Multi-valued relations: each `filter()` call joins the related rows again, conditions in
/// one call hold for the same related row, `filter()` then `annotate()` aggregates only the
/// filtered related rows, `annotate()` then `filter()` aggregates all of them.
#[test]
fn multi_valued_relations_join_per_filter_call() {
    let db = library();
    let authors = db.objects("Author");
    assert_django(
        "filter_then_annotate_counts_filtered_rows",
        rows(
            &authors
                .filter(q!(books__pages__gt = 100))
                .annotate([("n", Count("books"))])
                .values(["name", "n"])
                .order_by(["name"]),
        ),
    );
    assert_django(
        "annotate_then_filter_counts_all_rows",
        rows(
            &authors
                .annotate([("n", Count("books"))])
                .filter(q!(books__pages__gt = 100))
                .values(["name", "n"])
                .order_by(["name"]),
        ),
    );
    assert_django(
        "chained_filters_multiply_rows",
        rows(
            &authors
                .filter(q!(books__pages__gt = 50))
                .filter(q!(books__pages__lt = 300))
                .annotate([("n", Count("books")), ("s", Sum("books__pages"))])
                .values(["name", "n", "s"])
                .order_by(["name"]),
        ),
    );
    assert_django(
        "filter_across_relation_repeats_parents",
        column(
            &authors.filter(q!(books__pages__gt = 50)).order_by(["name"]),
            "name",
        ),
    );
    assert_django(
        "same_filter_call_same_related_row",
        names(&authors.filter(q!(books__pages__gt = 150, books__title = "A"))),
    );
    assert_django(
        "chained_filter_calls_any_related_rows",
        names(
            &authors
                .filter(q!(books__pages__gt = 150))
                .filter(q!(books__title = "A")),
        ),
    );
}

/// Rows of `{"city": …}` objects sorted by city, NULL last (what the script's `sorted` does).
fn sorted_by_city(actual: Actual) -> Actual {
    let Actual::List(mut rows) = actual else {
        return actual;
    };
    let key = |row: &Actual| match row {
        Actual::Object(fields) => fields
            .iter()
            .find(|(name, _)| name == "city")
            .map(|(_, value)| match value {
                Actual::Text(city) => (false, city.clone()),
                _ => (true, String::new()),
            })
            .unwrap_or((true, String::new())),
        _ => (true, String::new()),
    };
    rows.sort_by_key(key);
    Actual::List(rows)
}

#[test]
fn integer_arithmetic_truncates_and_propagates_null() {
    let db = library();
    let authors = db.objects("Author");
    assert_django(
        "integer_division",
        rows(
            &authors
                .annotate([("h", F("age") / 7), ("m", F("age") % 7)])
                .values(["name", "h", "m"])
                .order_by(["name"]),
        ),
    );
    assert_django(
        "negative_integer_division",
        rows(
            &authors
                .filter(q!(name = "Ann"))
                .annotate([("q", Value(-7) / Value(2)), ("r", Value(-7) % Value(2))])
                .values(["q", "r"]),
        ),
    );
    assert_django(
        "aggregate_integer_division",
        aggregate(&authors, [("mean", Sum("age") / Count("age"))]),
    );
    assert_django(
        "null_arithmetic",
        rows(
            &authors
                .annotate([("x", F("age") + 1)])
                .values(["name", "x"])
                .order_by(["name"]),
        ),
    );
}

#[test]
fn case_when() {
    let db = library();
    let authors = db.objects("Author");
    let band = Case([When(q!(age__lt = 35), Value("young"))]);
    assert_django(
        "case_when_null_goes_to_default",
        rows(
            &authors
                .annotate([("band", band.clone().default(Value("old")))])
                .values(["name", "band"])
                .order_by(["name"]),
        ),
    );
    assert_django(
        "case_when_no_default_is_null",
        rows(
            &authors
                .annotate([("band", band)])
                .values(["name", "band"])
                .order_by(["name"]),
        ),
    );
}

#[test]
fn explicit_null_placement() {
    let db = library();
    let authors = db.objects("Author");
    assert_django(
        "order_nulls_first",
        column(
            &authors.order_by([
                OrderItem::from(F("age").asc_nulls_first()),
                OrderItem::from("name"),
            ]),
            "name",
        ),
    );
    assert_django(
        "order_desc_nulls_last",
        column(
            &authors.order_by([
                OrderItem::from(F("age").desc_nulls_last()),
                OrderItem::from("name"),
            ]),
            "name",
        ),
    );
}

/// PostgreSQL's rule, by hand (SQLite sorts NULL first ascending): NULLs last ascending,
/// first descending.
#[test]
fn default_null_ordering_is_postgresql() {
    let db = library();
    let authors = db.objects("Author");
    assert_eq!(
        column(&authors.order_by(["age", "name"]), "name"),
        texts(&["Ann", "Dee", "Cy", "Bob"])
    );
    assert_eq!(
        column(&authors.order_by(["-age", "name"]), "name"),
        texts(&["Bob", "Cy", "Ann", "Dee"])
    );
    let cities = authors
        .values(["city"])
        .annotate([("n", Count("id"))])
        .order_by(["city"]);
    assert_eq!(
        column(&cities, "city"),
        Actual::List(vec![text("Oslo"), text("Rome"), Actual::Null])
    );
}

/// PostgreSQL's rule, by hand (SQLite's LIKE ignores ASCII case): `contains` is
/// case-sensitive, `icontains` is not.
#[test]
fn contains_is_case_sensitive() {
    let db = library();
    let authors = db.objects("Author");
    assert_eq!(names(&authors.filter(q!(name__contains = "a"))), texts(&[]));
    assert_eq!(
        names(&authors.filter(q!(name__contains = "A"))),
        texts(&["Ann"])
    );
    assert_eq!(
        names(&authors.filter(q!(name__icontains = "a"))),
        texts(&["Ann"])
    );
    assert_eq!(
        names(&authors.filter(q!(name__startswith = "d"))),
        texts(&[])
    );
    assert_eq!(
        names(&authors.filter(q!(name__istartswith = "d"))),
        texts(&["Dee"])
    );
}

/// PostgreSQL's rule, by hand (SQLite answers NULL): integer division by zero and integer
/// overflow are errors (Django's `DataError`), never NULL or a wrapped value.
#[test]
fn division_by_zero_and_overflow_are_errors() {
    let db = library();
    let authors = db.objects("Author");
    let error_name = |qs: QuerySet| match qs.fetch() {
        Ok(rows) => format!("no error, {} rows", rows.len()),
        Err(error) => error.django_name().to_owned(),
    };
    assert_eq!(
        error_name(authors.annotate([("x", F("age") / 0)])),
        "DataError"
    );
    assert_eq!(
        error_name(authors.annotate([("x", F("age") % (F("age") - 30))])),
        "DataError"
    );
    assert_eq!(
        error_name(authors.annotate([("x", Value(i64::MAX) + F("age"))])),
        "DataError"
    );
    // Only rows where the divisor is zero fail: none here once Bob (NULL age) is the only
    // one filtered in, since NULL / 0 is NULL.
    assert_eq!(
        rows(
            &authors
                .filter(q!(name = "Bob"))
                .annotate([("x", F("age") / 0)])
                .values(["x"])
        ),
        Actual::List(vec![Actual::Object(vec![("x".to_owned(), Actual::Null)])])
    );
}

#[test]
fn errors_use_django_names_and_wording() {
    let db = library();
    let authors = db.objects("Author");
    assert_django("field_error", names(&authors.filter(q!(agee = 3))));
    assert_django(
        "field_error_annotation_choices",
        names(&authors.annotate([("n", Count("books"))]).filter(q!(nn = 1))),
    );
    assert_django(
        "count_star_filter",
        aggregate(&authors, [("n", Count("*").filter(q!(age = 30)))]),
    );
    assert_django(
        "count_default",
        aggregate(&authors, [("n", Count("id").default(0))]),
    );
    assert_django(
        "mixed_types",
        rows(
            &db.objects("Book")
                .annotate([("x", F("price") + F("author__rating"))])
                .values(["x"]),
        ),
    );
    assert_django(
        "complex_aggregate_needs_alias",
        aggregate(&authors, [Sum("age").filter(q!(age = 30))]),
    );
}

/// PostgreSQL's float rules, by hand (SQLite stores NaN as NULL): `-0.0 = 0.0`, NaN equals
/// NaN and sorts above every number (below NULL in ascending order), and GROUP BY puts
/// `-0.0` with `0.0` and NaN with NaN. The DataFusion comparison leaves `-0.0` out because
/// DataFusion orders it before `0.0`; this is where those rules are checked.
#[test]
fn float_nan_and_negative_zero_follow_postgresql() {
    let db = Database::new();
    db.register(Model::new("Reading").field("value", FloatField::new().null()))
        .expect("valid model");
    for value in [
        Some(f64::NAN),
        Some(-0.0),
        Some(0.0),
        Some(1.0),
        None,
        Some(f64::NAN),
    ] {
        db.objects("Reading")
            .create([("value", ScalarValue::Float64(value))])
            .expect("reading created");
    }
    let readings = db.objects("Reading");
    let ids = |qs: QuerySet| column(&qs.order_by(["id"]), "id");
    let int_list = |ids: &[i128]| Actual::List(ids.iter().map(|i| Actual::Int(*i)).collect());
    assert_eq!(ids(readings.filter(q!(value = 0.0))), int_list(&[2, 3]));
    assert_eq!(ids(readings.filter(q!(value = -0.0))), int_list(&[2, 3]));
    assert_eq!(
        ids(readings.filter(q!(value = f64::NAN))),
        int_list(&[1, 6])
    );
    assert_eq!(
        ids(readings.filter(q!(value__gt = 1e300))),
        int_list(&[1, 6])
    );
    assert_eq!(ids(readings.filter(q!(value__lt = 0.0))), int_list(&[]));
    // -0.0 and 0.0 are peers, so `id` decides between them.
    assert_eq!(
        column(&readings.order_by(["value", "id"]), "id"),
        int_list(&[2, 3, 4, 1, 6, 5])
    );
    assert_eq!(
        column(&readings.order_by(["-value", "-id"]), "id"),
        int_list(&[5, 6, 1, 4, 3, 2])
    );
    let groups = rows(
        &readings
            .values(["value"])
            .annotate([("n", Count("id"))])
            .order_by(["value"]),
    );
    let Actual::List(groups) = groups else {
        panic!("grouping failed: {groups:?}");
    };
    let counts: Vec<Actual> = groups
        .iter()
        .map(|group| match group {
            Actual::Object(fields) => fields[1].1.clone(),
            other => other.clone(),
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            Actual::Int(2),
            Actual::Int(1),
            Actual::Int(2),
            Actual::Int(1)
        ]
    );
    let extremes = aggregate(&readings, [Max("value"), Min("value")]);
    let Actual::Object(extremes) = extremes else {
        panic!("aggregate failed: {extremes:?}");
    };
    assert!(
        matches!(extremes[0].1, Actual::Float(max) if max.is_nan()),
        "{extremes:?}"
    );
    assert!(
        matches!(extremes[1].1, Actual::Float(min) if min == 0.0),
        "{extremes:?}"
    );
}
