"""Atomic windowed counters and leases shared by every worker (Redis when configured, else per
process): the API's per-client rate, the providers' limits and the admin login throttle count here.

`common.counters.counting` holds the rules (read its docstring first); `scripts` the Lua that
Redis runs, `local` the per-process fallback.
"""

from common.counters.counting import (
    LEASE_FRACTION,
    DeferredHit,
    Hit,
    Leases,
    ShareAdd,
    counter_add,
    counter_add_share,
    counter_get,
    counter_hit,
    counter_take,
    counters_reset,
)

__all__ = [
    "LEASE_FRACTION",
    "DeferredHit",
    "Hit",
    "Leases",
    "ShareAdd",
    "counter_add",
    "counter_add_share",
    "counter_get",
    "counter_hit",
    "counter_take",
    "counters_reset",
]
