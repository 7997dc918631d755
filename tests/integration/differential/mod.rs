//! Differential property tests: random tables, random QuerySets, each run in Quiver and —
//! through the SQL that `QuerySet::sql()` renders — in DataFusion over the same Arrow
//! batches; the results must agree. Plus metamorphic checks inside Quiver (`metamorphic`).
//!
//! - `tables`: the two models and a strategy for their rows.
//! - `querysets`: the QuerySet AST, its strategy, Django spelling and interpreter.
//! - `metamorphic`: TLP, NoREC and slicing checks that need no second engine.
//!
//! Each property runs [`cases()`] cases: 256 by default, more with `QUIVER_PROPTEST_CASES`
//! (`QUIVER_PROPTEST_CASES=5000 cargo test -p quiver-tests differential`). A failure shrinks
//! to a small QuerySet and dataset, printed as Django code and `create()` rows.
//!
//! How results are compared: in order when the QuerySet's order is total (its `order_by`
//! ends with a unique key), otherwise as multisets; output column names must match too.
//! Errors: both engines failing is accepted only when the QuerySet divides by a column that
//! may hold zero (a data-dependent error); then one failing alone is accepted too, because
//! neither SQL nor PostgreSQL fixes which rows an expression is evaluated on before a filter
//! removes them. Anything else is a difference. What is not generated, and why, is listed in
//! `querysets`' and `tables`' docs.

pub mod metamorphic;
pub mod querysets;
pub mod tables;

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use quiver::prelude::*;

use crate::datafusion_oracle::{
    canonical_rows, compare_multiset, compare_ordered, run_sql, CanonValue,
};
use querysets::{
    aggregate_names, annotation_name, AggArg, AggSpec, QuerySetSpec, Shape, Target,
};
use tables::{Dataset, Floats, Loaded};

/// Cases per property: `QUIVER_PROPTEST_CASES`, or 256.
pub fn cases() -> u32 {
    std::env::var("QUIVER_PROPTEST_CASES")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(256)
}

/// The proptest configuration every property here uses. Failures are not persisted to
/// files: a found failure goes into a named regression test instead.
pub fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        // Each shrink step runs a QuerySet in two engines (milliseconds); nested strategies
        // need more steps than the default 1024 to reach a small case.
        max_shrink_iters: 8192,
        ..ProptestConfig::default()
    }
}

/// A result: column names and canonical rows.
#[derive(Debug)]
struct Table {
    names: Vec<String>,
    rows: Vec<Vec<CanonValue>>,
}

impl Table {
    fn from_batches(schema_names: Vec<String>, batches: &[RecordBatch]) -> Table {
        Table {
            names: schema_names,
            rows: canonical_rows(batches),
        }
    }
}

/// Quiver's side of a check.
fn run_quiver(spec: &QuerySetSpec, loaded: &Loaded) -> Result<Table, quiver::Error> {
    let qs = spec.build(&loaded.db);
    match &spec.shape {
        Shape::Rows { .. } | Shape::Group { .. } => {
            let rows = qs.fetch()?;
            let names = rows.columns().to_vec();
            Ok(Table::from_batches(names, rows.batches()))
        }
        Shape::Aggregate { .. } => {
            let row = qs.aggregate(spec.aggregate_args())?;
            let names = row.columns().to_vec();
            let arrays: Vec<ArrayRef> = row.values().iter().map(|v| v.to_array(1)).collect();
            let fields: Vec<Field> = names
                .iter()
                .zip(&arrays)
                .map(|(name, array)| Field::new(name, array.data_type().clone(), true))
                .collect();
            let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
                .map_err(|error| quiver::Error::ValueError(format!("aggregate row: {error}")))?;
            Ok(Table::from_batches(names, &[batch]))
        }
        Shape::Count => {
            let count = qs.count()?;
            Ok(Table {
                names: vec!["count".to_owned()],
                rows: vec![vec![CanonValue::Int(count as i128)]],
            })
        }
    }
}

/// The SQL DataFusion runs: Quiver's SQL for the QuerySet, wrapped for `aggregate()` and
/// `count()`, which return a value rather than a QuerySet.
fn datafusion_sql(spec: &QuerySetSpec, loaded: &Loaded) -> Result<String, quiver::Error> {
    match &spec.shape {
        Shape::Rows { .. } | Shape::Group { .. } => spec.build(&loaded.db).sql(),
        Shape::Count => {
            let sql = spec.build(&loaded.db).sql()?;
            Ok(format!("SELECT COUNT(*) AS \"count\" FROM ({sql}) AS \"counted\""))
        }
        Shape::Aggregate { aggregates } => {
            let sql = spec.build_aggregate_inputs(&loaded.db).sql()?;
            let names = aggregate_names(aggregates);
            let items: Vec<String> = aggregates
                .iter()
                .zip(&names)
                .enumerate()
                .map(|(index, (aggregate, name))| {
                    format!("{} AS \"{name}\"", aggregate_sql(index, aggregate))
                })
                .collect();
            Ok(format!(
                "SELECT {} FROM ({sql}) AS \"inputs\"",
                items.join(", ")
            ))
        }
    }
}

