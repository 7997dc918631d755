//! [`Expression`]: the unresolved tree a user builds (`F("amount") * 2`, `Sum("amount")`,
//! `Case(...)`), and its resolution into an engine [`Expr`].
//!
//! A QuerySet records expressions as the user wrote them; names are looked up only when the
//! QuerySet is compiled, through the compiler's [`Resolver`]. Resolution produces a
//! [`Resolved`] node: the engine expression plus what Django calls the expression's
//! `output_field` (the field class it yields), which is what Django's type rules are stated
//! in. Two of those rules are reproduced here because users see them as errors:
//!
//! - arithmetic between field kinds that Django cannot combine (`DecimalField * FloatField`)
//!   is a `FieldError` unless an `output_field` is given (`_connector_combinations`);
//! - functions that take their type from their arguments (`Coalesce`, `Greatest`, `Case`, …)
//!   reject arguments of different kinds ("Expression contains mixed types").
//!
//! Like Django, the error is raised only when the output field is needed: wrapping the
//! expression in `ExpressionWrapper(…, FloatField::new())` (or calling `.output_field(…)`)
//! makes it valid. Quiver then casts the result to the declared type, which reproduces the
//! value Django's result converter would hand back (`int / int` as a `FloatField` is the
//! truncated quotient as a float, as on PostgreSQL).
//!
//! Integer fields of different widths never count as mixed here, nor do `CharField` and
//! `TextField`: annotation types are only known as Arrow types, and reporting
//! "IntegerField, BigIntegerField" for a `Count` would be an error Django does not raise.

use std::fmt;
use std::ops;

use arrow::datatypes::{DataType, Field};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use quiver_engine::expr::type_coercion::{is_string, value_type};
use quiver_engine::logical_plan::QualifiedField;
use quiver_engine::{col, Expr, Operator, PlanSchema, ScalarValue, SortExpr};

use super::aggregates::Aggregate;
use super::coercion::{self, python_repr, Target};
use super::conditional::Case;
use super::functions::Func;
use super::lookups;
use super::q::Q;
use super::resolver::{ResolvedField, Resolver};
use crate::error::{Error, Result};
use crate::model::{FieldSpec, FieldType};

/// A query expression: a field reference, a value, or a computation over them.
///
/// Built with [`F`], [`Value`], the arithmetic operators, the database functions
/// ([`Coalesce`](fn@super::Coalesce), …), the aggregates and [`Case`](fn@super::Case).
/// Misuse that Django rejects when the expression is constructed (e.g. `Coalesce` with one
/// argument) is recorded in the tree and raised when the QuerySet is evaluated, as every
/// other error is.
#[derive(Debug, Clone, PartialEq)]
pub enum Expression {
    /// `F("field__path")`: a field (following relations), an annotation, plus optional
    /// transforms (`F("created__year")`).
    F(String),
    /// A literal. A bare value given to a lookup (`q!(age = 5)`) is converted to the
    /// lookup's field type as Django's `get_prep_value` does; `output_field` types it
    /// explicitly (`Value(None).output_field(IntegerField::new())`).
    Value {
        value: ScalarValue,
        output_field: Option<FieldType>,
    },
    /// A list or tuple of values: the right-hand side of `__in` and `__range`.
    List(Vec<Expression>),
    /// `*` in `Count("*")`.
    Star,
    /// `left op right` for `+ - * / %`.
    Combined {
        left: Box<Expression>,
        op: Operator,
        right: Box<Expression>,
    },
    /// Unary minus.
    Negative(Box<Expression>),
    /// `~expression` on a boolean expression (Django's `NegatedExpression`).
    Not(Box<Expression>),
    /// A `Q` used as a boolean expression (in `annotate`, `When`, or combined with `&`/`|`).
    Conditional(Box<Q>),
    /// A database function call (`Coalesce`, `Lower`, `ExtractYear`, …).
    Func(Func),
    /// An aggregate (`Count`, `Sum`, …).
    Aggregate(Aggregate),
    /// `Case(When(…), …)`.
    Case(Case),
    /// `ExpressionWrapper(expression, output_field)`: declares the result's field type.
    Wrapper {
        expr: Box<Expression>,
        output_field: FieldType,
    },
    /// `Cast(expression, output_field)`: an explicit `CAST`.
    Cast {
        expr: Box<Expression>,
        output_field: FieldType,
    },
    /// `Window(expression, partition_by=, order_by=, frame=)` (`expressions/window.rs`).
    Window(Box<super::window::Window>),
    /// A window function (`Rank()`, `Lag(…)`); only valid inside a `Window`.
    WindowFunc(super::window::WindowFunc),
    /// An expression Django would have refused to construct; resolving it returns the error.
    Invalid(Refused),
    /// `Subquery(qs)`, `Exists(qs)` or `OuterRef(name)` (see `subquery.rs`).
    Subquery(Box<super::subquery::SubqueryExpression>),
}

/// The error an [`Expression::Invalid`] holds. Two are equal when they are the same Django
/// exception with the same message (so that expression trees can be compared).
#[derive(Debug, Clone)]
pub struct Refused(pub Error);

impl PartialEq for Refused {
    fn eq(&self, other: &Refused) -> bool {
        self.0.django_name() == other.0.django_name() && self.0.to_string() == other.0.to_string()
    }
}

impl Expression {
    /// An expression that raises `error` when resolved.
    pub fn refused(error: Error) -> Expression {
        Expression::Invalid(Refused(error))
    }
}

/// Django's `F("name")`: a reference to a field, relation path or annotation.
#[allow(non_snake_case)]
pub fn F(name: impl Into<String>) -> Expression {
    Expression::F(name.into())
}

/// Django's `Value(x)`: a literal (a number, string, `bool`, chrono date/time, [`Decimal`],
/// `ScalarValue`). `Value(None::<i32>)` is an untyped NULL; give it a type with
/// `.output_field(…)`.
///
/// [`Decimal`]: super::Decimal
#[allow(non_snake_case)]
pub fn Value(value: impl Into<Expression>) -> Expression {
    match value.into() {
        literal @ (Expression::Value { .. } | Expression::Invalid(_)) => literal,
        other => Expression::refused(Error::TypeError(format!(
            "Value() takes a literal, not {other}"
        ))),
    }
}

fn literal(value: impl Into<ScalarValue>) -> Expression {
    Expression::Value {
        value: value.into(),
        output_field: None,
    }
}

/// Django's `ExpressionWrapper(expression, output_field)`: the expression with a declared
/// result type (needed to combine field kinds Django cannot combine by itself).
#[allow(non_snake_case)]
pub fn ExpressionWrapper(expression: impl Into<Expression>, output_field: FieldSpec) -> Expression {
    Expression::Wrapper {
        expr: Box::new(expression.into()),
        output_field: output_field.field_type,
    }
}

