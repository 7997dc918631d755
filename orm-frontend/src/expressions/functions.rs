//! Database functions (`django.db.models.functions`): `Coalesce`, `Concat`, `Lower`,
//! `Round`, `ExtractYear`, `TruncMonth`, `Now`, … as engine scalar functions.
//!
//! Each constructor checks its arguments as Django's `__init__` does (`Coalesce` needs two
//! expressions, `Left`'s length must be positive, …); since building an expression cannot
//! fail in a lazy QuerySet, a refused call is kept as [`Expression::Invalid`] and raised when
//! the QuerySet is evaluated. Result types come from the engine; the output field follows
//! Django's classes: `Coalesce`/`Greatest`/`Least`/`NullIf`/`Concat` take their arguments'
//! (which must not be mixed), text functions give a `CharField`, `Length`/`StrIndex`/the
//! extracts an `IntegerField`. `Mod` of two integers is a float, as Django's
//! `NumericOutputFieldMixin` declares it and its converter returns it.

use std::fmt;

use arrow::datatypes::DataType;
use quiver_engine::expr::{DatePart, ScalarFunction, TruncUnit};
use quiver_engine::ScalarValue;

use super::expression::{
    as_text, cast_to, common_source_field, with_output_field, Expression, Family, IntoArg, Resolved,
};
use super::lookups::call;
use super::resolver::Resolver;
use crate::error::{Error, Result};
use crate::model::FieldType;

/// A database function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Coalesce,
    Greatest,
    Least,
    NullIf,
    Concat,
    Lower,
    Upper,
    Length,
    Substr,
    Trim,
    LTrim,
    RTrim,
    Replace,
    Left,
    Right,
    Reverse,
    Repeat,
    StrIndex,
    LPad,
    RPad,
    Abs,
    Round,
    Ceil,
    Floor,
    Mod,
    Power,
    Sqrt,
    Exp,
    Ln,
    Log,
    Sign,
    Extract(DatePart),
    Trunc(TruncUnit),
    TruncDate,
    TruncTime,
    Now,
}

impl Function {
    /// Django's class name (`"ExtractYear"`, `"TruncMonth"`, `"Coalesce"`).
    pub fn name(self) -> String {
        match self {
            Function::Extract(part) => format!("Extract{}", camel(part.name())),
            Function::Trunc(unit) => format!("Trunc{}", camel(unit.name())),
            other => format!("{other:?}"),
        }
    }

    /// The engine function; `None` for `Now`, which is a literal.
    fn engine(self) -> Option<ScalarFunction> {
        use Function as F;
        use ScalarFunction as S;
        Some(match self {
            F::Coalesce => S::Coalesce,
            F::Greatest => S::Greatest,
            F::Least => S::Least,
            F::NullIf => S::NullIf,
            F::Concat => S::Concat,
            F::Lower => S::Lower,
            F::Upper => S::Upper,
            F::Length => S::Length,
            F::Substr => S::Substr,
            F::Trim => S::Trim,
            F::LTrim => S::LTrim,
            F::RTrim => S::RTrim,
            F::Replace => S::Replace,
            F::Left => S::Left,
            F::Right => S::Right,
            F::Reverse => S::Reverse,
            F::Repeat => S::Repeat,
            F::StrIndex => S::StrIndex,
            F::LPad => S::LPad,
            F::RPad => S::RPad,
            F::Abs => S::Abs,
            F::Round => S::Round,
            F::Ceil => S::Ceil,
            F::Floor => S::Floor,
            F::Mod => S::Mod,
            F::Power => S::Power,
            F::Sqrt => S::Sqrt,
            F::Exp => S::Exp,
            F::Ln => S::Ln,
            F::Log => S::Log,
            F::Sign => S::Sign,
            F::Extract(part) => S::Extract(part),
            F::Trunc(unit) => S::Trunc(unit),
            F::TruncDate => S::ToDate,
            F::TruncTime => S::ToTime,
            F::Now => return None,
        })
    }
}

fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect()
}

/// A function call as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Func {
    pub function: Function,
    pub args: Vec<Expression>,
}

fn func(function: Function, args: Vec<Expression>) -> Expression {
    Expression::Func(Func { function, args })
}

