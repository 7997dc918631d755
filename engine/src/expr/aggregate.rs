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
        }
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
