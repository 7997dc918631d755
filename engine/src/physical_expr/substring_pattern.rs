//! [`SubstringPattern`]: a LIKE or regular-expression pattern that is only literal text
//! separated by "any run of characters", matched with substring searches instead of a regex.
//!
//! TPC-H's `o_comment NOT LIKE '%special%requests%'` (Django: `exclude(o_comment__regex=
//! 'special.*requests')`) and every `contains`/`startswith`/`endswith` lookup have this
//! shape. A regex engine pays for its generality on every row (a cache taken from a pool,
//! a lazy DFA); here a row is a prefix test, a suffix test and, in between, one `memmem`
//! search per literal, leftmost first (taking the leftmost occurrence of each literal never
//! loses a match, since it leaves the most room for the ones after it). Bytes are compared,
//! which is exact for UTF-8 text and UTF-8 literals.
//!
//! Only case-sensitive patterns qualify. LIKE's `%` and a regex's `.*` both match any
//! characters, newlines included (PostgreSQL's regular expressions are not
//! newline-sensitive unless asked to be), so every value is decided here.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, GenericStringArray, OffsetSizeTrait};
use arrow::buffer::BooleanBuffer;
use arrow::compute::kernels::take::take;
use arrow::datatypes::DataType;
use memchr::memmem::Finder;

use crate::error::Result;

/// Literal text with "anything" between the pieces: `prefix … middle[0] … middle[n] … suffix`.
#[derive(Debug, Clone)]
pub(crate) struct SubstringPattern {
    /// The whole value must equal this (a pattern without wildcards).
    exact: Option<Vec<u8>>,
    prefix: Vec<u8>,
    middles: Vec<Finder<'static>>,
    suffix: Vec<u8>,
}

impl SubstringPattern {
    fn new(exact: Option<Vec<u8>>, pieces: Vec<Vec<u8>>, anchored: (bool, bool)) -> Self {
        let mut pieces = pieces;
        let suffix = if anchored.1 {
            pieces.pop().unwrap_or_default()
        } else {
            Vec::new()
        };
        let prefix = if anchored.0 && !pieces.is_empty() {
            pieces.remove(0)
        } else {
            Vec::new()
        };
        SubstringPattern {
            exact,
            prefix,
            middles: pieces
                .into_iter()
                .filter(|piece| !piece.is_empty())
                .map(|piece| Finder::new(&piece).into_owned())
                .collect(),
            suffix,
        }
    }

    /// A LIKE pattern without `_` (after escapes), or `None`. `%` separates the pieces; a
    /// backslash makes the next character literal.
    pub(crate) fn from_like(pattern: &str) -> Option<SubstringPattern> {
        let mut pieces = vec![Vec::new()];
        let mut characters = pattern.chars();
        let mut buffer = [0u8; 4];
        while let Some(c) = characters.next() {
            let literal = match c {
                '%' => {
                    pieces.push(Vec::new());
                    continue;
                }
                '_' => return None,
                // A trailing escape is rejected at planning; be safe anyway.
                '\\' => characters.next()?,
                other => other,
            };
            pieces
                .last_mut()?
                .extend_from_slice(literal.encode_utf8(&mut buffer).as_bytes());
        }
        if pieces.len() == 1 {
            return pieces
                .pop()
                .map(|whole| Self::new(Some(whole), vec![], (true, true)));
        }
        // The first piece is anchored at the start, the last at the end (both possibly empty).
        Some(Self::new(None, pieces, (true, true)))
    }

    /// A regular expression of literal characters and `.*` gaps, optionally anchored by `^`
    /// and `$`, or `None`. Anything else (classes, alternation, repetition of a literal,
    /// escapes) is left to the regex engine.
    pub(crate) fn from_regex(pattern: &str) -> Option<SubstringPattern> {
        let (anchored_start, rest) = match pattern.strip_prefix('^') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        let (anchored_end, body) = match rest.strip_suffix('$') {
            Some(body) if !body.ends_with('\\') => (true, body),
            _ => (false, rest),
        };
        let mut pieces = vec![Vec::new()];
        let mut characters = body.chars().peekable();
        let mut buffer = [0u8; 4];
        while let Some(c) = characters.next() {
            match c {
                '.' if characters.peek() == Some(&'*') => {
                    characters.next();
                    // `.*?` is lazy but matches the same values.
                    if characters.peek() == Some(&'?') {
                        characters.next();
                    }
                    pieces.push(Vec::new());
                }
                '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^'
                | '$' | '\n' => return None,
                other => pieces
                    .last_mut()?
                    .extend_from_slice(other.encode_utf8(&mut buffer).as_bytes()),
            }
        }
        if pieces.len() == 1 && anchored_start && anchored_end {
            return pieces
                .pop()
                .map(|whole| Self::new(Some(whole), vec![], (true, true)));
        }
        Some(Self::new(None, pieces, (anchored_start, anchored_end)))
    }

