//! [`PlanSchema`]: an Arrow schema whose fields also carry the relation they come from.
//!
//! Joins put several tables' columns side by side (two `id`s are normal), so columns are
//! resolved by `(relation, name)`; an unqualified name must be unique. The Arrow schema of the
//! batches an operator produces is [`PlanSchema::arrow_schema`]; it may repeat names.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{Field, FieldRef, Schema, SchemaRef};

use crate::error::{EngineError, Result};
use crate::expr::Column;

/// A field plus the relation (table alias) it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct QualifiedField {
    pub relation: Option<String>,
    pub field: FieldRef,
}

impl QualifiedField {
    /// A field of a relation.
    pub fn new(relation: Option<String>, field: Field) -> QualifiedField {
        QualifiedField {
            relation,
            field: Arc::new(field),
        }
    }

    /// The column that refers to this field.
    pub fn column(&self) -> Column {
        Column {
            relation: self.relation.clone(),
            name: self.field.name().clone(),
        }
    }

    /// Field name.
    pub fn name(&self) -> &str {
        self.field.name()
    }
}

/// Shared plan schema.
pub type PlanSchemaRef = Arc<PlanSchema>;

/// The output schema of a logical plan node.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanSchema {
    fields: Vec<QualifiedField>,
    arrow: SchemaRef,
}

impl PlanSchema {
    /// Builds a schema from qualified fields.
    pub fn new(fields: Vec<QualifiedField>) -> PlanSchema {
        let arrow = Arc::new(Schema::new(
            fields
                .iter()
                .map(|f| Arc::clone(&f.field))
                .collect::<Vec<_>>(),
        ));
        PlanSchema { fields, arrow }
    }

    /// An empty schema.
    pub fn empty() -> PlanSchema {
        PlanSchema::new(vec![])
    }

    /// Every field of an Arrow schema, qualified by `relation`.
    pub fn from_arrow(relation: Option<&str>, schema: &Schema) -> PlanSchema {
        PlanSchema::new(
            schema
                .fields()
                .iter()
                .map(|f| QualifiedField {
                    relation: relation.map(str::to_string),
                    field: Arc::clone(f),
                })
                .collect(),
        )
    }

    /// The qualified fields.
    pub fn fields(&self) -> &[QualifiedField] {
        &self.fields
    }

    /// Field `i`.
    pub fn field(&self, i: usize) -> &QualifiedField {
        &self.fields[i]
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True with no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The Arrow schema of batches with this layout.
    pub fn arrow_schema(&self) -> SchemaRef {
        Arc::clone(&self.arrow)
    }

    /// The columns referring to each field, in order.
    pub fn columns(&self) -> Vec<Column> {
        self.fields.iter().map(QualifiedField::column).collect()
    }

    /// The position of a column. A qualified column matches relation and name; an
    /// unqualified one must match exactly one field by name.
    pub fn index_of_column(&self, column: &Column) -> Result<usize> {
        self.maybe_index_of_column(column)?
            .ok_or_else(|| EngineError::ColumnNotFound {
                name: column.flat_name(),
                available: self
                    .fields
                    .iter()
                    .map(|f| f.column().flat_name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Like [`index_of_column`](Self::index_of_column), but `Ok(None)` when absent.
    pub fn maybe_index_of_column(&self, column: &Column) -> Result<Option<usize>> {
        let mut found = None;
        for (i, f) in self.fields.iter().enumerate() {
            let matches = f.field.name() == &column.name
                && match &column.relation {
                    Some(r) => f.relation.as_deref() == Some(r.as_str()),
                    None => true,
                };
            if matches {
                if found.is_some() {
                    if column.relation.is_none() {
                        return Err(EngineError::Plan(format!(
                            "column reference \"{}\" is ambiguous",
                            column.name
                        )));
                    }
                    // The same qualified name twice cannot be told apart either.
                    return Err(EngineError::Plan(format!(
                        "column reference \"{}\" is ambiguous",
                        column.flat_name()
                    )));
                }
                found = Some(i);
            }
        }
        // An unqualified reference may also name a qualified field whose relation is unknown to
        // the caller; a qualified reference to an unqualified field matches by name alone.
        if found.is_none() && column.relation.is_some() {
            let unqualified: Vec<usize> = self
                .fields
                .iter()
                .enumerate()
                .filter(|(_, f)| f.relation.is_none() && f.field.name() == &column.name)
                .map(|(i, _)| i)
                .collect();
            if unqualified.len() == 1 {
                found = Some(unqualified[0]);
            }
        }
        Ok(found)
    }

    /// True when the column resolves in this schema.
    pub fn has_column(&self, column: &Column) -> bool {
        matches!(self.maybe_index_of_column(column), Ok(Some(_)))
    }

    /// This schema's fields followed by `other`'s (the output of a join).
    pub fn join(&self, other: &PlanSchema) -> PlanSchema {
        let mut fields = self.fields.clone();
        fields.extend(other.fields.iter().cloned());
        PlanSchema::new(fields)
    }

    /// The same fields with every field made nullable (the outer side of an outer join).
    pub fn with_all_nullable(&self) -> PlanSchema {
        PlanSchema::new(
            self.fields
                .iter()
                .map(|f| QualifiedField {
                    relation: f.relation.clone(),
                    field: Arc::new(f.field.as_ref().clone().with_nullable(true)),
                })
                .collect(),
        )
    }

    /// The same fields requalified with `relation` (`SubqueryAlias`).
    pub fn with_relation(&self, relation: &str) -> PlanSchema {
        PlanSchema::new(
            self.fields
                .iter()
                .map(|f| QualifiedField {
                    relation: Some(relation.to_string()),
                    field: Arc::clone(&f.field),
                })
                .collect(),
        )
    }

    /// True when both schemas have the same names, types and nullability in order
    /// (the optimizer's invariant: rules never change a plan's output schema).
    pub fn equivalent(&self, other: &PlanSchema) -> bool {
        self.fields.len() == other.fields.len()
            && self.fields.iter().zip(&other.fields).all(|(a, b)| {
                a.field.name() == b.field.name() && a.field.data_type() == b.field.data_type()
            })
    }
}

impl fmt::Display for PlanSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, field) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(
                f,
                "{}:{}{}",
                field.column().flat_name(),
                field.field.data_type(),
                if field.field.is_nullable() { ";N" } else { "" }
            )?;
        }
        f.write_str("]")
    }
}
