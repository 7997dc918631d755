"""save() of saved objects (update_fields=, auto_now, after delete(), explicit keys) and update() with expressions, nullable relations and values()."""
import datetime
from decimal import Decimal
from django.db import models
from django.db.models import F, Q, Value, Case, When, Count
from django.db.models.functions import Lower, Coalesce


class Team(models.Model):
    name = models.CharField(max_length=20)


class Player(models.Model):
    name = models.CharField(max_length=20)
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, related_name="players")
    score = models.IntegerField(default=0)
    rating = models.FloatField(null=True)
    joined = models.DateField(null=True)
    touched = models.DateTimeField(auto_now=True)


red = Team.objects.create(name="Red")
blue = Team.objects.create(name="Blue")
p = Player.objects.create(name="Ann", team=red, score=3)
q = Player.objects.create(name="Bob", team=blue, score=5, rating=1.5)
first_touch = Player.objects.get(pk=p.pk).touched
p.team = blue
p.save(update_fields=["team"])
print(Player.objects.get(pk=p.pk).team_id == blue.pk, Player.objects.get(pk=p.pk).touched == first_touch)
p.score = 10
p.save()
print(Player.objects.get(pk=p.pk).touched > first_touch, p.score)
print(Player.objects.filter(team=blue).update(score=F("score") * 2 + 1, rating=Coalesce("rating", 0.0) + 1))
print(list(Player.objects.order_by("name").values("name", "score", "rating")))
print(Player.objects.update(joined=datetime.date(2024, 5, 1), name=Lower("name")))
print(Player.objects.filter(Q(score__gt=20) | Q(name="ann")).update(team=None))
print(list(Player.objects.order_by("name").values_list("name", "team_id", "joined")))
print(Player.objects.values("team").update(score=0))
print(Team.objects.annotate(n=Count("players")).filter(n=0).update(name="empty"))
print(list(Team.objects.order_by("pk").values_list("name", flat=True)))
# save() after delete() inserts a new row
r = Player.objects.get(name="bob")
r.delete()
print(r.pk)
r.save()
print(r.pk is not None, Player.objects.count())
# a new object with an explicit key that exists updates that row
dup = Player(id=p.pk, name="replaced", score=1)
dup.save()
print(Player.objects.count(), Player.objects.get(pk=p.pk).name)
# refresh_from_db after update
p.refresh_from_db()
print(p.name, p.score)
t, created = Team.objects.update_or_create(name="Green", defaults={"name": "Green"})
print(created, t.name, Team.objects.count())
print(Player.objects.filter(pk=p.pk).update(score=Case(When(score__gt=0, then=F("score") + 100), default=Value(0))))
print(Player.objects.get(pk=p.pk).score)
