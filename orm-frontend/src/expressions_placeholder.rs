//! TEMPORARY stand-in for `crate::expressions` (owned by the `ormexpr` helper) so the
//! QuerySet compiler can be built and tested before that module is merged. Only the entry
//! points named in ORM_API.md exist here, with a handful of lookups. Delete this file when
//! the real module lands and point the `use` lines at `crate::expressions`.
#![allow(non_snake_case, missing_docs)]

use std::ops;

use quiver_engine::expr::{AggregateExpr, AggregateFunction};
use quiver_engine::{Expr, Operator, ScalarValue, SortExpr};

use crate::error::{Error, Result};
use crate::expressions::Resolver;

#[derive(Debug, Clone, PartialEq)]
pub enum Expression {
    Field(String),
    Value(ScalarValue),
    List(Vec<ScalarValue>),
    Aggregate {
        func: AggregateFunction,
        arg: Option<Box<Expression>>,
        name: &'static str,
        distinct: bool,
    },
    Binary(Box<Expression>, Operator, Box<Expression>),
}

pub fn F(name: &str) -> Expression {
    Expression::Field(name.to_string())
}

pub fn Value(v: impl Into<ScalarValue>) -> Expression {
    Expression::Value(v.into())
}

fn aggregate(func: AggregateFunction, name: &'static str, arg: &str) -> Expression {
    Expression::Aggregate {
        func,
        arg: (arg != "*").then(|| Box::new(F(arg))),
        name,
        distinct: false,
    }
}

pub fn Count(arg: &str) -> Expression {
    aggregate(AggregateFunction::Count, "count", arg)
}
pub fn Sum(arg: &str) -> Expression {
    aggregate(AggregateFunction::Sum, "sum", arg)
}
pub fn Avg(arg: &str) -> Expression {
    aggregate(AggregateFunction::Avg, "avg", arg)
}
pub fn Min(arg: &str) -> Expression {
    aggregate(AggregateFunction::Min, "min", arg)
}
pub fn Max(arg: &str) -> Expression {
    aggregate(AggregateFunction::Max, "max", arg)
}

impl Expression {
    pub fn resolve(&self, r: &mut dyn Resolver) -> Result<Expr> {
        Ok(match self {
            Expression::Field(name) => {
                let parts: Vec<&str> = name.split("__").collect();
                let (field, used) = r.resolve(&parts)?;
                if used != parts.len() {
                    return Err(Error::FieldError(format!(
                        "Cannot resolve keyword '{}' into field.",
                        parts[used]
                    )));
                }
                field.expr
            }
            Expression::Value(v) => Expr::Literal(v.clone()),
            Expression::List(_) => {
                return Err(Error::FieldError("a list is not an expression".into()))
            }
            Expression::Aggregate {
                func,
                arg,
                distinct,
                ..
            } => {
                let args = match arg {
                    Some(a) => vec![a.resolve(r)?],
                    None => vec![],
                };
                let mut agg = AggregateExpr::new(*func, args);
                agg.distinct = *distinct;
                Expr::Aggregate(agg)
            }
            Expression::Binary(l, op, right) => l.resolve(r)?.binary_op(*op, right.resolve(r)?),
        })
    }

