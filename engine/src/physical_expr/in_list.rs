//! [`InListExpr`]: `expr [NOT] IN (v1, v2, …)` with SQL's NULL rules.
//!
//! `x IN (a, b)` is `x = a OR x = b` in three-valued logic: TRUE when some item equals `x`,
//! otherwise NULL when `x` or some item is NULL, otherwise FALSE. So `1 IN (2, NULL)` and
//! `1 NOT IN (2, NULL)` are both NULL, which is why `NOT IN` over a list with a NULL keeps no
//! rows. (Django drops `None` from `__in` lists before they get here, so the NULL case comes
//! from hand-written expressions and subqueries.)
//!
//! A list of literals, the usual case (`pk__in=[…]`), is put in a hash set once at planning;
//! each row is then one probe. A dictionary-encoded column probes its dictionary once and
//! picks the answers by key. Other lists are evaluated as the OR of equalities.
//!
//! A list of strings tested against a leading substring — `substr(c_phone, 1, 2) IN ('13',
//! '31', …)` in TPC-H q22, `left(code, 3) IN (…)` — probes each value's first characters in
//! place ([`CharPrefix`]): the prefix is a slice of the value's bytes, found by counting UTF-8
//! character starts (one comparison per byte when the first bytes are ASCII), so no
//! substring array is built.

use std::fmt;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, GenericStringArray, OffsetSizeTrait, RecordBatch,
};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::compute::kernels::boolean::{not, or_kleene};
use arrow::compute::kernels::take::take;
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Decimal128Type, DurationMicrosecondType, Float64Type,
    Int16Type, Int32Type, Int64Type, Time64MicrosecondType, TimeUnit, TimestampMicrosecondType,
};
use hashbrown::HashSet;
use quiver_storage::ScalarValue;

use super::columnar_value::apply_unary;
use super::comparison::{canonical_float, evaluate_comparison};
use super::planner::{coerce, create};
use super::substring_pattern::bytes_equal;
use super::{ColumnarValue, PhysicalExpr, PhysicalExprRef};
use crate::error::{EngineError, Result};
use crate::expr::type_coercion::{comparison_common_type, is_integer, is_string, value_type};
use crate::expr::{Expr, InList, Operator, ScalarFunction};
use crate::logical_plan::PlanSchema;

/// The non-NULL values of a literal list, keyed by their physical representation.
#[derive(Debug)]
enum ValueSet {
    /// Integers and the temporal types (all stored as integers).
    Integers(HashSet<i64>),
    Decimals(HashSet<i128>),
    /// Canonical bit patterns, so that NaN finds NaN and -0 finds 0.
    Floats(HashSet<u64>),
    Booleans {
        has_true: bool,
        has_false: bool,
    },
    Strings(StringSet),
}

/// The most items a [`StringSet`] compares one by one; a longer list is hashed.
const SHORT_STRING_LIST: usize = 16;

/// String literals of an IN list. A short list (the usual `l_shipmode IN ('MAIL', 'SHIP')`)
/// is compared item by item behind a bitmask of the items' byte lengths, so most
/// non-matching rows are rejected from their offsets alone, without reading their bytes or
/// hashing them; a long list is a hash set. When every item of a short list is at most 8
/// bytes long (codes, modes, flags), each is also kept as one packed word with its length,
/// and a value is packed once and compared with each word.
#[derive(Debug, Default)]
struct StringSet {
    items: Vec<Box<[u8]>>,
    /// Bit `n` is set when some item is `n` bytes long; bit 127 stands for every length
    /// from 127 up.
    lengths: u128,
    hashed: HashSet<Box<[u8]>>,
    /// `(pack(item), item length)` for each item, when every item is short enough.
    packed: Option<Vec<(u64, usize)>>,
}

/// The most bytes [`pack`] holds.
const PACKED_BYTES: usize = 8;

/// The bytes of a value of at most [`PACKED_BYTES`] bytes as one word: for a given length
/// distinct values give distinct words (the loads below cover every byte), so a value
/// equals an item when their lengths and words are equal.
#[inline(always)]
fn pack(value: &[u8]) -> u64 {
    let n = value.len();
    let half = |at: usize| {
        let mut buffer = [0u8; 4];
        buffer.copy_from_slice(&value[at..at + 4]);
        u64::from(u32::from_le_bytes(buffer))
    };
    match n {
        0 => 0,
        1..=3 => {
            u64::from(value[0]) | (u64::from(value[n / 2]) << 8) | (u64::from(value[n - 1]) << 16)
        }
        4..=7 => half(0) | (half(n - 4) << 32),
        _ => {
            let mut buffer = [0u8; 8];
            buffer.copy_from_slice(&value[..8]);
            u64::from_le_bytes(buffer)
        }
    }
}

