//! `delete()` on QuerySets and instances, following `on_delete` across relations.
//!
//! Django's `Collector`: starting from the rows to delete, every ForeignKey/OneToOneField
//! pointing at them (including the hidden ones of many-to-many link tables, so link rows go
//! with either side) is looked up and its `on_delete` applied — CASCADE collects the
//! referencing rows too (recursively), PROTECT refuses with `ProtectedError`, RESTRICT
//! refuses with `RestrictedError` unless the referencing rows are themselves being deleted
//! through a CASCADE, SET_NULL / SET_DEFAULT update the referencing column, DO_NOTHING leaves
//! it. Nothing is written until the whole collection succeeded; then the column updates run,
//! then the collected rows are removed, table by table — all in one transaction (the caller's
//! `atomic()` block, or one of its own), so a failure anywhere changes nothing and no reader
//! ever sees a parent gone with its children still there.
//!
//! The result is Django's `(total, {"app.Model": count})`. Quiver models have no Django app;
//! their labels use the app label `app`, as the Django oracle's models do.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use quiver_engine::ScalarValue;

use crate::database::Database;
use crate::error::{Error, Result};
use crate::expressions::Q;
use crate::model::{Field, Model, OnDelete};
use crate::query_log::{delete_in_sql, delete_where_sql, internal_reads, update_in_sql};
use crate::queryset::related_manager::{key_set, key_string, rewrite_rows};
use crate::queryset::QuerySet;
use crate::results::Instance;

/// The app label of model labels in `delete()`'s counts (`"app.Book"`).
pub const APP_LABEL: &str = "app";

/// What `delete()` returns: the number of rows deleted, and per model label.
pub type DeleteCount = (usize, BTreeMap<String, usize>);

impl QuerySet {
    /// `delete()`: deletes the rows and applies `on_delete` across relations; returns
    /// `(total, {"app.Model": count})`.
    pub fn delete(&self) -> Result<DeleteCount> {
        if let Some(error) = &self.query.error {
            return Err(error.clone());
        }
        self.refuse_write_after_combination("delete")?;
        if self.query.is_sliced() {
            return Err(Error::TypeError(
                "Cannot use 'limit' or 'offset' with delete().".into(),
            ));
        }
        if self.query.values.is_some() {
            return Err(Error::TypeError(
                "Cannot call delete() after .values() or .values_list()".into(),
            ));
        }
        if self.query.distinct {
            return Err(Error::TypeError(
                "Cannot call delete() after .distinct().".into(),
            ));
        }
        let model = self.db.model(&self.model)?;
        let plain = self
            .clear_ordering()
            .clear_select_related()
            .clear_prefetch_related();
        // Django deletes rows nothing cascades from with one DELETE (its "fast delete");
        // otherwise it SELECTs them first.
        if fast_deletable(&self.db, &model)? {
            let rows = internal_reads(|| plain.fetch_instances())?;
            let statement = delete_where_sql(self, &model);
            return delete_logged(&self.db, &model, rows, Some(statement));
        }
        let rows = plain.fetch_instances()?;
        delete_instances(&self.db, &model, rows)
    }
}

impl Instance {
    /// `obj.delete()`: deletes this object and applies `on_delete` across relations.
    pub fn delete(&self) -> Result<DeleteCount> {
        let db = self.database()?.clone();
        let model = db.model(self.model_name())?;
        if self.pk().is_null() {
            return Err(Error::ValueError(format!(
                "{} object can't be deleted because its id attribute is set to None.",
                model.name()
            )));
        }
        delete_instances(&db, &model, vec![self.clone()])
    }
}

/// A ForeignKey/OneToOneField pointing at some model.
struct Referencing {
    model: Arc<Model>,
    field: Field,
    /// The column of the referenced model the key holds (`to_field` or the primary key).
    target_column: String,
}

