"""Writes: update() with F/Case/When/functions, save() of saved objects (update_fields=),
get_or_create, update_or_create, bulk_create with conflict options, bulk_update,
transaction.atomic() that rolls back (nested blocks are savepoints), on_commit,
select_for_update, and IntegrityError on unique, NOT NULL and foreign-key violations."""
from decimal import Decimal

from django.db import IntegrityError, models, transaction
from django.db.models import Case, F, Prefetch, Q, Value, When
from django.db.models.functions import Concat, Upper


class Branch(models.Model):
    city = models.CharField(max_length=20, unique=True)

    class Meta:
        ordering = ["city"]


class Account(models.Model):
    owner = models.CharField(max_length=20, unique=True)
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="accounts")
    balance = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    tier = models.CharField(max_length=10, default="basic")
    note = models.CharField(max_length=40, null=True)

    class Meta:
        ordering = ["owner"]


def balances():
    return list(Account.objects.values_list("owner", "balance", "tier"))


north, created = Branch.objects.get_or_create(city="North")
south = Branch.objects.create(city="South")
again, created_again = Branch.objects.get_or_create(city="North")
print(created, created_again, again.pk == north.pk)

made = Account.objects.bulk_create(
    [
        Account(owner="ann", branch=north, balance=Decimal("100.00")),
        Account(owner="bob", branch=north, balance=Decimal("50.50")),
        Account(owner="cyd", branch=south, balance=Decimal("7.25")),
    ],
    batch_size=2,
)
print([a.pk for a in made])
print(balances())

# update(): plain values, F() arithmetic, Case/When, functions; returns the rows matched.
print(Account.objects.filter(branch=north).update(balance=F("balance") + Decimal("10")))
print(
    Account.objects.update(
        tier=Case(
            When(balance__gte=100, then=Value("gold")),
            When(balance__gte=50, then=Value("silver")),
            default=Value("basic"),
        )
    )
)
print(Account.objects.filter(owner="cyd").update(note=Concat(Upper("owner"), Value("!"))))
print(Account.objects.filter(owner="nobody").update(tier="x"))
print(balances(), list(Account.objects.values_list("note", flat=True)))

# save() of a saved object is an UPDATE; update_fields writes only those fields.
ann = Account.objects.get(owner="ann")
ann.balance = ann.balance - Decimal("0.75")
ann.save()
ann.tier = "changed"
ann.note = "kept out"
ann.save(update_fields=["tier"])
ann.refresh_from_db()
print(ann.balance, ann.tier, ann.note)

# update_or_create / get_or_create with defaults.
dan, created = Account.objects.update_or_create(
    owner="dan", defaults={"balance": Decimal("5")}, create_defaults={"branch": south, "balance": Decimal("1")}
)
print(created, dan.balance, dan.branch_id == south.pk)
dan, created = Account.objects.update_or_create(
    owner="dan", defaults={"balance": Decimal("5")}, create_defaults={"branch": south, "balance": Decimal("1")}
)
print(created, dan.balance)
eve, created = Account.objects.get_or_create(owner="eve", defaults={"branch": north, "tier": "new"})
print(created, eve.tier, Account.objects.count())

# bulk_update.
accounts = list(Account.objects.filter(owner__in=["bob", "cyd"]))
for a in accounts:
    a.balance = a.balance * 2
    a.note = "bulk " + a.owner
print(Account.objects.bulk_update(accounts, ["balance", "note"], batch_size=1))
print(list(Account.objects.filter(owner__in=["bob", "cyd"]).values("owner", "balance", "note")))

# bulk_create with conflicts.
Branch.objects.bulk_create([Branch(city="North"), Branch(city="West")], ignore_conflicts=True)
print(list(Branch.objects.values_list("city", flat=True)))
Account.objects.bulk_create(
    [
        Account(owner="ann", branch=north, balance=Decimal("1.00")),
        Account(owner="fay", branch=south, balance=Decimal("2.00")),
    ],
    update_conflicts=True,
    update_fields=["balance"],
    unique_fields=["owner"],
)
print(balances())

# A failing transaction leaves the data unchanged.
before = balances()
try:
    with transaction.atomic():
        Account.objects.filter(owner="ann").update(balance=F("balance") - 50)
        Account.objects.filter(owner="bob").update(balance=F("balance") + 50)
        Account.objects.create(owner="ann", branch=north)
except IntegrityError as e:
    print("rolled back:", type(e).__name__)
print(balances() == before)

try:
    with transaction.atomic():
        Account.objects.filter(owner="ann").update(balance=0)
        raise ValueError("changed my mind")
except ValueError as e:
    print(str(e), Account.objects.get(owner="ann").balance)

# Nested blocks are savepoints: the inner failure is undone, the outer work commits.
with transaction.atomic():
    Account.objects.filter(owner="bob").update(tier="outer")
    try:
        with transaction.atomic():
            Account.objects.filter(owner="cyd").update(tier="inner")
            Account.objects.create(owner="bob", branch=south)
    except IntegrityError:
        print("inner rolled back")
    print(Account.objects.get(owner="cyd").tier)
print(list(Account.objects.filter(owner__in=["bob", "cyd"]).values_list("owner", "tier")))

# on_commit runs after the outermost commit, never after a rollback.
events = []
with transaction.atomic():
    transaction.on_commit(lambda: events.append("committed"))
    events.append("in block")
    print(events)
print(events)
try:
    with transaction.atomic():
        transaction.on_commit(lambda: events.append("never"))
        raise KeyError("x")
except KeyError:
    pass
transaction.on_commit(lambda: events.append("autocommit"))
print(events)

# select_for_update inside a transaction locks and returns the rows.
with transaction.atomic():
    locked = Account.objects.select_for_update().get(owner="ann")
    locked.balance = locked.balance + 1
    locked.save(update_fields=["balance"])
    print([a.owner for a in Account.objects.select_for_update(skip_locked=True).filter(tier="outer")])
print(Account.objects.get(owner="ann").balance)

# Constraint violations: the error, and nothing changed.
count = Account.objects.count()
for make in [
    lambda: Account.objects.create(owner="ann", branch=north),
    lambda: Account.objects.create(owner="gus", branch_id=999),
    lambda: Account.objects.create(owner="hal", branch=north, balance=None),
]:
    try:
        make()
    except IntegrityError as e:
        print(type(e).__name__)
print(Account.objects.count() == count)

# A failed write caught inside a block without an inner atomic() breaks the block: every
# query raises until it ends, and it rolls back.
try:
    with transaction.atomic():
        Account.objects.filter(owner="bob").update(tier="lost")
        try:
            Account.objects.create(owner="ann", branch=north)
        except IntegrityError:
            print("caught")
        Account.objects.count()
except Exception as e:
    print(type(e).__name__, str(e))
print(Account.objects.get(owner="bob").tier)

# set_rollback(True) rolls a block back without an exception.
with transaction.atomic():
    Account.objects.filter(owner="ann").update(tier="temp")
    transaction.set_rollback(True)
print(Account.objects.get(owner="ann").tier)

# Prefetch(to_attr=): a plain list on each object.
branches = Branch.objects.prefetch_related(
    Prefetch("accounts", queryset=Account.objects.filter(balance__gt=10).order_by("-balance"), to_attr="rich")
)
for b in branches:
    print(b.city, len(b.rich), [a.owner for a in b.rich])
print(branches[0])

# update() on a sliced QuerySet is refused.
Account.objects.all()[:2].update(tier="x")
