//! [`Decimal`]: an exact decimal literal, the Rust stand-in for Python's `decimal.Decimal`.
//!
//! Money columns are `DecimalField`s; comparing them with a binary float (`12.5f64`) would
//! ask the engine to compare in floating point, which is what Django users avoid by writing
//! `Decimal("12.50")`. `Decimal::parse("12.50")` keeps every digit: the unscaled integer
//! `1250`, precision 4 and scale 2, exactly the [`ScalarValue::Decimal128`] the engine
//! compares against a `numeric` column without rounding.

use std::fmt;
use std::str::FromStr;

use quiver_engine::ScalarValue;

use super::Expression;
use crate::error::{Error, Result};

/// The most digits a Decimal128 holds.
const MAX_DIGITS: u32 = 38;

/// An exact decimal number: `unscaled × 10^-scale`, with the precision (significant digits)
/// Arrow's `Decimal128(precision, scale)` needs to hold it.
///
/// Equality is structural: `12.5` and `12.50` are different literals (as their text differs),
/// although the engine compares them as equal numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    unscaled: i128,
    precision: u8,
    scale: i8,
}

impl Decimal {
    /// `unscaled × 10^-scale` (`Decimal::new(1250, 2)` is `12.50`). The precision is the
    /// number of digits needed, at least the scale.
    pub fn new(unscaled: i128, scale: i8) -> Decimal {
        let digits = digit_count(unscaled);
        let precision = digits.max(scale.max(0) as u32).clamp(1, MAX_DIGITS) as u8;
        Decimal {
            unscaled,
            precision,
            scale,
        }
    }

    /// Parses decimal text the way Python's `Decimal(text)` does for finite numbers:
    /// surrounding whitespace, a sign, digits with an optional point, an optional exponent
    /// (`"1.5e3"`), underscores between digits. Trailing zeros are kept (`"12.50"` has scale
    /// 2). Errors with Django's `DecimalField` message: "“abc” value must be a decimal number."
    pub fn parse(text: &str) -> Result<Decimal> {
        parse_decimal(text).ok_or_else(|| invalid_decimal(text))
    }

    /// The unscaled integer (`1250` for `12.50`).
    pub fn unscaled(&self) -> i128 {
        self.unscaled
    }

    /// Digits after the point (negative: the number is a multiple of a power of ten).
    pub fn scale(&self) -> i8 {
        self.scale
    }

    /// Significant digits the value needs.
    pub fn precision(&self) -> u8 {
        self.precision
    }

    /// The engine literal `Decimal128(unscaled, precision, scale)`.
    pub fn to_scalar(&self) -> ScalarValue {
        ScalarValue::Decimal128(Some(self.unscaled), self.precision, self.scale)
    }

    /// The value as the nearest `f64`.
    pub fn to_f64(&self) -> f64 {
        // Through text, so the result is correctly rounded rather than accumulated.
        self.to_string().parse().unwrap_or(f64::NAN)
    }
}

/// The decimal error Django's `DecimalField.to_python` raises.
pub(crate) fn invalid_decimal(text: &str) -> Error {
    Error::ValidationError(format!("“{text}” value must be a decimal number."))
}

fn digit_count(value: i128) -> u32 {
    value.unsigned_abs().checked_ilog10().map_or(1, |d| d + 1)
}

fn parse_decimal(text: &str) -> Option<Decimal> {
    let text = text.trim();
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], parse_exponent(&rest[i + 1..])?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    let int_digits = strip_underscores(int_part)?;
    let frac_digits = strip_underscores(frac_part)?;
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    let mut unscaled: i128 = 0;
    for digit in int_digits.bytes().chain(frac_digits.bytes()) {
        unscaled = unscaled
            .checked_mul(10)?
            .checked_add(i128::from(digit - b'0'))?;
    }
    if digit_count(unscaled) > MAX_DIGITS {
        return None;
    }
    let mut scale = i64::try_from(frac_digits.len()).ok()? - exponent;
    // A positive exponent is multiplied out so that "1e3" is the integer 1000, as a
    // `numeric` column would store it.
    while scale < 0 {
        unscaled = unscaled.checked_mul(10)?;
        scale += 1;
    }
    if digit_count(unscaled) > MAX_DIGITS || scale > i64::from(MAX_DIGITS) {
        return None;
    }
    let unscaled = if negative { -unscaled } else { unscaled };
    Some(Decimal::new(unscaled, scale as i8))
}