/// Every relation field pointing at `model`, hidden ones included.
fn referencing(db: &Database, model: &Model) -> Result<Vec<Referencing>> {
    let mut out = Vec::new();
    for candidate in db.registry().models() {
        for field in candidate.fields() {
            let Some(relation) = field.relation() else {
                continue;
            };
            let to = if relation.to == "self" {
                candidate.name()
            } else {
                relation.to.as_str()
            };
            if !to.eq_ignore_ascii_case(model.name()) {
                continue;
            }
            let target = match &relation.to_field {
                Some(name) => model.get_field(name),
                None => model.pk(),
            }
            .ok_or_else(|| {
                Error::ImproperlyConfigured(format!(
                    "{} has no key for {}",
                    model.name(),
                    field.name()
                ))
            })?;
            out.push(Referencing {
                model: Arc::clone(candidate),
                field: field.clone(),
                target_column: target.column().to_string(),
            });
        }
    }
    Ok(out)
}

/// True when nothing has to be done across relations when `model`'s rows go (every relation
/// pointing at it is DO_NOTHING): Django's `Collector.can_fast_delete`.
fn fast_deletable(db: &Database, model: &Model) -> Result<bool> {
    Ok(referencing(db, model)?.iter().all(|reference| {
        reference
            .field
            .relation()
            .is_none_or(|relation| relation.on_delete == OnDelete::DoNothing)
    }))
}

/// Django's `Collector`.
struct Collector<'a> {
    db: &'a Database,
    /// Models in the order first collected, with their rows' primary keys.
    order: Vec<Arc<Model>>,
    rows: HashMap<String, (Vec<ScalarValue>, HashSet<String>)>,
    /// `(model, column, value, primary keys)` updates for SET_NULL / SET_DEFAULT.
    updates: Vec<(Arc<Model>, String, ScalarValue, Vec<ScalarValue>)>,
    /// RESTRICT references: `(referencing model, field name, referenced model, their keys)`.
    restricted: Vec<(Arc<Model>, String, String, Vec<ScalarValue>)>,
    /// The statements Django's collector sends before the per-model DELETEs, for the query
    /// log: fast deletes of referencing rows, then SET_NULL / SET_DEFAULT updates.
    fast_deletes: Vec<String>,
    field_updates: Vec<String>,
    /// Models whose rows went by a fast delete (no DELETE by primary key is logged for them).
    fast_models: HashSet<String>,
}

