//! [`BinaryExpr`]: arithmetic, comparison and AND/OR over two operands.
//!
//! The planner has already coerced both operands (arithmetic to
//! [`arithmetic_types`](crate::expr::type_coercion::arithmetic_types), comparisons to
//! [`comparison_common_type`](crate::expr::type_coercion::comparison_common_type)), so
//! evaluation only dispatches to [`super::arithmetic`] or [`super::comparison`].
//!
//! AND/OR use Kleene logic (`NULL AND false` is false, `NULL OR true` is true). PostgreSQL
//! evaluates `x <> 0 AND 10 / x > 1` without a division error, because the right side never
//! runs on a row the left side already decided. Evaluating the right side for the whole
//! batch is faster, so we do that first, and only when it fails do we evaluate it again on
//! the rows the left side left undecided; an error there is a real one. When the left side
//! decides most rows (at least [`DECIDED_SHARE`] of them: `p_brand = 'Brand#12' AND …` in
//! TPC-H q19 keeps one part in 25), the right side runs on the undecided rows only, as on
//! DuckDB's selection vectors: the columns it reads are filtered to those rows (the others
//! are carried as zero-copy slices it never looks at) and its answers are merged back.

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch, RecordBatchOptions};
use arrow::compute::kernels::boolean::{and_kleene, or_kleene};
use arrow::compute::kernels::filter::{filter, filter_record_batch};
use arrow::datatypes::DataType;
use quiver_storage::ScalarValue;

use super::arithmetic::evaluate_arithmetic;
use super::columnar_value::scatter;
use super::comparison::evaluate_comparison;
use super::{ColumnarValue, PhysicalExpr, PhysicalExprRef};
use crate::error::{EngineError, Result};
use crate::expr::Operator;

/// `left op right` with both operands already of the operator's input types.
#[derive(Debug)]
pub struct BinaryExpr {
    left: PhysicalExprRef,
    op: Operator,
    right: PhysicalExprRef,
    data_type: DataType,
    /// For AND/OR: the input columns the right side reads, when known; lets it run on the
    /// left side's undecided rows only.
    right_columns: Option<Vec<usize>>,
}

/// The share of rows (in quarters) the left side of AND/OR must decide before the right side
/// is run on the remaining rows alone rather than on the whole batch: below it, filtering
/// the right side's columns costs more than evaluating it everywhere.
const DECIDED_SHARE: (usize, usize) = (3, 4);

impl BinaryExpr {
    /// A binary expression producing `data_type` (Boolean for comparisons and AND/OR).
    pub fn new(
        left: PhysicalExprRef,
        op: Operator,
        right: PhysicalExprRef,
        data_type: DataType,
    ) -> BinaryExpr {
        BinaryExpr {
            left,
            op,
            right,
            data_type,
            right_columns: None,
        }
    }

    /// AND/OR whose right side reads only `columns` of the input (their positions in it).
    pub(crate) fn with_right_columns(mut self, columns: Vec<usize>) -> BinaryExpr {
        self.right_columns = Some(columns);
        self
    }

    fn evaluate_logical(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let is_and = self.op == Operator::And;
        // The value that decides the result on its own: false for AND, true for OR.
        let dominant = !is_and;
        let left = self.left.evaluate(batch)?;
        match &left {
            ColumnarValue::Scalar(ScalarValue::Boolean(Some(v))) if *v == dominant => {
                return Ok(left);
            }
            ColumnarValue::Scalar(ScalarValue::Boolean(Some(_))) => {
                return self.right.evaluate(batch);
            }
            ColumnarValue::Array(a) if a.null_count() == 0 => {
                let decided = a.as_any().downcast_ref::<BooleanArray>().map(|b| {
                    if dominant {
                        b.true_count()
                    } else {
                        b.false_count()
                    }
                });
                if decided == Some(a.len()) {
                    return Ok(left);
                }
            }
            _ => {}
        }
        let num_rows = batch.num_rows();
        if let Some(out) = self.evaluate_right_on_undecided(batch, &left, is_and)? {
            return Ok(out);
        }
        let right = match self.right.evaluate(batch) {
            Ok(right) => right,
            Err(error) => self.retry_undecided(batch, &left, dominant, error)?,
        };
        if let (ColumnarValue::Scalar(l), ColumnarValue::Scalar(r)) = (&left, &right) {
            let (l, r) = (scalar_bool(l)?, scalar_bool(r)?);
            return Ok(ColumnarValue::Scalar(ScalarValue::Boolean(kleene(
                is_and, l, r,
            ))));
        }
        let l = left.into_boolean(num_rows)?;
        let r = right.into_boolean(num_rows)?;
        let out = if is_and {
            and_kleene(&l, &r)?
        } else {
            or_kleene(&l, &r)?
        };
        Ok(ColumnarValue::Array(Arc::new(out)))
    }

