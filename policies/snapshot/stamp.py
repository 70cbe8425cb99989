"""The authoring version stamp that tells every worker when to rebuild its snapshot.

PostgreSQL is the source of truth: `SnapshotStamp.version` moves in the same transaction as any
authoring change. When Redis is configured, the committed version is also mirrored there, and a
worker's frequent check is one Redis GET instead of a SQL round trip. The mirror is only a hint
of *when* to look: what a worker serves, and the version it serves it as, come from PostgreSQL
(`stamp_token`). Rules that keep it right, whoever writes to Redis:

- Mirror writes only ever raise the value (a late writer cannot move it back), after commit.
- A mirror that disagrees with the worker's snapshot makes the worker read PostgreSQL; if
  PostgreSQL still names the worker's snapshot, nothing is reloaded and the mirror is put right
  (a mirror ahead of PostgreSQL is counted: it is a forgery or a restored database).
- Every SNAPSHOT_DB_CHECK_INTERVAL seconds a worker reads PostgreSQL anyway, so a mirror held at
  an old value (lost write, forgery) delays a change by at most that interval.
- Corrections are compare-and-set: a correction never overwrites a newer value published
  meanwhile (the mirror is read before PostgreSQL, so a published value is never ahead of it).
- Redis missing or failing: read PostgreSQL, and leave Redis alone for a few seconds (the one
  back-off of `common.redis_client`).
"""

from __future__ import annotations

import logging
import time
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import cache

from common.redis_client import REDIS_ERRORS, RedisUser
from policies.models import SnapshotStamp
from policies.snapshot.instruments import STAMP_CORRECTED

logger = logging.getLogger("dispatch.snapshot")

STAMP_KEY = "snapshot-stamp"
_redis = RedisUser("dispatch.snapshot", "the snapshot stamp is read from PostgreSQL")
# SET the key to ARGV[1] only when that is higher than what it holds (or it holds nothing).
_RAISE_TO = (
    "local held = tonumber(redis.call('GET', KEYS[1]) or '-1') "
    "if tonumber(ARGV[1]) > held then redis.call('SET', KEYS[1], ARGV[1]) end return 1"
)
# SET the key to ARGV[2] only while it still holds the value read as ARGV[1] ('' = none or not a
# number); 1 when it was set.
_CORRECT = (
    "local held = tonumber(redis.call('GET', KEYS[1]) or '') "
    "if held == tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[2]) return 1 end return 0"
)
_state: dict[str, Any] = {"db_checked_at": float("-inf"), "ahead_logged": False}


class StampToken(NamedTuple):
    """The committed stamp as PostgreSQL holds it; `key` names the rows of exactly this state."""

    version: int
    key: str


def stamp_version() -> int:
    """The committed version, from PostgreSQL."""
    version = SnapshotStamp.objects.filter(pk=1).values_list("version", flat=True).first()
    return int(version or 0)


def stamp_token() -> StampToken:
    """(version, key) of the committed stamp, from PostgreSQL (one query).

    The key names the version and its `changed_at`, so rows built from one database can never be
    taken for another's (a restore, a flushed test database) even at the same version number.
    """
    row = SnapshotStamp.objects.filter(pk=1).values_list("version", "changed_at").first()
    if row is None:
        return StampToken(0, "0:none")
    return StampToken(int(row[0]), f"{row[0]}:{row[1].timestamp():.6f}")


def _client() -> Any | None:
    """The Redis client, when the stamp is mirrored and Redis is not backing off."""
    if not settings.SNAPSHOT_STAMP_IN_REDIS:
        return None
    return _redis.client()


def stamp_publish(version: int) -> None:
    """Raise the Redis mirror to `version` (call after commit)."""
    client = _client()
    if client is None:
        return
    try:
        client.eval(_RAISE_TO, 1, cache.make_key(STAMP_KEY), version)
    except REDIS_ERRORS as exc:
        _redis.failed(exc)


def stamp_read() -> tuple[int, StampToken | None]:
    """The version a worker compares its snapshot with, and PostgreSQL's token when this check
    read PostgreSQL (no mirror, Redis failing, an empty or unreadable mirror, or the periodic
    SNAPSHOT_DB_CHECK_INTERVAL check). Without a token the version is only the mirror's hint."""
    client = _client()
    if client is None:
        token = stamp_token()
        return token.version, token
    key = cache.make_key(STAMP_KEY)
    now = time.monotonic()
    try:
        raw = client.get(key)
        if raw is not None and now - _state["db_checked_at"] < settings.SNAPSHOT_DB_CHECK_INTERVAL:
            try:
                return int(raw), None
            except ValueError:
                pass  # not a version: ask PostgreSQL, which also rewrites it
        _state["db_checked_at"] = now
        token = stamp_token()
        _correct(client, key, seen=raw, version=token.version)
        return token.version, token
    except REDIS_ERRORS as exc:
        _redis.failed(exc)
        token = stamp_token()
        return token.version, token


def stamp_confirm(*, seen: int) -> StampToken:
    """PostgreSQL's token after the mirror said `seen`; a mirror that disagrees is corrected."""
    token = stamp_token()
    if token.version != seen:
        client = _client()
        if client is not None:
            try:
                _correct(client, cache.make_key(STAMP_KEY), seen=str(seen).encode(), version=token.version)
            except REDIS_ERRORS as exc:
                _redis.failed(exc)
    return token


def _correct(client: Any, key: str, *, seen: bytes | None, version: int) -> None:
    """Set the mirror to PostgreSQL's `version` if it still holds `seen` (the database wins).

    A mirror ahead of PostgreSQL is counted each time and logged once, until a PostgreSQL read
    finds the mirror agreeing again (a forger bumping it on every check is one warning)."""
    if seen == str(version).encode():
        _state["ahead_logged"] = False
        return
    corrected = client.eval(_CORRECT, 1, key, (seen or b"").decode(errors="replace"), version)
    try:
        ahead = seen is not None and int(seen) > version
    except ValueError:
        ahead = True  # not a version at all: only a writer other than ours puts that there
    if corrected and ahead:
        STAMP_CORRECTED.inc()
        if not _state["ahead_logged"]:
            _state["ahead_logged"] = True
            logger.warning(
                "snapshot stamp: the Redis mirror held %r, ahead of PostgreSQL's %d or not a version (forged, "
                "or a restored database); PostgreSQL's version is served and the mirror was corrected",
                seen,
                version,
            )


def stamp_reset() -> None:
    """Forget the backstop clock (tests; the Redis back-off is `common.redis_client.redis_reset`)."""
    _state.update(db_checked_at=float("-inf"), ahead_logged=False)
