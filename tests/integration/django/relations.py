# Expected values for tests/integration/relations.rs, produced by real Django:
#
#   /tmp/django-venv/bin/python /work/shared/django-oracle/django_runner.py \
#       tests/integration/django/relations.py --db sqlite > tests/integration/django/relations.sqlite.jsonl
#
# (Django 5.1.4.) Each line is [label, value]; errors print as
# [label, {"error": ClassName, "message": text}]. Every ordering here is over non-NULL keys,
# so SQLite's NULL placement (first, where PostgreSQL puts them last) never shows.
from django.db import connection, models
from django.db.models import Avg, Count, F, Max, Prefetch, Q, Sum
from django.test.utils import CaptureQueriesContext


class Publisher(models.Model):
    name = models.CharField(max_length=50)


class Author(models.Model):
    name = models.CharField(max_length=50)
    age = models.IntegerField(null=True)
    mentor = models.ForeignKey("self", models.SET_NULL, null=True, related_name="mentees")
    friends = models.ManyToManyField("self")


class Book(models.Model):
    title = models.CharField(max_length=50)
    pages = models.IntegerField()
    publisher = models.ForeignKey(Publisher, models.CASCADE, null=True)
    authors = models.ManyToManyField(Author, related_name="books")


class Store(models.Model):
    name = models.CharField(max_length=50)
    books = models.ManyToManyField(Book)


class Profile(models.Model):
    author = models.OneToOneField(Author, models.CASCADE)
    bio = models.CharField(max_length=50)


class Country(models.Model):
    code = models.CharField(max_length=2, unique=True)
    name = models.CharField(max_length=50)


class City(models.Model):
    name = models.CharField(max_length=50)
    country = models.ForeignKey(Country, models.CASCADE, to_field="code", related_name="cities")


class Person(models.Model):
    name = models.CharField(max_length=50)


class Group(models.Model):
    name = models.CharField(max_length=50)
    members = models.ManyToManyField(Person, through="Membership", related_name="groups")


class Membership(models.Model):
    person = models.ForeignKey(Person, models.CASCADE)
    group = models.ForeignKey(Group, models.CASCADE)
    role = models.CharField(max_length=10)


class Artist(models.Model):
    name = models.CharField(max_length=50)


class Album(models.Model):
    name = models.CharField(max_length=50)
    artist = models.ForeignKey(Artist, models.CASCADE)


class Song(models.Model):
    name = models.CharField(max_length=50)
    artist = models.ForeignKey(Artist, models.CASCADE)
    album = models.ForeignKey(Album, models.RESTRICT)


class Genre(models.Model):
    name = models.CharField(max_length=50)


class Track(models.Model):
    name = models.CharField(max_length=50)
    genre = models.ForeignKey(Genre, models.PROTECT, related_name="tracks")
    mood = models.ForeignKey(Genre, models.SET_DEFAULT, default=1, related_name="moody")
    loose = models.ForeignKey(Genre, models.DO_NOTHING, null=True, related_name="+")


acme = Publisher.objects.create(name="Acme")
zeta = Publisher.objects.create(name="Zeta")
Publisher.objects.create(name="Idle")
ann = Author.objects.create(name="Ann", age=30)
bob = Author.objects.create(name="Bob", age=40, mentor=ann)
cy = Author.objects.create(name="Cy", age=None, mentor=ann)
dee = Author.objects.create(name="Dee", age=50, mentor=bob)
a = Book.objects.create(title="A", pages=100, publisher=acme)
b = Book.objects.create(title="B", pages=250, publisher=acme)
c = Book.objects.create(title="C", pages=300, publisher=zeta)
d = Book.objects.create(title="D", pages=50, publisher=None)
a.authors.add(ann, bob)
b.authors.add(ann)
c.authors.add(bob, cy)
s1 = Store.objects.create(name="North")
s2 = Store.objects.create(name="South")
s1.books.add(a, b, c)
s2.books.add(a)
ann.friends.add(bob, cy)
Profile.objects.create(author=ann, bio="writes")
Profile.objects.create(author=bob, bio="edits")
no = Country.objects.create(code="NO", name="Norway")
Country.objects.create(code="SE", name="Sweden")
City.objects.create(name="Oslo", country=no)
City.objects.create(name="Bergen", country=no)
p1 = Person.objects.create(name="P1")
p2 = Person.objects.create(name="P2")
g1 = Group.objects.create(name="G1")
g2 = Group.objects.create(name="G2")
Membership.objects.create(person=p1, group=g1, role="lead")
Membership.objects.create(person=p2, group=g1, role="member")
Membership.objects.create(person=p1, group=g2, role="member")


