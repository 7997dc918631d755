//! H2O db-benchmark group-by questions q1–q10 and join questions j1–j5, DataFusion as the
//! peer engine. The QuerySets and the SQL live in `quiver_benches::questions` (shared with
//! the agreement tests in `benches/tests/agreement.rs`, which check every answer against
//! DataFusion's at a small scale).
//!
//! Quiver's figures are only meaningful as ratios to a peer measured in the same run on the same
//! batches, so this file generates table `x` once (`quiver_benches::groupby_batches`, K = 100, no
//! NULLs, unsorted) and times each question on DataFusion (SQL) and on Quiver (a QuerySet). As in the published benchmark, loading is not timed; each iteration covers
//! planning, execution and materialising the whole result.
//!
//! Rows: 1e6 by default; `QUIVER_H2O_ROWS=1e7` (or `10000000`) for the headline size.
//! `QUIVER_H2O_QUESTIONS=j1,q10` runs only those questions, and skips generating and loading
//! the tables of a suite none of them belongs to (at 1e7 that load is most of a short run).
//! Run with `cargo bench -p quiver-benches --bench h2o [-- --quick]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::prelude::{SessionConfig, SessionContext};
use quiver::prelude::{Database, SessionConfig as QuiverConfig};
use quiver_benches::questions::{
    groupby_database, groupby_queryset, join_database, join_queryset, GROUPBY_QUESTIONS,
    JOIN_QUESTIONS,
};
use tokio::runtime::Runtime;

const DEFAULT_ROWS: usize = 1_000_000;
const GROUPS: usize = 100;
const SEED: u64 = 20_240_601;

/// A prepared query: each call runs it once and returns the number of result rows.
type PreparedQuery = Box<dyn FnMut() -> usize>;

fn quiver_query(db: &Database, question: &str) -> PreparedQuery {
    let db = db.clone();
    let question = question.to_string();
    Box::new(move || {
        // Built inside the timed closure: compiling the QuerySet is part of what a user pays.
        let batches = groupby_queryset(&db, &question)
            .unwrap_or_else(|| panic!("{question} is not a question"))
            .to_batches()
            .unwrap_or_else(|e| panic!("{question}: {e}"));
        batches.iter().map(RecordBatch::num_rows).sum()
    })
}

/// Whether `question` is selected by `QUIVER_H2O_QUESTIONS` (every question when unset).
fn selected(question: &str) -> bool {
    match std::env::var("QUIVER_H2O_QUESTIONS") {
        Ok(list) => list.split(',').any(|q| q.trim() == question),
        Err(_) => true,
    }
}

fn rows_from_env() -> usize {
    match std::env::var("QUIVER_H2O_ROWS") {
        Ok(text) => quiver_benches::parse_row_count(&text).unwrap_or_else(|| {
            panic!("QUIVER_H2O_ROWS={text:?} is not a row count (examples: 1e7, 10000000)")
        }),
        Err(_) => DEFAULT_ROWS,
    }
}

/// A DataFusion session over `tables`, each table's batches dealt round-robin into one
/// partition per core so every core scans.
fn datafusion_context(
    tables: &[(&str, &SchemaRef, &[RecordBatch])],
    partitions: usize,
) -> Result<SessionContext> {
    let config = SessionConfig::new().with_target_partitions(partitions);
    let ctx = SessionContext::new_with_config(config);
    for (name, schema, batches) in tables {
        let mut split = vec![Vec::new(); partitions];
        for (index, batch) in batches.iter().enumerate() {
            split[index % partitions].push(batch.clone());
        }
        let table = MemTable::try_new(Arc::clone(schema), split)?;
        ctx.register_table(*name, Arc::new(table))?;
    }
    Ok(ctx)
}

async fn run_datafusion(ctx: &SessionContext, sql: &str) -> Result<usize> {
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok(batches.iter().map(RecordBatch::num_rows).sum())
}

