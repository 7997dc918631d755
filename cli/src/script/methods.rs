//! Methods and attributes of plain values: `list.append`, `dict.items`, `str.split`,
//! `date.isoformat`, `timedelta.total_seconds`, `Decimal.quantize`, `e.args`, ….

use chrono::{NaiveDate, Timelike};

use super::builtins::{int_arg, kwarg, sort_values};
use super::containers::{dict_insert, index_of, make_set};
use super::error::ScriptError;
use super::format::format_spec;
use super::interpreter::Interpreter;
use super::operators::{binary, decimal_round, values_equal};
use super::values::Value;

/// Attributes of plain values (`d.year`, `td.days`, `e.args`).
pub fn value_attribute(value: &Value, name: &str) -> Option<Value> {
    Some(match (value, name) {
        (Value::Date(d), "year") => Value::Int(chrono::Datelike::year(d).into()),
        (Value::Date(d), "month") => Value::Int(chrono::Datelike::month(d).into()),
        (Value::Date(d), "day") => Value::Int(chrono::Datelike::day(d).into()),
        (Value::DateTime(d), "year") => Value::Int(chrono::Datelike::year(d).into()),
        (Value::DateTime(d), "month") => Value::Int(chrono::Datelike::month(d).into()),
        (Value::DateTime(d), "day") => Value::Int(chrono::Datelike::day(d).into()),
        (Value::DateTime(d), "hour") => Value::Int(d.hour().into()),
        (Value::DateTime(d), "minute") => Value::Int(d.minute().into()),
        (Value::DateTime(d), "second") => Value::Int(d.second().into()),
        (Value::Time(t), "hour") => Value::Int(t.hour().into()),
        (Value::Time(t), "minute") => Value::Int(t.minute().into()),
        (Value::Time(t), "second") => Value::Int(t.second().into()),
        (Value::TimeDelta(d), "days") => {
            Value::Int(d.num_microseconds().unwrap_or(0).div_euclid(86_400_000_000))
        }
        (Value::TimeDelta(d), "seconds") => {
            Value::Int(d.num_microseconds().unwrap_or(0).rem_euclid(86_400_000_000) / 1_000_000)
        }
        (Value::Exception(e), "args") => Value::tuple(vec![Value::str(&e.message)]),
        (Value::Exception(e), "message") => Value::str(&e.message),
        _ => return None,
    })
}

