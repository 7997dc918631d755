//! Aggregates: `Count`, `Sum`, `Avg`, `Min`, `Max`, `StdDev`, `Variance`, with Django's
//! options `distinct`, `filter`, `default` and `output_field`.
//!
//! Django's rules reproduced here: `Count("*")` is `COUNT(*)` and refuses a `filter`
//! ("Star cannot be used with filter"); `Count` refuses `default` (it is never NULL);
//! only `Count`, `Sum` and `Avg` accept `distinct`; `default=` is `Coalesce(aggregate,
//! default)` with the default converted to the aggregate's type; `StdDev`/`Variance` are the
//! population statistics unless `.sample(true)`; an aggregate of an aggregate is a
//! `FieldError`. The result names Django gives (`amount__sum`) come from
//! [`Aggregate::default_alias`].

use std::fmt;

use quiver_engine::expr::{AggregateExpr, AggregateFunction, ScalarFunction};
use quiver_engine::Expr;

use super::coercion::{self, Target};
use super::expression::{canonical_field, cast_to, Expression, IntoArg, Resolved};
use super::lookups::call;
use super::q::Q;
use super::resolver::Resolver;
use crate::error::{Error, Result};
use crate::model::FieldType;

/// Which aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateKind {
    Count,
    Sum,
    Avg,
    Min,
    Max,
    StdDev,
    Variance,
}

impl AggregateKind {
    /// Django's class name (`"StdDev"`).
    pub fn name(self) -> &'static str {
        match self {
            AggregateKind::Count => "Count",
            AggregateKind::Sum => "Sum",
            AggregateKind::Avg => "Avg",
            AggregateKind::Min => "Min",
            AggregateKind::Max => "Max",
            AggregateKind::StdDev => "StdDev",
            AggregateKind::Variance => "Variance",
        }
    }

    fn allows_distinct(self) -> bool {
        matches!(
            self,
            AggregateKind::Count | AggregateKind::Sum | AggregateKind::Avg
        )
    }
}

/// An aggregate call as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub kind: AggregateKind,
    /// The argument; [`Expression::Star`] for `Count("*")`.
    pub arg: Box<Expression>,
    pub distinct: bool,
    pub filter: Option<Q>,
    pub default: Option<Box<Expression>>,
    /// `sample=True` for `StdDev`/`Variance`.
    pub sample: bool,
    pub output_field: Option<FieldType>,
}

fn aggregate(kind: AggregateKind, arg: impl IntoArg) -> Expression {
    let arg = match arg.into_arg() {
        Expression::F(name) if name == "*" => Expression::Star,
        other => other,
    };
    Expression::Aggregate(Aggregate {
        kind,
        arg: Box::new(arg),
        distinct: false,
        filter: None,
        default: None,
        sample: false,
        output_field: None,
    })
}

/// `Count(expression)`; `Count("*")` counts rows. Never NULL: 0 over no rows.
#[allow(non_snake_case)]
pub fn Count(arg: impl IntoArg) -> Expression {
    aggregate(AggregateKind::Count, arg)
}

/// `Sum(expression)`: NULL over no rows unless a `default` is given.
#[allow(non_snake_case)]
pub fn Sum(arg: impl IntoArg) -> Expression {
    aggregate(AggregateKind::Sum, arg)
}

/// `Avg(expression)`: a float for integer input, a decimal for decimal input.
#[allow(non_snake_case)]
pub fn Avg(arg: impl IntoArg) -> Expression {
    aggregate(AggregateKind::Avg, arg)
}

/// `Min(expression)`.
#[allow(non_snake_case)]
pub fn Min(arg: impl IntoArg) -> Expression {
    aggregate(AggregateKind::Min, arg)
}

/// `Max(expression)`.
#[allow(non_snake_case)]
pub fn Max(arg: impl IntoArg) -> Expression {
    aggregate(AggregateKind::Max, arg)
}

/// `StdDev(expression)`: population standard deviation (`.sample(true)` for the sample's).
#[allow(non_snake_case)]
pub fn StdDev(arg: impl IntoArg) -> Expression {
    aggregate(AggregateKind::StdDev, arg)
}

