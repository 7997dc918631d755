//! [`QuerySet`]: an immutable record of what was asked, built by chaining.
//!
//! Every chain method (`filter`, `annotate`, `order_by`, `values`, slicing, …) clones the
//! QuerySet and records the request *unresolved*: Q trees and expressions stay as the user
//! wrote them, in call order. Nothing is looked up until the QuerySet is evaluated, when one
//! pure pass ([`compiler`](super::compiler)) turns the record into a logical plan. That is
//! the design lesson of Django's `sql.Query`, which resolves names and creates joins eagerly
//! inside `filter()` and then has to relabel and reuse them.
//!
//! Chain methods are infallible, like Django's, which raises misuse errors (filtering a
//! sliced QuerySet, negative indexing) at the call: here the first such error is kept in the
//! QuerySet and returned when it is evaluated.

use std::collections::BTreeSet;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::ops::{Bound, RangeBounds};

use crate::database::Database;
use crate::error::Error;
use crate::expressions::{Expression, OrderBy, Q};

/// One `order_by()` item: a field path (`"-amount"`, `"customer__name"`, `"?"` for random), or an
/// ordering expression (`F("amount").desc()`).
#[derive(Debug, Clone)]
pub enum OrderItem {
    /// `"name"`, `"-name"`, `"customer__region"`, `"?"`.
    Field(String),
    /// An expression with its direction and NULL placement.
    Expression(OrderBy),
    /// `"?"` with the seed of its pseudo-random order.
    Random(u64),
}

impl From<&str> for OrderItem {
    fn from(name: &str) -> Self {
        OrderItem::Field(name.to_string())
    }
}

impl From<String> for OrderItem {
    fn from(name: String) -> Self {
        OrderItem::Field(name)
    }
}

impl From<&String> for OrderItem {
    fn from(name: &String) -> Self {
        OrderItem::Field(name.clone())
    }
}

impl From<OrderBy> for OrderItem {
    fn from(order: OrderBy) -> Self {
        OrderItem::Expression(order)
    }
}

/// One `aggregate()` argument: an aggregate expression and its result name (`None`: the
/// expression's default alias, `amount__sum`).
#[derive(Debug, Clone)]
pub struct AggregateArg {
    /// The result name; `None` uses the expression's default alias.
    pub alias: Option<String>,
    /// The aggregate expression.
    pub expression: Expression,
}

impl From<Expression> for AggregateArg {
    fn from(expression: Expression) -> Self {
        AggregateArg {
            alias: None,
            expression,
        }
    }
}

impl From<(&str, Expression)> for AggregateArg {
    fn from((alias, expression): (&str, Expression)) -> Self {
        AggregateArg {
            alias: Some(alias.to_string()),
            expression,
        }
    }
}

impl From<(String, Expression)> for AggregateArg {
    fn from((alias, expression): (String, Expression)) -> Self {
        AggregateArg {
            alias: Some(alias),
            expression,
        }
    }
}

/// One `filter()`/`exclude()` call.
#[derive(Debug, Clone)]
pub(crate) struct FilterStep {
    /// The condition (`exclude(q)` is recorded as `!q`).
    pub q: Q,
    /// How many annotations existed when the call was made: only those are visible to it.
    pub visible_annotations: usize,
}

/// One `annotate()` (selected) or `alias()` (not selected) entry.
#[derive(Debug, Clone)]
pub(crate) struct Annotation {
    pub name: String,
    pub expression: Expression,
    pub select: bool,
}

/// Django's `Query.group_by`, decided when an aggregate is annotated.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GroupBy {
    /// No aggregation.
    None,
    /// `annotate(agg)` on model rows: group by the model's columns (its primary key
    /// determines them all).
    Model,
    /// `values(...).annotate(agg)`: group by these values (field paths and annotation names).
    Fields(Vec<String>),
}

/// The shape of `values()` / `values_list()` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValuesKind {
    Dicts,
    List { flat: bool, named: bool },
}

