# Expected values for tests/integration/writes.rs:
# /tmp/django-venv/bin/python /work/shared/django-oracle/django_runner.py \
#     tests/integration/django/writes.py --db sqlite > tests/integration/django/writes.sqlite.jsonl
from django.db import IntegrityError, models, transaction
from django.db.models import F


class Player(models.Model):
    name = models.CharField(max_length=20, unique=True)
    score = models.IntegerField()

    class Meta:
        app_label = "app"


# bulk_create(batch_size=2) whose third batch clashes stores nothing.
try:
    Player.objects.bulk_create(
        [Player(name=n, score=i) for i, n in enumerate(["a", "b", "c", "d", "a"])],
        batch_size=2,
    )
except IntegrityError:
    print("bulk_create IntegrityError")
print(Player.objects.count())
print(Player.objects.bulk_create([Player(name=f"p{i}", score=i) for i in range(10)], batch_size=3).__len__())
print(Player.objects.count())
# A one-row update by pk with F() returns 1, then a leaderboard read.
# (Keys are read back: a failed bulk_create consumes PostgreSQL's sequence, not SQLite's.)
p3 = Player.objects.get(name="p3").pk
print(Player.objects.filter(pk=p3).update(score=F("score") + 100))
print(list(Player.objects.order_by("-score").values_list("name", "score")[:3]))
# Many statements in one atomic(); an inner failing block undoes only itself.
with transaction.atomic():
    for pk in Player.objects.order_by("name").values_list("pk", flat=True):
        Player.objects.filter(pk=pk).update(score=F("score") + 1)
    try:
        with transaction.atomic():
            Player.objects.filter(pk=p3).update(score=F("score") + 1000)
            Player.objects.create(name="p1", score=0)
    except IntegrityError:
        print("inner IntegrityError")
    Player.objects.create(name="late", score=50)
print(list(Player.objects.order_by("score").values_list("name", "score")))
# An exception leaving atomic() undoes every statement in it.
try:
    with transaction.atomic():
        for pk in Player.objects.values_list("pk", flat=True):
            Player.objects.filter(pk=pk).update(score=0)
        Player.objects.filter(name="late").delete()
        raise ValueError("boom")
except ValueError:
    print("rolled back")
print(list(Player.objects.order_by("score").values_list("score", flat=True)))
# update() of one row matched through a unique field, and of none.
print(Player.objects.filter(name="p9").update(score=F("score") * 2))
print(Player.objects.filter(name="nobody").update(score=1))
print(Player.objects.get(name="p9").score)
