//! Turns logical expressions into physical ones: binds columns to positions and inserts the
//! coercions the type rules ([`crate::expr::type_coercion`]) promise.

use std::sync::Arc;

use arrow::datatypes::DataType;

use super::case::create_case;
use super::cast::{can_cast, cast_scalar, sql_type_name, CastExpr, CastMode};
use super::decimal_comparison::DecimalComparisonExpr;
use super::in_list::create_in_list;
use super::like::create_like;
use super::regex::create_regex_match;
use super::scalar_functions::create_scalar_function;
use super::subquery::{SubqueryExpr, SubqueryKind};
use super::{
    BinaryExpr, ColumnExpr, IsNullExpr, LiteralExpr, NegativeExpr, NotExpr, PhysicalExprRef,
};
use crate::error::{EngineError, Result};
use crate::expr::type_coercion::{
    arithmetic_types, comparison_common_type, is_integer, is_numeric, is_string, value_type,
};
use crate::expr::{Expr, Operator};
use crate::logical_plan::PlanSchema;

/// Binds `expr` to the positions of `schema`. The result's type is the one
/// [`Expr::data_type`] reports; a mismatch is reported as an internal error rather than
/// producing batches that contradict the plan's schema.
pub fn create_physical_expr(expr: &Expr, schema: &PlanSchema) -> Result<PhysicalExprRef> {
    let physical = create(expr, schema)?;
    let logical = expr.data_type(schema)?;
    if physical.data_type() != logical {
        return Err(EngineError::Internal(format!(
            "physical expression {physical} produces {} but {expr} is typed {logical}",
            physical.data_type()
        )));
    }
    Ok(physical)
}

/// Builds the physical form of `expr` (no final type check).
pub(crate) fn create(expr: &Expr, schema: &PlanSchema) -> Result<PhysicalExprRef> {
    match expr {
        Expr::Column(c) => {
            let index = schema.index_of_column(c)?;
            let field = &schema.field(index).field;
            Ok(Arc::new(ColumnExpr::new(
                c.name.clone(),
                index,
                field.data_type().clone(),
                field.is_nullable(),
            )))
        }
        Expr::Literal(v) => Ok(Arc::new(LiteralExpr::new(v.clone()))),
        Expr::Alias(a) => create(&a.expr, schema),
        Expr::BinaryExpr(b) if matches!(b.op, Operator::And | Operator::Or) => {
            let left = boolean_operand(create(&b.left, schema)?, b.op.sql())?;
            let right = boolean_operand(create(&b.right, schema)?, b.op.sql())?;
            // Outer references of a subquery do not resolve here; they are not read from
            // this input either.
            let right_columns = b
                .right
                .column_refs()
                .iter()
                .filter_map(|column| schema.index_of_column(column).ok())
                .collect();
            Ok(Arc::new(
                BinaryExpr::new(left, b.op, right, DataType::Boolean)
                    .with_right_columns(right_columns),
            ))
        }
        Expr::BinaryExpr(b) => {
            let left = create(&b.left, schema)?;
            let right = create(&b.right, schema)?;
            create_binary(left, b.op, right)
        }
        Expr::Not(e) => {
            let e = boolean_operand(create(e, schema)?, "NOT")?;
            Ok(Arc::new(NotExpr::new(e)))
        }
        Expr::Negative(e) => {
            let e = create(e, schema)?;
            let t = e.data_type();
            if !(is_numeric(&t) || matches!(t, DataType::Duration(_) | DataType::Null)) {
                return Err(EngineError::Plan(format!(
                    "operator - does not accept {}",
                    sql_type_name(&t)
                )));
            }
            Ok(Arc::new(NegativeExpr::new(e)))
        }
        Expr::IsNull(e) => Ok(Arc::new(IsNullExpr::new(create(e, schema)?, false))),
        Expr::IsNotNull(e) => Ok(Arc::new(IsNullExpr::new(create(e, schema)?, true))),
        Expr::Cast(c) => explicit_cast(create(&c.expr, schema)?, &c.data_type),
        Expr::Case(c) => create_case(c, schema),
        Expr::InList(i) => create_in_list(i, schema),
        Expr::Like(l) => create_like(l, schema),
        Expr::RegexMatch(r) => create_regex_match(r, schema),
        Expr::ScalarFunction(f) => create_scalar_function(f.func, &f.args, schema),
        Expr::Aggregate(a) => Err(EngineError::Internal(format!(
            "aggregate {a} must be computed by an aggregate operator, not evaluated per row"
        ))),
        Expr::OuterColumn(o) => Err(EngineError::Plan(format!(
            "outer reference {} used outside of a subquery",
            o.column
        ))),
        Expr::ScalarSubquery(s) => subquery(SubqueryKind::Scalar, s, schema),
        Expr::Exists(x) => subquery(
            SubqueryKind::Exists { negated: x.negated },
            &x.subquery,
            schema,
        ),
        Expr::InSubquery(i) => {
            // Typed (and the probe checked) like the logical expression.
            expr.data_type(schema)?;
            subquery(
                SubqueryKind::In {
                    probe: (*i.expr).clone(),
                    negated: i.negated,
                },
                &i.subquery,
                schema,
            )
        }
        Expr::WindowFunction(w) => Err(EngineError::Internal(format!(
            "window function {w} must be computed by a window operator, not evaluated per row"
        ))),
    }
}

