//! Runtime join filters: a hash join's build keys, handed to the scan below its probe side.
//!
//! A hash join reads its whole build side before it pulls a single probe row. By then it
//! knows every key a probe row can match, so a probe row whose key is not among them is
//! dead: an inner (or semi, or right) join drops it anyway. The planner (rule
//! `runtime_join_filters`, see `execution/planner.rs`) follows the probe key down to the
//! table column it comes from and gives that table's [`ScanExec`](super::scan::ScanExec) a
//! [`RuntimeFilterExpr`]; the join publishes its keys into the shared [`RuntimeFilter`] right
//! after its build. The scan then:
//! - skips whole row ranges whose chunk statistics (min/max) lie outside the keys' range;
//! - drops rows whose key is not a build key before its other filters run and before any
//!   column is copied, so joins, aggregates and filters above see only live rows.
//!
//! This is what DuckDB's join filter pushdown and DataFusion's dynamic filters do. The
//! published key set is the keys' `[min, max]` and, when that range is not too wide (dense
//! surrogate keys, the usual case), an exact bitmap over it. Only integer keys (and dates)
//! take part; anything else keeps the range test off. Until the join publishes, the filter
//! lets every row through, so it is never wrong, only sometimes idle.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use arrow::buffer::BooleanBuffer;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use quiver_storage::{ColumnStatistics, ScalarValue};

use crate::error::Result;
use crate::physical_expr::{ColumnarValue, PhysicalExpr};

/// The optimizer-rule-style name that switches runtime join filters off
/// (`SessionConfig::disable_rule("runtime_join_filters")`).
pub const RUNTIME_JOIN_FILTERS: &str = "runtime_join_filters";

/// Widest key range (in values) that gets an exact bitmap: 2^27 bits, 16 MiB.
const MAX_BITMAP_RANGE: u64 = 1 << 27;

/// Rows tested before the filter judges whether it pays: when it has kept more than
/// [`KEEP_RATIO_GIVE_UP`] of them, testing costs more than the rows it saves (the join
/// drops them anyway), so it stops testing rows (ranges are still skipped by statistics).
const ROWS_BEFORE_JUDGING: usize = 1 << 17;
const KEEP_RATIO_GIVE_UP: f64 = 0.9;

/// Whether a key of this type can be published and tested as an `i64`.
pub fn is_filterable_type(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::Date32
    )
}

/// The build keys as published by a hash join.
#[derive(Debug)]
enum KeySet {
    /// The build side has no non-NULL key: no probe row can match.
    Empty,
    /// Keys lie in `min..=max`; `bits` (when present) marks which values occur, bit
    /// `value - min`. `complete`: every value of the range is a key (a dense primary key),
    /// so the range test alone is exact and `bits` is dropped.
    Range {
        min: i64,
        max: i64,
        bits: Option<Vec<u64>>,
        complete: bool,
    },
}

/// What a scan does with a row range, given its key column's statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeTest {
    /// No row of the range can match: skip it unread.
    Skip,
    /// Every row of the range matches: no need to test them.
    KeepAll,
    /// Test each row.
    Test,
}

impl KeySet {
    fn from_keys(keys: &ArrayRef) -> Option<KeySet> {
        let values = as_int64(keys)?;
        let values = values.as_primitive::<Int64Type>();
        let (min, max) = match (arrow::compute::min(values), arrow::compute::max(values)) {
            (Some(min), Some(max)) => (min, max),
            _ => return Some(KeySet::Empty),
        };
        let range = max.abs_diff(min);
        let bits = (range < MAX_BITMAP_RANGE).then(|| {
            let mut bits = vec![0u64; (range as usize + 1).div_ceil(64)];
            let mut set = |value: i64| {
                let offset = value.abs_diff(min) as usize;
                bits[offset >> 6] |= 1 << (offset & 63);
            };
            match values.nulls() {
                Some(nulls) => nulls.valid_indices().for_each(|i| set(values.value(i))),
                None => values.values().iter().for_each(|&v| set(v)),
            }
            bits
        });
        let complete = bits.as_ref().is_some_and(|bits| {
            let values = range as usize + 1;
            let ones: usize = bits.iter().map(|word| word.count_ones() as usize).sum();
            ones == values
        });
        let bits = if complete { None } else { bits };
        Some(KeySet::Range {
            min,
            max,
            bits,
            complete,
        })
    }

