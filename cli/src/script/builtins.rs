//! Python's built-ins for the subset: functions (`len`, `sum`, `sorted`, …), operators on
//! numbers, strings, containers, `Decimal` and dates, indexing and slicing, the methods of
//! `list`/`dict`/`str`, and the names scripts import (`models`, `datetime`, `timezone`,
//! `transaction`, `connection`, `Decimal`, Django's exception classes).

use std::cmp::Ordering;
use std::rc::Rc;

use chrono::{NaiveDate, NaiveTime, TimeDelta, Timelike};
use quiver::expressions::Decimal;

use super::convert;
use super::error::ScriptError;
use super::interpreter::Interpreter;
use super::values::{decimal_text, float_repr, Value};

/// Exception classes a script can name.
const EXCEPTIONS: [&str; 33] = [
    "BaseException",
    "Exception",
    "ValueError",
    "TypeError",
    "KeyError",
    "IndexError",
    "NameError",
    "AttributeError",
    "ZeroDivisionError",
    "AssertionError",
    "RuntimeError",
    "LookupError",
    "ArithmeticError",
    "OverflowError",
    "NotImplementedError",
    "StopIteration",
    "FieldError",
    "ObjectDoesNotExist",
    "DoesNotExist",
    "MultipleObjectsReturned",
    "ValidationError",
    "IntegrityError",
    "DatabaseError",
    "DataError",
    "NotSupportedError",
    "ImproperlyConfigured",
    "TransactionManagementError",
    "ProgrammingError",
    "OperationalError",
    "Error",
    "InternalError",
    "FieldDoesNotExist",
    "EmptyResultSet",
];

/// Built-in functions (and callables that scripts import by name).
const FUNCTIONS: [&str; 38] = [
    "print",
    "len",
    "sum",
    "min",
    "max",
    "sorted",
    "list",
    "tuple",
    "dict",
    "set",
    "str",
    "int",
    "float",
    "bool",
    "round",
    "abs",
    "range",
    "enumerate",
    "zip",
    "repr",
    "isinstance",
    "any",
    "all",
    "reversed",
    "Decimal",
    "call_command",
    "reset_queries",
    "getattr",
    "hasattr",
    "type",
    "map",
    "filter",
    "divmod",
    "pow",
    "frozenset",
    "id",
    "hash",
    "format",
];

/// The value of a built-in name, if it is one.
pub fn builtin(name: &str) -> Option<Value> {
    if EXCEPTIONS.contains(&name) {
        return Some(Value::ExceptionClass {
            name: Rc::from(name),
            model: None,
        });
    }
    if FUNCTIONS.contains(&name)
        || super::queryset::is_expression_name(name)
        || super::models::is_field_class(name)
    {
        return Some(Value::Builtin(Rc::from(name)));
    }
    Some(match name {
        "models" => Value::Module("models"),
        "datetime" => Value::Module("datetime"),
        "timezone" => Value::Module("timezone"),
        "transaction" => Value::Module("transaction"),
        "connection" => Value::Module("connection"),
        "decimal" => Value::Module("decimal"),
        "math" => Value::Module("math"),
        "date" => Value::Builtin(Rc::from("datetime.date")),
        "time" => Value::Builtin(Rc::from("datetime.time")),
        "timedelta" => Value::Builtin(Rc::from("datetime.timedelta")),
        "Model" => Value::Builtin(Rc::from("Model")),
        "CASCADE" | "PROTECT" | "RESTRICT" | "SET_NULL" | "SET_DEFAULT" | "DO_NOTHING" => {
            Value::Opaque(Rc::from(name), Rc::new(vec![]))
        }
        "__name__" => Value::str("app.models"),
        _ => return None,
    })
}

/// `module.name`.
pub fn module_attribute(module: &str, name: &str) -> Result<Value, ScriptError> {
    let v = match (module, name) {
        ("models", "Model") => Some(Value::Builtin(Rc::from("models.Model"))),
        ("models", n)
            if super::models::is_field_class(n) || super::queryset::is_expression_name(n) =>
        {
            Some(Value::Builtin(Rc::from(n)))
        }
        ("models", "Index" | "UniqueConstraint" | "CheckConstraint") => {
            Some(Value::Builtin(Rc::from(name)))
        }
        (
            "models",
            n @ ("CASCADE" | "PROTECT" | "RESTRICT" | "SET_NULL" | "SET_DEFAULT" | "DO_NOTHING"),
        ) => Some(Value::Opaque(Rc::from(n), Rc::new(vec![]))),
        ("models", n) if EXCEPTIONS.contains(&n) => builtin(n),
        ("datetime", "date" | "datetime" | "time" | "timedelta") => {
            Some(Value::Builtin(Rc::from(format!("datetime.{name}"))))
        }
        ("timezone", "now") => Some(Value::Builtin(Rc::from("timezone.now"))),
        ("transaction", "atomic") => Some(Value::Builtin(Rc::from("transaction.atomic"))),
        ("connection", "queries") => None,
        ("decimal", "Decimal") => Some(Value::Builtin(Rc::from("Decimal"))),
        ("math", "pi") => Some(Value::Float(std::f64::consts::PI)),
        ("math", "sqrt" | "floor" | "ceil" | "isnan" | "isinf" | "log" | "exp" | "fabs") => {
            Some(Value::Builtin(Rc::from(format!("math.{name}"))))
        }
        _ => None,
    };
    v.ok_or_else(|| {
        ScriptError::new(
            "AttributeError",
            format!("module '{module}' has no attribute '{name}'"),
        )
    })
}

fn arity(name: &str, args: &[Value], min: usize, max: usize) -> Result<(), ScriptError> {
    if args.len() < min || args.len() > max {
        return Err(ScriptError::type_error(format!(
            "{name}() takes {} argument{} ({} given)",
            if min == max {
                min.to_string()
            } else {
                format!("from {min} to {max}")
            },
            if max == 1 { "" } else { "s" },
            args.len()
        )));
    }
    Ok(())
}

fn kwarg(kwargs: &[(String, Value)], name: &str) -> Option<Value> {
    kwargs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn int_arg(v: &Value, what: &str) -> Result<i64, ScriptError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Bool(b) => Ok(i64::from(*b)),
        other => Err(ScriptError::type_error(format!(
            "{what} must be an integer, not {}",
            other.type_name()
        ))),
    }
}

