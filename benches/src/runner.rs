//! Runs a workload's queries on Quiver and on a peer engine and reports a median per query:
//! the library half of `quiver bench`, which prints the [`Report`] as a table or JSON and
//! charts it with [`crate::chart`].
//!
//! Quiver's figures only mean something as ratios to a peer measured in the same run on the
//! same batches, so [`prepare`] generates the workload's tables once and loads them into a
//! Quiver [`Database`], and [`measure`] times every query on both engines, one after the
//! other. Each Quiver iteration builds the QuerySet, compiles, optimizes and runs it and
//! materialises the whole result; each peer iteration plans the SQL and collects it — the way
//! the criterion suites in `benches/benches/` time them. Loading is not timed.
//!
//! The peer is DataFusion (a `SessionContext` with `target_partitions` = cores over
//! `MemTable`s of the same batches) when this crate is built with its `datafusion` feature;
//! without it [`PEER`] is `None` and reports carry Quiver's column only.

use std::fmt;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use quiver::prelude::{Database, QuerySet, SessionConfig};
use quiver_engine::optimizer::Optimizer;

use crate::h2o::{groupby_batches, join_tables, Table};
use crate::leaderboard::{leaderboard_database, leaderboard_queries, players, LEADERBOARD_QUERIES};
use crate::questions::{
    groupby_database, groupby_queryset, join_database, join_queryset, GROUPBY_QUESTIONS,
    JOIN_QUESTIONS,
};
use crate::tiny::{
    run_tiny_query, tiny_batches, tiny_database, tiny_queryset, TINY_QUERIES, TINY_ROWS,
};
use crate::tpch;

/// The peer engine this build times next to Quiver (name and version), or `None` when the
/// crate was built without its `datafusion` feature.
#[cfg(feature = "datafusion")]
pub const PEER: Option<&str> = Some(crate::peer::PEER_NAME);
/// The peer engine this build times next to Quiver (name and version), or `None` when the
/// crate was built without its `datafusion` feature.
#[cfg(not(feature = "datafusion"))]
pub const PEER: Option<&str> = None;

/// A set of queries with its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// H2O group-by q1–q10 over table `x` (K = 100, no NULLs, unsorted).
    GroupBy,
    /// H2O join j1–j5.
    Join,
    /// The 22 TPC-H queries as QuerySets.
    Tpch,
    /// The leaderboard's top-k and window queries over a table of players.
    Leaderboard,
    /// Small QuerySets on a 10-row table: the fixed cost per query.
    Tiny,
}

impl Workload {
    /// Every workload, in the order `quiver bench --help` lists them.
    pub const ALL: [Workload; 5] = [
        Workload::GroupBy,
        Workload::Join,
        Workload::Tpch,
        Workload::Leaderboard,
        Workload::Tiny,
    ];

    /// The workload named `name` on the command line (`h2o`, `join`, `tpch`, `leaderboard`,
    /// `tiny`).
    pub fn from_name(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Workload::GroupBy => "h2o",
            Workload::Join => "join",
            Workload::Tpch => "tpch",
            Workload::Leaderboard => "leaderboard",
            Workload::Tiny => "tiny",
        }
    }

    /// A title for reports.
    pub fn title(self) -> &'static str {
        match self {
            Workload::GroupBy => "H2O group-by",
            Workload::Join => "H2O join",
            Workload::Tpch => "TPC-H",
            Workload::Leaderboard => "Leaderboard",
            Workload::Tiny => "Tiny QuerySets",
        }
    }

    /// The names of the workload's queries, in the order they run (what `--queries` takes).
    pub fn query_names(self) -> Vec<String> {
        let names: Vec<&str> = match self {
            Workload::GroupBy => GROUPBY_QUESTIONS.iter().map(|(name, _)| *name).collect(),
            Workload::Join => JOIN_QUESTIONS.iter().map(|(name, _)| *name).collect(),
            Workload::Leaderboard => LEADERBOARD_QUERIES.to_vec(),
            Workload::Tiny => TINY_QUERIES.iter().map(|(name, _, _)| *name).collect(),
            Workload::Tpch => return tpch::queries().iter().map(|q| q.label()).collect(),
        };
        names.into_iter().map(str::to_string).collect()
    }

    /// Rows generated when `--rows` is not given (`None`: the workload is not sized by rows).
    pub fn default_rows(self) -> Option<usize> {
        match self {
            // The published H2O size; the leaderboard example's million players.
            Workload::GroupBy | Workload::Join => Some(10_000_000),
            Workload::Leaderboard => Some(1_000_000),
            Workload::Tpch | Workload::Tiny => None,
        }
    }

    /// Timed runs per query when `--iterations` is not given: a few for the large
    /// workloads, many for the tiny one, whose medians are microseconds.
    pub fn default_iterations(self) -> usize {
        match self {
            Workload::Tiny => 1_000,
            _ => 5,
        }
    }
}

