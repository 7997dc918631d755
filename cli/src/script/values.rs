//! [`Value`]: what a script variable can hold — Python's own values (numbers, strings,
//! containers, dates, `Decimal`) and the Django objects the script reaches through the
//! `quiver` crate (model classes, managers, QuerySets, instances, `Q`, `F` and the other
//! expressions).
//!
//! Containers are shared and mutable as in Python (`Rc<RefCell<…>>`): `b = a; b.append(1)`
//! changes `a`. Python's `str()`/`repr()` are [`Value::to_str`] and [`Value::repr`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use quiver::expressions::{Decimal, Expression, OrderBy, When, Q};
use quiver::model::FieldSpec;
use quiver::QuerySet;

use super::ast::{Param, Stmt};
use super::error::ScriptError;

/// A user function (`def` or `lambda`).
#[derive(Debug)]
pub struct Function {
    pub name: String,
    pub params: Vec<Param>,
    /// Default values, evaluated when the function was defined (one per param; `None` when
    /// the parameter has no default).
    pub defaults: Vec<Option<Value>>,
    pub body: FunctionBody,
}

/// A function's code.
#[derive(Debug)]
pub enum FunctionBody {
    Statements(Vec<Stmt>),
    Lambda(super::ast::Expr),
}

/// A field definition as a class body writes it: the Quiver field plus the options that
/// only the script frontend acts on.
#[derive(Debug)]
pub struct FieldDef {
    pub spec: FieldSpec,
    /// `choices=[(value, label), …]`, for `get_<field>_display()`.
    pub choices: Option<Vec<(Value, Value)>>,
    /// `auto_now=True` / `auto_now_add=True`: filled with the current date/time on create.
    pub auto_now: bool,
    /// `auto_now=True`: also set to the current date/time by every `save()`.
    pub auto_now_on_save: bool,
}

/// A model class defined by the script.
#[derive(Debug, Clone)]
pub struct ModelClass {
    pub name: String,
    /// Choices by field name.
    pub choices: HashMap<String, Vec<(Value, Value)>>,
    /// Field names filled with the current date/time when an object is created.
    pub auto_now: Vec<String>,
    /// The `auto_now=True` ones among them, which every `save()` sets again.
    pub auto_now_on_save: Vec<String>,
    /// Class attributes other than fields and methods (`STATUS = [...]`, `OPEN = "o"`).
    pub attributes: HashMap<String, Value>,
    /// For `Meta.abstract = True`: the fields and options subclasses inherit (the class
    /// itself has no table).
    pub abstract_model: Option<quiver::Model>,
    /// `def __str__(self): return <expr>` when it has that simple shape.
    pub str_method: Option<Rc<Function>>,
    /// Methods other than `__str__`, callable on instances.
    pub methods: HashMap<String, Rc<Function>>,
    /// The methods decorated with `@property` / `@cached_property`: reading the attribute
    /// calls them.
    pub properties: Vec<(String, super::ast::Property)>,
}

/// The related objects behind a related manager.
#[derive(Debug)]
pub struct RelatedSet {
    /// The related model.
    pub model: String,
    /// The crate's manager, for an instance read from the database (also writes:
    /// `add`, `remove`, `clear`, `set`, `create`).
    pub manager: Option<quiver::queryset::RelatedManager>,
    /// Otherwise the filter that finds them: `field = key`.
    pub field: String,
    pub key: Value,
    /// The rows `prefetch_related` loaded (no query when read).
    pub cached: Option<Vec<Value>>,
}

/// What rows of a QuerySet look like when it is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Instances,
    Dicts,
    Lists,
    Flat,
    Named,
}

/// A QuerySet with the row shape it yields and its result cache (Django evaluates a QuerySet
/// once: iterating it again, `len()` and indexing reuse the rows).
#[derive(Debug)]
pub struct QuerySetValue {
    pub qs: QuerySet,
    pub model: String,
    pub shape: Shape,
    pub cache: RefCell<Option<Vec<Value>>>,
    /// The selected column names, known once evaluated (table headers of `values_list`).
    pub columns: RefCell<Vec<String>>,
    /// `select_for_update(...)`: evaluating the QuerySet locks its rows.
    pub lock: Option<Lock>,
}

