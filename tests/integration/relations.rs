//! Relations against real Django: reverse ForeignKey and OneToOne, `to_field`, self
//! references, many-to-many (automatic, `through=`, symmetric), Django's join rules for
//! multi-valued paths, `exclude()`'s per-condition subqueries, related managers, eager
//! loading with its query counts, and deletes that follow `on_delete`.
//!
//! `django/relations.py` runs the same QuerySets in Django 5.1.4; its output,
//! `django/relations.sqlite.jsonl`, holds one `[label, value]` line per case and is produced by
//!
//! ```text
//! /tmp/django-venv/bin/python /work/shared/django-oracle/django_runner.py \
//!     tests/integration/django/relations.py --db sqlite > tests/integration/django/relations.sqlite.jsonl
//! ```
//!
//! Every ordering in the script is over non-NULL keys, so SQLite's NULL placement never
//! shows. Query counts are Django's `CaptureQueriesContext` figures (`assertNumQueries`).

use std::collections::HashMap;
use std::sync::LazyLock;

use quiver::prelude::*;
use quiver::QuerySet;
use serde_json::{json, Value as Json};

/// Django's answers, by label.
static DJANGO: LazyLock<HashMap<String, Json>> = LazyLock::new(|| {
    include_str!("django/relations.sqlite.jsonl")
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

fn expected(label: &str) -> &'static Json {
    DJANGO
        .get(label)
        .unwrap_or_else(|| panic!("no Django output for {label}: re-run django/relations.py"))
}

fn assert_django(label: &str, actual: Json) {
    assert_eq!(&actual, expected(label), "{label}");
}

fn scalar(value: &ScalarValue) -> Json {
    match value {
        value if value.is_null() => Json::Null,
        ScalarValue::Boolean(Some(v)) => json!(v),
        ScalarValue::Int16(Some(v)) => json!(v),
        ScalarValue::Int32(Some(v)) => json!(v),
        ScalarValue::Int64(Some(v)) => json!(v),
        ScalarValue::Float64(Some(v)) => json!(v),
        ScalarValue::Utf8(Some(v)) => json!(v),
        other => json!(other.to_string()),
    }
}

fn outcome(result: quiver::Result<Json>) -> Json {
    result.unwrap_or_else(|e| json!({"error": e.django_name(), "message": e.to_string()}))
}

/// `list(qs.values(...))`.
fn dicts(qs: &QuerySet) -> Json {
    outcome(qs.fetch().map(|rows| {
        Json::Array(
            rows.iter()
                .map(|row| {
                    Json::Object(
                        row.iter()
                            .map(|(name, value)| (name.to_owned(), scalar(value)))
                            .collect(),
                    )
                })
                .collect(),
        )
    }))
}

/// `list(qs.values_list(...))`: one array per row, or single values for one column.
fn tuples(qs: &QuerySet) -> Json {
    outcome(qs.fetch().map(|rows| {
        Json::Array(
            rows.iter()
                .map(|row| {
                    let values: Vec<Json> = row.iter().map(|(_, v)| scalar(v)).collect();
                    match <[Json; 1]>::try_from(values) {
                        Ok([only]) => only,
                        Err(values) => Json::Array(values),
                    }
                })
                .collect(),
        )
    }))
}

fn names(qs: &QuerySet) -> Json {
    tuples(&qs.order_by(["name"]).values_list(["name"]))
}

fn titles(qs: &QuerySet) -> Json {
    tuples(&qs.order_by(["title"]).values_list(["title"]))
}

/// The schema of `django/relations.py` and its rows.
pub(crate) fn library() -> Database {
    let db = Database::new();
    let models = [
        Model::new("Publisher").field("name", CharField::new(50)),
        Model::new("Author")
            .field("name", CharField::new(50))
            .field("age", IntegerField::new().null())
            .field(
                "mentor",
                ForeignKey::new("self", OnDelete::SetNull)
                    .null()
                    .related_name("mentees"),
            )
            .field("friends", ManyToManyField::new("self")),
        Model::new("Book")
            .field("title", CharField::new(50))
            .field("pages", IntegerField::new())
            .field(
                "publisher",
                ForeignKey::new("Publisher", OnDelete::Cascade).null(),
            )
            .field(
                "authors",
                ManyToManyField::new("Author").related_name("books"),
            ),
        Model::new("Store")
            .field("name", CharField::new(50))
            .field("books", ManyToManyField::new("Book")),
        Model::new("Profile")
            .field("author", OneToOneField::new("Author", OnDelete::Cascade))
            .field("bio", CharField::new(50)),
        Model::new("Country")
            .field("code", CharField::new(2).unique())
            .field("name", CharField::new(50)),
        Model::new("City").field("name", CharField::new(50)).field(
            "country",
            ForeignKey::new("Country", OnDelete::Cascade)
                .to_field("code")
                .related_name("cities"),
        ),
        Model::new("Person").field("name", CharField::new(50)),
        Model::new("Group").field("name", CharField::new(50)).field(
            "members",
            ManyToManyField::new("Person")
                .through("Membership")
                .related_name("groups"),
        ),
        Model::new("Membership")
            .field("person", ForeignKey::new("Person", OnDelete::Cascade))
            .field("group", ForeignKey::new("Group", OnDelete::Cascade))
            .field("role", CharField::new(10)),
    ];
    for model in models {
        db.register(model).expect("valid model");
    }
    let create = |model: &str, values: Vec<(&str, ScalarValue)>| {
        db.objects(model).create(values).expect("row created")
    };
    let acme = create("Publisher", vec![("name", "Acme".into())]);
    let zeta = create("Publisher", vec![("name", "Zeta".into())]);
    create("Publisher", vec![("name", "Idle".into())]);
    let ann = create(
        "Author",
        vec![("name", "Ann".into()), ("age", 30i64.into())],
    );
    let bob = create(
        "Author",
        vec![
            ("name", "Bob".into()),
            ("age", 40i64.into()),
            ("mentor", (&ann).into()),
        ],
    );
    let cy = create(
        "Author",
        vec![("name", "Cy".into()), ("mentor", (&ann).into())],
    );
    create(
        "Author",
        vec![
            ("name", "Dee".into()),
            ("age", 50i64.into()),
            ("mentor", (&bob).into()),
        ],
    );
    let book = |title: &str, pages: i64, publisher: Option<&Instance>| {
        create(
            "Book",
            vec![
                ("title", title.into()),
                ("pages", pages.into()),
                (
                    "publisher",
                    publisher.map_or(ScalarValue::Null, ScalarValue::from),
                ),
            ],
        )
    };
    let a = book("A", 100, Some(&acme));
    let b = book("B", 250, Some(&acme));
    let c = book("C", 300, Some(&zeta));
    book("D", 50, None);
    let link = |from: &Instance, accessor: &str, to: &[&Instance]| {
        from.related(accessor)
            .and_then(|manager| manager.add(to))
            .expect("link rows added");
    };
    link(&a, "authors", &[&ann, &bob]);
    link(&b, "authors", &[&ann]);
    link(&c, "authors", &[&bob, &cy]);
    let north = create("Store", vec![("name", "North".into())]);
    let south = create("Store", vec![("name", "South".into())]);
    link(&north, "books", &[&a, &b, &c]);
    link(&south, "books", &[&a]);
    link(&ann, "friends", &[&bob, &cy]);
    create(
        "Profile",
        vec![("author", (&ann).into()), ("bio", "writes".into())],
    );
    create(
        "Profile",
        vec![("author", (&bob).into()), ("bio", "edits".into())],
    );
    create(
        "Country",
        vec![("code", "NO".into()), ("name", "Norway".into())],
    );
    create(
        "Country",
        vec![("code", "SE".into()), ("name", "Sweden".into())],
    );
    create(
        "City",
        vec![("name", "Oslo".into()), ("country", "NO".into())],
    );
    create(
        "City",
        vec![("name", "Bergen".into()), ("country", "NO".into())],
    );
    let p1 = create("Person", vec![("name", "P1".into())]);
    let p2 = create("Person", vec![("name", "P2".into())]);
    let g1 = create("Group", vec![("name", "G1".into())]);
    let g2 = create("Group", vec![("name", "G2".into())]);
    for (person, group, role) in [
        (&p1, &g1, "lead"),
        (&p2, &g1, "member"),
        (&p1, &g2, "member"),
    ] {
        create(
            "Membership",
            vec![
                ("person", person.into()),
                ("group", group.into()),
                ("role", role.into()),
            ],
        );
    }
    db
}

fn pairs(qs: &QuerySet, a: &str, b: &str) -> Json {
    tuples(&qs.values_list([a, b]))
}

#[test]
fn many_to_many_traversal_both_directions() {
    let db = library();
    let books = db.objects("Book");
    let authors = db.objects("Author");
    assert_django(
        "m2m_forward",
        titles(&books.filter(q!(authors__name = "Ann"))),
    );
    assert_django(
        "m2m_reverse_related_name",
        names(&authors.filter(q!(books__title = "C"))),
    );
    assert_django(
        "m2m_repeats_parents",
        names(&authors.filter(q!(books__pages__gt = 50))),
    );
    assert_django(
        "m2m_distinct",
        names(&authors.filter(q!(books__pages__gt = 50)).distinct()),
    );
    assert_django(
        "m2m_reverse_default_query_name",
        titles(&books.filter(q!(store__name = "South"))),
    );
    assert_django(
        "m2m_chain",
        tuples(
            &db.objects("Store")
                .filter(q!(books__authors__name = "Cy"))
                .values_list(["name"]),
        ),
    );
    assert_django(
        "m2m_values",
        dicts(
            &books
                .filter(q!(authors__isnull = false))
                .values(["title", "authors__name"])
                .order_by(["title", "authors__name"]),
        ),
    );
    assert_django(
        "m2m_isnull",
        titles(&books.filter(q!(authors__isnull = true))),
    );
    assert_django(
        "m2m_reverse_isnull",
        names(&authors.filter(q!(books__isnull = true))),
    );
    assert_django(
        "m2m_count",
        pairs(
            &books
                .annotate([("n", Count("authors"))])
                .order_by(["title"]),
            "title",
            "n",
        ),
    );
    assert_django(
        "m2m_reverse_count",
        pairs(
            &authors.annotate([("n", Count("books"))]).order_by(["name"]),
            "name",
            "n",
        ),
    );
    let bob = authors.get(q!(name = "Bob")).unwrap();
    let cy = authors.get(q!(name = "Cy")).unwrap();
    let ann = authors.get(q!(name = "Ann")).unwrap();
    assert_django(
        "m2m_in_instances",
        titles(
            &books
                .filter(Q::new("authors__in", vec![bob.pk(), cy.pk()]))
                .distinct(),
        ),
    );
    assert_django(
        "m2m_exact_instance",
        titles(&books.filter(Q::new("authors", ann.pk()))),
    );
    assert_django(
        "order_by_m2m",
        pairs(
            &authors
                .filter(q!(books__isnull = false))
                .order_by(["books__title", "name"]),
            "name",
            "books__title",
        ),
    );
}

#[test]
fn self_relations_one_to_one_to_field_and_through_models() {
    let db = library();
    let authors = db.objects("Author");
    assert_django(
        "friends_symmetric",
        names(&authors.filter(q!(friends__name = "Ann"))),
    );
    let ann = authors.get(q!(name = "Ann")).unwrap();
    assert_django(
        "friends_of_ann",
        names(&ann.related("friends").unwrap().all()),
    );
    assert_django(
        "self_fk_forward",
        names(&authors.filter(q!(mentor__name = "Ann"))),
    );
    assert_django(
        "self_fk_reverse",
        names(&authors.filter(q!(mentees__name = "Dee"))),
    );
    assert_django(
        "self_fk_count",
        pairs(
            &authors
                .annotate([("n", Count("mentees"))])
                .order_by(["name"]),
            "name",
            "n",
        ),
    );
    assert_django(
        "self_fk_two_levels",
        names(&authors.filter(q!(mentor__mentor__name = "Ann"))),
    );
    assert_django(
        "o2o_reverse",
        names(&authors.filter(q!(profile__bio = "edits"))),
    );
    assert_django(
        "o2o_reverse_values",
        dicts(&authors.values(["name", "profile__bio"]).order_by(["name"])),
    );
    assert_django(
        "o2o_reverse_isnull",
        names(&authors.filter(q!(profile__isnull = true))),
    );
    assert_django(
        "to_field_forward",
        pairs(
            &db.objects("City")
                .filter(q!(country__name = "Norway"))
                .order_by(["name"]),
            "name",
            "country",
        ),
    );
    assert_django(
        "to_field_reverse_count",
        pairs(
            &db.objects("Country")
                .annotate([("n", Count("cities"))])
                .order_by(["code"]),
            "code",
            "n",
        ),
    );
    let publishers = db.objects("Publisher");
    assert_django(
        "reverse_fk_default_query_name",
        tuples(
            &publishers
                .filter(q!(book__pages__gt = 200))
                .values_list(["name"])
                .order_by(["name"]),
        ),
    );
    assert_django(
        "reverse_fk_count",
        pairs(
            &publishers
                .annotate([("n", Count("book"))])
                .order_by(["name"]),
            "name",
            "n",
        ),
    );
    let groups = db.objects("Group");
    assert_django(
        "through_forward",
        tuples(
            &groups
                .filter(q!(members__name = "P2"))
                .values_list(["name"]),
        ),
    );
    assert_django(
        "through_reverse",
        tuples(
            &db.objects("Person")
                .filter(q!(groups__name = "G2"))
                .values_list(["name"]),
        ),
    );
    assert_django(
        "through_extra_column",
        tuples(
            &groups
                .filter(q!(membership__role = "lead"))
                .values_list(["name"]),
        ),
    );
    assert_django(
        "through_count",
        pairs(
            &db.objects("Person")
                .annotate([("n", Count("groups"))])
                .order_by(["name"]),
            "name",
            "n",
        ),
    );
}

#[test]
fn one_filter_call_is_one_related_row() {
    let db = library();
    let authors = db.objects("Author");
    assert_django(
        "same_call_m2m",
        names(&authors.filter(q!(books__pages__gt = 200, books__title = "B"))),
    );
    assert_django(
        "chained_m2m",
        names(
            &authors
                .filter(q!(books__pages__gt = 200))
                .filter(q!(books__title = "B")),
        ),
    );
    assert_django(
        "chained_m2m_rows",
        tuples(
            &authors
                .filter(q!(books__pages__gt = 50))
                .filter(q!(books__pages__gt = 50))
                .values_list(["name"])
                .order_by(["name"]),
        ),
    );
}

#[test]
fn exclude_tests_each_condition_in_its_own_subquery() {
    let db = library();
    let authors = db.objects("Author");
    assert_django(
        "exclude_m2m",
        names(&authors.exclude(q!(books__title = "A"))),
    );
    assert_django(
        "exclude_m2m_two_conditions",
        names(&authors.exclude(q!(books__title = "A", books__pages__gt = 200))),
    );
    assert_django(
        "exclude_reverse_fk",
        tuples(
            &db.objects("Publisher")
                .exclude(q!(book__pages__gt = 200))
                .values_list(["name"])
                .order_by(["name"]),
        ),
    );
    assert_django(
        "exclude_or_m2m",
        names(&authors.exclude(q!(books__title = "C") | q!(age = 30))),
    );
    assert_django(
        "filter_negated_m2m",
        names(&authors.filter(!q!(books__pages__lt = 200))),
    );
    assert_django(
        "exclude_isnull_m2m",
        names(&authors.exclude(q!(books__isnull = true))),
    );
    assert_django(
        "exclude_chain",
        tuples(
            &db.objects("Store")
                .exclude(q!(books__authors__name = "Cy"))
                .values_list(["name"]),
        ),
    );
}

#[test]
fn aggregates_over_joins_inflate_as_in_django() {
    let db = library();
    let authors = db.objects("Author");
    let triples = |qs: &QuerySet, names: [&str; 3]| tuples(&qs.values_list(names));
    assert_django(
        "inflated_counts",
        triples(
            &authors
                .annotate([("b", Count("books")), ("f", Count("friends"))])
                .order_by(["name"]),
            ["name", "b", "f"],
        ),
    );
    assert_django(
        "distinct_counts",
        triples(
            &authors
                .annotate([
                    ("b", Count("books").distinct()),
                    ("f", Count("friends").distinct()),
                ])
                .order_by(["name"]),
            ["name", "b", "f"],
        ),
    );
    assert_django(
        "inflated_sum",
        triples(
            &authors
                .annotate([("p", Sum("books__pages")), ("f", Count("friends"))])
                .order_by(["name"]),
            ["name", "p", "f"],
        ),
    );
    assert_django(
        "filter_then_annotate_m2m",
        pairs(
            &authors
                .filter(q!(books__pages__gt = 200))
                .annotate([("n", Count("books"))])
                .order_by(["name"]),
            "name",
            "n",
        ),
    );
    assert_django(
        "annotate_then_filter_m2m",
        pairs(
            &authors
                .annotate([("n", Count("books"))])
                .filter(q!(books__pages__gt = 200))
                .order_by(["name"]),
            "name",
            "n",
        ),
    );
    let books = db.objects("Book");
    let result = books
        .aggregate([
            ("n", Count("authors")),
            ("d", Count("authors").distinct()),
            ("p", Sum("authors__age")),
        ])
        .map(|row| {
            Json::Object(
                row.iter()
                    .map(|(name, value)| (name.to_owned(), scalar(value)))
                    .collect(),
            )
        });
    assert_django("aggregate_across_m2m", outcome(result));
    assert_django(
        "publisher_author_count",
        pairs(
            &db.objects("Publisher")
                .annotate([("n", Count("book__authors").distinct())])
                .order_by(["name"]),
            "name",
            "n",
        ),
    );
    assert_django(
        "f_across_m2m",
        titles(
            &books
                .filter(Q::new("pages__gt", F("authors__age") * 5))
                .distinct(),
        ),
    );
}
