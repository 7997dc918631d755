//! Lookups (`exact`, `icontains`, `in`, …) and transforms (`year`, `date`, …): the registry
//! that turns `filter(pub_date__year__gte=2020)` into a predicate.
//!
//! Both are tables — [`LOOKUPS`] maps a lookup name to the function that builds it,
//! [`TRANSFORMS`] maps a transform name to the engine function it applies and the column
//! types it applies to — so adding one is one row, and "which names exist for this field"
//! (for Django's "perhaps you meant …?" hint) is read off the same tables.
//!
//! A path is resolved as Django's `build_filter` does: the resolver consumes the field part
//! (`customer__region`), every further name but the last must be a transform, and the last
//! is a lookup or else a transform followed by an implicit `exact`.
//!
//! Semantics follow Django on PostgreSQL, with these choices written down:
//! - `iexact` is `UPPER(lhs) = UPPER(value)`, as Django renders it on PostgreSQL (no LIKE, so
//!   `%` and `_` in the value need no escaping).
//! - `contains`/`startswith`/`endswith` are `LIKE`, their `i…` forms `ILIKE`, with `\`, `%`
//!   and `_` in the value escaped so that `"50%"` matches literally. (Django writes
//!   `UPPER(lhs) LIKE UPPER(pattern)`; ILIKE is the same match and keeps the pattern
//!   recognisable to the engine.) With an expression on the right the pattern is built with
//!   `Concat` and `Replace`, and stays NULL when that expression is NULL, as SQL's `||` does.
//! - `__year`/`__iso_year` compared with a plain value become a range on the column itself
//!   (`created >= '2024-01-01 00:00:00' AND created <= '2024-12-31 23:59:59.999999'`), as
//!   Django's `YearLookup` does; it gives the same rows and lets chunk statistics prune.
//! - Values are converted to the field's type first ([`coercion`](super::coercion)), with
//!   Django's integer rules: a float `gte`/`lt` bound is rounded up, and a value outside the
//!   integer field's range matches nothing (or everything, for a bound on the open side).
//!
//! Inside a negated `Q` (and `exclude()`), a lookup on a nullable model field gets
//! `AND field IS NOT NULL` (and likewise for an `F()` of a nullable field on the right), as
//! Django's `build_filter` adds it, so that `filter(q)` and `exclude(q)` partition the rows.
//! Lookups on annotations get no such guard, as in Django.

use std::collections::HashMap;

use arrow::datatypes::DataType;
use chrono::{NaiveDate, Weekday};
use quiver_engine::expr::type_coercion::value_type;
use quiver_engine::expr::{Case, DatePart, Like, RegexMatch, ScalarFunction, ScalarFunctionExpr};
use quiver_engine::{lit, Expr, Operator, ScalarValue};

use super::coercion::{
    date_value, micros_of, prepare, python_repr, python_str, to_python_int, Prepared, Target,
};
use super::expression::{as_text, children, consumed_name, Expression, Resolved};
use super::resolver::{ResolvedField, Resolver};
use crate::error::{Error, Result};
use crate::model::FieldType;

/// The left-hand side of a lookup: the field, after any transforms.
struct Lhs {
    value: Resolved,
    /// The model field, until a transform replaces it.
    field_type: Option<FieldType>,
    /// Django's `field.name` in value errors (for a relation, its target field's).
    field_name: Option<String>,
    /// For `__year`/`__iso_year`: the expression the year was extracted from, and whether
    /// it is the ISO year.
    year_source: Option<(Resolved, bool)>,
    /// The nullable model column a negated lookup must exclude NULLs of.
    null_guard: Option<Expr>,
    /// True when the path named a model field (not an annotation): only then does Django
    /// add NULL guards in negated filters.
    model_field: bool,
}

impl Lhs {
    fn from_field(field: ResolvedField, name: &str) -> Lhs {
        let field_type = field.field_type.clone();
        // An annotation has a field type too (it coerces the value), but no model: Django's
        // `build_filter` returns before adding NULL guards for a referenced expression.
        let model_field = field_type.is_some() && field.model.is_some();
        let null_guard = (field.nullable && model_field).then(|| field.expr.clone());
        let field_name = match &field_type {
            Some(FieldType::ForeignKey(rel) | FieldType::OneToOneField(rel)) => {
                Some(rel.to_field.clone().unwrap_or_else(|| "id".to_string()))
            }
            Some(_) => Some(name.to_string()),
            None => None,
        };
        Lhs {
            value: Resolved::from_field(field, name),
            field_type,
            field_name,
            year_source: None,
            null_guard,
            model_field,
        }
    }

    fn is_relation(&self) -> bool {
        self.field_type
            .as_ref()
            .is_some_and(|f| f.relation().is_some())
    }

    fn is_integer(&self) -> bool {
        matches!(
            value_type(&self.value.data_type),
            DataType::Int16 | DataType::Int32 | DataType::Int64
        )
    }

    /// Applies transform `name`, or fails with Django's "Unsupported lookup '<name>'".
    fn transform(self, name: &str) -> Result<Lhs> {
        let Some(transform) = find_transform(name, &self.value.data_type) else {
            return Err(unsupported_transform(&self.value, name));
        };
        let year_source = match transform.kind {
            TransformKind::Extract(DatePart::Year) => Some((self.value.clone(), false)),
            TransformKind::Extract(DatePart::IsoYear) => Some((self.value.clone(), true)),
            _ => None,
        };
        Ok(Lhs {
            value: transform.apply(self.value)?,
            field_type: None,
            field_name: None,
            year_source,
            null_guard: self.null_guard,
            model_field: self.model_field,
        })
    }
}