    /// Whether `value` matches.
    pub(crate) fn match_value(&self, value: &[u8]) -> bool {
        if let Some(exact) = &self.exact {
            return bytes_equal(value, exact);
        }
        let (prefix, suffix) = (self.prefix.len(), self.suffix.len());
        if value.len() < prefix + suffix
            || (prefix > 0 && !bytes_equal(&value[..prefix], &self.prefix))
            || (suffix > 0 && !bytes_equal(&value[value.len() - suffix..], &self.suffix))
        {
            return false;
        }
        let mut rest = &value[self.prefix.len()..value.len() - self.suffix.len()];
        for finder in &self.middles {
            match finder.find(rest) {
                Some(at) => rest = &rest[at + finder.needle().len()..],
                None => return false,
            }
        }
        true
    }

    /// Matches every value of a string array (or a dictionary of strings: once per distinct
    /// value). `None` for a type it does not read.
    pub(crate) fn match_array(&self, array: &ArrayRef, negated: bool) -> Result<Option<ArrayRef>> {
        let found = match array.data_type() {
            DataType::Dictionary(_, _) => {
                let dictionary = array.as_any_dictionary();
                let Some(answers) = self.match_array(dictionary.values(), negated)? else {
                    return Ok(None);
                };
                return Ok(Some(take(answers.as_ref(), dictionary.keys(), None)?));
            }
            DataType::Utf8 => self.match_strings(array.as_string::<i32>()),
            DataType::LargeUtf8 => self.match_strings(array.as_string::<i64>()),
            DataType::Utf8View => {
                let strings = array.as_string_view();
                BooleanBuffer::collect_bool(strings.len(), |i| {
                    self.match_value(strings.value(i).as_bytes())
                })
            }
            _ => return Ok(None),
        };
        let values = if negated { !&found } else { found };
        Ok(Some(Arc::new(BooleanArray::new(
            values,
            array.logical_nulls(),
        ))))
    }

    fn match_strings<O: OffsetSizeTrait>(&self, strings: &GenericStringArray<O>) -> BooleanBuffer {
        let offsets = strings.value_offsets();
        let bytes = strings.value_data();
        BooleanBuffer::collect_bool(strings.len(), |i| {
            self.match_value(&bytes[offsets[i].as_usize()..offsets[i + 1].as_usize()])
        })
    }
}