/// A function over two or more arguments (`Coalesce`, `Greatest`, `Least`, `Concat`).
fn variadic(function: Function, args: impl IntoIterator<Item = impl IntoArg>) -> Expression {
    let args: Vec<Expression> = args.into_iter().map(IntoArg::into_arg).collect();
    if args.len() < 2 {
        return Expression::refused(Error::ValueError(format!(
            "{} must take at least two expressions",
            function.name()
        )));
    }
    func(function, args)
}

/// An integer argument checked as Django's constructors check literal ones.
fn checked_int(
    arg: impl IntoArg,
    valid: impl Fn(i64) -> bool,
    message: &str,
) -> Result<Expression> {
    let arg = arg.into_arg();
    match arg.direct_value().and_then(ScalarValue::as_i64) {
        Some(n) if !valid(n) => Err(Error::ValueError(message.to_string())),
        _ => Ok(arg),
    }
}

fn or_invalid(result: Result<Expression>) -> Expression {
    result.unwrap_or_else(Expression::refused)
}

/// `Coalesce(a, b, …)`: the first non-NULL argument.
#[allow(non_snake_case)]
pub fn Coalesce(args: impl IntoIterator<Item = impl IntoArg>) -> Expression {
    variadic(Function::Coalesce, args)
}

/// `Greatest(a, b, …)`: the largest non-NULL argument (PostgreSQL's rule).
#[allow(non_snake_case)]
pub fn Greatest(args: impl IntoIterator<Item = impl IntoArg>) -> Expression {
    variadic(Function::Greatest, args)
}

/// `Least(a, b, …)`: the smallest non-NULL argument.
#[allow(non_snake_case)]
pub fn Least(args: impl IntoIterator<Item = impl IntoArg>) -> Expression {
    variadic(Function::Least, args)
}

/// `NullIf(a, b)`: NULL when `a = b`, else `a`.
#[allow(non_snake_case)]
pub fn NullIf(a: impl IntoArg, b: impl IntoArg) -> Expression {
    func(Function::NullIf, vec![a.into_arg(), b.into_arg()])
}

/// `Concat(a, b, …)`: text concatenation; NULL arguments count as empty strings.
#[allow(non_snake_case)]
pub fn Concat(args: impl IntoIterator<Item = impl IntoArg>) -> Expression {
    variadic(Function::Concat, args)
}

macro_rules! unary_functions {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[allow(non_snake_case)]
        pub fn $name(expression: impl IntoArg) -> Expression {
            func(Function::$name, vec![expression.into_arg()])
        }
    )*};
}

unary_functions!(
    /// `Lower(text)`.
    Lower,
    /// `Upper(text)`.
    Upper,
    /// `Length(text)`: characters.
    Length,
    /// `Trim(text)`: spaces removed from both ends.
    Trim,
    /// `LTrim(text)`.
    LTrim,
    /// `RTrim(text)`.
    RTrim,
    /// `Reverse(text)`.
    Reverse,
    /// `Abs(number)`.
    Abs,
    /// `Round(number)`; `.precision(n)` rounds to `n` decimal places.
    Round,
    /// `Ceil(number)`.
    Ceil,
    /// `Floor(number)`.
    Floor,
    /// `Sqrt(number)`.
    Sqrt,
    /// `Exp(number)`.
    Exp,
    /// `Ln(number)`: natural logarithm.
    Ln,
    /// `Sign(number)`: -1, 0 or 1.
    Sign,
    /// `TruncDate(datetime)`: its date.
    TruncDate,
    /// `TruncTime(datetime)`: its time of day.
    TruncTime,
);

/// `Substr(text, pos, length)`: `length` characters from the 1-based `pos`; `None` for the
/// rest of the text.
#[allow(non_snake_case)]
pub fn Substr(
    expression: impl IntoArg,
    pos: impl IntoArg,
    length: impl Into<Option<i64>>,
) -> Expression {
    or_invalid((|| {
        let pos = checked_int(pos, |n| n >= 1, "'pos' must be greater than 0")?;
        let mut args = vec![expression.into_arg(), pos];
        if let Some(length) = length.into() {
            args.push(Expression::from(length));
        }
        Ok(func(Function::Substr, args))
    })())
}

