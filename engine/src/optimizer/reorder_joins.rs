//! [`ReorderJoins`]: joins a chain of INNER joins in the order that keeps the intermediate
//! results smallest, from estimated cardinalities.
//!
//! The QuerySet compiler writes joins in the order the relations were named — `Order ⋈
//! customer ⋈ country` for `filter(customer__country__code="NO")` — so the largest table
//! often meets every other one before the selective one is joined. Inner joins commute and
//! associate, so a maximal tree of INNER joins (its *inputs* are whatever is not an inner
//! join: scans, filters, LEFT/semi/anti joins, aggregates — never entered or moved across) can
//! be rebuilt in any order that keeps every equi-join edge. For regions of up to 12 inputs
//! this rule searches every bushy tree of connected halves (dynamic programming over input
//! sets, as DuckDB and Postgres do for small queries) for the one whose hash joins cost least
//! — output rows, plus probe rows, plus twice the build rows, summed over the joins — and
//! keeps the written tree unless the best one is cheaper. Larger or disconnected regions are
//! ordered greedily, as DuckDB's fallback does: first the connected pair with the smallest
//! estimated result, then repeatedly the connected input that keeps the running result
//! smallest. A projection on top restores the original column order.
//!
//! ```text
//! before                                        after
//! Join: Inner, on=[order.customer_id = c.id]    Projection: order.*, c.*, country.*
//!   Join: Inner, on=[…]                           Join: Inner, on=[order.customer_id = c.id]
//!     Scan: order          (10 000 rows)            Scan: order
//!     Scan: customer AS c  (1 000 rows)             Join: Inner, on=[c.country_id = country.id]
//!   Scan: country, filters=[code = 'NO'] (1)          Scan: customer AS c
//!                                                     Scan: country, filters=[code = 'NO']
//! ```
//!
//! Estimates use what the storage keeps: a scan's rows (of the chunks `prune_chunks` kept),
//! each column's per-chunk min/max and NULL counts, and the primary key. A filter's
//! selectivity is `1/distinct` for `=` (at least one tenth when the distinct count is
//! unknown, as for text), the covered part of [min, max] for a range, the NULL
//! fraction for `IS NULL`, combined by AND/OR/NOT, and one half for anything else (the
//! factor [`ChooseBuildSide`](super::ChooseBuildSide) uses). A column's distinct count is its
//! row count for a primary key, and at most `max - min + 1` for an integer column. A join on
//! `a = b` yields `|A|·|B| / max(distinct(a), distinct(b))`.
//!
//! A join's rows use the same estimates through the joins below it, so the build side of
//! every join is known. Each join of the rebuilt tree puts its larger input on the left, and
//! [`ChooseBuildSide`](super::ChooseBuildSide), which runs next and estimates with
//! [`cardinality`], keeps the build sides as chosen here: the two never undo each other.
//! Trees of fewer than three inputs are left to `ChooseBuildSide`.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use super::choose_build_side::estimated_rows;
use super::OptimizerRule;
use crate::error::Result;
use crate::expr::{BinaryExpr, Column, Expr, Operator, Transformed};
use crate::logical_plan::{Join, JoinType, LogicalPlan, Projection, Scan};

/// Greedy join ordering for trees of INNER joins; see the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReorderJoins;

impl OptimizerRule for ReorderJoins {
    fn name(&self) -> &'static str {
        "reorder_joins"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
        rewrite(&plan)
    }
}

/// Top-down: the first INNER join met is the root of a maximal region.
fn rewrite(plan: &Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
    if is_inner_join(plan) {
        return reorder_region(plan);
    }
    rewrite_inputs(plan)
}

fn rewrite_inputs(plan: &Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
    let mut changed = false;
    let mut inputs = Vec::new();
    for input in plan.inputs() {
        let t = rewrite(input)?;
        changed |= t.transformed;
        inputs.push(t.data);
    }
    if !changed {
        return Ok(Transformed::no(Arc::clone(plan)));
    }
    Ok(Transformed::yes(Arc::new(plan.with_new_inputs(inputs)?)))
}

fn is_inner_join(plan: &LogicalPlan) -> bool {
    matches!(plan, LogicalPlan::Join(join) if join.join_type == JoinType::Inner)
}

/// An equi-join condition between two inputs of a region.
#[derive(Debug, Clone)]
struct Edge {
    left: Expr,
    right: Expr,
    left_input: usize,
    right_input: usize,
}

/// A region flattened: its inputs, equi-join edges and other join conditions.
#[derive(Default)]
struct Region {
    inputs: Vec<Arc<LogicalPlan>>,
    on: Vec<(Expr, Expr)>,
    filters: Vec<Expr>,
}

impl Region {
    /// Collects the inputs and conditions under `plan`, looking through projections of
    /// plain columns between the joins ([`is_column_projection`]).
    fn flatten(&mut self, plan: &Arc<LogicalPlan>) {
        match plan.as_ref() {
            LogicalPlan::Join(join) if join.join_type == JoinType::Inner => {
                self.flatten(&join.left);
                self.flatten(&join.right);
                self.on.extend(join.on.iter().cloned());
                if let Some(filter) = &join.filter {
                    self.filters.extend(filter.clone().split_conjunction());
                }
            }
            LogicalPlan::Projection(projection) if is_column_projection(plan) => {
                self.flatten(&projection.input);
            }
            _ => self.inputs.push(Arc::clone(plan)),
        }
    }

    /// The one input whose schema holds every column `expr` reads.
    fn input_of(&self, expr: &Expr) -> Option<usize> {
        let inputs = self.inputs_of(expr)?;
        match inputs.len() {
            1 => inputs.first().copied(),
            _ => None,
        }
    }

    /// The inputs whose columns `expr` reads; `None` when a column is unqualified or not in
    /// exactly one input.
    fn inputs_of(&self, expr: &Expr) -> Option<BTreeSet<usize>> {
        let mut out = BTreeSet::new();
        for column in expr.column_refs() {
            column.relation.as_ref()?;
            let mut holding =
                (0..self.inputs.len()).filter(|i| self.inputs[*i].schema().has_column(&column));
            let found = holding.next()?;
            if holding.next().is_some() {
                return None;
            }
            out.insert(found);
        }
        Some(out)
    }
}

