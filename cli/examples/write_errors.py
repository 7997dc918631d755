"""Writes Django refuses, each caught and printed as (exception class, message)."""
from django.db import IntegrityError, models, transaction
from django.db.models import F, Sum, Window
from django.db.models.functions import RowNumber


class Shelf(models.Model):
    label = models.CharField(max_length=10, unique=True)


class Item(models.Model):
    name = models.CharField(max_length=10)
    shelf = models.ForeignKey(Shelf, on_delete=models.CASCADE)
    qty = models.IntegerField(default=0)


def attempt(action, message=True):
    try:
        action()
        print("no error")
    except Exception as e:
        # IntegrityError texts are the database's own (Quiver words them as PostgreSQL does).
        print(type(e).__name__, str(e) if message else "")


shelf = Shelf.objects.create(label="a")
item = Item.objects.create(name="x", shelf=shelf)
attempt(lambda: Item.objects.all()[:1].update(qty=1))
attempt(lambda: Item.objects.update(qty=F("shelf__label")))
attempt(lambda: Item.objects.select_for_update(nowait=True, skip_locked=True))
attempt(lambda: Item.objects.bulk_update([item], []))
attempt(lambda: Item.objects.bulk_update([item], ["id"]))
attempt(lambda: Item.objects.bulk_update([Item(name="new", shelf=shelf)], ["qty"]))
attempt(lambda: Item.objects.bulk_update([item], ["qty"], batch_size=0))
attempt(lambda: Item.objects.bulk_create([Item(name="y", shelf=shelf)], batch_size=0))
attempt(lambda: Item.objects.bulk_create([Item(name="y", shelf=shelf)], ignore_conflicts=True, update_conflicts=True))
attempt(lambda: item.save(update_fields=["nope"]))
attempt(lambda: Item(name="z", shelf=shelf).save(update_fields=["qty"]))
attempt(lambda: transaction.set_rollback(True))
attempt(lambda: Shelf.objects.create(label="a"), message=False)
attempt(lambda: Item.objects.filter(pk=item.pk).update(shelf_id=999), message=False)
attempt(lambda: Item.objects.filter(pk=item.pk).update(name=None), message=False)
# Django prints these expressions with its own repr(); the class is what a script catches.
attempt(lambda: Item.objects.update(qty=Sum("qty")), message=False)
attempt(lambda: Item.objects.update(qty=Window(RowNumber())), message=False)
attempt(lambda: Item.objects.update(nope=1))
attempt(lambda: Item.objects.update(qty=F("missing") + 1))
attempt(lambda: Item.objects.bulk_update([item], ["nope"]))
attempt(lambda: Item.objects.all()[:1].delete())
attempt(lambda: Item.objects.bulk_create([Item(name="y", shelf=shelf)], update_conflicts=True, update_fields=["qty"]))
print(list(Item.objects.values_list("name", "shelf_id", "qty")), Item.objects.count(), Shelf.objects.count())

# atomic(savepoint=False): an exception leaving the inner block breaks the outer one.
try:
    with transaction.atomic():
        Shelf.objects.create(label="b")
        try:
            with transaction.atomic(savepoint=False):
                Shelf.objects.create(label="c")
                raise ValueError("inner")
        except ValueError:
            print("caught inner")
        Shelf.objects.count()
except transaction.TransactionManagementError as e:
    print(type(e).__name__)
with transaction.atomic():
    with transaction.atomic(savepoint=False):
        Shelf.objects.create(label="d")
print(sorted(Shelf.objects.values_list("label", flat=True)))
# A block entered inside a broken one takes no savepoint; the broken block still rolls back.
try:
    with transaction.atomic():
        Shelf.objects.create(label="e")
        try:
            Shelf.objects.create(label="a")
        except IntegrityError:
            print("caught")
        with transaction.atomic():
            print("entered")
except Exception as e:
    print(type(e).__name__)
print(sorted(Shelf.objects.values_list("label", flat=True)))

# on_commit(robust=True) goes on past a failing callback; without it the error propagates.
seen = []
def boom():
    raise ValueError("boom")
with transaction.atomic():
    transaction.on_commit(boom, robust=True)
    transaction.on_commit(lambda: seen.append("after"))
print(seen)
try:
    with transaction.atomic():
        transaction.on_commit(boom)
        transaction.on_commit(lambda: seen.append("skipped"))
except ValueError as e:
    print("raised", str(e))
print(seen)

# update_conflicts without update_fields.
attempt(lambda: Item.objects.bulk_create([Item(name="y", shelf=shelf)], update_conflicts=True, unique_fields=["id"]))