/// The options of `select_for_update(nowait=, skip_locked=, of=)`.
#[derive(Debug, Clone, Default)]
pub struct Lock {
    pub nowait: bool,
    pub skip_locked: bool,
    pub of: Vec<String>,
}

impl Lock {
    /// The crate's locking QuerySet for `qs`.
    pub fn apply(&self, qs: &quiver::QuerySet) -> quiver::queryset::SelectForUpdate {
        let mut locking = qs.select_for_update();
        if self.nowait {
            locking = locking.nowait();
        }
        if self.skip_locked {
            locking = locking.skip_locked();
        }
        if !self.of.is_empty() {
            locking = locking.of(self.of.clone());
        }
        locking
    }
}

/// A CTE with the model and row shape of the QuerySet that defines it (what
/// `cte.queryset()` yields, as django-cte keeps the defining QuerySet's iterable class).
#[derive(Debug)]
pub struct CteValue {
    pub cte: quiver::queryset::CTE,
    pub model: String,
    pub shape: Shape,
}

/// A model object.
#[derive(Debug)]
pub struct InstanceValue {
    pub model: String,
    /// The primary key's attname.
    pub pk: String,
    /// Values by attname (`customer_id`), then annotations, in Django's `__dict__` order.
    pub fields: Vec<(String, Value)>,
    /// Related objects already fetched (`order.customer`), by field name.
    pub related: HashMap<String, Value>,
    /// Django's `_state.adding`: not yet saved.
    pub adding: bool,
    /// The crate's instance it was read as (bound to the database, with what
    /// `select_related`/`prefetch_related` loaded).
    pub source: Option<quiver::prelude::Instance>,
}

impl InstanceValue {
    /// The value of an attname or annotation.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The primary key's value (`None` before the first save of an automatic key).
    pub fn pk_value(&self) -> Value {
        self.get(&self.pk).cloned().unwrap_or(Value::None)
    }

    /// Sets (or adds) a value.
    pub fn set(&mut self, name: &str, value: Value) {
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((name.to_string(), value)),
        }
    }
}

/// A Python/Django value.
#[derive(Debug, Clone)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    Decimal(Decimal),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    Time(NaiveTime),
    TimeDelta(TimeDelta),
    List(Rc<RefCell<Vec<Value>>>),
    Tuple(Rc<Vec<Value>>),
    /// Insertion-ordered, as Python's dict.
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    Set(Rc<RefCell<Vec<Value>>>),
    Function(Rc<Function>),
    /// A built-in function or class, by its Python name (`len`, `Q`, `Count`, `models.CharField`).
    Builtin(Rc<str>),
    /// `receiver.name` of a built-in method, bound to its receiver.
    Method(Box<Value>, Rc<str>),
    /// An importable module or namespace object (`models`, `datetime`, `timezone`,
    /// `transaction`, `connection`).
    Module(&'static str),
    ModelClass(Rc<ModelClass>),
    /// `Model.objects`.
    Manager(Rc<str>),
    /// `instance.<accessor>` of a multi-valued relation (`customer.order_set`,
    /// `book.authors`): the related objects of one instance.
    RelatedManager(Rc<RelatedSet>),
    /// `Prefetch(lookup, queryset=…, to_attr=…)`.
    Prefetch(Rc<quiver::queryset::Prefetch>),
    /// A window frame (`RowRange(start=-1, end=0)`).
    Frame(Rc<quiver::expressions::Frame>),
    /// A common table expression (django-cte's `CTE(qs)` / `CTE.recursive(fn)`).
    Cte(Rc<CteValue>),
    /// `cte.col`: its attributes are the CTE's columns (`cte.col.depth`).
    CteColumns(Rc<CteValue>),
    QuerySet(Rc<QuerySetValue>),
    Instance(Rc<RefCell<InstanceValue>>),
    Expression(Rc<Expression>),
    Q(Rc<Q>),
    When(Rc<When>),
    OrderBy(Rc<OrderBy>),
    /// A model field definition (`models.CharField(max_length=10)`).
    Field(Rc<FieldDef>),
    /// A value of an option such as `models.CASCADE` or `models.Index(...)`.
    Opaque(Rc<str>, Rc<Vec<(String, Value)>>),
    /// A raised exception object.
    Exception(Rc<ScriptError>),
    /// An exception class (`ValueError`, `Customer.DoesNotExist`).
    ExceptionClass {
        name: Rc<str>,
        model: Option<Rc<str>>,
    },
}

