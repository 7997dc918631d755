//! The leaderboard workload (`orm-frontend/examples/leaderboard.rs`): a table of players and
//! the three reads a game's leaderboard serves — the global top 100, the top 10 per country
//! (a `row_number()` window filtered to `<= 10`) and the players ranked within 5 of one
//! player (a `rank()` window filtered to a range).
//!
//! It lives here rather than in the criterion file so `cargo bench --bench leaderboard` and
//! `quiver bench leaderboard` time the same players and the same QuerySets.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use quiver::prelude::{
    q, BigIntegerField, CharField, Database, Model, QuerySet, Rank, RowNumber, SessionConfig,
    Window, F,
};

/// Countries the players are spread over (two-letter codes `AA`, `AB`, …).
pub const COUNTRIES: u64 = 50;
/// The generator's seed, the same as the example's so both see the same players.
pub const SEED: u64 = 42;
/// The rank whose neighbourhood the third query reads.
pub const PIVOT_RANK: i64 = 500_000;
/// Rows per generated batch.
const BATCH_ROWS: usize = 65_536;

/// splitmix64, as in the example: tiny, seedable, and stable across `rand` releases.
struct SplitMix(u64);

impl SplitMix {
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

/// `rows` players with ids `1..=rows`: `id`, `name` (`player<i>`), `country` and `score`
/// (uniform in `0..1_000_000`).
pub fn players(rows: usize) -> Result<(SchemaRef, Vec<RecordBatch>), ArrowError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("country", DataType::Utf8, false),
        Field::new("score", DataType::Int64, false),
    ]));
    let mut rng = SplitMix(SEED);
    let letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut batches = Vec::new();
    let mut start = 0;
    while start < rows {
        let n = (rows - start).min(BATCH_ROWS);
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
        batches.push(RecordBatch::try_new(Arc::clone(&schema), columns)?);
        start += n;
    }
    Ok((schema, batches))
}

/// The model `Player` (table `player`) loaded with `batches`, in a database with `config`.
pub fn leaderboard_database(
    batches: &[RecordBatch],
    config: SessionConfig,
) -> quiver::Result<Database> {
    let db = Database::with_config(config);
    db.register(
        Model::new("Player")
            .field("name", CharField::new(30))
            .field("country", CharField::new(2))
            .field("score", BigIntegerField::new()),
    )?;
    db.load_batches("Player", batches.to_vec())?;
    Ok(db)
}

/// The leaderboard queries' names, in the order [`leaderboard_queries`] returns them.
pub const LEADERBOARD_QUERIES: [&str; 3] = ["top100", "top10_per_country", "neighbours"];

/// The queries: name, the SQL DataFusion runs, and the QuerySet (the Django spelling is in
/// the comment above each).
pub fn leaderboard_queries(db: &Database) -> Vec<(&'static str, String, QuerySet)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn players_are_seeded_and_every_query_runs() {
        let (_, batches) = players(1_000).unwrap_or_else(|e| panic!("{e}"));
        let (_, again) = players(1_000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(batches, again);
        assert_eq!(
            batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
            1_000
        );
        let db = leaderboard_database(&batches, SessionConfig::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let queries = leaderboard_queries(&db);
        let names: Vec<&str> = queries.iter().map(|(name, _, _)| *name).collect();
        assert_eq!(names, LEADERBOARD_QUERIES);
        let rows: Vec<usize> = queries
            .iter()
            .map(|(name, _, qs)| {
                let batches = qs.to_batches().unwrap_or_else(|e| panic!("{name}: {e}"));
                batches.iter().map(RecordBatch::num_rows).sum()
            })
            .collect();
        // 1,000 players: the top 100; 10 in each of the 50 countries (about 20 players
        // each, so every country has 10); nobody ranks near 500,000.
        assert_eq!(rows, [100, 500, 0]);
    }
}
