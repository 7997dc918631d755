//! Python's operators on script values: arithmetic on ints (checked: 64-bit overflow is an
//! `OverflowError`, not a wrap), floats, `Decimal` (exact, with Python's digits), strings,
//! containers and dates; equality across number types; ordering and comparisons (`in`, `is`).
//! `Q`/`F` operands are handed to the QuerySet bridge first.

use std::cmp::Ordering;
use std::rc::Rc;

use quiver::expressions::Decimal;

use super::builtins::int_arg;
use super::containers::{dict_insert, make_set};
use super::error::ScriptError;
use super::format::percent_format;
use super::interpreter::Interpreter;
use super::values::Value;

/// The longest string or list `*` may build (Python would run out of memory instead).
const MAX_REPEAT_LEN: usize = 1 << 28;

fn date_overflow() -> ScriptError {
    ScriptError::new("OverflowError", "date value out of range")
}

/// Python's dates stop at year 9999 (`datetime.MAXYEAR`); chrono's go further.
fn python_date(d: chrono::NaiveDate) -> Result<chrono::NaiveDate, ScriptError> {
    if (1..=9999).contains(&chrono::Datelike::year(&d)) {
        Ok(d)
    } else {
        Err(date_overflow())
    }
}

pub(super) fn overflow() -> ScriptError {
    ScriptError::new(
        "OverflowError",
        "integer overflow (the script frontend's integers are 64-bit)",
    )
}

/// A number as `f64`.
pub fn to_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Float(f) => Some(*f),
        Value::Decimal(d) => Some(d.to_f64()),
        _ => None,
    }
}

pub(super) fn round_half_even(f: f64) -> f64 {
    let r = f.round();
    if (f - f.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - f.signum()
    } else {
        r
    }
}

/// A decimal rounded half-even to `places` digits after the point.
pub(super) fn decimal_round(d: &Decimal, places: i32) -> Decimal {
    let places = places.clamp(-38, 38);
    let scale = i32::from(d.scale());
    if scale <= places {
        return rescale(d, places);
    }
    let Some(drop) = 10i128.checked_pow((scale - places) as u32) else {
        return Decimal::new(0, places as i8);
    };
    let q = d.unscaled() / drop;
    let r = d.unscaled() % drop;
    let twice = r.abs() * 2;
    let q = if twice > drop || (twice == drop && q % 2 != 0) {
        q + d.unscaled().signum()
    } else {
        q
    };
    Decimal::new(q, places as i8)
}

pub(super) fn rescale(d: &Decimal, scale: i32) -> Decimal {
    let current = i32::from(d.scale());
    if scale <= current {
        return *d;
    }
    // Past 38 digits the value keeps its own scale (comparisons then fall back to floats).
    10i128
        .checked_pow((scale - current) as u32)
        .and_then(|p| d.unscaled().checked_mul(p))
        .filter(|_| scale <= i32::from(i8::MAX))
        .map_or(*d, |unscaled| Decimal::new(unscaled, scale as i8))
}

pub(super) fn decimal_of(v: &Value) -> Option<Decimal> {
    match v {
        Value::Decimal(d) => Some(*d),
        Value::Int(i) => Some(Decimal::new(i128::from(*i), 0)),
        Value::Bool(b) => Some(Decimal::new(i128::from(*b), 0)),
        _ => None,
    }
}

/// Python's Decimal division: exact when it can be, otherwise 28 significant digits; the
/// result keeps the ideal exponent (difference of the operands') when exact.
pub(super) fn decimal_divide(a: &Decimal, b: &Decimal) -> Result<Decimal, ScriptError> {
    if b.unscaled() == 0 {
        return Err(ScriptError::new(
            "ZeroDivisionError",
            "[<class 'decimal.DivisionByZero'>]",
        ));
    }
    let ideal = i32::from(a.scale()) - i32::from(b.scale());
    for extra in 0..=28 {
        let scale = ideal.max(0) + extra;
        let shift = scale - ideal;
        let Some(numerator) = 10i128
            .checked_pow(shift as u32)
            .and_then(|p| a.unscaled().checked_mul(p))
        else {
            break;
        };
        if numerator % b.unscaled() == 0 {
            return Ok(Decimal::new(numerator / b.unscaled(), scale as i8));
        }
        let q = numerator / b.unscaled();
        if q.unsigned_abs().to_string().len() >= 28 {
            return Ok(Decimal::new(q, scale as i8));
        }
    }
    Decimal::parse(&format!("{}", a.to_f64() / b.to_f64()))
        .map_err(|e| ScriptError::value_error(e.to_string()))
}

