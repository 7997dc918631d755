//! The QuerySet methods that run a query: `fetch`, `count`, `exists`, `aggregate`, `get`,
//! `first`/`last`, `latest`/`earliest`, `contains`, `in_bulk`, and the ones that show one
//! (`sql`, `explain`).
//!
//! Each is written the way Django writes it in terms of other QuerySet operations
//! (`first()` is `order_by("pk")[:1]` on an unordered QuerySet, `get()` is
//! `filter(q).order_by()[:21]`), so the compiler stays the single place that knows SQL
//! semantics, and each error keeps Django's exception class and wording.

use std::sync::Arc;

use arrow::array::RecordBatch;
use quiver_engine::{LogicalPlan, LogicalPlanBuilder, ScalarValue};

use crate::error::{Error, Result};
use crate::expressions_placeholder::Q;
use crate::model::Model;
use crate::queryset::compiler::{self, count_star, AggregateItem, CompiledQuery};
use crate::queryset::queryset::{AggregateArg, GroupBy, QuerySet};
use crate::results::{FromValue, InBulk, Instance, Row, Rows};

/// Django's `MAX_GET_RESULTS`: `get()` fetches at most this many rows to report how many
/// matched.
const MAX_GET_RESULTS: usize = 21;

impl QuerySet {
    /// Evaluates the QuerySet: every row, with the columns it selects.
    pub fn fetch(&self) -> Result<Rows> {
        self.run(compiler::compile(self)?)
    }

    /// Evaluates the QuerySet into Arrow record batches.
    pub fn to_batches(&self) -> Result<Vec<RecordBatch>> {
        Ok(self.fetch()?.into_batches())
    }

    /// Evaluates the QuerySet into model instances (for `values()` QuerySets, instances
    /// holding just the selected values).
    pub fn fetch_instances(&self) -> Result<Vec<Instance>> {
        let model = self.db.model(&self.model)?;
        let rows = self.fetch()?;
        Ok(instances(&model, &rows))
    }

    /// The single column of a `values_list("x").flat()` (or any one-column QuerySet), read
    /// as `T`.
    pub fn fetch_flat<T: FromValue>(&self) -> Result<Vec<T>> {
        let rows = self.fetch()?;
        match rows.columns() {
            [only] => rows.column::<T>(&only.clone()),
            columns => Err(Error::TypeError(format!(
                "fetch_flat() needs exactly one column, the QuerySet selects {}",
                columns.len()
            ))),
        }
    }

    /// The logical plan the QuerySet compiles to (before optimization).
    pub fn query_plan(&self) -> Result<Arc<LogicalPlan>> {
        Ok(compiler::compile(self)?.plan)
    }

    /// `count()`: the number of rows, counted by the engine (`SELECT COUNT(*)`).
    pub fn count(&self) -> Result<usize> {
        if let Some(error) = &self.query.error {
            return Err(error.clone());
        }
        if self.query.empty {
            return Ok(0);
        }
        let compiled = compiler::compile_aggregate(
            self,
            vec![("__count".to_string(), AggregateItem::Resolved(count_star()))],
        )?;
        let row = self.single_row(compiled)?;
        let n: i64 = row.get("__count")?;
        Ok(usize::try_from(n).unwrap_or_default())
    }

    /// `exists()`: whether there is at least one row (fetches at most one).
    pub fn exists(&self) -> Result<bool> {
        let qs = if self.query.is_sliced() {
            self.clone()
        } else {
            self.clear_ordering()
        };
        let compiled = compiler::compile(&qs)?;
        let plan = LogicalPlanBuilder::from(compiled.plan)
            .limit(0, Some(1))
            .build();
        let rows = self.run(CompiledQuery {
            plan,
            empty: compiled.empty,
        })?;
        Ok(!rows.is_empty())
    }

    /// `aggregate(...)`: one row of aggregates over the QuerySet's rows, named by their alias
    /// or default alias (`Sum("amount")` → `amount__sum`).
    pub fn aggregate<I, A>(&self, items: I) -> Result<Row>
    where
        I: IntoIterator<Item = A>,
        A: Into<AggregateArg>,
    {
        let mut named = Vec::new();
        for item in items {
            let AggregateArg { alias, expression } = item.into();
            let name = match alias {
                Some(alias) => alias,
                None => expression.default_alias().ok_or_else(|| {
                    Error::TypeError("Complex aggregates require an alias".into())
                })?,
            };
            if !expression.contains_aggregate() {
                return Err(Error::TypeError(format!(
                    "{name} is not an aggregate expression"
                )));
            }
            if named.iter().any(|(n, _)| n == &name) {
                return Err(Error::ValueError(format!(
                    "The named annotation '{name}' is given twice."
                )));
            }
            named.push((name, AggregateItem::Expression(expression)));
        }
        self.single_row(compiler::compile_aggregate(self, named)?)
    }

