//! DataFusion as a second engine: run SQL over in-memory batches and compare results by value.
//!
//! Differential tests give Quiver and DataFusion the same batches and compare what comes back.
//! The two engines legitimately differ in physical types (Int32 vs Int64 sums, dictionary vs
//! plain strings, Utf8 vs Utf8View, Decimal scales) and in float rounding, so results are first
//! turned into [`CanonValue`] rows that keep the *value* and drop the representation, and then
//! compared as multisets ([`compare_multiset`]) or, when the query orders its output, in order
//! ([`compare_ordered`]).
//!
//! # DataFusion 55.2 behaviour, measured
//!
//! Measured with this module's `run_sql` (default `SessionConfig`, Arrow 59.3), on table columns
//! and on constant-folded literals alike; `tests::datafusion_facts` asserts every line, so it
//! fails first if an upgrade changes one.
//!
//! - **Integer overflow wraps silently** (two's complement) in `+`, `-`, `*` and unary `-`:
//!   `i64::MAX + 1 = i64::MIN`, `i64::MAX * 2 = -2`, `-i64::MIN = i64::MIN`. Int32 `+` Int32
//!   stays Int32 and wraps too; an integer *literal* is Int64, so `int32_col + 1` widens to Int64
//!   and does not overflow. `sum()` of Int64 wraps as well; `sum()` of Int32 is Int64.
//!   Exceptions that *are* errors: `i64::MIN / -1` (`Arrow error: Arithmetic overflow: Overflow
//!   happened on: -9223372036854775808 / -1`), `abs(i64::MIN)`, and a CAST that does not fit
//!   (`Cast error: Can't cast value 2147483647 to type Int16`). `i64::MIN % -1` is 0.
//! - **Decimal overflow is an error** when the i128 overflows (`Arithmetic overflow: Overflow
//!   happened on: … + …`); precision is not checked: `sum()` widens precision by 10 (capped at
//!   38) and can return a value with more digits than its type declares.
//! - **Division by zero is an error** for integers and decimals, with `/` and `%`, in columns and
//!   literals: `Arrow error: Divide by zero error`. Floats follow IEEE 754: `1.0 / 0.0 = inf`,
//!   `0.0 / 0.0 = NaN` (`1.5 / 0` too: the integer 0 is coerced to Float64).
//! - **Integer division truncates** toward zero: `-7 / 2 = -3`, `-7 % 2 = -1`. CAST of a float
//!   or decimal to an integer truncates too (`2.5 → 2`, `-2.5 → -2`).
//! - **NULL ordering**: `ORDER BY x` (ASC) puts NULLs *last* and `ORDER BY x DESC` puts them
//!   *first*, i.e. NULL sorts as the largest value, as in PostgreSQL (Django's reference
//!   backend); `NULLS FIRST` / `NULLS LAST` override it.
//! - **Types**: a literal like `1.5` is Float64, not Decimal (`parse_float_as_decimal` is off);
//!   `avg()` of integers is Float64. Two projected expressions with the same text need aliases
//!   (`Projections require unique expression names`).
//!
//! For differential tests this means: compare "both fail" for division by zero and decimal
//! overflow; never compare results of integer overflow (DataFusion's wrapped value is not a
//! reference); and spell out NULLS FIRST/LAST wherever Quiver's default is not the one above.

use std::cmp::Ordering;
use std::fmt;
use std::sync::{Arc, LazyLock};

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Decimal256Type, Decimal32Type, Decimal64Type,
    DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
    Float16Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, SchemaRef,
    TimeUnit, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use tokio::runtime::Runtime;

/// One runtime for every test in the binary: building a runtime per query costs more than the
/// small queries these tests run.
static RUNTIME: LazyLock<Result<Runtime, String>> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the tokio runtime: {error}"))
});

/// Registers each `(name, schema, batches)` as a one-partition `MemTable` in a fresh
/// `SessionContext` (2 target partitions, so repartitioning paths run too) and runs `sql`.
/// Any planning or execution failure comes back as DataFusion's error text.
pub fn run_sql(
    tables: &[(&str, SchemaRef, Vec<RecordBatch>)],
    sql: &str,
) -> Result<Vec<RecordBatch>, String> {
    let runtime = RUNTIME.as_ref().map_err(String::clone)?;
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
    for (name, schema, batches) in tables {
        let table = MemTable::try_new(Arc::clone(schema), vec![batches.clone()])
            .map_err(|error| error.to_string())?;
        ctx.register_table(*name, Arc::new(table))
            .map_err(|error| error.to_string())?;
    }
    runtime.block_on(async {
        let frame = ctx.sql(sql).await.map_err(|error| error.to_string())?;
        frame.collect().await.map_err(|error| error.to_string())
    })
}

