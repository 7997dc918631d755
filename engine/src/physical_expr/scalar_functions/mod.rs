//! Built-in scalar functions ([`ScalarFunction`]): planning (arity, argument coercions,
//! result type) and dispatch to the kernels grouped by family in `string.rs`, `math.rs`,
//! `datetime.rs` and `conditional.rs`.
//!
//! The result type of every function is the one `Expr::data_type` infers (`expr/schema.rs`);
//! arguments are coerced here to what the kernels expect (integers to `Int64`, text to
//! `Utf8`, math to `Float64`). Kernels see arrays: when every argument is a constant they run
//! once on one row and the result stays a scalar. Unary string functions over a
//! dictionary-encoded column run once per distinct value.
//!
//! `Coalesce` and `NullIf` are their own expressions ([`conditional`]) because COALESCE must
//! not evaluate an argument for rows an earlier argument already decided.

mod conditional;
mod datetime;
mod math;
mod string;

use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, TimeUnit};

use super::cast::sql_type_name;
use super::columnar_value::array_to_scalar;
use super::like::text_operand;
use super::planner::{coerce, create};
use super::{ColumnarValue, PhysicalExpr, PhysicalExprRef};
use crate::error::{EngineError, Result};
use crate::expr::type_coercion::{
    arithmetic_types, comparison_common_type, is_integer, is_numeric, is_string, value_type,
};
use crate::expr::{DatePart, Expr, Operator, ScalarFunction, TruncUnit};
use crate::logical_plan::PlanSchema;

pub use conditional::{CoalesceExpr, NullIfExpr};

/// A call of a built-in function whose arguments are all evaluated first.
#[derive(Debug)]
pub struct FunctionExpr {
    func: ScalarFunction,
    args: Vec<PhysicalExprRef>,
    data_type: DataType,
    nullable: bool,
}

impl fmt::Display for FunctionExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.func.name())?;
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{a}")?;
        }
        f.write_str(")")
    }
}

impl PhysicalExpr for FunctionExpr {
    fn data_type(&self) -> DataType {
        self.data_type.clone()
    }
    fn nullable(&self) -> bool {
        self.nullable
    }
    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let args = self
            .args
            .iter()
            .map(|a| a.evaluate(batch))
            .collect::<Result<Vec<_>>>()?;
        invoke(self.func, &args, batch.num_rows(), &self.data_type)
    }
}

/// How many arguments a function takes (inclusive range).
fn arity(func: ScalarFunction) -> (usize, usize) {
    use ScalarFunction as F;
    match func {
        F::Coalesce | F::Greatest | F::Least => (1, usize::MAX),
        F::Concat => (0, usize::MAX),
        F::NullIf | F::Left | F::Right | F::Repeat | F::StrIndex | F::Mod | F::Power => (2, 2),
        F::Substr | F::Replace | F::LPad | F::RPad => (2, 3),
        F::Trim | F::LTrim | F::RTrim | F::Round | F::Log => (1, 2),
        F::Lower
        | F::Upper
        | F::Length
        | F::Reverse
        | F::Abs
        | F::Ceil
        | F::Floor
        | F::Sqrt
        | F::Exp
        | F::Ln
        | F::Sign
        | F::Extract(_)
        | F::Trunc(_)
        | F::ToDate
        | F::ToTime => (1, 1),
    }
}

fn integer_argument(func: ScalarFunction, expr: PhysicalExprRef) -> Result<PhysicalExprRef> {
    let t = expr.data_type();
    if is_integer(&t) || t == DataType::Null {
        coerce(expr, &DataType::Int64, false)
    } else {
        Err(EngineError::Plan(format!(
            "{} expects an integer argument, not {}",
            func.name(),
            sql_type_name(&t)
        )))
    }
}

fn text_argument(expr: PhysicalExprRef) -> Result<PhysicalExprRef> {
    coerce(text_operand(expr)?, &DataType::Utf8, false)
}

