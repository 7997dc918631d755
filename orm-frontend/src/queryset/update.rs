//! `QuerySet.update(**kwargs)` and the plain `delete_rows()` primitive: transactional,
//! row-locking writes of the rows a QuerySet matches.
//!
//! Both follow PostgreSQL's READ COMMITTED `UPDATE`/`DELETE`: find the matching rows, lock
//! them (waiting for other writers), then re-read them as now committed and re-check the
//! filter, so a concurrent `update(n=F("n") + 1)` is applied on top of the other one instead of
//! overwriting it. The new values of an update are computed by the engine in one vectorized
//! pass: the QuerySet annotated with each new value's expression (`F`, `Case/When`, functions)
//! is executed over the locked rows, and the resulting columns become the rows' new images.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch};
use arrow::compute::kernels::cast::cast_with_options;
use arrow::compute::{concat_batches, filter_record_batch};
use quiver_engine::LogicalPlan;
use quiver_storage::{column_keys, LockWait, RowKey};

use super::queryset::DeferredLoading;
use crate::database::{not_null_violation, strict_cast};
use crate::error::{Error, Result};
use crate::expressions::{get_prep_value, Expression};
use crate::model::{Field, Model};
use crate::query_log::{delete_where_sql, internal_reads, update_sql};
use crate::queryset::{storage_error, QuerySet};

impl QuerySet {
    /// `update(**kwargs)`: sets fields of every matching row to values or expressions
    /// evaluated per row (`F("balance") - 10`, `Case(...)`, functions) and returns the number
    /// of rows matched. Refused on a sliced QuerySet and with expressions that reference
    /// related models (Django's errors).
    pub fn update<I, S, E>(&self, values: I) -> Result<usize>
    where
        I: IntoIterator<Item = (S, E)>,
        S: Into<String>,
        E: Into<Expression>,
    {
        if let Some(error) = &self.query.error {
            return Err(error.clone());
        }
        self.refuse_write_after_combination("update")?;
        if self.query.is_sliced() {
            return Err(Error::TypeError(
                "Cannot update a query once a slice has been taken.".into(),
            ));
        }
        let model = self.db.model(&self.model)?;
        let pk = model.pk_field()?.clone();
        let mut targets: Vec<(usize, Expression)> = Vec::new();
        for (name, expression) in values {
            let (name, expression): (String, Expression) = (name.into(), expression.into());
            let position = field_index(&model, &name)?;
            let field = &model.fields()[position];
            if expression.contains_aggregate() {
                return Err(Error::FieldError(format!(
                    "Aggregate functions are not allowed in this query ({}={}).",
                    field.name(),
                    resolved_repr(&model, &expression)
                )));
            }
            if let Some(error) = crate::expressions::refuse_window_in_write(&name, &expression) {
                return Err(error);
            }
            // A plain value goes through the field's `get_db_prep_save` as in Django's
            // SQLUpdateCompiler: `"7"` is stored as 7, `"x"` is its ValueError.
            let expression = match expression.direct_value() {
                Some(value) => Expression::from(get_prep_value(field.spec(), field.name(), value)?),
                None => expression,
            };
            targets.push((position, expression));
        }
        if targets.is_empty() {
            return Ok(0);
        }
        let base = self.write_base();
        let names: Vec<String> = (0..targets.len())
            .map(|i| format!("quiver_update_value_{i}"))
            .collect();
        let annotated = base.annotate(
            names
                .iter()
                .cloned()
                .zip(targets.iter().map(|(_, e)| e.clone())),
        );
        if count_joins(&annotated.query_plan()?) > count_joins(&base.query_plan()?) {
            return Err(Error::FieldError(
                "Joined field references are not permitted in this query".into(),
            ));
        }
        let table = self.db.catalog().table(&model.table_name())?;
        let started = Instant::now();
        // Django runs one UPDATE statement; the reads below are how Quiver carries it out:
        // the matching rows with their new values, read once, then locked. Only when some
        // commit came between the read and the locks (another writer held one of them, or
        // just committed) are they read again, as PostgreSQL re-reads a row it waited for.
        let updated = internal_reads(|| {
            self.db.write(|transaction| {
                let read_at = self.db.catalog().version();
                let first = annotated.to_batches()?;
                let mut keys = Vec::new();
                for batch in &first {
                    keys.extend(column_keys(column(batch, pk.attname())?).map_err(storage_error)?);
                }
                if keys.is_empty() {
                    return Ok(0);
                }
                let acquired = transaction
                    .lock_rows(table.name(), &keys, LockWait::Block)
                    .map_err(storage_error)?;
                let unchanged = self.db.catalog().version() == read_at;
                // Nothing committed since the read and no row read twice (a join can repeat
                // one): every row read is locked and written once, as read, so no per-row
                // filter is needed.
                let as_read = unchanged && acquired.len() == keys.len();
                let locked: HashSet<RowKey> = if as_read {
                    HashSet::new()
                } else {
                    acquired.into_iter().collect()
                };
                let current = if unchanged {
                    first
                } else {
                    annotated.to_batches()?
                };
                let mut seen = HashSet::new();
                let mut images = Vec::new();
                for batch in current {
                    let batch = if as_read {
                        batch
                    } else {
                        keep_keys(&batch, pk.attname(), &locked, &mut seen)?
                    };
                    if batch.num_rows() == 0 {
                        continue;
                    }
                    let columns = model
                        .fields()
                        .iter()
                        .enumerate()
                        .map(|(index, field)| {
                            let source = match targets.iter().position(|(p, _)| *p == index) {
                                Some(t) => &names[t],
                                None => field.attname(),
                            };
                            conform_column(&model, field, column(&batch, source)?)
                        })
                        .collect::<Result<Vec<_>>>()?;
                    images.push(
                        RecordBatch::try_new(table.schema(), columns)
                            .map_err(|e| Error::Engine(e.into()))?,
                    );
                }
                let image = concat_batches(&table.schema(), &images)
                    .map_err(|e| Error::Engine(e.into()))?;
                transaction.update(&table, &image).map_err(storage_error)?;
                Ok(image.num_rows())
            })
        });
        self.db
            .query_log()
            .record_statement(|| update_sql(self, &model, &targets), started.elapsed());
        updated
    }

