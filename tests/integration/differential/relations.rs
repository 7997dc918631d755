//! Relation-spanning QuerySets over three models — `Publisher`, `Author` and `Book`, with a
//! nullable ForeignKey (`Book.publisher`) and a many-to-many relation (`Book.authors`, reverse
//! name `books`) — run in Quiver and, through `QuerySet::sql()`, in DataFusion over the same
//! tables (the link table `book_authors` included). Results are compared as multisets, and
//! with Quiver's `choose_build_side` and `reorder_joins` rules switched off (they only swap
//! join inputs and reorder INNER joins).
//!
//! ```text
//! Publisher.objects.filter(book__authors__age__gt=3).annotate(n=Count("book__authors"))
//! Author.objects.filter(books__pages__gt=2).filter(books__publisher__name="p1")
//! Author.objects.exclude(books__pages__gt=5, books__publisher__isnull=True)
//! Book.objects.values("publisher__name").annotate(n=Count("authors", distinct=True))
//! ```
//!
//! The QuerySets cover traversal across both relations in both directions, one filter()
//! call versus chained calls, exclude() (a subquery per condition), isnull on relations,
//! and aggregates that inflate each other across joins.

use std::fmt;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use quiver::prelude::*;
use quiver::QuerySet;

use super::config;
use crate::datafusion_oracle::{canonical_rows, compare_multiset, run_sql};

/// Rows: publishers by name; authors by age; books by (pages, publisher index or none,
/// author indexes).
#[derive(Debug, Clone)]
pub struct Library {
    publishers: usize,
    ages: Vec<Option<i64>>,
    books: Vec<(i64, Option<usize>, Vec<usize>)>,
}

fn library() -> impl Strategy<Value = Library> {
    (
        1usize..4,
        prop::collection::vec(prop::option::of(0i64..8), 1..5),
    )
        .prop_flat_map(|(publishers, ages)| {
            let authors = ages.len();
            let book = (
                0i64..8,
                prop::option::of(0..publishers),
                prop::collection::vec(0..authors, 0..3),
            );
            (
                Just(publishers),
                Just(ages),
                prop::collection::vec(book, 0..6),
            )
                .prop_map(|(publishers, ages, books)| Library {
                    publishers,
                    ages,
                    books,
                })
        })
}

impl Library {
    fn load(&self) -> quiver::Result<Database> {
        let db = Database::new();
        db.register(Model::new("Publisher").field("name", CharField::new(10)))?;
        db.register(
            Model::new("Author")
                .field("name", CharField::new(10))
                .field("age", IntegerField::new().null()),
        )?;
        db.register(
            Model::new("Book")
                .field("pages", IntegerField::new())
                .field(
                    "publisher",
                    ForeignKey::new("Publisher", OnDelete::Cascade).null(),
                )
                .field(
                    "authors",
                    ManyToManyField::new("Author").related_name("books"),
                ),
        )?;
        let publishers: Vec<Instance> = (0..self.publishers)
            .map(|i| {
                db.objects("Publisher")
                    .create([("name", ScalarValue::from(format!("p{i}")))])
            })
            .collect::<quiver::Result<_>>()?;
        let authors: Vec<Instance> = self
            .ages
            .iter()
            .enumerate()
            .map(|(i, age)| {
                db.objects("Author").create([
                    ("name", ScalarValue::from(format!("a{i}"))),
                    ("age", ScalarValue::Int64(*age)),
                ])
            })
            .collect::<quiver::Result<_>>()?;
        for (pages, publisher, linked) in &self.books {
            let book = db.objects("Book").create([
                ("pages", ScalarValue::from(*pages)),
                (
                    "publisher",
                    publisher.map_or(ScalarValue::Null, |p| ScalarValue::from(&publishers[p])),
                ),
            ])?;
            let linked: Vec<&Instance> = linked.iter().map(|a| &authors[*a]).collect();
            book.related("authors")?.add(&linked)?;
        }
        Ok(db)
    }
}

