//! Random QuerySets over the `Item` model, as a small AST ([`QuerySetSpec`]) with a proptest
//! strategy, a `Display` that prints Django's spelling (so a shrunk failure can be pasted into
//! a Django shell), and an interpreter that builds the `quiver::QuerySet`.
//!
//! The AST is typed: every expression and lookup value has the [`Kind`] of the thing it is
//! compared with, so generated QuerySets are valid Django (no "Cannot use None as a query
//! value", no mixed-type arithmetic that needs `output_field`). Strategies are structural
//! (`prop_oneof!`, `prop_recursive`, collections), so proptest shrinks a failure towards
//! fewer filters, smaller Q trees, fewer aggregates and simpler expressions.
//!
//! Exclusions, each because PostgreSQL (which Quiver follows) and DataFusion legitimately
//! disagree, and the result of one is not a reference for the other:
//! - Float expressions are never ORDER BY or GROUP BY keys, and `Min`/`Max` take fields only:
//!   arithmetic can produce `-0.0`, which PostgreSQL treats as equal to `0.0` and DataFusion
//!   orders before it.
//! - Floats are divided only by non-zero literals: PostgreSQL raises "division by zero" for
//!   floats, DataFusion returns ±infinity or NaN.
//! - Decimals are never divided: the scale of a decimal quotient is engine-defined (DataFusion
//!   rounds to 6 places, PostgreSQL keeps at least 16 significant digits). For the same
//!   reason decimal averages are never ORDER BY keys, and their values are compared within
//!   1e-6 (`mod.rs`: DataFusion truncates the sixth decimal place, Quiver rounds it).
//! - Integer arithmetic stays far from overflow (values within ±50, depth ≤ 2): DataFusion
//!   wraps on overflow where PostgreSQL raises.
//! - `Min`/`Max` never take a boolean: PostgreSQL has no `min(boolean)`.
//! - `Min`/`Max` never take a float: DataFusion's grouped MIN/MAX (the path any GROUP BY or
//!   a second, DISTINCT aggregate takes) keep the first of NaN and a number they meet, so
//!   `MAX` over `[NaN, 0.0]` is `0.0` (`mod.rs`: `datafusion_grouped_max_ignores_a_leading_nan`);
//!   PostgreSQL orders NaN above every number. `semantics.rs` checks Quiver's float MIN/MAX.
//! - No HAVING on a decimal aggregate when the query has a DISTINCT aggregate: DataFusion
//!   then fails with "Invalid comparison operation: Decimal128(31, 2) >= Decimal128(21, 2)"
//!   (`mod.rs`: `datafusion_fails_decimal_having_beside_a_distinct_aggregate`).

use std::fmt;

use proptest::prelude::*;
use quiver::prelude::*;
use quiver::QuerySet;

use super::tables::{date_text, naive_date, CATEGORIES, FIRST_DAY, REGIONS, TEXTS};

/// The value kind of a column or expression (Django's field class, up to size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Int,
    Float,
    Decimal,
    Text,
    Date,
    Bool,
}

impl Kind {
    fn is_numeric(self) -> bool {
        matches!(self, Kind::Int | Kind::Float | Kind::Decimal)
    }
}

/// A field path from `Item`, following the forward `owner` relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Id,
    Name,
    Category,
    Qty,
    Price,
    Amount,
    Day,
    Flag,
    /// The relation itself (compares the owner's key).
    Owner,
    OwnerName,
    OwnerRegion,
    OwnerScore,
}

/// Every column, in a fixed order (strategies pick from it).
pub const COLUMNS: [Column; 12] = [
    Column::Id,
    Column::Name,
    Column::Category,
    Column::Qty,
    Column::Price,
    Column::Amount,
    Column::Day,
    Column::Flag,
    Column::Owner,
    Column::OwnerName,
    Column::OwnerRegion,
    Column::OwnerScore,
];

impl Column {
    /// The Django lookup path.
    pub fn path(self) -> &'static str {
        match self {
            Column::Id => "id",
            Column::Name => "name",
            Column::Category => "category",
            Column::Qty => "qty",
            Column::Price => "price",
            Column::Amount => "amount",
            Column::Day => "day",
            Column::Flag => "flag",
            Column::Owner => "owner",
            Column::OwnerName => "owner__name",
            Column::OwnerRegion => "owner__region",
            Column::OwnerScore => "owner__score",
        }
    }

    /// The kind of its values.
    pub fn kind(self) -> Kind {
        match self {
            Column::Id | Column::Qty | Column::Owner | Column::OwnerScore => Kind::Int,
            Column::Price => Kind::Float,
            Column::Amount => Kind::Decimal,
            Column::Name | Column::Category | Column::OwnerName | Column::OwnerRegion => Kind::Text,
            Column::Day => Kind::Date,
            Column::Flag => Kind::Bool,
        }
    }

    /// Whether the column reads through the nullable `owner` relation.
    pub fn through_relation(self) -> bool {
        matches!(
            self,
            Column::OwnerName | Column::OwnerRegion | Column::OwnerScore
        )
    }

    /// The columns of a kind.
    pub fn of_kind(kind: Kind) -> Vec<Column> {
        COLUMNS.into_iter().filter(|c| c.kind() == kind).collect()
    }
}

/// A literal value, typed by its kind. Decimals are in cents (`DecimalField(10, 2)`), dates
/// in days since the epoch.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Int(i64),
    Float(f64),
    Decimal(i128),
    Text(String),
    Date(i32),
    Bool(bool),
}

impl Lit {
    /// The value as a QuerySet argument.
    pub fn expression(&self) -> Expression {
        match self {
            Lit::Int(v) => Value(*v),
            Lit::Float(v) => Value(*v),
            Lit::Decimal(cents) => Value(Decimal::new(*cents, 2)),
            Lit::Text(v) => Value(v.as_str()),
            Lit::Date(days) => Value(naive_date(*days)),
            Lit::Bool(v) => Value(*v),
        }
    }

    /// The value as SQL that DataFusion reads with the same type.
    pub fn sql(&self) -> String {
        match self {
            Lit::Int(v) => format!("CAST({v} AS BIGINT)"),
            Lit::Float(v) if v.is_nan() => "CAST('NaN' AS DOUBLE)".to_owned(),
            Lit::Float(v) => format!("CAST({v:?} AS DOUBLE)"),
            Lit::Decimal(cents) => format!("CAST('{}' AS DECIMAL(10, 2))", decimal_text(*cents)),
            Lit::Text(v) => format!("'{}'", v.replace('\'', "''")),
            Lit::Date(days) => format!("CAST('{}' AS DATE)", naive_date(*days)),
            Lit::Bool(v) => v.to_string(),
        }
    }
}

fn decimal_text(cents: i128) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}{}.{:02}", cents / 100, cents % 100)
}

/// Python's spelling of the literal.
impl fmt::Display for Lit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lit::Int(v) => write!(f, "{v}"),
            Lit::Float(v) if v.is_nan() => write!(f, "float(\"nan\")"),
            Lit::Float(v) if v.is_infinite() => {
                write!(f, "float(\"{}inf\")", if *v < 0.0 { "-" } else { "" })
            }
            Lit::Float(v) => write!(f, "{v:?}"),
            Lit::Decimal(cents) => write!(f, "Decimal(\"{}\")", decimal_text(*cents)),
            Lit::Text(v) => write!(f, "{v:?}"),
            Lit::Date(days) => write!(f, "date({})", date_text(*days)),
            Lit::Bool(true) => write!(f, "True"),
            Lit::Bool(false) => write!(f, "False"),
        }
    }
}

