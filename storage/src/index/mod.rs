//! Secondary indexes: [`IndexDefinition`] (what a table declares), [`ChunkIndex`] (the index of
//! one immutable [`Chunk`]) and [`BuiltIndex`] (one table version's index: its chunks' indexes).
//!
//! Two kinds: a hash index (point and IN lookups) and an ordered index (a `BTreeMap`, which also
//! serves ranges, `ORDER BY` in either direction and top-k). Keys may be composite — an ordered
//! composite index serves an equality on a prefix of its columns, a range on the next column and
//! that column's order (`filter(customer=1).order_by("-created")[:10]`) — and a partial index
//! (`condition=`) holds only the rows its condition accepts.
//!
//! # Maintenance
//!
//! Chunks are immutable and shared (`Arc`) between table versions: a write copies only the
//! chunks it changes and appends chunks for new rows. So an index is kept *per chunk* and
//! cached on the chunk the first time it is needed: the next version's index is the previous
//! version's chunk indexes, shared, plus indexes of the few chunks the write created. An
//! update rewrites rows in place, so the rewritten chunk keeps the row numbers: its indexes
//! over columns the update left alone are the old chunk's, shared, and the others are the old
//! chunk's entries plus a small patch (the replaced rows, hidden in the old entries, and their
//! new entries), rebuilt from the chunk once the patch grows past `PATCH_ROWS` rows. A
//! one-row update on a 10M-row table therefore touches a few entries, not a chunk, let alone
//! the table. Because a chunk's index describes exactly that chunk's rows, it can never
//! disagree with the data under any write path or rollback: a rolled-back transaction's
//! chunks, and their indexes, are simply never published. Lookups probe each chunk's index
//! (only for the keys within its key bounds) and merge the answers in key order.
//!
//! The same per-chunk indexes serve the transaction layer: uniqueness checks probe a hash index
//! of each unique constraint, and rows are found by primary key through a hash index on the key
//! column, so neither scans the table.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, UInt32Array};
use arrow::compute::interleave;

use crate::row_key::batch_keys;
use crate::table::{RowPredicate, UniqueConstraint};
use crate::{Chunk, Result, RowKey, StorageError, TableVersion};

mod bulk;
mod reads;

/// Which structure an index uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// Hash table: point and IN lookups.
    Hash,
    /// Ordered map: also ranges, ordering and top-k.
    Ordered,
}

/// An index a table declares.
#[derive(Clone)]
pub struct IndexDefinition {
    /// Its name (shown by EXPLAIN).
    pub name: String,
    /// Indexed columns, in key order.
    pub columns: Vec<usize>,
    /// Per column: declared descending (`"-created_at"`). A B-tree is read in both directions,
    /// so this records the declaration; every order of the key columns can be served.
    pub descending: Vec<bool>,
    /// Hash or ordered.
    pub kind: IndexKind,
    /// Only rows for which this is TRUE are indexed (a partial index).
    pub condition: Option<RowPredicate>,
    /// `condition` as the query planner compiled it (a `quiver_engine::Expr` over the table's
    /// columns), opaque to storage: the optimizer reads it to prove that a query's filter
    /// implies the condition before it reads the partial index. A partial index without it is
    /// never chosen for a query.
    pub condition_expr: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

impl std::fmt::Debug for IndexDefinition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexDefinition")
            .field("name", &self.name)
            .field("columns", &self.columns)
            .field("descending", &self.descending)
            .field("kind", &self.kind)
            .field("partial", &self.condition.is_some())
            .finish()
    }
}

/// Where a row is: chunk and row within the chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RowAddress {
    /// Chunk index in the version.
    pub chunk: u32,
    /// Row index in the chunk.
    pub row: u32,
}