/// Calls a built-in function by name.
pub fn call_builtin(
    interp: &mut Interpreter,
    name: &str,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
) -> Result<Value, ScriptError> {
    if super::queryset::is_expression_name(name) {
        return super::queryset::call_expression(interp, name, args, kwargs);
    }
    if super::models::is_field_class(name)
        || matches!(name, "Index" | "UniqueConstraint" | "CheckConstraint")
    {
        return super::models::field_call(interp, name, args, kwargs);
    }
    match name {
        "print" => {
            let sep = match kwarg(&kwargs, "sep") {
                Some(Value::Str(s)) => s.to_string(),
                _ => " ".into(),
            };
            interp.print(&args, &sep)?;
            Ok(Value::None)
        }
        "len" => {
            arity(name, &args, 1, 1)?;
            Ok(Value::Int(match &args[0] {
                Value::Str(s) => s.chars().count() as i64,
                Value::List(l) | Value::Set(l) => l.borrow().len() as i64,
                Value::Tuple(t) => t.len() as i64,
                Value::Dict(d) => d.borrow().len() as i64,
                v @ (Value::QuerySet(_) | Value::Manager(_) | Value::RelatedManager { .. }) => {
                    interp.iterate(v)?.len() as i64
                }
                other => {
                    return Err(ScriptError::type_error(format!(
                        "object of type '{}' has no len()",
                        other.type_name()
                    )))
                }
            }))
        }
        "sum" => {
            let items = interp.iterate(args.first().unwrap_or(&Value::None))?;
            let mut total = args.get(1).cloned().unwrap_or(Value::Int(0));
            for item in items {
                total = binary(interp, &total, "+", &item)?;
            }
            Ok(total)
        }
        "min" | "max" => {
            let items = if args.len() == 1 {
                interp.iterate(&args[0])?
            } else {
                args.clone()
            };
            let key = kwarg(&kwargs, "key");
            if items.is_empty() {
                return match kwarg(&kwargs, "default") {
                    Some(d) => Ok(d),
                    None => Err(ScriptError::value_error(format!(
                        "{name}() iterable argument is empty"
                    ))),
                };
            }
            let mut best = items[0].clone();
            let mut best_key = keyed(interp, &key, &best)?;
            for item in items.into_iter().skip(1) {
                let k = keyed(interp, &key, &item)?;
                let ord = compare_values(interp, &k, &best_key)?;
                if (name == "min" && ord == Ordering::Less)
                    || (name == "max" && ord == Ordering::Greater)
                {
                    best = item;
                    best_key = k;
                }
            }
            Ok(best)
        }
        "sorted" => {
            let mut items = interp.iterate(args.first().unwrap_or(&Value::None))?;
            let reverse = kwarg(&kwargs, "reverse").is_some_and(|v| v.truthy());
            sort_values(interp, &mut items, kwarg(&kwargs, "key"), reverse)?;
            Ok(Value::list(items))
        }
        "reversed" => {
            let mut items = interp.iterate(args.first().unwrap_or(&Value::None))?;
            items.reverse();
            Ok(Value::list(items))
        }
        "list" => Ok(Value::list(match args.first() {
            Some(v) => interp.iterate(v)?,
            None => vec![],
        })),
        "tuple" => Ok(Value::tuple(match args.first() {
            Some(v) => interp.iterate(v)?,
            None => vec![],
        })),
        "set" | "frozenset" => Ok(make_set(match args.first() {
            Some(v) => interp.iterate(v)?,
            None => vec![],
        })),
        "dict" => {
            let mut out = vec![];
            if let Some(v) = args.first() {
                for item in interp.iterate(v)? {
                    match item {
                        Value::Tuple(pair) if pair.len() == 2 => {
                            dict_insert(&mut out, pair[0].clone(), pair[1].clone())?
                        }
                        Value::List(pair) if pair.borrow().len() == 2 => {
                            let pair = pair.borrow().clone();
                            dict_insert(&mut out, pair[0].clone(), pair[1].clone())?
                        }
                        other => dict_insert(&mut out, other.clone(), Value::None).map(|_| ())?,
                    }
                }
                if let Value::Dict(d) = v {
                    out = d.borrow().clone();
                }
            }
            for (k, v) in kwargs {
                dict_insert(&mut out, Value::str(k), v)?;
            }
            Ok(Value::dict(out))
        }
        "str" => Ok(Value::str(match args.first() {
            Some(v) => interp.str_of(v)?,
            None => String::new(),
        })),
        "repr" => {
            arity(name, &args, 1, 1)?;
            Ok(Value::str(interp.repr_of(&args[0])?))
        }
        "format" => {
            arity(name, &args, 1, 2)?;
            let text = interp.str_of(&args[0])?;
            let spec = match args.get(1) {
                Some(Value::Str(s)) => s.to_string(),
                _ => String::new(),
            };
            Ok(Value::str(if spec.is_empty() {
                text
            } else {
                format_spec(&args[0], &text, &spec)?
            }))
        }
        "int" => {
            arity(name, &args, 0, 2)?;
            Ok(Value::Int(match args.first() {
                None => 0,
                Some(Value::Int(i)) => *i,
                Some(Value::Bool(b)) => i64::from(*b),
                Some(Value::Float(f)) => {
                    if !f.is_finite() {
                        return Err(ScriptError::value_error(format!(
                            "cannot convert float {} to integer",
                            float_repr(*f)
                        )));
                    }
                    f.trunc() as i64
                }
                Some(Value::Decimal(d)) => {
                    let scale = i32::from(d.scale());
                    if scale >= 0 {
                        (d.unscaled() / 10i128.pow(scale as u32)) as i64
                    } else {
                        (d.unscaled() * 10i128.pow((-scale) as u32)) as i64
                    }
                }
                Some(Value::Str(s)) => s.trim().replace('_', "").parse().map_err(|_| {
                    ScriptError::value_error(format!(
                        "invalid literal for int() with base 10: {}",
                        super::values::str_repr(s)
                    ))
                })?,
                Some(other) => {
                    return Err(ScriptError::type_error(format!(
                        "int() argument must be a string or a number, not '{}'",
                        other.type_name()
                    )))
                }
            }))
        }
        "float" => Ok(Value::Float(match args.first() {
            None => 0.0,
            Some(Value::Str(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "nan" => f64::NAN,
                "inf" | "infinity" => f64::INFINITY,
                "-inf" | "-infinity" => f64::NEG_INFINITY,
                t => t.parse().map_err(|_| {
                    ScriptError::value_error(format!(
                        "could not convert string to float: {}",
                        super::values::str_repr(s)
                    ))
                })?,
            },
            Some(v) => to_f64(v).ok_or_else(|| {
                ScriptError::type_error(format!(
                    "float() argument must be a string or a real number, not '{}'",
                    v.type_name()
                ))
            })?,
        })),
        "bool" => Ok(Value::Bool(match args.first() {
            Some(v) => interp.truthy(v)?,
            None => false,
        })),
        "abs" => {
            arity(name, &args, 1, 1)?;
            match &args[0] {
                Value::Int(i) => Ok(Value::Int(i.checked_abs().ok_or_else(overflow)?)),
                Value::Float(f) => Ok(Value::Float(f.abs())),
                Value::Decimal(d) => {
                    Ok(Value::Decimal(Decimal::new(d.unscaled().abs(), d.scale())))
                }
                Value::TimeDelta(d) => Ok(Value::TimeDelta(d.abs())),
                Value::Expression(_) => call_builtin(interp, "Abs", args, kwargs),
                other => Err(ScriptError::type_error(format!(
                    "bad operand type for abs(): '{}'",
                    other.type_name()
                ))),
            }
        }
        "round" => {
            arity(name, &args, 1, 2)?;
            let digits = match args.get(1) {
                None | Some(Value::None) => None,
                Some(v) => Some(int_arg(v, "ndigits")?),
            };
            round(&args[0], digits)
        }
        "pow" => {
            arity(name, &args, 2, 2)?;
            binary(interp, &args[0], "**", &args[1])
        }
        "divmod" => {
            arity(name, &args, 2, 2)?;
            let q = binary(interp, &args[0], "//", &args[1])?;
            let r = binary(interp, &args[0], "%", &args[1])?;
            Ok(Value::tuple(vec![q, r]))
        }
        "range" => {
            arity(name, &args, 1, 3)?;
            let ints: Vec<i64> = args
                .iter()
                .map(|a| int_arg(a, "range() argument"))
                .collect::<Result<_, _>>()?;
            let (start, stop, step) = match ints.as_slice() {
                [stop] => (0, *stop, 1),
                [start, stop] => (*start, *stop, 1),
                [start, stop, step] => (*start, *stop, *step),
                _ => (0, 0, 1),
            };
            if step == 0 {
                return Err(ScriptError::value_error("range() arg 3 must not be zero"));
            }
            let count = if step > 0 {
                (stop - start + step - 1).max(0) / step
            } else {
                (start - stop - step - 1).max(0) / -step
            };
            if count > 50_000_000 {
                return Err(ScriptError::new(
                    "MemoryError",
                    "range() too large for the script frontend",
                ));
            }
            Ok(Value::list(
                (0..count).map(|i| Value::Int(start + i * step)).collect(),
            ))
        }
        "enumerate" => {
            let items = interp.iterate(args.first().unwrap_or(&Value::None))?;
            let start = match args.get(1).cloned().or_else(|| kwarg(&kwargs, "start")) {
                Some(v) => int_arg(&v, "start")?,
                None => 0,
            };
            Ok(Value::list(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| Value::tuple(vec![Value::Int(start + i as i64), v]))
                    .collect(),
            ))
        }
        "zip" => {
            let lists: Vec<Vec<Value>> = args
                .iter()
                .map(|a| interp.iterate(a))
                .collect::<Result<_, _>>()?;
            let n = lists.iter().map(Vec::len).min().unwrap_or(0);
            Ok(Value::list(
                (0..n)
                    .map(|i| Value::tuple(lists.iter().map(|l| l[i].clone()).collect()))
                    .collect(),
            ))
        }
        "map" => {
            arity(name, &args, 2, 2)?;
            let items = interp.iterate(&args[1])?;
            let out = items
                .into_iter()
                .map(|i| interp.call(&args[0], vec![i], vec![]))
                .collect::<Result<_, _>>()?;
            Ok(Value::list(out))
        }
        "filter" => {
            arity(name, &args, 2, 2)?;
            let items = interp.iterate(&args[1])?;
            let mut out = vec![];
            for i in items {
                let keep = match &args[0] {
                    Value::None => interp.truthy(&i)?,
                    f => {
                        let r = interp.call(f, vec![i.clone()], vec![])?;
                        interp.truthy(&r)?
                    }
                };
                if keep {
                    out.push(i);
                }
            }
            Ok(Value::list(out))
        }
        "any" | "all" => {
            let items = interp.iterate(args.first().unwrap_or(&Value::None))?;
            let want = name == "any";
            for i in items {
                if interp.truthy(&i)? == want {
                    return Ok(Value::Bool(want));
                }
            }
            Ok(Value::Bool(!want))
        }
        "isinstance" => {
            arity(name, &args, 2, 2)?;
            let classes = match &args[1] {
                Value::Tuple(t) => t.to_vec(),
                other => vec![other.clone()],
            };
            let type_name = args[0].type_name();
            Ok(Value::Bool(classes.iter().any(|c| match c {
                Value::Builtin(n) => match &**n {
                    "int" => matches!(args[0], Value::Int(_) | Value::Bool(_)),
                    "float" => matches!(args[0], Value::Float(_)),
                    "str" => matches!(args[0], Value::Str(_)),
                    "list" => matches!(args[0], Value::List(_)),
                    "dict" => matches!(args[0], Value::Dict(_)),
                    "tuple" => matches!(args[0], Value::Tuple(_)),
                    "bool" => matches!(args[0], Value::Bool(_)),
                    "Decimal" => matches!(args[0], Value::Decimal(_)),
                    "datetime.date" => matches!(args[0], Value::Date(_) | Value::DateTime(_)),
                    "datetime.datetime" => matches!(args[0], Value::DateTime(_)),
                    other => other == type_name,
                },
                Value::ModelClass(class) => class.name == type_name,
                Value::ExceptionClass { name, .. } => {
                    matches!(&args[0], Value::Exception(e) if e.kind == **name)
                }
                _ => false,
            })))
        }
        "type" => {
            arity(name, &args, 1, 1)?;
            Ok(match &args[0] {
                Value::Instance(i) => interp.lookup(&i.borrow().model).unwrap_or(Value::None),
                Value::Exception(e) => Value::ExceptionClass {
                    name: Rc::from(e.kind.as_str()),
                    model: e.model.as_deref().map(Rc::from),
                },
                other => Value::Builtin(Rc::from(other.type_name())),
            })
        }
        "getattr" | "hasattr" => {
            arity(name, &args, 2, 3)?;
            let Value::Str(attr) = &args[1] else {
                return Err(ScriptError::type_error("attribute name must be string"));
            };
            match super::queryset::get_attribute(interp, &args[0], attr) {
                Ok(v) if name == "getattr" => Ok(v),
                Ok(_) => Ok(Value::Bool(true)),
                Err(e) if e.kind == "AttributeError" || e.kind == "FieldError" => {
                    match (name, args.get(2)) {
                        ("hasattr", _) => Ok(Value::Bool(false)),
                        (_, Some(default)) => Ok(default.clone()),
                        _ => Err(e),
                    }
                }
                Err(e) => Err(e),
            }
        }
        "id" | "hash" => Ok(Value::Int(match &args.first() {
            Some(Value::Int(i)) => *i,
            Some(v) => v.repr().len() as i64,
            None => 0,
        })),
        "Decimal" => {
            arity(name, &args, 0, 1)?;
            Ok(Value::Decimal(match args.first() {
                None => Decimal::new(0, 0),
                Some(Value::Str(s)) => Decimal::parse(s).map_err(|_| {
                    ScriptError::new(
                        "InvalidOperation",
                        format!(
                            "[<class 'decimal.ConversionSyntax'>] {}",
                            super::values::str_repr(s)
                        ),
                    )
                })?,
                Some(Value::Int(i)) => Decimal::new(i128::from(*i), 0),
                Some(Value::Decimal(d)) => *d,
                Some(Value::Float(f)) => Decimal::parse(&format!("{f}"))
                    .map_err(|e| ScriptError::value_error(e.to_string()))?,
                Some(other) => {
                    return Err(ScriptError::type_error(format!(
                        "conversion from {} to Decimal is not supported",
                        other.type_name()
                    )))
                }
            }))
        }
        "datetime.date" => {
            let ints = int_args(&args, &kwargs, &["year", "month", "day"], 3)?;
            NaiveDate::from_ymd_opt(ints[0] as i32, ints[1] as u32, ints[2] as u32)
                .map(Value::Date)
                .ok_or_else(|| ScriptError::value_error("day is out of range for month"))
        }
        "datetime.datetime" => {
            let ints = int_args(
                &args,
                &kwargs,
                &[
                    "year",
                    "month",
                    "day",
                    "hour",
                    "minute",
                    "second",
                    "microsecond",
                ],
                3,
            )?;
            let date = NaiveDate::from_ymd_opt(ints[0] as i32, ints[1] as u32, ints[2] as u32)
                .ok_or_else(|| ScriptError::value_error("day is out of range for month"))?;
            convert::make_datetime(
                date,
                ints[3] as u32,
                ints[4] as u32,
                ints[5] as u32,
                ints[6] as u32,
            )
            .map(Value::DateTime)
            .ok_or_else(|| ScriptError::value_error("hour must be in 0..23"))
        }
        "datetime.time" => {
            let ints = int_args(
                &args,
                &kwargs,
                &["hour", "minute", "second", "microsecond"],
                0,
            )?;
            NaiveTime::from_hms_micro_opt(
                ints[0] as u32,
                ints[1] as u32,
                ints[2] as u32,
                ints[3] as u32,
            )
            .map(Value::Time)
            .ok_or_else(|| ScriptError::value_error("hour must be in 0..23"))
        }
        "datetime.timedelta" => {
            let names = [
                "days",
                "seconds",
                "microseconds",
                "milliseconds",
                "minutes",
                "hours",
                "weeks",
            ];
            let factors = [
                86_400_000_000f64,
                1_000_000.0,
                1.0,
                1000.0,
                60_000_000.0,
                3_600_000_000.0,
                604_800_000_000.0,
            ];
            let mut micros = 0f64;
            for (i, a) in args.iter().enumerate() {
                micros += to_f64(a).unwrap_or(0.0) * factors.get(i).copied().unwrap_or(0.0);
            }
            for (k, v) in &kwargs {
                let i = names.iter().position(|n| n == k).ok_or_else(|| {
                    ScriptError::type_error(format!(
                        "'{k}' is an invalid keyword argument for timedelta()"
                    ))
                })?;
                micros += to_f64(v).unwrap_or(0.0) * factors[i];
            }
            Ok(Value::TimeDelta(TimeDelta::microseconds(
                micros.round() as i64
            )))
        }
        "timezone.now" | "datetime.datetime.now" => {
            Ok(Value::DateTime(chrono::Utc::now().naive_utc()))
        }
        "date.today" => Ok(Value::Date(chrono::Utc::now().date_naive())),
        "transaction.atomic" => Ok(Value::Opaque(Rc::from("Atomic"), Rc::new(vec![]))),
        "reset_queries" => {
            interp.db.reset_queries();
            Ok(Value::None)
        }
        "call_command" => super::queryset::call_command(interp, args, kwargs),
        n if n.starts_with("math.") => {
            let x = args
                .first()
                .and_then(to_f64)
                .ok_or_else(|| ScriptError::type_error("must be real number"))?;
            Ok(match n {
                "math.sqrt" => {
                    if x < 0.0 {
                        return Err(ScriptError::value_error("math domain error"));
                    }
                    Value::Float(x.sqrt())
                }
                "math.floor" => Value::Int(x.floor() as i64),
                "math.ceil" => Value::Int(x.ceil() as i64),
                "math.isnan" => Value::Bool(x.is_nan()),
                "math.isinf" => Value::Bool(x.is_infinite()),
                "math.exp" => Value::Float(x.exp()),
                "math.fabs" => Value::Float(x.abs()),
                _ => Value::Float(match args.get(1).and_then(to_f64) {
                    Some(base) => x.ln() / base.ln(),
                    None => x.ln(),
                }),
            })
        }
        other => Err(ScriptError::new(
            "NameError",
            format!("name '{other}' is not defined"),
        )),
    }
}

