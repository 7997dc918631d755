//! Django's window expressions: `Window(expression, partition_by=, order_by=, frame=)`, the
//! window functions (`RowNumber`, `Rank`, `DenseRank`, `PercentRank`, `CumeDist`, `Ntile`,
//! `Lag`, `Lead`, `FirstValue`, `LastValue`, `NthValue`) and the frames `RowRange` /
//! `ValueRange` with `exclusion`.
//!
//! In Rust the keyword arguments are builder methods on the expression `Window(...)`
//! returns: `Window(Rank()).partition_by(["country"]).order_by(["-score"])`. Django's checks
//! are reproduced where Django makes them, with its messages: a non-window expression in
//! `Window` ("Expression 'F' isn't compatible with OVER clauses."), offsets and bucket counts
//! that are not positive, and frames whose bounds are invalid (`ValueError`, raised when the
//! QuerySet is evaluated, as Django raises it when compiling). Any aggregate is a window
//! aggregate; its `filter=` becomes a `CASE` inside the call (`SUM(x) FILTER (WHERE c)` and
//! `SUM(CASE WHEN c THEN x END)` are the same over any frame). A window resolves to an engine
//! [`WindowFunction`](quiver_engine::expr::WindowFunction) expression; the compiler computes
//! it in a `Window` plan node (`queryset/window.rs`).

use std::fmt;

use quiver_engine::expr::{
    AggregateExpr, Case as EngineCase, Transformed, WindowFrame as EngineFrame, WindowFrameBound,
    WindowFrameExclusion as EngineExclusion, WindowFrameUnits, WindowFunction as EngineWindow,
    WindowFunctionKind,
};
use quiver_engine::{Expr, ScalarValue, SortExpr};

use super::coercion::{self, Target};
use super::expression::{canonical_field, Expression, IntoArg, OrderBy, Resolved, F};
use super::resolver::Resolver;
use crate::error::{Error, Result};
use crate::model::FieldType;
use crate::queryset::OrderItem;

/// A window function as written (`Rank()`, `Lag("x").offset(2)`); only valid inside
/// [`Window`](struct@Window).
#[derive(Debug, Clone, PartialEq)]
pub struct WindowFunc {
    pub kind: WindowFunctionKind,
    /// The value argument of lag/lead/first/last/nth_value.
    pub expression: Option<Box<Expression>>,
    /// Lag/Lead offset, NthValue position, Ntile bucket count.
    pub number: i64,
    /// Lag/Lead default.
    pub default: Option<Box<Expression>>,
}

impl WindowFunc {
    /// Django's class name.
    pub fn name(&self) -> &'static str {
        match self.kind {
            WindowFunctionKind::RowNumber => "RowNumber",
            WindowFunctionKind::Rank => "Rank",
            WindowFunctionKind::DenseRank => "DenseRank",
            WindowFunctionKind::PercentRank => "PercentRank",
            WindowFunctionKind::CumeDist => "CumeDist",
            WindowFunctionKind::Ntile => "Ntile",
            WindowFunctionKind::Lag => "Lag",
            WindowFunctionKind::Lead => "Lead",
            WindowFunctionKind::FirstValue => "FirstValue",
            WindowFunctionKind::LastValue => "LastValue",
            WindowFunctionKind::NthValue => "NthValue",
            WindowFunctionKind::Aggregate(_) => "Aggregate",
        }
    }

    fn check(&self) -> Result<()> {
        let name = self.name();
        match self.kind {
            WindowFunctionKind::Lag | WindowFunctionKind::Lead if self.number <= 0 => {
                Err(Error::ValueError(format!(
                    "{name} requires a positive integer for the offset."
                )))
            }
            WindowFunctionKind::NthValue if self.number <= 0 => Err(Error::ValueError(format!(
                "{name} requires a positive integer as for nth."
            ))),
            WindowFunctionKind::Ntile if self.number <= 0 => Err(Error::ValueError(
                "num_buckets must be greater than 0.".to_string(),
            )),
            _ => Ok(()),
        }
    }

    /// The call with empty OVER (), and its Django output field.
    fn resolve_typed(&self, r: &mut dyn Resolver) -> Result<Resolved> {
        self.check()?;
        let number = Resolved::literal(ScalarValue::Int64(Some(self.number)));
        let kind = self.kind;
        let call = move |args: Vec<Expr>| EngineWindow::new(kind, args).into();
        match self.kind {
            WindowFunctionKind::RowNumber
            | WindowFunctionKind::Rank
            | WindowFunctionKind::DenseRank => Resolved::node(vec![], call),
            WindowFunctionKind::PercentRank | WindowFunctionKind::CumeDist => {
                Resolved::node(vec![], call)
            }
            WindowFunctionKind::Ntile => Resolved::node(vec![number], call),
            _ => {
                let Some(expression) = &self.expression else {
                    return Err(Error::TypeError(format!(
                        "{} requires a source expression.",
                        self.name()
                    )));
                };
                let value = expression.resolve_typed(r)?;
                let output_field = value.output_field.clone();
                let mut children = vec![value.clone()];
                match self.kind {
                    WindowFunctionKind::Lag | WindowFunctionKind::Lead => {
                        children.push(number);
                        if let Some(default) = &self.default {
                            // Django types the default as the value's field.
                            let default = match default.direct_value() {
                                Some(v) => {
                                    let target = Target::new(&value.data_type, None, None, true);
                                    Resolved::literal(coercion::prepare(&target, v)?.value)
                                }
                                None => default.resolve_typed(r)?,
                            };
                            children.push(default);
                        }
                    }
                    WindowFunctionKind::NthValue => children.push(number),
                    _ => {}
                }
                let mut out = Resolved::node(children, call)?;
                out.output_field = output_field;
                Ok(out)
            }
        }
    }
}

