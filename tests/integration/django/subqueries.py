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
# EXISTS and IN used as values (a mark join when decorrelated): annotated, combined with
# & and |, negated, filtered on; a correlated IN over NULLs is NULL, not FALSE.
visit_regions = Visit.objects.filter(customer=OuterRef("pk")).values("region")
case("exists_and_q_annotation", lambda: list(customers.annotate(x=Exists(orders_of.filter(status="paid")) & Q(region="EU")).values("name", "x")))
case("exists_or_filter", lambda: list(customers.filter(Exists(orders_of.filter(amount__gt=200)) | Q(region="US")).values_list("name", flat=True)))
case("exists_or_exists_annotation", lambda: list(customers.annotate(x=Exists(orders_of.filter(amount__lt=20)) | Exists(Visit.objects.filter(customer=OuterRef("pk")))).values("name", "x")))
case("not_exists_annotation", lambda: list(customers.annotate(none=~Exists(orders_of)).values("name", "none")))
case("filter_on_exists_annotation", lambda: list(customers.annotate(has=Exists(orders_of.filter(status="paid"))).filter(has=False).values_list("name", flat=True)))
case("in_as_value_with_nulls", lambda: list(customers.annotate(x=Q(region__in=visit_regions)).values("name", "x")))
case("not_in_as_value_with_nulls", lambda: list(customers.annotate(x=~Q(region__in=visit_regions)).values("name", "x")))
case("pk_in_as_value", lambda: list(customers.annotate(x=Q(pk__in=Order.objects.filter(customer=OuterRef("pk"), amount__gt=60).values("customer"))).values("name", "x")))
case("exists_in_when_with_or", lambda: list(customers.annotate(kind=Case(When(Exists(orders_of.filter(status="cancelled")) | Q(region__isnull=True), then=Value("odd")), default=Value("plain"))).values("name", "kind")))

# An unresolved OuterRef evaluated alone.
case("outer_ref_alone", lambda: list(orders_of))

# Set operations: the first QuerySet's names, Django's rules afterwards.
eu = Customer.objects.filter(region="EU").values("name")
buyers = Customer.objects.filter(orders__amount__gt=60).values("name")
case("union", lambda: list(eu.union(buyers).order_by("name")))
case("union_all_count", lambda: eu.union(buyers, all=True).count())
case("intersection", lambda: list(eu.intersection(buyers).order_by("name")))
case("difference", lambda: list(eu.difference(buyers).order_by("name")))
case("union_names_of_first", lambda: list(Customer.objects.filter(name="Ann").values_list("name", "region").union(Visit.objects.filter(region="US").values_list("region", "region")).order_by("name")))
case("union_slice", lambda: list(Customer.objects.values_list("name", flat=True).union(Visit.objects.filter(region__isnull=False).values_list("region", flat=True)).order_by("-name")[1:3]))
case("union_exists", lambda: eu.union(buyers).exists())
case("filter_after_union", lambda: list(eu.union(buyers).filter(name="Ann")))
case("annotate_after_intersection", lambda: list(eu.intersection(buyers).annotate(n=Value(1))))

# CTEs (django-cte 4.0).
from django.db.models import IntegerField, CharField
from django.db.models.functions import Concat
from django_cte import CTE, with_cte


class Category(models.Model):
    name = models.CharField(max_length=30)
    parent = models.ForeignKey("self", models.CASCADE, null=True, related_name="children")


class Product(models.Model):
    category = models.ForeignKey(Category, models.CASCADE, related_name="products")
    price = models.IntegerField()


class Employee(models.Model):
    name = models.CharField(max_length=30)
    manager = models.ForeignKey("self", models.CASCADE, null=True, related_name="reports")


class Part(models.Model):
    name = models.CharField(max_length=30)


class BomLine(models.Model):
    parent = models.ForeignKey(Part, models.CASCADE, related_name="lines")
    child = models.ForeignKey(Part, models.CASCADE, related_name="used_in")
    qty = models.IntegerField()


class Edge(models.Model):
    src = models.IntegerField()
    dst = models.IntegerField()


def category(name, parent=None):
    return Category.objects.create(name=name, parent=parent)


electronics = category("Electronics")
computers = category("Computers", electronics)
laptops = category("Laptops", computers)
phones = category("Phones", electronics)
books = category("Books")
novels = category("Novels", books)
for cat, price in [(laptops, 1000), (laptops, 1500), (computers, 700), (phones, 400), (novels, 20), (books, 35), (electronics, 5)]:
    Product.objects.create(category=cat, price=price)

ceo = Employee.objects.create(name="Ceo")
cto = Employee.objects.create(name="Cto", manager=ceo)
cfo = Employee.objects.create(name="Cfo", manager=ceo)
dev1 = Employee.objects.create(name="Dev1", manager=cto)
dev2 = Employee.objects.create(name="Dev2", manager=cto)
intern = Employee.objects.create(name="Intern", manager=dev1)

bike = Part.objects.create(name="Bike")
wheel = Part.objects.create(name="Wheel")
spoke = Part.objects.create(name="Spoke")
frame = Part.objects.create(name="Frame")
bolt = Part.objects.create(name="Bolt")
BomLine.objects.create(parent=bike, child=wheel, qty=2)
BomLine.objects.create(parent=bike, child=frame, qty=1)
BomLine.objects.create(parent=wheel, child=spoke, qty=32)
BomLine.objects.create(parent=wheel, child=bolt, qty=2)
BomLine.objects.create(parent=frame, child=bolt, qty=6)

