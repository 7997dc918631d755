//! Random data for the differential and metamorphic tests: two models, `Owner` and `Item`
//! (with a nullable `ForeignKey` from `Item` to `Owner`), and proptest strategies for their
//! rows.
//!
//! The rows are built to hit the places engines get wrong: NULL in every nullable column,
//! negative numbers, many duplicates (values come from small pools), empty tables, strings
//! with non-ASCII letters whose case mapping is not one-to-one (`ß`, `É`), emoji, and the
//! LIKE metacharacters `%` and `_`, and floats with NaN and infinities. Floats are multiples
//! of 0.25, so sums are exact whatever order an engine adds in, and comparing float results
//! needs no tolerance beyond what `values_match` gives.
//!
//! The same Arrow batches go to Quiver (`Database::load_batches`) and to DataFusion (as
//! `MemTable`s named after the models' tables), so both engines see identical data, ids
//! included.

use std::fmt;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array, Int64Array,
    StringArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use proptest::prelude::*;
use quiver::prelude::*;

/// Owner names (not null) and item names (nullable): duplicates, case pairs, non-ASCII
/// letters whose upper or lower case is longer (`ß` → `SS`), emoji, LIKE metacharacters.
pub const TEXTS: &[&str] = &[
    "", "a", "A", "ab", "Ab", "abc", "b", "ß", "straße", "STRASSE", "É", "é", "école", "ÉCOLE",
    "😀", "a😀b", "a%b", "a_b", "x y", "zz",
];

/// Item categories (not null): few values, so grouping makes real groups.
pub const CATEGORIES: &[&str] = &["a", "b", "B", "é", "ß"];

/// Owner regions (nullable).
pub const REGIONS: &[&str] = &["EU", "US", "eu", "", "Ünï"];

/// The first day items are dated from (2022-01-01, days since the epoch); days spread over
/// about three months.
pub const FIRST_DAY: i32 = 18_993;

/// Which floats a dataset may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Floats {
    /// No `-0.0` and no infinities. DataFusion orders `-0.0` before `0.0` (IEEE
    /// totalOrder) where PostgreSQL, and so Quiver, treats them as equal (peers in ORDER BY);
    /// and `inf - inf` or `0 * inf` yield the *negative* NaN on x86, which DataFusion sorts
    /// and compares below every number where PostgreSQL has one NaN above them all. NaN
    /// itself stays: the positive quiet NaN, which both engines sort above every number,
    /// compare equal to itself and group together, and which arithmetic propagates as is.
    DataFusionSafe,
    /// Everything, `-0.0` included: for checks inside Quiver only.
    All,
}

/// One `Owner` row.
#[derive(Clone, PartialEq)]
pub struct OwnerRow {
    pub id: i64,
    pub name: String,
    pub region: Option<String>,
    pub score: i64,
}

/// One `Item` row. `amount` is in cents (a `DecimalField(10, 2)`), `day` in days since the
/// epoch.
#[derive(Clone, PartialEq)]
pub struct ItemRow {
    pub id: i64,
    pub name: Option<String>,
    pub category: String,
    pub qty: Option<i32>,
    pub price: Option<f64>,
    pub amount: Option<i128>,
    pub day: Option<i32>,
    pub flag: Option<bool>,
    pub owner_id: Option<i64>,
}

/// The rows of both tables, and where the item rows are cut into batches.
#[derive(Clone)]
pub struct Dataset {
    pub owners: Vec<OwnerRow>,
    pub items: Vec<ItemRow>,
    /// Item batch boundaries (row counts of each batch but the last), so multi-batch and
    /// batch-edge paths run.
    pub item_cuts: Vec<usize>,
}

/// The two models, as Django would declare them:
///
/// ```text
/// class Owner(Model):
///     name = CharField(max_length=50)
///     region = CharField(max_length=10, null=True)
///     score = BigIntegerField()
///
/// class Item(Model):
///     name = CharField(max_length=50, null=True)
///     category = CharField(max_length=10)
///     qty = IntegerField(null=True)
///     price = FloatField(null=True, db_index=True)  # float index paths against DataFusion
///     amount = DecimalField(max_digits=10, decimal_places=2, null=True)
///     day = DateField(null=True)
///     flag = BooleanField(null=True)
///     owner = ForeignKey(Owner, SET_NULL, null=True, related_name="items")
/// ```
pub fn models() -> [Model; 2] {
    [
        Model::new("Owner")
            .field("name", CharField::new(50))
            .field("region", CharField::new(10).null())
            .field("score", BigIntegerField::new()),
        Model::new("Item")
            .field("name", CharField::new(50).null())
            .field("category", CharField::new(10))
            .field("qty", IntegerField::new().null())
            .field("price", FloatField::new().null().db_index())
            .field("amount", DecimalField::new(10, 2).null())
            .field("day", DateField::new().null())
            .field("flag", BooleanField::new().null())
            .field(
                "owner",
                ForeignKey::new("Owner", OnDelete::SetNull)
                    .null()
                    .related_name("items"),
            ),
    ]
}