/// `Replace(text, from, to)`.
#[allow(non_snake_case)]
pub fn Replace(
    expression: impl IntoArg,
    text: impl IntoArg,
    replacement: impl IntoArg,
) -> Expression {
    func(
        Function::Replace,
        vec![
            expression.into_arg(),
            text.into_arg(),
            replacement.into_arg(),
        ],
    )
}

/// `Left(text, length)`: the first `length` characters.
#[allow(non_snake_case)]
pub fn Left(expression: impl IntoArg, length: impl IntoArg) -> Expression {
    or_invalid(
        checked_int(length, |n| n >= 1, "'length' must be greater than 0.")
            .map(|length| func(Function::Left, vec![expression.into_arg(), length])),
    )
}

/// `Right(text, length)`: the last `length` characters.
#[allow(non_snake_case)]
pub fn Right(expression: impl IntoArg, length: impl IntoArg) -> Expression {
    or_invalid(
        checked_int(length, |n| n >= 1, "'length' must be greater than 0.")
            .map(|length| func(Function::Right, vec![expression.into_arg(), length])),
    )
}

/// `Repeat(text, number)`.
#[allow(non_snake_case)]
pub fn Repeat(expression: impl IntoArg, number: impl IntoArg) -> Expression {
    or_invalid(
        checked_int(
            number,
            |n| n >= 0,
            "'number' must be greater or equal to 0.",
        )
        .map(|number| func(Function::Repeat, vec![expression.into_arg(), number])),
    )
}

/// `StrIndex(text, substring)`: the 1-based position of `substring`, 0 when absent. As in
/// Django, a plain string names a field: write `Value("x")` for a literal.
#[allow(non_snake_case)]
pub fn StrIndex(expression: impl IntoArg, substring: impl IntoArg) -> Expression {
    func(
        Function::StrIndex,
        vec![expression.into_arg(), substring.into_arg()],
    )
}

fn pad(
    function: Function,
    expression: impl IntoArg,
    length: impl IntoArg,
    fill_text: impl IntoArg,
) -> Expression {
    or_invalid(
        checked_int(
            length,
            |n| n >= 0,
            "'length' must be greater or equal to 0.",
        )
        .map(|length| {
            func(
                function,
                vec![expression.into_arg(), length, fill_text.into_arg()],
            )
        }),
    )
}

/// `LPad(text, length, fill_text)`: padded on the left to `length` characters. As in
/// Django, a plain string names a field: write `Value(" ")` for the fill.
#[allow(non_snake_case)]
pub fn LPad(expression: impl IntoArg, length: impl IntoArg, fill_text: impl IntoArg) -> Expression {
    pad(Function::LPad, expression, length, fill_text)
}

/// `RPad(text, length, fill_text)`.
#[allow(non_snake_case)]
pub fn RPad(expression: impl IntoArg, length: impl IntoArg, fill_text: impl IntoArg) -> Expression {
    pad(Function::RPad, expression, length, fill_text)
}

/// `Mod(a, b)`.
#[allow(non_snake_case)]
pub fn Mod(a: impl IntoArg, b: impl IntoArg) -> Expression {
    func(Function::Mod, vec![a.into_arg(), b.into_arg()])
}

/// `Power(base, exponent)`.
#[allow(non_snake_case)]
pub fn Power(base: impl IntoArg, exponent: impl IntoArg) -> Expression {
    func(Function::Power, vec![base.into_arg(), exponent.into_arg()])
}

/// `Log(base, x)`: the logarithm of `x` to `base` (Django's argument order).
#[allow(non_snake_case)]
pub fn Log(base: impl IntoArg, x: impl IntoArg) -> Expression {
    func(Function::Log, vec![base.into_arg(), x.into_arg()])
}

/// `Extract(expression, "year")`: a date part as an integer (`year`, `iso_year`, `quarter`,
/// `month`, `week`, `day`, `week_day`, `iso_week_day`, `hour`, `minute`, `second`).
#[allow(non_snake_case)]
pub fn Extract(expression: impl IntoArg, lookup_name: &str) -> Expression {
    match DatePart::from_name(lookup_name) {
        Some(part) => func(Function::Extract(part), vec![expression.into_arg()]),
        None => Expression::refused(Error::ValueError(format!(
            "Invalid lookup type: '{lookup_name}'"
        ))),
    }
}

