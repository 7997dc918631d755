//! [`ColumnRangeExpr`]: a lower and an upper bound on one column, tested in one pass.
//!
//! Date ranges are the most common filter in analytics (`l_shipdate >= '1995-09-01' AND
//! l_shipdate < '1995-10-01'` in TPC-H q14, and in q1, q4–q7, q10, q12, q15, q20). As two
//! conjuncts they cost two comparison kernels over the whole batch and a third pass to AND
//! their masks; profiling q14 at scale factor 1 showed those comparisons as a third of the
//! query. [`create_conjunction`] plans a filter's conjuncts and fuses each column's pair of
//! literal bounds into one kernel that reads the column once: bounds are made inclusive
//! (`x > a` is `x >= a + 1` on integers and decimals) and each value is tested against
//! both.
//!
//! Only integer-like columns (integers, dates, timestamps, times, intervals, decimals)
//! whose bounds are literals of the column's own type qualify (integers that fit it, and
//! for a decimal column, integers and decimals with no more digits after the point, which
//! convert exactly), so comparing in the column's type is exactly the comparison in the
//! common type; anything else is planned conjunct by conjunct as before.

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use arrow::buffer::{BooleanBuffer, Buffer};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Decimal128Type, DurationMicrosecondType, Int16Type,
    Int32Type, Int64Type, Time64MicrosecondType, TimeUnit, TimestampMicrosecondType,
};
use quiver_storage::ScalarValue;

use super::cast::{cast_scalar, pow10, CastMode};
use super::{create_physical_expr, ColumnarValue, PhysicalExpr, PhysicalExprRef};
use crate::error::{EngineError, Result};
use crate::expr::type_coercion::is_integer;
use crate::expr::{Column, Expr, Operator};
use crate::logical_plan::PlanSchema;

/// The name `disable_rule` switches the fusion off by (a physical rule, listed in
/// [`PHYSICAL_RULES`](crate::optimizer::PHYSICAL_RULES)).
pub const FUSE_RANGE_FILTERS: &str = "fuse_range_filters";

/// Plans the conjuncts of a filter (a scan's pushed-down filters), fusing each column's
/// literal lower and upper bound into one [`ColumnRangeExpr`] at the place of the first.
pub fn create_conjunction(filters: &[Expr], schema: &PlanSchema) -> Result<Vec<PhysicalExprRef>> {
    let bounds: Vec<Option<Bound>> = filters
        .iter()
        .map(|f| Bound::recognize(f, schema))
        .collect();
    // For each filter: the index of the filter it fuses with (lower with upper).
    let mut partner: Vec<Option<usize>> = vec![None; filters.len()];
    for (i, bound) in bounds.iter().enumerate() {
        let Some(bound) = bound else { continue };
        // A column with more than one bound on a side is left alone: which is tighter is
        // a question for the optimizer, not for this pass.
        let same_column = |b: &Option<Bound>| b.as_ref().is_some_and(|b| b.index == bound.index);
        let lowers = bounds
            .iter()
            .filter(|b| same_column(b) && b.as_ref().is_some_and(|b| b.lower))
            .count();
        let uppers = bounds
            .iter()
            .filter(|b| same_column(b) && b.as_ref().is_some_and(|b| !b.lower))
            .count();
        if lowers == 1 && uppers == 1 {
            partner[i] = bounds
                .iter()
                .position(|b| same_column(b) && b.as_ref().is_some_and(|b| b.lower != bound.lower));
        }
    }
    let mut out = Vec::with_capacity(filters.len());
    for (i, filter) in filters.iter().enumerate() {
        match (partner[i], &bounds[i]) {
            (Some(j), Some(bound)) if j > i => {
                let other = bounds[j].as_ref().ok_or_else(|| {
                    EngineError::Internal("a fused range lost its bound".to_string())
                })?;
                let (lower, upper) = if bound.lower {
                    (bound, other)
                } else {
                    (other, bound)
                };
                let (lower_filter, upper_filter) = if bound.lower {
                    (filter, &filters[j])
                } else {
                    (&filters[j], filter)
                };
                out.push(Arc::new(ColumnRangeExpr {
                    index: bound.index,
                    lower: lower.value,
                    upper: upper.value,
                    text: format!(
                        "{} AND {}",
                        create_physical_expr(lower_filter, schema)?,
                        create_physical_expr(upper_filter, schema)?
                    ),
                }) as PhysicalExprRef);
            }
            (Some(_), Some(_)) => {} // fused into the earlier partner
            _ => out.push(create_physical_expr(filter, schema)?),
        }
    }
    Ok(out)
}

/// `column >= value` (`lower`) or `column <= value`, inclusive, as an integer.
#[derive(Debug, Clone, Copy)]
struct Bound {
    index: usize,
    lower: bool,
    /// `None`: no value of the column satisfies the bound (`int_col > max`).
    value: Option<i128>,
}

