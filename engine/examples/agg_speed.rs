//! Times `HashAggregateExec` on H2O db-benchmark group-by shapes (see
//! `shared/bench/h2o.md`): q1 (sum by a dictionary key, 100 groups), q2 (two dictionary keys,
//! 10,000 groups), q3 (sum and avg by a 100,000-value string key), q4 (three averages by a
//! 100-value int key), q5 (three sums by a 100,000-value int key) and q10 (six keys, ~N groups).
//!
//! ```text
//! cargo run --release -p quiver-engine --example agg_speed -- [rows] [partitions] [runs]
//! ```
//!
//! Defaults: 10,000,000 rows, 2 partitions, 5 runs (`AGG_SPEED_ONLY=q3` runs one question); prints the best and median run of each
//! question. Data is generated in memory (64K-row batches, as storage chunks them) and is not
//! part of the timing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, DictionaryArray, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use quiver_engine::expr::{aggregate_type, AggregateFunction};
use quiver_engine::physical_expr::create_physical_expr;
use quiver_engine::physical_plan::hash_aggregate::{AggregateSpec, HashAggregateExec};
use quiver_engine::physical_plan::{collect, ExecutionPlan, TaskContext};
use quiver_engine::{col, PlanSchema, Result, SessionConfig};

mod common;
use common::{cpu_time, MemorySource, Random};

fn generate(rows: usize, partitions: usize) -> Arc<MemorySource> {
    const K: u64 = 100;
    const CHUNK: usize = 64 * 1024;
    let groups = (rows as u64 / K).max(1);
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "id1",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            false,
        ),
        Field::new(
            "id2",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            false,
        ),
        Field::new("id3", DataType::Utf8, false),
        Field::new("id4", DataType::Int32, false),
        Field::new("id5", DataType::Int32, false),
        Field::new("id6", DataType::Int32, false),
        Field::new("v1", DataType::Int32, false),
        Field::new("v2", DataType::Int32, false),
        Field::new("v3", DataType::Float64, false),
    ]));
    let small_values: ArrayRef = Arc::new(StringArray::from_iter_values(
        (1..=K).map(|i| format!("id{i:03}")),
    ));
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let mut batches = Vec::new();
    let mut offset = 0;
    while offset < rows {
        let n = CHUNK.min(rows - offset);
        let dictionary = |random: &mut Random| -> ArrayRef {
            let keys = Int32Array::from_iter_values((0..n).map(|_| random.below(K) as i32));
            Arc::new(
                DictionaryArray::<Int32Type>::try_new(keys, Arc::clone(&small_values))
                    .expect("valid keys"),
            )
        };
        let id1 = dictionary(&mut random);
        let id2 = dictionary(&mut random);
        let id3: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..n).map(|_| format!("id{:010}", random.below(groups) + 1)),
        ));
        let mut ints = |range: u64| -> ArrayRef {
            Arc::new(Int32Array::from_iter_values(
                (0..n).map(|_| random.below(range) as i32 + 1),
            ))
        };
        let id4 = ints(K);
        let id5 = ints(K);
        let id6 = ints(groups);
        let v1 = ints(5);
        let v2 = ints(15);
        let v3: ArrayRef = Arc::new(Float64Array::from_iter_values(
            (0..n).map(|_| random.below(100_000_000) as f64 / 1e6),
        ));
        batches.push(
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![id1, id2, id3, id4, id5, id6, v1, v2, v3],
            )
            .expect("valid batch"),
        );
        offset += n;
    }
    MemorySource::new(schema, batches, partitions)
}

