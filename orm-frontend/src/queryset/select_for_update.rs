//! `select_for_update(nowait=, skip_locked=, of=)`: a QuerySet whose evaluation locks the rows
//! it returns until the surrounding transaction ends.
//!
//! Evaluation finds the matching rows, locks them (blocking, failing at once, or leaving
//! locked rows out) and then reads them again as committed now, re-checking the filter, the
//! way PostgreSQL's `SELECT ... FOR UPDATE` returns the latest version of each row it waited
//! for. Locking is refused outside `atomic()`, as Django refuses it.

use std::collections::HashSet;

use arrow::array::RecordBatch;
use quiver_storage::{LockWait, RowKey};

use crate::error::{Error, Result};
use crate::expressions::Q;
use crate::model::{Field, Model};
use crate::queryset::update::{keep_keys, matching_keys};
use crate::queryset::{storage_error, QuerySet};
use crate::results::{Instance, Rows};

/// A QuerySet evaluated with row locks (`qs.select_for_update()`).
#[derive(Debug, Clone)]
pub struct SelectForUpdate {
    qs: QuerySet,
    nowait: bool,
    skip_locked: bool,
    of: Vec<String>,
}

impl QuerySet {
    /// `select_for_update()`: evaluating the result locks the rows it returns until the
    /// transaction ends. Only allowed inside `atomic()`.
    pub fn select_for_update(&self) -> SelectForUpdate {
        SelectForUpdate {
            qs: self.clone(),
            nowait: false,
            skip_locked: false,
            of: vec![],
        }
    }
}

impl SelectForUpdate {
    /// `nowait=True`: fail at once (`DatabaseError`) when a row is locked by another
    /// transaction.
    pub fn nowait(mut self) -> SelectForUpdate {
        self.nowait = true;
        self
    }

    /// `skip_locked=True`: leave rows locked by other transactions out of the result.
    pub fn skip_locked(mut self) -> SelectForUpdate {
        self.skip_locked = true;
        self
    }

    /// `of=("self", "relation", ...)`: which models' rows to lock (default: this model's).
    pub fn of<S: Into<String>>(mut self, paths: impl IntoIterator<Item = S>) -> SelectForUpdate {
        self.of = paths.into_iter().map(Into::into).collect();
        self
    }

    /// `filter()` on the locking QuerySet.
    pub fn filter(mut self, q: impl Into<Q>) -> SelectForUpdate {
        self.qs = self.qs.filter(q);
        self
    }

    /// `exclude()` on the locking QuerySet.
    pub fn exclude(mut self, q: impl Into<Q>) -> SelectForUpdate {
        self.qs = self.qs.exclude(q);
        self
    }

    /// `order_by()` on the locking QuerySet.
    pub fn order_by<I, T>(mut self, items: I) -> SelectForUpdate
    where
        I: IntoIterator<Item = T>,
        T: Into<super::OrderItem>,
    {
        self.qs = self.qs.order_by(items);
        self
    }

    /// Locks the matching rows and returns them as committed after the locks were taken.
    ///
    /// A sliced QuerySet (`[:10]`, `first()`) locks only the rows it returns, and counts only
    /// rows it could lock: as PostgreSQL applies `LIMIT`/`OFFSET` above the row locking, so
    /// that `select_for_update(skip_locked=True).order_by("created")[:10]` hands each worker
    /// of a job queue ten rows no other worker holds.
    pub fn fetch(&self) -> Result<Rows> {
        let model = self.qs.db.model(&self.qs.model)?;
        if self.qs.query.is_sliced() && !self.qs.query.empty && self.locks_self() {
            return self.fetch_sliced(&model);
        }
        let locked = self.lock(&model)?;
        let pk = model.pk_field()?;
        let rows = self.qs.fetch()?;
        let schema = std::sync::Arc::clone(rows.schema());
        let mut seen = HashSet::new();
        let batches = rows
            .into_batches()
            .iter()
            .map(|batch| keep_keys(batch, pk.attname(), &locked, &mut seen))
            .collect::<Result<Vec<RecordBatch>>>()?;
        Ok(Rows::new(schema, batches))
    }

    /// The locked rows as instances.
    pub fn fetch_instances(&self) -> Result<Vec<Instance>> {
        let model = self.qs.db.model(&self.qs.model)?;
        let pk = model.pk().map(|f| f.attname().to_string());
        Ok(self
            .fetch()?
            .iter()
            .map(|row| {
                Instance::new(model.name(), pk.clone(), row).with_database(self.qs.db.clone())
            })
            .collect())
    }