/// Django's `Cast(expression, output_field)`: `CAST(expression AS type)`.
#[allow(non_snake_case)]
pub fn Cast(expression: impl IntoArg, output_field: FieldSpec) -> Expression {
    Expression::Cast {
        expr: Box::new(expression.into_arg()),
        output_field: output_field.field_type,
    }
}

/// An argument of a function or aggregate. As in Django, a string names a field
/// (`Sum("amount")` is `Sum(F("amount"))`); anything else is an expression or a value.
pub trait IntoArg {
    /// The argument as an expression.
    fn into_arg(self) -> Expression;
}

impl IntoArg for &str {
    fn into_arg(self) -> Expression {
        F(self)
    }
}

impl IntoArg for String {
    fn into_arg(self) -> Expression {
        F(self)
    }
}

impl IntoArg for &String {
    fn into_arg(self) -> Expression {
        F(self.as_str())
    }
}

impl IntoArg for Expression {
    fn into_arg(self) -> Expression {
        self
    }
}

macro_rules! value_conversions {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for Expression {
            fn from(v: $t) -> Expression {
                literal(v)
            }
        }
        impl IntoArg for $t {
            fn into_arg(self) -> Expression {
                literal(self)
            }
        }
    )*};
}
value_conversions!(bool, i16, i32, i64, f64);

impl From<&str> for Expression {
    fn from(v: &str) -> Expression {
        literal(v)
    }
}

impl From<String> for Expression {
    fn from(v: String) -> Expression {
        literal(v)
    }
}

impl From<&String> for Expression {
    fn from(v: &String) -> Expression {
        literal(v.as_str())
    }
}

impl From<u8> for Expression {
    fn from(v: u8) -> Expression {
        literal(i16::from(v))
    }
}

impl From<u16> for Expression {
    fn from(v: u16) -> Expression {
        literal(i32::from(v))
    }
}

impl From<u32> for Expression {
    fn from(v: u32) -> Expression {
        literal(i64::from(v))
    }
}

impl From<u64> for Expression {
    fn from(v: u64) -> Expression {
        match i64::try_from(v) {
            Ok(v) => literal(v),
            Err(_) => Expression::refused(too_large(v)),
        }
    }
}

impl From<usize> for Expression {
    fn from(v: usize) -> Expression {
        match i64::try_from(v) {
            Ok(v) => literal(v),
            Err(_) => Expression::refused(too_large(v)),
        }
    }
}

fn too_large(v: impl fmt::Display) -> Error {
    Error::ValueError(format!("{v} is too large for a 64-bit integer value"))
}

impl From<f32> for Expression {
    fn from(v: f32) -> Expression {
        literal(f64::from(v))
    }
}

impl From<ScalarValue> for Expression {
    fn from(value: ScalarValue) -> Expression {
        Expression::Value {
            value,
            output_field: None,
        }
    }
}

impl From<NaiveDate> for Expression {
    fn from(d: NaiveDate) -> Expression {
        Expression::from(coercion::date_value(d))
    }
}

impl From<NaiveDateTime> for Expression {
    fn from(d: NaiveDateTime) -> Expression {
        Expression::from(ScalarValue::TimestampMicrosecond(Some(
            d.and_utc().timestamp_micros(),
        )))
    }
}

impl From<chrono::DateTime<chrono::Utc>> for Expression {
    fn from(d: chrono::DateTime<chrono::Utc>) -> Expression {
        Expression::from(d.naive_utc())
    }
}

impl From<NaiveTime> for Expression {
    fn from(t: NaiveTime) -> Expression {
        Expression::from(coercion::time_value(t))
    }
}

impl From<TimeDelta> for Expression {
    fn from(d: TimeDelta) -> Expression {
        match d.num_microseconds() {
            Some(us) => Expression::from(ScalarValue::DurationMicrosecond(Some(us))),
            None => Expression::refused(Error::ValueError(format!("duration {d} is out of range"))),
        }
    }
}

impl<T: Into<Expression>> From<Option<T>> for Expression {
    /// `None` is Python's `None`: `q!(region = None::<&str>)` is `region IS NULL`.
    fn from(v: Option<T>) -> Expression {
        match v {
            Some(v) => v.into(),
            None => literal(ScalarValue::Null),
        }
    }
}

