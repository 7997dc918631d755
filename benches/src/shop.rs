//! Seeded tables for the subquery and CTE benchmarks: customers with orders (for "latest order
//! per customer", the correlated-subquery shape decorrelation exists for) and a tree of nodes
//! (for recursive CTEs).

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::BATCH_SIZE;

/// `customer(id, name, region)`: ids 1..=n, one of four regions.
pub fn customer_batches(n: usize) -> (SchemaRef, Vec<RecordBatch>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("region", DataType::Utf8, true),
    ]));
    let regions = ["EU", "US", "APAC", "LATAM"];
    let batches = chunks(n)
        .map(|(start, end)| {
            let ids: Vec<i64> = (start as i64 + 1..=end as i64).collect();
            let columns: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from(ids.clone())),
                Arc::new(StringArray::from_iter_values(
                    ids.iter().map(|i| format!("customer{i}")),
                )),
                Arc::new(StringArray::from_iter_values(
                    ids.iter().map(|i| regions[*i as usize % regions.len()]),
                )),
            ];
            batch(&schema, columns)
        })
        .collect();
    (schema, batches)
}

/// `order(id, customer_id, amount, created)`: `n` orders of random customers in
/// 1..=customers, amounts 1..=1000, distinct `created` values in random order.
pub fn order_batches(n: usize, customers: usize, seed: u64) -> (SchemaRef, Vec<RecordBatch>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("customer_id", DataType::Int64, false),
        Field::new("amount", DataType::Int64, false),
        Field::new("created", DataType::Int64, false),
    ]));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let batches = chunks(n)
        .map(|(start, end)| {
            let ids: Vec<i64> = (start as i64 + 1..=end as i64).collect();
            let customer: Vec<i64> = ids
                .iter()
                .map(|_| rng.random_range(1..=customers as i64))
                .collect();
            let amount: Vec<i64> = ids.iter().map(|_| rng.random_range(1..=1000)).collect();
            // A bijection of the id keeps `created` distinct, so "latest" has no ties.
            let created: Vec<i64> = ids.iter().map(|i| (i * 7_919) % (n as i64 + 1)).collect();
            let columns: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(Int64Array::from(customer)),
                Arc::new(Int64Array::from(amount)),
                Arc::new(Int64Array::from(created)),
            ];
            batch(&schema, columns)
        })
        .collect();
    (schema, batches)
}

/// `node(id, parent_id)`: a tree of `n` nodes where node `i > 1` hangs under `i / 2` (a
/// complete binary tree, depth log2(n)).
pub fn tree_batches(n: usize) -> (SchemaRef, Vec<RecordBatch>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("parent_id", DataType::Int64, true),
    ]));
    let batches = chunks(n)
        .map(|(start, end)| {
            let ids: Vec<i64> = (start as i64 + 1..=end as i64).collect();
            let parents: Int64Array = ids.iter().map(|i| (*i > 1).then_some(i / 2)).collect();
            let columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(ids)), Arc::new(parents)];
            batch(&schema, columns)
        })
        .collect();
    (schema, batches)
}

fn chunks(n: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n.div_ceil(BATCH_SIZE)).map(move |i| (i * BATCH_SIZE, ((i + 1) * BATCH_SIZE).min(n)))
}

fn batch(schema: &SchemaRef, columns: Vec<ArrayRef>) -> RecordBatch {
    RecordBatch::try_new(Arc::clone(schema), columns)
        .unwrap_or_else(|error| panic!("generated columns match their schema: {error}"))
}
