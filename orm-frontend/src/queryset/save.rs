//! Instance writes: `obj.save()` (insert or update by primary key, `update_fields=`),
//! `obj.refresh_from_db()` and setting a field (`obj.balance = 10`).
//!
//! As in Django, `save()` on an object whose primary key is set first tries an UPDATE of that
//! row and falls back to an INSERT when no row has that key; an object without a key is
//! inserted and gets its new key. The update goes through [`QuerySet::update`], so it takes
//! the row lock and checks the same constraints as every other write.

use std::sync::Arc;

use quiver_engine::ScalarValue;

use crate::error::{Error, Result};
use crate::expressions::{Expression, Q};
use crate::query_log::internal_reads;
use crate::queryset::update::field_index;
use crate::results::{Instance, Row};

impl Instance {
    /// Sets field `name` (name, attname or `pk`) to `value` in this object; `save()` stores it.
    pub fn set(&mut self, name: &str, value: impl Into<ScalarValue>) -> Result<()> {
        let columns: Vec<String> = self.row.columns().to_vec();
        let attname = format!("{name}_id");
        let position = columns
            .iter()
            .position(|c| c == name)
            .or_else(|| {
                (name == "pk")
                    .then_some(self.pk_name.as_ref())
                    .flatten()
                    .and_then(|pk| columns.iter().position(|c| c == pk))
            })
            .or_else(|| columns.iter().position(|c| *c == attname))
            .ok_or_else(|| {
                Error::FieldError(format!(
                    "{} instance has no field named '{name}'",
                    self.model_name()
                ))
            })?;
        let mut values: Vec<ScalarValue> = self.row.values().to_vec();
        values[position] = value.into();
        let columns: Arc<[String]> = columns.into();
        self.row = Row::new(columns, values);
        Ok(())
    }

    /// `obj.save()`: updates the row with this object's primary key, or inserts the object
    /// when there is no such row (or no key yet); afterwards the object holds what was stored.
    /// Runs on the database the instance was read from or created in.
    pub fn save(&mut self) -> Result<()> {
        let db = self.database()?.clone();
        let model = db.model(self.model_name())?;
        let pk = self.pk();
        if !pk.is_null() {
            let fields: Vec<(String, Expression)> = self
                .values()
                .filter(|(name, _)| model.pk().is_none_or(|p| p.attname() != *name))
                .filter(|(name, _)| model.fields().iter().any(|f| f.attname() == *name))
                .map(|(name, value)| (name.to_string(), Expression::from(value.clone())))
                .collect();
            let updated = db
                .objects(model.name())
                .filter(Q::new("pk", pk.clone()))
                .update(fields)?;
            if updated > 0 {
                // Django's save() reads nothing back; this re-read is Quiver's own.
                return internal_reads(|| self.refresh_from_db());
            }
        }
        let values: Vec<(String, ScalarValue)> = self
            .values()
            .filter(|(name, _)| model.fields().iter().any(|f| f.attname() == *name))
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect();
        let made = db.objects(model.name()).create(values)?;
        self.row = made.row;
        self.pk_name = made.pk_name;
        Ok(())
    }

    /// `obj.save(update_fields=[...])`: writes only those fields of the existing row; fails
    /// with `DatabaseError` when no row has this object's key.
    pub fn save_update_fields<S: AsRef<str>>(&mut self, fields: &[S]) -> Result<()> {
        let db = self.database()?.clone();
        let model = db.model(self.model_name())?;
        let mut unknown = Vec::new();
        let mut updates: Vec<(String, Expression)> = Vec::new();
        for name in fields {
            let name = name.as_ref();
            match field_index(&model, name) {
                Ok(position) => {
                    let field = &model.fields()[position];
                    let value = self.get_value(field.attname())?;
                    updates.push((field.attname().to_string(), Expression::from(value)));
                }
                Err(_) => unknown.push(name.to_string()),
            }
        }
        if !unknown.is_empty() {
            return Err(Error::ValueError(format!(
                "The following fields do not exist in this model, are m2m fields, or are \
                 non-concrete fields: {}",
                unknown.join(", ")
            )));
        }
        if updates.is_empty() {
            return Ok(());
        }
        let updated = db
            .objects(model.name())
            .filter(Q::new("pk", self.pk()))
            .update(updates)?;
        if updated == 0 {
            return Err(Error::Engine(quiver_engine::EngineError::Execution(
                "Save with update_fields did not affect any rows.".into(),
            )));
        }
        Ok(())
    }

