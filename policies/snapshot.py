"""The only bridge from the database to the engine: build a `Snapshot`, and keep it per worker.

Each worker process holds one snapshot. Every authoring change (any save or delete of a
provider, template, policy, fallback or routing rule, from admin, import, revert or the shell)
bumps `SnapshotStamp.version` in the same transaction. A worker re-reads the stamp at most every
`SNAPSHOT_CHECK_INTERVAL` seconds (from its Redis mirror when configured, see `policies.stamp`)
and rebuilds when it moved, so every worker of every instance serves a change within that
interval plus one rebuild, and a warm dispatch reads nothing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, FloatField, Prefetch, TextField
from django.db.models.functions import Cast
from django.db.models.signals import m2m_changed, post_delete, post_save

from policies.engine import PolicySpec, ProviderSpec, RegionRule, Snapshot
from policies.models import DispatchPolicy, PolicyFallback, RegionalRouting, SnapshotStamp
from policies.stamp import stamp_publish, stamp_read, stamp_version
from providers.models import ModelProvider, PromptTemplate

logger = logging.getLogger("dispatch.snapshot")
_lock = threading.Lock()
_state: dict[str, Any] = {"snapshot": None, "checked_at": 0.0}


def snapshot_build(*, version: int | None = None) -> Snapshot:
    """Read the authored world into a Snapshot (active policies only).

    Flat `values_list` queries with ids cast to text in SQL, no model instances: every worker
    rebuilds on every authoring change, and at 10,000 policies instantiating models, prefetching
    and making UUID objects took most of a second (bench/run.py prints the build time).
    """
    if version is None:
        version = stamp_version()
    provider_columns = (
        "id",
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
        "cost_per_1k_input_tokens",
        "cost_per_1k_output_tokens",
    )
    providers = {
        str(pid): ProviderSpec(
            id=str(pid),
            slug=slug,
            name=name,
            endpoint_url=endpoint_url,
            hosting_regions=frozenset(hosting_regions or ()),
            compliance_frameworks=frozenset(frameworks or ()),
            encrypts=in_transit and at_rest,
            active=active,
            requests_per_minute=rpm,
            tokens_per_minute=tpm,
            cost_per_1k_input=float(cost_in),
            cost_per_1k_output=float(cost_out),
        )
        for (
            pid,
            slug,
            name,
            endpoint_url,
            hosting_regions,
            frameworks,
            in_transit,
            at_rest,
            active,
            rpm,
            tpm,
            cost_in,
            cost_out,
        ) in ModelProvider.objects.values_list(*provider_columns)
    }
    fallbacks: dict[str, list[str]] = {}
    for policy_id, provider_id in (
        PolicyFallback.objects.filter(policy__is_active=True)
        .order_by("policy_id", "position")
        .values_list(_text("policy_id"), _text("provider_id"))
    ):
        fallbacks.setdefault(policy_id, []).append(_uuid_text(provider_id))
    templates: dict[str, list[str]] = {}
    through = DispatchPolicy.templates.through
    for policy_id, template_id in (
        through.objects.filter(dispatchpolicy__is_active=True, prompttemplate__is_active=True)
        .order_by("prompttemplate__slug")
        .values_list(_text("dispatchpolicy_id"), _text("prompttemplate_id"))
    ):
        templates.setdefault(policy_id, []).append(_uuid_text(template_id))
    policies = tuple(
        PolicySpec(
            id=_uuid_text(pid),
            name=name,
            subject=subject,
            grade_band=grade_band,
            region=region,
            primary_provider_id=_uuid_text(primary_id),
            fallback_provider_ids=tuple(fallbacks.get(pid, ())),
            template_ids=tuple(templates.get(pid, ())),
            moderation_threshold=float(threshold),
            allow_teacher_override=allow_override,
            priority=priority,
        )
        for pid, name, subject, grade_band, region, primary_id, threshold, allow_override, priority in (
            DispatchPolicy.objects.filter(is_active=True)
            .order_by()
            .values_list(
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
        )
    )
    rules = {
        r.region: RegionRule(
            region=r.region,
            data_center=r.data_center,
            data_residency_required=r.data_residency_required,
            encryption_required=r.encryption_required,
            audit_logging_required=r.audit_logging_required,
            allowed_providers=frozenset(str(p.pk) for p in r.allowed_providers.all()),
            blocked_providers=frozenset(str(p.pk) for p in r.blocked_providers.all()),
            compliance_frameworks=frozenset(r.compliance_frameworks or ()),
        )
        for r in RegionalRouting.objects.prefetch_related(
            Prefetch("allowed_providers", queryset=ModelProvider.objects.only("id")),
            Prefetch("blocked_providers", queryset=ModelProvider.objects.only("id")),
        )
    }
    return Snapshot(providers=providers, policies=policies, rules=rules, version=version)


def current_snapshot() -> Snapshot:
    """This worker's snapshot, rebuilt when the stamp moved (checked at most every interval)."""
    now = time.monotonic()
    snapshot: Snapshot | None = _state["snapshot"]
    if snapshot is not None and now - _state["checked_at"] < settings.SNAPSHOT_CHECK_INTERVAL:
        return snapshot
    version = stamp_read()
    with _lock:
        snapshot = _state["snapshot"]
        if snapshot is None or snapshot.version != version:
            started = time.perf_counter()
            snapshot = snapshot_build(version=version)
            _state["snapshot"] = snapshot
            # The bench and the staleness test read this line: keep its shape.
            logger.info(
                "snapshot v%d built in %.1f ms: %d policies (pid %d, at %.6f)",
                version,
                (time.perf_counter() - started) * 1000,
                len(snapshot.policies),
                os.getpid(),
                time.time(),
            )
        _state["checked_at"] = now
    return snapshot


def snapshot_forget() -> None:
    """Drop this worker's snapshot; the next dispatch rebuilds it."""
    with _lock:
        _state["snapshot"] = None
        _state["checked_at"] = 0.0


def _text(column: str) -> Cast:
    return Cast(column, TextField())


def _uuid_text(value: str) -> str:
    """A UUID column cast to text: canonical on PostgreSQL; SQLite stores 32 hex digits."""
    if len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return value


def stamp_bump() -> None:
    """Move the version stamp (in the caller's transaction) and forget this worker's snapshot."""
    updated = SnapshotStamp.objects.filter(pk=1).update(version=F("version") + 1)
    if not updated:
        SnapshotStamp.objects.get_or_create(pk=1, defaults={"version": 1})
    snapshot_forget()
    # A snapshot built from a transaction that later rolls back must not survive it.
    transaction.on_commit(snapshot_forget)
    # Other workers learn of it from the Redis mirror (when configured) once it is committed.
    transaction.on_commit(lambda: stamp_publish(stamp_version()))


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
