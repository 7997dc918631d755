//! [`BytesInterner`]: string and binary keys in `Utf8View` layout.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryViewArray, GenericByteArray, GenericByteViewArray,
    OffsetSizeTrait, StringViewArray,
};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::ArrowNativeType;
use arrow::datatypes::{
    ByteArrayType, ByteViewType, DataType, GenericBinaryType, GenericStringType,
};
use hashbrown::HashTable;

use super::{next_id, null_buffer, wrong_type, ValueInterner};
use crate::error::{EngineError, Result};
use crate::physical_plan::aggregate::NO_GROUP;
use crate::physical_plan::hashing::{hash_bytes, hash_u128};

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
    /// The id of each one-byte value seen so far (`u32::MAX` when none), filled as they
    /// appear: flag and status columns (`CHAR(1)`) then cost one array read per row.
    single_bytes: Vec<u32>,
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
            single_bytes: Vec::new(),
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
        if nulls.is_none() && self.intern_single_bytes(array, ids)? {
            return Ok(());
        }
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

    /// Interns an array (without NULLs) whose values are all one byte long through
    /// [`BytesInterner::single_bytes`]; returns false, having done nothing, for any other.
    fn intern_single_bytes<T: ByteArrayType>(
        &mut self,
        array: &GenericByteArray<T>,
        ids: &mut Vec<u32>,
    ) -> Result<bool> {
        let offsets = array.value_offsets();
        let Some(&first) = offsets.first() else {
            return Ok(true);
        };
        let first = first.as_usize();
        // Other columns fail this at once, without the pass below.
        if offsets[offsets.len() - 1].as_usize() - first != array.len() {
            return Ok(false);
        }
        // Offsets `first, first + 1, …`: every value is one byte (no branch per row, so the
        // check vectorises).
        let one_byte_each = offsets
            .iter()
            .enumerate()
            .fold(true, |all, (i, o)| all & (o.as_usize() == first + i));
        if !one_byte_each {
            return Ok(false);
        }
        if self.single_bytes.is_empty() {
            self.single_bytes = vec![u32::MAX; 256];
        }
        let bytes = &array.value_data()[first..first + array.len()];
        for &byte in bytes {
            let id = match self.single_bytes[byte as usize] {
                u32::MAX => {
                    let id = self.intern_inline(inline_view(&[byte]))?;
                    self.single_bytes[byte as usize] = id;
                    id
                }
                id => id,
            };
            ids.push(id);
        }
        Ok(true)
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
