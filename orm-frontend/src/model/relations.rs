//! Relation metadata: every way one model reaches another, as the QuerySet compiler, the
//! related managers and eager loading need it.
//!
//! Django derives the reverse side of each relation from the forward field: a ForeignKey
//! `Order.customer` gives `Customer` the query name `order` (or `related_query_name` /
//! `related_name`) and the accessor `order_set` (or `related_name`); a OneToOneField's
//! accessor is the plain lowercase model name; a `ManyToManyField` reaches its target through
//! a link table in two joins (source → link → target), and its reverse side walks them
//! backwards. [`RelationPath`] describes any of these as a list of equi-join steps, so the
//! compiler follows all kinds the same way.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::{Field, FieldType, ForeignKey, Model, OnDelete, Registry};

/// Which side of which relation field a name reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    /// `order.customer`: a ForeignKey or OneToOneField on the source model.
    Forward,
    /// `customer.order_set`: the ForeignKey of another model pointing here.
    ReverseForeignKey,
    /// `place.restaurant`: the OneToOneField of another model pointing here.
    ReverseOneToOne,
    /// `book.authors`: a ManyToManyField on the source model.
    ManyToMany,
    /// `author.book_set`: another model's ManyToManyField pointing here.
    ReverseManyToMany,
}

/// One equi-join: `previous.parent_column = model.column`.
#[derive(Debug, Clone)]
pub struct JoinStep {
    /// Column of the model the step starts from.
    pub parent_column: String,
    /// The model the step reaches.
    pub model: Arc<Model>,
    /// Its column matched against `parent_column`.
    pub column: String,
    /// Whether a row of the model the step starts from may have no row here (Django's
    /// `Join.nullable`): a nullable ForeignKey, or any reverse or many-to-many step. Such a
    /// join is LEFT OUTER; any other is INNER unless a LEFT join precedes it on the path.
    pub nullable: bool,
}

/// A `ManyToManyField`'s link table and its two ForeignKeys.
#[derive(Debug, Clone)]
pub struct ManyToManyLink {
    /// The model holding the `ManyToManyField`.
    pub owner: Arc<Model>,
    /// The model it points at.
    pub target: Arc<Model>,
    /// The link model (automatic `Book_authors`, or the `through=` model).
    pub link: Arc<Model>,
    /// The link's ForeignKey to the owner (`book`).
    pub owner_field: Field,
    /// The link's ForeignKey to the target (`author`).
    pub target_field: Field,
    /// Whether the relation is symmetric (a self relation: `a.friends` has `b` iff
    /// `b.friends` has `a`; each pair is stored in both directions).
    pub symmetrical: bool,
    /// True when Quiver made the link model (rows can be added and removed freely).
    pub auto_created: bool,
}

/// How a name on a model reaches related rows.
#[derive(Debug, Clone)]
pub struct RelationPath {
    pub kind: RelationKind,
    /// The model the name is on.
    pub source: Arc<Model>,
    /// The model whose rows it reaches.
    pub target: Arc<Model>,
    /// Joins from the source to the target, in order: one, or two for many-to-many (through
    /// the link table). Never empty.
    pub steps: Vec<JoinStep>,
    /// The relation field's name: on the source (forward, many-to-many) or on the target
    /// (reverse ForeignKey/OneToOne), or the owner's ManyToManyField (reverse many-to-many).
    pub field_name: String,
    /// For many-to-many relations, both sides of the link.
    pub link: Option<ManyToManyLink>,
}

impl RelationPath {
    /// Whether one source row can reach many target rows (reverse ForeignKey, many-to-many).
    pub fn is_multi_valued(&self) -> bool {
        matches!(
            self.kind,
            RelationKind::ReverseForeignKey
                | RelationKind::ManyToMany
                | RelationKind::ReverseManyToMany
        )
    }

    /// For a link walked from the source: `(link field pointing at the source, link field
    /// pointing at the target)`.
    pub fn link_fields(&self) -> Option<(&Field, &Field)> {
        let link = self.link.as_ref()?;
        Some(match self.kind {
            RelationKind::ReverseManyToMany => (&link.target_field, &link.owner_field),
            _ => (&link.owner_field, &link.target_field),
        })
    }
}

/// The reverse side of a `ManyToManyField`, as seen from its target.
#[derive(Debug, Clone)]
pub struct ReverseManyToMany {
    /// `related_query_name`, else `related_name`, else the lowercase owner model name.
    pub query_name: String,
    /// `related_name`, else `<owner>_set`.
    pub accessor: String,
    pub owner: Arc<Model>,
    pub field_name: String,
}

