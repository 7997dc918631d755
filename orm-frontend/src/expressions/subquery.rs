//! Django's subquery expressions: `Subquery(qs)`, `Exists(qs)` (and `!Exists(qs)`, Django's
//! `~Exists`) and `OuterRef("field")`, which a subquery uses to read the row of the query it
//! sits in (`OuterRef(OuterRef("f"))` two levels out).
//!
//! A subquery is compiled by the enclosing query's compiler ([`Resolver::resolve_subquery`]),
//! which gives its tables their own aliases (`U0`, …) and resolves its `OuterRef`s against
//! the enclosing query — adding joins there when the reference follows a relation
//! (`OuterRef("customer__region")`). The engine then decorrelates it into a join where it
//! can. A QuerySet that still holds an `OuterRef` cannot run on its own: Django's
//! `ValueError`.

use std::fmt;

use arrow::datatypes::DataType;
use quiver_engine::expr::{exists, outer_col, scalar_subquery};
use quiver_engine::{Expr, PlanSchema};

use super::expression::{canonical_field, Expression, Resolved};
use super::resolver::{ResolvedField, Resolver};
use crate::error::{Error, Result};
use crate::queryset::QuerySet;

/// The subquery forms an [`Expression`] can take.
#[derive(Clone)]
pub enum SubqueryExpression {
    /// `Subquery(qs)`: the one column of the QuerySet's (first) row.
    Subquery(QuerySet),
    /// `Exists(qs)`; `!Exists(qs)` negates it.
    Exists(QuerySet),
    /// `OuterRef(name)` nested `depth` times.
    OuterRef { name: String, depth: usize },
    /// `cte.col.column` (django-cte): a column of a CTE the query joins.
    CteColumn { cte: String, column: String },
}

impl fmt::Debug for SubqueryExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl PartialEq for SubqueryExpression {
    /// Two subqueries are equal when they are over the same model and record the same query.
    fn eq(&self, other: &SubqueryExpression) -> bool {
        format!("{self:?}") == format!("{other:?}")
            && match (self, other) {
                (SubqueryExpression::Subquery(a), SubqueryExpression::Subquery(b))
                | (SubqueryExpression::Exists(a), SubqueryExpression::Exists(b)) => {
                    format!("{:?}", a) == format!("{:?}", b)
                }
                _ => true,
            }
    }
}

impl fmt::Display for SubqueryExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubqueryExpression::Subquery(qs) => write!(f, "Subquery({})", qs.model_name()),
            SubqueryExpression::Exists(qs) => write!(f, "Exists({})", qs.model_name()),
            SubqueryExpression::OuterRef { name, depth } => {
                for _ in 0..*depth {
                    f.write_str("OuterRef(")?;
                }
                write!(f, "{name}")?;
                for _ in 0..*depth {
                    f.write_str(")")?;
                }
                Ok(())
            }
            SubqueryExpression::CteColumn { cte, column } => write!(f, "{cte}.col.{column}"),
        }
    }
}

/// Django's `Subquery(queryset)`: the value of the QuerySet's single column in its single
/// row (NULL when there is none). Use `.values("col")` to pick the column and `[:1]`
/// (`.slice(0..1)`) to keep one row.
#[allow(non_snake_case)]
pub fn Subquery(queryset: QuerySet) -> Expression {
    Expression::Subquery(Box::new(SubqueryExpression::Subquery(queryset)))
}

/// Django's `Exists(queryset)`: whether the QuerySet has any row. `!Exists(qs)` is
/// `NOT EXISTS`.
#[allow(non_snake_case)]
pub fn Exists(queryset: QuerySet) -> Expression {
    Expression::Subquery(Box::new(SubqueryExpression::Exists(queryset)))
}

/// What `OuterRef` accepts: a field path, or another `OuterRef` (one level further out).
pub trait IntoOuterRef {
    /// The referenced name and how many levels out it is.
    fn into_outer_ref(self) -> std::result::Result<(String, usize), Expression>;
}

impl IntoOuterRef for &str {
    fn into_outer_ref(self) -> std::result::Result<(String, usize), Expression> {
        Ok((self.to_string(), 1))
    }
}

impl IntoOuterRef for String {
    fn into_outer_ref(self) -> std::result::Result<(String, usize), Expression> {
        Ok((self, 1))
    }
}

impl IntoOuterRef for Expression {
    fn into_outer_ref(self) -> std::result::Result<(String, usize), Expression> {
        match self {
            Expression::Subquery(s) => match *s {
                SubqueryExpression::OuterRef { name, depth } => Ok((name, depth + 1)),
                other => Err(Expression::refused(Error::TypeError(format!(
                    "OuterRef() takes a field name or an OuterRef, not {other}"
                )))),
            },
            invalid @ Expression::Invalid(_) => Err(invalid),
            other => Err(Expression::refused(Error::TypeError(format!(
                "OuterRef() takes a field name or an OuterRef, not {other}"
            )))),
        }
    }
}

/// Django's `OuterRef("field")`: inside a subquery, the field of the enclosing query's
/// current row (following relations: `OuterRef("customer__region")`).
/// `OuterRef(OuterRef("f"))` reads the query two levels out.
#[allow(non_snake_case)]
pub fn OuterRef(name: impl IntoOuterRef) -> Expression {
    match name.into_outer_ref() {
        Ok((name, depth)) => {
            Expression::Subquery(Box::new(SubqueryExpression::OuterRef { name, depth }))
        }
        Err(refused) => refused,
    }
}

