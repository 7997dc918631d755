//! Set operations: [`Union`] (ALL or distinct), [`Intersect`] and [`Except`].
//!
//! The inputs line up by position, not by name (SQL's rule, and Django's: the result takes the
//! first QuerySet's column names). Each output column has the common type of the inputs'
//! columns at that position and is nullable when any of them is. The output is unqualified,
//! so a plan above names its columns as the first input named them.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field};

use super::{LogicalPlan, PlanSchema, PlanSchemaRef, QualifiedField};
use crate::error::{EngineError, Result};
use crate::expr::type_coercion::comparison_common_type;

/// Rows of every input, one after another; without `all`, duplicates removed (NULLs equal).
#[derive(Debug, Clone)]
pub struct Union {
    pub inputs: Vec<Arc<LogicalPlan>>,
    pub all: bool,
    pub schema: PlanSchemaRef,
}

impl Union {
    /// Checks the inputs line up and derives the common schema.
    pub fn try_new(inputs: Vec<Arc<LogicalPlan>>, all: bool) -> Result<Union> {
        let schema = set_operation_schema(&inputs, "UNION")?;
        Ok(Union {
            inputs,
            all,
            schema,
        })
    }
}

/// Distinct rows of `left` that also appear in `right` (NULLs equal).
#[derive(Debug, Clone)]
pub struct Intersect {
    pub left: Arc<LogicalPlan>,
    pub right: Arc<LogicalPlan>,
    pub schema: PlanSchemaRef,
}

impl Intersect {
    /// Checks the inputs line up and derives the common schema.
    pub fn try_new(left: Arc<LogicalPlan>, right: Arc<LogicalPlan>) -> Result<Intersect> {
        let schema = set_operation_schema(&[Arc::clone(&left), Arc::clone(&right)], "INTERSECT")?;
        Ok(Intersect {
            left,
            right,
            schema,
        })
    }
}

/// Distinct rows of `left` that do not appear in `right` (NULLs equal).
#[derive(Debug, Clone)]
pub struct Except {
    pub left: Arc<LogicalPlan>,
    pub right: Arc<LogicalPlan>,
    pub schema: PlanSchemaRef,
}

impl Except {
    /// Checks the inputs line up and derives the common schema.
    pub fn try_new(left: Arc<LogicalPlan>, right: Arc<LogicalPlan>) -> Result<Except> {
        let schema = set_operation_schema(&[Arc::clone(&left), Arc::clone(&right)], "EXCEPT")?;
        Ok(Except {
            left,
            right,
            schema,
        })
    }
}

/// The output of a set operation: the first input's names, common types, any-nullable.
pub(crate) fn set_operation_schema(
    inputs: &[Arc<LogicalPlan>],
    what: &str,
) -> Result<PlanSchemaRef> {
    let Some(first) = inputs.first() else {
        return Err(EngineError::Plan(format!(
            "{what} needs at least one input"
        )));
    };
    let width = first.schema().len();
    let mut types: Vec<DataType> = Vec::with_capacity(width);
    let mut nullable = vec![false; width];
    for input in inputs {
        let schema = input.schema();
        if schema.len() != width {
            return Err(EngineError::Plan(format!(
                "each {what} query must have the same number of columns ({width} and {})",
                schema.len()
            )));
        }
        for (i, field) in schema.fields().iter().enumerate() {
            let t = field.field.data_type();
            match types.get_mut(i) {
                None => types.push(t.clone()),
                Some(current) => {
                    *current = comparison_common_type(current, t).ok_or_else(|| {
                        EngineError::Plan(format!(
                            "{what} types {current} and {t} cannot be matched"
                        ))
                    })?;
                }
            }
            nullable[i] |= field.field.is_nullable();
        }
    }
    let fields = first
        .schema()
        .fields()
        .iter()
        .zip(types)
        .zip(nullable)
        .map(|((f, t), n)| QualifiedField::new(None, Field::new(f.name(), t, n)))
        .collect();
    Ok(Arc::new(PlanSchema::new(fields)))
}
