//! Indexes: the `use_indexes` rule chooses them (EXPLAIN names the index), and every QuerySet
//! answers the same with the rule on and off, after inserts, updates, deletes and rolled-back
//! transactions (a metamorphic check: the index path against the full scan).

use quiver::prelude::*;

fn shop() -> Database {
    let db = Database::new();
    db.register(Model::new("Customer").field("name", CharField::new(20).unique()))
        .unwrap();
    db.register(
        Model::new("Order")
            .field("customer", ForeignKey::new("Customer", OnDelete::Cascade))
            .field("code", IntegerField::new().db_index())
            .field("created", IntegerField::new().null())
            .field("amount", IntegerField::new())
            .index(["-created"]),
    )
    .unwrap();
    db.add_index(
        "Order",
        IndexSpec::new(["amount"], "order_big_amount").condition(q!(amount__gte = 900)),
    )
    .unwrap();
    db.add_index(
        "Order",
        IndexSpec::new(["amount"], "order_amount_hash").hash(),
    )
    .unwrap();
    db.objects("Customer")
        .bulk_create((0..20).map(|i| vec![("name", ScalarValue::from(format!("c{i}")))]))
        .unwrap();
    let mut seed = 7u64;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let rows: Vec<Vec<(&str, ScalarValue)>> = (0..3000)
        .map(|_| {
            let created = next(500) as i64;
            vec![
                ("customer", ScalarValue::Int64(Some(1 + next(20) as i64))),
                ("code", ScalarValue::Int64(Some(next(1000) as i64))),
                (
                    "created",
                    ScalarValue::Int64((created % 17 != 0).then_some(created)),
                ),
                ("amount", ScalarValue::Int64(Some(next(1000) as i64))),
            ]
        })
        .collect();
    db.objects("Order").bulk_create(rows).unwrap();
    db
}

fn ids(qs: &QuerySet) -> Vec<i64> {
    qs.fetch().unwrap().column::<i64>("id").unwrap()
}

fn querysets(db: &Database) -> Vec<QuerySet> {
    let orders = db.objects("Order");
    vec![
        orders.filter(q!(id = 17)),
        orders
            .filter(q!(id__in = vec![3i64, 99, 4000, 250]))
            .order_by(["id"]),
        orders.filter(q!(code = 500)).order_by(["id"]),
        orders
            .filter(q!(code__in = vec![1i64, 2, 3]))
            .order_by(["id"]),
        orders.filter(q!(code__gte = 990)).order_by(["id"]),
        orders
            .filter(q!(code__range = (10i64, 20i64), amount__lt = 500))
            .order_by(["id"]),
        orders
            .filter(q!(created__lt = 5) | q!(code = 3))
            .order_by(["id"]),
        orders.order_by(["-created", "id"]).slice(0..15),
        orders.order_by(["created"]).slice(0..7),
        orders.order_by(["-code"]).slice(0..1),
        orders.filter(q!(amount = 901)).order_by(["id"]),
        orders
            .filter(q!(customer = 3, code__lt = 100))
            .order_by(["id"]),
    ]
}

/// Every QuerySet gives the same rows with and without the rule.
fn assert_index_paths_agree(db: &Database) {
    let with: Vec<Vec<i64>> = querysets(db).iter().map(ids).collect();
    db.set_config(SessionConfig::new().disable_rule("use_indexes"));
    let without: Vec<Vec<i64>> = querysets(db).iter().map(ids).collect();
    db.set_config(SessionConfig::new());
    for (i, (a, b)) in with.iter().zip(&without).enumerate() {
        assert_eq!(a, b, "queryset {i}");
    }
    assert!(with.iter().any(|rows| !rows.is_empty()));
}

#[test]
fn the_optimizer_chooses_indexes_and_explain_names_them() {
    let db = shop();
    let plan = db.objects("Order").filter(q!(id = 17)).explain().unwrap();
    assert!(
        plan.contains("IndexScanExec: order index=order_pkey points=1"),
        "{plan}"
    );
    let plan = db
        .objects("Order")
        .filter(q!(code__gte = 990))
        .explain()
        .unwrap();
    assert!(
        plan.contains("index=order_code_idx range=[990..*)"),
        "{plan}"
    );
    let plan = db
        .objects("Order")
        .order_by(["-created"])
        .slice(0..5)
        .explain()
        .unwrap();
    assert!(
        plan.contains("index=order_created_idx order=desc limit=5"),
        "{plan}"
    );
    let plan = db
        .objects("Customer")
        .filter(q!(name = "c3"))
        .explain()
        .unwrap();
    assert!(plan.contains("index=customer_name_key points=1"), "{plan}");
    // get() and exists() by key are point lookups too.
    let found = db.objects("Order").get(q!(pk = 42)).unwrap();
    assert_eq!(found.pk(), ScalarValue::Int64(Some(42)));
    assert!(db.objects("Order").filter(q!(id = 2999)).exists().unwrap());
    assert!(!db.objects("Order").filter(q!(id = 3001)).exists().unwrap());
    // The rule can be switched off.
    db.set_config(SessionConfig::new().disable_rule("use_indexes"));
    let plan = db.objects("Order").filter(q!(id = 17)).explain().unwrap();
    assert!(!plan.contains("IndexScanExec"), "{plan}");
}

