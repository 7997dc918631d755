//! One key column → dense group ids.
//!
//! A [`ValueInterner`] maps the values of one plain (non-dictionary) type to ids `0, 1, 2, …`
//! in order of first appearance and can give back the distinct values as an array in id order.
//! Each physical type gets its own table, all on [`hashbrown::HashTable`]:
//! - [`PrimitiveInterner`] (`primitive.rs`): integers, floats, decimals and temporal values. Integer keys in a
//!   small range (the common case: small ids, categories, dates) index an array of ids
//!   directly; otherwise the table holds `(value, id)` pairs, so a probe touches one cache
//!   line and no side vector.
//! - [`BytesInterner`] (`bytes.rs`): strings and binaries, stored the way Arrow's `Utf8View` stores them: a
//!   16-byte view per distinct value, with values of up to 12 bytes held entirely inside the
//!   view (so comparing two of them is one `u128` comparison) and longer ones in one arena.
//!   The table entries carry the view, so a probe never leaves the table for a short value.
//! - [`BooleanInterner`] and [`NullInterner`] for the two tiny domains.
//!
//! [`ColumnInterner`] wraps a value interner and also accepts dictionary arrays of its value
//! type. A dictionary is interned value by value, once, and then each row costs one array
//! lookup (`key → id`); the mapping is cached for as long as batches share the same dictionary
//! values, which is the normal case for a scanned dictionary column. NULL (a NULL key or a NULL
//! value) has its own id, created on first use.

mod bytes;
mod primitive;

use std::sync::Arc;

use arrow::array::{
    Array, ArrayData, ArrayRef, AsArray, BooleanArray, NullArray, PrimitiveArray, UInt32Array,
};
use arrow::buffer::{NullBuffer, ScalarBuffer};
use arrow::compute::take;
use arrow::datatypes::{
    ArrowDictionaryKeyType, DataType, Date32Type, Date64Type, Decimal128Type,
    DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, Time32MillisecondType,
    Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};

pub use bytes::BytesInterner;
pub use primitive::{KeyNative, PrimitiveInterner};

use super::NO_GROUP;
use crate::error::{EngineError, Result};
use crate::expr::type_coercion::value_type;
use crate::physical_plan::hashing::num_key_index;

/// Expands `$m!(KeyType)` for a dictionary's key data type.
macro_rules! dispatch_key_type {
    ($key:expr, $m:ident) => {
        match $key.as_ref() {
            DataType::Int8 => $m!(Int8Type),
            DataType::Int16 => $m!(Int16Type),
            DataType::Int32 => $m!(Int32Type),
            DataType::Int64 => $m!(Int64Type),
            DataType::UInt8 => $m!(UInt8Type),
            DataType::UInt16 => $m!(UInt16Type),
            DataType::UInt32 => $m!(UInt32Type),
            DataType::UInt64 => $m!(UInt64Type),
            other => Err(EngineError::Execution(format!(
                "dictionary keys of type {other} are not supported"
            ))),
        }
    };
}

/// Maps the values of one plain type to dense ids.
pub trait ValueInterner: Send + Sync {
    /// Appends the id of every row of `array` to `ids`, creating ids for new values; NULL
    /// rows get the NULL id.
    fn intern(&mut self, array: &dyn Array, ids: &mut Vec<u32>) -> Result<()>;

    /// Appends the id of every row of `array` to `ids` without creating any: [`NO_GROUP`] for
    /// a value never interned (and for NULL when no NULL was interned).
    fn lookup(&self, array: &dyn Array, ids: &mut Vec<u32>) -> Result<()>;

    /// The id of NULL, created on first use.
    fn null_group(&mut self) -> Result<u32>;

    /// How many ids exist.
    fn len(&self) -> usize;

    /// Whether no id exists yet.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The distinct values in id order.
    fn emit(&self) -> Result<ArrayRef>;
}

