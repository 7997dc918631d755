//! The QuerySet methods that insert or rewrite whole rows: `create`, `bulk_create` (with
//! Django's conflict options, also from Arrow batches), `bulk_update`, `get_or_create` and
//! `update_or_create`.
//!
//! Rows are built by [`Database::build_rows`](crate::Database), which applies Django's
//! `Model.save()` rules for a new object (values cast to the field types, automatic keys,
//! defaults, NOT NULL), and written through the transaction layer, which checks the unique,
//! check and foreign-key constraints: a violating statement changes nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, filter_record_batch, take};
use quiver_engine::ScalarValue;
use quiver_storage::{batch_keys, column_keys, RowKey, Table, Transaction};

use crate::database::{array_from_values, cast_value};
use crate::error::{Error, Result};
use crate::expressions::Q;
use crate::model::Model;
use crate::query_log::{
    batch_rows, bulk_update_sql, insert_statements, instance_rows, internal_reads,
    primary_key_given,
};
use crate::queryset::update::field_index;
use crate::queryset::{storage_error, QuerySet};
use crate::results::Instance;

/// The options of `bulk_create(objs, batch_size=, ignore_conflicts=, update_conflicts=,
/// update_fields=, unique_fields=)`.
#[derive(Debug, Clone, Default)]
pub struct BulkCreateOptions {
    /// Rows per INSERT Django would send (what the query log shows); the rows are stored
    /// as one statement either way, all or none.
    pub batch_size: Option<usize>,
    /// `ON CONFLICT DO NOTHING`: rows that would violate a unique constraint are skipped.
    pub ignore_conflicts: bool,
    /// `ON CONFLICT (unique_fields) DO UPDATE SET update_fields = EXCLUDED...`.
    pub update_conflicts: bool,
    /// Fields overwritten on a conflicting row.
    pub update_fields: Vec<String>,
    /// Fields whose unique constraint decides what a conflict is.
    pub unique_fields: Vec<String>,
}

impl BulkCreateOptions {
    /// Default options.
    pub fn new() -> BulkCreateOptions {
        BulkCreateOptions::default()
    }

    /// `batch_size=n`.
    pub fn batch_size(mut self, rows: usize) -> Self {
        self.batch_size = Some(rows);
        self
    }

    /// `ignore_conflicts=True`.
    pub fn ignore_conflicts(mut self) -> Self {
        self.ignore_conflicts = true;
        self
    }

    /// `update_conflicts=True, update_fields=[..], unique_fields=[..]`.
    pub fn update_conflicts<S: Into<String>, T: Into<String>>(
        mut self,
        update_fields: impl IntoIterator<Item = S>,
        unique_fields: impl IntoIterator<Item = T>,
    ) -> Self {
        self.update_conflicts = true;
        self.update_fields = update_fields.into_iter().map(Into::into).collect();
        self.unique_fields = unique_fields.into_iter().map(Into::into).collect();
        self
    }
}

/// Something that can be inserted as one row: `(field name or attname, value)` pairs.
pub trait IntoFieldValues {
    /// The pairs; fields left out get their defaults.
    fn into_field_values(self) -> Vec<(String, ScalarValue)>;
}

impl IntoFieldValues for Vec<(String, ScalarValue)> {
    fn into_field_values(self) -> Vec<(String, ScalarValue)> {
        self
    }
}

impl IntoFieldValues for Vec<(&str, ScalarValue)> {
    fn into_field_values(self) -> Vec<(String, ScalarValue)> {
        self.into_iter().map(|(n, v)| (n.to_string(), v)).collect()
    }
}

impl<const N: usize> IntoFieldValues for [(&str, ScalarValue); N] {
    fn into_field_values(self) -> Vec<(String, ScalarValue)> {
        self.into_iter().map(|(n, v)| (n.to_string(), v)).collect()
    }
}

impl IntoFieldValues for Instance {
    fn into_field_values(self) -> Vec<(String, ScalarValue)> {
        (&self).into_field_values()
    }
}

impl IntoFieldValues for &Instance {
    fn into_field_values(self) -> Vec<(String, ScalarValue)> {
        self.values()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect()
    }
}

