//! [`PruneChunks`]: uses each chunk's column statistics (min, max, null count) to skip the
//! chunks a scan's filters cannot match.
//!
//! ```text
//! before (ids 1..=10, 11..=20 and 21..=30 in three chunks)
//! Scan: author AS T0 filters=[(T0.id > 25)]
//!
//! after
//! Scan: author AS T0 filters=[(T0.id > 25)] chunks=1/3
//! ```
//!
//! For each chunk the rule asks whether a filter *may* be TRUE on some row, and keeps the
//! chunk unless the answer is a certain no. It understands `column op literal` (and
//! `literal op column`) for `= <> < <= > >=`, `IS [NOT] NULL`, `[NOT] IN` lists of literals,
//! a boolean column alone (`WHERE active`), AND (both may hold), OR (either may) and NOT of
//! those forms; anything else keeps the chunk. Comparisons never hold on NULL, so a chunk
//! whose column is all NULL fails them all.
//!
//! Values are compared only within one type: the literal is cast to the column's type when
//! that cast is exact (`5_i64` against an INT column, `'2024-01-01'` against a DATE column),
//! and the chunk is kept when it is not (`5.5` against an INT column) — being unsure keeps
//! data, never loses it. The selection is recomputed from scratch each time, so running the
//! rule again reports no change.

use std::cmp::Ordering;
use std::sync::Arc;

use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::DataType;
use quiver_storage::{Chunk, ColumnStatistics, ScalarValue};

use super::OptimizerRule;
use crate::error::Result;
use crate::expr::type_coercion::{comparison_common_type, is_numeric, is_string, value_type};
use crate::expr::{BinaryExpr, Expr, InList, Operator, Transformed};
use crate::logical_plan::{LogicalPlan, PlanSchema, Scan};

/// Chunk pruning from statistics; see the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct PruneChunks;

impl OptimizerRule for PruneChunks {
    fn name(&self) -> &'static str {
        "prune_chunks"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
        plan.transform_up(&mut |node| {
            let LogicalPlan::Scan(scan) = node.as_ref() else {
                return Ok(Transformed::no(node));
            };
            let chunks = select_chunks(scan);
            if chunks == scan.chunks {
                return Ok(Transformed::no(node));
            }
            Ok(Transformed::yes(Arc::new(LogicalPlan::Scan(Scan {
                chunks,
                ..scan.clone()
            }))))
        })
    }
}

/// The chunks of `scan` that may hold rows passing all its filters; `None` for all of them.
fn select_chunks(scan: &Scan) -> Option<Vec<usize>> {
    if scan.filters.is_empty() {
        return None;
    }
    let schema = scan.table_schema();
    let chunks = scan.snapshot.chunks();
    let selected: Vec<usize> = chunks
        .iter()
        .enumerate()
        .filter(|(_, chunk)| {
            let stats = ChunkStatistics {
                schema: &schema,
                chunk,
            };
            scan.filters.iter().all(|f| stats.may_be_true(f))
        })
        .map(|(i, _)| i)
        .collect();
    (selected.len() < chunks.len()).then_some(selected)
}

/// One chunk's statistics, looked up by column.
struct ChunkStatistics<'a> {
    schema: &'a PlanSchema,
    chunk: &'a Chunk,
}

impl ChunkStatistics<'_> {
    /// The column's statistics and type, when `expr` is a column of the table.
    fn column(&self, expr: &Expr) -> Option<(&ColumnStatistics, DataType)> {
        let Expr::Column(c) = expr else {
            return None;
        };
        let i = self.schema.maybe_index_of_column(c).ok()??;
        let data_type = self.schema.field(i).field.data_type().clone();
        Some((self.chunk.statistics(i)?, data_type))
    }

    /// False only when `predicate` is certainly not TRUE for any row of the chunk.
    fn may_be_true(&self, predicate: &Expr) -> bool {
        match predicate {
            Expr::Literal(ScalarValue::Boolean(v)) => *v == Some(true),
            Expr::Literal(ScalarValue::Null) => false,
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::And,
                right,
            }) => self.may_be_true(left) && self.may_be_true(right),
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::Or,
                right,
            }) => self.may_be_true(left) || self.may_be_true(right),
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                if let (Some(column), Expr::Literal(value)) = (self.column(left), right.as_ref()) {
                    return compare_may_hold(column, *op, value);
                }
                if let (Expr::Literal(value), Some(column)) = (left.as_ref(), self.column(right)) {
                    return match op.swap() {
                        Some(op) => compare_may_hold(column, op, value),
                        None => true,
                    };
                }
                true
            }
            Expr::IsNull(e) => match self.column(e) {
                Some((stats, _)) => stats.null_count > 0,
                None => true,
            },
            Expr::IsNotNull(e) => match self.column(e) {
                Some((stats, _)) => stats.null_count < stats.row_count,
                None => true,
            },
            Expr::InList(list) => match self.column(&list.expr) {
                Some(column) => in_list_may_hold(column, list),
                None => true,
            },
            // A boolean column on its own holds where it is TRUE.
            Expr::Column(_) => match self.column(predicate) {
                Some(column) => {
                    compare_may_hold(column, Operator::Eq, &ScalarValue::Boolean(Some(true)))
                }
                None => true,
            },
            Expr::Not(inner) => match negate(inner) {
                Some(negated) => self.may_be_true(&negated),
                None => true,
            },
            _ => true,
        }
    }
}

