# Expected values for the rank-range cases of tests/integration/windows.rs ("the players
# ranked around one player": a Rank/RowNumber window filtered to a range), produced by real
# Django:
#
#   /tmp/django-venv/bin/python /work/shared/django-oracle/django_runner.py \
#       tests/integration/django/rank_ranges.py --db sqlite > tests/integration/django/rank_ranges.sqlite.jsonl
#
# (Django 5.1.4 on SQLite.) Each line is [label, value]. The scores have ties that straddle
# the ranges' ends and NULLs, placed explicitly in every ORDER BY.
from django.db import models
from django.db.models import F, Q, Window
from django.db.models.functions import Rank, RowNumber


class Gamer(models.Model):
    name = models.CharField(max_length=20)
    country = models.CharField(max_length=2, null=True)
    score = models.IntegerField(null=True)
    level = models.IntegerField(null=True)


rows = [
    ("a", "FR", 50, 1),
    ("b", "FR", 70, 2),
    ("c", "DE", 70, None),
    ("d", "DE", None, 3),
    ("e", "FR", 40, 1),
    ("f", None, 70, 2),
    ("g", "DE", 40, 2),
    ("h", None, None, 1),
    ("i", "FR", 90, 3),
    ("j", "DE", 40, None),
    ("k", "FR", 10, 1),
    ("l", None, 40, 3),
]
for name, country, score, level in rows:
    Gamer.objects.create(name=name, country=country, score=score, level=level)

gamers = Gamer.objects.all()


def case(label, thunk):
    try:
        value = thunk()
    except Exception as error:  # every outcome, errors included, is an expected value
        value = {"error": type(error).__name__, "message": str(error)}
    print([label, value])


def ranked(window, lookup, fields=("name", "w")):
    qs = gamers.annotate(w=window).filter(lookup).order_by("name")
    return [list(r) for r in qs.values_list(*fields)]


desc_first = [F("score").desc(nulls_first=True)]
desc_last = [F("score").desc(nulls_last=True)]
asc_first = [F("score").asc(nulls_first=True)]
asc_last = [F("score").asc(nulls_last=True)]

case("rank_desc_nulls_first_3_6", lambda: ranked(Window(Rank(), order_by=desc_first), Q(w__range=(3, 6))))
case("rank_desc_nulls_last_3_6", lambda: ranked(Window(Rank(), order_by=desc_last), Q(w__range=(3, 6))))
case("rank_desc_nulls_last_6_9", lambda: ranked(Window(Rank(), order_by=desc_last), Q(w__range=(6, 9))))
case("rank_asc_nulls_first_eq_3", lambda: ranked(Window(Rank(), order_by=asc_first), Q(w=3)))
case("rank_asc_nulls_first_eq_4", lambda: ranked(Window(Rank(), order_by=asc_first), Q(w=4)))
case("rank_asc_nulls_last_gt_8_lt_12", lambda: ranked(Window(Rank(), order_by=asc_last), Q(w__gt=8, w__lt=12)))
case("rank_beyond_the_table", lambda: ranked(Window(Rank(), order_by=desc_last), Q(w__range=(20, 30))))
case("row_number_total_4_7", lambda: ranked(Window(RowNumber(), order_by=desc_last + ["name"]), Q(w__range=(4, 7))))
case("row_number_two_keys_2_5", lambda: ranked(Window(RowNumber(), order_by=[F("score").desc(nulls_last=True), F("level").asc(nulls_first=True), "name"]), Q(w__range=(2, 5))))
case("rank_two_keys_2_5", lambda: ranked(Window(Rank(), order_by=[F("score").desc(nulls_last=True), F("level").asc(nulls_first=True)]), Q(w__range=(2, 5))))
case("rank_per_country_2_3", lambda: ranked(Window(Rank(), partition_by="country", order_by=desc_last), Q(w__range=(2, 3)), ("name", "country", "w")))
case("row_number_per_country_gt_1_lt_4", lambda: ranked(Window(RowNumber(), partition_by="country", order_by=desc_first + ["name"]), Q(w__gt=1, w__lt=4), ("name", "country", "w")))
case("rank_and_row_number_5_8", lambda: [list(r) for r in gamers.annotate(
    rk=Window(Rank(), order_by=desc_last),
    rn=Window(RowNumber(), order_by=desc_last + ["name"]),
).filter(rk__range=(5, 8)).order_by("name").values_list("name", "rk", "rn")])
case("rank_range_count", lambda: gamers.annotate(w=Window(Rank(), order_by=desc_last)).filter(w__range=(2, 7)).count())
