"""The audit trail (one row per dispatch decision) and per-provider metric rollups.

A `DispatchLog` row is written by `policies.services.dispatch` through
`audit.services.dispatch_log_insert`, which signs it and writes it in the same statement that
settles idempotency: (client, request_id) is unique, so a replay never writes a second row.
Rows keep the exact response text that was returned (text, not JSONB, which would reorder
keys), so a replay returns the same bytes.

The log is append-only: the ORM refuses to update or delete a row (`AppendOnlyQuerySet`,
`DispatchLog.save/delete`); on PostgreSQL the service role may only SELECT and INSERT it
(`audit.roles`), and a trigger (migration 0004) rejects every UPDATE, and a DELETE of a row no
recorded purge covers, whoever runs it; each row carries an HMAC `digest` of its content,
computed in Python by the service that inserts it (see `audit.integrity`); the model signs
nothing and refuses to save a row that is not signed.
"""

import uuid
from typing import Any

from django.db import models
from django.db.models import Q

from providers.models import ModelProvider
from vocabulary import GradeBand, Region, Subject


class Outcome(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    REFUSED = "refused", "Refused"


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete an audit row through the ORM."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        raise AppendOnlyError("dispatch_logs is append-only: rows cannot be updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("dispatch_logs is append-only: use `manage.py purge_dispatch_logs` for retention")


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
    digest = models.CharField(
        max_length=64, blank=True, default="", help_text="HMAC-SHA256 of the row's content (audit.integrity)"
    )

    objects = AppendOnlyQuerySet.as_manager()

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

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A row is written once, signed by the service that writes it (audit.services.dispatch_log_insert).
        if not self._state.adding:
            raise AppendOnlyError("dispatch_logs is append-only: rows cannot be updated")
        if not self.digest:
            raise AppendOnlyError("dispatch_logs rows are written signed, by audit.services.dispatch_log_insert")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("dispatch_logs is append-only: use `manage.py purge_dispatch_logs` for retention")


# Upper bounds (ms) of the latency histogram buckets; a report above the last is refused.
LATENCY_BOUNDS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 600000)
LATENCY_MS_MAX = LATENCY_BOUNDS_MS[-1]


def latency_bucket_column(bound: int) -> str:
    return f"latency_le_{bound}"


class MetricCounts(models.Model):
    """Outcome counters shared by the hourly and daily rollups; only ever added to (atomic upserts)."""

    requests = models.PositiveIntegerField(default=0)
    successes = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    latency_ms_sum = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    # Latency histogram: reports with latency in (previous bound, bound] ms; p95 is computed by the DB.
    latency_le_50 = models.PositiveIntegerField(default=0)
    latency_le_100 = models.PositiveIntegerField(default=0)
    latency_le_250 = models.PositiveIntegerField(default=0)
    latency_le_500 = models.PositiveIntegerField(default=0)
    latency_le_1000 = models.PositiveIntegerField(default=0)
    latency_le_2500 = models.PositiveIntegerField(default=0)
    latency_le_5000 = models.PositiveIntegerField(default=0)
    latency_le_10000 = models.PositiveIntegerField(default=0)
    latency_le_30000 = models.PositiveIntegerField(default=0)
    latency_le_600000 = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class ModelMetric(MetricCounts):
    """Outcomes rolled up per provider x subject x grade band x region x hour (of the dispatch)."""

    provider = models.ForeignKey(ModelProvider, on_delete=models.PROTECT, related_name="metrics")
    subject = models.CharField(max_length=32, choices=Subject.choices)
    grade_band = models.CharField(max_length=32, choices=GradeBand.choices)
    region = models.CharField(max_length=32, choices=Region.choices)
    bucket_start = models.DateTimeField()

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


class ModelMetricDaily(MetricCounts):
    """The same outcomes per provider x region x day: what /analytics and the dashboard read.

    Its size is bounded by days x regions x providers whatever the traffic, so analytics over
    30 days costs the same at ten thousand dispatches as at a million.
    """

    provider = models.ForeignKey(ModelProvider, on_delete=models.PROTECT, related_name="daily_metrics")
    region = models.CharField(max_length=32, choices=Region.choices)
    day = models.DateField()

    class Meta:
        db_table = "model_metrics_daily"
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["day", "region", "provider"], name="metric_daily_unique_bucket"),
            models.CheckConstraint(
                condition=Q(successes__lte=models.F("requests")), name="metric_daily_successes_le_requests"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider_id} {self.region} @ {self.day}"


class DispatchOutcome(models.Model):
    """How the LLM call of one accepted dispatch went, reported once by the client app."""

    dispatch_log = models.OneToOneField(
        DispatchLog, primary_key=True, on_delete=models.DO_NOTHING, related_name="reported_outcome"
    )
    provider = models.ForeignKey(ModelProvider, on_delete=models.PROTECT, related_name="+")
    reported_at = models.DateTimeField()
    success = models.BooleanField()
    latency_ms = models.PositiveIntegerField()
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=64, blank=True, default="")
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the canonical report body")

    class Meta:
        db_table = "dispatch_outcomes"
        constraints = [
            models.CheckConstraint(condition=Q(latency_ms__lte=LATENCY_MS_MAX), name="outcome_latency_bounded"),
            models.CheckConstraint(condition=Q(success=False) | Q(error_code=""), name="outcome_success_no_error"),
        ]

    def __str__(self) -> str:
        return f"{self.dispatch_log_id} {'success' if self.success else 'failure'}"