/// `Trunc(expression, "month")`: the date or datetime truncated to `kind` (`year`,
/// `quarter`, `month`, `week`, `day`, `hour`, `minute`, `second`).
#[allow(non_snake_case)]
pub fn Trunc(expression: impl IntoArg, kind: &str) -> Expression {
    match TruncUnit::from_name(kind) {
        Some(unit) => func(Function::Trunc(unit), vec![expression.into_arg()]),
        None => Expression::refused(Error::ValueError(format!("Invalid kind: '{kind}'"))),
    }
}

macro_rules! extracts {
    ($($name:ident => $part:ident),* $(,)?) => {$(
        #[doc = concat!("`", stringify!($name), "(expression)`: `Extract(expression, \"", stringify!($part), "\")`.")]
        #[allow(non_snake_case)]
        pub fn $name(expression: impl IntoArg) -> Expression {
            func(Function::Extract(DatePart::$part), vec![expression.into_arg()])
        }
    )*};
}

extracts!(
    ExtractYear => Year,
    ExtractIsoYear => IsoYear,
    ExtractQuarter => Quarter,
    ExtractMonth => Month,
    ExtractWeek => Week,
    ExtractDay => Day,
    ExtractWeekDay => WeekDay,
    ExtractIsoWeekDay => IsoWeekDay,
    ExtractHour => Hour,
    ExtractMinute => Minute,
    ExtractSecond => Second,
);

macro_rules! truncs {
    ($($name:ident => $unit:ident),* $(,)?) => {$(
        #[doc = concat!("`", stringify!($name), "(expression)`: `Trunc(expression, \"", stringify!($unit), "\")`.")]
        #[allow(non_snake_case)]
        pub fn $name(expression: impl IntoArg) -> Expression {
            func(Function::Trunc(TruncUnit::$unit), vec![expression.into_arg()])
        }
    )*};
}

truncs!(
    TruncYear => Year,
    TruncQuarter => Quarter,
    TruncMonth => Month,
    TruncWeek => Week,
    TruncDay => Day,
    TruncHour => Hour,
    TruncMinute => Minute,
    TruncSecond => Second,
);

/// `Now()`: the current timestamp (UTC), fixed when the QuerySet is compiled, as
/// PostgreSQL's `STATEMENT_TIMESTAMP()` is fixed for a statement.
#[allow(non_snake_case)]
pub fn Now() -> Expression {
    func(Function::Now, Vec::new())
}

impl Expression {
    /// `Round(x, precision=n)`: round to `n` decimal places.
    pub fn precision(self, digits: impl IntoArg) -> Expression {
        match self {
            Expression::Func(Func {
                function: Function::Round,
                mut args,
            }) => {
                args.truncate(1);
                args.push(digits.into_arg());
                func(Function::Round, args)
            }
            Expression::Invalid(e) => Expression::Invalid(e),
            other => Expression::refused(Error::TypeError(format!(
                "precision is only accepted by Round, not {other}"
            ))),
        }
    }
}

/// The name Django quotes for an argument's field (`'None'` for anything but a model field).
fn field_name(arg: &Resolved) -> String {
    arg.column.clone().unwrap_or_else(|| "None".to_string())
}

impl Func {
    pub(crate) fn resolve_typed(&self, r: &mut dyn Resolver) -> Result<Resolved> {
        let Some(engine) = self.function.engine() else {
            let now = chrono::Utc::now().naive_utc();
            return Expression::from(now).resolve_typed(r);
        };
        let mut args = Vec::with_capacity(self.args.len());
        for arg in &self.args {
            args.push(arg.resolve_typed(r)?);
        }
        let first_field = args
            .first()
            .map(|a| a.output_field.clone())
            .unwrap_or(Ok(None));
        let output_field = match self.function {
            Function::Coalesce
            | Function::Greatest
            | Function::Least
            | Function::NullIf
            | Function::Concat => Some(common_source_field(&args.iter().collect::<Vec<_>>())),
            Function::Lower
            | Function::Upper
            | Function::Trim
            | Function::LTrim
            | Function::RTrim
            | Function::Reverse
            | Function::Abs
            | Function::Sign
            | Function::Round
            | Function::Ceil
            | Function::Floor => Some(first_field),
            _ => None,
        };
        let resolved = build(self.function, engine, args);
        match output_field {
            Some(field) => with_output_field(resolved, field),
            None => resolved,
        }
    }
}