impl QuerySet {
    /// `create(**kwargs)`: inserts one row and returns it as stored (automatic key and
    /// defaults filled in). The QuerySet's filters do not apply, as in Django.
    pub fn create(&self, values: impl IntoFieldValues) -> Result<Instance> {
        let model = self.db.model(&self.model)?;
        let started = Instant::now();
        let made = self
            .db
            .insert_rows(&model, vec![values.into_field_values()])?;
        self.log_inserts(
            &model,
            instance_rows(&model, &made),
            None,
            None,
            "",
            started,
        );
        made.into_iter().next().ok_or_else(|| {
            Error::Engine(quiver_engine::EngineError::Internal(
                "create() stored no row".into(),
            ))
        })
    }

    /// `bulk_create(objs)`: inserts every row in one atomic append; returns how many.
    pub fn bulk_create<R: IntoFieldValues>(
        &self,
        rows: impl IntoIterator<Item = R>,
    ) -> Result<usize> {
        let model = self.db.model(&self.model)?;
        let rows: Vec<Vec<(String, ScalarValue)>> = rows
            .into_iter()
            .map(IntoFieldValues::into_field_values)
            .collect();
        if rows.is_empty() {
            return Ok(0);
        }
        let started = Instant::now();
        let pk_given = primary_key_given(&model, &rows);
        let made = self.db.insert_rows(&model, rows)?;
        let stored = instance_rows(&model, &made);
        self.log_inserts(&model, stored, Some(&pk_given), None, "", started);
        Ok(made.len())
    }

    /// Logs the INSERTs Django's `bulk_create` sends for `rows`.
    fn log_inserts(
        &self,
        model: &Model,
        rows: Vec<Vec<ScalarValue>>,
        pk_given: Option<&[bool]>,
        batch_size: Option<usize>,
        suffix: &str,
        started: Instant,
    ) {
        let log = self.db.query_log();
        if log.is_enabled() {
            let elapsed = started.elapsed();
            for statement in insert_statements(model, rows, pk_given, batch_size, suffix) {
                log.record_statement(|| statement, elapsed);
            }
        }
    }

    /// `bulk_create(objs, batch_size=, ignore_conflicts=, update_conflicts=, ...)`: inserts
    /// the rows in one transaction. Returns how many rows were inserted or, with
    /// `update_conflicts`, inserted plus updated (rows skipped by `ignore_conflicts` are not
    /// counted).
    pub fn bulk_create_with<R: IntoFieldValues>(
        &self,
        rows: impl IntoIterator<Item = R>,
        options: &BulkCreateOptions,
    ) -> Result<usize> {
        let model = self.db.model(&self.model)?;
        let rows: Vec<Vec<(String, ScalarValue)>> = rows
            .into_iter()
            .map(IntoFieldValues::into_field_values)
            .collect();
        check_options(&model, options)?;
        if rows.is_empty() {
            return Ok(0);
        }
        let pk_given = primary_key_given(&model, &rows);
        let (batch, _) = self.db.build_rows(&model, rows)?;
        self.insert_with_options(&model, vec![batch], options, Some(&pk_given))
    }

    /// `bulk_create` straight from Arrow batches (columns by attname, as
    /// [`Database::load_batches`](crate::Database::load_batches)), with the conflict options.
    pub fn bulk_create_batches(
        &self,
        batches: Vec<RecordBatch>,
        options: &BulkCreateOptions,
    ) -> Result<usize> {
        let model = self.db.model(&self.model)?;
        check_options(&model, options)?;
        let converted = self.db.conform_batches(&model, &batches)?;
        self.insert_with_options(&model, converted, options, None)
    }

    fn insert_with_options(
        &self,
        model: &Arc<Model>,
        batches: Vec<RecordBatch>,
        options: &BulkCreateOptions,
        pk_given: Option<&[bool]>,
    ) -> Result<usize> {
        let table = self.db.catalog().table(&model.table_name())?;
        let started = Instant::now();
        let written = internal_reads(|| self.write_with_options(model, &table, &batches, options));
        // One INSERT per batch, as Django sends them, with its conflict clause.
        let suffix = if options.ignore_conflicts {
            " ON CONFLICT DO NOTHING".to_string()
        } else if options.update_conflicts {
            let columns = |names: &[String]| {
                names
                    .iter()
                    .filter_map(|n| field_index(model, n).ok())
                    .map(|p| format!("\"{}\"", model.fields()[p].column()))
                    .collect::<Vec<_>>()
            };
            let updates: Vec<String> = columns(&options.update_fields)
                .into_iter()
                .map(|c| format!("{c} = EXCLUDED.{c}"))
                .collect();
            format!(
                " ON CONFLICT({}) DO UPDATE SET {}",
                columns(&options.unique_fields).join(", "),
                updates.join(", ")
            )
        } else {
            String::new()
        };
        if self.db.query_log().is_enabled() {
            let batch =
                concat_batches(&table.schema(), &batches).map_err(|e| Error::Engine(e.into()))?;
            let rows = batch_rows(&batch);
            self.log_inserts(model, rows, pk_given, options.batch_size, &suffix, started);
        }
        written
    }

