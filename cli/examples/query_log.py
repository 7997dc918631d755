"""connection.queries after each kind of write: one entry per statement Django sends.
SQLite's backend also logs the BEGIN/COMMIT of atomic writes, which PostgreSQL's does not;
they are left out so that the counts are the PostgreSQL ones Quiver follows."""
from django.db import connection, models, reset_queries, transaction
from django.db.models import F


class Branch(models.Model):
    city = models.CharField(max_length=20)


class Account(models.Model):
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, null=True)
    owner = models.CharField(max_length=20)
    balance = models.IntegerField()


class Note(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE)
    text = models.CharField(max_length=20)


connection.force_debug_cursor = True


def show(label, action):
    reset_queries()
    action()
    kinds = [q["sql"].split(" ")[0] for q in connection.queries]
    kinds = [k for k in kinds if k not in ("BEGIN", "COMMIT")]
    print(label, len(kinds), kinds)


oslo = Branch.objects.create(city="Oslo")
show("create", lambda: Account.objects.create(branch=oslo, owner="ann", balance=100))
ann = Account.objects.get(owner="ann")


def save_existing():
    ann.balance = 90
    ann.save()


show("save existing", save_existing)
show("save update_fields", lambda: ann.save(update_fields=["balance"]))
show("save new", lambda: Account(branch=oslo, owner="bob", balance=50).save())
show("save new with explicit pk", lambda: Account(id=77, branch=oslo, owner="pk", balance=1).save())
show("bulk_create 5 in batches of 2", lambda: Account.objects.bulk_create(
    [Account(branch=oslo, owner=f"b{i}", balance=i) for i in range(5)], batch_size=2))
show("bulk_create 3", lambda: Account.objects.bulk_create([Account(owner=f"c{i}", balance=i) for i in range(3)]))
show("bulk_create updating conflicts", lambda: Account.objects.bulk_create(
    [Account(id=77, owner="pk2", balance=2), Account(id=500, owner="d", balance=3)],
    update_conflicts=True, update_fields=["balance"], unique_fields=["id"]))
show("bulk_create with and without keys", lambda: Account.objects.bulk_create(
    [Account(id=600, owner="e", balance=2), Account(owner="f", balance=3), Account(id=601, owner="g", balance=4)]))
show("bulk_create ignoring conflicts", lambda: Account.objects.bulk_create(
    [Account(id=77, owner="pk3", balance=2)], ignore_conflicts=True))
show("bulk_update in batches of 1", lambda: Account.objects.bulk_update(
    list(Account.objects.filter(owner__startswith="b")[:2]), ["balance"], batch_size=1))
show("update", lambda: Account.objects.filter(balance__gt=10).update(balance=F("balance") + 1))
show("update through a relation", lambda: Account.objects.filter(branch__city="Oslo").update(balance=0))
show("update matching nothing", lambda: Account.objects.filter(balance__gt=1000).update(balance=0))
show("get_or_create existing", lambda: Account.objects.get_or_create(owner="ann", defaults={"balance": 1}))
show("get_or_create new", lambda: Account.objects.get_or_create(owner="new", defaults={"balance": 1}))
show("update_or_create existing", lambda: Account.objects.update_or_create(owner="new", defaults={"balance": 2}))
Note.objects.create(account=ann, text="hi")
show("queryset delete without relations", lambda: Note.objects.filter(text="nope").delete())
show("queryset delete of leaf rows", lambda: Account.objects.filter(owner__startswith="c").delete())
show("instance delete with a cascade", lambda: ann.delete())
show("queryset delete with cascades", lambda: Branch.objects.all().delete())


def in_atomic():
    with transaction.atomic():
        Branch.objects.create(city="Rome")
        Branch.objects.filter(city="Rome").update(city="Roma")


show("atomic block", in_atomic)
