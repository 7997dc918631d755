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
use quiver::queryset::DeleteCount;
use quiver::QuerySet;
use serde_json::{json, Value as Json};

/// Django's answers, by label.
static DJANGO: LazyLock<HashMap<String, Json>> =
    LazyLock::new(|| crate::semantics::django_lines(include_str!("django/relations.sqlite.jsonl")));

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
    let people = db.objects("Person");
    let (p1, p2) = (
        people.get(q!(name = "P1")).unwrap(),
        people.get(q!(name = "P2")).unwrap(),
    );
    let g3 = groups.create([("name", "G3".into())]).unwrap();
    let members = g3.related("members").unwrap();
    members
        .add_with(&[&p1, &p2], [("role", ScalarValue::from("guest"))])
        .unwrap();
    let roles = tuples(
        &db.objects("Membership")
            .filter(Q::new("group", g3.pk()))
            .order_by(["person__name"])
            .values_list(["person__name", "role"]),
    );
    members.remove(&[&p1]).unwrap();
    let left = names(&members.all());
    g3.delete().unwrap();
    assert_django("through_writes", json!([roles, left]));
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
        "exclude_f_outer",
        names(&authors.exclude(Q::new("books__pages__lt", F("age") * 5))),
    );
    assert_django(
        "negated_and_positive_same_call",
        names(&authors.filter(!q!(books__title = "A") & q!(books__pages__gt = 200))),
    );
    assert_django(
        "exclude_deep_reverse",
        names(&authors.exclude(q!(books__store__name = "South"))),
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

fn instance_names(instances: &[Instance], field: &str) -> Json {
    let mut values: Vec<String> = instances
        .iter()
        .filter_map(|i| i.get::<String>(field).ok())
        .collect();
    values.sort();
    json!(values)
}

#[test]
fn related_managers_write_link_rows_and_foreign_keys() {
    let db = library();
    let authors = db.objects("Author");
    let get = |name: &str| authors.get(q!(name = name)).unwrap();
    let (ann, bob, cy, dee) = (get("Ann"), get("Bob"), get("Cy"), get("Dee"));
    let e = db
        .objects("Book")
        .create([("title", "E".into()), ("pages", 10i64.into())])
        .unwrap();
    let authors_of_e = e.related("authors").unwrap();
    let listed = |qs: &QuerySet| names(qs);
    let mut out = serde_json::Map::new();
    authors_of_e.add(&[&ann, &dee]).unwrap();
    out.insert("after_add".into(), listed(&authors_of_e.all()));
    authors_of_e.remove(&[&ann]).unwrap();
    out.insert("after_remove".into(), listed(&authors_of_e.all()));
    authors_of_e.set(&[&bob, &cy]).unwrap();
    out.insert("after_set".into(), listed(&authors_of_e.all()));
    let eve = authors_of_e
        .create([("name", "Eve".into()), ("age", 20i64.into())])
        .unwrap();
    out.insert("after_create".into(), listed(&authors_of_e.all()));
    out.insert(
        "reverse".into(),
        titles(&eve.related("books").unwrap().all()),
    );
    authors_of_e.clear().unwrap();
    out.insert("after_clear".into(), listed(&authors_of_e.all()));
    let acme = db.objects("Publisher").get(q!(name = "Acme")).unwrap();
    out.insert(
        "pub_books".into(),
        titles(&acme.related("book_set").unwrap().all()),
    );
    out.insert(
        "filtered".into(),
        titles(&ann.related("books").unwrap().filter(q!(pages__gt = 150))),
    );
    let bob_friends = bob.related("friends").unwrap();
    bob_friends.add(&[&dee]).unwrap();
    out.insert(
        "symmetric_add".into(),
        listed(&dee.related("friends").unwrap().all()),
    );
    bob_friends.remove(&[&dee]).unwrap();
    out.insert(
        "symmetric_remove".into(),
        listed(&dee.related("friends").unwrap().all()),
    );
    out.insert(
        "mentees".into(),
        listed(&ann.related("mentees").unwrap().all()),
    );
    assert_django("related_managers", Json::Object(out));
    // Adding twice stores one link row, as Django's add() does.
    ann.related("friends").unwrap().add(&[&bob]).unwrap();
    assert_eq!(ann.related("friends").unwrap().count().unwrap(), 2);
    // A single-valued relation is not a manager, and the reverse ForeignKey of a non-null
    // key cannot be removed.
    assert_eq!(
        ann.related("profile").unwrap_err().django_name(),
        "TypeError"
    );
    let err = acme.related("book_set").unwrap();
    assert!(err.clear().is_ok(), "Book.publisher is nullable");
    assert_eq!(
        ann.related("nope").unwrap_err().to_string(),
        "'Author' object has no attribute 'nope'"
    );
}

/// `[queries, value]` as Django's `CaptureQueriesContext` reports it.
fn counted(db: &Database, thunk: impl FnOnce() -> Json) -> Json {
    let before = db.query_count();
    let value = thunk();
    json!([db.query_count() - before, value])
}

fn name_of(instance: Option<Instance>, field: &str) -> Json {
    instance.map_or(Json::Null, |i| json!(i.get::<String>(field).unwrap()))
}

#[test]
fn select_related_loads_forward_relations_in_the_same_query() {
    let db = library();
    let books = db.objects("Book").order_by(["title"]);
    let publisher_names = |qs: &QuerySet| {
        let found = qs.fetch_instances().unwrap();
        Json::Array(
            found
                .iter()
                .map(|b| name_of(b.related_object("publisher").unwrap(), "name"))
                .collect(),
        )
    };
    assert_django("n_plus_one", counted(&db, || publisher_names(&books)));
    assert_django(
        "select_related",
        counted(&db, || {
            publisher_names(&books.select_related(["publisher"]))
        }),
    );
    let deep = db
        .objects("Author")
        .select_related(["mentor__mentor"])
        .order_by(["name"]);
    assert_django(
        "select_related_deep",
        counted(&db, || {
            let found = deep.fetch_instances().unwrap();
            Json::Array(
                found
                    .iter()
                    .map(|a| {
                        let mentor = a.related_object("mentor").unwrap();
                        let grand = mentor
                            .as_ref()
                            .and_then(|m| m.related_object("mentor").unwrap());
                        json!([
                            a.get::<String>("name").unwrap(),
                            name_of(mentor, "name"),
                            name_of(grand, "name")
                        ])
                    })
                    .collect(),
            )
        }),
    );
    // select_related() follows every non-null ForeignKey; select_related(None) clears.
    let cities = db.objects("City").select_related_all();
    let before = db.query_count();
    let found = cities.fetch_instances().unwrap();
    let country = found[0].related_object("country").unwrap().unwrap();
    assert_eq!(country.get::<String>("name").unwrap(), "Norway");
    assert_eq!(db.query_count() - before, 1);
    let cleared = cities.clear_select_related().fetch_instances().unwrap();
    assert!(cleared[0].cached_related("country").is_none());
    // Only single-valued relations can be selected.
    let err = db
        .objects("Author")
        .select_related(["books"])
        .fetch_instances()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Invalid field name(s) given in select_related: 'books'. Choices are: mentor, profile"
    );
}