/// Substrings for `contains` and friends: letters in both cases, the characters whose case
/// mapping changes length, emoji, and the LIKE metacharacters (Django escapes them).
const FRAGMENTS: &[&str] = &[
    "a", "A", "b", "ab", "%", "_", "ß", "SS", "ss", "é", "É", "😀", "", "co", "CO", "x y",
];

/// Patterns for `regex`: literal text and `.*` gaps with and without anchors (which Quiver
/// matches by substring search), next to patterns only a regex engine can match.
const REGEX_PATTERNS: &[&str] = &[
    "a.*b", "^co", "b$", "^a.*b$", "co.*", "x y", "é.*ß", "a.*b.*c", "^$", ".*", "[ab]", "a+b",
    "^c.*o$", "ab.*?a",
];

/// A literal of `kind`, drawn from near the generated data so comparisons split it.
pub fn lit(kind: Kind) -> BoxedStrategy<Lit> {
    match kind {
        Kind::Int => (-25i64..=45).prop_map(Lit::Int).boxed(),
        Kind::Float => prop_oneof![
            8 => (-44i32..=44).prop_map(|k| Lit::Float(f64::from(k) * 0.25)),
            1 => Just(Lit::Float(f64::NAN)),
        ]
        .boxed(),
        Kind::Decimal => prop_oneof![
            4 => (-80i128..=80).prop_map(|k| Lit::Decimal(k * 25)),
            1 => (-2_000i128..=2_000).prop_map(Lit::Decimal),
        ]
        .boxed(),
        Kind::Text => {
            let pool: Vec<&'static str> = TEXTS
                .iter()
                .chain(CATEGORIES)
                .chain(REGIONS)
                .copied()
                .collect();
            prop::sample::select(pool)
                .prop_map(|s| Lit::Text(s.to_owned()))
                .boxed()
        }
        Kind::Date => (FIRST_DAY - 5..FIRST_DAY + 95).prop_map(Lit::Date).boxed(),
        Kind::Bool => any::<bool>().prop_map(Lit::Bool).boxed(),
    }
}

/// A literal to compare `subject` with: for model columns, drawn from that column's own
/// values, so that comparisons split the rows rather than match all or none.
fn lit_for(subject: Subject) -> BoxedStrategy<Lit> {
    let text = |pool: &[&'static str]| {
        prop::sample::select(pool.to_vec())
            .prop_map(|s| Lit::Text(s.to_owned()))
            .boxed()
    };
    match subject {
        Subject::Col(Column::Id) => (0i64..=42).prop_map(Lit::Int).boxed(),
        Subject::Col(Column::Owner) => (0i64..=6).prop_map(Lit::Int).boxed(),
        Subject::Col(Column::Qty) => (-22i64..=22).prop_map(Lit::Int).boxed(),
        Subject::Col(Column::OwnerScore) => (-55i64..=55).prop_map(Lit::Int).boxed(),
        Subject::Col(Column::Name | Column::OwnerName) => text(TEXTS),
        Subject::Col(Column::Category) => text(CATEGORIES),
        Subject::Col(Column::OwnerRegion) => text(REGIONS),
        Subject::Path(path, kind) => match path.rsplit("__").next().unwrap_or(path) {
            "id" => (0i64..=6).prop_map(Lit::Int).boxed(),
            "qty" => (-22i64..=22).prop_map(Lit::Int).boxed(),
            "score" => (-55i64..=55).prop_map(Lit::Int).boxed(),
            "name" => text(TEXTS),
            "category" => text(CATEGORIES),
            "region" => text(REGIONS),
            _ => lit(kind),
        },
        other => lit(other.kind()),
    }
}

/// A non-zero literal of a numeric kind (a divisor).
fn divisor(kind: Kind) -> BoxedStrategy<Lit> {
    match kind {
        Kind::Float => prop::sample::select(vec![0.25, 0.5, 2.0, 3.0, -4.0])
            .prop_map(Lit::Float)
            .boxed(),
        _ => prop::sample::select(vec![1i64, 2, 3, 7, -2, -3])
            .prop_map(Lit::Int)
            .boxed(),
    }
}

/// `+ - * / %`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl ArithOp {
    fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
        }
    }
}

/// A scalar expression (an annotation, the right side of a lookup, an aggregate argument).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `F("path")`.
    Col(Column),
    /// `Value(x)`.
    Lit(Lit),
    /// `left op right`.
    Arith(Box<Expr>, ArithOp, Box<Expr>),
    /// `Case(When(q, then=…), …, default=…)`; no default is `ELSE NULL`.
    Case(Vec<(QTree, Expr)>, Option<Box<Expr>>),
    /// `Coalesce(a, b)`.
    Coalesce(Box<Expr>, Box<Expr>),
}

impl Expr {
    /// The QuerySet expression.
    pub fn build(&self) -> Expression {
        match self {
            Expr::Col(column) => F(column.path()),
            Expr::Lit(value) => value.expression(),
            Expr::Arith(left, op, right) => {
                let (left, right) = (left.build(), right.build());
                match op {
                    ArithOp::Add => left + right,
                    ArithOp::Sub => left - right,
                    ArithOp::Mul => left * right,
                    ArithOp::Div => left / right,
                    ArithOp::Mod => left % right,
                }
            }
            Expr::Case(whens, default) => {
                let case = Case(
                    whens
                        .iter()
                        .map(|(condition, then)| When(condition.build(), then.build())),
                );
                match default {
                    Some(default) => case.default(default.build()),
                    None => case,
                }
            }
            Expr::Coalesce(first, second) => Coalesce([first.build(), second.build()]),
        }
    }

    /// Whether evaluating it can fail on some data (an integer division by a column).
    pub fn may_fail(&self) -> bool {
        match self {
            Expr::Col(_) | Expr::Lit(_) => false,
            Expr::Arith(left, op, right) => {
                (matches!(op, ArithOp::Div | ArithOp::Mod) && !matches!(**right, Expr::Lit(_)))
                    || left.may_fail()
                    || right.may_fail()
            }
            Expr::Case(whens, default) => {
                whens
                    .iter()
                    .any(|(q, then)| q.may_fail() || then.may_fail())
                    || default.as_ref().is_some_and(|d| d.may_fail())
            }
            Expr::Coalesce(first, second) => first.may_fail() || second.may_fail(),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Col(column) => write!(f, "F(\"{}\")", column.path()),
            Expr::Lit(value) => write!(f, "Value({value})"),
            Expr::Arith(left, op, right) => write!(f, "({left} {} {right})", op.symbol()),
            Expr::Case(whens, default) => {
                write!(f, "Case(")?;
                for (condition, then) in whens {
                    write!(f, "When({condition}, then={then}), ")?;
                }
                match default {
                    Some(default) => write!(f, "default={default})"),
                    None => write!(f, "default=None)"),
                }
            }
            Expr::Coalesce(first, second) => write!(f, "Coalesce({first}, {second})"),
        }
    }
}