/// What a chunk index covers; names its cache entry on the chunk.
pub(crate) enum Indexed<'a> {
    /// A declared index: every accepted row, NULL keys included.
    Declared(&'a IndexDefinition),
    /// A unique constraint: the rows taking part in it (condition TRUE, no NULL part).
    Unique(&'a UniqueConstraint),
    /// Values of some columns (primary, foreign and unique key look-ups).
    Columns(&'a [usize]),
}

impl Indexed<'_> {
    /// What the index is built from. Every kind keeps NULL keys aside (never returned by a
    /// key look-up), so a unique constraint without a condition, a declared hash index and
    /// a key look-up on the same columns are one index, built and cached once per chunk.
    fn spec(&self) -> IndexSpec {
        match self {
            Indexed::Declared(definition) => IndexSpec {
                columns: definition.columns.clone(),
                condition: definition.condition.clone(),
                kind: definition.kind,
            },
            Indexed::Unique(constraint) => IndexSpec {
                columns: constraint.columns.clone(),
                condition: constraint.condition.clone(),
                kind: IndexKind::Hash,
            },
            Indexed::Columns(columns) => IndexSpec {
                columns: columns.to_vec(),
                condition: None,
                kind: IndexKind::Hash,
            },
        }
    }

    fn cache_key(&self) -> String {
        match self {
            // Index and constraint names are unique per table, and a chunk belongs to one
            // table; a condition is known only by its owner's name.
            Indexed::Declared(definition) if definition.condition.is_some() => {
                format!("index:{}", definition.name)
            }
            Indexed::Unique(constraint) if constraint.condition.is_some() => {
                format!("unique:{}", constraint.name)
            }
            Indexed::Declared(definition) => {
                format!("{:?}:{:?}", definition.kind, definition.columns)
            }
            Indexed::Unique(constraint) => format!("Hash:{:?}", constraint.columns),
            Indexed::Columns(columns) => format!("Hash:{columns:?}"),
        }
    }

    /// The index of `chunk`, from the chunk's cache or built now.
    pub(crate) fn of(&self, chunk: &Chunk) -> Result<Arc<ChunkIndex>> {
        chunk.cached_index(&self.cache_key(), |batch| {
            ChunkIndex::build(self.spec(), batch)
        })
    }
}

/// How a chunk index is built: its columns, the rows it accepts and its structure. Kept on
/// the index, so that an index can be carried over to a chunk derived from its own.
#[derive(Clone)]
struct IndexSpec {
    columns: Vec<usize>,
    condition: Option<RowPredicate>,
    kind: IndexKind,
}

impl IndexSpec {
    /// Per row of `batch`: its key, when the index holds the row.
    fn keys(&self, batch: &RecordBatch) -> Result<Vec<Option<RowKey>>> {
        let keys = batch_keys(batch, &self.columns)?;
        let accepted: Option<BooleanArray> = match &self.condition {
            Some(condition) => Some(condition(batch)?),
            None => None,
        };
        Ok(keys
            .into_iter()
            .enumerate()
            .map(|(row, key)| {
                let held = accepted
                    .as_ref()
                    .is_none_or(|a| a.is_valid(row) && a.value(row));
                held.then_some(key)
            })
            .collect())
    }
}

/// True when `key` goes to the NULL rows rather than the map: a NULL part, except in a
/// composite ordered index, whose map orders NULL parts itself.
fn kept_aside(kind: IndexKind, composite: bool, key: &RowKey) -> bool {
    !(kind == IndexKind::Ordered && composite) && key.has_null()
}

/// The rows of one key. Most keys of most indexes (every key of a unique one) have one row,
/// which is kept inline: building the index of a chunk then allocates nothing per key.
#[derive(Debug, Clone, PartialEq)]
enum RowList {
    One(u32),
    Many(Vec<u32>),
}

impl RowList {
    fn as_slice(&self) -> &[u32] {
        match self {
            RowList::One(row) => std::slice::from_ref(row),
            RowList::Many(rows) => rows,
        }
    }

    fn push(&mut self, row: u32) {
        match self {
            RowList::One(first) => *self = RowList::Many(vec![*first, row]),
            RowList::Many(rows) => rows.push(row),
        }
    }

    /// Removes `row`; returns how many entries went and whether none is left.
    fn remove(&mut self, row: u32) -> (usize, bool) {
        match self {
            RowList::One(only) if *only == row => (1, true),
            RowList::One(_) => (0, false),
            RowList::Many(rows) => {
                let before = rows.len();
                rows.retain(|&r| r != row);
                (before - rows.len(), rows.is_empty())
            }
        }
    }
}

/// Rows by key: the body of a chunk index, or of the patch over one.
#[derive(Debug, Default, Clone)]
struct Entries {
    hash: HashMap<RowKey, RowList, ahash::RandomState>,
    ordered: BTreeMap<RowKey, RowList>,
    nulls: Vec<u32>,
    entries: usize,
    /// The least and greatest non-NULL key (what a set of wanted keys is clipped to).
    bounds: Option<(RowKey, RowKey)>,
}

impl Entries {
    fn insert(&mut self, kind: IndexKind, composite: bool, key: RowKey, row: u32) {
        self.entries += 1;
        let has_null = key.has_null();
        if !has_null {
            self.bounds = Some(match self.bounds.take() {
                None => (key.clone(), key.clone()),
                Some((low, high)) => {
                    let low = if key < low { key.clone() } else { low };
                    let high = if key > high { key.clone() } else { high };
                    (low, high)
                }
            });
        }
        if kept_aside(kind, composite, &key) {
            self.nulls.push(row);
            return;
        }
        match kind {
            IndexKind::Hash => match self.hash.entry(key) {
                std::collections::hash_map::Entry::Occupied(mut rows) => rows.get_mut().push(row),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(RowList::One(row));
                }
            },
            IndexKind::Ordered => match self.ordered.entry(key) {
                std::collections::btree_map::Entry::Occupied(mut rows) => rows.get_mut().push(row),
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(RowList::One(row));
                }
            },
        }
    }

    /// Removes `row` from `key`'s entry (the bounds stay: they only have to enclose).
    fn remove(&mut self, kind: IndexKind, composite: bool, key: &RowKey, row: u32) {
        let before = self.nulls.len();
        if kept_aside(kind, composite, key) {
            self.nulls.retain(|&r| r != row);
            self.entries -= before - self.nulls.len();
            return;
        }
        let map_rows = match kind {
            IndexKind::Hash => self.hash.get_mut(key),
            IndexKind::Ordered => self.ordered.get_mut(key),
        };
        let Some(rows) = map_rows else { return };
        let (removed, emptied) = rows.remove(row);
        self.entries -= removed;
        if emptied {
            match kind {
                IndexKind::Hash => self.hash.remove(key),
                IndexKind::Ordered => self.ordered.remove(key),
            };
        }
    }

    fn get(&self, kind: IndexKind, key: &RowKey) -> &[u32] {
        let found = match kind {
            IndexKind::Hash => self.hash.get(key),
            IndexKind::Ordered => self.ordered.get(key),
        };
        found.map_or(&[], RowList::as_slice)
    }

    fn keyed(&self, kind: IndexKind) -> Box<dyn Iterator<Item = (&RowKey, &RowList)> + '_> {
        match kind {
            IndexKind::Hash => Box::new(self.hash.iter()),
            IndexKind::Ordered => Box::new(self.ordered.iter()),
        }
    }
}

/// The rows of a chunk whose values an update replaced since the base index was built, and
/// their new entries.
#[derive(Debug, Default, Clone)]
struct Patch {
    /// Rows whose base entries are out of date.
    stale: HashSet<u32>,
    /// How many of the stale rows the base holds.
    stale_in_base: usize,
    entries: Entries,
}

