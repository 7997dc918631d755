"""bulk_create with and without keys: new keys come after the given ones (the unit test
`bulk_create_gives_new_keys_after_the_given_ones` in orm-frontend/src/queryset/write.rs)."""
from django.db import models


class Item(models.Model):
    n = models.IntegerField(default=0)


Item.objects.create(n=1)
objs = Item.objects.bulk_create([Item(id=600, n=2), Item(n=3), Item(id=601, n=4)])
print([o.pk for o in objs])
print(list(Item.objects.order_by("n").values_list("id", "n")))