    fn contains(&self, value: i64) -> bool {
        match self {
            KeySet::Empty => false,
            KeySet::Range { min, max, bits, .. } => {
                if value < *min || value > *max {
                    return false;
                }
                match bits {
                    Some(bits) => {
                        let offset = value.abs_diff(*min) as usize;
                        bits[offset >> 6] & (1 << (offset & 63)) != 0
                    }
                    None => true,
                }
            }
        }
    }

    /// What to do with rows whose non-NULL keys lie in `low..=high`.
    fn test_range(&self, low: i64, high: i64, has_nulls: bool) -> RangeTest {
        match self {
            KeySet::Empty => RangeTest::Skip,
            KeySet::Range { min, max, .. } if high < *min || low > *max => RangeTest::Skip,
            KeySet::Range {
                min,
                max,
                complete: true,
                ..
            } if !has_nulls && *min <= low && high <= *max => RangeTest::KeepAll,
            KeySet::Range { .. } => RangeTest::Test,
        }
    }
}

/// `array` as `Int64`, or `None` for a type the filter does not handle.
fn as_int64(array: &ArrayRef) -> Option<ArrayRef> {
    match array.data_type() {
        DataType::Int64 => Some(Arc::clone(array)),
        DataType::Date32 => cast(&cast(array, &DataType::Int32).ok()?, &DataType::Int64).ok(),
        other if is_filterable_type(other) => cast(array, &DataType::Int64).ok(),
        _ => None,
    }
}

/// A statistics bound as `i64`, for the types [`is_filterable_type`] accepts.
fn scalar_as_i64(value: &ScalarValue) -> Option<i64> {
    match value {
        ScalarValue::Int16(Some(v)) => Some(i64::from(*v)),
        ScalarValue::Int32(Some(v)) | ScalarValue::Date32(Some(v)) => Some(i64::from(*v)),
        ScalarValue::Int64(Some(v)) => Some(*v),
        _ => None,
    }
}

/// The key set one hash join publishes for one of its key pairs, shared between the join
/// (writer, once) and the probe side's scan (reader).
#[derive(Debug)]
pub struct RuntimeFilter {
    /// Which of the join's key pairs this filter tests.
    key_index: usize,
    published: OnceLock<KeySet>,
    rows_tested: AtomicUsize,
    rows_kept: AtomicUsize,
    ranges_skipped: AtomicUsize,
    ranges_kept: AtomicUsize,
    /// Set once the filter has kept too many of the rows it tested to be worth testing.
    gave_up: AtomicBool,
}

impl RuntimeFilter {
    /// A filter over key pair `key_index` of a hash join, not yet published.
    pub fn new(key_index: usize) -> Arc<RuntimeFilter> {
        Arc::new(RuntimeFilter {
            key_index,
            published: OnceLock::new(),
            rows_tested: AtomicUsize::new(0),
            rows_kept: AtomicUsize::new(0),
            ranges_skipped: AtomicUsize::new(0),
            ranges_kept: AtomicUsize::new(0),
            gave_up: AtomicBool::new(false),
        })
    }

    /// Called by the hash join once its build is complete, with its build-side key arrays
    /// (one per key pair, already cast to the comparison type). A key of a type the filter
    /// does not handle publishes nothing, which leaves the filter passing every row.
    pub fn publish(&self, keys: &[ArrayRef]) {
        if let Some(set) = keys.get(self.key_index).and_then(KeySet::from_keys) {
            let _ = self.published.set(set);
        }
    }

    /// What a scan should do with a row range whose key column has `statistics`: test its
    /// rows until the join has published or when the statistics say nothing.
    pub fn test_range(&self, statistics: Option<&ColumnStatistics>) -> RangeTest {
        let (Some(set), Some(statistics)) = (self.published.get(), statistics) else {
            return RangeTest::Test;
        };
        let test = if statistics.null_count == statistics.row_count && statistics.row_count > 0 {
            RangeTest::Skip // NULL never matches
        } else {
            let bounds = statistics
                .min
                .as_ref()
                .and_then(scalar_as_i64)
                .zip(statistics.max.as_ref().and_then(scalar_as_i64));
            match bounds {
                Some((low, high)) => set.test_range(low, high, statistics.null_count > 0),
                None => RangeTest::Test,
            }
        };
        match test {
            RangeTest::Skip => self.ranges_skipped.fetch_add(1, Ordering::Relaxed),
            RangeTest::KeepAll => self.ranges_kept.fetch_add(1, Ordering::Relaxed),
            RangeTest::Test => 0,
        };
        test
    }

