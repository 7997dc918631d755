//! [`RelatedManager`]: Django's related managers (`book.authors`, `publisher.book_set`).
//!
//! A manager is bound to one instance and one multi-valued relation. `all()` is a QuerySet of
//! the related rows (a filter through the relation, so it composes with everything else);
//! `add`, `remove`, `clear`, `set` and `create` write the link rows of a many-to-many
//! relation, or the ForeignKey column of the related rows for a reverse ForeignKey, as
//! Django's `create_forward_many_to_many_manager` / `create_reverse_many_to_one_manager` do.
//! A symmetric self relation (`friends`) writes both directions of each pair.
//!
//! The writes here are small and local: deleting link rows and setting one column on
//! selected rows, each one atomic rewrite of the table's chunks ([`rewrite_rows`]), which
//! `delete()` reuses.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{BooleanArray, RecordBatch};
use arrow::compute::kernels::cast::cast;
use arrow::compute::kernels::zip::zip;
use arrow::compute::{filter_record_batch, not};
use quiver_engine::ScalarValue;
use quiver_storage::Chunk;

use crate::database::Database;
use crate::error::{Error, Result};
use crate::expressions::Q;
use crate::model::{many_to_many_back_name, Model, RelationKind, RelationPath};
use crate::queryset::{IntoFieldValues, QuerySet};
use crate::results::Instance;

/// The manager of one instance's multi-valued relation.
#[derive(Debug, Clone)]
pub struct RelatedManager {
    db: Database,
    path: RelationPath,
    /// The instance's key the relation joins on (its primary key or `to_field`).
    key: ScalarValue,
    /// Rows `prefetch_related` loaded for this relation.
    prefetched: Option<Vec<Instance>>,
}

impl RelatedManager {
    pub(crate) fn new(
        db: Database,
        path: RelationPath,
        key: ScalarValue,
        prefetched: Option<Vec<Instance>>,
    ) -> Result<RelatedManager> {
        if key.is_null() {
            return Err(Error::ValueError(format!(
                "'{}' instance needs to have a primary key value before this relationship can \
                 be used.",
                path.source.name()
            )));
        }
        Ok(RelatedManager {
            db,
            path,
            key,
            prefetched,
        })
    }

    /// The model of the related rows.
    pub fn model(&self) -> &Arc<Model> {
        &self.path.target
    }

    /// `all()`: the related rows as a QuerySet (not the prefetched copy; see
    /// [`fetch`](Self::fetch)).
    pub fn all(&self) -> QuerySet {
        let objects = self.db.objects(self.path.target.name());
        match self.path.kind {
            RelationKind::ReverseForeignKey | RelationKind::ReverseOneToOne => {
                objects.filter(Q::new(self.path.field_name.clone(), self.key.clone()))
            }
            _ => match many_to_many_back_name(&self.path) {
                Some(back) => objects.filter(Q::new(back, self.key.clone())),
                None => objects.none(),
            },
        }
    }

    /// `filter(q)` on the related rows.
    pub fn filter(&self, q: impl Into<Q>) -> QuerySet {
        self.all().filter(q)
    }

    /// The related instances: the prefetched ones when `prefetch_related` loaded them (no
    /// query), otherwise one query.
    pub fn fetch(&self) -> Result<Vec<Instance>> {
        match &self.prefetched {
            Some(items) => Ok(items.clone()),
            None => self.all().fetch_instances(),
        }
    }

    /// `count()`.
    pub fn count(&self) -> Result<usize> {
        match &self.prefetched {
            Some(items) => Ok(items.len()),
            None => self.all().count(),
        }
    }

    /// `add(*objs)`: links the objects. Many-to-many: inserts the missing link rows (both
    /// directions for a symmetric relation). Reverse ForeignKey: points their ForeignKey at
    /// this instance.
    pub fn add(&self, objects: &[&Instance]) -> Result<()> {
        self.add_with(objects, Vec::<(String, ScalarValue)>::new())
    }

