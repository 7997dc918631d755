//! Ordered reads the query optimizer's index scans need beyond [`BuiltIndex::range`]: a range
//! of a single-column ordered index in either direction, stopping after the first `limit` rows
//! of each chunk (`filter(created__gte=x).order_by("-created")[:k]`), so a top-k over a wide
//! range gathers `k` rows instead of the whole range.

use std::ops::Bound;

use super::{
    after_all, composite, merge_in_order, owned_rows, BuiltIndex, Found, RowAddress, Rows,
};
use crate::{Result, RowKey, StorageError};

impl BuiltIndex {
    /// Up to `limit` rows of a single-column ordered index whose key lies within the bounds
    /// (NULL keys never do), in key order, ascending or descending.
    pub fn range_in_order(
        &self,
        low: Bound<RowKey>,
        high: Bound<RowKey>,
        descending: bool,
        limit: Option<usize>,
    ) -> Result<Vec<RowAddress>> {
        self.require_ordered("ranges")?;
        let limit = limit.unwrap_or(usize::MAX);
        let mut found: Vec<Found<'_>> = Vec::new();
        for (chunk, index) in self.chunks.iter().enumerate() {
            let entries = index.ordered_range(low.as_ref(), high.as_ref());
            let entries: Box<dyn Iterator<Item = (&RowKey, Rows<'_>)>> = if descending {
                Box::new(entries.rev())
            } else {
                Box::new(entries)
            };
            let rows = entries.flat_map(|(key, rows)| {
                owned_rows(rows).map(move |row| {
                    let address = RowAddress {
                        chunk: chunk as u32,
                        row,
                    };
                    (0, key, address)
                })
            });
            found.extend(rows.take(limit));
        }
        Ok(merge_in_order(found, descending, limit))
    }
}

