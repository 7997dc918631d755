//! MIN and MAX for every Quiver type.
//!
//! Numbers, decimals and temporal values keep one native per group; booleans fold with
//! AND/OR; strings and binaries keep the current extreme's bytes per group (a buffer that is
//! overwritten in place, so a group allocates only when its extreme grows longer).
//!
//! Floats follow PostgreSQL, which orders NaN above every number: `max` of a set holding NaN
//! is NaN and `min` ignores NaN unless every value is NaN. Strings compare bytewise, which for
//! UTF-8 is code-point order (PostgreSQL's `C` collation).

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, BooleanArray, LargeBinaryArray, LargeStringArray,
    PrimitiveArray,
};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, DurationMicrosecondType,
    DurationMillisecondType, DurationNanosecondType, DurationSecondType, Float32Type, Float64Type,
    Int16Type, Int32Type, Int64Type, Int8Type, Time32MillisecondType, Time32SecondType,
    Time64MicrosecondType, Time64NanosecondType, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};

use super::accumulators::{
    downcast, for_each_mapped, for_each_valid, primitive_argument, single_argument, validity,
    GroupsAccumulator,
};
use crate::error::{EngineError, Result};

/// A new MIN (`is_max == false`) or MAX accumulator over values of `input_type`.
pub fn create(input_type: &DataType, is_max: bool) -> Result<Box<dyn GroupsAccumulator>> {
    macro_rules! primitive {
        ($t:ty) => {
            if is_max {
                Box::new(MinMaxPrimitive::<$t, true>::new(input_type.clone()))
                    as Box<dyn GroupsAccumulator>
            } else {
                Box::new(MinMaxPrimitive::<$t, false>::new(input_type.clone()))
            }
        };
    }
    Ok(match input_type {
        DataType::Int8 => primitive!(Int8Type),
        DataType::Int16 => primitive!(Int16Type),
        DataType::Int32 => primitive!(Int32Type),
        DataType::Int64 => primitive!(Int64Type),
        DataType::UInt8 => primitive!(UInt8Type),
        DataType::UInt16 => primitive!(UInt16Type),
        DataType::UInt32 => primitive!(UInt32Type),
        DataType::UInt64 => primitive!(UInt64Type),
        DataType::Float32 => primitive!(Float32Type),
        DataType::Float64 => primitive!(Float64Type),
        DataType::Decimal128(_, _) => primitive!(Decimal128Type),
        DataType::Date32 => primitive!(Date32Type),
        DataType::Date64 => primitive!(Date64Type),
        DataType::Time32(TimeUnit::Second) => primitive!(Time32SecondType),
        DataType::Time32(TimeUnit::Millisecond) => primitive!(Time32MillisecondType),
        DataType::Time64(TimeUnit::Microsecond) => primitive!(Time64MicrosecondType),
        DataType::Time64(TimeUnit::Nanosecond) => primitive!(Time64NanosecondType),
        DataType::Timestamp(TimeUnit::Second, _) => primitive!(TimestampSecondType),
        DataType::Timestamp(TimeUnit::Millisecond, _) => primitive!(TimestampMillisecondType),
        DataType::Timestamp(TimeUnit::Microsecond, _) => primitive!(TimestampMicrosecondType),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => primitive!(TimestampNanosecondType),
        DataType::Duration(TimeUnit::Second) => primitive!(DurationSecondType),
        DataType::Duration(TimeUnit::Millisecond) => primitive!(DurationMillisecondType),
        DataType::Duration(TimeUnit::Microsecond) => primitive!(DurationMicrosecondType),
        DataType::Duration(TimeUnit::Nanosecond) => primitive!(DurationNanosecondType),
        DataType::Boolean => Box::new(MinMaxBoolean {
            values: Vec::new(),
            seen: Vec::new(),
            is_max,
        }),
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView => Box::new(MinMaxBytes {
            values: Vec::new(),
            seen: Vec::new(),
            is_max,
            input_type: input_type.clone(),
        }),
        other => {
            return Err(EngineError::Plan(format!(
                "{} does not accept values of type {other}",
                if is_max { "max" } else { "min" }
            )))
        }
    })
}

/// The SQL order of a native type.
pub trait SqlOrder: Copy {
    /// Whether `self` sorts after `other`.
    fn sql_gt(self, other: Self) -> bool;
}

