//! [`WindowExec`]: window functions computed natively over the whole input.
//!
//! A window is a pipeline breaker: every row's value may depend on any row of its partition.
//! The operator drains its input (one thread per input partition), then handles its window
//! expressions by *key set* — the (PARTITION BY, ORDER BY) pair — so that expressions sharing
//! one are computed after a single sort:
//!
//! 1. the keys are encoded with Arrow's `RowConverter` and the row positions sorted by them
//!    (a stable sort, so peers keep their input order and `row_number()` over ties is
//!    reproducible);
//! 2. partition boundaries and peer groups are found once by comparing neighbouring encoded
//!    keys (`frame::PartitionLayout`);
//! 3. each function runs over the sorted rows (`functions.rs`): ranking functions in one pass,
//!    frame aggregates in `O(n)` for running frames and through a segment tree
//!    (`segment_tree.rs`) for sliding ones, never `O(n · frame)`;
//! 4. the results are scattered back to input order with one `take`.
//!
//! The output is the input's rows in input order, followed by one column per window
//! expression, in batches of `batch_size` rows.
//!
//! With a partition fetch (set by the `replace_rank_filter_with_top_k` rule for "top k per
//! group") the rows each partition does not need are dropped first: the rows are hashed by
//! partition key and each partition's best `k` are *selected* (`select_nth_unstable`, linear
//! time) rather than sorted, so only `k` rows per partition reach the sort. A range fetch
//! (`rank() BETWEEN lo AND hi`) also drops the rows before `lo` and adds their count to the
//! kept rows' ranks (`partition_fetch.rs`).

mod frame;
mod functions;
mod partition_fetch;
mod segment_tree;

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::compute::{cast, concat_batches, take, SortOptions};
use arrow::datatypes::{DataType, Float64Type, Int64Type, SchemaRef};
use arrow::row::{RowConverter, SortField};
use rayon::prelude::*;

use self::frame::{PartitionLayout, RangeKeys};
use self::functions::{evaluate, WindowInput};
use self::partition_fetch::fetch_per_partition;
use super::sort::{
    deferred, display_sort_exprs, drain_partitions, sql_ordered_float_key, stable_sort_indices,
    PhysicalSortExpr,
};
use super::{BatchIter, ExecutionPlan, OperatorMetrics, TaskContext};
use crate::error::{EngineError, Result};
use crate::expr::{WindowFrame, WindowFrameBound, WindowFrameUnits, WindowFunctionKind};
use crate::logical_plan::PartitionFetch;
use crate::physical_expr::PhysicalExprRef;

/// One window function call bound to the input schema.
#[derive(Debug, Clone)]
pub struct PhysicalWindowExpr {
    pub fun: WindowFunctionKind,
    pub args: Vec<PhysicalExprRef>,
    pub partition_by: Vec<PhysicalExprRef>,
    pub order_by: Vec<PhysicalSortExpr>,
    /// The effective frame (PostgreSQL's default already filled in).
    pub frame: WindowFrame,
    pub output_type: DataType,
}

impl PhysicalWindowExpr {
    /// The (PARTITION BY, ORDER BY) key set, as text: expressions with equal text share a sort.
    fn key_set(&self) -> String {
        let partition: Vec<String> = self.partition_by.iter().map(ToString::to_string).collect();
        format!(
            "[{}] {}",
            partition.join(", "),
            display_sort_exprs(&self.order_by)
        )
    }

    fn has_range_offset(&self) -> bool {
        self.frame.units == WindowFrameUnits::Range
            && [self.frame.start, self.frame.end].iter().any(|b| {
                matches!(
                    b,
                    WindowFrameBound::Preceding(_) | WindowFrameBound::Following(_)
                )
            })
    }
}

impl fmt::Display for PhysicalWindowExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let args: Vec<String> = self.args.iter().map(ToString::to_string).collect();
        let partition: Vec<String> = self.partition_by.iter().map(ToString::to_string).collect();
        write!(
            f,
            "{}({}) OVER (PARTITION BY [{}] ORDER BY {} {})",
            self.fun.name(),
            args.join(", "),
            partition.join(", "),
            display_sort_exprs(&self.order_by),
            self.frame
        )
    }
}