/// The engine node of a function over its resolved arguments.
fn build(function: Function, engine: ScalarFunction, args: Vec<Resolved>) -> Result<Resolved> {
    match function {
        Function::Concat => {
            let mut texts = Vec::with_capacity(args.len());
            for arg in args {
                texts.push(as_text(arg)?);
            }
            Resolved::node(texts, move |a| call(engine, a))
        }
        Function::Extract(part) => {
            let arg = single_arg(args)?;
            check_extract(part, &arg)?;
            Resolved::node(vec![arg], move |a| call(engine, a))
        }
        Function::Trunc(_) | Function::TruncDate | Function::TruncTime => {
            truncate(function, single_arg(args)?)
        }
        Function::Mod => {
            let integers = args
                .iter()
                .all(|a| Family::of_type(&a.data_type) == Family::Integer);
            let out = Resolved::node(args, move |a| call(engine, a))?;
            // Django declares Mod a FloatField whenever an argument is an integer.
            Ok(if integers {
                cast_to(out, FieldType::FloatField)
            } else {
                out
            })
        }
        _ => Resolved::node(args, move |a| call(engine, a)),
    }
}

fn single_arg(args: Vec<Resolved>) -> Result<Resolved> {
    args.into_iter().next().ok_or_else(|| {
        Error::TypeError("the function takes exactly 1 argument (0 given)".to_string())
    })
}

/// Django's `Extract.resolve_expression` checks.
fn check_extract(part: DatePart, arg: &Resolved) -> Result<()> {
    if arg.data_type == DataType::Null {
        return Ok(());
    }
    let name = field_name(arg);
    let time_part = matches!(part, DatePart::Hour | DatePart::Minute | DatePart::Second);
    match Family::of_type(&arg.data_type) {
        Family::Date if time_part => Err(Error::ValueError(format!(
            "Cannot extract time component '{}' from DateField '{name}'.",
            part.name()
        ))),
        Family::Duration if !time_part && part != DatePart::Day => Err(Error::ValueError(format!(
            "Cannot extract component '{}' from DurationField '{name}'.",
            part.name()
        ))),
        Family::Time if !time_part => Err(Error::ValueError(format!(
            "Cannot extract date component '{}' from TimeField '{name}'.",
            part.name()
        ))),
        Family::Date | Family::DateTime | Family::Time | Family::Duration => Ok(()),
        _ => Err(Error::ValueError(
            "Extract input expression must be DateField, DateTimeField, TimeField, or \
             DurationField."
                .to_string(),
        )),
    }
}

