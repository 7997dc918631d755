//! PostgreSQL's text forms of values: what `CAST(x AS text)`, `Concat` and `LIKE` on a
//! non-text column see. Arrow's own formatting differs in ways users notice (`100.0` for a
//! float PostgreSQL prints as `100`, `2024-01-01T10:00:00` for `2024-01-01 10:00:00`, ISO 8601
//! durations), so these few types are formatted here; the rest use Arrow's cast.
//!
//! Also parses interval text (`'1 day 02:00:00'`, `'3 hours'`), which Arrow cannot cast.

use arrow::temporal_conversions::{date32_to_datetime, timestamp_us_to_datetime};

use crate::error::{EngineError, Result};

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_MINUTE: i64 = 60 * MICROS_PER_SECOND;
const MICROS_PER_HOUR: i64 = 60 * MICROS_PER_MINUTE;
/// Microseconds in a day.
pub const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// A `float8` as PostgreSQL (12+) prints it: the shortest text that reads back as the same
/// value, in exponent form below 1e-4 and from 1e15 up (`1e+15`, `1.5e-05`).
pub fn format_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // Rust's `{:e}` prints the shortest round-tripping digits: "-1.2345e2".
    let scientific = format!("{value:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let Ok(exponent) = exponent.parse::<i32>() else {
        return scientific;
    };
    if !(-4..15).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    if exponent < 0 {
        out.push_str("0.");
        for _ in 0..(-exponent - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let integer_len = exponent as usize + 1;
        if digits.len() <= integer_len {
            out.push_str(&digits);
            for _ in digits.len()..integer_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..integer_len]);
            out.push('.');
            out.push_str(&digits[integer_len..]);
        }
    }
    out
}

/// `.ffffff` with trailing zeros removed, or nothing for whole seconds.
fn fraction(micros: i64) -> String {
    if micros == 0 {
        return String::new();
    }
    let text = format!(".{micros:06}");
    text.trim_end_matches('0').to_string()
}

fn clock(micros: i64) -> String {
    let seconds = micros / MICROS_PER_SECOND;
    format!(
        "{:02}:{:02}:{:02}{}",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60,
        fraction(micros % MICROS_PER_SECOND)
    )
}

/// A date as `YYYY-MM-DD`.
pub fn format_date(days: i32) -> Result<String> {
    date32_to_datetime(days)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .ok_or_else(|| EngineError::NumericOverflow("date".to_string()))
}

/// A timestamp as PostgreSQL prints it: `YYYY-MM-DD HH:MM:SS[.ffffff]`.
pub fn format_timestamp(micros: i64) -> Result<String> {
    let datetime = timestamp_us_to_datetime(micros)
        .ok_or_else(|| EngineError::NumericOverflow("timestamp".to_string()))?;
    let time_of_day = micros.rem_euclid(MICROS_PER_DAY);
    Ok(format!(
        "{} {}",
        datetime.format("%Y-%m-%d"),
        clock(time_of_day)
    ))
}

/// A time of day as `HH:MM:SS[.ffffff]`.
pub fn format_time(micros: i64) -> String {
    clock(micros.rem_euclid(MICROS_PER_DAY))
}

/// An interval as PostgreSQL prints one: `[-]N day[s] [-]HH:MM:SS[.ffffff]`, each part
/// carrying its own sign (`-1 days -02:00:00`).
pub fn format_duration(micros: i64) -> String {
    let days = micros / MICROS_PER_DAY;
    let rest = micros % MICROS_PER_DAY;
    let mut out = String::new();
    if days != 0 {
        out.push_str(&format!("{days} day{}", if days == 1 { "" } else { "s" }));
    }
    if rest != 0 || days == 0 {
        if !out.is_empty() {
            out.push(' ');
        }
        if rest < 0 {
            out.push('-');
        }
        out.push_str(&clock(rest.unsigned_abs() as i64));
    }
    out
}

fn invalid_interval(text: &str) -> EngineError {
    EngineError::InvalidCast {
        target: "interval".to_string(),
        detail: format!("invalid input syntax for type interval: \"{text}\""),
    }
}

/// Parses `[-]HH:MM[:SS[.ffffff]]` into microseconds.
fn parse_clock(text: &str) -> Option<i64> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let mut parts = body.split(':');
    let hours: i64 = parts.next()?.parse().ok()?;
    let minutes: i64 = parts.next()?.parse().ok()?;
    let seconds = match parts.next() {
        Some(s) => parse_seconds(s)?,
        None => 0,
    };
    if parts.next().is_some() || !(0..60).contains(&minutes) {
        return None;
    }
    let total = hours
        .checked_mul(MICROS_PER_HOUR)?
        .checked_add(minutes * MICROS_PER_MINUTE)?
        .checked_add(seconds)?;
    Some(if negative { -total } else { total })
}