/// Distinct rows a patch may replace before the index is rebuilt instead: a patch is copied
/// on every derivation, a rebuild reads the whole chunk, and about the square root of
/// [`CHUNK_ROWS`](crate::CHUNK_ROWS) balances the two.
pub(crate) const PATCH_ROWS: usize = 256;

/// What becomes of a chunk's index when some of its rows are replaced.
pub(crate) enum Derived {
    /// The index holds for the new chunk as it is (no indexed value changed).
    Same,
    /// The index with the replaced rows' entries updated.
    Patched(ChunkIndex),
    /// Too many rows changed: build the new chunk's index when it is next needed.
    Rebuild,
}

#[cfg(test)]
thread_local! {
    /// Rows read by chunk index builds on this thread (tests count them to show that a write
    /// indexes each new row once, and no stored row again).
    pub(crate) static ENTRIES_BUILT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Entries carried over to a chunk a delete made, renumbered instead of rebuilt.
    pub(crate) static ENTRIES_RENUMBERED: std::cell::Cell<usize> =
        const { std::cell::Cell::new(0) };
}

/// The index of one chunk: row numbers within the chunk by key.
///
/// A single-column ordered index keeps NULL keys aside (they sort last ascending, as in
/// PostgreSQL); a composite ordered one keeps every key in its map, where a NULL part sorts
/// first, and prefix scans place NULLs of the scanned column themselves. Key look-ups never
/// return rows with a NULL key part.
///
/// An index over a chunk made from another by replacing a few rows (an `update()`) shares
/// the other's entries and adds a small patch: the replaced rows, hidden in the shared
/// entries, and their new entries. Readers merge the two.
pub struct ChunkIndex {
    spec: IndexSpec,
    base: Arc<Entries>,
    patch: Option<Patch>,
}

impl std::fmt::Debug for ChunkIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkIndex")
            .field("kind", &self.spec.kind)
            .field("columns", &self.spec.columns)
            .field("entries", &self.len())
            .field("patched_rows", &self.patched_rows())
            .finish()
    }
}

/// A chunk index's rows of one key: borrowed from an unpatched index, else merged.
pub type Rows<'a> = Cow<'a, [u32]>;

impl ChunkIndex {
    fn build(spec: IndexSpec, batch: &RecordBatch) -> Result<ChunkIndex> {
        #[cfg(test)]
        ENTRIES_BUILT.with(|c| c.set(c.get() + batch.num_rows()));
        let entries = bulk::entries(&spec, batch)?;
        Ok(ChunkIndex {
            spec,
            base: Arc::new(entries),
            patch: None,
        })
    }

    /// The index of `batch` built row by row through [`Entries::insert`], the path patches
    /// take: tests check that the bulk build equals it.
    #[cfg(test)]
    fn build_row_by_row(spec: IndexSpec, batch: &RecordBatch) -> Result<ChunkIndex> {
        let composite = spec.columns.len() > 1;
        let mut entries = Entries::default();
        for (row, key) in spec.keys(batch)?.into_iter().enumerate() {
            if let Some(key) = key {
                entries.insert(spec.kind, composite, key, row as u32);
            }
        }
        Ok(ChunkIndex {
            spec,
            base: Arc::new(entries),
            patch: None,
        })
    }

    fn composite(&self) -> bool {
        self.spec.columns.len() > 1
    }

    /// This index carried over to the chunk made from `old` (the chunk it indexes) by
    /// replacing `rows` (ascending) with the rows of `images`, given which columns changed.
    pub(crate) fn derive(
        &self,
        old: &RecordBatch,
        rows: &[u32],
        images: &RecordBatch,
        changed: &[bool],
    ) -> Result<Derived> {
        let touched = self.spec.condition.is_some()
            || self
                .spec
                .columns
                .iter()
                .any(|&c| changed.get(c) != Some(&false));
        if !touched {
            return Ok(Derived::Same);
        }
        let mut patch = self.patch.clone().unwrap_or_default();
        if patch.stale.len() + rows.len() > PATCH_ROWS {
            return Ok(Derived::Rebuild);
        }
        let indices = UInt32Array::from(rows.to_vec());
        let old_keys = self
            .spec
            .keys(&arrow::compute::take_record_batch(old, &indices)?)?;
        let new_keys = self.spec.keys(images)?;
        let (kind, composite) = (self.spec.kind, self.composite());
        for ((&row, old_key), new_key) in rows.iter().zip(old_keys).zip(new_keys) {
            if patch.stale.insert(row) {
                patch.stale_in_base += usize::from(old_key.is_some());
            } else if let Some(old_key) = old_key {
                patch.entries.remove(kind, composite, &old_key, row);
            }
            if let Some(new_key) = new_key {
                patch.entries.insert(kind, composite, new_key, row);
            }
        }
        Ok(Derived::Patched(ChunkIndex {
            spec: self.spec.clone(),
            base: Arc::clone(&self.base),
            patch: Some(patch),
        }))
    }

