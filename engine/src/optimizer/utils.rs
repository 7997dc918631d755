//! Helpers shared by several rules: building the nodes rules produce most often, and the
//! test fixtures the rules' plan snapshots are written against.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::error::Result;
use crate::expr::Expr;
use crate::logical_plan::{Filter, LogicalPlan, PlanSchema, PlanSchemaRef, Values};

/// A relation with no rows and exactly `schema` (qualifiers included, so column references
/// above it still resolve): what a provably empty subtree is replaced with.
pub(crate) fn empty_relation(schema: &PlanSchemaRef) -> Result<Arc<LogicalPlan>> {
    Ok(Arc::new(LogicalPlan::Values(Values::try_new(
        Arc::clone(schema),
        vec![],
    )?)))
}

/// `plan` under a Filter of the conjunction of `predicates`; `plan` itself when there are none.
pub(crate) fn with_filter(
    plan: Arc<LogicalPlan>,
    predicates: Vec<Expr>,
) -> Result<Arc<LogicalPlan>> {
    Ok(match Expr::conjunction(predicates) {
        Some(predicate) => Arc::new(LogicalPlan::Filter(Filter::try_new(plan, predicate)?)),
        None => plan,
    })
}

/// The positions in `schema` of every column `exprs` reference. A column a nested subquery
/// reads from a query further out does not resolve here and is skipped.
pub(crate) fn column_indices<'a>(
    exprs: impl IntoIterator<Item = &'a Expr>,
    schema: &PlanSchema,
    out: &mut BTreeSet<usize>,
) -> Result<()> {
    for expr in exprs {
        let mut direct = std::collections::BTreeSet::new();
        expr.visit(&mut |e| {
            if let Expr::Column(c) = e {
                direct.insert(c.clone());
            }
            true
        });
        for column in expr.column_refs() {
            if direct.contains(&column) {
                out.insert(schema.index_of_column(&column)?);
            } else if let Some(i) = schema.maybe_index_of_column(&column)? {
                out.insert(i);
            }
        }
    }
    Ok(())
}

/// True when `expr` may give different results for the same input row, so it must not be
/// duplicated or moved across operators. No built-in function is volatile yet; the match is
/// exhaustive so that adding one (a `random()`) forces a decision here.
pub(crate) fn is_volatile(expr: &Expr) -> bool {
    use crate::expr::ScalarFunction as F;
    let mut volatile = false;
    expr.visit(&mut |e| {
        if let Expr::ScalarFunction(f) = e {
            volatile |= match f.func {
                F::Coalesce
                | F::Greatest
                | F::Least
                | F::NullIf
                | F::Concat
                | F::Lower
                | F::Upper
                | F::Length
                | F::Substr
                | F::Trim
                | F::LTrim
                | F::RTrim
                | F::Replace
                | F::Left
                | F::Right
                | F::Reverse
                | F::Repeat
                | F::StrIndex
                | F::LPad
                | F::RPad
                | F::Abs
                | F::Round
                | F::Ceil
                | F::Floor
                | F::Mod
                | F::Power
                | F::Sqrt
                | F::Exp
                | F::Ln
                | F::Log
                | F::Sign
                | F::Extract(_)
                | F::Trunc(_)
                | F::ToDate
                | F::ToTime => false,
            };
        }
        !volatile
    });
    volatile
}

/// Tables and plans the optimizer and SQL tests are written against.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Date32Array, Int32Array, Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use quiver_storage::{Chunk, Table};

    use crate::logical_plan::{LogicalPlan, LogicalPlanBuilder};
    use crate::optimizer::{Optimizer, OptimizerRule};

    /// `author(id INT64, name UTF8, age INT32 NULL)`, one chunk per slice of ids:
    /// chunk 0 ids 1..=10, chunk 1 ids 11..=20, chunk 2 ids 21..=30 (ages NULL for 21..=30).
    pub fn author() -> Arc<Table> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, false),
            Field::new("age", DataType::Int32, true),
        ]));
        let table = Arc::new(Table::new("author", Arc::clone(&schema)));
        let chunk = |ids: std::ops::RangeInclusive<i64>, with_age: bool| {
            let id: Int64Array = ids.clone().collect();
            let name: StringArray = ids.clone().map(|i| Some(format!("author{i}"))).collect();
            let age: Int32Array = ids.map(|i| with_age.then_some(20 + i as i32)).collect();
            let columns: Vec<ArrayRef> = vec![Arc::new(id), Arc::new(name), Arc::new(age)];
            RecordBatch::try_new(Arc::clone(&schema), columns).map(Chunk::new)
        };
        table
            .rewrite(|_| {
                Ok(vec![
                    chunk(1..=10, true)?,
                    chunk(11..=20, true)?,
                    chunk(21..=30, false)?,
                ])
            })
            .expect("fixture table");
        table
    }

    /// `book(id INT64, title UTF8, author_id INT64 NULL, pages INT32, pub_date DATE)`, empty.
    pub fn book() -> Arc<Table> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("title", DataType::Utf8, false),
            Field::new("author_id", DataType::Int64, true),
            Field::new("pages", DataType::Int32, false),
            Field::new("pub_date", DataType::Date32, false),
        ]));
        let table = Arc::new(Table::new("book", Arc::clone(&schema)));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![1, 2])),
            Arc::new(StringArray::from(vec!["a", "b"])),
            Arc::new(Int64Array::from(vec![Some(1), None])),
            Arc::new(Int32Array::from(vec![100, 200])),
            Arc::new(Date32Array::from(vec![19000, 19500])),
        ];
        table
            .append(&[RecordBatch::try_new(schema, columns).expect("fixture batch")])
            .expect("fixture table");
        table
    }

    /// A scan of `author AS T0`.
    pub fn author_scan() -> LogicalPlanBuilder {
        LogicalPlanBuilder::scan(author(), "T0")
    }

    /// A scan of `book AS T1`.
    pub fn book_scan() -> LogicalPlanBuilder {
        LogicalPlanBuilder::scan(book(), "T1")
    }

    /// Runs one rule through the driver alone and returns the EXPLAIN text, checking that the
    /// rule reached its fixed point (a second run reports no change).
    pub fn optimize_with<R: OptimizerRule + Clone + 'static>(
        rule: R,
        plan: Arc<LogicalPlan>,
    ) -> String {
        let optimizer = Optimizer::with_rules(vec![Arc::new(rule.clone())]);
        let optimized = optimizer
            .optimize(plan, &BTreeSet::new())
            .expect("optimize");
        let again = rule.rewrite(Arc::clone(&optimized)).expect("rewrite");
        assert!(
            !again.transformed,
            "{} did not reach a fixed point:\n{optimized}\nbecame\n{}",
            rule.name(),
            again.data
        );
        optimized.to_string()
    }

    /// Runs every default rule and returns the EXPLAIN text.
    pub fn optimize_all(plan: Arc<LogicalPlan>) -> String {
        Optimizer::new()
            .optimize(plan, &BTreeSet::new())
            .expect("optimize")
            .to_string()
    }
}
