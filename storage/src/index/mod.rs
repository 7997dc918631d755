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
//! version's chunk indexes, shared, plus indexes of the few chunks the write created. A
//! single-row update on a 10M-row table rebuilds the index of one chunk (at most
//! [`CHUNK_ROWS`](crate::CHUNK_ROWS) rows), not of the table. Because a chunk's index describes
//! exactly that chunk's rows, it can never disagree with the data under any write path or
//! rollback: a rolled-back transaction's chunks, and their indexes, are simply never published.
//! Lookups probe each chunk's index and merge the answers in key order.
//!
//! The same per-chunk indexes serve the transaction layer: uniqueness checks probe a hash index
//! of each unique constraint, and rows are found by primary key through a hash index on the key
//! column, so neither scans the table.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow::compute::interleave;

use crate::row_key::batch_keys;
use crate::table::{RowPredicate, UniqueConstraint};
use crate::{Chunk, Result, RowKey, StorageError, TableVersion};

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
    /// Non-NULL values of some columns (primary, foreign and unique key look-ups).
    Columns(&'a [usize]),
}

impl Indexed<'_> {
    fn cache_key(&self) -> String {
        match self {
            // Index names are unique per table, and a chunk belongs to one table.
            Indexed::Declared(definition) => {
                format!("index:{:?}:{}", definition.kind, definition.name)
            }
            Indexed::Unique(constraint) => format!("unique:{}", constraint.name),
            Indexed::Columns(columns) => format!("columns:{columns:?}"),
        }
    }

    /// The index of `chunk`, from the chunk's cache or built now.
    pub(crate) fn of(&self, chunk: &Chunk) -> Result<Arc<ChunkIndex>> {
        chunk.cached_index(&self.cache_key(), |batch| self.build(batch))
    }

    fn build(&self, batch: &RecordBatch) -> Result<ChunkIndex> {
        match self {
            Indexed::Declared(definition) => ChunkIndex::build(
                batch,
                &definition.columns,
                definition.condition.as_ref(),
                definition.kind,
                true,
            ),
            Indexed::Unique(constraint) => ChunkIndex::build(
                batch,
                &constraint.columns,
                constraint.condition.as_ref(),
                IndexKind::Hash,
                false,
            ),
            Indexed::Columns(columns) => {
                ChunkIndex::build(batch, columns, None, IndexKind::Hash, false)
            }
        }
    }
}

/// The index of one chunk: row numbers within the chunk by key.
///
/// A single-column ordered index keeps NULL keys aside (they sort last ascending, as in
/// PostgreSQL); a composite ordered one keeps every key in its map, where a NULL part sorts
/// first, and prefix scans place NULLs of the scanned column themselves.
#[derive(Debug)]
pub struct ChunkIndex {
    kind: IndexKind,
    hash: HashMap<RowKey, Vec<u32>>,
    ordered: BTreeMap<RowKey, Vec<u32>>,
    nulls: Vec<u32>,
    entries: usize,
}

impl ChunkIndex {
    fn build(
        batch: &RecordBatch,
        columns: &[usize],
        condition: Option<&RowPredicate>,
        kind: IndexKind,
        keep_nulls: bool,
    ) -> Result<ChunkIndex> {
        let composite = columns.len() > 1;
        let mut index = ChunkIndex {
            kind,
            hash: HashMap::new(),
            ordered: BTreeMap::new(),
            nulls: Vec::new(),
            entries: 0,
        };
        let keys = batch_keys(batch, columns)?;
        let accepted: Option<BooleanArray> = match condition {
            Some(condition) => Some(condition(batch)?),
            None => None,
        };
        for (row, key) in keys.into_iter().enumerate() {
            if let Some(accepted) = &accepted {
                if !(accepted.is_valid(row) && accepted.value(row)) {
                    continue;
                }
            }
            let has_null = key.has_null();
            if has_null && !keep_nulls {
                continue;
            }
            index.entries += 1;
            let row = row as u32;
            match kind {
                IndexKind::Ordered if composite => index.ordered.entry(key).or_default().push(row),
                _ if has_null => index.nulls.push(row),
                IndexKind::Hash => index.hash.entry(key).or_default().push(row),
                IndexKind::Ordered => index.ordered.entry(key).or_default().push(row),
            }
        }
        Ok(index)
    }

    /// Rows indexed (including NULL keys).
    pub fn len(&self) -> usize {
        self.entries
    }

    /// True when no row is indexed.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The rows whose key equals `key` (never a NULL key).
    pub fn get(&self, key: &RowKey) -> &[u32] {
        let found = match self.kind {
            IndexKind::Hash => self.hash.get(key),
            IndexKind::Ordered => self.ordered.get(key),
        };
        found.map_or(&[], Vec::as_slice)
    }

