//! The QuerySet compiler: one pure pass from a recorded [`QuerySet`] to a [`LogicalPlan`].
//!
//! The pass has two halves. First the [`Compiler`] *resolves* everything the QuerySet
//! recorded — annotations, filters, the selected values, the ordering — into engine
//! expressions over one FROM clause. It is the [`Resolver`] the expressions module calls back
//! for every field path: a path through a forward ForeignKey/OneToOne adds a join once (a
//! many-to-one join never repeats rows) — INNER or LEFT as Django's join promotion decides,
//! see `compiler/join_promotion.rs` —, `fk` and `fk__pk` stop at the local `<fk>_id` column
//! without a join, a reverse relation joins the related rows (anew for each `filter()` call,
//! as Django does), and an unknown name is Django's `FieldError` with its "Choices are: …" list. Annotations
//! and filters are resolved in the order they were called, since that decides which joins
//! they share. The result is a [`SelectQuery`], from which
//! [`assemble`](super::select_query::assemble) builds the operators in SQL's logical order:
//!
//! ```text
//! Limit                      qs[a:b]
//!   Sort                     order_by (Meta.ordering unless grouped)
//!     Distinct               distinct()
//!       Projection           model columns by attname / values() names, annotations
//!         Filter             HAVING: filter() conditions containing aggregates
//!           Aggregate        GROUP BY (group_by_rule), every aggregate once
//!             Filter         WHERE
//!               Join         one per relation followed (T2, T3… when a table repeats)
//!                 Scan       the model's table, alias = table name
//! ```
//!
//! Relations are named Django-style: the model's table by its name, each joined table by its
//! name the first time it appears and `T<n>` after that.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::datatypes::DataType;
use quiver_engine::expr::{qualified_col, AggregateExpr, AggregateFunction};
use quiver_engine::logical_plan::{Scan, Values};
use quiver_engine::{
    lit, Expr, JoinType, LogicalPlan, LogicalPlanBuilder, PlanSchema, ScalarValue, SortExpr,
};
use quiver_storage::{Catalog, Table, TableVersion};

use crate::error::{Error, Result};
use crate::expressions::{Expression, ResolvedField, Resolver, F, Q};
use crate::model::{Field, FieldType, JoinStep, Model, Registry};
use crate::queryset::queryset::{Annotation, GroupBy, OrderItem, Query, QuerySet, ValuesKind};
use crate::queryset::select_query::{assemble, group_by_rule, SelectQuery};

mod join_promotion;
mod select_related;
mod split_exclude;

/// A compiled QuerySet.
#[derive(Debug, Clone)]
pub(crate) struct CompiledQuery {
    pub plan: Arc<LogicalPlan>,
    /// The rows being selected (or aggregated) are known to be none without running the plan
    /// (`none()`, `x__in=[]`): Django runs no query then.
    pub empty: bool,
}

/// One item of `aggregate()`: a user expression, or an engine aggregate the QuerySet builds
/// itself (`count()`'s `COUNT(*)`).
#[derive(Debug, Clone)]
pub(crate) enum AggregateItem {
    Expression(Expression),
    Resolved(Expr),
}

/// Compiles the rows a QuerySet returns.
pub(crate) fn compile(qs: &QuerySet) -> Result<CompiledQuery> {
    // One committed state of the whole database for every table the query reads.
    let _snapshot = qs.db.catalog().pin_snapshot();
    if let Some(derived) = &qs.query.derived {
        let source = super::set_operations::derived_source(qs, derived)?;
        return super::set_operations::compile_derived(qs, source);
    }
    let mut compiler = Compiler::for_queryset(qs)?;
    let select = compiler.select_query(&qs.query)?;
    let empty = qs.query.empty || select.where_.iter().any(is_false);
    let plan = assemble(compiler.plan_from()?, select)?;
    Ok(CompiledQuery { plan, empty })
}

/// Compiles `aggregate(...)` (and `count()`): one row of the named aggregates over the rows
/// the QuerySet selects, as Django's `Query.get_aggregation` does.
///
/// A plain QuerySet is aggregated directly. A sliced, distinct, grouped or empty one is
/// aggregated as a subquery, so that `qs[:5].aggregate(Sum(..))` sums those five rows. The
/// aggregates are then still resolved against the *inner* query (joins are added there): every
/// column they read is selected by the inner query under a hidden name (`__col1`, …) and the
/// outer query aggregates those, while a reference to an annotation reads the inner query's
/// column of that name (`values("x").annotate(n=Count("id")).aggregate(Avg("n"))` averages
/// the per-group counts). As in Django, a hoisted column joins the inner query's GROUP BY
/// and DISTINCT like any selected column.
pub(crate) fn compile_aggregate(
    qs: &QuerySet,
    items: Vec<(String, AggregateItem)>,
) -> Result<CompiledQuery> {
    let _snapshot = qs.db.catalog().pin_snapshot();
    if let Some(derived) = &qs.query.derived {
        let source = super::set_operations::derived_source(qs, derived)?;
        return super::set_operations::compile_derived_aggregate(qs, source, items);
    }
    let query = &qs.query;
    let needs_subquery = query.is_sliced()
        || query.distinct
        || query.group_by != GroupBy::None
        || query.empty
        || super::window::has_windows(query);
    if !needs_subquery {
        let mut compiler = Compiler::for_queryset(qs)?;
        let (where_, having) = compiler.resolve_annotations_and_filters(query)?;
        if let Some(h) = having.first() {
            return Err(aggregate_in_where(h));
        }
        if query.values.is_some() {
            // The joins a values() path made stay in Django's FROM clause (and may repeat rows
            // through a reverse relation), though the columns are not selected.
            compiler.select_items(query)?;
        }
        let selected = compiler.selected_annotations(query);
        let mut summarizer = Summarizer {
            compiler: &mut compiler,
            selected,
            hoisted: None,
        };
        let select = resolve_aggregate_items(&mut summarizer, items)?;
        let empty = where_.iter().any(is_false);
        let plan = assemble(
            compiler.plan_from()?,
            SelectQuery::aggregate(where_, select),
        )?;
        return Ok(CompiledQuery { plan, empty });
    }
    // The ordering only matters to which rows a slice takes.
    let inner_qs = if query.is_sliced() {
        qs.clone()
    } else {
        qs.clear_ordering()
    };
    let mut compiler = Compiler::for_queryset(&inner_qs)?;
    let (where_, having) = compiler.resolve_annotations_and_filters(&inner_qs.query)?;
    let mut inner_select = compiler.select_items(&inner_qs.query)?;
    let selected = compiler.selected_annotations(&inner_qs.query);
    let mut summarizer = Summarizer {
        compiler: &mut compiler,
        selected,
        hoisted: Some(vec![]),
    };
    let select = resolve_aggregate_items(&mut summarizer, items)?;
    inner_select.extend(summarizer.hoisted.unwrap_or_default());
    let inner = compiler.complete_select(&inner_qs.query, where_, having, inner_select)?;
    let empty = query.empty || inner.where_.iter().any(is_false);
    let inner_plan = assemble(compiler.plan_from()?, inner)?;
    let inner_plan = if empty {
        Arc::new(LogicalPlan::Values(Values::empty(
            inner_plan
                .schema()
                .fields()
                .iter()
                .map(|f| f.field.as_ref().clone())
                .collect(),
        )))
    } else {
        inner_plan
    };
    let from = LogicalPlanBuilder::from(inner_plan).alias(SUBQUERY_ALIAS);
    let plan = assemble(from, SelectQuery::aggregate(vec![], select))?;
    Ok(CompiledQuery { plan, empty })
}

/// The alias of the inner query `aggregate()` runs over (Django's `subquery`).
const SUBQUERY_ALIAS: &str = "subquery";

fn resolve_aggregate_items(
    resolver: &mut dyn Resolver,
    items: Vec<(String, AggregateItem)>,
) -> Result<Vec<(String, Expr)>> {
    items
        .into_iter()
        .map(|(name, item)| {
            let expr = match item {
                AggregateItem::Expression(e) => e.resolve(resolver)?,
                AggregateItem::Resolved(e) => e,
            };
            if !expr.contains_aggregate() {
                return Err(Error::TypeError(format!(
                    "{name} is not an aggregate expression"
                )));
            }
            Ok((name, expr))
        })
        .collect()
}

fn is_false(e: &Expr) -> bool {
    matches!(e, Expr::Literal(ScalarValue::Boolean(Some(false))))
}

fn is_true(e: &Expr) -> bool {
    matches!(e, Expr::Literal(ScalarValue::Boolean(Some(true))))
}

fn aggregate_in_where(e: &Expr) -> Error {
    Error::FieldError(format!(
        "Aggregate functions are not allowed in this query: {e} (annotate() the aggregate, then \
         filter() on its name)"
    ))
}

/// A table in the FROM clause.
#[derive(Debug)]
struct Relation {
    alias: String,
    table: Arc<Table>,
    snapshot: Arc<TableVersion>,
    /// A derived table joined in place of `table` (the keys an `exclude()` on a
    /// multi-valued relation tests, see `split_exclude.rs`).
    subquery: Option<Arc<LogicalPlan>>,
    /// `None` for the QuerySet's own table.
    join: Option<JoinCondition>,
    /// INNER or LEFT as Django's join promotion decides (`join_promotion.rs`); LEFT ANTI
    /// for an `exclude()` mark that became a whole WHERE conjunct (`split_exclude.rs`).
    join_type: quiver_engine::JoinType,
    /// Whether this relation's rows can repeat a row of the QuerySet's model: it was reached
    /// through a reverse ForeignKey (one customer, many orders), directly or further up.
    multi_valued: bool,
}

