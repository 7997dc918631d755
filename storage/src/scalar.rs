//! [`ScalarValue`]: one typed, possibly-NULL value of any type Quiver stores.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array,
    DurationMicrosecondArray, Float64Array, Int16Array, Int32Array, Int64Array, StringArray,
    Time64MicrosecondArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, DurationMicrosecondType, Float64Type, Int16Type,
    Int32Type, Int64Type, Time64MicrosecondType, TimeUnit, TimestampMicrosecondType,
};
use arrow::error::ArrowError;

/// A single value of one of Quiver's column types. `None` inside a variant is a typed NULL;
/// [`ScalarValue::Null`] is a NULL whose type is not known yet (the literal `None`).
#[derive(Debug, Clone)]
pub enum ScalarValue {
    Null,
    Boolean(Option<bool>),
    Int16(Option<i16>),
    Int32(Option<i32>),
    Int64(Option<i64>),
    Float64(Option<f64>),
    /// Unscaled value, precision, scale.
    Decimal128(Option<i128>, u8, i8),
    Utf8(Option<String>),
    /// Days since 1970-01-01.
    Date32(Option<i32>),
    /// Microseconds since the epoch, no time zone (Django with `USE_TZ=False`, or UTC).
    TimestampMicrosecond(Option<i64>),
    /// A length of time in microseconds.
    DurationMicrosecond(Option<i64>),
    /// Time of day in microseconds since midnight (Django's `TimeField`, the `__time` transform).
    Time64Microsecond(Option<i64>),
}

impl ScalarValue {
    /// The Arrow type of this value.
    pub fn data_type(&self) -> DataType {
        match self {
            ScalarValue::Null => DataType::Null,
            ScalarValue::Boolean(_) => DataType::Boolean,
            ScalarValue::Int16(_) => DataType::Int16,
            ScalarValue::Int32(_) => DataType::Int32,
            ScalarValue::Int64(_) => DataType::Int64,
            ScalarValue::Float64(_) => DataType::Float64,
            ScalarValue::Decimal128(_, p, s) => DataType::Decimal128(*p, *s),
            ScalarValue::Utf8(_) => DataType::Utf8,
            ScalarValue::Date32(_) => DataType::Date32,
            ScalarValue::TimestampMicrosecond(_) => {
                DataType::Timestamp(TimeUnit::Microsecond, None)
            }
            ScalarValue::DurationMicrosecond(_) => DataType::Duration(TimeUnit::Microsecond),
            ScalarValue::Time64Microsecond(_) => DataType::Time64(TimeUnit::Microsecond),
        }
    }

    /// True for SQL NULL of any type.
    pub fn is_null(&self) -> bool {
        match self {
            ScalarValue::Null => true,
            ScalarValue::Boolean(v) => v.is_none(),
            ScalarValue::Int16(v) => v.is_none(),
            ScalarValue::Int32(v) => v.is_none(),
            ScalarValue::Int64(v) | ScalarValue::TimestampMicrosecond(v) => v.is_none(),
            ScalarValue::DurationMicrosecond(v) | ScalarValue::Time64Microsecond(v) => v.is_none(),
            ScalarValue::Float64(v) => v.is_none(),
            ScalarValue::Decimal128(v, _, _) => v.is_none(),
            ScalarValue::Utf8(v) => v.is_none(),
            ScalarValue::Date32(v) => v.is_none(),
        }
    }

    /// A NULL of the given type (`Null` when the type is not one Quiver stores).
    pub fn null_of(data_type: &DataType) -> ScalarValue {
        match data_type {
            DataType::Boolean => ScalarValue::Boolean(None),
            DataType::Int16 => ScalarValue::Int16(None),
            DataType::Int32 => ScalarValue::Int32(None),
            DataType::Int64 => ScalarValue::Int64(None),
            DataType::Float64 => ScalarValue::Float64(None),
            DataType::Decimal128(p, s) => ScalarValue::Decimal128(None, *p, *s),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ScalarValue::Utf8(None),
            DataType::Dictionary(_, value) => ScalarValue::null_of(value),
            DataType::Date32 => ScalarValue::Date32(None),
            DataType::Timestamp(_, _) => ScalarValue::TimestampMicrosecond(None),
            DataType::Duration(_) => ScalarValue::DurationMicrosecond(None),
            DataType::Time64(_) => ScalarValue::Time64Microsecond(None),
            _ => ScalarValue::Null,
        }
    }