/// The name Django gives the automatic link model of `owner.field` (`Book_authors`).
pub(crate) fn auto_link_model_name(owner: &str, field: &str) -> String {
    format!("{owner}_{field}")
}

/// The automatic link model of `owner.field` to `target`: an `id`, a ForeignKey to each side
/// (`book`/`author`, or `from_person`/`to_person` for a self relation), unique together.
/// Its ForeignKeys have no reverse names (`related_name` ends in `+`).
pub(crate) fn auto_link_model(owner: &Model, field: &Field, target: &str) -> Model {
    let owner_lower = owner.name().to_lowercase();
    let self_relation = target == "self" || target == owner.name();
    let target_lower = if self_relation {
        owner_lower.clone()
    } else {
        target.to_lowercase()
    };
    let (from, to) = if self_relation {
        (format!("from_{owner_lower}"), format!("to_{owner_lower}"))
    } else {
        (owner_lower.clone(), target_lower)
    };
    let name = auto_link_model_name(owner.name(), field.name());
    let hidden = format!("{name}+");
    let target_name = if self_relation {
        owner.name().to_string()
    } else {
        target.to_string()
    };
    Model::new(name)
        .db_table(format!("{}_{}", owner.table_name(), field.name()))
        .field(
            from.clone(),
            ForeignKey::new(owner.name(), OnDelete::Cascade).related_name(hidden.clone()),
        )
        .field(
            to.clone(),
            ForeignKey::new(target_name, OnDelete::Cascade).related_name(hidden),
        )
        .unique_together([from, to])
        .auto_created()
}

impl Registry {
    /// The model a relation of `model` names (`"self"` is `model`).
    pub fn related_model(&self, model: &Arc<Model>, to: &str) -> Result<Arc<Model>> {
        if to == "self" || to == model.name() {
            return Ok(Arc::clone(model));
        }
        self.get(to)
    }

    /// The link of `owner`'s `ManyToManyField` `field`.
    pub fn many_to_many_link(&self, owner: &Arc<Model>, field: &Field) -> Result<ManyToManyLink> {
        let FieldType::ManyToManyField(spec) = field.field_type() else {
            return Err(Error::FieldError(format!(
                "{}.{} is not a ManyToManyField",
                owner.name(),
                field.name()
            )));
        };
        let target = self.related_model(owner, &spec.to)?;
        let self_relation = Arc::ptr_eq(owner, &target) || owner.name() == target.name();
        let (link, auto_created) = match &spec.through {
            Some(through) => (self.get(through)?, false),
            None => (
                self.get(&auto_link_model_name(owner.name(), field.name()))?,
                true,
            ),
        };
        let fks_to = |model: &Model| -> Vec<Field> {
            link.fields()
                .iter()
                .filter(|f| {
                    f.relation().is_some_and(|r| {
                        let to = if r.to == "self" { link.name() } else { &r.to };
                        to.eq_ignore_ascii_case(model.name())
                    })
                })
                .cloned()
                .collect()
        };
        let missing = || {
            Error::ImproperlyConfigured(format!(
                "{}.{}: (fields.E336) The model is used as an intermediate model by '{}.{}', but \
                 it does not have a foreign key to '{}' or '{}'.",
                owner.name(),
                field.name(),
                owner.name(),
                field.name(),
                owner.name(),
                target.name()
            ))
        };
        let (owner_field, target_field) = match &spec.through_fields {
            Some((source, destination)) => (
                link.get_field(source).cloned().ok_or_else(missing)?,
                link.get_field(destination).cloned().ok_or_else(missing)?,
            ),
            None => {
                let to_owner = fks_to(owner);
                let to_target = fks_to(&target);
                let owner_field = to_owner.first().cloned().ok_or_else(missing)?;
                let target_field = to_target
                    .iter()
                    .find(|f| f.name() != owner_field.name())
                    .cloned()
                    .ok_or_else(missing)?;
                (owner_field, target_field)
            }
        };
        Ok(ManyToManyLink {
            symmetrical: self_relation && spec.symmetrical.unwrap_or(true),
            owner: Arc::clone(owner),
            target,
            link,
            owner_field,
            target_field,
            auto_created,
        })
    }