/// `LEFT JOIN <relation> ON parent.parent_column = relation.column`. Two joins are the same
/// join when these three agree (Django's `Join.__eq__`: table, parent alias, join field).
#[derive(Debug, PartialEq)]
struct JoinCondition {
    parent_alias: String,
    parent_column: String,
    column: String,
}

/// An annotation after resolution.
#[derive(Debug, Clone)]
struct ResolvedAnnotation {
    name: String,
    expr: Expr,
    data_type: DataType,
    nullable: bool,
    select: bool,
}

/// A resolved path, with what error messages and relation ordering need.
struct PathResolution {
    field: ResolvedField,
    consumed: usize,
    /// Set when the path ended on a relation named by its field name (`"customer"`, not
    /// `"customer_id"`): ordering by it means the related model's ordering.
    relation_target: Option<Arc<Model>>,
}

/// Resolves one QuerySet's names into expressions over its FROM clause (see the module docs).
/// A subquery's compiler borrows the enclosing query's resolver for its `OuterRef`s.
pub(crate) struct Compiler<'outer> {
    registry: Registry,
    catalog: Catalog,
    model: Arc<Model>,
    relations: Vec<Relation>,
    /// The FROM clause's row schema so far (grows with each join).
    schema: PlanSchema,
    annotations: Vec<ResolvedAnnotation>,
    /// How many annotations the expression being resolved may see.
    visible: usize,
    /// Relation paths whose `Meta.ordering` is being expanded (loop detection).
    ordering_stack: Vec<String>,
    /// While a `filter()` call is resolved: the aliases it has used. A multi-valued join is
    /// reused only within the call that made it (each chained `filter()` on a reverse relation
    /// joins again); everything else (annotations, values, ordering) reuses any equal join.
    filter_call_aliases: Option<BTreeSet<String>>,
    /// The enclosing query, for a subquery (`OuterRef`), and how deep this one is nested.
    outer: Option<&'outer mut dyn Resolver>,
    depth: usize,
    /// `cte.join()`s: the CTE's plan, the ON pairs and the join type, after the relations.
    cte_joins: Vec<(Arc<LogicalPlan>, Vec<(Expr, Expr)>, quiver_engine::JoinType)>,
    /// Names standing for "this row has a related row matching …" (`split_exclude.rs`),
    /// with the boolean expression each resolves to.
    exists_marks: Vec<(String, Expr)>,
    /// `values()` names resolved where `values()` was called (`join_values_paths`).
    values_exprs: Vec<(String, Expr)>,
    values_joined: bool,
}

