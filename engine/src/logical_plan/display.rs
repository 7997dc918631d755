//! EXPLAIN text: one line per node, children indented under their parent.

use std::fmt;

use super::LogicalPlan;
use crate::expr::Expr;

fn join_exprs<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl LogicalPlan {
    /// This node's own line, without its inputs.
    pub fn node_line(&self) -> String {
        match self {
            LogicalPlan::Scan(s) => {
                let mut line = format!("Scan: {}", s.table_name);
                if s.relation != s.table_name {
                    line.push_str(&format!(" AS {}", s.relation));
                }
                if let Some(p) = &s.projection {
                    let schema = s.source.schema();
                    let names: Vec<&str> =
                        p.iter().map(|&i| schema.field(i).name().as_str()).collect();
                    line.push_str(&format!(" projection=[{}]", names.join(", ")));
                }
                if !s.filters.is_empty() {
                    line.push_str(&format!(" filters=[{}]", join_exprs(&s.filters)));
                }
                if let Some(chunks) = &s.chunks {
                    line.push_str(&format!(
                        " chunks={}/{}",
                        chunks.len(),
                        s.snapshot.chunks().len()
                    ));
                }
                if let Some(index) = &s.index {
                    line.push_str(&format!(" {index}"));
                }
                line
            }
            LogicalPlan::Filter(f) => format!("Filter: {}", f.predicate),
            LogicalPlan::Projection(p) => format!("Projection: {}", join_exprs(&p.exprs)),
            LogicalPlan::Aggregate(a) => format!(
                "Aggregate: groupBy=[{}], aggr=[{}]",
                join_exprs(&a.group_exprs),
                join_exprs(&a.aggr_exprs)
            ),
            LogicalPlan::Sort(s) => match s.fetch {
                Some(k) => format!("TopK: fetch={k}, {}", join_exprs(&s.exprs)),
                None => format!("Sort: {}", join_exprs(&s.exprs)),
            },
            LogicalPlan::Limit(l) => match l.fetch {
                Some(n) => format!("Limit: skip={}, fetch={n}", l.skip),
                None => format!("Limit: skip={}, fetch=None", l.skip),
            },
            LogicalPlan::Join(j) => {
                let on: Vec<String> = j.on.iter().map(|(l, r)| format!("{l} = {r}")).collect();
                let mut line = format!("Join: {:?}, on=[{}]", j.join_type, on.join(", "));
                if let Some(f) = &j.filter {
                    line.push_str(&format!(", filter={f}"));
                }
                if j.join_type == super::JoinType::LeftMark {
                    if let Some(mark) = j.schema.fields().last() {
                        line.push_str(&format!(", mark={}", mark.column()));
                    }
                }
                line
            }
            LogicalPlan::Distinct(_) => "Distinct".to_string(),
            LogicalPlan::Values(v) => format!("Values: rows={}", v.rows.len()),
            LogicalPlan::SubqueryAlias(s) => format!("SubqueryAlias: {}", s.alias),
            LogicalPlan::DistinctOn(d) => format!(
                "DistinctOn: on=[{}], order=[{}]",
                join_exprs(&d.on),
                join_exprs(&d.sort)
            ),
            LogicalPlan::Union(u) if u.all => "Union: all".to_string(),
            LogicalPlan::Union(_) => "Union: distinct".to_string(),
            LogicalPlan::Intersect(_) => "Intersect".to_string(),
            LogicalPlan::Except(_) => "Except".to_string(),
            LogicalPlan::Cte(c) => match c.materialized {
                Some(true) => format!("Cte: {} materialized", c.name),
                Some(false) => format!("Cte: {} not materialized", c.name),
                None => format!("Cte: {}", c.name),
            },
            LogicalPlan::RecursiveQuery(r) => format!(
                "RecursiveQuery: {} {}",
                r.name,
                if r.distinct { "distinct" } else { "all" }
            ),
            LogicalPlan::WorkTable(w) => format!("WorkTable: {}", w.name),
            LogicalPlan::Window(w) => {
                let mut line = format!("Window: {}", join_exprs(&w.window_exprs));
                if let Some(fetch) = &w.partition_fetch {
                    line.push_str(&format!(", partition_fetch={fetch}"));
                }
                line
            }
        }
    }

    /// The indented multi-line EXPLAIN text. The plans of subquery expressions follow their
    /// node's line, each under a `Subquery:` line, before the node's inputs.
    pub fn display_indent(&self) -> String {
        let mut out = String::new();
        fn go(plan: &LogicalPlan, depth: usize, out: &mut String) {
            out.push_str(&"  ".repeat(depth));
            out.push_str(&plan.node_line());
            out.push('\n');
            for subquery in plan.subquery_plans() {
                out.push_str(&"  ".repeat(depth + 1));
                out.push_str("Subquery:\n");
                go(&subquery, depth + 2, out);
            }
            for input in plan.inputs() {
                go(input, depth + 1, out);
            }
        }
        go(self, 0, &mut out);
        out
    }

    /// Like [`display_indent`](Self::display_indent) with each node's schema appended.
    pub fn display_indent_schema(&self) -> String {
        let mut out = String::new();
        fn go(plan: &LogicalPlan, depth: usize, out: &mut String) {
            out.push_str(&"  ".repeat(depth));
            out.push_str(&format!("{} {}", plan.node_line(), plan.schema()));
            out.push('\n');
            for input in plan.inputs() {
                go(input, depth + 1, out);
            }
        }
        go(self, 0, &mut out);
        out
    }
}

impl LogicalPlan {
    /// The plans of the subquery expressions this node evaluates, in expression order.
    pub fn subquery_plans(&self) -> Vec<std::sync::Arc<LogicalPlan>> {
        let mut out = Vec::new();
        for expr in self.expressions() {
            expr.visit(&mut |e| {
                match e {
                    Expr::ScalarSubquery(s) => out.push(std::sync::Arc::clone(&s.plan)),
                    Expr::Exists(x) => out.push(std::sync::Arc::clone(&x.subquery.plan)),
                    Expr::InSubquery(i) => out.push(std::sync::Arc::clone(&i.subquery.plan)),
                    _ => {}
                }
                true
            });
        }
        out
    }
}

impl fmt::Display for LogicalPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_indent().trim_end())
    }
}