impl fmt::Display for WindowFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.name())?;
        if let Some(e) = &self.expression {
            write!(f, "{e}")?;
        }
        f.write_str(")")
    }
}

fn window_function(
    kind: WindowFunctionKind,
    expression: Option<Expression>,
    number: i64,
) -> Expression {
    Expression::WindowFunc(WindowFunc {
        kind,
        expression: expression.map(Box::new),
        number,
        default: None,
    })
}

/// `RowNumber()`: 1, 2, 3, … within the partition.
#[allow(non_snake_case)]
pub fn RowNumber() -> Expression {
    window_function(WindowFunctionKind::RowNumber, None, 0)
}

/// `Rank()`: peers share a rank; gaps follow ties.
#[allow(non_snake_case)]
pub fn Rank() -> Expression {
    window_function(WindowFunctionKind::Rank, None, 0)
}

/// `DenseRank()`: peers share a rank; no gaps.
#[allow(non_snake_case)]
pub fn DenseRank() -> Expression {
    window_function(WindowFunctionKind::DenseRank, None, 0)
}

/// `PercentRank()`: `(rank - 1) / (rows - 1)`.
#[allow(non_snake_case)]
pub fn PercentRank() -> Expression {
    window_function(WindowFunctionKind::PercentRank, None, 0)
}

/// `CumeDist()`: rows up to the current row's last peer / rows.
#[allow(non_snake_case)]
pub fn CumeDist() -> Expression {
    window_function(WindowFunctionKind::CumeDist, None, 0)
}

/// `Ntile(num_buckets)`.
#[allow(non_snake_case)]
pub fn Ntile(num_buckets: i64) -> Expression {
    window_function(WindowFunctionKind::Ntile, None, num_buckets)
}

/// `Lag(expression)`; `.offset(n)` and `.default(value)` are Django's `offset=`/`default=`.
#[allow(non_snake_case)]
pub fn Lag(expression: impl IntoArg) -> Expression {
    window_function(WindowFunctionKind::Lag, Some(expression.into_arg()), 1)
}

/// `Lead(expression)`; `.offset(n)` and `.default(value)` as for [`Lag`].
#[allow(non_snake_case)]
pub fn Lead(expression: impl IntoArg) -> Expression {
    window_function(WindowFunctionKind::Lead, Some(expression.into_arg()), 1)
}

/// `FirstValue(expression)`: the value at the frame's first row.
#[allow(non_snake_case)]
pub fn FirstValue(expression: impl IntoArg) -> Expression {
    window_function(
        WindowFunctionKind::FirstValue,
        Some(expression.into_arg()),
        0,
    )
}