pub(super) fn dates_error(op: &str, l: &Value, r: &Value) -> ScriptError {
    ScriptError::type_error(format!(
        "unsupported operand type(s) for {op}: '{}' and '{}'",
        l.type_name(),
        r.type_name()
    ))
}

/// `left op right` for Python values; Django objects (Q, expressions) go to the bridge.
pub fn binary(
    interp: &mut Interpreter,
    left: &Value,
    op: &str,
    right: &Value,
) -> Result<Value, ScriptError> {
    if let Some(v) = super::queryset::binary_django(left, op, right)? {
        return Ok(v);
    }
    use Value::*;
    let err = || dates_error(op, left, right);
    Ok(match (left, right) {
        (Int(_) | Bool(_), Int(_) | Bool(_)) => {
            let a = int_arg(left, "")?;
            let b = int_arg(right, "")?;
            match op {
                "+" => Int(a.checked_add(b).ok_or_else(overflow)?),
                "-" => Int(a.checked_sub(b).ok_or_else(overflow)?),
                "*" => Int(a.checked_mul(b).ok_or_else(overflow)?),
                "/" => {
                    if b == 0 {
                        return Err(ScriptError::new("ZeroDivisionError", "division by zero"));
                    }
                    Float(a as f64 / b as f64)
                }
                "//" | "%" => {
                    if b == 0 {
                        return Err(ScriptError::new(
                            "ZeroDivisionError",
                            "integer division or modulo by zero",
                        ));
                    }
                    let q = a.div_euclid(b);
                    let q = if b < 0 && a.rem_euclid(b) != 0 {
                        q + 1
                    } else {
                        q
                    };
                    let q = if b < 0 {
                        (a as f64 / b as f64).floor() as i64
                    } else {
                        q
                    };
                    if op == "//" {
                        Int(q)
                    } else {
                        Int(a - q * b)
                    }
                }
                "**" => {
                    if b < 0 {
                        Float((a as f64).powf(b as f64))
                    } else {
                        Int(a
                            .checked_pow(u32::try_from(b).map_err(|_| overflow())?)
                            .ok_or_else(overflow)?)
                    }
                }
                "&" => Int(a & b),
                "|" => Int(a | b),
                "^" => Int(a ^ b),
                "<<" => Int(a.checked_shl(b as u32).ok_or_else(overflow)?),
                ">>" => Int(a >> b.clamp(0, 63)),
                _ => return Err(err()),
            }
        }
        (Decimal(_), Int(_) | Bool(_) | Decimal(_)) | (Int(_) | Bool(_), Decimal(_)) => {
            let (Some(a), Some(b)) = (decimal_of(left), decimal_of(right)) else {
                return Err(err());
            };
            let scale = a.scale().max(b.scale());
            let (ra, rb) = (rescale(&a, scale.into()), rescale(&b, scale.into()));
            match op {
                "+" => Decimal(quiver::expressions::Decimal::new(
                    ra.unscaled()
                        .checked_add(rb.unscaled())
                        .ok_or_else(overflow)?,
                    scale,
                )),
                "-" => Decimal(quiver::expressions::Decimal::new(
                    ra.unscaled()
                        .checked_sub(rb.unscaled())
                        .ok_or_else(overflow)?,
                    scale,
                )),
                "*" => Decimal(quiver::expressions::Decimal::new(
                    a.unscaled()
                        .checked_mul(b.unscaled())
                        .ok_or_else(overflow)?,
                    a.scale().checked_add(b.scale()).ok_or_else(overflow)?,
                )),
                "/" => Decimal(decimal_divide(&a, &b)?),
                "//" | "%" => {
                    if rb.unscaled() == 0 {
                        return Err(ScriptError::new(
                            "ZeroDivisionError",
                            "[<class 'decimal.DivisionByZero'>]",
                        ));
                    }
                    // Decimal's // and % truncate toward zero (unlike int's).
                    let q = ra.unscaled() / rb.unscaled();
                    if op == "//" {
                        Decimal(quiver::expressions::Decimal::new(q, 0))
                    } else {
                        Decimal(quiver::expressions::Decimal::new(
                            ra.unscaled() - q * rb.unscaled(),
                            scale,
                        ))
                    }
                }
                _ => return Err(err()),
            }
        }
        (Decimal(_), Float(_)) | (Float(_), Decimal(_)) => {
            return Err(ScriptError::type_error(format!(
                "unsupported operand type(s) for {op}: '{}' and '{}'",
                left.type_name(),
                right.type_name()
            )))
        }
        (Int(_) | Bool(_) | Float(_), Int(_) | Bool(_) | Float(_)) => {
            let (a, b) = (to_f64(left).unwrap_or(0.0), to_f64(right).unwrap_or(0.0));
            match op {
                "+" => Float(a + b),
                "-" => Float(a - b),
                "*" => Float(a * b),
                "/" | "//" | "%" if b == 0.0 => {
                    return Err(ScriptError::new(
                        "ZeroDivisionError",
                        "float division by zero",
                    ))
                }
                "/" => Float(a / b),
                "//" => Float((a / b).floor()),
                "%" => Float(a - b * (a / b).floor()),
                "**" => Float(a.powf(b)),
                _ => return Err(err()),
            }
        }
        (Str(a), Str(b)) if op == "+" => Value::str(format!("{a}{b}")),
        (Str(a), Int(n)) | (Int(n), Str(a)) if op == "*" => {
            let times = usize::try_from((*n).max(0)).unwrap_or(usize::MAX);
            if a.len().saturating_mul(times) > MAX_REPEAT_LEN {
                return Err(ScriptError::new("MemoryError", "repeated string too large"));
            }
            Value::str(a.repeat(times))
        }
        (Str(a), _) if op == "%" => {
            let items = match right {
                Tuple(t) => t.to_vec(),
                other => vec![other.clone()],
            };
            Value::str(percent_format(interp, a, &items)?)
        }
        (List(a), List(b)) if op == "+" => {
            let mut items = a.borrow().clone();
            items.extend(b.borrow().iter().cloned());
            Value::list(items)
        }
        (Tuple(a), Tuple(b)) if op == "+" => {
            let mut items = a.to_vec();
            items.extend(b.iter().cloned());
            Value::tuple(items)
        }
        (List(a), Int(n)) if op == "*" => {
            let items = a.borrow();
            let times = usize::try_from((*n).max(0)).unwrap_or(usize::MAX);
            if items.len().saturating_mul(times) > MAX_REPEAT_LEN {
                return Err(ScriptError::new("MemoryError", "repeated list too large"));
            }
            Value::list((0..times).flat_map(|_| items.iter().cloned()).collect())
        }
        (Set(a), Set(b)) => {
            let (a, b) = (a.borrow().clone(), b.borrow().clone());
            let contains = |s: &[Value], v: &Value| s.iter().any(|x| values_equal(x, v));
            make_set(match op {
                "|" => a.iter().chain(b.iter()).cloned().collect(),
                "&" => a.iter().filter(|v| contains(&b, v)).cloned().collect(),
                "-" => a.iter().filter(|v| !contains(&b, v)).cloned().collect(),
                "^" => a
                    .iter()
                    .filter(|v| !contains(&b, v))
                    .chain(b.iter().filter(|v| !contains(&a, v)))
                    .cloned()
                    .collect(),
                _ => return Err(err()),
            })
        }
        (Dict(a), Dict(b)) if op == "|" => {
            let mut items = a.borrow().clone();
            for (k, v) in b.borrow().iter() {
                dict_insert(&mut items, k.clone(), v.clone())?;
            }
            Value::dict(items)
        }
        (Date(d), TimeDelta(t)) | (TimeDelta(t), Date(d)) if op == "+" => Date(python_date(
            d.checked_add_signed(chrono::TimeDelta::days(t.num_days()))
                .ok_or_else(date_overflow)?,
        )?),
        (Date(d), TimeDelta(t)) if op == "-" => Date(python_date(
            d.checked_sub_signed(chrono::TimeDelta::days(t.num_days()))
                .ok_or_else(date_overflow)?,
        )?),
        (Date(a), Date(b)) if op == "-" => TimeDelta(*a - *b),
        (DateTime(d), TimeDelta(t)) | (TimeDelta(t), DateTime(d)) if op == "+" => {
            let moved = d.checked_add_signed(*t).ok_or_else(date_overflow)?;
            python_date(moved.date())?;
            DateTime(moved)
        }
        (DateTime(d), TimeDelta(t)) if op == "-" => {
            let moved = d.checked_sub_signed(*t).ok_or_else(date_overflow)?;
            python_date(moved.date())?;
            DateTime(moved)
        }
        (DateTime(a), DateTime(b)) if op == "-" => TimeDelta(*a - *b),
        (TimeDelta(a), TimeDelta(b)) => match op {
            "+" => TimeDelta(a.checked_add(b).ok_or_else(date_overflow)?),
            "-" => TimeDelta(a.checked_sub(b).ok_or_else(date_overflow)?),
            "/" => Float(
                a.num_microseconds().unwrap_or(0) as f64 / b.num_microseconds().unwrap_or(1) as f64,
            ),
            _ => return Err(err()),
        },
        (TimeDelta(a), Int(n)) | (Int(n), TimeDelta(a)) if op == "*" => {
            let n = i32::try_from(*n).map_err(|_| date_overflow())?;
            TimeDelta(a.checked_mul(n).ok_or_else(date_overflow)?)
        }
        _ => return Err(err()),
    })
}

