//! The rows a [`PartitionFetch`] keeps: each partition's rows at positions `skip..rows` of the
//! window order, found by *selection* instead of a sort.
//!
//! "Top k per group" (`row_number() <= k`) and "the players ranked around one player"
//! (`rank() BETWEEN lo AND hi`) read a few rows of a large ordering. Sorting every partition
//! costs `O(n log n)`; `select_nth_unstable` finds the key at one position in `O(n)`, and a
//! linear pass then keeps the rows whose keys lie between the keys at the first and last
//! wanted positions. For a range that starts past the first row, a partition's ranks are then
//! computed among the kept rows alone and shifted by the number of rows strictly before the
//! first kept key (its *offset*): a kept row's `rank()` is one more than the rows with better
//! keys, and its `row_number()` one more than the rows before it in (key, input order) — and
//! every row better than or tied with a kept row is either kept or counted in the offset,
//! because the whole peer group of the first wanted position is kept.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions};
use arrow::compute::SortOptions;
use arrow::row::{RowConverter, Rows, SortField};
use rayon::prelude::*;

use super::{window_keys, PhysicalWindowExpr};
use crate::error::Result;
use crate::logical_plan::PartitionFetch;
use crate::physical_expr::PhysicalExprRef;
use crate::physical_plan::sort::sql_ordered_float_key;

/// The rows of a partition fetch, in input order, with what to add to their ranks.
pub(super) struct FetchedRows {
    pub batch: RecordBatch,
    /// Per row of `batch`, the rows of its partition skipped before it; `None` when nothing
    /// was skipped.
    pub offsets: Option<Vec<i64>>,
}

/// The rows of `batches` among positions `fetch.skip..fetch.rows` of their partition in
/// `expr`'s order (with the peers of the positions' ends as described in the module
/// documentation), in input order. Ties in `row_number` order go to the earlier input row, as
/// in the full sort.
pub(super) fn fetch_per_partition(
    schema: &arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
    expr: &PhysicalWindowExpr,
    fetch: PartitionFetch,
) -> Result<FetchedRows> {
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if rows == 0 {
        return Ok(FetchedRows {
            batch: RecordBatch::new_empty(Arc::clone(schema)),
            offsets: None,
        });
    }
    // Only the key columns are concatenated; the kept rows are gathered at the end.
    let evaluate = |e: &PhysicalExprRef| -> Result<ArrayRef> {
        let parts = batches
            .iter()
            .map(|b| e.evaluate(b)?.into_array(b.num_rows()))
            .collect::<Result<Vec<_>>>()?;
        let whole = match parts.as_slice() {
            [one] => Arc::clone(one),
            _ => {
                let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
                arrow::compute::concat(&refs)?
            }
        };
        Ok(sql_ordered_float_key(&whole))
    };
    let (partition_keys, order_keys) = window_keys(expr, evaluate)?;
    if let ([], [key]) = (partition_keys.as_slice(), order_keys.as_slice()) {
        if let Some(keys) = normalized_keys(key, expr.order_by[0].options)? {
            let (members, offset) = select_by_normalized_keys(&keys, fetch);
            let kept = members.into_iter().map(|m| (m, offset)).collect();
            return gather(schema, batches, kept, fetch);
        }
    }
    if let ([partition], [key]) = (partition_keys.as_slice(), order_keys.as_slice()) {
        let partition = normalized_keys(partition, SortOptions::default())?;
        let order = normalized_keys(key, expr.order_by[0].options)?;
        if let (Some(partition), Some(order)) = (partition, order) {
            let kept = select_in_normalized_partitions(&partition, &order, fetch);
            return gather(schema, batches, kept, fetch);
        }
    }
    let encode = |keys: &[ArrayRef], options: Vec<SortOptions>| -> Result<Option<Rows>> {
        if keys.is_empty() {
            return Ok(None);
        }
        let fields = keys
            .iter()
            .zip(options)
            .map(|(k, o)| SortField::new_with_options(k.data_type().clone(), o))
            .collect();
        Ok(Some(RowConverter::new(fields)?.convert_columns(keys)?))
    };
    let partitions = encode(
        &partition_keys,
        vec![SortOptions::default(); partition_keys.len()],
    )?;
    let order = encode(
        &order_keys,
        expr.order_by.iter().map(|k| k.options).collect(),
    )?;
    let groups: Vec<Vec<u32>> = match &partitions {
        Some(partitions) => {
            let mut groups: hashbrown::HashMap<&[u8], Vec<u32>> = hashbrown::HashMap::new();
            for i in 0..rows {
                groups
                    .entry(partitions.row(i).data())
                    .or_default()
                    .push(i as u32);
            }
            groups.into_values().collect()
        }
        None => vec![(0..rows as u32).collect()],
    };
    let selected: Vec<(Vec<u32>, i64)> = groups
        .into_par_iter()
        .map(|members| match &order {
            Some(order) if fetch.skip > 0 => select_range(members, order, fetch),
            _ => (select_first(members, order.as_ref(), fetch), 0),
        })
        .collect();
    let kept: Vec<(u32, i64)> = selected
        .into_iter()
        .flat_map(|(members, offset)| members.into_iter().map(move |m| (m, offset)))
        .collect();
    gather(schema, batches, kept, fetch)
}