/// An expression of `kind` over model columns, at most `depth` operators deep.
pub fn expr(kind: Kind, depth: u32) -> BoxedStrategy<Expr> {
    let columns = Column::of_kind(kind);
    let leaf = prop_oneof![
        3 => prop::sample::select(columns).prop_map(Expr::Col),
        1 => lit(kind).prop_map(Expr::Lit),
    ]
    .boxed();
    if depth == 0 {
        return leaf;
    }
    let inner = expr(kind, depth - 1);
    // Conditions inside a Case compare with values and fields only, so that generating an
    // expression does not recurse into expressions without bound.
    let condition = qtree_over(&[], Leaves::NoExpressions, 1);
    let case = (
        prop::collection::vec((condition, inner.clone()), 1..=2),
        prop::option::weighted(0.7, inner.clone()),
    )
        .prop_map(|(whens, default)| Expr::Case(whens, default.map(Box::new)));
    let coalesce =
        (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::Coalesce(Box::new(a), Box::new(b)));
    if !kind.is_numeric() {
        return prop_oneof![3 => leaf, 1 => case, 1 => coalesce].boxed();
    }
    let ring = (
        inner.clone(),
        prop::sample::select(vec![ArithOp::Add, ArithOp::Sub, ArithOp::Mul]),
        inner.clone(),
    )
        .prop_map(|(a, op, b)| Expr::Arith(Box::new(a), op, Box::new(b)));
    let division = match kind {
        // Decimal quotients round differently in every engine: see the module docs.
        Kind::Decimal => ring.clone().boxed(),
        Kind::Float => (inner.clone(), divisor(kind))
            .prop_map(|(a, d)| Expr::Arith(Box::new(a), ArithOp::Div, Box::new(Expr::Lit(d))))
            .boxed(),
        _ => prop_oneof![
            4 => (
                inner.clone(),
                prop::sample::select(vec![ArithOp::Div, ArithOp::Mod]),
                divisor(kind),
            )
                .prop_map(|(a, op, d)| Expr::Arith(Box::new(a), op, Box::new(Expr::Lit(d)))),
            // A division by a column that may hold 0: a data-dependent error in both engines.
            1 => (inner.clone(), prop::sample::select(Column::of_kind(Kind::Int)))
                .prop_map(|(a, c)| Expr::Arith(Box::new(a), ArithOp::Div, Box::new(Expr::Col(c)))),
        ]
        .boxed(),
    };
    prop_oneof![4 => leaf, 3 => ring, 1 => division, 1 => case, 1 => coalesce].boxed()
}

/// What a lookup is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A model field.
    Col(Column),
    /// An annotation (`a0`, `a1`, …) of the given kind.
    Ann(usize, Kind),
    /// An aggregate annotation (`HAVING`), by its index in the aggregate list.
    Agg(usize, Kind),
    /// A path from another model than `Item` (`owners.rs`: `items__qty` from `Owner`).
    Path(&'static str, Kind),
}

impl Subject {
    fn kind(self) -> Kind {
        match self {
            Subject::Col(column) => column.kind(),
            Subject::Ann(_, kind) | Subject::Agg(_, kind) | Subject::Path(_, kind) => kind,
        }
    }
}

/// The right side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Rhs {
    Lit(Lit),
    /// `None` (only for `exact`: `x=None` is `x IS NULL`).
    Null,
    /// `F("other")` of the same kind.
    Col(Column),
    /// An expression of the same kind.
    Expr(Expr),
}

impl Rhs {
    fn build(&self) -> Expression {
        match self {
            Rhs::Lit(value) => value.expression(),
            Rhs::Null => Expression::from(None::<i64>),
            Rhs::Col(column) => F(column.path()),
            Rhs::Expr(expr) => expr.build(),
        }
    }
}

impl fmt::Display for Rhs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rhs::Lit(value) => write!(f, "{value}"),
            Rhs::Null => write!(f, "None"),
            Rhs::Col(column) => write!(f, "F(\"{}\")", column.path()),
            Rhs::Expr(expr) => write!(f, "{expr}"),
        }
    }
}

/// A lookup and its value.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// `exact`, `gt`, `gte`, `lt`, `lte`.
    Compare(&'static str, Rhs),
    /// `in` with a list that may hold `None` (ignored) or be empty (matches nothing).
    In(Vec<Option<Lit>>),
    IsNull(bool),
    /// `contains`, `icontains`, `startswith`, `istartswith`, `endswith`, `iexact`, `regex`.
    Text(&'static str, String),
    Range(Lit, Lit),
}

/// A Q tree (its `Debug` is Django's spelling, so proptest prints shrunk cases readably).
#[derive(Clone, PartialEq)]
pub enum QTree {
    Leaf(Subject, Lookup),
    And(Vec<QTree>),
    Or(Vec<QTree>),
    Not(Box<QTree>),
}

impl QTree {
    fn leaf_path(subject: Subject, lookup: &Lookup) -> String {
        let name = match subject {
            Subject::Col(column) => column.path().to_owned(),
            Subject::Ann(index, _) => annotation_name(index),
            Subject::Agg(index, _) => format!("<aggregate {index}>"),
            Subject::Path(path, _) => path.to_owned(),
        };
        let lookup = match lookup {
            Lookup::Compare(name, _) | Lookup::Text(name, _) => name,
            Lookup::In(_) => "in",
            Lookup::IsNull(_) => "isnull",
            Lookup::Range(..) => "range",
        };
        format!("{name}__{lookup}")
    }

    /// The `Q` object, with aggregate subjects named by `aggregate_names`.
    pub fn build_with(&self, aggregate_names: &[String]) -> Q {
        match self {
            QTree::Leaf(subject, lookup) => {
                let mut path = Self::leaf_path(*subject, lookup);
                if let Subject::Agg(index, _) = subject {
                    path = path.replace(&format!("<aggregate {index}>"), &aggregate_names[*index]);
                }
                let value = match lookup {
                    Lookup::Compare(_, rhs) => rhs.build(),
                    Lookup::In(values) => Expression::List(
                        values
                            .iter()
                            .map(|v| {
                                v.as_ref()
                                    .map_or_else(|| Expression::from(None::<i64>), Lit::expression)
                            })
                            .collect(),
                    ),
                    Lookup::IsNull(value) => Value(*value),
                    Lookup::Text(_, fragment) => Value(fragment.as_str()),
                    Lookup::Range(low, high) => {
                        Expression::List(vec![low.expression(), high.expression()])
                    }
                };
                Q::new(path, value)
            }
            QTree::And(children) => children
                .iter()
                .map(|c| c.build_with(aggregate_names))
                .reduce(|a, b| a & b)
                .unwrap_or_else(Q::all),
            QTree::Or(children) => children
                .iter()
                .map(|c| c.build_with(aggregate_names))
                .reduce(|a, b| a | b)
                .unwrap_or_else(Q::all),
            QTree::Not(inner) => !inner.build_with(aggregate_names),
        }
    }

    /// The `Q` object (no aggregate subjects).
    pub fn build(&self) -> Q {
        self.build_with(&[])
    }

    /// Whether evaluating it can fail on some data.
    pub fn may_fail(&self) -> bool {
        match self {
            QTree::Leaf(_, Lookup::Compare(_, Rhs::Expr(expr))) => expr.may_fail(),
            QTree::Leaf(..) => false,
            QTree::And(children) | QTree::Or(children) => children.iter().any(QTree::may_fail),
            QTree::Not(inner) => inner.may_fail(),
        }
    }

    fn fmt_with(&self, f: &mut fmt::Formatter<'_>, aggregate_names: &[String]) -> fmt::Result {
        match self {
            QTree::Leaf(subject, lookup) => {
                let mut path = Self::leaf_path(*subject, lookup);
                if let Subject::Agg(index, _) = subject {
                    if let Some(name) = aggregate_names.get(*index) {
                        path = path.replace(&format!("<aggregate {index}>"), name);
                    }
                }
                let value = match lookup {
                    Lookup::Compare(_, rhs) => rhs.to_string(),
                    Lookup::In(values) => {
                        let items: Vec<String> = values
                            .iter()
                            .map(|v| v.as_ref().map_or_else(|| "None".to_owned(), Lit::to_string))
                            .collect();
                        format!("[{}]", items.join(", "))
                    }
                    Lookup::IsNull(true) => "True".to_owned(),
                    Lookup::IsNull(false) => "False".to_owned(),
                    Lookup::Text(_, fragment) => format!("{fragment:?}"),
                    Lookup::Range(low, high) => format!("({low}, {high})"),
                };
                write!(f, "Q({path}={value})")
            }
            QTree::And(children) | QTree::Or(children) => {
                let joiner = if matches!(self, QTree::And(_)) {
                    " & "
                } else {
                    " | "
                };
                write!(f, "(")?;
                for (index, child) in children.iter().enumerate() {
                    if index > 0 {
                        write!(f, "{joiner}")?;
                    }
                    child.fmt_with(f, aggregate_names)?;
                }
                write!(f, ")")
            }
            QTree::Not(inner) => {
                write!(f, "~")?;
                inner.fmt_with(f, aggregate_names)
            }
        }
    }
}

impl fmt::Display for QTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_with(f, &[])
    }
}

