//! Metamorphic checks inside Quiver: relations between QuerySets that must hold whatever the
//! data, so no second engine is needed (SQLancer's TLP and NoREC oracles, and slicing). The
//! data here includes `-0.0` and infinities, which the DataFusion comparison leaves out.
//!
//! - TLP (ternary logic partitioning): on a single table, `filter(q)` and `exclude(q)` split
//!   the rows — Django puts `AND x IS NOT NULL` inside a negation for every nullable field a
//!   lookup reads (SEMANTICS.md) — so their ids are disjoint and together are all ids, and
//!   `Sum`/`Count`/`Max` over the two parts combine to the aggregate over all rows. Lookups
//!   whose value is an expression, or an `F()` of a non-nullable field behind the nullable
//!   relation, are left out: Django adds no `IS NOT NULL` for those, so a NULL there drops
//!   the row from both sides (see [`RhsChoice`]).
//! - Negation and chaining: `exclude(q)` is `filter(~q)`, and `filter(a).filter(b)` is
//!   `filter(a & b)` on a single-valued path.
//! - NoREC: `filter(q)` keeps exactly the rows for which
//!   `Case(When(q, then=1), default=0)` is 1 (Django compiles `When` conditions as filters).
//! - Slicing: `qs[a:b]` is rows `a..b` of `qs` in a total order, and `qs[a]` is row `a`.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use quiver::prelude::*;
use quiver::QuerySet;

use super::config;
use super::querysets::{qtree, qtree_over, total_ordering, QTree, RhsChoice};
use super::tables::{dataset, Dataset, Floats, Loaded};
use crate::datafusion_oracle::{canonical_rows, compare_ordered};

fn load(dataset: &Dataset) -> Result<Loaded, TestCaseError> {
    dataset.load().map_err(TestCaseError::fail)
}

/// The item ids of a QuerySet, sorted.
fn ids(qs: &QuerySet) -> Result<Vec<i64>, quiver::Error> {
    let mut ids: Vec<i64> = qs.values(["id"]).fetch()?.column("id")?;
    ids.sort_unstable();
    Ok(ids)
}

fn fail(what: &str, q: &QTree, dataset: &Dataset, detail: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(format!("{what}\nq: {q}\n{detail}\n{dataset:?}"))
}

/// An integer aggregate result as `i128` (`None` for NULL).
fn integer(row: &Row, name: &str) -> Result<Option<i128>, String> {
    match row.get_value(name).map_err(|e| e.to_string())? {
        ScalarValue::Int16(v) => Ok(v.map(i128::from)),
        ScalarValue::Int32(v) => Ok(v.map(i128::from)),
        ScalarValue::Int64(v) => Ok(v.map(i128::from)),
        ScalarValue::Null => Ok(None),
        other => Err(format!("{name} is not an integer: {other:?}")),
    }
}

/// `(qty__sum, qty__count, qty__max)` of a QuerySet.
fn qty_aggregates(qs: &QuerySet) -> Result<[Option<i128>; 3], String> {
    let row = qs
        .aggregate([Sum("qty"), Count("qty"), Max("qty")])
        .map_err(|e| e.to_string())?;
    Ok([
        integer(&row, "qty__sum")?,
        integer(&row, "qty__count")?,
        integer(&row, "qty__max")?,
    ])
}

