//! [`CaseExpr`]: `CASE [operand] WHEN … THEN … [ELSE …] END`.
//!
//! The first WHEN that is true wins; a WHEN that is NULL does not match. Each THEN runs only
//! on the rows that chose it, so `CASE WHEN x = 0 THEN 0 ELSE 10 / x END` never divides by
//! zero, as in PostgreSQL: the rows still undecided are carried from branch to branch, each
//! branch is evaluated on its own subset of the batch, and the pieces are put back in row
//! order with one `interleave`. A branch that every remaining row takes, or an ELSE that
//! takes the whole batch, is returned as is (a literal stays scalar).
//!
//! Only the columns the CASE reads are carried into the subsets: the expression is planned
//! against a projection of the input, so filtering a wide batch costs no more than its few
//! referenced columns.

use std::fmt;
use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, BooleanArray, RecordBatch, UInt32Array};
use arrow::compute::kernels::filter::filter_record_batch;
use arrow::compute::kernels::interleave::interleave;
use arrow::compute::kernels::take::take;
use arrow::datatypes::DataType;
use quiver_storage::ScalarValue;

use super::cast::{cast_value, CastMode};
use super::columnar_value::{nulls_as_false, take_rows};
use super::comparison::evaluate_comparison;
use super::planner::{boolean_operand, coerce, create};
use super::{ColumnarValue, PhysicalExpr, PhysicalExprRef};
use crate::error::{EngineError, Result};
use crate::expr::type_coercion::{comparison_common_type, value_type};
use crate::expr::{Case, Operator};
use crate::logical_plan::PlanSchema;

/// One `WHEN … THEN …`.
#[derive(Debug)]
struct Branch {
    /// The condition (searched CASE) or the value compared with the operand (simple CASE).
    when: PhysicalExprRef,
    /// For a simple CASE: the type the operand and `when` are compared in.
    compare_type: Option<DataType>,
    then: PhysicalExprRef,
}

/// A planned CASE expression.
#[derive(Debug)]
pub struct CaseExpr {
    /// The input columns the CASE reads; its sub-expressions are bound to this projection.
    projection: Vec<usize>,
    operand: Option<PhysicalExprRef>,
    branches: Vec<Branch>,
    else_expr: Option<PhysicalExprRef>,
    data_type: DataType,
}

/// Plans a CASE against `schema`.
pub fn create_case(case: &Case, schema: &PlanSchema) -> Result<PhysicalExprRef> {
    if case.when_then.is_empty() {
        return Err(EngineError::Plan(
            "CASE needs at least one WHEN".to_string(),
        ));
    }
    let mut projection = Vec::new();
    let parts = case
        .operand
        .iter()
        .map(|e| e.as_ref())
        .chain(case.when_then.iter().flat_map(|(w, t)| [w, t]))
        .chain(case.else_expr.iter().map(|e| e.as_ref()));
    for part in parts {
        for column in part.column_refs() {
            projection.push(schema.index_of_column(&column)?);
        }
    }
    projection.sort_unstable();
    projection.dedup();
    let inner = PlanSchema::new(
        projection
            .iter()
            .map(|i| schema.field(*i).clone())
            .collect(),
    );

    let operand = case
        .operand
        .as_deref()
        .map(|e| create(e, &inner))
        .transpose()?;
    let mut data_type = DataType::Null;
    let mut branches = Vec::with_capacity(case.when_then.len());
    for (when, then) in &case.when_then {
        let when = create(when, &inner)?;
        let then = create(then, &inner)?;
        data_type = common(&data_type, &then.data_type())?;
        let (when, compare_type) = match &operand {
            None => (boolean_operand(when, "CASE/WHEN")?, None),
            Some(operand) => {
                let (o, w) = (operand.data_type(), when.data_type());
                let t = comparison_common_type(&o, &w).ok_or_else(|| {
                    EngineError::Plan(format!(
                        "CASE/WHEN cannot compare {} with {}",
                        value_type(&o),
                        value_type(&w)
                    ))
                })?;
                (coerce(when, &t, true)?, Some(t))
            }
        };
        branches.push(Branch {
            when,
            compare_type,
            then,
        });
    }
    let else_expr = case
        .else_expr
        .as_deref()
        .map(|e| create(e, &inner))
        .transpose()?;
    if let Some(e) = &else_expr {
        data_type = common(&data_type, &e.data_type())?;
    }
    for branch in &mut branches {
        branch.then = coerce(Arc::clone(&branch.then), &data_type, false)?;
    }
    let else_expr = else_expr
        .map(|e| coerce(e, &data_type, false))
        .transpose()?;
    Ok(Arc::new(CaseExpr {
        projection,
        operand,
        branches,
        else_expr,
        data_type,
    }))
}