impl BuiltIndex {
    /// The rows whose leading key parts equal one of `prefixes` (each as long as the others,
    /// at most as long as the key; a prefix with a NULL part finds nothing), in address order:
    /// what an index nested loop join on a prefix of a composite index reads. Whole keys are
    /// point look-ups, which a hash index serves too; shorter prefixes need an ordered index.
    pub fn lookup_prefixes(&self, prefixes: &[Vec<RowKey>]) -> Result<Vec<RowAddress>> {
        let Some(length) = prefixes.first().map(Vec::len) else {
            return Ok(Vec::new());
        };
        if length == 0 || length > self.columns || prefixes.iter().any(|p| p.len() != length) {
            return Err(StorageError::Internal(format!(
                "prefixes of {length} parts on an index of {} columns",
                self.columns
            )));
        }
        let wanted = prefixes.iter().filter(|p| !p.iter().any(RowKey::has_null));
        if length == self.columns {
            let keys: Vec<RowKey> = wanted
                .map(|p| match p.as_slice() {
                    [single] if self.columns == 1 => single.clone(),
                    parts => composite(parts, &[]),
                })
                .collect();
            return Ok(self.lookup(&keys));
        }
        self.require_ordered("prefix look-ups")?;
        let mut ranges: Vec<(RowKey, RowKey)> = wanted
            .map(|p| (composite(p, &[]), composite(p, &[after_all()])))
            .collect();
        ranges.sort_unstable();
        ranges.dedup();
        let mut found = Vec::new();
        for (chunk, index) in self.chunks.iter().enumerate() {
            for (low, high) in &ranges {
                for (_, rows) in index.ordered_range(Bound::Included(low), Bound::Excluded(high)) {
                    found.extend(rows.iter().map(|&row| RowAddress {
                        chunk: chunk as u32,
                        row,
                    }));
                }
            }
        }
        found.sort_unstable();
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Bound::{Excluded, Included, Unbounded};

    use super::super::tests::{definition, values, version};
    use super::super::IndexKind;
    use super::*;

    #[test]
    fn ranges_read_in_either_order_up_to_a_limit() {
        let v = version(&[
            Some(5),
            None,
            Some(1),
            Some(5),
            Some(9),
            Some(3),
            Some(7),
            None,
        ]);
        let index = BuiltIndex::build(&definition(IndexKind::Ordered), &v).unwrap();
        let read = |low, high, descending, limit| {
            values(
                &v,
                &index.range_in_order(low, high, descending, limit).unwrap(),
            )
        };
        assert_eq!(
            read(Included(RowKey::Int(3)), Unbounded, false, Some(3)),
            [Some(3), Some(5), Some(5)]
        );
        assert_eq!(
            read(Included(RowKey::Int(3)), Unbounded, true, Some(2)),
            [Some(9), Some(7)]
        );
        assert_eq!(
            read(Unbounded, Excluded(RowKey::Int(5)), true, None),
            [Some(3), Some(1)]
        );
        assert!(read(Excluded(RowKey::Int(9)), Unbounded, false, None).is_empty());
        assert!(read(
            Included(RowKey::Int(6)),
            Excluded(RowKey::Int(6)),
            true,
            None
        )
        .is_empty());
        let hash = BuiltIndex::build(&definition(IndexKind::Hash), &v).unwrap();
        assert!(hash
            .range_in_order(Unbounded, Unbounded, false, None)
            .is_err());
    }

    #[test]
    fn float_keys_read_in_numeric_order() {
        use std::sync::Arc;

        use arrow::array::{AsArray, Float64Array, RecordBatch};
        use arrow::datatypes::{DataType, Field, Float64Type, Schema};

        use crate::{Chunk, TableVersion};

        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
        let chunk = |values: Vec<Option<f64>>| {
            let array = Arc::new(Float64Array::from(values));
            Chunk::new(RecordBatch::try_new(Arc::clone(&schema), vec![array]).unwrap())
        };
        let v = TableVersion::from_chunks(
            1,
            vec![
                chunk(vec![Some(2.5), Some(-0.0), None, Some(f64::NAN)]),
                chunk(vec![
                    Some(-7.0),
                    Some(0.0),
                    Some(f64::NEG_INFINITY),
                    Some(-0.5),
                ]),
            ],
        );
        let read = |addresses: &[RowAddress]| -> Vec<String> {
            let gathered = super::super::gather(&v, addresses).unwrap();
            gathered
                .chunks()
                .iter()
                .flat_map(|c| {
                    let floats = c.batch().column(0).as_primitive::<Float64Type>().clone();
                    floats
                        .iter()
                        .map(|v| v.map_or("null".into(), |v| v.abs().to_string()))
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let index = BuiltIndex::build(&definition(IndexKind::Ordered), &v).unwrap();
        // Ascending NULLS LAST, NaN above infinity; -0 and 0 tie (shown without sign).
        assert_eq!(
            read(&index.ordered(false, None).unwrap()),
            ["inf", "7", "0.5", "0", "0", "2.5", "NaN", "null"]
        );
        assert_eq!(
            read(&index.ordered(true, Some(3)).unwrap()),
            ["null", "NaN", "2.5"]
        );
        assert_eq!(
            read(
                &index
                    .range_in_order(
                        Excluded(RowKey::float(-7.0)),
                        Included(RowKey::float(0.0)),
                        true,
                        None,
                    )
                    .unwrap()
            ),
            ["0", "0", "0.5"]
        );
        assert_eq!(
            read(
                &index
                    .range(Unbounded, Excluded(RowKey::float(f64::NAN)))
                    .unwrap()
            ),
            ["inf", "7", "0.5", "0", "0", "2.5"]
        );
        assert_eq!(
            read(&index.lookup(&[RowKey::float(-0.0), RowKey::float(f64::NAN)])),
            ["0", "NaN", "0"]
        );
    }

    #[test]
    fn prefixes_of_a_composite_key_find_every_row_under_them() {
        use super::super::tests::pairs;

        // (a, b) rows over two chunks.
        let v = pairs(&[
            (1, Some(5)),
            (2, Some(7)),
            (1, None),
            (3, Some(9)),
            (1, Some(2)),
            (2, None),
        ]);
        let mut definition = definition(IndexKind::Ordered);
        definition.columns = vec![0, 1];
        definition.descending = vec![false, true];
        let index = BuiltIndex::build(&definition, &v).unwrap();
        let rows = |prefixes: &[Vec<RowKey>]| -> Vec<(u32, u32)> {
            index
                .lookup_prefixes(prefixes)
                .unwrap()
                .into_iter()
                .map(|a| (a.chunk, a.row))
                .collect()
        };
        // NULL second parts included, in address order; unknown and NULL prefixes find nothing.
        assert_eq!(
            rows(&[
                vec![RowKey::Int(1)],
                vec![RowKey::Int(4)],
                vec![RowKey::Null]
            ]),
            [(0, 0), (0, 2), (1, 1)]
        );
        assert_eq!(
            rows(&[
                vec![RowKey::Int(2)],
                vec![RowKey::Int(1)],
                vec![RowKey::Int(2)]
            ]),
            [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2)]
        );
        // Whole keys are point look-ups, which a hash index serves as well.
        let whole = [
            vec![RowKey::Int(1), RowKey::Int(2)],
            vec![RowKey::Int(2), RowKey::Null],
        ];
        assert_eq!(rows(&whole), [(1, 1)]);
        definition.kind = IndexKind::Hash;
        let hash = BuiltIndex::build(&definition, &v).unwrap();
        assert_eq!(hash.lookup_prefixes(&whole).unwrap().len(), 1);
        assert!(hash.lookup_prefixes(&[vec![RowKey::Int(1)]]).is_err());
        assert!(index.lookup_prefixes(&[vec![]]).is_err());
        assert!(index.lookup_prefixes(&[]).unwrap().is_empty());
    }
}
