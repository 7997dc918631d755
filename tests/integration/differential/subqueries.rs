//! Random subquery, `Exists`, `__in=qs`, set-operation and CTE QuerySets on `Owner`/`Item`,
//! run in Quiver (with the `decorrelate_subqueries` rule and without it) and, through
//! `QuerySet::sql()`, in DataFusion.
//!
//! Every generated QuerySet ends with `.order_by(["id"])` (or its first column for set
//! operations), so results compare in order. EXISTS and IN used as values (the mark joins)
//! are compared between the two Quiver paths where DataFusion 55 cannot plan them. Not generated: `OuterRef` over a relation from a
//! derived table (DataFusion's SQL would need the outer relation in scope), recursive CTEs
//! with `UNION ALL` over data that may cycle (tested in `subqueries.rs` with the limit), and
//! NULLs inside an `IN (SELECT …)`: DataFusion 55 keeps rows that `NOT (x IN (SELECT …))`
//! must drop when the subquery yields a NULL (its semi-join rewrite is not NULL-aware), so
//! that rule is checked against Django instead (`not_in_with_null` in `subqueries.rs`).

use std::fmt;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use quiver::prelude::*;

use super::tables::{self, Dataset, Floats};
use super::{config, Judging, Table};
use crate::datafusion_oracle::{compare_ordered, run_sql};

