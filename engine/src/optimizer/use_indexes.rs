//! [`UseIndexes`]: reads a table through one of its indexes when a pushed-down filter or a
//! top-k order can be answered by it.
//!
//! The rule chooses, per scan, one index and records the lookup on the scan; the scan's filters
//! stay and are still applied to the rows the index returns, so the index only has to find a
//! superset of them.
//!
//! ```text
//! before                                        after
//! Scan: account AS T0 filters=[(T0.id = 7)]     Scan: account AS T0 filters=[(T0.id = 7)] index=account_pkey points=1
//!
//! Sort: T0.created DESC NULLS FIRST, fetch=10   Sort: T0.created DESC NULLS FIRST, fetch=10
//!   Scan: order AS T0                             Scan: order AS T0 index=order_created_idx order=desc limit=10
//! ```
//!
//! Served: `=` and `IN` on a hash or ordered index; `<`, `<=`, `>`, `>=` (and `BETWEEN`, which
//! arrives as two of them) on an ordered index; `ORDER BY key [DESC] LIMIT k` with PostgreSQL's
//! default NULL placement on an ordered index, when every filter of the scan is a range on the
//! key (or implied by the index, below); later sort keys (`order_by("-created", "id")[:k]`)
//! make the index also return every row tied with the last one it read on the indexed column
//! (`with ties` in EXPLAIN). `get()`/`exists()` by key are point lookups. Float keys
//! sort as PostgreSQL orders floats (`-0 = 0`, NaN above every number; `quiver_storage::RowKey`),
//! so a float column's index serves all of these too.
//!
//! A composite index `(a, b, ...)` serves equalities or `IN` lists on a prefix of its columns,
//! then a range on the next one (`a = 1`, `a IN (1, 2) AND b = 2`, `a = 1 AND b > 5`) — an `IN`
//! list makes one lookup per combination of values, up to [`MAX_PREFIXES`]; the lookup with the
//! most fixed columns wins, a single-column one on ties. An ordered composite index also serves
//! a top-k on the column after that prefix when the prefix (and a range on that column) is
//! every filter of the scan — `Meta.indexes = [Index(fields=["customer", "-created"])]` with
//! `filter(customer=1).order_by("-created")[:10]`, or `filter(customer__in=[1, 2])...`, where
//! each customer's first ten rows are read and the sort above keeps the ten best of them:
//!
//! ```text
//! Sort: T0.created DESC NULLS FIRST, fetch=10
//!   Scan: order AS T0 filters=[(T0.customer_id = 1)] index=order_customer_id_created_idx prefix=[1] order=desc limit=10
//! ```
//!
//! A partial index (`Index(..., condition=Q(...))`) holds only the rows its condition accepts,
//! so it is read only when the scan's filters imply that condition: each conjunct of the
//! condition is one of the filters, or follows from the filters' equalities, `IN` lists and
//! ranges on the same column (`amount >= 900` from `amount = 950` or `amount > 1000`;
//! `amount IS NOT NULL` from any comparison on `amount`). A filter the condition implies in
//! turn (one of its conjuncts, or the same test written otherwise) is then answered by the
//! index itself, which lets
//! `Index(fields=["-created"], condition=Q(status="open"))` serve
//! `filter(status="open").order_by("-created")[:10]`.
//!
//! # Index nested loop joins
//!
//! [`index_join`] chooses, for the physical planner, when a join reads its inner table through
//! an index (`physical_plan/index_nested_loop_join.rs`): the outer side is estimated small and
//! the inner side is a plain scan with an index whose leading columns the join keys fix —
//! a single-column index on the key, or a composite one on the key and more, in any order
//! of the join's keys — followed by columns the inner scan's equalities fix (so
//! `Index(fields=["customer", "status"])` serves `filter(status="open", customer__name="c3")`
//! with one look-up per customer). A partial index qualifies when the inner scan's filters
//! imply its condition. Every filter of the inner scan stays as a residual on the rows found.
//! A semi join (`filter(customer__in=Customer.objects.filter(...))`) reads its left side so
//! when the subquery's side is the small one:
//!
//! ```text
//! IndexNestedLoopJoinExec: LEFT SEMI JOIN, on=[customer_id@1 = id@0], index=visit_customer_status prefix=[customer_id, status = 1 value] (…)
//!   ScanExec: visit filters=[(status@2 = 'void')] partitions=1
//!   IndexScanExec: customer index=customer_name_key points=2, rows=2
//! ```
//!
//! Switch the rule off with `SessionConfig::disable_rule("use_indexes")`; the same switch turns
//! off the index nested loop join.

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;

use arrow::datatypes::DataType;
use quiver_storage::{column_keys, IndexDefinition, IndexKind, RowKey, ScalarValue};

use super::simplify_expressions::simplify;
use super::{cardinality, join_cardinality, OptimizerRule};
use crate::error::Result;
use crate::execution::SessionConfig;
use crate::expr::{Column, Expr, Operator, Transformed};
use crate::logical_plan::{IndexKeys, IndexLookup, Join, JoinType, LogicalPlan, Scan, Sort};
use crate::physical_plan::index_nested_loop_join::MAX_OUTER_ROWS;

/// At most this many lookups (combinations of `IN` values on a composite prefix) per scan; a
/// longer product fixes fewer columns.
pub const MAX_PREFIXES: usize = 1024;

/// Chooses index lookups for scans; see the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct UseIndexes;

impl OptimizerRule for UseIndexes {
    fn name(&self) -> &'static str {
        "use_indexes"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
        plan.transform_up(&mut |node| {
            match node.as_ref() {
                LogicalPlan::Scan(scan) if scan.index.is_none() && !scan.filters.is_empty() => {
                    if let Some(lookup) = filter_lookup(scan)? {
                        let scan = Scan {
                            index: Some(lookup),
                            ..scan.clone()
                        };
                        return Ok(Transformed::yes(Arc::new(LogicalPlan::Scan(scan))));
                    }
                }
                LogicalPlan::Sort(sort) => {
                    if let Some(new) = ordered_top_k(sort)? {
                        return Ok(Transformed::yes(new));
                    }
                }
                _ => {}
            }
            Ok(Transformed::no(node))
        })
    }
}

/// An index the scan may read, with the conjuncts of its condition (none for a full index).
struct Candidate {
    definition: IndexDefinition,
    condition: Vec<Expr>,
}

/// `expr` with every column qualified by the scan's relation (conditions were compiled under
/// another alias, and filters and conditions are compared as expressions).
fn on_scan(scan: &Scan, expr: Expr) -> Result<Expr> {
    Ok(expr
        .transform_up(&mut |e| match e {
            Expr::Column(column) if column.relation.as_deref() != Some(&scan.relation) => {
                Ok(Transformed::yes(Expr::Column(Column::qualified(
                    scan.relation.clone(),
                    column.name,
                ))))
            }
            other => Ok(Transformed::no(other)),
        })?
        .data)
}

