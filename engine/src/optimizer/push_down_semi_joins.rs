//! [`PushDownSemiJoins`]: moves a semi or anti join (an `IN`, `EXISTS` or `NOT EXISTS` that
//! `decorrelate_subqueries` turned into a join) below the INNER joins under its preserved
//! side, onto the input that holds its key.
//!
//! A semi join is a filter on its preserved side: it keeps a row or not by that row's key
//! alone. Written above a tree of inner joins, it lets every row through those joins before
//! deciding: TPC-H q18 joins all 6M line items with their orders and customers, and only then
//! keeps the 399 whose order is in
//! `o_orderkey IN (SELECT l_orderkey … HAVING sum(l_quantity) > 300)`. Applied to the input that holds the key, the join drops those rows first, its
//! runtime filter reaches that input's scan, and the inner joins see only live rows. An inner
//! join's `a = b` key makes `a` and `b` equal on every row it outputs, so a semi join on `a`
//! may also go to the side holding `b` (q18's `l_orderkey` becomes `o_orderkey`: 1.5M orders
//! tested instead of 6M line items, and 57 orders left to join).
//!
//! ```text
//! before                                               after
//! Join: LeftSemi, on=[lineitem.l_orderkey = U0.k]       Join: Inner, on=[o.o_custkey = c.c_custkey]
//!   Join: Inner, on=[o.o_custkey = c.c_custkey]           Join: Inner, on=[lineitem.l_orderkey = o.o_orderkey]
//!     Join: Inner, on=[lineitem.l_orderkey = o.o_orderkey]   Scan: lineitem
//!       Scan: lineitem                                       Join: LeftSemi, on=[o.o_orderkey = U0.k]
//!       Scan: orders AS o                                      Scan: orders AS o
//!     Scan: customer AS c                                      Aggregate: … (the subquery)
//!   Aggregate: … (the subquery)                           Scan: customer AS c
//! ```
//!
//! A move is made only when it cannot make the semi join test more rows: the input it moves
//! onto must be estimated no larger than the inner join's output ([`cardinality`]). A
//! selective inner join (q21's line items joined to one nation's suppliers) keeps the semi join
//! above it, where it tests the few rows that survive. Of two eligible inputs the smaller one
//! is chosen. The semi join's residual filter must read only the chosen input's columns (and
//! the tested side's); keys go through projections of plain columns. Mark joins (an `EXISTS`
//! used as a value) add a column and stay where they are.

use std::sync::Arc;

use super::reorder_joins::cardinality;
use super::OptimizerRule;
use crate::error::Result;
use crate::expr::{Column, Expr, Transformed};
use crate::logical_plan::{Join, JoinType, LogicalPlan, PlanSchema, Projection};

/// Semi and anti joins pushed below inner joins; see the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct PushDownSemiJoins;

impl OptimizerRule for PushDownSemiJoins {
    fn name(&self) -> &'static str {
        "push_down_semi_joins"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>) -> Result<Transformed<Arc<LogicalPlan>>> {
        super::rewrite_joins(plan, pushed)
    }
}

/// A semi or anti join split into what the rule moves: the preserved input, the tested one
/// and the preserved side's key of each ON pair.
struct SemiJoin<'a> {
    join: &'a Join,
    preserved_left: bool,
    preserved: &'a Arc<LogicalPlan>,
    tested: &'a Arc<LogicalPlan>,
    keys: Vec<&'a Expr>,
    tested_keys: Vec<&'a Expr>,
}

