//! Writes through the public API: `update()` of one row and of a few, many statements in one
//! `atomic()`, `bulk_create(batch_size=)` as one statement, and what readers and indexes see
//! afterwards.
//!
//! Expected values come from real Django (Django 5.1.4 on SQLite), produced by
//!
//! ```text
//! /tmp/django-venv/bin/python /work/shared/django-oracle/django_runner.py \
//!     tests/integration/django/writes.py --db sqlite > tests/integration/django/writes.sqlite.jsonl
//! ```
//!
//! one JSON value per `print()`, in order.

use std::sync::Arc;

use quiver::prelude::*;
use serde_json::{json, Value as Json};

/// Django's printed values, in order.
fn django() -> Vec<Json> {
    include_str!("django/writes.sqlite.jsonl")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect()
}

fn players() -> Database {
    let db = Database::new();
    db.register(
        Model::new("Player")
            .field("name", CharField::new(20).unique())
            .field("score", IntegerField::new()),
    )
    .unwrap();
    db
}

fn named(names: &[&str]) -> Vec<Vec<(&'static str, ScalarValue)>> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            vec![
                ("name", ScalarValue::from(name.to_string())),
                ("score", ScalarValue::from(i as i64)),
            ]
        })
        .collect()
}

fn pairs(db: &Database, order: &str) -> Json {
    let rows = db.objects("Player").order_by([order]).fetch().unwrap();
    let names = rows.column::<String>("name").unwrap();
    let scores = rows.column::<i64>("score").unwrap();
    Json::Array(
        names
            .into_iter()
            .zip(scores)
            .map(|(n, s)| json!([n, s]))
            .collect(),
    )
}

#[test]
fn writes_match_django() {
    let expected = django();
    let mut printed = Vec::new();
    let db = players();
    let options = BulkCreateOptions::new().batch_size(2);
    let err = db
        .objects("Player")
        .bulk_create_with(named(&["a", "b", "c", "d", "a"]), &options)
        .unwrap_err();
    assert_eq!(err.django_name(), "IntegrityError");
    printed.push(json!("bulk_create IntegrityError"));
    printed.push(json!(db.objects("Player").count().unwrap()));
    let ten: Vec<String> = (0..10).map(|i| format!("p{i}")).collect();
    let ten: Vec<&str> = ten.iter().map(String::as_str).collect();
    let options = BulkCreateOptions::new().batch_size(3);
    printed.push(json!(db
        .objects("Player")
        .bulk_create_with(named(&ten), &options)
        .unwrap()));
    printed.push(json!(db.objects("Player").count().unwrap()));
    let p3 = db.objects("Player").get(q!(name = "p3")).unwrap().pk();
    printed.push(json!(db
        .objects("Player")
        .filter(q!(pk = p3.clone()))
        .update([("score", F("score") + 100)])
        .unwrap()));
    let top = db
        .objects("Player")
        .order_by(["-score"])
        .slice(0..3)
        .fetch()
        .unwrap();
    printed.push(Json::Array(
        top.column::<String>("name")
            .unwrap()
            .into_iter()
            .zip(top.column::<i64>("score").unwrap())
            .map(|(n, s)| json!([n, s]))
            .collect(),
    ));
    db.atomic(|_| {
        let keys = db
            .objects("Player")
            .order_by(["name"])
            .fetch()?
            .column::<i64>("id")?;
        for pk in keys {
            db.objects("Player")
                .filter(q!(pk = pk))
                .update([("score", F("score") + 1)])?;
        }
        let inner = db.atomic(|_| {
            db.objects("Player")
                .filter(q!(pk = p3.clone()))
                .update([("score", F("score") + 1000)])?;
            db.objects("Player")
                .create([("name", "p1".into()), ("score", 0i64.into())])
        });
        if let Err(error) = inner {
            assert_eq!(error.django_name(), "IntegrityError");
            printed.push(json!("inner IntegrityError"));
        }
        db.objects("Player")
            .create([("name", "late".into()), ("score", 50i64.into())])?;
        Ok(())
    })
    .unwrap();
    printed.push(pairs(&db, "score"));
    let failed: quiver::Result<()> = db.atomic(|_| {
        for pk in db.objects("Player").fetch()?.column::<i64>("id")? {
            db.objects("Player")
                .filter(q!(pk = pk))
                .update([("score", 0i64)])?;
        }
        db.objects("Player").filter(q!(name = "late")).delete()?;
        Err(quiver::Error::ValueError("boom".into()))
    });
    assert!(failed.is_err());
    printed.push(json!("rolled back"));
    printed.push(json!(db
        .objects("Player")
        .order_by(["score"])
        .fetch()
        .unwrap()
        .column::<i64>("score")
        .unwrap()));
    printed.push(json!(db
        .objects("Player")
        .filter(q!(name = "p9"))
        .update([("score", F("score") * 2)])
        .unwrap()));
    printed.push(json!(db
        .objects("Player")
        .filter(q!(name = "nobody"))
        .update([("score", 1i64)])
        .unwrap()));
    printed.push(json!(db
        .objects("Player")
        .get(q!(name = "p9"))
        .unwrap()
        .get::<i64>("score")
        .unwrap()));
    assert_eq!(printed, expected);
}