/// The conjuncts of the scan's filters, qualified by its relation.
fn scan_conjuncts(scan: &Scan) -> Result<Vec<Expr>> {
    scan.filters
        .iter()
        .flat_map(|f| f.clone().split_conjunction())
        .map(|c| on_scan(scan, c))
        .collect()
}

/// The scan's full indexes, and its partial indexes whose condition `conjuncts` imply, in
/// declaration order.
fn candidates(scan: &Scan, conjuncts: &[Expr]) -> Result<Vec<Candidate>> {
    let mut out = Vec::new();
    for definition in scan.source.indexes() {
        if definition.condition.is_none() {
            out.push(Candidate {
                definition,
                condition: vec![],
            });
            continue;
        }
        let Some(expr) = definition
            .condition_expr
            .as_ref()
            .and_then(|e| e.downcast_ref::<Expr>())
        else {
            continue;
        };
        // In the form the scan's filters reached after simplification, so equal conjuncts
        // compare equal. A condition that does not simplify leaves the index unread rather
        // than failing the query.
        let Ok(condition) = on_scan(scan, expr.clone())
            .and_then(|expr| simplify(expr, &scan.table_schema()))
            .map(|simplified| simplified.data.split_conjunction())
        else {
            continue;
        };
        if condition.iter().all(|c| implied(scan, c, conjuncts)) {
            out.push(Candidate {
                definition,
                condition,
            });
        }
    }
    Ok(out)
}

/// The position of the column `expr` reads from `scan`'s table (looking through integer widening
/// casts), if it is one.
fn scan_column(scan: &Scan, expr: &Expr) -> Option<usize> {
    match expr {
        Expr::Column(column) => {
            if column
                .relation
                .as_deref()
                .is_some_and(|r| r != scan.relation)
            {
                return None;
            }
            scan.source.schema().index_of(&column.name).ok()
        }
        Expr::Cast(cast) if is_integer(&cast.data_type) => {
            let index = scan_column(scan, &cast.expr)?;
            is_integer(scan.source.schema().field(index).data_type()).then_some(index)
        }
        _ => None,
    }
}

fn is_integer(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
    )
}

fn column_type(scan: &Scan, column: usize) -> DataType {
    scan.source.schema().field(column).data_type().clone()
}

/// True when index keys built from a literal of this type equal the keys of the column's
/// values (row keys normalise integers, and text whatever its encoding).
fn comparable(column: &DataType, literal: &ScalarValue) -> bool {
    let literal = literal.data_type();
    let text = |t: &DataType| matches!(t, DataType::Utf8 | DataType::Dictionary(_, _));
    (is_integer(column) && is_integer(&literal))
        || (text(column) && text(&literal))
        || column == &literal
}

/// How good a lookup is: columns it fixes, then whether it bounds a range.
type Score = (usize, usize);

/// The best lookup the scan's filters allow: the most fixed columns (a composite prefix), then
/// a point lookup before a range; on ties the single-column index.
fn filter_lookup(scan: &Scan) -> Result<Option<IndexLookup>> {
    let conjuncts = scan_conjuncts(scan)?;
    let candidates = candidates(scan, &conjuncts)?;
    let mut best: Option<(Score, IndexLookup)> = None;
    let mut consider = |score: Score, lookup: IndexLookup| {
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, lookup));
        }
    };
    let single: Vec<&IndexDefinition> = candidates
        .iter()
        .map(|c| &c.definition)
        .filter(|d| d.columns.len() == 1)
        .collect();
    'points: for definition in &single {
        let column = definition.columns[0];
        let data_type = column_type(scan, column);
        for conjunct in &conjuncts {
            if let Some(points) = points_on(scan, column, conjunct) {
                if points.iter().all(|v| comparable(&data_type, v)) {
                    consider(
                        (1, 0),
                        IndexLookup {
                            index: definition.name.clone(),
                            keys: IndexKeys::Points(points),
                            with_ties: false,
                        },
                    );
                    break 'points;
                }
            }
        }
    }
    for definition in single.iter().filter(|d| d.kind == IndexKind::Ordered) {
        let column = definition.columns[0];
        let (low, high) = bounds_on(scan, column, &conjuncts);
        if !matches!((&low, &high), (Bound::Unbounded, Bound::Unbounded)) {
            consider(
                (0, 1),
                IndexLookup {
                    index: definition.name.clone(),
                    keys: IndexKeys::Range { low, high },
                    with_ties: false,
                },
            );
            break;
        }
    }
    for candidate in candidates.iter().filter(|c| c.definition.columns.len() > 1) {
        let definition = &candidate.definition;
        let sets = prefix_sets(scan, &definition.columns, &conjuncts);
        let (low, high) = match definition.columns.get(sets.len()) {
            Some(&next) if definition.kind == IndexKind::Ordered => {
                bounds_on(scan, next, &conjuncts)
            }
            // A hash index serves the whole key only.
            Some(_) => continue,
            None => (Bound::Unbounded, Bound::Unbounded),
        };
        let ranged = usize::from(!matches!(
            (&low, &high),
            (Bound::Unbounded, Bound::Unbounded)
        ));
        if sets.is_empty() && ranged == 0 {
            continue;
        }
        consider(
            (sets.len(), ranged),
            IndexLookup {
                index: definition.name.clone(),
                keys: IndexKeys::Prefix {
                    prefixes: combinations(&sets),
                    low,
                    high,
                    order: None,
                },
                with_ties: false,
            },
        );
    }
    Ok(best.map(|(_, lookup)| lookup))
}

/// Per leading column of `columns` (an index's, or the ones after those a join fixes), the
/// values conjuncts `column = v` / `column IN (...)` allow it (non-NULL, of a comparable type;
/// the values every such conjunct allows), for the longest prefix of columns that have some,
/// shortened until the combinations number at most [`MAX_PREFIXES`].
fn prefix_sets(scan: &Scan, columns: &[usize], conjuncts: &[Expr]) -> Vec<Vec<ScalarValue>> {
    let mut sets: Vec<Vec<ScalarValue>> = Vec::new();
    for &column in columns {
        let data_type = column_type(scan, column);
        let mut allowed: Option<Vec<ScalarValue>> = None;
        for conjunct in conjuncts {
            let Some(points) = points_on(scan, column, conjunct) else {
                continue;
            };
            if !points.iter().all(|v| comparable(&data_type, v)) {
                continue;
            }
            allowed = Some(match allowed {
                None => distinct(points),
                Some(so_far) => so_far
                    .into_iter()
                    .filter(|v| points.iter().any(|p| same_value(p, v)))
                    .collect(),
            });
        }
        match allowed {
            Some(values) => sets.push(values),
            None => break,
        }
    }
    while sets.iter().map(Vec::len).product::<usize>() > MAX_PREFIXES {
        sets.pop();
    }
    sets
}

