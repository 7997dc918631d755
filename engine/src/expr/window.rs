//! Window functions: [`WindowFunction`] calls, their frames and their result types.
//!
//! A window function is an expression whose value for a row depends on other rows of the same
//! *partition* (rows with equal `partition_by` values), seen in `order_by` order and limited to
//! a *frame* around the row. It is an [`Expr`] node so it can be resolved, typed, displayed and
//! rendered as SQL like any other expression, but only the `Window` plan node evaluates it:
//! everywhere else it is read as a column of that node's output. The frame rules are
//! PostgreSQL's: with `ORDER BY` and no frame the frame is `RANGE BETWEEN UNBOUNDED PRECEDING
//! AND CURRENT ROW` (which includes the current row's peers); without `ORDER BY` every row of
//! the partition is a peer, so the frame is the whole partition.

use std::fmt;

use arrow::datatypes::DataType;

use super::type_coercion::{comparison_common_type, value_type};
use super::{aggregate_type, AggregateFunction, Expr, SortExpr};
use crate::error::{EngineError, Result};
use crate::logical_plan::PlanSchema;

/// What a window function computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowFunctionKind {
    /// An aggregate over the frame (`sum(x) OVER (...)`).
    Aggregate(AggregateFunction),
    RowNumber,
    Rank,
    DenseRank,
    PercentRank,
    CumeDist,
    /// `ntile(n)`: bucket 1..=n, the first `rows % n` buckets one row larger.
    Ntile,
    /// `lag(value [, offset [, default]])`.
    Lag,
    /// `lead(value [, offset [, default]])`.
    Lead,
    FirstValue,
    LastValue,
    /// `nth_value(value, n)`, 1-based, within the frame.
    NthValue,
}

impl WindowFunctionKind {
    /// The SQL name.
    pub fn name(self) -> &'static str {
        match self {
            WindowFunctionKind::Aggregate(a) => a.name(),
            WindowFunctionKind::RowNumber => "row_number",
            WindowFunctionKind::Rank => "rank",
            WindowFunctionKind::DenseRank => "dense_rank",
            WindowFunctionKind::PercentRank => "percent_rank",
            WindowFunctionKind::CumeDist => "cume_dist",
            WindowFunctionKind::Ntile => "ntile",
            WindowFunctionKind::Lag => "lag",
            WindowFunctionKind::Lead => "lead",
            WindowFunctionKind::FirstValue => "first_value",
            WindowFunctionKind::LastValue => "last_value",
            WindowFunctionKind::NthValue => "nth_value",
        }
    }

    /// Whether the function looks at the frame (aggregates and the value functions); ranking
    /// functions and lag/lead ignore it, as in PostgreSQL.
    pub fn uses_frame(self) -> bool {
        matches!(
            self,
            WindowFunctionKind::Aggregate(_)
                | WindowFunctionKind::FirstValue
                | WindowFunctionKind::LastValue
                | WindowFunctionKind::NthValue
        )
    }

    /// Whether the function is a ranking function (its value depends only on the peer groups).
    pub fn is_ranking(self) -> bool {
        matches!(
            self,
            WindowFunctionKind::RowNumber
                | WindowFunctionKind::Rank
                | WindowFunctionKind::DenseRank
                | WindowFunctionKind::PercentRank
                | WindowFunctionKind::CumeDist
                | WindowFunctionKind::Ntile
        )
    }
}

/// How frame offsets count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowFrameUnits {
    /// Physical rows.
    Rows,
    /// Values of the (single) ORDER BY key; peers are always together.
    Range,
    /// Peer groups.
    Groups,
}

impl WindowFrameUnits {
    /// The SQL keyword.
    pub fn sql(self) -> &'static str {
        match self {
            WindowFrameUnits::Rows => "ROWS",
            WindowFrameUnits::Range => "RANGE",
            WindowFrameUnits::Groups => "GROUPS",
        }
    }
}

/// One end of a frame. Offsets are non-negative; direction is in the variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowFrameBound {
    UnboundedPreceding,
    Preceding(u64),
    CurrentRow,
    Following(u64),
    UnboundedFollowing,
}

