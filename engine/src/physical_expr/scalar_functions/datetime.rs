//! Date-part extraction and truncation, as Django's transforms compile them on PostgreSQL:
//! `__week_day` is `EXTRACT(DOW) + 1` (Sunday = 1 … Saturday = 7), `__iso_week_day` is
//! `ISODOW` (Monday = 1), `__week` and `__iso_year` are ISO 8601's, `__second` is whole
//! seconds, and `Trunc('week')` goes back to Monday. Timestamps carry no time zone (UTC);
//! instants before 1970 are floored to their own day, not truncated toward the epoch.
//! A date has hour, minute and second 0; a time of day has only those parts.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Date32Array, Int32Array, PrimitiveArray};
use arrow::datatypes::{
    DataType, Date32Type, Time64MicrosecondType, TimeUnit, TimestampMicrosecondType,
};
use arrow::error::ArrowError;
use chrono::{Datelike, NaiveDate};

use crate::error::{EngineError, Result};
use crate::expr::{DatePart, TruncUnit};
use crate::physical_expr::text::MICROS_PER_DAY;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_MINUTE: i64 = 60 * MICROS_PER_SECOND;
const MICROS_PER_HOUR: i64 = 60 * MICROS_PER_MINUTE;
/// Days from 0001-01-01 (chrono's day 1) to 1970-01-01.
const UNIX_EPOCH_FROM_CE: i32 = 719_163;

fn out_of_range() -> ArrowError {
    ArrowError::ArithmeticOverflow("date".to_string())
}

fn to_date(days: i32) -> Result<NaiveDate, ArrowError> {
    days.checked_add(UNIX_EPOCH_FROM_CE)
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .ok_or_else(out_of_range)
}

fn from_date(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - UNIX_EPOCH_FROM_CE
}

/// A date part of a calendar day.
fn date_part(days: i32, part: DatePart) -> Result<i32, ArrowError> {
    let date = to_date(days)?;
    Ok(match part {
        DatePart::Year => date.year(),
        DatePart::IsoYear => date.iso_week().year(),
        DatePart::Quarter => (date.month0() / 3 + 1) as i32,
        DatePart::Month => date.month() as i32,
        DatePart::Week => date.iso_week().week() as i32,
        DatePart::Day => date.day() as i32,
        DatePart::WeekDay => date.weekday().num_days_from_sunday() as i32 + 1,
        DatePart::IsoWeekDay => date.weekday().number_from_monday() as i32,
        DatePart::DayOfYear => date.ordinal() as i32,
        DatePart::Hour | DatePart::Minute | DatePart::Second => 0,
    })
}

/// A part of a time of day given in microseconds since midnight.
fn time_part(micros: i64, part: DatePart) -> i32 {
    let part = match part {
        DatePart::Hour => micros / MICROS_PER_HOUR,
        DatePart::Minute => micros / MICROS_PER_MINUTE % 60,
        DatePart::Second => micros / MICROS_PER_SECOND % 60,
        _ => 0,
    };
    part as i32
}

fn split_timestamp(micros: i64) -> Result<(i32, i64), ArrowError> {
    let days = i32::try_from(micros.div_euclid(MICROS_PER_DAY)).map_err(|_| out_of_range())?;
    Ok((days, micros.rem_euclid(MICROS_PER_DAY)))
}

fn unsupported(what: &str, data_type: &DataType) -> EngineError {
    EngineError::Internal(format!("{what} planned on {data_type}"))
}

/// `EXTRACT(part FROM x)` as an integer.
pub fn extract(array: &ArrayRef, part: DatePart) -> Result<ArrayRef> {
    let is_time_part = matches!(part, DatePart::Hour | DatePart::Minute | DatePart::Second);
    let out: Int32Array = match array.data_type() {
        DataType::Null => Int32Array::new_null(array.len()),
        DataType::Date32 => array
            .as_primitive::<Date32Type>()
            .try_unary(|d| date_part(d, part))?,
        DataType::Timestamp(TimeUnit::Microsecond, _) => array
            .as_primitive::<TimestampMicrosecondType>()
            .try_unary(|v| {
                let (days, time) = split_timestamp(v)?;
                if is_time_part {
                    Ok(time_part(time, part))
                } else {
                    date_part(days, part)
                }
            })?,
        DataType::Time64(TimeUnit::Microsecond) if is_time_part => array
            .as_primitive::<Time64MicrosecondType>()
            .unary(|v| time_part(v.rem_euclid(MICROS_PER_DAY), part)),
        other => return Err(unsupported("extract", other)),
    };
    Ok(Arc::new(out))
}

