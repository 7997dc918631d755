//! [`PruneProjections`]: reads and computes only the columns some operator above needs.
//!
//! ```text
//! before                                         after
//! Projection: T0.name                            Projection: T0.name
//!   Filter: (T0.age > 30)                          Filter: (T0.age > 30)
//!     Projection: T0.id, T0.name, T0.age, x          Scan: author AS T0 projection=[name, age]
//!       Scan: author AS T0
//! ```
//!
//! Required columns flow top-down: the root needs all of its output; a filter or sort adds
//! the columns its expressions read; a join adds its keys and ON condition; DISTINCT needs all
//! of its input, since every column takes part in the comparison. With that set, a scan reads
//! only what is needed (`Scan.filters` are evaluated by the scan on the whole table, so they
//! add nothing), a projection drops expressions nobody reads, an aggregate drops aggregates
//! nobody reads (never its groups, which decide the rows), and a projection that passes its
//! input through unchanged — same columns, names, qualifiers and order — is removed. The
//! root's own output is never touched.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::utils::column_indices;
use super::OptimizerRule;
use crate::error::Result;
use crate::expr::{Expr, Transformed};
use crate::logical_plan::{Aggregate, Join, LogicalPlan, PlanSchema, Projection, Scan, Window};

/// Column pruning; see the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct PruneProjections;

impl OptimizerRule for PruneProjections {
    fn name(&self) -> &'static str {
        "prune_projections"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
        let all = (0..plan.schema().len()).collect();
        prune(&plan, &all)
    }
}

/// Rewrites `plan` so that it still produces the columns at positions `required` of its
/// schema (it may drop the others).
fn prune(
    plan: &Arc<LogicalPlan>,
    required: &BTreeSet<usize>,
) -> Result<Transformed<Arc<LogicalPlan>>> {
    match plan.as_ref() {
        LogicalPlan::Scan(scan) => Ok(prune_scan(plan, scan, required)),
        LogicalPlan::Projection(projection) => prune_projection(plan, projection, required),
        LogicalPlan::Aggregate(aggregate) => prune_aggregate(plan, aggregate, required),
        LogicalPlan::Join(join) => prune_join(plan, join, required),
        LogicalPlan::Window(window) => prune_window(plan, window, required),
        LogicalPlan::Filter(filter) => {
            let mut needed = required.clone();
            column_indices([&filter.predicate], filter.input.schema(), &mut needed)?;
            prune_inputs(plan, vec![needed])
        }
        LogicalPlan::Sort(sort) => {
            let mut needed = required.clone();
            column_indices(
                sort.exprs.iter().map(|s| &s.expr),
                sort.input.schema(),
                &mut needed,
            )?;
            prune_inputs(plan, vec![needed])
        }
        // Same positions as the input's.
        LogicalPlan::Limit(_) | LogicalPlan::SubqueryAlias(_) => {
            prune_inputs(plan, vec![required.clone()])
        }
        LogicalPlan::Distinct(distinct) => {
            let all = (0..distinct.input.schema().len()).collect();
            prune_inputs(plan, vec![all])
        }
        LogicalPlan::DistinctOn(distinct_on) => {
            let mut needed = required.clone();
            column_indices(
                distinct_on
                    .on
                    .iter()
                    .chain(distinct_on.sort.iter().map(|s| &s.expr)),
                distinct_on.input.schema(),
                &mut needed,
            )?;
            prune_inputs(plan, vec![needed])
        }
        LogicalPlan::Values(_) | LogicalPlan::WorkTable(_) => Ok(Transformed::no(Arc::clone(plan))),
        // Set operations compare whole rows, and a CTE or recursive query is read by name
        // elsewhere: every input column stays.
        LogicalPlan::Union(_)
        | LogicalPlan::Intersect(_)
        | LogicalPlan::Except(_)
        | LogicalPlan::Cte(_)
        | LogicalPlan::RecursiveQuery(_) => {
            let all = plan
                .inputs()
                .iter()
                .map(|input| (0..input.schema().len()).collect())
                .collect();
            prune_inputs(plan, all)
        }
    }
}

