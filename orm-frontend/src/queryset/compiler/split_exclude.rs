//! `exclude()` across multi-valued relations: Django's `split_exclude`.
//!
//! Over a join, a negated condition on a reverse ForeignKey or many-to-many path would test
//! each related row, not the parent. Django instead turns every such condition under a
//! negation into its own subquery — `NOT (pk IN (SELECT pk … WHERE condition))` — so
//! `exclude(books__title="A", books__pages__gt=100)` removes an author when *some* book is
//! titled A and *some* (possibly other) book is long.
//!
//! Here each such lookup becomes a *mark*: the QuerySet's model is compiled again with the
//! positive condition, selecting its distinct primary keys; that derived table is LEFT joined
//! on the primary key (one match at most, so no row repeats) and the lookup is replaced by
//! "the derived key is not NULL", which the enclosing negation turns into NOT EXISTS. The
//! mark works anywhere in a boolean tree (`exclude(Q(books__title="A") | Q(age=3))`); where
//! the negated mark is a whole WHERE conjunct — plain `exclude(books__title="A")` — the LEFT
//! join becomes the anti join it stands for (rendered `NOT EXISTS` by `sql()`).
//!
//! ```text
//! exclude(books__title="A")
//!   Join: LeftAnti, on=[author.id = U2.__pk]
//!     Scan: author
//!     SubqueryAlias: U2
//!       Distinct
//!         Projection: author.id AS __pk
//!           Filter: (book.title = 'A')
//!             Join: Left, on=[author.id = book.author_id]
//!               Scan: author
//!               Scan: book
//! ```

use std::sync::Arc;

use quiver_engine::expr::qualified_col;
use quiver_engine::{Expr, JoinType, LogicalPlanBuilder};

use super::{Compiler, JoinCondition, Relation};
use crate::error::{Error, Result};
use crate::expressions::{QChild, F, Q};
use crate::queryset::select_query::{assemble, SelectQuery};

/// The derived table's key column.
const MARK_KEY: &str = "__pk";

impl Compiler<'_> {
    /// `q` with every lookup that sits under a negation and crosses a multi-valued relation
    /// replaced by a mark (see the module docs).
    pub(super) fn split_exclude(&mut self, q: &Q) -> Result<Q> {
        self.split_under(q, false)
    }

    fn split_under(&mut self, q: &Q, negated: bool) -> Result<Q> {
        let negated = negated ^ q.negated;
        let mut children = Vec::with_capacity(q.children.len());
        for child in &q.children {
            children.push(match child {
                QChild::Lookup(path, value) if negated && self.crosses_multi_valued(path) => {
                    let name = self.exists_mark(Q::new(path.clone(), value.clone()))?;
                    QChild::Expression(F(name))
                }
                QChild::Q(inner) => QChild::Q(self.split_under(inner, negated)?),
                other => other.clone(),
            });
        }
        Ok(Q {
            connector: q.connector,
            negated: q.negated,
            children,
        })
    }

    /// Whether a lookup path passes through a reverse ForeignKey or many-to-many relation
    /// (found from the model metadata alone, without adding joins).
    fn crosses_multi_valued(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split("__").collect();
        if self.annotation_prefix(&parts).is_some() {
            return false;
        }
        let mut model = Arc::clone(&self.model);
        for name in parts {
            if name == "pk" {
                return false;
            }
            match self.registry.query_relation(&model, name) {
                Ok(Some(relation)) if relation.is_multi_valued() => return true,
                Ok(Some(relation)) => model = relation.target,
                _ => return false,
            }
        }
        false
    }

    /// Adds the derived table of the QuerySet model's keys matching `condition` and returns
    /// the name its mark resolves by.
    fn exists_mark(&mut self, condition: Q) -> Result<String> {
        let mut inner = Compiler::new(
            self.registry.clone(),
            self.catalog.clone(),
            Arc::clone(&self.model),
        )?;
        let (mut where_, mut having) = (vec![], vec![]);
        inner.resolve_filter_step(&condition, 0, &mut where_, &mut having)?;
        if !having.is_empty() {
            return Err(Error::NotSupportedError(
                "exclude() on an aggregate across a multi-valued relation".into(),
            ));
        }
        let pk = self.model.pk_field()?.column().to_string();
        let key = qualified_col(inner.base_alias(), &pk);
        let mut select = SelectQuery::aggregate(where_, vec![(MARK_KEY.to_string(), key)]);
        select.group_by = None;
        select.distinct = true;
        let plan = assemble(inner.plan_from()?, select)?;
        let alias = format!("U{}", self.relations.len() + 1);
        let derived = LogicalPlanBuilder::from(Arc::clone(&plan))
            .alias(alias.clone())
            .build();
        let right = derived.schema().as_ref().clone().with_all_nullable();
        self.schema = self.schema.join(&right);
        let base = &self.relations[0];
        self.relations.push(Relation {
            alias: alias.clone(),
            table: Arc::clone(&base.table),
            snapshot: Arc::clone(&base.snapshot),
            subquery: Some(plan),
            join: Some(JoinCondition {
                parent_alias: base.alias.clone(),
                parent_column: pk,
                column: MARK_KEY.to_string(),
            }),
            join_type: JoinType::Left,
            multi_valued: false,
        });
        // A name no field can have (field names must not end with an underscore).
        let name = format!("exists{}_", self.exists_marks.len());
        let expr = Expr::IsNotNull(Box::new(qualified_col(&alias, MARK_KEY)));
        self.exists_marks.push((name.clone(), expr));
        Ok(name)
    }

    /// A whole WHERE conjunct `NOT <mark>` is the anti join itself: the mark's derived table
    /// is joined LEFT ANTI (rendered `NOT EXISTS`) and the conjunct dropped. Returns whether
    /// that happened.
    pub(super) fn absorb_anti_join(&mut self, conjunct: &Expr) -> bool {
        let Expr::Not(inner) = conjunct else {
            return false;
        };
        let Some(index) = self.relations.iter().position(|r| {
            r.subquery.is_some()
                && r.join_type == JoinType::Left
                && **inner == Expr::IsNotNull(Box::new(qualified_col(&r.alias, MARK_KEY)))
        }) else {
            return false;
        };
        self.relations[index].join_type = JoinType::LeftAnti;
        true
    }
}