impl StringSet {
    fn insert(&mut self, value: &str) -> bool {
        let bytes: Box<[u8]> = value.as_bytes().into();
        if self.items.contains(&bytes) || self.hashed.contains(&bytes) {
            return true;
        }
        self.lengths |= 1u128 << bytes.len().min(127);
        if self.hashed.is_empty() && self.items.len() < SHORT_STRING_LIST {
            self.items.push(bytes);
        } else {
            // Past the short list's size every item lives in the hash set.
            self.hashed.extend(self.items.drain(..));
            self.hashed.insert(bytes);
        }
        self.packed = (self.hashed.is_empty()
            && self.items.iter().all(|item| item.len() <= PACKED_BYTES))
        .then(|| {
            self.items
                .iter()
                .map(|item| (pack(item), item.len()))
                .collect()
        });
        true
    }

    /// Whether a value of at most [`PACKED_BYTES`] bytes is one of the packed items.
    #[inline(always)]
    fn contains_packed(packed: &[(u64, usize)], value: &[u8]) -> bool {
        let length = value.len();
        if length > PACKED_BYTES {
            return false;
        }
        let word = pack(value);
        packed.iter().fold(false, |found, &(item, item_length)| {
            found | ((item == word) & (item_length == length))
        })
    }

    #[inline(always)]
    fn has_length(&self, length: usize) -> bool {
        (self.lengths >> length.min(127)) & 1 == 1
    }

    fn contains(&self, value: &[u8]) -> bool {
        if !self.has_length(value.len()) {
            return false;
        }
        if let Some(packed) = &self.packed {
            return StringSet::contains_packed(packed, value);
        }
        if self.hashed.is_empty() {
            self.items.iter().any(|item| bytes_equal(item, value))
        } else {
            self.hashed.contains(value)
        }
    }

    /// Probes every value of a string array through its offsets and bytes (or the value's
    /// first `prefix` characters); the short and the hashed form each get their own loop,
    /// so the per-row work inlines.
    fn probe<O: OffsetSizeTrait>(
        &self,
        strings: &GenericStringArray<O>,
        prefix: Option<usize>,
    ) -> BooleanBuffer {
        let offsets = strings.value_offsets();
        let bytes = strings.value_data();
        if let Some(chars) = prefix {
            let value = |i: usize| {
                char_prefix(
                    &bytes[offsets[i].as_usize()..offsets[i + 1].as_usize()],
                    chars,
                )
            };
            if let Some(packed) = &self.packed {
                return BooleanBuffer::collect_bool(strings.len(), |i| {
                    let value = value(i);
                    self.has_length(value.len()) && StringSet::contains_packed(packed, value)
                });
            }
            return BooleanBuffer::collect_bool(strings.len(), |i| self.contains(value(i)));
        }
        let value = |i: usize| &bytes[offsets[i].as_usize()..offsets[i + 1].as_usize()];
        if let Some(packed) = &self.packed {
            return BooleanBuffer::collect_bool(strings.len(), |i| {
                let value = value(i);
                self.has_length(value.len()) && StringSet::contains_packed(packed, value)
            });
        }
        if self.hashed.is_empty() {
            BooleanBuffer::collect_bool(strings.len(), |i| {
                let value = value(i);
                self.has_length(value.len())
                    && self.items.iter().any(|item| bytes_equal(item, value))
            })
        } else {
            BooleanBuffer::collect_bool(strings.len(), |i| {
                let value = value(i);
                self.has_length(value.len()) && self.hashed.contains(value)
            })
        }
    }
}

impl ValueSet {
    fn new(data_type: &DataType) -> Option<ValueSet> {
        Some(match value_type(data_type) {
            DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Date32
            | DataType::Timestamp(TimeUnit::Microsecond, _)
            | DataType::Duration(TimeUnit::Microsecond)
            | DataType::Time64(TimeUnit::Microsecond) => ValueSet::Integers(HashSet::new()),
            DataType::Decimal128(..) => ValueSet::Decimals(HashSet::new()),
            DataType::Float64 => ValueSet::Floats(HashSet::new()),
            DataType::Boolean => ValueSet::Booleans {
                has_true: false,
                has_false: false,
            },
            DataType::Utf8 => ValueSet::Strings(StringSet::default()),
            _ => return None,
        })
    }