#[test]
fn prefetch_related_runs_one_query_per_level() {
    let db = library();
    let books = db.objects("Book").order_by(["title"]);
    let list = |instance: &Instance, accessor: &str, field: &str| {
        instance_names(&instance.related(accessor).unwrap().fetch().unwrap(), field)
    };
    assert_django(
        "prefetch_m2m",
        counted(&db, || {
            let found = books
                .prefetch_related(["authors"])
                .fetch_instances()
                .unwrap();
            Json::Array(
                found
                    .iter()
                    .map(|b| {
                        json!([
                            b.get::<String>("title").unwrap(),
                            list(b, "authors", "name")
                        ])
                    })
                    .collect(),
            )
        }),
    );
    assert_django(
        "prefetch_reverse_fk",
        counted(&db, || {
            let found = db
                .objects("Publisher")
                .prefetch_related(["book_set"])
                .order_by(["name"])
                .fetch_instances()
                .unwrap();
            Json::Array(
                found
                    .iter()
                    .map(|p| {
                        json!([
                            p.get::<String>("name").unwrap(),
                            list(p, "book_set", "title")
                        ])
                    })
                    .collect(),
            )
        }),
    );
    assert_django(
        "prefetch_nested",
        counted(&db, || {
            let found = db
                .objects("Store")
                .prefetch_related(["books__authors"])
                .order_by(["name"])
                .fetch_instances()
                .unwrap();
            Json::Array(
                found
                    .iter()
                    .map(|s| {
                        let mut store_books = s.related("books").unwrap().fetch().unwrap();
                        store_books.sort_by_key(|b| b.get::<String>("title").unwrap());
                        let inner: Vec<Json> = store_books
                            .iter()
                            .map(|b| {
                                json!([
                                    b.get::<String>("title").unwrap(),
                                    list(b, "authors", "name")
                                ])
                            })
                            .collect();
                        json!([s.get::<String>("name").unwrap(), inner])
                    })
                    .collect(),
            )
        }),
    );
    let authors = db.objects("Author").order_by(["name"]);
    let titles_of = |instance: &Instance, attr: &str| {
        json!(instance
            .prefetched(attr)
            .unwrap()
            .iter()
            .map(|b| b.get::<String>("title").unwrap())
            .collect::<Vec<_>>())
    };
    assert_django(
        "prefetch_custom",
        counted(&db, || {
            let long = Prefetch::new("books")
                .queryset(
                    db.objects("Book")
                        .filter(q!(pages__gt = 50))
                        .order_by(["-pages"]),
                )
                .to_attr("long_books");
            let found = authors.prefetch_related([long]).fetch_instances().unwrap();
            Json::Array(
                found
                    .iter()
                    .map(|a| json!([a.get::<String>("name").unwrap(), titles_of(a, "long_books")]))
                    .collect(),
            )
        }),
    );
    assert_django(
        "prefetch_sliced",
        counted(&db, || {
            let top = Prefetch::new("books")
                .queryset(db.objects("Book").order_by(["-pages"]).slice(..1))
                .to_attr("top");
            let found = authors.prefetch_related([top]).fetch_instances().unwrap();
            Json::Array(
                found
                    .iter()
                    .map(|a| json!([a.get::<String>("name").unwrap(), titles_of(a, "top")]))
                    .collect(),
            )
        }),
    );
    assert_django(
        "prefetch_forward_fk",
        counted(&db, || {
            let found = books
                .prefetch_related(["publisher"])
                .fetch_instances()
                .unwrap();
            Json::Array(
                found
                    .iter()
                    .map(|b| {
                        json!([
                            b.get::<String>("title").unwrap(),
                            name_of(b.related_object("publisher").unwrap(), "name")
                        ])
                    })
                    .collect(),
            )
        }),
    );
    // prefetch_related_objects() on instances already in hand: one query.
    let mut found = db.objects("Publisher").fetch_instances().unwrap();
    let before = db.query_count();
    prefetch_related_objects(&mut found, ["book_set"]).unwrap();
    assert_eq!(db.query_count() - before, 1);
    let total: usize = found
        .iter()
        .map(|p| p.prefetched("book_set").unwrap().len())
        .sum();
    assert_eq!(total, 3);
}

