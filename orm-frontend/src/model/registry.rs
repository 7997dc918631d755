//! [`Registry`]: the registered models of one database (Django's app registry).
//!
//! Registration is where a model is checked against the others: a relation must point at a
//! model registered before it (or at itself), and its reverse name must not clash with a field
//! or another reverse name on the target. The registry also answers the reverse side of every
//! relation ("which relations point at Customer?"), which the QuerySet compiler needs for
//! Django's "Choices are: …" list and for reverse traversal.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::relations::auto_link_model;
use crate::model::{FieldType, Model};

/// The reverse side of a ForeignKey or OneToOneField, as seen from the model it points at.
#[derive(Debug, Clone)]
pub struct ReverseRelation {
    /// Django's related query name: `related_query_name`, else `related_name`, else the
    /// lowercase name of the model holding the relation (`"order"`).
    pub query_name: String,
    /// The model holding the relation field (`Order`).
    pub related_model: Arc<Model>,
    /// The relation field's name on `related_model` (`"customer"`).
    pub field_name: String,
    /// Django's reverse accessor on instances: `related_name`, else `<model>_set` for a
    /// ForeignKey and the lowercase model name for a OneToOneField.
    pub accessor: String,
    /// True for a OneToOneField (the reverse side is single-valued).
    pub one_to_one: bool,
}

/// Registered models, in registration order.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    models: Vec<Arc<Model>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Validates and completes `model` and adds it. Fails without changing anything.
    pub fn register(&mut self, model: Model) -> Result<Arc<Model>> {
        if self.find(model.name()).is_some() {
            return Err(Error::ImproperlyConfigured(format!(
                "Conflicting '{}' models: a model with this name is already registered.",
                model.name()
            )));
        }
        let table = model.table_name();
        if let Some(other) = self.models.iter().find(|m| m.table_name() == table) {
            return Err(Error::ImproperlyConfigured(format!(
                "{}: (models.E028) db_table '{table}' is used by multiple models: {}, {}.",
                model.name(),
                other.name(),
                model.name()
            )));
        }
        let model = Arc::new(
            model
                .prepared()?
                .resolve_relation_types(|name| self.find(name))?,
        );
        self.check_reverse_names(&model)?;
        self.check_many_to_many_names(&model)?;
        self.models.push(Arc::clone(&model));
        // A ManyToManyField without `through=` gets its automatic link model, registered
        // right after its owner (the link's ForeignKeys point at both sides).
        for field in model.many_to_many() {
            let FieldType::ManyToManyField(spec) = field.field_type() else {
                continue;
            };
            if spec.to != "self" && spec.to != model.name() && self.find(&spec.to).is_none() {
                return Err(Error::ImproperlyConfigured(format!(
                    "{}.{}: (fields.E300) Field defines a relation with model '{}', which is \
                     either not installed, or is abstract.",
                    model.name(),
                    field.name(),
                    spec.to
                )));
            }
            if spec.through.is_none() {
                let link = auto_link_model(&model, field, &spec.to);
                let link = Arc::new(
                    link.prepared()?
                        .resolve_relation_types(|name| self.find(name))?,
                );
                self.models.push(link);
            }
        }
        Ok(model)
    }

    /// A model by name. Like Django's `apps.get_model`, the name is case-insensitive.
    pub fn find(&self, name: &str) -> Option<Arc<Model>> {
        self.models
            .iter()
            .find(|m| m.name() == name)
            .or_else(|| {
                self.models
                    .iter()
                    .find(|m| m.name().eq_ignore_ascii_case(name))
            })
            .cloned()
    }

    /// A model by name, or Django's `LookupError`.
    pub fn get(&self, name: &str) -> Result<Arc<Model>> {
        self.find(name).ok_or_else(|| {
            let known: Vec<&str> = self.models.iter().map(|m| m.name()).collect();
            Error::LookupError(format!(
                "No installed model named '{name}'. Models are: {}",
                known.join(", ")
            ))
        })
    }

    /// The registered models in registration order.
    pub fn models(&self) -> &[Arc<Model>] {
        &self.models
    }

    /// Every relation pointing at `model_name`, in registration and field order.
    pub fn reverse_relations(&self, model_name: &str) -> Vec<ReverseRelation> {
        reverse_relations_among(&self.models, model_name)
    }

    fn check_reverse_names(&self, model: &Arc<Model>) -> Result<()> {
        let mut all: Vec<Arc<Model>> = self.models.clone();
        all.push(Arc::clone(model));
        for field in model.fields() {
            let Some(relation) = field.relation() else {
                continue;
            };
            let target_name = if relation.to == "self" {
                model.name()
            } else {
                relation.to.as_str()
            };
            let Some(target) = all.iter().find(|m| m.name() == target_name).cloned() else {
                continue;
            };
            let mine = format!("{}.{}", model.name(), field.name());
            let reverse = reverse_relations_among(&all, target.name());
            let Some(this) = reverse
                .iter()
                .find(|r| r.related_model.name() == model.name() && r.field_name == field.name())
            else {
                continue;
            };
            if let Some(clash) = target.get_field(&this.query_name) {
                return Err(Error::ImproperlyConfigured(format!(
                    "{mine}: (fields.E303) Reverse query name for '{mine}' clashes with field \
                     name '{}.{}'.",
                    target.name(),
                    clash.name()
                )));
            }
            if let Some(other) = reverse.iter().find(|r| {
                r.query_name == this.query_name
                    && !(r.related_model.name() == model.name() && r.field_name == field.name())
            }) {
                return Err(Error::ImproperlyConfigured(format!(
                    "{mine}: (fields.E305) Reverse query name for '{mine}' clashes with reverse \
                     query name for '{}.{}'. Add or change a related_name argument to the \
                     definition for '{mine}' or '{}.{}'.",
                    other.related_model.name(),
                    other.field_name,
                    other.related_model.name(),
                    other.field_name
                )));
            }
        }
        Ok(())
    }
}

