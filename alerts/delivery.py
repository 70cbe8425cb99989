"""Sending deliveries: the background job every worker runs (`alerts.deliver`, common.background).

What must stay true:
- Never on a request's thread: only this job sends, so dispatch and outcome reports wait for no
  receiver.
- A delivery is claimed in PostgreSQL before it is sent (`SELECT ... FOR UPDATE SKIP LOCKED` then
  an UPDATE to `sending` with a lease, in one short transaction), so one worker of one instance
  sends it at a time; no transaction is held open while a receiver answers. A worker that dies
  mid-send leaves the lease to expire and the next pass sends it again (at least once).
- A 2xx is delivered; anything else (another status, a timeout, a refused connection) is retried
  after ALERT_WEBHOOK_RETRY_SECONDS x 2^(attempts - 1) (capped at an hour) until
  ALERT_WEBHOOK_MAX_ATTEMPTS attempts, then `failed`. A result is written only by the claim that
  made the attempt (same attempt number, still `sending`).
"""

from __future__ import annotations

import datetime as dt
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from alerts.models import DeliveryStatus, WebhookDelivery
from alerts.services import SIGNATURE_HEADER, body_sign

logger = logging.getLogger("alerts.delivery")

BATCH = 20  # deliveries claimed per pass and worker
BACKOFF_CAP_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Attempt:
    status_code: int | None
    error: str

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def backoff_seconds(attempts: int) -> float:
    """How long after its `attempts`-th failed attempt a delivery is tried again."""
    base = float(settings.ALERT_WEBHOOK_RETRY_SECONDS)
    return float(min(BACKOFF_CAP_SECONDS, base * 2 ** max(0, attempts - 1)))


def _claim(now: dt.datetime) -> list[WebhookDelivery]:
    lease = dt.timedelta(seconds=float(settings.ALERT_WEBHOOK_TIMEOUT_SECONDS) * 2 + 5)
    due = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, lease_until__lt=now
    )
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(due)
            .order_by("next_attempt_at", "id")
            .values_list("id", flat=True)[:BATCH]
        )
        if not ids:
            return []
        # Each row again with the condition, so a database without row locks (SQLite: `make run`)
        # still hands one delivery to one claimer: its writes are serialised, and the second finds it taken.
        claimed = [
            pk
            for pk in ids
            if WebhookDelivery.objects.filter(due, pk=pk).update(
                status=DeliveryStatus.SENDING, lease_until=now + lease, attempts=F("attempts") + 1
            )
        ]
        return list(WebhookDelivery.objects.filter(id__in=claimed).select_related("webhook").order_by("id"))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer that is not 2xx (retried), never followed: the body goes to the authored URL only."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def delivery_send(delivery: WebhookDelivery) -> Attempt:
    """POST the stored body, signed; what the receiver said (no exception escapes)."""
    if not delivery.webhook.url.startswith(("http://", "https://")):  # the model's constraint, checked again
        return Attempt(None, "the webhook URL is not http:// or https://")
    body = delivery.body.encode()
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        delivery.webhook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "model-dispatch-service-alerts/1",
            "X-MDS-Event": delivery.event,
            "X-MDS-Delivery": str(delivery.pk),
            SIGNATURE_HEADER: body_sign(secret=delivery.webhook.secret, body=body),
        },
    )
    try:
        with _opener.open(request, timeout=float(settings.ALERT_WEBHOOK_TIMEOUT_SECONDS)) as response:
            return Attempt(response.status, "")
    except urllib.error.HTTPError as exc:
        return Attempt(exc.code, f"HTTP {exc.code} {exc.reason}"[:500])
    except (OSError, ValueError) as exc:  # refused, timed out, DNS, a malformed URL
        return Attempt(None, f"{type(exc).__name__}: {exc}"[:500])


def _record(delivery: WebhookDelivery, attempt: Attempt) -> None:
    now = timezone.now()
    fields: dict[str, object] = {
        "last_status_code": attempt.status_code,
        "last_error": attempt.error,
        "lease_until": None,
    }
    if attempt.delivered:
        fields |= {"status": DeliveryStatus.DELIVERED, "delivered_at": now}
    elif delivery.attempts >= int(settings.ALERT_WEBHOOK_MAX_ATTEMPTS):
        fields |= {"status": DeliveryStatus.FAILED}
    else:
        fields |= {
            "status": DeliveryStatus.PENDING,
            "next_attempt_at": now + dt.timedelta(seconds=backoff_seconds(delivery.attempts)),
        }
    WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING, attempts=delivery.attempts).update(
        **fields
    )


def deliveries_send_due() -> int:
    """Claim the deliveries that are due and send each once; how many were attempted."""
    claimed = _claim(timezone.now())
    for delivery in claimed:
        attempt = delivery_send(delivery)
        if not attempt.delivered:
            logger.warning(
                "webhook delivery %s (%s) attempt %d failed: %s",
                delivery.pk,
                delivery.event,
                delivery.attempts,
                attempt.error,
            )
        _record(delivery, attempt)
    return len(claimed)
