//! [`IndexScanExec`]: reads the rows an index finds instead of the whole table.
//!
//! The `use_indexes` rule records which index and which keys on the logical scan; this
//! operator looks them up in the index of the scan's snapshot (the indexes of its chunks, built
//! on first use and cached on those immutable chunks, so it is exact for it), gathers those rows
//! in index order, and scans them with the scan's filters and projection, which still decide
//! exactly which rows qualify. An ordered index answers `IndexKeys::Prefix` lookups: one or
//! several equality prefixes (an `IN` list on a composite index's leading column makes one
//! per value), a range on the next column and, for a top-k, that column's order, reading each
//! prefix's first `k` rows (the top-k operator above keeps the best `k` of them) — and, when
//! the sort has more keys, every row tied with each prefix's `k`-th on the indexed column.

use std::ops::Bound;
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::SchemaRef;
use quiver_storage::index::{gather, index_of, BuiltIndex, RowAddress};
use quiver_storage::{column_keys, IndexDefinition, RowKey, ScalarValue};

use super::scan::ScanExec;
use super::{BatchIter, ExecutionPlan, OperatorMetrics, TaskContext};
use crate::error::{EngineError, Result};
use crate::logical_plan::{IndexKeys, IndexLookup, Scan};
use crate::physical_expr::PhysicalExprRef;

/// Scans the rows of an index lookup.
#[derive(Debug)]
pub struct IndexScanExec {
    lookup: IndexLookup,
    table_name: String,
    rows: usize,
    scan: ScanExec,
}

impl IndexScanExec {
    /// Looks the rows up now, against the scan's snapshot.
    pub fn try_new(
        scan: &Scan,
        lookup: &IndexLookup,
        filters: Vec<PhysicalExprRef>,
    ) -> Result<IndexScanExec> {
        let definition = scan
            .source
            .indexes()
            .into_iter()
            .find(|d| d.name == lookup.index)
            .ok_or_else(|| {
                EngineError::Internal(format!(
                    "index {} of {} disappeared",
                    lookup.index, scan.table_name
                ))
            })?;
        let index = index_of(&scan.snapshot, &definition)?;
        let addresses = match &lookup.keys {
            IndexKeys::Points(values) => {
                let keys = values.iter().map(key_of).collect::<Result<Vec<_>>>()?;
                index.lookup(&keys)
            }
            IndexKeys::Range { low, high } => index.range(bound_key(low)?, bound_key(high)?)?,
            IndexKeys::Ordered { descending, limit } => {
                let found = index.ordered(*descending, Some(*limit))?;
                if lookup.with_ties {
                    with_ties(scan, &definition, &index, &[], found, *limit, || {
                        Ok(index.ordered(*descending, None)?)
                    })?
                } else {
                    found
                }
            }
            IndexKeys::Prefix {
                prefixes,
                low,
                high,
                order,
            } => {
                let (descending, limit) = match order {
                    Some((descending, limit)) => (*descending, Some(*limit)),
                    None => (false, None),
                };
                let (low, high) = (bound_key(low)?, bound_key(high)?);
                let mut addresses = Vec::new();
                for prefix in prefixes {
                    let prefix = prefix.iter().map(key_of).collect::<Result<Vec<_>>>()?;
                    let read = |limit: Option<usize>| -> Result<Vec<RowAddress>> {
                        Ok(if definition.columns.len() == 1 && prefix.is_empty() {
                            index.range_in_order(low.clone(), high.clone(), descending, limit)?
                        } else {
                            index.prefix(&prefix, low.clone(), high.clone(), descending, limit)?
                        })
                    };
                    let found = read(limit)?;
                    addresses.extend(match limit {
                        Some(limit) if lookup.with_ties => {
                            with_ties(scan, &definition, &index, &prefix, found, limit, || {
                                read(None)
                            })?
                        }
                        _ => found,
                    });
                }
                // Several prefixes: each one's first rows, which the sort above merges; or
                // every match, read in table order as a full scan would.
                if order.is_none() && prefixes.len() > 1 {
                    addresses.sort_unstable();
                }
                addresses
            }
        };
        let gathered = Arc::new(gather(&scan.snapshot, &addresses)?);
        let rows = gathered.num_rows();
        let inner = ScanExec::try_new(
            scan.table_name.clone(),
            gathered,
            scan.source.schema(),
            scan.projection.clone(),
            filters,
            None,
            1,
        )?;
        Ok(IndexScanExec {
            lookup: lookup.clone(),
            table_name: scan.table_name.clone(),
            rows,
            scan: inner,
        })
    }
}

/// `found` (up to `limit` rows read in the order of the index column after `prefix`) and every
/// other row tied with its last row on that column; `read_all` when that value is NULL.
fn with_ties(
    scan: &Scan,
    definition: &IndexDefinition,
    index: &BuiltIndex,
    prefix: &[RowKey],
    mut found: Vec<RowAddress>,
    limit: usize,
    read_all: impl FnOnce() -> Result<Vec<RowAddress>>,
) -> Result<Vec<RowAddress>> {
    let Some(last) = found.last().filter(|_| found.len() >= limit) else {
        return Ok(found);
    };
    let (Some(&column), Some(chunk)) = (
        definition.columns.get(prefix.len()),
        scan.snapshot.chunks().get(last.chunk as usize),
    ) else {
        return Err(EngineError::Internal(format!(
            "index {} read a row it does not have",
            definition.name
        )));
    };
    let value = chunk.batch().column(column).slice(last.row as usize, 1);
    let key = key_of_array(&value)?;
    if key.has_null() {
        return read_all();
    }
    let tied = if definition.columns.len() == prefix.len() + 1 {
        let whole = if prefix.is_empty() {
            key
        } else {
            RowKey::Composite(prefix.iter().cloned().chain([key]).collect())
        };
        index.lookup(&[whole])
    } else {
        let mut longer = prefix.to_vec();
        longer.push(key);
        index.prefix(&longer, Bound::Unbounded, Bound::Unbounded, false, None)?
    };
    found.extend(tied);
    found.sort_unstable();
    found.dedup();
    Ok(found)
}

fn key_of_array(array: &ArrayRef) -> Result<RowKey> {
    column_keys(array)?
        .into_iter()
        .next()
        .ok_or_else(|| EngineError::Internal("an index key of no value".into()))
}

fn key_of(value: &ScalarValue) -> Result<RowKey> {
    let keys = column_keys(&value.to_array(1))?;
    keys.into_iter()
        .next()
        .ok_or_else(|| EngineError::Internal("an index key of no value".into()))
}

fn bound_key(bound: &Bound<ScalarValue>) -> Result<Bound<RowKey>> {
    Ok(match bound {
        Bound::Included(v) => Bound::Included(key_of(v)?),
        Bound::Excluded(v) => Bound::Excluded(key_of(v)?),
        Bound::Unbounded => Bound::Unbounded,
    })
}

impl ExecutionPlan for IndexScanExec {
    fn name(&self) -> &'static str {
        "IndexScanExec"
    }

    fn schema(&self) -> SchemaRef {
        self.scan.schema()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn output_partitions(&self) -> usize {
        self.scan.output_partitions()
    }

    fn execute(&self, partition: usize, ctx: &Arc<TaskContext>) -> Result<BatchIter> {
        self.scan.execute(partition, ctx)
    }

    fn describe(&self) -> String {
        format!(
            "IndexScanExec: {} {}, rows={}",
            self.table_name, self.lookup, self.rows
        )
    }

    fn metrics(&self) -> Option<&OperatorMetrics> {
        self.scan.metrics()
    }
}