impl fmt::Debug for QTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_with(f, &[])
    }
}

/// Which lookups a Q tree's leaves may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaves {
    /// Every lookup; values are literals, `None`, `F()` of another column and expressions.
    Any,
    /// Literals, `None` and `F()` of another column.
    NoExpressions,
    /// Literals, `None` and `F()` of a non-nullable column or a nullable model field: the
    /// leaves for which Django's negation adds `IS NOT NULL` on both sides, so that
    /// `filter(q)` and `exclude(q)` split the table (see `metamorphic.rs`).
    TwoValuedUnderNegation,
}

/// A lookup on `subject`.
pub fn lookup(subject: Subject, rhs: Leaves) -> BoxedStrategy<Lookup> {
    let kind = subject.kind();
    let mut comparisons = vec!["exact", "gt", "gte", "lt", "lte"];
    if kind == Kind::Bool {
        comparisons = vec!["exact"];
    }
    // `F()` and expressions are `Item` paths: not for subjects on another model.
    let on_item = !matches!(subject, Subject::Path(..));
    let mut other_columns: Vec<Column> = if on_item {
        Column::of_kind(kind)
    } else {
        Vec::new()
    };
    if rhs == Leaves::TwoValuedUnderNegation {
        // Django adds `IS NOT NULL` for an F() on the right only when the field itself is
        // nullable; a non-nullable field read through the nullable relation stays NULL.
        other_columns.retain(|c| !c.through_relation() || *c == Column::OwnerRegion);
    }
    let rhs_value = {
        let mut options: Vec<(u32, BoxedStrategy<Rhs>)> =
            vec![(6, lit_for(subject).prop_map(Rhs::Lit).boxed())];
        if !other_columns.is_empty() {
            options.push((
                2,
                prop::sample::select(other_columns)
                    .prop_map(Rhs::Col)
                    .boxed(),
            ));
        }
        if rhs == Leaves::Any && kind.is_numeric() && on_item {
            options.push((1, expr(kind, 1).prop_map(Rhs::Expr).boxed()));
        }
        proptest::strategy::Union::new_weighted(options).boxed()
    };
    let compare = (prop::sample::select(comparisons), rhs_value)
        .prop_map(|(name, rhs)| Lookup::Compare(name, rhs));
    let is_null = prop_oneof![
        any::<bool>().prop_map(Lookup::IsNull),
        Just(Lookup::Compare("exact", Rhs::Null)),
    ];
    let in_list = prop::collection::vec(prop::option::weighted(0.85, lit_for(subject)), 0..4)
        .prop_map(Lookup::In);
    let mut options: Vec<(u32, BoxedStrategy<Lookup>)> = vec![
        (6, compare.boxed()),
        (2, is_null.boxed()),
        (2, in_list.boxed()),
    ];
    if kind != Kind::Bool {
        options.push((
            1,
            (
                lit_for(subject),
                lit_for(subject),
                prop::bool::weighted(0.85),
            )
                .prop_map(|(a, b, ascending)| {
                    // Mostly low <= high (an inverted range matches nothing).
                    let inverted = matches!(
                        (&a, &b),
                        (Lit::Int(x), Lit::Int(y)) if x > y
                    ) || matches!((&a, &b), (Lit::Float(x), Lit::Float(y)) if x > y)
                        || matches!((&a, &b), (Lit::Decimal(x), Lit::Decimal(y)) if x > y)
                        || matches!((&a, &b), (Lit::Text(x), Lit::Text(y)) if x > y)
                        || matches!((&a, &b), (Lit::Date(x), Lit::Date(y)) if x > y);
                    if inverted == ascending {
                        Lookup::Range(b, a)
                    } else {
                        Lookup::Range(a, b)
                    }
                })
                .boxed(),
        ));
    }
    if kind == Kind::Text {
        let names = vec![
            "contains",
            "icontains",
            "startswith",
            "istartswith",
            "endswith",
            "iexact",
        ];
        options.push((
            4,
            (prop::sample::select(names), prop::sample::select(FRAGMENTS))
                .prop_map(|(name, fragment)| Lookup::Text(name, fragment.to_owned()))
                .boxed(),
        ));
        options.push((
            2,
            prop::sample::select(REGEX_PATTERNS)
                .prop_map(|pattern| Lookup::Text("regex", pattern.to_owned()))
                .boxed(),
        ));
    }
    proptest::strategy::Union::new_weighted(options).boxed()
}

/// Combines leaves into `&`, `|` and `~` trees of at most `depth` levels.
pub fn tree(leaf: BoxedStrategy<QTree>, depth: u32) -> BoxedStrategy<QTree> {
    leaf.prop_recursive(depth, 8, 3, |inner| {
        prop_oneof![
            2 => prop::collection::vec(inner.clone(), 2..=3).prop_map(QTree::And),
            3 => prop::collection::vec(inner.clone(), 2..=3).prop_map(QTree::Or),
            2 => inner.prop_map(|q| QTree::Not(Box::new(q))),
        ]
    })
    .boxed()
}

/// A Q tree over model columns.
pub fn qtree(depth: u32) -> BoxedStrategy<QTree> {
    qtree_over(&[], Leaves::Any, depth)
}