    /// The writes of `bulk_create` with `options`, in one transaction. Without a conflict
    /// option every row goes in as one statement, whatever `batch_size` says: Django's
    /// batches are separate INSERTs inside one `atomic()`, so all of them or none are
    /// stored, and one statement checks the constraints once instead of once per batch.
    fn write_with_options(
        &self,
        model: &Arc<Model>,
        table: &Arc<Table>,
        batches: &[RecordBatch],
        options: &BulkCreateOptions,
    ) -> Result<usize> {
        self.db.write(|transaction| {
            if !options.ignore_conflicts && !options.update_conflicts {
                transaction
                    .insert_batches(table, batches)
                    .map_err(storage_error)?;
                return Ok(batches.iter().map(RecordBatch::num_rows).sum());
            }
            let batch =
                concat_batches(&table.schema(), batches).map_err(|e| Error::Engine(e.into()))?;
            if options.ignore_conflicts {
                let batch = without_conflicts(table, &batch)?;
                insert_rows(transaction, table, &batch)?;
                return Ok(batch.num_rows());
            }
            upsert(transaction, model, table, &batch, options)
        })
    }

    /// `bulk_update(objs, fields, batch_size=)`: writes `fields` of each object to its row (by
    /// primary key) in one transaction; returns the number of rows matched.
    pub fn bulk_update<S: AsRef<str>>(
        &self,
        objs: &[Instance],
        fields: &[S],
        batch_size: Option<usize>,
    ) -> Result<usize> {
        let model = self.db.model(&self.model)?;
        if batch_size == Some(0) {
            return Err(Error::ValueError(
                "Batch size must be a positive integer.".into(),
            ));
        }
        if fields.is_empty() {
            return Err(Error::ValueError(
                "Field names must be given to bulk_update().".into(),
            ));
        }
        let pk = model.pk_field()?.clone();
        let mut positions = Vec::with_capacity(fields.len());
        for name in fields {
            let position = field_index(&model, name.as_ref())?;
            if model.fields()[position].is_primary_key() {
                return Err(Error::ValueError(
                    "bulk_update() cannot be used with primary key fields.".into(),
                ));
            }
            positions.push(position);
        }
        if objs.iter().any(|o| o.pk().is_null()) {
            return Err(Error::ValueError(
                "All bulk_update() objects must have a primary key set.".into(),
            ));
        }
        if objs.is_empty() {
            return Ok(0);
        }
        let pk_values: Vec<ScalarValue> = objs
            .iter()
            .map(|o| cast_value(&o.pk(), &pk))
            .collect::<Result<_>>()?;
        let pk_array = array_from_values(&pk_values, pk.data_type())?;
        let keys = column_keys(&pk_array).map_err(storage_error)?;
        // Django's CASE WHEN pk = .. THEN .. takes the first object naming a row.
        let mut first_of: HashMap<RowKey, usize> = HashMap::new();
        for (i, key) in keys.iter().enumerate() {
            first_of.entry(key.clone()).or_insert(i);
        }
        let table = self.db.catalog().table(&model.table_name())?;
        let started = Instant::now();
        let updated = self.db.write(|transaction| {
            let locked: HashSet<RowKey> = transaction
                .lock_rows(table.name(), &keys, quiver_storage::LockWait::Block)
                .map_err(storage_error)?
                .into_iter()
                .collect();
            let current = rows_with_keys(&table, &locked)?;
            if current.num_rows() == 0 {
                return Ok(0);
            }
            let current_keys = column_keys(current.column(table.key_column().unwrap_or_default()))
                .map_err(storage_error)?;
            let mut columns: Vec<ArrayRef> = current.columns().to_vec();
            for &position in &positions {
                let field = &model.fields()[position];
                let values = current_keys
                    .iter()
                    .map(|key| {
                        let obj = &objs[first_of[key]];
                        let value = obj.get_value(field.attname())?;
                        cast_value(&value, field)
                    })
                    .collect::<Result<Vec<_>>>()?;
                let array = array_from_values(&values, field.data_type())?;
                columns[position] = crate::queryset::update::conform_column(&model, field, &array)?;
            }
            let image = RecordBatch::try_new(table.schema(), columns)
                .map_err(|e| Error::Engine(e.into()))?;
            transaction.update(&table, &image).map_err(storage_error)?;
            Ok(image.num_rows())
        });
        // Django sends one UPDATE ... CASE WHEN per batch of objects.
        let log = self.db.query_log();
        if log.is_enabled() {
            let elapsed = started.elapsed();
            let rows: Vec<(ScalarValue, Vec<ScalarValue>)> = objs
                .iter()
                .map(|obj| {
                    let values = positions
                        .iter()
                        .map(|&p| {
                            obj.get_value(model.fields()[p].attname())
                                .unwrap_or(ScalarValue::Null)
                        })
                        .collect();
                    (obj.pk(), values)
                })
                .collect();
            for part in rows.chunks(batch_size.unwrap_or(rows.len()).max(1)) {
                log.record_statement(|| bulk_update_sql(&model, &positions, part), elapsed);
            }
        }
        updated
    }

