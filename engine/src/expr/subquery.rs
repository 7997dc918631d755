//! Subquery expressions: a [`LogicalPlan`] used as a value (`(SELECT …)`), as a test
//! (`EXISTS (…)`) or as a set (`x IN (SELECT …)`), and the [`OuterColumn`] references through
//! which a subquery reads the row of an enclosing query (a *correlated* subquery).
//!
//! An outer reference is its own kind of column so that nothing mistakes it for a column of the
//! plan it sits in: pruning and pushdown leave it alone, and the schema of the subquery does not
//! need to contain it. It carries its type, because the plan it belongs to cannot resolve it.
//! Names are resolved by qualified column (`T1.id`); the ORM gives every query level its own
//! table aliases, so a reference at any nesting depth names exactly one enclosing relation.
//!
//! The optimizer rule `decorrelate_subqueries` turns the common correlated shapes into joins;
//! whatever is left is evaluated by the physical subquery expression, once for an uncorrelated
//! subquery and once per distinct outer key for a correlated one.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use arrow::datatypes::DataType;

use super::{Column, Expr, Transformed};
use crate::error::Result;
use crate::logical_plan::LogicalPlan;

/// A reference from inside a subquery to a column of an enclosing query's row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OuterColumn {
    pub column: Column,
    pub data_type: DataType,
    pub nullable: bool,
}

/// A plan used inside an expression. Equality is identity of the plan or the same EXPLAIN
/// text (plans have no structural equality of their own).
#[derive(Debug, Clone)]
pub struct Subquery {
    pub plan: Arc<LogicalPlan>,
}

impl PartialEq for Subquery {
    fn eq(&self, other: &Subquery) -> bool {
        Arc::ptr_eq(&self.plan, &other.plan)
            || self.plan.display_indent() == other.plan.display_indent()
    }
}

impl Subquery {
    /// Wraps a plan.
    pub fn new(plan: Arc<LogicalPlan>) -> Subquery {
        Subquery { plan }
    }

    /// Every outer reference inside the plan, at any depth (nested subqueries included).
    pub fn outer_columns(&self) -> BTreeSet<Column> {
        let mut out = BTreeSet::new();
        collect_outer_columns(&self.plan, &mut out);
        out
    }

    /// True when the plan reads no enclosing row.
    pub fn is_correlated(&self) -> bool {
        !self.outer_columns().is_empty()
    }
}

fn collect_outer_columns(plan: &LogicalPlan, out: &mut BTreeSet<Column>) {
    for expr in plan.expressions() {
        expr.visit(&mut |e| {
            match e {
                Expr::OuterColumn(o) => {
                    out.insert(o.column.clone());
                }
                Expr::ScalarSubquery(s) => collect_outer_columns(&s.plan, out),
                Expr::Exists(x) => collect_outer_columns(&x.subquery.plan, out),
                Expr::InSubquery(i) => collect_outer_columns(&i.subquery.plan, out),
                _ => {}
            }
            true
        });
    }
    for input in plan.inputs() {
        collect_outer_columns(input, out);
    }
}

/// `[NOT] EXISTS (subquery)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Exists {
    pub subquery: Subquery,
    pub negated: bool,
}

/// `expr [NOT] IN (subquery)`; the subquery returns one column.
#[derive(Debug, Clone, PartialEq)]
pub struct InSubquery {
    pub expr: Box<Expr>,
    pub subquery: Subquery,
    pub negated: bool,
}

/// `(SELECT …)` as a value: the one column of the subquery's single row, NULL for no row, an
/// error for more than one.
pub fn scalar_subquery(plan: Arc<LogicalPlan>) -> Expr {
    Expr::ScalarSubquery(Subquery::new(plan))
}

/// `EXISTS (plan)`.
pub fn exists(plan: Arc<LogicalPlan>) -> Expr {
    Expr::Exists(Exists {
        subquery: Subquery::new(plan),
        negated: false,
    })
}

/// `NOT EXISTS (plan)`.
pub fn not_exists(plan: Arc<LogicalPlan>) -> Expr {
    Expr::Exists(Exists {
        subquery: Subquery::new(plan),
        negated: true,
    })
}

/// `expr [NOT] IN (plan)`.
pub fn in_subquery(expr: Expr, plan: Arc<LogicalPlan>, negated: bool) -> Expr {
    Expr::InSubquery(InSubquery {
        expr: Box::new(expr),
        subquery: Subquery::new(plan),
        negated,
    })
}