/// Django's error for evaluating a QuerySet that still refers to an outer query.
pub(crate) fn outer_ref_error() -> Error {
    Error::ValueError(
        "This queryset contains a reference to an outer query and may only be used in a \
         subquery."
            .to_string(),
    )
}

/// A name resolved in an enclosing query, rewritten for use inside a subquery: each column
/// it reads becomes an outer reference (typed from the enclosing query's row `schema`).
pub(crate) fn as_outer_reference(
    field: ResolvedField,
    schema: &PlanSchema,
) -> Result<ResolvedField> {
    if field.is_aggregate {
        return Err(Error::FieldError(
            "An OuterRef cannot refer to an aggregate annotation.".to_string(),
        ));
    }
    let mut error = None;
    let expr = field
        .expr
        .clone()
        .replace_columns(&mut |c| match schema.index_of_column(c) {
            Ok(i) => {
                let f = &schema.field(i).field;
                Some(outer_col(c.clone(), f.data_type().clone(), f.is_nullable()))
            }
            Err(e) => {
                error.get_or_insert(e);
                None
            }
        })?;
    if let Some(e) = error {
        return Err(e.into());
    }
    Ok(ResolvedField { expr, ..field })
}

impl SubqueryExpression {
    /// Resolves against the query the expression sits in.
    pub(crate) fn resolve_typed(&self, r: &mut dyn Resolver) -> Result<Resolved> {
        match self {
            SubqueryExpression::OuterRef { name, depth } => {
                let field = r.resolve_outer_ref(name, *depth)?;
                let mut resolved = Resolved::from_field(field, name);
                // A value from another query: not a column of this one.
                resolved.column = None;
                Ok(resolved)
            }
            SubqueryExpression::CteColumn { cte, column } => {
                let field = r.resolve_cte_column(cte, column)?;
                let mut resolved = Resolved::from_field(field, column);
                resolved.column = None;
                Ok(resolved)
            }
            SubqueryExpression::Exists(qs) => {
                let plan = r.resolve_subquery(qs)?;
                Ok(Resolved::predicate(exists(plan)))
            }
            SubqueryExpression::Subquery(qs) => {
                let plan = r.resolve_subquery(qs)?;
                let schema = plan.schema();
                // Django infers a Subquery's type from its one selected column; with more it
                // cannot, and says so in these words.
                if schema.len() != 1 {
                    return Err(Error::FieldError(
                        "Cannot resolve expression type, unknown output_field".to_string(),
                    ));
                }
                let data_type: DataType = schema.field(0).field.data_type().clone();
                Ok(Resolved {
                    output_field: Ok(canonical_field(&data_type)),
                    expr: scalar_subquery(plan),
                    data_type,
                    nullable: true,
                    contains_aggregate: false,
                    column: None,
                })
            }
        }
    }

    /// The QuerySet of an `__in=qs` right-hand side, selecting its primary key when it
    /// selects nothing else (Django's rule for `pk__in=qs`).
    pub(crate) fn in_queryset(expression: &Expression) -> Option<QuerySet> {
        let Expression::Subquery(s) = expression else {
            return None;
        };
        match s.as_ref() {
            SubqueryExpression::Subquery(qs) => Some(qs.clone()),
            _ => None,
        }
    }
}

/// `expr IN (subquery)` for an `__in=qs` lookup.
pub(crate) fn in_queryset_predicate(
    lhs: Expr,
    queryset: &QuerySet,
    r: &mut dyn Resolver,
) -> Result<Expr> {
    let queryset = if queryset.selects_fields() {
        queryset.clone()
    } else {
        queryset.values(["pk"])
    };
    let plan = r.resolve_subquery(&queryset)?;
    if plan.schema().len() != 1 {
        return Err(Error::TypeError(format!(
            "Cannot use multi-field values as a filter value ({} columns selected).",
            plan.schema().len()
        )));
    }
    Ok(quiver_engine::expr::in_subquery(lhs, plan, false))
}

impl From<QuerySet> for Expression {
    /// A QuerySet as a value is a `Subquery` (`filter(pk__in=qs)`, `filter(x=qs[:1])`).
    fn from(queryset: QuerySet) -> Expression {
        Subquery(queryset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expressions::Q;
    use crate::queryset::fixtures::shop;

    #[test]
    fn outer_refs_nest_and_display_like_django() {
        assert_eq!(OuterRef("pk").to_string(), "OuterRef(pk)");
        assert_eq!(
            OuterRef(OuterRef("region")).to_string(),
            "OuterRef(OuterRef(region))"
        );
        assert!(matches!(
            OuterRef(Expression::from(1)),
            Expression::Invalid(_)
        ));
    }

    #[test]
    fn subqueries_use_their_own_aliases_and_refer_to_the_outer_query() {
        let db = shop();
        let orders = db
            .objects("Order")
            .filter(Q::new("customer", OuterRef("pk")))
            .values(["amount"])
            .slice(0..1);
        let sql = db
            .objects("Customer")
            .annotate([("first", Subquery(orders.clone()))])
            .values(["first"])
            .sql()
            .unwrap();
        assert!(
            sql.contains(r#"FROM "order" AS "U0" WHERE ("U0"."customer_id" = "customer"."id")"#),
            "{sql}"
        );
        // Alone, the subquery's QuerySet has no outer query.
        let err = orders.fetch().unwrap_err();
        assert_eq!(err.django_name(), "ValueError");
    }
}
