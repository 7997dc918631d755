//! How `print()` writes values: the `--format json` protocol (one JSON line per call, as
//! `django-oracle/django_runner.py` prints it), Python's own text (`--format table`, with
//! QuerySets and lists of rows drawn as tables) and CSV.

use std::fmt::Write as _;

use super::values::{datetime_text, decimal_text, float_repr, time_text, Value};

/// The output format of `print()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// A value already evaluated for printing: QuerySets are materialized into lists and model
/// instances into their fields, so writing needs no interpreter.
#[derive(Debug, Clone)]
pub enum Printable {
    Plain(Value),
    /// A model instance: its `str()`, its `repr()` and its fields by attname (then
    /// annotations).
    Instance {
        str: String,
        text: String,
        fields: Vec<(String, Printable)>,
    },
    List(Vec<Printable>),
    Tuple(Vec<Printable>),
    Dict(Vec<(Printable, Printable)>),
    /// A sorted set.
    Set(Vec<Printable>),
    /// A QuerySet's rows, with Django's `repr()` for the text format and the selected
    /// column names (table headers of `values_list()` rows).
    QuerySet {
        rows: Vec<Printable>,
        repr: String,
        columns: Vec<String>,
    },
}

/// One `print()` line in JSON.
pub fn json_line(args: &[Printable]) -> String {
    let mut out = String::new();
    if let [one] = args {
        write_json(one, &mut out);
    } else {
        out.push('[');
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_json(a, &mut out);
        }
        out.push(']');
    }
    out
}

/// Django runner's `json.dumps(str)`: ASCII escapes off, `\uXXXX` for control characters.
pub fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_json(value: &Printable, out: &mut String) {
    match value {
        Printable::Plain(v) => write_plain_json(v, out),
        Printable::Instance { fields, .. } => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(k, out);
                out.push(':');
                write_json(v, out);
            }
            out.push('}');
        }
        Printable::List(items)
        | Printable::Tuple(items)
        | Printable::Set(items)
        | Printable::QuerySet { rows: items, .. } => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(v, out);
            }
            out.push(']');
        }
        Printable::Dict(pairs) => {
            out.push('{');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                // Keys: strings as they are, anything else by its JSON text as a string.
                match k {
                    Printable::Plain(Value::Str(s)) => json_string(s, out),
                    other => {
                        let mut text = String::new();
                        write_json(other, &mut text);
                        if text.starts_with('"') {
                            out.push_str(&text);
                        } else {
                            json_string(&text, out);
                        }
                    }
                }
                out.push(':');
                write_json(v, out);
            }
            out.push('}');
        }
    }
}

fn write_plain_json(value: &Value, out: &mut String) {
    match value {
        Value::None => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => {
            if f.is_nan() {
                out.push_str("\"NaN\"");
            } else if f.is_infinite() {
                out.push_str(if *f > 0.0 { "\"inf\"" } else { "\"-inf\"" });
            } else {
                out.push_str(&float_repr(*f));
            }
        }
        Value::Decimal(d) => out.push_str(&decimal_text(d)),
        Value::Str(s) => json_string(s, out),
        Value::Date(d) => json_string(&d.format("%Y-%m-%d").to_string(), out),
        Value::DateTime(d) => json_string(&datetime_text(d, 'T'), out),
        Value::Time(t) => json_string(&time_text(t), out),
        Value::TimeDelta(d) => {
            let micros = d.num_microseconds().unwrap_or(0);
            if micros % 1_000_000 == 0 {
                let _ = write!(out, "{}", micros / 1_000_000);
            } else {
                out.push_str(&float_repr(micros as f64 / 1e6));
            }
        }
        other => json_string(&other.to_str(), out),
    }
}

/// Python's `str()` of a printable (what `print()` writes in text mode, QuerySets aside).
pub fn text(value: &Printable) -> String {
    match value {
        Printable::Plain(v) => v.to_str(),
        Printable::Instance { str, .. } => str.clone(),
        other => repr(other),
    }
}