fn h2o_groupby(c: &mut Criterion) {
    if !GROUPBY_QUESTIONS
        .iter()
        .any(|(question, _)| selected(question))
    {
        return;
    }
    let rows = rows_from_env();
    let started = Instant::now();
    let (schema, batches) = quiver_benches::groupby_batches(rows, GROUPS, 0, SEED);
    eprintln!(
        "h2o: generated x, {rows} rows in {} batches, in {:.2?}",
        batches.len(),
        started.elapsed()
    );

    let partitions = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = Runtime::new().expect("tokio runtime starts");
    let ctx = datafusion_context(&[("x", &schema, batches.as_slice())], partitions)
        .expect("MemTable over x");
    let db = groupby_database(&batches, QuiverConfig::default()).expect("Quiver loads x");

    for (question, sql) in GROUPBY_QUESTIONS {
        if !selected(question) {
            continue;
        }
        let run = || runtime.block_on(run_datafusion(&ctx, sql));
        let datafusion_rows = run().unwrap_or_else(|error| panic!("{question}: {error}"));
        let mut quiver = quiver_query(&db, question);
        let quiver_rows = quiver();
        assert_eq!(
            quiver_rows, datafusion_rows,
            "{question}: result rows differ"
        );
        eprintln!("h2o/{question}: {datafusion_rows} result rows");

        let mut group = c.benchmark_group(format!("h2o/{question}"));
        group.throughput(Throughput::Elements(rows as u64));
        group.bench_function("datafusion", |b| {
            b.iter(|| run().unwrap_or_else(|error| panic!("{question}: {error}")))
        });
        group.bench_function("quiver", |b| b.iter(&mut quiver));
        group.finish();
    }
}

fn h2o_join(c: &mut Criterion) {
    if !JOIN_QUESTIONS
        .iter()
        .any(|(question, _)| selected(question))
    {
        return;
    }
    let rows = rows_from_env();
    let started = Instant::now();
    let tables = quiver_benches::join_tables(rows, SEED);
    eprintln!(
        "h2o: generated the join tables, {rows} rows in x, in {:.2?}",
        started.elapsed()
    );
    let partitions = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = Runtime::new().expect("tokio runtime starts");
    let ctx = datafusion_context(
        &[
            ("x", &tables.x.schema, tables.x.batches.as_slice()),
            (
                "small",
                &tables.small.schema,
                tables.small.batches.as_slice(),
            ),
            (
                "medium",
                &tables.medium.schema,
                tables.medium.batches.as_slice(),
            ),
            ("big", &tables.big.schema, tables.big.batches.as_slice()),
        ],
        partitions,
    )
    .expect("MemTables over the join tables");
    let db = join_database(&tables, QuiverConfig::default()).expect("Quiver loads the join tables");

    for (question, sql) in JOIN_QUESTIONS {
        if !selected(question) {
            continue;
        }
        let run = || runtime.block_on(run_datafusion(&ctx, sql));
        let datafusion_rows = run().unwrap_or_else(|error| panic!("{question}: {error}"));
        let db = db.clone();
        let mut quiver = move || -> usize {
            let batches = join_queryset(&db, question)
                .unwrap_or_else(|| panic!("{question} is not a question"))
                .to_batches()
                .unwrap_or_else(|e| panic!("{question}: {e}"));
            batches.iter().map(RecordBatch::num_rows).sum()
        };
        assert_eq!(quiver(), datafusion_rows, "{question}: result rows differ");
        eprintln!("h2o/{question}: {datafusion_rows} result rows");

        let mut group = c.benchmark_group(format!("h2o/{question}"));
        group.throughput(Throughput::Elements(rows as u64));
        group.bench_function("datafusion", |b| {
            b.iter(|| run().unwrap_or_else(|error| panic!("{question}: {error}")))
        });
        group.bench_function("quiver", |b| b.iter(&mut quiver));
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
}

criterion_group! {
    name = benches;
    config = config();
    targets = h2o_groupby, h2o_join
}
criterion_main!(benches);