    /// `add(*objs, through_defaults={...})`: `add` with the values of a `through=` model's
    /// extra columns for the new link rows.
    pub fn add_with(
        &self,
        objects: &[&Instance],
        through_defaults: impl IntoFieldValues,
    ) -> Result<()> {
        let through_defaults = through_defaults.into_field_values();
        let keys = self.target_keys(objects)?;
        match self.path.kind {
            RelationKind::ReverseForeignKey | RelationKind::ReverseOneToOne => {
                let fk = self.reverse_fk_column()?;
                let pk = self.target_pk_column()?;
                rewrite_rows(
                    &self.db,
                    &self.path.target,
                    &key_set(&keys),
                    &pk,
                    Some((&fk, &self.key)),
                )?;
                Ok(())
            }
            _ => self.add_links(&keys, &through_defaults),
        }
    }

    /// `remove(*objs)`: unlinks the objects. Many-to-many: deletes their link rows. Reverse
    /// ForeignKey: sets their ForeignKey to NULL (only where it is nullable, as in Django).
    pub fn remove(&self, objects: &[&Instance]) -> Result<()> {
        let keys = self.target_keys(objects)?;
        match self.path.kind {
            RelationKind::ReverseForeignKey | RelationKind::ReverseOneToOne => {
                let fk = self.nullable_reverse_fk_column("remove")?;
                let pk = self.target_pk_column()?;
                let mine: HashSet<String> = self
                    .all()
                    .fetch_instances()?
                    .iter()
                    .filter_map(|i| key_string(&i.pk()))
                    .collect();
                let keys: HashSet<String> = key_set(&keys).intersection(&mine).cloned().collect();
                rewrite_rows(
                    &self.db,
                    &self.path.target,
                    &keys,
                    &pk,
                    Some((&fk, &ScalarValue::Null)),
                )?;
                Ok(())
            }
            _ => self.remove_links(Some(&keys)),
        }
    }

    /// `clear()`: unlinks every related object.
    pub fn clear(&self) -> Result<()> {
        match self.path.kind {
            RelationKind::ReverseForeignKey | RelationKind::ReverseOneToOne => {
                let fk = self.nullable_reverse_fk_column("clear")?;
                rewrite_rows(
                    &self.db,
                    &self.path.target,
                    &key_set(std::slice::from_ref(&self.key)),
                    &fk,
                    Some((&fk, &ScalarValue::Null)),
                )?;
                Ok(())
            }
            _ => self.remove_links(None),
        }
    }

    /// `set(objs)`: makes exactly these objects related (removing the others, adding the
    /// missing ones).
    pub fn set(&self, objects: &[&Instance]) -> Result<()> {
        let wanted = self.target_keys(objects)?;
        let current = self.all().fetch_instances()?;
        let wanted_set = key_set(&wanted);
        let stale: Vec<&Instance> = current
            .iter()
            .filter(|i| key_string(&i.pk()).is_none_or(|k| !wanted_set.contains(&k)))
            .collect();
        if !stale.is_empty() {
            self.remove(&stale)?;
        }
        let present: HashSet<String> = current.iter().filter_map(|i| key_string(&i.pk())).collect();
        let missing: Vec<&Instance> = objects
            .iter()
            .copied()
            .filter(|i| key_string(&i.pk()).is_none_or(|k| !present.contains(&k)))
            .collect();
        if !missing.is_empty() {
            self.add(&missing)?;
        }
        Ok(())
    }

    /// `create(**kwargs)`: creates a related object and links it.
    pub fn create(&self, values: impl IntoFieldValues) -> Result<Instance> {
        let mut values = values.into_field_values();
        match self.path.kind {
            RelationKind::ReverseForeignKey | RelationKind::ReverseOneToOne => {
                values.push((self.path.field_name.clone(), self.key.clone()));
                self.db.objects(self.path.target.name()).create(values)
            }
            _ => {
                let made = self.db.objects(self.path.target.name()).create(values)?;
                self.add(&[&made])?;
                Ok(made)
            }
        }
    }

