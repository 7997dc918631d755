//! Running plans: configuration, the logical-to-physical planner and the session that ties
//! optimizer, planner and execution together.

mod config;
mod context;
pub mod planner;

pub use config::SessionConfig;
pub use context::{QueryResult, SessionContext};
