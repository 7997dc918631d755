"""Bulk data from Parquet (Quiver's load_parquet; the Django runner has the same shim):
grouping, date transforms and aggregates over a few hundred rows."""
from django.db import models
from django.db.models import Avg, Count, Max, Min, Sum
from django.db.models.functions import ExtractWeekDay, TruncWeek


class Reading(models.Model):
    city = models.CharField(max_length=20)
    day = models.DateField()
    temp = models.FloatField()
    rain_mm = models.IntegerField()
    price = models.DecimalField(max_digits=8, decimal_places=2)


print(Reading.objects.load_parquet("readings.parquet"))
print(Reading.objects.count(), Reading.objects.first().city)
print(Reading.objects.values("city").annotate(n=Count("id"), avg=Avg("temp"), rain=Sum("rain_mm"), top=Max("price")).order_by("city"))
print(Reading.objects.filter(day__day__lte=3, city="Oslo").values_list("day", "temp").order_by("day", "temp"))
print(Reading.objects.aggregate(lo=Min("temp"), hi=Max("temp"), total=Sum("price")))
print(Reading.objects.annotate(wd=ExtractWeekDay("day")).values("wd").annotate(n=Count("id")).order_by("wd"))
print(Reading.objects.annotate(week=TruncWeek("day")).values("week").annotate(rain=Sum("rain_mm")).order_by("week")[:3])
print(Reading.objects.filter(temp__gt=10, rain_mm=0).count())