/// Computes window functions; see the module documentation.
#[derive(Debug)]
pub struct WindowExec {
    input: Arc<dyn ExecutionPlan>,
    exprs: Arc<[PhysicalWindowExpr]>,
    schema: SchemaRef,
    partition_fetch: Option<PartitionFetch>,
    metrics: Arc<OperatorMetrics>,
}

impl WindowExec {
    /// Window functions `exprs` over `input`; `schema` is the input's columns then one per
    /// expression.
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        exprs: Vec<PhysicalWindowExpr>,
        schema: SchemaRef,
    ) -> Result<WindowExec> {
        let expected = input.schema().fields().len() + exprs.len();
        if schema.fields().len() != expected {
            return Err(EngineError::Internal(format!(
                "window schema has {} fields, expected {expected}",
                schema.fields().len()
            )));
        }
        Ok(WindowExec {
            input,
            exprs: exprs.into(),
            schema,
            partition_fetch: None,
            metrics: Arc::new(OperatorMetrics::default()),
        })
    }

    /// Produces only each partition's first rows (all expressions must be `row_number`,
    /// `rank` or `dense_rank` over one key set, which the optimizer rule checks).
    pub fn with_partition_fetch(mut self, fetch: PartitionFetch) -> WindowExec {
        self.partition_fetch = Some(fetch);
        self
    }

    /// The window expressions.
    pub fn exprs(&self) -> &[PhysicalWindowExpr] {
        &self.exprs
    }
}

impl ExecutionPlan for WindowExec {
    fn name(&self) -> &'static str {
        "WindowExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn output_partitions(&self) -> usize {
        1
    }

    fn execute(&self, partition: usize, ctx: &Arc<TaskContext>) -> Result<BatchIter> {
        if partition != 0 {
            return Err(EngineError::Internal(format!(
                "WindowExec has one partition, asked for partition {partition}"
            )));
        }
        let input = Arc::clone(&self.input);
        let exprs = Arc::clone(&self.exprs);
        let schema = Arc::clone(&self.schema);
        let fetch = self.partition_fetch;
        let metrics = Arc::clone(&self.metrics);
        let ctx = Arc::clone(ctx);
        Ok(deferred(move || {
            let parts = drain_partitions(&input, &ctx, |batches| {
                batches.collect::<Result<Vec<RecordBatch>>>()
            })?;
            let start = Instant::now();
            let batches: Vec<RecordBatch> = parts.into_iter().flatten().collect();
            // With a partition fetch only the kept rows are copied out of the input batches.
            let (batch, offsets) = match (fetch, exprs.first()) {
                (Some(fetch), Some(first)) => {
                    let fetched = fetch_per_partition(&input.schema(), &batches, first, fetch)?;
                    (fetched.batch, fetched.offsets)
                }
                _ => (concat_batches(&input.schema(), &batches)?, None),
            };
            drop(batches);
            let mut output = compute_windows(&batch, &exprs, &schema)?;
            if let Some(offsets) = offsets {
                output = add_offsets(output, &exprs, &offsets)?;
            }
            metrics.add_elapsed(start.elapsed());
            let batch_size = ctx.config.batch_size.max(1);
            let rows = output.num_rows();
            let slices: Vec<RecordBatch> = (0..rows)
                .step_by(batch_size)
                .map(|offset| output.slice(offset, batch_size.min(rows - offset)))
                .collect();
            for slice in &slices {
                metrics.record_batch(slice.num_rows());
            }
            Ok(Box::new(slices.into_iter().map(Ok)) as BatchIter)
        }))
    }

    fn describe(&self) -> String {
        let exprs: Vec<String> = self.exprs.iter().map(ToString::to_string).collect();
        match &self.partition_fetch {
            Some(fetch) => format!(
                "WindowExec: [{}], partition_fetch={}{}",
                exprs.join(", "),
                fetch.rows,
                if fetch.with_ties { " with ties" } else { "" }
            ),
            None => format!("WindowExec: [{}]", exprs.join(", ")),
        }
    }

    fn metrics(&self) -> Option<&OperatorMetrics> {
        Some(&self.metrics)
    }
}

