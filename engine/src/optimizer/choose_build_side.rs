//! [`ChooseBuildSide`]: puts the input estimated to be smaller on the build side of a hash
//! join.
//!
//! The hash join builds its table over the *right* input and streams the left one through
//! it, so the build should be the smaller side: less memory, and the larger input is read
//! once in parallel partitions. The QuerySet compiler writes joins in the order relations
//! are followed — `customer LEFT JOIN order` for `Count("orders")` — which often builds on
//! the many side. This rule swaps the inputs of an INNER join, and turns a LEFT join into
//! the equivalent RIGHT join (and back), when the right input's estimated row count is
//! larger than the left one's; a projection on top restores the original column order, so
//! nothing above notices.
//!
//! ```text
//! before                                      after
//! Join: Left, on=[T1.id = T0.author_id]       Projection: T1.id, T1.name, T0.id, T0.author_id
//!   Scan: author AS T1          (2 rows)        Join: Right, on=[T0.author_id = T1.id]
//!   Scan: book AS T0           (30 rows)          Scan: book AS T0
//!                                                 Scan: author AS T1
//! ```
//!
//! Both sides are estimated as [`ReorderJoins`](super::ReorderJoins) estimates them (its
//! `cardinality`: filters' selectivities from the storage's statistics, a join's rows from
//! its keys' distinct counts), so the join order and the build sides it chose are kept.
//! What statistics cannot tell falls back to [`estimated_rows`]: each filter halves a
//! scan, a join yields as many rows as its larger input, an aggregate with no GROUP BY one
//! row, a limit at most its fetch. Semi, anti and full joins are left alone, as are joins
//! whose columns cannot be told apart by relation and name.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::reorder_joins::cardinality;
use super::OptimizerRule;
use crate::error::Result;
use crate::expr::{Column, Expr, Transformed};
use crate::logical_plan::{Join, JoinType, LogicalPlan, Projection};

/// Build-side choice for hash joins; see the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct ChooseBuildSide;

impl OptimizerRule for ChooseBuildSide {
    fn name(&self) -> &'static str {
        "choose_build_side"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
        plan.transform_up(&mut |node| {
            let LogicalPlan::Join(join) = node.as_ref() else {
                return Ok(Transformed::no(node));
            };
            Ok(match swapped(join)? {
                Some(new) => Transformed::yes(new),
                None => Transformed::no(node),
            })
        })
    }
}

/// The join with its inputs swapped under a reordering projection, when that puts the
/// smaller input on the build side.
fn swapped(join: &Join) -> Result<Option<Arc<LogicalPlan>>> {
    let join_type = match join.join_type {
        JoinType::Inner => JoinType::Inner,
        JoinType::Left => JoinType::Right,
        JoinType::Right => JoinType::Left,
        JoinType::Full | JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => {
            return Ok(None)
        }
    };
    if cardinality(&join.right) <= cardinality(&join.left) {
        return Ok(None);
    }
    // The projection names columns by relation and name: they must be unique.
    let mut seen = BTreeSet::new();
    let mut columns = Vec::with_capacity(join.schema.fields().len());
    for field in join.schema.fields() {
        let Some(relation) = &field.relation else {
            return Ok(None);
        };
        if !seen.insert((relation.clone(), field.field.name().clone())) {
            return Ok(None);
        }
        columns.push(Expr::Column(Column::qualified(
            relation.clone(),
            field.field.name().clone(),
        )));
    }
    let on = join
        .on
        .iter()
        .map(|(left, right)| (right.clone(), left.clone()))
        .collect();
    let inner = Join::try_new(
        Arc::clone(&join.right),
        Arc::clone(&join.left),
        on,
        join.filter.clone(),
        join_type,
    )?;
    let projection = Projection::try_new(Arc::new(LogicalPlan::Join(inner)), columns)?;
    Ok(Some(Arc::new(LogicalPlan::Projection(projection))))
}

