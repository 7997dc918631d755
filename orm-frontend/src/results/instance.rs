//! [`Instance`]: one model object (what `create()`, `get()` and `first()` return).
//!
//! An instance is a model name plus its values by attname (`customer_id`, not `customer`), the
//! way Django stores a model object's `__dict__`. It knows which value is the primary key, so
//! it can be passed wherever a related object is expected (`("customer", (&ann).into())`).

use std::collections::BTreeMap;
use std::fmt;

use quiver_engine::ScalarValue;

use crate::database::Database;
use crate::error::{Error, Result};
use crate::results::related::Related;
use crate::results::{FromValue, Row};

/// A model object.
#[derive(Clone)]
pub struct Instance {
    pub(crate) model: String,
    pub(crate) pk_name: Option<String>,
    pub(crate) row: Row,
    /// The database it was read from or saved to: relation accessors query it.
    pub(crate) db: Option<Database>,
    /// Related objects loaded eagerly (`select_related`, `prefetch_related`), by accessor
    /// name or `to_attr`; Django's `_state.fields_cache` and `_prefetched_objects_cache`.
    pub(crate) related_cache: BTreeMap<String, Related>,
}

impl PartialEq for Instance {
    /// Equal model, key and values (Django compares model instances by primary key; the
    /// values are compared too so that tests can tell stale copies apart).
    fn eq(&self, other: &Instance) -> bool {
        self.model == other.model && self.pk_name == other.pk_name && self.row == other.row
    }
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("model", &self.model)
            .field("row", &self.row)
            .field("related", &self.related_cache)
            .finish()
    }
}

impl Instance {
    /// An instance of `model` with `row`'s values; `pk_name` is the primary key's attname.
    pub fn new(model: impl Into<String>, pk_name: Option<String>, row: Row) -> Instance {
        Instance {
            model: model.into(),
            pk_name,
            row,
            db: None,
            related_cache: BTreeMap::new(),
        }
    }

    /// The same instance, bound to `db` (relation accessors run their queries there).
    pub fn with_database(mut self, db: Database) -> Instance {
        self.db = Some(db);
        self
    }

    /// The database the instance belongs to, or an error for an unbound one.
    pub(crate) fn database(&self) -> Result<&Database> {
        self.db.as_ref().ok_or_else(|| {
            Error::ValueError(format!(
                "{} instance is not bound to a database (read it from a QuerySet or create() \
                 it first)",
                self.model
            ))
        })
    }

    /// The model's name (`"Customer"`).
    pub fn model_name(&self) -> &str {
        &self.model
    }

    /// The primary key's value (`ScalarValue::Null` when the row does not carry it).
    pub fn pk(&self) -> ScalarValue {
        self.pk_name
            .as_deref()
            .and_then(|name| self.row.get_value(name).ok())
            .unwrap_or(ScalarValue::Null)
    }

    /// The value of `name` read as `T`. `name` is an attname (`"customer_id"`), an annotation
    /// name or, for a relation, its field name (`"customer"` reads `customer_id`).
    pub fn get<T: FromValue>(&self, name: &str) -> Result<T> {
        self.row.get(&self.column_for(name)?)
    }

    /// The value of `name` (see [`get`](Self::get)).
    pub fn get_value(&self, name: &str) -> Result<ScalarValue> {
        self.row.get_value(&self.column_for(name)?)
    }

    /// The values as a row, by attname.
    pub fn row(&self) -> &Row {
        &self.row
    }

    /// `(attname, value)` pairs in column order.
    pub fn values(&self) -> impl Iterator<Item = (&str, &ScalarValue)> {
        self.row.iter()
    }

    fn column_for<'a>(&self, name: &'a str) -> Result<std::borrow::Cow<'a, str>> {
        if self.row.contains(name) {
            return Ok(name.into());
        }
        if name == "pk" {
            if let Some(pk) = &self.pk_name {
                return Ok(pk.clone().into());
            }
        }
        let attname = format!("{name}_id");
        if self.row.contains(&attname) {
            return Ok(attname.into());
        }
        Err(Error::FieldError(format!(
            "{} instance has no value for '{name}'. Values are: {}",
            self.model,
            self.row.columns().join(", ")
        )))
    }
}

impl From<&Instance> for ScalarValue {
    /// The instance's primary key: a related object stands for its key.
    fn from(instance: &Instance) -> ScalarValue {
        instance.pk()
    }
}

impl fmt::Display for Instance {
    /// `Customer {id: 1, name: 'Ann'}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.model, self.row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_values_by_attname_field_name_and_pk() {
        let order = Instance::new(
            "Order",
            Some("id".into()),
            Row::from_pairs([
                ("id", ScalarValue::Int64(Some(7))),
                ("customer_id", ScalarValue::Int64(Some(2))),
            ]),
        );
        assert_eq!(order.pk(), ScalarValue::Int64(Some(7)));
        assert_eq!(order.get::<i64>("customer").unwrap(), 2);
        assert_eq!(order.get::<i64>("customer_id").unwrap(), 2);
        assert_eq!(order.get::<i64>("pk").unwrap(), 7);
        assert_eq!(ScalarValue::from(&order), ScalarValue::Int64(Some(7)));
        assert!(order.get::<i64>("amount").is_err());
        assert_eq!(order.to_string(), "Order {id: 7, customer_id: 2}");
    }
}
