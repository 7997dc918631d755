//! Random QuerySets over `Owner` that aggregate across the reverse, multi-valued relation
//! `items`: the part of Django's semantics where joins multiply rows, a parent without
//! related rows must survive (LEFT JOIN, `Count` 0, `Sum` NULL), `annotate()` on model rows
//! groups by the primary key and `values()` before `annotate()` groups by the values.
//!
//! ```text
//! Owner.objects.filter(Q(items__qty__gt=3)).annotate(items__count=Count("items"), …)
//!     .values("id", "items__count", …).order_by("id")
//! Owner.objects.filter(…).values("region").annotate(…).order_by("region")
//! ```
//!
//! Each `filter()` call over `items__…` adds its own join (Django's rule for multi-valued
//! relations), so chained calls multiply rows and inflate aggregates; the differential test
//! checks that Quiver's results are those of its own SQL, and `semantics.rs` checks these
//! rules against Django. Conditions on `items__…` are never negated: Quiver refuses negations
//! across multi-valued relations until it has subqueries.

use std::fmt;

use proptest::prelude::*;
use quiver::prelude::*;
use quiver::QuerySet;

use super::querysets::{lookup, tree, AggFunc, FilterStep, Kind, Leaves, QTree, Subject};

/// `Owner`'s own fields.
const OWNER_FIELDS: [(&str, Kind); 4] = [
    ("id", Kind::Int),
    ("name", Kind::Text),
    ("region", Kind::Text),
    ("score", Kind::Int),
];

/// `Item` fields reached from `Owner` through `items`.
const ITEM_FIELDS: [(&str, Kind); 7] = [
    ("items__id", Kind::Int),
    ("items__qty", Kind::Int),
    ("items__category", Kind::Text),
    ("items__price", Kind::Float),
    ("items__amount", Kind::Decimal),
    ("items__day", Kind::Date),
    ("items__name", Kind::Text),
];

/// One aggregate across `items`: `Count("items")`, `Sum("items__qty", distinct=True)`, ….
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OwnerAggregate {
    pub func: AggFunc,
    /// `"items"` (the relation itself, for `Count`) or an `ITEM_FIELDS` path.
    pub path: &'static str,
    pub distinct: bool,
}

impl OwnerAggregate {
    /// Whether it averages decimals (compared within 1e-6, see `querysets`).
    pub fn is_decimal_average(&self) -> bool {
        self.func == AggFunc::Avg && self.path == "items__amount"
    }

    fn default_alias(&self) -> String {
        format!("{}__{}", self.path, self.func.name().to_lowercase())
    }

    fn build(&self) -> Expression {
        let aggregate = match self.func {
            AggFunc::Count => Count(self.path),
            AggFunc::Sum => Sum(self.path),
            AggFunc::Avg => Avg(self.path),
            AggFunc::Min => Min(self.path),
            AggFunc::Max => Max(self.path),
        };
        if self.distinct {
            aggregate.distinct()
        } else {
            aggregate
        }
    }
}

impl fmt::Display for OwnerAggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let distinct = if self.distinct { ", distinct=True" } else { "" };
        write!(f, "{}(\"{}\"{distinct})", self.func.name(), self.path)
    }
}

/// `Owner.objects.filter(...)…annotate(aggregates)` grouped by the key or by `region`.
#[derive(Clone, PartialEq)]
pub struct OwnerSpec {
    pub filters: Vec<FilterStep>,
    pub group_by_region: bool,
    pub aggregates: Vec<OwnerAggregate>,
}

impl OwnerSpec {
    /// The aggregates' result names: default aliases, `g<i>` where two would collide.
    pub fn aggregate_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for (index, aggregate) in self.aggregates.iter().enumerate() {
            let alias = aggregate.default_alias();
            names.push(if names.contains(&alias) {
                format!("g{index}")
            } else {
                alias
            });
        }
        names
    }

    /// The output column names Django gives it.
    pub fn expected_names(&self) -> Vec<String> {
        let key = if self.group_by_region { "region" } else { "id" };
        std::iter::once(key.to_owned())
            .chain(self.aggregate_names())
            .collect()
    }

    /// The QuerySet; its order (`id` or `region`, unique per row) is total.
    pub fn build(&self, db: &Database) -> QuerySet {
        let mut qs = db.objects("Owner");
        for step in &self.filters {
            qs = if step.exclude {
                qs.exclude(step.q.build())
            } else {
                qs.filter(step.q.build())
            };
        }
        let annotations: Vec<(String, Expression)> = self
            .aggregate_names()
            .into_iter()
            .zip(&self.aggregates)
            .map(|(name, aggregate)| (name, aggregate.build()))
            .collect();
        let names = self.aggregate_names();
        if self.group_by_region {
            qs.values(["region"])
                .annotate(annotations)
                .order_by(["region"])
        } else {
            let columns: Vec<String> = std::iter::once("id".to_owned()).chain(names).collect();
            qs.annotate(annotations).values(columns).order_by(["id"])
        }
    }
}

