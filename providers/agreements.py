"""Where an agreement stands on a date: in force, expiring soon, expired, or not yet signed.

Dates are UTC dates; the caller passes today (the admin reads the service's clock). An agreement
is in force from `signed_on` through `expires_on`, both included; "expiring" is in force and
ending within `EXPIRING_WITHIN_DAYS` days (today included), so it is renewed before it lapses.
"""

from __future__ import annotations

import datetime

from django.db import models
from django.db.models import Q

EXPIRING_WITHIN_DAYS = 30


class AgreementStatus(models.TextChoices):
    IN_FORCE = "in_force", "In force"
    EXPIRING = "expiring", f"Expiring within {EXPIRING_WITHIN_DAYS} days"
    EXPIRED = "expired", "Expired"
    NOT_YET_SIGNED = "not_yet_signed", "Not yet signed"


def agreement_status(*, signed_on: datetime.date, expires_on: datetime.date | None, today: datetime.date) -> str:
    if today < signed_on:
        return AgreementStatus.NOT_YET_SIGNED
    if expires_on is not None and today > expires_on:
        return AgreementStatus.EXPIRED
    if expires_on is not None and (expires_on - today).days < EXPIRING_WITHIN_DAYS:
        return AgreementStatus.EXPIRING
    return AgreementStatus.IN_FORCE


def agreement_status_filter(status: str, *, today: datetime.date) -> Q:
    """The rows `agreement_status` puts in `status` on `today`, as a query."""
    soon = today + datetime.timedelta(days=EXPIRING_WITHIN_DAYS)
    signed = Q(signed_on__lte=today)
    if status == AgreementStatus.NOT_YET_SIGNED:
        return Q(signed_on__gt=today)
    if status == AgreementStatus.EXPIRED:
        return signed & Q(expires_on__lt=today)
    if status == AgreementStatus.EXPIRING:
        return signed & Q(expires_on__gte=today, expires_on__lt=soon)
    if status == AgreementStatus.IN_FORCE:
        return signed & (Q(expires_on__isnull=True) | Q(expires_on__gte=soon))
    return Q()


def agreement_covers_filter(region: str) -> Q:
    """Agreements covering `region`: those naming it and those covering every region (empty list)."""
    return Q(regions__icontains=f'"{region}"') | Q(regions=[])
