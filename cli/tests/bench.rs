//! `quiver bench` end to end at a tiny scale: the table's shape, the JSON report, the SVG
//! chart and the errors. Timings are never asserted. Built without the `bench` feature the
//! table has Quiver's column only (and says so); with it (`cargo test -p quiver-cli
//! --features bench`) DataFusion's column, the ratios and the geometric mean are checked too.

use std::process::Command;

struct Output {
    stdout: String,
    stderr: String,
    success: bool,
}

fn quiver(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_quiver"))
        .args(args)
        .output()
        .expect("the quiver binary runs");
    Output {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        success: out.status.success(),
    }
}

const PEER: bool = cfg!(feature = "bench");

/// The table's lines from its header ("query …") on.
fn table_body(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .skip_while(|line| !line.starts_with("query "))
        .take_while(|line| !line.is_empty() && !line.starts_with("chart:"))
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect()
        })
        .collect()
}

#[test]
fn h2o_at_a_thousand_rows_prints_one_line_per_question() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let svg = dir.path().join("h2o.svg");
    let svg = svg.to_string_lossy().into_owned();
    let out = quiver(&[
        "bench",
        "h2o",
        "--rows",
        "1000",
        "--iterations",
        "1",
        "--svg",
        &svg,
    ]);
    assert!(out.success, "{}{}", out.stdout, out.stderr);
    let mut lines = out.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("H2O group-by, 1,000 rows in x: median of 1 run after one warm-up")
    );
    let label = lines.next().unwrap_or_default();
    if PEER {
        assert!(label.starts_with("peer: DataFusion 55."), "{label}");
    } else {
        assert_eq!(
            label,
            "Quiver only: this quiver was built without DataFusion. To time DataFusion on the \
             same batches: cargo run --release -p quiver-cli --features bench -- bench h2o"
        );
    }
    let body = table_body(&out.stdout);
    let header: Vec<&str> = body[0].iter().map(String::as_str).collect();
    if PEER {
        assert_eq!(
            header,
            [
                "query",
                "what",
                "Quiver",
                "DataFusion",
                "Quiver/DataFusion",
                "rows"
            ]
        );
    } else {
        assert_eq!(header, ["query", "what", "Quiver", "rows"]);
    }
    let questions: Vec<&str> = body[1..11].iter().map(|line| line[0].as_str()).collect();
    assert_eq!(
        questions,
        ["q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10"]
    );
    for line in &body[1..11] {
        assert_eq!(line.len(), header.len(), "{line:?}");
        assert!(line[2].ends_with(" ms") || line[2].ends_with(" µs") || line[2].ends_with(" s"));
        assert!(
            !line.last().is_some_and(|rows| rows.contains('✗')),
            "{line:?}"
        );
    }
    // q1: the 100 values of id1; q3: id3 has rows / K = 10 values; q10: nearly unique keys.
    assert_eq!(body[1][1], "sum v1 by id1");
    assert_eq!(body[1].last().map(String::as_str), Some("100"));
    assert_eq!(body[3].last().map(String::as_str), Some("10"));
    if PEER {
        assert_eq!(body.len(), 12);
        assert_eq!(body[11][0], "geometric mean");
    } else {
        assert_eq!(body.len(), 11);
    }
    let chart = std::fs::read_to_string(&svg).expect("the chart is written");
    assert!(chart.starts_with("<svg"));
    assert!(out.stdout.contains(&format!("chart: {svg}")));
}

