//! [`SubqueryExpr`]: evaluates a subquery expression that the optimizer left in place.
//!
//! An uncorrelated subquery runs once, on first use. A correlated one runs once per distinct
//! combination of the outer values it reads (the *key*): each batch's rows are grouped by key
//! (Arrow's row format makes a key a byte string), each new key's subquery runs with those
//! values substituted as literals, and its result is cached for every later row and batch with
//! the same key. Never once per row — but still one query per key, which is why the
//! `decorrelate_subqueries` rule turns the common shapes into joins first.
//!
//! Each key's result becomes an uncorrelated expression over the rows that share the key: a
//! literal for `(SELECT …)` and `EXISTS`, and an `IN (literal list)` for `IN (SELECT …)`, which
//! keeps SQL's NULL rules of `IN` in one place (`in_list.rs`).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::{interleave, take_record_batch};
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, SortField};
use parking_lot::Mutex;
use quiver_storage::ScalarValue;

use super::cast::{cast_scalar, CastMode};
use super::in_list::create_in_list;
use super::{ColumnarValue, LiteralExpr, PhysicalExpr, PhysicalExprRef};
use crate::error::{EngineError, Result};
use crate::execution::planner::create_physical_plan;
use crate::execution::SessionConfig;
use crate::expr::{lit, replace_in_plan, Column, Expr, InList};
use crate::logical_plan::{LogicalPlan, PlanSchema};
use crate::optimizer::Optimizer;
use crate::physical_plan::cte::{current_shared_ctes, SharedCtes, SharedCtesScope};
use crate::physical_plan::{collect, TaskContext};

/// What the subquery's rows are turned into.
#[derive(Debug, Clone)]
pub enum SubqueryKind {
    /// `(SELECT …)`: the single value (NULL for no row; more than one row is an error).
    Scalar,
    /// `[NOT] EXISTS (…)`.
    Exists { negated: bool },
    /// `probe [NOT] IN (SELECT …)`, the probe over the input schema.
    In { probe: Expr, negated: bool },
}

/// The result of one run of the subquery.
#[derive(Debug, Clone)]
enum Outcome {
    Value(ScalarValue),
    Values(Vec<ScalarValue>),
}

/// A subquery evaluated once per distinct outer key; see the module documentation.
pub struct SubqueryExpr {
    kind: SubqueryKind,
    plan: Arc<LogicalPlan>,
    /// The outer columns this level supplies, with their positions in the input batches.
    keys: Vec<(Column, usize)>,
    input_schema: PlanSchema,
    config: SessionConfig,
    data_type: DataType,
    cache: Mutex<HashMap<Vec<u8>, PhysicalExprRef>>,
    /// The materialized CTEs of the query this expression was planned in, so that its runs
    /// read their rows instead of computing them again.
    shared_ctes: Option<SharedCtes>,
}

impl fmt::Debug for SubqueryExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubqueryExpr")
            .field("kind", &self.kind)
            .field("keys", &self.keys)
            .finish()
    }
}

impl fmt::Display for SubqueryExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<String> = self.keys.iter().map(|(c, _)| c.to_string()).collect();
        let what = match &self.kind {
            SubqueryKind::Scalar => "scalar".to_string(),
            SubqueryKind::Exists { negated: false } => "exists".to_string(),
            SubqueryKind::Exists { negated: true } => "not exists".to_string(),
            SubqueryKind::In { probe, negated } => {
                format!("{probe} {}in", if *negated { "not " } else { "" })
            }
        };
        write!(f, "subquery({what}, keys=[{}])", keys.join(", "))
    }
}

impl SubqueryExpr {
    /// Plans a subquery expression over rows of `schema`. Outer columns that resolve in
    /// `schema` become the key; the others belong to a subquery nested inside, which binds
    /// them when it runs (one that no level binds is reported when its plan is built).
    pub fn try_new(
        kind: SubqueryKind,
        plan: Arc<LogicalPlan>,
        outer_columns: impl IntoIterator<Item = Column>,
        schema: &PlanSchema,
        config: SessionConfig,
    ) -> Result<SubqueryExpr> {
        let mut keys = Vec::new();
        for column in outer_columns {
            if let Some(i) = schema.maybe_index_of_column(&column)? {
                keys.push((column, i));
            }
        }
        let data_type = match &kind {
            SubqueryKind::Scalar => {
                if plan.schema().len() != 1 {
                    return Err(EngineError::Plan(format!(
                        "a scalar subquery must return one column, not {}",
                        plan.schema().len()
                    )));
                }
                plan.schema().field(0).field.data_type().clone()
            }
            SubqueryKind::Exists { .. } | SubqueryKind::In { .. } => DataType::Boolean,
        };
        Ok(SubqueryExpr {
            kind,
            plan,
            keys,
            input_schema: schema.clone(),
            config,
            data_type,
            cache: Mutex::new(HashMap::new()),
            shared_ctes: current_shared_ctes(),
        })
    }

