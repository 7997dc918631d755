//! `quiver`: the command-line tool.
//!
//! `quiver demo` builds a seeded shop dataset in memory and tours the QuerySets Django's
//! optimization advice teaches, printing each QuerySet, its plan, its result and its time.

mod demo;

use std::process::ExitCode;

const USAGE: &str = "\
quiver — Django's QuerySet API on a native columnar engine

USAGE:
    quiver demo [--orders N] [--seed S] [--no-plans]
        Build a seeded in-memory shop (customers, products, orders) and run a tour of
        QuerySets: each is printed with its plan, its result table and its run time.
    quiver help
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo::DemoOptions::parse(&args[1..]).and_then(|o| demo::run(&o)),
        None | Some("help" | "--help" | "-h") => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command \"{other}\"\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