    /// This index for the chunk made from its own by removing `rows` (ascending, distinct):
    /// the other rows' entries, renumbered to their new positions, without reading the data
    /// again. A patched index is left to be rebuilt (`None`): its patch would have to be
    /// renumbered too, and patches are small, recent and rebuilt soon anyway.
    pub(crate) fn without_rows(&self, rows: &[u32]) -> Option<ChunkIndex> {
        if self.patch.is_some() {
            return None;
        }
        #[cfg(test)]
        ENTRIES_RENUMBERED.with(|c| c.set(c.get() + self.base.entries));
        // A remaining row moves down by the number of removed rows before it.
        let moved = |row: u32| -> Option<u32> {
            match rows.binary_search(&row) {
                Ok(_) => None,
                Err(before) => Some(row - before as u32),
            }
        };
        let renumber = |list: &RowList| -> Option<RowList> {
            match list {
                RowList::One(row) => moved(*row).map(RowList::One),
                RowList::Many(many) => {
                    let kept: Vec<u32> = many.iter().filter_map(|&r| moved(r)).collect();
                    match kept.len() {
                        0 => None,
                        1 => Some(RowList::One(kept[0])),
                        _ => Some(RowList::Many(kept)),
                    }
                }
            }
        };
        let base = &self.base;
        let mut hash = HashMap::with_capacity_and_hasher(base.hash.len(), Default::default());
        let mut entries = 0;
        for (key, list) in &base.hash {
            if let Some(list) = renumber(list) {
                entries += list.as_slice().len();
                hash.insert(key.clone(), list);
            }
        }
        // A BTreeMap collected from its own (sorted) order is built in one pass.
        let ordered: BTreeMap<RowKey, RowList> = base
            .ordered
            .iter()
            .filter_map(|(key, list)| renumber(list).map(|list| (key.clone(), list)))
            .inspect(|(_, list)| entries += list.as_slice().len())
            .collect();
        let nulls: Vec<u32> = base.nulls.iter().filter_map(|&r| moved(r)).collect();
        entries += nulls.len();
        Some(ChunkIndex {
            spec: self.spec.clone(),
            base: Arc::new(Entries {
                hash,
                ordered,
                nulls,
                entries,
                // Bounds only have to enclose the keys.
                bounds: base.bounds.clone(),
            }),
            patch: None,
        })
    }

    /// Rows replaced since the index was built (0: a fresh index).
    pub fn patched_rows(&self) -> usize {
        self.patch.as_ref().map_or(0, |p| p.stale.len())
    }

    /// Rows indexed (including NULL keys).
    pub fn len(&self) -> usize {
        match &self.patch {
            None => self.base.entries,
            Some(patch) => self.base.entries - patch.stale_in_base + patch.entries.entries,
        }
    }

    /// True when no row is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The least and greatest non-NULL key (enclosing: after an update they may be wider).
    pub fn bounds(&self) -> Option<(&RowKey, &RowKey)> {
        let base = self.base.bounds.as_ref();
        let patch = self.patch.as_ref().and_then(|p| p.entries.bounds.as_ref());
        match (base, patch) {
            (Some((l, h)), None) | (None, Some((l, h))) => Some((l, h)),
            (Some((l1, h1)), Some((l2, h2))) => Some((l1.min(l2), h1.max(h2))),
            (None, None) => None,
        }
    }

    /// Base rows still current.
    fn fresh<'a>(&self, rows: &'a [u32]) -> Rows<'a> {
        match &self.patch {
            Some(patch) if rows.iter().any(|r| patch.stale.contains(r)) => Cow::Owned(
                rows.iter()
                    .copied()
                    .filter(|r| !patch.stale.contains(r))
                    .collect(),
            ),
            _ => Cow::Borrowed(rows),
        }
    }

    /// The rows whose key equals `key` (never a NULL key), ascending.
    pub fn get(&self, key: &RowKey) -> Rows<'_> {
        let base = self.base.get(self.spec.kind, key);
        let Some(patch) = &self.patch else {
            return Cow::Borrowed(base);
        };
        let added = patch.entries.get(self.spec.kind, key);
        let fresh = self.fresh(base);
        if added.is_empty() {
            return fresh;
        }
        let mut rows: Vec<u32> = fresh.iter().chain(added).copied().collect();
        rows.sort_unstable();
        Cow::Owned(rows)
    }

    /// Every non-NULL key with its rows, in no particular order; a key may come twice (from
    /// the base and from the patch), never with no rows.
    pub(crate) fn keyed(&self) -> Box<dyn Iterator<Item = (&RowKey, Rows<'_>)> + '_> {
        let base = self
            .base
            .keyed(self.spec.kind)
            .map(|(key, rows)| (key, self.fresh(rows.as_slice())))
            .filter(|(_, rows)| !rows.is_empty());
        match &self.patch {
            None => Box::new(base),
            Some(patch) => Box::new(
                base.chain(
                    patch
                        .entries
                        .keyed(self.spec.kind)
                        .map(|(key, rows)| (key, Cow::Borrowed(rows.as_slice()))),
                ),
            ),
        }
    }

    /// Rows with a NULL key (single-column indexes).
    fn nulls(&self) -> Rows<'_> {
        let base = self.fresh(&self.base.nulls);
        match &self.patch {
            Some(patch) if !patch.entries.nulls.is_empty() => {
                let mut rows: Vec<u32> = base.iter().chain(&patch.entries.nulls).copied().collect();
                rows.sort_unstable();
                Cow::Owned(rows)
            }
            _ => base,
        }
    }

    /// The ordered entries within the bounds, in key order (a key may come twice after a
    /// patch), empty where `BTreeMap::range` would panic.
    fn ordered_range<'a>(
        &'a self,
        low: Bound<&RowKey>,
        high: Bound<&RowKey>,
    ) -> Box<dyn DoubleEndedIterator<Item = (&'a RowKey, Rows<'a>)> + 'a> {
        let base = checked_range(&self.base.ordered, low, high)
            .map(|(key, rows)| (key, self.fresh(rows.as_slice())))
            .filter(|(_, rows)| !rows.is_empty());
        let Some(patch) = &self.patch else {
            return Box::new(base);
        };
        let mut merged: Vec<(&RowKey, Rows<'a>)> = base.collect();
        merged.extend(
            checked_range(&patch.entries.ordered, low, high)
                .map(|(key, rows)| (key, Cow::Borrowed(rows.as_slice()))),
        );
        merged.sort_by(|a, b| a.0.cmp(b.0));
        Box::new(merged.into_iter())
    }
}