/// `LastValue(expression)`: the value at the frame's last row (the current row's last peer
/// with the default frame).
#[allow(non_snake_case)]
pub fn LastValue(expression: impl IntoArg) -> Expression {
    window_function(
        WindowFunctionKind::LastValue,
        Some(expression.into_arg()),
        0,
    )
}

/// `NthValue(expression, nth)`: NULL when the frame has fewer rows.
#[allow(non_snake_case)]
pub fn NthValue(expression: impl IntoArg, nth: i64) -> Expression {
    window_function(
        WindowFunctionKind::NthValue,
        Some(expression.into_arg()),
        nth,
    )
}

/// Django's `WindowFrameExclusion`.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowFrameExclusion {
    CURRENT_ROW,
    GROUP,
    TIES,
    NO_OTHERS,
}

/// `RowRange(start, end)` / `ValueRange(start, end)`: negative is PRECEDING, 0 CURRENT ROW,
/// positive FOLLOWING, `None` UNBOUNDED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub units: WindowFrameUnits,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub exclusion: Option<WindowFrameExclusion>,
}

impl Frame {
    /// `exclusion=`.
    pub fn exclusion(mut self, exclusion: WindowFrameExclusion) -> Frame {
        self.exclusion = Some(exclusion);
        self
    }

    /// Django's `window_frame_rows_start_end` / `window_frame_range_start_end` checks, then
    /// the engine's frame.
    fn to_engine(self) -> Result<EngineFrame> {
        if self.units == WindowFrameUnits::Range {
            if let Some(start) = self.start.filter(|s| *s > 0) {
                return Err(Error::ValueError(format!(
                    "start argument must be a negative integer, zero, or None, but got '{start}'."
                )));
            }
            if let Some(end) = self.end.filter(|e| *e < 0) {
                return Err(Error::ValueError(format!(
                    "end argument must be a positive integer, zero, or None, but got '{end}'."
                )));
            }
        }
        if let (Some(start), Some(end)) = (self.start, self.end) {
            if start > end {
                return Err(Error::ValueError(
                    "start cannot be greater than end.".to_string(),
                ));
            }
        }
        let bound = |value: Option<i64>, unbounded: WindowFrameBound| match value {
            None => unbounded,
            Some(0) => WindowFrameBound::CurrentRow,
            Some(n) if n < 0 => WindowFrameBound::Preceding(n.unsigned_abs()),
            Some(n) => WindowFrameBound::Following(n as u64),
        };
        Ok(EngineFrame {
            units: self.units,
            start: bound(self.start, WindowFrameBound::UnboundedPreceding),
            end: bound(self.end, WindowFrameBound::UnboundedFollowing),
            exclusion: match self.exclusion {
                None | Some(WindowFrameExclusion::NO_OTHERS) => EngineExclusion::NoOthers,
                Some(WindowFrameExclusion::CURRENT_ROW) => EngineExclusion::CurrentRow,
                Some(WindowFrameExclusion::GROUP) => EngineExclusion::Group,
                Some(WindowFrameExclusion::TIES) => EngineExclusion::Ties,
            },
        })
    }
}

/// `RowRange(start, end)`: a ROWS frame.
#[allow(non_snake_case)]
pub fn RowRange(start: Option<i64>, end: Option<i64>) -> Frame {
    Frame {
        units: WindowFrameUnits::Rows,
        start,
        end,
        exclusion: None,
    }
}

/// `ValueRange(start, end)`: a RANGE frame.
#[allow(non_snake_case)]
pub fn ValueRange(start: Option<i64>, end: Option<i64>) -> Frame {
    Frame {
        units: WindowFrameUnits::Range,
        start,
        end,
        exclusion: None,
    }
}

/// `Window(expression, partition_by=…, order_by=…, frame=…)` as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub expression: Box<Expression>,
    pub partition_by: Vec<Expression>,
    pub order_by: Vec<OrderBy>,
    pub frame: Option<Frame>,
}