fn numeric_argument(func: ScalarFunction, expr: &PhysicalExprRef) -> Result<DataType> {
    let t = value_type(&expr.data_type()).clone();
    if is_numeric(&t) || t == DataType::Null {
        Ok(t)
    } else {
        Err(EngineError::Plan(format!(
            "{} does not accept {}",
            func.name(),
            sql_type_name(&t)
        )))
    }
}

/// The common type of several arguments (`Coalesce`, `Greatest`, `Least`), as
/// `Expr::data_type` computes it.
fn common_type(func: ScalarFunction, args: &[PhysicalExprRef]) -> Result<DataType> {
    let mut out = DataType::Null;
    for a in args {
        let t = a.data_type();
        out = comparison_common_type(&out, &t).ok_or_else(|| {
            EngineError::Plan(format!(
                "{} types {out} and {t} cannot be matched",
                func.name()
            ))
        })?;
    }
    Ok(out)
}

/// Plans a call of `func` on `args` against `schema`.
pub fn create_scalar_function(
    func: ScalarFunction,
    args: &[Expr],
    schema: &PlanSchema,
) -> Result<PhysicalExprRef> {
    use ScalarFunction as F;
    let (min, max) = arity(func);
    if args.len() < min || args.len() > max {
        return Err(EngineError::Plan(format!(
            "{} takes {}, got {} argument(s)",
            func.name(),
            match (min, max) {
                (a, b) if a == b => format!("{a} argument(s)"),
                (a, usize::MAX) => format!("at least {a} argument(s)"),
                (a, b) => format!("{a} to {b} arguments"),
            },
            args.len()
        )));
    }
    let mut args = args
        .iter()
        .map(|a| create(a, schema))
        .collect::<Result<Vec<_>>>()?;
    let nullable = args.iter().any(|a| a.nullable());
    let first_type = args
        .first()
        .map_or(DataType::Null, |a| value_type(&a.data_type()).clone());

    let data_type = match func {
        F::Coalesce => {
            let t = common_type(func, &args)?;
            let args = coerce_all(args, &t)?;
            return Ok(Arc::new(CoalesceExpr::new(args, t)));
        }
        F::NullIf => {
            let (value, other) = (Arc::clone(&args[0]), Arc::clone(&args[1]));
            return Ok(Arc::new(NullIfExpr::try_new(value, other)?));
        }
        F::Greatest | F::Least => {
            let t = common_type(func, &args)?;
            args = coerce_all(args, &t)?;
            t
        }
        F::Concat => {
            args = args.into_iter().map(text_argument).collect::<Result<_>>()?;
            DataType::Utf8
        }
        F::Lower | F::Upper | F::Length | F::Reverse | F::Trim | F::LTrim | F::RTrim => {
            let mut rest = args.split_off(1);
            let first = text_operand(Arc::clone(&args[0]))?;
            // Unary forms keep a dictionary encoding: they run once per distinct value.
            args = vec![if rest.is_empty() {
                first
            } else {
                text_argument(first)?
            }];
            for a in rest.drain(..) {
                args.push(text_argument(a)?);
            }
            if func == F::Length {
                DataType::Int64
            } else {
                DataType::Utf8
            }
        }
        F::Substr | F::Left | F::Right | F::Repeat | F::LPad | F::RPad => {
            let rest = args.split_off(1);
            args[0] = text_argument(Arc::clone(&args[0]))?;
            for (i, a) in rest.into_iter().enumerate() {
                // Substr(s, pos, len), Left(s, n), …, and LPad's third argument is text.
                let is_fill = i == 1 && matches!(func, F::LPad | F::RPad);
                args.push(if is_fill {
                    text_argument(a)?
                } else {
                    integer_argument(func, a)?
                });
            }
            DataType::Utf8
        }
        F::Replace | F::StrIndex => {
            args = args.into_iter().map(text_argument).collect::<Result<_>>()?;
            if func == F::StrIndex {
                DataType::Int64
            } else {
                DataType::Utf8
            }
        }
        F::Abs | F::Sign => {
            numeric_argument(func, &args[0])?;
            args[0] = coerce(Arc::clone(&args[0]), &first_type, false)?;
            first_type
        }
        F::Round | F::Ceil | F::Floor => {
            let t = match numeric_argument(func, &args[0])? {
                DataType::Float32 | DataType::Float64 => DataType::Float64,
                DataType::Null => {
                    return Err(EngineError::Plan(format!(
                        "{} does not accept NULL",
                        func.name()
                    )))
                }
                other => other,
            };
            args[0] = coerce(Arc::clone(&args[0]), &t, false)?;
            if args.len() == 2 {
                args[1] = integer_argument(func, Arc::clone(&args[1]))?;
            }
            t
        }
        F::Mod => {
            let (l, r, out) =
                arithmetic_types(Operator::Modulo, &args[0].data_type(), &args[1].data_type())?;
            args[0] = coerce(Arc::clone(&args[0]), &l, false)?;
            args[1] = coerce(Arc::clone(&args[1]), &r, false)?;
            out
        }
        F::Power | F::Sqrt | F::Exp | F::Ln | F::Log => {
            for a in args.iter_mut() {
                numeric_argument(func, a)?;
                *a = coerce(Arc::clone(a), &DataType::Float64, false)?;
            }
            DataType::Float64
        }
        F::Extract(part) => {
            temporal_argument(func, &first_type, part_needs_date(part))?;
            DataType::Int32
        }
        F::Trunc(unit) => {
            temporal_argument(func, &first_type, unit_needs_date(unit))?;
            first_type
        }
        F::ToDate | F::ToTime => {
            let (target, accepted) = match func {
                F::ToDate => (
                    DataType::Date32,
                    matches!(first_type, DataType::Date32 | DataType::Timestamp(..)),
                ),
                _ => (
                    DataType::Time64(TimeUnit::Microsecond),
                    matches!(first_type, DataType::Time64(_) | DataType::Timestamp(..)),
                ),
            };
            if !(accepted || is_string(&first_type) || first_type == DataType::Null) {
                return Err(EngineError::Plan(format!(
                    "{} does not accept {}",
                    func.name(),
                    sql_type_name(&first_type)
                )));
            }
            args[0] = super::planner::explicit_cast(Arc::clone(&args[0]), &target)?;
            target
        }
    };
    let nullable = match func {
        F::Concat => false,
        F::Greatest | F::Least => args.iter().all(|a| a.nullable()),
        _ => nullable,
    };
    Ok(Arc::new(FunctionExpr {
        func,
        args,
        data_type,
        nullable,
    }))
}

