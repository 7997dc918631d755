# Expected values for tests/integration/windows.rs, produced by real Django:
#
#   /tmp/django-venv/bin/python /work/shared/django-oracle/django_runner.py \
#       tests/integration/django/windows.py --db sqlite > tests/integration/django/windows.sqlite.jsonl
#
# (Django 5.1.4 on SQLite.) Each line is [label, value]; errors print as
# [label, {"error": ClassName, "message": text}]. Every window ORDER BY places NULLs
# explicitly (SQLite's default NULL order differs from PostgreSQL's), and RANGE frames with
# numeric offsets come from SQLite because Django refuses them on PostgreSQL (SEMANTICS.md).
from decimal import Decimal

from django.db import models
from django.db.models import Avg, Count, F, Max, Min, Q, StdDev, Sum, Variance, Window
from django.db.models.expressions import RowRange, ValueRange, WindowFrameExclusion
from django.db.models.functions import (
    CumeDist,
    DenseRank,
    ExtractYear,
    FirstValue,
    Lag,
    LastValue,
    Lead,
    NthValue,
    Ntile,
    PercentRank,
    Rank,
    RowNumber,
)
import datetime


class Emp(models.Model):
    name = models.CharField(max_length=20)
    dept = models.CharField(max_length=20, null=True)
    salary = models.IntegerField(null=True)
    bonus = models.DecimalField(max_digits=8, decimal_places=2, null=True)
    hired = models.DateField()


rows = [
    ("Ann", "eng", 100, Decimal("10.50"), datetime.date(2019, 3, 1)),
    ("Bob", "eng", 120, Decimal("7.25"), datetime.date(2020, 6, 1)),
    ("Cy", "eng", 100, None, datetime.date(2020, 1, 15)),
    ("Dee", "eng", None, Decimal("3.00"), datetime.date(2021, 2, 1)),
    ("Eve", "ops", 90, Decimal("1.00"), datetime.date(2019, 7, 1)),
    ("Fay", "ops", 95, Decimal("2.50"), datetime.date(2021, 9, 9)),
    ("Gus", "ops", 90, Decimal("4.75"), datetime.date(2022, 1, 1)),
    ("Hal", "solo", 70, Decimal("0.10"), datetime.date(2018, 1, 1)),
    ("Ivy", None, 80, Decimal("8.00"), datetime.date(2020, 5, 5)),
    ("Jon", None, 85, None, datetime.date(2023, 3, 3)),
]
for name, dept, salary, bonus, hired in rows:
    Emp.objects.create(name=name, dept=dept, salary=salary, bonus=bonus, hired=hired)

emps = Emp.objects.all()
by_salary = [F("salary").asc(nulls_last=True)]
by_salary_total = [F("salary").asc(nulls_last=True), "name"]


def case(label, thunk):
    try:
        value = thunk()
    except Exception as error:  # every outcome, errors included, is an expected value
        value = {"error": type(error).__name__, "message": str(error)}
    print([label, value])


def pairs(window, qs=None):
    qs = emps if qs is None else qs
    return [list(r) for r in qs.annotate(w=window).order_by("name").values_list("name", "w")]


# Ranking functions, partitioned (a NULL dept is a partition of its own), with ties.
case("row_number", lambda: pairs(Window(RowNumber(), partition_by="dept", order_by=by_salary_total)))
case("rank", lambda: pairs(Window(Rank(), partition_by="dept", order_by=by_salary)))
case("dense_rank", lambda: pairs(Window(DenseRank(), partition_by=[F("dept")], order_by=by_salary)))
case("percent_rank", lambda: pairs(Window(PercentRank(), partition_by="dept", order_by=by_salary)))
case("cume_dist", lambda: pairs(Window(CumeDist(), partition_by="dept", order_by=by_salary)))
case("ntile_3", lambda: pairs(Window(Ntile(3), order_by=by_salary_total)))
case("ntile_partition", lambda: pairs(Window(Ntile(2), partition_by="dept", order_by=by_salary_total)))
case("rank_desc_nulls_first", lambda: pairs(Window(Rank(), order_by=F("salary").desc(nulls_first=True))))
case("rank_no_order", lambda: pairs(Window(Rank(), partition_by="dept")))
case("rank_by_year", lambda: pairs(Window(Rank(), order_by=[ExtractYear("hired").asc()])))
case("rank_by_transform", lambda: pairs(Window(DenseRank(), order_by=F("hired__year").desc())))
case("row_number_two_keys", lambda: pairs(Window(RowNumber(), order_by=[F("dept").asc(nulls_first=True), F("salary").desc(nulls_last=True), "name"])))

# Lag / Lead with offsets and defaults.
case("lag", lambda: pairs(Window(Lag("salary"), partition_by="dept", order_by=by_salary_total)))
case("lag_2_default", lambda: pairs(Window(Lag("salary", offset=2, default=-1), order_by=by_salary_total)))
case("lead", lambda: pairs(Window(Lead("name"), partition_by="dept", order_by=by_salary_total)))
case("lead_default", lambda: pairs(Window(Lead("bonus", 1, Decimal("0")), partition_by="dept", order_by=["name"])))