    /// `get_or_create(defaults=, **kwargs)`: the object matching the `lookup` values exactly,
    /// or a new one made from `lookup` plus `defaults`; the flag says whether it was created.
    /// A concurrent creation of the same object (an `IntegrityError`) falls back to `get`.
    pub fn get_or_create(
        &self,
        lookup: impl IntoFieldValues,
        defaults: impl IntoFieldValues,
    ) -> Result<(Instance, bool)> {
        let lookup = lookup.into_field_values();
        let q = exact_q(&lookup);
        match self.get(q.clone()) {
            Ok(found) => return Ok((found, false)),
            Err(Error::DoesNotExist(_)) => {}
            Err(other) => return Err(other),
        }
        let mut values = lookup;
        merge(&mut values, defaults.into_field_values());
        match self.db.atomic(|_| self.create(values)) {
            Ok(made) => Ok((made, true)),
            Err(Error::IntegrityError(message)) => match self.get(q) {
                Ok(found) => Ok((found, false)),
                Err(_) => Err(Error::IntegrityError(message)),
            },
            Err(other) => Err(other),
        }
    }

    /// `update_or_create(defaults=, create_defaults=, **kwargs)`: locks and updates the
    /// object matching `lookup` with `defaults`, or creates it from `lookup` plus
    /// `create_defaults` (or `defaults` when `None`). The flag says whether it was created.
    pub fn update_or_create(
        &self,
        lookup: impl IntoFieldValues,
        defaults: impl IntoFieldValues,
        create_defaults: Option<Vec<(String, ScalarValue)>>,
    ) -> Result<(Instance, bool)> {
        let lookup = lookup.into_field_values();
        let defaults = defaults.into_field_values();
        let q = exact_q(&lookup);
        self.db
            .atomic(|_| match self.select_for_update().get(q.clone()) {
                Ok(mut found) => {
                    for (name, value) in &defaults {
                        found.set(name, value.clone())?;
                    }
                    let names: Vec<&str> = defaults.iter().map(|(n, _)| n.as_str()).collect();
                    if names.is_empty() {
                        return Ok((found, false));
                    }
                    found.save_update_fields(&names)?;
                    Ok((found, false))
                }
                Err(Error::DoesNotExist(_)) => {
                    let mut values = lookup.clone();
                    merge(
                        &mut values,
                        create_defaults.clone().unwrap_or(defaults.clone()),
                    );
                    Ok((self.create(values)?, true))
                }
                Err(other) => Err(other),
            })
    }
}

/// The AND of `name = value` for each pair.
fn exact_q(pairs: &[(String, ScalarValue)]) -> Q {
    pairs.iter().fold(Q::all(), |q, (name, value)| {
        q & Q::new(name.clone(), value.clone())
    })
}