fn reorder_region(plan: &Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
    let mut region = Region::default();
    region.flatten(plan);
    // Regions inside the inputs (under a LEFT join, an aggregate, …) are reordered on their own.
    let mut inputs_changed = false;
    for input in &mut region.inputs {
        let t = rewrite_inputs(input)?;
        inputs_changed |= t.transformed;
        *input = t.data;
    }
    match reordered(&region, plan)? {
        Some(new) => Ok(Transformed::yes(new)),
        None if inputs_changed => {
            let mut inputs = region.inputs.iter().cloned().collect();
            Ok(Transformed::yes(rebuild(plan, &mut inputs, false)?))
        }
        None => Ok(Transformed::no(Arc::clone(plan))),
    }
}

/// The region rebuilt in the greedy order under a projection restoring `plan`'s columns, or
/// `None` when it cannot be reordered or already is in that order.
fn reordered(region: &Region, plan: &Arc<LogicalPlan>) -> Result<Option<Arc<LogicalPlan>>> {
    if region.inputs.len() < 3 {
        return Ok(None);
    }
    let Some(edges) = edges(region) else {
        return Ok(None);
    };
    let Some(filter_inputs) = region
        .filters
        .iter()
        .map(|f| region.inputs_of(f))
        .collect::<Option<Vec<_>>>()
    else {
        return Ok(None);
    };
    let tree = match best_tree(region, &edges) {
        Some(best) => {
            // Ties and near-ties keep the written order, so the rule reaches a fixed point
            // whatever order the inputs were flattened in.
            let chosen = best
                .last()
                .copied()
                .flatten()
                .map_or(f64::INFINITY, |b| b.cost);
            let mut next_input = 0;
            if let Some((_, _, written)) = written_cost(region, &edges, plan, &mut next_input) {
                if chosen >= written * (1.0 - 1e-9) {
                    return Ok(None);
                }
            }
            let mut placed = vec![false; region.filters.len()];
            let full = best.len() - 1;
            build_best(region, &edges, &filter_inputs, &best, full, &mut placed)?
        }
        None => {
            let order = greedy_order(region, &edges);
            build(region, &edges, &filter_inputs, &order)?
        }
    };
    let mut inputs = region.inputs.iter().cloned().collect();
    if tree.to_string() == rebuild(plan, &mut inputs, true)?.to_string() {
        return Ok(None);
    }
    let schema = plan.schema();
    let names = |fields: &[crate::logical_plan::QualifiedField]| -> Vec<(Option<String>, String)> {
        fields
            .iter()
            .map(|f| (f.relation.clone(), f.name().to_string()))
            .collect()
    };
    if names(tree.schema().fields()) == names(schema.fields()) {
        return Ok(Some(tree));
    }
    let mut seen = BTreeSet::new();
    let mut columns = Vec::with_capacity(schema.len());
    for field in schema.fields() {
        let Some(relation) = &field.relation else {
            return Ok(None);
        };
        if !seen.insert((relation.clone(), field.name().to_string())) {
            return Ok(None);
        }
        columns.push(Expr::Column(Column::qualified(
            relation.clone(),
            field.name().to_string(),
        )));
    }
    Ok(Some(Arc::new(LogicalPlan::Projection(
        Projection::try_new(tree, columns)?,
    ))))
}

/// Whether `plan` is a projection [`Region::flatten`] looks through: plain columns of an
/// inner join, as `prune_projections` (dropping unused columns) and `ChooseBuildSide`
/// (restoring the order after a swap) put between joins. The rebuilt region keeps every
/// column and the projection on top selects the region's own.
fn is_column_projection(plan: &LogicalPlan) -> bool {
    matches!(plan, LogicalPlan::Projection(projection)
        if is_inner_join(&projection.input)
            && projection.exprs.iter().all(|e| matches!(e, Expr::Column(_))))
}

/// `plan`'s region with its inputs replaced, in flattening order, by `inputs`; without the
/// projections between its joins when `strip` is set (to compare a region with its rebuilt
/// form).
fn rebuild(
    plan: &Arc<LogicalPlan>,
    inputs: &mut VecDeque<Arc<LogicalPlan>>,
    strip: bool,
) -> Result<Arc<LogicalPlan>> {
    match plan.as_ref() {
        LogicalPlan::Join(join) if join.join_type == JoinType::Inner => {
            let left = rebuild(&join.left, inputs, strip)?;
            let right = rebuild(&join.right, inputs, strip)?;
            Ok(Arc::new(plan.with_new_inputs(vec![left, right])?))
        }
        LogicalPlan::Projection(projection) if is_column_projection(plan) => {
            let input = rebuild(&projection.input, inputs, strip)?;
            if strip {
                return Ok(input);
            }
            Ok(Arc::new(plan.with_new_inputs(vec![input])?))
        }
        _ => Ok(inputs.pop_front().unwrap_or_else(|| Arc::clone(plan))),
    }
}

/// Every ON pair as an edge between the two inputs its sides read, or `None` when a side
/// reads several inputs or none (then the region is left alone).
fn edges(region: &Region) -> Option<Vec<Edge>> {
    let mut out = Vec::with_capacity(region.on.len());
    for (left, right) in &region.on {
        let (left_input, right_input) = (region.input_of(left)?, region.input_of(right)?);
        if left_input == right_input {
            return None;
        }
        out.push(Edge {
            left: left.clone(),
            right: right.clone(),
            left_input,
            right_input,
        });
    }
    Some(out)
}

/// Regions of at most this many inputs are ordered by [`best_tree`]; larger ones greedily.
const EXHAUSTIVE_INPUTS: usize = 12;

/// The cheapest way found to join one set of a region's inputs (a bitmask): its cost, its
/// estimated rows and, for a set of two or more, the set its left part joins.
#[derive(Debug, Clone, Copy)]
struct Best {
    cost: f64,
    rows: f64,
    split: usize,
}

