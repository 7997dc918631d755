"""OneToOneField: forward and reverse access, and the reverse's DoesNotExist."""
from django.core.exceptions import ObjectDoesNotExist
from django.db import models


class Person(models.Model):
    name = models.CharField(max_length=20)


class Passport(models.Model):
    person = models.OneToOneField(Person, on_delete=models.CASCADE)
    number = models.CharField(max_length=9)


class Visa(models.Model):
    holder = models.OneToOneField(Person, on_delete=models.CASCADE, related_name="visa_of")
    country = models.CharField(max_length=2)


ann = Person.objects.create(name="Ann")
bob = Person.objects.create(name="Bob")
Passport.objects.create(person=ann, number="X1")
Visa.objects.create(holder=bob, country="NO")
print(Person.objects.get(name="Ann").passport.number, Passport.objects.get(number="X1").person.name)
print(Person.objects.get(name="Bob").visa_of.country)
try:
    Person.objects.get(name="Bob").passport
except Passport.DoesNotExist as e:
    print("no passport:", str(e))
try:
    Person.objects.get(name="Ann").visa_of
except ObjectDoesNotExist as e:
    print("no visa:", str(e))
print(Person.objects.filter(passport__number="X1").values_list("name", flat=True))
bob = Person.objects.get(name="Bob")
print(hasattr(bob, "passport"), hasattr(bob, "visa_of"), getattr(bob, "passport", "none"))