fn int_args(
    args: &[Value],
    kwargs: &[(String, Value)],
    names: &[&str],
    required: usize,
) -> Result<Vec<i64>, ScriptError> {
    let mut out = vec![0i64; names.len()];
    for (i, a) in args.iter().enumerate() {
        if i >= names.len() {
            return Err(ScriptError::type_error("too many arguments"));
        }
        out[i] = int_arg(a, names[i])?;
    }
    for (k, v) in kwargs {
        let i = names.iter().position(|n| n == k).ok_or_else(|| {
            ScriptError::type_error(format!("'{k}' is an invalid keyword argument"))
        })?;
        out[i] = int_arg(v, k)?;
    }
    if args.len() + kwargs.len() < required {
        return Err(ScriptError::type_error(format!(
            "function missing required argument '{}'",
            names[args.len().min(names.len() - 1)]
        )));
    }
    Ok(out)
}

fn keyed(interp: &mut Interpreter, key: &Option<Value>, v: &Value) -> Result<Value, ScriptError> {
    match key {
        Some(Value::None) | None => Ok(v.clone()),
        Some(f) => interp.call(f, vec![v.clone()], vec![]),
    }
}

/// Sorts like Python's `sorted(key=…, reverse=…)` (stable).
pub fn sort_values(
    interp: &mut Interpreter,
    items: &mut Vec<Value>,
    key: Option<Value>,
    reverse: bool,
) -> Result<(), ScriptError> {
    let keys: Vec<Value> = items
        .iter()
        .map(|v| keyed(interp, &key, v))
        .collect::<Result<_, _>>()?;
    let mut indexed: Vec<(usize, Value)> = keys.into_iter().enumerate().collect();
    let mut failure = None;
    indexed.sort_by(|a, b| {
        let ord = compare_values(interp, &a.1, &b.1).unwrap_or_else(|e| {
            failure.get_or_insert(e);
            Ordering::Equal
        });
        if reverse {
            ord.reverse()
        } else {
            ord
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let old = std::mem::take(items);
    *items = indexed.into_iter().map(|(i, _)| old[i].clone()).collect();
    Ok(())
}

fn overflow() -> ScriptError {
    ScriptError::new(
        "OverflowError",
        "integer overflow (the script frontend's integers are 64-bit)",
    )
}

/// A number as `f64`.
pub fn to_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Float(f) => Some(*f),
        Value::Decimal(d) => Some(d.to_f64()),
        _ => None,
    }
}

/// Python's `round(x, n)`: banker's rounding, an int without `n`.
fn round(v: &Value, digits: Option<i64>) -> Result<Value, ScriptError> {
    match (v, digits) {
        (Value::Int(i), _) => Ok(Value::Int(*i)),
        (Value::Float(f), None) => Ok(Value::Int(round_half_even(*f) as i64)),
        (Value::Float(f), Some(n)) => {
            // Rust formats the exact binary value, rounding ties to even: what CPython's
            // correctly rounded `round(x, n)` gives (`round(2.675, 2)` is 2.67).
            let text = format!("{:.*}", n.clamp(0, 300) as usize, f);
            Ok(Value::Float(text.parse().unwrap_or(*f)))
        }
        (Value::Decimal(d), None) => {
            let r = decimal_round(d, 0);
            Ok(Value::Int(r.unscaled() as i64))
        }
        (Value::Decimal(d), Some(n)) => Ok(Value::Decimal(decimal_round(d, n as i32))),
        (other, _) => Err(ScriptError::type_error(format!(
            "type {} doesn't define __round__ method",
            other.type_name()
        ))),
    }
}

fn round_half_even(f: f64) -> f64 {
    let r = f.round();
    if (f - f.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - f.signum()
    } else {
        r
    }
}

/// A decimal rounded half-even to `places` digits after the point.
fn decimal_round(d: &Decimal, places: i32) -> Decimal {
    let scale = i32::from(d.scale());
    if scale <= places {
        return rescale(d, places);
    }
    let drop = 10i128.pow((scale - places) as u32);
    let q = d.unscaled() / drop;
    let r = d.unscaled() % drop;
    let twice = r.abs() * 2;
    let q = if twice > drop || (twice == drop && q % 2 != 0) {
        q + d.unscaled().signum()
    } else {
        q
    };
    Decimal::new(q, places as i8)
}

fn rescale(d: &Decimal, scale: i32) -> Decimal {
    let current = i32::from(d.scale());
    if scale <= current {
        return *d;
    }
    Decimal::new(
        d.unscaled() * 10i128.pow((scale - current) as u32),
        scale as i8,
    )
}

fn decimal_of(v: &Value) -> Option<Decimal> {
    match v {
        Value::Decimal(d) => Some(*d),
        Value::Int(i) => Some(Decimal::new(i128::from(*i), 0)),
        Value::Bool(b) => Some(Decimal::new(i128::from(*b), 0)),
        _ => None,
    }
}

/// Python's Decimal division: exact when it can be, otherwise 28 significant digits; the
/// result keeps the ideal exponent (difference of the operands') when exact.
fn decimal_divide(a: &Decimal, b: &Decimal) -> Result<Decimal, ScriptError> {
    if b.unscaled() == 0 {
        return Err(ScriptError::new(
            "ZeroDivisionError",
            "[<class 'decimal.DivisionByZero'>]",
        ));
    }
    let ideal = i32::from(a.scale()) - i32::from(b.scale());
    for extra in 0..=28 {
        let scale = ideal.max(0) + extra;
        let shift = scale - ideal;
        let Some(numerator) = 10i128
            .checked_pow(shift as u32)
            .and_then(|p| a.unscaled().checked_mul(p))
        else {
            break;
        };
        if numerator % b.unscaled() == 0 {
            return Ok(Decimal::new(numerator / b.unscaled(), scale as i8));
        }
        let q = numerator / b.unscaled();
        if q.unsigned_abs().to_string().len() >= 28 {
            return Ok(Decimal::new(q, scale as i8));
        }
    }
    Decimal::parse(&format!("{}", a.to_f64() / b.to_f64()))
        .map_err(|e| ScriptError::value_error(e.to_string()))
}

fn dates_error(op: &str, l: &Value, r: &Value) -> ScriptError {
    ScriptError::type_error(format!(
        "unsupported operand type(s) for {op}: '{}' and '{}'",
        l.type_name(),
        r.type_name()
    ))
}

/// `left op right` for Python values; Django objects (Q, expressions) go to the bridge.
pub fn binary(
    interp: &mut Interpreter,
    left: &Value,
    op: &str,
    right: &Value,
) -> Result<Value, ScriptError> {
    if let Some(v) = super::queryset::binary_django(left, op, right)? {
        return Ok(v);
    }
    use Value::*;
    let err = || dates_error(op, left, right);
    Ok(match (left, right) {
        (Int(_) | Bool(_), Int(_) | Bool(_)) => {
            let a = int_arg(left, "")?;
            let b = int_arg(right, "")?;
            match op {
                "+" => Int(a.checked_add(b).ok_or_else(overflow)?),
                "-" => Int(a.checked_sub(b).ok_or_else(overflow)?),
                "*" => Int(a.checked_mul(b).ok_or_else(overflow)?),
                "/" => {
                    if b == 0 {
                        return Err(ScriptError::new("ZeroDivisionError", "division by zero"));
                    }
                    Float(a as f64 / b as f64)
                }
                "//" | "%" => {
                    if b == 0 {
                        return Err(ScriptError::new(
                            "ZeroDivisionError",
                            "integer division or modulo by zero",
                        ));
                    }
                    let q = a.div_euclid(b);
                    let q = if b < 0 && a.rem_euclid(b) != 0 {
                        q + 1
                    } else {
                        q
                    };
                    let q = if b < 0 {
                        (a as f64 / b as f64).floor() as i64
                    } else {
                        q
                    };
                    if op == "//" {
                        Int(q)
                    } else {
                        Int(a - q * b)
                    }
                }
                "**" => {
                    if b < 0 {
                        Float((a as f64).powf(b as f64))
                    } else {
                        Int(a
                            .checked_pow(u32::try_from(b).map_err(|_| overflow())?)
                            .ok_or_else(overflow)?)
                    }
                }
                "&" => Int(a & b),
                "|" => Int(a | b),
                "^" => Int(a ^ b),
                "<<" => Int(a.checked_shl(b as u32).ok_or_else(overflow)?),
                ">>" => Int(a >> b.clamp(0, 63)),
                _ => return Err(err()),
            }
        }
        (Decimal(_), Int(_) | Bool(_) | Decimal(_)) | (Int(_) | Bool(_), Decimal(_)) => {
            let (Some(a), Some(b)) = (decimal_of(left), decimal_of(right)) else {
                return Err(err());
            };
            let scale = a.scale().max(b.scale());
            let (ra, rb) = (rescale(&a, scale.into()), rescale(&b, scale.into()));
            match op {
                "+" => Decimal(quiver::expressions::Decimal::new(
                    ra.unscaled()
                        .checked_add(rb.unscaled())
                        .ok_or_else(overflow)?,
                    scale,
                )),
                "-" => Decimal(quiver::expressions::Decimal::new(
                    ra.unscaled()
                        .checked_sub(rb.unscaled())
                        .ok_or_else(overflow)?,
                    scale,
                )),
                "*" => Decimal(quiver::expressions::Decimal::new(
                    a.unscaled()
                        .checked_mul(b.unscaled())
                        .ok_or_else(overflow)?,
                    a.scale().checked_add(b.scale()).ok_or_else(overflow)?,
                )),
                "/" => Decimal(decimal_divide(&a, &b)?),
                "//" | "%" => {
                    if rb.unscaled() == 0 {
                        return Err(ScriptError::new(
                            "ZeroDivisionError",
                            "[<class 'decimal.DivisionByZero'>]",
                        ));
                    }
                    // Decimal's // and % truncate toward zero (unlike int's).
                    let q = ra.unscaled() / rb.unscaled();
                    if op == "//" {
                        Decimal(quiver::expressions::Decimal::new(q, 0))
                    } else {
                        Decimal(quiver::expressions::Decimal::new(
                            ra.unscaled() - q * rb.unscaled(),
                            scale,
                        ))
                    }
                }
                _ => return Err(err()),
            }
        }
        (Decimal(_), Float(_)) | (Float(_), Decimal(_)) => {
            return Err(ScriptError::type_error(format!(
                "unsupported operand type(s) for {op}: '{}' and '{}'",
                left.type_name(),
                right.type_name()
            )))
        }
        (Int(_) | Bool(_) | Float(_), Int(_) | Bool(_) | Float(_)) => {
            let (a, b) = (to_f64(left).unwrap_or(0.0), to_f64(right).unwrap_or(0.0));
            match op {
                "+" => Float(a + b),
                "-" => Float(a - b),
                "*" => Float(a * b),
                "/" | "//" | "%" if b == 0.0 => {
                    return Err(ScriptError::new(
                        "ZeroDivisionError",
                        "float division by zero",
                    ))
                }
                "/" => Float(a / b),
                "//" => Float((a / b).floor()),
                "%" => Float(a - b * (a / b).floor()),
                "**" => Float(a.powf(b)),
                _ => return Err(err()),
            }
        }
        (Str(a), Str(b)) if op == "+" => Value::str(format!("{a}{b}")),
        (Str(a), Int(n)) | (Int(n), Str(a)) if op == "*" => {
            Value::str(a.repeat((*n).max(0) as usize))
        }
        (Str(a), _) if op == "%" => {
            let items = match right {
                Tuple(t) => t.to_vec(),
                other => vec![other.clone()],
            };
            Value::str(percent_format(interp, a, &items)?)
        }
        (List(a), List(b)) if op == "+" => {
            let mut items = a.borrow().clone();
            items.extend(b.borrow().iter().cloned());
            Value::list(items)
        }
        (Tuple(a), Tuple(b)) if op == "+" => {
            let mut items = a.to_vec();
            items.extend(b.iter().cloned());
            Value::tuple(items)
        }
        (List(a), Int(n)) if op == "*" => {
            let items = a.borrow();
            Value::list(
                (0..(*n).max(0))
                    .flat_map(|_| items.iter().cloned())
                    .collect(),
            )
        }
        (Set(a), Set(b)) => {
            let (a, b) = (a.borrow().clone(), b.borrow().clone());
            let contains = |s: &[Value], v: &Value| s.iter().any(|x| values_equal(x, v));
            make_set(match op {
                "|" => a.iter().chain(b.iter()).cloned().collect(),
                "&" => a.iter().filter(|v| contains(&b, v)).cloned().collect(),
                "-" => a.iter().filter(|v| !contains(&b, v)).cloned().collect(),
                "^" => a
                    .iter()
                    .filter(|v| !contains(&b, v))
                    .chain(b.iter().filter(|v| !contains(&a, v)))
                    .cloned()
                    .collect(),
                _ => return Err(err()),
            })
        }
        (Dict(a), Dict(b)) if op == "|" => {
            let mut items = a.borrow().clone();
            for (k, v) in b.borrow().iter() {
                dict_insert(&mut items, k.clone(), v.clone())?;
            }
            Value::dict(items)
        }
        (Date(d), TimeDelta(t)) | (TimeDelta(t), Date(d)) if op == "+" => {
            Date(*d + chrono::TimeDelta::days(t.num_days()))
        }
        (Date(d), TimeDelta(t)) if op == "-" => Date(*d - chrono::TimeDelta::days(t.num_days())),
        (Date(a), Date(b)) if op == "-" => TimeDelta(*a - *b),
        (DateTime(d), TimeDelta(t)) | (TimeDelta(t), DateTime(d)) if op == "+" => DateTime(*d + *t),
        (DateTime(d), TimeDelta(t)) if op == "-" => DateTime(*d - *t),
        (DateTime(a), DateTime(b)) if op == "-" => TimeDelta(*a - *b),
        (TimeDelta(a), TimeDelta(b)) => match op {
            "+" => TimeDelta(*a + *b),
            "-" => TimeDelta(*a - *b),
            "/" => Float(
                a.num_microseconds().unwrap_or(0) as f64 / b.num_microseconds().unwrap_or(1) as f64,
            ),
            _ => return Err(err()),
        },
        (TimeDelta(a), Int(n)) | (Int(n), TimeDelta(a)) if op == "*" => TimeDelta(*a * (*n as i32)),
        _ => return Err(err()),
    })
}

/// `"%s has %d" % (a, b)`.
fn percent_format(
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

/// Python's format-spec mini-language for the common cases: `[[fill]align][sign][,][width][.precision][type]`.
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

/// `-x`, `+x`, `~x`.
pub fn unary(op: &str, v: &Value) -> Result<Value, ScriptError> {
    if let Some(v) = super::queryset::unary_django(op, v)? {
        return Ok(v);
    }
    Ok(match (op, v) {
        ("-", Value::Int(i)) => Value::Int(i.checked_neg().ok_or_else(overflow)?),
        ("-", Value::Bool(b)) => Value::Int(-i64::from(*b)),
        ("-", Value::Float(f)) => Value::Float(-f),
        ("-", Value::Decimal(d)) => Value::Decimal(Decimal::new(-d.unscaled(), d.scale())),
        ("-", Value::TimeDelta(d)) => Value::TimeDelta(-*d),
        ("+", v @ (Value::Int(_) | Value::Float(_) | Value::Decimal(_) | Value::TimeDelta(_))) => {
            v.clone()
        }
        ("~", Value::Int(i)) => Value::Int(!i),
        _ => {
            return Err(ScriptError::type_error(format!(
                "bad operand type for unary {op}: '{}'",
                v.type_name()
            )))
        }
    })
}

/// Python equality (numbers across types, containers element-wise, instances by model and pk).
pub fn values_equal(a: &Value, b: &Value) -> bool {
    use Value::*;
    match (a, b) {
        (None, None) => true,
        (Str(x), Str(y)) => x == y,
        (Int(_) | Bool(_) | Float(_) | Decimal(_), Int(_) | Bool(_) | Float(_) | Decimal(_)) => {
            match (decimal_of(a), decimal_of(b)) {
                (Some(x), Some(y)) => {
                    let s = x.scale().max(y.scale());
                    rescale(&x, s.into()).unscaled() == rescale(&y, s.into()).unscaled()
                }
                _ => to_f64(a) == to_f64(b),
            }
        }
        (Date(x), Date(y)) => x == y,
        (DateTime(x), DateTime(y)) => x == y,
        (Time(x), Time(y)) => x == y,
        (TimeDelta(x), TimeDelta(y)) => x == y,
        (List(x), List(y)) => {
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| values_equal(p, q))
        }
        (Tuple(x), Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| values_equal(p, q))
        }
        (Set(x), Set(y)) => {
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len() && x.iter().all(|p| y.iter().any(|q| values_equal(p, q)))
        }
        (Dict(x), Dict(y)) => {
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.iter()
                        .any(|(k2, v2)| values_equal(k, k2) && values_equal(v, v2))
                })
        }
        (Instance(x), Instance(y)) => {
            if Rc::ptr_eq(x, y) {
                return true;
            }
            let (x, y) = (x.borrow(), y.borrow());
            let (px, py) = (x.pk_value(), y.pk_value());
            x.model == y.model && !matches!(px, None) && values_equal(&px, &py)
        }
        (ExceptionClass { name: x, model: mx }, ExceptionClass { name: y, model: my }) => {
            x == y && mx == my
        }
        (ModelClass(x), ModelClass(y)) => Rc::ptr_eq(x, y),
        (Builtin(x), Builtin(y)) => x == y,
        _ => false,
    }
}