/// The `kept` rows of `batches` (row number, offset) as one batch in input order.
fn gather(
    schema: &arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
    mut kept: Vec<(u32, i64)>,
    fetch: PartitionFetch,
) -> Result<FetchedRows> {
    kept.sort_unstable();
    // Row number → (batch, row within it).
    let mut starts = Vec::with_capacity(batches.len());
    let mut offset = 0;
    for b in batches {
        starts.push(offset);
        offset += b.num_rows();
    }
    let locations: Vec<(usize, usize)> = kept
        .iter()
        .map(|&(row, _)| {
            let row = row as usize;
            let batch = starts.partition_point(|&start| start <= row) - 1;
            (batch, row - starts[batch])
        })
        .collect();
    let columns = (0..schema.fields().len())
        .map(|c| {
            let sources: Vec<&dyn Array> = batches.iter().map(|b| b.column(c).as_ref()).collect();
            Ok(arrow::compute::interleave(&sources, &locations)?)
        })
        .collect::<Result<Vec<_>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(locations.len()));
    let batch = RecordBatch::try_new_with_options(Arc::clone(schema), columns, &options)?;
    let offsets = (fetch.skip > 0).then(|| kept.iter().map(|&(_, offset)| offset).collect());
    Ok(FetchedRows { batch, offsets })
}

/// A partition's first `fetch.rows` rows (plus the peers of the last with ties), in any
/// order. Without an ORDER BY the first rows are the first in input order and every row is
/// a peer.
fn select_first(mut members: Vec<u32>, order: Option<&Rows>, fetch: PartitionFetch) -> Vec<u32> {
    if fetch.rows == 0 {
        return Vec::new();
    }
    if members.len() <= fetch.rows {
        return members;
    }
    let compare = |a: &u32, b: &u32| match order {
        Some(o) => o.row(*a as usize).cmp(&o.row(*b as usize)).then(a.cmp(b)),
        None => a.cmp(b),
    };
    members.select_nth_unstable_by(fetch.rows - 1, compare);
    let last = members[fetch.rows - 1];
    match (order, fetch.with_ties) {
        (Some(o), true) => {
            let bound = o.row(last as usize);
            members.retain(|&m| o.row(m as usize) <= bound);
        }
        (None, true) => {}
        _ => members.truncate(fetch.rows),
    }
    members
}

