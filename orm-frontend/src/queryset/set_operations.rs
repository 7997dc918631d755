//! `union()`, `intersection()` and `difference()`, and the small compiler for QuerySets whose
//! rows come from a plan rather than a model's table (a set operation, or `cte.queryset()`).
//!
//! Django's rules: the result has the first QuerySet's column names (columns line up by
//! position); `union()` removes duplicates unless `all=true`; afterwards only slicing,
//! `count()`, `exists()`, `order_by()` and `values()`/`values_list()` are allowed — any other
//! chain method raises `NotSupportedError` ("Calling QuerySet.filter() after union() is not
//! supported."). `values()` after the operation selects those names in every part, and
//! `order_by()` names the result's columns. The parts' own ordering is dropped unless they
//! are sliced.

use std::sync::Arc;

use quiver_engine::logical_plan::{Except, Intersect, Union, Values};
use quiver_engine::{Expr, LogicalPlan, LogicalPlanBuilder, PlanSchema, SortExpr};

use super::compiler::{compile, AggregateItem, CompiledQuery};
use super::queryset::{Derived, OrderItem, QuerySet};
use crate::error::{Error, Result};
use crate::expressions::{ResolvedField, Resolver};
use crate::model::FieldType;

/// Which set operation combines the parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOperator {
    Union,
    Intersection,
    Difference,
}

impl SetOperator {
    /// Django's `query.combinator`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SetOperator::Union => "union",
            SetOperator::Intersection => "intersection",
            SetOperator::Difference => "difference",
        }
    }
}

/// A recorded set operation: the parts in order, the first being the QuerySet it was called
/// on.
#[derive(Debug, Clone)]
pub(crate) struct Combination {
    pub operator: SetOperator,
    pub all: bool,
    pub parts: Vec<QuerySet>,
}

impl QuerySet {
    /// `union(*others, all=all)`: the rows of this QuerySet and of each other one; duplicates
    /// are removed unless `all`.
    pub fn union<I>(&self, others: I, all: bool) -> QuerySet
    where
        I: IntoIterator<Item = QuerySet>,
    {
        self.combine(SetOperator::Union, others, all)
    }

    /// `intersection(*others)`: the distinct rows found in this QuerySet and every other one.
    pub fn intersection<I>(&self, others: I) -> QuerySet
    where
        I: IntoIterator<Item = QuerySet>,
    {
        self.combine(SetOperator::Intersection, others, false)
    }

    /// `difference(*others)`: the distinct rows of this QuerySet found in none of the others.
    pub fn difference<I>(&self, others: I) -> QuerySet
    where
        I: IntoIterator<Item = QuerySet>,
    {
        self.combine(SetOperator::Difference, others, false)
    }

    fn combine<I>(&self, operator: SetOperator, others: I, all: bool) -> QuerySet
    where
        I: IntoIterator<Item = QuerySet>,
    {
        let mut parts = vec![self.clone()];
        parts.extend(others);
        let mut combined = QuerySet::new(self.db.clone(), self.model.clone());
        combined.query.derived = Some(Arc::new(Derived::Combination(Combination {
            operator,
            all,
            parts,
        })));
        combined
    }

    /// Django's `_not_support_combined_queries`: the error for `operation` after a set
    /// operation, or `None` when this QuerySet is not one.
    pub(crate) fn refuse_after_combination(&self, operation: &str) -> Option<QuerySet> {
        match self.query.derived.as_deref() {
            Some(Derived::Combination(c)) => Some(self.fail(Error::NotSupportedError(format!(
                "Calling QuerySet.{operation}() after {}() is not supported.",
                c.operator.name()
            )))),
            _ => None,
        }
    }
}

/// The plan of a set operation's rows (before the QuerySet's own ordering and slicing).
pub(crate) fn combination_plan(
    combination: &Combination,
    qs: &QuerySet,
) -> Result<Arc<LogicalPlan>> {
    let mut plans = Vec::with_capacity(combination.parts.len());
    for part in &combination.parts {
        let mut part = if part.query.is_sliced() {
            part.clone()
        } else {
            part.clear_ordering()
        };
        // values() after the operation selects in the parts that select nothing yet.
        if let (Some(values), None) = (&qs.query.values, &part.query.values) {
            if !values.fields.is_empty() {
                part = part.values(values.fields.clone());
            }
        }
        let compiled = compile(&part)?;
        plans.push(if compiled.empty {
            empty_like(&compiled.plan)
        } else {
            compiled.plan
        });
    }
    let mut plans = plans.into_iter();
    let Some(first) = plans.next() else {
        return Err(Error::TypeError("a set operation needs a QuerySet".into()));
    };
    let plan = match combination.operator {
        SetOperator::Union => {
            let mut inputs = vec![first];
            inputs.extend(plans);
            if inputs.len() == 1 {
                inputs.remove(0)
            } else {
                Arc::new(LogicalPlan::Union(Union::try_new(inputs, combination.all)?))
            }
        }
        SetOperator::Intersection => {
            let mut plan = first;
            for other in plans {
                plan = Arc::new(LogicalPlan::Intersect(Intersect::try_new(plan, other)?));
            }
            plan
        }
        SetOperator::Difference => {
            let mut plan = first;
            for other in plans {
                plan = Arc::new(LogicalPlan::Except(Except::try_new(plan, other)?));
            }
            plan
        }
    };
    Ok(plan)
}