/// What to run: the workload, its size, how often, and which optimizer rules to switch off.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub workload: Workload,
    /// Rows of the main table (`None`: [`Workload::default_rows`]); only for workloads sized
    /// by rows.
    pub rows: Option<usize>,
    /// TPC-H scale factor (`None`: 1); only for `tpch`.
    pub scale: Option<f64>,
    /// Timed runs per query, after one untimed warm-up run (`None`:
    /// [`Workload::default_iterations`]).
    pub iterations: Option<usize>,
    /// Optimizer rules switched off by name (`SessionConfig::disable_rule`); the peer runs
    /// with its defaults.
    pub disabled_rules: Vec<String>,
    /// Only these queries, by name (`q3`, `j1`, `top100`); empty: every query.
    pub queries: Vec<String>,
    /// Seed of the H2O generators.
    pub seed: u64,
}

impl BenchOptions {
    /// Options for `workload` with every default.
    pub fn new(workload: Workload) -> BenchOptions {
        BenchOptions {
            workload,
            rows: None,
            scale: None,
            iterations: None,
            disabled_rules: Vec::new(),
            queries: Vec::new(),
            seed: 20_240_601,
        }
    }

    /// Timed runs per query.
    pub fn iterations(&self) -> usize {
        self.iterations
            .unwrap_or_else(|| self.workload.default_iterations())
    }

    /// Checks the options before any data is generated, so a typo fails in a millisecond
    /// rather than after minutes of generating: a size flag the workload does not take, zero
    /// iterations, an optimizer rule or a query that does not exist.
    pub fn validate(&self) -> Result<(), BenchError> {
        let workload = self.workload.name();
        if self.rows.is_some() && self.workload.default_rows().is_none() {
            let hint = match self.workload {
                Workload::Tpch => "; size it with --scale",
                _ => "",
            };
            return Err(BenchError::Options(format!(
                "{workload} is not sized by --rows{hint}"
            )));
        }
        if self.rows == Some(0) {
            return Err(BenchError::Options("--rows must be at least 1".into()));
        }
        match self.scale {
            Some(_) if self.workload != Workload::Tpch => {
                let hint = match self.workload.default_rows() {
                    Some(_) => "; size it with --rows",
                    None => "",
                };
                return Err(BenchError::Options(format!(
                    "--scale applies to tpch only, not {workload}{hint}"
                )));
            }
            Some(scale) if !(scale.is_finite() && scale > 0.0) => {
                return Err(BenchError::Options(format!(
                    "--scale must be a positive number, got {scale}"
                )));
            }
            _ => {}
        }
        if self.iterations == Some(0) {
            return Err(BenchError::Options(
                "--iterations must be at least 1".into(),
            ));
        }
        let rules = Optimizer::new().switchable_rule_names();
        if let Some(unknown) = self
            .disabled_rules
            .iter()
            .find(|rule| !rules.contains(&rule.as_str()))
        {
            return Err(BenchError::Options(format!(
                "unknown optimizer rule \"{unknown}\"; rules are: {}",
                rules.join(", ")
            )));
        }
        let names = self.workload.query_names();
        if let Some(unknown) = self.queries.iter().find(|query| !names.contains(query)) {
            return Err(BenchError::Options(format!(
                "{workload} has no query \"{unknown}\"; its queries are: {}",
                names.join(", ")
            )));
        }
        Ok(())
    }