/// A lookup being built: its sides, and the guard Django adds for a nullable column on the
/// right in negated filters.
struct LookupCall<'a> {
    lhs: &'a Lhs,
    rhs: &'a Expression,
    resolver: &'a mut dyn Resolver,
    rhs_guard: Option<Expr>,
}

impl LookupCall<'_> {
    fn target(&self) -> Target<'_> {
        Target::new(
            &self.lhs.value.data_type,
            self.lhs.field_type.as_ref(),
            self.lhs.field_name.as_deref(),
            self.lhs.value.nullable,
        )
    }

    fn prepare(&self, value: &ScalarValue) -> Result<Prepared> {
        prepare(&self.target(), value)
    }

    /// Resolves a right-hand side that is an expression (not a plain value).
    fn rhs_expression(&mut self) -> Result<Resolved> {
        let rhs = self.rhs.resolve_typed(self.resolver)?;
        if rhs.column.is_some() && rhs.nullable {
            self.rhs_guard = Some(rhs.expr.clone().is_not_null());
        }
        Ok(rhs)
    }

    fn lhs_compare(&self, op: Operator, rhs: Resolved) -> Result<Expr> {
        Ok(Resolved::node(vec![self.lhs.value.clone(), rhs], move |a| {
            let [l, r] = children(a);
            l.binary_op(op, r)
        })?
        .expr)
    }
}

type LookupBuilder = fn(&mut LookupCall<'_>) -> Result<Expr>;

/// A registered lookup.
struct Lookup {
    name: &'static str,
    build: LookupBuilder,
}

/// Django's built-in lookups (those registered on `Field`), by name.
static LOOKUPS: &[Lookup] = &[
    Lookup {
        name: "exact",
        build: exact,
    },
    Lookup {
        name: "iexact",
        build: iexact,
    },
    Lookup {
        name: "gt",
        build: gt,
    },
    Lookup {
        name: "gte",
        build: gte,
    },
    Lookup {
        name: "lt",
        build: lt,
    },
    Lookup {
        name: "lte",
        build: lte,
    },
    Lookup {
        name: "in",
        build: in_list,
    },
    Lookup {
        name: "contains",
        build: contains,
    },
    Lookup {
        name: "icontains",
        build: icontains,
    },
    Lookup {
        name: "startswith",
        build: startswith,
    },
    Lookup {
        name: "istartswith",
        build: istartswith,
    },
    Lookup {
        name: "endswith",
        build: endswith,
    },
    Lookup {
        name: "iendswith",
        build: iendswith,
    },
    Lookup {
        name: "range",
        build: range,
    },
    Lookup {
        name: "isnull",
        build: isnull,
    },
    Lookup {
        name: "regex",
        build: regex,
    },
    Lookup {
        name: "iregex",
        build: iregex,
    },
];

fn find_lookup(name: &str) -> Option<&'static Lookup> {
    LOOKUPS.iter().find(|l| l.name == name)
}

/// What a transform computes.
#[derive(Debug, Clone, Copy)]
enum TransformKind {
    Extract(DatePart),
    Date,
    Time,
}

/// A registered transform and the column types it is registered for (Django registers the
/// date parts on `DateField`, `date`/`time` on `DateTimeField`, `hour`/`minute`/`second` on
/// `DateTimeField` and `TimeField`).
struct Transform {
    name: &'static str,
    kind: TransformKind,
}

static TRANSFORMS: &[Transform] = &[
    Transform {
        name: "year",
        kind: TransformKind::Extract(DatePart::Year),
    },
    Transform {
        name: "iso_year",
        kind: TransformKind::Extract(DatePart::IsoYear),
    },
    Transform {
        name: "quarter",
        kind: TransformKind::Extract(DatePart::Quarter),
    },
    Transform {
        name: "month",
        kind: TransformKind::Extract(DatePart::Month),
    },
    Transform {
        name: "week",
        kind: TransformKind::Extract(DatePart::Week),
    },
    Transform {
        name: "day",
        kind: TransformKind::Extract(DatePart::Day),
    },
    Transform {
        name: "week_day",
        kind: TransformKind::Extract(DatePart::WeekDay),
    },
    Transform {
        name: "iso_week_day",
        kind: TransformKind::Extract(DatePart::IsoWeekDay),
    },
    Transform {
        name: "hour",
        kind: TransformKind::Extract(DatePart::Hour),
    },
    Transform {
        name: "minute",
        kind: TransformKind::Extract(DatePart::Minute),
    },
    Transform {
        name: "second",
        kind: TransformKind::Extract(DatePart::Second),
    },
    Transform {
        name: "date",
        kind: TransformKind::Date,
    },
    Transform {
        name: "time",
        kind: TransformKind::Time,
    },
];

impl Transform {
    fn accepts(&self, data_type: &DataType) -> bool {
        let (date, datetime, time) = match value_type(data_type) {
            DataType::Date32 => (true, false, false),
            DataType::Timestamp(..) => (false, true, false),
            DataType::Time64(_) => (false, false, true),
            _ => return false,
        };
        match self.kind {
            TransformKind::Extract(DatePart::Hour | DatePart::Minute | DatePart::Second) => {
                datetime || time
            }
            TransformKind::Extract(_) => date || datetime,
            TransformKind::Date | TransformKind::Time => datetime,
        }
    }

    fn apply(&self, input: Resolved) -> Result<Resolved> {
        let (func, output_field) = match self.kind {
            TransformKind::Extract(part) => {
                (ScalarFunction::Extract(part), FieldType::IntegerField)
            }
            TransformKind::Date => (ScalarFunction::ToDate, FieldType::DateField),
            TransformKind::Time => (ScalarFunction::ToTime, FieldType::TimeField),
        };
        let mut out = Resolved::node(vec![input], move |a| call(func, a))?;
        out.output_field = Ok(Some(output_field));
        Ok(out)
    }
}