    /// The matching rows of this model's table deleted under row locks, without the
    /// `on_delete` rules across relations that `delete()` (`delete.rs`) applies; foreign keys
    /// are still checked at commit. Returns Django's `(total, {"app.Model": count})`.
    pub fn delete_rows(&self) -> Result<(usize, BTreeMap<String, usize>)> {
        if let Some(error) = &self.query.error {
            return Err(error.clone());
        }
        self.refuse_write_after_combination("delete")?;
        if self.query.is_sliced() {
            return Err(Error::TypeError(
                "Cannot use 'limit' or 'offset' with delete().".into(),
            ));
        }
        if self.query.values.is_some() {
            return Err(Error::TypeError(
                "Cannot call delete() after .values() or .values_list()".into(),
            ));
        }
        let model = self.db.model(&self.model)?;
        let pk = model.pk_field()?.clone();
        let base = self.write_base();
        let table = self.db.catalog().table(&model.table_name())?;
        let started = Instant::now();
        let count = internal_reads(|| {
            self.db.write(|transaction| {
                let keys = matching_keys(&base, &pk)?;
                if keys.is_empty() {
                    return Ok(0);
                }
                let locked: HashSet<RowKey> = transaction
                    .lock_rows(table.name(), &keys, LockWait::Block)
                    .map_err(storage_error)?
                    .into_iter()
                    .collect();
                let still: Vec<RowKey> = matching_keys(&base, &pk)?
                    .into_iter()
                    .filter(|k| locked.contains(k))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                transaction.delete(&table, &still).map_err(storage_error)
            })
        });
        self.db
            .query_log()
            .record_statement(|| delete_where_sql(self, &model), started.elapsed());
        let count = count?;
        let mut counts = BTreeMap::new();
        if count > 0 {
            counts.insert(model_label(&model), count);
        }
        Ok((count, counts))
    }

