//! Folding a logical plan into as few SELECT statements as SQL's clause order allows.
//!
//! A [`Select`] is built bottom-up. It remembers, for each output column of the plan node it
//! stands for, the expression that computes it over the relations of its FROM clause, so a
//! node above substitutes those expressions for its column references (a HAVING on
//! `n > 1` becomes `count(*) > 1`, as PostgreSQL requires). A node merges into the current
//! SELECT when its clause comes later in SQL's evaluation order (FROM, WHERE, GROUP BY,
//! HAVING, SELECT, DISTINCT, ORDER BY, LIMIT) or commutes with the ones already there;
//! otherwise the SELECT so far becomes a derived table `(SELECT …) AS "subquery"` and a new
//! one starts over it. The usual shape of a QuerySet (scan, joins, filter, aggregate,
//! having, projection, distinct, order, limit) therefore stays one flat statement.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::datatypes::DataType;

use super::expr::{expr_to_sql, key_to_sql, quote_identifier, type_to_sql};
use crate::error::{EngineError, Result};
use crate::expr::{
    exists, outer_col, Cast, Column, Expr, ScalarFunction, ScalarFunctionExpr, SortExpr,
    Transformed,
};
use crate::logical_plan::{
    Filter, Join, JoinType, LogicalPlan, PlanSchema, PlanSchemaRef, Scan, Sort, Values,
};
use crate::optimizer::merge_limits;

/// One SELECT statement under construction.
#[derive(Debug, Clone)]
pub(crate) struct Select {
    /// The schema of the plan node this SELECT computes.
    schema: PlanSchemaRef,
    /// For each field of `schema`, its expression over the FROM clause's relations.
    outputs: Vec<Expr>,
    from: Option<String>,
    /// Relation names the FROM clause brings into scope.
    relations: BTreeSet<String>,
    selection: Vec<String>,
    /// Whether `selection` holds an EXISTS test (DataFusion takes none in an ON condition).
    selection_has_exists: bool,
    /// `Some` once aggregated (an empty list: aggregated without GROUP BY).
    group_by: Option<Vec<String>>,
    having: Vec<String>,
    distinct: bool,
    /// ORDER BY keys: expression text and `ASC NULLS LAST`-style direction.
    order_by: Vec<(String, String)>,
    limit: Option<usize>,
    offset: usize,
    /// Whether `outputs` hold window function calls: such a SELECT takes no further WHERE,
    /// GROUP BY or window (they would run before its windows), only a derived table does.
    windowed: bool,
}

impl Select {
    fn new(schema: PlanSchemaRef, outputs: Vec<Expr>, from: Option<String>) -> Select {
        Select {
            schema,
            outputs,
            from,
            relations: BTreeSet::new(),
            selection: vec![],
            selection_has_exists: false,
            group_by: None,
            having: vec![],
            distinct: false,
            order_by: vec![],
            limit: None,
            offset: 0,
            windowed: false,
        }
    }

    /// A plan expression over this SELECT's output, rewritten over its FROM clause.
    fn resolve(&self, expr: &Expr) -> Result<Expr> {
        resolve(expr, &self.schema, &self.outputs)
    }

    fn render(&self, expr: &Expr) -> Result<String> {
        expr_to_sql(&self.resolve(expr)?)
    }

    fn has_limit(&self) -> bool {
        self.limit.is_some() || self.offset > 0
    }

    /// Whether this SELECT can stand in a FROM clause as its bare relations plus WHERE
    /// conditions (which the caller moves to the enclosing statement).
    fn is_plain(&self) -> bool {
        self.from.is_some()
            && self.group_by.is_none()
            && !self.distinct
            && !self.has_limit()
            && !self.windowed
    }

    fn outputs_are_columns(&self) -> bool {
        self.outputs.iter().all(|e| matches!(e, Expr::Column(_)))
    }

    /// Whether every ORDER BY key is in the select list (what SELECT DISTINCT requires).
    fn orders_by_selected(&self, keys: &[(String, String)]) -> Result<bool> {
        let listed = self
            .outputs
            .iter()
            .map(expr_to_sql)
            .collect::<Result<Vec<_>>>()?;
        Ok(keys.iter().all(|(key, _)| listed.contains(key)))
    }

