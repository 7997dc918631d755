//! The `bench` command: times a workload's queries on Quiver and on DataFusion over the same
//! batches and prints a table of medians and ratios (or JSON), optionally with an SVG chart.
//!
//! The work is done by `quiver_benches::runner`; this module parses the command line, shows
//! progress while data generates and queries run, and formats the report. DataFusion is only
//! linked when the CLI is built with its `bench` feature (which enables
//! `quiver-benches/datafusion`), so `cargo test --workspace` never builds it for the CLI;
//! without it the table has Quiver's column only and says how to rebuild.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command};
use indicatif::{ProgressBar, ProgressStyle};
use quiver_benches::chart::BarChart;
use quiver_benches::runner::{
    self, group_digits, BenchError, BenchOptions, Progress, QueryReport, Report, Workload,
};
use serde_json::{json, Value};

const BENCH_EXAMPLES: &str = "\
Examples:
  quiver bench h2o                        H2O group-by q1-q10 at 1e7 rows
  quiver bench join --rows 1e6 --svg join.svg
  quiver bench h2o --disable-rule push_down_filter --iterations 3
  quiver bench tiny                       the fixed cost of small QuerySets
  quiver bench tpch --scale 0.1 --queries q3,q19 --explain
                                          the plans, with each operator's rows and time
  quiver bench leaderboard --format json

Each query's median is taken over --iterations timed runs after one warm-up run; loading is
not timed. The ratio is Quiver's median over DataFusion's (below 1: Quiver is faster), both
engines on the same Arrow batches in one process. DataFusion is timed only in a build with
the `bench` feature:
  cargo run --release -p quiver-cli --features bench -- bench h2o";

/// How to get the DataFusion column, for builds without it.
const REBUILD_HINT: &str = "cargo run --release -p quiver-cli --features bench -- bench";

/// The `bench` subcommand's arguments.
pub fn command() -> Command {
    let workloads: Vec<&'static str> = Workload::ALL.iter().map(|w| w.name()).collect();
    Command::new("bench")
        .about("Time a workload on Quiver and DataFusion over the same data")
        .arg(
            Arg::new("workload")
                .value_name("WORKLOAD")
                .required(true)
                .value_parser(workloads)
                .help("h2o (group-by q1-q10), join (j1-j5), tpch, leaderboard or tiny"),
        )
        .arg(
            Arg::new("rows")
                .long("rows")
                .value_name("N")
                .help("Rows of the main table: 1e7 (h2o, join), 1e6 players (leaderboard)"),
        )
        .arg(
            Arg::new("scale")
                .long("scale")
                .value_name("SF")
                .value_parser(clap::value_parser!(f64))
                .help("TPC-H scale factor (default 1)"),
        )
        .arg(
            Arg::new("iterations")
                .long("iterations")
                .value_name("N")
                .value_parser(clap::value_parser!(usize))
                .help("Timed runs per query after one warm-up (default 5; tiny 1000)"),
        )
        .arg(
            Arg::new("disable-rule")
                .long("disable-rule")
                .value_name("NAME")
                .action(ArgAction::Append)
                .help("Switch an optimizer rule off in Quiver (repeatable), e.g. push_down_filter"),
        )
        .arg(
            Arg::new("queries")
                .long("queries")
                .value_name("NAMES")
                .value_delimiter(',')
                .action(ArgAction::Append)
                .help("Only these queries, e.g. --queries q3,q19 (default: every query)"),
        )
        .arg(
            Arg::new("explain")
                .long("explain")
                .action(ArgAction::SetTrue)
                .help("Print each query's EXPLAIN ANALYZE on Quiver instead of timing it"),
        )
        .arg(
            Arg::new("svg")
                .long("svg")
                .value_name("PATH")
                .help("Also write a bar chart of the ratios (or of Quiver's medians) as SVG"),
        )
        .arg(
            Arg::new("format")
                .long("format")
                .value_parser(["table", "json"])
                .default_value("table")
                .help("How the report is written"),
        )
        .after_help(BENCH_EXAMPLES)
}