/// The cheapest join tree over the whole region, as a table indexed by input sets (the full
/// set last), or `None` when the region is too large or its join graph is not connected
/// (then [`greedy_order`] decides, cross products included).
///
/// Every connected set is planned once, from its two connected halves (bushy trees too,
/// DPsub-style; 3^12 splits at most). A join costs what its hash join does: its output
/// rows, plus its probe side's rows, plus twice its build side's (interning a key costs
/// more than looking one up), on top of its two halves' costs. Summing intermediate
/// results is what keeps a many-to-many join of two dimensions (TPC-H q5's
/// `customer.c_nationkey = supplier.s_nationkey`) out of the plan when the selective
/// filters can meet the fact table first.
fn best_tree(region: &Region, edges: &[Edge]) -> Option<Vec<Option<Best>>> {
    let n = region.inputs.len();
    if n > EXHAUSTIVE_INPUTS {
        return None;
    }
    let full = (1usize << n) - 1;
    let mut best: Vec<Option<Best>> = vec![None; full + 1];
    for (i, input) in region.inputs.iter().enumerate() {
        best[1 << i] = Some(Best {
            cost: 0.0,
            rows: cardinality(input),
            split: 0,
        });
    }
    // Every proper subset of a set is a smaller number, so it is final by then.
    for set in 1..=full {
        if set.count_ones() < 2 {
            continue;
        }
        let lowest = set & set.wrapping_neg();
        let mut found: Option<Best> = None;
        // Each unordered split once: the left part holds the set's lowest input.
        let mut left = (set - 1) & set;
        while left > 0 {
            let right = set ^ left;
            if left & lowest != 0 {
                if let (Some(a), Some(b)) = (best[left], best[right]) {
                    if let Some(rows) = split_rows(region, edges, (left, a.rows), (right, b.rows)) {
                        let cost = a.cost + b.cost + rows + hash_join_cost(a.rows, b.rows);
                        if found.is_none_or(|f| cost < f.cost) {
                            found = Some(Best {
                                cost,
                                rows,
                                split: left,
                            });
                        }
                    }
                }
            }
            left = (left - 1) & set;
        }
        best[set] = found;
    }
    best[full]?;
    Some(best)
}

/// What a hash join costs besides its output: its probe side's rows, plus twice its build
/// side's (interning a key costs more than looking one up).
fn hash_join_cost(left_rows: f64, right_rows: f64) -> f64 {
    left_rows.max(right_rows) + 2.0 * left_rows.min(right_rows)
}

/// The input set, estimated rows and cost (as [`best_tree`] counts it) of the region as
/// written under `plan`; inputs are numbered in [`Region::flatten`]'s order.
fn written_cost(
    region: &Region,
    edges: &[Edge],
    plan: &Arc<LogicalPlan>,
    next_input: &mut usize,
) -> Option<(usize, f64, f64)> {
    match plan.as_ref() {
        LogicalPlan::Join(join) if join.join_type == JoinType::Inner => {
            let (left, left_rows, left_cost) = written_cost(region, edges, &join.left, next_input)?;
            let (right, right_rows, right_cost) =
                written_cost(region, edges, &join.right, next_input)?;
            let rows = split_rows(region, edges, (left, left_rows), (right, right_rows))
                .unwrap_or(left_rows * right_rows);
            let cost = left_cost + right_cost + rows + hash_join_cost(left_rows, right_rows);
            Some((left | right, rows, cost))
        }
        LogicalPlan::Projection(projection) if is_column_projection(plan) => {
            written_cost(region, edges, &projection.input, next_input)
        }
        _ => {
            let input = *next_input;
            *next_input += 1;
            let rows = cardinality(region.inputs.get(input)?);
            Some((1 << input, rows, 0.0))
        }
    }
}

/// The estimated rows of joining the input sets `left` and `right` (with their estimated
/// rows): the most selective edge between them decides, as in [`join_rows`]; `None` when
/// no edge connects them.
fn split_rows(
    region: &Region,
    edges: &[Edge],
    (left, left_rows): (usize, f64),
    (right, right_rows): (usize, f64),
) -> Option<f64> {
    let holds = |set: usize, input: usize| set & (1 << input) != 0;
    edges
        .iter()
        .filter_map(|edge| {
            let ((left_expr, left_input), (right_expr, right_input)) =
                if holds(left, edge.left_input) && holds(right, edge.right_input) {
                    (
                        (&edge.left, edge.left_input),
                        (&edge.right, edge.right_input),
                    )
                } else if holds(right, edge.left_input) && holds(left, edge.right_input) {
                    (
                        (&edge.right, edge.right_input),
                        (&edge.left, edge.left_input),
                    )
                } else {
                    return None;
                };
            let left_distinct =
                distinct(&region.inputs[left_input], left_expr).min(left_rows.max(1.0));
            let right_distinct =
                distinct(&region.inputs[right_input], right_expr).min(right_rows.max(1.0));
            Some(left_rows * right_rows / left_distinct.max(right_distinct).max(1.0))
        })
        .reduce(f64::min)
}

/// The tree [`best_tree`] chose for the input set `set`. Each join takes the edges between
/// its halves as keys and the other conditions once every input they read is present; the
/// half [`cardinality`] estimates larger goes left (the probe side), as
/// [`ChooseBuildSide`](super::ChooseBuildSide) would put it.
fn build_best(
    region: &Region,
    edges: &[Edge],
    filter_inputs: &[BTreeSet<usize>],
    best: &[Option<Best>],
    set: usize,
    placed: &mut [bool],
) -> Result<Arc<LogicalPlan>> {
    if set.count_ones() == 1 {
        return Ok(Arc::clone(&region.inputs[set.trailing_zeros() as usize]));
    }
    let Some(Best { split, .. }) = best.get(set).copied().flatten() else {
        return Err(crate::error::EngineError::Internal(format!(
            "join order has no plan for input set {set:#b}"
        )));
    };
    let (left_set, right_set) = (split, set ^ split);
    let mut left = build_best(region, edges, filter_inputs, best, left_set, placed)?;
    let mut right = build_best(region, edges, filter_inputs, best, right_set, placed)?;
    let holds = |set: usize, input: usize| set & (1 << input) != 0;
    let mut on: Vec<(Expr, Expr)> = edges
        .iter()
        .filter_map(|edge| {
            if holds(left_set, edge.left_input) && holds(right_set, edge.right_input) {
                Some((edge.left.clone(), edge.right.clone()))
            } else if holds(right_set, edge.left_input) && holds(left_set, edge.right_input) {
                Some((edge.right.clone(), edge.left.clone()))
            } else {
                None
            }
        })
        .collect();
    if cardinality(&right) > cardinality(&left) {
        std::mem::swap(&mut left, &mut right);
        on = on.into_iter().map(|(a, b)| (b, a)).collect();
    }
    on.sort_by_key(|(a, b)| format!("{a} = {b}"));
    on.dedup_by(|x, y| x.0 == y.0 && x.1 == y.1);
    let mut filters: Vec<Expr> = Vec::new();
    for (i, inputs) in filter_inputs.iter().enumerate() {
        if !placed[i] && inputs.iter().all(|x| holds(set, *x)) {
            placed[i] = true;
            filters.push(region.filters[i].clone());
        }
    }
    filters.sort_by_key(|f| f.to_string());
    Ok(Arc::new(LogicalPlan::Join(Join::try_new(
        left,
        right,
        on,
        Expr::conjunction(filters),
        JoinType::Inner,
    )?)))
}

