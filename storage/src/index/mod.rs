//! Secondary indexes: [`IndexDefinition`] (what a table declares) and [`BuiltIndex`] (the
//! structure for one [`TableVersion`]).
//!
//! Two kinds: a hash index (point and IN lookups) and an ordered index (a `BTreeMap`, which also
//! serves ranges, `ORDER BY` in either direction and top-k). Keys may be composite, and a
//! partial index (`condition=`) holds only the rows its condition accepts.
//!
//! An index is built for a table version the first time a query asks for it and cached on
//! that version. Versions are immutable and every write path (insert, update, delete, bulk
//! operations, Arrow loads, commit, rollback) produces or discards whole versions, so an index
//! can never disagree with the rows it indexes: a rolled-back transaction's versions, and their
//! indexes, are simply never published. The price is a rebuild after each committed change
//! the first time an indexed query runs; incremental maintenance is future work.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::compute::interleave;

use crate::row_key::batch_keys;
use crate::table::RowPredicate;
use crate::{Chunk, Result, RowKey, StorageError, TableVersion};

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
    /// Per column: stored in descending order (`"-created_at"`).
    pub descending: Vec<bool>,
    /// Hash or ordered.
    pub kind: IndexKind,
    /// Only rows for which this is TRUE are indexed (a partial index).
    pub condition: Option<RowPredicate>,
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

/// An index over one table version.
#[derive(Debug)]
pub struct BuiltIndex {
    kind: IndexKind,
    hash: HashMap<RowKey, Vec<RowAddress>>,
    ordered: BTreeMap<RowKey, Vec<RowAddress>>,
    /// Rows whose key has a NULL part (never equal to anything; last in ascending order).
    nulls: Vec<RowAddress>,
    entries: usize,
}

impl BuiltIndex {
    /// Indexes every row of `version` that the definition's condition accepts.
    pub fn build(definition: &IndexDefinition, version: &TableVersion) -> Result<BuiltIndex> {
        let mut index = BuiltIndex {
            kind: definition.kind,
            hash: HashMap::new(),
            ordered: BTreeMap::new(),
            nulls: Vec::new(),
            entries: 0,
        };
        for (chunk_index, chunk) in version.chunks().iter().enumerate() {
            let keys = batch_keys(chunk.batch(), &definition.columns)?;
            let accepted = match &definition.condition {
                Some(condition) => Some(condition(chunk.batch())?),
                None => None,
            };
            for (row, key) in keys.into_iter().enumerate() {
                if let Some(accepted) = &accepted {
                    if !(accepted.is_valid(row) && accepted.value(row)) {
                        continue;
                    }
                }
                let address = RowAddress {
                    chunk: chunk_index as u32,
                    row: row as u32,
                };
                index.entries += 1;
                if key.has_null() {
                    index.nulls.push(address);
                    continue;
                }
                match index.kind {
                    IndexKind::Hash => index.hash.entry(key).or_default().push(address),
                    IndexKind::Ordered => index.ordered.entry(key).or_default().push(address),
                }
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

    /// The rows whose key equals one of `keys`.
    pub fn lookup(&self, keys: &[RowKey]) -> Vec<RowAddress> {
        let mut out = Vec::new();
        for key in keys {
            let found = match self.kind {
                IndexKind::Hash => self.hash.get(key),
                IndexKind::Ordered => self.ordered.get(key),
            };
            if let Some(found) = found {
                out.extend_from_slice(found);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The rows whose key lies within the bounds (ordered indexes only), in key order.
    pub fn range(&self, low: Bound<RowKey>, high: Bound<RowKey>) -> Result<Vec<RowAddress>> {
        if self.kind != IndexKind::Ordered {
            return Err(StorageError::Internal(
                "a hash index cannot serve ranges".into(),
            ));
        }
        if let (Bound::Included(l) | Bound::Excluded(l), Bound::Included(h) | Bound::Excluded(h)) =
            (&low, &high)
        {
            if l > h {
                return Ok(vec![]);
            }
        }
        if let (Bound::Excluded(l), Bound::Excluded(h)) = (&low, &high) {
            if l == h {
                return Ok(vec![]);
            }
        }
        Ok(self
            .ordered
            .range((low, high))
            .flat_map(|(_, rows)| rows.iter().copied())
            .collect())
    }

    /// Up to `limit` rows in key order (ascending NULLS LAST, or descending NULLS FIRST, as
    /// PostgreSQL orders), for `ORDER BY key [DESC] LIMIT k`.
    pub fn ordered(&self, descending: bool, limit: Option<usize>) -> Result<Vec<RowAddress>> {
        if self.kind != IndexKind::Ordered {
            return Err(StorageError::Internal("a hash index has no order".into()));
        }
        let limit = limit.unwrap_or(usize::MAX);
        let keyed = self.ordered.values().flat_map(|rows| rows.iter().copied());
        let out: Vec<RowAddress> = if descending {
            self.nulls
                .iter()
                .copied()
                .chain(
                    self.ordered
                        .values()
                        .rev()
                        .flat_map(|rows| rows.iter().copied()),
                )
                .take(limit)
                .collect()
        } else {
            keyed
                .chain(self.nulls.iter().copied())
                .take(limit)
                .collect()
        };
        Ok(out)
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

#[cfg(test)]
mod tests {
    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;

    fn version(values: &[Option<i64>]) -> TableVersion {
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

    fn values(version: &TableVersion, addresses: &[RowAddress]) -> Vec<Option<i64>> {
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

    fn definition(kind: IndexKind) -> IndexDefinition {
        IndexDefinition {
            name: "x_idx".into(),
            columns: vec![0],
            descending: vec![false],
            kind,
            condition: None,
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
}