fn distinct(values: Vec<ScalarValue>) -> Vec<ScalarValue> {
    let mut out: Vec<ScalarValue> = Vec::with_capacity(values.len());
    for value in values {
        if !out.iter().any(|v| same_value(v, &value)) {
            out.push(value);
        }
    }
    out
}

fn same_value(a: &ScalarValue, b: &ScalarValue) -> bool {
    compare(a, b) == Some(Ordering::Equal)
}

/// Every combination of one value per set, in order.
fn combinations(sets: &[Vec<ScalarValue>]) -> Vec<Vec<ScalarValue>> {
    sets.iter().fold(vec![vec![]], |prefixes, values| {
        prefixes
            .iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut next = prefix.clone();
                    next.push(v.clone());
                    next
                })
            })
            .collect()
    })
}

/// The tightest bounds the conjuncts' comparisons put on `column` (non-NULL, comparable
/// values only).
fn bounds_on(
    scan: &Scan,
    column: usize,
    conjuncts: &[Expr],
) -> (Bound<ScalarValue>, Bound<ScalarValue>) {
    let data_type = column_type(scan, column);
    let (mut low, mut high) = (Bound::Unbounded, Bound::Unbounded);
    for conjunct in conjuncts {
        if let Some((op, value)) = comparison_on(scan, column, conjunct) {
            if !comparable(&data_type, &value) || value.is_null() {
                continue;
            }
            match op {
                Operator::Gt => low = tighter_low(low, Bound::Excluded(value)),
                Operator::GtEq => low = tighter_low(low, Bound::Included(value)),
                Operator::Lt => high = tighter_high(high, Bound::Excluded(value)),
                Operator::LtEq => high = tighter_high(high, Bound::Included(value)),
                _ => {}
            }
        }
    }
    (low, high)
}

