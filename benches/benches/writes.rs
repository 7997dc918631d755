//! Writes and indexes: point lookups (by primary key and by an indexed field), a range with
//! `order_by(..)[:10]` on an ordered index, a top-k after an equality prefix of a composite
//! index (`Index(fields=["v", "-id"])`), `update()` of one row and of 1% of the rows, and
//! `bulk_create` from Arrow batches, each next to the closest DataFusion equivalent on the
//! same batches. The one-row update shows index maintenance per chunk: its cost does not grow
//! with the table.
//!
//! DataFusion's `MemTable` has no index and no in-place UPDATE, so its figures are a filtered
//! scan, a filtered top-k, a `SELECT` that computes the updated table, and registering the
//! batches as a table. The comparison says what an index and a row-level write buy over the
//! best a scan-only engine can do; it is not like for like.
//!
//! Rows: 1e6 by default; `QUIVER_WRITES_ROWS=1e7` for the headline size.
//! Run with `cargo bench -p quiver-benches --bench writes [-- --quick]`.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use quiver::prelude::{q, BigIntegerField, BulkCreateOptions, Database, Model, F};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::runtime::Runtime;

const DEFAULT_ROWS: usize = 1_000_000;
const BATCH_ROWS: usize = 65_536;
const SEED: u64 = 20_251_125;

fn rows_from_env() -> usize {
    match std::env::var("QUIVER_WRITES_ROWS") {
        Ok(text) => quiver_benches::parse_row_count(&text).unwrap_or_else(|| {
            panic!("QUIVER_WRITES_ROWS={text:?} is not a row count (examples: 1e7, 10000000)")
        }),
        Err(_) => DEFAULT_ROWS,
    }
}

/// `t(id, k, v)`: `id` 1..=rows, `k` a random key in 0..rows (indexed), `v` a random value.
fn table_batches(rows: usize) -> (SchemaRef, Vec<RecordBatch>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("k", DataType::Int64, false),
        Field::new("v", DataType::Int64, false),
    ]));
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut batches = Vec::new();
    let mut start = 0;
    while start < rows {
        let len = BATCH_ROWS.min(rows - start);
        let ids: Int64Array = (start as i64 + 1..=(start + len) as i64).collect();
        let keys: Int64Array = (0..len).map(|_| rng.random_range(0..rows as i64)).collect();
        let values: Int64Array = (0..len).map(|_| rng.random_range(0..1_000i64)).collect();
        batches.push(
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![Arc::new(ids), Arc::new(keys), Arc::new(values)],
            )
            .expect("batch matches schema"),
        );
        start += len;
    }
    (schema, batches)
}

fn model() -> Model {
    Model::new("T")
        .field("id", BigIntegerField::new().primary_key())
        .field("k", BigIntegerField::new().db_index())
        .field("v", BigIntegerField::new())
        .index(["v", "-id"])
}

fn quiver_database(batches: &[RecordBatch]) -> Database {
    let db = Database::new();
    db.register(model()).expect("model registers");
    db.load_batches("T", batches.to_vec()).expect("rows load");
    db
}

fn partitions() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A MemTable over `batches`, spread round-robin over one partition per core.
fn memtable(schema: &SchemaRef, batches: &[RecordBatch]) -> MemTable {
    let count = partitions();
    let mut split = vec![Vec::new(); count];
    for (index, batch) in batches.iter().enumerate() {
        split[index % count].push(batch.clone());
    }
    MemTable::try_new(Arc::clone(schema), split).expect("MemTable over the batches")
}

fn datafusion_session() -> SessionContext {
    SessionContext::new_with_config(SessionConfig::new().with_target_partitions(partitions()))
}

fn datafusion_context(schema: &SchemaRef, batches: &[RecordBatch]) -> SessionContext {
    let ctx = datafusion_session();
    ctx.register_table("t", Arc::new(memtable(schema, batches)))
        .expect("t registers");
    ctx
}