    /// The statement's text, naming output column `i` `names[i]`.
    pub(crate) fn to_sql(&self, names: &[String]) -> Result<String> {
        if self.outputs.is_empty() {
            return Err(EngineError::Plan(
                "a query without columns cannot be written as SQL".to_string(),
            ));
        }
        let mut items = Vec::with_capacity(self.outputs.len());
        // Computed outputs by their text, so a DISTINCT's ORDER BY can name them by alias.
        let mut aliased: Vec<(String, String)> = Vec::new();
        for (expr, name) in self.outputs.iter().zip(names) {
            let text = expr_to_sql(expr)?;
            match expr {
                Expr::Column(c) if &c.name == name => items.push(text),
                _ => {
                    items.push(format!("{text} AS {}", quote_identifier(name)));
                    aliased.push((text, quote_identifier(name)));
                }
            }
        }
        let mut sql = format!(
            "SELECT {}{}",
            if self.distinct { "DISTINCT " } else { "" },
            items.join(", ")
        );
        if let Some(from) = &self.from {
            sql.push_str(&format!(" FROM {from}"));
        }
        if !self.selection.is_empty() {
            sql.push_str(&format!(" WHERE {}", self.selection.join(" AND ")));
        }
        if let Some(groups) = &self.group_by {
            if !groups.is_empty() {
                sql.push_str(&format!(" GROUP BY {}", groups.join(", ")));
            }
        }
        if !self.having.is_empty() {
            sql.push_str(&format!(" HAVING {}", self.having.join(" AND ")));
        }
        if !self.order_by.is_empty() {
            let keys: Vec<String> = self
                .order_by
                .iter()
                .map(|(expr, direction)| {
                    // With SELECT DISTINCT a computed key must be the select-list item itself;
                    // DataFusion only recognises it by its alias, PostgreSQL accepts both.
                    let key = match aliased.iter().find(|(text, _)| text == expr) {
                        Some((_, alias)) if self.distinct => alias,
                        _ => expr,
                    };
                    format!("{key} {direction}")
                })
                .collect();
            sql.push_str(&format!(" ORDER BY {}", keys.join(", ")));
        }
        if let Some(limit) = self.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        if self.offset > 0 {
            sql.push_str(&format!(" OFFSET {}", self.offset));
        }
        Ok(sql)
    }

    /// This SELECT as a derived table `(SELECT …) AS "alias"` of a new, empty SELECT.
    fn into_derived_table(self, alias: String) -> Result<Select> {
        let names = unique_names(&self.schema);
        let sql = self.to_sql(&names)?;
        let outputs = names
            .into_iter()
            .map(|name| Expr::Column(Column::qualified(alias.clone(), name)))
            .collect();
        let from = format!("({sql}) AS {}", quote_identifier(&alias));
        let mut select = Select::new(self.schema, outputs, Some(from));
        select.relations.insert(alias);
        Ok(select)
    }
}

/// Output names for a derived table: the plan's names, with repeats (two joined `id`s)
/// numbered so every column can be referenced.
fn unique_names(schema: &PlanSchema) -> Vec<String> {
    let mut seen = BTreeSet::new();
    schema
        .fields()
        .iter()
        .map(|f| {
            let mut name = f.name().to_string();
            let mut n = 1;
            while !seen.insert(name.clone()) {
                n += 1;
                name = format!("{}_{n}", f.name());
            }
            name
        })
        .collect()
}

/// `expr` over rows of `schema`, with each column replaced by its expression in `outputs`.
fn resolve(expr: &Expr, schema: &PlanSchema, outputs: &[Expr]) -> Result<Expr> {
    let expr = with_dialect_casts(expr.clone(), schema)?;
    let mut error = None;
    let resolved = expr.replace_columns(&mut |c| match schema.index_of_column(c) {
        Ok(i) => outputs.get(i).cloned(),
        Err(e) => {
            error.get_or_insert(e);
            None
        }
    })?;
    match error {
        Some(e) => Err(e),
        None => Ok(resolved),
    }
}

