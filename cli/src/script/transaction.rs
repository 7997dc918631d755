//! `with transaction.atomic():`, `transaction.on_commit(fn)` and `transaction.set_rollback()`
//! on the `quiver` crate's transactions ([`quiver::Database::atomic`]).
//!
//! A block runs inside `Database::atomic`, so an exception that leaves it rolls its writes back
//! and a nested block is a savepoint. Two Django rules live here because they concern the
//! script rather than the storage:
//! - a database error of a write inside a block (an `IntegrityError` caught by `try/except`
//!   without an inner `atomic()`) marks the block for rollback (Django's
//!   `connection.needs_rollback`): until the block ends every query raises
//!   `TransactionManagementError`, and the block then rolls back instead of committing. An
//!   inner `atomic()` around the failing write avoids this, as in Django, because its
//!   savepoint undoes the failure.
//! - `on_commit` callbacks are script functions, which cannot travel into the storage layer's
//!   callbacks; the storage transaction reports the ids of the callbacks that committed (a
//!   rolled-back savepoint drops its own), and the interpreter calls them after the outermost
//!   block commits.

use std::sync::{Arc, Mutex};

use super::ast::Stmt;
use super::error::ScriptError;
use super::interpreter::{Flow, Interpreter};
use super::values::Value;

/// Django's message for a query in a block marked for rollback.
pub const BROKEN_TRANSACTION: &str = "An error occurred in the current transaction. You can't \
                                      execute queries until the end of the 'atomic' block.";

/// The script's side of the current transaction.
#[derive(Debug, Default)]
pub struct TransactionState {
    /// A write failed inside the current block (Django's `connection.needs_rollback`).
    needs_rollback: bool,
    /// `on_commit` callbacks of the current outermost block and their `robust=` flag; an
    /// id is an index.
    callbacks: Vec<(Value, bool)>,
    /// Ids of the callbacks whose transaction committed, in registration order.
    committed: Arc<Mutex<Vec<usize>>>,
}

/// Whether an exception is a database error that marks the block for rollback (Django's
/// `mark_for_rollback_on_error` sees these come out of the database).
fn is_database_error(error: &ScriptError) -> bool {
    matches!(
        error.kind.as_str(),
        "IntegrityError" | "DataError" | "DatabaseError" | "OperationalError" | "InternalError"
    )
}

impl Interpreter {
    /// `with transaction.atomic(), ...: body`. With `savepoint=False` a nested block takes
    /// no savepoint: an exception leaving it marks the enclosing block for rollback instead.
    pub(super) fn atomic_block(
        &mut self,
        body: &[Stmt],
        savepoint: bool,
    ) -> Result<Flow, ScriptError> {
        let db = self.db.clone();
        let outermost = !db.in_atomic_block();
        // Django takes no savepoint in a block already marked for rollback: the inner block
        // runs in the broken one, which stays marked.
        if !outermost && (!savepoint || self.transaction.needs_rollback) {
            let result = self.exec_block(body);
            if result.is_err() {
                self.transaction.needs_rollback = true;
            }
            return result;
        }
        let mut failure: Option<ScriptError> = None;
        let mut flow = Flow::Normal;
        let mut rolled_back_on_purpose = false;
        let result = db.atomic(|_| match self.exec_block(body) {
            Ok(finished) => {
                flow = finished;
                if self.transaction.needs_rollback {
                    // Django's __exit__ rolls a marked block back silently.
                    rolled_back_on_purpose = true;
                    return Err(quiver::Error::TransactionManagementError(
                        BROKEN_TRANSACTION.into(),
                    ));
                }
                Ok(())
            }
            Err(error) => {
                failure = Some(error);
                Err(quiver::Error::TransactionManagementError(
                    "the block raised".into(),
                ))
            }
        });
        // The rollback to this block's savepoint (or of the whole transaction) undid the
        // failed write, so the enclosing block may go on.
        self.transaction.needs_rollback = false;
        let committed = result.is_ok();
        if outermost {
            let callbacks = std::mem::take(&mut self.transaction.callbacks);
            let ids = match self.transaction.committed.lock() {
                Ok(mut ids) => std::mem::take(&mut *ids),
                Err(_) => vec![],
            };
            if committed && failure.is_none() {
                for id in ids {
                    if let Some((callback, robust)) = callbacks.get(id) {
                        match self.call(callback, vec![], vec![]) {
                            // `robust=True`: Django logs the error and runs the others.
                            Err(error) if *robust => eprintln!(
                                "Error calling {} in on_commit() (robust=True): {error}",
                                callback.repr()
                            ),
                            other => {
                                other?;
                            }
                        }
                    }
                }
            }
        }
        if let Some(error) = failure {
            return Err(error);
        }
        match result {
            Err(_) if rolled_back_on_purpose => Ok(flow),
            Err(error) => Err(error.into()),
            Ok(()) => Ok(flow),
        }
    }

    /// `transaction.on_commit(func, robust=False)`: after the outermost block commits, at
    /// once outside any block (Django's autocommit).
    pub(super) fn on_commit(
        &mut self,
        callback: Value,
        robust: bool,
    ) -> Result<Value, ScriptError> {
        if !self.db.in_atomic_block() {
            match self.call(&callback, vec![], vec![]) {
                Err(error) if robust => eprintln!(
                    "Error calling {} in on_commit() (robust=True): {error}",
                    callback.repr()
                ),
                other => {
                    other?;
                }
            }
            return Ok(Value::None);
        }
        let id = self.transaction.callbacks.len();
        self.transaction.callbacks.push((callback, robust));
        let committed = Arc::clone(&self.transaction.committed);
        self.db.on_commit(move || {
            if let Ok(mut ids) = committed.lock() {
                ids.push(id);
            }
        });
        Ok(Value::None)
    }

