//! [`Model`]: a Django model class defined at run time, and its named [`Field`]s.
//!
//! A `Model` is built with a fluent builder (`Model::new("Order").field(..).ordering(..)`) and
//! becomes usable once [`Database::register`](crate::Database::register) has validated it the
//! way Django's system checks would (one primary key, relations to registered models, legal
//! field names) and completed it: an automatic `id` primary key is added when no field is
//! one, and each relation learns the type of the key it points at. After registration a model
//! is immutable and shared (`Arc<Model>`).

use std::collections::BTreeSet;

use arrow::datatypes::{DataType, Field as ArrowField, Schema};

use crate::error::{Error, Result};
use crate::model::{BigAutoField, FieldSpec, FieldType, RelationSpec};
use crate::queryset::{CheckConstraint, IndexSpec, UniqueConstraintSpec};

/// A field attached to a model under a name.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    name: String,
    attname: String,
    spec: FieldSpec,
    /// The stored column's type; for relations, the target key's type (set at registration).
    data_type: DataType,
}

impl Field {
    fn new(name: String, spec: FieldSpec) -> Field {
        let attname = if spec.field_type.relation().is_some() {
            format!("{name}_id")
        } else {
            name.clone()
        };
        let data_type = match spec.field_type {
            FieldType::CharField { .. } | FieldType::TextField if spec.dictionary => {
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
            }
            _ => spec.field_type.data_type(),
        };
        Field {
            name,
            attname,
            spec,
            data_type,
        }
    }

    /// The field's name (`"customer"`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Django's `attname`: the name of the attribute holding the stored value. A relation's
    /// is `<name>_id`; every other field's is its name. QuerySets of model rows name their
    /// output columns by attname.
    pub fn attname(&self) -> &str {
        &self.attname
    }

    /// The storage column: `db_column` if given, otherwise the attname.
    pub fn column(&self) -> &str {
        self.spec.db_column.as_deref().unwrap_or(&self.attname)
    }

    /// The options the field was declared with.
    pub fn spec(&self) -> &FieldSpec {
        &self.spec
    }

    /// The field's kind.
    pub fn field_type(&self) -> &FieldType {
        &self.spec.field_type
    }

    /// The Arrow type of the stored column.
    pub fn data_type(&self) -> &DataType {
        &self.data_type
    }

    /// `null=True`.
    pub fn is_nullable(&self) -> bool {
        self.spec.null
    }

    /// `primary_key=True`.
    pub fn is_primary_key(&self) -> bool {
        self.spec.primary_key
    }

    /// The forward relation (ForeignKey, OneToOneField), if this field is one.
    pub fn relation(&self) -> Option<&RelationSpec> {
        self.spec.field_type.relation()
    }

    /// The field's Arrow column definition in the model's table.
    pub fn arrow_field(&self) -> ArrowField {
        ArrowField::new(self.column(), self.data_type.clone(), self.spec.null)
    }
}

/// An index declared in `Meta.indexes`. Recorded now; used by the storage layer later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    /// Indexed field names, `-` prefixed for descending.
    pub fields: Vec<String>,
    /// Optional index name.
    pub name: Option<String>,
}

/// A `Meta.constraints` entry: [`Model::constraint`] takes either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaConstraint {
    /// `models.UniqueConstraint(fields=[...], name=..., condition=Q(...))`.
    Unique(UniqueConstraintSpec),
    /// `models.CheckConstraint(condition=Q(...), name=...)`.
    Check(CheckConstraint),
}

impl From<UniqueConstraintSpec> for MetaConstraint {
    fn from(spec: UniqueConstraintSpec) -> MetaConstraint {
        MetaConstraint::Unique(spec)
    }
}

impl From<CheckConstraint> for MetaConstraint {
    fn from(check: CheckConstraint) -> MetaConstraint {
        MetaConstraint::Check(check)
    }
}