def case(label, thunk):
    try:
        value = thunk()
    except Exception as error:  # every outcome, errors included, is an expected value
        value = {"error": type(error).__name__, "message": str(error)}
    print([label, value])


def names(qs):
    return list(qs.order_by("name").values_list("name", flat=True))


def titles(qs):
    return list(qs.order_by("title").values_list("title", flat=True))


authors = Author.objects.all()
books = Book.objects.all()

# Many-to-many traversal, both directions, and reverse names
case("m2m_forward", lambda: titles(books.filter(authors__name="Ann")))
case("m2m_reverse_related_name", lambda: names(authors.filter(books__title="C")))
case("m2m_repeats_parents", lambda: names(authors.filter(books__pages__gt=50)))
case("m2m_distinct", lambda: names(authors.filter(books__pages__gt=50).distinct()))
case("m2m_reverse_default_query_name", lambda: titles(books.filter(store__name="South")))
case("m2m_chain", lambda: list(Store.objects.filter(books__authors__name="Cy").values_list("name", flat=True)))
case("m2m_values", lambda: list(books.filter(authors__isnull=False).values("title", "authors__name").order_by("title", "authors__name")))
case("m2m_isnull", lambda: titles(books.filter(authors__isnull=True)))
case("m2m_reverse_isnull", lambda: names(authors.filter(books__isnull=True)))
case("m2m_count", lambda: list(books.annotate(n=Count("authors")).values_list("title", "n").order_by("title")))
case("m2m_reverse_count", lambda: list(authors.annotate(n=Count("books")).values_list("name", "n").order_by("name")))
case("m2m_in_instances", lambda: titles(books.filter(authors__in=[bob, cy]).distinct()))
case("m2m_exact_instance", lambda: titles(books.filter(authors=ann)))
case("order_by_m2m", lambda: list(authors.filter(books__isnull=False).order_by("books__title", "name").values_list("name", "books__title")))

case("unknown_field_choices", lambda: list(books.filter(nope=1)))
case("unknown_field_choices_reverse", lambda: list(authors.filter(nope=1)))
case("deep_cycle", lambda: list(Publisher.objects.filter(book__authors__books__title="C").values_list("name", flat=True).order_by("name")))
case("two_m2m_hops_count", lambda: list(Store.objects.annotate(a=Count("books__authors"), d=Count("books__authors", distinct=True)).values_list("name", "a", "d").order_by("name")))
case("m2m_then_fk_values", lambda: list(authors.values("books__publisher__name").annotate(n=Count("id")).filter(books__publisher__name__isnull=False).order_by("books__publisher__name")))
case("friends_books", lambda: names(authors.filter(friends__books__title="C").distinct()))
case("through_two_paths_one_call", lambda: list(Person.objects.filter(membership__role="member", groups__name="G1").values_list("name", flat=True).order_by("name")))
case("through_two_paths_counts", lambda: list(Person.objects.annotate(m=Count("membership"), g=Count("groups")).values_list("name", "m", "g").order_by("name")))
case("max_per_author_filtered", lambda: list(authors.filter(books__pages__lt=300).annotate(m=Max("books__pages")).values_list("name", "m").order_by("name")))

