//! The fixed cost of a small QuerySet: compile, optimize and execute a filter, a
//! `values().annotate(Count)`, an `order_by()[:3]` and a `get(pk=)` on a 10-row table
//! (`quiver_benches::tiny`), with DataFusion planning and running the same SQL over a
//! `MemTable` for scale. The target is under 50 µs per Quiver query.
//!
//! Run with `cargo bench -p quiver-benches --bench tiny [-- --quick]`; `quiver bench tiny`
//! prints the same medians as a table.

use std::sync::Arc;
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use criterion::{criterion_group, criterion_main, Criterion};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use quiver::prelude::SessionConfig as QuiverConfig;
use quiver_benches::tiny::{run_tiny_query, tiny_batches, tiny_database, TINY_QUERIES};
use tokio::runtime::Runtime;

fn tiny(c: &mut Criterion) {
    let (schema, batches) = tiny_batches().expect("the item table builds");
    let db = tiny_database(&batches, QuiverConfig::default()).expect("Quiver loads item");
    let partitions = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ctx =
        SessionContext::new_with_config(SessionConfig::new().with_target_partitions(partitions));
    let table = MemTable::try_new(schema, vec![batches]).expect("MemTable over item");
    ctx.register_table("item", Arc::new(table))
        .expect("registers item");
    let runtime = Runtime::new().expect("tokio runtime starts");

    for (name, _, sql) in TINY_QUERIES {
        let quiver = || -> usize {
            run_tiny_query(&db, name)
                .unwrap_or_else(|| panic!("{name} is a tiny query"))
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let datafusion = || -> usize {
            runtime.block_on(async {
                let frame = ctx.sql(sql).await.unwrap_or_else(|e| panic!("{name}: {e}"));
                let batches = frame
                    .collect()
                    .await
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                batches.iter().map(RecordBatch::num_rows).sum()
            })
        };
        assert_eq!(quiver(), datafusion(), "{name}: result rows differ");
        let mut group = c.benchmark_group(format!("tiny/{name}"));
        group.bench_function("quiver", |b| b.iter(quiver));
        group.bench_function("datafusion", |b| b.iter(datafusion));
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = tiny
}
criterion_main!(benches);
