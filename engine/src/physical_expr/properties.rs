//! Property tests of physical expressions over random batches. Most are metamorphic, in the
//! spirit of SQLancer's oracles: they need no expected answers, only two ways of computing
//! the same thing that must agree.
//!
//! - A result must not depend on how rows are split into batches (this is what catches a
//!   CASE branch or a retried AND that mixes rows up, and a scalar fast path that is wrong).
//! - `x IN (list)` must equal the OR of `x = item`, and NOT IN its negation.
//! - Checked arithmetic must equal row-by-row `checked_*` arithmetic, failing exactly when
//!   some row overflows.
//! - Float comparisons must follow PostgreSQL's order (NaN equal to itself, above all).
//! - A float printed as text must read back as the same float.
//! - AND/OR must be Kleene's, row by row, however many rows their left side decides.
//! - LIKE and regex patterns matched by substring search must agree with Arrow's `like`
//!   kernel and the `regex` crate.

use std::cmp::Ordering;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, DictionaryArray, Float64Array, Int32Array, Int64Array, RecordBatch,
};
use arrow::compute::kernels::concat::concat;
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};
use proptest::prelude::*;
use quiver_storage::ScalarValue;

use super::cast::{cast_array, CastMode};
use super::create_physical_expr;
use super::planner::tests::batch;
use crate::error::Result;
use crate::expr::{col, lit, Case, Expr, Like, ScalarFunction, ScalarFunctionExpr};
use crate::logical_plan::PlanSchema;

type Row = (Option<i64>, Option<i32>, Option<f64>, Option<&'static str>);

fn int64() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![
        3 => (-6i64..6).prop_map(Some),
        1 => prop_oneof![Just(i64::MAX), Just(i64::MIN + 1), Just(1i64 << 40)].prop_map(Some),
        1 => Just(None),
    ]
}

fn float() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        3 => (-4.0f64..4.0).prop_map(|v| Some((v * 4.0).round() / 4.0)),
        1 => prop_oneof![
            Just(f64::NAN),
            Just(-f64::NAN),
            Just(-0.0),
            Just(0.0),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
        ]
        .prop_map(Some),
        1 => Just(None),
    ]
}

fn word() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        4 => prop_oneof![Just("a"), Just("ab"), Just("B"), Just("a%b"), Just(""), Just("über")]
            .prop_map(Some),
        1 => Just(None),
    ]
}

fn rows() -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec(
        (
            int64(),
            prop::option::weighted(0.85, -3i32..4),
            float(),
            word(),
        ),
        0..40,
    )
}

fn to_batch(rows: &[Row]) -> (RecordBatch, PlanSchema) {
    let a: Int64Array = rows.iter().map(|r| r.0).collect();
    let b: Int32Array = rows.iter().map(|r| r.1).collect();
    let f: Float64Array = rows.iter().map(|r| r.2).collect();
    let s: DictionaryArray<Int32Type> = rows.iter().map(|r| r.3).collect();
    batch(vec![
        ("a", Arc::new(a) as ArrayRef),
        ("b", Arc::new(b)),
        ("f", Arc::new(f)),
        ("s", Arc::new(s)),
    ])
}

fn call(func: ScalarFunction, args: Vec<Expr>) -> Expr {
    Expr::ScalarFunction(ScalarFunctionExpr { func, args })
}

