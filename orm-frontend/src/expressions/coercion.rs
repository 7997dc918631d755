//! Converting a lookup's value to the field it is compared with, as Django's
//! `Field.get_prep_value` does: `"42"` against an `IntegerField` is `42`, `"2024-01-05"`
//! against a `DateField` is a date, `5` against a `CharField` is `'5'`, and a value of the
//! wrong kind is the error Django raises ("Field 'age' expected a number but got 'abc'.").
//!
//! Values arrive as [`ScalarValue`]s standing for the Python values a Django user would pass
//! (`Int64` is `int`, `Utf8` is `str`, `Decimal128` is `Decimal`, …). Messages quote them the
//! way Python's `repr()`/`str()` would, so they read exactly as Django's.

use std::cmp::Ordering;

use arrow::datatypes::DataType;
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike};
use quiver_engine::expr::type_coercion::value_type;
use quiver_engine::ScalarValue;

use super::decimal::{invalid_decimal, Decimal};
use crate::error::{Error, Result};
use crate::model::{FieldSpec, FieldType};

/// The field a value is prepared for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) data_type: &'a DataType,
    /// The model field, when the lookup's left side is one (for the positive-integer ranges).
    pub(crate) field_type: Option<&'a FieldType>,
    /// Django's `field.name` in messages ("None" for annotations and transforms).
    pub(crate) name: Option<&'a str>,
    pub(crate) nullable: bool,
}

impl<'a> Target<'a> {
    pub(crate) fn new(
        data_type: &'a DataType,
        field_type: Option<&'a FieldType>,
        name: Option<&'a str>,
        nullable: bool,
    ) -> Target<'a> {
        Target {
            data_type,
            field_type,
            name,
            nullable,
        }
    }
}

/// A prepared value. For integer fields, `out_of_range` says the value lies below or above
/// what the field can hold (Django then answers `exact`/`gt`/… without comparing); the value
/// itself is kept in a wider type so it can still be compared.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Prepared {
    pub(crate) value: ScalarValue,
    pub(crate) out_of_range: Option<Ordering>,
}

impl Prepared {
    fn exact(value: ScalarValue) -> Prepared {
        Prepared {
            value,
            out_of_range: None,
        }
    }
}

/// Converts `value` for `target` as the field's `get_prep_value` would.
pub(crate) fn prepare(target: &Target<'_>, value: &ScalarValue) -> Result<Prepared> {
    if value.is_null() {
        return Ok(Prepared::exact(ScalarValue::null_of(target.data_type)));
    }
    match value_type(target.data_type) {
        DataType::Int16 | DataType::Int32 | DataType::Int64 => prepare_integer(target, value),
        DataType::Float32 | DataType::Float64 => {
            to_float(target, value).map(|f| Prepared::exact(ScalarValue::Float64(Some(f))))
        }
        DataType::Decimal128(precision, _) => {
            to_decimal(value, *precision).map(|d| Prepared::exact(d.to_scalar()))
        }
        DataType::Boolean => to_bool(target, value).map(|b| Prepared::exact(b.into())),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            Ok(Prepared::exact(ScalarValue::Utf8(Some(python_str(value)))))
        }
        DataType::Date32 => to_date(value).map(|d| Prepared::exact(date_value(d))),
        DataType::Timestamp(..) => {
            to_datetime(value).map(|d| Prepared::exact(ScalarValue::TimestampMicrosecond(Some(d))))
        }
        DataType::Time64(_) => to_time(value).map(|t| Prepared::exact(time_value(t))),
        DataType::Duration(_) => {
            to_duration(value).map(|d| Prepared::exact(ScalarValue::DurationMicrosecond(Some(d))))
        }
        _ => Ok(Prepared::exact(value.clone())),
    }
}

/// Django's `Field.get_prep_value` for a value to store in (or compare with) a model field:
/// `"42"` for an `IntegerField` is `42`, `"2024-01-05"` for a `DateField` a date, `5` for a
/// `CharField` `'5'`; a value of the wrong kind is Django's error ("Field 'age' expected a
/// number but got 'abc'."). An integer the column cannot hold is PostgreSQL's `DataError`
/// ("integer out of range"), a negative one for a positive field its `IntegrityError`
/// (the field's `>= 0` check constraint).
pub fn get_prep_value(field: &FieldSpec, name: &str, value: &ScalarValue) -> Result<ScalarValue> {
    let data_type = field.field_type.data_type();
    let target_name = match field.field_type.relation() {
        Some(relation) => relation.to_field.as_deref().unwrap_or("id"),
        None => name,
    };
    let target = Target::new(
        &data_type,
        Some(&field.field_type),
        Some(target_name),
        field.null,
    );
    let prepared = prepare(&target, value)?;
    if prepared.out_of_range.is_some() {
        let fits_column = matches!(
            (&data_type, &prepared.value),
            (DataType::Int16, ScalarValue::Int16(_))
                | (DataType::Int32, ScalarValue::Int32(_))
                | (DataType::Int64, ScalarValue::Int64(_))
        );
        if fits_column {
            return Err(Error::IntegrityError(format!(
                "new row violates check constraint \"{name}\" >= 0"
            )));
        }
        let sql_type = match data_type {
            DataType::Int16 => "smallint",
            DataType::Int32 => "integer",
            _ => "bigint",
        };
        return Err(Error::DataError(format!("{sql_type} out of range")));
    }
    Ok(prepared.value)
}