/// `SELECT keys, func(arg)… FROM x GROUP BY keys` as a physical plan.
fn plan(
    source: &Arc<MemorySource>,
    keys: &[&str],
    aggregates: &[(AggregateFunction, &str)],
) -> Result<Arc<dyn ExecutionPlan>> {
    let input_schema = PlanSchema::from_arrow(None, &source.schema);
    let mut fields = Vec::new();
    let mut group_exprs = Vec::new();
    for key in keys {
        let expr = create_physical_expr(&col(*key), &input_schema)?;
        fields.push(Field::new(*key, expr.data_type(), false));
        group_exprs.push(expr);
    }
    let mut specs = Vec::new();
    for (func, arg) in aggregates {
        let expr = create_physical_expr(&col(*arg), &input_schema)?;
        let output_type = aggregate_type(*func, &[expr.data_type()])?;
        fields.push(Field::new(
            format!("{}_{arg}", func.name()),
            output_type.clone(),
            true,
        ));
        specs.push(AggregateSpec {
            func: *func,
            args: vec![expr],
            distinct: false,
            filter: None,
            output_type,
        });
    }
    let source: Arc<dyn ExecutionPlan> = Arc::clone(source) as Arc<dyn ExecutionPlan>;
    Ok(Arc::new(HashAggregateExec::try_new(
        source,
        group_exprs,
        specs,
        Arc::new(Schema::new(fields)),
    )?))
}

fn main() -> Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.replace('_', "").parse().expect("numeric argument"))
        .collect();
    let rows = args.first().copied().unwrap_or(10_000_000);
    let partitions = args.get(1).copied().unwrap_or(2);
    let runs = args.get(2).copied().unwrap_or(5).max(1);
    let started = Instant::now();
    let source = generate(rows, partitions);
    println!(
        "generated {rows} rows in {} partitions in {:.1?}",
        partitions,
        started.elapsed()
    );
    use AggregateFunction::{Avg, Count, Sum};
    let questions: Vec<(&str, Vec<&str>, Vec<(AggregateFunction, &str)>)> = vec![
        ("q1 sum v1 by id1", vec!["id1"], vec![(Sum, "v1")]),
        (
            "q2 sum v1 by id1:id2",
            vec!["id1", "id2"],
            vec![(Sum, "v1")],
        ),
        (
            "q3 sum v1 mean v3 by id3",
            vec!["id3"],
            vec![(Sum, "v1"), (Avg, "v3")],
        ),
        (
            "q4 mean v1:v3 by id4",
            vec!["id4"],
            vec![(Avg, "v1"), (Avg, "v2"), (Avg, "v3")],
        ),
        (
            "q5 sum v1:v3 by id6",
            vec!["id6"],
            vec![(Sum, "v1"), (Sum, "v2"), (Sum, "v3")],
        ),
        (
            "q10 sum v3 count by id1:id6",
            vec!["id1", "id2", "id3", "id4", "id5", "id6"],
            vec![(Sum, "v3"), (Count, "v1")],
        ),
    ];
    let mut config = SessionConfig::new();
    config.target_partitions = partitions;
    let ctx = TaskContext::new(config);
    // `AGG_SPEED_ONLY=q3` runs one question (handy under a profiler).
    let only = std::env::var("AGG_SPEED_ONLY").ok();
    for (name, keys, aggregates) in questions {
        if only
            .as_deref()
            .is_some_and(|q| name.split(' ').next() != Some(q))
        {
            continue;
        }
        let plan = plan(&source, &keys, &aggregates)?;
        let mut times: Vec<Duration> = Vec::new();
        let mut groups = 0;
        let cpu_before = cpu_time();
        for _ in 0..runs {
            let start = Instant::now();
            let batches = collect(Arc::clone(&plan), &ctx)?;
            times.push(start.elapsed());
            groups = batches.iter().map(|b| b.num_rows()).sum::<usize>();
        }
        let cpu_per_run = match (cpu_before, cpu_time()) {
            (Some(before), Some(after)) => format!("{:.1?}", (after - before) / runs as u32),
            _ => "n/a".into(),
        };
        times.sort();
        println!(
            "{name:<30} groups {groups:>9}  best {:>9.1?}  median {:>9.1?}  cpu/run {cpu_per_run:>9}",
            times[0],
            times[times.len() / 2]
        );
    }
    Ok(())
}
