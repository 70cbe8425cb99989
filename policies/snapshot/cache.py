"""The per-worker snapshot: rebuilt when PostgreSQL's stamp moved, shared through Redis.

Each worker process holds one snapshot. Every authoring change bumps `SnapshotStamp.version` in
the same transaction (`policies.snapshot.invalidation`). A worker re-reads the stamp at most
every `SNAPSHOT_CHECK_INTERVAL` seconds (from its Redis mirror when configured, see
`policies.snapshot.stamp`) and rebuilds when it moved, so every worker of every instance serves
a change within that interval plus one rebuild, and a warm dispatch reads nothing.

A snapshot is also built for a UTC date (agreements start and end on dates): it carries the first
date on which that stops being true (`Snapshot.valid_until`), kept here as an epoch second, and
every call compares the service's clock (`common.clock`) with it, one float comparison. Past it,
the worker recompiles the same rows for the new date (loaded from Redis or read again; rows do not
depend on the date), so an agreement stops serving at the end of its `expires_on` date, to the
second, on every worker, with no authoring change.

Compliance comes only from PostgreSQL: a snapshot is the rows of one PostgreSQL stamp token,
labelled with that token's version, whether built here or loaded from rows another worker
shared through Redis (HMAC-checked, `policies.snapshot.share`). Nothing written to Redis can
add a provider to a region or keep a worker on a world PostgreSQL no longer holds.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from typing import Any

from django.conf import settings
from django.db import connection

from common.clock import service_time, utc_midnight
from policies.engine import Snapshot
from policies.snapshot.rows import snapshot_from_rows, snapshot_rows_at_stamp
from policies.snapshot.share import SHARE_RETRY_SECONDS, share_claim, share_get, share_put, share_rejected
from policies.snapshot.stamp import StampToken, stamp_confirm, stamp_read

logger = logging.getLogger("dispatch.snapshot")
_lock = threading.Lock()
_state: dict[str, Any] = {
    "snapshot": None,
    "token": None,
    "next_check": 0.0,
    "waiting": None,
    "expires_at": float("inf"),  # epoch seconds (service clock) at which the snapshot's date ends being true
}


def current_snapshot() -> Snapshot:
    """This worker's snapshot, rebuilt when PostgreSQL's stamp moved (checked at most every interval).

    What a worker serves is always the rows of one PostgreSQL stamp token (version + changed_at),
    read from PostgreSQL or verified (HMAC) when shared through Redis, and labelled with that
    token's version. The Redis mirror only says when to look: a mirror that disagrees with the
    snapshot makes the worker read PostgreSQL's token, and if that still names this snapshot
    nothing is reloaded (a forged or stale mirror costs one query per check, never a reload).
    """
    now = time.monotonic()
    snapshot: Snapshot | None = _state["snapshot"]
    expired = service_time() >= _state["expires_at"]
    if snapshot is not None and now < _state["next_check"] and not expired:
        return snapshot
    # Read PostgreSQL (when needed) before taking the lock: a thread must not wait for a pooled
    # connection while holding the lock other threads (holding connections) are waiting for.
    hint, token = stamp_read()
    if token is None:
        if snapshot is not None and hint == snapshot.version and not expired:
            _state["next_check"] = now + settings.SNAPSHOT_CHECK_INTERVAL
            return snapshot  # the mirror agrees; PostgreSQL is read at least every SNAPSHOT_DB_CHECK_INTERVAL
        token = stamp_confirm(seen=hint)
    with _lock:
        snapshot = _state["snapshot"]
        expired = service_time() >= _state["expires_at"]  # another thread may have rebuilt it meanwhile
        if snapshot is None or _state["token"] != token or expired:
            started = time.perf_counter()
            stale = snapshot if not expired and _may_wait(token, now) else None  # an expired one never serves
            loaded = _snapshot_load(token, stale=stale)
            if loaded is None:  # another worker is building this version: serve ours a moment longer
                _state["next_check"] = now + SHARE_RETRY_SECONDS
                assert snapshot is not None
                return snapshot
            snapshot, token, source = loaded
            expires_at = utc_midnight(snapshot.valid_until) if snapshot.valid_until else float("inf")
            _state.update(snapshot=snapshot, token=token, waiting=None, expires_at=expires_at)
            # Move the long-lived objects (this snapshot, the loaded code) out of the collector's
            # sight: a full collection scanned the whole snapshot (~100 ms at 10,000 policies) at
            # random requests, which showed as dispatch's p99. Snapshots hold no reference cycles,
            # so a replaced one is still freed by reference counting.
            gc.freeze()
            # The bench and the staleness test read this line: keep its shape.
            logger.info(
                "snapshot v%d built in %.1f ms: %d policies from %s (pid %d, at %.6f)",
                snapshot.version,
                (time.perf_counter() - started) * 1000,
                len(snapshot.policies),
                source,
                os.getpid(),
                time.time(),
            )
        _state["next_check"] = now + settings.SNAPSHOT_CHECK_INTERVAL
    return snapshot


def _may_wait(token: StampToken, now: float) -> bool:
    """Whether this worker may still serve its previous snapshot while another builds `token`.

    A claim in Redis is a hint like the rest: held by a worker that died, or by someone keeping
    it alive, it must not keep this worker on an old world. After SNAPSHOT_DB_CHECK_INTERVAL of
    waiting for the same token, the worker builds it itself."""
    waiting = _state["waiting"]
    if waiting is None or waiting[0] != token:
        _state["waiting"] = (token, now)
        return True
    return bool(now - waiting[1] < settings.SNAPSHOT_DB_CHECK_INTERVAL)


def _sharing() -> bool:
    # Inside a transaction the rows may be uncommitted: build them here, share nothing.
    return bool(settings.SNAPSHOT_SHARE_BUILDS) and not connection.in_atomic_block


def _snapshot_load(token: StampToken, *, stale: Snapshot | None) -> tuple[Snapshot, StampToken, str] | None:
    """The snapshot at PostgreSQL's `token`: verified shared rows from Redis when another worker
    built them, else built here (and shared), with the token it was built at. None when another
    worker is building it and `stale` can serve."""
    if not _sharing():
        built_at, rows = snapshot_rows_at_stamp()
        return snapshot_from_rows(rows, version=built_at.version), built_at, "database"
    shared = share_get(token.key)
    if shared.rows is not None:
        try:
            return snapshot_from_rows(shared.rows, version=token.version), token, "redis"
        except (KeyError, IndexError, TypeError, ValueError) as exc:  # signed, yet not this release's layout
            share_rejected(token.key, f"rows of another layout ({exc!r})")
    elif not shared.rejected and not share_claim(token.key) and stale is not None:
        return None
    built_at, rows = snapshot_rows_at_stamp()
    share_put(built_at.key, rows)  # also replaces rows that failed the check
    return snapshot_from_rows(rows, version=built_at.version), built_at, "database"


def snapshot_forget() -> None:
    """Drop this worker's snapshot; the next dispatch rebuilds it."""
    with _lock:
        _state.update(snapshot=None, token=None, next_check=0.0, waiting=None, expires_at=float("inf"))


def snapshot_held() -> bool:
    """Whether this worker holds a snapshot (none since the last `snapshot_forget`)."""
    return _state["snapshot"] is not None