/// A result value with its physical representation erased, so that engines which choose
/// different Arrow types for the same SQL value compare equal.
#[derive(Debug, Clone)]
pub enum CanonValue {
    Null,
    Bool(bool),
    /// Every signed and unsigned integer width.
    Int(i128),
    /// Float16, Float32 and Float64.
    Float(f64),
    /// `(unscaled, scale)` with trailing zeros removed down to scale 0, so `1.50` (150, 2) and
    /// `1.5` (15, 1) are both `(15, 1)`, and `2.00` is `(2, 0)`, equal to `Int(2)`.
    Decimal(i128, i8),
    /// Utf8, LargeUtf8 and Utf8View, and dictionaries of them.
    Str(String),
    /// Days since the epoch (Date32, and Date64 divided down).
    Date(i32),
    /// Nanoseconds since the epoch in UTC, whatever the unit; the time zone is not compared.
    /// i128 rather than i64 so that seconds far from 1970 do not overflow when scaled.
    Timestamp(i128),
    /// Nanoseconds, whatever the unit.
    Duration(i128),
    /// Any other type, as `"<data type>: <Arrow's display of the value>"`: compared exactly.
    Other(String),
}

impl fmt::Display for CanonValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CanonValue::Null => write!(f, "NULL"),
            CanonValue::Bool(value) => write!(f, "{value}"),
            CanonValue::Int(value) => write!(f, "{value}"),
            CanonValue::Float(value) => write!(f, "{value:?}"),
            CanonValue::Decimal(unscaled, scale) => match usize::try_from(*scale) {
                Ok(scale) => {
                    let sign = if *unscaled < 0 { "-" } else { "" };
                    let digits = format!("{:0>width$}", unscaled.unsigned_abs(), width = scale + 1);
                    let (whole, fraction) = digits.split_at(digits.len() - scale);
                    let point = if scale > 0 { "." } else { "" };
                    write!(f, "{sign}{whole}{point}{fraction} (decimal)")
                }
                Err(_) => write!(f, "{unscaled}e{} (decimal)", -i16::from(*scale)),
            },
            CanonValue::Str(value) => write!(f, "{value:?}"),
            CanonValue::Date(days) => write!(f, "date({days} days)"),
            CanonValue::Timestamp(nanos) => write!(f, "timestamp({nanos} ns)"),
            CanonValue::Duration(nanos) => write!(f, "duration({nanos} ns)"),
            CanonValue::Other(text) => write!(f, "{text}"),
        }
    }
}

/// All rows of `batches` as canonical values, in result order.
pub fn canonical_rows(batches: &[RecordBatch]) -> Vec<Vec<CanonValue>> {
    let mut rows = Vec::new();
    for batch in batches {
        let columns: Vec<Vec<CanonValue>> = batch.columns().iter().map(canon_column).collect();
        for row in 0..batch.num_rows() {
            rows.push(columns.iter().map(|column| column[row].clone()).collect());
        }
    }
    rows
}

