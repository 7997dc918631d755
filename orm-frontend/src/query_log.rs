//! The query log: Django's `connection.queries` — the SQL text and run time of every
//! executed query — so that a script (or a test) can see how many queries a piece of code
//! ran (the N+1 problem and its `select_related` fix).
//!
//! Logging is off by default (rendering SQL for every query costs a little, as Django only
//! logs with `DEBUG=True`); [`Database::enable_query_log`](crate::Database::enable_query_log)
//! turns it on. Like Django, the log keeps the most recent 9000 queries.

use std::collections::VecDeque;
use std::time::Duration;

use parking_lot::Mutex;
use quiver_engine::LogicalPlan;

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

    /// Records `plan` when logging is on.
    pub(crate) fn record(&self, plan: &LogicalPlan, time: Duration) {
        if !self.is_enabled() {
            return;
        }
        let sql = quiver_engine::sql::plan_to_sql(plan).unwrap_or_else(|_| plan.to_string());
        let mut records = self.records.lock();
        if records.len() == QUERIES_LIMIT {
            records.pop_front();
        }
        records.push_back(QueryRecord { sql, time });
    }

    pub(crate) fn records(&self) -> Vec<QueryRecord> {
        self.records.lock().iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        self.records.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;

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
}