/// Expressions covering every node type, including ones that fail on some rows.
fn expressions() -> Vec<Expr> {
    let safe_division = Expr::Case(Case {
        operand: None,
        when_then: vec![(col("b").eq(lit(0i32)), lit(ScalarValue::Null))],
        else_expr: Some(Box::new(col("a") / col("b"))),
    });
    let simple_case = Expr::Case(Case {
        operand: Some(Box::new(col("s"))),
        when_then: vec![(lit("a"), col("f")), (lit("ab"), col("a") + lit(0.5))],
        else_expr: None,
    });
    let like = Expr::Like(Like {
        expr: Box::new(col("s")),
        pattern: Box::new(lit("a%")),
        negated: false,
        case_insensitive: true,
    });
    vec![
        col("a") + col("b"),
        col("a") * col("b"),
        col("a") / col("b"),
        col("a").modulo(col("b")),
        -col("a"),
        safe_division,
        simple_case,
        col("b")
            .not_eq(lit(0i32))
            .and((lit(12i32) / col("b")).gt(lit(2i32))),
        col("b")
            .eq(lit(0i32))
            .or((lit(12i32) / col("b")).lt(lit(5i32))),
        col("f").gt(lit(0.5)).or(col("s").eq(lit("a"))),
        // A left side that decides most rows: the right side runs on the others alone, and
        // never divides by the zeros the left side excluded.
        col("a")
            .gt(lit(4i64))
            .and((lit(12i64) / col("a")).gt(lit(1i64))),
        col("a")
            .lt(lit(5i64))
            .or((lit(12i64) / (col("a") - lit(5i64))).gt(lit(1i64))),
        col("a")
            .gt(lit(4i64))
            .and(col("s").eq(lit("a")).or(col("b").is_null())),
        col("f").eq(col("f")),
        col("s").in_list(vec![lit("a"), lit("ab"), lit(ScalarValue::Null)], true),
        col("a").in_list(vec![col("b"), lit(3i64)], false),
        like,
        call(
            ScalarFunction::Coalesce,
            vec![col("a"), lit(100i64) / col("b")],
        ),
        call(ScalarFunction::Greatest, vec![col("f"), col("b")]),
        call(ScalarFunction::Upper, vec![col("s")]),
        call(ScalarFunction::Substr, vec![col("s"), col("b")]),
        call(ScalarFunction::Round, vec![col("f"), lit(1i32)]),
        col("f").cast_to(DataType::Utf8),
    ]
}

/// Evaluates `expr` on the whole batch.
fn whole(expr: &Expr, batch: &RecordBatch, schema: &PlanSchema) -> Result<ArrayRef> {
    let physical = create_physical_expr(expr, schema)?;
    physical.evaluate(batch)?.into_array(batch.num_rows())
}

/// Evaluates `expr` on slices of `chunk` rows and concatenates the results.
fn in_chunks(
    expr: &Expr,
    batch: &RecordBatch,
    schema: &PlanSchema,
    chunk: usize,
) -> Result<ArrayRef> {
    let physical = create_physical_expr(expr, schema)?;
    let mut parts = Vec::new();
    let mut offset = 0;
    while offset < batch.num_rows() {
        let len = chunk.min(batch.num_rows() - offset);
        let slice = batch.slice(offset, len);
        parts.push(physical.evaluate(&slice)?.into_array(len)?);
        offset += len;
    }
    if parts.is_empty() {
        return whole(expr, batch, schema);
    }
    let refs: Vec<&dyn Array> = parts.iter().map(|p| p.as_ref()).collect();
    Ok(concat(&refs)?)
}

