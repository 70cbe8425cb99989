"""The authoring version stamp that tells every worker when to rebuild its snapshot.

PostgreSQL is the source of truth: `SnapshotStamp.version` moves in the same transaction as any
authoring change. When Redis is configured, the committed version is also mirrored there, and a
worker's frequent check is one Redis GET instead of a SQL round trip. Rules that keep it right:

- Mirror writes only ever raise the value (a late writer cannot move it back), after commit.
- Every SNAPSHOT_DB_CHECK_INTERVAL seconds a worker reads PostgreSQL anyway and overwrites a
  mirror that disagrees (a lost write, a flushed Redis, a restored database).
- Redis missing or failing: read PostgreSQL, and leave Redis alone for a few seconds.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from policies.models import SnapshotStamp

logger = logging.getLogger("dispatch.snapshot")

STAMP_KEY = "snapshot-stamp"
REDIS_BACKOFF_SECONDS = 5.0
# SET the key to ARGV[1] only when that is higher than what it holds (or it holds nothing).
_RAISE_TO = (
    "local held = tonumber(redis.call('GET', KEYS[1]) or '-1') "
    "if tonumber(ARGV[1]) > held then redis.call('SET', KEYS[1], ARGV[1]) end return 1"
)
_state: dict[str, float] = {"db_checked_at": float("-inf"), "redis_down_until": 0.0}


def stamp_version() -> int:
    """The committed version, from PostgreSQL."""
    version = SnapshotStamp.objects.filter(pk=1).values_list("version", flat=True).first()
    return int(version or 0)


def _client() -> Any | None:
    """The raw Redis client of the default cache, when the stamp is mirrored and Redis is not backing off."""
    if not settings.SNAPSHOT_STAMP_IN_REDIS or time.monotonic() < _state["redis_down_until"]:
        return None
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def _redis_failed(exc: Exception) -> None:
    _state["redis_down_until"] = time.monotonic() + REDIS_BACKOFF_SECONDS
    logger.warning("snapshot stamp: Redis unavailable (%s); reading PostgreSQL for %.0f s", exc, REDIS_BACKOFF_SECONDS)


def stamp_publish(version: int) -> None:
    """Raise the Redis mirror to `version` (call after commit)."""
    client = _client()
    if client is None:
        return
    try:
        client.eval(_RAISE_TO, 1, cache.make_key(STAMP_KEY), version)
    except (RedisError, OSError) as exc:
        _redis_failed(exc)


def stamp_read() -> int:
    """The version a worker compares its snapshot with: the Redis mirror when there is one."""
    client = _client()
    if client is None:
        return stamp_version()
    key = cache.make_key(STAMP_KEY)
    now = time.monotonic()
    try:
        if now - _state["db_checked_at"] >= settings.SNAPSHOT_DB_CHECK_INTERVAL:
            _state["db_checked_at"] = now
            version = stamp_version()
            if client.get(key) != str(version).encode():
                client.set(key, version)  # the database wins
            return version
        raw = client.get(key)
        if raw is None:
            version = stamp_version()
            client.eval(_RAISE_TO, 1, key, version)
            return version
        return int(raw)
    except (RedisError, OSError, ValueError) as exc:
        _redis_failed(exc)
        return stamp_version()


def stamp_reset() -> None:
    """Forget the backstop and backoff clocks (tests)."""
    _state.update(db_checked_at=float("-inf"), redis_down_until=0.0)