    /// Whether rows are still worth testing; decides (once) after [`ROWS_BEFORE_JUDGING`].
    fn tests_rows(&self) -> bool {
        if self.gave_up.load(Ordering::Relaxed) {
            return false;
        }
        let tested = self.rows_tested.load(Ordering::Relaxed);
        if tested < ROWS_BEFORE_JUDGING {
            return true;
        }
        let kept = self.rows_kept.load(Ordering::Relaxed);
        if kept as f64 > tested as f64 * KEEP_RATIO_GIVE_UP {
            self.gave_up.store(true, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// `rows tested → rows kept, ranges skipped` for EXPLAIN ANALYZE; `None` before publishing.
    fn summary(&self) -> Option<String> {
        self.published.get().map(|set| {
            let kind = match set {
                KeySet::Empty => "no keys",
                KeySet::Range { complete: true, .. } => "dense range",
                KeySet::Range { bits: Some(_), .. } => "bitmap",
                KeySet::Range { bits: None, .. } => "min/max",
            };
            let gave_up = match self.gave_up.load(Ordering::Relaxed) {
                true => ", then stopped testing rows",
                false => "",
            };
            format!(
                "{kind}, {} of {} rows kept{gave_up}, {} ranges skipped, {} kept untested",
                self.rows_kept.load(Ordering::Relaxed),
                self.rows_tested.load(Ordering::Relaxed),
                self.ranges_skipped.load(Ordering::Relaxed),
                self.ranges_kept.load(Ordering::Relaxed)
            )
        })
    }
}

/// `column IN (build keys of a hash join)`, as a scan filter over the table's columns.
#[derive(Debug)]
pub struct RuntimeFilterExpr {
    filter: Arc<RuntimeFilter>,
    /// The key column's index in the table schema.
    column: usize,
    /// The key column's name, for EXPLAIN.
    name: String,
}

impl RuntimeFilterExpr {
    /// Tests table column `column` (named `name`) against `filter`'s keys.
    pub fn new(filter: Arc<RuntimeFilter>, column: usize, name: impl Into<String>) -> Self {
        RuntimeFilterExpr {
            filter,
            column,
            name: name.into(),
        }
    }

    /// The key column's index in the table schema.
    pub fn column(&self) -> usize {
        self.column
    }

    /// The shared filter.
    pub fn filter(&self) -> &Arc<RuntimeFilter> {
        &self.filter
    }

    /// The key column, what was tested and what was kept, for EXPLAIN ANALYZE.
    pub fn describe(&self) -> String {
        match self.filter.summary() {
            Some(summary) => format!("{} ({summary})", self.name),
            None => self.name.clone(),
        }
    }
}

impl fmt::Display for RuntimeFilterExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} IN join keys", self.name)
    }
}

impl PhysicalExpr for RuntimeFilterExpr {
    fn data_type(&self) -> DataType {
        DataType::Boolean
    }