/// A partition's rows whose keys lie between the keys at 0-based positions `fetch.skip` and
/// `fetch.rows - 1` (all of both peer groups), in any order, and how many rows have a key
/// before the first of them.
fn select_range(mut members: Vec<u32>, order: &Rows, fetch: PartitionFetch) -> (Vec<u32>, i64) {
    if fetch.skip >= members.len() || fetch.rows <= fetch.skip {
        return (Vec::new(), 0);
    }
    let key = |m: u32| order.row(m as usize);
    let by_key = |a: &u32, b: &u32| key(*a).cmp(&key(*b));
    members.select_nth_unstable_by(fetch.skip, by_key);
    let (before, from_low) = members.split_at_mut(fetch.skip);
    let low = key(from_low[0]);
    // `from_low[0]` holds position `skip`; the last wanted position is `rows - 1`.
    let last = fetch.rows - 1 - fetch.skip;
    let high = if last == 0 {
        Some(low)
    } else if last < from_low.len() {
        from_low[1..].select_nth_unstable_by(last - 1, by_key);
        Some(key(from_low[last]))
    } else {
        None
    };
    let mut skipped = 0i64;
    let mut kept = Vec::new();
    for &m in before.iter() {
        if key(m) < low {
            skipped += 1;
        } else {
            kept.push(m);
        }
    }
    kept.extend(
        from_low
            .iter()
            .copied()
            .filter(|&m| high.as_ref().is_none_or(|high| key(m) <= *high)),
    );
    (kept, skipped)
}

/// One order key as integers that compare as the key does under `options` (PostgreSQL's
/// order, NULLs placed as asked), for the common one-key window: selecting among plain
/// integers is several times cheaper than comparing encoded rows. `None` for key types that
/// do not fit (strings, decimals, wide types): those take the encoded-row path.
fn normalized_keys(key: &ArrayRef, options: SortOptions) -> Result<Option<Vec<u128>>> {
    use arrow::datatypes::{DataType, Float64Type, Int64Type, UInt64Type};
    let values: Vec<Option<u64>> = match key.data_type() {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(_, _)
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Duration(_) => {
            let as_int = arrow::compute::cast(key, &DataType::Int64)?;
            as_int
                .as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map(|v| (v as u64) ^ (1 << 63)))
                .collect()
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            let as_int = arrow::compute::cast(key, &DataType::UInt64)?;
            as_int.as_primitive::<UInt64Type>().iter().collect()
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            // Arrow's total order (as the sort path uses): flip a negative's bits, set a
            // positive's sign bit; `sql_ordered_float_key` has already made -0.0 equal 0.0 and NaN one value.
            let as_float = arrow::compute::cast(key, &DataType::Float64)?;
            as_float
                .as_primitive::<Float64Type>()
                .iter()
                .map(|v| {
                    v.map(|v| {
                        let bits = v.to_bits();
                        if bits >> 63 == 1 {
                            !bits
                        } else {
                            bits | (1 << 63)
                        }
                    })
                })
                .collect()
        }
        _ => return Ok(None),
    };
    let null = if options.nulls_first { 0 } else { u128::MAX };
    Ok(Some(
        values
            .into_iter()
            .map(|v| match v {
                Some(v) if options.descending => u128::from(!v) + 1,
                Some(v) => u128::from(v) + 1,
                None => null,
            })
            .collect(),
    ))
}

/// The rows kept in each partition (row `i` is in partition `partitions[i]`, with order key
/// `order[i]`; both normalized), with the rows skipped before them in its partition. One
/// integer partition key and one integer order key are the common leaderboard window
/// (`PARTITION BY group ORDER BY score`): grouping and selecting plain integers avoids
/// comparing encoded rows byte by byte.
fn select_in_normalized_partitions(
    partitions: &[u128],
    order: &[u128],
    fetch: PartitionFetch,
) -> Vec<(u32, i64)> {
    let mut groups: hashbrown::HashMap<u128, Vec<u32>> = hashbrown::HashMap::new();
    for (row, &partition) in partitions.iter().enumerate() {
        groups.entry(partition).or_default().push(row as u32);
    }
    let groups: Vec<Vec<u32>> = groups.into_values().collect();
    let selected: Vec<Vec<(u32, i64)>> = groups
        .into_par_iter()
        .map(|members| {
            let keys: Vec<u128> = members.iter().map(|&m| order[m as usize]).collect();
            let (chosen, offset) = select_by_normalized_keys(&keys, fetch);
            chosen
                .into_iter()
                .map(|position| (members[position as usize], offset))
                .collect()
        })
        .collect();
    selected.into_iter().flatten().collect()
}