    fn session_config(&self) -> SessionConfig {
        self.disabled_rules
            .iter()
            .fold(SessionConfig::default(), |config, rule| {
                config.disable_rule(rule)
            })
    }
}

/// Why a benchmark could not run. [`BenchError::django_name`] names it the way the rest of
/// Quiver names errors.
#[derive(Debug, Clone)]
pub enum BenchError {
    /// The options do not make sense (`ValueError`).
    Options(String),
    /// Generating the data failed.
    Data(String),
    /// Writing a result (the `--svg` chart) failed (`OSError`).
    Output(String),
    /// Quiver failed to load the data (`query: None`) or to answer a query.
    Quiver {
        query: Option<String>,
        error: quiver::Error,
    },
    /// The peer engine failed to load the data (`query: None`) or to answer a query.
    Peer {
        query: Option<String>,
        message: String,
    },
}

impl BenchError {
    /// The exception class a Django user would see for this error.
    pub fn django_name(&self) -> &'static str {
        match self {
            BenchError::Options(_) => "ValueError",
            BenchError::Data(_) => "DataError",
            BenchError::Output(_) => "OSError",
            BenchError::Quiver { error, .. } => error.django_name(),
            BenchError::Peer { .. } => "DatabaseError",
        }
    }

    fn quiver(query: &str) -> impl Fn(quiver::Error) -> BenchError + '_ {
        move |error| BenchError::Quiver {
            query: Some(query.to_string()),
            error,
        }
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Options(message)
            | BenchError::Data(message)
            | BenchError::Output(message) => f.write_str(message),
            BenchError::Quiver { query, error } => match query {
                Some(query) => write!(f, "{query}: {error}"),
                None => write!(f, "loading the data into Quiver: {error}"),
            },
            BenchError::Peer { query, message } => match query {
                Some(query) => write!(f, "{query} on the peer engine: {message}"),
                None => write!(f, "loading the data into the peer engine: {message}"),
            },
        }
    }
}

impl std::error::Error for BenchError {}

impl From<quiver::Error> for BenchError {
    fn from(error: quiver::Error) -> Self {
        BenchError::Quiver { query: None, error }
    }
}

/// Where [`prepare`] and [`measure`] are, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// A step of preparing the data ("generating x: 10,000,000 rows").
    Stage(&'a str),
    /// `done` of `total` queries are measured; `query` is the one starting now (`None` once
    /// all are done).
    Query {
        done: usize,
        total: usize,
        query: Option<&'a str>,
    },
}

/// Runs one query on Quiver and returns its number of result rows.
pub type QuiverRun = Box<dyn Fn(&Database) -> quiver::Result<usize>>;

/// Builds one query's QuerySet on the database (for `EXPLAIN ANALYZE`).
pub type QuerySetBuild = Box<dyn Fn(&Database) -> quiver::Result<QuerySet>>;

/// One query of a suite: the QuerySet (behind [`BenchQuery::run`]) and the SQL the peer
/// engine runs for it.
pub struct BenchQuery {
    /// Short name (`q1`, `j3`, `top100`).
    pub name: String,
    /// What it asks, in a few words.
    pub description: String,
    /// The peer engine's SQL.
    pub sql: String,
    /// Builds the QuerySet on the database, runs it and counts the rows.
    pub run: QuiverRun,
    /// Builds the QuerySet alone, for [`explain`].
    pub queryset: QuerySetBuild,
}

impl fmt::Debug for BenchQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BenchQuery")
            .field("name", &self.name)
            .field("sql", &self.sql)
            .finish_non_exhaustive()
    }
}

/// A workload ready to time: the data loaded into Quiver, the same batches for the peer,
/// and the queries.
#[derive(Debug)]
pub struct Suite {
    pub workload: Workload,
    /// The size in words, for the report's heading ("1,000,000 rows in x").
    pub size: String,
    /// Quiver's database with every table loaded.
    pub db: Database,
    /// Each table's name (as the SQL spells it) and batches, for the peer engine.
    pub tables: Vec<(String, Table)>,
    pub queries: Vec<BenchQuery>,
}