impl<'a> SemiJoin<'a> {
    fn of(join: &'a Join) -> Option<SemiJoin<'a>> {
        let preserved_left = match join.join_type {
            JoinType::LeftSemi | JoinType::LeftAnti => true,
            JoinType::RightSemi | JoinType::RightAnti => false,
            _ => return None,
        };
        let (preserved, tested) = match preserved_left {
            true => (&join.left, &join.right),
            false => (&join.right, &join.left),
        };
        let (keys, tested_keys) = join
            .on
            .iter()
            .map(|(left, right)| match preserved_left {
                true => (left, right),
                false => (right, left),
            })
            .unzip();
        Some(SemiJoin {
            join,
            preserved_left,
            preserved,
            tested,
            keys,
            tested_keys,
        })
    }

    /// The same semi join over `preserved` with preserved-side keys `keys`.
    fn over(&self, preserved: Arc<LogicalPlan>, keys: Vec<Expr>) -> Result<Join> {
        let on = keys
            .into_iter()
            .zip(self.tested_keys.iter().map(|key| (*key).clone()))
            .map(|(key, tested)| match self.preserved_left {
                true => (key, tested),
                false => (tested, key),
            })
            .collect();
        let (left, right) = match self.preserved_left {
            true => (preserved, Arc::clone(self.tested)),
            false => (Arc::clone(self.tested), preserved),
        };
        Join::try_new(
            left,
            right,
            on,
            self.join.filter.clone(),
            self.join.join_type,
        )
    }

    /// The preserved side's columns the residual filter reads.
    fn filter_columns(&self) -> Vec<Column> {
        let schema = self.preserved.schema();
        self.join
            .filter
            .iter()
            .flat_map(|filter| filter.column_refs())
            .filter(|column| schema.has_column(column))
            .collect()
    }
}

/// `join` moved below the inner joins under its preserved side, or `None` when it stays.
fn pushed(join: &Join) -> Result<Option<Arc<LogicalPlan>>> {
    let Some(semi) = SemiJoin::of(join) else {
        return Ok(None);
    };
    match semi.preserved.as_ref() {
        LogicalPlan::Projection(projection)
            if projection
                .exprs
                .iter()
                .all(|e| matches!(e, Expr::Column(_))) =>
        {
            // Plain columns keep their names below the projection; the semi join keeps its
            // place above it unless it can go further down.
            let keys = semi.keys.iter().map(|key| (*key).clone()).collect();
            let below = semi.over(Arc::clone(&projection.input), keys)?;
            let Some(moved) = pushed(&below)? else {
                return Ok(None);
            };
            let projection = Projection::try_new(moved, projection.exprs.clone())?;
            Ok(Some(Arc::new(LogicalPlan::Projection(projection))))
        }
        LogicalPlan::Join(inner) if inner.join_type == JoinType::Inner => {
            pushed_into_inner(&semi, inner)
        }
        _ => Ok(None),
    }
}

/// The inner join `inner` (the semi join's preserved side) with the semi join applied to one
/// of its inputs.
fn pushed_into_inner(semi: &SemiJoin<'_>, inner: &Join) -> Result<Option<Arc<LogicalPlan>>> {
    let output_rows = cardinality(semi.preserved);
    let filter_columns = semi.filter_columns();
    let mut best: Option<(bool, Vec<Expr>, f64)> = None;
    for on_left in [true, false] {
        let side = if on_left { &inner.left } else { &inner.right };
        let schema = side.schema();
        if !filter_columns
            .iter()
            .all(|column| schema.has_column(column))
        {
            continue;
        }
        let Some(keys) = semi
            .keys
            .iter()
            .map(|key| key_on_side(key, inner, on_left, schema))
            .collect::<Option<Vec<Expr>>>()
        else {
            continue;
        };
        let rows = cardinality(side);
        // Never more rows to test than above the inner join.
        if rows > output_rows * (1.0 + 1e-9) {
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|(_, _, best_rows)| rows < *best_rows)
        {
            best = Some((on_left, keys, rows));
        }
    }
    let Some((on_left, keys, _)) = best else {
        return Ok(None);
    };
    let side = if on_left { &inner.left } else { &inner.right };
    let moved = semi.over(Arc::clone(side), keys)?;
    let moved = match pushed(&moved)? {
        Some(further) => further,
        None => Arc::new(LogicalPlan::Join(moved)),
    };
    let (left, right) = match on_left {
        true => (moved, Arc::clone(&inner.right)),
        false => (Arc::clone(&inner.left), moved),
    };
    let join = Join::try_new(
        left,
        right,
        inner.on.clone(),
        inner.filter.clone(),
        JoinType::Inner,
    )?;
    Ok(Some(Arc::new(LogicalPlan::Join(join))))
}

/// `key` as an expression over `schema` (one input of `inner`): itself when every column it
/// reads is there, else, for a plain column, the column `inner` equates it with on that side
/// (an `a = b` key of the same type: every row the join outputs has `a` equal to `b`).
fn key_on_side(key: &Expr, inner: &Join, on_left: bool, schema: &PlanSchema) -> Option<Expr> {
    let columns = key.column_refs();
    if columns
        .iter()
        .all(|column| column.relation.is_some() && schema.has_column(column))
    {
        return Some(key.clone());
    }
    let Expr::Column(column) = key else {
        return None;
    };
    let (this_schema, other_schema) = match on_left {
        true => (inner.left.schema(), inner.right.schema()),
        false => (inner.right.schema(), inner.left.schema()),
    };
    inner.on.iter().find_map(|(left, right)| {
        let (here, there) = match on_left {
            true => (left, right),
            false => (right, left),
        };
        let (Expr::Column(here_column), Expr::Column(there_column)) = (here, there) else {
            return None;
        };
        let same_type = here.data_type(this_schema).ok()? == there.data_type(other_schema).ok()?;
        (there_column == column && same_type && this_schema.has_column(here_column))
            .then(|| here.clone())
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use insta::assert_snapshot;

    use super::*;
    use crate::expr::{lit, qualified_col};
    use crate::logical_plan::LogicalPlanBuilder;
    use crate::optimizer::utils::fixtures::{author, author_scan, book_scan, optimize_with};
    use crate::optimizer::Optimizer;

    /// `book AS T1 ⋈ author AS T0` on `T1.author_id = T0.id`, semi-joined on `key` to
    /// `author AS U0` filtered by `U0.age > 40`.
    fn semi_over_inner(join_type: JoinType, key: Expr) -> Arc<LogicalPlan> {
        let subquery = LogicalPlanBuilder::scan(author(), "U0")
            .filter(qualified_col("U0", "age").gt(lit(40i32)))
            .unwrap()
            .build();
        book_scan()
            .join(
                author_scan().build(),
                JoinType::Inner,
                vec![(qualified_col("T1", "author_id"), qualified_col("T0", "id"))],
                None,
            )
            .unwrap()
            .join(
                subquery,
                join_type,
                vec![(key, qualified_col("U0", "id"))],
                None,
            )
            .unwrap()
            .build()
    }

    #[test]
    fn moves_the_semi_join_onto_the_smaller_input_holding_its_key() {
        // book (2 rows) ⋈ author (30): the join keeps the books' 2 rows, so testing the key
        // on either input tests no more rows than above the join. `T1.author_id` equals
        // `T0.id` on every joined row; the books are fewer, so the test goes there.
        let plan = semi_over_inner(JoinType::LeftSemi, qualified_col("T0", "id"));
        assert_snapshot!(optimize_with(PushDownSemiJoins, plan), @r"
        Join: Inner, on=[T1.author_id = T0.id]
          Join: LeftSemi, on=[T1.author_id = U0.id]
            Scan: book AS T1
            Filter: (U0.age > 40)
              Scan: author AS U0
          Scan: author AS T0
        ");
        let anti = semi_over_inner(JoinType::LeftAnti, qualified_col("T1", "author_id"));
        assert_snapshot!(optimize_with(PushDownSemiJoins, anti), @r"
        Join: Inner, on=[T1.author_id = T0.id]
          Join: LeftAnti, on=[T1.author_id = U0.id]
            Scan: book AS T1
            Filter: (U0.age > 40)
              Scan: author AS U0
          Scan: author AS T0
        ");
    }

    #[test]
    fn keeps_the_semi_join_above_a_join_that_removes_rows() {
        // A test of the author's age can only go to the authors (30 rows), but the join
        // outputs an estimated 2 (one per book): above the join it tests fewer rows.
        let plan = semi_over_inner(JoinType::LeftSemi, qualified_col("T0", "age"));
        let text = optimize_with(PushDownSemiJoins, plan);
        assert!(text.starts_with("Join: LeftSemi"), "{text}");
    }

    #[test]
    fn right_semi_joins_and_projections_are_followed() {
        let plan = semi_over_inner(JoinType::LeftSemi, qualified_col("T0", "id"));
        let LogicalPlan::Join(join) = plan.as_ref() else {
            panic!("a join");
        };
        // The swapped form, under a projection of plain columns.
        let columns: Vec<Expr> = join
            .left
            .schema()
            .fields()
            .iter()
            .map(|f| qualified_col(f.relation.clone().unwrap_or_default(), f.name()))
            .collect();
        let projected = LogicalPlanBuilder::from(Arc::clone(&join.left))
            .project(columns)
            .unwrap()
            .build();
        let swapped = Join::try_new(
            Arc::clone(&join.right),
            projected,
            join.on
                .iter()
                .map(|(l, r)| (r.clone(), l.clone()))
                .collect(),
            None,
            JoinType::RightSemi,
        )
        .unwrap();
        let text = optimize_with(PushDownSemiJoins, Arc::new(LogicalPlan::Join(swapped)));
        assert_snapshot!(text, @r"
        Projection: T1.id, T1.title, T1.author_id, T1.pages, T1.pub_date, T0.id, T0.name, T0.age
          Join: Inner, on=[T1.author_id = T0.id]
            Join: RightSemi, on=[U0.id = T1.author_id]
              Filter: (U0.age > 40)
                Scan: author AS U0
              Scan: book AS T1
            Scan: author AS T0
        ");
    }

    #[test]
    fn a_filter_on_the_other_input_or_a_mark_join_stays() {
        // The residual filter reads T0.age: only the author side could take the join, and
        // the authors (30) outnumber the joined rows (2).
        let subquery = LogicalPlanBuilder::scan(author(), "U0").build();
        let base = || {
            book_scan()
                .join(
                    author_scan().build(),
                    JoinType::Inner,
                    vec![(qualified_col("T1", "author_id"), qualified_col("T0", "id"))],
                    None,
                )
                .unwrap()
        };
        let filtered = base()
            .join(
                Arc::clone(&subquery),
                JoinType::LeftSemi,
                vec![(qualified_col("T1", "author_id"), qualified_col("U0", "id"))],
                Some(qualified_col("T0", "age").lt(qualified_col("U0", "age"))),
            )
            .unwrap()
            .build();
        assert!(optimize_with(PushDownSemiJoins, filtered).starts_with("Join: LeftSemi"));
        let mark = base()
            .join(
                subquery,
                JoinType::LeftMark,
                vec![(qualified_col("T1", "author_id"), qualified_col("U0", "id"))],
                None,
            )
            .unwrap()
            .build();
        assert!(optimize_with(PushDownSemiJoins, mark).starts_with("Join: LeftMark"));
    }

    #[test]
    fn can_be_switched_off_by_name() {
        let plan = semi_over_inner(JoinType::LeftSemi, qualified_col("T0", "id"));
        let optimizer = Optimizer::with_rules(vec![Arc::new(PushDownSemiJoins)]);
        let off = BTreeSet::from(["push_down_semi_joins".to_string()]);
        let kept = optimizer.optimize(Arc::clone(&plan), &off).unwrap();
        assert!(kept.to_string().starts_with("Join: LeftSemi"));
        let moved = optimizer.optimize(plan, &BTreeSet::new()).unwrap();
        assert!(moved.to_string().starts_with("Join: Inner"));
    }
}