/// The inputs in joining order: the connected pair with the smallest estimated result,
/// then repeatedly the connected input that keeps the running result smallest (an
/// unconnected one, smallest first, only when none is connected). Ties go to the input
/// met first, so an order that is already good is kept.
fn greedy_order(region: &Region, edges: &[Edge]) -> Vec<usize> {
    let n = region.inputs.len();
    let rows: Vec<f64> = region.inputs.iter().map(|i| cardinality(i)).collect();
    let mut start: Option<(f64, usize, usize)> = None;
    for a in 0..n {
        for b in a + 1..n {
            if let Some(result) = join_rows(region, edges, &[a], rows[a], b, rows[b]) {
                if start.is_none_or(|(best, _, _)| result < best) {
                    start = Some((result, a, b));
                }
            }
        }
    }
    let Some((mut joined_rows, a, b)) = start else {
        return (0..n).collect();
    };
    let mut joined = vec![a, b];
    while joined.len() < n {
        // (unconnected, estimated result, input rows, input)
        let mut best: Option<(bool, f64, f64, usize)> = None;
        for candidate in (0..n).filter(|i| !joined.contains(i)) {
            let (unconnected, result) = match join_rows(
                region,
                edges,
                &joined,
                joined_rows,
                candidate,
                rows[candidate],
            ) {
                Some(result) => (false, result),
                None => (true, joined_rows * rows[candidate]),
            };
            let better = best.is_none_or(|(u, r, s, _)| {
                (unconnected, result, rows[candidate])
                    .partial_cmp(&(u, r, s))
                    .is_some_and(|o| o.is_lt())
            });
            if better {
                best = Some((unconnected, result, rows[candidate], candidate));
            }
        }
        let Some((_, result, _, chosen)) = best else {
            break;
        };
        joined_rows = result;
        joined.push(chosen);
    }
    joined
}

/// The estimated rows of joining `candidate` (`candidate_rows` rows) to the inputs `joined`
/// (`joined_rows` rows together): the most selective edge between them decides; `None`
/// when no edge connects them.
fn join_rows(
    region: &Region,
    edges: &[Edge],
    joined: &[usize],
    joined_rows: f64,
    candidate: usize,
    candidate_rows: f64,
) -> Option<f64> {
    edges
        .iter()
        .filter_map(|edge| {
            let (inside, outside) =
                if edge.right_input == candidate && joined.contains(&edge.left_input) {
                    ((&edge.left, edge.left_input), &edge.right)
                } else if edge.left_input == candidate && joined.contains(&edge.right_input) {
                    ((&edge.right, edge.right_input), &edge.left)
                } else {
                    return None;
                };
            let inside_distinct =
                distinct(&region.inputs[inside.1], inside.0).min(joined_rows.max(1.0));
            let outside_distinct =
                distinct(&region.inputs[candidate], outside).min(candidate_rows.max(1.0));
            Some(joined_rows * candidate_rows / inside_distinct.max(outside_distinct).max(1.0))
        })
        .reduce(f64::min)
}

/// The tree joining the inputs in `order`. Each join takes the edges between its two sides
/// as keys (in a canonical order, so a rebuilt region is recognised as unchanged) and the
/// other conditions once every input they read is present; the larger side goes left.
fn build(
    region: &Region,
    edges: &[Edge],
    filter_inputs: &[BTreeSet<usize>],
    order: &[usize],
) -> Result<Arc<LogicalPlan>> {
    let mut tree = Arc::clone(&region.inputs[order[0]]);
    let mut joined = vec![order[0]];
    let mut placed = vec![false; region.filters.len()];
    for &next in &order[1..] {
        let input = Arc::clone(&region.inputs[next]);
        let mut on: Vec<(Expr, Expr)> = edges
            .iter()
            .filter_map(|edge| {
                if joined.contains(&edge.left_input) && edge.right_input == next {
                    Some((edge.left.clone(), edge.right.clone()))
                } else if joined.contains(&edge.right_input) && edge.left_input == next {
                    Some((edge.right.clone(), edge.left.clone()))
                } else {
                    None
                }
            })
            .collect();
        on.sort_by_key(|(a, b)| format!("{a} = {b}"));
        on.dedup_by(|x, y| x.0 == y.0 && x.1 == y.1);
        joined.push(next);
        let mut filters: Vec<Expr> = Vec::new();
        for (i, inputs) in filter_inputs.iter().enumerate() {
            if !placed[i] && inputs.iter().all(|x| joined.contains(x)) {
                placed[i] = true;
                filters.push(region.filters[i].clone());
            }
        }
        filters.sort_by_key(|f| f.to_string());
        let filter = Expr::conjunction(filters);
        let join = if cardinality(&input) > cardinality(&tree) {
            let on = on.into_iter().map(|(a, b)| (b, a)).collect();
            Join::try_new(input, tree, on, filter, JoinType::Inner)?
        } else {
            Join::try_new(tree, input, on, filter, JoinType::Inner)?
        };
        tree = Arc::new(LogicalPlan::Join(join));
    }
    Ok(tree)
}

/// The fraction of groups a filter over a grouped aggregate (a HAVING) is estimated to keep.
const HAVING_SELECTIVITY: f64 = 0.2;

