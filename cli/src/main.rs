//! `quiver`: the command-line tool.
//!
//! `quiver run` executes a Django script (model classes, fixtures, QuerySets, `print`) on
//! Quiver and prints what Django would print; `quiver shell` is the interactive prompt for
//! the same language; `quiver explain` shows the plans of the QuerySets a script prints;
//! `quiver demo` builds a seeded shop dataset and tours QuerySets over it; `quiver bench`
//! times benchmark workloads against DataFusion.

mod bench;
mod demo;
mod loading;
mod script;
mod shell;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Arg, ArgAction, ArgMatches, Command};

use loading::DataLoad;
use script::{Format, Interpreter, Mode, ScriptError};

const RUN_EXAMPLES: &str = "\
Examples:
  quiver run examples/students.py
  quiver run shop.py --fixture shop.json --format json
  quiver run report.py --csv Order=orders.csv --parquet Customer=customers.parquet --format csv

With --format json each print() writes one JSON line (the protocol of
django-oracle/django_runner.py); an uncaught error writes
{\"error\": \"<ExceptionName>\", \"message\": \"...\"} as the last line and exits with status 1.";

const SHELL_EXAMPLES: &str = "\
Examples:
  quiver shell                       an empty session: define models, then query them
  quiver shell models.py --fixture data.json
                                     run the file first, then continue interactively

Expression statements echo their value (QuerySets as tables); Tab completes model, field
and method names; a line ending in ':' starts a block, finished by an empty line.";

const EXPLAIN_EXAMPLES: &str = "\
Examples:
  quiver explain examples/orders.py
  quiver explain report.py --csv Order=orders.csv

For each QuerySet the script prints: its SQL, then the logical, optimized and physical plans.";

fn data_args(command: Command) -> Command {
    command
        .arg(
            Arg::new("fixture")
                .long("fixture")
                .value_name("F.json")
                .action(ArgAction::Append)
                .help("Load a Django JSON fixture (loaddata) before the script's first query"),
        )
        .arg(
            Arg::new("csv")
                .long("csv")
                .value_name("Model=path")
                .action(ArgAction::Append)
                .help("Load a CSV file (header = field names) into a model"),
        )
        .arg(
            Arg::new("parquet")
                .long("parquet")
                .value_name("Model=path")
                .action(ArgAction::Append)
                .help("Load a Parquet file (columns = attnames) into a model"),
        )
        .arg(
            Arg::new("json")
                .long("json")
                .value_name("Model=path")
                .action(ArgAction::Append)
                .help("Load JSON rows (an array or one object per line) into a model"),
        )
}

fn cli() -> Command {
    Command::new("quiver")
        .about("Django's QuerySet API on a native columnar engine")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .after_help("Examples:\n  quiver run cli/examples/students.py --format json\n  quiver shell models.py --fixture data.json\n  quiver explain cli/examples/orders.py\n  quiver demo\n\n`quiver <command> --help` shows each command's options and examples.")
        .subcommand(
            data_args(
                Command::new("run")
                    .about("Run a Django script (models, fixtures, QuerySets, print)")
                    .arg(Arg::new("file").value_name("FILE.py").required(true))
                    .arg(
                        Arg::new("format")
                            .long("format")
                            .value_parser(["table", "json", "csv"])
                            .default_value("table")
                            .help("How print() writes values"),
                    ),
            )
            .after_help(RUN_EXAMPLES),
        )
        .subcommand(
            data_args(
                Command::new("shell")
                    .about("An interactive Django shell on Quiver")
                    .arg(Arg::new("file").value_name("FILE.py")),
            )
            .after_help(SHELL_EXAMPLES),
        )
        .subcommand(
            data_args(
                Command::new("explain")
                    .about("Show the SQL and the plans of each QuerySet a script prints")
                    .arg(Arg::new("file").value_name("FILE.py").required(true)),
            )
            .after_help(EXPLAIN_EXAMPLES),
        )
        .subcommand(
            Command::new("demo")
                .about("Build a seeded shop and tour QuerySets over it (plans, results, timings)")
                .arg(
                    Arg::new("options")
                        .num_args(0..)
                        .trailing_var_arg(true)
                        .allow_hyphen_values(true)
                        .value_name("--orders N | --seed S | --no-plans"),
                )
                .after_help("Examples:\n  quiver demo\n  quiver demo --orders 3e6 --no-plans"),
        )
        .subcommand(bench::command())
}

fn data_loads(matches: &ArgMatches) -> Result<Vec<DataLoad>, String> {
    let mut loads = vec![];
    for path in matches.get_many::<String>("fixture").into_iter().flatten() {
        loads.push(DataLoad::Fixture(PathBuf::from(path)));
    }
    for (flag, make) in [
        ("csv", DataLoad::Csv as fn(String, PathBuf) -> DataLoad),
        ("parquet", DataLoad::Parquet),
        ("json", DataLoad::Json),
    ] {
        for spec in matches.get_many::<String>(flag).into_iter().flatten() {
            let (model, path) = spec
                .split_once('=')
                .ok_or_else(|| format!("--{flag} expects Model=path, got \"{spec}\""))?;
            loads.push(make(model.to_string(), PathBuf::from(path)));
        }
    }
    Ok(loads)
}

/// Reads and parses a script, or the error line for it.
fn load_script(path: &Path) -> Result<(String, Vec<script::ast::Stmt>), ScriptError> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| ScriptError::new("FileNotFoundError", format!("{}: {e}", path.display())))?;
    let name = path.display().to_string();
    let body = script::parser::parse(&source, &name)?;
    Ok((name, body))
}