/// The rows of a [`Rows`] by value.
fn owned_rows(rows: Rows<'_>) -> std::vec::IntoIter<u32> {
    rows.into_owned().into_iter()
}

/// Sorts after every scalar key part (a composite key's parts are never composite), so
/// `prefix ++ [AFTER]` bounds every key that starts with `prefix` from above.
fn after_all() -> RowKey {
    RowKey::Composite(Box::new([]))
}

fn composite(parts: &[RowKey], more: &[RowKey]) -> RowKey {
    RowKey::Composite(parts.iter().chain(more).cloned().collect())
}

/// `map.range(low, high)`, empty where `BTreeMap::range` would panic (low above high, or
/// equal bounds with one excluded).
fn checked_range<'a>(
    map: &'a BTreeMap<RowKey, RowList>,
    low: Bound<&RowKey>,
    high: Bound<&RowKey>,
) -> Box<dyn DoubleEndedIterator<Item = (&'a RowKey, &'a RowList)> + 'a> {
    let value = |b: Bound<&RowKey>| match b {
        Bound::Included(v) | Bound::Excluded(v) => Some(v.clone()),
        Bound::Unbounded => None,
    };
    if let (Some(l), Some(h)) = (value(low), value(high)) {
        let both_included = matches!((low, high), (Bound::Included(_), Bound::Included(_)));
        if l > h || (l == h && !both_included) {
            return Box::new(std::iter::empty());
        }
    }
    let owned = |b: Bound<&RowKey>| match b {
        Bound::Included(v) => Bound::Included(v.clone()),
        Bound::Excluded(v) => Bound::Excluded(v.clone()),
        Bound::Unbounded => Bound::Unbounded,
    };
    Box::new(map.range((owned(low), owned(high))))
}

/// One row found by an ordered read: its NULL group (0 first), key and address.
type Found<'a> = (u8, &'a RowKey, RowAddress);

/// Merges rows that each chunk yields in read order into one read order, keeping `limit`.
fn merge_in_order(mut found: Vec<Found<'_>>, descending: bool, limit: usize) -> Vec<RowAddress> {
    found.sort_by(|a, b| {
        let keys = if descending {
            b.1.cmp(a.1)
        } else {
            a.1.cmp(b.1)
        };
        a.0.cmp(&b.0).then(keys).then(a.2.cmp(&b.2))
    });
    found.into_iter().take(limit).map(|f| f.2).collect()
}

/// An index over one table version: the indexes of its chunks.
#[derive(Debug)]
pub struct BuiltIndex {
    kind: IndexKind,
    columns: usize,
    chunks: Vec<Arc<ChunkIndex>>,
}

impl BuiltIndex {
    /// The index of every chunk of `version` (cached on the chunks, so only chunks no earlier
    /// version had are indexed now).
    pub fn build(definition: &IndexDefinition, version: &TableVersion) -> Result<BuiltIndex> {
        let indexed = Indexed::Declared(definition);
        Ok(BuiltIndex {
            kind: definition.kind,
            columns: definition.columns.len(),
            chunks: version
                .chunks()
                .iter()
                .map(|chunk| indexed.of(chunk))
                .collect::<Result<_>>()?,
        })
    }