    /// Adds a non-NULL value; false when its type does not fit the set.
    fn insert(&mut self, value: &ScalarValue) -> bool {
        use ScalarValue as S;
        match (self, value) {
            (ValueSet::Integers(set), v) => match v {
                S::Int16(Some(x)) => set.insert(i64::from(*x)),
                S::Int32(Some(x)) | S::Date32(Some(x)) => set.insert(i64::from(*x)),
                S::Int64(Some(x))
                | S::TimestampMicrosecond(Some(x))
                | S::DurationMicrosecond(Some(x))
                | S::Time64Microsecond(Some(x)) => set.insert(*x),
                _ => return false,
            },
            (ValueSet::Decimals(set), S::Decimal128(Some(x), _, _)) => set.insert(*x),
            (ValueSet::Floats(set), S::Float64(Some(x))) => {
                set.insert(canonical_float(*x).to_bits())
            }
            (
                ValueSet::Booleans {
                    has_true,
                    has_false,
                },
                S::Boolean(Some(b)),
            ) => {
                if *b {
                    *has_true = true;
                } else {
                    *has_false = true;
                }
                true
            }
            (ValueSet::Strings(set), S::Utf8(Some(s))) => set.insert(s),
            _ => return false,
        };
        true
    }

    /// For each row, whether its value (its first `prefix` characters, when given; only
    /// strings have a prefix) is in the set. NULL rows give an arbitrary bit; the caller
    /// masks them.
    fn contains(&self, array: &dyn Array, prefix: Option<usize>) -> Result<BooleanBuffer> {
        fn probe<T: ArrowPrimitiveType>(
            array: &dyn Array,
            f: impl Fn(T::Native) -> bool,
        ) -> Option<BooleanBuffer> {
            let values = array.as_primitive_opt::<T>()?.values();
            Some(BooleanBuffer::collect_bool(values.len(), |i| f(values[i])))
        }
        let out = match self {
            ValueSet::Integers(set) => match array.data_type() {
                DataType::Int16 => probe::<Int16Type>(array, |v| set.contains(&i64::from(v))),
                DataType::Int32 => probe::<Int32Type>(array, |v| set.contains(&i64::from(v))),
                DataType::Int64 => probe::<Int64Type>(array, |v| set.contains(&v)),
                DataType::Date32 => probe::<Date32Type>(array, |v| set.contains(&i64::from(v))),
                DataType::Timestamp(TimeUnit::Microsecond, _) => {
                    probe::<TimestampMicrosecondType>(array, |v| set.contains(&v))
                }
                DataType::Duration(TimeUnit::Microsecond) => {
                    probe::<DurationMicrosecondType>(array, |v| set.contains(&v))
                }
                DataType::Time64(TimeUnit::Microsecond) => {
                    probe::<Time64MicrosecondType>(array, |v| set.contains(&v))
                }
                _ => None,
            },
            ValueSet::Decimals(set) => probe::<Decimal128Type>(array, |v| set.contains(&v)),
            ValueSet::Floats(set) => {
                probe::<Float64Type>(array, |v| set.contains(&canonical_float(v).to_bits()))
            }
            ValueSet::Booleans {
                has_true,
                has_false,
            } => array.as_boolean_opt().map(|b| {
                let values = b.values();
                BooleanBuffer::collect_bool(values.len(), |i| {
                    if values.value(i) {
                        *has_true
                    } else {
                        *has_false
                    }
                })
            }),
            ValueSet::Strings(set) => match array.data_type() {
                DataType::LargeUtf8 => array.as_string_opt::<i64>().map(|s| set.probe(s, prefix)),
                DataType::Utf8View => array.as_string_view_opt().map(|s| {
                    BooleanBuffer::collect_bool(s.len(), |i| {
                        let value = s.value(i).as_bytes();
                        set.contains(prefix.map_or(value, |chars| char_prefix(value, chars)))
                    })
                }),
                _ => array.as_string_opt::<i32>().map(|s| set.probe(s, prefix)),
            },
        };
        out.ok_or_else(|| {
            EngineError::Internal(format!(
                "IN list set cannot probe values of type {}",
                array.data_type()
            ))
        })
    }
}

/// The first `chars` characters of `value` (all of it when it is shorter): the bytes
/// `substr(value, 1, chars)` returns, without copying them. `value` is UTF-8, so a byte that
/// is not a continuation byte (`10xxxxxx`) starts a character.
#[inline(always)]
pub(crate) fn char_prefix(value: &[u8], chars: usize) -> &[u8] {
    if value.len() <= chars {
        // Never more characters than bytes.
        return value;
    }
    if value[..chars].is_ascii() {
        // `chars` one-byte characters; the next byte starts the next character.
        return &value[..chars];
    }
    let mut seen = 0;
    for (i, byte) in value.iter().enumerate() {
        if byte & 0xC0 != 0x80 {
            if seen == chars {
                return &value[..i];
            }
            seen += 1;
        }
    }
    value
}

