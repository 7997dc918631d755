//! [`LikeExpr`]: `expr [NOT] [I]LIKE pattern`, on Arrow's `like` kernels.
//!
//! `%` matches any run of characters, `_` one character, and a backslash makes the next
//! character literal; that is how Django escapes user input in `contains`, `startswith` and
//! friends (`'%50\%%'`). As in PostgreSQL, a pattern may not end with the escape character.
//! Arrow's kernels accept dictionary-encoded columns and reduce simple patterns to
//! `starts_with`/`ends_with`/`contains` before falling back to a regex. A literal,
//! case-sensitive pattern without `_` (`'%special%requests%'`, `'PROMO%'`) skips them: it is
//! a [`SubstringPattern`], a few substring searches per row and never a regex. A value that
//! is not text is matched through its text form, as Django's `::text` cast does.

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::kernels::comparison::{ilike, like, nilike, nlike};
use arrow::datatypes::DataType;
use quiver_storage::ScalarValue;

use super::columnar_value::{apply_binary, KernelArg};
use super::planner::{coerce, create};
use super::substring_pattern::SubstringPattern;
use super::{ColumnarValue, PhysicalExpr, PhysicalExprRef};
use crate::error::{EngineError, Result};
use crate::expr::type_coercion::is_string;
use crate::expr::Like;
use crate::logical_plan::PlanSchema;

/// A planned LIKE / ILIKE.
#[derive(Debug)]
pub struct LikeExpr {
    expr: PhysicalExprRef,
    pattern: PhysicalExprRef,
    negated: bool,
    case_insensitive: bool,
    /// The literal pattern as substring searches, when it has that shape.
    substrings: Option<SubstringPattern>,
}

/// Plans a LIKE against `schema`. A literal pattern is checked here.
pub fn create_like(like: &Like, schema: &PlanSchema) -> Result<PhysicalExprRef> {
    let expr = text_operand(create(&like.expr, schema)?)?;
    let pattern = coerce(create(&like.pattern, schema)?, &DataType::Utf8, false)?;
    let mut substrings = None;
    if let Some(ScalarValue::Utf8(Some(p))) = pattern.literal_value() {
        check_pattern(p)?;
        if !like.case_insensitive {
            substrings = SubstringPattern::from_like(p);
        }
    }
    Ok(Arc::new(LikeExpr {
        expr,
        pattern,
        negated: like.negated,
        case_insensitive: like.case_insensitive,
        substrings,
    }))
}

/// A string operand as is (dictionaries included); anything else through its text form.
pub(crate) fn text_operand(expr: PhysicalExprRef) -> Result<PhysicalExprRef> {
    if is_string(&expr.data_type()) {
        Ok(expr)
    } else {
        coerce(expr, &DataType::Utf8, false)
    }
}

/// PostgreSQL rejects a pattern whose last character is an unpaired escape.
fn check_pattern(pattern: &str) -> Result<()> {
    let trailing = pattern.chars().rev().take_while(|c| *c == '\\').count();
    if trailing % 2 == 1 {
        return Err(EngineError::Plan(
            "LIKE pattern must not end with escape character".to_string(),
        ));
    }
    Ok(())
}

impl LikeExpr {
    fn kernel(&self, value: &KernelArg, pattern: &KernelArg) -> Result<ArrayRef> {
        if pattern.is_scalar() {
            if let Some(p) = pattern.array().as_string_opt::<i32>() {
                if p.is_valid(0) {
                    check_pattern(p.value(0))?;
                }
            }
        }
        let out = match (self.negated, self.case_insensitive) {
            (false, false) => like(value, pattern),
            (true, false) => nlike(value, pattern),
            (false, true) => ilike(value, pattern),
            (true, true) => nilike(value, pattern),
        }?;
        Ok(Arc::new(out))
    }
}

impl fmt::Display for LikeExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}{} {}",
            self.expr,
            if self.negated { "NOT " } else { "" },
            if self.case_insensitive {
                "ILIKE"
            } else {
                "LIKE"
            },
            self.pattern
        )
    }
}