fn subquery(
    kind: SubqueryKind,
    subquery: &crate::expr::Subquery,
    schema: &PlanSchema,
) -> Result<PhysicalExprRef> {
    Ok(Arc::new(SubqueryExpr::try_new(
        kind,
        Arc::clone(&subquery.plan),
        subquery.outer_columns(),
        schema,
        crate::execution::planner::planning_config(),
    )?))
}

/// `CAST(expr AS to)`; a literal is converted here, once.
pub(crate) fn explicit_cast(expr: PhysicalExprRef, to: &DataType) -> Result<PhysicalExprRef> {
    if let Some(v) = expr.literal_value() {
        if can_cast(&v.data_type(), to) {
            let value = cast_scalar(v, to, CastMode::Explicit)?;
            if &value.data_type() == to {
                return Ok(Arc::new(LiteralExpr::new(value)));
            }
        }
    }
    Ok(Arc::new(CastExpr::try_new(
        expr,
        to.clone(),
        CastMode::Explicit,
    )?))
}

/// Converts the values of `expr` to `to` (an implicit coercion). A literal is converted
/// once, here. With `keep_dictionary`, a dictionary-encoded string column stays encoded when
/// `to` is its value type (for consumers that accept dictionaries).
pub(crate) fn coerce(
    expr: PhysicalExprRef,
    to: &DataType,
    keep_dictionary: bool,
) -> Result<PhysicalExprRef> {
    let from = expr.data_type();
    if &from == to || (keep_dictionary && value_type(&from) == to && is_string(to)) {
        return Ok(expr);
    }
    if let Some(v) = expr.literal_value() {
        let value = cast_scalar(v, to, CastMode::Implicit)?;
        if &value.data_type() == to {
            return Ok(Arc::new(LiteralExpr::new(value)));
        }
    }
    Ok(Arc::new(CastExpr::try_new(
        expr,
        to.clone(),
        CastMode::Implicit,
    )?))
}

/// Requires a boolean operand (NULL becomes a boolean NULL).
pub(crate) fn boolean_operand(expr: PhysicalExprRef, what: &str) -> Result<PhysicalExprRef> {
    match expr.data_type() {
        DataType::Boolean => Ok(expr),
        DataType::Null => coerce(expr, &DataType::Boolean, false),
        other => Err(EngineError::Plan(format!(
            "argument of {what} must be type boolean, not type {}",
            sql_type_name(&other)
        ))),
    }
}

/// The type to compare a column and an integer literal in: the column's own integer type
/// when the literal fits it, so `int32_col = 5` (5 being a bigint) compares without widening
/// the column; otherwise `common`.
fn narrow_for_literal(
    left: &PhysicalExprRef,
    right: &PhysicalExprRef,
    common: DataType,
) -> DataType {
    let (column, literal) = match (left.literal_value(), right.literal_value()) {
        (None, Some(v)) => (left, v),
        (Some(v), None) => (right, v),
        _ => return common,
    };
    let column_type = column.data_type();
    if !(is_integer(&column_type) && is_integer(&common)) || column_type == common {
        return common;
    }
    match cast_scalar(literal, &column_type, CastMode::Explicit) {
        Ok(v) if v.data_type() == column_type => column_type,
        _ => common,
    }
}