/// The seed's lesson: 100 orders touching `order.customer` lazily run 101 queries; with
/// `select_related` one; books with their authors through `prefetch_related` two (Django's
/// `assertNumQueries` figures for the same loops).
#[test]
fn n_plus_one_and_its_two_fixes() {
    let db = Database::new();
    db.register(Model::new("Customer").field("name", CharField::new(50)))
        .unwrap();
    db.register(
        Model::new("Order")
            .field(
                "customer",
                ForeignKey::new("Customer", OnDelete::Cascade).related_name("orders"),
            )
            .field("amount", IntegerField::new()),
    )
    .unwrap();
    db.objects("Customer")
        .bulk_create((0..10).map(|i| [("name", ScalarValue::from(format!("c{i}")))]))
        .unwrap();
    db.objects("Order")
        .bulk_create((0..100i64).map(|i| {
            [
                ("customer", ScalarValue::from(i % 10 + 1)),
                ("amount", ScalarValue::from(i)),
            ]
        }))
        .unwrap();
    let touch_customers = |qs: &QuerySet| {
        let before = db.query_count();
        let orders = qs.fetch_instances().unwrap();
        let names: Vec<String> = orders
            .iter()
            .map(|o| {
                o.related_object("customer")
                    .unwrap()
                    .unwrap()
                    .get::<String>("name")
                    .unwrap()
            })
            .collect();
        assert_eq!(names.len(), 100);
        assert_eq!(names.iter().filter(|n| *n == "c3").count(), 10);
        db.query_count() - before
    };
    let orders = db.objects("Order").order_by(["id"]);
    assert_eq!(touch_customers(&orders), 101);
    assert_eq!(touch_customers(&orders.select_related(["customer"])), 1);
    assert_eq!(touch_customers(&orders.prefetch_related(["customer"])), 2);
    // The reverse side: every customer's orders in two queries.
    let before = db.query_count();
    let customers = db
        .objects("Customer")
        .prefetch_related(["orders"])
        .fetch_instances()
        .unwrap();
    let counts: Vec<usize> = customers
        .iter()
        .map(|c| c.related("orders").unwrap().fetch().unwrap().len())
        .collect();
    assert_eq!(counts, vec![10; 10]);
    assert_eq!(db.query_count() - before, 2);
    // Counting each customer's orders joins customer LEFT JOIN order as Django writes it;
    // the optimizer builds the hash table on the 10 customers, not the 100 orders.
    let counted = db.objects("Customer").annotate([("n", Count("orders"))]);
    let explain = counted.explain().unwrap();
    assert!(
        explain.contains("Join: Right, on=[order.customer_id = customer.id]"),
        "{explain}"
    );
    let n = counted.fetch().unwrap().column::<i64>("n").unwrap();
    assert_eq!(n, vec![10; 10]);

    // Books and authors: 2 queries with prefetch_related, 1 + one per book without.
    db.register(Model::new("Author").field("name", CharField::new(50)))
        .unwrap();
    db.register(Model::new("Book").field("title", CharField::new(50)).field(
        "authors",
        ManyToManyField::new("Author").related_name("books"),
    ))
    .unwrap();
    let authors: Vec<Instance> = (0..5)
        .map(|i| {
            db.objects("Author")
                .create([("name", ScalarValue::from(format!("a{i}")))])
                .unwrap()
        })
        .collect();
    for i in 0..20usize {
        let book = db
            .objects("Book")
            .create([("title", ScalarValue::from(format!("b{i:02}")))])
            .unwrap();
        let chosen: Vec<&Instance> = authors.iter().skip(i % 3).step_by(2).collect();
        book.related("authors").unwrap().add(&chosen).unwrap();
    }
    let author_counts = |qs: &QuerySet| {
        let before = db.query_count();
        let books = qs.fetch_instances().unwrap();
        let total: usize = books
            .iter()
            .map(|b| b.related("authors").unwrap().fetch().unwrap().len())
            .sum();
        (total, db.query_count() - before)
    };
    let books = db.objects("Book").order_by(["title"]);
    let (lazy_total, lazy_queries) = author_counts(&books);
    assert_eq!(lazy_queries, 21);
    assert_eq!(
        author_counts(&books.prefetch_related(["authors"])),
        (lazy_total, 2)
    );
}

