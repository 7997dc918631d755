//! [`RegexMatchExpr`]: PostgreSQL's `~`, `~*`, `!~`, `!~*` (Django's `regex`/`iregex`).
//!
//! A literal pattern is compiled once, at planning, where a malformed one is reported as a
//! plan error; a computed pattern is compiled per distinct value as rows are read. Matching
//! is a search (unanchored), as in PostgreSQL. Patterns use the `regex` crate's syntax, which
//! agrees with PostgreSQL's advanced regular expressions on everything but back-references
//! and look-around (rejected as malformed). A dictionary-encoded column is matched once per
//! distinct value. A case-sensitive literal pattern of plain text and `.*` gaps (TPC-H q13's
//! `special.*requests`) is matched as a [`SubstringPattern`]: substring searches. As in
//! PostgreSQL, whose regular expressions are not newline-sensitive by default, `.` matches a
//! newline and `^`/`$` anchor at the ends of the whole value only.

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use arrow::buffer::BooleanBuffer;
use arrow::compute::kernels::cast::cast;
use arrow::compute::kernels::take::take;
use arrow::datatypes::DataType;
use quiver_storage::ScalarValue;
use regex::{Regex, RegexBuilder};

use super::columnar_value::{apply_binary, KernelArg};
use super::like::text_operand;
use super::planner::{coerce, create};
use super::substring_pattern::SubstringPattern;
use super::{ColumnarValue, PhysicalExpr, PhysicalExprRef};
use crate::error::{EngineError, Result};
use crate::expr::RegexMatch;
use crate::logical_plan::PlanSchema;

/// A planned regular-expression match.
#[derive(Debug)]
pub struct RegexMatchExpr {
    expr: PhysicalExprRef,
    pattern: PhysicalExprRef,
    negated: bool,
    case_insensitive: bool,
    /// The compiled pattern when it is a (non-NULL) literal.
    compiled: Option<Regex>,
    /// The literal pattern as substring searches, when it has that shape.
    substrings: Option<SubstringPattern>,
}

/// Compiles a pattern; a malformed one is the user's error.
fn compile(pattern: &str, case_insensitive: bool) -> Result<Regex> {
    RegexBuilder::new(pattern)
        .case_insensitive(case_insensitive)
        .dot_matches_new_line(true)
        .build()
        .map_err(|e| EngineError::Plan(format!("invalid regular expression: {e}")))
}

/// Plans `expr [!]~[*] pattern` against `schema`.
pub fn create_regex_match(regex: &RegexMatch, schema: &PlanSchema) -> Result<PhysicalExprRef> {
    let expr = text_operand(create(&regex.expr, schema)?)?;
    let pattern = coerce(create(&regex.pattern, schema)?, &DataType::Utf8, false)?;
    let (compiled, substrings) = match pattern.literal_value() {
        Some(ScalarValue::Utf8(Some(p))) => (
            Some(compile(p, regex.case_insensitive)?),
            if regex.case_insensitive {
                None
            } else {
                SubstringPattern::from_regex(p)
            },
        ),
        _ => (None, None),
    };
    Ok(Arc::new(RegexMatchExpr {
        expr,
        pattern,
        negated: regex.negated,
        case_insensitive: regex.case_insensitive,
        compiled,
        substrings,
    }))
}

impl RegexMatchExpr {
    /// Matches every value of a string array (or dictionary of strings) against one regex.
    fn match_all(&self, regex: &Regex, array: &ArrayRef) -> Result<ArrayRef> {
        if let Some(substrings) = &self.substrings {
            if let Some(out) = substrings.match_array(array, self.negated)? {
                return Ok(out);
            }
        }
        if let DataType::Dictionary(_, _) = array.data_type() {
            let dictionary = array.as_any_dictionary();
            let answers = self.match_all(regex, dictionary.values())?;
            return Ok(take(answers.as_ref(), dictionary.keys(), None)?);
        }
        let strings = match array.as_string_opt::<i32>() {
            Some(s) => s.clone(),
            None => cast(array, &DataType::Utf8)?.as_string::<i32>().clone(),
        };
        let found = BooleanBuffer::collect_bool(strings.len(), |i| {
            strings.is_valid(i) && regex.is_match(strings.value(i))
        });
        let values = if self.negated { !&found } else { found };
        Ok(Arc::new(BooleanArray::new(values, strings.logical_nulls())))
    }

    /// Row by row, for a pattern that is itself a column; the last compiled regex is reused
    /// while the pattern repeats.
    fn match_rows(&self, value: &KernelArg, pattern: &KernelArg) -> Result<ArrayRef> {
        let value_array = cast(value.array(), &DataType::Utf8)?;
        let values = value_array.as_string::<i32>();
        let patterns = pattern.array().as_string::<i32>();
        let rows = if value.is_scalar() {
            patterns.len()
        } else {
            values.len()
        };
        let mut last: Option<(String, Regex)> = None;
        let mut out = Vec::with_capacity(rows);
        for i in 0..rows {
            let v = if value.is_scalar() { 0 } else { i };
            let p = if pattern.is_scalar() { 0 } else { i };
            if values.is_null(v) || patterns.is_null(p) {
                out.push(None);
                continue;
            }
            let text = patterns.value(p);
            if !matches!(&last, Some((source, _)) if source == text) {
                last = Some((text.to_string(), compile(text, self.case_insensitive)?));
            }
            let matched = last
                .as_ref()
                .is_some_and(|(_, regex)| regex.is_match(values.value(v)));
            out.push(Some(matched != self.negated));
        }
        Ok(Arc::new(BooleanArray::from(out)))
    }
}

