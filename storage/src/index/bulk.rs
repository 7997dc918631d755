//! Building a chunk index over a whole chunk at once.
//!
//! Inserting a chunk's rows one by one into a growing hash map or B-tree costs a rehash (or a
//! node split) every so often, a key compared and its bounds updated per row, and for text a
//! string allocated per row. A chunk is indexed in one go instead: the accepted rows' keys,
//! read column-at-a-time as plain integers or borrowed strings where the key is a single
//! such column, are sorted with their row numbers (already sorted, as automatic ids are, costs
//! one pass), equal keys are grouped into one row list, and the map is built from the groups:
//! a hash map sized once, or a B-tree bulk-loaded from its sorted entries. Only one `RowKey`
//! is made per distinct key, and the bounds are the first and last group.
//!
//! The result is exactly what inserting every row through `Entries::insert` gives (the
//! tests compare the two on random chunks); patches still use `insert`, for their few rows.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::datatypes::Int64Type;

use super::{kept_aside, Entries, IndexKind, IndexSpec, RowList};
use crate::row_key::{batch_keys, int_keys, text_keys};
use crate::{Result, RowKey};

/// The entries of every row of `batch` that `spec` accepts.
pub(super) fn entries(spec: &IndexSpec, batch: &RecordBatch) -> Result<Entries> {
    let accepted: Option<BooleanArray> = match &spec.condition {
        Some(condition) => Some(condition(batch)?),
        None => None,
    };
    let held = |row: usize| {
        accepted
            .as_ref()
            .is_none_or(|a| a.is_valid(row) && a.value(row))
    };
    let mut nulls: Vec<u32> = Vec::new();
    let groups = match spec.columns.as_slice() {
        [column] => {
            let array = batch.column(*column);
            if let Some(ints) = int_keys(array)? {
                let values = ints.as_primitive::<Int64Type>();
                let pairs = column_pairs(values, &held, &mut nulls, |row| values.value(row));
                grouped(pairs, RowKey::Int)
            } else if let Some(text) = text_keys(array)? {
                let values = text.as_string::<i32>();
                let pairs = column_pairs(values, &held, &mut nulls, |row| values.value(row));
                grouped(pairs, |text: &str| RowKey::Text(text.into()))
            } else {
                keyed_groups(spec, batch, &held, &mut nulls)?
            }
        }
        _ => keyed_groups(spec, batch, &held, &mut nulls)?,
    };
    Ok(from_groups(spec.kind, groups, nulls))
}

/// The `(value, row)` pairs of the rows of one key column that `held` accepts; rows whose
/// value is NULL go to `nulls` instead.
fn column_pairs<A: Array, K>(
    column: &A,
    held: &dyn Fn(usize) -> bool,
    nulls: &mut Vec<u32>,
    value: impl Fn(usize) -> K,
) -> Vec<(K, u32)> {
    let mut pairs = Vec::with_capacity(column.len());
    for row in (0..column.len()).filter(|&row| held(row)) {
        if column.is_null(row) {
            nulls.push(row as u32);
        } else {
            pairs.push((value(row), row as u32));
        }
    }
    pairs
}

/// The groups of a key that is neither one integer nor one text column (floats, decimals,
/// composite keys), from its `RowKey`s.
fn keyed_groups(
    spec: &IndexSpec,
    batch: &RecordBatch,
    held: &dyn Fn(usize) -> bool,
    nulls: &mut Vec<u32>,
) -> Result<Vec<(RowKey, RowList)>> {
    let composite = spec.columns.len() > 1;
    let keys = batch_keys(batch, &spec.columns)?;
    let mut pairs = Vec::with_capacity(keys.len());
    for (row, key) in keys.into_iter().enumerate() {
        if !held(row) {
            continue;
        }
        if kept_aside(spec.kind, composite, &key) {
            nulls.push(row as u32);
        } else {
            pairs.push((key, row as u32));
        }
    }
    Ok(grouped(pairs, |key| key))
}

