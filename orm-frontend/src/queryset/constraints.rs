//! Declares a model's constraints on its storage table when the model is registered, with the
//! names PostgreSQL gives them under Django's migrations, so violation messages read the same:
//! `<table>_pkey`, `<table>_<column>_key` for `unique=True` (and `OneToOneField`),
//! `<table>_<columns>_uniq` for `unique_together`, `<table>_<column>_fkey` for foreign keys.
//!
//! The storage layer enforces them on every write path (insert, update, bulk operations, Arrow
//! loads): unique and primary keys per statement, foreign keys at commit (Django declares them
//! `DEFERRABLE INITIALLY DEFERRED`). NOT NULL is checked where values are built, with
//! PostgreSQL's wording, and again by the table's schema.
//!
//! `Meta.constraints` entries (`CheckConstraint`, `UniqueConstraint` with `condition=`) and
//! named or partial `Meta.indexes` are declared on the model builder
//! ([`Model::constraint`], [`Model::index_spec`]) and put on the table right after the model is
//! registered ([`declare_meta`]), or added to a registered model later with
//! [`Database::add_check_constraint`], [`Database::add_unique_constraint`] and
//! [`Database::add_index`]. Their conditions are compiled once by the QuerySet compiler and
//! evaluated on written rows by the engine's physical expressions; unique constraints are
//! checked through the storage layer's per-chunk indexes of each constraint.

use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch};
use quiver_engine::physical_expr::create_physical_expr;
use quiver_engine::{Expr, LogicalPlan, PlanSchema};
use quiver_storage::{
    ForeignKeyConstraint, IndexDefinition, IndexKind, RowPredicate, Table, UniqueConstraint,
};

use crate::database::Database;
use crate::error::{Error, Result};
use crate::expressions::Q;
use crate::model::{MetaConstraint, Model, Registry};
use crate::queryset::storage_error;