/// `-x`, `+x`, `~x`.
pub fn unary(op: &str, v: &Value) -> Result<Value, ScriptError> {
    if let Some(v) = super::queryset::unary_django(op, v)? {
        return Ok(v);
    }
    Ok(match (op, v) {
        ("-", Value::Int(i)) => Value::Int(i.checked_neg().ok_or_else(overflow)?),
        ("-", Value::Bool(b)) => Value::Int(-i64::from(*b)),
        ("-", Value::Float(f)) => Value::Float(-f),
        ("-", Value::Decimal(d)) => Value::Decimal(Decimal::new(-d.unscaled(), d.scale())),
        ("-", Value::TimeDelta(d)) => Value::TimeDelta(-*d),
        ("+", v @ (Value::Int(_) | Value::Float(_) | Value::Decimal(_) | Value::TimeDelta(_))) => {
            v.clone()
        }
        ("~", Value::Int(i)) => Value::Int(!i),
        _ => {
            return Err(ScriptError::type_error(format!(
                "bad operand type for unary {op}: '{}'",
                v.type_name()
            )))
        }
    })
}

/// Python equality (numbers across types, containers element-wise, instances by model and pk).
pub fn values_equal(a: &Value, b: &Value) -> bool {
    use Value::*;
    match (a, b) {
        (None, None) => true,
        (Str(x), Str(y)) => x == y,
        (Int(_) | Bool(_) | Float(_) | Decimal(_), Int(_) | Bool(_) | Float(_) | Decimal(_)) => {
            match (decimal_of(a), decimal_of(b)) {
                (Some(x), Some(y)) => {
                    let s = x.scale().max(y.scale());
                    rescale(&x, s.into()).unscaled() == rescale(&y, s.into()).unscaled()
                }
                _ => to_f64(a) == to_f64(b),
            }
        }
        (Date(x), Date(y)) => x == y,
        (DateTime(x), DateTime(y)) => x == y,
        (Time(x), Time(y)) => x == y,
        (TimeDelta(x), TimeDelta(y)) => x == y,
        (List(x), List(y)) => {
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| values_equal(p, q))
        }
        (Tuple(x), Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| values_equal(p, q))
        }
        (Set(x), Set(y)) => {
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len() && x.iter().all(|p| y.iter().any(|q| values_equal(p, q)))
        }
        (Dict(x), Dict(y)) => {
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.iter()
                        .any(|(k2, v2)| values_equal(k, k2) && values_equal(v, v2))
                })
        }
        (Instance(x), Instance(y)) => {
            if Rc::ptr_eq(x, y) {
                return true;
            }
            let (x, y) = (x.borrow(), y.borrow());
            let (px, py) = (x.pk_value(), y.pk_value());
            x.model == y.model && !matches!(px, None) && values_equal(&px, &py)
        }
        (ExceptionClass { name: x, model: mx }, ExceptionClass { name: y, model: my }) => {
            x == y && mx == my
        }
        (ModelClass(x), ModelClass(y)) => Rc::ptr_eq(x, y),
        (Builtin(x), Builtin(y)) => x == y,
        _ => false,
    }
}

