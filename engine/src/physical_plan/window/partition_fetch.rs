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

use arrow::array::{Array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::compute::SortOptions;
use arrow::row::{RowConverter, Rows, SortField};
use rayon::prelude::*;

use super::{comparable_key, PhysicalWindowExpr};
use crate::error::Result;
use crate::logical_plan::PartitionFetch;
use crate::physical_expr::PhysicalExprRef;

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
        comparable_key(whole)
    };
    let partition_keys = expr
        .partition_by
        .iter()
        .map(evaluate)
        .collect::<Result<Vec<_>>>()?;
    let order_keys = expr
        .order_by
        .iter()
        .map(|key| evaluate(&key.expr))
        .collect::<Result<Vec<_>>>()?;
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
    let mut kept: Vec<(u32, i64)> = selected
        .into_iter()
        .flat_map(|(members, offset)| members.into_iter().map(move |m| (m, offset)))
        .collect();
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
