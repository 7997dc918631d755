//! `Meta.constraints` and `Meta.indexes` declared on the model builder, a `ForeignKey` with
//! `to_field=`, composite indexes chosen by the optimizer, and one database snapshot per query
//! across tables.
//!
//! Expected outcomes of `meta_constraints_and_to_field_match_django` come from
//! `/tmp/django-venv/bin/python /work/shared/django-oracle/django_runner.py
//! orm-frontend/tests/django/writes_meta.py --db sqlite` (Django 5.1.4), checked in as
//! `tests/django/writes_meta.expected.jsonl`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use quiver::prelude::*;

fn shop() -> Database {
    let db = Database::new();
    db.register(Model::new("Shop").field("code", CharField::new(10).unique()))
        .unwrap();
    db.register(
        Model::new("Sale")
            .field(
                "shop",
                ForeignKey::new("Shop", OnDelete::Cascade).to_field("code"),
            )
            .field("amount", IntegerField::new())
            .field("open", BooleanField::new())
            .index_spec(IndexSpec::new(["shop", "-amount"], "sale_shop_amount_idx"))
            .index_spec(IndexSpec::new(["amount"], "sale_open_idx").condition(q!(open = true)))
            .constraint(CheckConstraint::new(
                q!(amount__gte = 0),
                "sale_amount_gte_0",
            ))
            .constraint(
                UniqueConstraintSpec::new(["shop"], "one_open_sale").condition(q!(open = true)),
            ),
    )
    .unwrap();
    db
}

fn sale(shop: &str, amount: i64, open: bool) -> Vec<(&'static str, ScalarValue)> {
    vec![
        ("shop_id", shop.into()),
        ("amount", amount.into()),
        ("open", open.into()),
    ]
}

/// "ok" or the Django exception name, as the oracle script prints it.
fn attempt(db: &Database, block: impl FnOnce() -> quiver::Result<()>) -> String {
    match db.atomic(|_| block()) {
        Ok(()) => "ok".to_string(),
        Err(e) => e.django_name().to_string(),
    }
}

#[test]
fn meta_constraints_and_to_field_match_django() {
    let db = shop();
    let shops = db.objects("Shop");
    let sales = db.objects("Sale");
    shops.create([("code", "a".into())]).unwrap();
    shops.create([("code", "b".into())]).unwrap();
    let outcomes = [
        attempt(&db, || sales.create(sale("a", 5, true)).map(drop)),
        attempt(&db, || sales.create(sale("a", 7, false)).map(drop)),
        attempt(&db, || sales.create(sale("a", 9, true)).map(drop)),
        attempt(&db, || sales.create(sale("b", -1, false)).map(drop)),
        attempt(&db, || sales.create(sale("b", 3, true)).map(drop)),
        attempt(&db, || sales.update([("open", true)]).map(drop)),
        attempt(&db, || sales.create(sale("zz", 1, false)).map(drop)),
        attempt(&db, || {
            shops
                .filter(q!(code = "a"))
                .update([("code", "c")])
                .map(drop)
        }),
    ];
    assert_eq!(
        outcomes,
        [
            "ok",
            "ok",
            "IntegrityError",
            "IntegrityError",
            "ok",
            "IntegrityError",
            "IntegrityError",
            "IntegrityError"
        ]
    );
    assert_eq!(sales.count().unwrap(), 3);
    assert_eq!(sales.filter(q!(open = true)).count().unwrap(), 2);
    let top = sales
        .filter(q!(shop = "a"))
        .order_by(["-amount"])
        .slice(0..1);
    assert_eq!(top.fetch().unwrap().column::<i64>("amount").unwrap(), [7]);
    // PostgreSQL's messages name the constraints declared on the model.
    let err = sales.create(sale("b", -2, false)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "new row for relation \"sale\" violates check constraint \"sale_amount_gte_0\""
    );
    let err = sales.create(sale("a", 1, true)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("duplicate key value violates unique constraint \"one_open_sale\""),
        "{err}"
    );
    let err = sales.create(sale("zz", 1, false)).unwrap_err();
    assert!(
        err.to_string()
            .contains("Key (shop_id)=(zz) is not present in table \"shop\"."),
        "{err}"
    );
    // Deleting a referenced shop cascades; the to_field values are what is referenced.
    let (deleted, _) = shops.filter(q!(code = "b")).delete().unwrap();
    assert_eq!(deleted, 2);
    // The named indexes are on the table; the partial one is not used for plain reads.
    let plan = sales
        .filter(q!(shop = "a"))
        .order_by(["-amount"])
        .slice(0..1)
        .explain()
        .unwrap();
    assert!(
        plan.contains("index=sale_shop_amount_idx prefix=[a] order=desc limit=1"),
        "{plan}"
    );
}