fn repr(value: &Printable) -> String {
    let join = |items: &[Printable]| items.iter().map(repr).collect::<Vec<_>>().join(", ");
    match value {
        Printable::Plain(v) => v.repr(),
        Printable::Instance { text, .. } => text.clone(),
        Printable::List(items) => format!("[{}]", join(items)),
        Printable::Tuple(items) if items.len() == 1 => format!("({},)", repr(&items[0])),
        Printable::Tuple(items) => format!("({})", join(items)),
        Printable::Set(items) if items.is_empty() => "set()".into(),
        Printable::Set(items) => format!("{{{}}}", join(items)),
        Printable::Dict(pairs) => format!(
            "{{{}}}",
            pairs
                .iter()
                .map(|(k, v)| format!("{}: {}", repr(k), repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Printable::QuerySet { repr, .. } => repr.clone(),
    }
}

/// A table of rows (dicts or instances share their keys as columns; lists by position),
/// or `None` when the value is not row-shaped.
pub fn table(value: &Printable) -> Option<String> {
    let (rows, columns) = match value {
        Printable::QuerySet { rows, columns, .. } => (rows, columns.as_slice()),
        Printable::List(rows) => (rows, &[][..]),
        _ => return None,
    };
    let (header, cells) = grid(rows, "NULL", columns)?;
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = {
        let parts: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
        format!("+{}+", parts.join("+"))
    };
    let render = |row: &[String]| {
        let parts: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!(" {c}{} ", " ".repeat(w - c.chars().count())))
            .collect();
        format!("|{}|", parts.join("|"))
    };
    let mut out = vec![line.clone(), render(&header), line.clone()];
    out.extend(cells.iter().map(|r| render(r)));
    out.push(line);
    out.push(format!(
        "({} row{})",
        cells.len(),
        if cells.len() == 1 { "" } else { "s" }
    ));
    Some(out.join("\n"))
}

/// Column names and cell texts of row-shaped values.
fn grid(
    rows: &[Printable],
    null: &str,
    columns: &[String],
) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let cell = |p: &Printable| match p {
        Printable::Plain(Value::None) => null.to_string(),
        other => text(other),
    };
    let first = rows.first()?;
    match first {
        Printable::Instance { fields, .. } => {
            let header: Vec<String> = fields.iter().map(|(k, _)| k.clone()).collect();
            let cells = rows
                .iter()
                .map(|r| match r {
                    Printable::Instance { fields, .. } => {
                        fields.iter().map(|(_, v)| cell(v)).collect()
                    }
                    other => vec![cell(other)],
                })
                .collect();
            Some((header, cells))
        }
        Printable::Dict(pairs) => {
            let header: Vec<String> = pairs.iter().map(|(k, _)| text(k)).collect();
            let cells = rows
                .iter()
                .map(|r| match r {
                    Printable::Dict(pairs) => pairs.iter().map(|(_, v)| cell(v)).collect(),
                    other => vec![cell(other)],
                })
                .collect();
            Some((header, cells))
        }
        Printable::Tuple(items) | Printable::List(items) => {
            let header: Vec<String> = if columns.len() == items.len() {
                columns.to_vec()
            } else {
                (0..items.len()).map(|i| i.to_string()).collect()
            };
            let cells = rows
                .iter()
                .map(|r| match r {
                    Printable::Tuple(items) | Printable::List(items) => {
                        items.iter().map(cell).collect()
                    }
                    other => vec![cell(other)],
                })
                .collect();
            Some((header, cells))
        }
        _ => {
            let cells = rows.iter().map(|r| vec![cell(r)]).collect();
            let header = match columns {
                [only] => only.clone(),
                _ => "value".into(),
            };
            Some((vec![header], cells))
        }
    }
}

/// CSV text of one `print()`: rows with a header line, or one line of values.
pub fn csv(args: &[Printable]) -> String {
    let field = |s: String| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    };
    let cell = |p: &Printable| match p {
        Printable::Plain(Value::None) => String::new(),
        Printable::Plain(Value::Bool(b)) => {
            if *b {
                "True".into()
            } else {
                "False".into()
            }
        }
        other => text(other),
    };
    let single_row;
    let rows = match args {
        [Printable::QuerySet { rows, columns, .. }] => Some((rows.as_slice(), columns.as_slice())),
        [Printable::List(rows)] => Some((rows.as_slice(), &[][..])),
        [row @ Printable::Dict(_)] => {
            single_row = [row.clone()];
            Some((single_row.as_slice(), &[][..]))
        }
        _ => None,
    };
    if let Some((rows, columns)) = rows {
        if let Some((header, cells)) = grid(rows, "", columns) {
            let mut lines = vec![header.into_iter().map(field).collect::<Vec<_>>().join(",")];
            lines.extend(
                cells
                    .into_iter()
                    .map(|r| r.into_iter().map(field).collect::<Vec<_>>().join(",")),
            );
            return lines.join("\n");
        }
    }
    args.iter()
        .map(|a| field(cell(a)))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use quiver::expressions::Decimal;

    #[test]
    fn json_follows_the_runner() {
        let row = Printable::Dict(vec![
            (
                Printable::Plain(Value::str("name")),
                Printable::Plain(Value::str("Ann \"A\"")),
            ),
            (
                Printable::Plain(Value::str("n")),
                Printable::Plain(Value::Int(3)),
            ),
            (
                Printable::Plain(Value::str("avg")),
                Printable::Plain(Value::Float(2.5)),
            ),
            (
                Printable::Plain(Value::str("total")),
                Printable::Plain(Value::Decimal(Decimal::new(12050, 2))),
            ),
            (
                Printable::Plain(Value::Int(1)),
                Printable::Plain(Value::Float(f64::NAN)),
            ),
        ]);
        assert_eq!(
            json_line(&[row]),
            r#"{"name":"Ann \"A\"","n":3,"avg":2.5,"total":120.50,"1":"NaN"}"#
        );
        let two = [
            Printable::Plain(Value::None),
            Printable::Plain(Value::Bool(true)),
        ];
        assert_eq!(json_line(&two), "[null,true]");
    }

    #[test]
    fn rows_render_as_a_table_and_csv() {
        let rows = Printable::List(vec![
            Printable::Dict(vec![(
                Printable::Plain(Value::str("a")),
                Printable::Plain(Value::Int(1)),
            )]),
            Printable::Dict(vec![(
                Printable::Plain(Value::str("a")),
                Printable::Plain(Value::None),
            )]),
        ]);
        assert_eq!(
            table(&rows).unwrap(),
            "+------+\n| a    |\n+------+\n| 1    |\n| NULL |\n+------+\n(2 rows)"
        );
        assert_eq!(csv(&[rows]), "a\n1\n");
    }
}