    /// `transaction.set_rollback(flag)`: marks (or unmarks) the current block for rollback.
    pub(super) fn set_rollback(&mut self, flag: bool) -> Result<Value, ScriptError> {
        if !self.db.in_atomic_block() {
            return Err(ScriptError::new(
                "TransactionManagementError",
                "The rollback flag doesn't work outside of an 'atomic' block.",
            ));
        }
        self.transaction.needs_rollback = flag;
        Ok(Value::None)
    }

    /// Refuses a query in a block marked for rollback (Django's `validate_no_broken_transaction`).
    pub(super) fn check_transaction(&self) -> Result<(), ScriptError> {
        if self.transaction.needs_rollback && self.db.in_atomic_block() {
            return Err(ScriptError::new(
                "TransactionManagementError",
                BROKEN_TRANSACTION,
            ));
        }
        Ok(())
    }

    /// Notes the outcome of a write: a database error inside a block marks it for rollback.
    pub(super) fn after_write<T>(
        &mut self,
        outcome: Result<T, ScriptError>,
    ) -> Result<T, ScriptError> {
        if let Err(error) = &outcome {
            if is_database_error(error) && self.db.in_atomic_block() {
                self.transaction.needs_rollback = true;
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::io::Write;
    use std::path::PathBuf;
    use std::rc::Rc;

    use super::super::{parser, Format, Mode};
    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Rc<RefCell<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    const MODELS: &str = "from django.db import models, transaction, IntegrityError
class Account(models.Model):
    owner = models.CharField(max_length=9, unique=True)
    balance = models.IntegerField(default=0)
Account.objects.create(owner='ann', balance=10)
def owners():
    return list(Account.objects.order_by('owner').values_list('owner', 'balance'))
";

    /// Runs `MODELS` + `source`; the JSON lines printed, or the uncaught error.
    fn run(source: &str) -> (String, Option<ScriptError>) {
        let out = Captured::default();
        let mut interp = Interpreter::new(
            "t.py",
            PathBuf::from("."),
            Mode::Print(Format::Json),
            Box::new(out.clone()),
        );
        let body = parser::parse(&format!("{MODELS}{source}"), "t.py").expect("it parses");
        let error = interp.run_module(&body).err();
        assert!(!interp.db.in_atomic_block(), "every block ended");
        let text = String::from_utf8_lossy(&out.0.borrow()).into_owned();
        (text, error)
    }

    #[test]
    fn a_block_commits_or_rolls_back_as_a_whole() {
        let (out, error) = run("with transaction.atomic():
    Account.objects.create(owner='bob')
    Account.objects.update(balance=5)
print(owners())
with transaction.atomic():
    Account.objects.update(balance=0)
    Account.objects.create(owner='ann')
");
        assert_eq!(out, "[[\"ann\",5],[\"bob\",5]]\n");
        let error = error.expect("the duplicate owner leaves the block");
        assert_eq!(error.kind, "IntegrityError");
        assert_eq!(error.location.map(|l| l.line), Some(14));
        let (out, _) = run("try:
    with transaction.atomic():
        Account.objects.update(balance=0)
        Account.objects.create(owner='ann')
except IntegrityError:
    pass
print(owners())
");
        assert_eq!(out, "[[\"ann\",10]]\n");
    }

    #[test]
    fn inner_blocks_are_savepoints_and_a_caught_failure_breaks_the_block() {
        let (out, error) = run("with transaction.atomic():
    Account.objects.update(balance=1)
    try:
        with transaction.atomic():
            Account.objects.update(balance=2)
            Account.objects.create(owner='ann')
    except IntegrityError:
        print(owners())
print(owners())
with transaction.atomic():
    Account.objects.update(balance=3)
    try:
        Account.objects.create(owner='ann')
    except IntegrityError:
        pass
    with transaction.atomic():
        print('entered')
    Account.objects.count()
");
        assert_eq!(out, "[[\"ann\",1]]\n[[\"ann\",1]]\n\"entered\"\n");
        let error = error.expect("a query in the broken block raises");
        assert_eq!(error.kind, "TransactionManagementError");
        assert_eq!(error.message, BROKEN_TRANSACTION);
        // The broken block rolled back; queries work again after it.
        let (out, error) = run("with transaction.atomic():
    Account.objects.update(balance=3)
    try:
        Account.objects.create(owner='ann')
    except IntegrityError:
        pass
print(owners())
");
        assert_eq!(error, None);
        assert_eq!(out, "[[\"ann\",10]]\n");
    }

    #[test]
    fn on_commit_runs_after_the_outermost_commit_only() {
        let (out, error) = run("seen = []
with transaction.atomic():
    transaction.on_commit(lambda: seen.append('a'))
    try:
        with transaction.atomic():
            transaction.on_commit(lambda: seen.append('dropped'))
            1 / 0
    except ZeroDivisionError:
        pass
    with transaction.atomic():
        transaction.on_commit(lambda: seen.append('b'))
    print(seen)
try:
    with transaction.atomic():
        transaction.on_commit(lambda: seen.append('rolled back'))
        transaction.set_rollback(True)
        print('marked')
except Exception as e:
    print(type(e).__name__)
transaction.on_commit(lambda: seen.append('now'))
print(seen)
");
        assert_eq!(error, None);
        assert_eq!(out, "[]\n\"marked\"\n[\"a\",\"b\",\"now\"]\n");
    }
}
