//! [`UseIndexes`]: reads a table through one of its indexes when a pushed-down filter or a
//! top-k order can be answered by it.
//!
//! The rule chooses, per scan, one single-column index (partial indexes are left to
//! uniqueness checks) and records the lookup on the scan; the scan's filters stay and are
//! still applied to the rows the index returns, so the index only has to find a superset.
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
//! default NULL placement on an ordered index when the scan has no filter. `get()`/`exists()` by
//! key are point lookups.
//!
//! A composite index `(a, b, ...)` serves equalities on a prefix of its columns, then a range on
//! the next one (`a = 1`, `a = 1 AND b = 2`, `a = 1 AND b > 5`); the lookup with the most
//! equalities wins, a single-column one on ties. An ordered composite index also serves a top-k
//! on the column after an equality prefix when the prefix (and a range on that column) is
//! every filter of the scan — `Meta.indexes = [Index(fields=["customer", "-created"])]` with
//! `filter(customer=1).order_by("-created")[:10]`:
//!
//! ```text
//! Sort: T0.created DESC NULLS FIRST, fetch=10
//!   Scan: order AS T0 filters=[(T0.customer_id = 1)] index=order_customer_id_created_idx prefix=[1] order=desc limit=10
//! ``` Switch the rule off with `SessionConfig::disable_rule("use_indexes")`;
//! the same switch turns off the physical planner's index nested loop join
//! (`physical_plan/index_nested_loop_join.rs`), which reads a join's indexed inner table through
//! the index when the outer side is small.

use std::ops::Bound;
use std::sync::Arc;

use arrow::datatypes::DataType;
use quiver_storage::{column_keys, IndexDefinition, IndexKind, RowKey, ScalarValue};

use super::OptimizerRule;
use crate::error::Result;
use crate::expr::{Expr, Operator, Transformed};
use crate::logical_plan::{IndexKeys, IndexLookup, LogicalPlan, Scan, Sort};

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
                    if let Some(lookup) = filter_lookup(scan) {
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

/// True when index keys built from a literal of this type equal the keys of the column's
/// values (row keys normalise integers, and text whatever its encoding).
fn comparable(column: &DataType, literal: &ScalarValue) -> bool {
    let literal = literal.data_type();
    let text = |t: &DataType| matches!(t, DataType::Utf8 | DataType::Dictionary(_, _));
    (is_integer(column) && is_integer(&literal))
        || (text(column) && text(&literal))
        || column == &literal
}

fn single_column_indexes(scan: &Scan) -> Vec<IndexDefinition> {
    scan.source
        .indexes()
        .into_iter()
        .filter(|d| d.columns.len() == 1 && d.condition.is_none())
        .collect()
}

/// Composite, non-partial indexes of the scan's table.
fn composite_indexes(scan: &Scan) -> Vec<IndexDefinition> {
    scan.source
        .indexes()
        .into_iter()
        .filter(|d| d.columns.len() > 1 && d.condition.is_none())
        .collect()
}

/// How good a lookup is: equalities it uses, then whether it bounds a range.
type Score = (usize, usize);

/// The best lookup the scan's filters allow: the most equalities (a composite prefix), then a
/// point lookup before a range; on ties the single-column index.
fn filter_lookup(scan: &Scan) -> Option<IndexLookup> {
    let conjuncts: Vec<Expr> = scan
        .filters
        .iter()
        .flat_map(|f| f.clone().split_conjunction())
        .collect();
    let mut best: Option<(Score, IndexLookup)> = None;
    let mut consider = |score: Score, lookup: IndexLookup| {
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, lookup));
        }
    };
    let indexes = single_column_indexes(scan);
    let schema = scan.source.schema();
    'points: for definition in &indexes {
        let column = definition.columns[0];
        let data_type = schema.field(column).data_type();
        for conjunct in &conjuncts {
            if let Some(points) = points_on(scan, column, conjunct) {
                if points.iter().all(|v| comparable(data_type, v)) {
                    consider(
                        (1, 0),
                        IndexLookup {
                            index: definition.name.clone(),
                            keys: IndexKeys::Points(points),
                        },
                    );
                    break 'points;
                }
            }
        }
    }
    for definition in indexes.iter().filter(|d| d.kind == IndexKind::Ordered) {
        let (low, high) = bounds_on(scan, definition.columns[0], &conjuncts);
        if !matches!((&low, &high), (Bound::Unbounded, Bound::Unbounded)) {
            consider(
                (0, 1),
                IndexLookup {
                    index: definition.name.clone(),
                    keys: IndexKeys::Range { low, high },
                },
            );
            break;
        }
    }
    for definition in composite_indexes(scan) {
        let prefix = equality_prefix(scan, &definition, &conjuncts);
        let (low, high) = match definition.columns.get(prefix.len()) {
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
        if prefix.is_empty() && ranged == 0 {
            continue;
        }
        consider(
            (prefix.len(), ranged),
            IndexLookup {
                index: definition.name.clone(),
                keys: IndexKeys::Prefix {
                    prefix,
                    low,
                    high,
                    order: None,
                },
            },
        );
    }
    best.map(|(_, lookup)| lookup)
}