/// A `values()` / `values_list()` call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValuesSpec {
    /// Requested names; empty means every field and annotation.
    pub fields: Vec<String>,
    /// Annotations added from this index on (after the call) are selected too.
    pub annotation_mark: usize,
    /// How many `filter()` calls came before it: its relation paths are joined at that point
    /// (a later filter on a multi-valued relation joins anew, as in Django).
    pub filter_mark: usize,
    pub kind: ValuesKind,
}

/// Django's `deferred_loading`: field names and whether they are deferred (`defer()`) or the
/// only ones loaded (`only()`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct DeferredLoading {
    pub names: BTreeSet<String>,
    pub defer: bool,
}

/// Everything a QuerySet records.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub filters: Vec<FilterStep>,
    pub annotations: Vec<Annotation>,
    pub group_by: GroupBy,
    /// `None`: the model's `Meta.ordering`; `Some(vec![])`: no ordering.
    pub ordering: Option<Vec<OrderItem>>,
    /// `reverse()` toggles it.
    pub reversed: bool,
    pub low: usize,
    pub high: Option<usize>,
    pub distinct: bool,
    pub values: Option<ValuesSpec>,
    pub deferred: DeferredLoading,
    /// `none()`, or a slice that selects nothing.
    pub empty: bool,
    /// The first misuse error of a chain method, reported on evaluation.
    pub error: Option<Error>,
    /// Rows that come from a set operation or a CTE instead of the model's table.
    pub derived: Option<std::sync::Arc<Derived>>,
    /// `cte.join(...)` calls, in order.
    pub cte_joins: Vec<super::cte::CteJoin>,
    /// `select_related(...)` (see `eager.rs`).
    pub select_related: crate::queryset::eager::SelectRelated,
    /// `prefetch_related(...)` lookups, in call order.
    pub prefetch: Vec<crate::queryset::eager::Prefetch>,
}

/// Where a derived QuerySet's rows come from (`set_operations.rs`, `cte.rs`).
#[derive(Debug, Clone)]
pub(crate) enum Derived {
    /// `union()`, `intersection()`, `difference()`.
    Combination(super::set_operations::Combination),
    /// `cte.queryset()`.
    Cte(super::cte::CTE),
}

impl Default for Query {
    fn default() -> Self {
        Query {
            filters: vec![],
            annotations: vec![],
            group_by: GroupBy::None,
            ordering: None,
            reversed: false,
            low: 0,
            high: None,
            distinct: false,
            values: None,
            deferred: DeferredLoading {
                names: BTreeSet::new(),
                defer: true,
            },
            empty: false,
            error: None,
            derived: None,
            cte_joins: vec![],
            select_related: crate::queryset::eager::SelectRelated::None,
            prefetch: vec![],
        }
    }
}

impl Query {
    /// True once `[a:b]` has been applied.
    pub fn is_sliced(&self) -> bool {
        self.low != 0 || self.high.is_some()
    }

    /// Django's `set_limits`: slicing a sliced QuerySet slices within the previous slice.
    fn set_limits(&mut self, low: usize, high: Option<usize>) {
        if let Some(high) = high {
            let new_high = self.low.saturating_add(high);
            self.high = Some(self.high.map_or(new_high, |h| h.min(new_high)));
        }
        let new_low = self.low.saturating_add(low);
        self.low = self.high.map_or(new_low, |h| h.min(new_low));
        if self.high == Some(self.low) {
            self.empty = true;
        }
    }
}

/// A lazy, immutable query over one model: Django's `QuerySet`.
#[derive(Clone)]
pub struct QuerySet {
    pub(crate) db: Database,
    pub(crate) model: String,
    pub(crate) query: Query,
}

impl fmt::Debug for QuerySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuerySet")
            .field("model", &self.model)
            .field("query", &self.query)
            .finish()
    }
}