impl WindowFrameBound {
    /// Position on a line from UNBOUNDED PRECEDING to UNBOUNDED FOLLOWING, for validation.
    fn rank(self) -> i128 {
        match self {
            WindowFrameBound::UnboundedPreceding => i128::MIN,
            WindowFrameBound::Preceding(n) => -(n as i128),
            WindowFrameBound::CurrentRow => 0,
            WindowFrameBound::Following(n) => n as i128,
            WindowFrameBound::UnboundedFollowing => i128::MAX,
        }
    }
}

impl fmt::Display for WindowFrameBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowFrameBound::UnboundedPreceding => f.write_str("UNBOUNDED PRECEDING"),
            WindowFrameBound::Preceding(n) => write!(f, "{n} PRECEDING"),
            WindowFrameBound::CurrentRow => f.write_str("CURRENT ROW"),
            WindowFrameBound::Following(n) => write!(f, "{n} FOLLOWING"),
            WindowFrameBound::UnboundedFollowing => f.write_str("UNBOUNDED FOLLOWING"),
        }
    }
}

/// Which rows of the frame around the current row are left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WindowFrameExclusion {
    #[default]
    NoOthers,
    CurrentRow,
    /// The current row and its peers.
    Group,
    /// The current row's peers but not the row itself.
    Ties,
}

impl WindowFrameExclusion {
    /// The SQL clause (`EXCLUDE CURRENT ROW`).
    pub fn sql(self) -> &'static str {
        match self {
            WindowFrameExclusion::NoOthers => "EXCLUDE NO OTHERS",
            WindowFrameExclusion::CurrentRow => "EXCLUDE CURRENT ROW",
            WindowFrameExclusion::Group => "EXCLUDE GROUP",
            WindowFrameExclusion::Ties => "EXCLUDE TIES",
        }
    }
}

/// `units BETWEEN start AND end [EXCLUDE …]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowFrame {
    pub units: WindowFrameUnits,
    pub start: WindowFrameBound,
    pub end: WindowFrameBound,
    pub exclusion: WindowFrameExclusion,
}

impl WindowFrame {
    /// A frame without exclusion.
    pub fn new(units: WindowFrameUnits, start: WindowFrameBound, end: WindowFrameBound) -> Self {
        WindowFrame {
            units,
            start,
            end,
            exclusion: WindowFrameExclusion::NoOthers,
        }
    }

    /// The frame PostgreSQL uses when none is given: up to the current row's last peer with
    /// an ORDER BY, the whole partition without one (every row is then a peer).
    pub fn default_for(has_order_by: bool) -> WindowFrame {
        WindowFrame::new(
            WindowFrameUnits::Range,
            WindowFrameBound::UnboundedPreceding,
            if has_order_by {
                WindowFrameBound::CurrentRow
            } else {
                WindowFrameBound::UnboundedFollowing
            },
        )
    }

    /// Checks what PostgreSQL checks: the start may not be UNBOUNDED FOLLOWING, the end may
    /// not be UNBOUNDED PRECEDING, the start may not come after the end's kind of bound, and
    /// a RANGE offset needs exactly one ORDER BY key (GROUPS needs one at all).
    pub fn validate(&self, order_by_len: usize) -> Result<()> {
        if self.start == WindowFrameBound::UnboundedFollowing {
            return Err(EngineError::Plan(
                "frame start cannot be UNBOUNDED FOLLOWING".into(),
            ));
        }
        if self.end == WindowFrameBound::UnboundedPreceding {
            return Err(EngineError::Plan(
                "frame end cannot be UNBOUNDED PRECEDING".into(),
            ));
        }
        let kind = |b: WindowFrameBound| match b {
            WindowFrameBound::UnboundedPreceding | WindowFrameBound::Preceding(_) => 0,
            WindowFrameBound::CurrentRow => 1,
            _ => 2,
        };
        if kind(self.start) > kind(self.end) {
            return Err(EngineError::Plan(format!(
                "frame starting from {} cannot end with {}",
                self.start, self.end
            )));
        }
        let has_offset = matches!(
            self.start,
            WindowFrameBound::Preceding(_) | WindowFrameBound::Following(_)
        ) || matches!(
            self.end,
            WindowFrameBound::Preceding(_) | WindowFrameBound::Following(_)
        );
        if self.units == WindowFrameUnits::Range && has_offset && order_by_len != 1 {
            return Err(EngineError::Plan(
                "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column".into(),
            ));
        }
        if self.units == WindowFrameUnits::Groups && order_by_len == 0 {
            return Err(EngineError::Plan(
                "GROUPS mode requires an ORDER BY clause".into(),
            ));
        }
        Ok(())
    }