/// The input's columns followed by every window expression's result, in input order.
fn compute_windows(
    batch: &RecordBatch,
    exprs: &[PhysicalWindowExpr],
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let rows = batch.num_rows();
    let mut results: Vec<Option<ArrayRef>> = vec![None; exprs.len()];
    let mut done = vec![false; exprs.len()];
    for first in 0..exprs.len() {
        if done[first] {
            continue;
        }
        let key_set = exprs[first].key_set();
        let members: Vec<usize> = (first..exprs.len())
            .filter(|&i| !done[i] && exprs[i].key_set() == key_set)
            .collect();
        let sorted = SortedRows::try_new(batch, &exprs[first])?;
        for i in members {
            done[i] = true;
            results[i] = Some(sorted.evaluate(batch, &exprs[i])?);
        }
    }
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    for (result, field) in results
        .into_iter()
        .zip(schema.fields().iter().skip(batch.num_columns()))
    {
        let result = result
            .ok_or_else(|| EngineError::Internal("a window expression was not computed".into()))?;
        columns.push(if result.data_type() == field.data_type() {
            result
        } else {
            cast(&result, field.data_type())?
        });
    }
    let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &options,
    )?)
}

/// `output` with `offsets` (per row) added to every window column: the rows a range fetch
/// skipped come before each kept row (only `row_number` and `rank` allow skipping).
fn add_offsets(
    output: RecordBatch,
    exprs: &[PhysicalWindowExpr],
    offsets: &[i64],
) -> Result<RecordBatch> {
    let first = output.num_columns() - exprs.len();
    let offsets: ArrayRef = Arc::new(arrow::array::Int64Array::from(offsets.to_vec()));
    let mut columns = output.columns().to_vec();
    for (column, expr) in columns[first..].iter_mut().zip(exprs) {
        if !matches!(
            expr.fun,
            WindowFunctionKind::RowNumber | WindowFunctionKind::Rank
        ) {
            return Err(EngineError::Internal(format!(
                "a partition fetch skipped rows before {}, which only row_number and rank allow",
                expr.fun.name()
            )));
        }
        let shift = cast(&offsets, column.data_type())?;
        *column = arrow::compute::kernels::numeric::add(column, &shift)?;
    }
    Ok(RecordBatch::try_new(output.schema(), columns)?)
}

/// The input's rows sorted by one key set, with its partitions and peer groups.
struct SortedRows {
    /// Sorted position → input row; `None` when the input order is already the sorted one.
    permutation: Option<UInt32Array>,
    layouts: Vec<PartitionLayout>,
    /// The first ORDER BY key in sorted order (RANGE offsets compare it).
    first_order_key: Option<(ArrayRef, bool)>,
    rows: usize,
}

/// The PARTITION BY and ORDER BY keys of `expr`, each computed by `evaluate`.
pub(super) fn window_keys(
    expr: &PhysicalWindowExpr,
    evaluate: impl Fn(&PhysicalExprRef) -> Result<ArrayRef>,
) -> Result<(Vec<ArrayRef>, Vec<ArrayRef>)> {
    let partition_keys = expr
        .partition_by
        .iter()
        .map(&evaluate)
        .collect::<Result<Vec<_>>>()?;
    let order_keys = expr
        .order_by
        .iter()
        .map(|key| evaluate(&key.expr))
        .collect::<Result<Vec<_>>>()?;
    Ok((partition_keys, order_keys))
}