/// One generated QuerySet: a template and its parameters.
#[derive(Debug, Clone)]
pub enum RelationQuery {
    /// `Author.filter(books__pages__gt=a, books__publisher__name=p)` in one call or two.
    SameOrChained {
        pages: i64,
        publisher: usize,
        chained: bool,
    },
    /// `Author.exclude(books__pages__gt=a, books__publisher__isnull=True)`.
    Exclude { pages: i64 },
    /// `Publisher.annotate(n=Count("book__authors", distinct?), s=Sum("book__pages"))`
    /// after an optional `filter(book__authors__age__gt=a)`.
    PublisherCounts { age: Option<i64>, distinct: bool },
    /// `Author.annotate(b=Count("books"), p=Count("books__publisher", distinct?))`.
    Inflated { distinct: bool },
    /// `Book.values("publisher__name").annotate(n=Count("authors"), m=Max("authors__age"))`.
    GroupedByPublisher,
    /// `Author.filter(books__isnull=flag)` / `Publisher.filter(book__isnull=flag)`.
    IsNull { authors: bool, flag: bool },
    /// `Book.exclude(authors__age__lt=a) | filter(publisher__isnull=True)` as one Q.
    ExcludeOr { age: i64 },
    /// `Book.filter(authors__age__gt=a, publisher__name=p).values("pages",
    /// "authors__name", "publisher__name")`: four inputs in one chain of INNER joins (the
    /// filter demotes the nullable publisher join), which `reorder_joins` may reorder.
    InnerChain { age: i64, publisher: usize },
    /// `Publisher.filter(book__authors__age__gt=a).values("name", "book__pages",
    /// "book__authors__name")`: the same tables reached from the other end.
    ReverseChain { age: i64 },
}

fn relation_query() -> impl Strategy<Value = RelationQuery> {
    prop_oneof![
        (0i64..8, 0usize..3, any::<bool>()).prop_map(|(pages, publisher, chained)| {
            RelationQuery::SameOrChained {
                pages,
                publisher,
                chained,
            }
        }),
        (0i64..8).prop_map(|pages| RelationQuery::Exclude { pages }),
        (prop::option::of(0i64..8), any::<bool>())
            .prop_map(|(age, distinct)| RelationQuery::PublisherCounts { age, distinct }),
        any::<bool>().prop_map(|distinct| RelationQuery::Inflated { distinct }),
        Just(RelationQuery::GroupedByPublisher),
        (any::<bool>(), any::<bool>())
            .prop_map(|(authors, flag)| RelationQuery::IsNull { authors, flag }),
        (0i64..8).prop_map(|age| RelationQuery::ExcludeOr { age }),
        (0i64..8, 0usize..3)
            .prop_map(|(age, publisher)| RelationQuery::InnerChain { age, publisher }),
        (0i64..8).prop_map(|age| RelationQuery::ReverseChain { age }),
    ]
}

impl RelationQuery {
    fn build(&self, db: &Database) -> QuerySet {
        let authors = db.objects("Author").clear_ordering();
        let publishers = db.objects("Publisher").clear_ordering();
        let books = db.objects("Book").clear_ordering();
        match self {
            RelationQuery::SameOrChained {
                pages,
                publisher,
                chained,
            } => {
                let name = format!("p{publisher}");
                let qs = if *chained {
                    authors
                        .filter(q!(books__pages__gt = *pages))
                        .filter(q!(books__publisher__name = name.as_str()))
                } else {
                    authors.filter(q!(
                        books__pages__gt = *pages,
                        books__publisher__name = name.as_str()
                    ))
                };
                qs.values(["name"])
            }
            RelationQuery::Exclude { pages } => authors
                .exclude(q!(
                    books__pages__gt = *pages,
                    books__publisher__isnull = true
                ))
                .values(["name", "age"]),
            RelationQuery::PublisherCounts { age, distinct } => {
                let base = match age {
                    Some(age) => publishers.filter(q!(book__authors__age__gt = *age)),
                    None => publishers,
                };
                let count = if *distinct {
                    Count("book__authors").distinct()
                } else {
                    Count("book__authors")
                };
                base.annotate([("n", count), ("s", Sum("book__pages"))])
                    .values(["name", "n", "s"])
            }
            RelationQuery::Inflated { distinct } => {
                let publishers = if *distinct {
                    Count("books__publisher").distinct()
                } else {
                    Count("books__publisher")
                };
                authors
                    .annotate([("b", Count("books")), ("p", publishers)])
                    .values(["name", "b", "p"])
            }
            RelationQuery::GroupedByPublisher => books
                .values(["publisher__name"])
                .annotate([("n", Count("authors")), ("m", Max("authors__age"))]),
            RelationQuery::IsNull {
                authors: true,
                flag,
            } => authors.filter(q!(books__isnull = *flag)).values(["name"]),
            RelationQuery::IsNull {
                authors: false,
                flag,
            } => publishers.filter(q!(book__isnull = *flag)).values(["name"]),
            RelationQuery::ExcludeOr { age } => books
                .filter(!q!(authors__age__lt = *age) | q!(publisher__isnull = true))
                .values(["id", "pages"]),
            RelationQuery::InnerChain { age, publisher } => {
                let name = format!("p{publisher}");
                books
                    .filter(q!(authors__age__gt = *age, publisher__name = name.as_str()))
                    .values(["pages", "authors__name", "publisher__name"])
            }
            RelationQuery::ReverseChain { age } => publishers
                .filter(q!(book__authors__age__gt = *age))
                .values(["name", "book__pages", "book__authors__name"]),
        }
    }
}

