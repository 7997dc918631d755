//! The bridge from Django names to the `quiver` crate: `Model.objects` and QuerySet methods,
//! `Q`/`F`/`Value`/`Case`/`When`, aggregates, functions and windows, model instances
//! (attribute access with Django's caching, related managers, `save()`, `delete()`,
//! `refresh_from_db()`), `connection.queries` and `call_command`.
//!
//! Nothing here implements a query feature: each Django name is mapped onto the Rust API
//! that already has it. Three tables hold the mapping:
//! - [`queryset_method`]: QuerySet methods by name (`filter`, `annotate`, `select_related`, …);
//! - [`call_expression`]: expression classes by name (`Count`, `Coalesce`, `ExtractYear`, …);
//! - [`window_expression`]: `Window`, the window functions, frames and `Prefetch`.
//!
//! Subqueries and CTEs need the interpreter (a QuerySet argument may be a manager; a
//! recursive CTE calls a script function), so [`call_subquery`] maps `Subquery`, `Exists`,
//! `OuterRef`, django-cte's `CTE`, `CTE.recursive` and `with_cte`; `cte.join()`,
//! `cte.queryset()` and `cte.col.<name>` are in [`cte_method`] and [`get_attribute`].
//!
//! Writes (`update`, `save`, `bulk_create`/`bulk_update`, `get_or_create`/`update_or_create`,
//! `select_for_update`) follow Django's object semantics on top of the crate's: a created
//! object keeps the values it was given, `update_fields`/`force_update` choose the UPDATE,
//! and every failed write reports to [`transaction`](super::transaction), which marks the
//! enclosing `atomic()` block for rollback as Django does.
//!
//! To add a feature when the Rust API gains it (`dates`, `raw`): move its name from
//! [`LATER_METHODS`] to the table, and write one arm calling the Rust API with the converted
//! arguments — a few lines each.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use quiver::expressions::{self as ex, Expression, OrderBy, Q};
use quiver::model::FieldSpec;
use quiver::model::{Model, RelationKind};
use quiver::prelude::{AggregateArg, OrderItem};
use quiver::prelude::{Instance, Related};
use quiver::{QuerySet, Row};
use std::sync::Arc;

use super::convert::{from_scalar, to_argument, to_expression, to_scalar};
use super::error::ScriptError;
use super::interpreter::Interpreter;
use super::values::{
    CteValue, InstanceValue, Lock, ModelClass, QuerySetValue, RelatedSet, Shape, Value,
};

/// Expression classes (Django's `django.db.models` names) the script can call.
pub const EXPRESSION_NAMES: [&str; 71] = [
    "Q",
    "F",
    "Value",
    "Case",
    "When",
    "ExpressionWrapper",
    "Cast",
    "Count",
    "Sum",
    "Avg",
    "Min",
    "Max",
    "StdDev",
    "Variance",
    "Coalesce",
    "Greatest",
    "Least",
    "NullIf",
    "Concat",
    "Lower",
    "Upper",
    "Length",
    "Substr",
    "Trim",
    "LTrim",
    "RTrim",
    "Replace",
    "Left",
    "Right",
    "Reverse",
    "Repeat",
    "StrIndex",
    "LPad",
    "RPad",
    "Abs",
    "Round",
    "Ceil",
    "Floor",
    "Mod",
    "Power",
    "Sqrt",
    "Exp",
    "Ln",
    "Log",
    "Sign",
    "Extract",
    "ExtractYear",
    "ExtractIsoYear",
    "ExtractQuarter",
    "ExtractMonth",
    "ExtractWeek",
    "ExtractDay",
    "ExtractWeekDay",
    "ExtractIsoWeekDay",
    "ExtractHour",
    "ExtractMinute",
    "ExtractSecond",
    "Trunc",
    "TruncYear",
    "TruncQuarter",
    "TruncMonth",
    "TruncWeek",
    "TruncDay",
    "TruncDate",
    "TruncTime",
    "TruncHour",
    "TruncMinute",
    "TruncSecond",
    "Now",
    "Upper",
    "Lower",
];

/// Subquery expressions and the django-cte names, which [`call_subquery`] builds.
pub const SUBQUERY_NAMES: [&str; 5] = ["Subquery", "OuterRef", "Exists", "CTE", "with_cte"];

/// Window functions, frames (Django's `django.db.models.functions.window`) and `Prefetch`.
const WINDOW_NAMES: [&str; 16] = [
    "Window",
    "RowNumber",
    "Rank",
    "DenseRank",
    "PercentRank",
    "CumeDist",
    "Ntile",
    "Lag",
    "Lead",
    "FirstValue",
    "LastValue",
    "NthValue",
    "RowRange",
    "ValueRange",
    "Prefetch",
    "WindowFrameExclusion",
];

/// True for an expression class name the script knows (supported or announced).
pub fn is_expression_name(name: &str) -> bool {
    EXPRESSION_NAMES.contains(&name) || WINDOW_NAMES.contains(&name)
}

/// QuerySet methods Django has and Quiver's QuerySet does not yet.
const LATER_METHODS: [&str; 4] = ["dates", "datetimes", "raw", "extra"];

/// QuerySet methods that only build a new QuerySet (no query runs, so they are allowed in a
/// transaction block that is marked for rollback).
const LAZY_METHODS: [&str; 23] = [
    "all",
    "filter",
    "exclude",
    "annotate",
    "alias",
    "order_by",
    "reverse",
    "distinct",
    "values",
    "values_list",
    "none",
    "only",
    "defer",
    "using",
    "iterator",
    "select_related",
    "prefetch_related",
    "select_for_update",
    "union",
    "intersection",
    "difference",
    "with_cte",
    "query",
];

/// QuerySet and manager methods, for the shell's completion.
pub const QUERYSET_METHODS: [&str; 44] = [
    "all",
    "filter",
    "exclude",
    "annotate",
    "alias",
    "order_by",
    "reverse",
    "distinct",
    "values",
    "values_list",
    "none",
    "only",
    "defer",
    "count",
    "exists",
    "aggregate",
    "get",
    "first",
    "last",
    "latest",
    "earliest",
    "contains",
    "in_bulk",
    "create",
    "bulk_create",
    "get_or_create",
    "explain",
    "iterator",
    "using",
    "load_csv",
    "load_json",
    "load_parquet",
    "update",
    "update_or_create",
    "bulk_update",
    "select_for_update",
    "delete",
    "select_related",
    "prefetch_related",
    "union",
    "intersection",
    "difference",
    "with_cte",
    "query",
];

