//! Integration tests: one binary, so the workspace links once for all of them.
//!
//! - `datafusion_oracle`: DataFusion as a reference engine and the value-level result comparator.
//! - `differential`: random tables and QuerySets run in Quiver and in DataFusion (through
//!   `QuerySet::sql()`), plus metamorphic checks inside Quiver.
//! - `semantics`: Django's rules from SEMANTICS.md, with expected values produced by real
//!   Django where possible (`django/`).
//! - `subqueries`: `Subquery`, `Exists`, `OuterRef`, set operations and CTEs against Django.
//! - `relations`: reverse and many-to-many relations, related managers, eager loading and
//!   deletes, against real Django (`django/relations.py`).
//! - `windows`: window functions against real Django (`django/windows.py`).
//! - `writes`: in-place updates, many statements in one `atomic()` and `bulk_create` as one
//!   statement, against real Django (`django/writes.py`) and a model of the rows.
//! - `indexes`: the `use_indexes` rule's choices (EXPLAIN) for every lookup kind, with the
//!   rows checked against real Django (`django/indexes.py`) and against the rule switched off.
//! - `filter_paths`: leading-substring `__in`, decimals against a subquery's average and
//!   two-sided ranges (filters the engine plans specially) against real Django
//!   (`django/filter_paths.py`).
//! - `regressions`: the smallest QuerySets showing bugs the property tests found, ignored
//!   until fixed.

mod datafusion_oracle;
mod differential;
mod filter_paths;
mod indexes;
mod regressions;
mod relations;
mod semantics;
mod subqueries;
mod windows;
mod writes;