/// Estimated output rows of a region input: a scan's (kept) rows times its filters'
/// selectivity; anything else as `ChooseBuildSide` estimates it.
pub(crate) fn cardinality(plan: &LogicalPlan) -> f64 {
    match plan {
        LogicalPlan::Scan(scan) => {
            let rows = scan_rows(scan);
            scan.filters
                .iter()
                .fold(rows, |rows, f| rows * selectivity(scan, f))
        }
        LogicalPlan::Filter(filter) => match filter.input.as_ref() {
            LogicalPlan::Scan(scan) => {
                cardinality(&filter.input) * selectivity(scan, &filter.predicate)
            }
            // A HAVING: groups are estimated as many as their input rows, which is far too
            // many for most group keys, so the test of their aggregates is taken to keep a
            // fifth of them (DuckDB's default selectivity) rather than a half. TPC-H q18's
            // `sum(l_quantity) > 300` then stays the build side of its semi join.
            LogicalPlan::Aggregate(aggregate) if !aggregate.group_exprs.is_empty() => {
                cardinality(&filter.input) * HAVING_SELECTIVITY
            }
            _ => cardinality(&filter.input) * 0.5,
        },
        LogicalPlan::Projection(projection) => cardinality(&projection.input),
        LogicalPlan::SubqueryAlias(alias) => cardinality(&alias.input),
        LogicalPlan::Join(join) => join_cardinality(join),
        LogicalPlan::Aggregate(aggregate) if !aggregate.group_exprs.is_empty() => {
            cardinality(&aggregate.input)
        }
        LogicalPlan::Sort(sort) => cardinality(&sort.input),
        LogicalPlan::Limit(limit) => {
            let rows = cardinality(&limit.input);
            limit.fetch.map_or(rows, |fetch| rows.min(fetch as f64))
        }
        LogicalPlan::Distinct(distinct) => cardinality(&distinct.input),
        LogicalPlan::Window(window) => cardinality(&window.input),
        other => estimated_rows(other),
    }
}

/// Estimated output rows of a join: `|L|·|R| / max(distinct(l), distinct(r))` for its most
/// selective key pair (a foreign key joined to a primary key keeps the foreign key side's
/// rows), halved by a residual filter; outer joins keep at least their preserved sides' rows.
pub(crate) fn join_cardinality(join: &Join) -> f64 {
    let (left, right) = (cardinality(&join.left), cardinality(&join.right));
    let matched = join
        .on
        .iter()
        .map(|(l, r)| {
            let left_distinct = distinct_below(&join.left, l).min(left.max(1.0));
            let right_distinct = distinct_below(&join.right, r).min(right.max(1.0));
            left * right / left_distinct.max(right_distinct).max(1.0)
        })
        .reduce(f64::min)
        .unwrap_or(left * right);
    let matched = if join.filter.is_some() {
        matched * 0.5
    } else {
        matched
    };
    match join.join_type {
        JoinType::Inner => matched,
        JoinType::Left => matched.max(left),
        JoinType::Right => matched.max(right),
        JoinType::Full => matched.max(left).max(right),
        JoinType::LeftSemi | JoinType::LeftAnti => left * 0.5,
        JoinType::RightSemi | JoinType::RightAnti => right * 0.5,
        JoinType::LeftMark => left,
    }
}

/// Distinct values of column `expr` as the scan it comes from knows them, looking down
/// through filters, column projections and joins (not capped by `plan`'s own rows: the
/// caller caps it, which keeps the estimate linear in the plan's depth).
fn distinct_below(plan: &LogicalPlan, expr: &Expr) -> f64 {
    const UNKNOWN: f64 = f64::INFINITY;
    let Expr::Column(column) = expr else {
        return UNKNOWN;
    };
    match plan {
        LogicalPlan::Scan(scan) => column_facts(scan, column).map_or(UNKNOWN, |f| f.distinct()),
        LogicalPlan::Filter(filter) => distinct_below(&filter.input, expr),
        LogicalPlan::Projection(projection)
            if projection
                .exprs
                .iter()
                .any(|e| matches!(e, Expr::Column(c) if c == column)) =>
        {
            distinct_below(&projection.input, expr)
        }
        LogicalPlan::Join(join) => {
            let side = if join.left.schema().has_column(column) {
                &join.left
            } else if join.right.schema().has_column(column) {
                &join.right
            } else {
                return UNKNOWN;
            };
            distinct_below(side, expr)
        }
        _ => UNKNOWN,
    }
}

fn scan_rows(scan: &Scan) -> f64 {
    let rows: usize = match &scan.chunks {
        Some(kept) => kept
            .iter()
            .filter_map(|i| scan.snapshot.chunks().get(*i))
            .map(|c| c.num_rows())
            .sum(),
        None => scan.snapshot.num_rows(),
    };
    rows as f64
}

/// The fraction of rows an equality keeps when the column's distinct count is unknown (as
/// with text): the value a query names is usually a common one. One in a hundred was tried
/// too: it sized TPC-H's `p_type` (150 values) better, but made q19's filtered line items
/// look small enough for an index join that then collected 25 000 of them.
const UNKNOWN_EQUALITY: f64 = 0.1;

/// What the storage knows of one column of a scan, over the chunks it reads.
struct ColumnFacts {
    rows: f64,
    nulls: f64,
    /// Integer bounds (`min`, `max`) of the non-NULL values.
    bounds: Option<(i64, i64)>,
    primary_key: bool,
}

impl ColumnFacts {
    /// The fraction of non-NULL values equal to one given value: `1/distinct` when the
    /// distinct count is known (a primary key, an integer range), else at least
    /// [`UNKNOWN_EQUALITY`]. The storage keeps no distinct counts for text, and taking every
    /// value as distinct would make `o_orderstatus = 'F'` (three values) keep one row.
    fn equal_fraction(&self) -> f64 {
        let fraction = 1.0 / self.distinct();
        if self.primary_key || self.bounds.is_some() {
            fraction
        } else {
            fraction.max(UNKNOWN_EQUALITY)
        }
    }

    fn distinct(&self) -> f64 {
        let non_null = (self.rows - self.nulls).max(1.0);
        if self.primary_key {
            return non_null;
        }
        match self.bounds {
            Some((min, max)) => non_null.min((max as f64 - min as f64) + 1.0),
            None => non_null,
        }
    }
}

