//! `agg(DISTINCT x)`: feeds the wrapped accumulator each `(group, value)` pair once.
//!
//! The values are interned to dense ids (the same [`ColumnInterner`] group keys use), and the
//! set of seen pairs is one hash set of `group << 32 | value id` for all groups together, so
//! there is no per-group set to allocate. A batch passes on only the rows whose pair is new.
//! Merging two partitions re-feeds the other side's pairs that this side has not seen, which
//! is what makes `COUNT(DISTINCT x)` correct across partitions (counts cannot just be added).

use std::any::Any;

use arrow::array::{Array, ArrayRef, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::DataType;
use hashbrown::HashTable;

use super::accumulators::{downcast, single_argument, GroupsAccumulator};
use super::interner::ColumnInterner;
use super::NO_GROUP;
use crate::error::Result;
use crate::physical_plan::hashing::hash_u64;

/// Wraps an accumulator so it sees each distinct non-NULL value of a group once.
pub struct DistinctAccumulator {
    values: ColumnInterner,
    /// `group << 32 | value id` of every pair passed on.
    pairs: HashTable<u64>,
    inner: Box<dyn GroupsAccumulator>,
    /// Scratch: value ids of the current batch.
    value_ids: Vec<u32>,
}

impl DistinctAccumulator {
    /// Wraps `inner`, an accumulator over values of `input_type`.
    pub fn try_new(
        input_type: &DataType,
        inner: Box<dyn GroupsAccumulator>,
    ) -> Result<DistinctAccumulator> {
        Ok(DistinctAccumulator {
            values: ColumnInterner::try_new(input_type)?,
            pairs: HashTable::new(),
            inner,
            value_ids: Vec::new(),
        })
    }

    /// Records the pair; true when it was not seen before.
    #[inline]
    fn insert(&mut self, group: u32, value_id: u32) -> bool {
        let pair = ((group as u64) << 32) | value_id as u64;
        let hash = hash_u64(pair);
        if self.pairs.find(hash, |p| *p == pair).is_some() {
            return false;
        }
        self.pairs.insert_unique(hash, pair, |p| hash_u64(*p));
        true
    }

    /// Feeds `source[positions]` to the wrapped accumulator under `groups`.
    fn pass_on(
        &mut self,
        source: &dyn Array,
        positions: Vec<u32>,
        groups: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        if positions.is_empty() {
            return Ok(());
        }
        let values = take(source, &UInt32Array::from(positions), None)?;
        self.inner.update_batch(&[values], groups, total_groups)
    }
}

impl GroupsAccumulator for DistinctAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_ids: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let array = single_argument(values, group_ids)?;
        let mut value_ids = std::mem::take(&mut self.value_ids);
        value_ids.clear();
        self.values.intern(array.as_ref(), &mut value_ids)?;
        let nulls = array.logical_nulls();
        let (mut rows, mut groups) = (Vec::new(), Vec::new());
        for (row, (&group, &value_id)) in group_ids.iter().zip(&value_ids).enumerate() {
            let valid = nulls.as_ref().is_none_or(|n| n.is_valid(row));
            if valid && self.insert(group, value_id) {
                rows.push(row as u32);
                groups.push(group);
            }
        }
        self.value_ids = value_ids;
        self.pass_on(array.as_ref(), rows, &groups, total_groups)
    }

    fn merge(
        &mut self,
        other: &dyn GroupsAccumulator,
        mapping: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let other = downcast::<Self>(other)?;
        let other_values = other.values.emit()?;
        let mut value_map = Vec::with_capacity(other_values.len());
        self.values.intern(other_values.as_ref(), &mut value_map)?;
        let (mut positions, mut groups) = (Vec::new(), Vec::new());
        for &pair in other.pairs.iter() {
            let target = mapping[(pair >> 32) as usize];
            let value_id = pair as u32;
            if target != NO_GROUP && self.insert(target, value_map[value_id as usize]) {
                positions.push(value_id);
                groups.push(target);
            }
        }
        self.pass_on(other_values.as_ref(), positions, &groups, total_groups)
    }

    fn evaluate(&mut self, total_groups: usize) -> Result<ArrayRef> {
        self.inner.evaluate(total_groups)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{AsArray, DictionaryArray, Int32Array, Int64Array};
    use arrow::datatypes::{Int32Type, Int64Type};

    use super::*;
    use crate::expr::AggregateFunction;
    use crate::physical_plan::aggregate::accumulators::create_accumulator;

    fn distinct(
        func: AggregateFunction,
        input: &DataType,
        output: &DataType,
    ) -> Box<dyn GroupsAccumulator> {
        create_accumulator(func, Some(input), output, true).unwrap()
    }

    #[test]
    fn count_and_sum_distinct_per_group() {
        let values: ArrayRef = Arc::new(Int32Array::from(vec![
            Some(1),
            Some(1),
            Some(2),
            None,
            Some(1),
            Some(5),
            Some(5),
        ]));
        let ids = [0, 0, 0, 0, 1, 1, 1];
        let mut count = distinct(AggregateFunction::Count, &DataType::Int32, &DataType::Int64);
        count.update_batch(&[Arc::clone(&values)], &ids, 3).unwrap();
        let expected: ArrayRef = Arc::new(Int64Array::from(vec![2, 2, 0]));
        assert_eq!(&count.evaluate(3).unwrap(), &expected);

        let mut sum = distinct(AggregateFunction::Sum, &DataType::Int32, &DataType::Int64);
        sum.update_batch(&[values], &ids, 3).unwrap();
        let expected: ArrayRef = Arc::new(Int64Array::from(vec![Some(3), Some(6), None]));
        assert_eq!(&sum.evaluate(3).unwrap(), &expected);
    }

    #[test]
    fn merge_does_not_count_a_value_twice() {
        let make = || distinct(AggregateFunction::Count, &DataType::Utf8, &DataType::Int64);
        let (mut a, mut b) = (make(), make());
        let left: ArrayRef = Arc::new(
            vec!["x", "y", "x"]
                .into_iter()
                .collect::<DictionaryArray<Int32Type>>(),
        );
        let right: ArrayRef = Arc::new(arrow::array::StringArray::from(vec!["y", "z", "x"]));
        a.update_batch(&[left], &[0, 0, 1], 2).unwrap();
        b.update_batch(&[right], &[0, 0, 1], 2).unwrap();
        // b's group 0 is a's group 0; b's group 1 becomes group 2.
        a.merge(b.as_ref(), &[0, 2], 3).unwrap();
        let counts = a.evaluate(3).unwrap();
        assert_eq!(counts.as_primitive::<Int64Type>().values(), &[3, 1, 1]);
    }
}
