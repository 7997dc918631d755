# Expected values for tests/integration/filter_paths.rs, produced by real Django:
#
#   /tmp/django-venv/bin/python /work/shared/django-oracle/django_runner.py \
#       tests/integration/django/filter_paths.py --db sqlite > tests/integration/django/filter_paths.sqlite.jsonl
#
# (Django 5.1.4.) Each line is [label, value]. The QuerySets are the shapes Quiver's engine
# plans specially: a leading substring tested with __in, a decimal compared with a
# subquery's average, and a two-sided range. Every ordering is by id.
import datetime
from decimal import Decimal

from django.db import models
from django.db.models import Avg, Subquery, Value
from django.db.models.functions import Left, Substr


class Account(models.Model):
    phone = models.CharField(max_length=20, null=True)
    balance = models.DecimalField(max_digits=10, decimal_places=2)
    kind = models.CharField(max_length=5)
    opened = models.DateField()


rows = [
    ("13-555", "1.00", "a", 1),
    (None, "1.00", "a", 2),
    ("", "1.01", "a", 3),
    ("1", "-2.50", "b", 4),
    ("日本-1", "1.50", "b", 5),
    ("日x", "2.00", "b", 6),
    ("é3", "-0.01", "b", 7),
    ("3é", "0.00", "a", 8),
]
for phone, balance, kind, day in rows:
    Account.objects.create(
        phone=phone, balance=Decimal(balance), kind=kind, opened=datetime.date(2024, 1, day)
    )


def case(label, thunk):
    try:
        value = thunk()
    except Exception as error:  # every outcome, errors included, is an expected value
        value = {"error": type(error).__name__, "message": str(error)}
    print([label, value])


def ids(qs):
    return list(qs.order_by("id").values_list("id", flat=True))


accounts = Account.objects.all()
codes = ["13", "日本", "", "1", "é", "3é"]
case("substr_in", lambda: ids(accounts.annotate(code=Substr("phone", 1, 2)).filter(code__in=codes)))
case("substr_not_in", lambda: ids(accounts.annotate(code=Substr("phone", 1, 2)).exclude(code__in=codes)))
case("substr_not_in_not_null", lambda: ids(accounts.annotate(code=Substr("phone", 1, 2))
    .filter(code__isnull=False).exclude(code__in=codes)))
case("left_in", lambda: ids(accounts.annotate(code=Left("phone", 1)).filter(code__in=["日", "1", "é"])))


def average(**within):
    return (
        Account.objects.filter(**within)
        .annotate(all_rows=Value(1))
        .values("all_rows")
        .annotate(average=Avg("balance"))
        .values("average")
    )


# Kind a averages 0.7525 and kind b 0.2475 (both between two cents); ids 1 and 2 average
# 1.00, a balance itself; ids 4 and 7 average -1.255 (negative, between two cents).
averages = {
    "a": {"kind": "a"},
    "b": {"kind": "b"},
    "ones": {"pk__in": [1, 2]},
    "negative": {"pk__in": [4, 7]},
}
for name, within in averages.items():
    for lookup in ["gt", "gte", "lt", "lte", "exact"]:
        case(
            f"balance_{lookup}_average_{name}",
            lambda: ids(accounts.filter(**{f"balance__{lookup}": Subquery(average(**within))})),
        )

case("opened_range", lambda: ids(accounts.filter(
    opened__gte=datetime.date(2024, 1, 3), opened__lt=datetime.date(2024, 1, 6))))
case("balance_range", lambda: ids(accounts.filter(balance__gt=-1, balance__lte=Decimal("1.5"))))
case("balance_range_cents", lambda: ids(accounts.filter(
    balance__gte=Decimal("-0.01"), balance__lt=Decimal("1.01"))))