/// [`select_first`] and [`select_range`] over one partition's normalized keys (row `i` has
/// key `keys[i]`): the kept rows in input order and the rows skipped before them.
fn select_by_normalized_keys(keys: &[u128], fetch: PartitionFetch) -> (Vec<u32>, i64) {
    let rows = keys.len();
    if fetch.rows == 0 || fetch.skip >= rows || fetch.rows <= fetch.skip {
        return (Vec::new(), 0);
    }
    let mut scratch = keys.to_vec();
    let (_, low, after_low) = scratch.select_nth_unstable(fetch.skip);
    let low = *low;
    let last = fetch.rows.min(rows) - 1 - fetch.skip;
    let high = if last == 0 {
        low
    } else {
        *after_low.select_nth_unstable(last - 1).1
    };
    drop(scratch);
    let mut kept = Vec::new();
    if fetch.skip == 0 && !fetch.with_ties {
        // Exactly `rows` rows: ties with the last go to the earlier input rows.
        let mut ties = fetch.rows - keys.iter().filter(|&&k| k < high).count();
        for (i, &k) in keys.iter().enumerate() {
            if k < high || (k == high && ties > 0) {
                ties -= usize::from(k == high);
                kept.push(i as u32);
            }
        }
        return (kept, 0);
    }
    let mut skipped = 0i64;
    for (i, &k) in keys.iter().enumerate() {
        if k < low {
            skipped += 1;
        } else if k <= high {
            kept.push(i as u32);
        }
    }
    (kept, skipped)
}

#[cfg(test)]
mod tests {
    use arrow::array::{Date32Array, Float64Array, Int64Array, UInt64Array};

    use super::*;

    /// One integer partition key with one float order key: the normalized path keeps the rows
    /// the encoded-row path keeps, with the same offsets, for every fetch shape (NULL
    /// partitions and order keys, ties, skips past a partition's end).
    #[test]
    fn normalized_partitions_keep_what_encoded_rows_keep() {
        let rows = 500;
        let partition_key: ArrayRef = Arc::new(Int64Array::from_iter(
            (0..rows).map(|i: i64| (i % 13 != 0).then_some((i * 7919) % 11 - 5)),
        ));
        let order_key: ArrayRef =
            Arc::new(Float64Array::from_iter((0..rows).map(|i: i64| {
                (i % 17 != 0).then_some(((i * 104_729) % 9) as f64 - 4.0)
            })));
        for options in [
            SortOptions::default(),
            SortOptions {
                descending: true,
                nulls_first: false,
            },
        ] {
            let encoded = RowConverter::new(vec![SortField::new_with_options(
                arrow::datatypes::DataType::Float64,
                options,
            )])
            .unwrap()
            .convert_columns(&[Arc::clone(&order_key)])
            .unwrap();
            let partitions = normalized_keys(&partition_key, SortOptions::default())
                .unwrap()
                .unwrap();
            let order = normalized_keys(&order_key, options).unwrap().unwrap();
            for (skip, fetched, with_ties) in [
                (0, 1, false),
                (0, 2, false),
                (0, 2, true),
                (1, 3, true),
                (3, 7, false),
                (40, 60, true),
            ] {
                let fetch = PartitionFetch {
                    skip,
                    rows: fetched,
                    with_ties,
                };
                let mut got = select_in_normalized_partitions(&partitions, &order, fetch);
                got.sort_unstable();
                let mut groups: std::collections::BTreeMap<Option<i64>, Vec<u32>> =
                    Default::default();
                let ints = partition_key.as_primitive::<arrow::datatypes::Int64Type>();
                for row in 0..rows as usize {
                    let key = ints.is_valid(row).then(|| ints.value(row));
                    groups.entry(key).or_default().push(row as u32);
                }
                let mut expected: Vec<(u32, i64)> = Vec::new();
                for members in groups.into_values() {
                    let (kept, offset) = if skip > 0 {
                        select_range(members, &encoded, fetch)
                    } else {
                        (select_first(members, Some(&encoded), fetch), 0)
                    };
                    expected.extend(kept.into_iter().map(|m| (m, offset)));
                }
                expected.sort_unstable();
                assert_eq!(got, expected, "{options:?}, {fetch:?}");
            }
        }
    }

