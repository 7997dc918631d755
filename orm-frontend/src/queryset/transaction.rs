//! Django's `transaction.atomic()` as a closure: [`Database::atomic`], savepoints for nested
//! blocks, `on_commit`, and the one path every ORM write goes through ([`Database::write`]).
//!
//! Transactions belong to the calling thread, as Django's belong to its connection: inside
//! `db.atomic(|tx| ...)`, every QuerySet of `db` evaluated on this thread reads the
//! transaction's own uncommitted writes, and every write joins it. A write outside any block
//! runs in a transaction of its own (autocommit). A write that fails inside a block changes
//! nothing (it is undone to a savepoint taken before it); the error then propagates and, unless
//! the closure handles it, rolls the block back. A panic inside the closure rolls back and is
//! resumed. The isolation level is documented in `quiver_storage::transaction`: READ COMMITTED
//! with row locks, like PostgreSQL's default.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;

use quiver_engine::EngineError;
use quiver_storage::{StorageError, Transaction};

use crate::database::Database;
use crate::error::{Error, Result};

/// The handle an `atomic()` closure gets: the transaction it runs in.
#[derive(Debug)]
pub struct Atomic {
    transaction: Arc<Transaction>,
    /// The savepoint this (nested) block started, `None` for the outermost block.
    savepoint: Option<usize>,
}

impl Atomic {
    /// `transaction.on_commit(func)`: runs `callback` after the outermost block commits;
    /// dropped if the transaction (or the enclosing savepoint) rolls back.
    pub fn on_commit(&self, callback: impl FnOnce() + Send + 'static) {
        self.transaction.on_commit(Box::new(callback));
    }

    /// True in a nested block (a savepoint).
    pub fn is_savepoint(&self) -> bool {
        self.savepoint.is_some()
    }

    /// The storage transaction (its id names the lock owner).
    pub fn transaction(&self) -> &Arc<Transaction> {
        &self.transaction
    }
}

impl Database {
    /// `with transaction.atomic(): ...`: runs `block` in a transaction and commits when it
    /// returns `Ok`; rolls back when it returns `Err` or panics (the panic is resumed after the
    /// rollback). Nested calls on the same thread are savepoints: an inner failure undoes only
    /// the inner block.
    pub fn atomic<T>(&self, block: impl FnOnce(&Atomic) -> Result<T>) -> Result<T> {
        if let Some(transaction) = self.catalog().current_transaction() {
            let savepoint = transaction.savepoint();
            let atomic = Atomic {
                transaction: Arc::clone(&transaction),
                savepoint: Some(savepoint),
            };
            return match catch_unwind(AssertUnwindSafe(|| block(&atomic))) {
                Ok(Ok(value)) => {
                    transaction.release(savepoint);
                    Ok(value)
                }
                Ok(Err(error)) => {
                    transaction.rollback_to(savepoint).map_err(storage_error)?;
                    Err(error)
                }
                Err(panic) => {
                    let _ = transaction.rollback_to(savepoint);
                    resume_unwind(panic)
                }
            };
        }
        let transaction = self.catalog().begin();
        let active = transaction.activate();
        let atomic = Atomic {
            transaction: Arc::clone(&transaction),
            savepoint: None,
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| block(&atomic)));
        drop(active);
        match outcome {
            Ok(Ok(value)) => {
                transaction.commit().map_err(storage_error)?;
                Ok(value)
            }
            Ok(Err(error)) => {
                transaction.rollback();
                Err(error)
            }
            Err(panic) => {
                transaction.rollback();
                resume_unwind(panic)
            }
        }
    }

    /// True inside an `atomic()` block of this database on the calling thread.
    pub fn in_atomic_block(&self) -> bool {
        self.catalog().current_transaction().is_some()
    }

    /// `transaction.on_commit(func)`: after the current transaction commits, or at once when
    /// there is none (Django's autocommit behaviour).
    pub fn on_commit(&self, callback: impl FnOnce() + Send + 'static) {
        match self.catalog().current_transaction() {
            Some(transaction) => transaction.on_commit(Box::new(callback)),
            None => callback(),
        }
    }

    /// Runs one write statement: inside the thread's transaction under a savepoint (so a
    /// failing statement changes nothing), or in a transaction of its own that commits at once.
    pub(crate) fn write<T>(
        &self,
        statement: impl FnOnce(&Arc<Transaction>) -> Result<T>,
    ) -> Result<T> {
        if let Some(transaction) = self.catalog().current_transaction() {
            let savepoint = transaction.savepoint();
            return match statement(&transaction) {
                Ok(value) => {
                    transaction.release(savepoint);
                    Ok(value)
                }
                Err(error) => {
                    transaction.rollback_to(savepoint).map_err(storage_error)?;
                    Err(error)
                }
            };
        }
        let transaction = self.catalog().begin();
        let active = transaction.activate();
        let outcome = catch_unwind(AssertUnwindSafe(|| statement(&transaction)));
        drop(active);
        match outcome {
            Ok(Ok(value)) => {
                transaction.commit().map_err(storage_error)?;
                Ok(value)
            }
            Ok(Err(error)) => {
                transaction.rollback();
                Err(error)
            }
            Err(panic) => {
                transaction.rollback();
                resume_unwind(panic)
            }
        }
    }
}