impl<'outer> Compiler<'outer> {
    fn for_queryset(qs: &QuerySet) -> Result<Compiler<'static>> {
        if let Some(error) = &qs.query.error {
            return Err(error.clone());
        }
        let registry = qs.db.registry();
        let model = registry.get(&qs.model)?;
        let mut compiler = Compiler::new(registry, qs.db.catalog().clone(), model)?;
        compiler.add_cte_joins(&qs.query)?;
        Ok(compiler)
    }

    /// Joins the CTEs of `cte.join()` calls: each CTE's columns come into scope under its
    /// name (for `cte.col`), and the ON pairs read the model's fields.
    fn add_cte_joins(&mut self, query: &Query) -> Result<()> {
        for join in &query.cte_joins {
            let plan = super::cte::join_source(&join.cte)?;
            let join_type = super::cte::engine_join_type(join.join_type);
            let right = if join_type == quiver_engine::JoinType::Left {
                plan.schema().with_all_nullable()
            } else {
                plan.schema().as_ref().clone()
            };
            let mut on = Vec::with_capacity(join.on.len());
            self.schema = self.schema.join(&right);
            for (field, expression) in &join.on {
                let left = self.resolve_name(field)?.field.expr;
                let right = expression.resolve(self)?;
                on.push((left, right));
            }
            self.cte_joins.push((plan, on, join_type));
        }
        Ok(())
    }

    fn new(registry: Registry, catalog: Catalog, model: Arc<Model>) -> Result<Compiler<'static>> {
        let table_name = model.table_name();
        let table = catalog.table(&table_name)?;
        let alias = table_name;
        let snapshot = table.snapshot();
        let schema = PlanSchema::from_arrow(Some(&alias), &table.schema());
        Ok(Compiler {
            registry,
            catalog,
            model,
            relations: vec![Relation {
                alias,
                table,
                snapshot,
                subquery: None,
                join: None,
                join_type: quiver_engine::JoinType::Left,
                multi_valued: false,
            }],
            exists_marks: vec![],
            values_exprs: vec![],
            values_joined: false,
            schema,
            annotations: vec![],
            visible: 0,
            ordering_stack: vec![],
            filter_call_aliases: None,
            outer: None,
            depth: 0,
            cte_joins: vec![],
        })
    }

    fn base_alias(&self) -> &str {
        &self.relations[0].alias
    }

    /// Scan of the model's table, then one join per related path, in creation order.
    /// Every scan of a table reads the same snapshot (taken when the table first appeared).
    fn plan_from(&self) -> Result<LogicalPlanBuilder> {
        let scan = |relation: &Relation| {
            LogicalPlan::Scan(Scan::with_snapshot(
                Arc::clone(&relation.table),
                Arc::clone(&relation.snapshot),
                relation.alias.clone(),
            ))
        };
        let mut builder = LogicalPlanBuilder::from(scan(&self.relations[0]));
        for relation in &self.relations[1..] {
            let Some(join) = &relation.join else {
                continue;
            };
            let right = match &relation.subquery {
                Some(plan) => LogicalPlanBuilder::from(Arc::clone(plan))
                    .alias(relation.alias.clone())
                    .build(),
                None => Arc::new(scan(relation)),
            };
            builder = builder.join(
                right,
                relation.join_type,
                vec![(
                    qualified_col(&join.parent_alias, &join.parent_column),
                    qualified_col(&relation.alias, &join.column),
                )],
                None,
            )?;
        }
        for (plan, on, join_type) in &self.cte_joins {
            builder = builder.join(Arc::clone(plan), *join_type, on.clone(), None)?;
        }
        Ok(builder)
    }

    /// Resolves everything `query` asks for.
    fn select_query(&mut self, query: &Query) -> Result<SelectQuery> {
        let (where_, having) = self.resolve_annotations_and_filters(query)?;
        let select = self.select_items(query)?;
        self.complete_select(query, where_, having, select)
    }

    /// Adds the ordering and the grouping to a resolved WHERE, HAVING and SELECT list.
    fn complete_select(
        &mut self,
        query: &Query,
        where_: Vec<Expr>,
        having: Vec<Expr>,
        select: Vec<(String, Expr)>,
    ) -> Result<SelectQuery> {
        let grouped = query.group_by != GroupBy::None;
        let order = self.ordering(query, grouped)?;
        let group_by = match &query.group_by {
            GroupBy::None => {
                let stray = select
                    .iter()
                    .map(|(_, e)| e)
                    .chain(order.iter().map(|s| &s.expr))
                    .chain(&having)
                    .find(|e| e.contains_aggregate());
                if let Some(e) = stray {
                    return Err(aggregate_in_where(e));
                }
                None
            }
            GroupBy::Model => Some(group_by_rule(
                self.model_columns(),
                &select,
                &order,
                &having,
            )),
            GroupBy::Fields(names) => {
                let mut base = Vec::with_capacity(names.len());
                for name in names {
                    let expr = self.values_expr(name)?;
                    if !expr.contains_aggregate() {
                        base.push(expr);
                    }
                }
                Some(group_by_rule(base, &select, &order, &having))
            }
        };
        Ok(SelectQuery {
            where_,
            having,
            select,
            group_by,
            order,
            distinct: query.distinct,
            offset: query.low,
            limit: query.high.map(|h| h.saturating_sub(query.low)),
        })
    }

    /// The model's own columns, qualified by the base alias.
    fn model_columns(&self) -> Vec<Expr> {
        let alias = self.base_alias().to_string();
        self.model
            .fields()
            .iter()
            .map(|f| qualified_col(&alias, f.column()))
            .collect()
    }

    /// Resolves annotations and filters in the order they were called, so that joins are
    /// shared as in Django: an annotation reuses a join an earlier `filter()` made ("filter()
    /// then annotate() aggregates only the filtered related rows"), while a `filter()` on a
    /// multi-valued relation joins anew. Returns the WHERE and HAVING conjuncts: a conjunct
    /// containing an aggregate is a HAVING condition (Django splits an AND the same way; an
    /// OR with an aggregate goes to HAVING whole).
    fn resolve_annotations_and_filters(&mut self, query: &Query) -> Result<(Vec<Expr>, Vec<Expr>)> {
        let mut where_ = vec![];
        let mut having = vec![];
        let mut filters = query.filters.iter().peekable();
        let mut done = 0;
        for (i, annotation) in query.annotations.iter().enumerate() {
            while let Some(step) = filters.next_if(|f| f.visible_annotations <= i) {
                self.join_values_paths(query, i, done)?;
                self.resolve_filter_step(
                    &step.q,
                    step.visible_annotations,
                    &mut where_,
                    &mut having,
                )?;
                done += 1;
            }
            self.join_values_paths(query, i, done)?;
            self.resolve_annotation(i, annotation)?;
        }
        for step in filters {
            self.join_values_paths(query, query.annotations.len(), done)?;
            self.resolve_filter_step(&step.q, step.visible_annotations, &mut where_, &mut having)?;
            done += 1;
        }
        self.join_values_paths(query, query.annotations.len(), query.filters.len())?;
        self.visible = self.annotations.len();
        Ok((where_, having))
    }

    /// Django's `values()` sets up its joins when it is called: once the annotations and
    /// `filter()` calls made before it are resolved, its field paths are resolved (and
    /// remembered for the SELECT list and the GROUP BY), so that a later `filter()` on the
    /// same multi-valued relation joins anew while `values()` keeps its own join.
    fn join_values_paths(
        &mut self,
        query: &Query,
        annotations: usize,
        filters: usize,
    ) -> Result<()> {
        let Some(values) = &query.values else {
            return Ok(());
        };
        if self.values_joined
            || annotations < values.annotation_mark
            || filters < values.filter_mark
        {
            return Ok(());
        }
        self.values_joined = true;
        self.visible = self.annotations.len();
        for name in &values.fields {
            if query.annotations.iter().any(|a| &a.name == name) {
                continue;
            }
            let expr = self.resolve_name(name)?.field.expr;
            self.values_exprs.push((name.clone(), expr));
        }
        Ok(())
    }

    /// The expression of a `values()` name: the one resolved where `values()` was called,
    /// else resolved now.
    fn values_expr(&mut self, name: &str) -> Result<Expr> {
        match self.values_exprs.iter().find(|(n, _)| n == name) {
            Some((_, expr)) => Ok(expr.clone()),
            None => Ok(self.resolve_name(name)?.field.expr),
        }
    }

    fn resolve_annotation(&mut self, index: usize, annotation: &Annotation) -> Result<()> {
        if self.model.get_field(&annotation.name).is_some() {
            return Err(Error::ValueError(format!(
                "The annotation '{}' conflicts with a field on the model.",
                annotation.name
            )));
        }
        self.visible = index;
        let expr = annotation.expression.resolve(self)?;
        let data_type = expr.data_type(&self.schema)?;
        let nullable = expr.nullable(&self.schema)?;
        self.annotations.push(ResolvedAnnotation {
            name: annotation.name.clone(),
            expr,
            data_type,
            nullable,
            select: annotation.select,
        });
        Ok(())
    }

    fn resolve_filter_step(
        &mut self,
        q: &Q,
        visible_annotations: usize,
        where_: &mut Vec<Expr>,
        having: &mut Vec<Expr>,
    ) -> Result<()> {
        self.visible = visible_annotations.min(self.annotations.len());
        let q = self.split_exclude(q)?;
        self.filter_call_aliases = Some(BTreeSet::new());
        let predicate = q.resolve(self);
        let used = self.filter_call_aliases.take().unwrap_or_default();
        let predicate = predicate?;
        self.check_negation_across_multi_valued(&predicate)?;
        for conjunct in predicate.split_conjunction() {
            if is_true(&conjunct) || self.absorb_anti_join(&conjunct) {
                continue;
            }
            // A window condition travels with HAVING; `assemble` applies it after the windows.
            if conjunct.contains_aggregate() || conjunct.contains_window() {
                having.push(conjunct);
            } else {
                self.demote_joins(&conjunct, &used);
                where_.push(conjunct);
            }
        }
        Ok(())
    }

    /// Django answers `exclude()` (or `~Q`) across a multi-valued relation with a NOT EXISTS
    /// subquery per condition; over a join, a negation would test each related row instead
    /// of the parent. Until subqueries exist that is refused rather than answered wrongly.
    fn check_negation_across_multi_valued(&self, predicate: &Expr) -> Result<()> {
        let multi: BTreeSet<&str> = self
            .relations
            .iter()
            .filter(|r| r.multi_valued)
            .map(|r| r.alias.as_str())
            .collect();
        if multi.is_empty() {
            return Ok(());
        }
        let mut offending = None;
        predicate.visit(&mut |e| {
            if let Expr::Not(inner) = e {
                if inner
                    .column_refs()
                    .iter()
                    .any(|c| c.relation.as_deref().is_some_and(|r| multi.contains(r)))
                {
                    offending = Some(e.to_string());
                }
                return false;
            }
            true
        });
        match offending {
            Some(condition) => Err(Error::NotSupportedError(format!(
                "exclude() or a negated Q across a multi-valued relation is not supported yet \
                 ({condition})"
            ))),
            None => Ok(()),
        }
    }

    /// The output columns: model rows by attname (minus deferred fields) or the `values()`
    /// names, then the selected annotations.
    fn select_items(&mut self, query: &Query) -> Result<Vec<(String, Expr)>> {
        let mut items: Vec<(String, Expr)> = Vec::new();
        let alias = self.base_alias().to_string();
        let annotations = self.annotations.clone();
        match &query.values {
            Some(values) if !values.fields.is_empty() => {
                // Django 5.1 orders values() columns as: named fields, then the annotations
                // named there in the order asked, then those added after values() in
                // definition order.
                let is_annotation = |name: &String| annotations.iter().any(|a| &a.name == name);
                // values_list("a", "a") repeats the column (its tuples have two items, which
                // a union with a two-column query needs); values("a", "a") has one key.
                let repeats = matches!(values.kind, ValuesKind::List { .. });
                for name in values.fields.iter().filter(|n| !is_annotation(n)) {
                    if !repeats && items.iter().any(|(n, _)| n == name) {
                        continue;
                    }
                    let expr = self.values_expr(name)?;
                    items.push((name.clone(), expr));
                }
                for a in annotations.iter() {
                    if values.fields.contains(&a.name) && !a.select {
                        return Err(Error::FieldError(format!(
                            "Cannot select the '{}' alias. Use annotate() to promote it.",
                            a.name
                        )));
                    }
                }
                for name in values.fields.iter() {
                    if let Some(a) = annotations.iter().find(|a| &a.name == name) {
                        if !items.iter().any(|(n, _)| n == name) {
                            items.push((a.name.clone(), a.expr.clone()));
                        }
                    }
                }
                for (i, a) in annotations.iter().enumerate() {
                    if !values.fields.contains(&a.name) && selects_annotation(query, i, a) {
                        items.push((a.name.clone(), a.expr.clone()));
                    }
                }
                return Ok(items);
            }
            Some(_) => {
                for f in self.model.fields() {
                    items.push((f.attname().to_string(), qualified_col(&alias, f.column())));
                }
            }
            None => {
                let loaded = self.loaded_fields(query)?;
                for f in self
                    .model
                    .fields()
                    .iter()
                    .filter(|f| loaded.contains(f.name()))
                {
                    items.push((f.attname().to_string(), qualified_col(&alias, f.column())));
                }
                items.extend(self.select_related_items(query)?);
            }
        }
        for a in annotations.iter().filter(|a| a.select) {
            items.push((a.name.clone(), a.expr.clone()));
        }
        Ok(items)
    }

    /// The names of the annotations the QuerySet's rows include (Django's
    /// `annotation_select`).
    fn selected_annotations(&self, query: &Query) -> BTreeSet<String> {
        self.annotations
            .iter()
            .enumerate()
            .filter(|(i, a)| selects_annotation(query, *i, a))
            .map(|(_, a)| a.name.clone())
            .collect()
    }

    /// Field names `only()`/`defer()` leave loaded; the primary key always is.
    fn loaded_fields(&self, query: &Query) -> Result<BTreeSet<String>> {
        let deferred = &query.deferred;
        let pk = self.model.pk_field()?.name().to_string();
        let mut named = BTreeSet::new();
        for name in &deferred.names {
            let field = if name == "pk" {
                Some(self.model.pk_field()?)
            } else {
                self.model.get_field(name)
            };
            match field {
                Some(f) => named.insert(f.name().to_string()),
                None => {
                    return Err(Error::FieldError(format!(
                        "{} has no field named '{name}'",
                        self.model.name()
                    )))
                }
            };
        }
        Ok(self
            .model
            .fields()
            .iter()
            .map(Field::name)
            .filter(|name| *name == pk || named.contains(*name) != deferred.defer)
            .map(str::to_string)
            .collect())
    }

    /// The ORDER BY keys: explicit `order_by()` items, or `Meta.ordering` when none were given
    /// and the query is not grouped (Django drops `Meta.ordering` from GROUP BY queries);
    /// flipped by `reverse()`.
    fn ordering(&mut self, query: &Query, grouped: bool) -> Result<Vec<SortExpr>> {
        let items: Vec<OrderItem> = match &query.ordering {
            Some(items) => items.clone(),
            None if grouped => vec![],
            None => self
                .model
                .default_ordering()
                .iter()
                .map(|name| OrderItem::Field(name.clone()))
                .collect(),
        };
        let mut keys = Vec::with_capacity(items.len());
        for item in &items {
            match item {
                OrderItem::Field(name) => {
                    let (descending, path) = match name.strip_prefix('-') {
                        Some(rest) => (true, rest),
                        None => (false, name.as_str()),
                    };
                    if path == "?" {
                        if !grouped {
                            keys.push(self.random_key(0)?);
                        }
                        continue;
                    }
                    self.order_keys(path, descending, &mut keys)?;
                }
                OrderItem::Expression(order) => keys.push(order.resolve(self)?),
                // A random order means nothing per group and must not split groups.
                OrderItem::Random(seed) if !grouped => keys.push(self.random_key(*seed)?),
                OrderItem::Random(_) => {}
            }
        }
        if query.reversed {
            keys = keys.iter().map(SortExpr::reversed).collect();
        }
        Ok(keys)
    }

    /// Sort keys for one `order_by("path")`: a relation orders by the related model's
    /// `Meta.ordering` (or its key when it has none), as Django does.
    fn order_keys(&mut self, path: &str, descending: bool, keys: &mut Vec<SortExpr>) -> Result<()> {
        let resolution = self.resolve_name(path)?;
        let sort = |expr: Expr, descending: bool| {
            if descending {
                expr.sort_desc()
            } else {
                expr.sort_asc()
            }
        };
        let Some(target) = resolution.relation_target else {
            keys.push(sort(resolution.field.expr, descending));
            return Ok(());
        };
        if target.default_ordering().is_empty() {
            keys.push(sort(resolution.field.expr, descending));
            return Ok(());
        }
        if self.ordering_stack.iter().any(|p| p == path) {
            return Err(Error::FieldError(
                "Infinite loop caused by ordering.".into(),
            ));
        }
        self.ordering_stack.push(path.to_string());
        for item in target.default_ordering() {
            let (item_descending, name) = match item.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, item.as_str()),
            };
            self.order_keys(
                &format!("{path}__{name}"),
                descending != item_descending,
                keys,
            )?;
        }
        self.ordering_stack.pop();
        Ok(())
    }

    /// `order_by("?")`: a seeded pseudo-random permutation of the primary keys. Integer keys
    /// are scrambled with `(key·a + b) mod p`; other keys fall back to the key order.
    fn random_key(&mut self, seed: u64) -> Result<SortExpr> {
        const PRIME: i64 = 2_147_483_647;
        let pk = self.resolve_name("pk")?.field;
        if !matches!(
            pk.data_type,
            DataType::Int16 | DataType::Int32 | DataType::Int64
        ) {
            return Ok(SortExpr::new(pk.expr, seed.is_multiple_of(2), false));
        }
        let multiplier = (seed % (PRIME as u64 - 1)) as i64 + 1;
        let offset = ((seed >> 32) % PRIME as u64) as i64;
        let key = ((pk.expr.cast_to(DataType::Int64).modulo(lit(PRIME)) * lit(multiplier))
            + lit(offset))
        .modulo(lit(PRIME));
        Ok(key.sort_asc())
    }

    /// Resolves a `values()`/`order_by()` name: a field path, an annotation, or a path with
    /// transforms (`created__year`, handled by the expressions module).
    fn resolve_name(&mut self, name: &str) -> Result<PathResolution> {
        let parts: Vec<&str> = name.split("__").collect();
        let resolution = self.resolve_path(&parts)?;
        if resolution.consumed == parts.len() {
            return Ok(resolution);
        }
        let expr = F(name).resolve(self)?;
        let data_type = expr.data_type(&self.schema)?;
        let nullable = expr.nullable(&self.schema)?;
        Ok(PathResolution {
            field: ResolvedField {
                field_type: FieldType::for_data_type(&data_type),
                is_aggregate: expr.contains_aggregate(),
                expr,
                data_type,
                nullable,
                model: None,
                unresolved: None,
            },
            consumed: parts.len(),
            relation_target: None,
        })
    }

    /// Walks `parts` through fields, forward relations and reverse relations (see
    /// [`Resolver::resolve`]).
    fn resolve_path(&mut self, parts: &[&str]) -> Result<PathResolution> {
        if parts.is_empty() {
            return Err(Error::FieldError("Empty field name.".into()));
        }
        if let Some((_, expr)) = self.exists_marks.iter().find(|(n, _)| n == parts[0]) {
            return Ok(PathResolution {
                field: ResolvedField {
                    expr: expr.clone(),
                    data_type: DataType::Boolean,
                    nullable: false,
                    field_type: Some(FieldType::BooleanField),
                    is_aggregate: false,
                    model: None,
                    unresolved: None,
                },
                consumed: 1,
                relation_target: None,
            });
        }
        if let Some((consumed, a)) = self.annotation_prefix(parts) {
            return Ok(PathResolution {
                field: ResolvedField {
                    expr: a.expr.clone(),
                    data_type: a.data_type.clone(),
                    nullable: a.nullable,
                    field_type: FieldType::for_data_type(&a.data_type),
                    is_aggregate: a.expr.contains_aggregate(),
                    model: None,
                    unresolved: None,
                },
                consumed,
                relation_target: None,
            });
        }
        let mut model = Arc::clone(&self.model);
        let mut alias = self.base_alias().to_string();
        let mut through_join = false;
        let mut i = 0;
        loop {
            let name = parts[i];
            let field = match self.lookup_field(&model, name)? {
                Some(f) => f,
                None => {
                    let Some(relation) = self.registry.query_relation(&model, name)? else {
                        return Err(self.unknown_field(name, &model));
                    };
                    // A reverse or many-to-many relation (`customer.orders`, `book.authors`):
                    // join the related rows (through the link table for many-to-many); the
                    // relation itself stands for their primary key (`Count("orders")`).
                    let multi_valued = relation.is_multi_valued();
                    for step in &relation.steps {
                        alias = self.join(&alias, step, multi_valued)?;
                    }
                    model = Arc::clone(&relation.target);
                    through_join = true;
                    let next = parts.get(i + 1).copied();
                    if next.is_some_and(|n| self.is_step_into(&model, n)) {
                        i += 1;
                        continue;
                    }
                    let pk = model.pk_field()?;
                    return Ok(PathResolution {
                        field: ResolvedField {
                            expr: qualified_col(&alias, pk.column()),
                            data_type: pk.data_type().clone(),
                            nullable: true,
                            field_type: Some(pk.field_type().clone()),
                            is_aggregate: false,
                            model: Some(model.name().to_string()),
                            unresolved: None,
                        },
                        consumed: i + 1,
                        // order_by("books") orders by Book's Meta.ordering, as Django does.
                        relation_target: Some(Arc::clone(&model)),
                    });
                }
            };
            let column = |field: &Field, field_type: FieldType| ResolvedField {
                expr: qualified_col(&alias, field.column()),
                data_type: field.data_type().clone(),
                nullable: field.is_nullable() || through_join,
                field_type: Some(field_type),
                is_aggregate: false,
                model: Some(model.name().to_string()),
                unresolved: None,
            };
            let relation = match field.relation() {
                Some(relation) if name != field.attname() => relation.clone(),
                _ => {
                    let mut resolved = column(&field, field.field_type().clone());
                    resolved.unresolved = parts
                        .get(i + 1)
                        .map(|next| join_not_permitted(next, field.name()));
                    return Ok(PathResolution {
                        field: resolved,
                        consumed: i + 1,
                        relation_target: None,
                    });
                }
            };
            let target = self.related_model(&model, &relation.to)?;
            let key = match &relation.to_field {
                Some(to_field) => target.get_field(to_field).cloned(),
                None => target.pk().cloned(),
            }
            .ok_or_else(|| {
                Error::ImproperlyConfigured(format!(
                    "{}.{} points at a missing key of {}",
                    model.name(),
                    field.name(),
                    target.name()
                ))
            })?;
            let next = parts.get(i + 1).copied();
            let is_key = next.is_some_and(|n| {
                n == key.name() || n == key.attname() || (n == "pk" && relation.to_field.is_none())
            });
            if is_key {
                // `customer__id` / `customer__pk` is the local `customer_id`: no join.
                let key_type = match key.field_type() {
                    t if t.is_auto() => FieldType::for_data_type(key.data_type())
                        .unwrap_or(FieldType::BigIntegerField),
                    t => t.clone(),
                };
                let mut resolved = column(&field, key_type);
                resolved.unresolved = parts
                    .get(i + 2)
                    .map(|next| join_not_permitted(next, key.name()));
                return Ok(PathResolution {
                    field: resolved,
                    consumed: i + 2,
                    relation_target: None,
                });
            }
            if !next.is_some_and(|n| self.is_step_into(&target, n)) {
                // The path ends on the relation; what follows are lookups (`customer__in`),
                // or for an F() path Django's error for a name the related model lacks.
                let mut resolved = column(&field, field.field_type().clone());
                resolved.unresolved = next.map(|next| self.unknown_field(next, &target));
                return Ok(PathResolution {
                    field: resolved,
                    consumed: i + 1,
                    relation_target: Some(target),
                });
            }
            let step = crate::model::JoinStep {
                parent_column: field.column().to_string(),
                model: Arc::clone(&target),
                column: key.column().to_string(),
                nullable: field.is_nullable(),
            };
            alias = self.join(&alias, &step, false)?;
            model = target;
            through_join = true;
            i += 1;
        }
    }

    /// The annotation `name` as the expression being resolved sees it (a later annotation of
    /// the same name replaces an earlier one).
    fn visible_annotation(&self, name: &str) -> Option<&ResolvedAnnotation> {
        self.annotations[..self.visible]
            .iter()
            .rev()
            .find(|a| a.name == name)
    }

    /// The visible annotation a path starts with and how many names its name spans: the
    /// shortest prefix naming one, as Django's `refs_expression` finds it (default aliases
    /// such as `id__max` contain the separator).
    fn annotation_prefix(&self, parts: &[&str]) -> Option<(usize, &ResolvedAnnotation)> {
        (1..=parts.len()).find_map(|n| {
            self.visible_annotation(&parts[..n].join("__"))
                .map(|a| (n, a))
        })
    }

    fn lookup_field(&self, model: &Model, name: &str) -> Result<Option<Field>> {
        if name == "pk" {
            return Ok(Some(model.pk_field()?.clone()));
        }
        Ok(model.get_field(name).cloned())
    }

    fn related_model(&self, model: &Arc<Model>, to: &str) -> Result<Arc<Model>> {
        if to == "self" || to == model.name() {
            return Ok(Arc::clone(model));
        }
        self.registry.get(to)
    }

    /// Whether `name` continues a path into `model` (a field, `pk`, a many-to-many field or
    /// a reverse relation) rather than being a lookup or transform.
    fn is_step_into(&self, model: &Arc<Model>, name: &str) -> bool {
        name == "pk"
            || model.get_field(name).is_some()
            || self
                .registry
                .query_relation(model, name)
                .is_ok_and(|r| r.is_some())
    }

    /// The alias of `JOIN step.model ON parent_alias.parent_column = step.model.column`.
    /// An equal join is reused (the most recent one, as Django does) unless it is
    /// multi-valued and belongs to another `filter()` call; otherwise a new one is made,
    /// named by its table the first time and `T<n>` after. A new join is LEFT OUTER when
    /// the step is nullable or the join it hangs from is LEFT, INNER otherwise (Django's
    /// `Query.join`); a filter may demote it later (`join_promotion.rs`).
    fn join(&mut self, parent_alias: &str, step: &JoinStep, reverse: bool) -> Result<String> {
        let table_name = step.model.table_name();
        let condition = JoinCondition {
            parent_alias: parent_alias.to_string(),
            parent_column: step.parent_column.clone(),
            column: step.column.clone(),
        };
        let reusable = self.relations.iter().rev().find(|r| {
            r.table.name() == table_name
                && r.subquery.is_none()
                && r.join.as_ref() == Some(&condition)
                && (!r.multi_valued
                    || self
                        .filter_call_aliases
                        .as_ref()
                        .is_none_or(|used| used.contains(&r.alias)))
        });
        let alias = match reusable {
            Some(existing) => existing.alias.clone(),
            None => {
                let parent = self.relations.iter().find(|r| r.alias == parent_alias);
                let parent_multi = parent.is_some_and(|r| r.multi_valued);
                let parent_outer =
                    parent.is_some_and(|r| r.join.is_some() && r.join_type != JoinType::Inner);
                let join_type = if step.nullable || parent_outer {
                    JoinType::Left
                } else {
                    JoinType::Inner
                };
                self.new_join(table_name, condition, join_type, reverse || parent_multi)?
            }
        };
        if let Some(used) = &mut self.filter_call_aliases {
            used.insert(alias.clone());
        }
        Ok(alias)
    }

    fn new_join(
        &mut self,
        table_name: String,
        condition: JoinCondition,
        join_type: JoinType,
        multi_valued: bool,
    ) -> Result<String> {
        let alias = if let Some(prefix) = subquery_alias_prefix(self.depth) {
            format!("{prefix}{}", self.relations.len())
        } else if self.relations.iter().any(|r| r.alias == table_name) {
            format!("T{}", self.relations.len() + 1)
        } else {
            table_name.clone()
        };
        let table = self.catalog.table(&table_name)?;
        let snapshot = match self.relations.iter().find(|r| r.table.name() == table_name) {
            Some(r) => Arc::clone(&r.snapshot),
            None => table.snapshot(),
        };
        let right = PlanSchema::from_arrow(Some(&alias), &table.schema()).with_all_nullable();
        self.schema = self.schema.join(&right);
        self.relations.push(Relation {
            alias: alias.clone(),
            table,
            snapshot,
            subquery: None,
            join: Some(condition),
            join_type,
            multi_valued,
        });
        Ok(alias)
    }

    /// Django's FieldError for an unknown name, listing the model's field names and
    /// attnames, its reverse relations and the selected annotations, sorted.
    fn unknown_field(&self, name: &str, model: &Model) -> Error {
        let mut choices: BTreeSet<String> = BTreeSet::new();
        for f in model.fields() {
            choices.insert(f.name().to_string());
            choices.insert(f.attname().to_string());
        }
        for r in self.registry.reverse_relations(model.name()) {
            choices.insert(r.query_name);
        }
        for f in model.many_to_many() {
            choices.insert(f.name().to_string());
        }
        for r in self.registry.reverse_many_to_many(model.name()) {
            choices.insert(r.query_name);
        }
        for a in self.annotations[..self.visible].iter().filter(|a| a.select) {
            choices.insert(a.name.clone());
        }
        Error::FieldError(format!(
            "Cannot resolve keyword '{name}' into field. Choices are: {}",
            choices.into_iter().collect::<Vec<_>>().join(", ")
        ))
    }
}