/// `SUM(DISTINCT "h_a0") FILTER (WHERE "h_f0")`, in `COALESCE(…, default)` when it has one.
fn aggregate_sql(index: usize, aggregate: &AggSpec) -> String {
    let argument = match aggregate.arg {
        AggArg::Star => "*".to_owned(),
        _ => format!("\"h_a{index}\""),
    };
    let distinct = if aggregate.distinct { "DISTINCT " } else { "" };
    let filter = match aggregate.filter {
        Some(_) => format!(" FILTER (WHERE \"h_f{index}\")"),
        None => String::new(),
    };
    let call = format!("{}({distinct}{argument}){filter}", aggregate.func.sql());
    match &aggregate.default {
        Some(default) => format!("COALESCE({call}, {})", default.sql()),
        None => call,
    }
}

/// The output column names Django gives the QuerySet. `values()` lists model fields first
/// and annotations after them, each in the order asked (Django's `ValuesIterable` builds its
/// names from `values_select` and then `annotation_select`).
fn expected_names(spec: &QuerySetSpec) -> Vec<String> {
    let values = |targets: &[Target]| -> Vec<String> {
        let fields = targets.iter().filter_map(|t| match t {
            Target::Col(column) => Some(column.path().to_owned()),
            _ => None,
        });
        let annotations = targets.iter().filter_map(|t| match t {
            Target::Ann(index) => Some(annotation_name(*index)),
            _ => None,
        });
        fields.chain(annotations).collect()
    };
    match &spec.shape {
        Shape::Rows { values: None, .. } => [
            "id", "name", "category", "qty", "price", "amount", "day", "flag", "owner_id",
        ]
        .into_iter()
        .map(str::to_owned)
        .chain((0..spec.annotations.len()).map(annotation_name))
        .collect(),
        Shape::Rows {
            values: Some(targets),
            ..
        } => values(targets),
        Shape::Group {
            keys, aggregates, ..
        } => values(keys)
            .into_iter()
            .chain(aggregate_names(aggregates))
            .collect(),
        Shape::Aggregate { aggregates } => aggregate_names(aggregates),
        Shape::Count => vec!["count".to_owned()],
    }
}

fn is_data_error(error: &quiver::Error) -> bool {
    matches!(error, quiver::Error::DataError(_))
}

fn is_datafusion_data_error(error: &str) -> bool {
    error.contains("Divide by zero")
}

/// Runs `spec` over `dataset` in both engines and compares.
pub fn check(dataset: &Dataset, spec: &QuerySetSpec) -> Result<(), String> {
    let loaded = dataset.load()?;
    let quiver = run_quiver(spec, &loaded);
    let sql = datafusion_sql(spec, &loaded);
    let context = |sql: &str| format!("QuerySet: {spec}\nSQL: {sql}\n{dataset:?}");
    let sql = match (sql, &quiver) {
        (Ok(sql), _) => sql,
        // A QuerySet that fails to compile fails to render too; the error is the finding.
        (Err(error), _) => {
            return Err(format!(
                "sql() failed: {error} (evaluation: {:?})\n{}",
                quiver.as_ref().map(|_| "ok"),
                context("-")
            ))
        }
    };
    let datafusion = run_sql(&loaded.datafusion_tables(), &sql);
    let may_fail = spec.may_fail();
    match (quiver, datafusion) {
        (Ok(quiver), Ok(batches)) => {
            let expected = expected_names(spec);
            if quiver.names != expected {
                return Err(format!(
                    "Quiver's columns are {:?}, Django's {expected:?}\n{}",
                    quiver.names,
                    context(&sql)
                ));
            }
            if let Some(batch) = batches.first() {
                let names: Vec<String> =
                    batch.schema().fields().iter().map(|f| f.name().clone()).collect();
                if names.len() != quiver.names.len() {
                    return Err(format!(
                        "DataFusion returns columns {names:?}, Quiver {:?}\n{}",
                        quiver.names,
                        context(&sql)
                    ));
                }
            }
            let rows = canonical_rows(&batches);
            let ordered = spec.total_order
                && matches!(spec.shape, Shape::Rows { .. } | Shape::Group { .. });
            let compared = if ordered {
                compare_ordered(&quiver.rows, &rows)
            } else {
                compare_multiset(&quiver.rows, &rows)
            };
            compared.map_err(|diff| {
                format!(
                    "results differ (left: Quiver, right: DataFusion; {}): {diff}\n{}",
                    if ordered { "in order" } else { "as multisets" },
                    context(&sql)
                )
            })
        }
        (Err(error), Err(_)) if may_fail && is_data_error(&error) => Ok(()),
        (Err(error), Ok(_)) if may_fail && is_data_error(&error) => Ok(()),
        (Ok(_), Err(error)) if may_fail && is_datafusion_data_error(&error) => Ok(()),
        (Err(error), Ok(_)) => Err(format!(
            "Quiver failed, DataFusion did not: {error:?}\n{}",
            context(&sql)
        )),
        (Ok(_), Err(error)) => Err(format!(
            "DataFusion failed, Quiver did not: {error}\n{}",
            context(&sql)
        )),
        (Err(quiver), Err(datafusion)) => Err(format!(
            "both failed: Quiver {quiver:?}; DataFusion {datafusion}\n{}",
            context(&sql)
        )),
    }
}

proptest! {
    #![proptest_config(config())]

    /// Random QuerySets agree with DataFusion running their SQL over the same data.
    #[test]
    fn querysets_agree_with_datafusion(
        dataset in tables::dataset(Floats::DataFusionSafe),
        spec in querysets::queryset(),
    ) {
        check(&dataset, &spec).map_err(TestCaseError::fail)?;
    }
}