/// Python ordering; `TypeError` between unorderable types.
pub fn compare_values(
    interp: &mut Interpreter,
    a: &Value,
    b: &Value,
) -> Result<Ordering, ScriptError> {
    use Value::*;
    let _ = interp;
    let unorderable = || {
        ScriptError::type_error(format!(
            "'<' not supported between instances of '{}' and '{}'",
            a.type_name(),
            b.type_name()
        ))
    };
    Ok(match (a, b) {
        (Int(_) | Bool(_) | Decimal(_), Int(_) | Bool(_) | Decimal(_)) => {
            let (x, y) = (
                decimal_of(a).ok_or_else(unorderable)?,
                decimal_of(b).ok_or_else(unorderable)?,
            );
            let s = x.scale().max(y.scale());
            rescale(&x, s.into())
                .unscaled()
                .cmp(&rescale(&y, s.into()).unscaled())
        }
        (Int(_) | Bool(_) | Float(_) | Decimal(_), Int(_) | Bool(_) | Float(_) | Decimal(_)) => {
            to_f64(a).partial_cmp(&to_f64(b)).unwrap_or(Ordering::Equal)
        }
        (Str(x), Str(y)) => x.cmp(y),
        (Date(x), Date(y)) => x.cmp(y),
        (DateTime(x), DateTime(y)) => x.cmp(y),
        (Time(x), Time(y)) => x.cmp(y),
        (TimeDelta(x), TimeDelta(y)) => x.cmp(y),
        (List(_) | Tuple(_), List(_) | Tuple(_)) => {
            let x = sequence(a);
            let y = sequence(b);
            for (p, q) in x.iter().zip(y.iter()) {
                if !values_equal(p, q) {
                    return compare_values(interp, p, q);
                }
            }
            x.len().cmp(&y.len())
        }
        _ => return Err(unorderable()),
    })
}