/// `Trunc`, `TruncDate` and `TruncTime`, with Django's `TruncBase.resolve_expression`
/// checks.
fn truncate(function: Function, arg: Resolved) -> Result<Resolved> {
    let family = Family::of_type(&arg.data_type);
    let name = field_name(&arg);
    if !matches!(family, Family::Date | Family::DateTime | Family::Time) {
        let shown = arg
            .column
            .as_ref()
            .map_or("None".to_string(), |n| format!("'{n}'"));
        return Err(Error::TypeError(format!(
            "{shown} isn't a DateField, TimeField, or DateTimeField."
        )));
    }
    let time_unit = matches!(
        function,
        Function::Trunc(TruncUnit::Hour | TruncUnit::Minute | TruncUnit::Second)
    );
    let refused = match (family, function) {
        (Family::Date, Function::TruncTime) => Some(("DateField", "TimeField")),
        (Family::Date, _) if time_unit => Some(("DateField", "DateTimeField")),
        (Family::Time, Function::TruncDate) => Some(("TimeField", "DateField")),
        (Family::Time, Function::Trunc(_)) if !time_unit => Some(("TimeField", "DateTimeField")),
        _ => None,
    };
    if let Some((from, to)) = refused {
        return Err(Error::ValueError(format!(
            "Cannot truncate {from} '{name}' to {to}."
        )));
    }
    let (engine, output_field) = match (function, family) {
        // Already a date (or a time): `(x)::date` changes nothing.
        (Function::TruncDate, Family::Date) | (Function::TruncTime, Family::Time) => {
            return Ok(Resolved {
                column: None,
                ..arg
            });
        }
        (Function::TruncDate, _) => (ScalarFunction::ToDate, FieldType::DateField),
        (Function::TruncTime, _) => (ScalarFunction::ToTime, FieldType::TimeField),
        (Function::Trunc(unit), Family::Date) => {
            (ScalarFunction::Trunc(unit), FieldType::DateField)
        }
        (Function::Trunc(unit), Family::Time) => {
            (ScalarFunction::Trunc(unit), FieldType::TimeField)
        }
        (Function::Trunc(unit), _) => (ScalarFunction::Trunc(unit), FieldType::DateTimeField),
        (other, _) => {
            return Err(Error::Engine(quiver_engine::EngineError::Internal(
                format!("{} is not a truncation", other.name()),
            )))
        }
    };
    let mut out = Resolved::node(vec![arg], move |a| call(engine, a))?;
    out.output_field = Ok(Some(output_field));
    Ok(out)
}

impl fmt::Display for Func {
    /// Django's repr: `Coalesce(F(a), Value(0))`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.function.name())?;
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{arg}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::TimeUnit;

    use super::*;
    use crate::expressions::expression::tests::{show, typed};
    use crate::expressions::{Sum, Value, F};
    use crate::model::DecimalField;

    #[test]
    fn null_handling_functions() {
        assert_eq!(
            show(Coalesce(["region", "notes"])),
            "coalesce(order.region, order.notes)"
        );
        assert_eq!(
            show(Coalesce([F("score"), Value(0)])),
            "coalesce(order.score, 0)"
        );
        assert_eq!(
            show(Greatest(["age", "score"])),
            "greatest(order.age, order.score)"
        );
        assert_eq!(
            show(Least(["age", "score"])),
            "least(order.age, order.score)"
        );
        assert_eq!(show(NullIf("age", Value(0))), "nullif(order.age, 0)");
        assert_eq!(
            show(Coalesce(["age"])),
            "ValueError: Coalesce must take at least two expressions"
        );
        assert_eq!(
            show(Greatest(Vec::<Expression>::new())),
            "ValueError: Greatest must take at least two expressions"
        );
    }

    #[test]
    fn mixed_sources_need_an_output_field() {
        // Django's famous `Coalesce(Sum("amount"), 0)` on a DecimalField.
        assert_eq!(
            show(Coalesce([Sum("amount"), Value(0)])),
            "FieldError: Expression contains mixed types: DecimalField, IntegerField. You must \
             set output_field."
        );
        assert_eq!(
            show(Coalesce([Sum("amount"), Value(0)]).output_field(DecimalField::new(38, 2))),
            "coalesce(sum(order.amount), 0)"
        );
        assert_eq!(
            show(Greatest(["ratio", "age"])),
            "FieldError: Expression contains mixed types: FloatField, IntegerField. You must set \
             output_field."
        );
        assert_eq!(
            show(Coalesce(["status", "age"])),
            "FieldError: Expression contains mixed types: CharField, IntegerField. You must set \
             output_field."
        );
        assert_eq!(
            show(Concat([F("status"), Value(" "), F("age")])),
            "FieldError: Expression contains mixed types: CharField, IntegerField. You must set \
             output_field."
        );
        // Integer widths and Char/Text are one kind here.
        assert_eq!(
            show(Coalesce(["score", "age", "id"])),
            "coalesce(order.score, order.age, order.id)"
        );
        assert_eq!(
            show(Coalesce(["status", "notes"])),
            "coalesce(order.status, order.notes)"
        );
        // An untyped NULL does not count.
        assert_eq!(
            show(Coalesce([F("amount"), Value(None::<i32>)])),
            "coalesce(order.amount, NULL)"
        );
    }

