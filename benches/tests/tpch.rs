//! Every TPC-H query gives DataFusion's answer: the QuerySets of `quiver_benches::tpch`
//! against the standard SQL text, on the same generated batches at scale factor 0.01.
//!
//! One test per query, so a query Quiver cannot answer yet is one `#[ignore = "why"]`
//! test rather than a silent gap. Results are compared:
//! - as multisets of rows, column by column by position (the ORM names a related value by its
//!   path, the SQL by its alias);
//! - and, for the columns the ORDER BY sorts on, in order (rows tied on every sort key may
//!   come in any order);
//! - decimals exactly when both engines return them at the same scale, otherwise to one unit
//!   of the coarser scale (the engines round averages and quotients to different scales);
//!   decimals against floats (DataFusion reads `0.2` as a float) and floats within 1e-9
//!   relative, since the engines add in different orders;
//! - with DataFusion's row count at this scale written down, so both engines returning
//!   nothing cannot pass.

use std::cmp::Ordering;
use std::sync::{Arc, OnceLock};

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    DataType, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    UInt32Type, UInt64Type,
};
use arrow::record_batch::RecordBatch;
use arrow::util::display::array_value_to_string;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig as DataFusionConfig, SessionContext};
use quiver::prelude::{Database, SessionConfig};
use quiver_benches::tpch::{generate, load_quiver, queries, TpchData};

const SCALE_FACTOR: f64 = 0.01;

/// The data, Quiver's database over it and DataFusion's context over the same batches,
/// made once for all the tests in this binary.
struct Engines {
    data: TpchData,
    quiver: Database,
    datafusion: SessionContext,
    runtime: tokio::runtime::Runtime,
}

fn engines() -> &'static Engines {
    static ENGINES: OnceLock<Engines> = OnceLock::new();
    ENGINES.get_or_init(|| {
        let data = generate(SCALE_FACTOR);
        let quiver = load_quiver(&data, SessionConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        let datafusion =
            SessionContext::new_with_config(DataFusionConfig::new().with_target_partitions(2));
        for (name, table) in data.tables() {
            let table = MemTable::try_new(Arc::clone(&table.schema), vec![table.batches.clone()])
                .unwrap_or_else(|e| panic!("{e}"));
            datafusion
                .register_table(name, Arc::new(table))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        Engines {
            data,
            quiver,
            datafusion,
            runtime,
        }
    })
}

/// One result value, in a form both engines' types compare in.
#[derive(Debug, Clone)]
enum Cell {
    Null,
    /// An exact number: `value × 10^-scale` (integers have scale 0).
    Decimal(i128, i8),
    Float(f64),
    Text(String),
}

impl Cell {
    fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Decimal(value, scale) => Some(*value as f64 / 10f64.powi(i32::from(*scale))),
            Cell::Float(value) => Some(*value),
            Cell::Null | Cell::Text(_) => None,
        }
    }

    /// A total order for sorting rows into a canonical multiset order: NULL, numbers by
    /// value, text.
    fn order(&self, other: &Cell) -> Ordering {
        let rank = |cell: &Cell| match cell {
            Cell::Null => 0,
            Cell::Decimal(..) | Cell::Float(_) => 1,
            Cell::Text(_) => 2,
        };
        match (self, other) {
            (Cell::Text(a), Cell::Text(b)) => a.cmp(b),
            _ => match (self.as_f64(), other.as_f64()) {
                (Some(a), Some(b)) => a.total_cmp(&b),
                _ => rank(self).cmp(&rank(other)),
            },
        }
    }
}

fn cell(column: &ArrayRef, row: usize) -> Cell {
    if column.is_null(row) {
        return Cell::Null;
    }
    let integer = |value: i128| Cell::Decimal(value, 0);
    match column.data_type() {
        DataType::Int8 => integer(column.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => integer(column.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => integer(column.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => integer(column.as_primitive::<Int64Type>().value(row).into()),
        DataType::UInt32 => integer(column.as_primitive::<UInt32Type>().value(row).into()),
        DataType::UInt64 => integer(column.as_primitive::<UInt64Type>().value(row).into()),
        DataType::Decimal128(_, scale) => {
            Cell::Decimal(column.as_primitive::<Decimal128Type>().value(row), *scale)
        }
        DataType::Float32 => Cell::Float(column.as_primitive::<Float32Type>().value(row).into()),
        DataType::Float64 => Cell::Float(column.as_primitive::<Float64Type>().value(row)),
        _ => Cell::Text(array_value_to_string(column, row).unwrap_or_else(|e| panic!("{e}"))),
    }
}

fn same(a: &Cell, b: &Cell) -> bool {
    match (a, b) {
        (Cell::Null, Cell::Null) => true,
        (Cell::Text(a), Cell::Text(b)) => a == b,
        (Cell::Decimal(a, a_scale), Cell::Decimal(b, b_scale)) => {
            let fine = (*a_scale).max(*b_scale);
            let coarse = (*a_scale).min(*b_scale);
            let rescale = |value: i128, scale: i8| {
                value.checked_mul(10i128.pow(u32::try_from(fine - scale).unwrap_or(0)))
            };
            match (rescale(*a, *a_scale), rescale(*b, *b_scale)) {
                (Some(a), Some(b)) if a_scale == b_scale => a == b,
                // One unit of the coarser scale: both rounded the same exact value.
                (Some(a), Some(b)) => {
                    let unit = 10i128.pow(u32::try_from(fine - coarse).unwrap_or(0));
                    (a - b).abs() <= unit
                }
                _ => false,
            }
        }
        (Cell::Decimal(_, scale), Cell::Float(_)) | (Cell::Float(_), Cell::Decimal(_, scale)) => {
            let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
                return false;
            };
            let unit = 10f64.powi(-i32::from(*scale));
            (x - y).abs() <= unit + 1e-9 * x.abs().max(y.abs())
        }
        (Cell::Float(x), Cell::Float(y)) => {
            x == y || (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs()))
        }
        _ => false,
    }
}

fn rows(batches: &[RecordBatch]) -> Vec<Vec<Cell>> {
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            rows.push(batch.columns().iter().map(|c| cell(c, row)).collect());
        }
    }
    rows
}

