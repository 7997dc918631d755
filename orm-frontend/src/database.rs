//! [`Database`]: the handle a user holds — models, tables, a session, and the entry point to
//! QuerySets (`db.objects("Customer")`).
//!
//! A `Database` is a cheap, cloneable handle to shared state (like a Django connection plus
//! its app registry): the storage [`Catalog`] with one table per registered model, the
//! engine [`SessionContext`] that runs plans, the model [`Registry`], the counters behind
//! automatic primary keys, and a count of executed queries (for spotting N+1 patterns).
//! Writes go through here so that every way in — `create`, `bulk_create`, `load_batches` —
//! applies the same rules: values are cast to the field's type, automatic keys are assigned,
//! defaults filled in, and NOT NULL is checked before anything becomes visible.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, DurationMicrosecondArray,
    Float64Array, Int16Array, Int32Array, Int64Array, RecordBatch, StringArray,
    Time64MicrosecondArray, TimestampMicrosecondArray,
};
use arrow::compute::kernels::cast::{cast_with_options, CastOptions};
use arrow::datatypes::DataType;
use parking_lot::{Mutex, RwLock};
use quiver_engine::execution::QueryResult;
use quiver_engine::{LogicalPlan, ScalarValue, SessionConfig, SessionContext};
use quiver_storage::Catalog;

use crate::error::{Error, Result};
use crate::model::{Field, FieldType, Model, Registry};
use crate::query_log::{QueryLog, QueryRecord};
use crate::queryset::QuerySet;
use crate::results::{Instance, Row};
use crate::typed::ModelDef;

/// What one table holds (`Database::table_usage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableUsage {
    /// Table name.
    pub table: String,
    /// Rows in the current version.
    pub rows: usize,
    /// Bytes of Arrow memory.
    pub bytes: usize,
}

/// An in-memory database: registered models, their tables and a query session.
/// Cloning shares everything.
#[derive(Clone)]
pub struct Database {
    state: Arc<DatabaseState>,
}

struct DatabaseState {
    catalog: Catalog,
    session: RwLock<SessionContext>,
    registry: RwLock<Registry>,
    queries: AtomicU64,
    query_log: QueryLog,
    /// Next automatic primary key per model.
    next_ids: Mutex<HashMap<String, i64>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let registry = self.state.registry.read();
        let names: Vec<&str> = registry.models().iter().map(|m| m.name()).collect();
        f.debug_struct("Database").field("models", &names).finish()
    }
}

impl Default for Database {
    fn default() -> Self {
        Database::new()
    }
}

impl Database {
    /// An empty database with default settings.
    pub fn new() -> Database {
        Database::with_config(SessionConfig::default())
    }

