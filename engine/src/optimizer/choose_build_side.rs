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
//! row, a limit at most its fetch. Full and mark joins are left alone, as are inner and outer
//! joins whose columns cannot be told apart by relation and name.
//!
//! A semi or anti join (an `EXISTS` / `NOT EXISTS`, `IN`) whose tested side is estimated
//! more than `SEMI_MARGIN` (2) times larger than the side it keeps becomes the RIGHT SEMI
//! (RIGHT ANTI) join: the table is built over the few rows kept, and the many tested rows
//! only look their keys up — TPC-H q4 hashes 57k orders instead of 3.8M line items. Its
//! output is the same columns, so no projection is needed:
//!
//! ```text
//! before                                          after
//! Join: LeftSemi, on=[T1.author_id = T0.id]        Join: RightSemi, on=[T0.id = T1.author_id]
//!   Scan: book AS T1            (2 rows)             Scan: author AS T0
//!   Scan: author AS T0         (30 rows)             Scan: book AS T1
//! ```

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
        super::rewrite_joins(plan, swapped)
    }
}

/// The join with its inputs swapped under a reordering projection, when that puts the
/// smaller input on the build side.
fn swapped(join: &Join) -> Result<Option<Arc<LogicalPlan>>> {
    let (left_rows, right_rows) = (cardinality(&join.left), cardinality(&join.right));
    let swap = match join.join_type {
        JoinType::Inner | JoinType::Left | JoinType::Right => right_rows > left_rows,
        // Semi and anti joins output one side's columns, so the swap needs no projection.
        JoinType::LeftSemi | JoinType::LeftAnti | JoinType::RightSemi | JoinType::RightAnti => {
            right_rows > SEMI_MARGIN * left_rows
        }
        JoinType::Full | JoinType::LeftMark => false,
    };
    if !swap {
        return Ok(None);
    }
    let Some(inner) = join.swapped()? else {
        return Ok(None);
    };
    if inner.join_type.outputs_right_only() || inner.join_type.outputs_left_only() {
        return Ok(Some(Arc::new(LogicalPlan::Join(inner))));
    }
    reordered(join, inner)
}

/// How many times larger than the left input the right input of a semi or anti join must
/// be estimated for the inputs to be swapped. A swapped join emits its rows only once every
/// probe partition has finished, from one thread, so a near tie keeps the join as written.
const SEMI_MARGIN: f64 = 2.0;

/// `inner` (the swapped `join`) under a projection that restores `join`'s column order, or
/// `None` when columns cannot be told apart by relation and name.
fn reordered(join: &Join, inner: Join) -> Result<Option<Arc<LogicalPlan>>> {
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
            JoinType::RightSemi | JoinType::RightAnti => halved(estimated_rows(&join.right), 1),
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
    use crate::logical_plan::LogicalPlanBuilder;
    use crate::optimizer::utils::fixtures::{author_scan, book_scan, optimize_with};
    use crate::optimizer::Optimizer;

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
    fn filters_count_in_the_estimate() {
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
    }

    #[test]
    fn semi_and_anti_joins_build_on_the_smaller_side() {
        // book (2 rows) semi-joined to author (30): the authors would be hashed to test two
        // books, so the join becomes a RIGHT SEMI join building on the books. The output is
        // the books' columns either way: no projection.
        let join = |left: LogicalPlanBuilder, right: LogicalPlanBuilder, join_type, on| {
            left.join(right.build(), join_type, vec![on], None)
                .unwrap()
                .build()
        };
        let book_author = (qualified_col("T1", "author_id"), qualified_col("T0", "id"));
        let author_book = (qualified_col("T0", "id"), qualified_col("T1", "author_id"));
        let semi = join(
            book_scan(),
            author_scan(),
            JoinType::LeftSemi,
            book_author.clone(),
        );
        assert_snapshot!(optimize_with(ChooseBuildSide, Arc::clone(&semi)), @r"
        Join: RightSemi, on=[T0.id = T1.author_id]
          Scan: author AS T0
          Scan: book AS T1
        ");
        assert_eq!(semi.schema().fields(), {
            let optimized = Optimizer::with_rules(vec![Arc::new(ChooseBuildSide)])
                .optimize(Arc::clone(&semi), &BTreeSet::new())
                .unwrap();
            optimized.schema().fields().to_vec()
        });
        let anti = join(
            book_scan(),
            author_scan(),
            JoinType::LeftAnti,
            book_author.clone(),
        );
        assert_snapshot!(optimize_with(ChooseBuildSide, anti), @r"
        Join: RightAnti, on=[T0.id = T1.author_id]
          Scan: author AS T0
          Scan: book AS T1
        ");
        // Already building on the books: kept, whichever side is preserved.
        for join_type in [JoinType::LeftAnti, JoinType::RightSemi] {
            let kept = join(author_scan(), book_scan(), join_type, author_book.clone());
            let text = optimize_with(ChooseBuildSide, kept);
            assert!(text.starts_with(&format!("Join: {join_type:?}")), "{text}");
        }
        // A right anti join written over the larger right input swaps back to a left one.
        let right_anti = join(
            book_scan(),
            author_scan(),
            JoinType::RightAnti,
            book_author.clone(),
        );
        assert!(optimize_with(ChooseBuildSide, right_anti)
            .starts_with("Join: LeftAnti, on=[T0.id = T1.author_id]"));
        // A mark join has no mirror image.
        let mark = join(book_scan(), author_scan(), JoinType::LeftMark, book_author);
        assert!(optimize_with(ChooseBuildSide, mark).starts_with("Join: LeftMark"));
        // Switched off by name, the semi join stays as written.
        let optimizer = Optimizer::with_rules(vec![Arc::new(ChooseBuildSide)]);
        let off = BTreeSet::from(["choose_build_side".to_string()]);
        assert!(optimizer
            .optimize(semi, &off)
            .unwrap()
            .to_string()
            .starts_with("Join: LeftSemi"));
    }
}