/// `values` with `extra` added, `extra` winning for names given twice.
fn merge(values: &mut Vec<(String, ScalarValue)>, extra: Vec<(String, ScalarValue)>) {
    for (name, value) in extra {
        match values.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => values.push((name, value)),
        }
    }
}

fn check_options(model: &Model, options: &BulkCreateOptions) -> Result<()> {
    if options.batch_size == Some(0) {
        return Err(Error::ValueError(
            "Batch size must be a positive integer.".into(),
        ));
    }
    if options.ignore_conflicts && options.update_conflicts {
        return Err(Error::ValueError(
            "ignore_conflicts and update_conflicts are mutually exclusive.".into(),
        ));
    }
    if options.update_conflicts {
        if options.update_fields.is_empty() {
            return Err(Error::ValueError(
                "Fields that will be updated when a row insertion fails on conflicts must be \
                 provided."
                    .into(),
            ));
        }
        if options.unique_fields.is_empty() {
            return Err(Error::ValueError(
                "Unique fields that can trigger the upsert must be provided.".into(),
            ));
        }
        for name in options.update_fields.iter().chain(&options.unique_fields) {
            field_index(model, name)?;
        }
        if options
            .update_fields
            .iter()
            .any(|n| model.fields()[field_index(model, n).unwrap_or_default()].is_primary_key())
        {
            return Err(Error::ValueError(
                "bulk_create() cannot be used with primary keys in update_fields.".into(),
            ));
        }
    }
    Ok(())
}

/// Inserts `batch` as one statement.
fn insert_rows(
    transaction: &Arc<Transaction>,
    table: &Arc<Table>,
    batch: &RecordBatch,
) -> Result<()> {
    transaction.insert(table, batch).map_err(storage_error)
}

/// The rows of the calling thread's view of `table` whose key is in `keys`, found through the
/// chunks' key indexes.
fn rows_with_keys(table: &Table, keys: &HashSet<RowKey>) -> Result<RecordBatch> {
    let key_column = table.key_column().ok_or_else(|| {
        Error::NotSupportedError(format!("table \"{}\" has no primary key", table.name()))
    })?;
    let parts = quiver_storage::index::rows_by_key(&table.snapshot(), key_column, keys)
        .map_err(storage_error)?;
    concat_batches(&table.schema(), &parts).map_err(|e| Error::Engine(e.into()))
}

/// Which of `keys` (values of `columns`) rows of the calling thread's view of `table` hold,
/// with the primary key of the row holding each, through the chunks' indexes on `columns`.
fn existing_keys(
    table: &Table,
    columns: &[usize],
    keys: &HashSet<RowKey>,
) -> Result<HashMap<RowKey, RowKey>> {
    let key_column = table.key_column().unwrap_or(columns[0]);
    quiver_storage::index::key_owners(&table.snapshot(), columns, key_column, keys)
        .map_err(storage_error)
}

/// `ON CONFLICT DO NOTHING`: `batch` without the rows that collide, on any unique
/// constraint, with a stored row or an earlier row of the batch.
fn without_conflicts(table: &Table, batch: &RecordBatch) -> Result<RecordBatch> {
    let mut keep = vec![true; batch.num_rows()];
    for constraint in table.constraints().unique {
        if constraint.condition.is_some() {
            continue;
        }
        let keys = batch_keys(batch, &constraint.columns).map_err(storage_error)?;
        let wanted: HashSet<RowKey> = keys.iter().filter(|k| !k.has_null()).cloned().collect();
        let mut taken: HashSet<RowKey> = existing_keys(table, &constraint.columns, &wanted)?
            .into_keys()
            .collect();
        for (row, key) in keys.into_iter().enumerate() {
            if keep[row] && !key.has_null() && !taken.insert(key) {
                keep[row] = false;
            }
        }
    }
    let mask: BooleanArray = keep.into_iter().map(Some).collect();
    filter_record_batch(batch, &mask).map_err(|e| Error::Engine(e.into()))
}

