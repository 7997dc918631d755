//! The [`LogicalPlan`] enum and its node structs.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field};
use quiver_storage::{ScalarValue, Table, TableVersion};

use super::cte::{Cte, RecursiveQuery, WorkTable};
use super::set_operations::{Except, Intersect, Union};
use super::{PlanSchema, PlanSchemaRef, QualifiedField};
use crate::error::{EngineError, Result};
use crate::expr::{Expr, SortExpr, Transformed};

/// A relational operator tree.
#[derive(Debug, Clone)]
pub enum LogicalPlan {
    Scan(Scan),
    Filter(Filter),
    Projection(Projection),
    Aggregate(Aggregate),
    Sort(Sort),
    Limit(Limit),
    Join(Join),
    Distinct(Distinct),
    Values(Values),
    SubqueryAlias(SubqueryAlias),
    DistinctOn(DistinctOn),
    Union(Union),
    Intersect(Intersect),
    Except(Except),
    Cte(Cte),
    RecursiveQuery(RecursiveQuery),
    WorkTable(WorkTable),
    Window(Window),
}

/// Reads a table snapshot. Optimizer rules push projections (`projection`), predicates
/// (`filters`, applied exactly by the scan) and the chunk selection (`chunks`, from statistics)
/// into it.
#[derive(Debug, Clone)]
pub struct Scan {
    pub table_name: String,
    /// The relation name columns are qualified with (a table alias such as `T1`).
    pub relation: String,
    pub source: Arc<Table>,
    /// The committed state this query reads, taken once when the plan was built.
    pub snapshot: Arc<TableVersion>,
    /// Indices into the table schema; `None` reads all columns.
    pub projection: Option<Vec<usize>>,
    /// Predicates over the table's columns that the scan applies itself.
    pub filters: Vec<Expr>,
    /// Chunks that may hold matching rows; `None` means all.
    pub chunks: Option<Vec<usize>>,
    /// The index that finds the rows, chosen by the `use_indexes` rule; `filters` still apply.
    pub index: Option<IndexLookup>,
    pub schema: PlanSchemaRef,
}

/// How a scan reads through an index (see `optimizer/use_indexes.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexLookup {
    /// The index name, as the table declares it.
    pub index: String,
    /// What to look up.
    pub keys: IndexKeys,
    /// For a limited ordered read: also every row tied with the last row read on the index
    /// column, so that a sort with more keys after it (`order_by("-created", "id")[:k]`)
    /// still finds its first `k` rows among them.
    pub with_ties: bool,
}

/// The rows an index lookup returns.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexKeys {
    /// Rows whose key equals one of these values (`=`, `IN`).
    Points(Vec<ScalarValue>),
    /// Rows whose key lies between the bounds (an ordered index).
    Range {
        low: std::ops::Bound<ScalarValue>,
        high: std::ops::Bound<ScalarValue>,
    },
    /// The first `limit` rows in the index's order (`ORDER BY key LIMIT k`).
    Ordered { descending: bool, limit: usize },
    /// Rows of an ordered index whose leading columns equal one of `prefixes` (several from an
    /// `IN` list; one empty prefix for none), whose next column lies between the bounds, read
    /// in that column's order keeping the first `limit` per prefix when `order` is
    /// `Some((descending, limit))` (`filter(a=1, b__gt=5)`, `filter(a__in=[1, 2]).order_by("-b")[:k]`,
    /// `filter(a__gte=5).order_by("a")[:k]`). A hash index serves whole keys only.
    Prefix {
        prefixes: Vec<Vec<ScalarValue>>,
        low: std::ops::Bound<ScalarValue>,
        high: std::ops::Bound<ScalarValue>,
        order: Option<(bool, usize)>,
    },
}

fn fmt_range(
    f: &mut std::fmt::Formatter<'_>,
    low: &std::ops::Bound<ScalarValue>,
    high: &std::ops::Bound<ScalarValue>,
) -> std::fmt::Result {
    use std::ops::Bound;
    let low = match low {
        Bound::Included(v) => format!("[{v}"),
        Bound::Excluded(v) => format!("({v}"),
        Bound::Unbounded => "(*".to_string(),
    };
    let high = match high {
        Bound::Included(v) => format!("{v}]"),
        Bound::Excluded(v) => format!("{v})"),
        Bound::Unbounded => "*)".to_string(),
    };
    write!(f, " range={low}..{high}")
}