fn sequence(v: &Value) -> Vec<Value> {
    match v {
        Value::List(l) => l.borrow().clone(),
        Value::Tuple(t) => t.to_vec(),
        _ => vec![],
    }
}

/// `left op right` for comparison operators.
pub fn compare(
    interp: &mut Interpreter,
    left: &Value,
    op: &str,
    right: &Value,
) -> Result<bool, ScriptError> {
    Ok(match op {
        "==" => values_equal(left, right),
        "!=" => !values_equal(left, right),
        "is" => identical(left, right),
        "is not" => !identical(left, right),
        "in" | "not in" => {
            let found = match right {
                Value::Str(s) => match left {
                    Value::Str(sub) => s.contains(&**sub),
                    other => {
                        return Err(ScriptError::type_error(format!(
                            "'in <string>' requires string as left operand, not {}",
                            other.type_name()
                        )))
                    }
                },
                Value::Dict(d) => d.borrow().iter().any(|(k, _)| values_equal(k, left)),
                other => interp.iterate(other)?.iter().any(|v| values_equal(v, left)),
            };
            found == (op == "in")
        }
        _ => {
            let ord = compare_values(interp, left, right).map_err(|e| {
                ScriptError::type_error(e.message.replace("'<'", &format!("'{op}'")))
            })?;
            match op {
                "<" => ord == Ordering::Less,
                "<=" => ord != Ordering::Greater,
                ">" => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            }
        }
    })
}

