//! [`LockManager`]: exclusive row locks held by transactions until they end, with deadlock
//! detection.
//!
//! Every write of an existing row (update, delete) and every `select_for_update` takes the row's
//! lock first and keeps it until its transaction commits or rolls back, as PostgreSQL does.
//! That is what makes concurrent writers on the same rows serialize instead of losing an
//! update: the second writer waits, then re-reads the row as the first one committed it.
//!
//! A waiting transaction records whom it waits for; before it sleeps it follows that wait-for
//! graph and, if the chain comes back to itself, gives up with PostgreSQL's "deadlock
//! detected" instead of hanging. Waits use one `parking_lot` condition variable that every
//! release wakes.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::{Result, RowKey, StorageError};

/// A transaction's identity in the lock table.
pub type TxnId = u64;

/// What to do when a row is locked by another transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockWait {
    /// Wait for it (the default of `select_for_update()` and of every write).
    Block,
    /// Fail at once (`nowait=True`).
    NoWait,
    /// Leave the row out (`skip_locked=True`).
    SkipLocked,
}

/// Row keys to something, with a fast hasher: an `update()` of 1% of a 10M-row table locks
/// 100k rows, so the lock table's cost per row matters.
type KeyMap<V> = HashMap<RowKey, V, ahash::RandomState>;

#[derive(Debug, Default)]
struct LockTable {
    /// Per table, the owner of each locked row (the table's name is stored once, not per row).
    owners: HashMap<String, KeyMap<TxnId>>,
    /// Per transaction, the rows it holds, by table.
    held: HashMap<TxnId, HashMap<String, Vec<RowKey>>>,
    waits_for: HashMap<TxnId, TxnId>,
}

impl LockTable {
    /// True when `from`'s chain of waits reaches `target`.
    fn reaches(&self, mut from: TxnId, target: TxnId) -> bool {
        let mut seen = HashSet::new();
        while seen.insert(from) {
            if from == target {
                return true;
            }
            match self.waits_for.get(&from) {
                Some(&next) => from = next,
                None => return false,
            }
        }
        false
    }
}

/// The row locks of one database.
#[derive(Debug, Default)]
pub struct LockManager {
    table: Mutex<LockTable>,
    released: Condvar,
}

impl LockManager {
    /// An empty lock table.
    pub fn new() -> LockManager {
        LockManager::default()
    }

    /// Locks `keys` of `table` for `txn` (keys it already holds are kept). Returns the keys
    /// now held: all of them, or with [`LockWait::SkipLocked`] those that were free.
    /// Keys are taken in sorted order so that two statements locking overlapping sets in one
    /// go cannot deadlock each other.
    pub fn lock_rows(
        &self,
        txn: TxnId,
        table: &str,
        keys: &[RowKey],
        wait: LockWait,
    ) -> Result<Vec<RowKey>> {
        let mut sorted: Vec<&RowKey> = keys.iter().collect();
        sorted.sort();
        sorted.dedup();
        let mut acquired = Vec::with_capacity(sorted.len());
        let mut locks = self.table.lock();
        let mut newly: Vec<RowKey> = Vec::new();
        let result = (|| {
            let mut next = 0;
            while next < sorted.len() {
                // Free keys and keys `txn` holds already are taken in one pass over the
                // table's lock map (found once, not per key); the pass stops at a key
                // another transaction holds.
                if !locks.owners.contains_key(table) {
                    locks.owners.insert(table.to_string(), KeyMap::default());
                }
                let rows = locks.owners.get_mut(table).ok_or_else(|| {
                    StorageError::Internal(format!("no lock map for table \"{table}\""))
                })?;
                let mut blocked = None;
                for &key in &sorted[next..] {
                    match rows.get(key) {
                        None => {
                            rows.insert(key.clone(), txn);
                            newly.push(key.clone());
                            acquired.push(key.clone());
                        }
                        Some(&owner) if owner == txn => acquired.push(key.clone()),
                        Some(&owner) => {
                            blocked = Some(owner);
                            break;
                        }
                    }
                    next += 1;
                }
                let Some(owner) = blocked else { break };
                match wait {
                    LockWait::SkipLocked => next += 1,
                    LockWait::NoWait => {
                        return Err(StorageError::LockNotAvailable(format!(
                            "could not obtain lock on row in relation \"{table}\""
                        )))
                    }
                    LockWait::Block => {
                        if locks.reaches(owner, txn) {
                            locks.waits_for.remove(&txn);
                            return Err(StorageError::Deadlock(format!(
                                "deadlock detected\nDETAIL:  Process {txn} waits for ShareLock \
                                 on transaction {owner}; blocked by process {owner}."
                            )));
                        }
                        locks.waits_for.insert(txn, owner);
                        self.released
                            .wait_for(&mut locks, Duration::from_millis(50));
                        locks.waits_for.remove(&txn);
                    }
                }
            }
            Ok(())
        })();
        // Locks taken before a failure stay held until the transaction ends, as before.
        if !newly.is_empty() {
            let held = locks.held.entry(txn).or_default();
            match held.get_mut(table) {
                Some(rows) => rows.append(&mut newly),
                None => {
                    held.insert(table.to_string(), newly);
                }
            }
        }
        result?;
        Ok(acquired)
    }