/// PostgreSQL's order of `float8` values.
fn pg_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn results_do_not_depend_on_batch_boundaries(rows in rows()) {
        let (batch, schema) = to_batch(&rows);
        for expr in expressions() {
            let reference = whole(&expr, &batch, &schema);
            for chunk in [1, 3, 7] {
                let split = in_chunks(&expr, &batch, &schema, chunk);
                match (&reference, &split) {
                    (Ok(a), Ok(b)) => prop_assert_eq!(a.to_data(), b.to_data(), "{} in chunks of {}", expr, chunk),
                    (Err(_), Err(_)) => {}
                    _ => prop_assert!(false, "{expr}: whole {reference:?} vs chunks of {chunk} {split:?}"),
                }
            }
        }
    }

    #[test]
    fn in_list_equals_a_disjunction_of_equalities(
        rows in rows(),
        items in prop::collection::vec(prop::option::weighted(0.8, -6i64..6), 1..5),
        negated in any::<bool>(),
    ) {
        let (batch, schema) = to_batch(&rows);
        let list: Vec<Expr> = items.iter().map(|v| lit(ScalarValue::Int64(*v))).collect();
        let in_list = col("a").in_list(list.clone(), negated);
        let disjunction = list
            .into_iter()
            .map(|item| col("a").eq(item))
            .reduce(Expr::or)
            .map(|e| if negated { e.not() } else { e });
        let (Some(disjunction), Ok(got)) = (disjunction, whole(&in_list, &batch, &schema)) else {
            return Err(TestCaseError::fail("IN list failed"));
        };
        let expected = whole(&disjunction, &batch, &schema).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(got.as_boolean(), expected.as_boolean());
    }

    #[test]
    fn arithmetic_is_checked_row_by_row(rows in rows()) {
        let (batch, schema) = to_batch(&rows);
        let ops: [(Expr, fn(i64, i64) -> Option<i64>); 4] = [
            (col("a") + col("b"), i64::checked_add),
            (col("a") - col("b"), i64::checked_sub),
            (col("a") * col("b"), i64::checked_mul),
            (col("a") / col("b"), i64::checked_div),
        ];
        for (expr, reference) in ops {
            let expected: Option<Vec<Option<i64>>> = rows
                .iter()
                .map(|r| match (r.0, r.1) {
                    (Some(a), Some(b)) => reference(a, i64::from(b)).map(Some),
                    _ => Some(None),
                })
                .collect();
            match (whole(&expr, &batch, &schema), expected) {
                (Ok(out), Some(expected)) => {
                    let got: Vec<Option<i64>> = out.as_primitive::<Int64Type>().iter().collect();
                    prop_assert_eq!(got, expected, "{}", expr);
                }
                (Err(_), None) => {}
                (got, expected) => prop_assert!(false, "{expr}: {got:?} vs {expected:?}"),
            }
        }
    }

    #[test]
    fn float_comparisons_follow_postgres(
        left in prop::collection::vec(float(), 0..30),
        right in prop::collection::vec(float(), 0..30),
    ) {
        let n = left.len().min(right.len());
        let (batch, schema) = batch(vec![
            ("x", Arc::new(Float64Array::from(left[..n].to_vec())) as ArrayRef),
            ("y", Arc::new(Float64Array::from(right[..n].to_vec()))),
        ]);
        let checks: [(Expr, fn(Ordering) -> bool); 4] = [
            (col("x").eq(col("y")), Ordering::is_eq),
            (col("x").lt(col("y")), Ordering::is_lt),
            (col("x").gt_eq(col("y")), Ordering::is_ge),
            (col("x").not_eq(col("y")), Ordering::is_ne),
        ];
        for (expr, holds) in checks {
            let out = whole(&expr, &batch, &schema).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let expected: Vec<Option<bool>> = (0..n)
                .map(|i| match (left[i], right[i]) {
                    (Some(a), Some(b)) => Some(holds(pg_cmp(a, b))),
                    _ => None,
                })
                .collect();
            let got: Vec<Option<bool>> = out.as_boolean().iter().collect();
            prop_assert_eq!(got, expected, "{}", expr);
        }
    }

    #[test]
    fn floats_survive_a_trip_through_text(values in prop::collection::vec(prop::num::f64::ANY, 0..30)) {
        let floats: ArrayRef = Arc::new(Float64Array::from(values.clone()));
        let text = cast_array(&floats, &DataType::Utf8, CastMode::Explicit)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = cast_array(&text, &DataType::Float64, CastMode::Explicit)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = back.as_primitive::<Float64Type>();
        for (i, v) in values.iter().enumerate() {
            let r = back.value(i);
            prop_assert!(r.to_bits() == v.to_bits() || (r.is_nan() && v.is_nan()), "{} became {}", v, r);
        }
    }

    #[test]
    fn and_or_are_kleene_row_by_row(
        rows in prop::collection::vec(
            (prop::option::weighted(0.8, prop::bool::weighted(0.9)), prop::option::weighted(0.8, any::<bool>())),
            0..60,
        ),
        or_bias in any::<bool>(),
    ) {
        // `or_bias` flips the left side so that OR, too, sees mostly deciding values.
        let left: Vec<Option<bool>> = rows.iter().map(|r| r.0.map(|v| v == or_bias)).collect();
        let right: Vec<Option<bool>> = rows.iter().map(|r| r.1).collect();
        let (batch, schema) = batch(vec![
            ("p", Arc::new(arrow::array::BooleanArray::from(left.clone())) as ArrayRef),
            ("q", Arc::new(arrow::array::BooleanArray::from(right.clone()))),
        ]);
        for is_and in [true, false] {
            let expr = if is_and { col("p").and(col("q")) } else { col("p").or(col("q")) };
            let out = whole(&expr, &batch, &schema).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let got: Vec<Option<bool>> = out.as_boolean().iter().collect();
            let expected: Vec<Option<bool>> = left
                .iter()
                .zip(&right)
                .map(|(l, r)| match (is_and, *l, *r) {
                    (true, Some(false), _) | (true, _, Some(false)) => Some(false),
                    (true, Some(true), Some(true)) => Some(true),
                    (false, Some(true), _) | (false, _, Some(true)) => Some(true),
                    (false, Some(false), Some(false)) => Some(false),
                    _ => None,
                })
                .collect();
            prop_assert_eq!(got, expected, "{}", expr);
        }
    }

    #[test]
    fn substring_patterns_agree_with_like_and_regex(
        values in prop::collection::vec(prop::option::weighted(0.9, "[ab%_\\\\\nü]{0,6}"), 0..30),
        like_pieces in prop::collection::vec(prop_oneof![Just("a"), Just("b"), Just("%"), Just("\\%"), Just("\\_"), Just("ü"), Just("ab")], 0..5),
        regex_pieces in prop::collection::vec(prop_oneof![Just("a"), Just("b"), Just(".*"), Just("ü"), Just("ab"), Just("%")], 0..5),
        anchors in (any::<bool>(), any::<bool>()),
        negated in any::<bool>(),
    ) {
        let strings: ArrayRef = Arc::new(arrow::array::StringArray::from(values.clone()));
        let (batch, schema) = batch(vec![("s", Arc::clone(&strings))]);
        let like_pattern: String = like_pieces.concat();
        let expr = Expr::Like(Like {
            expr: Box::new(col("s")),
            pattern: Box::new(lit(like_pattern.as_str())),
            negated,
            case_insensitive: false,
        });
        let got = whole(&expr, &batch, &schema).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let pattern = arrow::array::StringArray::new_scalar(like_pattern.as_str());
        let expected = if negated {
            arrow::compute::kernels::comparison::nlike(&strings, &pattern)
        } else {
            arrow::compute::kernels::comparison::like(&strings, &pattern)
        }
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(got.to_data(), expected.to_data(), "LIKE {}", like_pattern);

        let regex_pattern = format!(
            "{}{}{}",
            if anchors.0 { "^" } else { "" },
            regex_pieces.concat(),
            if anchors.1 { "$" } else { "" }
        );
        let expr = Expr::RegexMatch(crate::expr::RegexMatch {
            expr: Box::new(col("s")),
            pattern: Box::new(lit(regex_pattern.as_str())),
            negated,
            case_insensitive: false,
        });
        let got = whole(&expr, &batch, &schema).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let regex = regex::RegexBuilder::new(&regex_pattern).dot_matches_new_line(true).build().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected: Vec<Option<bool>> = values
            .iter()
            .map(|v| v.as_ref().map(|v| regex.is_match(v) != negated))
            .collect();
        let got: Vec<Option<bool>> = got.as_boolean().iter().collect();
        prop_assert_eq!(got, expected, "~ {}", regex_pattern);
    }
}
