from django.db import models, transaction
from django.db.models import F

class Account(models.Model):
    balance = models.IntegerField()
    class Meta:
        app_label = "app"

Account.objects.create(balance=1)
Account.objects.create(balance=5)
print(Account.objects.filter(balance__lt=0).delete())
print(Account.objects.filter(balance__lt=3).delete())
print(Account.objects.update(balance=F("balance") + 1))
print(Account.objects.filter(balance__gt=100).update(balance=1))