    /// `get()`: the one matching row, locked.
    pub fn get(&self, q: impl Into<Q>) -> Result<Instance> {
        let q = q.into();
        let narrowed = if q.is_empty() {
            self.clone()
        } else {
            self.clone().filter(q.clone())
        };
        let mut found = narrowed.fetch_instances()?;
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(Error::DoesNotExist(format!(
                "{} matching query does not exist.",
                self.qs.model
            ))),
            n => Err(Error::MultipleObjectsReturned(format!(
                "get() returned more than one {} -- it returned {n}!",
                self.qs.model
            ))),
        }
    }

    /// `first()`: the first row in the QuerySet's order (by primary key when unordered) that
    /// could be locked; only that row is locked. With `skip_locked`, a first row locked by
    /// another transaction is passed over for the next one, as in Django on PostgreSQL.
    pub fn first(&self) -> Result<Option<Instance>> {
        let model = self.qs.db.model(&self.qs.model)?;
        let mut one = self.clone();
        if !self.qs.is_ordered(&model) {
            one.qs = one.qs.order_by(["pk"]);
        }
        one.qs = one.qs.slice(..1);
        Ok(one.fetch_instances()?.into_iter().next())
    }

    /// How to wait for a row locked elsewhere; refuses `nowait` with `skip_locked`, and any
    /// locking outside `atomic()`, before anything is read.
    fn wait_mode(&self) -> Result<LockWait> {
        if self.nowait && self.skip_locked {
            return Err(Error::ValueError(
                "The nowait option cannot be used with skip_locked.".into(),
            ));
        }
        if self.qs.db.catalog().current_transaction().is_none() {
            return Err(outside_a_transaction());
        }
        Ok(if self.nowait {
            LockWait::NoWait
        } else if self.skip_locked {
            LockWait::SkipLocked
        } else {
            LockWait::Block
        })
    }

    /// `last()`: the last row in the QuerySet's order (by primary key when unordered) that
    /// could be locked; only that row is locked.
    pub fn last(&self) -> Result<Option<Instance>> {
        let model = self.qs.db.model(&self.qs.model)?;
        let mut one = self.clone();
        one.qs = if self.qs.is_ordered(&model) {
            one.qs.reverse()
        } else {
            one.qs.order_by(["-pk"])
        };
        one.first()
    }

    /// Whether this model's own rows are locked (`of=` empty or naming `"self"`).
    fn locks_self(&self) -> bool {
        self.of.is_empty() || self.of.iter().any(|p| p == "self")
    }

    /// [`fetch`](Self::fetch) of a sliced QuerySet: walks the unsliced QuerySet's rows in
    /// order, locking as many as the slice's end needs (skipping those locked elsewhere with
    /// `skip_locked`, and those that no longer match once their lock was granted), then
    /// applies the slice to the rows it holds. Rows the offset passes over stay locked, as
    /// PostgreSQL's `OFFSET` above `FOR UPDATE` leaves them.
    fn fetch_sliced(&self, model: &Model) -> Result<Rows> {
        self.wait_mode()?;
        let (low, high) = (self.qs.query.low, self.qs.query.high);
        let unsliced = self.qs.chain(|query| {
            query.low = 0;
            query.high = None;
        });
        let pk = model.pk_field()?;
        let candidates = matching_keys(&unsliced, pk)?;
        let wanted = high.unwrap_or(candidates.len());
        let mut chosen: Vec<RowKey> = Vec::with_capacity(wanted.min(candidates.len()));
        let mut next = 0;
        while chosen.len() < wanted && next < candidates.len() {
            let take = (wanted - chosen.len()).min(candidates.len() - next);
            let batch = candidates[next..next + take].to_vec();
            next += take;
            let held = self.lock_keys(model, &unsliced, batch)?;
            // Re-read: a row updated while we waited for its lock may no longer match.
            let mut still: HashSet<RowKey> = matching_keys(&unsliced, pk)?.into_iter().collect();
            still.retain(|key| held.contains(key));
            chosen.extend(
                candidates[next - take..next]
                    .iter()
                    .filter(|key| still.contains(*key))
                    .cloned(),
            );
        }
        chosen.truncate(wanted);
        let keep: HashSet<RowKey> = chosen.into_iter().skip(low).collect();
        let rows = unsliced.fetch()?;
        let schema = std::sync::Arc::clone(rows.schema());
        let mut seen = HashSet::new();
        let batches = rows
            .into_batches()
            .iter()
            .map(|batch| keep_keys(batch, pk.attname(), &keep, &mut seen))
            .collect::<Result<Vec<RecordBatch>>>()?;
        Ok(Rows::new(schema, batches))
    }

    /// Takes the locks; returns the keys of this model's rows that are now held.
    fn lock(&self, model: &Model) -> Result<HashSet<RowKey>> {
        self.wait_mode()?;
        let pk = model.pk_field()?;
        let keys = matching_keys(&self.qs, pk)?;
        self.lock_keys(model, &self.qs, keys)
    }

    /// Locks the rows of this model with `keys` (or, for `of=` paths, the related rows they
    /// point to through `qs`); returns the keys of this model's rows now held.
    fn lock_keys(
        &self,
        model: &Model,
        qs: &QuerySet,
        keys: Vec<RowKey>,
    ) -> Result<HashSet<RowKey>> {
        let wait = self.wait_mode()?;
        let Some(transaction) = self.qs.db.catalog().current_transaction() else {
            return Err(outside_a_transaction());
        };
        let pk = model.pk_field()?;
        let lock_self = self.locks_self();
        let mut held: HashSet<RowKey> = if lock_self {
            transaction
                .lock_rows(&model.table_name(), &keys, wait)
                .map_err(storage_error)?
                .into_iter()
                .collect()
        } else {
            keys.into_iter().collect()
        };
        for path in self.of.iter().filter(|p| *p != "self") {
            let (target, target_pk) = related_model(&self.qs, model, path)?;
            let pairs = qs
                .values([
                    pk.attname().to_string(),
                    format!("{path}__{}", target_pk.name()),
                ])
                .to_batches()?;
            for batch in pairs {
                let own = quiver_storage::column_keys(batch.column(0)).map_err(storage_error)?;
                let related =
                    quiver_storage::column_keys(batch.column(1)).map_err(storage_error)?;
                for (own, related) in own.into_iter().zip(related) {
                    if related.has_null() || !held.contains(&own) {
                        continue;
                    }
                    let got = transaction
                        .lock_rows(&target.table_name(), &[related], wait)
                        .map_err(storage_error)?;
                    if got.is_empty() {
                        held.remove(&own);
                    }
                }
            }
        }
        Ok(held)
    }
}

