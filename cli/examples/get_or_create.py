"""get_or_create / update_or_create: lookups in kwargs, callable defaults, invalid field names, conflicts."""
from django.db import models, IntegrityError, transaction


class City(models.Model):
    name = models.CharField(max_length=20, unique=True)
    size = models.IntegerField(default=1)


def attempt(action):
    try:
        result = action()
        print(result[0].name, result[0].size, result[1])
    except Exception as e:
        print(type(e).__name__, str(e) if not isinstance(e, IntegrityError) else "")


City.objects.create(name="Rome", size=5)
City.objects.create(name="Oslo", size=2)
attempt(lambda: City.objects.get_or_create(name__iexact="rome", defaults={"name": "Rome"}))
attempt(lambda: City.objects.get_or_create(name__iexact="paris", defaults={"name": "Paris"}))
attempt(lambda: City.objects.get_or_create(size__gte=1))
attempt(lambda: City.objects.get_or_create(name="Lima", defaults={"size": lambda: 9}))
attempt(lambda: City.objects.get_or_create(name="Kyiv", defaults={"bogus": 1}))
attempt(lambda: City.objects.update_or_create(name__iexact="oslo", defaults={"size": 3}))
attempt(lambda: City.objects.update_or_create(name__iexact="bern", defaults={"name": "Bern", "size": 4}))
attempt(lambda: City.objects.update_or_create(name="Rome", defaults={"name": "Oslo"}))
attempt(lambda: City.objects.filter(size__gt=3).get_or_create(name="Oslo"))
with transaction.atomic():
    attempt(lambda: City.objects.get_or_create(name="Oslo", size=99))
    print(City.objects.count())
print(sorted(City.objects.values_list("name", "size")))

# Callable defaults are called (Django's resolve_callables).
from django.utils import timezone
stamp, created = City.objects.update_or_create(name="Nuuk", defaults={"size": lambda: 7})
print(created, stamp.size, timezone.now() is not None)