impl Registry {
    /// Django's fields.E303/E305 for the reverse names many-to-many relations add: a
    /// `ManyToManyField`'s reverse query name must not be a field of its target or another
    /// relation's reverse name there, and a ForeignKey's must not be a many-to-many one's.
    fn check_many_to_many_names(&self, model: &Arc<Model>) -> Result<()> {
        let mut all = self.clone();
        all.models.push(Arc::clone(model));
        let mut targets: Vec<String> = model
            .fields()
            .iter()
            .filter_map(|f| f.relation().map(|r| r.to.clone()))
            .collect();
        targets.extend(
            model
                .many_to_many()
                .iter()
                .filter_map(|f| match f.field_type() {
                    FieldType::ManyToManyField(spec) => Some(spec.to.clone()),
                    _ => None,
                }),
        );
        for target in targets {
            let target = if target == "self" {
                model.name().to_string()
            } else {
                target
            };
            let Some(target_model) = all.find(&target) else {
                continue;
            };
            let mut names: Vec<(String, String)> = reverse_relations_among(&all.models, &target)
                .into_iter()
                .map(|r| {
                    (
                        r.query_name,
                        format!("{}.{}", r.related_model.name(), r.field_name),
                    )
                })
                .collect();
            names.extend(
                all.reverse_many_to_many(&target)
                    .into_iter()
                    .map(|r| (r.query_name, format!("{}.{}", r.owner.name(), r.field_name))),
            );
            for m2m in all.reverse_many_to_many(&target) {
                if m2m.owner.name() != model.name() {
                    continue;
                }
                let mine = format!("{}.{}", model.name(), m2m.field_name);
                if let Some(clash) = target_model.get_field(&m2m.query_name) {
                    return Err(Error::ImproperlyConfigured(format!(
                        "{mine}: (fields.E303) Reverse query name for '{mine}' clashes with \
                         field name '{}.{}'.",
                        target_model.name(),
                        clash.name()
                    )));
                }
            }
            for (i, (name, owner)) in names.iter().enumerate() {
                if let Some((_, other)) = names[i + 1..].iter().find(|(n, _)| n == name) {
                    return Err(Error::ImproperlyConfigured(format!(
                        "{owner}: (fields.E305) Reverse query name for '{owner}' clashes with \
                         reverse query name for '{other}'. Add or change a related_name \
                         argument to the definition for '{owner}' or '{other}'."
                    )));
                }
            }
        }
        Ok(())
    }
}