/// Python's `int(value)` for an integer field, with the field's range (PostgreSQL's, as
/// Django's `integer_field_range`).
fn prepare_integer(target: &Target<'_>, value: &ScalarValue) -> Result<Prepared> {
    let n = to_python_int(target, value)?;
    let data_type = value_type(target.data_type);
    let (min, max): (i128, i128) = match data_type {
        DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        _ => (i64::MIN.into(), i64::MAX.into()),
    };
    let min = match target.field_type {
        Some(
            FieldType::PositiveIntegerField
            | FieldType::PositiveSmallIntegerField
            | FieldType::PositiveBigIntegerField,
        ) => 0,
        _ => min,
    };
    let out_of_range = if n < min {
        Some(Ordering::Less)
    } else if n > max {
        Some(Ordering::Greater)
    } else {
        None
    };
    let value = match (
        data_type,
        i16::try_from(n),
        i32::try_from(n),
        i64::try_from(n),
    ) {
        (DataType::Int16, Ok(v), _, _) => ScalarValue::Int16(Some(v)),
        (DataType::Int16 | DataType::Int32, _, Ok(v), _) => ScalarValue::Int32(Some(v)),
        (_, _, _, Ok(v)) => ScalarValue::Int64(Some(v)),
        _ => Decimal::new(n, 0).to_scalar(),
    };
    Ok(Prepared {
        value,
        out_of_range,
    })
}

fn expected_number(target: &Target<'_>, value: &ScalarValue, type_error: bool) -> Error {
    let message = format!(
        "Field '{}' expected a number but got {}.",
        target.name.unwrap_or("None"),
        python_repr(value)
    );
    if type_error {
        Error::TypeError(message)
    } else {
        Error::ValueError(message)
    }
}

/// Python's `int(value)`: floats and decimals truncate toward zero, strings must be integer
/// text.
pub(crate) fn to_python_int(target: &Target<'_>, value: &ScalarValue) -> Result<i128> {
    match value {
        ScalarValue::Int16(Some(v)) => Ok(i128::from(*v)),
        ScalarValue::Int32(Some(v)) => Ok(i128::from(*v)),
        ScalarValue::Int64(Some(v)) => Ok(i128::from(*v)),
        ScalarValue::Boolean(Some(b)) => Ok(i128::from(*b)),
        ScalarValue::Float64(Some(f)) if f.is_finite() => Ok(f.trunc() as i128),
        ScalarValue::Float64(Some(_)) => Err(expected_number(target, value, false)),
        ScalarValue::Decimal128(Some(v), _, scale) => {
            let power = 10i128.checked_pow(u32::from(scale.unsigned_abs()));
            match (*scale >= 0, power) {
                (true, Some(p)) => Ok(v / p),
                // More fraction digits than an i128 holds: the integer part is 0.
                (true, None) => Ok(0),
                (false, Some(p)) => v
                    .checked_mul(p)
                    .ok_or_else(|| expected_number(target, value, false)),
                (false, None) => Err(expected_number(target, value, false)),
            }
        }
        ScalarValue::Utf8(Some(s)) => {
            parse_python_int(s).ok_or_else(|| expected_number(target, value, false))
        }
        _ => Err(expected_number(target, value, true)),
    }
}

fn parse_python_int(text: &str) -> Option<i128> {
    let text = text.trim();
    let (sign, digits) = match text.as_bytes().first()? {
        b'-' => (-1, &text[1..]),
        b'+' => (1, &text[1..]),
        _ => (1, text),
    };
    let bytes = digits.as_bytes();
    if bytes.is_empty() || !bytes[0].is_ascii_digit() || !bytes[bytes.len() - 1].is_ascii_digit() {
        return None;
    }
    let mut n: i128 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'0'..=b'9' => n = n.checked_mul(10)?.checked_add(i128::from(b - b'0'))?,
            b'_' if bytes[i - 1] != b'_' => {}
            _ => return None,
        }
    }
    Some(sign * n)
}

/// Python's `float(value)`.
fn to_float(target: &Target<'_>, value: &ScalarValue) -> Result<f64> {
    match value {
        ScalarValue::Float64(Some(f)) => Ok(*f),
        ScalarValue::Int16(Some(v)) => Ok(f64::from(*v)),
        ScalarValue::Int32(Some(v)) => Ok(f64::from(*v)),
        ScalarValue::Int64(Some(v)) => Ok(*v as f64),
        ScalarValue::Boolean(Some(b)) => Ok(if *b { 1.0 } else { 0.0 }),
        ScalarValue::Decimal128(Some(v), _, s) => Ok(Decimal::new(*v, *s).to_f64()),
        ScalarValue::Utf8(Some(s)) => s
            .trim()
            .replace('_', "")
            .parse::<f64>()
            .map_err(|_| expected_number(target, value, false)),
        _ => Err(expected_number(target, value, true)),
    }
}

