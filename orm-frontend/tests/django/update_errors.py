"""Django's wording for refused update()/delete()/create() values; the unit test
`update_errors_read_as_djangos` in orm-frontend/src/queryset/update.rs quotes it."""
from django.db import models
from django.db.models import Count, F, Max, Sum


class Account(models.Model):
    owner = models.CharField(max_length=20)
    balance = models.IntegerField()


def attempt(action):
    try:
        action()
        print("no error")
    except Exception as e:
        print(type(e).__name__, str(e))


Account.objects.create(owner="cy", balance=0)
attempt(lambda: Account.objects.all().union(Account.objects.all()).update(balance=1))
attempt(lambda: Account.objects.all().union(Account.objects.all()).delete())
attempt(lambda: Account.objects.update(balance="x"))
attempt(lambda: Account.objects.update(balance=Sum("balance")))
attempt(lambda: Account.objects.update(balance=Sum("balance") + 1))
attempt(lambda: Account.objects.update(balance=Count("id", distinct=True)))
attempt(lambda: Account.objects.update(balance=Max(F("balance") * 2)))
print(Account.objects.filter(owner="cy").update(balance="7"), Account.objects.get().balance)
attempt(lambda: Account.objects.create(owner="dan", balance="y"))
