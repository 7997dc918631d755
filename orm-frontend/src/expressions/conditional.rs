//! Conditional expressions: `Case(vec![When(q!(…), then), …]).default(else)`.
//!
//! Each `When` condition is a `Q` (or a boolean expression) resolved on its own, so the NULL
//! rules of negated filters apply inside it exactly as in `filter()`. The branches' field
//! kinds must agree unless `.output_field(…)` is given ("Expression contains mixed types"),
//! and a missing default is `ELSE NULL`, as in Django.
//!
//! One deliberate difference from Django: a plain string given as `then` or `default` is a
//! value here (`When(q, "gold")`), not a field name; write `F("x")` for a field. In Django
//! `then="gold"` would look up a field called `gold`, which is almost never what is meant.

use std::fmt;

use quiver_engine::expr::Case as CaseExpr;
use quiver_engine::{Expr, ScalarValue};

use super::expression::{cast_to, common_source_field, with_output_field, Expression, Resolved};
use super::q::Q;
use super::resolver::Resolver;
use crate::error::{Error, Result};
use crate::model::FieldType;

/// `When(condition, then=result)`: one branch of a [`Case`](fn@Case).
#[derive(Debug, Clone, PartialEq)]
pub struct When {
    pub condition: Q,
    pub then: Expression,
}

/// Django's `When(condition, then=…)`. The condition is a `Q` (`q!(age__gte = 18)`) or a
/// boolean expression (`Q::from(F("is_paid"))`).
#[allow(non_snake_case)]
pub fn When(condition: impl Into<Q>, then: impl Into<Expression>) -> When {
    When {
        condition: condition.into(),
        then: then.into(),
    }
}

/// A searched `CASE` as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub whens: Vec<When>,
    pub default: Option<Box<Expression>>,
    pub output_field: Option<FieldType>,
}

/// Django's `Case(When(…), When(…), default=…)`: the first branch whose condition holds;
/// set the `ELSE` with `.default(…)` and the type with `.output_field(…)`.
#[allow(non_snake_case)]
pub fn Case(whens: impl IntoIterator<Item = When>) -> Expression {
    Expression::Case(Case {
        whens: whens.into_iter().collect(),
        default: None,
        output_field: None,
    })
}

impl Case {
    /// True when a condition or result holds an aggregate.
    pub(crate) fn contains_aggregate(&self) -> bool {
        self.whens
            .iter()
            .any(|w| w.condition.contains_aggregate() || w.then.contains_aggregate())
            || self
                .default
                .as_ref()
                .is_some_and(|d| d.contains_aggregate())
    }

    pub(crate) fn resolve_typed(&self, r: &mut dyn Resolver) -> Result<Resolved> {
        let default = match &self.default {
            Some(d) => d.resolve_typed(r)?,
            None => Resolved::literal(ScalarValue::Null),
        };
        if self.whens.is_empty() {
            // Django compiles a Case without branches as its default alone.
            return Ok(self.cast_to_declared(default));
        }
        let mut conditions = Vec::with_capacity(self.whens.len());
        let mut results = Vec::with_capacity(self.whens.len());
        for when in &self.whens {
            if when.condition.is_empty() {
                return Err(Error::ValueError(
                    "An empty Q() can't be used as a When() condition.".to_string(),
                ));
            }
            let condition = when.condition.resolve(r)?;
            conditions.push(Resolved::predicate(condition));
            results.push(when.then.resolve_typed(r)?);
        }
        let sources: Vec<&Resolved> = results.iter().chain([&default]).collect();
        // A declared type stands in for Django's inference (and its mixed-types error).
        let output_field = match &self.output_field {
            Some(field) => Ok(Some(field.clone())),
            None => common_source_field(&sources),
        };
        let branches = results.len();
        let mut children = Vec::with_capacity(2 * branches + 1);
        for (condition, result) in conditions.into_iter().zip(results) {
            children.push(condition);
            children.push(result);
        }
        children.push(default);
        let node = Resolved::node(children, move |mut a| {
            let else_expr = a.pop().unwrap_or(Expr::Literal(ScalarValue::Null));
            let mut a = a.into_iter();
            let mut when_then = Vec::with_capacity(branches);
            while let (Some(condition), Some(result)) = (a.next(), a.next()) {
                when_then.push((condition, result));
            }
            Expr::Case(CaseExpr {
                operand: None,
                when_then,
                else_expr: Some(Box::new(else_expr)),
            })
        });
        Ok(self.cast_to_declared(with_output_field(node, output_field)?))
    }

