//! Per-chunk, per-column statistics used to skip chunks a filter cannot match.

use std::cmp::Ordering;

use arrow::array::{Array, AsArray};
use arrow::compute;
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, DurationMicrosecondType, Float64Type, Int16Type,
    Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};

use crate::ScalarValue;

/// Bounds of one column inside one chunk. `min`/`max` ignore NULLs and are `None` when the
/// column has no non-NULL value or its type has no statistics. They are conservative: a chunk's
/// real minimum is never below `min` (dictionary columns use the whole dictionary).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnStatistics {
    pub min: Option<ScalarValue>,
    pub max: Option<ScalarValue>,
    pub null_count: usize,
    pub row_count: usize,
}

impl ColumnStatistics {
    /// Computes the statistics of one column.
    pub fn compute(array: &dyn Array) -> ColumnStatistics {
        let (min, max) = min_max(array);
        ColumnStatistics {
            min,
            max,
            null_count: array.null_count(),
            row_count: array.len(),
        }
    }

    /// The statistics after the values `old` (some rows of the column) were replaced by
    /// `new`: the NULL count exact, the bounds widened to enclose the new values (bounds only
    /// have to enclose, and narrowing them would need a pass over the column).
    pub fn replaced(&self, old: &dyn Array, new: &dyn Array) -> ColumnStatistics {
        let incoming = ColumnStatistics::compute(new);
        let widen = |ours: &Option<ScalarValue>, theirs: Option<ScalarValue>, keep: Ordering| match (
            ours, theirs,
        ) {
            (_, None) => ours.clone(),
            (None, Some(_)) => None,
            (Some(ours), Some(theirs)) => match ours.partial_cmp_same_type(&theirs) {
                Some(order) if order == keep || order == Ordering::Equal => Some(ours.clone()),
                Some(_) => Some(theirs),
                None => None,
            },
        };
        let null_count = self.null_count - old.null_count() + new.null_count();
        let all_null_before = self.all_null();
        let (min, max) = if all_null_before {
            (incoming.min, incoming.max)
        } else {
            (
                widen(&self.min, incoming.min, Ordering::Less),
                widen(&self.max, incoming.max, Ordering::Greater),
            )
        };
        ColumnStatistics {
            min,
            max,
            null_count,
            row_count: self.row_count,
        }
    }

    /// True when every value is NULL.
    pub fn all_null(&self) -> bool {
        self.null_count == self.row_count
    }
}

fn min_max(array: &dyn Array) -> (Option<ScalarValue>, Option<ScalarValue>) {
    if array.null_count() == array.len() {
        return (None, None);
    }
    macro_rules! primitive {
        ($t:ty, $variant:ident) => {{
            let a = array.as_primitive::<$t>();
            (
                compute::min(a).map(|v| ScalarValue::$variant(Some(v))),
                compute::max(a).map(|v| ScalarValue::$variant(Some(v))),
            )
        }};
    }
    match array.data_type() {
        DataType::Boolean => {
            let a = array.as_boolean();
            (
                compute::min_boolean(a).map(|v| ScalarValue::Boolean(Some(v))),
                compute::max_boolean(a).map(|v| ScalarValue::Boolean(Some(v))),
            )
        }
        DataType::Int16 => primitive!(Int16Type, Int16),
        DataType::Int32 => primitive!(Int32Type, Int32),
        DataType::Int64 => primitive!(Int64Type, Int64),
        DataType::Float64 => primitive!(Float64Type, Float64),
        DataType::Date32 => primitive!(Date32Type, Date32),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            primitive!(TimestampMicrosecondType, TimestampMicrosecond)
        }
        DataType::Duration(TimeUnit::Microsecond) => {
            primitive!(DurationMicrosecondType, DurationMicrosecond)
        }
        DataType::Decimal128(p, s) => {
            let a = array.as_primitive::<Decimal128Type>();
            (
                compute::min(a).map(|v| ScalarValue::Decimal128(Some(v), *p, *s)),
                compute::max(a).map(|v| ScalarValue::Decimal128(Some(v), *p, *s)),
            )
        }
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            (
                compute::min_string(a).map(|v| ScalarValue::Utf8(Some(v.to_string()))),
                compute::max_string(a).map(|v| ScalarValue::Utf8(Some(v.to_string()))),
            )
        }
        DataType::Dictionary(_, _) => min_max(array.as_any_dictionary().values().as_ref()),
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, StringArray};

    #[test]
    fn computes_bounds_ignoring_nulls() {
        let s = ColumnStatistics::compute(&Int32Array::from(vec![Some(3), None, Some(-7)]));
        assert_eq!(s.min, Some(ScalarValue::Int32(Some(-7))));
        assert_eq!(s.max, Some(ScalarValue::Int32(Some(3))));
        assert_eq!(s.null_count, 1);
        let s = ColumnStatistics::compute(&StringArray::from(vec![None::<&str>, None]));
        assert!(s.all_null());
        assert_eq!(s.min, None);
    }
}