    /// An array of `len` copies of this value.
    pub fn to_array(&self, len: usize) -> ArrayRef {
        match self {
            ScalarValue::Null => new_null_array(&DataType::Null, len),
            ScalarValue::Boolean(v) => Arc::new(BooleanArray::from(vec![*v; len])),
            ScalarValue::Int16(v) => Arc::new(Int16Array::from(vec![*v; len])),
            ScalarValue::Int32(v) => Arc::new(Int32Array::from(vec![*v; len])),
            ScalarValue::Int64(v) => Arc::new(Int64Array::from(vec![*v; len])),
            ScalarValue::Float64(v) => Arc::new(Float64Array::from(vec![*v; len])),
            ScalarValue::Decimal128(v, p, s) => Arc::new(
                Decimal128Array::from(vec![*v; len])
                    .with_precision_and_scale(*p, *s)
                    .unwrap_or_else(|_| Decimal128Array::from(vec![*v; len])),
            ),
            ScalarValue::Utf8(v) => Arc::new(StringArray::from(vec![v.as_deref(); len])),
            ScalarValue::Date32(v) => Arc::new(Date32Array::from(vec![*v; len])),
            ScalarValue::TimestampMicrosecond(v) => {
                Arc::new(TimestampMicrosecondArray::from(vec![*v; len]))
            }
            ScalarValue::DurationMicrosecond(v) => {
                Arc::new(DurationMicrosecondArray::from(vec![*v; len]))
            }
            ScalarValue::Time64Microsecond(v) => {
                Arc::new(Time64MicrosecondArray::from(vec![*v; len]))
            }
        }
    }

    /// The value at `index` of `array`. Dictionary arrays are looked through.
    pub fn try_from_array(array: &dyn Array, index: usize) -> Result<ScalarValue, ArrowError> {
        if index >= array.len() {
            return Err(ArrowError::InvalidArgumentError(format!(
                "index {index} out of bounds for array of length {}",
                array.len()
            )));
        }
        let valid = array.is_valid(index);
        Ok(match array.data_type() {
            DataType::Null => ScalarValue::Null,
            DataType::Boolean => {
                ScalarValue::Boolean(valid.then(|| array.as_boolean().value(index)))
            }
            DataType::Int16 => {
                ScalarValue::Int16(valid.then(|| array.as_primitive::<Int16Type>().value(index)))
            }
            DataType::Int32 => {
                ScalarValue::Int32(valid.then(|| array.as_primitive::<Int32Type>().value(index)))
            }
            DataType::Int64 => {
                ScalarValue::Int64(valid.then(|| array.as_primitive::<Int64Type>().value(index)))
            }
            DataType::Float64 => ScalarValue::Float64(
                valid.then(|| array.as_primitive::<Float64Type>().value(index)),
            ),
            DataType::Decimal128(p, s) => ScalarValue::Decimal128(
                valid.then(|| array.as_primitive::<Decimal128Type>().value(index)),
                *p,
                *s,
            ),
            DataType::Utf8 => {
                ScalarValue::Utf8(valid.then(|| array.as_string::<i32>().value(index).to_string()))
            }
            DataType::LargeUtf8 => {
                ScalarValue::Utf8(valid.then(|| array.as_string::<i64>().value(index).to_string()))
            }
            DataType::Utf8View => {
                ScalarValue::Utf8(valid.then(|| array.as_string_view().value(index).to_string()))
            }
            DataType::Date32 => {
                ScalarValue::Date32(valid.then(|| array.as_primitive::<Date32Type>().value(index)))
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                ScalarValue::TimestampMicrosecond(valid.then(|| {
                    array
                        .as_primitive::<TimestampMicrosecondType>()
                        .value(index)
                }))
            }
            DataType::Duration(TimeUnit::Microsecond) => ScalarValue::DurationMicrosecond(
                valid.then(|| array.as_primitive::<DurationMicrosecondType>().value(index)),
            ),
            DataType::Time64(TimeUnit::Microsecond) => ScalarValue::Time64Microsecond(
                valid.then(|| array.as_primitive::<Time64MicrosecondType>().value(index)),
            ),
            DataType::Dictionary(_, _) => {
                let dict = array.as_any_dictionary();
                if !valid {
                    return Ok(ScalarValue::null_of(dict.values().data_type()));
                }
                let key = dict.normalized_keys()[index];
                ScalarValue::try_from_array(dict.values().as_ref(), key)?
            }
            other => {
                return Err(ArrowError::NotYetImplemented(format!(
                    "scalar values of type {other}"
                )))
            }
        })
    }