impl Value {
    /// A string value.
    pub fn str(s: impl AsRef<str>) -> Value {
        Value::Str(Rc::from(s.as_ref()))
    }

    /// A new list.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(RefCell::new(items)))
    }

    /// A new tuple.
    pub fn tuple(items: Vec<Value>) -> Value {
        Value::Tuple(Rc::new(items))
    }

    /// A new dict.
    pub fn dict(items: Vec<(Value, Value)>) -> Value {
        Value::Dict(Rc::new(RefCell::new(items)))
    }

    /// Python's `type(x).__name__`.
    pub fn type_name(&self) -> String {
        match self {
            Value::None => "NoneType".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float".into(),
            Value::Str(_) => "str".into(),
            Value::Decimal(_) => "Decimal".into(),
            Value::Date(_) => "date".into(),
            Value::DateTime(_) => "datetime".into(),
            Value::Time(_) => "time".into(),
            Value::TimeDelta(_) => "timedelta".into(),
            Value::List(_) => "list".into(),
            Value::Tuple(_) => "tuple".into(),
            Value::Dict(_) => "dict".into(),
            Value::Set(_) => "set".into(),
            Value::Function(_) => "function".into(),
            Value::Builtin(_) | Value::Method(..) => "builtin_function_or_method".into(),
            Value::Module(_) => "module".into(),
            Value::ModelClass(_) => "ModelBase".into(),
            Value::Manager(_) => "Manager".into(),
            Value::RelatedManager(_) => "RelatedManager".into(),
            Value::Prefetch(_) => "Prefetch".into(),
            Value::Frame(_) => "RowRange".into(),
            Value::Cte(_) => "CTE".into(),
            Value::CteColumns(_) => "CTEColumns".into(),
            Value::QuerySet(_) => "QuerySet".into(),
            Value::Instance(i) => i.borrow().model.clone(),
            Value::Expression(e) => expression_class(e).into(),
            Value::Q(_) => "Q".into(),
            Value::When(_) => "When".into(),
            Value::OrderBy(_) => "OrderBy".into(),
            Value::Field(f) => f.spec.field_type.class_name().into(),
            Value::Opaque(name, _) => name.to_string(),
            Value::Exception(e) => e.kind.clone(),
            Value::ExceptionClass { .. } => "type".into(),
        }
    }

    /// Python truthiness (QuerySets are handled by the interpreter, which evaluates them).
    pub fn truthy(&self) -> bool {
        match self {
            Value::None => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Decimal(d) => d.unscaled() != 0,
            Value::TimeDelta(d) => !d.is_zero(),
            Value::List(l) | Value::Set(l) => !l.borrow().is_empty(),
            Value::Tuple(t) => !t.is_empty(),
            Value::Dict(d) => !d.borrow().is_empty(),
            Value::Q(q) => !q.is_empty(),
            _ => true,
        }
    }

    /// Python's `str(x)` for values that need no interpreter (model instances with a
    /// `__str__` are rendered by the interpreter).
    pub fn to_str(&self) -> String {
        match self {
            Value::Str(s) => s.to_string(),
            Value::Exception(e) => e.message.clone(),
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            Value::DateTime(d) => datetime_text(d, ' '),
            Value::Time(t) => time_text(t),
            Value::TimeDelta(d) => timedelta_text(d),
            Value::Decimal(d) => decimal_text(d),
            _ => self.repr(),
        }
    }

    /// Python's `repr(x)`.
    pub fn repr(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => float_repr(*f),
            Value::Str(s) => str_repr(s),
            Value::Decimal(d) => format!("Decimal('{}')", decimal_text(d)),
            Value::Date(d) => format!(
                "datetime.date({}, {}, {})",
                d.format("%Y"),
                d.format("%-m"),
                d.format("%-d")
            ),
            Value::DateTime(d) => {
                use chrono::Timelike;
                let mut parts = vec![
                    d.format("%Y").to_string(),
                    d.format("%-m").to_string(),
                    d.format("%-d").to_string(),
                    d.hour().to_string(),
                    d.minute().to_string(),
                ];
                let micros = d.nanosecond() / 1000;
                if d.second() != 0 || micros != 0 {
                    parts.push(d.second().to_string());
                }
                if micros != 0 {
                    parts.push(micros.to_string());
                }
                format!("datetime.datetime({})", parts.join(", "))
            }
            Value::Time(t) => format!("datetime.time({})", t.format("%-H, %-M")),
            Value::TimeDelta(d) => {
                let days = d.num_days();
                let rest = *d - TimeDelta::days(days);
                let (days, rest) = if rest < TimeDelta::zero() {
                    (days - 1, rest + TimeDelta::days(1))
                } else {
                    (days, rest)
                };
                let seconds = rest.num_seconds();
                let micros = (rest - TimeDelta::seconds(seconds))
                    .num_microseconds()
                    .unwrap_or(0);
                let mut parts = vec![];
                if days != 0 {
                    parts.push(format!("days={days}"));
                }
                if seconds != 0 {
                    parts.push(format!("seconds={seconds}"));
                }
                if micros != 0 {
                    parts.push(format!("microseconds={micros}"));
                }
                if parts.is_empty() {
                    parts.push("0".into());
                }
                format!("datetime.timedelta({})", parts.join(", "))
            }
            Value::List(items) => {
                let items: Vec<String> = items.borrow().iter().map(Value::repr).collect();
                format!("[{}]", items.join(", "))
            }
            Value::Tuple(items) => {
                let texts: Vec<String> = items.iter().map(Value::repr).collect();
                if texts.len() == 1 {
                    format!("({},)", texts[0])
                } else {
                    format!("({})", texts.join(", "))
                }
            }
            Value::Set(items) => {
                let items = items.borrow();
                if items.is_empty() {
                    return "set()".into();
                }
                let texts: Vec<String> = items.iter().map(Value::repr).collect();
                format!("{{{}}}", texts.join(", "))
            }
            Value::Dict(items) => {
                let texts: Vec<String> = items
                    .borrow()
                    .iter()
                    .map(|(k, v)| format!("{}: {}", k.repr(), v.repr()))
                    .collect();
                format!("{{{}}}", texts.join(", "))
            }
            Value::Function(f) => format!("<function {}>", f.name),
            Value::Builtin(name) => format!("<built-in function {name}>"),
            Value::Method(receiver, name) => {
                format!("<bound method {}.{name}>", receiver.type_name())
            }
            Value::Module(name) => format!("<module '{name}'>"),
            Value::ModelClass(class) => format!("<class 'app.models.{}'>", class.name),
            Value::Manager(_) => "<django.db.models.manager.Manager object>".into(),
            Value::RelatedManager(_) => {
                "<django.db.models.fields.related_descriptors.RelatedManager object>".into()
            }
            Value::Prefetch(p) => format!("<Prefetch: {}>", p.lookup),
            Value::Frame(f) => format!("<Frame: {f:?}>"),
            Value::Cte(c) => format!("<CTE {}>", c.cte.cte_name()),
            Value::CteColumns(c) => format!("<CTEColumns {}>", c.cte.cte_name()),
            Value::QuerySet(_) => "<QuerySet>".into(),
            Value::Instance(i) => {
                let i = i.borrow();
                let pk = i
                    .get("id")
                    .map(Value::repr)
                    .unwrap_or_else(|| "None".into());
                format!("<{}: {} object ({pk})>", i.model, i.model)
            }
            Value::Expression(e) => e.to_string(),
            Value::Q(q) => format!("<Q: {q}>"),
            Value::When(w) => format!("<When: WHEN {} THEN {}>", w.condition, w.then),
            Value::OrderBy(o) => format!(
                "OrderBy({}, descending={})",
                o.expr,
                if o.descending { "True" } else { "False" }
            ),
            Value::Field(f) => format!("<django.db.models.{}>", f.spec.field_type.class_name()),
            Value::Opaque(name, _) => format!("<{name}>"),
            Value::Exception(e) => format!("{}({})", e.kind, str_repr(&e.message)),
            Value::ExceptionClass { name, model } => match model {
                Some(m) => format!("<class 'app.models.{m}.{name}'>"),
                None => format!("<class '{name}'>"),
            },
        }
    }
}

