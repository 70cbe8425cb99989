"""The service's clock: UTC wall time, as compliance and the snapshot's expiry read it.

One function to read it so tests can shift it for every worker at once
(`SERVICE_CLOCK_OFFSET_SECONDS`, refused under production) instead of waiting for a UTC midnight.
Intervals (timeouts, back-offs) keep using `time.monotonic()`; only dates come from here.
"""

from __future__ import annotations

import datetime
import time

from django.conf import settings


def service_time() -> float:
    """Seconds since the epoch, UTC, on the service's clock."""
    return time.time() + float(getattr(settings, "SERVICE_CLOCK_OFFSET_SECONDS", 0.0))


def service_now() -> datetime.datetime:
    return datetime.datetime.fromtimestamp(service_time(), tz=datetime.UTC)


def service_today() -> datetime.date:
    """Today's UTC date on the service's clock."""
    return service_now().date()


def utc_midnight(day: datetime.date) -> float:
    """Epoch seconds of 00:00 UTC on `day` (on the service's clock)."""
    return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC).timestamp()