impl Resolver for Compiler<'_> {
    fn resolve(&mut self, parts: &[&str]) -> Result<(ResolvedField, usize)> {
        let resolution = self.resolve_path(parts)?;
        Ok((resolution.field, resolution.consumed))
    }

    fn model_name(&self) -> &str {
        self.model.name()
    }

    fn resolve_subquery(&mut self, qs: &QuerySet) -> Result<Arc<LogicalPlan>> {
        let depth = self.depth + 1;
        compile_subquery(qs, self, depth)
    }

    fn resolve_outer_ref(&mut self, name: &str, depth: usize) -> Result<ResolvedField> {
        match self.outer.as_deref_mut() {
            Some(outer) => outer.resolve_for_subquery(name, depth),
            None => Err(crate::expressions::outer_ref_error()),
        }
    }

    fn resolve_cte_column(&mut self, cte: &str, column: &str) -> Result<ResolvedField> {
        let found = self
            .schema
            .fields()
            .iter()
            .find(|f| f.relation.as_deref() == Some(cte) && f.name() == column);
        match found {
            Some(field) => Ok(ResolvedField {
                expr: Expr::Column(field.column()),
                data_type: field.field.data_type().clone(),
                nullable: field.field.is_nullable(),
                field_type: crate::model::FieldType::for_data_type(field.field.data_type()),
                is_aggregate: false,
                model: None,
                unresolved: None,
            }),
            None => match self.outer.as_deref_mut() {
                // A CTE joined by an enclosing query, read from a subquery.
                Some(outer) => {
                    let field = outer.resolve_cte_column(cte, column)?;
                    let schema =
                        PlanSchema::new(vec![quiver_engine::logical_plan::QualifiedField::new(
                            Some(cte.to_string()),
                            arrow::datatypes::Field::new(
                                column,
                                field.data_type.clone(),
                                field.nullable,
                            ),
                        )]);
                    crate::expressions::as_outer_reference(field, &schema)
                }
                None => Err(Error::FieldError(format!(
                    "Cannot resolve {cte}.{column}: the CTE {cte} is not joined to this query."
                ))),
            },
        }
    }

    fn resolve_for_subquery(&mut self, name: &str, depth: usize) -> Result<ResolvedField> {
        if depth > 1 {
            return self.resolve_outer_ref(name, depth - 1);
        }
        let field = self.resolve_name(name)?.field;
        crate::expressions::as_outer_reference(field, &self.schema)
    }
}

