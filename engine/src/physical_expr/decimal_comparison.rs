//! [`DecimalComparisonExpr`]: a comparison between decimals of different types that, when
//! one side turns out to be a single value, moves that value to the other side's type
//! instead of casting the whole column.
//!
//! TPC-H q22 compares `c_acctbal` (`numeric(15, 2)`) with `(SELECT avg(c_acctbal) …)`, a
//! `numeric(38, 16)`: coerced to their common type, every balance would be multiplied by
//! 10^14 into a new 128-bit array before a comparison at scale 16. Comparing against the
//! average rounded to scale 2 is the same test, exactly, when the rounding direction follows
//! the operator. A column value `x` at scale `s` is a multiple of 10^-s, so for a value `v`
//! with more digits, `floor` and `ceil` taken at scale `s`:
//!
//! ```text
//! x >  v  ⇔  x >  floor(v)        x <  v  ⇔  x <  ceil(v)
//! x >= v  ⇔  x >= ceil(v)         x <= v  ⇔  x <= floor(v)
//! x =  v  ⇔  v has no extra digits and x = v   (otherwise FALSE; NULL for a NULL x)
//! ```
//!
//! (when `v` has no digits past scale `s`, `floor(v) = ceil(v) = v` and every line is the
//! plain comparison). A value with fewer digits than the column is scaled up exactly; one
//! too large for 128 bits at the column's scale lies beyond every value a decimal column can
//! hold (38 digits), so it is replaced by the largest or smallest 128-bit integer, which
//! gives the same answers. Two columns, or a column against a value that is not a single
//! one, are compared in the common type as before.

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::DataType;
use quiver_storage::ScalarValue;

use super::cast::{cast_scalar, cast_value, pow10, CastMode};
use super::columnar_value::scalar_to_array;
use super::comparison::{compare_datums, evaluate_comparison};
use super::{ColumnarValue, KernelArg, PhysicalExpr, PhysicalExprRef};
use crate::error::Result;
use crate::expr::type_coercion::is_integer;
use crate::expr::Operator;

/// `left op right` over two decimal (or integer) operands of different types, compared in
/// `common` unless one side is a single value (see the module documentation).
#[derive(Debug)]
pub struct DecimalComparisonExpr {
    left: PhysicalExprRef,
    op: Operator,
    right: PhysicalExprRef,
    common: DataType,
}

impl DecimalComparisonExpr {
    /// The comparison `left op right` when it qualifies: `op` compares, the operands are
    /// decimals or integers of different types, at least one a decimal with a non-negative
    /// scale, and `common` (their common type) is a decimal.
    pub(crate) fn try_new(
        left: &PhysicalExprRef,
        op: Operator,
        right: &PhysicalExprRef,
        common: &DataType,
    ) -> Option<DecimalComparisonExpr> {
        let (lt, rt) = (left.data_type(), right.data_type());
        let decimal = |t: &DataType| matches!(t, DataType::Decimal128(_, scale) if *scale >= 0);
        let operand = |t: &DataType| decimal(t) || is_integer(t);
        let qualifies = op.is_comparison()
            && lt != rt
            && operand(&lt)
            && operand(&rt)
            && (decimal(&lt) || decimal(&rt))
            && decimal(common);
        qualifies.then(|| DecimalComparisonExpr {
            left: Arc::clone(left),
            op,
            right: Arc::clone(right),
            common: common.clone(),
        })
    }

    /// Both sides cast to the common type and compared.
    fn compare_in_common_type(
        &self,
        left: ColumnarValue,
        right: ColumnarValue,
    ) -> Result<ColumnarValue> {
        let left = cast_value(left, &self.common, CastMode::Implicit)?;
        let right = cast_value(right, &self.common, CastMode::Implicit)?;
        evaluate_comparison(self.op, &left, &right)
    }
}