case("m2m_back_to_same_model", lambda: names(authors.filter(books__authors__name="Bob")))
case("m2m_then_symmetric", lambda: titles(books.filter(authors__friends__name="Ann").distinct()))
case("having_across_m2m", lambda: titles(books.annotate(n=Count("authors")).filter(n__gt=1)))
case("order_by_count", lambda: list(books.annotate(n=Count("authors")).order_by("-n", "title").values_list("title", flat=True)))
case("aggregate_of_annotation", lambda: authors.annotate(n=Count("books")).aggregate(Avg("n"), Max("n")))
case("aggregate_reverse_chain", lambda: Publisher.objects.aggregate(Count("book__authors"), s=Sum("book__pages")))
case("filter_by_instance_reverse", lambda: names(authors.filter(books__publisher=acme).distinct()))
case("forward_then_reverse", lambda: titles(books.filter(publisher__book__title="B")))
case("distinct_count", lambda: authors.filter(books__title__in=["A", "C"]).distinct().count())
case("values_annotate_m2m", lambda: list(authors.values("name").annotate(n=Count("books")).order_by("name")))
case("fk_then_m2m", lambda: names(authors.filter(mentor__books__title="A")))
case("exclude_fk_then_m2m", lambda: names(authors.exclude(mentor__books__title="A")))
case("count_filter_m2m", lambda: list(authors.annotate(n=Count("books", filter=Q(books__pages__gt=100))).values_list("name", "n").order_by("name")))
case("f_division_m2m", lambda: titles(books.filter(authors__age__gt=F("pages") / 10).distinct()))
case("exclude_none_m2m", lambda: names(authors.exclude(books=None)))

# Symmetric self many-to-many and self ForeignKey
case("friends_symmetric", lambda: names(authors.filter(friends__name="Ann")))
case("friends_of_ann", lambda: names(ann.friends.all()))
case("self_fk_forward", lambda: names(authors.filter(mentor__name="Ann")))
case("self_fk_reverse", lambda: names(authors.filter(mentees__name="Dee")))
case("self_fk_count", lambda: list(authors.annotate(n=Count("mentees")).values_list("name", "n").order_by("name")))
case("self_fk_two_levels", lambda: names(authors.filter(mentor__mentor__name="Ann")))

# OneToOne reverse, to_field, reverse FK default names
case("o2o_reverse", lambda: names(authors.filter(profile__bio="edits")))
case("o2o_reverse_values", lambda: list(authors.values("name", "profile__bio").order_by("name")))
case("o2o_reverse_isnull", lambda: names(authors.filter(profile__isnull=True)))
case("to_field_forward", lambda: list(City.objects.filter(country__name="Norway").order_by("name").values_list("name", "country")))
case("to_field_reverse_count", lambda: list(Country.objects.annotate(n=Count("cities")).values_list("code", "n").order_by("code")))
case("reverse_fk_default_query_name", lambda: list(Publisher.objects.filter(book__pages__gt=200).values_list("name", flat=True).order_by("name")))
case("reverse_fk_count", lambda: list(Publisher.objects.annotate(n=Count("book")).values_list("name", "n").order_by("name")))

# through= models
case("through_forward", lambda: list(Group.objects.filter(members__name="P2").values_list("name", flat=True)))
case("through_reverse", lambda: list(Person.objects.filter(groups__name="G2").values_list("name", flat=True)))
case("through_extra_column", lambda: list(Group.objects.filter(membership__role="lead").values_list("name", flat=True)))
def through_writes():
    g3 = Group.objects.create(name="G3")
    g3.members.add(p1, p2, through_defaults={"role": "guest"})
    roles = list(Membership.objects.filter(group=g3).order_by("person__name").values_list("person__name", "role"))
    g3.members.remove(p1)
    left = names(g3.members.all())
    g3.delete()
    return [roles, left]


case("through_writes", through_writes)
case("through_count", lambda: list(Person.objects.annotate(n=Count("groups")).values_list("name", "n").order_by("name")))

# One filter() call = the same related row; chained calls = any rows
case("same_call_m2m", lambda: names(authors.filter(books__pages__gt=200, books__title="B")))
case("chained_m2m", lambda: names(authors.filter(books__pages__gt=200).filter(books__title="B")))
case("chained_m2m_rows", lambda: list(authors.filter(books__pages__gt=50).filter(books__pages__gt=50).values_list("name", flat=True).order_by("name")))

