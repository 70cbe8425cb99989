"""Atomic windowed counters shared by every worker: Redis when REDIS_URL is set, else per process.

Used by the per-client API throttle, the per-provider limits of dispatch and the admin login
throttle. Each Redis operation is ONE round trip (a Lua script), so the check and the increment
cannot interleave across gunicorn workers and instances.

A window starts with its first hit and lasts `period` seconds (the key's expiry), so "N per
minute" means at most N in the minute after the first, whichever worker serves them.

Dispatch's counts (the client's request and the provider's reservation) are taken from leases
(`Leases`): a worker asks Redis for a few slots of a large limit at once, in the one script that
also serves the other count, and uses them without a round trip until they run out or expire
(RATE_LIMIT_LEASE_SECONDS, 1 s). Slots are counted in Redis when granted, so at most N pass across
all workers; slots a worker holds unused are the only shortfall, kept small (a lease is at most
1 % of the limit and 64 slots, grows only while it is used up, and limits under 200 are counted
one request at a time: exact). A warm dispatch at high limits therefore usually needs no Redis
round trip at all (measured: make bench; a round trip cost ~10 % of dispatch throughput on 2
busy cores).

A budget can be shared (`counter_add_share`): each member (an API client) charges it only up to its
own share, so one member cannot use up the budget of the others. Members past their share are kept
in a set with the budget's window; a reservation for such a member is refused, for that member
only: by the script that grants leases (which also returns the set, so a worker learns it), and
from a worker's own leases by what the worker last learned (at most RATE_LIMIT_LEASE_SECONDS old).

Without REDIS_URL the counts are per process (each gunicorn worker has its own). When Redis is
configured but fails, the counters fall back to per-process counts (`common.counters.local`) for
`RATE_LIMIT_REDIS_RETRY` seconds (the back-off of `common.redis_client`; a warning is logged once
per outage) and then try Redis again: limits degrade, requests keep being served. Nothing here
decides compliance, so nothing here can make dispatch fail open. The scripts are in
`common.counters.scripts`.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from common.counters.local import LocalCounters
from common.counters.scripts import ADD, HIT, LEASE, SHARE_ADD
from common.redis_client import BACKOFF, REDIS_ERRORS, RedisUser, redis_reset

_redis = RedisUser("dispatch.ratelimit", "rate limits fall back to per-process counts")


@dataclass(frozen=True, slots=True)
class Hit:
    count: int  # hits in the current window, this one included
    retry_after: int  # whole seconds until the window ends (at least 1)


_local = LocalCounters()
_state: dict[str, Any] = {"scripts": None, "client": None, "url": "", "generation": ""}


def _scripts() -> dict[str, Any] | None:
    """The registered Lua scripts on the default cache's Redis, or None (no Redis, or it is down)."""
    if _state["scripts"] is not None and time.monotonic() >= BACKOFF.until and _state["url"] == settings.REDIS_URL:
        return _state["scripts"]  # the warm path: registered, and Redis is not backing off
    client = _redis.client()
    if client is None:
        return None
    if _state["client"] is not client:
        _state["client"] = client
        _state["url"] = settings.REDIS_URL
        _state["scripts"] = {
            "hit": client.register_script(HIT),
            "lease": client.register_script(LEASE),
            "add": client.register_script(ADD),
            "share_add": client.register_script(SHARE_ADD),
        }
    scripts: dict[str, Any] = _state["scripts"]
    return scripts


def _key(name: str) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "") or "mds"
    return f"{prefix}:rl{_state['generation']}:{name}"


def _run(script: str, keys: list[str], args: list[Any]) -> Any:
    """Run a script on Redis; None when Redis is not configured or failed (then use local counts)."""
    scripts = _scripts()
    if scripts is None:
        return None
    try:
        return scripts[script](keys=keys, args=args)
    except REDIS_ERRORS as exc:
        _redis.failed(exc)
        return None