/// `array op value` with `value` moved to the array's decimal type; `None` when the array is
/// not a decimal or the value does not convert (the caller compares in the common type).
fn compare_with_value(
    array: &ArrayRef,
    op: Operator,
    value: &ScalarValue,
) -> Result<Option<BooleanArray>> {
    let DataType::Decimal128(precision, scale) = *array.data_type() else {
        return Ok(None);
    };
    if scale < 0 {
        return Ok(None);
    }
    // An integer value is a decimal of scale 0.
    let value = match value {
        ScalarValue::Decimal128(..) => value.clone(),
        other => match cast_scalar(other, &DataType::Decimal128(38, 0), CastMode::Implicit) {
            Ok(v) => v,
            Err(_) => return Ok(None),
        },
    };
    let ScalarValue::Decimal128(value, _, value_scale) = value else {
        return Ok(None);
    };
    if value_scale < 0 {
        return Ok(None);
    }
    let bound = |v: i128| {
        let scalar = ScalarValue::Decimal128(Some(v), precision, scale);
        KernelArg::new(scalar_to_array(&scalar, 1), true)
    };
    let Some(value) = value else {
        // NULL: NULL for `=` and friends; DISTINCT asks whether the row is not NULL.
        let null = ScalarValue::Decimal128(None, precision, scale);
        let null = KernelArg::new(scalar_to_array(&null, 1), true);
        return Ok(Some(compare_datums(op, array, &null)?));
    };
    let constant = |answer: bool, nulls| {
        let values = if answer {
            BooleanBuffer::new_set(array.len())
        } else {
            BooleanBuffer::new_unset(array.len())
        };
        BooleanArray::new(values, nulls)
    };
    Ok(Some(match rescale(value, value_scale, scale) {
        Rescaled::Exact(v) => compare_datums(op, array, &bound(v))?,
        Rescaled::Between(floor) => match op {
            Operator::Gt | Operator::LtEq => compare_datums(op, array, &bound(floor))?,
            // `floor + 1` cannot overflow: `floor` is a quotient by at least 10.
            Operator::GtEq | Operator::Lt => compare_datums(op, array, &bound(floor + 1))?,
            // No value of the column equals `v`.
            Operator::Eq => constant(false, array.logical_nulls()),
            Operator::NotEq => constant(true, array.logical_nulls()),
            Operator::IsDistinctFrom => constant(true, None),
            Operator::IsNotDistinctFrom => constant(false, None),
            _ => return Ok(None),
        },
    }))
}

/// A decimal value moved to another scale.
#[derive(Debug, PartialEq)]
enum Rescaled {
    /// The value itself at the new scale (or, beyond 128 bits, `i128::MAX`/`MIN`, which
    /// compare like it against every decimal value).
    Exact(i128),
    /// The value lies strictly between `floor` and `floor + 1` at the new scale.
    Between(i128),
}

fn rescale(value: i128, from_scale: i8, to_scale: i8) -> Rescaled {
    let shift = i32::from(to_scale) - i32::from(from_scale);
    if shift >= 0 {
        let scaled = pow10(shift.unsigned_abs()).and_then(|m| value.checked_mul(m));
        return Rescaled::Exact(scaled.unwrap_or(if value > 0 { i128::MAX } else { i128::MIN }));
    }
    let Some(divisor) = pow10(shift.unsigned_abs()) else {
        // More than 38 digits dropped: every 128-bit value is within (-1, 1) of 0.
        return match value.signum() {
            0 => Rescaled::Exact(0),
            1 => Rescaled::Between(0),
            _ => Rescaled::Between(-1),
        };
    };
    let floor = value.div_euclid(divisor);
    if value.rem_euclid(divisor) == 0 {
        Rescaled::Exact(floor)
    } else {
        Rescaled::Between(floor)
    }
}

impl fmt::Display for DecimalComparisonExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({} {} {})", self.left, self.op, self.right)
    }
}

impl PhysicalExpr for DecimalComparisonExpr {
    fn data_type(&self) -> DataType {
        DataType::Boolean
    }