# exclude(): one subquery per condition
case("exclude_m2m", lambda: names(authors.exclude(books__title="A")))
case("exclude_m2m_two_conditions", lambda: names(authors.exclude(books__title="A", books__pages__gt=200)))
case("exclude_m2m_same_row_form", lambda: names(authors.exclude(books__in=Book.objects.filter(title="A", pages__gt=200))))
case("exclude_reverse_fk", lambda: list(Publisher.objects.exclude(book__pages__gt=200).values_list("name", flat=True).order_by("name")))
case("exclude_or_m2m", lambda: names(authors.exclude(Q(books__title="C") | Q(age=30))))
case("filter_negated_m2m", lambda: names(authors.filter(~Q(books__pages__lt=200))))
case("exclude_isnull_m2m", lambda: names(authors.exclude(books__isnull=True)))
case("exclude_f_outer", lambda: names(authors.exclude(books__pages__lt=F("age") * 5)))
case("negated_and_positive_same_call", lambda: names(authors.filter(~Q(books__title="A") & Q(books__pages__gt=200))))
case("exclude_deep_reverse", lambda: names(authors.exclude(books__store__name="South")))
case("exclude_chain", lambda: list(Store.objects.exclude(books__authors__name="Cy").values_list("name", flat=True)))

# Aggregates over joins
case("inflated_counts", lambda: list(authors.annotate(b=Count("books"), f=Count("friends")).values_list("name", "b", "f").order_by("name")))
case("distinct_counts", lambda: list(authors.annotate(b=Count("books", distinct=True), f=Count("friends", distinct=True)).values_list("name", "b", "f").order_by("name")))
case("inflated_sum", lambda: list(authors.annotate(p=Sum("books__pages"), f=Count("friends")).values_list("name", "p", "f").order_by("name")))
case("filter_then_annotate_m2m", lambda: list(authors.filter(books__pages__gt=200).annotate(n=Count("books")).values_list("name", "n").order_by("name")))
case("annotate_then_filter_m2m", lambda: list(authors.annotate(n=Count("books")).filter(books__pages__gt=200).values_list("name", "n").order_by("name")))
case("aggregate_across_m2m", lambda: books.aggregate(n=Count("authors"), d=Count("authors", distinct=True), p=Sum("authors__age")))
case("publisher_author_count", lambda: list(Publisher.objects.annotate(n=Count("book__authors", distinct=True)).values_list("name", "n").order_by("name")))
case("values_group_across_m2m", lambda: list(books.values("authors__name").annotate(p=Sum("pages")).filter(authors__name__isnull=False).order_by("authors__name")))
case("f_across_m2m", lambda: titles(books.filter(pages__gt=F("authors__age") * 5).distinct()))

# Join types (Django's join promotion): the JOINs of str(qs.query), in order, as
# [kind, table] with the app label dropped from the table name.
import re


def joins(qs):
    sql = str(qs.query)
    return [
        ["INNER" if kind == "INNER" else "LEFT", table.split("_", 1)[1]]
        for kind, table in re.findall(r'(INNER|LEFT OUTER) JOIN "(\w+)"', sql)
    ]


profiles = Profile.objects.all()
cities = City.objects.all()
case("joins_values_non_null_fk", lambda: joins(profiles.values("author__name")))
case("joins_values_list_chain_then_nullable", lambda: joins(profiles.values_list("author__mentor__name")))
case("joins_order_by_non_null_fk", lambda: joins(cities.order_by("country__name")))
case("joins_annotate_f_non_null_fk", lambda: joins(cities.annotate(c=F("country__name"))))
case("joins_annotate_f_nullable_fk", lambda: joins(books.annotate(p=F("publisher__name"))))
case("joins_order_by_nullable_fk", lambda: joins(authors.order_by("mentor__name")))
case("joins_filter_demotes_nullable", lambda: joins(authors.filter(mentor__name="Ann")))
case("joins_filter_demotes_chain", lambda: joins(authors.filter(mentor__mentor__name="Ann")))
case("joins_filter_isnull_keeps_left", lambda: joins(authors.filter(mentor__name__isnull=True)))
case("joins_exclude_keeps_left", lambda: joins(authors.exclude(mentor__name="Ann")))
case("joins_or_keeps_left", lambda: joins(authors.filter(Q(mentor__name="Ann") | Q(age=50))))
case("joins_or_both_sides_demote", lambda: joins(authors.filter(Q(mentor__name="Ann") | Q(mentor__age=40))))
case("joins_filter_m2m", lambda: joins(authors.filter(books__title="A")))
case("joins_count_reverse", lambda: joins(Publisher.objects.annotate(n=Count("book"))))
case("joins_through_values", lambda: joins(Membership.objects.values("person__name", "group__name")))
case("joins_select_related_non_null", lambda: joins(Membership.objects.select_related("person")))
case("joins_select_related_chain", lambda: joins(profiles.select_related("author__mentor")))
case("joins_values_then_filter_nullable", lambda: joins(profiles.values("author__mentor__name").filter(author__mentor__age=30)))
case("inner_values_rows", lambda: list(profiles.values_list("bio", "author__name", "author__mentor__name").order_by("bio")))
case("inner_order_by_rows", lambda: list(cities.order_by("country__name", "name").values_list("name", "country__name")))
case("demoted_filter_rows", lambda: names(authors.filter(Q(mentor__name="Ann") | Q(mentor__age=40))))