    /// `get(q)`: the one row matching `q`, or `DoesNotExist` / `MultipleObjectsReturned`
    /// (worded as Django's).
    pub fn get(&self, q: impl Into<Q>) -> Result<Instance> {
        let qs = self
            .filter(q)
            .clear_ordering()
            .slice(..MAX_GET_RESULTS as isize);
        let mut found = qs.fetch_instances()?;
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(Error::DoesNotExist(format!(
                "{} matching query does not exist.",
                self.display_model_name()
            ))),
            n => Err(Error::MultipleObjectsReturned(format!(
                "get() returned more than one {} -- it returned {}!",
                self.display_model_name(),
                if n < MAX_GET_RESULTS {
                    n.to_string()
                } else {
                    format!("more than {}", MAX_GET_RESULTS - 1)
                }
            ))),
        }
    }

    /// `qs[index]`: the row at `index` in the QuerySet's order, or `IndexError`.
    pub fn get_index(&self, index: isize) -> Result<Instance> {
        if index < 0 {
            return Err(Error::ValueError(
                "Negative indexing is not supported.".into(),
            ));
        }
        self.slice(index..index.saturating_add(1))
            .fetch_instances()?
            .into_iter()
            .next()
            .ok_or_else(|| Error::IndexError("list index out of range".into()))
    }

    /// `first()`: the first row in the QuerySet's order (by primary key when unordered).
    pub fn first(&self) -> Result<Option<Instance>> {
        let model = self.db.model(&self.model)?;
        let qs = if self.is_ordered(&model) {
            self.clone()
        } else {
            self.check_first_last_aggregation(&model, "first")?;
            self.order_by(["pk"])
        };
        Ok(qs.slice(..1).fetch_instances()?.into_iter().next())
    }

    /// `last()`: the last row in the QuerySet's order (by primary key when unordered).
    pub fn last(&self) -> Result<Option<Instance>> {
        let model = self.db.model(&self.model)?;
        let qs = if self.is_ordered(&model) {
            self.reverse()
        } else {
            self.check_first_last_aggregation(&model, "last")?;
            self.order_by(["-pk"])
        };
        Ok(qs.slice(..1).fetch_instances()?.into_iter().next())
    }

    /// `latest("f", "-g")`: the row with the greatest `f` (then smallest `g`); with no fields,
    /// `Meta.get_latest_by`. `DoesNotExist` when there are no rows.
    pub fn latest<I, S>(&self, fields: I) -> Result<Instance>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.latest_or_earliest(fields, true)
    }

    /// `earliest("f")`: the row with the smallest `f`.
    pub fn earliest<I, S>(&self, fields: I) -> Result<Instance>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.latest_or_earliest(fields, false)
    }

    fn latest_or_earliest<I, S>(&self, fields: I, latest: bool) -> Result<Instance>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if self.query.is_sliced() {
            return Err(Error::TypeError(
                "Cannot change a query once a slice has been taken.".into(),
            ));
        }
        let mut fields: Vec<String> = fields.into_iter().map(Into::into).collect();
        if fields.is_empty() {
            fields = self.db.model(&self.model)?.latest_by().to_vec();
        }
        if fields.is_empty() {
            return Err(Error::ValueError(
                "earliest() and latest() require either fields as positional arguments or \
                 'get_latest_by' in the model's Meta."
                    .into(),
            ));
        }
        let order: Vec<String> = fields
            .into_iter()
            .map(|f| match (latest, f.strip_prefix('-')) {
                (true, Some(ascending)) => ascending.to_string(),
                (true, None) => format!("-{f}"),
                (false, _) => f,
            })
            .collect();
        self.order_by(order)
            .slice(..1)
            .fetch_instances()?
            .into_iter()
            .next()
            .ok_or_else(|| {
                Error::DoesNotExist(format!(
                    "{} matching query does not exist.",
                    self.display_model_name()
                ))
            })
    }

    /// `contains(obj)`: whether `instance` is among the QuerySet's rows (by primary key).
    pub fn contains(&self, instance: &Instance) -> Result<bool> {
        if self.query.values.is_some() {
            return Err(Error::TypeError(
                "Cannot call QuerySet.contains() after .values() or .values_list().".into(),
            ));
        }
        let model = self.db.model(&self.model)?;
        if !instance.model_name().eq_ignore_ascii_case(model.name()) {
            return Ok(false);
        }
        let pk = instance.pk();
        if pk.is_null() {
            return Err(Error::ValueError(
                "QuerySet.contains() cannot be used on unsaved objects.".into(),
            ));
        }
        self.filter(Q::new("pk", pk)).exists()
    }

    /// `in_bulk(ids, field_name)`: the rows whose `field_name` (a unique field, or `"pk"`) is
    /// among `ids` (`None`: every row), keyed by that value. An empty `ids` runs no query.
    pub fn in_bulk(&self, ids: Option<Vec<ScalarValue>>, field_name: &str) -> Result<InBulk> {
        if self.query.is_sliced() {
            return Err(Error::TypeError(
                "Cannot use 'limit' or 'offset' with in_bulk().".into(),
            ));
        }
        if self.query.values.is_some() {
            return Err(Error::TypeError(
                "in_bulk() cannot be used with values() or values_list().".into(),
            ));
        }
        let model = self.db.model(&self.model)?;
        let field = if field_name == "pk" {
            model.pk_field()?
        } else {
            model.get_field(field_name).ok_or_else(|| {
                Error::FieldError(format!(
                    "{} has no field named '{field_name}'",
                    model.name()
                ))
            })?
        };
        if !(field.spec().unique || field.is_primary_key()) {
            return Err(Error::ValueError(format!(
                "in_bulk()'s field_name must be a unique field but '{field_name}' isn't."
            )));
        }
        let qs = match ids {
            Some(ids) if ids.is_empty() => return Ok(InBulk::default()),
            Some(ids) => self.filter(Q::new(&format!("{field_name}__in"), ids)),
            None => self.clone(),
        };
        let key = field.attname().to_string();
        let mut out = InBulk::default();
        for instance in qs.fetch_instances()? {
            out.insert(instance.get_value(&key)?, instance);
        }
        Ok(out)
    }

    /// The PostgreSQL-dialect SQL of the QuerySet (Django's `str(qs.query)`).
    pub fn sql(&self) -> Result<String> {
        Ok(quiver_engine::sql::plan_to_sql(
            self.query_plan()?.as_ref(),
        )?)
    }

    /// EXPLAIN: the logical plan before and after optimization and the physical plan.
    pub fn explain(&self) -> Result<String> {
        Ok(self.db.session().explain(self.query_plan()?, false)?)
    }

    /// EXPLAIN ANALYZE: runs the query and shows each operator's rows and time.
    pub fn explain_analyze(&self) -> Result<String> {
        let plan = self.query_plan()?;
        let text = self.db.session().explain(plan, true)?;
        self.db.count_query();
        Ok(text)
    }

    /// Runs a compiled query (or not, when it is known to be empty).
    fn run(&self, compiled: CompiledQuery) -> Result<Rows> {
        if compiled.empty {
            return Ok(Rows::new(compiled.plan.schema().arrow_schema(), vec![]));
        }
        let result = self.db.execute(compiled.plan)?;
        Ok(Rows::new(result.schema, result.batches))
    }

    fn single_row(&self, compiled: CompiledQuery) -> Result<Row> {
        self.run(compiled)?.first().ok_or_else(|| {
            Error::Engine(quiver_engine::EngineError::Internal(
                "an aggregate without GROUP BY returned no row".into(),
            ))
        })
    }

    /// Django's `QuerySet.ordered`.
    fn is_ordered(&self, model: &Model) -> bool {
        self.has_explicit_ordering()
            || (self.query.ordering.is_none()
                && !model.default_ordering().is_empty()
                && self.query.group_by == GroupBy::None)
    }

    /// Django refuses `first()`/`last()` on an unordered `values(...).annotate(agg)`: ordering
    /// by the primary key would split its groups.
    fn check_first_last_aggregation(&self, model: &Model, method: &str) -> Result<()> {
        if let GroupBy::Fields(names) = &self.query.group_by {
            let pk = model.pk().map(|f| f.name()).unwrap_or("pk");
            if !names.iter().any(|n| n == "pk" || n == pk) {
                return Err(Error::TypeError(format!(
                    "Cannot use QuerySet.{method}() on an unordered queryset performing \
                     aggregation. Add an ordering with order_by()."
                )));
            }
        }
        Ok(())
    }

    fn display_model_name(&self) -> String {
        self.db
            .model(&self.model)
            .map(|m| m.name().to_string())
            .unwrap_or_else(|_| self.model.clone())
    }
}

/// Rows as instances of `model`.
fn instances(model: &Model, rows: &Rows) -> Vec<Instance> {
    let pk = model
        .pk()
        .map(|f| f.attname().to_string())
        .filter(|name| rows.columns().contains(name));
    rows.iter()
        .map(|row| Instance::new(model.name(), pk.clone(), row))
        .collect()
}