    fn nullable(&self) -> bool {
        self.left.nullable() || self.right.nullable()
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let left = self.left.evaluate(batch)?;
        let right = self.right.evaluate(batch)?;
        let single = match (&left, &right) {
            (ColumnarValue::Array(array), ColumnarValue::Scalar(value)) => {
                compare_with_value(array, self.op, value)?
            }
            (ColumnarValue::Scalar(value), ColumnarValue::Array(array)) => match self.op.swap() {
                Some(op) => compare_with_value(array, op, value)?,
                None => None,
            },
            _ => None,
        };
        match single {
            Some(out) => Ok(ColumnarValue::Array(Arc::new(out))),
            None => self.compare_in_common_type(left, right),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{col, lit, Expr};
    use crate::physical_expr::create_physical_expr;
    use crate::physical_expr::planner::tests::{batch, booleans, evaluate};
    use arrow::array::{AsArray, Decimal128Array, Int32Array};
    use arrow::datatypes::Decimal128Type;

    fn decimals(values: Vec<Option<i128>>, precision: u8, scale: i8) -> ArrayRef {
        Arc::new(
            Decimal128Array::from(values)
                .with_precision_and_scale(precision, scale)
                .unwrap(),
        )
    }

    fn decimal(value: i128, precision: u8, scale: i8) -> Expr {
        lit(ScalarValue::Decimal128(Some(value), precision, scale))
    }

    #[test]
    fn rescaling_floors_and_marks_values_between() {
        assert_eq!(rescale(1234, 2, 2), Rescaled::Exact(1234));
        assert_eq!(rescale(12, 0, 2), Rescaled::Exact(1200));
        assert_eq!(rescale(123_400, 4, 2), Rescaled::Exact(1234));
        assert_eq!(rescale(123_456, 4, 2), Rescaled::Between(1234));
        assert_eq!(rescale(-123_456, 4, 2), Rescaled::Between(-1235));
        assert_eq!(rescale(-123_400, 4, 2), Rescaled::Exact(-1234));
        assert_eq!(rescale(i128::MAX / 2, 0, 38), Rescaled::Exact(i128::MAX));
        assert_eq!(rescale(-5, 0, 38), Rescaled::Exact(i128::MIN));
        assert_eq!(rescale(5, 38, 0), Rescaled::Between(0));
        assert_eq!(rescale(-5, 38, 0), Rescaled::Between(-1));
    }

    /// Every operator against values equal to a column value, between two, negative, with
    /// more digits than the column, beyond 128 bits, and NULL, answers what the comparison
    /// in the common type answers.
    #[test]
    fn single_values_compare_at_the_column_scale() {
        // numeric(5, 2): -2.50, -2.49, 0.00, NULL, 2.49, 2.50, 999.99
        let column = decimals(
            vec![
                Some(-250),
                Some(-249),
                Some(0),
                None,
                Some(249),
                Some(250),
                Some(99_999),
            ],
            5,
            2,
        );
        let (batch, schema) = batch(vec![("x", Arc::clone(&column))]);
        let values = vec![
            decimal(2_500_000_000_000_000, 38, 16),  // 0.25 exactly
            decimal(24_900_000_000_000_000, 38, 16), // 2.49 exactly, a column value
            decimal(24_950_000_000_000_001, 38, 16), // between 2.49 and 2.50
            decimal(-24_950_000_000_000_001, 38, 16),
            decimal(-24_900_000_000_000_000, 38, 16),
            decimal(1, 38, 37),  // just above 0
            decimal(-1, 38, 37), // just below 0
            decimal(25, 3, 1),   // 2.5 with fewer digits than the column
            decimal(i128::MAX / 10, 38, 0),
            decimal(-(i128::MAX / 10), 38, 0),
            lit(ScalarValue::Decimal128(None, 38, 16)),
            lit(2i64),
            lit(-3i32),
        ];
        let operators = [
            Operator::Eq,
            Operator::NotEq,
            Operator::Lt,
            Operator::LtEq,
            Operator::Gt,
            Operator::GtEq,
            Operator::IsDistinctFrom,
            Operator::IsNotDistinctFrom,
        ];
        for value in &values {
            for op in operators {
                for (left, right) in [(col("x"), value.clone()), (value.clone(), col("x"))] {
                    let e = left.clone().binary_op(op, right.clone());
                    let physical = create_physical_expr(&e, &schema).unwrap();
                    // The column is not cast to the common type.
                    assert!(!physical.to_string().contains("CAST"), "{physical}");
                    let out = evaluate(&e, &batch, &schema).unwrap();
                    // The plain comparison in the common type, computed by hand: the
                    // column as exact rationals against the value.
                    let expected = expected(&column, &left, op, value);
                    assert_eq!(booleans(&out), expected, "{e}");
                }
            }
        }
    }

    /// `x op v` (or `v op x` when `left` is not the column) over exact fractions.
    fn expected(column: &ArrayRef, left: &Expr, op: Operator, value: &Expr) -> Vec<Option<bool>> {
        let Expr::Literal(value) = value else {
            unreachable!("the values are literals")
        };
        let value = match value {
            ScalarValue::Decimal128(v, _, s) => v.map(|v| (v, *s)),
            other => other.as_i64().map(|v| (i128::from(v), 0)),
        };
        let column_first = matches!(left, Expr::Column(_));
        column
            .as_primitive::<Decimal128Type>()
            .iter()
            .map(|x| {
                let (order, x_null, v_null) = match (x, value) {
                    (Some(x), Some((v, s))) => (Some(compare_fractions(x, 2, v, s)), false, false),
                    (x, v) => (None, x.is_none(), v.is_none()),
                };
                let order = order.map(|o| if column_first { o } else { o.reverse() });
                use std::cmp::Ordering::*;
                match op {
                    Operator::IsDistinctFrom => Some(match order {
                        Some(o) => o != Equal,
                        None => x_null != v_null,
                    }),
                    Operator::IsNotDistinctFrom => Some(match order {
                        Some(o) => o == Equal,
                        None => x_null == v_null,
                    }),
                    _ => order.map(|o| match op {
                        Operator::Eq => o == Equal,
                        Operator::NotEq => o != Equal,
                        Operator::Lt => o == Less,
                        Operator::LtEq => o != Greater,
                        Operator::Gt => o == Greater,
                        Operator::GtEq => o != Less,
                        _ => unreachable!("a comparison"),
                    }),
                }
            })
            .collect()
    }

    /// `a / 10^sa` against `b / 10^sb`, exactly: the integer parts, then the fractional
    /// digits as zero-padded text of one length.
    fn compare_fractions(a: i128, sa: i8, b: i128, sb: i8) -> std::cmp::Ordering {
        let (da, db) = (10i128.pow(sa as u32), 10i128.pow(sb as u32));
        let (ia, fa) = (a.div_euclid(da), a.rem_euclid(da));
        let (ib, fb) = (b.div_euclid(db), b.rem_euclid(db));
        let digits = |f: i128, scale: i8| {
            let mut text = format!("{f:0width$}", width = scale as usize);
            text.push_str(&"0".repeat(40 - scale as usize));
            text
        };
        ia.cmp(&ib)
            .then_with(|| digits(fa, sa).cmp(&digits(fb, sb)))
    }

    /// Two columns of different decimal types still compare in the common type, and an
    /// integer column against a decimal value is left to the plain comparison.
    #[test]
    fn columns_compare_in_the_common_type() {
        let (batch, schema) = batch(vec![
            ("x", decimals(vec![Some(250), Some(-1), None], 5, 2)),
            ("y", decimals(vec![Some(25_000), Some(0), Some(1)], 10, 4)),
            (
                "i",
                Arc::new(Int32Array::from(vec![Some(3), Some(-1), None])),
            ),
        ]);
        let e = col("x").binary_op(Operator::Eq, col("y"));
        let out = evaluate(&e, &batch, &schema).unwrap();
        assert_eq!(booleans(&out), vec![Some(true), Some(false), None]);
        let e = col("x").binary_op(Operator::Lt, col("i"));
        let out = evaluate(&e, &batch, &schema).unwrap();
        assert_eq!(booleans(&out), vec![Some(true), Some(false), None]);
        let e = col("i").binary_op(Operator::Gt, decimal(25, 2, 1));
        let out = evaluate(&e, &batch, &schema).unwrap();
        assert_eq!(booleans(&out), vec![Some(true), Some(false), None]);
    }
}