/// A model: a name, its fields in declaration order and its `Meta` options.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    name: String,
    db_table: Option<String>,
    fields: Vec<Field>,
    /// `ManyToManyField`s: no column here; their rows are in a link table.
    many_to_many: Vec<Field>,
    /// The link model Django creates for a `ManyToManyField` without `through=`.
    auto_created: bool,
    ordering: Vec<String>,
    get_latest_by: Vec<String>,
    unique_together: Vec<Vec<String>>,
    indexes: Vec<Index>,
    /// `Meta.indexes` entries with a name, `condition=` or hash kind.
    index_specs: Vec<IndexSpec>,
    /// `Meta.constraints`.
    constraints: Vec<MetaConstraint>,
}

impl Model {
    /// A model named `name` (Django's class name, e.g. `"Customer"`) with no fields yet.
    pub fn new(name: impl Into<String>) -> Model {
        Model {
            name: name.into(),
            db_table: None,
            fields: vec![],
            many_to_many: vec![],
            auto_created: false,
            ordering: vec![],
            get_latest_by: vec![],
            unique_together: vec![],
            indexes: vec![],
            index_specs: vec![],
            constraints: vec![],
        }
    }

    /// Adds a field. Declaration order is the column order. A `ManyToManyField` adds no
    /// column (see [`many_to_many`](Self::many_to_many)).
    pub fn field(mut self, name: impl Into<String>, spec: FieldSpec) -> Model {
        let field = Field::new(name.into(), spec);
        if matches!(field.field_type(), FieldType::ManyToManyField(_)) {
            self.many_to_many.push(field);
        } else {
            self.fields.push(field);
        }
        self
    }

    /// The `ManyToManyField`s, in declaration order.
    pub fn many_to_many(&self) -> &[Field] {
        &self.many_to_many
    }

    /// A `ManyToManyField` by name.
    pub fn get_many_to_many(&self, name: &str) -> Option<&Field> {
        self.many_to_many.iter().find(|f| f.name == name)
    }

    /// True for the link model of a `ManyToManyField` without `through=`.
    pub fn is_auto_created(&self) -> bool {
        self.auto_created
    }

    /// Marks the model as a `ManyToManyField`'s automatic link model.
    pub(crate) fn auto_created(mut self) -> Model {
        self.auto_created = true;
        self
    }

    /// `Meta.ordering`: the default order of QuerySets on this model (`"-name"` descends).
    pub fn ordering<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Model {
        self.ordering = fields.into_iter().map(Into::into).collect();
        self
    }

    /// `Meta.db_table`: the table name (default: the lowercase model name).
    pub fn db_table(mut self, table: impl Into<String>) -> Model {
        self.db_table = Some(table.into());
        self
    }

    /// `Meta.get_latest_by`: the fields `latest()`/`earliest()` use when given none.
    pub fn get_latest_by<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Model {
        self.get_latest_by = fields.into_iter().map(Into::into).collect();
        self
    }

    /// `Meta.unique_together`: one set of fields whose values must be unique together.
    /// Recorded and validated against the fields; enforced once constraints exist.
    pub fn unique_together<S: Into<String>>(
        mut self,
        fields: impl IntoIterator<Item = S>,
    ) -> Model {
        self.unique_together
            .push(fields.into_iter().map(Into::into).collect());
        self
    }

    /// `Meta.indexes`: an ordered index on `fields` (`"-created"` descending), named
    /// `<table>_<columns>_idx`. The optimizer's `use_indexes` rule chooses it on its own.
    pub fn index<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Model {
        self.indexes.push(Index {
            fields: fields.into_iter().map(Into::into).collect(),
            name: None,
        });
        self
    }

    /// `Meta.indexes` entry `models.Index(fields=[...], name=..., condition=Q(...))`: a named,
    /// possibly partial (`condition=`) or hash index, declared when the model is registered.
    ///
    /// ```
    /// # use quiver::prelude::*;
    /// let db = Database::new();
    /// db.register(Model::new("Customer").field("name", CharField::new(20)))?;
    /// db.register(
    ///     Model::new("Order")
    ///         .field("customer", ForeignKey::new("Customer", OnDelete::Cascade))
    ///         .field("created", DateTimeField::new())
    ///         .field("paid", BooleanField::new())
    ///         .index_spec(IndexSpec::new(["customer", "-created"], "order_recent_idx"))
    ///         .index_spec(IndexSpec::new(["created"], "order_unpaid_idx").condition(q!(paid = false)))
    ///         .constraint(CheckConstraint::new(q!(created__year__gte = 2000), "order_recent"))
    ///         .constraint(
    ///             UniqueConstraintSpec::new(["customer"], "one_unpaid_order")
    ///                 .condition(q!(paid = false)),
    ///         ),
    /// )?;
    /// let plan = db.objects("Order").filter(q!(customer = 1)).order_by(["-created"]).slice(0..5).explain()?;
    /// assert!(plan.contains("index=order_recent_idx prefix=[1] order=desc limit=5"));
    /// # Ok::<(), quiver::Error>(())
    /// ```
    pub fn index_spec(mut self, spec: IndexSpec) -> Model {
        self.index_specs.push(spec);
        self
    }

