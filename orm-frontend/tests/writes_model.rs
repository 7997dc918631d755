//! A proptest state machine of writes: random creates, updates, deletes, bulk operations and
//! failing transactions run against Quiver and against a plain `Vec` of rows; after every step
//! the table's rows, what a filtered read returns, and the unique constraint agree, and every
//! index of the table — maintained incrementally, chunk by chunk — equals an index built from
//! scratch over the same rows and agrees with the model.
//!
//! `QUIVER_PROPTEST_CASES=2000 cargo test -p quiver --test writes_model` runs more cases.

use proptest::prelude::*;
use quiver::prelude::*;
use quiver_storage::index::{gather, index_of};
use quiver_storage::{batch_keys, BuiltIndex, Chunk, IndexKind, TableVersion};

/// Every index of `table` over its current version (chunk indexes cached since earlier
/// versions) equals one built from scratch over fresh copies of the chunks; returns the number
/// of entries of each, by index name.
fn check_indexes(db: &Database, table: &str) -> Vec<(String, usize)> {
    let table = db.catalog().table(table).unwrap();
    let version = table.snapshot();
    let fresh = TableVersion::from_chunks(
        version.version(),
        version
            .chunks()
            .iter()
            .map(|c| Chunk::new(c.batch().clone()))
            .collect(),
    );
    let mut sizes = vec![];
    for definition in table.indexes() {
        let kept = index_of(&version, &definition).unwrap();
        let rebuilt = BuiltIndex::build(&definition, &fresh).unwrap();
        assert_eq!(kept.len(), rebuilt.len(), "{}", definition.name);
        let keys: Vec<_> = version
            .chunks()
            .iter()
            .flat_map(|c| batch_keys(c.batch(), &definition.columns).unwrap())
            .collect();
        assert_eq!(
            kept.lookup(&keys),
            rebuilt.lookup(&keys),
            "{}",
            definition.name
        );
        if definition.kind == IndexKind::Ordered {
            for descending in [false, true] {
                let rows = |index: &BuiltIndex, version: &TableVersion| {
                    let addresses = index.ordered(descending, None).unwrap();
                    let gathered = gather(version, &addresses).unwrap();
                    gathered
                        .chunks()
                        .iter()
                        .map(|c| batch_keys(c.batch(), &definition.columns).unwrap())
                        .collect::<Vec<_>>()
                };
                assert_eq!(
                    rows(&kept, &version),
                    rows(&rebuilt, &fresh),
                    "{} descending={descending}",
                    definition.name
                );
            }
        }
        sizes.push((definition.name.clone(), kept.len()));
    }
    sizes
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Item {
    code: String,
    qty: i64,
    grp: Option<i64>,
}

#[derive(Debug, Clone)]
enum Op {
    Create(Item),
    BulkCreate(Vec<Item>),
    BulkCreateIgnore(Vec<Item>),
    Upsert(Vec<Item>),
    AddToGroup { grp: i64, delta: i64 },
    Rename { from: String, to: String },
    DeleteBelow(i64),
    Save { code: String, qty: i64 },
    FailingTransaction(Vec<Op>),
    NestedFailure(Item, Item),
}

fn code() -> impl Strategy<Value = String> {
    (0u8..12).prop_map(|i| format!("c{i}"))
}

fn item() -> impl Strategy<Value = Item> {
    (code(), -50i64..50, proptest::option::of(0i64..3)).prop_map(|(code, qty, grp)| Item {
        code,
        qty,
        grp,
    })
}

fn simple_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => item().prop_map(Op::Create),
        1 => proptest::collection::vec(item(), 0..5).prop_map(Op::BulkCreate),
        1 => proptest::collection::vec(item(), 0..5).prop_map(Op::BulkCreateIgnore),
        1 => proptest::collection::vec(item(), 0..4).prop_map(Op::Upsert),
        2 => (0i64..3, -5i64..5).prop_map(|(grp, delta)| Op::AddToGroup { grp, delta }),
        1 => (code(), code()).prop_map(|(from, to)| Op::Rename { from, to }),
        1 => (-60i64..0).prop_map(Op::DeleteBelow),
        1 => (code(), -50i64..50).prop_map(|(code, qty)| Op::Save { code, qty }),
        1 => (item(), item()).prop_map(|(a, b)| Op::NestedFailure(a, b)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => simple_op(),
        1 => proptest::collection::vec(simple_op(), 1..4).prop_map(Op::FailingTransaction),
    ]
}

