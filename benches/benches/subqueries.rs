//! Correlated subqueries and recursive CTEs: Quiver with and without the
//! `decorrelate_subqueries` rule, and DataFusion running the SQL `QuerySet::sql()` renders, on
//! the same batches in one run.
//!
//! - `latest_order`: each customer's latest order amount,
//!   `Customer.objects.annotate(latest=Subquery(Order.objects.filter(customer=OuterRef("pk"))
//!   .order_by("-created").values("amount")[:1]))`, over 1M orders and 100k customers
//!   (`QUIVER_SUBQUERY_ORDERS`, `QUIVER_SUBQUERY_CUSTOMERS`). Without decorrelation the
//!   subquery runs once per customer, so that variant is timed on the first 100 customers
//!   only, beside the default plan on the same 100 (which `decorrelate_subqueries` leaves on
//!   the per-key path too: a hundred lookups through `order.customer_id`'s index cost less
//!   than a join over every order). DataFusion cannot plan the
//!   correlated `LIMIT 1` subquery, so it runs the window-function form of the same question.
//! - `tree`: every descendant of the root of a 1M-node tree with its depth, a recursive CTE
//!   (`QUIVER_TREE_NODES`).
//!
//! Run with `cargo bench -p quiver-benches --bench subqueries [-- --quick]`.

use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use criterion::{criterion_group, criterion_main, Criterion};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig as DataFusionConfig, SessionContext};
use quiver::prelude::*;
use tokio::runtime::Runtime;

const SEED: u64 = 20_251_125;

fn size(variable: &str, default: usize) -> usize {
    std::env::var(variable)
        .ok()
        .and_then(|text| quiver_benches::parse_row_count(&text))
        .unwrap_or(default)
}

fn shop(
    config: SessionConfig,
    customers: &[RecordBatch],
    orders: &[RecordBatch],
    nodes: &[RecordBatch],
) -> Database {
    let db = Database::with_config(config);
    let models = [
        Model::new("Customer")
            .field("name", CharField::new(30))
            .field("region", CharField::new(10).null()),
        Model::new("Order")
            .field(
                "customer",
                ForeignKey::new("Customer", OnDelete::Cascade).related_name("orders"),
            )
            .field("amount", BigIntegerField::new())
            .field("created", BigIntegerField::new()),
        Model::new("Node").field(
            "parent",
            ForeignKey::new("Node", OnDelete::Cascade)
                .null()
                .related_name("children"),
        ),
    ];
    for model in models {
        db.register(model).expect("model registers");
    }
    db.load_batches("Customer", customers.to_vec())
        .expect("customers load");
    db.load_batches("Order", orders.to_vec())
        .expect("orders load");
    db.load_batches("Node", nodes.to_vec()).expect("nodes load");
    db
}

fn latest_order(db: &Database, first_customers: Option<i64>) -> QuerySet {
    let latest = db
        .objects("Order")
        .filter(Q::new("customer", OuterRef("pk")))
        .order_by(["-created"])
        .values(["amount"])
        .slice(0..1);
    let customers = match first_customers {
        Some(n) => db.objects("Customer").filter(q!(id__lte = n)),
        None => db.objects("Customer"),
    };
    customers
        .annotate([("latest", Subquery(latest))])
        .values(["id", "latest"])
}

fn descendants(db: &Database) -> QuerySet {
    let nodes = db.objects("Node");
    let tree = CTE::recursive_named("tree", |cte| {
        nodes
            .filter(q!(parent__isnull = true))
            .annotate([("depth", Value(0i64))])
            .values(["id", "depth"])
            .union(
                [cte.join(nodes.clone(), [("parent", cte.col("id"))])
                    .annotate([("depth", cte.col("depth") + 1)])
                    .values(["id", "depth"])],
                true,
            )
    });
    tree.queryset().values(["id", "depth"])
}

