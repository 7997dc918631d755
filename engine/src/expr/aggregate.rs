//! Aggregate functions and the [`AggregateExpr`] node.

use std::fmt;

use super::Expr;

/// Aggregate functions. All skip NULL inputs; over no rows every one returns NULL except
/// `Count`, which returns 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateFunction {
    /// `COUNT(expr)`, or `COUNT(*)` when it has no argument.
    Count,
    Sum,
    /// Float64 for integer and float input; decimal input keeps a decimal result.
    Avg,
    Min,
    Max,
    StdDevSamp,
    StdDevPop,
    VarSamp,
    VarPop,
    /// `percentile_cont(0.5)`: the continuous median, Float64.
    Median,
    /// `percentile_cont(fraction)` (PostgreSQL's, linear interpolation between the two
    /// nearest values). Arguments: the value, then the fraction in `[0, 1]`, a constant.
    PercentileCont,
    /// `corr(y, x)`: Pearson's correlation coefficient.
    Corr,
    /// `covar_pop(y, x)`.
    CovarPop,
    /// `covar_samp(y, x)`.
    CovarSamp,
    /// `regr_slope(y, x)`: the least-squares slope of `y` on `x`.
    RegrSlope,
    /// `regr_intercept(y, x)`: the least-squares intercept of `y` on `x`.
    RegrIntercept,
    /// `regr_r2(y, x)`: the square of the correlation coefficient.
    RegrR2,
    /// `any_value(expr)`: some value of the group (the first row's, NULL included). The
    /// optimizer groups by a primary key with it (`group_by_primary_key`); it is not a Django
    /// aggregate.
    AnyValue,
}

impl AggregateFunction {
    /// The SQL name.
    pub fn name(self) -> &'static str {
        match self {
            AggregateFunction::Count => "count",
            AggregateFunction::Sum => "sum",
            AggregateFunction::Avg => "avg",
            AggregateFunction::Min => "min",
            AggregateFunction::Max => "max",
            AggregateFunction::StdDevSamp => "stddev_samp",
            AggregateFunction::StdDevPop => "stddev_pop",
            AggregateFunction::VarSamp => "var_samp",
            AggregateFunction::VarPop => "var_pop",
            AggregateFunction::Median => "median",
            AggregateFunction::PercentileCont => "percentile_cont",
            AggregateFunction::Corr => "corr",
            AggregateFunction::CovarPop => "covar_pop",
            AggregateFunction::CovarSamp => "covar_samp",
            AggregateFunction::RegrSlope => "regr_slope",
            AggregateFunction::RegrIntercept => "regr_intercept",
            AggregateFunction::RegrR2 => "regr_r2",
            AggregateFunction::AnyValue => "any_value",
        }
    }

    /// How many arguments the function takes at most (`COUNT` also takes none).
    pub fn max_arguments(self) -> usize {
        if self.is_two_argument() {
            2
        } else {
            1
        }
    }

    /// Functions of two arguments: the bivariate statistics (`y`, then `x`) and
    /// `percentile_cont` (the value, then the fraction).
    pub fn is_two_argument(self) -> bool {
        self.is_bivariate() || self == AggregateFunction::PercentileCont
    }

    /// `corr`, the covariances and the `regr_*` family: functions of a pair `(y, x)`.
    pub fn is_bivariate(self) -> bool {
        use AggregateFunction as A;
        matches!(
            self,
            A::Corr | A::CovarPop | A::CovarSamp | A::RegrSlope | A::RegrIntercept | A::RegrR2
        )
    }

    /// Whether the function can run as a window aggregate and with `DISTINCT` (the
    /// statistical ones added for the benchmarks cannot yet).
    pub fn supports_window_and_distinct(self) -> bool {
        !(self.is_two_argument()
            || self == AggregateFunction::Median
            || self == AggregateFunction::AnyValue)
    }
}

/// `func([DISTINCT] args) [FILTER (WHERE filter)]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateExpr {
    pub func: AggregateFunction,
    /// Empty for `COUNT(*)`.
    pub args: Vec<Expr>,
    pub distinct: bool,
    pub filter: Option<Box<Expr>>,
}

impl AggregateExpr {
    /// A plain aggregate call.
    pub fn new(func: AggregateFunction, args: Vec<Expr>) -> AggregateExpr {
        AggregateExpr {
            func,
            args,
            distinct: false,
            filter: None,
        }
    }
}

impl fmt::Display for AggregateExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.func.name())?;
        if self.distinct {
            f.write_str("DISTINCT ")?;
        }
        if self.args.is_empty() {
            f.write_str("*")?;
        }
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{a}")?;
        }
        f.write_str(")")?;
        if let Some(filter) = &self.filter {
            write!(f, " FILTER (WHERE {filter})")?;
        }
        Ok(())
    }
}

impl From<AggregateExpr> for Expr {
    fn from(a: AggregateExpr) -> Expr {
        Expr::Aggregate(a)
    }
}