/// The id the next new value gets, or an error once ids would run out.
#[inline]
pub(crate) fn next_id(len: usize) -> Result<u32> {
    match u32::try_from(len) {
        // `NO_GROUP - 1` is reserved as a "being created" marker.
        Ok(id) if id < NO_GROUP - 1 => Ok(id),
        _ => Err(EngineError::ResourcesExhausted(
            "more than 4 billion distinct grouping keys".into(),
        )),
    }
}

pub(crate) fn wrong_type(expected: &DataType, found: &DataType) -> EngineError {
    EngineError::Internal(format!(
        "key interner for {expected} was given an array of {found}"
    ))
}

/// A validity bitmap with only `null_group` unset, or none when there is no NULL group.
pub(crate) fn null_buffer(len: usize, null_group: Option<u32>) -> Option<NullBuffer> {
    null_group.map(|g| {
        let mut valid = vec![true; len];
        valid[g as usize] = false;
        NullBuffer::from(valid)
    })
}

/// Interner for booleans: at most three ids.
pub struct BooleanInterner {
    /// The id of `false` and of `true`, or [`NO_GROUP`].
    ids: [u32; 2],
    values: Vec<bool>,
    null_group: Option<u32>,
}

impl BooleanInterner {
    /// An empty interner.
    pub fn new() -> Self {
        BooleanInterner {
            ids: [NO_GROUP; 2],
            values: Vec::new(),
            null_group: None,
        }
    }

    fn typed(array: &dyn Array) -> Result<&BooleanArray> {
        array
            .as_boolean_opt()
            .ok_or_else(|| wrong_type(&DataType::Boolean, array.data_type()))
    }
}

impl Default for BooleanInterner {
    fn default() -> Self {
        BooleanInterner::new()
    }
}

impl ValueInterner for BooleanInterner {
    fn intern(&mut self, array: &dyn Array, ids: &mut Vec<u32>) -> Result<()> {
        let array = Self::typed(array)?;
        ids.reserve(array.len());
        for value in array.iter() {
            let id = match value {
                None => self.null_group()?,
                Some(v) => {
                    let slot = &mut self.ids[v as usize];
                    if *slot == NO_GROUP {
                        *slot = next_id(self.values.len())?;
                        self.values.push(v);
                    }
                    *slot
                }
            };
            ids.push(id);
        }
        Ok(())
    }

    fn lookup(&self, array: &dyn Array, ids: &mut Vec<u32>) -> Result<()> {
        let array = Self::typed(array)?;
        let null_id = self.null_group.unwrap_or(NO_GROUP);
        ids.extend(array.iter().map(|value| match value {
            None => null_id,
            Some(v) => self.ids[v as usize],
        }));
        Ok(())
    }

    fn null_group(&mut self) -> Result<u32> {
        if let Some(id) = self.null_group {
            return Ok(id);
        }
        let id = next_id(self.values.len())?;
        self.values.push(false);
        self.null_group = Some(id);
        Ok(id)
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    fn emit(&self) -> Result<ArrayRef> {
        Ok(Arc::new(BooleanArray::new(
            self.values.iter().copied().collect(),
            null_buffer(self.values.len(), self.null_group),
        )))
    }
}

/// Interner for the `Null` type: every row is NULL.
#[derive(Default)]
pub struct NullInterner {
    exists: bool,
}

impl ValueInterner for NullInterner {
    fn intern(&mut self, array: &dyn Array, ids: &mut Vec<u32>) -> Result<()> {
        if !array.is_empty() {
            self.exists = true;
        }
        ids.extend(std::iter::repeat_n(0, array.len()));
        Ok(())
    }

    fn lookup(&self, array: &dyn Array, ids: &mut Vec<u32>) -> Result<()> {
        let id = if self.exists { 0 } else { NO_GROUP };
        ids.extend(std::iter::repeat_n(id, array.len()));
        Ok(())
    }