/// Adds casts where the SQL function's result type depends on the engine: `date_trunc` of a
/// DATE is a timestamp in both, and the portable spelling of `sign` yields a BIGINT.
fn with_dialect_casts(expr: Expr, schema: &PlanSchema) -> Result<Expr> {
    Ok(expr
        .transform_up(&mut |e| {
            let cast_to = match &e {
                Expr::ScalarFunction(ScalarFunctionExpr {
                    func: ScalarFunction::Sign,
                    ..
                }) => Some(e.data_type(schema)?),
                Expr::ScalarFunction(ScalarFunctionExpr {
                    func: ScalarFunction::Trunc(_),
                    ..
                }) if e.data_type(schema)? == DataType::Date32 => Some(DataType::Date32),
                _ => None,
            };
            Ok(match cast_to {
                Some(data_type) => crate::expr::Transformed::yes(Expr::Cast(Cast {
                    expr: Box::new(e),
                    data_type,
                })),
                None => crate::expr::Transformed::no(e),
            })
        })?
        .data)
}

/// Builds [`Select`]s from plan nodes, naming derived tables so they never clash with the
/// plan's own relation names.
#[derive(Debug)]
pub(crate) struct SelectBuilder {
    taken: BTreeSet<String>,
    /// `WITH` entries met so far: name, `AS (…)` text, whether recursive.
    pub(crate) ctes: Vec<(String, String, bool)>,
}

impl SelectBuilder {
    /// A builder for `plan`, with every relation name the plan uses reserved.
    pub(crate) fn new(plan: &LogicalPlan) -> SelectBuilder {
        let mut taken = BTreeSet::new();
        fn collect(plan: &LogicalPlan, taken: &mut BTreeSet<String>) {
            match plan {
                LogicalPlan::Scan(scan) => {
                    taken.insert(scan.relation.clone());
                }
                LogicalPlan::SubqueryAlias(alias) => {
                    taken.insert(alias.alias.clone());
                }
                LogicalPlan::Cte(cte) => {
                    taken.insert(cte.name.clone());
                }
                LogicalPlan::RecursiveQuery(recursive) => {
                    taken.insert(recursive.name.clone());
                }
                _ => {}
            }
            for input in plan.inputs() {
                collect(input, taken);
            }
        }
        collect(plan, &mut taken);
        SelectBuilder {
            taken,
            ctes: vec![],
        }
    }

    fn fresh_alias(&mut self) -> String {
        let mut alias = "subquery".to_string();
        let mut n = 1;
        while self.taken.contains(&alias) {
            n += 1;
            alias = format!("subquery{n}");
        }
        self.taken.insert(alias.clone());
        alias
    }

    fn derived(&mut self, select: Select) -> Result<Select> {
        let alias = self.fresh_alias();
        select.into_derived_table(alias)
    }