fn delete_count(result: quiver::Result<DeleteCount>) -> Json {
    outcome(result.map(|(total, per_model)| json!([total, per_model])))
}

#[test]
fn deletes_follow_on_delete_across_relations() {
    let db = library();
    let mut out = serde_json::Map::new();
    out.insert(
        "cascade".into(),
        delete_count(db.objects("Publisher").filter(q!(name = "Zeta")).delete()),
    );
    out.insert(
        "m2m_rows_go".into(),
        delete_count(db.objects("Book").filter(q!(title = "A")).delete()),
    );
    let ann = db.objects("Author").get(q!(name = "Ann")).unwrap();
    out.insert("set_null".into(), delete_count(ann.delete()));
    out.insert(
        "mentors_after".into(),
        tuples(
            &db.objects("Author")
                .order_by(["name"])
                .values_list(["name", "mentor__name"]),
        ),
    );
    out.insert(
        "remaining_links".into(),
        json!(db.objects("Book_authors").count().unwrap()),
    );
    assert_django("deletes", Json::Object(out));
}

#[test]
fn protect_restrict_and_set_default() {
    let db = Database::new();
    let models = [
        Model::new("Artist").field("name", CharField::new(50)),
        Model::new("Album")
            .field("name", CharField::new(50))
            .field("artist", ForeignKey::new("Artist", OnDelete::Cascade)),
        Model::new("Song")
            .field("name", CharField::new(50))
            .field("artist", ForeignKey::new("Artist", OnDelete::Cascade))
            .field("album", ForeignKey::new("Album", OnDelete::Restrict)),
        Model::new("Genre").field("name", CharField::new(50)),
        Model::new("Track")
            .field("name", CharField::new(50))
            .field(
                "genre",
                ForeignKey::new("Genre", OnDelete::Protect).related_name("tracks"),
            )
            .field(
                "mood",
                ForeignKey::new("Genre", OnDelete::SetDefault)
                    .default(1i64)
                    .related_name("moody"),
            )
            .field(
                "loose",
                ForeignKey::new("Genre", OnDelete::DoNothing)
                    .null()
                    .related_name("+"),
            ),
    ];
    for model in models {
        db.register(model).unwrap();
    }
    let create =
        |model: &str, values: Vec<(&str, ScalarValue)>| db.objects(model).create(values).unwrap();
    let artist = create("Artist", vec![("name", "Art".into())]);
    let album = create(
        "Album",
        vec![("name", "Al".into()), ("artist", (&artist).into())],
    );
    create(
        "Song",
        vec![
            ("name", "S".into()),
            ("artist", (&artist).into()),
            ("album", (&album).into()),
        ],
    );
    let g1 = create("Genre", vec![("name", "Default".into())]);
    let g2 = create("Genre", vec![("name", "Rock".into())]);
    let g3 = create("Genre", vec![("name", "Gone".into())]);
    create(
        "Track",
        vec![
            ("name", "T".into()),
            ("genre", (&g1).into()),
            ("mood", (&g2).into()),
            ("loose", (&g3).into()),
        ],
    );
    let expected = expected("protect_and_restrict");
    // Django's message is str() of (message, {objects}); Quiver's is the message.
    let refused = |result: quiver::Result<DeleteCount>, key: &str| {
        let error = result.unwrap_err();
        assert_eq!(expected[key]["error"], json!(error.django_name()), "{key}");
        let message = expected[key]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&error.to_string()),
            "{key}: {message} vs {error}"
        );
    };
    refused(album.delete(), "restricted");
    assert_eq!(
        db.objects("Album").count().unwrap(),
        1,
        "nothing was deleted"
    );
    assert_eq!(
        delete_count(artist.delete()),
        expected["artist_cascade"],
        "RESTRICT allows a delete that cascades to the restricted rows too"
    );
    assert_eq!(delete_count(g2.delete()), expected["set_default"]);
    assert_eq!(
        tuples(&db.objects("Track").values_list(["mood"])),
        expected["mood_after"]
    );
    refused(g1.delete(), "protected");
    assert_eq!(
        delete_count(db.objects("Genre").filter(q!(name = "nobody")).delete()),
        expected["nothing"]
    );
    // DO_NOTHING would leave the reference dangling: the foreign key refuses at commit
    // (deferred, as Django declares it on PostgreSQL) and nothing changes.
    let dangling = g3.delete().unwrap_err();
    assert_eq!(dangling.django_name(), "IntegrityError");
    assert!(
        dangling.to_string().starts_with(
            "update or delete on table \"genre\" violates foreign key constraint \
             \"track_loose_id_fkey\" on table \"track\""
        ),
        "{dangling}"
    );
    assert_eq!(
        db.objects("Genre")
            .filter(q!(name = "Gone"))
            .count()
            .unwrap(),
        1
    );
    assert_eq!(
        tuples(&db.objects("Track").values_list(["loose"])),
        json!([3])
    );
    let sliced = db.objects("Genre").slice(..1).delete().unwrap_err();
    assert_eq!(
        sliced.to_string(),
        "Cannot use 'limit' or 'offset' with delete()."
    );
}

