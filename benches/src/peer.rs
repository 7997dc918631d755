//! DataFusion as the peer engine of `quiver bench` (feature `datafusion`).
//!
//! It is set up the way the criterion suites set it up and the way a user would: a
//! `SessionContext` with `target_partitions` = cores, each table a `MemTable` over the very
//! batches Quiver loaded, dealt round-robin into one partition per core so every core scans;
//! each run plans the SQL and collects the whole result (`ctx.sql(..).await?.collect()`).

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use tokio::runtime::Runtime;

use crate::h2o::Table;
use crate::runner::Peer;

/// The peer's name and version, as reports print it.
pub const PEER_NAME: &str = "DataFusion";

/// A DataFusion session over the benchmark's tables.
pub struct DataFusionPeer {
    context: SessionContext,
    runtime: Runtime,
    partitions: usize,
}

impl std::fmt::Debug for DataFusionPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataFusionPeer")
            .field("partitions", &self.partitions)
            .finish_non_exhaustive()
    }
}

impl DataFusionPeer {
    /// A session with one partition per core and a `MemTable` per table.
    pub fn new(tables: &[(String, Table)]) -> Result<DataFusionPeer, String> {
        let partitions = std::thread::available_parallelism().map_or(1, |n| n.get());
        let config = SessionConfig::new().with_target_partitions(partitions);
        let context = SessionContext::new_with_config(config);
        for (name, table) in tables {
            let mut split = vec![Vec::new(); partitions];
            for (index, batch) in table.batches.iter().enumerate() {
                split[index % partitions].push(batch.clone());
            }
            let memory = MemTable::try_new(Arc::clone(&table.schema), split)
                .map_err(|e| format!("{name}: {e}"))?;
            context
                .register_table(name.as_str(), Arc::new(memory))
                .map_err(|e| format!("{name}: {e}"))?;
        }
        let runtime = Runtime::new().map_err(|e| format!("starting tokio: {e}"))?;
        Ok(DataFusionPeer {
            context,
            runtime,
            partitions,
        })
    }
}

impl Peer for DataFusionPeer {
    fn describe(&self) -> String {
        format!(
            "DataFusion {}, {} partitions",
            datafusion::DATAFUSION_VERSION,
            self.partitions
        )
    }

    fn run(&self, sql: &str) -> Result<usize, String> {
        self.runtime.block_on(async {
            let frame = self.context.sql(sql).await.map_err(|e| e.to_string())?;
            let batches = frame.collect().await.map_err(|e| e.to_string())?;
            Ok(batches.iter().map(RecordBatch::num_rows).sum())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiny::{tiny_batches, TINY_QUERIES};

    #[test]
    fn datafusion_answers_the_tiny_queries() {
        let (schema, batches) = tiny_batches().unwrap_or_else(|e| panic!("{e}"));
        let peer = DataFusionPeer::new(&[("item".into(), Table { schema, batches })])
            .unwrap_or_else(|e| panic!("{e}"));
        let rows: Vec<usize> = TINY_QUERIES
            .iter()
            .map(|(name, _, sql)| peer.run(sql).unwrap_or_else(|e| panic!("{name}: {e}")))
            .collect();
        assert_eq!(rows, [7, 3, 3, 1]);
        assert!(peer.describe().starts_with("DataFusion 55."));
        assert!(peer.run("SELECT nothing FROM item").is_err());
    }
}