impl<T: Into<Expression>> From<Vec<T>> for Expression {
    /// A list, for `__in`.
    fn from(items: Vec<T>) -> Expression {
        Expression::List(items.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Expression>, const N: usize> From<[T; N]> for Expression {
    /// A list, for `__in`.
    fn from(items: [T; N]) -> Expression {
        Expression::List(items.into_iter().map(Into::into).collect())
    }
}

impl<A: Into<Expression>, B: Into<Expression>> From<(A, B)> for Expression {
    /// A pair, for `__range`.
    fn from((a, b): (A, B)) -> Expression {
        Expression::List(vec![a.into(), b.into()])
    }
}

impl From<Q> for Expression {
    fn from(q: Q) -> Expression {
        Expression::Conditional(Box::new(q))
    }
}

impl IntoArg for Q {
    fn into_arg(self) -> Expression {
        Expression::from(self)
    }
}

impl Expression {
    /// Resolves the expression into an engine expression (for `annotate`, `aggregate`,
    /// `values`, `order_by`, `update`). Errors are Django's: an unknown name
    /// (`FieldError` from the resolver), mixed types without `output_field`, misuse.
    pub fn resolve(&self, r: &mut dyn Resolver) -> Result<Expr> {
        let resolved = self.resolve_typed(r)?;
        resolved.output_field?;
        Ok(resolved.expr)
    }

    /// Django's `default_alias`: `"amount__sum"` for `Sum("amount")`, the name an aggregate
    /// gets in `aggregate()`/`annotate()` when none is given. `None` for anything else
    /// (the compiler then raises "Complex aggregates require an alias").
    pub fn default_alias(&self) -> Option<String> {
        match self {
            Expression::Aggregate(a) => a.default_alias(),
            _ => None,
        }
    }

    /// True when an aggregate appears anywhere in the expression as written.
    pub fn contains_aggregate(&self) -> bool {
        match self {
            Expression::Aggregate(_) => true,
            // Django: a window is not an aggregate, whatever it computes.
            Expression::F(_)
            | Expression::Value { .. }
            | Expression::Star
            | Expression::Window(_)
            | Expression::WindowFunc(_)
            | Expression::Invalid(_)
            | Expression::Subquery(_) => false,
            Expression::List(items) => items.iter().any(Expression::contains_aggregate),
            Expression::Combined { left, right, .. } => {
                left.contains_aggregate() || right.contains_aggregate()
            }
            Expression::Negative(e)
            | Expression::Not(e)
            | Expression::Wrapper { expr: e, .. }
            | Expression::Cast { expr: e, .. } => e.contains_aggregate(),
            Expression::Conditional(q) => q.contains_aggregate(),
            Expression::Func(f) => f.args.iter().any(Expression::contains_aggregate),
            Expression::Case(c) => c.contains_aggregate(),
        }
    }

    /// Declares the result's field type (Django's `output_field=` argument): on an
    /// aggregate or `Case` it is their own option, on `Value(x)` it types the literal,
    /// on anything else it is `ExpressionWrapper(self, output_field)`.
    pub fn output_field(self, output_field: FieldSpec) -> Expression {
        let field = output_field.field_type;
        match self {
            Expression::Aggregate(mut a) => {
                a.output_field = Some(field);
                Expression::Aggregate(a)
            }
            Expression::Case(mut c) => {
                c.output_field = Some(field);
                Expression::Case(c)
            }
            Expression::Value { value, .. } => Expression::Value {
                value,
                output_field: Some(field),
            },
            other => Expression::Wrapper {
                expr: Box::new(other),
                output_field: field,
            },
        }
    }

    /// `default=`: the value an aggregate returns over no rows (instead of NULL), or the
    /// `ELSE` of a `Case`. A string is a value here (`default("none")`); use `F("x")` for a
    /// field.
    pub fn default(self, value: impl Into<Expression>) -> Expression {
        match self {
            Expression::Aggregate(mut a) => {
                a.default = Some(Box::new(value.into()));
                Expression::Aggregate(a)
            }
            Expression::Case(mut c) => {
                c.default = Some(Box::new(value.into()));
                Expression::Case(c)
            }
            Expression::WindowFunc(mut f) => {
                f.default = Some(Box::new(value.into()));
                Expression::WindowFunc(f)
            }
            Expression::Invalid(e) => Expression::Invalid(e),
            other => Expression::refused(Error::TypeError(format!(
                "default is only accepted by aggregates and Case, not {other}"
            ))),
        }
    }

    /// Ascending order (`F("x").asc()`), NULLs last as on PostgreSQL.
    pub fn asc(self) -> OrderBy {
        OrderBy::new(self, false)
    }

    /// Descending order, NULLs first as on PostgreSQL.
    pub fn desc(self) -> OrderBy {
        OrderBy::new(self, true)
    }

    /// `asc(nulls_first=True)`.
    pub fn asc_nulls_first(self) -> OrderBy {
        self.asc().nulls_first()
    }

    /// `asc(nulls_last=True)`.
    pub fn asc_nulls_last(self) -> OrderBy {
        self.asc().nulls_last()
    }

    /// `desc(nulls_first=True)`.
    pub fn desc_nulls_first(self) -> OrderBy {
        self.desc().nulls_first()
    }

    /// `desc(nulls_last=True)`.
    pub fn desc_nulls_last(self) -> OrderBy {
        self.desc().nulls_last()
    }

    /// True for a literal given directly (not `Value(x).output_field(…)`): what Django
    /// calls a "direct value" on a lookup's right-hand side, converted with the field's
    /// `get_prep_value`.
    pub(crate) fn direct_value(&self) -> Option<&ScalarValue> {
        match self {
            Expression::Value {
                value,
                output_field: None,
            } => Some(value),
            _ => None,
        }
    }

    /// Resolves into an engine expression plus its Django output field.
    pub(crate) fn resolve_typed(&self, r: &mut dyn Resolver) -> Result<Resolved> {
        match self {
            Expression::F(name) => resolve_f(name, r),
            Expression::Value {
                value,
                output_field: None,
            } => Ok(Resolved::literal(value.clone())),
            Expression::Value {
                value,
                output_field: Some(field),
            } => {
                let data_type = field.data_type();
                let target = Target::new(&data_type, None, None, true);
                let prepared = coercion::prepare(&target, value)?;
                let mut out = Resolved::literal(prepared.value);
                out.output_field = Ok(Some(field.clone()));
                Ok(cast_to(out, field.clone()))
            }
            Expression::List(_) => Err(Error::TypeError(
                "A list or tuple is only accepted as the value of an 'in' or 'range' lookup."
                    .to_string(),
            )),
            Expression::Star => Err(Error::TypeError(
                "'*' is only accepted by Count('*').".to_string(),
            )),
            Expression::Combined { left, op, right } => {
                let left = left.resolve_typed(r)?;
                let right = right.resolve_typed(r)?;
                let output_field =
                    combined_output_field(*op, &left.output_field, &right.output_field);
                let op = *op;
                let node = Resolved::node(vec![left, right], move |a| {
                    let [l, r] = children(a);
                    l.binary_op(op, r)
                });
                with_output_field(node, output_field)
            }
            Expression::Negative(e) => {
                let inner = e.resolve_typed(r)?;
                let output_field = inner.output_field.clone();
                let mut out = Resolved::node(vec![inner], |a| {
                    let [e] = children(a);
                    -e
                })?;
                out.output_field = output_field;
                Ok(out)
            }
            Expression::Not(e) => {
                let inner = e.resolve_typed(r)?;
                if !inner.is_conditional() {
                    return Err(Error::TypeError(
                        "Cannot negate non-conditional expressions.".to_string(),
                    ));
                }
                Resolved::node(vec![inner], |a| {
                    let [e] = children(a);
                    e.not()
                })
            }
            Expression::Conditional(q) => {
                let expr = q.resolve(r)?;
                Ok(Resolved::predicate(expr))
            }
            Expression::Func(f) => f.resolve_typed(r),
            Expression::Aggregate(a) => a.resolve_typed(r),
            Expression::Case(c) => c.resolve_typed(r),
            Expression::Wrapper { expr, output_field } => {
                let inner = expr.resolve_typed(r)?;
                Ok(cast_to(inner, output_field.clone()))
            }
            Expression::Cast { expr, output_field } => {
                let inner = expr.resolve_typed(r)?;
                let data_type = output_field.data_type();
                let mut out = Resolved::node(vec![inner], move |a| {
                    let [e] = children(a);
                    e.cast_to(data_type.clone())
                })?;
                out.output_field = Ok(Some(output_field.clone()));
                Ok(out)
            }
            Expression::Window(w) => w.resolve_typed(r),
            Expression::WindowFunc(f) => Err(Error::FieldError(format!(
                "{f} is a window function: use it inside Window()."
            ))),
            Expression::Invalid(refused) => Err(refused.0.clone()),
            Expression::Subquery(s) => s.resolve_typed(r),
        }
    }
}

fn resolve_f(name: &str, r: &mut dyn Resolver) -> Result<Resolved> {
    let parts: Vec<&str> = name.split("__").collect();
    let (mut field, consumed) = r.resolve(&parts)?;
    let field_name = consumed_name(&parts, consumed)?;
    let unresolved = field.unresolved.take();
    let mut resolved = Resolved::from_field(field, field_name);
    for transform in &parts[consumed..] {
        resolved = match lookups::apply_transform(transform, &resolved) {
            Some(next) => next?,
            // Django's setup_joins: after a model field, the error for the first name it
            // could not follow as a field; otherwise (an annotation, a reverse relation)
            // the unsupported transform.
            None => {
                return Err(unresolved
                    .unwrap_or_else(|| lookups::unsupported_transform(&resolved, transform)))
            }
        };
    }
    Ok(resolved)
}

/// The last name a resolver consumed (the field's own name), checking the resolver kept its
/// contract.
pub(crate) fn consumed_name<'a>(parts: &[&'a str], consumed: usize) -> Result<&'a str> {
    if consumed == 0 || consumed > parts.len() {
        return Err(Error::Engine(quiver_engine::EngineError::Internal(
            format!("resolver consumed {consumed} of {} names", parts.len()),
        )));
    }
    Ok(parts[consumed - 1])
}

