//! `quiver shell`: an interactive prompt for the script language (rustyline: history,
//! multi-line blocks, Tab completion of model, field and method names). Expression
//! statements echo their value as Python's REPL does; an error is shown and the session
//! goes on.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use crate::script::queryset::QUERYSET_METHODS;
use crate::script::{parser, GlobalKind, Interpreter};

/// What completion knows, refreshed after every statement: the top-level names and what
/// they hold, and each model's fields (name, attname, related model).
#[derive(Debug, Default)]
struct Vocabulary {
    /// Every name worth offering where nothing narrower applies.
    names: Vec<String>,
    /// Top-level names bound to a model class, QuerySet, instance or module.
    kinds: HashMap<String, GlobalKind>,
    /// Fields by model: `(name, attname, related model)`.
    fields: HashMap<String, Vec<(String, String, Option<String>)>>,
}

/// Completion candidates.
struct Names(Rc<RefCell<Vocabulary>>);

impl Completer for Names {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, found) = self.0.borrow().complete(line, pos);
        let pairs = found
            .into_iter()
            .map(|n| Pair {
                display: n.clone(),
                replacement: n,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for Names {
    type Hint = String;
}
impl Highlighter for Names {}
impl Validator for Names {}
impl Helper for Names {}

/// Field lookups and transforms offered after `field__`.
const LOOKUPS: [&str; 24] = [
    "exact",
    "iexact",
    "contains",
    "icontains",
    "in",
    "gt",
    "gte",
    "lt",
    "lte",
    "startswith",
    "istartswith",
    "endswith",
    "iendswith",
    "range",
    "isnull",
    "regex",
    "iregex",
    "date",
    "year",
    "month",
    "day",
    "week_day",
    "hour",
    "lower",
];

/// Calls whose arguments name fields of the QuerySet's model.
const FIELD_ARGUMENT_CALLS: [&str; 24] = [
    "filter",
    "exclude",
    "get",
    "values",
    "values_list",
    "order_by",
    "only",
    "defer",
    "select_related",
    "prefetch_related",
    "create",
    "get_or_create",
    "update_or_create",
    "update",
    "latest",
    "earliest",
    "F",
    "Q",
    "Count",
    "Sum",
    "Avg",
    "Min",
    "Max",
    "Prefetch",
];

/// Names offered after `module.`.
fn module_names(module: &str) -> &'static [&'static str] {
    match module {
        "transaction" => &["atomic", "on_commit", "set_rollback"],
        "connection" => &["queries"],
        "timezone" => &["now"],
        "datetime" => &["date", "datetime", "time", "timedelta"],
        "models" => &[
            "Model",
            "CharField",
            "TextField",
            "IntegerField",
            "BigIntegerField",
            "FloatField",
            "DecimalField",
            "BooleanField",
            "DateField",
            "DateTimeField",
            "TimeField",
            "ForeignKey",
            "OneToOneField",
            "ManyToManyField",
            "CASCADE",
            "PROTECT",
            "SET_NULL",
            "Q",
            "F",
            "Count",
            "Sum",
        ],
        _ => &[],
    }
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

impl Vocabulary {
    fn from_interpreter(interp: &Interpreter) -> Vocabulary {
        let mut fields = HashMap::new();
        let mut names = interp.global_names();
        for model in interp.db.registry().models() {
            names.push(model.name().to_string());
            let list = model
                .fields()
                .iter()
                .map(|f| {
                    let related = f.relation().map(|r| {
                        if r.to == "self" {
                            model.name().to_string()
                        } else {
                            r.to.clone()
                        }
                    });
                    (f.name().to_string(), f.attname().to_string(), related)
                })
                .collect();
            fields.insert(model.name().to_string(), list);
        }
        names.extend(strings(&QUERYSET_METHODS));
        names.extend(strings(&[
            "objects",
            "print",
            "Q",
            "F",
            "Count",
            "Sum",
            "Avg",
            "Min",
            "Max",
            "Value",
            "Case",
            "When",
            "Prefetch",
            "transaction",
            "connection",
        ]));
        names.sort();
        names.dedup();
        Vocabulary {
            names,
            kinds: interp.global_kinds().into_iter().collect(),
            fields,
        }
    }

    /// The start of the word at `pos` and the names that complete it, narrowed by what
    /// precedes it: `Model.` offers `objects`, a QuerySet's `.` its methods, an instance's
    /// `.` its fields, and the arguments of `filter(`, `values(`, `F(`, … the model's fields,
    /// with lookups and the related model's fields after `__`.
    fn complete(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = line.get(..pos).unwrap_or(line);
        let start = word_start(before);
        let word = &before[start..];
        let candidates = self
            .after_dot(&before[..start])
            .or_else(|| self.in_arguments(&before[..start], word))
            .unwrap_or_else(|| self.names.clone());
        let mut found: Vec<String> = candidates
            .into_iter()
            .filter(|n| n.starts_with(word))
            .collect();
        found.sort();
        found.dedup();
        (start, found)
    }

    /// What a `receiver.` offers, when the receiver is known.
    fn after_dot(&self, before: &str) -> Option<Vec<String>> {
        let chain = before.strip_suffix('.')?;
        let (root, rest) = chain_root(chain)?;
        if let Some(kind) = self.kinds.get(root) {
            return match kind {
                GlobalKind::Model(_) if rest.is_empty() => Some(strings(&[
                    "objects",
                    "DoesNotExist",
                    "MultipleObjectsReturned",
                ])),
                GlobalKind::Model(_) | GlobalKind::QuerySet(_) => Some(strings(&QUERYSET_METHODS)),
                GlobalKind::Instance(model) if rest.is_empty() => {
                    let mut names: Vec<String> = self
                        .fields
                        .get(model)
                        .into_iter()
                        .flatten()
                        .flat_map(|(name, attname, _)| [name.clone(), attname.clone()])
                        .collect();
                    names.extend(strings(&["pk", "save", "delete", "refresh_from_db"]));
                    Some(names)
                }
                GlobalKind::Instance(_) => None,
                GlobalKind::Module(module) => Some(strings(module_names(module))),
            };
        }
        let names = module_names(root);
        (rest.is_empty() && !names.is_empty()).then(|| strings(names))
    }

    /// What the arguments of `qs.filter(` (and the other field-naming calls) offer.
    fn in_arguments(&self, before: &str, word: &str) -> Option<Vec<String>> {
        let (callee, _) = call_at(before)?;
        // The model: the chain before the method, or for `F(`, `Count(`… inside a method
        // call, that call's chain.
        let mut model = callee
            .strip_suffix('.')
            .and_then(|chain| self.chain_model(chain))
            .or_else(|| {
                let outer = innermost_open_paren(callee)?;
                self.chain_model(callee[..outer].rsplit_once('.')?.0)
            })?;
        let mut parts: Vec<&str> = word.split("__").collect();
        parts.pop();
        let mut prefix = String::new();
        for part in &parts {
            let related = self
                .fields
                .get(&model)?
                .iter()
                .find(|(name, _, _)| name == part)
                .and_then(|(_, _, related)| related.clone());
            prefix.push_str(part);
            prefix.push_str("__");
            match related {
                Some(next) => model = next,
                None => return Some(LOOKUPS.iter().map(|l| format!("{prefix}{l}")).collect()),
            }
        }
        let mut names: Vec<String> = self
            .fields
            .get(&model)?
            .iter()
            .flat_map(|(name, attname, _)| {
                [format!("{prefix}{name}"), format!("{prefix}{attname}")]
            })
            .collect();
        if parts.is_empty() {
            names.push("pk".into());
        } else {
            names.extend(LOOKUPS.iter().map(|l| format!("{prefix}{l}")));
        }
        Some(names)
    }

    /// The model a chain (`Customer.objects.filter(x=1)`, `qs`) is a QuerySet of.
    fn chain_model(&self, chain: &str) -> Option<String> {
        let (root, _) = chain_root(chain)?;
        match self.kinds.get(root)? {
            GlobalKind::Model(model) | GlobalKind::QuerySet(model) => Some(model.clone()),
            _ => None,
        }
    }
}

/// The innermost call still open at the end of `text` whose arguments name fields: the
/// text before its name, and the name (`qs.filter(a=1, b` → `("qs.", "filter")`).
fn call_at(text: &str) -> Option<(&str, &str)> {
    let open = innermost_open_paren(text)?;
    let callee = &text[..open];
    let start = word_start(callee);
    let name = &callee[start..];
    if FIELD_ARGUMENT_CALLS.contains(&name) {
        Some((&callee[..start], name))
    } else {
        call_at(callee)
    }
}

/// Where the name that ends `text` starts (a byte position on a character boundary).
fn word_start(text: &str) -> usize {
    text.char_indices()
        .rev()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(0, |(i, c)| i + c.len_utf8())
}

/// The first name of a method chain ending at the end of `text`, and the rest of it:
/// `x = Customer.objects.filter(a=1)` → `("Customer", ".objects.filter(a=1)")`.
fn chain_root(text: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    let mut start = text.len();
    for (i, c) in text.char_indices().rev() {
        match c {
            ')' | ']' => depth += 1,
            '(' | '[' if depth > 0 => depth -= 1,
            '(' | '[' => break,
            _ if depth > 0 => {}
            c if c.is_alphanumeric() || c == '_' || c == '.' => {}
            _ => break,
        }
        start = i;
    }
    let chain = &text[start..];
    let end = chain
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(chain.len());
    let root = &chain[..end];
    (!root.is_empty()).then_some((root, &chain[end..]))
}

/// The position of the innermost `(` still open at the end of `text`.
fn innermost_open_paren(text: &str) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in text.char_indices().rev() {
        match c {
            ')' | ']' => depth += 1,
            '(' if depth == 0 => return Some(i),
            '(' | '[' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// True while the input so far needs more lines (an open block or bracket).
fn needs_more(buffer: &str) -> bool {
    let scan = scan(buffer);
    if scan.depth > 0 || scan.open_string {
        return true;
    }
    let last = buffer.lines().last().unwrap_or("");
    if last.trim_end().ends_with('\\') {
        return true;
    }
    // A block (`for ...:`) ends at an empty line, as in Python's REPL.
    scan.block && !last.trim().is_empty()
}

/// What a scan of the input so far found, outside strings and comments.
struct Scan {
    /// Open brackets.
    depth: i32,
    /// A string literal is still open (a triple-quoted one spans lines).
    open_string: bool,
    /// Some line (outside brackets) ends with `:`, so a block is open.
    block: bool,
}

fn scan(buffer: &str) -> Scan {
    let chars: Vec<char> = buffer.chars().collect();
    let mut depth = 0i32;
    let mut quote: Option<(char, bool)> = None;
    let mut block = false;
    let mut last_code = ' ';
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let triple = chars
            .get(i..i + 3)
            .is_some_and(|t| t.iter().all(|x| *x == c));
        match quote {
            Some((q, long)) => {
                if c == '\\' {
                    i += 2;
                    continue;
                }
                if c == q && (!long || triple) {
                    quote = None;
                    i += if long { 3 } else { 1 };
                    last_code = q;
                    continue;
                }
                if c == '\n' && !long {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some((c, triple));
                    i += if triple { 3 } else { 1 };
                    continue;
                }
                '#' => {
                    while i < chars.len() && chars[i] != '\n' {
                        i += 1;
                    }
                    continue;
                }
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                '\n' if depth <= 0 && last_code == ':' => block = true,
                _ => {}
            },
        }
        if quote.is_none() && !c.is_whitespace() {
            last_code = c;
        }
        i += 1;
    }
    if depth <= 0 && last_code == ':' {
        block = true;
    }
    Scan {
        depth,
        open_string: quote.is_some_and(|(_, long)| long),
        block,
    }
}

/// Runs the prompt until end of input.
pub fn run(mut interp: Interpreter) -> Result<(), String> {
    interp.echo = true;
    interp.file = "<shell>".into();
    let names = Rc::new(RefCell::new(Vocabulary::from_interpreter(&interp)));
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
                *names.borrow_mut() = Vocabulary::from_interpreter(&interp);
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
        // Brackets and colons inside strings and comments do not count.
        assert!(!needs_more("print(':(')  # (\n"));
        assert!(!needs_more("d = {'a': 1}\n"));
        // A bracketed expression over several lines ends when the brackets close.
        assert!(needs_more("qs = Order.objects.filter(\n"));
        assert!(!needs_more(
            "qs = Order.objects.filter(\n    amount__gt=1)\n"
        ));
        assert!(needs_more("s = \"\"\"two\nlines\n"));
        assert!(needs_more("with transaction.atomic():  # go\n    x = 1\n"));
    }
    fn vocabulary() -> Vocabulary {
        let source = "from django.db import models
class Customer(models.Model):
    name = models.CharField(max_length=9)
class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
    amount = models.IntegerField()
qs = Order.objects.all()
ann = Customer.objects.create(name='a')
";
        let mut interp = Interpreter::new(
            "t.py",
            std::path::PathBuf::from("."),
            crate::script::Mode::Print(crate::script::Format::Json),
            Box::new(std::io::sink()),
        );
        let body = parser::parse(source, "t.py").expect("the script parses");
        interp.run_module(&body).expect("the script runs");
        Vocabulary::from_interpreter(&interp)
    }

    fn complete(v: &Vocabulary, line: &str) -> Vec<String> {
        v.complete(line, line.len()).1
    }

    #[test]
    fn completion_follows_what_precedes_the_word() {
        let v = vocabulary();
        assert_eq!(complete(&v, "Order.o"), ["objects"]);
        assert_eq!(
            complete(&v, "Order.objects.filter(amount__gt=1).ord"),
            ["order_by"]
        );
        assert_eq!(complete(&v, "qs.update"), ["update", "update_or_create"]);
        assert_eq!(complete(&v, "ann.na"), ["name"]);
        assert_eq!(complete(&v, "transaction.on"), ["on_commit"]);
        assert_eq!(
            complete(&v, "Order.objects.filter(cus"),
            ["customer", "customer_id"]
        );
        assert_eq!(complete(&v, "qs.exclude(customer__na"), ["customer__name"]);
        assert_eq!(
            complete(&v, "qs.filter(amount__g"),
            ["amount__gt", "amount__gte"]
        );
        assert_eq!(complete(&v, "Order.objects.values(\"am"), ["amount"]);
        assert_eq!(complete(&v, "qs.annotate(total=Sum(\"am"), ["amount"]);
        let (start, _) = v.complete("x = qs.filter(amo", 17);
        assert_eq!(start, 14);
        // Non-ASCII text before the word.
        assert_eq!(
            complete(&v, "x = '→'; qs.up"),
            ["update", "update_or_create"]
        );
        assert_eq!(v.complete("é→Or", 7).0, 5);
        // Elsewhere: every known name.
        assert!(complete(&v, "Cu").contains(&"Customer".to_string()));
        assert!(complete(&v, "q").contains(&"qs".to_string()));
    }
}
