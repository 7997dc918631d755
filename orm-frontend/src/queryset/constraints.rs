//! Declares a model's constraints on its storage table when the model is registered, with the
//! names PostgreSQL gives them under Django's migrations, so violation messages read the same:
//! `<table>_pkey`, `<table>_<column>_key` for `unique=True` (and `OneToOneField`),
//! `<table>_<columns>_uniq` for `unique_together`, `<table>_<column>_fkey` for foreign keys.
//!
//! The storage layer enforces them on every write path (insert, update, bulk operations, Arrow
//! loads): unique and primary keys per statement, foreign keys at commit (Django declares them
//! `DEFERRABLE INITIALLY DEFERRED`). NOT NULL is checked where values are built, with
//! PostgreSQL's wording, and again by the table's schema.

use quiver_storage::{ForeignKeyConstraint, Table, UniqueConstraint};

use crate::error::{Error, Result};
use crate::model::{Model, Registry};

/// Puts `model`'s primary key, unique fields, `unique_together` sets and foreign keys on
/// `table`. `registry` already holds `model`.
pub(crate) fn declare_constraints(registry: &Registry, model: &Model, table: &Table) -> Result<()> {
    let table_name = model.table_name();
    let position = |name: &str| model.fields().iter().position(|f| f.name() == name);
    for (index, field) in model.fields().iter().enumerate() {
        if field.is_primary_key() {
            table.set_primary_key(index, format!("{table_name}_pkey"));
        } else if field.spec().unique || field.field_type().class_name() == "OneToOneField" {
            table.add_unique_constraint(UniqueConstraint {
                name: format!("{table_name}_{}_key", field.column()),
                columns: vec![index],
                condition: None,
            });
        }
        if let Some(relation) = field.relation() {
            if relation.to_field.is_some() {
                continue;
            }
            let target = if relation.to == "self" {
                table_name.clone()
            } else {
                registry.get(&relation.to)?.table_name()
            };
            table.add_foreign_key(ForeignKeyConstraint {
                name: format!("{table_name}_{}_fkey", field.column()),
                column: index,
                target_table: target,
            });
        }
    }
    for set in model.unique_together_sets() {
        let columns = set
            .iter()
            .map(|name| {
                position(name).ok_or_else(|| {
                    Error::ImproperlyConfigured(format!(
                        "{}: (models.E012) 'unique_together' refers to the nonexistent field \
                         '{name}'.",
                        model.name()
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let names: Vec<&str> = columns
            .iter()
            .map(|&c| model.fields()[c].column())
            .collect();
        table.add_unique_constraint(UniqueConstraint {
            name: format!("{table_name}_{}_uniq", names.join("_")),
            columns,
            condition: None,
        });
    }
    Ok(())
}
