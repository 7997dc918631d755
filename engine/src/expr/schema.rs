//! Type and nullability inference for [`Expr`] against a [`PlanSchema`].

use arrow::datatypes::{DataType, Field, TimeUnit};

use super::type_coercion::{
    arithmetic_types, comparison_common_type, integer_as_decimal, is_integer, is_numeric,
    value_type, MAX_DECIMAL_PRECISION,
};
use super::{AggregateFunction, Expr, ScalarFunction};
use crate::error::{EngineError, Result};
use crate::logical_plan::{PlanSchema, QualifiedField};

/// Fractional digits of a decimal `AVG`: PostgreSQL keeps at least 16 significant digits.
const AVG_DECIMAL_SCALE: i8 = 16;

impl Expr {
    /// The Arrow type this expression produces over rows of `schema`.
    pub fn data_type(&self, schema: &PlanSchema) -> Result<DataType> {
        Ok(match self {
            Expr::Column(c) => {
                let i = schema.index_of_column(c)?;
                schema.field(i).field.data_type().clone()
            }
            Expr::Literal(v) => v.data_type(),
            Expr::BinaryExpr(b) => {
                let l = b.left.data_type(schema)?;
                let r = b.right.data_type(schema)?;
                if b.op.is_arithmetic() {
                    arithmetic_types(b.op, &l, &r)?.2
                } else {
                    if b.op.is_comparison() && comparison_common_type(&l, &r).is_none() {
                        return Err(EngineError::Plan(format!(
                            "cannot compare {} with {}",
                            value_type(&l),
                            value_type(&r)
                        )));
                    }
                    DataType::Boolean
                }
            }
            Expr::Not(_) | Expr::IsNull(_) | Expr::IsNotNull(_) => DataType::Boolean,
            Expr::InList(_) | Expr::Like(_) | Expr::RegexMatch(_) => DataType::Boolean,
            Expr::Negative(e) => value_type(&e.data_type(schema)?).clone(),
            Expr::Case(c) => {
                let mut out = DataType::Null;
                let branches = c
                    .when_then
                    .iter()
                    .map(|(_, t)| t)
                    .chain(c.else_expr.as_deref());
                for t in branches {
                    let t = t.data_type(schema)?;
                    out = comparison_common_type(&out, &t).ok_or_else(|| {
                        EngineError::Plan(format!("CASE types {out} and {t} cannot be matched"))
                    })?;
                }
                out
            }
            Expr::Cast(c) => c.data_type.clone(),
            Expr::ScalarFunction(s) => scalar_function_type(s.func, &s.args, schema)?,
            Expr::Aggregate(a) => {
                let args = a
                    .args
                    .iter()
                    .map(|e| e.data_type(schema))
                    .collect::<Result<Vec<_>>>()?;
                aggregate_type(a.func, &args)?
            }
            Expr::WindowFunction(w) => w.data_type(schema)?,
            Expr::Alias(a) => a.expr.data_type(schema)?,
            Expr::OuterColumn(o) => o.data_type.clone(),
            Expr::ScalarSubquery(s) => {
                let fields = s.plan.schema();
                if fields.len() != 1 {
                    return Err(EngineError::Plan(format!(
                        "a scalar subquery must return one column, not {}",
                        fields.len()
                    )));
                }
                fields.field(0).field.data_type().clone()
            }
            Expr::Exists(_) => DataType::Boolean,
            Expr::InSubquery(i) => {
                let fields = i.subquery.plan.schema();
                if fields.len() != 1 {
                    return Err(EngineError::Plan(format!(
                        "an IN subquery must return one column, not {}",
                        fields.len()
                    )));
                }
                let l = i.expr.data_type(schema)?;
                let r = fields.field(0).field.data_type();
                if comparison_common_type(&l, r).is_none() {
                    return Err(EngineError::Plan(format!(
                        "cannot compare {} with {}",
                        value_type(&l),
                        value_type(r)
                    )));
                }
                DataType::Boolean
            }
        })
    }