fn datafusion(tables: &[(&str, SchemaRef, Vec<RecordBatch>)], partitions: usize) -> SessionContext {
    let ctx =
        SessionContext::new_with_config(DataFusionConfig::new().with_target_partitions(partitions));
    for (name, schema, batches) in tables {
        let mut split = vec![Vec::new(); partitions];
        for (index, batch) in batches.iter().enumerate() {
            split[index % partitions].push(batch.clone());
        }
        let table = MemTable::try_new(Arc::clone(schema), split).expect("MemTable");
        ctx.register_table(*name, Arc::new(table))
            .expect("table registers");
    }
    ctx
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

fn subqueries(c: &mut Criterion) {
    let customers = size("QUIVER_SUBQUERY_CUSTOMERS", 100_000);
    let orders = size("QUIVER_SUBQUERY_ORDERS", 1_000_000);
    let nodes = size("QUIVER_TREE_NODES", 1_000_000);
    let (customer_schema, customer_batches) = quiver_benches::shop::customer_batches(customers);
    let (order_schema, order_batches) =
        quiver_benches::shop::order_batches(orders, customers, SEED);
    let (node_schema, node_batches) = quiver_benches::shop::tree_batches(nodes);
    let decorrelated = shop(
        SessionConfig::new(),
        &customer_batches,
        &order_batches,
        &node_batches,
    );
    let per_key = shop(
        SessionConfig::new().disable_rule("decorrelate_subqueries"),
        &customer_batches,
        &order_batches,
        &node_batches,
    );
    let partitions = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ctx = datafusion(
        &[
            ("customer", customer_schema, customer_batches),
            ("order", order_schema, order_batches),
            ("node", node_schema, node_batches),
        ],
        partitions,
    );
    let runtime = Runtime::new().expect("tokio runtime starts");
    let run_sql = |sql: &str| {
        runtime
            .block_on(async { ctx.sql(sql).await?.collect().await })
            .unwrap_or_else(|error| panic!("DataFusion: {error}\n{sql}"))
    };
    let run_quiver =
        |qs: &QuerySet| rows(&qs.to_batches().unwrap_or_else(|e| panic!("Quiver: {e}")));

    let mut group = c.benchmark_group("subqueries/latest_order");
    // DataFusion 55 cannot plan the correlated `ORDER BY … LIMIT 1` subquery `sql()` renders,
    // so it runs the hand-decorrelated form users write for it: a window over the orders.
    let sql = "SELECT c.id, o.amount AS latest FROM customer AS c LEFT JOIN (SELECT customer_id, \
               amount, row_number() OVER (PARTITION BY customer_id ORDER BY created DESC) AS rn \
               FROM \"order\") AS o ON o.customer_id = c.id AND o.rn = 1";
    assert_eq!(
        run_quiver(&latest_order(&decorrelated, None)),
        rows(&run_sql(sql))
    );
    group.bench_function("quiver", |b| {
        b.iter(|| run_quiver(&latest_order(&decorrelated, None)))
    });
    group.bench_function("datafusion", |b| b.iter(|| rows(&run_sql(sql))));
    group.bench_function("quiver_first_100", |b| {
        b.iter(|| run_quiver(&latest_order(&decorrelated, Some(100))))
    });
    group.bench_function("quiver_without_decorrelation_first_100", |b| {
        b.iter(|| run_quiver(&latest_order(&per_key, Some(100))))
    });
    group.finish();

    let mut group = c.benchmark_group("subqueries/tree");
    let sql = descendants(&decorrelated).sql().expect("sql");
    assert_eq!(
        run_quiver(&descendants(&decorrelated)),
        rows(&run_sql(&sql))
    );
    group.bench_function("quiver", |b| {
        b.iter(|| run_quiver(&descendants(&decorrelated)))
    });
    group.bench_function("datafusion", |b| b.iter(|| rows(&run_sql(&sql))));
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
}

criterion_group! {
    name = benches;
    config = config();
    targets = subqueries
}
criterion_main!(benches);
