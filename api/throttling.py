"""Per-client rate limits: a DRF throttle over an atomic shared counter (see common.counters).

The rate is the client's own (`ApiClient.rate`, set in admin) or API_CLIENT_DEFAULT_RATE. With
Redis (REDIS_URL) the count is shared by every worker and instance and exact (one Lua script
per request, no read-then-write race); without it each process counts on its own.
Requests from staff sessions and unauthenticated requests (401 before this runs) are not counted.

A view with `defers_client_hit = True` (POST /dispatch) has its request counted later, in the
same Redis round trip as the provider reservation: the throttle attaches a `DeferredHit` to the
request (`client_hit(request)`), dispatch counts it and answers 429 when it is over the rate, and
`client_hit_settle` counts whatever a request ended without counting (a 400, a 403), so every
request is counted exactly once, as with the throttle.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from clients.keys import ClientPrincipal
from clients.rates import RateError, rate_parse
from common.counters import DeferredHit, counter_hit

_ATTRIBUTE = "deferred_client_hit"


class ClientRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        user = request.user
        if not isinstance(user, ClientPrincipal):
            return True
        try:
            limit, period = rate_parse(user.rate or settings.API_CLIENT_DEFAULT_RATE)
        except RateError:
            limit, period = rate_parse(settings.API_CLIENT_DEFAULT_RATE)
        if getattr(view, "defers_client_hit", False):
            setattr(request, _ATTRIBUTE, DeferredHit(f"client:{user.id}", limit=limit, period=period))
            return True
        hit = counter_hit(f"client:{user.id}", period=period)
        if hit.count <= limit:
            return True
        self._wait = hit.retry_after
        return False

    def wait(self) -> float | None:
        return self._wait


def client_hit(request: Request) -> DeferredHit | None:
    """The request's deferred count (a view with `defers_client_hit`, an API client), else None."""
    deferred: DeferredHit | None = getattr(request, _ATTRIBUTE, None)
    return deferred


def client_hit_settle(request: Request) -> None:
    """Count the request now if it ended before dispatch counted it (bad input, missing scope)."""
    deferred = client_hit(request)
    if deferred is not None:
        deferred.settle()
