//! [`Q`]: Django's tree of filter conditions, combined with `&`, `|`, `^` and negated with
//! `!` (Django's `~`), and the [`q!`](crate::q) macro that writes Django's keyword
//! arguments (`q!(amount__gte = 100, status = "paid")`).
//!
//! A `Q` only records what was asked. [`Q::resolve`] turns it into one boolean engine
//! expression, tracking how many negations enclose each lookup: under an odd number, a
//! lookup on a nullable field also requires the field to be non-NULL (see
//! [`lookups`](super::lookups)), which is what makes `exclude(q)` the complement of
//! `filter(q)`. An empty `Q` matches every row, negated or not, as in Django.

use std::fmt;
use std::ops;

use quiver_engine::expr::{Case as CaseExpr, ScalarFunction};
use quiver_engine::{lit, Expr};

use super::coercion::python_repr;
use super::expression::Expression;
use super::lookups::{build_filter, call};
use super::resolver::Resolver;
use crate::error::{Error, Result};

/// How a `Q`'s children are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connector {
    And,
    Or,
    /// True when an odd number of children are (Django 4.2's `^`).
    Xor,
}

impl Connector {
    fn name(self) -> &'static str {
        match self {
            Connector::And => "AND",
            Connector::Or => "OR",
            Connector::Xor => "XOR",
        }
    }
}

/// One child of a [`Q`].
#[derive(Debug, Clone, PartialEq)]
pub enum QChild {
    /// `path=value`, e.g. `("customer__region__iexact", "eu")`.
    Lookup(String, Expression),
    /// A nested `Q`.
    Q(Q),
    /// A boolean expression (Django's `Q(Exists(...))` or `Q(F("is_paid"))`).
    Expression(Expression),
}

/// Django's `Q` object: filter conditions joined by a connector, possibly negated.
#[derive(Debug, Clone, PartialEq)]
pub struct Q {
    pub connector: Connector,
    pub negated: bool,
    pub children: Vec<QChild>,
}

impl Q {
    /// `Q(path=value)`: a single lookup (`Q::new("amount__gte", 100)`).
    pub fn new(path: impl Into<String>, value: impl Into<Expression>) -> Q {
        Q {
            connector: Connector::And,
            negated: false,
            children: vec![QChild::Lookup(path.into(), value.into())],
        }
    }

    /// `Q()`: no condition; matches every row.
    pub fn all() -> Q {
        Q {
            connector: Connector::And,
            negated: false,
            children: Vec::new(),
        }
    }

    /// `Q(**kwargs)`: the AND of several lookups, ordered by name as Django orders keyword
    /// arguments. `r#type` may be written for a field named `type`.
    pub fn from_kwargs<K: AsRef<str>>(kwargs: impl IntoIterator<Item = (K, Expression)>) -> Q {
        let mut kwargs: Vec<(String, Expression)> = kwargs
            .into_iter()
            .map(|(k, v)| {
                let k = k.as_ref();
                (k.strip_prefix("r#").unwrap_or(k).to_string(), v)
            })
            .collect();
        kwargs.sort_by(|a, b| a.0.cmp(&b.0));
        Q {
            connector: Connector::And,
            negated: false,
            children: kwargs
                .into_iter()
                .map(|(k, v)| QChild::Lookup(k, v))
                .collect(),
        }
    }

    /// True for `Q()` (negated or not).
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// True when a lookup value or boolean expression inside holds an aggregate.
    pub fn contains_aggregate(&self) -> bool {
        self.children.iter().any(|c| match c {
            QChild::Lookup(_, value) => value.contains_aggregate(),
            QChild::Q(q) => q.contains_aggregate(),
            QChild::Expression(e) => e.contains_aggregate(),
        })
    }

    /// The condition as one boolean engine expression. Whether it goes to WHERE or HAVING
    /// is the compiler's decision (`Expr::contains_aggregate` on the result).
    pub fn resolve(&self, r: &mut dyn Resolver) -> Result<Expr> {
        self.resolve_under(r, false)
    }

    /// `negated`: whether the enclosing `Q`s negate this one an odd number of times.
    fn resolve_under(&self, r: &mut dyn Resolver, negated: bool) -> Result<Expr> {
        if self.children.is_empty() {
            return Ok(lit(true));
        }
        let negated = negated ^ self.negated;
        let mut parts = Vec::with_capacity(self.children.len());
        for child in &self.children {
            parts.push(match child {
                QChild::Lookup(path, value) => build_filter(path, value, r, negated)?,
                QChild::Q(q) => q.resolve_under(r, negated)?,
                QChild::Expression(e) => {
                    let resolved = e.resolve_typed(r)?;
                    if !resolved.is_conditional() {
                        return Err(Error::TypeError(
                            "Cannot filter against a non-conditional expression.".to_string(),
                        ));
                    }
                    resolved.expr
                }
            });
        }
        let combined = match self.connector {
            Connector::And => Expr::conjunction(parts),
            Connector::Or => parts.into_iter().reduce(Expr::or),
            Connector::Xor => xor(parts),
        }
        .unwrap_or_else(|| lit(true));
        Ok(if self.negated {
            combined.not()
        } else {
            combined
        })
    }