/// `Window(expression)`; add `.partition_by(…)`, `.order_by(…)`, `.frame(…)`.
#[allow(non_snake_case)]
pub fn Window(expression: impl Into<Expression>) -> Expression {
    let expression = expression.into();
    let compatible = matches!(
        expression,
        Expression::WindowFunc(_) | Expression::Aggregate(_)
    );
    if !compatible {
        let class = match &expression {
            Expression::F(_) => "F".to_string(),
            Expression::Value { .. } => "Value".to_string(),
            Expression::Window(_) => "Window".to_string(),
            Expression::Func(f) => f
                .to_string()
                .split('(')
                .next()
                .unwrap_or("Func")
                .to_string(),
            Expression::Case(_) => "Case".to_string(),
            _ => "CombinedExpression".to_string(),
        };
        return Expression::refused(Error::ValueError(format!(
            "Expression '{class}' isn't compatible with OVER clauses."
        )));
    }
    Expression::Window(Box::new(Window {
        expression: Box::new(expression),
        partition_by: vec![],
        order_by: vec![],
        frame: None,
    }))
}

impl Expression {
    /// `partition_by=` of a [`Window`](struct@Window).
    pub fn partition_by<A: IntoArg>(self, keys: impl IntoIterator<Item = A>) -> Expression {
        self.with_window(|w| w.partition_by = keys.into_iter().map(IntoArg::into_arg).collect())
    }

    /// `order_by=` of a [`Window`](struct@Window): field names (`"-score"`) or ordering expressions.
    pub fn order_by<O: Into<OrderItem>>(self, keys: impl IntoIterator<Item = O>) -> Expression {
        let mut order = Vec::new();
        for key in keys {
            match key.into() {
                OrderItem::Field(name) => match name.strip_prefix('-') {
                    Some(rest) => order.push(F(rest).desc()),
                    None => order.push(F(name).asc()),
                },
                OrderItem::Expression(o) => order.push(o),
                OrderItem::Random(_) => {
                    return Expression::refused(Error::ValueError(
                        "Window.order_by must be either a string reference to a field, an \
                         expression, or a list or tuple of them."
                            .to_string(),
                    ))
                }
            }
        }
        self.with_window(|w| w.order_by = order)
    }

    /// `frame=` of a [`Window`](struct@Window).
    pub fn frame(self, frame: Frame) -> Expression {
        self.with_window(|w| w.frame = Some(frame))
    }

    /// `offset=` of `Lag`/`Lead`.
    pub fn offset(self, offset: i64) -> Expression {
        match self {
            Expression::WindowFunc(mut f)
                if matches!(f.kind, WindowFunctionKind::Lag | WindowFunctionKind::Lead) =>
            {
                f.number = offset;
                Expression::WindowFunc(f)
            }
            Expression::Invalid(e) => Expression::Invalid(e),
            other => Expression::refused(Error::TypeError(format!(
                "offset is only accepted by Lag and Lead, not {other}"
            ))),
        }
    }

    fn with_window(self, f: impl FnOnce(&mut Window)) -> Expression {
        match self {
            Expression::Window(mut w) => {
                f(&mut w);
                Expression::Window(w)
            }
            Expression::Invalid(e) => Expression::Invalid(e),
            other => Expression::refused(Error::TypeError(format!(
                "partition_by, order_by and frame are only accepted by Window, not {other}"
            ))),
        }
    }
}

