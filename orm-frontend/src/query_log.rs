//! The query log: Django's `connection.queries` — the SQL text and run time of every
//! executed query — so that a script (or a test) can see how many queries a piece of code
//! ran (the N+1 problem and its `select_related` fix).
//!
//! Logging is off by default (rendering SQL for every query costs a little, as Django only
//! logs with `DEBUG=True`); [`Database::enable_query_log`](crate::Database::enable_query_log)
//! turns it on. Like Django, the log keeps the most recent 9000 queries.
//!
//! Writes are logged as the statements Django runs for them, one entry each: `create()` and
//! each `bulk_create()` batch an `INSERT`, `update()` and `save()` an `UPDATE`, `delete()` a
//! `DELETE` per table (with the `SELECT`s Django's collector makes to find what cascades).
//! The reads a write makes internally (finding and locking the matching rows, computing new
//! values, re-reading a saved object) run inside [`internal_reads`] and are not logged, since
//! Django's single `UPDATE ... WHERE` makes none of them. The statements are rendered in the
//! dialect of `QuerySet::sql()`; they describe the write, the engine does not parse them.

use std::cell::Cell;
use std::collections::VecDeque;
use std::time::Duration;

use arrow::array::RecordBatch;
use parking_lot::Mutex;
use quiver_engine::{LogicalPlan, ScalarValue};

use crate::expressions::Expression;
use crate::model::Model;
use crate::queryset::QuerySet;
use crate::results::Instance;

/// Django's `queries_log` bound (`BaseDatabaseWrapper.queries_limit`).
const QUERIES_LIMIT: usize = 9000;

/// One executed query.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRecord {
    /// The PostgreSQL-dialect SQL (`qs.sql()`), or the plan when it has no SQL form.
    pub sql: String,
    /// How long it ran.
    pub time: Duration,
}

/// The log itself, held by the database.
#[derive(Debug, Default)]
pub(crate) struct QueryLog {
    enabled: Mutex<bool>,
    records: Mutex<VecDeque<QueryRecord>>,
}

impl QueryLog {
    pub(crate) fn set_enabled(&self, enabled: bool) {
        *self.enabled.lock() = enabled;
    }

    pub(crate) fn is_enabled(&self) -> bool {
        *self.enabled.lock()
    }

    /// Records `plan` when logging is on, unless a write runs it ([`internal_reads`]).
    pub(crate) fn record(&self, plan: &LogicalPlan, time: Duration) {
        if !self.is_enabled() || INTERNAL_READS.with(Cell::get) > 0 {
            return;
        }
        let sql = quiver_engine::sql::plan_to_sql(plan).unwrap_or_else(|_| plan.to_string());
        self.push(QueryRecord { sql, time });
    }

    /// Records a write statement when logging is on; `sql` is only rendered then.
    pub(crate) fn record_statement(&self, sql: impl FnOnce() -> String, time: Duration) {
        if self.is_enabled() {
            self.push(QueryRecord { sql: sql(), time });
        }
    }

    fn push(&self, record: QueryRecord) {
        let mut records = self.records.lock();
        if records.len() == QUERIES_LIMIT {
            records.pop_front();
        }
        records.push_back(record);
    }

    pub(crate) fn records(&self) -> Vec<QueryRecord> {
        self.records.lock().iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        self.records.lock().clear();
    }
}

thread_local! {
    /// How many [`internal_reads`] calls are active on this thread.
    static INTERNAL_READS: Cell<usize> = const { Cell::new(0) };
}

/// Runs `f` with the queries it executes on this thread kept out of the log: the reads a
/// write makes for itself, which Django's SQL statement does not need. Public for code that
/// builds Django's writes on top of this crate (the script runner's `bulk_create` reads the
/// next key this way).
pub fn internal_reads<T>(f: impl FnOnce() -> T) -> T {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            INTERNAL_READS.with(|depth| depth.set(depth.get().saturating_sub(1)));
        }
    }
    INTERNAL_READS.with(|depth| depth.set(depth.get() + 1));
    let _leave = Leave;
    f()
}