fn canon_column(array: &ArrayRef) -> Vec<CanonValue> {
    fn each<T>(
        array: &dyn Array,
        value: impl Fn(usize) -> T,
        canon: impl Fn(T) -> CanonValue,
    ) -> Vec<CanonValue> {
        (0..array.len())
            .map(|row| {
                if array.is_null(row) {
                    CanonValue::Null
                } else {
                    canon(value(row))
                }
            })
            .collect()
    }
    macro_rules! int {
        ($type:ty) => {{
            let values = array.as_primitive::<$type>();
            each(
                array,
                |row| values.value(row),
                |v| CanonValue::Int(i128::from(v)),
            )
        }};
    }
    macro_rules! float {
        ($type:ty) => {{
            let values = array.as_primitive::<$type>();
            each(
                array,
                |row| values.value(row),
                |v| CanonValue::Float(f64::from(v)),
            )
        }};
    }
    macro_rules! decimal {
        ($type:ty, $scale:expr) => {{
            let values = array.as_primitive::<$type>();
            let scale = *$scale;
            each(
                array,
                |row| values.value(row),
                |v| decimal(i128::from(v), scale),
            )
        }};
    }
    macro_rules! scaled {
        ($type:ty, $variant:ident, $nanos_per_unit:expr) => {{
            let values = array.as_primitive::<$type>();
            each(
                array,
                |row| values.value(row),
                |v| CanonValue::$variant(i128::from(v) * $nanos_per_unit),
            )
        }};
    }

    match array.data_type() {
        DataType::Null => vec![CanonValue::Null; array.len()],
        DataType::Boolean => {
            let values = array.as_boolean();
            each(array, |row| values.value(row), CanonValue::Bool)
        }
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        DataType::Float16 => {
            let values = array.as_primitive::<Float16Type>();
            each(
                array,
                |row| values.value(row),
                |v| CanonValue::Float(v.to_f64()),
            )
        }
        DataType::Float32 => float!(Float32Type),
        DataType::Float64 => float!(Float64Type),
        DataType::Decimal32(_, scale) => decimal!(Decimal32Type, scale),
        DataType::Decimal64(_, scale) => decimal!(Decimal64Type, scale),
        DataType::Decimal128(_, scale) => decimal!(Decimal128Type, scale),
        DataType::Decimal256(_, scale) => {
            let values = array.as_primitive::<Decimal256Type>();
            let scale = *scale;
            each(
                array,
                |row| values.value(row),
                |v| match v.to_i128() {
                    Some(v) => decimal(v, scale),
                    None => CanonValue::Other(format!("Decimal256 {v}e-{scale}")),
                },
            )
        }
        DataType::Utf8 => {
            let values = array.as_string::<i32>();
            each(
                array,
                |row| values.value(row),
                |v| CanonValue::Str(v.to_owned()),
            )
        }
        DataType::LargeUtf8 => {
            let values = array.as_string::<i64>();
            each(
                array,
                |row| values.value(row),
                |v| CanonValue::Str(v.to_owned()),
            )
        }
        DataType::Utf8View => {
            let values = array.as_string_view();
            each(
                array,
                |row| values.value(row),
                |v| CanonValue::Str(v.to_owned()),
            )
        }
        DataType::Date32 => {
            let values = array.as_primitive::<Date32Type>();
            each(array, |row| values.value(row), CanonValue::Date)
        }
        DataType::Date64 => {
            let values = array.as_primitive::<Date64Type>();
            let days = |millis: i64| millis.div_euclid(86_400_000) as i32;
            each(
                array,
                |row| values.value(row),
                |v| CanonValue::Date(days(v)),
            )
        }
        DataType::Timestamp(TimeUnit::Second, _) => {
            scaled!(TimestampSecondType, Timestamp, 1_000_000_000)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            scaled!(TimestampMillisecondType, Timestamp, 1_000_000)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            scaled!(TimestampMicrosecondType, Timestamp, 1_000)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            scaled!(TimestampNanosecondType, Timestamp, 1)
        }
        DataType::Duration(TimeUnit::Second) => {
            scaled!(DurationSecondType, Duration, 1_000_000_000)
        }
        DataType::Duration(TimeUnit::Millisecond) => {
            scaled!(DurationMillisecondType, Duration, 1_000_000)
        }
        DataType::Duration(TimeUnit::Microsecond) => {
            scaled!(DurationMicrosecondType, Duration, 1_000)
        }
        DataType::Duration(TimeUnit::Nanosecond) => scaled!(DurationNanosecondType, Duration, 1),
        DataType::Dictionary(_, _) => {
            let dictionary = array.as_any_dictionary();
            let values = canon_column(dictionary.values());
            let keys = dictionary.normalized_keys();
            (0..array.len())
                .map(|row| {
                    if array.is_null(row) {
                        CanonValue::Null
                    } else {
                        values[keys[row]].clone()
                    }
                })
                .collect()
        }
        data_type => {
            let options = FormatOptions::default().with_null("NULL");
            match ArrayFormatter::try_new(array.as_ref(), &options) {
                Ok(formatter) => each(
                    array,
                    |row| formatter.value(row).to_string(),
                    |text| CanonValue::Other(format!("{data_type}: {text}")),
                ),
                Err(error) => {
                    let text = format!("{data_type}: cannot display: {error}");
                    vec![CanonValue::Other(text); array.len()]
                }
            }
        }
    }
}

/// A decimal with trailing zeros removed (down to scale 0) and negative scales raised to 0.
fn decimal(mut unscaled: i128, mut scale: i8) -> CanonValue {
    while scale > 0 && unscaled % 10 == 0 {
        unscaled /= 10;
        scale -= 1;
    }
    while scale < 0 {
        match unscaled.checked_mul(10) {
            Some(raised) => {
                unscaled = raised;
                scale += 1;
            }
            None => break,
        }
    }
    CanonValue::Decimal(unscaled, scale)
}

/// Relative tolerance for floats: results of float aggregates depend on summation order, which
/// depends on partitioning; 1e-9 is far above that noise and far below any real bug.
const FLOAT_TOLERANCE: f64 = 1e-9;

