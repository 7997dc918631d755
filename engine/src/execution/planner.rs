//! The physical planner: one physical operator per logical node.
//!
//! Logical plans name columns; physical operators read positions. The planner binds every
//! expression to the schema of the batches it will see ([`create_physical_expr`]) — a scan's
//! pushed-down filters to the whole table, a join's residual filter to the joined row — and
//! picks the operator that implements each node. The choices that are physical rather than
//! logical are made here: how many partitions a scan is split into (parallelism only pays
//! above `parallel_threshold_rows`), top-k instead of sort when a sort carries a fetch, and
//! `DISTINCT` as a grouping on every column.
//!
//! **Runtime join filters** (switch: `SessionConfig::disable_rule("runtime_join_filters")`).
//! For a hash join that drops probe rows without a match (INNER, RIGHT, semi, RIGHT ANTI),
//! each integer probe key that is a plain column is followed down the probe side — through
//! filters, projections, aliases, unlimited sorts, the grouping keys of aggregates and the
//! preserved sides of joins — to the table scan it comes from. That scan gets a filter the
//! join fills with its build keys once built (`physical_plan/runtime_filter.rs`), so rows
//! that cannot match are dropped (and whole chunks skipped) where they are read:
//!
//! ```text
//! HashJoinExec: INNER, on=[l_orderkey = o_orderkey]       (build: orders of 1995 only)
//!   ScanExec: lineitem runtime_filters=[lineitem.l_orderkey (bitmap, 1.5M of 6M rows kept, ..)]
//!   ScanExec: orders filters=[..]
//! ```
//!
//! **Join projections** (switch: `disable_rule("join_projection")`). A projection that only
//! selects and renames columns of a hash join (what `values()` over related fields plans to)
//! is folded into the join: the probe then materializes only the columns the projection
//! keeps, and no operator runs above it.
//!
//! ```text
//! ProjectionExec: [id1@0 AS small, .., v2@11 AS medium__v2]
//!   HashJoinExec: INNER JOIN, on=[id2@1 = id2@1]
//! becomes
//! HashJoinExec: INNER JOIN, on=[id2@1 = id2@1], projection=[id1@0 AS small, .., v2@11 AS medium__v2]
//! ```

use std::cell::RefCell;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::compute::{cast_with_options, concat, CastOptions, SortOptions};
use arrow::datatypes::Schema;

use super::SessionConfig;
use crate::error::{EngineError, Result};
use crate::expr::{aggregate_type, Expr, SortExpr, WindowFunctionKind};
use crate::logical_plan::{
    Aggregate, Join, JoinType, LogicalPlan, PlanSchema, Projection, Scan, Values, Window,
};
use crate::optimizer::index_join;
use crate::physical_expr::{
    create_conjunction, create_physical_expr, ColumnExpr, PhysicalExprRef, FUSE_RANGE_FILTERS,
};
use crate::physical_plan::cte::{MaterializedCteExec, SharedCtesScope};
use crate::physical_plan::filter::FilterExec;
use crate::physical_plan::first_per_key::{FirstPerKeyExec, HashFirstPerKeyExec};
use crate::physical_plan::hash_aggregate::{AggregateSpec, HashAggregateExec};
use crate::physical_plan::hash_join::{HashJoinExec, JOIN_PROJECTION};
use crate::physical_plan::index_nested_loop_join::IndexNestedLoopJoinExec;
use crate::physical_plan::index_scan::IndexScanExec;
use crate::physical_plan::limit::LimitExec;
use crate::physical_plan::projection::ProjectionExec;
use crate::physical_plan::recursive_query::{work_table_exec, RecursiveQueryExec};
use crate::physical_plan::runtime_filter::{
    is_filterable_type, RuntimeFilter, RuntimeFilterExpr, RUNTIME_JOIN_FILTERS,
};
use crate::physical_plan::scan::{scan_work_rows, ScanExec};
use crate::physical_plan::set_operation::{SetOperationExec, SetOperator};
use crate::physical_plan::sort::{PhysicalSortExpr, SortExec};
use crate::physical_plan::top_k::TopKExec;
use crate::physical_plan::union::UnionExec;
use crate::physical_plan::values::ValuesExec;
use crate::physical_plan::window::{PhysicalWindowExpr, WindowExec};
use crate::physical_plan::ExecutionPlan;

/// Casts that fail on values they cannot convert instead of turning them into NULLs.
const STRICT_CAST: CastOptions<'static> = CastOptions {
    safe: false,
    format_options: arrow::util::display::FormatOptions::new(),
};

thread_local! {
    /// The configuration of the plan being built on this thread. Physical subquery
    /// expressions run their plans with it; they are created deep inside expression planning,
    /// which takes no configuration of its own.
    static PLANNING_CONFIG: RefCell<Option<SessionConfig>> = const { RefCell::new(None) };

    /// Runtime join filters waiting for their scan to be planned: the address of the
    /// logical [`Scan`] they belong to and the filter. A join registers them while its probe
    /// side is planned and removes whatever its probe side did not take.
    static PENDING_RUNTIME_FILTERS: RefCell<Vec<(usize, Arc<RuntimeFilterExpr>)>> =
        const { RefCell::new(Vec::new()) };
}

/// The configuration of the physical plan being built on this thread (the default outside
/// of [`create_physical_plan`]).
pub(crate) fn planning_config() -> SessionConfig {
    PLANNING_CONFIG.with(|c| c.borrow().clone().unwrap_or_default())
}

/// Restores the previous planning configuration when dropped.
struct PlanningConfigGuard(Option<SessionConfig>);

impl PlanningConfigGuard {
    fn set(config: &SessionConfig) -> PlanningConfigGuard {
        PlanningConfigGuard(PLANNING_CONFIG.with(|c| c.replace(Some(config.clone()))))
    }
}

impl Drop for PlanningConfigGuard {
    fn drop(&mut self) {
        let previous = self.0.take();
        PLANNING_CONFIG.with(|c| *c.borrow_mut() = previous);
    }
}

