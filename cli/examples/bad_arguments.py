"""Write calls given the wrong kinds of arguments: the exception classes and messages Django raises."""
from django.db import models, transaction


class T(models.Model):
    n = models.IntegerField(default=0)


def attempt(action):
    try:
        print("ok", action())
    except Exception as e:
        print(type(e).__name__, str(e))


t = T.objects.create()
attempt(lambda: T.objects.update())
attempt(lambda: T.objects.update(1))
attempt(lambda: T.objects.bulk_update([1, 2], ["n"]))
attempt(lambda: T.objects.bulk_update([t], "n"))
attempt(lambda: T.objects.bulk_create(5))
attempt(lambda: T.objects.bulk_create([t, 3]))
attempt(lambda: T.objects.update_or_create(defaults=5, n=1))
attempt(lambda: t.save(update_fields=[]))
attempt(lambda: T.objects.bulk_update([], ["n"]))
attempt(lambda: T.objects.bulk_create([]))
attempt(lambda: T.objects.bulk_create([T()], batch_size="2"))
attempt(lambda: transaction.on_commit())