impl Bound {
    fn recognize(filter: &Expr, schema: &PlanSchema) -> Option<Bound> {
        let Expr::BinaryExpr(binary) = filter else {
            return None;
        };
        let (column, op, literal) = match (binary.left.as_ref(), binary.right.as_ref()) {
            (Expr::Column(c), Expr::Literal(v)) => (c, binary.op, v),
            (Expr::Literal(v), Expr::Column(c)) => (c, binary.op.swap()?, v),
            _ => return None,
        };
        let (index, data_type) = column_type(column, schema)?;
        let value = integer_value(literal, &data_type)?;
        let (lower, value) = match op {
            Operator::GtEq => (true, Some(value)),
            Operator::Gt => (true, value.checked_add(1)),
            Operator::LtEq => (false, Some(value)),
            Operator::Lt => (false, value.checked_sub(1)),
            _ => return None,
        };
        Some(Bound {
            index,
            lower,
            value,
        })
    }
}

fn column_type(column: &Column, schema: &PlanSchema) -> Option<(usize, DataType)> {
    let index = schema.index_of_column(column).ok()?;
    Some((index, schema.field(index).field.data_type().clone()))
}

/// A non-NULL literal as the column type's integer representation, when the literal has
/// that type (an integer literal may be of a wider integer type if it fits; a decimal or
/// integer literal against a decimal column, if it has no more digits after the point).
fn integer_value(literal: &ScalarValue, column_type: &DataType) -> Option<i128> {
    if let DataType::Decimal128(_, scale) = *column_type {
        let (value, literal_scale) = match literal {
            ScalarValue::Decimal128(Some(v), _, s) => (*v, *s),
            other => (i128::from(other.as_i64()?), 0),
        };
        let shift = u32::try_from(i32::from(scale) - i32::from(literal_scale)).ok()?;
        return value.checked_mul(pow10(shift)?);
    }
    let literal = if is_integer(column_type) && literal.data_type() != *column_type {
        if !is_integer(&literal.data_type()) {
            return None;
        }
        cast_scalar(literal, column_type, CastMode::Explicit).ok()?
    } else {
        literal.clone()
    };
    if literal.data_type() != *column_type {
        return None;
    }
    use ScalarValue as S;
    match literal {
        S::Int16(Some(v)) => Some(i128::from(v)),
        S::Int32(Some(v)) | S::Date32(Some(v)) => Some(i128::from(v)),
        S::Int64(Some(v))
        | S::TimestampMicrosecond(Some(v))
        | S::DurationMicrosecond(Some(v))
        | S::Time64Microsecond(Some(v)) => Some(i128::from(v)),
        S::Decimal128(Some(v), _, _) => Some(v),
        _ => None,
    }
}

/// `lower <= column <= upper` (inclusive integer bounds; `None` is a bound nothing meets),
/// NULL where the column is NULL.
#[derive(Debug)]
pub struct ColumnRangeExpr {
    index: usize,
    lower: Option<i128>,
    upper: Option<i128>,
    /// The two comparisons it stands for, for EXPLAIN.
    text: String,
}

/// A native integer whose distance from a lower bound, taken as unsigned, tests
/// `low <= value <= high` in one comparison: `value - low` wraps to a huge number below
/// `low`, so `(value - low) as unsigned <= (high - low) as unsigned` holds exactly inside.
trait RangeNative: Copy + PartialOrd {
    type Unsigned: Copy + PartialOrd;
    fn offset_from(self, low: Self) -> Self::Unsigned;
}

macro_rules! range_native {
    ($($signed:ty => $unsigned:ty),*) => {$(
        impl RangeNative for $signed {
            type Unsigned = $unsigned;
            #[inline(always)]
            fn offset_from(self, low: Self) -> $unsigned {
                self.wrapping_sub(low) as $unsigned
            }
        }
    )*};
}

range_native!(i16 => u16, i32 => u32, i64 => u64, i128 => u128);

