//! Common table expressions with the API of the django-cte package (Django has none built
//! in): [`CTE`] (`CTE(qs, name=…, materialized=…)`), [`with_cte`] / [`QuerySet::with_cte`],
//! `cte.join(qs, [("field", cte.col("x"))])` (`cte.join(Model, field=cte.col.x)`),
//! `cte.queryset()`, `cte.col("name")` in expressions, and [`CTE::recursive`]:
//!
//! ```text
//! CTE::recursive_named("tree", |cte| {
//!     roots.union([cte.join(nodes, [("parent", cte.col("id"))])
//!                     .annotate([("depth", cte.col("depth") + 1)])
//!                     .values(["id", "depth"])], true)
//! })
//! ```
//!
//! A CTE is a value like a QuerySet: its query is compiled where it is used, as the engine's
//! `Cte` node (`WITH name AS (…)`, hoisted by `sql()`), or for a recursive CTE as a
//! `RecursiveQuery` whose first union part is the static term and whose other parts read the
//! previous round's rows (the work table) wherever they join the CTE itself. The engine runs
//! it to a fixed point; `union(all=false)` removes repeated rows, which ends walks over
//! cycles, and `SessionConfig::max_recursion_depth` stops a runaway `UNION ALL`.

use std::sync::Arc;

use quiver_engine::logical_plan::{Cte as CteNode, RecursiveQuery, Union, WorkTable};
use quiver_engine::{JoinType, LogicalPlan, PlanSchemaRef};

use super::compiler::compile;
use super::queryset::{Derived, QuerySet};
use super::set_operations::{Combination, SetOperator};
use crate::error::{Error, Result};
use crate::expressions::{Expression, SubqueryExpression};

/// How `cte.join()` joins (django-cte's `_join_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CteJoinType {
    /// `INNER JOIN` (the default).
    Inner,
    /// `LEFT OUTER JOIN` (Django's `LOUTER`).
    LeftOuter,
}

/// The query behind a CTE.
#[derive(Debug)]
struct Definition {
    query: QuerySet,
    recursive: bool,
}

/// A common table expression (django-cte's `CTE`).
#[derive(Debug, Clone)]
pub struct CTE {
    name: String,
    /// `None` inside the function given to [`CTE::recursive`]: the CTE being defined, whose
    /// references read the previous round's rows.
    definition: Option<Arc<Definition>>,
    materialized: Option<bool>,
}

/// One `cte.join(...)` recorded on a QuerySet.
#[derive(Debug, Clone)]
pub(crate) struct CteJoin {
    pub cte: CTE,
    /// (field path of the QuerySet's model, expression over the CTE's columns).
    pub on: Vec<(String, Expression)>,
    pub join_type: CteJoinType,
}

impl CTE {
    /// `CTE(queryset)`, named `cte`.
    pub fn new(queryset: QuerySet) -> CTE {
        CTE {
            name: "cte".to_string(),
            definition: Some(Arc::new(Definition {
                query: queryset,
                recursive: false,
            })),
            materialized: None,
        }
    }

    /// `name=…`.
    pub fn name(mut self, name: impl Into<String>) -> CTE {
        self.name = name.into();
        self
    }

    /// `materialized=…` (PostgreSQL's `AS [NOT] MATERIALIZED` in `sql()`).
    pub fn materialized(mut self, materialized: bool) -> CTE {
        self.materialized = Some(materialized);
        self
    }

    /// `CTE.recursive(make_cte)`, named `cte`: `make_cte(cte)` returns
    /// `base.union([recursive part joining cte], all)`.
    pub fn recursive(make_cte: impl FnOnce(&CTE) -> QuerySet) -> CTE {
        CTE::recursive_named("cte", make_cte)
    }

    /// `CTE.recursive(make_cte, name=name)`.
    pub fn recursive_named(
        name: impl Into<String>,
        make_cte: impl FnOnce(&CTE) -> QuerySet,
    ) -> CTE {
        let name = name.into();
        let this = CTE {
            name: name.clone(),
            definition: None,
            materialized: None,
        };
        let query = make_cte(&this);
        CTE {
            name,
            definition: Some(Arc::new(Definition {
                query,
                recursive: true,
            })),
            materialized: None,
        }
    }