/// A Q tree over model columns and the given annotations (`a0`, `a1`, … of these kinds).
pub fn qtree_over(annotations: &[Kind], rhs: Leaves, depth: u32) -> BoxedStrategy<QTree> {
    let mut subjects: Vec<Subject> = COLUMNS.into_iter().map(Subject::Col).collect();
    subjects.extend(
        annotations
            .iter()
            .enumerate()
            .map(|(index, kind)| Subject::Ann(index, *kind)),
    );
    let leaf = prop::sample::select(subjects)
        .prop_flat_map(move |subject| {
            lookup(subject, rhs).prop_map(move |l| QTree::Leaf(subject, l))
        })
        .boxed();
    tree(leaf, depth)
}

/// A HAVING tree over the aggregate results that have a kind here (`None`: not filtered on).
fn having(aggregates: &[Option<Kind>]) -> BoxedStrategy<QTree> {
    let subjects: Vec<Subject> = aggregates
        .iter()
        .enumerate()
        .filter_map(|(index, kind)| kind.map(|kind| Subject::Agg(index, kind)))
        .collect();
    let leaf = prop::sample::select(subjects)
        .prop_flat_map(|subject| {
            // Aggregates compare with literals (and NULL tests: empty groups, Min of NULLs).
            let compare = (
                prop::sample::select(vec!["exact", "gt", "gte", "lt", "lte"]),
                lit(subject.kind()),
            )
                .prop_map(|(name, value)| Lookup::Compare(name, Rhs::Lit(value)));
            let lookup = prop_oneof![4 => compare, 1 => any::<bool>().prop_map(Lookup::IsNull)];
            lookup.prop_map(move |l| QTree::Leaf(subject, l))
        })
        .boxed();
    tree(leaf, 2)
}

/// The name of the `index`th annotation.
pub fn annotation_name(index: usize) -> String {
    format!("a{index}")
}

/// One `filter()` or `exclude()` call.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterStep {
    pub exclude: bool,
    pub q: QTree,
}

/// Up to `max` filter/exclude calls, fewer more often: each call removes rows, and a
/// QuerySet that returns nothing tests little.
fn filter_steps(q: BoxedStrategy<QTree>, max: usize) -> BoxedStrategy<Vec<FilterStep>> {
    let step = (prop::bool::weighted(0.4), q).prop_map(|(exclude, q)| FilterStep { exclude, q });
    prop_oneof![
        2 => Just(Vec::new()),
        3 => prop::collection::vec(step.clone(), 1..=1),
        1 => prop::collection::vec(step, 1..=max.max(1)),
    ]
    .boxed()
}

/// `Count`, `Sum`, `Avg`, `Min`, `Max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

impl AggFunc {
    /// Django's class name.
    pub fn name(self) -> &'static str {
        match self {
            AggFunc::Count => "Count",
            AggFunc::Sum => "Sum",
            AggFunc::Avg => "Avg",
            AggFunc::Min => "Min",
            AggFunc::Max => "Max",
        }
    }

    /// The SQL function name.
    pub fn sql(self) -> &'static str {
        match self {
            AggFunc::Count => "COUNT",
            AggFunc::Sum => "SUM",
            AggFunc::Avg => "AVG",
            AggFunc::Min => "MIN",
            AggFunc::Max => "MAX",
        }
    }
}

/// What an aggregate aggregates.
#[derive(Debug, Clone, PartialEq)]
pub enum AggArg {
    /// `"*"` (`Count` only).
    Star,
    Col(Column),
    /// An expression of the given kind (needs an explicit alias).
    Expr(Kind, Expr),
}

/// One aggregate: `Sum("qty", distinct=True, filter=Q(...), default=0)`.
#[derive(Debug, Clone, PartialEq)]
pub struct AggSpec {
    pub func: AggFunc,
    pub arg: AggArg,
    pub distinct: bool,
    pub filter: Option<QTree>,
    pub default: Option<Lit>,
}

impl AggSpec {
    /// The kind of the result.
    pub fn kind(&self) -> Kind {
        let arg = match &self.arg {
            AggArg::Star => Kind::Int,
            AggArg::Col(column) => column.kind(),
            AggArg::Expr(kind, _) => *kind,
        };
        match (self.func, arg) {
            (AggFunc::Count, _) => Kind::Int,
            (AggFunc::Avg, Kind::Int) => Kind::Float,
            (_, kind) => kind,
        }
    }

    /// Whether the result is a decimal average, whose last digit is engine-defined: both
    /// engines keep 6 decimal places, but DataFusion truncates where Quiver rounds.
    pub fn is_decimal_average(&self) -> bool {
        self.func == AggFunc::Avg && self.kind() == Kind::Decimal
    }

    /// Django's default alias (`qty__sum`), when there is one: a plain field argument and no
    /// `filter` (a filter is a second source expression).
    pub fn default_alias(&self) -> Option<String> {
        match (&self.arg, &self.filter) {
            (AggArg::Col(column), None) => Some(format!(
                "{}__{}",
                column.path(),
                self.func.name().to_lowercase()
            )),
            _ => None,
        }
    }

    /// The aggregate expression.
    pub fn build(&self) -> Expression {
        let arg: Expression = match &self.arg {
            AggArg::Star => Expression::Star,
            AggArg::Col(column) => F(column.path()),
            AggArg::Expr(_, expr) => expr.build(),
        };
        let mut aggregate = match self.func {
            AggFunc::Count => Count(arg),
            AggFunc::Sum => Sum(arg),
            AggFunc::Avg => Avg(arg),
            AggFunc::Min => Min(arg),
            AggFunc::Max => Max(arg),
        };
        if self.distinct {
            aggregate = aggregate.distinct();
        }
        if let Some(filter) = &self.filter {
            aggregate = aggregate.filter(filter.build());
        }
        if let Some(default) = &self.default {
            aggregate = aggregate.default(default.expression());
        }
        aggregate
    }

    /// Whether evaluating it can fail on some data.
    pub fn may_fail(&self) -> bool {
        matches!(&self.arg, AggArg::Expr(_, expr) if expr.may_fail())
            || self.filter.as_ref().is_some_and(QTree::may_fail)
    }
}

impl fmt::Display for AggSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.func.name())?;
        match &self.arg {
            AggArg::Star => write!(f, "\"*\"")?,
            AggArg::Col(column) => write!(f, "\"{}\"", column.path())?,
            AggArg::Expr(_, expr) => write!(f, "{expr}")?,
        }
        if self.distinct {
            write!(f, ", distinct=True")?;
        }
        if let Some(filter) = &self.filter {
            write!(f, ", filter={filter}")?;
        }
        if let Some(default) = &self.default {
            write!(f, ", default={default}")?;
        }
        write!(f, ")")
    }
}

