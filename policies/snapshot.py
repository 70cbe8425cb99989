"""The only bridge from the database to the engine: build a `Snapshot`, and keep it per worker.

Each worker process holds one snapshot. Every authoring change (any save or delete of a
provider, template, policy, fallback or routing rule, from admin, import, revert or the shell)
bumps `SnapshotStamp.version` in the same transaction. A worker re-reads the stamp at most every
`SNAPSHOT_CHECK_INTERVAL` seconds and rebuilds when it moved, so every worker of every instance
serves a change within that interval plus one rebuild, and a warm dispatch reads nothing.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Prefetch
from django.db.models.signals import m2m_changed, post_delete, post_save

from policies.engine import PolicySpec, ProviderSpec, RegionRule, Snapshot
from policies.models import DispatchPolicy, PolicyFallback, RegionalRouting, SnapshotStamp
from providers.models import ModelProvider, PromptTemplate

_lock = threading.Lock()
_state: dict[str, Any] = {"snapshot": None, "checked_at": 0.0}


def snapshot_build(*, version: int | None = None) -> Snapshot:
    """Read the authored world into a Snapshot (active policies only)."""
    if version is None:
        version = stamp_version()
    providers = {
        str(p.id): ProviderSpec(
            id=str(p.id),
            slug=p.slug,
            name=p.name,
            endpoint_url=p.endpoint_url,
            hosting_regions=frozenset(p.hosting_regions or ()),
            compliance_frameworks=frozenset(p.compliance_frameworks or ()),
            encrypts=p.encrypts,
            active=p.is_active,
            requests_per_minute=p.requests_per_minute,
            tokens_per_minute=p.tokens_per_minute,
            cost_per_1k_input=float(p.cost_per_1k_input_tokens),
            cost_per_1k_output=float(p.cost_per_1k_output_tokens),
        )
        for p in ModelProvider.objects.all()
    }
    active_templates = PromptTemplate.objects.filter(is_active=True).order_by("slug").only("id")
    policies = tuple(
        PolicySpec(
            id=str(p.id),
            name=p.name,
            subject=p.subject,
            grade_band=p.grade_band,
            region=p.region,
            primary_provider_id=str(p.primary_provider_id),
            fallback_provider_ids=tuple(str(f.provider_id) for f in p.fallbacks.all()),
            template_ids=tuple(str(t.id) for t in p.templates.all()),
            moderation_threshold=float(p.moderation_threshold),
            allow_teacher_override=p.allow_teacher_override,
            priority=p.priority,
        )
        for p in DispatchPolicy.objects.filter(is_active=True).prefetch_related(
            Prefetch("fallbacks", queryset=PolicyFallback.objects.order_by("position")),
            Prefetch("templates", queryset=active_templates),
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


def stamp_version() -> int:
    version = SnapshotStamp.objects.filter(pk=1).values_list("version", flat=True).first()
    return int(version or 0)


def current_snapshot() -> Snapshot:
    """This worker's snapshot, rebuilt when the stamp moved (checked at most every interval)."""
    now = time.monotonic()
    snapshot: Snapshot | None = _state["snapshot"]
    if snapshot is not None and now - _state["checked_at"] < settings.SNAPSHOT_CHECK_INTERVAL:
        return snapshot
    version = stamp_version()
    with _lock:
        snapshot = _state["snapshot"]
        if snapshot is None or snapshot.version != version:
            snapshot = snapshot_build(version=version)
            _state["snapshot"] = snapshot
        _state["checked_at"] = now
    return snapshot


def snapshot_forget() -> None:
    """Drop this worker's snapshot; the next dispatch rebuilds it."""
    with _lock:
        _state["snapshot"] = None
        _state["checked_at"] = 0.0


def stamp_bump() -> None:
    """Move the version stamp (in the caller's transaction) and forget this worker's snapshot."""
    updated = SnapshotStamp.objects.filter(pk=1).update(version=F("version") + 1)
    if not updated:
        SnapshotStamp.objects.get_or_create(pk=1, defaults={"version": 1})
    snapshot_forget()
    # A snapshot built from a transaction that later rolls back must not survive it.
    transaction.on_commit(snapshot_forget)


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
