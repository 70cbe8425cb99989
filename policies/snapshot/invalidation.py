"""Invalidation: every authoring change moves the snapshot stamp, once per transaction.

Any save or delete of a provider, template, agreement, policy, fallback or routing rule (and the changes of
their many-to-many lists), from admin, import, revert or the shell, calls `stamp_bump` in the
same transaction (signals, so no writer can forget it). After the commit, the committing process
builds and shares the new rows (with Redis) and publishes the new version to the Redis mirror.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from policies.models import DispatchPolicy, PolicyFallback, RegionalRouting, SnapshotStamp
from policies.snapshot.cache import snapshot_forget, snapshot_held
from policies.snapshot.rows import snapshot_rows_at_stamp
from policies.snapshot.share import share_claim, share_exists, share_put
from policies.snapshot.stamp import stamp_publish, stamp_token, stamp_version
from providers.models import Agreement, ModelProvider, PromptTemplate


def stamp_bump() -> None:
    """Move the version stamp (in the caller's transaction) and forget this worker's snapshot.

    Once per transaction: a policy save writes the policy, its fallbacks and its templates, each
    firing a signal; the stamp moves at the first, and again only if this worker read the world
    (held a snapshot) since, so one version never names two worlds."""
    snapshot_held_now = snapshot_held()
    snapshot_forget()
    if _bumped_in_this_transaction() and not snapshot_held_now:
        return
    updated = SnapshotStamp.objects.filter(pk=1).update(version=F("version") + 1, changed_at=timezone.now())
    if not updated:
        SnapshotStamp.objects.get_or_create(pk=1, defaults={"version": 1})
    transaction.on_commit(_stamp_committed)


def _bumped_in_this_transaction() -> bool:
    """Whether this transaction has moved the stamp already: its commit hook is still pending.

    Django drops the hooks of a savepoint that rolls back, so a bump undone by a rollback does
    not count (`run_on_commit` holds (savepoint ids, callable, robust) for the open transaction)."""
    conn = transaction.get_connection()
    return conn.in_atomic_block and any(entry[1] is _stamp_committed for entry in conn.run_on_commit)


def _stamp_committed() -> None:
    """After an authoring commit: forget this worker's snapshot (one built from the transaction's
    own rows must not outlive it); build the new version's rows here, once, and share them before
    the mirror announces the version, so the serving workers only load them (a build is ~4x the
    CPU of a load; admin requests can afford it, dispatching workers are better off without)."""
    snapshot_forget()
    if settings.SNAPSHOT_SHARE_BUILDS and not connection.in_atomic_block:
        key = stamp_token().key
        if not share_exists(key) and share_claim(key):
            built_at, rows = snapshot_rows_at_stamp()
            share_put(built_at.key, rows)
    stamp_publish(stamp_version())


_AUTHORED = (ModelProvider, PromptTemplate, Agreement, DispatchPolicy, PolicyFallback, RegionalRouting)


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