# A reverse OneToOne with no row raises RelatedObjectDoesNotExist; hasattr() is False.
case("o2o_missing_raises", lambda: Author.objects.get(name="Dee").profile.bio)
case("o2o_missing_is_object_does_not_exist", lambda: issubclass(Author.profile.RelatedObjectDoesNotExist, Profile.DoesNotExist))
case("o2o_hasattr", lambda: [[x.name, hasattr(x, "profile")] for x in authors.order_by("name")])
case("o2o_missing_after_select_related", lambda: Profile.objects.select_related("author").get(bio="edits").author.name)

# Related managers
def managers():
    out = {}
    e = Book.objects.create(title="E", pages=10)
    e.authors.add(ann, dee)
    out["after_add"] = names(e.authors.all())
    e.authors.remove(ann)
    out["after_remove"] = names(e.authors.all())
    e.authors.set([bob, cy])
    out["after_set"] = names(e.authors.all())
    new = e.authors.create(name="Eve", age=20)
    out["after_create"] = names(e.authors.all())
    out["reverse"] = titles(new.books.all())
    e.authors.clear()
    out["after_clear"] = names(e.authors.all())
    out["pub_books"] = titles(acme.book_set.all())
    out["filtered"] = titles(ann.books.filter(pages__gt=150))
    bob.friends.add(dee)
    out["symmetric_add"] = names(dee.friends.all())
    bob.friends.remove(dee)
    out["symmetric_remove"] = names(dee.friends.all())
    out["mentees"] = names(ann.mentees.all())
    new.delete()
    e.delete()
    return out


case("related_managers", managers)


# Query counts (Django's assertNumQueries)
def counted(thunk):
    with CaptureQueriesContext(connection) as ctx:
        value = thunk()
    return [len(ctx.captured_queries), value]


case("n_plus_one", lambda: counted(lambda: [b.publisher.name if b.publisher else None for b in books.order_by("title")]))
case("select_related", lambda: counted(lambda: [b.publisher.name if b.publisher else None for b in books.select_related("publisher").order_by("title")]))
case("select_related_deep", lambda: counted(lambda: [(x.name, x.mentor.name if x.mentor else None, x.mentor.mentor.name if x.mentor and x.mentor.mentor else None) for x in authors.select_related("mentor__mentor").order_by("name")]))
case("prefetch_m2m", lambda: counted(lambda: [(x.title, [y.name for y in x.authors.all()]) for x in books.prefetch_related("authors").order_by("title")]))
case("prefetch_reverse_fk", lambda: counted(lambda: [(p.name, [x.title for x in p.book_set.all()]) for p in Publisher.objects.prefetch_related("book_set").order_by("name")]))
case("prefetch_nested", lambda: counted(lambda: [(s.name, [(x.title, [y.name for y in x.authors.all()]) for x in s.books.all()]) for s in Store.objects.prefetch_related("books__authors").order_by("name")]))
case("prefetch_custom", lambda: counted(lambda: [(x.name, [y.title for y in x.long_books]) for x in authors.prefetch_related(Prefetch("books", queryset=Book.objects.filter(pages__gt=50).order_by("-pages"), to_attr="long_books")).order_by("name")]))
case("prefetch_sliced", lambda: counted(lambda: [(x.name, [y.title for y in x.top]) for x in authors.prefetch_related(Prefetch("books", queryset=Book.objects.order_by("-pages")[:1], to_attr="top")).order_by("name")]))
case("prefetch_with_select_related", lambda: counted(lambda: [(x.name, sorted(y.publisher.name if y.publisher else "-" for y in x.books.all())) for x in authors.prefetch_related(Prefetch("books", queryset=Book.objects.select_related("publisher"))).order_by("name")]))
case("prefetch_reverse_o2o_and_self", lambda: counted(lambda: [(x.name, x.profile.bio if hasattr(x, "profile") else None, sorted(m.name for m in x.mentees.all())) for x in authors.prefetch_related("profile", "mentees").order_by("name")]))
case("prefetch_forward_fk", lambda: counted(lambda: [(x.title, x.publisher.name if x.publisher else None) for x in books.prefetch_related("publisher").order_by("title")]))