/// Compiles `qs` as a subquery nested `depth` levels deep under `outer`, whose names its
/// `OuterRef`s read. Its tables are aliased `U0, U1, …` (`V0…` one level deeper), as
/// Django's subqueries are, so no name is shared with an enclosing query. An unsliced
/// subquery's ordering means nothing and is dropped.
pub(crate) fn compile_subquery(
    qs: &QuerySet,
    outer: &mut dyn Resolver,
    depth: usize,
) -> Result<Arc<LogicalPlan>> {
    // A union or a CTE's queryset reads its own rows (an OuterRef inside one is refused by
    // its resolver, which knows no outer query).
    if let Some(derived) = &qs.query.derived {
        let source = super::set_operations::derived_source(qs, derived)?;
        return Ok(super::set_operations::compile_derived(qs, source)?.plan);
    }
    let qs = if qs.query.is_sliced() {
        qs.clone()
    } else {
        qs.clear_ordering()
    };
    let Compiler {
        registry,
        catalog,
        model,
        mut relations,
        ..
    } = Compiler::for_queryset(&qs.without_cte_joins())?;
    let prefix = subquery_alias_prefix(depth).unwrap_or('U');
    let base = format!("{prefix}0");
    let schema = PlanSchema::from_arrow(Some(&base), &relations[0].table.schema());
    relations[0].alias = base;
    let mut compiler = Compiler {
        registry,
        catalog,
        model,
        relations,
        exists_marks: vec![],
        values_exprs: vec![],
        values_joined: false,
        schema,
        annotations: vec![],
        visible: 0,
        ordering_stack: vec![],
        filter_call_aliases: None,
        outer: Some(outer),
        depth,
        cte_joins: vec![],
    };
    compiler.add_cte_joins(&qs.query)?;
    let select = compiler.select_query(&qs.query)?;
    let empty = qs.query.empty || select.where_.iter().any(is_false);
    let plan = assemble(compiler.plan_from()?, select)?;
    if empty {
        return Ok(Arc::new(LogicalPlan::Values(Values::empty(
            plan.schema()
                .fields()
                .iter()
                .map(|f| f.field.as_ref().clone())
                .collect(),
        ))));
    }
    Ok(plan)
}

/// The letter of subquery table aliases at `depth` (`U` for a subquery of the main query).
fn subquery_alias_prefix(depth: usize) -> Option<char> {
    match depth {
        0 => None,
        d => Some(char::from(b'U' + ((d - 1) % 6) as u8)),
    }
}

