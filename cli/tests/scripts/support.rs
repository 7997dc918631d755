//! Running the `quiver` binary and comparing JSON lines the way
//! `django-oracle/compare.py` does.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one run printed.
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub success: bool,
}

/// The examples folder.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Runs `quiver <args>` with `stdin`.
pub fn quiver(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_quiver"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("HOME", std::env::temp_dir())
        .spawn()
        .expect("the quiver binary runs");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("stdin accepts the input");
    let out = child.wait_with_output().expect("quiver finishes");
    Output {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        success: out.status.success(),
    }
}

/// Writes `source` to a fresh folder and runs `quiver run FILE --format <format> <extra>`.
pub fn run_source(source: &str, format: &str, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("script.py");
    std::fs::write(&path, source).expect("the script is written");
    let path = path.to_string_lossy().into_owned();
    let mut args = vec!["run", path.as_str(), "--format", format];
    args.extend_from_slice(extra);
    quiver(&args, "")
}

/// Differences between expected and actual JSON lines (empty when they match): numbers
/// compare with a relative tolerance of 1e-9, object keys in any order, and an expected
/// error line matches an error line of the same class.
pub fn compare(expected: &str, actual: &str) -> Vec<String> {
    let expected: Vec<&str> = expected.lines().collect();
    let actual: Vec<&str> = actual.lines().collect();
    let mut problems = vec![];
    if expected.len() != actual.len() {
        problems.push(format!(
            "expected {} lines, got {}",
            expected.len(),
            actual.len()
        ));
    }
    for (i, (e, a)) in expected.iter().zip(&actual).enumerate() {
        let e: serde_json::Value = match serde_json::from_str(e) {
            Ok(v) => v,
            Err(err) => {
                problems.push(format!("line {}: expected is not JSON: {err}", i + 1));
                continue;
            }
        };
        let a: serde_json::Value = match serde_json::from_str(a) {
            Ok(v) => v,
            Err(err) => {
                problems.push(format!("line {}: actual is not JSON ({err}): {a}", i + 1));
                continue;
            }
        };
        if let Some(class) = e.get("error").and_then(|c| c.as_str()) {
            if a.get("error").and_then(|c| c.as_str()) != Some(class) {
                problems.push(format!("line {}: expected error {class}, got {a}", i + 1));
            }
            continue;
        }
        if !same(&e, &a) {
            problems.push(format!("line {}: expected {e}, got {a}", i + 1));
        }
    }
    problems
}

fn same(e: &serde_json::Value, a: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (e, a) {
        (J::Number(x), J::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x == y || (x - y).abs() <= 1e-9_f64.max(1e-9 * x.abs().max(y.abs()))
        }
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => e == a,
    }
}
