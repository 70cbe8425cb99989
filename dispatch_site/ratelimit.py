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

Without REDIS_URL the counts are per process (each gunicorn worker has its own). When Redis is
configured but fails, the counters fall back to per-process counts for `RATE_LIMIT_REDIS_RETRY`
seconds (a warning is logged once per outage) and then try Redis again: limits degrade, requests
keep being served. Nothing here decides compliance, so nothing here can make dispatch fail open.
Scripts touch several keys, so they need one Redis (or keys in one hash slot); Redis Cluster is
not supported.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

logger = logging.getLogger("dispatch.ratelimit")

# The steps the scripts are made of, as Lua functions (one copy of each rule):
# hit: increment `key`, starting its window (`window` ms) on the first hit; returns count, ms left.
# grant: add up to `want` to `key` without passing `limit` (a window of `window` ms starts with
# the first grant); returns how many were granted (0 at the limit) and the window's ms left.
_STEPS = """
local function hit(key, window)
  local count = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, window)
    ttl = tonumber(window)
  end
  return count, ttl
end
local function grant(key, limit, window, want)
  local used = tonumber(redis.call('GET', key) or '0')
  local n = math.min(tonumber(want), tonumber(limit) - used)
  if n <= 0 then
    return 0, redis.call('PTTL', key)
  end
  redis.call('INCRBY', key, n)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, window)
    ttl = tonumber(window)
  end
  return n, ttl
end
"""
# KEYS[1] window ARGV[1] ms -> {count, ms left}
_HIT = _STEPS + "local count, ttl = hit(KEYS[1], ARGV[1])\nreturn {count, ttl}\n"
# One round trip for a dispatch: grant a client's slots (KEYS[1]; limit ARGV[1], window ARGV[2] ms,
# want ARGV[3], 0 = none) and, unless the client is at its rate, a provider's request slots
# (KEYS[2]; max ARGV[4], window ARGV[6] ms, want ARGV[7], 0 = none) while its reported tokens
# (KEYS[3]) are under ARGV[5]. -> {client granted, client ms left, provider granted, provider ms left}
_LEASE = (
    _STEPS
    + """local client, client_ttl = 0, 0
if tonumber(ARGV[3]) > 0 then
  client, client_ttl = grant(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
  if client == 0 then
    return {0, client_ttl, 0, 0}
  end
end
local provider, provider_ttl = 0, 0
if tonumber(ARGV[7]) > 0 and tonumber(redis.call('GET', KEYS[3]) or '0') < tonumber(ARGV[5]) then
  provider, provider_ttl = grant(KEYS[2], ARGV[4], ARGV[6], ARGV[7])
end
return {client, client_ttl, provider, provider_ttl}
"""
)

# Add ARGV[1] to KEYS[1], starting its window (ARGV[2] ms) when it has none. Returns the total.
_ADD = """
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return total
"""


@dataclass(frozen=True, slots=True)
class Hit:
    count: int  # hits in the current window, this one included
    retry_after: int  # whole seconds until the window ends (at least 1)


class _LocalCounters:
    """The per-process fallback: same semantics as the scripts, guarded by one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (count, window end, monotonic)

    def _current(self, key: str, now: float) -> tuple[int, float] | None:
        entry = self._counts.get(key)
        if entry is None or entry[1] <= now:
            return None
        return entry

    def add(self, key: str, amount: int, period: float) -> tuple[int, float]:
        with self._lock:
            now = time.monotonic()
            if len(self._counts) > 10_000:  # bound memory: drop expired windows
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            count, ends = self._current(key, now) or (0, now + period)
            self._counts[key] = (count + amount, ends)
            return count + amount, ends - now

    def get(self, key: str) -> int:
        with self._lock:
            entry = self._current(key, time.monotonic())
            return entry[0] if entry else 0

    def take(self, requests_key: str, tokens_key: str, max_requests: int, max_tokens: int, period: float) -> bool:
        with self._lock:
            now = time.monotonic()
            requests = self._current(requests_key, now) or (0, now + period)
            tokens = self._current(tokens_key, now)
            if requests[0] >= max_requests or (tokens is not None and tokens[0] >= max_tokens):
                return False
            self._counts[requests_key] = (requests[0] + 1, requests[1])
            return True

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


_local = _LocalCounters()
_state: dict[str, Any] = {"down_until": 0.0, "scripts": None, "client": None, "generation": ""}


def _retry_seconds() -> float:
    return float(getattr(settings, "RATE_LIMIT_REDIS_RETRY", 5.0))


def _scripts() -> dict[str, Any] | None:
    """The registered Lua scripts on the default cache's Redis, or None (no Redis, or it is down)."""
    if not getattr(settings, "REDIS_URL", ""):
        return None
    if time.monotonic() < _state["down_until"]:
        return None
    if _state["scripts"] is None:
        from django_redis import get_redis_connection

        client = get_redis_connection("default")
        _state["client"] = client
        _state["scripts"] = {
            "hit": client.register_script(_HIT),
            "lease": client.register_script(_LEASE),
            "add": client.register_script(_ADD),
        }
    return _state["scripts"]


