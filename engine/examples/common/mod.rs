//! Pieces shared by the speed examples: an in-memory source, a seeded generator and a
//! process CPU-time reader.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use quiver_engine::physical_plan::{BatchIter, ExecutionPlan, TaskContext};
use quiver_engine::Result;

/// Batches dealt into partitions, contiguously (as a scan splits its chunks).
#[derive(Debug)]
pub struct MemorySource {
    pub schema: SchemaRef,
    pub partitions: Vec<Vec<RecordBatch>>,
}

impl ExecutionPlan for MemorySource {
    fn name(&self) -> &'static str {
        "MemorySource"
    }
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }
    fn output_partitions(&self) -> usize {
        self.partitions.len()
    }
    fn execute(&self, partition: usize, _ctx: &Arc<TaskContext>) -> Result<BatchIter> {
        Ok(Box::new(
            self.partitions[partition].clone().into_iter().map(Ok),
        ))
    }
    fn describe(&self) -> String {
        "MemorySource".into()
    }
}

/// xorshift64*: reproducible and dependency-free.
pub struct Random(pub u64);

impl Random {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) % n
    }
}

impl MemorySource {
    /// `batches` split into `partitions` contiguous runs (as a scan splits its chunks).
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>, partitions: usize) -> Arc<Self> {
        let per_partition = batches.len().div_ceil(partitions.max(1)).max(1);
        let mut split: Vec<Vec<RecordBatch>> =
            batches.chunks(per_partition).map(|c| c.to_vec()).collect();
        split.resize(partitions.max(1), Vec::new());
        Arc::new(MemorySource {
            schema,
            partitions: split,
        })
    }
}

/// CPU time of the whole process so far (all threads), from `/proc/self/stat` (Linux; clock
/// ticks of 10 ms). On a machine shared with other work, CPU time per run is the steadier
/// figure; wall time is what a user sees.
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}
