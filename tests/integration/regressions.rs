//! Bugs the differential and metamorphic tests found, each as the smallest QuerySet that
//! shows it, marked `#[ignore = "bug: …"]` until fixed (run them with `--ignored`) and kept
//! as ordinary tests after. Expected
//! values come from real Django (the labels' lines in `django/semantics.sqlite.jsonl`, see
//! `semantics`), or from PostgreSQL's rules where the comment says so.

use quiver::prelude::*;

use crate::datafusion_oracle::run_sql;
use crate::differential::tables::Dataset;
use crate::semantics::{aggregate, assert_django, library, rows, Actual};

/// Found by `querysets_agree_with_datafusion` as
/// `Item.objects.annotate(a0=F("id"), a1=F("day")).values("flag", "owner", "a1", "a0")`:
/// Quiver returns `a0, a1`. Django's `values()` puts model fields first and annotations
/// after them, both in the order asked.
#[test]
fn values_lists_fields_then_annotations_as_asked() {
    let db = library();
    let qs = db
        .objects("Author")
        .annotate([("a0", F("id")), ("a1", F("age"))])
        .values(["a1", "city", "a0"])
        .order_by(["name"]);
    let actual = match qs.fetch() {
        Ok(result) => Actual::List(
            result
                .iter()
                .map(|row| {
                    Actual::List(
                        row.columns()
                            .iter()
                            .map(|name| Actual::Text(name.clone()))
                            .collect(),
                    )
                })
                .collect(),
        ),
        Err(error) => panic!("{error}"),
    };
    assert_django("values_lists_fields_then_annotations_as_asked", actual);
}

/// Found by `querysets_agree_with_datafusion` as
/// `Item.objects.values("id").annotate(id__count=Count("id")).filter(id__count__exact=0)`
/// (`FieldError: Unsupported lookup 'count__exact' for BigAutoField`) and as
/// `….values("flag").annotate(day__count=Count("day")).order_by("day__count")`
/// (`FieldError: Cannot resolve keyword 'count' into field`). Django resolves annotation
/// names before fields (`refs_expression`, and `get_order_by` looks the whole name up in the
/// annotations first), so `annotate(Count("id"))` followed by `filter(id__count__gt=1)` or
/// `order_by("-id__count")`, the idioms of Django's aggregation docs, work.
#[test]
fn filter_and_order_on_default_alias_aggregate() {
    let db = library();
    let by_city = db
        .objects("Author")
        .values(["city"])
        // Django's `annotate(Count("id"))`; Quiver's annotate() takes names only.
        .annotate([("id__count", Count("id"))]);
    assert_django(
        "filter_on_default_alias_aggregate",
        rows(&by_city.filter(q!(id__count__gt = 1))),
    );
    assert_django(
        "order_by_default_alias_aggregate",
        rows(&by_city.order_by([
            OrderItem::from("-id__count"),
            OrderItem::from(F("city").asc_nulls_last()),
        ])),
    );
}

/// Found by `querysets_agree_with_datafusion` as
/// `Item.objects.values("qty").annotate(g0=Avg("id", filter=~Q(amount__isnull=False)))` over
/// one row: a panic in `HashAggregateExec` (`AggregateSpec::arguments` →
/// `arrow_select::filter::prep_null_mask_filter`, "called `Option::unwrap()` on a `None`
/// value"). Any aggregate `filter=` panics, grouped or not, when its condition evaluates to
/// a boolean array without a null buffer: an `isnull` test, a comparison on a non-null
/// column, or on a nullable one that holds no NULL in the batch.
#[test]
fn aggregate_filter_without_nulls() {
    let db = library();
    let authors = db.objects("Author");
    assert_django(
        "aggregate_filter_isnull",
        aggregate(
            &authors,
            [
                ("n", Count("id").filter(q!(age__isnull = true))),
                ("s", Sum("age").filter(q!(city__isnull = false))),
            ],
        ),
    );
    assert_django(
        "grouped_aggregate_filter_isnull",
        rows(
            &authors
                .values(["city"])
                .annotate([("n", Count("id").filter(q!(age__isnull = true)))])
                .order_by([F("city").asc_nulls_last()]),
        ),
    );
    // `name` is never NULL.
    assert_django(
        "aggregate_filter",
        aggregate(
            &authors.filter(q!(age__isnull = false)),
            [
                ("old", Count("id").filter(q!(age__gte = 35))),
                ("young_age", Sum("age").filter(q!(age__lt = 35))),
            ],
        ),
    );
}

/// Found by `querysets_agree_with_datafusion` as
/// `Item.objects.filter(...).order_by("id")[7:12].aggregate(owner__region__max=Max("owner__region"))`:
/// `FieldError: Cannot resolve keyword 'region' into field. Join on 'owner' not permitted.`
/// Django aggregates a slice through a subquery that keeps the join, so an aggregate across
/// a relation works on a sliced QuerySet as on an unsliced one.
#[test]
fn aggregate_over_slice_across_relation() {
    let db = library();
    assert_django(
        "aggregate_over_slice_across_relation",
        aggregate(
            &db.objects("Book").order_by(["title"]).slice(1..3),
            [
                AggregateArg::from(Max("author__city")),
                ("n", Count("author__age")).into(),
            ],
        ),
    );
}

/// Found by `querysets_agree_with_datafusion` (3000 cases) as
/// `Item.objects.annotate(a0=Case(When(Q(id=0), then=F("day")))).values("a0").distinct().order_by("a0")`:
/// `sql()` renders `SELECT DISTINCT CASE … END AS "a0" … ORDER BY CASE … END`, which
/// DataFusion refuses ("For SELECT DISTINCT, ORDER BY expressions … must appear in select
/// list"). Ordering by the output name (`ORDER BY "a0"`) means the same in PostgreSQL and
/// runs in both.
#[test]
fn distinct_ordered_by_an_annotation_renders_portable_sql() {
    let dataset = Dataset {
        owners: Vec::new(),
        items: Vec::new(),
        item_cuts: Vec::new(),
    };
    let loaded = dataset.load().expect("empty tables load");
    let qs = loaded
        .db
        .objects("Item")
        .annotate([(
            "a0",
            Case([When(q!(id = 0), F("day"))]).default(Value(None::<i32>)),
        )])
        .values(["a0"])
        .distinct()
        .order_by(["a0"]);
    let sql = qs.sql().expect("renders");
    if let Err(error) = run_sql(&loaded.datafusion_tables(), &sql) {
        panic!("DataFusion cannot run Quiver's SQL: {error}\n{sql}");
    }
}