/// `SS[.ffffff]` into microseconds (digits beyond microseconds are rounded).
fn parse_seconds(text: &str) -> Option<i64> {
    let value: f64 = text.parse().ok()?;
    if !value.is_finite() || !(0.0..60.0).contains(&value) {
        return None;
    }
    Some((value * MICROS_PER_SECOND as f64).round() as i64)
}

fn unit_micros(unit: &str) -> Option<i64> {
    Some(match unit {
        "us" | "usec" | "usecs" | "microsecond" | "microseconds" => 1,
        "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 1_000,
        "s" | "sec" | "secs" | "second" | "seconds" => MICROS_PER_SECOND,
        "m" | "min" | "mins" | "minute" | "minutes" => MICROS_PER_MINUTE,
        "h" | "hour" | "hours" => MICROS_PER_HOUR,
        "d" | "day" | "days" => MICROS_PER_DAY,
        "w" | "week" | "weeks" => 7 * MICROS_PER_DAY,
        _ => return None,
    })
}

/// Parses interval text into microseconds: `'1 day 02:00:00'`, `'1 day, 2:00:00'`
/// (Python's `str(timedelta)`), `'3 hours 20 minutes'`, `'02:00'`, or a bare number of
/// seconds. Months and years have no fixed length and are rejected.
pub fn parse_duration(text: &str) -> Result<i64> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(invalid_interval(text));
    }
    let tokens: Vec<&str> = trimmed
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .collect();
    let mut total: i64 = 0;
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        let micros = if token.contains(':') {
            i += 1;
            parse_clock(token).ok_or_else(|| invalid_interval(text))?
        } else {
            let number: f64 = token.parse().map_err(|_| invalid_interval(text))?;
            let unit = match tokens.get(i + 1) {
                Some(unit) => {
                    i += 2;
                    unit_micros(&unit.to_ascii_lowercase()).ok_or_else(|| invalid_interval(text))?
                }
                None => {
                    i += 1;
                    MICROS_PER_SECOND
                }
            };
            let value = (number * unit as f64).round();
            if !value.is_finite() || value.abs() >= i64::MAX as f64 {
                return Err(EngineError::NumericOverflow("interval".to_string()));
            }
            value as i64
        };
        total = total
            .checked_add(micros)
            .ok_or_else(|| EngineError::NumericOverflow("interval".to_string()))?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_postgres() {
        assert_eq!(format_float(100.0), "100");
        assert_eq!(format_float(0.1), "0.1");
        assert_eq!(format_float(-2.5), "-2.5");
        assert_eq!(format_float(123456789012345.0), "123456789012345");
        assert_eq!(format_float(1e15), "1e+15");
        assert_eq!(format_float(0.0001), "0.0001");
        assert_eq!(format_float(0.000015), "1.5e-05");
        assert_eq!(format_float(f64::NAN), "NaN");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(format_float(1.0 / 3.0), "0.3333333333333333");
    }

    #[test]
    fn temporal_values_print_like_postgres() {
        assert_eq!(format_date(19723).unwrap(), "2024-01-01");
        assert_eq!(
            format_timestamp(19723 * MICROS_PER_DAY + 10 * MICROS_PER_HOUR + 500_000).unwrap(),
            "2024-01-01 10:00:00.5"
        );
        assert_eq!(format_timestamp(-1).unwrap(), "1969-12-31 23:59:59.999999");
        assert_eq!(format_time(MICROS_PER_HOUR * 13 + 5), "13:00:00.000005");
        assert_eq!(format_duration(0), "00:00:00");
        assert_eq!(
            format_duration(MICROS_PER_DAY + MICROS_PER_HOUR),
            "1 day 01:00:00"
        );
        assert_eq!(
            format_duration(-MICROS_PER_DAY - 2 * MICROS_PER_HOUR),
            "-1 days -02:00:00"
        );
        assert_eq!(format_duration(3 * MICROS_PER_DAY), "3 days");
    }

    #[test]
    fn intervals_parse() {
        assert_eq!(
            parse_duration("1 day 02:00:00").unwrap(),
            MICROS_PER_DAY + 2 * MICROS_PER_HOUR
        );
        assert_eq!(
            parse_duration("1 day, 2:00:00").unwrap(),
            MICROS_PER_DAY + 2 * MICROS_PER_HOUR
        );
        assert_eq!(
            parse_duration("3 hours 20 minutes").unwrap(),
            3 * MICROS_PER_HOUR + 20 * MICROS_PER_MINUTE
        );
        assert_eq!(parse_duration("-00:00:01.5").unwrap(), -1_500_000);
        assert_eq!(parse_duration("90").unwrap(), 90 * MICROS_PER_SECOND);
        assert!(parse_duration("2 months").is_err());
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10:99").is_err());
    }
}