/// A reference to `column` of an enclosing query.
pub fn outer_col(column: Column, data_type: DataType, nullable: bool) -> Expr {
    Expr::OuterColumn(OuterColumn {
        column,
        data_type,
        nullable,
    })
}

impl Expr {
    /// True when a subquery expression appears anywhere inside (not looking into subqueries).
    pub fn contains_subquery(&self) -> bool {
        let mut found = false;
        self.visit(&mut |e| {
            found |= matches!(
                e,
                Expr::ScalarSubquery(_) | Expr::Exists(_) | Expr::InSubquery(_)
            );
            !found
        });
        found
    }

    /// True when an outer reference appears in this expression itself (not inside a nested
    /// subquery).
    pub fn contains_outer_column(&self) -> bool {
        let mut found = false;
        self.visit(&mut |e| {
            found |= matches!(e, Expr::OuterColumn(_));
            !found
        });
        found
    }

    /// Replaces outer references for which `f` returns a value, here and inside every nested
    /// subquery plan.
    pub fn replace_outer_columns(
        self,
        f: &mut dyn FnMut(&OuterColumn) -> Option<Expr>,
    ) -> Result<Transformed<Expr>> {
        self.transform_up(&mut |e| match e {
            Expr::OuterColumn(ref o) => match f(o) {
                Some(new) => Ok(Transformed::yes(new)),
                None => Ok(Transformed::no(e)),
            },
            Expr::ScalarSubquery(s) => {
                Ok(replace_in_plan(&s.plan, f)?
                    .map(|plan| Expr::ScalarSubquery(Subquery::new(plan))))
            }
            Expr::Exists(x) => Ok(replace_in_plan(&x.subquery.plan, f)?.map(|plan| {
                Expr::Exists(Exists {
                    subquery: Subquery::new(plan),
                    negated: x.negated,
                })
            })),
            Expr::InSubquery(i) => {
                let negated = i.negated;
                let expr = i.expr;
                Ok(replace_in_plan(&i.subquery.plan, f)?.map(|plan| {
                    Expr::InSubquery(InSubquery {
                        expr,
                        subquery: Subquery::new(plan),
                        negated,
                    })
                }))
            }
            other => Ok(Transformed::no(other)),
        })
    }
}

/// Replaces outer references throughout `plan` (see [`Expr::replace_outer_columns`]).
pub fn replace_in_plan(
    plan: &Arc<LogicalPlan>,
    f: &mut dyn FnMut(&OuterColumn) -> Option<Expr>,
) -> Result<Transformed<Arc<LogicalPlan>>> {
    plan.transform_up(&mut |node| node.map_expressions(&mut |e| e.replace_outer_columns(f)))
}

impl fmt::Display for OuterColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "outer_ref({})", self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{col, lit};
    use crate::logical_plan::{LogicalPlanBuilder, PlanSchema, QualifiedField, Values};
    use arrow::datatypes::Field;

    fn one_row(name: &str) -> Arc<LogicalPlan> {
        let schema = Arc::new(PlanSchema::new(vec![QualifiedField::new(
            Some("U0".into()),
            Field::new(name, DataType::Int64, false),
        )]));
        Arc::new(LogicalPlan::Values(
            Values::try_new(schema, vec![vec![lit(1i64)]]).unwrap(),
        ))
    }

    #[test]
    fn finds_and_replaces_outer_columns_at_any_depth() {
        let outer = Column::qualified("T1", "id");
        let inner = LogicalPlanBuilder::from(one_row("a"))
            .filter(col("a").eq(outer_col(outer.clone(), DataType::Int64, false)))
            .unwrap()
            .build();
        let middle = LogicalPlanBuilder::from(one_row("b"))
            .filter(exists(inner))
            .unwrap()
            .build();
        let e = scalar_subquery(middle);
        let Expr::ScalarSubquery(s) = &e else {
            unreachable!()
        };
        assert!(s.is_correlated());
        assert_eq!(s.outer_columns().into_iter().collect::<Vec<_>>(), [outer]);
        let replaced = e.replace_outer_columns(&mut |_| Some(lit(7i64))).unwrap();
        assert!(replaced.transformed);
        let Expr::ScalarSubquery(s) = replaced.data else {
            unreachable!()
        };
        assert!(!s.is_correlated());
        assert!(s.plan.display_indent().contains("(a = 7)"));
    }
}