    #[test]
    fn text_functions() {
        assert_eq!(
            show(Concat([F("status"), Value(" "), F("customer__name")])),
            "concat(order.status, ' ', customer.name)"
        );
        assert_eq!(
            show(
                Concat([F("status"), Value(" "), F("age")])
                    .output_field(crate::model::TextField::new())
            ),
            "concat(order.status, ' ', CAST(order.age AS Utf8))"
        );
        assert_eq!(show(Lower("status")), "lower(order.status)");
        assert_eq!(show(Upper("status")), "upper(order.status)");
        assert_eq!(show(Length("status")), "length(order.status)");
        assert_eq!(show(Substr("status", 2, 3)), "substr(order.status, 2, 3)");
        assert_eq!(show(Substr("status", 2, None)), "substr(order.status, 2)");
        assert_eq!(
            show(Substr("status", 0, None)),
            "ValueError: 'pos' must be greater than 0"
        );
        assert_eq!(show(Trim("status")), "trim(order.status)");
        assert_eq!(show(LTrim("status")), "ltrim(order.status)");
        assert_eq!(show(RTrim("status")), "rtrim(order.status)");
        assert_eq!(
            show(Replace("status", Value("a"), Value("b"))),
            "replace(order.status, 'a', 'b')"
        );
        assert_eq!(show(Left("status", 2)), "left(order.status, 2)");
        assert_eq!(show(Right("status", 2)), "right(order.status, 2)");
        assert_eq!(
            show(Left("status", 0)),
            "ValueError: 'length' must be greater than 0."
        );
        assert_eq!(show(Reverse("status")), "reverse(order.status)");
        assert_eq!(show(Repeat("status", 3)), "repeat(order.status, 3)");
        assert_eq!(
            show(Repeat("status", -1)),
            "ValueError: 'number' must be greater or equal to 0."
        );
        assert_eq!(
            show(StrIndex("status", Value("e"))),
            "strindex(order.status, 'e')"
        );
        assert_eq!(
            show(LPad("status", 5, Value("*"))),
            "lpad(order.status, 5, '*')"
        );
        assert_eq!(
            show(RPad("status", 5, Value(" "))),
            "rpad(order.status, 5, ' ')"
        );
        assert_eq!(
            show(LPad("status", -1, Value(" "))),
            "ValueError: 'length' must be greater or equal to 0."
        );
        assert_eq!(typed(Length("status")).data_type, DataType::Int64);
    }

    #[test]
    fn math_functions() {
        assert_eq!(show(Abs("age")), "abs(order.age)");
        assert_eq!(show(Round("ratio")), "round(order.ratio)");
        assert_eq!(show(Round("amount").precision(1)), "round(order.amount, 1)");
        assert_eq!(
            show(F("amount").precision(1)),
            "TypeError: precision is only accepted by Round, not F(amount)"
        );
        assert_eq!(show(Ceil("ratio")), "ceil(order.ratio)");
        assert_eq!(show(Floor("amount")), "floor(order.amount)");
        assert_eq!(show(Mod("amount", 3)), "mod(order.amount, 3)");
        // Django declares Mod of integers a FloatField.
        assert_eq!(show(Mod("age", 3)), "CAST(mod(order.age, 3) AS Float64)");
        assert_eq!(show(Power("age", 2)), "power(order.age, 2)");
        assert_eq!(show(Sqrt("age")), "sqrt(order.age)");
        assert_eq!(show(Exp("ratio")), "exp(order.ratio)");
        assert_eq!(show(Ln("ratio")), "ln(order.ratio)");
        assert_eq!(show(Log(10, "ratio")), "log(10, order.ratio)");
        assert_eq!(show(Sign("age")), "sign(order.age)");
        assert_eq!(
            typed(Round("amount")).data_type,
            DataType::Decimal128(10, 2)
        );
        assert_eq!(typed(Sqrt("age")).data_type, DataType::Float64);
    }

