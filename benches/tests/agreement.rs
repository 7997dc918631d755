//! Every H2O question gives DataFusion's answer: the QuerySets of `quiver_benches::questions`
//! against the SQL of `h2o.md`, on the same generated batches at a small scale (the criterion
//! suites only compare row counts, at full size).
//!
//! Results are compared as sorted rows with column names ignored (the QuerySets prefix
//! annotation names Django would refuse, such as `v1`); floats within 1e-9 relative, since
//! the engines add in different orders.

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow::util::display::array_value_to_string;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig as DataFusionConfig, SessionContext};
use quiver::prelude::SessionConfig;
use quiver::QuerySet;
use quiver_benches::questions::{
    groupby_database, groupby_queryset, join_database, join_queryset, GROUPBY_QUESTIONS,
    JOIN_QUESTIONS,
};
use quiver_benches::{groupby_batches, join_tables};

/// A result cell: floats compared with a tolerance, everything else as text.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Float(f64),
    Text(String),
}

fn cells(batches: &[RecordBatch]) -> Vec<Vec<Cell>> {
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            let mut cells = Vec::new();
            for column in batch.columns() {
                cells.push(if column.is_null(row) {
                    Cell::Text("NULL".into())
                } else if column.data_type() == &DataType::Float64 {
                    Cell::Float(column.as_primitive::<Float64Type>().value(row))
                } else {
                    Cell::Text(array_value_to_string(column, row).unwrap_or_else(|e| panic!("{e}")))
                });
            }
            rows.push(cells);
        }
    }
    // Keys first (text), then values: a total order on the rows of both engines.
    rows.sort_by(|a, b| {
        let text = |r: &Vec<Cell>| -> Vec<String> {
            r.iter()
                .filter_map(|c| match c {
                    Cell::Text(t) => Some(t.clone()),
                    Cell::Float(_) => None,
                })
                .collect()
        };
        let floats = |r: &Vec<Cell>| -> Vec<f64> {
            r.iter()
                .filter_map(|c| match c {
                    Cell::Float(f) => Some(*f),
                    Cell::Text(_) => None,
                })
                .collect()
        };
        text(a).cmp(&text(b)).then_with(|| {
            floats(a)
                .iter()
                .zip(floats(b).iter())
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    rows
}

fn same(a: &Cell, b: &Cell) -> bool {
    match (a, b) {
        (Cell::Float(x), Cell::Float(y)) => {
            x == y || (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs()))
        }
        _ => a == b,
    }
}

fn compare(question: &str, ours: &[RecordBatch], theirs: &[RecordBatch]) {
    let (ours, theirs) = (cells(ours), cells(theirs));
    assert_eq!(ours.len(), theirs.len(), "{question}: row counts differ");
    assert!(!ours.is_empty(), "{question}: no rows to compare");
    for (a, b) in ours.iter().zip(&theirs) {
        let equal = a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y));
        assert!(equal, "{question}: {a:?} vs {b:?}");
    }
}

fn datafusion(tables: &[(&str, SchemaRef, Vec<RecordBatch>)], sql: &str) -> Vec<RecordBatch> {
    let ctx = SessionContext::new_with_config(DataFusionConfig::new().with_target_partitions(2));
    for (name, schema, batches) in tables {
        let table = MemTable::try_new(Arc::clone(schema), vec![batches.clone()])
            .unwrap_or_else(|e| panic!("{e}"));
        ctx.register_table(*name, Arc::new(table))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    runtime
        .block_on(async { ctx.sql(sql).await?.collect().await })
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn quiver(question: &str, queryset: Option<QuerySet>) -> Vec<RecordBatch> {
    queryset
        .unwrap_or_else(|| panic!("{question} is not a question"))
        .to_batches()
        .unwrap_or_else(|e| panic!("{question}: {e}"))
}

#[test]
fn groupby_questions_agree_with_datafusion() {
    let (schema, batches) = groupby_batches(20_000, 100, 0, 7);
    let db = groupby_database(&batches, SessionConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let tables = [("x", schema, batches)];
    for (question, sql) in GROUPBY_QUESTIONS {
        let ours = quiver(question, groupby_queryset(&db, question));
        compare(question, &ours, &datafusion(&tables, sql));
    }
}

#[test]
fn join_questions_agree_with_datafusion() {
    let generated = join_tables(20_000, 7);
    let db = join_database(&generated, SessionConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let table = |name, t: &quiver_benches::Table| (name, Arc::clone(&t.schema), t.batches.clone());
    let tables = [
        table("x", &generated.x),
        table("small", &generated.small),
        table("medium", &generated.medium),
        table("big", &generated.big),
    ];
    for (question, sql) in JOIN_QUESTIONS {
        let ours = quiver(question, join_queryset(&db, question));
        compare(question, &ours, &datafusion(&tables, sql));
    }
}

/// q10's keys are nearly unique: with two partitions of more than 100 000 rows each, every
/// aggregate thread routes most of its rows by key hash to the merge instead of building a
/// local table (`HashAggregateExec`), a path the small scale above never takes.
#[test]
fn nearly_unique_groups_agree_with_datafusion() {
    let (schema, batches) = groupby_batches(240_000, 100, 0, 11);
    let mut config = SessionConfig::default().with_target_partitions(2);
    config.parallel_threshold_rows = 0;
    let db = groupby_database(&batches, config).unwrap_or_else(|e| panic!("{e}"));
    let tables = [("x", schema, batches)];
    for (question, sql) in GROUPBY_QUESTIONS {
        if question == "q10" {
            let ours = quiver(question, groupby_queryset(&db, question));
            compare(question, &ours, &datafusion(&tables, sql));
        }
    }
}