    /// The SELECT computing `plan`.
    pub(crate) fn build(&mut self, plan: &LogicalPlan) -> Result<Select> {
        match plan {
            LogicalPlan::Scan(scan) => scan_select(scan, &scan.relation, Arc::clone(&scan.schema)),
            LogicalPlan::Values(values) => self.values(values),
            LogicalPlan::Filter(filter) => {
                let mut select = self.build(&filter.input)?;
                // Equal rows pass a predicate alike, so it may run before DISTINCT; it may not
                // run before a LIMIT.
                if select.has_limit() || select.windowed {
                    select = self.derived(select)?;
                }
                let predicate = select.render(&filter.predicate)?;
                select.selection_has_exists |= filter.predicate.contains_subquery();
                if select.group_by.is_some() {
                    select.having.push(predicate);
                } else {
                    select.selection.push(predicate);
                }
                Ok(select)
            }
            LogicalPlan::Projection(projection) => {
                let mut select = self.build(&projection.input)?;
                if select.distinct {
                    select = self.derived(select)?;
                }
                let outputs = projection
                    .exprs
                    .iter()
                    .map(|e| Ok(select.resolve(e)?.unalias()))
                    .collect::<Result<Vec<_>>>()?;
                select.outputs = outputs;
                select.schema = Arc::clone(&projection.schema);
                Ok(select)
            }
            LogicalPlan::Aggregate(aggregate) => {
                let mut select = self.build(&aggregate.input)?;
                if select.group_by.is_some()
                    || select.distinct
                    || select.has_limit()
                    || select.windowed
                {
                    select = self.derived(select)?;
                }
                // The order of an aggregate's input does not reach its output.
                select.order_by.clear();
                let groups = aggregate
                    .group_exprs
                    .iter()
                    .map(|e| Ok(select.resolve(e)?.unalias()))
                    .collect::<Result<Vec<_>>>()?;
                let mut outputs = groups.clone();
                for a in &aggregate.aggr_exprs {
                    outputs.push(select.resolve(a)?.unalias());
                }
                select.group_by = Some(groups.iter().map(key_to_sql).collect::<Result<_>>()?);
                select.outputs = outputs;
                select.schema = Arc::clone(&aggregate.schema);
                Ok(select)
            }
            LogicalPlan::Sort(sort) => self.sort(sort),
            LogicalPlan::Limit(limit) => {
                let mut select = self.build(&limit.input)?;
                let (offset, fetch) =
                    merge_limits((limit.skip, limit.fetch), (select.offset, select.limit));
                select.offset = offset;
                select.limit = fetch;
                Ok(select)
            }
            LogicalPlan::Distinct(distinct) => {
                let mut select = self.build(&distinct.input)?;
                if select.has_limit() {
                    select = self.derived(select)?;
                }
                // SELECT DISTINCT may only order by what it selects; an order of other
                // columns below a DISTINCT does not survive it anyway.
                if !select.orders_by_selected(&select.order_by)? {
                    select.order_by.clear();
                }
                select.distinct = true;
                Ok(select)
            }
            LogicalPlan::SubqueryAlias(alias) => {
                if let LogicalPlan::Scan(scan) = alias.input.as_ref() {
                    return scan_select(scan, &alias.alias, Arc::clone(&alias.schema));
                }
                let select = self.build(&alias.input)?;
                let mut select = select.into_derived_table(alias.alias.clone())?;
                select.schema = Arc::clone(&alias.schema);
                Ok(select)
            }
            LogicalPlan::Join(join) => self.join(join),
            // Only the optimizer makes one; SQL is written from the plan the ORM built.
            LogicalPlan::DistinctOn(_) => Err(EngineError::Plan(
                "DISTINCT ON is not written as SQL".to_string(),
            )),
            LogicalPlan::Union(union) => {
                let keyword = if union.all { " UNION ALL " } else { " UNION " };
                let parts = union
                    .inputs
                    .iter()
                    .map(|input| set_operand_sql(input))
                    .collect::<Result<Vec<_>>>()?;
                self.set_operation(&union.schema, parts.join(keyword))
            }
            LogicalPlan::Intersect(intersect) => {
                let text = format!(
                    "{} INTERSECT {}",
                    set_operand_sql(&intersect.left)?,
                    set_operand_sql(&intersect.right)?
                );
                self.set_operation(&intersect.schema, text)
            }
            LogicalPlan::Except(except) => {
                let text = format!(
                    "{} EXCEPT {}",
                    set_operand_sql(&except.left)?,
                    set_operand_sql(&except.right)?
                );
                self.set_operation(&except.schema, text)
            }
            LogicalPlan::Cte(cte) => {
                if !self.ctes.iter().any(|(name, _, _)| name == &cte.name) {
                    let body = super::plan_to_sql(&cte.input)?;
                    let hint = match cte.materialized {
                        Some(true) => "MATERIALIZED ",
                        Some(false) => "NOT MATERIALIZED ",
                        None => "",
                    };
                    self.ctes
                        .push((cte.name.clone(), format!("{hint}({body})"), false));
                }
                Ok(named_relation(&cte.name, Arc::clone(&cte.schema)))
            }
            LogicalPlan::RecursiveQuery(recursive) => {
                if !self.ctes.iter().any(|(name, _, _)| name == &recursive.name) {
                    let keyword = if recursive.distinct {
                        "UNION"
                    } else {
                        "UNION ALL"
                    };
                    let body = format!(
                        "({} {keyword} {})",
                        super::plan_to_sql(&recursive.static_term)?,
                        super::plan_to_sql(&recursive.recursive_term)?
                    );
                    self.ctes.push((recursive.name.clone(), body, true));
                }
                Ok(named_relation(
                    &recursive.name,
                    Arc::clone(&recursive.schema),
                ))
            }
            LogicalPlan::WorkTable(work_table) => Ok(named_relation(
                &work_table.name,
                Arc::clone(&work_table.schema),
            )),
            LogicalPlan::Window(window) => {
                let mut select = self.build(&window.input)?;
                // Windows run after WHERE/GROUP BY/HAVING and before DISTINCT and LIMIT.
                if select.distinct || select.has_limit() || select.windowed {
                    select = self.derived(select)?;
                }
                for w in &window.window_exprs {
                    let resolved = select.resolve(w)?.unalias();
                    select.outputs.push(resolved);
                }
                select.schema = Arc::clone(&window.schema);
                select.windowed = true;
                Ok(select)
            }
        }
    }

