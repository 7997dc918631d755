"""A small library: several field kinds, helper functions, comprehensions, dates and
datetimes, conditional aggregation and Python-side post-processing of QuerySet results."""
import datetime
from decimal import Decimal

from django.db import models, transaction
from django.db.models import Avg, Case, Count, F, IntegerField, Max, Min, Q, Sum, Value, When
from django.db.models.functions import (
    Coalesce, Concat, ExtractYear, Greatest, Length, Lower, Round, TruncMonth,
)


class Author(models.Model):
    name = models.CharField(max_length=60)
    born = models.DateField(null=True)
    country = models.CharField(max_length=2, default="GB")

    class Meta:
        ordering = ["name"]
        unique_together = [("name", "born")]

    def __str__(self):
        return self.name

    def initials(self):
        return "".join(part[0] for part in self.name.split())


class Book(models.Model):
    GENRES = [("f", "Fiction"), ("n", "Non-fiction")]

    title = models.CharField(max_length=100)
    author = models.ForeignKey(Author, on_delete=models.PROTECT, related_name="books")
    genre = models.CharField(max_length=1, choices=GENRES, default="f")
    pages = models.PositiveIntegerField()
    price = models.DecimalField(max_digits=6, decimal_places=2)
    rating = models.FloatField(null=True)
    published = models.DateTimeField()
    in_print = models.BooleanField(default=True)

    class Meta:
        ordering = ["-published"]
        get_latest_by = "published"


def make_author(name, year=None, **extra):
    born = datetime.date(year, 1, 1) if year else None
    return Author.objects.create(name=name, born=born, **extra)


with transaction.atomic():
    austen = make_author("Jane Austen", 1775)
    orwell = make_author("George Orwell", 1903)
    le_guin = make_author("Ursula Le Guin", 1929, country="US")
    anon = make_author("Anonymous")

books = [
    ("Emma", austen, "f", 474, "12.99", 4.1, datetime.datetime(1815, 12, 23, 9, 30)),
    ("Persuasion", austen, "f", 249, "9.50", 4.3, datetime.datetime(1817, 12, 20)),
    ("1984", orwell, "f", 328, "14.00", 4.6, datetime.datetime(1949, 6, 8, 12, 0, 5)),
    ("Homage to Catalonia", orwell, "n", 232, "11.25", None, datetime.datetime(1938, 4, 25)),
    ("The Dispossessed", le_guin, "f", 387, "15.75", 4.4, datetime.datetime(1974, 5, 1, 18, 45)),
    ("Beowulf", anon, "f", 120, "5.00", 3.2, datetime.datetime(1815, 1, 1)),
]
Book.objects.bulk_create([
    Book(title=t, author=a, genre=g, pages=p, price=Decimal(pr), rating=r, published=d)
    for t, a, g, p, pr, r, d in books
])

print(Book.objects.count(), Author.objects.count())
print(Book.objects.latest().title, Book.objects.earliest().title)
print(Book.objects.filter(published__year__lt=1900).values_list("title", flat=True))
print(Book.objects.filter(author__country="GB", genre="f").order_by("pages").values("title", "pages"))
print(Book.objects.aggregate(
    fiction=Count("id", filter=Q(genre="f")),
    avg_rating=Avg("rating"),
    pages=Sum("pages"),
    cheapest=Min("price"),
))
print(Book.objects.values("author__name").annotate(
    n=Count("id"), total_pages=Sum("pages"), top=Max("rating")
).order_by("author__name"))
print(Book.objects.annotate(
    size=Case(When(pages__gte=400, then=Value("long")), When(pages__lt=200, then=Value("short")), default=Value("medium"))
).values_list("title", "size").order_by("title"))
print(Book.objects.annotate(year=ExtractYear("published")).filter(year__gte=1900).values("title", "year").order_by("year"))
print(Book.objects.annotate(score=Coalesce("rating", 0.0) * 10).values_list("title", "score").order_by("-score", "title"))
print(Book.objects.annotate(label=Concat("title", Value(" ("), "genre", Value(")"))).values_list("label", flat=True).order_by("title")[:3])
print(Book.objects.annotate(n=Length("title")).filter(n__gt=10).order_by("n").values_list("title", "n"))
print(Book.objects.filter(Q(rating__gte=4.4) | Q(rating__isnull=True)).order_by("title").values_list("title", flat=True))
print(Book.objects.exclude(rating__lt=4).order_by("title").values_list("title", flat=True))
print(Book.objects.annotate(month=TruncMonth("published")).filter(title="1984").values_list("month", flat=True))
print(Book.objects.filter(price__gt=F("pages") / 30).values_list("title", flat=True).order_by("title"))
print(Book.objects.annotate(best=Greatest("pages", 300)).values_list("title", "best").order_by("title")[:2])
print(Book.objects.filter(title__icontains="the").values_list("title", flat=True).order_by("title"))
print(Book.objects.filter(author__born__isnull=True).values_list("title", flat=True))
print(Author.objects.filter(books__pages__gt=300).distinct().values_list("name", flat=True))
print(Author.objects.annotate(n=Count("books"), total=Sum("books__pages")).order_by("name").values("name", "n", "total"))
print(Author.objects.annotate(avg_price=Avg("books__price")).filter(avg_price__gt=12).order_by("name").values_list("name", flat=True))

emma = Book.objects.get(title="Emma")
print(emma.author.initials(), str(emma.author), emma.published, emma.price * 2, emma.published.year)
print(emma.published.date(), emma.published - datetime.datetime(1815, 1, 1))
titles = sorted((b.title for b in Book.objects.all()), key=len)
print(titles[:3], titles[-1])
by_author = {}
for book in Book.objects.order_by("title"):
    by_author.setdefault(book.author.name, []).append(book.title)
print(by_author)
total, count = Decimal("0"), 0
for price in Book.objects.values_list("price", flat=True):
    total += price
    count += 1
print(total, count, round(total / count, 2))
stats = Book.objects.aggregate(lo=Min("pages"), hi=Max("pages"))
lo, hi = stats["lo"], stats["hi"]
print(f"pages from {lo} to {hi}, spread {hi - lo}", f"{float(total):.1f}")
print([(a.name, a.books.count()) for a in Author.objects.all() if a.born is not None])
print(Book.objects.filter(pk__in=[1, 3, 99]).values_list("pk", flat=True).order_by("pk"))
row = Book.objects.values("title", "author__name").get(pk=2)
print(row, row["title"].upper())
print(list(Book.objects.values_list("genre").annotate(n=Count("id")).order_by("genre")))
print(Book.objects.none().count(), list(Book.objects.none()))
print(Book.objects.filter(title__in=[]).exists())
print(Book.objects.order_by("title").values_list("title", flat=True)[2:4])
print(Book.objects.annotate(rounded=Round("rating")).filter(title="Emma").values_list("rounded", flat=True))