/// `substr(text, start, count)` with `start <= 1` and `count >= 0`, or `left(text, n)` with
/// `n >= 0`, all literals: the leading characters of `text`, probed in place.
#[derive(Debug)]
struct CharPrefix {
    /// The whole text value.
    text: PhysicalExprRef,
    chars: usize,
}

impl CharPrefix {
    /// The prefix `expr` takes of a string, when it is one of the shapes above.
    fn recognize(expr: &Expr, schema: &PlanSchema) -> Result<Option<CharPrefix>> {
        let Expr::ScalarFunction(call) = expr else {
            return Ok(None);
        };
        let literal = |i: usize| match call.args.get(i) {
            Some(Expr::Literal(value)) => value.as_i64(),
            _ => None,
        };
        // PostgreSQL's substr keeps the characters at positions start .. start + count - 1
        // that exist; positions below 1 exist in no string.
        let chars = match (call.func, call.args.len()) {
            (ScalarFunction::Substr, 3) => match (literal(1), literal(2)) {
                (Some(start), Some(count)) if start <= 1 && count >= 0 => {
                    start.saturating_add(count).saturating_sub(1).max(0)
                }
                _ => return Ok(None),
            },
            (ScalarFunction::Left, 2) => match literal(1) {
                Some(n) if n >= 0 => n,
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
        let text = create(&call.args[0], schema)?;
        if !is_string(&text.data_type()) {
            return Ok(None);
        }
        Ok(Some(CharPrefix {
            text,
            chars: usize::try_from(chars).unwrap_or(usize::MAX),
        }))
    }
}

/// A planned `[NOT] IN` list.
#[derive(Debug)]
pub struct InListExpr {
    expr: PhysicalExprRef,
    /// With a set of strings: `expr` is a leading substring of this text, probed in place.
    prefix: Option<CharPrefix>,
    list: Vec<PhysicalExprRef>,
    /// The list's values when every item is a literal.
    set: Option<ValueSet>,
    /// Whether some literal item is NULL.
    list_has_null: bool,
    negated: bool,
}

/// Plans `expr [NOT] IN (list)` against `schema`.
pub fn create_in_list(in_list: &InList, schema: &PlanSchema) -> Result<PhysicalExprRef> {
    Ok(Arc::new(plan_in_list(in_list, schema)?))
}

fn plan_in_list(in_list: &InList, schema: &PlanSchema) -> Result<InListExpr> {
    let expr = create(&in_list.expr, schema)?;
    let list = in_list
        .list
        .iter()
        .map(|e| create(e, schema))
        .collect::<Result<Vec<_>>>()?;
    let mut common = expr.data_type();
    for item in &list {
        let t = item.data_type();
        common = comparison_common_type(&common, &t).ok_or_else(|| {
            EngineError::Plan(format!(
                "IN list item of type {} cannot be compared with {}",
                value_type(&t),
                value_type(&common)
            ))
        })?;
    }
    let common = value_type(&common).clone();
    let list = list
        .into_iter()
        .map(|e| coerce(e, &common, true))
        .collect::<Result<Vec<_>>>()?;
    // The hash set of integer literals probes any integer column directly: no widening.
    let probe_as_is = is_integer(&expr.data_type())
        && is_integer(&common)
        && list.iter().all(|e| e.literal_value().is_some());
    let expr = if probe_as_is {
        expr
    } else {
        coerce(expr, &common, true)?
    };

    // An empty list is decided without looking at the value (even a NULL one): Django
    // treats `exclude(x__in=[])` as matching every row.
    let mut set = if list.is_empty() {
        None
    } else {
        ValueSet::new(&common)
    };
    let mut list_has_null = false;
    let prefix = match &set {
        Some(ValueSet::Strings(_)) => CharPrefix::recognize(&in_list.expr, schema)?,
        _ => None,
    };
    for item in &list {
        let inserted = match (item.literal_value(), set.as_mut()) {
            (Some(v), _) if v.is_null() => {
                list_has_null = true;
                true
            }
            (Some(v), Some(s)) => s.insert(v),
            _ => false,
        };
        if !inserted {
            set = None;
            break;
        }
    }
    Ok(InListExpr {
        expr,
        prefix: prefix.filter(|_| set.is_some()),
        list,
        set,
        list_has_null,
        negated: in_list.negated,
    })
}

impl InListExpr {
    /// Probes the literal set: TRUE when found, NULL when not found but the list holds a
    /// NULL, FALSE otherwise; NULL rows stay NULL. With `prefix`, a string's first that
    /// many characters are probed.
    fn probe(&self, set: &ValueSet, array: &ArrayRef, prefix: Option<usize>) -> Result<ArrayRef> {
        if let DataType::Dictionary(_, _) = array.data_type() {
            let dictionary = array.as_any_dictionary();
            let answers = self.probe(set, dictionary.values(), prefix)?;
            return Ok(take(answers.as_ref(), dictionary.keys(), None)?);
        }
        if array.data_type() == &DataType::Null {
            return Ok(Arc::new(BooleanArray::new_null(array.len())));
        }
        let found = set.contains(array.as_ref(), prefix)?;
        let input_valid = array.logical_nulls();
        let valid = if self.list_has_null {
            // Not found in a list with a NULL: unknown.
            let found_nulls = NullBuffer::new(found.clone());
            NullBuffer::union(input_valid.as_ref(), Some(&found_nulls))
        } else {
            input_valid
        };
        let values = if self.negated { !&found } else { found };
        Ok(Arc::new(BooleanArray::new(values, valid)))
    }

    /// The general form: `x = item1 OR x = item2 …`, negated for NOT IN.
    fn evaluate_items(&self, batch: &RecordBatch, value: &ColumnarValue) -> Result<ColumnarValue> {
        let num_rows = batch.num_rows();
        let mut result: Option<ColumnarValue> = None;
        for item in &self.list {
            let equal = evaluate_comparison(Operator::Eq, value, &item.evaluate(batch)?)?;
            result = Some(match result {
                None => equal,
                Some(acc) => match (acc, equal) {
                    (ColumnarValue::Scalar(a), ColumnarValue::Scalar(b)) => {
                        let (a, b) = (scalar_bool(&a), scalar_bool(&b));
                        ColumnarValue::Scalar(ScalarValue::Boolean(match (a, b) {
                            (Some(true), _) | (_, Some(true)) => Some(true),
                            (Some(false), Some(false)) => Some(false),
                            _ => None,
                        }))
                    }
                    (acc, equal) => ColumnarValue::Array(Arc::new(or_kleene(
                        &acc.into_boolean(num_rows)?,
                        &equal.into_boolean(num_rows)?,
                    )?)),
                },
            });
        }
        let result = result.unwrap_or(ColumnarValue::Scalar(ScalarValue::Boolean(Some(false))));
        if !self.negated {
            return Ok(result);
        }
        Ok(match result {
            ColumnarValue::Scalar(s) => {
                ColumnarValue::Scalar(ScalarValue::Boolean(scalar_bool(&s).map(|b| !b)))
            }
            array => ColumnarValue::Array(Arc::new(not(&array.into_boolean(num_rows)?)?)),
        })
    }
}

fn scalar_bool(value: &ScalarValue) -> Option<bool> {
    match value {
        ScalarValue::Boolean(v) => *v,
        _ => None,
    }
}

impl fmt::Display for InListExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}IN (",
            self.expr,
            if self.negated { "NOT " } else { "" }
        )?;
        for (i, item) in self.list.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{item}")?;
        }
        f.write_str(")")
    }
}