    /// A set operation's text as a derived table whose columns have the plan's names.
    fn set_operation(&mut self, schema: &PlanSchemaRef, text: String) -> Result<Select> {
        let alias = self.fresh_alias();
        let outputs = schema
            .fields()
            .iter()
            .map(|f| Expr::Column(Column::qualified(alias.clone(), f.name())))
            .collect();
        let from = format!("({text}) AS {}", quote_identifier(&alias));
        let mut select = Select::new(Arc::clone(schema), outputs, Some(from));
        select.relations.insert(alias);
        Ok(select)
    }

    fn values(&mut self, values: &Values) -> Result<Select> {
        let schema = Arc::clone(&values.schema);
        if values.rows.is_empty() {
            // No rows: typed NULLs under a condition that is never true.
            let outputs = schema
                .fields()
                .iter()
                .map(|f| Expr::Literal(quiver_storage::ScalarValue::null_of(f.field.data_type())))
                .collect();
            let mut select = Select::new(schema, outputs, None);
            select.selection.push("FALSE".to_string());
            return Ok(select);
        }
        let empty = PlanSchema::empty();
        let mut rows = Vec::with_capacity(values.rows.len());
        for row in &values.rows {
            let mut cells = Vec::with_capacity(row.len());
            for (cell, field) in row.iter().zip(schema.fields()) {
                let text = expr_to_sql(&resolve(cell, &empty, &[])?)?;
                // Every cell is cast: VALUES unifies its column types row by row, differently
                // in each engine.
                let data_type = field.field.data_type();
                let typed_literal = matches!(cell, Expr::Literal(v) if &v.data_type() == data_type)
                    && text.starts_with("CAST(");
                cells.push(if typed_literal || data_type == &DataType::Null {
                    text
                } else {
                    format!("CAST({text} AS {})", type_to_sql(data_type)?)
                });
            }
            rows.push(format!("({})", cells.join(", ")));
        }
        let alias = self.fresh_alias();
        // Both engines name the columns of VALUES column1, column2, …
        let outputs = (1..=schema.len())
            .map(|i| Expr::Column(Column::qualified(alias.clone(), format!("column{i}"))))
            .collect();
        let from = format!(
            "(VALUES {}) AS {}",
            rows.join(", "),
            quote_identifier(&alias)
        );
        let mut select = Select::new(schema, outputs, Some(from));
        select.relations.insert(alias);
        Ok(select)
    }

    fn sort(&mut self, sort: &Sort) -> Result<Select> {
        let mut select = self.build(&sort.input)?;
        if select.has_limit() {
            select = self.derived(select)?;
        }
        let mut keys = sort_keys(&select, &sort.exprs)?;
        if select.distinct && !select.orders_by_selected(&keys)? {
            select = self.derived(select)?;
            keys = sort_keys(&select, &sort.exprs)?;
        }
        select.order_by = keys;
        if let Some(fetch) = sort.fetch {
            select.limit = Some(fetch);
        }
        Ok(select)
    }

