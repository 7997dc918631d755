//! String formatting: the format-spec mini-language of f-strings and `format()`
//! (`{x:>8,.2f}`) and `%`-formatting.

use super::error::ScriptError;
use super::interpreter::Interpreter;
use super::operators::{decimal_round, to_f64};
use super::values::{decimal_text, Value};

/// `"%s has %d" % (a, b)`.
pub(super) fn percent_format(
    interp: &mut Interpreter,
    format: &str,
    items: &[Value],
) -> Result<String, ScriptError> {
    let mut out = String::new();
    let mut it = items.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&n) = chars.peek() {
            chars.next();
            if n.is_ascii_alphabetic() || n == '%' {
                spec.push(n);
                break;
            }
            spec.push(n);
        }
        if spec == "%" {
            out.push('%');
            continue;
        }
        let v = it
            .next()
            .ok_or_else(|| ScriptError::type_error("not enough arguments for format string"))?;
        let conversion = spec.chars().last().unwrap_or('s');
        let body = &spec[..spec.len() - 1];
        let text = match conversion {
            's' => interp.str_of(v)?,
            'r' => interp.repr_of(v)?,
            _ => format_spec(v, &interp.str_of(v)?, &format!("{body}{conversion}"))?,
        };
        out.push_str(&text);
    }
    Ok(out)
}

/// Python's format-spec mini-language for the common cases:
/// `[[fill]align][sign][,][width][.precision][type]`.
pub fn format_spec(value: &Value, text: &str, spec: &str) -> Result<String, ScriptError> {
    let chars: Vec<char> = spec.chars().collect();
    let mut i = 0;
    let (mut fill, mut align) = (' ', None);
    if chars.len() >= 2 && "<>^=".contains(chars[1]) {
        fill = chars[0];
        align = Some(chars[1]);
        i = 2;
    } else if !chars.is_empty() && "<>^=".contains(chars[0]) {
        align = Some(chars[0]);
        i = 1;
    }
    let mut sign = false;
    if chars.get(i) == Some(&'+') {
        sign = true;
        i += 1;
    }
    if chars.get(i) == Some(&'0') && align.is_none() {
        fill = '0';
        align = Some('=');
        i += 1;
    }
    let mut width = String::new();
    while let Some(c) = chars.get(i).filter(|c| c.is_ascii_digit()) {
        width.push(*c);
        i += 1;
    }
    let mut grouping = false;
    if chars.get(i) == Some(&',') {
        grouping = true;
        i += 1;
    }
    let mut precision = None;
    if chars.get(i) == Some(&'.') {
        i += 1;
        let mut p = String::new();
        while let Some(c) = chars.get(i).filter(|c| c.is_ascii_digit()) {
            p.push(*c);
            i += 1;
        }
        precision = p.parse::<usize>().ok();
    }
    let kind = chars.get(i).copied();
    let number = to_f64(value);
    let mut body = match (kind, number) {
        (Some('f' | 'F'), Some(n)) => match value {
            Value::Decimal(d) => decimal_text(&decimal_round(d, precision.unwrap_or(6) as i32)),
            _ => format!("{:.*}", precision.unwrap_or(6), n),
        },
        (Some('%'), Some(n)) => format!("{:.*}%", precision.unwrap_or(6), n * 100.0),
        (Some('e'), Some(n)) => {
            let t = format!("{:.*e}", precision.unwrap_or(6), n);
            let (m, e) = t.split_once('e').unwrap_or((&t, "0"));
            let e: i32 = e.parse().unwrap_or(0);
            format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
        }
        (Some('d'), Some(_)) => match value {
            Value::Int(i) => i.to_string(),
            _ => {
                return Err(ScriptError::value_error(format!(
                    "Unknown format code 'd' for object of type '{}'",
                    value.type_name()
                )))
            }
        },
        (None | Some('g'), Some(n)) if precision.is_some() => {
            let p = precision.unwrap_or(6).max(1);
            let formatted = format!("{:.*e}", p - 1, n);
            let (_, e) = formatted.split_once('e').unwrap_or(("", "0"));
            let e: i32 = e.parse().unwrap_or(0);
            if e < -4 || e >= p as i32 {
                formatted
            } else {
                let t = format!("{:.*}", (p as i32 - 1 - e).max(0) as usize, n);
                if t.contains('.') {
                    t.trim_end_matches('0').trim_end_matches('.').to_string()
                } else {
                    t
                }
            }
        }
        (None | Some('s'), _) => match precision {
            Some(p) => text.chars().take(p).collect(),
            None => text.to_string(),
        },
        _ => text.to_string(),
    };
    if grouping {
        let (int_part, rest) = match body.find('.') {
            Some(p) => (body[..p].to_string(), body[p..].to_string()),
            None => (body.clone(), String::new()),
        };
        let (neg, digits) = match int_part.strip_prefix('-') {
            Some(d) => (true, d.to_string()),
            None => (false, int_part),
        };
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        body = format!("{}{grouped}{rest}", if neg { "-" } else { "" });
    }
    if sign && number.is_some_and(|n| n >= 0.0) {
        body = format!("+{body}");
    }
    let width: usize = width.parse().unwrap_or(0);
    let len = body.chars().count();
    if len >= width {
        return Ok(body);
    }
    let pad = width - len;
    let default_align = if number.is_some() && !matches!(value, Value::Str(_)) {
        '>'
    } else {
        '<'
    };
    let fill_str = |n: usize| fill.to_string().repeat(n);
    Ok(match align.unwrap_or(default_align) {
        '<' => format!("{body}{}", fill_str(pad)),
        '^' => format!("{}{body}{}", fill_str(pad / 2), fill_str(pad - pad / 2)),
        '=' => match body.strip_prefix(['-', '+']) {
            Some(rest) => format!("{}{}{rest}", &body[..1], fill_str(pad)),
            None => format!("{}{body}", fill_str(pad)),
        },
        _ => format!("{}{body}", fill_str(pad)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quiver::expressions::Decimal;

    fn dec(text: &str) -> Value {
        Value::Decimal(Decimal::parse(text).unwrap())
    }

    #[test]
    fn format_specs() {
        assert_eq!(
            format_spec(&Value::Float(1234.5), "", ",.1f").unwrap(),
            "1,234.5"
        );
        assert_eq!(format_spec(&Value::Int(42), "42", "05d").unwrap(), "00042");
        assert_eq!(format_spec(&Value::str("x"), "x", "^5").unwrap(), "  x  ");
        assert_eq!(format_spec(&dec("2.345"), "2.345", ".2f").unwrap(), "2.34");
    }
}