fn find_transform(name: &str, data_type: &DataType) -> Option<&'static Transform> {
    TRANSFORMS
        .iter()
        .find(|t| t.name == name && t.accepts(data_type))
}

/// Applies transform `name` to an `F()` path's expression; `None` when no such transform
/// exists for its type.
pub(crate) fn apply_transform(name: &str, input: &Resolved) -> Option<Result<Resolved>> {
    find_transform(name, &input.data_type).map(|t| t.apply(input.clone()))
}

/// A scalar function call.
pub(crate) fn call(func: ScalarFunction, args: Vec<Expr>) -> Expr {
    Expr::ScalarFunction(ScalarFunctionExpr { func, args })
}

/// Builds the predicate for one `filter(path=value)` keyword; `negated` is whether it sits
/// under an odd number of negations (Django's `current_negated`).
pub(crate) fn build_filter(
    path: &str,
    value: &Expression,
    resolver: &mut dyn Resolver,
    negated: bool,
) -> Result<Expr> {
    let parts: Vec<&str> = path.split("__").collect();
    let (field, consumed) = resolver.resolve(&parts)?;
    let mut lhs = Lhs::from_field(field, consumed_name(&parts, consumed)?);
    let names = &parts[consumed..];
    let (lookup_name, transforms) = names.split_last().unwrap_or((&"exact", &[]));
    for name in transforms {
        lhs = lhs.transform(name)?;
    }
    let mut lookup = match find_lookup(lookup_name) {
        Some(lookup) => lookup,
        None => {
            lhs = lhs.transform(lookup_name)?;
            &LOOKUPS[0]
        }
    };
    let true_value = Expression::from(true);
    let mut rhs = value;
    if value.direct_value().is_some_and(ScalarValue::is_null) && lookup.name != "isnull" {
        // `__exact=None` is `IS NULL`; any other lookup refuses None.
        if !matches!(lookup.name, "exact" | "iexact") {
            return Err(Error::ValueError(
                "Cannot use None as a query value".to_string(),
            ));
        }
        lookup = find_lookup("isnull").unwrap_or(&LOOKUPS[0]);
        rhs = &true_value;
    }
    let mut call = LookupCall {
        lhs: &lhs,
        rhs,
        resolver,
        rhs_guard: None,
    };
    let mut predicate = (lookup.build)(&mut call)?;
    if negated && lookup.name != "isnull" && lhs.model_field {
        if let Some(column) = &lhs.null_guard {
            predicate = predicate.and(column.clone().is_not_null());
        }
        if let Some(guard) = call.rhs_guard.take() {
            predicate = predicate.and(guard);
        }
    }
    Ok(predicate)
}

/// Django's `try_transform` error for a name that is neither a lookup nor a transform of the
/// value: "Unsupported lookup 'name' for IntegerField or join on the field not permitted",
/// with difflib's "perhaps you meant …?" when a name is close. Django 5.1 names only the
/// name that failed, not the rest of the path after it.
pub(crate) fn unsupported_transform(value: &Resolved, name: &str) -> Error {
    let mut candidates: Vec<&str> = LOOKUPS.iter().map(|l| l.name).collect();
    candidates.extend(
        TRANSFORMS
            .iter()
            .filter(|t| t.accepts(&value.data_type))
            .map(|t| t.name),
    );
    let matches = close_matches(name, &candidates);
    let suggestion = if matches.is_empty() {
        ".".to_string()
    } else {
        format!(", perhaps you meant {}?", matches.join(" or "))
    };
    Error::FieldError(format!(
        "Unsupported lookup '{name}' for {} or join on the field not permitted{suggestion}",
        value.class_name()
    ))
}

/// Python's `difflib.get_close_matches(word, possibilities)` (n=3, cutoff=0.6): the best
/// matches by `SequenceMatcher.ratio()`, best first, ties by the larger string.
fn close_matches<'a>(word: &str, possibilities: &[&'a str]) -> Vec<&'a str> {
    let word: Vec<char> = word.chars().collect();
    let mut scored: Vec<(f64, &str)> = possibilities
        .iter()
        .filter_map(|candidate| {
            let chars: Vec<char> = candidate.chars().collect();
            let total = chars.len() + word.len();
            if total == 0 {
                return None;
            }
            let ratio = 2.0 * matching_characters(&chars, &word) as f64 / total as f64;
            (ratio >= 0.6).then_some((ratio, *candidate))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| b.1.cmp(a.1)));
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// The number of characters in `SequenceMatcher(None, a, b).get_matching_blocks()`.
fn matching_characters(a: &[char], b: &[char]) -> usize {
    let mut total = 0;
    let mut queue = vec![(0, a.len(), 0, b.len())];
    while let Some((alo, ahi, blo, bhi)) = queue.pop() {
        let (i, j, k) = longest_match(a, b, alo, ahi, blo, bhi);
        if k == 0 {
            continue;
        }
        total += k;
        if alo < i && blo < j {
            queue.push((alo, i, blo, j));
        }
        if i + k < ahi && j + k < bhi {
            queue.push((i + k, ahi, j + k, bhi));
        }
    }
    total
}

/// `SequenceMatcher.find_longest_match` without junk: the longest common block, the
/// earliest in `a` (then in `b`) among equals.
fn longest_match(
    a: &[char],
    b: &[char],
    alo: usize,
    ahi: usize,
    blo: usize,
    bhi: usize,
) -> (usize, usize, usize) {
    let (mut best_i, mut best_j, mut best_size) = (alo, blo, 0);
    let mut run_ending_at: HashMap<usize, usize> = HashMap::new();
    for (i, &ai) in a.iter().enumerate().take(ahi).skip(alo) {
        let mut next: HashMap<usize, usize> = HashMap::new();
        for j in (blo..bhi).filter(|&j| b[j] == ai) {
            let k = j
                .checked_sub(1)
                .and_then(|p| run_ending_at.get(&p))
                .copied()
                .unwrap_or(0)
                + 1;
            next.insert(j, k);
            if k > best_size {
                (best_i, best_j, best_size) = (i + 1 - k, j + 1 - k, k);
            }
        }
        run_ending_at = next;
    }
    (best_i, best_j, best_size)
}