/// An aggregate over model columns and the given annotations.
pub fn aggregate(annotations: Vec<Kind>) -> BoxedStrategy<AggSpec> {
    let funcs = vec![
        AggFunc::Count,
        AggFunc::Sum,
        AggFunc::Avg,
        AggFunc::Min,
        AggFunc::Max,
    ];
    (prop::sample::select(funcs), prop::bool::weighted(0.2))
        .prop_flat_map(move |(func, distinct)| {
            let columns: Vec<Column> = COLUMNS
                .into_iter()
                .filter(|c| match func {
                    AggFunc::Count => true,
                    AggFunc::Sum | AggFunc::Avg => c.kind().is_numeric(),
                    // Not floats: DataFusion's grouped MIN/MAX keep whichever of NaN and a
                    // number came first (module docs).
                    AggFunc::Min | AggFunc::Max => !matches!(c.kind(), Kind::Bool | Kind::Float),
                })
                .collect();
            let mut args: Vec<(u32, BoxedStrategy<AggArg>)> = vec![(
                6,
                prop::sample::select(columns).prop_map(AggArg::Col).boxed(),
            )];
            match func {
                AggFunc::Count => args.push((2, Just(AggArg::Star).boxed())),
                AggFunc::Sum | AggFunc::Avg => {
                    let kinds = vec![Kind::Int, Kind::Float, Kind::Decimal];
                    args.push((
                        2,
                        prop::sample::select(kinds)
                            .prop_flat_map(|kind| {
                                expr(kind, 1).prop_map(move |e| AggArg::Expr(kind, e))
                            })
                            .boxed(),
                    ));
                }
                // Fields only: see the module docs (-0.0).
                AggFunc::Min | AggFunc::Max => {}
            }
            let filter = prop::option::weighted(0.25, qtree_over(&annotations, Leaves::Any, 1));
            (
                proptest::strategy::Union::new_weighted(args),
                filter,
                any::<bool>(),
            )
                .prop_flat_map(move |(arg, filter, with_default)| {
                    let star = arg == AggArg::Star;
                    let spec = AggSpec {
                        func,
                        arg,
                        // COUNT(DISTINCT *) is not SQL; Count("*", filter=…) is refused; Min
                        // and Max refuse distinct= ("Min does not allow distinct.").
                        distinct: distinct
                            && !star
                            && matches!(func, AggFunc::Count | AggFunc::Sum | AggFunc::Avg),
                        filter: if star { None } else { filter },
                        default: None,
                    };
                    let kind = spec.kind();
                    // Count refuses default= ("Count does not allow default").
                    let default = if func == AggFunc::Count || !with_default {
                        Just(None).boxed()
                    } else {
                        prop::option::weighted(0.3, lit(kind)).boxed()
                    };
                    default.prop_map(move |default| AggSpec {
                        default,
                        ..spec.clone()
                    })
                })
        })
        .boxed()
}

/// A column, annotation or aggregate: a `values()` entry, a group key, an order key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Col(Column),
    Ann(usize),
    Agg(usize),
}

/// One `order_by()` item: `"x"`, `"-x"`, or `F("x").asc(nulls_first=True)` and friends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderKey {
    pub target: Target,
    pub descending: bool,
    /// `Some(true)`: `nulls_first=True`; `Some(false)`: `nulls_last=True`.
    pub nulls_first: Option<bool>,
}

/// `qs[start:end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    pub start: usize,
    pub end: Option<usize>,
}

fn slice() -> impl Strategy<Value = Option<Slice>> {
    prop::option::weighted(
        0.3,
        (0usize..8, prop::option::weighted(0.8, 0usize..10)).prop_map(|(start, length)| Slice {
            start,
            end: length.map(|l| start + l),
        }),
    )
}

/// What the QuerySet returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Model rows (every field, then the annotations) or `values(...)`, maybe `distinct()`.
    Rows {
        values: Option<Vec<Target>>,
        distinct: bool,
    },
    /// `values(keys...).annotate(aggregates...)`, then HAVING filters.
    Group {
        keys: Vec<Target>,
        aggregates: Vec<AggSpec>,
        having: Vec<FilterStep>,
    },
    /// `aggregate(...)`.
    Aggregate { aggregates: Vec<AggSpec> },
    /// `count()`.
    Count,
}

/// A whole QuerySet: `Item.objects` + filters + annotations + filters + shape + order + slice.
/// Its `Debug` is its `Display`: the Django code.
#[derive(Clone, PartialEq)]
pub struct QuerySetSpec {
    pub before: Vec<FilterStep>,
    pub annotations: Vec<(Kind, Expr)>,
    pub after: Vec<FilterStep>,
    pub shape: Shape,
    pub order: Vec<OrderKey>,
    /// Whether `order` ends with keys that make the order total (set by the generator).
    pub total_order: bool,
    pub slice: Option<Slice>,
}

/// The result names of a shape's aggregates: the explicit alias `g<i>` where Django has no
/// default alias or where two default aliases would collide.
pub fn aggregate_names(aggregates: &[AggSpec]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (index, aggregate) in aggregates.iter().enumerate() {
        let name = match aggregate.default_alias() {
            Some(alias) if !names.contains(&alias) => alias,
            _ => format!("g{index}"),
        };
        names.push(name);
    }
    names
}

impl QuerySetSpec {
    fn target_name(&self, target: Target) -> String {
        match target {
            Target::Col(column) => column.path().to_owned(),
            Target::Ann(index) => annotation_name(index),
            Target::Agg(index) => match &self.shape {
                Shape::Group { aggregates, .. } => aggregate_names(aggregates)[index].clone(),
                _ => format!("<aggregate {index}>"),
            },
        }
    }

    fn order_item(&self, key: &OrderKey) -> OrderItem {
        let name = self.target_name(key.target);
        match (key.descending, key.nulls_first) {
            (false, None) => OrderItem::from(name),
            (true, None) => OrderItem::from(format!("-{name}")),
            (descending, Some(first)) => {
                let order = if descending {
                    F(name).desc()
                } else {
                    F(name).asc()
                };
                OrderItem::from(if first {
                    order.nulls_first()
                } else {
                    order.nulls_last()
                })
            }
        }
    }

    /// The QuerySet up to (not including) its shape, ordering and slice.
    fn build_base(&self, db: &Database) -> QuerySet {
        let mut qs = db.objects("Item");
        for step in &self.before {
            qs = apply_filter(&qs, step, &[]);
        }
        if !self.annotations.is_empty() {
            qs = qs.annotate(
                self.annotations
                    .iter()
                    .enumerate()
                    .map(|(index, (_, expr))| (annotation_name(index), expr.build())),
            );
        }
        for step in &self.after {
            qs = apply_filter(&qs, step, &[]);
        }
        qs
    }

    fn finish(&self, mut qs: QuerySet) -> QuerySet {
        if !self.order.is_empty() {
            let items: Vec<OrderItem> = self.order.iter().map(|k| self.order_item(k)).collect();
            qs = qs.order_by(items);
        }
        if let Some(slice) = self.slice {
            qs = qs.slice(range(slice));
        }
        qs
    }

    /// The QuerySet for the `Rows` and `Group` shapes; for `Aggregate` and `Count`, the
    /// QuerySet they evaluate over.
    pub fn build(&self, db: &Database) -> QuerySet {
        let qs = self.build_base(db);
        let qs = match &self.shape {
            Shape::Rows { values, distinct } => {
                let mut qs = match values {
                    Some(targets) => qs.values(targets.iter().map(|t| self.target_name(*t))),
                    None => qs,
                };
                if *distinct {
                    qs = qs.distinct();
                }
                qs
            }
            Shape::Group {
                keys,
                aggregates,
                having,
            } => {
                let names = aggregate_names(aggregates);
                let mut qs = qs
                    .values(keys.iter().map(|t| self.target_name(*t)))
                    .annotate(
                        names
                            .iter()
                            .zip(aggregates)
                            .map(|(name, aggregate)| (name.clone(), aggregate.build())),
                    );
                for step in having {
                    qs = apply_filter(&qs, step, &names);
                }
                qs
            }
            Shape::Aggregate { .. } | Shape::Count => qs,
        };
        self.finish(qs)
    }