    /// Orders two values of the same type (NULLs first); `None` when the types differ.
    /// Floats use IEEE total order, so NaN sorts above every number as in PostgreSQL.
    pub fn partial_cmp_same_type(&self, other: &ScalarValue) -> Option<Ordering> {
        use ScalarValue::*;
        fn opt<T, F: Fn(&T, &T) -> Ordering>(a: &Option<T>, b: &Option<T>, f: F) -> Ordering {
            match (a, b) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(a), Some(b)) => f(a, b),
            }
        }
        Some(match (self, other) {
            (Boolean(a), Boolean(b)) => opt(a, b, Ord::cmp),
            (Int16(a), Int16(b)) => opt(a, b, Ord::cmp),
            (Int32(a), Int32(b)) => opt(a, b, Ord::cmp),
            (Int64(a), Int64(b)) => opt(a, b, Ord::cmp),
            (Float64(a), Float64(b)) => opt(a, b, |x, y| x.total_cmp(y)),
            (Decimal128(a, _, sa), Decimal128(b, _, sb)) if sa == sb => opt(a, b, Ord::cmp),
            (Utf8(a), Utf8(b)) => opt(a, b, Ord::cmp),
            (Date32(a), Date32(b)) => opt(a, b, Ord::cmp),
            (TimestampMicrosecond(a), TimestampMicrosecond(b)) => opt(a, b, Ord::cmp),
            (DurationMicrosecond(a), DurationMicrosecond(b)) => opt(a, b, Ord::cmp),
            (Time64Microsecond(a), Time64Microsecond(b)) => opt(a, b, Ord::cmp),
            _ => return None,
        })
    }

    /// The value as an `i64` when it is a non-NULL integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            ScalarValue::Int16(Some(v)) => Some(i64::from(*v)),
            ScalarValue::Int32(Some(v)) => Some(i64::from(*v)),
            ScalarValue::Int64(Some(v)) => Some(*v),
            _ => None,
        }
    }
}

impl PartialEq for ScalarValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ScalarValue::Null, ScalarValue::Null) => true,
            (ScalarValue::Decimal128(a, pa, sa), ScalarValue::Decimal128(b, pb, sb)) => {
                a == b && pa == pb && sa == sb
            }
            _ => self.partial_cmp_same_type(other) == Some(Ordering::Equal),
        }
    }
}

/// Formats a decimal's unscaled value with `scale` digits after the point.
pub(crate) fn format_decimal(value: i128, scale: i8) -> String {
    if scale <= 0 {
        let mut s = value.to_string();
        for _ in 0..(-scale) {
            s.push('0');
        }
        return s;
    }
    let scale = scale as usize;
    let negative = value < 0;
    let digits = value.unsigned_abs().to_string();
    let padded = if digits.len() <= scale {
        format!("{}{}", "0".repeat(scale + 1 - digits.len()), digits)
    } else {
        digits
    };
    let (int_part, frac_part) = padded.split_at(padded.len() - scale);
    format!("{}{int_part}.{frac_part}", if negative { "-" } else { "" })
}

fn format_date(days: i32) -> String {
    let date = arrow::temporal_conversions::date32_to_datetime(days);
    match date {
        Some(d) => d.format("%Y-%m-%d").to_string(),
        None => format!("<date {days}>"),
    }
}

fn format_timestamp(micros: i64) -> String {
    match arrow::temporal_conversions::timestamp_us_to_datetime(micros) {
        Some(d) => {
            if micros % 1_000_000 == 0 {
                d.format("%Y-%m-%dT%H:%M:%S").to_string()
            } else {
                d.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
            }
        }
        None => format!("<timestamp {micros}>"),
    }
}

/// `[-]D day(s), HH:MM:SS[.ffffff]` the way PostgreSQL prints an interval.
fn format_duration(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let total = micros.unsigned_abs();
    let (secs, frac) = (total / 1_000_000, total % 1_000_000);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let clock = format!(
        "{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    let frac = if frac == 0 {
        String::new()
    } else {
        format!(".{frac:06}")
    };
    match days {
        0 => format!("{sign}{clock}{frac}"),
        1 => format!("{sign}1 day, {clock}{frac}"),
        d => format!("{sign}{d} days, {clock}{frac}"),
    }
}

fn format_time(micros: i64) -> String {
    let (secs, frac) = (micros / 1_000_000, micros % 1_000_000);
    let clock = format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    );
    if frac == 0 {
        clock
    } else {
        format!("{clock}.{frac:06}")
    }
}

impl fmt::Display for ScalarValue {
    /// Human-readable text: `NULL`, numbers as digits, strings unquoted, dates in ISO 8601.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_null() {
            return f.write_str("NULL");
        }
        match self {
            ScalarValue::Boolean(Some(v)) => write!(f, "{v}"),
            ScalarValue::Int16(Some(v)) => write!(f, "{v}"),
            ScalarValue::Int32(Some(v)) => write!(f, "{v}"),
            ScalarValue::Int64(Some(v)) => write!(f, "{v}"),
            ScalarValue::Float64(Some(v)) => write!(f, "{v}"),
            ScalarValue::Decimal128(Some(v), _, s) => f.write_str(&format_decimal(*v, *s)),
            ScalarValue::Utf8(Some(v)) => f.write_str(v),
            ScalarValue::Date32(Some(v)) => f.write_str(&format_date(*v)),
            ScalarValue::TimestampMicrosecond(Some(v)) => f.write_str(&format_timestamp(*v)),
            ScalarValue::DurationMicrosecond(Some(v)) => f.write_str(&format_duration(*v)),
            ScalarValue::Time64Microsecond(Some(v)) => f.write_str(&format_time(*v)),
            _ => f.write_str("NULL"),
        }
    }
}