/// Each value of a primitive array tested against `lower..=upper`.
fn in_range<T: ArrowPrimitiveType>(
    array: &dyn Array,
    lower: i128,
    upper: i128,
) -> Option<BooleanBuffer>
where
    T::Native: TryFrom<i128> + RangeNative,
{
    let values = array.as_primitive_opt::<T>()?.values();
    // Bounds outside the type's range: `lower` can only exceed it upwards (it was a value
    // of the type, plus one) and `upper` downwards.
    let (Ok(low), Ok(high)) = (T::Native::try_from(lower), T::Native::try_from(upper)) else {
        return Some(BooleanBuffer::new_unset(values.len()));
    };
    if low > high {
        return Some(BooleanBuffer::new_unset(values.len()));
    }
    let width = high.offset_from(low);
    // 64 values to a word, over slices without bounds checks and with the bounds in
    // registers, one comparison per value, so the loop vectorizes (Arrow's `collect_bool`
    // closure reloads captured bounds and checks indices on every value).
    let pack = |chunk: &[T::Native]| {
        chunk
            .iter()
            .enumerate()
            .fold(0u64, |packed, (bit, &value)| {
                packed | (u64::from(value.offset_from(low) <= width) << bit)
            })
    };
    let chunks = values.chunks_exact(64);
    let remainder = chunks.remainder();
    let mut words: Vec<u64> = chunks.map(pack).collect();
    if !remainder.is_empty() {
        words.push(pack(remainder));
    }
    Some(BooleanBuffer::new(Buffer::from_vec(words), 0, values.len()))
}

impl ColumnRangeExpr {
    fn test(&self, array: &ArrayRef) -> Result<BooleanArray> {
        let nulls = array.logical_nulls();
        let (Some(lower), Some(upper)) = (self.lower, self.upper) else {
            return Ok(BooleanArray::new(
                BooleanBuffer::new_unset(array.len()),
                nulls,
            ));
        };
        let array = array.as_ref();
        let values = match array.data_type() {
            DataType::Int16 => in_range::<Int16Type>(array, lower, upper),
            DataType::Int32 => in_range::<Int32Type>(array, lower, upper),
            DataType::Int64 => in_range::<Int64Type>(array, lower, upper),
            DataType::Date32 => in_range::<Date32Type>(array, lower, upper),
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                in_range::<TimestampMicrosecondType>(array, lower, upper)
            }
            DataType::Duration(TimeUnit::Microsecond) => {
                in_range::<DurationMicrosecondType>(array, lower, upper)
            }
            DataType::Time64(TimeUnit::Microsecond) => {
                in_range::<Time64MicrosecondType>(array, lower, upper)
            }
            DataType::Decimal128(..) => in_range::<Decimal128Type>(array, lower, upper),
            _ => None,
        };
        let values = values.ok_or_else(|| {
            EngineError::Internal(format!(
                "range filter cannot test values of type {}",
                array.data_type()
            ))
        })?;
        Ok(BooleanArray::new(values, nulls))
    }
}

impl fmt::Display for ColumnRangeExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "range({})", self.text)
    }
}

impl PhysicalExpr for ColumnRangeExpr {
    fn data_type(&self) -> DataType {
        DataType::Boolean
    }