/// A table as DataFusion gets it: name, schema, batches.
pub type DataFusionTable = (String, SchemaRef, Vec<RecordBatch>);

/// A dataset loaded into a fresh Quiver database, and the same batches for DataFusion.
pub struct Loaded {
    pub db: Database,
    pub tables: Vec<DataFusionTable>,
}

impl Loaded {
    /// The tables in the shape `run_sql` takes.
    pub fn datafusion_tables(&self) -> Vec<(&str, SchemaRef, Vec<RecordBatch>)> {
        self.tables
            .iter()
            .map(|(name, schema, batches)| (name.as_str(), Arc::clone(schema), batches.clone()))
            .collect()
    }
}

impl Dataset {
    /// Registers the models in a new database and loads the rows.
    pub fn load(&self) -> Result<Loaded, String> {
        let db = Database::new();
        for model in models() {
            db.register(model)
                .map_err(|error| format!("register: {error}"))?;
        }
        let owners = vec![self.owner_batch()];
        let items = self.item_batches();
        let mut tables = Vec::new();
        for (model, batches) in [("Owner", owners), ("Item", items)] {
            let table = db
                .model(model)
                .map_err(|error| format!("model {model}: {error}"))?
                .table_name();
            let schema = batches[0].schema();
            db.load_batches(model, batches.clone())
                .map_err(|error| format!("load {model}: {error}"))?;
            tables.push((table, schema, batches));
        }
        Ok(Loaded { db, tables })
    }

    fn owner_batch(&self) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, false),
            Field::new("region", DataType::Utf8, true),
            Field::new("score", DataType::Int64, false),
        ]));
        let rows = &self.owners;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.id))),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.name.as_str()),
            )),
            Arc::new(StringArray::from_iter(
                rows.iter().map(|r| r.region.as_deref()),
            )),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.score))),
        ];
        batch(schema, columns)
    }

    fn item_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("category", DataType::Utf8, false),
            Field::new("qty", DataType::Int32, true),
            Field::new("price", DataType::Float64, true),
            Field::new("amount", DataType::Decimal128(10, 2), true),
            Field::new("day", DataType::Date32, true),
            Field::new("flag", DataType::Boolean, true),
            Field::new("owner_id", DataType::Int64, true),
        ]))
    }

    fn item_batches(&self) -> Vec<RecordBatch> {
        let mut batches = Vec::new();
        let mut start = 0;
        for &cut in self.item_cuts.iter().chain([&self.items.len()]) {
            let end = cut.clamp(start, self.items.len());
            if end > start || batches.is_empty() && end == self.items.len() {
                batches.push(Self::item_batch(&self.items[start..end]));
            }
            start = end;
        }
        batches
    }

    fn item_batch(rows: &[ItemRow]) -> RecordBatch {
        let amounts = Decimal128Array::from_iter(rows.iter().map(|r| r.amount))
            .with_precision_and_scale(10, 2)
            .unwrap_or_else(|error| panic!("DECIMAL(10, 2) is a valid type: {error}"));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.id))),
            Arc::new(StringArray::from_iter(
                rows.iter().map(|r| r.name.as_deref()),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.category.as_str()),
            )),
            Arc::new(Int32Array::from_iter(rows.iter().map(|r| r.qty))),
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.price))),
            Arc::new(amounts),
            Arc::new(Date32Array::from_iter(rows.iter().map(|r| r.day))),
            Arc::new(BooleanArray::from_iter(rows.iter().map(|r| r.flag))),
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.owner_id))),
        ];
        batch(Self::item_schema(), columns)
    }
}

fn batch(schema: SchemaRef, columns: Vec<ArrayRef>) -> RecordBatch {
    RecordBatch::try_new(schema, columns)
        .unwrap_or_else(|error| panic!("generated columns match their schema: {error}"))
}

/// `Some(value)` most of the time, NULL one time in `one_in`.
fn nullable<T: fmt::Debug + Clone + 'static>(
    value: impl Strategy<Value = T> + 'static,
    one_in: u32,
) -> BoxedStrategy<Option<T>> {
    prop_oneof![
        1 => Just(None),
        one_in.saturating_sub(1).max(1) => value.prop_map(Some),
    ]
    .boxed()
}

fn text(pool: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    prop::sample::select(pool).prop_map(str::to_owned)
}

