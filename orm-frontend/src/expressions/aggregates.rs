//! Aggregates: `Count`, `Sum`, `Avg`, `Min`, `Max`, `StdDev`, `Variance`, with Django's
//! options `distinct`, `filter`, `default` and `output_field`; and the statistics Django
//! leaves to `django.contrib.postgres` or to custom `Aggregate` subclasses: `Median`,
//! `Percentile` (PostgreSQL's `percentile_cont`), `Corr`, `CovarPop` (`.sample(true)` for
//! `covar_samp`, as in `django.contrib.postgres.aggregates.CovarPop(sample=True)`),
//! `RegrSlope`, `RegrIntercept` and `RegrR2`, all `(y, x)` in that order like PostgreSQL's.
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
use super::expression::{canonical_field, cast_to, Expression, IntoArg, Resolved, Value};
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
    Median,
    Percentile,
    Corr,
    CovarPop,
    RegrSlope,
    RegrIntercept,
    RegrR2,
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
            AggregateKind::Median => "Median",
            AggregateKind::Percentile => "Percentile",
            AggregateKind::Corr => "Corr",
            AggregateKind::CovarPop => "CovarPop",
            AggregateKind::RegrSlope => "RegrSlope",
            AggregateKind::RegrIntercept => "RegrIntercept",
            AggregateKind::RegrR2 => "RegrR2",
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
    /// The argument; [`Expression::Star`] for `Count("*")`; `y` for the `(y, x)` statistics.
    pub arg: Box<Expression>,
    /// The second argument: `x` for `Corr`, `CovarPop` and the `Regr*` family, the
    /// fraction for `Percentile`.
    pub second: Option<Box<Expression>>,
    pub distinct: bool,
    pub filter: Option<Q>,
    pub default: Option<Box<Expression>>,
    /// `sample=True` for `StdDev`/`Variance`/`CovarPop`.
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
        second: None,
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

/// An aggregate of two arguments (`y`, then `x` or the fraction).
fn aggregate_of_two(kind: AggregateKind, first: impl IntoArg, second: Expression) -> Expression {
    match aggregate(kind, first) {
        Expression::Aggregate(mut a) => {
            a.second = Some(Box::new(second));
            Expression::Aggregate(a)
        }
        other => other,
    }
}

/// `Median(expression)`: the continuous median (PostgreSQL's
/// `percentile_cont(0.5) WITHIN GROUP (ORDER BY expression)`), a float; NULL over no rows.
#[allow(non_snake_case)]
pub fn Median(arg: impl IntoArg) -> Expression {
    aggregate(AggregateKind::Median, arg)
}

/// `Percentile(expression, fraction)`: PostgreSQL's `percentile_cont(fraction)`, the value
/// below which `fraction` of the rows lie, interpolated between the two nearest values.
/// `fraction` must be between 0 and 1 (`ValueError` otherwise).
#[allow(non_snake_case)]
pub fn Percentile(arg: impl IntoArg, fraction: f64) -> Expression {
    if !(0.0..=1.0).contains(&fraction) {
        return Expression::refused(Error::ValueError(format!(
            "Percentile fraction must be between 0 and 1, got {fraction}."
        )));
    }
    aggregate_of_two(AggregateKind::Percentile, arg, Value(fraction))
}

/// `Corr(y, x)`: Pearson's correlation coefficient of the non-NULL pairs.
#[allow(non_snake_case)]
pub fn Corr(y: impl IntoArg, x: impl IntoArg) -> Expression {
    aggregate_of_two(AggregateKind::Corr, y, x.into_arg())
}

/// `CovarPop(y, x)`: the population covariance (`.sample(true)` for the sample's).
#[allow(non_snake_case)]
pub fn CovarPop(y: impl IntoArg, x: impl IntoArg) -> Expression {
    aggregate_of_two(AggregateKind::CovarPop, y, x.into_arg())
}

/// `CovarSamp(y, x)`: the sample covariance, `CovarPop(y, x).sample(true)`.
#[allow(non_snake_case)]
pub fn CovarSamp(y: impl IntoArg, x: impl IntoArg) -> Expression {
    CovarPop(y, x).sample(true)
}

/// `RegrSlope(y, x)`: the slope of the least-squares line of `y` on `x`.
#[allow(non_snake_case)]
pub fn RegrSlope(y: impl IntoArg, x: impl IntoArg) -> Expression {
    aggregate_of_two(AggregateKind::RegrSlope, y, x.into_arg())
}

