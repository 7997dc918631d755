# Expected values for tests/integration/subqueries.rs, produced by real Django (with the
# django-cte package for the CTE cases):
#
#   /tmp/django-venv/bin/python /work/shared/django-oracle/django_runner.py \
#       tests/integration/django/subqueries.py --db sqlite > tests/integration/django/subqueries.sqlite.jsonl
#
# (Django 5.1.4, django-cte 4.0.0.) Each line is [label, value]; errors print as
# [label, {"error": ClassName, "message": text}]. Every ordering here is total and on
# non-null keys, so SQLite's NULL ordering never shows.
from django.db import models
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Sum, Value, When, Case
from django.db.models.functions import Coalesce


class Customer(models.Model):
    name = models.CharField(max_length=50)
    region = models.CharField(max_length=20, null=True)


class Order(models.Model):
    customer = models.ForeignKey(Customer, models.CASCADE, related_name="orders")
    amount = models.IntegerField()
    created = models.IntegerField()
    status = models.CharField(max_length=10)


class Visit(models.Model):
    customer = models.ForeignKey(Customer, models.CASCADE, null=True, related_name="visits")
    region = models.CharField(max_length=20, null=True)


ann = Customer.objects.create(name="Ann", region="EU")
bob = Customer.objects.create(name="Bob", region=None)
cid = Customer.objects.create(name="Cid", region="US")
dee = Customer.objects.create(name="Dee", region="EU")
Order.objects.create(customer=ann, amount=100, created=3, status="paid")
Order.objects.create(customer=ann, amount=250, created=5, status="new")
Order.objects.create(customer=bob, amount=40, created=1, status="paid")
Order.objects.create(customer=ann, amount=70, created=4, status="paid")
Order.objects.create(customer=cid, amount=15, created=2, status="cancelled")
Visit.objects.create(customer=ann, region="EU")
Visit.objects.create(customer=None, region="US")
Visit.objects.create(customer=cid, region=None)


def case(label, thunk):
    try:
        value = thunk()
    except Exception as error:  # every outcome, errors included, is an expected value
        value = {"error": type(error).__name__, "message": str(error)}
    print([label, value])


customers = Customer.objects.order_by("name")
orders_of = Order.objects.filter(customer=OuterRef("pk"))

# The seed's examples: latest order amount per customer, has_orders.
case("latest_amount", lambda: list(customers.annotate(
    latest=Subquery(orders_of.order_by("-created").values("amount")[:1])).values("name", "latest")))
case("has_orders", lambda: list(customers.annotate(
    has_orders=Exists(orders_of)).values("name", "has_orders")))
case("filter_exists", lambda: list(customers.filter(Exists(orders_of.filter(status="paid"))).values_list("name", flat=True)))
case("filter_not_exists", lambda: list(customers.filter(~Exists(orders_of)).values_list("name", flat=True)))
case("exclude_exists", lambda: list(customers.exclude(Exists(orders_of.filter(amount__gt=60))).values_list("name", flat=True)))
# Counts per parent: zero-row parents get 0 (not NULL) from Coalesce / a grouped count.
case("order_count", lambda: list(customers.annotate(n=Coalesce(Subquery(
    orders_of.order_by().values("customer").annotate(c=Count("id")).values("c")), 0)).values("name", "n")))
case("order_total", lambda: list(customers.annotate(total=Subquery(
    orders_of.order_by().values("customer").annotate(t=Sum("amount")).values("t"))).values("name", "total")))
case("filter_on_subquery", lambda: list(customers.annotate(total=Subquery(
    orders_of.order_by().values("customer").annotate(t=Sum("amount")).values("t"))).filter(total__gt=50).values_list("name", flat=True)))
case("subquery_in_case", lambda: list(customers.annotate(kind=Case(
    When(Exists(orders_of.filter(amount__gte=200)), then=Value("big")),
    When(Exists(orders_of), then=Value("small")),
    default=Value("none"))).values("name", "kind")))
case("subquery_arithmetic", lambda: list(customers.annotate(
    x=Subquery(orders_of.order_by("created").values("amount")[:1]) * 2 + 1).values("name", "x")))
case("order_by_subquery", lambda: list(Customer.objects.annotate(
    first=Subquery(orders_of.order_by("created").values("created")[:1])).filter(first__isnull=False).order_by("-first").values_list("name", flat=True)))
# Outer references over a relation, and two levels out.
case("outer_ref_relation", lambda: list(Order.objects.annotate(
    same_region_visits=Coalesce(Subquery(Visit.objects.filter(region=OuterRef("customer__region")).order_by().values("region").annotate(c=Count("id")).values("c")), 0)).order_by("id").values("id", "same_region_visits")))
case("nested_outer_ref", lambda: list(customers.filter(Exists(orders_of.filter(
    Exists(Visit.objects.filter(customer=OuterRef("customer"), region=OuterRef(OuterRef("region"))))))).values_list("name", flat=True)))
# __in with a QuerySet: its pk, or its single values() column; NOT IN with NULLs.
case("pk_in", lambda: list(customers.filter(pk__in=Order.objects.filter(amount__gt=60).values("customer")).values_list("name", flat=True)))
case("fk_in", lambda: list(Order.objects.filter(customer__in=Customer.objects.filter(region="EU")).order_by("id").values_list("id", flat=True)))
case("not_in_with_null", lambda: list(customers.exclude(region__in=Visit.objects.values("region")).values_list("name", flat=True)))
case("not_in_without_null", lambda: list(customers.exclude(region__in=Visit.objects.filter(region__isnull=False).values("region")).values_list("name", flat=True)))
case("filter_not_in_with_null", lambda: list(customers.filter(~Q(pk__in=Visit.objects.values("customer"))).values_list("name", flat=True)))
# An unresolved OuterRef evaluated alone.
case("outer_ref_alone", lambda: list(orders_of))