fn identical(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::None, Value::None) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::List(x), Value::List(y)) | (Value::Set(x), Value::Set(y)) => Rc::ptr_eq(x, y),
        (Value::Dict(x), Value::Dict(y)) => Rc::ptr_eq(x, y),
        (Value::Instance(x), Value::Instance(y)) => Rc::ptr_eq(x, y),
        (Value::None, _) | (_, Value::None) => false,
        _ => values_equal(a, b),
    }
}

/// A set from items (duplicates dropped, first occurrence kept).
pub fn make_set(items: Vec<Value>) -> Value {
    let mut out: Vec<Value> = vec![];
    for i in items {
        if !out.iter().any(|v| values_equal(v, &i)) {
            out.push(i);
        }
    }
    Value::Set(Rc::new(std::cell::RefCell::new(out)))
}

/// Inserts or replaces a dict entry.
pub fn dict_insert(
    items: &mut Vec<(Value, Value)>,
    key: Value,
    value: Value,
) -> Result<(), ScriptError> {
    if matches!(key, Value::List(_) | Value::Dict(_) | Value::Set(_)) {
        return Err(ScriptError::type_error(format!(
            "unhashable type: '{}'",
            key.type_name()
        )));
    }
    match items.iter_mut().find(|(k, _)| values_equal(k, &key)) {
        Some(slot) => slot.1 = value,
        None => items.push((key, value)),
    }
    Ok(())
}