    /// True when `txn` holds the lock on `key` of `table`.
    pub fn holds(&self, txn: TxnId, table: &str, key: &RowKey) -> bool {
        self.table
            .lock()
            .owners
            .get(table)
            .and_then(|rows| rows.get(key))
            == Some(&txn)
    }

    /// Releases every lock `txn` holds and wakes the waiters.
    pub fn release_all(&self, txn: TxnId) {
        let mut locks = self.table.lock();
        if let Some(tables) = locks.held.remove(&txn) {
            for (table, rows) in tables {
                if let Some(owners) = locks.owners.get_mut(&table) {
                    for row in &rows {
                        owners.remove(row);
                    }
                    if owners.is_empty() {
                        locks.owners.remove(&table);
                    }
                }
            }
        }
        locks.waits_for.remove(&txn);
        drop(locks);
        self.released.notify_all();
    }

    /// Number of row locks held by anyone (for tests and monitoring).
    pub fn held_count(&self) -> usize {
        self.table.lock().owners.values().map(HashMap::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};

    use super::*;

    fn keys(values: &[i64]) -> Vec<RowKey> {
        values.iter().map(|&v| RowKey::Int(v)).collect()
    }

    #[test]
    fn nowait_and_skip_locked_see_other_owners() {
        let locks = LockManager::new();
        assert_eq!(
            locks
                .lock_rows(1, "t", &keys(&[1, 2]), LockWait::Block)
                .unwrap(),
            keys(&[1, 2])
        );
        let err = locks
            .lock_rows(2, "t", &keys(&[2]), LockWait::NoWait)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "could not obtain lock on row in relation \"t\""
        );
        assert_eq!(
            locks
                .lock_rows(2, "t", &keys(&[1, 2, 3]), LockWait::SkipLocked)
                .unwrap(),
            keys(&[3])
        );
        locks.release_all(1);
        assert!(locks.holds(2, "t", &RowKey::Int(3)));
        assert_eq!(locks.held_count(), 1);
    }

    #[test]
    fn a_waiter_gets_the_lock_when_the_owner_ends() {
        let locks = Arc::new(LockManager::new());
        locks
            .lock_rows(1, "t", &keys(&[7]), LockWait::Block)
            .unwrap();
        let other = Arc::clone(&locks);
        let waiter =
            std::thread::spawn(move || other.lock_rows(2, "t", &keys(&[7]), LockWait::Block));
        std::thread::sleep(Duration::from_millis(30));
        assert!(!waiter.is_finished());
        locks.release_all(1);
        assert_eq!(waiter.join().unwrap().unwrap(), keys(&[7]));
    }

    #[test]
    fn a_deadlock_fails_one_side_instead_of_hanging() {
        let locks = Arc::new(LockManager::new());
        let barrier = Arc::new(Barrier::new(2));
        let run = |txn: TxnId, first: i64, second: i64| {
            let locks = Arc::clone(&locks);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                locks
                    .lock_rows(txn, "t", &keys(&[first]), LockWait::Block)
                    .unwrap();
                barrier.wait();
                let result = locks.lock_rows(txn, "t", &keys(&[second]), LockWait::Block);
                if result.is_err() {
                    locks.release_all(txn);
                }
                result.map_err(|e| e.to_string())
            })
        };
        let a = run(1, 1, 2);
        let b = run(2, 2, 1);
        let (a, b) = (a.join().unwrap(), b.join().unwrap());
        let failures: Vec<_> = [&a, &b].into_iter().filter(|r| r.is_err()).collect();
        assert_eq!(failures.len(), 1, "{a:?} {b:?}");
        assert!(failures[0]
            .as_ref()
            .unwrap_err()
            .starts_with("deadlock detected"));
    }
}