    fn target_keys(&self, objects: &[&Instance]) -> Result<Vec<ScalarValue>> {
        objects
            .iter()
            .map(|o| {
                if !o.model_name().eq_ignore_ascii_case(self.path.target.name()) {
                    return Err(Error::TypeError(format!(
                        "'{}' instance expected, got {}",
                        self.path.target.name(),
                        o
                    )));
                }
                let key_column = match self.path.kind {
                    RelationKind::ManyToMany | RelationKind::ReverseManyToMany => {
                        &self.path.steps[1].column
                    }
                    _ => &self.target_pk_column()?,
                };
                o.column_value(&self.path.target, key_column)
            })
            .collect()
    }

    fn target_pk_column(&self) -> Result<String> {
        Ok(self.path.target.pk_field()?.column().to_string())
    }

    fn reverse_fk_column(&self) -> Result<String> {
        Ok(self.path.steps[0].column.clone())
    }

    fn nullable_reverse_fk_column(&self, method: &str) -> Result<String> {
        let field = self
            .path
            .target
            .get_field(&self.path.field_name)
            .ok_or_else(|| Error::FieldError(format!("no field {}", self.path.field_name)))?;
        if !field.is_nullable() {
            return Err(Error::AttributeError(format!(
                "'RelatedManager' object has no attribute '{method}' (the ForeignKey {}.{} is \
                 not nullable)",
                self.path.target.name(),
                field.name()
            )));
        }
        Ok(field.column().to_string())
    }

    /// `(link column for this side, link column for the other side)` and the link model.
    fn link_columns(&self) -> Result<(Arc<Model>, String, String, bool)> {
        let link = self
            .path
            .link
            .as_ref()
            .ok_or_else(|| Error::TypeError("not a many-to-many relation".into()))?;
        let (mine, theirs) = self
            .path
            .link_fields()
            .ok_or_else(|| Error::TypeError("not a many-to-many relation".into()))?;
        Ok((
            Arc::clone(&link.link),
            mine.column().to_string(),
            theirs.column().to_string(),
            link.symmetrical,
        ))
    }

    fn add_links(&self, keys: &[ScalarValue], extra: &[(String, ScalarValue)]) -> Result<()> {
        let (link, mine, theirs, symmetrical) = self.link_columns()?;
        let (mine_name, theirs_name) = (attname_of(&link, &mine)?, attname_of(&link, &theirs)?);
        let existing: HashSet<(String, String)> = self
            .db
            .objects(link.name())
            .clear_ordering()
            .fetch()?
            .iter()
            .filter_map(|row| {
                let a = key_string(&row.get_value(&mine_name).ok()?)?;
                let b = key_string(&row.get_value(&theirs_name).ok()?)?;
                Some((a, b))
            })
            .collect();
        let mut seen = existing;
        let mut rows: Vec<Vec<(String, ScalarValue)>> = Vec::new();
        let mut push = |a: &ScalarValue, b: &ScalarValue| {
            if let (Some(ka), Some(kb)) = (key_string(a), key_string(b)) {
                if seen.insert((ka, kb)) {
                    let mut row = vec![
                        (mine_name.clone(), a.clone()),
                        (theirs_name.clone(), b.clone()),
                    ];
                    row.extend(extra.iter().cloned());
                    rows.push(row);
                }
            }
        };
        for key in keys {
            push(&self.key, key);
            if symmetrical {
                push(key, &self.key);
            }
        }
        self.db.objects(link.name()).bulk_create(rows)?;
        Ok(())
    }