/// `NOT predicate` as an equivalent predicate without the NOT, for the forms the rule reads.
/// Every step holds under three-valued logic (De Morgan does; NULL negates to NULL).
fn negate(predicate: &Expr) -> Option<Expr> {
    Some(match predicate {
        Expr::Literal(ScalarValue::Boolean(v)) => {
            Expr::Literal(ScalarValue::Boolean(v.map(|b| !b)))
        }
        Expr::Literal(ScalarValue::Null) => predicate.clone(),
        Expr::Not(inner) => inner.as_ref().clone(),
        // NOT of a NULL boolean is NULL, as is `NULL = FALSE`.
        Expr::Column(_) => predicate
            .clone()
            .eq(Expr::Literal(ScalarValue::Boolean(Some(false)))),
        Expr::IsNull(e) => Expr::IsNotNull(e.clone()),
        Expr::IsNotNull(e) => Expr::IsNull(e.clone()),
        Expr::InList(list) => Expr::InList(InList {
            negated: !list.negated,
            ..list.clone()
        }),
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => negate(left)?.or(negate(right)?),
            Operator::Or => negate(left)?.and(negate(right)?),
            _ => Expr::BinaryExpr(BinaryExpr {
                left: left.clone(),
                op: op.negate()?,
                right: right.clone(),
            }),
        },
        _ => return None,
    })
}

/// Whether `column op value` may be TRUE for some row, given the column's statistics.
fn compare_may_hold(
    (stats, column_type): (&ColumnStatistics, DataType),
    op: Operator,
    value: &ScalarValue,
) -> bool {
    if !matches!(
        op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
    ) {
        return true;
    }
    // A comparison with NULL, or over a column that is all NULL, is never TRUE.
    if value.is_null() || stats.all_null() {
        return false;
    }
    let (Some(min), Some(max)) = (&stats.min, &stats.max) else {
        return true;
    };
    let Some(value) = literal_as_column_type(value, &column_type) else {
        return true;
    };
    let (Some(min_cmp), Some(max_cmp)) = (
        min.partial_cmp_same_type(&value),
        max.partial_cmp_same_type(&value),
    ) else {
        return true;
    };
    match op {
        Operator::Eq => min_cmp != Ordering::Greater && max_cmp != Ordering::Less,
        Operator::NotEq => !(min_cmp == Ordering::Equal && max_cmp == Ordering::Equal),
        Operator::Lt => min_cmp == Ordering::Less,
        Operator::LtEq => min_cmp != Ordering::Greater,
        Operator::Gt => max_cmp == Ordering::Greater,
        Operator::GtEq => max_cmp != Ordering::Less,
        _ => true,
    }
}

/// Whether `column [NOT] IN (list)` may be TRUE for some row.
fn in_list_may_hold((stats, column_type): (&ColumnStatistics, DataType), list: &InList) -> bool {
    let mut values = Vec::with_capacity(list.list.len());
    for item in &list.list {
        let Expr::Literal(v) = item else {
            return true;
        };
        values.push(v);
    }
    if list.negated {
        // `x NOT IN (…, NULL)` is never TRUE; otherwise it fails only when every non-NULL
        // value of the chunk is one single listed value.
        if values.iter().any(|v| v.is_null()) || stats.all_null() {
            return false;
        }
        let (Some(min), Some(max)) = (&stats.min, &stats.max) else {
            return true;
        };
        if min.partial_cmp_same_type(max) != Some(Ordering::Equal) {
            return true;
        }
        let listed = values.iter().any(|v| {
            literal_as_column_type(v, &column_type)
                .is_some_and(|v| min.partial_cmp_same_type(&v) == Some(Ordering::Equal))
        });
        return !listed;
    }
    values
        .iter()
        .any(|v| compare_may_hold((stats, column_type.clone()), Operator::Eq, v))
}

