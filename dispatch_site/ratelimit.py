"""Atomic windowed counters shared by every worker: Redis when REDIS_URL is set, else per process.

Used by the per-client API throttle, the per-provider limits of dispatch and the admin login
throttle. Each operation is ONE Redis round trip (a Lua script), so a limit of N is exact across
gunicorn workers and instances: the check and the increment cannot interleave.

A window starts with its first hit and lasts `period` seconds (the key's expiry), so "N per
minute" means at most N hits in the minute after the first, whichever worker serves them.

Without REDIS_URL the counts are per process (each gunicorn worker has its own). When Redis is
configured but fails, the counters fall back to per-process counts for `RATE_LIMIT_REDIS_RETRY`
seconds (a warning is logged once per outage) and then try Redis again: limits degrade, requests
keep being served. Nothing here decides compliance, so nothing here can make dispatch fail open.

A dispatch counts its client's request and reserves its provider in one script (`counter_hit_take`,
with the client's hit deferred from the throttle: `DeferredHit`). Scripts touch several keys, so
they need one Redis (or keys in one hash slot); Redis Cluster is not supported.
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

# The two steps every script is made of, as Lua functions (one copy of each rule):
# hit: increment `key`, starting its window (`window` ms) on the first hit; returns count, ms left.
# take: reserve one request on `requests` unless it has reached `max_requests` or `tokens` has
# reached `max_tokens`; returns 1 when reserved, 0 when at a limit.
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
local function take(requests, tokens, max_requests, max_tokens, window)
  local used = tonumber(redis.call('GET', requests) or '0')
  local spent = tonumber(redis.call('GET', tokens) or '0')
  if used >= tonumber(max_requests) or spent >= tonumber(max_tokens) then
    return 0
  end
  redis.call('INCR', requests)
  if redis.call('PTTL', requests) < 0 then
    redis.call('PEXPIRE', requests, window)
  end
  return 1
end
"""
# KEYS[1] window ARGV[1] ms -> {count, ms left}
_HIT = _STEPS + "local count, ttl = hit(KEYS[1], ARGV[1])\nreturn {count, ttl}\n"
# KEYS[1] requests, KEYS[2] tokens; ARGV max requests, max tokens, window ms -> 1 | 0
_TAKE = _STEPS + "return take(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])\n"
# A client's hit (KEYS[1], limit ARGV[1], window ARGV[2] ms) and, unless that hit is over its limit,
# a provider reservation (KEYS[2], KEYS[3]; ARGV[3..5] as for _TAKE), in ONE round trip.
# -> {count, ms left, 1 reserved | 0 provider at a limit | -1 not tried: the client is over}
_HIT_TAKE = (
    _STEPS
    + """local count, ttl = hit(KEYS[1], ARGV[2])
if count > tonumber(ARGV[1]) then
  return {count, ttl, -1}
end
return {count, ttl, take(KEYS[2], KEYS[3], ARGV[3], ARGV[4], ARGV[5])}
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
            "take": client.register_script(_TAKE),
            "hit_take": client.register_script(_HIT_TAKE),
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


def counter_take(requests: str, tokens: str, *, max_requests: int, max_tokens: int, period: float) -> bool:
    """Reserve one request on `requests` unless it or `tokens` has reached its maximum; True if reserved."""
    keys = [_key(requests), _key(tokens)]
    result = _run("take", keys, [max_requests, max_tokens, int(period * 1000)])
    if result is None:
        return _local.take(keys[0], keys[1], max_requests, max_tokens, period)
    return bool(result)


class DeferredHit:
    """A hit on a client's window that is counted late, in the same Redis round trip as the provider
    reservation that follows it (`counter_hit_take`), or on its own (`settle`) when there is none.

    The API throttle creates one per request of a view that defers its count (POST /dispatch):
    a dispatch then costs one Redis round trip instead of two. Every request is still counted once."""

    __slots__ = ("hit", "limit", "name", "period")

    def __init__(self, name: str, *, limit: int, period: float):
        self.name = name
        self.limit = limit
        self.period = period
        self.hit: Hit | None = None

    @property
    def over(self) -> bool:
        """Counted, and past the limit."""
        return self.hit is not None and self.hit.count > self.limit

    def settle(self) -> Hit:
        """Count the hit now unless it has been counted; the hit."""
        if self.hit is None:
            self.hit = counter_hit(self.name, period=self.period)
        return self.hit


def counter_hit_take(
    deferred: DeferredHit, requests: str, tokens: str, *, max_requests: int, max_tokens: int, period: float
) -> bool:
    """Count `deferred` and, unless that puts it over its limit, reserve as `counter_take` does;
    one round trip. True if reserved (False: at a provider limit, or `deferred.over`)."""
    if deferred.hit is not None:  # already counted: only the reservation is left
        return counter_take(requests, tokens, max_requests=max_requests, max_tokens=max_tokens, period=period)
    keys = [_key(deferred.name), _key(requests), _key(tokens)]
    args = [deferred.limit, int(deferred.period * 1000), max_requests, max_tokens, int(period * 1000)]
    result = _run("hit_take", keys, args)
    if result is None:
        count, left = _local.add(keys[0], 1, deferred.period)
        deferred.hit = Hit(count, max(1, math.ceil(left)))
        if deferred.over:
            return False
        return _local.take(keys[1], keys[2], max_requests, max_tokens, period)
    deferred.hit = Hit(int(result[0]), max(1, math.ceil(int(result[1]) / 1000)))
    return int(result[2]) == 1


def counters_reset() -> None:
    """Forget every count (tests): clears the local counts and moves Redis keys to a new namespace."""
    import uuid

    _local.clear()
    _state["generation"] = f":{uuid.uuid4().hex[:12]}"
    _state["down_until"] = 0.0
    _state["scripts"] = None