/// `left op right` with the operands coerced for `op`.
pub(crate) fn create_binary(
    left: PhysicalExprRef,
    op: Operator,
    right: PhysicalExprRef,
) -> Result<PhysicalExprRef> {
    let (lt, rt) = (left.data_type(), right.data_type());
    if op.is_arithmetic() {
        let (l_type, r_type, out) = arithmetic_types(op, &lt, &rt)?;
        let left = coerce(left, &l_type, false)?;
        let right = coerce(right, &r_type, false)?;
        return Ok(Arc::new(BinaryExpr::new(left, op, right, out)));
    }
    if op.is_comparison() {
        let common = comparison_common_type(&lt, &rt).ok_or_else(|| {
            EngineError::Plan(format!(
                "cannot compare {} with {}",
                value_type(&lt),
                value_type(&rt)
            ))
        })?;
        let common = narrow_for_literal(&left, &right, common);
        if let Some(decimals) = DecimalComparisonExpr::try_new(&left, op, &right, &common) {
            return Ok(Arc::new(decimals));
        }
        let left = coerce(left, &common, true)?;
        let right = coerce(right, &common, true)?;
        return Ok(Arc::new(BinaryExpr::new(
            left,
            op,
            right,
            DataType::Boolean,
        )));
    }
    let left = boolean_operand(left, op.sql())?;
    let right = boolean_operand(right, op.sql())?;
    Ok(Arc::new(BinaryExpr::new(
        left,
        op,
        right,
        DataType::Boolean,
    )))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::expr::{col, lit};
    use crate::physical_expr::ColumnarValue;
    use arrow::array::{
        Array, ArrayRef, AsArray, BooleanArray, Date32Array, DictionaryArray, Float64Array,
        Int32Array, Int64Array, RecordBatch, StringArray,
    };
    use arrow::datatypes::{Field, Int32Type, Int64Type, Schema, TimeUnit};
    use quiver_storage::ScalarValue;

    /// A batch with one column per `(name, array)` and its plan schema.
    pub(crate) fn batch(columns: Vec<(&str, ArrayRef)>) -> (RecordBatch, PlanSchema) {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let arrays = columns.into_iter().map(|(_, a)| a).collect();
        let batch = RecordBatch::try_new(Arc::clone(&schema), arrays).unwrap();
        (batch, PlanSchema::from_arrow(Some("t"), &schema))
    }

    /// Plans and evaluates `expr`, returning a full-length array.
    pub(crate) fn evaluate(
        expr: &Expr,
        batch: &RecordBatch,
        schema: &PlanSchema,
    ) -> Result<ArrayRef> {
        let physical = create_physical_expr(expr, schema)?;
        let out = physical.evaluate(batch)?.into_array(batch.num_rows())?;
        assert_eq!(out.data_type(), &physical.data_type(), "{expr}");
        assert_eq!(out.len(), batch.num_rows(), "{expr}");
        Ok(out)
    }

    pub(crate) fn booleans(array: &ArrayRef) -> Vec<Option<bool>> {
        array.as_boolean().iter().collect()
    }

    fn sample() -> (RecordBatch, PlanSchema) {
        batch(vec![
            (
                "a",
                Arc::new(Int32Array::from(vec![Some(1), Some(0), None, Some(-4)])) as ArrayRef,
            ),
            (
                "b",
                Arc::new(Int64Array::from(vec![Some(10), Some(20), Some(30), None])),
            ),
            (
                "f",
                Arc::new(Float64Array::from(vec![
                    Some(1.5),
                    Some(f64::NAN),
                    None,
                    Some(-0.0),
                ])),
            ),
            (
                "d",
                Arc::new(Date32Array::from(vec![
                    Some(19723),
                    Some(19724),
                    None,
                    Some(0),
                ])),
            ),
            (
                "s",
                Arc::new(
                    vec![Some("x"), Some("y"), None, Some("x")]
                        .into_iter()
                        .collect::<DictionaryArray<Int32Type>>(),
                ),
            ),
            (
                "p",
                Arc::new(BooleanArray::from(vec![
                    Some(true),
                    Some(false),
                    None,
                    None,
                ])),
            ),
        ])
    }

    #[test]
    fn arithmetic_widens_and_matches_the_logical_type() {
        let (batch, schema) = sample();
        let out = evaluate(&(col("a") + col("b")), &batch, &schema).unwrap();
        let values: Vec<_> = out.as_primitive::<Int64Type>().iter().collect();
        assert_eq!(values, vec![Some(11), Some(20), None, None]);
        let out = evaluate(&(col("a") * lit(1.5)), &batch, &schema).unwrap();
        assert_eq!(out.data_type(), &DataType::Float64);
        let out = evaluate(&(col("b") / col("a")).alias("q"), &batch, &schema);
        assert!(matches!(out, Err(EngineError::DivisionByZero)));
        let out = evaluate(&(col("a") + lit(ScalarValue::Null)), &batch, &schema).unwrap();
        assert_eq!(out.null_count(), 4);
        let out = evaluate(&-col("a"), &batch, &schema).unwrap();
        let values: Vec<_> = out.as_primitive::<Int32Type>().iter().collect();
        assert_eq!(values, vec![Some(-1), Some(0), None, Some(4)]);
        let decimal = col("a").cast_to(DataType::Decimal128(5, 2)) / lit(3i64);
        let out = evaluate(&decimal, &batch, &schema).unwrap();
        assert!(matches!(out.data_type(), DataType::Decimal128(_, _)));
    }

    #[test]
    fn literal_arithmetic_stays_scalar() {
        let (batch, schema) = sample();
        let physical = create_physical_expr(&(lit(2i64) * lit(21i64)), &schema).unwrap();
        match physical.evaluate(&batch).unwrap() {
            ColumnarValue::Scalar(s) => assert_eq!(s, ScalarValue::Int64(Some(42))),
            other => panic!("expected a scalar, got {other:?}"),
        }
    }

    #[test]
    fn string_literal_compares_with_a_date_column() {
        let (batch, schema) = sample();
        let out = evaluate(&col("d").eq(lit("2024-01-02")), &batch, &schema).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(false), Some(true), None, Some(false)]
        );
        let out = evaluate(&lit("2024-01-01").lt(col("d")), &batch, &schema).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(false), Some(true), None, Some(false)]
        );
        let ts = lit(ScalarValue::TimestampMicrosecond(Some(
            19723 * 86_400_000_000 + 1,
        )));
        let out = evaluate(&col("d").lt(ts), &batch, &schema).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(true), Some(false), None, Some(true)]
        );
        let bad = create_physical_expr(&col("d").eq(lit("yesterday-ish")), &schema);
        assert!(matches!(bad, Err(EngineError::InvalidCast { .. })));
        let mismatched = create_physical_expr(&col("d").eq(lit(1i64)), &schema);
        assert!(matches!(mismatched, Err(EngineError::Plan(_))));
    }

    #[test]
    fn comparisons_coerce_numbers_and_keep_dictionaries() {
        let (batch, schema) = sample();
        let out = evaluate(&col("a").lt(lit(0.5)), &batch, &schema).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(false), Some(true), None, Some(true)]
        );
        let out = evaluate(&col("s").eq(lit("x")), &batch, &schema).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(true), Some(false), None, Some(true)]
        );
        let out = evaluate(&col("f").gt(lit(1e300)), &batch, &schema).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(false), Some(true), None, Some(false)]
        );
        let out = evaluate(&col("f").eq(lit(0i64)), &batch, &schema).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(false), Some(false), None, Some(true)]
        );
        let distinct = col("a").binary_op(Operator::IsDistinctFrom, lit(ScalarValue::Null));
        let out = evaluate(&distinct, &batch, &schema).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(true), Some(true), Some(false), Some(true)]
        );
    }

    #[test]
    fn narrow_columns_compare_with_fitting_literals_without_widening() {
        let (batch, schema) = sample();
        let physical = create_physical_expr(&col("a").gt_eq(lit(0i64)), &schema).unwrap();
        assert_eq!(physical.to_string(), "(a@0 >= 0)");
        let out = physical.evaluate(&batch).unwrap().into_array(4).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(true), Some(true), None, Some(false)]
        );
        // 2^40 does not fit an integer column: the column is widened instead.
        let big = lit(1i64 << 40).gt(col("a"));
        let physical = create_physical_expr(&big, &schema).unwrap();
        assert_eq!(physical.to_string(), "(1099511627776 > CAST(a@0 AS Int64))");
        let out = physical.evaluate(&batch).unwrap().into_array(4).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(true), Some(true), None, Some(true)]
        );
    }

    #[test]
    fn boolean_logic_is_three_valued() {
        let (batch, schema) = sample();
        let out = evaluate(&col("p").and(lit(ScalarValue::Null)), &batch, &schema).unwrap();
        assert_eq!(booleans(&out), vec![None, Some(false), None, None]);
        let out = evaluate(&col("p").or(lit(ScalarValue::Null)), &batch, &schema).unwrap();
        assert_eq!(booleans(&out), vec![Some(true), None, None, None]);
        let out = evaluate(&col("p").not(), &batch, &schema).unwrap();
        assert_eq!(booleans(&out), vec![Some(false), Some(true), None, None]);
        let out = evaluate(&col("p").is_null(), &batch, &schema).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(false), Some(false), Some(true), Some(true)]
        );
        let out = evaluate(&col("s").is_not_null(), &batch, &schema).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(true), Some(true), Some(false), Some(true)]
        );
        assert!(matches!(
            create_physical_expr(&col("a").and(col("p")), &schema),
            Err(EngineError::Plan(_))
        ));
    }

    #[test]
    fn and_does_not_raise_for_rows_the_left_side_decided() {
        let (batch, schema) = sample();
        // a <> 0 AND 10 / a > 1: the row with a = 0 never divides.
        let guarded = col("a")
            .not_eq(lit(0i32))
            .and((lit(10i32) / col("a")).gt(lit(1i32)));
        let out = evaluate(&guarded, &batch, &schema).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(true), Some(false), None, Some(false)]
        );
        let guarded = col("a")
            .eq(lit(0i32))
            .or((lit(10i32) / col("a")).gt(lit(1i32)));
        let out = evaluate(&guarded, &batch, &schema).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(true), Some(true), None, Some(false)]
        );
        let unguarded = col("a")
            .is_not_null()
            .and((lit(10i32) / col("a")).gt(lit(1i32)));
        assert!(matches!(
            evaluate(&unguarded, &batch, &schema),
            Err(EngineError::DivisionByZero)
        ));
    }

    #[test]
    fn casts_fold_literals_and_convert_columns() {
        let (batch, schema) = sample();
        let physical = create_physical_expr(&lit("12").cast_to(DataType::Int64), &schema).unwrap();
        assert_eq!(
            physical.literal_value(),
            Some(&ScalarValue::Int64(Some(12)))
        );
        let out = evaluate(&col("f").cast_to(DataType::Utf8), &batch, &schema).unwrap();
        let text: Vec<_> = out.as_string::<i32>().iter().collect();
        assert_eq!(text, vec![Some("1.5"), Some("NaN"), None, Some("-0")]);
        let stamp = DataType::Timestamp(TimeUnit::Microsecond, None);
        let out = evaluate(&col("d").cast_to(stamp.clone()), &batch, &schema).unwrap();
        assert_eq!(out.data_type(), &stamp);
        let out = evaluate(&col("s").cast_to(DataType::Utf8), &batch, &schema).unwrap();
        assert_eq!(out.as_string::<i32>().value(1), "y");
        assert!(matches!(
            create_physical_expr(&col("d").cast_to(DataType::Int32), &schema),
            Err(EngineError::Plan(_))
        ));
        assert!(matches!(
            create_physical_expr(&lit("x").cast_to(DataType::Int32), &schema),
            Err(EngineError::InvalidCast { .. })
        ));
    }

    #[test]
    fn empty_and_all_null_batches() {
        let (batch, schema) = batch(vec![
            (
                "a",
                Arc::new(Int32Array::from(Vec::<i32>::new())) as ArrayRef,
            ),
            ("s", Arc::new(StringArray::from(Vec::<&str>::new()))),
        ]);
        let exprs = [
            col("a") + lit(1i32),
            col("a").eq(lit(1i32)).and(col("s").eq(lit("x"))),
            -col("a"),
            col("a").cast_to(DataType::Utf8),
        ];
        for e in &exprs {
            assert_eq!(evaluate(e, &batch, &schema).unwrap().len(), 0, "{e}");
        }
        let (batch, schema) = batch_of_nulls();
        for e in &exprs {
            assert_eq!(evaluate(e, &batch, &schema).unwrap().null_count(), 3, "{e}");
        }
    }

    fn batch_of_nulls() -> (RecordBatch, PlanSchema) {
        batch(vec![
            (
                "a",
                Arc::new(Int32Array::from(vec![None, None, None])) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![None::<&str>, None, None])),
            ),
        ])
    }

    #[test]
    fn unknown_columns_and_aggregates_are_errors() {
        let (_, schema) = sample();
        assert!(matches!(
            create_physical_expr(&col("nope"), &schema),
            Err(EngineError::ColumnNotFound { .. })
        ));
        let count = Expr::Aggregate(crate::expr::AggregateExpr::new(
            crate::expr::AggregateFunction::Count,
            vec![col("a")],
        ));
        assert!(matches!(
            create_physical_expr(&count, &schema),
            Err(EngineError::Internal(_))
        ));
    }
}
