//! Expressions, literals and types as SQL text that PostgreSQL and DataFusion both read the
//! same way.
//!
//! Every binary operation is parenthesized, so the text never depends on either dialect's
//! precedence rules. Literals carry their type where the two engines would otherwise infer
//! different ones: an INT literal is `CAST(5 AS INT)` (a bare `5` is BIGINT in DataFusion),
//! a decimal is `CAST('1.50' AS DECIMAL(3, 2))` (a bare `1.50` is a float in DataFusion and a
//! numeric in PostgreSQL). Integers compared with something else stay bare: the comparison
//! gives the same answer whatever the literal's width. Functions use the names both engines
//! know; where they differ in result type (`EXTRACT` is numeric in PostgreSQL) the text casts
//! to Quiver's type.

use arrow::datatypes::DataType;
use quiver_storage::ScalarValue;

use crate::error::{EngineError, Result};
use crate::expr::type_coercion::value_type;
use crate::expr::{
    AggregateExpr, AggregateFunction, Column, DatePart, Expr, ScalarFunction, ScalarFunctionExpr,
    WindowFunction, WindowFunctionKind,
};

/// `"name"`, with embedded quotes doubled.
pub(crate) fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'`, with embedded quotes doubled. Backslashes are ordinary characters in both
/// dialects (PostgreSQL's standard-conforming strings, DataFusion's generic dialect).
pub(crate) fn quote_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn column_to_sql(column: &Column) -> String {
    match &column.relation {
        Some(relation) => format!(
            "{}.{}",
            quote_identifier(relation),
            quote_identifier(&column.name)
        ),
        None => quote_identifier(&column.name),
    }
}