/// Turns an (optimized) logical plan into an executable operator tree.
pub fn create_physical_plan(
    plan: &LogicalPlan,
    config: &SessionConfig,
) -> Result<Arc<dyn ExecutionPlan>> {
    let _config = PlanningConfigGuard::set(config);
    let _shared_ctes = SharedCtesScope::enter();
    Ok(match plan {
        LogicalPlan::Scan(scan) => plan_scan(scan, config)?,
        LogicalPlan::Filter(filter) => {
            let predicate = create_physical_expr(&filter.predicate, filter.input.schema())?;
            let input = create_physical_plan(&filter.input, config)?;
            Arc::new(FilterExec::try_new(input, predicate)?)
        }
        LogicalPlan::Projection(projection) => {
            if let LogicalPlan::Join(join) = projection.input.as_ref() {
                if let Some(columns) = join_projection(projection, config)? {
                    return plan_join(join, Some((columns, projection)), config);
                }
            }
            let exprs = bind_all(&projection.exprs, projection.input.schema())?;
            let input = create_physical_plan(&projection.input, config)?;
            Arc::new(ProjectionExec::try_new(
                input,
                exprs,
                projection.schema.arrow_schema(),
            )?)
        }
        LogicalPlan::Aggregate(aggregate) => plan_aggregate(aggregate, config)?,
        LogicalPlan::Distinct(distinct) => {
            let input = create_physical_plan(&distinct.input, config)?;
            distinct_rows(input, distinct.input.schema())?
        }
        LogicalPlan::Sort(sort) => {
            let exprs = bind_sort_exprs(&sort.exprs, sort.input.schema())?;
            let input = create_physical_plan(&sort.input, config)?;
            match sort.fetch {
                Some(k) => Arc::new(TopKExec::try_new(input, exprs, k)?),
                None => Arc::new(SortExec::try_new(input, exprs)?),
            }
        }
        LogicalPlan::Limit(limit) => {
            let input = create_physical_plan(&limit.input, config)?;
            Arc::new(LimitExec::new(input, limit.skip, limit.fetch))
        }
        LogicalPlan::Join(join) => plan_join(join, None, config)?,
        LogicalPlan::Values(values) => plan_values(values)?,
        // Renaming the relation only changes how columns are resolved, which is done by now.
        LogicalPlan::SubqueryAlias(alias) => create_physical_plan(&alias.input, config)?,
        LogicalPlan::DistinctOn(distinct_on) => {
            let schema = distinct_on.input.schema();
            let on = bind_all(&distinct_on.on, schema)?;
            let input = create_physical_plan(&distinct_on.input, config)?;
            let order = bind_sort_exprs(&distinct_on.sort, schema)?;
            // One pass keeping each key's best row; sorting everything is the fallback for
            // key or order types the hash path cannot compare.
            match HashFirstPerKeyExec::try_new(Arc::clone(&input), on.clone(), order)? {
                Some(hashed) => Arc::new(hashed),
                None => {
                    let mut keys: Vec<SortExpr> = distinct_on
                        .on
                        .iter()
                        .map(|e| e.clone().sort_asc())
                        .collect();
                    keys.extend(distinct_on.sort.iter().cloned());
                    let sorted =
                        Arc::new(SortExec::try_new(input, bind_sort_exprs(&keys, schema)?)?);
                    Arc::new(FirstPerKeyExec::try_new(sorted, on)?)
                }
            }
        }
        LogicalPlan::Union(union) => {
            let inputs = union
                .inputs
                .iter()
                .map(|input| create_physical_plan(input, config))
                .collect::<Result<Vec<_>>>()?;
            let all: Arc<dyn ExecutionPlan> =
                Arc::new(UnionExec::try_new(inputs, union.schema.arrow_schema())?);
            if union.all {
                all
            } else {
                distinct_rows(all, &union.schema)?
            }
        }
        LogicalPlan::Intersect(intersect) => Arc::new(SetOperationExec::try_new(
            create_physical_plan(&intersect.left, config)?,
            create_physical_plan(&intersect.right, config)?,
            SetOperator::Intersect,
            intersect.schema.arrow_schema(),
        )?),
        LogicalPlan::Except(except) => Arc::new(SetOperationExec::try_new(
            create_physical_plan(&except.left, config)?,
            create_physical_plan(&except.right, config)?,
            SetOperator::Except,
            except.schema.arrow_schema(),
        )?),
        // A materialized CTE runs once for all its references; any other means its query
        // wherever it is read.
        LogicalPlan::Cte(cte) if cte.materialized == Some(true) => {
            Arc::new(MaterializedCteExec::try_new(cte, || {
                create_physical_plan(&cte.input, config)
            })?)
        }
        LogicalPlan::Cte(cte) => create_physical_plan(&cte.input, config)?,
        LogicalPlan::RecursiveQuery(recursive) => Arc::new(RecursiveQueryExec::try_new(
            recursive,
            create_physical_plan(&recursive.static_term, config)?,
            config.clone(),
        )?),
        LogicalPlan::WorkTable(work_table) => work_table_exec(work_table)?,
        LogicalPlan::Window(window) => plan_window(window, config)?,
    })
}