    /// Django's `_not_support_combined_queries` for a write: "Calling QuerySet.update() after
    /// union() is not supported."
    pub(crate) fn refuse_write_after_combination(&self, operation: &str) -> Result<()> {
        match self
            .refuse_after_combination(operation)
            .and_then(|refused| refused.query.error)
        {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// The QuerySet a write reads: the same filters and annotations over whole model rows, in
    /// no particular order.
    pub(crate) fn write_base(&self) -> QuerySet {
        let mut qs = self.clone();
        qs.query.ordering = Some(vec![]);
        qs.query.values = None;
        qs.query.deferred = DeferredLoading {
            names: BTreeSet::new(),
            defer: true,
        };
        qs
    }
}

/// Django's `repr()` of an update value once resolved against `model`, as its
/// "Aggregate functions are not allowed" error quotes it: a model field reads
/// `Col(app_item, app.Item.n)` and a top-level arithmetic expression
/// `<CombinedExpression: … + Value(1)>`. (A `filter=` is shown as its `Q`, not as Django's
/// resolved lookup.)
pub(crate) fn resolved_repr(model: &Model, expression: &Expression) -> String {
    let text = expression.to_string();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find("F(") {
        let at_word_start = !rest[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let name_end = rest[start + 2..].find(')').map(|end| start + 2 + end);
        let field = name_end
            .filter(|_| at_word_start)
            .and_then(|end| crate::database::field_position(model, &rest[start + 2..end]))
            .map(|position| &model.fields()[position]);
        match (field, name_end) {
            (Some(field), Some(end)) => {
                out.push_str(&rest[..start]);
                out.push_str(&format!(
                    "Col({}, {}.{})",
                    model.table_name(),
                    model_label(model),
                    field.name()
                ));
                rest = &rest[end + 1..];
            }
            _ => {
                out.push_str(&rest[..start + 2]);
                rest = &rest[start + 2..];
            }
        }
    }
    out.push_str(rest);
    match expression {
        Expression::Combined { .. } => format!("<CombinedExpression: {out}>"),
        _ => out,
    }
}

/// Django's `Model._meta.label` (`"app.Customer"`).
pub(crate) fn model_label(model: &Model) -> String {
    format!("{}.{}", super::APP_LABEL, model.name())
}

/// The position of a concrete field named by name or attname (or `pk`).
pub(crate) fn field_index(model: &Model, name: &str) -> Result<usize> {
    crate::database::field_position(model, name)
        .ok_or_else(|| Error::FieldError(format!("{} has no field named '{name}'", model.name())))
}

/// The primary keys of the rows `qs` matches (in its slice, if any).
/// A write's own read, so not logged.
pub(crate) fn matching_keys(qs: &QuerySet, pk: &Field) -> Result<Vec<RowKey>> {
    let mut keys = Vec::new();
    for batch in internal_reads(|| qs.values([pk.attname()]).to_batches())? {
        keys.extend(column_keys(batch.column(0)).map_err(storage_error)?);
    }
    Ok(keys)
}

/// The rows of `batch` whose key (column `pk`) is in `keys` and not yet in `seen`.
pub(crate) fn keep_keys(
    batch: &RecordBatch,
    pk: &str,
    keys: &HashSet<RowKey>,
    seen: &mut HashSet<RowKey>,
) -> Result<RecordBatch> {
    let row_keys = column_keys(column(batch, pk)?).map_err(storage_error)?;
    let keep: BooleanArray = row_keys
        .into_iter()
        .map(|k| Some(keys.contains(&k) && seen.insert(k)))
        .collect();
    filter_record_batch(batch, &keep).map_err(|e| Error::Engine(e.into()))
}

/// Column `name` of a result batch.
pub(crate) fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch
        .schema()
        .index_of(name)
        .map(|i| batch.column(i))
        .map_err(|_| {
            Error::Engine(quiver_engine::EngineError::Internal(format!(
                "column {name} missing from a write's read"
            )))
        })
}

/// A computed column cast to the field's type (out-of-range values are a `DataError`), with
/// NOT NULL checked.
pub(crate) fn conform_column(model: &Model, field: &Field, array: &ArrayRef) -> Result<ArrayRef> {
    let array = if array.data_type() == field.data_type() {
        Arc::clone(array)
    } else {
        cast_with_options(array.as_ref(), field.data_type(), &strict_cast()).map_err(|e| {
            Error::DataError(format!(
                "value out of range for column \"{}\": {e}",
                field.column()
            ))
        })?
    };
    if !field.is_nullable() && array.null_count() > 0 {
        return Err(not_null_violation(model, field));
    }
    Ok(array)
}

fn count_joins(plan: &Arc<LogicalPlan>) -> usize {
    let own = usize::from(matches!(plan.as_ref(), LogicalPlan::Join(_)));
    own + plan.inputs().into_iter().map(count_joins).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expressions::{Case, When, F};
    use crate::model::{CharField, ForeignKey, IntegerField, OnDelete};
    use crate::q;
    use crate::Database;

    fn db() -> Database {
        let db = Database::new();
        db.register(Model::new("Branch").field("city", CharField::new(20)))
            .unwrap();
        db.register(
            Model::new("Account")
                .field(
                    "branch",
                    ForeignKey::new("Branch", OnDelete::Cascade).null(),
                )
                .field("owner", CharField::new(20))
                .field("balance", IntegerField::new()),
        )
        .unwrap();
        let branch = db
            .objects("Branch")
            .create([("city", "Oslo".into())])
            .unwrap();
        for (owner, balance) in [("ann", 100i64), ("bob", 50), ("cy", 0)] {
            db.objects("Account")
                .create([
                    ("owner", owner.into()),
                    ("balance", balance.into()),
                    ("branch", (&branch).into()),
                ])
                .unwrap();
        }
        db
    }

    fn balances(db: &Database) -> Vec<i64> {
        db.objects("Account")
            .order_by(["owner"])
            .fetch()
            .unwrap()
            .column::<i64>("balance")
            .unwrap()
    }

    #[test]
    fn update_with_f_and_case_returns_the_row_count() {
        let db = db();
        let n = db
            .objects("Account")
            .filter(q!(balance__gt = 10))
            .update([("balance", F("balance") + 5)])
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(balances(&db), [105, 55, 0]);
        let n = db
            .objects("Account")
            .filter(q!(branch__city = "Oslo"))
            .update([(
                "balance",
                Case(vec![When(q!(owner = "cy"), F("balance") + 1)]).default(F("balance") * 2),
            )])
            .unwrap();
        assert_eq!(n, 3);
        assert_eq!(balances(&db), [210, 110, 1]);
    }

    #[test]
    fn update_refuses_slices_related_references_and_nulls() {
        let db = db();
        let err = db
            .objects("Account")
            .slice(0..1)
            .update([("balance", 1i64)])
            .unwrap_err();
        assert_eq!(
            (err.django_name(), err.to_string().as_str()),
            (
                "TypeError",
                "Cannot update a query once a slice has been taken."
            )
        );
        let err = db
            .objects("Account")
            .update([("owner", F("branch__city"))])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Joined field references are not permitted in this query"
        );
        let err = db
            .objects("Account")
            .update([("owner", Expression::from(quiver_engine::ScalarValue::Null))])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "null value in column \"owner\" of relation \"account\" violates not-null constraint"
        );
        let err = db.objects("Account").update([("nope", 1i64)]).unwrap_err();
        assert_eq!(err.to_string(), "Account has no field named 'nope'");
        assert_eq!(balances(&db), [100, 50, 0]);
    }

