//! Common table expressions: [`Cte`] (a named query, `WITH name AS (…)`), [`RecursiveQuery`]
//! (`WITH RECURSIVE`) and [`WorkTable`], the recursive term's reference to the rows the
//! previous iteration produced.
//!
//! A non-recursive CTE has the meaning of its query wherever it is referenced; the node exists
//! so that the plan keeps the name (its columns are qualified by it) and the SQL rendering can
//! hoist it into a `WITH` clause. `materialized` is PostgreSQL's `AS [NOT] MATERIALIZED` hint.
//!
//! A recursive query evaluates `static_term` once, then `recursive_term` over the rows of the
//! previous round (the work table) until a round adds nothing. With `distinct` (SQL `UNION`)
//! rows already produced are dropped, which is what makes a walk over a cyclic graph end; with
//! `UNION ALL` a cycle runs until `SessionConfig::max_recursion_depth` stops it.

use std::sync::Arc;

use super::set_operations::set_operation_schema;
use super::{LogicalPlan, PlanSchemaRef};
use crate::error::Result;

/// `WITH name AS [NOT] MATERIALIZED (input)`: the input's rows under the relation `name`.
#[derive(Debug, Clone)]
pub struct Cte {
    pub name: String,
    pub input: Arc<LogicalPlan>,
    pub materialized: Option<bool>,
    pub schema: PlanSchemaRef,
}

impl Cte {
    /// Requalifies the input's columns with the CTE name.
    pub fn new(
        name: impl Into<String>,
        input: Arc<LogicalPlan>,
        materialized: Option<bool>,
    ) -> Cte {
        let name = name.into();
        let schema = Arc::new(input.schema().with_relation(&name));
        Cte {
            name,
            input,
            materialized,
            schema,
        }
    }
}

/// `static_term UNION [ALL] recursive_term`, iterated to a fixed point; the recursive term
/// reads the previous round's rows through a [`WorkTable`] of the same `name`. It stands for
/// the CTE itself: its columns are qualified by `name`.
#[derive(Debug, Clone)]
pub struct RecursiveQuery {
    pub name: String,
    pub static_term: Arc<LogicalPlan>,
    pub recursive_term: Arc<LogicalPlan>,
    /// `UNION` (drop rows already produced) rather than `UNION ALL`.
    pub distinct: bool,
    pub schema: PlanSchemaRef,
}

impl RecursiveQuery {
    /// Checks both terms line up; the output has the static term's names.
    pub fn try_new(
        name: impl Into<String>,
        static_term: Arc<LogicalPlan>,
        recursive_term: Arc<LogicalPlan>,
        distinct: bool,
    ) -> Result<RecursiveQuery> {
        let name = name.into();
        let schema = set_operation_schema(
            &[Arc::clone(&static_term), Arc::clone(&recursive_term)],
            "recursive UNION",
        )?;
        let schema = Arc::new(schema.with_relation(&name));
        Ok(RecursiveQuery {
            name,
            static_term,
            recursive_term,
            distinct,
            schema,
        })
    }
}

/// The rows of the previous round of the recursive query `name`, under the relation `name`.
#[derive(Debug, Clone)]
pub struct WorkTable {
    pub name: String,
    pub schema: PlanSchemaRef,
}

impl WorkTable {
    /// A reference to the work table of `name` whose rows look like `schema` (the static
    /// term's); its columns are qualified by `name` and may all be NULL.
    pub fn new(name: impl Into<String>, schema: &PlanSchemaRef) -> WorkTable {
        let name = name.into();
        let schema = Arc::new(schema.with_relation(&name).with_all_nullable());
        WorkTable { name, schema }
    }
}