fn reverse_relations_among(models: &[Arc<Model>], model_name: &str) -> Vec<ReverseRelation> {
    let mut out = Vec::new();
    for m in models {
        for f in m.fields() {
            let Some(relation) = f.relation() else {
                continue;
            };
            let target = if relation.to == "self" {
                m.name()
            } else {
                relation.to.as_str()
            };
            if target != model_name && !target.eq_ignore_ascii_case(model_name) {
                continue;
            }
            // `related_name="+"` (or ending in "+") hides the reverse relation, as in Django.
            if relation
                .related_name
                .as_deref()
                .is_some_and(|n| n.ends_with('+'))
            {
                continue;
            }
            let query_name = relation
                .related_query_name
                .clone()
                .or_else(|| relation.related_name.clone())
                .unwrap_or_else(|| m.name().to_lowercase());
            let one_to_one = matches!(f.field_type(), crate::model::FieldType::OneToOneField(_));
            let lower = m.name().to_lowercase();
            let accessor = relation.related_name.clone().unwrap_or_else(|| {
                if one_to_one {
                    lower.clone()
                } else {
                    format!("{lower}_set")
                }
            });
            out.push(ReverseRelation {
                query_name,
                accessor,
                related_model: Arc::clone(m),
                field_name: f.name().to_string(),
                one_to_one,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CharField, ForeignKey, OnDelete};

    fn customer() -> Model {
        Model::new("Customer").field("name", CharField::new(10))
    }

    #[test]
    fn reverse_relations_use_related_name_or_model_name() {
        let mut r = Registry::new();
        r.register(customer()).unwrap();
        r.register(Model::new("Order").field(
            "customer",
            ForeignKey::new("Customer", OnDelete::Cascade).related_name("orders"),
        ))
        .unwrap();
        r.register(
            Model::new("Note").field("customer", ForeignKey::new("Customer", OnDelete::Cascade)),
        )
        .unwrap();
        let names: Vec<String> = r
            .reverse_relations("Customer")
            .into_iter()
            .map(|rel| rel.query_name)
            .collect();
        assert_eq!(names, ["orders", "note"]);
        assert_eq!(r.get("customer").unwrap().name(), "Customer");
    }

    #[test]
    fn clashing_reverse_names_are_rejected() {
        let mut r = Registry::new();
        r.register(customer()).unwrap();
        r.register(
            Model::new("Order").field("customer", ForeignKey::new("Customer", OnDelete::Cascade)),
        )
        .unwrap();
        let err = r
            .register(Model::new("Other").field(
                "customer",
                ForeignKey::new("Customer", OnDelete::Cascade).related_name("order"),
            ))
            .unwrap_err();
        assert!(err.to_string().contains("fields.E305"), "{err}");
        let err = r
            .register(Model::new("Renamed").field(
                "customer",
                ForeignKey::new("Customer", OnDelete::Cascade).related_name("name"),
            ))
            .unwrap_err();
        assert!(err.to_string().contains("fields.E303"), "{err}");
        assert_eq!(r.models().len(), 2);
    }

    #[test]
    fn many_to_many_reverse_names_must_not_clash() {
        let mut r = Registry::new();
        r.register(customer()).unwrap();
        r.register(Model::new("Tag").field(
            "customers",
            crate::model::ManyToManyField::new("Customer").related_name("tags"),
        ))
        .unwrap();
        let err = r
            .register(Model::new("Label").field(
                "customers",
                crate::model::ManyToManyField::new("Customer").related_name("tags"),
            ))
            .unwrap_err();
        assert!(err.to_string().contains("fields.E305"), "{err}");
        let err = r
            .register(Model::new("Badge").field(
                "customers",
                crate::model::ManyToManyField::new("Customer").related_name("name"),
            ))
            .unwrap_err();
        assert!(err.to_string().contains("fields.E303"), "{err}");
        let err = r
            .register(Model::new("Note").field(
                "customer",
                ForeignKey::new("Customer", OnDelete::Cascade).related_name("tags"),
            ))
            .unwrap_err();
        assert!(err.to_string().contains("fields.E305"), "{err}");
        assert_eq!(r.models().len(), 3, "Customer, Tag and its link model");
    }

    #[test]
    fn unknown_models_are_a_lookup_error() {
        let mut r = Registry::new();
        r.register(customer()).unwrap();
        let err = r.get("Shop").unwrap_err();
        assert_eq!(err.django_name(), "LookupError");
        assert!(err.to_string().contains("Customer"), "{err}");
    }
}