fn column_facts(scan: &Scan, column: &Column) -> Option<ColumnFacts> {
    if column
        .relation
        .as_deref()
        .is_some_and(|r| r != scan.relation)
    {
        return None;
    }
    let table_schema = scan.source.schema();
    let index = table_schema.index_of(&column.name).ok()?;
    let chunks: Vec<_> = match &scan.chunks {
        Some(kept) => kept
            .iter()
            .filter_map(|i| scan.snapshot.chunks().get(*i))
            .collect(),
        None => scan.snapshot.chunks().iter().collect(),
    };
    let mut facts = ColumnFacts {
        rows: 0.0,
        nulls: 0.0,
        bounds: None,
        primary_key: scan.source.key_column() == Some(index),
    };
    let mut integer = true;
    for chunk in chunks {
        let statistics = chunk.statistics(index)?;
        facts.rows += statistics.row_count as f64;
        facts.nulls += statistics.null_count as f64;
        if statistics.all_null() {
            continue;
        }
        let min = statistics.min.as_ref().and_then(|v| v.as_i64());
        let max = statistics.max.as_ref().and_then(|v| v.as_i64());
        match (min, max) {
            (Some(min), Some(max)) => {
                facts.bounds = Some(match facts.bounds {
                    Some((lo, hi)) => (lo.min(min), hi.max(max)),
                    None => (min, max),
                });
            }
            _ => integer = false,
        }
    }
    if !integer {
        facts.bounds = None;
    }
    Some(facts)
}

/// Distinct values of `expr` in `plan`'s output, at most its rows.
fn distinct(plan: &LogicalPlan, expr: &Expr) -> f64 {
    let rows = cardinality(plan).max(1.0);
    distinct_below(plan, expr).min(rows)
}

/// The fraction of `scan`'s rows `predicate` keeps (see the module documentation).
fn selectivity(scan: &Scan, predicate: &Expr) -> f64 {
    const UNKNOWN: f64 = 0.5;
    let facts_of = |e: &Expr| match e {
        Expr::Column(c) => column_facts(scan, c),
        _ => None,
    };
    let s = match predicate {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => selectivity(scan, left) * selectivity(scan, right),
            Operator::Or => {
                let (a, b) = (selectivity(scan, left), selectivity(scan, right));
                a + b - a * b
            }
            Operator::Eq | Operator::IsNotDistinctFrom => {
                match (
                    facts_of(left),
                    facts_of(right),
                    left.as_ref(),
                    right.as_ref(),
                ) {
                    (Some(f), None, _, Expr::Literal(_)) | (None, Some(f), Expr::Literal(_), _) => {
                        (1.0 - f.nulls / f.rows.max(1.0)) * f.equal_fraction()
                    }
                    _ => UNKNOWN,
                }
            }
            Operator::NotEq | Operator::IsDistinctFrom => match (facts_of(left), right.as_ref()) {
                (Some(f), Expr::Literal(_)) => 1.0 - f.equal_fraction(),
                _ => UNKNOWN,
            },
            Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq => {
                range_selectivity(facts_of(left), right, *op).unwrap_or(UNKNOWN)
            }
            _ => UNKNOWN,
        },
        Expr::Not(inner) => 1.0 - selectivity(scan, inner),
        Expr::IsNull(inner) => match facts_of(inner) {
            Some(f) => f.nulls / f.rows.max(1.0),
            None => UNKNOWN,
        },
        Expr::IsNotNull(inner) => match facts_of(inner) {
            Some(f) => 1.0 - f.nulls / f.rows.max(1.0),
            None => UNKNOWN,
        },
        Expr::InList(in_list) => match facts_of(&in_list.expr) {
            Some(f) => {
                let s = (in_list.list.len() as f64 * f.equal_fraction()).min(1.0);
                if in_list.negated {
                    1.0 - s
                } else {
                    s
                }
            }
            None => UNKNOWN,
        },
        _ => UNKNOWN,
    };
    s.clamp(0.0, 1.0)
}

