//! The 22 TPC-H queries, DataFusion as the peer engine. The data, the models, the QuerySets
//! and the SQL live in `quiver_benches::tpch` (shared with `benches/tests/tpch.rs`, which
//! checks every answer against DataFusion's at scale factor 0.01).
//!
//! The tables are generated once (`tpchgen-arrow`) and the same batches go to Quiver
//! (`Database::load_batches`) and to DataFusion (a `MemTable` per table, its batches dealt
//! into one partition per core, `target_partitions` = cores). Loading is not timed; each
//! iteration covers what a user pays per query: building and compiling the QuerySet (or
//! planning the SQL text), executing it and materialising the whole result.
//!
//! Scale factor 1 by default; `QUIVER_TPCH_SF=0.1` (any positive number) to change it.
//! Run with `cargo bench -p quiver-benches --bench tpch [-- --quick] [-- q9]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use criterion::{criterion_group, criterion_main, Criterion};
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::prelude::{SessionConfig, SessionContext};
use quiver::prelude::{Database, SessionConfig as QuiverConfig};
use quiver_benches::tpch::{generate, load_quiver, queries, TpchData, TpchQuery};
use tokio::runtime::Runtime;

const DEFAULT_SCALE_FACTOR: f64 = 1.0;

fn scale_factor_from_env() -> f64 {
    match std::env::var("QUIVER_TPCH_SF") {
        Ok(text) => match text.trim().parse::<f64>() {
            Ok(scale) if scale.is_finite() && scale > 0.0 => scale,
            _ => panic!("QUIVER_TPCH_SF={text:?} is not a positive scale factor (e.g. 1, 0.1)"),
        },
        Err(_) => DEFAULT_SCALE_FACTOR,
    }
}

/// A DataFusion session over the eight tables, each table's batches dealt round-robin into
/// one partition per core so every core scans.
fn datafusion_context(data: &TpchData, partitions: usize) -> Result<SessionContext> {
    let config = SessionConfig::new().with_target_partitions(partitions);
    let ctx = SessionContext::new_with_config(config);
    for (name, table) in data.tables() {
        let mut split = vec![Vec::new(); partitions];
        for (index, batch) in table.batches.iter().enumerate() {
            split[index % partitions].push(batch.clone());
        }
        let table = MemTable::try_new(Arc::clone(&table.schema), split)?;
        ctx.register_table(name, Arc::new(table))?;
    }
    Ok(ctx)
}

async fn run_datafusion(ctx: &SessionContext, sql: &str) -> Result<usize> {
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok(batches.iter().map(RecordBatch::num_rows).sum())
}

/// Runs `query` on Quiver once; the QuerySet is built inside, since compiling it is part
/// of what a user pays. Returns the number of result rows.
fn run_quiver(db: &Database, query: &TpchQuery) -> quiver::Result<usize> {
    let batches = (query.queryset)(db)?.to_batches()?;
    Ok(batches.iter().map(RecordBatch::num_rows).sum())
}

fn tpch(c: &mut Criterion) {
    let scale_factor = scale_factor_from_env();
    let started = Instant::now();
    let data = generate(scale_factor);
    eprintln!(
        "tpch: generated SF {scale_factor}, {} rows, in {:.2?}",
        data.num_rows(),
        started.elapsed()
    );
    let partitions = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = Runtime::new().expect("tokio runtime starts");
    let ctx = datafusion_context(&data, partitions).expect("MemTables over the TPC-H tables");
    let started = Instant::now();
    let db = load_quiver(&data, QuiverConfig::default()).expect("Quiver loads the TPC-H tables");
    eprintln!("tpch: loaded into Quiver in {:.2?}", started.elapsed());

    for query in queries() {
        let label = query.label();
        let datafusion = || runtime.block_on(run_datafusion(&ctx, query.sql));
        let datafusion_rows = datafusion().unwrap_or_else(|e| panic!("{label}: {e}"));
        let quiver_rows = run_quiver(&db, &query).unwrap_or_else(|e| panic!("{label}: {e}"));
        // The agreement test compares the values; here the row counts catch a query that
        // went wrong at this scale.
        assert_eq!(quiver_rows, datafusion_rows, "{label}: result rows differ");
        eprintln!(
            "tpch/{label} ({}): {datafusion_rows} result rows",
            query.name
        );

        let mut group = c.benchmark_group(format!("tpch/{label}"));
        group.bench_function("datafusion", |b| {
            b.iter(|| datafusion().unwrap_or_else(|e| panic!("{label}: {e}")))
        });
        group.bench_function("quiver", |b| {
            b.iter(|| run_quiver(&db, &query).unwrap_or_else(|e| panic!("{label}: {e}")))
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    // Whole queries over millions of rows: few, long samples.
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = tpch
}
criterion_main!(benches);