/// Short descriptions of the H2O questions (`h2o.md`).
const H2O_DESCRIPTIONS: [(&str, &str); 15] = [
    ("q1", "sum v1 by id1"),
    ("q2", "sum v1 by id1, id2"),
    ("q3", "sum v1, mean v3 by id3"),
    ("q4", "mean v1:v3 by id4"),
    ("q5", "sum v1:v3 by id6"),
    ("q6", "median v3, sd v3 by id4, id5"),
    ("q7", "max v1 - min v2 by id3"),
    ("q8", "largest two v3 by id6"),
    ("q9", "regression v1, v2 by id2, id4"),
    ("q10", "sum v3, count by id1:id6"),
    ("j1", "small inner on int"),
    ("j2", "medium inner on int"),
    ("j3", "medium outer on int"),
    ("j4", "medium inner on string"),
    ("j5", "big inner on int"),
];

fn h2o_description(question: &str) -> String {
    H2O_DESCRIPTIONS
        .iter()
        .find(|(name, _)| *name == question)
        .map_or("", |(_, description)| description)
        .to_string()
}

/// Thousands separators for sizes in headings.
pub fn group_digits(n: usize) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

fn table(name: &str, schema: SchemaRef, batches: Vec<RecordBatch>) -> (String, Table) {
    (name.to_string(), Table { schema, batches })
}