    /// The CTE's name.
    pub fn cte_name(&self) -> &str {
        &self.name
    }

    /// `cte.col.name`: a column of the CTE, in an expression of a QuerySet that joins it (or
    /// of `cte.queryset()`).
    pub fn col(&self, name: &str) -> Expression {
        Expression::Subquery(Box::new(SubqueryExpression::CteColumn {
            cte: self.name.clone(),
            column: name.to_string(),
        }))
    }

    /// `cte.join(Model, field=cte.col.x, …)`: the QuerySet's rows INNER-joined with the CTE
    /// on `field = expression` for each pair.
    pub fn join<S: Into<String>>(
        &self,
        queryset: QuerySet,
        on: impl IntoIterator<Item = (S, Expression)>,
    ) -> QuerySet {
        self.join_with_type(queryset, on, CteJoinType::Inner)
    }

    /// `cte.join(…, _join_type=…)`.
    pub fn join_with_type<S: Into<String>>(
        &self,
        queryset: QuerySet,
        on: impl IntoIterator<Item = (S, Expression)>,
        join_type: CteJoinType,
    ) -> QuerySet {
        let mut joined = queryset;
        joined.query.cte_joins.push(CteJoin {
            cte: self.clone(),
            on: on.into_iter().map(|(f, e)| (f.into(), e)).collect(),
            join_type,
        });
        joined
    }

    /// `cte.queryset()`: a QuerySet over the CTE's own rows (filter, annotate, values,
    /// order_by, slicing, count and aggregate work on its columns).
    pub fn queryset(&self) -> QuerySet {
        let model = match &self.definition {
            Some(d) => d.query.model.clone(),
            None => String::new(),
        };
        let db = match &self.definition {
            Some(d) => d.query.db.clone(),
            None => crate::database::Database::new(),
        };
        let mut qs = QuerySet::new(db, model);
        qs.query.derived = Some(Arc::new(Derived::Cte(self.clone())));
        qs
    }

    /// The plan reading this CTE: a `Cte` node over its query, a `RecursiveQuery`, or — inside
    /// its own recursive definition — the work table, whose rows look like `work_table`.
    pub(crate) fn plan(&self, work_table: Option<&PlanSchemaRef>) -> Result<Arc<LogicalPlan>> {
        let Some(definition) = &self.definition else {
            return match work_table {
                Some(schema) => Ok(Arc::new(LogicalPlan::WorkTable(WorkTable::new(
                    self.name.clone(),
                    schema,
                )))),
                None => Err(Error::ValueError(format!(
                    "CTE {} is read outside of its recursive definition",
                    self.name
                ))),
            };
        };
        if !definition.recursive {
            let plan = compile(&definition.query)?.plan;
            return Ok(Arc::new(LogicalPlan::Cte(CteNode::new(
                self.name.clone(),
                plan,
                self.materialized,
            ))));
        }
        let Some(Derived::Combination(Combination {
            operator: SetOperator::Union,
            all,
            parts,
        })) = definition.query.query.derived.as_deref()
        else {
            return Err(Error::ValueError(format!(
                "recursive CTE {} must be base.union(recursive part, all=…)",
                self.name
            )));
        };
        let Some((base, recursive_parts)) = parts.split_first() else {
            return Err(Error::ValueError("empty recursive CTE".to_string()));
        };
        let static_term = compile(&base.clear_ordering())?.plan;
        let schema = Arc::clone(static_term.schema());
        let mut terms = Vec::with_capacity(recursive_parts.len());
        for part in recursive_parts {
            terms.push(WORK_TABLE.with(|w| {
                let previous = w.replace(Some((self.name.clone(), Arc::clone(&schema))));
                let plan = compile(&part.clear_ordering()).map(|c| c.plan);
                w.replace(previous);
                plan
            })?);
        }
        let recursive_term = if terms.len() == 1 {
            terms.remove(0)
        } else {
            Arc::new(LogicalPlan::Union(Union::try_new(terms, true)?))
        };
        Ok(Arc::new(LogicalPlan::RecursiveQuery(
            RecursiveQuery::try_new(self.name.clone(), static_term, recursive_term, !all)?,
        )))
    }
}