/// Python ordering; `TypeError` between unorderable types.
pub fn compare_values(a: &Value, b: &Value) -> Result<Ordering, ScriptError> {
    use Value::*;
    let unorderable = || {
        ScriptError::type_error(format!(
            "'<' not supported between instances of '{}' and '{}'",
            a.type_name(),
            b.type_name()
        ))
    };
    Ok(match (a, b) {
        (Int(_) | Bool(_) | Decimal(_), Int(_) | Bool(_) | Decimal(_)) => {
            let (x, y) = (
                decimal_of(a).ok_or_else(unorderable)?,
                decimal_of(b).ok_or_else(unorderable)?,
            );
            let s = x.scale().max(y.scale());
            rescale(&x, s.into())
                .unscaled()
                .cmp(&rescale(&y, s.into()).unscaled())
        }
        (Int(_) | Bool(_) | Float(_) | Decimal(_), Int(_) | Bool(_) | Float(_) | Decimal(_)) => {
            to_f64(a).partial_cmp(&to_f64(b)).unwrap_or(Ordering::Equal)
        }
        (Str(x), Str(y)) => x.cmp(y),
        (Date(x), Date(y)) => x.cmp(y),
        (DateTime(x), DateTime(y)) => x.cmp(y),
        (Time(x), Time(y)) => x.cmp(y),
        (TimeDelta(x), TimeDelta(y)) => x.cmp(y),
        (List(_) | Tuple(_), List(_) | Tuple(_)) => {
            let x = sequence(a);
            let y = sequence(b);
            for (p, q) in x.iter().zip(y.iter()) {
                if !values_equal(p, q) {
                    return compare_values(p, q);
                }
            }
            x.len().cmp(&y.len())
        }
        _ => return Err(unorderable()),
    })
}