impl fmt::Display for RegexMatchExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}~{} {}",
            self.expr,
            if self.negated { "!" } else { "" },
            if self.case_insensitive { "*" } else { "" },
            self.pattern
        )
    }
}

impl PhysicalExpr for RegexMatchExpr {
    fn data_type(&self) -> DataType {
        DataType::Boolean
    }

    fn nullable(&self) -> bool {
        self.expr.nullable() || self.pattern.nullable()
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let value = self.expr.evaluate(batch)?;
        let pattern = self.pattern.evaluate(batch)?;
        if let Some(regex) = &self.compiled {
            return super::columnar_value::apply_unary(&value, |array| {
                self.match_all(regex, array)
            });
        }
        if let ColumnarValue::Scalar(p) = &pattern {
            let ScalarValue::Utf8(Some(text)) = p else {
                return Ok(ColumnarValue::Scalar(ScalarValue::Boolean(None)));
            };
            let regex = compile(text, self.case_insensitive)?;
            return super::columnar_value::apply_unary(&value, |array| {
                self.match_all(&regex, array)
            });
        }
        apply_binary(&value, &pattern, |v, p| self.match_rows(v, p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{col, lit, Expr};
    use crate::physical_expr::create_physical_expr;
    use crate::physical_expr::planner::tests::{batch, booleans, evaluate};
    use arrow::array::{DictionaryArray, StringArray};
    use arrow::datatypes::Int32Type;

    fn regex(e: Expr, pattern: Expr, negated: bool, case_insensitive: bool) -> Expr {
        Expr::RegexMatch(RegexMatch {
            expr: Box::new(e),
            pattern: Box::new(pattern),
            negated,
            case_insensitive,
        })
    }

    fn sample() -> (RecordBatch, PlanSchema) {
        let words = vec![Some("Apple pie"), Some("banana"), None, Some("cherry 42")];
        batch(vec![
            ("s", Arc::new(StringArray::from(words.clone())) as ArrayRef),
            (
                "d",
                Arc::new(words.into_iter().collect::<DictionaryArray<Int32Type>>()),
            ),
            (
                "p",
                Arc::new(StringArray::from(vec![
                    Some("^a"),
                    Some("an+a$"),
                    Some("x"),
                    None,
                ])),
            ),
        ])
    }

    #[test]
    fn literal_patterns_search_and_negate() {
        let (batch, schema) = sample();
        for column in ["s", "d"] {
            let out = evaluate(
                &regex(col(column), lit("[0-9]+"), false, false),
                &batch,
                &schema,
            )
            .unwrap();
            assert_eq!(
                booleans(&out),
                vec![Some(false), Some(false), None, Some(true)],
                "{column}"
            );
            let out = evaluate(
                &regex(col(column), lit("^apple"), true, true),
                &batch,
                &schema,
            )
            .unwrap();
            assert_eq!(
                booleans(&out),
                vec![Some(false), Some(true), None, Some(true)],
                "{column}"
            );
        }
        let out = evaluate(
            &regex(col("s"), lit("^apple"), false, false),
            &batch,
            &schema,
        )
        .unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(false), Some(false), None, Some(false)]
        );
    }

    #[test]
    fn column_patterns_compile_per_row() {
        let (batch, schema) = sample();
        let out = evaluate(&regex(col("s"), col("p"), false, true), &batch, &schema).unwrap();
        assert_eq!(booleans(&out), vec![Some(true), Some(true), None, None]);
        let out = evaluate(
            &regex(lit("banana"), col("p"), true, false),
            &batch,
            &schema,
        )
        .unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(true), Some(false), Some(true), None]
        );
    }

    #[test]
    fn newlines_are_ordinary_characters_as_in_postgres() {
        // PostgreSQL: SELECT 'a' || chr(10) || 'b' ~ 'a.b' is true; '^b' and 'a$' are false
        // (not newline-sensitive by default); the `.*` form takes the substring path.
        let (batch, schema) = batch(vec![(
            "s",
            Arc::new(StringArray::from(vec!["a\nb", "ab"])) as ArrayRef,
        )]);
        for (pattern, expected) in [
            ("a.b", [true, false]),
            ("a.*b", [true, true]),
            ("^b", [false, false]),
            ("a$", [false, false]),
        ] {
            let out = evaluate(
                &regex(col("s"), lit(pattern), false, false),
                &batch,
                &schema,
            )
            .unwrap();
            assert_eq!(booleans(&out), expected.map(Some).to_vec(), "{pattern}");
        }
    }

    #[test]
    fn malformed_patterns_are_plan_errors() {
        let (batch, schema) = batch(vec![(
            "p",
            Arc::new(StringArray::from(vec!["(unclosed"])) as ArrayRef,
        )]);
        let e = regex(lit("x"), lit("(unclosed"), false, false);
        match create_physical_expr(&e, &schema) {
            Err(EngineError::Plan(msg)) => assert!(msg.contains("invalid regular expression")),
            other => panic!("expected a plan error, got {other:?}"),
        }
        let e = regex(lit("x"), col("p"), false, false);
        assert!(matches!(
            evaluate(&e, &batch, &schema),
            Err(EngineError::Plan(_))
        ));
    }
}