impl QuerySet {
    /// `Model.objects.all()` on `db`.
    pub(crate) fn new(db: Database, model: impl Into<String>) -> QuerySet {
        QuerySet {
            db,
            model: model.into(),
            query: Query::default(),
        }
    }

    /// The same QuerySet without its `cte.join()`s (a subquery's compiler adds them itself).
    pub(crate) fn without_cte_joins(&self) -> QuerySet {
        self.chain(|query| query.cte_joins.clear())
    }

    /// Whether `values()`/`values_list()` chose the selected columns (a subquery used in
    /// `__in` selects its primary key otherwise).
    pub(crate) fn selects_fields(&self) -> bool {
        self.query
            .values
            .as_ref()
            .is_some_and(|v| !v.fields.is_empty())
    }

    /// The model's name.
    pub fn model_name(&self) -> &str {
        &self.model
    }

    /// The database this QuerySet reads.
    pub fn database(&self) -> &Database {
        &self.db
    }

    pub(crate) fn chain(&self, edit: impl FnOnce(&mut Query)) -> QuerySet {
        let mut next = self.clone();
        edit(&mut next.query);
        next
    }

    pub(crate) fn fail(&self, error: Error) -> QuerySet {
        self.chain(|q| {
            q.error.get_or_insert(error);
        })
    }

    /// `all()`: a copy.
    pub fn all(&self) -> QuerySet {
        self.clone()
    }

    /// `filter(q)`: keeps rows matching `q`. Each call is one `filter()` call in Django's
    /// sense (conditions on a multi-valued relation inside one call match the same related
    /// row).
    pub fn filter(&self, q: impl Into<Q>) -> QuerySet {
        if let Some(refused) = self.refuse_after_combination("filter") {
            return refused;
        }
        self.add_filter(q.into())
    }

    /// `exclude(q)`: removes rows matching `q` (rows where a compared field is NULL stay, as
    /// in Django).
    pub fn exclude(&self, q: impl Into<Q>) -> QuerySet {
        if let Some(refused) = self.refuse_after_combination("exclude") {
            return refused;
        }
        self.add_filter(!q.into())
    }

    fn add_filter(&self, q: Q) -> QuerySet {
        if self.query.is_sliced() {
            return self.fail(Error::TypeError(
                "Cannot filter a query once a slice has been taken.".into(),
            ));
        }
        self.chain(|query| {
            let visible_annotations = query.annotations.len();
            query.filters.push(FilterStep {
                q,
                visible_annotations,
            });
        })
    }

    /// `annotate(name=expr, …)`: adds computed columns. An aggregate groups the rows: by the
    /// preceding `values()` if there is one, otherwise by the model's primary key.
    pub fn annotate<I, S, E>(&self, annotations: I) -> QuerySet
    where
        I: IntoIterator<Item = (S, E)>,
        S: Into<String>,
        E: Into<Expression>,
    {
        self.add_annotations(annotations, true)
    }

    /// `alias(name=expr, …)`: like `annotate` but not selected; usable in filters, ordering
    /// and other expressions.
    pub fn alias<I, S, E>(&self, annotations: I) -> QuerySet
    where
        I: IntoIterator<Item = (S, E)>,
        S: Into<String>,
        E: Into<Expression>,
    {
        self.add_annotations(annotations, false)
    }