impl Window {
    pub(crate) fn resolve_typed(&self, r: &mut dyn Resolver) -> Result<Resolved> {
        let frame = self.frame.map(Frame::to_engine).transpose()?;
        let mut source = match self.expression.as_ref() {
            Expression::WindowFunc(f) => f.resolve_typed(r)?,
            Expression::Aggregate(a) => {
                if a.distinct {
                    return Err(Error::NotSupportedError(
                        "DISTINCT is not implemented for window functions.".to_string(),
                    ));
                }
                let mut resolved = self.expression.resolve_typed(r)?;
                resolved.expr = aggregates_to_windows(resolved.expr)?;
                resolved
            }
            other => {
                return Err(Error::ValueError(format!(
                    "Expression '{other}' isn't compatible with OVER clauses."
                )))
            }
        };
        let partition_by = self
            .partition_by
            .iter()
            .map(|e| e.resolve(r))
            .collect::<Result<Vec<_>>>()?;
        let order_by = self
            .order_by
            .iter()
            .map(|o| o.resolve(r))
            .collect::<Result<Vec<SortExpr>>>()?;
        let over = |e: Expr| -> Result<Expr> {
            Ok(e.transform_up(&mut |e| match e {
                Expr::WindowFunction(mut w)
                    if w.partition_by.is_empty() && w.order_by.is_empty() =>
                {
                    w.partition_by = partition_by.clone();
                    w.order_by = order_by.clone();
                    w.frame = frame;
                    Ok(Transformed::yes(Expr::WindowFunction(w)))
                }
                other => Ok(Transformed::no(other)),
            })?
            .data)
        };
        source.expr = over(source.expr)?;
        source.contains_aggregate = false;
        source.column = None;
        if let Ok(None) = source.output_field {
            source.output_field = Ok(canonical_field(&source.data_type));
        }
        if matches!(
            self.expression.as_ref(),
            Expression::WindowFunc(WindowFunc {
                kind: WindowFunctionKind::RowNumber
                    | WindowFunctionKind::Rank
                    | WindowFunctionKind::DenseRank
                    | WindowFunctionKind::Ntile,
                ..
            })
        ) {
            source.output_field = Ok(Some(FieldType::IntegerField));
        }
        Ok(source)
    }
}

/// Every aggregate call of a resolved aggregate expression (possibly under `Coalesce` for
/// `default=` or a cast for `output_field=`) made a window aggregate with an empty OVER ().
fn aggregates_to_windows(expr: Expr) -> Result<Expr> {
    Ok(expr
        .transform_up(&mut |e| match e {
            Expr::Aggregate(AggregateExpr {
                func,
                mut args,
                filter,
                ..
            }) => {
                if let Some(filter) = filter {
                    let value = args
                        .pop()
                        .unwrap_or(Expr::Literal(ScalarValue::Int64(Some(1))));
                    args = vec![Expr::Case(EngineCase {
                        operand: None,
                        when_then: vec![(*filter, value)],
                        else_expr: None,
                    })];
                }
                Ok(Transformed::yes(
                    EngineWindow::new(WindowFunctionKind::Aggregate(func), args).into(),
                ))
            }
            other => Ok(Transformed::no(other)),
        })?
        .data)
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Window({})", self.expression)
    }
}

/// True when `expression` holds a [`Window`](struct@Window) anywhere (Django's `contains_over_clause`).
pub fn contains_over_clause(expression: &Expression) -> bool {
    match expression {
        Expression::Window(_) => true,
        Expression::Combined { left, right, .. } => {
            contains_over_clause(left) || contains_over_clause(right)
        }
        Expression::Negative(e)
        | Expression::Not(e)
        | Expression::Wrapper { expr: e, .. }
        | Expression::Cast { expr: e, .. } => contains_over_clause(e),
        Expression::Func(f) => f.args.iter().any(contains_over_clause),
        Expression::List(items) => items.iter().any(contains_over_clause),
        Expression::Conditional(q) => q_contains_over_clause(q),
        Expression::Case(c) => {
            c.whens
                .iter()
                .any(|w| q_contains_over_clause(&w.condition) || contains_over_clause(&w.then))
                || c.default.as_deref().is_some_and(contains_over_clause)
        }
        // A subquery computes its own windows; the query around it holds none.
        _ => false,
    }
}

/// True when a lookup value or boolean expression inside `q` holds a window.
fn q_contains_over_clause(q: &crate::expressions::Q) -> bool {
    use crate::expressions::QChild;
    q.children.iter().any(|c| match c {
        QChild::Lookup(_, value) => contains_over_clause(value),
        QChild::Q(q) => q_contains_over_clause(q),
        QChild::Expression(e) => contains_over_clause(e),
    })
}

/// The `FieldError` Django's update and insert compilers raise for a value holding a window
/// (`update(score=Window(…))`), or `None` when `expression` holds none.
pub(crate) fn refuse_window_in_write(field: &str, expression: &Expression) -> Option<Error> {
    contains_over_clause(expression).then(|| {
        Error::FieldError(format!(
            "Window expressions are not allowed in this query ({field}={expression})."
        ))
    })
}