/// The items of an iterable value.
pub fn iterate(interp: &mut Interpreter, value: &Value) -> Result<Vec<Value>, ScriptError> {
    Ok(match value {
        Value::List(l) | Value::Set(l) => l.borrow().clone(),
        Value::Tuple(t) => t.to_vec(),
        Value::Dict(d) => d.borrow().iter().map(|(k, _)| k.clone()).collect(),
        Value::Str(s) => s.chars().map(|c| Value::str(c.to_string())).collect(),
        Value::QuerySet(_) | Value::Manager(_) | Value::RelatedManager { .. } => {
            super::queryset::evaluate(interp, value)?
        }
        other => {
            return Err(ScriptError::type_error(format!(
                "'{}' object is not iterable",
                other.type_name()
            )))
        }
    })
}

fn index_of(len: usize, i: i64, what: &str) -> Result<usize, ScriptError> {
    let j = if i < 0 { i + len as i64 } else { i };
    if j < 0 || j >= len as i64 {
        return Err(ScriptError::new(
            "IndexError",
            format!("{what} index out of range"),
        ));
    }
    Ok(j as usize)
}

/// `object[index]`.
pub fn get_item(
    interp: &mut Interpreter,
    object: &Value,
    index: &Value,
) -> Result<Value, ScriptError> {
    match (object, index) {
        (Value::List(l), Value::Int(i)) => {
            let l = l.borrow();
            Ok(l[index_of(l.len(), *i, "list")?].clone())
        }
        (Value::Tuple(t), Value::Int(i)) => Ok(t[index_of(t.len(), *i, "tuple")?].clone()),
        (Value::Str(s), Value::Int(i)) => {
            let chars: Vec<char> = s.chars().collect();
            Ok(Value::str(
                chars[index_of(chars.len(), *i, "string")?].to_string(),
            ))
        }
        (Value::Dict(d), key) => d
            .borrow()
            .iter()
            .find(|(k, _)| values_equal(k, key))
            .map(|(_, v)| v.clone())
            .ok_or_else(|| ScriptError::new("KeyError", key.repr())),
        (Value::QuerySet(_) | Value::Manager(_), Value::Int(i)) => {
            super::queryset::index(interp, object, *i)
        }
        (Value::List(_) | Value::Tuple(_) | Value::Str(_), other) => {
            Err(ScriptError::type_error(format!(
                "{} indices must be integers or slices, not {}",
                object.type_name(),
                other.type_name()
            )))
        }
        _ => Err(ScriptError::type_error(format!(
            "'{}' object is not subscriptable",
            object.type_name()
        ))),
    }
}