/// `DecimalField.to_python`: floats are rounded to the field's `max_digits` significant
/// digits (Python's `Context(prec=max_digits).create_decimal_from_float`).
fn to_decimal(value: &ScalarValue, max_digits: u8) -> Result<Decimal> {
    let invalid = || invalid_decimal(&python_str(value));
    match value {
        ScalarValue::Decimal128(Some(v), _, s) => Ok(Decimal::new(*v, *s)),
        ScalarValue::Int16(Some(v)) => Ok(Decimal::new(i128::from(*v), 0)),
        ScalarValue::Int32(Some(v)) => Ok(Decimal::new(i128::from(*v), 0)),
        ScalarValue::Int64(Some(v)) => Ok(Decimal::new(i128::from(*v), 0)),
        ScalarValue::Boolean(Some(b)) => Ok(Decimal::new(i128::from(*b), 0)),
        ScalarValue::Float64(Some(f)) if f.is_finite() => {
            let digits = usize::from(max_digits.max(1) - 1);
            Decimal::parse(&format!("{f:.digits$e}")).map_err(|_| invalid())
        }
        ScalarValue::Utf8(Some(s)) => Decimal::parse(s),
        _ => Err(invalid()),
    }
}

/// `BooleanField.to_python`.
fn to_bool(target: &Target<'_>, value: &ScalarValue) -> Result<bool> {
    let truth = match value {
        ScalarValue::Boolean(Some(b)) => Some(*b),
        ScalarValue::Utf8(Some(s)) => match s.as_str() {
            "t" | "True" | "1" => Some(true),
            "f" | "False" | "0" => Some(false),
            _ => None,
        },
        // 1 and 0 compare equal to True and False in Python.
        other => match to_python_number(other) {
            Some(n) if n == 1.0 || n == 0.0 => Some(n == 1.0),
            _ => None,
        },
    };
    truth.ok_or_else(|| {
        let choices = if target.nullable {
            "True, False, or None"
        } else {
            "True or False"
        };
        Error::ValidationError(format!(
            "“{}” value must be either {choices}.",
            python_str(value)
        ))
    })
}

fn to_python_number(value: &ScalarValue) -> Option<f64> {
    match value {
        ScalarValue::Int16(Some(v)) => Some(f64::from(*v)),
        ScalarValue::Int32(Some(v)) => Some(f64::from(*v)),
        ScalarValue::Int64(Some(v)) => Some(*v as f64),
        ScalarValue::Float64(Some(f)) => Some(*f),
        ScalarValue::Decimal128(Some(v), _, s) => Some(Decimal::new(*v, *s).to_f64()),
        _ => None,
    }
}

/// `DateField.to_python`.
fn to_date(value: &ScalarValue) -> Result<NaiveDate> {
    match value {
        ScalarValue::Date32(Some(days)) => date_from_days(*days),
        ScalarValue::TimestampMicrosecond(Some(us)) => Ok(datetime_from_micros(*us)?.date()),
        ScalarValue::Utf8(Some(s)) => match parse_date(s) {
            Parsed::Valid(d) => Ok(d),
            Parsed::InvalidValue => Err(Error::ValidationError(format!(
                "“{s}” value has the correct format (YYYY-MM-DD) but it is an invalid date."
            ))),
            Parsed::NoMatch => Err(invalid_date_format(s)),
        },
        other => Err(invalid_date_format(&python_str(other))),
    }
}

fn invalid_date_format(text: &str) -> Error {
    Error::ValidationError(format!(
        "“{text}” value has an invalid date format. It must be in YYYY-MM-DD format."
    ))
}

/// `DateTimeField.to_python`, as microseconds since the epoch (UTC).
fn to_datetime(value: &ScalarValue) -> Result<i64> {
    let invalid = |text: &str| {
        Error::ValidationError(format!(
            "“{text}” value has an invalid format. It must be in \
             YYYY-MM-DD HH:MM[:ss[.uuuuuu]][TZ] format."
        ))
    };
    match value {
        ScalarValue::TimestampMicrosecond(Some(us)) => Ok(*us),
        ScalarValue::Date32(Some(days)) => Ok(micros_of(date_from_days(*days)?.into())),
        ScalarValue::Utf8(Some(s)) => match parse_datetime(s) {
            Parsed::Valid(micros) => Ok(micros),
            Parsed::InvalidValue => Err(Error::ValidationError(format!(
                "“{s}” value has the correct format (YYYY-MM-DD HH:MM[:ss[.uuuuuu]][TZ]) \
                 but it is an invalid date/time."
            ))),
            Parsed::NoMatch => match parse_date(s) {
                Parsed::Valid(d) => Ok(micros_of(d.into())),
                Parsed::InvalidValue => Err(Error::ValidationError(format!(
                    "“{s}” value has the correct format (YYYY-MM-DD) but it is an invalid date."
                ))),
                Parsed::NoMatch => Err(invalid(s)),
            },
        },
        other => Err(invalid(&python_str(other))),
    }
}