/// `column = v`, `column IN (v, ...)` or, on a boolean column, `column` / `NOT column`: the
/// values (NULLs never match and are dropped).
fn points_on(scan: &Scan, column: usize, conjunct: &Expr) -> Option<Vec<ScalarValue>> {
    match conjunct {
        Expr::BinaryExpr(b) if b.op == Operator::Eq => {
            let value = match (b.left.as_ref(), b.right.as_ref()) {
                (left, Expr::Literal(v)) if scan_column(scan, left) == Some(column) => v,
                (Expr::Literal(v), right) if scan_column(scan, right) == Some(column) => v,
                _ => return None,
            };
            Some(if value.is_null() {
                vec![]
            } else {
                vec![value.clone()]
            })
        }
        Expr::InList(list) if !list.negated && scan_column(scan, &list.expr) == Some(column) => {
            list.list
                .iter()
                .map(|e| match e {
                    Expr::Literal(v) => Some(v.clone()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .map(|values| values.into_iter().filter(|v| !v.is_null()).collect())
        }
        Expr::Column(_) if scan_column(scan, conjunct) == Some(column) => {
            (column_type(scan, column) == DataType::Boolean)
                .then(|| vec![ScalarValue::Boolean(Some(true))])
        }
        Expr::Not(inner)
            if matches!(inner.as_ref(), Expr::Column(_))
                && scan_column(scan, inner) == Some(column) =>
        {
            (column_type(scan, column) == DataType::Boolean)
                .then(|| vec![ScalarValue::Boolean(Some(false))])
        }
        _ => None,
    }
}

/// `column <op> v` (or `v <op> column`, flipped) for the four order comparisons.
fn comparison_on(scan: &Scan, column: usize, conjunct: &Expr) -> Option<(Operator, ScalarValue)> {
    let Expr::BinaryExpr(b) = conjunct else {
        return None;
    };
    let flipped = match b.op {
        Operator::Gt => Operator::Lt,
        Operator::GtEq => Operator::LtEq,
        Operator::Lt => Operator::Gt,
        Operator::LtEq => Operator::GtEq,
        _ => return None,
    };
    match (b.left.as_ref(), b.right.as_ref()) {
        (left, Expr::Literal(v)) if scan_column(scan, left) == Some(column) => {
            Some((b.op, v.clone()))
        }
        (Expr::Literal(v), right) if scan_column(scan, right) == Some(column) => {
            Some((flipped, v.clone()))
        }
        _ => None,
    }
}

/// The value as the index orders it.
fn order_key(value: &ScalarValue) -> Option<RowKey> {
    column_keys(&value.to_array(1)).ok()?.into_iter().next()
}

/// How SQL orders two non-NULL values of one column's type (integers of any width alike;
/// floats as PostgreSQL does, `-0 = 0` and NaN above every number); `None` when they do not
/// compare.
fn compare(a: &ScalarValue, b: &ScalarValue) -> Option<Ordering> {
    if a.is_null() || b.is_null() {
        return None;
    }
    let (a, b) = (order_key(a)?, order_key(b)?);
    (std::mem::discriminant(&a) == std::mem::discriminant(&b)).then(|| a.cmp(&b))
}

fn bound_value(bound: &Bound<ScalarValue>) -> Option<&ScalarValue> {
    match bound {
        Bound::Included(v) | Bound::Excluded(v) => Some(v),
        Bound::Unbounded => None,
    }
}

/// Of two lower bounds, the one that admits fewer rows (an incomparable pair keeps the first).
fn tighter_low(current: Bound<ScalarValue>, new: Bound<ScalarValue>) -> Bound<ScalarValue> {
    match (bound_value(&current), bound_value(&new)) {
        (None, _) => new,
        (Some(a), Some(b)) => match compare(b, a) {
            Some(Ordering::Greater) => new,
            Some(Ordering::Equal) if matches!(new, Bound::Excluded(_)) => new,
            _ => current,
        },
        (Some(_), None) => current,
    }
}

fn tighter_high(current: Bound<ScalarValue>, new: Bound<ScalarValue>) -> Bound<ScalarValue> {
    match (bound_value(&current), bound_value(&new)) {
        (None, _) => new,
        (Some(a), Some(b)) => match compare(b, a) {
            Some(Ordering::Less) => new,
            Some(Ordering::Equal) if matches!(new, Bound::Excluded(_)) => new,
            _ => current,
        },
        (Some(_), None) => current,
    }
}

/// What a conjunct of a partial index's condition asks of one column.
enum ColumnTest {
    Compare(Operator, ScalarValue),
    In(Vec<ScalarValue>),
    NotNull,
}

/// `condition` as a test on one column of the scan, when it is one.
fn column_test(scan: &Scan, condition: &Expr) -> Option<(usize, ColumnTest)> {
    if let Expr::IsNotNull(inner) = condition {
        return Some((scan_column(scan, inner)?, ColumnTest::NotNull));
    }
    if let Expr::InList(list) = condition {
        let column = scan_column(scan, &list.expr)?;
        return points_on(scan, column, condition).map(|values| (column, ColumnTest::In(values)));
    }
    let Expr::BinaryExpr(b) = condition else {
        // A boolean column, or its negation.
        let column = match condition {
            Expr::Not(inner) => scan_column(scan, inner)?,
            _ => scan_column(scan, condition)?,
        };
        let [value] = points_on(scan, column, condition)?.try_into().ok()?;
        return Some((column, ColumnTest::Compare(Operator::Eq, value)));
    };
    let column = scan_column(scan, &b.left).or_else(|| scan_column(scan, &b.right))?;
    if b.op == Operator::Eq {
        let [value] = points_on(scan, column, condition)?.try_into().ok()?;
        return Some((column, ColumnTest::Compare(Operator::Eq, value)));
    }
    let (op, value) = comparison_on(scan, column, condition)?;
    (!value.is_null()).then_some((column, ColumnTest::Compare(op, value)))
}

/// True when the scan's filter conjuncts imply `condition` (a conjunct of a partial index's
/// condition): it is one of them, or their equalities, `IN` lists and ranges on its column
/// imply it.
fn implied(scan: &Scan, condition: &Expr, conjuncts: &[Expr]) -> bool {
    if conjuncts.contains(condition)
        || matches!(condition, Expr::Literal(ScalarValue::Boolean(Some(true))))
    {
        return true;
    }
    let Some((column, test)) = column_test(scan, condition) else {
        return false;
    };
    let data_type = column_type(scan, column);
    let usable = |v: &ScalarValue| !v.is_null() && comparable(&data_type, v);
    let point_sets: Vec<Vec<ScalarValue>> = conjuncts
        .iter()
        .filter_map(|c| points_on(scan, column, c))
        .filter(|points| points.iter().all(usable))
        .collect();
    let (low, high) = bounds_on(scan, column, conjuncts);
    match test {
        ColumnTest::NotNull => {
            !point_sets.is_empty()
                || !matches!((&low, &high), (Bound::Unbounded, Bound::Unbounded))
                || conjuncts.iter().any(|c| match c {
                    Expr::IsNotNull(inner) => scan_column(scan, inner) == Some(column),
                    _ => false,
                })
        }
        ColumnTest::Compare(op, value) => {
            if !usable(&value) {
                return false;
            }
            point_sets
                .iter()
                .any(|points| points.iter().all(|p| satisfies(p, op, &value)))
                || interval_within(&low, &high, op, &value)
        }
        ColumnTest::In(values) => {
            let inside = |p: &ScalarValue| values.iter().any(|v| same_value(p, v));
            let single = match (&low, &high) {
                (Bound::Included(l), Bound::Included(h)) if same_value(l, h) => Some(l),
                _ => None,
            };
            point_sets.iter().any(|points| points.iter().all(inside)) || single.is_some_and(inside)
        }
    }
}

/// `value <op> bound` holds.
fn satisfies(value: &ScalarValue, op: Operator, bound: &ScalarValue) -> bool {
    let Some(ordering) = compare(value, bound) else {
        return false;
    };
    match op {
        Operator::Eq => ordering == Ordering::Equal,
        Operator::Lt => ordering == Ordering::Less,
        Operator::LtEq => ordering != Ordering::Greater,
        Operator::Gt => ordering == Ordering::Greater,
        Operator::GtEq => ordering != Ordering::Less,
        _ => false,
    }
}

/// Every value within `low..high` satisfies `value <op> bound`.
fn interval_within(
    low: &Bound<ScalarValue>,
    high: &Bound<ScalarValue>,
    op: Operator,
    bound: &ScalarValue,
) -> bool {
    let at_least = |b: &Bound<ScalarValue>, strict: bool| match b {
        Bound::Included(v) => {
            satisfies(v, if strict { Operator::Gt } else { Operator::GtEq }, bound)
        }
        Bound::Excluded(v) => satisfies(v, Operator::GtEq, bound),
        Bound::Unbounded => false,
    };
    let at_most = |b: &Bound<ScalarValue>, strict: bool| match b {
        Bound::Included(v) => {
            satisfies(v, if strict { Operator::Lt } else { Operator::LtEq }, bound)
        }
        Bound::Excluded(v) => satisfies(v, Operator::LtEq, bound),
        Bound::Unbounded => false,
    };
    match op {
        Operator::GtEq => at_least(low, false),
        Operator::Gt => at_least(low, true),
        Operator::LtEq => at_most(high, false),
        Operator::Lt => at_most(high, true),
        Operator::Eq => match (low, high) {
            (Bound::Included(l), Bound::Included(h)) => {
                satisfies(l, Operator::Eq, bound) && satisfies(h, Operator::Eq, bound)
            }
            _ => false,
        },
        _ => false,
    }
}

/// `Sort(fetch = k)` on a column of a scan (then any other keys), through an ordered index in
/// that column's order:
/// the index's rows after a prefix of fixed columns, within the bounds the filters put on the
/// sort column, when every filter is such a prefix equality, such a bound or implied by the
/// index's condition (so the index's first `k` rows per prefix hold the query's first `k`).
/// The sort stays and orders them; with more sort keys the index also returns every row tied
/// with the last one it read, among which the later keys choose.
fn ordered_top_k(sort: &Sort) -> Result<Option<Arc<LogicalPlan>>> {
    let (Some(fetch), [key, rest @ ..]) = (sort.fetch, sort.exprs.as_slice()) else {
        return Ok(None);
    };
    // PostgreSQL's default NULL placement is what the index order gives.
    if key.nulls_first == key.asc {
        return Ok(None);
    }
    let LogicalPlan::Scan(scan) = sort.input.as_ref() else {
        return Ok(None);
    };
    let Expr::Column(_) = &key.expr else {
        return Ok(None);
    };
    let Some(column) = scan_column(scan, &key.expr) else {
        return Ok(None);
    };
    let Some(mut lookup) = top_k_lookup(scan, column, !key.asc, fetch)? else {
        return Ok(None);
    };
    // More sort keys break the index column's ties: read all rows tied with the last one.
    lookup.with_ties = !rest.is_empty();
    if scan.index.as_ref() == Some(&lookup) {
        return Ok(None);
    }
    let scan = Scan {
        index: Some(lookup),
        ..scan.clone()
    };
    Ok(Some(Arc::new(LogicalPlan::Sort(Sort {
        input: Arc::new(LogicalPlan::Scan(scan)),
        exprs: sort.exprs.clone(),
        fetch: sort.fetch,
    }))))
}

/// The first ordered index (in declaration order) that serves a top-`limit` on `column`; see
/// [`ordered_top_k`].
fn top_k_lookup(
    scan: &Scan,
    column: usize,
    descending: bool,
    limit: usize,
) -> Result<Option<IndexLookup>> {
    let conjuncts = scan_conjuncts(scan)?;
    let data_type = column_type(scan, column);
    for candidate in candidates(scan, &conjuncts)? {
        let definition = &candidate.definition;
        if definition.kind != IndexKind::Ordered {
            continue;
        }
        let Some(position) = definition.columns.iter().position(|&c| c == column) else {
            continue;
        };
        let mut sets = prefix_sets(scan, &definition.columns, &conjuncts);
        if sets.len() < position {
            continue;
        }
        sets.truncate(position);
        let prefix_columns = &definition.columns[..position];
        let answered = conjuncts.iter().all(|conjunct| {
            let fixed = prefix_columns.iter().zip(&sets).any(|(&c, chosen)| {
                points_on(scan, c, conjunct).is_some_and(|allowed| {
                    chosen
                        .iter()
                        .all(|v| allowed.iter().any(|a| same_value(a, v)))
                })
            });
            let bound = comparison_on(scan, column, conjunct)
                .is_some_and(|(_, v)| !v.is_null() && comparable(&data_type, &v));
            // A conjunct the index's condition implies holds for every row the index has.
            fixed || bound || implied(scan, conjunct, &candidate.condition)
        });
        if !answered {
            continue;
        }
        let (low, high) = bounds_on(scan, column, &conjuncts);
        let unbounded = matches!((&low, &high), (Bound::Unbounded, Bound::Unbounded));
        let keys = if definition.columns.len() == 1 && unbounded {
            IndexKeys::Ordered { descending, limit }
        } else {
            IndexKeys::Prefix {
                prefixes: combinations(&sets),
                low,
                high,
                order: Some((descending, limit)),
            }
        };
        return Ok(Some(IndexLookup {
            index: definition.name.clone(),
            keys,
            with_ties: false,
        }));
    }
    Ok(None)
}

/// At most this many combinations of values the inner scan's filters fix after the join's
/// columns, per outer key (each one is a look-up).
const MAX_FIXED_PER_KEY: usize = 16;

/// How an index nested loop join reads its inner side, as the `use_indexes` rule chose it.
#[derive(Debug, Clone)]
pub struct IndexJoin {
    /// The inner scan (its filters stay, as a residual on the rows the index finds).
    pub scan: Scan,
    /// The index read.
    pub index: IndexDefinition,
    /// The inner side is the join's left input (else its right one).
    pub inner_is_left: bool,
    /// Per leading index column the join fixes, in index order: the position of its key pair
    /// in the join's `on`.
    pub key_pairs: Vec<usize>,
    /// Then per following index column, the values the inner scan's filters allow it: a look-up
    /// is made for every outer key with every combination of them.
    pub fixed: Vec<Vec<ScalarValue>>,
}

impl IndexJoin {
    /// The look-up for EXPLAIN: the index, and the columns its key prefix comes from.
    pub fn describe(&self) -> String {
        let schema = self.scan.source.schema();
        let name = |c: usize| schema.field(c).name().clone();
        let mut parts: Vec<String> = self.index.columns[..self.key_pairs.len()]
            .iter()
            .map(|&c| name(c))
            .collect();
        let fixed_columns = &self.index.columns[self.key_pairs.len()..];
        for (&column, values) in fixed_columns.iter().zip(&self.fixed) {
            let count = values.len();
            let plural = if count == 1 { "" } else { "s" };
            parts.push(format!("{} = {count} value{plural}", name(column)));
        }
        let partial = if self.index.condition.is_some() {
            " partial"
        } else {
            ""
        };
        format!(
            "index={}{partial} prefix=[{}]",
            self.index.name,
            parts.join(", ")
        )
    }
}

/// How `join` reads an indexed inner side, when it can run as an index nested loop join: the
/// inner side a plain scan (no index look-up of its own) with an index that [`join_index`]
/// finds for the join's keys; a join type that keeps no unmatched inner rows (inner; left, semi
/// and anti with the inner side on the right; right and semi with it on the left); the outer side
/// estimated at most [`MAX_OUTER_ROWS`] rows and the join at most that many or an
/// eighth of the inner table's; `use_indexes` enabled.
pub fn index_join(join: &Join, config: &SessionConfig) -> Option<IndexJoin> {
    if config.disabled_rules.contains("use_indexes") || join.on.is_empty() {
        return None;
    }
    let right_inner = matches!(
        join.join_type,
        JoinType::Inner | JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti
    );
    // A semi join keeps its left rows that match: reading only the left rows the right
    // side's keys find is the same (`filter(customer__in=Customer.objects.filter(...))`).
    let left_inner = matches!(
        join.join_type,
        JoinType::Inner | JoinType::Right | JoinType::LeftSemi
    );
    let sides = [
        (right_inner, &join.right, &join.left, false),
        (left_inner, &join.left, &join.right, true),
    ];
    for (allowed, inner, outer, inner_is_left) in sides {
        // The operator collects its outer side into one partition before it can tell it is
        // small: an outer side estimated above its limit (a fact table probing a dimension's
        // primary key) runs as a plain, partitioned hash join instead.
        if !allowed || cardinality(outer) > MAX_OUTER_ROWS as f64 {
            continue;
        }
        let LogicalPlan::Scan(scan) = inner.as_ref() else {
            continue;
        };
        // Nor when the outer keys would gather many rows and much of the inner table through
        // the index (25 nations finding all their customers): a hash join reads it faster.
        let gathered = join_cardinality(join);
        if scan.index.is_some()
            || (gathered > MAX_OUTER_ROWS as f64
                && gathered * 8.0 > scan.snapshot.num_rows() as f64)
        {
            continue;
        }
        // The inner scan's columns the join's keys fix, with their pair in `on`.
        let mut keyed: Vec<(usize, usize)> = Vec::new();
        for (pair, (left_key, right_key)) in join.on.iter().enumerate() {
            let (inner_key, outer_key) = if inner_is_left {
                (left_key, right_key)
            } else {
                (right_key, left_key)
            };
            let Expr::Column(_) = inner_key else {
                continue;
            };
            let Some(column) = scan_column(scan, inner_key) else {
                continue;
            };
            let Ok(outer_type) = outer_key.data_type(outer.schema()) else {
                continue;
            };
            let inner_type = column_type(scan, column);
            let same =
                outer_type == inner_type || (is_integer(&outer_type) && is_integer(&inner_type));
            if same && !keyed.iter().any(|(c, _)| *c == column) {
                keyed.push((column, pair));
            }
        }
        if let Some((index, key_pairs, fixed)) = join_index(scan, &keyed) {
            return Some(IndexJoin {
                scan: scan.clone(),
                index,
                inner_is_left,
                key_pairs,
                fixed,
            });
        }
    }
    None
}

/// The index of `scan` that a join fixing `keyed` columns (column, key pair) reads best, with
/// the key pairs of its leading columns and the values the scan's filters fix the next ones
/// to: the most columns fixed, then a partial index (its condition implied by the scan's
/// filters, so it holds fewer rows), then declaration order. A hash index must be fixed whole.
#[allow(clippy::type_complexity)]
fn join_index(
    scan: &Scan,
    keyed: &[(usize, usize)],
) -> Option<(IndexDefinition, Vec<usize>, Vec<Vec<ScalarValue>>)> {
    if keyed.is_empty() {
        return None;
    }
    let conjuncts = scan_conjuncts(scan).ok()?;
    let mut best: Option<(
        (usize, bool),
        IndexDefinition,
        Vec<usize>,
        Vec<Vec<ScalarValue>>,
    )> = None;
    for candidate in candidates(scan, &conjuncts).ok()? {
        let definition = candidate.definition;
        let key_pairs: Vec<usize> = definition
            .columns
            .iter()
            .map_while(|c| keyed.iter().find(|(k, _)| k == c).map(|(_, pair)| *pair))
            .collect();
        if key_pairs.is_empty() {
            continue;
        }
        let mut fixed = prefix_sets(scan, &definition.columns[key_pairs.len()..], &conjuncts);
        while fixed.iter().map(Vec::len).product::<usize>() > MAX_FIXED_PER_KEY {
            fixed.pop();
        }
        let width = key_pairs.len() + fixed.len();
        if definition.kind == IndexKind::Hash && width < definition.columns.len() {
            continue;
        }
        let score = (width, definition.condition.is_some());
        if best.as_ref().is_none_or(|(s, ..)| score > *s) {
            best = Some((score, definition, key_pairs, fixed));
        }
    }
    best.map(|(_, definition, key_pairs, fixed)| (definition, key_pairs, fixed))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use quiver_storage::{IndexDefinition, IndexKind, Table};

    use super::*;
    use crate::expr::{lit, qualified_col, SortExpr};
    use crate::logical_plan::JoinType;
    use crate::logical_plan::LogicalPlanBuilder;
    use crate::optimizer::utils::fixtures::{author, optimize_with};

    /// `input` ordered by `key` with a fetch of `k` (a top-k), optimized by [`UseIndexes`].
    fn optimized_top_k(input: Arc<LogicalPlan>, key: SortExpr, k: usize) -> String {
        let plan = LogicalPlanBuilder::from(input)
            .sort(vec![key])
            .unwrap()
            .build();
        let LogicalPlan::Sort(sort) = plan.as_ref() else {
            unreachable!()
        };
        optimize_with(
            UseIndexes,
            Arc::new(LogicalPlan::Sort(Sort {
                fetch: Some(k),
                ..sort.clone()
            })),
        )
    }

    fn indexed_author() -> Arc<Table> {
        let table = author();
        for (name, column, kind) in [
            ("author_pkey", 0, IndexKind::Hash),
            ("author_age_idx", 2, IndexKind::Ordered),
        ] {
            table
                .add_index(IndexDefinition {
                    name: name.into(),
                    columns: vec![column],
                    descending: vec![false],
                    kind,
                    condition: None,
                    condition_expr: None,
                })
                .unwrap();
        }
        table
    }

    fn scan_with(filter: Expr) -> Arc<LogicalPlan> {
        Arc::new(LogicalPlan::Scan(Scan {
            filters: vec![filter],
            ..Scan::new(indexed_author(), "T0")
        }))
    }

    fn t0(name: &str) -> Expr {
        qualified_col("T0", name)
    }

    #[test]
    fn points_and_in_lists_use_any_index_ranges_an_ordered_one() {
        assert_eq!(
            optimize_with(UseIndexes, scan_with(t0("id").eq(lit(7i64)))),
            "Scan: author AS T0 filters=[(T0.id = 7)] index=author_pkey points=1"
        );
        let in_list = Expr::InList(crate::expr::InList {
            expr: Box::new(t0("age")),
            list: vec![lit(21i32), lit(ScalarValue::Null), lit(25i32)],
            negated: false,
        });
        assert!(optimize_with(UseIndexes, scan_with(in_list))
            .ends_with("index=author_age_idx points=2"));
        let between = t0("age").gt_eq(lit(22i32)).and(lit(30i32).gt(t0("age")));
        let plan = optimize_with(UseIndexes, scan_with(between));
        assert!(
            plan.ends_with("index=author_age_idx range=[22..30)"),
            "{plan}"
        );
        // A hash index serves no range; a column without an index none at all.
        let plan = optimize_with(UseIndexes, scan_with(t0("id").gt(lit(3i64))));
        assert!(!plan.contains("index="), "{plan}");
        let plan = optimize_with(UseIndexes, scan_with(t0("name").eq(lit("author3"))));
        assert!(!plan.contains("index="), "{plan}");
    }

    #[test]
    fn top_k_on_an_ordered_index_with_default_null_placement() {
        let top = |asc: bool, nulls_first: bool| {
            let scan = LogicalPlanBuilder::scan(indexed_author(), "T0").build();
            optimized_top_k(scan, SortExpr::new(t0("age"), asc, nulls_first), 3)
        };
        assert!(top(false, true).contains("index=author_age_idx order=desc limit=3"));
        assert!(top(true, false).contains("index=author_age_idx order=asc limit=3"));
        // NULLS FIRST ascending is not the index's order.
        assert!(!top(true, true).contains("index="));
    }

    fn composite_author() -> Arc<Table> {
        let table = indexed_author();
        table
            .add_index(IndexDefinition {
                name: "author_name_age_idx".into(),
                columns: vec![1, 2],
                descending: vec![false, true],
                kind: IndexKind::Ordered,
                condition: None,
                condition_expr: None,
            })
            .unwrap();
        table
    }

    fn composite_scan(filter: Option<Expr>) -> Arc<LogicalPlan> {
        Arc::new(LogicalPlan::Scan(Scan {
            filters: filter.into_iter().collect(),
            ..Scan::new(composite_author(), "T0")
        }))
    }

    #[test]
    fn composite_indexes_serve_an_equality_prefix_and_a_range_on_the_next_column() {
        let plan = optimize_with(UseIndexes, composite_scan(Some(t0("name").eq(lit("a")))));
        assert!(
            plan.ends_with("index=author_name_age_idx prefix=[a]"),
            "{plan}"
        );
        let both = t0("name").eq(lit("a")).and(t0("age").eq(lit(21i32)));
        let plan = optimize_with(UseIndexes, composite_scan(Some(both)));
        assert!(
            plan.ends_with("index=author_name_age_idx prefix=[a, 21]"),
            "{plan}"
        );
        let ranged = t0("age").gt(lit(25i32)).and(t0("name").eq(lit("a")));
        let plan = optimize_with(UseIndexes, composite_scan(Some(ranged)));
        assert!(
            plan.ends_with("index=author_name_age_idx prefix=[a] range=(25..*)"),
            "{plan}"
        );
        // A single-column point lookup wins over a composite prefix of one column on ties…
        let pk = t0("id").eq(lit(3i64)).and(t0("name").eq(lit("a")));
        let plan = optimize_with(UseIndexes, composite_scan(Some(pk)));
        assert!(plan.ends_with("index=author_pkey points=1"), "{plan}");
        // …and a range on the second column alone is the single-column index's.
        let plan = optimize_with(UseIndexes, composite_scan(Some(t0("age").gt(lit(3i32)))));
        assert!(
            plan.ends_with("index=author_age_idx range=(3..*)"),
            "{plan}"
        );
    }

    #[test]
    fn composite_top_k_after_an_equality_prefix() {
        let top = |filter: Expr, asc: bool| {
            optimized_top_k(
                composite_scan(Some(filter)),
                SortExpr::new(t0("age"), asc, !asc),
                4,
            )
        };
        let plan = top(t0("name").eq(lit("a")), false);
        assert!(
            plan.contains("index=author_name_age_idx prefix=[a] order=desc limit=4"),
            "{plan}"
        );
        let plan = top(
            t0("name").eq(lit("a")).and(t0("age").lt_eq(lit(30i32))),
            true,
        );
        assert!(
            plan.contains("index=author_name_age_idx prefix=[a] range=(*..30] order=asc limit=4"),
            "{plan}"
        );
        // A filter the index does not answer would drop rows after the limit: no top-k.
        let plan = top(t0("name").eq(lit("a")).and(t0("id").gt(lit(2i64))), false);
        assert!(!plan.contains("order=desc"), "{plan}");
    }

    /// `author` with only a partial index on `name` for `age >= 25`, its condition compiled
    /// under another alias than the scans', as the ORM compiles it.
    fn partial_author() -> Arc<Table> {
        let table = author();
        table
            .add_index(senior_name_index(IndexKind::Hash, false))
            .unwrap();
        table
    }

    /// `author_senior_name_idx`: an index on `name` for the rows with `age >= 25`.
    fn senior_name_index(kind: IndexKind, descending: bool) -> IndexDefinition {
        let condition: Arc<dyn std::any::Any + Send + Sync> =
            Arc::new(qualified_col("author", "age").gt_eq(lit(25i32)));
        IndexDefinition {
            name: "author_senior_name_idx".into(),
            columns: vec![1],
            descending: vec![descending],
            kind,
            condition: Some(Arc::new(|batch: &arrow::array::RecordBatch| {
                let age = arrow::array::Int32Array::new_scalar(25);
                Ok(arrow::compute::kernels::cmp::gt_eq(batch.column(2), &age)?)
            })),
            condition_expr: Some(condition),
        }
    }

    fn partial_plan(filter: Expr) -> String {
        optimize_with(
            UseIndexes,
            Arc::new(LogicalPlan::Scan(Scan {
                filters: vec![filter],
                ..Scan::new(partial_author(), "T0")
            })),
        )
    }

    #[test]
    fn a_partial_index_serves_filters_that_imply_its_condition() {
        let name = || t0("name").eq(lit("author7"));
        let in_list = |values: Vec<i32>| {
            Expr::InList(crate::expr::InList {
                expr: Box::new(t0("age")),
                list: values.into_iter().map(lit).collect(),
                negated: false,
            })
        };
        let implied = [
            name().and(t0("age").gt_eq(lit(25i32))),
            name().and(t0("age").gt_eq(lit(30i32))),
            name().and(t0("age").gt(lit(25i32))),
            name().and(t0("age").eq(lit(27i32))),
            name().and(in_list(vec![25, 40])),
            // Between two bounds, written either way round.
            name()
                .and(lit(26i32).lt_eq(t0("age")))
                .and(t0("age").lt(lit(30i32))),
        ];
        for filter in implied {
            let plan = partial_plan(filter.clone());
            assert!(
                plan.ends_with("index=author_senior_name_idx points=1"),
                "{filter}: {plan}"
            );
        }
        let not_implied = [
            name(),
            name().and(t0("age").gt(lit(24i32))),
            name().and(t0("age").lt_eq(lit(40i32))),
            name().and(in_list(vec![24, 40])),
            name().and(t0("age").eq(lit(25i32)).or(t0("id").eq(lit(3i64)))),
        ];
        for filter in not_implied {
            let plan = partial_plan(filter.clone());
            assert!(!plan.contains("author_senior_name_idx"), "{filter}: {plan}");
        }
    }

    #[test]
    fn in_lists_fix_composite_prefixes() {
        let names = Expr::InList(crate::expr::InList {
            expr: Box::new(t0("name")),
            list: vec![lit("a"), lit("b"), lit("a"), lit(ScalarValue::Null)],
            negated: false,
        });
        let plan = optimize_with(UseIndexes, composite_scan(Some(names.clone())));
        assert!(
            plan.ends_with("index=author_name_age_idx prefixes=[[a], [b]]"),
            "{plan}"
        );
        let both = names.clone().and(t0("age").eq(lit(21i32)));
        let plan = optimize_with(UseIndexes, composite_scan(Some(both)));
        assert!(
            plan.ends_with("index=author_name_age_idx prefixes=[[a, 21], [b, 21]]"),
            "{plan}"
        );
        let ranged = names.clone().and(t0("age").lt(lit(30i32)));
        let plan = optimize_with(UseIndexes, composite_scan(Some(ranged)));
        assert!(
            plan.ends_with("index=author_name_age_idx prefixes=[[a], [b]] range=(*..30)"),
            "{plan}"
        );
        let plan = optimized_top_k(
            composite_scan(Some(names)),
            SortExpr::new(t0("age"), false, true),
            2,
        );
        assert!(
            plan.contains("index=author_name_age_idx prefixes=[[a], [b]] order=desc limit=2"),
            "{plan}"
        );
    }

    #[test]
    fn implication_compares_values_in_sql_order() {
        assert_eq!(
            compare(
                &ScalarValue::Float64(Some(-2.0)),
                &ScalarValue::Float64(Some(1.0))
            ),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare(&ScalarValue::Int32(Some(7)), &ScalarValue::Int64(Some(7))),
            Some(Ordering::Equal)
        );
        assert_eq!(
            compare(&ScalarValue::from("b"), &ScalarValue::Int64(Some(7))),
            None
        );
        assert!(interval_within(
            &Bound::Excluded(ScalarValue::Int64(Some(5))),
            &Bound::Unbounded,
            Operator::Gt,
            &ScalarValue::Int64(Some(5))
        ));
        assert!(!interval_within(
            &Bound::Included(ScalarValue::Int64(Some(5))),
            &Bound::Unbounded,
            Operator::Gt,
            &ScalarValue::Int64(Some(5))
        ));
        assert!(interval_within(
            &Bound::Included(ScalarValue::Int64(Some(5))),
            &Bound::Included(ScalarValue::Int64(Some(5))),
            Operator::Eq,
            &ScalarValue::Int64(Some(5))
        ));
    }

    #[test]
    fn float_columns_serve_ranges_and_orders_through_their_ordered_index() {
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("id", DataType::Int64, false),
            arrow::datatypes::Field::new("score", DataType::Float64, true),
        ]));
        let table = Arc::new(Table::new("reading", schema));
        table
            .add_index(IndexDefinition {
                name: "reading_score_idx".into(),
                columns: vec![1],
                descending: vec![true],
                kind: IndexKind::Ordered,
                condition: None,
                condition_expr: None,
            })
            .unwrap();
        let scan = |filter: Expr| {
            Arc::new(LogicalPlan::Scan(Scan {
                filters: vec![filter],
                ..Scan::new(Arc::clone(&table), "T0")
            }))
        };
        let plan = optimize_with(UseIndexes, scan(t0("score").lt(lit(-2.5f64))));
        assert!(
            plan.ends_with("index=reading_score_idx range=(*..-2.5)"),
            "{plan}"
        );
        let plan = optimized_top_k(
            scan(t0("score").gt_eq(lit(-1.0f64))),
            SortExpr::new(t0("score"), false, true),
            3,
        );
        assert!(
            plan.contains("index=reading_score_idx range=[-1..*) order=desc limit=3"),
            "{plan}"
        );
        // Implication compares floats in PostgreSQL's order: NaN above every number, -0 = 0.
        let nan = ScalarValue::Float64(Some(f64::NAN));
        assert_eq!(
            compare(&nan, &ScalarValue::Float64(Some(f64::INFINITY))),
            Some(Ordering::Greater)
        );
        assert_eq!(compare(&nan, &nan), Some(Ordering::Equal));
        assert_eq!(
            compare(
                &ScalarValue::Float64(Some(-0.0)),
                &ScalarValue::Float64(Some(0.0))
            ),
            Some(Ordering::Equal)
        );
    }

    /// `author` with a hash index on `(age, name)`, an ordered one on `(name, age)` and a
    /// partial one on `name` for `age >= 25`.
    fn join_author() -> Arc<Table> {
        let table = partial_author();
        for (name, columns, kind) in [
            ("author_age_name_hash", vec![2, 1], IndexKind::Hash),
            ("author_name_age_idx", vec![1, 2], IndexKind::Ordered),
        ] {
            table
                .add_index(IndexDefinition {
                    name: name.into(),
                    descending: vec![false; columns.len()],
                    columns,
                    kind,
                    condition: None,
                    condition_expr: None,
                })
                .unwrap();
        }
        table
    }

    /// How `T1 JOIN T0 ON keys` reads `T0` (with `filter` on it), `T1` a small scan.
    fn join_read(keys: &[&str], filter: Option<Expr>) -> Option<String> {
        let inner = Arc::new(LogicalPlan::Scan(Scan {
            filters: filter.into_iter().collect(),
            ..Scan::new(join_author(), "T0")
        }));
        let outer = Arc::new(LogicalPlan::Scan(Scan {
            filters: vec![qualified_col("T1", "id").lt(lit(3i64))],
            ..Scan::new(author(), "T1")
        }));
        let on = keys
            .iter()
            .map(|&k| (qualified_col("T1", k), t0(k)))
            .collect();
        let plan = LogicalPlanBuilder::from(outer)
            .join(inner, JoinType::Inner, on, None)
            .unwrap()
            .build();
        let LogicalPlan::Join(join) = plan.as_ref() else {
            unreachable!()
        };
        let found = index_join(join, &SessionConfig::new())?;
        assert!(!found.inner_is_left);
        Some(found.describe())
    }

    #[test]
    fn index_joins_read_composite_prefixes_and_implied_partial_indexes() {
        // The join's key leads the ordered composite index; the hash one needs both columns.
        assert_eq!(
            join_read(&["name"], None).as_deref(),
            Some("index=author_name_age_idx prefix=[name]")
        );
        // Both keys, in either order, fill the hash index (declared first among equals).
        assert_eq!(
            join_read(&["name", "age"], None).as_deref(),
            Some("index=author_age_name_hash prefix=[age, name]")
        );
        // A filter implying the partial index's condition makes it the smaller read …
        assert_eq!(
            join_read(&["name"], Some(t0("age").gt_eq(lit(30i32)))).as_deref(),
            Some("index=author_senior_name_idx partial prefix=[name]")
        );
        // … unless an equality fixes the composite index's next column too.
        let fixed = t0("age").eq(lit(30i32));
        assert_eq!(
            join_read(&["name"], Some(fixed)).as_deref(),
            Some("index=author_name_age_idx prefix=[name, age = 1 value]")
        );
        // No index leads with `id`; and the switch turns the join off.
        assert_eq!(join_read(&["id"], None), None);
        let config = SessionConfig::new().disable_rule("use_indexes");
        let plan = LogicalPlanBuilder::scan(author(), "T1")
            .join(
                LogicalPlanBuilder::scan(join_author(), "T0").build(),
                JoinType::Inner,
                vec![(qualified_col("T1", "name"), t0("name"))],
                None,
            )
            .unwrap()
            .build();
        let LogicalPlan::Join(join) = plan.as_ref() else {
            unreachable!()
        };
        assert!(index_join(join, &config).is_none());
        assert!(index_join(join, &SessionConfig::new()).is_some());
    }

    #[test]
    fn a_partial_index_serves_a_top_k_when_the_filter_is_its_condition_in_another_form() {
        let table = author();
        table
            .add_index(senior_name_index(IndexKind::Ordered, true))
            .unwrap();
        let top = |filter: Expr| {
            let scan = Arc::new(LogicalPlan::Scan(Scan {
                filters: vec![filter],
                ..Scan::new(Arc::clone(&table), "T0")
            }));
            optimized_top_k(scan, SortExpr::new(t0("name"), false, true), 3)
        };
        // `25 <= age` is the condition `age >= 25` written the other way round.
        for filter in [t0("age").gt_eq(lit(25i32)), lit(25i32).lt_eq(t0("age"))] {
            let plan = top(filter);
            assert!(
                plan.contains("index=author_senior_name_idx order=desc limit=3"),
                "{plan}"
            );
        }
        // `age >= 30` implies the condition but is not implied by it: the index's first rows
        // may fail it, so no top-k.
        let plan = top(t0("age").gt_eq(lit(30i32)));
        assert!(!plan.contains("order=desc"), "{plan}");
    }
}
