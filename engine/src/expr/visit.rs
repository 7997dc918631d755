//! Generic traversal and rewriting of [`Expr`] trees.
//!
//! Rewrites report whether they changed anything ([`Transformed`]), so the optimizer can run
//! rules to a fixed point without comparing whole trees.

use std::collections::BTreeSet;

use super::{
    Alias, BinaryExpr, Case, Cast, Column, Expr, InList, InSubquery, Like, RegexMatch,
    ScalarFunctionExpr,
};
use crate::error::Result;

/// A rewritten value plus whether the rewrite changed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Transformed<T> {
    pub data: T,
    pub transformed: bool,
}

impl<T> Transformed<T> {
    /// A changed value.
    pub fn yes(data: T) -> Self {
        Transformed {
            data,
            transformed: true,
        }
    }

    /// An unchanged value.
    pub fn no(data: T) -> Self {
        Transformed {
            data,
            transformed: false,
        }
    }

    /// Applies `f` to the value, keeping the flag.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Transformed<U> {
        Transformed {
            data: f(self.data),
            transformed: self.transformed,
        }
    }
}

impl Expr {
    /// The direct children of this node.
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Column(_)
            | Expr::Literal(_)
            | Expr::OuterColumn(_)
            | Expr::ScalarSubquery(_)
            | Expr::Exists(_) => vec![],
            Expr::InSubquery(i) => vec![&i.expr],
            Expr::BinaryExpr(b) => vec![&b.left, &b.right],
            Expr::Not(e) | Expr::Negative(e) | Expr::IsNull(e) | Expr::IsNotNull(e) => vec![e],
            Expr::Case(c) => {
                let mut v: Vec<&Expr> = Vec::new();
                if let Some(o) = &c.operand {
                    v.push(o);
                }
                for (w, t) in &c.when_then {
                    v.push(w);
                    v.push(t);
                }
                if let Some(e) = &c.else_expr {
                    v.push(e);
                }
                v
            }
            Expr::Cast(c) => vec![&c.expr],
            Expr::InList(i) => std::iter::once(i.expr.as_ref()).chain(&i.list).collect(),
            Expr::Like(l) => vec![&l.expr, &l.pattern],
            Expr::RegexMatch(r) => vec![&r.expr, &r.pattern],
            Expr::ScalarFunction(s) => s.args.iter().collect(),
            Expr::Aggregate(a) => {
                let mut v: Vec<&Expr> = a.args.iter().collect();
                if let Some(f) = &a.filter {
                    v.push(f);
                }
                v
            }
            Expr::WindowFunction(w) => w
                .args
                .iter()
                .chain(&w.partition_by)
                .chain(w.order_by.iter().map(|s| &s.expr))
                .collect(),
            Expr::Alias(a) => vec![&a.expr],
        }
    }

    /// Rebuilds this node with each child replaced by `f(child)`.
    pub fn map_children<F>(self, mut f: F) -> Result<Transformed<Expr>>
    where
        F: FnMut(Expr) -> Result<Transformed<Expr>>,
    {
        let mut changed = false;
        let mut go = |e: Expr| -> Result<Expr> {
            let t = f(e)?;
            changed |= t.transformed;
            Ok(t.data)
        };
        let mut boxed = |e: Box<Expr>| -> Result<Box<Expr>> { Ok(Box::new(go(*e)?)) };
        let expr = match self {
            e @ (Expr::Column(_)
            | Expr::Literal(_)
            | Expr::OuterColumn(_)
            | Expr::ScalarSubquery(_)
            | Expr::Exists(_)) => e,
            Expr::InSubquery(i) => Expr::InSubquery(InSubquery {
                expr: boxed(i.expr)?,
                subquery: i.subquery,
                negated: i.negated,
            }),
            Expr::BinaryExpr(b) => {
                let left = boxed(b.left)?;
                let right = boxed(b.right)?;
                Expr::BinaryExpr(BinaryExpr {
                    left,
                    op: b.op,
                    right,
                })
            }
            Expr::Not(e) => Expr::Not(boxed(e)?),
            Expr::Negative(e) => Expr::Negative(boxed(e)?),
            Expr::IsNull(e) => Expr::IsNull(boxed(e)?),
            Expr::IsNotNull(e) => Expr::IsNotNull(boxed(e)?),
            Expr::Case(c) => {
                let operand = c.operand.map(&mut boxed).transpose()?;
                let mut when_then = Vec::with_capacity(c.when_then.len());
                for (w, t) in c.when_then {
                    let w = boxed(Box::new(w))?;
                    let t = boxed(Box::new(t))?;
                    when_then.push((*w, *t));
                }
                let else_expr = c.else_expr.map(&mut boxed).transpose()?;
                Expr::Case(Case {
                    operand,
                    when_then,
                    else_expr,
                })
            }
            Expr::Cast(c) => Expr::Cast(Cast {
                expr: boxed(c.expr)?,
                data_type: c.data_type,
            }),
            Expr::InList(i) => {
                let expr = boxed(i.expr)?;
                let list = i
                    .list
                    .into_iter()
                    .map(|e| boxed(Box::new(e)).map(|b| *b))
                    .collect::<Result<Vec<_>>>()?;
                Expr::InList(InList {
                    expr,
                    list,
                    negated: i.negated,
                })
            }
            Expr::Like(l) => {
                let expr = boxed(l.expr)?;
                let pattern = boxed(l.pattern)?;
                Expr::Like(Like {
                    expr,
                    pattern,
                    negated: l.negated,
                    case_insensitive: l.case_insensitive,
                })
            }
            Expr::RegexMatch(r) => {
                let expr = boxed(r.expr)?;
                let pattern = boxed(r.pattern)?;
                Expr::RegexMatch(RegexMatch {
                    expr,
                    pattern,
                    negated: r.negated,
                    case_insensitive: r.case_insensitive,
                })
            }
            Expr::ScalarFunction(s) => Expr::ScalarFunction(ScalarFunctionExpr {
                func: s.func,
                args: s
                    .args
                    .into_iter()
                    .map(|e| boxed(Box::new(e)).map(|b| *b))
                    .collect::<Result<Vec<_>>>()?,
            }),
            Expr::Aggregate(mut a) => {
                a.args = a
                    .args
                    .into_iter()
                    .map(|e| boxed(Box::new(e)).map(|b| *b))
                    .collect::<Result<Vec<_>>>()?;
                a.filter = a.filter.map(&mut boxed).transpose()?;
                Expr::Aggregate(a)
            }
            Expr::WindowFunction(mut w) => {
                let mut each = |exprs: Vec<Expr>| -> Result<Vec<Expr>> {
                    exprs
                        .into_iter()
                        .map(|e| boxed(Box::new(e)).map(|b| *b))
                        .collect()
                };
                w.args = each(std::mem::take(&mut w.args))?;
                w.partition_by = each(std::mem::take(&mut w.partition_by))?;
                let mut order_by = Vec::with_capacity(w.order_by.len());
                for key in std::mem::take(&mut w.order_by) {
                    order_by.push(crate::expr::SortExpr::new(
                        *boxed(Box::new(key.expr))?,
                        key.asc,
                        key.nulls_first,
                    ));
                }
                w.order_by = order_by;
                Expr::WindowFunction(w)
            }
            Expr::Alias(a) => Expr::Alias(Alias {
                expr: boxed(a.expr)?,
                name: a.name,
                relation: a.relation,
            }),
        };
        Ok(Transformed {
            data: expr,
            transformed: changed,
        })
    }

    /// Rewrites bottom-up: children first, then `f` on the rebuilt node.
    pub fn transform_up<F>(self, f: &mut F) -> Result<Transformed<Expr>>
    where
        F: FnMut(Expr) -> Result<Transformed<Expr>>,
    {
        let children = self.map_children(|c| c.transform_up(f))?;
        let node = f(children.data)?;
        Ok(Transformed {
            data: node.data,
            transformed: node.transformed || children.transformed,
        })
    }

    /// Rewrites top-down: `f` on the node, then on the children of its result.
    pub fn transform_down<F>(self, f: &mut F) -> Result<Transformed<Expr>>
    where
        F: FnMut(Expr) -> Result<Transformed<Expr>>,
    {
        let node = f(self)?;
        let children = node.data.map_children(|c| c.transform_down(f))?;
        Ok(Transformed {
            data: children.data,
            transformed: node.transformed || children.transformed,
        })
    }

    /// Calls `f` on every node, parents before children; stops descending where `f` is false.
    pub fn visit(&self, f: &mut impl FnMut(&Expr) -> bool) {
        if f(self) {
            for c in self.children() {
                c.visit(f);
            }
        }
    }

    /// Every column this expression references, including the columns that a subquery inside
    /// it reads from enclosing rows (outer references at any depth; those of a level further
    /// out do not resolve against this expression's input, and callers skip them).
    pub fn column_refs(&self) -> BTreeSet<Column> {
        let mut out = BTreeSet::new();
        self.visit(&mut |e| {
            match e {
                Expr::Column(c) => {
                    out.insert(c.clone());
                }
                Expr::ScalarSubquery(s) => out.extend(s.outer_columns()),
                Expr::Exists(x) => out.extend(x.subquery.outer_columns()),
                Expr::InSubquery(i) => out.extend(i.subquery.outer_columns()),
                _ => {}
            }
            true
        });
        out
    }

    /// True when an aggregate call appears anywhere inside.
    pub fn contains_aggregate(&self) -> bool {
        let mut found = false;
        self.visit(&mut |e| {
            found |= matches!(e, Expr::Aggregate(_));
            !found
        });
        found
    }

    /// True when a window function call appears anywhere inside.
    pub fn contains_window(&self) -> bool {
        let mut found = false;
        self.visit(&mut |e| {
            found |= matches!(e, Expr::WindowFunction(_));
            !found
        });
        found
    }

    /// Replaces every column reference with `f(column)` (used to requalify or substitute).
    pub fn replace_columns(self, f: &mut impl FnMut(&Column) -> Option<Expr>) -> Result<Expr> {
        Ok(self
            .transform_up(&mut |e| match &e {
                Expr::Column(c) => match f(c) {
                    Some(new) => Ok(Transformed::yes(new)),
                    None => Ok(Transformed::no(e)),
                },
                _ => Ok(Transformed::no(e)),
            })?
            .data)
    }
}

#[cfg(test)]
mod tests {
    use crate::expr::{col, lit};

    #[test]
    fn collects_columns_and_splits_conjunctions() {
        let e = col("a").gt(lit(1i64)).and(col("b").eq(col("a")));
        let cols: Vec<String> = e.column_refs().into_iter().map(|c| c.name).collect();
        assert_eq!(cols, vec!["a", "b"]);
        assert_eq!(e.split_conjunction().len(), 2);
    }
}