/// `TimeField.to_python`.
fn to_time(value: &ScalarValue) -> Result<NaiveTime> {
    let invalid = |text: &str| {
        Error::ValidationError(format!(
            "“{text}” value has an invalid format. It must be in HH:MM[:ss[.uuuuuu]] format."
        ))
    };
    match value {
        ScalarValue::Time64Microsecond(Some(us)) => time_from_micros(*us),
        ScalarValue::TimestampMicrosecond(Some(us)) => Ok(datetime_from_micros(*us)?.time()),
        ScalarValue::Utf8(Some(s)) => {
            let mut cursor = Cursor::new(s);
            match cursor.time().filter(|_| cursor.at_end()) {
                Some(Parsed::Valid(t)) => Ok(t),
                Some(_) => Err(Error::ValidationError(format!(
                    "“{s}” value has the correct format (HH:MM[:ss[.uuuuuu]]) but it is an \
                     invalid time."
                ))),
                None => Err(invalid(s)),
            }
        }
        other => Err(invalid(&python_str(other))),
    }
}

/// `DurationField.to_python` for Django's standard format `[DD] [[HH:]MM:]ss[.uuuuuu]`,
/// as microseconds.
fn to_duration(value: &ScalarValue) -> Result<i64> {
    let invalid = |text: &str| {
        Error::ValidationError(format!(
            "“{text}” value has an invalid format. It must be in [DD] [[HH:]MM:]ss[.uuuuuu] \
             format."
        ))
    };
    match value {
        ScalarValue::DurationMicrosecond(Some(us)) => Ok(*us),
        ScalarValue::Utf8(Some(s)) => parse_duration(s).ok_or_else(|| invalid(s)),
        other => Err(invalid(&python_str(other))),
    }
}

fn parse_duration(text: &str) -> Option<i64> {
    // "[-]D day[s], " or "D " prefix, as Python's str(timedelta) and Django's regex allow.
    let (days, clock) = match text.split_once(' ') {
        Some((days, rest)) => {
            let rest = rest
                .strip_prefix("days, ")
                .or_else(|| rest.strip_prefix("day, "))
                .unwrap_or(rest);
            (days.parse::<i64>().ok()?, rest)
        }
        None => (0, text),
    };
    let (negative, clock) = match clock.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, clock),
    };
    let (whole, fraction) = match clock.split_once(['.', ',']) {
        Some((w, f)) => (w, Some(f)),
        None => (clock, None),
    };
    let fields: Vec<&str> = whole.split(':').collect();
    if fields.len() > 3
        || fields
            .iter()
            .any(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut seconds: i64 = 0;
    for f in &fields {
        seconds = seconds
            .checked_mul(60)?
            .checked_add(f.parse::<i64>().ok()?)?;
    }
    let micros = match fraction {
        Some(f) => fraction_micros(f)?,
        None => 0,
    };
    let clock_micros = seconds.checked_mul(1_000_000)?.checked_add(micros)?;
    let clock_micros = if negative {
        -clock_micros
    } else {
        clock_micros
    };
    days.checked_mul(86_400_000_000)?.checked_add(clock_micros)
}

/// Up to 12 fraction digits, of which the first six are microseconds (Django's regex).
fn fraction_micros(digits: &str) -> Option<i64> {
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let six: String = digits.chars().chain("000000".chars()).take(6).collect();
    six.parse().ok()
}

/// The outcome of parsing date/time text: Django tells "wrong format" from "right format,
/// impossible value".
#[derive(Debug, Clone, Copy, PartialEq)]
enum Parsed<T> {
    Valid(T),
    InvalidValue,
    NoMatch,
}

/// Django's `parse_date`: `date.fromisoformat` (`YYYY-MM-DD`, `YYYYMMDD`) or its regex
/// `\d{4}-\d{1,2}-\d{1,2}$`.
fn parse_date(text: &str) -> Parsed<NaiveDate> {
    let mut cursor = Cursor::new(text);
    match cursor.date() {
        Some(parsed) if cursor.at_end() => parsed,
        _ => Parsed::NoMatch,
    }
}

/// Django's `parse_datetime`: a date, `T` or a space, `HH:MM[:ss[.uuuuuu]]`, an optional
/// `Z`/`±HH[:MM]` offset (converted to UTC). A bare date is not a match here.
fn parse_datetime(text: &str) -> Parsed<i64> {
    let mut cursor = Cursor::new(text);
    let Some(date) = cursor.date() else {
        return Parsed::NoMatch;
    };
    if !cursor.eat(b'T') && !cursor.eat(b' ') {
        return Parsed::NoMatch;
    }
    let Some(time) = cursor.time() else {
        return Parsed::NoMatch;
    };
    while cursor.eat(b' ') {}
    let Some(offset) = cursor.offset() else {
        return Parsed::NoMatch;
    };
    if !cursor.at_end() {
        return Parsed::NoMatch;
    }
    match (date, time, offset) {
        (Parsed::Valid(d), Parsed::Valid(t), Parsed::Valid(offset_minutes)) => {
            let local = micros_of(d.and_time(t));
            Parsed::Valid(local - offset_minutes * 60_000_000)
        }
        _ => Parsed::InvalidValue,
    }
}

