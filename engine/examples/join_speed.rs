//! Times `HashJoinExec` on H2O db-benchmark join shapes (see `shared/bench/h2o.md`): j1
//! (small inner on int), j2 (medium inner on int), j3 (medium left on int), j4 (medium inner on
//! string) and j5 (big inner on int). Every column of both sides is output, which is a little
//! more than the benchmark's projections.
//!
//! ```text
//! cargo run --release -p quiver-engine --example join_speed -- [rows] [partitions] [runs]
//! ```
//!
//! Defaults: 10,000,000 left rows, 2 partitions, 3 runs (`JOIN_SPEED_ONLY=j4` runs one).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{Field, Schema, SchemaRef};
use quiver_engine::logical_plan::JoinType;
use quiver_engine::physical_expr::create_physical_expr;
use quiver_engine::physical_plan::hash_join::HashJoinExec;
use quiver_engine::physical_plan::{collect, ExecutionPlan, TaskContext};
use quiver_engine::{col, PlanSchema, Result, SessionConfig};

mod common;
use common::{cpu_time, MemorySource, Random};

const CHUNK: usize = 64 * 1024;

fn shuffle(values: &mut [i32], random: &mut Random) {
    for i in (1..values.len()).rev() {
        values.swap(i, random.below(i as u64 + 1) as usize);
    }
}

/// Keys `1..=1.1n` shuffled: (on both sides, left only, right only).
fn split_keys(n: usize, random: &mut Random) -> (Vec<i32>, Vec<i32>, Vec<i32>) {
    let mut keys: Vec<i32> = (1..=(n + n / 10) as i32).collect();
    shuffle(&mut keys, random);
    let both = keys[..n * 9 / 10].to_vec();
    let left = keys[n * 9 / 10..n].to_vec();
    let right = keys[n..].to_vec();
    (both, left, right)
}

/// Every key once, then random picks up to `size`, shuffled.
fn sample_all(keys: &[i32], size: usize, random: &mut Random) -> Vec<i32> {
    let mut out = keys.to_vec();
    while out.len() < size {
        out.push(keys[random.below(keys.len() as u64) as usize]);
    }
    out.truncate(size);
    shuffle(&mut out, random);
    out
}

fn ints(values: &[i32]) -> ArrayRef {
    Arc::new(Int32Array::from(values.to_vec()))
}

fn names(values: &[i32]) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(
        values.iter().map(|v| format!("id{v}")),
    ))
}

fn floats(rows: usize, random: &mut Random) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values(
        (0..rows).map(|_| random.below(100_000_000) as f64 / 1e6),
    ))
}

/// A table from whole columns, cut into storage-sized batches.
fn table(names: &[&str], columns: Vec<ArrayRef>, partitions: usize) -> Arc<MemorySource> {
    let fields: Vec<Field> = names
        .iter()
        .zip(&columns)
        .map(|(n, c)| Field::new(*n, c.data_type().clone(), false))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let all = RecordBatch::try_new(Arc::clone(&schema), columns).expect("valid table");
    let batches = (0..all.num_rows())
        .step_by(CHUNK)
        .map(|o| all.slice(o, CHUNK.min(all.num_rows() - o)))
        .collect();
    MemorySource::new(schema, batches, partitions)
}

struct Tables {
    x: Arc<MemorySource>,
    small: Arc<MemorySource>,
    medium: Arc<MemorySource>,
    big: Arc<MemorySource>,
}

fn generate(rows: usize, partitions: usize) -> Tables {
    let mut random = Random(0x2545_f491_4f6c_dd1d);
    let (n1, n2, n3) = (
        (rows / 1_000_000).max(1),
        (rows / 1000).max(10),
        rows.max(10),
    );
    let (both1, left1, right1) = split_keys(n1, &mut random);
    let (both2, left2, right2) = split_keys(n2, &mut random);
    let (both3, left3, right3) = split_keys(n3, &mut random);
    let joined = |a: &[i32], b: &[i32]| [a, b].concat();
    let x_id1 = sample_all(&joined(&both1, &left1), rows, &mut random);
    let x_id2 = sample_all(&joined(&both2, &left2), rows, &mut random);
    let x_id3 = sample_all(&joined(&both3, &left3), rows, &mut random);
    let x = table(
        &["id1", "id2", "id3", "id4", "id5", "id6", "v1"],
        vec![
            ints(&x_id1),
            ints(&x_id2),
            ints(&x_id3),
            names(&x_id1),
            names(&x_id2),
            names(&x_id3),
            floats(rows, &mut random),
        ],
        partitions,
    );
    let small_id1 = sample_all(&joined(&both1, &right1), n1, &mut random);
    let small = table(
        &["s_id1", "s_id4", "s_v2"],
        vec![ints(&small_id1), names(&small_id1), floats(n1, &mut random)],
        1,
    );
    let medium_id2 = sample_all(&joined(&both2, &right2), n2, &mut random);
    let medium_id1 = sample_all(&joined(&both1, &right1), n2, &mut random);
    let medium = table(
        &["m_id1", "m_id2", "m_id4", "m_id5", "m_v2"],
        vec![
            ints(&medium_id1),
            ints(&medium_id2),
            names(&medium_id1),
            names(&medium_id2),
            floats(n2, &mut random),
        ],
        1,
    );
    let big_id3 = sample_all(&joined(&both3, &right3), n3, &mut random);
    let big_id1 = sample_all(&joined(&both1, &right1), n3, &mut random);
    let big_id2 = sample_all(&joined(&both2, &right2), n3, &mut random);
    let big = table(
        &["b_id1", "b_id2", "b_id3", "b_id4", "b_id5", "b_id6", "b_v2"],
        vec![
            ints(&big_id1),
            ints(&big_id2),
            ints(&big_id3),
            names(&big_id1),
            names(&big_id2),
            names(&big_id3),
            floats(n3, &mut random),
        ],
        partitions,
    );
    Tables {
        x,
        small,
        medium,
        big,
    }
}

