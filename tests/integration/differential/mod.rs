//! Differential property tests: random tables, random QuerySets, each run in Quiver and —
//! through the SQL that `QuerySet::sql()` renders — in DataFusion over the same Arrow
//! batches; the results must agree. Plus metamorphic checks inside Quiver (`metamorphic`).
//!
//! - `tables`: the two models and a strategy for their rows.
//! - `querysets`: the QuerySet AST, its strategy, Django spelling and interpreter.
//! - `owners`: QuerySets on `Owner` aggregating across the reverse relation `items`.
//! - `relations`: QuerySets across a ForeignKey and a many-to-many relation (three models).
//! - `windows`: random window QuerySets against DataFusion's window functions.
//! - `statistics`: `Median`, `Percentile`, `Corr`, the covariances and `Regr*` against
//!   DataFusion's `percentile_cont`, `corr`, `covar_*` and `regr_*`.
//! - `metamorphic`: TLP, NoREC and slicing checks that need no second engine.
//! - `subqueries`: subquery, `Exists`, `__in=qs`, set-operation and CTE QuerySets.
//! - `filters`: leading-substring `__in`, decimals against a subquery's average, and
//!   two-sided ranges (the engine's fused and rescaled filter paths).
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
//! removes them. DataFusion failing with an internal error that it calls its own bug leaves a
//! case undecided too. Anything else is a difference. What is not generated, and why, is
//! listed in `querysets`' and `tables`' docs.

pub mod filters;
pub mod metamorphic;
pub mod owners;
pub mod querysets;
pub mod relations;
pub mod statistics;
pub mod subqueries;
pub mod tables;
pub mod windows;

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use quiver::prelude::*;

use crate::datafusion_oracle::{
    canonical_rows, compare_multiset, compare_ordered, run_sql, values_match, CanonValue,
};
use owners::OwnerSpec;
use querysets::{aggregate_names, annotation_name, AggArg, AggSpec, QuerySetSpec, Shape, Target};
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
        max_shrink_time: 120_000,
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

/// What DataFusion runs: Quiver's SQL for the QuerySet, and for `aggregate()` and `count()`
/// (which return a value, not a QuerySet) one query per result column over its rows,
/// registered as the table `inputs`.
///
/// Those run over materialized rows rather than over Quiver's SQL as a derived table because
/// DataFusion 55 drops an `ORDER BY` under an aggregate even when an `OFFSET` depends on it
/// (`SELECT MAX(x) FROM (SELECT … LEFT JOIN … ORDER BY … OFFSET 4)` aggregates the wrong
/// rows; `tests::datafusion_drops_the_order_of_an_offset_under_an_aggregate`), and one query
/// per column because over an empty input `COALESCE(SUM(decimal), …)` beside a
/// `SUM(DISTINCT …)` fails in DataFusion
/// (`tests::datafusion_fails_a_decimal_coalesce_beside_a_distinct_sum`).
struct DataFusionQuery {
    sql: String,
    /// `(name, SELECT …)` per output column, over `inputs`.
    over_rows: Vec<(String, String)>,
}

fn datafusion_query(
    spec: &QuerySetSpec,
    loaded: &Loaded,
) -> Result<DataFusionQuery, quiver::Error> {
    let (sql, over_rows) = match &spec.shape {
        Shape::Rows { .. } | Shape::Group { .. } => (spec.build(&loaded.db).sql()?, Vec::new()),
        Shape::Count => (
            spec.build(&loaded.db).sql()?,
            vec![(
                "count".to_owned(),
                "SELECT COUNT(*) AS \"count\" FROM \"inputs\"".to_owned(),
            )],
        ),
        Shape::Aggregate { aggregates } => {
            let columns = aggregate_names(aggregates)
                .into_iter()
                .zip(aggregates)
                .enumerate()
                .map(|(index, (name, aggregate))| {
                    let sql = format!(
                        "SELECT {} AS \"{name}\" FROM \"inputs\"",
                        aggregate_sql(index, aggregate)
                    );
                    (name, sql)
                })
                .collect();
            (spec.build_aggregate_inputs(&loaded.db).sql()?, columns)
        }
    };
    Ok(DataFusionQuery { sql, over_rows })
}