/// Django's error for a path that goes on after a field that is not a relation
/// (`amount__x`, `customer__pk__x`: the key is named as a field, `id`).
fn join_not_permitted(next: &str, field_name: &str) -> Error {
    Error::FieldError(format!(
        "Cannot resolve keyword '{next}' into field. Join on '{field_name}' not permitted."
    ))
}

/// Whether a QuerySet's rows include annotation `index`: `annotate()` ones, except that
/// after `values("a", …)` only those named there or added after it.
fn selects_annotation(query: &Query, index: usize, annotation: &ResolvedAnnotation) -> bool {
    match &query.values {
        Some(values) if !values.fields.is_empty() => {
            annotation.select
                && (values.fields.contains(&annotation.name) || index >= values.annotation_mark)
        }
        _ => annotation.select,
    }
}

/// Resolves the arguments of `aggregate()` against the QuerySet's query, as Django's
/// `resolve_expression(summarize=True)` does: field paths as anywhere else (adding joins),
/// annotations only when the QuerySet selects them ("Cannot aggregate over the 'x' alias").
/// When the aggregate runs over the QuerySet as a subquery, each column read is hoisted into
/// the subquery's select list as `__col<n>` and an annotation is read from the subquery's
/// column of its name.
struct Summarizer<'a> {
    compiler: &'a mut Compiler<'static>,
    /// The annotations the QuerySet's rows include.
    selected: BTreeSet<String>,
    /// `Some` when aggregating over a subquery: the hidden columns it must select.
    hoisted: Option<Vec<(String, Expr)>>,
}

impl Resolver for Summarizer<'_> {
    fn resolve(&mut self, parts: &[&str]) -> Result<(ResolvedField, usize)> {
        let annotation = self
            .compiler
            .annotation_prefix(parts)
            .map(|(_, a)| a.name.clone());
        let (mut field, consumed) = self.compiler.resolve(parts)?;
        if let Some(name) = annotation {
            if !self.selected.contains(&name) {
                return Err(Error::FieldError(format!(
                    "Cannot aggregate over the '{name}' alias. Use annotate() to promote it."
                )));
            }
            if self.hoisted.is_some() {
                // Django's `Ref`: the inner query computes the annotation (an aggregate
                // annotation per group), the outer query only reads it.
                field.expr = qualified_col(SUBQUERY_ALIAS, &name);
                field.is_aggregate = false;
            }
            return Ok((field, consumed));
        }
        if let Some(hoisted) = &mut self.hoisted {
            let name = match hoisted.iter().find(|(_, e)| e == &field.expr) {
                Some((name, _)) => name.clone(),
                None => {
                    let name = format!("__col{}", hoisted.len() + 1);
                    hoisted.push((name.clone(), field.expr.clone()));
                    name
                }
            };
            field.expr = qualified_col(SUBQUERY_ALIAS, &name);
        }
        Ok((field, consumed))
    }

    fn model_name(&self) -> &str {
        self.compiler.model_name()
    }

    fn resolve_subquery(&mut self, qs: &QuerySet) -> Result<Arc<LogicalPlan>> {
        self.compiler.resolve_subquery(qs)
    }

    fn resolve_cte_column(&mut self, cte: &str, column: &str) -> Result<ResolvedField> {
        self.compiler.resolve_cte_column(cte, column)
    }
}

