//! The `demo` command: a seeded shop and a tour of QuerySets over it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array, Int64Array,
    RecordBatch, StringArray, TimestampMicrosecondArray,
};
use quiver::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Options of `quiver demo`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub orders: usize,
    pub seed: u64,
    pub plans: bool,
}

impl DemoOptions {
    /// Parses `--orders N`, `--seed S`, `--no-plans`.
    pub fn parse(args: &[String]) -> Result<DemoOptions, String> {
        let mut options = DemoOptions {
            orders: 300_000,
            seed: 42,
            plans: true,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut number = |name: &str| -> Result<u64, String> {
                let text = it.next().ok_or(format!("{name} needs a value"))?;
                parse_count(text).ok_or(format!("{name}: \"{text}\" is not a number"))
            };
            match arg.as_str() {
                "--orders" => options.orders = number("--orders")? as usize,
                "--seed" => options.seed = number("--seed")?,
                "--no-plans" => options.plans = false,
                other => return Err(format!("unknown option \"{other}\" for demo")),
            }
        }
        Ok(options)
    }
}

/// Accepts `300000`, `300_000`, `3e5`.
fn parse_count(text: &str) -> Option<u64> {
    let text = text.replace('_', "");
    text.parse::<u64>().ok().or_else(|| {
        text.parse::<f64>()
            .ok()
            .filter(|v| *v >= 0.0)
            .map(|v| v as u64)
    })
}