#[test]
fn db_constraint_false_leaves_a_foreign_key_unchecked() {
    let db = Database::new();
    db.register(Model::new("Shop").field("code", CharField::new(10).unique()))
        .unwrap();
    db.register(
        Model::new("Visit").field(
            "shop",
            ForeignKey::new("Shop", OnDelete::DoNothing)
                .to_field("code")
                .db_constraint(false),
        ),
    )
    .unwrap();
    db.objects("Visit")
        .create([("shop_id", "nowhere".into())])
        .unwrap();
    assert_eq!(db.objects("Visit").count().unwrap(), 1);
    assert_eq!(
        db.objects("Visit")
            .filter(q!(shop__isnull = true))
            .count()
            .unwrap(),
        0
    );
}

#[test]
fn meta_declarations_with_bad_fields_refuse_the_model_and_leave_nothing_behind() {
    let db = Database::new();
    let err = db
        .register(
            Model::new("Thing")
                .field("x", IntegerField::new())
                .constraint(CheckConstraint::new(q!(nope__gt = 0), "bad")),
        )
        .unwrap_err();
    assert_eq!(err.django_name(), "FieldError", "{err}");
    assert!(db.model("Thing").is_err());
    assert!(db.catalog().table("thing").is_err());
    // Django's ValueErrors for declarations without fields.
    let err = db
        .register(
            Model::new("Thing")
                .field("x", IntegerField::new())
                .index_spec(IndexSpec::new(Vec::<String>::new(), "thing_idx")),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "At least one field is required to define an index."
    );
    let err = db
        .register(
            Model::new("Thing")
                .field("x", IntegerField::new())
                .constraint(UniqueConstraintSpec::new(
                    Vec::<String>::new(),
                    "thing_uniq",
                )),
        )
        .unwrap_err();
    assert_eq!(err.django_name(), "ValueError");
    assert!(db.catalog().table("thing").is_err());
    // The same model registers once fixed.
    db.register(
        Model::new("Thing")
            .field("x", IntegerField::new())
            .constraint(CheckConstraint::new(q!(x__gt = 0), "thing_x_gt_0")),
    )
    .unwrap();
    let err = db
        .objects("Thing")
        .create([("x", 0i64.into())])
        .unwrap_err();
    assert_eq!(err.django_name(), "IntegrityError");
}

fn orders() -> Database {
    let db = Database::new();
    db.register(Model::new("Customer").field("name", CharField::new(20)))
        .unwrap();
    db.register(
        Model::new("Order")
            .field("customer", ForeignKey::new("Customer", OnDelete::Cascade))
            .field("created", IntegerField::new().null())
            .field("status", IntegerField::new())
            .field("amount", IntegerField::new())
            // The issue's own example: Meta.indexes = [Index(fields=["customer", "-created"])].
            .index(["customer", "-created"])
            .index_spec(IndexSpec::new(["status", "amount"], "order_status_amount_hash").hash()),
    )
    .unwrap();
    db.objects("Customer")
        .bulk_create((0..10).map(|i| vec![("name", ScalarValue::from(format!("c{i}")))]))
        .unwrap();
    let mut seed = 11u64;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    // `created` is unique where set, so top-k answers have no ties.
    let rows: Vec<Vec<(&str, ScalarValue)>> = (0..2000i64)
        .map(|i| {
            vec![
                ("customer", ScalarValue::Int64(Some(1 + next(10) as i64))),
                (
                    "created",
                    ScalarValue::Int64((i % 13 != 0).then_some(i * 7 % 2003)),
                ),
                ("status", ScalarValue::Int64(Some(next(4) as i64))),
                ("amount", ScalarValue::Int64(Some(next(50) as i64))),
            ]
        })
        .collect();
    db.objects("Order")
        .bulk_create_with(rows, &BulkCreateOptions::new().batch_size(300))
        .unwrap();
    db
}