    /// Every non-NULL key with its rows, in no particular order.
    pub(crate) fn keyed(&self) -> Box<dyn Iterator<Item = (&RowKey, &Vec<u32>)> + '_> {
        match self.kind {
            IndexKind::Hash => Box::new(self.hash.iter()),
            IndexKind::Ordered => Box::new(self.ordered.iter()),
        }
    }
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
    map: &'a BTreeMap<RowKey, Vec<u32>>,
    low: Bound<&RowKey>,
    high: Bound<&RowKey>,
) -> Box<dyn DoubleEndedIterator<Item = (&'a RowKey, &'a Vec<u32>)> + 'a> {
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
        let mut out = Vec::new();
        for (chunk, index) in self.chunks.iter().enumerate() {
            for key in keys {
                out.extend(index.get(key).iter().map(|&row| RowAddress {
                    chunk: chunk as u32,
                    row,
                }));
            }
        }
        out.sort_unstable();
        out.dedup();
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
            for (key, rows) in checked_range(&index.ordered, low.as_ref(), high.as_ref()) {
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
        let null = RowKey::Null;
        let (null_group, value_group) = if descending { (0, 1) } else { (1, 0) };
        let mut found: Vec<Found<'_>> = Vec::new();
        for (chunk, index) in self.chunks.iter().enumerate() {
            let at = move |row: u32| RowAddress {
                chunk: chunk as u32,
                row,
            };
            let values: Box<dyn Iterator<Item = (&RowKey, &Vec<u32>)>> = if descending {
                Box::new(index.ordered.iter().rev())
            } else {
                Box::new(index.ordered.iter())
            };
            let values = values.flat_map(move |(key, rows)| {
                rows.iter().map(move |&row| (value_group, key, at(row)))
            });
            let nulls = index.nulls.iter().map(|&row| (null_group, &null, at(row)));
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
            let values = checked_range(&index.ordered, start.as_ref(), end.as_ref());
            let values: Box<dyn Iterator<Item = (&RowKey, &Vec<u32>)>> = if descending {
                Box::new(values.rev())
            } else {
                Box::new(values)
            };
            let nulls: Box<dyn Iterator<Item = (&RowKey, &Vec<u32>)>> = if admits_nulls {
                checked_range(&index.ordered, null_start.as_ref(), null_end.as_ref())
            } else {
                Box::new(std::iter::empty())
            };
            let values = values.map(|entry| (value_group, entry));
            let nulls = nulls.map(|entry| (null_group, entry));
            let in_order: Box<dyn Iterator<Item = (u8, (&RowKey, &Vec<u32>))>> = if descending {
                Box::new(nulls.chain(values))
            } else {
                Box::new(values.chain(nulls))
            };
            let rows = in_order.flat_map(|(group, (key, rows))| {
                rows.iter().map(move |&row| {
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

/// The rows of `chunk` whose `column` holds one of `keys` (non-NULL), found through the
/// chunk's cached index on the column, or by reading the column when `keys` outnumber the
/// chunk's rows.
pub(crate) fn rows_with_keys(
    chunk: &Chunk,
    column: usize,
    keys: &HashSet<&RowKey>,
) -> Result<Vec<u32>> {
    let index = Indexed::Columns(&[column]).of(chunk)?;
    let mut rows: Vec<u32> = if keys.len() <= index.len() {
        keys.iter()
            .flat_map(|k| index.get(k).iter().copied())
            .collect()
    } else {
        index
            .keyed()
            .filter(|(k, _)| keys.contains(k))
            .flat_map(|(_, rows)| rows.iter().copied())
            .collect()
    };
    rows.sort_unstable();
    Ok(rows)
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
    if keys.is_empty() {
        return Ok(owners);
    }
    let indexed = Indexed::Columns(columns);
    for chunk in version.chunks() {
        let index = indexed.of(chunk)?;
        let found: Vec<(&RowKey, u32)> = if keys.len() <= index.len() {
            keys.iter()
                .flat_map(|k| index.get(k).iter().map(move |&row| (k, row)))
                .collect()
        } else {
            index
                .keyed()
                .filter(|(k, _)| keys.contains(*k))
                .flat_map(|(k, rows)| rows.iter().map(move |&row| (k, row)))
                .collect()
        };
        if found.is_empty() {
            continue;
        }
        let rows = arrow::array::UInt32Array::from_iter_values(found.iter().map(|f| f.1));
        let owner_keys = crate::column_keys(&arrow::compute::take(
            chunk.batch().column(key_column),
            &rows,
            None,
        )?)?;
        for ((key, _), owner) in found.into_iter().zip(owner_keys) {
            owners.insert(key.clone(), owner);
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
    let wanted: HashSet<&RowKey> = keys.iter().collect();
    let mut out = Vec::new();
    for chunk in version.chunks() {
        let rows = rows_with_keys(chunk, key_column, &wanted)?;
        if rows.is_empty() {
            continue;
        }
        let indices = arrow::array::UInt32Array::from(rows);
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
    fn pairs(rows: &[(i64, Option<i64>)]) -> TableVersion {
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