fn datafusion_rows(runtime: &Runtime, ctx: &SessionContext, sql: &str) -> usize {
    runtime.block_on(async {
        let batches = ctx
            .sql(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        batches.iter().map(RecordBatch::num_rows).sum()
    })
}

fn writes(c: &mut Criterion) {
    let rows = rows_from_env();
    let (schema, batches) = table_batches(rows);
    let runtime = Runtime::new().expect("tokio runtime starts");
    let ctx = datafusion_context(&schema, &batches);
    let db = quiver_database(&batches);
    let target = (rows / 2) as i64;
    let one_percent = (rows / 100) as i64;

    // Point lookup by primary key.
    let mut group = c.benchmark_group("writes/point_pk");
    let sql = format!("SELECT * FROM t WHERE id = {target}");
    assert_eq!(datafusion_rows(&runtime, &ctx, &sql), 1);
    group.bench_function("datafusion", |b| {
        b.iter(|| datafusion_rows(&runtime, &ctx, &sql))
    });
    group.bench_function("quiver", |b| {
        b.iter(|| {
            db.objects("T")
                .filter(q!(id = target))
                .fetch()
                .map(|r| r.len())
        })
    });
    group.finish();

    // Point lookup by an indexed field.
    let mut group = c.benchmark_group("writes/point_indexed");
    let sql = format!("SELECT * FROM t WHERE k = {target}");
    let expected = datafusion_rows(&runtime, &ctx, &sql);
    let got = db
        .objects("T")
        .filter(q!(k = target))
        .count()
        .expect("count runs");
    assert_eq!(got, expected, "k = {target}");
    group.bench_function("datafusion", |b| {
        b.iter(|| datafusion_rows(&runtime, &ctx, &sql))
    });
    group.bench_function("quiver", |b| {
        b.iter(|| {
            db.objects("T")
                .filter(q!(k = target))
                .fetch()
                .map(|r| r.len())
        })
    });
    group.finish();

    // A range, ordered by the indexed field, first 10 rows.
    let mut group = c.benchmark_group("writes/range_order_limit");
    let (low, high) = (target, target + one_percent);
    let sql = format!("SELECT * FROM t WHERE k >= {low} AND k < {high} ORDER BY k LIMIT 10");
    assert_eq!(datafusion_rows(&runtime, &ctx, &sql), 10);
    group.bench_function("datafusion", |b| {
        b.iter(|| datafusion_rows(&runtime, &ctx, &sql))
    });
    group.bench_function("quiver", |b| {
        b.iter(|| {
            db.objects("T")
                .filter(q!(k__gte = low, k__lt = high))
                .order_by(["k"])
                .slice(0..10)
                .fetch()
                .map(|r| r.len())
        })
    });
    group.finish();

    // Equality on the composite index's first column, newest first, 10 rows.
    let mut group = c.benchmark_group("writes/composite_top_k");
    let sql = "SELECT * FROM t WHERE v = 7 ORDER BY id DESC LIMIT 10";
    assert_eq!(datafusion_rows(&runtime, &ctx, sql), 10);
    let top = db
        .objects("T")
        .filter(q!(v = 7))
        .order_by(["-id"])
        .slice(0..10);
    assert!(top
        .explain()
        .expect("explain")
        .contains("prefix=[7] order=desc limit=10"));
    group.bench_function("datafusion", |b| {
        b.iter(|| datafusion_rows(&runtime, &ctx, sql))
    });
    group.bench_function("quiver", |b| b.iter(|| top.fetch().map(|r| r.len())));
    group.finish();

    // update() of one row by key, then a read through the indexes (DataFusion: compute the
    // updated table with a CASE). Quiver re-indexes only the chunks the update created.
    let mut group = c.benchmark_group("writes/update_one_row");
    group.sample_size(10);
    let sql = format!("SELECT id, k, CASE WHEN id = {target} THEN v + 1 ELSE v END AS v FROM t");
    group.bench_function("datafusion", |b| {
        b.iter(|| datafusion_rows(&runtime, &ctx, &sql))
    });
    group.bench_function("quiver", |b| {
        b.iter(|| {
            db.objects("T")
                .filter(q!(id = target))
                .update([("v", F("v") + 1)])
                .expect("update runs");
            db.objects("T")
                .filter(q!(k = target))
                .count()
                .expect("count runs")
        })
    });
    group.finish();

    // update() of 1% of the rows (DataFusion: compute the updated table with a CASE).
    let mut group = c.benchmark_group("writes/update_1pct");
    group.sample_size(10);
    let sql =
        format!("SELECT id, k, CASE WHEN id <= {one_percent} THEN v + 1 ELSE v END AS v FROM t");
    group.bench_function("datafusion", |b| {
        b.iter(|| datafusion_rows(&runtime, &ctx, &sql))
    });
    group.bench_function("quiver", |b| {
        b.iter(|| {
            db.objects("T")
                .filter(q!(id__lte = one_percent))
                .update([("v", F("v") + 1)])
                .expect("update runs")
        })
    });
    group.finish();

    // bulk_create of every row from Arrow batches into an empty table (DataFusion: its own
    // write path, `INSERT INTO t SELECT * FROM src` into an empty MemTable of the same
    // schema, planning included; Quiver also checks the primary key's uniqueness and builds
    // its hash index on the way).
    let mut group = c.benchmark_group("writes/bulk_create");
    group.sample_size(10);
    if rows > DEFAULT_ROWS {
        group.warm_up_time(Duration::from_millis(1));
        group.measurement_time(Duration::from_secs(1));
    }
    let insert = "INSERT INTO t SELECT * FROM src";
    let fresh_context = || {
        let fresh = datafusion_session();
        fresh
            .register_table("src", Arc::new(memtable(&schema, &batches)))
            .expect("src registers");
        let empty = MemTable::try_new(Arc::clone(&schema), vec![Vec::new(); partitions()])
            .expect("empty MemTable");
        fresh
            .register_table("t", Arc::new(empty))
            .expect("t registers");
        fresh
    };
    {
        let check = fresh_context();
        datafusion_rows(&runtime, &check, insert);
        let copied = datafusion_rows(&runtime, &check, "SELECT * FROM t");
        assert_eq!(
            copied, rows,
            "INSERT INTO t SELECT * FROM src copies every row"
        );
    }
    group.bench_function("datafusion", |b| {
        b.iter_batched(
            fresh_context,
            |fresh| datafusion_rows(&runtime, &fresh, insert),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("quiver", |b| {
        b.iter_batched(
            || {
                let fresh = Database::new();
                fresh.register(model()).expect("model registers");
                fresh
            },
            |fresh| {
                fresh
                    .objects("T")
                    .bulk_create_batches(batches.clone(), &BulkCreateOptions::new())
                    .expect("bulk_create runs")
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
}

criterion_group! {
    name = benches;
    config = config();
    targets = writes
}
criterion_main!(benches);