fn same_row(a: &[Cell], b: &[Cell]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
}

/// Runs query `number` on both engines and compares the results (see the module docs).
/// `order_columns`: the result columns the SQL's ORDER BY sorts on, most significant first.
/// `expected_rows`: DataFusion's row count at scale factor 0.01.
fn check(number: u8, order_columns: &[usize], expected_rows: usize) {
    check_columns(number, &[], order_columns, expected_rows);
}

/// [`check`] for a QuerySet whose columns come in another order than the SQL's (Django's
/// `values()` puts fields before annotations): `quiver_columns[i]` is the QuerySet's column
/// holding the SQL's column `i`.
fn check_columns(
    number: u8,
    quiver_columns: &[usize],
    order_columns: &[usize],
    expected_rows: usize,
) {
    let engines = engines();
    let query = queries()
        .into_iter()
        .find(|query| query.number == number)
        .unwrap_or_else(|| panic!("no query {number}"));
    let theirs = engines
        .runtime
        .block_on(async { engines.datafusion.sql(query.sql).await?.collect().await })
        .unwrap_or_else(|e| panic!("q{number} on DataFusion: {e}"));
    let queryset = (query.queryset)(&engines.quiver).unwrap_or_else(|e| panic!("q{number}: {e}"));
    let ours = queryset.to_batches().unwrap_or_else(|e| {
        panic!(
            "q{number} on Quiver: {e}\n{}",
            queryset.sql().unwrap_or_default()
        )
    });
    let (mut ours, theirs) = (rows(&ours), rows(&theirs));
    if !quiver_columns.is_empty() {
        for row in &mut ours {
            *row = quiver_columns.iter().map(|&i| row[i].clone()).collect();
        }
    }
    assert_eq!(
        theirs.len(),
        expected_rows,
        "q{number}: DataFusion's row count at SF {} changed",
        engines.data.scale_factor
    );
    assert_eq!(ours.len(), theirs.len(), "q{number}: row counts differ");
    // In order, on the sort keys.
    let keys =
        |row: &Vec<Cell>| -> Vec<Cell> { order_columns.iter().map(|&i| row[i].clone()).collect() };
    for (position, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert!(
            same_row(&keys(a), &keys(b)),
            "q{number}: row {position} sorts differently: {a:?} vs {b:?}"
        );
    }
    // As multisets, on every column.
    let canonical = |mut rows: Vec<Vec<Cell>>| {
        rows.sort_by(|a, b| {
            a.iter()
                .zip(b)
                .map(|(x, y)| x.order(y))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        });
        rows
    };
    for (a, b) in canonical(ours).iter().zip(&canonical(theirs)) {
        assert!(same_row(a, b), "q{number}: {a:?} vs {b:?}");
    }
}

#[test]
fn q01_pricing_summary_report() {
    check(1, &[0, 1], 4);
}

#[test]
fn q02_minimum_cost_supplier() {
    check(2, &[0, 2, 1, 3], 4);
}

#[test]
fn q03_shipping_priority() {
    // revenue is the last of the QuerySet's columns, the second of the SQL's.
    check_columns(3, &[0, 3, 1, 2], &[1, 2], 10);
}

#[test]
fn q04_order_priority_checking() {
    check(4, &[0], 5);
}

#[test]
fn q05_local_supplier_volume() {
    check(5, &[1], 5);
}

#[test]
fn q06_forecasting_revenue_change() {
    check(6, &[], 1);
}

#[test]
fn q07_volume_shipping() {
    check(7, &[0, 1, 2], 4);
}

#[test]
fn q08_national_market_share() {
    check(8, &[0], 2);
}

#[test]
fn q09_product_type_profit_measure() {
    check(9, &[0, 1], 173);
}

#[test]
fn q10_returned_item_reporting() {
    // revenue is the last of the QuerySet's columns, the third of the SQL's.
    check_columns(10, &[0, 1, 7, 2, 3, 4, 5, 6], &[2], 20);
}

#[test]
fn q11_important_stock_identification() {
    check(11, &[1], 359);
}

#[test]
fn q12_shipping_modes_and_order_priority() {
    check(12, &[0], 2);
}

#[test]
fn q13_customer_distribution() {
    check(13, &[1, 0], 33);
}

#[test]
fn q14_promotion_effect() {
    check(14, &[], 1);
}

#[test]
fn q15_top_supplier() {
    check(15, &[0], 1);
}

#[test]
fn q16_parts_supplier_relationship() {
    check(16, &[3, 0, 1, 2], 296);
}

#[test]
fn q17_small_quantity_order_revenue() {
    check(17, &[], 1);
}

#[test]
fn q18_large_volume_customer() {
    check(18, &[4, 3], 2);
}

#[test]
fn q19_discounted_revenue() {
    check(19, &[], 1);
}

#[test]
fn q20_potential_part_promotion() {
    check(20, &[0], 1);
}

#[test]
fn q21_suppliers_who_kept_orders_waiting() {
    check(21, &[1, 0], 1);
}

#[test]
fn q22_global_sales_opportunity() {
    check(22, &[0], 7);
}