    /// For `Aggregate`: the QuerySet of each aggregate's inputs, one column per input
    /// (`h_a<i>`: the argument; `h_f<i>`: whether the row passes the aggregate's filter),
    /// ordered and sliced as the aggregated QuerySet. DataFusion aggregates over its SQL.
    pub fn build_aggregate_inputs(&self, db: &Database) -> QuerySet {
        let Shape::Aggregate { aggregates } = &self.shape else {
            return self.build(db);
        };
        let mut inputs: Vec<(String, Expression)> = Vec::new();
        for (index, aggregate) in aggregates.iter().enumerate() {
            match &aggregate.arg {
                AggArg::Star => {}
                AggArg::Col(column) => inputs.push((format!("h_a{index}"), F(column.path()))),
                AggArg::Expr(_, expr) => inputs.push((format!("h_a{index}"), expr.build())),
            }
            if let Some(filter) = &aggregate.filter {
                let passes = Case([When(filter.build(), Value(true))]).default(Value(false));
                inputs.push((format!("h_f{index}"), passes));
            }
        }
        let mut qs = self.build_base(db);
        let names: Vec<String> = inputs.iter().map(|(name, _)| name.clone()).collect();
        if inputs.is_empty() {
            qs = qs.values(["id"]);
        } else {
            qs = qs.annotate(inputs).values(names);
        }
        self.finish(qs)
    }

    /// The `aggregate()` arguments.
    pub fn aggregate_args(&self) -> Vec<AggregateArg> {
        let Shape::Aggregate { aggregates } = &self.shape else {
            return Vec::new();
        };
        aggregate_names(aggregates)
            .into_iter()
            .zip(aggregates)
            .map(|(name, aggregate)| match aggregate.default_alias() {
                Some(alias) if alias == name => AggregateArg::from(aggregate.build()),
                _ => AggregateArg::from((name, aggregate.build())),
            })
            .collect()
    }

    /// Whether evaluating it can fail on some data (division by a column that may hold 0).
    pub fn may_fail(&self) -> bool {
        let steps = |steps: &[FilterStep]| steps.iter().any(|s| s.q.may_fail());
        let aggregates = match &self.shape {
            Shape::Group {
                aggregates, having, ..
            } => aggregates.iter().any(AggSpec::may_fail) || steps(having),
            Shape::Aggregate { aggregates } => aggregates.iter().any(AggSpec::may_fail),
            _ => false,
        };
        steps(&self.before)
            || self.annotations.iter().any(|(_, e)| e.may_fail())
            || steps(&self.after)
            || aggregates
    }
}

fn range(slice: Slice) -> (std::ops::Bound<isize>, std::ops::Bound<isize>) {
    use std::ops::Bound;
    let start = Bound::Included(slice.start as isize);
    let end = slice
        .end
        .map_or(Bound::Unbounded, |end| Bound::Excluded(end as isize));
    (start, end)
}

fn apply_filter(qs: &QuerySet, step: &FilterStep, aggregate_names: &[String]) -> QuerySet {
    let q = step.q.build_with(aggregate_names);
    if step.exclude {
        qs.exclude(q)
    } else {
        qs.filter(q)
    }
}

fn write_filters(
    f: &mut fmt::Formatter<'_>,
    steps: &[FilterStep],
    aggregate_names: &[String],
) -> fmt::Result {
    for step in steps {
        let method = if step.exclude { "exclude" } else { "filter" };
        write!(f, ".{method}(")?;
        step.q.fmt_with(f, aggregate_names)?;
        write!(f, ")")?;
    }
    Ok(())
}

