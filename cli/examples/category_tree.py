"""A category tree with django-cte: a recursive CTE for each category's path and depth, every
(root, node) pair of every subtree for totals per subtree, a plain named CTE joined to a
model (INNER and LEFT OUTER), cte.queryset() filtered directly, and reachability in a graph
with a cycle (union without all=True removes repeats, so the walk ends)."""
from django.db import models
from django.db.models import CharField, F, IntegerField, Sum, Value
from django.db.models.functions import Concat
from django.db.models.sql.constants import LOUTER
from django_cte import CTE, with_cte


class Category(models.Model):
    name = models.CharField(max_length=30)
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, related_name="children")


class Product(models.Model):
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="products")
    price = models.IntegerField()


class Edge(models.Model):
    src = models.IntegerField()
    dst = models.IntegerField()


for name, parent_id in [
    ("Electronics", None), ("Computers", 1), ("Laptops", 2), ("Phones", 1), ("Books", None), ("Novels", 5),
]:
    Category.objects.create(name=name, parent_id=parent_id)
for category_id, price in [(3, 1000), (3, 1500), (2, 700), (4, 400), (6, 20), (1, 5)]:
    Product.objects.create(category_id=category_id, price=price)
for src, dst in [(1, 2), (2, 3), (3, 1), (3, 4), (5, 6)]:
    Edge.objects.create(src=src, dst=dst)


def make_tree(cte):
    return Category.objects.filter(parent__isnull=True).values(
        "id",
        path=F("name"),
        depth=Value(0, output_field=IntegerField()),
    ).union(
        cte.join(Category, parent=cte.col.id).values(
            "id",
            path=Concat(cte.col.path, Value("/"), F("name"), output_field=CharField()),
            depth=cte.col.depth + Value(1, output_field=IntegerField()),
        ),
        all=True,
    )


tree = CTE.recursive(make_tree)
paths = with_cte(tree, select=tree.join(Category, id=tree.col.id)).annotate(
    path=tree.col.path, depth=tree.col.depth).order_by("path")
for category in paths:
    print(category.name, category.path, category.depth)
print(paths.values("name", "depth"))
print(with_cte(tree, select=tree.queryset()).filter(depth__gte=1).order_by("path").values_list("path", flat=True))


def subtree_pairs(cte):
    return Category.objects.values(root=F("id"), node=F("id")).union(
        cte.join(Category, parent=cte.col.node).values(root=cte.col.root, node=F("id")), all=True)


pairs = CTE.recursive(subtree_pairs)
print(list(with_cte(pairs, select=pairs.join(Product, category=pairs.col.node)).annotate(
    root=pairs.col.root).values("root").annotate(total=Sum("price")).order_by("root")))
print(with_cte(pairs, select=pairs.join(Category, id=pairs.col.node)).filter(
    **{"id__in": [2, 3, 4]}).annotate(root=pairs.col.root).filter(root=1).order_by("name").values_list("name", flat=True))

totals = CTE(Product.objects.values("category").annotate(total=Sum("price")), name="totals")
print(with_cte(totals, select=totals.join(Category, id=totals.col.category)).annotate(
    total=totals.col.total).order_by("name").values_list("name", "total"))
print(with_cte(totals, select=totals.join(Category, id=totals.col.category, _join_type=LOUTER)).annotate(
    total=totals.col.total).order_by("name").values_list("name", "total"))
print(with_cte(totals, select=totals.queryset()).filter(total__gt=500).order_by("category").values_list("category", flat=True))


def reach(cte):
    return Edge.objects.filter(src=1).values(node=F("dst")).union(
        cte.join(Edge, src=cte.col.node).values(node=F("dst")), all=False)


reachable = CTE.recursive(reach)
print(with_cte(reachable, select=reachable).order_by("node").values_list("node", flat=True))