    /// Messages from `django_runner.py orm-frontend/tests/django/update_errors.py --db sqlite`
    /// (`update_errors.expected.jsonl`, Django 5.1.4); Django's `Col` alias is its table
    /// name, here `account`.
    #[test]
    fn update_errors_read_as_djangos() {
        use crate::expressions::{Count, Max, Sum};
        let db = db();
        let error = |result: Result<usize>| {
            let err = result.unwrap_err();
            (err.django_name().to_string(), err.to_string())
        };
        let accounts = || db.objects("Account");
        let combined = accounts().union([accounts()], false);
        assert_eq!(
            error(combined.update([("balance", 1i64)])),
            (
                "NotSupportedError".into(),
                "Calling QuerySet.update() after union() is not supported.".into()
            )
        );
        let err = combined.delete().unwrap_err();
        assert_eq!(
            err.to_string(),
            "Calling QuerySet.delete() after union() is not supported."
        );
        assert_eq!(
            error(accounts().update([("balance", "x")])),
            (
                "ValueError".into(),
                "Field 'balance' expected a number but got 'x'.".into()
            )
        );
        let aggregate = |e: Expression| error(accounts().update([("balance", e)])).1;
        assert_eq!(
            aggregate(Sum("balance")),
            "Aggregate functions are not allowed in this query \
             (balance=Sum(Col(account, app.Account.balance)))."
        );
        assert_eq!(
            aggregate(Sum("balance") + 1),
            "Aggregate functions are not allowed in this query \
             (balance=<CombinedExpression: Sum(Col(account, app.Account.balance)) + Value(1)>)."
        );
        assert_eq!(
            aggregate(Count("id").distinct()),
            "Aggregate functions are not allowed in this query \
             (balance=Count(Col(account, app.Account.id), distinct=True))."
        );
        assert_eq!(
            aggregate(Max(F("balance") * 2)),
            "Aggregate functions are not allowed in this query \
             (balance=Max(Col(account, app.Account.balance) * Value(2)))."
        );
        // A number given as text is stored as the number, as Django's get_prep_value does.
        assert_eq!(
            accounts()
                .filter(q!(owner = "cy"))
                .update([("balance", "7")])
                .unwrap(),
            1
        );
        assert_eq!(balances(&db), [100, 50, 7]);
        let err = accounts()
            .create([("owner", "dan".into()), ("balance", "y".into())])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Field 'balance' expected a number but got 'y'."
        );
    }

    /// The shapes `(1, {"app.Account": 1})` and `(0, {})` and the update counts are real
    /// Django's: `django_runner.py orm-frontend/tests/django/writes_counts.py --db sqlite`
    /// printed `orm-frontend/tests/django/writes_counts.expected.jsonl`.
    #[test]
    fn delete_removes_matching_rows_and_reports_counts() {
        let db = db();
        let (n, per_model) = db
            .objects("Account")
            .filter(q!(balance__lt = 60))
            .delete_rows()
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(per_model.get("app.Account"), Some(&2));
        assert_eq!(balances(&db), [100]);
        let (n, per_model) = db
            .objects("Account")
            .filter(q!(balance__lt = 0))
            .delete_rows()
            .unwrap();
        assert_eq!((n, per_model.len()), (0, 0));
        // Without the on_delete rules the foreign key refuses at commit...
        let err = db.objects("Branch").delete_rows().unwrap_err();
        assert_eq!(err.django_name(), "IntegrityError");
        assert_eq!(db.objects("Branch").count().unwrap(), 1);
        // ...and delete() cascades, in one transaction.
        let (n, per_model) = db.objects("Branch").delete().unwrap();
        assert_eq!(n, 2);
        assert_eq!(per_model.get("app.Account"), Some(&1));
        assert_eq!(db.objects("Account").count().unwrap(), 0);
    }

    #[test]
    fn concurrent_f_updates_never_lose_an_increment() {
        let db = db();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let db = db.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        db.objects("Account")
                            .filter(q!(owner = "cy"))
                            .update([("balance", F("balance") + 1)])
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(balances(&db), [100, 50, 100]);
    }
}
