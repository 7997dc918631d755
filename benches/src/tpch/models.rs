//! The TPC-H schema as Quiver models, written the way Django's `inspectdb` would write them
//! for the benchmark's tables: fields keep the TPC-H column names (so a QuerySet reads like
//! the SQL it replaces), foreign keys are `ForeignKey(..., db_column="l_orderkey")`, money is
//! a `DecimalField(15, 2)`, dates are `DateField`s.
//!
//! ```text
//! class Region(Model):   r_regionkey = BigIntegerField(primary_key=True); r_name, r_comment
//! class Nation(Model):   n_nationkey (pk); n_name; n_regionkey = ForeignKey(Region); n_comment
//! class Supplier(Model): s_suppkey (pk); s_name, s_address; s_nationkey = ForeignKey(Nation);
//!                        s_phone; s_acctbal = DecimalField(15, 2); s_comment
//! class Customer(Model): c_custkey (pk); c_name, c_address; c_nationkey = ForeignKey(Nation);
//!                        c_phone; c_acctbal; c_mktsegment; c_comment
//! class Part(Model):     p_partkey (pk); p_name, p_mfgr, p_brand, p_type; p_size; p_container;
//!                        p_retailprice; p_comment
//! class Partsupp(Model): ps_partkey = ForeignKey(Part); ps_suppkey = ForeignKey(Supplier);
//!                        ps_availqty; ps_supplycost; ps_comment  (unique together)
//! class Orders(Model):   o_orderkey (pk); o_custkey = ForeignKey(Customer); o_orderstatus;
//!                        o_totalprice; o_orderdate = DateField(); o_orderpriority; o_clerk;
//!                        o_shippriority; o_comment
//! class Lineitem(Model): l_orderkey = ForeignKey(Orders); l_partkey = ForeignKey(Part);
//!                        l_suppkey = ForeignKey(Supplier); l_linenumber; l_quantity,
//!                        l_extendedprice, l_discount, l_tax; l_returnflag, l_linestatus;
//!                        l_shipdate, l_commitdate, l_receiptdate; l_shipinstruct,
//!                        l_shipmode, l_comment
//! ```
//!
//! `partsupp` and `lineitem` have composite keys in TPC-H; Django 5.1 has no composite
//! primary key, so they get Django's automatic `id`, and lineitem's pair reference to
//! partsupp `(l_partkey, l_suppkey)` is followed with a correlated `Subquery` where a query
//! needs it (Q9, Q20), as a Django user would.

use quiver::prelude::{
    BigIntegerField, CharField, Database, DateField, DecimalField, FieldSpec, ForeignKey,
    IntegerField, Model, OnDelete, SessionConfig,
};

use super::TpchData;

/// A `DecimalField(15, 2)`: every money and quantity column of TPC-H.
fn money() -> FieldSpec {
    DecimalField::new(15, 2)
}

/// A required foreign key to `model` stored in the TPC-H column `column`, with
/// `related_name` for the way back.
fn key(model: &str, column: &str, related_name: &str) -> FieldSpec {
    ForeignKey::new(model, OnDelete::DoNothing)
        .db_column(column)
        .related_name(related_name)
}