macro_rules! arithmetic_operator {
    ($trait:ident, $method:ident, $op:ident) => {
        impl<T: Into<Expression>> ops::$trait<T> for Expression {
            type Output = Expression;
            fn $method(self, rhs: T) -> Expression {
                Expression::Combined {
                    left: Box::new(self),
                    op: Operator::$op,
                    right: Box::new(rhs.into()),
                }
            }
        }
    };
}
arithmetic_operator!(Add, add, Plus);
arithmetic_operator!(Sub, sub, Minus);
arithmetic_operator!(Mul, mul, Multiply);
arithmetic_operator!(Div, div, Divide);
arithmetic_operator!(Rem, rem, Modulo);

macro_rules! reversed_arithmetic {
    ($($t:ty),*) => {$(
        reversed_arithmetic!(@op $t, Add, add, Plus);
        reversed_arithmetic!(@op $t, Sub, sub, Minus);
        reversed_arithmetic!(@op $t, Mul, mul, Multiply);
        reversed_arithmetic!(@op $t, Div, div, Divide);
        reversed_arithmetic!(@op $t, Rem, rem, Modulo);
    )*};
    (@op $t:ty, $trait:ident, $method:ident, $op:ident) => {
        impl ops::$trait<Expression> for $t {
            type Output = Expression;
            fn $method(self, rhs: Expression) -> Expression {
                Expression::Combined {
                    left: Box::new(Expression::from(self)),
                    op: Operator::$op,
                    right: Box::new(rhs),
                }
            }
        }
    };
}
reversed_arithmetic!(i16, i32, i64, f64, super::Decimal);

impl ops::Neg for Expression {
    type Output = Expression;
    fn neg(self) -> Expression {
        Expression::Negative(Box::new(self))
    }
}

impl ops::Not for Expression {
    type Output = Expression;
    /// `~expression`: the negation of a boolean expression (Django's `NegatedExpression`).
    fn not(self) -> Expression {
        match self {
            Expression::Not(inner) => *inner,
            other => Expression::Not(Box::new(other)),
        }
    }
}

impl ops::BitAnd<Expression> for Expression {
    type Output = Q;
    /// `a & b` on boolean expressions is `Q(a) & Q(b)`, as in Django.
    fn bitand(self, rhs: Expression) -> Q {
        Q::from(self) & Q::from(rhs)
    }
}

impl ops::BitOr<Expression> for Expression {
    type Output = Q;
    /// `a | b` on boolean expressions is `Q(a) | Q(b)`, as in Django.
    fn bitor(self, rhs: Expression) -> Q {
        Q::from(self) | Q::from(rhs)
    }
}

impl fmt::Display for Expression {
    /// Django's `repr()` of the expression (quoted in error messages such as
    /// "Cannot compute Sum('Count(F(id))')").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expression::F(name) => write!(f, "F({name})"),
            Expression::Value { value, .. } => write!(f, "Value({})", python_repr(value)),
            Expression::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match item.direct_value() {
                        Some(v) => f.write_str(&python_repr(v))?,
                        None => write!(f, "{item}")?,
                    }
                }
                f.write_str("]")
            }
            Expression::Star => f.write_str("'*'"),
            Expression::Combined { left, op, right } => {
                write!(f, "{left} {} {right}", django_connector(*op))
            }
            Expression::Negative(e) => write!(f, "-{e}"),
            Expression::Not(e) => write!(f, "~{e}"),
            Expression::Conditional(q) => write!(f, "{q}"),
            Expression::Func(func) => write!(f, "{func}"),
            Expression::Aggregate(a) => write!(f, "{a}"),
            Expression::Case(c) => write!(f, "{c}"),
            Expression::Wrapper { expr, .. } => write!(f, "ExpressionWrapper({expr})"),
            Expression::Cast { expr, output_field } => {
                write!(f, "Cast({expr}, {})", output_field.class_name())
            }
            Expression::Window(w) => write!(f, "{w}"),
            Expression::WindowFunc(w) => write!(f, "{w}"),
            Expression::Invalid(refused) => write!(f, "<invalid: {}>", refused.0),
            Expression::Subquery(s) => write!(f, "{s}"),
        }
    }
}

/// Django's spelling of an arithmetic connector (`MOD` is `%%` there, quoted for SQL).
fn django_connector(op: Operator) -> &'static str {
    match op {
        Operator::Modulo => "%%",
        other => other.sql(),
    }
}

/// `expression.asc()` / `.desc()` with Django's `nulls_first` / `nulls_last` options.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub expr: Expression,
    pub descending: bool,
    pub nulls_first: Option<bool>,
    pub nulls_last: Option<bool>,
}

impl OrderBy {
    /// An ordering with the database's default NULL placement.
    pub fn new(expr: impl Into<Expression>, descending: bool) -> OrderBy {
        OrderBy {
            expr: expr.into(),
            descending,
            nulls_first: None,
            nulls_last: None,
        }
    }

    /// `nulls_first=True`.
    pub fn nulls_first(mut self) -> OrderBy {
        self.nulls_first = Some(true);
        self
    }

    /// `nulls_last=True`.
    pub fn nulls_last(mut self) -> OrderBy {
        self.nulls_last = Some(true);
        self
    }

    /// The opposite ordering (`QuerySet.reverse()`): direction flipped and an explicit NULL
    /// placement swapped, as Django's `reverse_ordering()`.
    pub fn reversed(&self) -> OrderBy {
        OrderBy {
            expr: self.expr.clone(),
            descending: !self.descending,
            nulls_first: self.nulls_last,
            nulls_last: self.nulls_first,
        }
    }