    /// An empty database with explicit session settings.
    pub fn with_config(config: SessionConfig) -> Database {
        let catalog = Catalog::new();
        let session = SessionContext::with_config(catalog.clone(), config);
        Database {
            state: Arc::new(DatabaseState {
                catalog,
                session: RwLock::new(session),
                registry: RwLock::new(Registry::new()),
                queries: AtomicU64::new(0),
                query_log: QueryLog::default(),
                next_ids: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Replaces the session settings (partitions, disabled optimizer rules, …) for every
    /// handle of this database.
    pub fn set_config(&self, config: SessionConfig) {
        *self.state.session.write() =
            SessionContext::with_config(self.state.catalog.clone(), config);
    }

    /// The current session settings.
    pub fn config(&self) -> SessionConfig {
        self.state.session.read().config().clone()
    }

    /// The engine session (a cheap clone) that runs this database's queries.
    pub fn session(&self) -> SessionContext {
        self.state.session.read().clone()
    }

    /// The storage catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.state.catalog
    }

    /// Validates `model` (Django's system checks), completes it (automatic `id`, relation key
    /// types) and creates its table. Relations must point at models registered earlier or at
    /// the model itself.
    pub fn register(&self, model: Model) -> Result<Arc<Model>> {
        let mut registry = self.state.registry.write();
        let mut candidate = registry.clone();
        let known = registry.models().len();
        let model = candidate.register(model)?;
        // The model's table, and the link tables of its ManyToManyFields, with their
        // constraints and indexes.
        let mut created: Vec<String> = Vec::new();
        for added in &candidate.models()[known..] {
            let declared = self
                .state
                .catalog
                .create_table(&added.table_name(), Arc::new(added.arrow_schema()))
                .map_err(Error::from)
                .and_then(|table| {
                    created.push(added.table_name());
                    crate::queryset::declare_constraints(&candidate, added, &table)
                });
            if let Err(error) = declared {
                for name in &created {
                    let _ = self.state.catalog.drop_table(name);
                }
                return Err(error);
            }
            self.state
                .next_ids
                .lock()
                .insert(added.name().to_string(), 1);
        }
        let previous = std::mem::replace(&mut *registry, candidate);
        drop(registry);
        // Meta.constraints and named indexes compile Q conditions against the registered model.
        if let Err(error) = crate::queryset::declare_meta(self, &model) {
            *self.state.registry.write() = previous;
            for name in &created {
                let _ = self.state.catalog.drop_table(name);
            }
            return Err(error);
        }
        Ok(model)
    }

    /// Registers the model a `#[derive(Model)]` type describes.
    pub fn register_model<T: ModelDef>(&self) -> Result<Arc<Model>> {
        self.register(T::model())
    }

    /// A registered model by name (case-insensitive), or `LookupError`.
    pub fn model(&self, name: &str) -> Result<Arc<Model>> {
        self.state.registry.read().get(name)
    }

    /// A snapshot of the model registry.
    pub fn registry(&self) -> Registry {
        self.state.registry.read().clone()
    }

    /// `Model.objects.all()`: a QuerySet over every row of `model`. An unknown model name is
    /// reported (as `LookupError`) when the QuerySet is evaluated.
    pub fn objects(&self, model: &str) -> QuerySet {
        QuerySet::new(self.clone(), model)
    }

    /// The QuerySet of a `#[derive(Model)]` type's model.
    pub fn objects_of<T: ModelDef>(&self) -> QuerySet {
        QuerySet::new(self.clone(), T::model().name())
    }

    /// Loads Arrow batches into `model`'s table. Columns are matched by attname (or field
    /// name, or db_column) and cast to the field's type; a missing automatic primary key
    /// column (or NULL keys) gets fresh ids, other missing columns their default, NULL, or
    /// `""` for text fields, as Django's `create()` would. All batches become visible at once
    /// or, on an error, none. Returns the number of rows loaded.
    pub fn load_batches(&self, model: &str, batches: Vec<RecordBatch>) -> Result<usize> {
        let model = self.model(model)?;
        let table = self.state.catalog.table(&model.table_name())?;
        let converted = self.conform_batches(&model, &batches)?;
        self.write(|transaction| {
            transaction
                .insert_batches(&table, &converted)
                .map_err(crate::queryset::storage_error)
        })?;
        Ok(converted.iter().map(RecordBatch::num_rows).sum())
    }

    /// `batches` made to match `model`'s table (see [`load_batches`](Self::load_batches)),
    /// automatic keys reserved.
    pub(crate) fn conform_batches(
        &self,
        model: &Model,
        batches: &[RecordBatch],
    ) -> Result<Vec<RecordBatch>> {
        let mut converted = Vec::with_capacity(batches.len());
        let mut ids = self.state.next_ids.lock();
        let mut next_id = ids.get(model.name()).copied().unwrap_or(1);
        for batch in batches {
            let (batch, next) = self.conform_batch(model, batch, next_id)?;
            next_id = next;
            converted.push(batch);
        }
        ids.insert(model.name().to_string(), next_id);
        Ok(converted)
    }

    /// `(table, rows, bytes)` for every table.
    pub fn table_usage(&self) -> Vec<TableUsage> {
        self.state
            .catalog
            .usage()
            .into_iter()
            .map(|(table, rows, bytes)| TableUsage { table, rows, bytes })
            .collect()
    }

    /// How many queries this database has executed (every QuerySet evaluation counts one).
    pub fn query_count(&self) -> u64 {
        self.state.queries.load(Ordering::Relaxed)
    }

    /// Counts one executed query.
    pub(crate) fn count_query(&self) {
        self.state.queries.fetch_add(1, Ordering::Relaxed);
    }

    /// Optimizes and runs `plan`, counting it as one query.
    pub(crate) fn execute(&self, plan: Arc<LogicalPlan>) -> Result<QueryResult> {
        self.count_query();
        let started = std::time::Instant::now();
        let result = self.session().execute(Arc::clone(&plan))?;
        self.state.query_log.record(&plan, started.elapsed());
        Ok(result)
    }

    /// The query log, for the writes that record their statements in it.
    pub(crate) fn query_log(&self) -> &QueryLog {
        &self.state.query_log
    }

    /// Turns the query log (Django's `connection.queries`) on or off.
    pub fn enable_query_log(&self, enabled: bool) {
        self.state.query_log.set_enabled(enabled);
    }

    /// The executed queries (SQL and time) since the log was enabled or last reset.
    pub fn queries(&self) -> Vec<QueryRecord> {
        self.state.query_log.records()
    }

    /// Django's `reset_queries()`: empties the query log.
    pub fn reset_queries(&self) {
        self.state.query_log.clear();
    }

    /// Inserts rows given as `(name, value)` pairs and returns the stored instances, keys
    /// and defaults filled in. Either every row is inserted or none.
    pub(crate) fn insert_rows(
        &self,
        model: &Arc<Model>,
        rows: Vec<Vec<(String, ScalarValue)>>,
    ) -> Result<Vec<Instance>> {
        let table = self.state.catalog.table(&model.table_name())?;
        let (batch, instances) = self.build_rows(model, rows)?;
        self.write(|transaction| {
            transaction
                .insert(&table, &batch)
                .map_err(crate::queryset::storage_error)
        })?;
        Ok(instances)
    }

    /// The batch (in the table's schema) and instances for rows given as `(name, value)`
    /// pairs: values cast, automatic keys assigned (and consumed even if the insert later
    /// fails, like a PostgreSQL sequence), defaults filled in, NOT NULL checked.
    pub(crate) fn build_rows(
        &self,
        model: &Arc<Model>,
        rows: Vec<Vec<(String, ScalarValue)>>,
    ) -> Result<(RecordBatch, Vec<Instance>)> {
        let table = self.state.catalog.table(&model.table_name())?;
        let mut ids = self.state.next_ids.lock();
        let mut next_id = ids.get(model.name()).copied().unwrap_or(1);
        let fields = model.fields();
        // Django's bulk_create inserts the objects that have keys before those that get one,
        // so a new key never collides with a key given later in the same call.
        for (name, value) in rows.iter().flatten() {
            if let Some(field) = field_position(model, name).map(|p| &fields[p]) {
                if field.field_type().is_auto() && !value.is_null() {
                    if let Some(id) = cast_value(value, field)?.as_i64() {
                        next_id = next_id.max(id.saturating_add(1));
                    }
                }
            }
        }
        let mut columns: Vec<Vec<ScalarValue>> = vec![Vec::with_capacity(rows.len()); fields.len()];
        for row in &rows {
            let mut given: Vec<Option<&ScalarValue>> = vec![None; fields.len()];
            for (name, value) in row {
                let position = field_position(model, name).ok_or_else(|| {
                    Error::TypeError(format!(
                        "{}() got unexpected keyword arguments: '{name}'",
                        model.name()
                    ))
                })?;
                if given[position].is_some() {
                    return Err(Error::TypeError(format!(
                        "{}() got both '{name}' and another name for the same field",
                        model.name()
                    )));
                }
                given[position] = Some(value);
            }
            for ((field, value), column) in fields.iter().zip(given).zip(columns.iter_mut()) {
                let value = match value {
                    Some(v) if !v.is_null() => cast_value(v, field)?,
                    _ if field.field_type().is_auto() => {
                        let id = next_id;
                        next_id += 1;
                        cast_value(&ScalarValue::Int64(Some(id)), field)?
                    }
                    Some(_) => missing_value(model, field, false)?,
                    None => missing_value(model, field, true)?,
                };
                if field.field_type().is_auto() {
                    if let Some(id) = value.as_i64() {
                        next_id = next_id.max(id.saturating_add(1));
                    }
                }
                column.push(value);
            }
        }
        let schema = table.schema();
        let arrays = fields
            .iter()
            .zip(&columns)
            .map(|(field, values)| array_from_values(values, field.data_type()))
            .collect::<Result<Vec<_>>>()?;
        let batch = RecordBatch::try_new(Arc::clone(&schema), arrays)
            .map_err(|e| Error::Engine(e.into()))?;
        ids.insert(model.name().to_string(), next_id);
        let names: Arc<[String]> = fields.iter().map(|f| f.attname().to_string()).collect();
        let pk = model.pk().map(|f| f.attname().to_string());
        let instances = (0..rows.len())
            .map(|i| {
                let values = columns.iter().map(|c| c[i].clone()).collect();
                Instance::new(
                    model.name(),
                    pk.clone(),
                    Row::new(Arc::clone(&names), values),
                )
                .with_database(self.clone())
            })
            .collect();
        Ok((batch, instances))
    }

    /// Makes `batch` match the model's table: columns by name, cast, keys and defaults.
    fn conform_batch(
        &self,
        model: &Model,
        batch: &RecordBatch,
        mut next_id: i64,
    ) -> Result<(RecordBatch, i64)> {
        let rows = batch.num_rows();
        let schema = batch.schema();
        let mut used = vec![false; schema.fields().len()];
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(model.fields().len());
        for field in model.fields() {
            let found = schema.fields().iter().position(|f| {
                f.name() == field.attname()
                    || f.name() == field.name()
                    || f.name() == field.column()
            });
            let array = match found {
                Some(i) => {
                    used[i] = true;
                    let column = batch.column(i);
                    let array = if column.data_type() == field.data_type() {
                        Arc::clone(column)
                    } else {
                        cast_with_options(column.as_ref(), field.data_type(), &strict_cast())
                            .map_err(|e| {
                                Error::ValueError(format!(
                                    "Field '{}' expected {} values but got {}: {e}",
                                    field.name(),
                                    field.data_type(),
                                    column.data_type()
                                ))
                            })?
                    };
                    if field.field_type().is_auto() && array.null_count() > 0 {
                        let (filled, next) = fill_auto_ids(&array, field, next_id)?;
                        next_id = next;
                        filled
                    } else {
                        array
                    }
                }
                None if field.field_type().is_auto() => {
                    let ids: Vec<Option<i64>> =
                        (next_id..next_id + rows as i64).map(Some).collect();
                    next_id += rows as i64;
                    cast_to_field(Arc::new(Int64Array::from(ids)), field)?
                }
                None => {
                    let value = missing_value(model, field, true)?;
                    value.to_array(rows)
                }
            };
            if !field.is_nullable() && array.null_count() > 0 {
                return Err(not_null_violation(model, field));
            }
            if field.field_type().is_auto() {
                if let Some(max) = max_integer(&array) {
                    next_id = next_id.max(max.saturating_add(1));
                }
            }
            arrays.push(array);
        }
        if let Some(extra) = schema
            .fields()
            .iter()
            .zip(&used)
            .find(|(_, used)| !**used)
            .map(|(f, _)| f.name())
        {
            return Err(Error::FieldError(format!(
                "{} has no field named '{extra}'",
                model.name()
            )));
        }
        let batch = RecordBatch::try_new(Arc::new(model.arrow_schema()), arrays)
            .map_err(|e| Error::Engine(e.into()))?;
        Ok((batch, next_id))
    }
}

pub(crate) fn field_position(model: &Model, name: &str) -> Option<usize> {
    if name == "pk" {
        return model.fields().iter().position(Field::is_primary_key);
    }
    let fields = model.fields();
    fields
        .iter()
        .position(|f| f.name() == name)
        .or_else(|| fields.iter().position(|f| f.attname() == name))
}

pub(crate) fn strict_cast() -> CastOptions<'static> {
    CastOptions {
        safe: false,
        ..CastOptions::default()
    }
}

fn cast_to_field(array: ArrayRef, field: &Field) -> Result<ArrayRef> {
    cast_with_options(array.as_ref(), field.data_type(), &strict_cast())
        .map_err(|e| Error::Engine(e.into()))
}

/// The value stored for a field that was not given (`absent`) or given as NULL: Django's
/// `Field.get_default()` — the default, NULL for nullable fields, `""` for text fields —
/// or PostgreSQL's NOT NULL error.
fn missing_value(model: &Model, field: &Field, absent: bool) -> Result<ScalarValue> {
    if absent {
        if let Some(default) = &field.spec().default {
            return cast_value(default, field);
        }
    }
    if field.is_nullable() {
        return Ok(ScalarValue::null_of(field.data_type()));
    }
    if absent
        && matches!(
            field.field_type(),
            FieldType::CharField { .. } | FieldType::TextField
        )
    {
        return Ok(ScalarValue::Utf8(Some(String::new())));
    }
    Err(not_null_violation(model, field))
}

pub(crate) fn not_null_violation(model: &Model, field: &Field) -> Error {
    Error::IntegrityError(format!(
        "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
        field.column(),
        model.table_name()
    ))
}

/// Casts one value to a field's type, with Django's `ValueError` wording on failure.
pub(crate) fn cast_value(value: &ScalarValue, field: &Field) -> Result<ScalarValue> {
    let target = field.data_type();
    if &value.data_type() == target {
        return Ok(value.clone());
    }
    if value.is_null() {
        return Ok(ScalarValue::null_of(target));
    }
    // Django's `get_prep_value` words the refusal ("Field 'n' expected a number but got
    // 'x'."); the generic text is for values it would accept but the column cannot hold.
    let fail = || {
        crate::expressions::get_prep_value(field.spec(), field.name(), value)
            .err()
            .unwrap_or_else(|| {
                Error::ValueError(format!(
                    "Field '{}' expected a value of type {target} but got '{value}'.",
                    field.name()
                ))
            })
    };
    let array = cast_with_options(value.to_array(1).as_ref(), target, &strict_cast())
        .map_err(|_| fail())?;
    ScalarValue::try_from_array(array.as_ref(), 0).map_err(|_| fail())
}

fn fill_auto_ids(array: &ArrayRef, field: &Field, mut next_id: i64) -> Result<(ArrayRef, i64)> {
    let as_i64 = cast_with_options(array.as_ref(), &DataType::Int64, &strict_cast())
        .map_err(|e| Error::Engine(e.into()))?;
    let ints = as_i64
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| Error::Engine(quiver_engine::EngineError::Internal("ids".into())))?;
    if let Some(max) = arrow::compute::max(ints) {
        next_id = next_id.max(max.saturating_add(1));
    }
    let filled: Int64Array = ints
        .iter()
        .map(|v| {
            Some(v.unwrap_or_else(|| {
                next_id += 1;
                next_id - 1
            }))
        })
        .collect();
    Ok((cast_to_field(Arc::new(filled), field)?, next_id))
}

fn max_integer(array: &ArrayRef) -> Option<i64> {
    let as_i64 = cast_with_options(array.as_ref(), &DataType::Int64, &strict_cast()).ok()?;
    arrow::compute::max(as_i64.as_any().downcast_ref::<Int64Array>()?)
}

/// Builds an array of `data_type` from values already cast to it.
pub(crate) fn array_from_values(values: &[ScalarValue], data_type: &DataType) -> Result<ArrayRef> {
    macro_rules! collect {
        ($variant:ident, $array:ty) => {
            Arc::new(
                values
                    .iter()
                    .map(|v| match v {
                        ScalarValue::$variant(x) => Ok(x.clone()),
                        ScalarValue::Null => Ok(None),
                        other => Err(mismatch(other, data_type)),
                    })
                    .collect::<Result<$array>>()?,
            ) as ArrayRef
        };
    }
    Ok(match data_type {
        DataType::Boolean => collect!(Boolean, BooleanArray),
        DataType::Int16 => collect!(Int16, Int16Array),
        DataType::Int32 => collect!(Int32, Int32Array),
        DataType::Int64 => collect!(Int64, Int64Array),
        DataType::Float64 => collect!(Float64, Float64Array),
        DataType::Utf8 => collect!(Utf8, StringArray),
        DataType::Date32 => collect!(Date32, Date32Array),
        DataType::Timestamp(_, _) => collect!(TimestampMicrosecond, TimestampMicrosecondArray),
        DataType::Time64(_) => collect!(Time64Microsecond, Time64MicrosecondArray),
        DataType::Duration(_) => collect!(DurationMicrosecond, DurationMicrosecondArray),
        DataType::Decimal128(precision, scale) => {
            let array = values
                .iter()
                .map(|v| match v {
                    ScalarValue::Decimal128(x, _, _) => Ok(*x),
                    ScalarValue::Null => Ok(None),
                    other => Err(mismatch(other, data_type)),
                })
                .collect::<Result<Decimal128Array>>()?
                .with_precision_and_scale(*precision, *scale)
                .map_err(|e| Error::Engine(e.into()))?;
            Arc::new(array)
        }
        DataType::Dictionary(_, value_type) => {
            let plain = array_from_values(values, value_type)?;
            cast_with_options(plain.as_ref(), data_type, &strict_cast())
                .map_err(|e| Error::Engine(e.into()))?
        }
        other => {
            return Err(Error::NotSupportedError(format!(
                "columns of type {other} cannot be written yet"
            )))
        }
    })
}

fn mismatch(value: &ScalarValue, data_type: &DataType) -> Error {
    Error::Engine(quiver_engine::EngineError::Internal(format!(
        "value {value} of type {} in a {data_type} column",
        value.data_type()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CharField, DateField, ForeignKey, IntegerField, OnDelete};
    use arrow::array::AsArray;
    use arrow::datatypes::{Field as ArrowField, Int64Type, Schema};

    fn db() -> Database {
        let db = Database::new();
        db.register(
            Model::new("Customer")
                .field("name", CharField::new(50))
                .field("age", IntegerField::new().null())
                .field("signup", DateField::new().null()),
        )
        .unwrap();
        db.register(
            Model::new("Order")
                .field("customer", ForeignKey::new("Customer", OnDelete::Cascade))
                .field("status", CharField::new(10).default("new")),
        )
        .unwrap();
        db
    }

    fn int_column(db: &Database, table: &str, column: usize) -> Vec<i64> {
        let t = db.catalog().table(table).unwrap();
        let snapshot = t.snapshot();
        snapshot
            .chunks()
            .iter()
            .flat_map(|c| {
                let a = cast_with_options(
                    c.batch().column(column).as_ref(),
                    &DataType::Int64,
                    &strict_cast(),
                )
                .unwrap();
                a.as_primitive::<Int64Type>().values().to_vec()
            })
            .collect()
    }

    #[test]
    fn handles_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Database>();
        shareable::<crate::QuerySet>();
        let db = db();
        let handle = db.clone();
        std::thread::spawn(move || {
            let customer = handle.model("Customer").unwrap();
            handle
                .insert_rows(&customer, vec![vec![("name".into(), "T".into())]])
                .unwrap();
        })
        .join()
        .unwrap();
        assert_eq!(db.catalog().table("customer").unwrap().num_rows(), 1);
        db.set_config(SessionConfig::new().with_target_partitions(1));
        assert_eq!(db.config().target_partitions, 1);
    }

    #[test]
    fn register_creates_tables_and_rejects_bad_models_without_side_effects() {
        let db = db();
        let schema = db.catalog().table("order").unwrap().schema();
        assert_eq!(schema.field(1).name(), "customer_id");
        assert_eq!(schema.field(1).data_type(), &DataType::Int64);
        let err = db
            .register(Model::new("Bad").field("x", ForeignKey::new("Nope", OnDelete::Cascade)))
            .unwrap_err();
        assert_eq!(err.django_name(), "ImproperlyConfigured");
        assert!(db.catalog().table("bad").is_err());
        assert!(db.model("bad").is_err());
    }

    #[test]
    fn insert_rows_fills_ids_defaults_and_casts() {
        let db = db();
        let customer = db.model("Customer").unwrap();
        let made = db
            .insert_rows(
                &customer,
                vec![
                    vec![
                        ("name".into(), "Ann".into()),
                        ("age".into(), ScalarValue::Int64(Some(30))),
                    ],
                    vec![
                        ("name".into(), "Bob".into()),
                        ("signup".into(), "2024-01-05".into()),
                    ],
                ],
            )
            .unwrap();
        assert_eq!(made[0].pk(), ScalarValue::Int64(Some(1)));
        assert_eq!(made[1].pk(), ScalarValue::Int64(Some(2)));
        assert_eq!(
            made[0].get_value("age").unwrap(),
            ScalarValue::Int32(Some(30))
        );
        assert_eq!(
            made[1].get::<chrono::NaiveDate>("signup").unwrap(),
            chrono::NaiveDate::from_ymd_opt(2024, 1, 5).unwrap()
        );
        let order = db.model("Order").unwrap();
        let o = db
            .insert_rows(&order, vec![vec![("customer".into(), (&made[0]).into())]])
            .unwrap();
        assert_eq!(o[0].get::<String>("status").unwrap(), "new");
        assert_eq!(o[0].get::<i64>("customer_id").unwrap(), 1);
        let err = db
            .insert_rows(&order, vec![vec![("status".into(), "x".into())]])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "null value in column \"customer_id\" of relation \"order\" violates not-null \
             constraint"
        );
        let err = db
            .insert_rows(&customer, vec![vec![("age".into(), "old".into())]])
            .unwrap_err();
        assert_eq!(err.django_name(), "ValueError");
        assert_eq!(db.catalog().table("customer").unwrap().num_rows(), 2);
    }

    #[test]
    fn load_batches_matches_columns_by_attname_and_continues_ids() {
        let db = db();
        let schema = Arc::new(Schema::new(vec![ArrowField::new(
            "name",
            DataType::Utf8,
            false,
        )]));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(StringArray::from(vec!["a", "b", "c"]))],
        )
        .unwrap();
        assert_eq!(db.load_batches("Customer", vec![batch]).unwrap(), 3);
        assert_eq!(int_column(&db, "customer", 0), [1, 2, 3]);
        let customer = db.model("Customer").unwrap();
        let next = db
            .insert_rows(&customer, vec![vec![("name".into(), "d".into())]])
            .unwrap();
        assert_eq!(next[0].pk(), ScalarValue::Int64(Some(4)));

        let schema = Arc::new(Schema::new(vec![
            ArrowField::new("id", DataType::Int32, true),
            ArrowField::new("customer_id", DataType::Int32, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(vec![Some(10), None])),
                Arc::new(Int32Array::from(vec![1, 2])),
            ],
        )
        .unwrap();
        db.load_batches("Order", vec![batch]).unwrap();
        assert_eq!(int_column(&db, "order", 0), [10, 11]);
        let usage = db.table_usage();
        assert_eq!(usage.iter().find(|u| u.table == "order").unwrap().rows, 2);

        let schema = Arc::new(Schema::new(vec![ArrowField::new(
            "nme",
            DataType::Utf8,
            false,
        )]));
        let bad =
            RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(vec!["x"]))]).unwrap();
        let err = db.load_batches("Customer", vec![bad]).unwrap_err();
        assert_eq!(err.to_string(), "Customer has no field named 'nme'");
    }
}
