"""An abstract base model (timestamps, a shared __str__ and ordering) inherited by two models."""
from django.db import models


class Named(models.Model):
    name = models.CharField(max_length=30)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self):
        return f"{type(self).__name__}: {self.name}"

    def shout(self):
        return self.name.upper()


class Shop(Named):
    city = models.CharField(max_length=30, default="Oslo")


class Item(Named):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE)
    price = models.IntegerField()

    class Meta:
        ordering = ["-price"]


s = Shop.objects.create(name="Corner")
Shop.objects.create(name="Atlas", city="Bergen")
Item.objects.create(name="tea", shop=s, price=3)
Item.objects.create(name="cake", shop=s, price=5)
print([str(x) for x in Shop.objects.all()], [i.name for i in Item.objects.all()])
print(Item.objects.values_list("name", "shop__city"), Item.objects.first().shout())
print(Shop.objects.values("id", "name", "city"))
