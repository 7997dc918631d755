"""Meta.constraints, partial indexes and db_constraint=False: what each lets through and what
raises IntegrityError (the messages are the database's own, so only the class is printed)."""
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q


class Team(models.Model):
    name = models.CharField(max_length=20)


class Player(models.Model):
    name = models.CharField(max_length=20)
    team = models.ForeignKey(Team, on_delete=models.CASCADE)
    number = models.IntegerField()
    captain = models.BooleanField(default=False)
    salary = models.IntegerField(default=0)
    bonus = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "number"], name="one_number_per_team"),
            models.UniqueConstraint(
                fields=["team"], condition=Q(captain=True), name="one_captain_per_team"
            ),
            models.CheckConstraint(condition=Q(salary__gte=0), name="salary_not_negative"),
            models.CheckConstraint(check=Q(bonus__lte=F("salary")), name="bonus_within_salary"),
        ]
        indexes = [
            models.Index(fields=["salary"], name="paid_idx", condition=Q(salary__gt=0)),
        ]


class Visit(models.Model):
    # The team may be deleted or never exist: no FOREIGN KEY is declared.
    team = models.ForeignKey(Team, on_delete=models.DO_NOTHING, db_constraint=False)
    note = models.CharField(max_length=20)


def attempt(label, action):
    try:
        with transaction.atomic():
            action()
        print(label, "ok")
    except IntegrityError:
        print(label, "IntegrityError")


reds = Team.objects.create(name="reds")
blues = Team.objects.create(name="blues")
attempt("first", lambda: Player.objects.create(name="ann", team=reds, number=1, captain=True, salary=10))
attempt("same number other team", lambda: Player.objects.create(name="bob", team=blues, number=1, salary=5))
attempt("same number same team", lambda: Player.objects.create(name="cid", team=reds, number=1))
attempt("second non-captain", lambda: Player.objects.create(name="dan", team=reds, number=2))
attempt("third non-captain", lambda: Player.objects.create(name="eve", team=reds, number=3))
attempt("second captain", lambda: Player.objects.create(name="fay", team=reds, number=4, captain=True))
attempt("captain of blues", lambda: Player.objects.create(name="gus", team=blues, number=2, captain=True))
attempt("negative salary", lambda: Player.objects.create(name="hal", team=blues, number=3, salary=-1))
attempt("bonus above salary", lambda: Player.objects.create(name="ivy", team=blues, number=4, salary=5, bonus=6))
attempt("bonus equal to salary", lambda: Player.objects.create(name="jon", team=blues, number=5, salary=5, bonus=5))
attempt("update to negative", lambda: Player.objects.filter(name="bob").update(salary=-5))
attempt("update making two captains", lambda: Player.objects.filter(name="dan").update(captain=True))
attempt("update renumbering", lambda: Player.objects.filter(name="dan").update(number=1))
attempt("update within the rules", lambda: Player.objects.filter(team=blues).update(salary=F("salary") + 1))


def save_bonus():
    jon = Player.objects.get(name="jon")
    jon.bonus = 100
    jon.save()


attempt("save breaking a check", save_bonus)
attempt(
    "bulk_create with a duplicate",
    lambda: Player.objects.bulk_create(
        [Player(name="kim", team=blues, number=9), Player(name="lou", team=blues, number=9)]
    ),
)
print(list(Player.objects.order_by("name").values_list("name", "team__name", "number", "captain", "salary", "bonus")))
print(Player.objects.filter(salary__gt=0).count())
attempt("visit to a missing team", lambda: Visit.objects.create(team_id=999, note="ghost"))
attempt("visit to reds", lambda: Visit.objects.create(team=reds, note="home"))
print(list(Visit.objects.order_by("note").values_list("note", "team_id")))
print(Visit.objects.filter(team__name="reds").count())