/// `COUNT(*)`.
pub(crate) fn count_star() -> Expr {
    Expr::Aggregate(AggregateExpr::new(AggregateFunction::Count, vec![]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expressions::{Count, Expression, Sum, F};
    use crate::q;
    use crate::queryset::fixtures::shop_schema;

    fn plan(qs: &QuerySet) -> String {
        compile(qs).unwrap().plan.to_string()
    }

    fn error(qs: &QuerySet) -> Error {
        compile(qs).unwrap_err()
    }

    /// An indented plan written inside the test source: the first line is the root, the
    /// least-indented following lines are its children.
    fn lines(text: &str) -> String {
        let mut all = text.lines();
        let first = all.next().unwrap_or_default().trim();
        let rest: Vec<&str> = all.collect();
        let indent = |l: &str| l.len() - l.trim_start().len();
        let base = rest.iter().map(|l| indent(l)).min().unwrap_or(0);
        let mut out = first.to_string();
        for l in rest {
            out.push('\n');
            out.push_str(&" ".repeat(indent(l) - base + 2));
            out.push_str(l.trim());
        }
        out
    }

    #[test]
    fn unknown_fields_list_djangos_choices() {
        let db = shop_schema();
        let err = error(&db.objects("Order").filter(q!(nme = 1)));
        assert_eq!(err.django_name(), "FieldError");
        assert_eq!(
            err.to_string(),
            "Cannot resolve keyword 'nme' into field. Choices are: amount, customer, \
             customer_id, id, referrer, referrer_id, status"
        );
        // Reverse relations and selected annotations are choices too; alias() ones are not.
        let qs = db
            .objects("Customer")
            .annotate([("n", F("id"))])
            .alias([("hidden", F("id"))])
            .order_by(["nme"]);
        assert_eq!(
            error(&qs).to_string(),
            "Cannot resolve keyword 'nme' into field. Choices are: country, country_id, id, n, \
             name, orders, referred_orders, region"
        );
        // A bad name after a relation lists the related model's choices.
        let err = error(&db.objects("Order").values(["customer__country__nme"]));
        assert_eq!(
            err.to_string(),
            "Cannot resolve keyword 'nme' into field. Choices are: customer, id, name"
        );
    }

    #[test]
    fn unknown_names_after_a_field_are_worded_as_django_words_them() {
        // Each message is Django 5.1.4's for the same QuerySet (django_runner.py --db
        // sqlite); Django's test models have AutoField keys where Quiver's default is
        // BigAutoField.
        let db = shop_schema();
        let orders = db.objects("Order");
        let customers = db.objects("Customer");
        let customer_choices = "Choices are: country, country_id, id, name, orders, \
                                referred_orders, region";
        let annotated = |qs: &QuerySet, expression: Expression| {
            error(&qs.annotate([("x", expression)])).to_string()
        };
        // F(): after a forward relation, the related model's choices (Django's
        // names_to_path) …
        assert_eq!(
            annotated(&orders, F("customer__nme")),
            format!("Cannot resolve keyword 'nme' into field. {customer_choices}")
        );
        assert_eq!(
            annotated(&orders, F("customer__nme__foo")),
            format!("Cannot resolve keyword 'nme' into field. {customer_choices}")
        );
        assert_eq!(
            annotated(&orders, F("customer__exact")),
            format!("Cannot resolve keyword 'exact' into field. {customer_choices}")
        );
        assert_eq!(
            annotated(&orders, F("customer__country__nme")),
            "Cannot resolve keyword 'nme' into field. Choices are: customer, id, name"
        );
        // … with the selected annotations among them …
        assert_eq!(
            annotated(&orders.annotate([("y", F("id"))]), F("customer__nme")),
            "Cannot resolve keyword 'nme' into field. Choices are: country, country_id, id, \
             name, orders, referred_orders, region, y"
        );
        let compared = orders.filter(q!(amount__gt = F("customer__nme")));
        assert_eq!(
            error(&compared).to_string(),
            format!("Cannot resolve keyword 'nme' into field. {customer_choices}")
        );
        // … after any other model field, no join …
        let join = |next: &str, field: &str| {
            format!("Cannot resolve keyword '{next}' into field. Join on '{field}' not permitted.")
        };
        assert_eq!(annotated(&orders, F("amount__nme")), join("nme", "amount"));
        assert_eq!(
            annotated(&orders, F("customer__name__nme")),
            join("nme", "name")
        );
        assert_eq!(
            annotated(&orders, F("customer__pk__nme")),
            join("nme", "id")
        );
        assert_eq!(annotated(&orders, F("pk__nme")), join("nme", "id"));
        // … and after an annotation or a reverse relation, the unsupported transform.
        let unsupported = |name: &str, class: &str| {
            format!("Unsupported lookup '{name}' for {class} or join on the field not permitted.")
        };
        let doubled = orders.annotate([("d", F("amount") * 2)]);
        assert_eq!(
            annotated(&doubled, F("d__nme")),
            unsupported("nme", "IntegerField")
        );
        assert_eq!(
            annotated(&customers, F("orders__nme")),
            unsupported("nme", "BigAutoField")
        );
        // values() and order_by() names are F() paths.
        let values = |qs: &QuerySet, name: &str| error(&qs.values([name])).to_string();
        assert_eq!(values(&orders, "amount__nme"), join("nme", "amount"));
        assert_eq!(values(&orders, "customer__id__nme"), join("nme", "id"));
        assert_eq!(
            values(&customers, "orders__nme"),
            unsupported("nme", "BigAutoField")
        );
        let ordered = |qs: &QuerySet, name: &str| error(&qs.order_by([name])).to_string();
        assert_eq!(ordered(&orders, "amount__nme"), join("nme", "amount"));
        assert_eq!(
            ordered(&orders, "customer__nme"),
            format!("Cannot resolve keyword 'nme' into field. {customer_choices}")
        );
        // filter(): the name after the field is a lookup, so an unknown one is an
        // unsupported lookup of that field — a ForeignKey too.
        let filtered = |q: Q| error(&orders.filter(q)).to_string();
        assert_eq!(
            filtered(q!(customer__nme = "x")),
            unsupported("nme", "ForeignKey")
        );
        assert_eq!(
            filtered(q!(customer__nme__exact = "x")),
            unsupported("nme", "ForeignKey")
        );
        assert_eq!(
            filtered(q!(customer__country__nme = "x")),
            unsupported("nme", "ForeignKey")
        );
        assert_eq!(
            filtered(q!(customer__name__nme = "x")),
            unsupported("nme", "CharField")
        );
        assert_eq!(
            filtered(q!(amount__nme = 1)),
            unsupported("nme", "IntegerField")
        );
        assert_eq!(
            filtered(q!(customer__gtee = 1)),
            "Unsupported lookup 'gtee' for ForeignKey or join on the field not permitted, \
             perhaps you meant gte or gt?"
        );
        // aggregate(): resolved like F(), directly or over a grouped subquery.
        let aggregated = |qs: &QuerySet| {
            let items = vec![(
                "s".to_string(),
                AggregateItem::Expression(Sum("customer__nme")),
            )];
            compile_aggregate(qs, items).unwrap_err().to_string()
        };
        assert_eq!(
            aggregated(&orders),
            format!("Cannot resolve keyword 'nme' into field. {customer_choices}")
        );
        let grouped = orders.values(["status"]).annotate([("n", Count("id"))]);
        assert_eq!(
            aggregated(&grouped),
            "Cannot resolve keyword 'nme' into field. Choices are: country, country_id, id, n, \
             name, orders, referred_orders, region"
        );
    }

    #[test]
    fn model_rows_select_attnames_and_follow_meta_ordering() {
        let db = shop_schema();
        assert_eq!(
            plan(&db.objects("Customer")),
            lines(
                "Sort: name ASC NULLS LAST
                   Projection: customer.id, customer.name, customer.region, customer.country_id
                     Scan: customer"
            )
        );
        assert_eq!(
            plan(&db.objects("Customer").reverse()),
            lines(
                "Sort: name DESC NULLS FIRST
                   Projection: customer.id, customer.name, customer.region, customer.country_id
                     Scan: customer"
            )
        );
        // order_by() with no fields drops Meta.ordering too.
        assert!(!plan(&db.objects("Customer").clear_ordering()).contains("Sort"));
    }

    #[test]
    fn values_before_annotate_groups_by_the_values() {
        let db = shop_schema();
        let qs = db
            .objects("Customer")
            .values(["region"])
            .annotate([("n", Count("id"))]);
        assert_eq!(
            plan(&qs),
            lines(
                "Projection: customer.region, __agg0 AS n
                   Aggregate: groupBy=[customer.region], aggr=[count(customer.id) AS __agg0]
                     Scan: customer"
            )
        );
    }

    #[test]
    fn annotate_on_model_rows_groups_by_the_model_and_values_after_does_not_regroup() {
        let db = shop_schema();
        let grouped = "Aggregate: groupBy=[customer.id, customer.name, customer.region, \
                       customer.country_id], aggr=[count(customer.id) AS __agg0]";
        let qs = db.objects("Customer").annotate([("n", Count("id"))]);
        assert_eq!(
            plan(&qs),
            format!(
                "Projection: customer.id, customer.name, customer.region, customer.country_id, \
                 __agg0 AS n\n  {grouped}\n    Scan: customer"
            )
        );
        let after = qs.values(["region", "n"]);
        assert_eq!(
            plan(&after),
            format!("Projection: customer.region, __agg0 AS n\n  {grouped}\n    Scan: customer")
        );
    }

    #[test]
    fn explicit_order_by_joins_the_group_by_but_meta_ordering_does_not() {
        let db = shop_schema();
        let base = db
            .objects("Customer")
            .values(["region"])
            .annotate([("n", Count("id"))]);
        assert_eq!(
            plan(&base.order_by(["name"])),
            lines(
                "Projection: region, n
                   Sort: __order0 ASC NULLS LAST
                     Projection: customer.region, __agg0 AS n, customer.name AS __order0
                       Aggregate: groupBy=[customer.region, customer.name], aggr=[count(customer.id) AS __agg0]
                         Scan: customer"
            )
        );
        // Ordering by a selected aggregate adds nothing to the grouping.
        assert_eq!(
            plan(&base.order_by(["-n"])),
            lines(
                "Sort: n DESC NULLS FIRST
                   Projection: customer.region, __agg0 AS n
                     Aggregate: groupBy=[customer.region], aggr=[count(customer.id) AS __agg0]
                       Scan: customer"
            )
        );
    }

    #[test]
    fn filters_on_aggregates_are_having() {
        let db = shop_schema();
        let qs = db
            .objects("Order")
            .values(["customer"])
            .annotate([("total", Sum("amount"))])
            .filter(q!(total__gt = 100, customer__gt = 1));
        assert_eq!(
            plan(&qs),
            lines(
                "Projection: order.customer_id AS customer, __agg0 AS total
                   Filter: (__agg0 > 100)
                     Aggregate: groupBy=[order.customer_id], aggr=[sum(order.amount) AS __agg0]
                       Filter: (order.customer_id > 1)
                         Scan: order"
            )
        );
    }

    #[test]
    fn forward_relations_join_once_per_path_and_fk_ids_need_no_join() {
        let db = shop_schema();
        let orders = db.objects("Order");
        assert_eq!(
            plan(&orders.filter(q!(customer__name = "Ann")).filter(q!(customer__region = "EU"))),
            lines(
                "Projection: order.id, order.customer_id, order.referrer_id, order.amount, order.status
                   Filter: (customer.name = 'Ann') AND (customer.region = 'EU')
                     Join: Inner, on=[order.customer_id = customer.id]
                       Scan: order
                       Scan: customer"
            )
            .replace(
                "(customer.name = 'Ann') AND (customer.region = 'EU')",
                "((customer.name = 'Ann') AND (customer.region = 'EU'))"
            )
        );
        assert_eq!(
            plan(&orders.filter(q!(customer = 1)).filter(q!(customer__id = 2, customer__pk = 3))),
            lines(
                "Projection: order.id, order.customer_id, order.referrer_id, order.amount, order.status
                   Filter: (((order.customer_id = 1) AND (order.customer_id = 2)) AND (order.customer_id = 3))
                     Scan: order"
            )
        );
        // The first join to a table takes its name; a second one Django's next alias
        // (T + number of aliases so far + 1).
        let qs = orders
            .filter(q!(referrer__name = "Bob"))
            .values(["customer__country__name"]);
        assert_eq!(
            plan(&qs),
            lines(
                "Projection: country.name AS customer__country__name
                   Filter: (customer.name = 'Bob')
                     Join: Left, on=[T3.country_id = country.id]
                       Join: Inner, on=[order.customer_id = T3.id]
                         Join: Inner, on=[order.referrer_id = customer.id]
                           Scan: order
                           Scan: customer
                         Scan: customer AS T3
                       Scan: country"
            )
        );
    }

    #[test]
    fn reverse_relations_join_per_filter_call_and_annotations_reuse_joins() {
        // Each expectation is the join structure of Django 5.1's SQL for the same QuerySet.
        let db = shop_schema();
        let customers = db.objects("Customer").clear_ordering();
        let counted = customers.annotate([("n", Count("orders"))]);
        assert_eq!(
            plan(&counted),
            lines(
                "Projection: customer.id, customer.name, customer.region, customer.country_id, __agg0 AS n
                   Aggregate: groupBy=[customer.id, customer.name, customer.region, customer.country_id], aggr=[count(order.id) AS __agg0]
                     Join: Left, on=[customer.id = order.customer_id]
                       Scan: customer
                       Scan: order"
            )
        );
        // Conditions in one filter() call hold for the same order.
        let same_call = customers.filter(q!(orders__amount__gt = 100, orders__status = "paid"));
        assert_eq!(
            plan(&same_call),
            lines(
                "Projection: customer.id, customer.name, customer.region, customer.country_id
                   Filter: (order.amount > 100) AND (order.status = 'paid')
                     Join: Inner, on=[customer.id = order.customer_id]
                       Scan: customer
                       Scan: order"
            )
            .replace(
                "Filter: (order.amount > 100) AND (order.status = 'paid')",
                "Filter: ((order.amount > 100) AND (order.status = 'paid'))"
            )
        );
        // Chained filter() calls may match different orders: one join each.
        let chained = customers
            .filter(q!(orders__amount__gt = 100))
            .filter(q!(orders__status = "paid"));
        assert_eq!(
            plan(&chained),
            lines(
                "Projection: customer.id, customer.name, customer.region, customer.country_id
                   Filter: ((order.amount > 100) AND (T3.status = 'paid'))
                     Join: Inner, on=[customer.id = T3.customer_id]
                       Join: Inner, on=[customer.id = order.customer_id]
                         Scan: customer
                         Scan: order
                       Scan: order AS T3"
            )
        );
        // filter() then annotate(): the count sees only the filtered orders (one join) …
        let filtered_first = customers
            .filter(q!(orders__amount__gt = 100))
            .annotate([("n", Count("orders"))]);
        let text = plan(&filtered_first);
        assert_eq!(text.matches("Join:").count(), 1, "{text}");
        assert!(text.contains("aggr=[count(order.id) AS __agg0]"), "{text}");
        // … annotate() then filter(): a second join filters the customers.
        let annotated_first = customers
            .annotate([("n", Count("orders"))])
            .filter(q!(orders__amount__gt = 100));
        let text = plan(&annotated_first);
        assert_eq!(text.matches("Join:").count(), 2, "{text}");
        assert!(text.contains("aggr=[count(order.id) AS __agg0]"), "{text}");
        assert!(text.contains("Filter: (T3.amount > 100)"), "{text}");
        // Forward relations continue from the related rows.
        let deep = customers.values(["name", "orders__referrer__name"]);
        assert_eq!(
            plan(&deep),
            lines(
                "Projection: customer.name, T3.name AS orders__referrer__name
                   Join: Left, on=[order.referrer_id = T3.id]
                     Join: Left, on=[customer.id = order.customer_id]
                       Scan: customer
                       Scan: order
                     Scan: customer AS T3"
            )
        );
        let childless = customers.filter(q!(orders__isnull = true));
        assert!(plan(&childless).contains("Filter: order.id IS NULL"));
    }

    #[test]
    fn negations_across_multi_valued_relations_test_a_subquery_per_condition() {
        let db = shop_schema();
        let qs = db
            .objects("Customer")
            .clear_ordering()
            .exclude(q!(orders__status = "paid"));
        assert_eq!(
            plan(&qs),
            lines(
                "Projection: customer.id, customer.name, customer.region, customer.country_id
                   Join: LeftAnti, on=[customer.id = U2.__pk]
                     Scan: customer
                     SubqueryAlias: U2
                       Distinct
                         Projection: customer.id AS __pk
                           Filter: (order.status = 'paid')
                             Join: Inner, on=[customer.id = order.customer_id]
                               Scan: customer
                               Scan: order"
            )
        );
        // Inside an OR the negated mark stays a condition over a LEFT join.
        let either = db
            .objects("Customer")
            .exclude(q!(orders__status = "paid") | q!(name = "Ann"));
        let text = plan(&either);
        assert!(
            text.contains("Join: Left, on=[customer.id = U2.__pk]"),
            "{text}"
        );
        assert!(text.contains("NOT (U2.__pk IS NOT NULL OR"), "{text}");
        // Two conditions, two subqueries: they may match different orders.
        let two = db
            .objects("Customer")
            .exclude(q!(orders__status = "paid", orders__amount__gt = 100));
        assert_eq!(plan(&two).matches("SubqueryAlias").count(), 2);
        // A negation on the customer's own fields next to a reverse join needs none.
        let qs = db
            .objects("Customer")
            .filter(q!(orders__status = "paid"))
            .exclude(q!(name = "Ann"));
        assert!(!plan(&qs).contains("SubqueryAlias"));
    }

    #[test]
    fn ordering_by_a_relation_uses_the_related_models_ordering() {
        let db = shop_schema();
        assert_eq!(
            plan(&db.objects("Order").order_by(["-customer", "customer_id"])),
            lines(
                "Projection: id, customer_id, referrer_id, amount, status
                   Sort: __order0 DESC NULLS FIRST, customer_id ASC NULLS LAST
                     Projection: order.id, order.customer_id, order.referrer_id, order.amount, order.status, customer.name AS __order0
                       Join: Inner, on=[order.customer_id = customer.id]
                         Scan: order
                         Scan: customer"
            )
        );
        // Country has no Meta.ordering: its key orders, without a join.
        let qs = db.objects("Customer").order_by(["country"]);
        assert!(plan(&qs).contains("Sort: country_id ASC NULLS LAST"));
        assert!(!plan(&qs).contains("Join"));
    }

    #[test]
    fn ordering_by_a_reverse_relation_uses_its_models_ordering() {
        // Customer has Meta.ordering = name: order_by("-referrer") on Order follows it, and
        // so does order_by("orders__customer") after a reverse step.
        let db = shop_schema();
        let text = plan(&db.objects("Country").order_by(["customer"]));
        assert!(text.contains("Sort: __order0 ASC NULLS LAST"), "{text}");
        assert!(text.contains("customer.name AS __order0"), "{text}");
        // Order has no Meta.ordering: its key orders.
        let text = plan(&db.objects("Customer").order_by(["-orders"]));
        assert!(text.contains("order.id AS __order0"), "{text}");
    }

    #[test]
    fn distinct_compares_order_by_columns_too() {
        let db = shop_schema();
        let qs = db
            .objects("Customer")
            .distinct()
            .order_by(["region"])
            .values(["name"])
            .slice(1..3);
        assert_eq!(
            plan(&qs),
            lines(
                "Projection: name
                   Limit: skip=1, fetch=2
                     Sort: __order0 ASC NULLS LAST
                       Distinct
                         Projection: customer.name, customer.region AS __order0
                           Scan: customer"
            )
        );
    }

    #[test]
    fn aggregate_over_a_slice_is_a_subquery() {
        let db = shop_schema();
        let sliced = db.objects("Order").order_by(["-amount"]).slice(..2);
        let items = || {
            vec![(
                "amount__sum".to_string(),
                AggregateItem::Expression(Sum("amount")),
            )]
        };
        let compiled = compile_aggregate(&sliced, items()).unwrap();
        assert_eq!(
            compiled.plan.to_string(),
            lines(
                "Projection: __agg0 AS amount__sum
                   Aggregate: groupBy=[], aggr=[sum(subquery.__col1) AS __agg0]
                     SubqueryAlias: subquery
                       Limit: skip=0, fetch=2
                         Sort: amount DESC NULLS FIRST
                           Projection: order.id, order.customer_id, order.referrer_id, order.amount, order.status, order.amount AS __col1
                             Scan: order"
            )
        );
        // Django's get_aggregation: a relation is joined inside the subquery and its column
        // hoisted (once for both aggregates); an annotation is read from the subquery.
        let grouped = db
            .objects("Order")
            .values(["status"])
            .annotate([("n", Count("id"))]);
        let summaries = vec![
            (
                "n__avg".to_string(),
                AggregateItem::Expression(crate::expressions::Avg("n")),
            ),
            (
                "countries".to_string(),
                AggregateItem::Expression(Count("customer__country").distinct()),
            ),
            (
                "x".to_string(),
                AggregateItem::Expression(Sum(F("customer__country") + F("n"))),
            ),
        ];
        assert_eq!(
            compile_aggregate(&grouped, summaries).unwrap().plan.to_string(),
            lines(
                "Projection: __agg0 AS n__avg, __agg1 AS countries, __agg2 AS x
                   Aggregate: groupBy=[], aggr=[avg(subquery.n) AS __agg0, count(DISTINCT subquery.__col1) AS __agg1, sum((subquery.__col1 + subquery.n)) AS __agg2]
                     SubqueryAlias: subquery
                       Projection: order.status, __agg0 AS n, customer.country_id AS __col1
                         Aggregate: groupBy=[order.status, customer.country_id], aggr=[count(order.id) AS __agg0]
                           Join: Inner, on=[order.customer_id = customer.id]
                             Scan: order
                             Scan: customer"
            )
        );
        // Unsliced and ungrouped: aggregated directly, ordering dropped.
        let direct =
            compile_aggregate(&db.objects("Order").order_by(["-amount"]), items()).unwrap();
        assert_eq!(
            direct.plan.to_string(),
            lines(
                "Projection: __agg0 AS amount__sum
                   Aggregate: groupBy=[], aggr=[sum(order.amount) AS __agg0]
                     Scan: order"
            )
        );
    }

    #[test]
    fn annotations_see_earlier_annotations_and_filters_see_earlier_ones_only() {
        let db = shop_schema();
        let qs = db
            .objects("Order")
            .annotate([("double", F("amount") * 2)])
            .annotate([("quad", F("double") * 2)])
            .filter(q!(quad__gt = 10))
            .values(["quad"]);
        assert_eq!(
            plan(&qs),
            lines(
                "Projection: ((order.amount * 2) * 2) AS quad
                   Filter: (((order.amount * 2) * 2) > 10)
                     Scan: order"
            )
        );
        let early = db
            .objects("Order")
            .filter(q!(double__gt = 1))
            .annotate([("double", F("amount") * 2)]);
        assert!(error(&early)
            .to_string()
            .starts_with("Cannot resolve keyword 'double'"));
        let hidden = db
            .objects("Order")
            .alias([("double", F("amount") * 2)])
            .values(["double"]);
        assert_eq!(
            error(&hidden).to_string(),
            "Cannot select the 'double' alias. Use annotate() to promote it."
        );
        let clash = db.objects("Order").annotate([("amount", F("id"))]);
        assert_eq!(
            error(&clash).to_string(),
            "The annotation 'amount' conflicts with a field on the model."
        );
    }

    #[test]
    fn deferred_fields_are_not_selected_but_the_pk_always_is() {
        let db = shop_schema();
        let only = db.objects("Order").only(["amount"]).clear_ordering();
        assert_eq!(
            plan(&only),
            "Projection: order.id, order.amount\n  Scan: order"
        );
        let defer = db.objects("Order").defer(["status", "id", "referrer"]);
        assert_eq!(
            plan(&defer),
            "Projection: order.id, order.customer_id, order.amount\n  Scan: order"
        );
        let bad = db.objects("Order").only(["nope"]);
        assert_eq!(error(&bad).to_string(), "Order has no field named 'nope'");
    }

    #[test]
    fn random_order_is_a_seeded_permutation_of_the_key() {
        let db = shop_schema();
        let text = plan(&db.objects("Order").order_by(["?"]));
        assert!(text.contains("% 2147483647) AS __order0"), "{text}");
        // In a grouped query it would split groups, so it is left out.
        let grouped = db
            .objects("Order")
            .values(["status"])
            .annotate([("n", Count("id"))])
            .order_by(["?"]);
        assert!(!plan(&grouped).contains("Sort"));
    }
}
