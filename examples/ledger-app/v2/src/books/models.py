from django.db import models


class Line(models.Model):
    tenant = models.CharField(max_length=40)
    account = models.CharField(max_length=40)
    debit = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    credit = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    memo = models.CharField(max_length=200, null=True, blank=True)
