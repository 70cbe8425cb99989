"""Tamper evidence for the audit log as a whole: signed checkpoints and purge records, and the
verification of every row, checkpoint and purge.

One row is signed by the service that writes it (`audit.services`: `row_digest`, `row_intact`,
and the key and canonical form used here too).

What must stay true:
- Every row's `digest` is HMAC-SHA256(AUDIT_HMAC_KEY, canonical content), computed in Python
  and written by the row's single INSERT, so the hot path gains no read and no lock. Editing a
  row with raw SQL (without the key) breaks its digest.
- `checkpoint_seal` (run by `verify_audit_log` and the purge) seals verified, settled rows into
  segments of at most AUDIT_CHECKPOINT_ROWS: the exact ids present (as runs) and a SHA-256 over
  "id:digest" in id order, signed and chained to the previous checkpoint. Deleting (or adding,
  or swapping) a sealed row breaks its segment, and the verifier names the row.
- Rows purged by the retention purge are allowed to be missing below the purge's signed
  `through_id`; rows that remain there are still checked.
- A replay (policies.services) serves a stored row only if `row_intact`.
Limits (docs/security.md "Database roles"): the service role cannot change or delete rows (audit/roles.py),
but the owner role or a superuser can delete rows newer than the last checkpoint without trace
until sealed; whoever holds the key (the application) can forge; removing the newest checkpoints
together with their rows is only caught against an externally kept head.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Max, Min
from django.utils import timezone

from audit.models import AuditCheckpoint, AuditPurge, DispatchLog
from audit.roles import owner_alias
from audit.services import DIGEST_FIELDS, DIGEST_VERSION, audit_canonical, audit_sign, row_intact


def checkpoint_signature(cp: AuditCheckpoint) -> str:
    content = [
        DIGEST_VERSION,
        cp.seq,
        cp.first_id,
        cp.last_id,
        cp.row_count,
        cp.id_runs,
        cp.chain,
        cp.row_tags,
        audit_canonical(cp.max_created_at),
        audit_canonical(cp.created_at),
        cp.prev_signature,
    ]
    return audit_sign("checkpoint:" + json.dumps(content, separators=(",", ":")))


def purge_signature(purge: AuditPurge) -> str:
    content = [
        DIGEST_VERSION,
        audit_canonical(purge.started_at),
        purge.older_than_days,
        audit_canonical(purge.cutoff),
        purge.through_id,
        purge.through_checkpoint,
        purge.requested_by,
    ]
    return audit_sign("purge:" + json.dumps(content, separators=(",", ":")))


def settled_upto(after_id: int, *, using: str = DEFAULT_DB_ALIAS) -> int:
    """The highest id such that every row in (after_id, id] is older than AUDIT_SETTLE_SECONDS.

    Ids are handed out before commit, so a younger row may still be joined by a lower id; past
    the settle time (longer than the statement timeout) the id range is final.
    """
    cutoff = timezone.now() - dt.timedelta(seconds=settings.AUDIT_SETTLE_SECONDS)
    tail = DispatchLog.objects.using(using).filter(id__gt=after_id)
    first_young = tail.filter(created_at__gte=cutoff).aggregate(m=Min("id"))["m"]
    if first_young is not None:
        return int(first_young) - 1
    last = tail.aggregate(m=Max("id"))["m"]
    return int(last) if last is not None else after_id


def _runs(ids: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for i in ids:
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return runs


def _tags(rows: list[tuple[int, str]]) -> str:
    return "".join(digest[:8] for _, digest in rows)


def _chain(rows: list[tuple[int, str]]) -> str:
    h = hashlib.sha256()
    for row_id, digest in rows:
        h.update(f"{row_id}:{digest}\n".encode())
    return h.hexdigest()


@dataclass
class Problem:
    row_id: int
    message: str


@dataclass
class VerifyReport:
    rows: int = 0
    checkpoints: int = 0
    purged_through: int = 0
    unsealed_rows: int = 0
    head_signature: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return min(self.problems, key=lambda p: p.row_id) if self.problems else None


def _row_stream(
    after_id: int, upto: int | None = None, chunk: int = 2000, *, using: str = DEFAULT_DB_ALIAS
) -> Iterator[dict[str, Any]]:
    qs = DispatchLog.objects.using(using).filter(id__gt=after_id).order_by("id")
    if upto is not None:
        qs = qs.filter(id__lte=upto)
    yield from qs.values("id", "digest", *DIGEST_FIELDS).iterator(chunk_size=chunk)


def _check_row(values: dict[str, Any], report: VerifyReport) -> None:
    if not row_intact(values):
        report.problems.append(
            Problem(
                values["id"],
                f"row id={values['id']} (request_id {values['request_id']}) was altered: "
                "its content does not match its digest",
            )
        )


def _check_segment(cp: AuditCheckpoint, present: list[tuple[int, str]], purged: bool, report: VerifyReport) -> None:
    expected = [i for first, last in json.loads(cp.id_runs) for i in range(first, last + 1)]
    present_ids = {row_id for row_id, _ in present}
    expected_set = set(expected)
    if not purged:
        for missing in (i for i in expected if i not in present_ids):
            report.problems.append(
                Problem(missing, f"row id={missing} was deleted: it is sealed in checkpoint #{cp.seq} but missing")
            )
    for extra in sorted(present_ids - expected_set):
        report.problems.append(
            Problem(extra, f"row id={extra} was inserted behind the application's back (not in checkpoint #{cp.seq})")
        )
    if not purged and present_ids == expected_set and _chain(present) != cp.chain:
        tags = _tags(present)
        position = next(
            (i for i in range(len(present)) if tags[i * 8 : i * 8 + 8] != cp.row_tags[i * 8 : i * 8 + 8]), 0
        )
        row_id = present[position][0]
        report.problems.append(
            Problem(row_id, f"row id={row_id} was replaced: it does not match the row sealed in checkpoint #{cp.seq}")
        )


def audit_log_verify(*, using: str = DEFAULT_DB_ALIAS) -> VerifyReport:
    """Check every checkpoint, purge record and row; problems are listed by row id."""
    report = VerifyReport()
    purges = list(AuditPurge.objects.using(using).order_by("id"))
    for purge in purges:
        if not hmac.compare_digest(purge.signature, purge_signature(purge)):
            report.problems.append(Problem(purge.through_id, f"purge record #{purge.pk} was altered (bad signature)"))
    report.purged_through = max((p.through_id for p in purges), default=0)

    prev_signature, prev_last = "", 0
    checkpoints = list(AuditCheckpoint.objects.using(using).order_by("seq"))
    for expected_seq, cp in enumerate(checkpoints, start=1):
        if cp.seq != expected_seq:
            report.problems.append(Problem(prev_last + 1, f"checkpoint #{expected_seq} is missing"))
            break
        if not hmac.compare_digest(cp.signature, checkpoint_signature(cp)) or cp.prev_signature != prev_signature:
            report.problems.append(Problem(cp.first_id, f"checkpoint #{cp.seq} was altered (bad signature or chain)"))
            break
        if cp.first_id <= prev_last:
            report.problems.append(Problem(cp.first_id, f"checkpoint #{cp.seq} overlaps the previous one"))
            break
        prev_signature, prev_last = cp.signature, cp.last_id
    report.checkpoints = len(checkpoints)
    report.head_signature = prev_signature

    index = 0
    segment: list[tuple[int, str]] = []
    for values in _row_stream(0, using=using):
        report.rows += 1
        _check_row(values, report)
        row_id = values["id"]
        while index < len(checkpoints) and row_id > checkpoints[index].last_id:
            cp = checkpoints[index]
            _check_segment(cp, segment, cp.last_id <= report.purged_through, report)
            segment, index = [], index + 1
        if index < len(checkpoints) and row_id >= checkpoints[index].first_id:
            segment.append((row_id, values["digest"]))
        elif index < len(checkpoints):
            report.problems.append(
                Problem(row_id, f"row id={row_id} was inserted behind the application's back (between checkpoints)")
            )
        else:
            report.unsealed_rows += 1
    while index < len(checkpoints):
        cp = checkpoints[index]
        _check_segment(cp, segment, cp.last_id <= report.purged_through, report)
        segment, index = [], index + 1
    return report


def checkpoint_seal(*, using: str | None = None) -> list[AuditCheckpoint]:
    """Seal settled rows after the last checkpoint into new signed checkpoints (verifying them first).

    Rows whose digest is wrong are never sealed: sealing stops before the first bad row. Runs as
    the owner role by default: the service role may only read checkpoints (audit/roles.py).
    """
    using = using or owner_alias()
    size = settings.AUDIT_CHECKPOINT_ROWS
    made: list[AuditCheckpoint] = []
    with transaction.atomic(using=using):
        last = AuditCheckpoint.objects.using(using).select_for_update().order_by("-seq").first()
        after = last.last_id if last else 0
        upto = settled_upto(after, using=using)
        if upto <= after:
            return made
        prev_signature, seq = (last.signature, last.seq) if last else ("", 0)
        batch: list[dict[str, Any]] = []

        def seal(rows: list[dict[str, Any]]) -> None:
            nonlocal prev_signature, seq
            seq += 1
            cp = AuditCheckpoint(
                seq=seq,
                first_id=rows[0]["id"],
                last_id=rows[-1]["id"],
                row_count=len(rows),
                id_runs=json.dumps(_runs([r["id"] for r in rows]), separators=(",", ":")),
                chain=_chain([(r["id"], r["digest"]) for r in rows]),
                row_tags=_tags([(r["id"], r["digest"]) for r in rows]),
                max_created_at=max(r["created_at"] for r in rows),
                created_at=timezone.now(),
                prev_signature=prev_signature,
                signature="",
            )
            cp.signature = checkpoint_signature(cp)
            cp.save(force_insert=True, using=using)
            prev_signature = cp.signature
            made.append(cp)

        probe = VerifyReport()
        for values in _row_stream(after, upto, using=using):
            _check_row(values, probe)
            if probe.problems:
                break
            batch.append(values)
            if len(batch) == size:
                seal(batch)
                batch = []
        if batch:
            seal(batch)
    return made
