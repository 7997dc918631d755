# Expected values for tests/integration/indexes.rs, produced by real Django:
#
#   /tmp/django-venv/bin/python /work/shared/django-oracle/django_runner.py \
#       tests/integration/django/indexes.py --db sqlite > tests/integration/django/indexes.sqlite.jsonl
#
# (Django 5.1.4 on SQLite.) Each line is [label, value]. The same indexes as the Rust fixture
# (SQLite builds partial indexes too), and QuerySets whose order is total (ids, or the unique
# `created` and `code`), so the index paths Quiver chooses must give exactly these rows.
from django.db import models
from django.db.models import Count, Q, Sum


class Customer(models.Model):
    name = models.CharField(max_length=20, unique=True)


class Ticket(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
    status = models.CharField(max_length=10)
    priority = models.IntegerField()
    created = models.IntegerField()
    code = models.IntegerField(db_index=True)
    amount = models.IntegerField()
    score = models.FloatField(db_index=True)
    paid = models.BooleanField()

    class Meta:
        indexes = [
            models.Index(fields=["customer", "-created"], name="ticket_customer_recent"),
            models.Index(fields=["priority", "-created"], name="ticket_priority_recent"),
            models.Index(fields=["status", "priority"], name="ticket_status_priority"),
            models.Index(fields=["-created"], name="ticket_open_recent", condition=Q(status="open")),
            models.Index(fields=["amount"], name="ticket_big_amount", condition=Q(amount__gte=500)),
            models.Index(fields=["created"], name="ticket_unpaid", condition=Q(paid=False)),
            models.Index(
                fields=["amount"], name="ticket_void_low", condition=Q(status="void", priority__lte=2)
            ),
            models.Index(fields=["-score"], name="ticket_paid_score", condition=Q(paid=True)),
        ]


class Visit(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
    status = models.CharField(max_length=10)
    created = models.IntegerField()
    amount = models.IntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["customer", "status"], name="visit_customer_status"),
            models.Index(fields=["customer"], name="visit_big_customer", condition=Q(amount__gte=500)),
        ]


STATUSES = ["open", "paid", "void"]
for c in range(13):
    Customer.objects.create(name=f"c{c}")
