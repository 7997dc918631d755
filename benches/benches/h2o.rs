//! H2O db-benchmark group-by questions q1–q5 and q8 ("largest two v3 by id6", a
//! `row_number()` window filtered to `<= 2`), DataFusion as the peer engine.
//!
//! Quiver's figures are only meaningful as ratios to a peer measured in the same run on the same
//! batches, so this file generates table `x` once (`quiver_benches::groupby_batches`, K = 100, no
//! NULLs, unsorted) and times each question on DataFusion (SQL) and on Quiver (a QuerySet). As in the published benchmark, loading is not timed; each iteration covers
//! planning, execution and materialising the whole result.
//!
//! Rows: 1e6 by default; `QUIVER_H2O_ROWS=1e7` (or `10000000`) for the headline size.
//! Run with `cargo bench -p quiver-benches --bench h2o [-- --quick]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::prelude::{SessionConfig, SessionContext};
use quiver::prelude::{
    q, Avg, CharField, Database, FloatField, IntegerField, Model, QuerySet, RowNumber, Sum, Window,
    F,
};
use tokio::runtime::Runtime;

const DEFAULT_ROWS: usize = 1_000_000;
const GROUPS: usize = 100;
const SEED: u64 = 20_240_601;

/// The questions, in the SQL form DataFusion runs (`h2o.md`).
const QUESTIONS: [(&str, &str); 6] = [
    ("q1", "SELECT id1, sum(v1) AS v1 FROM x GROUP BY id1"),
    (
        "q2",
        "SELECT id1, id2, sum(v1) AS v1 FROM x GROUP BY id1, id2",
    ),
    (
        "q3",
        "SELECT id3, sum(v1) AS v1, avg(v3) AS v3 FROM x GROUP BY id3",
    ),
    (
        "q4",
        "SELECT id4, avg(v1) AS v1, avg(v2) AS v2, avg(v3) AS v3 FROM x GROUP BY id4",
    ),
    (
        "q5",
        "SELECT id6, sum(v1) AS v1, sum(v2) AS v2, sum(v3) AS v3 FROM x GROUP BY id6",
    ),
    (
        "q8",
        "SELECT id6, v3 AS largest2_v3 FROM (SELECT id6, v3, row_number() OVER (PARTITION BY id6 \
         ORDER BY v3 DESC) AS order_v3 FROM x WHERE v3 IS NOT NULL) AS sub_query \
         WHERE order_v3 <= 2",
    ),
];

/// A prepared query: each call runs it once and returns the number of result rows.
type PreparedQuery = Box<dyn FnMut() -> usize>;

/// The H2O table `x` as a Quiver model: id1/id2 are dictionary-encoded strings (as DuckDB's
/// ENUM; the batches DataFusion reads are dictionary-encoded too).
fn quiver_database(batches: &[RecordBatch]) -> quiver::Result<Database> {
    let db = Database::new();
    db.register(
        Model::new("X")
            .db_table("x")
            .field("id1", CharField::new(5).dictionary())
            .field("id2", CharField::new(5).dictionary())
            .field("id3", CharField::new(12))
            .field("id4", IntegerField::new())
            .field("id5", IntegerField::new())
            .field("id6", IntegerField::new())
            .field("v1", IntegerField::new())
            .field("v2", IntegerField::new())
            .field("v3", FloatField::new()),
    )?;
    db.load_batches("X", batches.to_vec())?;
    Ok(db)
}

/// Each question as a QuerySet (the Django spelling is in the comment). Annotation names get a
/// prefix because Django refuses an annotation that shadows a field (`v1`).
fn quiver_queryset(db: &Database, question: &str) -> QuerySet {
    let x = db.objects("X");
    match question {
        // X.objects.values("id1").annotate(sum_v1=Sum("v1"))
        "q1" => x.values(["id1"]).annotate([("sum_v1", Sum("v1"))]),
        // X.objects.values("id1", "id2").annotate(sum_v1=Sum("v1"))
        "q2" => x.values(["id1", "id2"]).annotate([("sum_v1", Sum("v1"))]),
        // X.objects.values("id3").annotate(sum_v1=Sum("v1"), mean_v3=Avg("v3"))
        "q3" => x
            .values(["id3"])
            .annotate([("sum_v1", Sum("v1")), ("mean_v3", Avg("v3"))]),
        // X.objects.values("id4").annotate(mean_v1=Avg("v1"), mean_v2=Avg("v2"), mean_v3=Avg("v3"))
        "q4" => x.values(["id4"]).annotate([
            ("mean_v1", Avg("v1")),
            ("mean_v2", Avg("v2")),
            ("mean_v3", Avg("v3")),
        ]),
        // X.objects.filter(v3__isnull=False).annotate(order_v3=Window(RowNumber(),
        //     partition_by="id6", order_by=F("v3").desc())).filter(order_v3__lte=2)
        //     .values("id6", "v3")
        "q8" => x
            .filter(q!(v3__isnull = false))
            .annotate([(
                "order_v3",
                Window(RowNumber())
                    .partition_by(["id6"])
                    .order_by([F("v3").desc()]),
            )])
            .filter(q!(order_v3__lte = 2))
            .values(["id6", "v3"]),
        // X.objects.values("id6").annotate(sum_v1=Sum("v1"), sum_v2=Sum("v2"), sum_v3=Sum("v3"))
        _ => x.values(["id6"]).annotate([
            ("sum_v1", Sum("v1")),
            ("sum_v2", Sum("v2")),
            ("sum_v3", Sum("v3")),
        ]),
    }
}

fn quiver_query(db: &Database, question: &str) -> PreparedQuery {
    let db = db.clone();
    let question = question.to_string();
    Box::new(move || {
        // Built inside the timed closure: compiling the QuerySet is part of what a user pays.
        let batches = quiver_queryset(&db, &question)
            .to_batches()
            .unwrap_or_else(|e| panic!("{question}: {e}"));
        batches.iter().map(RecordBatch::num_rows).sum()
    })
}

fn rows_from_env() -> usize {
    match std::env::var("QUIVER_H2O_ROWS") {
        Ok(text) => quiver_benches::parse_row_count(&text).unwrap_or_else(|| {
            panic!("QUIVER_H2O_ROWS={text:?} is not a row count (examples: 1e7, 10000000)")
        }),
        Err(_) => DEFAULT_ROWS,
    }
}

/// A DataFusion session over `x`, its batches dealt round-robin into one partition per core so
/// every core scans.
fn datafusion_context(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    partitions: usize,
) -> Result<SessionContext> {
    let config = SessionConfig::new().with_target_partitions(partitions);
    let ctx = SessionContext::new_with_config(config);
    let mut split = vec![Vec::new(); partitions];
    for (index, batch) in batches.iter().enumerate() {
        split[index % partitions].push(batch.clone());
    }
    let table = MemTable::try_new(Arc::clone(schema), split)?;
    ctx.register_table("x", Arc::new(table))?;
    Ok(ctx)
}

async fn run_datafusion(ctx: &SessionContext, sql: &str) -> Result<usize> {
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok(batches.iter().map(RecordBatch::num_rows).sum())
}

fn h2o_groupby(c: &mut Criterion) {
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
    let ctx = datafusion_context(&schema, &batches, partitions).expect("MemTable over x");
    let db = quiver_database(&batches).expect("Quiver loads x");

    for (question, sql) in QUESTIONS {
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

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
}

criterion_group! {
    name = benches;
    config = config();
    targets = h2o_groupby
}
criterion_main!(benches);