fn floats_match(a: f64, b: f64) -> bool {
    let close = || (a - b).abs() <= FLOAT_TOLERANCE * a.abs().max(b.abs());
    a == b || (a.is_nan() && b.is_nan()) || (a.is_finite() && b.is_finite() && close())
}

/// `Int` and `Decimal` as an exact `(unscaled, scale)` pair, for comparing across the two.
fn exact_number(value: &CanonValue) -> Option<(i128, i8)> {
    match *value {
        CanonValue::Int(int) => Some((int, 0)),
        CanonValue::Decimal(unscaled, scale) => Some((unscaled, scale)),
        _ => None,
    }
}

/// Whether two values are the same result value: floats within [`FLOAT_TOLERANCE`] (NaN equals
/// NaN), decimals by value across scales, integers equal to decimals of the same value. A float
/// never equals an integer or a decimal: a type change (say, `avg` returning an integer) is a
/// difference worth reporting.
pub fn values_match(a: &CanonValue, b: &CanonValue) -> bool {
    use CanonValue::*;
    match (a, b) {
        (Float(a), Float(b)) => floats_match(*a, *b),
        (Int(_) | Decimal(..), Int(_) | Decimal(..)) => match (exact_number(a), exact_number(b)) {
            (Some(a), Some(b)) => cmp_exact(a, b) == Some(Ordering::Equal),
            _ => false,
        },
        (Null, Null) => true,
        (Bool(a), Bool(b)) => a == b,
        (Str(a), Str(b)) | (Other(a), Other(b)) => a == b,
        (Date(a), Date(b)) => a == b,
        (Timestamp(a), Timestamp(b)) | (Duration(a), Duration(b)) => a == b,
        _ => false,
    }
}

fn rank(value: &CanonValue) -> u8 {
    match value {
        CanonValue::Null => 0,
        CanonValue::Bool(_) => 1,
        CanonValue::Int(_) | CanonValue::Decimal(..) | CanonValue::Float(_) => 2,
        CanonValue::Str(_) => 3,
        CanonValue::Date(_) => 4,
        CanonValue::Timestamp(_) => 5,
        CanonValue::Duration(_) => 6,
        CanonValue::Other(_) => 7,
    }
}

fn as_f64(value: &CanonValue) -> f64 {
    match *value {
        CanonValue::Int(int) => int as f64,
        CanonValue::Decimal(unscaled, scale) => unscaled as f64 / 10f64.powi(i32::from(scale)),
        CanonValue::Float(float) => float,
        _ => f64::NAN,
    }
}

/// Compares `a · 10^-sa` with `b · 10^-sb` exactly when the rescaling fits in i128.
fn cmp_exact((a, sa): (i128, i8), (b, sb): (i128, i8)) -> Option<Ordering> {
    let raise = |value: i128, by: i16| {
        10_i128
            .checked_pow(u32::from(by.unsigned_abs()))?
            .checked_mul(value)
    };
    let (sa, sb) = (i16::from(sa), i16::from(sb));
    let (a, b) = match sa.cmp(&sb) {
        Ordering::Less => (raise(a, sb - sa)?, b),
        Ordering::Greater => (a, raise(b, sa - sb)?),
        Ordering::Equal => (a, b),
    };
    Some(a.cmp(&b))
}

/// A total order on canonical values consistent with [`values_match`] up to float tolerance:
/// NULL first, then by kind, numbers by value (integers, decimals and floats interleaved), ties
/// between number kinds broken by kind so the order stays total.
pub fn total_cmp(a: &CanonValue, b: &CanonValue) -> Ordering {
    use CanonValue::*;
    rank(a).cmp(&rank(b)).then_with(|| match (a, b) {
        (Bool(a), Bool(b)) => a.cmp(b),
        (Str(a), Str(b)) | (Other(a), Other(b)) => a.cmp(b),
        (Date(a), Date(b)) => a.cmp(b),
        (Timestamp(a), Timestamp(b)) | (Duration(a), Duration(b)) => a.cmp(b),
        (Int(_) | Decimal(..) | Float(_), Int(_) | Decimal(..) | Float(_)) => {
            let by_value = match (exact_number(a), exact_number(b)) {
                (Some(a), Some(b)) => cmp_exact(a, b),
                _ => None,
            };
            let number_kind = |value: &CanonValue| matches!(value, Float(_));
            by_value
                .unwrap_or_else(|| as_f64(a).total_cmp(&as_f64(b)))
                .then_with(|| number_kind(a).cmp(&number_kind(b)))
        }
        _ => Ordering::Equal,
    })
}

fn format_row(row: &[CanonValue]) -> String {
    let values: Vec<String> = row.iter().map(ToString::to_string).collect();
    format!("({})", values.join(", "))
}