    /// Rows indexed (including NULL keys).
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.len()).sum()
    }

    /// True when no row is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The chunk indexes, by chunk position.
    pub fn chunk_indexes(&self) -> &[Arc<ChunkIndex>] {
        &self.chunks
    }

    /// The rows whose key equals one of `keys` (composite keys for a composite index), in
    /// address order.
    pub fn lookup(&self, keys: &[RowKey]) -> Vec<RowAddress> {
        let keys = sorted_keys(keys);
        let mut out = Vec::new();
        for (chunk, index) in self.chunks.iter().enumerate() {
            out.extend(
                find_rows(index, &keys)
                    .into_iter()
                    .map(|(row, _)| RowAddress {
                        chunk: chunk as u32,
                        row,
                    }),
            );
        }
        out
    }

    fn require_ordered(&self, what: &str) -> Result<()> {
        if self.kind != IndexKind::Ordered {
            return Err(StorageError::Internal(format!(
                "a hash index cannot serve {what}"
            )));
        }
        Ok(())
    }

    /// The rows whose key lies within the bounds (single-column ordered indexes), in key order.
    pub fn range(&self, low: Bound<RowKey>, high: Bound<RowKey>) -> Result<Vec<RowAddress>> {
        self.require_ordered("ranges")?;
        let mut found = Vec::new();
        for (chunk, index) in self.chunks.iter().enumerate() {
            for (key, rows) in index.ordered_range(low.as_ref(), high.as_ref()) {
                found.extend(rows.iter().map(|&row| {
                    let address = RowAddress {
                        chunk: chunk as u32,
                        row,
                    };
                    (0, key, address)
                }));
            }
        }
        Ok(merge_in_order(found, false, usize::MAX))
    }

    /// Up to `limit` rows in key order (ascending NULLS LAST, or descending NULLS FIRST, as
    /// PostgreSQL orders), for `ORDER BY key [DESC] LIMIT k`. A composite index orders by all
    /// its columns, NULL parts first.
    pub fn ordered(&self, descending: bool, limit: Option<usize>) -> Result<Vec<RowAddress>> {
        self.require_ordered("an order")?;
        if self.columns > 1 {
            return self.prefix(&[], Bound::Unbounded, Bound::Unbounded, descending, limit);
        }
        let limit = limit.unwrap_or(usize::MAX);
        let null: &RowKey = &RowKey::Null;
        let (null_group, value_group) = if descending { (0, 1) } else { (1, 0) };
        let mut found: Vec<Found<'_>> = Vec::new();
        for (chunk, index) in self.chunks.iter().enumerate() {
            let at = move |row: u32| RowAddress {
                chunk: chunk as u32,
                row,
            };
            let values: Box<dyn Iterator<Item = (&RowKey, Rows<'_>)>> = if descending {
                Box::new(
                    index
                        .ordered_range(Bound::Unbounded, Bound::Unbounded)
                        .rev(),
                )
            } else {
                Box::new(index.ordered_range(Bound::Unbounded, Bound::Unbounded))
            };
            let values = values.flat_map(move |(key, rows)| {
                owned_rows(rows).map(move |row| (value_group, key, at(row)))
            });
            let nulls = owned_rows(index.nulls()).map(move |row| (null_group, null, at(row)));
            let in_order: Box<dyn Iterator<Item = Found<'_>>> = if descending {
                Box::new(nulls.chain(values))
            } else {
                Box::new(values.chain(nulls))
            };
            found.extend(in_order.take(limit));
        }
        Ok(merge_in_order(found, descending, limit))
    }

    /// Rows of a composite ordered index whose leading key parts equal `prefix`, whose next
    /// part lies within `low..high` (non-NULL bounds; both unbounded also admits NULLs), read in
    /// the order of that next part — ascending NULLS LAST or descending NULLS FIRST — keeping
    /// the first `limit`. With `prefix` as long as the key, the rows equal to it.
    pub fn prefix(
        &self,
        prefix: &[RowKey],
        low: Bound<RowKey>,
        high: Bound<RowKey>,
        descending: bool,
        limit: Option<usize>,
    ) -> Result<Vec<RowAddress>> {
        if prefix.len() > self.columns || self.columns < 2 || prefix.iter().any(RowKey::has_null) {
            return Err(StorageError::Internal(format!(
                "a prefix of {} parts on an index of {} columns",
                prefix.len(),
                self.columns
            )));
        }
        let limit = limit.unwrap_or(usize::MAX);
        if prefix.len() == self.columns {
            // The whole key: a point lookup, which a hash index serves too.
            let mut rows = self.lookup(&[composite(prefix, &[])]);
            rows.truncate(limit);
            return Ok(rows);
        }
        self.require_ordered("prefix scans")?;
        // Values of the next part, then (only when no bound excludes them) its NULLs, which
        // a composite key sorts first: they are read last ascending and first descending.
        let admits_nulls = matches!((&low, &high), (Bound::Unbounded, Bound::Unbounded));
        let start = match &low {
            Bound::Unbounded => Bound::Excluded(composite(prefix, &[RowKey::Null, after_all()])),
            Bound::Included(v) => Bound::Included(composite(prefix, std::slice::from_ref(v))),
            Bound::Excluded(v) => Bound::Excluded(composite(prefix, &[v.clone(), after_all()])),
        };
        let end = match &high {
            Bound::Unbounded => Bound::Excluded(composite(prefix, &[after_all()])),
            Bound::Included(v) => Bound::Excluded(composite(prefix, &[v.clone(), after_all()])),
            Bound::Excluded(v) => Bound::Excluded(composite(prefix, std::slice::from_ref(v))),
        };
        let null_start = Bound::Included(composite(prefix, &[RowKey::Null]));
        let null_end = Bound::Excluded(composite(prefix, &[RowKey::Null, after_all()]));
        let (null_group, value_group) = if descending { (0, 1) } else { (1, 0) };
        let mut found: Vec<Found<'_>> = Vec::new();
        for (chunk, index) in self.chunks.iter().enumerate() {
            let values = index.ordered_range(start.as_ref(), end.as_ref());
            let values: Box<dyn Iterator<Item = (&RowKey, Rows<'_>)>> = if descending {
                Box::new(values.rev())
            } else {
                Box::new(values)
            };
            let nulls: Box<dyn Iterator<Item = (&RowKey, Rows<'_>)>> = if admits_nulls {
                index.ordered_range(null_start.as_ref(), null_end.as_ref())
            } else {
                Box::new(std::iter::empty())
            };
            let values = values.map(|entry| (value_group, entry));
            let nulls = nulls.map(|entry| (null_group, entry));
            let in_order: Box<dyn Iterator<Item = (u8, (&RowKey, Rows<'_>))>> = if descending {
                Box::new(nulls.chain(values))
            } else {
                Box::new(values.chain(nulls))
            };
            let rows = in_order.flat_map(|(group, (key, rows))| {
                owned_rows(rows).map(move |row| {
                    let address = RowAddress {
                        chunk: chunk as u32,
                        row,
                    };
                    (group, key, address)
                })
            });
            found.extend(rows.take(limit));
        }
        Ok(merge_in_order(found, descending, limit))
    }
}

/// A version holding exactly the rows at `addresses`, in that order (what an index scan
/// reads).
pub fn gather(version: &TableVersion, addresses: &[RowAddress]) -> Result<TableVersion> {
    let chunks = version.chunks();
    let Some(first) = chunks.first() else {
        return Ok(TableVersion::from_chunks(version.version(), vec![]));
    };
    if addresses.is_empty() {
        return Ok(TableVersion::from_chunks(version.version(), vec![]));
    }
    let schema = first.batch().schema();
    let pairs: Vec<(usize, usize)> = addresses
        .iter()
        .map(|a| (a.chunk as usize, a.row as usize))
        .collect();
    let columns = (0..schema.fields().len())
        .map(|c| {
            let arrays: Vec<&dyn Array> = chunks
                .iter()
                .map(|k| k.batch().column(c).as_ref())
                .collect();
            interleave(&arrays, &pairs).map_err(StorageError::from)
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    let batch = RecordBatch::try_new(schema, columns)?;
    Ok(TableVersion::from_chunks(
        version.version(),
        vec![Chunk::new(batch)],
    ))
}

/// The index of `version` for `definition`, built on first use and cached on the version.
pub fn index_of(version: &TableVersion, definition: &IndexDefinition) -> Result<Arc<BuiltIndex>> {
    version.cached_index(definition)
}

/// `keys` without NULLs, sorted and deduplicated: what [`find_rows`] clips to a chunk's
/// key bounds.
pub(crate) fn sorted_keys<'a>(keys: impl IntoIterator<Item = &'a RowKey>) -> Vec<&'a RowKey> {
    let mut sorted: Vec<&RowKey> = keys.into_iter().filter(|k| !k.has_null()).collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
}