impl std::fmt::Display for IndexLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "index={}", self.index)?;
        match &self.keys {
            IndexKeys::Points(values) => write!(f, " points={}", values.len()),
            IndexKeys::Range { low, high } => fmt_range(f, low, high),
            IndexKeys::Prefix {
                prefixes,
                low,
                high,
                order,
            } => {
                let show = |prefix: &Vec<ScalarValue>| {
                    let values: Vec<String> = prefix.iter().map(ToString::to_string).collect();
                    format!("[{}]", values.join(", "))
                };
                match prefixes.as_slice() {
                    [prefix] if prefix.is_empty() => {}
                    [prefix] => write!(f, " prefix={}", show(prefix))?,
                    _ => {
                        let shown: Vec<String> = prefixes.iter().take(8).map(show).collect();
                        let more = prefixes.len().saturating_sub(8);
                        let more = if more > 0 {
                            format!(", … {more} more")
                        } else {
                            String::new()
                        };
                        write!(f, " prefixes=[{}{more}]", shown.join(", "))?;
                    }
                }
                if !matches!(
                    (low, high),
                    (std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)
                ) {
                    fmt_range(f, low, high)?;
                }
                match order {
                    Some((descending, limit)) => write!(
                        f,
                        " order={} limit={limit}",
                        if *descending { "desc" } else { "asc" }
                    ),
                    None => Ok(()),
                }
            }
            IndexKeys::Ordered { descending, limit } => write!(
                f,
                " order={} limit={limit}",
                if *descending { "desc" } else { "asc" }
            ),
        }?;
        if self.with_ties {
            write!(f, " with ties")?;
        }
        Ok(())
    }
}

impl Scan {
    /// Scans every column of `source` as of its current snapshot.
    pub fn new(source: Arc<Table>, relation: impl Into<String>) -> Scan {
        let snapshot = source.snapshot();
        Scan::with_snapshot(source, snapshot, relation)
    }

    /// Scans `snapshot` of `source` (several scans of one query share a snapshot).
    pub fn with_snapshot(
        source: Arc<Table>,
        snapshot: Arc<TableVersion>,
        relation: impl Into<String>,
    ) -> Scan {
        let relation = relation.into();
        let schema = Arc::new(PlanSchema::from_arrow(Some(&relation), &source.schema()));
        Scan {
            table_name: source.name().to_string(),
            relation,
            source,
            snapshot,
            projection: None,
            filters: vec![],
            chunks: None,
            index: None,
            schema,
        }
    }

    /// The same scan reading only `projection` (indices into the table schema).
    pub fn with_projection(mut self, projection: Option<Vec<usize>>) -> Scan {
        let table_schema = self.source.schema();
        let fields: Vec<QualifiedField> = match &projection {
            Some(p) => p
                .iter()
                .map(|&i| QualifiedField {
                    relation: Some(self.relation.clone()),
                    field: Arc::new(table_schema.field(i).clone()),
                })
                .collect(),
            None => PlanSchema::from_arrow(Some(&self.relation), &table_schema)
                .fields()
                .to_vec(),
        };
        self.schema = Arc::new(PlanSchema::new(fields));
        self.projection = projection;
        self
    }

    /// The schema of the whole table, qualified by this scan's relation (what `filters` and
    /// `chunks` are computed against).
    pub fn table_schema(&self) -> PlanSchema {
        PlanSchema::from_arrow(Some(&self.relation), &self.source.schema())
    }
}

/// Keeps rows where `predicate` is TRUE (NULL and FALSE drop the row).
#[derive(Debug, Clone)]
pub struct Filter {
    pub input: Arc<LogicalPlan>,
    pub predicate: Expr,
}

impl Filter {
    /// Checks that the predicate is boolean.
    pub fn try_new(input: Arc<LogicalPlan>, predicate: Expr) -> Result<Filter> {
        let t = predicate.data_type(input.schema())?;
        if !matches!(t, DataType::Boolean | DataType::Null) {
            return Err(EngineError::Plan(format!(
                "filter predicate must be boolean, got {t}: {predicate}"
            )));
        }
        if predicate.contains_aggregate() {
            return Err(EngineError::Plan(format!(
                "aggregate functions are not allowed in a filter: {predicate}"
            )));
        }
        if predicate.contains_window() {
            return Err(EngineError::Plan(format!(
                "window functions are not allowed in a filter: {predicate}"
            )));
        }
        Ok(Filter { input, predicate })
    }
}

/// Computes one output column per expression.
#[derive(Debug, Clone)]
pub struct Projection {
    pub input: Arc<LogicalPlan>,
    pub exprs: Vec<Expr>,
    pub schema: PlanSchemaRef,
}

