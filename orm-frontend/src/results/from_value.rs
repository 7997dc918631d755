//! [`FromValue`]: reading a Rust value out of a result cell (`row.get::<i64>("id")`).
//!
//! Conversions are exact: an integer column reads as any integer type it fits in, a float
//! column as `f64` (integers and decimals widen to `f64` too), a date as
//! [`NaiveDate`](chrono::NaiveDate). A NULL reads only as `Option<T>` or `ScalarValue`, so a
//! missing value is never silently turned into a zero.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use quiver_engine::ScalarValue;

/// Types a result value can be read as.
pub trait FromValue: Sized {
    /// Converts `value`, or says why it cannot (the caller adds the column name).
    fn from_value(value: &ScalarValue) -> Result<Self, String>;
}

fn mismatch<T>(value: &ScalarValue, wanted: &str) -> Result<T, String> {
    if value.is_null() {
        Err(format!("is NULL; read it as Option<{wanted}>"))
    } else {
        Err(format!(
            "holds a {} value ({value}), which cannot be read as {wanted}",
            value.data_type()
        ))
    }
}

impl FromValue for ScalarValue {
    fn from_value(value: &ScalarValue) -> Result<Self, String> {
        Ok(value.clone())
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &ScalarValue) -> Result<Self, String> {
        if value.is_null() {
            Ok(None)
        } else {
            T::from_value(value).map(Some)
        }
    }
}

impl FromValue for i64 {
    fn from_value(value: &ScalarValue) -> Result<Self, String> {
        value.as_i64().map_or_else(|| mismatch(value, "i64"), Ok)
    }
}

macro_rules! narrow_integer {
    ($t:ty) => {
        impl FromValue for $t {
            fn from_value(value: &ScalarValue) -> Result<Self, String> {
                match value.as_i64() {
                    Some(v) => <$t>::try_from(v).map_err(|_| {
                        format!("holds {v}, which is out of range for {}", stringify!($t))
                    }),
                    None => mismatch(value, stringify!($t)),
                }
            }
        }
    };
}
narrow_integer!(i32);
narrow_integer!(i16);
narrow_integer!(u32);
narrow_integer!(u64);
narrow_integer!(usize);

impl FromValue for f64 {
    fn from_value(value: &ScalarValue) -> Result<Self, String> {
        match value {
            ScalarValue::Float64(Some(v)) => Ok(*v),
            ScalarValue::Decimal128(Some(v), _, scale) => {
                Ok(*v as f64 / 10f64.powi(i32::from(*scale)))
            }
            other => match other.as_i64() {
                Some(v) => Ok(v as f64),
                None => mismatch(value, "f64"),
            },
        }
    }
}

impl FromValue for bool {
    fn from_value(value: &ScalarValue) -> Result<Self, String> {
        match value {
            ScalarValue::Boolean(Some(v)) => Ok(*v),
            _ => mismatch(value, "bool"),
        }
    }
}

impl FromValue for String {
    fn from_value(value: &ScalarValue) -> Result<Self, String> {
        match value {
            ScalarValue::Utf8(Some(v)) => Ok(v.clone()),
            _ => mismatch(value, "String"),
        }
    }
}

impl FromValue for NaiveDate {
    fn from_value(value: &ScalarValue) -> Result<Self, String> {
        match value {
            ScalarValue::Date32(Some(days)) => NaiveDate::from_ymd_opt(1970, 1, 1)
                .and_then(|epoch| epoch.checked_add_signed(TimeDelta::days(i64::from(*days))))
                .ok_or_else(|| format!("holds day {days}, which is out of range for a date")),
            _ => mismatch(value, "NaiveDate"),
        }
    }
}

impl FromValue for NaiveDateTime {
    fn from_value(value: &ScalarValue) -> Result<Self, String> {
        match value {
            ScalarValue::TimestampMicrosecond(Some(us)) => DateTime::from_timestamp_micros(*us)
                .map(|t| t.naive_utc())
                .ok_or_else(|| format!("holds {us}µs, which is out of range for a timestamp")),
            _ => mismatch(value, "NaiveDateTime"),
        }
    }
}