#[test]
fn values_grouping_across_a_many_to_many_relation() {
    // Django orders equal names in no fixed order here, so both sides are sorted.
    let db = library();
    let qs = db
        .objects("Book")
        .values(["authors__name"])
        .annotate([("p", Sum("pages"))])
        .filter(q!(authors__name__isnull = false))
        .order_by(["authors__name"]);
    let sorted = |value: &Json| {
        let mut rows: Vec<String> = value
            .as_array()
            .map(|rows| rows.iter().map(Json::to_string).collect())
            .unwrap_or_default();
        rows.sort();
        rows
    };
    assert_eq!(
        sorted(&dicts(&qs)),
        sorted(expected("values_group_across_m2m"))
    );
}

#[test]
fn longer_chains_and_shared_link_joins() {
    let db = library();
    let authors = db.objects("Author");
    assert_django(
        "unknown_field_choices",
        tuples(&db.objects("Book").filter(q!(nope = 1))),
    );
    assert_django(
        "unknown_field_choices_reverse",
        tuples(&authors.filter(q!(nope = 1))),
    );
    assert_django(
        "deep_cycle",
        tuples(
            &db.objects("Publisher")
                .filter(q!(book__authors__books__title = "C"))
                .values_list(["name"])
                .order_by(["name"]),
        ),
    );
    assert_django(
        "two_m2m_hops_count",
        tuples(
            &db.objects("Store")
                .annotate([
                    ("a", Count("books__authors")),
                    ("d", Count("books__authors").distinct()),
                ])
                .values_list(["name", "a", "d"])
                .order_by(["name"]),
        ),
    );
    let grouped = authors
        .values(["books__publisher__name"])
        .annotate([("n", Count("id"))])
        .filter(q!(books__publisher__name__isnull = false))
        .order_by(["books__publisher__name"]);
    let sorted = |value: Json| {
        let mut rows: Vec<String> = value
            .as_array()
            .map(|rows| rows.iter().map(Json::to_string).collect())
            .unwrap_or_default();
        rows.sort();
        rows
    };
    assert_eq!(
        sorted(dicts(&grouped)),
        sorted(expected("m2m_then_fk_values").clone())
    );
    assert_django(
        "friends_books",
        names(&authors.filter(q!(friends__books__title = "C")).distinct()),
    );
    // The reverse ForeignKey `membership` and the first join of the many-to-many `groups`
    // are the same join (Django reuses it: the counts are not multiplied).
    let people = db.objects("Person");
    assert_django(
        "through_two_paths_one_call",
        tuples(
            &people
                .filter(q!(membership__role = "member", groups__name = "G1"))
                .values_list(["name"])
                .order_by(["name"]),
        ),
    );
    assert_django(
        "through_two_paths_counts",
        tuples(
            &people
                .annotate([("m", Count("membership")), ("g", Count("groups"))])
                .values_list(["name", "m", "g"])
                .order_by(["name"]),
        ),
    );
    assert_django(
        "max_per_author_filtered",
        tuples(
            &authors
                .filter(q!(books__pages__lt = 300))
                .annotate([("m", Max("books__pages"))])
                .values_list(["name", "m"])
                .order_by(["name"]),
        ),
    );
}