    /// `Meta.constraints` entry: a [`UniqueConstraintSpec`] (`fields=`, `name=`, optional
    /// `condition=`) or a [`CheckConstraint`] (`condition=`, Django 5.1's name for `check=`).
    /// Enforced on every write path from registration on, with PostgreSQL's messages.
    pub fn constraint(mut self, constraint: impl Into<MetaConstraint>) -> Model {
        self.constraints.push(constraint.into());
        self
    }

    /// The `Meta.indexes` entries given with [`index_spec`](Self::index_spec).
    pub fn index_specs(&self) -> &[IndexSpec] {
        &self.index_specs
    }

    /// The `Meta.constraints` entries.
    pub fn constraints(&self) -> &[MetaConstraint] {
        &self.constraints
    }

    /// The model's name (`"Customer"`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The table name: `Meta.db_table` or the lowercase model name.
    pub fn table_name(&self) -> String {
        self.db_table
            .clone()
            .unwrap_or_else(|| self.name.to_lowercase())
    }

    /// The fields in declaration order (after registration: the automatic `id` first).
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// `Meta.ordering`.
    pub fn default_ordering(&self) -> &[String] {
        &self.ordering
    }

    /// `Meta.get_latest_by`.
    pub fn latest_by(&self) -> &[String] {
        &self.get_latest_by
    }

    /// `Meta.unique_together`.
    pub fn unique_together_sets(&self) -> &[Vec<String>] {
        &self.unique_together
    }

    /// `Meta.indexes`.
    pub fn indexes(&self) -> &[Index] {
        &self.indexes
    }