    /// A mark join is the EXISTS it came from, in the select list: the left side's rows,
    /// plus `EXISTS (SELECT … FROM right WHERE keys AND filter)` with the left side's columns
    /// as outer references.
    fn mark_join(&mut self, join: &Join) -> Result<Select> {
        let mut left = self.build(&join.left)?;
        if !left.is_plain() || !left.outputs_are_columns() {
            left = self.derived(left)?;
        }
        left.order_by.clear();
        let left_schema = join.left.schema();
        let mut unresolved = None;
        let mut to_outer = |e: &Expr| -> Result<Expr> {
            Ok(e.clone()
                .transform_up(&mut |e| {
                    let Expr::Column(c) = &e else {
                        return Ok(Transformed::no(e));
                    };
                    if !left_schema.has_column(c) {
                        return Ok(Transformed::no(e));
                    }
                    let field = left_schema.field(left_schema.index_of_column(c)?);
                    match left.resolve(&e)? {
                        Expr::Column(column) => Ok(Transformed::yes(outer_col(
                            column,
                            field.field.data_type().clone(),
                            field.field.is_nullable(),
                        ))),
                        other => {
                            unresolved = Some(other);
                            Ok(Transformed::no(e))
                        }
                    }
                })?
                .data)
        };
        let mut conditions = Vec::new();
        for (l, r) in &join.on {
            conditions.push(to_outer(l)?.eq(r.clone()));
        }
        if let Some(filter) = &join.filter {
            conditions.push(to_outer(filter)?);
        }
        if let Some(expr) = unresolved {
            return Err(EngineError::Plan(format!(
                "a mark join over the computed column {expr} has no SQL form"
            )));
        }
        let mut tested = Arc::clone(&join.right);
        if let Some(predicate) = Expr::conjunction(conditions) {
            tested = Arc::new(LogicalPlan::Filter(Filter::try_new(tested, predicate)?));
        }
        left.outputs.push(exists(tested));
        left.schema = Arc::clone(&join.schema);
        Ok(left)
    }

    fn join(&mut self, join: &Join) -> Result<Select> {
        if join.join_type == JoinType::LeftMark {
            return self.mark_join(join);
        }
        if join.join_type.outputs_right_only() {
            // SQL has no right semi join: the same rows are the left one's with the inputs
            // swapped back (an EXISTS on the preserved side).
            if let Some(swapped) = join.swapped()? {
                return self.join(&swapped);
            }
        }
        let mut left = self.build(&join.left)?;
        let mut right = self.build(&join.right)?;
        let (left_outer, right_outer) = match join.join_type {
            JoinType::Left => (false, true),
            JoinType::Right => (true, false),
            JoinType::Full => (true, true),
            JoinType::Inner
            | JoinType::LeftSemi
            | JoinType::LeftAnti
            | JoinType::LeftMark
            | JoinType::RightSemi
            | JoinType::RightAnti => (false, false),
        };
        let full = join.join_type == JoinType::Full;
        // A null-extended side must produce NULL in every column of an unmatched row, which
        // only plain column references do, and its WHERE conditions move into the ON
        // condition, which a FULL join cannot take and DataFusion takes no EXISTS in.
        let unmovable =
            |side: &Select| (full && !side.selection.is_empty()) || side.selection_has_exists;
        if !left.is_plain() || (left_outer && (!left.outputs_are_columns() || unmovable(&left))) {
            left = self.derived(left)?;
        }
        let nested_join = right.relations.len() > 1;
        let clashes = !left.relations.is_disjoint(&right.relations);
        if !right.is_plain()
            || nested_join
            || clashes
            || (right_outer && (!right.outputs_are_columns() || unmovable(&right)))
        {
            right = self.derived(right)?;
        }
        left.order_by.clear();
        right.order_by.clear();

        let mut on = Vec::new();
        for (l, r) in &join.on {
            on.push(format!("({} = {})", left.render(l)?, right.render(r)?));
        }
        if let Some(filter) = &join.filter {
            let schema = left.schema.join(&right.schema);
            let outputs: Vec<Expr> = left.outputs.iter().chain(&right.outputs).cloned().collect();
            on.push(expr_to_sql(&resolve(filter, &schema, &outputs)?)?);
        }
        let right_from = right.from.clone().unwrap_or_default();

        if let JoinType::LeftSemi | JoinType::LeftAnti = join.join_type {
            // A correlated EXISTS: the right side's own conditions and the join condition.
            let mut conditions = right.selection;
            conditions.extend(on);
            let mut subquery = format!("SELECT 1 FROM {right_from}");
            if !conditions.is_empty() {
                subquery.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
            }
            let not = if join.join_type == JoinType::LeftAnti {
                "NOT "
            } else {
                ""
            };
            left.selection.push(format!("{not}EXISTS ({subquery})"));
            left.selection_has_exists = true;
            left.schema = Arc::clone(&join.schema);
            return Ok(left);
        }

        // Conditions on the preserved side filter the result; conditions on a null-extended
        // side restrict which of its rows match, so they join the ON condition.
        let mut selection = Vec::new();
        let (left_where, right_where) = (
            std::mem::take(&mut left.selection),
            std::mem::take(&mut right.selection),
        );
        if left_outer {
            on.extend(left_where);
        } else {
            selection.extend(left_where);
        }
        if right_outer {
            on.extend(right_where);
        } else {
            selection.extend(right_where);
        }
        let keyword = match join.join_type {
            JoinType::Inner if on.is_empty() => "CROSS JOIN",
            JoinType::Inner => "INNER JOIN",
            JoinType::Left => "LEFT JOIN",
            JoinType::Right => "RIGHT JOIN",
            _ => "FULL JOIN",
        };
        let left_from = left.from.clone().unwrap_or_default();
        let from = if keyword == "CROSS JOIN" {
            format!("{left_from} CROSS JOIN {right_from}")
        } else if on.is_empty() {
            format!("{left_from} {keyword} {right_from} ON TRUE")
        } else {
            format!("{left_from} {keyword} {right_from} ON {}", on.join(" AND "))
        };
        let mut outputs = left.outputs;
        outputs.extend(right.outputs);
        let mut select = Select::new(Arc::clone(&join.schema), outputs, Some(from));
        select.relations = left.relations;
        select.relations.extend(right.relations);
        select.selection = selection;
        select.selection_has_exists = left.selection_has_exists || right.selection_has_exists;
        Ok(select)
    }
}