/// Puts `model`'s primary key, unique fields, `unique_together` sets and foreign keys on
/// `table`. `registry` already holds `model`.
pub(crate) fn declare_constraints(registry: &Registry, model: &Model, table: &Table) -> Result<()> {
    let table_name = model.table_name();
    let position = |name: &str| model.fields().iter().position(|f| f.name() == name);
    let ordered_index =
        |name: String, columns: Vec<usize>, descending: Vec<bool>| IndexDefinition {
            name,
            columns,
            descending,
            kind: IndexKind::Ordered,
            condition: None,
            condition_expr: None,
        };
    for (index, field) in model.fields().iter().enumerate() {
        if field.is_primary_key() {
            let name = format!("{table_name}_pkey");
            table.set_primary_key(index, name.clone());
            table.add_index(ordered_index(name, vec![index], vec![false]))?;
        } else if field.spec().unique || field.field_type().class_name() == "OneToOneField" {
            let name = format!("{table_name}_{}_key", field.column());
            table.add_unique_constraint(UniqueConstraint {
                name: name.clone(),
                columns: vec![index],
                condition: None,
            });
            table.add_index(ordered_index(name, vec![index], vec![false]))?;
        } else if field.spec().db_index || field.relation().is_some() {
            // Django indexes every ForeignKey column unless told otherwise (`db_index=True`).
            let name = format!("{table_name}_{}_idx", field.column());
            table.add_index(ordered_index(name, vec![index], vec![false]))?;
        }
        if let Some(relation) = field.relation().filter(|_| field.spec().db_constraint) {
            let target_model = if relation.to == "self" {
                None
            } else {
                Some(registry.get(&relation.to)?)
            };
            let target = target_model.as_deref().unwrap_or(model);
            // `to_field=` references that (unique) column instead of the primary key.
            let target_column = match &relation.to_field {
                Some(to_field) => Some(
                    target
                        .fields()
                        .iter()
                        .position(|f| f.name() == to_field.as_str())
                        .ok_or_else(|| {
                            Error::ImproperlyConfigured(format!(
                                "{}.{}: (fields.E312) The to_field '{to_field}' doesn't exist on \
                                 the related model '{}'.",
                                model.name(),
                                field.name(),
                                target.name()
                            ))
                        })?,
                ),
                None => None,
            };
            table.add_foreign_key(ForeignKeyConstraint {
                name: format!("{table_name}_{}_fkey", field.column()),
                column: index,
                target_table: target.table_name(),
                target_column,
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
    for declared in model.indexes() {
        let mut columns = Vec::new();
        let mut descending = Vec::new();
        for name in &declared.fields {
            let (name, desc) = match name.strip_prefix('-') {
                Some(rest) => (rest, true),
                None => (name.as_str(), false),
            };
            columns.push(
                crate::queryset::update::field_index(model, name).map_err(|_| {
                    Error::ImproperlyConfigured(format!(
                        "{}: (models.E012) 'indexes' refers to the nonexistent field '{name}'.",
                        model.name()
                    ))
                })?,
            );
            descending.push(desc);
        }
        let name = declared.name.clone().unwrap_or_else(|| {
            let names: Vec<&str> = columns
                .iter()
                .map(|&c| model.fields()[c].column())
                .collect();
            format!("{table_name}_{}_idx", names.join("_"))
        });
        table.add_index(ordered_index(name, columns, descending))?;
    }
    Ok(())
}

/// Declares `model`'s `Meta.constraints` and named `Meta.indexes` ([`Model::constraint`],
/// [`Model::index_spec`]) once it is registered: their conditions are QuerySet filters on the
/// model, compiled against the registered model.
pub(crate) fn declare_meta(db: &Database, model: &Model) -> Result<()> {
    for spec in model.index_specs() {
        db.add_index(model.name(), spec.clone())?;
    }
    for constraint in model.constraints() {
        match constraint {
            MetaConstraint::Unique(spec) => db.add_unique_constraint(model.name(), spec.clone())?,
            MetaConstraint::Check(check) => db.add_check_constraint(model.name(), check.clone())?,
        }
    }
    Ok(())
}

/// `models.Index(fields=[...], name=..., condition=Q(...))`, added with
/// [`Database::add_index`]: composite, descending (`"-created"`), partial, hash or ordered.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSpec {
    /// The index name (shown by EXPLAIN).
    pub name: String,
    /// Field names, `-` prefixed for descending.
    pub fields: Vec<String>,
    /// Only rows matching this are indexed.
    pub condition: Option<Q>,
    /// Ordered (the default, PostgreSQL's btree) or hash.
    pub kind: IndexKind,
}

impl IndexSpec {
    /// An ordered index on `fields`.
    pub fn new<S: Into<String>>(
        fields: impl IntoIterator<Item = S>,
        name: impl Into<String>,
    ) -> IndexSpec {
        IndexSpec {
            name: name.into(),
            fields: fields.into_iter().map(Into::into).collect(),
            condition: None,
            kind: IndexKind::Ordered,
        }
    }

    /// `condition=Q(...)`: a partial index.
    pub fn condition(mut self, condition: impl Into<Q>) -> IndexSpec {
        self.condition = Some(condition.into());
        self
    }

    /// A hash index (point and IN lookups only).
    pub fn hash(mut self) -> IndexSpec {
        self.kind = IndexKind::Hash;
        self
    }
}

/// `models.CheckConstraint(condition=Q(...), name=...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckConstraint {
    /// The constraint's name (in error messages).
    pub name: String,
    /// Rows must not make this FALSE (NULL passes, as in SQL).
    pub condition: Q,
}

impl CheckConstraint {
    /// A check that every row satisfies `condition`.
    pub fn new(condition: impl Into<Q>, name: impl Into<String>) -> CheckConstraint {
        CheckConstraint {
            name: name.into(),
            condition: condition.into(),
        }
    }
}

/// `models.UniqueConstraint(fields=[...], name=..., condition=Q(...))`.
#[derive(Debug, Clone, PartialEq)]
pub struct UniqueConstraintSpec {
    /// The constraint's name.
    pub name: String,
    /// The fields whose values must be unique together.
    pub fields: Vec<String>,
    /// Only rows matching this take part (a partial unique index).
    pub condition: Option<Q>,
}

impl UniqueConstraintSpec {
    /// Unique values of `fields` together.
    pub fn new<S: Into<String>>(
        fields: impl IntoIterator<Item = S>,
        name: impl Into<String>,
    ) -> UniqueConstraintSpec {
        UniqueConstraintSpec {
            name: name.into(),
            fields: fields.into_iter().map(Into::into).collect(),
            condition: None,
        }
    }

    /// `condition=Q(...)`: a partial constraint.
    pub fn condition(mut self, condition: impl Into<Q>) -> UniqueConstraintSpec {
        self.condition = Some(condition.into());
        self
    }
}

impl Database {
    /// Adds `Meta.constraints` entry `constraint` to a registered model, after checking that
    /// the rows already stored satisfy it (PostgreSQL's `ALTER TABLE ... ADD CONSTRAINT`).
    /// Every later write is checked against it.
    pub fn add_check_constraint(&self, model: &str, constraint: CheckConstraint) -> Result<()> {
        let model = self.model(model)?;
        let table = self.catalog().table(&model.table_name())?;
        let predicate = self.row_predicate(&model, &constraint.condition)?;
        for chunk in table.committed().chunks() {
            let holds = predicate(chunk.batch()).map_err(storage_error)?;
            if (0..holds.len()).any(|i| holds.is_valid(i) && !holds.value(i)) {
                return Err(Error::IntegrityError(format!(
                    "check constraint \"{}\" of relation \"{}\" is violated by some row",
                    constraint.name,
                    table.name()
                )));
            }
        }
        table.add_check_constraint(quiver_storage::CheckConstraint {
            name: constraint.name,
            predicate,
        });
        Ok(())
    }

    /// Adds a `UniqueConstraint` (optionally partial) to a registered model, after checking
    /// the stored rows.
    pub fn add_unique_constraint(
        &self,
        model: &str,
        constraint: UniqueConstraintSpec,
    ) -> Result<()> {
        let model = self.model(model)?;
        let table = self.catalog().table(&model.table_name())?;
        if constraint.fields.is_empty() {
            return Err(Error::ValueError(
                "At least one field or expression is required to define a unique constraint."
                    .into(),
            ));
        }
        let columns = constraint
            .fields
            .iter()
            .map(|name| crate::queryset::update::field_index(&model, name))
            .collect::<Result<Vec<_>>>()?;
        let condition = match &constraint.condition {
            Some(q) => Some(self.row_predicate(&model, q)?),
            None => None,
        };
        let unique = UniqueConstraint {
            name: constraint.name,
            columns,
            condition,
        };
        // The stored rows must already satisfy it (one pass over their constraint indexes).
        quiver_storage::transaction::validate_unique(&table, &table.committed(), &unique)
            .map_err(storage_error)?;
        table.add_unique_constraint(unique);
        Ok(())
    }

    /// Adds an index to a registered model (`Meta.indexes` with the options the model builder
    /// does not carry: `condition=`, hash kind). The optimizer's `use_indexes` rule picks it up.
    pub fn add_index(&self, model: &str, spec: IndexSpec) -> Result<()> {
        let model = self.model(model)?;
        let table = self.catalog().table(&model.table_name())?;
        if spec.fields.is_empty() {
            return Err(Error::ValueError(
                "At least one field is required to define an index.".into(),
            ));
        }
        let mut columns = Vec::new();
        let mut descending = Vec::new();
        for name in &spec.fields {
            let (name, desc) = match name.strip_prefix('-') {
                Some(rest) => (rest, true),
                None => (name.as_str(), false),
            };
            columns.push(crate::queryset::update::field_index(&model, name)?);
            descending.push(desc);
        }
        // The optimizer proves a query's filter implies the condition from its expression.
        let (condition, condition_expr) = match &spec.condition {
            Some(q) => {
                let (predicate, schema) = self.compiled_condition(&model, q)?;
                let expr: Arc<dyn std::any::Any + Send + Sync> = Arc::new(predicate.clone());
                (Some(row_predicate(predicate, &schema)?), Some(expr))
            }
            None => (None, None),
        };
        table.add_index(IndexDefinition {
            name: spec.name,
            columns,
            descending,
            kind: spec.kind,
            condition,
            condition_expr,
        })?;
        Ok(())
    }

    /// Compiles `q` over `model`'s own columns into a predicate on batches in the table's
    /// schema, evaluated by the engine's physical expressions.
    fn row_predicate(&self, model: &Model, q: &Q) -> Result<RowPredicate> {
        let (predicate, schema) = self.compiled_condition(model, q)?;
        row_predicate(predicate, &schema)
    }

    /// `q` compiled over `model`'s own columns, with the table's schema.
    fn compiled_condition(&self, model: &Model, q: &Q) -> Result<(Expr, PlanSchema)> {
        let plan = self.objects(model.name()).filter(q.clone()).query_plan()?;
        filter_over_scan(&plan).ok_or_else(|| {
            Error::FieldError("Joined field references are not permitted in this query".to_string())
        })
    }
}

/// `predicate` as a predicate on batches in the table's schema, evaluated by the engine's
/// physical expressions.
fn row_predicate(predicate: Expr, schema: &PlanSchema) -> Result<RowPredicate> {
    let physical = create_physical_expr(&predicate, schema)?;
    Ok(Arc::new(move |batch: &RecordBatch| {
        let value = physical
            .evaluate(batch)
            .and_then(|v| v.into_array(batch.num_rows()))
            .map_err(|e| quiver_storage::StorageError::Internal(e.to_string()))?;
        value
            .as_any()
            .downcast_ref::<BooleanArray>()
            .cloned()
            .ok_or_else(|| {
                quiver_storage::StorageError::Internal("a condition must be boolean".into())
            })
    }))
}

/// The predicate of the filter directly over the model's scan (and the scan's full schema), or
/// `None` when the plan joins other tables.
fn filter_over_scan(plan: &Arc<LogicalPlan>) -> Option<(Expr, PlanSchema)> {
    match plan.as_ref() {
        LogicalPlan::Filter(filter) => match filter.input.as_ref() {
            LogicalPlan::Scan(scan) if scan.projection.is_none() && scan.filters.is_empty() => {
                Some((filter.predicate.clone(), scan.table_schema()))
            }
            _ => None,
        },
        LogicalPlan::Join(_) => None,
        other => other
            .inputs()
            .first()
            .and_then(|input| filter_over_scan(input)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expressions::F;
    use crate::model::{CharField, ForeignKey, IntegerField, OnDelete};
    use crate::q;

    fn db() -> Database {
        let db = Database::new();
        db.register(Model::new("Owner").field("name", CharField::new(10)))
            .unwrap();
        db.register(
            Model::new("Account")
                .field("owner", ForeignKey::new("Owner", OnDelete::Cascade).null())
                .field("iban", CharField::new(10))
                .field("active", crate::model::BooleanField::new())
                .field("balance", IntegerField::new())
                .unique_together(["owner", "iban"]),
        )
        .unwrap();
        db
    }

    fn account(
        iban: &str,
        active: bool,
        balance: i64,
    ) -> Vec<(&'static str, quiver_engine::ScalarValue)> {
        vec![
            ("iban", iban.into()),
            ("active", active.into()),
            ("balance", balance.into()),
        ]
    }

    #[test]
    fn check_constraints_refuse_rows_on_every_write_path() {
        let db = db();
        db.add_check_constraint(
            "Account",
            CheckConstraint::new(q!(balance__gte = 0), "balance_gte_0"),
        )
        .unwrap();
        let accounts = db.objects("Account");
        accounts.create(account("a", true, 5)).unwrap();
        let err = accounts.create(account("b", true, -1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "new row for relation \"account\" violates check constraint \"balance_gte_0\""
        );
        let err = accounts
            .update([("balance", F("balance") - 10)])
            .unwrap_err();
        assert_eq!(err.django_name(), "IntegrityError");
        assert_eq!(
            accounts
                .get(q!(iban = "a"))
                .unwrap()
                .get::<i64>("balance")
                .unwrap(),
            5
        );
        let err = db
            .add_check_constraint("Account", CheckConstraint::new(q!(balance__gt = 10), "big"))
            .unwrap_err();
        assert_eq!(err.django_name(), "IntegrityError");
    }

    #[test]
    fn partial_unique_constraints_and_unique_together() {
        let db = db();
        db.add_unique_constraint(
            "Account",
            UniqueConstraintSpec::new(["iban"], "one_active_iban").condition(q!(active = true)),
        )
        .unwrap();
        let accounts = db.objects("Account");
        accounts.create(account("x", true, 0)).unwrap();
        accounts.create(account("x", false, 0)).unwrap();
        accounts.create(account("x", false, 0)).unwrap();
        let err = accounts.create(account("x", true, 0)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "duplicate key value violates unique constraint \"one_active_iban\"\nDETAIL:  Key \
             (iban)=(x) already exists."
        );
        let err = accounts.update([("active", true)]).unwrap_err();
        assert_eq!(err.django_name(), "IntegrityError");
        assert_eq!(accounts.filter(q!(active = true)).count().unwrap(), 1);

        let owner = db.objects("Owner").create([("name", "o".into())]).unwrap();
        let mut with_owner = account("y", false, 0);
        with_owner.push(("owner", (&owner).into()));
        accounts.create(with_owner.clone()).unwrap();
        let err = accounts.create(with_owner).unwrap_err();
        assert_eq!(
            err.to_string(),
            "duplicate key value violates unique constraint \"account_owner_id_iban_uniq\"\n\
             DETAIL:  Key (owner_id, iban)=(1, y) already exists."
        );
        let mut dangling = account("z", false, 0);
        dangling.push(("owner", 99i64.into()));
        let err = accounts.create(dangling).unwrap_err();
        assert_eq!(
            err.to_string(),
            "insert or update on table \"account\" violates foreign key constraint \
             \"account_owner_id_fkey\"\nDETAIL:  Key (owner_id)=(99) is not present in table \
             \"owner\"."
        );
        assert_eq!(accounts.count().unwrap(), 4);
    }
}
