//! Leaderboard queries (`orm-frontend/examples/leaderboard.rs`) against DataFusion SQL on the
//! same batches: global top 100, top 10 per country (a `row_number()` window filtered to
//! `<= 10`), and the players ranked within 5 of one player (a `rank()` window filtered to a
//! range).
//!
//! Players: 1e6 by default (`QUIVER_PLAYERS=1e5` for a quicker run), 50 countries, scores in
//! 0..1,000,000. Loading is not timed; each iteration covers planning, execution and the
//! whole result. Run with `cargo bench -p quiver-benches --bench leaderboard [-- --quick]`.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use quiver::prelude::*;
use tokio::runtime::Runtime;

const COUNTRIES: u64 = 50;
const SEED: u64 = 42;
/// The rank whose neighbourhood the third query reads.
const PIVOT_RANK: i64 = 500_000;

/// splitmix64, as in the example, so both see the same players.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

/// `rows` players with ids 1..=rows.
fn players(rows: usize) -> (SchemaRef, Vec<RecordBatch>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("country", DataType::Utf8, false),
        Field::new("score", DataType::Int64, false),
    ]));
    let mut rng = Rng(SEED);
    let letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut batches = Vec::new();
    let mut start = 0;
    while start < rows {
        let n = (rows - start).min(65_536);
        let ids: Int64Array = (start..start + n).map(|i| Some(i as i64 + 1)).collect();
        let names: StringArray = (start..start + n)
            .map(|i| Some(format!("player{i}")))
            .collect();
        let countries: StringArray = (0..n)
            .map(|_| {
                let c = rng.below(COUNTRIES) as usize;
                Some(format!(
                    "{}{}",
                    letters[c / 26 % 26] as char,
                    letters[c % 26] as char
                ))
            })
            .collect();
        let scores: Int64Array = (0..n).map(|_| Some(rng.below(1_000_000) as i64)).collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(ids),
            Arc::new(names),
            Arc::new(countries),
            Arc::new(scores),
        ];
        batches.push(RecordBatch::try_new(Arc::clone(&schema), columns).expect("valid batch"));
        start += n;
    }
    (schema, batches)
}

fn quiver_database(batches: &[RecordBatch]) -> quiver::Result<Database> {
    let db = Database::new();
    db.register(
        Model::new("Player")
            .field("name", CharField::new(30))
            .field("country", CharField::new(2))
            .field("score", BigIntegerField::new()),
    )?;
    db.load_batches("Player", batches.to_vec())?;
    Ok(db)
}

/// The queries: name, DataFusion SQL, Quiver QuerySet.
fn queries(db: &Database) -> Vec<(&'static str, String, QuerySet)> {
    let players = db.objects("Player");
    let (low, high) = (PIVOT_RANK - 5, PIVOT_RANK + 5);
    vec![
        (
            "top100",
            "SELECT id, name, country, score FROM player ORDER BY score DESC, id ASC LIMIT 100"
                .to_owned(),
            // Player.objects.order_by("-score", "id")[:100]
            players.order_by(["-score", "id"]).slice(0..100),
        ),
        (
            "top10_per_country",
            "SELECT id, country, score, rn FROM (SELECT id, country, score, row_number() OVER \
             (PARTITION BY country ORDER BY score DESC, id ASC) AS rn FROM player) AS t \
             WHERE rn <= 10"
                .to_owned(),
            // Player.objects.annotate(rn=Window(RowNumber(), partition_by="country",
            //     order_by=[F("score").desc(), "id"])).filter(rn__lte=10)
            players
                .annotate([(
                    "rn",
                    Window(RowNumber())
                        .partition_by(["country"])
                        .order_by([F("score").desc(), F("id").asc()]),
                )])
                .filter(q!(rn__lte = 10))
                .values(["id", "country", "score", "rn"]),
        ),
        (
            "neighbours",
            format!(
                "SELECT id, score, rk FROM (SELECT id, score, rank() OVER (ORDER BY score DESC) \
                 AS rk FROM player) AS t WHERE rk BETWEEN {low} AND {high}"
            ),
            // Player.objects.annotate(rk=Window(Rank(), order_by=F("score").desc()))
            //     .filter(rk__range=(low, high))
            players
                .annotate([("rk", Window(Rank()).order_by([F("score").desc()]))])
                .filter(q!(rk__range = (low, high)))
                .values(["id", "score", "rk"]),
        ),
    ]
}

fn leaderboard(c: &mut Criterion) {
    let rows = std::env::var("QUIVER_PLAYERS")
        .ok()
        .and_then(|text| quiver_benches::parse_row_count(&text))
        .unwrap_or(1_000_000);
    let (schema, batches) = players(rows);
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
    let db = quiver_database(&batches).expect("Quiver loads the players");
    for (name, sql, qs) in queries(&db) {
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