proptest! {
    #![proptest_config(config())]

    /// TLP: `filter(q)` and `exclude(q)` partition the table, for rows and for aggregates.
    #[test]
    fn filter_and_exclude_partition_the_table(
        dataset in dataset(Floats::All),
        q in qtree_over(&[], RhsChoice::TwoValuedUnderNegation, 3),
    ) {
        let loaded = load(&dataset)?;
        let items = loaded.db.objects("Item");
        let run = |qs: &QuerySet| ids(qs).map_err(|e| fail("evaluation failed", &q, &dataset, e));
        let all = run(&items)?;
        let kept = run(&items.filter(q.build()))?;
        let dropped = run(&items.exclude(q.build()))?;
        let mut both: Vec<i64> = kept.iter().chain(&dropped).copied().collect();
        both.sort_unstable();
        if both != all {
            return Err(fail(
                "filter(q) and exclude(q) do not split the rows",
                &q,
                &dataset,
                format!("filter: {kept:?}\nexclude: {dropped:?}\nall: {all:?}"),
            ));
        }

        let aggregates = |qs: &QuerySet| {
            qty_aggregates(qs).map_err(|e| fail("aggregate failed", &q, &dataset, e))
        };
        let [sum, count, max] = aggregates(&items)?;
        let [sum_kept, count_kept, max_kept] = aggregates(&items.filter(q.build()))?;
        let [sum_dropped, count_dropped, max_dropped] = aggregates(&items.exclude(q.build()))?;
        let add = |a: Option<i128>, b: Option<i128>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        let combined = [
            add(sum_kept, sum_dropped),
            add(count_kept, count_dropped),
            max_kept.max(max_dropped),
        ];
        if combined != [sum, count, max] {
            return Err(fail(
                "Sum/Count/Max of qty over filter(q) and exclude(q) do not combine to the total",
                &q,
                &dataset,
                format!("parts combine to {combined:?}, total is {:?}", [sum, count, max]),
            ));
        }
    }

    /// `exclude(q)` is `filter(~q)`, and chained filters are their conjunction.
    #[test]
    fn negation_and_chaining(
        dataset in dataset(Floats::All),
        a in qtree(2),
        b in qtree(2),
    ) {
        prop_assume!(!a.may_fail() && !b.may_fail());
        let loaded = load(&dataset)?;
        let items = loaded.db.objects("Item");
        let run = |qs: &QuerySet| ids(qs).map_err(|e| fail("evaluation failed", &a, &dataset, e));
        let excluded = run(&items.exclude(a.build()))?;
        let negated = run(&items.filter(!a.build()))?;
        if excluded != negated {
            return Err(fail(
                "exclude(q) differs from filter(~q)",
                &a,
                &dataset,
                format!("exclude: {excluded:?}\nfilter(~q): {negated:?}"),
            ));
        }
        let chained = run(&items.filter(a.build()).filter(b.build()))?;
        let conjunction = run(&items.filter(a.build() & b.build()))?;
        if chained != conjunction {
            return Err(fail(
                "filter(a).filter(b) differs from filter(a & b)",
                &a,
                &dataset,
                format!("b: {b}\nchained: {chained:?}\nconjunction: {conjunction:?}"),
            ));
        }
    }

    /// NoREC: the rows `filter(q)` keeps are those where `Case(When(q, then=1), default=0)`
    /// is 1.
    #[test]
    fn filter_agrees_with_case_when(dataset in dataset(Floats::All), q in qtree(3)) {
        prop_assume!(!q.may_fail());
        let loaded = load(&dataset)?;
        let items = loaded.db.objects("Item");
        let kept = ids(&items.filter(q.build()))
            .map_err(|e| fail("filter failed", &q, &dataset, e))?;
        let flags = items
            .annotate([("b", Case([When(q.build(), Value(1))]).default(Value(0)))])
            .values(["id", "b"])
            .fetch()
            .map_err(|e| fail("annotate failed", &q, &dataset, e))?;
        let flagged_ids: Vec<i64> = flags.column("id").map_err(|e| fail("id", &q, &dataset, e))?;
        let flag_values: Vec<i64> = flags.column("b").map_err(|e| fail("b", &q, &dataset, e))?;
        let mut flagged: Vec<i64> = flagged_ids
            .into_iter()
            .zip(flag_values)
            .filter(|(_, b)| *b == 1)
            .map(|(id, _)| id)
            .collect();
        flagged.sort_unstable();
        if kept != flagged {
            return Err(fail(
                "filter(q) and Case(When(q, then=1), default=0) disagree",
                &q,
                &dataset,
                format!("filter: {kept:?}\nCase = 1: {flagged:?}"),
            ));
        }
    }

    /// `qs[start:end]` is the rows `start..end` of `qs` in a total order; `qs[start]` is the
    /// row at `start`.
    #[test]
    fn slices_are_ranges_of_the_ordered_rows(
        dataset in dataset(Floats::All),
        q in qtree(2),
        order in total_ordering(),
        start in 0usize..12,
        length in prop::option::of(0usize..12),
    ) {
        prop_assume!(!q.may_fail());
        let loaded = load(&dataset)?;
        let qs = loaded.db.objects("Item").filter(q.build()).order_by(order.clone());
        let context = || format!("order_by({order:?})[{start}:{length:?}]");
        let run = |qs: &QuerySet| {
            qs.to_batches()
                .map(|batches| canonical_rows(&batches))
                .map_err(|e| fail("evaluation failed", &q, &dataset, format!("{}: {e}", context())))
        };
        let full = run(&qs)?;
        let (sliced, expected) = match length {
            Some(length) => {
                let end = (start + length).min(full.len());
                let from = start.min(end);
                (run(&qs.slice(start as isize..(start + length) as isize))?, &full[from..end])
            }
            None => (run(&qs.slice(start as isize..))?, &full[start.min(full.len())..]),
        };
        compare_ordered(&sliced, expected)
            .map_err(|diff| fail("a slice is not a range of the ordered rows", &q, &dataset, format!("{}: {diff}", context())))?;

        match qs.get_index(start as isize) {
            Ok(instance) => {
                let id: i64 = instance
                    .get("id")
                    .map_err(|e| fail("qs[i] has no id", &q, &dataset, e))?;
                let expected_id = full.get(start).map(|row| row[0].clone());
                if expected_id.map(|v| v.to_string()) != Some(id.to_string()) {
                    return Err(fail("qs[i] is not row i", &q, &dataset, format!("{}: id {id}", context())));
                }
            }
            Err(quiver::Error::IndexError(_)) if start >= full.len() => {}
            Err(error) => {
                return Err(fail("qs[i] failed", &q, &dataset, format!("{}: {error}", context())));
            }
        }
    }
}