#[test]
fn more_paths_aggregates_and_negations() {
    let db = library();
    let authors = db.objects("Author");
    let books = db.objects("Book");
    let row = |result: quiver::Result<Row>| {
        outcome(result.map(|row| {
            Json::Object(
                row.iter()
                    .map(|(name, value)| (name.to_owned(), scalar(value)))
                    .collect(),
            )
        }))
    };
    assert_django(
        "m2m_back_to_same_model",
        names(&authors.filter(q!(books__authors__name = "Bob"))),
    );
    assert_django(
        "m2m_then_symmetric",
        titles(&books.filter(q!(authors__friends__name = "Ann")).distinct()),
    );
    let counted = books.annotate([("n", Count("authors"))]);
    assert_django("having_across_m2m", titles(&counted.filter(q!(n__gt = 1))));
    assert_django(
        "order_by_count",
        tuples(&counted.order_by(["-n", "title"]).values_list(["title"])),
    );
    assert_django(
        "aggregate_of_annotation",
        row(authors
            .annotate([("n", Count("books"))])
            .aggregate([Avg("n"), Max("n")])),
    );
    assert_django(
        "aggregate_reverse_chain",
        row(db.objects("Publisher").aggregate([
            AggregateArg::from(Count("book__authors")),
            ("s", Sum("book__pages")).into(),
        ])),
    );
    let acme = db.objects("Publisher").get(q!(name = "Acme")).unwrap();
    assert_django(
        "filter_by_instance_reverse",
        names(
            &authors
                .filter(Q::new("books__publisher", acme.pk()))
                .distinct(),
        ),
    );
    assert_django(
        "forward_then_reverse",
        titles(&books.filter(q!(publisher__book__title = "B"))),
    );
    assert_django(
        "distinct_count",
        json!(authors
            .filter(Q::new("books__title__in", vec!["A", "C"]))
            .distinct()
            .count()
            .unwrap()),
    );
    assert_django(
        "values_annotate_m2m",
        dicts(
            &authors
                .values(["name"])
                .annotate([("n", Count("books"))])
                .order_by(["name"]),
        ),
    );
    assert_django(
        "fk_then_m2m",
        names(&authors.filter(q!(mentor__books__title = "A"))),
    );
    assert_django(
        "exclude_fk_then_m2m",
        names(&authors.exclude(q!(mentor__books__title = "A"))),
    );
    assert_django(
        "count_filter_m2m",
        tuples(
            &authors
                .annotate([("n", Count("books").filter(q!(books__pages__gt = 100)))])
                .values_list(["name", "n"])
                .order_by(["name"]),
        ),
    );
    assert_django(
        "f_division_m2m",
        titles(
            &books
                .filter(Q::new("authors__age__gt", F("pages") / 10))
                .distinct(),
        ),
    );
    assert_django(
        "exclude_none_m2m",
        names(&authors.exclude(Q::new("books", None::<i64>))),
    );
}

#[test]
fn prefetch_combines_with_select_related_and_reverse_one_to_one() {
    let db = library();
    let authors = db.objects("Author").order_by(["name"]);
    assert_django(
        "prefetch_with_select_related",
        counted(&db, || {
            let books =
                Prefetch::new("books").queryset(db.objects("Book").select_related(["publisher"]));
            let found = authors.prefetch_related([books]).fetch_instances().unwrap();
            Json::Array(
                found
                    .iter()
                    .map(|a| {
                        let mut publishers: Vec<String> = a
                            .related("books")
                            .unwrap()
                            .fetch()
                            .unwrap()
                            .iter()
                            .map(|b| {
                                b.related_object("publisher")
                                    .unwrap()
                                    .map_or("-".to_string(), |p| p.get::<String>("name").unwrap())
                            })
                            .collect();
                        publishers.sort();
                        json!([a.get::<String>("name").unwrap(), publishers])
                    })
                    .collect(),
            )
        }),
    );
    assert_django(
        "prefetch_reverse_o2o_and_self",
        counted(&db, || {
            let found = authors
                .prefetch_related(["profile", "mentees"])
                .fetch_instances()
                .unwrap();
            Json::Array(
                found
                    .iter()
                    .map(|a| {
                        let bio = a.related_object_or_none("profile").unwrap();
                        json!([
                            a.get::<String>("name").unwrap(),
                            bio.map_or(Json::Null, |p| json!(p.get::<String>("bio").unwrap())),
                            instance_names(&a.related("mentees").unwrap().fetch().unwrap(), "name"),
                        ])
                    })
                    .collect(),
            )
        }),
    );
}

/// The JOINs of `qs.sql()`, in order, as `[kind, table]` (`INNER` or `LEFT`): what the
/// Django script extracts from `str(qs.query)`.
fn joins(qs: &QuerySet) -> Json {
    let sql = qs.sql().expect("sql");
    let mut out = Vec::new();
    let mut pieces = sql.split(" JOIN \"");
    let mut before = pieces.next().unwrap_or_default();
    for piece in pieces {
        let kind = if before.ends_with("INNER") {
            "INNER"
        } else if before.ends_with("LEFT") {
            "LEFT"
        } else {
            "OTHER"
        };
        let table = piece.split('"').next().unwrap_or_default();
        out.push(json!([kind, table]));
        before = piece;
    }
    Json::Array(out)
}