/// The values of the longest prefix of `definition`'s columns that conjuncts `column = v`
/// (one non-NULL value of a comparable type each) fix.
fn equality_prefix(
    scan: &Scan,
    definition: &IndexDefinition,
    conjuncts: &[Expr],
) -> Vec<ScalarValue> {
    let schema = scan.source.schema();
    let mut prefix = Vec::new();
    for &column in &definition.columns {
        let data_type = schema.field(column).data_type();
        let value = conjuncts
            .iter()
            .find_map(|c| match points_on_eq(scan, column, c) {
                Some(v) if !v.is_null() && comparable(data_type, &v) => Some(v),
                _ => None,
            });
        match value {
            Some(v) => prefix.push(v),
            None => break,
        }
    }
    prefix
}

/// `column = v` (not `IN`): the value.
fn points_on_eq(scan: &Scan, column: usize, conjunct: &Expr) -> Option<ScalarValue> {
    match conjunct {
        Expr::BinaryExpr(b) if b.op == Operator::Eq => match (b.left.as_ref(), b.right.as_ref()) {
            (left, Expr::Literal(v)) if scan_column(scan, left) == Some(column) => Some(v.clone()),
            (Expr::Literal(v), right) if scan_column(scan, right) == Some(column) => {
                Some(v.clone())
            }
            _ => None,
        },
        _ => None,
    }
}