/// `RegrIntercept(y, x)`: the intercept of the least-squares line of `y` on `x`.
#[allow(non_snake_case)]
pub fn RegrIntercept(y: impl IntoArg, x: impl IntoArg) -> Expression {
    aggregate_of_two(AggregateKind::RegrIntercept, y, x.into_arg())
}

/// `RegrR2(y, x)`: the coefficient of determination (the squared correlation).
#[allow(non_snake_case)]
pub fn RegrR2(y: impl IntoArg, x: impl IntoArg) -> Expression {
    aggregate_of_two(AggregateKind::RegrR2, y, x.into_arg())
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

    /// `sample=` on `StdDev`/`Variance`/`CovarPop`.
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
    /// (a `filter` counts as a second source, as in Django, so it has none; so does the `x`
    /// of `Corr(y, x)`). `Percentile`'s fraction is a parameter, not a source:
    /// `Percentile("v3", 0.9)` is `v3__percentile`.
    pub fn default_alias(&self) -> Option<String> {
        if self.second.is_some() && self.kind != AggregateKind::Percentile {
            return None;
        }
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
            (AggregateKind::Median, _) => AggregateFunction::Median,
            (AggregateKind::Percentile, _) => AggregateFunction::PercentileCont,
            (AggregateKind::Corr, _) => AggregateFunction::Corr,
            (AggregateKind::CovarPop, false) => AggregateFunction::CovarPop,
            (AggregateKind::CovarPop, true) => AggregateFunction::CovarSamp,
            (AggregateKind::RegrSlope, _) => AggregateFunction::RegrSlope,
            (AggregateKind::RegrIntercept, _) => AggregateFunction::RegrIntercept,
            (AggregateKind::RegrR2, _) => AggregateFunction::RegrR2,
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
        if let Some(second) = &self.second {
            let second = second.resolve_typed(r)?;
            if second.contains_aggregate {
                return Err(Error::FieldError(format!(
                    "Cannot compute {}('{}'): it is an aggregate",
                    self.kind.name(),
                    self.second
                        .as_deref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                )));
            }
            children.push(second);
        }
        let arguments = children.len();
        if let Some(q) = &self.filter {
            let condition = q.resolve(r)?;
            children.push(Resolved::predicate(condition));
        }
        let (func, distinct) = (self.function(), self.distinct);
        let mut out = Resolved::node(children, move |mut a| {
            let filter = (a.len() > arguments).then(|| Box::new(a.remove(a.len() - 1)));
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
            AggregateKind::Avg
            | AggregateKind::StdDev
            | AggregateKind::Variance
            | AggregateKind::Median
            | AggregateKind::Percentile
            | AggregateKind::Corr
            | AggregateKind::CovarPop
            | AggregateKind::RegrSlope
            | AggregateKind::RegrIntercept
            | AggregateKind::RegrR2 => source.map(|_| canonical_field(&resolved.data_type)),
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
        if let Some(second) = &self.second {
            write!(f, ", {second}")?;
        }
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

    #[test]
    fn statistical_aggregates_resolve_and_name_themselves() {
        assert_eq!(show(Median("age")), "median(order.age)");
        assert_eq!(
            show(Percentile("ratio", 0.9)),
            "percentile_cont(order.ratio, 0.9)"
        );
        assert_eq!(show(Corr("ratio", "age")), "corr(order.ratio, order.age)");
        assert_eq!(
            show(CovarPop("ratio", "age")),
            "covar_pop(order.ratio, order.age)"
        );
        assert_eq!(
            show(CovarSamp("ratio", "age")),
            "covar_samp(order.ratio, order.age)"
        );
        assert_eq!(
            show(RegrSlope("ratio", "age")),
            "regr_slope(order.ratio, order.age)"
        );
        assert_eq!(
            show(RegrIntercept("ratio", "age")),
            "regr_intercept(order.ratio, order.age)"
        );
        assert_eq!(
            show(RegrR2("ratio", "age")),
            "regr_r2(order.ratio, order.age)"
        );
        assert_eq!(Median("v3").default_alias().as_deref(), Some("v3__median"));
        assert_eq!(
            Percentile("v3", 0.25).default_alias().as_deref(),
            Some("v3__percentile")
        );
        // Two source expressions: Django's "Complex aggregates require an alias".
        assert_eq!(Corr("v1", "v2").default_alias(), None);
        assert_eq!(Corr("v1", "v2").to_string(), "Corr(F(v1), F(v2))");
        assert!(matches!(Percentile("v3", 1.5), Expression::Invalid(_)));
        assert_eq!(
            show(Median("age").distinct()),
            "TypeError: Median does not allow distinct."
        );
    }
}