fn kw(kwargs: &[(String, Value)], name: &str) -> Option<Value> {
    kwargs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn take_kw(kwargs: &mut Vec<(String, Value)>, name: &str) -> Option<Value> {
    let i = kwargs.iter().position(|(k, _)| k == name)?;
    Some(kwargs.remove(i).1)
}

fn expr_value(e: Expression) -> Value {
    Value::Expression(Rc::new(e))
}

fn field_spec(value: &Value) -> Result<FieldSpec, ScriptError> {
    match value {
        Value::Field(f) => Ok(f.spec.clone()),
        other => Err(ScriptError::type_error(format!(
            "output_field must be a field instance such as models.IntegerField(), not {}",
            other.repr()
        ))),
    }
}

/// A `Q` from positional `Q`s/conditions and keyword lookups (Django's `Q(*args, **kwargs)`).
fn build_q(args: &[Value], kwargs: &[(String, Value)]) -> Result<Q, ScriptError> {
    let mut q = Q::all();
    for a in args {
        q = q & as_q(a)?;
    }
    if !kwargs.is_empty() {
        let lookups: Vec<(String, Expression)> = kwargs
            .iter()
            .map(|(k, v)| Ok((k.clone(), to_expression(v)?)))
            .collect::<Result<_, ScriptError>>()?;
        q = q & Q::from_kwargs(lookups);
    }
    Ok(q)
}

fn as_q(value: &Value) -> Result<Q, ScriptError> {
    match value {
        Value::Q(q) => Ok((**q).clone()),
        Value::Expression(e) => Ok(Q::from((**e).clone())),
        Value::Tuple(pair) if pair.len() == 2 => match &pair[0] {
            Value::Str(k) => Ok(Q::new(k.to_string(), to_expression(&pair[1])?)),
            _ => Err(ScriptError::type_error("a Q tuple needs a lookup name")),
        },
        other => Err(ScriptError::type_error(format!(
            "'{}' object is not a Q or a boolean expression",
            other.type_name()
        ))),
    }
}

/// Calls an expression class (`Count("id", distinct=True)`, `Q(a=1)`, `F("x")`).
pub fn call_expression(
    name: &str,
    args: Vec<Value>,
    mut kwargs: Vec<(String, Value)>,
) -> Result<Value, ScriptError> {
    if WINDOW_NAMES.contains(&name) {
        return window_expression(name, args, kwargs);
    }
    let arg = |i: usize| -> Result<Expression, ScriptError> {
        args.get(i).map(to_argument).transpose()?.ok_or_else(|| {
            ScriptError::type_error(format!("{name}() is missing a required argument"))
        })
    };
    let output_field = take_kw(&mut kwargs, "output_field")
        .map(|v| field_spec(&v))
        .transpose()?;
    let mut result = match name {
        "Q" => return Ok(Value::Q(Rc::new(build_q(&args, &kwargs)?))),
        "F" => match args.first() {
            Some(Value::Str(s)) => ex::F(s.to_string()),
            _ => return Err(ScriptError::type_error("F() takes a field name")),
        },
        "Value" => {
            let v = args
                .first()
                .cloned()
                .or_else(|| kw(&kwargs, "value"))
                .unwrap_or(Value::None);
            ex::Value(Expression::from(to_scalar(&v)?))
        }
        "When" => {
            let then = take_kw(&mut kwargs, "then")
                .ok_or_else(|| ScriptError::type_error("When() needs then="))?;
            let condition = build_q(&args, &kwargs)?;
            if condition.is_empty() {
                return Err(ScriptError::type_error(
                    "An empty Q() can't be used as a When() condition.",
                ));
            }
            return Ok(Value::When(Rc::new(ex::When(
                condition,
                to_argument(&then)?,
            ))));
        }
        "Case" => {
            let whens = args
                .iter()
                .map(|w| match w {
                    Value::When(w) => Ok((**w).clone()),
                    other => Err(ScriptError::type_error(format!(
                        "Positional arguments must all be When objects, not {}",
                        other.type_name()
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut case = ex::Case(whens);
            if let Some(default) = kw(&kwargs, "default") {
                case = case.default(to_argument(&default)?);
            }
            case
        }
        "ExpressionWrapper" | "Cast" => {
            let field = match (&output_field, args.get(1)) {
                (Some(f), _) => f.clone(),
                (None, Some(v)) => field_spec(v)?,
                _ => {
                    return Err(ScriptError::type_error(format!(
                        "{name}() needs output_field"
                    )))
                }
            };
            let e = if name == "Cast" {
                ex::Cast(arg(0)?, field)
            } else {
                ex::ExpressionWrapper(to_expression(&args[0])?, field)
            };
            return Ok(expr_value(e));
        }
        "Count" | "Sum" | "Avg" | "Min" | "Max" | "StdDev" | "Variance" => {
            let a = arg(0)?;
            let mut e = match name {
                "Count" => ex::Count(a),
                "Sum" => ex::Sum(a),
                "Avg" => ex::Avg(a),
                "Min" => ex::Min(a),
                "Max" => ex::Max(a),
                "StdDev" => ex::StdDev(a),
                _ => ex::Variance(a),
            };
            if kw(&kwargs, "distinct").is_some_and(|v| v.truthy()) {
                e = e.distinct();
            }
            if let Some(f) = kw(&kwargs, "filter") {
                e = e.filter(as_q(&f)?);
            }
            if let Some(d) = kw(&kwargs, "default") {
                if name == "Count" {
                    return Err(ScriptError::type_error("Count does not allow default."));
                }
                e = e.default(to_argument(&d)?);
            }
            if let Some(s) = kw(&kwargs, "sample") {
                e = e.sample(s.truthy());
            }
            e
        }
        "Coalesce" | "Greatest" | "Least" | "Concat" => {
            let items = args
                .iter()
                .map(to_argument)
                .collect::<Result<Vec<_>, _>>()?;
            match name {
                "Coalesce" => ex::Coalesce(items),
                "Greatest" => ex::Greatest(items),
                "Least" => ex::Least(items),
                _ => ex::Concat(items),
            }
        }
        "NullIf" => ex::NullIf(arg(0)?, arg(1)?),
        "Substr" => {
            let length = match args.get(2).or(kw(&kwargs, "length").as_ref()) {
                Some(Value::Int(i)) => Some(*i),
                _ => None,
            };
            let pos = args
                .get(1)
                .map(to_expression)
                .transpose()?
                .unwrap_or_else(|| Expression::from(1i64));
            ex::Substr(arg(0)?, pos, length)
        }
        "Replace" => {
            let to = args
                .get(2)
                .map(to_expression)
                .transpose()?
                .unwrap_or_else(|| Expression::from(""));
            ex::Replace(
                arg(0)?,
                to_expression(&args.get(1).cloned().unwrap_or(Value::None))?,
                to,
            )
        }
        "Left" | "Right" | "Repeat" => {
            let n = to_expression(
                args.get(1)
                    .ok_or_else(|| ScriptError::type_error(format!("{name}() needs a length")))?,
            )?;
            match name {
                "Left" => ex::Left(arg(0)?, n),
                "Right" => ex::Right(arg(0)?, n),
                _ => ex::Repeat(arg(0)?, n),
            }
        }
        "StrIndex" => ex::StrIndex(arg(0)?, to_expression(args.get(1).unwrap_or(&Value::None))?),
        "LPad" | "RPad" => {
            let length = to_expression(args.get(1).unwrap_or(&Value::None))?;
            let fill = to_expression(
                &args
                    .get(2)
                    .cloned()
                    .or_else(|| kw(&kwargs, "fill_text"))
                    .unwrap_or(Value::str(" ")),
            )?;
            if name == "LPad" {
                ex::LPad(arg(0)?, length, fill)
            } else {
                ex::RPad(arg(0)?, length, fill)
            }
        }
        "Mod" => ex::Mod(arg(0)?, arg(1)?),
        "Power" => ex::Power(arg(0)?, arg(1)?),
        "Log" => ex::Log(arg(0)?, arg(1)?),
        "Round" => {
            let e = ex::Round(arg(0)?);
            match args.get(1).cloned().or_else(|| kw(&kwargs, "precision")) {
                Some(p) => e.precision(to_expression(&p)?),
                None => e,
            }
        }
        "Extract" | "Trunc" => {
            let kind = match args
                .get(1)
                .cloned()
                .or_else(|| kw(&kwargs, "lookup_name"))
                .or_else(|| kw(&kwargs, "kind"))
            {
                Some(Value::Str(s)) => s.to_string(),
                _ => {
                    return Err(ScriptError::value_error(format!(
                        "{name}() needs a lookup name"
                    )))
                }
            };
            if name == "Extract" {
                ex::Extract(arg(0)?, &kind)
            } else {
                ex::Trunc(arg(0)?, &kind)
            }
        }
        "Now" => ex::Now(),
        unary => {
            let a = arg(0)?;
            match unary {
                "Lower" => ex::Lower(a),
                "Upper" => ex::Upper(a),
                "Length" => ex::Length(a),
                "Trim" => ex::Trim(a),
                "LTrim" => ex::LTrim(a),
                "RTrim" => ex::RTrim(a),
                "Reverse" => ex::Reverse(a),
                "Abs" => ex::Abs(a),
                "Ceil" => ex::Ceil(a),
                "Floor" => ex::Floor(a),
                "Sqrt" => ex::Sqrt(a),
                "Exp" => ex::Exp(a),
                "Ln" => ex::Ln(a),
                "Sign" => ex::Sign(a),
                "ExtractYear" => ex::ExtractYear(a),
                "ExtractIsoYear" => ex::ExtractIsoYear(a),
                "ExtractQuarter" => ex::ExtractQuarter(a),
                "ExtractMonth" => ex::ExtractMonth(a),
                "ExtractWeek" => ex::ExtractWeek(a),
                "ExtractDay" => ex::ExtractDay(a),
                "ExtractWeekDay" => ex::ExtractWeekDay(a),
                "ExtractIsoWeekDay" => ex::ExtractIsoWeekDay(a),
                "ExtractHour" => ex::ExtractHour(a),
                "ExtractMinute" => ex::ExtractMinute(a),
                "ExtractSecond" => ex::ExtractSecond(a),
                "TruncYear" => ex::TruncYear(a),
                "TruncQuarter" => ex::TruncQuarter(a),
                "TruncMonth" => ex::TruncMonth(a),
                "TruncWeek" => ex::TruncWeek(a),
                "TruncDay" => ex::TruncDay(a),
                "TruncDate" => ex::TruncDate(a),
                "TruncTime" => ex::TruncTime(a),
                "TruncHour" => ex::TruncHour(a),
                "TruncMinute" => ex::TruncMinute(a),
                "TruncSecond" => ex::TruncSecond(a),
                other => {
                    return Err(ScriptError::new(
                        "NameError",
                        format!("name '{other}' is not defined"),
                    ))
                }
            }
        }
    };
    if let Some(field) = output_field {
        result = result.output_field(field);
    }
    Ok(expr_value(result))
}

/// Window functions, `Window(...)`, frames and `Prefetch(...)`.
fn window_expression(
    name: &str,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
) -> Result<Value, ScriptError> {
    let positional_or = |i: usize, key: &str| args.get(i).cloned().or_else(|| kw(&kwargs, key));
    let int = |v: Option<Value>, what: &str| -> Result<Option<i64>, ScriptError> {
        match v {
            None | Some(Value::None) => Ok(None),
            Some(Value::Int(i)) => Ok(Some(i)),
            Some(other) => Err(ScriptError::value_error(format!(
                "{what} must be an integer or None, not {}",
                other.type_name()
            ))),
        }
    };
    let expression = |i: usize| -> Result<Expression, ScriptError> {
        positional_or(i, "expression")
            .map(|v| to_argument(&v))
            .transpose()?
            .ok_or_else(|| ScriptError::type_error(format!("{name}() needs an expression")))
    };
    let result = match name {
        "RowNumber" => ex::RowNumber(),
        "Rank" => ex::Rank(),
        "DenseRank" => ex::DenseRank(),
        "PercentRank" => ex::PercentRank(),
        "CumeDist" => ex::CumeDist(),
        "Ntile" => ex::Ntile(int(positional_or(0, "num_buckets"), "num_buckets")?.unwrap_or(1)),
        "Lag" | "Lead" => {
            let mut e = if name == "Lag" {
                ex::Lag(expression(0)?)
            } else {
                ex::Lead(expression(0)?)
            };
            if let Some(offset) = int(positional_or(1, "offset"), "offset")? {
                e = e.offset(offset);
            }
            if let Some(default) = positional_or(2, "default") {
                e = e.default(to_expression(&default)?);
            }
            e
        }
        "FirstValue" => ex::FirstValue(expression(0)?),
        "LastValue" => ex::LastValue(expression(0)?),
        "NthValue" => ex::NthValue(
            expression(0)?,
            int(positional_or(1, "nth"), "nth")?.unwrap_or(1),
        ),
        "RowRange" | "ValueRange" => {
            let start = int(positional_or(0, "start"), "start")?;
            let end = int(positional_or(1, "end"), "end")?;
            let mut frame = if name == "RowRange" {
                ex::RowRange(start, end)
            } else {
                ex::ValueRange(start, end)
            };
            if let Some(Value::Opaque(exclusion, _)) = positional_or(2, "exclusion") {
                use quiver::expressions::WindowFrameExclusion as X;
                frame = frame.exclusion(match &*exclusion {
                    "WindowFrameExclusion.CURRENT_ROW" => X::CURRENT_ROW,
                    "WindowFrameExclusion.GROUP" => X::GROUP,
                    "WindowFrameExclusion.TIES" => X::TIES,
                    _ => X::NO_OTHERS,
                });
            }
            return Ok(Value::Frame(Rc::new(frame)));
        }
        "Prefetch" => {
            let lookup = match positional_or(0, "lookup") {
                Some(Value::Str(s)) => s.to_string(),
                _ => return Err(ScriptError::type_error("Prefetch() needs a lookup")),
            };
            let mut prefetch = quiver::queryset::Prefetch::new(lookup);
            match positional_or(1, "queryset") {
                Some(Value::QuerySet(q)) => prefetch = prefetch.queryset(q.qs.clone()),
                Some(Value::None) | None => {}
                Some(other) => {
                    return Err(ScriptError::type_error(format!(
                        "Prefetch querysets cannot use raw(), values(), and values_list(); got {}",
                        other.type_name()
                    )))
                }
            }
            if let Some(Value::Str(to)) = positional_or(2, "to_attr") {
                prefetch = prefetch.to_attr(to.to_string());
            }
            return Ok(Value::Prefetch(Rc::new(prefetch)));
        }
        "Window" => {
            let mut e = ex::Window(expression(0)?);
            if let Some(keys) = positional_or(1, "partition_by") {
                let keys = match keys {
                    Value::List(l) => l.borrow().clone(),
                    Value::Tuple(t) => t.to_vec(),
                    one => vec![one],
                };
                e = e.partition_by(
                    keys.iter()
                        .map(to_argument)
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            if let Some(order) = positional_or(2, "order_by") {
                let items = match order {
                    Value::List(l) => l.borrow().clone(),
                    Value::Tuple(t) => t.to_vec(),
                    one => vec![one],
                };
                e = e.order_by(order_items(&items)?);
            }
            if let Some(Value::Frame(frame)) = positional_or(3, "frame") {
                e = e.frame(*frame);
            }
            e
        }
        other => {
            return Err(ScriptError::new(
                "AttributeError",
                format!("'{other}' cannot be called"),
            ))
        }
    };
    let result = match kw(&kwargs, "output_field") {
        Some(field) => result.output_field(field_spec(&field)?),
        None => result,
    };
    Ok(expr_value(result))
}

/// The QuerySet a subquery or CTE argument stands for: a QuerySet, a manager, or (as
/// django-cte accepts) a model class.
fn subquery_source(
    interp: &mut Interpreter,
    value: &Value,
    what: &str,
) -> Result<(QuerySet, String, Shape), ScriptError> {
    let value = match value {
        Value::ModelClass(class) => Value::Manager(Rc::from(class.name.as_str())),
        other => other.clone(),
    };
    queryset_of(interp, &value)?.ok_or_else(|| {
        ScriptError::type_error(format!(
            "{what} takes a QuerySet, not {}",
            value.type_name()
        ))
    })
}

fn cte_value(cte: quiver::queryset::CTE, model: String, shape: Shape) -> Value {
    Value::Cte(Rc::new(CteValue { cte, model, shape }))
}

/// `Subquery(qs)`, `Exists(qs)`, `OuterRef("f")`, and django-cte's `CTE(qs, name=,
/// materialized=)`, `CTE.recursive(make_cte, name=)` and `with_cte(*ctes, select=…)`.
pub fn call_subquery(
    interp: &mut Interpreter,
    name: &str,
    args: Vec<Value>,
    mut kwargs: Vec<(String, Value)>,
) -> Result<Value, ScriptError> {
    let first = |key: &str, kwargs: &mut Vec<(String, Value)>| {
        args.first()
            .cloned()
            .or_else(|| take_kw(kwargs, key))
            .ok_or_else(|| ScriptError::type_error(format!("{name}() is missing an argument")))
    };
    match name {
        "Subquery" | "Exists" => {
            let source = first("queryset", &mut kwargs)?;
            let (qs, _, _) = subquery_source(interp, &source, name)?;
            let mut e = if name == "Subquery" {
                ex::Subquery(qs)
            } else {
                ex::Exists(qs)
            };
            if let Some(field) = take_kw(&mut kwargs, "output_field") {
                e = e.output_field(field_spec(&field)?);
            }
            Ok(expr_value(e))
        }
        "OuterRef" => match first("name", &mut kwargs)? {
            Value::Str(s) => Ok(expr_value(ex::OuterRef(s.to_string()))),
            Value::Expression(e) => Ok(expr_value(ex::OuterRef((*e).clone()))),
            other => Err(ScriptError::type_error(format!(
                "OuterRef() takes a field name or an OuterRef, not {}",
                other.type_name()
            ))),
        },
        "CTE" => {
            let source = first("queryset", &mut kwargs)?;
            let (qs, model, shape) = subquery_source(interp, &source, name)?;
            let mut cte = quiver::queryset::CTE::new(qs);
            if let Some(Value::Str(n)) = kw(&kwargs, "name") {
                cte = cte.name(n.to_string());
            }
            // django-cte writes MATERIALIZED only when asked; False is its default.
            if kw(&kwargs, "materialized").is_some_and(|v| v.truthy()) {
                cte = cte.materialized(true);
            }
            Ok(cte_value(cte, model, shape))
        }
        "CTE.recursive" => {
            let make = first("make_cte_queryset", &mut kwargs)?;
            let cte_name = match kw(&kwargs, "name") {
                Some(Value::Str(n)) => n.to_string(),
                _ => "cte".to_string(),
            };
            let mut outcome: Result<(String, Shape), ScriptError> =
                Err(ScriptError::value_error("the recursive CTE was not built"));
            let mut cte = quiver::queryset::CTE::recursive_named(cte_name, |this| {
                let this_value = cte_value(this.clone(), String::new(), Shape::Dicts);
                let made = interp
                    .call(&make, vec![this_value], vec![])
                    .and_then(|v| subquery_source(interp, &v, "CTE.recursive()"));
                match made {
                    Ok((qs, model, shape)) => {
                        outcome = Ok((model, shape));
                        qs
                    }
                    Err(e) => {
                        outcome = Err(e);
                        this.queryset()
                    }
                }
            });
            let (model, shape) = outcome?;
            if kw(&kwargs, "materialized").is_some_and(|v| v.truthy()) {
                cte = cte.materialized(true);
            }
            Ok(cte_value(cte, model, shape))
        }
        "with_cte" => {
            let select = take_kw(&mut kwargs, "select").ok_or_else(|| {
                ScriptError::type_error(
                    "with_cte() missing 1 required keyword-only argument: 'select'",
                )
            })?;
            let (qs, model, shape) = match &select {
                Value::Cte(c) => (c.cte.queryset(), c.model.clone(), c.shape),
                other => subquery_source(interp, other, "with_cte(select=...)")?,
            };
            let mut ctes = Vec::with_capacity(args.len());
            for a in &args {
                match a {
                    Value::Cte(c) => ctes.push(c.cte.clone()),
                    other => {
                        return Err(ScriptError::type_error(format!(
                            "with_cte() takes CTE objects, not {}",
                            other.type_name()
                        )))
                    }
                }
            }
            Ok(new_qs(
                quiver::queryset::with_cte(ctes.iter(), qs),
                &model,
                shape,
            ))
        }
        other => Err(ScriptError::new(
            "NameError",
            format!("name '{other}' is not defined"),
        )),
    }
}

/// `cte.join(Model_or_queryset, field=cte.col.x, _join_type=LOUTER)` and `cte.queryset()`.
fn cte_method(
    interp: &mut Interpreter,
    cte: &Rc<CteValue>,
    name: &str,
    args: Vec<Value>,
    mut kwargs: Vec<(String, Value)>,
) -> Result<Value, ScriptError> {
    match name {
        "queryset" => Ok(new_qs(cte.cte.queryset(), &cte.model, cte.shape)),
        "join" => {
            let target = args
                .first()
                .ok_or_else(|| ScriptError::type_error("join() needs a model or a QuerySet"))?;
            if args.len() > 1 {
                return Err(ScriptError::new(
                    "NotSupportedError",
                    "cte.join() with Q conditions is not supported by Quiver; use field=cte.col.x",
                ));
            }
            let (qs, model, shape) = subquery_source(interp, target, "join()")?;
            let join_type = match take_kw(&mut kwargs, "_join_type") {
                None => quiver::queryset::CteJoinType::Inner,
                Some(Value::Opaque(t, _)) if &*t == "INNER" => quiver::queryset::CteJoinType::Inner,
                Some(Value::Opaque(t, _)) if &*t == "LOUTER" => {
                    quiver::queryset::CteJoinType::LeftOuter
                }
                Some(other) => {
                    return Err(ScriptError::value_error(format!(
                        "_join_type must be INNER or LOUTER, not {}",
                        other.repr()
                    )))
                }
            };
            let on = kwargs
                .iter()
                .map(|(k, v)| Ok((k.clone(), to_expression(v)?)))
                .collect::<Result<Vec<_>, ScriptError>>()?;
            Ok(new_qs(
                cte.cte.join_with_type(qs, on, join_type),
                &model,
                shape,
            ))
        }
        _ => Err(ScriptError::attribute("CTE", name)),
    }
}

/// `left op right` when either side is a Django object (`Q & Q`, `F("a") * 2`); `None` for
/// plain Python values.
pub fn binary_django(left: &Value, op: &str, right: &Value) -> Result<Option<Value>, ScriptError> {
    if let (Value::QuerySet(_) | Value::Manager(_), Value::QuerySet(_) | Value::Manager(_)) =
        (left, right)
    {
        if matches!(op, "|" | "&") {
            return Err(ScriptError::new(
                "NotSupportedError",
                format!(
                    "combining QuerySets with {op} is not supported by Quiver yet; use Q objects"
                ),
            ));
        }
    }
    let is_django = |v: &Value| matches!(v, Value::Expression(_) | Value::Q(_));
    if !is_django(left) && !is_django(right) {
        return Ok(None);
    }
    if let (Value::Q(_), _) | (_, Value::Q(_)) = (left, right) {
        let (l, r) = (as_q(left)?, as_q(right)?);
        return Ok(Some(Value::Q(Rc::new(match op {
            "&" => l & r,
            "|" => l | r,
            "^" => l ^ r,
            _ => {
                return Err(ScriptError::type_error(format!(
                    "unsupported operand type(s) for {op}: 'Q' and 'Q'"
                )))
            }
        }))));
    }
    let l = to_expression(left)?;
    let r = to_expression(right)?;
    Ok(Some(match op {
        "+" => expr_value(l + r),
        "-" => expr_value(l - r),
        "*" => expr_value(l * r),
        "/" => expr_value(l / r),
        "%" => expr_value(l % r),
        "**" => expr_value(ex::Power(l, r)),
        "&" => Value::Q(Rc::new(l & r)),
        "|" => Value::Q(Rc::new(l | r)),
        _ => {
            return Err(ScriptError::type_error(format!(
                "unsupported operand type(s) for {op}: '{}' and '{}'",
                left.type_name(),
                right.type_name()
            )))
        }
    }))
}

/// `-F("x")`, `~Q(...)`.
pub fn unary_django(op: &str, v: &Value) -> Result<Option<Value>, ScriptError> {
    Ok(match (op, v) {
        ("~", Value::Q(q)) => Some(Value::Q(Rc::new(!(**q).clone()))),
        ("~", Value::Expression(e)) => Some(expr_value(!(**e).clone())),
        ("-", Value::Expression(e)) => Some(expr_value(-(**e).clone())),
        ("+", Value::Expression(_)) => Some(v.clone()),
        _ => None,
    })
}

fn new_qs(qs: QuerySet, model: &str, shape: Shape) -> Value {
    locked_qs(qs, model, shape, None)
}

/// A QuerySet value that keeps the `select_for_update()` of the one it was chained from.
fn locked_qs(qs: QuerySet, model: &str, shape: Shape, lock: Option<Lock>) -> Value {
    Value::QuerySet(Rc::new(QuerySetValue {
        qs,
        model: model.to_string(),
        shape,
        cache: RefCell::new(None),
        columns: RefCell::new(Vec::new()),
        lock,
    }))
}

/// The `select_for_update()` options of a QuerySet value.
fn lock_of(value: &Value) -> Option<Lock> {
    match value {
        Value::QuerySet(q) => q.lock.clone(),
        _ => None,
    }
}

/// How many rows an evaluated QuerySet holds (`None` before it runs).
fn cached_len(value: &Value) -> Option<usize> {
    match value {
        Value::QuerySet(q) => q.cache.borrow().as_ref().map(Vec::len),
        Value::RelatedManager(set) => set.cached.as_ref().map(Vec::len),
        _ => None,
    }
}

/// The QuerySet a manager, related manager or QuerySet stands for.
fn queryset_of(
    interp: &mut Interpreter,
    value: &Value,
) -> Result<Option<(QuerySet, String, Shape)>, ScriptError> {
    Ok(match value {
        Value::QuerySet(q) => Some((q.qs.clone(), q.model.clone(), q.shape)),
        Value::Manager(model) => {
            interp.register_pending()?;
            Some((
                interp.db.objects(model),
                model.to_string(),
                Shape::Instances,
            ))
        }
        Value::RelatedManager(set) => {
            interp.register_pending()?;
            let qs = match &set.manager {
                Some(manager) => manager.all(),
                None => interp.db.objects(&set.model).filter(Q::new(
                    set.field.clone(),
                    Expression::from(to_scalar(&set.key)?),
                )),
            };
            Some((qs, set.model.clone(), Shape::Instances))
        }
        _ => None,
    })
}

/// The QuerySet behind a value, if it is one (for `quiver explain`).
pub fn as_queryset(
    interp: &mut Interpreter,
    value: &Value,
) -> Result<Option<QuerySet>, ScriptError> {
    Ok(queryset_of(interp, value)?.map(|(qs, _, _)| qs))
}

/// Runs a QuerySet (once; later iterations reuse the rows) and returns its rows as values.
pub fn evaluate(interp: &mut Interpreter, value: &Value) -> Result<Vec<Value>, ScriptError> {
    if let Value::QuerySet(q) = value {
        if let Some(rows) = q.cache.borrow().as_ref() {
            return Ok(rows.clone());
        }
    }
    if let Value::RelatedManager(set) = value {
        if let Some(rows) = &set.cached {
            return Ok(rows.clone());
        }
    }
    let Some((qs, model, shape)) = queryset_of(interp, value)? else {
        return Ok(vec![]);
    };
    interp.check_transaction()?;
    let (rows, columns) = match lock_of(value) {
        Some(lock) => locked_rows(&interp.db, &qs, &lock, &model, shape)?,
        None => rows_and_columns(&interp.db, &qs, &model, shape)?,
    };
    if let Value::QuerySet(q) = value {
        *q.cache.borrow_mut() = Some(rows.clone());
        *q.columns.borrow_mut() = columns;
    }
    Ok(rows)
}

/// The primary key's attname of a registered model.
fn pk_of(db: &quiver::Database, model: &str) -> String {
    db.model(model)
        .ok()
        .and_then(|m| m.pk().map(|f| f.attname().to_string()))
        .unwrap_or_else(|| "id".into())
}

fn rows_of(
    db: &quiver::Database,
    qs: &QuerySet,
    model: &str,
    shape: Shape,
) -> Result<Vec<Value>, ScriptError> {
    Ok(rows_and_columns(db, qs, model, shape)?.0)
}

/// The rows in their shape, and the column names of `values()`/`values_list()` rows.
fn rows_and_columns(
    db: &quiver::Database,
    qs: &QuerySet,
    model: &str,
    shape: Shape,
) -> Result<(Vec<Value>, Vec<String>), ScriptError> {
    if shape == Shape::Instances {
        let rows = qs.fetch_instances()?;
        return Ok((
            rows.iter().map(|i| instance_value(db, model, i)).collect(),
            vec![],
        ));
    }
    let rows = qs.fetch()?;
    let columns = rows.columns().to_vec();
    Ok((
        rows.iter().map(|row| row_value(&row, shape)).collect(),
        columns,
    ))
}

/// The rows of a `select_for_update()` QuerySet, locked. `values()` rows lock through
/// their primary keys: the keys are locked first (leaving out rows locked elsewhere with
/// `skip_locked`), then the rows with those keys are read.
fn locked_rows(
    db: &quiver::Database,
    qs: &QuerySet,
    lock: &Lock,
    model: &str,
    shape: Shape,
) -> Result<(Vec<Value>, Vec<String>), ScriptError> {
    if shape == Shape::Instances {
        let rows = lock.apply(qs).fetch_instances()?;
        return Ok((
            rows.iter().map(|i| instance_value(db, model, i)).collect(),
            vec![],
        ));
    }
    let pk = pk_of(db, model);
    let keys = lock.apply(&qs.values([pk.clone()])).fetch()?;
    let keys = keys
        .iter()
        .map(|row| Ok(Expression::from(row.get_value(&pk)?)))
        .collect::<Result<Vec<Expression>, quiver::Error>>()?;
    let rows = qs
        .filter(Q::new("pk__in", Expression::List(keys)))
        .fetch()?;
    let columns = rows.columns().to_vec();
    Ok((
        rows.iter().map(|row| row_value(&row, shape)).collect(),
        columns,
    ))
}

fn row_value(row: &Row, shape: Shape) -> Value {
    match shape {
        Shape::Dicts => Value::dict(
            row.iter()
                .map(|(k, v)| (Value::str(k), from_scalar(v)))
                .collect(),
        ),
        Shape::Flat => row.values().first().map(from_scalar).unwrap_or(Value::None),
        _ => Value::tuple(row.values().iter().map(from_scalar).collect()),
    }
}

/// One fetched row in the QuerySet's shape (an instance, a dict, a tuple or a value).
fn shaped(db: &quiver::Database, model: &str, found: &Instance, shape: Shape) -> Value {
    match shape {
        Shape::Instances => instance_value(db, model, found),
        shape => row_value(found.row(), shape),
    }
}

/// A fetched model object as a script instance.
pub fn instance_value(db: &quiver::Database, model: &str, instance: &Instance) -> Value {
    let mut fields: Vec<(String, Value)> = instance
        .values()
        .map(|(k, v)| (k.to_string(), from_scalar(v)))
        .collect();
    // `Prefetch(..., to_attr="x")` puts a plain list (an object, for a single-valued
    // relation) in the object's `__dict__`, where Django's output shows it after the fields;
    // relations prefetched under their own name live in caches that it does not show.
    if let Ok(registered) = db.model(model) {
        for name in instance.cached_names() {
            if registered.get_field(name).is_some()
                || db.registry().accessor_relation(&registered, name).is_ok()
            {
                continue;
            }
            let value = match instance.cached_related(name) {
                Some(Related::Many(items)) => Value::list(
                    items
                        .iter()
                        .map(|x| instance_value(db, x.model_name(), x))
                        .collect(),
                ),
                Some(Related::One(Some(x))) => instance_value(db, x.model_name(), x),
                _ => Value::None,
            };
            fields.push((name.to_string(), value));
        }
    }
    Value::Instance(Rc::new(RefCell::new(InstanceValue {
        model: model.to_string(),
        pk: pk_of(db, model),
        fields,
        related: HashMap::new(),
        adding: false,
        source: Some(instance.clone()),
    })))
}

/// `qs[i]`.
pub fn index(interp: &mut Interpreter, object: &Value, i: i64) -> Result<Value, ScriptError> {
    if let Value::QuerySet(q) = object {
        if let Some(rows) = q.cache.borrow().as_ref() {
            let len = rows.len() as i64;
            if i < 0 {
                return Err(ScriptError::value_error(
                    "Negative indexing is not supported.",
                ));
            }
            return rows
                .get(i as usize)
                .cloned()
                .filter(|_| i < len)
                .ok_or_else(|| ScriptError::new("IndexError", "list index out of range"));
        }
    }
    let Some((qs, model, shape)) = queryset_of(interp, object)? else {
        return Err(ScriptError::type_error("not a QuerySet"));
    };
    if i < 0 {
        return Err(ScriptError::value_error(
            "Negative indexing is not supported.",
        ));
    }
    let i = isize::try_from(i)
        .map_err(|_| ScriptError::new("IndexError", "list index out of range"))?;
    match shape {
        Shape::Instances => Ok(instance_value(&interp.db, &model, &qs.get_index(i)?)),
        _ => rows_of(&interp.db, &qs.slice(i..i.saturating_add(1)), &model, shape)?
            .into_iter()
            .next()
            .ok_or_else(|| ScriptError::new("IndexError", "list index out of range")),
    }
}

/// `qs[a:b]`.
pub fn slice(
    interp: &mut Interpreter,
    object: &Value,
    a: Option<i64>,
    b: Option<i64>,
) -> Result<Value, ScriptError> {
    let Some((qs, model, shape)) = queryset_of(interp, object)? else {
        return Err(ScriptError::type_error("not a QuerySet"));
    };
    let to = |v: i64| isize::try_from(v).unwrap_or(isize::MAX);
    let sliced = match (a, b) {
        (Some(a), Some(b)) => qs.slice(to(a)..to(b)),
        (Some(a), None) => qs.slice(to(a)..),
        (None, Some(b)) => qs.slice(..to(b)),
        (None, None) => qs.slice(..),
    };
    Ok(new_qs(sliced, &model, shape))
}

fn strings(args: &[Value], what: &str) -> Result<Vec<String>, ScriptError> {
    args.iter()
        .map(|a| match a {
            Value::Str(s) => Ok(s.to_string()),
            other => Err(ScriptError::type_error(format!(
                "{what}() arguments must be field names, not {}",
                other.type_name()
            ))),
        })
        .collect()
}

/// Positional annotations use their default alias (`Count("book")` → `book__count`).
fn named_expressions(
    args: &[Value],
    kwargs: &[(String, Value)],
    what: &str,
) -> Result<Vec<(String, Expression)>, ScriptError> {
    let mut out = vec![];
    for a in args {
        let e = to_expression(a)?;
        let alias = e
            .default_alias()
            .ok_or_else(|| ScriptError::type_error(format!("Complex {what} require an alias")))?;
        out.push((alias, e));
    }
    for (k, v) in kwargs {
        out.push((k.clone(), to_expression(v)?));
    }
    Ok(out)
}

fn order_items(args: &[Value]) -> Result<Vec<OrderItem>, ScriptError> {
    args.iter()
        .map(|a| match a {
            Value::Str(s) => Ok(OrderItem::Field(s.to_string())),
            Value::OrderBy(o) => Ok(OrderItem::Expression((**o).clone())),
            Value::Expression(e) => Ok(OrderItem::Expression((**e).clone().asc())),
            other => Err(ScriptError::type_error(format!(
                "order_by() arguments must be field names or expressions, not {}",
                other.type_name()
            ))),
        })
        .collect()
}

/// Marks a `DoesNotExist`/`MultipleObjectsReturned` with its model so that
/// `except Customer.DoesNotExist` can match it.
fn model_error(e: quiver::Error, model: &str) -> ScriptError {
    let mut e = ScriptError::from(e);
    if matches!(e.kind.as_str(), "DoesNotExist" | "MultipleObjectsReturned") {
        e.model = Some(model.to_string());
    }
    e
}

/// Field values of `create(**kwargs)` / an unsaved instance, by name.
fn field_values(
    kwargs: &[(String, Value)],
) -> Result<Vec<(String, quiver::ScalarValue)>, ScriptError> {
    kwargs
        .iter()
        .map(|(k, v)| Ok((k.clone(), to_scalar(v)?)))
        .collect()
}

/// QuerySet methods by Django name.
fn queryset_method(
    interp: &mut Interpreter,
    receiver: &Value,
    name: &str,
    args: Vec<Value>,
    mut kwargs: Vec<(String, Value)>,
) -> Result<Value, ScriptError> {
    let (qs, model, shape) = queryset_of(interp, receiver)?
        .ok_or_else(|| ScriptError::attribute(&receiver.type_name(), name))?;
    let lock = lock_of(receiver);
    let chain = |q: QuerySet| Ok(locked_qs(q, &model, shape, lock.clone()));
    if !LAZY_METHODS.contains(&name) {
        interp.check_transaction()?;
    }
    // `all()` of a prefetched relation is the prefetched rows: no query (Django).
    if let (Value::RelatedManager(set), "all") = (receiver, name) {
        if let Some(rows) = &set.cached {
            let value = new_qs(qs, &model, shape);
            if let Value::QuerySet(q) = &value {
                *q.cache.borrow_mut() = Some(rows.clone());
            }
            return Ok(value);
        }
    }
    match name {
        "all" | "iterator" | "using" => chain(qs),
        "filter" => chain(qs.filter(build_q(&args, &kwargs)?)),
        "exclude" => chain(qs.exclude(build_q(&args, &kwargs)?)),
        "annotate" => chain(qs.annotate(named_expressions(&args, &kwargs, "annotations")?)),
        "alias" => chain(qs.alias(named_expressions(&args, &kwargs, "aliases")?)),
        "order_by" => chain(qs.order_by(order_items(&args)?)),
        "reverse" => chain(qs.reverse()),
        "distinct" => {
            if !args.is_empty() {
                return Err(ScriptError::new(
                    "NotSupportedError",
                    "DISTINCT ON fields is not supported by this database backend.",
                ));
            }
            chain(qs.distinct())
        }
        "none" => chain(qs.none()),
        "only" => chain(qs.only(strings(&args, name)?)),
        "defer" => chain(qs.defer(strings(&args, name)?)),
        "values" => {
            let mut fields = strings(&args, name)?;
            let mut qs = qs;
            if !kwargs.is_empty() {
                let exprs = named_expressions(&[], &kwargs, "values")?;
                fields.extend(exprs.iter().map(|(k, _)| k.clone()));
                qs = qs.annotate(exprs);
            }
            Ok(locked_qs(qs.values(fields), &model, Shape::Dicts, lock))
        }
        "values_list" => {
            let flat = take_kw(&mut kwargs, "flat").is_some_and(|v| v.truthy());
            let named = take_kw(&mut kwargs, "named").is_some_and(|v| v.truthy());
            let mut q = qs.values_list(strings(&args, name)?);
            let shape = if flat {
                q = q.flat();
                Shape::Flat
            } else if named {
                q = q.named();
                Shape::Named
            } else {
                Shape::Lists
            };
            Ok(locked_qs(q, &model, shape, lock))
        }
        // Django answers both from an evaluated QuerySet's result cache, without a query.
        "count" | "exists" if cached_len(receiver).is_some() => {
            let n = cached_len(receiver).unwrap_or_default();
            Ok(if name == "count" {
                Value::Int(n as i64)
            } else {
                Value::Bool(n > 0)
            })
        }
        "count" => Ok(Value::Int(qs.count()? as i64)),
        "exists" => Ok(Value::Bool(qs.exists()?)),
        "aggregate" => {
            // Django's aggregate() adds the positional arguments after the keyword ones.
            let mut items: Vec<AggregateArg> = vec![];
            for (k, v) in &kwargs {
                items.push(AggregateArg::from((k.clone(), to_expression(v)?)));
            }
            for a in &args {
                items.push(AggregateArg::from(to_expression(a)?));
            }
            let row = qs.aggregate(items)?;
            Ok(row_value(&row, Shape::Dicts))
        }
        "get" => {
            let q = build_q(&args, &kwargs)?;
            let found = match &lock {
                Some(lock) => lock.apply(&qs).get(q),
                None => qs.get(q),
            };
            let found = found.map_err(|e| model_error(e, &model))?;
            Ok(shaped(&interp.db, &model, &found, shape))
        }
        // `first()`/`last()` lock the one row they return: the first (last) row in the
        // QuerySet's order that can be locked, passing over rows locked elsewhere with
        // skip_locked, as PostgreSQL's LIMIT above FOR UPDATE does.
        "first" | "last" if lock.is_some() => {
            let Some(lock) = &lock else {
                return Ok(Value::None);
            };
            let locking = lock.apply(&qs);
            let found = if name == "first" {
                locking.first()?
            } else {
                locking.last()?
            };
            Ok(found.map_or(Value::None, |i| shaped(&interp.db, &model, &i, shape)))
        }
        "first" | "last" => {
            let found = if name == "first" {
                qs.first()?
            } else {
                qs.last()?
            };
            Ok(found.map_or(Value::None, |i| shaped(&interp.db, &model, &i, shape)))
        }
        "latest" | "earliest" => {
            let fields = strings(&args, name)?;
            let found = if name == "latest" {
                qs.latest(fields)
            } else {
                qs.earliest(fields)
            };
            Ok(shaped(
                &interp.db,
                &model,
                &found.map_err(|e| model_error(e, &model))?,
                shape,
            ))
        }
        "contains" => {
            let Some(Value::Instance(obj)) = args.first() else {
                return Err(ScriptError::type_error("'obj' must be a model instance."));
            };
            let obj = obj.borrow();
            let key = Row::from_pairs(vec![(obj.pk.clone(), to_scalar(&obj.pk_value())?)]);
            let instance = Instance::new(obj.model.clone(), Some(obj.pk.clone()), key);
            Ok(Value::Bool(qs.contains(&instance)?))
        }
        "in_bulk" => {
            let ids = match args.first().or(kw(&kwargs, "id_list").as_ref()) {
                None | Some(Value::None) => None,
                Some(v) => Some(
                    interp
                        .iterate(v)?
                        .iter()
                        .map(to_scalar)
                        .collect::<Result<Vec<_>, _>>()?,
                ),
            };
            let field = match kw(&kwargs, "field_name") {
                Some(Value::Str(s)) => s.to_string(),
                _ => "pk".into(),
            };
            let bulk = qs.in_bulk(ids, &field)?;
            let items = bulk
                .iter()
                .map(|(k, i)| (from_scalar(k), instance_value(&interp.db, &model, i)));
            Ok(Value::dict(items.collect()))
        }
        "create" => {
            let mut kwargs = kwargs;
            auto_now(interp, &model, &mut kwargs)?;
            let made = qs.create(field_values(&kwargs)?).map_err(ScriptError::from);
            let made = interp.after_write(made)?;
            let made = instance_value(&interp.db, &model, &made);
            keep_given(&interp.db, &made, &kwargs)?;
            Ok(made)
        }
        "get_or_create" => {
            let defaults = take_kw(&mut kwargs, "defaults");
            let lookup = build_q(&[], &kwargs)?;
            match qs.get(lookup.clone()) {
                Ok(found) => {
                    let found = instance_value(&interp.db, &model, &found);
                    Ok(Value::tuple(vec![found, Value::Bool(false)]))
                }
                Err(quiver::Error::DoesNotExist(_)) => {
                    let defaults = defaults_of(interp, defaults)?;
                    let params = creation_params(interp, &model, &kwargs, defaults)?;
                    let (made, created) = create_or_get(&interp.db, &qs, &lookup, params.clone())?;
                    let made = instance_value(&interp.db, &model, &made);
                    if created {
                        keep_given(&interp.db, &made, &params)?;
                    }
                    Ok(Value::tuple(vec![made, Value::Bool(created)]))
                }
                Err(e) => Err(model_error(e, &model)),
            }
        }
        "bulk_create" => {
            let objects = interp.iterate(args.first().unwrap_or(&Value::None))?;
            let mut rows = vec![];
            for o in &objects {
                let Value::Instance(i) = o else {
                    return Err(ScriptError::attribute(&o.type_name(), "pk"));
                };
                let mut i = i.borrow_mut();
                auto_now(interp, &model, &mut i.fields)?;
                rows.push(unsaved_values(&interp.db, &i)?);
            }
            let options = bulk_create_options(interp, &kwargs)?;
            let model_arc = interp.db.model(&model)?;
            let pk = model_arc.pk().map(|f| f.attname().to_string());
            let before = next_pk(interp, &model)?;
            let inserted = if options.ignore_conflicts
                || options.update_conflicts
                || options.batch_size.is_some()
            {
                qs.bulk_create_with(rows, &options)
            } else {
                qs.bulk_create(rows)
            };
            interp.after_write(inserted.map_err(ScriptError::from))?;
            // Django sets the primary keys of the created objects (PostgreSQL, SQLite), but
            // not with ignore_conflicts, where it cannot tell which rows were inserted; with
            // update_conflicts an object gets the key of the row it inserted or updated.
            // New keys come after every key given in this call (see `Database::build_rows`).
            let given_max = objects
                .iter()
                .filter_map(|o| match (o, &pk) {
                    (Value::Instance(i), Some(pk)) => match i.borrow().get(pk) {
                        Some(Value::Int(n)) => Some(*n),
                        _ => None,
                    },
                    _ => None,
                })
                .max();
            let mut next = given_max.map_or(before, |given| before.max(given));
            for o in &objects {
                if let (Value::Instance(i), Some(pk)) = (o, &pk) {
                    let unset = matches!(i.borrow().get(pk), Some(Value::None) | None);
                    if unset && options.update_conflicts {
                        let lookup = options
                            .unique_fields
                            .iter()
                            .map(|f| {
                                let attname = model_arc
                                    .get_field(f)
                                    .map_or(f.as_str(), |field| field.attname());
                                let value = i.borrow().get(attname).cloned().unwrap_or(Value::None);
                                Ok(Q::new(f.clone(), Expression::from(to_scalar(&value)?)))
                            })
                            .collect::<Result<Vec<Q>, ScriptError>>()?
                            .into_iter()
                            .fold(Q::all(), |all, q| all & q);
                        // Django reads the keys back in its INSERT ... RETURNING: no query.
                        let key = quiver::query_log::internal_reads(|| {
                            interp.db.objects(&model).get(lookup)
                        })?
                        .pk();
                        i.borrow_mut().set(pk, from_scalar(&key));
                    } else if unset && !options.ignore_conflicts {
                        next += 1;
                        i.borrow_mut().set(pk, Value::Int(next));
                    }
                    // Django marks saved only the objects it knows the key of.
                    let keyed = !matches!(i.borrow().get(pk), Some(Value::None) | None);
                    if keyed {
                        i.borrow_mut().adding = false;
                    }
                }
            }
            Ok(Value::list(objects))
        }
        "explain" if kw(&kwargs, "analyze").is_some_and(|v| v.truthy()) => {
            Ok(Value::str(qs.explain_analyze()?))
        }
        "explain" => Ok(Value::str(qs.explain()?)),
        "query" => Ok(Value::str(qs.sql()?)),
        "load_csv" | "load_json" | "load_parquet" => {
            let path = match args.first() {
                Some(Value::Str(p)) => interp.base_dir.join(&**p),
                _ => {
                    return Err(ScriptError::type_error(format!(
                        "{name}() takes a file path"
                    )))
                }
            };
            let load = match name {
                "load_csv" => crate::loading::DataLoad::Csv(model.clone(), path),
                "load_json" => crate::loading::DataLoad::Json(model.clone(), path),
                _ => crate::loading::DataLoad::Parquet(model.clone(), path),
            };
            let n = crate::loading::run(&interp.db, &load)?;
            Ok(Value::Int(n as i64))
        }
        "delete" => {
            let deleted = qs.delete().map_err(ScriptError::from);
            Ok(delete_count(interp.after_write(deleted)?))
        }
        "update" => {
            if !args.is_empty() {
                return Err(ScriptError::type_error(format!(
                    "QuerySet.update() takes 1 positional argument but {} were given",
                    args.len() + 1
                )));
            }
            let values = kwargs
                .iter()
                .map(|(k, v)| Ok((k.clone(), to_expression(v)?)))
                .collect::<Result<Vec<(String, Expression)>, ScriptError>>()?;
            // Aggregates are refused by the crate, with Django's repr of the resolved value.
            if let Some((k, e)) = values.iter().find(|(_, e)| ex::contains_over_clause(e)) {
                return Err(ScriptError::new(
                    "FieldError",
                    format!("Window expressions are not allowed in this query ({k}={e})."),
                ));
            }
            let updated = qs.update(values).map_err(field_does_not_exist);
            Ok(Value::Int(interp.after_write(updated)? as i64))
        }
        "update_or_create" => {
            // Django 5.1: in one transaction, `select_for_update().get_or_create(
            // create_defaults, **kwargs)`, then the found object gets `defaults` and is saved
            // with update_fields.
            let update_defaults = take_kw(&mut kwargs, "defaults");
            let update_defaults = defaults_of(interp, update_defaults)?;
            let create_defaults = match take_kw(&mut kwargs, "create_defaults") {
                None | Some(Value::None) => update_defaults.clone(),
                given => defaults_of(interp, given)?,
            };
            let lookup = build_q(&[], &kwargs)?;
            // Invalid names only matter when the object is created (Django checks them there).
            let params = creation_params(interp, &model, &kwargs, create_defaults);
            let updates = field_values(&update_defaults)?;
            let names: Vec<String> = updates.iter().map(|(k, _)| k.clone()).collect();
            let locking = qs.select_for_update();
            let mut failure = None;
            let outcome = interp.db.atomic(|_| match locking.get(lookup.clone()) {
                Ok(mut found) => {
                    for (name, value) in &updates {
                        found.set(name, value.clone())?;
                    }
                    if !names.is_empty() {
                        found.save_update_fields(&names)?;
                    }
                    Ok((found, false))
                }
                Err(quiver::Error::DoesNotExist(_)) => {
                    match params
                        .clone()
                        .and_then(|p| create_or_get(&interp.db, &qs, &lookup, p))
                    {
                        Ok(made) => Ok(made),
                        Err(error) => {
                            failure = Some(error);
                            Err(quiver::Error::ValueError("creation failed".into()))
                        }
                    }
                }
                Err(other) => Err(other),
            });
            if let Some(error) = failure {
                return Err(error);
            }
            let (found, created) = outcome.map_err(|e| model_error(e, &model))?;
            let found = instance_value(&interp.db, &model, &found);
            match (created, &params) {
                (true, Ok(given)) => keep_given(&interp.db, &found, given)?,
                // Django sets `defaults` on the object it found and saves them.
                (false, _) => keep_given(&interp.db, &found, &update_defaults)?,
                _ => {}
            }
            Ok(Value::tuple(vec![found, Value::Bool(created)]))
        }
        "bulk_update" => {
            let objects = match args.first().cloned().or(kw(&kwargs, "objs")) {
                Some(v) => interp.iterate(&v)?,
                None => return Err(ScriptError::type_error(
                    "bulk_update() missing 2 required positional arguments: 'objs' and 'fields'",
                )),
            };
            let fields = match args.get(1).cloned().or(kw(&kwargs, "fields")) {
                Some(v) => {
                    let names = interp.iterate(&v)?;
                    strings(&names, name)?
                }
                None => vec![],
            };
            let batch_size = batch_size(kw(&kwargs, "batch_size"))?;
            let instances = objects
                .iter()
                .map(|o| stored_instance(&interp.db, o))
                .collect::<Result<Vec<_>, _>>()?;
            let updated = qs
                .bulk_update(&instances, &fields, batch_size)
                .map_err(field_does_not_exist);
            Ok(Value::Int(interp.after_write(updated)? as i64))
        }
        "select_for_update" => {
            let flag = |k: &str| kw(&kwargs, k).is_some_and(|v| v.truthy());
            let (nowait, skip_locked) = (flag("nowait"), flag("skip_locked"));
            if nowait && skip_locked {
                return Err(ScriptError::value_error(
                    "The nowait option cannot be used with skip_locked.",
                ));
            }
            let of = match kw(&kwargs, "of") {
                Some(v) => {
                    let names = interp.iterate(&v)?;
                    strings(&names, name)?
                }
                None => vec![],
            };
            let lock = Lock {
                nowait,
                skip_locked,
                of,
            };
            Ok(locked_qs(qs, &model, shape, Some(lock)))
        }
        "select_related" => match args.as_slice() {
            [] => chain(qs.select_related_all()),
            [Value::None] => chain(qs.clear_select_related()),
            _ => chain(qs.select_related(strings(&args, name)?)),
        },
        "prefetch_related" => match args.as_slice() {
            [Value::None] => chain(qs.clear_prefetch_related()),
            _ => {
                let lookups = args
                    .iter()
                    .map(|a| match a {
                        Value::Str(s) => Ok(quiver::queryset::Prefetch::new(s.to_string())),
                        Value::Prefetch(p) => Ok((**p).clone()),
                        other => Err(ScriptError::type_error(format!(
                            "prefetch_related() takes lookups or Prefetch objects, not {}",
                            other.type_name()
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                chain(qs.prefetch_related(lookups))
            }
        },
        "union" | "intersection" | "difference" => {
            let all = take_kw(&mut kwargs, "all").is_some_and(|v| v.truthy());
            if let Some((k, _)) = kwargs.first() {
                return Err(ScriptError::type_error(format!(
                    "QuerySet.{name}() got an unexpected keyword argument '{k}'"
                )));
            }
            let mut others = Vec::with_capacity(args.len());
            for a in &args {
                let (other, _, _) = queryset_of(interp, a)?.ok_or_else(|| {
                    ScriptError::type_error(format!(
                        "{name}() takes QuerySets, not {}",
                        a.type_name()
                    ))
                })?;
                others.push(other);
            }
            // The result has the first QuerySet's model, names and row shape (Django).
            chain(match name {
                "union" => qs.union(others, all),
                "intersection" => qs.intersection(others),
                _ => qs.difference(others),
            })
        }
        // CTEManager's `qs.with_cte(cte)` (deprecated in django-cte 4.0, still there).
        "with_cte" => match args.as_slice() {
            [Value::Cte(c)] => chain(qs.with_cte(&c.cte)),
            _ => Err(ScriptError::type_error("with_cte() takes one CTE")),
        },
        name if LATER_METHODS.contains(&name) => Err(ScriptError::new(
            "NotSupportedError",
            format!("QuerySet.{name}() is not supported by Quiver yet"),
        )),
        _ => Err(ScriptError::attribute(&receiver.type_name(), name)),
    }
}

/// Django looks the fields of `update()` and `bulk_update()` up with `_meta.get_field()`,
/// whose miss is `FieldDoesNotExist` (not a `FieldError`), with the same message.
fn field_does_not_exist(error: quiver::Error) -> ScriptError {
    let mut error = ScriptError::from(error);
    if error.kind == "FieldError" && error.message.contains(" has no field named '") {
        error.kind = "FieldDoesNotExist".into();
    }
    error
}

/// `bulk_create(objs, batch_size=, ignore_conflicts=, update_conflicts=, update_fields=,
/// unique_fields=)`'s options.
fn bulk_create_options(
    interp: &mut Interpreter,
    kwargs: &[(String, Value)],
) -> Result<quiver::queryset::BulkCreateOptions, ScriptError> {
    let mut options = quiver::queryset::BulkCreateOptions::new();
    options.batch_size = batch_size(kw(kwargs, "batch_size"))?;
    options.ignore_conflicts = kw(kwargs, "ignore_conflicts").is_some_and(|v| v.truthy());
    options.update_conflicts = kw(kwargs, "update_conflicts").is_some_and(|v| v.truthy());
    for (key, target) in [
        ("update_fields", &mut options.update_fields),
        ("unique_fields", &mut options.unique_fields),
    ] {
        if let Some(v) = kw(kwargs, key).filter(|v| !matches!(v, Value::None)) {
            let names = interp.iterate(&v)?;
            *target = strings(&names, "bulk_create")?;
        }
    }
    // Django's check, ahead of the crate's (whose message has stray spaces).
    if options.update_conflicts && !options.ignore_conflicts && options.update_fields.is_empty() {
        return Err(ScriptError::value_error(
            "Fields that will be updated when a row insertion fails on conflicts must be \
             provided.",
        ));
    }
    Ok(options)
}

/// The values a `get_or_create`/`update_or_create` creates an object from: the keyword
/// arguments without lookups (`name__iexact`) plus the defaults, every name a field of the
/// model (Django's `_extract_model_params`), `auto_now` fields filled in.
fn creation_params(
    interp: &Interpreter,
    model: &str,
    kwargs: &[(String, Value)],
    defaults: Vec<(String, Value)>,
) -> Result<Vec<(String, Value)>, ScriptError> {
    let mut params: Vec<(String, Value)> = kwargs
        .iter()
        .filter(|(k, _)| !k.contains("__"))
        .cloned()
        .collect();
    for (name, value) in defaults {
        match params.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => params.push((name, value)),
        }
    }
    let registered = interp.db.model(model)?;
    let mut invalid: Vec<&str> = params
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| {
            !registered
                .fields()
                .iter()
                .any(|f| f.name() == *k || f.attname() == *k)
        })
        .collect();
    if !invalid.is_empty() {
        invalid.sort_unstable();
        return Err(ScriptError::new(
            "FieldError",
            format!(
                "Invalid field name(s) for model {}: '{}'.",
                registered.name(),
                invalid.join("', '")
            ),
        ));
    }
    auto_now(interp, model, &mut params)?;
    Ok(params)
}

/// Django's `create()` builds the object from the values it was given and saves it: the
/// object keeps those values as given (`Decimal("1")` stays `1`, not the column's `1.00`),
/// and the related objects given, so `order.customer` runs no query. Only the key comes
/// from the database.
fn keep_given(
    db: &quiver::Database,
    made: &Value,
    given: &[(String, Value)],
) -> Result<(), ScriptError> {
    let Value::Instance(i) = made else {
        return Ok(());
    };
    let model = db.model(&i.borrow().model)?;
    for (name, value) in given {
        let Some(field) = model
            .fields()
            .iter()
            .find(|f| f.name() == name || f.attname() == name)
        else {
            continue;
        };
        let mut inst = i.borrow_mut();
        match value {
            Value::Instance(related) if field.relation().is_some() => {
                let key = related.borrow().pk_value();
                inst.set(field.attname(), key);
                inst.related.insert(field.name().to_string(), value.clone());
            }
            _ => inst.set(field.attname(), value.clone()),
        }
    }
    Ok(())
}

/// `get_or_create`'s creation: inserts in a savepoint; when that violates a constraint
/// (another writer created the object first), the object is looked up again and the
/// `IntegrityError` raised only if it still does not exist.
fn create_or_get(
    db: &quiver::Database,
    qs: &QuerySet,
    lookup: &Q,
    params: Vec<(String, Value)>,
) -> Result<(Instance, bool), ScriptError> {
    let values = field_values(&params)?;
    match db.atomic(|_| qs.create(values)) {
        Ok(made) => Ok((made, true)),
        Err(quiver::Error::IntegrityError(message)) => match qs.get(lookup.clone()) {
            Ok(found) => Ok((found, false)),
            Err(_) => Err(ScriptError::new("IntegrityError", message)),
        },
        Err(other) => Err(other.into()),
    }
}

/// `batch_size=`: `None`, or a positive number of rows (Django's check).
fn batch_size(value: Option<Value>) -> Result<Option<usize>, ScriptError> {
    match value {
        None | Some(Value::None) => Ok(None),
        Some(Value::Int(n)) if n > 0 => Ok(Some(n as usize)),
        Some(Value::Int(_)) => Err(ScriptError::value_error(
            "Batch size must be a positive integer.",
        )),
        Some(other) => Err(ScriptError::type_error(format!(
            "'<=' not supported between instances of '{}' and 'int'",
            other.type_name()
        ))),
    }
}

/// `update_or_create`'s `defaults=` / `create_defaults=` dict as field values; callables
/// are called, as Django's `resolve_callables` does.
fn defaults_of(
    interp: &mut Interpreter,
    value: Option<Value>,
) -> Result<Vec<(String, Value)>, ScriptError> {
    let pairs = match value {
        None | Some(Value::None) => return Ok(vec![]),
        Some(Value::Dict(d)) => d.borrow().clone(),
        Some(other) => {
            // Django iterates `defaults.items()` after merging it into a dict.
            return Err(ScriptError::type_error(format!(
                "'{}' object is not iterable",
                other.type_name()
            )));
        }
    };
    pairs
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::Function(_) | Value::Builtin(_) | Value::Method(..) => {
                    interp.call(&v, vec![], vec![])?
                }
                v => v,
            };
            Ok((k.to_str(), v))
        })
        .collect()
}

/// A script object as the crate's instance of its stored row: the model's concrete fields
/// (no annotations or `to_attr` lists), bound to the database.
fn stored_instance(db: &quiver::Database, value: &Value) -> Result<Instance, ScriptError> {
    let Value::Instance(i) = value else {
        // What Django meets first when it reads the object.
        return Err(ScriptError::attribute(&value.type_name(), "pk"));
    };
    let i = i.borrow();
    let model = db.model(&i.model)?;
    let pairs = model
        .fields()
        .iter()
        .filter_map(|f| {
            i.get(f.attname())
                .map(|v| Ok((f.attname().to_string(), to_scalar(v)?)))
        })
        .collect::<Result<Vec<(String, quiver::ScalarValue)>, ScriptError>>()?;
    Ok(
        Instance::new(i.model.clone(), Some(i.pk.clone()), Row::from_pairs(pairs))
            .with_database(db.clone()),
    )
}

/// The highest automatic key so far (for setting keys after `bulk_create`).
fn next_pk(interp: &mut Interpreter, model: &str) -> Result<i64, ScriptError> {
    // Django reads no key before its INSERT, so this read stays out of `connection.queries`.
    let row = quiver::query_log::internal_reads(|| {
        interp
            .db
            .objects(model)
            .aggregate([AggregateArg::from(("m", ex::Max("pk")))])
    })?;
    Ok(match row.get_value("m")? {
        v if v.is_null() => 0,
        v => v.as_i64().unwrap_or(0),
    })
}

/// Fills the `auto_now`/`auto_now_add` fields that have no value with the current date or
/// time, as Django's `pre_save` does.
fn auto_now(
    interp: &Interpreter,
    model: &str,
    values: &mut Vec<(String, Value)>,
) -> Result<(), ScriptError> {
    let Some(class) = interp.classes.get(model) else {
        return Ok(());
    };
    if class.auto_now.is_empty() {
        return Ok(());
    }
    let registered = interp.db.model(model)?;
    let now = chrono::Utc::now().naive_utc();
    for name in &class.auto_now {
        let Some(field) = registered.get_field(name) else {
            continue;
        };
        let value = match field.field_type() {
            quiver::model::FieldType::DateField => Value::Date(now.date()),
            quiver::model::FieldType::TimeField => Value::Time(now.time()),
            _ => Value::DateTime(now),
        };
        match values
            .iter_mut()
            .find(|(k, _)| k == field.name() || k == field.attname())
        {
            Some((_, v)) if !matches!(v, Value::None) => {}
            Some((_, v)) => *v = value,
            None => values.push((field.attname().to_string(), value)),
        }
    }
    Ok(())
}

/// `auto_now=True` fields take the current date/time on every `save()` (Django's
/// `pre_save`), among `update_fields` only when those are given.
fn touch_auto_now(
    interp: &Interpreter,
    model: &str,
    instance: &Rc<RefCell<InstanceValue>>,
    update_fields: Option<&[String]>,
) -> Result<(), ScriptError> {
    let Some(class) = interp.classes.get(model) else {
        return Ok(());
    };
    let registered = interp.db.model(model)?;
    let now = chrono::Utc::now().naive_utc();
    for name in &class.auto_now_on_save {
        if update_fields.is_some_and(|fields| !fields.contains(name)) {
            continue;
        }
        let Some(field) = registered.get_field(name) else {
            continue;
        };
        let value = match field.field_type() {
            quiver::model::FieldType::DateField => Value::Date(now.date()),
            quiver::model::FieldType::TimeField => Value::Time(now.time()),
            _ => Value::DateTime(now),
        };
        instance.borrow_mut().set(field.attname(), value);
    }
    Ok(())
}

/// The values a new object is inserted with: its concrete fields that are set (attributes
/// such as a `@cached_property` value are not columns).
fn unsaved_values(
    db: &quiver::Database,
    i: &InstanceValue,
) -> Result<Vec<(String, quiver::ScalarValue)>, ScriptError> {
    let model = db.model(&i.model)?;
    i.fields
        .iter()
        .filter(|(_, v)| !matches!(v, Value::None))
        .filter(|(k, _)| model.fields().iter().any(|f| f.attname() == k))
        .map(|(k, v)| Ok((k.clone(), to_scalar(v)?)))
        .collect()
}

/// `Employee(name=..)`: an unsaved instance with every field (defaults filled in).
pub fn new_instance(
    interp: &mut Interpreter,
    class: &ModelClass,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
) -> Result<Value, ScriptError> {
    interp.register_pending()?;
    let model = interp.db.model(&class.name)?;
    let mut fields = vec![];
    let mut related = HashMap::new();
    let mut used = vec![false; kwargs.len()];
    for (position, field) in model.fields().iter().enumerate() {
        let given = kwargs
            .iter()
            .position(|(k, _)| k == field.name() || k == field.attname())
            .map(|i| {
                used[i] = true;
                kwargs[i].1.clone()
            });
        let given = given.or_else(|| args.get(position).cloned());
        let value = match given {
            Some(Value::Instance(obj)) if field.relation().is_some() => {
                related.insert(field.name().to_string(), Value::Instance(Rc::clone(&obj)));
                let pk = obj.borrow().pk_value();
                pk
            }
            Some(v) => v,
            None => match &field.spec().default {
                Some(d) => from_scalar(d),
                None if field.is_nullable()
                    || field.field_type().is_auto()
                    || field.relation().is_some() =>
                {
                    Value::None
                }
                None if matches!(
                    field.field_type(),
                    quiver::model::FieldType::CharField { .. }
                        | quiver::model::FieldType::TextField
                ) =>
                {
                    Value::str("")
                }
                None => Value::None,
            },
        };
        fields.push((field.attname().to_string(), value));
    }
    if let Some(i) = used.iter().position(|u| !u) {
        return Err(ScriptError::type_error(format!(
            "{}() got unexpected keyword arguments: '{}'",
            class.name, kwargs[i].0
        )));
    }
    Ok(Value::Instance(Rc::new(RefCell::new(InstanceValue {
        model: class.name.clone(),
        pk: model
            .pk()
            .map(|f| f.attname().to_string())
            .unwrap_or_else(|| "id".into()),
        fields,
        related,
        adding: true,
        source: None,
    }))))
}

/// `str(instance)`: its `__str__` when the class has one, else Django's `Model object (pk)`.
pub fn instance_str(interp: &mut Interpreter, value: &Value) -> Result<String, ScriptError> {
    let Value::Instance(i) = value else {
        return Ok(value.to_str());
    };
    let model = i.borrow().model.clone();
    if let Some(method) = interp
        .classes
        .get(&model)
        .and_then(|c| c.str_method.clone())
    {
        let result = interp.call_function(&method, vec![value.clone()], vec![])?;
        return interp.str_of(&result);
    }
    let pk = i.borrow().pk_value().to_str();
    Ok(format!("{model} object ({pk})"))
}

/// `object.name`.
pub fn get_attribute(
    interp: &mut Interpreter,
    object: &Value,
    name: &str,
) -> Result<Value, ScriptError> {
    match object {
        Value::Module("connection") if name == "queries" => {
            return Ok(Value::list(
                interp
                    .db
                    .queries()
                    .into_iter()
                    .map(|q| {
                        Value::dict(vec![
                            (Value::str("sql"), Value::str(q.sql)),
                            (
                                Value::str("time"),
                                Value::str(format!("{:.3}", q.time.as_secs_f64())),
                            ),
                        ])
                    })
                    .collect(),
            ))
        }
        Value::Module(module) => return super::builtins::module_attribute(module, name),
        Value::Builtin(b) if &**b == "WindowFrameExclusion" => {
            return match name {
                "CURRENT_ROW" | "GROUP" | "TIES" | "NO_OTHERS" => Ok(Value::Opaque(
                    Rc::from(format!("WindowFrameExclusion.{name}")),
                    Rc::default(),
                )),
                _ => Err(ScriptError::attribute("WindowFrameExclusion", name)),
            }
        }
        // `type(e).__name__`, `type(x).__name__`.
        Value::ExceptionClass { name: class, .. } if name == "__name__" => {
            return Ok(Value::str(&**class))
        }
        Value::Builtin(b) if name == "__name__" => return Ok(Value::str(&**b)),
        Value::Builtin(b) if &**b == "CTE" && name == "recursive" => {
            return Ok(Value::Builtin(Rc::from("CTE.recursive")))
        }
        Value::Cte(c) => {
            return match name {
                "col" => Ok(Value::CteColumns(Rc::clone(c))),
                "name" => Ok(Value::str(c.cte.cte_name())),
                "join" | "queryset" => Ok(Value::Method(Box::new(object.clone()), Rc::from(name))),
                _ => Err(ScriptError::attribute("CTE", name)),
            }
        }
        Value::CteColumns(c) => return Ok(expr_value(c.cte.col(name))),
        Value::Builtin(b) if &**b == "datetime.datetime" && name == "now" => {
            return Ok(Value::Builtin(Rc::from("datetime.datetime.now")))
        }
        Value::Builtin(b) if &**b == "datetime.date" && name == "today" => {
            return Ok(Value::Builtin(Rc::from("date.today")))
        }
        Value::ModelClass(class) => {
            return match name {
                "objects" => Ok(Value::Manager(Rc::from(class.name.as_str()))),
                "DoesNotExist" | "MultipleObjectsReturned" => Ok(Value::ExceptionClass {
                    name: Rc::from(name),
                    model: Some(Rc::from(class.name.as_str())),
                }),
                "__name__" => Ok(Value::str(&class.name)),
                _ if class.attributes.contains_key(name) => Ok(class.attributes[name].clone()),
                _ => Err(ScriptError::new(
                    "AttributeError",
                    format!("type object '{}' has no attribute '{name}'", class.name),
                )),
            }
        }
        Value::QuerySet(q) if name == "query" => return Ok(Value::str(q.qs.sql()?)),
        Value::QuerySet(q) if name == "model" => {
            return Ok(interp.lookup(&q.model).unwrap_or(Value::None))
        }
        Value::RelatedManager(_) if matches!(name, "add" | "remove" | "clear" | "set") => {
            return Ok(Value::Method(Box::new(object.clone()), Rc::from(name)));
        }
        Value::QuerySet(_) | Value::Manager(_) | Value::RelatedManager(_) => {
            if !QUERYSET_METHODS.contains(&name) && !LATER_METHODS.contains(&name) {
                return Err(ScriptError::attribute(&object.type_name(), name));
            }
            return Ok(Value::Method(Box::new(object.clone()), Rc::from(name)));
        }
        // `obj._state.adding` / `obj._state.db` (Django's ModelState).
        Value::Instance(i) if name == "_state" => {
            let adding = Value::Bool(i.borrow().adding);
            let db = if i.borrow().adding {
                Value::None
            } else {
                Value::str("default")
            };
            return Ok(Value::Opaque(
                Rc::from("ModelState"),
                Rc::new(vec![("adding".into(), adding), ("db".into(), db)]),
            ));
        }
        Value::Opaque(kind, state) if &**kind == "ModelState" => {
            return state
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| ScriptError::attribute("ModelState", name));
        }
        Value::Instance(i) => return instance_attribute(interp, i, object, name),
        Value::Expression(_) if matches!(name, "asc" | "desc" | "distinct" | "filter") => {
            return Ok(Value::Method(Box::new(object.clone()), Rc::from(name)))
        }
        _ => {}
    }
    if let Some(v) = super::methods::value_attribute(object, name) {
        return Ok(v);
    }
    Ok(Value::Method(Box::new(object.clone()), Rc::from(name)))
}

fn instance_attribute(
    interp: &mut Interpreter,
    i: &Rc<RefCell<InstanceValue>>,
    object: &Value,
    name: &str,
) -> Result<Value, ScriptError> {
    let model_name = i.borrow().model.clone();
    if let Some(v) = i.borrow().related.get(name) {
        return Ok(v.clone());
    }
    let model = interp.db.model(&model_name)?;
    if name == "pk" {
        let pk = model
            .pk()
            .map(|f| f.attname().to_string())
            .unwrap_or_else(|| "id".into());
        return Ok(i.borrow().get(&pk).cloned().unwrap_or(Value::None));
    }
    if let Some(field) = model
        .get_field(name)
        .filter(|f| f.name() == name && f.relation().is_some())
    {
        // Loaded by select_related/prefetch_related (while the key is unchanged): no query.
        let loaded = i.borrow().source.as_ref().and_then(|src| {
            let unchanged = src.get_value(field.attname()).ok().map(|v| from_scalar(&v));
            let key = i.borrow().get(field.attname()).cloned();
            match (src.cached_related(name), unchanged, key) {
                (Some(Related::One(found)), Some(old), Some(new))
                    if super::operators::values_equal(&old, &new) =>
                {
                    Some(found.clone())
                }
                _ => None,
            }
        });
        if let Some(found) = loaded {
            let value = match found {
                Some(obj) => {
                    let target = obj.model_name().to_string();
                    instance_value(&interp.db, &target, &obj)
                }
                None => Value::None,
            };
            i.borrow_mut()
                .related
                .insert(name.to_string(), value.clone());
            return Ok(value);
        }
        // `order.customer`: one query, the first time (Django caches the related object).
        let key = i
            .borrow()
            .get(field.attname())
            .cloned()
            .unwrap_or(Value::None);
        if matches!(key, Value::None) {
            return Ok(Value::None);
        }
        let relation = field
            .relation()
            .cloned()
            .ok_or_else(|| ScriptError::new("InternalError", "relation lost"))?;
        let target = if relation.to == "self" {
            model_name.clone()
        } else {
            interp.db.model(&relation.to)?.name().to_string()
        };
        let lookup = relation.to_field.clone().unwrap_or_else(|| "pk".into());
        let found = interp
            .db
            .objects(&target)
            .get(Q::new(lookup, Expression::from(to_scalar(&key)?)))
            .map_err(|e| model_error(e, &target))?;
        let value = instance_value(&interp.db, &target, &found);
        i.borrow_mut()
            .related
            .insert(name.to_string(), value.clone());
        return Ok(value);
    }
    if let Some(v) = i.borrow().get(name) {
        return Ok(v.clone());
    }
    if matches!(
        name,
        "save" | "delete" | "refresh_from_db" | "full_clean" | "clean"
    ) || display_field(interp, &model_name, name).is_some()
    {
        return Ok(Value::Method(Box::new(object.clone()), Rc::from(name)));
    }
    // `@property`: reading the attribute runs the method; `@cached_property` keeps the
    // value in the object (its `__dict__`, where Django's output shows it).
    let property = interp.classes.get(&model_name).and_then(|c| {
        let (_, kind) = c.properties.iter().find(|(p, _)| p == name)?;
        Some((c.methods.get(name).cloned()?, *kind))
    });
    if let Some((method, kind)) = property {
        let value = interp.call_function(&method, vec![object.clone()], vec![])?;
        if kind == super::ast::Property::Cached {
            i.borrow_mut().set(name, value.clone());
        }
        return Ok(value);
    }
    let is_method = interp
        .classes
        .get(&model_name)
        .is_some_and(|c| c.methods.contains_key(name));
    if is_method {
        return Ok(Value::Method(Box::new(object.clone()), Rc::from(name)));
    }
    if let Some(v) = interp
        .classes
        .get(&model_name)
        .and_then(|c| c.attributes.get(name).cloned())
    {
        return Ok(v);
    }
    if let Some(value) = related_attribute(interp, i, &model, name)? {
        return Ok(value);
    }
    // `Prefetch(..., to_attr="x")`: a plain list on the instance.
    let prefetched = i.borrow().source.as_ref().and_then(|src| {
        src.prefetched(name).map(|items| {
            items
                .iter()
                .map(|x| {
                    let target = x.model_name().to_string();
                    instance_value(&interp.db, &target, x)
                })
                .collect::<Vec<_>>()
        })
    });
    if let Some(items) = prefetched {
        return Ok(Value::list(items));
    }
    Err(ScriptError::attribute(&model_name, name))
}

/// Reverse and many-to-many accessors: `customer.order_set` (a related manager, served
/// from `prefetch_related` when it ran), `place.restaurant` (a reverse OneToOne: the object,
/// or `RelatedObjectDoesNotExist`). `None` when `name` is no such accessor.
fn related_attribute(
    interp: &mut Interpreter,
    i: &Rc<RefCell<InstanceValue>>,
    model: &Arc<Model>,
    name: &str,
) -> Result<Option<Value>, ScriptError> {
    let Ok(path) = interp.db.registry().accessor_relation(model, name) else {
        return Ok(None);
    };
    if path.kind == RelationKind::Forward {
        return Ok(None);
    }
    let target = path.target.name().to_string();
    let source = i.borrow().source.clone();
    let Some(source) = source else {
        return Err(ScriptError::value_error(format!(
            "'{}' instance needs to have a primary key value before this relationship can be used.",
            model.name()
        )));
    };
    let source = source.with_database(interp.db.clone());
    if path.is_multi_valued() {
        let cached = source.prefetched(name).map(|items| {
            items
                .iter()
                .map(|x| instance_value(&interp.db, &target, x))
                .collect()
        });
        let manager = source.related(name)?;
        return Ok(Some(Value::RelatedManager(Rc::new(RelatedSet {
            model: target,
            manager: Some(manager),
            field: String::new(),
            key: Value::None,
            cached,
        }))));
    }
    let found = source.related_object_or_none(name)?;
    let value = match found {
        Some(obj) => instance_value(&interp.db, &target, &obj),
        None => {
            // Django's `Customer.profile.RelatedObjectDoesNotExist` (a DoesNotExist).
            let mut e = ScriptError::new(
                "RelatedObjectDoesNotExist",
                format!("{} has no {name}.", model.name()),
            );
            e.model = Some(target);
            return Err(e);
        }
    };
    i.borrow_mut()
        .related
        .insert(name.to_string(), value.clone());
    Ok(Some(value))
}

/// A related manager's writes: `add(*objs)`, `remove(*objs)`, `clear()`, `set(objs)`,
/// `create(**kwargs)`.
fn related_write(
    interp: &mut Interpreter,
    set: &RelatedSet,
    name: &str,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
) -> Result<Value, ScriptError> {
    let Some(manager) = &set.manager else {
        return Err(ScriptError::value_error(
            "this relationship can be used only from an object read from the database",
        ));
    };
    let objects = |values: &[Value]| -> Result<Vec<Instance>, ScriptError> {
        values
            .iter()
            .map(|v| match v {
                Value::Instance(i) => i.borrow().source.clone().ok_or_else(|| {
                    ScriptError::value_error(format!(
                        "<{}: {} object (None)>\" needs to have a value for field \"id\" before this relationship can be used.",
                        i.borrow().model,
                        i.borrow().model
                    ))
                }),
                other => Err(ScriptError::type_error(format!(
                    "'{}' instance expected, got {}",
                    set.model,
                    other.repr()
                ))),
            })
            .collect()
    };
    match name {
        "create" => {
            let made = manager.create(field_values(&kwargs)?)?;
            Ok(instance_value(&interp.db, &set.model, &made))
        }
        "clear" => {
            manager.clear()?;
            Ok(Value::None)
        }
        "set" => {
            let items = interp.iterate(args.first().unwrap_or(&Value::None))?;
            let items = objects(&items)?;
            manager.set(&items.iter().collect::<Vec<_>>())?;
            Ok(Value::None)
        }
        _ => {
            let items = objects(&args)?;
            let refs: Vec<&Instance> = items.iter().collect();
            if name == "add" {
                manager.add(&refs)?;
            } else {
                manager.remove(&refs)?;
            }
            Ok(Value::None)
        }
    }
}

/// `delete()`'s `(total, {"app.Model": count})`.
fn delete_count((total, per_model): quiver::queryset::DeleteCount) -> Value {
    let counts = per_model
        .into_iter()
        .map(|(label, n)| (Value::str(label), Value::Int(n as i64)))
        .collect();
    Value::tuple(vec![Value::Int(total as i64), Value::dict(counts)])
}

/// The primary key's name of a model (`id`).
fn model_pk(interp: &Interpreter, model: &str) -> String {
    interp
        .db
        .model(model)
        .ok()
        .and_then(|m| m.pk().map(|f| f.name().to_string()))
        .unwrap_or_else(|| "id".into())
}

/// For `get_<field>_display`: the field and its choices.
fn display_field(
    interp: &Interpreter,
    model: &str,
    name: &str,
) -> Option<(String, Vec<(Value, Value)>)> {
    let field = name.strip_prefix("get_")?.strip_suffix("_display")?;
    let choices = interp.classes.get(model)?.choices.get(field)?;
    Some((field.to_string(), choices.clone()))
}

/// `object.name = value` (instance fields).
pub fn set_attribute(
    interp: &mut Interpreter,
    object: &Value,
    name: &str,
    value: Value,
) -> Result<(), ScriptError> {
    // `connection.force_debug_cursor = True` makes Django log queries without DEBUG; a
    // script's connection always logs them.
    if matches!(object, Value::Module("connection")) && name == "force_debug_cursor" {
        return Ok(());
    }
    let Value::Instance(i) = object else {
        return Err(ScriptError::new(
            "AttributeError",
            format!(
                "'{}' object attribute '{name}' is read-only",
                object.type_name()
            ),
        ));
    };
    let model = interp.db.model(&i.borrow().model)?;
    let mut inst = i.borrow_mut();
    match model.get_field(name) {
        Some(field) if field.relation().is_some() && field.name() == name => {
            let key = match &value {
                Value::Instance(o) => o.borrow().pk_value(),
                Value::None => Value::None,
                other => {
                    return Err(ScriptError::value_error(format!(
                        "Cannot assign \"{}\": \"{}.{name}\" must be a model instance.",
                        other.repr(),
                        model.name()
                    )))
                }
            };
            inst.set(field.attname(), key);
            inst.related.insert(name.to_string(), value);
        }
        Some(field) => {
            let attname = field.attname().to_string();
            inst.related.remove(field.name());
            inst.set(&attname, value);
        }
        None => inst.set(name, value),
    }
    Ok(())
}

/// Calls `receiver.name(...)`.
pub fn call_method(
    interp: &mut Interpreter,
    receiver: &Value,
    name: &str,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
) -> Result<Value, ScriptError> {
    match receiver {
        Value::RelatedManager(set)
            if matches!(name, "add" | "remove" | "clear" | "set" | "create") =>
        {
            interp.check_transaction()?;
            let written = related_write(interp, set, name, args, kwargs);
            interp.after_write(written)
        }
        Value::QuerySet(_) | Value::Manager(_) | Value::RelatedManager(_) => {
            queryset_method(interp, receiver, name, args, kwargs)
        }
        Value::Instance(i) => instance_method(interp, i, receiver, name, args, kwargs),
        Value::Cte(c) => cte_method(interp, c, name, args, kwargs),
        Value::Expression(e) => {
            let e = (**e).clone();
            let flag = |k: &str| kw(&kwargs, k).is_some_and(|v| v.truthy());
            match name {
                "asc" | "desc" => {
                    let mut o: OrderBy = if name == "asc" { e.asc() } else { e.desc() };
                    if flag("nulls_first") {
                        o = o.nulls_first();
                    }
                    if flag("nulls_last") {
                        o = o.nulls_last();
                    }
                    Ok(Value::OrderBy(Rc::new(o)))
                }
                _ => Err(ScriptError::attribute(&receiver.type_name(), name)),
            }
        }
        _ => super::methods::call_value_method(interp, receiver, name, args, kwargs),
    }
}

fn instance_method(
    interp: &mut Interpreter,
    i: &Rc<RefCell<InstanceValue>>,
    receiver: &Value,
    name: &str,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
) -> Result<Value, ScriptError> {
    let model = i.borrow().model.clone();
    match name {
        "save" => {
            interp.check_transaction()?;
            if let Some((k, _)) = kwargs.iter().find(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "force_insert" | "force_update" | "using" | "update_fields"
                )
            }) {
                return Err(ScriptError::type_error(format!(
                    "Model.save() got an unexpected keyword argument '{k}'"
                )));
            }
            let flag = |k: &str| kw(&kwargs, k).is_some_and(|v| v.truthy());
            let (force_insert, force_update) = (flag("force_insert"), flag("force_update"));
            let mut update_fields = match kw(&kwargs, "update_fields") {
                None | Some(Value::None) => None,
                Some(v) => {
                    let names = interp.iterate(&v)?;
                    Some(strings(&names, "save")?)
                }
            };
            if force_insert && (force_update || update_fields.is_some()) {
                return Err(ScriptError::value_error(
                    "Cannot force both insert and updating in model saving.",
                ));
            }
            if force_update && update_fields.is_none() {
                let registered = interp.db.model(&model)?;
                update_fields = Some(
                    registered
                        .fields()
                        .iter()
                        .filter(|f| !f.is_primary_key())
                        .map(|f| f.name().to_string())
                        .collect(),
                );
            }
            let adding = i.borrow().adding;
            let has_key = !matches!(i.borrow().pk_value(), Value::None);
            if update_fields.is_some() && !has_key {
                return Err(ScriptError::value_error(
                    "Cannot force an update in save() with no primary key.",
                ));
            }
            if has_key && !force_insert {
                // An UPDATE of the row with this key, an INSERT when there is none (also
                // for a new object given an existing key, as Django does for automatic
                // keys), unless update_fields limits it to the UPDATE. The object keeps the
                // values it was given.
                if adding {
                    auto_now(interp, &model, &mut i.borrow_mut().fields)?;
                } else {
                    touch_auto_now(interp, &model, i, update_fields.as_deref())?;
                }
                let mut stored = stored_instance(&interp.db, receiver)?;
                let saved = match &update_fields {
                    Some(fields) => stored.save_update_fields(fields),
                    None => stored.save(),
                }
                .map_err(|e| match e {
                    quiver::Error::Engine(_) if force_update => {
                        ScriptError::new("DatabaseError", "Forced update did not affect any rows.")
                    }
                    other => ScriptError::from(other),
                });
                interp.after_write(saved)?;
                let mut inst = i.borrow_mut();
                inst.adding = false;
                if inst.source.is_none() {
                    inst.source = Some(stored);
                }
                return Ok(Value::None);
            }
            auto_now(interp, &model, &mut i.borrow_mut().fields)?;
            let values = unsaved_values(&interp.db, &i.borrow())?;
            let made = interp.db.objects(&model).create(values);
            let made = interp.after_write(made.map_err(ScriptError::from))?;
            // Django's INSERT returns only the new key; the object keeps its own values.
            let mut inst = i.borrow_mut();
            let pk = inst.pk.clone();
            inst.set(&pk, from_scalar(&made.get_value(&pk)?));
            inst.adding = false;
            inst.source = Some(made);
            Ok(Value::None)
        }
        "refresh_from_db" => {
            let pk = i.borrow().pk_value();
            let found = interp
                .db
                .objects(&model)
                .get(Q::new("pk", Expression::from(to_scalar(&pk)?)))
                .map_err(|e| model_error(e, &model))?;
            let mut inst = i.borrow_mut();
            for (k, v) in found.values() {
                inst.set(k, from_scalar(v));
            }
            inst.related.clear();
            inst.source = Some(found);
            Ok(Value::None)
        }
        "delete" => {
            let source = i.borrow().source.clone();
            let Some(source) = source else {
                let pk = model_pk(interp, &model);
                return Err(ScriptError::value_error(format!(
                    "{model} object can't be deleted because its {pk} attribute is set to None."
                )));
            };
            interp.check_transaction()?;
            let deleted = source.with_database(interp.db.clone()).delete();
            let deleted = interp.after_write(deleted.map_err(ScriptError::from))?;
            // Django sets the primary key of a deleted object to None.
            let mut inst = i.borrow_mut();
            let pk = inst.pk.clone();
            inst.set(&pk, Value::None);
            inst.source = None;
            Ok(delete_count(deleted))
        }
        "full_clean" | "clean" => Ok(Value::None),
        _ if display_field(interp, &model, name).is_some() => {
            // Django's get_FOO_display(): the label of the field's value among its choices.
            let (field, choices) = display_field(interp, &model, name).unwrap_or_default();
            let value = i.borrow().get(&field).cloned().unwrap_or(Value::None);
            let label = choices
                .iter()
                .find(|(v, _)| super::operators::values_equal(v, &value))
                .map(|(_, label)| label.clone());
            // force_str(..., strings_only=True): a value without a label comes back as is.
            match label {
                Some(label) => Ok(Value::str(interp.str_of(&label)?)),
                None => Ok(value),
            }
        }
        _ => {
            let method = interp
                .classes
                .get(&model)
                .and_then(|c| c.methods.get(name).cloned())
                .ok_or_else(|| ScriptError::attribute(&model, name))?;
            let mut all = vec![receiver.clone()];
            all.extend(args);
            interp.call_function(&method, all, kwargs)
        }
    }
}

/// `call_command("loaddata", "fixture.json", ...)`.
pub fn call_command(
    interp: &mut Interpreter,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
) -> Result<Value, ScriptError> {
    match args.first() {
        Some(Value::Str(c)) if &**c == "loaddata" => {
            interp.register_pending()?;
            let mut objects = 0;
            for fixture in &args[1..] {
                let path = interp.base_dir.join(fixture.to_str());
                objects +=
                    crate::loading::run(&interp.db, &crate::loading::DataLoad::Fixture(path))?;
            }
            // Django's loaddata reports on stdout unless verbosity=0.
            if !matches!(kw(&kwargs, "verbosity"), Some(Value::Int(0))) {
                let fixtures = args.len() - 1;
                interp.write_line(&format!(
                    "Installed {objects} object(s) from {fixtures} fixture(s)"
                ))?;
            }
            Ok(Value::None)
        }
        Some(other) => Err(ScriptError::new(
            "CommandError",
            format!("Unknown command: {}", other.repr()),
        )),
        None => Err(ScriptError::type_error(
            "call_command() needs a command name",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_objects_combine_like_djangos() {
        let q = build_q(
            &[],
            &[("b".into(), Value::Int(1)), ("a__gt".into(), Value::Int(2))],
        )
        .unwrap();
        assert_eq!(q.to_string(), "(AND: ('a__gt', 2), ('b', 1))");
        let left = Value::Q(Rc::new(Q::new("x", Expression::from(1i64))));
        let right = Value::Q(Rc::new(Q::new("y", Expression::from(2i64))));
        let Some(Value::Q(or)) = binary_django(&left, "|", &right).unwrap() else {
            panic!("not a Q")
        };
        assert_eq!(or.to_string(), "(OR: ('x', 1), ('y', 2))");
        let Some(Value::Q(not)) = unary_django("~", &left).unwrap() else {
            panic!("not a Q")
        };
        assert_eq!(not.to_string(), "(NOT (AND: ('x', 1)))");
        assert!(binary_django(&Value::Int(1), "+", &Value::Int(2))
            .unwrap()
            .is_none());
    }

    #[test]
    fn expressions_keep_their_options() {
        let count = call_expression(
            "Count",
            vec![Value::str("id")],
            vec![("distinct".into(), Value::Bool(true))],
        )
        .unwrap();
        let Value::Expression(e) = count else {
            panic!("not an expression")
        };
        assert_eq!(e.default_alias().as_deref(), Some("id__count"));
        assert!(e.to_string().contains("distinct=True"), "{e}");
        let err = call_expression(
            "Count",
            vec![Value::str("id")],
            vec![("default".into(), Value::Int(0))],
        )
        .unwrap_err();
        assert_eq!(err.message, "Count does not allow default.");
        let err = call_expression("Window", vec![], vec![]).unwrap_err();
        assert_eq!(err.message, "Window() needs an expression");
        let rank = call_expression("Rank", vec![], vec![]).unwrap();
        let window = call_expression(
            "Window",
            vec![rank],
            vec![("order_by".into(), Value::str("-id"))],
        )
        .unwrap();
        let Value::Expression(window) = window else {
            panic!("not an expression")
        };
        assert!(window.to_string().contains("Rank"), "{window}");
    }

    fn interp() -> Interpreter {
        Interpreter::new(
            "t.py",
            std::path::PathBuf::from("."),
            crate::script::Mode::Print(crate::script::Format::Json),
            Box::new(std::io::sink()),
        )
    }

    #[test]
    fn outer_refs_nest_and_subqueries_need_a_queryset() {
        let mut i = interp();
        let inner = call_subquery(&mut i, "OuterRef", vec![Value::str("region")], vec![]).unwrap();
        let outer = call_subquery(&mut i, "OuterRef", vec![inner], vec![]).unwrap();
        assert_eq!(
            outer.repr(),
            Value::Expression(Rc::new(ex::OuterRef(ex::OuterRef("region")))).repr()
        );
        let Value::Expression(e) = outer else {
            panic!("not an expression")
        };
        assert_eq!(e.to_string(), "OuterRef(OuterRef(region))");
        let err = call_subquery(&mut i, "OuterRef", vec![Value::Int(1)], vec![]).unwrap_err();
        assert_eq!(err.kind, "TypeError");
        let err = call_subquery(&mut i, "Subquery", vec![Value::Int(1)], vec![]).unwrap_err();
        assert_eq!(err.message, "Subquery takes a QuerySet, not int");
        let err = call_subquery(&mut i, "with_cte", vec![], vec![]).unwrap_err();
        assert!(err.message.contains("'select'"), "{}", err.message);
    }
}