fn interpreter(path: Option<&Path>, mode: Mode, loads: Vec<DataLoad>) -> Interpreter {
    let name = path
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "<shell>".into());
    let base = path
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    let mut interp = Interpreter::new(&name, base, mode, Box::new(std::io::stdout()));
    interp.on_ready = Some(loading::loader(loads));
    interp
}

fn run_file(matches: &ArgMatches, mode: Mode) -> ExitCode {
    let path = PathBuf::from(
        matches
            .get_one::<String>("file")
            .cloned()
            .unwrap_or_default(),
    );
    let loads = match data_loads(matches) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut interp = interpreter(Some(&path), mode, loads);
    let result = load_script(&path).and_then(|(_, body)| {
        interp.run_module(&body)?;
        interp.register_pending()
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&mut interp, mode, &e);
            ExitCode::FAILURE
        }
    }
}

/// Writes an uncaught error: the JSON error line in `--format json`, otherwise Python's
/// traceback-style line on stderr.
fn report(interp: &mut Interpreter, mode: Mode, e: &ScriptError) {
    if mode == Mode::Print(Format::Json) {
        let mut line = String::from("{\"error\":");
        script::output::json_string(&e.kind, &mut line);
        line.push_str(",\"message\":");
        script::output::json_string(&e.message, &mut line);
        line.push('}');
        let _ = interp.write_line(&line);
    }
    eprintln!("{e}");
}

fn main() -> ExitCode {
    let matches = cli().get_matches();
    match matches.subcommand() {
        Some(("run", m)) => {
            let format = match m.get_one::<String>("format").map(String::as_str) {
                Some("json") => Format::Json,
                Some("csv") => Format::Csv,
                _ => Format::Table,
            };
            run_file(m, Mode::Print(format))
        }
        Some(("explain", m)) => run_file(m, Mode::Explain),
        Some(("shell", m)) => {
            let loads = match data_loads(m) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let path = m.get_one::<String>("file").map(PathBuf::from);
            let mut interp = interpreter(path.as_deref(), Mode::Print(Format::Table), loads);
            if let Some(path) = &path {
                if let Err(e) = load_script(path).and_then(|(_, body)| interp.run_module(&body)) {
                    eprintln!("{e}");
                }
            }
            match shell::run(interp) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(("demo", m)) => {
            let args: Vec<String> = m
                .get_many::<String>("options")
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            match demo::DemoOptions::parse(&args).and_then(|o| demo::run(&o)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    eprintln!("error: {message}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(("bench", m)) => bench::run(m),
        _ => ExitCode::FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_is_well_formed() {
        cli().debug_assert();
        let m = cli().get_matches_from([
            "quiver",
            "run",
            "a.py",
            "--csv",
            "Order=o.csv",
            "--format",
            "json",
        ]);
        let (_, run) = m.subcommand().unwrap();
        let loads = data_loads(run).unwrap();
        assert!(
            matches!(&loads[0], DataLoad::Csv(model, path) if model == "Order" && path == Path::new("o.csv"))
        );
    }
}
