//! Python's built-in functions for the subset (`len`, `sum`, `sorted`, `round`, `Decimal`,
//! `datetime.date`, …) and the names scripts import (`models`, `datetime`, `timezone`,
//! `transaction`, `connection`, Django's exception classes). Operators, containers,
//! formatting and the methods of plain values have their own modules.

use std::cmp::Ordering;
use std::rc::Rc;

use chrono::{NaiveDate, NaiveTime, TimeDelta};
use quiver::expressions::Decimal;

use super::containers::{dict_insert, make_set};
use super::convert;
use super::error::ScriptError;
use super::format::format_spec;
use super::interpreter::Interpreter;
use super::operators::{binary, compare_values, decimal_round, overflow, round_half_even, to_f64};
use super::values::{float_repr, Value};

/// Exception classes a script can name.
const EXCEPTIONS: [&str; 40] = [
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
    "FieldDoesNotExist",
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
    "MemoryError",
    "RecursionError",
    "OSError",
    "FileNotFoundError",
    "ImportError",
    "InvalidOperation",
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
        || super::queryset::SUBQUERY_NAMES.contains(&name)
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
        // django-cte's deprecated `objects = CTEManager()`: every Quiver manager has
        // `with_cte()`, so the class body keeps it as a plain attribute.
        "CTEManager" => Value::Builtin(Rc::from("CTEManager")),
        "CASCADE" | "PROTECT" | "RESTRICT" | "SET_NULL" | "SET_DEFAULT" | "DO_NOTHING" => {
            Value::Opaque(Rc::from(name), Rc::new(vec![]))
        }
        // `from django.db.models.sql.constants import INNER, LOUTER` (cte.join's _join_type).
        "INNER" | "LOUTER" => Value::Opaque(Rc::from(name), Rc::new(vec![])),
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
        ("models", n @ ("Subquery" | "OuterRef" | "Exists")) => Some(Value::Builtin(Rc::from(n))),
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
        (
            "transaction",
            "TransactionManagementError" | "DatabaseError" | "Error" | "ProgrammingError",
        ) => builtin(name),
        ("transaction", "atomic" | "on_commit" | "set_rollback") => {
            Some(Value::Builtin(Rc::from(format!("transaction.{name}"))))
        }
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

pub(super) fn arity(name: &str, args: &[Value], min: usize, max: usize) -> Result<(), ScriptError> {
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

pub(super) fn kwarg(kwargs: &[(String, Value)], name: &str) -> Option<Value> {
    kwargs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

pub(super) fn int_arg(v: &Value, what: &str) -> Result<i64, ScriptError> {
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
    if super::queryset::SUBQUERY_NAMES.contains(&name) || name == "CTE.recursive" {
        return super::queryset::call_subquery(interp, name, args, kwargs);
    }
    if super::queryset::is_expression_name(name) {
        return super::queryset::call_expression(name, args, kwargs);
    }
    if super::models::is_field_class(name)
        || matches!(name, "Index" | "UniqueConstraint" | "CheckConstraint")
    {
        return super::models::field_call(name, args, kwargs);
    }
    match name {
        "CTEManager" => Ok(Value::Opaque(Rc::from("CTEManager"), Rc::new(vec![]))),
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
                v @ (Value::QuerySet(_) | Value::Manager(_) | Value::RelatedManager(_)) => {
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
                let ord = compare_values(&k, &best_key)?;
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
                    let power = 10i128.checked_pow(scale.unsigned_abs());
                    let whole = match power {
                        Some(p) if scale >= 0 => Some(d.unscaled() / p),
                        None if scale >= 0 => Some(0),
                        Some(p) => d.unscaled().checked_mul(p),
                        None => None,
                    };
                    whole
                        .and_then(|w| i64::try_from(w).ok())
                        .ok_or_else(overflow)?
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
            // In i128 so that extreme bounds cannot overflow while counting.
            let (start128, stop128, step128) =
                (i128::from(start), i128::from(stop), i128::from(step));
            let count = if step > 0 {
                (stop128 - start128 + step128 - 1).max(0) / step128
            } else {
                (start128 - stop128 - step128 - 1).max(0) / -step128
            };
            if count > 50_000_000 {
                return Err(ScriptError::new(
                    "MemoryError",
                    "range() too large for the script frontend",
                ));
            }
            // Every element lies between start and stop, so it fits in an i64.
            Ok(Value::list(
                (0..count)
                    .map(|i| Value::Int((start128 + i * step128) as i64))
                    .collect(),
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
                // Django's RelatedObjectDoesNotExist is also an AttributeError: `hasattr(place,
                // "restaurant")` is False when the reverse one-to-one row is missing.
                Err(e)
                    if matches!(
                        e.kind.as_str(),
                        "AttributeError" | "FieldError" | "RelatedObjectDoesNotExist"
                    ) =>
                {
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
            check_year(ints[0])?;
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
            check_year(ints[0])?;
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
        "transaction.atomic" => {
            // `atomic(using=None, savepoint=True, durable=False)`; only `savepoint` changes
            // what a script sees (one database, no durability checks).
            let savepoint = args
                .get(1)
                .cloned()
                .or(kwarg(&kwargs, "savepoint"))
                .is_none_or(|v| v.truthy());
            Ok(Value::Opaque(
                Rc::from("Atomic"),
                Rc::new(vec![("savepoint".into(), Value::Bool(savepoint))]),
            ))
        }
        "transaction.on_commit" => match args.first().cloned().or(kwarg(&kwargs, "func")) {
            Some(callback) => {
                let robust = args
                    .get(2)
                    .cloned()
                    .or(kwarg(&kwargs, "robust"))
                    .is_some_and(|v| v.truthy());
                interp.on_commit(callback, robust)
            }
            None => Err(ScriptError::type_error(
                "on_commit() missing 1 required positional argument: 'func'",
            )),
        },
        "transaction.set_rollback" => {
            let flag = args
                .first()
                .cloned()
                .or(kwarg(&kwargs, "rollback"))
                .is_some_and(|v| v.truthy());
            interp.set_rollback(flag)
        }
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

/// Python's `datetime.MINYEAR..=MAXYEAR`.
fn check_year(year: i64) -> Result<(), ScriptError> {
    if (1..=9999).contains(&year) {
        Ok(())
    } else {
        Err(ScriptError::value_error(format!(
            "year {year} is out of range"
        )))
    }
}

pub(super) fn int_args(
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

pub(super) fn keyed(
    interp: &mut Interpreter,
    key: &Option<Value>,
    v: &Value,
) -> Result<Value, ScriptError> {
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
        let ord = compare_values(&a.1, &b.1).unwrap_or_else(|e| {
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

/// Python's `round(x, n)`: banker's rounding, an int without `n`.
pub(super) fn round(v: &Value, digits: Option<i64>) -> Result<Value, ScriptError> {
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
