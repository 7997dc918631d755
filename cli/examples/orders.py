"""Customers and orders: a ForeignKey, forward traversal in filters and values,
grouping by a related field, attribute access that runs one query, a fixture."""
import datetime
from decimal import Decimal

from django.core.management import call_command
from django.db import models
from django.db.models import Avg, Count, F, Q, Sum
from django.db.models.functions import Coalesce, ExtractMonth


class Order(models.Model):
    customer = models.ForeignKey("Customer", on_delete=models.CASCADE, related_name="orders")
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    status = models.CharField(max_length=10, default="new")
    created = models.DateField()

    class Meta:
        ordering = ["created", "id"]


class Customer(models.Model):
    name = models.CharField(max_length=100, unique=True)
    region = models.CharField(max_length=20, null=True)
    vip = models.BooleanField(default=False)

    class Meta:
        db_table = "shop_customer"
        ordering = ["name"]

    def __str__(self):
        return self.name


call_command("loaddata", "orders_fixture.json", verbosity=0)
print(Customer.objects.count(), Order.objects.count())
print(Order.objects.filter(customer__region="EU").values_list("id", flat=True))
print(Order.objects.filter(customer__name="Ann").aggregate(Sum("amount")))
print(Order.objects.values("customer__name").annotate(n=Count("id"), total=Sum("amount")).order_by("-total", "customer__name"))
print(Order.objects.values("status").annotate(avg=Avg("amount")).order_by("status"))
order = Order.objects.get(pk=3)
print(order.customer_id, order.customer.name, order.customer.region)
print(order)
print(Order.objects.filter(Q(status="paid") & ~Q(customer__vip=True)).count())
print(Order.objects.annotate(month=ExtractMonth("created")).values("month").annotate(total=Sum("amount")).order_by("month"))
print(Order.objects.filter(amount__gt=F("customer__id") * 10).values_list("id", "amount"))
print(Customer.objects.filter(orders__status="paid").values_list("name", flat=True).distinct())
print([c.orders.count() for c in Customer.objects.all()])
new = Order.objects.create(customer=Customer.objects.get(name="Cy"), amount=Decimal("5.00"), created=datetime.date(2024, 3, 9))
print(new.pk, new.status, new.customer_id)
print(Customer.objects.get(name="Cy").orders.aggregate(total=Coalesce(Sum("amount"), Decimal("0"))))
print(Order.objects.filter(created__range=(datetime.date(2024, 2, 1), datetime.date(2024, 2, 29))).values("id", "created"))
print(Order.objects.latest("amount").id, Order.objects.earliest("created").id)
print(Order.objects.order_by("-amount")[1:3].values("id", "amount"))
print(Order.objects.in_bulk([1, 2]))
