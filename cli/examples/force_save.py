"""save(force_insert=, force_update=, update_fields=) and their refusals."""
from django.db import models, DatabaseError, IntegrityError


class Tag(models.Model):
    label = models.CharField(max_length=10)
    uses = models.IntegerField(default=0)


def attempt(action):
    try:
        action()
        print("ok")
    except Exception as e:
        print(type(e).__name__, str(e) if not isinstance(e, IntegrityError) else "")


t = Tag.objects.create(label="a")
attempt(lambda: Tag(id=t.pk, label="b").save(force_insert=True))
attempt(lambda: Tag(id=77, label="c").save(force_update=True))
attempt(lambda: Tag(label="c").save(force_update=True))
attempt(lambda: t.save(force_insert=True, force_update=True))
attempt(lambda: t.save(bogus=True))
t.uses = 4
attempt(lambda: t.save(force_update=True))
attempt(lambda: Tag(id=9, label="n").save(force_insert=True))
print(list(Tag.objects.order_by("pk").values_list("id", "label", "uses")))
try:
    Tag(id=78, label="d").save(update_fields=["label"])
except DatabaseError as e:
    print(type(e).__name__, str(e))