for s, d in [(1, 2), (2, 3), (3, 1), (3, 4), (5, 6)]:
    Edge.objects.create(src=s, dst=d)


def category_tree(cte):
    return Category.objects.filter(parent__isnull=True).values(
        "id", path=F("name"), depth=Value(0, output_field=IntegerField())
    ).union(
        cte.join(Category, parent=cte.col.id).values(
            "id",
            path=Concat(cte.col.path, Value("/"), F("name"), output_field=CharField()),
            depth=cte.col.depth + Value(1, output_field=IntegerField()),
        ),
        all=True,
    )


tree = CTE.recursive(category_tree)
case("tree_paths", lambda: list(with_cte(tree, select=tree.join(Category, id=tree.col.id)).annotate(
    path=tree.col.path, depth=tree.col.depth).order_by("path").values("name", "path", "depth")))


def subtree_pairs(cte):
    return Category.objects.values(root=F("id"), node=F("id")).union(
        cte.join(Category, parent=cte.col.node).values(root=cte.col.root, node=F("id")), all=True)


pairs = CTE.recursive(subtree_pairs)
case("subtree_totals", lambda: list(with_cte(pairs, select=pairs.join(Product, category=pairs.col.node)).annotate(
    root=pairs.col.root).values("root").annotate(total=Sum("price")).order_by("root")))
case("descendants_of_electronics", lambda: list(with_cte(pairs, select=pairs.join(Category, id=pairs.col.node)).filter(
    **{}).annotate(root=pairs.col.root).filter(root=electronics.id).order_by("name").values_list("name", flat=True)))


def chain_of_command(cte):
    return Employee.objects.filter(manager__isnull=True).values("id", depth=Value(0, output_field=IntegerField())).union(
        cte.join(Employee, manager=cte.col.id).values("id", depth=cte.col.depth + Value(1, output_field=IntegerField())),
        all=True)


org = CTE.recursive(chain_of_command)
case("org_chart", lambda: list(with_cte(org, select=org.join(Employee, id=org.col.id)).annotate(
    depth=org.col.depth).order_by("depth", "name").values("name", "depth")))


def explode(cte):
    return BomLine.objects.filter(parent__name="Bike").values(part=F("child"), need=F("qty")).union(
        cte.join(BomLine, parent=cte.col.part).values(part=F("child"), need=cte.col.need * F("qty")), all=True)


bom = CTE.recursive(explode)
case("bill_of_materials", lambda: list(with_cte(bom, select=bom.join(Part, id=bom.col.part)).values("name").annotate(
    total=Sum(bom.col.need)).order_by("name")))


def reach(cte):
    return Edge.objects.filter(src=1).values(node=F("dst")).union(
        cte.join(Edge, src=cte.col.node).values(node=F("dst")), all=False)


reachable = CTE.recursive(reach)
case("reachable_from_1", lambda: list(with_cte(reachable, select=reachable.queryset()).order_by("node").values_list("node", flat=True)))
totals = CTE(Order.objects.values("customer").annotate(total=Sum("amount")), name="totals")
case("cte_join_totals", lambda: list(with_cte(totals, select=totals.join(Customer, id=totals.col.customer)).annotate(
    total=totals.col.total).order_by("name").values("name", "total")))
case("cte_queryset_filter", lambda: list(with_cte(totals, select=totals.queryset()).filter(total__gt=30).order_by("customer").values_list("customer", flat=True)))

# More places a subquery goes: order_by, a filter value, an aggregate over an annotation.
case("order_by_exists", lambda: list(customers.order_by(Exists(orders_of.filter(amount__lt=50)).desc(), "name").values_list("name", flat=True)))
case("filter_equals_subquery", lambda: list(Order.objects.filter(amount=Subquery(Order.objects.filter(customer=OuterRef("customer")).order_by("-amount").values("amount")[:1])).order_by("id").values_list("id", flat=True)))
case("aggregate_over_subquery", lambda: customers.annotate(latest=Subquery(orders_of.order_by("-created").values("amount")[:1])).aggregate(s=Sum("latest")))
case("two_columns_in_subquery", lambda: list(customers.annotate(x=Subquery(orders_of.values("amount", "created")[:1])).values("name", "x")))

# A lookup (no aggregate, no slice) decorrelates into a single join: one value or NULL per row.
case("lookup_by_pk", lambda: list(Order.objects.order_by("id").annotate(
    region=Subquery(Customer.objects.filter(pk=OuterRef("customer")).values("region"))).values("id", "region")))
case("lookup_in_filter", lambda: list(Order.objects.annotate(
    region=Subquery(Customer.objects.filter(pk=OuterRef("customer")).values("region"))).filter(region="EU").order_by("id").values_list("id", flat=True)))
case("lookup_by_non_unique_key", lambda: list(customers.exclude(name="Ann").annotate(
    amount=Subquery(orders_of.values("amount"))).values("name", "amount")))
case("lookup_visit_region", lambda: list(customers.annotate(
    visit=Subquery(Visit.objects.filter(customer=OuterRef("pk")).values("region"))).values("name", "visit")))