    /// Normalized keys order rows exactly as Arrow's row format does (the encoded-row path).
    #[test]
    fn normalized_keys_compare_like_encoded_rows() {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![
                Some(3),
                None,
                Some(i64::MIN),
                Some(-1),
                Some(0),
                Some(i64::MAX),
                Some(3),
            ])),
            Arc::new(UInt64Array::from(vec![
                Some(0),
                Some(u64::MAX),
                None,
                Some(7),
            ])),
            Arc::new(Float64Array::from(vec![
                Some(1.5),
                Some(f64::NAN),
                None,
                Some(f64::NEG_INFINITY),
                Some(-2.0),
                Some(0.0),
                Some(f64::INFINITY),
                Some(-0.0),
            ])),
            Arc::new(Date32Array::from(vec![
                Some(-3),
                None,
                Some(19_000),
                Some(0),
            ])),
        ];
        for array in arrays {
            let array = sql_ordered_float_key(&array);
            for (descending, nulls_first) in
                [(false, false), (false, true), (true, false), (true, true)]
            {
                let options = SortOptions {
                    descending,
                    nulls_first,
                };
                let keys = normalized_keys(&array, options).unwrap().unwrap();
                let converter = RowConverter::new(vec![SortField::new_with_options(
                    array.data_type().clone(),
                    options,
                )])
                .unwrap();
                let rows = converter.convert_columns(&[Arc::clone(&array)]).unwrap();
                for i in 0..keys.len() {
                    for j in 0..keys.len() {
                        assert_eq!(
                            keys[i].cmp(&keys[j]),
                            rows.row(i).cmp(&rows.row(j)),
                            "{:?} rows {i} and {j} under {options:?}",
                            array.data_type()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn selection_keeps_the_range_with_its_peers_and_counts_the_rows_before() {
        // Keys by row: positions in key order are 10,20,20,20,30,40,40,50.
        let keys = [40u128, 20, 50, 10, 20, 30, 40, 20];
        let fetch = |skip, rows, with_ties| PartitionFetch {
            skip,
            rows,
            with_ties,
        };
        // Positions 2..=4: the peers of 20 (positions 1..=3) and 30; one row (10) before.
        assert_eq!(
            select_by_normalized_keys(&keys, fetch(2, 5, true)),
            (vec![1, 4, 5, 7], 1)
        );
        // Position 5 alone is the first of the 40s: both 40s, five rows before them.
        assert_eq!(
            select_by_normalized_keys(&keys, fetch(5, 6, true)),
            (vec![0, 6], 5)
        );
        // Top 3 without ties: 10 and the first two 20s in input order.
        assert_eq!(
            select_by_normalized_keys(&keys, fetch(0, 3, false)),
            (vec![1, 3, 4], 0)
        );
        // With ties, every 20.
        assert_eq!(
            select_by_normalized_keys(&keys, fetch(0, 3, true)),
            (vec![1, 3, 4, 7], 0)
        );
        // Past the end, or an empty range.
        assert_eq!(
            select_by_normalized_keys(&keys, fetch(8, 12, true)),
            (vec![], 0)
        );
        assert_eq!(
            select_by_normalized_keys(&keys, fetch(4, 4, true)),
            (vec![], 0)
        );
        assert_eq!(
            select_by_normalized_keys(&keys, fetch(6, 100, false)),
            (vec![0, 2, 6], 5)
        );
    }
}