    /// Whether this expression can produce NULL over rows of `schema`.
    pub fn nullable(&self, schema: &PlanSchema) -> Result<bool> {
        let any = |exprs: &mut dyn Iterator<Item = &Expr>| -> Result<bool> {
            for e in exprs {
                if e.nullable(schema)? {
                    return Ok(true);
                }
            }
            Ok(false)
        };
        Ok(match self {
            Expr::Column(c) => {
                let i = schema.index_of_column(c)?;
                schema.field(i).field.is_nullable()
            }
            Expr::Literal(v) => v.is_null(),
            Expr::IsNull(_) | Expr::IsNotNull(_) => false,
            Expr::BinaryExpr(b)
                if matches!(
                    b.op,
                    super::Operator::IsDistinctFrom | super::Operator::IsNotDistinctFrom
                ) =>
            {
                false
            }
            Expr::Case(c) => {
                c.else_expr.is_none()
                    || any(&mut c
                        .when_then
                        .iter()
                        .map(|(_, t)| t)
                        .chain(c.else_expr.as_deref()))?
            }
            Expr::ScalarFunction(s) => match s.func {
                ScalarFunction::Coalesce => {
                    let mut all = true;
                    for a in &s.args {
                        all &= a.nullable(schema)?;
                    }
                    all
                }
                ScalarFunction::Concat => false,
                ScalarFunction::NullIf => true,
                ScalarFunction::Greatest | ScalarFunction::Least => {
                    let mut all = true;
                    for a in &s.args {
                        all &= a.nullable(schema)?;
                    }
                    all
                }
                _ => any(&mut s.args.iter())?,
            },
            Expr::Aggregate(a) => a.func != AggregateFunction::Count,
            Expr::WindowFunction(w) => w.nullable(),
            Expr::Alias(a) => a.expr.nullable(schema)?,
            Expr::OuterColumn(o) => o.nullable,
            // No row gives NULL; `x IN (…)` is NULL when a member or `x` is.
            Expr::ScalarSubquery(_) | Expr::InSubquery(_) => true,
            Expr::Exists(_) => false,
            other => any(&mut other.children().into_iter())?,
        })
    }

    /// The output field of this expression, named by [`Expr::output_name`]. A bare column
    /// keeps its relation; anything computed is unqualified.
    pub fn to_field(&self, schema: &PlanSchema) -> Result<QualifiedField> {
        let relation = match self {
            Expr::Column(c) => {
                let i = schema.index_of_column(c)?;
                schema.field(i).relation.clone()
            }
            Expr::Alias(a) => a.relation.clone(),
            _ => None,
        };
        Ok(QualifiedField::new(
            relation,
            Field::new(
                self.output_name(),
                self.data_type(schema)?,
                self.nullable(schema)?,
            ),
        ))
    }
}

fn common_of(args: &[Expr], schema: &PlanSchema, what: &str) -> Result<DataType> {
    let mut out = DataType::Null;
    for a in args {
        let t = a.data_type(schema)?;
        out = comparison_common_type(&out, &t).ok_or_else(|| {
            EngineError::Plan(format!("{what} types {out} and {t} cannot be matched"))
        })?;
    }
    Ok(out)
}

fn scalar_function_type(
    func: ScalarFunction,
    args: &[Expr],
    schema: &PlanSchema,
) -> Result<DataType> {
    use ScalarFunction as F;
    let first = || -> Result<DataType> {
        match args.first() {
            Some(e) => Ok(value_type(&e.data_type(schema)?).clone()),
            None => Err(EngineError::Plan(format!(
                "{} needs at least one argument",
                func.name()
            ))),
        }
    };
    Ok(match func {
        F::Coalesce | F::Greatest | F::Least => common_of(args, schema, &func.name())?,
        F::NullIf => first()?,
        F::Concat
        | F::Lower
        | F::Upper
        | F::Substr
        | F::Trim
        | F::LTrim
        | F::RTrim
        | F::Replace
        | F::Left
        | F::Right
        | F::Reverse
        | F::Repeat
        | F::LPad
        | F::RPad => DataType::Utf8,
        F::Length | F::StrIndex => DataType::Int64,
        F::Abs | F::Sign => first()?,
        F::Round | F::Ceil | F::Floor => match first()? {
            DataType::Float32 | DataType::Float64 => DataType::Float64,
            other if is_numeric(&other) => other,
            other => {
                return Err(EngineError::Plan(format!(
                    "{} does not accept {other}",
                    func.name()
                )))
            }
        },
        F::Mod => {
            let l = first()?;
            let r = match args.get(1) {
                Some(e) => e.data_type(schema)?,
                None => return Err(EngineError::Plan("mod needs two arguments".into())),
            };
            arithmetic_types(super::Operator::Modulo, &l, &r)?.2
        }
        F::Power | F::Sqrt | F::Exp | F::Ln | F::Log => DataType::Float64,
        F::Extract(_) => DataType::Int32,
        F::Trunc(_) => first()?,
        F::ToDate => DataType::Date32,
        F::ToTime => DataType::Time64(TimeUnit::Microsecond),
    })
}