fn coerce_all(args: Vec<PhysicalExprRef>, to: &DataType) -> Result<Vec<PhysicalExprRef>> {
    args.into_iter().map(|a| coerce(a, to, false)).collect()
}

/// Date parts that exist on a time of day too.
fn part_needs_date(part: DatePart) -> bool {
    !matches!(part, DatePart::Hour | DatePart::Minute | DatePart::Second)
}

fn unit_needs_date(unit: TruncUnit) -> bool {
    !matches!(
        unit,
        TruncUnit::Hour | TruncUnit::Minute | TruncUnit::Second
    )
}

fn temporal_argument(func: ScalarFunction, t: &DataType, needs_date: bool) -> Result<()> {
    let ok = match t {
        DataType::Date32 | DataType::Timestamp(TimeUnit::Microsecond, _) | DataType::Null => true,
        DataType::Time64(TimeUnit::Microsecond) => !needs_date,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(EngineError::Plan(format!(
            "{} does not accept {}",
            func.name(),
            sql_type_name(t)
        )))
    }
}

/// Runs `kernel` on the arguments as arrays. When every argument is a scalar the kernel runs
/// on one row and the result is a scalar.
fn on_arrays(
    args: &[ColumnarValue],
    num_rows: usize,
    kernel: impl FnOnce(&[ArrayRef]) -> Result<ArrayRef>,
) -> Result<ColumnarValue> {
    let all_scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let rows = if all_scalar { 1 } else { num_rows };
    let arrays = args
        .iter()
        .map(|a| a.clone().into_array(rows))
        .collect::<Result<Vec<_>>>()?;
    let out = kernel(&arrays)?;
    if out.len() != rows {
        return Err(EngineError::Internal(format!(
            "function produced {} rows for {rows}",
            out.len()
        )));
    }
    Ok(if all_scalar {
        ColumnarValue::Scalar(array_to_scalar(out.as_ref())?)
    } else {
        ColumnarValue::Array(out)
    })
}

