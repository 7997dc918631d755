//! `select_related`: the joins and hidden columns that load related objects in one query.
//!
//! Each selected path (`customer`, `customer__country`) is joined like any forward path —
//! INNER for a non-null ForeignKey, LEFT for a nullable one or after a LEFT join (as
//! Django's `select_related` does), reused when a filter already made the same join — and
//! every field of the model it reaches is selected as `__related<i>__<attname>`, which
//! `eager.rs` turns back into instances. A many-to-one join never repeats the QuerySet's rows.

use std::sync::Arc;

use quiver_engine::expr::qualified_col;
use quiver_engine::Expr;

use super::Compiler;
use crate::error::Result;
use crate::queryset::eager::{related_column, selected_paths};
use crate::queryset::queryset::Query;

impl Compiler<'_> {
    /// The hidden columns of `query`'s `select_related` paths (none without it).
    pub(super) fn select_related_items(&mut self, query: &Query) -> Result<Vec<(String, Expr)>> {
        let paths = selected_paths(&self.registry, &self.model, &query.select_related)?;
        let mut items = Vec::new();
        for (index, selected) in paths.iter().enumerate() {
            let mut alias = self.base_alias().to_string();
            let mut model = Arc::clone(&self.model);
            for name in selected.path.split("__") {
                let Some(relation) = self.registry.query_relation(&model, name)? else {
                    continue;
                };
                for step in &relation.steps {
                    alias = self.join(&alias, step, false)?;
                }
                model = Arc::clone(&relation.target);
            }
            for field in selected.model.fields() {
                items.push((
                    related_column(index, field.attname()),
                    qualified_col(&alias, field.column()),
                ));
            }
        }
        Ok(items)
    }
}