#[test]
fn tiny_as_json() {
    let out = quiver(&["bench", "tiny", "--iterations", "3", "--format", "json"]);
    assert!(out.success, "{}{}", out.stdout, out.stderr);
    let report: serde_json::Value =
        serde_json::from_str(out.stdout.trim()).expect("one JSON object");
    assert_eq!(report["workload"], "tiny");
    assert_eq!(report["size"], "10 rows in item");
    assert_eq!(report["iterations"], 3);
    let queries = report["queries"].as_array().expect("a list of queries");
    let rows: Vec<(&str, u64)> = queries
        .iter()
        .map(|q| {
            (
                q["query"].as_str().unwrap_or_default(),
                q["quiver_rows"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("filter", 7),
            ("values_count", 3),
            ("order_slice", 3),
            ("get_pk", 1)
        ]
    );
    for query in queries {
        assert!(query["quiver_seconds"].as_f64().is_some_and(|s| s > 0.0));
        assert_eq!(query["rows_agree"].as_bool(), PEER.then_some(true));
    }
    assert_eq!(report["peer"].is_string(), PEER);
}

/// All 22 TPC-H queries at a tiny scale factor, with the row counts DataFusion gives at SF 0.01
/// (`benches/tests/tpch.rs` checks the rows themselves).
#[test]
fn tpch_at_a_tiny_scale_runs_all_22_queries() {
    let out = quiver(&[
        "bench",
        "tpch",
        "--scale",
        "0.01",
        "--iterations",
        "1",
        "--format",
        "json",
    ]);
    assert!(out.success, "{}{}", out.stdout, out.stderr);
    let report: serde_json::Value =
        serde_json::from_str(out.stdout.trim()).expect("one JSON object");
    assert_eq!(report["workload"], "tpch");
    let queries = report["queries"].as_array().expect("a list of queries");
    let rows: Vec<u64> = queries
        .iter()
        .map(|q| q["quiver_rows"].as_u64().unwrap_or_default())
        .collect();
    assert_eq!(
        rows,
        [4, 4, 10, 5, 5, 1, 4, 2, 173, 20, 359, 2, 33, 1, 1, 296, 1, 2, 1, 1, 1, 7]
    );
    for query in queries {
        assert_eq!(query["rows_agree"].as_bool(), PEER.then_some(true));
    }
}

#[test]
fn explain_prints_the_chosen_queries_analyzed_plans() {
    let out = quiver(&[
        "bench",
        "join",
        "--rows",
        "1000",
        "--queries",
        "j3,j1",
        "--explain",
    ]);
    assert!(out.success, "{}", out.stderr);
    let headings: Vec<&str> = out
        .stdout
        .lines()
        .filter(|line| line.starts_with("== j"))
        .collect();
    assert_eq!(headings, ["== j1", "== j3"]);
    assert!(out.stdout.contains("LEFT JOIN"), "{}", out.stdout);
    assert!(out.stdout.contains("rows="), "{}", out.stdout);
    // Nothing is timed.
    assert!(!out.stdout.contains("median"), "{}", out.stdout);
}

#[test]
fn bad_options_fail_with_a_django_named_error_before_any_work() {
    let out = quiver(&["bench", "h2o", "--disable-rule", "push_down_filters"]);
    assert!(!out.success);
    assert!(
        out.stderr.starts_with(
            "error: ValueError: unknown optimizer rule \"push_down_filters\"; rules are: "
        ),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());

    let out = quiver(&["bench", "join", "--rows", "many"]);
    assert!(!out.success);
    assert_eq!(
        out.stderr.trim(),
        "error: ValueError: --rows: \"many\" is not a row count (examples: 1e7, 10000000)"
    );

    let out = quiver(&["bench", "join", "--queries", "j1,j6"]);
    assert_eq!(
        out.stderr.trim(),
        "error: ValueError: join has no query \"j6\"; its queries are: j1, j2, j3, j4, j5"
    );

    let out = quiver(&["bench", "h2o", "--scale", "1"]);
    assert_eq!(
        out.stderr.trim(),
        "error: ValueError: --scale applies to tpch only, not h2o; size it with --rows"
    );

    // The report is printed; the chart cannot be written.
    let out = quiver(&[
        "bench",
        "tiny",
        "--iterations",
        "1",
        "--svg",
        "/nonexistent/dir/t.svg",
    ]);
    assert!(!out.success);
    assert!(out.stdout.contains("get_pk"), "{}", out.stdout);
    assert!(
        out.stderr
            .starts_with("error: OSError: --svg: /nonexistent/dir/t.svg: "),
        "{}",
        out.stderr
    );

    // Rejected by the argument parser (status 2) with the workloads listed.
    let out = quiver(&["bench", "h2"]);
    assert!(!out.success);
    assert!(
        out.stderr
            .contains("[possible values: h2o, join, tpch, leaderboard, tiny]"),
        "{}",
        out.stderr
    );
}