    fn add_annotations<I, S, E>(&self, annotations: I, select: bool) -> QuerySet
    where
        I: IntoIterator<Item = (S, E)>,
        S: Into<String>,
        E: Into<Expression>,
    {
        let operation = if select { "annotate" } else { "alias" };
        if let Some(refused) = self.refuse_after_combination(operation) {
            return refused;
        }
        let annotations: Vec<(String, Expression)> = annotations
            .into_iter()
            .map(|(name, expression)| (name.into(), expression.into()))
            .collect();
        self.chain(|query| {
            let mut aggregate = false;
            for (name, expression) in annotations {
                aggregate |= expression.contains_aggregate();
                let annotation = Annotation {
                    name,
                    expression,
                    select,
                };
                match query
                    .annotations
                    .iter_mut()
                    .find(|a| a.name == annotation.name)
                {
                    Some(existing) => *existing = annotation,
                    None => query.annotations.push(annotation),
                }
            }
            if aggregate {
                // Django's `_annotate`: `group_by = True` without values(), otherwise
                // `set_group_by()` from the current values() selection (and the selected
                // annotations; aggregates among them contribute nothing).
                // `values()` without names selects every field, which is the model grouping.
                query.group_by = match &query.values {
                    None => GroupBy::Model,
                    Some(values) if values.fields.is_empty() => GroupBy::Model,
                    Some(values) => {
                        let mut names = values.fields.clone();
                        for (i, a) in query.annotations.iter().enumerate() {
                            let visible =
                                i >= values.annotation_mark || values.fields.contains(&a.name);
                            let grouping = a.select && !a.expression.contains_aggregate();
                            if grouping && visible && !names.contains(&a.name) {
                                names.push(a.name.clone());
                            }
                        }
                        GroupBy::Fields(names)
                    }
                };
            }
        })
    }

    /// `order_by(...)`: replaces the ordering. `"-f"` descends, `"?"` orders pseudo-randomly,
    /// `"rel__field"` orders by a related field, a relation orders by the related model's
    /// `Meta.ordering`. An empty list removes all ordering, including `Meta.ordering`.
    pub fn order_by<I, T>(&self, items: I) -> QuerySet
    where
        I: IntoIterator<Item = T>,
        T: Into<OrderItem>,
    {
        if self.query.is_sliced() {
            return self.fail(Error::TypeError(
                "Cannot reorder a query once a slice has been taken.".into(),
            ));
        }
        let items: Vec<OrderItem> = items
            .into_iter()
            .map(|item| match item.into() {
                OrderItem::Field(name) if name == "?" => OrderItem::Random(random_seed()),
                other => other,
            })
            .collect();
        self.chain(|query| query.ordering = Some(items))
    }

    /// `order_by()` with no arguments: no ordering at all (not even `Meta.ordering`).
    pub fn clear_ordering(&self) -> QuerySet {
        self.order_by(Vec::<OrderItem>::new())
    }

    /// `reverse()`: flips the ordering (explicit or `Meta.ordering`); no effect on an
    /// unordered QuerySet.
    pub fn reverse(&self) -> QuerySet {
        if self.query.is_sliced() {
            return self.fail(Error::TypeError(
                "Cannot reverse a query once a slice has been taken.".into(),
            ));
        }
        self.chain(|query| query.reversed = !query.reversed)
    }

    /// `distinct()`: removes duplicate rows (over the selected columns plus any ordering
    /// columns, as in Django).
    pub fn distinct(&self) -> QuerySet {
        if let Some(refused) = self.refuse_after_combination("distinct") {
            return refused;
        }
        self.chain(|query| query.distinct = true)
    }