    pub fn default_alias(&self) -> Option<String> {
        match self {
            Expression::Aggregate {
                arg: Some(a), name, ..
            } => match a.as_ref() {
                Expression::Field(f) => Some(format!("{f}__{name}")),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn contains_aggregate(&self) -> bool {
        match self {
            Expression::Aggregate { .. } => true,
            Expression::Binary(l, _, r) => l.contains_aggregate() || r.contains_aggregate(),
            _ => false,
        }
    }

    pub fn asc(self) -> OrderBy {
        OrderBy {
            expr: self,
            descending: false,
            nulls_first: None,
            nulls_last: None,
        }
    }

    pub fn desc(self) -> OrderBy {
        OrderBy {
            expr: self,
            descending: true,
            nulls_first: None,
            nulls_last: None,
        }
    }

    pub fn distinct(mut self) -> Expression {
        if let Expression::Aggregate { distinct, .. } = &mut self {
            *distinct = true;
        }
        self
    }
}

impl From<ScalarValue> for Expression {
    fn from(v: ScalarValue) -> Self {
        Expression::Value(v)
    }
}
impl From<i64> for Expression {
    fn from(v: i64) -> Self {
        Expression::Value(v.into())
    }
}
impl From<i32> for Expression {
    fn from(v: i32) -> Self {
        Expression::Value(i64::from(v).into())
    }
}
impl From<bool> for Expression {
    fn from(v: bool) -> Self {
        Expression::Value(v.into())
    }
}
impl From<f64> for Expression {
    fn from(v: f64) -> Self {
        Expression::Value(v.into())
    }
}
impl From<&str> for Expression {
    fn from(v: &str) -> Self {
        Expression::Value(v.into())
    }
}
impl From<Option<&str>> for Expression {
    fn from(v: Option<&str>) -> Self {
        Expression::Value(v.into())
    }
}
impl From<Vec<ScalarValue>> for Expression {
    fn from(v: Vec<ScalarValue>) -> Self {
        Expression::List(v)
    }
}
impl From<Vec<i64>> for Expression {
    fn from(v: Vec<i64>) -> Self {
        Expression::List(v.into_iter().map(ScalarValue::from).collect())
    }
}

impl<T: Into<Expression>> ops::Mul<T> for Expression {
    type Output = Expression;
    fn mul(self, rhs: T) -> Expression {
        Expression::Binary(Box::new(self), Operator::Multiply, Box::new(rhs.into()))
    }
}
impl<T: Into<Expression>> ops::Add<T> for Expression {
    type Output = Expression;
    fn add(self, rhs: T) -> Expression {
        Expression::Binary(Box::new(self), Operator::Plus, Box::new(rhs.into()))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub expr: Expression,
    pub descending: bool,
    pub nulls_first: Option<bool>,
    pub nulls_last: Option<bool>,
}

impl OrderBy {
    pub fn resolve(&self, r: &mut dyn Resolver) -> Result<SortExpr> {
        let expr = self.expr.resolve(r)?;
        let nulls_first = match (self.nulls_first, self.nulls_last) {
            (Some(true), _) => true,
            (_, Some(true)) => false,
            _ => self.descending,
        };
        Ok(SortExpr::new(expr, !self.descending, nulls_first))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Q {
    All,
    Lookup(String, Expression),
    And(Box<Q>, Box<Q>),
    Or(Box<Q>, Box<Q>),
    Not(Box<Q>),
}

impl Q {
    pub fn new(path: &str, value: impl Into<Expression>) -> Q {
        Q::Lookup(path.to_string(), value.into())
    }

    pub fn all() -> Q {
        Q::All
    }

    pub fn resolve(&self, r: &mut dyn Resolver) -> Result<Expr> {
        Ok(match self {
            Q::All => Expr::Literal(ScalarValue::Boolean(Some(true))),
            Q::And(a, b) => a.resolve(r)?.and(b.resolve(r)?),
            Q::Or(a, b) => a.resolve(r)?.or(b.resolve(r)?),
            Q::Not(inner) => {
                let predicate = inner.resolve(r)?;
                // Django: exclude(x=v) keeps rows where x is NULL.
                let mut nullable_columns = vec![];
                if let Q::Lookup(path, _) = inner.as_ref() {
                    let parts: Vec<&str> = path.split("__").collect();
                    let (field, _) = r.resolve(&parts)?;
                    if field.nullable && !path.ends_with("__isnull") {
                        nullable_columns.push(field.expr);
                    }
                }
                let mut p = predicate;
                for c in nullable_columns {
                    p = p.and(c.is_not_null());
                }
                p.not()
            }
            Q::Lookup(path, value) => {
                let parts: Vec<&str> = path.split("__").collect();
                let (field, used) = r.resolve(&parts)?;
                let lookup = match &parts[used..] {
                    [] => "exact",
                    [one] => one,
                    _ => {
                        return Err(Error::FieldError(format!(
                            "Unsupported lookup '{}'",
                            parts[used..].join("__")
                        )))
                    }
                };
                let lhs = field.expr;
                if lookup == "in" {
                    let Expression::List(items) = value else {
                        return Err(Error::TypeError("__in needs a list".into()));
                    };
                    let items: Vec<Expr> = items
                        .iter()
                        .filter(|v| !v.is_null())
                        .map(|v| Expr::Literal(v.clone()))
                        .collect();
                    if items.is_empty() {
                        return Ok(Expr::Literal(ScalarValue::Boolean(Some(false))));
                    }
                    return Ok(lhs.in_list(items, false));
                }
                if lookup == "isnull" {
                    return Ok(match value {
                        Expression::Value(ScalarValue::Boolean(Some(false))) => lhs.is_not_null(),
                        _ => lhs.is_null(),
                    });
                }
                if lookup == "exact" {
                    if let Expression::Value(v) = value {
                        if v.is_null() {
                            return Ok(lhs.is_null());
                        }
                    }
                }
                let rhs = value.resolve(r)?;
                let op = match lookup {
                    "exact" => Operator::Eq,
                    "gt" => Operator::Gt,
                    "gte" => Operator::GtEq,
                    "lt" => Operator::Lt,
                    "lte" => Operator::LtEq,
                    other => {
                        return Err(Error::FieldError(format!("Unsupported lookup '{other}'")))
                    }
                };
                lhs.binary_op(op, rhs)
            }
        })
    }
}

impl ops::BitAnd for Q {
    type Output = Q;
    fn bitand(self, rhs: Q) -> Q {
        Q::And(Box::new(self), Box::new(rhs))
    }
}
impl ops::BitOr for Q {
    type Output = Q;
    fn bitor(self, rhs: Q) -> Q {
        Q::Or(Box::new(self), Box::new(rhs))
    }
}
impl ops::Not for Q {
    type Output = Q;
    fn not(self) -> Q {
        Q::Not(Box::new(self))
    }
}

#[macro_export]
macro_rules! q {
    ($($name:ident = $value:expr),+ $(,)?) => {{
        let parts = vec![$($crate::expressions_placeholder::Q::new(stringify!($name), $value)),+];
        parts.into_iter().reduce(|a, b| a & b).unwrap_or($crate::expressions_placeholder::Q::all())
    }};
}
