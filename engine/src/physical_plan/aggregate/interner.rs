//! One key column → dense group ids.
//!
//! A [`ValueInterner`] maps the values of one plain (non-dictionary) type to ids `0, 1, 2, …`
//! in order of first appearance and can give back the distinct values as an array in id order.
//! Each physical type gets its own table, all on [`hashbrown::HashTable`]:
//! - [`PrimitiveInterner`]: integers, floats, decimals and temporal values. Integer keys in a
//!   small range (the common case: small ids, categories, dates) index an array of ids
//!   directly; otherwise the table holds `(value, id)` pairs, so a probe touches one cache
//!   line and no side vector.
//! - [`BytesInterner`]: strings and binaries, stored the way Arrow's `Utf8View` stores them: a
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

use std::sync::Arc;

use arrow::array::{
    make_array, Array, ArrayData, ArrayRef, ArrowPrimitiveType, AsArray, BinaryViewArray,
    BooleanArray, GenericByteArray, GenericByteViewArray, NullArray, OffsetSizeTrait,
    PrimitiveArray, StringViewArray, UInt32Array,
};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::compute::take;
use arrow::datatypes::{
    ArrowDictionaryKeyType, ArrowNativeType, ByteArrayType, ByteViewType, DataType, Date32Type,
    Date64Type, Decimal128Type, DurationMicrosecondType, DurationMillisecondType,
    DurationNanosecondType, DurationSecondType, Float32Type, Float64Type, GenericBinaryType,
    GenericStringType, Int16Type, Int32Type, Int64Type, Int8Type, Time32MillisecondType,
    Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use hashbrown::HashTable;

use super::NO_GROUP;
use crate::error::{EngineError, Result};
use crate::expr::type_coercion::value_type;
use crate::physical_plan::hashing::{
    hash_bytes, hash_u128, hash_u64, normalized_f64_bits, num_key_index,
};

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
fn next_id(len: usize) -> Result<u32> {
    match u32::try_from(len) {
        // `NO_GROUP - 1` is reserved as a "being created" marker.
        Ok(id) if id < NO_GROUP - 1 => Ok(id),
        _ => Err(EngineError::ResourcesExhausted(
            "more than 4 billion distinct grouping keys".into(),
        )),
    }
}

fn wrong_type(expected: &DataType, found: &DataType) -> EngineError {
    EngineError::Internal(format!(
        "key interner for {expected} was given an array of {found}"
    ))
}

/// A validity bitmap with only `null_group` unset, or none when there is no NULL group.
fn null_buffer(len: usize, null_group: Option<u32>) -> Option<NullBuffer> {
    null_group.map(|g| {
        let mut valid = vec![true; len];
        valid[g as usize] = false;
        NullBuffer::from(valid)
    })
}

/// A native type usable as a hash-table key: its equality is SQL's (floats compare by
/// normalized bits) and it hashes consistently with that equality.
pub trait KeyNative: ArrowNativeType {
    /// The representation stored in the hash table.
    type Key: Copy + Eq + Send + Sync + 'static;
    /// The key of a value.
    fn key(self) -> Self::Key;
    /// The hash of a key.
    fn hash_key(key: Self::Key) -> u64;
    /// The value as a position on the integer line, for types whose values can index an
    /// array directly (integers); `None` otherwise.
    fn dense_key(self) -> Option<i64>;
}

macro_rules! integer_key_native {
    ($($t:ty),*) => {$(
        impl KeyNative for $t {
            type Key = $t;
            #[inline(always)]
            fn key(self) -> $t {
                self
            }
            #[inline(always)]
            fn hash_key(key: $t) -> u64 {
                hash_u64(key as u64)
            }
            #[inline(always)]
            fn dense_key(self) -> Option<i64> {
                i64::try_from(self).ok()
            }
        }
    )*};
}
integer_key_native!(i8, i16, i32, i64, u8, u16, u32, u64);

impl KeyNative for i128 {
    type Key = i128;
    #[inline(always)]
    fn key(self) -> i128 {
        self
    }
    #[inline(always)]
    fn hash_key(key: i128) -> u64 {
        hash_u128(key as u128)
    }
    fn dense_key(self) -> Option<i64> {
        None
    }
}

impl KeyNative for f64 {
    type Key = u64;
    #[inline(always)]
    fn key(self) -> u64 {
        normalized_f64_bits(self)
    }
    #[inline(always)]
    fn hash_key(key: u64) -> u64 {
        hash_u64(key)
    }
    fn dense_key(self) -> Option<i64> {
        None
    }
}

impl KeyNative for f32 {
    type Key = u64;
    #[inline(always)]
    fn key(self) -> u64 {
        normalized_f64_bits(self as f64)
    }
    #[inline(always)]
    fn hash_key(key: u64) -> u64 {
        hash_u64(key)
    }
    fn dense_key(self) -> Option<i64> {
        None
    }
}

/// Key ranges up to this wide are always eligible for a dense id array (4 MiB of ids).
const DENSE_MIN_RANGE: i128 = 1 << 20;

/// Ids of integer keys in a small range, by position: `ids[value - base]`. A probe is one
/// array read instead of a hash-table lookup (a "perfect hash", as DuckDB calls it), and the
/// array is smaller than a table over the same keys.
struct DenseIds {
    base: i64,
    /// [`NO_GROUP`] where no value was seen.
    ids: Vec<u32>,
}

impl DenseIds {
    #[inline(always)]
    fn get(&self, key: i64) -> u32 {
        key.checked_sub(self.base)
            .and_then(|offset| usize::try_from(offset).ok())
            .and_then(|offset| self.ids.get(offset).copied())
            .unwrap_or(NO_GROUP)
    }
}

/// Interner for fixed-width values.
pub struct PrimitiveInterner<T: ArrowPrimitiveType>
where
    T::Native: KeyNative,
{
    data_type: DataType,
    /// The ids while every key so far is an integer in a small enough range; after that
    /// (or for non-integer types) `None`, and the hash table holds the ids.
    dense: Option<DenseIds>,
    table: HashTable<(<T::Native as KeyNative>::Key, u32)>,
    /// The value of each id (a placeholder at the NULL id).
    values: Vec<T::Native>,
    null_group: Option<u32>,
}

impl<T: ArrowPrimitiveType> PrimitiveInterner<T>
where
    T::Native: KeyNative,
{
    /// An empty interner producing arrays of `data_type` (which carries precision, scale and
    /// time zone).
    pub fn new(data_type: DataType) -> Self {
        let dense = T::Native::default().dense_key().map(|_| DenseIds {
            base: 0,
            ids: Vec::new(),
        });
        PrimitiveInterner {
            data_type,
            dense,
            table: HashTable::new(),
            values: Vec::new(),
            null_group: None,
        }
    }

    /// Makes the dense array cover the keys of `array`, or gives it up for the hash table
    /// when the range would be too wide: wider than [`DENSE_MIN_RANGE`] and than twice the
    /// number of values seen so far (so the array stays proportional to the input).
    /// Returns whether the dense array is in use.
    fn fit_dense(&mut self, array: &PrimitiveArray<T>) -> bool {
        let Some(dense) = &mut self.dense else {
            return false;
        };
        let values = array.values();
        // Arrow's min/max kernels are vectorized; a value outside `i64` (a huge `u64`) has
        // no dense position, which ends the dense mode.
        let (low, high) = match (arrow::compute::min(array), arrow::compute::max(array)) {
            (Some(low), Some(high)) => match (low.dense_key(), high.dense_key()) {
                (Some(low), Some(high)) => (low, high),
                _ => {
                    self.leave_dense();
                    return false;
                }
            },
            // No non-NULL value: nothing to place.
            _ => return true,
        };
        let (low, high) = if dense.ids.is_empty() {
            (low, high)
        } else {
            let end = dense.base + dense.ids.len() as i64 - 1;
            (low.min(dense.base), high.max(end))
        };
        let width = high as i128 - low as i128 + 1;
        let allowed = DENSE_MIN_RANGE.max(2 * (self.values.len() + values.len()) as i128);
        if width > allowed {
            self.leave_dense();
            return false;
        }
        if dense.ids.is_empty() || low < dense.base || width as usize > dense.ids.len() {
            let mut ids = vec![NO_GROUP; width as usize];
            let shift = (dense.base - low) as usize;
            for (offset, &id) in dense.ids.iter().enumerate() {
                ids[offset + shift] = id;
            }
            *dense = DenseIds { base: low, ids };
        }
        true
    }

    /// Moves every id into the hash table.
    fn leave_dense(&mut self) {
        self.dense = None;
        self.table = HashTable::with_capacity(self.values.len());
        for (id, &value) in self.values.iter().enumerate() {
            if Some(id as u32) != self.null_group {
                let key = value.key();
                self.table.insert_unique(
                    <T::Native as KeyNative>::hash_key(key),
                    (key, id as u32),
                    |entry| <T::Native as KeyNative>::hash_key(entry.0),
                );
            }
        }
    }

    fn intern_dense(&mut self, array: &PrimitiveArray<T>, ids: &mut Vec<u32>) -> Result<()> {
        let Some(dense) = &mut self.dense else {
            return Err(EngineError::Internal("dense key ids missing".into()));
        };
        let values = array.values();
        let nulls = array.nulls().filter(|n| n.null_count() > 0);
        let base = dense.base;
        for (row, &value) in values.iter().enumerate() {
            if nulls.is_some_and(|n| n.is_null(row)) {
                ids.push(match self.null_group {
                    Some(id) => id,
                    None => {
                        let id = next_id(self.values.len())?;
                        self.values.push(T::Native::default());
                        self.null_group = Some(id);
                        id
                    }
                });
                continue;
            }
            // `fit_dense` has made every key of this batch an index of the array.
            let offset = value.dense_key().unwrap_or(base).wrapping_sub(base) as usize;
            let slot = &mut dense.ids[offset];
            if *slot == NO_GROUP {
                *slot = next_id(self.values.len())?;
                self.values.push(value);
            }
            ids.push(*slot);
        }
        Ok(())
    }

    #[inline(always)]
    fn intern_value(&mut self, value: T::Native) -> Result<u32> {
        let key = value.key();
        let hash = <T::Native as KeyNative>::hash_key(key);
        if let Some(&(_, id)) = self.table.find(hash, |entry| entry.0 == key) {
            return Ok(id);
        }
        let id = next_id(self.values.len())?;
        self.values.push(value);
        self.table.insert_unique(hash, (key, id), |entry| {
            <T::Native as KeyNative>::hash_key(entry.0)
        });
        Ok(id)
    }

    #[inline(always)]
    fn lookup_value(&self, value: T::Native) -> u32 {
        let key = value.key();
        let hash = <T::Native as KeyNative>::hash_key(key);
        self.table
            .find(hash, |entry| entry.0 == key)
            .map_or(NO_GROUP, |entry| entry.1)
    }

    fn typed<'a>(&self, array: &'a dyn Array) -> Result<&'a PrimitiveArray<T>> {
        array
            .as_primitive_opt::<T>()
            .ok_or_else(|| wrong_type(&self.data_type, array.data_type()))
    }
}

