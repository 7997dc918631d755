//! Ordered reads the query optimizer's index scans need beyond [`BuiltIndex::range`]: a range
//! of a single-column ordered index in either direction, stopping after the first `limit` rows
//! of each chunk (`filter(created__gte=x).order_by("-created")[:k]`), so a top-k over a wide
//! range gathers `k` rows instead of the whole range.

use std::ops::Bound;

use super::{merge_in_order, owned_rows, BuiltIndex, Found, RowAddress, Rows};
use crate::{Result, RowKey};

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
}
