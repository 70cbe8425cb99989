"""dispatch_logs_purge(): the retention purge, the only path that deletes audit rows.

Order that keeps every guarantee: fold the rollups (they are kept), seal checkpoints, then
delete whole sealed checkpoints whose newest row is older than the cutoff, oldest first, in
batches, each batch its own transaction. The run is recorded first, signed, in `audit_purges`:
verification allows rows at or below its `through_id` to be missing, and on PostgreSQL the
trigger on dispatch_logs refuses to delete any row no such record covers (migration 0004).
Outcomes of purged dispatches are deleted with them; `model_metrics` keep their sums.

Only the owner role can take this path (its alias, `audit.roles.owner_alias`): the service role
may neither write `audit_purges` nor delete from `dispatch_logs`, so it can start no purge.
"""

from __future__ import annotations

import datetime as dt

from django.db import connections, transaction
from django.utils import timezone

from audit.integrity import checkpoint_seal, purge_signature
from audit.models import AuditCheckpoint, AuditPurge, RollupWatermark
from audit.roles import owner_alias
from audit.rollups import rollup_fold


def dispatch_logs_purge(
    *, older_than_days: int, batch_size: int = 5000, requested_by: str = "", using: str | None = None
) -> AuditPurge:
    if older_than_days < 1:
        raise ValueError("older_than_days must be at least 1")
    using = using or owner_alias()
    rollup_fold(using=using)
    checkpoint_seal(using=using)
    now = timezone.now()
    cutoff = now - dt.timedelta(days=older_than_days)
    folded = RollupWatermark.objects.using(using).get(id=1).last_id
    through = AuditCheckpoint(seq=0, last_id=0)
    checkpoints = AuditCheckpoint.objects.using(using).order_by("seq").only("seq", "last_id", "max_created_at")
    for cp in checkpoints.iterator():
        if cp.max_created_at >= cutoff or cp.last_id > folded:
            break
        through = cp
    purges = AuditPurge.objects.using(using)
    previous = purges.order_by("-through_id").values_list("through_id", flat=True).first() or 0
    purge = AuditPurge(
        started_at=now,
        older_than_days=older_than_days,
        cutoff=cutoff,
        through_id=max(through.last_id, previous),
        through_checkpoint=through.seq,
        requested_by=requested_by[:150],
        signature="",
    )
    purge.signature = purge_signature(purge)
    purge.save(force_insert=True, using=using)
    deleted = 0
    while True:
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute(
                "SELECT id FROM dispatch_logs WHERE id <= %s ORDER BY id LIMIT %s", [purge.through_id, batch_size]
            )
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                break
            marks = ", ".join(["%s"] * len(ids))
            cursor.execute(f"DELETE FROM dispatch_outcomes WHERE dispatch_log_id IN ({marks})", ids)
            cursor.execute(f"DELETE FROM dispatch_logs WHERE id IN ({marks})", ids)
            deleted += cursor.rowcount
    purges.filter(pk=purge.pk).update(finished_at=timezone.now(), rows_deleted=deleted)
    purge.refresh_from_db(using=using)
    return purge
