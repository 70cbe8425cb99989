"""The only bridge from the database to the engine: build a `Snapshot`, and keep it per worker.

Each worker process holds one snapshot. Every authoring change (any save or delete of a
provider, template, policy, fallback or routing rule, from admin, import, revert or the shell)
bumps `SnapshotStamp.version` in the same transaction. A worker re-reads the stamp at most every
`SNAPSHOT_CHECK_INTERVAL` seconds (from its Redis mirror when configured, see `policies.stamp`)
and rebuilds when it moved, so every worker of every instance serves a change within that
interval plus one rebuild, and a warm dispatch reads nothing.

Compliance comes only from PostgreSQL: a snapshot is the rows of one PostgreSQL stamp token,
labelled with that token's version, whether built here or loaded from rows another worker
shared through Redis (HMAC-checked, `policies.snapshot_share`). Nothing written to Redis can
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
from django.db import connection, transaction
from django.db.models import F, FloatField, Prefetch, QuerySet, TextField
from django.db.models.functions import Cast
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from policies.engine import PolicySpec, ProviderSpec, RegionRule, Snapshot
from policies.models import DispatchPolicy, PolicyFallback, RegionalRouting, SnapshotStamp
from policies.snapshot_share import (
    SHARE_RETRY_SECONDS,
    share_claim,
    share_exists,
    share_get,
    share_put,
    share_rejected,
)
from policies.stamp import StampToken, stamp_confirm, stamp_publish, stamp_read, stamp_token, stamp_version
from providers.models import ModelProvider, PromptTemplate

logger = logging.getLogger("dispatch.snapshot")
_lock = threading.Lock()
_state: dict[str, Any] = {"snapshot": None, "token": None, "next_check": 0.0, "waiting": None}


def snapshot_build(*, version: int | None = None) -> Snapshot:
    """Read the authored world into a Snapshot (active policies only)."""
    if version is None:
        version = stamp_version()
    return snapshot_from_rows(snapshot_rows(), version=version)


def snapshot_rows() -> dict[str, list[Any]]:
    """The authored world as plain JSON-able rows (what `snapshot_from_rows` compiles).

    Flat `values_list` queries with ids cast to text in SQL, no model instances: every rebuild
    at 10,000 policies spent most of a second instantiating models, prefetching and making UUID
    objects (bench/run.py prints the build time).
    """
    provider_columns = (
        _text("id"),
        "slug",
        "name",
        "endpoint_url",
        "hosting_regions",
        "compliance_frameworks",
        "encrypts_in_transit",
        "encrypts_at_rest",
        "is_active",
        "requests_per_minute",
        "tokens_per_minute",
        Cast("cost_per_1k_input_tokens", FloatField()),
        Cast("cost_per_1k_output_tokens", FloatField()),
    )
    providers = [
        [_uuid_text(pid), slug, name, url, list(regions or ()), list(frameworks or ()), in_transit and at_rest,
         active, rpm, tpm, cost_in, cost_out]
        for pid, slug, name, url, regions, frameworks, in_transit, at_rest, active, rpm, tpm, cost_in, cost_out in (
            ModelProvider.objects.order_by().values_list(*provider_columns)
        )
    ]  # fmt: skip
    fallbacks: dict[str, list[str]] = {}
    for policy_id, provider_id in _driver_rows(
        PolicyFallback.objects.filter(policy__is_active=True)
        .order_by("policy_id", "position")
        .values_list(_text("policy_id"), _text("provider_id"))
    ):
        fallbacks.setdefault(policy_id, []).append(_uuid_text(provider_id))
    templates: dict[str, list[str]] = {}
    through = DispatchPolicy.templates.through
    for policy_id, template_id in _driver_rows(
        through.objects.filter(dispatchpolicy__is_active=True, prompttemplate__is_active=True)
        .order_by("prompttemplate__slug")
        .values_list(_text("dispatchpolicy_id"), _text("prompttemplate_id"))
    ):
        templates.setdefault(policy_id, []).append(_uuid_text(template_id))
    policy_columns = (
        _text("id"),
        "name",
        "subject",
        "grade_band",
        "region",
        _text("primary_provider_id"),
        Cast("moderation_threshold", FloatField()),
        "allow_teacher_override",
        "priority",
    )
    policies = [
        [_uuid_text(pid), name, subject, grade_band, region, _uuid_text(primary), fallbacks.get(pid, []),
         templates.get(pid, []), threshold, allow_override, priority]
        for pid, name, subject, grade_band, region, primary, threshold, allow_override, priority in _driver_rows(
            DispatchPolicy.objects.filter(is_active=True).order_by().values_list(*policy_columns)
        )
    ]  # fmt: skip
    rules = [
        [r.region, r.data_center, r.data_residency_required, r.encryption_required, r.audit_logging_required,
         [str(p.pk) for p in r.allowed_providers.all()], [str(p.pk) for p in r.blocked_providers.all()],
         list(r.compliance_frameworks or ())]
        for r in RegionalRouting.objects.prefetch_related(
            Prefetch("allowed_providers", queryset=ModelProvider.objects.only("id")),
            Prefetch("blocked_providers", queryset=ModelProvider.objects.only("id")),
        )
    ]  # fmt: skip
    return {"providers": providers, "policies": policies, "rules": rules}


def snapshot_from_rows(rows: dict[str, list[Any]], *, version: int) -> Snapshot:
    """Compile `snapshot_rows()` output (fresh, or shared by another worker through Redis)."""
    providers = {
        p[0]: ProviderSpec(
            id=p[0],
            slug=p[1],
            name=p[2],
            endpoint_url=p[3],
            hosting_regions=frozenset(p[4]),
            compliance_frameworks=frozenset(p[5]),
            encrypts=bool(p[6]),
            active=bool(p[7]),
            requests_per_minute=p[8],
            tokens_per_minute=p[9],
            cost_per_1k_input=float(p[10]),
            cost_per_1k_output=float(p[11]),
        )
        for p in rows["providers"]
    }
    policies = tuple(
        PolicySpec(p[0], p[1], p[2], p[3], p[4], p[5], tuple(p[6]), tuple(p[7]), float(p[8]), bool(p[9]), p[10])
        for p in rows["policies"]
    )  # positional, in PolicySpec's field order (the order snapshot_rows writes)
    rules = {
        r[0]: RegionRule(
            region=r[0],
            data_center=r[1],
            data_residency_required=bool(r[2]),
            encryption_required=bool(r[3]),
            audit_logging_required=bool(r[4]),
            allowed_providers=frozenset(r[5]),
            blocked_providers=frozenset(r[6]),
            compliance_frameworks=frozenset(r[7]),
        )
        for r in rows["rules"]
    }
    return Snapshot(providers=providers, policies=policies, rules=rules, version=version)


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
    if snapshot is not None and now < _state["next_check"]:
        return snapshot
    # Read PostgreSQL (when needed) before taking the lock: a thread must not wait for a pooled
    # connection while holding the lock other threads (holding connections) are waiting for.
    hint, token = stamp_read()
    if token is None:
        if snapshot is not None and hint == snapshot.version:
            _state["next_check"] = now + settings.SNAPSHOT_CHECK_INTERVAL
            return snapshot  # the mirror agrees; PostgreSQL is read at least every SNAPSHOT_DB_CHECK_INTERVAL
        token = stamp_confirm(seen=hint)
    with _lock:
        snapshot = _state["snapshot"]
        if snapshot is None or _state["token"] != token:
            started = time.perf_counter()
            loaded = _snapshot_load(token, stale=snapshot if _may_wait(token, now) else None)
            if loaded is None:  # another worker is building this version: serve ours a moment longer
                _state["next_check"] = now + SHARE_RETRY_SECONDS
                assert snapshot is not None
                return snapshot
            snapshot, token, source = loaded
            _state.update(snapshot=snapshot, token=token, waiting=None)
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


def snapshot_rows_at_stamp() -> tuple[StampToken, dict[str, list[Any]]]:
    """PostgreSQL's stamp token and the rows of exactly that state.

    On PostgreSQL outside a transaction both are read in one REPEATABLE READ snapshot (three extra
    statements per build). Elsewhere the token is read first, so the rows are of that version or
    a newer one, and the next check (which sees the newer token) rebuilds."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return stamp_token(), snapshot_rows()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return stamp_token(), snapshot_rows()


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
        _state.update(snapshot=None, token=None, next_check=0.0, waiting=None)


