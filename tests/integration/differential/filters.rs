//! Random QuerySets on `Item` for the filter paths the engine plans specially, run in Quiver
//! and, through `QuerySet::sql()`, in DataFusion:
//!
//! - a leading substring tested with `__in` (`Substr(name, 1, n)` or `Left(name, n)`), which
//!   Quiver probes in place without building the substring (names hold `ß`, `é` and emoji,
//!   so a prefix by characters differs from one by bytes);
//! - a decimal column compared with an average from a subquery (`amount__gt=Subquery(avg)`),
//!   which Quiver compares at the column's scale, rounding the average up or down by
//!   operator;
//! - a lower and an upper bound on one column (`day`, `qty`, `amount`), which Quiver tests in
//!   one pass.
//!
//! Every QuerySet ends with `.order_by(["id"])`, so results compare in order.

use std::fmt;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use quiver::prelude::*;

use super::tables::{self, Dataset, Floats};
use super::{config, Judging, Table};
use crate::datafusion_oracle::run_sql;

/// One filter QuerySet, with its random parameters.
#[derive(Debug, Clone)]
pub enum FilterSpec {
    /// `Item.annotate(code=Substr("name", 1, n) | Left("name", n)).filter|exclude(code__in=items)`.
    PrefixIn {
        left: bool,
        length: i64,
        items: Vec<String>,
        exclude: bool,
    },
    /// `Item.filter(**{f"amount__{lookup}": Subquery(average amount of category c)})`.
    AgainstAverage {
        lookup: &'static str,
        category: String,
    },
    /// `Item.filter(**{f"{field}__{lower}": a, f"{field}__{upper}": b})`.
    Range {
        field: &'static str,
        lower: &'static str,
        upper: &'static str,
        low: i64,
        high: i64,
    },
}