    /// Every `ManyToManyField` pointing at `model_name` that has a reverse side (not a
    /// symmetric self relation, not hidden by a `related_name` ending in `+`).
    pub fn reverse_many_to_many(&self, model_name: &str) -> Vec<ReverseManyToMany> {
        let mut out = Vec::new();
        for owner in self.models() {
            for field in owner.many_to_many() {
                let FieldType::ManyToManyField(spec) = field.field_type() else {
                    continue;
                };
                let self_relation = spec.to == "self" || spec.to == owner.name();
                let target = if self_relation {
                    owner.name()
                } else {
                    spec.to.as_str()
                };
                if !target.eq_ignore_ascii_case(model_name) {
                    continue;
                }
                if self_relation && spec.symmetrical.unwrap_or(true) {
                    continue;
                }
                if spec
                    .related_name
                    .as_deref()
                    .is_some_and(|n| n.ends_with('+'))
                {
                    continue;
                }
                let lower = owner.name().to_lowercase();
                out.push(ReverseManyToMany {
                    query_name: spec
                        .related_query_name
                        .clone()
                        .or_else(|| spec.related_name.clone())
                        .unwrap_or_else(|| lower.clone()),
                    accessor: spec
                        .related_name
                        .clone()
                        .unwrap_or_else(|| format!("{lower}_set")),
                    owner: Arc::clone(owner),
                    field_name: field.name().to_string(),
                });
            }
        }
        out
    }

    /// The relation `name` reaches from `model` in a query (`filter(name__…)`): a forward
    /// relation field, a `ManyToManyField`, or the query name of a reverse relation.
    pub fn query_relation(&self, model: &Arc<Model>, name: &str) -> Result<Option<RelationPath>> {
        self.relation(model, name, false)
    }

    /// The relation behind the attribute `name` of a `model` instance (Django's descriptor
    /// names): a forward relation field, a `ManyToManyField`, or a reverse accessor
    /// (`related_name`, `<model>_set`, or the lowercase model name of a OneToOneField).
    pub fn accessor_relation(&self, model: &Arc<Model>, name: &str) -> Result<RelationPath> {
        self.relation(model, name, true)?.ok_or_else(|| {
            Error::AttributeError(format!(
                "'{}' object has no attribute '{name}'",
                model.name()
            ))
        })
    }

    /// The reverse accessor names of `model` (for messages).
    pub fn accessor_names(&self, model: &Model) -> Vec<String> {
        let mut out: Vec<String> = self
            .reverse_relations(model.name())
            .into_iter()
            .map(|r| r.accessor)
            .collect();
        out.extend(
            self.reverse_many_to_many(model.name())
                .into_iter()
                .map(|r| r.accessor),
        );
        out
    }

    fn relation(
        &self,
        model: &Arc<Model>,
        name: &str,
        accessor: bool,
    ) -> Result<Option<RelationPath>> {
        if let Some(field) = model.get_field(name).filter(|f| f.name() == name) {
            let Some(spec) = field.relation() else {
                return Ok(None);
            };
            let target = self.related_model(model, &spec.to)?;
            let key = match &spec.to_field {
                Some(to_field) => target.get_field(to_field).cloned(),
                None => target.pk().cloned(),
            }
            .ok_or_else(|| {
                Error::ImproperlyConfigured(format!("{} has no key for {name}", target.name()))
            })?;
            return Ok(Some(RelationPath {
                kind: RelationKind::Forward,
                source: Arc::clone(model),
                steps: vec![JoinStep {
                    parent_column: field.column().to_string(),
                    model: Arc::clone(&target),
                    column: key.column().to_string(),
                    nullable: field.is_nullable(),
                }],
                target,
                field_name: name.to_string(),
                link: None,
            }));
        }
        if let Some(field) = model.get_many_to_many(name) {
            let link = self.many_to_many_link(model, field)?;
            return Ok(Some(many_to_many_path(
                RelationKind::ManyToMany,
                model,
                name,
                link,
            )?));
        }
        for reverse in self.reverse_relations(model.name()) {
            let matches = if accessor {
                reverse.accessor == name
            } else {
                reverse.query_name == name
            };
            if !matches {
                continue;
            }
            let related = Arc::clone(&reverse.related_model);
            let fk = related
                .get_field(&reverse.field_name)
                .cloned()
                .ok_or_else(|| {
                    Error::ImproperlyConfigured(format!(
                        "{} has no field '{}'",
                        related.name(),
                        reverse.field_name
                    ))
                })?;
            let key = match fk.relation().and_then(|r| r.to_field.as_deref()) {
                Some(to_field) => model.get_field(to_field).cloned(),
                None => model.pk().cloned(),
            }
            .ok_or_else(|| {
                Error::ImproperlyConfigured(format!("{} has no key for {name}", model.name()))
            })?;
            return Ok(Some(RelationPath {
                kind: if reverse.one_to_one {
                    RelationKind::ReverseOneToOne
                } else {
                    RelationKind::ReverseForeignKey
                },
                source: Arc::clone(model),
                steps: vec![JoinStep {
                    parent_column: key.column().to_string(),
                    model: Arc::clone(&related),
                    column: fk.column().to_string(),
                    nullable: true,
                }],
                target: related,
                field_name: reverse.field_name,
                link: None,
            }));
        }
        if let Some(path) = self.hidden_reverse_many_to_many(model, name)? {
            return Ok(Some(path));
        }
        for reverse in self.reverse_many_to_many(model.name()) {
            let matches = if accessor {
                reverse.accessor == name
            } else {
                reverse.query_name == name
            };
            if !matches {
                continue;
            }
            let field = reverse
                .owner
                .get_many_to_many(&reverse.field_name)
                .cloned()
                .ok_or_else(|| {
                    Error::ImproperlyConfigured(format!(
                        "{} has no field '{}'",
                        reverse.owner.name(),
                        reverse.field_name
                    ))
                })?;
            let link = self.many_to_many_link(&reverse.owner, &field)?;
            return Ok(Some(many_to_many_path(
                RelationKind::ReverseManyToMany,
                model,
                &reverse.field_name,
                link,
            )?));
        }
        Ok(None)
    }
}

