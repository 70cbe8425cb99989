"""The floor's one table: 11 columns, about what a small audit row holds."""

from __future__ import annotations

from django.db import models


class FloorRow(models.Model):
    """One validated request (id, a unique UUID, created_at, three codes, two short strings,
    an integer, a boolean and a small JSON document)."""

    request_id = models.UUIDField(unique=True)
    created_at = models.DateTimeField()
    subject = models.CharField(max_length=32)
    grade_band = models.CharField(max_length=32)
    region = models.CharField(max_length=32)
    provider = models.CharField(max_length=64)
    model_name = models.CharField(max_length=64)
    priority = models.IntegerField()
    accepted = models.BooleanField()
    detail = models.JSONField()

    # Declared, not implied: the product's type checker runs on the product's settings, where this
    # app is not installed (and must not be), so it would not add the default manager itself.
    objects: models.Manager[FloorRow] = models.Manager()

    class Meta:
        db_table = "floor_rows"

    def __str__(self) -> str:
        return str(self.request_id)