fn plan(
    left: &Arc<MemorySource>,
    right: &Arc<MemorySource>,
    left_key: &str,
    right_key: &str,
    join_type: JoinType,
) -> Result<Arc<dyn ExecutionPlan>> {
    let left_schema = PlanSchema::from_arrow(None, &left.schema);
    let right_schema = PlanSchema::from_arrow(None, &right.schema);
    let on = vec![(
        create_physical_expr(&col(left_key), &left_schema)?,
        create_physical_expr(&col(right_key), &right_schema)?,
    )];
    let right_nullable = join_type == JoinType::Left;
    let fields: Vec<Field> = left
        .schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .chain(
            right
                .schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(right_nullable)),
        )
        .collect();
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    Ok(Arc::new(HashJoinExec::try_new(
        Arc::clone(left) as Arc<dyn ExecutionPlan>,
        Arc::clone(right) as Arc<dyn ExecutionPlan>,
        on,
        None,
        join_type,
        schema,
    )?))
}

fn main() -> Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.replace('_', "").parse().expect("numeric argument"))
        .collect();
    let rows = args.first().copied().unwrap_or(10_000_000);
    let partitions = args.get(1).copied().unwrap_or(2);
    let runs = args.get(2).copied().unwrap_or(3).max(1);
    let started = Instant::now();
    let tables = generate(rows, partitions);
    println!(
        "generated {rows} rows in {partitions} partitions in {:.1?}",
        started.elapsed()
    );
    let questions = [
        (
            "j1 small inner on int",
            &tables.small,
            "id1",
            "s_id1",
            JoinType::Inner,
        ),
        (
            "j2 medium inner on int",
            &tables.medium,
            "id2",
            "m_id2",
            JoinType::Inner,
        ),
        (
            "j3 medium outer on int",
            &tables.medium,
            "id2",
            "m_id2",
            JoinType::Left,
        ),
        (
            "j4 medium inner on string",
            &tables.medium,
            "id5",
            "m_id5",
            JoinType::Inner,
        ),
        (
            "j5 big inner on int",
            &tables.big,
            "id3",
            "b_id3",
            JoinType::Inner,
        ),
    ];
    let only = std::env::var("JOIN_SPEED_ONLY").ok();
    let mut config = SessionConfig::new();
    config.target_partitions = partitions;
    let ctx = TaskContext::new(config);
    for (name, right, left_key, right_key, join_type) in questions {
        if only
            .as_deref()
            .is_some_and(|q| name.split(' ').next() != Some(q))
        {
            continue;
        }
        let mut times: Vec<Duration> = Vec::new();
        let mut out_rows = 0;
        let cpu_before = cpu_time();
        for _ in 0..runs {
            // A fresh plan per run: the build side is built once per operator instance.
            let plan = plan(&tables.x, right, left_key, right_key, join_type)?;
            let start = Instant::now();
            let batches = collect(plan, &ctx)?;
            times.push(start.elapsed());
            out_rows = batches.iter().map(|b| b.num_rows()).sum::<usize>();
        }
        let cpu_per_run = match (cpu_before, cpu_time()) {
            (Some(before), Some(after)) => format!("{:.1?}", (after - before) / runs as u32),
            _ => "n/a".into(),
        };
        times.sort();
        println!(
            "{name:<28} rows {out_rows:>9}  best {:>9.1?}  median {:>9.1?}  cpu/run {cpu_per_run:>9}",
            times[0],
            times[times.len() / 2]
        );
    }
    Ok(())
}