for i in range(400):
    Ticket.objects.create(
        customer_id=(i * 7) % 13 + 1,
        status=STATUSES[(i * 5 + i // 7) % 3],
        priority=(i * 3 + i // 11) % 5,
        created=(i * 37) % 1009,
        code=(i * 101) % 1013,
        amount=(i * 53) % 997 - 300,
        score=((i * 31) % 200 - 100) / 4.0,
        paid=(i % 4 == 1),
    )

for i in range(600):
    Visit.objects.create(
        customer_id=(i * 5) % 13 + 1,
        status=STATUSES[(i * 7 + i // 5) % 3],
        created=(i * 43) % 1201,
        amount=(i * 59) % 1009 - 200,
    )

tickets = Ticket.objects.all()


def case(label, thunk):
    try:
        value = thunk()
    except Exception as error:  # every outcome, errors included, is an expected value
        value = {"error": type(error).__name__, "message": str(error)}
    print([label, value])


def ids(qs):
    return list(qs.values_list("id", flat=True))


# Partial indexes, chosen and not chosen.
case("open_recent_top", lambda: ids(tickets.filter(status="open").order_by("-created")[:5]))
case("big_amount_range", lambda: ids(tickets.filter(amount__gte=600).order_by("id")))
case("big_amount_point", lambda: ids(tickets.filter(amount=654).order_by("id")))
case("big_amount_in", lambda: ids(tickets.filter(amount__in=[654, 601, 10]).order_by("id")))
case("unpaid_range", lambda: ids(tickets.filter(paid=False, created__lt=100).order_by("id")))
case("void_low", lambda: ids(tickets.filter(status="void", priority__lte=1, amount__gt=300).order_by("id")))
case("excluded_small_amount", lambda: ids(tickets.exclude(amount__lt=500).order_by("id")))
case("amount_below_condition", lambda: ids(tickets.filter(amount__gte=400).order_by("id")))
case("paid_recent_top", lambda: ids(tickets.filter(status="paid").order_by("-created")[:5]))
case("paid_range", lambda: ids(tickets.filter(paid=True, created__lt=100).order_by("id")))
case("either", lambda: ids(tickets.filter(Q(amount__gte=600) | Q(status="open")).order_by("id")))
# IN lists on composite prefixes.
case("priority_in", lambda: ids(tickets.filter(priority__in=[1, 3]).order_by("id")))
case("priority_in_range", lambda: ids(tickets.filter(priority__in=[1, 3], created__gte=900).order_by("id")))
case("priority_in_top", lambda: ids(tickets.filter(priority__in=[1, 3]).order_by("-created")[:7]))
case(
    "priority_in_range_top",
    lambda: ids(tickets.filter(priority__in=[1, 3], created__lt=300).order_by("created")[:4]),
)
case("status_in_priority", lambda: ids(tickets.filter(status__in=["open", "void"], priority=2).order_by("id")))
case("priority_in_twice", lambda: ids(tickets.filter(priority__in=[1, 2]).filter(priority__in=[2, 3]).order_by("id")))
# Point, IN, range, top-k, composite prefix + order, join, get, exists.
case("pk_point", lambda: ids(tickets.filter(id=17)))
case("pk_in", lambda: ids(tickets.filter(id__in=[3, 99, 4000, 250]).order_by("id")))
case("code_range", lambda: ids(tickets.filter(code__range=(10, 60)).order_by("id")))
case("code_top_asc", lambda: ids(tickets.order_by("code")[:3]))
case("code_top_desc", lambda: ids(tickets.order_by("-code")[:3]))
case("code_range_top", lambda: ids(tickets.filter(code__gte=500).order_by("code")[:5]))
case("code_range_top_desc", lambda: ids(tickets.filter(code__lt=500, code__gt=100).order_by("-code")[:5]))
case("customer_recent", lambda: ids(tickets.filter(customer=4).order_by("-created")[:3]))
case(
    "join_customer_name",
    lambda: [list(r) for r in tickets.filter(code__in=[500, 501, 7, 1000]).order_by("id").values_list("id", "customer__name")],
)
case(
    "reverse_join_counts",
    lambda: [
        list(r)
        for r in Customer.objects.filter(name__in=["c3", "c4"])
        .annotate(n=Count("ticket"), total=Sum("ticket__amount"))
        .order_by("name")
        .values_list("name", "n", "total")
    ],
)
case("get_by_pk", lambda: Ticket.objects.get(pk=42).code)
case("exists_by_pk", lambda: [tickets.filter(id=400).exists(), tickets.filter(id=401).exists()])
case("score_top", lambda: ids(tickets.order_by("score", "id")[:5]))
case("score_range", lambda: ids(tickets.filter(score__lt=-20).order_by("id")))
case("score_point", lambda: ids(tickets.filter(score=-12.5).order_by("id")))
# A top-k whose first key has ties, broken by later keys.
case("priority_ties_top", lambda: ids(tickets.order_by("priority", "id")[:5]))
case("priority_ties_top_desc", lambda: ids(tickets.order_by("-priority", "-id")[:5]))
case("customer_recent_ties", lambda: ids(tickets.filter(customer=4).order_by("-created", "id")[:3]))
case("code_range_ties", lambda: ids(tickets.filter(code__gte=500).order_by("code", "-id")[:4]))
# Float keys in numeric order: negative ranges, orders both ways, range + order + limit.
case("score_top_desc", lambda: ids(tickets.order_by("-score", "-id")[:5]))
case("score_negative_top", lambda: ids(tickets.filter(score__lt=0).order_by("-score", "id")[:6]))
case("score_range_top", lambda: ids(tickets.filter(score__gte=-3.5, score__lt=10).order_by("score", "id")[:6]))
case("score_between", lambda: ids(tickets.filter(score__range=(-1.5, 1.5)).order_by("id")))
case("score_zero", lambda: ids(tickets.filter(score=0).order_by("id")))
# A top-k served by a partial index whose condition is the filter.
case("paid_score_top", lambda: ids(tickets.filter(paid=True).order_by("-score", "id")[:10]))
case(
    "paid_score_top_scores",
    lambda: list(tickets.filter(paid=True).order_by("-score")[:10].values_list("score", flat=True)),
)
# Index nested loop joins on a composite index's prefix, and on a partial index.
visits = Visit.objects.all()
case(
    "visit_join_composite",
    lambda: [
        list(r)
        for r in visits.filter(customer__name__in=["c3", "c4"], status="paid")
        .order_by("id")
        .values_list("id", "customer__name")
    ],
)
case(
    "visit_join_partial",
    lambda: ids(visits.filter(customer__name__in=["c5", "c6"], amount__gte=600, created__lt=900).order_by("id")),
)
case(
    "visit_reverse_open",
    lambda: [
        list(r)
        for r in Customer.objects.filter(name__in=["c1", "c2"], visit__status="open")
        .annotate(n=Count("visit"), total=Sum("visit__amount"))
        .order_by("name")
        .values_list("name", "n", "total")
    ],
)
case(
    "visit_subquery_in",
    lambda: ids(
        visits.filter(customer__in=Customer.objects.filter(name__in=["c7", "c8"]), status="void").order_by("id")
    ),
)
