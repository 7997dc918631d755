//! TPC-H on Quiver: the eight tables generated natively into Arrow, loaded into Django-style
//! models with their foreign keys, and the 22 queries written as QuerySets next to the
//! standard SQL text that DataFusion runs on the same batches.
//!
//! - [`generate`] makes a [`TpchData`] at a scale factor (`tpchgen-arrow`, dbgen's rows);
//! - [`load_quiver`] registers the models ([`tpch_models`]) and loads the batches;
//! - [`queries`] lists the 22 [`TpchQuery`]s: number, name, SQL text and QuerySet.
//!
//! The agreement test (`benches/tests/tpch.rs`) runs all 22 on both engines at scale factor
//! 0.01; the criterion suite (`benches/benches/tpch.rs`) times them at `QUIVER_TPCH_SF`.

mod data;
mod models;
mod queries;

pub use data::{generate, TpchData};
pub use models::{load_quiver, tpch_models};
pub use queries::{queries, TpchQuery};