/// The rows `index` holds under one of `keys` (sorted, no NULLs; see [`sorted_keys`]), each
/// with the position of its key in `keys`, by row. Keys outside the index's bounds are not
/// looked up, so a chunk that holds none of a run of keys (ids of another chunk) costs two
/// binary searches; when the keys outnumber the index's entries the index is read instead.
pub(crate) fn find_rows(index: &ChunkIndex, keys: &[&RowKey]) -> Vec<(u32, usize)> {
    let Some((low, high)) = index.bounds() else {
        return Vec::new();
    };
    let start = keys.partition_point(|k| *k < low);
    let end = keys.partition_point(|k| *k <= high);
    let wanted = &keys[start..end.max(start)];
    let mut found: Vec<(u32, usize)> = Vec::new();
    if wanted.len() <= index.len() {
        for (i, key) in wanted.iter().enumerate() {
            found.extend(index.get(key).iter().map(|&row| (row, start + i)));
        }
    } else {
        for (key, rows) in index.keyed() {
            if let Ok(i) = wanted.binary_search(&key) {
                found.extend(rows.iter().map(|&row| (row, start + i)));
            }
        }
    }
    found.sort_unstable();
    found
}

/// The rows of `chunk` whose `column` holds one of `keys` (sorted, no NULLs), ascending,
/// through the chunk's cached index on the column.
pub(crate) fn rows_with_keys(chunk: &Chunk, column: usize, keys: &[&RowKey]) -> Result<Vec<u32>> {
    let index = Indexed::Columns(&[column]).of(chunk)?;
    Ok(find_rows(&index, keys)
        .into_iter()
        .map(|(row, _)| row)
        .collect())
}

/// For each of `keys` (values of `columns`, non-NULL) that some row of `version` holds, that
/// row's value of `key_column` (its primary key), through each chunk's cached hash index on
/// the columns: what `bulk_create(ignore_conflicts=)` and `update_conflicts=` need to know,
/// without reading the table.
pub fn key_owners(
    version: &TableVersion,
    columns: &[usize],
    key_column: usize,
    keys: &HashSet<RowKey>,
) -> Result<HashMap<RowKey, RowKey>> {
    let mut owners = HashMap::new();
    let wanted = sorted_keys(keys);
    if wanted.is_empty() {
        return Ok(owners);
    }
    let indexed = Indexed::Columns(columns);
    for chunk in version.chunks() {
        let found = find_rows(indexed.of(chunk)?.as_ref(), &wanted);
        if found.is_empty() {
            continue;
        }
        let rows = UInt32Array::from_iter_values(found.iter().map(|f| f.0));
        let owner_keys = crate::column_keys(&arrow::compute::take(
            chunk.batch().column(key_column),
            &rows,
            None,
        )?)?;
        for ((_, key), owner) in found.into_iter().zip(owner_keys) {
            owners.insert(wanted[key].clone(), owner);
        }
    }
    Ok(owners)
}

