"""Per-provider rate limits, enforced by dispatch: requests and tokens per minute.

`provider_take` reserves one request for a provider unless it has reached its
`requests_per_minute` or the tokens reported for it (`provider_tokens_add`, called when an
outcome is reported) have reached its `tokens_per_minute`, atomically across workers: from this
worker's lease of the provider's requests when it holds one, else in one Redis round trip that
grants the next lease (tokens are checked then; see dispatch_site.ratelimit). A provider that
cannot be reserved is "saturated": dispatch resolves again without it, so the next compliant
provider of the chain serves and the explanation says `rate_limited`. Windows start with their
first request and last 60 s.

Counts are shared across workers with Redis; without it (or while it is down) each process
counts alone, so the effective limit is up to (workers x limit). Limits only ever remove
providers from a decision, never add one: compliance does not depend on these counters.
"""

from __future__ import annotations

from dispatch_site.ratelimit import DeferredHit, counter_add, counter_get, counter_take

WINDOW_SECONDS = 60


def provider_take(
    *, provider_id: str, requests_per_minute: int, tokens_per_minute: int, client_hit: DeferredHit | None = None
) -> bool:
    """Reserve one request on the provider; False when it is at a limit (then it is passed over).

    With `client_hit` (the API client's request, not yet counted) both are done in one round trip;
    when that count puts the client over its rate the provider is not reserved (`client_hit.over`)."""
    return counter_take(
        f"provider:{provider_id}:requests",
        f"provider:{provider_id}:tokens",
        max_requests=requests_per_minute,
        max_tokens=tokens_per_minute,
        period=WINDOW_SECONDS,
        client=client_hit,
    )


def provider_tokens_add(*, provider_id: str, tokens: int) -> int:
    """Count `tokens` (input + output of a reported outcome) against the provider's minute; the new total."""
    if tokens <= 0:
        return counter_get(f"provider:{provider_id}:tokens")
    return counter_add(f"provider:{provider_id}:tokens", tokens, period=WINDOW_SECONDS)


def provider_usage(*, provider_id: str) -> dict[str, int]:
    """Requests and tokens counted in the provider's current window (for operators and tests)."""
    return {
        "requests": counter_get(f"provider:{provider_id}:requests"),
        "tokens": counter_get(f"provider:{provider_id}:tokens"),
    }