fn common(a: &DataType, b: &DataType) -> Result<DataType> {
    comparison_common_type(a, b)
        .ok_or_else(|| EngineError::Plan(format!("CASE types {a} and {b} cannot be matched")))
}

impl CaseExpr {
    /// Which rows of `subset` take `branch`: its condition, or operand = value.
    fn matches(
        &self,
        branch: &Branch,
        subset: &RecordBatch,
        operand: Option<&ArrayRef>,
    ) -> Result<BooleanArray> {
        let rows = subset.num_rows();
        let when = branch.when.evaluate(subset)?;
        let matched = match (operand, &branch.compare_type) {
            (Some(operand), Some(t)) => {
                let operand = ColumnarValue::Array(Arc::clone(operand));
                let operand = if value_type(&operand.data_type()) == value_type(t) {
                    operand
                } else {
                    cast_value(operand, t, CastMode::Implicit)?
                };
                evaluate_comparison(Operator::Eq, &operand, &when)?.into_boolean(rows)?
            }
            _ => when.into_boolean(rows)?,
        };
        Ok(nulls_as_false(matched))
    }
}

impl fmt::Display for CaseExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CASE")?;
        if let Some(o) = &self.operand {
            write!(f, " {o}")?;
        }
        for b in &self.branches {
            write!(f, " WHEN {} THEN {}", b.when, b.then)?;
        }
        if let Some(e) = &self.else_expr {
            write!(f, " ELSE {e}")?;
        }
        f.write_str(" END")
    }
}

/// Where each output row comes from while branches are evaluated: `(piece, row in piece)`.
const UNASSIGNED: (usize, usize) = (usize::MAX, 0);

impl PhysicalExpr for CaseExpr {
    fn data_type(&self) -> DataType {
        self.data_type.clone()
    }