fn composite_querysets(db: &Database) -> Vec<QuerySet> {
    let orders = db.objects("Order");
    vec![
        orders.filter(q!(customer = 3)).order_by(["id"]),
        orders
            .filter(q!(customer = 3, created = 14))
            .order_by(["id"]),
        orders
            .filter(q!(customer = 4, created__gt = 1000))
            .order_by(["id"]),
        orders
            .filter(q!(customer = 4, created__range = (100i64, 300i64)))
            .order_by(["id"]),
        orders
            .filter(q!(customer = 5))
            .order_by(["-created"])
            .slice(0..10),
        orders
            .filter(q!(customer = 5))
            .order_by(["created"])
            .slice(0..10),
        orders
            .filter(q!(customer = 6, created__lt = 500))
            .order_by(["-created"])
            .slice(0..4),
        orders
            .order_by(["customer"])
            .slice(0..3)
            .values(["customer"]),
        orders.filter(q!(status = 2, amount = 7)).order_by(["id"]),
        orders
            .filter(q!(customer = 2, status = 1))
            .order_by(["-created"])
            .slice(0..5),
    ]
}

fn results(db: &Database) -> Vec<String> {
    composite_querysets(db)
        .iter()
        .map(|qs| qs.fetch().unwrap().to_string())
        .collect()
}

/// Every composite QuerySet answers the same with and without the `use_indexes` rule.
fn assert_rule_on_and_off_agree(db: &Database) {
    let with = results(db);
    db.set_config(SessionConfig::new().disable_rule("use_indexes"));
    let without = results(db);
    db.set_config(SessionConfig::new());
    for (i, (a, b)) in with.iter().zip(&without).enumerate() {
        assert_eq!(a, b, "queryset {i}");
    }
}

#[test]
fn composite_indexes_serve_prefixes_ranges_and_top_k_and_agree_with_full_scans() {
    let db = orders();
    let explain = |qs: QuerySet| qs.explain().unwrap();
    let orders = db.objects("Order");
    let plan = explain(orders.filter(q!(customer = 3)));
    assert!(
        plan.contains("IndexScanExec: order index=order_customer_id_created_idx prefix=[3]")
            || plan.contains("index=order_customer_id_idx points=1"),
        "{plan}"
    );
    let plan = explain(orders.filter(q!(customer = 3, created = 14)));
    assert!(
        plan.contains("index=order_customer_id_created_idx prefix=[3, 14]"),
        "{plan}"
    );
    let plan = explain(orders.filter(q!(customer = 4, created__gt = 1000)));
    assert!(
        plan.contains("index=order_customer_id_created_idx prefix=[4] range=(1000..*)"),
        "{plan}"
    );
    let plan = explain(
        orders
            .filter(q!(customer = 5))
            .order_by(["-created"])
            .slice(0..10),
    );
    assert!(
        plan.contains("index=order_customer_id_created_idx prefix=[5] order=desc limit=10"),
        "{plan}"
    );
    let plan = explain(orders.filter(q!(status = 2, amount = 7)));
    assert!(
        plan.contains("index=order_status_amount_hash prefix=[2, 7]"),
        "{plan}"
    );
    // A filter the index does not answer keeps the limit above the filter.
    let plan = explain(
        orders
            .filter(q!(customer = 2, status = 1))
            .order_by(["-created"])
            .slice(0..5),
    );
    assert!(!plan.contains("order=desc limit=5"), "{plan}");

    // DESC puts NULLs first (PostgreSQL), through the index as through a sort.
    let newest = orders
        .filter(q!(customer = 5))
        .order_by(["-created"])
        .slice(0..1)
        .fetch()
        .unwrap();
    assert_eq!(
        newest.column::<Option<i64>>("created").unwrap(),
        [None::<i64>]
    );
    assert_rule_on_and_off_agree(&db);

    // Writes keep every chunk's index exact: updates, deletes, inserts, a rollback.
    orders
        .filter(q!(customer = 5, created__isnull = true))
        .update([("created", 5000i64)])
        .unwrap();
    orders
        .filter(q!(customer = 4, created__gt = 1500))
        .delete()
        .unwrap();
    orders
        .filter(q!(status = 2))
        .update([("customer", 6i64)])
        .unwrap();
    orders
        .create([
            ("customer", 5i64.into()),
            ("created", 4000i64.into()),
            ("status", 0i64.into()),
            ("amount", 1i64.into()),
        ])
        .unwrap();
    let rolled_back = db.atomic(|_| {
        orders
            .filter(q!(customer = 3))
            .update([("created", 9999i64)])?;
        assert_rule_on_and_off_agree(&db);
        Err::<(), _>(Error::ValueError("roll back".into()))
    });
    assert!(rolled_back.is_err());
    assert_rule_on_and_off_agree(&db);
    let moved = orders
        .filter(q!(customer = 5, created = 5000))
        .count()
        .unwrap();
    assert!(moved > 0);
    let newest = orders
        .filter(q!(customer = 5))
        .order_by(["-created"])
        .slice(0..moved as isize + 1)
        .fetch()
        .unwrap();
    let mut expected = vec![Some(5000i64); moved];
    expected.push(Some(4000));
    assert_eq!(newest.column::<Option<i64>>("created").unwrap(), expected);
}