/// The result type of an aggregate over arguments of types `args` (none for `COUNT(*)`),
/// checking their number and, for the statistical functions, that every one is numeric.
pub fn aggregate_type(func: AggregateFunction, args: &[DataType]) -> Result<DataType> {
    use AggregateFunction as A;
    if args.len() > func.max_arguments() {
        return Err(EngineError::Plan(format!(
            "{} takes at most {} argument(s), got {}",
            func.name(),
            func.max_arguments(),
            args.len()
        )));
    }
    if func.is_two_argument() {
        if args.len() != 2 {
            return Err(EngineError::Plan(format!(
                "{} takes two arguments, got {}",
                func.name(),
                args.len()
            )));
        }
        for t in args.iter().map(value_type) {
            if !(is_numeric(t) || t == &DataType::Null) {
                return Err(EngineError::Plan(format!(
                    "{} does not accept {t}",
                    func.name()
                )));
            }
        }
        return Ok(DataType::Float64);
    }
    let arg = args.first().map(value_type);
    let need = || {
        arg.cloned()
            .ok_or_else(|| EngineError::Plan(format!("{}(*) is not valid", func.name())))
    };
    Ok(match func {
        A::Count => DataType::Int64,
        A::Min | A::Max | A::AnyValue => need()?,
        A::Sum => match need()? {
            t if is_integer(&t) => DataType::Int64,
            DataType::Decimal128(_, s) => DataType::Decimal128(MAX_DECIMAL_PRECISION, s),
            DataType::Float32 | DataType::Float64 => DataType::Float64,
            DataType::Duration(u) => DataType::Duration(u),
            DataType::Null => DataType::Int64,
            other => return Err(EngineError::Plan(format!("sum does not accept {other}"))),
        },
        A::Avg => match need()? {
            t if is_integer(&t) => DataType::Float64,
            DataType::Decimal128(p, s) => {
                let Some(DataType::Decimal128(p, s)) =
                    integer_as_decimal(&DataType::Decimal128(p, s))
                else {
                    return Err(EngineError::Internal("decimal type".into()));
                };
                // PostgreSQL's numeric AVG keeps at least 16 significant digits
                // (11.9166666666666667 for 143/12). A column type cannot depend on the data,
                // so the result gets 16 fractional digits, as many as the input's integer
                // digits leave room for in 38, and never fewer than the input's own scale.
                let integer_digits = (p as i8 - s).max(1);
                let scale = AVG_DECIMAL_SCALE
                    .min(MAX_DECIMAL_PRECISION as i8 - integer_digits)
                    .max(s);
                DataType::Decimal128(MAX_DECIMAL_PRECISION, scale)
            }
            DataType::Float32 | DataType::Float64 | DataType::Null => DataType::Float64,
            DataType::Duration(u) => DataType::Duration(u),
            other => return Err(EngineError::Plan(format!("avg does not accept {other}"))),
        },
        A::StdDevSamp | A::StdDevPop | A::VarSamp | A::VarPop | A::Median => match need()? {
            t if is_numeric(&t) || t == DataType::Null => DataType::Float64,
            other => {
                return Err(EngineError::Plan(format!(
                    "{} does not accept {other}",
                    func.name()
                )))
            }
        },
        A::PercentileCont
        | A::Corr
        | A::CovarPop
        | A::CovarSamp
        | A::RegrSlope
        | A::RegrIntercept
        | A::RegrR2 => {
            return Err(EngineError::Internal(format!(
                "{} reached the one-argument types",
                func.name()
            )))
        }
    })
}
