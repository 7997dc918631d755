//! Eager loading: `select_related` and `prefetch_related`, Django's two fixes for N+1.
//!
//! `select_related("customer__country")` adds LEFT joins to the one query and selects the
//! related models' columns under hidden names (`__related<i>__<attname>`, one `i` per path);
//! [`instances_with_related`] splits each row back into the instance and its related
//! instances, cached on it as [`Related::One`]. Only single-valued relations can be selected
//! this way (forward ForeignKey/OneToOne, reverse OneToOne).
//!
//! `prefetch_related("books__authors")` runs one more query per level of the lookup: the
//! related rows whose key is `IN` the parents' keys (for many-to-many, joined through the
//! link table, with the parent's key selected as `__prefetch_key`), grouped by that key in a
//! hash map and stored on each parent ([`Related::Many`], or `One` for single-valued
//! relations). A [`Prefetch`] gives the last level a custom QuerySet (filtered, ordered,
//! annotated) and a `to_attr`. A sliced custom QuerySet is sliced per parent in the same
//! query with a `ROW_NUMBER()` window partitioned by the parent's key, as Django 4.2+ does.

use std::collections::HashMap;
use std::sync::Arc;

use quiver_engine::ScalarValue;

use crate::database::Database;
use crate::error::{Error, Result};
use crate::expressions::{OrderBy, RowNumber, Window, F, Q};
use crate::model::{many_to_many_back_name, Model, Registry, RelationKind, RelationPath};
use crate::queryset::evaluate::instances;
use crate::queryset::queryset::OrderItem;
use crate::queryset::related_manager::key_string;
use crate::queryset::QuerySet;
use crate::results::related::field_name_of_column;
use crate::results::{Instance, Related, Row, Rows};

/// Django's default depth limit for `select_related()` without arguments.
const MAX_DEPTH: usize = 5;

/// The column prefix of the related models' values in a `select_related` query.
pub(crate) const RELATED_PREFIX: &str = "__related";

/// The hidden annotation holding the parent's key in a many-to-many prefetch query.
const PREFETCH_KEY: &str = "__prefetch_key";

/// The hidden alias numbering a sliced prefetch QuerySet's rows per parent.
const PREFETCH_ROW: &str = "__prefetch_row";

/// What `select_related` asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectRelated {
    /// Nothing (the default, and `select_related(None)`).
    None,
    /// `select_related()`: every non-null forward ForeignKey, recursively.
    All,
    /// `select_related("a", "a__b")`.
    Paths(Vec<String>),
}

/// `Prefetch(lookup, queryset=…, to_attr=…)`.
#[derive(Debug, Clone)]
pub struct Prefetch {
    /// The relation path by accessor names (`"books__authors"`).
    pub lookup: String,
    /// The QuerySet of the last level's related rows (filter, order, annotate, slice).
    pub queryset: Option<QuerySet>,
    /// Where the last level's list goes instead of the accessor's cache.
    pub to_attr: Option<String>,
}

impl Prefetch {
    /// `Prefetch("books")`.
    pub fn new(lookup: impl Into<String>) -> Prefetch {
        Prefetch {
            lookup: lookup.into(),
            queryset: None,
            to_attr: None,
        }
    }

    /// `queryset=`.
    pub fn queryset(mut self, queryset: QuerySet) -> Prefetch {
        self.queryset = Some(queryset);
        self
    }

    /// `to_attr=`.
    pub fn to_attr(mut self, name: impl Into<String>) -> Prefetch {
        self.to_attr = Some(name.into());
        self
    }
}

impl From<&str> for Prefetch {
    fn from(lookup: &str) -> Prefetch {
        Prefetch::new(lookup)
    }
}

impl From<String> for Prefetch {
    fn from(lookup: String) -> Prefetch {
        Prefetch::new(lookup)
    }
}