/// Prunes each input with its own required set and rebuilds `plan` if any changed.
fn prune_inputs(
    plan: &Arc<LogicalPlan>,
    required: Vec<BTreeSet<usize>>,
) -> Result<Transformed<Arc<LogicalPlan>>> {
    let mut changed = false;
    let mut inputs = Vec::new();
    for (input, needed) in plan.inputs().into_iter().zip(&required) {
        let t = prune(input, needed)?;
        changed |= t.transformed;
        inputs.push(t.data);
    }
    if !changed {
        return Ok(Transformed::no(Arc::clone(plan)));
    }
    Ok(Transformed::yes(Arc::new(plan.with_new_inputs(inputs)?)))
}

fn prune_scan(
    plan: &Arc<LogicalPlan>,
    scan: &Scan,
    required: &BTreeSet<usize>,
) -> Transformed<Arc<LogicalPlan>> {
    let table_width = scan.source.schema().fields().len();
    let current: Vec<usize> = match &scan.projection {
        Some(p) => p.clone(),
        None => (0..table_width).collect(),
    };
    // Keep the current order (the scan may be the root) and at least one column, so that
    // operators above still see how many rows there are.
    let mut kept: Vec<usize> = current
        .iter()
        .enumerate()
        .filter(|(i, _)| required.contains(i))
        .map(|(_, &column)| column)
        .collect();
    if kept.is_empty() {
        kept.extend(current.first());
    }
    let projection = if kept.iter().copied().eq(0..table_width) {
        None
    } else {
        Some(kept)
    };
    if projection == scan.projection {
        return Transformed::no(Arc::clone(plan));
    }
    Transformed::yes(Arc::new(LogicalPlan::Scan(
        scan.clone().with_projection(projection),
    )))
}

fn prune_projection(
    plan: &Arc<LogicalPlan>,
    projection: &Projection,
    required: &BTreeSet<usize>,
) -> Result<Transformed<Arc<LogicalPlan>>> {
    let mut exprs: Vec<Expr> = projection
        .exprs
        .iter()
        .enumerate()
        .filter(|(i, _)| required.contains(i))
        .map(|(_, e)| e.clone())
        .collect();
    if exprs.is_empty() {
        exprs.extend(projection.exprs.first().cloned());
    }
    let mut changed = exprs.len() != projection.exprs.len();
    let mut needed = BTreeSet::new();
    column_indices(&exprs, projection.input.schema(), &mut needed)?;
    let input = prune(&projection.input, &needed)?;
    changed |= input.transformed;
    let input = input.data;
    if is_identity(&exprs, input.schema()) {
        return Ok(Transformed::yes(input));
    }
    if !changed {
        return Ok(Transformed::no(Arc::clone(plan)));
    }
    Ok(Transformed::yes(Arc::new(LogicalPlan::Projection(
        Projection::try_new(input, exprs)?,
    ))))
}

/// True when `exprs` are exactly the columns of `input`, in order: the projection would
/// produce its input's fields unchanged (a bare column keeps its qualifier and name).
fn is_identity(exprs: &[Expr], input: &PlanSchema) -> bool {
    exprs.len() == input.len()
        && exprs.iter().enumerate().all(|(i, e)| match e {
            Expr::Column(c) => matches!(input.maybe_index_of_column(c), Ok(Some(j)) if j == i),
            _ => false,
        })
}