    fn null_group(&mut self) -> Result<u32> {
        self.exists = true;
        Ok(0)
    }

    fn len(&self) -> usize {
        self.exists as usize
    }

    fn emit(&self) -> Result<ArrayRef> {
        Ok(Arc::new(NullArray::new(self.len())))
    }
}

/// An empty interner for values of the plain type `data_type`.
pub fn new_value_interner(data_type: &DataType) -> Result<Box<dyn ValueInterner>> {
    macro_rules! primitive {
        ($t:ty) => {
            Box::new(PrimitiveInterner::<$t>::new(data_type.clone()))
        };
    }
    Ok(match data_type {
        DataType::Null => Box::new(NullInterner::default()),
        DataType::Boolean => Box::new(BooleanInterner::new()),
        DataType::Int8 => primitive!(Int8Type),
        DataType::Int16 => primitive!(Int16Type),
        DataType::Int32 => primitive!(Int32Type),
        DataType::Int64 => primitive!(Int64Type),
        DataType::UInt8 => primitive!(UInt8Type),
        DataType::UInt16 => primitive!(UInt16Type),
        DataType::UInt32 => primitive!(UInt32Type),
        DataType::UInt64 => primitive!(UInt64Type),
        DataType::Float32 => primitive!(Float32Type),
        DataType::Float64 => primitive!(Float64Type),
        DataType::Decimal128(_, _) => primitive!(Decimal128Type),
        DataType::Date32 => primitive!(Date32Type),
        DataType::Date64 => primitive!(Date64Type),
        DataType::Time32(TimeUnit::Second) => primitive!(Time32SecondType),
        DataType::Time32(TimeUnit::Millisecond) => primitive!(Time32MillisecondType),
        DataType::Time64(TimeUnit::Microsecond) => primitive!(Time64MicrosecondType),
        DataType::Time64(TimeUnit::Nanosecond) => primitive!(Time64NanosecondType),
        DataType::Timestamp(TimeUnit::Second, _) => primitive!(TimestampSecondType),
        DataType::Timestamp(TimeUnit::Millisecond, _) => primitive!(TimestampMillisecondType),
        DataType::Timestamp(TimeUnit::Microsecond, _) => primitive!(TimestampMicrosecondType),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => primitive!(TimestampNanosecondType),
        DataType::Duration(TimeUnit::Second) => primitive!(DurationSecondType),
        DataType::Duration(TimeUnit::Millisecond) => primitive!(DurationMillisecondType),
        DataType::Duration(TimeUnit::Microsecond) => primitive!(DurationMicrosecondType),
        DataType::Duration(TimeUnit::Nanosecond) => primitive!(DurationNanosecondType),
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView => Box::new(BytesInterner::new(data_type.clone())),
        other => {
            return Err(EngineError::Plan(format!(
                "cannot group or join on values of type {other}"
            )))
        }
    })
}

/// The `key → id` mapping of one dictionary's values, kept while batches share them.
struct DictionaryIds {
    /// Held so the cached identity (buffer addresses) cannot be reused by another array.
    values: ArrayRef,
    data: ArrayData,
    /// Id per dictionary value; [`NO_GROUP`] for values not seen in any row yet (interning
    /// every dictionary value up front would create groups without rows).
    ids: Vec<u32>,
}

impl DictionaryIds {
    fn matches(&self, values: &ArrayRef) -> bool {
        Arc::ptr_eq(&self.values, values) || self.data.ptr_eq(&values.to_data())
    }
}

/// Lookup-side cache of a [`ColumnInterner`]: the ids of the last dictionary probed. Each
/// probing thread keeps its own, so the interner itself can be shared read-only.
#[derive(Default)]
pub struct LookupCache {
    dictionary: Option<DictionaryIds>,
}

/// Interns one key column: plain arrays of its value type, or dictionaries over it.
pub struct ColumnInterner {
    values: Box<dyn ValueInterner>,
    value_type: DataType,
    dictionary: Option<DictionaryIds>,
}

impl ColumnInterner {
    /// An interner for a column of `data_type` (a dictionary type interns its value type).
    pub fn try_new(data_type: &DataType) -> Result<ColumnInterner> {
        let value_type = value_type(data_type).clone();
        Ok(ColumnInterner {
            values: new_value_interner(&value_type)?,
            value_type,
            dictionary: None,
        })
    }

