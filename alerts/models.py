"""Webhooks (authored in admin, with history) and their deliveries (one row per webhook and alert).

A delivery holds the exact body sent (and signed) on every attempt; the background job
(`alerts.delivery`) claims it in PostgreSQL, so each is sent by one worker at a time, and retries
it with back-off until the receiver answers 2xx or the attempts run out.
"""

from __future__ import annotations

from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords


class AlertEvent(models.TextChoices):
    PROVIDER_COOLING_DOWN = "provider.cooling_down", "provider.cooling_down: a provider went into cooldown"
    PROVIDER_RECOVERED = "provider.recovered", "provider.recovered: a provider is healthy again"
    BUDGET_80_PERCENT = "budget.80_percent", "budget.80_percent: a client spent 80 % of its budget"
    BUDGET_EXHAUSTED = "budget.exhausted", "budget.exhausted: a client spent its whole budget"


TEST_EVENT = "webhook.test"  # sent by the admin's "send test" action only, whatever the webhook subscribes to


class Webhook(models.Model):
    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="http:// or https://; receives a JSON POST per alert",
    )
    events = models.JSONField(default=list, help_text="The alerts sent to this URL")
    secret = models.CharField(max_length=200, help_text="Signs every body: X-MDS-Signature: sha256=<HMAC-SHA256 hex>")
    is_active = models.BooleanField(default=True, help_text="Unticked: no new deliveries")
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(table_name="alert_webhooks_history", excluded_fields=["secret"])

    class Meta:
        db_table = "alert_webhooks"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(url__startswith="http://") | Q(url__startswith="https://"), name="webhook_url_http"
            ),
            models.CheckConstraint(condition=~Q(secret=""), name="webhook_has_secret"),
        ]

    def __str__(self) -> str:
        return self.name


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "pending (due at next attempt)"
    SENDING = "sending", "sending (claimed by a worker)"
    DELIVERED = "delivered", "delivered (2xx)"
    FAILED = "failed", "failed (attempts exhausted)"


class WebhookDelivery(models.Model):
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=64)
    subject = models.CharField(max_length=200)
    body = models.TextField(help_text="The exact JSON bytes sent and signed")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True, help_text="A claimed delivery is another's after this")
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "alert_deliveries"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="alert_delivery_due")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values), name="alert_delivery_status"),
            models.CheckConstraint(
                condition=~Q(status="delivered") | Q(delivered_at__isnull=False), name="alert_delivery_delivered_at"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.subject} -> {self.webhook_id} ({self.status})"
