"""The writers of alerts: raise one (a delivery per subscribed webhook), author a webhook, send a test.

An alert is only written here, never sent: the background job (`alerts.delivery`) sends it, so
whatever raises one (a reported outcome, a provider's health transition) waits for no receiver.
`alert_raise` joins the caller's transaction: an alert is delivered only if what it reports
committed.

The body is `{"event", "subject", "at", "details"}`, rendered once and stored; every attempt sends
the same bytes, signed with the webhook's secret (`body_sign`: HMAC-SHA256, hex, in
`X-MDS-Signature: sha256=<hex>`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from alerts.models import TEST_EVENT, AlertEvent, DeliveryStatus, Webhook, WebhookDelivery
from common.errors import DispatchError

SIGNATURE_HEADER = "X-MDS-Signature"
SECRET_MIN_LENGTH = 16


class InvalidWebhook(DispatchError):
    code = "invalid_webhook"


def body_sign(*, secret: str, body: bytes) -> str:
    """The signature header's value for `body`: `sha256=` and the HMAC-SHA256 of the body, hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def alert_body(*, event: str, subject: str, at: dt.datetime, details: dict[str, Any]) -> str:
    return json.dumps(
        {"event": event, "subject": subject, "at": _iso(at), "details": details},
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,  # Decimal, UUID, date
    )


def _deliveries_add(webhooks: Iterable[Webhook], *, event: str, subject: str, at: dt.datetime, body: str) -> int:
    now = timezone.now()
    rows = [
        WebhookDelivery(
            webhook=webhook, event=event, subject=subject[:200], body=body, next_attempt_at=now, created_at=now
        )
        for webhook in webhooks
    ]
    WebhookDelivery.objects.bulk_create(rows)
    return len(rows)


def alert_raise(*, event: str, subject: str, at: dt.datetime, details: dict[str, Any]) -> int:
    """Queue `event` for every active webhook subscribed to it (in the caller's transaction); how many."""
    webhooks = [w for w in Webhook.objects.filter(is_active=True).only("id", "events") if event in (w.events or ())]
    if not webhooks:
        return 0
    body = alert_body(event=event, subject=subject, at=at, details=details)
    return _deliveries_add(webhooks, event=event, subject=subject, at=at, body=body)


@transaction.atomic
def webhook_test_send(*, webhooks: Iterable[Webhook]) -> int:
    """Queue a `webhook.test` delivery to each of `webhooks` (active or not, whatever its events)."""
    at = timezone.now()
    count = 0
    for webhook in webhooks:
        body = alert_body(
            event=TEST_EVENT,
            subject=webhook.name,
            at=at,
            details={"message": "A test from the Model Dispatch Service: the signature verifies with your secret."},
        )
        count += _deliveries_add([webhook], event=TEST_EVENT, subject=webhook.name, at=at, body=body)
    return count


def events_clean(events: Iterable[str]) -> list[str]:
    cleaned = sorted(set(events))
    unknown = [e for e in cleaned if e not in AlertEvent.values]
    if unknown or not cleaned:
        raise InvalidWebhook(
            f"events must be one or more of {', '.join(AlertEvent.values)}",
            fields={"events": [f"Allowed values: {', '.join(AlertEvent.values)}."]},
        )
    return cleaned


@transaction.atomic
def webhook_save(*, webhook: Webhook, secret: str | None = None) -> Webhook:
    """Create or change a webhook (one history row per save); `secret=None` keeps the current one."""
    webhook.events = events_clean(webhook.events or ())
    if secret is not None:
        if len(secret) < SECRET_MIN_LENGTH:
            raise InvalidWebhook(
                f"the secret must be at least {SECRET_MIN_LENGTH} characters",
                fields={"secret": [f"At least {SECRET_MIN_LENGTH} characters."]},
            )
        webhook.secret = secret
    try:
        webhook.full_clean()
    except ValidationError as exc:
        raise InvalidWebhook("; ".join(exc.messages), fields={k: list(v) for k, v in exc.message_dict.items()}) from exc
    webhook.save()
    return webhook


def delivery_retry_now(*, delivery: WebhookDelivery) -> None:
    """Make a failed (or waiting) delivery due again, with its attempts counted afresh."""
    WebhookDelivery.objects.filter(pk=delivery.pk).exclude(status=DeliveryStatus.DELIVERED).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), lease_until=None
    )