    /// Deletes this instance's link rows to `keys` (all of them for `None`).
    fn remove_links(&self, keys: Option<&[ScalarValue]>) -> Result<()> {
        let (link, mine, theirs, symmetrical) = self.link_columns()?;
        let me = key_string(&self.key).unwrap_or_default();
        let others = keys.map(key_set);
        let matches = |a: &str, b: &str| a == me && others.as_ref().is_none_or(|o| o.contains(b));
        let table = self.db.catalog().table(&link.table_name())?;
        let schema = table.schema();
        let (mine_index, theirs_index) = (
            column_index(&schema, &mine)?,
            column_index(&schema, &theirs)?,
        );
        delete_matching(&self.db, &link, |batch, row| {
            let a = key_at(batch, mine_index, row)?;
            let b = key_at(batch, theirs_index, row)?;
            Ok(matches(&a, &b) || (symmetrical && matches(&b, &a)))
        })?;
        Ok(())
    }
}

fn attname_of(model: &Model, column: &str) -> Result<String> {
    model
        .fields()
        .iter()
        .find(|f| f.column() == column)
        .map(|f| f.attname().to_string())
        .ok_or_else(|| Error::FieldError(format!("{} has no column {column}", model.name())))
}

/// A hashable form of a key value (keys of one relation share a type; integers of any
/// width compare equal).
pub(crate) fn key_string(value: &ScalarValue) -> Option<String> {
    if value.is_null() {
        return None;
    }
    Some(match (value.as_i64(), value) {
        (Some(n), _) => format!("i{n}"),
        (None, ScalarValue::Utf8(Some(s))) => format!("s{s}"),
        (None, other) => format!("{other:?}"),
    })
}

pub(crate) fn key_set(values: &[ScalarValue]) -> HashSet<String> {
    values.iter().filter_map(key_string).collect()
}

fn column_index(schema: &arrow::datatypes::Schema, column: &str) -> Result<usize> {
    schema
        .index_of(column)
        .map_err(|e| Error::Engine(quiver_engine::EngineError::from(e)))
}

fn key_at(batch: &RecordBatch, column: usize, row: usize) -> Result<String> {
    let value = ScalarValue::try_from_array(batch.column(column).as_ref(), row)
        .map_err(|e| Error::Engine(quiver_engine::EngineError::from(e)))?;
    Ok(key_string(&value).unwrap_or_default())
}