/// One shape of subquery QuerySet, with its random parameters.
#[derive(Debug, Clone)]
pub enum SubquerySpec {
    /// `Owner.filter([~]Exists(Item.filter(owner=OuterRef("pk"), qty__gt=k)))`.
    Exists { negated: bool, qty: i32 },
    /// `Owner.annotate(x=Exists(Item.filter(owner=OuterRef("pk"), category=c)))`.
    ExistsAnnotation { category: String },
    /// `Owner.annotate(latest=Subquery(Item.filter(owner=OuterRef("pk")).order_by(order).values(field)[:1]))`,
    /// by `-id` or by an order with ties and NULLs (`qty`, `-qty`, `category`, `-day`): the
    /// earliest row among the best ones wins, decorrelated (one hashed pass keeping each
    /// owner's best row) exactly as per key (a stable sort of the owner's rows).
    Latest {
        order: &'static str,
        field: &'static str,
    },
    /// `Owner.annotate(n=Coalesce(Subquery(count per owner), 0))` or the qty sum.
    PerOwner { count: bool, qty: i32 },
    /// `Item.filter([~]Q(owner__in=Owner.filter(score__gt=k)))`.
    InQuerySet { negated: bool, score: i64 },
    /// `Item.filter(qty__in=Item.filter(category=c, qty__isnull=False).values("qty"))`.
    InValues { negated: bool, category: String },
    /// Two Owner filters combined by a set operation, `values("name", "region")`.
    SetOperation {
        operator: u8,
        all: bool,
        score: i64,
        region: String,
    },
    /// A CTE of qty totals per owner joined to Owner.
    CteTotals { qty: i32 },
    /// Owners reachable from those with `score < k` by consecutive ids (a recursive CTE).
    RecursiveRun { score: i64 },
    /// `Owner.filter(Exists(Item.filter(owner=OuterRef("pk"), qty__gt=k)) | Q(score__lt=s))`
    /// (a mark join when decorrelated).
    ExistsOr { qty: i32, score: i64 },
    /// `Owner.annotate(x=Case(When([~]Exists(…, category=c), then=1), default=0))`.
    ExistsInCase { negated: bool, category: String },
    /// `Item.annotate(x=[~]Q(qty__in=Item.filter(owner=OuterRef("owner"), category=c)
    /// .values("qty")))`: a correlated IN as a value, NULLs on both sides.
    InAsValue { negated: bool, category: String },
    /// `Owner.filter([~]Q(pk__in=Item.filter(qty__gt=k).values("owner")))`.
    PkIn { negated: bool, qty: i32 },
    /// `Item.filter(pk__in=Item.annotate(rn=Window(RowNumber(), partition_by="owner",
    /// order_by=["-qty", "id"])).filter(rn__lte=k).values("pk"))`: a window in a subquery.
    TopPerOwner { k: i64 },
    /// `CTE(totals, materialized=m).queryset().filter(owner__lte=k)`.
    CteMaterialized {
        materialized: Option<bool>,
        owner: i64,
    },
    /// `Item.annotate(x=Subquery(Owner.filter(pk=OuterRef("owner")).values(field)))`: a
    /// lookup by primary key (a single join without a row count).
    Lookup { field: &'static str },
    /// `Owner.annotate(x=Subquery(Item.filter(owner=OuterRef("pk"), category=c).values("qty")))`:
    /// a lookup by a key that is not unique, so an owner with two such items is an error.
    LookupNotUnique { category: String },
}

const CATEGORIES: &[&str] = &["a", "b", "c"];
const REGIONS: &[&str] = &["north", "south", "east"];

fn spec() -> impl Strategy<Value = SubquerySpec> {
    let category = proptest::sample::select(CATEGORIES).prop_map(str::to_string);
    let region = proptest::sample::select(REGIONS).prop_map(str::to_string);
    prop_oneof![
        (any::<bool>(), -5i32..60).prop_map(|(negated, qty)| SubquerySpec::Exists { negated, qty }),
        category
            .clone()
            .prop_map(|category| SubquerySpec::ExistsAnnotation { category }),
        (
            proptest::sample::select(&["-id", "qty", "-qty", "category", "-day"][..]),
            proptest::sample::select(&["id", "name", "qty", "category"][..])
        )
            .prop_map(|(order, field)| SubquerySpec::Latest { order, field }),
        (any::<bool>(), -5i32..60).prop_map(|(count, qty)| SubquerySpec::PerOwner { count, qty }),
        (any::<bool>(), -50i64..50)
            .prop_map(|(negated, score)| SubquerySpec::InQuerySet { negated, score }),
        (any::<bool>(), category)
            .prop_map(|(negated, category)| SubquerySpec::InValues { negated, category }),
        (0u8..3, any::<bool>(), -50i64..50, region).prop_map(|(operator, all, score, region)| {
            SubquerySpec::SetOperation {
                operator,
                all,
                score,
                region,
            }
        }),
        (-5i32..60).prop_map(|qty| SubquerySpec::CteTotals { qty }),
        (-50i64..50).prop_map(|score| SubquerySpec::RecursiveRun { score }),
        (-5i32..60, -50i64..50).prop_map(|(qty, score)| SubquerySpec::ExistsOr { qty, score }),
        (
            any::<bool>(),
            proptest::sample::select(CATEGORIES).prop_map(str::to_string)
        )
            .prop_map(|(negated, category)| SubquerySpec::ExistsInCase { negated, category }),
        (
            any::<bool>(),
            proptest::sample::select(CATEGORIES).prop_map(str::to_string)
        )
            .prop_map(|(negated, category)| SubquerySpec::InAsValue { negated, category }),
        (any::<bool>(), -5i32..60).prop_map(|(negated, qty)| SubquerySpec::PkIn { negated, qty }),
        (0i64..4).prop_map(|k| SubquerySpec::TopPerOwner { k }),
        (proptest::option::of(any::<bool>()), 0i64..12).prop_map(|(materialized, owner)| {
            SubquerySpec::CteMaterialized {
                materialized,
                owner,
            }
        }),
        proptest::sample::select(&["name", "region", "score"][..])
            .prop_map(|field| SubquerySpec::Lookup { field }),
        proptest::sample::select(CATEGORIES).prop_map(|category| SubquerySpec::LookupNotUnique {
            category: category.to_string()
        }),
    ]
}

impl fmt::Display for SubquerySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

fn items_of_outer(db: &Database) -> QuerySet {
    db.objects("Item").filter(Q::new("owner", OuterRef("pk")))
}

impl SubquerySpec {
    /// The QuerySet and the names Django gives its columns.
    fn build(&self, db: &Database) -> (QuerySet, Vec<String>) {
        let owners = db.objects("Owner");
        let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match self {
            SubquerySpec::Exists { negated, qty } => {
                let exists = Exists(items_of_outer(db).filter(q!(qty__gt = *qty)));
                let condition = if *negated { !exists } else { exists };
                (
                    owners
                        .filter(condition)
                        .order_by(["id"])
                        .values(["id", "name"]),
                    names(&["id", "name"]),
                )
            }
            SubquerySpec::ExistsAnnotation { category } => (
                owners
                    .annotate([(
                        "x",
                        Exists(items_of_outer(db).filter(Q::new("category", category.as_str()))),
                    )])
                    .order_by(["id"])
                    .values(["id", "x"]),
                names(&["id", "x"]),
            ),
            SubquerySpec::Latest { order, field } => {
                let latest = items_of_outer(db)
                    .order_by([*order])
                    .values([*field])
                    .slice(0..1);
                (
                    owners
                        .annotate([("latest", Subquery(latest))])
                        .order_by(["id"])
                        .values(["id", "latest"]),
                    names(&["id", "latest"]),
                )
            }
            SubquerySpec::PerOwner { count, qty } => {
                let grouped = items_of_outer(db)
                    .filter(q!(qty__lt = *qty))
                    .order_by(Vec::<&str>::new())
                    .values(["owner"]);
                let value = if *count {
                    Coalesce([
                        Subquery(grouped.annotate([("c", Count("id"))]).values(["c"])),
                        Value(0i64),
                    ])
                } else {
                    Subquery(grouped.annotate([("s", Sum("qty"))]).values(["s"]))
                };
                (
                    owners
                        .annotate([("n", value)])
                        .order_by(["id"])
                        .values(["id", "n"]),
                    names(&["id", "n"]),
                )
            }
            SubquerySpec::InQuerySet { negated, score } => {
                let chosen = db.objects("Owner").filter(q!(score__gt = *score));
                let q = Q::new("owner__in", chosen);
                let q = if *negated { !q } else { q };
                (
                    db.objects("Item").filter(q).order_by(["id"]).values(["id"]),
                    names(&["id"]),
                )
            }
            SubquerySpec::InValues { negated, category } => {
                let qtys = db
                    .objects("Item")
                    .filter(Q::new("category", category.as_str()) & q!(qty__isnull = false))
                    .values(["qty"]);
                let q = Q::new("qty__in", qtys);
                let q = if *negated { !q } else { q };
                (
                    db.objects("Item").filter(q).order_by(["id"]).values(["id"]),
                    names(&["id"]),
                )
            }
            SubquerySpec::SetOperation {
                operator,
                all,
                score,
                region,
            } => {
                let left = owners
                    .filter(q!(score__gt = *score))
                    .values(["name", "region"]);
                let right = db
                    .objects("Owner")
                    .filter(Q::new("region", region.as_str()))
                    .values(["name", "region"]);
                let combined = match operator {
                    0 => left.union([right], *all),
                    1 => left.intersection([right]),
                    _ => left.difference([right]),
                };
                (
                    combined.order_by(["name", "region"]),
                    names(&["name", "region"]),
                )
            }
            SubquerySpec::CteTotals { qty } => {
                let totals = CTE::new(
                    db.objects("Item")
                        .filter(q!(qty__lt = *qty))
                        .values(["owner"])
                        .annotate([("total", Sum("qty"))]),
                )
                .name("totals");
                (
                    with_cte(
                        [&totals],
                        totals.join(owners.clone(), [("id", totals.col("owner"))]),
                    )
                    .annotate([("total", totals.col("total"))])
                    .order_by(["id"])
                    .values(["id", "total"]),
                    names(&["id", "total"]),
                )
            }
            SubquerySpec::RecursiveRun { score } => {
                let run = CTE::recursive_named("run", |cte| {
                    owners.filter(q!(score__lt = *score)).values(["id"]).union(
                        [cte.join(owners.clone(), [("id", cte.col("id") + 1)])
                            .values(["id"])],
                        false,
                    )
                });
                (
                    run.queryset().order_by(["id"]).values(["id"]),
                    names(&["id"]),
                )
            }
            SubquerySpec::ExistsOr { qty, score } => {
                let exists = Exists(items_of_outer(db).filter(q!(qty__gt = *qty)));
                (
                    owners
                        .filter(Q::from(exists) | q!(score__lt = *score))
                        .order_by(["id"])
                        .values(["id", "name"]),
                    names(&["id", "name"]),
                )
            }
            SubquerySpec::ExistsInCase { negated, category } => {
                let exists =
                    Exists(items_of_outer(db).filter(Q::new("category", category.as_str())));
                let condition = if *negated {
                    !Q::from(exists)
                } else {
                    Q::from(exists)
                };
                (
                    owners
                        .annotate([("x", Case([When(condition, Value(1))]).default(Value(0)))])
                        .order_by(["id"])
                        .values(["id", "x"]),
                    names(&["id", "x"]),
                )
            }
            SubquerySpec::InAsValue { negated, category } => {
                let qtys = db
                    .objects("Item")
                    .filter(
                        Q::new("owner", OuterRef("owner")) & Q::new("category", category.as_str()),
                    )
                    .values(["qty"]);
                let q = Q::new("qty__in", qtys);
                let q = if *negated { !q } else { q };
                (
                    db.objects("Item")
                        .annotate([("x", q)])
                        .order_by(["id"])
                        .values(["id", "x"]),
                    names(&["id", "x"]),
                )
            }
            SubquerySpec::PkIn { negated, qty } => {
                let owners_of = db
                    .objects("Item")
                    .filter(q!(qty__gt = *qty))
                    .values(["owner"]);
                let q = Q::new("pk__in", owners_of);
                let q = if *negated { !q } else { q };
                (
                    owners.filter(q).order_by(["id"]).values(["id"]),
                    names(&["id"]),
                )
            }
            SubquerySpec::TopPerOwner { k } => {
                let top = db
                    .objects("Item")
                    .annotate([(
                        "rn",
                        Window(RowNumber())
                            .partition_by(["owner"])
                            .order_by([F("qty").desc_nulls_last(), F("id").asc()]),
                    )])
                    .filter(q!(rn__lte = *k))
                    .values(["pk"]);
                (
                    db.objects("Item")
                        .filter(Q::new("pk__in", top))
                        .order_by(["id"])
                        .values(["id"]),
                    names(&["id"]),
                )
            }
            SubquerySpec::CteMaterialized {
                materialized,
                owner,
            } => {
                let totals = CTE::new(
                    db.objects("Item")
                        .values(["owner"])
                        .annotate([("total", Sum("qty"))]),
                )
                .name("totals");
                let totals = match materialized {
                    Some(m) => totals.materialized(*m),
                    None => totals,
                };
                (
                    totals
                        .queryset()
                        .filter(q!(owner__lte = *owner))
                        .order_by(["owner"])
                        .values(["owner", "total"]),
                    names(&["owner", "total"]),
                )
            }
            SubquerySpec::Lookup { field } => {
                let value = db
                    .objects("Owner")
                    .filter(Q::new("pk", OuterRef("owner")))
                    .values([*field]);
                (
                    db.objects("Item")
                        .annotate([("x", Subquery(value))])
                        .order_by(["id"])
                        .values(["id", "x"]),
                    names(&["id", "x"]),
                )
            }
            SubquerySpec::LookupNotUnique { category } => {
                let value = items_of_outer(db)
                    .filter(Q::new("category", category.as_str()))
                    .values(["qty"]);
                (
                    owners
                        .annotate([("x", Subquery(value))])
                        .order_by(["id"])
                        .values(["id", "x"]),
                    names(&["id", "x"]),
                )
            }
        }
    }
}

impl SubquerySpec {
    /// For the lookups, which DataFusion 55 cannot plan as correlated subqueries ("must be
    /// aggregated to return at most one row"), the same question as joins: the SQL whose rows
    /// Quiver's must equal when it returns rows, and the SQL that lists the keys with more
    /// than one row, which must be non-empty when Quiver raises PostgreSQL's error.
    fn datafusion_lookup(&self) -> Option<(String, Option<String>)> {
        match self {
            SubquerySpec::Lookup { field } => Some((
                format!(
                    "SELECT \"item\".\"id\" AS \"id\", \"owner\".\"{field}\" AS \"x\" FROM \"item\" \
                     LEFT JOIN \"owner\" ON \"owner\".\"id\" = \"item\".\"owner_id\" \
                     ORDER BY \"item\".\"id\""
                ),
                None,
            )),
            SubquerySpec::LookupNotUnique { category } => Some((
                format!(
                    "SELECT \"owner\".\"id\" AS \"id\", \"one\".\"qty\" AS \"x\" FROM \"owner\" \
                     LEFT JOIN (SELECT \"owner_id\", min(\"qty\") AS \"qty\" FROM \"item\" \
                     WHERE \"category\" = '{category}' GROUP BY \"owner_id\" HAVING count(*) = 1) \
                     AS \"one\" ON \"one\".\"owner_id\" = \"owner\".\"id\" ORDER BY \"owner\".\"id\""
                ),
                Some(format!(
                    "SELECT \"item\".\"owner_id\" FROM \"item\" JOIN \"owner\" \
                     ON \"owner\".\"id\" = \"item\".\"owner_id\" WHERE \"category\" = '{category}' \
                     GROUP BY \"item\".\"owner_id\" HAVING count(*) > 1"
                )),
            )),
            _ => None,
        }
    }
}

fn run(qs: &QuerySet) -> Result<Table, quiver::Error> {
    qs.fetch()
        .map(|rows| Table::from_batches(rows.columns().to_vec(), rows.batches()))
}

/// Runs `spec` over `dataset` in Quiver (decorrelated and not) and in DataFusion. Where
/// DataFusion cannot plan the SQL ("not implemented": EXISTS in a select list, a correlated
/// scalar subquery with ORDER BY … LIMIT 1), the two Quiver paths are still compared with
/// each other.
pub fn check_subquery(dataset: &Dataset, spec: &SubquerySpec) -> Result<(), String> {
    let loaded = dataset.load()?;
    let (qs, expected_names) = spec.build(&loaded.db);
    let sql = qs
        .sql()
        .map_err(|error| format!("sql() failed: {error}\nQuerySet: {spec}"))?;
    let context = format!("QuerySet: {spec}\nSQL: {sql}\n{dataset:?}");
    let decorrelated = run(&qs);
    // The same QuerySet without decorrelation: the per-key evaluation must agree.
    let plain = Database::with_config(SessionConfig::new().disable_rule("decorrelate_subqueries"));
    for model in tables::models() {
        plain
            .register(model)
            .map_err(|e| format!("register: {e}"))?;
    }
    for (model, (_, _, batches)) in ["Owner", "Item"].into_iter().zip(&loaded.tables) {
        plain
            .load_batches(model, batches.clone())
            .map_err(|e| format!("load {model}: {e}"))?;
    }
    let per_key = run(&spec.build(&plain).0);
    match (&decorrelated, &per_key) {
        (Ok(a), Ok(b)) => compare_ordered(&a.rows, &b.rows).map_err(|diff| {
            format!("decorrelated and per-key results differ: {diff}\n{context}")
        })?,
        (Err(a), Err(b)) if a.to_string() == b.to_string() => {}
        (a, b) => {
            return Err(format!(
                "decorrelated {:?} but per-key {:?}\n{context}",
                a.as_ref().map(|_| "ok"),
                b.as_ref().map(|_| "ok")
            ))
        }
    }
    // DataFusion 55 answers `COALESCE((SELECT count(…) … GROUP BY key), 0)` with NULL for
    // an outer row without related rows (its COUNT-bug rewrite keeps the NULL past the
    // COALESCE); Django's answer, 0, is checked in `subqueries.rs` (`order_count`).
    if matches!(spec, SubquerySpec::PerOwner { count: true, .. }) {
        return Ok(());
    }
    if let Some((rows_sql, duplicates_sql)) = spec.datafusion_lookup() {
        let tables = loaded.datafusion_tables();
        if let (Err(error), Some(duplicates_sql)) = (&decorrelated, duplicates_sql) {
            let duplicates = run_sql(&tables, &duplicates_sql)?;
            if !error
                .to_string()
                .contains("more than one row returned by a subquery used as an expression")
                || duplicates.iter().all(|b| b.num_rows() == 0)
            {
                return Err(format!("unexpected error {error}\n{context}"));
            }
            return Ok(());
        }
        return Judging {
            context,
            expected_names,
            ordered: true,
            may_fail: false,
            decimal_average_columns: vec![],
            datafusion: run_sql(&tables, &rows_sql),
            quiver: decorrelated,
        }
        .verdict();
    }
    // DataFusion 55's parser takes no `AS [NOT] MATERIALIZED` hint; it never changes rows.
    let hintless = sql
        .replace(" AS NOT MATERIALIZED (", " AS (")
        .replace(" AS MATERIALIZED (", " AS (");
    let datafusion = run_sql(&loaded.datafusion_tables(), &hintless);
    if matches!(&datafusion, Err(error) if error.contains("This feature is not implemented")) {
        return Ok(());
    }
    Judging {
        context,
        expected_names,
        ordered: true,
        may_fail: false,
        decimal_average_columns: vec![],
        datafusion,
        quiver: decorrelated,
    }
    .verdict()
}

proptest! {
    #![proptest_config(config())]

    /// Random subquery, Exists, __in, set-operation and CTE QuerySets agree with DataFusion.
    #[test]
    fn subquery_querysets_agree_with_datafusion(
        dataset in tables::dataset(Floats::DataFusionSafe),
        spec in spec(),
    ) {
        check_subquery(&dataset, &spec).map_err(TestCaseError::fail)?;
    }
}

/// Three owners and thirty items (a tenth with no owner, some without a quantity): the item
/// side of an `Exists` or `pk__in` is estimated well over twice the owners, so
/// `choose_build_side` turns the semi (anti) join into a RIGHT SEMI (RIGHT ANTI) join that
/// hashes the owners and streams the items. The results must still agree with DataFusion
/// and with the per-key path, and with the rule switched off.
#[test]
fn swapped_semi_and_anti_joins_agree_with_datafusion() {
    let owners = (1..=3)
        .map(|id| tables::OwnerRow {
            id,
            name: format!("o{id}"),
            region: None,
            score: id,
        })
        .collect();
    let items = (1..=30)
        .map(|id: i64| tables::ItemRow {
            id,
            name: None,
            category: CATEGORIES[id as usize % 3].to_string(),
            qty: (id % 7 != 0).then_some(id as i32 % 11),
            price: None,
            amount: None,
            day: None,
            flag: None,
            // Owner 3 has no items; every tenth item has no owner.
            owner_id: (id % 10 != 0).then_some(1 + id % 2),
        })
        .collect();
    let dataset = Dataset {
        owners,
        items,
        item_cuts: vec![7, 19],
    };
    let loaded = dataset.load().unwrap();
    let specs = [
        (
            SubquerySpec::Exists {
                negated: false,
                qty: 3,
            },
            "RightSemi",
        ),
        (
            SubquerySpec::Exists {
                negated: true,
                qty: 3,
            },
            "RightAnti",
        ),
        (
            SubquerySpec::PkIn {
                negated: false,
                qty: 8,
            },
            "RightSemi",
        ),
        (
            SubquerySpec::Exists {
                negated: true,
                qty: 1,
            },
            "RightAnti",
        ),
    ];
    // (`~Q(pk__in=…)` over the nullable owner column is a NULL-aware NOT IN, which stays on
    // the evaluate-once path: not a join to swap.)
    let database = |config: SessionConfig| {
        let db = Database::with_config(config);
        for model in tables::models() {
            db.register(model).unwrap();
        }
        for (model, (_, _, batches)) in ["Owner", "Item"].into_iter().zip(&loaded.tables) {
            db.load_batches(model, batches.clone()).unwrap();
        }
        db
    };
    // Without indexes the swapped join runs as a hash join building on the owners (with the
    // item.owner index, the planner reads the few owners' items through it instead).
    let hashed = database(SessionConfig::new().disable_rule("use_indexes"));
    let unswapped = database(SessionConfig::new().disable_rule("choose_build_side"));
    for (spec, join) in specs {
        let (qs, _) = spec.build(&loaded.db);
        let explain = qs.explain().unwrap();
        assert!(
            explain.contains(&format!("Join: {join}")),
            "{spec}:\n{explain}"
        );
        check_subquery(&dataset, &spec).unwrap();
        let expected = run(&qs).unwrap();
        assert!(!expected.rows.is_empty(), "{spec}");
        let (qs, _) = spec.build(&hashed);
        let explain = qs.explain().unwrap();
        let operator = if join == "RightSemi" {
            "HashJoinExec: RIGHT SEMI JOIN"
        } else {
            "HashJoinExec: RIGHT ANTI JOIN"
        };
        assert!(explain.contains(operator), "{spec}:\n{explain}");
        compare_ordered(&run(&qs).unwrap().rows, &expected.rows).unwrap();
        // Switched off, the join keeps its written sides and gives the same rows.
        let (qs, _) = spec.build(&unswapped);
        assert!(!qs.explain().unwrap().contains("Join: Right"));
        compare_ordered(&run(&qs).unwrap().rows, &expected.rows).unwrap();
    }
}