fn exact(call: &mut LookupCall<'_>) -> Result<Expr> {
    comparison(call, Operator::Eq)
}

fn gt(call: &mut LookupCall<'_>) -> Result<Expr> {
    comparison(call, Operator::Gt)
}

fn gte(call: &mut LookupCall<'_>) -> Result<Expr> {
    comparison(call, Operator::GtEq)
}

fn lt(call: &mut LookupCall<'_>) -> Result<Expr> {
    comparison(call, Operator::Lt)
}

fn lte(call: &mut LookupCall<'_>) -> Result<Expr> {
    comparison(call, Operator::LtEq)
}

/// `exact`, `gt`, `gte`, `lt`, `lte`.
fn comparison(call: &mut LookupCall<'_>, op: Operator) -> Result<Expr> {
    let Some(value) = call.rhs.direct_value() else {
        let rhs = call.rhs_expression()?;
        return call.lhs_compare(op, rhs);
    };
    if let Some((source, iso)) = &call.lhs.year_source {
        return year_comparison(call, source, *iso, op, value);
    }
    let integer_field = call.lhs.is_integer() && !call.lhs.is_relation();
    let mut value = value.clone();
    // IntegerFieldFloatRounding: `age__gte=1.5` means `age >= 2`, `age__lt=1.5` `age < 2`.
    if let (true, Operator::GtEq | Operator::Lt, ScalarValue::Float64(Some(f))) =
        (integer_field, op, &value)
    {
        value = ScalarValue::Float64(Some(f.ceil()));
    }
    let prepared = call.prepare(&value)?;
    if let (true, Some(side)) = (integer_field, prepared.out_of_range) {
        // IntegerFieldOverflow: no value of the field is beyond its range, so the lookup
        // matches nothing, or (a bound below the range for gt/gte, above for lt/lte) every
        // row, NULLs included, as Django drops the condition.
        use std::cmp::Ordering::{Greater, Less};
        let everything = matches!(
            (op, side),
            (Operator::Gt | Operator::GtEq, Less) | (Operator::Lt | Operator::LtEq, Greater)
        );
        return Ok(lit(everything));
    }
    call.lhs_compare(op, Resolved::literal(prepared.value))
}

/// Django's `YearLookup`: `created__year=2024` compares the column with the year's bounds.
fn year_comparison(
    call: &LookupCall<'_>,
    source: &Resolved,
    iso: bool,
    op: Operator,
    value: &ScalarValue,
) -> Result<Expr> {
    let year = to_python_int(&call.target(), value)?;
    let (start, finish) = year_bounds(year, iso, &source.data_type)?;
    let (start, finish) = (Resolved::literal(start), Resolved::literal(finish));
    let node = Resolved::node(vec![source.clone(), start, finish], move |a| {
        let [column, start, finish] = children(a);
        match op {
            Operator::Gt => column.gt(finish),
            Operator::GtEq => column.gt_eq(start),
            Operator::Lt => column.lt(start),
            Operator::LtEq => column.lt_eq(finish),
            _ => column.clone().gt_eq(start).and(column.lt_eq(finish)),
        }
    })?;
    Ok(node.expr)
}

/// The first and last instant of a (calendar or ISO) year, in the source's type, as
/// Django's `year_lookup_bounds_for_date_field`/`…_datetime_field`.
fn year_bounds(year: i128, iso: bool, data_type: &DataType) -> Result<(ScalarValue, ScalarValue)> {
    let out_of_range = || Error::ValueError(format!("year {year} is out of range"));
    let year = i32::try_from(year)
        .ok()
        .filter(|y| (1..=9999).contains(y))
        .ok_or_else(out_of_range)?;
    let first_day = |y: i32| {
        if iso {
            NaiveDate::from_isoywd_opt(y, 1, Weekday::Mon)
        } else {
            NaiveDate::from_ymd_opt(y, 1, 1)
        }
    };
    let (start, next) = match (first_day(year), first_day(year + 1)) {
        (Some(s), Some(n)) => (s, n),
        _ => return Err(out_of_range()),
    };
    Ok(match value_type(data_type) {
        DataType::Date32 => {
            let last = next.pred_opt().ok_or_else(out_of_range)?;
            (date_value(start), date_value(last))
        }
        _ => {
            let start = micros_of(start.into());
            let next = micros_of(next.into());
            (
                ScalarValue::TimestampMicrosecond(Some(start)),
                ScalarValue::TimestampMicrosecond(Some(next - 1)),
            )
        }
    })
}

