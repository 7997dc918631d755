//! `quiver shell`: an interactive prompt for the script language (rustyline: history,
//! multi-line blocks, Tab completion of model, field and method names). Expression
//! statements echo their value as Python's REPL does; an error is shown and the session
//! goes on.

use std::cell::RefCell;
use std::rc::Rc;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use crate::script::queryset::QUERYSET_METHODS;
use crate::script::{parser, Interpreter};

/// Completion candidates, refreshed after every statement.
struct Names(Rc<RefCell<Vec<String>>>);

impl Completer for Names {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let word = &line[start..pos];
        let names = self.0.borrow();
        let mut found: Vec<Pair> = names
            .iter()
            .filter(|n| n.starts_with(word))
            .map(|n| Pair {
                display: n.clone(),
                replacement: n.clone(),
            })
            .collect();
        found.dedup_by(|a, b| a.display == b.display);
        Ok((start, found))
    }
}

impl Hinter for Names {
    type Hint = String;
}
impl Highlighter for Names {}
impl Validator for Names {}
impl Helper for Names {}

/// Every name worth completing: variables, models and their fields, QuerySet methods.
fn completion_names(interp: &Interpreter) -> Vec<String> {
    let mut names = interp.global_names();
    for model in interp.db.registry().models() {
        names.push(model.name().to_string());
        for field in model.fields() {
            names.push(field.name().to_string());
            names.push(field.attname().to_string());
        }
    }
    names.extend(QUERYSET_METHODS.iter().map(|m| m.to_string()));
    names.extend(
        [
            "objects", "print", "Q", "F", "Count", "Sum", "Avg", "Min", "Max", "Value", "Case",
            "When",
        ]
        .map(String::from),
    );
    names.sort();
    names.dedup();
    names
}

/// True while the input so far needs more lines (an open block or bracket).
fn needs_more(buffer: &str) -> bool {
    let last = buffer.lines().last().unwrap_or("");
    if buffer.lines().count() > 1 {
        return !last.trim().is_empty();
    }
    let depth: i32 = buffer
        .chars()
        .map(|c| match c {
            '(' | '[' | '{' => 1,
            ')' | ']' | '}' => -1,
            _ => 0,
        })
        .sum();
    depth > 0 || last.trim_end().ends_with(':') || last.trim_end().ends_with('\\')
}

/// Runs the prompt until end of input.
pub fn run(mut interp: Interpreter) -> Result<(), String> {
    interp.echo = true;
    interp.file = "<shell>".into();
    let names = Rc::new(RefCell::new(completion_names(&interp)));
    let mut editor: Editor<Names, rustyline::history::DefaultHistory> =
        Editor::new().map_err(|e| e.to_string())?;
    editor.set_helper(Some(Names(Rc::clone(&names))));
    let history =
        std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".quiver_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!("Quiver shell: Django's QuerySet API on Quiver. Ctrl-D exits.");
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() { ">>> " } else { "... " };
        match editor.readline(prompt) {
            Ok(line) => {
                buffer.push_str(&line);
                buffer.push('\n');
                if needs_more(&buffer) {
                    continue;
                }
                let source = std::mem::take(&mut buffer);
                if source.trim().is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(source.trim_end());
                let result =
                    parser::parse(&source, "<shell>").and_then(|body| interp.run_module(&body));
                if let Err(e) = result {
                    eprintln!("{e}");
                }
                *names.borrow_mut() = completion_names(&interp);
            }
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                println!("KeyboardInterrupt");
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_brackets_continue_until_complete() {
        assert!(needs_more("for x in y:\n"));
        assert!(needs_more("for x in y:\n    print(x)\n"));
        assert!(!needs_more("for x in y:\n    print(x)\n\n"));
        assert!(needs_more("print(1,\n"));
        assert!(!needs_more("print(1)\n"));
    }
}