/// The eight TPC-H models, parents first.
pub fn tpch_models() -> Vec<Model> {
    vec![
        Model::new("Region")
            .db_table("region")
            .field("r_regionkey", BigIntegerField::new().primary_key())
            .field("r_name", CharField::new(25))
            .field("r_comment", CharField::new(152)),
        Model::new("Nation")
            .db_table("nation")
            .field("n_nationkey", BigIntegerField::new().primary_key())
            .field("n_name", CharField::new(25))
            .field("n_regionkey", key("Region", "n_regionkey", "nations"))
            .field("n_comment", CharField::new(152)),
        Model::new("Supplier")
            .db_table("supplier")
            .field("s_suppkey", BigIntegerField::new().primary_key())
            .field("s_name", CharField::new(25))
            .field("s_address", CharField::new(40))
            .field("s_nationkey", key("Nation", "s_nationkey", "suppliers"))
            .field("s_phone", CharField::new(15))
            .field("s_acctbal", money())
            .field("s_comment", CharField::new(101)),
        Model::new("Customer")
            .db_table("customer")
            .field("c_custkey", BigIntegerField::new().primary_key())
            .field("c_name", CharField::new(25))
            .field("c_address", CharField::new(40))
            .field("c_nationkey", key("Nation", "c_nationkey", "customers"))
            .field("c_phone", CharField::new(15))
            .field("c_acctbal", money())
            .field("c_mktsegment", CharField::new(10))
            .field("c_comment", CharField::new(117)),
        Model::new("Part")
            .db_table("part")
            .field("p_partkey", BigIntegerField::new().primary_key())
            .field("p_name", CharField::new(55))
            .field("p_mfgr", CharField::new(25))
            .field("p_brand", CharField::new(10))
            .field("p_type", CharField::new(25))
            .field("p_size", IntegerField::new())
            .field("p_container", CharField::new(10))
            .field("p_retailprice", money())
            .field("p_comment", CharField::new(23)),
        Model::new("Partsupp")
            .db_table("partsupp")
            .field("ps_partkey", key("Part", "ps_partkey", "partsupps"))
            .field("ps_suppkey", key("Supplier", "ps_suppkey", "partsupps"))
            .field("ps_availqty", IntegerField::new())
            .field("ps_supplycost", money())
            .field("ps_comment", CharField::new(199))
            .unique_together(["ps_partkey", "ps_suppkey"]),
        Model::new("Orders")
            .db_table("orders")
            .field("o_orderkey", BigIntegerField::new().primary_key())
            .field("o_custkey", key("Customer", "o_custkey", "orders"))
            .field("o_orderstatus", CharField::new(1))
            .field("o_totalprice", money())
            .field("o_orderdate", DateField::new())
            .field("o_orderpriority", CharField::new(15))
            .field("o_clerk", CharField::new(15))
            .field("o_shippriority", IntegerField::new())
            .field("o_comment", CharField::new(79)),
        Model::new("Lineitem")
            .db_table("lineitem")
            .field("l_orderkey", key("Orders", "l_orderkey", "lineitems"))
            .field("l_partkey", key("Part", "l_partkey", "lineitems"))
            .field("l_suppkey", key("Supplier", "l_suppkey", "lineitems"))
            .field("l_linenumber", IntegerField::new())
            .field("l_quantity", money())
            .field("l_extendedprice", money())
            .field("l_discount", money())
            .field("l_tax", money())
            .field("l_returnflag", CharField::new(1))
            .field("l_linestatus", CharField::new(1))
            .field("l_shipdate", DateField::new())
            .field("l_commitdate", DateField::new())
            .field("l_receiptdate", DateField::new())
            .field("l_shipinstruct", CharField::new(25))
            .field("l_shipmode", CharField::new(10))
            .field("l_comment", CharField::new(44)),
    ]
}

/// A database with `config` holding the eight TPC-H models, loaded with `data`'s batches
/// (Arrow straight in through `Database::load_batches`; text is cast from `Utf8View`).
pub fn load_quiver(data: &TpchData, config: SessionConfig) -> quiver::Result<Database> {
    let db = Database::with_config(config);
    for model in tpch_models() {
        db.register(model)?;
    }
    let models = [
        "Region", "Nation", "Supplier", "Customer", "Part", "Partsupp", "Orders", "Lineitem",
    ];
    for (model, (_, table)) in models.into_iter().zip(data.tables()) {
        db.load_batches(model, table.batches.clone())?;
    }
    Ok(db)
}

#[cfg(test)]
mod tests {
    use quiver::prelude::{q, SessionConfig};

    use super::load_quiver;
    use crate::tpch::generate;

    #[test]
    fn every_row_loads_and_the_keys_join() {
        let data = generate(0.01);
        let db = load_quiver(&data, SessionConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        let count = |model: &str| db.objects(model).count().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(count("Region"), 5);
        assert_eq!(count("Partsupp"), 8_000);
        assert_eq!(count("Lineitem"), data.lineitem.num_rows());
        // Every lineitem reaches its region through order → customer → nation.
        let in_asia = db
            .objects("Lineitem")
            .filter(q!(
                l_orderkey__o_custkey__c_nationkey__n_regionkey__r_name = "ASIA"
            ))
            .count()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(in_asia > 0 && in_asia < data.lineitem.num_rows());
    }
}