    fn nullable(&self) -> bool {
        true
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let all = || Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))));
        let Some(set) = self.filter.published.get() else {
            return all();
        };
        if !self.filter.tests_rows() {
            return all();
        }
        let Some(column) = batch.columns().get(self.column) else {
            return all();
        };
        let Some(values) = as_int64(column) else {
            return all();
        };
        let values = values.as_primitive::<Int64Type>();
        let raw = values.values();
        let mask = BooleanBuffer::collect_bool(raw.len(), |i| set.contains(raw[i]));
        let mask = BooleanArray::new(mask, values.nulls().cloned());
        let kept = mask.true_count();
        self.filter
            .rows_tested
            .fetch_add(mask.len(), Ordering::Relaxed);
        self.filter.rows_kept.fetch_add(kept, Ordering::Relaxed);
        Ok(ColumnarValue::Array(Arc::new(mask)))
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Date32Array, Int32Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;
    use crate::physical_plan::filter::Selection;

    fn int64s(values: &[Option<i64>]) -> ArrayRef {
        Arc::new(values.iter().copied().collect::<Int64Array>())
    }

    /// One batch `(k Int64, s Utf8)` with the keys `keys`.
    fn probe_batch(keys: &[Option<i64>]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("k", DataType::Int64, true),
        ]));
        let text: StringArray = keys.iter().map(|k| k.map(|k| format!("v{k}"))).collect();
        RecordBatch::try_new(schema, vec![Arc::new(text), int64s(keys)]).unwrap()
    }

    /// The keys of `keys` that `filter` keeps (NULL counts as dropped).
    fn kept(expr: &RuntimeFilterExpr, keys: &[Option<i64>]) -> Vec<Option<i64>> {
        let batch = probe_batch(keys);
        match Selection::evaluate(expr, &batch).unwrap() {
            Selection::All => keys.to_vec(),
            Selection::Nothing => vec![],
            Selection::Rows(mask) => keys
                .iter()
                .zip(mask.iter())
                .filter(|(_, m)| *m == Some(true))
                .map(|(k, _)| *k)
                .collect(),
        }
    }

    #[test]
    fn passes_everything_until_published_then_only_build_keys() {
        let filter = RuntimeFilter::new(1);
        let expr = RuntimeFilterExpr::new(Arc::clone(&filter), 1, "t.k");
        let probe = [Some(1), Some(5), None, Some(7), Some(100), Some(-3)];
        assert_eq!(kept(&expr, &probe), probe.to_vec());
        assert_eq!(expr.describe(), "t.k");
        // Key pair 1 is tested; pair 0 is another key of the same join.
        filter.publish(&[
            int64s(&[Some(999)]),
            int64s(&[Some(7), None, Some(5), Some(7), Some(-3)]),
        ]);
        assert_eq!(kept(&expr, &probe), vec![Some(5), Some(7), Some(-3)]);
        assert_eq!(
            expr.describe(),
            "t.k (bitmap, 3 of 6 rows kept, 0 ranges skipped, 0 kept untested)"
        );
        assert_eq!(expr.to_string(), "t.k IN join keys");
    }

    #[test]
    fn an_empty_or_all_null_build_side_keeps_nothing() {
        let filter = RuntimeFilter::new(0);
        filter.publish(&[int64s(&[None, None])]);
        let expr = RuntimeFilterExpr::new(Arc::clone(&filter), 1, "t.k");
        assert_eq!(kept(&expr, &[Some(1), None, Some(2)]), vec![]);
        let statistics = ColumnStatistics::compute(&Int64Array::from(vec![1, 2]));
        assert_eq!(filter.test_range(Some(&statistics)), RangeTest::Skip);
    }

    #[test]
    fn wide_key_ranges_fall_back_to_min_max() {
        let filter = RuntimeFilter::new(0);
        filter.publish(&[int64s(&[Some(-(1 << 40)), Some(1 << 40), Some(0)])]);
        let expr = RuntimeFilterExpr::new(Arc::clone(&filter), 1, "t.k");
        // Inside the range every value passes (no bitmap); outside none does.
        assert_eq!(
            kept(
                &expr,
                &[Some(5), Some(1 << 41), Some(-(1 << 41)), Some(1 << 40)]
            ),
            vec![Some(5), Some(1 << 40)]
        );
        assert!(
            expr.describe().starts_with("t.k (min/max,"),
            "{}",
            expr.describe()
        );
        // Extreme values do not overflow the offset arithmetic.
        let extremes = RuntimeFilter::new(0);
        extremes.publish(&[int64s(&[Some(i64::MIN), Some(i64::MAX)])]);
        let expr = RuntimeFilterExpr::new(extremes, 1, "t.k");
        assert_eq!(kept(&expr, &[Some(0), Some(i64::MAX)]).len(), 2);
    }

    #[test]
    fn chunk_statistics_outside_the_key_range_are_skipped() {
        let filter = RuntimeFilter::new(0);
        let low = ColumnStatistics::compute(&Int64Array::from(vec![1, 9]));
        let high = ColumnStatistics::compute(&Int64Array::from(vec![20, 29]));
        // Not published yet: nothing is skipped.
        assert_eq!(filter.test_range(Some(&low)), RangeTest::Test);
        filter.publish(&[int64s(&[Some(10), Some(15)])]);
        assert_eq!(filter.test_range(Some(&low)), RangeTest::Skip);
        assert_eq!(filter.test_range(Some(&high)), RangeTest::Skip);
        let straddling = ColumnStatistics::compute(&Int64Array::from(vec![3, 12]));
        assert_eq!(filter.test_range(Some(&straddling)), RangeTest::Test);
        // Inside the range but the keys have holes (11 to 14): each row is tested.
        let inside = ColumnStatistics::compute(&Int64Array::from(vec![10, 15]));
        assert_eq!(filter.test_range(Some(&inside)), RangeTest::Test);
        assert_eq!(filter.test_range(None), RangeTest::Test);
        let nulls = ColumnStatistics::compute(&Int64Array::from(vec![None, None]));
        assert_eq!(filter.test_range(Some(&nulls)), RangeTest::Skip);
        assert_eq!(filter.ranges_skipped.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn a_dense_key_range_keeps_ranges_inside_it_untested() {
        // Every value 10..=20 is a key (in any order, with duplicates): a dense primary key.
        let filter = RuntimeFilter::new(0);
        let keys: Vec<Option<i64>> = (10..=20).rev().chain([12, 12]).map(Some).collect();
        filter.publish(&[int64s(&keys)]);
        let expr = RuntimeFilterExpr::new(Arc::clone(&filter), 1, "t.k");
        let inside = ColumnStatistics::compute(&Int64Array::from(vec![12, 18]));
        assert_eq!(filter.test_range(Some(&inside)), RangeTest::KeepAll);
        // A NULL key in the range still has to be dropped.
        let with_null = ColumnStatistics::compute(&Int64Array::from(vec![Some(12), None]));
        assert_eq!(filter.test_range(Some(&with_null)), RangeTest::Test);
        let overlapping = ColumnStatistics::compute(&Int64Array::from(vec![5, 12]));
        assert_eq!(filter.test_range(Some(&overlapping)), RangeTest::Test);
        assert_eq!(
            kept(&expr, &[Some(9), Some(10), Some(20), Some(21), None]),
            vec![Some(10), Some(20)]
        );
        assert!(expr
            .describe()
            .starts_with("t.k (dense range, 2 of 5 rows kept"));
        assert!(
            expr.describe().ends_with("1 kept untested)"),
            "{}",
            expr.describe()
        );
    }

    #[test]
    fn stops_testing_rows_when_nearly_all_match() {
        // Keys 0..1000 without 500: a probe of 0..1000 keeps 99.9%, so after judging the
        // filter lets rows through untested (the join drops the few non-matching ones).
        let filter = RuntimeFilter::new(0);
        let keys: Vec<Option<i64>> = (0..1000).filter(|&k| k != 500).map(Some).collect();
        filter.publish(&[int64s(&keys)]);
        let expr = RuntimeFilterExpr::new(Arc::clone(&filter), 1, "t.k");
        let probe: Vec<Option<i64>> = (0..1000).map(Some).collect();
        assert_eq!(kept(&expr, &probe).len(), 999);
        while filter.rows_tested.load(Ordering::Relaxed) < ROWS_BEFORE_JUDGING {
            kept(&expr, &probe);
        }
        assert_eq!(kept(&expr, &probe).len(), 1000);
        assert!(
            expr.describe()
                .contains("rows kept, then stopped testing rows"),
            "{}",
            expr.describe()
        );
        // A selective filter keeps testing.
        let selective = RuntimeFilter::new(0);
        selective.publish(&[int64s(&[Some(1), Some(3)])]);
        let expr = RuntimeFilterExpr::new(Arc::clone(&selective), 1, "t.k");
        while selective.rows_tested.load(Ordering::Relaxed) < 2 * ROWS_BEFORE_JUDGING {
            assert_eq!(kept(&expr, &probe), vec![Some(1), Some(3)]);
        }
        assert!(!selective.gave_up.load(Ordering::Relaxed));
    }

    #[test]
    fn narrower_integers_and_dates_compare_as_int64() {
        let filter = RuntimeFilter::new(0);
        filter.publish(&[Arc::new(Int32Array::from(vec![3, 4])) as ArrayRef]);
        let dates: ArrayRef = Arc::new(Date32Array::from(vec![Some(4), Some(5), None]));
        let schema = Arc::new(Schema::new(vec![Field::new("d", DataType::Date32, true)]));
        let batch = RecordBatch::try_new(schema, vec![dates]).unwrap();
        let expr = RuntimeFilterExpr::new(filter, 0, "t.d");
        let Selection::Rows(mask) = Selection::evaluate(&expr, &batch).unwrap() else {
            panic!("expected a row selection");
        };
        assert_eq!(
            mask.iter().collect::<Vec<_>>(),
            [Some(true), Some(false), Some(false)]
        );
        // A text key publishes nothing: the filter stays open.
        let text = RuntimeFilter::new(0);
        text.publish(&[Arc::new(StringArray::from(vec!["a"])) as ArrayRef]);
        assert!(text.summary().is_none());
        assert!(!is_filterable_type(&DataType::Utf8));
        assert!(!is_filterable_type(&DataType::Float64));
    }
}