impl Projection {
    /// Derives the output schema from the expressions.
    pub fn try_new(input: Arc<LogicalPlan>, exprs: Vec<Expr>) -> Result<Projection> {
        let fields = exprs
            .iter()
            .map(|e| {
                if e.contains_aggregate() || e.contains_window() {
                    return Err(EngineError::Plan(format!(
                        "aggregate and window functions are not allowed in a projection: {e}"
                    )));
                }
                e.to_field(input.schema())
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Projection {
            input,
            exprs,
            schema: Arc::new(PlanSchema::new(fields)),
        })
    }
}

/// Groups by `group_exprs` and computes `aggr_exprs` per group. Output: group columns, then
/// aggregate columns. With no group expressions it produces exactly one row.
#[derive(Debug, Clone)]
pub struct Aggregate {
    pub input: Arc<LogicalPlan>,
    pub group_exprs: Vec<Expr>,
    /// Each is an `Expr::Aggregate`, possibly under an alias.
    pub aggr_exprs: Vec<Expr>,
    pub schema: PlanSchemaRef,
}

impl Aggregate {
    /// Validates the expressions and derives the schema.
    pub fn try_new(
        input: Arc<LogicalPlan>,
        group_exprs: Vec<Expr>,
        aggr_exprs: Vec<Expr>,
    ) -> Result<Aggregate> {
        let mut fields = Vec::with_capacity(group_exprs.len() + aggr_exprs.len());
        for g in &group_exprs {
            if g.contains_aggregate() {
                return Err(EngineError::Plan(format!(
                    "aggregate functions are not allowed in GROUP BY: {g}"
                )));
            }
            fields.push(g.to_field(input.schema())?);
        }
        for a in &aggr_exprs {
            if !matches!(a.clone().unalias(), Expr::Aggregate(_)) {
                return Err(EngineError::Plan(format!(
                    "not an aggregate expression: {a}"
                )));
            }
            fields.push(a.to_field(input.schema())?);
        }
        Ok(Aggregate {
            input,
            group_exprs,
            aggr_exprs,
            schema: Arc::new(PlanSchema::new(fields)),
        })
    }
}

/// Orders rows; with `fetch` it keeps only the first `fetch` rows (a top-k).
#[derive(Debug, Clone)]
pub struct Sort {
    pub input: Arc<LogicalPlan>,
    pub exprs: Vec<SortExpr>,
    pub fetch: Option<usize>,
}

/// Skips `skip` rows then returns at most `fetch`.
#[derive(Debug, Clone)]
pub struct Limit {
    pub input: Arc<LogicalPlan>,
    pub skip: usize,
    pub fetch: Option<usize>,
}

/// Join kinds. Left semi and anti joins output only the left side's columns, right ones
/// only the right side's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinType {
    Inner,
    Left,
    Right,
    Full,
    /// Left rows with at least one match.
    LeftSemi,
    /// Left rows with no match.
    LeftAnti,
    /// Right rows with at least one match: a [`JoinType::LeftSemi`] with its inputs
    /// swapped, so that the hash join builds on the (smaller) tested side and streams the
    /// preserved one.
    RightSemi,
    /// Right rows with no match: the swapped [`JoinType::LeftAnti`].
    RightAnti,
    /// Every left row, once, plus a non-null boolean column telling whether it has a match
    /// (a *mark* join: what an `EXISTS` used as a value becomes). The column is
    /// [`MARK_COLUMN`], qualified by the right input's relation.
    LeftMark,
}

/// The name of a [`JoinType::LeftMark`] join's boolean output column.
pub const MARK_COLUMN: &str = "__mark";

impl JoinType {
    /// The SQL keyword(s).
    pub fn sql(self) -> &'static str {
        match self {
            JoinType::Inner => "INNER JOIN",
            JoinType::Left => "LEFT JOIN",
            JoinType::Right => "RIGHT JOIN",
            JoinType::Full => "FULL JOIN",
            JoinType::LeftSemi => "LEFT SEMI JOIN",
            JoinType::LeftAnti => "LEFT ANTI JOIN",
            JoinType::LeftMark => "LEFT MARK JOIN",
            JoinType::RightSemi => "RIGHT SEMI JOIN",
            JoinType::RightAnti => "RIGHT ANTI JOIN",
        }
    }

    /// True for the joins that output the right side's columns only: right semi and anti
    /// joins.
    pub fn outputs_right_only(self) -> bool {
        matches!(self, JoinType::RightSemi | JoinType::RightAnti)
    }

    /// The same join with its inputs swapped, for the types that have a mirror image (a
    /// mark join has none).
    pub fn swapped(self) -> Option<JoinType> {
        Some(match self {
            JoinType::Inner => JoinType::Inner,
            JoinType::Left => JoinType::Right,
            JoinType::Right => JoinType::Left,
            JoinType::Full => JoinType::Full,
            JoinType::LeftSemi => JoinType::RightSemi,
            JoinType::LeftAnti => JoinType::RightAnti,
            JoinType::RightSemi => JoinType::LeftSemi,
            JoinType::RightAnti => JoinType::LeftAnti,
            JoinType::LeftMark => return None,
        })
    }

    /// True for the joins that output the left side's columns only (plus, for a mark
    /// join, the mark): semi, anti and mark joins.
    pub fn outputs_left_only(self) -> bool {
        matches!(
            self,
            JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark
        )
    }
}