/// One operand of a set operation: its own statement, parenthesized when it orders or limits
/// (which would otherwise apply to the whole set operation).
fn set_operand_sql(plan: &LogicalPlan) -> Result<String> {
    let text = super::plan_to_sql(plan)?;
    if text.contains(" ORDER BY ") || text.contains(" LIMIT ") || text.contains(" OFFSET ") {
        Ok(format!("SELECT * FROM ({text}) AS \"operand\""))
    } else {
        Ok(text)
    }
}

/// A SELECT over a relation that a `WITH` clause defines.
fn named_relation(name: &str, schema: PlanSchemaRef) -> Select {
    let outputs = schema
        .fields()
        .iter()
        .map(|f| Expr::Column(Column::qualified(name, f.name())))
        .collect();
    let mut select = Select::new(schema, outputs, Some(quote_identifier(name)));
    select.relations.insert(name.to_string());
    select
}

fn sort_keys(select: &Select, exprs: &[SortExpr]) -> Result<Vec<(String, String)>> {
    exprs
        .iter()
        .map(|key| {
            let direction = format!(
                "{} NULLS {}",
                if key.asc { "ASC" } else { "DESC" },
                if key.nulls_first { "FIRST" } else { "LAST" }
            );
            Ok((key_to_sql(&select.resolve(&key.expr)?)?, direction))
        })
        .collect()
}

/// A scan as a table of the FROM clause named `relation` (the scan's own relation, or the
/// alias of a SubqueryAlias right above it, which needs no derived table).
fn scan_select(scan: &Scan, relation: &str, schema: PlanSchemaRef) -> Result<Select> {
    let column = |name: &str| Expr::Column(Column::qualified(relation, name));
    let outputs = schema.fields().iter().map(|f| column(f.name())).collect();
    let from = format!(
        "{} AS {}",
        quote_identifier(&scan.table_name),
        quote_identifier(relation)
    );
    let mut select = Select::new(schema, outputs, Some(from));
    select.relations.insert(relation.to_string());
    // Scan filters read the whole table, projected-out columns included.
    let table = scan.table_schema();
    let table_columns: Vec<Expr> = table.fields().iter().map(|f| column(f.name())).collect();
    for filter in &scan.filters {
        select
            .selection
            .push(expr_to_sql(&resolve(filter, &table, &table_columns)?)?);
    }
    Ok(select)
}
