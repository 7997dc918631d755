//! The [`Expr`] tree and its node structs.

use std::fmt;

use arrow::datatypes::DataType;
use quiver_storage::ScalarValue;

use super::subquery::{Exists, InSubquery, OuterColumn, Subquery};
use super::{AggregateExpr, ScalarFunction, WindowFunction};

/// A reference to a column, optionally qualified by the relation (table alias) it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Column {
    pub relation: Option<String>,
    pub name: String,
}

impl Column {
    /// An unqualified column.
    pub fn new(name: impl Into<String>) -> Column {
        Column {
            relation: None,
            name: name.into(),
        }
    }

    /// A column of a named relation.
    pub fn qualified(relation: impl Into<String>, name: impl Into<String>) -> Column {
        Column {
            relation: Some(relation.into()),
            name: name.into(),
        }
    }

    /// `relation.name` or `name`.
    pub fn flat_name(&self) -> String {
        match &self.relation {
            Some(r) => format!("{r}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.flat_name())
    }
}

/// Binary operators. Arithmetic on integers is checked: overflow and division by zero are
/// errors. Comparisons and AND/OR follow SQL's three-valued logic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    Plus,
    Minus,
    Multiply,
    /// Integer division truncates toward zero (PostgreSQL); decimals keep their scale rules.
    Divide,
    Modulo,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    /// `IS DISTINCT FROM`: like `<>` but NULL-safe (never NULL).
    IsDistinctFrom,
    /// `IS NOT DISTINCT FROM`: NULL-safe equality.
    IsNotDistinctFrom,
    And,
    Or,
}

impl Operator {
    /// True for `=`, `<>`, `<`, `<=`, `>`, `>=` and the DISTINCT FROM forms.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            Operator::Eq
                | Operator::NotEq
                | Operator::Lt
                | Operator::LtEq
                | Operator::Gt
                | Operator::GtEq
                | Operator::IsDistinctFrom
                | Operator::IsNotDistinctFrom
        )
    }

    /// True for `+ - * / %`.
    pub fn is_arithmetic(self) -> bool {
        matches!(
            self,
            Operator::Plus
                | Operator::Minus
                | Operator::Multiply
                | Operator::Divide
                | Operator::Modulo
        )
    }

    /// `a op b` ⇔ `b swap(op) a`, for comparisons.
    pub fn swap(self) -> Option<Operator> {
        Some(match self {
            Operator::Eq => Operator::Eq,
            Operator::NotEq => Operator::NotEq,
            Operator::Lt => Operator::Gt,
            Operator::LtEq => Operator::GtEq,
            Operator::Gt => Operator::Lt,
            Operator::GtEq => Operator::LtEq,
            Operator::IsDistinctFrom => Operator::IsDistinctFrom,
            Operator::IsNotDistinctFrom => Operator::IsNotDistinctFrom,
            _ => return None,
        })
    }

    /// `NOT (a op b)` ⇔ `a negate(op) b`, for comparisons (when neither side is NULL).
    pub fn negate(self) -> Option<Operator> {
        Some(match self {
            Operator::Eq => Operator::NotEq,
            Operator::NotEq => Operator::Eq,
            Operator::Lt => Operator::GtEq,
            Operator::LtEq => Operator::Gt,
            Operator::Gt => Operator::LtEq,
            Operator::GtEq => Operator::Lt,
            Operator::IsDistinctFrom => Operator::IsNotDistinctFrom,
            Operator::IsNotDistinctFrom => Operator::IsDistinctFrom,
            _ => return None,
        })
    }

    /// The SQL spelling.
    pub fn sql(self) -> &'static str {
        match self {
            Operator::Plus => "+",
            Operator::Minus => "-",
            Operator::Multiply => "*",
            Operator::Divide => "/",
            Operator::Modulo => "%",
            Operator::Eq => "=",
            Operator::NotEq => "<>",
            Operator::Lt => "<",
            Operator::LtEq => "<=",
            Operator::Gt => ">",
            Operator::GtEq => ">=",
            Operator::IsDistinctFrom => "IS DISTINCT FROM",
            Operator::IsNotDistinctFrom => "IS NOT DISTINCT FROM",
            Operator::And => "AND",
            Operator::Or => "OR",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sql())
    }
}

/// `left op right`.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryExpr {
    pub left: Box<Expr>,
    pub op: Operator,
    pub right: Box<Expr>,
}