impl Registry {
    /// The reverse side of `owner.field` under its internal name `"<Owner>_<field>+"`,
    /// which exists even where Django has no public reverse name (symmetric self relations,
    /// `related_name="+"`): related managers and prefetching filter through it.
    fn hidden_reverse_many_to_many(
        &self,
        model: &Arc<Model>,
        name: &str,
    ) -> Result<Option<RelationPath>> {
        let Some(stem) = name.strip_suffix('+') else {
            return Ok(None);
        };
        for owner in self.models() {
            for field in owner.many_to_many() {
                if auto_link_model_name(owner.name(), field.name()) != stem {
                    continue;
                }
                let link = self.many_to_many_link(owner, field)?;
                if !link.target.name().eq_ignore_ascii_case(model.name()) {
                    continue;
                }
                return Ok(Some(many_to_many_path(
                    RelationKind::ReverseManyToMany,
                    model,
                    field.name(),
                    link,
                )?));
            }
        }
        Ok(None)
    }
}

/// The query name that leads from the target of a many-to-many relation back to its
/// source: the owner's field for a reverse relation, the internal reverse name otherwise.
pub fn many_to_many_back_name(path: &RelationPath) -> Option<String> {
    let link = path.link.as_ref()?;
    Some(match path.kind {
        RelationKind::ReverseManyToMany => path.field_name.clone(),
        _ => format!(
            "{}+",
            auto_link_model_name(link.owner.name(), &path.field_name)
        ),
    })
}

