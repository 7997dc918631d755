"""Union of model QuerySets (instances), a named recursive CTE (CTE.recursive(fn, name=)),
Exists over a self relation, and count() of a CTE."""
from django.db import models
from django.db.models import F, Value, IntegerField, Exists, OuterRef
from django_cte import CTE, with_cte

class Node(models.Model):
    name = models.CharField(max_length=20)
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True)

a = Node.objects.create(name="a")
b = Node.objects.create(name="b", parent=a)
Node.objects.create(name="c", parent=b)
print(Node.objects.filter(name="a").union(Node.objects.filter(name="c")).order_by("name"))
def make(cte):
    return Node.objects.filter(parent__isnull=True).values("id", depth=Value(0, output_field=IntegerField())).union(
        cte.join(Node, parent=cte.col.id).values("id", depth=cte.col.depth + Value(1, output_field=IntegerField())), all=True)
t = CTE.recursive(make, name="tree")
print(with_cte(t, select=t.join(Node, id=t.col.id)).annotate(d=t.col.depth).order_by("-d").values_list("name", "d"))
print(Node.objects.annotate(has_children=Exists(Node.objects.filter(parent=OuterRef("pk")))).values_list("name", "has_children"))
print(with_cte(t, select=t.queryset()).count())
