//! Each script in `cli/examples/` against the output real Django printed for it.
//!
//! The `*.expected.jsonl` files were made with
//! `/tmp/django-venv/bin/python /work/shared/django-oracle/django_runner.py cli/examples/NAME.py --db sqlite`
//! (Django 5.1.4); the scripts avoid the places where SQLite and PostgreSQL differ.

use crate::support::{compare, examples, quiver};

fn check(name: &str) {
    let script = examples().join(format!("{name}.py"));
    let expected = std::fs::read_to_string(examples().join(format!("{name}.expected.jsonl")))
        .expect("the expected output is checked in");
    let out = quiver(&["run", &script.to_string_lossy(), "--format", "json"], "");
    let problems = compare(&expected, &out.stdout);
    assert!(
        problems.is_empty(),
        "{name}: {problems:#?}\nstderr: {}",
        out.stderr
    );
    let ends_in_error = expected
        .lines()
        .last()
        .is_some_and(|l| l.starts_with("{\"error\""));
    assert_eq!(
        out.success, !ends_in_error,
        "{name}: exit status\nstderr: {}",
        out.stderr
    );
}

#[test]
fn students_match_django() {
    check("students");
}

#[test]
fn orders_match_django() {
    check("orders");
}

#[test]
fn the_comparison_notices_differences() {
    assert!(compare("[1,2.5]", "[1,2.5000000000001]").is_empty());
    assert!(compare("{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}").is_empty());
    assert_eq!(compare("[1]", "[2]").len(), 1);
    assert_eq!(compare("[1]\n[2]", "[1]").len(), 1);
    assert!(compare(
        "{\"error\":\"FieldError\",\"message\":\"x\"}",
        "{\"error\":\"FieldError\",\"message\":\"y\"}"
    )
    .is_empty());
}

#[test]
fn library_matches_django() {
    check("library");
}

#[test]
fn django_gotchas_match_django() {
    check("gotchas");
}

#[test]
fn the_python_subset_matches_python() {
    check("python_subset");
}

#[test]
fn parquet_readings_match_django() {
    check("readings");
}

#[test]
fn countries_with_a_char_primary_key_match_django() {
    check("countries");
}

#[test]
fn tickets_with_choices_and_auto_now_match_django() {
    check("tickets");
}

#[test]
fn abstract_base_models_match_django() {
    check("abstract_models");
}

#[test]
fn one_to_one_passports_match_django() {
    check("passports");
}

#[test]
fn books_with_relations_and_windows_match_django() {
    check("books");
}

#[test]
fn subqueries_and_set_operations_match_django() {
    check("subqueries");
}

/// Made with django-cte 4.0.0 in the same venv (the recursive CTE, `with_cte`, `cte.join`
/// with `_join_type=LOUTER`, `cte.queryset()`).
#[test]
fn recursive_ctes_over_a_category_tree_match_django() {
    check("category_tree");
}

/// Instances from a union, a named recursive CTE (django-cte 4.0.0 for the expected output).
#[test]
fn node_tree_unions_and_named_ctes_match_django() {
    check("node_tree");
}

/// django-cte's deprecated manager style; Django 5.1.4 + django-cte 4.0.0 printed `1`
/// (django_runner.py, sqlite) for this script.
#[test]
fn the_cte_manager_style_matches_django() {
    let source = "from django.db import models\nfrom django_cte import CTE, CTEManager\n\
        class T(models.Model):\n    x = models.IntegerField()\n    objects = CTEManager()\n\
        T.objects.create(x=1)\nc = CTE(T.objects.values(\"x\"))\nprint(T.objects.with_cte(c).count())\n";
    let out = crate::support::run_source(source, "json", &[]);
    assert!(out.success, "{}", out.stderr);
    assert!(compare("1", &out.stdout).is_empty(), "{}", out.stdout);
}

#[test]
fn bank_writes_and_transactions_match_django() {
    check("bank");
}

#[test]
fn refused_writes_raise_djangos_errors() {
    check("write_errors");
}

#[test]
fn prefetch_to_attr_lists_match_django() {
    check("to_attr");
}

#[test]
fn saves_and_updates_match_django() {
    check("saves");
}

#[test]
fn forced_saves_match_django() {
    check("force_save");
}

#[test]
fn get_or_create_and_update_or_create_match_django() {
    check("get_or_create");
}

#[test]
fn properties_and_atomic_functions_match_django() {
    check("decorators");
}

#[test]
fn bulk_create_conflicts_match_django() {
    check("bulk_create");
}

#[test]
fn related_writes_match_django() {
    check("related_writes");
}

#[test]
fn write_calls_with_bad_arguments_raise_like_django() {
    check("bad_arguments");
}

#[test]
fn meta_constraints_partial_indexes_and_db_constraint_match_django() {
    check("constraints");
}

#[test]
fn the_query_log_shows_writes_as_django_does() {
    check("query_log");
}

/// The leaderboard walk-through (the script twin of `orm-frontend/examples/leaderboard.rs`):
/// windows, a filter on a window, rank and neighbours, `update(score=F("score") + delta)` in
/// transactions, and `update()` with a window refused with Django's `FieldError`.
#[test]
fn leaderboard_matches_django() {
    check("leaderboard");
}