    /// A field by name or attname (Django accepts both: `customer` and `customer_id`).
    pub fn get_field(&self, name: &str) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .or_else(|| self.fields.iter().find(|f| f.attname == name))
    }

    /// The primary key field. Every registered model has exactly one.
    pub fn pk(&self) -> Option<&Field> {
        self.fields.iter().find(|f| f.is_primary_key())
    }

    /// The primary key field of a registered model.
    pub(crate) fn pk_field(&self) -> Result<&Field> {
        self.pk()
            .ok_or_else(|| Error::ImproperlyConfigured(format!("{} has no primary key", self.name)))
    }

    /// The Arrow schema of the model's table: one column per field, in order.
    pub fn arrow_schema(&self) -> Schema {
        Schema::new(
            self.fields
                .iter()
                .map(Field::arrow_field)
                .collect::<Vec<_>>(),
        )
    }

    /// Validates the model on its own (Django's model and field system checks that need no
    /// other model) and adds the automatic primary key. Relations are completed by
    /// [`Model::resolve_relation_types`].
    pub(crate) fn prepared(mut self) -> Result<Model> {
        let check = |id: &str, message: String| {
            Err(Error::ImproperlyConfigured(format!(
                "{}: ({id}) {message}",
                self.name
            )))
        };
        if self.name.is_empty() {
            return check("models.E000", "A model needs a name.".to_string());
        }
        let mut seen = BTreeSet::new();
        for f in &self.fields {
            let qualified = format!("{}.{}", self.name, f.name);
            let field_check = |id: &str, message: &str| {
                Err(Error::ImproperlyConfigured(format!(
                    "{qualified}: ({id}) {message}"
                )))
            };
            if f.name.ends_with('_') {
                return field_check(
                    "fields.E001",
                    "Field names must not end with an underscore.",
                );
            }
            if f.name.contains("__") {
                return field_check("fields.E002", "Field names must not contain \"__\".");
            }
            if f.name == "pk" {
                return field_check(
                    "fields.E003",
                    "'pk' is a reserved word that cannot be used as a field name.",
                );
            }
            if f.name.is_empty() {
                return field_check("fields.E000", "Field names must not be empty.");
            }
            if let FieldType::DecimalField {
                max_digits,
                decimal_places,
            } = f.spec.field_type
            {
                if i16::from(max_digits) < i16::from(decimal_places) {
                    return field_check(
                        "fields.E134",
                        "'max_digits' must be greater or equal to 'decimal_places'.",
                    );
                }
                if max_digits == 0 || max_digits > 38 {
                    return field_check(
                        "fields.E132",
                        "'max_digits' must be a positive integer of at most 38.",
                    );
                }
            }
            if !seen.insert(f.name.clone()) {
                return check(
                    "models.E006",
                    format!(
                        "The field '{}' clashes with the field '{}'.",
                        f.name, f.name
                    ),
                );
            }
        }
        for f in &self.many_to_many {
            if !seen.insert(f.name.clone()) || f.name.contains("__") || f.name.ends_with('_') {
                return check(
                    "fields.E001",
                    format!("The many-to-many field name '{}' is not valid.", f.name),
                );
            }
        }
        let mut columns = BTreeSet::new();
        for f in &self.fields {
            if !columns.insert(f.column().to_string()) {
                return check(
                    "models.E007",
                    format!(
                        "Field '{}' has column name '{}' that is used by another field.",
                        f.name,
                        f.column()
                    ),
                );
            }
        }
        let pks = self.fields.iter().filter(|f| f.is_primary_key()).count();
        if pks > 1 {
            return check(
                "models.E026",
                "The model cannot have more than one field with 'primary_key=True'.".to_string(),
            );
        }
        if pks == 0 {
            if self.fields.iter().any(|f| f.name == "id") {
                return check(
                    "models.E004",
                    "'id' can only be used as a field name if the field also sets \
                     'primary_key=True'."
                        .to_string(),
                );
            }
            self.fields.insert(
                0,
                Field::new("id".to_string(), BigAutoField::new().primary_key()),
            );
        }
        if let Some(auto) = self
            .fields
            .iter()
            .find(|f| f.spec.field_type.is_auto() && !f.is_primary_key())
        {
            return check(
                "fields.E100",
                format!("AutoFields must set primary_key=True ('{}').", auto.name),
            );
        }
        for name in &self.ordering {
            let field = name.trim_start_matches('-');
            let first = field.split("__").next().unwrap_or(field);
            if name != "?" && first != "pk" && self.get_field(first).is_none() {
                return check(
                    "models.E015",
                    format!(
                        "'ordering' refers to the nonexistent field, related field, or lookup \
                         '{field}'."
                    ),
                );
            }
        }
        let sets = self
            .unique_together
            .iter()
            .map(|s| ("unique_together", s))
            .chain(self.indexes.iter().map(|i| ("indexes", &i.fields)));
        for (option, fields) in sets {
            for name in fields {
                let name = name.trim_start_matches('-');
                if self.get_field(name).is_none() {
                    return check(
                        "models.E012",
                        format!("'{option}' refers to the nonexistent field '{name}'."),
                    );
                }
            }
        }
        Ok(self)
    }

    /// Sets each relation's column type to the type of the key it points at; `lookup` finds
    /// already registered models (a relation to `"self"` uses this model).
    pub(crate) fn resolve_relation_types(
        mut self,
        lookup: impl Fn(&str) -> Option<std::sync::Arc<Model>>,
    ) -> Result<Model> {
        let mut types = Vec::with_capacity(self.fields.len());
        for f in &self.fields {
            let Some(relation) = f.relation() else {
                types.push(f.data_type.clone());
                continue;
            };
            let qualified = format!("{}.{}", self.name, f.name);
            let target_type = if relation.to == "self" || relation.to == self.name {
                target_key_type(&self, relation, &qualified)?
            } else {
                match lookup(&relation.to) {
                    Some(target) => target_key_type(&target, relation, &qualified)?,
                    None => {
                        return Err(Error::ImproperlyConfigured(format!(
                            "{qualified}: (fields.E300) Field defines a relation with model '{}', \
                             which is either not installed, or is abstract.",
                            relation.to
                        )))
                    }
                }
            };
            types.push(target_type);
        }
        for (f, t) in self.fields.iter_mut().zip(types) {
            f.data_type = t;
        }
        Ok(self)
    }
}