/// The SQL name of a Quiver column type, as DataFusion maps it back to the same Arrow type
/// (`TIMESTAMP(6)` is microseconds there; plain `TIMESTAMP` would be nanoseconds).
pub(crate) fn type_to_sql(data_type: &DataType) -> Result<String> {
    Ok(match value_type(data_type) {
        DataType::Boolean => "BOOLEAN".to_string(),
        DataType::Int16 => "SMALLINT".to_string(),
        DataType::Int32 => "INT".to_string(),
        DataType::Int64 => "BIGINT".to_string(),
        DataType::Float32 => "REAL".to_string(),
        DataType::Float64 => "DOUBLE PRECISION".to_string(),
        DataType::Decimal128(p, s) if *s >= 0 => format!("DECIMAL({p}, {s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "TEXT".to_string(),
        DataType::Date32 => "DATE".to_string(),
        DataType::Timestamp(_, None) => "TIMESTAMP(6)".to_string(),
        DataType::Time64(_) => "TIME".to_string(),
        other => {
            return Err(EngineError::Plan(format!(
                "type {other} cannot be written as SQL that DataFusion runs"
            )))
        }
    })
}

/// A literal with its type.
pub(crate) fn literal_to_sql(value: &ScalarValue) -> Result<String> {
    if matches!(value, ScalarValue::Null) {
        return Ok("NULL".to_string());
    }
    if value.is_null() {
        return Ok(format!(
            "CAST(NULL AS {})",
            type_to_sql(&value.data_type())?
        ));
    }
    Ok(match value {
        ScalarValue::Boolean(Some(b)) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        ScalarValue::Int16(Some(v)) => format!("CAST({v} AS SMALLINT)"),
        ScalarValue::Int32(Some(v)) => format!("CAST({v} AS INT)"),
        // `-9223372036854775808` would be read as the negation of a number too large for
        // BIGINT.
        ScalarValue::Int64(Some(i64::MIN)) => format!("CAST('{}' AS BIGINT)", i64::MIN),
        ScalarValue::Int64(Some(v)) => v.to_string(),
        // Debug formatting always has a `.` or an exponent, so the number reads as a float.
        ScalarValue::Float64(Some(v)) if v.is_finite() => format!("{v:?}"),
        ScalarValue::Float64(Some(v)) => {
            let text = if v.is_nan() {
                "NaN"
            } else if *v > 0.0 {
                "Infinity"
            } else {
                "-Infinity"
            };
            format!("CAST('{text}' AS DOUBLE PRECISION)")
        }
        ScalarValue::Decimal128(Some(_), p, s) => {
            format!(
                "CAST('{value}' AS {})",
                type_to_sql(&DataType::Decimal128(*p, *s))?
            )
        }
        ScalarValue::Utf8(Some(text)) => quote_string(text),
        ScalarValue::Date32(Some(_)) => format!("DATE '{value}'"),
        ScalarValue::TimestampMicrosecond(Some(_)) => {
            format!("TIMESTAMP '{}'", value.to_string().replacen('T', " ", 1))
        }
        ScalarValue::Time64Microsecond(Some(_)) => format!("TIME '{value}'"),
        ScalarValue::DurationMicrosecond(Some(micros)) => interval_to_sql(*micros),
        other => {
            return Err(EngineError::Internal(format!(
                "literal {other:?} has no SQL form"
            )))
        }
    })
}

/// `INTERVAL '1 days 2 hours 3 seconds'`: unit words both engines parse, each part signed.
fn interval_to_sql(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let total = micros.unsigned_abs();
    let parts = [
        (total / 86_400_000_000, "days"),
        (total / 3_600_000_000 % 24, "hours"),
        (total / 60_000_000 % 60, "minutes"),
        (total / 1_000_000 % 60, "seconds"),
        (total % 1_000_000, "microseconds"),
    ];
    let text: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{sign}{n} {unit}"))
        .collect();
    if text.is_empty() {
        return "INTERVAL '0 seconds'".to_string();
    }
    format!("INTERVAL '{}'", text.join(" "))
}

/// An operand of a comparison: integer literals stay bare, since either engine compares them
/// at the other side's type anyway.
fn comparison_operand(expr: &Expr) -> Result<String> {
    match expr {
        Expr::Literal(v @ (ScalarValue::Int16(Some(_)) | ScalarValue::Int32(Some(_)))) => {
            Ok(v.to_string())
        }
        other => expr_to_sql(other),
    }
}

/// A GROUP BY or ORDER BY key. A bare constant there is either a column position (`1`) or an
/// error in PostgreSQL, so literals are always written as casts.
pub(crate) fn key_to_sql(expr: &Expr) -> Result<String> {
    let text = expr_to_sql(expr)?;
    match expr {
        Expr::Literal(v) if !text.starts_with("CAST(") => {
            let data_type = match v.data_type() {
                DataType::Null => DataType::Int64,
                other => other,
            };
            Ok(format!("CAST({text} AS {})", type_to_sql(&data_type)?))
        }
        _ => Ok(text),
    }
}

/// The SQL text of an expression whose columns name relations of the FROM clause.
pub(crate) fn expr_to_sql(expr: &Expr) -> Result<String> {
    Ok(match expr {
        Expr::Column(c) => column_to_sql(c),
        Expr::Literal(v) => literal_to_sql(v)?,
        Expr::BinaryExpr(b) => {
            let operand = |e: &Expr| {
                if b.op.is_comparison() {
                    comparison_operand(e)
                } else {
                    expr_to_sql(e)
                }
            };
            format!(
                "({} {} {})",
                operand(&b.left)?,
                b.op.sql(),
                operand(&b.right)?
            )
        }
        Expr::Not(e) => format!("(NOT {})", expr_to_sql(e)?),
        // The space keeps `- -5` from becoming the comment `--5`.
        Expr::Negative(e) => format!("(- {})", expr_to_sql(e)?),
        Expr::IsNull(e) => format!("({} IS NULL)", expr_to_sql(e)?),
        Expr::IsNotNull(e) => format!("({} IS NOT NULL)", expr_to_sql(e)?),
        Expr::Case(case) => {
            if case.when_then.is_empty() {
                return Err(EngineError::Plan(
                    "CASE needs at least one WHEN".to_string(),
                ));
            }
            let mut text = "CASE".to_string();
            if let Some(operand) = &case.operand {
                text.push(' ');
                text.push_str(&expr_to_sql(operand)?);
            }
            for (when, then) in &case.when_then {
                text.push_str(&format!(
                    " WHEN {} THEN {}",
                    expr_to_sql(when)?,
                    expr_to_sql(then)?
                ));
            }
            if let Some(otherwise) = &case.else_expr {
                text.push_str(&format!(" ELSE {}", expr_to_sql(otherwise)?));
            }
            text.push_str(" END");
            text
        }
        Expr::Cast(cast) => format!(
            "CAST({} AS {})",
            expr_to_sql(&cast.expr)?,
            type_to_sql(&cast.data_type)?
        ),
        // `IN ()` is not SQL; nothing is in an empty list, not even NULL.
        Expr::InList(list) if list.list.is_empty() => {
            if list.negated { "TRUE" } else { "FALSE" }.to_string()
        }
        Expr::InList(list) => {
            let items = list
                .list
                .iter()
                .map(comparison_operand)
                .collect::<Result<Vec<_>>>()?;
            format!(
                "({} {}IN ({}))",
                comparison_operand(&list.expr)?,
                if list.negated { "NOT " } else { "" },
                items.join(", ")
            )
        }
        Expr::Like(like) => format!(
            "({} {}{} {})",
            expr_to_sql(&like.expr)?,
            if like.negated { "NOT " } else { "" },
            if like.case_insensitive {
                "ILIKE"
            } else {
                "LIKE"
            },
            expr_to_sql(&like.pattern)?
        ),
        Expr::RegexMatch(regex) => {
            let op = match (regex.negated, regex.case_insensitive) {
                (false, false) => "~",
                (false, true) => "~*",
                (true, false) => "!~",
                (true, true) => "!~*",
            };
            format!(
                "({} {op} {})",
                expr_to_sql(&regex.expr)?,
                expr_to_sql(&regex.pattern)?
            )
        }
        Expr::ScalarFunction(f) => function_to_sql(f)?,
        Expr::Aggregate(a) => aggregate_to_sql(a)?,
        Expr::WindowFunction(w) => window_to_sql(w)?,
        Expr::Alias(a) => expr_to_sql(&a.expr)?,
        // The enclosing query's relation names stay in scope inside the subquery.
        Expr::OuterColumn(o) => column_to_sql(&o.column),
        Expr::ScalarSubquery(s) => format!("({})", super::plan_to_sql(&s.plan)?),
        Expr::Exists(x) => format!(
            "({}EXISTS ({}))",
            if x.negated { "NOT " } else { "" },
            super::plan_to_sql(&x.subquery.plan)?
        ),
        Expr::InSubquery(i) => format!(
            "({} {}IN ({}))",
            expr_to_sql(&i.expr)?,
            if i.negated { "NOT " } else { "" },
            super::plan_to_sql(&i.subquery.plan)?
        ),
    })
}

/// `fun(args) OVER (PARTITION BY … ORDER BY … frame)`. Integer constants (ntile's buckets,
/// lag's offset, nth_value's position) are written bare: both engines want a plain number
/// there.
fn window_to_sql(call: &WindowFunction) -> Result<String> {
    let args = if call.args.is_empty()
        && call.fun == WindowFunctionKind::Aggregate(AggregateFunction::Count)
    {
        "*".to_string()
    } else {
        call.args
            .iter()
            .map(|a| match a {
                Expr::Literal(v) if !v.is_null() && v.data_type().is_integer() => Ok(v.to_string()),
                other => expr_to_sql(other),
            })
            .collect::<Result<Vec<_>>>()?
            .join(", ")
    };
    let mut over = Vec::new();
    if !call.partition_by.is_empty() {
        let keys = call
            .partition_by
            .iter()
            .map(key_to_sql)
            .collect::<Result<Vec<_>>>()?;
        over.push(format!("PARTITION BY {}", keys.join(", ")));
    }
    if !call.order_by.is_empty() {
        let keys = call
            .order_by
            .iter()
            .map(|key| {
                Ok(format!(
                    "{} {} NULLS {}",
                    key_to_sql(&key.expr)?,
                    if key.asc { "ASC" } else { "DESC" },
                    if key.nulls_first { "FIRST" } else { "LAST" }
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        over.push(format!("ORDER BY {}", keys.join(", ")));
    }
    if let Some(frame) = &call.frame {
        over.push(frame.to_string());
    }
    Ok(format!(
        "{}({args}) OVER ({})",
        call.fun.name(),
        over.join(" ")
    ))
}

fn function_to_sql(call: &ScalarFunctionExpr) -> Result<String> {
    use ScalarFunction as F;
    let args = call
        .args
        .iter()
        .map(expr_to_sql)
        .collect::<Result<Vec<_>>>()?;
    let arg = |i: usize| {
        args.get(i).cloned().ok_or_else(|| {
            EngineError::Plan(format!("{} needs {} argument(s)", call.func.name(), i + 1))
        })
    };
    let named = |name: &str| format!("{name}({})", args.join(", "));
    Ok(match call.func {
        F::Coalesce => named("coalesce"),
        F::Greatest => named("greatest"),
        F::Least => named("least"),
        F::NullIf => named("nullif"),
        F::Concat => named("concat"),
        F::Lower => named("lower"),
        F::Upper => named("upper"),
        F::Length => named("character_length"),
        F::Substr => named("substr"),
        F::Trim => named("btrim"),
        F::LTrim => named("ltrim"),
        F::RTrim => named("rtrim"),
        F::Replace => named("replace"),
        F::Left => named("left"),
        F::Right => named("right"),
        F::Reverse => named("reverse"),
        F::Repeat => named("repeat"),
        F::StrIndex => named("strpos"),
        F::LPad => named("lpad"),
        F::RPad => named("rpad"),
        F::Abs => named("abs"),
        F::Round => named("round"),
        F::Ceil => named("ceil"),
        F::Floor => named("floor"),
        F::Mod => format!("({} % {})", arg(0)?, arg(1)?),
        F::Power => named("power"),
        F::Sqrt => named("sqrt"),
        F::Exp => named("exp"),
        F::Ln => named("ln"),
        // Django's Log(base, x) has PostgreSQL's and DataFusion's argument order.
        F::Log => named("log"),
        // PostgreSQL spells it sign, DataFusion signum; a CASE reads the same in both.
        F::Sign => {
            let x = arg(0)?;
            format!("CASE WHEN {x} > 0 THEN 1 WHEN {x} < 0 THEN -1 WHEN {x} = 0 THEN 0 END")
        }
        F::Extract(part) => format!("CAST({} AS INT)", extract_to_sql(part, &arg(0)?)),
        F::Trunc(unit) => format!("date_trunc('{}', {})", unit.name(), arg(0)?),
        F::ToDate => format!("CAST({} AS DATE)", arg(0)?),
        F::ToTime => format!("CAST({} AS TIME)", arg(0)?),
    })
}

/// `EXTRACT` of a Django date part (a number, cast to INT by the caller).
fn extract_to_sql(part: DatePart, value: &str) -> String {
    let field = match part {
        DatePart::Year => "YEAR",
        DatePart::IsoYear => "ISOYEAR",
        DatePart::Quarter => "QUARTER",
        DatePart::Month => "MONTH",
        DatePart::Week => "WEEK",
        DatePart::Day => "DAY",
        // Django's week_day counts from Sunday = 1; DOW from Sunday = 0.
        DatePart::WeekDay => return format!("(EXTRACT(DOW FROM {value}) + 1)"),
        DatePart::IsoWeekDay => "ISODOW",
        DatePart::DayOfYear => "DOY",
        DatePart::Hour => "HOUR",
        DatePart::Minute => "MINUTE",
        // PostgreSQL's SECOND has the fraction; Django's __second is whole seconds.
        DatePart::Second => return format!("floor(EXTRACT(SECOND FROM {value}))"),
    };
    format!("EXTRACT({field} FROM {value})")
}

fn aggregate_to_sql(aggregate: &AggregateExpr) -> Result<String> {
    if let Some(mut text) = percentile_to_sql(aggregate)? {
        if let Some(filter) = &aggregate.filter {
            text.push_str(&format!(" FILTER (WHERE {})", expr_to_sql(filter)?));
        }
        return Ok(text);
    }
    let args = if aggregate.args.is_empty() {
        if aggregate.distinct {
            return Err(EngineError::Plan(format!(
                "{}(DISTINCT *) is not valid",
                aggregate.func.name()
            )));
        }
        "*".to_string()
    } else {
        aggregate
            .args
            .iter()
            .map(expr_to_sql)
            .collect::<Result<Vec<_>>>()?
            .join(", ")
    };
    let mut text = format!(
        "{}({}{args})",
        aggregate.func.name(),
        if aggregate.distinct { "DISTINCT " } else { "" }
    );
    if let Some(filter) = &aggregate.filter {
        text.push_str(&format!(" FILTER (WHERE {})", expr_to_sql(filter)?));
    }
    Ok(text)
}

/// MEDIAN and PERCENTILE_CONT in PostgreSQL's ordered-set form,
/// `percentile_cont(0.5) WITHIN GROUP (ORDER BY x)` (PostgreSQL has no `median`; DataFusion
/// reads this form too). `None` for every other aggregate.
fn percentile_to_sql(aggregate: &AggregateExpr) -> Result<Option<String>> {
    let fraction = match (aggregate.func, aggregate.args.as_slice()) {
        (AggregateFunction::Median, [_]) => "0.5".to_string(),
        (AggregateFunction::PercentileCont, [_, fraction]) => expr_to_sql(fraction)?,
        (AggregateFunction::Median | AggregateFunction::PercentileCont, _) => {
            return Err(EngineError::Plan(format!(
                "{} has the wrong number of arguments",
                aggregate.func.name()
            )))
        }
        _ => return Ok(None),
    };
    if aggregate.distinct {
        return Err(EngineError::Plan(format!(
            "{}(DISTINCT …) is not supported",
            aggregate.func.name()
        )));
    }
    Ok(Some(format!(
        "percentile_cont({fraction}) WITHIN GROUP (ORDER BY {})",
        expr_to_sql(&aggregate.args[0])?
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{
        col, lit, qualified_col, AggregateFunction, Case, Like, RegexMatch, TruncUnit,
    };

    fn sql(expr: Expr) -> String {
        expr_to_sql(&expr).unwrap()
    }

    fn call(func: ScalarFunction, args: Vec<Expr>) -> Expr {
        Expr::ScalarFunction(ScalarFunctionExpr { func, args })
    }

    #[test]
    fn literals_keep_their_types() {
        let cases = [
            (ScalarValue::Int64(Some(-5)), "-5"),
            (
                ScalarValue::Int64(Some(i64::MIN)),
                "CAST('-9223372036854775808' AS BIGINT)",
            ),
            (ScalarValue::Int32(Some(7)), "CAST(7 AS INT)"),
            (ScalarValue::Int16(Some(7)), "CAST(7 AS SMALLINT)"),
            (ScalarValue::Float64(Some(2.0)), "2.0"),
            (ScalarValue::Float64(Some(1e300)), "1e300"),
            (
                ScalarValue::Float64(Some(f64::NAN)),
                "CAST('NaN' AS DOUBLE PRECISION)",
            ),
            (
                ScalarValue::Decimal128(Some(150), 5, 2),
                "CAST('1.50' AS DECIMAL(5, 2))",
            ),
            (ScalarValue::Utf8(Some("it's".into())), "'it''s'"),
            (ScalarValue::Utf8(Some("50\\%".into())), "'50\\%'"),
            (ScalarValue::Date32(Some(19723)), "DATE '2024-01-01'"),
            (
                ScalarValue::TimestampMicrosecond(Some(1_704_103_200_500_000)),
                "TIMESTAMP '2024-01-01 10:00:00.500000'",
            ),
            (
                ScalarValue::Time64Microsecond(Some(3_600_000_000)),
                "TIME '01:00:00'",
            ),
            (
                ScalarValue::DurationMicrosecond(Some(90_061_000_001)),
                "INTERVAL '1 days 1 hours 1 minutes 1 seconds 1 microseconds'",
            ),
            (
                ScalarValue::DurationMicrosecond(Some(-3_600_000_000)),
                "INTERVAL '-1 hours'",
            ),
            (ScalarValue::Boolean(Some(true)), "TRUE"),
            (ScalarValue::Null, "NULL"),
            (ScalarValue::Date32(None), "CAST(NULL AS DATE)"),
        ];
        for (value, expected) in cases {
            assert_eq!(literal_to_sql(&value).unwrap(), expected, "{value:?}");
        }
    }

    #[test]
    fn operators_are_parenthesized_and_comparisons_use_bare_integers() {
        let age = || qualified_col("T0", "age");
        assert_eq!(
            sql(age().gt(lit(30i32)).and(age().lt(lit(40i32)).not())),
            r#"(("T0"."age" > 30) AND (NOT ("T0"."age" < 40)))"#
        );
        assert_eq!(sql(age() + lit(1i32)), r#"("T0"."age" + CAST(1 AS INT))"#);
        assert_eq!(sql(-(-age())), r#"(- (- "T0"."age"))"#);
        assert_eq!(
            sql(age().in_list(vec![lit(1i32), lit(2i32)], true)),
            r#"("T0"."age" NOT IN (1, 2))"#
        );
        assert_eq!(sql(age().in_list(vec![], false)), "FALSE");
        assert_eq!(
            sql(Expr::BinaryExpr(crate::expr::BinaryExpr {
                left: Box::new(age()),
                op: crate::expr::Operator::IsNotDistinctFrom,
                right: Box::new(lit(ScalarValue::Int32(None))),
            })),
            r#"("T0"."age" IS NOT DISTINCT FROM CAST(NULL AS INT))"#
        );
        assert_eq!(sql(col("we\"ird")), r#""we""ird""#);
    }

    #[test]
    fn patterns_and_case() {
        let name = || qualified_col("T0", "name");
        let like = Expr::Like(Like {
            expr: Box::new(name()),
            pattern: Box::new(lit("%a\\_b%")),
            negated: true,
            case_insensitive: true,
        });
        assert_eq!(sql(like), r#"("T0"."name" NOT ILIKE '%a\_b%')"#);
        let regex = Expr::RegexMatch(RegexMatch {
            expr: Box::new(name()),
            pattern: Box::new(lit("^a")),
            negated: true,
            case_insensitive: true,
        });
        assert_eq!(sql(regex), r#"("T0"."name" !~* '^a')"#);
        let case = Expr::Case(Case {
            operand: None,
            when_then: vec![(name().is_null(), lit("none"))],
            else_expr: Some(Box::new(name())),
        });
        assert_eq!(
            sql(case),
            r#"CASE WHEN ("T0"."name" IS NULL) THEN 'none' ELSE "T0"."name" END"#
        );
    }

    #[test]
    fn functions_use_names_both_engines_know() {
        let d = || qualified_col("T1", "pub_date");
        let s = || qualified_col("T0", "name");
        let cases = [
            (
                call(ScalarFunction::Length, vec![s()]),
                r#"character_length("T0"."name")"#,
            ),
            (
                call(ScalarFunction::Trim, vec![s()]),
                r#"btrim("T0"."name")"#,
            ),
            (
                call(ScalarFunction::StrIndex, vec![s(), lit("a")]),
                r#"strpos("T0"."name", 'a')"#,
            ),
            (
                call(ScalarFunction::Mod, vec![lit(7i64), lit(2i64)]),
                "(7 % 2)",
            ),
            (
                call(ScalarFunction::Log, vec![lit(2.0), lit(8.0)]),
                "log(2.0, 8.0)",
            ),
            (
                call(ScalarFunction::Extract(DatePart::Year), vec![d()]),
                r#"CAST(EXTRACT(YEAR FROM "T1"."pub_date") AS INT)"#,
            ),
            (
                call(ScalarFunction::Extract(DatePart::WeekDay), vec![d()]),
                r#"CAST((EXTRACT(DOW FROM "T1"."pub_date") + 1) AS INT)"#,
            ),
            (
                call(ScalarFunction::Extract(DatePart::IsoWeekDay), vec![d()]),
                r#"CAST(EXTRACT(ISODOW FROM "T1"."pub_date") AS INT)"#,
            ),
            (
                call(ScalarFunction::Extract(DatePart::Second), vec![d()]),
                r#"CAST(floor(EXTRACT(SECOND FROM "T1"."pub_date")) AS INT)"#,
            ),
            (
                call(ScalarFunction::Trunc(TruncUnit::Month), vec![d()]),
                r#"date_trunc('month', "T1"."pub_date")"#,
            ),
            (
                call(ScalarFunction::Sign, vec![lit(-3i64)]),
                "CASE WHEN -3 > 0 THEN 1 WHEN -3 < 0 THEN -1 WHEN -3 = 0 THEN 0 END",
            ),
        ];
        for (expr, expected) in cases {
            assert_eq!(sql(expr), expected);
        }
    }

    #[test]
    fn aggregates_with_distinct_and_filter() {
        let mut count =
            AggregateExpr::new(AggregateFunction::Count, vec![qualified_col("T0", "age")]);
        count.distinct = true;
        count.filter = Some(Box::new(qualified_col("T0", "age").gt(lit(3i32))));
        assert_eq!(
            sql(count.into()),
            r#"count(DISTINCT "T0"."age") FILTER (WHERE ("T0"."age" > 3))"#
        );
        let star = AggregateExpr::new(AggregateFunction::Count, vec![]);
        assert_eq!(sql(star.into()), "count(*)");
        let var = AggregateExpr::new(AggregateFunction::VarSamp, vec![qualified_col("T0", "age")]);
        assert_eq!(sql(var.into()), r#"var_samp("T0"."age")"#);
        let mut bad = AggregateExpr::new(AggregateFunction::Count, vec![]);
        bad.distinct = true;
        assert!(expr_to_sql(&bad.into()).is_err());
    }

    #[test]
    fn statistical_aggregates_render_as_postgresql() {
        let age = || qualified_col("T0", "age");
        let median = AggregateExpr::new(AggregateFunction::Median, vec![age()]);
        assert_eq!(
            sql(median.into()),
            r#"percentile_cont(0.5) WITHIN GROUP (ORDER BY "T0"."age")"#
        );
        let mut quartile =
            AggregateExpr::new(AggregateFunction::PercentileCont, vec![age(), lit(0.25)]);
        quartile.filter = Some(Box::new(age().gt(lit(3i32))));
        assert_eq!(
            sql(quartile.into()),
            r#"percentile_cont(0.25) WITHIN GROUP (ORDER BY "T0"."age") FILTER (WHERE ("T0"."age" > 3))"#
        );
        let corr = AggregateExpr::new(
            AggregateFunction::Corr,
            vec![age(), qualified_col("T0", "height")],
        );
        assert_eq!(sql(corr.into()), r#"corr("T0"."age", "T0"."height")"#);
    }

    #[test]
    fn keys_never_read_as_positions() {
        assert_eq!(key_to_sql(&lit(1i64)).unwrap(), "CAST(1 AS BIGINT)");
        assert_eq!(key_to_sql(&lit("a")).unwrap(), "CAST('a' AS TEXT)");
        assert_eq!(key_to_sql(&lit(1i32)).unwrap(), "CAST(1 AS INT)");
        assert_eq!(
            key_to_sql(&qualified_col("T0", "age")).unwrap(),
            r#""T0"."age""#
        );
    }

    #[test]
    fn types_without_a_shared_sql_name_are_errors() {
        assert_eq!(
            type_to_sql(&DataType::Timestamp(
                arrow::datatypes::TimeUnit::Microsecond,
                None
            ))
            .unwrap(),
            "TIMESTAMP(6)"
        );
        let err =
            type_to_sql(&DataType::Duration(arrow::datatypes::TimeUnit::Microsecond)).unwrap_err();
        assert!(err.to_string().contains("cannot be written as SQL"));
    }
}
