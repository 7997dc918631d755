//! Text functions with PostgreSQL's semantics: lengths and positions count characters, not
//! bytes; `substr` accepts positions before the start (`substr('hello', 0, 3)` is `'he'`);
//! `left`/`right` with a negative count drop characters from the other end; `trim` removes
//! spaces only; NULL in gives NULL out, except in `concat`, where NULL is the empty string.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, Int64Builder, StringArray, StringBuilder,
};
use arrow::compute::kernels::take::take;
use arrow::datatypes::{DataType, Int64Type};

use crate::error::{EngineError, Result};

/// The largest result (in bytes) `repeat`/`lpad`/`rpad` build, as PostgreSQL refuses values
/// over 1 GB.
const MAX_RESULT_BYTES: usize = 1 << 30;

fn too_large() -> EngineError {
    EngineError::Execution("requested length too large".to_string())
}

fn strings(array: &ArrayRef) -> Result<&StringArray> {
    array.as_string_opt::<i32>().ok_or_else(|| {
        EngineError::Internal(format!(
            "text function expected text, got {}",
            array.data_type()
        ))
    })
}

fn integers(array: &ArrayRef) -> Result<&Int64Array> {
    array.as_primitive_opt::<Int64Type>().ok_or_else(|| {
        EngineError::Internal(format!(
            "text function expected bigint, got {}",
            array.data_type()
        ))
    })
}

/// Applies `f` to a text column; over a dictionary it runs once per distinct value.
fn per_distinct(array: &ArrayRef, f: impl Fn(&ArrayRef) -> Result<ArrayRef>) -> Result<ArrayRef> {
    if let DataType::Dictionary(_, _) = array.data_type() {
        let dictionary = array.as_any_dictionary();
        let out = f(dictionary.values())?;
        return Ok(take(out.as_ref(), dictionary.keys(), None)?);
    }
    f(array)
}

/// A text → text function applied value by value.
fn map_text(array: &ArrayRef, f: impl Fn(&str) -> String) -> Result<ArrayRef> {
    per_distinct(array, |values| {
        let out: StringArray = strings(values)?.iter().map(|v| v.map(&f)).collect();
        Ok(Arc::new(out))
    })
}

/// `lower(s)`.
pub fn lower(array: &ArrayRef) -> Result<ArrayRef> {
    map_text(array, str::to_lowercase)
}

/// `upper(s)`.
pub fn upper(array: &ArrayRef) -> Result<ArrayRef> {
    map_text(array, str::to_uppercase)
}

/// `reverse(s)`, by characters.
pub fn reverse(array: &ArrayRef) -> Result<ArrayRef> {
    map_text(array, |s| s.chars().rev().collect())
}

/// `length(s)` in characters.
pub fn length(array: &ArrayRef) -> Result<ArrayRef> {
    per_distinct(array, |values| {
        let out: Int64Array = strings(values)?
            .iter()
            .map(|v| v.map(|s| s.chars().count() as i64))
            .collect();
        Ok(Arc::new(out))
    })
}

/// Which end(s) `trim` works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimSide {
    Both,
    Leading,
    Trailing,
}

fn trim_one(s: &str, side: TrimSide, chars: impl Fn(char) -> bool + Copy) -> &str {
    match side {
        TrimSide::Both => s.trim_matches(chars),
        TrimSide::Leading => s.trim_start_matches(chars),
        TrimSide::Trailing => s.trim_end_matches(chars),
    }
}

/// `btrim(s[, characters])`, `ltrim`, `rtrim`: spaces by default.
pub fn trim(args: &[ArrayRef], side: TrimSide) -> Result<ArrayRef> {
    if args.len() == 1 {
        return map_text(&args[0], |s| trim_one(s, side, |c| c == ' ').to_string());
    }
    let (values, characters) = (strings(&args[0])?, strings(&args[1])?);
    let out: StringArray = values
        .iter()
        .zip(characters.iter())
        .map(|(s, set)| match (s, set) {
            (Some(s), Some(set)) => Some(trim_one(s, side, |c| set.contains(c)).to_string()),
            _ => None,
        })
        .collect();
    Ok(Arc::new(out))
}