    /// `obj.refresh_from_db()`: reloads every field from the database (inside a transaction,
    /// as that transaction sees the row).
    pub fn refresh_from_db(&mut self) -> Result<()> {
        let db = self.database()?.clone();
        let fresh = db.objects(self.model_name()).get(Q::new("pk", self.pk()))?;
        self.row = fresh.row;
        self.related_cache.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CharField, IntegerField, Model};
    use crate::q;
    use crate::Database;

    fn db() -> Database {
        let db = Database::new();
        db.register(
            Model::new("Item")
                .field("code", CharField::new(10).unique())
                .field("qty", IntegerField::new().default(0i32)),
        )
        .unwrap();
        db
    }

    #[test]
    fn save_updates_or_inserts_and_refresh_reloads() {
        let db = db();
        let mut item = db.objects("Item").create([("code", "a".into())]).unwrap();
        item.set("qty", 5i32).unwrap();
        item.save().unwrap();
        assert_eq!(
            db.objects("Item")
                .get(q!(code = "a"))
                .unwrap()
                .get::<i64>("qty")
                .unwrap(),
            5
        );
        let mut copy = item.clone();
        db.objects("Item").update([("qty", 7i64)]).unwrap();
        copy.refresh_from_db().unwrap();
        assert_eq!(copy.get::<i64>("qty").unwrap(), 7);
        // A key with no row inserts.
        item.set("id", 42i64).unwrap();
        item.set("code", "b").unwrap();
        item.save().unwrap();
        assert_eq!(db.objects("Item").count().unwrap(), 2);
        assert_eq!(item.pk(), ScalarValue::Int64(Some(42)));
        // update_fields writes only those fields.
        item.set("qty", 1i32).unwrap();
        item.set("code", "zzz").unwrap();
        item.save_update_fields(&["qty"]).unwrap();
        let stored = db.objects("Item").get(q!(id = 42)).unwrap();
        assert_eq!(stored.get::<String>("code").unwrap(), "b");
        assert_eq!(stored.get::<i64>("qty").unwrap(), 1);
        let err = item.save_update_fields(&["nope"]).unwrap_err();
        assert_eq!(err.django_name(), "ValueError");
        // A unique violation changes nothing.
        item.set("code", "a").unwrap();
        let err = item.save().unwrap_err();
        assert_eq!(err.django_name(), "IntegrityError");
        assert_eq!(
            db.objects("Item")
                .get(q!(id = 42))
                .unwrap()
                .get::<String>("code")
                .unwrap(),
            "b"
        );
    }

    #[test]
    fn get_or_create_and_update_or_create() {
        let db = db();
        let items = db.objects("Item");
        let (a, created) = items
            .get_or_create([("code", "a".into())], [("qty", 3i64.into())])
            .unwrap();
        assert!(created);
        assert_eq!(a.get::<i64>("qty").unwrap(), 3);
        let (again, created) = items
            .get_or_create([("code", "a".into())], [("qty", 9i64.into())])
            .unwrap();
        assert!(!created);
        assert_eq!(again.pk(), a.pk());
        let (updated, created) = items
            .update_or_create([("code", "a".into())], [("qty", 10i64.into())], None)
            .unwrap();
        assert!(!created);
        assert_eq!(updated.get::<i64>("qty").unwrap(), 10);
        let (made, created) = items
            .update_or_create(
                [("code", "b".into())],
                [("qty", 10i64.into())],
                Some(vec![("qty".to_string(), ScalarValue::Int64(Some(1)))]),
            )
            .unwrap();
        assert!(created);
        assert_eq!(made.get::<i64>("qty").unwrap(), 1);
        assert_eq!(items.count().unwrap(), 2);
    }
}