def counter_hit(name: str, *, period: float) -> Hit:
    """Count one hit on `name` in its window of `period` seconds."""
    key = _key(name)
    result = _run("hit", [key], [int(period * 1000)])
    if result is None:
        count, left = _local.add(key, 1, period)
        return Hit(count, max(1, math.ceil(left)))
    return Hit(int(result[0]), max(1, math.ceil(int(result[1]) / 1000)))


def counter_get(name: str) -> int:
    """The current count of `name` (0 when its window has ended)."""
    key = _key(name)
    scripts = _scripts()
    if scripts is not None:
        try:
            value = _state["client"].get(key)
            return int(value or 0)
        except REDIS_ERRORS as exc:
            _redis.failed(exc)
    return _local.get(key)


def counter_add(name: str, amount: int, *, period: float) -> int:
    """Add `amount` to `name` (a window of `period` seconds starts when it has none); the new total."""
    key = _key(name)
    result = _run("add", [key], [int(amount), int(period * 1000)])
    if result is None:
        return _local.add(key, amount, period)[0]
    return int(result)


@dataclass(frozen=True, slots=True)
class ShareAdd:
    total: int  # what the budget is charged in its window, every member's share-capped part included
    reported: int  # what this member reported in the window (charged only up to its share)

    def past(self, share: int) -> bool:
        return self.reported >= share


def counter_add_share(name: str, amount: int, *, member: str, share: int, period: float) -> ShareAdd:
    """Add `member`'s `amount` to the shared budget `name`, charging it only up to `member`'s `share`
    in the window (`period` seconds, started by the first report); a member at its share is refused
    its reservations on the budget (`counter_take(member=...)`) for the rest of the window."""
    key = _key(name)
    result = _run("share_add", [key, f"{key}:by", f"{key}:over"], [member, int(amount), int(share), int(period * 1000)])
    if result is None:
        total, reported = _local.share_add(key, member, int(amount), int(share), period)
    else:
        total, reported = int(result[0]), int(result[1])
    added = ShareAdd(total, reported)
    if added.past(share):
        _past_share.note(key, member)  # this worker's own dispatches see it at once
    return added