const REGIONS: [&str; 5] = ["EU", "NA", "APAC", "LATAM", "MEA"];
const CITIES: [&str; 8] = [
    "Berlin",
    "San Diego",
    "São Paulo",
    "San Jose",
    "Tokyo",
    "Lagos",
    "Paris",
    "Austin",
];
const CATEGORIES: [&str; 6] = ["books", "garden", "games", "kitchen", "music", "tools"];
const STATUSES: [&str; 4] = ["new", "paid", "shipped", "cancelled"];
const FIRST: [&str; 8] = ["Ann", "Bo", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana"];
const LAST: [&str; 8] = [
    "Smith", "Lee", "García", "Okafor", "Novak", "Ito", "Brown", "Khan",
];

fn define_models(db: &Database) -> quiver::Result<()> {
    db.register(
        Model::new("Customer")
            .field("name", CharField::new(100))
            .field("region", CharField::new(10).null())
            .field("city", CharField::new(40))
            .field("signup", DateField::new())
            .field("is_active", BooleanField::new().default(true))
            .ordering(["name"]),
    )?;
    db.register(
        Model::new("Product")
            .field("name", CharField::new(100))
            .field("category", CharField::new(30))
            .field("price", DecimalField::new(10, 2))
            .field("stock", IntegerField::new()),
    )?;
    db.register(
        Model::new("Order")
            .field("customer", ForeignKey::new("Customer", OnDelete::Cascade))
            .field("product", ForeignKey::new("Product", OnDelete::Protect))
            .field("quantity", IntegerField::new())
            .field("unit_price", DecimalField::new(10, 2))
            .field("discount", FloatField::new().null())
            .field("status", CharField::new(12))
            .field("created", DateTimeField::new()),
    )?;
    Ok(())
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> Result<RecordBatch, String> {
    RecordBatch::try_from_iter(columns.into_iter().map(|(n, a)| (n.to_string(), a)))
        .map_err(|e| e.to_string())
}

/// Builds the seeded dataset: orders/100 customers, orders/150 products, `orders` orders.
fn load_data(db: &Database, options: &DemoOptions) -> Result<(), String> {
    let mut rng = StdRng::seed_from_u64(options.seed);
    let n_customers = (options.orders / 100).max(10);
    let n_products = (options.orders / 150).max(10);
    let day0 = 19_000; // 2022-01-08

    let customers = batch(vec![
        (
            "id",
            Arc::new(Int64Array::from_iter_values(1..=n_customers as i64)) as ArrayRef,
        ),
        (
            "name",
            Arc::new(StringArray::from_iter_values((0..n_customers).map(|i| {
                format!(
                    "{} {} {i}",
                    FIRST[i % FIRST.len()],
                    LAST[(i / 8) % LAST.len()]
                )
            }))),
        ),
        (
            "region",
            Arc::new(StringArray::from_iter((0..n_customers).map(|_| {
                let r = rng.random_range(0..REGIONS.len() + 1);
                REGIONS.get(r).copied()
            }))),
        ),
        (
            "city",
            Arc::new(StringArray::from_iter_values(
                (0..n_customers).map(|_| CITIES[rng.random_range(0..CITIES.len())]),
            )),
        ),
        (
            "signup",
            Arc::new(Date32Array::from_iter_values(
                (0..n_customers).map(|_| day0 + rng.random_range(0..900)),
            )),
        ),
        (
            "is_active",
            Arc::new(BooleanArray::from_iter(
                (0..n_customers).map(|_| Some(rng.random_bool(0.9))),
            )),
        ),
    ])?;
    let prices: Vec<i128> = (0..n_products)
        .map(|_| rng.random_range(199..50_000) as i128)
        .collect();
    let products = batch(vec![
        (
            "id",
            Arc::new(Int64Array::from_iter_values(1..=n_products as i64)) as ArrayRef,
        ),
        (
            "name",
            Arc::new(StringArray::from_iter_values(
                (0..n_products).map(|i| format!("product-{i:05}")),
            )),
        ),
        (
            "category",
            Arc::new(StringArray::from_iter_values(
                (0..n_products).map(|_| CATEGORIES[rng.random_range(0..CATEGORIES.len())]),
            )),
        ),
        (
            "price",
            Arc::new(
                Decimal128Array::from_iter_values(prices.iter().copied())
                    .with_precision_and_scale(10, 2)
                    .map_err(|e| e.to_string())?,
            ),
        ),
        (
            "stock",
            Arc::new(Int32Array::from_iter_values(
                (0..n_products).map(|_| rng.random_range(0..500)),
            )),
        ),
    ])?;
    let n = options.orders;
    let product_of: Vec<usize> = (0..n).map(|_| rng.random_range(0..n_products)).collect();
    let orders = batch(vec![
        (
            "id",
            Arc::new(Int64Array::from_iter_values(1..=n as i64)) as ArrayRef,
        ),
        (
            "customer_id",
            Arc::new(Int64Array::from_iter_values(
                (0..n).map(|_| rng.random_range(1..=n_customers as i64)),
            )),
        ),
        (
            "product_id",
            Arc::new(Int64Array::from_iter_values(
                product_of.iter().map(|p| *p as i64 + 1),
            )),
        ),
        (
            "quantity",
            Arc::new(Int32Array::from_iter_values(
                (0..n).map(|_| rng.random_range(1..=12)),
            )),
        ),
        (
            "unit_price",
            Arc::new(
                Decimal128Array::from_iter_values(product_of.iter().map(|p| prices[*p]))
                    .with_precision_and_scale(10, 2)
                    .map_err(|e| e.to_string())?,
            ),
        ),
        (
            "discount",
            Arc::new(Float64Array::from_iter((0..n).map(|_| {
                rng.random_bool(0.3)
                    .then(|| (rng.random_range(0..30) as f64) / 100.0)
            }))),
        ),
        (
            "status",
            Arc::new(StringArray::from_iter_values((0..n).map(|_| {
                let r: f64 = rng.random();
                STATUSES[if r < 0.1 {
                    0
                } else if r < 0.35 {
                    1
                } else if r < 0.95 {
                    2
                } else {
                    3
                }]
            }))),
        ),
        (
            "created",
            Arc::new(TimestampMicrosecondArray::from_iter_values((0..n).map(
                |_| {
                    (day0 as i64 + rng.random_range(0..1000)) * 86_400_000_000
                        + rng.random_range(0..86_400_000_000i64)
                },
            ))),
        ),
    ])?;
    db.load_batches("Customer", vec![customers])
        .map_err(|e| e.to_string())?;
    db.load_batches("Product", vec![products])
        .map_err(|e| e.to_string())?;
    db.load_batches("Order", vec![orders])
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// One stop of the tour: the Django spelling of the QuerySet and how to run it.
struct Stop {
    title: &'static str,
    django: &'static str,
    run: Box<dyn Fn(&Database) -> quiver::Result<Shown>>,
}

/// What a stop printed.
enum Shown {
    Rows(QuerySet),
    Value(String),
}

fn tour() -> Vec<Stop> {
    vec![
        Stop {
            title: "Filter with keyword lookups and count()",
            django: r#"Order.objects.filter(status="shipped", quantity__gte=10).count()"#,
            run: Box::new(|db| {
                let n = db
                    .objects("Order")
                    .filter(q!(status = "shipped", quantity__gte = 10))
                    .count()?;
                Ok(Shown::Value(n.to_string()))
            }),
        },
        Stop {
            title: "Q objects: OR and NOT, over a nullable column",
            django: r#"Customer.objects.filter(Q(region="EU") | Q(city__startswith="San")).exclude(is_active=False)[:5]"#,
            run: Box::new(|db| {
                Ok(Shown::Rows(
                    db.objects("Customer")
                        .filter(q!(region = "EU") | q!(city__startswith = "San"))
                        .exclude(q!(is_active = false))
                        .slice(0..5),
                ))
            }),
        },
        Stop {
            title: "F expressions and top-k: the ten largest order lines",
            django: r#"Order.objects.annotate(total=F("quantity") * F("unit_price")).order_by("-total")[:10]"#,
            run: Box::new(|db| {
                Ok(Shown::Rows(
                    db.objects("Order")
                        .annotate([("total", F("quantity") * F("unit_price"))])
                        .values(["id", "customer__name", "total"])
                        .order_by(["-total", "id"])
                        .slice(0..10),
                ))
            }),
        },
        Stop {
            title: "aggregate(): one row over the whole table",
            django: r#"Order.objects.aggregate(Sum("quantity"), Avg("unit_price"), Max("created"), Count("discount"))"#,
            run: Box::new(|db| {
                let row = db.objects("Order").aggregate([
                    Sum("quantity"),
                    Avg("unit_price"),
                    Max("created"),
                    Count("discount"),
                ])?;
                Ok(Shown::Value(row.to_string()))
            }),
        },
        Stop {
            title: "values() + annotate(): GROUP BY across a ForeignKey",
            django: r#"Order.objects.values("customer__region").annotate(revenue=Sum(F("quantity") * F("unit_price")), orders=Count("id")).order_by("-revenue")"#,
            run: Box::new(|db| {
                Ok(Shown::Rows(
                    db.objects("Order")
                        .values(["customer__region"])
                        .annotate([
                            ("revenue", Sum(F("quantity") * F("unit_price"))),
                            ("orders", Count("id")),
                        ])
                        .order_by(["-revenue"]),
                ))
            }),
        },
        Stop {
            title: "Case/When: bucket products by price",
            django: r#"Product.objects.annotate(tier=Case(When(price__gte=300, then=Value("premium")), When(price__gte=50, then=Value("standard")), default=Value("budget"))).values("tier").annotate(n=Count("id")).order_by("tier")"#,
            run: Box::new(|db| {
                let tier = Case(vec![
                    When(q!(price__gte = 300), Value("premium")),
                    When(q!(price__gte = 50), Value("standard")),
                ])
                .default(Value("budget"));
                Ok(Shown::Rows(
                    db.objects("Product")
                        .annotate([("tier", tier)])
                        .values(["tier"])
                        .annotate([("n", Count("id"))])
                        .order_by(["tier"]),
                ))
            }),
        },
        Stop {
            title: "HAVING: customers with many shipped orders",
            django: r#"Order.objects.filter(status="shipped").values("customer").annotate(n=Count("id")).filter(n__gte=8).order_by("-n", "customer")[:5]"#,
            run: Box::new(|db| {
                Ok(Shown::Rows(
                    db.objects("Order")
                        .filter(q!(status = "shipped"))
                        .values(["customer"])
                        .annotate([("n", Count("id"))])
                        .filter(q!(n__gte = 8))
                        .order_by(["-n", "customer"])
                        .slice(0..5),
                ))
            }),
        },
        Stop {
            title: "Date transforms: orders per month of 2023",
            django: r#"Order.objects.filter(created__year=2023).annotate(month=ExtractMonth("created")).values("month").annotate(n=Count("id"), revenue=Sum("unit_price")).order_by("month")"#,
            run: Box::new(|db| {
                Ok(Shown::Rows(
                    db.objects("Order")
                        .filter(q!(created__year = 2023))
                        .annotate([("month", ExtractMonth("created"))])
                        .values(["month"])
                        .annotate([("n", Count("id")), ("revenue", Sum("unit_price"))])
                        .order_by(["month"]),
                ))
            }),
        },
        Stop {
            title: "Conditional aggregation: filter= inside aggregates",
            django: r#"Product.objects.values("category").annotate(cheap=Count("id", filter=Q(price__lt=50)), in_stock=Sum("stock")).order_by("category")"#,
            run: Box::new(|db| {
                Ok(Shown::Rows(
                    db.objects("Product")
                        .values(["category"])
                        .annotate([
                            ("cheap", Count("id").filter(q!(price__lt = 50))),
                            ("in_stock", Sum("stock")),
                        ])
                        .order_by(["category"]),
                ))
            }),
        },
    ]
}

fn fmt_duration(d: Duration) -> String {
    if d.as_millis() >= 10 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    }
}

/// Runs the demo.
pub fn run(options: &DemoOptions) -> Result<(), String> {
    let db = Database::new();
    define_models(&db).map_err(|e| e.to_string())?;
    let start = Instant::now();
    load_data(&db, options)?;
    println!(
        "Loaded a seeded shop in {} (seed {}):",
        fmt_duration(start.elapsed()),
        options.seed
    );
    for usage in db.table_usage() {
        println!(
            "  {:<10} {:>9} rows  {:>8.1} MiB",
            usage.table,
            usage.rows,
            usage.bytes as f64 / (1 << 20) as f64
        );
    }
    for (i, stop) in tour().iter().enumerate() {
        println!("\n── {}. {} ──", i + 1, stop.title);
        println!(">>> {}", stop.django);
        let start = Instant::now();
        let shown = (stop.run)(&db).map_err(|e| format!("{}: {e}", e.django_name()))?;
        match shown {
            Shown::Value(text) => {
                let elapsed = start.elapsed();
                println!("{text}");
                println!("({})", fmt_duration(elapsed));
            }
            Shown::Rows(qs) => {
                let rows = qs
                    .fetch()
                    .map_err(|e| format!("{}: {e}", e.django_name()))?;
                let elapsed = start.elapsed();
                if options.plans {
                    let plan = qs.explain().map_err(|e| e.to_string())?;
                    println!("{}", plan.trim_end());
                }
                println!("{rows}");
                println!("({} rows, {})", rows.len(), fmt_duration(elapsed));
            }
        }
    }
    Ok(())
}