fn values(item: &Item) -> Vec<(&'static str, ScalarValue)> {
    vec![
        ("code", item.code.as_str().into()),
        ("qty", ScalarValue::Int64(Some(item.qty))),
        ("grp", ScalarValue::Int64(item.grp)),
    ]
}

/// Applies `op` to the model; `Err(())` when Quiver must refuse it (and change nothing).
fn apply_model(rows: &mut Vec<Item>, op: &Op) -> Result<(), ()> {
    let has = |rows: &Vec<Item>, code: &str| rows.iter().any(|r| r.code == code);
    match op {
        Op::Create(item) => {
            if has(rows, &item.code) {
                return Err(());
            }
            rows.push(item.clone());
        }
        Op::BulkCreate(items) => {
            let mut next = rows.clone();
            for item in items {
                if has(&next, &item.code) {
                    return Err(());
                }
                next.push(item.clone());
            }
            *rows = next;
        }
        Op::BulkCreateIgnore(items) => {
            for item in items {
                if !has(rows, &item.code) {
                    rows.push(item.clone());
                }
            }
        }
        Op::Upsert(items) => {
            let mut next = rows.clone();
            let mut inserted: Vec<String> = vec![];
            for item in items {
                if let Some(row) = rows.iter().find(|r| r.code == item.code) {
                    let target = next.iter_mut().find(|r| r.code == row.code).ok_or(())?;
                    target.qty = item.qty;
                } else {
                    if inserted.contains(&item.code) {
                        return Err(());
                    }
                    inserted.push(item.code.clone());
                    next.push(item.clone());
                }
            }
            *rows = next;
        }
        Op::AddToGroup { grp, delta } => {
            for row in rows.iter_mut().filter(|r| r.grp == Some(*grp)) {
                row.qty += delta;
            }
        }
        Op::Rename { from, to } => {
            if from != to && has(rows, from) && has(rows, to) {
                return Err(());
            }
            for row in rows.iter_mut().filter(|r| &r.code == from) {
                row.code = to.clone();
            }
        }
        Op::DeleteBelow(limit) => rows.retain(|r| r.qty >= *limit),
        Op::Save { code, qty } => {
            if let Some(row) = rows.iter_mut().find(|r| &r.code == code) {
                row.qty = *qty;
            }
        }
        Op::FailingTransaction(_) => return Err(()),
        Op::NestedFailure(a, _) => {
            // The outer create stands or fails by itself; the inner block always rolls back.
            if has(rows, &a.code) {
                return Err(());
            }
            rows.push(a.clone());
        }
    }
    Ok(())
}

fn apply_db(db: &Database, op: &Op) -> quiver::Result<()> {
    let items = db.objects("Item");
    match op {
        Op::Create(item) => items.create(values(item)).map(|_| ()),
        Op::BulkCreate(items_) => items.bulk_create(items_.iter().map(values)).map(|_| ()),
        Op::BulkCreateIgnore(items_) => items
            .bulk_create_with(
                items_.iter().map(values),
                &BulkCreateOptions::new().ignore_conflicts().batch_size(2),
            )
            .map(|_| ()),
        Op::Upsert(items_) => items
            .bulk_create_with(
                items_.iter().map(values),
                &BulkCreateOptions::new().update_conflicts(["qty"], ["code"]),
            )
            .map(|_| ()),
        Op::AddToGroup { grp, delta } => items
            .filter(q!(grp = *grp))
            .update([("qty", F("qty") + *delta)])
            .map(|_| ()),
        Op::Rename { from, to } => items
            .filter(q!(code = from.as_str()))
            .update([("code", to.as_str())])
            .map(|_| ()),
        Op::DeleteBelow(limit) => items.filter(q!(qty__lt = *limit)).delete().map(|_| ()),
        Op::Save { code, qty } => match items.get(q!(code = code.as_str())) {
            Ok(mut found) => {
                found.set("qty", *qty)?;
                found.save()
            }
            Err(Error::DoesNotExist(_)) => Ok(()),
            Err(other) => Err(other),
        },
        Op::FailingTransaction(ops) => db.atomic(|_| {
            for op in ops {
                let _ = apply_db(db, op);
            }
            Err(Error::ValueError("rolled back on purpose".into()))
        }),
        Op::NestedFailure(a, b) => db.atomic(|_| {
            items.create(values(a))?;
            let inner = db.atomic(|_| {
                items.create(values(b))?;
                Err::<(), _>(Error::ValueError("inner rolled back".into()))
            });
            assert!(inner.is_err());
            Ok(())
        }),
    }
}

