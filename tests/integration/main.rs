//! Integration tests: one binary, so the workspace links once for all of them.
//!
//! - `datafusion_oracle`: DataFusion as a reference engine and the value-level result comparator.

mod datafusion_oracle;