macro_rules! total_order {
    ($($t:ty),*) => {$(
        impl SqlOrder for $t {
            #[inline(always)]
            fn sql_gt(self, other: Self) -> bool {
                self > other
            }
        }
    )*};
}
total_order!(i8, i16, i32, i64, i128, u8, u16, u32, u64);

macro_rules! float_order {
    ($($t:ty),*) => {$(
        impl SqlOrder for $t {
            /// NaN (of either sign) is above every number and equal to itself; `-0.0 == 0.0`.
            #[inline(always)]
            fn sql_gt(self, other: Self) -> bool {
                if self.is_nan() {
                    !other.is_nan()
                } else {
                    self > other
                }
            }
        }
    )*};
}
float_order!(f32, f64);

/// MIN/MAX of fixed-width values.
pub struct MinMaxPrimitive<T: ArrowPrimitiveType, const MAX: bool> {
    values: Vec<T::Native>,
    seen: Vec<bool>,
    data_type: DataType,
    input: PhantomData<fn() -> T>,
}

impl<T: ArrowPrimitiveType, const MAX: bool> MinMaxPrimitive<T, MAX>
where
    T::Native: SqlOrder,
{
    fn new(data_type: DataType) -> Self {
        MinMaxPrimitive {
            values: Vec::new(),
            seen: Vec::new(),
            data_type,
            input: PhantomData,
        }
    }

    /// Whether `candidate` replaces `current`.
    #[inline(always)]
    fn better(candidate: T::Native, current: T::Native) -> bool {
        if MAX {
            candidate.sql_gt(current)
        } else {
            current.sql_gt(candidate)
        }
    }

    fn resize(&mut self, total_groups: usize) {
        self.values.resize(total_groups, T::Native::default());
        self.seen.resize(total_groups, false);
    }
}