impl QuerySet {
    /// `select_related("a", "a__b")`: loads these single-valued relations in the same query
    /// (LEFT joins), so `instance.related_object("a")` runs none. Adds to earlier calls.
    pub fn select_related<I, S>(&self, paths: I) -> QuerySet
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let paths: Vec<String> = paths.into_iter().map(Into::into).collect();
        self.chain(|query| {
            query.select_related = match (&query.select_related, paths.is_empty()) {
                (_, true) => SelectRelated::All,
                (SelectRelated::Paths(old), false) => {
                    let mut all = old.clone();
                    all.extend(paths);
                    SelectRelated::Paths(all)
                }
                (_, false) => SelectRelated::Paths(paths),
            }
        })
    }

    /// `select_related()` with no arguments: every non-null ForeignKey, recursively.
    pub fn select_related_all(&self) -> QuerySet {
        self.chain(|query| query.select_related = SelectRelated::All)
    }

    /// `select_related(None)`: clears the list.
    pub fn clear_select_related(&self) -> QuerySet {
        self.chain(|query| query.select_related = SelectRelated::None)
    }

    /// `prefetch_related("rel", "rel__sub", Prefetch::new("rel").queryset(..))`: one
    /// extra query per relation level when the QuerySet is evaluated into instances.
    pub fn prefetch_related<I, P>(&self, lookups: I) -> QuerySet
    where
        I: IntoIterator<Item = P>,
        P: Into<Prefetch>,
    {
        let lookups: Vec<Prefetch> = lookups.into_iter().map(Into::into).collect();
        self.chain(|query| query.prefetch.extend(lookups))
    }

    /// `prefetch_related(None)`: clears the lookups.
    pub fn clear_prefetch_related(&self) -> QuerySet {
        self.chain(|query| query.prefetch.clear())
    }
}

/// One `select_related` path: its names, and the model it reaches.
#[derive(Debug, Clone)]
pub(crate) struct SelectedPath {
    pub path: String,
    pub model: Arc<Model>,
}