impl PhysicalExpr for InListExpr {
    fn data_type(&self) -> DataType {
        DataType::Boolean
    }

    fn nullable(&self) -> bool {
        self.list_has_null || self.expr.nullable() || self.list.iter().any(|e| e.nullable())
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        if let (Some(set), Some(prefix)) = (&self.set, &self.prefix) {
            let text = prefix.text.evaluate(batch)?;
            return apply_unary(&text, |array| self.probe(set, array, Some(prefix.chars)));
        }
        let value = self.expr.evaluate(batch)?;
        match &self.set {
            Some(set) => apply_unary(&value, |array| self.probe(set, array, None)),
            None => self.evaluate_items(batch, &value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{col, lit, Expr};
    use crate::physical_expr::create_physical_expr;
    use crate::physical_expr::planner::tests::{batch, booleans, evaluate};
    use arrow::array::{DictionaryArray, Float64Array, Int32Array, StringArray};

    fn sample() -> (RecordBatch, PlanSchema) {
        batch(vec![
            (
                "i",
                Arc::new(Int32Array::from(vec![Some(1), Some(2), None, Some(3)])) as ArrayRef,
            ),
            (
                "f",
                Arc::new(Float64Array::from(vec![f64::NAN, -0.0, 1.5, 2.0])),
            ),
            (
                "s",
                Arc::new(
                    vec![Some("a"), None, Some("b"), Some("c")]
                        .into_iter()
                        .collect::<DictionaryArray<arrow::datatypes::Int32Type>>(),
                ),
            ),
            (
                "t",
                Arc::new(StringArray::from(vec![
                    Some("a"),
                    None,
                    Some("b"),
                    Some("c"),
                ])),
            ),
        ])
    }

    fn in_list(e: Expr, list: Vec<Expr>, negated: bool) -> Expr {
        e.in_list(list, negated)
    }

    #[test]
    fn literal_lists_follow_null_semantics() {
        let (batch, schema) = sample();
        let e = in_list(col("i"), vec![lit(1i64), lit(3i64)], false);
        let out = evaluate(&e, &batch, &schema).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(true), Some(false), None, Some(true)]
        );
        let e = in_list(col("i"), vec![lit(1i64), lit(3i64)], true);
        let out = evaluate(&e, &batch, &schema).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(false), Some(true), None, Some(false)]
        );
        // 1 IN (1, NULL) is TRUE; 2 IN (1, NULL) is NULL; NOT IN likewise.
        let with_null = vec![lit(1i32), lit(ScalarValue::Null)];
        let e = in_list(col("i"), with_null.clone(), false);
        let out = evaluate(&e, &batch, &schema).unwrap();
        assert_eq!(booleans(&out), vec![Some(true), None, None, None]);
        let e = in_list(col("i"), with_null, true);
        let out = evaluate(&e, &batch, &schema).unwrap();
        assert_eq!(booleans(&out), vec![Some(false), None, None, None]);
        let e = in_list(lit(1i32), vec![lit(2i32), lit(ScalarValue::Null)], false);
        let physical = create_physical_expr(&e, &schema).unwrap();
        assert!(matches!(
            physical.evaluate(&batch).unwrap(),
            ColumnarValue::Scalar(ScalarValue::Boolean(None))
        ));
    }

    #[test]
    fn floats_dictionaries_and_strings() {
        let (batch, schema) = sample();
        let e = in_list(col("f"), vec![lit(f64::NAN), lit(0.0)], false);
        let out = evaluate(&e, &batch, &schema).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(true), Some(true), Some(false), Some(false)]
        );
        for column in ["s", "t"] {
            let e = in_list(col(column), vec![lit("a"), lit("c")], false);
            let out = evaluate(&e, &batch, &schema).unwrap();
            assert_eq!(
                booleans(&out),
                vec![Some(true), None, Some(false), Some(true)],
                "{column}"
            );
            let e = in_list(col(column), vec![lit("a"), lit(ScalarValue::Null)], true);
            let out = evaluate(&e, &batch, &schema).unwrap();
            assert_eq!(
                booleans(&out),
                vec![Some(false), None, None, None],
                "{column}"
            );
        }
    }

    #[test]
    fn non_literal_lists_use_equalities() {
        let (batch, schema) = sample();
        let e = in_list(lit(2i64), vec![col("i"), lit(ScalarValue::Null)], false);
        let out = evaluate(&e, &batch, &schema).unwrap();
        assert_eq!(booleans(&out), vec![None, Some(true), None, None]);
        let e = in_list(col("i"), vec![col("i") + lit(0i32), lit(9i32)], true);
        let out = evaluate(&e, &batch, &schema).unwrap();
        assert_eq!(
            booleans(&out),
            vec![Some(false), Some(false), None, Some(false)]
        );
        let e = in_list(col("i"), vec![], false);
        let out = evaluate(&e, &batch, &schema).unwrap();
        assert_eq!(booleans(&out), vec![Some(false); 4]);
        let e = in_list(col("i"), vec![], true);
        let out = evaluate(&e, &batch, &schema).unwrap();
        assert_eq!(booleans(&out), vec![Some(true); 4]);
    }

    #[test]
    fn incompatible_items_are_plan_errors() {
        let (_, schema) = sample();
        let e = in_list(col("i"), vec![lit("x")], false);
        assert!(matches!(
            create_physical_expr(&e, &schema),
            Err(EngineError::Plan(_))
        ));
    }

    /// Items of at most 8 bytes are compared as packed words: every length from 0 to 8,
    /// NUL bytes, values that differ in one byte anywhere, and longer values.
    #[test]
    fn packed_string_sets_compare_every_byte() {
        let items = [
            "", "a", "a\0", "ab", "abc", "abcd", "abcde", "abcdefg", "abcdefgh", "é",
        ];
        let mut set = StringSet::default();
        for item in items {
            assert!(set.insert(item));
        }
        assert!(set.packed.is_some());
        let mut values: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        for item in items {
            for at in 0..item.len() {
                let mut bytes = item.as_bytes().to_vec();
                bytes[at] ^= 1;
                values.push(String::from_utf8_lossy(&bytes).into_owned());
            }
            values.push(format!("{item}\0"));
            values.push(format!("{item}x"));
        }
        values.push("abcdefghi".to_string());
        for value in &values {
            assert_eq!(
                set.contains(value.as_bytes()),
                items.contains(&value.as_str()),
                "{value:?}"
            );
        }
        let array = StringArray::from(values.iter().map(String::as_str).collect::<Vec<_>>());
        let probed: Vec<bool> = set.probe(&array, None).iter().collect();
        let expected: Vec<bool> = values.iter().map(|v| items.contains(&v.as_str())).collect();
        assert_eq!(probed, expected);
    }

    /// Short lists compare item by item, long ones hash; both read plain, large and view
    /// strings, and lengths past the mask's last bit still compare.
    #[test]
    fn string_sets_short_and_hashed() {
        use arrow::array::{LargeStringArray, StringViewArray};
        let long = "x".repeat(200);
        let values = vec![
            Some("MAIL"),
            Some("RAIL"),
            None,
            Some("SHIP"),
            Some(""),
            Some(long.as_str()),
            Some("AIR REG"),
        ];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(values.clone())),
            Arc::new(LargeStringArray::from(values.clone())),
            Arc::new(StringViewArray::from(values.clone())),
        ];
        let short = ["MAIL", "SHIP", "", long.as_str()];
        let many: Vec<String> = (0..40)
            .map(|i| format!("item{i}"))
            .chain(short.iter().map(|s| s.to_string()))
            .collect();
        for items in [
            short.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            many,
        ] {
            let mut set = StringSet::default();
            for item in &items {
                assert!(set.insert(item));
            }
            assert_eq!(set.hashed.is_empty(), items.len() <= SHORT_STRING_LIST);
            for array in &arrays {
                let found = ValueSet::Strings(StringSet {
                    items: set.items.clone(),
                    lengths: set.lengths,
                    hashed: set.hashed.clone(),
                    packed: set.packed.clone(),
                })
                .contains(array.as_ref(), None)
                .unwrap();
                let found: Vec<bool> = found.iter().collect();
                // The NULL slot's bit is arbitrary; the caller masks it.
                assert_eq!(
                    [found[0], found[1], found[3], found[4], found[5], found[6]],
                    [true, false, true, true, true, false],
                    "{}",
                    array.data_type()
                );
            }
        }
    }

    fn function(func: ScalarFunction, args: Vec<Expr>) -> Expr {
        Expr::ScalarFunction(crate::expr::ScalarFunctionExpr { func, args })
    }

    #[test]
    fn char_prefixes_count_characters_not_bytes() {
        assert_eq!(char_prefix(b"13-555", 2), b"13");
        assert_eq!(char_prefix(b"1", 2), b"1");
        assert_eq!(char_prefix(b"", 2), b"");
        assert_eq!(char_prefix(b"abc", 0), b"");
        assert_eq!(char_prefix("héllo".as_bytes(), 2), "hé".as_bytes());
        assert_eq!(char_prefix("日本語".as_bytes(), 1), "日".as_bytes());
        assert_eq!(char_prefix("日本語".as_bytes(), 3), "日本語".as_bytes());
        assert_eq!(char_prefix("a😀b".as_bytes(), 2), "a😀".as_bytes());
    }

    /// `substr(s, start, count) IN (…)` and `left(s, n) IN (…)` probe prefixes in place and
    /// answer what the materialized substring answers: NULLs, empty strings, multi-byte
    /// characters (`substr('日本', 1, 1)` is one character of three bytes), starts below 1,
    /// NOT IN, a NULL item, and every string encoding.
    #[test]
    fn leading_substrings_probe_in_place() {
        use arrow::array::{LargeStringArray, StringViewArray};
        let values = vec![
            Some("13-555"),
            None,
            Some(""),
            Some("1"),
            Some("日本-1"),
            Some("日x"),
            Some("31"),
            Some("é3"),
            Some("3é"),
        ];
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(values.clone())),
            Arc::new(LargeStringArray::from(values.clone())),
            Arc::new(StringViewArray::from(values.clone())),
            Arc::new(
                values
                    .iter()
                    .copied()
                    .collect::<DictionaryArray<arrow::datatypes::Int32Type>>(),
            ),
        ];
        let items = || {
            vec![
                lit("13"),
                lit("日本"),
                lit(""),
                lit("1"),
                lit("é"),
                lit("3é"),
            ]
        };
        let shapes = vec![
            // (prefix expression, expected IN answers)
            (
                function(ScalarFunction::Substr, vec![col("s"), lit(1i64), lit(2i64)]),
                vec![
                    Some(true),
                    None,
                    Some(true),
                    Some(true),
                    Some(true),
                    Some(false),
                    Some(false),
                    Some(false),
                    Some(true),
                ],
            ),
            (
                // Positions 0 and 1: one character.
                function(ScalarFunction::Substr, vec![col("s"), lit(0i64), lit(2i64)]),
                vec![
                    Some(true),
                    None,
                    Some(true),
                    Some(true),
                    Some(false),
                    Some(false),
                    Some(false),
                    Some(true),
                    Some(false),
                ],
            ),
            (
                // Positions -3 .. 0: nothing.
                function(
                    ScalarFunction::Substr,
                    vec![col("s"), lit(-3i64), lit(4i64)],
                ),
                vec![
                    Some(true),
                    None,
                    Some(true),
                    Some(true),
                    Some(true),
                    Some(true),
                    Some(true),
                    Some(true),
                    Some(true),
                ],
            ),
            (
                function(ScalarFunction::Left, vec![col("s"), lit(2i32)]),
                vec![
                    Some(true),
                    None,
                    Some(true),
                    Some(true),
                    Some(true),
                    Some(false),
                    Some(false),
                    Some(false),
                    Some(true),
                ],
            ),
        ];
        for column in &columns {
            let (batch, schema) = batch(vec![("s", Arc::clone(column))]);
            for (shape, expected) in &shapes {
                let e = in_list(shape.clone(), items(), false);
                let Expr::InList(planned) = &e else {
                    unreachable!("built as an IN list")
                };
                assert!(
                    plan_in_list(planned, &schema).unwrap().prefix.is_some(),
                    "{e}"
                );
                let out = evaluate(&e, &batch, &schema).unwrap();
                assert_eq!(&booleans(&out), expected, "{e} on {}", column.data_type());
                // NOT IN with a NULL item: FALSE where found, NULL otherwise.
                let mut with_null = items();
                with_null.push(lit(ScalarValue::Null));
                let out =
                    evaluate(&in_list(shape.clone(), with_null, true), &batch, &schema).unwrap();
                let negated: Vec<Option<bool>> = expected
                    .iter()
                    .map(|found| match found {
                        Some(true) => Some(false),
                        _ => None,
                    })
                    .collect();
                assert_eq!(booleans(&out), negated, "{e} on {}", column.data_type());
            }
        }
    }

    /// The in-place prefix answers what the substring function answers, on every prefix
    /// length of strings mixing one- to four-byte characters.
    #[test]
    fn leading_substrings_agree_with_the_function() {
        let values: Vec<Option<&str>> = vec![
            Some("ab"),
            Some("aé"),
            Some("é"),
            Some("日本語"),
            Some("😀😀x"),
            Some(""),
            None,
            Some("a"),
            Some("aé😀日"),
        ];
        let (batch, schema) = batch(vec![("s", Arc::new(StringArray::from(values.clone())))]);
        let every_prefix: Vec<Expr> = values
            .iter()
            .flatten()
            .flat_map(|v| {
                (0..=v.chars().count()).map(move |n| lit(v.chars().take(n).collect::<String>()))
            })
            .collect();
        for count in 0..6i64 {
            for start in [-1i64, 0, 1] {
                let prefix = function(
                    ScalarFunction::Substr,
                    vec![col("s"), lit(start), lit(count)],
                );
                // The same test on the materialized substring: a CASE hides the function
                // from the prefix path.
                let materialized = Expr::Case(crate::expr::Case {
                    operand: None,
                    when_then: vec![(lit(true), prefix.clone())],
                    else_expr: None,
                });
                for items in [every_prefix.clone(), vec![lit("a"), lit("é"), lit("日本")]] {
                    let fast = evaluate(
                        &in_list(prefix.clone(), items.clone(), false),
                        &batch,
                        &schema,
                    )
                    .unwrap();
                    let slow = evaluate(
                        &in_list(materialized.clone(), items, false),
                        &batch,
                        &schema,
                    )
                    .unwrap();
                    assert_eq!(booleans(&fast), booleans(&slow), "{prefix}");
                }
            }
        }
    }
}