#[test]
fn joins_are_inner_or_left_as_djangos_join_promotion_decides() {
    let db = library();
    let authors = db.objects("Author");
    let books = db.objects("Book");
    let profiles = db.objects("Profile");
    let cities = db.objects("City");
    let memberships = db.objects("Membership");
    let cases: Vec<(&str, QuerySet)> = vec![
        (
            "joins_values_non_null_fk",
            profiles.values(["author__name"]),
        ),
        (
            "joins_values_list_chain_then_nullable",
            profiles.values_list(["author__mentor__name"]),
        ),
        (
            "joins_order_by_non_null_fk",
            cities.order_by(["country__name"]),
        ),
        (
            "joins_annotate_f_non_null_fk",
            cities.annotate([("c", F("country__name"))]),
        ),
        (
            "joins_annotate_f_nullable_fk",
            books.annotate([("p", F("publisher__name"))]),
        ),
        (
            "joins_order_by_nullable_fk",
            authors.order_by(["mentor__name"]),
        ),
        (
            "joins_filter_demotes_nullable",
            authors.filter(q!(mentor__name = "Ann")),
        ),
        (
            "joins_filter_demotes_chain",
            authors.filter(q!(mentor__mentor__name = "Ann")),
        ),
        (
            "joins_filter_isnull_keeps_left",
            authors.filter(q!(mentor__name__isnull = true)),
        ),
        (
            "joins_exclude_keeps_left",
            authors.exclude(q!(mentor__name = "Ann")),
        ),
        (
            "joins_or_keeps_left",
            authors.filter(q!(mentor__name = "Ann") | q!(age = 50)),
        ),
        (
            "joins_or_both_sides_demote",
            authors.filter(q!(mentor__name = "Ann") | q!(mentor__age = 40)),
        ),
        ("joins_filter_m2m", authors.filter(q!(books__title = "A"))),
        (
            "joins_count_reverse",
            db.objects("Publisher").annotate([("n", Count("book"))]),
        ),
        (
            "joins_through_values",
            memberships.values(["person__name", "group__name"]),
        ),
        (
            "joins_select_related_non_null",
            memberships.select_related(["person"]),
        ),
        (
            "joins_select_related_chain",
            profiles.select_related(["author__mentor"]),
        ),
        (
            "joins_values_then_filter_nullable",
            profiles
                .values(["author__mentor__name"])
                .filter(q!(author__mentor__age = 30)),
        ),
    ];
    for (label, qs) in cases {
        assert_django(label, joins(&qs));
    }
    // The rows over those joins.
    assert_django(
        "inner_values_rows",
        tuples(
            &profiles
                .values_list(["bio", "author__name", "author__mentor__name"])
                .order_by(["bio"]),
        ),
    );
    assert_django(
        "inner_order_by_rows",
        tuples(
            &cities
                .order_by(["country__name", "name"])
                .values_list(["name", "country__name"]),
        ),
    );
    assert_django(
        "demoted_filter_rows",
        names(&authors.filter(q!(mentor__name = "Ann") | q!(mentor__age = 40))),
    );
    // The plan has the same join types as the SQL.
    let plan = profiles.values(["author__mentor__name"]).explain().unwrap();
    assert!(
        plan.contains("Join: Inner, on=[profile.author_id = author.id]"),
        "{plan}"
    );
    assert!(
        plan.contains("Join: Left, on=[author.mentor_id = T3.id]"),
        "{plan}"
    );
}

#[test]
fn a_missing_reverse_one_to_one_raises_related_object_does_not_exist() {
    let db = library();
    let authors = db.objects("Author");
    let dee = authors.get(q!(name = "Dee")).unwrap();
    let error = dee.related_object("profile").unwrap_err();
    assert_django(
        "o2o_missing_raises",
        json!({"error": error.django_name(), "message": error.to_string()}),
    );
    assert_django(
        "o2o_missing_is_object_does_not_exist",
        json!(error.is_object_does_not_exist()),
    );
    let found = authors.order_by(["name"]).fetch_instances().unwrap();
    assert_django(
        "o2o_hasattr",
        Json::Array(
            found
                .iter()
                .map(|a| {
                    json!([
                        a.get::<String>("name").unwrap(),
                        a.has_related_object("profile").unwrap()
                    ])
                })
                .collect(),
        ),
    );
    assert!(dee.related_object_or_none("profile").unwrap().is_none());
    // The same answer from the cache a prefetch filled, without a query.
    let prefetched = authors
        .prefetch_related(["profile"])
        .order_by(["name"])
        .fetch_instances()
        .unwrap();
    let before = db.query_count();
    let cy = &prefetched[2];
    assert!(matches!(
        cy.related_object("profile"),
        Err(Error::RelatedObjectDoesNotExist(m)) if m == "Author has no profile."
    ));
    assert!(prefetched[0].has_related_object("profile").unwrap());
    assert_eq!(db.query_count(), before);
    // A nullable ForeignKey holding NULL is None, not an error.
    let ann = authors.get(q!(name = "Ann")).unwrap();
    assert!(ann.related_object("mentor").unwrap().is_none());
    let bob_profile = db
        .objects("Profile")
        .select_related(["author"])
        .get(q!(bio = "edits"))
        .unwrap();
    assert_django(
        "o2o_missing_after_select_related",
        name_of(bob_profile.related_object("author").unwrap(), "name"),
    );
}