    /// The engine sort key. Without an explicit placement NULLs sort as PostgreSQL sorts
    /// them: last ascending, first descending.
    pub fn resolve(&self, r: &mut dyn Resolver) -> Result<SortExpr> {
        if self.nulls_first == Some(true) && self.nulls_last == Some(true) {
            return Err(Error::ValueError(
                "nulls_first and nulls_last are mutually exclusive".to_string(),
            ));
        }
        if self.nulls_first == Some(false) || self.nulls_last == Some(false) {
            return Err(Error::ValueError(
                "nulls_first and nulls_last values must be True or None.".to_string(),
            ));
        }
        let expr = self.expr.resolve(r)?;
        let nulls_first = match (self.nulls_first, self.nulls_last) {
            (Some(true), _) => true,
            (_, Some(true)) => false,
            _ => self.descending,
        };
        Ok(SortExpr::new(expr, !self.descending, nulls_first))
    }
}

impl From<Expression> for OrderBy {
    fn from(expr: Expression) -> OrderBy {
        OrderBy::new(expr, false)
    }
}

/// A resolved expression: the engine expression with the facts Django's rules need.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) expr: Expr,
    pub(crate) data_type: DataType,
    pub(crate) nullable: bool,
    /// Django's `output_field`: `Ok(None)` for an untyped NULL, `Err` for a type Django
    /// cannot infer (raised only if something needs it).
    pub(crate) output_field: Result<Option<FieldType>>,
    pub(crate) contains_aggregate: bool,
    /// The model field's name when this is a plain model field (Django's `Col`).
    pub(crate) column: Option<String>,
}

impl Resolved {
    /// A literal, with the output field Django's `Value` infers from the Python type.
    pub(crate) fn literal(value: ScalarValue) -> Resolved {
        let data_type = value.data_type();
        Resolved {
            output_field: Ok(canonical_field(&data_type)),
            nullable: value.is_null(),
            expr: Expr::Literal(value),
            data_type,
            contains_aggregate: false,
            column: None,
        }
    }

    /// A boolean predicate (a resolved `Q`).
    pub(crate) fn predicate(expr: Expr) -> Resolved {
        Resolved {
            contains_aggregate: expr.contains_aggregate(),
            expr,
            data_type: DataType::Boolean,
            nullable: true,
            output_field: Ok(Some(FieldType::BooleanField)),
            column: None,
        }
    }

    /// What a resolver returned for a name.
    pub(crate) fn from_field(field: ResolvedField, name: &str) -> Resolved {
        let output_field = match &field.field_type {
            Some(f) => Some(f.clone()),
            None => canonical_field(&field.data_type),
        };
        Resolved {
            column: field.field_type.is_some().then(|| name.to_string()),
            expr: field.expr,
            data_type: field.data_type,
            nullable: field.nullable,
            output_field: Ok(output_field),
            contains_aggregate: field.is_aggregate,
        }
    }

    /// A node over `children`, built by `build` from the children's engine expressions.
    /// Its type and nullability come from the engine's own rules (so they are exactly what
    /// the plan will have), by typing the node over placeholder columns of the children's
    /// types. The output field defaults to the canonical field of that type.
    pub(crate) fn node(
        children: Vec<Resolved>,
        build: impl Fn(Vec<Expr>) -> Expr,
    ) -> Result<Resolved> {
        let placeholders: Vec<QualifiedField> = children
            .iter()
            .enumerate()
            .map(|(i, c)| {
                QualifiedField::new(
                    None,
                    Field::new(placeholder(i), c.data_type.clone(), c.nullable),
                )
            })
            .collect();
        let schema = PlanSchema::new(placeholders);
        let template = build((0..children.len()).map(|i| col(placeholder(i))).collect());
        let data_type = template.data_type(&schema)?;
        let nullable = template.nullable(&schema)?;
        let contains_aggregate = children.iter().any(|c| c.contains_aggregate);
        let expr = build(children.into_iter().map(|c| c.expr).collect());
        Ok(Resolved {
            output_field: Ok(canonical_field(&data_type)),
            expr,
            data_type,
            nullable,
            contains_aggregate,
            column: None,
        })
    }

    /// True for a boolean expression (Django's `conditional`).
    pub(crate) fn is_conditional(&self) -> bool {
        matches!(self.output_field, Ok(Some(FieldType::BooleanField)))
            || matches!(value_type(&self.data_type), DataType::Boolean)
    }

    /// The output field's class name for messages; "None" when unknown.
    pub(crate) fn class_name(&self) -> &'static str {
        match &self.output_field {
            Ok(Some(f)) => f.class_name(),
            _ => "None",
        }
    }
}

fn placeholder(i: usize) -> String {
    format!("#{i}")
}

/// A node's child expressions as an array (`let [l, r] = children(a);`); the node was built
/// with exactly `N` children, so a short list cannot happen, and is padded with NULLs.
pub(crate) fn children<const N: usize>(exprs: Vec<Expr>) -> [Expr; N] {
    let mut it = exprs.into_iter();
    std::array::from_fn(|_| it.next().unwrap_or(Expr::Literal(ScalarValue::Null)))
}

/// The value as text, cast when it is not (PostgreSQL's `::text` for string lookups and
/// `Concat`'s arguments).
pub(crate) fn as_text(resolved: Resolved) -> Result<Resolved> {
    if is_string(&resolved.data_type) || resolved.data_type == DataType::Null {
        return Ok(resolved);
    }
    Resolved::node(vec![resolved], |a| {
        let [e] = children(a);
        e.cast_to(DataType::Utf8)
    })
}

/// A typed node given the output field Django infers for it. When the engine cannot type
/// the node either, and Django would have refused the types too, Django's message is the
/// one the user sees.
pub(crate) fn with_output_field(
    node: Result<Resolved>,
    output_field: Result<Option<FieldType>>,
) -> Result<Resolved> {
    match (node, output_field) {
        (Ok(out), output_field) => Ok(Resolved {
            output_field,
            ..out
        }),
        (Err(_), Err(django)) => Err(django),
        (Err(engine), Ok(_)) => Err(engine),
    }
}

/// `resolved` with a declared output field: cast to its type when the engine type differs
/// (Django's converters turn the database value into the declared type the same way).
pub(crate) fn cast_to(resolved: Resolved, field: FieldType) -> Resolved {
    let target = field.data_type();
    if value_type(&resolved.data_type) == &target {
        return Resolved {
            output_field: Ok(Some(field)),
            ..resolved
        };
    }
    Resolved {
        expr: resolved.expr.cast_to(target.clone()),
        data_type: target,
        output_field: Ok(Some(field)),
        column: None,
        ..resolved
    }
}

/// The kinds of value Django's type rules distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Integer,
    Float,
    Decimal,
    Boolean,
    Text,
    Date,
    DateTime,
    Time,
    Duration,
    Other,
}

impl Family {
    pub(crate) fn of_type(data_type: &DataType) -> Family {
        match value_type(data_type) {
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Family::Integer,
            DataType::Float32 | DataType::Float64 => Family::Float,
            DataType::Decimal128(..) => Family::Decimal,
            DataType::Boolean => Family::Boolean,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Family::Text,
            DataType::Date32 => Family::Date,
            DataType::Timestamp(..) => Family::DateTime,
            DataType::Time64(_) => Family::Time,
            DataType::Duration(_) => Family::Duration,
            _ => Family::Other,
        }
    }