/// `(key, row)` pairs sorted by key then row, one entry per distinct key with its rows
/// ascending.
fn grouped<K: Ord>(mut pairs: Vec<(K, u32)>, key: impl Fn(K) -> RowKey) -> Vec<(RowKey, RowList)> {
    // Rows are distinct, so an unstable sort of the pairs puts each key's rows in order.
    if !pairs.is_sorted() {
        pairs.sort_unstable();
    }
    let mut groups = Vec::with_capacity(pairs.len());
    let mut current: Option<(K, RowList)> = None;
    for (value, row) in pairs {
        match &mut current {
            Some((same, rows)) if *same == value => rows.push(row),
            _ => {
                if let Some((done, rows)) = current.replace((value, RowList::One(row))) {
                    groups.push((key(done), rows));
                }
            }
        }
    }
    if let Some((done, rows)) = current {
        groups.push((key(done), rows));
    }
    groups
}

/// The entries of `groups` (distinct keys in ascending order) and the rows kept aside.
fn from_groups(kind: IndexKind, groups: Vec<(RowKey, RowList)>, nulls: Vec<u32>) -> Entries {
    let entries = nulls.len()
        + groups
            .iter()
            .map(|(_, rows)| rows.as_slice().len())
            .sum::<usize>();
    // A composite ordered index keeps keys with a NULL part in its map; they bound nothing.
    let low = groups.iter().find(|(key, _)| !key.has_null());
    let high = groups.iter().rfind(|(key, _)| !key.has_null());
    let bounds = low
        .zip(high)
        .map(|((low, _), (high, _))| (low.clone(), high.clone()));
    let mut built = Entries {
        nulls,
        entries,
        bounds,
        ..Entries::default()
    };
    match kind {
        IndexKind::Hash => {
            built.hash.reserve(groups.len());
            built.hash.extend(groups);
        }
        // Collecting sorted, distinct keys bulk-loads the tree without a split.
        IndexKind::Ordered => built.ordered = groups.into_iter().collect::<BTreeMap<_, _>>(),
    }
    built
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use proptest::prelude::*;

    use super::super::{ChunkIndex, IndexKind, IndexSpec};
    use crate::row_key::column_keys;
    use crate::{RowKey, RowPredicate};

    use super::*;

    /// A chunk of `(i, t, f)`: integers, text and floats, each with NULLs.
    fn chunk(rows: &[(Option<i64>, Option<String>, Option<f64>)]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int64, true),
            Field::new("t", DataType::Utf8, true),
            Field::new("f", DataType::Float64, true),
        ]));
        let ints: Int64Array = rows.iter().map(|r| r.0).collect();
        let texts: StringArray = rows.iter().map(|r| r.1.as_deref()).collect();
        let floats: Float64Array = rows.iter().map(|r| r.2).collect();
        let columns: Vec<ArrayRef> = vec![Arc::new(ints), Arc::new(texts), Arc::new(floats)];
        RecordBatch::try_new(schema, columns).unwrap()
    }

    /// Accepts rows whose integer is even (NULL: not accepted).
    fn even() -> RowPredicate {
        Arc::new(|batch: &RecordBatch| {
            Ok(batch
                .column(0)
                .as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map(|v| v % 2 == 0))
                .collect())
        })
    }

    fn specs() -> Vec<IndexSpec> {
        let mut specs = Vec::new();
        for columns in [vec![0], vec![1], vec![2], vec![0, 1], vec![1, 2, 0]] {
            for kind in [IndexKind::Hash, IndexKind::Ordered] {
                for condition in [None, Some(even())] {
                    specs.push(IndexSpec {
                        columns: columns.clone(),
                        condition,
                        kind,
                    });
                }
            }
        }
        specs
    }

    /// The index's content in key order: each key with its rows, then the rows kept aside.
    fn content(index: &ChunkIndex) -> (Vec<(RowKey, Vec<u32>)>, Vec<u32>, usize) {
        let mut keyed: Vec<(RowKey, Vec<u32>)> = index
            .keyed()
            .map(|(key, rows)| (key.clone(), rows.into_owned()))
            .collect();
        keyed.sort();
        (keyed, index.nulls().into_owned(), index.len())
    }

    /// What the index of `spec` must hold, from a `BTreeMap` of every accepted row's key.
    fn reference(spec: &IndexSpec, batch: &RecordBatch) -> (Vec<(RowKey, Vec<u32>)>, Vec<u32>) {
        let per_column: Vec<Vec<RowKey>> = spec
            .columns
            .iter()
            .map(|&c| column_keys(batch.column(c)).unwrap())
            .collect();
        let accepted = spec.condition.as_ref().map(|c| c(batch).unwrap());
        let composite = spec.columns.len() > 1;
        let mut map: BTreeMap<RowKey, Vec<u32>> = BTreeMap::new();
        let mut nulls = Vec::new();
        for row in 0..batch.num_rows() {
            if accepted
                .as_ref()
                .is_some_and(|a| a.is_null(row) || !a.value(row))
            {
                continue;
            }
            let key = if composite {
                RowKey::Composite(per_column.iter().map(|c| c[row].clone()).collect())
            } else {
                per_column[0][row].clone()
            };
            if kept_aside(spec.kind, composite, &key) {
                nulls.push(row as u32);
            } else {
                map.entry(key).or_default().push(row as u32);
            }
        }
        (map.into_iter().collect(), nulls)
    }

    fn row() -> impl Strategy<Value = (Option<i64>, Option<String>, Option<f64>)> {
        (
            proptest::option::weighted(0.9, -4i64..6),
            proptest::option::weighted(0.9, "[ab]{0,2}"),
            proptest::option::weighted(
                0.9,
                prop_oneof![Just(0.0), Just(-0.0), Just(f64::NAN), Just(1.5), Just(-2.0)],
            ),
        )
    }

    proptest! {
        /// The bulk build equals the row-by-row build and a `BTreeMap` of the rows, for every
        /// key shape, both kinds, partial or not, NULLs and duplicates included; and deleting
        /// rows from a bulk-built index equals building the remaining rows' index.
        #[test]
        fn bulk_builds_equal_row_by_row_builds(
            rows in proptest::collection::vec(row(), 0..80),
            sorted in any::<bool>(),
            deleted in proptest::collection::btree_set(0u32..80, 0..10),
        ) {
            let mut rows = rows;
            if sorted {
                // Ascending keys: the already-sorted path.
                rows.sort_by_key(|r| r.0);
            }
            let batch = chunk(&rows);
            let deleted: Vec<u32> =
                deleted.into_iter().filter(|&r| (r as usize) < rows.len()).collect();
            let remaining: Vec<_> = rows
                .iter()
                .enumerate()
                .filter(|(i, _)| deleted.binary_search(&(*i as u32)).is_err())
                .map(|(_, r)| r.clone())
                .collect();
            for spec in specs() {
                let label = format!("columns {:?} {:?} partial {}", spec.columns, spec.kind,
                    spec.condition.is_some());
                let bulk = ChunkIndex::build(spec.clone(), &batch).unwrap();
                let one_by_one = ChunkIndex::build_row_by_row(spec.clone(), &batch).unwrap();
                prop_assert_eq!(&bulk.base.hash, &one_by_one.base.hash, "{}", label);
                prop_assert_eq!(&bulk.base.ordered, &one_by_one.base.ordered, "{}", label);
                prop_assert_eq!(&bulk.base.bounds, &one_by_one.base.bounds, "{}", label);
                let (keyed, nulls, len) = content(&bulk);
                let (expected_keyed, expected_nulls) = reference(&spec, &batch);
                prop_assert_eq!(&keyed, &expected_keyed, "{}", label);
                prop_assert_eq!(&nulls, &expected_nulls, "{}", label);
                prop_assert_eq!(
                    len,
                    expected_nulls.len() + expected_keyed.iter().map(|k| k.1.len()).sum::<usize>()
                );
                for (key, rows) in &expected_keyed {
                    if !key.has_null() {
                        prop_assert_eq!(bulk.get(key).to_vec(), rows.clone(), "{}", label);
                    }
                }
                if deleted.len() < rows.len() {
                    let renumbered = bulk.without_rows(&deleted).unwrap();
                    let rebuilt = ChunkIndex::build(spec.clone(), &chunk(&remaining)).unwrap();
                    prop_assert_eq!(content(&renumbered), content(&rebuilt), "{}", label);
                }
            }
        }
    }
}
