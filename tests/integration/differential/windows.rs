//! Random window QuerySets against DataFusion's window functions, over the random `Item`
//! rows of `tables`.
//!
//! Each case annotates `Item` rows with one window — a ranking function, `Lag`/`Lead`, a
//! value function or an aggregate — partitioned by nothing, `category`, `owner` or `flag`
//! (NULL keys included), ordered by one or two of `qty`, `price`, `amount`, `day`, `name` in
//! every direction and NULL placement, with the default frame, a `RowRange` or (aggregates over
//! one integer key) a `ValueRange` with offsets; optionally with a plain filter before the
//! window and a filter on the window after it (Django's QUALIFY: `w <= k` or a range `lo..=k`,
//! which the rank-range fetch plans without the rows before `lo`). Both engines answer
//! `values("id", "w")`, compared as multisets.
//!
//! What is not generated: orders that leave peers where the function's value depends on the
//! order among peers (`RowNumber`, `Lag`/`Lead`, the value functions and ROWS frames get `id`
//! as the last key, as a Django user wanting a stable answer writes); frame exclusions
//! (DataFusion 55 has no `EXCLUDE`); decimal averages (DataFusion truncates the last digit
//! where Quiver rounds, see `mod.rs`); sums and averages of floats (DataFusion's sliding
//! frames subtract values leaving the frame, so a NaN that left leaves NaN behind: `avg` over
//! `[0.0, NULL]` after a NaN is NaN there, 0 in PostgreSQL and Quiver); variance over floats
//! (summation order) and over sliding frames (DataFusion's retraction leaves rounding noise).

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use quiver::prelude::*;
use quiver::QuerySet;

use super::config;
use super::tables::{self, Dataset, Floats};
use crate::datafusion_oracle::{canonical_rows, compare_multiset, run_sql};