/// `Variance(expression)`: population variance (`.sample(true)` for the sample's).
#[allow(non_snake_case)]
pub fn Variance(arg: impl IntoArg) -> Expression {
    aggregate(AggregateKind::Variance, arg)
}

impl Expression {
    /// `distinct=True` on an aggregate.
    pub fn distinct(self) -> Expression {
        self.with_aggregate("distinct", |a| a.distinct = true)
    }

    /// `filter=q` on an aggregate: only rows matching `q` are aggregated
    /// (`FILTER (WHERE …)`).
    pub fn filter(self, q: Q) -> Expression {
        self.with_aggregate("filter", |a| a.filter = Some(q))
    }

    /// `sample=` on `StdDev`/`Variance`.
    pub fn sample(self, sample: bool) -> Expression {
        self.with_aggregate("sample", |a| a.sample = sample)
    }

    fn with_aggregate(self, option: &str, set: impl FnOnce(&mut Aggregate)) -> Expression {
        match self {
            Expression::Aggregate(mut a) => {
                set(&mut a);
                Expression::Aggregate(a)
            }
            Expression::Invalid(e) => Expression::Invalid(e),
            other => Expression::refused(Error::TypeError(format!(
                "{option} is only accepted by aggregates, not {other}"
            ))),
        }
    }
}

impl Aggregate {
    /// Django's `default_alias`: `"<field>__<name>"` when the only source is a plain `F`
    /// (a `filter` counts as a second source, as in Django, so it has none).
    pub fn default_alias(&self) -> Option<String> {
        match (&*self.arg, &self.filter) {
            (Expression::F(name), None) => {
                Some(format!("{name}__{}", self.kind.name().to_lowercase()))
            }
            _ => None,
        }
    }

    fn function(&self) -> AggregateFunction {
        match (self.kind, self.sample) {
            (AggregateKind::Count, _) => AggregateFunction::Count,
            (AggregateKind::Sum, _) => AggregateFunction::Sum,
            (AggregateKind::Avg, _) => AggregateFunction::Avg,
            (AggregateKind::Min, _) => AggregateFunction::Min,
            (AggregateKind::Max, _) => AggregateFunction::Max,
            (AggregateKind::StdDev, false) => AggregateFunction::StdDevPop,
            (AggregateKind::StdDev, true) => AggregateFunction::StdDevSamp,
            (AggregateKind::Variance, false) => AggregateFunction::VarPop,
            (AggregateKind::Variance, true) => AggregateFunction::VarSamp,
        }
    }

