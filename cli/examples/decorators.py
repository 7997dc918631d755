"""@property and @cached_property on models, @transaction.atomic functions that roll back."""
from functools import cached_property
from django.db import models, transaction, IntegrityError
from django.db.transaction import atomic


class Person(models.Model):
    first = models.CharField(max_length=10)
    last = models.CharField(max_length=10, unique=True)

    @property
    def full_name(self):
        return f"{self.first} {self.last}"

    @cached_property
    def initials(self):
        return self.first[0] + self.last[0]

    def __str__(self):
        return self.full_name


@transaction.atomic
def add_pair(a, b):
    Person.objects.create(first="x", last=a)
    Person.objects.create(first="y", last=b)
    return Person.objects.count()


@atomic()
def rename(last, first):
    return Person.objects.filter(last=last).update(first=first)


print(add_pair("A", "B"))
try:
    add_pair("C", "A")
except IntegrityError:
    print("rolled back", Person.objects.count())
print(rename("A", "Ann"))
p = Person.objects.get(last="A")
print(p.full_name, p.initials, str(p), [x.full_name for x in Person.objects.order_by("last")])
print(p)
q = Person(first="Zed", last="Z")
print(q.initials)
q.save()
print(Person.objects.get(last="Z").first, q.initials, q.pk is not None)