/// A tiny scanner for the date/time formats Django's `dateparse` accepts.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Cursor<'a> {
        Cursor {
            bytes: text.as_bytes(),
            at: 0,
        }
    }

    fn at_end(&self) -> bool {
        self.at == self.bytes.len()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.bytes.get(self.at) == Some(&b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// Between `min` and `max` digits.
    fn digits(&mut self, min: usize, max: usize) -> Option<u64> {
        let start = self.at;
        while self.at < self.bytes.len()
            && self.at - start < max
            && self.bytes[self.at].is_ascii_digit()
        {
            self.at += 1;
        }
        if self.at - start < min {
            self.at = start;
            return None;
        }
        std::str::from_utf8(&self.bytes[start..self.at])
            .ok()?
            .parse()
            .ok()
    }

    /// `YYYY-M[M]-D[D]` or `YYYYMMDD`.
    fn date(&mut self) -> Option<Parsed<NaiveDate>> {
        let start = self.at;
        let year = self.digits(4, 4)?;
        let (month, day) = if self.eat(b'-') {
            let month = self.digits(1, 2)?;
            if !self.eat(b'-') {
                self.at = start;
                return None;
            }
            (month, self.digits(1, 2)?)
        } else {
            (self.digits(2, 2)?, self.digits(2, 2)?)
        };
        let valid = i32::try_from(year)
            .ok()
            .filter(|y| *y >= 1)
            .zip(u32::try_from(month).ok().zip(u32::try_from(day).ok()))
            .and_then(|(y, (m, d))| NaiveDate::from_ymd_opt(y, m, d));
        Some(match valid {
            Some(d) => Parsed::Valid(d),
            None => Parsed::InvalidValue,
        })
    }

    /// `H[H]:M[M][:S[S][.ffffff…]]`.
    fn time(&mut self) -> Option<Parsed<NaiveTime>> {
        let hour = self.digits(1, 2)?;
        if !self.eat(b':') {
            return None;
        }
        let minute = self.digits(1, 2)?;
        let (mut second, mut micros) = (0, 0);
        if self.eat(b':') {
            second = self.digits(1, 2)?;
            if self.eat(b'.') || self.eat(b',') {
                let start = self.at;
                self.digits(1, 12)?;
                let text = std::str::from_utf8(&self.bytes[start..self.at]).ok()?;
                micros = u64::try_from(fraction_micros(text)?).ok()?;
            }
        }
        let to_u32 = |n: u64| u32::try_from(n).ok();
        let time = match (to_u32(hour), to_u32(minute), to_u32(second), to_u32(micros)) {
            (Some(h), Some(m), Some(s), Some(us)) => NaiveTime::from_hms_micro_opt(h, m, s, us),
            _ => None,
        };
        Some(match time {
            Some(t) => Parsed::Valid(t),
            None => Parsed::InvalidValue,
        })
    }

    /// An optional `Z` or `±HH[[:]MM]`, as minutes east of UTC.
    fn offset(&mut self) -> Option<Parsed<i64>> {
        if self.at_end() {
            return Some(Parsed::Valid(0));
        }
        if self.eat(b'Z') {
            return Some(Parsed::Valid(0));
        }
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return None;
        };
        let hours = i64::try_from(self.digits(2, 2)?).ok()?;
        self.eat(b':');
        let minutes = i64::try_from(self.digits(2, 2).unwrap_or(0)).ok()?;
        if hours > 23 || minutes > 59 {
            return Some(Parsed::InvalidValue);
        }
        Some(Parsed::Valid(sign * (hours * 60 + minutes)))
    }
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// A date as the engine's `Date32` literal.
pub(crate) fn date_value(d: NaiveDate) -> ScalarValue {
    let days = d.signed_duration_since(epoch()).num_days();
    ScalarValue::Date32(i32::try_from(days).ok())
}

/// A time of day as the engine's `Time64(µs)` literal.
pub(crate) fn time_value(t: NaiveTime) -> ScalarValue {
    let micros = i64::from(t.num_seconds_from_midnight()) * 1_000_000
        + i64::from(t.nanosecond() % 1_000_000_000) / 1000;
    ScalarValue::Time64Microsecond(Some(micros))
}

/// Microseconds since the epoch.
pub(crate) fn micros_of(d: NaiveDateTime) -> i64 {
    d.and_utc().timestamp_micros()
}

fn out_of_range(what: &str) -> Error {
    Error::ValueError(format!("{what} is out of range"))
}

pub(crate) fn date_from_days(days: i32) -> Result<NaiveDate> {
    epoch()
        .checked_add_signed(TimeDelta::days(i64::from(days)))
        .ok_or_else(|| out_of_range("date"))
}

pub(crate) fn datetime_from_micros(micros: i64) -> Result<NaiveDateTime> {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|d| d.naive_utc())
        .ok_or_else(|| out_of_range("datetime"))
}

fn time_from_micros(micros: i64) -> Result<NaiveTime> {
    let seconds = u32::try_from(micros.div_euclid(1_000_000)).map_err(|_| out_of_range("time"))?;
    let nanos =
        u32::try_from(micros.rem_euclid(1_000_000) * 1000).map_err(|_| out_of_range("time"))?;
    NaiveTime::from_num_seconds_from_midnight_opt(seconds, nanos)
        .ok_or_else(|| out_of_range("time"))
}