    pub(crate) fn of_field(field: &FieldType) -> Family {
        Family::of_type(&field.data_type())
    }

    fn is_numeric(self) -> bool {
        matches!(self, Family::Integer | Family::Float | Family::Decimal)
    }
}

/// The field Django infers for a value of this type (`Value(5)` is an `IntegerField`).
pub(crate) fn canonical_field(data_type: &DataType) -> Option<FieldType> {
    Some(match value_type(data_type) {
        DataType::Decimal128(p, s) => FieldType::DecimalField {
            max_digits: *p,
            decimal_places: *s,
        },
        other => match Family::of_type(other) {
            Family::Integer => FieldType::IntegerField,
            Family::Float => FieldType::FloatField,
            Family::Boolean => FieldType::BooleanField,
            Family::Text => FieldType::CharField { max_length: None },
            Family::Date => FieldType::DateField,
            Family::DateTime => FieldType::DateTimeField,
            Family::Time => FieldType::TimeField,
            Family::Duration => FieldType::DurationField,
            Family::Decimal | Family::Other => return None,
        },
    })
}

fn unknown_output_field() -> Error {
    Error::FieldError("Cannot resolve expression type, unknown output_field".to_string())
}

/// Django's `CombinedExpression._resolve_output_field` over `_connector_combinations`.
fn combined_output_field(
    op: Operator,
    left: &Result<Option<FieldType>>,
    right: &Result<Option<FieldType>>,
) -> Result<Option<FieldType>> {
    use Family as K;
    let (left, right) = (left.clone()?, right.clone()?);
    let (l, r) = match (&left, &right) {
        (None, None) => return Err(unknown_output_field()),
        (Some(f), None) | (None, Some(f)) => {
            return if Family::of_field(f).is_numeric() {
                Ok(Some(f.clone()))
            } else {
                Err(unknown_output_field())
            };
        }
        (Some(l), Some(r)) => (l, r),
    };
    let numeric = matches!(
        op,
        Operator::Plus | Operator::Minus | Operator::Multiply | Operator::Divide | Operator::Modulo
    );
    let result = match (op, Family::of_field(l), Family::of_field(r)) {
        // Float with decimal is the one numeric pair Django refuses to guess.
        (_, K::Float, K::Decimal) | (_, K::Decimal, K::Float) => None,
        (_, K::Decimal, b) if numeric && b.is_numeric() => Some(l.clone()),
        (_, a, K::Decimal) if numeric && a.is_numeric() => Some(r.clone()),
        (_, K::Float, b) | (_, b, K::Float) if numeric && b.is_numeric() => {
            Some(FieldType::FloatField)
        }
        (_, K::Integer, K::Integer) if numeric => Some(FieldType::IntegerField),
        (Operator::Plus, K::Date | K::DateTime, K::Duration)
        | (Operator::Plus, K::Duration, K::Date | K::DateTime)
        | (Operator::Minus, K::Date | K::DateTime, K::Duration) => Some(FieldType::DateTimeField),
        (Operator::Plus | Operator::Minus, K::Duration, K::Duration)
        | (Operator::Minus, K::Date | K::DateTime, K::Date | K::DateTime)
        | (Operator::Minus, K::Time, K::Time) => Some(FieldType::DurationField),
        (Operator::Plus, K::Time, K::Duration)
        | (Operator::Plus, K::Duration, K::Time)
        | (Operator::Minus, K::Time, K::Duration) => Some(FieldType::TimeField),
        _ => None,
    };
    match result {
        Some(field) => Ok(Some(field)),
        None => Err(Error::FieldError(format!(
            "Cannot infer type of '{}' expression involving these types: {}, {}. \
             You must set output_field.",
            django_connector(op),
            l.class_name(),
            r.class_name()
        ))),
    }
}

/// Django's `BaseExpression._resolve_output_field`: the first known source field, provided
/// every other source is of the same kind ("Expression contains mixed types").
pub(crate) fn common_source_field(sources: &[&Resolved]) -> Result<Option<FieldType>> {
    let mut first: Option<FieldType> = None;
    for source in sources {
        let Some(field) = source.output_field.clone()? else {
            continue;
        };
        match &first {
            None => first = Some(field),
            Some(f) => {
                let (a, b) = (Family::of_field(f), Family::of_field(&field));
                // DateTimeField is a DateField subclass, so a datetime first accepts dates.
                let compatible = a == b || (a == Family::DateTime && b == Family::Date);
                if !compatible {
                    return Err(Error::FieldError(format!(
                        "Expression contains mixed types: {}, {}. You must set output_field.",
                        f.class_name(),
                        field.class_name()
                    )));
                }
            }
        }
    }
    Ok(first)
}

#[cfg(test)]
pub(crate) mod tests {
    //! The fake resolver every expression test uses, and tests of this module.

    use super::*;
    use crate::expressions::{Count, Sum};
    use crate::model::{CharField, DecimalField, FloatField, IntegerField, OnDelete, RelationSpec};
    use arrow::datatypes::TimeUnit;
    use quiver_engine::expr::qualified_col;

    /// A resolver over a fixed set of `order` columns plus `customer__name` (a join,
    /// consuming two names) and two annotations.
    pub(crate) struct FakeResolver;

    pub(crate) fn field(
        name: &str,
        field_type: FieldType,
        nullable: bool,
    ) -> (String, ResolvedField) {
        (
            name.to_string(),
            ResolvedField {
                expr: qualified_col("order", name),
                data_type: field_type.data_type(),
                nullable,
                field_type: Some(field_type),
                is_aggregate: false,
                model: Some("Order".to_string()),
                unresolved: None,
            },
        )
    }

    /// What the compiler reports for names left after a model field.
    fn unresolved_after(field: &str, rest: &[&str]) -> Option<Error> {
        let next = rest.first()?;
        Some(Error::FieldError(if field == "customer" {
            format!("Cannot resolve keyword '{next}' into field. Choices are: id, name")
        } else {
            format!("Cannot resolve keyword '{next}' into field. Join on '{field}' not permitted.")
        }))
    }