fn prune_aggregate(
    plan: &Arc<LogicalPlan>,
    aggregate: &Aggregate,
    required: &BTreeSet<usize>,
) -> Result<Transformed<Arc<LogicalPlan>>> {
    let groups = aggregate.group_exprs.len();
    let mut aggr_exprs: Vec<Expr> = aggregate
        .aggr_exprs
        .iter()
        .enumerate()
        .filter(|(i, _)| required.contains(&(groups + i)))
        .map(|(_, e)| e.clone())
        .collect();
    // Without groups and aggregates the node would have no columns to carry its one row.
    if aggr_exprs.is_empty() && groups == 0 {
        aggr_exprs.extend(aggregate.aggr_exprs.first().cloned());
    }
    let mut changed = aggr_exprs.len() != aggregate.aggr_exprs.len();
    let mut needed = BTreeSet::new();
    column_indices(
        aggregate.group_exprs.iter().chain(&aggr_exprs),
        aggregate.input.schema(),
        &mut needed,
    )?;
    let input = prune(&aggregate.input, &needed)?;
    changed |= input.transformed;
    if !changed {
        return Ok(Transformed::no(Arc::clone(plan)));
    }
    Ok(Transformed::yes(Arc::new(LogicalPlan::Aggregate(
        Aggregate::try_new(input.data, aggregate.group_exprs.clone(), aggr_exprs)?,
    ))))
}

/// Drops window expressions nobody reads (the whole node when none is left: its other
/// columns are its input's, at the same positions).
fn prune_window(
    plan: &Arc<LogicalPlan>,
    window: &Window,
    required: &BTreeSet<usize>,
) -> Result<Transformed<Arc<LogicalPlan>>> {
    let width = window.input.schema().len();
    let window_exprs: Vec<Expr> = window
        .window_exprs
        .iter()
        .enumerate()
        .filter(|(i, _)| required.contains(&(width + i)))
        .map(|(_, e)| e.clone())
        .collect();
    let mut needed: BTreeSet<usize> = required.iter().copied().filter(|&i| i < width).collect();
    column_indices(&window_exprs, window.input.schema(), &mut needed)?;
    let input = prune(&window.input, &needed)?;
    if window_exprs.is_empty() {
        return Ok(Transformed::yes(input.data));
    }
    if !input.transformed && window_exprs.len() == window.window_exprs.len() {
        return Ok(Transformed::no(Arc::clone(plan)));
    }
    let mut node = Window::try_new(input.data, window_exprs)?;
    node.partition_fetch = window.partition_fetch;
    Ok(Transformed::yes(Arc::new(LogicalPlan::Window(node))))
}