/// The rows of `version` whose `key_column` holds one of `keys`, through each chunk's key
/// index (chunks without any of them are not read).
pub fn rows_by_key(
    version: &TableVersion,
    key_column: usize,
    keys: &HashSet<RowKey>,
) -> Result<Vec<RecordBatch>> {
    let wanted = sorted_keys(keys);
    let mut out = Vec::new();
    for chunk in version.chunks() {
        let rows = rows_with_keys(chunk, key_column, &wanted)?;
        if rows.is_empty() {
            continue;
        }
        let indices = UInt32Array::from(rows);
        out.push(arrow::compute::take_record_batch(chunk.batch(), &indices)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;

    pub(super) fn version(values: &[Option<i64>]) -> TableVersion {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        let half = values.len() / 2;
        let chunk = |part: &[Option<i64>]| {
            Chunk::new(
                RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![Arc::new(part.iter().copied().collect::<Int64Array>())],
                )
                .unwrap(),
            )
        };
        TableVersion::from_chunks(1, vec![chunk(&values[..half]), chunk(&values[half..])])
    }

    pub(super) fn values(version: &TableVersion, addresses: &[RowAddress]) -> Vec<Option<i64>> {
        let gathered = gather(version, addresses).unwrap();
        gathered
            .chunks()
            .iter()
            .flat_map(|c| {
                c.batch()
                    .column(0)
                    .as_primitive::<Int64Type>()
                    .iter()
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    pub(super) fn definition(kind: IndexKind) -> IndexDefinition {
        IndexDefinition {
            name: "x_idx".into(),
            columns: vec![0],
            descending: vec![false],
            kind,
            condition: None,
            condition_expr: None,
        }
    }

    #[test]
    fn point_range_and_ordered_reads() {
        let v = version(&[Some(5), None, Some(1), Some(5), Some(9), Some(3)]);
        let hash = BuiltIndex::build(&definition(IndexKind::Hash), &v).unwrap();
        assert_eq!(
            values(&v, &hash.lookup(&[RowKey::Int(5), RowKey::Int(7)])),
            [Some(5), Some(5)]
        );
        assert!(hash.range(Bound::Unbounded, Bound::Unbounded).is_err());
        let ordered = BuiltIndex::build(&definition(IndexKind::Ordered), &v).unwrap();
        assert_eq!(ordered.len(), 6);
        let range = ordered
            .range(
                Bound::Included(RowKey::Int(3)),
                Bound::Excluded(RowKey::Int(9)),
            )
            .unwrap();
        assert_eq!(values(&v, &range), [Some(3), Some(5), Some(5)]);
        assert_eq!(
            values(&v, &ordered.ordered(false, Some(2)).unwrap()),
            [Some(1), Some(3)]
        );
        assert_eq!(
            values(&v, &ordered.ordered(true, Some(3)).unwrap()),
            [None, Some(9), Some(5)]
        );
        assert_eq!(
            values(&v, &ordered.ordered(false, None).unwrap()),
            [Some(1), Some(3), Some(5), Some(5), Some(9), None]
        );
    }

    #[test]
    fn partial_indexes_hold_only_accepted_rows() {
        let v = version(&[Some(1), Some(2), Some(3), Some(4)]);
        let mut partial = definition(IndexKind::Ordered);
        partial.condition = Some(Arc::new(|batch: &RecordBatch| {
            Ok(batch
                .column(0)
                .as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map(|v| v % 2 == 0))
                .collect())
        }));
        let index = BuiltIndex::build(&partial, &v).unwrap();
        assert_eq!(index.len(), 2);
        assert_eq!(
            values(&v, &index.ordered(false, None).unwrap()),
            [Some(2), Some(4)]
        );
    }

    /// Two chunks of `(a, b)` rows.
    pub(super) fn pairs(rows: &[(i64, Option<i64>)]) -> TableVersion {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::Int64, true),
        ]));
        let chunk = |part: &[(i64, Option<i64>)]| {
            Chunk::new(
                RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![
                        Arc::new(part.iter().map(|r| r.0).collect::<Int64Array>()),
                        Arc::new(part.iter().map(|r| r.1).collect::<Int64Array>()),
                    ],
                )
                .unwrap(),
            )
        };
        let half = rows.len() / 2;
        TableVersion::from_chunks(1, vec![chunk(&rows[..half]), chunk(&rows[half..])])
    }

    fn b_values(version: &TableVersion, addresses: &[RowAddress]) -> Vec<Option<i64>> {
        let gathered = gather(version, addresses).unwrap();
        gathered
            .chunks()
            .iter()
            .flat_map(|c| {
                c.batch()
                    .column(1)
                    .as_primitive::<Int64Type>()
                    .iter()
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn composite_prefix_scans_order_the_next_column_with_postgres_null_placement() {
        let v = pairs(&[
            (1, Some(5)),
            (2, Some(7)),
            (1, None),
            (1, Some(9)),
            (1, Some(2)),
            (2, None),
            (1, Some(7)),
            (0, Some(8)),
        ]);
        let definition = IndexDefinition {
            name: "ab".into(),
            columns: vec![0, 1],
            descending: vec![false, true],
            kind: IndexKind::Ordered,
            condition: None,
            condition_expr: None,
        };
        let index = BuiltIndex::build(&definition, &v).unwrap();
        let one = [RowKey::Int(1)];
        let scan = |low, high, descending, limit| {
            b_values(
                &v,
                &index.prefix(&one, low, high, descending, limit).unwrap(),
            )
        };
        use Bound::{Excluded, Included, Unbounded};
        assert_eq!(
            scan(Unbounded, Unbounded, true, None),
            [None, Some(9), Some(7), Some(5), Some(2)]
        );
        assert_eq!(scan(Unbounded, Unbounded, true, Some(2)), [None, Some(9)]);
        assert_eq!(
            scan(Unbounded, Unbounded, false, Some(3)),
            [Some(2), Some(5), Some(7)]
        );
        assert_eq!(
            scan(Unbounded, Unbounded, false, None),
            [Some(2), Some(5), Some(7), Some(9), None]
        );
        // Bounds on the next column exclude its NULLs.
        assert_eq!(
            scan(Excluded(RowKey::Int(5)), Unbounded, false, None),
            [Some(7), Some(9)]
        );
        assert_eq!(
            scan(Unbounded, Included(RowKey::Int(7)), true, None),
            [Some(7), Some(5), Some(2)]
        );
        assert!(scan(
            Included(RowKey::Int(8)),
            Excluded(RowKey::Int(8)),
            false,
            None
        )
        .is_empty());
        // The whole key is a point lookup; an empty prefix orders by the first column.
        let whole = index
            .prefix(
                &[RowKey::Int(2), RowKey::Int(7)],
                Unbounded,
                Unbounded,
                false,
                None,
            )
            .unwrap();
        assert_eq!(b_values(&v, &whole), [Some(7)]);
        assert_eq!(
            b_values(&v, &index.ordered(false, Some(1)).unwrap()),
            [Some(8)]
        );
        assert!(index
            .prefix(&[RowKey::Null], Unbounded, Unbounded, false, None)
            .is_err());
    }

    #[test]
    fn a_new_version_reuses_the_indexes_of_the_chunks_it_shares() {
        let v = version(&[Some(1), Some(2), Some(3), Some(4)]);
        let definition = definition(IndexKind::Ordered);
        let first = BuiltIndex::build(&definition, &v).unwrap();
        let fresh = Chunk::new(v.chunks()[1].batch().slice(0, 1));
        let next = TableVersion::from_chunks(2, vec![Arc::clone(&v.chunks()[0]), fresh]);
        let second = BuiltIndex::build(&definition, &next).unwrap();
        assert!(Arc::ptr_eq(
            &first.chunk_indexes()[0],
            &second.chunk_indexes()[0]
        ));
        assert!(!Arc::ptr_eq(
            &first.chunk_indexes()[1],
            &second.chunk_indexes()[1]
        ));
        assert_eq!(
            values(&next, &second.ordered(true, None).unwrap()),
            [Some(3), Some(2), Some(1)]
        );
    }
}