/// The Django class name of an expression (`F`, `Value`, `Count`, `CombinedExpression`…).
pub fn expression_class(e: &Expression) -> &'static str {
    match e {
        Expression::F(_) => "F",
        Expression::Value { .. } => "Value",
        Expression::Aggregate(_) => "Aggregate",
        Expression::Func(_) => "Func",
        Expression::Case(_) => "Case",
        Expression::Cast { .. } => "Cast",
        Expression::Wrapper { .. } => "ExpressionWrapper",
        _ => "CombinedExpression",
    }
}

/// Python's `repr(float)`: the shortest text that reads back, with `.0` for whole numbers.
pub fn float_repr(f: f64) -> String {
    quiver::expressions::python_float(f)
}

/// Python's `repr(str)`.
pub fn str_repr(s: &str) -> String {
    quiver::expressions::python_str_repr(s)
}

/// Python's `str(Decimal)` for the finite values a `Decimal128` holds: exact digits
/// (`12.50`), exponent notation only for a positive exponent (`1E+2`).
pub fn decimal_text(d: &Decimal) -> String {
    let unscaled = d.unscaled();
    let scale = i32::from(d.scale());
    let digits = unscaled.unsigned_abs().to_string();
    let sign = if unscaled < 0 { "-" } else { "" };
    if scale < 0 {
        let exponent = -scale + digits.len() as i32 - 1;
        let (head, tail) = digits.split_at(1);
        return if tail.is_empty() {
            format!("{sign}{head}E+{exponent}")
        } else {
            format!("{sign}{head}.{tail}E+{exponent}")
        };
    }
    let scale = scale as usize;
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale - digits.len() + 1))
    } else {
        digits
    };
    let (int_part, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int_part}.{frac}")
}