def _redis_failed(exc: Exception) -> None:
    if time.monotonic() >= _state["down_until"]:
        logger.warning(
            "Redis unavailable (%s): rate limits fall back to per-process counts for %.0f s", exc, _retry_seconds()
        )
    _state["down_until"] = time.monotonic() + _retry_seconds()


def _key(name: str) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "") or "mds"
    return f"{prefix}:rl{_state['generation']}:{name}"


def _run(script: str, keys: list[str], args: list[int]) -> Any:
    """Run a script on Redis; None when Redis is not configured or failed (then use local counts)."""
    scripts = _scripts()
    if scripts is None:
        return None
    from redis.exceptions import RedisError

    try:
        return scripts[script](keys=keys, args=args)
    except (RedisError, OSError) as exc:
        _redis_failed(exc)
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
        from redis.exceptions import RedisError

        try:
            value = _state["client"].get(key)
            return int(value or 0)
        except (RedisError, OSError) as exc:
            _redis_failed(exc)
    return _local.get(key)


def counter_add(name: str, amount: int, *, period: float) -> int:
    """Add `amount` to `name` (a window of `period` seconds starts when it has none); the new total."""
    key = _key(name)
    result = _run("add", [key], [int(amount), int(period * 1000)])
    if result is None:
        return _local.add(key, amount, period)[0]
    return int(result)


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


def counter_take(
    requests: str,
    tokens: str,
    *,
    max_requests: int,
    max_tokens: int,
    period: float,
    client: DeferredHit | None = None,
) -> bool:
    """Reserve one request on `requests` unless it has reached `max_requests` or `tokens` has
    reached `max_tokens`; True if reserved. With `client` (not yet counted), count it too, in the
    same round trip, and reserve nothing when it is over its rate (`client.over`)."""
    return _admit(client, _Reservation(requests, tokens, max_requests, max_tokens, period))


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
    provider_key = _key(provider.requests) if provider is not None else ""
    if client is not None and client.over:
        return False
    leased = bool(provider_key) and _leases.use(provider_key)
    ask_client = client if client_key else None
    ask_provider = None if leased else provider
    if ask_client is None and ask_provider is None:
        return True
    admitted = _admit_remotely(ask_client, client_key, ask_provider, provider_key)
    if admitted is None:  # no Redis, or it failed: this process's exact counts
        admitted = _admit_locally(ask_client, client_key, ask_provider, provider_key)
    if leased and client is not None and client.over:
        _leases.give_back(provider_key)  # taken from the lease above, not needed after all
    return admitted


def _admit_remotely(
    client: DeferredHit | None, client_key: str, provider: _Reservation | None, provider_key: str
) -> bool | None:
    """One script for what the leases could not cover (None when Redis is unavailable)."""
    if _scripts() is None:
        return None
    # Unused slots still name a key under our prefix: Redis checks every key a script declares
    # against the user's ACL key patterns (docker-compose's user may touch only its prefix).
    keys = [_key("-")] * 3
    args = [0, 0, 0, 0, 0, 0, 0]
    if client is not None:
        keys[0] = client_key
        args[0:3] = [client.limit, int(client.period * 1000), _leases.want(client_key, client.limit)]
    if provider is not None:
        keys[1:3] = [provider_key, _key(provider.tokens)]
        args[3:7] = [
            provider.max_requests,
            provider.max_tokens,
            int(provider.period * 1000),
            _leases.want(provider_key, provider.max_requests),
        ]
    result = _run("lease", keys, args)
    if result is None:
        return None
    client_granted, client_ms, provider_granted, provider_ms = (int(v) for v in result)
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
    return _local.take(provider_key, _key(provider.tokens), provider.max_requests, provider.max_tokens, provider.period)


def counters_reset() -> None:
    """Forget every count (tests): clears the local counts and moves Redis keys to a new namespace."""
    import uuid

    _local.clear()
    _leases.clear()
    _state["generation"] = f":{uuid.uuid4().hex[:12]}"
    _state["down_until"] = 0.0
    _state["scripts"] = None