class RollupDimension(models.TextChoices):
    TOTAL = "total", "All dispatches"
    OUTCOME = "outcome", "Outcome"
    SUBJECT = "subject", "Subject"
    GRADE_BAND = "grade_band", "Grade band"
    PROVIDER = "provider", "Provider (accepted)"
    REFUSAL = "refusal", "Refusal code"
    OVERRIDE = "override", "Teacher override"
    LEVEL = "level", "Resolution level"


class DispatchRollup(models.Model):
    """Dispatch counts per day x region x one dimension (marginals, not a cube), folded from the log.

    Folded by `audit.rollups.rollup_fold` up to a watermark (`RollupWatermark`); rows above it
    are counted live. Kept by the retention purge.
    """

    day = models.DateField()
    region = models.CharField(max_length=32, choices=Region.choices)
    dimension = models.CharField(max_length=16, choices=RollupDimension.choices)
    value = models.CharField(max_length=64, blank=True, default="")
    count = models.BigIntegerField(default=0)
    decision_us_sum = models.BigIntegerField(default=0)

    class Meta:
        db_table = "dispatch_rollups"
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["day", "region", "dimension", "value"], name="dispatch_rollup_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.region} {self.dimension}={self.value}: {self.count}"


class RollupWatermark(models.Model):
    """The one row saying up to which dispatch_logs id the rollups are folded."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "dispatch_rollup_watermark"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="rollup_watermark_single_row")]

    def __str__(self) -> str:
        return f"folded through id {self.last_id}"


class AuditCheckpoint(models.Model):
    """A sealed segment of the log: which ids exist in it and a digest over them, HMAC-signed and chained.

    Written by `verify_audit_log` (and the purge) after verifying the rows; lets verification
    name a row deleted behind the application's back.
    """

    seq = models.PositiveIntegerField(primary_key=True)
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    row_count = models.PositiveIntegerField()
    id_runs = models.TextField(help_text="JSON [[first, last], ...]: the ids present, as runs")
    chain = models.CharField(max_length=64, help_text="SHA-256 over 'id:digest' of every row, in id order")
    row_tags = models.TextField(help_text="First 8 hex characters of each row's digest, in id order")
    max_created_at = models.DateTimeField()
    created_at = models.DateTimeField()
    prev_signature = models.CharField(max_length=64, blank=True, default="")
    signature = models.CharField(max_length=64)

    class Meta:
        db_table = "audit_checkpoints"
        ordering = ["seq"]
        constraints = [models.CheckConstraint(condition=Q(last_id__gte=models.F("first_id")), name="checkpoint_range")]

    def __str__(self) -> str:
        return f"checkpoint #{self.seq} ids {self.first_id}-{self.last_id} ({self.row_count} rows)"


class AuditPurge(models.Model):
    """One run of the retention purge: what it was allowed to delete (signed) and what it did."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    older_than_days = models.PositiveIntegerField()
    cutoff = models.DateTimeField()
    through_id = models.BigIntegerField(help_text="Rows with id <= this may be gone (whole sealed checkpoints)")
    through_checkpoint = models.PositiveIntegerField(default=0)
    rows_deleted = models.BigIntegerField(default=0)
    requested_by = models.CharField(max_length=150, blank=True, default="")
    signature = models.CharField(max_length=64)

    class Meta:
        db_table = "audit_purges"
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"purge {self.started_at:%Y-%m-%d %H:%M} through id {self.through_id} ({self.rows_deleted} rows)"


class SpendPeriod(models.TextChoices):
    DAY = "day", "day (UTC)"
    MONTH = "month", "month (UTC)"


class ClientSpend(models.Model):
    """What one client's reported outcomes cost in one UTC day or month (by report time).

    Only ever added to, by the outcome's own transaction (`audit.services.outcome_report`, one
    upsert for both periods), so it is exact across workers and PostgreSQL is its truth: dispatch
    reads it for a client with a budget. `alerted_*_at`: when the budget's 80 % and 100 % alerts were
    raised for this period (set once, by a conditional UPDATE, so each fires once)."""

    client_ref = models.CharField(max_length=64)
    period = models.CharField(max_length=8, choices=SpendPeriod.choices)
    period_start = models.DateField(help_text="The first UTC day of the period")
    spent = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    outcomes = models.PositiveIntegerField(default=0)
    alerted_80_at = models.DateTimeField(null=True, blank=True)
    alerted_100_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "audit_client_spend"
        ordering = ["-period_start", "client_ref"]
        constraints = [
            models.UniqueConstraint(fields=["client_ref", "period", "period_start"], name="client_spend_unique_period"),
            models.CheckConstraint(condition=Q(period__in=SpendPeriod.values), name="client_spend_period"),
            models.CheckConstraint(condition=Q(spent__gte=0), name="client_spend_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.client_ref} {self.period} {self.period_start}: {self.spent}"