/// An equi-join on `on` pairs (left expression, right expression) plus an optional residual
/// `filter` over both sides. NULL keys never match.
#[derive(Debug, Clone)]
pub struct Join {
    pub left: Arc<LogicalPlan>,
    pub right: Arc<LogicalPlan>,
    pub on: Vec<(Expr, Expr)>,
    pub filter: Option<Expr>,
    pub join_type: JoinType,
    pub schema: PlanSchemaRef,
}

impl Join {
    /// Validates key types and derives the schema.
    pub fn try_new(
        left: Arc<LogicalPlan>,
        right: Arc<LogicalPlan>,
        on: Vec<(Expr, Expr)>,
        filter: Option<Expr>,
        join_type: JoinType,
    ) -> Result<Join> {
        for (l, r) in &on {
            let lt = l.data_type(left.schema())?;
            let rt = r.data_type(right.schema())?;
            if crate::expr::type_coercion::comparison_common_type(&lt, &rt).is_none() {
                return Err(EngineError::Plan(format!(
                    "join keys {l} ({lt}) and {r} ({rt}) cannot be compared"
                )));
            }
        }
        let (ls, rs) = (left.schema(), right.schema());
        let schema = match join_type {
            JoinType::Inner => ls.join(rs),
            JoinType::Left => ls.join(&rs.with_all_nullable()),
            JoinType::Right => ls.with_all_nullable().join(rs),
            JoinType::Full => ls.with_all_nullable().join(&rs.with_all_nullable()),
            JoinType::LeftSemi | JoinType::LeftAnti => ls.as_ref().clone(),
            JoinType::RightSemi | JoinType::RightAnti => rs.as_ref().clone(),
            JoinType::LeftMark => {
                let mut fields = ls.fields().to_vec();
                fields.push(mark_field(rs)?);
                PlanSchema::new(fields)
            }
        };
        if let Some(f) = &filter {
            f.data_type(&ls.join(rs))?;
        }
        Ok(Join {
            left,
            right,
            on,
            filter,
            join_type,
            schema: Arc::new(schema),
        })
    }
}

impl Join {
    /// The same join with its inputs (and key pairs) swapped and the type mirrored —
    /// a LEFT join becomes a RIGHT one, a left semi join a right semi join — or `None` for
    /// a mark join, which has no mirror image. The output has the same columns, in the
    /// swapped order for joins that output both sides.
    pub fn swapped(&self) -> Result<Option<Join>> {
        let Some(join_type) = self.join_type.swapped() else {
            return Ok(None);
        };
        let on = self
            .on
            .iter()
            .map(|(left, right)| (right.clone(), left.clone()))
            .collect();
        Join::try_new(
            Arc::clone(&self.right),
            Arc::clone(&self.left),
            on,
            self.filter.clone(),
            join_type,
        )
        .map(Some)
    }
}

/// The mark column of a mark join whose right input has `right`'s schema: qualified by the
/// relation all of the right side's columns share, so two mark joins of one query (each over
/// its own aliased subquery) name their marks apart.
fn mark_field(right: &PlanSchema) -> Result<QualifiedField> {
    let relation = right.fields().first().and_then(|f| f.relation.clone());
    if relation.is_none()
        || right
            .fields()
            .iter()
            .any(|f| f.relation.as_ref() != relation.as_ref())
    {
        return Err(EngineError::Plan(
            "the right input of a mark join must be one aliased relation".into(),
        ));
    }
    Ok(QualifiedField::new(
        relation,
        Field::new(MARK_COLUMN, DataType::Boolean, false),
    ))
}

/// Removes duplicate rows (NULLs compare equal to each other here, as in SQL DISTINCT).
#[derive(Debug, Clone)]
pub struct Distinct {
    pub input: Arc<LogicalPlan>,
}