    /// Django's checks made when an aggregate is constructed.
    fn validate(&self) -> Result<()> {
        let name = self.kind.name();
        if self.distinct && !self.kind.allows_distinct() {
            return Err(Error::TypeError(format!("{name} does not allow distinct.")));
        }
        if self.kind == AggregateKind::Count && self.default.is_some() {
            return Err(Error::TypeError(
                "Count does not allow default.".to_string(),
            ));
        }
        if matches!(*self.arg, Expression::Star) {
            if self.kind != AggregateKind::Count {
                return Err(Error::TypeError(format!(
                    "{name}('*') is not valid; only Count accepts '*'."
                )));
            }
            if self.filter.is_some() {
                return Err(Error::ValueError(
                    "Star cannot be used with filter. Please specify a field.".to_string(),
                ));
            }
            if self.distinct {
                return Err(Error::ValueError(
                    "Star cannot be used with distinct. Please specify a field.".to_string(),
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn resolve_typed(&self, r: &mut dyn Resolver) -> Result<Resolved> {
        self.validate()?;
        let mut children = Vec::new();
        let mut source_field = Ok(None);
        if !matches!(*self.arg, Expression::Star) {
            let arg = self.arg.resolve_typed(r)?;
            if arg.contains_aggregate {
                let name = match &*self.arg {
                    Expression::F(name) => name.clone(),
                    other => other.to_string(),
                };
                return Err(Error::FieldError(format!(
                    "Cannot compute {}('{name}'): '{name}' is an aggregate",
                    self.kind.name()
                )));
            }
            source_field = arg.output_field.clone();
            children.push(arg);
        }
        let has_arg = !children.is_empty();
        if let Some(q) = &self.filter {
            let condition = q.resolve(r)?;
            children.push(Resolved::predicate(condition));
        }
        let (func, distinct) = (self.function(), self.distinct);
        let mut out = Resolved::node(children, move |mut a| {
            let filter = (a.len() > usize::from(has_arg)).then(|| Box::new(a.remove(a.len() - 1)));
            Expr::Aggregate(AggregateExpr {
                func,
                args: a,
                distinct,
                filter,
            })
        })?;
        out.contains_aggregate = true;
        out.output_field = self.output_field_from(source_field, &out);
        if let Some(field) = &self.output_field {
            out = cast_to(out, field.clone());
        }
        match &self.default {
            Some(default) => with_default(out, default, r),
            None => Ok(out),
        }
    }

    /// The field Django infers: `Count` an integer; `Sum`/`Min`/`Max` their source's;
    /// `Avg`/`StdDev`/`Variance` the kind of their numeric result.
    fn output_field_from(
        &self,
        source: Result<Option<FieldType>>,
        resolved: &Resolved,
    ) -> Result<Option<FieldType>> {
        match self.kind {
            AggregateKind::Count => Ok(Some(FieldType::IntegerField)),
            AggregateKind::Sum | AggregateKind::Min | AggregateKind::Max => source,
            AggregateKind::Avg | AggregateKind::StdDev | AggregateKind::Variance => {
                source.map(|_| canonical_field(&resolved.data_type))
            }
        }
    }
}

/// `default=`: `Coalesce(aggregate, default)`, the default converted to the aggregate's
/// type as Django's `Value(default, output_field=aggregate.output_field)` is.
fn with_default(
    aggregate: Resolved,
    default: &Expression,
    r: &mut dyn Resolver,
) -> Result<Resolved> {
    let fallback = match default.direct_value() {
        Some(value) => {
            let target = Target::new(&aggregate.data_type, None, None, true);
            Resolved::literal(coercion::prepare(&target, value)?.value)
        }
        None => default.resolve_typed(r)?,
    };
    let output_field = aggregate.output_field.clone();
    let mut out = Resolved::node(vec![aggregate, fallback], |a| {
        call(ScalarFunction::Coalesce, a)
    })?;
    out.output_field = output_field;
    Ok(out)
}

impl fmt::Display for Aggregate {
    /// Django's repr: `Sum(F(amount), distinct=True)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({}", self.kind.name(), self.arg)?;
        if self.distinct {
            f.write_str(", distinct=True")?;
        }
        if let Some(q) = &self.filter {
            write!(f, ", filter={q}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::DataType;

    use super::*;
    use crate::expressions::expression::tests::{show, typed};
    use crate::expressions::{dec, Value, F};
    use crate::model::{DecimalField, FloatField};

    #[test]
    fn aggregates_resolve_to_engine_calls() {
        assert_eq!(show(Count("*")), "count(*)");
        assert_eq!(show(Count("id")), "count(order.id)");
        assert_eq!(
            show(Count("region").distinct()),
            "count(DISTINCT order.region)"
        );
        assert_eq!(show(Sum("amount")), "sum(order.amount)");
        assert_eq!(show(Avg("age")), "avg(order.age)");
        assert_eq!(show(Min("created")), "min(order.created)");
        assert_eq!(show(Max("customer__name")), "max(customer.name)");
        assert_eq!(show(StdDev("age")), "stddev_pop(order.age)");
        assert_eq!(show(StdDev("age").sample(true)), "stddev_samp(order.age)");
        assert_eq!(show(Variance("ratio")), "var_pop(order.ratio)");
        assert_eq!(
            show(Variance("ratio").sample(true)),
            "var_samp(order.ratio)"
        );
        assert_eq!(
            show(Sum(F("amount") * F("age"))),
            "sum((order.amount * order.age))"
        );
    }

    #[test]
    fn filter_and_default() {
        assert_eq!(
            show(Count("id").filter(crate::q!(status = "paid"))),
            "count(order.id) FILTER (WHERE (order.status = 'paid'))"
        );
        assert_eq!(
            show(Sum("amount").filter(!crate::q!(region = "EU"))),
            "sum(order.amount) FILTER (WHERE NOT ((order.region = 'EU') AND order.region IS NOT NULL))"
        );
        assert_eq!(show(Sum("age").default(0)), "coalesce(sum(order.age), 0)");
        // The default takes the aggregate's type (Decimal(38, 2) here).
        assert_eq!(
            show(Sum("amount").default(0)),
            "coalesce(sum(order.amount), 0)"
        );
        let with_default = typed(Sum("amount").default(0));
        assert_eq!(with_default.data_type, DataType::Decimal128(38, 2));
        assert!(!with_default.nullable);
        assert_eq!(
            show(Sum("amount").default(dec("1.5"))),
            "coalesce(sum(order.amount), 1.5)"
        );
        assert_eq!(
            show(Max("region").default("none")),
            "coalesce(max(order.region), 'none')"
        );
        assert_eq!(
            show(Max("age").default(F("score"))),
            "coalesce(max(order.age), order.score)"
        );
    }

    #[test]
    fn djangos_construction_errors() {
        assert_eq!(
            show(Count("*").filter(crate::q!(age__gt = 1))),
            "ValueError: Star cannot be used with filter. Please specify a field."
        );
        assert_eq!(
            show(Count("id").default(0)),
            "TypeError: Count does not allow default."
        );
        assert_eq!(
            show(Max("age").distinct()),
            "TypeError: Max does not allow distinct."
        );
        assert_eq!(
            show(StdDev("age").distinct()),
            "TypeError: StdDev does not allow distinct."
        );
        assert_eq!(
            show(F("age").distinct()),
            "TypeError: distinct is only accepted by aggregates, not F(age)"
        );
        assert_eq!(
            show(Sum("total")),
            "FieldError: Cannot compute Sum('total'): 'total' is an aggregate"
        );
        assert_eq!(
            show(Avg(Count("id"))),
            "FieldError: Cannot compute Avg('Count(F(id))'): 'Count(F(id))' is an aggregate"
        );
    }

    #[test]
    fn result_types() {
        assert_eq!(typed(Avg("age")).data_type, DataType::Float64);
        assert_eq!(typed(Avg("amount")).data_type, DataType::Decimal128(38, 16));
        assert_eq!(typed(Count("id")).data_type, DataType::Int64);
        assert!(!typed(Count("id")).nullable);
        assert!(typed(Sum("age")).nullable);
        assert_eq!(
            typed(Sum("amount")).output_field.unwrap(),
            Some(FieldType::DecimalField {
                max_digits: 10,
                decimal_places: 2
            })
        );
        assert_eq!(
            typed(Count("id")).output_field.unwrap(),
            Some(FieldType::IntegerField)
        );
        assert_eq!(
            show(Avg("age").output_field(DecimalField::new(10, 2))),
            "CAST(avg(order.age) AS Decimal128(10, 2))"
        );
        assert_eq!(
            show(Sum("ratio").output_field(FloatField::new())),
            "sum(order.ratio)"
        );
        // Output field and default together: the default is converted to the declared type.
        assert_eq!(
            show(Sum("age").output_field(FloatField::new()).default(0)),
            "coalesce(CAST(sum(order.age) AS Float64), 0)"
        );
        assert!(typed(Sum("age") + Value(1)).contains_aggregate);
    }

    #[test]
    fn default_alias_is_djangos() {
        assert_eq!(Count("id").default_alias().as_deref(), Some("id__count"));
        assert_eq!(
            StdDev("age").default_alias().as_deref(),
            Some("age__stddev")
        );
        assert_eq!(
            Variance("age").default_alias().as_deref(),
            Some("age__variance")
        );
        assert_eq!(
            Avg("customer__age").default_alias().as_deref(),
            Some("customer__age__avg")
        );
        assert_eq!(
            Sum("amount").default(0).default_alias().as_deref(),
            Some("amount__sum")
        );
        assert_eq!(Count("*").default_alias(), None);
        assert_eq!(Sum(F("a") + 1).default_alias(), None);
        assert_eq!(Count("id").filter(crate::q!(age = 1)).default_alias(), None);
    }
}
