//! A small shop database shared by the QuerySet unit tests.
//!
//! ```text
//! Country  1 NL, 2 FR
//! Customer (Meta.ordering = name)
//!   1 Ann  EU   NL        Order 1: Ann  100 new
//!   2 Bob  US   —               2: Ann  250 paid       referrer Bob
//!   3 Cid  —    FR              3: Bob   40 cancelled  referrer Ann
//!   4 Dee  EU   NL              4: Dee   75 paid
//!                               5: Cid   10 new
//! ```

use quiver_engine::ScalarValue;

use crate::model::{CharField, ForeignKey, IntegerField, Model, OnDelete};
use crate::Database;

/// The schema only.
pub(crate) fn shop_schema() -> Database {
    let db = Database::new();
    db.register(Model::new("Country").field("name", CharField::new(30)))
        .unwrap();
    db.register(
        Model::new("Customer")
            .field("name", CharField::new(50))
            .field("region", CharField::new(10).null())
            .field(
                "country",
                ForeignKey::new("Country", OnDelete::SetNull).null(),
            )
            .ordering(["name"]),
    )
    .unwrap();
    db.register(
        Model::new("Order")
            .field(
                "customer",
                ForeignKey::new("Customer", OnDelete::Cascade).related_name("orders"),
            )
            .field(
                "referrer",
                ForeignKey::new("Customer", OnDelete::SetNull)
                    .null()
                    .related_name("referred_orders"),
            )
            .field("amount", IntegerField::new())
            .field("status", CharField::new(10).default("new")),
    )
    .unwrap();
    db
}

/// The schema with the rows above.
pub(crate) fn shop() -> Database {
    let db = shop_schema();
    db.objects("Country")
        .bulk_create([[("name", "NL".into())], [("name", "FR".into())]])
        .unwrap();
    let customers: [(&str, Option<&str>, Option<i64>); 4] = [
        ("Ann", Some("EU"), Some(1)),
        ("Bob", Some("US"), None),
        ("Cid", None, Some(2)),
        ("Dee", Some("EU"), Some(1)),
    ];
    db.objects("Customer")
        .bulk_create(customers.map(|(name, region, country)| {
            [
                ("name", ScalarValue::from(name)),
                ("region", region.into()),
                ("country", country.into()),
            ]
        }))
        .unwrap();
    let orders: [(i64, Option<i64>, i64, &str); 5] = [
        (1, None, 100, "new"),
        (1, Some(2), 250, "paid"),
        (2, Some(1), 40, "cancelled"),
        (4, None, 75, "paid"),
        (3, None, 10, "new"),
    ];
    db.objects("Order")
        .bulk_create(orders.map(|(customer, referrer, amount, status)| {
            [
                ("customer", ScalarValue::from(customer)),
                ("referrer", referrer.into()),
                ("amount", amount.into()),
                ("status", status.into()),
            ]
        }))
        .unwrap();
    db
}