/// A price: a multiple of 0.25 in [-10, 10], sometimes NaN, and `-0.0` and ±infinity when
/// `floats` allows them.
pub fn price(floats: Floats) -> BoxedStrategy<f64> {
    let quarters = (-40i32..=40).prop_map(|k| f64::from(k) * 0.25);
    match floats {
        Floats::DataFusionSafe => prop_oneof![
            12 => quarters,
            1 => Just(f64::NAN),
        ]
        .boxed(),
        Floats::All => prop_oneof![
            12 => quarters,
            1 => Just(f64::NAN),
            1 => prop::sample::select(vec![f64::INFINITY, f64::NEG_INFINITY]),
            2 => Just(-0.0),
        ]
        .boxed(),
    }
}

/// An amount in cents: mostly multiples of 25 cents in [-20, 20] (duplicates), sometimes any
/// cent value in that range.
fn amount() -> impl Strategy<Value = i128> {
    prop_oneof![4 => (-80i128..=80).prop_map(|k| k * 25), 1 => -2_000i128..=2_000]
}

/// A dataset: 0–5 owners and 0–40 items (an empty table about one time in eight), ids
/// 1..=n in insertion order, every foreign key pointing at an existing owner or NULL.
pub fn dataset(floats: Floats) -> impl Strategy<Value = Dataset> {
    let owner_count = prop_oneof![1 => Just(0usize), 7 => 1usize..=5];
    let item_count = prop_oneof![1 => Just(0usize), 7 => 1usize..=40];
    (owner_count, item_count).prop_flat_map(move |(owners, items)| {
        let owner = (text(TEXTS), nullable(text(REGIONS), 4), -50i64..=50);
        let owner_id = if owners == 0 {
            Just(None).boxed()
        } else {
            nullable(1..=owners as i64, 4)
        };
        let item = (
            nullable(text(TEXTS), 5),
            text(CATEGORIES),
            nullable(-20i32..=20, 5),
            nullable(price(floats), 5),
            nullable(amount(), 5),
            nullable(FIRST_DAY..FIRST_DAY + 90, 5),
            nullable(any::<bool>(), 4),
            owner_id,
        );
        (
            prop::collection::vec(owner, owners),
            prop::collection::vec(item, items),
            prop::collection::vec(0..=items, 0..3),
        )
            .prop_map(|(owners, items, mut cuts)| {
                cuts.sort_unstable();
                Dataset {
                    owners: owners
                        .into_iter()
                        .zip(1..)
                        .map(|((name, region, score), id)| OwnerRow {
                            id,
                            name,
                            region,
                            score,
                        })
                        .collect(),
                    items: items
                        .into_iter()
                        .zip(1..)
                        .map(
                            |((name, category, qty, price, amount, day, flag, owner_id), id)| {
                                ItemRow {
                                    id,
                                    name,
                                    category,
                                    qty,
                                    price,
                                    amount,
                                    day,
                                    flag,
                                    owner_id,
                                }
                            },
                        )
                        .collect(),
                    item_cuts: cuts,
                }
            })
    })
}

fn option<T: fmt::Debug>(value: &Option<T>) -> String {
    value
        .as_ref()
        .map_or_else(|| "None".to_owned(), |v| format!("{v:?}"))
}

/// The rows as Python `create()` calls would list them, one per line, so a shrunk failure
/// reads as a fixture.
impl fmt::Debug for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Dataset (item batches cut at {:?}):", self.item_cuts)?;
        for o in &self.owners {
            writeln!(
                f,
                "  Owner(id={}, name={:?}, region={}, score={})",
                o.id,
                o.name,
                option(&o.region),
                o.score
            )?;
        }
        for i in &self.items {
            let amount = i.amount.map_or_else(
                || "None".to_owned(),
                |cents| {
                    let sign = if cents < 0 { "-" } else { "" };
                    let cents = cents.unsigned_abs();
                    format!("Decimal(\"{sign}{}.{:02}\")", cents / 100, cents % 100)
                },
            );
            let day = i.day.map_or_else(
                || "None".to_owned(),
                |days| format!("date({})", date_text(days)),
            );
            writeln!(
                f,
                "  Item(id={}, name={}, category={:?}, qty={}, price={}, amount={amount}, day={day}, flag={}, owner_id={})",
                i.id,
                option(&i.name),
                i.category,
                option(&i.qty),
                option(&i.price),
                option(&i.flag),
                option(&i.owner_id)
            )?;
        }
        Ok(())
    }
}

/// `2022, 1, 5` for a day number.
pub fn date_text(days: i32) -> String {
    naive_date(days).format("%Y, %-m, %-d").to_string()
}

/// The date of a day number.
pub fn naive_date(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days + 719_163)
        .unwrap_or_else(|| panic!("{days} days from the epoch is a date"))
}