impl FromValue for NaiveTime {
    fn from_value(value: &ScalarValue) -> Result<Self, String> {
        match value {
            ScalarValue::Time64Microsecond(Some(us)) => {
                let seconds = u32::try_from(us.div_euclid(1_000_000)).ok();
                let nanos = u32::try_from(us.rem_euclid(1_000_000) * 1000).ok();
                seconds
                    .zip(nanos)
                    .and_then(|(s, n)| NaiveTime::from_num_seconds_from_midnight_opt(s, n))
                    .ok_or_else(|| format!("holds {us}µs, which is not a time of day"))
            }
            _ => mismatch(value, "NaiveTime"),
        }
    }
}

impl FromValue for TimeDelta {
    fn from_value(value: &ScalarValue) -> Result<Self, String> {
        match value {
            ScalarValue::DurationMicrosecond(Some(us)) => Ok(TimeDelta::microseconds(*us)),
            _ => mismatch(value, "TimeDelta"),
        }
    }
}

/// The stored value of a date (days since 1970-01-01): `("signup", date_value(d))`.
pub fn date_value(date: NaiveDate) -> ScalarValue {
    let days = date.signed_duration_since(NaiveDate::default()).num_days();
    ScalarValue::Date32(i32::try_from(days).ok())
}

/// The stored value of a timestamp (microseconds since the epoch, no time zone).
pub fn datetime_value(datetime: NaiveDateTime) -> ScalarValue {
    ScalarValue::TimestampMicrosecond(Some(datetime.and_utc().timestamp_micros()))
}

/// The stored value of a time of day.
pub fn time_value(time: NaiveTime) -> ScalarValue {
    let micros = time
        .signed_duration_since(NaiveTime::MIN)
        .num_microseconds();
    ScalarValue::Time64Microsecond(micros)
}

/// `date(2024, 1, 5)`: a date value, or Python's `ValueError` for an impossible date.
pub fn date(year: i32, month: u32, day: u32) -> crate::Result<ScalarValue> {
    NaiveDate::from_ymd_opt(year, month, day)
        .map(date_value)
        .ok_or_else(|| {
            crate::Error::ValueError(format!("{year:04}-{month:02}-{day:02} is not a valid date"))
        })
}

/// `datetime(2024, 1, 5, 13, 30, 0)`: a timestamp value, or `ValueError`.
pub fn datetime(
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> crate::Result<ScalarValue> {
    NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_opt(hour, minute, second))
        .map(datetime_value)
        .ok_or_else(|| {
            crate::Error::ValueError(format!(
                "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02} is not a valid \
                 datetime"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_widen_and_narrow_checked() {
        let v = ScalarValue::Int32(Some(7));
        assert_eq!(i64::from_value(&v), Ok(7));
        assert_eq!(f64::from_value(&v), Ok(7.0));
        assert!(i16::from_value(&ScalarValue::Int64(Some(1 << 20))).is_err());
    }

    #[test]
    fn nulls_need_an_option() {
        let null = ScalarValue::Int64(None);
        assert_eq!(Option::<i64>::from_value(&null), Ok(None));
        let err = i64::from_value(&null).unwrap_err();
        assert!(err.contains("Option<i64>"), "{err}");
    }

    #[test]
    fn dates_and_decimals() {
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(NaiveDate::from_value(&date_value(d)), Ok(d));
        let t = d.and_hms_micro_opt(13, 4, 5, 6).unwrap();
        assert_eq!(NaiveDateTime::from_value(&datetime_value(t)), Ok(t));
        assert_eq!(date(2024, 2, 29).unwrap(), date_value(d));
        assert_eq!(
            date_value(NaiveDate::default()),
            ScalarValue::Date32(Some(0))
        );
        assert!(date(2023, 2, 29).is_err());
        let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap();
        assert_eq!(NaiveTime::from_value(&time_value(noon)), Ok(noon));
        let dec = ScalarValue::Decimal128(Some(1250), 10, 2);
        assert_eq!(f64::from_value(&dec), Ok(12.5));
        assert!(String::from_value(&dec).is_err());
    }
}