/// `"name"`, with embedded quotes doubled.
fn identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A value as a SQL literal in a write statement, where the column gives it its type.
fn literal(value: &ScalarValue) -> String {
    if value.is_null() {
        return "NULL".to_string();
    }
    match value {
        ScalarValue::Boolean(Some(b)) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        ScalarValue::Int16(_)
        | ScalarValue::Int32(_)
        | ScalarValue::Int64(_)
        | ScalarValue::Decimal128(..) => value.to_string(),
        ScalarValue::Float64(Some(v)) => format!("{v:?}"),
        ScalarValue::TimestampMicrosecond(..) => {
            format!("'{}'", value.to_string().replacen('T', " ", 1))
        }
        other => format!("'{}'", other.to_string().replace('\'', "''")),
    }
}

/// `INSERT INTO "t" ("a", "b") VALUES (1, 'x'), (2, 'y')`: the rows as stored.
fn insert_sql(model: &Model, rows: &[Vec<ScalarValue>]) -> String {
    let columns: Vec<String> = model
        .fields()
        .iter()
        .map(|f| identifier(f.column()))
        .collect();
    let values: Vec<String> = rows
        .iter()
        .map(|row| {
            let items: Vec<String> = row.iter().map(literal).collect();
            format!("({})", items.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES {}",
        identifier(&model.table_name()),
        columns.join(", "),
        values.join(", ")
    )
}

/// The values of `instances`, in `model`'s column order.
pub(crate) fn instance_rows(model: &Model, instances: &[Instance]) -> Vec<Vec<ScalarValue>> {
    instances
        .iter()
        .map(|instance| {
            model
                .fields()
                .iter()
                .map(|f| instance.get_value(f.attname()).unwrap_or(ScalarValue::Null))
                .collect()
        })
        .collect()
}

/// The rows of `batch` (in the table's column order) as values.
pub(crate) fn batch_rows(batch: &RecordBatch) -> Vec<Vec<ScalarValue>> {
    (0..batch.num_rows())
        .map(|row| {
            batch
                .columns()
                .iter()
                .map(|column| {
                    ScalarValue::try_from_array(column.as_ref(), row).unwrap_or(ScalarValue::Null)
                })
                .collect()
        })
        .collect()
}

/// Whether each row given to `create`/`bulk_create` names its primary key.
pub(crate) fn primary_key_given(model: &Model, rows: &[Vec<(String, ScalarValue)>]) -> Vec<bool> {
    let pk = model.pk();
    rows.iter()
        .map(|row| {
            row.iter().any(|(name, value)| {
                !value.is_null()
                    && (name == "pk"
                        || pk.is_some_and(|pk| pk.name() == name || pk.attname() == name))
            })
        })
        .collect()
}

/// The `INSERT`s Django's `bulk_create` sends for `rows` (as stored): the objects that came
/// with a primary key first, then the others, each group in batches of `batch_size`, each
/// statement ending in `suffix` (`ON CONFLICT DO NOTHING`, ...). Without `pk_given` the rows
/// form one group.
pub(crate) fn insert_statements(
    model: &Model,
    rows: Vec<Vec<ScalarValue>>,
    pk_given: Option<&[bool]>,
    batch_size: Option<usize>,
    suffix: &str,
) -> Vec<String> {
    let (with_pk, without_pk): (Vec<_>, Vec<_>) = rows
        .into_iter()
        .enumerate()
        .partition(|(i, _)| pk_given.is_none_or(|given| given.get(*i).copied().unwrap_or(false)));
    let mut statements = Vec::new();
    for group in [with_pk, without_pk] {
        let group: Vec<Vec<ScalarValue>> = group.into_iter().map(|(_, row)| row).collect();
        for part in group.chunks(batch_size.unwrap_or(group.len()).max(1)) {
            statements.push(format!("{}{suffix}", insert_sql(model, part)));
        }
    }
    statements
}

/// The `WHERE` of a write on the rows `qs` matches, as Django's compiler writes it: the
/// QuerySet's own condition when it reads the table alone, else
/// `WHERE "t"."id" IN (SELECT ...)` (Django's form for filters across relations).
fn where_clause(qs: &QuerySet, model: &Model) -> String {
    let Ok(pk) = model.pk_field() else {
        return String::new();
    };
    let table = model.table_name();
    let qualified_pk = format!("{}.{}", identifier(&table), identifier(pk.column()));
    let Ok(select) = qs.write_base().values([pk.attname()]).sql() else {
        return String::new();
    };
    let plain = format!("SELECT {qualified_pk} FROM {0} AS {0}", identifier(&table));
    match select.strip_prefix(&plain) {
        Some("") => String::new(),
        Some(rest) if rest.starts_with(" WHERE ") && !rest.contains(" GROUP BY ") => {
            rest.to_string()
        }
        _ => format!(" WHERE {qualified_pk} IN ({select})"),
    }
}

/// `UPDATE "t" SET "a" = <expression>, ... WHERE ...` for `qs.update(targets)`, `targets`
/// being field positions and their new values.
pub(crate) fn update_sql(qs: &QuerySet, model: &Model, targets: &[(usize, Expression)]) -> String {
    let assignments: Vec<String> = targets
        .iter()
        .map(|(position, expression)| {
            let field = &model.fields()[*position];
            format!(
                "{} = {}",
                identifier(field.column()),
                value_sql(qs, expression).unwrap_or_else(|| expression.to_string())
            )
        })
        .collect();
    format!(
        "UPDATE {} SET {}{}",
        identifier(&model.table_name()),
        assignments.join(", "),
        where_clause(qs, model)
    )
}

/// The SQL of one update value, cut from the SELECT that computes it.
fn value_sql(qs: &QuerySet, expression: &Expression) -> Option<String> {
    if let Some(value) = expression.direct_value() {
        return Some(literal(value));
    }
    let alias = "quiver_logged_update_value";
    let select = qs
        .write_base()
        .annotate([(alias, expression.clone())])
        .values([alias])
        .sql()
        .ok()?;
    let body = select.strip_prefix("SELECT ")?;
    let end = body.find(&format!(" AS {} FROM ", identifier(alias)))?;
    Some(body[..end].to_string())
}

/// `bulk_update()`'s statement for one batch: `UPDATE "t" SET "a" = CASE WHEN ("t"."id" = 1)
/// THEN 'x' ... END WHERE "t"."id" IN (1, ...)`, `rows` being each object's key and values.
pub(crate) fn bulk_update_sql(
    model: &Model,
    positions: &[usize],
    rows: &[(ScalarValue, Vec<ScalarValue>)],
) -> String {
    let table = identifier(&model.table_name());
    let pk = model
        .pk_field()
        .map(|f| identifier(f.column()))
        .unwrap_or_default();
    let assignments: Vec<String> = positions
        .iter()
        .enumerate()
        .map(|(i, position)| {
            let cases: Vec<String> = rows
                .iter()
                .map(|(key, values)| {
                    format!(
                        "WHEN ({table}.{pk} = {}) THEN {}",
                        literal(key),
                        values.get(i).map_or_else(|| "NULL".to_string(), literal)
                    )
                })
                .collect();
            format!(
                "{} = CASE {} ELSE NULL END",
                identifier(model.fields()[*position].column()),
                cases.join(" ")
            )
        })
        .collect();
    let keys: Vec<String> = rows.iter().map(|(key, _)| literal(key)).collect();
    format!(
        "UPDATE {table} SET {} WHERE {table}.{pk} IN ({})",
        assignments.join(", "),
        keys.join(", ")
    )
}

/// `DELETE FROM "t" WHERE ...` for the rows `qs` matches (Django's fast delete).
pub(crate) fn delete_where_sql(qs: &QuerySet, model: &Model) -> String {
    format!(
        "DELETE FROM {}{}",
        identifier(&model.table_name()),
        where_clause(qs, model)
    )
}

/// `DELETE FROM "t" WHERE "t"."c" IN (1, 2)`: rows of `model` by the values of `column`.
pub(crate) fn delete_in_sql(model: &Model, column: &str, keys: &[ScalarValue]) -> String {
    let table = identifier(&model.table_name());
    let keys: Vec<String> = keys.iter().map(literal).collect();
    format!(
        "DELETE FROM {table} WHERE {table}.{} IN ({})",
        identifier(column),
        keys.join(", ")
    )
}

/// `UPDATE "t" SET "c" = <value> WHERE "t"."k" IN (1, 2)`: an `on_delete=SET_NULL` /
/// `SET_DEFAULT` update of the rows whose `key_column` holds one of `keys`.
pub(crate) fn update_in_sql(
    model: &Model,
    column: &str,
    value: &ScalarValue,
    key_column: &str,
    keys: &[ScalarValue],
) -> String {
    let table = identifier(&model.table_name());
    let keys: Vec<String> = keys.iter().map(literal).collect();
    format!(
        "UPDATE {table} SET {} = {} WHERE {table}.{} IN ({})",
        identifier(column),
        literal(value),
        identifier(key_column),
        keys.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use quiver_engine::ScalarValue;

    #[test]
    fn logs_each_executed_query_when_enabled() {
        let db = Database::new();
        db.register(Model::new("Tag").field("name", CharField::new(10)))
            .unwrap();
        db.objects("Tag").count().unwrap();
        assert!(db.queries().is_empty(), "off by default");
        db.enable_query_log(true);
        db.objects("Tag").filter(q!(name = "a")).count().unwrap();
        db.objects("Tag").fetch().unwrap();
        let queries = db.queries();
        assert_eq!(queries.len(), 2);
        assert!(queries[0].sql.contains("count(*)"), "{}", queries[0].sql);
        assert!(queries[1].sql.starts_with("SELECT"), "{}", queries[1].sql);
        db.reset_queries();
        assert!(db.queries().is_empty());
    }

    #[test]
    fn write_literals_quote_text_and_keep_numbers_bare() {
        use super::literal;
        assert_eq!(literal(&ScalarValue::Utf8(Some("it's".into()))), "'it''s'");
        assert_eq!(literal(&ScalarValue::Int32(None)), "NULL");
        assert_eq!(literal(&ScalarValue::Int64(Some(-7))), "-7");
        assert_eq!(literal(&ScalarValue::Float64(Some(2.0))), "2.0");
        assert_eq!(literal(&ScalarValue::Boolean(Some(false))), "FALSE");
        assert_eq!(literal(&ScalarValue::Date32(Some(19_727))), "'2024-01-05'");
    }

    #[test]
    fn reads_inside_internal_reads_are_not_logged() {
        let db = Database::new();
        db.register(Model::new("Tag").field("name", CharField::new(10)))
            .unwrap();
        db.enable_query_log(true);
        super::internal_reads(|| {
            super::internal_reads(|| db.objects("Tag").count().unwrap());
            db.objects("Tag").count().unwrap()
        });
        assert!(db.queries().is_empty());
        db.objects("Tag").count().unwrap();
        assert_eq!(db.queries().len(), 1, "logging resumes after the block");
    }

    /// The statement counts are Django's: `django_runner.py
    /// orm-frontend/tests/django/write_queries.py --db sqlite` printed
    /// `write_queries.expected.jsonl`; SQLite's backend also logs BEGIN/COMMIT around
    /// atomic writes, which PostgreSQL's (whose behaviour Quiver follows) does not, so they
    /// are left out here.
    #[test]
    fn writes_log_the_statements_django_sends() {
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
        db.register(
            Model::new("Note")
                .field("account", ForeignKey::new("Account", OnDelete::Cascade))
                .field("text", CharField::new(20)),
        )
        .unwrap();
        db.enable_query_log(true);
        let kinds = |action: &dyn Fn()| {
            db.reset_queries();
            action();
            db.queries()
                .iter()
                .map(|q| q.sql.split(' ').next().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        };
        let oslo = db
            .objects("Branch")
            .create([("city", "Oslo".into())])
            .unwrap();
        let account = |owner: &str, balance: i64| -> Vec<(String, ScalarValue)> {
            vec![
                ("branch".into(), oslo.pk()),
                ("owner".into(), owner.into()),
                ("balance".into(), balance.into()),
            ]
        };
        let create = || {
            db.objects("Account").create(account("ann", 100)).unwrap();
        };
        assert_eq!(kinds(&create), ["INSERT"]);
        assert_eq!(
            db.queries()[0].sql,
            "INSERT INTO \"account\" (\"id\", \"branch_id\", \"owner\", \"balance\") \
             VALUES (1, 1, 'ann', 100)"
        );
        let mut ann = db.objects("Account").get(q!(owner = "ann")).unwrap();
        let save = || {
            let mut ann = ann.clone();
            ann.set("balance", 90i64).unwrap();
            ann.save().unwrap();
        };
        assert_eq!(
            kinds(&save),
            ["UPDATE"],
            "save() does not read the row back"
        );
        ann.set("balance", 90i64).unwrap();
        db.reset_queries();
        ann.save_update_fields(&["balance"]).unwrap();
        assert_eq!(db.queries().len(), 1);
        let bulk = || {
            let rows: Vec<_> = (0..5).map(|i| account(&format!("b{i}"), i)).collect();
            let options = BulkCreateOptions::default().batch_size(2);
            db.objects("Account")
                .bulk_create_with(rows, &options)
                .unwrap();
        };
        assert_eq!(kinds(&bulk), ["INSERT", "INSERT", "INSERT"]);
        let bulk_all = || {
            let rows: Vec<_> = (0..3).map(|i| account(&format!("c{i}"), i)).collect();
            db.objects("Account").bulk_create(rows).unwrap();
        };
        assert_eq!(kinds(&bulk_all), ["INSERT"]);
        let update = || {
            db.objects("Account")
                .filter(q!(balance__gt = 10))
                .update([("balance", F("balance") + 1)])
                .unwrap();
        };
        assert_eq!(kinds(&update), ["UPDATE"]);
        assert_eq!(
            db.queries()[0].sql,
            "UPDATE \"account\" SET \"balance\" = (\"account\".\"balance\" + CAST(1 AS INT)) \
             WHERE (\"account\".\"balance\" > 10)"
        );
        let across = || {
            db.objects("Account")
                .filter(q!(branch__city = "Oslo"))
                .update([("balance", 0i64)])
                .unwrap();
        };
        assert_eq!(kinds(&across), ["UPDATE"]);
        assert!(
            db.queries()[0].sql.starts_with(
                "UPDATE \"account\" SET \"balance\" = 0 WHERE \"account\".\"id\" IN (SELECT"
            ),
            "{}",
            db.queries()[0].sql
        );
        let nothing = || {
            db.objects("Account")
                .filter(q!(balance__gt = 1000))
                .update([("balance", 0i64)])
                .unwrap();
        };
        assert_eq!(
            kinds(&nothing),
            ["UPDATE"],
            "Django sends it even for no rows"
        );
        let found = || {
            db.objects("Account")
                .get_or_create([("owner", "ann".into())], [("balance", 1i64.into())])
                .unwrap();
        };
        assert_eq!(kinds(&found), ["SELECT"]);
        let made = || {
            db.objects("Account")
                .get_or_create([("owner", "new".into())], [("balance", 1i64.into())])
                .unwrap();
        };
        assert_eq!(kinds(&made), ["SELECT", "INSERT"]);
        let upsert = || {
            db.objects("Account")
                .update_or_create([("owner", "new".into())], [("balance", 2i64.into())], None)
                .unwrap();
        };
        assert_eq!(kinds(&upsert), ["SELECT", "UPDATE"]);
        db.objects("Note")
            .create([("account", ann.pk()), ("text", "hi".into())])
            .unwrap();
        let fast = || {
            db.objects("Note")
                .filter(q!(text = "nope"))
                .delete()
                .unwrap();
        };
        assert_eq!(kinds(&fast), ["DELETE"], "nothing cascades from a Note");
        let leaves = || {
            db.objects("Account")
                .filter(q!(owner__startswith = "c"))
                .delete()
                .unwrap();
        };
        assert_eq!(kinds(&leaves), ["SELECT", "DELETE", "DELETE"]);
        let instance = || {
            ann.delete().unwrap();
        };
        assert_eq!(kinds(&instance), ["DELETE", "DELETE"]);
        assert_eq!(
            db.queries()[1].sql,
            "DELETE FROM \"account\" WHERE \"account\".\"id\" IN (1)"
        );
        let cascades = || {
            db.objects("Branch").delete().unwrap();
        };
        assert_eq!(
            kinds(&cascades),
            ["SELECT", "SELECT", "DELETE", "DELETE", "DELETE"]
        );
        assert_eq!(
            db.objects("Account").count().unwrap(),
            1,
            "the branchless row made by get_or_create stays"
        );
    }
}