    /// Django's `tree.Node.add`: a child with the same connector (or a single child) that is
    /// not negated is merged into this node's children.
    fn add(&mut self, other: Q, connector: Connector) {
        if !other.negated && (other.connector == connector || other.children.len() == 1) {
            self.children.extend(other.children);
        } else {
            self.children.push(QChild::Q(other));
        }
    }

    /// Django's `Q._combine`: combining with an empty `Q` gives the other side.
    fn combine(self, other: Q, connector: Connector) -> Q {
        if other.is_empty() {
            return self;
        }
        if self.is_empty() {
            return other;
        }
        let mut out = Q {
            connector,
            negated: false,
            children: Vec::new(),
        };
        out.add(self, connector);
        out.add(other, connector);
        out
    }
}

/// `a XOR b XOR …` where the engine has no XOR: true when an odd number of the parts are
/// true — `(a OR b OR …) AND (CASE WHEN a THEN 1 ELSE 0 END + …) % 2 = 1`, as Django
/// writes it for databases without XOR.
fn xor(parts: Vec<Expr>) -> Option<Expr> {
    let any = parts.iter().cloned().reduce(Expr::or)?;
    let count = parts
        .into_iter()
        .map(|p| {
            Expr::Case(CaseExpr {
                operand: None,
                when_then: vec![(p, lit(1i64))],
                else_expr: Some(Box::new(lit(0i64))),
            })
        })
        .reduce(|a, b| a + b)?;
    let odd = call(ScalarFunction::Mod, vec![count, lit(2i64)]).eq(lit(1i64));
    Some(any.and(odd))
}

impl From<Expression> for Q {
    /// `Q(expression)` for a boolean expression; a `Q` wrapped as an expression comes back
    /// as itself.
    fn from(e: Expression) -> Q {
        match e {
            Expression::Conditional(q) => *q,
            other => Q {
                connector: Connector::And,
                negated: false,
                children: vec![QChild::Expression(other)],
            },
        }
    }
}

impl ops::BitAnd for Q {
    type Output = Q;
    fn bitand(self, rhs: Q) -> Q {
        self.combine(rhs, Connector::And)
    }
}

impl ops::BitOr for Q {
    type Output = Q;
    fn bitor(self, rhs: Q) -> Q {
        self.combine(rhs, Connector::Or)
    }
}

impl ops::BitXor for Q {
    type Output = Q;
    fn bitxor(self, rhs: Q) -> Q {
        self.combine(rhs, Connector::Xor)
    }
}

impl ops::Not for Q {
    type Output = Q;
    /// Django's `~q`.
    fn not(mut self) -> Q {
        self.negated = !self.negated;
        self
    }
}

impl fmt::Display for Q {
    /// Django's `str(q)`: `(AND: ('age__gt', 1), ('name', 'x'))`, `(NOT (AND: …))`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_str("(NOT (")?;
        } else {
            f.write_str("(")?;
        }
        write!(f, "{}: ", self.connector.name())?;
        for (i, child) in self.children.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match child {
                QChild::Lookup(path, value) => match value.direct_value() {
                    Some(v) => write!(f, "('{path}', {})", python_repr(v))?,
                    None => write!(f, "('{path}', {value})")?,
                },
                QChild::Q(q) => write!(f, "{q}")?,
                QChild::Expression(e) => write!(f, "{e}")?,
            }
        }
        f.write_str(if self.negated { "))" } else { ")" })
    }
}

/// Django's `Q(a__gt=1, b="x")`: `q!(a__gt = 1, b = "x")` is the AND of the lookups.
/// `None` stands for Python's `None` (`q!(region = None)` is `region IS NULL`);
/// keys may also be string literals (`q!("type" = "x")`). `q!()` is `Q::all()`.
///
/// ```
/// let paid = quiver::q!(amount__gte = 100, status = "paid", region = None);
/// assert_eq!(
///     paid.to_string(),
///     "(AND: ('amount__gte', 100), ('region', None), ('status', 'paid'))"
/// );
/// assert_eq!((!paid).to_string().get(..6), Some("(NOT ("));
/// ```
#[macro_export]
macro_rules! q {
    () => {
        $crate::expressions::Q::all()
    };
    ($($kwargs:tt)+) => {
        $crate::__q_kwargs!([] $($kwargs)+)
    };
}

/// Collects `q!`'s keyword arguments (implementation detail of [`q!`]). `None` is matched
/// as a token before values are parsed as expressions, since a parsed expression can no
/// longer be recognised as the word `None`.
#[doc(hidden)]
#[macro_export]
macro_rules! __q_kwargs {
    ([$($done:tt)*]) => {
        $crate::expressions::Q::from_kwargs([$($done)*])
    };
    ([$($done:tt)*] $key:tt = None $(, $($rest:tt)*)?) => {
        $crate::__q_kwargs!(
            [$($done)* ($crate::__q_key!($key), $crate::expressions::Expression::from($crate::ScalarValue::Null)),]
            $($($rest)*)?
        )
    };
    ([$($done:tt)*] $key:tt = $value:expr $(, $($rest:tt)*)?) => {
        $crate::__q_kwargs!(
            [$($done)* ($crate::__q_key!($key), $crate::expressions::Expression::from($value)),]
            $($($rest)*)?
        )
    };
}