    fn columns() -> Vec<(String, ResolvedField)> {
        vec![
            field("id", FieldType::BigAutoField, false),
            field("age", FieldType::IntegerField, false),
            field("score", FieldType::SmallIntegerField, true),
            field("rank", FieldType::PositiveIntegerField, true),
            field("ratio", FieldType::FloatField, true),
            field(
                "amount",
                FieldType::DecimalField {
                    max_digits: 10,
                    decimal_places: 2,
                },
                false,
            ),
            field(
                "status",
                FieldType::CharField {
                    max_length: Some(10),
                },
                false,
            ),
            field(
                "region",
                FieldType::CharField {
                    max_length: Some(20),
                },
                true,
            ),
            field("notes", FieldType::TextField, true),
            field("paid", FieldType::BooleanField, true),
            field("signup", FieldType::DateField, true),
            field("created", FieldType::DateTimeField, false),
            field("opens", FieldType::TimeField, true),
            field("wait", FieldType::DurationField, true),
            field(
                "customer",
                FieldType::ForeignKey(RelationSpec {
                    to: "Customer".to_string(),
                    on_delete: OnDelete::Cascade,
                    related_name: None,
                    related_query_name: None,
                    to_field: None,
                }),
                true,
            ),
        ]
    }

    impl Resolver for FakeResolver {
        fn resolve(&mut self, parts: &[&str]) -> Result<(ResolvedField, usize)> {
            if parts.len() >= 2 && parts[0] == "customer" && parts[1] == "name" {
                return Ok((
                    ResolvedField {
                        expr: qualified_col("customer", "name"),
                        data_type: DataType::Utf8,
                        // Reached through a nullable ForeignKey (a LEFT JOIN).
                        nullable: true,
                        field_type: Some(FieldType::CharField {
                            max_length: Some(100),
                        }),
                        is_aggregate: false,
                        model: Some("Customer".to_string()),
                        unresolved: unresolved_after("name", &parts[2..]),
                    },
                    2,
                ));
            }
            if parts[0] == "total" {
                return Ok((
                    ResolvedField {
                        expr: Sum("amount").resolve(&mut FakeResolver)?,
                        data_type: DataType::Decimal128(38, 2),
                        nullable: true,
                        field_type: None,
                        is_aggregate: true,
                        model: None,
                        unresolved: None,
                    },
                    1,
                ));
            }
            if parts[0] == "label" {
                return Ok((
                    ResolvedField {
                        expr: col("label"),
                        data_type: DataType::Utf8,
                        nullable: true,
                        field_type: None,
                        is_aggregate: false,
                        model: None,
                        unresolved: None,
                    },
                    1,
                ));
            }
            let columns = columns();
            match columns.iter().find(|(n, _)| n == parts[0]) {
                Some((name, f)) => {
                    let mut f = f.clone();
                    f.unresolved = unresolved_after(name, &parts[1..]);
                    Ok((f, 1))
                }
                None => {
                    let choices: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
                    Err(Error::FieldError(format!(
                        "Cannot resolve keyword '{}' into field. Choices are: {}",
                        parts[0],
                        choices.join(", ")
                    )))
                }
            }
        }

        fn model_name(&self) -> &str {
            "Order"
        }
    }

    /// The resolved engine expression's text, or the error's.
    pub(crate) fn show(e: impl Into<Expression>) -> String {
        match e.into().resolve(&mut FakeResolver) {
            Ok(expr) => expr.to_string(),
            Err(err) => format!("{}: {err}", err.django_name()),
        }
    }

    pub(crate) fn typed(e: impl Into<Expression>) -> Resolved {
        e.into().resolve_typed(&mut FakeResolver).unwrap()
    }

    #[test]
    fn f_resolves_fields_relations_and_transforms() {
        assert_eq!(show(F("age")), "order.age");
        assert_eq!(show(F("customer__name")), "customer.name");
        assert_eq!(show(F("created__year")), "extract_year(order.created)");
        assert_eq!(
            show(F("created__date__month")),
            "extract_month(todate(order.created))"
        );
        assert_eq!(
            show(F("nope")),
            "FieldError: Cannot resolve keyword 'nope' into field. Choices are: id, age, score, \
             rank, ratio, amount, status, region, notes, paid, signup, created, opens, wait, customer"
        );
        assert_eq!(
            show(F("created__year__foo")),
            "FieldError: Cannot resolve keyword 'year' into field. Join on 'created' not permitted."
        );
        assert_eq!(
            show(F("status__upper")),
            "FieldError: Cannot resolve keyword 'upper' into field. Join on 'status' not permitted."
        );
        // After a relation, the resolver's error: the related model's choices.
        assert_eq!(
            show(F("customer__nme")),
            "FieldError: Cannot resolve keyword 'nme' into field. Choices are: id, name"
        );
        assert_eq!(
            show(F("customer__name__year")),
            "FieldError: Cannot resolve keyword 'year' into field. Join on 'name' not permitted."
        );
    }

    #[test]
    fn arithmetic_with_values_on_either_side() {
        assert_eq!(show(F("amount") * 2), "(order.amount * 2)");
        assert_eq!(show(2 * F("age") + 1), "((2 * order.age) + 1)");
        assert_eq!(show(F("age") - F("score")), "(order.age - order.score)");
        assert_eq!(show(F("age") / 2), "(order.age / 2)");
        assert_eq!(show(F("age") % 7i64), "(order.age % 7)");
        assert_eq!(show(-F("ratio")), "(- order.ratio)");
        assert_eq!(
            show(F("created") - F("created")),
            "(order.created - order.created)"
        );
        assert_eq!(
            typed(F("age") + F("score")).data_type,
            DataType::Int32,
            "integer arithmetic stays integer"
        );
        assert_eq!(typed(F("age") * 1.5).data_type, DataType::Float64);
    }

    #[test]
    fn mixed_arithmetic_needs_an_output_field() {
        assert_eq!(
            show(F("amount") * F("ratio")),
            "FieldError: Cannot infer type of '*' expression involving these types: \
             DecimalField, FloatField. You must set output_field."
        );
        assert_eq!(
            show(F("amount") + 1.5),
            "FieldError: Cannot infer type of '+' expression involving these types: \
             DecimalField, FloatField. You must set output_field."
        );
        assert_eq!(
            show(F("status") % 2),
            "FieldError: Cannot infer type of '%%' expression involving these types: \
             CharField, IntegerField. You must set output_field."
        );
        assert_eq!(
            show(Sum("ratio") + Sum("amount")),
            "FieldError: Cannot infer type of '+' expression involving these types: \
             FloatField, DecimalField. You must set output_field."
        );
        // Django's allowed combinations: int with decimal, int with float.
        assert_eq!(show(F("amount") + F("age")), "(order.amount + order.age)");
        assert_eq!(show(F("ratio") * F("score")), "(order.ratio * order.score)");
        // The declared type makes it valid; the result is cast to it.
        assert_eq!(
            show(ExpressionWrapper(
                F("amount") * F("ratio"),
                FloatField::new()
            )),
            "(order.amount * order.ratio)"
        );
        assert_eq!(
            show((Sum("ratio") + Sum("amount")).output_field(DecimalField::new(12, 2))),
            "CAST((sum(order.ratio) + sum(order.amount)) AS Decimal128(12, 2))"
        );
        // Integer division as a FloatField is the truncated quotient, cast (as Django's
        // converter does on PostgreSQL).
        assert_eq!(
            show(ExpressionWrapper(F("age") / F("score"), FloatField::new())),
            "CAST((order.age / order.score) AS Float64)"
        );
        // A NULL operand takes the other side's numeric type.
        assert_eq!(show(F("age") + None::<i32>), "(order.age + NULL)");
        assert_eq!(
            show(Value(ScalarValue::Null) + Value(ScalarValue::Null)),
            "FieldError: Cannot resolve expression type, unknown output_field"
        );
    }