def _driver_rows(queryset: QuerySet[Any, Any]) -> list[tuple[Any, ...]]:
    """The rows of a `values_list` query as the driver returns them: the ORM writes the SQL, but
    Django's per-row converters are skipped (at 10,000 policies they were half of a build, and
    these columns need none: text casts, plain numbers; booleans may be 0/1 on SQLite)."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _text(column: str) -> Cast:
    return Cast(column, TextField())


def _uuid_text(value: str) -> str:
    """A UUID column cast to text: canonical on PostgreSQL; SQLite stores 32 hex digits."""
    if len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return value


def stamp_bump() -> None:
    """Move the version stamp (in the caller's transaction) and forget this worker's snapshot."""
    updated = SnapshotStamp.objects.filter(pk=1).update(version=F("version") + 1, changed_at=timezone.now())
    if not updated:
        SnapshotStamp.objects.get_or_create(pk=1, defaults={"version": 1})
    snapshot_forget()
    # A snapshot built from a transaction that later rolls back must not survive it.
    transaction.on_commit(snapshot_forget)
    # Other workers learn of it from the Redis mirror (when configured) once it is committed.
    transaction.on_commit(_stamp_committed)


def _stamp_committed() -> None:
    """After an authoring commit: build the new version's rows here, once, and share them before
    the mirror announces the version, so the serving workers only load them (a build is ~4x the
    CPU of a load; admin requests can afford it, dispatching workers are better off without)."""
    if settings.SNAPSHOT_SHARE_BUILDS and not connection.in_atomic_block:
        key = stamp_token().key
        if not share_exists(key) and share_claim(key):
            built_at, rows = snapshot_rows_at_stamp()
            share_put(built_at.key, rows)
    stamp_publish(stamp_version())


_AUTHORED = (ModelProvider, PromptTemplate, DispatchPolicy, PolicyFallback, RegionalRouting)


def _on_authoring_change(sender: type, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return  # loaddata
    action = kwargs.get("action")
    if action is not None and not str(action).startswith("post_"):
        return
    stamp_bump()


def connect_invalidation() -> None:
    for model in _AUTHORED:
        post_save.connect(_on_authoring_change, sender=model, dispatch_uid=f"snapshot-save-{model.__name__}")
        post_delete.connect(_on_authoring_change, sender=model, dispatch_uid=f"snapshot-delete-{model.__name__}")
    for through in (
        DispatchPolicy.templates.through,
        RegionalRouting.allowed_providers.through,
        RegionalRouting.blocked_providers.through,
    ):
        m2m_changed.connect(_on_authoring_change, sender=through, dispatch_uid=f"snapshot-m2m-{through.__name__}")