/// Python's `str(value)`: what `__contains=5` searches for, and what a `CharField` lookup
/// compares with.
pub(crate) fn python_str(value: &ScalarValue) -> String {
    match value {
        _ if value.is_null() => "None".to_string(),
        ScalarValue::Boolean(Some(b)) => (if *b { "True" } else { "False" }).to_string(),
        ScalarValue::Float64(Some(f)) => python_float(*f),
        ScalarValue::Decimal128(Some(v), _, s) => Decimal::new(*v, *s).to_string(),
        ScalarValue::TimestampMicrosecond(Some(us)) => match datetime_from_micros(*us) {
            Ok(d) if d.nanosecond() == 0 => d.format("%Y-%m-%d %H:%M:%S").to_string(),
            Ok(d) => d.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
            Err(_) => value.to_string(),
        },
        ScalarValue::DurationMicrosecond(Some(us)) => python_timedelta(*us),
        other => other.to_string(),
    }
}

/// Python's `repr(value)`, as Django quotes values in its messages (`'abc'`,
/// `datetime.date(2024, 1, 5)`, `Decimal('1.5')`).
pub(crate) fn python_repr(value: &ScalarValue) -> String {
    match value {
        _ if value.is_null() => "None".to_string(),
        ScalarValue::Utf8(Some(s)) => python_str_repr(s),
        ScalarValue::Decimal128(Some(v), _, s) => format!("Decimal('{}')", Decimal::new(*v, *s)),
        ScalarValue::Date32(Some(days)) => match date_from_days(*days) {
            Ok(d) => format!("datetime.date({}, {}, {})", d.year(), d.month(), d.day()),
            Err(_) => value.to_string(),
        },
        ScalarValue::TimestampMicrosecond(Some(us)) => match datetime_from_micros(*us) {
            Ok(d) => {
                let mut parts = vec![
                    d.year().to_string(),
                    d.month().to_string(),
                    d.day().to_string(),
                    d.hour().to_string(),
                    d.minute().to_string(),
                ];
                let micros = d.nanosecond() / 1000;
                if d.second() != 0 || micros != 0 {
                    parts.push(d.second().to_string());
                }
                if micros != 0 {
                    parts.push(micros.to_string());
                }
                format!("datetime.datetime({})", parts.join(", "))
            }
            Err(_) => value.to_string(),
        },
        ScalarValue::Time64Microsecond(Some(us)) => match time_from_micros(*us) {
            Ok(t) => {
                let mut parts = vec![t.hour().to_string(), t.minute().to_string()];
                let micros = t.nanosecond() / 1000;
                if t.second() != 0 || micros != 0 {
                    parts.push(t.second().to_string());
                }
                if micros != 0 {
                    parts.push(micros.to_string());
                }
                format!("datetime.time({})", parts.join(", "))
            }
            Err(_) => value.to_string(),
        },
        ScalarValue::DurationMicrosecond(Some(us)) => {
            let (days, rest) = (us.div_euclid(86_400_000_000), us.rem_euclid(86_400_000_000));
            let (seconds, micros) = (rest / 1_000_000, rest % 1_000_000);
            let mut parts = Vec::new();
            if days != 0 {
                parts.push(format!("days={days}"));
            }
            if seconds != 0 {
                parts.push(format!("seconds={seconds}"));
            }
            if micros != 0 {
                parts.push(format!("microseconds={micros}"));
            }
            if parts.is_empty() {
                "datetime.timedelta(0)".to_string()
            } else {
                format!("datetime.timedelta({})", parts.join(", "))
            }
        }
        other => python_str(other),
    }
}