/// A table of several chunks with an indexed field and a composite index: after many
/// one-row and few-row updates (which rewrite rows in place and patch the chunk indexes),
/// every index read agrees with a plain model of the rows, and a reader that started before
/// the updates still sees its state.
#[test]
fn in_place_updates_keep_indexes_and_snapshots_exact() {
    let rows = 150_000i64;
    let db = Database::new();
    db.register(
        Model::new("T")
            .field("id", BigIntegerField::new().primary_key())
            .field("k", BigIntegerField::new().db_index())
            .field("v", BigIntegerField::new())
            .index(["v", "-id"]),
    )
    .unwrap();
    let schema = Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("id", arrow::datatypes::DataType::Int64, false),
        arrow::datatypes::Field::new("k", arrow::datatypes::DataType::Int64, false),
        arrow::datatypes::Field::new("v", arrow::datatypes::DataType::Int64, false),
    ]));
    let mut model: Vec<(i64, i64, i64)> =
        (0..rows).map(|i| (i, (i * 7919) % rows, i % 50)).collect();
    let column = |f: fn(&(i64, i64, i64)) -> i64, model: &[(i64, i64, i64)]| {
        Arc::new(arrow::array::Int64Array::from_iter_values(
            model.iter().map(f),
        )) as arrow::array::ArrayRef
    };
    let batch = arrow::array::RecordBatch::try_new(
        schema,
        vec![
            column(|r| r.0, &model),
            column(|r| r.1, &model),
            column(|r| r.2, &model),
        ],
    )
    .unwrap();
    db.load_batches("T", vec![batch]).unwrap();
    let table = db.catalog().table("t").unwrap();
    let before = table.snapshot();
    let objects = || db.objects("T");
    // Warm the indexes so that the updates patch them.
    assert_eq!(objects().filter(q!(k = 5)).count().unwrap(), 1);
    assert_eq!(
        objects()
            .filter(q!(v = 7))
            .order_by(["-id"])
            .slice(0..5)
            .count()
            .unwrap(),
        5
    );
    let mut seed = 11u64;
    for step in 0..300 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let id = (seed >> 33) as i64 % rows;
        if step % 10 == 9 {
            // A few rows at once, through a range on the key.
            let n = objects()
                .filter(q!(id__gte = id, id__lt = id + 5))
                .update([("v", F("v") + 1)])
                .unwrap();
            let hit = model.iter_mut().filter(|r| (id..id + 5).contains(&r.0));
            let mut count = 0;
            for row in hit {
                row.2 += 1;
                count += 1;
            }
            assert_eq!(n, count);
        } else {
            let k = (seed >> 13) as i64 % (2 * rows);
            assert_eq!(
                objects()
                    .filter(q!(id = id))
                    .update([("v", F("v") - 3), ("k", Expression::from(k))])
                    .unwrap(),
                1
            );
            let row = &mut model[id as usize];
            row.2 -= 3;
            row.1 = k;
        }
        if step % 30 != 29 {
            continue;
        }
        // Point lookup on k, composite top-k on (v, -id), and a range on k, against the model.
        let probe = model[(seed >> 40) as usize % model.len()];
        let mut ids = objects()
            .filter(q!(k = probe.1))
            .fetch()
            .unwrap()
            .column::<i64>("id")
            .unwrap();
        ids.sort();
        let mut want: Vec<i64> = model
            .iter()
            .filter(|r| r.1 == probe.1)
            .map(|r| r.0)
            .collect();
        want.sort();
        assert_eq!(ids, want);
        let top = objects()
            .filter(q!(v = probe.2))
            .order_by(["-id"])
            .slice(0..10)
            .fetch()
            .unwrap()
            .column::<i64>("id")
            .unwrap();
        let mut want: Vec<i64> = model
            .iter()
            .filter(|r| r.2 == probe.2)
            .map(|r| r.0)
            .collect();
        want.sort_by(|a, b| b.cmp(a));
        want.truncate(10);
        assert_eq!(top, want);
        let range = objects()
            .filter(q!(k__gte = probe.1, k__lt = probe.1 + 1000))
            .count()
            .unwrap();
        let want = model
            .iter()
            .filter(|r| (probe.1..probe.1 + 1000).contains(&r.1))
            .count();
        assert_eq!(range, want);
    }
    // The version read before the updates is unchanged.
    let old_total: i64 = before
        .chunks()
        .iter()
        .map(|c| {
            let values = c.batch().column(2);
            arrow::compute::sum(
                values
                    .as_any()
                    .downcast_ref::<arrow::array::Int64Array>()
                    .unwrap(),
            )
            .unwrap_or(0)
        })
        .sum();
    assert_eq!(old_total, (0..rows).map(|i| i % 50).sum::<i64>());
    let total = objects()
        .aggregate([Sum("v")])
        .unwrap()
        .get::<i64>("v__sum")
        .unwrap();
    assert_eq!(total, model.iter().map(|r| r.2).sum::<i64>());
}

