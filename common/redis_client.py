"""The one Redis client of the process, and its one back-off.

Everything that talks to Redis directly (the shared counters, the snapshot stamp's mirror, the
shared snapshot rows) asks `redis_client()` for the default cache's connection (one pool, built
from REDIS_URL, so its credentials reach them all). What must stay true:

- Redis is a cache and a counter, never a source of truth: a caller that gets None (Redis not
  configured, or backing off) carries on without it (per-process counts, PostgreSQL reads).
- When a call fails, the caller reports it (`redis_failed`): every caller then leaves Redis alone
  for RATE_LIMIT_REDIS_RETRY seconds (5 by default), so an outage costs one timeout per process,
  not one per request and per subsystem.
- Each subsystem (a `RedisUser`: its logger and what it does without Redis) warns once per
  outage, whichever of them met the failure first.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from redis.exceptions import RedisError

# What a failed Redis call raises (a refused or timed-out connection is an OSError).
REDIS_ERRORS = (RedisError, OSError)


@dataclass
class Backoff:
    """The one back-off: no user calls Redis before `until` (monotonic seconds)."""

    until: float = 0.0
    outage: int = 0  # outages seen by this process (each user warns once per outage)
    error: str = ""  # the failure that started the current one


BACKOFF = Backoff()  # hot paths read `BACKOFF.until` before a call they skip when it is passed
_state: dict[str, Any] = {"client": None, "url": ""}


class RedisUser:
    """One subsystem using Redis: how it says that it carries on without it."""

    def __init__(self, logger: str, without: str) -> None:
        self.logger = logging.getLogger(logger)
        self.without = without  # e.g. "rate limits fall back to per-process counts"
        self._warned_outage = 0

    def client(self) -> Any | None:
        """The Redis client, or None when Redis is not configured or the process is backing off."""
        url = getattr(settings, "REDIS_URL", "")
        if not url:
            return None
        if time.monotonic() < BACKOFF.until:
            self._warn()
            return None
        client = _state["client"]
        if client is None or _state["url"] != url:  # tests point REDIS_URL elsewhere
            from django_redis import get_redis_connection

            client = _state["client"] = get_redis_connection("default")
            _state["url"] = url
        return client

    def failed(self, exc: Exception) -> None:
        """A call to Redis failed: start (or extend) the back-off every subsystem honours."""
        now = time.monotonic()
        if now >= BACKOFF.until:
            BACKOFF.outage += 1
            BACKOFF.error = str(exc)
        BACKOFF.until = now + retry_seconds()
        self._warn()

    def _warn(self) -> None:
        if self._warned_outage != BACKOFF.outage:
            self._warned_outage = BACKOFF.outage
            self.logger.warning("Redis unavailable (%s): %s for %.0f s", BACKOFF.error, self.without, retry_seconds())


def retry_seconds() -> float:
    return float(getattr(settings, "RATE_LIMIT_REDIS_RETRY", 5.0))


def redis_reset() -> None:
    """Forget the back-off and the cached client (tests change REDIS_URL between tests)."""
    _state.update(client=None, url="")
    BACKOFF.until = 0.0