fn parse_exponent(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 4 {
        return None;
    }
    text.parse().ok()
}

/// Digits with Python's `_` separators removed; `None` if anything else is there or an
/// underscore is not between two digits.
fn strip_underscores(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'0'..=b'9' => out.push(b as char),
            b'_' if i > 0
                && i + 1 < bytes.len()
                && bytes[i - 1].is_ascii_digit()
                && bytes[i + 1].is_ascii_digit() => {}
            _ => return None,
        }
    }
    Some(out)
}

impl fmt::Display for Decimal {
    /// The digits with `scale` places after the point: `12.50`, `-0.05`, `1000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.unscaled.unsigned_abs().to_string();
        let sign = if self.unscaled < 0 { "-" } else { "" };
        if self.scale <= 0 {
            let zeros = "0".repeat(usize::from(self.scale.unsigned_abs()));
            let digits = if self.unscaled == 0 { "0" } else { &digits };
            let zeros = if self.unscaled == 0 { "" } else { &zeros };
            return write!(f, "{sign}{digits}{zeros}");
        }
        let scale = self.scale as usize;
        let padded = if digits.len() <= scale {
            format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
        } else {
            digits
        };
        let (int_part, frac_part) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int_part}.{frac_part}")
    }
}

impl FromStr for Decimal {
    type Err = Error;

    fn from_str(text: &str) -> Result<Decimal> {
        Decimal::parse(text)
    }
}

impl From<Decimal> for ScalarValue {
    fn from(d: Decimal) -> ScalarValue {
        d.to_scalar()
    }
}

impl From<Decimal> for Expression {
    fn from(d: Decimal) -> Expression {
        Expression::from(d.to_scalar())
    }
}

/// A decimal literal from text, for use as a query value: `q!(amount__gte = dec("100.00"))`.
/// Malformed text surfaces as Django's `ValidationError` when the query is evaluated; use
/// [`Decimal::parse`] where the error is wanted at once (e.g. for values to `create()`).
pub fn dec(text: &str) -> Expression {
    match Decimal::parse(text) {
        Ok(d) => Expression::from(d),
        Err(e) => Expression::refused(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expressions::expression::Refused;

    fn parts(text: &str) -> (i128, u8, i8) {
        let d = Decimal::parse(text).unwrap();
        (d.unscaled(), d.precision(), d.scale())
    }

    #[test]
    fn parses_exactly_keeping_trailing_zeros() {
        assert_eq!(parts("12.50"), (1250, 4, 2));
        assert_eq!(parts("-0.05"), (-5, 2, 2));
        assert_eq!(parts("0"), (0, 1, 0));
        assert_eq!(parts(" +7 "), (7, 1, 0));
        assert_eq!(parts(".5"), (5, 1, 1));
        assert_eq!(parts("5."), (5, 1, 0));
        assert_eq!(parts("1_000.25"), (100025, 6, 2));
        assert_eq!(parts("1.5e3"), (1500, 4, 0));
        assert_eq!(parts("1.5E-3"), (15, 4, 4));
        assert_eq!(
            parts("12345678901234567890123456789012345678"),
            (12345678901234567890123456789012345678, 38, 0)
        );
    }

    #[test]
    fn rejects_what_python_rejects_with_djangos_message() {
        for bad in [
            "", "abc", "1.2.3", "1__0", "_1", "1e", "--1", "NaN", "1 2", "1e99999",
        ] {
            let err = Decimal::parse(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("“{bad}” value must be a decimal number."),
                "{bad:?}"
            );
            assert_eq!(err.django_name(), "ValidationError");
        }
        // 39 digits do not fit a Decimal128.
        assert!(Decimal::parse("123456789012345678901234567890123456789").is_err());
    }

    #[test]
    fn displays_with_its_scale() {
        for text in ["12.50", "-0.05", "0", "1000", "0.001", "-12"] {
            assert_eq!(Decimal::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(Decimal::new(5, -2).to_string(), "500");
        assert_eq!(Decimal::new(0, 3).to_string(), "0.000");
        assert_eq!(Decimal::parse("12.50").unwrap().to_f64(), 12.5);
    }

    #[test]
    fn becomes_a_decimal128_literal() {
        assert_eq!(
            ScalarValue::from(Decimal::parse("12.50").unwrap()),
            ScalarValue::Decimal128(Some(1250), 4, 2)
        );
        assert!(matches!(
            dec("x"),
            Expression::Invalid(Refused(Error::ValidationError(_)))
        ));
    }
}