/// Python's `repr(str)`: single quotes unless the text holds a single quote and no double
/// quote. Shared with the script frontend, whose output must read as Python's.
pub fn python_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `repr(float)`: the shortest round-tripping digits, positional for exponents -4..16,
/// scientific (`1e+16`, `1e-05`) outside. Shared with the script frontend.
pub fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let scientific = format!("{f:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..16).contains(&exponent) {
        let text = f.to_string();
        if text.contains('.') {
            text
        } else {
            format!("{text}.0")
        }
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

/// `str(timedelta)`: `[-]D day[s], H:MM:SS[.ffffff]` with a non-negative clock.
fn python_timedelta(micros: i64) -> String {
    let (days, rest) = (
        micros.div_euclid(86_400_000_000),
        micros.rem_euclid(86_400_000_000),
    );
    let (seconds, fraction) = (rest / 1_000_000, rest % 1_000_000);
    let clock = format!(
        "{}:{:02}:{:02}",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    );
    let clock = if fraction == 0 {
        clock
    } else {
        format!("{clock}.{fraction:06}")
    };
    match days {
        0 => clock,
        1 | -1 => format!("{days} day, {clock}"),
        d => format!("{d} days, {clock}"),
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::TimeUnit;

    use super::*;

    fn prep(data_type: DataType, value: impl Into<ScalarValue>) -> Result<Prepared> {
        let target = Target::new(&data_type, None, Some("age"), false);
        prepare(&target, &value.into())
    }

    fn value(data_type: DataType, v: impl Into<ScalarValue>) -> String {
        match prep(data_type, v) {
            Ok(p) => format!("{:?}", p.value),
            Err(e) => format!("{}: {e}", e.django_name()),
        }
    }

    #[test]
    fn integers_follow_python_int() {
        assert_eq!(value(DataType::Int32, "42"), "Int32(Some(42))");
        assert_eq!(value(DataType::Int32, " -4_2 "), "Int32(Some(-42))");
        assert_eq!(value(DataType::Int16, 1.9), "Int16(Some(1))");
        assert_eq!(value(DataType::Int16, -1.9), "Int16(Some(-1))");
        assert_eq!(value(DataType::Int64, true), "Int64(Some(1))");
        assert_eq!(
            value(DataType::Int32, ScalarValue::Decimal128(Some(-199), 5, 2)),
            "Int32(Some(-1))"
        );
        assert_eq!(
            value(DataType::Int32, "abc"),
            "ValueError: Field 'age' expected a number but got 'abc'."
        );
        assert_eq!(
            value(DataType::Int32, "4.2"),
            "ValueError: Field 'age' expected a number but got '4.2'."
        );
        assert_eq!(
            value(DataType::Int32, ScalarValue::Date32(Some(19727))),
            "TypeError: Field 'age' expected a number but got datetime.date(2024, 1, 5)."
        );
        assert_eq!(
            value(DataType::Int32, f64::NAN),
            "ValueError: Field 'age' expected a number but got nan."
        );
    }

    #[test]
    fn integers_outside_the_field_are_flagged_and_widened() {
        let p = prep(DataType::Int16, 70_000i64).unwrap();
        assert_eq!(p.value, ScalarValue::Int32(Some(70_000)));
        assert_eq!(p.out_of_range, Some(Ordering::Greater));
        let p = prep(DataType::Int32, i64::MIN).unwrap();
        assert_eq!(p.value, ScalarValue::Int64(Some(i64::MIN)));
        assert_eq!(p.out_of_range, Some(Ordering::Less));
        let positive = FieldType::PositiveIntegerField;
        let target = Target::new(&DataType::Int32, Some(&positive), None, false);
        let p = prepare(&target, &ScalarValue::Int32(Some(-1))).unwrap();
        assert_eq!(
            (p.value, p.out_of_range),
            (ScalarValue::Int32(Some(-1)), Some(Ordering::Less))
        );
        let huge = prep(DataType::Int64, "100000000000000000000").unwrap();
        assert_eq!(
            huge.value,
            ScalarValue::Decimal128(Some(100000000000000000000), 21, 0)
        );
        assert_eq!(huge.out_of_range, Some(Ordering::Greater));
    }

    #[test]
    fn floats_and_decimals() {
        assert_eq!(value(DataType::Float64, "1.5"), "Float64(Some(1.5))");
        assert_eq!(value(DataType::Float64, 2i32), "Float64(Some(2.0))");
        assert_eq!(
            value(DataType::Float64, "x"),
            "ValueError: Field 'age' expected a number but got 'x'."
        );
        assert_eq!(
            value(DataType::Decimal128(10, 2), 100i32),
            "Decimal128(Some(100), 3, 0)"
        );
        assert_eq!(
            value(DataType::Decimal128(10, 2), "12.50"),
            "Decimal128(Some(1250), 4, 2)"
        );
        // Python: Context(prec=10).create_decimal_from_float(0.1) == Decimal('0.1000000000').
        assert_eq!(
            value(DataType::Decimal128(10, 2), 0.1),
            "Decimal128(Some(1000000000), 10, 10)"
        );
        assert_eq!(
            value(DataType::Decimal128(5, 2), 12.5),
            "Decimal128(Some(12500), 5, 3)"
        );
        assert_eq!(
            value(DataType::Decimal128(10, 2), "abc"),
            "ValidationError: “abc” value must be a decimal number."
        );
    }

    #[test]
    fn booleans_strings_and_none() {
        assert_eq!(value(DataType::Boolean, "t"), "Boolean(Some(true))");
        assert_eq!(value(DataType::Boolean, 0i64), "Boolean(Some(false))");
        assert_eq!(
            value(DataType::Boolean, "yes"),
            "ValidationError: “yes” value must be either True or False."
        );
        let target = Target::new(&DataType::Boolean, None, None, true);
        assert_eq!(
            prepare(&target, &ScalarValue::Int64(Some(2)))
                .unwrap_err()
                .to_string(),
            "“2” value must be either True, False, or None."
        );
        assert_eq!(value(DataType::Utf8, 5i32), "Utf8(Some(\"5\"))");
        assert_eq!(value(DataType::Utf8, true), "Utf8(Some(\"True\"))");
        assert_eq!(value(DataType::Utf8, 1.0), "Utf8(Some(\"1.0\"))");
        assert_eq!(value(DataType::Int32, ScalarValue::Null), "Int32(None)");
    }

    #[test]
    fn dates_and_times_parse_like_dateparse() {
        assert_eq!(value(DataType::Date32, "2024-01-05"), "Date32(Some(19727))");
        assert_eq!(value(DataType::Date32, "2024-1-5"), "Date32(Some(19727))");
        assert_eq!(value(DataType::Date32, "20240105"), "Date32(Some(19727))");
        assert_eq!(
            value(DataType::Date32, "2024-02-30"),
            "ValidationError: “2024-02-30” value has the correct format (YYYY-MM-DD) but it is an invalid date."
        );
        assert_eq!(
            value(DataType::Date32, "2025-04-14 14:30:00"),
            "ValidationError: “2025-04-14 14:30:00” value has an invalid date format. It must be in YYYY-MM-DD format."
        );
        // A datetime given for a date keeps its date.
        assert_eq!(
            value(
                DataType::Date32,
                ScalarValue::TimestampMicrosecond(Some(19727 * 86_400_000_000 + 3_600_000_000))
            ),
            "Date32(Some(19727))"
        );
        let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
        let jan5 = 19727 * 86_400_000_000i64;
        assert_eq!(
            value(ts.clone(), "2024-01-05"),
            format!("TimestampMicrosecond(Some({jan5}))")
        );
        assert_eq!(
            value(ts.clone(), "2024-01-05T10:30"),
            format!("TimestampMicrosecond(Some({}))", jan5 + 37_800_000_000)
        );
        assert_eq!(
            value(ts.clone(), "2024-01-05 10:30:00.5+01:00"),
            format!("TimestampMicrosecond(Some({}))", jan5 + 34_200_500_000)
        );
        assert_eq!(
            value(ts.clone(), "2011-10-32 10:10"),
            "ValidationError: “2011-10-32 10:10” value has the correct format (YYYY-MM-DD HH:MM[:ss[.uuuuuu]][TZ]) but it is an invalid date/time."
        );
        assert_eq!(
            value(ts.clone(), "2011-10-32"),
            "ValidationError: “2011-10-32” value has the correct format (YYYY-MM-DD) but it is an invalid date."
        );
        assert_eq!(
            value(ts, "fõo"),
            "ValidationError: “fõo” value has an invalid format. It must be in YYYY-MM-DD HH:MM[:ss[.uuuuuu]][TZ] format."
        );
        let time = DataType::Time64(TimeUnit::Microsecond);
        assert_eq!(
            value(time.clone(), "9:05"),
            "Time64Microsecond(Some(32700000000))"
        );
        assert_eq!(
            value(time.clone(), "25:00"),
            "ValidationError: “25:00” value has the correct format (HH:MM[:ss[.uuuuuu]]) but it is an invalid time."
        );
        assert_eq!(
            value(time, "noon"),
            "ValidationError: “noon” value has an invalid format. It must be in HH:MM[:ss[.uuuuuu]] format."
        );
        let duration = DataType::Duration(TimeUnit::Microsecond);
        assert_eq!(
            value(duration.clone(), "1 day, 0:00:05"),
            "DurationMicrosecond(Some(86405000000))"
        );
        assert_eq!(
            value(duration.clone(), "1:30"),
            "DurationMicrosecond(Some(90000000))"
        );
        assert_eq!(
            value(duration, "soon"),
            "ValidationError: “soon” value has an invalid format. It must be in [DD] [[HH:]MM:]ss[.uuuuuu] format."
        );
    }

    #[test]
    fn values_for_model_fields() {
        use crate::model::{
            DateField, ForeignKey, OnDelete, PositiveIntegerField, SmallIntegerField,
        };
        assert_eq!(
            get_prep_value(&SmallIntegerField::new(), "n", &"12".into()).unwrap(),
            ScalarValue::Int16(Some(12))
        );
        assert_eq!(
            get_prep_value(&DateField::new(), "d", &"2024-01-05".into()).unwrap(),
            ScalarValue::Date32(Some(19727))
        );
        let err = get_prep_value(
            &SmallIntegerField::new(),
            "n",
            &ScalarValue::Int64(Some(40_000)),
        )
        .unwrap_err();
        assert_eq!(
            (err.django_name(), err.to_string()),
            ("DataError", "smallint out of range".to_string())
        );
        let err = get_prep_value(
            &PositiveIntegerField::new(),
            "rank",
            &ScalarValue::Int32(Some(-1)),
        )
        .unwrap_err();
        assert_eq!(err.django_name(), "IntegrityError");
        let fk = ForeignKey::new("Customer", OnDelete::Cascade);
        assert_eq!(
            get_prep_value(&fk, "customer", &"x".into())
                .unwrap_err()
                .to_string(),
            "Field 'id' expected a number but got 'x'."
        );
    }

    #[test]
    fn python_text_of_values() {
        assert_eq!(python_repr(&"it's".into()), "\"it's\"");
        assert_eq!(python_repr(&"a'b\"".into()), "'a\\'b\"'");
        assert_eq!(
            python_repr(&ScalarValue::Decimal128(Some(150), 3, 2)),
            "Decimal('1.50')"
        );
        assert_eq!(
            python_repr(&ScalarValue::TimestampMicrosecond(Some(
                19727 * 86_400_000_000
            ))),
            "datetime.datetime(2024, 1, 5, 0, 0)"
        );
        assert_eq!(
            python_repr(&ScalarValue::DurationMicrosecond(Some(86_405_000_000))),
            "datetime.timedelta(days=1, seconds=5)"
        );
        assert_eq!(
            python_repr(&ScalarValue::Time64Microsecond(Some(0))),
            "datetime.time(0, 0)"
        );
        assert_eq!(python_float(1e16), "1e+16");
        assert_eq!(python_float(0.00001), "1e-05");
        assert_eq!(python_float(123.0), "123.0");
        assert_eq!(python_float(0.1), "0.1");
        assert_eq!(python_timedelta(-1_000_000), "-1 day, 23:59:59");
        assert_eq!(
            python_str(&ScalarValue::TimestampMicrosecond(Some(
                19727 * 86_400_000_000 + 1
            ))),
            "2024-01-05 00:00:00.000001"
        );
    }
}