fn outside_a_transaction() -> Error {
    Error::TransactionManagementError(
        "select_for_update cannot be used outside of a transaction.".into(),
    )
}

/// The model at the end of a forward relation path (`"customer"`, `"order__customer"`), and
/// its primary key.
fn related_model(
    qs: &QuerySet,
    model: &Model,
    path: &str,
) -> Result<(std::sync::Arc<Model>, Field)> {
    let mut current = qs.db.model(model.name())?;
    for part in path.split("__") {
        let relation = current
            .get_field(part)
            .and_then(Field::relation)
            .ok_or_else(|| {
                Error::FieldError(format!(
                    "Invalid field name(s) given in select_for_update(of=(...)): {path}. Only \
                     relational fields followed in the query are allowed."
                ))
            })?;
        current = if relation.to == "self" {
            current
        } else {
            qs.db.model(&relation.to)?
        };
    }
    let pk = current.pk_field()?.clone();
    Ok((current, pk))
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;
    use crate::model::{CharField, IntegerField};
    use crate::q;
    use crate::Database;

    fn db() -> Database {
        let db = Database::new();
        db.register(
            Model::new("Account")
                .field("owner", CharField::new(20))
                .field("balance", IntegerField::new()),
        )
        .unwrap();
        for (owner, balance) in [("ann", 100i64), ("bob", 50)] {
            db.objects("Account")
                .create([("owner", owner.into()), ("balance", balance.into())])
                .unwrap();
        }
        db
    }

    #[test]
    fn outside_a_transaction_it_is_refused() {
        let db = db();
        let err = db
            .objects("Account")
            .select_for_update()
            .fetch()
            .unwrap_err();
        assert_eq!(err.django_name(), "TransactionManagementError");
        assert_eq!(
            err.to_string(),
            "select_for_update cannot be used outside of a transaction."
        );
    }

    #[test]
    fn nowait_fails_and_skip_locked_skips_rows_locked_elsewhere() {
        let db = db();
        let (locked_tx, locked_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let holder = {
            let db = db.clone();
            std::thread::spawn(move || {
                db.atomic(|_| {
                    let rows = db
                        .objects("Account")
                        .select_for_update()
                        .filter(q!(owner = "ann"))
                        .fetch()?;
                    assert_eq!(rows.len(), 1);
                    locked_tx.send(()).unwrap();
                    done_rx.recv_timeout(Duration::from_secs(10)).unwrap();
                    Ok(())
                })
                .unwrap();
            })
        };
        locked_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        db.atomic(|_| {
            let err = db
                .objects("Account")
                .select_for_update()
                .nowait()
                .fetch()
                .unwrap_err();
            assert_eq!(err.django_name(), "DatabaseError");
            assert_eq!(
                err.to_string(),
                "could not obtain lock on row in relation \"account\""
            );
            let free = db
                .objects("Account")
                .select_for_update()
                .skip_locked()
                .order_by(["owner"])
                .fetch()?;
            assert_eq!(free.column::<String>("owner")?, ["bob"]);
            Ok(())
        })
        .unwrap();
        done_tx.send(()).unwrap();
        holder.join().unwrap();
        db.atomic(|_| {
            let all = db.objects("Account").select_for_update().nowait().fetch()?;
            assert_eq!(all.len(), 2);
            Ok(())
        })
        .unwrap();
    }

    /// The job-queue pattern: `select_for_update(skip_locked=True).order_by(..)[:n]` gives
    /// each worker `n` rows no other worker holds, and locks only those (PostgreSQL applies
    /// LIMIT/OFFSET above the row locks).
    #[test]
    fn a_sliced_skip_locked_query_returns_the_next_free_rows_and_locks_only_them() {
        let db = Database::new();
        db.register(Model::new("Job").field("created", IntegerField::new()))
            .unwrap();
        for created in 1..=6i64 {
            db.objects("Job")
                .create([("created", created.into())])
                .unwrap();
        }
        let (locked_tx, locked_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let worker = {
            let db = db.clone();
            std::thread::spawn(move || {
                db.atomic(|_| {
                    let mine = db
                        .objects("Job")
                        .order_by(["created"])
                        .slice(..2)
                        .select_for_update()
                        .skip_locked()
                        .fetch()?;
                    assert_eq!(mine.column::<i64>("created")?, [1, 2]);
                    locked_tx.send(()).unwrap();
                    done_rx.recv_timeout(Duration::from_secs(10)).unwrap();
                    Ok(())
                })
                .unwrap();
            })
        };
        locked_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        db.atomic(|_| {
            let jobs = db.objects("Job").order_by(["created"]);
            let next = jobs.slice(..2).select_for_update().skip_locked().fetch()?;
            assert_eq!(next.column::<i64>("created")?, [3, 4]);
            // first() passes over the rows held elsewhere (and finds its own, re-entrant).
            let first = jobs.select_for_update().skip_locked().first()?;
            assert_eq!(
                first.map(|job| job.get::<i64>("created")).transpose()?,
                Some(3)
            );
            // OFFSET counts only rows this transaction could lock.
            let offset = jobs.slice(3..4).select_for_update().skip_locked().fetch()?;
            assert_eq!(offset.column::<i64>("created")?, [6]);
            Ok(())
        })
        .unwrap();
        done_tx.send(()).unwrap();
        worker.join().unwrap();
        // Only the rows returned (and passed over by the offset) were locked: row 5 and 6
        // were free for another transaction while the slice [:2] held 3 and 4.
        db.atomic(|_| {
            let (held_tx, held_rx) = mpsc::channel();
            let (release_tx, release_rx) = mpsc::channel::<()>();
            let holder = {
                let db = db.clone();
                std::thread::spawn(move || {
                    db.atomic(|_| {
                        db.objects("Job")
                            .order_by(["created"])
                            .slice(..2)
                            .select_for_update()
                            .fetch()?;
                        held_tx.send(()).unwrap();
                        release_rx.recv_timeout(Duration::from_secs(10)).unwrap();
                        Ok(())
                    })
                    .unwrap();
                })
            };
            held_rx.recv_timeout(Duration::from_secs(10)).unwrap();
            let rest = db
                .objects("Job")
                .filter(q!(created__gte = 3))
                .select_for_update()
                .nowait()
                .fetch()?;
            assert_eq!(rest.len(), 4);
            release_tx.send(()).unwrap();
            holder.join().unwrap();
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn a_sliced_locking_query_is_refused_outside_a_transaction_even_when_empty() {
        let db = db();
        let err = db
            .objects("Account")
            .filter(q!(owner = "nobody"))
            .slice(..1)
            .select_for_update()
            .fetch()
            .unwrap_err();
        assert_eq!(err.django_name(), "TransactionManagementError");
    }
}