#[test]
fn index_paths_stay_exact_under_writes_and_rollbacks() {
    let db = shop();
    assert_index_paths_agree(&db);
    let orders = db.objects("Order");
    orders
        .filter(q!(code__lt = 300))
        .update([("code", F("code") + 1)])
        .unwrap();
    orders.filter(q!(amount__gt = 950)).delete().unwrap();
    assert_index_paths_agree(&db);
    let before = ids(&orders.filter(q!(code = 500)).order_by(["id"]));
    let result = db.atomic(|_| {
        orders.filter(q!(code = 500)).update([("code", 501i64)])?;
        // Inside the transaction the index path sees its own writes.
        assert!(orders.filter(q!(code = 500)).fetch()?.is_empty());
        assert_index_paths_agree(&db);
        Err::<(), _>(Error::ValueError("roll back".into()))
    });
    assert!(result.is_err());
    assert_eq!(ids(&orders.filter(q!(code = 500)).order_by(["id"])), before);
    orders
        .bulk_create_with(
            (0..50).map(|i| {
                vec![
                    ("customer", ScalarValue::Int64(Some(1))),
                    ("code", ScalarValue::Int64(Some(500))),
                    ("created", ScalarValue::Int64(Some(1000 + i))),
                    ("amount", ScalarValue::Int64(Some(999))),
                ]
            }),
            &BulkCreateOptions::new().batch_size(7),
        )
        .unwrap();
    assert_index_paths_agree(&db);
    // DESC puts NULLs first (PostgreSQL), through the index as through a sort.
    let first = orders.order_by(["-created"]).slice(0..1).fetch().unwrap();
    assert_eq!(first.column::<Option<i64>>("created").unwrap(), [None]);
    assert_eq!(
        ids(&orders
            .filter(q!(created__isnull = false))
            .order_by(["-created"])
            .slice(0..1)),
        ids(&orders.filter(q!(created = 1049)))
    );
}

#[test]
fn joins_on_an_indexed_key_narrow_the_inner_side_and_agree_with_hash_joins() {
    let db = shop();
    let forward = || {
        db.objects("Order")
            .filter(q!(code__in = vec![500i64, 501, 7]))
            .values(["id", "customer__name"])
            .order_by(["id"])
    };
    let reverse = || {
        db.objects("Customer")
            .filter(q!(name__in = vec!["c3", "c4"]))
            .annotate([("orders", Count("order")), ("total", Sum("order__amount"))])
            .order_by(["name"])
    };
    let plan = forward().explain().unwrap();
    assert!(
        plan.contains("IndexNestedLoopJoinExec: INNER JOIN")
            && plan.contains("index=customer_pkey"),
        "{plan}"
    );
    let plan = reverse().explain().unwrap();
    assert!(plan.contains("index=order_customer_id_idx"), "{plan}");
    let with = (forward().fetch().unwrap(), reverse().fetch().unwrap());
    db.set_config(SessionConfig::new().disable_rule("use_indexes"));
    assert!(!forward()
        .explain()
        .unwrap()
        .contains("IndexNestedLoopJoinExec"));
    let without = (forward().fetch().unwrap(), reverse().fetch().unwrap());
    assert_eq!(
        with.0.column::<String>("customer__name").unwrap(),
        without.0.column::<String>("customer__name").unwrap()
    );
    assert!(!with.0.is_empty());
    assert_eq!(
        with.1.column::<i64>("orders").unwrap(),
        without.1.column::<i64>("orders").unwrap()
    );
    assert_eq!(
        with.1.column::<i64>("total").unwrap(),
        without.1.column::<i64>("total").unwrap()
    );
    assert!(with
        .1
        .column::<i64>("orders")
        .unwrap()
        .iter()
        .all(|n| *n > 0));
}
