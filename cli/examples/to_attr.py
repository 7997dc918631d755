"""Prefetch(to_attr=): plain lists (or an object) in the instance, shown in its output as Django shows them; on_commit with savepoints; select_for_update(of=, nowait=)."""
from django.db import models, transaction
from django.db.models import Prefetch, Count


class Author(models.Model):
    name = models.CharField(max_length=20)


class Book(models.Model):
    title = models.CharField(max_length=20)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    pages = models.IntegerField()


class Chapter(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="chapters")
    n = models.IntegerField()


a = Author.objects.create(name="A")
b = Author.objects.create(name="B")
for t, au, p in [("x", a, 100), ("y", a, 300), ("z", b, 50)]:
    bk = Book.objects.create(title=t, author=au, pages=p)
    for n in range(p // 100):
        Chapter.objects.create(book=bk, n=n)

qs = Author.objects.annotate(nb=Count("books")).prefetch_related(
    Prefetch("books", queryset=Book.objects.order_by("-pages"), to_attr="ordered"),
    Prefetch("books__chapters", queryset=Chapter.objects.filter(n__gt=0), to_attr="later"),
).order_by("name")
for au in qs:
    print(au.name, au.nb, len(au.ordered), [bk.title for bk in au.ordered], au.ordered is au.ordered)
print(list(qs))
books = Book.objects.prefetch_related(Prefetch("author", to_attr="writer")).order_by("title")
print([(bk.title, bk.writer.name) for bk in books])
print(books[0])
print(list(Book.objects.prefetch_related("chapters").order_by("title")))
one = Author.objects.prefetch_related(Prefetch("books", to_attr="all_books")).get(name="B")
one.all_books.append("extra")
print(len(one.all_books))
# on_commit in a rolled-back savepoint is dropped; the outer one runs.
events = []
with transaction.atomic():
    transaction.on_commit(lambda: events.append("outer"))
    try:
        with transaction.atomic():
            transaction.on_commit(lambda: events.append("inner"))
            raise ValueError("x")
    except ValueError:
        pass
    with transaction.atomic():
        transaction.on_commit(lambda: events.append("inner kept"))
print(events)
with transaction.atomic():
    first = Book.objects.select_for_update(of=("self", "author")).order_by("title").first()
    rows = list(Book.objects.select_for_update(nowait=True).filter(pages__gt=60).values_list("title", flat=True))
print(first.title, rows)
# first()/last() on a locking QuerySet lock the row they return.
with transaction.atomic():
    early = Book.objects.select_for_update().order_by("pages").first()
    late = Book.objects.select_for_update(skip_locked=True).order_by("pages").last()
    none = Book.objects.select_for_update().filter(pages__gt=1000).first()
print(early.title, late.title, none)