impl fmt::Debug for QuerySetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// Django's spelling: `Item.objects.filter(...).annotate(...)...[a:b]`.
impl fmt::Display for QuerySetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted = |targets: &[Target]| -> String {
            targets
                .iter()
                .map(|t| format!("\"{}\"", self.target_name(*t)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(f, "Item.objects")?;
        write_filters(f, &self.before, &[])?;
        if !self.annotations.is_empty() {
            let items: Vec<String> = self
                .annotations
                .iter()
                .enumerate()
                .map(|(index, (_, expr))| format!("{}={expr}", annotation_name(index)))
                .collect();
            write!(f, ".annotate({})", items.join(", "))?;
        }
        write_filters(f, &self.after, &[])?;
        let aggregates_text = |aggregates: &[AggSpec]| -> String {
            aggregate_names(aggregates)
                .iter()
                .zip(aggregates)
                .map(|(name, aggregate)| format!("{name}={aggregate}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match &self.shape {
            Shape::Rows { values, distinct } => {
                if let Some(targets) = values {
                    write!(f, ".values({})", quoted(targets))?;
                }
                if *distinct {
                    write!(f, ".distinct()")?;
                }
            }
            Shape::Group {
                keys,
                aggregates,
                having,
            } => {
                write!(f, ".values({})", quoted(keys))?;
                write!(f, ".annotate({})", aggregates_text(aggregates))?;
                write_filters(f, having, &aggregate_names(aggregates))?;
            }
            Shape::Aggregate { .. } | Shape::Count => {}
        }
        if !self.order.is_empty() {
            let items: Vec<String> = self
                .order
                .iter()
                .map(|key| {
                    let name = self.target_name(key.target);
                    match key.nulls_first {
                        None if key.descending => format!("\"-{name}\""),
                        None => format!("\"{name}\""),
                        Some(first) => format!(
                            "F(\"{name}\").{}({}=True)",
                            if key.descending { "desc" } else { "asc" },
                            if first { "nulls_first" } else { "nulls_last" }
                        ),
                    }
                })
                .collect();
            write!(f, ".order_by({})", items.join(", "))?;
        }
        if let Some(slice) = self.slice {
            match slice.end {
                Some(end) => write!(f, "[{}:{end}]", slice.start)?,
                None => write!(f, "[{}:]", slice.start)?,
            }
        }
        match &self.shape {
            Shape::Aggregate { aggregates } => {
                write!(f, ".aggregate({})", aggregates_text(aggregates))
            }
            Shape::Count => write!(f, ".count()"),
            _ => Ok(()),
        }
    }
}

/// Order keys over `targets`, optionally completed by `unique` keys into a total order.
fn ordering(targets: Vec<Target>, unique: Vec<Target>) -> BoxedStrategy<(Vec<OrderKey>, bool)> {
    let key = |targets: Vec<Target>| {
        (
            prop::sample::select(targets),
            any::<bool>(),
            prop::option::weighted(0.2, any::<bool>()),
        )
            .prop_map(|(target, descending, nulls_first)| OrderKey {
                target,
                descending,
                nulls_first,
            })
    };
    let free = if targets.is_empty() {
        Just(Vec::new()).boxed()
    } else {
        prop::collection::vec(key(targets), 0..=2).boxed()
    };
    (free, prop::bool::weighted(0.75), any::<bool>())
        .prop_map(move |(mut keys, total, descending)| {
            if total && !unique.is_empty() {
                for target in &unique {
                    if !keys.iter().any(|k| k.target == *target) {
                        keys.push(OrderKey {
                            target: *target,
                            descending,
                            nulls_first: None,
                        });
                    }
                }
            }
            let total = total && !unique.is_empty();
            (keys, total)
        })
        .boxed()
}

/// Targets that may be ORDER BY / GROUP BY keys: not float expressions (module docs).
fn key_targets(annotations: &[Kind]) -> Vec<Target> {
    COLUMNS
        .into_iter()
        .map(Target::Col)
        .chain(
            annotations
                .iter()
                .enumerate()
                .filter(|(_, kind)| **kind != Kind::Float)
                .map(|(index, _)| Target::Ann(index)),
        )
        .collect()
}

fn shape_rows(annotations: Vec<Kind>) -> BoxedStrategy<(Shape, Vec<OrderKey>, bool)> {
    let keys = key_targets(&annotations);
    let all: Vec<Target> = COLUMNS
        .into_iter()
        .map(Target::Col)
        .chain((0..annotations.len()).map(Target::Ann))
        .collect();
    let values = prop::option::weighted(0.5, prop::sample::subsequence(all, 1..=4).prop_shuffle());
    (values, prop::bool::weighted(0.2))
        .prop_flat_map(move |(values, distinct)| {
            let distinct = distinct && values.is_some();
            // With distinct(), order only by selected keys (Django would add the others to
            // the DISTINCT); the order is total when every selected key is ordered.
            let (order_targets, unique) = match (&values, distinct) {
                (Some(selected), true) => {
                    let selected: Vec<Target> = selected
                        .iter()
                        .copied()
                        .filter(|t| keys.contains(t))
                        .collect();
                    let unique = if selected.len() == values.as_ref().map_or(0, Vec::len) {
                        selected.clone()
                    } else {
                        Vec::new()
                    };
                    (selected, unique)
                }
                _ => (keys.clone(), vec![Target::Col(Column::Id)]),
            };
            ordering(order_targets, unique).prop_map(move |(order, total)| {
                (
                    Shape::Rows {
                        values: values.clone(),
                        distinct,
                    },
                    order,
                    total,
                )
            })
        })
        .boxed()
}

fn shape_group(annotations: Vec<Kind>) -> BoxedStrategy<(Shape, Vec<OrderKey>, bool)> {
    let key_options = key_targets(&annotations);
    (
        prop::sample::subsequence(key_options, 1..=2).prop_shuffle(),
        prop::collection::vec(aggregate(annotations.clone()), 1..=3),
    )
        .prop_flat_map(|(keys, aggregates)| {
            let kinds: Vec<Kind> = aggregates.iter().map(AggSpec::kind).collect();
            // No HAVING on decimal aggregates next to a DISTINCT one: DataFusion then fails to
            // compare a decimal sum with a decimal literal (module docs).
            let any_distinct = aggregates.iter().any(|a| a.distinct);
            let filterable: Vec<Option<Kind>> = kinds
                .iter()
                .map(|kind| (!(any_distinct && *kind == Kind::Decimal)).then_some(*kind))
                .collect();
            let having_steps = if filterable.iter().any(Option::is_some) {
                filter_steps(having(&filterable), 1)
            } else {
                Just(Vec::new()).boxed()
            };
            // Not float aggregates (-0.0, see the module docs) nor decimal averages (their
            // last digit differs between engines, which can change ties).
            let mut order_targets = keys.clone();
            order_targets.extend(
                kinds
                    .iter()
                    .zip(&aggregates)
                    .enumerate()
                    .filter(|(_, (kind, aggregate))| {
                        **kind != Kind::Float && !aggregate.is_decimal_average()
                    })
                    .map(|(index, _)| Target::Agg(index)),
            );
            let keys_for_shape = keys.clone();
            (having_steps, ordering(order_targets, keys)).prop_map(
                move |(having, (order, total))| {
                    (
                        Shape::Group {
                            keys: keys_for_shape.clone(),
                            aggregates: aggregates.clone(),
                            having,
                        },
                        order,
                        total,
                    )
                },
            )
        })
        .boxed()
}

fn shape_aggregate(annotations: Vec<Kind>) -> BoxedStrategy<(Shape, Vec<OrderKey>, bool)> {
    let keys = key_targets(&annotations);
    (
        prop::collection::vec(aggregate(annotations), 1..=3),
        prop::bool::weighted(0.3),
    )
        .prop_flat_map(move |(aggregates, ordered)| {
            // Only a sliced aggregate needs an order; make it total so the slice is defined.
            let order = if ordered {
                ordering(keys.clone(), vec![Target::Col(Column::Id)])
            } else {
                Just((Vec::new(), false)).boxed()
            };
            order.prop_map(move |(order, total)| {
                (
                    Shape::Aggregate {
                        aggregates: aggregates.clone(),
                    },
                    order,
                    total,
                )
            })
        })
        .boxed()
}

/// A random QuerySet over `Item`.
pub fn queryset() -> impl Strategy<Value = QuerySetSpec> {
    let kinds = prop::collection::vec(
        prop::sample::select(vec![
            Kind::Int,
            Kind::Int,
            Kind::Float,
            Kind::Decimal,
            Kind::Text,
            Kind::Date,
        ]),
        0..=2,
    );
    (filter_steps(qtree(2), 2), kinds).prop_flat_map(|(before, kinds)| {
        let annotations: Vec<BoxedStrategy<(Kind, Expr)>> = kinds
            .iter()
            .map(|kind| {
                let kind = *kind;
                expr(kind, 2).prop_map(move |e| (kind, e)).boxed()
            })
            .collect();
        let after = filter_steps(qtree_over(&kinds, Leaves::Any, 2), 2);
        let shape = prop_oneof![
            4 => shape_rows(kinds.clone()),
            4 => shape_group(kinds.clone()),
            2 => shape_aggregate(kinds.clone()),
            1 => ordering(key_targets(&kinds), vec![Target::Col(Column::Id)])
                .prop_map(|(order, total)| (Shape::Count, order, total)),
        ];
        (Just(before.clone()), annotations, after, shape, slice()).prop_map(
            |(before, annotations, after, (shape, order, total_order), slice)| {
                // A slice of an order that is not total is not a defined set of rows.
                let slice = if total_order { slice } else { None };
                QuerySetSpec {
                    before,
                    annotations,
                    after,
                    shape,
                    order,
                    total_order,
                    slice,
                }
            },
        )
    })
}

/// A total order over `Item` as `order_by()` strings: up to two field keys (some through the
/// relation, either direction), then `id` or `-id`.
pub fn total_ordering() -> impl Strategy<Value = Vec<String>> {
    (
        prop::collection::vec(
            (prop::sample::select(COLUMNS.to_vec()), any::<bool>()),
            0..=2,
        ),
        any::<bool>(),
    )
        .prop_map(|(keys, descending)| {
            let sign = |descending: bool| if descending { "-" } else { "" };
            keys.into_iter()
                .map(|(column, descending)| format!("{}{}", sign(descending), column.path()))
                .chain([format!("{}id", sign(descending))])
                .collect()
        })
}
