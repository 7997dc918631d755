//! The contract between expressions and the QuerySet compiler.
//!
//! Expressions (`F`, `Q`, lookups, functions, aggregates) know nothing about models or joins:
//! they ask a [`Resolver`] to turn a `__`-separated name into a column. The compiler
//! implements it, walking model fields and relations (adding joins as needed) and annotations.

use std::sync::Arc;

use arrow::datatypes::DataType;
use quiver_engine::{Expr, LogicalPlan};

use crate::error::{Error, Result};
use crate::model::FieldType;
use crate::queryset::QuerySet;

/// What a name resolved to.
#[derive(Debug, Clone)]
pub struct ResolvedField {
    /// The engine expression to read it (a qualified column, or an annotation's expression).
    pub expr: Expr,
    /// Its type.
    pub data_type: DataType,
    /// Whether it can be NULL (a nullable field, or any field reached through a nullable
    /// relation).
    pub nullable: bool,
    /// The model field it is, if it is one (`None` for annotations).
    pub field_type: Option<FieldType>,
    /// True when it is (or contains) an aggregate annotation: filters on it become HAVING.
    pub is_aggregate: bool,
    /// The model the path ended on, for error messages (`"Customer"`).
    pub model: Option<String>,
    /// Django's `last_field_exception`: when the path's names continue after this field, the
    /// `FieldError` for the first name that could not be followed as a field — the related
    /// model's "Cannot resolve keyword 'x' into field. Choices are: …" after a forward
    /// relation, "Cannot resolve keyword 'x' into field. Join on 'f' not permitted." after
    /// any other model field. `F()` raises it when the remaining names are not transforms
    /// either (Django's `setup_joins`); a lookup path does not (Django's `build_lookup`
    /// reports an unknown last name as an unsupported lookup). `None` when the path ended on
    /// an annotation or a reverse relation (Django reports the unsupported transform then) or
    /// used every name.
    pub unresolved: Option<Error>,
}

/// Resolves field paths for expressions.
pub trait Resolver {
    /// Resolves the longest prefix of `parts` that names a field (following forward
    /// relations: `["customer", "region"]`), a relation itself (resolving to its key column),
    /// or an annotation. Returns the resolution and how many parts it consumed; the rest are
    /// transforms and a lookup for the caller, and [`ResolvedField::unresolved`] is Django's
    /// error for them if they are not. When `parts[0]` names nothing, the error is Django's
    /// `FieldError`: "Cannot resolve keyword 'x' into field. Choices are: a, b, c".
    fn resolve(&mut self, parts: &[&str]) -> Result<(ResolvedField, usize)>;

    /// Name of the model the QuerySet is on (error messages).
    fn model_name(&self) -> &str;

    /// Compiles `qs` as a subquery of the query being resolved: its `OuterRef`s read this
    /// query's names.
    fn resolve_subquery(&mut self, qs: &QuerySet) -> Result<Arc<LogicalPlan>> {
        let _ = qs;
        Err(Error::NotSupportedError(
            "Subqueries are not allowed here.".to_string(),
        ))
    }

    /// Resolves `OuterRef(name)` (nested `depth` times) met in the query being resolved.
    /// A query that is not a subquery has no outer query: Django's `ValueError`.
    fn resolve_outer_ref(&mut self, name: &str, depth: usize) -> Result<ResolvedField> {
        let _ = (name, depth);
        Err(super::outer_ref_error())
    }

    /// Resolves `cte.col(column)`: the column of CTE `cte` joined into this query.
    fn resolve_cte_column(&mut self, cte: &str, column: &str) -> Result<ResolvedField> {
        Err(Error::FieldError(format!(
            "Cannot resolve {cte}.{column}: the CTE {cte} is not joined to this query."
        )))
    }

    /// Resolves `name` in this query for a subquery `depth` levels in: columns become outer
    /// references.
    fn resolve_for_subquery(&mut self, name: &str, depth: usize) -> Result<ResolvedField> {
        let _ = (name, depth);
        Err(super::outer_ref_error())
    }
}