/// `CASE [operand] WHEN w THEN t ... [ELSE e] END`.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub operand: Option<Box<Expr>>,
    pub when_then: Vec<(Expr, Expr)>,
    pub else_expr: Option<Box<Expr>>,
}

/// `CAST(expr AS type)`; failures are errors (`InvalidCast`), never silent NULLs.
#[derive(Debug, Clone, PartialEq)]
pub struct Cast {
    pub expr: Box<Expr>,
    pub data_type: DataType,
}

/// `expr [NOT] IN (list)` with SQL NULL semantics.
#[derive(Debug, Clone, PartialEq)]
pub struct InList {
    pub expr: Box<Expr>,
    pub list: Vec<Expr>,
    pub negated: bool,
}

/// `expr [NOT] [I]LIKE pattern` with `%`, `_` and backslash escapes.
#[derive(Debug, Clone, PartialEq)]
pub struct Like {
    pub expr: Box<Expr>,
    pub pattern: Box<Expr>,
    pub negated: bool,
    pub case_insensitive: bool,
}

/// `expr [!]~[*] pattern` (PostgreSQL regular expression match).
#[derive(Debug, Clone, PartialEq)]
pub struct RegexMatch {
    pub expr: Box<Expr>,
    pub pattern: Box<Expr>,
    pub negated: bool,
    pub case_insensitive: bool,
}

/// A call of a built-in scalar function.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarFunctionExpr {
    pub func: ScalarFunction,
    pub args: Vec<Expr>,
}

/// `expr AS name`.
#[derive(Debug, Clone, PartialEq)]
pub struct Alias {
    pub expr: Box<Expr>,
    pub name: String,
    /// The relation the output column is qualified by (`None` for a plain `AS name`): an
    /// optimizer rule that computes a table's column another way keeps its qualified name.
    pub relation: Option<String>,
}

/// A logical expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Column(Column),
    Literal(ScalarValue),
    BinaryExpr(BinaryExpr),
    Not(Box<Expr>),
    Negative(Box<Expr>),
    IsNull(Box<Expr>),
    IsNotNull(Box<Expr>),
    Case(Case),
    Cast(Cast),
    InList(InList),
    Like(Like),
    RegexMatch(RegexMatch),
    ScalarFunction(ScalarFunctionExpr),
    Aggregate(AggregateExpr),
    /// Only the `Window` plan node evaluates it; boxed, as it is much larger than the rest.
    WindowFunction(Box<WindowFunction>),
    Alias(Alias),
    /// A column of an enclosing query's row, read from inside a subquery.
    OuterColumn(OuterColumn),
    /// `(SELECT …)` producing one value.
    ScalarSubquery(Subquery),
    /// `[NOT] EXISTS (SELECT …)`.
    Exists(Exists),
    /// `expr [NOT] IN (SELECT …)`.
    InSubquery(InSubquery),
}

/// An unqualified column reference.
pub fn col(name: impl Into<String>) -> Expr {
    Expr::Column(Column::new(name))
}

/// A qualified column reference `relation.name`.
pub fn qualified_col(relation: impl Into<String>, name: impl Into<String>) -> Expr {
    Expr::Column(Column::qualified(relation, name))
}

/// A literal.
pub fn lit(value: impl Into<ScalarValue>) -> Expr {
    Expr::Literal(value.into())
}

impl Expr {
    fn binary(self, op: Operator, other: Expr) -> Expr {
        Expr::BinaryExpr(BinaryExpr {
            left: Box::new(self),
            op,
            right: Box::new(other),
        })
    }