    fn nullable(&self) -> bool {
        match &self.else_expr {
            None => true,
            Some(e) => e.nullable() || self.branches.iter().any(|b| b.then.nullable()),
        }
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let batch = batch.project(&self.projection)?;
        let num_rows = batch.num_rows();
        let operand = match &self.operand {
            Some(e) => Some(e.evaluate(&batch)?.into_array(num_rows)?),
            None => None,
        };
        // Rows (of `batch`) still looking for a branch; `None` means all of them.
        let mut remaining: Option<Vec<u32>> = None;
        let mut pieces: Vec<ArrayRef> = Vec::new();
        let mut assignment = vec![UNASSIGNED; num_rows];

        for branch in &self.branches {
            let rows = remaining.as_ref().map_or(num_rows, Vec::len);
            if rows == 0 {
                break;
            }
            let (subset, subset_operand) = match &remaining {
                None => (batch.clone(), operand.clone()),
                Some(indices) => {
                    let indices = UInt32Array::from(indices.clone());
                    let operand = operand
                        .as_ref()
                        .map(|o| take(o.as_ref(), &indices, None))
                        .transpose()?;
                    (take_rows(&batch, &indices)?, operand)
                }
            };
            let matched = self.matches(branch, &subset, subset_operand.as_ref())?;
            let count = matched.true_count();
            if count == 0 {
                continue;
            }
            if count == rows && remaining.is_none() {
                // The first branch that matches anything matches everything.
                return branch.then.evaluate(&batch);
            }
            let chosen = if count == rows {
                subset
            } else {
                filter_record_batch(&subset, &matched)?
            };
            let value = branch.then.evaluate(&chosen)?;
            let is_scalar = matches!(value, ColumnarValue::Scalar(_));
            let piece = pieces.len();
            pieces.push(value.into_array(if is_scalar { 1 } else { count })?);
            let mut next = 0;
            let mut still_remaining = Vec::with_capacity(rows - count);
            for (j, taken) in matched.values().iter().enumerate() {
                let row = remaining.as_ref().map_or(j as u32, |r| r[j]);
                if taken {
                    assignment[row as usize] = (piece, if is_scalar { 0 } else { next });
                    next += 1;
                } else {
                    still_remaining.push(row);
                }
            }
            remaining = Some(still_remaining);
        }

        match (&remaining, &self.else_expr) {
            (None, Some(else_expr)) => return else_expr.evaluate(&batch),
            (None, None) => {
                return Ok(ColumnarValue::Scalar(ScalarValue::null_of(&self.data_type)))
            }
            (Some(rows), Some(else_expr)) if !rows.is_empty() => {
                let subset = take_rows(&batch, &UInt32Array::from(rows.clone()))?;
                let value = else_expr.evaluate(&subset)?;
                let is_scalar = matches!(value, ColumnarValue::Scalar(_));
                let piece = pieces.len();
                pieces.push(value.into_array(if is_scalar { 1 } else { rows.len() })?);
                for (k, row) in rows.iter().enumerate() {
                    assignment[*row as usize] = (piece, if is_scalar { 0 } else { k });
                }
            }
            _ => {}
        }
        let null_piece = pieces.len();
        pieces.push(new_null_array(&self.data_type, 1));
        for slot in assignment.iter_mut().filter(|s| **s == UNASSIGNED) {
            *slot = (null_piece, 0);
        }
        let arrays: Vec<&dyn Array> = pieces.iter().map(|p| p.as_ref()).collect();
        Ok(ColumnarValue::Array(interleave(&arrays, &assignment)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{col, lit, Expr};
    use crate::physical_expr::create_physical_expr;
    use crate::physical_expr::planner::tests::{batch, evaluate};
    use arrow::array::{AsArray, DictionaryArray, Float64Array, Int32Array, Int64Array};
    use arrow::datatypes::{Int32Type, Int64Type};

    fn case(operand: Option<Expr>, when_then: Vec<(Expr, Expr)>, else_expr: Option<Expr>) -> Expr {
        Expr::Case(Case {
            operand: operand.map(Box::new),
            when_then,
            else_expr: else_expr.map(Box::new),
        })
    }

    fn sample() -> (RecordBatch, PlanSchema) {
        batch(vec![
            (
                "x",
                Arc::new(Int32Array::from(vec![
                    Some(0),
                    Some(5),
                    None,
                    Some(2),
                    Some(0),
                ])) as ArrayRef,
            ),
            (
                "unused",
                Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 4.0, 5.0])),
            ),
            (
                "s",
                Arc::new(
                    vec![Some("a"), Some("b"), Some("a"), None, Some("c")]
                        .into_iter()
                        .collect::<DictionaryArray<Int32Type>>(),
                ),
            ),
        ])
    }

    fn ints(array: &ArrayRef) -> Vec<Option<i32>> {
        array.as_primitive::<Int32Type>().iter().collect()
    }

    #[test]
    fn untaken_branch_does_not_raise() {
        let (batch, schema) = sample();
        let e = case(
            None,
            vec![(col("x").eq(lit(0i32)), lit(0i32))],
            Some(lit(10i32) / col("x")),
        );
        let out = evaluate(&e, &batch, &schema).unwrap();
        assert_eq!(ints(&out), vec![Some(0), Some(2), None, Some(5), Some(0)]);
        // Without the guard the division fails.
        let e = case(
            None,
            vec![(col("x").gt(lit(100i32)), lit(0i32))],
            Some(lit(10i32) / col("x")),
        );
        assert!(matches!(
            evaluate(&e, &batch, &schema),
            Err(EngineError::DivisionByZero)
        ));
        // A literal branch nobody takes is not evaluated either.
        let e = case(
            None,
            vec![(col("x").gt(lit(100i32)), lit(1i32) / lit(0i32))],
            Some(lit(7i32)),
        );
        assert_eq!(
            ints(&evaluate(&e, &batch, &schema).unwrap()),
            vec![Some(7); 5]
        );
    }