/// Python's `datetime.isoformat(sep)`.
pub fn datetime_text(d: &NaiveDateTime, separator: char) -> String {
    format!(
        "{}{separator}{}",
        d.format("%Y-%m-%d"),
        time_text(&d.time())
    )
}

/// Python's `time.isoformat()`: `HH:MM:SS`, plus `.ffffff` when there are microseconds.
pub fn time_text(t: &NaiveTime) -> String {
    use chrono::Timelike;
    let micros = t.nanosecond() / 1000;
    if micros == 0 {
        t.format("%H:%M:%S").to_string()
    } else {
        format!("{}.{micros:06}", t.format("%H:%M:%S"))
    }
}

/// Python's `str(timedelta)`: `1 day, 2:03:04`.
pub fn timedelta_text(d: &TimeDelta) -> String {
    let total_micros = d.num_microseconds().unwrap_or(0);
    let days = total_micros.div_euclid(86_400_000_000);
    let rest = total_micros.rem_euclid(86_400_000_000);
    let seconds = rest / 1_000_000;
    let micros = rest % 1_000_000;
    let clock = format!(
        "{}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    let clock = if micros != 0 {
        format!("{clock}.{micros:06}")
    } else {
        clock
    };
    match days {
        0 => clock,
        1 | -1 => format!("{days} day, {clock}"),
        _ => format!("{days} days, {clock}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_text_forms() {
        assert_eq!(float_repr(2.0), "2.0");
        assert_eq!(float_repr(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(float_repr(1e20), "1e+20");
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(decimal_text(&Decimal::new(1250, 2)), "12.50");
        assert_eq!(decimal_text(&Decimal::new(-5, 3)), "-0.005");
        assert_eq!(decimal_text(&Decimal::new(1, -2)), "1E+2");
        assert_eq!(timedelta_text(&TimeDelta::seconds(90061)), "1 day, 1:01:01");
        let list = Value::list(vec![Value::Int(1), Value::str("a"), Value::None]);
        assert_eq!(list.repr(), "[1, 'a', None]");
        assert_eq!(Value::tuple(vec![Value::Int(1)]).repr(), "(1,)");
    }
}