/// The runner's options from the command line.
pub fn bench_options(matches: &ArgMatches) -> Result<BenchOptions, BenchError> {
    let name = matches
        .get_one::<String>("workload")
        .map(String::as_str)
        .unwrap_or_default();
    let workload = Workload::from_name(name)
        .ok_or_else(|| BenchError::Options(format!("unknown workload \"{name}\"")))?;
    let rows = match matches.get_one::<String>("rows") {
        Some(text) => Some(quiver_benches::parse_row_count(text).ok_or_else(|| {
            BenchError::Options(format!(
                "--rows: \"{text}\" is not a row count (examples: 1e7, 10000000)"
            ))
        })?),
        None => None,
    };
    Ok(BenchOptions {
        rows,
        scale: matches.get_one::<f64>("scale").copied(),
        iterations: matches.get_one::<usize>("iterations").copied(),
        disabled_rules: matches
            .get_many::<String>("disable-rule")
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
        queries: matches
            .get_many::<String>("queries")
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
        ..BenchOptions::new(workload)
    })
}

/// Runs `quiver bench`: an error is written as `error: <DjangoName>: <message>` on stderr.
pub fn run(matches: &ArgMatches) -> ExitCode {
    match run_report(matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}: {error}", error.django_name());
            ExitCode::FAILURE
        }
    }
}

fn run_report(matches: &ArgMatches) -> Result<(), BenchError> {
    let options = bench_options(matches)?;
    options.validate()?;
    let mut progress = ProgressDisplay::new();
    if matches.get_flag("explain") {
        let suite = runner::prepare(&options, &mut |step| progress.update(step));
        progress.finish();
        for (name, plan) in runner::explain(&suite?)? {
            println!("== {name}\n{plan}\n");
        }
        return Ok(());
    }
    let report = runner::run(&options, &mut |step| progress.update(step));
    progress.finish();
    let report = report?;
    let json = matches.get_one::<String>("format").map(String::as_str) == Some("json");
    if json {
        println!("{}", report_json(&report));
    } else {
        print!("{}", report_table(&report));
    }
    if let Some(path) = matches.get_one::<String>("svg") {
        let path = PathBuf::from(path);
        BarChart::from_report(&report)
            .write_svg(&path)
            .map_err(|message| BenchError::Output(format!("--svg: {message}")))?;
        if !json {
            println!("chart: {}", path.display());
        }
    }
    Ok(())
}

/// A spinner while data generates and loads, then a bar over the queries (drawn on stderr,
/// and only when it is a terminal).
struct ProgressDisplay {
    bar: Option<ProgressBar>,
}

impl ProgressDisplay {
    fn new() -> ProgressDisplay {
        ProgressDisplay { bar: None }
    }