/// The first row of each group of equal `on` values, in `sort` order (PostgreSQL's
/// `DISTINCT ON`); what a correlated `ORDER BY … LIMIT 1` subquery becomes.
#[derive(Debug, Clone)]
pub struct DistinctOn {
    pub input: Arc<LogicalPlan>,
    pub on: Vec<Expr>,
    pub sort: Vec<SortExpr>,
}

impl DistinctOn {
    /// Checks the expressions against the input.
    pub fn try_new(
        input: Arc<LogicalPlan>,
        on: Vec<Expr>,
        sort: Vec<SortExpr>,
    ) -> Result<DistinctOn> {
        for e in on.iter().chain(sort.iter().map(|s| &s.expr)) {
            e.data_type(input.schema())?;
        }
        Ok(DistinctOn { input, on, sort })
    }
}

/// Literal rows.
#[derive(Debug, Clone)]
pub struct Values {
    pub rows: Vec<Vec<Expr>>,
    pub schema: PlanSchemaRef,
}

impl Values {
    /// Rows of literals; the schema gives names and types. Zero rows is allowed.
    pub fn try_new(schema: PlanSchemaRef, rows: Vec<Vec<Expr>>) -> Result<Values> {
        for row in &rows {
            if row.len() != schema.len() {
                return Err(EngineError::Plan(format!(
                    "VALUES row has {} columns, expected {}",
                    row.len(),
                    schema.len()
                )));
            }
        }
        Ok(Values { rows, schema })
    }

    /// No rows with the given columns (`QuerySet.none()`).
    pub fn empty(fields: Vec<Field>) -> Values {
        Values {
            rows: vec![],
            schema: Arc::new(PlanSchema::new(
                fields
                    .into_iter()
                    .map(|f| QualifiedField::new(None, f))
                    .collect(),
            )),
        }
    }
}

/// Computes window functions over its input: every input column, then one column per window
/// expression. The rows are the input's rows; each window expression sees them grouped by its
/// own `PARTITION BY` and ordered by its own `ORDER BY`.
#[derive(Debug, Clone)]
pub struct Window {
    pub input: Arc<LogicalPlan>,
    /// Each is an `Expr::WindowFunction`, possibly under an alias.
    pub window_exprs: Vec<Expr>,
    /// Set by `replace_rank_filter_with_top_k`: only each partition's first rows are needed
    /// (a filter above keeps no others), so the rest may be dropped before ranking.
    pub partition_fetch: Option<PartitionFetch>,
    pub schema: PlanSchemaRef,
}

/// Which rows of each partition a [`Window`] must produce: the first `rows` in the window
/// order, plus (`with_ties`) every row tied with the last of them — what `row_number() <= k`
/// and `rank() <= k` keep. With `skip > 0` (`rank() BETWEEN skip + 1 AND rows`) the rows
/// before position `skip` are not needed either, except for the peers of the row there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionFetch {
    pub skip: usize,
    pub rows: usize,
    pub with_ties: bool,
}

impl std::fmt::Display for PartitionFetch {
    /// `3`, `3 with ties`, or the rows' positions `11..=20` (1-based) when some are skipped.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.skip > 0 {
            write!(f, "{}..=", self.skip + 1)?;
        }
        write!(f, "{}", self.rows)?;
        if self.with_ties {
            write!(f, " with ties")?;
        }
        Ok(())
    }
}

impl Window {
    /// Validates the expressions and derives the schema.
    pub fn try_new(input: Arc<LogicalPlan>, window_exprs: Vec<Expr>) -> Result<Window> {
        let mut fields = input.schema().fields().to_vec();
        for w in &window_exprs {
            let Expr::WindowFunction(call) = w.clone().unalias() else {
                return Err(EngineError::Plan(format!("not a window function: {w}")));
            };
            for e in call
                .args
                .iter()
                .chain(&call.partition_by)
                .chain(call.order_by.iter().map(|s| &s.expr))
            {
                if e.contains_window() || e.contains_aggregate() {
                    return Err(EngineError::Plan(format!(
                        "window function calls cannot contain aggregate or window function calls: {w}"
                    )));
                }
            }
            fields.push(w.to_field(input.schema())?);
        }
        Ok(Window {
            input,
            window_exprs,
            partition_fetch: None,
            schema: Arc::new(PlanSchema::new(fields)),
        })
    }