    #[test]
    fn first_match_wins_and_null_conditions_do_not_match() {
        let (batch, schema) = sample();
        let e = case(
            None,
            vec![
                (col("x").gt(lit(1i32)), lit(1i64)),
                (col("x").gt(lit(4i32)), lit(2i64)),
                (col("x").is_null(), col("x") + lit(100i64)),
            ],
            None,
        );
        let out = evaluate(&e, &batch, &schema).unwrap();
        let values: Vec<_> = out.as_primitive::<Int64Type>().iter().collect();
        // x = 0 matches nothing and there is no ELSE: NULL. x = NULL: `x > 1` is NULL (no
        // match), then `x IS NULL` matches and NULL + 100 is NULL.
        assert_eq!(values, vec![None, Some(1), None, Some(1), None]);
    }

    #[test]
    fn simple_case_compares_the_operand() {
        let (batch, schema) = sample();
        let e = case(
            Some(col("s")),
            vec![(lit("a"), lit("first")), (lit("c"), lit("third"))],
            Some(lit("other")),
        );
        let out = evaluate(&e, &batch, &schema).unwrap();
        let values: Vec<_> = out.as_string::<i32>().iter().collect();
        assert_eq!(
            values,
            vec![
                Some("first"),
                Some("other"),
                Some("first"),
                Some("other"),
                Some("third")
            ]
        );
        let e = case(Some(col("x")), vec![(lit(5i64), lit(1.5))], None);
        let out = evaluate(&e, &batch, &schema).unwrap();
        assert_eq!(out.data_type(), &DataType::Float64);
        assert_eq!(out.null_count(), 4);
    }

    #[test]
    fn branch_types_unify() {
        let (batch, schema) = sample();
        let e = case(
            None,
            vec![(col("x").eq(lit(5i32)), lit(1i32))],
            Some(lit(2.5)),
        );
        let out = evaluate(&e, &batch, &schema).unwrap();
        let values: Vec<_> = out
            .as_primitive::<arrow::datatypes::Float64Type>()
            .iter()
            .collect();
        assert_eq!(
            values,
            vec![Some(2.5), Some(1.0), Some(2.5), Some(2.5), Some(2.5)]
        );
        let e = case(
            None,
            vec![(col("x").eq(lit(5i32)), lit("a"))],
            Some(lit(1i32)),
        );
        assert!(matches!(
            create_physical_expr(&e, &schema),
            Err(EngineError::Plan(_))
        ));
        let e = case(None, vec![(col("x"), lit(1i32))], None);
        assert!(matches!(
            create_physical_expr(&e, &schema),
            Err(EngineError::Plan(_))
        ));
    }

    #[test]
    fn whole_batch_branches_keep_scalars_and_empty_batches_work() {
        let (batch_all, schema) = sample();
        let e = case(
            None,
            vec![(lit(true), lit(3i64))],
            Some(col("x") + lit(0i64)),
        );
        let physical = create_physical_expr(&e, &schema).unwrap();
        assert!(matches!(
            physical.evaluate(&batch_all).unwrap(),
            ColumnarValue::Scalar(ScalarValue::Int64(Some(3)))
        ));
        let e = case(None, vec![(lit(false), lit(3i64))], None);
        let out = evaluate(&e, &batch_all, &schema).unwrap();
        assert_eq!(out.null_count(), 5);
        let (empty, schema) = batch(vec![(
            "x",
            Arc::new(Int64Array::from(Vec::<i64>::new())) as ArrayRef,
        )]);
        let e = case(
            None,
            vec![(col("x").eq(lit(0i64)), lit(0i64))],
            Some(lit(10i64) / col("x")),
        );
        assert_eq!(evaluate(&e, &empty, &schema).unwrap().len(), 0);
    }

    #[test]
    fn many_branches_interleave_in_row_order() {
        let values: Vec<i64> = (0..100).collect();
        let (batch, schema) = batch(vec![(
            "v",
            Arc::new(Int64Array::from(values.clone())) as ArrayRef,
        )]);
        let e = case(
            None,
            vec![
                (
                    col("v").modulo(lit(3i64)).eq(lit(0i64)),
                    col("v") * lit(10i64),
                ),
                (col("v").modulo(lit(3i64)).eq(lit(1i64)), lit(-1i64)),
            ],
            Some(col("v")),
        );
        let out = evaluate(&e, &batch, &schema).unwrap();
        let got: Vec<_> = out.as_primitive::<Int64Type>().values().to_vec();
        let expected: Vec<i64> = values
            .iter()
            .map(|v| match v % 3 {
                0 => v * 10,
                1 => -1,
                _ => *v,
            })
            .collect();
        assert_eq!(got, expected);
    }
}