fn invoke(
    func: ScalarFunction,
    args: &[ColumnarValue],
    num_rows: usize,
    data_type: &DataType,
) -> Result<ColumnarValue> {
    use ScalarFunction as F;
    if func == F::Mod {
        return super::arithmetic::evaluate_arithmetic(
            Operator::Modulo,
            &args[0],
            &args[1],
            data_type,
        );
    }
    on_arrays(args, num_rows, |a| match func {
        F::Greatest => conditional::greatest_least(a, true),
        F::Least => conditional::greatest_least(a, false),
        F::Concat => string::concat(a, num_rows_of(a)),
        F::Lower => string::lower(&a[0]),
        F::Upper => string::upper(&a[0]),
        F::Length => string::length(&a[0]),
        F::Reverse => string::reverse(&a[0]),
        F::Trim => string::trim(a, string::TrimSide::Both),
        F::LTrim => string::trim(a, string::TrimSide::Leading),
        F::RTrim => string::trim(a, string::TrimSide::Trailing),
        F::Substr => string::substr(a),
        F::Replace => string::replace(a),
        F::Left => string::left_right(a, true),
        F::Right => string::left_right(a, false),
        F::Repeat => string::repeat(a),
        F::StrIndex => string::str_index(a),
        F::LPad => string::pad(a, true),
        F::RPad => string::pad(a, false),
        F::Abs => math::abs(&a[0]),
        F::Sign => math::sign(&a[0]),
        F::Round => math::round(a),
        F::Ceil => math::ceil_floor(&a[0], true),
        F::Floor => math::ceil_floor(&a[0], false),
        F::Power => math::power(a),
        F::Sqrt => math::sqrt(&a[0]),
        F::Exp => math::exp(&a[0]),
        F::Ln => math::ln(&a[0]),
        F::Log => math::log(a),
        F::Extract(part) => datetime::extract(&a[0], part),
        F::Trunc(unit) => datetime::trunc(&a[0], unit),
        // The cast the planner put on the argument did the conversion.
        F::ToDate | F::ToTime => Ok(Arc::clone(&a[0])),
        F::Coalesce | F::NullIf | F::Mod => Err(EngineError::Internal(format!(
            "{} is not evaluated as a plain function",
            func.name()
        ))),
    })
}