    /// `values("a", "rel__b", "annotation")`: rows of the named values instead of model rows.
    /// With no names: every field (by attname) and annotation. Before an aggregate
    /// `annotate()`, the names become the GROUP BY.
    pub fn values<I, S>(&self, fields: I) -> QuerySet
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.set_values(fields, ValuesKind::Dicts)
    }

    /// `values_list("a", "b")`: like `values` (rows are still named by the given names);
    /// `.flat()` and `.named()` mirror Django's `flat=True` / `named=True`.
    pub fn values_list<I, S>(&self, fields: I) -> QuerySet
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.set_values(
            fields,
            ValuesKind::List {
                flat: false,
                named: false,
            },
        )
    }

    fn set_values<I, S>(&self, fields: I, kind: ValuesKind) -> QuerySet
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let fields: Vec<String> = fields.into_iter().map(Into::into).collect();
        self.chain(|query| {
            query.deferred = DeferredLoading {
                names: BTreeSet::new(),
                defer: true,
            };
            query.values = Some(ValuesSpec {
                annotation_mark: query.annotations.len(),
                filter_mark: query.filters.len(),
                fields,
                kind,
            });
        })
    }

    /// `values_list(..., flat=True)`: single values instead of one-column rows.
    pub fn flat(&self) -> QuerySet {
        match &self.query.values {
            Some(ValuesSpec {
                fields,
                kind: ValuesKind::List { named, .. },
                ..
            }) => {
                if fields.len() > 1 {
                    return self.fail(Error::TypeError(
                        "'flat' is not valid when values_list is called with more than one field."
                            .into(),
                    ));
                }
                if *named {
                    return self.fail(Error::TypeError(
                        "'flat' and 'named' can't be used together.".into(),
                    ));
                }
                self.set_list_kind(true, false)
            }
            _ => self.fail(Error::TypeError(
                "flat() is only valid after values_list().".into(),
            )),
        }
    }

    /// `values_list(..., named=True)`.
    pub fn named(&self) -> QuerySet {
        match &self.query.values {
            Some(ValuesSpec {
                kind: ValuesKind::List { flat, .. },
                ..
            }) => {
                if *flat {
                    return self.fail(Error::TypeError(
                        "'flat' and 'named' can't be used together.".into(),
                    ));
                }
                self.set_list_kind(false, true)
            }
            _ => self.fail(Error::TypeError(
                "named() is only valid after values_list().".into(),
            )),
        }
    }

    fn set_list_kind(&self, flat: bool, named: bool) -> QuerySet {
        self.chain(|query| {
            if let Some(values) = &mut query.values {
                values.kind = ValuesKind::List { flat, named };
            }
        })
    }

    /// `none()`: a QuerySet that returns nothing and runs no query.
    pub fn none(&self) -> QuerySet {
        self.chain(|query| query.empty = true)
    }

    /// `qs[a:b]`: `slice(2..5)`, `slice(..10)`, `slice(5..)`. Slicing a sliced QuerySet slices
    /// within it. Negative bounds are an error, as in Django.
    pub fn slice(&self, range: impl RangeBounds<isize>) -> QuerySet {
        let low = match range.start_bound() {
            Bound::Included(&v) => Some(v),
            Bound::Excluded(&v) => Some(v.saturating_add(1)),
            Bound::Unbounded => None,
        };
        let high = match range.end_bound() {
            Bound::Included(&v) => Some(v.saturating_add(1)),
            Bound::Excluded(&v) => Some(v),
            Bound::Unbounded => None,
        };
        if low.is_some_and(|v| v < 0) || high.is_some_and(|v| v < 0) {
            return self.fail(Error::ValueError(
                "Negative indexing is not supported.".into(),
            ));
        }
        let low = low.unwrap_or(0).unsigned_abs();
        let high = high.map(isize::unsigned_abs);
        let high = high.map(|h| h.max(low));
        self.chain(|query| query.set_limits(low, high))
    }

    /// `only("a", "b")`: load only these fields (the primary key always).
    pub fn only<I, S>(&self, fields: I) -> QuerySet
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if self.query.values.is_some() {
            return self.fail(Error::TypeError(
                "Cannot call only() after .values() or .values_list()".into(),
            ));
        }
        let names: BTreeSet<String> = fields.into_iter().map(Into::into).collect();
        self.chain(|query| {
            // Django's add_immediate_loading.
            let deferred = &mut query.deferred;
            deferred.names = if deferred.defer {
                names.difference(&deferred.names).cloned().collect()
            } else {
                names
            };
            deferred.defer = false;
        })
    }

    /// `defer("a", "b")`: load every field except these (never the primary key).
    pub fn defer<I, S>(&self, fields: I) -> QuerySet
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if self.query.values.is_some() {
            return self.fail(Error::TypeError(
                "Cannot call defer() after .values() or .values_list()".into(),
            ));
        }
        let names: BTreeSet<String> = fields.into_iter().map(Into::into).collect();
        self.chain(|query| {
            // Django's add_deferred_loading.
            let deferred = &mut query.deferred;
            if deferred.defer {
                deferred.names.extend(names);
            } else {
                let remaining: BTreeSet<String> =
                    deferred.names.difference(&names).cloned().collect();
                if remaining.is_empty() {
                    let only_new: BTreeSet<String> =
                        names.difference(&deferred.names).cloned().collect();
                    deferred.names = only_new;
                    deferred.defer = true;
                } else {
                    deferred.names = remaining;
                }
            }
        })
    }

    /// Django's `QuerySet.ordered`: an explicit ordering, or `Meta.ordering` on an ungrouped
    /// QuerySet. (Whether the model has a `Meta.ordering` is checked on evaluation.)
    pub(crate) fn has_explicit_ordering(&self) -> bool {
        self.query.ordering.as_ref().is_some_and(|o| !o.is_empty())
    }
}

