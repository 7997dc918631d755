//! The H2O questions as QuerySets next to the SQL DataFusion runs for them, in one place so
//! the criterion suites, the agreement tests and a command-line runner all time and check
//! the same thing.
//!
//! Group-by (`/work/shared/bench/h2o.md`): table `x` is the model `X`; q1–q10 are
//! `values(...).annotate(...)` QuerySets (q8 a `RowNumber` window filtered to `<= 2`).
//! Annotation names get a prefix where Django would refuse one that shadows a field (`v1`).
//!
//! Join: the left table is the model `JoinX`, whose integer key columns are ForeignKeys with
//! `to_field` (and `db_column`, so the batches keep the benchmark's column names) pointing at
//! the unique key of `Small`, `Medium` and `Big`; j1–j5 are `values()` QuerySets that follow
//! those relations (an INNER join where the relation is required, as `select_related`
//! would read it, and a LEFT join for j3's nullable relation).

use arrow::record_batch::RecordBatch;
use quiver::prelude::{
    q, Avg, BigIntegerField, CharField, Corr, Count, Database, FloatField, ForeignKey,
    IntegerField, Max, Median, Min, Model, OnDelete, Power, QuerySet, RowNumber, SessionConfig,
    StdDev, Sum, Window, F,
};

use crate::h2o::JoinTables;

/// The group-by questions, in the SQL form DataFusion runs (`h2o.md`).
pub const GROUPBY_QUESTIONS: [(&str, &str); 10] = [
    ("q1", "SELECT id1, sum(v1) AS v1 FROM x GROUP BY id1"),
    (
        "q2",
        "SELECT id1, id2, sum(v1) AS v1 FROM x GROUP BY id1, id2",
    ),
    (
        "q3",
        "SELECT id3, sum(v1) AS v1, avg(v3) AS v3 FROM x GROUP BY id3",
    ),
    (
        "q4",
        "SELECT id4, avg(v1) AS v1, avg(v2) AS v2, avg(v3) AS v3 FROM x GROUP BY id4",
    ),
    (
        "q5",
        "SELECT id6, sum(v1) AS v1, sum(v2) AS v2, sum(v3) AS v3 FROM x GROUP BY id6",
    ),
    (
        "q6",
        "SELECT id4, id5, median(v3) AS median_v3, stddev(v3) AS sd_v3 FROM x GROUP BY id4, id5",
    ),
    (
        "q7",
        "SELECT id3, max(v1) - min(v2) AS range_v1_v2 FROM x GROUP BY id3",
    ),
    (
        "q8",
        "SELECT id6, v3 AS largest2_v3 FROM (SELECT id6, v3, row_number() OVER (PARTITION BY id6 \
         ORDER BY v3 DESC) AS order_v3 FROM x WHERE v3 IS NOT NULL) AS sub_query \
         WHERE order_v3 <= 2",
    ),
    (
        "q9",
        "SELECT id2, id4, power(corr(v1, v2), 2) AS r2 FROM x GROUP BY id2, id4",
    ),
    (
        "q10",
        "SELECT id1, id2, id3, id4, id5, id6, sum(v3) AS v3, count(*) AS count FROM x \
         GROUP BY id1, id2, id3, id4, id5, id6",
    ),
];

/// The join questions, in the SQL form DataFusion runs (`h2o.md`), over tables `x`, `small`,
/// `medium` and `big`.
pub const JOIN_QUESTIONS: [(&str, &str); 5] = [
    (
        "j1",
        "SELECT x.*, small.id4 AS small_id4, small.v2 FROM x JOIN small ON x.id1 = small.id1",
    ),
    (
        "j2",
        "SELECT x.*, medium.id1 AS medium_id1, medium.id4 AS medium_id4, medium.id5 AS \
         medium_id5, medium.v2 FROM x JOIN medium ON x.id2 = medium.id2",
    ),
    (
        "j3",
        "SELECT x.*, medium.id1 AS medium_id1, medium.id4 AS medium_id4, medium.id5 AS \
         medium_id5, medium.v2 FROM x LEFT JOIN medium ON x.id2 = medium.id2",
    ),
    (
        "j4",
        "SELECT x.*, medium.id1 AS medium_id1, medium.id4 AS medium_id4, medium.id5 AS \
         medium_id5, medium.v2 FROM x JOIN medium ON x.id5 = medium.id5",
    ),
    (
        "j5",
        "SELECT x.*, big.id1 AS big_id1, big.id2 AS big_id2, big.id4 AS big_id4, big.id5 AS \
         big_id5, big.id6 AS big_id6, big.v2 FROM x JOIN big ON x.id3 = big.id3",
    ),
];

