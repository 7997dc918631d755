//! Join promotion and demotion: which joins are INNER and which LEFT OUTER, as Django decides.
//!
//! Django writes a join INNER unless a row of the parent may have no related row: a
//! nullable ForeignKey, a reverse or many-to-many relation (`Join.nullable`), or a join that
//! hangs from a LEFT join (an INNER join after a LEFT one would drop the rows the LEFT join
//! kept). So `values("customer__name")` over a non-null ForeignKey is an INNER join, and
//! `Count("orders")` a LEFT one. [`Compiler::join`](super::Compiler) applies that rule when it
//! makes a join.
//!
//! A `filter()` condition that can only hold when the related row exists then *demotes* the
//! LEFT joins its path walked to INNER, the parents included (Django's `JoinPromoter` votes
//! and `demote_joins`): `filter(referrer__name="Ann")` is an INNER join, while
//! `filter(referrer__name__isnull=True)`, `exclude(referrer__name="Ann")` and an OR with a
//! branch that does not need the row keep the LEFT join. Django counts votes per lookup;
//! Quiver asks the equivalent question of the resolved WHERE conjunct — is it never TRUE
//! when the relation's columns are all NULL? — which gives the same join types without the
//! vote bookkeeping. HAVING conditions demote nothing (Django's neither), and a condition on
//! an annotation demotes nothing either, since its path was walked by the annotation.

use std::collections::BTreeSet;

use quiver_engine::expr::{BinaryExpr, ScalarFunction};
use quiver_engine::{Expr, JoinType, Operator};

use super::Compiler;

impl Compiler<'_> {
    /// Demotes to INNER every LEFT join among `used` (the aliases one `filter()` call's
    /// paths walked) on which `conjunct` rejects the NULL-extended row, and the LEFT joins
    /// it hangs from.
    pub(super) fn demote_joins(&mut self, conjunct: &Expr, used: &BTreeSet<String>) {
        let mut pending: Vec<String> = used
            .iter()
            .filter(|alias| rejects_nulls(conjunct, alias))
            .cloned()
            .collect();
        while let Some(alias) = pending.pop() {
            let Some(relation) = self.relations.iter_mut().find(|r| r.alias == alias) else {
                continue;
            };
            if relation.subquery.is_some() || relation.join_type != JoinType::Left {
                continue;
            }
            let Some(join) = &relation.join else {
                continue;
            };
            relation.join_type = JoinType::Inner;
            pending.push(join.parent_alias.clone());
        }
    }
}

/// True when `predicate` is never TRUE on a row whose columns of relation `alias` are all
/// NULL. Conservative: anything it does not understand does not reject.
fn rejects_nulls(predicate: &Expr, alias: &str) -> bool {
    match predicate {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) => rejects_nulls(left, alias) || rejects_nulls(right, alias),
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => rejects_nulls(left, alias) && rejects_nulls(right, alias),
        // NOT NULL is NULL; x IS NOT NULL is FALSE for a NULL x.
        Expr::Not(inner) | Expr::IsNotNull(inner) => null_when_null(inner, alias),
        other => null_when_null(other, alias),
    }
}

/// True when `expr` is NULL whenever every column of relation `alias` is NULL.
fn null_when_null(expr: &Expr, alias: &str) -> bool {
    let strict = |e: &Expr| null_when_null(e, alias);
    match expr {
        Expr::Column(column) => column.relation.as_deref() == Some(alias),
        Expr::BinaryExpr(b) => match b.op {
            Operator::IsDistinctFrom | Operator::IsNotDistinctFrom => false,
            // NULL AND FALSE is FALSE, NULL OR TRUE is TRUE.
            Operator::And | Operator::Or => strict(&b.left) && strict(&b.right),
            _ => strict(&b.left) || strict(&b.right),
        },
        Expr::Not(e) | Expr::Negative(e) => strict(e),
        Expr::Cast(cast) => strict(&cast.expr),
        // `NULL IN ()` is FALSE, not NULL.
        Expr::InList(in_list) => !in_list.list.is_empty() && strict(&in_list.expr),
        Expr::Like(like) => strict(&like.expr) || strict(&like.pattern),
        Expr::ScalarFunction(function) => match function.func {
            ScalarFunction::Coalesce | ScalarFunction::Greatest | ScalarFunction::Least => {
                function.args.iter().all(strict)
            }
            // Django's Concat treats NULL as an empty string.
            ScalarFunction::Concat => false,
            ScalarFunction::NullIf => function.args.first().is_some_and(strict),
            _ => function.args.iter().any(strict),
        },
        Expr::Alias(alias_expr) => strict(&alias_expr.expr),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use quiver_engine::expr::qualified_col;
    use quiver_engine::lit;

    use super::*;

    #[test]
    fn only_conditions_that_need_the_related_row_reject_it() {
        let name = || qualified_col("T3", "name");
        assert!(rejects_nulls(&name().eq(lit("Ann")), "T3"));
        assert!(rejects_nulls(&name().is_not_null(), "T3"));
        assert!(rejects_nulls(
            &name().eq(lit("Ann")).or(name().eq(lit("Bo"))),
            "T3"
        ));
        assert!(!rejects_nulls(&name().is_null(), "T3"));
        assert!(!rejects_nulls(&name().eq(lit("Ann")), "customer"));
        assert!(!rejects_nulls(
            &name()
                .eq(lit("Ann"))
                .or(qualified_col("order", "id").eq(lit(1i64))),
            "T3"
        ));
        // exclude(referrer__name="Ann"): NOT (name = 'Ann' AND name IS NOT NULL) keeps NULLs.
        let excluded = Expr::Not(Box::new(name().eq(lit("Ann")).and(name().is_not_null())));
        assert!(!rejects_nulls(&excluded, "T3"));
        assert!(!rejects_nulls(&name().in_list(vec![], false), "T3"));
    }
}
