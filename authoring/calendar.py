"""The compliance calendar: data privacy agreements ending soon, and what their ending would cost.

For each agreement whose last day in force falls within the next `EXPIRING_WITHIN_DAYS` days
(today included), the contexts that would lose their last compliant provider when it ends: the
what-if engine (`authoring.coverage`) run on the first day it is no longer in force, comparing
the world with the agreement renewed (no expiry) against the world as authored. So two agreements
ending the same day each show what renewing that one would keep.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass

from authoring.coverage import CoverageLoss, coverage_losses, snapshot_on
from policies.engine import Snapshot
from providers.agreements import EXPIRING_WITHIN_DAYS
from providers.models import Agreement


@dataclass(frozen=True, slots=True)
class CalendarEntry:
    agreement_id: str
    reference: str
    provider_slug: str
    expires_on: datetime.date
    days_left: int  # 0: today is its last day
    losses: list[CoverageLoss]


def compliance_calendar(*, snapshot: Snapshot, today: datetime.date) -> list[CalendarEntry]:
    """Agreements ending within the window, soonest first, each with the coverage its end loses."""
    last = today + datetime.timedelta(days=EXPIRING_WITHIN_DAYS - 1)
    entries: list[CalendarEntry] = []
    for agreement in (
        Agreement.objects.filter(expires_on__gte=today, expires_on__lte=last, signed_on__lte=last)
        .select_related("provider")
        .order_by("expires_on", "reference")
    ):
        assert agreement.expires_on is not None
        ended = snapshot_on(snapshot, agreement.expires_on + datetime.timedelta(days=1))
        renewed = dataclasses.replace(
            ended,
            agreements=tuple(
                dataclasses.replace(a, expires_on=None) if a.reference == agreement.reference else a
                for a in ended.agreements
            ),
        )
        entries.append(
            CalendarEntry(
                agreement_id=str(agreement.pk),
                reference=agreement.reference,
                provider_slug=agreement.provider.slug,
                expires_on=agreement.expires_on,
                days_left=(agreement.expires_on - today).days,
                losses=coverage_losses(renewed, ended),
            )
        )
    return entries