    /// Whether the frame can never hold a row (start after end on the same axis).
    pub fn is_statically_empty(&self) -> bool {
        self.start.rank() > self.end.rank()
    }
}

impl fmt::Display for WindowFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} BETWEEN {} AND {}",
            self.units.sql(),
            self.start,
            self.end
        )?;
        if self.exclusion != WindowFrameExclusion::NoOthers {
            write!(f, " {}", self.exclusion.sql())?;
        }
        Ok(())
    }
}

/// `fun(args) OVER (PARTITION BY … ORDER BY … frame)`.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowFunction {
    pub fun: WindowFunctionKind,
    /// Empty for `count(*)` and the ranking functions (but `ntile(n)`'s bucket count).
    pub args: Vec<Expr>,
    pub partition_by: Vec<Expr>,
    pub order_by: Vec<SortExpr>,
    /// `None`: PostgreSQL's default frame ([`WindowFrame::default_for`]).
    pub frame: Option<WindowFrame>,
}

impl WindowFunction {
    /// A call with no partitioning, ordering or frame.
    pub fn new(fun: WindowFunctionKind, args: Vec<Expr>) -> WindowFunction {
        WindowFunction {
            fun,
            args,
            partition_by: vec![],
            order_by: vec![],
            frame: None,
        }
    }

    /// The frame this call uses (the explicit one or the default).
    pub fn effective_frame(&self) -> WindowFrame {
        self.frame
            .unwrap_or_else(|| WindowFrame::default_for(!self.order_by.is_empty()))
    }

    /// The result type over rows of `schema`, validating the call.
    pub fn data_type(&self, schema: &PlanSchema) -> Result<DataType> {
        if let Some(frame) = &self.frame {
            frame.validate(self.order_by.len())?;
        }
        for e in self
            .partition_by
            .iter()
            .chain(self.order_by.iter().map(|s| &s.expr))
        {
            e.data_type(schema)?;
        }
        let arg = |i: usize| -> Result<DataType> {
            match self.args.get(i) {
                Some(e) => Ok(value_type(&e.data_type(schema)?).clone()),
                None => Err(EngineError::Plan(format!(
                    "{} needs at least {} argument(s)",
                    self.fun.name(),
                    i + 1
                ))),
            }
        };
        use WindowFunctionKind as K;
        Ok(match self.fun {
            K::Aggregate(func) => {
                if !func.supports_window_and_distinct() {
                    return Err(EngineError::Plan(format!(
                        "{} is not supported as a window function",
                        func.name()
                    )));
                }
                let types = (0..self.args.len()).map(arg).collect::<Result<Vec<_>>>()?;
                aggregate_type(func, &types)?
            }
            K::RowNumber | K::Rank | K::DenseRank => DataType::Int64,
            K::Ntile => {
                let t = arg(0)?;
                if !super::type_coercion::is_integer(&t) {
                    return Err(EngineError::Plan(format!(
                        "ntile needs an integer bucket count, got {t}"
                    )));
                }
                DataType::Int64
            }
            K::PercentRank | K::CumeDist => DataType::Float64,
            K::Lag | K::Lead => {
                let value = arg(0)?;
                if let Some(offset) = self.args.get(1) {
                    let t = offset.data_type(schema)?;
                    if !super::type_coercion::is_integer(&t) {
                        return Err(EngineError::Plan(format!(
                            "{} needs an integer offset, got {t}",
                            self.fun.name()
                        )));
                    }
                }
                match self.args.get(2) {
                    Some(default) => {
                        let d = default.data_type(schema)?;
                        comparison_common_type(&value, &d).ok_or_else(|| {
                            EngineError::Plan(format!(
                                "{} default of type {d} does not match {value}",
                                self.fun.name()
                            ))
                        })?
                    }
                    None => value,
                }
            }
            K::FirstValue | K::LastValue => arg(0)?,
            K::NthValue => {
                let n = arg(1)?;
                if !super::type_coercion::is_integer(&n) {
                    return Err(EngineError::Plan(format!(
                        "nth_value needs an integer position, got {n}"
                    )));
                }
                arg(0)?
            }
        })
    }

