//! The machinery behind [`HashAggregateExec`](super::hash_aggregate::HashAggregateExec) (and
//! the key table of [`HashJoinExec`](super::hash_join::HashJoinExec)), split the way DataFusion
//! splits its `GroupsAccumulator` design:
//!
//! - [`interner`]: one key column → dense group ids (`0, 1, 2, …` in order of first
//!   appearance), with a specialised table per physical type and dictionary handling that
//!   hashes each dictionary value once rather than once per row.
//! - [`group_values`]: any number of key columns → group ids, built from per-column interners.
//! - [`accumulators`] (and [`min_max`], [`variance`], [`distinct`], [`percentile`],
//!   [`correlation`]): per-group aggregate state
//!   in flat vectors indexed by group id, updated by typed loops over whole batches.
//!
//! Nothing here allocates per row: a batch becomes a `Vec<u32>` of group ids, and every
//! accumulator walks that vector next to the argument's raw value slice.

pub mod accumulators;
pub mod any_value;
pub mod correlation;
pub mod distinct;
pub mod group_values;
pub mod interner;
pub mod min_max;
pub mod percentile;
pub mod variance;

/// The id of "no group": returned by lookups for keys that are absent, and used in merge
/// mappings for groups another worker handles.
pub const NO_GROUP: u32 = u32::MAX;