impl<T: ArrowPrimitiveType, const MAX: bool> GroupsAccumulator for MinMaxPrimitive<T, MAX>
where
    T::Native: SqlOrder,
{
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_ids: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let array = primitive_argument::<T>(values, group_ids)?;
        self.resize(total_groups);
        let (current, seen) = (&mut self.values, &mut self.seen);
        for_each_valid(array, group_ids, |group, value| {
            if !seen[group] || Self::better(value, current[group]) {
                current[group] = value;
                seen[group] = true;
            }
        });
        Ok(())
    }

    fn merge(
        &mut self,
        other: &dyn GroupsAccumulator,
        mapping: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let other = downcast::<Self>(other)?;
        self.resize(total_groups);
        for_each_mapped(mapping, other.seen.len(), |target, source| {
            if other.seen[source]
                && (!self.seen[target] || Self::better(other.values[source], self.values[target]))
            {
                self.values[target] = other.values[source];
                self.seen[target] = true;
            }
        });
        Ok(())
    }

    fn evaluate(&mut self, total_groups: usize) -> Result<ArrayRef> {
        self.resize(total_groups);
        let array = PrimitiveArray::<T>::new(
            ScalarBuffer::from(std::mem::take(&mut self.values)),
            validity(&self.seen),
        )
        .with_data_type(self.data_type.clone());
        Ok(Arc::new(array))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// MIN (AND) / MAX (OR) of booleans.
pub struct MinMaxBoolean {
    values: Vec<bool>,
    seen: Vec<bool>,
    is_max: bool,
}

impl MinMaxBoolean {
    fn fold(&mut self, group: usize, value: bool) {
        if !self.seen[group] {
            self.values[group] = value;
            self.seen[group] = true;
        } else if self.is_max {
            self.values[group] |= value;
        } else {
            self.values[group] &= value;
        }
    }
}

impl GroupsAccumulator for MinMaxBoolean {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_ids: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let array = single_argument(values, group_ids)?;
        let array: &BooleanArray = array
            .as_boolean_opt()
            .ok_or_else(|| EngineError::Internal("boolean min/max given non-booleans".into()))?;
        self.values.resize(total_groups, false);
        self.seen.resize(total_groups, false);
        for (row, &group) in group_ids.iter().enumerate() {
            if array.is_valid(row) {
                self.fold(group as usize, array.value(row));
            }
        }
        Ok(())
    }

    fn merge(
        &mut self,
        other: &dyn GroupsAccumulator,
        mapping: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let other = downcast::<Self>(other)?;
        self.values.resize(total_groups, false);
        self.seen.resize(total_groups, false);
        for_each_mapped(mapping, other.seen.len(), |target, source| {
            if other.seen[source] {
                self.fold(target, other.values[source]);
            }
        });
        Ok(())
    }

    fn evaluate(&mut self, total_groups: usize) -> Result<ArrayRef> {
        self.values.resize(total_groups, false);
        self.seen.resize(total_groups, false);
        Ok(Arc::new(BooleanArray::new(
            self.values.iter().copied().collect(),
            validity(&self.seen),
        )))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// MIN/MAX of strings and binaries.
pub struct MinMaxBytes {
    values: Vec<Vec<u8>>,
    seen: Vec<bool>,
    is_max: bool,
    input_type: DataType,
}

impl MinMaxBytes {
    fn fold(&mut self, group: usize, value: &[u8]) {
        let current = &mut self.values[group];
        let replace = !self.seen[group]
            || if self.is_max {
                value > current.as_slice()
            } else {
                value < current.as_slice()
            };
        if replace {
            current.clear();
            current.extend_from_slice(value);
            self.seen[group] = true;
        }
    }
}

impl GroupsAccumulator for MinMaxBytes {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_ids: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let array = single_argument(values, group_ids)?;
        self.values.resize_with(total_groups, Vec::new);
        self.seen.resize(total_groups, false);
        macro_rules! fold_all {
            ($typed:expr) => {{
                let typed = $typed;
                for (row, &group) in group_ids.iter().enumerate() {
                    if typed.is_valid(row) {
                        let bytes: &[u8] = typed.value(row).as_ref();
                        self.fold(group as usize, bytes);
                    }
                }
            }};
        }
        match array.data_type() {
            DataType::Utf8 => fold_all!(array.as_string::<i32>()),
            DataType::LargeUtf8 => fold_all!(array.as_string::<i64>()),
            DataType::Utf8View => fold_all!(array.as_string_view()),
            DataType::Binary => fold_all!(array.as_binary::<i32>()),
            DataType::LargeBinary => fold_all!(array.as_binary::<i64>()),
            DataType::BinaryView => fold_all!(array.as_binary_view()),
            other => {
                return Err(EngineError::Internal(format!(
                    "string min/max given {other}"
                )))
            }
        }
        Ok(())
    }

    fn merge(
        &mut self,
        other: &dyn GroupsAccumulator,
        mapping: &[u32],
        total_groups: usize,
    ) -> Result<()> {
        let other = downcast::<Self>(other)?;
        self.values.resize_with(total_groups, Vec::new);
        self.seen.resize(total_groups, false);
        for_each_mapped(mapping, other.seen.len(), |target, source| {
            if other.seen[source] {
                self.fold(target, &other.values[source]);
            }
        });
        Ok(())
    }

    fn evaluate(&mut self, total_groups: usize) -> Result<ArrayRef> {
        self.values.resize_with(total_groups, Vec::new);
        self.seen.resize(total_groups, false);
        let nulls = validity(&self.seen);
        let total_bytes: usize = self.values.iter().map(Vec::len).sum();
        let mut bytes = Vec::with_capacity(total_bytes);
        let mut offsets = Vec::with_capacity(self.values.len() + 1);
        offsets.push(0_i64);
        for value in &self.values {
            bytes.extend_from_slice(value);
            offsets.push(bytes.len() as i64);
        }
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        let bytes = Buffer::from_vec(bytes);
        let is_string = matches!(
            self.input_type,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        );
        let large: ArrayRef = if is_string {
            Arc::new(LargeStringArray::try_new(offsets, bytes, nulls)?)
        } else {
            Arc::new(LargeBinaryArray::try_new(offsets, bytes, nulls)?)
        };
        Ok(match self.input_type {
            DataType::LargeUtf8 | DataType::LargeBinary => large,
            _ => arrow::compute::cast(&large, &self.input_type)?,
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Date32Array, Float64Array, Int32Array, StringArray, StringViewArray};

    use super::*;

    fn run(
        input_type: &DataType,
        is_max: bool,
        batches: &[(ArrayRef, Vec<u32>)],
        groups: usize,
    ) -> ArrayRef {
        let mut accumulator = create(input_type, is_max).unwrap();
        for (values, ids) in batches {
            accumulator
                .update_batch(std::slice::from_ref(values), ids, groups)
                .unwrap();
        }
        accumulator.evaluate(groups).unwrap()
    }

    #[test]
    fn integers_with_nulls_and_empty_groups() {
        let values: ArrayRef = Arc::new(Int32Array::from(vec![Some(3), None, Some(-2), Some(9)]));
        let ids = vec![0, 1, 0, 0];
        let min = run(
            &DataType::Int32,
            false,
            &[(Arc::clone(&values), ids.clone())],
            3,
        );
        let max = run(&DataType::Int32, true, &[(values, ids)], 3);
        let expected_min: ArrayRef = Arc::new(Int32Array::from(vec![Some(-2), None, None]));
        let expected_max: ArrayRef = Arc::new(Int32Array::from(vec![Some(9), None, None]));
        assert_eq!(&min, &expected_min);
        assert_eq!(&max, &expected_max);
    }

    #[test]
    fn nan_is_the_largest_float() {
        let values: ArrayRef = Arc::new(Float64Array::from(vec![
            1.0,
            -f64::NAN,
            -5.0,
            f64::NAN,
            f64::NAN,
        ]));
        let ids = vec![0, 0, 0, 1, 1];
        let max = run(
            &DataType::Float64,
            true,
            &[(Arc::clone(&values), ids.clone())],
            2,
        );
        let min = run(&DataType::Float64, false, &[(values, ids)], 2);
        let max = max.as_primitive::<Float64Type>();
        let min = min.as_primitive::<Float64Type>();
        assert!(max.value(0).is_nan());
        assert_eq!(min.value(0), -5.0);
        assert!(min.value(1).is_nan(), "only NaN in the group");
    }

    #[test]
    fn strings_dates_and_booleans() {
        let words: ArrayRef = Arc::new(StringViewArray::from(vec![
            Some("pear"),
            None,
            Some("apple"),
            Some("a much longer word"),
        ]));
        let ids = vec![0, 0, 0, 1];
        let min = run(
            &DataType::Utf8View,
            false,
            &[(Arc::clone(&words), ids.clone())],
            2,
        );
        let max = run(&DataType::Utf8View, true, &[(words, ids)], 2);
        assert_eq!(min.data_type(), &DataType::Utf8View);
        let min = min.as_string_view();
        let max = max.as_string_view();
        assert_eq!(
            (min.value(0), min.value(1)),
            ("apple", "a much longer word")
        );
        assert_eq!(max.value(0), "pear");

        let dates: ArrayRef = Arc::new(Date32Array::from(vec![19000, 18000]));
        let max = run(&DataType::Date32, true, &[(dates, vec![0, 0])], 1);
        let expected: ArrayRef = Arc::new(Date32Array::from(vec![19000]));
        assert_eq!(&max, &expected);

        let flags: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true), Some(false), None]));
        let ids = vec![0, 0, 1];
        let min = run(
            &DataType::Boolean,
            false,
            &[(Arc::clone(&flags), ids.clone())],
            2,
        );
        let max = run(&DataType::Boolean, true, &[(flags, ids)], 2);
        let expected_min: ArrayRef = Arc::new(BooleanArray::from(vec![Some(false), None]));
        let expected_max: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true), None]));
        assert_eq!(&min, &expected_min);
        assert_eq!(&max, &expected_max);
    }

    #[test]
    fn merge_keeps_the_extreme() {
        let mut a = create(&DataType::Utf8, true).unwrap();
        let mut b = create(&DataType::Utf8, true).unwrap();
        let left: ArrayRef = Arc::new(StringArray::from(vec!["m", "b"]));
        let right: ArrayRef = Arc::new(StringArray::from(vec!["z", "a"]));
        a.update_batch(&[left], &[0, 1], 2).unwrap();
        b.update_batch(&[right], &[0, 1], 2).unwrap();
        a.merge(b.as_ref(), &[1, 0], 2).unwrap();
        let expected: ArrayRef = Arc::new(StringArray::from(vec!["m", "z"]));
        assert_eq!(&a.evaluate(2).unwrap(), &expected);
    }
}