/// A storage error as the Django exception a user would see: constraint violations are
/// `IntegrityError`; lock failures and deadlocks are `DatabaseError` (PostgreSQL's
/// `OperationalError` subclasses).
pub(crate) fn storage_error(error: StorageError) -> Error {
    match error {
        StorageError::IntegrityViolation(message) => Error::IntegrityError(message),
        StorageError::LockNotAvailable(message) | StorageError::Deadlock(message) => {
            Error::Engine(EngineError::Execution(message))
        }
        StorageError::TransactionState(message) => Error::TransactionManagementError(message),
        other => Error::from(other),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::model::{CharField, IntegerField, Model};
    use crate::q;

    fn db() -> Database {
        let db = Database::new();
        db.register(
            Model::new("Account")
                .field("name", CharField::new(20).unique())
                .field("balance", IntegerField::new()),
        )
        .unwrap();
        db
    }

    fn names(db: &Database) -> Vec<String> {
        db.objects("Account")
            .order_by(["name"])
            .fetch()
            .unwrap()
            .column::<String>("name")
            .unwrap()
    }

    #[test]
    fn atomic_commits_or_rolls_back_everything() {
        let db = db();
        db.atomic(|_| {
            db.objects("Account")
                .create([("name", "a".into()), ("balance", 1i64.into())])?;
            db.objects("Account")
                .create([("name", "b".into()), ("balance", 2i64.into())])?;
            assert_eq!(db.objects("Account").count()?, 2);
            Ok(())
        })
        .unwrap();
        let err = db
            .atomic(|_| {
                db.objects("Account")
                    .create([("name", "c".into()), ("balance", 3i64.into())])?;
                db.objects("Account")
                    .create([("name", "a".into()), ("balance", 3i64.into())])?;
                Ok(())
            })
            .unwrap_err();
        assert_eq!(err.django_name(), "IntegrityError");
        assert_eq!(
            err.to_string(),
            "duplicate key value violates unique constraint \"account_name_key\"\nDETAIL:  Key \
             (name)=(a) already exists."
        );
        assert_eq!(names(&db), ["a", "b"]);
    }

    #[test]
    fn nested_blocks_are_savepoints_and_panics_roll_back() {
        let db = db();
        let committed = Arc::new(AtomicUsize::new(0));
        db.atomic(|tx| {
            db.objects("Account")
                .create([("name", "outer".into()), ("balance", 1i64.into())])?;
            let inner = db.atomic(|inner| {
                assert!(inner.is_savepoint());
                db.objects("Account")
                    .create([("name", "inner".into()), ("balance", 1i64.into())])?;
                let counter = Arc::clone(&committed);
                inner.on_commit(move || {
                    counter.fetch_add(100, Ordering::Relaxed);
                });
                Err::<(), _>(Error::ValueError("inner fails".into()))
            });
            assert!(inner.is_err());
            let counter = Arc::clone(&committed);
            tx.on_commit(move || {
                counter.fetch_add(1, Ordering::Relaxed);
            });
            assert_eq!(committed.load(Ordering::Relaxed), 0);
            Ok(())
        })
        .unwrap();
        assert_eq!(names(&db), ["outer"]);
        assert_eq!(committed.load(Ordering::Relaxed), 1);

        let handle = db.clone();
        let panicked = std::panic::catch_unwind(AssertUnwindSafe(|| {
            handle.atomic(|_| {
                handle
                    .objects("Account")
                    .filter(q!(name = "outer"))
                    .delete()?;
                panic!("boom");
                #[allow(unreachable_code)]
                Ok(())
            })
        }));
        assert!(panicked.is_err());
        assert!(!db.in_atomic_block());
        assert_eq!(names(&db), ["outer"]);
        assert_eq!(db.catalog().transactions().locks().held_count(), 0);
    }

    #[test]
    fn other_threads_do_not_see_uncommitted_rows() {
        let db = db();
        db.atomic(|_| {
            db.objects("Account")
                .create([("name", "hidden".into()), ("balance", 1i64.into())])?;
            let other = db.clone();
            let seen = std::thread::spawn(move || other.objects("Account").count().unwrap())
                .join()
                .unwrap();
            assert_eq!(seen, 0);
            Ok(())
        })
        .unwrap();
        assert_eq!(names(&db), ["hidden"]);
        let ran = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&ran);
        db.on_commit(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(ran.load(Ordering::Relaxed), 1);
    }
}