impl fmt::Display for RelationQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// Runs `query` over `library` in both engines and compares the rows as multisets.
pub fn check_relations(library: &Library, query: &RelationQuery) -> Result<(), String> {
    let db = library.load().map_err(|e| e.to_string())?;
    let qs = query.build(&db);
    let context = |sql: &str| format!("QuerySet: {query}\nSQL: {sql}\n{library:?}");
    let sql = qs
        .sql()
        .map_err(|e| format!("sql() failed: {e}\n{}", context("-")))?;
    let quiver = qs
        .to_batches()
        .map_err(|e| format!("Quiver failed: {e}\n{}", context(&sql)))?;
    let tables: Vec<(String, arrow::datatypes::SchemaRef, Vec<RecordBatch>)> =
        ["publisher", "author", "book", "book_authors"]
            .iter()
            .map(|name| {
                let table = db.catalog().table(name).map_err(|e| e.to_string())?;
                let batches = table
                    .snapshot()
                    .chunks()
                    .iter()
                    .map(|c| c.batch().clone())
                    .collect();
                Ok((name.to_string(), table.schema(), batches))
            })
            .collect::<Result<_, String>>()?;
    let inputs: Vec<(&str, arrow::datatypes::SchemaRef, Vec<RecordBatch>)> = tables
        .iter()
        .map(|(name, schema, batches)| {
            (
                name.as_str(),
                std::sync::Arc::clone(schema),
                batches.clone(),
            )
        })
        .collect();
    let datafusion =
        run_sql(&inputs, &sql).map_err(|e| format!("DataFusion failed: {e}\n{}", context(&sql)))?;
    compare_multiset(&canonical_rows(&quiver), &canonical_rows(&datafusion))
        .map_err(|difference| format!("{difference}\n{}", context(&sql)))?;
    // The same rows with every hash join built on the side the compiler wrote, with the
    // joins in the order the compiler wrote them, and both (metamorphic: `choose_build_side`
    // only swaps inputs, `reorder_joins` only reorders INNER joins), without runtime join
    // filters (which only drop probe rows that have no match), and with the projection above
    // a join run on its own (`join_projection` folds it into the join).
    let config = db.config();
    for rules in [
        &["choose_build_side"][..],
        &["reorder_joins"],
        &["reorder_joins", "choose_build_side"],
        &["runtime_join_filters"],
        &["join_projection"],
    ] {
        let off = rules
            .iter()
            .fold(config.clone(), |config, rule| config.disable_rule(*rule));
        db.set_config(off);
        let rows = qs
            .to_batches()
            .map_err(|e| format!("Quiver failed without {rules:?}: {e}\n{}", context(&sql)))?;
        compare_multiset(&canonical_rows(&quiver), &canonical_rows(&rows)).map_err(
            |difference| {
                format!(
                    "switching off {rules:?} changed the rows: {difference}\n{}",
                    context(&sql)
                )
            },
        )?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// QuerySets across a ForeignKey and a many-to-many relation agree with DataFusion.
    #[test]
    fn relation_querysets_agree_with_datafusion(
        library in library(),
        query in relation_query(),
    ) {
        check_relations(&library, &query).map_err(TestCaseError::fail)?;
    }
}