/// The H2O table `x` as a Quiver model: id1/id2 are dictionary-encoded strings (as DuckDB's
/// ENUM; the batches DataFusion reads are dictionary-encoded too), in a database with `config`.
pub fn groupby_database(
    batches: &[RecordBatch],
    config: SessionConfig,
) -> quiver::Result<Database> {
    let db = Database::with_config(config);
    db.register(
        Model::new("X")
            .db_table("x")
            .field("id1", CharField::new(5).dictionary())
            .field("id2", CharField::new(5).dictionary())
            .field("id3", CharField::new(12))
            .field("id4", IntegerField::new())
            .field("id5", IntegerField::new())
            .field("id6", IntegerField::new())
            .field("v1", IntegerField::new())
            .field("v2", IntegerField::new())
            .field("v3", FloatField::new()),
    )?;
    db.load_batches("X", batches.to_vec())?;
    Ok(db)
}

/// Each group-by question as a QuerySet (the Django spelling is in the comment); `None` for
/// a name that is not one.
pub fn groupby_queryset(db: &Database, question: &str) -> Option<QuerySet> {
    let x = db.objects("X");
    Some(match question {
        // X.objects.values("id1").annotate(sum_v1=Sum("v1"))
        "q1" => x.values(["id1"]).annotate([("sum_v1", Sum("v1"))]),
        // X.objects.values("id1", "id2").annotate(sum_v1=Sum("v1"))
        "q2" => x.values(["id1", "id2"]).annotate([("sum_v1", Sum("v1"))]),
        // X.objects.values("id3").annotate(sum_v1=Sum("v1"), mean_v3=Avg("v3"))
        "q3" => x
            .values(["id3"])
            .annotate([("sum_v1", Sum("v1")), ("mean_v3", Avg("v3"))]),
        // X.objects.values("id4").annotate(mean_v1=Avg("v1"), mean_v2=Avg("v2"), mean_v3=Avg("v3"))
        "q4" => x.values(["id4"]).annotate([
            ("mean_v1", Avg("v1")),
            ("mean_v2", Avg("v2")),
            ("mean_v3", Avg("v3")),
        ]),
        // X.objects.values("id6").annotate(sum_v1=Sum("v1"), sum_v2=Sum("v2"), sum_v3=Sum("v3"))
        "q5" => x.values(["id6"]).annotate([
            ("sum_v1", Sum("v1")),
            ("sum_v2", Sum("v2")),
            ("sum_v3", Sum("v3")),
        ]),
        // X.objects.values("id4", "id5").annotate(median_v3=Median("v3"),
        //     sd_v3=StdDev("v3", sample=True))
        "q6" => x.values(["id4", "id5"]).annotate([
            ("median_v3", Median("v3")),
            ("sd_v3", StdDev("v3").sample(true)),
        ]),
        // X.objects.values("id3").annotate(range_v1_v2=Max("v1") - Min("v2"))
        "q7" => x
            .values(["id3"])
            .annotate([("range_v1_v2", Max("v1") - Min("v2"))]),
        // X.objects.filter(v3__isnull=False).annotate(order_v3=Window(RowNumber(),
        //     partition_by="id6", order_by=F("v3").desc())).filter(order_v3__lte=2)
        //     .values("id6", "v3")
        "q8" => x
            .filter(q!(v3__isnull = false))
            .annotate([(
                "order_v3",
                Window(RowNumber())
                    .partition_by(["id6"])
                    .order_by([F("v3").desc()]),
            )])
            .filter(q!(order_v3__lte = 2))
            .values(["id6", "v3"]),
        // X.objects.values("id2", "id4").annotate(r2=Power(Corr("v1", "v2"), 2))
        "q9" => x
            .values(["id2", "id4"])
            .annotate([("r2", Power(Corr("v1", "v2"), 2))]),
        // X.objects.values("id1", "id2", "id3", "id4", "id5", "id6")
        //     .annotate(sum_v3=Sum("v3"), count=Count("*"))
        "q10" => x
            .values(["id1", "id2", "id3", "id4", "id5", "id6"])
            .annotate([("sum_v3", Sum("v3")), ("count", Count("*"))]),
        _ => return None,
    })
}