/// The row count of a call's arrays (1 for a call without arguments, which runs once).
fn num_rows_of(arrays: &[ArrayRef]) -> usize {
    arrays.first().map_or(1, |a| a.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{col, lit, ScalarFunctionExpr};
    use crate::physical_expr::create_physical_expr;
    use crate::physical_expr::planner::tests::{batch, evaluate};
    use arrow::array::{
        Array, AsArray, Date32Array, DictionaryArray, Float64Array, Int32Array, Int64Array,
        StringArray, TimestampMicrosecondArray,
    };
    use arrow::datatypes::{Date32Type, Float64Type, Int32Type, Int64Type, Time64MicrosecondType};
    use quiver_storage::ScalarValue;

    fn call(func: ScalarFunction, args: Vec<Expr>) -> Expr {
        Expr::ScalarFunction(ScalarFunctionExpr { func, args })
    }

    fn sample() -> (RecordBatch, PlanSchema) {
        let day = 86_400_000_000i64;
        batch(vec![
            (
                "a",
                Arc::new(Int32Array::from(vec![Some(1), None, Some(-7)])) as ArrayRef,
            ),
            (
                "b",
                Arc::new(Int64Array::from(vec![Some(5), Some(6), None])),
            ),
            (
                "f",
                Arc::new(Float64Array::from(vec![Some(2.5), Some(-0.5), None])),
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![Some("Hello"), None, Some("wörld")])),
            ),
            (
                "k",
                Arc::new(
                    vec![Some("x"), Some("y"), None]
                        .into_iter()
                        .collect::<DictionaryArray<Int32Type>>(),
                ),
            ),
            (
                "ts",
                Arc::new(TimestampMicrosecondArray::from(vec![
                    Some(19_797 * day + 3_723_000_000),
                    None,
                    Some(-1),
                ])),
            ),
            (
                "d",
                Arc::new(Date32Array::from(vec![Some(19_797), Some(0), None])),
            ),
        ])
    }

    fn strings(array: &ArrayRef) -> Vec<Option<String>> {
        array
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect()
    }

    fn owned(values: &[Option<&str>]) -> Vec<Option<String>> {
        values.iter().map(|s| s.map(str::to_string)).collect()
    }

    #[test]
    fn coalesce_takes_the_first_non_null_and_skips_decided_rows() {
        let (batch, schema) = sample();
        let e = call(
            ScalarFunction::Coalesce,
            vec![col("a"), col("b"), lit(0i64)],
        );
        let out = evaluate(&e, &batch, &schema).unwrap();
        let values: Vec<_> = out.as_primitive::<Int64Type>().iter().collect();
        assert_eq!(values, vec![Some(1), Some(6), Some(-7)]);
        // 10 / (b - 5) divides by zero on row 0, which `a` already decided; row 2 has b NULL.
        let guarded = call(
            ScalarFunction::Coalesce,
            vec![col("a") * lit(0i32), lit(10i64) / (col("b") - lit(5i64))],
        );
        let out = evaluate(&guarded, &batch, &schema).unwrap();
        let values: Vec<_> = out.as_primitive::<Int64Type>().iter().collect();
        assert_eq!(values, vec![Some(0), Some(10), Some(0)]);
        let all_null = call(
            ScalarFunction::Coalesce,
            vec![lit(ScalarValue::Null), col("s")],
        );
        let out = evaluate(&all_null, &batch, &schema).unwrap();
        assert_eq!(strings(&out), owned(&[Some("Hello"), None, Some("wörld")]));
    }

    #[test]
    fn greatest_least_and_nullif() {
        let (batch, schema) = sample();
        let e = call(
            ScalarFunction::Greatest,
            vec![col("a"), col("b"), lit(ScalarValue::Null)],
        );
        let out = evaluate(&e, &batch, &schema).unwrap();
        let values: Vec<_> = out.as_primitive::<Int64Type>().iter().collect();
        assert_eq!(values, vec![Some(5), Some(6), Some(-7)]);
        let e = call(ScalarFunction::Least, vec![col("a"), col("f")]);
        let out = evaluate(&e, &batch, &schema).unwrap();
        let values: Vec<_> = out.as_primitive::<Float64Type>().iter().collect();
        assert_eq!(values, vec![Some(1.0), Some(-0.5), Some(-7.0)]);
        let e = call(ScalarFunction::NullIf, vec![col("a"), lit(1i64)]);
        let out = evaluate(&e, &batch, &schema).unwrap();
        let values: Vec<_> = out.as_primitive::<Int32Type>().iter().collect();
        assert_eq!(values, vec![None, None, Some(-7)]);
        let e = call(ScalarFunction::NullIf, vec![col("k"), lit("y")]);
        let out = evaluate(&e, &batch, &schema).unwrap();
        assert_eq!(strings(&out), owned(&[Some("x"), None, None]));
        let e = call(ScalarFunction::NullIf, vec![lit(3i64), lit(3i64)]);
        let physical = create_physical_expr(&e, &schema).unwrap();
        assert!(matches!(
            physical.evaluate(&batch).unwrap(),
            ColumnarValue::Scalar(ScalarValue::Int64(None))
        ));
    }

    #[test]
    fn text_functions_through_the_planner() {
        let (batch, schema) = sample();
        let cases: Vec<(Expr, Vec<Option<&str>>)> = vec![
            (
                call(ScalarFunction::Upper, vec![col("k")]),
                vec![Some("X"), Some("Y"), None],
            ),
            (
                call(ScalarFunction::Substr, vec![col("s"), lit(2i64), lit(3i32)]),
                vec![Some("ell"), None, Some("örl")],
            ),
            (
                call(
                    ScalarFunction::Concat,
                    vec![col("s"), lit("-"), col("a"), col("f")],
                ),
                vec![Some("Hello-12.5"), Some("--0.5"), Some("wörld--7")],
            ),
            (
                call(ScalarFunction::LPad, vec![col("k"), lit(3i64), lit("0")]),
                vec![Some("00x"), Some("00y"), None],
            ),
            (
                call(ScalarFunction::Replace, vec![col("s"), lit("l"), lit("L")]),
                vec![Some("HeLLo"), None, Some("wörLd")],
            ),
            (
                call(
                    ScalarFunction::Right,
                    vec![col("s"), lit(ScalarValue::Null)],
                ),
                vec![None, None, None],
            ),
        ];
        for (e, expected) in cases {
            let out = evaluate(&e, &batch, &schema).unwrap();
            assert_eq!(strings(&out), owned(&expected), "{e}");
        }
        let e = call(ScalarFunction::Length, vec![col("s")]);
        let out = evaluate(&e, &batch, &schema).unwrap();
        let values: Vec<_> = out.as_primitive::<Int64Type>().iter().collect();
        assert_eq!(values, vec![Some(5), None, Some(5)]);
        let e = call(ScalarFunction::StrIndex, vec![col("s"), lit("l")]);
        let out = evaluate(&e, &batch, &schema).unwrap();
        let values: Vec<_> = out.as_primitive::<Int64Type>().iter().collect();
        assert_eq!(values, vec![Some(3), None, Some(4)]);
        let e = call(ScalarFunction::Concat, vec![lit("a"), lit("b")]);
        let physical = create_physical_expr(&e, &schema).unwrap();
        assert!(matches!(
            physical.evaluate(&batch).unwrap(),
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(ref s))) if s == "ab"
        ));
    }

    #[test]
    fn math_functions_through_the_planner() {
        let (batch, schema) = sample();
        let e = call(ScalarFunction::Round, vec![col("f")]);
        let out = evaluate(&e, &batch, &schema).unwrap();
        let values: Vec<_> = out.as_primitive::<Float64Type>().iter().collect();
        assert_eq!(values, vec![Some(3.0), Some(-1.0), None]);
        let e = call(ScalarFunction::Mod, vec![col("b"), col("a")]);
        let out = evaluate(&e, &batch, &schema).unwrap();
        let values: Vec<_> = out.as_primitive::<Int64Type>().iter().collect();
        assert_eq!(values, vec![Some(0), None, None]);
        let e = call(ScalarFunction::Mod, vec![col("b"), lit(0i32)]);
        assert!(matches!(
            evaluate(&e, &batch, &schema),
            Err(EngineError::DivisionByZero)
        ));
        let e = call(ScalarFunction::Abs, vec![col("a")]);
        let out = evaluate(&e, &batch, &schema).unwrap();
        let values: Vec<_> = out.as_primitive::<Int32Type>().iter().collect();
        assert_eq!(values, vec![Some(1), None, Some(7)]);
        let e = call(ScalarFunction::Sqrt, vec![col("a")]);
        assert!(matches!(
            evaluate(&e, &batch, &schema),
            Err(EngineError::Execution(_))
        ));
        let e = call(ScalarFunction::Power, vec![col("b"), lit(2i64)]);
        let out = evaluate(&e, &batch, &schema).unwrap();
        let values: Vec<_> = out.as_primitive::<Float64Type>().iter().collect();
        assert_eq!(values, vec![Some(25.0), Some(36.0), None]);
        let e = call(ScalarFunction::Round, vec![col("s")]);
        assert!(matches!(
            create_physical_expr(&e, &schema),
            Err(EngineError::Plan(_))
        ));
        let e = call(ScalarFunction::Sqrt, vec![]);
        assert!(matches!(
            create_physical_expr(&e, &schema),
            Err(EngineError::Plan(_))
        ));
    }

    #[test]
    fn date_functions_through_the_planner() {
        let (batch, schema) = sample();
        // 2024-03-15 (a Friday) 01:02:03, and one microsecond before 1970.
        let extract = |part, column: &str| {
            let e = call(ScalarFunction::Extract(part), vec![col(column)]);
            let out = evaluate(&e, &batch, &schema).unwrap();
            out.as_primitive::<Int32Type>().iter().collect::<Vec<_>>()
        };
        assert_eq!(
            extract(DatePart::Year, "ts"),
            vec![Some(2024), None, Some(1969)]
        );
        assert_eq!(
            extract(DatePart::WeekDay, "ts"),
            vec![Some(6), None, Some(4)]
        );
        assert_eq!(
            extract(DatePart::Second, "ts"),
            vec![Some(3), None, Some(59)]
        );
        assert_eq!(extract(DatePart::Week, "d"), vec![Some(11), Some(1), None]);
        let e = call(ScalarFunction::Trunc(TruncUnit::Week), vec![col("d")]);
        let out = evaluate(&e, &batch, &schema).unwrap();
        let values: Vec<_> = out.as_primitive::<Date32Type>().iter().collect();
        // 1970-01-01 was a Thursday: its week began on 1969-12-29.
        assert_eq!(values, vec![Some(19_797 - 4), Some(-3), None]);
        let e = call(ScalarFunction::ToDate, vec![col("ts")]);
        let out = evaluate(&e, &batch, &schema).unwrap();
        let values: Vec<_> = out.as_primitive::<Date32Type>().iter().collect();
        assert_eq!(values, vec![Some(19_797), None, Some(-1)]);
        let e = call(ScalarFunction::ToTime, vec![col("ts")]);
        let out = evaluate(&e, &batch, &schema).unwrap();
        let values: Vec<_> = out.as_primitive::<Time64MicrosecondType>().iter().collect();
        assert_eq!(
            values,
            vec![Some(3_723_000_000), None, Some(86_399_999_999)]
        );
        let e = call(ScalarFunction::ToDate, vec![lit("2024-03-15")]);
        let physical = create_physical_expr(&e, &schema).unwrap();
        assert!(matches!(
            physical.evaluate(&batch).unwrap(),
            ColumnarValue::Scalar(ScalarValue::Date32(Some(19_797)))
        ));
        let e = call(ScalarFunction::Extract(DatePart::Year), vec![col("a")]);
        assert!(matches!(
            create_physical_expr(&e, &schema),
            Err(EngineError::Plan(_))
        ));
        let e = call(
            ScalarFunction::Trunc(TruncUnit::Month),
            vec![lit(ScalarValue::Null)],
        );
        let out = evaluate(&e, &batch, &schema).unwrap();
        assert_eq!(out.logical_null_count(), 3);
    }
}
