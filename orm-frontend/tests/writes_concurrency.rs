//! Concurrency tests of writes and transactions: the bank (transfers under `select_for_update`
//! with readers checking every snapshot), and `update(F)` races.
//!
//! A watchdog bounds every test: if the threads do not finish in time (a lost wake-up, an
//! undetected deadlock), the test fails instead of hanging.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use quiver::prelude::*;

const ACCOUNTS: i64 = 100;
const OPENING: i64 = 1_000;

/// A small deterministic generator (xorshift), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Runs `body` on a thread and fails the test if it does not finish within `limit`.
fn with_watchdog(limit: Duration, body: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let worker = thread::spawn(move || {
        body();
        let _ = done.send(());
    });
    match finished.recv_timeout(limit) {
        Ok(()) => worker.join().expect("test body panicked"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            worker.join().expect("test body panicked");
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("watchdog: the test hung for {limit:?}"),
    }
}

fn bank() -> Database {
    let db = Database::new();
    db.register(Model::new("Account").field("balance", IntegerField::new()))
        .unwrap();
    db.register(
        Model::new("Transfer")
            .field(
                "source",
                ForeignKey::new("Account", OnDelete::Protect).related_name("sent"),
            )
            .field(
                "target",
                ForeignKey::new("Account", OnDelete::Protect).related_name("received"),
            )
            .field("amount", IntegerField::new()),
    )
    .unwrap();
    db.objects("Account")
        .bulk_create((0..ACCOUNTS).map(|_| vec![("balance", ScalarValue::Int64(Some(OPENING)))]))
        .unwrap();
    db
}

/// Moves `amount` from `source` to `target` inside one transaction, locking both rows; fails
/// (rolling everything back) on insufficient funds or when `sabotage` is set, after the
/// balances were already changed.
fn transfer(
    db: &Database,
    source: i64,
    target: i64,
    amount: i64,
    sabotage: bool,
    ordered: bool,
) -> Result<()> {
    db.atomic(|_| {
        let accounts = db.objects("Account");
        if ordered {
            accounts
                .select_for_update()
                .filter(q!(id__in = vec![source, target]))
                .order_by(["id"])
                .fetch()?;
        } else {
            // Lock one row, then the other: two transfers in opposite directions can deadlock,
            // and the lock manager must fail one of them.
            accounts.select_for_update().get(q!(id = source))?;
            thread::yield_now();
            accounts.select_for_update().get(q!(id = target))?;
        }
        let balance: i64 = accounts.get(q!(id = source))?.get("balance")?;
        if balance < amount {
            return Err(Error::ValueError("insufficient funds".into()));
        }
        accounts
            .filter(q!(id = source))
            .update([("balance", F("balance") - amount)])?;
        accounts
            .filter(q!(id = target))
            .update([("balance", F("balance") + amount)])?;
        db.objects("Transfer").create([
            ("source", ScalarValue::Int64(Some(source))),
            ("target", ScalarValue::Int64(Some(target))),
            ("amount", ScalarValue::Int64(Some(amount))),
        ])?;
        if sabotage {
            return Err(Error::ValueError("failing on purpose".into()));
        }
        Ok(())
    })
}

#[test]
fn bank_transfers_keep_the_total_and_match_the_ledger() {
    with_watchdog(Duration::from_secs(120), || {
        let db = bank();
        let writers_done = Arc::new(AtomicBool::new(false));
        let committed = Arc::new(AtomicUsize::new(0));
        let deadlocks = Arc::new(AtomicUsize::new(0));
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let db = db.clone();
                let done = Arc::clone(&writers_done);
                thread::spawn(move || {
                    let mut checks = 0;
                    while !done.load(Ordering::Relaxed) || checks == 0 {
                        let row = db
                            .objects("Account")
                            .aggregate([("total", Sum("balance")), ("lowest", Min("balance"))])
                            .unwrap();
                        assert_eq!(row.get::<i64>("total").unwrap(), ACCOUNTS * OPENING);
                        assert!(row.get::<i64>("lowest").unwrap() >= 0);
                        checks += 1;
                    }
                    checks
                })
            })
            .collect();
        let writers: Vec<_> = (0..6u64)
            .map(|w| {
                let db = db.clone();
                let committed = Arc::clone(&committed);
                let deadlocks = Arc::clone(&deadlocks);
                thread::spawn(move || {
                    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (w + 1));
                    for _ in 0..120 {
                        // Few hot accounts, so transfers contend for the same rows.
                        let source = 1 + rng.below(10) as i64;
                        let mut target = 1 + rng.below(10) as i64;
                        if target == source {
                            target = 1 + (target % ACCOUNTS);
                        }
                        let amount = 1 + rng.below(400) as i64;
                        let sabotage = rng.below(10) == 0;
                        let ordered = rng.below(2) == 0;
                        match transfer(&db, source, target, amount, sabotage, ordered) {
                            Ok(()) => {
                                committed.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) if e.to_string().starts_with("deadlock detected") => {
                                deadlocks.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(Error::ValueError(_)) => {}
                            Err(other) => panic!("unexpected error: {other}"),
                        }
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        writers_done.store(true, Ordering::Relaxed);
        for reader in readers {
            assert!(reader.join().unwrap() > 0);
        }
        // The ledger: as many transfers as committed, and every balance explained by it.
        let committed = committed.load(Ordering::Relaxed);
        assert!(committed > 0);
        assert_eq!(db.objects("Transfer").count().unwrap(), committed);
        let accounts = db.objects("Account").order_by(["id"]).fetch().unwrap();
        let ids = accounts.column::<i64>("id").unwrap();
        let balances = accounts.column::<i64>("balance").unwrap();
        let transfers = db.objects("Transfer").fetch().unwrap();
        let mut expected = vec![OPENING; ACCOUNTS as usize];
        for row in transfers.iter() {
            let amount: i64 = row.get("amount").unwrap();
            expected[(row.get::<i64>("source_id").unwrap() - 1) as usize] -= amount;
            expected[(row.get::<i64>("target_id").unwrap() - 1) as usize] += amount;
        }
        assert_eq!(ids, (1..=ACCOUNTS).collect::<Vec<_>>());
        assert_eq!(balances, expected);
        assert_eq!(balances.iter().sum::<i64>(), ACCOUNTS * OPENING);
        assert_eq!(db.catalog().transactions().locks().held_count(), 0);
        eprintln!(
            "bank: {committed} transfers committed, {} deadlocks detected",
            deadlocks.load(Ordering::Relaxed)
        );
    });
}

#[test]
fn update_f_races_end_at_n_times_m() {
    with_watchdog(Duration::from_secs(60), || {
        let db = Database::new();
        db.register(Model::new("Counter").field("n", BigIntegerField::new()))
            .unwrap();
        db.objects("Counter")
            .create([("n", ScalarValue::Int64(Some(0)))])
            .unwrap();
        let (threads, increments) = (8, 50);
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let db = db.clone();
                thread::spawn(move || {
                    for i in 0..increments {
                        let counters = db.objects("Counter").filter(q!(id = 1));
                        // Half in their own atomic block, half autocommit.
                        if (t + i) % 2 == 0 {
                            db.atomic(|_| counters.update([("n", F("n") + 1)])).unwrap();
                        } else {
                            counters.update([("n", F("n") + 1)]).unwrap();
                        }
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        let n: i64 = db
            .objects("Counter")
            .get(q!(id = 1))
            .unwrap()
            .get("n")
            .unwrap();
        assert_eq!(n, threads * increments);
    });
}

#[test]
fn readers_see_one_committed_state_while_a_transaction_is_open() {
    with_watchdog(Duration::from_secs(30), || {
        let db = bank();
        let (opened, wait_open) = mpsc::channel();
        let (release, wait_release) = mpsc::channel::<()>();
        let writer = {
            let db = db.clone();
            thread::spawn(move || {
                db.atomic(|_| {
                    db.objects("Account")
                        .filter(q!(id = 1))
                        .update([("balance", F("balance") - 500)])?;
                    opened.send(()).unwrap();
                    wait_release.recv().unwrap();
                    db.objects("Account")
                        .filter(q!(id = 2))
                        .update([("balance", F("balance") + 500)])?;
                    Ok(())
                })
                .unwrap();
            })
        };
        wait_open.recv().unwrap();
        // The writer holds a half-done transfer: readers see neither half.
        let first: i64 = db
            .objects("Account")
            .get(q!(id = 1))
            .unwrap()
            .get("balance")
            .unwrap();
        assert_eq!(first, OPENING);
        release.send(()).unwrap();
        writer.join().unwrap();
        let row = db
            .objects("Account")
            .filter(q!(id__in = vec![1i64, 2]))
            .aggregate([("total", Sum("balance"))])
            .unwrap();
        assert_eq!(row.get::<i64>("total").unwrap(), 2 * OPENING);
        let first: i64 = db
            .objects("Account")
            .get(q!(id = 1))
            .unwrap()
            .get("balance")
            .unwrap();
        assert_eq!(first, OPENING - 500);
    });
}