/// `object[a:b:c]`.
pub fn slice(
    interp: &mut Interpreter,
    object: &Value,
    a: Option<i64>,
    b: Option<i64>,
    c: Option<i64>,
) -> Result<Value, ScriptError> {
    if let Value::QuerySet(_) | Value::Manager(_) = object {
        if c.is_none() || c == Some(1) {
            return super::queryset::slice(interp, object, a, b);
        }
        let items = interp.iterate(object)?;
        return slice(interp, &Value::list(items), a, b, c);
    }
    let items: Vec<Value> = match object {
        Value::List(l) => l.borrow().clone(),
        Value::Tuple(t) => t.to_vec(),
        Value::Str(s) => s.chars().map(|c| Value::str(c.to_string())).collect(),
        other => {
            return Err(ScriptError::type_error(format!(
                "'{}' object is not subscriptable",
                other.type_name()
            )))
        }
    };
    let len = items.len() as i64;
    let step = c.unwrap_or(1);
    if step == 0 {
        return Err(ScriptError::value_error("slice step cannot be zero"));
    }
    let clamp = |v: Option<i64>, default: i64, low: i64, high: i64| match v {
        None => default,
        Some(v) if v < 0 => (v + len).clamp(low, high),
        Some(v) => v.clamp(low, high),
    };
    let picked: Vec<Value> = if step > 0 {
        let (start, stop) = (clamp(a, 0, 0, len), clamp(b, len, 0, len));
        (start..stop.max(start))
            .step_by(step as usize)
            .map(|i| items[i as usize].clone())
            .collect()
    } else {
        let (start, stop) = (clamp(a, len - 1, -1, len - 1), clamp(b, -1, -1, len - 1));
        let mut out = vec![];
        let mut i = start;
        while i > stop {
            out.push(items[i as usize].clone());
            i += step;
        }
        out
    };
    Ok(match object {
        Value::List(_) => Value::list(picked),
        Value::Tuple(_) => Value::tuple(picked),
        _ => Value::str(picked.iter().map(Value::to_str).collect::<String>()),
    })
}

/// `object[index] = value`.
pub fn set_item(object: &Value, index: Value, value: Value) -> Result<(), ScriptError> {
    match (object, &index) {
        (Value::List(l), Value::Int(i)) => {
            let mut l = l.borrow_mut();
            let j = index_of(l.len(), *i, "list assignment")?;
            l[j] = value;
            Ok(())
        }
        (Value::Dict(d), _) => dict_insert(&mut d.borrow_mut(), index, value),
        _ => Err(ScriptError::type_error(format!(
            "'{}' object does not support item assignment",
            object.type_name()
        ))),
    }
}

/// `del object[index]`.
pub fn del_item(object: &Value, index: &Value) -> Result<(), ScriptError> {
    match (object, index) {
        (Value::List(l), Value::Int(i)) => {
            let mut l = l.borrow_mut();
            let j = index_of(l.len(), *i, "list assignment")?;
            l.remove(j);
            Ok(())
        }
        (Value::Dict(d), key) => {
            let mut d = d.borrow_mut();
            let before = d.len();
            d.retain(|(k, _)| !values_equal(k, key));
            if d.len() == before {
                return Err(ScriptError::new("KeyError", key.repr()));
            }
            Ok(())
        }
        _ => Err(ScriptError::type_error(format!(
            "'{}' object does not support item deletion",
            object.type_name()
        ))),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Value {
        Value::Decimal(Decimal::parse(text).unwrap())
    }

    fn interp() -> Interpreter {
        Interpreter::new(
            "t.py",
            std::path::PathBuf::from("."),
            super::super::Mode::Print(super::super::Format::Json),
            Box::new(std::io::sink()),
        )
    }

    #[test]
    fn decimal_arithmetic_keeps_pythons_digits() {
        let mut i = interp();
        let text = |v: Value| v.to_str();
        assert_eq!(
            text(binary(&mut i, &dec("1.10"), "+", &dec("2.205")).unwrap()),
            "3.305"
        );
        assert_eq!(
            text(binary(&mut i, &dec("2.50"), "*", &Value::Int(3)).unwrap()),
            "7.50"
        );
        assert_eq!(
            text(binary(&mut i, &dec("10"), "/", &dec("4")).unwrap()),
            "2.5"
        );
        assert_eq!(
            text(binary(&mut i, &dec("1"), "/", &dec("3")).unwrap()),
            "0.3333333333333333333333333333"
        );
        assert_eq!(
            binary(&mut i, &dec("1"), "+", &Value::Float(1.0))
                .unwrap_err()
                .kind,
            "TypeError"
        );
        assert!(values_equal(&dec("2.50"), &Value::Float(2.5)));
    }

    #[test]
    fn integer_division_floors_and_overflow_is_an_error() {
        let mut i = interp();
        assert!(values_equal(
            &binary(&mut i, &Value::Int(-7), "//", &Value::Int(2)).unwrap(),
            &Value::Int(-4)
        ));
        assert!(values_equal(
            &binary(&mut i, &Value::Int(-7), "%", &Value::Int(3)).unwrap(),
            &Value::Int(2)
        ));
        assert_eq!(
            binary(&mut i, &Value::Int(i64::MAX), "+", &Value::Int(1))
                .unwrap_err()
                .kind,
            "OverflowError"
        );
    }

    #[test]
    fn slices_follow_python() {
        let mut i = interp();
        let list = Value::list((0..6).map(Value::Int).collect());
        assert_eq!(
            slice(&mut i, &list, None, None, Some(-2)).unwrap().repr(),
            "[5, 3, 1]"
        );
        assert_eq!(
            slice(&mut i, &list, Some(-2), None, None).unwrap().repr(),
            "[4, 5]"
        );
        assert_eq!(
            slice(&mut i, &Value::str("hello"), Some(1), Some(-1), None)
                .unwrap()
                .repr(),
            "'ell'"
        );
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
