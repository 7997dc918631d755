"""A primary key that is not the first field (a CharField), with a ForeignKey to it."""
from django.db import models

class Country(models.Model):
    name = models.CharField(max_length=30)
    code = models.CharField(max_length=2, primary_key=True)

    def __str__(self):
        return f"{self.name} ({self.pk})"

class City(models.Model):
    country = models.ForeignKey(Country, on_delete=models.CASCADE)
    name = models.CharField(max_length=30)

no = Country.objects.create(name="Norway", code="NO")
City.objects.create(country=no, name="Oslo")
c = City.objects.get(name="Oslo")
print(c, c.country_id, c.country.name, str(c.country), no.pk)
print(Country.objects.get(pk="NO"), [str(x) for x in Country.objects.all()])
print(City.objects.filter(country=no).count(), Country.objects.in_bulk(["NO"]))