    /// `self = other`
    pub fn eq(self, other: Expr) -> Expr {
        self.binary(Operator::Eq, other)
    }
    /// `self <> other`
    pub fn not_eq(self, other: Expr) -> Expr {
        self.binary(Operator::NotEq, other)
    }
    /// `self < other`
    pub fn lt(self, other: Expr) -> Expr {
        self.binary(Operator::Lt, other)
    }
    /// `self <= other`
    pub fn lt_eq(self, other: Expr) -> Expr {
        self.binary(Operator::LtEq, other)
    }
    /// `self > other`
    pub fn gt(self, other: Expr) -> Expr {
        self.binary(Operator::Gt, other)
    }
    /// `self >= other`
    pub fn gt_eq(self, other: Expr) -> Expr {
        self.binary(Operator::GtEq, other)
    }
    /// `self AND other`
    pub fn and(self, other: Expr) -> Expr {
        self.binary(Operator::And, other)
    }
    /// `self OR other`
    pub fn or(self, other: Expr) -> Expr {
        self.binary(Operator::Or, other)
    }
    /// `self % other`
    pub fn modulo(self, other: Expr) -> Expr {
        self.binary(Operator::Modulo, other)
    }
    /// Any binary operator.
    pub fn binary_op(self, op: Operator, other: Expr) -> Expr {
        self.binary(op, other)
    }
    /// `NOT self`
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }
    /// `self IS NULL`
    pub fn is_null(self) -> Expr {
        Expr::IsNull(Box::new(self))
    }
    /// `self IS NOT NULL`
    pub fn is_not_null(self) -> Expr {
        Expr::IsNotNull(Box::new(self))
    }
    /// `self AS name`
    pub fn alias(self, name: impl Into<String>) -> Expr {
        Expr::Alias(Alias {
            expr: Box::new(self.unalias()),
            name: name.into(),
            relation: None,
        })
    }
    /// `self AS relation.name`: an output column qualified like a table's column.
    pub fn alias_qualified(self, relation: impl Into<String>, name: impl Into<String>) -> Expr {
        Expr::Alias(Alias {
            expr: Box::new(self.unalias()),
            name: name.into(),
            relation: Some(relation.into()),
        })
    }
    /// `CAST(self AS data_type)`
    pub fn cast_to(self, data_type: DataType) -> Expr {
        Expr::Cast(Cast {
            expr: Box::new(self),
            data_type,
        })
    }
    /// `self [NOT] IN (list)`
    pub fn in_list(self, list: Vec<Expr>, negated: bool) -> Expr {
        Expr::InList(InList {
            expr: Box::new(self),
            list,
            negated,
        })
    }
    /// Sort key, ascending, NULLs last (PostgreSQL's default).
    pub fn sort_asc(self) -> SortExpr {
        SortExpr::new(self, true, false)
    }
    /// Sort key, descending, NULLs first (PostgreSQL's default).
    pub fn sort_desc(self) -> SortExpr {
        SortExpr::new(self, false, true)
    }

    /// The expression without a top-level alias.
    pub fn unalias(self) -> Expr {
        match self {
            Expr::Alias(a) => *a.expr,
            other => other,
        }
    }

    /// The name this expression gets as an output column: the alias, the column name, or its
    /// display text.
    pub fn output_name(&self) -> String {
        match self {
            Expr::Alias(a) => a.name.clone(),
            Expr::Column(c) => c.name.clone(),
            other => other.to_string(),
        }
    }

    /// Joins predicates with AND; `None` for an empty list.
    pub fn conjunction(exprs: impl IntoIterator<Item = Expr>) -> Option<Expr> {
        exprs.into_iter().reduce(Expr::and)
    }

    /// Splits `a AND b AND c` into `[a, b, c]`.
    pub fn split_conjunction(self) -> Vec<Expr> {
        let mut out = Vec::new();
        fn go(e: Expr, out: &mut Vec<Expr>) {
            match e {
                Expr::BinaryExpr(BinaryExpr {
                    left,
                    op: Operator::And,
                    right,
                }) => {
                    go(*left, out);
                    go(*right, out);
                }
                Expr::Alias(a) => go(*a.expr, out),
                other => out.push(other),
            }
        }
        go(self, &mut out);
        out
    }
}

/// One sort key: expression, direction and NULL placement.
#[derive(Debug, Clone, PartialEq)]
pub struct SortExpr {
    pub expr: Expr,
    pub asc: bool,
    pub nulls_first: bool,
}

impl SortExpr {
    /// A sort key.
    pub fn new(expr: Expr, asc: bool, nulls_first: bool) -> SortExpr {
        SortExpr {
            expr,
            asc,
            nulls_first,
        }
    }

    /// The same key in the opposite direction with NULL placement flipped too
    /// (`QuerySet.reverse()`).
    pub fn reversed(&self) -> SortExpr {
        SortExpr::new(self.expr.clone(), !self.asc, !self.nulls_first)
    }
}

impl fmt::Display for SortExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} NULLS {}",
            self.expr,
            if self.asc { "ASC" } else { "DESC" },
            if self.nulls_first { "FIRST" } else { "LAST" }
        )
    }
}