# Sliced Prefetch querysets: one windowed query per level, sliced per parent.
case("prefetch_sliced_offset", lambda: counted(lambda: [(p.name, [x.title for x in p.some]) for p in Publisher.objects.prefetch_related(Prefetch("book_set", queryset=Book.objects.order_by("-pages")[1:3], to_attr="some")).order_by("name")]))
case("prefetch_sliced_m2m_open_end", lambda: counted(lambda: [(x.name, [y.title for y in x.rest]) for x in authors.prefetch_related(Prefetch("books", queryset=Book.objects.order_by("title")[1:], to_attr="rest")).order_by("name")]))
case("prefetch_sliced_reverse_m2m", lambda: counted(lambda: [(x.title, [y.name for y in x.last]) for x in books.prefetch_related(Prefetch("authors", queryset=Author.objects.order_by("-name")[:1], to_attr="last")).order_by("title")]))
case("prefetch_sliced_reversed", lambda: counted(lambda: [(p.name, [x.title for x in p.longest]) for p in Publisher.objects.prefetch_related(Prefetch("book_set", queryset=Book.objects.order_by("pages").reverse()[:1], to_attr="longest")).order_by("name")]))
# Without to_attr the sliced QuerySet becomes the related manager's, which Django filters.
case("prefetch_sliced_without_to_attr", lambda: [(p.name, [x.title for x in p.book_set.all()]) for p in Publisher.objects.prefetch_related(Prefetch("book_set", queryset=Book.objects.order_by("pages")[:1])).order_by("name")])


# Deletes follow on_delete
def deletes():
    out = {}
    out["cascade"] = Publisher.objects.filter(name="Zeta").delete()
    out["m2m_rows_go"] = Book.objects.filter(title="A").delete()
    out["set_null"] = Author.objects.filter(name="Ann").delete()
    out["mentors_after"] = list(Author.objects.order_by("name").values_list("name", "mentor__name"))
    out["remaining_links"] = Book.authors.through.objects.count()
    return out


case("deletes", deletes)


# PROTECT, RESTRICT, SET_DEFAULT, DO_NOTHING
def protect_and_restrict():
    out = {}
    artist = Artist.objects.create(name="Art")
    album = Album.objects.create(name="Al", artist=artist)
    Song.objects.create(name="S", artist=artist, album=album)
    g1 = Genre.objects.create(name="Default")
    g2 = Genre.objects.create(name="Rock")
    g3 = Genre.objects.create(name="Gone")
    Track.objects.create(name="T", genre=g1, mood=g2, loose=g3)
    try:
        album.delete()
    except Exception as error:
        out["restricted"] = {"error": type(error).__name__, "message": str(error)}
    out["artist_cascade"] = artist.delete()
    out["set_default"] = g2.delete()
    out["mood_after"] = list(Track.objects.values_list("mood_id", flat=True))
    try:
        g1.delete()
    except Exception as error:
        out["protected"] = {"error": type(error).__name__, "message": str(error)}
    # DO_NOTHING leaves the reference dangling; a database with enforced foreign keys
    # (SQLite here, PostgreSQL at commit) then raises IntegrityError, so it is not run here.
    out["nothing"] = Genre.objects.filter(name="nobody").delete()
    return out


case("protect_and_restrict", protect_and_restrict)