    #[test]
    fn temporal_arithmetic_follows_djangos_table() {
        let day = TimeDelta::days(1);
        assert_eq!(
            typed(F("created") + day).data_type,
            DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert_eq!(
            typed(F("created") + day).output_field.unwrap(),
            Some(FieldType::DateTimeField)
        );
        assert_eq!(
            typed(F("created") - F("signup")).output_field.unwrap(),
            Some(FieldType::DurationField)
        );
        assert_eq!(
            show(F("wait") * 2),
            "FieldError: Cannot infer type of '*' expression involving these types: \
             DurationField, IntegerField. You must set output_field."
        );
    }

    #[test]
    fn typed_values_and_casts() {
        assert_eq!(show(Value(ScalarValue::Null)), "NULL");
        let typed_null = typed(Value(ScalarValue::Null).output_field(IntegerField::new()));
        assert_eq!(typed_null.data_type, DataType::Int32);
        assert_eq!(typed_null.expr, Expr::Literal(ScalarValue::Int32(None)));
        assert_eq!(
            show(Value("2024-01-05").output_field(crate::model::DateField::new())),
            "DATE '2024-01-05'"
        );
        assert_eq!(
            show(Value("abc").output_field(IntegerField::new())),
            "ValueError: Field 'None' expected a number but got 'abc'."
        );
        assert_eq!(
            show(Cast("age", CharField::new(10))),
            "CAST(order.age AS Utf8)"
        );
        assert_eq!(
            show(Cast(F("status"), CharField::new(5))),
            "CAST(order.status AS Utf8)"
        );
    }

    #[test]
    fn lists_and_stars_are_only_lookup_values() {
        assert_eq!(
            show(vec![1, 2]),
            "TypeError: A list or tuple is only accepted as the value of an 'in' or 'range' lookup."
        );
        assert_eq!(
            show(Expression::Star),
            "TypeError: '*' is only accepted by Count('*')."
        );
    }

    #[test]
    fn boolean_negation_needs_a_condition() {
        assert_eq!(show(!F("paid")), "NOT order.paid");
        assert_eq!(
            show(!F("age")),
            "TypeError: Cannot negate non-conditional expressions."
        );
        assert_eq!(show(!!F("paid")), "order.paid");
        let both: Expression = (F("paid") & Expression::from(crate::q!(age__gt = 3))).into();
        assert_eq!(show(both), "(order.paid AND (order.age > 3))");
    }

    #[test]
    fn order_by_defaults_to_postgres_null_placement() {
        let r = &mut FakeResolver;
        assert_eq!(
            F("region").asc().resolve(r).unwrap().to_string(),
            "order.region ASC NULLS LAST"
        );
        assert_eq!(
            F("region").desc().resolve(r).unwrap().to_string(),
            "order.region DESC NULLS FIRST"
        );
        assert_eq!(
            F("region")
                .desc_nulls_last()
                .resolve(r)
                .unwrap()
                .to_string(),
            "order.region DESC NULLS LAST"
        );
        assert_eq!(
            F("region")
                .asc_nulls_first()
                .resolve(r)
                .unwrap()
                .to_string(),
            "order.region ASC NULLS FIRST"
        );
        assert_eq!(
            F("region")
                .desc()
                .nulls_last()
                .reversed()
                .resolve(r)
                .unwrap()
                .to_string(),
            "order.region ASC NULLS FIRST"
        );
        assert_eq!(
            Count("id").desc().resolve(r).unwrap().to_string(),
            "count(order.id) DESC NULLS FIRST"
        );
        let err = F("region")
            .asc()
            .nulls_first()
            .nulls_last()
            .resolve(r)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "nulls_first and nulls_last are mutually exclusive"
        );
        assert_eq!(err.django_name(), "ValueError");
        let mut explicit_false = F("region").asc();
        explicit_false.nulls_last = Some(false);
        assert_eq!(
            explicit_false.resolve(r).unwrap_err().to_string(),
            "nulls_first and nulls_last values must be True or None."
        );
    }

    #[test]
    fn values_from_rust_types() {
        assert_eq!(
            show(NaiveDate::from_ymd_opt(2024, 1, 5).unwrap()),
            "DATE '2024-01-05'"
        );
        assert_eq!(
            show(
                NaiveDate::from_ymd_opt(2024, 1, 5)
                    .unwrap()
                    .and_hms_opt(10, 30, 0)
                    .unwrap()
            ),
            "TIMESTAMP '2024-01-05T10:30:00'"
        );
        assert_eq!(
            show(NaiveTime::from_hms_opt(9, 5, 0).unwrap()),
            "TIME '09:05:00'"
        );
        assert_eq!(
            show(TimeDelta::seconds(90)),
            "INTERVAL '90000000 microseconds'"
        );
        assert_eq!(
            show(u64::MAX),
            format!(
                "ValueError: {} is too large for a 64-bit integer value",
                u64::MAX
            )
        );
        assert_eq!(show(3u8), "3");
        assert_eq!(show("it's"), "'it''s'");
    }

    #[test]
    fn display_is_djangos_repr() {
        assert_eq!((F("a") + 1).to_string(), "F(a) + Value(1)");
        assert_eq!((F("a") % 2).to_string(), "F(a) %% Value(2)");
        assert_eq!(Expression::from(vec![1, 2]).to_string(), "[1, 2]");
        assert_eq!(Value("x").to_string(), "Value('x')");
    }

    #[test]
    fn trees_compare_structurally() {
        use crate::expressions::Coalesce;
        assert_eq!(F("a") + 1, F("a") + 1);
        assert_ne!(F("a") + 1, F("a") + 2);
        assert_eq!(Coalesce(["a"]), Coalesce(["a"]));
        assert_ne!(
            Coalesce(["a"]),
            Expression::refused(Error::ValueError("x".into()))
        );
        assert_eq!(F("a").desc(), F("a").desc());
    }

    #[test]
    fn default_alias_only_for_plain_aggregates() {
        assert_eq!(
            Sum("amount").default_alias().as_deref(),
            Some("amount__sum")
        );
        assert_eq!(F("amount").default_alias(), None);
        assert!(!(F("a") + 1).contains_aggregate());
        assert!((Sum("a") + 1).contains_aggregate());
        assert!(F("x").default(1).resolve(&mut FakeResolver).is_err());
    }
}
