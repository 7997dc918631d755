"""A leaderboard (the script twin of orm-frontend/examples/leaderboard.rs, on a small board):
global top 5, top 2 per country, the rank and neighbours of one player, then score updates
with filter(pk=...).update(score=F("score") + delta) inside transactions, and the board again."""
from django.db import models, transaction
from django.db.models import Count, F, Max, Q, Sum, Window
from django.db.models.functions import DenseRank, Rank, RowNumber


class Player(models.Model):
    name = models.CharField(max_length=30)
    country = models.CharField(max_length=2, db_index=True)
    score = models.BigIntegerField()


scores = [
    ("ana", "PT", 900), ("bea", "PT", 750), ("caio", "BR", 900), ("dani", "BR", 620),
    ("edu", "BR", 750), ("fay", "US", 980), ("gus", "US", 410), ("hal", "US", 750),
    ("ivy", "PT", 300), ("jon", "US", 620), ("kai", "BR", 100), ("lia", "PT", 980),
]
Player.objects.bulk_create([Player(name=n, country=c, score=s) for n, c, s in scores])

board = Player.objects.order_by("-score", "id")
print(list(board.values_list("name", "score")[:5]))

per_country = Player.objects.annotate(
    rn=Window(RowNumber(), partition_by="country", order_by=[F("score").desc(), "id"])
).filter(rn__lte=2)
print(list(per_country.order_by("country", "rn").values_list("country", "name", "score", "rn")))
print(per_country.count())

me = Player.objects.get(name="edu")
rank = Player.objects.filter(score__gt=me.score).count() + 1
print(me.name, me.score, rank)

ranked = Player.objects.annotate(
    rank=Window(Rank(), order_by=F("score").desc()),
    dense=Window(DenseRank(), order_by=F("score").desc()),
)
print(list(ranked.filter(rank__range=(rank - 2, rank + 2)).order_by("rank", "id").values_list("name", "score", "rank", "dense")))

total = Player.objects.aggregate(total=Sum("score"))["total"]
print(total)

# A stream of score updates: each moves points between two players in one transaction.
transfers = [(1, 6, 50), (9, 12, 400), (4, 3, 25), (11, 2, 900), (7, 8, 10)]
for winner, loser, delta in transfers:
    with transaction.atomic():
        print(Player.objects.filter(pk=winner).update(score=F("score") + delta),
              Player.objects.filter(pk=loser).update(score=F("score") - delta))
print(Player.objects.aggregate(total=Sum("score"))["total"] == total)
print(list(board.values_list("name", "score")[:5]))
print(list(per_country.order_by("country", "rn").values_list("country", "name", "rn")))
print(Player.objects.filter(pk=11).update(score=F("score") + 1, name="kai!"))
print(Player.objects.get(pk=11).name, Player.objects.get(pk=11).score)
print(Player.objects.aggregate(best=Max("score"), n=Count("id")))
Player.objects.update(score=Window(Max("score")))