/// Runs `body` on a thread and fails the test if it does not finish within `limit`.
fn with_watchdog(limit: Duration, body: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let worker = thread::spawn(move || {
        body();
        let _ = done.send(());
    });
    match finished.recv_timeout(limit) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            worker.join().expect("test body panicked")
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("watchdog: the test hung for {limit:?}"),
    }
}

const PAIRS: i64 = 20;
const PAIR_TOTAL: i64 = 100;

#[test]
fn joins_and_subqueries_read_one_committed_state_of_both_tables() {
    with_watchdog(Duration::from_secs(120), || {
        let db = Database::new();
        db.register(Model::new("Checking").field("balance", IntegerField::new()))
            .unwrap();
        db.register(
            Model::new("Savings")
                .field(
                    "checking",
                    ForeignKey::new("Checking", OnDelete::Cascade).related_name("savings"),
                )
                .field("balance", IntegerField::new()),
        )
        .unwrap();
        db.objects("Checking")
            .bulk_create(
                (0..PAIRS).map(|_| vec![("balance", ScalarValue::Int64(Some(PAIR_TOTAL)))]),
            )
            .unwrap();
        db.objects("Savings")
            .bulk_create((1..=PAIRS).map(|i| {
                vec![
                    ("checking", ScalarValue::Int64(Some(i))),
                    ("balance", ScalarValue::Int64(Some(0))),
                ]
            }))
            .unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let moves = Arc::new(AtomicUsize::new(0));
        let writers: Vec<_> = (0..3u64)
            .map(|w| {
                let db = db.clone();
                let moves = Arc::clone(&moves);
                thread::spawn(move || {
                    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ w;
                    for _ in 0..150 {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        let pair = 1 + (seed % PAIRS as u64) as i64;
                        let amount = (seed >> 20) as i64 % 21 - 10;
                        // One transaction moves `amount` from checking to savings of one pair.
                        let moved = db.atomic(|_| {
                            db.objects("Checking")
                                .filter(q!(id = pair))
                                .update([("balance", F("balance") - amount)])?;
                            db.objects("Savings")
                                .filter(q!(checking = pair))
                                .update([("balance", F("balance") + amount)])?;
                            Ok(())
                        });
                        if moved.is_ok() {
                            moves.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let db = db.clone();
                let done = Arc::clone(&done);
                thread::spawn(move || {
                    let mut checks = 0;
                    while !done.load(Ordering::Relaxed) || checks == 0 {
                        // A join: each savings row with its checking row.
                        let pairs = db
                            .objects("Savings")
                            .annotate([("pair_total", F("balance") + F("checking__balance"))])
                            .values_list(["pair_total"])
                            .fetch()
                            .unwrap();
                        let totals = pairs.column::<i64>("pair_total").unwrap();
                        assert_eq!(totals.len(), PAIRS as usize);
                        assert!(totals.iter().all(|t| *t == PAIR_TOTAL), "{totals:?}");
                        // An aggregate over a join from the other side.
                        let row = db
                            .objects("Checking")
                            .aggregate([
                                ("checking", Sum("balance")),
                                ("savings", Sum("savings__balance")),
                            ])
                            .unwrap();
                        let sum = row.get::<i64>("checking").unwrap()
                            + row.get::<i64>("savings").unwrap();
                        assert_eq!(sum, PAIRS * PAIR_TOTAL);
                        checks += 1;
                    }
                    checks
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        for reader in readers {
            assert!(reader.join().unwrap() > 0);
        }
        assert!(moves.load(Ordering::Relaxed) > 0);
        let total = db
            .objects("Checking")
            .aggregate([("total", Sum("balance"))])
            .unwrap()
            .get::<i64>("total")
            .unwrap();
        let savings = db
            .objects("Savings")
            .aggregate([("total", Sum("balance"))])
            .unwrap()
            .get::<i64>("total")
            .unwrap();
        assert_eq!(total + savings, PAIRS * PAIR_TOTAL);
    });
}
