//! Related objects on instances: Django's relation descriptors in Rust.
//!
//! `order.customer` in Django is an attribute that runs one query the first time it is read
//! — the N+1 pattern when done in a loop — unless `select_related("customer")` or
//! `prefetch_related` already put the object in the instance's cache. Here
//! [`Instance::related_object`] is that attribute (a forward ForeignKey/OneToOne, or the
//! reverse side of a OneToOne), [`Instance::related`] returns the manager of a multi-valued
//! relation (`book.authors`, `publisher.book_set`), and [`Related`] is what eager loading
//! caches.

use std::sync::Arc;

use quiver_engine::ScalarValue;

use crate::error::{Error, Result};
use crate::expressions::Q;
use crate::model::{Model, RelationKind};
use crate::queryset::RelatedManager;
use crate::results::Instance;

/// An eagerly loaded relation.
#[derive(Debug, Clone, PartialEq)]
pub enum Related {
    /// A single-valued relation: the object, or `None` (a NULL ForeignKey, no reverse
    /// OneToOne row).
    One(Option<Box<Instance>>),
    /// A multi-valued relation, in the order of the prefetch query.
    Many(Vec<Instance>),
}

impl Instance {
    /// `instance.<name>` for a single-valued relation: a forward ForeignKey/OneToOneField or
    /// the reverse side of a OneToOneField. Served from the cache `select_related` /
    /// `prefetch_related` filled; otherwise one query (a NULL key runs none).
    ///
    /// As in Django, `Ok(None)` is only a nullable ForeignKey holding NULL. A reverse
    /// OneToOne with no row, or a non-null ForeignKey that is unset, is
    /// `RelatedObjectDoesNotExist` ("Place has no restaurant."); a key pointing at a missing
    /// row is the related model's `DoesNotExist`. [`Instance::related_object_or_none`] and
    /// [`Instance::has_related_object`] are the non-raising forms (Django's `hasattr`).
    pub fn related_object(&self, name: &str) -> Result<Option<Instance>> {
        match self.related_cache.get(name) {
            Some(Related::One(Some(found))) => return Ok(Some(found.as_ref().clone())),
            Some(Related::Many(_)) => return Err(multi_valued(name)),
            _ => {}
        }
        let db = self.database()?;
        let model = db.model(&self.model)?;
        let path = db.registry().accessor_relation(&model, name)?;
        let nullable = match path.kind {
            RelationKind::Forward => model
                .get_field(&path.field_name)
                .is_some_and(|f| f.is_nullable()),
            RelationKind::ReverseOneToOne => false,
            _ => return Err(multi_valued(name)),
        };
        let missing =
            || Error::RelatedObjectDoesNotExist(format!("{} has no {name}.", model.name()));
        if let Some(Related::One(None)) = self.related_cache.get(name) {
            return if nullable { Ok(None) } else { Err(missing()) };
        }
        let step = &path.steps[0];
        let value = self.column_value(&model, &step.parent_column)?;
        if value.is_null() {
            return if nullable { Ok(None) } else { Err(missing()) };
        }
        let queryset = match path.kind {
            RelationKind::Forward => {
                let key = field_name_of_column(&path.target, &step.column)?;
                db.objects(path.target.name()).filter(Q::new(key, value))
            }
            _ => db
                .objects(path.target.name())
                .filter(Q::new(path.field_name.clone(), value)),
        };
        let mut found = queryset.clear_ordering().slice(..2).fetch_instances()?;
        match (found.is_empty(), path.kind) {
            (false, _) => Ok(Some(found.remove(0))),
            (true, RelationKind::ReverseOneToOne) => Err(missing()),
            // A ForeignKey value with no row behind it (constraints off): Django's
            // `get()` on the related model.
            (true, _) => Err(Error::DoesNotExist(format!(
                "{} matching query does not exist.",
                path.target.name()
            ))),
        }
    }

    /// [`Instance::related_object`], with `None` where it raises `RelatedObjectDoesNotExist`
    /// (a reverse OneToOne with no row): the question `hasattr(place, "restaurant")` asks.
    pub fn related_object_or_none(&self, name: &str) -> Result<Option<Instance>> {
        match self.related_object(name) {
            Err(Error::RelatedObjectDoesNotExist(_)) => Ok(None),
            other => other,
        }
    }

    /// Django's `hasattr(instance, name)` for a single-valued relation: whether the related
    /// object exists (runs the query `related_object` would, or reads the eager cache).
    pub fn has_related_object(&self, name: &str) -> Result<bool> {
        Ok(self.related_object_or_none(name)?.is_some())
    }

    /// `instance.<accessor>` for a multi-valued relation: the related manager
    /// (`book.related("authors")?.all()`, `.add(..)`, `.remove(..)`, …).
    pub fn related(&self, accessor: &str) -> Result<RelatedManager> {
        let db = self.database()?;
        let model = db.model(&self.model)?;
        let path = db.registry().accessor_relation(&model, accessor)?;
        if !path.is_multi_valued() {
            return Err(Error::TypeError(format!(
                "'{accessor}' is a single-valued relation: use related_object(\"{accessor}\")"
            )));
        }
        let key = self.column_value(&model, &path.steps[0].parent_column)?;
        let cached = match self.related_cache.get(accessor) {
            Some(Related::Many(items)) => Some(items.clone()),
            _ => None,
        };
        RelatedManager::new(db.clone(), path, key, cached)
    }

    /// The names eagerly loaded relations are stored under (accessors, forward relation
    /// names and `Prefetch` `to_attr`s), in name order: what a frontend needs to show the
    /// `to_attr` attributes Django puts in an object's `__dict__`.
    pub fn cached_names(&self) -> impl Iterator<Item = &str> {
        self.related_cache.keys().map(String::as_str)
    }

    /// A relation loaded by `select_related`/`prefetch_related` (by accessor or `to_attr`).
    pub fn cached_related(&self, name: &str) -> Option<&Related> {
        self.related_cache.get(name)
    }

    /// The list a `prefetch_related` put under `name` (an accessor or `Prefetch`'s
    /// `to_attr`).
    pub fn prefetched(&self, name: &str) -> Option<&[Instance]> {
        match self.related_cache.get(name) {
            Some(Related::Many(items)) => Some(items),
            _ => None,
        }
    }

    /// Stores an eagerly loaded relation.
    pub(crate) fn set_related(&mut self, name: impl Into<String>, related: Related) {
        self.related_cache.insert(name.into(), related);
    }

    /// The stored value of the column `column` of `model` (a key a relation joins on).
    pub(crate) fn column_value(&self, model: &Model, column: &str) -> Result<ScalarValue> {
        let field = model
            .fields()
            .iter()
            .find(|f| f.column() == column)
            .ok_or_else(|| {
                Error::FieldError(format!("{} has no column '{column}'", model.name()))
            })?;
        self.get_value(field.attname())
    }
}

fn multi_valued(name: &str) -> Error {
    Error::TypeError(format!(
        "'{name}' is a multi-valued relation: use related(\"{name}\")"
    ))
}

/// The name of `model`'s field stored in `column`.
pub(crate) fn field_name_of_column(model: &Arc<Model>, column: &str) -> Result<String> {
    model
        .fields()
        .iter()
        .find(|f| f.column() == column)
        .map(|f| f.name().to_string())
        .ok_or_else(|| Error::FieldError(format!("{} has no column '{column}'", model.name())))
}