/// Thousands of statements in one `atomic()`: the result is the same as one statement per
/// transaction, and an error at the end undoes all of them.
#[test]
fn many_statements_in_one_atomic_block() {
    let db = players();
    let names: Vec<String> = (0..500).map(|i| format!("n{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    db.objects("Player").bulk_create(named(&names)).unwrap();
    let total = || {
        db.objects("Player")
            .aggregate([Sum("score")])
            .unwrap()
            .get::<i64>("score__sum")
            .unwrap()
    };
    let start = total();
    db.atomic(|_| {
        for round in 0..4 {
            for i in 0..500i64 {
                db.objects("Player")
                    .filter(q!(pk = i + 1))
                    .update([("score", F("score") + round)])?;
            }
            db.objects("Player").create([
                ("name", format!("extra{round}").into()),
                ("score", 1i64.into()),
            ])?;
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(total(), start + 500 * (1 + 2 + 3) + 4);
    let failed: quiver::Result<()> = db.atomic(|_| {
        for i in 0..500i64 {
            db.objects("Player")
                .filter(q!(pk = i + 1))
                .update([("score", 0i64)])?;
        }
        db.objects("Player")
            .create([("name", "n3".into()), ("score", 0i64.into())])?;
        Ok(())
    });
    assert_eq!(failed.unwrap_err().django_name(), "IntegrityError");
    assert_eq!(total(), start + 500 * (1 + 2 + 3) + 4);
    assert_eq!(db.objects("Player").count().unwrap(), 504);
}

/// A bulk insert enters its rows into the transaction's map of written keys only when a later
/// statement of the same transaction updates or deletes some of them: rows inserted, then
/// updated, deleted and re-inserted, with a savepoint rolled back in between, read back
/// exactly, inside the block and after commit.
#[test]
fn bulk_created_rows_updated_and_deleted_in_the_same_atomic_block() {
    let db = players();
    let names: Vec<String> = (0..3000).map(|i| format!("p{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let scores = |db: &Database| -> Vec<(String, i64)> {
        let rows = db.objects("Player").order_by(["name"]).fetch().unwrap();
        let names = rows.column::<String>("name").unwrap();
        names
            .into_iter()
            .zip(rows.column::<i64>("score").unwrap())
            .collect()
    };
    db.atomic(|_| {
        db.objects("Player").bulk_create(named(&names[..2000]))?;
        db.objects("Player").bulk_create(named(&names[2000..]))?;
        let inserted = scores(&db);
        // A savepoint that fails after touching rows of both inserts.
        let failed: quiver::Result<()> = db.atomic(|_| {
            db.objects("Player")
                .filter(q!(score__lt = 10))
                .update([("score", F("score") + 1000)])?;
            db.objects("Player").filter(q!(name = "p2500")).delete()?;
            db.objects("Player")
                .create([("name", "p2001".into()), ("score", 0i64.into())])?;
            Ok(())
        });
        assert_eq!(failed.unwrap_err().django_name(), "IntegrityError");
        assert_eq!(scores(&db), inserted);
        // Statements that stand: rows of the first insert updated, of the second deleted,
        // a deleted name inserted again.
        assert_eq!(
            db.objects("Player")
                .filter(q!(score__lt = 5))
                .update([("score", F("score") + 100)])?,
            10
        );
        // Automatic ids follow the insertion order: p2900..p2999.
        db.objects("Player").filter(q!(pk__gt = 2900)).delete()?;
        db.objects("Player")
            .create([("name", "p2999".into()), ("score", 7i64.into())])?;
        Ok(())
    })
    .unwrap();
    let mut expected: Vec<(String, i64)> = (0..3000i64)
        .filter(|i| !(2900..3000).contains(i))
        .map(|i| {
            let score = if i < 2000 { i } else { i - 2000 };
            (format!("p{i}"), score)
        })
        .map(|(name, score)| {
            let bumped = if score < 5 { score + 100 } else { score };
            (name, bumped)
        })
        .collect();
    expected.push(("p2999".to_string(), 7));
    expected.sort();
    assert_eq!(scores(&db), expected);
    let by_name = db.objects("Player").get(q!(name = "p2003")).unwrap();
    assert_eq!(by_name.get::<i64>("score").unwrap(), 103);
}