/// `value` as a value of the column's type, when comparing it with the column in the
/// column's type gives the same answer as the engine's comparison. `None` when unsure.
fn literal_as_column_type(value: &ScalarValue, column_type: &DataType) -> Option<ScalarValue> {
    let column_type = value_type(column_type);
    let literal_type = value.data_type();
    if &literal_type == column_type {
        return Some(value.clone());
    }
    let temporal = |t: &DataType| matches!(t, DataType::Date32 | DataType::Timestamp(..));
    let common = comparison_common_type(column_type, &literal_type)?;
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    let cast = cast_with_options(&value.to_array(1), column_type, &options).ok()?;
    let as_column = ScalarValue::try_from_array(cast.as_ref(), 0).ok()?;
    if is_string(&literal_type) && &common == column_type {
        // The engine parses the string as the column's type: that value is what it compares.
        return Some(as_column);
    }
    // Widening between numeric types, or between dates and timestamps, keeps order; the
    // literal must survive the round trip for the narrower comparison to be exact.
    let order_preserving = (is_numeric(column_type) && is_numeric(&literal_type))
        || (temporal(column_type) && temporal(&literal_type));
    if !order_preserving {
        return None;
    }
    let back = cast_with_options(&cast, &literal_type, &options).ok()?;
    let round_trip = ScalarValue::try_from_array(back.as_ref(), 0).ok()?;
    (round_trip == *value).then_some(as_column)
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;

    use super::*;
    use crate::expr::{lit, qualified_col};
    use crate::logical_plan::LogicalPlanBuilder;
    use crate::optimizer::utils::fixtures::{author, author_scan, optimize_with};
    use crate::optimizer::PushDownFilter;

    /// Chunks of `author` (ids 1..=10, 11..=20, 21..=30; ages NULL in the last) kept by
    /// `filter`.
    fn kept(filter: Expr) -> Option<Vec<usize>> {
        let scan = Scan {
            filters: vec![filter],
            ..Scan::new(author(), "T0")
        };
        select_chunks(&scan)
    }

    fn t0(name: &str) -> Expr {
        qualified_col("T0", name)
    }

    #[test]
    fn comparisons() {
        assert_eq!(kept(t0("id").gt(lit(25i64))), Some(vec![2]));
        assert_eq!(kept(t0("id").gt_eq(lit(20i64))), Some(vec![1, 2]));
        assert_eq!(kept(t0("id").lt(lit(11i64))), Some(vec![0]));
        assert_eq!(kept(t0("id").lt_eq(lit(11i64))), Some(vec![0, 1]));
        assert_eq!(kept(t0("id").eq(lit(15i64))), Some(vec![1]));
        assert_eq!(kept(t0("id").eq(lit(99i64))), Some(vec![]));
        assert_eq!(kept(t0("id").not_eq(lit(15i64))), None);
        assert_eq!(kept(lit(25i64).lt(t0("id"))), Some(vec![2]));
        assert_eq!(kept(t0("name").eq(lit("author5"))), Some(vec![0]));
        // Ages are NULL in chunk 2: no comparison holds there.
        assert_eq!(kept(t0("age").gt(lit(0i32))), Some(vec![0, 1]));
        assert_eq!(
            kept(t0("age").eq(lit(ScalarValue::Int32(None)))),
            Some(vec![])
        );
    }

    #[test]
    fn literals_of_other_types() {
        // Exact casts narrow the literal to the column's type.
        assert_eq!(kept(t0("age").gt(lit(35i64))), Some(vec![1]));
        assert_eq!(kept(t0("id").gt(lit(25.0))), Some(vec![2]));
        assert_eq!(kept(t0("age").gt(lit(35i16))), Some(vec![1]));
        // Inexact (25.5 is no integer; 2^40 is no INT) or incomparable: keep everything.
        assert_eq!(kept(t0("id").gt(lit(25.5))), None);
        assert_eq!(kept(t0("age").lt(lit(1i64 << 40))), Some(vec![0, 1]));
        assert_eq!(kept(t0("name").eq(lit(1i64))), None);
    }

    #[test]
    fn dates_against_strings_and_timestamps() {
        // One chunk, pub_date from 2022-01-08 to 2023-05-23.
        let kept = |filter: Expr| {
            select_chunks(&Scan {
                filters: vec![filter],
                ..Scan::new(crate::optimizer::utils::fixtures::book(), "T1")
            })
        };
        let pub_date = || qualified_col("T1", "pub_date");
        assert_eq!(kept(pub_date().gt(lit("2024-01-01"))), Some(vec![]));
        assert_eq!(kept(pub_date().lt(lit("2023-01-01"))), None);
        let midnight_2024 = ScalarValue::TimestampMicrosecond(Some(19_723 * 86_400_000_000));
        assert_eq!(kept(pub_date().gt_eq(lit(midnight_2024))), Some(vec![]));
        // Not a whole day: the date comparison would not be exact, so the chunk stays.
        let noon_2024 =
            ScalarValue::TimestampMicrosecond(Some(19_723 * 86_400_000_000 + 43_200_000_000));
        assert_eq!(kept(pub_date().gt_eq(lit(noon_2024))), None);
    }

    #[test]
    fn nulls_lists_and_logic() {
        assert_eq!(kept(t0("age").is_null()), Some(vec![2]));
        assert_eq!(kept(t0("age").is_not_null()), Some(vec![0, 1]));
        assert_eq!(
            kept(t0("id").in_list(vec![lit(3i64), lit(27i64)], false)),
            Some(vec![0, 2])
        );
        assert_eq!(
            kept(t0("id").in_list(vec![lit(3i64), lit(ScalarValue::Int64(None))], true)),
            Some(vec![])
        );
        assert_eq!(
            kept(t0("id").gt(lit(5i64)).and(t0("id").lt(lit(12i64)))),
            Some(vec![0, 1])
        );
        assert_eq!(
            kept(t0("id").lt(lit(5i64)).or(t0("id").gt(lit(25i64)))),
            Some(vec![0, 2])
        );
        assert_eq!(kept(t0("id").gt(lit(10i64)).not()), Some(vec![0]));
        assert_eq!(
            kept(t0("id").lt(lit(5i64)).or(t0("age").is_null()).not()),
            Some(vec![0, 1])
        );
        // Unsupported shapes keep the chunk.
        assert_eq!(kept((t0("id") + lit(1i64)).gt(lit(100i64))), None);
        assert_eq!(kept(t0("id").gt(t0("id"))), None);
    }

    #[test]
    fn boolean_columns() {
        use arrow::array::{BooleanArray, RecordBatch};
        use arrow::datatypes::{Field, Schema};
        let schema = Arc::new(Schema::new(vec![Field::new(
            "active",
            DataType::Boolean,
            true,
        )]));
        let table = Arc::new(quiver_storage::Table::new("flags", Arc::clone(&schema)));
        let chunk = |values: Vec<Option<bool>>| {
            let column = Arc::new(BooleanArray::from(values));
            RecordBatch::try_new(Arc::clone(&schema), vec![column]).map(Chunk::new)
        };
        table
            .rewrite(|_| {
                Ok(vec![
                    chunk(vec![Some(true), Some(true)])?,
                    chunk(vec![Some(false), None])?,
                    chunk(vec![None, None])?,
                ])
            })
            .unwrap();
        let kept = |filter: Expr| {
            select_chunks(&Scan {
                filters: vec![filter],
                ..Scan::new(Arc::clone(&table), "F")
            })
        };
        let active = || qualified_col("F", "active");
        assert_eq!(kept(active()), Some(vec![0]));
        assert_eq!(kept(active().not()), Some(vec![1]));
        assert_eq!(kept(active().is_null()), Some(vec![1, 2]));
    }

    #[test]
    fn recomputes_and_reports_no_change_when_equal() {
        let plan = author_scan()
            .filter(t0("id").gt(lit(25i64)))
            .unwrap()
            .build();
        let pushed = optimize_with(PushDownFilter, Arc::clone(&plan));
        assert_snapshot!(pushed, @"Scan: author AS T0 filters=[(T0.id > 25)]");
        let scan = LogicalPlan::Scan(Scan {
            filters: vec![t0("id").gt(lit(25i64))],
            chunks: Some(vec![0, 1, 2]),
            ..Scan::new(author(), "T0")
        });
        let plan = LogicalPlanBuilder::from(scan).build();
        assert_snapshot!(optimize_with(PruneChunks, plan), @"Scan: author AS T0 filters=[(T0.id > 25)] chunks=1/3");
    }
}