impl PhysicalExpr for LikeExpr {
    fn data_type(&self) -> DataType {
        DataType::Boolean
    }

    fn nullable(&self) -> bool {
        self.expr.nullable() || self.pattern.nullable()
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let value = self.expr.evaluate(batch)?;
        if let Some(substrings) = &self.substrings {
            if let ColumnarValue::Array(array) = &value {
                if let Some(out) = substrings.match_array(array, self.negated)? {
                    return Ok(ColumnarValue::Array(out));
                }
            }
        }
        let pattern = self.pattern.evaluate(batch)?;
        apply_binary(&value, &pattern, |v, p| self.kernel(v, p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{col, lit, Expr};
    use crate::physical_expr::create_physical_expr;
    use crate::physical_expr::planner::tests::{batch, booleans, evaluate};
    use arrow::array::{DictionaryArray, Int64Array, StringArray};
    use arrow::datatypes::Int32Type;

    fn like_expr(e: Expr, pattern: &str, negated: bool, case_insensitive: bool) -> Expr {
        Expr::Like(Like {
            expr: Box::new(e),
            pattern: Box::new(lit(pattern)),
            negated,
            case_insensitive,
        })
    }

    fn sample() -> (RecordBatch, PlanSchema) {
        let words = vec![
            Some("50% off"),
            Some("500 off"),
            None,
            Some("a_b"),
            Some("AXB"),
        ];
        batch(vec![
            ("s", Arc::new(StringArray::from(words.clone())) as ArrayRef),
            (
                "d",
                Arc::new(words.into_iter().collect::<DictionaryArray<Int32Type>>()),
            ),
            (
                "n",
                Arc::new(Int64Array::from(vec![
                    Some(150),
                    Some(25),
                    None,
                    Some(5),
                    Some(1),
                ])),
            ),
        ])
    }

    #[test]
    fn escapes_make_wildcards_literal() {
        let (batch, schema) = sample();
        for column in ["s", "d"] {
            let out = evaluate(
                &like_expr(col(column), "50\\%%", false, false),
                &batch,
                &schema,
            )
            .unwrap();
            assert_eq!(
                booleans(&out),
                vec![Some(true), Some(false), None, Some(false), Some(false)],
                "{column}"
            );
            let out = evaluate(
                &like_expr(col(column), "a\\_b", false, false),
                &batch,
                &schema,
            )
            .unwrap();
            assert_eq!(
                booleans(&out),
                vec![Some(false), Some(false), None, Some(true), Some(false)]
            );
            let out =
                evaluate(&like_expr(col(column), "a_b", true, true), &batch, &schema).unwrap();
            assert_eq!(
                booleans(&out),
                vec![Some(true), Some(true), None, Some(false), Some(false)]
            );
        }
    }

    #[test]
    fn case_insensitive_and_non_text_operands() {
        let (batch, schema) = sample();
        let out = evaluate(&like_expr(col("s"), "ax%", false, true), &batch, &schema).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(false), Some(false), None, Some(false), Some(true)]
        );
        let out = evaluate(&like_expr(col("n"), "%5%", false, false), &batch, &schema).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(true), Some(true), None, Some(true), Some(false)]
        );
        let null_pattern = Expr::Like(Like {
            expr: Box::new(col("s")),
            pattern: Box::new(lit(ScalarValue::Null)),
            negated: false,
            case_insensitive: false,
        });
        let out = evaluate(&null_pattern, &batch, &schema).unwrap();
        assert_eq!(out.null_count(), 5);
    }

    #[test]
    fn trailing_escape_is_an_error() {
        let (_, schema) = sample();
        let e = like_expr(col("s"), "abc\\", false, false);
        assert!(matches!(
            create_physical_expr(&e, &schema),
            Err(EngineError::Plan(_))
        ));
        assert!(
            create_physical_expr(&like_expr(col("s"), "abc\\\\", false, false), &schema).is_ok()
        );
    }
}