    /// Runs the subquery with the outer columns set to `values` (in key order).
    fn run(&self, values: &[ScalarValue]) -> Result<Outcome> {
        let plan = if self.keys.is_empty() {
            Arc::clone(&self.plan)
        } else {
            let mut error = None;
            let replaced = replace_in_plan(&self.plan, &mut |outer| {
                let i = self.keys.iter().position(|(c, _)| c == &outer.column)?;
                let value = values.get(i)?;
                match cast_scalar(value, &outer.data_type, CastMode::Implicit) {
                    Ok(v) => Some(lit(v)),
                    Err(e) => {
                        error.get_or_insert(e);
                        None
                    }
                }
            })?;
            if let Some(e) = error {
                return Err(e);
            }
            replaced.data
        };
        let optimized = Optimizer::new().optimize(plan, &self.config.disabled_rules)?;
        let physical = {
            let _shared = SharedCtesScope::resume(self.shared_ctes.clone());
            create_physical_plan(&optimized, &self.config)?
        };
        let batches = collect(physical, &TaskContext::new(self.config.clone()))?;
        let mut rows = Vec::new();
        for batch in &batches {
            if batch.num_columns() == 0 {
                rows.extend((0..batch.num_rows()).map(|_| ScalarValue::Null));
                continue;
            }
            let column = batch.column(0);
            for i in 0..batch.num_rows() {
                rows.push(ScalarValue::try_from_array(column.as_ref(), i)?);
            }
        }
        Ok(match &self.kind {
            SubqueryKind::Scalar => match rows.len() {
                0 => Outcome::Value(ScalarValue::null_of(&self.data_type)),
                1 => Outcome::Value(rows.remove(0)),
                _ => {
                    return Err(EngineError::Execution(
                        "more than one row returned by a subquery used as an expression"
                            .to_string(),
                    ))
                }
            },
            SubqueryKind::Exists { negated } => {
                Outcome::Value(ScalarValue::Boolean(Some(rows.is_empty() == *negated)))
            }
            SubqueryKind::In { .. } => Outcome::Values(rows),
        })
    }

    /// The uncorrelated expression a run's outcome stands for.
    fn outcome_expr(&self, outcome: Outcome) -> Result<PhysicalExprRef> {
        match (outcome, &self.kind) {
            (Outcome::Values(values), SubqueryKind::In { probe, negated }) => create_in_list(
                &InList {
                    expr: Box::new(probe.clone()),
                    list: values.into_iter().map(Expr::Literal).collect(),
                    negated: *negated,
                },
                &self.input_schema,
            ),
            (Outcome::Value(v), _) => {
                let v = if v.data_type() == self.data_type {
                    v
                } else {
                    cast_scalar(&v, &self.data_type, CastMode::Implicit)?
                };
                Ok(Arc::new(LiteralExpr::new(v)))
            }
            (Outcome::Values(_), _) => Err(EngineError::Internal(
                "a list outcome for a non-IN subquery".into(),
            )),
        }
    }

    /// The expression for `key`, running the subquery the first time the key is seen.
    fn cached(
        &self,
        key: &[u8],
        values: impl FnOnce() -> Result<Vec<ScalarValue>>,
    ) -> Result<PhysicalExprRef> {
        if let Some(found) = self.cache.lock().get(key) {
            return Ok(Arc::clone(found));
        }
        let outcome = self.run(&values()?)?;
        let expr = self.outcome_expr(outcome)?;
        self.cache.lock().insert(key.to_vec(), Arc::clone(&expr));
        Ok(expr)
    }
}

impl PhysicalExpr for SubqueryExpr {
    fn data_type(&self) -> DataType {
        self.data_type.clone()
    }

    fn nullable(&self) -> bool {
        !matches!(self.kind, SubqueryKind::Exists { .. })
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        if self.keys.is_empty() {
            return self.cached(&[], || Ok(vec![]))?.evaluate(batch);
        }
        let columns: Vec<ArrayRef> = self
            .keys
            .iter()
            .map(|(_, i)| Arc::clone(batch.column(*i)))
            .collect();
        let fields = columns
            .iter()
            .map(|c| SortField::new(c.data_type().clone()))
            .collect();
        let converter = RowConverter::new(fields)?;
        let rows = converter.convert_columns(&columns)?;
        // Rows grouped by key, in order of first appearance.
        let mut groups: Vec<Vec<u32>> = Vec::new();
        let mut group_of: HashMap<&[u8], usize> = HashMap::new();
        for i in 0..batch.num_rows() {
            let g = *group_of.entry(rows.row(i).data()).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[g].push(i as u32);
        }
        if groups.len() == 1 {
            let first = groups[0][0] as usize;
            let expr = self.cached(rows.row(first).data(), || key_values(&columns, first))?;
            return expr.evaluate(batch);
        }
        let mut parts: Vec<ArrayRef> = Vec::with_capacity(groups.len());
        let mut positions = vec![(0usize, 0usize); batch.num_rows()];
        for (g, indices) in groups.iter().enumerate() {
            let first = indices[0] as usize;
            let expr = self.cached(rows.row(first).data(), || key_values(&columns, first))?;
            let part_batch = take_record_batch(batch, &UInt32Array::from(indices.clone()))?;
            let part = expr
                .evaluate(&part_batch)?
                .into_array(part_batch.num_rows())?;
            for (position, &row) in indices.iter().enumerate() {
                positions[row as usize] = (g, position);
            }
            parts.push(part);
        }
        let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
        Ok(ColumnarValue::Array(interleave(&refs, &positions)?))
    }
}

fn key_values(columns: &[ArrayRef], row: usize) -> Result<Vec<ScalarValue>> {
    columns
        .iter()
        .map(|c| Ok(ScalarValue::try_from_array(c.as_ref(), row)?))
        .collect()
}