impl SortedRows {
    fn try_new(batch: &RecordBatch, expr: &PhysicalWindowExpr) -> Result<SortedRows> {
        let rows = batch.num_rows();
        let evaluate = |e: &PhysicalExprRef| -> Result<ArrayRef> {
            Ok(sql_ordered_float_key(&e.evaluate(batch)?.into_array(rows)?))
        };
        let (partition_keys, order_keys) = window_keys(expr, evaluate)?;
        let encode = |keys: &[ArrayRef], options: &[SortOptions]| -> Result<arrow::row::Rows> {
            let fields = keys
                .iter()
                .zip(options)
                .map(|(k, o)| SortField::new_with_options(k.data_type().clone(), *o))
                .collect();
            Ok(RowConverter::new(fields)?.convert_columns(keys)?)
        };
        let partition_options = vec![SortOptions::default(); partition_keys.len()];
        let order_options: Vec<SortOptions> = expr.order_by.iter().map(|k| k.options).collect();
        let permutation = if partition_keys.is_empty() && order_keys.is_empty() {
            None
        } else {
            let all_keys: Vec<ArrayRef> = partition_keys
                .iter()
                .chain(&order_keys)
                .map(Arc::clone)
                .collect();
            let all_options: Vec<SortOptions> = partition_options
                .iter()
                .chain(&order_options)
                .copied()
                .collect();
            if all_keys.len() == 1 {
                // One key (a global `ORDER BY score`): Arrow's specialised one-column sort,
                // made stable, beats comparing encoded rows.
                Some(stable_sort_indices(&all_keys, &all_options, rows, None)?)
            } else {
                let encoded = encode(&all_keys, &all_options)?;
                let mut positions: Vec<u32> = (0..rows as u32).collect();
                // Stable (rayon's parallel merge sort): peers keep their input order.
                positions
                    .par_sort_by(|&a, &b| encoded.row(a as usize).cmp(&encoded.row(b as usize)));
                Some(UInt32Array::from(positions))
            }
        };
        let sorted = |array: &ArrayRef| -> Result<ArrayRef> {
            match &permutation {
                Some(p) => Ok(take(array, p, None)?),
                None => Ok(Arc::clone(array)),
            }
        };
        let sorted_partition_keys = partition_keys
            .iter()
            .map(sorted)
            .collect::<Result<Vec<_>>>()?;
        let sorted_order_keys = order_keys.iter().map(sorted).collect::<Result<Vec<_>>>()?;
        let partition_rows = (!sorted_partition_keys.is_empty())
            .then(|| encode(&sorted_partition_keys, &partition_options))
            .transpose()?;
        let order_rows = (!sorted_order_keys.is_empty())
            .then(|| encode(&sorted_order_keys, &order_options))
            .transpose()?;
        let mut layouts = Vec::new();
        let mut start = 0;
        while start < rows {
            let mut end = start + 1;
            if let Some(keys) = &partition_rows {
                while end < rows && keys.row(end) == keys.row(start) {
                    end += 1;
                }
            } else {
                end = rows;
            }
            let len = end - start;
            let mut group_of = Vec::with_capacity(len);
            let mut group_starts = vec![0];
            for i in 0..len {
                if i > 0 {
                    if let Some(keys) = &order_rows {
                        if keys.row(start + i) != keys.row(start + i - 1) {
                            group_starts.push(i);
                        }
                    }
                }
                group_of.push((group_starts.len() - 1) as u32);
            }
            group_starts.push(len);
            layouts.push(PartitionLayout {
                offset: start,
                len,
                group_of,
                group_starts,
            });
            start = end;
        }
        let first_order_key = sorted_order_keys
            .into_iter()
            .next()
            .map(|k| (k, expr.order_by[0].options.descending));
        Ok(SortedRows {
            permutation,
            layouts,
            first_order_key,
            rows,
        })
    }

    /// The RANGE offset keys of every partition.
    fn range_keys(&self) -> Result<Vec<RangeKeys>> {
        let Some((key, descending)) = &self.first_order_key else {
            return Err(EngineError::Plan(
                "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column".into(),
            ));
        };
        let sign = if *descending { -1 } else { 1 };
        let whole = match key.data_type() {
            DataType::Decimal128(_, scale) => RangeKeys::Exact {
                values: key
                    .as_primitive::<arrow::datatypes::Decimal128Type>()
                    .iter()
                    .map(|v| v.map(|v| v * sign as i128))
                    .collect(),
                unit: 10_i128.pow((*scale).max(0) as u32),
            },
            DataType::Float16 | DataType::Float32 | DataType::Float64 => RangeKeys::Float(
                cast(key, &DataType::Float64)?
                    .as_primitive::<Float64Type>()
                    .iter()
                    .map(|v| v.map(|v| v * sign as f64))
                    .collect(),
            ),
            t if t.is_integer() => RangeKeys::Exact {
                values: cast(key, &DataType::Int64)?
                    .as_primitive::<Int64Type>()
                    .iter()
                    .map(|v| v.map(|v| i128::from(v) * sign as i128))
                    .collect(),
                unit: 1,
            },
            other => {
                return Err(EngineError::Plan(format!(
                    "RANGE offsets need a numeric ORDER BY key, got {other}"
                )))
            }
        };
        Ok(self
            .layouts
            .iter()
            .map(|layout| match &whole {
                RangeKeys::Exact { values, unit } => RangeKeys::Exact {
                    values: values[layout.offset..layout.offset + layout.len].to_vec(),
                    unit: *unit,
                },
                RangeKeys::Float(values) => {
                    RangeKeys::Float(values[layout.offset..layout.offset + layout.len].to_vec())
                }
            })
            .collect())
    }