/// `column op literal` over an integer column with known bounds: the covered fraction.
fn range_selectivity(facts: Option<ColumnFacts>, value: &Expr, op: Operator) -> Option<f64> {
    let facts = facts?;
    let (min, max) = facts.bounds?;
    let Expr::Literal(literal) = value else {
        return None;
    };
    let v = literal.as_i64()? as f64;
    let (min, max) = (min as f64, max as f64);
    let width = (max - min + 1.0).max(1.0);
    let below = ((v - min) / width).clamp(0.0, 1.0);
    let non_null = 1.0 - facts.nulls / facts.rows.max(1.0);
    let fraction = match op {
        Operator::Lt | Operator::LtEq => below,
        _ => 1.0 - below,
    };
    Some(fraction * non_null)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use arrow::array::{ArrayRef, Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::util::pretty::pretty_format_batches;
    use insta::assert_snapshot;
    use quiver_storage::{Catalog, Table};

    use super::*;
    use crate::execution::{SessionConfig, SessionContext};
    use crate::expr::{lit, qualified_col};
    use crate::logical_plan::LogicalPlanBuilder;
    use crate::optimizer::utils::fixtures::optimize_with;
    use crate::optimizer::Optimizer;

    /// A table of Int64 columns, `id` first and declared its primary key.
    fn table(catalog: &Catalog, name: &str, columns: &[(&str, Vec<i64>)]) -> Arc<Table> {
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|(column, _)| Field::new(*column, DataType::Int64, false))
                .collect::<Vec<_>>(),
        ));
        let table = catalog.create_table(name, Arc::clone(&schema)).unwrap();
        table.set_primary_key(0, format!("{name}_pkey"));
        let arrays: Vec<ArrayRef> = columns
            .iter()
            .map(|(_, values)| Arc::new(Int64Array::from(values.clone())) as ArrayRef)
            .collect();
        table
            .append(&[RecordBatch::try_new(schema, arrays).unwrap()])
            .unwrap();
        table
    }

    /// 1000 orders over 100 customers (each in one of 10 countries) and 10 products.
    fn shop(catalog: &Catalog) -> (Arc<Table>, Arc<Table>, Arc<Table>, Arc<Table>) {
        let order = table(
            catalog,
            "order",
            &[
                ("id", (1..=1000).collect()),
                ("customer_id", (1..=1000).map(|i| i % 100 + 1).collect()),
                ("product_id", (1..=1000).map(|i| i % 10 + 1).collect()),
            ],
        );
        let customer = table(
            catalog,
            "customer",
            &[
                ("id", (1..=100).collect()),
                ("country_id", (1..=100).map(|i| i % 10 + 1).collect()),
            ],
        );
        let country = table(
            catalog,
            "country",
            &[("id", (1..=10).collect()), ("code", (1..=10).collect())],
        );
        let product = table(
            catalog,
            "product",
            &[("id", (1..=10).collect()), ("price", (1..=10).collect())],
        );
        (order, customer, country, product)
    }

    fn scan(table: &Arc<Table>, filter: Option<Expr>) -> Arc<LogicalPlan> {
        let builder = LogicalPlanBuilder::scan(Arc::clone(table), table.name());
        match filter {
            Some(filter) => builder.filter(filter).unwrap().build(),
            None => builder.build(),
        }
    }

    fn key(left: (&str, &str), right: (&str, &str)) -> Vec<(Expr, Expr)> {
        vec![(
            qualified_col(left.0, left.1),
            qualified_col(right.0, right.1),
        )]
    }

    /// `order ⋈ customer ⋈ product` as the compiler writes `values("customer__id",
    /// "product__price")`, with `filter` on product.
    fn star(catalog: &Catalog, filter: Option<Expr>) -> Arc<LogicalPlan> {
        let (order, customer, _, product) = shop(catalog);
        LogicalPlanBuilder::from(scan(&order, None))
            .join(
                scan(&customer, None),
                JoinType::Inner,
                key(("order", "customer_id"), ("customer", "id")),
                None,
            )
            .unwrap()
            .join(
                scan(&product, filter),
                JoinType::Inner,
                key(("order", "product_id"), ("product", "id")),
                None,
            )
            .unwrap()
            .build()
    }

    #[test]
    fn the_selective_input_joins_first() {
        // One product of ten: order ⋈ product is ~100 rows, order ⋈ customer 1000.
        let plan = star(
            &Catalog::new(),
            Some(qualified_col("product", "price").eq(lit(3i64))),
        );
        assert_snapshot!(optimize_with(ReorderJoins, plan), @r"
        Projection: order.id, order.customer_id, order.product_id, customer.id, customer.country_id, product.id, product.price
          Join: Inner, on=[order.customer_id = customer.id]
            Join: Inner, on=[order.product_id = product.id]
              Scan: order
              Filter: (product.price = 3)
                Scan: product
            Scan: customer
        ");
    }

    #[test]
    fn a_good_order_is_kept() {
        // Without the filter both dimensions keep every order: the written order stays.
        let plan = star(&Catalog::new(), None);
        let before = plan.to_string();
        assert_eq!(optimize_with(ReorderJoins, plan), before);
    }

    #[test]
    fn a_chain_joins_its_small_end_first() {
        // order ⋈ customer ⋈ country: customer ⋈ country (100 rows) comes before the orders.
        let (order, customer, country, _) = shop(&Catalog::new());
        let plan = LogicalPlanBuilder::from(scan(&order, None))
            .join(
                scan(&customer, None),
                JoinType::Inner,
                key(("order", "customer_id"), ("customer", "id")),
                None,
            )
            .unwrap()
            .join(
                scan(
                    &country,
                    Some(qualified_col("country", "code").gt(lit(5i64))),
                ),
                JoinType::Inner,
                key(("customer", "country_id"), ("country", "id")),
                None,
            )
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(ReorderJoins, plan), @r"
        Join: Inner, on=[order.customer_id = customer.id]
          Scan: order
          Join: Inner, on=[customer.country_id = country.id]
            Scan: customer
            Filter: (country.code > 5)
              Scan: country
        ");
    }

    /// TPC-H q5 in miniature: `lineitem ⋈ order ⋈ supplier ⋈ nation ⋈ region ⋈ customer`
    /// with the cycle `customer.nation_id = supplier.nation_id`, one region of five and a
    /// seventh of the orders.
    fn q5_in_miniature(catalog: &Catalog) -> Arc<LogicalPlan> {
        let region = table(catalog, "region", &[("id", (1..=5).collect())]);
        let nation = table(
            catalog,
            "nation",
            &[
                ("id", (1..=25).collect()),
                ("region_id", (1..=25).map(|i| i % 5 + 1).collect()),
            ],
        );
        let supplier = table(
            catalog,
            "supplier",
            &[
                ("id", (1..=500).collect()),
                ("nation_id", (1..=500).map(|i| i % 25 + 1).collect()),
            ],
        );
        let customer = table(
            catalog,
            "customer",
            &[
                ("id", (1..=1500).collect()),
                ("nation_id", (1..=1500).map(|i| (i * 3) % 25 + 1).collect()),
            ],
        );
        let order = table(
            catalog,
            "order",
            &[
                ("id", (1..=3000).collect()),
                ("customer_id", (1..=3000).map(|i| i % 1500 + 1).collect()),
                ("day", (1..=3000).map(|i| i % 70).collect()),
            ],
        );
        let lineitem = table(
            catalog,
            "lineitem",
            &[
                ("id", (1..=12000).collect()),
                ("order_id", (1..=12000).map(|i| i % 3000 + 1).collect()),
                (
                    "supplier_id",
                    (1..=12000).map(|i| (i * 7) % 500 + 1).collect(),
                ),
            ],
        );
        let mut customer_keys = key(("order", "customer_id"), ("customer", "id"));
        customer_keys.extend(key(("supplier", "nation_id"), ("customer", "nation_id")));
        LogicalPlanBuilder::from(scan(&lineitem, None))
            .join(
                scan(&order, Some(qualified_col("order", "day").lt(lit(10i64)))),
                JoinType::Inner,
                key(("lineitem", "order_id"), ("order", "id")),
                None,
            )
            .unwrap()
            .join(
                scan(&supplier, None),
                JoinType::Inner,
                key(("lineitem", "supplier_id"), ("supplier", "id")),
                None,
            )
            .unwrap()
            .join(
                scan(&nation, None),
                JoinType::Inner,
                key(("supplier", "nation_id"), ("nation", "id")),
                None,
            )
            .unwrap()
            .join(
                scan(&region, Some(qualified_col("region", "id").eq(lit(3i64)))),
                JoinType::Inner,
                key(("nation", "region_id"), ("region", "id")),
                None,
            )
            .unwrap()
            .join(scan(&customer, None), JoinType::Inner, customer_keys, None)
            .unwrap()
            .build()
    }

    #[test]
    fn the_cheapest_tree_avoids_joining_two_dimensions_on_a_shared_attribute() {
        // Greedy ordering starts from region ⋈ nation and then meets supplier ⋈ customer on
        // nation_id, a many-to-many join; the cheapest tree joins the filtered orders to
        // the line items first and brings in both dimensions by their keys.
        let catalog = Catalog::new();
        let plan = q5_in_miniature(&catalog);
        let optimized = optimize_with(ReorderJoins, Arc::clone(&plan));
        assert_snapshot!(optimized, @r"
        Projection: lineitem.id, lineitem.order_id, lineitem.supplier_id, order.id, order.customer_id, order.day, supplier.id, supplier.nation_id, nation.id, nation.region_id, region.id, customer.id, customer.nation_id
          Join: Inner, on=[customer.id = order.customer_id, customer.nation_id = supplier.nation_id]
            Scan: customer
            Join: Inner, on=[lineitem.supplier_id = supplier.id]
              Join: Inner, on=[lineitem.order_id = order.id]
                Scan: lineitem
                Filter: (order.day < 10)
                  Scan: order
              Join: Inner, on=[supplier.nation_id = nation.id]
                Scan: supplier
                Join: Inner, on=[nation.region_id = region.id]
                  Scan: nation
                  Filter: (region.id = 3)
                    Scan: region
        ");
        let many_to_many = [
            "on=[customer.nation_id = supplier.nation_id]",
            "on=[supplier.nation_id = customer.nation_id]",
        ];
        assert!(
            many_to_many.iter().all(|join| !optimized.contains(join)),
            "{optimized}"
        );
        let counted = |config: SessionConfig| {
            let context = SessionContext::with_config(catalog.clone(), config);
            let sort = LogicalPlanBuilder::from(Arc::clone(&plan))
                .sort(vec![
                    qualified_col("lineitem", "id").sort_asc(),
                    qualified_col("customer", "id").sort_asc(),
                ])
                .unwrap()
                .build();
            let result = context.execute(sort).unwrap();
            (
                result.num_rows(),
                pretty_format_batches(&result.batches).unwrap().to_string(),
            )
        };
        let (rows, on) = counted(SessionConfig::default());
        let (_, off) = counted(SessionConfig::default().disable_rule("reorder_joins"));
        // Counted by a nested loop in Python over the same generated rows.
        assert_eq!(rows, 72, "{on}");
        assert_eq!(on, off);
    }

    #[test]
    fn outer_joins_are_inputs_never_reordered() {
        let (order, customer, country, _) = shop(&Catalog::new());
        // customer LEFT JOIN country is one input; the region above has two and stays.
        let left = LogicalPlanBuilder::scan(customer, "customer")
            .join(
                LogicalPlanBuilder::scan(country, "country")
                    .filter(qualified_col("country", "code").eq(lit(3i64)))
                    .unwrap()
                    .build(),
                JoinType::Left,
                vec![(
                    qualified_col("customer", "country_id"),
                    qualified_col("country", "id"),
                )],
                None,
            )
            .unwrap()
            .build();
        let plan = LogicalPlanBuilder::scan(order, "order")
            .join(
                left,
                JoinType::Inner,
                vec![(
                    qualified_col("order", "customer_id"),
                    qualified_col("customer", "id"),
                )],
                None,
            )
            .unwrap()
            .build();
        let before = plan.to_string();
        assert_eq!(optimize_with(ReorderJoins, plan), before);
    }

    #[test]
    fn statistics_give_selectivities() {
        let (order, ..) = shop(&Catalog::new());
        let scan = |filter: Expr| {
            let LogicalPlan::Scan(scan) = LogicalPlanBuilder::scan(Arc::clone(&order), "order")
                .build()
                .as_ref()
                .clone()
            else {
                unreachable!("a scan")
            };
            selectivity(&scan, &filter)
        };
        let customer = || qualified_col("order", "customer_id");
        // 100 distinct customers; ids 1..=1000 are the primary key.
        assert!((scan(customer().eq(lit(7i64))) - 0.01).abs() < 1e-9);
        assert!((scan(qualified_col("order", "id").eq(lit(7i64))) - 0.001).abs() < 1e-9);
        assert!((scan(customer().lt(lit(26i64))) - 0.25).abs() < 1e-9);
        assert!((scan(customer().gt_eq(lit(26i64))) - 0.75).abs() < 1e-9);
        let either = customer().eq(lit(1i64)).or(customer().eq(lit(2i64)));
        assert!((scan(either) - 0.0199).abs() < 1e-9);
        assert!((scan(customer().is_null())).abs() < 1e-9);
        assert!((scan(customer().in_list(vec![lit(1i64), lit(2i64)], false)) - 0.02).abs() < 1e-9);
        // What statistics cannot tell is one half, as ChooseBuildSide assumes.
        let unknown = customer()
            .binary_op(Operator::Plus, lit(1i64))
            .eq(qualified_col("order", "id"));
        assert!((scan(unknown) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn results_are_unchanged_and_the_rule_can_be_switched_off() {
        let catalog = Catalog::new();
        let plan = star(
            &catalog,
            Some(qualified_col("product", "price").gt(lit(7i64))),
        );
        let sorted = |config: SessionConfig| {
            let context = SessionContext::with_config(catalog.clone(), config);
            let sort = LogicalPlanBuilder::from(Arc::clone(&plan))
                .sort(vec![qualified_col("order", "id").sort_asc()])
                .unwrap()
                .build();
            let result = context.execute(sort).unwrap();
            assert_eq!(result.num_rows(), 300);
            pretty_format_batches(&result.batches).unwrap().to_string()
        };
        let on = sorted(SessionConfig::default());
        let off = sorted(SessionConfig::default().disable_rule("reorder_joins"));
        assert_eq!(on, off);
        let optimizer = Optimizer::new();
        let reordered = optimizer
            .optimize(Arc::clone(&plan), &BTreeSet::new())
            .unwrap()
            .to_string();
        let kept = optimizer
            .optimize(
                Arc::clone(&plan),
                &BTreeSet::from(["reorder_joins".to_string()]),
            )
            .unwrap()
            .to_string();
        // The selective product join moves below the customer join.
        let depth = |plan: &str, key: &str| plan.find(key).unwrap_or_default();
        let (product, customer) = (
            "order.product_id = product.id",
            "order.customer_id = customer.id",
        );
        assert!(
            depth(&reordered, product) > depth(&reordered, customer),
            "{reordered}"
        );
        assert!(depth(&kept, product) < depth(&kept, customer), "{kept}");
        assert_ne!(reordered, kept);
    }
}