/// The tightest bounds the conjuncts' comparisons put on `column` (non-NULL, comparable
/// values only).
fn bounds_on(
    scan: &Scan,
    column: usize,
    conjuncts: &[Expr],
) -> (Bound<ScalarValue>, Bound<ScalarValue>) {
    let data_type = scan.source.schema().field(column).data_type().clone();
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

/// `column = v` or `column IN (v, ...)`: the values (NULLs never match and are dropped).
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

/// The value as the index orders it (`None` sorts first: an unusable value never wins).
fn order_key(value: &ScalarValue) -> Option<RowKey> {
    column_keys(&value.to_array(1)).ok()?.into_iter().next()
}

fn bound_value(bound: &Bound<ScalarValue>) -> Option<&ScalarValue> {
    match bound {
        Bound::Included(v) | Bound::Excluded(v) => Some(v),
        Bound::Unbounded => None,
    }
}

/// Of two lower bounds, the one that admits fewer rows (values of one type compare by their
/// partial order; an incomparable pair keeps the first).
fn tighter_low(current: Bound<ScalarValue>, new: Bound<ScalarValue>) -> Bound<ScalarValue> {
    match (bound_value(&current), bound_value(&new)) {
        (None, _) => new,
        (Some(a), Some(b)) => match order_key(b).partial_cmp(&order_key(a)) {
            Some(std::cmp::Ordering::Greater) => new,
            Some(std::cmp::Ordering::Equal) if matches!(new, Bound::Excluded(_)) => new,
            _ => current,
        },
        (Some(_), None) => current,
    }
}

fn tighter_high(current: Bound<ScalarValue>, new: Bound<ScalarValue>) -> Bound<ScalarValue> {
    match (bound_value(&current), bound_value(&new)) {
        (None, _) => new,
        (Some(a), Some(b)) => match order_key(b).partial_cmp(&order_key(a)) {
            Some(std::cmp::Ordering::Less) => new,
            Some(std::cmp::Ordering::Equal) if matches!(new, Bound::Excluded(_)) => new,
            _ => current,
        },
        (Some(_), None) => current,
    }
}

/// `Sort(fetch = k)` on one column of a scan, through an ordered index in that column's order:
/// a single-column index when the scan has no filter, or a composite one whose equality
/// prefix (and a range on the sort column) is every filter of the scan. The scan reads only
/// the index's first `k` rows in that order; the sort stays and orders them.
fn ordered_top_k(sort: &Sort) -> Result<Option<Arc<LogicalPlan>>> {
    let (Some(fetch), [key]) = (sort.fetch, sort.exprs.as_slice()) else {
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
    let lookup = if scan.filters.is_empty() {
        single_column_indexes(scan)
            .into_iter()
            .find(|d| d.kind == IndexKind::Ordered && d.columns[0] == column)
            .map(|definition| IndexLookup {
                index: definition.name,
                keys: IndexKeys::Ordered {
                    descending: !key.asc,
                    limit: fetch,
                },
            })
    } else {
        None
    };
    let Some(lookup) = lookup.or_else(|| composite_top_k(scan, column, !key.asc, fetch)) else {
        return Ok(None);
    };
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

/// A composite ordered index whose column after an equality prefix is `column`, when the
/// prefix's equalities and comparisons on `column` are all of the scan's filters (so the
/// index's first `limit` rows are the query's).
fn composite_top_k(
    scan: &Scan,
    column: usize,
    descending: bool,
    limit: usize,
) -> Option<IndexLookup> {
    let conjuncts: Vec<Expr> = scan
        .filters
        .iter()
        .flat_map(|f| f.clone().split_conjunction())
        .collect();
    for definition in composite_indexes(scan) {
        if definition.kind != IndexKind::Ordered {
            continue;
        }
        let Some(position) = definition.columns.iter().position(|&c| c == column) else {
            continue;
        };
        let prefix = equality_prefix(scan, &definition, &conjuncts);
        if prefix.len() < position {
            continue;
        }
        let prefix_columns = &definition.columns[..position];
        let schema = scan.source.schema();
        let answered = conjuncts.iter().all(|conjunct| {
            let equality = prefix_columns
                .iter()
                .zip(&prefix)
                .any(|(&c, v)| points_on_eq(scan, c, conjunct).is_some_and(|found| &found == v));
            let bound = comparison_on(scan, column, conjunct).is_some_and(|(_, v)| {
                !v.is_null() && comparable(schema.field(column).data_type(), &v)
            });
            equality || bound
        });
        if !answered {
            continue;
        }
        let (low, high) = bounds_on(scan, column, &conjuncts);
        return Some(IndexLookup {
            index: definition.name.clone(),
            keys: IndexKeys::Prefix {
                prefix: prefix[..position].to_vec(),
                low,
                high,
                order: Some((descending, limit)),
            },
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use quiver_storage::{IndexDefinition, IndexKind, Table};

    use super::*;
    use crate::expr::{lit, qualified_col, SortExpr};
    use crate::logical_plan::LogicalPlanBuilder;
    use crate::optimizer::utils::fixtures::{author, optimize_with};

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
            let plan = LogicalPlanBuilder::scan(indexed_author(), "T0")
                .sort(vec![SortExpr::new(t0("age"), asc, nulls_first)])
                .unwrap()
                .build();
            let LogicalPlan::Sort(sort) = plan.as_ref() else {
                unreachable!()
            };
            let plan = Arc::new(LogicalPlan::Sort(Sort {
                fetch: Some(3),
                ..sort.clone()
            }));
            optimize_with(UseIndexes, plan)
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
            let plan = LogicalPlanBuilder::from(composite_scan(Some(filter)))
                .sort(vec![SortExpr::new(t0("age"), asc, !asc)])
                .unwrap()
                .build();
            let LogicalPlan::Sort(sort) = plan.as_ref() else {
                unreachable!()
            };
            optimize_with(
                UseIndexes,
                Arc::new(LogicalPlan::Sort(Sort {
                    fetch: Some(4),
                    ..sort.clone()
                })),
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
}