    /// Whether the result can be NULL.
    pub fn nullable(&self) -> bool {
        !matches!(
            self.fun,
            WindowFunctionKind::Aggregate(AggregateFunction::Count)
                | WindowFunctionKind::RowNumber
                | WindowFunctionKind::Rank
                | WindowFunctionKind::DenseRank
                | WindowFunctionKind::PercentRank
                | WindowFunctionKind::CumeDist
                | WindowFunctionKind::Ntile
        )
    }
}

impl fmt::Display for WindowFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.fun.name())?;
        if self.args.is_empty()
            && self.fun == WindowFunctionKind::Aggregate(AggregateFunction::Count)
        {
            f.write_str("*")?;
        }
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{a}")?;
        }
        f.write_str(") OVER (")?;
        let mut parts = Vec::new();
        if !self.partition_by.is_empty() {
            let keys: Vec<String> = self.partition_by.iter().map(ToString::to_string).collect();
            parts.push(format!("PARTITION BY {}", keys.join(", ")));
        }
        if !self.order_by.is_empty() {
            let keys: Vec<String> = self.order_by.iter().map(ToString::to_string).collect();
            parts.push(format!("ORDER BY {}", keys.join(", ")));
        }
        if let Some(frame) = &self.frame {
            parts.push(frame.to_string());
        }
        write!(f, "{})", parts.join(" "))
    }
}

impl From<WindowFunction> for Expr {
    fn from(w: WindowFunction) -> Expr {
        Expr::WindowFunction(Box::new(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::col;

    #[test]
    fn frames_are_validated_like_postgresql() {
        use WindowFrameBound as B;
        let frame = |units, start, end| WindowFrame::new(units, start, end);
        assert!(
            frame(WindowFrameUnits::Rows, B::Preceding(2), B::Following(1))
                .validate(0)
                .is_ok()
        );
        assert!(
            frame(WindowFrameUnits::Rows, B::UnboundedFollowing, B::CurrentRow)
                .validate(1)
                .is_err()
        );
        assert!(
            frame(WindowFrameUnits::Rows, B::CurrentRow, B::Preceding(1))
                .validate(1)
                .is_err()
        );
        assert!(
            frame(WindowFrameUnits::Range, B::Preceding(1), B::CurrentRow)
                .validate(2)
                .is_err()
        );
        assert!(
            frame(WindowFrameUnits::Range, B::Preceding(1), B::CurrentRow)
                .validate(1)
                .is_ok()
        );
        assert!(
            frame(WindowFrameUnits::Rows, B::Following(3), B::Following(1)).is_statically_empty()
        );
    }

    #[test]
    fn displays_as_sql() {
        let mut w = WindowFunction::new(
            WindowFunctionKind::Aggregate(AggregateFunction::Sum),
            vec![col("x")],
        );
        w.partition_by = vec![col("g")];
        w.order_by = vec![col("t").sort_desc()];
        w.frame = Some(WindowFrame {
            exclusion: WindowFrameExclusion::Ties,
            ..WindowFrame::new(
                WindowFrameUnits::Rows,
                WindowFrameBound::Preceding(1),
                WindowFrameBound::CurrentRow,
            )
        });
        assert_eq!(
            Expr::from(w).to_string(),
            "sum(x) OVER (PARTITION BY g ORDER BY t DESC NULLS FIRST \
             ROWS BETWEEN 1 PRECEDING AND CURRENT ROW EXCLUDE TIES)"
        );
    }
}
