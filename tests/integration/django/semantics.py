# Expected values for tests/integration/semantics.rs, produced by real Django:
#
#   /tmp/django-venv/bin/python /work/shared/django-oracle/django_runner.py \
#       tests/integration/django/semantics.py --db sqlite > tests/integration/django/semantics.sqlite.jsonl
#
# (Django 5.1.4; set up with `python3 -m venv /tmp/django-venv &&
#  /tmp/django-venv/bin/pip install "Django==5.1.4" pyarrow`.)
#
# Each line is [label, value]. Errors print as [label, {"error": ClassName, "message": text}].
# The script avoids what SQLite answers differently from PostgreSQL (Quiver follows
# PostgreSQL): default NULL ordering (every order_by here places NULLs explicitly or orders
# non-null keys), LIKE case sensitivity and UPPER/LOWER on non-ASCII text (no text lookups),
# division by zero (SQLite returns NULL, PostgreSQL raises), NaN and -0.0 (SQLite stores NaN
# as NULL), and decimals that are not exact in binary (SQLite computes decimals as floats).
from decimal import Decimal

from django.core.exceptions import FieldError
from django.db import models
from django.db.models import Avg, Case, Count, F, Max, Min, Q, Sum, Value, When
from django.db.models.functions import Coalesce


class Author(models.Model):
    name = models.CharField(max_length=50)
    age = models.IntegerField(null=True)
    city = models.CharField(max_length=20, null=True)
    rating = models.FloatField(null=True)

    class Meta:
        ordering = ["name"]


class Book(models.Model):
    title = models.CharField(max_length=50)
    pages = models.IntegerField()
    price = models.DecimalField(max_digits=8, decimal_places=2, null=True)
    author = models.ForeignKey(Author, models.CASCADE, null=True, related_name="books")


ann = Author.objects.create(name="Ann", age=30, city="Oslo", rating=4.5)
bob = Author.objects.create(name="Bob", age=None, city="Rome", rating=None)
cy = Author.objects.create(name="Cy", age=40, city=None, rating=3.0)
dee = Author.objects.create(name="Dee", age=30, city="Oslo", rating=2.5)
Book.objects.create(title="A", pages=100, price=Decimal("10.50"), author=ann)
Book.objects.create(title="B", pages=200, price=None, author=ann)
Book.objects.create(title="C", pages=150, price=Decimal("20.00"), author=cy)
Book.objects.create(title="D", pages=50, price=Decimal("5.25"), author=None)

authors = Author.objects.all()


def names(qs):
    return list(qs.order_by("name").values_list("name", flat=True))


def case(label, thunk):
    try:
        value = thunk()
    except Exception as error:  # every outcome, errors included, is an expected value
        value = {"error": type(error).__name__, "message": str(error)}
    print([label, value])


# NULL in filter / exclude / in / isnull
case("filter_none", lambda: names(authors.filter(age=None)))
case("exclude_none", lambda: names(authors.exclude(age=None)))
case("isnull_false", lambda: names(authors.filter(age__isnull=False)))
case("in_ignores_none", lambda: names(authors.filter(age__in=[30, None])))
case("in_empty", lambda: names(authors.filter(age__in=[])))
case("exclude_in_empty", lambda: names(authors.exclude(age__in=[])))
case("exclude_keeps_null", lambda: names(authors.exclude(age=30)))
case("filter_negated_keeps_null", lambda: names(authors.filter(~Q(age=30))))
case("exclude_or", lambda: names(authors.exclude(Q(age=30) | Q(city="Rome"))))
case("exclude_gt_f_nullable", lambda: names(authors.exclude(age__gt=F("rating"))))
case("filter_gt_f_nullable", lambda: names(authors.filter(age__gt=F("rating"))))
case("exclude_through_nullable_fk", lambda: list(Book.objects.exclude(author__city="Oslo").order_by("title").values_list("title", flat=True)))
case("filter_and_exclude_split", lambda: [names(authors.filter(Q(age__lt=35) | Q(city="Rome"))), names(authors.exclude(Q(age__lt=35) | Q(city="Rome")))])