/// The two joins of a many-to-many relation walked from `source`.
fn many_to_many_path(
    kind: RelationKind,
    source: &Arc<Model>,
    field_name: &str,
    link: ManyToManyLink,
) -> Result<RelationPath> {
    let (from_field, to_field, target) = match kind {
        RelationKind::ReverseManyToMany => (
            &link.target_field,
            &link.owner_field,
            Arc::clone(&link.owner),
        ),
        _ => (
            &link.owner_field,
            &link.target_field,
            Arc::clone(&link.target),
        ),
    };
    let key_of = |model: &Model, fk: &Field| -> Result<Field> {
        match fk.relation().and_then(|r| r.to_field.as_deref()) {
            Some(to_field) => model.get_field(to_field).cloned(),
            None => model.pk().cloned(),
        }
        .ok_or_else(|| {
            Error::ImproperlyConfigured(format!("{} has no key for {}", model.name(), fk.name()))
        })
    };
    let source_key = key_of(source, from_field)?;
    let target_key = key_of(&target, to_field)?;
    Ok(RelationPath {
        kind,
        source: Arc::clone(source),
        steps: vec![
            JoinStep {
                parent_column: source_key.column().to_string(),
                model: Arc::clone(&link.link),
                column: from_field.column().to_string(),
                nullable: true,
            },
            JoinStep {
                parent_column: to_field.column().to_string(),
                model: Arc::clone(&target),
                column: target_key.column().to_string(),
                nullable: to_field.is_nullable(),
            },
        ],
        target,
        field_name: field_name.to_string(),
        link: Some(link),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CharField, ManyToManyField, OneToOneField};

    fn registry() -> Registry {
        let mut r = Registry::new();
        r.register(Model::new("Author").field("name", CharField::new(10)))
            .unwrap();
        r.register(
            Model::new("Book")
                .field("author", ForeignKey::new("Author", OnDelete::Cascade))
                .field(
                    "coauthors",
                    ManyToManyField::new("Author").related_name("cowritten"),
                )
                .field("related", ManyToManyField::new("self")),
        )
        .unwrap();
        r.register(
            Model::new("Bio").field("author", OneToOneField::new("Author", OnDelete::Cascade)),
        )
        .unwrap();
        r
    }

    #[test]
    fn many_to_many_fields_get_an_automatic_link_model() {
        let r = registry();
        let names: Vec<&str> = r.models().iter().map(|m| m.name()).collect();
        assert_eq!(
            names,
            ["Author", "Book", "Book_coauthors", "Book_related", "Bio"]
        );
        let link = r.get("Book_coauthors").unwrap();
        assert_eq!(link.table_name(), "book_coauthors");
        assert!(link.is_auto_created());
        let columns: Vec<&str> = link.fields().iter().map(Field::column).collect();
        assert_eq!(columns, ["id", "book_id", "author_id"]);
        let own = r.get("Book_related").unwrap();
        let columns: Vec<&str> = own.fields().iter().map(Field::column).collect();
        assert_eq!(columns, ["id", "from_book_id", "to_book_id"]);
        // The link's ForeignKeys have no reverse names, and the field adds no column.
        assert!(r
            .reverse_relations("Author")
            .iter()
            .all(|rel| rel.related_model.name() != "Book_coauthors"));
        assert!(r.get("Book").unwrap().get_field("coauthors").is_none());
    }

    #[test]
    fn names_reach_every_kind_of_relation() {
        let r = registry();
        let author = r.get("Author").unwrap();
        let book = r.get("Book").unwrap();
        let kind = |model: &Arc<Model>, name: &str| {
            r.query_relation(model, name)
                .unwrap()
                .map(|p| (p.kind, p.steps.len()))
        };
        assert_eq!(kind(&book, "author"), Some((RelationKind::Forward, 1)));
        assert_eq!(
            kind(&book, "coauthors"),
            Some((RelationKind::ManyToMany, 2))
        );
        assert_eq!(
            kind(&author, "book"),
            Some((RelationKind::ReverseForeignKey, 1))
        );
        assert_eq!(
            kind(&author, "cowritten"),
            Some((RelationKind::ReverseManyToMany, 2))
        );
        assert_eq!(
            kind(&author, "bio"),
            Some((RelationKind::ReverseOneToOne, 1))
        );
        assert_eq!(kind(&author, "name"), None);
        // A symmetric self relation has no reverse name, only the internal one.
        assert!(r.reverse_many_to_many("Book").is_empty());
        assert_eq!(
            kind(&book, "Book_related+"),
            Some((RelationKind::ReverseManyToMany, 2))
        );
        // Accessors: `<model>_set`, related_name, the model name for a OneToOne.
        let accessor = |name: &str| r.accessor_relation(&author, name).map(|p| p.kind);
        assert_eq!(
            accessor("book_set").unwrap(),
            RelationKind::ReverseForeignKey
        );
        assert_eq!(
            accessor("cowritten").unwrap(),
            RelationKind::ReverseManyToMany
        );
        assert_eq!(accessor("bio").unwrap(), RelationKind::ReverseOneToOne);
        assert_eq!(
            accessor("book").unwrap_err().to_string(),
            "'Author' object has no attribute 'book'"
        );
        let path = r.query_relation(&author, "cowritten").unwrap().unwrap();
        let steps: Vec<(&str, &str, &str)> = path
            .steps
            .iter()
            .map(|s| (s.parent_column.as_str(), s.model.name(), s.column.as_str()))
            .collect();
        assert_eq!(
            steps,
            [
                ("id", "Book_coauthors", "author_id"),
                ("book_id", "Book", "id")
            ]
        );
    }
}
