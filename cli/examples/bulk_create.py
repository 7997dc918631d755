"""bulk_create with update_conflicts (keys set), ignore_conflicts (keys left unset) and batch_size."""
from django.db import models


class Sku(models.Model):
    code = models.CharField(max_length=5, unique=True)
    qty = models.IntegerField(default=0)


Sku.objects.create(code="a", qty=1)
Sku.objects.create(code="b", qty=2)
objs = Sku.objects.bulk_create([Sku(code="b", qty=20), Sku(code="c", qty=30)], update_conflicts=True, update_fields=["qty"], unique_fields=["code"])
print([(o.pk, o.code, o.qty) for o in objs])
objs = Sku.objects.bulk_create([Sku(code="a"), Sku(code="d", qty=4)], ignore_conflicts=True)
print([(o.pk, o.code, o._state.adding) for o in objs])
print(list(Sku.objects.order_by("code").values_list("code", "qty")))
objs = Sku.objects.bulk_create([Sku(code=f"x{i}") for i in range(5)], batch_size=2)
print([o.pk for o in objs], Sku.objects.count())
s = Sku(code="new")
print(s._state.adding, s._state.db)
s.save()
print(s._state.adding, s._state.db, Sku.objects.get(code="new")._state.adding)