/// Compares two results in order, row by row; on a difference, the error names the first
/// differing row and column and shows both rows.
pub fn compare_ordered(left: &[Vec<CanonValue>], right: &[Vec<CanonValue>]) -> Result<(), String> {
    let row_counts = if left.len() == right.len() {
        String::new()
    } else {
        format!("row counts differ: {} vs {}; ", left.len(), right.len())
    };
    for (index, (a, b)) in left.iter().zip(right).enumerate() {
        if a.len() != b.len() {
            return Err(format!(
                "{row_counts}row {index} has {} columns vs {}:\n  left:  {}\n  right: {}",
                a.len(),
                b.len(),
                format_row(a),
                format_row(b)
            ));
        }
        if let Some(column) = (0..a.len()).find(|&c| !values_match(&a[c], &b[c])) {
            return Err(format!(
                "{row_counts}row {index} differs at column {column} ({} vs {}):\n  left:  {}\n  right: {}",
                a[column],
                b[column],
                format_row(a),
                format_row(b)
            ));
        }
    }
    match left.len().cmp(&right.len()) {
        Ordering::Equal => Ok(()),
        Ordering::Greater => Err(format!(
            "{row_counts}first extra row on the left: {}",
            format_row(&left[right.len()])
        )),
        Ordering::Less => Err(format!(
            "{row_counts}first extra row on the right: {}",
            format_row(&right[left.len()])
        )),
    }
}

