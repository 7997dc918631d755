"""Writes through related managers, save() of a changed ForeignKey, delete() rolled back by set_rollback(), bulk_update of select_related objects."""
from django.db import models, transaction
from django.db.models import F


class Team(models.Model):
    name = models.CharField(max_length=20)


class Player(models.Model):
    name = models.CharField(max_length=20)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="players")
    score = models.IntegerField(default=0)


red = Team.objects.create(name="Red")
blue = Team.objects.create(name="Blue")
for n, t in [("a", red), ("b", red), ("c", blue)]:
    Player.objects.create(name=n, team=t, score=1)
print(red.players.update(score=F("score") + 10))
print(red.players.filter(name="a").update(name="A"))
print(list(Player.objects.order_by("name").values_list("name", "score")))
p = red.players.get(name="A")
p.team = blue
p.save()
print(red.players.count(), blue.players.count())
t = Team.objects.prefetch_related("players").get(name="Blue")
print(len(t.players.all()))
with transaction.atomic():
    Player.objects.filter(team=blue).delete()
    print(Player.objects.count())
    transaction.set_rollback(True)
print(Player.objects.count())
players = list(Player.objects.select_related("team").order_by("name"))
for pl in players:
    pl.score = pl.score * 2
Player.objects.bulk_update(players, ["score"])
print([(pl.name, pl.team.name, pl.score) for pl in Player.objects.select_related("team").order_by("name")])
