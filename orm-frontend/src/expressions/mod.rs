//! Django's query expressions: `F`, `Value`, `Q`, lookups and transforms, `Case`/`When`,
//! `Cast`, database functions and aggregates. Each resolves to an engine
//! [`Expr`](quiver_engine::Expr) through a [`Resolver`] supplied by the QuerySet compiler.
//!
//! The files follow the concepts: `expression.rs` (the tree, `F`, `Value`, operators,
//! ordering, Django's output-field rules), `q.rs` (`Q` and `q!`), `lookups.rs` (the lookup
//! and transform registry, and the NULL rule of negated filters), `coercion.rs` (query
//! values converted to field types as `get_prep_value` does), `aggregates.rs`,
//! `functions.rs`, `conditional.rs` (`Case`/`When`) and `decimal.rs` (exact decimal
//! literals).

mod aggregates;
mod coercion;
mod conditional;
mod decimal;
mod expression;
mod functions;
mod lookups;
mod q;
mod resolver;
mod subquery;
mod window;

pub use aggregates::{
    Aggregate, AggregateKind, Avg, Corr, Count, CovarPop, CovarSamp, Max, Median, Min, Percentile,
    RegrIntercept, RegrR2, RegrSlope, StdDev, Sum, Variance,
};
pub use coercion::{get_prep_value, python_float, python_str_repr};
pub use conditional::{Case, When};
pub use decimal::{dec, Decimal};
pub use expression::{Cast, Expression, ExpressionWrapper, IntoArg, OrderBy, Value, F};
pub use functions::{
    Abs, Ceil, Coalesce, Concat, Exp, Extract, ExtractDay, ExtractHour, ExtractIsoWeekDay,
    ExtractIsoYear, ExtractMinute, ExtractMonth, ExtractQuarter, ExtractSecond, ExtractWeek,
    ExtractWeekDay, ExtractYear, Floor, Func, Function, Greatest, LPad, LTrim, Least, Left, Length,
    Ln, Log, Lower, Mod, Now, NullIf, Power, RPad, RTrim, Repeat, Replace, Reverse, Right, Round,
    Sign, Sqrt, StrIndex, Substr, Trim, Trunc, TruncDate, TruncDay, TruncHour, TruncMinute,
    TruncMonth, TruncQuarter, TruncSecond, TruncTime, TruncWeek, TruncYear, Upper,
};
pub use q::{Connector, QChild, Q};
pub use resolver::{ResolvedField, Resolver};
pub(crate) use subquery::{as_outer_reference, outer_ref_error};
pub use subquery::{Exists, IntoOuterRef, OuterRef, Subquery, SubqueryExpression};
pub(crate) use window::refuse_window_in_write;
pub use window::{
    contains_over_clause, CumeDist, DenseRank, FirstValue, Frame, Lag, LastValue, Lead, NthValue,
    Ntile, PercentRank, Rank, RowNumber, RowRange, ValueRange, Window, WindowFrameExclusion,
    WindowFunc,
};