    /// The type of the values [`ColumnInterner::emit`] produces (dictionaries decoded).
    pub fn value_type(&self) -> &DataType {
        &self.value_type
    }

    /// Appends the id of every row of `array` to `ids`, creating ids for new values.
    pub fn intern(&mut self, array: &dyn Array, ids: &mut Vec<u32>) -> Result<()> {
        match array.data_type() {
            DataType::Dictionary(key, _) => {
                macro_rules! dictionary {
                    ($k:ty) => {
                        self.intern_dictionary::<$k>(array, ids)
                    };
                }
                dispatch_key_type!(key, dictionary)
            }
            _ => self.values.intern(array, ids),
        }
    }

    /// Appends the id of every row of `array` to `ids` without creating any ([`NO_GROUP`]
    /// for unknown values).
    pub fn lookup(
        &self,
        array: &dyn Array,
        ids: &mut Vec<u32>,
        cache: &mut LookupCache,
    ) -> Result<()> {
        match array.data_type() {
            DataType::Dictionary(key, _) => {
                macro_rules! dictionary {
                    ($k:ty) => {
                        self.lookup_dictionary::<$k>(array, ids, cache)
                    };
                }
                dispatch_key_type!(key, dictionary)
            }
            _ => self.values.lookup(array, ids),
        }
    }

    /// How many ids exist.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no id exists yet.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The distinct values in id order, as plain arrays of [`ColumnInterner::value_type`].
    pub fn emit(&self) -> Result<ArrayRef> {
        self.values.emit()
    }

    fn intern_dictionary<K: ArrowDictionaryKeyType>(
        &mut self,
        array: &dyn Array,
        ids: &mut Vec<u32>,
    ) -> Result<()> {
        let dictionary = array.as_dictionary::<K>();
        let values = dictionary.values();
        if !self.dictionary.as_ref().is_some_and(|d| d.matches(values)) {
            self.dictionary = Some(DictionaryIds {
                values: Arc::clone(values),
                data: values.to_data(),
                ids: vec![NO_GROUP; values.len()],
            });
        }
        let Some(mapping) = self.dictionary.as_mut() else {
            return Err(EngineError::Internal("dictionary cache missing".into()));
        };
        let keys = dictionary.keys();
        let key_values = keys.values();
        let start = ids.len();
        ids.reserve(keys.len());
        let mut unmapped = false;
        let lookup = |key: K::Native| -> Result<u32> {
            mapping
                .ids
                .get(num_key_index(key))
                .copied()
                .ok_or_else(|| EngineError::Execution("dictionary key out of range".into()))
        };
        match keys.nulls().filter(|n| n.null_count() > 0) {
            None => {
                // One branch-free gather; a key out of range reads as unmapped and is
                // reported below.
                let dictionary_ids = &mapping.ids;
                ids.extend(key_values.iter().map(|&key| {
                    dictionary_ids
                        .get(num_key_index(key))
                        .copied()
                        .unwrap_or(NO_GROUP)
                }));
                unmapped = ids[start..].contains(&NO_GROUP);
            }
            Some(nulls) => {
                let null_id = self.values.null_group()?;
                for (row, &key) in key_values.iter().enumerate() {
                    let id = if nulls.is_valid(row) {
                        lookup(key)?
                    } else {
                        null_id
                    };
                    unmapped |= id == NO_GROUP;
                    ids.push(id);
                }
            }
        }
        if !unmapped {
            return Ok(());
        }
        // First rows of dictionary values not seen before: intern exactly those values (in
        // order of first appearance), then fill in the rows.
        let mut pending = Vec::new();
        for (row, id) in ids[start..].iter().enumerate() {
            if *id == NO_GROUP {
                let position = num_key_index(key_values[row]);
                let Some(slot) = mapping.ids.get_mut(position) else {
                    return Err(EngineError::Execution("dictionary key out of range".into()));
                };
                if *slot == NO_GROUP {
                    // Mark as pending so each value is interned once.
                    *slot = NO_GROUP - 1;
                    pending.push(position as u32);
                }
            }
        }
        let positions = UInt32Array::from(pending);
        let new_values = take(values.as_ref(), &positions, None)?;
        let mut new_ids = Vec::with_capacity(positions.len());
        self.values.intern(new_values.as_ref(), &mut new_ids)?;
        for (&position, &id) in positions.values().iter().zip(&new_ids) {
            mapping.ids[position as usize] = id;
        }
        for (row, id) in ids[start..].iter_mut().enumerate() {
            if *id == NO_GROUP {
                *id = mapping.ids[num_key_index(key_values[row])];
            }
        }
        Ok(())
    }

