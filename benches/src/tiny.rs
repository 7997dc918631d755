//! The fixed cost of a small QuerySet: compile, optimize and execute on a 10-row table, where
//! the data is too small to matter and every microsecond is overhead — building the plan,
//! running the optimizer's rules, setting up operators and materialising the result. An
//! embedded engine is called for many such queries per page, so this is the number a web
//! application feels (the target is under 50 µs).
//!
//! [`TINY_QUERIES`] lists the four QuerySets with the SQL a peer engine runs for each;
//! [`run_tiny_query`] runs one through the public API exactly as an application would.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use quiver::prelude::{q, CharField, Count, Database, FloatField, Model, QuerySet, SessionConfig};

/// Rows in the table `item`.
pub const TINY_ROWS: usize = 10;

/// The tiny queries: name, the Django spelling, and the SQL a peer engine runs.
pub const TINY_QUERIES: [(&str, &str, &str); 4] = [
    (
        "filter",
        "Item.objects.filter(price__gt=5)",
        "SELECT id, name, category, price FROM item WHERE price > 5",
    ),
    (
        "values_count",
        "Item.objects.values(\"category\").annotate(n=Count(\"id\"))",
        "SELECT category, count(id) AS n FROM item GROUP BY category",
    ),
    (
        "order_slice",
        "Item.objects.order_by(\"-price\")[:3]",
        "SELECT id, name, category, price FROM item ORDER BY price DESC LIMIT 3",
    ),
    (
        "get_pk",
        "Item.objects.get(pk=7)",
        "SELECT id, name, category, price FROM item WHERE id = 7",
    ),
];

/// The table `item`: ids 1..=10, three categories, prices 1.5, 3.0, … 15.0.
pub fn tiny_batches() -> Result<(SchemaRef, Vec<RecordBatch>), ArrowError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("category", DataType::Utf8, false),
        Field::new("price", DataType::Float64, false),
    ]));
    let categories = ["books", "games", "tools"];
    let ids: Int64Array = (1..=TINY_ROWS as i64).collect();
    let names: StringArray = (1..=TINY_ROWS).map(|i| Some(format!("item{i}"))).collect();
    let category: StringArray = (0..TINY_ROWS)
        .map(|i| Some(categories[i % categories.len()]))
        .collect();
    let prices: Float64Array = (1..=TINY_ROWS).map(|i| i as f64 * 1.5).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(ids),
        Arc::new(names),
        Arc::new(category),
        Arc::new(prices),
    ];
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    Ok((schema, vec![batch]))
}

/// The model `Item` (table `item`) loaded with `batches`, in a database with `config`.
pub fn tiny_database(batches: &[RecordBatch], config: SessionConfig) -> quiver::Result<Database> {
    let db = Database::with_config(config);
    db.register(
        Model::new("Item")
            .field("name", CharField::new(20))
            .field("category", CharField::new(10))
            .field("price", FloatField::new()),
    )?;
    db.load_batches("Item", batches.to_vec())?;
    Ok(db)
}

/// The QuerySet behind tiny query `name` (`get_pk` as the filter `get` runs), or `None`.
pub fn tiny_queryset(db: &Database, name: &str) -> Option<QuerySet> {
    let items = db.objects("Item");
    Some(match name {
        "filter" => items.filter(q!(price__gt = 5)),
        "values_count" => items.values(["category"]).annotate([("n", Count("id"))]),
        "order_slice" => items.order_by(["-price"]).slice(0..3),
        "get_pk" => items.filter(q!(pk = 7)),
        _ => return None,
    })
}

/// Builds, compiles, optimizes and runs the tiny query `name` and returns its row count;
/// `None` for a name that is not one of [`TINY_QUERIES`].
pub fn run_tiny_query(db: &Database, name: &str) -> Option<quiver::Result<usize>> {
    let items = db.objects("Item");
    let batches = match name {
        "filter" => items.filter(q!(price__gt = 5)).to_batches(),
        "values_count" => items
            .values(["category"])
            .annotate([("n", Count("id"))])
            .to_batches(),
        "order_slice" => items.order_by(["-price"]).slice(0..3).to_batches(),
        "get_pk" => return Some(items.get(q!(pk = 7)).map(|_| 1)),
        _ => return None,
    };
    Some(batches.map(|batches| batches.iter().map(RecordBatch::num_rows).sum()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tiny_query_returns_its_rows() {
        let (_, batches) = tiny_batches().unwrap_or_else(|e| panic!("{e}"));
        let db =
            tiny_database(&batches, SessionConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        let rows: Vec<usize> = TINY_QUERIES
            .iter()
            .map(|(name, _, _)| {
                run_tiny_query(&db, name)
                    .unwrap_or_else(|| panic!("{name} is a tiny query"))
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
            })
            .collect();
        // Prices 1.5 … 15.0 in steps of 1.5: seven are above 5 (6.0 … 15.0); three
        // categories; the top three; one row for pk 7.
        assert_eq!(rows, [7, 3, 3, 1]);
        assert!(run_tiny_query(&db, "nothing").is_none());
    }
}