/// A rough row count of `plan`'s output (see the module documentation).
pub(crate) fn estimated_rows(plan: &LogicalPlan) -> f64 {
    match plan {
        LogicalPlan::Scan(scan) => {
            let rows = match &scan.chunks {
                Some(kept) => kept
                    .iter()
                    .filter_map(|i| scan.snapshot.chunks().get(*i))
                    .map(|c| c.num_rows())
                    .sum(),
                None => scan.snapshot.num_rows(),
            };
            halved(rows as f64, scan.filters.len())
        }
        LogicalPlan::Filter(filter) => halved(estimated_rows(&filter.input), 1),
        LogicalPlan::Projection(projection) => estimated_rows(&projection.input),
        LogicalPlan::Aggregate(aggregate) if aggregate.group_exprs.is_empty() => 1.0,
        LogicalPlan::Aggregate(aggregate) => estimated_rows(&aggregate.input),
        LogicalPlan::Sort(sort) => estimated_rows(&sort.input),
        LogicalPlan::Limit(limit) => {
            let rows = estimated_rows(&limit.input);
            limit.fetch.map_or(rows, |fetch| rows.min(fetch as f64))
        }
        LogicalPlan::Join(join) => match join.join_type {
            JoinType::LeftSemi | JoinType::LeftAnti => halved(estimated_rows(&join.left), 1),
            JoinType::LeftMark => estimated_rows(&join.left),
            _ => estimated_rows(&join.left).max(estimated_rows(&join.right)),
        },
        LogicalPlan::Distinct(distinct) => estimated_rows(&distinct.input),
        LogicalPlan::Values(values) => values.rows.len() as f64,
        LogicalPlan::SubqueryAlias(alias) => estimated_rows(&alias.input),
        LogicalPlan::Window(window) => estimated_rows(&window.input),
        LogicalPlan::DistinctOn(distinct_on) => estimated_rows(&distinct_on.input),
        LogicalPlan::Union(union) => union.inputs.iter().map(|i| estimated_rows(i)).sum(),
        LogicalPlan::Intersect(intersect) => estimated_rows(&intersect.left),
        LogicalPlan::Except(except) => estimated_rows(&except.left),
        LogicalPlan::Cte(cte) => estimated_rows(&cte.input),
        // A recursive query's size is unknown before it runs; its static term is a floor.
        LogicalPlan::RecursiveQuery(recursive) => estimated_rows(&recursive.static_term),
        // The previous round's rows: usually few next to the tables they join.
        LogicalPlan::WorkTable(_) => 1.0,
    }
}

/// `rows` after `filters` predicates of unknown selectivity (one half each).
fn halved(rows: f64, filters: usize) -> f64 {
    rows * 0.5f64.powi(i32::try_from(filters.min(16)).unwrap_or(16))
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;

    use super::*;
    use crate::expr::{lit, qualified_col};
    use crate::optimizer::utils::fixtures::{author_scan, book_scan, optimize_with};

    #[test]
    fn builds_on_the_smaller_input() {
        // book has 2 rows, author 30: a join written book ⋈ author builds on the books
        // already; author ⋈ book is swapped, LEFT becoming RIGHT.
        let plan = book_scan()
            .join(
                author_scan().build(),
                JoinType::Left,
                vec![(qualified_col("T1", "author_id"), qualified_col("T0", "id"))],
                None,
            )
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(ChooseBuildSide, plan), @r"
        Projection: T1.id, T1.title, T1.author_id, T1.pages, T1.pub_date, T0.id, T0.name, T0.age
          Join: Right, on=[T0.id = T1.author_id]
            Scan: author AS T0
            Scan: book AS T1
        ");
        let plan = author_scan()
            .join(
                book_scan().build(),
                JoinType::Inner,
                vec![(qualified_col("T0", "id"), qualified_col("T1", "author_id"))],
                None,
            )
            .unwrap()
            .build();
        assert_snapshot!(optimize_with(ChooseBuildSide, plan), @r"
        Join: Inner, on=[T0.id = T1.author_id]
          Scan: author AS T0
          Scan: book AS T1
        ");
    }

    #[test]
    fn can_be_switched_off_by_name() {
        let plan = book_scan()
            .join(
                author_scan().build(),
                JoinType::Inner,
                vec![(qualified_col("T1", "author_id"), qualified_col("T0", "id"))],
                None,
            )
            .unwrap()
            .build();
        let optimizer = crate::optimizer::Optimizer::with_rules(vec![Arc::new(ChooseBuildSide)]);
        let off = std::collections::BTreeSet::from(["choose_build_side".to_string()]);
        let kept = optimizer.optimize(Arc::clone(&plan), &off).unwrap();
        assert!(kept
            .to_string()
            .starts_with("Join: Inner, on=[T1.author_id = T0.id]"));
        let swapped = optimizer
            .optimize(plan, &std::collections::BTreeSet::new())
            .unwrap();
        assert!(swapped.to_string().starts_with("Projection: T1.id"));
    }

    #[test]
    fn filters_count_in_the_estimate_and_semi_joins_stay() {
        // Five filters leave an estimated 30/32 of an author, fewer than the 2 books: the
        // books (right) are now the larger side and the join is swapped.
        let mut authors = author_scan();
        for _ in 0..5 {
            authors = authors
                .filter(qualified_col("T0", "age").gt(lit(1i32)))
                .unwrap();
        }
        let plan = authors
            .join(
                book_scan().build(),
                JoinType::Inner,
                vec![(qualified_col("T0", "id"), qualified_col("T1", "author_id"))],
                None,
            )
            .unwrap()
            .build();
        let text = optimize_with(ChooseBuildSide, Arc::clone(&plan));
        assert!(
            text.starts_with("Projection: T0.id, T0.name, T0.age, T1.id"),
            "{text}"
        );
        assert!(
            text.contains("Join: Inner, on=[T1.author_id = T0.id]"),
            "{text}"
        );
        let semi = book_scan()
            .join(
                author_scan().build(),
                JoinType::LeftSemi,
                vec![(qualified_col("T1", "author_id"), qualified_col("T0", "id"))],
                None,
            )
            .unwrap()
            .build();
        assert!(optimize_with(ChooseBuildSide, semi).starts_with("Join: LeftSemi"));
    }
}