    fn cast_to_declared(&self, resolved: Resolved) -> Resolved {
        match &self.output_field {
            Some(field) => cast_to(resolved, field.clone()),
            None => resolved,
        }
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WHEN {} THEN {}", self.condition, self.then)
    }
}

impl fmt::Display for Case {
    /// Django's `str(Case)`: `CASE WHEN … THEN …, ELSE …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CASE ")?;
        for (i, when) in self.whens.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{when}")?;
        }
        match &self.default {
            Some(d) => write!(f, ", ELSE {d}"),
            None => f.write_str(", ELSE Value(None)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::DataType;

    use super::*;
    use crate::expressions::expression::tests::{show, typed};
    use crate::expressions::{Count, Value, F};
    use crate::model::FloatField;
    use crate::q;

    #[test]
    fn case_when_resolves_each_branch() {
        assert_eq!(
            show(Case([When(q!(age__gte = 18), "adult"), When(q!(age__gte = 13), "teen")])
                .default("child")),
            "CASE WHEN (order.age >= 18) THEN 'adult' WHEN (order.age >= 13) THEN 'teen' ELSE 'child' END"
        );
        assert_eq!(
            show(Case([When(q!(region = "EU"), F("amount"))])),
            "CASE WHEN (order.region = 'EU') THEN order.amount ELSE NULL END"
        );
        assert_eq!(
            show(Case([When(!q!(region = "EU"), 1)]).default(0)),
            "CASE WHEN NOT ((order.region = 'EU') AND order.region IS NOT NULL) THEN 1 ELSE 0 END"
        );
        assert_eq!(
            show(Case([When(Q::from(F("paid")), 1)]).default(0)),
            "CASE WHEN order.paid THEN 1 ELSE 0 END"
        );
        assert_eq!(show(Case(Vec::new()).default(7)), "7");
        assert_eq!(
            typed(Case([When(q!(age = 1), 1)]).default(0)).data_type,
            DataType::Int32
        );
        assert!(typed(Case([When(q!(age = 1), 1)])).nullable);
    }

    #[test]
    fn branches_must_agree_or_declare_a_type() {
        assert_eq!(
            show(Case([When(q!(age = 1), F("age"))]).default(1.5)),
            "FieldError: Expression contains mixed types: IntegerField, FloatField. You must set \
             output_field."
        );
        assert_eq!(
            show(
                Case([When(q!(age = 1), F("age"))])
                    .default(1.5)
                    .output_field(FloatField::new())
            ),
            "CASE WHEN (order.age = 1) THEN order.age ELSE 1.5 END"
        );
        assert_eq!(
            show(
                Case([When(q!(age = 1), 1)])
                    .default(0)
                    .output_field(FloatField::new())
            ),
            "CAST(CASE WHEN (order.age = 1) THEN 1 ELSE 0 END AS Float64)"
        );
    }

    #[test]
    fn incompatible_branches_get_djangos_message() {
        assert_eq!(
            show(Case([When(q!(age = 1), F("status"))]).default(F("age"))),
            "FieldError: Expression contains mixed types: CharField, IntegerField. You must set \
             output_field."
        );
        assert_eq!(
            show(
                Case([When(q!(age = 1), F("status"))])
                    .default(F("age"))
                    .output_field(crate::model::TextField::new())
            ),
            "FieldError: CASE types Utf8 and Int32 cannot be matched"
        );
    }

    #[test]
    fn empty_conditions_and_aggregates() {
        assert_eq!(
            show(Case([When(Q::all(), 1)])),
            "ValueError: An empty Q() can't be used as a When() condition."
        );
        let counted = Case([When(q!(age__gt = 1), Count("id"))]).default(Value(0));
        assert!(counted.contains_aggregate());
        assert_eq!(
            Case([When(q!(age = 1), "x")]).to_string(),
            "CASE WHEN (AND: ('age', 1)) THEN Value('x'), ELSE Value(None)"
        );
    }
}
