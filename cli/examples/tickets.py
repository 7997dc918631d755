"""Real models.py habits: class constants, choices with get_FOO_display(), auto_now_add."""
from django.db import models

class Ticket(models.Model):
    OPEN, DONE = "o", "d"
    STATUS = [(OPEN, "Open"), (DONE, "Done")]
    title = models.CharField(max_length=20)
    status = models.CharField(max_length=1, choices=STATUS, default=OPEN)
    priority = models.IntegerField(choices=[(1, "Low"), (2, "High")], default=1)
    created = models.DateTimeField(auto_now_add=True)
    day = models.DateField(auto_now=True)

t = Ticket.objects.create(title="a")
u = Ticket(title="b", status=Ticket.DONE, priority=2)
u.save()
Ticket.objects.bulk_create([Ticket(title="c", priority=3)])
print([(x.title, x.get_status_display(), x.get_priority_display(), x.created is not None, x.day is not None) for x in Ticket.objects.order_by("pk")])
print(Ticket.objects.filter(created__isnull=False).count(), Ticket.OPEN)
print(Ticket.objects.get(title="a").STATUS[1][1])