/// The type a relation's column stores: the target's `to_field` or primary key type (an
/// auto key is stored as its plain integer type).
fn target_key_type(target: &Model, relation: &RelationSpec, qualified: &str) -> Result<DataType> {
    let key = match &relation.to_field {
        Some(name) => target.get_field(name).ok_or_else(|| {
            Error::ImproperlyConfigured(format!(
                "{qualified}: (fields.E312) The to_field '{name}' doesn't exist on the related \
                 model '{}'.",
                target.name
            ))
        })?,
        None => target.pk_field()?,
    };
    Ok(key.data_type.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CharField, ForeignKey, IntegerField, OnDelete};

    #[test]
    fn adds_an_automatic_id_primary_key_first() {
        let m = Model::new("Customer")
            .field("name", CharField::new(10))
            .prepared()
            .unwrap();
        let names: Vec<&str> = m.fields().iter().map(Field::name).collect();
        assert_eq!(names, ["id", "name"]);
        assert_eq!(m.pk().unwrap().data_type(), &DataType::Int64);
        assert_eq!(m.table_name(), "customer");
    }

    #[test]
    fn keeps_an_explicit_primary_key() {
        let m = Model::new("Code")
            .field("code", CharField::new(3).primary_key())
            .prepared()
            .unwrap();
        assert_eq!(m.fields().len(), 1);
        assert_eq!(m.pk().unwrap().name(), "code");
    }

    #[test]
    fn rejects_two_primary_keys() {
        let err = Model::new("T")
            .field("a", IntegerField::new().primary_key())
            .field("b", IntegerField::new().primary_key())
            .prepared()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "T: (models.E026) The model cannot have more than one field with 'primary_key=True'."
        );
    }

    #[test]
    fn rejects_reserved_and_malformed_names() {
        let err = Model::new("T")
            .field("a__b", IntegerField::new())
            .prepared()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "T.a__b: (fields.E002) Field names must not contain \"__\"."
        );
        let err = Model::new("T")
            .field("pk", IntegerField::new())
            .prepared()
            .unwrap_err();
        assert!(err.to_string().contains("fields.E003"), "{err}");
        let err = Model::new("T")
            .field("id", IntegerField::new())
            .prepared()
            .unwrap_err();
        assert!(err.to_string().contains("models.E004"), "{err}");
    }

    #[test]
    fn relation_columns_are_named_by_attname_and_typed_by_target_key() {
        let customer = std::sync::Arc::new(
            Model::new("Customer")
                .field("code", IntegerField::new().primary_key())
                .prepared()
                .unwrap(),
        );
        let order = Model::new("Order")
            .field(
                "customer",
                ForeignKey::new("Customer", OnDelete::Cascade).null(),
            )
            .prepared()
            .unwrap()
            .resolve_relation_types(|name| {
                (name == "Customer").then(|| std::sync::Arc::clone(&customer))
            })
            .unwrap();
        let fk = order.get_field("customer_id").unwrap();
        assert_eq!(fk.name(), "customer");
        assert_eq!(fk.column(), "customer_id");
        assert_eq!(fk.data_type(), &DataType::Int32);
        assert!(order.arrow_schema().field(1).is_nullable());
    }

    #[test]
    fn unknown_relation_target_is_a_system_check_error() {
        let err = Model::new("Order")
            .field("customer", ForeignKey::new("Custmer", OnDelete::Cascade))
            .prepared()
            .unwrap()
            .resolve_relation_types(|_| None)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Order.customer: (fields.E300) Field defines a relation with model 'Custmer', which \
             is either not installed, or is abstract."
        );
    }

    #[test]
    fn ordering_must_name_fields() {
        let err = Model::new("T")
            .field("a", IntegerField::new())
            .ordering(["-b"])
            .prepared()
            .unwrap_err();
        assert!(err.to_string().contains("'b'"), "{err}");
    }
}