/// The name of a `q!` keyword (implementation detail of [`q!`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __q_key {
    ($key:ident) => {
        stringify!($key)
    };
    ($key:literal) => {
        $key
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expressions::expression::tests::FakeResolver;
    use crate::expressions::{Count, Sum, F};

    fn show(q: Q) -> String {
        match q.resolve(&mut FakeResolver) {
            Ok(expr) => expr.to_string(),
            Err(err) => format!("{}: {err}", err.django_name()),
        }
    }

    #[test]
    fn macro_writes_django_kwargs() {
        assert_eq!(
            show(crate::q!(status = "new", age__gt = 1)),
            "((order.age > 1) AND (order.status = 'new'))"
        );
        assert_eq!(show(crate::q!(region = None)), "order.region IS NULL");
        assert_eq!(show(crate::q!("status" = "x",)), "(order.status = 'x')");
        assert_eq!(show(crate::q!()), "true");
        assert_eq!(crate::q!(r#type = 1).to_string(), "(AND: ('type', 1))");
        assert_eq!(
            show(crate::q!(id__in = [1, 2], amount__range = (1, 5))),
            "(((order.amount >= 1) AND (order.amount <= 5)) AND order.id IN (1, 2))"
        );
    }

    #[test]
    fn combining_flattens_like_django() {
        let a = Q::new("age__gt", 1);
        let b = Q::new("status", "x");
        let c = Q::new("region", "EU");
        assert_eq!(
            (a.clone() & b.clone() & c.clone()).to_string(),
            "(AND: ('age__gt', 1), ('status', 'x'), ('region', 'EU'))"
        );
        assert_eq!(
            ((a.clone() | b.clone()) & c.clone()).to_string(),
            "(AND: (OR: ('age__gt', 1), ('status', 'x')), ('region', 'EU'))"
        );
        assert_eq!(
            (!a.clone() & b.clone()).to_string(),
            "(AND: (NOT (AND: ('age__gt', 1))), ('status', 'x'))"
        );
        assert_eq!((Q::all() & a.clone()).to_string(), "(AND: ('age__gt', 1))");
        assert_eq!((a.clone() | Q::all()).to_string(), "(AND: ('age__gt', 1))");
        assert_eq!(show(a | b), "((order.age > 1) OR (order.status = 'x'))");
    }

    #[test]
    fn negation_adds_null_guards_and_double_negation_cancels() {
        let eu = Q::new("region", "EU");
        assert_eq!(
            show(!eu.clone()),
            "NOT ((order.region = 'EU') AND order.region IS NOT NULL)"
        );
        assert_eq!(show(!!eu.clone()), "(order.region = 'EU')");
        // A negated Q inside a negated Q is back to positive: no guard there.
        let nested = !(Q::new("status", "x") & !eu.clone());
        assert_eq!(
            show(nested),
            "NOT ((order.status = 'x') AND NOT (order.region = 'EU'))"
        );
        // Under negation an OR guards each branch.
        assert_eq!(
            show(!(eu | Q::new("notes__contains", "x"))),
            "NOT (((order.region = 'EU') AND order.region IS NOT NULL) OR \
             (order.notes LIKE '%x%' AND order.notes IS NOT NULL))"
        );
        assert_eq!(show(!Q::all()), "true");
        assert_eq!(show(!Q::new("age__in", Vec::<i32>::new())), "NOT false");
    }

    #[test]
    fn xor_is_an_odd_count() {
        let q = Q::new("age", 1) ^ Q::new("status", "x");
        assert_eq!(
            show(q),
            "(((order.age = 1) OR (order.status = 'x')) AND (mod((CASE WHEN (order.age = 1) \
             THEN 1 ELSE 0 END + CASE WHEN (order.status = 'x') THEN 1 ELSE 0 END), 2) = 1))"
        );
    }

    #[test]
    fn boolean_expressions_are_conditions() {
        assert_eq!(show(Q::from(F("paid"))), "order.paid");
        assert_eq!(
            show(Q::from(F("age"))),
            "TypeError: Cannot filter against a non-conditional expression."
        );
        assert_eq!(
            show(F("paid") | Expression::from(Q::new("age", 3))),
            "(order.paid OR (order.age = 3))"
        );
    }

    #[test]
    fn aggregates_are_visible_to_the_compiler() {
        let having = Q::new("total__gt", 100);
        assert!(having
            .resolve(&mut FakeResolver)
            .unwrap()
            .contains_aggregate());
        let in_value = Q::new("age__gt", Count("id"));
        assert!(in_value.contains_aggregate());
        assert_eq!(show(in_value), "(order.age > count(order.id))");
        assert!(!Q::new("age__gt", F("score")).contains_aggregate());
        assert_eq!(
            show(Q::new("amount__lt", Sum("amount"))),
            "(order.amount < sum(order.amount))"
        );
    }
}