/// A seed for `order_by("?")`: different per call and per run.
fn random_seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qs() -> QuerySet {
        QuerySet::new(Database::new(), "Customer")
    }

    #[test]
    fn slicing_composes_like_django() {
        let q = qs().slice(2..10).slice(1..3).query;
        assert_eq!((q.low, q.high), (3, Some(5)));
        let q = qs().slice(2..4).slice(5..).query;
        assert_eq!((q.low, q.high), (4, Some(4)));
        assert!(q.empty);
        let q = qs().slice(5..).slice(..2).query;
        assert_eq!((q.low, q.high), (5, Some(7)));
    }

    #[test]
    fn misuse_is_recorded_for_evaluation() {
        let err = qs().slice(-1..).query.error.unwrap();
        assert_eq!(err.to_string(), "Negative indexing is not supported.");
        let err = qs().slice(..3).filter(Q::all()).query.error.unwrap();
        assert_eq!(
            err.to_string(),
            "Cannot filter a query once a slice has been taken."
        );
        assert_eq!(err.django_name(), "TypeError");
        let err = qs().slice(..3).order_by(["a"]).query.error.unwrap();
        assert_eq!(
            err.to_string(),
            "Cannot reorder a query once a slice has been taken."
        );
        let err = qs().values_list(["a", "b"]).flat().query.error.unwrap();
        assert!(err.to_string().starts_with("'flat' is not valid"));
    }

    #[test]
    fn chaining_never_changes_the_original() {
        let base = qs();
        let filtered = base.filter(Q::all()).order_by(["-name"]);
        assert!(base.query.filters.is_empty());
        assert!(base.query.ordering.is_none());
        assert_eq!(filtered.query.filters.len(), 1);
    }

    #[test]
    fn values_before_an_aggregate_decide_the_grouping() {
        use crate::expressions::{Count, F};
        let grouped = qs().values(["region"]).annotate([("n", Count("id"))]);
        assert_eq!(
            grouped.query.group_by,
            GroupBy::Fields(vec!["region".into()])
        );
        let by_model = qs().annotate([("n", Count("id"))]).values(["region", "n"]);
        assert_eq!(by_model.query.group_by, GroupBy::Model);
        let with_annotation = qs()
            .values(["region"])
            .annotate([("y", F("id") + 1)])
            .annotate([("n", Count("id"))]);
        assert_eq!(
            with_annotation.query.group_by,
            GroupBy::Fields(vec!["region".into(), "y".into()])
        );
    }

    #[test]
    fn only_and_defer_follow_djangos_bookkeeping() {
        let q = qs().defer(["a", "b"]).only(["b", "c"]).query.deferred;
        assert_eq!(q.names, BTreeSet::from(["c".to_string()]));
        assert!(!q.defer);
        let q = qs().only(["a", "b"]).defer(["a"]).query.deferred;
        assert_eq!(q.names, BTreeSet::from(["b".to_string()]));
        assert!(!q.defer);
    }
}
