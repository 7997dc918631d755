"""Subqueries the Django way: the latest order amount per customer (Subquery + OuterRef and
the [:1] idiom), has_orders (Exists), ~Exists, pk__in=qs, a total per customer (the
aggregate-in-subquery idiom), a nested OuterRef, and union / intersection / difference."""
from django.db import models
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce


class Customer(models.Model):
    name = models.CharField(max_length=50)
    region = models.CharField(max_length=20, null=True)


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    amount = models.IntegerField()
    created = models.IntegerField()
    status = models.CharField(max_length=10)


class Visit(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, null=True)
    region = models.CharField(max_length=20, null=True)


for name, region in [("Ann", "EU"), ("Bob", None), ("Cid", "US"), ("Dee", "EU")]:
    Customer.objects.create(name=name, region=region)
for customer_id, amount, created, status in [
    (1, 100, 3, "paid"), (1, 250, 5, "new"), (2, 40, 1, "paid"), (1, 70, 4, "paid"), (3, 15, 2, "cancelled"),
]:
    Order.objects.create(customer_id=customer_id, amount=amount, created=created, status=status)
Visit.objects.create(customer_id=1, region="EU")
Visit.objects.create(customer_id=None, region="US")
Visit.objects.create(customer_id=3, region=None)

customers = Customer.objects.order_by("name")
orders_of = Order.objects.filter(customer=OuterRef("pk"))

latest = orders_of.order_by("-created").values("amount")[:1]
print(customers.annotate(latest_amount=Subquery(latest), has_orders=Exists(orders_of)).values("name", "latest_amount", "has_orders"))
print(customers.filter(Exists(orders_of.filter(status="paid"))).values_list("name", flat=True))
print(customers.filter(~Exists(orders_of)).values_list("name", flat=True))
print(customers.exclude(Exists(orders_of.filter(amount__gt=60))).values_list("name", flat=True))

totals = orders_of.order_by().values("customer").annotate(t=Sum("amount")).values("t")
print(customers.annotate(total=Coalesce(Subquery(totals), Value(0))).values_list("name", "total"))
print(customers.annotate(total=Subquery(totals)).filter(total__gt=50).values_list("name", flat=True))

big = Order.objects.filter(amount__gt=60).values("customer")
print(customers.filter(pk__in=big).values_list("name", flat=True))
print(Order.objects.filter(customer__in=Customer.objects.filter(region="EU")).order_by("id").values_list("id", flat=True))

same_region = Visit.objects.filter(customer=OuterRef("customer"), region=OuterRef(OuterRef("region")))
print(customers.filter(Exists(orders_of.filter(Exists(same_region)))).values_list("name", flat=True))

for c in customers.annotate(n=Coalesce(Subquery(orders_of.order_by().values("customer").annotate(c=Count("id")).values("c")), 0)):
    print(c.name, c.n)

eu = Customer.objects.filter(region="EU").values("name")
buyers = Customer.objects.filter(orders__amount__gt=60).values("name")
print(eu.union(buyers).order_by("name"))
print(eu.union(buyers, all=True).count())
print(eu.intersection(buyers))
print(eu.difference(buyers))
print(Customer.objects.values_list("name", flat=True).union(Visit.objects.filter(region__isnull=False).values_list("region", flat=True)).order_by("-name")[1:3])

try:
    print(list(orders_of))
except ValueError as e:
    print("ValueError", str(e))