/// A window function and its argument column.
#[derive(Debug, Clone)]
enum Function {
    RowNumber,
    Rank,
    DenseRank,
    PercentRank,
    CumeDist,
    Ntile(i64),
    Lag(&'static str, i64, bool),
    Lead(&'static str, i64, bool),
    FirstValue(&'static str),
    LastValue(&'static str),
    NthValue(&'static str, i64),
    Sum(&'static str),
    Avg(&'static str),
    Count(Option<&'static str>),
    Min(&'static str),
    Max(&'static str),
    StdDev(bool),
    Variance(bool),
}

impl Function {
    /// Whether the value depends on the order of peers (then `id` ends the ORDER BY).
    fn needs_total_order(&self) -> bool {
        matches!(
            self,
            Function::RowNumber
                | Function::Ntile(_)
                | Function::Lag(..)
                | Function::Lead(..)
                | Function::FirstValue(_)
                | Function::LastValue(_)
                | Function::NthValue(..)
        )
    }

    fn is_aggregate(&self) -> bool {
        matches!(
            self,
            Function::Sum(_)
                | Function::Avg(_)
                | Function::Count(_)
                | Function::Min(_)
                | Function::Max(_)
                | Function::StdDev(_)
                | Function::Variance(_)
        )
    }

    fn expression(&self) -> Expression {
        match self {
            Function::RowNumber => RowNumber(),
            Function::Rank => Rank(),
            Function::DenseRank => DenseRank(),
            Function::PercentRank => PercentRank(),
            Function::CumeDist => CumeDist(),
            Function::Ntile(n) => Ntile(*n),
            Function::Lag(c, n, default) => {
                let lag = Lag(*c).offset(*n);
                // DataFusion takes only a literal default.
                if *default && *c == "qty" {
                    lag.default(-1)
                } else {
                    lag
                }
            }
            Function::Lead(c, n, default) => {
                let lead = Lead(*c).offset(*n);
                // DataFusion takes only a literal default.
                if *default && *c == "qty" {
                    lead.default(-1)
                } else {
                    lead
                }
            }
            Function::FirstValue(c) => FirstValue(*c),
            Function::LastValue(c) => LastValue(*c),
            Function::NthValue(c, n) => NthValue(*c, *n),
            Function::Sum(c) => Sum(*c),
            Function::Avg(c) => Avg(*c),
            Function::Count(Some(c)) => Count(*c),
            Function::Count(None) => Count("*"),
            Function::Min(c) => Min(*c),
            Function::Max(c) => Max(*c),
            Function::StdDev(sample) => StdDev("qty").sample(*sample),
            Function::Variance(sample) => Variance("qty").sample(*sample),
        }
    }
}

/// One random window QuerySet.
#[derive(Debug, Clone)]
struct WindowSpec {
    function: Function,
    partition: Option<&'static str>,
    /// `(field, descending, nulls_first)`.
    order: Vec<(&'static str, bool, bool)>,
    frame: Option<Frame>,
    prefilter: bool,
    /// `filter(w__lte=k)`, or with `| Q(w=None)` (which the partition top-k cannot use), and
    /// `w__gte=lo` when `lo > 1` (a rank range, whose rows before `lo` are skipped).
    qualify: Option<(i64, bool, i64)>,
}

impl WindowSpec {
    fn window(&self) -> Expression {
        let mut window = Window(self.function.expression());
        if let Some(p) = self.partition {
            window = window.partition_by([p]);
        }
        if !self.order.is_empty() {
            let keys: Vec<OrderBy> = self
                .order
                .iter()
                .map(|&(field, descending, nulls_first)| {
                    let key = if descending {
                        F(field).desc()
                    } else {
                        F(field).asc()
                    };
                    if nulls_first {
                        key.nulls_first()
                    } else {
                        key.nulls_last()
                    }
                })
                .collect();
            window = window.order_by(keys);
        }
        if let Some(frame) = self.frame {
            window = window.frame(frame);
        }
        window
    }

    fn build(&self, db: &Database) -> QuerySet {
        let mut qs = db.objects("Item");
        if self.prefilter {
            qs = qs.filter(q!(category__in = vec!["a", "b", "é"]));
        }
        qs = qs.annotate([("w", self.window())]);
        match self.qualify {
            Some((k, true, _)) => qs = qs.filter(q!(w__lte = k) | q!(w = None::<i64>)),
            Some((k, false, low)) if low > 1 => qs = qs.filter(q!(w__range = (low, k))),
            Some((k, false, _)) => qs = qs.filter(q!(w__lte = k)),
            None => {}
        }
        qs.values(["id", "w"])
    }
}

fn function() -> impl Strategy<Value = Function> {
    let column = prop_oneof![
        Just("qty"),
        Just("price"),
        Just("amount"),
        Just("day"),
        Just("name")
    ];
    let numeric = prop_oneof![Just("qty"), Just("amount")];
    prop_oneof![
        Just(Function::RowNumber),
        Just(Function::Rank),
        Just(Function::DenseRank),
        Just(Function::PercentRank),
        Just(Function::CumeDist),
        (1i64..=5).prop_map(Function::Ntile),
        (column.clone(), 1i64..=3, any::<bool>()).prop_map(|(c, n, d)| Function::Lag(c, n, d)),
        (column.clone(), 1i64..=3, any::<bool>()).prop_map(|(c, n, d)| Function::Lead(c, n, d)),
        column.clone().prop_map(Function::FirstValue),
        column.clone().prop_map(Function::LastValue),
        (column.clone(), 1i64..=3).prop_map(|(c, n)| Function::NthValue(c, n)),
        numeric.clone().prop_map(Function::Sum),
        Just(Function::Avg("qty")),
        proptest::option::of(column.clone()).prop_map(Function::Count),
        column.clone().prop_map(Function::Min),
        column.prop_map(Function::Max),
        any::<bool>().prop_map(Function::StdDev),
        any::<bool>().prop_map(Function::Variance),
    ]
}

fn bound() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![1 => Just(None), 3 => (-3i64..=3).prop_map(Some)]
}

fn window_spec() -> impl Strategy<Value = WindowSpec> {
    let partition = prop_oneof![
        Just(None),
        Just(Some("category")),
        Just(Some("owner")),
        Just(Some("flag"))
    ];
    let key = (
        prop_oneof![
            Just("qty"),
            Just("price"),
            Just("amount"),
            Just("day"),
            Just("name")
        ],
        any::<bool>(),
        any::<bool>(),
    );
    (
        function(),
        partition,
        prop::collection::vec(key, 0..=2),
        0u8..4,
        (bound(), bound()),
        any::<bool>(),
        proptest::option::of((0i64..=6, any::<bool>(), 1i64..=4)),
    )
        .prop_map(
            |(function, partition, mut order, frame_kind, (a, b), prefilter, qualify)| {
                let (start, end) = match (a, b) {
                    (Some(a), Some(b)) if a > b => (Some(b), Some(a)),
                    other => other,
                };
                let mut frame = None;
                let variance = matches!(function, Function::StdDev(_) | Function::Variance(_));
                if variance {
                    // Sliding frames: DataFusion subtracts values leaving the frame, which leaves
                    // rounding noise (stddev of [-2, -2] is 3e-8 there).
                } else if frame_kind == 1 && function.is_aggregate() {
                    // ValueRange with offsets: one integer key.
                    order = vec![(
                        "qty",
                        order.first().is_some_and(|k| k.1),
                        order.first().is_some_and(|k| k.2),
                    )];
                    frame = Some(ValueRange(start.map(|s| -s.abs()), end.map(i64::abs)));
                } else if frame_kind >= 2 {
                    frame = Some(RowRange(start, end));
                }
                if function.needs_total_order() || (frame_kind >= 2 && !variance) {
                    order.push(("id", false, false));
                }
                let ranks = matches!(
                    function,
                    Function::RowNumber | Function::Rank | Function::DenseRank | Function::Ntile(_)
                );
                WindowSpec {
                    function,
                    partition,
                    order,
                    frame,
                    prefilter,
                    qualify: if ranks { qualify } else { None },
                }
            },
        )
}

fn check(dataset: &Dataset, spec: &WindowSpec) -> Result<(), String> {
    let loaded = dataset.load()?;
    let qs = spec.build(&loaded.db);
    let sql = qs.sql().map_err(|e| format!("sql(): {e}"))?;
    let quiver = qs
        .fetch()
        .map_err(|e| format!("Quiver failed: {e}\n{sql}"))?;
    let datafusion = run_sql(&loaded.datafusion_tables(), &sql)
        .map_err(|e| format!("DataFusion failed: {e}\n{sql}"))?;
    compare_multiset(
        &canonical_rows(quiver.batches()),
        &canonical_rows(&datafusion),
    )
    .map_err(|difference| format!("{difference}\nspec: {spec:?}\nSQL: {sql}\n{dataset:?}"))
}

proptest! {
    #![proptest_config(config())]

    /// Random window QuerySets agree with DataFusion running their SQL over the same data.
    #[test]
    fn windows_agree_with_datafusion(
        dataset in tables::dataset(Floats::DataFusionSafe),
        spec in window_spec(),
    ) {
        check(&dataset, &spec).map_err(TestCaseError::fail)?;
    }
}
