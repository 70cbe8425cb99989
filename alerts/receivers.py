"""What raises alerts: receivers of the runtime's signals (the runtime never imports this app).

- `providers.signals.provider_health_changed`: into cooling down -> `provider.cooling_down`; from
  cooling down or probing back to healthy -> `provider.recovered`. Other transitions raise nothing
  (and cost no query).
- `audit.signals.client_budget_crossed`: 80 % -> `budget.80_percent`, 100 % -> `budget.exhausted`
  (the audit trail sends each once per client and period).
Both run in the sender's transaction, so the deliveries commit with what they report. A budget
alert that cannot be stored fails the outcome report with it (its transaction also marks the alert
raised, so the two stay together); a provider alert that cannot be stored is logged and dropped in
its own savepoint, so a health transition never fails because of an alert.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, transaction

from alerts.models import AlertEvent
from alerts.services import alert_raise
from audit.signals import client_budget_crossed
from providers.signals import provider_health_changed

HEALTHY, COOLING_DOWN = "healthy", "cooling_down"
logger = logging.getLogger("alerts")


def provider_health_alert(
    sender: Any,
    *,
    provider_id: Any,
    provider_slug: str,
    state: str,
    previous: str,
    at: dt.datetime,
    details: dict[str, Any] | None = None,
    **kwargs: Any,
) -> int:
    if state == COOLING_DOWN and previous != COOLING_DOWN:
        event = AlertEvent.PROVIDER_COOLING_DOWN
    elif state == HEALTHY and previous != HEALTHY:
        event = AlertEvent.PROVIDER_RECOVERED
    else:
        return 0
    try:
        with transaction.atomic():  # a savepoint inside the sender's transaction
            return alert_raise(
                event=event,
                subject=provider_slug,
                at=at,
                details={"provider_id": str(provider_id), "state": state, "previous": previous, **(details or {})},
            )
    except DatabaseError:
        logger.exception("could not store the %s alert for provider %s", event, provider_slug)
        return 0


def budget_alert(
    sender: Any,
    *,
    client_ref: str,
    threshold: int,
    period: str,
    period_start: dt.date,
    limit: Decimal,
    spent: Decimal,
    at: dt.datetime,
    **kwargs: Any,
) -> int:
    event = AlertEvent.BUDGET_EXHAUSTED if threshold >= 100 else AlertEvent.BUDGET_80_PERCENT
    return alert_raise(
        event=event,
        subject=client_ref,
        at=at,
        details={
            "client": client_ref,
            "threshold_percent": threshold,
            "period": period,
            "period_start": period_start.isoformat(),
            "limit": float(limit),
            "spent": float(spent),
        },
    )


def connect() -> None:
    provider_health_changed.connect(provider_health_alert, dispatch_uid="alerts.provider_health")
    client_budget_crossed.connect(budget_alert, dispatch_uid="alerts.budget")