fn stored(db: &Database) -> Vec<Item> {
    let rows = db.objects("Item").fetch().unwrap();
    let mut items: Vec<Item> = rows
        .iter()
        .map(|r| Item {
            code: r.get("code").unwrap(),
            qty: r.get("qty").unwrap(),
            grp: r.get("grp").unwrap(),
        })
        .collect();
    items.sort();
    items
}

fn cases() -> u32 {
    std::env::var("QUIVER_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn writes_agree_with_a_vec_of_rows(ops in proptest::collection::vec(op(), 1..20)) {
        let db = Database::new();
        db.register(
            Model::new("Item")
                .field("code", CharField::new(10).unique())
                .field("qty", BigIntegerField::new().db_index())
                .field("grp", BigIntegerField::new().null())
                .index(["grp", "-qty"]),
        )
        .unwrap();
        let mut model: Vec<Item> = vec![];
        for op in &ops {
            let expected = apply_model(&mut model, op);
            let got = apply_db(&db, op);
            match (&expected, &got) {
                (Ok(()), Ok(())) => {}
                (Err(()), Err(e)) => {
                    prop_assert!(
                        matches!(e.django_name(), "IntegrityError" | "ValueError"),
                        "{op:?}: {e}"
                    );
                }
                _ => prop_assert!(false, "{op:?}: model {expected:?}, quiver {got:?}"),
            }
            model.sort();
            prop_assert_eq!(stored(&db), model.clone(), "after {:?}", op);
            // A filtered read agrees too (the scan of the new versions).
            let positive = db.objects("Item").filter(q!(qty__gt = 0)).count().unwrap();
            prop_assert_eq!(positive, model.iter().filter(|r| r.qty > 0).count());
            prop_assert_eq!(db.catalog().transactions().locks().held_count(), 0);
            // Every index agrees with the model: point, range and top-k reads through them.
            for v in [-5i64, 0, 5] {
                let through_index = db.objects("Item").filter(q!(qty = v)).count().unwrap();
                prop_assert_eq!(through_index, model.iter().filter(|r| r.qty == v).count());
            }
            let high = db.objects("Item").filter(q!(qty__gte = 10)).count().unwrap();
            prop_assert_eq!(high, model.iter().filter(|r| r.qty >= 10).count());
            let lowest = db.objects("Item").order_by(["qty"]).slice(0..3).fetch().unwrap();
            let mut qtys: Vec<i64> = model.iter().map(|r| r.qty).collect();
            qtys.sort();
            qtys.truncate(3);
            prop_assert_eq!(lowest.column::<i64>("qty").unwrap(), qtys);
            // Every index, kept chunk by chunk across versions, equals a fresh build and
            // indexes every row.
            for (name, entries) in check_indexes(&db, "item") {
                prop_assert_eq!(entries, model.len(), "{}", name);
            }
            // The composite (grp, -qty) index answers a prefix top-k like the model.
            for grp in 0..3i64 {
                let got = db
                    .objects("Item")
                    .filter(q!(grp = grp))
                    .order_by(["-qty"])
                    .slice(0..2)
                    .fetch()
                    .unwrap();
                let mut expected: Vec<i64> =
                    model.iter().filter(|r| r.grp == Some(grp)).map(|r| r.qty).collect();
                expected.sort_by(|a, b| b.cmp(a));
                expected.truncate(2);
                prop_assert_eq!(got.column::<i64>("qty").unwrap(), expected);
            }
            for row in &model {
                let found = db.objects("Item").get(q!(code = row.code.as_str())).unwrap();
                prop_assert_eq!(found.get::<i64>("qty").unwrap(), row.qty);
            }
        }
    }
}