# Value functions honour the frame (the default frame stops at the last peer).
case("first_value", lambda: pairs(Window(FirstValue("name"), partition_by="dept", order_by=by_salary_total)))
case("last_value_default_frame", lambda: pairs(Window(LastValue("name"), partition_by="dept", order_by=by_salary)))
case("last_value_whole", lambda: pairs(Window(LastValue("name"), partition_by="dept", order_by=by_salary_total, frame=RowRange(None, None))))
case("nth_value_2", lambda: pairs(Window(NthValue("name", 2), partition_by="dept", order_by=by_salary_total)))
case("nth_value_frame", lambda: pairs(Window(NthValue("salary", 2), order_by=by_salary_total, frame=RowRange(-1, 1))))

# Aggregates: default frames (running with peers; whole partition without order).
case("sum_partition", lambda: pairs(Window(Sum("salary"), partition_by="dept")))
case("sum_running_peers", lambda: pairs(Window(Sum("salary"), order_by=by_salary)))
case("count_running", lambda: pairs(Window(Count("salary"), partition_by="dept", order_by=by_salary)))
case("count_star", lambda: pairs(Window(Count("*"), partition_by="dept")))
case("avg_partition", lambda: pairs(Window(Avg("salary"), partition_by="dept")))
case("min_running", lambda: pairs(Window(Min("name"), order_by=by_salary_total)))
case("max_partition", lambda: pairs(Window(Max("hired"), partition_by="dept")))
case("sum_decimal", lambda: pairs(Window(Sum("bonus"), partition_by="dept")))
case("sum_filter", lambda: pairs(Window(Sum("salary", filter=Q(bonus__gt=2)), partition_by="dept")))

# Frames: ROWS and RANGE with offsets, exclusions.
case("rows_sliding", lambda: pairs(Window(Sum("salary"), order_by=by_salary_total, frame=RowRange(-1, 1))))
case("rows_preceding_only", lambda: pairs(Window(Sum("salary"), order_by=by_salary_total, frame=RowRange(-2, -1))))
case("rows_following_only", lambda: pairs(Window(Max("salary"), order_by=by_salary_total, frame=RowRange(1, 3))))
case("rows_to_end", lambda: pairs(Window(Count("*"), partition_by="dept", order_by=by_salary_total, frame=RowRange(0, None))))
case("range_offset", lambda: pairs(Window(Sum("salary"), order_by=by_salary, frame=ValueRange(-10, 5))))
case("range_offset_desc", lambda: pairs(Window(Count("salary"), order_by=F("salary").desc(nulls_last=True), frame=ValueRange(-10, 0))))
case("range_current", lambda: pairs(Window(Sum("salary"), order_by=by_salary, frame=ValueRange(0, 0))))
case("range_unbounded_following", lambda: pairs(Window(Min("name"), partition_by="dept", order_by=by_salary, frame=ValueRange(0, None))))
case("exclude_current_row", lambda: pairs(Window(Sum("salary"), partition_by="dept", frame=RowRange(None, None, exclusion=WindowFrameExclusion.CURRENT_ROW))))
case("exclude_group", lambda: pairs(Window(Count("*"), order_by=by_salary, frame=RowRange(None, None, exclusion=WindowFrameExclusion.GROUP))))
case("exclude_ties", lambda: pairs(Window(Sum("salary"), order_by=by_salary, frame=ValueRange(None, 0, exclusion=WindowFrameExclusion.TIES))))
case("exclude_no_others", lambda: pairs(Window(Sum("salary"), order_by=by_salary_total, frame=RowRange(-1, 0, exclusion=WindowFrameExclusion.NO_OTHERS))))
case("first_value_exclude_current", lambda: pairs(Window(FirstValue("name"), order_by=by_salary_total, frame=RowRange(0, 2, exclusion=WindowFrameExclusion.CURRENT_ROW))))

# Invalid frames and arguments.
case("frame_start_after_end", lambda: pairs(Window(Sum("salary"), order_by=by_salary, frame=RowRange(2, 1))))
case("value_range_positive_start", lambda: pairs(Window(Sum("salary"), order_by=by_salary, frame=ValueRange(1, None))))
case("value_range_negative_end", lambda: pairs(Window(Sum("salary"), order_by=by_salary, frame=ValueRange(None, -1))))
case("lag_zero_offset", lambda: pairs(Window(Lag("salary", 0))))
case("ntile_zero", lambda: pairs(Window(Ntile(0))))
case("nth_value_zero", lambda: pairs(Window(NthValue("salary", 0))))
case("window_of_field", lambda: pairs(Window(F("salary"))))