/// Runs the query in DataFusion. The schema of an empty intermediate result (DataFusion
/// returns no batches for it) is taken from Quiver's evaluation of the same QuerySet.
fn run_datafusion(
    query: &DataFusionQuery,
    spec: &QuerySetSpec,
    loaded: &Loaded,
) -> Result<Vec<RecordBatch>, String> {
    let batches = run_sql(&loaded.datafusion_tables(), &query.sql)?;
    if query.over_rows.is_empty() {
        return Ok(batches);
    }
    let schema = match batches.first() {
        Some(batch) => batch.schema(),
        None => {
            let inputs = match spec.shape {
                Shape::Aggregate { .. } => spec.build_aggregate_inputs(&loaded.db),
                _ => spec.build(&loaded.db),
            };
            let rows = inputs
                .fetch()
                .map_err(|error| format!("no schema for the empty inputs: {error}"))?;
            Arc::clone(rows.schema())
        }
    };
    let inputs = [("inputs", schema, batches)];
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (name, sql) in &query.over_rows {
        let result = run_sql(&inputs, sql)?;
        let column = match result.as_slice() {
            [batch] if batch.num_rows() == 1 => Arc::clone(batch.column(0)),
            other => {
                return Err(format!(
                    "{sql} returned {} batches, not one row",
                    other.len()
                ))
            }
        };
        fields.push(Field::new(name, column.data_type().clone(), true));
        columns.push(column);
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|error| error.to_string())?;
    Ok(vec![batch])
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

/// The output columns holding decimal averages (see [`align_decimal_averages`]).
fn decimal_average_columns(spec: &QuerySetSpec) -> Vec<usize> {
    let (offset, aggregates) = match &spec.shape {
        Shape::Group {
            keys, aggregates, ..
        } => (keys.len(), aggregates),
        Shape::Aggregate { aggregates } => (0, aggregates),
        _ => return Vec::new(),
    };
    aggregates
        .iter()
        .enumerate()
        .filter(|(_, aggregate)| aggregate.is_decimal_average())
        .map(|(index, _)| offset + index)
        .collect()
}

fn decimal_value(value: &CanonValue) -> Option<f64> {
    match *value {
        CanonValue::Decimal(unscaled, scale) => {
            Some(unscaled as f64 / 10f64.powi(i32::from(scale)))
        }
        CanonValue::Int(int) => Some(int as f64),
        _ => None,
    }
}

/// Decimal averages have 6 decimal places in both engines, but DataFusion truncates the
/// last one where Quiver rounds it (PostgreSQL keeps far more digits, so neither is the
/// reference). For each DataFusion row, a Quiver row equal on every other column whose
/// averages are within 1e-6 lends it its averages; anything farther still differs.
fn align_decimal_averages(
    quiver: &[Vec<CanonValue>],
    datafusion: &mut [Vec<CanonValue>],
    columns: &[usize],
) {
    if columns.is_empty() {
        return;
    }
    let close = |a: &CanonValue, b: &CanonValue| match (decimal_value(a), decimal_value(b)) {
        (Some(a), Some(b)) => (a - b).abs() <= 1.000_001e-6,
        _ => values_match(a, b),
    };
    for row in datafusion.iter_mut() {
        let partner = quiver.iter().find(|candidate| {
            candidate.len() == row.len()
                && (0..row.len()).all(|c| {
                    if columns.contains(&c) {
                        close(&candidate[c], &row[c])
                    } else {
                        values_match(&candidate[c], &row[c])
                    }
                })
        });
        if let Some(partner) = partner {
            for &c in columns {
                row[c] = partner[c].clone();
            }
        }
    }
}

fn is_data_error(error: &quiver::Error) -> bool {
    matches!(error, quiver::Error::DataError(_))
}

fn is_datafusion_data_error(error: &str) -> bool {
    error.contains("Divide by zero")
}

/// DataFusion's own internal errors, which it words as its bug: no reference for Quiver then
/// (`tests::datafusion_fails_internally_on_a_projection_through_a_left_join`).
fn is_datafusion_internal_error(error: &str) -> bool {
    error.contains("This issue was likely caused by a bug in DataFusion's code")
}

/// How to judge one QuerySet's two results.
struct Judging {
    /// The QuerySet in Django's spelling, the SQL DataFusion ran, and the data.
    context: String,
    /// The output names Django gives the QuerySet.
    expected_names: Vec<String>,
    /// Whether the order is total, so the rows compare in order.
    ordered: bool,
    /// Whether the QuerySet may fail on some data (see the module docs).
    may_fail: bool,
    decimal_average_columns: Vec<usize>,
    quiver: Result<Table, quiver::Error>,
    datafusion: Result<Vec<RecordBatch>, String>,
}

impl Judging {
    fn verdict(self) -> Result<(), String> {
        let context = self.context;
        match (self.quiver, self.datafusion) {
            (Ok(quiver), Ok(batches)) => {
                if quiver.names != self.expected_names {
                    return Err(format!(
                        "Quiver's columns are {:?}, Django's {:?}\n{context}",
                        quiver.names, self.expected_names
                    ));
                }
                if let Some(batch) = batches.first() {
                    let names: Vec<String> = batch
                        .schema()
                        .fields()
                        .iter()
                        .map(|f| f.name().clone())
                        .collect();
                    if names != quiver.names {
                        return Err(format!(
                            "DataFusion returns columns {names:?}, Quiver {:?}\n{context}",
                            quiver.names
                        ));
                    }
                }
                let mut rows = canonical_rows(&batches);
                align_decimal_averages(&quiver.rows, &mut rows, &self.decimal_average_columns);
                let compared = if self.ordered {
                    compare_ordered(&quiver.rows, &rows)
                } else {
                    compare_multiset(&quiver.rows, &rows)
                };
                compared.map_err(|diff| {
                    format!(
                        "results differ (left: Quiver, right: DataFusion; {}): {diff}\n{context}",
                        if self.ordered {
                            "in order"
                        } else {
                            "as multisets"
                        },
                    )
                })
            }
            (Err(error), Err(_)) if self.may_fail && is_data_error(&error) => Ok(()),
            (Err(error), Ok(_)) if self.may_fail && is_data_error(&error) => Ok(()),
            (Ok(_), Err(error)) if self.may_fail && is_datafusion_data_error(&error) => Ok(()),
            (Ok(_), Err(error)) if is_datafusion_internal_error(&error) => Ok(()),
            (Err(error), Ok(_)) => Err(format!(
                "Quiver failed, DataFusion did not: {error:?}\n{context}"
            )),
            (Ok(_), Err(error)) => Err(format!(
                "DataFusion failed, Quiver did not: {error}\n{context}"
            )),
            (Err(quiver), Err(datafusion)) => Err(format!(
                "both failed: Quiver {quiver:?}; DataFusion {datafusion}\n{context}"
            )),
        }
    }
}

/// Runs `spec` over `dataset` in both engines and compares.
pub fn check(dataset: &Dataset, spec: &QuerySetSpec) -> Result<(), String> {
    let loaded = dataset.load()?;
    let quiver = run_quiver(spec, &loaded);
    let context = |sql: &str| format!("QuerySet: {spec}\nSQL: {sql}\n{dataset:?}");
    let query = match datafusion_query(spec, &loaded) {
        Ok(query) => query,
        // A QuerySet that fails to compile fails to render too; the error is the finding.
        Err(error) => {
            return Err(format!(
                "sql() failed: {error} (evaluation: {:?})\n{}",
                quiver.as_ref().map(|_| "ok"),
                context("-")
            ))
        }
    };
    let sql = if query.over_rows.is_empty() {
        query.sql.clone()
    } else {
        let columns: Vec<&str> = query
            .over_rows
            .iter()
            .map(|(_, sql)| sql.as_str())
            .collect();
        format!(
            "{}\nthen, over its rows as \"inputs\": {}",
            query.sql,
            columns.join("; ")
        )
    };
    Judging {
        context: context(&sql),
        expected_names: expected_names(spec),
        ordered: spec.total_order && matches!(spec.shape, Shape::Rows { .. } | Shape::Group { .. }),
        may_fail: spec.may_fail(),
        decimal_average_columns: decimal_average_columns(spec),
        datafusion: run_datafusion(&query, spec, &loaded),
        quiver,
    }
    .verdict()
}

/// Runs an `Owner` QuerySet over `dataset` in both engines and compares (in order: it is
/// ordered by a unique key).
pub fn check_owners(dataset: &Dataset, spec: &OwnerSpec) -> Result<(), String> {
    let loaded = dataset.load()?;
    let qs = spec.build(&loaded.db);
    let quiver = qs
        .fetch()
        .map(|rows| Table::from_batches(rows.columns().to_vec(), rows.batches()));
    let context = |sql: &str| format!("QuerySet: {spec}\nSQL: {sql}\n{dataset:?}");
    let sql = qs.sql().map_err(|error| {
        format!(
            "sql() failed: {error} (evaluation: {:?})\n{}",
            quiver.as_ref().map(|_| "ok"),
            context("-")
        )
    })?;
    let decimal_average_columns = spec
        .aggregates
        .iter()
        .enumerate()
        .filter(|(_, aggregate)| aggregate.is_decimal_average())
        .map(|(index, _)| index + 1)
        .collect();
    Judging {
        context: context(&sql),
        expected_names: spec.expected_names(),
        ordered: true,
        may_fail: false,
        decimal_average_columns,
        datafusion: run_sql(&loaded.datafusion_tables(), &sql),
        quiver,
    }
    .verdict()
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

    /// Aggregates across the reverse relation agree with DataFusion.
    #[test]
    fn owner_aggregates_agree_with_datafusion(
        dataset in tables::dataset(Floats::DataFusionSafe),
        spec in owners::owner_queryset(),
    ) {
        check_owners(&dataset, &spec).map_err(TestCaseError::fail)?;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::record_batch::RecordBatch;

    use super::Dataset;
    use crate::datafusion_oracle::{canonical_rows, run_sql, CanonValue};

    /// DataFusion 55 loses the order an `OFFSET` depends on when the sorted subquery joins
    /// and feeds an aggregate; `run_datafusion` aggregates materialized rows because of it.
    /// When this starts failing, DataFusion is fixed and the workaround can go.
    #[test]
    fn datafusion_drops_the_order_of_an_offset_under_an_aggregate() {
        let item = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("owner_id", DataType::Int64, true),
        ]));
        let owner = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("region", DataType::Utf8, true),
        ]));
        let items = RecordBatch::try_new(
            Arc::clone(&item),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5])),
                Arc::new(Int64Array::from(vec![None::<i64>; 5])),
            ],
        )
        .expect("valid batch");
        let owners = RecordBatch::new_empty(Arc::clone(&owner));
        let tables = [("item", item, vec![items]), ("owner", owner, vec![owners])];
        let sliced = "SELECT item.id AS h FROM item LEFT JOIN owner ON item.owner_id = owner.id \
                      ORDER BY owner.region DESC NULLS LAST, item.id DESC OFFSET 4";
        let max = |sql: &str| {
            let batches = run_sql(&tables, sql).unwrap_or_else(|error| panic!("{sql}: {error}"));
            canonical_rows(&batches)[0][0].clone()
        };
        // The slice is the row with id 1 ...
        let rows = run_sql(&tables, sliced).expect("query runs");
        let rows = canonical_rows(&rows);
        assert!(matches!(rows.as_slice(), [row] if matches!(row[0], CanonValue::Int(1))));
        // ... yet its maximum comes out as 5, the first row before the offset.
        let max = max(&format!("SELECT MAX(h) FROM ({sliced}) s"));
        assert!(matches!(max, CanonValue::Int(5)), "{max}");
    }

    /// DataFusion 55's grouped MIN/MAX over floats keep the first of NaN and a number they
    /// meet (PostgreSQL: NaN is above every number), so the generator gives MIN/MAX no float
    /// arguments. When this starts failing, DataFusion is fixed.
    #[test]
    fn datafusion_grouped_max_ignores_a_leading_nan() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("v", DataType::Float64, false),
        ]));
        let batch = |values: Vec<f64>| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(Int64Array::from(vec![1; values.len()])),
                    Arc::new(Float64Array::from(values)),
                ],
            )
            .expect("valid batch")
        };
        let max = |values: Vec<f64>| {
            let tables = [("t", Arc::clone(&schema), vec![batch(values)])];
            let sql = "SELECT MAX(v) FROM t GROUP BY k";
            let batches = run_sql(&tables, sql).expect("query runs");
            canonical_rows(&batches)[0][0].clone()
        };
        assert!(matches!(max(vec![0.0, f64::NAN]), CanonValue::Float(v) if v.is_nan()));
        let leading_nan = max(vec![f64::NAN, 0.0]);
        assert!(
            matches!(leading_nan, CanonValue::Float(v) if v == 0.0),
            "{leading_nan}"
        );
    }

    /// DataFusion 55 cannot compare a decimal SUM with a decimal literal in HAVING when the
    /// query also has a DISTINCT aggregate (the generator then filters no decimal
    /// aggregate). When this starts failing, DataFusion is fixed.
    #[test]
    fn datafusion_fails_decimal_having_beside_a_distinct_aggregate() {
        let sql = "SELECT SUM(DISTINCT a) AS x, SUM(a) AS s \
                   FROM (VALUES (CAST(1 AS DECIMAL(10, 2)))) t(a) \
                   HAVING SUM(a) >= CAST('17.50' AS DECIMAL(4, 2))";
        let error = run_sql(&[], sql).expect_err("DataFusion refuses it");
        assert!(error.contains("Invalid comparison operation"), "{error}");
        let without_distinct = sql.replace("SUM(DISTINCT a)", "SUM(a)");
        assert!(run_sql(&[], &without_distinct).is_ok());
    }

    /// DataFusion 55 fails on `COALESCE(SUM(decimal), …)` beside a `SUM(DISTINCT …)` over an
    /// empty table, so `run_datafusion` computes each `aggregate()` column in its own query.
    /// When this starts failing, DataFusion is fixed.
    #[test]
    fn datafusion_fails_a_decimal_coalesce_beside_a_distinct_sum() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "a",
            DataType::Decimal128(10, 2),
            true,
        )]));
        let tables = [("inputs", schema, Vec::new())];
        let coalesce = "COALESCE(SUM(a), CAST('19.25' AS DECIMAL(10, 2)))";
        let error = run_sql(
            &tables,
            &format!("SELECT {coalesce} AS s, SUM(DISTINCT a) AS d FROM inputs"),
        )
        .expect_err("DataFusion fails");
        assert!(
            error.contains("column types must match schema types"),
            "{error}"
        );
        let alone = run_sql(&tables, &format!("SELECT {coalesce} AS s FROM inputs"))
            .expect("alone it runs");
        assert!(matches!(
            canonical_rows(&alone).as_slice(),
            [row] if matches!(row[0], CanonValue::Decimal(1925, 2))
        ));
    }

    /// DataFusion 55's ProjectionPushdown fails an internal assertion on this SQL of Quiver's
    /// (a CASE over both sides of a LEFT JOIN, ordered by a column not selected), so a
    /// DataFusion internal error leaves a case undecided. When this starts failing,
    /// DataFusion is fixed and `is_datafusion_internal_error` can go.
    #[test]
    fn datafusion_fails_internally_on_a_projection_through_a_left_join() {
        let dataset = Dataset {
            owners: Vec::new(),
            items: Vec::new(),
            item_cuts: Vec::new(),
        };
        let loaded = dataset.load().expect("empty tables load");
        let sql = r#"SELECT "item"."id" AS "h_a0", CASE WHEN (("owner"."score" < "item"."id") OR ("item"."price" = "item"."price")) THEN TRUE ELSE FALSE END AS "h_f0", "item"."qty" AS "h_a1" FROM "item" AS "item" LEFT JOIN "owner" AS "owner" ON ("item"."owner_id" = "owner"."id") WHERE ((((NOT ("item"."amount" IS NULL)) AND (NOT ((("item"."flag" = TRUE) AND ("item"."flag" IS NOT NULL)) OR ("item"."category" >= 'B')))) AND ("item"."id" = 0)) AND (NOT ("owner"."name" IS NOT NULL))) ORDER BY "item"."name" ASC NULLS LAST, "item"."id" ASC NULLS LAST"#;
        let error = run_sql(&loaded.datafusion_tables(), sql).expect_err("DataFusion fails");
        assert!(super::is_datafusion_internal_error(&error), "{error}");
    }
}
