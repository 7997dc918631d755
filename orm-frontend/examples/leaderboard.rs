//! A leaderboard with a million players, in-process: load, global top 100, top 10 per
//! country, the rank and neighbours of one player, then a writer thread streaming score
//! updates (`filter(pk=…).update(score=F("score") + delta)`) while a reader keeps reading the
//! board, each read a consistent snapshot.
//!
//! ```text
//! cargo run --release -p quiver --example leaderboard            # 1,000,000 players
//! QUIVER_PLAYERS=100000 cargo run -p quiver --example leaderboard
//! ```
//!
//! The Django spelling of each query is in the comment above it. The writer moves points
//! between two players in one transaction, so the total of all scores is invariant: the
//! reader checks it on every read, which fails if a read ever sees half a transaction.
//! `cli/examples/leaderboard.py` is the same walk-through as a script, on a small board.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use quiver::prelude::*;

const COUNTRIES: usize = 50;

/// splitmix64: a seeded, dependency-free generator (the data only has to look like a
/// leaderboard and be the same every run).
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

fn country(i: u64) -> String {
    let letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let (a, b) = (letters[(i / 26) as usize % 26], letters[(i % 26) as usize]);
    format!("{}{}", a as char, b as char)
}

/// `rows` players as Arrow batches: name, country (50), score (0..1,000,000, many ties).
fn players(rows: usize, seed: u64) -> Vec<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("country", DataType::Utf8, false),
        Field::new("score", DataType::Int64, false),
    ]));
    let mut rng = Rng(seed);
    let mut batches = Vec::new();
    let mut start = 0;
    while start < rows {
        let n = (rows - start).min(65_536);
        let names: StringArray = (start..start + n)
            .map(|i| Some(format!("player{i}")))
            .collect();
        let countries: StringArray = (0..n)
            .map(|_| Some(country(rng.below(COUNTRIES as u64))))
            .collect();
        let scores: Int64Array = (0..n).map(|_| Some(rng.below(1_000_000) as i64)).collect();
        let columns: Vec<ArrayRef> = vec![Arc::new(names), Arc::new(countries), Arc::new(scores)];
        batches.push(RecordBatch::try_new(Arc::clone(&schema), columns).expect("valid batch"));
        start += n;
    }
    batches
}

fn timed<T>(what: &str, f: impl FnOnce() -> quiver::Result<T>) -> quiver::Result<T> {
    let started = Instant::now();
    let out = f()?;
    println!("{what:<58} {:>10.2?}", started.elapsed());
    Ok(out)
}

fn main() -> quiver::Result<()> {
    let rows = std::env::var("QUIVER_PLAYERS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(1_000_000, |v| v as usize);
    let db = Database::new();
    db.register(
        Model::new("Player")
            .field("name", CharField::new(30))
            .field("country", CharField::new(2).db_index())
            .field("score", BigIntegerField::new()),
    )?;
    let batches = players(rows, 42);
    timed(&format!("load {rows} players"), || {
        db.load_batches("Player", batches)
    })?;
    let board = db.objects("Player");

    // Player.objects.order_by("-score", "id")[:100]
    let top = timed("global top 100", || {
        board.order_by(["-score", "id"]).slice(0..100).fetch()
    })?;
    println!("  #1: {:?}", top.iter().next().map(|r| r.get_value("name")));

    // Player.objects.annotate(rn=Window(RowNumber(), partition_by="country",
    //     order_by=[F("score").desc(), "id"])).filter(rn__lte=10)
    let per_country = board
        .annotate([(
            "rn",
            Window(RowNumber())
                .partition_by(["country"])
                .order_by([F("score").desc(), F("id").asc()]),
        )])
        .filter(q!(rn__lte = 10));
    let per_country_rows = timed("top 10 per country (row_number <= 10)", || {
        per_country.count()
    })?;
    println!("  {per_country_rows} rows; the plan, with per-operator figures:");
    println!(
        "{}",
        per_country
            .values(["name", "country", "score", "rn"])
            .explain_analyze()?
    );

    // The rank of one player: Player.objects.filter(score__gt=me.score).count() + 1.
    // (Not `annotate(rank=Window(Rank(), …)).filter(pk=…)`: as in SQL and Django, a filter
    // on a plain column runs before the windows, which would rank the player alone.)
    let me = board.get(q!(pk = (rows as i64) / 2))?;
    let my_score = me.get::<i64>("score")?;
    let rank = timed("rank of one player (count of better scores)", || {
        Ok(board.filter(q!(score__gt = my_score)).count()? as i64 + 1)
    })?;
    println!(
        "  player {} scores {my_score}: rank {rank}",
        me.get::<String>("name")?
    );
    let ranked = board.annotate([("rank", Window(Rank()).order_by([F("score").desc()]))]);
    // ...and the players around them: filter(rank__range=(rank - 5, rank + 5))
    let around = timed("neighbours: rank within 5 of the player's", || {
        ranked
            .filter(q!(rank__range = (rank - 5, rank + 5)))
            .order_by(["rank", "id"])
            .values(["name", "score", "rank"])
            .fetch()
    })?;
    println!("{around}");

    // A writer streams score updates while a reader re-reads the board. Each write moves
    // `delta` points from one player to another in one transaction:
    //     with transaction.atomic():
    //         Player.objects.filter(pk=a).update(score=F("score") + delta)
    //         Player.objects.filter(pk=b).update(score=F("score") - delta)
    // so the total of all scores never changes, and a read that saw half a write would
    // notice.
    let total = |db: &Database| -> quiver::Result<i64> {
        // Player.objects.aggregate(total=Sum("score"))
        db.objects("Player")
            .aggregate([AggregateArg::from(("total", Sum("score")))])?
            .get::<i64>("total")
    };
    let expected_total = total(&db)?;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let db = db.clone();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || -> quiver::Result<usize> {
            let mut rng = Rng(7);
            let mut updates = 0;
            while !stop.load(Ordering::Relaxed) {
                let a = rng.below(rows as u64) as i64 + 1;
                let b = rng.below(rows as u64) as i64 + 1;
                let delta = rng.below(1_000) as i64 + 1;
                db.atomic(|_| {
                    let players = db.objects("Player");
                    players
                        .filter(q!(pk = a))
                        .update([("score", F("score") + delta)])?;
                    players
                        .filter(q!(pk = b))
                        .update([("score", F("score") - delta)])
                })?;
                updates += 2;
            }
            Ok(updates)
        })
    };
    let started = Instant::now();
    let mut reads = 0;
    let mut leader = String::new();
    while started.elapsed().as_secs_f64() < 2.0 {
        // Player.objects.order_by("-score", "id")[:10], then the total: each query reads
        // one committed snapshot.
        let top10 = db
            .objects("Player")
            .order_by(["-score", "id"])
            .slice(0..10)
            .values(["name", "score"])
            .fetch()?;
        if let Some(first) = top10.iter().next() {
            leader = first.get::<String>("name")?;
        }
        let seen = total(&db)?;
        if seen != expected_total {
            return Err(quiver::Error::ValueError(format!(
                "a read saw half a transfer: total {seen}, expected {expected_total}"
            )));
        }
        reads += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let updates = writer
        .join()
        .map_err(|_| quiver::Error::ValueError("writer thread panicked".into()))??;
    println!(
        "{reads} consistent reads (top 10, then the score total) in {:.2?} while {updates} \
         score updates committed in pairs; leader now {leader}",
        started.elapsed()
    );
    // The final board: the total is unchanged, and ranks still run 1, 2, ….
    assert_eq!(total(&db)?, expected_total);
    Ok(())
}