/// PostgreSQL's `substr(s, start[, count])`: characters `start .. start + count` (1-based),
/// clipped to the string; a negative count is an error.
fn substring(s: &str, start: i64, count: Option<i64>) -> Result<String> {
    if let Some(c) = count {
        if c < 0 {
            return Err(EngineError::Execution(
                "negative substring length not allowed".to_string(),
            ));
        }
    }
    let first = start.max(1);
    let skip = usize::try_from(first - 1).unwrap_or(usize::MAX);
    Ok(match count.map(|c| start.saturating_add(c)) {
        Some(end) if end <= first => String::new(),
        Some(end) => {
            let take_count = usize::try_from(end - first).unwrap_or(usize::MAX);
            s.chars().skip(skip).take(take_count).collect()
        }
        None => s.chars().skip(skip).collect(),
    })
}

/// `substr(s, start[, count])`.
pub fn substr(args: &[ArrayRef]) -> Result<ArrayRef> {
    let values = strings(&args[0])?;
    let starts = integers(&args[1])?;
    let counts = args.get(2).map(integers).transpose()?;
    let mut out = StringBuilder::with_capacity(values.len(), values.value_data().len());
    for i in 0..values.len() {
        let count = match counts {
            Some(c) if c.is_null(i) => {
                out.append_null();
                continue;
            }
            Some(c) => Some(c.value(i)),
            None => None,
        };
        if values.is_null(i) || starts.is_null(i) {
            out.append_null();
            continue;
        }
        out.append_value(substring(values.value(i), starts.value(i), count)?);
    }
    Ok(Arc::new(out.finish()))
}

/// `replace(s, from, to)`; an empty `from` leaves `s` unchanged. Without `to`, removes.
pub fn replace(args: &[ArrayRef]) -> Result<ArrayRef> {
    let values = strings(&args[0])?;
    let from = strings(&args[1])?;
    let to = args.get(2).map(strings).transpose()?;
    let out: StringArray = (0..values.len())
        .map(|i| {
            if values.is_null(i) || from.is_null(i) || to.is_some_and(|t| t.is_null(i)) {
                return None;
            }
            let (s, pattern) = (values.value(i), from.value(i));
            let replacement = to.map_or("", |t| t.value(i));
            Some(if pattern.is_empty() {
                s.to_string()
            } else {
                s.replace(pattern, replacement)
            })
        })
        .collect();
    Ok(Arc::new(out))
}

/// `left(s, n)` / `right(s, n)`; a negative `n` drops `|n|` characters from the other end.
pub fn left_right(args: &[ArrayRef], left: bool) -> Result<ArrayRef> {
    let values = strings(&args[0])?;
    let counts = integers(&args[1])?;
    let out: StringArray = (0..values.len())
        .map(|i| {
            if values.is_null(i) || counts.is_null(i) {
                return None;
            }
            let (s, n) = (values.value(i), counts.value(i));
            let total = s.chars().count() as i64;
            let keep = if n >= 0 {
                n.min(total)
            } else {
                total.saturating_add(n).max(0)
            };
            Some(if left {
                s.chars().take(keep as usize).collect::<String>()
            } else {
                s.chars().skip((total - keep) as usize).collect()
            })
        })
        .collect();
    Ok(Arc::new(out))
}

/// `repeat(s, n)`; `n <= 0` gives the empty string.
pub fn repeat(args: &[ArrayRef]) -> Result<ArrayRef> {
    let values = strings(&args[0])?;
    let counts = integers(&args[1])?;
    let mut out = StringBuilder::new();
    for i in 0..values.len() {
        if values.is_null(i) || counts.is_null(i) {
            out.append_null();
            continue;
        }
        let (s, n) = (values.value(i), counts.value(i).max(0) as u64);
        let bytes = (s.len() as u64).saturating_mul(n);
        if bytes > MAX_RESULT_BYTES as u64 {
            return Err(too_large());
        }
        out.append_value(s.repeat(n as usize));
    }
    Ok(Arc::new(out.finish()))
}

/// `strpos(s, sub)`: the 1-based character position of the first occurrence, or 0.
pub fn str_index(args: &[ArrayRef]) -> Result<ArrayRef> {
    let values = strings(&args[0])?;
    let needles = strings(&args[1])?;
    let mut out = Int64Builder::with_capacity(values.len());
    for i in 0..values.len() {
        if values.is_null(i) || needles.is_null(i) {
            out.append_null();
            continue;
        }
        let s = values.value(i);
        let position = match s.find(needles.value(i)) {
            Some(byte) => s[..byte].chars().count() as i64 + 1,
            None => 0,
        };
        out.append_value(position);
    }
    Ok(Arc::new(out.finish()))
}

