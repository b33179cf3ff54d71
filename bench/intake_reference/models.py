"""The reference's one table."""

from django.db import models


class Delivery(models.Model):
    body = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"delivery {self.pk}"