/// Leading pieces of the item names (`tables::TEXTS`), by characters.
fn prefixes() -> Vec<String> {
    let mut out: Vec<String> = tables::TEXTS
        .iter()
        .flat_map(|text| (1..=3).map(move |n| text.chars().take(n).collect::<String>()))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn spec() -> impl Strategy<Value = FilterSpec> {
    let items = proptest::sample::subsequence(prefixes(), 1..6);
    prop_oneof![
        (any::<bool>(), 1i64..4, items, any::<bool>()).prop_map(
            |(left, length, items, exclude)| FilterSpec::PrefixIn {
                left,
                length,
                items,
                exclude,
            }
        ),
        (
            proptest::sample::select(&["gt", "gte", "lt", "lte", "exact"][..]),
            proptest::sample::select(tables::CATEGORIES).prop_map(str::to_string),
        )
            .prop_map(|(lookup, category)| FilterSpec::AgainstAverage { lookup, category }),
        (
            proptest::sample::select(&["day", "qty", "amount"][..]),
            proptest::sample::select(&["gt", "gte"][..]),
            proptest::sample::select(&["lt", "lte"][..]),
            -10i64..60,
            -10i64..80,
        )
            .prop_map(|(field, lower, upper, low, high)| FilterSpec::Range {
                field,
                lower,
                upper,
                low,
                high,
            }),
    ]
}

impl FilterSpec {
    /// The QuerySet and the names of its columns.
    fn build(&self, db: &Database) -> (QuerySet, Vec<String>) {
        let items = db.objects("Item");
        let (qs, columns) = match self {
            FilterSpec::PrefixIn {
                left,
                length,
                items: codes,
                exclude,
            } => {
                let code = if *left {
                    Left("name", *length)
                } else {
                    Substr("name", Value(1), *length)
                };
                let qs = items.annotate([("code", code)]);
                let test = Q::new("code__in", codes.clone());
                let qs = if *exclude {
                    qs.exclude(test)
                } else {
                    qs.filter(test)
                };
                (qs, ["id", "code"])
            }
            FilterSpec::AgainstAverage { lookup, category } => {
                let average = db
                    .objects("Item")
                    .filter(q!(category = category.as_str()))
                    .annotate([("all_rows", Value(1))])
                    .values(["all_rows"])
                    .annotate([("average", Avg("amount"))])
                    .values(["average"]);
                let qs = items.filter(Q::new(format!("amount__{lookup}"), Subquery(average)));
                (qs, ["id", "amount"])
            }
            FilterSpec::Range {
                field,
                lower,
                upper,
                low,
                high,
            } => {
                let bound = |value: i64| -> Expression {
                    match *field {
                        "day" => Value(tables::naive_date(tables::FIRST_DAY + value as i32)),
                        // Whole amounts and amounts with one digit after the point.
                        "amount" if value % 2 == 0 => Value(value / 2 - 10),
                        "amount" => dec(&format!("{}.5", value / 2 - 10)),
                        _ => Value(value),
                    }
                };
                let qs = items.filter(
                    Q::new(format!("{field}__{lower}"), bound(*low))
                        & Q::new(format!("{field}__{upper}"), bound(*high)),
                );
                (qs, ["id", *field])
            }
        };
        (
            qs.values(columns).order_by(["id"]),
            columns.iter().map(|c| c.to_string()).collect(),
        )
    }
}

impl fmt::Display for FilterSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

fn run(qs: &QuerySet) -> Result<Table, quiver::Error> {
    qs.fetch()
        .map(|rows| Table::from_batches(rows.columns().to_vec(), rows.batches()))
}

/// Runs `spec` over `dataset` in Quiver and in DataFusion.
pub fn check_filter(dataset: &Dataset, spec: &FilterSpec) -> Result<(), String> {
    let loaded = dataset.load()?;
    let (qs, expected_names) = spec.build(&loaded.db);
    let sql = qs
        .sql()
        .map_err(|error| format!("sql() failed: {error}\nQuerySet: {spec}"))?;
    Judging {
        context: format!("QuerySet: {spec}\nSQL: {sql}\n{dataset:?}"),
        expected_names,
        ordered: true,
        may_fail: false,
        decimal_average_columns: vec![],
        datafusion: run_sql(&loaded.datafusion_tables(), &sql),
        quiver: run(&qs),
    }
    .verdict()
}

proptest! {
    #![proptest_config(config())]

    /// Leading-substring IN lists, decimal comparisons with an average and two-sided ranges
    /// agree with DataFusion.
    #[test]
    fn filter_paths_agree_with_datafusion(
        dataset in tables::dataset(Floats::DataFusionSafe),
        spec in spec(),
    ) {
        check_filter(&dataset, &spec).map_err(TestCaseError::fail)?;
    }
}

/// The shapes above on fixed data where the average falls between two amounts and on one,
/// and names whose first characters take several bytes, so each case is known to be hit.
#[test]
fn fixed_filter_paths_agree_with_datafusion() {
    let item = |id: i64, name: &str, amount: i128| tables::ItemRow {
        id,
        name: Some(name.to_string()),
        category: if id % 2 == 0 { "a" } else { "b" }.to_string(),
        qty: Some(id as i32 * 3 - 10),
        price: None,
        amount: Some(amount),
        day: Some(tables::FIRST_DAY + id as i32 * 2),
        flag: None,
        owner_id: None,
    };
    let dataset = Dataset {
        owners: vec![],
        // Category a: 1.00, 1.00, 1.01 (average 1.0033…); category b: 1.00, 1.50, 2.00
        // (average 1.50, an amount itself).
        items: vec![
            item(1, "ß1", 100),
            item(2, "straße", 100),
            item(3, "😀x", 150),
            item(4, "école", 100),
            item(5, "a😀b", 200),
            item(6, "", 101),
        ],
        item_cuts: vec![],
    };
    let mut specs = vec![];
    for lookup in ["gt", "gte", "lt", "lte", "exact"] {
        for category in ["a", "b"] {
            specs.push(FilterSpec::AgainstAverage {
                lookup,
                category: category.to_string(),
            });
        }
    }
    for length in 1..4 {
        for left in [false, true] {
            specs.push(FilterSpec::PrefixIn {
                left,
                length,
                items: vec![
                    "ß".into(),
                    "st".into(),
                    "😀x".into(),
                    "éc".into(),
                    "a😀".into(),
                ],
                exclude: length == 2,
            });
        }
    }
    for field in ["day", "qty", "amount"] {
        specs.push(FilterSpec::Range {
            field,
            lower: "gte",
            upper: "lt",
            low: 4,
            high: 22,
        });
    }
    let loaded = dataset.load().unwrap();
    for spec in &specs {
        check_filter(&dataset, spec).unwrap_or_else(|error| panic!("{error}"));
        // The special paths are the ones taken: the amounts are not cast to the average's
        // type, and a range is one filter.
        let plan = spec.build(&loaded.db).0.explain().unwrap();
        match spec {
            FilterSpec::AgainstAverage { .. } => {
                assert!(!plan.contains("CAST(amount"), "{plan}")
            }
            FilterSpec::Range { .. } => assert!(plan.contains("range("), "{plan}"),
            FilterSpec::PrefixIn { .. } => {}
        }
    }
}