    fn lookup_dictionary<K: ArrowDictionaryKeyType>(
        &self,
        array: &dyn Array,
        ids: &mut Vec<u32>,
        cache: &mut LookupCache,
    ) -> Result<()> {
        let dictionary = array.as_dictionary::<K>();
        let values = dictionary.values();
        if !cache.dictionary.as_ref().is_some_and(|d| d.matches(values)) {
            // Looking up creates nothing, so the whole dictionary can be resolved at once.
            let mut value_ids = Vec::with_capacity(values.len());
            self.values.lookup(values.as_ref(), &mut value_ids)?;
            cache.dictionary = Some(DictionaryIds {
                values: Arc::clone(values),
                data: values.to_data(),
                ids: value_ids,
            });
        }
        let Some(mapping) = cache.dictionary.as_ref() else {
            return Err(EngineError::Internal("dictionary cache missing".into()));
        };
        let keys = dictionary.keys();
        ids.reserve(keys.len());
        for (row, &key) in keys.values().iter().enumerate() {
            ids.push(if keys.is_valid(row) {
                mapping
                    .ids
                    .get(num_key_index(key))
                    .copied()
                    .unwrap_or(NO_GROUP)
            } else {
                NO_GROUP
            });
        }
        Ok(())
    }
}

/// `array` as the type `target`: unchanged when it already is, wrapped as a dictionary when
/// `target` is a dictionary over `array`'s type (every value distinct, so the keys are
/// `0..len`), cast otherwise. Group keys come out of an interner decoded, or as dictionaries
/// over the distinct values ([`GroupValues::emit_encoded`](super::group_values::GroupValues));
/// the plan's schema may want either form.
pub fn emit_as(array: ArrayRef, target: &DataType) -> Result<ArrayRef> {
    if array.data_type() == target {
        return Ok(array);
    }
    if let DataType::Dictionary(key_type, value_type) = target {
        if value_type.as_ref() == array.data_type() {
            let len = i32::try_from(array.len()).map_err(|_| {
                EngineError::ResourcesExhausted("too many groups for a dictionary".into())
            })?;
            let keys = PrimitiveArray::<Int32Type>::new(
                ScalarBuffer::from((0..len).collect::<Vec<i32>>()),
                array.logical_nulls(),
            );
            let dictionary: ArrayRef = Arc::new(
                arrow::array::DictionaryArray::<Int32Type>::try_new(keys, array)?,
            );
            if key_type.as_ref() == &DataType::Int32 {
                return Ok(dictionary);
            }
            return Ok(arrow::compute::cast(&dictionary, target)?);
        }
    }
    Ok(arrow::compute::cast(&array, target)?)
}