/// The paths `select_related` loads, every prefix of a path before it (`a`, then `a__b`).
pub(crate) fn selected_paths(
    registry: &Registry,
    model: &Arc<Model>,
    select: &SelectRelated,
) -> Result<Vec<SelectedPath>> {
    let mut out: Vec<SelectedPath> = Vec::new();
    match select {
        SelectRelated::None => {}
        SelectRelated::All => follow_non_null(registry, model, "", 0, &mut out)?,
        SelectRelated::Paths(paths) => {
            for path in paths {
                let mut current = Arc::clone(model);
                let mut prefix = String::new();
                for name in path.split("__") {
                    let relation = registry
                        .query_relation(&current, name)?
                        .filter(|r| {
                            matches!(
                                r.kind,
                                RelationKind::Forward | RelationKind::ReverseOneToOne
                            )
                        })
                        .ok_or_else(|| invalid_select_related(registry, &current, name))?;
                    if !prefix.is_empty() {
                        prefix.push_str("__");
                    }
                    prefix.push_str(name);
                    current = Arc::clone(&relation.target);
                    if !out.iter().any(|p| p.path == prefix) {
                        out.push(SelectedPath {
                            path: prefix.clone(),
                            model: Arc::clone(&current),
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}

fn follow_non_null(
    registry: &Registry,
    model: &Arc<Model>,
    prefix: &str,
    depth: usize,
    out: &mut Vec<SelectedPath>,
) -> Result<()> {
    if depth >= MAX_DEPTH {
        return Ok(());
    }
    for field in model.fields() {
        if field.relation().is_none() || field.is_nullable() {
            continue;
        }
        let Some(relation) = registry.query_relation(model, field.name())? else {
            continue;
        };
        let path = if prefix.is_empty() {
            field.name().to_string()
        } else {
            format!("{prefix}__{}", field.name())
        };
        out.push(SelectedPath {
            path: path.clone(),
            model: Arc::clone(&relation.target),
        });
        follow_non_null(registry, &relation.target, &path, depth + 1, out)?;
    }
    Ok(())
}

/// Django's error for a name `select_related` cannot follow.
fn invalid_select_related(registry: &Registry, model: &Model, name: &str) -> Error {
    let mut choices: Vec<String> = model
        .fields()
        .iter()
        .filter(|f| f.relation().is_some())
        .map(|f| f.name().to_string())
        .collect();
    choices.extend(
        registry
            .reverse_relations(model.name())
            .into_iter()
            .filter(|r| r.one_to_one)
            .map(|r| r.query_name),
    );
    let choices = if choices.is_empty() {
        "(none)".to_string()
    } else {
        choices.join(", ")
    };
    Error::FieldError(format!(
        "Invalid field name(s) given in select_related: '{name}'. Choices are: {choices}"
    ))
}

/// The hidden column name of `attname` of the `index`-th selected path.
pub(crate) fn related_column(index: usize, attname: &str) -> String {
    format!("{RELATED_PREFIX}{index}__{attname}")
}

/// Rows as instances, with the `select_related` objects split out of each row.
pub(crate) fn instances_with_related(
    qs: &QuerySet,
    model: &Arc<Model>,
    rows: &Rows,
) -> Result<Vec<Instance>> {
    let selected = if qs.query.values.is_none() {
        selected_paths(&qs.db.registry(), model, &qs.query.select_related)?
    } else {
        vec![]
    };
    if selected.is_empty() {
        return Ok(instances(model, rows)
            .into_iter()
            .map(|i| i.with_database(qs.db.clone()))
            .collect());
    }
    let mut out = Vec::with_capacity(rows.len());
    for row in rows.iter() {
        let own: Vec<(String, ScalarValue)> = row
            .iter()
            .filter(|(name, _)| !name.starts_with(RELATED_PREFIX))
            .map(|(name, value)| (name.to_string(), value.clone()))
            .collect();
        let mut instance = instance_of(&qs.db, model, own);
        for (index, selected_path) in selected.iter().enumerate() {
            let prefix = format!("{RELATED_PREFIX}{index}__");
            let values: Vec<(String, ScalarValue)> = row
                .iter()
                .filter_map(|(name, value)| {
                    name.strip_prefix(&prefix)
                        .map(|attname| (attname.to_string(), value.clone()))
                })
                .collect();
            let related = instance_of(&qs.db, &selected_path.model, values);
            let related = (!related.pk().is_null()).then(|| Box::new(related));
            let names: Vec<&str> = selected_path.path.split("__").collect();
            if let Some((last, parents)) = names.split_last() {
                if let Some(parent) = nested_mut(&mut instance, parents) {
                    parent.set_related(*last, Related::One(related));
                }
            }
        }
        out.push(instance);
    }
    Ok(out)
}

fn instance_of(db: &Database, model: &Model, values: Vec<(String, ScalarValue)>) -> Instance {
    let pk = model.pk().map(|f| f.attname().to_string());
    Instance::new(model.name(), pk, Row::from_pairs(values)).with_database(db.clone())
}

/// The instance reached by following cached single-valued relations `names` (None where
/// one of them is NULL).
fn nested_mut<'a>(instance: &'a mut Instance, names: &[&str]) -> Option<&'a mut Instance> {
    let Some((first, rest)) = names.split_first() else {
        return Some(instance);
    };
    match instance.related_cache.get_mut(*first) {
        Some(Related::One(Some(inner))) => nested_mut(inner, rest),
        _ => None,
    }
}

/// Runs the QuerySet's `prefetch_related` lookups over freshly fetched instances.
pub(crate) fn prefetch_for(qs: &QuerySet, found: &mut [Instance]) -> Result<()> {
    if qs.query.prefetch.is_empty() || qs.query.values.is_some() {
        return Ok(());
    }
    run_lookups(&qs.db, found, &qs.query.prefetch)
}

/// `prefetch_related_objects(instances, *lookups)`: prefetches into instances already in
/// hand (all of one model, bound to a database).
pub fn prefetch_related_objects<P: Into<Prefetch>>(
    instances: &mut [Instance],
    lookups: impl IntoIterator<Item = P>,
) -> Result<()> {
    let Some(first) = instances.first() else {
        return Ok(());
    };
    let db = first.database()?.clone();
    let lookups: Vec<Prefetch> = lookups.into_iter().map(Into::into).collect();
    run_lookups(&db, instances, &lookups)
}

fn run_lookups(db: &Database, instances: &mut [Instance], lookups: &[Prefetch]) -> Result<()> {
    for lookup in lookups {
        let parts: Vec<&str> = lookup.lookup.split("__").collect();
        prefetch_level(db, instances, &parts, lookup)?;
    }
    Ok(())
}

/// Prefetches `parts[0]` into `instances`, then the rest of the lookup into what it found.
fn prefetch_level(
    db: &Database,
    instances: &mut [Instance],
    parts: &[&str],
    lookup: &Prefetch,
) -> Result<()> {
    let Some((name, rest)) = parts.split_first() else {
        return Ok(());
    };
    let Some(first) = instances.first() else {
        return Ok(());
    };
    let model = db.model(first.model_name())?;
    let last = rest.is_empty();
    let attr = match (&lookup.to_attr, last) {
        (Some(to_attr), true) => to_attr.clone(),
        _ => name.to_string(),
    };
    let loaded = instances
        .iter()
        .all(|i| i.related_cache.contains_key(&attr));
    if !loaded {
        let path = db.registry().accessor_relation(&model, name)?;
        let queryset = if last { lookup.queryset.clone() } else { None };
        let sliced = queryset.as_ref().is_some_and(|qs| qs.query.is_sliced());
        if sliced && lookup.to_attr.is_none() && path.is_multi_valued() {
            // Without to_attr the QuerySet becomes the related manager's, which Django
            // filters by the parent: refused on a sliced QuerySet.
            return Err(Error::TypeError(
                "Cannot filter a query once a slice has been taken.".into(),
            ));
        }
        fetch_relation(db, instances, &path, queryset, &attr)?;
    }
    if last {
        return Ok(());
    }
    // The next level runs once over every related instance of every parent.
    let mut children = Vec::new();
    let mut shapes = Vec::with_capacity(instances.len());
    for instance in instances.iter_mut() {
        match instance.related_cache.remove(&attr) {
            Some(Related::Many(items)) => {
                shapes.push(Some(items.len()));
                children.extend(items);
            }
            Some(Related::One(Some(item))) => {
                shapes.push(None);
                children.push(*item);
            }
            Some(Related::One(None)) | None => shapes.push(Some(usize::MAX)),
        }
    }
    prefetch_level(db, &mut children, rest, lookup)?;
    let mut children = children.into_iter();
    for (instance, shape) in instances.iter_mut().zip(shapes) {
        let related = match shape {
            Some(usize::MAX) => Related::One(None),
            Some(n) => Related::Many(children.by_ref().take(n).collect()),
            None => Related::One(children.next().map(Box::new)),
        };
        instance.set_related(attr.clone(), related);
    }
    Ok(())
}

/// One prefetch query for `path` over `parents`, stitched onto them under `attr`.
fn fetch_relation(
    db: &Database,
    parents: &mut [Instance],
    path: &RelationPath,
    queryset: Option<QuerySet>,
    attr: &str,
) -> Result<()> {
    let step = &path.steps[0];
    let mut keys: Vec<ScalarValue> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for parent in parents.iter() {
        let key = parent.column_value(&path.source, &step.parent_column)?;
        if let Some(k) = key_string(&key) {
            if seen.insert(k) {
                keys.push(key);
            }
        }
    }
    let base = match queryset {
        Some(qs) => {
            if !qs.model.eq_ignore_ascii_case(path.target.name()) {
                return Err(Error::ValueError(format!(
                    "Prefetch querysets cannot use raw(), values(), and values_list() and must \
                     be of the related model '{}'",
                    path.target.name()
                )));
            }
            qs
        }
        None => db.objects(path.target.name()),
    };
    let many_to_many = matches!(
        path.kind,
        RelationKind::ManyToMany | RelationKind::ReverseManyToMany
    );
    let (queryset, key_name) = match path.kind {
        RelationKind::Forward => {
            let key = field_name_of_column(&path.target, &step.column)?;
            let attname = path
                .target
                .get_field(&key)
                .map(|f| f.attname().to_string())
                .unwrap_or(key.clone());
            (per_parent(base, &key, keys.clone()), attname)
        }
        RelationKind::ReverseForeignKey | RelationKind::ReverseOneToOne => {
            let attname = path
                .target
                .get_field(&path.field_name)
                .map(|f| f.attname().to_string())
                .unwrap_or_else(|| format!("{}_id", path.field_name));
            (per_parent(base, &path.field_name, keys.clone()), attname)
        }
        RelationKind::ManyToMany | RelationKind::ReverseManyToMany => {
            let back = many_to_many_back_name(path)
                .ok_or_else(|| Error::TypeError("not a many-to-many relation".into()))?;
            let filtered =
                per_parent(base, &back, keys.clone()).annotate([(PREFETCH_KEY, F(back))]);
            (filtered, PREFETCH_KEY.to_string())
        }
    };
    let found = if keys.is_empty() {
        vec![]
    } else {
        queryset.fetch_instances()?
    };
    let mut by_key: HashMap<String, Vec<Instance>> = HashMap::new();
    for instance in found {
        let key = key_string(&instance.get_value(&key_name)?).unwrap_or_default();
        let instance = if many_to_many {
            without_column(instance, PREFETCH_KEY)
        } else {
            instance
        };
        by_key.entry(key).or_default().push(instance);
    }
    let single = matches!(
        path.kind,
        RelationKind::Forward | RelationKind::ReverseOneToOne
    );
    for parent in parents.iter_mut() {
        let key = parent.column_value(&path.source, &step.parent_column)?;
        let items = key_string(&key)
            .and_then(|k| by_key.get(&k).cloned())
            .unwrap_or_default();
        let related = if single {
            Related::One(items.into_iter().next().map(Box::new))
        } else {
            Related::Many(items)
        };
        parent.set_related(attr, related);
    }
    Ok(())
}

/// `base` restricted to the rows related to `keys` through `field` (`field__in=keys`).
///
/// A sliced `base` is sliced per parent in the same query, as Django 4.2+ does: the rows are
/// numbered per parent (`ROW_NUMBER() OVER (PARTITION BY field ORDER BY <base's ordering>)`)
/// and only the numbers inside the slice are kept, so `Prefetch("books",
/// queryset=Book.objects.order_by("-rating")[:3])` loads each author's top three books in
/// one query.
fn per_parent(base: QuerySet, field: &str, keys: Vec<ScalarValue>) -> QuerySet {
    let query = &base.query;
    if !query.is_sliced() {
        return base.filter(Q::new(format!("{field}__in"), keys));
    }
    let (low, high) = (query.low, query.high);
    let mut order: Vec<OrderItem> = match &query.ordering {
        Some(items) => items
            .iter()
            .filter(|item| !matches!(item, OrderItem::Random(_)))
            .cloned()
            .collect(),
        None => base
            .db
            .model(&base.model)
            .map(|model| {
                model
                    .default_ordering()
                    .iter()
                    .map(|name| OrderItem::Field(name.clone()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    if query.reversed {
        order = order.into_iter().map(reversed).collect();
    }
    let mut unsliced = base.clone();
    unsliced.query.low = 0;
    unsliced.query.high = None;
    let row_number = Window(RowNumber()).partition_by([F(field)]).order_by(order);
    let mut filtered = unsliced
        .filter(Q::new(format!("{field}__in"), keys))
        .alias([(PREFETCH_ROW, row_number)])
        .filter(Q::new(format!("{PREFETCH_ROW}__gt"), row_count(low)));
    if let Some(high) = high {
        filtered = filtered.filter(Q::new(format!("{PREFETCH_ROW}__lte"), row_count(high)));
    }
    filtered
}

/// A slice bound as the row number it is compared with.
fn row_count(bound: usize) -> i64 {
    i64::try_from(bound).unwrap_or(i64::MAX)
}

/// One ordering item in the opposite direction (`reverse()` on the prefetch QuerySet).
fn reversed(item: OrderItem) -> OrderItem {
    match item {
        OrderItem::Field(name) => match name.strip_prefix('-') {
            Some(rest) => OrderItem::Field(rest.to_string()),
            None => OrderItem::Field(format!("-{name}")),
        },
        OrderItem::Expression(order) => OrderItem::Expression(OrderBy {
            descending: !order.descending,
            nulls_first: order.nulls_last,
            nulls_last: order.nulls_first,
            ..order
        }),
        other => other,
    }
}

fn without_column(instance: Instance, column: &str) -> Instance {
    let mut out = instance.clone();
    out.row = Row::from_pairs(
        instance
            .row
            .iter()
            .filter(|(name, _)| *name != column)
            .map(|(name, value)| (name.to_string(), value.clone())),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::q;
    use crate::queryset::fixtures::shop;

    #[test]
    fn select_related_paths_include_every_prefix() {
        let db = shop();
        let registry = db.registry();
        let order = db.model("Order").unwrap();
        let paths = |select: SelectRelated| -> Vec<String> {
            selected_paths(&registry, &order, &select)
                .unwrap()
                .into_iter()
                .map(|p| p.path)
                .collect()
        };
        assert_eq!(
            paths(SelectRelated::Paths(vec![
                "customer__country".into(),
                "referrer".into()
            ])),
            ["customer", "customer__country", "referrer"]
        );
        // No arguments: non-null ForeignKeys only (Order.referrer and Customer.country are
        // nullable).
        assert_eq!(paths(SelectRelated::All), ["customer"]);
        let err = selected_paths(
            &registry,
            &order,
            &SelectRelated::Paths(vec!["customer__orders".into()]),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid field name(s) given in select_related: 'orders'. Choices are: country"
        );
    }

    #[test]
    fn select_related_objects_come_from_the_same_row() {
        let db = shop();
        let qs = db
            .objects("Order")
            .select_related(["customer__country", "referrer"])
            .filter(q!(id = 2));
        let before = db.query_count();
        let order = qs.fetch_instances().unwrap().remove(0);
        let customer = order.related_object("customer").unwrap().unwrap();
        assert_eq!(customer.get::<String>("name").unwrap(), "Ann");
        let country = customer.related_object("country").unwrap().unwrap();
        assert_eq!(country.get::<String>("name").unwrap(), "NL");
        let referrer = order.related_object("referrer").unwrap().unwrap();
        assert_eq!(referrer.get::<String>("name").unwrap(), "Bob");
        assert_eq!(db.query_count() - before, 1);
        // Order 1 has no referrer: cached as None, still no query.
        let first = db
            .objects("Order")
            .select_related(["referrer"])
            .filter(q!(id = 1))
            .fetch_instances()
            .unwrap()
            .remove(0);
        let before = db.query_count();
        assert!(first.related_object("referrer").unwrap().is_none());
        assert_eq!(db.query_count(), before);
        // values() ignores select_related, as in Django.
        let rows = qs.values(["amount"]).fetch().unwrap();
        assert_eq!(rows.columns(), ["amount"]);
    }

    #[test]
    fn prefetch_slices_per_parent_and_nests() {
        let db = shop();
        let biggest = Prefetch::new("orders")
            .queryset(db.objects("Order").order_by(["-amount"]).slice(..1))
            .to_attr("biggest");
        let customers = db
            .objects("Customer")
            .prefetch_related([biggest, Prefetch::new("orders__referrer")])
            .fetch_instances()
            .unwrap();
        let biggest: Vec<Vec<i64>> = customers
            .iter()
            .map(|c| {
                c.prefetched("biggest")
                    .unwrap()
                    .iter()
                    .map(|o| o.get::<i64>("amount").unwrap())
                    .collect()
            })
            .collect();
        assert_eq!(biggest, [vec![250], vec![40], vec![10], vec![75]]);
        let ann = &customers[0];
        let referrers: Vec<Option<String>> = ann
            .prefetched("orders")
            .unwrap()
            .iter()
            .map(|o| {
                o.related_object("referrer")
                    .unwrap()
                    .map(|r| r.get::<String>("name").unwrap())
            })
            .collect();
        let mut referrers = referrers;
        referrers.sort();
        assert_eq!(referrers, [None, Some("Bob".to_string())]);
    }
}
