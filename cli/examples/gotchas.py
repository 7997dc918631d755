"""Django semantics that are easy to get wrong: NULLs in exclude(), empty aggregates,
HAVING, only()/defer() instances, get_or_create, values() without names."""
from decimal import Decimal

from django.db import models
from django.db.models import Avg, Count, DecimalField, ExpressionWrapper, F, FloatField, IntegerField, Max, Q, Sum, Value
from django.db.models.functions import Cast, Coalesce


class Team(models.Model):
    name = models.CharField(max_length=30)
    city = models.CharField(max_length=30, null=True)


class Player(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, null=True)
    name = models.CharField(max_length=30)
    goals = models.IntegerField(default=0)
    salary = models.DecimalField(max_digits=9, decimal_places=2, null=True)


reds = Team.objects.create(name="Reds", city="Leeds")
blues = Team.objects.create(name="Blues")
Team.objects.create(name="Greens", city="York")
for name, team, goals, salary in [("Ann", reds, 5, "100.00"), ("Bo", reds, 0, None), ("Cy", blues, 12, "250.25"), ("Di", None, 3, "80.00")]:
    Player.objects.create(name=name, team=team, goals=goals, salary=Decimal(salary) if salary else None)

print(Team.objects.exclude(city="Leeds").values_list("name", flat=True).order_by("name"))
print(Player.objects.filter(salary__gt=90).count(), Player.objects.exclude(salary__gt=90).count())
print(Player.objects.filter(goals__gt=100).aggregate(Sum("goals"), Avg("goals"), n=Count("id"), total=Coalesce(Sum("goals"), 0)))
print(Player.objects.values("team__name").annotate(total=Sum("goals")).filter(total__gt=4).order_by("team__name"))
print(Team.objects.annotate(n=Count("player")).order_by("name").values_list("name", "n"))
print(Player.objects.filter(team__isnull=True).values_list("name", flat=True))
print(Player.objects.filter(team__city__isnull=True).values_list("name", flat=True).order_by("name"))
print(Player.objects.only("name").order_by("pk").first())
print(Player.objects.defer("salary", "goals").get(name="Cy"))
print(Player.objects.values().order_by("pk")[:2])
print(Player.objects.values_list("name", "goals", named=True).order_by("-goals")[:2])
obj, created = Team.objects.get_or_create(name="Reds")
print(obj.pk, created)
obj, created = Team.objects.get_or_create(name="Whites", defaults={"city": "Hull"})
print(obj.name, obj.city, created, Team.objects.count())
print(Player.objects.annotate(ratio=ExpressionWrapper(F("goals") * 1.0 / 2, output_field=FloatField())).values_list("name", "ratio").order_by("name"))
print(Player.objects.annotate(g=Cast("salary", IntegerField())).exclude(g=None).values_list("g", flat=True).order_by("g"))
print(Player.objects.annotate(doubled=F("salary") * 2).filter(doubled__gte=200).values_list("name", "doubled"))
print(Player.objects.filter(name__in=["Ann", "Zed", None]).count(), Player.objects.filter(name__in=[]).count())
print(Player.objects.filter(Q(goals__gte=5) & Q(team__name="Reds") | Q(name="Di")).values_list("name", flat=True).order_by("name"))
print(Player.objects.filter(goals__range=(1, 10)).values_list("name", flat=True).order_by("name"))
print(Player.objects.order_by(F("salary").desc(nulls_last=True)).values_list("name", flat=True))
print(Player.objects.aggregate(best=Max("salary"), avg=Avg("salary")))
print(Player.objects.first().team.name, Player.objects.get(name="Di").team)
print(Team.objects.filter(player__goals__gt=4).values_list("name", flat=True).order_by("name"))
print(Player.objects.annotate(tag=Value("x")).values("name", "tag").order_by("name")[:1])
p = Player(name="Ed", goals=1)
print(p.pk, p.team_id, p.salary)
p.save()
print(p.pk, Player.objects.count(), Player.objects.get(pk=p.pk).name)
p.refresh_from_db()
print(p.goals)
print(Player.objects.filter(pk=p.pk).exists(), Player.objects.none().exists())