fn in_list(call: &mut LookupCall<'_>) -> Result<Expr> {
    if let Some(queryset) = super::subquery::SubqueryExpression::in_queryset(call.rhs) {
        let lhs = call.lhs.value.expr.clone();
        return super::subquery::in_queryset_predicate(lhs, &queryset, call.resolver);
    }
    let Expression::List(items) = call.rhs else {
        return Err(Error::TypeError(format!(
            "The 'in' lookup needs a list or tuple of values, not {}.",
            match call.rhs.direct_value() {
                Some(v) => python_repr(v),
                None => call.rhs.to_string(),
            }
        )));
    };
    let mut members: Vec<Resolved> = Vec::new();
    let mut seen: Vec<ScalarValue> = Vec::new();
    for item in items {
        match item.direct_value() {
            Some(value) => {
                let prepared = call.prepare(value)?;
                // None never equals anything; nor does a value the field cannot hold.
                if prepared.value.is_null()
                    || prepared.out_of_range.is_some()
                    || seen.contains(&prepared.value)
                {
                    continue;
                }
                seen.push(prepared.value.clone());
                members.push(Resolved::literal(prepared.value));
            }
            None => members.push(item.resolve_typed(call.resolver)?),
        }
    }
    if members.is_empty() {
        // Django's EmptyResultSet: `x__in=[]` matches nothing.
        return Ok(lit(false));
    }
    members.insert(0, call.lhs.value.clone());
    Ok(Resolved::node(members, |mut a| {
        let list = a.split_off(a.len().min(1));
        let [lhs] = children(a);
        lhs.in_list(list, false)
    })?
    .expr)
}

/// `range=(start, end)`: both ends inclusive, as SQL's `BETWEEN`.
fn range(call: &mut LookupCall<'_>) -> Result<Expr> {
    let bounds = match call.rhs {
        Expression::List(items) if items.len() == 2 => items,
        other => {
            return Err(Error::TypeError(format!(
                "The 'range' lookup needs a (start, end) pair, not {other}."
            )))
        }
    };
    let mut operands = vec![call.lhs.value.clone()];
    for bound in bounds {
        operands.push(match bound.direct_value() {
            Some(value) => Resolved::literal(call.prepare(value)?.value),
            None => bound.resolve_typed(call.resolver)?,
        });
    }
    Ok(Resolved::node(operands, |a| {
        let [lhs, start, end] = children(a);
        lhs.clone().gt_eq(start).and(lhs.lt_eq(end))
    })?
    .expr)
}

fn isnull(call: &mut LookupCall<'_>) -> Result<Expr> {
    let column = call.lhs.value.expr.clone();
    match call.rhs.direct_value() {
        Some(ScalarValue::Boolean(Some(true))) => Ok(column.is_null()),
        Some(ScalarValue::Boolean(Some(false))) => Ok(column.is_not_null()),
        _ => Err(Error::ValueError(
            "The QuerySet value for an isnull lookup must be True or False.".to_string(),
        )),
    }
}

/// The right-hand side of a string lookup: a plain value as Python's `str()` of it, or an
/// expression as text.
fn text_rhs(call: &mut LookupCall<'_>) -> Result<Resolved> {
    match call.rhs.direct_value() {
        Some(value) => Ok(Resolved::literal(ScalarValue::Utf8(Some(python_str(
            value,
        ))))),
        None => as_text(call.rhs_expression()?),
    }
}

fn iexact(call: &mut LookupCall<'_>) -> Result<Expr> {
    let lhs = as_text(call.lhs.value.clone())?;
    let rhs = text_rhs(call)?;
    Ok(Resolved::node(vec![lhs, rhs], |a| {
        let [l, r] = children(a);
        call_upper(l).eq(call_upper(r))
    })?
    .expr)
}

fn call_upper(e: Expr) -> Expr {
    call(ScalarFunction::Upper, vec![e])
}

/// Where a pattern lookup anchors its value.
#[derive(Debug, Clone, Copy)]
enum Anchor {
    Contains,
    StartsWith,
    EndsWith,
}

fn contains(call: &mut LookupCall<'_>) -> Result<Expr> {
    pattern_lookup(call, Anchor::Contains, false)
}

fn icontains(call: &mut LookupCall<'_>) -> Result<Expr> {
    pattern_lookup(call, Anchor::Contains, true)
}

fn startswith(call: &mut LookupCall<'_>) -> Result<Expr> {
    pattern_lookup(call, Anchor::StartsWith, false)
}

fn istartswith(call: &mut LookupCall<'_>) -> Result<Expr> {
    pattern_lookup(call, Anchor::StartsWith, true)
}

fn endswith(call: &mut LookupCall<'_>) -> Result<Expr> {
    pattern_lookup(call, Anchor::EndsWith, false)
}

fn iendswith(call: &mut LookupCall<'_>) -> Result<Expr> {
    pattern_lookup(call, Anchor::EndsWith, true)
}

/// `LIKE`'s escape: `\`, `%` and `_` stand for themselves (Django's `prep_for_like_query`).
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn pattern_lookup(
    call: &mut LookupCall<'_>,
    anchor: Anchor,
    case_insensitive: bool,
) -> Result<Expr> {
    let lhs = as_text(call.lhs.value.clone())?;
    let pattern = match call.rhs.direct_value() {
        Some(value) => {
            let text = escape_like(&python_str(value));
            let text = match anchor {
                Anchor::Contains => format!("%{text}%"),
                Anchor::StartsWith => format!("{text}%"),
                Anchor::EndsWith => format!("%{text}"),
            };
            Resolved::literal(ScalarValue::Utf8(Some(text)))
        }
        None => {
            let rhs = as_text(call.rhs_expression()?)?;
            pattern_of_expression(rhs, anchor)?
        }
    };
    Ok(Resolved::node(vec![lhs, pattern], move |a| {
        let [expr, pattern] = children(a);
        Expr::Like(Like {
            expr: Box::new(expr),
            pattern: Box::new(pattern),
            negated: false,
            case_insensitive,
        })
    })?
    .expr)
}