class _PastShare:
    """The members this process knows to be past their share of a budget, per budget key: what the
    lease script last answered (replaced at each answer) plus the reports this process made. Kept at
    most RATE_LIMIT_LEASE_SECONDS, the longest a lease lives, so a worker serving a member from its
    own leases learns within that time that the member went past its share elsewhere."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, tuple[frozenset[str], float]] = {}

    def _life(self) -> float:
        return time.monotonic() + float(getattr(settings, "RATE_LIMIT_LEASE_SECONDS", 1.0))

    def __bool__(self) -> bool:
        return bool(self._by_key)  # the usual case: nobody is past a share, so dispatch checks nothing

    def holds(self, key: str, member: str) -> bool:
        entry = self._by_key.get(key)
        return bool(member) and entry is not None and entry[1] > time.monotonic() and member in entry[0]

    def learn(self, key: str, members: frozenset[str]) -> None:
        with self._lock:
            if len(self._by_key) > 10_000:
                self._by_key.clear()
            if members:
                self._by_key[key] = (members, self._life())
            else:
                self._by_key.pop(key, None)

    def note(self, key: str, member: str) -> None:
        with self._lock:
            entry = self._by_key.get(key)
            known = entry[0] if entry is not None and entry[1] > time.monotonic() else frozenset()
            self._by_key[key] = (known | {member}, self._life())

    def clear(self) -> None:
        with self._lock:
            self._by_key.clear()


_past_share = _PastShare()


class _Lease:
    __slots__ = ("expires", "remaining", "size")

    def __init__(self) -> None:
        self.remaining = 0  # slots granted by Redis and not used yet
        self.expires = 0.0  # monotonic: unused slots are dropped then
        self.size = 1  # how many to ask for next time


class Leases:
    """This process's leased slots, by counter key.

    A process asks Redis for several slots of a large limit at once and uses them without a round
    trip. Granted slots are counted in Redis before they are used, so across every process at most
    N pass; the price is that slots another process holds unused are not available to this one.
    To keep that small a lease is at most 1/LEASE_FRACTION of the limit (limits under
    2 x LEASE_FRACTION are counted one request at a time: exact), at most LEASE_MAX, starts at one
    slot, doubles only when the previous lease was used up and halves when one expired unused,
    and lives at most RATE_LIMIT_LEASE_SECONDS (and never past the window), so reported tokens are
    re-checked at least that often."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, _Lease] = {}

    def use(self, key: str) -> bool:
        """Use one slot of a live lease on `key`; False when there is none (ask Redis)."""
        with self._lock:
            lease = self._by_key.get(key)
            if lease is None or lease.remaining <= 0 or lease.expires <= time.monotonic():
                return False
            lease.remaining -= 1
            return True

    def give_back(self, key: str) -> None:
        """Return a slot taken by `use` that was not needed after all."""
        with self._lock:
            lease = self._by_key.get(key)
            if lease is not None and lease.expires > time.monotonic():
                lease.remaining += 1

    def want(self, key: str, limit: int) -> int:
        """How many slots of `key` to ask Redis for now."""
        cap = min(LEASE_MAX, max(1, limit // LEASE_FRACTION))
        with self._lock:
            if len(self._by_key) > 10_000:
                self._by_key.clear()
            lease = self._by_key.setdefault(key, _Lease())
            if lease.expires:  # adapt to this process's own pace on the key
                lease.size = lease.size * 2 if lease.remaining <= 0 else lease.size // 2
            lease.size = max(1, min(lease.size, cap))
            return lease.size

    def granted(self, key: str, granted: int, ms_left: int) -> None:
        """Record what Redis granted, one slot of which is used at once."""
        with self._lock:
            lease = self._by_key.setdefault(key, _Lease())
            lease.remaining = max(0, granted - 1)
            life = min(float(getattr(settings, "RATE_LIMIT_LEASE_SECONDS", 1.0)), max(0, ms_left) / 1000)
            lease.expires = time.monotonic() + life if granted else 0.0

    def clear(self) -> None:
        with self._lock:
            self._by_key.clear()


LEASE_FRACTION = 100
LEASE_MAX = 64
_leases = Leases()


class DeferredHit:
    """A client's request whose count is taken late: with the provider reservation that follows it
    (`counter_take(client=...)`), or on its own (`settle`) when there is none, from this process's lease
    of the client's rate when it holds one, else in that one Redis round trip.

    The API throttle creates one per request of a view that defers its count (POST /dispatch).
    Every request is counted once; `over` once the client's rate is used up."""

    __slots__ = ("admitted", "limit", "name", "period", "retry_after")

    def __init__(self, name: str, *, limit: int, period: float):
        self.name = name
        self.limit = limit
        self.period = period
        self.admitted: bool | None = None  # None: not counted yet
        self.retry_after = 1  # whole seconds until the client's window ends, when refused

    @property
    def over(self) -> bool:
        """Counted, and past the client's rate."""
        return self.admitted is False

    def settle(self) -> None:
        """Count the request now unless it has been counted."""
        if self.admitted is None:
            _admit(self, None)


@dataclass(frozen=True, slots=True)
class _Reservation:
    requests: str
    tokens: str
    max_requests: int
    max_tokens: int
    period: float
    member: str = ""  # who asks: refused while past its share of `tokens` (counter_add_share)


def counter_take(
    requests: str,
    tokens: str,
    *,
    max_requests: int,
    max_tokens: int,
    period: float,
    client: DeferredHit | None = None,
    member: str = "",
) -> bool:
    """Reserve one request on `requests` unless it has reached `max_requests`, `tokens` has reached
    `max_tokens`, or `member` is past its share of `tokens`; True if reserved. With `client` (not
    yet counted), count it too, in the same round trip, and reserve nothing when it is over its rate
    (`client.over`)."""
    return _admit(client, _Reservation(requests, tokens, max_requests, max_tokens, period, member))


def _admit(client: DeferredHit | None, provider: _Reservation | None) -> bool:
    """Count `client` (unless counted) and reserve `provider` (if any): from live leases when this
    process holds them, else in one script that also refills them. True when `provider` is reserved
    (or none was asked for) and the client is within its rate."""
    client_key = ""  # set while the client still has to be counted in Redis
    if client is not None and client.admitted is None:
        client_key = _key(client.name)
        if _leases.use(client_key):
            client.admitted = True
            client_key = ""
    if client is not None and client.over:
        return False
    past_share = (
        provider is not None and bool(_past_share) and _past_share.holds(_key(provider.tokens), provider.member)
    )
    if past_share:
        provider = None  # refused for this member, as if at its limit: no slot is used
    provider_key = _key(provider.requests) if provider is not None else ""
    leased = bool(provider_key) and _leases.use(provider_key)
    ask_client = client if client_key else None
    ask_provider = None if leased else provider
    if ask_client is None and ask_provider is None:
        return not past_share
    admitted = _admit_remotely(ask_client, client_key, ask_provider, provider_key)
    if admitted is None:  # no Redis, or it failed: this process's exact counts
        admitted = _admit_locally(ask_client, client_key, ask_provider, provider_key)
    if leased and client is not None and client.over:
        _leases.give_back(provider_key)  # taken from the lease above, not needed after all
    return admitted and not past_share


def _admit_remotely(
    client: DeferredHit | None, client_key: str, provider: _Reservation | None, provider_key: str
) -> bool | None:
    """One script for what the leases could not cover (None when Redis is unavailable)."""
    if _scripts() is None:
        return None
    # Unused slots still name a key under our prefix: Redis checks every key a script declares
    # against the user's ACL key patterns (docker-compose's user may touch only its prefix).
    keys = [_key("-")] * 4
    args: list[Any] = [0, 0, 0, 0, 0, 0, 0, ""]
    tokens_key = ""
    if client is not None:
        keys[0] = client_key
        args[0:3] = [client.limit, int(client.period * 1000), _leases.want(client_key, client.limit)]
    if provider is not None:
        tokens_key = _key(provider.tokens)
        keys[1:4] = [provider_key, tokens_key, f"{tokens_key}:over"]
        args[3:8] = [
            provider.max_requests,
            provider.max_tokens,
            int(provider.period * 1000),
            _leases.want(provider_key, provider.max_requests),
            provider.member,
        ]
    result = _run("lease", keys, args)
    if result is None:
        return None
    client_granted, client_ms, provider_granted, provider_ms = (int(v) for v in result[:4])
    if tokens_key and len(result) > 4:  # the provider was asked for: who is past their share now
        _past_share.learn(tokens_key, frozenset(m.decode() if isinstance(m, bytes) else str(m) for m in result[4]))
    if client is not None:
        client.admitted = client_granted > 0
        client.retry_after = max(1, math.ceil(client_ms / 1000))
        _leases.granted(client_key, client_granted, client_ms)
        if not client_granted:
            return False
    if provider is not None:
        _leases.granted(provider_key, provider_granted, provider_ms)
        return provider_granted > 0
    return True


def _admit_locally(
    client: DeferredHit | None, client_key: str, provider: _Reservation | None, provider_key: str
) -> bool:
    if client is not None:
        count, left = _local.add(client_key, 1, client.period)
        client.admitted = count <= client.limit
        client.retry_after = max(1, math.ceil(left))
        if not client.admitted:
            return False
    if provider is None:
        return True
    tokens_key = _key(provider.tokens)
    return _local.take(
        provider_key, tokens_key, provider.max_requests, provider.max_tokens, provider.period, provider.member
    )


def counters_reset() -> None:
    """Forget every count (tests): clears the local counts and moves Redis keys to a new namespace."""
    import uuid

    _local.clear()
    _leases.clear()
    _past_share.clear()
    _state["generation"] = f":{uuid.uuid4().hex[:12]}"
    _state.update(scripts=None, client=None, url="")
    redis_reset()