/// `ON CONFLICT (unique_fields) DO UPDATE SET update_fields`: rows whose unique fields match a
/// stored row update that row's `update_fields`; the others are inserted.
fn upsert(
    transaction: &Arc<Transaction>,
    model: &Model,
    table: &Arc<Table>,
    batch: &RecordBatch,
    options: &BulkCreateOptions,
) -> Result<usize> {
    let unique_columns = options
        .unique_fields
        .iter()
        .map(|n| field_index(model, n))
        .collect::<Result<Vec<_>>>()?;
    let update_columns = options
        .update_fields
        .iter()
        .map(|n| field_index(model, n))
        .collect::<Result<Vec<_>>>()?;
    let keys = batch_keys(batch, &unique_columns).map_err(storage_error)?;
    let wanted: HashSet<RowKey> = keys.iter().filter(|k| !k.has_null()).cloned().collect();
    let existing = existing_keys(table, &unique_columns, &wanted)?;
    // The last incoming row for a stored row wins (PostgreSQL refuses two; be lenient).
    let mut incoming_for: HashMap<RowKey, u32> = HashMap::new();
    let mut insert = vec![true; batch.num_rows()];
    for (row, key) in keys.iter().enumerate() {
        if let Some(pk) = existing.get(key) {
            insert[row] = false;
            incoming_for.insert(pk.clone(), row as u32);
        }
    }
    let mut count = 0;
    if !incoming_for.is_empty() {
        let targets: HashSet<RowKey> = incoming_for.keys().cloned().collect();
        transaction
            .lock_rows(
                table.name(),
                &targets.iter().cloned().collect::<Vec<_>>(),
                quiver_storage::LockWait::Block,
            )
            .map_err(storage_error)?;
        let current = rows_with_keys(table, &targets)?;
        let current_keys = column_keys(current.column(table.key_column().unwrap_or_default()))
            .map_err(storage_error)?;
        let indices: UInt32Array = current_keys
            .iter()
            .map(|k| incoming_for.get(k).copied())
            .collect();
        let mut columns: Vec<ArrayRef> = current.columns().to_vec();
        for &position in &update_columns {
            columns[position] = take(batch.column(position).as_ref(), &indices, None)
                .map_err(|e| Error::Engine(e.into()))?;
        }
        let image =
            RecordBatch::try_new(table.schema(), columns).map_err(|e| Error::Engine(e.into()))?;
        transaction.update(table, &image).map_err(storage_error)?;
        count += image.num_rows();
    }
    let mask: BooleanArray = insert.into_iter().map(Some).collect();
    let fresh = filter_record_batch(batch, &mask).map_err(|e| Error::Engine(e.into()))?;
    insert_rows(transaction, table, &fresh)?;
    count += fresh.num_rows();
    Ok(count)
}

#[cfg(test)]
mod tests {
    use quiver_engine::ScalarValue;

    use crate::model::{IntegerField, Model};
    use crate::Database;

    /// Keys from `django_runner.py orm-frontend/tests/django/bulk_create_keys.py --db sqlite`
    /// (`bulk_create_keys.expected.jsonl`); the two INSERTs (objects with keys, then the
    /// others) from `cli/examples/query_log.py`.
    #[test]
    fn bulk_create_gives_new_keys_after_the_given_ones() {
        let db = Database::new();
        db.register(Model::new("Item").field("n", IntegerField::new()))
            .unwrap();
        db.objects("Item").create([("n", 1i64.into())]).unwrap();
        db.enable_query_log(true);
        let row = |id: Option<i64>, n: i64| -> Vec<(String, ScalarValue)> {
            let mut row = vec![("n".to_string(), ScalarValue::from(n))];
            if let Some(id) = id {
                row.push(("id".to_string(), ScalarValue::from(id)));
            }
            row
        };
        let rows = vec![row(Some(600), 2), row(None, 3), row(Some(601), 4)];
        assert_eq!(db.objects("Item").bulk_create(rows).unwrap(), 3);
        let statements: Vec<String> = db.queries().into_iter().map(|q| q.sql).collect();
        let stored = db.objects("Item").order_by(["n"]).fetch().unwrap();
        assert_eq!(stored.column::<i64>("id").unwrap(), [1, 600, 602, 601]);
        assert_eq!(
            statements,
            [
                "INSERT INTO \"item\" (\"id\", \"n\") VALUES (600, 2), (601, 4)",
                "INSERT INTO \"item\" (\"id\", \"n\") VALUES (602, 3)"
            ]
        );
    }
}