fn prune_join(
    plan: &Arc<LogicalPlan>,
    join: &Join,
    required: &BTreeSet<usize>,
) -> Result<Transformed<Arc<LogicalPlan>>> {
    let (left_schema, right_schema) = (join.left.schema(), join.right.schema());
    let left_width = left_schema.len();
    let mut left = BTreeSet::new();
    let mut right = BTreeSet::new();
    // A mark join's one extra column (the mark) reads no input column.
    let outputs_right = !join.join_type.outputs_left_only();
    for &i in required {
        if join.join_type.outputs_right_only() {
            right.insert(i);
        } else if i < left_width {
            left.insert(i);
        } else if outputs_right {
            right.insert(i - left_width);
        }
    }
    for (l, r) in &join.on {
        column_indices([l], left_schema, &mut left)?;
        column_indices([r], right_schema, &mut right)?;
    }
    if let Some(filter) = &join.filter {
        for column in filter.column_refs() {
            match left_schema.maybe_index_of_column(&column)? {
                Some(i) => left.insert(i),
                None => right.insert(right_schema.index_of_column(&column)?),
            };
        }
    }
    prune_inputs(plan, vec![left, right])
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;

    use super::*;
    use crate::expr::{col, lit, qualified_col, AggregateExpr, AggregateFunction};
    use crate::logical_plan::JoinType;
    use crate::optimizer::utils::fixtures::{author_scan, book_scan, optimize_with};

    fn t0(name: &str) -> Expr {
        qualified_col("T0", name)
    }

    #[test]
    fn scan_reads_only_needed_columns() {
        let plan = author_scan()
            .project(vec![
                t0("id"),
                t0("name"),
                t0("age"),
                (t0("id") + lit(1i64)).alias("x"),
            ])
            .unwrap()
            .filter(t0("age").gt(lit(30i32)))
            .unwrap()
            .project(vec![t0("name")])
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PruneProjections, plan), @r"
        Projection: T0.name
          Filter: (T0.age > 30)
            Scan: author AS T0 projection=[name, age]
        ");
    }

    #[test]
    fn scan_filters_need_no_columns() {
        let scan = LogicalPlan::Scan(Scan {
            filters: vec![t0("age").gt(lit(3i32))],
            ..Scan::new(crate::optimizer::utils::fixtures::author(), "T0")
        });
        let plan = crate::logical_plan::LogicalPlanBuilder::from(scan)
            .project(vec![t0("name")])
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PruneProjections, plan), @"Scan: author AS T0 projection=[name] filters=[(T0.age > 3)]");
    }

    #[test]
    fn renaming_and_reordering_projections_stay() {
        let plan = author_scan()
            .project(vec![t0("name"), t0("id"), t0("age")])
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PruneProjections, plan), @r"
        Projection: T0.name, T0.id, T0.age
          Scan: author AS T0
        ");

        let plan = author_scan()
            .project(vec![t0("id").alias("id"), t0("name"), t0("age")])
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PruneProjections, plan), @r"
        Projection: T0.id AS id, T0.name, T0.age
          Scan: author AS T0
        ");

        // Unqualified references to the input's own columns, in order: an identity.
        let plan = author_scan()
            .project(vec![col("id"), col("name")])
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PruneProjections, plan), @"Scan: author AS T0 projection=[id, name]");
    }

    #[test]
    fn joins_keep_keys_and_distinct_keeps_everything() {
        let plan = author_scan()
            .join(
                book_scan().build(),
                JoinType::Inner,
                vec![(t0("id"), qualified_col("T1", "author_id"))],
                Some(qualified_col("T1", "pages").gt(t0("age"))),
            )
            .unwrap()
            .project(vec![qualified_col("T1", "title")])
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PruneProjections, plan), @r"
        Projection: T1.title
          Join: Inner, on=[T0.id = T1.author_id], filter=(T1.pages > T0.age)
            Scan: author AS T0 projection=[id, age]
            Scan: book AS T1 projection=[title, author_id, pages]
        ");

        let plan = author_scan()
            .project(vec![t0("name"), t0("age")])
            .unwrap()
            .distinct()
            .project(vec![t0("name")])
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PruneProjections, plan), @r"
        Projection: T0.name
          Distinct
            Scan: author AS T0 projection=[name, age]
        ");
    }

    #[test]
    fn unused_aggregates_go_but_the_root_keeps_its_schema() {
        let count = || Expr::from(AggregateExpr::new(AggregateFunction::Count, vec![]));
        let max = || Expr::from(AggregateExpr::new(AggregateFunction::Max, vec![t0("id")]));
        let plan = author_scan()
            .aggregate(vec![t0("age")], vec![count().alias("n"), max().alias("m")])
            .unwrap()
            .project(vec![col("n")])
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PruneProjections, plan), @r"
        Projection: n
          Aggregate: groupBy=[T0.age], aggr=[count(*) AS n]
            Scan: author AS T0 projection=[age]
        ");

        let plan = author_scan()
            .aggregate(vec![t0("age")], vec![count().alias("n"), max().alias("m")])
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PruneProjections, plan), @r"
        Aggregate: groupBy=[T0.age], aggr=[count(*) AS n, max(T0.id) AS m]
          Scan: author AS T0 projection=[id, age]
        ");
    }

    #[test]
    fn count_star_reads_one_column() {
        let count = Expr::from(AggregateExpr::new(AggregateFunction::Count, vec![]));
        let plan = author_scan()
            .aggregate(vec![], vec![count])
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(PruneProjections, plan), @r"
        Aggregate: groupBy=[], aggr=[count(*)]
          Scan: author AS T0 projection=[id]
        ");
    }
}