/// Byte equality without a call into libc for short slices: a `memcmp` call per row costs
/// more than the comparison of a TPC-H `l_shipmode` or a LIKE prefix. Up to 16 bytes, two
/// overlapping loads from each end cover every byte.
#[inline]
pub(crate) fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |bytes: &[u8], at: usize| -> u64 {
        let mut buffer = [0u8; 8];
        buffer.copy_from_slice(&bytes[at..at + 8]);
        u64::from_ne_bytes(buffer)
    };
    let half = |bytes: &[u8], at: usize| -> u32 {
        let mut buffer = [0u8; 4];
        buffer.copy_from_slice(&bytes[at..at + 4]);
        u32::from_ne_bytes(buffer)
    };
    match n {
        0 => true,
        1..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn like(pattern: &str, value: &str) -> Option<bool> {
        SubstringPattern::from_like(pattern).map(|p| p.match_value(value.as_bytes()))
    }

    fn regex(pattern: &str, value: &str) -> Option<bool> {
        SubstringPattern::from_regex(pattern).map(|p| p.match_value(value.as_bytes()))
    }

    #[test]
    fn like_pieces_anchor_at_both_ends() {
        assert_eq!(
            like("%special%requests%", "a special big requests x"),
            Some(true)
        );
        assert_eq!(
            like("%special%requests%", "requests before special"),
            Some(false)
        );
        // The pieces may not overlap: "abab" holds "aba" and "bab" only overlapping.
        assert_eq!(like("%aba%bab%", "abab"), Some(false));
        assert_eq!(like("%aba%bab%", "ababab"), Some(true));
        assert_eq!(like("%aba%bab%", "aba bab"), Some(true));
        assert_eq!(like("PROMO%", "PROMO BRUSHED"), Some(true));
        assert_eq!(like("PROMO%", "XPROMO"), Some(false));
        assert_eq!(like("%BRASS", "LARGE BRASS"), Some(true));
        assert_eq!(like("%BRASS", "BRASS LARGE"), Some(false));
        // Prefix and suffix may not share characters.
        assert_eq!(like("ab%ba", "aba"), Some(false));
        assert_eq!(like("ab%ba", "abba"), Some(true));
        assert_eq!(like("abc", "abc"), Some(true));
        assert_eq!(like("abc", "abcd"), Some(false));
        assert_eq!(like("", ""), Some(true));
        assert_eq!(like("", "a"), Some(false));
        assert_eq!(like("%", ""), Some(true));
        assert_eq!(like("%%", "xyz"), Some(true));
        // Escapes make wildcards literal; `_` needs the general kernel.
        assert_eq!(like("50\\%%", "50% off"), Some(true));
        assert_eq!(like("50\\%%", "500 off"), Some(false));
        assert_eq!(like("a\\_b", "a_b"), Some(true));
        assert_eq!(like("a_b", "a_b"), None);
        // `%` matches newlines and multi-byte characters.
        assert_eq!(like("%é%ß", "x\né\nyß"), Some(true));
    }

    #[test]
    fn bytes_equal_compares_every_byte() {
        let text = b"abcdefghijklmnopqrstuvwxyz0123456789";
        for n in 0..text.len() {
            let a = &text[..n];
            assert!(bytes_equal(a, a));
            for i in 0..n {
                let mut b = a.to_vec();
                b[i] ^= 1;
                assert!(!bytes_equal(a, &b), "{n} {i}");
            }
            assert!(!bytes_equal(a, &text[..n + 1]));
        }
    }

    #[test]
    fn regex_literals_and_gaps() {
        assert_eq!(
            regex("special.*requests", "x special y requests"),
            Some(true)
        );
        assert_eq!(regex("special.*requests", "requests special"), Some(false));
        assert_eq!(regex("special.*requests", "specialrequests"), Some(true));
        // `.` matches a newline, as in PostgreSQL.
        assert_eq!(regex("special.*requests", "special\nrequests"), Some(true));
        assert_eq!(regex("abc", "xabcx"), Some(true));
        assert_eq!(regex("abc", "a\nbc"), Some(false));
        assert_eq!(regex("^abc", "abcx"), Some(true));
        assert_eq!(regex("^abc", "xabc"), Some(false));
        assert_eq!(regex("abc$", "xabc"), Some(true));
        assert_eq!(regex("abc$", "abcx"), Some(false));
        assert_eq!(regex("^abc$", "abc"), Some(true));
        assert_eq!(regex("^abc$", "abcabc"), Some(false));
        assert_eq!(regex("^a.*c$", "abbc"), Some(true));
        assert_eq!(regex("^a.*?c$", "ac"), Some(true));
        assert_eq!(regex("", "anything"), Some(true));
        // Anything beyond literals and `.*` is the regex engine's.
        for pattern in [
            "a+", "a|b", "[ab]", "a.b", "a\\.b", "(ab)", "a{2}", "a?", "\\d",
        ] {
            assert!(SubstringPattern::from_regex(pattern).is_none(), "{pattern}");
        }
    }

    #[test]
    fn arrays_keep_nulls_and_read_dictionaries() {
        use arrow::array::{DictionaryArray, StringArray};
        use arrow::datatypes::Int32Type;
        let values = vec![
            Some("special requests"),
            None,
            Some("plain"),
            Some("special\nrequests"),
        ];
        let pattern = SubstringPattern::from_regex("special.*requests").unwrap_or_else(|| panic!());
        let plain: ArrayRef = Arc::new(StringArray::from(values.clone()));
        let dictionary: ArrayRef =
            Arc::new(values.into_iter().collect::<DictionaryArray<Int32Type>>());
        for array in [plain, dictionary] {
            let out = pattern
                .match_array(&array, true)
                .unwrap()
                .unwrap_or_else(|| panic!());
            let out: Vec<Option<bool>> = out.as_boolean().iter().collect();
            assert_eq!(out, vec![Some(false), None, Some(true), Some(false)]);
        }
    }
}