fn empty_like(plan: &Arc<LogicalPlan>) -> Arc<LogicalPlan> {
    Arc::new(LogicalPlan::Values(Values::empty(
        plan.schema()
            .fields()
            .iter()
            .map(|f| f.field.as_ref().clone())
            .collect(),
    )))
}

/// Resolves names against the columns of a derived plan (and annotations over them).
pub(crate) struct SchemaResolver {
    pub schema: PlanSchema,
    pub annotations: Vec<(String, Expr)>,
    pub model: String,
}

impl SchemaResolver {
    fn field(&self, name: &str) -> Option<ResolvedField> {
        let name = match name {
            "pk" if self.schema.fields().iter().all(|f| f.name() != "pk") => "id",
            other => other,
        };
        if let Some((_, expr)) = self.annotations.iter().find(|(n, _)| n == name) {
            let data_type = expr.data_type(&self.schema).ok()?;
            return Some(ResolvedField {
                expr: expr.clone(),
                nullable: expr.nullable(&self.schema).unwrap_or(true),
                field_type: None,
                is_aggregate: false,
                model: None,
                unresolved: None,
                data_type,
            });
        }
        let field = self.schema.fields().iter().find(|f| f.name() == name)?;
        Some(ResolvedField {
            expr: Expr::Column(field.column()),
            data_type: field.field.data_type().clone(),
            nullable: field.field.is_nullable(),
            field_type: FieldType::for_data_type(field.field.data_type()),
            is_aggregate: false,
            model: Some(self.model.clone()),
            unresolved: None,
        })
    }
}

impl Resolver for SchemaResolver {
    fn resolve(&mut self, parts: &[&str]) -> Result<(ResolvedField, usize)> {
        let name = parts.first().copied().unwrap_or_default();
        match self.field(name) {
            Some(field) => Ok((field, 1)),
            None => {
                let mut choices: Vec<String> = self
                    .schema
                    .fields()
                    .iter()
                    .map(|f| f.name().to_string())
                    .chain(self.annotations.iter().map(|(n, _)| n.clone()))
                    .collect();
                choices.sort();
                Err(Error::FieldError(format!(
                    "Cannot resolve keyword '{name}' into field. Choices are: {}",
                    choices.join(", ")
                )))
            }
        }
    }

    fn model_name(&self) -> &str {
        &self.model
    }

    fn resolve_cte_column(&mut self, cte: &str, column: &str) -> Result<ResolvedField> {
        let field = self
            .schema
            .fields()
            .iter()
            .find(|f| f.relation.as_deref() == Some(cte) && f.name() == column)
            .ok_or_else(|| Error::FieldError(format!("CTE {cte} has no column {column} here")))?;
        Ok(ResolvedField {
            expr: Expr::Column(field.column()),
            data_type: field.field.data_type().clone(),
            nullable: field.field.is_nullable(),
            field_type: FieldType::for_data_type(field.field.data_type()),
            is_aggregate: false,
            model: None,
            unresolved: None,
        })
    }
}

/// The rows a derived QuerySet reads: the set operation's, or the CTE's.
pub(crate) fn derived_source(qs: &QuerySet, derived: &Derived) -> Result<Arc<LogicalPlan>> {
    match derived {
        Derived::Combination(combination) => combination_plan(combination, qs),
        Derived::Cte(cte) => super::cte::join_source(cte),
    }
}

/// Compiles a QuerySet whose rows are `source`'s: its filters, annotations (row-wise),
/// values, ordering, distinct and slice.
pub(crate) fn compile_derived(qs: &QuerySet, source: Arc<LogicalPlan>) -> Result<CompiledQuery> {
    let (plan, resolver) = filtered_and_annotated(qs, source)?;
    let query = &qs.query;
    let mut builder = LogicalPlanBuilder::from(plan);
    let mut resolver = resolver;
    let order = order_keys(qs, &mut resolver)?;
    if !order.is_empty() {
        builder = builder.sort(order)?;
    }
    let mut exprs: Vec<Expr> = Vec::new();
    let names: Vec<String> = match &query.values {
        Some(values) if !values.fields.is_empty() => values.fields.clone(),
        _ => resolver
            .schema
            .fields()
            .iter()
            .map(|f| f.name().to_string())
            .chain(resolver.annotations.iter().map(|(n, _)| n.clone()))
            .collect(),
    };
    for name in &names {
        let (field, _) = resolver.resolve(&[name.as_str()])?;
        exprs.push(field.expr.alias(name.clone()));
    }
    builder = builder.project(exprs)?;
    if query.distinct {
        builder = builder.distinct();
    }
    if query.is_sliced() {
        builder = builder.limit(query.low, query.high.map(|h| h.saturating_sub(query.low)));
    }
    Ok(CompiledQuery {
        plan: builder.build(),
        empty: query.empty,
    })
}