    fn nullable(&self) -> bool {
        true
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let column = batch.columns().get(self.index).ok_or_else(|| {
            EngineError::Internal(format!("range filter on missing column {}", self.index))
        })?;
        Ok(ColumnarValue::Array(Arc::new(self.test(column)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{col, lit};
    use crate::physical_expr::planner::tests::batch;
    use arrow::array::{Date32Array, Decimal128Array, Int32Array, Int64Array};
    use arrow::compute::kernels::boolean::and_kleene;

    /// The fused form against the two conjuncts planned one by one, on every combination
    /// of operators, for bounds at, between and beyond the values, NULLs included.
    #[test]
    fn fused_ranges_answer_what_the_conjuncts_answer() {
        let ints = vec![
            Some(i32::MIN),
            Some(-5),
            Some(0),
            None,
            Some(3),
            Some(7),
            Some(i32::MAX),
        ];
        let (batch, schema) = batch(vec![
            ("i", Arc::new(Int32Array::from(ints.clone())) as ArrayRef),
            ("d", Arc::new(Date32Array::from(ints.clone()))),
            (
                "b",
                Arc::new(Int64Array::from(vec![
                    Some(1i64),
                    None,
                    Some(3),
                    Some(4),
                    Some(5),
                    Some(6),
                    Some(7),
                ])),
            ),
            (
                "m",
                Arc::new(
                    Decimal128Array::from(vec![
                        Some(-250i128),
                        Some(0),
                        None,
                        Some(249),
                        Some(250),
                        Some(251),
                        Some(999),
                    ])
                    .with_precision_and_scale(5, 2)
                    .unwrap(),
                ),
            ),
        ]);
        let integer_bounds: Vec<ScalarValue> = vec![
            ScalarValue::Int64(Some(i64::from(i32::MIN))),
            ScalarValue::Int64(Some(-5)),
            ScalarValue::Int32(Some(0)),
            ScalarValue::Int64(Some(3)),
            ScalarValue::Int32(Some(i32::MAX)),
        ];
        let columns: Vec<(&str, Vec<ScalarValue>)> = vec![
            ("i", integer_bounds.clone()),
            ("b", integer_bounds),
            (
                "d",
                vec![
                    ScalarValue::Date32(Some(-5)),
                    ScalarValue::Date32(Some(3)),
                    ScalarValue::Date32(Some(i32::MAX)),
                    ScalarValue::Date32(Some(i32::MIN)),
                ],
            ),
            (
                "m",
                vec![
                    ScalarValue::Decimal128(Some(250), 5, 2),
                    ScalarValue::Decimal128(Some(-250), 5, 2),
                    ScalarValue::Decimal128(Some(999), 5, 2),
                    // 2.5 and 0.00 of other types, and an integer.
                    ScalarValue::Decimal128(Some(25), 2, 1),
                    ScalarValue::Decimal128(Some(0), 38, 2),
                    ScalarValue::Int64(Some(-3)),
                ],
            ),
        ];
        let lowers = [Operator::Gt, Operator::GtEq];
        let uppers = [Operator::Lt, Operator::LtEq];
        let mut fused = 0;
        for (name, values) in &columns {
            for low in values {
                for high in values {
                    for (lower_op, upper_op) in lowers
                        .iter()
                        .flat_map(|l| uppers.iter().map(move |u| (*l, *u)))
                    {
                        let lower = col(*name).binary_op(lower_op, lit(low.clone()));
                        // The upper bound written with the literal first.
                        let upper =
                            lit(high.clone()).binary_op(upper_op.swap().unwrap(), col(*name));
                        let filters = vec![lower.clone(), col("i").is_not_null(), upper.clone()];
                        let planned = create_conjunction(&filters, &schema).unwrap();
                        assert_eq!(planned.len(), 2, "{lower} AND {upper}");
                        assert!(
                            planned[0].to_string().starts_with("range("),
                            "{}",
                            planned[0]
                        );
                        fused += 1;
                        let answer = planned[0]
                            .evaluate(&batch)
                            .unwrap()
                            .into_boolean(7)
                            .unwrap();
                        let one = |e: &Expr| {
                            create_physical_expr(e, &schema)
                                .unwrap()
                                .evaluate(&batch)
                                .unwrap()
                                .into_boolean(7)
                                .unwrap()
                        };
                        let expected = and_kleene(&one(&lower), &one(&upper)).unwrap();
                        assert_eq!(answer, expected, "{lower} AND {upper}");
                    }
                }
            }
        }
        assert!(fused > 100);
    }

    /// Batches longer than one 64-value word: every word and the remainder agree with the
    /// two comparisons.
    #[test]
    fn long_batches_pack_every_word() {
        let values: Vec<Option<i64>> = (0..200i64)
            .map(|i| (i % 7 != 3).then_some((i * 37) % 101 - 50))
            .collect();
        let (batch, schema) = batch(vec![("b", Arc::new(Int64Array::from(values)) as ArrayRef)]);
        let filters = vec![col("b").gt(lit(-20i64)), col("b").lt_eq(lit(30i64))];
        let planned = create_conjunction(&filters, &schema).unwrap();
        assert_eq!(planned.len(), 1);
        let answer = planned[0]
            .evaluate(&batch)
            .unwrap()
            .into_boolean(200)
            .unwrap();
        let one = |e: &Expr| {
            create_physical_expr(e, &schema)
                .unwrap()
                .evaluate(&batch)
                .unwrap()
                .into_boolean(200)
                .unwrap()
        };
        let expected = and_kleene(&one(&filters[0]), &one(&filters[1])).unwrap();
        assert_eq!(answer, expected);
        assert!(answer.true_count() > 50 && answer.false_count() > 50);
    }

    /// Bounds of another type, a second bound on one side, non-literal bounds and floats
    /// are planned one by one.
    #[test]
    fn other_filters_are_planned_one_by_one() {
        let (_, schema) = batch(vec![
            ("i", Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef),
            (
                "f",
                Arc::new(arrow::array::Float64Array::from(vec![1.0, 2.0])),
            ),
        ]);
        let cases = vec![
            vec![col("i").gt_eq(lit(1.5)), col("i").lt(lit(3i32))],
            vec![
                col("i").gt_eq(lit(1i32)),
                col("i").gt(lit(0i32)),
                col("i").lt(lit(3i32)),
            ],
            vec![col("i").gt_eq(col("i")), col("i").lt(lit(3i32))],
            vec![col("f").gt_eq(lit(1.0)), col("f").lt(lit(3.0))],
            vec![
                col("i").gt_eq(lit(ScalarValue::Int32(None))),
                col("i").lt(lit(3i32)),
            ],
        ];
        for filters in cases {
            let planned = create_conjunction(&filters, &schema).unwrap();
            assert_eq!(planned.len(), filters.len(), "{filters:?}");
            assert!(planned.iter().all(|p| !p.to_string().starts_with("range(")));
        }
    }
}