pub(super) fn sequence(v: &Value) -> Vec<Value> {
    match v {
        Value::List(l) => l.borrow().clone(),
        Value::Tuple(t) => t.to_vec(),
        _ => vec![],
    }
}

/// `left op right` for comparison operators.
pub fn compare(
    interp: &mut Interpreter,
    left: &Value,
    op: &str,
    right: &Value,
) -> Result<bool, ScriptError> {
    Ok(match op {
        "==" => values_equal(left, right),
        "!=" => !values_equal(left, right),
        "is" => identical(left, right),
        "is not" => !identical(left, right),
        "in" | "not in" => {
            let found = match right {
                Value::Str(s) => match left {
                    Value::Str(sub) => s.contains(&**sub),
                    other => {
                        return Err(ScriptError::type_error(format!(
                            "'in <string>' requires string as left operand, not {}",
                            other.type_name()
                        )))
                    }
                },
                Value::Dict(d) => d.borrow().iter().any(|(k, _)| values_equal(k, left)),
                other => interp.iterate(other)?.iter().any(|v| values_equal(v, left)),
            };
            found == (op == "in")
        }
        _ => {
            let ord = compare_values(left, right).map_err(|e| {
                ScriptError::type_error(e.message.replace("'<'", &format!("'{op}'")))
            })?;
            match op {
                "<" => ord == Ordering::Less,
                "<=" => ord != Ordering::Greater,
                ">" => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            }
        }
    })
}