impl Collector<'_> {
    fn collect(&mut self, model: &Arc<Model>, instances: Vec<Instance>) -> Result<()> {
        let pk_column = model.pk_field()?.column().to_string();
        let entry = self
            .rows
            .entry(model.name().to_string())
            .or_insert_with(|| (vec![], HashSet::new()));
        if !self.order.iter().any(|m| m.name() == model.name()) {
            self.order.push(Arc::clone(model));
        }
        let mut fresh = Vec::new();
        for instance in instances {
            let pk = instance.column_value(model, &pk_column)?;
            if let Some(key) = key_string(&pk) {
                if entry.1.insert(key) {
                    entry.0.push(pk);
                    fresh.push(instance);
                }
            }
        }
        if fresh.is_empty() {
            return Ok(());
        }
        let mut protected = Vec::new();
        for reference in referencing(self.db, model)? {
            let keys: Vec<ScalarValue> = fresh
                .iter()
                .map(|i| i.column_value(model, &reference.target_column))
                .collect::<Result<Vec<_>>>()?
                .into_iter()
                .filter(|v| !v.is_null())
                .collect();
            let Some(relation) = reference.field.relation() else {
                continue;
            };
            if keys.is_empty() || relation.on_delete == OnDelete::DoNothing {
                continue;
            }
            // What Django sends for this relation: a fast DELETE of the referencing rows when
            // nothing cascades further from them, an UPDATE for SET_NULL / SET_DEFAULT, and
            // otherwise a SELECT of them (the read below, then logged).
            let fast = relation.on_delete == OnDelete::Cascade
                && fast_deletable(self.db, &reference.model)?;
            let lazy = matches!(relation.on_delete, OnDelete::SetNull | OnDelete::SetDefault);
            if fast {
                self.fast_models.insert(reference.model.name().to_string());
                self.fast_deletes.push(delete_in_sql(
                    &reference.model,
                    reference.field.column(),
                    &keys,
                ));
            } else if lazy {
                let value = match relation.on_delete {
                    OnDelete::SetDefault => reference.field.spec().default.clone(),
                    _ => None,
                };
                self.field_updates.push(update_in_sql(
                    &reference.model,
                    reference.field.column(),
                    &value.unwrap_or(ScalarValue::Null),
                    reference.field.column(),
                    &keys,
                ));
            }
            let related_rows = self
                .db
                .objects(reference.model.name())
                .filter(Q::new(format!("{}__in", reference.field.name()), keys))
                .clear_ordering();
            let related = if fast || lazy {
                internal_reads(|| related_rows.fetch_instances())?
            } else {
                related_rows.fetch_instances()?
            };
            if related.is_empty() {
                continue;
            }
            let related_pk = reference.model.pk_field()?.column().to_string();
            let pks = || {
                related
                    .iter()
                    .map(|i| i.column_value(&reference.model, &related_pk))
                    .collect::<Result<Vec<_>>>()
            };
            match relation.on_delete {
                OnDelete::Cascade => self.collect(&reference.model, related)?,
                OnDelete::Protect => protected.push(format!(
                    "'{}.{}'",
                    reference.model.name(),
                    reference.field.name()
                )),
                OnDelete::Restrict => self.restricted.push((
                    Arc::clone(&reference.model),
                    reference.field.name().to_string(),
                    model.name().to_string(),
                    pks()?,
                )),
                OnDelete::SetNull => {
                    if !reference.field.is_nullable() {
                        return Err(Error::IntegrityError(format!(
                            "NOT NULL constraint failed: {}.{}",
                            reference.model.table_name(),
                            reference.field.column()
                        )));
                    }
                    self.updates.push((
                        Arc::clone(&reference.model),
                        reference.field.column().to_string(),
                        ScalarValue::Null,
                        pks()?,
                    ));
                }
                OnDelete::SetDefault => self.updates.push((
                    Arc::clone(&reference.model),
                    reference.field.column().to_string(),
                    reference
                        .field
                        .spec()
                        .default
                        .clone()
                        .unwrap_or(ScalarValue::Null),
                    pks()?,
                )),
                OnDelete::DoNothing => {}
            }
        }
        if !protected.is_empty() {
            return Err(Error::ProtectedError(format!(
                "Cannot delete some instances of model '{}' because they are referenced \
                 through protected foreign keys: {}.",
                model.name(),
                protected.join(", ")
            )));
        }
        Ok(())
    }

    /// RESTRICT holds unless every restricted row is itself being deleted.
    fn check_restricted(&self) -> Result<()> {
        for (referencing_model, field, referenced, keys) in &self.restricted {
            let deleted = self.rows.get(referencing_model.name());
            let all_deleted = keys.iter().all(|k| {
                key_string(k).is_some_and(|k| deleted.is_some_and(|(_, set)| set.contains(&k)))
            });
            if !all_deleted {
                return Err(Error::RestrictedError(format!(
                    "Cannot delete some instances of model '{referenced}' because they are \
                     referenced through restricted foreign keys: '{}.{field}'.",
                    referencing_model.name()
                )));
            }
        }
        Ok(())
    }
}

/// Deletes `instances` of `model` and everything `on_delete` says goes with them.
pub(crate) fn delete_instances(
    db: &Database,
    model: &Arc<Model>,
    instances: Vec<Instance>,
) -> Result<DeleteCount> {
    delete_logged(db, model, instances, None)
}

/// [`delete_instances`], with `fast_delete` the statement that deletes `instances` when Django
/// would not have read them first (a QuerySet nothing cascades from).
fn delete_logged(
    db: &Database,
    model: &Arc<Model>,
    instances: Vec<Instance>,
    fast_delete: Option<String>,
) -> Result<DeleteCount> {
    let started = Instant::now();
    let mut collector = Collector {
        db,
        order: vec![],
        rows: HashMap::new(),
        updates: vec![],
        restricted: vec![],
        fast_deletes: vec![],
        field_updates: vec![],
        fast_models: HashSet::new(),
    };
    if let Some(statement) = fast_delete {
        collector.fast_models.insert(model.name().to_string());
        collector.fast_deletes.push(statement);
    }
    let result = db.write(|_| collect_and_delete(&mut collector, model, instances));
    if result.is_ok() || collector_finished(&result) {
        let log = db.query_log();
        let elapsed = started.elapsed();
        for statement in collector.statements()? {
            log.record_statement(|| statement, elapsed);
        }
    }
    result
}