/// The first day of the period `unit` that contains `days`.
fn trunc_date(days: i32, unit: TruncUnit) -> Result<i32, ArrowError> {
    let date = to_date(days)?;
    let first = match unit {
        TruncUnit::Year => NaiveDate::from_ymd_opt(date.year(), 1, 1),
        TruncUnit::Quarter => NaiveDate::from_ymd_opt(date.year(), date.month0() / 3 * 3 + 1, 1),
        TruncUnit::Month => NaiveDate::from_ymd_opt(date.year(), date.month(), 1),
        TruncUnit::Week => {
            return Ok(days - date.weekday().num_days_from_monday() as i32);
        }
        TruncUnit::Day | TruncUnit::Hour | TruncUnit::Minute | TruncUnit::Second => {
            return Ok(days)
        }
    };
    first.map(from_date).ok_or_else(out_of_range)
}

/// Microseconds in one `unit` of a time of day.
fn clock_unit(unit: TruncUnit) -> Option<i64> {
    match unit {
        TruncUnit::Hour => Some(MICROS_PER_HOUR),
        TruncUnit::Minute => Some(MICROS_PER_MINUTE),
        TruncUnit::Second => Some(MICROS_PER_SECOND),
        _ => None,
    }
}

/// `date_trunc(unit, x)`, keeping the type of `x`.
pub fn trunc(array: &ArrayRef, unit: TruncUnit) -> Result<ArrayRef> {
    match array.data_type() {
        DataType::Null => Ok(Arc::clone(array)),
        DataType::Date32 => {
            let out: Date32Array = array
                .as_primitive::<Date32Type>()
                .try_unary(|d| trunc_date(d, unit))?;
            Ok(Arc::new(out))
        }
        data_type @ DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let stamps = array.as_primitive::<TimestampMicrosecondType>();
            let out: PrimitiveArray<TimestampMicrosecondType> = match clock_unit(unit) {
                Some(step) => stamps.try_unary(|v| {
                    v.checked_sub(v.rem_euclid(step))
                        .ok_or_else(|| ArrowError::ArithmeticOverflow("timestamp".to_string()))
                })?,
                None => stamps.try_unary(|v| {
                    let (days, _) = split_timestamp(v)?;
                    i64::from(trunc_date(days, unit)?)
                        .checked_mul(MICROS_PER_DAY)
                        .ok_or_else(|| ArrowError::ArithmeticOverflow("timestamp".to_string()))
                })?,
            };
            Ok(Arc::new(out.with_data_type(data_type.clone())))
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            let step = clock_unit(unit).ok_or_else(|| unsupported("trunc", array.data_type()))?;
            let out: PrimitiveArray<Time64MicrosecondType> =
                array.as_primitive::<Time64MicrosecondType>().unary(|v| {
                    let time = v.rem_euclid(MICROS_PER_DAY);
                    time - time % step
                });
            Ok(Arc::new(out))
        }
        other => Err(unsupported("trunc", other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Time64MicrosecondArray, TimestampMicrosecondArray};

    /// Days since the epoch of a calendar date.
    fn day(y: i32, m: u32, d: u32) -> i32 {
        from_date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    fn parts(array: ArrayRef, part: DatePart) -> Vec<Option<i32>> {
        extract(&array, part)
            .unwrap()
            .as_primitive::<arrow::datatypes::Int32Type>()
            .iter()
            .collect()
    }

    #[test]
    fn week_days_follow_django() {
        // 2024-01-07 is a Sunday, 2024-01-08 a Monday, 2024-01-13 a Saturday.
        let dates: ArrayRef = Arc::new(Date32Array::from(vec![
            Some(day(2024, 1, 7)),
            Some(day(2024, 1, 8)),
            Some(day(2024, 1, 13)),
            None,
        ]));
        assert_eq!(
            parts(Arc::clone(&dates), DatePart::WeekDay),
            vec![Some(1), Some(2), Some(7), None]
        );
        assert_eq!(
            parts(dates, DatePart::IsoWeekDay),
            vec![Some(7), Some(1), Some(6), None]
        );
    }

    #[test]
    fn iso_weeks_and_years_cross_new_year() {
        // 2021-01-03 (Sunday) belongs to ISO week 53 of 2020; 2024-12-30 to week 1 of 2025.
        let dates: ArrayRef = Arc::new(Date32Array::from(vec![
            day(2021, 1, 3),
            day(2024, 12, 30),
            day(2024, 5, 15),
        ]));
        assert_eq!(
            parts(Arc::clone(&dates), DatePart::Week),
            vec![Some(53), Some(1), Some(20)]
        );
        assert_eq!(
            parts(Arc::clone(&dates), DatePart::IsoYear),
            vec![Some(2020), Some(2025), Some(2024)]
        );
        assert_eq!(
            parts(Arc::clone(&dates), DatePart::Year),
            vec![Some(2021), Some(2024), Some(2024)]
        );
        assert_eq!(
            parts(Arc::clone(&dates), DatePart::Quarter),
            vec![Some(1), Some(4), Some(2)]
        );
        assert_eq!(
            parts(Arc::clone(&dates), DatePart::DayOfYear),
            vec![Some(3), Some(365), Some(136)]
        );
        assert_eq!(parts(dates, DatePart::Hour), vec![Some(0); 3]);
    }

    #[test]
    fn timestamp_parts_floor_before_the_epoch() {
        let micros = |d: i32, h: i64, m: i64, s: i64, us: i64| {
            i64::from(d) * MICROS_PER_DAY
                + h * MICROS_PER_HOUR
                + m * MICROS_PER_MINUTE
                + s * MICROS_PER_SECOND
                + us
        };
        let stamps: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![
            micros(day(2024, 3, 9), 13, 45, 30, 999_999),
            -1,
        ]));
        assert_eq!(
            parts(Arc::clone(&stamps), DatePart::Hour),
            vec![Some(13), Some(23)]
        );
        assert_eq!(
            parts(Arc::clone(&stamps), DatePart::Minute),
            vec![Some(45), Some(59)]
        );
        assert_eq!(
            parts(Arc::clone(&stamps), DatePart::Second),
            vec![Some(30), Some(59)]
        );
        assert_eq!(
            parts(Arc::clone(&stamps), DatePart::Day),
            vec![Some(9), Some(31)]
        );
        assert_eq!(parts(stamps, DatePart::Year), vec![Some(2024), Some(1969)]);
        let times: ArrayRef = Arc::new(Time64MicrosecondArray::from(vec![micros(0, 7, 5, 3, 0)]));
        assert_eq!(parts(times, DatePart::Minute), vec![Some(5)]);
    }

    #[test]
    fn trunc_keeps_the_type() {
        let dates: ArrayRef = Arc::new(Date32Array::from(vec![day(2024, 5, 15), day(2024, 1, 7)]));
        let expect = |unit, want: Vec<i32>| {
            let out = trunc(&dates, unit).unwrap();
            let got: Vec<i32> = out.as_primitive::<Date32Type>().values().to_vec();
            assert_eq!(got, want, "{unit:?}");
        };
        expect(TruncUnit::Year, vec![day(2024, 1, 1), day(2024, 1, 1)]);
        expect(TruncUnit::Quarter, vec![day(2024, 4, 1), day(2024, 1, 1)]);
        expect(TruncUnit::Month, vec![day(2024, 5, 1), day(2024, 1, 1)]);
        // 2024-05-15 is a Wednesday; 2024-01-07 a Sunday, whose week began on 2024-01-01.
        expect(TruncUnit::Week, vec![day(2024, 5, 13), day(2024, 1, 1)]);
        expect(TruncUnit::Day, vec![day(2024, 5, 15), day(2024, 1, 7)]);

        let stamps: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![
            i64::from(day(2024, 5, 15)) * MICROS_PER_DAY
                + 13 * MICROS_PER_HOUR
                + 5 * MICROS_PER_MINUTE,
            -1,
        ]));
        let out = trunc(&stamps, TruncUnit::Hour).unwrap();
        let got: Vec<i64> = out
            .as_primitive::<TimestampMicrosecondType>()
            .values()
            .to_vec();
        assert_eq!(
            got,
            vec![
                i64::from(day(2024, 5, 15)) * MICROS_PER_DAY + 13 * MICROS_PER_HOUR,
                -MICROS_PER_HOUR
            ]
        );
        let out = trunc(&stamps, TruncUnit::Month).unwrap();
        let got: Vec<i64> = out
            .as_primitive::<TimestampMicrosecondType>()
            .values()
            .to_vec();
        assert_eq!(
            got,
            vec![
                i64::from(day(2024, 5, 1)) * MICROS_PER_DAY,
                i64::from(day(1969, 12, 1)) * MICROS_PER_DAY
            ]
        );
    }

    #[test]
    fn dates_outside_the_calendar_are_errors() {
        let dates: ArrayRef = Arc::new(Date32Array::from(vec![i32::MAX]));
        assert!(matches!(
            extract(&dates, DatePart::Year),
            Err(EngineError::NumericOverflow(_))
        ));
        assert!(trunc(&dates, TruncUnit::Month).is_err());
    }
}
