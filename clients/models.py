"""API clients: the apps that call the API, each with a hashed key, scopes and a rate.

The key itself is never stored: only its first characters (`key_prefix`, to find the row) and
the SHA-256 of the whole key. `name` is the client's stable reference: it is what the audit log
records (`client_ref`) and what scopes request ids, so it cannot be changed after creation.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Scope(models.TextChoices):
    DISPATCH = "dispatch", "dispatch: POST /dispatch"
    OVERRIDE = "override", "override: teacher overrides on /dispatch"
    OUTCOME = "outcome", "outcome: report and read its own outcomes"
    ANALYTICS = "analytics", "analytics: usage analytics"
    READ = "read", "read: providers and policies"


class ApiClient(models.Model):
    name = models.SlugField(max_length=64, unique=True, help_text="Stable id, recorded in the audit log")
    description = models.CharField(max_length=200, blank=True)
    key_prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False, help_text="SHA-256 of the key (hex)")
    scopes = models.JSONField(default=list, blank=True)
    rate = models.CharField(
        max_length=32, blank=True, help_text="Requests per period, e.g. 6000/min; blank: API_CLIENT_DEFAULT_RATE"
    )
    is_active = models.BooleanField(default=True, help_text="Unticked: the key is revoked (401)")
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "api_clients"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_active=False) | Q(revoked_at__isnull=True), name="api_client_revoked"
            ),
        ]

    def __str__(self) -> str:
        return self.name