/// Deletes the rows of `model` for which `selected(batch, row)` holds, in one atomic
/// rewrite; returns how many.
pub(crate) fn delete_matching(
    db: &Database,
    model: &Model,
    selected: impl Fn(&RecordBatch, usize) -> Result<bool>,
) -> Result<usize> {
    let table = db.catalog().table(&model.table_name())?;
    let mut deleted = 0;
    let mut failure = None;
    table.rewrite(|version| {
        let mut chunks = Vec::with_capacity(version.chunks().len());
        for chunk in version.chunks() {
            let batch = chunk.batch();
            let mask: Vec<bool> = match (0..batch.num_rows())
                .map(|row| selected(batch, row))
                .collect::<Result<Vec<bool>>>()
            {
                Ok(mask) => mask,
                Err(e) => {
                    failure = Some(e);
                    return Ok(version.chunks().to_vec());
                }
            };
            let hits = mask.iter().filter(|m| **m).count();
            if hits == 0 {
                chunks.push(Arc::clone(chunk));
                continue;
            }
            deleted += hits;
            let keep = not(&BooleanArray::from(mask))?;
            let kept = filter_record_batch(batch, &keep)?;
            if kept.num_rows() > 0 {
                chunks.push(Chunk::new(kept));
            }
        }
        Ok(chunks)
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok(deleted),
    }
}

/// Sets `set.0` to `set.1` (or, with `None`, deletes the rows) where the value of
/// `key_column` is in `keys`; one atomic rewrite. Returns the number of rows touched.
pub(crate) fn rewrite_rows(
    db: &Database,
    model: &Model,
    keys: &HashSet<String>,
    key_column: &str,
    set: Option<(&str, &ScalarValue)>,
) -> Result<usize> {
    let table = db.catalog().table(&model.table_name())?;
    let schema = table.schema();
    let key_index = column_index(&schema, key_column)?;
    let Some((column, value)) = set else {
        return delete_matching(db, model, |batch, row| {
            Ok(keys.contains(&key_at(batch, key_index, row)?))
        });
    };
    let set_index = column_index(&schema, column)?;
    let data_type = schema.field(set_index).data_type().clone();
    let mut touched = 0;
    let mut failure = None;
    table.rewrite(|version| {
        let mut chunks = Vec::with_capacity(version.chunks().len());
        for chunk in version.chunks() {
            let batch = chunk.batch();
            let mut mask = Vec::with_capacity(batch.num_rows());
            for row in 0..batch.num_rows() {
                match key_at(batch, key_index, row) {
                    Ok(k) => mask.push(keys.contains(&k)),
                    Err(e) => {
                        failure = Some(e);
                        return Ok(version.chunks().to_vec());
                    }
                }
            }
            let hits = mask.iter().filter(|m| **m).count();
            if hits == 0 {
                chunks.push(Arc::clone(chunk));
                continue;
            }
            touched += hits;
            let replacement = if value.is_null() {
                ScalarValue::null_of(&data_type).to_array(batch.num_rows())
            } else {
                cast(&value.to_array(batch.num_rows()), &data_type)?
            };
            let old = batch.column(set_index);
            let new = zip(&BooleanArray::from(mask), &replacement, old)?;
            let mut columns = batch.columns().to_vec();
            columns[set_index] = new;
            chunks.push(Chunk::new(RecordBatch::try_new(batch.schema(), columns)?));
        }
        Ok(chunks)
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok(touched),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::q;
    use crate::queryset::fixtures::shop;

    #[test]
    fn keys_of_any_integer_width_compare_equal() {
        assert_eq!(
            key_string(&ScalarValue::Int32(Some(7))),
            key_string(&ScalarValue::Int64(Some(7)))
        );
        assert_eq!(key_string(&ScalarValue::Int64(None)), None);
        assert_ne!(
            key_string(&ScalarValue::from("7")),
            key_string(&ScalarValue::Int64(Some(7)))
        );
    }

    #[test]
    fn reverse_foreign_key_managers_move_and_unlink_rows() {
        let db = shop();
        let customers = db.objects("Customer");
        let bob = customers.get(q!(name = "Bob")).unwrap();
        let dee = customers.get(q!(name = "Dee")).unwrap();
        let order_ids = |manager: &RelatedManager| {
            let mut ids: Vec<i64> = manager.all().fetch().unwrap().column::<i64>("id").unwrap();
            ids.sort();
            ids
        };
        let bobs = bob.related("orders").unwrap();
        assert_eq!(order_ids(&bobs), [3]);
        let order4 = db.objects("Order").get(q!(id = 4)).unwrap();
        bobs.add(&[&order4]).unwrap();
        assert_eq!(order_ids(&bobs), [3, 4]);
        assert!(order_ids(&dee.related("orders").unwrap()).is_empty());
        // Order.customer is not nullable: remove() and clear() do not exist for it.
        let err = bobs.remove(&[&order4]).unwrap_err();
        assert_eq!(err.django_name(), "AttributeError");
        // Order.referrer is: clearing Bob's referred orders sets the key NULL.
        let referred = bob.related("referred_orders").unwrap();
        assert_eq!(referred.count().unwrap(), 1);
        referred.clear().unwrap();
        assert_eq!(referred.count().unwrap(), 0);
        assert_eq!(
            db.objects("Order").count().unwrap(),
            5,
            "no order was deleted"
        );
        let made = bobs.create([("amount", 5i64.into())]).unwrap();
        assert_eq!(made.get::<i64>("customer").unwrap(), 2);
    }
}