    /// When the left side decided most rows: the right side evaluated on the others only,
    /// combined with the left side. `None` when that does not pay (or the columns the right
    /// side reads are unknown).
    fn evaluate_right_on_undecided(
        &self,
        batch: &RecordBatch,
        left: &ColumnarValue,
        is_and: bool,
    ) -> Result<Option<ColumnarValue>> {
        let (Some(columns), ColumnarValue::Array(left)) = (&self.right_columns, left) else {
            return Ok(None);
        };
        let Some(left) = left.as_any().downcast_ref::<BooleanArray>() else {
            return Ok(None);
        };
        let num_rows = left.len();
        // Decided: the dominant value (false for AND, true for OR), not NULL.
        let decided = match left.nulls() {
            Some(nulls) => {
                let dominant_bits = if is_and {
                    !left.values()
                } else {
                    left.values().clone()
                };
                &dominant_bits & nulls.inner()
            }
            None if is_and => !left.values(),
            None => left.values().clone(),
        };
        let undecided_count = num_rows - decided.count_set_bits();
        if undecided_count == 0
            || undecided_count * DECIDED_SHARE.1 > num_rows * (DECIDED_SHARE.1 - DECIDED_SHARE.0)
        {
            return Ok(None);
        }
        let undecided = BooleanArray::new(!&decided, None);
        let mut subset_columns = Vec::with_capacity(batch.num_columns());
        for (i, column) in batch.columns().iter().enumerate() {
            subset_columns.push(if columns.contains(&i) {
                filter(column.as_ref(), &undecided)?
            } else {
                // Never read by the right side: any rows of the right type and count do.
                column.slice(0, undecided_count)
            });
        }
        let options = RecordBatchOptions::new().with_row_count(Some(undecided_count));
        let subset = RecordBatch::try_new_with_options(batch.schema(), subset_columns, &options)?;
        let right = self
            .right
            .evaluate(&subset)?
            .into_boolean(undecided_count)?;
        let dominant = Some(!is_and);
        let mut next = 0;
        let out: BooleanArray = (0..num_rows)
            .map(|i| {
                if decided.value(i) {
                    return dominant;
                }
                let l = left.is_valid(i).then(|| left.value(i));
                let r = right.is_valid(next).then(|| right.value(next));
                next += 1;
                kleene(is_and, l, r)
            })
            .collect();
        Ok(Some(ColumnarValue::Array(Arc::new(out))))
    }

    /// Evaluates the right side only on the rows whose result the left side did not decide;
    /// the other rows get NULL, which the dominant left value overrides.
    fn retry_undecided(
        &self,
        batch: &RecordBatch,
        left: &ColumnarValue,
        dominant: bool,
        error: EngineError,
    ) -> Result<ColumnarValue> {
        let ColumnarValue::Array(left) = left else {
            return Err(error);
        };
        let Some(left) = left.as_any().downcast_ref::<BooleanArray>() else {
            return Err(error);
        };
        let undecided: BooleanArray = left.iter().map(|v| Some(v != Some(dominant))).collect();
        if undecided.true_count() == undecided.len() {
            return Err(error);
        }
        let subset = filter_record_batch(batch, &undecided)?;
        let values = self
            .right
            .evaluate(&subset)?
            .into_array(subset.num_rows())?;
        Ok(ColumnarValue::Array(scatter(&undecided, values.as_ref())?))
    }
}

fn scalar_bool(value: &ScalarValue) -> Result<Option<bool>> {
    match value {
        ScalarValue::Boolean(v) => Ok(*v),
        ScalarValue::Null => Ok(None),
        other => Err(EngineError::Internal(format!(
            "boolean operator on {}",
            other.data_type()
        ))),
    }
}

/// Three-valued AND/OR of two values.
fn kleene(is_and: bool, l: Option<bool>, r: Option<bool>) -> Option<bool> {
    match (is_and, l, r) {
        (true, Some(false), _) | (true, _, Some(false)) => Some(false),
        (true, Some(true), Some(true)) => Some(true),
        (false, Some(true), _) | (false, _, Some(true)) => Some(true),
        (false, Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

impl fmt::Display for BinaryExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({} {} {})", self.left, self.op, self.right)
    }
}

impl PhysicalExpr for BinaryExpr {
    fn data_type(&self) -> DataType {
        self.data_type.clone()
    }

    fn nullable(&self) -> bool {
        match self.op {
            Operator::IsDistinctFrom | Operator::IsNotDistinctFrom => false,
            _ => self.left.nullable() || self.right.nullable(),
        }
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        if matches!(self.op, Operator::And | Operator::Or) {
            return self.evaluate_logical(batch);
        }
        let left = self.left.evaluate(batch)?;
        let right = self.right.evaluate(batch)?;
        if self.op.is_arithmetic() {
            evaluate_arithmetic(self.op, &left, &right, &self.data_type)
        } else {
            evaluate_comparison(self.op, &left, &right)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kleene_truth_table() {
        let values = [Some(true), Some(false), None];
        // Rows: left; columns: right (true, false, NULL).
        let and = [
            [Some(true), Some(false), None],
            [Some(false), Some(false), Some(false)],
            [None, Some(false), None],
        ];
        let or = [
            [Some(true), Some(true), Some(true)],
            [Some(true), Some(false), None],
            [Some(true), None, None],
        ];
        for (i, l) in values.iter().enumerate() {
            for (j, r) in values.iter().enumerate() {
                assert_eq!(kleene(true, *l, *r), and[i][j], "{l:?} AND {r:?}");
                assert_eq!(kleene(false, *l, *r), or[i][j], "{l:?} OR {r:?}");
            }
        }
    }
}