fn filtered_and_annotated(
    qs: &QuerySet,
    source: Arc<LogicalPlan>,
) -> Result<(Arc<LogicalPlan>, SchemaResolver)> {
    let query = &qs.query;
    if let Some(error) = &query.error {
        return Err(error.clone());
    }
    let mut resolver = SchemaResolver {
        schema: source.schema().as_ref().clone(),
        annotations: vec![],
        model: qs.model.clone(),
    };
    for annotation in &query.annotations {
        if annotation.expression.contains_aggregate() {
            return Err(Error::NotSupportedError(
                "Aggregate annotations over a CTE or a set operation are not supported; \
                 aggregate() them or join the CTE to a model."
                    .to_string(),
            ));
        }
        let expr = annotation.expression.resolve(&mut resolver)?;
        resolver.annotations.push((annotation.name.clone(), expr));
    }
    let mut predicates = Vec::new();
    for step in &query.filters {
        predicates.push(step.q.resolve(&mut resolver)?);
    }
    let mut builder = LogicalPlanBuilder::from(source);
    if let Some(predicate) = Expr::conjunction(predicates) {
        builder = builder.filter(predicate)?;
    }
    Ok((builder.build(), resolver))
}

fn order_keys(qs: &QuerySet, resolver: &mut SchemaResolver) -> Result<Vec<SortExpr>> {
    let mut keys = Vec::new();
    for item in qs.query.ordering.iter().flatten() {
        match item {
            OrderItem::Field(name) => {
                let (descending, name) = match name.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, name.as_str()),
                };
                let (field, _) = resolver.resolve(&[name])?;
                keys.push(if descending {
                    field.expr.sort_desc()
                } else {
                    field.expr.sort_asc()
                });
            }
            OrderItem::Expression(order) => keys.push(order.resolve(resolver)?),
            OrderItem::Random(_) => {
                return Err(Error::NotSupportedError(
                    "Random ordering of a CTE or a set operation is not supported.".to_string(),
                ))
            }
        }
    }
    if qs.query.reversed {
        keys = keys.iter().map(SortExpr::reversed).collect();
    }
    Ok(keys)
}

/// `aggregate()`/`count()` over a derived QuerySet's rows.
pub(crate) fn compile_derived_aggregate(
    qs: &QuerySet,
    source: Arc<LogicalPlan>,
    items: Vec<(String, AggregateItem)>,
) -> Result<CompiledQuery> {
    let inner = compile_derived(qs, source)?;
    let plan = LogicalPlanBuilder::from(inner.plan)
        .alias("subquery")
        .build();
    let mut resolver = SchemaResolver {
        schema: plan.schema().as_ref().clone(),
        annotations: vec![],
        model: qs.model.clone(),
    };
    let mut aggregates = Vec::with_capacity(items.len());
    for (name, item) in items {
        let expr = match item {
            AggregateItem::Expression(e) => e.resolve(&mut resolver)?,
            AggregateItem::Resolved(e) => e,
        };
        if !matches!(expr.clone().unalias(), Expr::Aggregate(_)) {
            return Err(Error::TypeError(format!(
                "{name} is not an aggregate expression"
            )));
        }
        aggregates.push(expr.alias(name));
    }
    let plan = LogicalPlanBuilder::from(plan)
        .aggregate(vec![], aggregates)?
        .build();
    Ok(CompiledQuery { plan, empty: false })
}

#[cfg(test)]
mod tests {
    use crate::expressions::Value;
    use crate::q;
    use crate::queryset::fixtures::shop;

    #[test]
    fn only_djangos_methods_are_allowed_after_a_set_operation() {
        let db = shop();
        let eu = db
            .objects("Customer")
            .filter(q!(region = "EU"))
            .values(["name"]);
        let us = db
            .objects("Customer")
            .filter(q!(region = "US"))
            .values(["name"]);
        let union = eu.union([us.clone()], false);
        assert_eq!(union.count().unwrap(), 3);
        assert_eq!(eu.difference([us.clone()]).count().unwrap(), 2);
        assert_eq!(eu.intersection([us]).count().unwrap(), 0);
        for (qs, message) in [
            (
                union.filter(q!(name = "Ann")),
                "Calling QuerySet.filter() after union() is not supported.",
            ),
            (
                union.exclude(q!(name = "Ann")),
                "Calling QuerySet.exclude() after union() is not supported.",
            ),
            (
                union.annotate([("x", Value(1))]),
                "Calling QuerySet.annotate() after union() is not supported.",
            ),
            (
                union.distinct(),
                "Calling QuerySet.distinct() after union() is not supported.",
            ),
        ] {
            let err = qs.fetch().unwrap_err();
            assert_eq!(err.django_name(), "NotSupportedError");
            assert_eq!(err.to_string(), message);
        }
    }
}