/// `lpad(s, length[, fill])` / `rpad`: pads with `fill` (a space by default) or truncates to
/// `length` characters.
pub fn pad(args: &[ArrayRef], left: bool) -> Result<ArrayRef> {
    let values = strings(&args[0])?;
    let lengths = integers(&args[1])?;
    let fills = args.get(2).map(strings).transpose()?;
    let mut out = StringBuilder::new();
    for i in 0..values.len() {
        if values.is_null(i) || lengths.is_null(i) || fills.is_some_and(|f| f.is_null(i)) {
            out.append_null();
            continue;
        }
        let (s, target) = (values.value(i), lengths.value(i));
        let fill = fills.map_or(" ", |f| f.value(i));
        let target = usize::try_from(target.max(0)).unwrap_or(usize::MAX);
        if target.saturating_mul(4) > MAX_RESULT_BYTES {
            return Err(too_large());
        }
        let count = s.chars().count();
        if count >= target {
            out.append_value(s.chars().take(target).collect::<String>());
            continue;
        }
        if fill.is_empty() {
            out.append_value(s);
            continue;
        }
        let padding: String = fill.chars().cycle().take(target - count).collect();
        if left {
            out.append_value(padding + s);
        } else {
            out.append_value(format!("{s}{padding}"));
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `concat(a, b, …)`: NULL arguments count as empty strings; never NULL.
pub fn concat(args: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
    let columns = args.iter().map(strings).collect::<Result<Vec<_>>>()?;
    let mut out = StringBuilder::with_capacity(num_rows, 0);
    let mut row = String::new();
    for i in 0..num_rows {
        row.clear();
        for c in &columns {
            if c.is_valid(i) {
                row.push_str(c.value(i));
            }
        }
        out.append_value(&row);
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::DictionaryArray;
    use arrow::datatypes::Int32Type;

    fn text(values: Vec<Option<&str>>) -> ArrayRef {
        Arc::new(StringArray::from(values))
    }

    fn ints(values: Vec<Option<i64>>) -> ArrayRef {
        Arc::new(Int64Array::from(values))
    }

    fn collect(array: &ArrayRef) -> Vec<Option<String>> {
        array
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect()
    }

    fn owned(values: Vec<Option<&str>>) -> Vec<Option<String>> {
        values.into_iter().map(|s| s.map(str::to_string)).collect()
    }

    #[test]
    fn substr_follows_postgres_positions() {
        assert_eq!(substring("hello", 0, Some(3)).unwrap(), "he");
        assert_eq!(substring("hello", 2, Some(3)).unwrap(), "ell");
        assert_eq!(substring("hello", -5, Some(3)).unwrap(), "");
        assert_eq!(substring("hello", 4, None).unwrap(), "lo");
        assert_eq!(substring("hello", 10, None).unwrap(), "");
        assert_eq!(substring("héllo", 2, Some(2)).unwrap(), "él");
        assert_eq!(substring("hello", i64::MAX, Some(i64::MAX)).unwrap(), "");
        assert!(substring("hello", 1, Some(-1)).is_err());
        let out = substr(&[
            text(vec![Some("hello"), None, Some("abc")]),
            ints(vec![Some(2), Some(1), None]),
        ])
        .unwrap();
        assert_eq!(collect(&out), owned(vec![Some("ello"), None, None]));
    }

    #[test]
    fn left_right_reverse_and_lengths_count_characters() {
        let s = text(vec![Some("héllo"), Some("ab"), None]);
        let out = left_right(
            &[Arc::clone(&s), ints(vec![Some(2), Some(-1), Some(1)])],
            true,
        )
        .unwrap();
        assert_eq!(collect(&out), owned(vec![Some("hé"), Some("a"), None]));
        let out = left_right(
            &[Arc::clone(&s), ints(vec![Some(-3), Some(5), Some(1)])],
            false,
        )
        .unwrap();
        assert_eq!(collect(&out), owned(vec![Some("lo"), Some("ab"), None]));
        assert_eq!(
            collect(&reverse(&s).unwrap()),
            owned(vec![Some("olléh"), Some("ba"), None])
        );
        let lengths = length(&s).unwrap();
        let lengths: Vec<_> = lengths.as_primitive::<Int64Type>().iter().collect();
        assert_eq!(lengths, vec![Some(5), Some(2), None]);
    }

    #[test]
    fn dictionary_inputs_run_per_distinct_value() {
        let dict: DictionaryArray<Int32Type> = vec![Some("Ab"), None, Some("Ab"), Some("c")]
            .into_iter()
            .collect();
        let dict: ArrayRef = Arc::new(dict);
        let out = upper(&dict).unwrap();
        assert_eq!(out.data_type(), &DataType::Utf8);
        assert_eq!(
            collect(&out),
            owned(vec![Some("AB"), None, Some("AB"), Some("C")])
        );
        assert_eq!(collect(&lower(&dict).unwrap())[0].as_deref(), Some("ab"));
    }

    #[test]
    fn trim_removes_spaces_or_given_characters() {
        let s = text(vec![Some("  x y \t "), Some("xxhixx")]);
        let out = trim(&[Arc::clone(&s)], TrimSide::Both).unwrap();
        assert_eq!(collect(&out), owned(vec![Some("x y \t"), Some("xxhixx")]));
        let out = trim(&[Arc::clone(&s)], TrimSide::Leading).unwrap();
        assert_eq!(collect(&out), owned(vec![Some("x y \t "), Some("xxhixx")]));
        let chars = text(vec![Some(" \t"), Some("x")]);
        let out = trim(&[Arc::clone(&s), chars], TrimSide::Trailing).unwrap();
        assert_eq!(collect(&out), owned(vec![Some("  x y"), Some("xxhi")]));
    }

    #[test]
    fn replace_repeat_strpos_and_padding() {
        let s = text(vec![Some("banana"), Some("abc")]);
        let out = replace(&[
            Arc::clone(&s),
            text(vec![Some("an"), Some("")]),
            text(vec![Some("AN"), Some("z")]),
        ])
        .unwrap();
        assert_eq!(collect(&out), owned(vec![Some("bANANa"), Some("abc")]));
        let out = replace(&[Arc::clone(&s), text(vec![Some("a"), Some("b")])]).unwrap();
        assert_eq!(collect(&out), owned(vec![Some("bnn"), Some("ac")]));
        let out = repeat(&[Arc::clone(&s), ints(vec![Some(2), Some(-1)])]).unwrap();
        assert_eq!(collect(&out), owned(vec![Some("bananabanana"), Some("")]));
        assert!(matches!(
            repeat(&[text(vec![Some("ab")]), ints(vec![Some(i64::MAX)])]),
            Err(EngineError::Execution(_))
        ));
        let positions = str_index(&[
            text(vec![Some("héllo"), Some("abc"), Some("x")]),
            text(vec![Some("l"), Some("z"), Some("")]),
        ])
        .unwrap();
        let positions: Vec<_> = positions.as_primitive::<Int64Type>().iter().collect();
        assert_eq!(positions, vec![Some(3), Some(0), Some(1)]);
        let out = pad(
            &[
                text(vec![Some("hi"), Some("hello"), Some("hi")]),
                ints(vec![Some(5), Some(3), Some(4)]),
                text(vec![Some("xy"), Some("xy"), Some("")]),
            ],
            true,
        )
        .unwrap();
        assert_eq!(
            collect(&out),
            owned(vec![Some("xyxhi"), Some("hel"), Some("hi")])
        );
        let out = pad(&[text(vec![Some("hi")]), ints(vec![Some(4)])], false).unwrap();
        assert_eq!(collect(&out), owned(vec![Some("hi  ")]));
        let out = pad(&[text(vec![Some("hi")]), ints(vec![Some(-1)])], false).unwrap();
        assert_eq!(collect(&out), owned(vec![Some("")]));
    }

    #[test]
    fn concat_treats_null_as_empty() {
        let out = concat(
            &[
                text(vec![Some("a"), None, None]),
                text(vec![Some("b"), Some("c"), None]),
            ],
            3,
        )
        .unwrap();
        assert_eq!(collect(&out), owned(vec![Some("ab"), Some("c"), Some("")]));
        assert_eq!(out.null_count(), 0);
    }
}
