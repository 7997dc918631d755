//! Leaderboard queries (`quiver_benches::leaderboard`, from `orm-frontend/examples/leaderboard.rs`)
//! against DataFusion SQL on the same batches: global top 100, top 10 per country (a `row_number()` window filtered to
//! `<= 10`), and the players ranked within 5 of one player (a `rank()` window filtered to a
//! range).
//!
//! Players: 1e6 by default (`QUIVER_PLAYERS=1e5` for a quicker run), 50 countries, scores in
//! 0..1,000,000. Loading is not timed; each iteration covers planning, execution and the
//! whole result. Run with `cargo bench -p quiver-benches --bench leaderboard [-- --quick]`.

use std::sync::Arc;
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use quiver::prelude::SessionConfig as QuiverConfig;
use quiver_benches::leaderboard::{leaderboard_database, leaderboard_queries, players};
use tokio::runtime::Runtime;

fn leaderboard(c: &mut Criterion) {
    let rows = std::env::var("QUIVER_PLAYERS")
        .ok()
        .and_then(|text| quiver_benches::parse_row_count(&text))
        .unwrap_or(1_000_000);
    let (schema, batches) = players(rows).expect("the players generate");
    let partitions = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ctx =
        SessionContext::new_with_config(SessionConfig::new().with_target_partitions(partitions));
    let mut split = vec![Vec::new(); partitions];
    for (index, batch) in batches.iter().enumerate() {
        split[index % partitions].push(batch.clone());
    }
    let table = MemTable::try_new(schema, split).expect("MemTable over players");
    ctx.register_table("player", Arc::new(table))
        .expect("registers");
    let runtime = Runtime::new().expect("tokio runtime starts");
    let db =
        leaderboard_database(&batches, QuiverConfig::default()).expect("Quiver loads the players");
    for (name, sql, qs) in leaderboard_queries(&db) {
        let datafusion = || -> usize {
            runtime.block_on(async {
                let frame = ctx
                    .sql(&sql)
                    .await
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                let batches = frame
                    .collect()
                    .await
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                batches.iter().map(RecordBatch::num_rows).sum()
            })
        };
        let quiver = || -> usize {
            let batches = qs.to_batches().unwrap_or_else(|e| panic!("{name}: {e}"));
            batches.iter().map(RecordBatch::num_rows).sum()
        };
        assert_eq!(quiver(), datafusion(), "{name}: result rows differ");
        let mut group = c.benchmark_group(format!("leaderboard/{name}"));
        group.throughput(Throughput::Elements(rows as u64));
        group.bench_function("datafusion", |b| b.iter(datafusion));
        group.bench_function("quiver", |b| b.iter(quiver));
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
    targets = leaderboard
}
criterion_main!(benches);
