//! Built-in scalar functions: the ones Django's `django.db.models.functions` exposes, plus
//! date-part extraction and truncation that back Django's lookups and transforms.

/// A part of a date or timestamp, as extracted by Django's transforms (`__year`, `__week_day`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatePart {
    Year,
    /// ISO 8601 week-numbering year.
    IsoYear,
    Quarter,
    Month,
    /// ISO 8601 week number (1..=53).
    Week,
    Day,
    /// Django's `week_day`: 1 = Sunday … 7 = Saturday.
    WeekDay,
    /// Django's `iso_week_day`: 1 = Monday … 7 = Sunday.
    IsoWeekDay,
    /// Day of the year, 1..=366.
    DayOfYear,
    Hour,
    Minute,
    /// Whole seconds (0..=59), as Django's `__second`.
    Second,
}

impl DatePart {
    /// The Django transform name (`"year"`, `"week_day"`, …).
    pub fn name(self) -> &'static str {
        match self {
            DatePart::Year => "year",
            DatePart::IsoYear => "iso_year",
            DatePart::Quarter => "quarter",
            DatePart::Month => "month",
            DatePart::Week => "week",
            DatePart::Day => "day",
            DatePart::WeekDay => "week_day",
            DatePart::IsoWeekDay => "iso_week_day",
            DatePart::DayOfYear => "day_of_year",
            DatePart::Hour => "hour",
            DatePart::Minute => "minute",
            DatePart::Second => "second",
        }
    }

    /// Parses a Django transform name.
    pub fn from_name(name: &str) -> Option<DatePart> {
        Some(match name {
            "year" => DatePart::Year,
            "iso_year" => DatePart::IsoYear,
            "quarter" => DatePart::Quarter,
            "month" => DatePart::Month,
            "week" => DatePart::Week,
            "day" => DatePart::Day,
            "week_day" => DatePart::WeekDay,
            "iso_week_day" => DatePart::IsoWeekDay,
            "day_of_year" => DatePart::DayOfYear,
            "hour" => DatePart::Hour,
            "minute" => DatePart::Minute,
            "second" => DatePart::Second,
            _ => return None,
        })
    }
}

/// A truncation unit for `Trunc` (`TruncMonth`, `TruncDate`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TruncUnit {
    Year,
    Quarter,
    Month,
    /// Truncates to the Monday of the ISO week.
    Week,
    Day,
    Hour,
    Minute,
    Second,
}

impl TruncUnit {
    /// The unit's lowercase name (`"month"`).
    pub fn name(self) -> &'static str {
        match self {
            TruncUnit::Year => "year",
            TruncUnit::Quarter => "quarter",
            TruncUnit::Month => "month",
            TruncUnit::Week => "week",
            TruncUnit::Day => "day",
            TruncUnit::Hour => "hour",
            TruncUnit::Minute => "minute",
            TruncUnit::Second => "second",
        }
    }

    /// Parses a unit name.
    pub fn from_name(name: &str) -> Option<TruncUnit> {
        Some(match name {
            "year" => TruncUnit::Year,
            "quarter" => TruncUnit::Quarter,
            "month" => TruncUnit::Month,
            "week" => TruncUnit::Week,
            "day" => TruncUnit::Day,
            "hour" => TruncUnit::Hour,
            "minute" => TruncUnit::Minute,
            "second" => TruncUnit::Second,
            _ => return None,
        })
    }
}

/// Built-in scalar functions. NULL in gives NULL out unless the function says otherwise
/// (`Coalesce`, `Concat`, `Greatest`/`Least` follow PostgreSQL: they skip NULLs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarFunction {
    /// First non-NULL argument.
    Coalesce,
    /// Largest non-NULL argument (PostgreSQL semantics; NULL only when all are NULL).
    Greatest,
    /// Smallest non-NULL argument.
    Least,
    /// NULL when the two arguments are equal, else the first.
    NullIf,
    /// String concatenation; NULL arguments count as empty strings (Django's `Concat`).
    Concat,
    Lower,
    Upper,
    /// Length in characters.
    Length,
    /// `Substr(s, pos[, len])`, 1-based.
    Substr,
    Trim,
    LTrim,
    RTrim,
    /// `Replace(s, from, to)`.
    Replace,
    /// `Left(s, n)`.
    Left,
    /// `Right(s, n)`.
    Right,
    Reverse,
    /// `Repeat(s, n)`.
    Repeat,
    /// `StrIndex(s, sub)`: 1-based position or 0.
    StrIndex,
    /// `LPad(s, len, fill)`.
    LPad,
    /// `RPad(s, len, fill)`.
    RPad,
    Abs,
    /// `Round(x[, digits])`, half away from zero as PostgreSQL does for numeric.
    Round,
    Ceil,
    Floor,
    /// `Mod(a, b)`; modulo by zero is an error.
    Mod,
    Power,
    Sqrt,
    Exp,
    /// Natural logarithm.
    Ln,
    /// `Log(base, x)` (Django's argument order).
    Log,
    Sign,
    /// Extracts a date part as an integer.
    Extract(DatePart),
    /// Truncates a date/timestamp to a unit, keeping its type.
    Trunc(TruncUnit),
    /// The date of a timestamp (`TruncDate`, the `__date` transform).
    ToDate,
    /// The time of day of a timestamp (`TruncTime`, the `__time` transform).
    ToTime,
}

impl ScalarFunction {
    /// The function's name as shown in EXPLAIN.
    pub fn name(self) -> String {
        match self {
            ScalarFunction::Extract(part) => format!("extract_{}", part.name()),
            ScalarFunction::Trunc(unit) => format!("trunc_{}", unit.name()),
            other => format!("{other:?}").to_lowercase(),
        }
    }
}
