//! ANY_VALUE: some value of each group — the first row's, NULL included.
//!
//! The optimizer uses it for GROUP BY columns that depend on a grouped primary key
//! ([`GroupByPrimaryKey`](crate::optimizer::GroupByPrimaryKey)): every row of a group holds
//! the same value, so hashing and comparing it as a key (long strings, often) is wasted work.
//! The accumulator keeps, per group, where its first row is (which argument array, which
//! row), holding on only to the arrays that supplied some group's row, and gathers the values
//! once at the end with `interleave`. Per row it costs one check of the group's slot.

use std::any::Any;
use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef};
use arrow::compute::interleave;
use arrow::datatypes::DataType;

use super::accumulators::{downcast, single_argument, GroupsAccumulator};
use super::NO_GROUP;
use crate::error::Result;

/// No row seen for the group yet.
const UNSET: (u32, u32) = (u32::MAX, 0);

/// Each group's first value; see the module documentation.
pub struct AnyValueAccumulator {
    data_type: DataType,
    /// The argument arrays some group's first row is in.
    arrays: Vec<ArrayRef>,
    /// Per group: (index into `arrays`, row), or [`UNSET`].
    first: Vec<(u32, u32)>,
}

impl AnyValueAccumulator {
    /// An accumulator over values of `data_type`.
    pub fn new(data_type: DataType) -> AnyValueAccumulator {
        AnyValueAccumulator {
            data_type,
            arrays: Vec::new(),
            first: Vec::new(),
        }
    }

    fn resize(&mut self, total_groups: usize) {
        if self.first.len() < total_groups {
            self.first.resize(total_groups, UNSET);
        }
    }
}

impl GroupsAccumulator for AnyValueAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_ids: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let array = single_argument(values, group_ids)?;
        self.resize(total_groups);
        let index = self.arrays.len() as u32;
        let mut used = false;
        for (row, &group) in group_ids.iter().enumerate() {
            if group == NO_GROUP {
                continue;
            }
            let slot = &mut self.first[group as usize];
            if *slot == UNSET {
                *slot = (index, row as u32);
                used = true;
            }
        }
        if used {
            self.arrays.push(Arc::clone(array));
        }
        Ok(())
    }

    fn merge(
        &mut self,
        other: &dyn GroupsAccumulator,
        mapping: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let other = downcast::<AnyValueAccumulator>(other)?;
        self.resize(total_groups);
        // Other's arrays keep their order after ours, added only when some group takes a row.
        let offset = self.arrays.len() as u32;
        let mut used = vec![false; other.arrays.len()];
        for (&(array, row), &group) in other.first.iter().zip(mapping) {
            if (array, row) == UNSET || group == NO_GROUP {
                continue;
            }
            let slot = &mut self.first[group as usize];
            if *slot == UNSET {
                *slot = (offset + array, row);
                used[array as usize] = true;
            }
        }
        if used.iter().any(|&u| u) {
            // Keep all of them so the indices stay valid; an unused one costs a reference.
            self.arrays.extend(other.arrays.iter().map(Arc::clone));
        }
        Ok(())
    }

    fn evaluate(&mut self, total_groups: usize) -> Result<ArrayRef> {
        self.resize(total_groups);
        let null = new_null_array(&self.data_type, 1);
        let null_index = self.arrays.len();
        let mut sources: Vec<&dyn Array> = self.arrays.iter().map(|a| a.as_ref()).collect();
        sources.push(null.as_ref());
        let positions: Vec<(usize, usize)> = self.first[..total_groups]
            .iter()
            .map(|&(array, row)| {
                if (array, row) == UNSET {
                    (null_index, 0)
                } else {
                    (array as usize, row as usize)
                }
            })
            .collect();
        Ok(interleave(&sources, &positions)?)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{AsArray, Int64Array, StringArray};

    use super::*;

    fn strings(array: &ArrayRef) -> Vec<Option<String>> {
        array
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect()
    }

    #[test]
    fn keeps_each_groups_first_row_null_included() {
        let mut acc = AnyValueAccumulator::new(DataType::Utf8);
        let first: ArrayRef = Arc::new(StringArray::from(vec![None, Some("b"), Some("x")]));
        acc.update_batch(&[first], &[0, 1, NO_GROUP], 3).unwrap();
        let second: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), Some("c")]));
        acc.update_batch(&[second], &[0, 2], 4).unwrap();
        let out = acc.evaluate(4).unwrap();
        // Group 0's first row was NULL; group 3 saw no row.
        assert_eq!(
            strings(&out),
            vec![None, Some("b".into()), Some("c".into()), None]
        );
    }

    #[test]
    fn merge_fills_only_groups_without_a_row() {
        let mut left = AnyValueAccumulator::new(DataType::Int64);
        let values: ArrayRef = Arc::new(Int64Array::from(vec![10, 11]));
        left.update_batch(&[values], &[0, 0], 1).unwrap();
        let mut right = AnyValueAccumulator::new(DataType::Int64);
        let values: ArrayRef = Arc::new(Int64Array::from(vec![20, 21, 22]));
        right.update_batch(&[values], &[0, 1, 2], 3).unwrap();
        // Right's group 0 → 0 (already set), 1 → 2, 2 → nowhere.
        left.merge(&right, &[0, 2, NO_GROUP], 3).unwrap();
        let out = left.evaluate(3).unwrap();
        let out = out.as_primitive::<arrow::datatypes::Int64Type>();
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            vec![Some(10), None, Some(21)]
        );
    }
}
