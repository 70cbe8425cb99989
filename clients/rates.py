"""Rates written as N/period (6000/min). Imported by the throttle, so it imports no DRF views."""

from __future__ import annotations

import re

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
PERIODS |= {"d": 86400, "day": 86400}
_RATE = re.compile(r"^\s*(\d{1,9})\s*/\s*([a-z]+)\s*$")
RATE_HELP = "Use N/period, e.g. 6000/min (periods: s, min, hour, day)."


class RateError(ValueError):
    pass


def rate_parse(rate: str) -> tuple[int, int]:
    """'6000/min' -> (6000, 60)."""
    match = _RATE.match(rate.lower())
    if not match or match.group(2) not in PERIODS or int(match.group(1)) < 1:
        raise RateError(f"rate {rate!r} is not N/period with N >= 1 and period one of s, min, hour, day")
    return int(match.group(1)), PERIODS[match.group(2)]