#[test]
fn sliced_prefetch_querysets_run_one_windowed_query() {
    let db = library();
    let list_of = |instance: &Instance, attr: &str, field: &str| {
        json!(instance
            .prefetched(attr)
            .unwrap()
            .iter()
            .map(|b| b.get::<String>(field).unwrap())
            .collect::<Vec<_>>())
    };
    let publishers = db.objects("Publisher").order_by(["name"]);
    let books = db.objects("Book");
    let per_parent = |parents: &QuerySet, prefetch: Prefetch, key: &str, field: &str| {
        let attr = prefetch.to_attr.clone().unwrap_or_default();
        counted(&db, || {
            let found = parents
                .prefetch_related([prefetch])
                .fetch_instances()
                .unwrap();
            Json::Array(
                found
                    .iter()
                    .map(|p| json!([p.get::<String>(key).unwrap(), list_of(p, &attr, field)]))
                    .collect(),
            )
        })
    };
    assert_django(
        "prefetch_sliced_offset",
        per_parent(
            &publishers,
            Prefetch::new("book_set")
                .queryset(books.order_by(["-pages"]).slice(1..3))
                .to_attr("some"),
            "name",
            "title",
        ),
    );
    assert_django(
        "prefetch_sliced_m2m_open_end",
        per_parent(
            &db.objects("Author").order_by(["name"]),
            Prefetch::new("books")
                .queryset(books.order_by(["title"]).slice(1..))
                .to_attr("rest"),
            "name",
            "title",
        ),
    );
    assert_django(
        "prefetch_sliced_reverse_m2m",
        per_parent(
            &books.order_by(["title"]),
            Prefetch::new("authors")
                .queryset(db.objects("Author").order_by(["-name"]).slice(..1))
                .to_attr("last"),
            "title",
            "name",
        ),
    );
    assert_django(
        "prefetch_sliced_reversed",
        per_parent(
            &publishers,
            Prefetch::new("book_set")
                .queryset(books.order_by(["pages"]).reverse().slice(..1))
                .to_attr("longest"),
            "name",
            "title",
        ),
    );
    let refused = publishers
        .prefetch_related(
            [Prefetch::new("book_set").queryset(books.order_by(["pages"]).slice(..1))],
        )
        .fetch_instances()
        .map(|_| Json::Null);
    assert_django("prefetch_sliced_without_to_attr", outcome(refused));
    // The slice is a window in the prefetch query itself, not a cut made in memory.
    db.enable_query_log(true);
    db.reset_queries();
    publishers
        .prefetch_related([Prefetch::new("book_set")
            .queryset(books.order_by(["-pages"]).slice(..1))
            .to_attr("top")])
        .fetch_instances()
        .unwrap();
    let log = db.queries();
    assert_eq!(log.len(), 2);
    let prefetch_sql = &log[1].sql;
    assert!(
        prefetch_sql.contains("row_number() OVER (PARTITION BY"),
        "{prefetch_sql}"
    );
}

#[test]
fn inner_join_chains_are_reordered_by_estimated_size() {
    // Book ⋈ book_authors ⋈ author ⋈ publisher, all INNER (the filters demote the
    // nullable publisher join): the one author named Ann and the one publisher named Acme
    // are joined before the link rows.
    let db = library();
    let qs = db
        .objects("Book")
        .filter(q!(authors__name = "Ann", publisher__name = "Acme"))
        .values(["title", "authors__age"]);
    let rows = tuples(&qs.order_by(["title"]));
    let optimized = |qs: &QuerySet| {
        let text = qs.explain().unwrap();
        let start = text.find("== Optimized logical plan ==").unwrap();
        let end = text.find("== Physical plan ==").unwrap();
        text[start..end].to_string()
    };
    let reordered = optimized(&qs);
    db.set_config(db.config().disable_rule("reorder_joins"));
    let written = optimized(&qs);
    assert_eq!(tuples(&qs.order_by(["title"])), rows);
    assert_eq!(rows, json!([["A", 30], ["B", 30]]));
    // Reordered, the filtered author meets the link rows first (the deepest join); as
    // written, the books do.
    let depth = |plan: &str, key: &str| plan.find(key).unwrap_or_default();
    let (author, book) = (
        "on=[book_authors.author_id = author.id]",
        "on=[book_authors.book_id = book.id]",
    );
    assert!(
        depth(&reordered, author) > depth(&reordered, book),
        "{reordered}"
    );
    assert!(depth(&written, author) < depth(&written, book), "{written}");
}