/// The LIKE pattern for an expression: its text escaped with `Replace` and anchored with
/// `Concat` (Django's `pattern_ops` with `pattern_esc`). `Concat` reads NULL as an empty
/// string where SQL's `||` gives NULL, so a nullable value keeps its NULL explicitly.
fn pattern_of_expression(rhs: Resolved, anchor: Anchor) -> Result<Resolved> {
    let nullable = rhs.nullable;
    Resolved::node(vec![rhs], move |a| {
        let [value] = children(a);
        let replace = |e: Expr, from: &str, to: &str| {
            call(ScalarFunction::Replace, vec![e, lit(from), lit(to)])
        };
        let escaped = replace(
            replace(replace(value.clone(), "\\", "\\\\"), "%", "\\%"),
            "_",
            "\\_",
        );
        let parts = match anchor {
            Anchor::Contains => vec![lit("%"), escaped, lit("%")],
            Anchor::StartsWith => vec![escaped, lit("%")],
            Anchor::EndsWith => vec![lit("%"), escaped],
        };
        let pattern = call(ScalarFunction::Concat, parts);
        if nullable {
            Expr::Case(Case {
                operand: None,
                when_then: vec![(value.is_not_null(), pattern)],
                else_expr: None,
            })
        } else {
            pattern
        }
    })
}

fn regex(call: &mut LookupCall<'_>) -> Result<Expr> {
    regex_lookup(call, false)
}

fn iregex(call: &mut LookupCall<'_>) -> Result<Expr> {
    regex_lookup(call, true)
}

