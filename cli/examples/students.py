"""Students and their grades: models, create/bulk_create, filters, Q, F, aggregates,
grouping with values().annotate(), Case/When, instances and Django's exceptions."""
import datetime
from decimal import Decimal

from django.db import models
from django.db.models import Avg, Case, Count, F, Max, Min, Q, Sum, Value, When
from django.db.models.functions import Lower, Upper


class Student(models.Model):
    name = models.CharField(max_length=50)
    grade = models.IntegerField()
    score = models.DecimalField(max_digits=5, decimal_places=2)
    enrolled = models.DateField()
    active = models.BooleanField(default=True)
    nickname = models.CharField(max_length=20, null=True, blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["grade"])]

    def __str__(self):
        return f"{self.name} (grade {self.grade})"


ann = Student.objects.create(name="Ann", grade=10, score=Decimal("91.50"),
                             enrolled=datetime.date(2023, 9, 1), nickname="Annie")
Student.objects.bulk_create([
    Student(name="Bob", grade=11, score=Decimal("78.25"), enrolled=datetime.date(2022, 9, 1)),
    Student(name="Cleo", grade=10, score=Decimal("85.00"), enrolled=datetime.date(2023, 9, 1), active=False),
    Student(name="Dan", grade=12, score=Decimal("66.75"), enrolled=datetime.date(2021, 9, 1)),
    Student(name="Eve", grade=11, score=Decimal("95.00"), enrolled=datetime.date(2022, 9, 1), nickname="E"),
])
print(ann.pk, ann.name, ann.active)
print(Student.objects.count())
print(list(Student.objects.values_list("name", flat=True)))
print(Student.objects.filter(grade__gte=11).order_by("-score"))
print(Student.objects.filter(Q(grade=10) | Q(score__gt=90)).values("name", "score"))
print(Student.objects.exclude(nickname=None).values_list("name", "nickname"))
print(Student.objects.filter(name__startswith="C").exists())
print(Student.objects.aggregate(Avg("score"), Max("grade"), n=Count("id")))
print(Student.objects.values("grade").annotate(n=Count("id"), best=Max("score")).order_by("grade"))
print(list(Student.objects.annotate(
    band=Case(When(score__gte=90, then=Value("A")), When(score__gte=80, then=Value("B")), default=Value("C"))
).values_list("name", "band")))
print(Student.objects.annotate(upper=Upper("name"), next_grade=F("grade") + 1).values("upper", "next_grade")[:2])
print(Student.objects.filter(enrolled__year=2022).count())
best = Student.objects.order_by("-score").first()
print(str(best), best.score)
print([s.name for s in Student.objects.filter(active=True) if s.grade > 10])
print({s.name: s.grade for s in Student.objects.all()[:3]})
total = sum(s.score for s in Student.objects.all())
print(total, len(Student.objects.all()))
try:
    Student.objects.get(name="Zed")
except Student.DoesNotExist as e:
    print("missing:", str(e))
try:
    Student.objects.get(grade=10)
except Student.MultipleObjectsReturned:
    print("several in grade 10")
print(Student.objects.filter(grade=10).aggregate(total=Sum("score"), low=Min("score")))
print(Student.objects.get(name="Eve"))
print(Student.objects.filter(salary__gt=1).count())