# Aggregates: NULLs skipped, empty sets, default= and Coalesce, default names
nobody = authors.filter(name="nobody")
case("aggregate_empty", lambda: nobody.aggregate(Count("id"), Sum("age"), Avg("age"), Max("name"), Min("rating")))
case("aggregate_default", lambda: nobody.aggregate(s=Sum("age", default=0), c=Coalesce(Sum("age"), 0), m=Max("rating", default=1.5)))
case("aggregate_skips_null", lambda: authors.aggregate(Avg("age"), Count("age"), Sum("rating"), n=Count("*")))
case("default_names", lambda: Book.objects.aggregate(Avg("pages"), Max("price"), Sum("pages"), Min("title")))
case("aggregate_distinct", lambda: authors.aggregate(Count("city", distinct=True), Sum("age", distinct=True)))
case("aggregate_filter", lambda: authors.aggregate(old=Count("id", filter=Q(age__gte=35)), young_age=Sum("age", filter=Q(age__lt=35))))
case("aggregate_over_slice", lambda: authors.order_by("name")[1:3].aggregate(Sum("age"), Count("id")))
case("decimal_aggregates", lambda: Book.objects.aggregate(Sum("price"), Max("price"), Min("price")))
# SQLite averages decimals as floats (11.9166666666667); PostgreSQL's numeric average is
# 11.9166666666666667. Both agree within 1e-9.
case("decimal_avg", lambda: Book.objects.aggregate(Avg("price")))
case("avg_of_integers_is_float", lambda: Book.objects.filter(pages__lte=150).aggregate(Avg("pages")))

# GROUP BY rules
case("values_annotate_groups", lambda: list(authors.values("city").annotate(n=Count("id")).order_by(F("city").asc(nulls_last=True))))
case("annotate_groups_by_pk", lambda: list(authors.annotate(n=Count("books")).values("name", "n").order_by("name")))
case("values_after_annotate_does_not_regroup", lambda: list(authors.annotate(n=Count("books")).values("city", "n").order_by("name")))
case("order_by_field_joins_group_by", lambda: list(authors.values("city").annotate(n=Count("id")).order_by("name")))
case("meta_ordering_not_in_group_by", lambda: sorted(authors.values("city").annotate(n=Count("id")), key=lambda r: (r["city"] is None, r["city"] or "")))
case("order_by_cleared", lambda: sorted(authors.values("city").annotate(n=Count("id")).order_by("name").order_by(), key=lambda r: (r["city"] is None, r["city"] or "")))
case("having", lambda: list(authors.values("city").annotate(n=Count("id")).filter(n__gt=1)))
case("having_and_where", lambda: list(authors.filter(age__isnull=False).values("age").annotate(n=Count("id"), pages=Sum("books__pages")).filter(n__gte=1).order_by("age")))
case("empty_group_sum", lambda: list(authors.annotate(s=Sum("books__pages"), c=Coalesce(Sum("books__pages"), 0), n=Count("books")).values("name", "s", "c", "n").order_by("name")))

# Arithmetic
case("integer_division", lambda: list(authors.annotate(h=F("age") / 7, m=F("age") % 7).values("name", "h", "m").order_by("name")))
case("negative_integer_division", lambda: list(authors.filter(name="Ann").annotate(q=Value(-7) / Value(2), r=Value(-7) % Value(2)).values("q", "r")))
case("aggregate_integer_division", lambda: authors.aggregate(mean=Sum("age") / Count("age")))
case("null_arithmetic", lambda: list(authors.annotate(x=F("age") + 1).values("name", "x").order_by("name")))

# Case / When
case("case_when_null_goes_to_default", lambda: list(authors.annotate(band=Case(When(age__lt=35, then=Value("young")), default=Value("old"))).values("name", "band").order_by("name")))
case("case_when_no_default_is_null", lambda: list(authors.annotate(band=Case(When(age__lt=35, then=Value("young")))).values("name", "band").order_by("name")))

# Explicit NULL placement (SQLite emulates NULLS FIRST/LAST, so these are backend-independent)
case("order_nulls_first", lambda: list(authors.order_by(F("age").asc(nulls_first=True), "name").values_list("name", flat=True)))
case("order_desc_nulls_last", lambda: list(authors.order_by(F("age").desc(nulls_last=True), "name").values_list("name", flat=True)))

# Errors
case("field_error", lambda: names(authors.filter(agee=3)))
case("field_error_annotation_choices", lambda: names(authors.annotate(n=Count("books")).filter(nn=1)))
case("count_star_filter", lambda: authors.aggregate(n=Count("*", filter=Q(age=30))))
case("count_default", lambda: authors.aggregate(n=Count("id", default=0)))
case("mixed_types", lambda: list(Book.objects.annotate(x=F("price") + F("author__rating")).values("x")))
case("complex_aggregate_needs_alias", lambda: authors.aggregate(Sum("age", filter=Q(age=30))))
