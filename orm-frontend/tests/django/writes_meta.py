# Meta.constraints and Meta.indexes declared on the model (Django 5.1: CheckConstraint takes
# condition=), and a ForeignKey with to_field=. Run with:
#   /tmp/django-venv/bin/python /work/shared/django-oracle/django_runner.py \
#       orm-frontend/tests/django/writes_meta.py --db sqlite
from django.db import models, transaction, IntegrityError
from django.db.models import Q


class Shop(models.Model):
    code = models.CharField(max_length=10, unique=True)


class Sale(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, to_field="code")
    amount = models.IntegerField()
    open = models.BooleanField()

    class Meta:
        app_label = "app"
        indexes = [
            models.Index(fields=["shop", "-amount"], name="sale_shop_amount_idx"),
            models.Index(fields=["amount"], name="sale_open_idx", condition=Q(open=True)),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="sale_amount_gte_0"),
            models.UniqueConstraint(fields=["shop"], condition=Q(open=True), name="one_open_sale"),
        ]


def attempt(label, fn):
    try:
        with transaction.atomic():
            fn()
        print(label, "ok")
    except IntegrityError:
        print(label, "IntegrityError")


a = Shop.objects.create(code="a")
b = Shop.objects.create(code="b")
attempt("open a", lambda: Sale.objects.create(shop=a, amount=5, open=True))
attempt("closed a", lambda: Sale.objects.create(shop=a, amount=7, open=False))
attempt("second open a", lambda: Sale.objects.create(shop=a, amount=9, open=True))
attempt("negative", lambda: Sale.objects.create(shop=b, amount=-1, open=False))
attempt("open b", lambda: Sale.objects.create(shop=b, amount=3, open=True))
attempt("reopen all", lambda: Sale.objects.update(open=True))
attempt("missing shop", lambda: Sale.objects.create(shop_id="zz", amount=1, open=False))
attempt("rename referenced shop", lambda: Shop.objects.filter(code="a").update(code="c"))
print("sales", Sale.objects.count(), "open", Sale.objects.filter(open=True).count())
print(list(Sale.objects.filter(shop="a").order_by("-amount").values_list("amount", flat=True)[:1]))
