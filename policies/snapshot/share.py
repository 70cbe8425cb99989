"""One process builds a snapshot version, the others load its rows from Redis.

Every worker rebuilding from PostgreSQL at once multiplied the build by the number of workers on
a few cores (at 10,000 policies, seconds of staleness). With Redis configured, the first worker
to see a new version claims it (SET NX with an expiry, in case it dies), builds the rows and
stores them; the others keep serving their previous snapshot for a moment (never longer than
SNAPSHOT_DB_CHECK_INTERVAL, whatever the claim says: `policies.snapshot.cache._may_wait`) and then load the
rows (JSON, with orjson: ~10x the stdlib's speed on these 2 MB at 10,000 policies), which costs a
fraction of a build. A worker with no snapshot yet never waits.
The process that commits an authoring change builds and shares the rows before announcing the
new version (`policies.snapshot.invalidation`), so usually no serving worker builds at all.

The key names the stamp's version and its `changed_at`, read from PostgreSQL, so rows built
from one database can never be served for another (a restore, a flushed test database).

Redis is a cache, never a source of truth: whoever can write to it must not be able to change a
decision. So the stored value is the hex HMAC-SHA256(SNAPSHOT_SHARE_KEY, Redis key name + row
bytes) followed by the rows; the key never travels through Redis (it comes from settings), and the key
name binds the rows to the PostgreSQL stamp they were built at (rows of another version,
database or key prefix fail too). The MAC is checked with `hmac.compare_digest` before the rows
are parsed; rows that fail are ignored (the worker builds from PostgreSQL), counted in
/metrics (`dispatch_snapshot_share_rejected_total`) and logged as an ERROR once per key, until
rows verify again. Checking costs ~1 ms per MB, on a snapshot load only.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
from typing import Any, NamedTuple

import orjson
from django.conf import settings
from django.core.cache import cache

from common.redis_client import REDIS_ERRORS, RedisUser
from policies.snapshot.instruments import SHARE_REJECTED

logger = logging.getLogger("dispatch.snapshot")

SHARE_RETRY_SECONDS = 0.05  # how soon a worker waiting for another's build looks again
CLAIM_SECONDS = 10  # a claim expires, so a builder that died does not block the version
ROWS_SECONDS = 600  # shared rows outlive every worker's switch to them
_MAC_BYTES = 64  # hex SHA-256, then the rows
_redis = RedisUser("dispatch.snapshot", "snapshot sharing builds from PostgreSQL")
_rejected: dict[str, str | None] = {"logged": None}  # the key last logged as rejected


class Shared(NamedTuple):
    """What Redis held for a key: verified rows, or nothing, or something that failed the check."""

    rows: dict[str, list[Any]] | None
    rejected: bool = False


def share_key() -> bytes:
    """The HMAC key: SNAPSHOT_SHARE_KEY, or derived from SECRET_KEY under a label of its own."""
    return _derive_key(settings.SNAPSHOT_SHARE_KEY, settings.SECRET_KEY)


@functools.lru_cache(maxsize=4)
def _derive_key(configured: str, secret: str) -> bytes:
    if configured:
        return configured.encode()
    return hmac.new(secret.encode(), b"model-dispatch snapshot share v1", hashlib.sha256).digest()


def rows_key_name(key: str) -> str:
    """The Redis key holding the rows of stamp `key` (the cache's prefix and version included)."""
    return cache.make_key(f"snapshot-rows:{key}")


def _mac(name: str, payload: bytes) -> bytes:
    message = hmac.new(share_key(), f"{len(name)}:{name}\n".encode(), hashlib.sha256)
    message.update(payload)
    return message.hexdigest().encode()


def rows_seal(name: str, rows: dict[str, list[Any]]) -> bytes:
    """The value stored under `name`: its MAC, then the rows as JSON."""
    payload = orjson.dumps(rows)
    return _mac(name, payload) + payload


def rows_unseal(name: str, raw: bytes) -> dict[str, list[Any]] | None:
    """The rows stored under `name`, or None when the MAC does not match (checked before parsing);
    ValueError when they match but do not parse."""
    if len(raw) <= _MAC_BYTES:
        return None
    payload = raw[_MAC_BYTES:]
    if not hmac.compare_digest(raw[:_MAC_BYTES], _mac(name, payload)):
        return None
    rows = orjson.loads(payload)  # signed by us, yet it may not parse (another release's layout)
    if not isinstance(rows, dict):
        raise ValueError("the rows are not an object")
    return rows


def share_rejected(key: str, reason: str) -> None:
    """Count rows that failed; log the first failure of each key (until rows verify again)."""
    SHARE_REJECTED.inc()
    if _rejected["logged"] != key:
        _rejected["logged"] = key
        logger.error(
            "snapshot sharing: rows in Redis for stamp %s rejected (%s); built from PostgreSQL instead. "
            "Something other than this service wrote them: check who can write to Redis",
            key,
            reason,
        )


def share_get(key: str) -> Shared:
    """The verified rows of stamp `key`, if another process shared them."""
    client = _redis.client()
    if client is None:
        return Shared(None)
    name = rows_key_name(key)
    try:
        raw = client.get(name)
    except REDIS_ERRORS as exc:
        _redis.failed(exc)
        return Shared(None)
    if raw is None:
        return Shared(None)
    try:
        rows = rows_unseal(name, raw)
    except ValueError as exc:  # orjson.JSONDecodeError included
        share_rejected(key, f"signed rows that do not parse: {exc}")
        return Shared(None, rejected=True)
    if rows is None:
        share_rejected(key, "the MAC does not match")
        return Shared(None, rejected=True)
    _rejected["logged"] = None
    return Shared(rows)


def share_exists(key: str) -> bool:
    client = _redis.client()
    if client is None:
        return False
    try:
        return bool(client.exists(rows_key_name(key)))
    except REDIS_ERRORS as exc:
        _redis.failed(exc)
        return False


def share_claim(key: str) -> bool:
    """True when this worker should build `key` (it claimed it, or Redis is unavailable)."""
    client = _redis.client()
    if client is None:
        return True
    try:
        return bool(client.set(cache.make_key(f"snapshot-claim:{key}"), 1, nx=True, ex=CLAIM_SECONDS))
    except REDIS_ERRORS as exc:
        _redis.failed(exc)
        return True


def share_put(key: str, rows: dict[str, list[Any]]) -> None:
    client = _redis.client()
    if client is None:
        return
    name = rows_key_name(key)
    try:
        client.set(name, rows_seal(name, rows), ex=ROWS_SECONDS)
    except REDIS_ERRORS as exc:
        _redis.failed(exc)


def share_reset() -> None:
    _rejected["logged"] = None
