"""Books and authors: many-to-many relations, related managers, select_related and
prefetch_related, Prefetch(to_attr=), window functions, delete() with its cascade."""
from decimal import Decimal

from django.db import connection, models, reset_queries
from django.db.models import Avg, Count, F, Prefetch, Q, Sum, Window
from django.db.models.functions import DenseRank, Lag, Rank, RowNumber


class Publisher(models.Model):
    name = models.CharField(max_length=50)

    def __str__(self):
        return self.name


class Author(models.Model):
    name = models.CharField(max_length=50)
    age = models.IntegerField()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Book(models.Model):
    title = models.CharField(max_length=100)
    pages = models.IntegerField()
    price = models.DecimalField(max_digits=6, decimal_places=2)
    publisher = models.ForeignKey(Publisher, on_delete=models.CASCADE, related_name="books")
    authors = models.ManyToManyField(Author, related_name="books")

    class Meta:
        ordering = ["title"]


penguin = Publisher.objects.create(name="Penguin")
orbit = Publisher.objects.create(name="Orbit")
ann = Author.objects.create(name="Ann", age=40)
bob = Author.objects.create(name="Bob", age=52)
cy = Author.objects.create(name="Cy", age=33)
specs = [
    ("Alpha", 300, "20.00", penguin, [ann]),
    ("Beta", 120, "9.50", penguin, [ann, bob]),
    ("Gamma", 450, "31.00", orbit, [bob, cy]),
    ("Delta", 210, "15.25", orbit, [cy]),
    ("Epsilon", 90, "7.75", penguin, []),
]
for title, pages, price, publisher, authors in specs:
    book = Book.objects.create(title=title, pages=pages, price=Decimal(price), publisher=publisher)
    book.authors.add(*authors)

print(Book.objects.count(), Author.objects.count())
print([a.name for a in Book.objects.get(title="Beta").authors.all()])
print(list(ann.books.values_list("title", flat=True)))
print(Author.objects.annotate(n=Count("books")).values_list("name", "n"))
print(Book.objects.filter(authors__name="Bob").values_list("title", flat=True))
print(Publisher.objects.annotate(pages=Sum("books__pages")).order_by("name").values_list("name", "pages"))

reset_queries()
titles = [(b.title, b.publisher.name) for b in Book.objects.all()]
reset_queries()
titles2 = [(b.title, b.publisher.name) for b in Book.objects.select_related("publisher")]
print(titles == titles2)

reset_queries()
rows = [(b.title, [a.name for a in b.authors.all()]) for b in Book.objects.prefetch_related("authors")]
print(rows)

reset_queries()
old = Prefetch("books", queryset=Book.objects.filter(pages__gt=200), to_attr="long_books")
print([(a.name, [b.title for b in a.long_books]) for a in Author.objects.prefetch_related(old)])

print(Book.objects.annotate(
    rank=Window(expression=Rank(), partition_by=[F("publisher")], order_by=F("pages").desc()),
    row=Window(expression=RowNumber(), order_by="title"),
).values_list("title", "rank", "row").order_by("title"))
print(Book.objects.annotate(
    prev=Window(expression=Lag("pages"), order_by=F("pages").asc()),
    dense=Window(expression=DenseRank(), order_by=F("price").desc()),
).values_list("title", "pages", "prev", "dense").order_by("pages"))

bob.books.remove(Book.objects.get(title="Gamma"))
print(Book.objects.get(title="Gamma").authors.count(), bob.books.count())
print(Book.objects.filter(pages__lt=100).delete())
print(orbit.delete())
print(Book.objects.count(), Publisher.objects.count(), Author.objects.count())
