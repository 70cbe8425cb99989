"""Leased counter slots (common.counters.Leases) against a real Redis.

Each `Leases` table stands for one process: the tests switch the module's table between several,
as requests landing on several gunicorn workers would, and check the one promise that matters for
a limit shared by processes: never more than N pass, and no fewer than N minus what the other
tables still hold unused. Without REDIS_URL these skip on a laptop; CI always sets it.
"""

from __future__ import annotations

import time

import pytest

from common.counters import LEASE_FRACTION, DeferredHit, Leases, counter_get, counter_take
from common.counters import counting as ratelimit

REQUESTS, TOKENS = "provider:lease-test:requests", "provider:lease-test:tokens"
LEASE_SECONDS = 0.2  # RATE_LIMIT_LEASE_SECONDS where a test waits for a lease to run out
CLOCK_MARGIN = 0.05  # sleeps past a setting by this much: a lease's expiry is checked with a coarse clock


@pytest.fixture(autouse=True)
def redis_counters(require_redis):
    ratelimit.counters_reset()
    yield
    ratelimit.counters_reset()


def take(limit: int, *, tokens: int = 10**9) -> bool:
    return counter_take(REQUESTS, TOKENS, max_requests=limit, max_tokens=tokens, period=60)


def test_across_processes_at_most_n_pass_and_no_fewer_than_n_minus_their_unused_slots(monkeypatch):
    limit, processes = 1_000, 5
    tables = [Leases() for _ in range(processes)]
    passed = 0
    for n in range(3 * limit):
        monkeypatch.setattr(ratelimit, "_leases", tables[(n * 7) % processes])  # uneven turns
        passed += take(limit)
    cap = limit // LEASE_FRACTION
    assert limit - processes * (cap - 1) <= passed <= limit
    assert counter_get(REQUESTS) == limit  # every granted slot was counted in Redis before use


def test_limits_under_twice_the_lease_fraction_are_counted_one_request_at_a_time(monkeypatch):
    limit = 2 * LEASE_FRACTION - 1
    tables = [Leases(), Leases()]
    passed = []
    for n in range(limit + 20):
        monkeypatch.setattr(ratelimit, "_leases", tables[n % 2])
        passed.append(take(limit))
        assert counter_get(REQUESTS) == min(n + 1, limit)  # one slot per request: exact
    assert passed.count(True) == limit


def test_a_busy_process_asks_redis_once_per_lease_not_once_per_request():
    ratelimit._leases = Leases()
    for _ in range(40):
        assert take(100_000)
    # Leases of 1, 2, 4, 8, 16, 32 slots cover 63 requests: 40 took 6 grants, 63 slots counted.
    assert counter_get(REQUESTS) == 63


def test_a_lease_lives_briefly_so_tokens_reported_past_the_limit_are_seen(settings):
    settings.RATE_LIMIT_LEASE_SECONDS = LEASE_SECONDS
    ratelimit._leases = Leases()
    for _ in range(10):
        assert take(100_000, tokens=1_000)
    ratelimit.counter_add(TOKENS, 1_000, period=60)  # an outcome reported the minute's tokens
    time.sleep(LEASE_SECONDS + CLOCK_MARGIN)
    # The live lease ran out of time: Redis says no.
    assert not take(100_000, tokens=1_000), "a lease outlived RATE_LIMIT_LEASE_SECONDS"


def test_a_client_over_its_rate_reserves_nothing_and_hands_back_a_leased_provider_slot():
    ratelimit._leases = Leases()
    outcomes, client = [], None
    for _ in range(5):  # the client's rate is 4 (counted one at a time); the provider's lease grows
        client = DeferredHit("client:lease-test", limit=4, period=60)
        reserved = counter_take(REQUESTS, TOKENS, max_requests=100_000, max_tokens=10**9, period=60, client=client)
        outcomes.append((client.admitted, reserved))
    assert outcomes == [(True, True)] * 4 + [(False, False)]
    assert client is not None and client.over and 1 <= client.retry_after <= 60
    assert counter_get(REQUESTS) == 7  # provider leases of 1, 2 and 4 slots
    for _ in range(3):  # the slot the refused request had taken came back: three are left in the lease
        assert take(100_000)
    assert counter_get(REQUESTS) == 7