    /// The same window (expressions and partition fetch) over a new input.
    pub fn with_input(&self, input: Arc<LogicalPlan>) -> Result<Window> {
        let mut window = Window::try_new(input, self.window_exprs.clone())?;
        window.partition_fetch = self.partition_fetch;
        Ok(window)
    }
}

/// Renames the relation of every input column (`(...) AS alias`).
#[derive(Debug, Clone)]
pub struct SubqueryAlias {
    pub input: Arc<LogicalPlan>,
    pub alias: String,
    pub schema: PlanSchemaRef,
}

impl SubqueryAlias {
    /// Requalifies the input's columns.
    pub fn new(input: Arc<LogicalPlan>, alias: impl Into<String>) -> SubqueryAlias {
        let alias = alias.into();
        let schema = Arc::new(input.schema().with_relation(&alias));
        SubqueryAlias {
            input,
            alias,
            schema,
        }
    }
}

impl LogicalPlan {
    /// The output schema.
    pub fn schema(&self) -> &PlanSchemaRef {
        match self {
            LogicalPlan::Scan(s) => &s.schema,
            LogicalPlan::Filter(f) => f.input.schema(),
            LogicalPlan::Projection(p) => &p.schema,
            LogicalPlan::Aggregate(a) => &a.schema,
            LogicalPlan::Sort(s) => s.input.schema(),
            LogicalPlan::Limit(l) => l.input.schema(),
            LogicalPlan::Join(j) => &j.schema,
            LogicalPlan::Distinct(d) => d.input.schema(),
            LogicalPlan::Values(v) => &v.schema,
            LogicalPlan::SubqueryAlias(s) => &s.schema,
            LogicalPlan::DistinctOn(d) => d.input.schema(),
            LogicalPlan::Union(u) => &u.schema,
            LogicalPlan::Intersect(i) => &i.schema,
            LogicalPlan::Except(e) => &e.schema,
            LogicalPlan::Cte(c) => &c.schema,
            LogicalPlan::RecursiveQuery(r) => &r.schema,
            LogicalPlan::WorkTable(w) => &w.schema,
            LogicalPlan::Window(w) => &w.schema,
        }
    }

