"""The audit trail (one row per dispatch decision) and per-provider metric rollups.

A `DispatchLog` row is written by `policies.services.dispatch` in the same statement that
settles idempotency: (client, request_id) is unique, so a replay never writes a second row.
Rows keep the exact response text that was returned (text, not JSONB, which would reorder
keys), so a replay returns the same bytes.
"""

import uuid

from django.db import models
from django.db.models import Q

from providers.models import ModelProvider
from providers.vocabulary import GradeBand, Region, Subject


class Outcome(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    REFUSED = "refused", "Refused"


class DispatchLog(models.Model):
    id = models.BigAutoField(primary_key=True)
    request_id = models.UUIDField(default=uuid.uuid4)
    client_ref = models.CharField(
        max_length=64, blank=True, default="", help_text="The calling client; ids are scoped to it"
    )
    created_at = models.DateTimeField()
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the canonical request body")
    subject = models.CharField(max_length=32, choices=Subject.choices)
    grade_band = models.CharField(max_length=32, choices=GradeBand.choices)
    region = models.CharField(max_length=32, choices=Region.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField()
    refusal_code = models.CharField(max_length=64, blank=True, default="")
    level = models.CharField(max_length=16, blank=True, default="")
    policy = models.ForeignKey(
        "policies.DispatchPolicy", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    provider = models.ForeignKey(ModelProvider, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    is_override = models.BooleanField(default=False)
    override_provider_ref = models.CharField(max_length=64, blank=True, default="")
    override_reason = models.TextField(blank=True, default="")
    teacher_id = models.CharField(max_length=64, blank=True, default="")
    snapshot_version = models.BigIntegerField(default=0)
    decision_us = models.PositiveIntegerField(default=0, help_text="Time to decide, microseconds")
    response = models.TextField(help_text="The exact JSON body returned; replays return these bytes")

    class Meta:
        db_table = "dispatch_logs"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["client_ref", "request_id"], name="dispatch_log_unique_request"),
            models.CheckConstraint(
                condition=Q(outcome="refused") | (Q(provider__isnull=False) & Q(policy__isnull=False)),
                name="dispatch_log_accepted_has_provider",
            ),
        ]
        indexes = [
            models.Index(fields=["created_at"], name="dispatch_log_created"),
            models.Index(fields=["region", "created_at"], name="dispatch_log_region_created"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.outcome}"


class ModelMetric(models.Model):
    """Outcomes rolled up per provider x subject x grade band x region x hour."""

    provider = models.ForeignKey(ModelProvider, on_delete=models.PROTECT, related_name="metrics")
    subject = models.CharField(max_length=32, choices=Subject.choices)
    grade_band = models.CharField(max_length=32, choices=GradeBand.choices)
    region = models.CharField(max_length=32, choices=Region.choices)
    bucket_start = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    successes = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    latency_ms_sum = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)

    class Meta:
        db_table = "model_metrics"
        ordering = ["-bucket_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "subject", "grade_band", "region", "bucket_start"], name="metric_unique_bucket"
            ),
            models.CheckConstraint(
                condition=Q(successes__lte=models.F("requests")), name="metric_successes_le_requests"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider_id} {self.subject}/{self.grade_band}/{self.region} @ {self.bucket_start:%Y-%m-%d %H}:00"