    /// `expr`'s result for every input row, in input order.
    fn evaluate(&self, batch: &RecordBatch, expr: &PhysicalWindowExpr) -> Result<ArrayRef> {
        let args = expr
            .args
            .iter()
            .map(|a| {
                let array = a.evaluate(batch)?.into_array(self.rows)?;
                match &self.permutation {
                    Some(p) if a.literal_value().is_none() => Ok(take(&array, p, None)?),
                    _ => Ok(array),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let range_keys = if expr.has_range_offset() && expr.fun.uses_frame() {
            Some(self.range_keys()?)
        } else {
            None
        };
        let input = WindowInput {
            fun: expr.fun,
            args: &args,
            frame: expr.frame,
            output_type: &expr.output_type,
            range_keys: range_keys.as_deref(),
        };
        let sorted = evaluate(&input, &self.layouts, self.rows)?;
        let Some(permutation) = &self.permutation else {
            return Ok(sorted);
        };
        let mut inverse = vec![0u32; self.rows];
        for (position, &row) in permutation.values().iter().enumerate() {
            inverse[row as usize] = position as u32;
        }
        Ok(take(&sorted, &UInt32Array::from(inverse), None)?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::AsArray;
    use arrow::datatypes::{DataType, Field, Int64Type};
    use quiver_storage::{Catalog, ScalarValue};

    use crate::execution::SessionContext;
    use crate::expr::{col, Expr, WindowFunction, WindowFunctionKind};
    use crate::logical_plan::{
        LogicalPlan, LogicalPlanBuilder, PlanSchema, QualifiedField, Values,
    };

    /// Runs `rank() OVER (PARTITION BY g ORDER BY x)` (plus `row_number()`) over the rows and
    /// returns both columns in input order.
    fn ranks(rows: &[(i64, Option<f64>)]) -> (Vec<i64>, Vec<i64>) {
        let schema = Arc::new(PlanSchema::new(vec![
            QualifiedField::new(None, Field::new("g", DataType::Int64, false)),
            QualifiedField::new(None, Field::new("x", DataType::Float64, true)),
        ]));
        let literal_rows = rows
            .iter()
            .map(|&(g, x)| {
                vec![
                    Expr::Literal(ScalarValue::Int64(Some(g))),
                    Expr::Literal(ScalarValue::Float64(x)),
                ]
            })
            .collect();
        let values = Values::try_new(schema, literal_rows).unwrap();
        let call = |fun| {
            let mut w = WindowFunction::new(fun, vec![]);
            w.partition_by = vec![col("g")];
            w.order_by = vec![col("x").sort_asc()];
            Expr::from(w)
        };
        let plan = LogicalPlanBuilder::from(LogicalPlan::Values(values))
            .window(vec![
                call(WindowFunctionKind::Rank).alias("r"),
                call(WindowFunctionKind::RowNumber).alias("n"),
            ])
            .unwrap()
            .build();
        let result = SessionContext::new(Catalog::new()).execute(plan).unwrap();
        let column = |name: &str| -> Vec<i64> {
            result
                .batches
                .iter()
                .flat_map(|b| {
                    let i = b.schema().index_of(name).unwrap();
                    b.column(i).as_primitive::<Int64Type>().values().to_vec()
                })
                .collect()
        };
        (column("r"), column("n"))
    }

    #[test]
    fn results_come_back_in_input_order_and_negative_zero_is_a_peer_of_zero() {
        let (rank, row_number) = ranks(&[
            (1, Some(2.0)),
            (2, Some(5.0)),
            (1, Some(-0.0)),
            (1, None),
            (1, Some(0.0)),
            (2, Some(5.0)),
        ]);
        assert_eq!(rank, [3, 1, 1, 4, 1, 1]);
        // Peers keep their input order in row_number().
        assert_eq!(row_number, [3, 1, 1, 4, 2, 2]);
    }
}