/// Django's spelling.
impl fmt::Display for OwnerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Owner.objects")?;
        for step in &self.filters {
            let method = if step.exclude { "exclude" } else { "filter" };
            write!(f, ".{method}({})", step.q)?;
        }
        let aggregates: Vec<String> = self
            .aggregate_names()
            .iter()
            .zip(&self.aggregates)
            .map(|(name, aggregate)| format!("{name}={aggregate}"))
            .collect();
        let aggregates = aggregates.join(", ");
        if self.group_by_region {
            write!(
                f,
                ".values(\"region\").annotate({aggregates}).order_by(\"region\")"
            )
        } else {
            let names: Vec<String> = self
                .aggregate_names()
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect();
            write!(
                f,
                ".annotate({aggregates}).values(\"id\", {}).order_by(\"id\")",
                names.join(", ")
            )
        }
    }
}

impl fmt::Debug for OwnerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

fn leaf(fields: &'static [(&'static str, Kind)]) -> BoxedStrategy<QTree> {
    prop::sample::select(fields)
        .prop_flat_map(|(path, kind)| {
            let subject = Subject::Path(path, kind);
            lookup(subject, Leaves::Any).prop_map(move |l| QTree::Leaf(subject, l))
        })
        .boxed()
}

/// One `filter()` or `exclude()` call: a Q tree over the owner's fields, or a positive
/// condition (one lookup, or an AND/OR of two) across `items`.
fn owner_filter() -> BoxedStrategy<FilterStep> {
    let own = tree(leaf(&OWNER_FIELDS), 2);
    let across = prop_oneof![
        2 => leaf(&ITEM_FIELDS),
        1 => prop::collection::vec(leaf(&ITEM_FIELDS), 2).prop_map(QTree::And),
        1 => (leaf(&ITEM_FIELDS), leaf(&OWNER_FIELDS)).prop_map(|(a, b)| QTree::Or(vec![a, b])),
    ];
    prop_oneof![
        (prop::bool::weighted(0.3), own).prop_map(|(exclude, q)| FilterStep { exclude, q }),
        across.prop_map(|q| FilterStep { exclude: false, q }),
    ]
    .boxed()
}

fn owner_aggregate() -> impl Strategy<Value = OwnerAggregate> {
    let funcs = vec![
        AggFunc::Count,
        AggFunc::Sum,
        AggFunc::Avg,
        AggFunc::Min,
        AggFunc::Max,
    ];
    (
        prop::sample::select(funcs),
        prop::sample::select(ITEM_FIELDS.to_vec()),
        prop::bool::weighted(0.25),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(func, (path, kind), distinct, relation)| {
            // Count may count the relation itself; Sum/Avg need numbers; Min/Max take no
            // floats (DataFusion's NaN handling, see `querysets`).
            let path = match func {
                AggFunc::Count if relation => "items",
                AggFunc::Sum | AggFunc::Avg
                    if !matches!(kind, Kind::Int | Kind::Float | Kind::Decimal) =>
                {
                    "items__qty"
                }
                AggFunc::Min | AggFunc::Max if kind == Kind::Float => "items__qty",
                _ => path,
            };
            OwnerAggregate {
                func,
                path,
                // Min and Max refuse distinct=.
                distinct: distinct && matches!(func, AggFunc::Count | AggFunc::Sum | AggFunc::Avg),
            }
        })
}

/// A random aggregating QuerySet over `Owner`.
pub fn owner_queryset() -> impl Strategy<Value = OwnerSpec> {
    let filters = prop_oneof![
        2 => Just(Vec::new()),
        3 => prop::collection::vec(owner_filter(), 1),
        1 => prop::collection::vec(owner_filter(), 2),
    ];
    (
        filters,
        any::<bool>(),
        prop::collection::vec(owner_aggregate(), 1..=3),
    )
        .prop_map(|(filters, group_by_region, aggregates)| OwnerSpec {
            filters,
            group_by_region,
            aggregates,
        })
}