/// Generates the workload's data and loads it into a Quiver database configured by
/// `options` (the peer engine loads it in [`measure`]). Reports its steps to `progress`.
pub fn prepare(
    options: &BenchOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Suite, BenchError> {
    options.validate()?;
    let mut suite = prepare_workload(options, progress)?;
    if !options.queries.is_empty() {
        suite
            .queries
            .retain(|query| options.queries.contains(&query.name));
    }
    Ok(suite)
}

/// [`prepare`] for every query of the workload.
fn prepare_workload(
    options: &BenchOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Suite, BenchError> {
    let config = options.session_config();
    let rows = options
        .rows
        .or_else(|| options.workload.default_rows())
        .unwrap_or(0);
    let generating = format!("generating {} rows", group_digits(rows));
    match options.workload {
        Workload::GroupBy => {
            progress(Progress::Stage(&generating));
            let (schema, batches) = groupby_batches(rows, 100, 0, options.seed);
            progress(Progress::Stage("loading x into Quiver"));
            let db = groupby_database(&batches, config)?;
            let queries = GROUPBY_QUESTIONS
                .iter()
                .map(|(question, sql)| BenchQuery {
                    name: question.to_string(),
                    description: h2o_description(question),
                    sql: sql.to_string(),
                    run: h2o_run(question, groupby_queryset),
                    queryset: h2o_queryset(question, groupby_queryset),
                })
                .collect();
            Ok(Suite {
                workload: options.workload,
                size: format!("{} rows in x", group_digits(rows)),
                db,
                tables: vec![table("x", schema, batches)],
                queries,
            })
        }
        Workload::Join => {
            progress(Progress::Stage(&generating));
            let tables = join_tables(rows, options.seed);
            progress(Progress::Stage(
                "loading x, small, medium and big into Quiver",
            ));
            let db = join_database(&tables, config)?;
            let queries = JOIN_QUESTIONS
                .iter()
                .map(|(question, sql)| BenchQuery {
                    name: question.to_string(),
                    description: h2o_description(question),
                    sql: sql.to_string(),
                    run: h2o_run(question, join_queryset),
                    queryset: h2o_queryset(question, join_queryset),
                })
                .collect();
            Ok(Suite {
                workload: options.workload,
                size: format!("{} rows in x", group_digits(rows)),
                db,
                tables: vec![
                    ("x".into(), tables.x),
                    ("small".into(), tables.small),
                    ("medium".into(), tables.medium),
                    ("big".into(), tables.big),
                ],
                queries,
            })
        }
        Workload::Leaderboard => {
            progress(Progress::Stage(&generating));
            let (schema, batches) =
                players(rows).map_err(|e| BenchError::Data(format!("players: {e}")))?;
            progress(Progress::Stage("loading player into Quiver"));
            let db = leaderboard_database(&batches, config)?;
            let descriptions = [
                "global top 100",
                "row_number() <= 10 per country",
                "rank() within 5 of one rank",
            ];
            let queries = leaderboard_queries(&db)
                .into_iter()
                .zip(descriptions)
                .map(|((name, sql, queryset), description)| {
                    let explained = queryset.clone();
                    BenchQuery {
                        name: name.to_string(),
                        description: description.to_string(),
                        sql,
                        // The QuerySet is built once (it is a value); compiling, optimizing
                        // and running it happen on every call, as in the criterion suite.
                        run: Box::new(move |_db: &Database| {
                            let batches = queryset.to_batches()?;
                            Ok(batches.iter().map(RecordBatch::num_rows).sum())
                        }),
                        queryset: Box::new(move |_db: &Database| Ok(explained.clone())),
                    }
                })
                .collect();
            Ok(Suite {
                workload: options.workload,
                size: format!("{} players", group_digits(rows)),
                db,
                tables: vec![table("player", schema, batches)],
                queries,
            })
        }
        Workload::Tiny => {
            let (schema, batches) =
                tiny_batches().map_err(|e| BenchError::Data(format!("item: {e}")))?;
            let db = tiny_database(&batches, config)?;
            let queries = TINY_QUERIES
                .iter()
                .map(|(name, django, sql)| BenchQuery {
                    name: name.to_string(),
                    description: django.to_string(),
                    sql: sql.to_string(),
                    run: Box::new(move |db: &Database| {
                        run_tiny_query(db, name).unwrap_or_else(|| {
                            Err(quiver::Error::ValueError(format!("no tiny query {name}")))
                        })
                    }),
                    queryset: Box::new(move |db: &Database| {
                        tiny_queryset(db, name).ok_or_else(|| {
                            quiver::Error::ValueError(format!("no tiny query {name}"))
                        })
                    }),
                })
                .collect();
            Ok(Suite {
                workload: options.workload,
                size: format!("{TINY_ROWS} rows in item"),
                db,
                tables: vec![table("item", schema, batches)],
                queries,
            })
        }
        Workload::Tpch => {
            let scale_factor = options.scale.unwrap_or(1.0);
            progress(Progress::Stage(&format!(
                "generating TPC-H at scale factor {scale_factor}"
            )));
            let data = tpch::generate(scale_factor);
            progress(Progress::Stage(
                "loading the eight TPC-H tables into Quiver",
            ));
            let db = tpch::load_quiver(&data, config)?;
            let queries = tpch::queries()
                .into_iter()
                .map(|query| {
                    let build = query.queryset;
                    BenchQuery {
                        name: query.label(),
                        description: query.name.to_string(),
                        sql: query.sql.to_string(),
                        // Built inside the timed call, as for H2O: compiling is part of the cost.
                        run: Box::new(move |db: &Database| {
                            let batches = build(db)?.to_batches()?;
                            Ok(batches.iter().map(RecordBatch::num_rows).sum())
                        }),
                        queryset: Box::new(build),
                    }
                })
                .collect();
            Ok(Suite {
                workload: options.workload,
                size: format!(
                    "scale factor {scale_factor}, {} rows in 8 tables",
                    group_digits(data.num_rows())
                ),
                db,
                tables: data
                    .tables()
                    .into_iter()
                    .map(|(name, table)| (name.to_string(), table.clone()))
                    .collect(),
                queries,
            })
        }
    }
}

/// The QuerySet of H2O question `question`, built by `build`.
fn h2o_queryset(
    question: &'static str,
    build: fn(&Database, &str) -> Option<QuerySet>,
) -> QuerySetBuild {
    Box::new(move |db: &Database| {
        build(db, question)
            .ok_or_else(|| quiver::Error::ValueError(format!("no question {question}")))
    })
}

/// A runner for H2O question `question`, built by `build` on each call.
fn h2o_run(
    question: &'static str,
    build: fn(&Database, &str) -> Option<quiver::QuerySet>,
) -> QuiverRun {
    Box::new(move |db: &Database| {
        // Built inside the timed call: compiling the QuerySet is part of what a user pays.
        let queryset = build(db, question)
            .ok_or_else(|| quiver::Error::ValueError(format!("no question {question}")))?;
        let batches = queryset.to_batches()?;
        Ok(batches.iter().map(RecordBatch::num_rows).sum())
    })
}

/// One engine's figures for one query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Median over the timed iterations.
    pub median: Duration,
    /// Rows of the result.
    pub rows: usize,
}

/// One query's figures on both engines.
#[derive(Debug, Clone)]
pub struct QueryReport {
    pub name: String,
    pub description: String,
    pub quiver: Measurement,
    /// The peer's figures; `None` when this build has no peer.
    pub peer: Option<Measurement>,
}

impl QueryReport {
    /// Quiver's median over the peer's (below 1: Quiver is faster).
    pub fn ratio(&self) -> Option<f64> {
        let peer = self.peer?;
        let peer = peer.median.as_secs_f64();
        (peer > 0.0).then(|| self.quiver.median.as_secs_f64() / peer)
    }

    /// Whether both engines returned the same number of rows (`None` without a peer).
    pub fn rows_agree(&self) -> Option<bool> {
        self.peer.map(|peer| peer.rows == self.quiver.rows)
    }
}

/// The figures of one `quiver bench` run.
#[derive(Debug, Clone)]
pub struct Report {
    pub workload: Workload,
    /// The data's size in words.
    pub size: String,
    /// Timed runs per query.
    pub iterations: usize,
    /// Optimizer rules that were switched off.
    pub disabled_rules: Vec<String>,
    /// The peer engine and its configuration ("DataFusion 55.2.0, 2 partitions"), or `None`.
    pub peer: Option<String>,
    pub queries: Vec<QueryReport>,
}

impl Report {
    /// The geometric mean of the per-query ratios (`None` without a peer).
    pub fn geometric_mean(&self) -> Option<f64> {
        let ratios: Vec<f64> = self
            .queries
            .iter()
            .filter_map(QueryReport::ratio)
            .filter(|ratio| *ratio > 0.0)
            .collect();
        if ratios.is_empty() {
            return None;
        }
        let log_sum: f64 = ratios.iter().map(|ratio| ratio.ln()).sum();
        Some((log_sum / ratios.len() as f64).exp())
    }
}

/// A second engine timed on the same tables: it runs a SQL string and counts the rows.
pub trait Peer {
    /// The engine and how it is configured, for the report.
    fn describe(&self) -> String;
    /// Plans and runs `sql`, collecting the whole result; returns its rows.
    fn run(&self, sql: &str) -> Result<usize, String>;
}

#[cfg(feature = "datafusion")]
fn peer_engine(tables: &[(String, Table)]) -> Result<Option<Box<dyn Peer>>, String> {
    Ok(Some(Box::new(crate::peer::DataFusionPeer::new(tables)?)))
}

#[cfg(not(feature = "datafusion"))]
fn peer_engine(_tables: &[(String, Table)]) -> Result<Option<Box<dyn Peer>>, String> {
    Ok(None)
}

/// Times `run` once untimed (warming caches and allocators) and then `iterations` times;
/// returns the median and the row count of the last run.
fn time<E>(iterations: usize, mut run: impl FnMut() -> Result<usize, E>) -> Result<Measurement, E> {
    let mut rows = run()?;
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        rows = run()?;
        samples.push(started.elapsed());
    }
    Ok(Measurement {
        median: median(&mut samples),
        rows,
    })
}