/// Compares two results as multisets of rows (for queries without ORDER BY).
///
/// Both sides are sorted by [`total_cmp`], with the columns holding floats compared last: floats
/// only match within a tolerance, and sorting on them first could order two rows differently on
/// the two sides when their floats differ by rounding noise.
pub fn compare_multiset(left: &[Vec<CanonValue>], right: &[Vec<CanonValue>]) -> Result<(), String> {
    let width = left.iter().chain(right).map(Vec::len).max().unwrap_or(0);
    let has_float = |column: usize| {
        left.iter()
            .chain(right)
            .any(|row| matches!(row.get(column), Some(CanonValue::Float(_))))
    };
    let (exact, floats): (Vec<usize>, Vec<usize>) = (0..width).partition(|&c| !has_float(c));
    let order: Vec<usize> = exact.into_iter().chain(floats).collect();
    let sorted = |rows: &[Vec<CanonValue>]| {
        let mut rows = rows.to_vec();
        rows.sort_by(|a, b| {
            order
                .iter()
                .map(|&c| match (a.get(c), b.get(c)) {
                    (Some(x), Some(y)) => total_cmp(x, y),
                    (x, y) => x.is_some().cmp(&y.is_some()),
                })
                .find(|ordering| ordering.is_ne())
                .unwrap_or(Ordering::Equal)
        });
        rows
    };
    compare_ordered(&sorted(left), &sorted(right))
        .map_err(|diff| format!("after sorting both sides, {diff}"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        DictionaryArray, Float64Array, Int32Array, Int64Array, StringArray, StringViewArray,
    };
    use arrow::datatypes::{Field, Schema};

    use super::CanonValue::{Decimal, Float, Int, Null, Str};
    use super::*;

    fn sql(query: &str) -> Vec<Vec<CanonValue>> {
        let batches = run_sql(&[], query).unwrap_or_else(|error| panic!("{query}: {error}"));
        canonical_rows(&batches)
    }

    fn sql_error(query: &str) -> String {
        match run_sql(&[], query) {
            Ok(batches) => panic!("{query} succeeded: {:?}", canonical_rows(&batches)),
            Err(error) => error,
        }
    }

    /// A tiny table with a dictionary key, a plain string key and two measures.
    fn sales() -> (SchemaRef, Vec<RecordBatch>) {
        let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let schema = Arc::new(Schema::new(vec![
            Field::new("region", dictionary, true),
            Field::new("city", DataType::Utf8View, false),
            Field::new("units", DataType::Int32, true),
            Field::new("price", DataType::Float64, false),
        ]));
        let region: DictionaryArray<Int32Type> = vec![
            Some("north"),
            Some("south"),
            Some("north"),
            None,
            Some("south"),
        ]
        .into_iter()
        .collect();
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(region),
                Arc::new(StringViewArray::from(vec![
                    "oslo", "rome", "oslo", "lima", "nice",
                ])),
                Arc::new(Int32Array::from(vec![
                    Some(1),
                    Some(2),
                    Some(3),
                    Some(4),
                    None,
                ])),
                Arc::new(Float64Array::from(vec![0.1, 0.2, 0.3, 0.4, 0.5])),
            ],
        )
        .expect("valid batch");
        (schema, vec![batch.slice(0, 2), batch.slice(2, 3)])
    }

    fn str(value: &str) -> CanonValue {
        Str(value.to_owned())
    }

    #[test]
    fn literals_and_null() {
        assert_eq!(format_row(&sql("SELECT 1 AS a, NULL AS b")[0]), "(1, NULL)");
        let rows = sql("SELECT 1 AS a, NULL AS b");
        compare_ordered(&rows, &[vec![Int(1), Null]]).expect("same row");
        assert!(compare_ordered(&rows, &[vec![Int(1), Int(0)]]).is_err());
        assert!(compare_ordered(&rows, &[vec![Null, Null]]).is_err());
    }

    #[test]
    fn group_by_over_a_tiny_table_sees_through_types() {
        let (schema, batches) = sales();
        let rows = run_sql(
            &[("sales", schema, batches)],
            "SELECT region, sum(units) AS units, sum(price) AS revenue, count(*) AS n \
             FROM sales GROUP BY region",
        )
        .expect("query runs");
        let rows = canonical_rows(&rows);
        // Dictionary keys are looked through, Int64 sums are plain ints, and the float sums
        // match despite rounding (0.1 + 0.3 is 0.4 only within tolerance).
        let expected = vec![
            vec![Null, Int(4), Float(0.4), Int(1)],
            vec![str("south"), Int(2), Float(0.7), Int(2)],
            vec![str("north"), Int(4), Float(0.4), Int(2)],
        ];
        compare_multiset(&rows, &expected).expect("same multiset");

        // Wrong value, missing row, extra row: each reported, and the message says where.
        let mut wrong = expected.clone();
        wrong[1][1] = Int(3);
        let diff = compare_multiset(&rows, &wrong).expect_err("2 vs 3");
        assert!(diff.contains("column 1 (2 vs 3)"), "{diff}");
        assert!(diff.contains("\"south\""), "{diff}");
        let diff = compare_multiset(&rows, &expected[..2]).expect_err("missing row");
        assert!(diff.contains("row counts differ: 3 vs 2"), "{diff}");
        let mut extra = expected.clone();
        extra.push(expected[0].clone());
        assert!(compare_multiset(&rows, &extra).is_err());

        // Utf8View columns come back as Str too.
        let (schema, batches) = sales();
        let cities = run_sql(
            &[("sales", schema, batches)],
            "SELECT city FROM sales WHERE units IS NULL OR units > 3 ORDER BY city",
        )
        .expect("query runs");
        compare_ordered(
            &canonical_rows(&cities),
            &[vec![str("lima")], vec![str("nice")]],
        )
        .expect("same rows in order");
    }

    #[test]
    fn ordered_and_multiset_comparisons_differ_on_order() {
        let a = vec![vec![Int(1)], vec![Int(2)]];
        let b = vec![vec![Int(2)], vec![Int(1)]];
        compare_multiset(&a, &b).expect("same multiset");
        let diff = compare_ordered(&a, &b).expect_err("different order");
        assert!(diff.starts_with("row 0 differs at column 0"), "{diff}");
        // Multiplicity matters.
        assert!(compare_multiset(&[vec![Int(1)], vec![Int(1)]], &[vec![Int(1)]]).is_err());
        assert!(
            compare_multiset(&[vec![Int(1)], vec![Int(1)]], &[vec![Int(1)], vec![Int(2)]]).is_err()
        );
    }

    #[test]
    fn numbers_compare_by_value() {
        // Floats: relative tolerance 1e-9, NaN equals NaN, infinities only themselves.
        assert!(values_match(&Float(1.0), &Float(1.0 + 1e-12)));
        assert!(values_match(&Float(1e20), &Float(1e20 * (1.0 + 5e-10))));
        assert!(!values_match(&Float(1.0), &Float(1.0001)));
        assert!(!values_match(&Float(0.0), &Float(1e-300)));
        assert!(values_match(&Float(f64::NAN), &Float(f64::NAN)));
        assert!(values_match(&Float(f64::INFINITY), &Float(f64::INFINITY)));
        assert!(!values_match(
            &Float(f64::INFINITY),
            &Float(f64::NEG_INFINITY)
        ));
        assert!(!values_match(&Float(f64::NAN), &Null));
        // A float never equals an int of the same value: the result type changed.
        assert!(!values_match(&Float(2.0), &Int(2)));

        // Decimals by value across scales, and against integers.
        let decimals = sql(
            "SELECT CAST('1.5' AS DECIMAL(10, 1)) AS a, CAST('1.5' AS DECIMAL(20, 4)) AS b, \
                    CAST(2 AS DECIMAL(10, 2)) AS c, CAST('-0.25' AS DECIMAL(5, 3)) AS d",
        );
        compare_ordered(
            &decimals,
            &[vec![
                Decimal(15, 1),
                Decimal(15000, 4),
                Int(2),
                Decimal(-25, 2),
            ]],
        )
        .expect("decimals normalised");
        assert!(!values_match(&Decimal(15, 1), &Decimal(16, 1)));
        assert!(!values_match(&Decimal(15, 1), &Int(1)));

        // Sorting interleaves number kinds by value, so mixed representations still pair up.
        let left = vec![vec![Int(3)], vec![Decimal(25, 1)], vec![Int(-1)]];
        let right = vec![vec![Decimal(-10, 1)], vec![Int(3)], vec![Decimal(250, 2)]];
        compare_multiset(&left, &right).expect("same values");
    }

    #[test]
    fn float_columns_sort_last_so_noise_does_not_misalign_rows() {
        let left = vec![
            vec![Float(1.0), str("b")],
            vec![Float(1.0 + 1e-13), str("a")],
        ];
        let right = vec![
            vec![Float(1.0 + 1e-13), str("b")],
            vec![Float(1.0), str("a")],
        ];
        compare_multiset(&left, &right).expect("equal within tolerance");
    }

    #[test]
    fn sql_errors_are_returned_as_text() {
        let error = run_sql(&[], "SELECT * FROM missing").expect_err("no such table");
        assert!(error.contains("missing"), "{error}");
    }

    #[test]
    fn canonical_rows_cover_integer_widths_and_strings() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(vec![i64::MIN, 7])),
                Arc::new(StringArray::from(vec![None, Some("x")])),
            ],
        )
        .expect("valid batch");
        let rows = canonical_rows(&[batch]);
        compare_ordered(
            &rows,
            &[
                vec![Int(i128::from(i64::MIN)), Null],
                vec![Int(7), str("x")],
            ],
        )
        .expect("canonical");
        let narrow = sql(
            "SELECT CAST(7 AS TINYINT) AS a, CAST(7 AS INT UNSIGNED) AS b, \
                    CAST('x' AS VARCHAR) AS c, arrow_cast('x', 'LargeUtf8') AS d, \
                    DATE '1970-01-02' AS e, \
                    arrow_cast(TIMESTAMP '1970-01-01T00:00:01', 'Timestamp(Second, None)') AS f",
        );
        compare_ordered(
            &narrow,
            &[vec![
                Int(7),
                Int(7),
                str("x"),
                str("x"),
                CanonValue::Date(1),
                CanonValue::Timestamp(1_000_000_000),
            ]],
        )
        .expect("widths erased");
    }

    /// The facts quoted in this module's docs; if DataFusion changes them, this fails first.
    #[test]
    fn datafusion_facts() {
        let min = Int(i128::from(i64::MIN));
        let big = |a: &str, b: &str| {
            format!("(VALUES (CAST({a} AS BIGINT), CAST({b} AS BIGINT))) v(a, b)")
        };
        let max = "9223372036854775807";
        let overflows = [
            (format!("SELECT a + b FROM {}", big(max, "1")), min.clone()),
            (format!("SELECT a * b FROM {}", big(max, "2")), Int(-2)),
            (
                format!("SELECT a - b FROM {}", big("-9223372036854775807", "3")),
                Int(i128::from(i64::MAX - 1)),
            ),
            (
                format!("SELECT -(a - b) FROM {}", big("-9223372036854775807", "1")),
                min.clone(),
            ),
            (
                format!("SELECT a % b FROM {}", big("-9223372036854775807", "-1")),
                Int(0),
            ),
            (
                format!("SELECT sum(a) FROM {}", big(max, "1")),
                Int(i128::from(i64::MAX)),
            ),
            (
                format!("SELECT sum(a) FROM (VALUES (CAST({max} AS BIGINT)), (1)) v(a)"),
                min.clone(),
            ),
            (
                format!("SELECT CAST({max} AS BIGINT) + CAST(1 AS BIGINT)"),
                min.clone(),
            ),
            (
                "SELECT a + b FROM (VALUES (CAST(2147483647 AS INT), CAST(1 AS INT))) v(a, b)"
                    .to_owned(),
                Int(-2_147_483_648),
            ),
            (
                "SELECT a + 1 FROM (VALUES (CAST(2147483647 AS INT))) v(a)".to_owned(),
                Int(2_147_483_648),
            ),
        ];
        for (query, expected) in overflows {
            compare_ordered(&sql(&query), &[vec![expected]])
                .unwrap_or_else(|diff| panic!("{query}: {diff}"));
        }

        let errors = [
            (format!("SELECT a / b FROM {}", big("-9223372036854775808", "-1")), "Arithmetic overflow"),
            ("SELECT abs(CAST(-9223372036854775808 AS BIGINT)) AS a".to_owned(), "overflow"),
            ("SELECT CAST(CAST(2147483647 AS INT) AS SMALLINT) AS a".to_owned(), "Can't cast value"),
            (
                "SELECT a + a FROM (VALUES (CAST('99999999999999999999999999999999999999' AS DECIMAL(38, 0)))) v(a)".to_owned(),
                "Arithmetic overflow",
            ),
            (format!("SELECT a / 0 FROM {}", big("1", "0")), "Divide by zero error"),
            (format!("SELECT a % b FROM {}", big("1", "0")), "Divide by zero error"),
            ("SELECT 1 / 0 AS a".to_owned(), "Divide by zero error"),
            (
                "SELECT a / b FROM (VALUES (CAST(1.5 AS DECIMAL(10, 2)), CAST(0 AS DECIMAL(10, 2)))) v(a, b)".to_owned(),
                "Divide by zero error",
            ),
            (
                "SELECT a % b FROM (VALUES (CAST(1.5 AS DECIMAL(10, 2)), CAST(0 AS INT))) v(a, b)".to_owned(),
                "Divide by zero error",
            ),
        ];
        for (query, message) in errors {
            let error = sql_error(&query);
            assert!(error.contains(message), "{query}: {error}");
        }

        let decimal_sum = sql(
            "SELECT sum(a) FROM (VALUES (CAST('99999999999999999999999999999999999999' AS DECIMAL(38, 0))), \
             (CAST('1' AS DECIMAL(38, 0)))) v(a)",
        );
        compare_ordered(&decimal_sum, &[vec![Int(10_i128.pow(38))]])
            .expect("39 digits in a DECIMAL(38, 0)");

        compare_ordered(
            &sql("SELECT 1.0 / 0.0 AS a, 0.0 / 0.0 AS b, 1.5 / 0 AS c, -7 / 2 AS d, -7 % 2 AS e"),
            &[vec![
                Float(f64::INFINITY),
                Float(f64::NAN),
                Float(f64::INFINITY),
                Int(-3),
                Int(-1),
            ]],
        )
        .expect("IEEE floats, truncating ints");
        compare_ordered(
            &sql(
                "SELECT CAST(a AS INT), CAST(CAST(a AS DECIMAL(4, 1)) AS INT) AS d \
                 FROM (VALUES (2.5), (-2.5)) v(a)",
            ),
            &[vec![Int(2), Int(2)], vec![Int(-2), Int(-2)]],
        )
        .expect("casts truncate");

        let values = "(VALUES (CAST(2 AS INT)), (NULL), (CAST(1 AS INT))) t(v)";
        let ordered = |order: &str| sql(&format!("SELECT v FROM {values} ORDER BY v {order}"));
        let column = |values: &[Option<i128>]| -> Vec<Vec<CanonValue>> {
            values.iter().map(|v| vec![v.map_or(Null, Int)]).collect()
        };
        compare_ordered(&ordered("ASC"), &column(&[Some(1), Some(2), None])).expect("asc: last");
        compare_ordered(&ordered("DESC"), &column(&[None, Some(2), Some(1)])).expect("desc: first");
        compare_ordered(
            &ordered("ASC NULLS FIRST"),
            &column(&[None, Some(1), Some(2)]),
        )
        .expect("explicit");
        compare_ordered(
            &ordered("DESC NULLS LAST"),
            &column(&[Some(2), Some(1), None]),
        )
        .expect("explicit");

        let widened = run_sql(
            &[],
            "SELECT sum(a) AS s FROM (VALUES (CAST('9999999999' AS DECIMAL(10, 0)))) v(a)",
        )
        .expect("query runs");
        assert_eq!(
            widened[0].schema().field(0).data_type(),
            &DataType::Decimal128(20, 0)
        );

        let (schema, batches) = sales();
        let types = run_sql(
            &[("sales", schema, batches)],
            "SELECT avg(units) AS a, sum(units) AS s, 1.5 AS f FROM sales",
        )
        .expect("query runs");
        let schema = types[0].schema();
        assert_eq!(schema.field(0).data_type(), &DataType::Float64);
        assert_eq!(schema.field(1).data_type(), &DataType::Int64);
        assert_eq!(schema.field(2).data_type(), &DataType::Float64);
        let error = sql_error("SELECT CAST(1 AS INT), CAST(1 AS BIGINT)");
        assert!(error.contains("unique expression names"), "{error}");
    }
}