/// Methods of plain values (`list.append`, `dict.items`, `str.upper`, `date.isoformat`, …).
pub fn call_value_method(
    interp: &mut Interpreter,
    receiver: &Value,
    name: &str,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
) -> Result<Value, ScriptError> {
    let missing = || ScriptError::attribute(&receiver.type_name(), name);
    match receiver {
        Value::List(l) => {
            match name {
                "append" => l
                    .borrow_mut()
                    .push(args.into_iter().next().unwrap_or(Value::None)),
                "extend" => {
                    let items = interp.iterate(args.first().unwrap_or(&Value::None))?;
                    l.borrow_mut().extend(items);
                }
                "insert" => {
                    let i = int_arg(args.first().unwrap_or(&Value::Int(0)), "index")?;
                    let mut l = l.borrow_mut();
                    let at = if i < 0 {
                        (l.len() as i64 + i).max(0) as usize
                    } else {
                        (i as usize).min(l.len())
                    };
                    l.insert(at, args.get(1).cloned().unwrap_or(Value::None));
                }
                "pop" => {
                    let mut l = l.borrow_mut();
                    let i = match args.first() {
                        Some(v) => index_of(l.len(), int_arg(v, "index")?, "pop")?,
                        None if l.is_empty() => {
                            return Err(ScriptError::new("IndexError", "pop from empty list"))
                        }
                        None => l.len() - 1,
                    };
                    return Ok(l.remove(i));
                }
                "remove" => {
                    let v = args.first().cloned().unwrap_or(Value::None);
                    let mut l = l.borrow_mut();
                    let i = l
                        .iter()
                        .position(|x| values_equal(x, &v))
                        .ok_or_else(|| ScriptError::value_error("list.remove(x): x not in list"))?;
                    l.remove(i);
                }
                "sort" => {
                    let mut items = l.borrow().clone();
                    sort_values(
                        interp,
                        &mut items,
                        kwarg(&kwargs, "key"),
                        kwarg(&kwargs, "reverse").is_some_and(|v| v.truthy()),
                    )?;
                    *l.borrow_mut() = items;
                }
                "reverse" => l.borrow_mut().reverse(),
                "index" => {
                    let v = args.first().cloned().unwrap_or(Value::None);
                    return l
                        .borrow()
                        .iter()
                        .position(|x| values_equal(x, &v))
                        .map(|i| Value::Int(i as i64))
                        .ok_or_else(|| {
                            ScriptError::value_error(format!("{} is not in list", v.repr()))
                        });
                }
                "count" => {
                    let v = args.first().cloned().unwrap_or(Value::None);
                    return Ok(Value::Int(
                        l.borrow().iter().filter(|x| values_equal(x, &v)).count() as i64,
                    ));
                }
                "copy" => return Ok(Value::list(l.borrow().clone())),
                "clear" => l.borrow_mut().clear(),
                _ => return Err(missing()),
            }
            Ok(Value::None)
        }
        Value::Set(s) => match name {
            "add" => {
                let v = args.into_iter().next().unwrap_or(Value::None);
                let mut s = s.borrow_mut();
                if !s.iter().any(|x| values_equal(x, &v)) {
                    s.push(v);
                }
                Ok(Value::None)
            }
            "discard" | "remove" => {
                let v = args.into_iter().next().unwrap_or(Value::None);
                s.borrow_mut().retain(|x| !values_equal(x, &v));
                Ok(Value::None)
            }
            "update" => {
                let items = interp.iterate(args.first().unwrap_or(&Value::None))?;
                let mut s = s.borrow_mut();
                for v in items {
                    if !s.iter().any(|x| values_equal(x, &v)) {
                        s.push(v);
                    }
                }
                Ok(Value::None)
            }
            "union" | "intersection" | "difference" => {
                let other = make_set(interp.iterate(args.first().unwrap_or(&Value::None))?);
                let op = match name {
                    "union" => "|",
                    "intersection" => "&",
                    _ => "-",
                };
                binary(interp, receiver, op, &other)
            }
            _ => Err(missing()),
        },
        Value::Dict(d) => match name {
            "get" => {
                let key = args.first().cloned().unwrap_or(Value::None);
                Ok(d.borrow()
                    .iter()
                    .find(|(k, _)| values_equal(k, &key))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| args.get(1).cloned().unwrap_or(Value::None)))
            }
            "items" => Ok(Value::list(
                d.borrow()
                    .iter()
                    .map(|(k, v)| Value::tuple(vec![k.clone(), v.clone()]))
                    .collect(),
            )),
            "keys" => Ok(Value::list(
                d.borrow().iter().map(|(k, _)| k.clone()).collect(),
            )),
            "values" => Ok(Value::list(
                d.borrow().iter().map(|(_, v)| v.clone()).collect(),
            )),
            "setdefault" => {
                let key = args.first().cloned().unwrap_or(Value::None);
                let default = args.get(1).cloned().unwrap_or(Value::None);
                let mut d = d.borrow_mut();
                if let Some((_, v)) = d.iter().find(|(k, _)| values_equal(k, &key)) {
                    return Ok(v.clone());
                }
                d.push((key, default.clone()));
                Ok(default)
            }
            "update" => {
                if let Some(Value::Dict(other)) = args.first() {
                    let other = other.borrow().clone();
                    for (k, v) in other {
                        dict_insert(&mut d.borrow_mut(), k, v)?;
                    }
                }
                for (k, v) in kwargs {
                    dict_insert(&mut d.borrow_mut(), Value::str(k), v)?;
                }
                Ok(Value::None)
            }
            "pop" => {
                let key = args.first().cloned().unwrap_or(Value::None);
                let mut d = d.borrow_mut();
                match d.iter().position(|(k, _)| values_equal(k, &key)) {
                    Some(i) => Ok(d.remove(i).1),
                    None => args
                        .get(1)
                        .cloned()
                        .ok_or_else(|| ScriptError::new("KeyError", key.repr())),
                }
            }
            "copy" => Ok(Value::dict(d.borrow().clone())),
            _ => Err(missing()),
        },
        Value::Str(s) => {
            let arg_str = |i: usize| -> Option<String> {
                match args.get(i) {
                    Some(Value::Str(x)) => Some(x.to_string()),
                    _ => None,
                }
            };
            Ok(match name {
                "upper" => Value::str(s.to_uppercase()),
                "lower" => Value::str(s.to_lowercase()),
                "title" => Value::str(
                    s.split(' ')
                        .map(|w| {
                            let mut c = w.chars();
                            c.next()
                                .map(|f| {
                                    f.to_uppercase().collect::<String>()
                                        + &c.as_str().to_lowercase()
                                })
                                .unwrap_or_default()
                        })
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                "capitalize" => {
                    let mut c = s.chars();
                    Value::str(
                        c.next()
                            .map(|f| {
                                f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase()
                            })
                            .unwrap_or_default(),
                    )
                }
                "strip" => Value::str(match arg_str(0) {
                    Some(chars) => s.trim_matches(|c| chars.contains(c)).to_string(),
                    None => s.trim().to_string(),
                }),
                "lstrip" => Value::str(s.trim_start()),
                "rstrip" => Value::str(s.trim_end()),
                "startswith" => Value::Bool(arg_str(0).is_some_and(|p| s.starts_with(&p))),
                "endswith" => Value::Bool(arg_str(0).is_some_and(|p| s.ends_with(&p))),
                "replace" => Value::str(s.replace(
                    &arg_str(0).unwrap_or_default(),
                    &arg_str(1).unwrap_or_default(),
                )),
                "split" => Value::list(match arg_str(0) {
                    Some(sep) => s.split(sep.as_str()).map(Value::str).collect(),
                    None => s.split_whitespace().map(Value::str).collect(),
                }),
                "join" => {
                    let items = interp.iterate(args.first().unwrap_or(&Value::None))?;
                    let texts: Vec<String> = items
                        .iter()
                        .map(|i| match i {
                            Value::Str(t) => Ok(t.to_string()),
                            other => Err(ScriptError::type_error(format!(
                                "sequence item: expected str instance, {} found",
                                other.type_name()
                            ))),
                        })
                        .collect::<Result<_, _>>()?;
                    Value::str(texts.join(s))
                }
                "format" => {
                    let mut out = String::new();
                    let mut auto = 0;
                    let mut rest: &str = s;
                    while let Some(start) = rest.find('{') {
                        if rest[start..].starts_with("{{") {
                            out.push_str(&rest[..start + 1]);
                            rest = &rest[start + 2..];
                            continue;
                        }
                        out.push_str(&rest[..start]);
                        let end = rest[start..].find('}').map(|e| e + start).ok_or_else(|| {
                            ScriptError::value_error("Single '{' encountered in format string")
                        })?;
                        let field = &rest[start + 1..end];
                        let (key, spec) = field.split_once(':').unwrap_or((field, ""));
                        let v = if key.is_empty() {
                            auto += 1;
                            args.get(auto - 1).cloned()
                        } else if let Ok(i) = key.parse::<usize>() {
                            args.get(i).cloned()
                        } else {
                            kwarg(&kwargs, key)
                        }
                        .ok_or_else(|| {
                            ScriptError::new(
                                "IndexError",
                                "Replacement index out of range for positional args tuple",
                            )
                        })?;
                        let text = interp.str_of(&v)?;
                        out.push_str(&if spec.is_empty() {
                            text
                        } else {
                            format_spec(&v, &text, spec)?
                        });
                        rest = &rest[end + 1..];
                    }
                    out.push_str(&rest.replace("}}", "}"));
                    Value::str(out)
                }
                "count" => {
                    Value::Int(arg_str(0).map_or(0, |p| s.matches(p.as_str()).count() as i64))
                }
                "find" => Value::Int(
                    arg_str(0)
                        .and_then(|p| s.find(p.as_str()))
                        .map_or(-1, |i| s[..i].chars().count() as i64),
                ),
                "isdigit" => Value::Bool(!s.is_empty() && s.chars().all(|c| c.is_ascii_digit())),
                "zfill" => {
                    let w = int_arg(args.first().unwrap_or(&Value::Int(0)), "width")? as usize;
                    Value::str(format!(
                        "{}{s}",
                        "0".repeat(w.saturating_sub(s.chars().count()))
                    ))
                }
                "ljust" | "rjust" | "center" => {
                    let w = int_arg(args.first().unwrap_or(&Value::Int(0)), "width")?;
                    let align = match name {
                        "ljust" => "<",
                        "rjust" => ">",
                        _ => "^",
                    };
                    Value::str(format_spec(
                        receiver,
                        s,
                        &format!("{}{align}{w}", arg_str(1).unwrap_or_else(|| " ".into())),
                    )?)
                }
                _ => return Err(missing()),
            })
        }
        Value::Date(d) => match name {
            "isoformat" => Ok(Value::str(d.format("%Y-%m-%d").to_string())),
            "strftime" => Ok(Value::str(
                d.format(&args.first().map(Value::to_str).unwrap_or_default())
                    .to_string(),
            )),
            "weekday" => Ok(Value::Int(
                chrono::Datelike::weekday(d).num_days_from_monday().into(),
            )),
            "isoweekday" => Ok(Value::Int(
                chrono::Datelike::weekday(d).number_from_monday().into(),
            )),
            "replace" => {
                let get = |k: &str, v: i64| {
                    kwarg(&kwargs, k)
                        .and_then(|x| if let Value::Int(i) = x { Some(i) } else { None })
                        .unwrap_or(v)
                };
                NaiveDate::from_ymd_opt(
                    get("year", chrono::Datelike::year(d).into()) as i32,
                    get("month", chrono::Datelike::month(d).into()) as u32,
                    get("day", chrono::Datelike::day(d).into()) as u32,
                )
                .map(Value::Date)
                .ok_or_else(|| ScriptError::value_error("day is out of range for month"))
            }
            _ => Err(missing()),
        },
        Value::DateTime(d) => match name {
            "isoformat" => Ok(Value::str(super::values::datetime_text(d, 'T'))),
            "date" => Ok(Value::Date(d.date())),
            "time" => Ok(Value::Time(d.time())),
            "strftime" => Ok(Value::str(
                d.format(&args.first().map(Value::to_str).unwrap_or_default())
                    .to_string(),
            )),
            _ => Err(missing()),
        },
        Value::TimeDelta(d) => match name {
            "total_seconds" => Ok(Value::Float(d.num_microseconds().unwrap_or(0) as f64 / 1e6)),
            _ => Err(missing()),
        },
        Value::Decimal(d) => match name {
            "quantize" => match args.first() {
                Some(Value::Decimal(q)) => Ok(Value::Decimal(decimal_round(d, q.scale().into()))),
                _ => Err(ScriptError::type_error("quantize() needs a Decimal")),
            },
            _ => Err(missing()),
        },
        Value::Float(f) => match name {
            "is_integer" => Ok(Value::Bool(f.fract() == 0.0)),
            _ => Err(missing()),
        },
        Value::Module("connection") => Err(missing()),
        _ => Err(missing()),
    }
}
