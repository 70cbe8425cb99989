"""Per-provider rate limits, enforced by dispatch: requests and tokens per minute.

`provider_take` reserves one request for a provider unless it has reached its
`requests_per_minute` or the tokens reported for it (`provider_tokens_add`, called when an
outcome is reported) have reached its `tokens_per_minute`, atomically across workers: from this
worker's lease of the provider's requests when it holds one, else in one Redis round trip that
grants the next lease (tokens are checked then; see common.counters). A provider that
cannot be reserved is "saturated": dispatch resolves again without it, so the next compliant
provider of the chain serves and the explanation says `rate_limited`. Windows start with their
first request and last 60 s.

Each client's reported tokens count against a provider's `tokens_per_minute` only up to its share
(`CLIENT_TOKEN_SHARE_PERCENT` of it, 50 % by default): one client cannot use up a provider for the
others. A client past its share is refused that provider for its own dispatches (`rate_limited`)
until the window ends; the others are not.

Counts are shared across workers with Redis; without it (or while it is down) each process
counts alone, so the effective limit is up to (workers x limit). Limits only ever remove
providers from a decision, never add one: compliance does not depend on these counters.
"""

from __future__ import annotations

import math

from django.conf import settings
from rest_framework import status

from common.counters import DeferredHit, ShareAdd, counter_add_share, counter_get, counter_take
from common.errors import DispatchError

WINDOW_SECONDS = 60


class ClientThrottled(DispatchError):
    """The API client is over its rate (counted with the dispatch's provider reservation); the same
    429 that the throttle answers for other endpoints."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = "throttled"

    def __init__(self, retry_after_seconds: int):
        unit = "second" if retry_after_seconds == 1 else "seconds"  # DRF's own wording
        super().__init__(f"Request was throttled. Expected available in {retry_after_seconds} {unit}.")
        self.retry_after_seconds = retry_after_seconds


def dispatch_admit(
    *,
    client_ref: str,
    client_hit: DeferredHit | None,
    provider_id: str = "",
    requests_per_minute: int = 0,
    tokens_per_minute: int = 0,
) -> bool:
    """What dispatch asks once it has a decision: count the API client's request and reserve the
    chosen provider (`provider_id`, "" for none) for `client_ref`, in one round trip.

    False when the provider is at a limit or the client past its share of it (pass it over and
    resolve again); ClientThrottled (429, nothing written) when the client is over its own rate."""
    reserved = not provider_id or provider_take(
        provider_id=provider_id,
        requests_per_minute=requests_per_minute,
        tokens_per_minute=tokens_per_minute,
        client_ref=client_ref,
        client_hit=client_hit,
    )
    if client_hit is not None:
        client_hit.settle()  # counted by that round trip unless there was none
        if client_hit.over:
            raise ClientThrottled(client_hit.retry_after)
    return reserved


def provider_take(
    *,
    provider_id: str,
    requests_per_minute: int,
    tokens_per_minute: int,
    client_ref: str,
    client_hit: DeferredHit | None = None,
) -> bool:
    """Reserve one request on the provider for `client_ref`; False when it is at a limit, or the
    client is past its share of the provider's tokens (then it is passed over for this client).

    With `client_hit` (the API client's request, not yet counted) both are done in one round trip;
    when that count puts the client over its rate the provider is not reserved (`client_hit.over`)."""
    return counter_take(
        f"provider:{provider_id}:requests",
        f"provider:{provider_id}:tokens",
        max_requests=requests_per_minute,
        max_tokens=tokens_per_minute,
        period=WINDOW_SECONDS,
        client=client_hit,
        member=client_ref,
    )


def client_token_share(*, tokens_per_minute: int) -> int:
    """The most of a provider's tokens per minute one client's reports may use (at least 1)."""
    return max(1, math.ceil(tokens_per_minute * settings.CLIENT_TOKEN_SHARE_PERCENT / 100))


def provider_tokens_add(*, provider_id: str, tokens: int, client_ref: str, tokens_per_minute: int) -> ShareAdd:
    """Count `tokens` (input + output of an outcome `client_ref` reported) against the provider's
    minute, up to the client's share; the provider's counted total and the client's own."""
    return counter_add_share(
        f"provider:{provider_id}:tokens",
        max(0, tokens),
        member=client_ref,
        share=client_token_share(tokens_per_minute=tokens_per_minute),
        period=WINDOW_SECONDS,
    )


def provider_usage(*, provider_id: str) -> dict[str, int]:
    """Requests and tokens counted in the provider's current window (for operators and tests)."""
    return {
        "requests": counter_get(f"provider:{provider_id}:requests"),
        "tokens": counter_get(f"provider:{provider_id}:tokens"),
    }