thread_local! {
    /// While a recursive CTE's recursive part is compiled: its name and the static term's
    /// schema, for references to the CTE itself (the work table).
    static WORK_TABLE: std::cell::RefCell<Option<(String, PlanSchemaRef)>> =
        const { std::cell::RefCell::new(None) };
}

/// The plan a QuerySet's `cte.join()` reads.
pub(crate) fn join_source(cte: &CTE) -> Result<Arc<LogicalPlan>> {
    let work_table = WORK_TABLE.with(|w| {
        w.borrow()
            .as_ref()
            .filter(|(name, _)| name == &cte.name)
            .map(|(_, schema)| Arc::clone(schema))
    });
    cte.plan(work_table.as_ref())
}

/// The engine join type of a `cte.join()`.
pub(crate) fn engine_join_type(join_type: CteJoinType) -> JoinType {
    match join_type {
        CteJoinType::Inner => JoinType::Inner,
        CteJoinType::LeftOuter => JoinType::Left,
    }
}

impl QuerySet {
    /// `with_cte(cte, select=self)`: declares the CTEs this QuerySet reads (joins and
    /// `cte.col` references bring their `WITH` entries along by themselves).
    pub fn with_cte(&self, cte: &CTE) -> QuerySet {
        let _ = cte;
        self.clone()
    }
}

/// django-cte 4.0's `with_cte(*ctes, select=queryset)`.
pub fn with_cte<'a>(ctes: impl IntoIterator<Item = &'a CTE>, select: QuerySet) -> QuerySet {
    ctes.into_iter().fold(select, |qs, cte| qs.with_cte(cte))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expressions::{Sum, F};
    use crate::q;
    use crate::queryset::fixtures::shop;

    #[test]
    fn a_cte_joins_by_its_columns_and_renders_a_with_clause() {
        let db = shop();
        let totals = CTE::new(
            db.objects("Order")
                .values(["customer"])
                .annotate([("total", Sum("amount"))]),
        )
        .name("totals");
        let qs = with_cte(
            [&totals],
            totals.join(db.objects("Customer"), [("id", totals.col("customer"))]),
        )
        .annotate([("total", totals.col("total"))])
        .order_by(["name"])
        .values(["name", "total"]);
        let rows = qs.fetch().unwrap();
        assert_eq!(rows.column::<i64>("total").unwrap(), [350, 40, 10, 75]);
        assert!(qs.sql().unwrap().starts_with(r#"WITH "totals" AS (SELECT"#));
        // A column of a CTE the query does not join is a FieldError.
        let err = db
            .objects("Customer")
            .annotate([("total", totals.col("total"))])
            .fetch()
            .unwrap_err();
        assert_eq!(err.django_name(), "FieldError");
    }

    #[test]
    fn a_recursive_cte_counts_up_to_a_fixed_point() {
        let db = shop();
        let customers = db.objects("Customer");
        // Customer ids reachable from 1 by +1 steps: 1, 2, 3, 4.
        let run = CTE::recursive(|cte| {
            customers.filter(q!(id = 1)).values(["id"]).union(
                [cte.join(customers.clone(), [("id", cte.col("id") + 1)])
                    .annotate([("next", F("id"))])
                    .values(["id"])],
                false,
            )
        });
        let ids = run
            .queryset()
            .order_by(["id"])
            .values(["id"])
            .fetch()
            .unwrap();
        assert_eq!(ids.column::<i64>("id").unwrap(), [1, 2, 3, 4]);
        assert!(run
            .queryset()
            .sql()
            .unwrap()
            .starts_with(r#"WITH RECURSIVE "cte" AS ("#));
    }
}