/// The join tables as models — the left table `JoinX` points at each right-hand table's
/// unique key with a `to_field` ForeignKey — loaded with `tables`' batches, in a database
/// with `config`.
///
/// ```text
/// class Small(Model):  id1 = BigIntegerField(unique=True); id4 = CharField(); v2 = FloatField()
/// class Medium(Model): id1 = BigIntegerField(); id2 = BigIntegerField(unique=True)
///                      id4 = CharField(); id5 = CharField(unique=True); v2 = FloatField()
/// class Big(Model):    id1, id2 = BigIntegerField(); id3 = BigIntegerField(unique=True)
///                      id4, id5, id6 = CharField(); v2 = FloatField()
/// class JoinX(Model):
///     # H2O's x holds keys its dimension tables lack: no FOREIGN KEY constraints.
///     small = ForeignKey(Small, DO_NOTHING, to_field="id1", db_column="id1", db_constraint=False)
///     medium = ForeignKey(Medium, DO_NOTHING, to_field="id2", db_column="id2", null=True,
///                         db_constraint=False)
///     big = ForeignKey(Big, DO_NOTHING, to_field="id3", db_column="id3", db_constraint=False)
///     id4 = CharField(); id5 = CharField(); id6 = CharField(); v1 = FloatField()
/// ```
///
/// j4 joins on the string key `id5`, which `JoinX` holds as a plain column: Django cannot put
/// two ForeignKeys on one column, so j4 is `JoinX.objects.filter(id5=...)`-free: it goes
/// through `medium` like j2 (the key pairs id2 ↔ id5 = "id" ‖ id2 are one-to-one, so the
/// rows are the same) — see [`join_queryset`].
pub fn join_database(tables: &JoinTables, config: SessionConfig) -> quiver::Result<Database> {
    let db = Database::with_config(config);
    db.register(
        Model::new("Small")
            .db_table("small")
            .field("id1", BigIntegerField::new().unique())
            .field("id4", CharField::new(32))
            .field("v2", FloatField::new()),
    )?;
    db.register(
        Model::new("Medium")
            .db_table("medium")
            .field("id1", BigIntegerField::new())
            .field("id2", BigIntegerField::new().unique())
            .field("id4", CharField::new(32))
            .field("id5", CharField::new(32).unique())
            .field("v2", FloatField::new()),
    )?;
    db.register(
        Model::new("Big")
            .db_table("big")
            .field("id1", BigIntegerField::new())
            .field("id2", BigIntegerField::new())
            .field("id3", BigIntegerField::new().unique())
            .field("id4", CharField::new(32))
            .field("id5", CharField::new(32))
            .field("id6", CharField::new(32))
            .field("v2", FloatField::new()),
    )?;
    db.register(
        Model::new("JoinX")
            .db_table("x")
            .field(
                "small",
                ForeignKey::new("Small", OnDelete::DoNothing)
                    .to_field("id1")
                    .db_column("id1")
                    .db_constraint(false),
            )
            .field(
                "medium",
                ForeignKey::new("Medium", OnDelete::DoNothing)
                    .to_field("id2")
                    .db_column("id2")
                    .db_constraint(false)
                    .null(),
            )
            .field(
                "big",
                ForeignKey::new("Big", OnDelete::DoNothing)
                    .to_field("id3")
                    .db_column("id3")
                    .db_constraint(false),
            )
            .field("id4", CharField::new(32))
            .field("id5", CharField::new(32))
            .field("id6", CharField::new(32))
            .field("v1", FloatField::new()),
    )?;
    for (model, table) in [
        ("Small", &tables.small),
        ("Medium", &tables.medium),
        ("Big", &tables.big),
        ("JoinX", &tables.x),
    ] {
        db.load_batches(model, table.batches.clone())?;
    }
    Ok(db)
}

/// The left table's own columns, as `x.*` lists them.
const X_COLUMNS: [&str; 7] = ["small", "medium", "big", "id4", "id5", "id6", "v1"];

/// Each join question as a QuerySet; `None` for a name that is not one.
///
/// j1, j2, j4 and j5 are inner joins: each keeps the matched rows with
/// `filter(rel__v2__isnull=False)` (v2 is never NULL). Django would join the required
/// `small` and `big` INNER by itself, but Quiver's `values()` joins every forward relation
/// LEFT today (about 10% of `x` has no partner), so the filter is spelled out; for the
/// nullable `medium` Django needs it too (`medium__isnull` would not do: Django answers it
/// from `x.id2` alone, without the join). j3 is the LEFT join of the nullable `medium`. j4 joins `medium` on the
/// string key `id5` in the SQL; the QuerySet reaches the same rows through `medium` (id2),
/// because a model cannot hold a second ForeignKey on the same column (see
/// [`join_database`]).
pub fn join_queryset(db: &Database, question: &str) -> Option<QuerySet> {
    let x = db.objects("JoinX");
    let with = |related: &[&str]| {
        let mut columns: Vec<String> = X_COLUMNS.iter().map(|c| c.to_string()).collect();
        columns.extend(related.iter().map(|c| c.to_string()));
        columns
    };
    let medium = ["medium__id1", "medium__id4", "medium__id5", "medium__v2"];
    Some(match question {
        // JoinX.objects.filter(small__v2__isnull=False).values(*x, "small__id4", "small__v2")
        "j1" => x
            .filter(q!(small__v2__isnull = false))
            .values(with(&["small__id4", "small__v2"])),
        // JoinX.objects.filter(medium__v2__isnull=False).values(*x, "medium__id1", ...)
        "j2" | "j4" => x
            .filter(q!(medium__v2__isnull = false))
            .values(with(&medium)),
        // JoinX.objects.values(*x, "medium__id1", ...): LEFT join of the nullable relation
        "j3" => x.values(with(&medium)),
        // JoinX.objects.filter(big__v2__isnull=False).values(*x, "big__id1", "big__id2", ...)
        "j5" => x.filter(q!(big__v2__isnull = false)).values(with(&[
            "big__id1", "big__id2", "big__id4", "big__id5", "big__id6", "big__v2",
        ])),
        _ => return None,
    })
}