    /// The node's name as EXPLAIN prints it.
    pub fn name(&self) -> &'static str {
        match self {
            LogicalPlan::Scan(_) => "Scan",
            LogicalPlan::Filter(_) => "Filter",
            LogicalPlan::Projection(_) => "Projection",
            LogicalPlan::Aggregate(_) => "Aggregate",
            LogicalPlan::Sort(s) if s.fetch.is_some() => "TopK",
            LogicalPlan::Sort(_) => "Sort",
            LogicalPlan::Limit(_) => "Limit",
            LogicalPlan::Join(_) => "Join",
            LogicalPlan::Distinct(_) => "Distinct",
            LogicalPlan::Values(_) => "Values",
            LogicalPlan::SubqueryAlias(_) => "SubqueryAlias",
            LogicalPlan::DistinctOn(_) => "DistinctOn",
            LogicalPlan::Union(_) => "Union",
            LogicalPlan::Intersect(_) => "Intersect",
            LogicalPlan::Except(_) => "Except",
            LogicalPlan::Cte(_) => "Cte",
            LogicalPlan::RecursiveQuery(_) => "RecursiveQuery",
            LogicalPlan::WorkTable(_) => "WorkTable",
            LogicalPlan::Window(_) => "Window",
        }
    }

    /// The node's inputs.
    pub fn inputs(&self) -> Vec<&Arc<LogicalPlan>> {
        match self {
            LogicalPlan::Scan(_) | LogicalPlan::Values(_) | LogicalPlan::WorkTable(_) => vec![],
            LogicalPlan::Filter(f) => vec![&f.input],
            LogicalPlan::Projection(p) => vec![&p.input],
            LogicalPlan::Aggregate(a) => vec![&a.input],
            LogicalPlan::Sort(s) => vec![&s.input],
            LogicalPlan::Limit(l) => vec![&l.input],
            LogicalPlan::Join(j) => vec![&j.left, &j.right],
            LogicalPlan::Distinct(d) => vec![&d.input],
            LogicalPlan::SubqueryAlias(s) => vec![&s.input],
            LogicalPlan::DistinctOn(d) => vec![&d.input],
            LogicalPlan::Union(u) => u.inputs.iter().collect(),
            LogicalPlan::Intersect(i) => vec![&i.left, &i.right],
            LogicalPlan::Except(e) => vec![&e.left, &e.right],
            LogicalPlan::Cte(c) => vec![&c.input],
            LogicalPlan::RecursiveQuery(r) => vec![&r.static_term, &r.recursive_term],
            LogicalPlan::Window(w) => vec![&w.input],
        }
    }

    /// The same node over new inputs (same count and order as [`inputs`](Self::inputs)),
    /// recomputing its schema.
    pub fn with_new_inputs(&self, mut inputs: Vec<Arc<LogicalPlan>>) -> Result<LogicalPlan> {
        let expected = self.inputs().len();
        if inputs.len() != expected {
            return Err(EngineError::Internal(format!(
                "{} takes {expected} inputs, got {}",
                self.name(),
                inputs.len()
            )));
        }
        let mut next = || inputs.remove(0);
        Ok(match self {
            LogicalPlan::Scan(_) | LogicalPlan::Values(_) | LogicalPlan::WorkTable(_) => {
                self.clone()
            }
            LogicalPlan::Filter(f) => {
                LogicalPlan::Filter(Filter::try_new(next(), f.predicate.clone())?)
            }
            LogicalPlan::Projection(p) => {
                LogicalPlan::Projection(Projection::try_new(next(), p.exprs.clone())?)
            }
            LogicalPlan::Aggregate(a) => LogicalPlan::Aggregate(Aggregate::try_new(
                next(),
                a.group_exprs.clone(),
                a.aggr_exprs.clone(),
            )?),
            LogicalPlan::Sort(s) => LogicalPlan::Sort(Sort {
                input: next(),
                exprs: s.exprs.clone(),
                fetch: s.fetch,
            }),
            LogicalPlan::Limit(l) => LogicalPlan::Limit(Limit {
                input: next(),
                skip: l.skip,
                fetch: l.fetch,
            }),
            LogicalPlan::Join(j) => {
                let left = next();
                let right = next();
                LogicalPlan::Join(Join::try_new(
                    left,
                    right,
                    j.on.clone(),
                    j.filter.clone(),
                    j.join_type,
                )?)
            }
            LogicalPlan::Distinct(_) => LogicalPlan::Distinct(Distinct { input: next() }),
            LogicalPlan::SubqueryAlias(s) => {
                LogicalPlan::SubqueryAlias(SubqueryAlias::new(next(), s.alias.clone()))
            }
            LogicalPlan::Window(w) => LogicalPlan::Window(w.with_input(next())?),
            LogicalPlan::DistinctOn(d) => {
                LogicalPlan::DistinctOn(DistinctOn::try_new(next(), d.on.clone(), d.sort.clone())?)
            }
            LogicalPlan::Union(u) => {
                LogicalPlan::Union(Union::try_new(std::mem::take(&mut inputs), u.all)?)
            }
            LogicalPlan::Intersect(_) => {
                let left = next();
                LogicalPlan::Intersect(Intersect::try_new(left, next())?)
            }
            LogicalPlan::Except(_) => {
                let left = next();
                LogicalPlan::Except(Except::try_new(left, next())?)
            }
            LogicalPlan::Cte(c) => {
                LogicalPlan::Cte(Cte::new(c.name.clone(), next(), c.materialized))
            }
            LogicalPlan::RecursiveQuery(r) => {
                let static_term = next();
                LogicalPlan::RecursiveQuery(RecursiveQuery::try_new(
                    r.name.clone(),
                    static_term,
                    next(),
                    r.distinct,
                )?)
            }
        })
    }

    /// The expressions this node evaluates (for rules that inspect them).
    pub fn expressions(&self) -> Vec<Expr> {
        match self {
            LogicalPlan::Scan(s) => s.filters.clone(),
            LogicalPlan::Filter(f) => vec![f.predicate.clone()],
            LogicalPlan::Projection(p) => p.exprs.clone(),
            LogicalPlan::Aggregate(a) => {
                a.group_exprs.iter().chain(&a.aggr_exprs).cloned().collect()
            }
            LogicalPlan::Sort(s) => s.exprs.iter().map(|e| e.expr.clone()).collect(),
            LogicalPlan::Join(j) => {
                j.on.iter()
                    .flat_map(|(l, r)| [l.clone(), r.clone()])
                    .chain(j.filter.clone())
                    .collect()
            }
            LogicalPlan::Values(v) => v.rows.iter().flatten().cloned().collect(),
            LogicalPlan::DistinctOn(d) => {
                d.on.iter()
                    .cloned()
                    .chain(d.sort.iter().map(|s| s.expr.clone()))
                    .collect()
            }
            LogicalPlan::Window(w) => w.window_exprs.clone(),
            LogicalPlan::Limit(_)
            | LogicalPlan::Distinct(_)
            | LogicalPlan::SubqueryAlias(_)
            | LogicalPlan::Union(_)
            | LogicalPlan::Intersect(_)
            | LogicalPlan::Except(_)
            | LogicalPlan::Cte(_)
            | LogicalPlan::RecursiveQuery(_)
            | LogicalPlan::WorkTable(_) => vec![],
        }
    }

    /// The same node with each of its own expressions (those of
    /// [`expressions`](Self::expressions)) replaced by `f(expr)`; inputs are untouched.
    pub fn map_expressions(
        self: &Arc<Self>,
        f: &mut dyn FnMut(Expr) -> Result<Transformed<Expr>>,
    ) -> Result<Transformed<Arc<LogicalPlan>>> {
        let mut changed = false;
        let mut map = |exprs: &[Expr]| -> Result<Vec<Expr>> {
            exprs
                .iter()
                .map(|e| {
                    let t = f(e.clone())?;
                    changed |= t.transformed;
                    Ok(t.data)
                })
                .collect()
        };
        let node = match self.as_ref() {
            LogicalPlan::Scan(s) => LogicalPlan::Scan(Scan {
                filters: map(&s.filters)?,
                ..s.clone()
            }),
            LogicalPlan::Filter(filter) => {
                let predicate = map(std::slice::from_ref(&filter.predicate))?;
                let predicate = predicate
                    .into_iter()
                    .next()
                    .ok_or_else(|| EngineError::Internal("filter lost its predicate".into()))?;
                LogicalPlan::Filter(Filter::try_new(Arc::clone(&filter.input), predicate)?)
            }
            LogicalPlan::Projection(p) => {
                LogicalPlan::Projection(Projection::try_new(Arc::clone(&p.input), map(&p.exprs)?)?)
            }
            LogicalPlan::Aggregate(a) => LogicalPlan::Aggregate(Aggregate::try_new(
                Arc::clone(&a.input),
                map(&a.group_exprs)?,
                map(&a.aggr_exprs)?,
            )?),
            LogicalPlan::Sort(s) => {
                let keys: Vec<Expr> = s.exprs.iter().map(|e| e.expr.clone()).collect();
                let exprs = map(&keys)?
                    .into_iter()
                    .zip(&s.exprs)
                    .map(|(expr, old)| SortExpr::new(expr, old.asc, old.nulls_first))
                    .collect();
                LogicalPlan::Sort(Sort {
                    input: Arc::clone(&s.input),
                    exprs,
                    fetch: s.fetch,
                })
            }
            LogicalPlan::Join(j) => {
                let lefts: Vec<Expr> = j.on.iter().map(|(l, _)| l.clone()).collect();
                let rights: Vec<Expr> = j.on.iter().map(|(_, r)| r.clone()).collect();
                let on = map(&lefts)?.into_iter().zip(map(&rights)?).collect();
                let filter = match &j.filter {
                    Some(e) => map(std::slice::from_ref(e))?.into_iter().next(),
                    None => None,
                };
                LogicalPlan::Join(Join::try_new(
                    Arc::clone(&j.left),
                    Arc::clone(&j.right),
                    on,
                    filter,
                    j.join_type,
                )?)
            }
            LogicalPlan::Values(v) => {
                let rows = v.rows.iter().map(|r| map(r)).collect::<Result<Vec<_>>>()?;
                LogicalPlan::Values(Values::try_new(Arc::clone(&v.schema), rows)?)
            }
            _ => return Ok(Transformed::no(Arc::clone(self))),
        };
        Ok(if changed {
            Transformed::yes(Arc::new(node))
        } else {
            Transformed::no(Arc::clone(self))
        })
    }

    /// Rewrites the plan bottom-up with `f` applied to each node after its inputs.
    pub fn transform_up<F>(
        self: &Arc<Self>,
        f: &mut F,
    ) -> Result<crate::expr::Transformed<Arc<LogicalPlan>>>
    where
        F: FnMut(Arc<LogicalPlan>) -> Result<crate::expr::Transformed<Arc<LogicalPlan>>>,
    {
        let mut changed = false;
        let mut new_inputs = Vec::new();
        for input in self.inputs() {
            let t = input.transform_up(f)?;
            changed |= t.transformed;
            new_inputs.push(t.data);
        }
        let node = if changed {
            Arc::new(self.with_new_inputs(new_inputs)?)
        } else {
            Arc::clone(self)
        };
        let t = f(node)?;
        Ok(crate::expr::Transformed {
            data: t.data,
            transformed: t.transformed || changed,
        })
    }
}