pub(super) fn identical(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::None, Value::None) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::List(x), Value::List(y)) | (Value::Set(x), Value::Set(y)) => Rc::ptr_eq(x, y),
        (Value::Dict(x), Value::Dict(y)) => Rc::ptr_eq(x, y),
        (Value::Instance(x), Value::Instance(y)) => Rc::ptr_eq(x, y),
        (Value::None, _) | (_, Value::None) => false,
        _ => values_equal(a, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Value {
        Value::Decimal(Decimal::parse(text).unwrap())
    }

    fn interp() -> Interpreter {
        Interpreter::new(
            "t.py",
            std::path::PathBuf::from("."),
            crate::script::Mode::Print(crate::script::Format::Json),
            Box::new(std::io::sink()),
        )
    }

    #[test]
    fn decimal_arithmetic_keeps_pythons_digits() {
        let mut i = interp();
        let text = |v: Value| v.to_str();
        assert_eq!(
            text(binary(&mut i, &dec("1.10"), "+", &dec("2.205")).unwrap()),
            "3.305"
        );
        assert_eq!(
            text(binary(&mut i, &dec("2.50"), "*", &Value::Int(3)).unwrap()),
            "7.50"
        );
        assert_eq!(
            text(binary(&mut i, &dec("10"), "/", &dec("4")).unwrap()),
            "2.5"
        );
        assert_eq!(
            text(binary(&mut i, &dec("1"), "/", &dec("3")).unwrap()),
            "0.3333333333333333333333333333"
        );
        assert_eq!(
            binary(&mut i, &dec("1"), "+", &Value::Float(1.0))
                .unwrap_err()
                .kind,
            "TypeError"
        );
        assert!(values_equal(&dec("2.50"), &Value::Float(2.5)));
    }

    #[test]
    fn dates_and_decimals_refuse_out_of_range_values_instead_of_panicking() {
        let mut i = interp();
        let last = Value::Date(chrono::NaiveDate::from_ymd_opt(9999, 12, 31).unwrap());
        let day = Value::TimeDelta(chrono::TimeDelta::days(1));
        assert_eq!(
            binary(&mut i, &last, "+", &day).unwrap_err().kind,
            "OverflowError"
        );
        assert_eq!(
            binary(&mut i, &day, "*", &Value::Int(i64::MAX))
                .unwrap_err()
                .kind,
            "OverflowError"
        );
        assert_eq!(decimal_round(&Decimal::new(15, 1), -50).to_f64(), 0.0);
        assert_eq!(
            crate::script::values::decimal_text(&decimal_round(&Decimal::new(12345, 3), 2)),
            "12.34"
        );
    }

    #[test]
    fn integer_division_floors_and_overflow_is_an_error() {
        let mut i = interp();
        assert!(values_equal(
            &binary(&mut i, &Value::Int(-7), "//", &Value::Int(2)).unwrap(),
            &Value::Int(-4)
        ));
        assert!(values_equal(
            &binary(&mut i, &Value::Int(-7), "%", &Value::Int(3)).unwrap(),
            &Value::Int(2)
        ));
        assert_eq!(
            binary(&mut i, &Value::Int(i64::MAX), "+", &Value::Int(1))
                .unwrap_err()
                .kind,
            "OverflowError"
        );
    }
}