/// A join's operator. `projection`: a column-only projection above the join (the columns it
/// keeps, and the projection itself), folded into a hash join's output; other join operators
/// get a `ProjectionExec` above them.
fn plan_join(
    join: &Join,
    projection: Option<(Vec<usize>, &Projection)>,
    config: &SessionConfig,
) -> Result<Arc<dyn ExecutionPlan>> {
    if let Some(as_written) = unswapped_for_index(join, config)? {
        let plan = create_physical_plan(&Arc::new(LogicalPlan::Join(as_written)), config)?;
        return project_join(plan, projection);
    }
    let (left_schema, right_schema) = (join.left.schema(), join.right.schema());
    let on = join
        .on
        .iter()
        .map(|(l, r)| {
            Ok((
                create_physical_expr(l, left_schema)?,
                create_physical_expr(r, right_schema)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let filter = match &join.filter {
        Some(f) => Some(create_physical_expr(f, &left_schema.join(right_schema))?),
        None => None,
    };
    let index = index_join(join, config);
    let runtime_filters = match index {
        Some(_) => Vec::new(),
        None => runtime_filter_targets(join, config),
    };
    let left = plan_probe_side(&join.left, &runtime_filters, config)?;
    let right = create_physical_plan(&join.right, config)?;
    if let Some(inner) = index {
        let inner_filters = bind_all(&inner.scan.filters, &inner.scan.table_schema())?;
        let plan = Arc::new(IndexNestedLoopJoinExec::try_new(
            left,
            right,
            inner,
            inner_filters,
            on,
            filter,
            join.join_type,
            join.schema.arrow_schema(),
        )?);
        return project_join(plan, projection);
    }
    let hash_join = HashJoinExec::try_new(
        left,
        right,
        on,
        filter,
        join.join_type,
        join.schema.arrow_schema(),
    )?
    .with_runtime_filters(
        runtime_filters
            .iter()
            .map(|(_, expr)| Arc::clone(expr.filter()))
            .collect(),
    );
    Ok(match projection {
        Some((columns, projection)) => {
            Arc::new(hash_join.with_projection(columns, projection.schema.arrow_schema())?)
        }
        None => Arc::new(hash_join),
    })
}

/// `plan` under the projection [`plan_join`] was asked to fold, for a join operator that
/// cannot take it.
fn project_join(
    plan: Arc<dyn ExecutionPlan>,
    projection: Option<(Vec<usize>, &Projection)>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let Some((_, projection)) = projection else {
        return Ok(plan);
    };
    let exprs = bind_all(&projection.exprs, projection.input.schema())?;
    Ok(Arc::new(ProjectionExec::try_new(
        plan,
        exprs,
        projection.schema.arrow_schema(),
    )?))
}

/// The input columns a projection over a join keeps, when it only selects (and renames)
/// columns and the `join_projection` rule is on: the hash join can then output them itself.
fn join_projection(projection: &Projection, config: &SessionConfig) -> Result<Option<Vec<usize>>> {
    if config.disabled_rules.contains(JOIN_PROJECTION) {
        return Ok(None);
    }
    let input = projection.input.schema();
    let mut columns = Vec::with_capacity(projection.exprs.len());
    for expr in &projection.exprs {
        let column = match expr {
            Expr::Column(column) => column,
            Expr::Alias(alias) => match alias.expr.as_ref() {
                Expr::Column(column) => column,
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
        columns.push(input.index_of_column(column)?);
    }
    let (input, output) = (input.arrow_schema(), projection.schema.arrow_schema());
    let same_types = columns
        .iter()
        .zip(output.fields())
        .all(|(&c, field)| input.field(c).data_type() == field.data_type());
    Ok(same_types.then_some(columns))
}

/// A right semi (anti) join as the left one it was written as, when that one can run as an
/// index nested loop join: `choose_build_side` swapped it to hash the smaller side, but when
/// the larger side is an indexed table that few outer rows probe, the index reads less than
/// either hash join.
fn unswapped_for_index(join: &Join, config: &SessionConfig) -> Result<Option<Join>> {
    if !join.join_type.outputs_right_only() {
        return Ok(None);
    }
    let as_written = join.swapped()?;
    Ok(as_written.filter(|as_written| index_join(as_written, config).is_some()))
}

/// `DISTINCT` over `input` (whose rows have `schema`): a grouping on every column.
fn distinct_rows(
    input: Arc<dyn ExecutionPlan>,
    schema: &PlanSchema,
) -> Result<Arc<dyn ExecutionPlan>> {
    let group_exprs = (0..schema.len())
        .map(|i| {
            let field = &schema.field(i).field;
            Ok(Arc::new(ColumnExpr::new(
                field.name().clone(),
                i,
                field.data_type().clone(),
                field.is_nullable(),
            )) as PhysicalExprRef)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(HashAggregateExec::try_new(
        input,
        group_exprs,
        vec![],
        schema.arrow_schema(),
    )?))
}

fn plan_window(window: &Window, config: &SessionConfig) -> Result<Arc<dyn ExecutionPlan>> {
    let input_schema = window.input.schema();
    let exprs = window
        .window_exprs
        .iter()
        .map(|e| {
            let Expr::WindowFunction(call) = e.clone().unalias() else {
                return Err(EngineError::Internal(format!("not a window function: {e}")));
            };
            let args = bind_all(&call.args, input_schema)?;
            // ntile's bucket count, lag/lead's offset and nth_value's position are read once.
            let constant = match call.fun {
                WindowFunctionKind::Ntile => Some(0),
                WindowFunctionKind::Lag
                | WindowFunctionKind::Lead
                | WindowFunctionKind::NthValue => Some(1),
                _ => None,
            };
            if let Some(arg) = constant.and_then(|i| args.get(i)) {
                if arg.literal_value().is_none() {
                    return Err(EngineError::Plan(format!(
                        "argument {} of {} must be a constant",
                        constant.unwrap_or(0) + 1,
                        call.fun.name()
                    )));
                }
            }
            Ok(PhysicalWindowExpr {
                fun: call.fun,
                args,
                partition_by: bind_all(&call.partition_by, input_schema)?,
                order_by: bind_sort_exprs(&call.order_by, input_schema)?,
                frame: call.effective_frame(),
                output_type: e.data_type(input_schema)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let input = create_physical_plan(&window.input, config)?;
    let exec = WindowExec::try_new(input, exprs, window.schema.arrow_schema())?;
    Ok(Arc::new(match window.partition_fetch {
        Some(fetch) => exec.with_partition_fetch(fetch),
        None => exec,
    }))
}

/// Binds each expression to `schema`.
fn bind_all(exprs: &[Expr], schema: &PlanSchema) -> Result<Vec<PhysicalExprRef>> {
    exprs
        .iter()
        .map(|e| create_physical_expr(e, schema))
        .collect()
}

fn bind_sort_exprs(exprs: &[SortExpr], schema: &PlanSchema) -> Result<Vec<PhysicalSortExpr>> {
    exprs
        .iter()
        .map(|e| {
            Ok(PhysicalSortExpr {
                expr: create_physical_expr(&e.expr, schema)?,
                options: SortOptions {
                    descending: !e.asc,
                    nulls_first: e.nulls_first,
                },
            })
        })
        .collect()
}

/// Plans a hash join's probe side with `runtime_filters` (see [`runtime_filter_targets`])
/// waiting for their scans; a filter whose scan was not planned as a [`ScanExec`] is dropped.
fn plan_probe_side(
    probe: &LogicalPlan,
    runtime_filters: &[(usize, Arc<RuntimeFilterExpr>)],
    config: &SessionConfig,
) -> Result<Arc<dyn ExecutionPlan>> {
    if runtime_filters.is_empty() {
        return create_physical_plan(probe, config);
    }
    PENDING_RUNTIME_FILTERS.with(|pending| {
        pending.borrow_mut().extend(
            runtime_filters
                .iter()
                .map(|(scan, expr)| (*scan, Arc::clone(expr))),
        );
    });
    let _withdrawn = PendingFiltersGuard(runtime_filters);
    create_physical_plan(probe, config)
}

/// Takes the runtime filters a probe side left unclaimed off the waiting list when its
/// planning ends, even by a panic: worker threads outlive queries, and a stale entry's scan
/// address could be a later scan's.
struct PendingFiltersGuard<'a>(&'a [(usize, Arc<RuntimeFilterExpr>)]);

impl Drop for PendingFiltersGuard<'_> {
    fn drop(&mut self) {
        PENDING_RUNTIME_FILTERS.with(|pending| {
            pending
                .borrow_mut()
                .retain(|(_, waiting)| !self.0.iter().any(|(_, ours)| Arc::ptr_eq(ours, waiting)));
        });
    }
}

/// The runtime filters a hash join can give its probe side: for each key pair whose probe key
/// is an integer column traced to exactly one table scan, the scan's address and a filter on
/// the scan's column. Empty when the join keeps unmatched probe rows (LEFT, FULL, anti, mark
/// joins) or the rule is switched off.
fn runtime_filter_targets(
    join: &Join,
    config: &SessionConfig,
) -> Vec<(usize, Arc<RuntimeFilterExpr>)> {
    let drops_unmatched_probe_rows = matches!(
        join.join_type,
        JoinType::Inner
            | JoinType::Right
            | JoinType::LeftSemi
            | JoinType::RightSemi
            | JoinType::RightAnti
    );
    if !drops_unmatched_probe_rows || config.disabled_rules.contains(RUNTIME_JOIN_FILTERS) {
        return Vec::new();
    }
    let (left_schema, right_schema) = (join.left.schema(), join.right.schema());
    let mut targets = Vec::new();
    for (key_index, (left_key, right_key)) in join.on.iter().enumerate() {
        let Expr::Column(column) = left_key.clone().unalias() else {
            continue;
        };
        let filterable = |key: &Expr, schema: &PlanSchema| {
            key.data_type(schema)
                .is_ok_and(|data_type| is_filterable_type(&data_type))
        };
        if !filterable(left_key, left_schema) || !filterable(right_key, right_schema) {
            continue;
        }
        let Ok(position) = left_schema.index_of_column(&column) else {
            continue;
        };
        let Some((scan, table_column)) = trace_to_scan(&join.left, position) else {
            continue;
        };
        let address = scan as *const Scan as usize;
        // A scan shared by two branches (an inlined CTE) would filter both.
        if scans_at(&join.left, address) != 1 {
            continue;
        }
        let name = format!(
            "{}.{}",
            scan.relation,
            scan.source.schema().field(table_column).name()
        );
        let filter = RuntimeFilter::new(key_index);
        targets.push((
            address,
            Arc::new(RuntimeFilterExpr::new(filter, table_column, name)),
        ));
    }
    targets
}

/// Follows output column `position` of `plan` down to the table column it reads, through
/// nodes that pass the column's values through and keep or drop whole rows by them: so that
/// dropping a row at the scan drops exactly the output rows that came from it.
fn trace_to_scan(plan: &LogicalPlan, position: usize) -> Option<(&Scan, usize)> {
    match plan {
        LogicalPlan::Scan(scan) => {
            if scan.index.is_some() {
                return None;
            }
            let column = match &scan.projection {
                Some(projection) => *projection.get(position)?,
                None => position,
            };
            Some((scan, column))
        }
        LogicalPlan::Filter(filter) => trace_to_scan(&filter.input, position),
        LogicalPlan::SubqueryAlias(alias) => trace_to_scan(&alias.input, position),
        LogicalPlan::Sort(sort) if sort.fetch.is_none() => trace_to_scan(&sort.input, position),
        LogicalPlan::Projection(projection) => {
            let input = &projection.input;
            column_position(projection.exprs.get(position)?, input.schema())
                .and_then(|inner| trace_to_scan(input, inner))
        }
        // A grouping key: dropping its rows drops whole groups.
        LogicalPlan::Aggregate(aggregate) => {
            let input = &aggregate.input;
            column_position(aggregate.group_exprs.get(position)?, input.schema())
                .and_then(|inner| trace_to_scan(input, inner))
        }
        LogicalPlan::Join(join) => {
            let left_len = join.left.schema().len();
            let on_left = position < left_len;
            match join.join_type {
                JoinType::Inner => match on_left {
                    true => trace_to_scan(&join.left, position),
                    false => trace_to_scan(&join.right, position - left_len),
                },
                JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark
                    if on_left =>
                {
                    trace_to_scan(&join.left, position)
                }
                JoinType::Right if !on_left => trace_to_scan(&join.right, position - left_len),
                JoinType::RightSemi | JoinType::RightAnti => trace_to_scan(&join.right, position),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The input position of `expr` when it is a plain column of `schema`.
fn column_position(expr: &Expr, schema: &PlanSchema) -> Option<usize> {
    match expr.clone().unalias() {
        Expr::Column(column) => schema.index_of_column(&column).ok(),
        _ => None,
    }
}

/// How many times the scan at `address` occurs in `plan`.
fn scans_at(plan: &LogicalPlan, address: usize) -> usize {
    let here = match plan {
        LogicalPlan::Scan(scan) => usize::from(scan as *const Scan as usize == address),
        _ => 0,
    };
    here + plan
        .inputs()
        .into_iter()
        .map(|input| scans_at(input, address))
        .sum::<usize>()
}

/// The runtime filters waiting for `scan`, taken off the waiting list.
fn take_runtime_filters(scan: &Scan) -> Vec<Arc<RuntimeFilterExpr>> {
    let address = scan as *const Scan as usize;
    PENDING_RUNTIME_FILTERS.with(|pending| {
        let mut pending = pending.borrow_mut();
        let mut taken = Vec::new();
        pending.retain(|(waiting, expr)| {
            let ours = *waiting == address;
            if ours {
                taken.push(Arc::clone(expr));
            }
            !ours
        });
        taken
    })
}

fn plan_scan(scan: &Scan, config: &SessionConfig) -> Result<Arc<dyn ExecutionPlan>> {
    let table_schema = scan.table_schema();
    let runtime_filters = take_runtime_filters(scan);
    if let Some(lookup) = &scan.index {
        let filters = bind_all(&scan.filters, &table_schema)?;
        return Ok(Arc::new(IndexScanExec::try_new(scan, lookup, filters)?));
    }
    // A column's lower and upper bound are tested in one pass.
    let filters = if config.disabled_rules.contains(FUSE_RANGE_FILTERS) {
        bind_all(&scan.filters, &table_schema)?
    } else {
        create_conjunction(&scan.filters, &table_schema)?
    };
    // Parallelism is decided on the rows actually read: after chunk pruning a big table may
    // leave one chunk, which is not worth starting threads for.
    let chunks = scan.snapshot.chunks();
    let rows_to_read = match &scan.chunks {
        Some(selected) => selected
            .iter()
            .filter_map(|&c| chunks.get(c))
            .map(|c| c.num_rows())
            .sum(),
        None => scan.snapshot.num_rows(),
    };
    let partitions =
        if scan_work_rows(rows_to_read, &scan.filters) >= config.parallel_threshold_rows {
            config.target_partitions.max(1)
        } else {
            1
        };
    Ok(Arc::new(
        ScanExec::try_new(
            scan.table_name.clone(),
            Arc::clone(&scan.snapshot),
            scan.source.schema(),
            scan.projection.clone(),
            filters,
            scan.chunks.clone(),
            partitions,
        )?
        .with_runtime_filters(runtime_filters),
    ))
}

fn plan_aggregate(aggregate: &Aggregate, config: &SessionConfig) -> Result<Arc<dyn ExecutionPlan>> {
    let input_schema = aggregate.input.schema();
    let group_exprs = bind_all(&aggregate.group_exprs, input_schema)?;
    let aggregates = aggregate
        .aggr_exprs
        .iter()
        .map(|e| {
            let Expr::Aggregate(call) = e.clone().unalias() else {
                return Err(EngineError::Internal(format!(
                    "not an aggregate expression: {e}"
                )));
            };
            let arg_types = call
                .args
                .iter()
                .map(|arg| arg.data_type(input_schema))
                .collect::<Result<Vec<_>>>()?;
            Ok(AggregateSpec {
                func: call.func,
                args: bind_all(&call.args, input_schema)?,
                distinct: call.distinct,
                filter: match &call.filter {
                    Some(f) => Some(create_physical_expr(f, input_schema)?),
                    None => None,
                },
                output_type: aggregate_type(call.func, &arg_types)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let input = create_physical_plan(&aggregate.input, config)?;
    Ok(Arc::new(HashAggregateExec::try_new(
        input,
        group_exprs,
        aggregates,
        aggregate.schema.arrow_schema(),
    )?))
}

/// Evaluates the literal rows once into a single batch. Each value is computed by the
/// expression evaluator over a one-row, zero-column batch (a row may hold `1 + 2` or a cast)
/// and cast to its column's declared type.
fn plan_values(values: &Values) -> Result<Arc<dyn ExecutionPlan>> {
    let schema = values.schema.arrow_schema();
    if values.rows.is_empty() {
        return Ok(Arc::new(ValuesExec::try_new(schema, vec![])?));
    }
    let no_columns = PlanSchema::empty();
    let one_row = RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )?;
    let columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(c, field)| {
            let cells = values
                .rows
                .iter()
                .map(|row| {
                    let Some(cell) = row.get(c) else {
                        return Err(EngineError::Plan(format!(
                            "VALUES row has {} columns, expected {}",
                            row.len(),
                            schema.fields().len()
                        )));
                    };
                    let value = create_physical_expr(cell, &no_columns)?
                        .evaluate(&one_row)?
                        .into_array(1)?;
                    Ok(cast_with_options(&value, field.data_type(), &STRICT_CAST)?)
                })
                .collect::<Result<Vec<ArrayRef>>>()?;
            let parts: Vec<_> = cells.iter().map(|a| a.as_ref()).collect();
            Ok(concat(&parts)?)
        })
        .collect::<Result<Vec<_>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(values.rows.len()));
    let batch = RecordBatch::try_new_with_options(Arc::clone(&schema), columns, &options)
        .map_err(|e| EngineError::Plan(format!("invalid VALUES rows: {e}")))?;
    Ok(Arc::new(ValuesExec::try_new(schema, vec![batch])?))
}

#[cfg(test)]
mod tests {
    use arrow::array::{AsArray, BooleanArray, DictionaryArray, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Int32Type, Int64Type};
    use quiver_storage::{Catalog, IndexDefinition, Table, CHUNK_ROWS};

    use super::*;
    use crate::execution::{QueryResult, SessionContext};
    use crate::expr::qualified_col;
    use crate::logical_plan::{DistinctOn, JoinType, LogicalPlanBuilder, QualifiedField, Sort};
    use crate::physical_plan::display_plan;
    use crate::{col, lit, ScalarValue};

    const KINDS: [&str; 3] = ["red", "green", "blue"];

    fn amount(i: i64) -> Option<i64> {
        (i % 11 != 0).then_some((i * 7919) % 1000)
    }

    fn flag(i: i64) -> Option<bool> {
        (i % 5 != 4).then_some(i % 3 == 0)
    }

    /// `orders(id, amount, flag, name, kind)` with `rows` rows derived from `id` by the
    /// functions above; `kind` is dictionary-encoded.
    fn orders(catalog: &Catalog, rows: usize) -> Arc<Table> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("amount", DataType::Int64, true),
            Field::new("flag", DataType::Boolean, true),
            Field::new("name", DataType::Utf8, true),
            Field::new(
                "kind",
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                true,
            ),
        ]));
        let table = catalog.create_table("orders", Arc::clone(&schema)).unwrap();
        let ids = 0..rows as i64;
        let kind: DictionaryArray<Int32Type> =
            ids.clone().map(|i| Some(KINDS[(i % 3) as usize])).collect();
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(ids.clone().collect::<Int64Array>()),
                Arc::new(ids.clone().map(amount).collect::<Int64Array>()),
                Arc::new(ids.clone().map(flag).collect::<BooleanArray>()),
                Arc::new(
                    ids.map(|i| Some(format!("n{:02}", i % 13)))
                        .collect::<StringArray>(),
                ),
                Arc::new(kind),
            ],
        )
        .unwrap();
        table.append(&[batch]).unwrap();
        table
    }

    /// A session that splits any scan of at least 1000 rows into `partitions` partitions.
    fn session(catalog: &Catalog, partitions: usize) -> SessionContext {
        let mut config = SessionConfig::new().with_target_partitions(partitions);
        config.parallel_threshold_rows = 1000;
        config.batch_size = 5000;
        SessionContext::with_config(catalog.clone(), config)
    }

    fn int64s(result: &QueryResult, name: &str) -> Vec<Option<i64>> {
        let index = result.schema.index_of(name).unwrap();
        result
            .batches
            .iter()
            .flat_map(|b| b.column(index).as_primitive::<Int64Type>().iter())
            .collect()
    }

    fn strings(result: &QueryResult, name: &str) -> Vec<Option<String>> {
        let index = result.schema.index_of(name).unwrap();
        let mut out = Vec::new();
        for batch in &result.batches {
            let column = arrow::compute::cast(batch.column(index), &DataType::Utf8).unwrap();
            out.extend(
                column
                    .as_string::<i32>()
                    .iter()
                    .map(|s| s.map(str::to_string)),
            );
        }
        out
    }

    fn some(values: impl IntoIterator<Item = i64>) -> Vec<Option<i64>> {
        values.into_iter().map(Some).collect()
    }

    #[test]
    fn scan_filter_project_over_many_chunks_in_parallel() {
        let catalog = Catalog::new();
        let rows = 3 * CHUNK_ROWS + 500;
        let table = orders(&catalog, rows);
        let plan = LogicalPlanBuilder::scan(table, "orders")
            .filter(col("flag"))
            .unwrap()
            .project(vec![col("name").alias("label"), col("id")])
            .unwrap()
            .build();
        let ctx = session(&catalog, 3);
        let physical = ctx.create_physical_plan(Arc::clone(&plan)).unwrap();
        assert_eq!(physical.output_partitions(), 3);
        let result = ctx.execute(plan).unwrap();
        let names: Vec<&str> = result
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, vec!["label", "id"]);
        let expected: Vec<i64> = (0..rows as i64)
            .filter(|&i| flag(i) == Some(true))
            .collect();
        let labels: Vec<Option<String>> = expected
            .iter()
            .map(|i| Some(format!("n{:02}", i % 13)))
            .collect();
        assert_eq!(int64s(&result, "id"), some(expected));
        assert_eq!(strings(&result, "label"), labels);
    }

    #[test]
    fn pushed_down_filters_and_chunk_selection_are_bound_to_the_table() {
        let catalog = Catalog::new();
        let table = orders(&catalog, 2 * CHUNK_ROWS + 10);
        // Read `id` only, keep rows where `flag` (not projected) is TRUE, in chunk 1 only.
        let mut scan = Scan::new(table, "o").with_projection(Some(vec![0]));
        scan.filters = vec![col("flag")];
        scan.chunks = Some(vec![1]);
        let plan = Arc::new(LogicalPlan::Scan(scan));
        let config = SessionConfig {
            parallel_threshold_rows: CHUNK_ROWS + 1,
            target_partitions: 4,
            ..SessionConfig::default()
        };
        let physical = create_physical_plan(&plan, &config).unwrap();
        let line = display_plan(physical.as_ref(), false);
        assert!(
            line.starts_with("ScanExec: orders projection=[id] filters=["),
            "{line}"
        );
        // One selected chunk is below the threshold: no parallelism.
        assert!(
            line.trim_end().ends_with("chunks=1/3 partitions=1"),
            "{line}"
        );
        // Run the physical plan itself: the optimizer's chunk pruning would recompute the
        // hand-made chunk selection from the (unprunable) filter.
        let batches = crate::physical_plan::collect(
            physical,
            &crate::physical_plan::TaskContext::new(config),
        )
        .unwrap();
        let result = QueryResult {
            schema: plan.schema().arrow_schema(),
            batches,
        };
        let chunk = CHUNK_ROWS as i64;
        let expected = (chunk..2 * chunk).filter(|&i| flag(i) == Some(true));
        assert_eq!(int64s(&result, "id"), some(expected));
    }

    #[test]
    fn empty_tables_give_empty_results_with_the_right_schema() {
        let catalog = Catalog::new();
        let table = orders(&catalog, 0);
        let ctx = session(&catalog, 4);
        let base = LogicalPlanBuilder::scan(table, "orders");
        let plans = vec![
            base.clone()
                .project(vec![col("amount"), col("id").alias("key")])
                .unwrap(),
            base.clone().filter(col("flag")).unwrap(),
            base.clone().sort(vec![col("amount").sort_desc()]).unwrap(),
            base.clone().limit(3, Some(2)),
        ];
        for plan in plans {
            let plan = plan.build();
            let expected = plan.schema().arrow_schema();
            let result = ctx.execute(plan).unwrap();
            assert_eq!(result.num_rows(), 0);
            assert_eq!(result.schema, expected);
        }
        let top = Arc::new(LogicalPlan::Sort(Sort {
            input: base.build(),
            exprs: vec![col("id").sort_asc()],
            fetch: Some(5),
        }));
        assert_eq!(ctx.execute(top).unwrap().num_rows(), 0);
    }

    #[test]
    fn limit_with_skip_across_partitions() {
        let catalog = Catalog::new();
        let rows = 150_000;
        let table = orders(&catalog, rows);
        let ctx = session(&catalog, 3);
        let plan = LogicalPlanBuilder::scan(table, "orders")
            .project(vec![col("id")])
            .unwrap()
            .limit(49_990, Some(20_000))
            .build();
        // 3 partitions of 50 000 rows: the window starts in the first and ends in the second.
        assert_eq!(
            int64s(&ctx.execute(plan).unwrap(), "id"),
            some(49_990..69_990)
        );
    }

    #[test]
    fn sort_defaults_put_nulls_last_ascending_and_first_descending() {
        let catalog = Catalog::new();
        let rows = 100_000;
        let table = orders(&catalog, rows);
        let ctx = session(&catalog, 4);
        let sorted = |key: SortExpr| {
            let plan = LogicalPlanBuilder::scan(Arc::clone(&table), "orders")
                .sort(vec![key, col("id").sort_desc()])
                .unwrap()
                .build();
            int64s(&ctx.execute(plan).unwrap(), "id")
        };
        let mut ids: Vec<i64> = (0..rows as i64).collect();
        // ASC NULLS LAST, then id DESC.
        ids.sort_by_key(|&i| (amount(i).is_none(), amount(i), std::cmp::Reverse(i)));
        assert_eq!(sorted(col("amount").sort_asc()), some(ids.clone()));
        // DESC NULLS FIRST, then id DESC.
        ids.sort_by_key(|&i| (amount(i).is_some(), std::cmp::Reverse((amount(i), i))));
        assert_eq!(sorted(col("amount").sort_desc()), some(ids));
    }

    #[test]
    fn sorts_strings_and_dictionaries_stably() {
        let catalog = Catalog::new();
        let rows = 5000;
        let table = orders(&catalog, rows);
        let ctx = session(&catalog, 2);
        let by = |key: SortExpr| {
            let plan = LogicalPlanBuilder::scan(Arc::clone(&table), "orders")
                .sort(vec![key])
                .unwrap()
                .build();
            int64s(&ctx.execute(plan).unwrap(), "id")
        };
        // Names are "n00".."n12", so descending names are descending `id % 13`; a stable
        // sort keeps id order within each name.
        let mut expected: Vec<i64> = (0..rows as i64).collect();
        expected.sort_by_key(|i| std::cmp::Reverse(i % 13));
        assert_eq!(by(col("name").sort_desc()), some(expected));
        // Dictionary values sort by value ("blue" < "green" < "red"), not by key.
        let mut expected: Vec<i64> = (0..rows as i64).collect();
        expected.sort_by_key(|&i| KINDS[(i % 3) as usize]);
        assert_eq!(by(col("kind").sort_asc()), some(expected));
    }

    #[test]
    fn sort_with_fetch_is_a_top_k_that_equals_sort_then_limit() {
        let catalog = Catalog::new();
        let table = orders(&catalog, 2 * CHUNK_ROWS);
        let ctx = session(&catalog, 4);
        let keys = vec![col("amount").sort_desc(), col("name").sort_asc()];
        let scan = LogicalPlanBuilder::scan(table, "orders").build();
        for k in [1, 10, 4321] {
            let top = Arc::new(LogicalPlan::Sort(Sort {
                input: Arc::clone(&scan),
                exprs: keys.clone(),
                fetch: Some(k),
            }));
            let explain = display_plan(
                ctx.create_physical_plan(Arc::clone(&top)).unwrap().as_ref(),
                false,
            );
            assert!(
                explain.starts_with(&format!("TopKExec: fetch={k}, [")),
                "{explain}"
            );
            let sort_limit = LogicalPlanBuilder::from(Arc::clone(&scan))
                .sort(keys.clone())
                .unwrap()
                .limit(0, Some(k))
                .build();
            let expected = int64s(&ctx.execute(sort_limit).unwrap(), "id");
            assert_eq!(expected.len(), k);
            assert_eq!(int64s(&ctx.execute(top).unwrap(), "id"), expected, "k={k}");
        }
    }

    #[test]
    fn values_are_evaluated_and_cast_to_the_schema() {
        let schema = Arc::new(PlanSchema::new(vec![
            QualifiedField::new(None, Field::new("n", DataType::Int64, true)),
            QualifiedField::new(None, Field::new("s", DataType::Utf8, true)),
        ]));
        let rows = vec![
            vec![lit(1i32), lit("a")],
            vec![lit(ScalarValue::Null), lit(ScalarValue::Utf8(None))],
            vec![lit(3i64).alias("three"), lit("c")],
        ];
        let plan = Arc::new(LogicalPlan::Values(Values::try_new(schema, rows).unwrap()));
        let result = SessionContext::new(Catalog::new()).execute(plan).unwrap();
        assert_eq!(int64s(&result, "n"), vec![Some(1), None, Some(3)]);
        assert_eq!(
            strings(&result, "s"),
            vec![Some("a".to_string()), None, Some("c".to_string())]
        );
        let empty = Arc::new(LogicalPlan::Values(Values::empty(vec![Field::new(
            "x",
            DataType::Int64,
            false,
        )])));
        let result = SessionContext::new(Catalog::new()).execute(empty).unwrap();
        assert_eq!(result.num_rows(), 0);
        assert_eq!(result.schema.field(0).name(), "x");
    }

    #[test]
    fn values_reject_uncastable_literals() {
        let schema = Arc::new(PlanSchema::new(vec![QualifiedField::new(
            None,
            Field::new("n", DataType::Int64, true),
        )]));
        let plan = LogicalPlan::Values(Values::try_new(schema, vec![vec![lit("x")]]).unwrap());
        assert!(create_physical_plan(&plan, &SessionConfig::default()).is_err());
    }

    #[test]
    fn subquery_alias_is_transparent() {
        let catalog = Catalog::new();
        let table = orders(&catalog, 20);
        let plan = LogicalPlanBuilder::scan(table, "orders")
            .alias("o")
            .project(vec![qualified_col("o", "id")])
            .unwrap()
            .limit(0, Some(3))
            .build();
        let result = SessionContext::new(catalog).execute(plan).unwrap();
        assert_eq!(int64s(&result, "id"), some(0..3));
    }

    #[test]
    fn explain_analyze_shows_operators_and_metrics() {
        let catalog = Catalog::new();
        let table = orders(&catalog, 10_000);
        // With every rule off the physical plan mirrors the logical one node for node.
        let mut ctx = session(&catalog, 2);
        for rule in ctx.rule_names() {
            ctx.config_mut().disabled_rules.insert(rule.to_string());
        }
        let plan = LogicalPlanBuilder::scan(table, "orders")
            .filter(col("flag"))
            .unwrap()
            .sort(vec![col("id").sort_desc()])
            .unwrap()
            .limit(0, Some(5))
            .project(vec![col("id")])
            .unwrap()
            .build();
        let text = ctx.explain(plan, true).unwrap();
        let physical = text.split("== Physical plan ==\n").nth(1).unwrap();
        let names: Vec<&str> = physical
            .lines()
            .filter(|l| !l.starts_with("=="))
            .map(|l| l.trim_start().split(':').next().unwrap())
            .collect();
        assert_eq!(
            names,
            vec![
                "ProjectionExec",
                "LimitExec",
                "SortExec",
                "FilterExec",
                "ScanExec"
            ],
            "{text}"
        );
        assert!(
            physical.contains("ScanExec: orders partitions=2, rows=10000"),
            "{text}"
        );
        assert!(
            physical.contains("LimitExec: skip=0, fetch=5, rows=5"),
            "{text}"
        );
    }

    #[test]
    fn index_nested_loop_joins_only_for_outer_sides_estimated_small() {
        // orders(id < 50) ⋈ kinds on an indexed key runs through the index; all 20 000
        // orders probing it run as a partitioned hash join (the index join would collect
        // them into one partition first).
        let catalog = Catalog::new();
        orders(&catalog, 20_000);
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        let kinds = catalog.create_table("kinds", Arc::clone(&schema)).unwrap();
        kinds.set_primary_key(0, "kinds_pkey");
        kinds
            .add_index(IndexDefinition {
                name: "kinds_pkey".into(),
                columns: vec![0],
                descending: vec![false],
                kind: quiver_storage::IndexKind::Hash,
                condition: None,
                condition_expr: None,
            })
            .unwrap();
        let ids: Int64Array = (0..1000).collect();
        kinds
            .append(&[RecordBatch::try_new(schema, vec![Arc::new(ids)]).unwrap()])
            .unwrap();
        let context = session(&catalog, 2);
        let plan_for = |filter: Option<Expr>| {
            let mut builder = LogicalPlanBuilder::scan(catalog.table("orders").unwrap(), "orders");
            if let Some(filter) = filter {
                builder = builder.filter(filter).unwrap();
            }
            let plan = builder
                .join(
                    LogicalPlanBuilder::scan(catalog.table("kinds").unwrap(), "kinds").build(),
                    JoinType::Inner,
                    vec![(
                        qualified_col("orders", "amount"),
                        qualified_col("kinds", "id"),
                    )],
                    None,
                )
                .unwrap()
                .build();
            let physical = context.create_physical_plan(Arc::clone(&plan)).unwrap();
            let rows = context.execute(plan).unwrap().num_rows();
            (display_plan(physical.as_ref(), false), rows)
        };
        let (small, small_rows) = plan_for(Some(qualified_col("orders", "id").lt(lit(50i64))));
        assert!(small.contains("IndexNestedLoopJoinExec"), "{small}");
        // Ids 0..50 with an amount (every 11th has none).
        assert_eq!(small_rows, 45);
        let (large, large_rows) = plan_for(None);
        assert!(
            large.starts_with("HashJoinExec") && !large.contains("IndexNestedLoop"),
            "{large}"
        );
        assert_eq!(
            large_rows,
            (0..20_000).filter(|i| amount(*i).is_some()).count()
        );
    }

    /// A table `picked(id Int64)` holding `ids`.
    fn picked(catalog: &Catalog, ids: &[i64]) -> Arc<Table> {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
        let table = catalog.create_table("picked", Arc::clone(&schema)).unwrap();
        let ids: Int64Array = ids.iter().copied().collect();
        table
            .append(&[RecordBatch::try_new(schema, vec![Arc::new(ids)]).unwrap()])
            .unwrap();
        table
    }

    /// Runs `plan` with runtime join filters on and off: the EXPLAIN ANALYZE text with them
    /// on, and the rows of both runs (every column as text, sorted).
    fn with_and_without_runtime_filters(
        catalog: &Catalog,
        plan: Arc<LogicalPlan>,
    ) -> (String, Vec<String>, Vec<String>) {
        let rows = |context: &SessionContext| {
            let result = context.execute(Arc::clone(&plan)).unwrap();
            let mut rows: Vec<String> = result
                .batches
                .iter()
                .flat_map(|batch| {
                    (0..batch.num_rows()).map(move |row| {
                        batch
                            .columns()
                            .iter()
                            .map(|c| arrow::util::display::array_value_to_string(c, row).unwrap())
                            .collect::<Vec<_>>()
                            .join("|")
                    })
                })
                .collect();
            rows.sort();
            rows
        };
        let on = session(catalog, 2);
        let mut off = session(catalog, 2);
        off.config_mut()
            .disabled_rules
            .insert(RUNTIME_JOIN_FILTERS.to_string());
        let text = on.explain(Arc::clone(&plan), true).unwrap();
        let off_text = off.explain(Arc::clone(&plan), true).unwrap();
        assert!(!off_text.contains("runtime_filters"), "{off_text}");
        (text, rows(&on), rows(&off))
    }

    /// The physical line of the scan of `table` in an EXPLAIN text.
    fn scan_line<'a>(text: &'a str, table: &str) -> &'a str {
        let physical = text.split("== Physical plan ==").nth(1).unwrap_or(text);
        physical
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("ScanExec: {table}")))
            .unwrap_or_else(|| panic!("no scan of {table} in {text}"))
    }

    #[test]
    fn column_projections_fold_into_hash_joins() {
        let catalog = Catalog::new();
        let orders_table = orders(&catalog, 20_000);
        let picked_table = picked(&catalog, &[3, 500, 999, 2_000, 30_000]);
        let plan_for = |exprs: Vec<Expr>| {
            LogicalPlanBuilder::scan(Arc::clone(&orders_table), "orders")
                .join(
                    LogicalPlanBuilder::scan(Arc::clone(&picked_table), "picked").build(),
                    JoinType::Inner,
                    vec![(qualified_col("orders", "id"), qualified_col("picked", "id"))],
                    None,
                )
                .unwrap()
                .project(exprs)
                .unwrap()
                .build()
        };
        let run = |plan: &Arc<LogicalPlan>, fold: bool| {
            let mut context = session(&catalog, 2);
            if !fold {
                context
                    .config_mut()
                    .disabled_rules
                    .insert(JOIN_PROJECTION.to_string());
            }
            let physical = context.create_physical_plan(Arc::clone(plan)).unwrap();
            let result = context.execute(Arc::clone(plan)).unwrap();
            let names: Vec<String> = result
                .schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            (
                display_plan(physical.as_ref(), false),
                names,
                int64s(&result, "amount"),
            )
        };
        // Columns only, renamed and reordered, the join keys dropped: the join outputs them.
        let plan = plan_for(vec![
            qualified_col("orders", "amount"),
            qualified_col("orders", "name").alias("order_name"),
        ]);
        let (folded, names, amounts) = run(&plan, true);
        assert_eq!(
            folded.lines().next().unwrap(),
            "HashJoinExec: INNER JOIN, on=[id@0 = id@0], \
             projection=[amount@1, name@2 AS order_name]",
            "{folded}"
        );
        assert!(!folded.contains("ProjectionExec"), "{folded}");
        assert_eq!(names, vec!["amount", "order_name"]);
        let mut sorted = amounts.clone();
        sorted.sort();
        // Ids 3, 500, 999 and 2000 exist (30 000 does not); 3 * 7919 % 1000 = 757, ...
        let expected: Vec<Option<i64>> = [3i64, 500, 999, 2_000]
            .into_iter()
            .map(amount)
            .collect::<Vec<_>>();
        let mut expected_sorted = expected.clone();
        expected_sorted.sort();
        assert_eq!(sorted, expected_sorted);
        let (unfolded, unfolded_names, mut unfolded_amounts) = run(&plan, false);
        assert!(unfolded.starts_with("ProjectionExec"), "{unfolded}");
        assert_eq!(unfolded_names, names);
        unfolded_amounts.sort();
        assert_eq!(unfolded_amounts, sorted);
        // A computed column keeps its ProjectionExec.
        let computed = plan_for(vec![qualified_col("orders", "amount") + lit(1i64)]);
        let physical = session(&catalog, 2).create_physical_plan(computed).unwrap();
        let text = display_plan(physical.as_ref(), false);
        assert!(text.starts_with("ProjectionExec"), "{text}");
    }

    #[test]
    fn runtime_join_filters_drop_probe_rows_and_chunks_at_the_scan() {
        // 3 × CHUNK_ROWS orders probe a 4-row table whose keys lie in the first chunk: the other chunks are skipped on their statistics, and
        // of the first only the three matching rows leave the scan.
        let catalog = Catalog::new();
        let orders_table = orders(&catalog, 3 * CHUNK_ROWS);
        let picked_table = picked(&catalog, &[5, 17, 4_000, 40_000]);
        let plan = LogicalPlanBuilder::scan(orders_table, "orders")
            .join(
                LogicalPlanBuilder::scan(picked_table, "picked").build(),
                JoinType::Inner,
                vec![(qualified_col("orders", "id"), qualified_col("picked", "id"))],
                None,
            )
            .unwrap()
            .build();
        let (text, on, off) = with_and_without_runtime_filters(&catalog, plan);
        assert_eq!(on, off);
        assert_eq!(on.len(), 4, "{on:?}");
        let scan = scan_line(&text, "orders");
        assert!(
            scan.contains("runtime_filters=[orders.id (bitmap, 4 of") && scan.contains("rows=4,"),
            "{text}"
        );
        let skipped: usize = scan
            .split(" rows kept, ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(skipped >= 2, "{text}");
    }

    #[test]
    fn runtime_join_filters_reach_through_grouping_keys_and_preserved_sides_only() {
        let catalog = Catalog::new();
        let orders_table = orders(&catalog, 20_000);
        let picked_table = picked(&catalog, &[3, 500, 999, 2_000]);
        let count = Expr::from(crate::expr::AggregateExpr::new(
            crate::expr::AggregateFunction::Count,
            vec![],
        ))
        .alias("n");
        // (orders LEFT JOIN picked ON amount = id) grouped by orders.amount, joined to
        // picked on the grouping key: the filter reaches the orders scan through the
        // aggregate and the LEFT join's preserved side.
        let grouped = LogicalPlanBuilder::scan(Arc::clone(&orders_table), "orders")
            .join(
                LogicalPlanBuilder::scan(Arc::clone(&picked_table), "p1").build(),
                JoinType::Left,
                vec![(qualified_col("orders", "amount"), qualified_col("p1", "id"))],
                None,
            )
            .unwrap()
            .aggregate(vec![qualified_col("orders", "amount")], vec![count])
            .unwrap()
            .alias("g")
            .join(
                LogicalPlanBuilder::scan(Arc::clone(&picked_table), "p2").build(),
                JoinType::Inner,
                vec![(qualified_col("g", "amount"), qualified_col("p2", "id"))],
                None,
            )
            .unwrap()
            .build();
        let (text, on, off) = with_and_without_runtime_filters(&catalog, grouped);
        assert_eq!(on, off);
        // Amounts 3, 500 and 999 occur (i * 7919 % 1000 takes every value), 2000 never.
        assert_eq!(on.len(), 3, "{on:?}");
        assert!(
            scan_line(&text, "orders").contains("runtime_filters=[orders.amount (bitmap"),
            "{text}"
        );

        // The probe side's rows are kept by a LEFT join, and a key from the nullable side
        // of a LEFT join below is not followed: neither gets a filter (checked on the plans
        // as built; the optimizer may turn such a LEFT join into an inner one).
        let targets = |plan: Arc<LogicalPlan>| match plan.as_ref() {
            LogicalPlan::Join(join) => runtime_filter_targets(join, &SessionConfig::new()).len(),
            other => panic!("not a join: {other}"),
        };
        let join = |left: LogicalPlanBuilder, right: &str, join_type, on: (Expr, Expr)| {
            left.join(
                LogicalPlanBuilder::scan(Arc::clone(&picked_table), right).build(),
                join_type,
                vec![on],
                None,
            )
            .unwrap()
        };
        let orders_scan = || LogicalPlanBuilder::scan(Arc::clone(&orders_table), "orders");
        let on_id = |relation| (qualified_col("orders", "id"), qualified_col(relation, "id"));
        assert_eq!(
            targets(join(orders_scan(), "p1", JoinType::Inner, on_id("p1")).build()),
            1
        );
        assert_eq!(
            targets(join(orders_scan(), "p1", JoinType::Left, on_id("p1")).build()),
            0
        );
        assert_eq!(
            targets(join(orders_scan(), "p1", JoinType::LeftAnti, on_id("p1")).build()),
            0
        );
        let orders_nullable = LogicalPlanBuilder::scan(Arc::clone(&picked_table), "p0")
            .join(
                orders_scan().build(),
                JoinType::Left,
                vec![(qualified_col("p0", "id"), qualified_col("orders", "id"))],
                None,
            )
            .unwrap();
        assert_eq!(
            targets(join(orders_nullable.clone(), "p2", JoinType::Inner, on_id("p2")).build()),
            0
        );
        let p0_key = (qualified_col("p0", "id"), qualified_col("p2", "id"));
        assert_eq!(
            targets(join(orders_nullable, "p2", JoinType::Inner, p0_key).build()),
            1
        );
        let mut off = SessionConfig::new();
        off.disabled_rules.insert(RUNTIME_JOIN_FILTERS.to_string());
        let plan = join(orders_scan(), "p1", JoinType::Inner, on_id("p1")).build();
        let LogicalPlan::Join(inner) = plan.as_ref() else {
            panic!("not a join");
        };
        assert!(runtime_filter_targets(inner, &off).is_empty());
    }

    /// `DISTINCT ON (name) … ORDER BY amount DESC NULLS FIRST` (what a correlated
    /// `order_by("-amount")[:1]` becomes) runs as one hashed pass over a partitioned scan,
    /// and keeps per name the row a stable sort would put first: a NULL amount, else the
    /// largest, the lowest id between equal ones.
    #[test]
    fn distinct_on_keeps_each_keys_first_row_in_one_hashed_pass() {
        let catalog = Catalog::new();
        let rows = 2 * CHUNK_ROWS + 10;
        let table = orders(&catalog, rows);
        let scan = Arc::new(LogicalPlan::Scan(Scan::new(table, "o")));
        let plan = Arc::new(LogicalPlan::DistinctOn(
            DistinctOn::try_new(scan, vec![col("name")], vec![col("amount").sort_desc()]).unwrap(),
        ));
        let config = SessionConfig {
            parallel_threshold_rows: 1000,
            target_partitions: 4,
            ..SessionConfig::default()
        };
        let physical = create_physical_plan(&plan, &config).unwrap();
        let explain = display_plan(physical.as_ref(), false);
        assert!(
            explain.starts_with(
                "HashFirstPerKeyExec: keys=[name@3], order=[amount@1 DESC NULLS FIRST]\n  ScanExec"
            ),
            "{explain}"
        );
        assert!(explain.contains("partitions=4"), "{explain}");
        let batches = crate::physical_plan::collect(
            physical,
            &crate::physical_plan::TaskContext::new(config),
        )
        .unwrap();
        let result = QueryResult {
            schema: plan.schema().arrow_schema(),
            batches,
        };
        let mut kept: Vec<(Option<String>, Option<i64>)> = strings(&result, "name")
            .into_iter()
            .zip(int64s(&result, "id"))
            .collect();
        kept.sort();
        let mut expected = Vec::new();
        for group in 0..13 {
            // NULLS FIRST, then DESC, then input order (ids ascend in the table).
            let best = (0..rows as i64)
                .filter(|i| i % 13 == group)
                .min_by_key(|&i| (amount(i).is_some(), std::cmp::Reverse(amount(i)), i))
                .unwrap();
            expected.push((Some(format!("n{group:02}")), Some(best)));
        }
        assert_eq!(kept, expected);
    }
}