impl<T: ArrowPrimitiveType> ValueInterner for PrimitiveInterner<T>
where
    T::Native: KeyNative,
{
    fn intern(&mut self, array: &dyn Array, ids: &mut Vec<u32>) -> Result<()> {
        let array = self.typed(array)?;
        let values = array.values();
        ids.reserve(values.len());
        if self.fit_dense(array) {
            return self.intern_dense(array, ids);
        }
        match array.nulls().filter(|n| n.null_count() > 0) {
            None => {
                for &value in values.iter() {
                    ids.push(self.intern_value(value)?);
                }
            }
            Some(nulls) => {
                for (row, &value) in values.iter().enumerate() {
                    ids.push(if nulls.is_valid(row) {
                        self.intern_value(value)?
                    } else {
                        self.null_group()?
                    });
                }
            }
        }
        Ok(())
    }

    fn lookup(&self, array: &dyn Array, ids: &mut Vec<u32>) -> Result<()> {
        let array = self.typed(array)?;
        let values = array.values();
        ids.reserve(values.len());
        let null_id = self.null_group.unwrap_or(NO_GROUP);
        if let Some(dense) = &self.dense {
            let nulls = array.nulls().filter(|n| n.null_count() > 0);
            ids.extend(values.iter().enumerate().map(|(row, &v)| {
                if nulls.is_some_and(|n| n.is_null(row)) {
                    null_id
                } else {
                    v.dense_key().map_or(NO_GROUP, |key| dense.get(key))
                }
            }));
            return Ok(());
        }
        match array.nulls().filter(|n| n.null_count() > 0) {
            None => ids.extend(values.iter().map(|&v| self.lookup_value(v))),
            Some(nulls) => ids.extend(values.iter().enumerate().map(|(row, &v)| {
                if nulls.is_valid(row) {
                    self.lookup_value(v)
                } else {
                    null_id
                }
            })),
        }
        Ok(())
    }

    fn null_group(&mut self) -> Result<u32> {
        if let Some(id) = self.null_group {
            return Ok(id);
        }
        let id = next_id(self.values.len())?;
        self.values.push(T::Native::default());
        self.null_group = Some(id);
        Ok(id)
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    fn emit(&self) -> Result<ArrayRef> {
        let array = PrimitiveArray::<T>::new(
            ScalarBuffer::from(self.values.clone()),
            null_buffer(self.values.len(), self.null_group),
        )
        .with_data_type(self.data_type.clone());
        Ok(Arc::new(array))
    }
}

/// Longest value held entirely inside a view.
const INLINE_LEN: usize = 12;

/// The view of a value of at most [`INLINE_LEN`] bytes: length in the low 4 bytes, then the
/// bytes, zero padded (Arrow's `Utf8View` layout), so equal values have equal views.
#[inline(always)]
fn inline_view(bytes: &[u8]) -> u128 {
    let mut buffer = [0u8; 16];
    buffer[..4].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
    // A fixed-size copy per length compiles to a couple of moves instead of a memcpy call.
    macro_rules! copy_len {
        ($($n:literal),*) => {
            match bytes.len() {
                $($n => buffer[4..4 + $n].copy_from_slice(&bytes[..$n]),)*
                _ => {}
            }
        };
    }
    copy_len!(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
    u128::from_le_bytes(buffer)
}

/// The low 64 bits of the view of a value longer than [`INLINE_LEN`]: length and 4-byte prefix.
#[inline(always)]
fn long_view_head(bytes: &[u8]) -> u64 {
    let mut prefix = [0u8; 4];
    prefix.copy_from_slice(&bytes[..4]);
    (bytes.len() as u64) | ((u32::from_le_bytes(prefix) as u64) << 32)
}

/// A table entry of [`BytesInterner`]: the value's view, split in two words so the entry is
/// 24 bytes rather than a `u128`-aligned 32, and its id. Holding the view in the entry means a
/// probe for a short value touches only the table: one cache miss per row, not two.
#[derive(Clone, Copy)]
struct ViewEntry {
    /// Length and first 4 bytes (all of a short value's first 4 bytes).
    low: u64,
    /// A short value's remaining 8 bytes, or a long value's buffer index and arena offset.
    high: u64,
    id: u32,
}

impl ViewEntry {
    #[inline(always)]
    fn new(view: u128, id: u32) -> ViewEntry {
        ViewEntry {
            low: view as u64,
            high: (view >> 64) as u64,
            id,
        }
    }

    #[inline(always)]
    fn is_inline(&self) -> bool {
        self.low as u32 as usize <= INLINE_LEN
    }

    #[inline(always)]
    fn view(&self) -> u128 {
        (self.low as u128) | ((self.high as u128) << 64)
    }
}

/// Interner for strings and binaries (see the module docs for the layout).
pub struct BytesInterner {
    data_type: DataType,
    table: HashTable<ViewEntry>,
    /// One `Utf8View`-layout view per id; long values point into `arena` (buffer 0).
    views: Vec<u128>,
    arena: Vec<u8>,
    null_group: Option<u32>,
}

impl BytesInterner {
    /// An empty interner producing arrays of `data_type` (a string or binary type).
    pub fn new(data_type: DataType) -> Self {
        BytesInterner {
            data_type,
            table: HashTable::new(),
            views: Vec::new(),
            arena: Vec::new(),
            null_group: None,
        }
    }

    /// The bytes of a value longer than [`INLINE_LEN`], from the arena.
    #[inline(always)]
    fn long_bytes(view: u128, arena: &[u8]) -> &[u8] {
        let len = view as u32 as usize;
        let offset = (view >> 96) as usize;
        &arena[offset..offset + len]
    }

    /// The hash of an entry's value (for the table to grow).
    #[inline(always)]
    fn entry_hash(entry: &ViewEntry, arena: &[u8]) -> u64 {
        if entry.is_inline() {
            hash_u128(entry.view())
        } else {
            hash_bytes(Self::long_bytes(entry.view(), arena))
        }
    }

    /// Finds a value longer than [`INLINE_LEN`]; also returns its hash.
    #[inline(always)]
    fn find_long(&self, bytes: &[u8]) -> (u64, Option<u32>) {
        let hash = hash_bytes(bytes);
        let head = long_view_head(bytes);
        let arena = &self.arena;
        let found = self.table.find(hash, |entry| {
            entry.low == head && Self::long_bytes(entry.view(), arena) == bytes
        });
        (hash, found.map(|entry| entry.id))
    }

    /// Finds a value of at most [`INLINE_LEN`] bytes by its view; also returns its hash.
    #[inline(always)]
    fn find_inline(&self, view: u128) -> (u64, Option<u32>) {
        let hash = hash_u128(view);
        let (low, high) = (view as u64, (view >> 64) as u64);
        let found = self
            .table
            .find(hash, |entry| entry.low == low && entry.high == high);
        (hash, found.map(|entry| entry.id))
    }

    #[inline(always)]
    fn find(&self, bytes: &[u8]) -> Option<u32> {
        if bytes.len() <= INLINE_LEN {
            self.find_inline(inline_view(bytes)).1
        } else {
            self.find_long(bytes).1
        }
    }

    #[inline(always)]
    fn intern_bytes(&mut self, bytes: &[u8]) -> Result<u32> {
        if bytes.len() <= INLINE_LEN {
            return self.intern_inline(inline_view(bytes));
        }
        let (hash, found) = self.find_long(bytes);
        if let Some(id) = found {
            return Ok(id);
        }
        let id = next_id(self.views.len())?;
        let offset = u32::try_from(self.arena.len())
            .ok()
            .filter(|o| o.checked_add(bytes.len() as u32).is_some())
            .ok_or_else(|| {
                EngineError::ResourcesExhausted("more than 4 GiB of distinct key bytes".into())
            })?;
        // Buffer index 0 (bits 64..96) and the arena offset (bits 96..128).
        let view = long_view_head(bytes) as u128 | ((offset as u128) << 96);
        self.arena.extend_from_slice(bytes);
        self.insert(hash, view, id);
        Ok(id)
    }

    #[inline(always)]
    fn intern_inline(&mut self, view: u128) -> Result<u32> {
        let (hash, found) = self.find_inline(view);
        if let Some(id) = found {
            return Ok(id);
        }
        let id = next_id(self.views.len())?;
        self.insert(hash, view, id);
        Ok(id)
    }

    #[inline(always)]
    fn insert(&mut self, hash: u64, view: u128, id: u32) {
        self.views.push(view);
        let arena = &self.arena;
        self.table
            .insert_unique(hash, ViewEntry::new(view, id), |entry| {
                Self::entry_hash(entry, arena)
            });
    }

    fn intern_offsets<T: ByteArrayType>(
        &mut self,
        array: &GenericByteArray<T>,
        ids: &mut Vec<u32>,
    ) -> Result<()> {
        ids.reserve(array.len());
        let nulls = array.nulls().filter(|n| n.null_count() > 0);
        for row in 0..array.len() {
            let id = match nulls {
                Some(nulls) if nulls.is_null(row) => self.null_group()?,
                _ => {
                    let bytes: &[u8] = array.value(row).as_ref();
                    self.intern_bytes(bytes)?
                }
            };
            ids.push(id);
        }
        Ok(())
    }

    fn intern_views<T: ByteViewType + ?Sized>(
        &mut self,
        array: &GenericByteViewArray<T>,
        ids: &mut Vec<u32>,
    ) -> Result<()> {
        ids.reserve(array.len());
        let nulls = array.nulls().filter(|n| n.null_count() > 0);
        for (row, &view) in array.views().iter().enumerate() {
            let id = match nulls {
                Some(nulls) if nulls.is_null(row) => self.null_group()?,
                _ => match clean_inline_view(view) {
                    Some(view) => self.intern_inline(view)?,
                    None => {
                        let bytes: &[u8] = array.value(row).as_ref();
                        self.intern_bytes(bytes)?
                    }
                },
            };
            ids.push(id);
        }
        Ok(())
    }

    fn lookup_rows<'a>(
        &self,
        len: usize,
        nulls: Option<&NullBuffer>,
        ids: &mut Vec<u32>,
        bytes_at: impl Fn(usize) -> ProbeValue<'a>,
    ) {
        let null_id = self.null_group.unwrap_or(NO_GROUP);
        let nulls = nulls.filter(|n| n.null_count() > 0);
        ids.reserve(len);
        for row in 0..len {
            let id = match nulls {
                Some(nulls) if nulls.is_null(row) => null_id,
                _ => match bytes_at(row) {
                    ProbeValue::Inline(view) => self.find_inline(view).1.unwrap_or(NO_GROUP),
                    ProbeValue::Bytes(bytes) => self.find(bytes).unwrap_or(NO_GROUP),
                },
            };
            ids.push(id);
        }
    }

    /// The distinct values as `Utf8`/`Binary` (or their large variants) arrays.
    fn emit_offsets<O: OffsetSizeTrait>(&self, is_string: bool) -> Result<ArrayRef> {
        let mut offsets = Vec::with_capacity(self.views.len() + 1);
        let mut values = Vec::new();
        offsets.push(O::usize_as(0));
        for &view in &self.views {
            let len = view as u32 as usize;
            if len <= INLINE_LEN {
                // Little-endian view: the value follows the 4-byte length.
                values.extend_from_slice(&view.to_le_bytes()[4..4 + len]);
            } else {
                values.extend_from_slice(Self::long_bytes(view, &self.arena));
            }
            offsets.push(O::from_usize(values.len()).ok_or_else(|| {
                EngineError::ResourcesExhausted("distinct keys exceed 2 GiB".into())
            })?);
        }
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        let nulls = null_buffer(self.views.len(), self.null_group);
        let values = Buffer::from_vec(values);
        Ok(if is_string {
            Arc::new(GenericByteArray::<GenericStringType<O>>::try_new(
                offsets, values, nulls,
            )?)
        } else {
            Arc::new(GenericByteArray::<GenericBinaryType<O>>::try_new(
                offsets, values, nulls,
            )?)
        })
    }
}

/// A row's value for a lookup: an inline view, or the bytes of a long value.
enum ProbeValue<'a> {
    Inline(u128),
    Bytes(&'a [u8]),
}

/// A `Utf8View` view with its unused inline bytes cleared, when the value is inline.
#[inline(always)]
fn clean_inline_view(view: u128) -> Option<u128> {
    let len = view as u32 as usize;
    if len > INLINE_LEN {
        return None;
    }
    // Arrow asks writers to zero-pad, but readers must not rely on it.
    let used_bits = 32 + 8 * len as u32;
    Some(if used_bits >= 128 {
        view
    } else {
        view & ((1u128 << used_bits) - 1)
    })
}

impl ValueInterner for BytesInterner {
    fn intern(&mut self, array: &dyn Array, ids: &mut Vec<u32>) -> Result<()> {
        match array.data_type() {
            DataType::Utf8 => self.intern_offsets(array.as_string::<i32>(), ids),
            DataType::LargeUtf8 => self.intern_offsets(array.as_string::<i64>(), ids),
            DataType::Binary => self.intern_offsets(array.as_binary::<i32>(), ids),
            DataType::LargeBinary => self.intern_offsets(array.as_binary::<i64>(), ids),
            DataType::Utf8View => self.intern_views(array.as_string_view(), ids),
            DataType::BinaryView => self.intern_views(array.as_binary_view(), ids),
            other => Err(wrong_type(&self.data_type, other)),
        }
    }

    fn lookup(&self, array: &dyn Array, ids: &mut Vec<u32>) -> Result<()> {
        let (len, nulls) = (array.len(), array.nulls());
        fn offsets<'a, T: ByteArrayType>(
            array: &'a GenericByteArray<T>,
        ) -> impl Fn(usize) -> ProbeValue<'a> + 'a {
            move |row| {
                let bytes: &[u8] = array.value(row).as_ref();
                if bytes.len() <= INLINE_LEN {
                    ProbeValue::Inline(inline_view(bytes))
                } else {
                    ProbeValue::Bytes(bytes)
                }
            }
        }
        fn views<'a, T: ByteViewType + ?Sized>(
            array: &'a GenericByteViewArray<T>,
        ) -> impl Fn(usize) -> ProbeValue<'a> + 'a {
            move |row| match clean_inline_view(array.views()[row]) {
                Some(view) => ProbeValue::Inline(view),
                None => ProbeValue::Bytes(array.value(row).as_ref()),
            }
        }
        match array.data_type() {
            DataType::Utf8 => self.lookup_rows(len, nulls, ids, offsets(array.as_string::<i32>())),
            DataType::LargeUtf8 => {
                self.lookup_rows(len, nulls, ids, offsets(array.as_string::<i64>()))
            }
            DataType::Binary => {
                self.lookup_rows(len, nulls, ids, offsets(array.as_binary::<i32>()))
            }
            DataType::LargeBinary => {
                self.lookup_rows(len, nulls, ids, offsets(array.as_binary::<i64>()))
            }
            DataType::Utf8View => self.lookup_rows(len, nulls, ids, views(array.as_string_view())),
            DataType::BinaryView => {
                self.lookup_rows(len, nulls, ids, views(array.as_binary_view()))
            }
            other => return Err(wrong_type(&self.data_type, other)),
        }
        Ok(())
    }

    fn null_group(&mut self) -> Result<u32> {
        if let Some(id) = self.null_group {
            return Ok(id);
        }
        let id = next_id(self.views.len())?;
        self.views.push(0);
        self.null_group = Some(id);
        Ok(id)
    }

    fn len(&self) -> usize {
        self.views.len()
    }

    fn emit(&self) -> Result<ArrayRef> {
        let nulls = || null_buffer(self.views.len(), self.null_group);
        match &self.data_type {
            DataType::Utf8 => self.emit_offsets::<i32>(true),
            DataType::LargeUtf8 => self.emit_offsets::<i64>(true),
            DataType::Binary => self.emit_offsets::<i32>(false),
            DataType::LargeBinary => self.emit_offsets::<i64>(false),
            DataType::Utf8View => Ok(Arc::new(StringViewArray::try_new(
                ScalarBuffer::from(self.views.clone()),
                vec![Buffer::from_vec(self.arena.clone())],
                nulls(),
            )?)),
            DataType::BinaryView => Ok(Arc::new(BinaryViewArray::try_new(
                ScalarBuffer::from(self.views.clone()),
                vec![Buffer::from_vec(self.arena.clone())],
                nulls(),
            )?)),
            other => Err(EngineError::Internal(format!(
                "bytes interner cannot produce {other}"
            ))),
        }
    }
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
                for &key in key_values.iter() {
                    let id = lookup(key)?;
                    unmapped |= id == NO_GROUP;
                    ids.push(id);
                }
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
                if mapping.ids[position] == NO_GROUP {
                    // Mark as pending so each value is interned once.
                    mapping.ids[position] = NO_GROUP - 1;
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
/// `0..len`), cast otherwise. Group keys come out of an interner decoded; the plan's schema
/// may want them dictionary-encoded again.
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

/// An array of `data_type` built from raw values and validity (for result columns whose
/// native type is shared by several logical types, such as `Duration` over `i64`).
pub fn native_array<N: ArrowNativeType>(
    data_type: &DataType,
    values: Vec<N>,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef> {
    let data = ArrayData::try_new(
        data_type.clone(),
        values.len(),
        nulls.map(|n| n.into_inner().into_inner()),
        0,
        vec![Buffer::from_vec(values)],
        vec![],
    )?;
    Ok(make_array(data))
}