# Filtering on windows (Django 4.2+): after the windows, then slicing, count, values.
ranked = emps.annotate(rn=Window(RowNumber(), partition_by="dept", order_by=[F("salary").desc(nulls_last=True), "name"]))
case("filter_top2", lambda: list(ranked.filter(rn__lte=2).order_by("name").values_list("name", "rn")))
case("exclude_first", lambda: list(ranked.exclude(rn=1).order_by("name").values_list("name", flat=True)))
case("filter_count", lambda: ranked.filter(rn__lte=2).count())
case("filter_slice", lambda: list(ranked.filter(rn=1).order_by("-salary")[1:3].values_list("name", flat=True)))
case("filter_values", lambda: list(ranked.filter(rn=1, salary__gte=90).order_by("dept").values("dept", "rn")))
case("filter_and_plain", lambda: list(ranked.filter(Q(rn=1) | Q(name="Gus")).order_by("name").values_list("name", flat=True)))
case("alias_filter", lambda: list(emps.alias(r=Window(Rank(), order_by=F("salary").desc(nulls_last=True))).filter(r__lte=3).order_by("name").values_list("name", flat=True)))
case("window_arithmetic", lambda: pairs(F("salary") - Window(Avg("salary"), partition_by="dept")))

# Windows over aggregates, and aggregate() over a window query.
per_dept = emps.values("dept").annotate(total=Sum("salary")).annotate(rank=Window(Rank(), order_by=F("total").desc(nulls_last=True)))
case("rank_of_group_totals", lambda: list(per_dept.order_by("rank", F("dept").asc(nulls_first=True)).values_list("dept", "total", "rank")))
case("running_share", lambda: list(emps.values("dept").annotate(n=Count("id")).annotate(running=Window(Sum("n"), order_by=F("dept").asc(nulls_first=True))).order_by(F("dept").asc(nulls_first=True)).values_list("dept", "n", "running")))
case("aggregate_over_window", lambda: ranked.filter(rn__lte=2).aggregate(total=Sum("salary")))
case("window_over_model_groups", lambda: list(emps.annotate(n=Count("id")).annotate(r=Window(DenseRank(), order_by=F("salary").desc(nulls_last=True))).order_by("name").values_list("name", "n", "r")))
case("order_by_window_annotation", lambda: list(emps.annotate(r=Window(Sum("salary"), partition_by="dept")).order_by("-r", "name").values_list("name", flat=True)))
case("count_with_window_no_filter", lambda: emps.annotate(r=Window(RowNumber())).count())
case("distinct_window_values", lambda: sorted(emps.annotate(r=Window(Count("*"), partition_by="dept")).values_list("r", flat=True).distinct()))

# Windows in subqueries: the subquery computes its windows (and filters on them) on its own.
from django.db.models import Exists, OuterRef, Subquery  # noqa: E402

case("subquery_window_pk_in", lambda: list(emps.filter(pk__in=ranked.filter(rn__lte=2).values("pk")).order_by("name").values_list("name", flat=True)))
case("subquery_window_in_subquery_expression", lambda: list(emps.filter(pk__in=Subquery(emps.annotate(r=Window(Rank(), order_by=F("salary").desc(nulls_last=True))).filter(r__lte=3).values("pk"))).order_by("name").values_list("name", flat=True)))
case("subquery_window_top_of_dept", lambda: list(emps.annotate(top=Subquery(ranked.filter(dept=OuterRef("dept"), rn=1).values("name")[:1])).order_by("name").values_list("name", "top")))
case("subquery_window_value", lambda: list(emps.annotate(total=Subquery(Emp.objects.filter(dept=OuterRef("dept")).annotate(t=Window(Sum("salary"))).values("t")[:1])).order_by("name").values_list("name", "total")))
case("subquery_window_where_before_window", lambda: list(emps.annotate(r=Subquery(ranked.filter(pk=OuterRef("pk")).values("rn"))).order_by("name").values_list("name", "r")))
case("subquery_window_correlated_qualify", lambda: list(emps.annotate(who=Subquery(emps.annotate(g=Window(RowNumber(), order_by=[F("salary").desc(nulls_last=True), "name"])).filter(g=OuterRef("pk")).values("name")[:1])).order_by("name").values_list("name", "who")))
case("exists_window", lambda: list(emps.filter(Exists(ranked.filter(dept=OuterRef("dept"), rn__gt=3))).order_by("name").values_list("name", flat=True)))
case("window_annotation_of_subquery_values", lambda: list(emps.filter(pk__in=ranked.filter(rn=1).values("pk")).annotate(r=Window(Rank(), order_by=F("salary").desc(nulls_last=True))).order_by("name").values_list("name", "r")))

# Writes refuse window expressions (Django's SQLUpdateCompiler / SQLInsertCompiler).
case("update_with_window", lambda: emps.update(salary=Window(Max("salary"))))
case("update_with_window_in_arithmetic", lambda: emps.filter(name="Ann").update(salary=F("salary") + Window(Max("salary"), partition_by="dept")))
case("create_with_window", lambda: Emp.objects.create(name="Zed", hired=datetime.date(2024, 1, 1), salary=Window(Max("salary"))).pk)