/// True when the error came from the writes (a constraint at commit), after the collector had
/// decided what to send; Django has then logged its statements.
fn collector_finished(result: &Result<DeleteCount>) -> bool {
    matches!(result, Err(Error::IntegrityError(_)))
}

impl Collector<'_> {
    /// The writes Django sends once collection is done, in its order: fast deletes, field
    /// updates, then a DELETE by primary key per model, referencing models first.
    fn statements(&self) -> Result<Vec<String>> {
        let mut out = self.fast_deletes.clone();
        out.extend(self.field_updates.iter().cloned());
        for target in self.order.iter().rev() {
            if self.fast_models.contains(target.name()) {
                continue;
            }
            if let Some((pks, _)) = self.rows.get(target.name()) {
                if !pks.is_empty() {
                    let pk = target.pk_field()?.column().to_string();
                    out.push(delete_in_sql(target, &pk, pks));
                }
            }
        }
        Ok(out)
    }
}

fn collect_and_delete(
    collector: &mut Collector<'_>,
    model: &Arc<Model>,
    instances: Vec<Instance>,
) -> Result<DeleteCount> {
    let db = collector.db;
    collector.collect(model, instances)?;
    collector.check_restricted()?;
    for (target, column, value, pks) in &collector.updates {
        let pk = target.pk_field()?.column().to_string();
        rewrite_rows(db, target, &key_set(pks), &pk, Some((column, value)))?;
    }
    let mut total = 0;
    let mut counts = BTreeMap::new();
    // Referencing rows first (the reverse of collection order), as Django deletes.
    for target in collector.order.iter().rev() {
        let Some((pks, _)) = collector.rows.get(target.name()) else {
            continue;
        };
        let pk = target.pk_field()?.column().to_string();
        let deleted = rewrite_rows(db, target, &key_set(pks), &pk, None)?;
        if deleted > 0 {
            total += deleted;
            *counts
                .entry(format!("{APP_LABEL}.{}", target.name()))
                .or_insert(0) += deleted;
        }
    }
    Ok((total, counts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::q;
    use crate::queryset::fixtures::shop;

    #[test]
    fn cascade_and_set_null_across_the_shop() {
        let db = shop();
        // Ann has orders 1 and 2 (CASCADE) and referred order 3 (SET_NULL).
        let (total, per_model) = db
            .objects("Customer")
            .filter(q!(name = "Ann"))
            .delete()
            .unwrap();
        assert_eq!(total, 3);
        assert_eq!(
            per_model,
            BTreeMap::from([
                ("app.Customer".to_string(), 1),
                ("app.Order".to_string(), 2)
            ])
        );
        let referrers = db
            .objects("Order")
            .order_by(["id"])
            .values_list(["referrer"])
            .fetch()
            .unwrap()
            .column::<Option<i64>>("referrer")
            .unwrap();
        assert_eq!(referrers, [None, None, None]);
        // Deleting a country sets Customer.country NULL (SET_NULL) and deletes nothing else.
        let nl = db.objects("Country").get(q!(name = "NL")).unwrap();
        assert_eq!(
            nl.delete().unwrap(),
            (1, BTreeMap::from([("app.Country".to_string(), 1)]))
        );
        assert_eq!(
            db.objects("Customer")
                .filter(q!(country__isnull = true))
                .count()
                .unwrap(),
            2
        );
    }

    #[test]
    fn delete_refuses_what_django_refuses() {
        let db = shop();
        let err = db.objects("Order").values(["id"]).delete().unwrap_err();
        assert_eq!(
            err.to_string(),
            "Cannot call delete() after .values() or .values_list()"
        );
        let err = db.objects("Order").distinct().delete().unwrap_err();
        assert_eq!(err.django_name(), "TypeError");
        assert_eq!(db.objects("Order").count().unwrap(), 5);
    }
}
