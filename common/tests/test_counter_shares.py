"""Shared budgets (common.counters.counter_add_share): one member cannot use up the others'.

A member's reports charge the budget only up to its share; a member past its share is refused
reservations on the budget, and the others are not. Run against a real Redis (the lease script and
the share script) and against the per-process fallback, which must mean the same.
"""

from __future__ import annotations

import time

import pytest

from common.counters import Leases, counter_add_share, counter_get, counter_take
from common.counters import counting as ratelimit

REQUESTS, TOKENS = "provider:share-test:requests", "provider:share-test:tokens"
LIMIT, SHARE = 1_000, 500
LEASE_SECONDS = 0.2  # RATE_LIMIT_LEASE_SECONDS where a test waits for a lease to run out
# A budget's window where a test waits for it to end: long enough that the checks made inside it
# come before its end on a busy machine.
WINDOW_SECONDS = 1.0
CLOCK_MARGIN = 0.05  # sleeps past a lease or window by this much: expiry is checked with a coarse clock


@pytest.fixture(params=["redis", "per-process"])
def backend(request, settings):
    if request.param == "redis":
        request.getfixturevalue("require_redis")
    else:
        settings.REDIS_URL = ""  # what a worker does without Redis (or while it is down)
    ratelimit.counters_reset()
    yield request.param
    ratelimit.counters_reset()


@pytest.fixture
def redis_backend(require_redis):
    ratelimit.counters_reset()
    yield
    ratelimit.counters_reset()


def take(member: str, *, requests: int = 150) -> bool:
    """Reserve a request; limits under 200 are counted one at a time (no lease hides the tokens)."""
    return counter_take(REQUESTS, TOKENS, max_requests=requests, max_tokens=LIMIT, period=60, member=member)


def report(member: str, tokens: int) -> ratelimit.ShareAdd:
    return counter_add_share(TOKENS, tokens, member=member, share=SHARE, period=60)


def test_a_member_charges_the_budget_only_up_to_its_share(backend):
    assert report("a", 300) == ratelimit.ShareAdd(total=300, reported=300)
    assert report("a", 10_000_000) == ratelimit.ShareAdd(total=SHARE, reported=10_000_300)
    assert report("a", 5) == ratelimit.ShareAdd(total=SHARE, reported=10_000_305)  # past it: nothing more
    assert counter_get(TOKENS) == SHARE
    assert report("b", 200).total == SHARE + 200  # the others keep the rest of the budget


def test_a_member_past_its_share_is_refused_and_the_others_are_not(backend):
    assert take("a") and take("b")
    report("a", SHARE)  # exactly its share
    assert not take("a")
    ratelimit._past_share.clear()  # what this worker noted expires; the budget's own record still says so
    assert not take("a")
    assert take("b") and take("")
    report("b", SHARE)  # both at their share: the budget is used up, for everyone
    assert counter_get(TOKENS) == LIMIT
    assert not take("c") and not take("")


def test_a_worker_that_did_not_see_the_report_learns_it_from_redis(redis_backend):
    report("a", SHARE)
    ratelimit._past_share.clear()  # this worker made no report: it knows nothing yet
    ratelimit._leases = Leases()
    assert not take("a")  # the lease script refuses the member past its share ...
    assert ratelimit._past_share.holds(ratelimit._key(TOKENS), "a")  # ... and tells the worker who is
    assert take("b")


def test_a_worker_serving_from_its_leases_refuses_a_member_within_a_lease_life(redis_backend, settings):
    settings.RATE_LIMIT_LEASE_SECONDS = LEASE_SECONDS
    ratelimit._leases = Leases()
    for _ in range(20):  # this worker's lease of the provider's requests grows past a few slots
        assert take("b", requests=100_000)
    report("a", SHARE)
    ratelimit._past_share.clear()  # the report was made by another worker
    time.sleep(LEASE_SECONDS + CLOCK_MARGIN)  # the longest a lease (and what the worker learned with it) lives
    assert take("b", requests=100_000)  # the refill, whoever asks, brings back who is past their share
    requests_before = counter_get(REQUESTS)
    assert not take("a", requests=100_000)  # refused from what the worker learned, without using a slot
    assert counter_get(REQUESTS) == requests_before


def test_the_share_ends_with_the_budgets_window(backend):
    assert counter_add_share(TOKENS, SHARE, member="a", share=SHARE, period=WINDOW_SECONDS).total == SHARE
    assert not counter_take(REQUESTS, TOKENS, max_requests=10, max_tokens=LIMIT, period=60, member="a")
    time.sleep(WINDOW_SECONDS + CLOCK_MARGIN)
    ratelimit._past_share.clear()  # (what a worker learned lives at most RATE_LIMIT_LEASE_SECONDS)
    assert counter_take(REQUESTS, TOKENS, max_requests=10, max_tokens=LIMIT, period=60, member="a"), (
        f"the share outlived its budget's {WINDOW_SECONDS} s window"
    )
    assert report("a", 1) == ratelimit.ShareAdd(total=1, reported=1)