    fn update(&mut self, step: Progress<'_>) {
        match step {
            Progress::Stage(stage) => {
                let bar = self.bar.get_or_insert_with(|| {
                    let spinner = ProgressBar::new_spinner();
                    spinner.enable_steady_tick(Duration::from_millis(120));
                    spinner
                });
                bar.set_message(stage.to_string());
            }
            Progress::Query { done, total, query } => {
                let bar = self
                    .bar
                    .get_or_insert_with(|| ProgressBar::new(total as u64));
                if bar.length() != Some(total as u64) {
                    bar.set_length(total as u64);
                    if let Ok(style) =
                        ProgressStyle::with_template("{msg:12} [{bar:30}] {pos}/{len} ({elapsed})")
                    {
                        bar.set_style(style.progress_chars("=> "));
                    }
                }
                bar.set_position(done as u64);
                bar.set_message(query.unwrap_or("done").to_string());
            }
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// A duration in the unit that keeps three or four significant digits.
pub fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 1e-3 {
        format!("{:.1} µs", seconds * 1e6)
    } else if seconds < 1.0 {
        format!("{:.1} ms", seconds * 1e3)
    } else {
        format!("{seconds:.2} s")
    }
}

/// A ratio with two decimals, or three below 0.1 (where two would round tiny queries to 0).
pub fn format_ratio(ratio: f64) -> String {
    if ratio < 0.1 {
        format!("{ratio:.3}")
    } else {
        format!("{ratio:.2}")
    }
}

/// The peer's short name ("DataFusion") from its description.
fn peer_name(report: &Report) -> Option<&str> {
    let peer = report.peer.as_deref()?;
    Some(peer.split([' ', ',']).next().unwrap_or(peer))
}

fn rows_cell(query: &QueryReport) -> String {
    match query.peer {
        Some(peer) if peer.rows != query.quiver.rows => format!(
            "{} ✗ {}",
            group_digits(query.quiver.rows),
            group_digits(peer.rows)
        ),
        _ => group_digits(query.quiver.rows),
    }
}

/// The report as an aligned text table with a heading and, with a peer, the geometric mean.
pub fn report_table(report: &Report) -> String {
    let mut out = format!(
        "{}, {}: median of {} run{} after one warm-up\n",
        report.workload.title(),
        report.size,
        report.iterations,
        if report.iterations == 1 { "" } else { "s" }
    );
    match &report.peer {
        Some(peer) => out.push_str(&format!(
            "peer: {peer}, same batches, SQL planning included\n"
        )),
        None => out.push_str(&format!(
            "Quiver only: this quiver was built without DataFusion. To time DataFusion on the \
             same batches: {REBUILD_HINT} {}\n",
            report.workload.name()
        )),
    }
    if report.workload == Workload::Tiny {
        out.push_str("target: under 50 µs per Quiver query (compile + optimize + execute)\n");
    }
    if !report.disabled_rules.is_empty() {
        out.push_str(&format!(
            "optimizer rules off in Quiver: {}\n",
            report.disabled_rules.join(", ")
        ));
    }
    if cfg!(debug_assertions) {
        out.push_str("debug build: timings are not representative (build with --release)\n");
    }
    out.push('\n');

    let peer = peer_name(report);
    let mut header = vec![
        "query".to_string(),
        "what".to_string(),
        "Quiver".to_string(),
    ];
    if let Some(peer) = peer {
        header.push(peer.to_string());
        header.push(format!("Quiver/{peer}"));
    }
    header.push("rows".to_string());
    let mut lines = vec![header];
    for query in &report.queries {
        let mut line = vec![
            query.name.clone(),
            query.description.clone(),
            format_duration(query.quiver.median),
        ];
        if peer.is_some() {
            line.push(
                query
                    .peer
                    .map(|p| format_duration(p.median))
                    .unwrap_or_default(),
            );
            line.push(query.ratio().map(format_ratio).unwrap_or_default());
        }
        line.push(rows_cell(query));
        lines.push(line);
    }
    if let Some(mean) = report.geometric_mean() {
        // Under the ratio column: query, what, Quiver, peer, ratio, rows.
        let mut line = vec![String::new(); 6];
        line[0] = "geometric mean".to_string();
        line[4] = format_ratio(mean);
        lines.push(line);
    }
    // The geometric-mean line spans the first two columns, so they are sized without it.
    let columns = lines[0].len();
    let width = |column: usize, all: bool| {
        lines
            .iter()
            .take(if all {
                lines.len()
            } else {
                report.queries.len() + 1
            })
            .map(|line| line[column].chars().count())
            .max()
            .unwrap_or(0)
    };
    let mut widths: Vec<usize> = (0..columns).map(|c| width(c, c >= 2)).collect();
    let label = "geometric mean".len();
    if widths[0] + 2 + widths[1] < label {
        widths[1] = label - 2 - widths[0];
    }
    for (index, line) in lines.iter().enumerate() {
        let mut text = String::new();
        if index > report.queries.len() {
            // The geometric mean: its label across the first two columns.
            let span = widths[0] + 2 + widths[1];
            text.push_str(&format!("{:<span$}", line[0]));
        } else {
            text.push_str(&format!(
                "{:<w0$}  {:<w1$}",
                line[0],
                line[1],
                w0 = widths[0],
                w1 = widths[1]
            ));
        }
        for (column, cell) in line.iter().enumerate().skip(2) {
            text.push_str("  ");
            let pad = widths[column].saturating_sub(cell.chars().count());
            text.push_str(&" ".repeat(pad));
            text.push_str(cell);
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

/// The report as one JSON object (medians in seconds).
pub fn report_json(report: &Report) -> Value {
    let queries: Vec<Value> = report
        .queries
        .iter()
        .map(|query| {
            json!({
                "query": query.name,
                "description": query.description,
                "quiver_seconds": seconds(query.quiver.median),
                "quiver_rows": query.quiver.rows,
                "peer_seconds": query.peer.map(|p| seconds(p.median)),
                "peer_rows": query.peer.map(|p| p.rows),
                "ratio": query.ratio(),
                "rows_agree": query.rows_agree(),
            })
        })
        .collect();
    json!({
        "workload": report.workload.name(),
        "size": report.size,
        "iterations": report.iterations,
        "disabled_rules": report.disabled_rules,
        "peer": report.peer,
        "debug_build": cfg!(debug_assertions),
        "queries": queries,
        "geometric_mean": report.geometric_mean(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quiver_benches::runner::Measurement;

    fn report(peer: bool) -> Report {
        let measurement = |micros: u64, rows: usize| Measurement {
            median: Duration::from_micros(micros),
            rows,
        };
        let query = |name: &str, quiver: u64, other: u64, other_rows: usize| QueryReport {
            name: name.into(),
            description: format!("about {name}"),
            quiver: measurement(quiver, 100),
            peer: peer.then(|| measurement(other, other_rows)),
        };
        Report {
            workload: Workload::GroupBy,
            size: "1,000 rows in x".into(),
            iterations: 3,
            disabled_rules: vec!["push_down_filter".into()],
            peer: peer.then(|| "DataFusion 55.2.0, 2 partitions".into()),
            queries: vec![
                query("q1", 250, 1_000, 100),
                query("q10", 40_000, 10_000, 99),
            ],
        }
    }

    #[test]
    fn durations_keep_three_or_four_digits() {
        assert_eq!(format_duration(Duration::from_nanos(31_240)), "31.2 µs");
        assert_eq!(format_duration(Duration::from_micros(18_240)), "18.2 ms");
        assert_eq!(format_duration(Duration::from_millis(1_234)), "1.23 s");
        assert_eq!(format_ratio(0.24), "0.24");
        assert_eq!(format_ratio(0.0123), "0.012");
        assert_eq!(format_ratio(12.0), "12.00");
    }

    #[test]
    fn the_table_has_ratios_a_mark_where_rows_differ_and_the_geometric_mean() {
        let table = report_table(&report(true));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "H2O group-by, 1,000 rows in x: median of 3 runs after one warm-up"
        );
        assert_eq!(
            lines[1],
            "peer: DataFusion 55.2.0, 2 partitions, same batches, SQL planning included"
        );
        assert_eq!(lines[2], "optimizer rules off in Quiver: push_down_filter");
        let body: Vec<&str> = lines
            .iter()
            .skip_while(|line| !line.starts_with("query"))
            .copied()
            .collect();
        assert_eq!(
            body,
            [
                "query  what         Quiver  DataFusion  Quiver/DataFusion      rows",
                "q1     about q1   250.0 µs      1.0 ms               0.25       100",
                "q10    about q10   40.0 ms     10.0 ms               4.00  100 ✗ 99",
                "geometric mean                                       1.00",
            ]
        );
    }

    #[test]
    fn without_a_peer_the_table_is_labelled_quiver_only() {
        let table = report_table(&report(false));
        assert!(table.contains(
            "Quiver only: this quiver was built without DataFusion. To time DataFusion on the \
             same batches: cargo run --release -p quiver-cli --features bench -- bench h2o"
        ));
        let body: Vec<&str> = table
            .lines()
            .skip_while(|line| !line.starts_with("query"))
            .collect();
        assert_eq!(
            body,
            [
                "query  what         Quiver  rows",
                "q1     about q1   250.0 µs   100",
                "q10    about q10   40.0 ms   100",
            ]
        );
    }

    #[test]
    fn json_carries_both_engines_and_the_mean() {
        let value = report_json(&report(true));
        assert_eq!(value["workload"], "h2o");
        assert_eq!(value["queries"][0]["query"], "q1");
        assert_eq!(value["queries"][0]["ratio"], 0.25);
        assert_eq!(value["queries"][1]["rows_agree"], false);
        assert_eq!(value["queries"][1]["peer_rows"], 99);
        assert_eq!(value["geometric_mean"], 1.0);
        let value = report_json(&report(false));
        assert_eq!(value["peer"], Value::Null);
        assert_eq!(value["queries"][0]["ratio"], Value::Null);
        assert_eq!(value["geometric_mean"], Value::Null);
    }

    #[test]
    fn command_line_options() {
        let matches = command().get_matches_from([
            "bench",
            "join",
            "--rows",
            "2.5e5",
            "--iterations",
            "2",
            "--disable-rule",
            "push_down_filter",
            "--disable-rule",
            "prune_chunks",
        ]);
        let options = bench_options(&matches).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(options.workload, Workload::Join);
        assert_eq!(options.rows, Some(250_000));
        assert_eq!(options.iterations(), 2);
        assert_eq!(options.disabled_rules, ["push_down_filter", "prune_chunks"]);
        let matches = command().get_matches_from(["bench", "h2o", "--rows", "lots"]);
        let error = bench_options(&matches).map(|_| ()).unwrap_err();
        assert_eq!(error.django_name(), "ValueError");
        assert!(command().try_get_matches_from(["bench", "h2"]).is_err());
    }
}