fn fmt_literal(v: &ScalarValue, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match v {
        _ if v.is_null() => f.write_str("NULL"),
        ScalarValue::Utf8(Some(s)) => write!(f, "'{}'", s.replace('\'', "''")),
        ScalarValue::Date32(_) => write!(f, "DATE '{v}'"),
        ScalarValue::TimestampMicrosecond(_) => write!(f, "TIMESTAMP '{v}'"),
        ScalarValue::Time64Microsecond(_) => write!(f, "TIME '{v}'"),
        ScalarValue::DurationMicrosecond(Some(us)) => write!(f, "INTERVAL '{us} microseconds'"),
        other => write!(f, "{other}"),
    }
}

fn fmt_list(f: &mut fmt::Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, e) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{e}")?;
    }
    Ok(())
}

impl fmt::Display for Expr {
    /// A compact SQL-like rendering used by EXPLAIN and default output names. (The SQL that
    /// other engines run comes from [`crate::sql`], which also handles quoting and dialect.)
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column(c) => write!(f, "{c}"),
            Expr::Literal(v) => fmt_literal(v, f),
            Expr::BinaryExpr(b) => write!(f, "({} {} {})", b.left, b.op, b.right),
            Expr::Not(e) => write!(f, "NOT {e}"),
            Expr::Negative(e) => write!(f, "(- {e})"),
            Expr::IsNull(e) => write!(f, "{e} IS NULL"),
            Expr::IsNotNull(e) => write!(f, "{e} IS NOT NULL"),
            Expr::Case(c) => {
                f.write_str("CASE")?;
                if let Some(o) = &c.operand {
                    write!(f, " {o}")?;
                }
                for (w, t) in &c.when_then {
                    write!(f, " WHEN {w} THEN {t}")?;
                }
                if let Some(e) = &c.else_expr {
                    write!(f, " ELSE {e}")?;
                }
                f.write_str(" END")
            }
            Expr::Cast(c) => write!(f, "CAST({} AS {})", c.expr, c.data_type),
            Expr::InList(i) => {
                write!(f, "{} {}IN (", i.expr, if i.negated { "NOT " } else { "" })?;
                fmt_list(f, &i.list)?;
                f.write_str(")")
            }
            Expr::Like(l) => write!(
                f,
                "{} {}{} {}",
                l.expr,
                if l.negated { "NOT " } else { "" },
                if l.case_insensitive { "ILIKE" } else { "LIKE" },
                l.pattern
            ),
            Expr::RegexMatch(r) => write!(
                f,
                "{} {}~{} {}",
                r.expr,
                if r.negated { "!" } else { "" },
                if r.case_insensitive { "*" } else { "" },
                r.pattern
            ),
            Expr::ScalarFunction(s) => {
                write!(f, "{}(", s.func.name())?;
                fmt_list(f, &s.args)?;
                f.write_str(")")
            }
            Expr::Aggregate(a) => write!(f, "{a}"),
            Expr::WindowFunction(w) => write!(f, "{w}"),
            Expr::Alias(a) => match &a.relation {
                Some(relation) => write!(f, "{} AS {relation}.{}", a.expr, a.name),
                None => write!(f, "{} AS {}", a.expr, a.name),
            },
            Expr::OuterColumn(o) => write!(f, "{o}"),
            Expr::ScalarSubquery(_) => f.write_str("(<subquery>)"),
            Expr::Exists(x) => write!(
                f,
                "{}EXISTS (<subquery>)",
                if x.negated { "NOT " } else { "" }
            ),
            Expr::InSubquery(i) => write!(
                f,
                "{} {}IN (<subquery>)",
                i.expr,
                if i.negated { "NOT " } else { "" }
            ),
        }
    }
}

macro_rules! impl_binary_op {
    ($trait:ident, $method:ident, $op:ident) => {
        impl std::ops::$trait for Expr {
            type Output = Expr;
            fn $method(self, rhs: Expr) -> Expr {
                self.binary(Operator::$op, rhs)
            }
        }
    };
}
impl_binary_op!(Add, add, Plus);
impl_binary_op!(Sub, sub, Minus);
impl_binary_op!(Mul, mul, Multiply);
impl_binary_op!(Div, div, Divide);
impl_binary_op!(Rem, rem, Modulo);

impl std::ops::Neg for Expr {
    type Output = Expr;
    fn neg(self) -> Expr {
        Expr::Negative(Box::new(self))
    }
}
