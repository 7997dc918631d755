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
use crate::expressions::Q;
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
        let mut found = super::eager::instances_with_related(self, &model, &rows)?;
        super::eager::prefetch_for(self, &mut found)?;
        Ok(found)
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
        if compiled.empty {
            return Ok(0);
        }
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
    /// (worded as Django's). `get(Q::all())` — Django's `get()` without arguments — also
    /// works on a sliced QuerySet (`qs[:1].get()`).
    pub fn get(&self, q: impl Into<Q>) -> Result<Instance> {
        let q = q.into();
        let filtered = if q.is_empty() {
            self.clone()
        } else {
            self.filter(q)
        };
        let unordered = if filtered.query.is_sliced() {
            filtered
        } else {
            filtered.clear_ordering()
        };
        let qs = unordered.slice(..MAX_GET_RESULTS as isize);
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
            Some(ids) => self.filter(Q::new(format!("{field_name}__in"), ids)),
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

    /// Runs an aggregate query; it always has its one row (NULLs and zero counts over no
    /// rows), so it runs even when its WHERE is known to be false.
    fn single_row(&self, compiled: CompiledQuery) -> Result<Row> {
        let result = self.db.execute(compiled.plan)?;
        Rows::new(result.schema, result.batches)
            .first()
            .ok_or_else(|| {
                Error::Engine(quiver_engine::EngineError::Internal(
                    "an aggregate without GROUP BY returned no row".into(),
                ))
            })
    }

    /// Django's `QuerySet.ordered`.
    pub(crate) fn is_ordered(&self, model: &Model) -> bool {
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
pub(crate) fn instances(model: &Model, rows: &Rows) -> Vec<Instance> {
    let pk = model
        .pk()
        .map(|f| f.attname().to_string())
        .filter(|name| rows.columns().contains(name));
    rows.iter()
        .map(|row| Instance::new(model.name(), pk.clone(), row))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expressions::{Avg, Count, Max, Sum, F, Q};
    use crate::q;
    use crate::queryset::fixtures::shop;

    fn names(qs: &QuerySet) -> Vec<String> {
        qs.fetch().unwrap().column::<String>("name").unwrap()
    }

    fn ids(qs: &QuerySet) -> Vec<i64> {
        qs.fetch().unwrap().column::<i64>("id").unwrap()
    }

    #[test]
    fn meta_ordering_reverse_first_and_last() {
        let db = shop();
        let customers = db.objects("Customer");
        assert_eq!(names(&customers), ["Ann", "Bob", "Cid", "Dee"]);
        assert_eq!(names(&customers.reverse()), ["Dee", "Cid", "Bob", "Ann"]);
        assert_eq!(
            names(&customers.reverse().reverse()),
            ["Ann", "Bob", "Cid", "Dee"]
        );
        let first = customers.first().unwrap().unwrap();
        assert_eq!(first.get::<String>("name").unwrap(), "Ann");
        let last = customers.last().unwrap().unwrap();
        assert_eq!(last.get::<String>("name").unwrap(), "Dee");
        // Order has no Meta.ordering: first/last go by primary key.
        let orders = db.objects("Order");
        assert_eq!(
            orders.first().unwrap().unwrap().pk(),
            ScalarValue::Int64(Some(1))
        );
        assert_eq!(
            orders.last().unwrap().unwrap().pk(),
            ScalarValue::Int64(Some(5))
        );
        let biggest = orders.order_by(["-amount"]).first().unwrap().unwrap();
        assert_eq!(biggest.get::<i64>("amount").unwrap(), 250);
        assert!(orders
            .filter(q!(amount__gt = 1000))
            .first()
            .unwrap()
            .is_none());
    }

    #[test]
    fn nulls_sort_last_ascending_and_first_descending() {
        let db = shop();
        let regions = |qs: &QuerySet| {
            qs.fetch()
                .unwrap()
                .column::<Option<String>>("region")
                .unwrap()
        };
        let by_region = db.objects("Customer").order_by(["region", "name"]);
        let eu = Some("EU".to_string());
        let us = Some("US".to_string());
        assert_eq!(
            regions(&by_region),
            [eu.clone(), eu.clone(), us.clone(), None]
        );
        let desc = db.objects("Customer").order_by(["-region", "name"]);
        assert_eq!(regions(&desc), [None, us, eu.clone(), eu]);
    }

    #[test]
    fn filter_and_exclude_together_return_every_row() {
        let db = shop();
        let customers = db.objects("Customer");
        let eu = customers.filter(q!(region = "EU"));
        let not_eu = customers.exclude(q!(region = "EU"));
        assert_eq!(names(&eu), ["Ann", "Dee"]);
        // Cid's region is NULL: exclude() keeps him, as Django does.
        assert_eq!(names(&not_eu), ["Bob", "Cid"]);
        assert_eq!(names(&customers.filter(q!(region = None::<&str>))), ["Cid"]);
    }

    #[test]
    fn an_empty_in_list_matches_nothing_and_runs_no_query() {
        let db = shop();
        let before = db.query_count();
        let rows = db
            .objects("Order")
            .filter(q!(id__in = Vec::<i64>::new()))
            .fetch()
            .unwrap();
        assert!(rows.is_empty());
        assert_eq!(rows.columns().len(), 5);
        let none = db.objects("Order").none();
        assert!(none.fetch().unwrap().is_empty());
        assert_eq!(none.count().unwrap(), 0);
        assert_eq!(db.query_count(), before);
        assert!(db.objects("Order").fetch().is_ok());
        assert_eq!(db.query_count(), before + 1);
    }

    #[test]
    fn slices_compose_and_index() {
        let db = shop();
        let customers = db.objects("Customer");
        assert_eq!(names(&customers.slice(1..3)), ["Bob", "Cid"]);
        assert_eq!(names(&customers.slice(1..).slice(1..)), ["Cid", "Dee"]);
        assert_eq!(names(&customers.slice(..3).slice(2..10)), ["Cid"]);
        assert!(names(&customers.slice(3..3)).is_empty());
        let third = customers.get_index(2).unwrap();
        assert_eq!(third.get::<String>("name").unwrap(), "Cid");
        let err = customers.get_index(9).unwrap_err();
        assert_eq!(
            (err.django_name(), err.to_string().as_str()),
            ("IndexError", "list index out of range")
        );
        let err = customers.get_index(-1).unwrap_err();
        assert_eq!(err.to_string(), "Negative indexing is not supported.");
        let err = customers
            .slice(..2)
            .filter(q!(name = "Ann"))
            .fetch()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Cannot filter a query once a slice has been taken."
        );
    }

    #[test]
    fn get_reports_django_errors() {
        let db = shop();
        let customers = db.objects("Customer");
        let ann = customers.get(q!(name = "Ann")).unwrap();
        assert_eq!(ann.pk(), ScalarValue::Int64(Some(1)));
        assert_eq!(ann.model_name(), "Customer");
        let err = customers.get(q!(name = "Zed")).unwrap_err();
        assert_eq!(err.django_name(), "DoesNotExist");
        assert_eq!(err.to_string(), "Customer matching query does not exist.");
        let only = customers.filter(q!(name = "Bob")).get(Q::all()).unwrap();
        assert_eq!(only.pk(), ScalarValue::Int64(Some(2)));
        let sliced = customers.slice(1..2).get(Q::all()).unwrap();
        assert_eq!(sliced.get::<String>("name").unwrap(), "Bob");
        let err = customers.get(q!(region = "EU")).unwrap_err();
        assert_eq!(err.django_name(), "MultipleObjectsReturned");
        assert_eq!(
            err.to_string(),
            "get() returned more than one Customer -- it returned 2!"
        );
    }

    #[test]
    fn values_and_values_list_name_their_columns() {
        let db = shop();
        let rows = db
            .objects("Order")
            .values(["id", "customer", "amount"])
            .order_by(["-amount"])
            .slice(..2)
            .fetch()
            .unwrap();
        assert_eq!(rows.columns(), ["id", "customer", "amount"]);
        assert_eq!(rows.column::<i64>("customer").unwrap(), [1, 1]);
        assert_eq!(
            rows.first().unwrap().to_string(),
            "{id: 2, customer: 1, amount: 250}"
        );
        let statuses = db
            .objects("Order")
            .values_list(["status"])
            .flat()
            .distinct()
            .order_by(["status"])
            .fetch_flat::<String>()
            .unwrap();
        assert_eq!(statuses, ["cancelled", "new", "paid"]);
        let all = db
            .objects("Country")
            .values(Vec::<String>::new())
            .fetch()
            .unwrap();
        assert_eq!(all.columns(), ["id", "name"]);
    }

    #[test]
    fn only_defer_contains_in_bulk_exists() {
        let db = shop();
        let orders = db.objects("Order");
        let only = orders.only(["amount"]).fetch().unwrap();
        assert_eq!(only.columns(), ["id", "amount"]);
        let ann = db.objects("Customer").get(q!(name = "Ann")).unwrap();
        assert!(db.objects("Customer").contains(&ann).unwrap());
        assert!(!db
            .objects("Customer")
            .exclude(q!(name = "Ann"))
            .contains(&ann)
            .unwrap());
        let err = db
            .objects("Customer")
            .values(["name"])
            .contains(&ann)
            .unwrap_err();
        assert_eq!(err.django_name(), "TypeError");
        let bulk = db
            .objects("Customer")
            .in_bulk(Some(vec![1i64.into(), 3i64.into(), 99i64.into()]), "pk")
            .unwrap();
        assert_eq!(bulk.len(), 2);
        assert_eq!(
            bulk.get(3i64).unwrap().get::<String>("name").unwrap(),
            "Cid"
        );
        assert!(bulk.get(99i64).is_none());
        let before = db.query_count();
        assert!(db
            .objects("Customer")
            .in_bulk(Some(vec![]), "pk")
            .unwrap()
            .is_empty());
        assert_eq!(db.query_count(), before);
        let err = db.objects("Customer").in_bulk(None, "name").unwrap_err();
        assert_eq!(
            err.to_string(),
            "in_bulk()'s field_name must be a unique field but 'name' isn't."
        );
        assert!(orders.filter(q!(status = "paid")).exists().unwrap());
        assert!(!orders.filter(q!(status = "lost")).exists().unwrap());
    }

    #[test]
    fn latest_and_earliest() {
        let db = shop();
        let orders = db.objects("Order");
        assert_eq!(
            orders.latest(["amount"]).unwrap().pk(),
            ScalarValue::Int64(Some(2))
        );
        assert_eq!(
            orders.earliest(["amount"]).unwrap().pk(),
            ScalarValue::Int64(Some(5))
        );
        assert_eq!(
            orders.latest(["-amount"]).unwrap().pk(),
            ScalarValue::Int64(Some(5))
        );
        let err = orders.latest(Vec::<String>::new()).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("earliest() and latest() require"));
        let err = orders
            .filter(q!(amount__gt = 999))
            .latest(["amount"])
            .unwrap_err();
        assert_eq!(err.to_string(), "Order matching query does not exist.");
    }

    #[test]
    fn random_order_is_a_permutation() {
        let db = shop();
        let mut shuffled = ids(&db.objects("Order").order_by(["?"]));
        shuffled.sort_unstable();
        assert_eq!(shuffled, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn create_returns_the_stored_instance() {
        let db = shop();
        let eve = db
            .objects("Customer")
            .create([("name", "Eve".into())])
            .unwrap();
        assert_eq!(eve.pk(), ScalarValue::Int64(Some(5)));
        assert_eq!(eve.get::<Option<String>>("region").unwrap(), None);
        let order = db
            .objects("Order")
            .create([("customer", (&eve).into()), ("amount", 5i64.into())])
            .unwrap();
        assert_eq!(order.get::<String>("status").unwrap(), "new");
        assert_eq!(order.get::<i64>("customer").unwrap(), 5);
        assert_eq!(names(&db.objects("Customer").slice(4..)), ["Eve"]);
    }

    #[test]
    fn sql_shows_the_grouping_like_djangos_str_query() {
        let db = shop();
        let qs = db
            .objects("Customer")
            .values(["region"])
            .annotate([("n", Count("id"))])
            .order_by(["name"]);
        assert_eq!(
            qs.sql().unwrap(),
            "SELECT \"customer\".\"region\", count(\"customer\".\"id\") AS \"n\" FROM \"customer\" \
             AS \"customer\" GROUP BY \"customer\".\"region\", \"customer\".\"name\" ORDER BY \
             \"customer\".\"name\" ASC NULLS LAST"
        );
    }

    // The tests below need the engine's hash aggregate and hash join.

    #[test]
    fn count_and_aggregate() {
        let db = shop();
        let orders = db.objects("Order");
        assert_eq!(orders.count().unwrap(), 5);
        assert_eq!(orders.filter(q!(status = "paid")).count().unwrap(), 2);
        let stats = orders
            .aggregate([
                Sum("amount").into(),
                AggregateArg::from(("top", Max("amount"))),
            ])
            .unwrap();
        assert_eq!(stats.columns(), ["amount__sum", "top"]);
        assert_eq!(stats.get::<i64>("amount__sum").unwrap(), 475);
        assert_eq!(stats.get::<i32>("top").unwrap(), 250);
        // Over a slice: the two largest orders only.
        let top_two = orders.order_by(["-amount"]).slice(..2);
        assert_eq!(top_two.count().unwrap(), 2);
        let sum = top_two.aggregate([Sum("amount")]).unwrap();
        assert_eq!(sum.get::<i64>("amount__sum").unwrap(), 350);
        // Over nothing: NULL, except Count.
        let empty = orders.filter(q!(amount__gt = 999)).aggregate([
            AggregateArg::from(Sum("amount")),
            AggregateArg::from(Count("id")),
        ]);
        let empty = empty.unwrap();
        assert_eq!(empty.get::<Option<i64>>("amount__sum").unwrap(), None);
        assert_eq!(empty.get::<i64>("id__count").unwrap(), 0);
        let err = orders.aggregate([F("amount") * 2]).unwrap_err();
        assert_eq!(err.to_string(), "Complex aggregates require an alias");
        let err = orders.aggregate([("x", F("amount"))]).unwrap_err();
        assert_eq!(err.to_string(), "x is not an aggregate expression");
    }

    #[test]
    fn values_then_annotate_groups_and_having_filters_groups() {
        let db = shop();
        let by_status = db
            .objects("Order")
            .values(["status"])
            .annotate([("n", Count("id")), ("total", Sum("amount"))])
            .order_by(["status"])
            .fetch()
            .unwrap();
        assert_eq!(by_status.columns(), ["status", "n", "total"]);
        assert_eq!(
            by_status.column::<String>("status").unwrap(),
            ["cancelled", "new", "paid"]
        );
        assert_eq!(by_status.column::<i64>("n").unwrap(), [1, 2, 2]);
        assert_eq!(by_status.column::<i64>("total").unwrap(), [40, 110, 325]);
        let big = db
            .objects("Order")
            .values(["status"])
            .annotate([("total", Sum("amount"))])
            .filter(q!(total__gt = 100))
            .order_by(["-total"]);
        let rows = big.fetch().unwrap();
        assert_eq!(rows.column::<String>("status").unwrap(), ["paid", "new"]);
        // Aggregating the groups: a subquery.
        let avg = db
            .objects("Order")
            .values(["status"])
            .annotate([("total", Sum("amount"))])
            .aggregate([Avg("total")])
            .unwrap();
        assert!((avg.get::<f64>("total__avg").unwrap() - 475.0 / 3.0).abs() < 1e-9);
        assert_eq!(
            db.objects("Order")
                .values(["status"])
                .annotate([("n", Count("id"))])
                .count()
                .unwrap(),
            3
        );
    }

    #[test]
    fn ordering_by_an_ungrouped_field_splits_groups() {
        let db = shop();
        let rows = db
            .objects("Customer")
            .values(["region"])
            .annotate([("n", Count("id"))])
            .order_by(["name"])
            .fetch()
            .unwrap();
        // One group per customer now (Ann EU, Bob US, Cid NULL, Dee EU), in name order.
        assert_eq!(rows.column::<i64>("n").unwrap(), [1, 1, 1, 1]);
        let unsplit = db
            .objects("Customer")
            .values(["region"])
            .annotate([("n", Count("id"))])
            .order_by(["region"])
            .fetch()
            .unwrap();
        assert_eq!(unsplit.column::<i64>("n").unwrap(), [2, 1, 1]);
    }

    #[test]
    fn annotate_on_model_rows_and_first_on_grouped_values() {
        let db = shop();
        let customers = db
            .objects("Order")
            .annotate([("double", Sum("amount"))])
            .order_by(["id"])
            .values(["id", "double"])
            .fetch()
            .unwrap();
        assert_eq!(
            customers.column::<i64>("double").unwrap(),
            [100, 250, 40, 75, 10]
        );
        let err = db
            .objects("Order")
            .values(["status"])
            .annotate([("n", Count("id"))])
            .first()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Cannot use QuerySet.first() on an unordered queryset performing aggregation. Add \
             an ordering with order_by()."
        );
    }

    #[test]
    fn forward_relations_in_filter_values_and_order_by() {
        let db = shop();
        let orders = db.objects("Order");
        let eu = orders.filter(q!(customer__region = "EU")).order_by(["id"]);
        assert_eq!(ids(&eu), [1, 2, 4]);
        let rows = orders
            .filter(q!(referrer__isnull = false))
            .values([
                "id",
                "customer__name",
                "referrer__name",
                "customer__country__name",
            ])
            .order_by(["id"])
            .fetch()
            .unwrap();
        assert_eq!(
            rows.column::<String>("customer__name").unwrap(),
            ["Ann", "Bob"]
        );
        assert_eq!(
            rows.column::<String>("referrer__name").unwrap(),
            ["Bob", "Ann"]
        );
        assert_eq!(
            rows.column::<Option<String>>("customer__country__name")
                .unwrap(),
            [Some("NL".to_string()), None]
        );
        // Ordering by a relation uses the related model's Meta.ordering (Customer: name).
        let by_customer = orders.order_by(["customer", "-amount"]);
        assert_eq!(ids(&by_customer), [2, 1, 3, 5, 4]);
        let by_country = db.objects("Customer").order_by(["country__name", "name"]);
        assert_eq!(names(&by_country), ["Cid", "Ann", "Dee", "Bob"]);
        let per_region = orders
            .values(["customer__region"])
            .annotate([("total", Sum("amount"))])
            .order_by(["customer__region"])
            .fetch()
            .unwrap();
        assert_eq!(per_region.column::<i64>("total").unwrap(), [425, 40, 10]);
    }

    #[test]
    fn reverse_relations_count_and_filter_like_django() {
        let db = shop();
        let customers = db.objects("Customer");
        let counted = customers
            .annotate([
                ("n", Count("orders")),
                ("referred", Count("referred_orders")),
            ])
            .order_by(["name"])
            .fetch()
            .unwrap();
        // Two multi-valued joins multiply each other: Ann's 2 orders × 1 referred order give
        // her a referred count of 2 — Django's documented inflation, reproduced (Django 5.1
        // returns [(2, 2), (1, 1), (1, 0), (1, 0)] for the same QuerySet).
        assert_eq!(counted.column::<i64>("n").unwrap(), [2, 1, 1, 1]);
        assert_eq!(counted.column::<i64>("referred").unwrap(), [2, 1, 0, 0]);
        let distinct = customers
            .annotate([
                ("n", Count("orders").distinct()),
                ("referred", Count("referred_orders").distinct()),
            ])
            .order_by(["name"])
            .fetch()
            .unwrap();
        assert_eq!(distinct.column::<i64>("referred").unwrap(), [1, 1, 0, 0]);
        assert_eq!(
            names(&customers.filter(q!(referred_orders__isnull = true))),
            ["Cid", "Dee"]
        );
        let pairs = |qs: &QuerySet| {
            let rows = qs.order_by(["name"]).fetch().unwrap();
            let names = rows.column::<String>("name").unwrap();
            names
                .into_iter()
                .zip(rows.column::<i64>("n").unwrap())
                .collect::<Vec<_>>()
        };
        // filter() then annotate(): only the matching orders are counted.
        let filtered_first = customers
            .filter(q!(orders__amount__gt = 50))
            .annotate([("n", Count("orders"))]);
        assert_eq!(
            pairs(&filtered_first),
            [("Ann".to_string(), 2), ("Dee".to_string(), 1)]
        );
        // annotate() then filter(): a second join multiplies Ann's two orders by her two
        // matching ones — Django's documented inflation, reproduced.
        let annotated_first = customers
            .annotate([("n", Count("orders"))])
            .filter(q!(orders__amount__gt = 50));
        assert_eq!(
            pairs(&annotated_first),
            [("Ann".to_string(), 4), ("Dee".to_string(), 1)]
        );
        // A multi-valued filter repeats the parent per matching row.
        assert_eq!(
            names(&customers.filter(q!(orders__amount__gt = 50))),
            ["Ann", "Ann", "Dee"]
        );
        assert_eq!(
            names(&customers.filter(q!(orders__amount__gt = 50)).distinct()),
            ["Ann", "Dee"]
        );
    }

    #[test]
    fn aggregate_over_a_subquery_resolves_against_the_inner_query() {
        // Every expected value is Django 5.1.4's answer for the same QuerySet over the same
        // rows (/work/shared/django-oracle/django_runner.py --db sqlite).
        let db = shop();
        let orders = db.objects("Order");
        let aggregate = |qs: &QuerySet, items: Vec<AggregateArg>| qs.aggregate(items).unwrap();
        // Relations the sliced QuerySet does not select: joined inside the subquery.
        let window = orders.order_by(["id"]).slice(1..4);
        let row = aggregate(
            &window,
            vec![
                Count("customer__region").distinct().into(),
                Sum("customer__country__id").into(),
                ("paid_eu", Count("id").filter(q!(customer__region = "EU"))).into(),
                ("top", Max("customer__name")).into(),
            ],
        );
        assert_eq!(
            row.to_string(),
            "{customer__region__count: 2, customer__country__id__sum: 2, paid_eu: 2, top: 'Dee'}"
        );
        // The slice is taken of the joined rows: Ann's two orders are the first two.
        let two = db.objects("Customer").slice(..2);
        let row = aggregate(&two, vec![Count("orders").into()]);
        assert_eq!(row.get::<i64>("orders__count").unwrap(), 2);
        // Annotations are read from the subquery; other fields are hoisted next to them.
        let largest = orders
            .annotate([("double", F("amount") * 2)])
            .order_by(["-amount"])
            .slice(..2);
        let row = aggregate(
            &largest,
            vec![Sum("double").into(), Max("customer__name").into()],
        );
        assert_eq!(
            row.to_string(),
            "{double__sum: 700, customer__name__max: 'Ann'}"
        );
        // An aggregate over an aggregate annotation: the groups are computed, then averaged.
        let by_status = orders.values(["status"]).annotate([("n", Count("id"))]);
        let row = aggregate(&by_status, vec![Avg("n").into()]);
        assert!((row.get::<f64>("n__avg").unwrap() - 5.0 / 3.0).abs() < 1e-12);
        // A hoisted column joins the GROUP BY, as in Django (one group per status and amount).
        let row = aggregate(
            &by_status,
            vec![
                Sum("amount").into(),
                ("x", Sum(F("n") + F("amount"))).into(),
            ],
        );
        assert_eq!(row.to_string(), "{amount__sum: 475, x: 480}");
        let per_customer = db.objects("Customer").annotate([("n", Count("orders"))]);
        let row = aggregate(&per_customer, vec![Sum("n").into(), Count("id").into()]);
        assert_eq!(row.to_string(), "{n__sum: 5, id__count: 4}");
        // Grouping by the order amount too splits Ann's group in two.
        let row = aggregate(
            &per_customer,
            vec![
                Sum("n").into(),
                Count("id").into(),
                Sum("orders__amount").into(),
            ],
        );
        assert_eq!(
            row.to_string(),
            "{n__sum: 5, id__count: 5, orders__amount__sum: 475}"
        );
        // distinct(): the hoisted columns take part in the DISTINCT.
        let customers = orders.values(["customer"]).distinct();
        let row = aggregate(&customers, vec![Count("customer").into()]);
        assert_eq!(row.get::<i64>("customer__count").unwrap(), 4);
        let row = aggregate(
            &customers,
            vec![Count("customer").into(), Sum("amount").into()],
        );
        assert_eq!(row.to_string(), "{customer__count: 5, amount__sum: 475}");
        // A non-aggregate annotation after the grouping splits the groups for count() too.
        let late = by_status.annotate([("z", F("amount"))]);
        assert_eq!(late.count().unwrap(), 5);
        assert_eq!(late.fetch().unwrap().len(), 5);
        // Nothing to aggregate: NULL, and 0 for Count.
        let row = aggregate(
            &orders.none().slice(..3),
            vec![Sum("customer__country__id").into(), Count("id").into()],
        );
        assert_eq!(
            row.to_string(),
            "{customer__country__id__sum: None, id__count: 0}"
        );
    }

    #[test]
    fn aggregate_reads_only_selected_annotations_and_keeps_values_joins() {
        let db = shop();
        let orders = db.objects("Order");
        let refused = "Cannot aggregate over the 'double' alias. Use annotate() to promote it.";
        let aliased = orders.alias([("double", F("amount") * 2)]);
        let masked = orders
            .annotate([("double", F("amount") * 2)])
            .values(["status"]);
        for qs in [&aliased, &aliased.slice(..2), &masked, &masked.slice(..3)] {
            let err = qs.aggregate([Sum("double")]).unwrap_err();
            assert_eq!(
                (err.django_name(), err.to_string().as_str()),
                ("FieldError", refused)
            );
        }
        let err = orders
            .annotate([("n", Count("id"))])
            .values(["status"])
            .aggregate([Sum("n")])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Cannot aggregate over the 'n' alias. Use annotate() to promote it."
        );
        // A values() path through a reverse relation repeats customers in Django's FROM
        // clause, so aggregate() and count() see the five joined rows that fetch() returns.
        let joined = db.objects("Customer").values(["orders__amount"]);
        let row = joined.aggregate([Count("id")]).unwrap();
        assert_eq!(row.get::<i64>("id__count").unwrap(), 5);
        assert_eq!(joined.count().unwrap(), 5);
        assert_eq!(joined.fetch().unwrap().len(), 5);
    }

    #[test]
    fn annotation_names_may_contain_the_separator() {
        // Django's default alias `id__max` is found by its whole name in filter(), order_by(),
        // F() and aggregate() (Django 5.1.4 gives the same rows and values).
        let db = shop();
        let latest = db
            .objects("Order")
            .values(["status"])
            .annotate([("id__max", Max("id"))]);
        let rows = latest
            .filter(q!(id__max__gt = 2))
            .order_by(["-id__max"])
            .fetch()
            .unwrap();
        assert_eq!(
            rows.column::<String>("status").unwrap(),
            ["new", "paid", "cancelled"]
        );
        assert_eq!(rows.column::<i64>("id__max").unwrap(), [5, 4, 3]);
        let next = latest
            .annotate([("x", F("id__max") + 1)])
            .order_by(["status"])
            .fetch()
            .unwrap();
        assert_eq!(next.column::<i64>("x").unwrap(), [4, 6, 5]);
        let row = latest.aggregate([Avg("id__max")]).unwrap();
        assert_eq!(row.get::<f64>("id__max__avg").unwrap(), 4.0);
    }
}