/// Times every query of `suite` on Quiver and, when this build has one, on the peer engine
/// over the same batches. Reports each query as it starts to `progress`.
pub fn measure(
    suite: &Suite,
    options: &BenchOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Report, BenchError> {
    if PEER.is_some() {
        progress(Progress::Stage(
            "loading the same batches into the peer engine",
        ));
    }
    let peer = peer_engine(&suite.tables).map_err(|message| BenchError::Peer {
        query: None,
        message,
    })?;
    let iterations = options.iterations();
    let total = suite.queries.len();
    let mut queries = Vec::with_capacity(total);
    for (done, query) in suite.queries.iter().enumerate() {
        progress(Progress::Query {
            done,
            total,
            query: Some(&query.name),
        });
        let quiver =
            time(iterations, || (query.run)(&suite.db)).map_err(BenchError::quiver(&query.name))?;
        let peer = match &peer {
            Some(peer) => Some(
                time(iterations, || peer.run(&query.sql)).map_err(|message| BenchError::Peer {
                    query: Some(query.name.clone()),
                    message,
                })?,
            ),
            None => None,
        };
        queries.push(QueryReport {
            name: query.name.clone(),
            description: query.description.clone(),
            quiver,
            peer,
        });
    }
    progress(Progress::Query {
        done: total,
        total,
        query: None,
    });
    Ok(Report {
        workload: suite.workload,
        size: suite.size.clone(),
        iterations,
        disabled_rules: options.disabled_rules.clone(),
        peer: peer.map(|peer| peer.describe()),
        queries,
    })
}

/// [`prepare`] then [`measure`].
pub fn run(
    options: &BenchOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Report, BenchError> {
    let suite = prepare(options, progress)?;
    measure(&suite, options, progress)
}

/// Runs every query of `suite` once on Quiver with `EXPLAIN ANALYZE`: the optimized plan
/// with each operator's rows, time and details (indexes, runtime filters, chunks skipped),
/// in the suite's order, as `(name, plan)` pairs.
pub fn explain(suite: &Suite) -> Result<Vec<(String, String)>, BenchError> {
    suite
        .queries
        .iter()
        .map(|query| {
            let plan = (query.queryset)(&suite.db)
                .and_then(|queryset| queryset.explain_analyze())
                .map_err(|error| BenchError::Quiver {
                    query: Some(query.name.clone()),
                    error,
                })?;
            Ok((query.name.clone(), plan))
        })
        .collect()
}

/// The median of `samples` (the mean of the middle two for an even count); zero for none.
pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    match samples.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => samples[n / 2],
        n => (samples[n / 2 - 1] + samples[n / 2]) / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet(_: Progress<'_>) {}

    #[test]
    fn median_of_odd_and_even_counts() {
        let ms = Duration::from_millis;
        assert_eq!(median(&mut [ms(5), ms(1), ms(3)]), ms(3));
        assert_eq!(median(&mut [ms(4), ms(1), ms(2), ms(10)]), ms(3));
        assert_eq!(median(&mut []), Duration::ZERO);
    }

    #[test]
    fn every_groupby_question_runs_at_a_tiny_scale() {
        let options = BenchOptions {
            rows: Some(2_000),
            iterations: Some(1),
            ..BenchOptions::new(Workload::GroupBy)
        };
        let mut stages = Vec::new();
        let report = run(&options, &mut |step| {
            if let Progress::Stage(stage) = step {
                stages.push(stage.to_string());
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(stages[0], "generating 2,000 rows");
        assert_eq!(report.size, "2,000 rows in x");
        let names: Vec<&str> = report.queries.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(
            names,
            ["q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10"]
        );
        // q1 groups by id1: 100 distinct values at this size (2,000 draws from 100).
        assert_eq!(report.queries[0].quiver.rows, 100);
        assert_eq!(report.queries[0].description, "sum v1 by id1");
        // q10 groups by all six ids, which are nearly unique.
        assert!(
            report.queries[9].quiver.rows > 1_900,
            "{:?}",
            report.queries[9]
        );
        assert_eq!(report.peer.is_some(), PEER.is_some());
        if report.peer.is_some() {
            assert!(report.queries.iter().all(|q| q.rows_agree() == Some(true)));
        }
    }

    #[test]
    fn progress_counts_every_query() {
        let options = BenchOptions {
            iterations: Some(2),
            ..BenchOptions::new(Workload::Tiny)
        };
        let mut steps = Vec::new();
        let report = run(&options, &mut |step| {
            if let Progress::Query { done, total, .. } = step {
                steps.push((done, total));
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(steps, [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]);
        let rows: Vec<usize> = report.queries.iter().map(|q| q.quiver.rows).collect();
        assert_eq!(rows, [7, 3, 3, 1]);
        assert_eq!(report.iterations, 2);
    }

    #[test]
    fn a_disabled_rule_must_exist() {
        let options = BenchOptions {
            disabled_rules: vec!["push_down_filter".into(), "push_down_filters".into()],
            ..BenchOptions::new(Workload::Tiny)
        };
        let error = prepare(&options, &mut quiet).map(|_| ()).unwrap_err();
        assert_eq!(error.django_name(), "ValueError");
        let message = error.to_string();
        assert!(
            message.starts_with("unknown optimizer rule \"push_down_filters\"; rules are: "),
            "{message}"
        );
        assert!(message.contains("push_down_filter,"), "{message}");
        // The same rule, spelled right, runs.
        let options = BenchOptions {
            disabled_rules: vec!["push_down_filter".into()],
            iterations: Some(1),
            ..BenchOptions::new(Workload::Tiny)
        };
        let report = run(&options, &mut quiet).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.disabled_rules, ["push_down_filter"]);
        assert_eq!(report.queries[0].quiver.rows, 7);
    }

    #[test]
    fn sizes_must_fit_the_workload() {
        let check = |options: BenchOptions, expected: &str| {
            let error = options.validate().unwrap_err();
            assert_eq!(error.django_name(), "ValueError");
            assert_eq!(error.to_string(), expected);
        };
        check(
            BenchOptions {
                scale: Some(1.0),
                ..BenchOptions::new(Workload::GroupBy)
            },
            "--scale applies to tpch only, not h2o; size it with --rows",
        );
        check(
            BenchOptions {
                rows: Some(10),
                ..BenchOptions::new(Workload::Tpch)
            },
            "tpch is not sized by --rows; size it with --scale",
        );
        check(
            BenchOptions {
                rows: Some(10),
                ..BenchOptions::new(Workload::Tiny)
            },
            "tiny is not sized by --rows",
        );
        check(
            BenchOptions {
                scale: Some(-1.0),
                ..BenchOptions::new(Workload::Tpch)
            },
            "--scale must be a positive number, got -1",
        );
        check(
            BenchOptions {
                iterations: Some(0),
                ..BenchOptions::new(Workload::Join)
            },
            "--iterations must be at least 1",
        );
        check(
            BenchOptions {
                queries: vec!["j1".into(), "j9".into()],
                ..BenchOptions::new(Workload::Join)
            },
            "join has no query \"j9\"; its queries are: j1, j2, j3, j4, j5",
        );
    }

    #[test]
    fn explain_analyzes_the_chosen_queries_only() {
        let options = BenchOptions {
            // The smallest scale the tests use (below it the generator repeats partsupp keys).
            scale: Some(0.01),
            queries: vec!["q19".into(), "q3".into()],
            ..BenchOptions::new(Workload::Tpch)
        };
        let suite = prepare(&options, &mut quiet).unwrap_or_else(|e| panic!("{e}"));
        let plans = explain(&suite).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = plans.iter().map(|(name, _)| name.as_str()).collect();
        // The suite's order, not the option's.
        assert_eq!(names, ["q3", "q19"]);
        for (name, plan) in &plans {
            // Analyzed plans: every operator with its output rows and time.
            assert!(plan.contains("JoinExec"), "{name}: {plan}");
            assert!(plan.contains("rows="), "{name}: {plan}");
        }
    }

    #[test]
    fn ratios_and_their_geometric_mean() {
        let ms = |n| Duration::from_millis(n);
        let query = |name: &str, quiver: u64, peer: u64, peer_rows: usize| QueryReport {
            name: name.into(),
            description: String::new(),
            quiver: Measurement {
                median: ms(quiver),
                rows: 10,
            },
            peer: Some(Measurement {
                median: ms(peer),
                rows: peer_rows,
            }),
        };
        let report = Report {
            workload: Workload::GroupBy,
            size: String::new(),
            iterations: 1,
            disabled_rules: vec![],
            peer: Some("peer".into()),
            queries: vec![query("a", 1, 4, 10), query("b", 4, 1, 11)],
        };
        assert_eq!(report.queries[0].ratio(), Some(0.25));
        assert_eq!(report.queries[1].ratio(), Some(4.0));
        assert_eq!(report.queries[0].rows_agree(), Some(true));
        assert_eq!(report.queries[1].rows_agree(), Some(false));
        // sqrt(0.25 * 4) = 1
        let mean = report.geometric_mean().unwrap_or_default();
        assert!((mean - 1.0).abs() < 1e-12, "{mean}");
        assert_eq!(group_digits(10_000_000), "10,000,000");
        assert_eq!(group_digits(100), "100");
    }
}