/// PostgreSQL's `~` / `~*`.
fn regex_lookup(call: &mut LookupCall<'_>, case_insensitive: bool) -> Result<Expr> {
    let lhs = as_text(call.lhs.value.clone())?;
    let pattern = text_rhs(call)?;
    Ok(Resolved::node(vec![lhs, pattern], move |a| {
        let [expr, pattern] = children(a);
        Expr::RegexMatch(RegexMatch {
            expr: Box::new(expr),
            pattern: Box::new(pattern),
            negated: false,
            case_insensitive,
        })
    })?
    .expr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expressions::expression::tests::FakeResolver;
    use crate::expressions::F;

    fn filter(path: &str, value: impl Into<Expression>) -> String {
        shown(build_filter(path, &value.into(), &mut FakeResolver, false))
    }

    fn exclude(path: &str, value: impl Into<Expression>) -> String {
        shown(build_filter(path, &value.into(), &mut FakeResolver, true))
    }

    fn shown(result: Result<Expr>) -> String {
        match result {
            Ok(expr) => expr.to_string(),
            Err(err) => format!("{}: {err}", err.django_name()),
        }
    }

    const NONE: Option<i32> = None;

    #[test]
    fn exact_is_the_default_and_none_is_null() {
        assert_eq!(filter("age", 5), "(order.age = 5)");
        assert_eq!(filter("age__exact", 5), "(order.age = 5)");
        assert_eq!(filter("region", NONE), "order.region IS NULL");
        assert_eq!(filter("region__iexact", NONE), "order.region IS NULL");
        assert_eq!(filter("customer__name", "Ann"), "(customer.name = 'Ann')");
        assert_eq!(filter("customer", 7), "(order.customer = 7)");
        assert_eq!(
            filter("age__gt", NONE),
            "ValueError: Cannot use None as a query value"
        );
        assert_eq!(
            filter("status__contains", NONE),
            "ValueError: Cannot use None as a query value"
        );
    }

    #[test]
    fn values_are_converted_to_the_field() {
        assert_eq!(
            filter("signup", "2024-01-05"),
            "(order.signup = DATE '2024-01-05')"
        );
        assert_eq!(filter("amount__gte", 100), "(order.amount >= 100)");
        assert_eq!(filter("amount", "12.50"), "(order.amount = 12.50)");
        assert_eq!(filter("status", 5), "(order.status = '5')");
        assert_eq!(filter("score", 3i64), "(order.score = 3)");
        assert_eq!(filter("ratio__lt", 1), "(order.ratio < 1)");
        assert_eq!(filter("paid", "t"), "(order.paid = true)");
        assert_eq!(
            filter("created__gte", "2024-01-05"),
            "(order.created >= TIMESTAMP '2024-01-05T00:00:00')"
        );
        assert_eq!(
            filter("age", "abc"),
            "ValueError: Field 'age' expected a number but got 'abc'."
        );
        assert_eq!(
            filter("customer", "abc"),
            "ValueError: Field 'id' expected a number but got 'abc'."
        );
        assert_eq!(
            filter("signup", "05/01/2024"),
            "ValidationError: “05/01/2024” value has an invalid date format. It must be in YYYY-MM-DD format."
        );
        assert_eq!(
            filter("amount", "x"),
            "ValidationError: “x” value must be a decimal number."
        );
    }

    #[test]
    fn integer_rounding_and_overflow_follow_django() {
        assert_eq!(filter("age__gte", 1.5), "(order.age >= 2)");
        assert_eq!(filter("age__lt", 1.5), "(order.age < 2)");
        assert_eq!(filter("age__gt", 1.5), "(order.age > 1)");
        assert_eq!(filter("age", 1.9), "(order.age = 1)");
        assert_eq!(filter("score", 40_000), "false");
        assert_eq!(filter("score__gt", -40_000), "true");
        assert_eq!(filter("score__lte", 40_000), "true");
        assert_eq!(filter("score__lt", -40_000), "false");
        assert_eq!(filter("rank", -1), "false");
        assert_eq!(filter("rank__gte", -1), "true");
        // Relations compare instead (Django's related lookups have no overflow rule).
        assert_eq!(
            filter("customer__gt", "100000000000000000000"),
            "(order.customer > 100000000000000000000)"
        );
    }

    #[test]
    fn comparisons_with_expressions() {
        assert_eq!(filter("age__gt", F("score")), "(order.age > order.score)");
        assert_eq!(
            filter("age", F("score") + 1),
            "(order.age = (order.score + 1))"
        );
        assert_eq!(
            filter("status", F("age")),
            "FieldError: cannot compare Utf8 with Int32"
        );
    }

    #[test]
    fn pattern_lookups_escape_wildcards() {
        assert_eq!(
            filter("status__contains", "50%"),
            "order.status LIKE '%50\\%%'"
        );
        assert_eq!(
            filter("status__icontains", "a_b"),
            "order.status ILIKE '%a\\_b%'"
        );
        assert_eq!(
            filter("status__startswith", "x\\"),
            "order.status LIKE 'x\\\\%'"
        );
        assert_eq!(
            filter("status__istartswith", "ab"),
            "order.status ILIKE 'ab%'"
        );
        assert_eq!(
            filter("status__endswith", "it's"),
            "order.status LIKE '%it''s'"
        );
        assert_eq!(filter("status__iendswith", "z"), "order.status ILIKE '%z'");
        assert_eq!(
            filter("age__contains", 3),
            "CAST(order.age AS Utf8) LIKE '%3%'"
        );
        assert_eq!(
            filter("status__contains", F("notes")),
            "order.status LIKE CASE WHEN order.notes IS NOT NULL THEN concat('%', \
             replace(replace(replace(order.notes, '\\', '\\\\'), '%', '\\%'), '_', '\\_'), '%') END"
        );
        assert_eq!(
            filter("notes__istartswith", F("status")),
            "order.notes ILIKE concat(replace(replace(replace(order.status, '\\', '\\\\'), \
             '%', '\\%'), '_', '\\_'), '%')"
        );
    }

    #[test]
    fn iexact_and_regex() {
        assert_eq!(
            filter("status__iexact", "New"),
            "(upper(order.status) = upper('New'))"
        );
        assert_eq!(
            filter("status__iexact", "5%"),
            "(upper(order.status) = upper('5%'))"
        );
        assert_eq!(
            filter("status__iexact", F("customer__name")),
            "(upper(order.status) = upper(customer.name))"
        );
        assert_eq!(filter("status__regex", "^a.*b$"), "order.status ~ '^a.*b$'");
        assert_eq!(filter("status__iregex", "^A"), "order.status ~* '^A'");
    }

    #[test]
    fn in_ignores_none_and_empty_matches_nothing() {
        assert_eq!(
            filter("age__in", vec![1, 2, 2, 3]),
            "order.age IN (1, 2, 3)"
        );
        assert_eq!(
            filter("age__in", vec![Some(1), None, Some(3)]),
            "order.age IN (1, 3)"
        );
        assert_eq!(filter("age__in", Vec::<i32>::new()), "false");
        assert_eq!(filter("age__in", [NONE]), "false");
        assert_eq!(filter("score__in", [1, 70_000]), "order.score IN (1)");
        assert_eq!(
            filter("status__in", ["a", "b"]),
            "order.status IN ('a', 'b')"
        );
        assert_eq!(
            filter("age__in", vec![Expression::from(1), F("score")]),
            "order.age IN (1, order.score)"
        );
        assert_eq!(
            filter("age__in", 5),
            "TypeError: The 'in' lookup needs a list or tuple of values, not 5."
        );
        assert_eq!(
            filter("age__in", ["x"]),
            "ValueError: Field 'age' expected a number but got 'x'."
        );
    }

    #[test]
    fn range_is_inclusive() {
        assert_eq!(
            filter("age__range", (1, 10)),
            "((order.age >= 1) AND (order.age <= 10))"
        );
        assert_eq!(
            filter("signup__range", ("2024-01-01", "2024-01-31")),
            "((order.signup >= DATE '2024-01-01') AND (order.signup <= DATE '2024-01-31'))"
        );
        assert_eq!(
            filter("age__range", vec![1]),
            "TypeError: The 'range' lookup needs a (start, end) pair, not [1]."
        );
    }

    #[test]
    fn isnull_takes_a_boolean() {
        assert_eq!(filter("region__isnull", true), "order.region IS NULL");
        assert_eq!(filter("region__isnull", false), "order.region IS NOT NULL");
        assert_eq!(
            filter("region__isnull", 1),
            "ValueError: The QuerySet value for an isnull lookup must be True or False."
        );
    }

    #[test]
    fn transforms_chain_before_a_lookup() {
        assert_eq!(
            filter("created__month", 3),
            "(extract_month(order.created) = 3)"
        );
        assert_eq!(
            filter("created__hour__gte", 9),
            "(extract_hour(order.created) >= 9)"
        );
        assert_eq!(
            filter("created__date", "2024-01-05"),
            "(todate(order.created) = DATE '2024-01-05')"
        );
        assert_eq!(
            filter("created__time__lt", "12:00"),
            "(totime(order.created) < TIME '12:00:00')"
        );
        assert_eq!(filter("opens__hour", 9), "(extract_hour(order.opens) = 9)");
        assert_eq!(
            filter("signup__week_day__in", [1, 7]),
            "extract_week_day(order.signup) IN (1, 7)"
        );
        assert_eq!(
            filter("created__date__quarter", 2),
            "(extract_quarter(todate(order.created)) = 2)"
        );
        assert_eq!(
            filter("signup__iso_week_day", 1),
            "(extract_iso_week_day(order.signup) = 1)"
        );
        assert_eq!(
            filter("signup__week", 1),
            "(extract_week(order.signup) = 1)"
        );
        assert_eq!(filter("signup__day", 5), "(extract_day(order.signup) = 5)");
        assert_eq!(
            filter("created__minute", 5),
            "(extract_minute(order.created) = 5)"
        );
        assert_eq!(
            filter("created__second", 5),
            "(extract_second(order.created) = 5)"
        );
        assert_eq!(
            filter("created__month", "x"),
            "ValueError: Field 'None' expected a number but got 'x'."
        );
    }

    #[test]
    fn year_lookups_become_ranges_on_the_column() {
        assert_eq!(
            filter("created__year", 2024),
            "((order.created >= TIMESTAMP '2024-01-01T00:00:00') AND \
             (order.created <= TIMESTAMP '2024-12-31T23:59:59.999999'))"
        );
        assert_eq!(
            filter("signup__year", "2024"),
            "((order.signup >= DATE '2024-01-01') AND (order.signup <= DATE '2024-12-31'))"
        );
        assert_eq!(
            filter("signup__year__gt", 2024),
            "(order.signup > DATE '2024-12-31')"
        );
        assert_eq!(
            filter("signup__year__gte", 2024),
            "(order.signup >= DATE '2024-01-01')"
        );
        assert_eq!(
            filter("signup__year__lt", 2024),
            "(order.signup < DATE '2024-01-01')"
        );
        assert_eq!(
            filter("signup__year__lte", 2024),
            "(order.signup <= DATE '2024-12-31')"
        );
        // ISO 2021 runs from Monday 2021-01-04 to Sunday 2022-01-02.
        assert_eq!(
            filter("signup__iso_year", 2021),
            "((order.signup >= DATE '2021-01-04') AND (order.signup <= DATE '2022-01-02'))"
        );
        assert_eq!(
            filter("created__date__year", 2024),
            "((todate(order.created) >= DATE '2024-01-01') AND \
             (todate(order.created) <= DATE '2024-12-31'))"
        );
        // Other lookups and expression values use the extracted year.
        assert_eq!(
            filter("signup__year__in", [2023, 2024]),
            "extract_year(order.signup) IN (2023, 2024)"
        );
        assert_eq!(
            filter("signup__year", F("age")),
            "(extract_year(order.signup) = order.age)"
        );
        assert_eq!(
            filter("signup__year", 0),
            "ValueError: year 0 is out of range"
        );
    }

    #[test]
    fn unknown_names_raise_djangos_field_error() {
        assert_eq!(
            filter("status__foo", 1),
            "FieldError: Unsupported lookup 'foo' for CharField or join on the field not permitted."
        );
        assert_eq!(
            filter("age__gtee", 1),
            "FieldError: Unsupported lookup 'gtee' for IntegerField or join on the field not \
             permitted, perhaps you meant gte or gt?"
        );
        assert_eq!(
            filter("created__yaer", 1),
            "FieldError: Unsupported lookup 'yaer' for DateTimeField or join on the field not \
             permitted, perhaps you meant year?"
        );
        assert_eq!(
            filter("created__foo__gte", 1),
            "FieldError: Unsupported lookup 'foo' for DateTimeField or join on the field not \
             permitted."
        );
        assert_eq!(
            filter("created__year__foo", 1),
            "FieldError: Unsupported lookup 'foo' for IntegerField or join on the field not \
             permitted."
        );
        assert_eq!(
            filter("signup__hour", 1),
            "FieldError: Unsupported lookup 'hour' for DateField or join on the field not \
             permitted."
        );
        assert_eq!(
            filter("customer__foo", 1),
            "FieldError: Unsupported lookup 'foo' for ForeignKey or join on the field not \
             permitted."
        );
        assert_eq!(
            filter("total__foo", 1),
            "FieldError: Unsupported lookup 'foo' for DecimalField or join on the field not \
             permitted."
        );
    }

    #[test]
    fn negated_lookups_keep_null_rows_out_of_the_match() {
        assert_eq!(
            exclude("region", "EU"),
            "((order.region = 'EU') AND order.region IS NOT NULL)"
        );
        // Non-nullable fields need no guard.
        assert_eq!(exclude("status", "new"), "(order.status = 'new')");
        // isnull and exact-None never get one.
        assert_eq!(exclude("region__isnull", true), "order.region IS NULL");
        assert_eq!(exclude("region__isnull", false), "order.region IS NOT NULL");
        assert_eq!(exclude("region", NONE), "order.region IS NULL");
        // The guard is on the column, also under transforms.
        assert_eq!(
            exclude("signup__month", 1),
            "((extract_month(order.signup) = 1) AND order.signup IS NOT NULL)"
        );
        // An F() of a nullable field on the right gets its own guard.
        assert_eq!(
            exclude("age", F("score")),
            "((order.age = order.score) AND order.score IS NOT NULL)"
        );
        assert_eq!(
            exclude("region", F("notes")),
            "(((order.region = order.notes) AND order.region IS NOT NULL) AND order.notes IS NOT NULL)"
        );
        // Through a nullable relation.
        assert_eq!(
            exclude("customer__name__startswith", "A"),
            "(customer.name LIKE 'A%' AND customer.name IS NOT NULL)"
        );
        // Annotations get none, as in Django.
        assert_eq!(exclude("label", "x"), "(label = 'x')");
        assert_eq!(exclude("total__gt", 5), "(sum(order.amount) > 5)");
        // `in []` stays a constant.
        assert_eq!(
            exclude("region__in", Vec::<&str>::new()),
            "(false AND order.region IS NOT NULL)"
        );
    }

    #[test]
    fn close_matches_are_pythons() {
        let names: Vec<&str> = LOOKUPS.iter().map(|l| l.name).collect();
        assert_eq!(close_matches("gtt", &names), vec!["gt", "gte"]);
        assert_eq!(close_matches("iexcat", &names), vec!["iexact", "exact"]);
        assert_eq!(close_matches("zzz", &names), Vec::<&str>::new());
        assert_eq!(
            close_matches("contain", &names),
            vec!["contains", "icontains"]
        );
        let abc: Vec<char> = "abcd".chars().collect();
        let bcd: Vec<char> = "bcde".chars().collect();
        assert_eq!(matching_characters(&abc, &bcd), 3);
    }
}