    #[test]
    fn extract_and_trunc() {
        assert_eq!(
            show(Extract("created", "year")),
            "extract_year(order.created)"
        );
        assert_eq!(
            show(ExtractIsoYear("signup")),
            "extract_iso_year(order.signup)"
        );
        assert_eq!(
            show(ExtractQuarter("signup")),
            "extract_quarter(order.signup)"
        );
        assert_eq!(show(ExtractMonth("signup")), "extract_month(order.signup)");
        assert_eq!(show(ExtractWeek("signup")), "extract_week(order.signup)");
        assert_eq!(show(ExtractDay("signup")), "extract_day(order.signup)");
        assert_eq!(
            show(ExtractWeekDay("signup")),
            "extract_week_day(order.signup)"
        );
        assert_eq!(
            show(ExtractIsoWeekDay("signup")),
            "extract_iso_week_day(order.signup)"
        );
        assert_eq!(show(ExtractHour("created")), "extract_hour(order.created)");
        assert_eq!(show(ExtractMinute("opens")), "extract_minute(order.opens)");
        assert_eq!(
            show(ExtractSecond("created")),
            "extract_second(order.created)"
        );
        assert_eq!(
            show(Extract("created", "fortnight")),
            "ValueError: Invalid lookup type: 'fortnight'"
        );
        assert_eq!(
            show(ExtractYear("age")),
            "ValueError: Extract input expression must be DateField, DateTimeField, TimeField, or DurationField."
        );
        assert_eq!(
            show(ExtractHour("signup")),
            "ValueError: Cannot extract time component 'hour' from DateField 'signup'."
        );
        assert_eq!(
            show(ExtractYear("wait")),
            "ValueError: Cannot extract component 'year' from DurationField 'wait'."
        );
        assert_eq!(show(ExtractYear(Value(None::<i32>))), "extract_year(NULL)");

        assert_eq!(
            show(Trunc("created", "month")),
            "trunc_month(order.created)"
        );
        assert_eq!(show(TruncYear("signup")), "trunc_year(order.signup)");
        assert_eq!(show(TruncQuarter("signup")), "trunc_quarter(order.signup)");
        assert_eq!(show(TruncMonth("signup")), "trunc_month(order.signup)");
        assert_eq!(show(TruncWeek("created")), "trunc_week(order.created)");
        assert_eq!(show(TruncDay("created")), "trunc_day(order.created)");
        assert_eq!(show(TruncHour("created")), "trunc_hour(order.created)");
        assert_eq!(show(TruncMinute("opens")), "trunc_minute(order.opens)");
        assert_eq!(show(TruncSecond("created")), "trunc_second(order.created)");
        assert_eq!(show(TruncDate("created")), "todate(order.created)");
        assert_eq!(show(TruncTime("created")), "totime(order.created)");
        assert_eq!(show(TruncDate("signup")), "order.signup");
        assert_eq!(
            show(Trunc("created", "decade")),
            "ValueError: Invalid kind: 'decade'"
        );
        assert_eq!(
            show(TruncMonth("age")),
            "TypeError: 'age' isn't a DateField, TimeField, or DateTimeField."
        );
        assert_eq!(
            show(TruncHour("signup")),
            "ValueError: Cannot truncate DateField 'signup' to DateTimeField."
        );
        assert_eq!(
            show(TruncTime("signup")),
            "ValueError: Cannot truncate DateField 'signup' to TimeField."
        );
        assert_eq!(
            show(TruncYear("opens")),
            "ValueError: Cannot truncate TimeField 'opens' to DateTimeField."
        );
        assert_eq!(
            show(TruncDate("opens")),
            "ValueError: Cannot truncate TimeField 'opens' to DateField."
        );
        assert_eq!(
            typed(TruncMonth("created")).data_type,
            DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert_eq!(
            typed(TruncMonth("signup")).output_field.unwrap(),
            Some(FieldType::DateField)
        );
    }

    #[test]
    fn now_is_a_timestamp_literal() {
        let now = typed(Now());
        assert_eq!(
            now.data_type,
            DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert!(matches!(
            now.expr,
            quiver_engine::Expr::Literal(ScalarValue::TimestampMicrosecond(Some(_)))
        ));
        assert_eq!(
            Function::Extract(DatePart::IsoWeekDay).name(),
            "ExtractIsoWeekDay"
        );
        assert_eq!(Function::Trunc(TruncUnit::Month).name(), "TruncMonth");
        assert_eq!(Coalesce(["a", "b"]).to_string(), "Coalesce(F(a), F(b))");
    }
}
