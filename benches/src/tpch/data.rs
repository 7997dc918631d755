//! The eight TPC-H tables, generated natively into Arrow by `tpchgen-arrow` (the dbgen
//! algorithm, row for row), so both engines read the very same batches and no `.tbl` files
//! are written or parsed.
//!
//! Generation is split into parts that run on scoped threads: at scale factor 1 `lineitem`
//! alone is six million rows, and the data is made before every benchmark run.

use std::sync::Arc;
use std::thread;

use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use tpchgen::generators::{
    CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator,
    PartSuppGenerator, RegionGenerator, SupplierGenerator,
};
use tpchgen_arrow::{
    CustomerArrow, LineItemArrow, NationArrow, OrderArrow, PartArrow, PartSuppArrow, RegionArrow,
    SupplierArrow,
};

use crate::h2o::{Table, BATCH_SIZE};

/// The eight TPC-H tables at one scale factor, as the Arrow batches `tpchgen-arrow` makes
/// (text as `Utf8View`, money as `Decimal128(15, 2)`, dates as `Date32`, keys as `Int64`).
#[derive(Debug, Clone)]
pub struct TpchData {
    /// The scale factor the tables were generated at (1.0 = about 1 GB of text data).
    pub scale_factor: f64,
    pub region: Table,
    pub nation: Table,
    pub supplier: Table,
    pub customer: Table,
    pub part: Table,
    pub partsupp: Table,
    pub orders: Table,
    pub lineitem: Table,
}

impl TpchData {
    /// Every table under its SQL name, parents before children (the order to load them in).
    pub fn tables(&self) -> [(&'static str, &Table); 8] {
        [
            ("region", &self.region),
            ("nation", &self.nation),
            ("supplier", &self.supplier),
            ("customer", &self.customer),
            ("part", &self.part),
            ("partsupp", &self.partsupp),
            ("orders", &self.orders),
            ("lineitem", &self.lineitem),
        ]
    }

    /// Rows over all eight tables.
    pub fn num_rows(&self) -> usize {
        self.tables()
            .iter()
            .map(|(_, table)| table.num_rows())
            .sum()
    }
}

/// Generates the eight tables at `scale_factor` (the benchmarks use 1, the tests 0.01).
///
/// Deterministic: the same scale factor always gives the same rows, in the same order, as
/// the reference `dbgen`. A scale factor that is not finite and positive gives empty tables.
pub fn generate(scale_factor: f64) -> TpchData {
    let scale_factor = if scale_factor.is_finite() && scale_factor > 0.0 {
        scale_factor
    } else {
        0.0
    };
    // Small tables in one part; the big ones in as many parts as there are cores (each
    // part is a contiguous key range, so concatenating the parts in order keeps dbgen's
    // row order).
    let parts = thread::available_parallelism().map_or(1, |n| n.get()) as i32;
    let parts_for = |rows_at_sf1: f64| {
        if rows_at_sf1 * scale_factor < 100_000.0 {
            1
        } else {
            parts
        }
    };
    thread::scope(|scope| {
        let supplier = scope.spawn(move || {
            generate_parts(
                SupplierArrow::schema_ref(),
                parts_for(1e4),
                |part, count| {
                    SupplierArrow::new(SupplierGenerator::new(scale_factor, part, count))
                        .with_batch_size(BATCH_SIZE)
                },
            )
        });
        let customer = scope.spawn(move || {
            generate_parts(
                CustomerArrow::schema_ref(),
                parts_for(1.5e5),
                |part, count| {
                    CustomerArrow::new(CustomerGenerator::new(scale_factor, part, count))
                        .with_batch_size(BATCH_SIZE)
                },
            )
        });
        let part = scope.spawn(move || {
            generate_parts(PartArrow::schema_ref(), parts_for(2e5), |part, count| {
                PartArrow::new(PartGenerator::new(scale_factor, part, count))
                    .with_batch_size(BATCH_SIZE)
            })
        });
        let partsupp = scope.spawn(move || {
            generate_parts(
                PartSuppArrow::schema_ref(),
                parts_for(8e5),
                |part, count| {
                    PartSuppArrow::new(PartSuppGenerator::new(scale_factor, part, count))
                        .with_batch_size(BATCH_SIZE)
                },
            )
        });
        let orders = scope.spawn(move || {
            generate_parts(OrderArrow::schema_ref(), parts_for(1.5e6), |part, count| {
                OrderArrow::new(OrderGenerator::new(scale_factor, part, count))
                    .with_batch_size(BATCH_SIZE)
            })
        });
        let lineitem = generate_parts(
            LineItemArrow::schema_ref(),
            parts_for(6e6),
            |part, count| {
                LineItemArrow::new(LineItemGenerator::new(scale_factor, part, count))
                    .with_batch_size(BATCH_SIZE)
            },
        );
        // A generator thread only panics on a bug in tpchgen: pass that panic on rather
        // than return a table with rows missing.
        let join = |handle: thread::ScopedJoinHandle<'_, Table>| {
            handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        };
        TpchData {
            scale_factor,
            region: generate_parts(RegionArrow::schema_ref(), 1, |part, count| {
                RegionArrow::new(RegionGenerator::new(scale_factor, part, count))
            }),
            nation: generate_parts(NationArrow::schema_ref(), 1, |part, count| {
                NationArrow::new(NationGenerator::new(scale_factor, part, count))
            }),
            supplier: join(supplier),
            customer: join(customer),
            part: join(part),
            partsupp: join(partsupp),
            orders: join(orders),
            lineitem,
        }
    })
}

/// One table generated in `parts` key ranges on scoped threads, concatenated in order.
fn generate_parts<G>(schema: SchemaRef, parts: i32, make: impl Fn(i32, i32) -> G + Sync) -> Table
where
    G: Iterator<Item = Result<RecordBatch, ArrowError>>,
{
    let make = &make;
    let pieces: Vec<Vec<RecordBatch>> = thread::scope(|scope| {
        let handles: Vec<_> = (1..=parts)
            .map(|part| {
                scope.spawn(move || {
                    // tpchgen's iterators never yield an error (they build arrays from
                    // generated values); one would only mean a bug there, so stop the part.
                    make(part, parts).map_while(Result::ok).collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    Table {
        schema: Arc::clone(&schema),
        batches: pieces.into_iter().flatten().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::generate;

    #[test]
    fn tables_have_the_specified_cardinalities() {
        // TPC-H 4.2.5.1: SF × 10 000 suppliers, 150 000 customers, 200 000 parts, 800 000
        // partsupp and 1 500 000 orders; 25 nations and 5 regions at every scale.
        let data = generate(0.01);
        assert_eq!(data.region.num_rows(), 5);
        assert_eq!(data.nation.num_rows(), 25);
        assert_eq!(data.supplier.num_rows(), 100);
        assert_eq!(data.customer.num_rows(), 1_500);
        assert_eq!(data.part.num_rows(), 2_000);
        assert_eq!(data.partsupp.num_rows(), 8_000);
        assert_eq!(data.orders.num_rows(), 15_000);
        // 1 to 7 lines per order: about 4 on average.
        let lines = data.lineitem.num_rows();
        assert!((55_000..65_000).contains(&lines), "{lines} lineitems");
        for (name, table) in data.tables() {
            for batch in &table.batches {
                assert_eq!(batch.schema(), table.schema, "{name}");
            }
        }
    }

    #[test]
    fn a_bad_scale_factor_gives_empty_tables() {
        let data = generate(f64::NAN);
        assert_eq!(data.lineitem.num_rows(), 0);
        assert_eq!(data.customer.num_rows(), 0);
    }
}