macro_rules! impl_from {
    ($t:ty, $variant:ident) => {
        impl From<$t> for ScalarValue {
            fn from(v: $t) -> Self {
                ScalarValue::$variant(Some(v.into()))
            }
        }
        impl From<Option<$t>> for ScalarValue {
            fn from(v: Option<$t>) -> Self {
                ScalarValue::$variant(v.map(Into::into))
            }
        }
    };
}
impl_from!(bool, Boolean);
impl_from!(i16, Int16);
impl_from!(i32, Int32);
impl_from!(i64, Int64);
impl_from!(f64, Float64);
impl_from!(String, Utf8);

macro_rules! impl_from_chrono {
    ($t:ty, $variant:ident, $convert:expr) => {
        impl From<$t> for ScalarValue {
            fn from(v: $t) -> Self {
                ScalarValue::$variant(Some($convert(v)))
            }
        }
        impl From<Option<$t>> for ScalarValue {
            fn from(v: Option<$t>) -> Self {
                ScalarValue::$variant(v.map($convert))
            }
        }
    };
}
impl_from_chrono!(chrono::NaiveDate, Date32, |d: chrono::NaiveDate| {
    (d - chrono::NaiveDate::default()).num_days() as i32
});
impl_from_chrono!(
    chrono::NaiveDateTime,
    TimestampMicrosecond,
    |d: chrono::NaiveDateTime| d.and_utc().timestamp_micros()
);
impl_from_chrono!(
    chrono::NaiveTime,
    Time64Microsecond,
    |t: chrono::NaiveTime| { (t - chrono::NaiveTime::MIN).num_microseconds().unwrap_or(0) }
);
impl_from_chrono!(
    chrono::TimeDelta,
    DurationMicrosecond,
    |d: chrono::TimeDelta| { d.num_microseconds().unwrap_or(i64::MAX) }
);

impl From<&str> for ScalarValue {
    fn from(v: &str) -> Self {
        ScalarValue::Utf8(Some(v.to_string()))
    }
}

impl From<Option<&str>> for ScalarValue {
    fn from(v: Option<&str>) -> Self {
        ScalarValue::Utf8(v.map(str::to_string))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_arrays() {
        let values = [
            ScalarValue::Int64(Some(-5)),
            ScalarValue::Utf8(Some("ünï".into())),
            ScalarValue::Decimal128(Some(12345), 10, 2),
            ScalarValue::Date32(None),
        ];
        for v in values {
            let array = v.to_array(3);
            assert_eq!(ScalarValue::try_from_array(array.as_ref(), 2).unwrap(), v);
        }
    }

    #[test]
    fn converts_chrono_values() {
        let d = chrono::NaiveDate::from_ymd_opt(2024, 1, 5).unwrap();
        assert_eq!(ScalarValue::from(d).to_string(), "2024-01-05");
        let t = d.and_hms_opt(10, 30, 0).unwrap();
        assert_eq!(ScalarValue::from(t).to_string(), "2024-01-05T10:30:00");
        let dur = chrono::TimeDelta::seconds(90_061);
        assert_eq!(ScalarValue::from(dur).to_string(), "1 day, 01:01:01");
    }

    #[test]
    fn formats_decimals_and_dates() {
        assert_eq!(ScalarValue::Decimal128(Some(-5), 5, 2).to_string(), "-0.05");
        assert_eq!(
            ScalarValue::Decimal128(Some(12345), 10, 2).to_string(),
            "123.45"
        );
        assert_eq!(ScalarValue::Date32(Some(0)).to_string(), "1970-01-01");
        assert_eq!(ScalarValue::Int32(None).to_string(), "NULL");
    }

    #[test]
    fn nulls_order_first_and_nan_last() {
        let a = ScalarValue::Float64(None);
        let b = ScalarValue::Float64(Some(f64::NAN));
        let c = ScalarValue::Float64(Some(1.0));
        assert_eq!(a.partial_cmp_same_type(&c), Some(Ordering::Less));
        assert_eq!(b.partial_cmp_same_type(&c), Some(Ordering::Greater));
        assert_eq!(c.partial_cmp_same_type(&ScalarValue::Int64(Some(1))), None);
    }
}
