"""Dispatch rollups: per day x region marginal counts, folded from the log behind a watermark.

`rollup_fold()` adds every settled row above the watermark to `dispatch_rollups` with one
INSERT ... SELECT ... GROUP BY ... ON CONFLICT DO UPDATE (count = count + EXCLUDED.count), and
moves the watermark, in one transaction holding the watermark row's lock (two folds never
count a row twice). Readers add the rows above the watermark live (`marginals_sql`) in the same
statement as the rollups, so a read is exact whatever the fold's progress. The hot path is
untouched: folding happens on analytics reads, in `verify_audit_log`, and before a purge.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from audit.integrity import settled_upto
from audit.models import RollupWatermark


def day_sql(column: str = "created_at") -> str:
    """SQL for the UTC calendar day of a timestamp column."""
    if connection.vendor == "postgresql":
        return f"(({column} AT TIME ZONE 'UTC')::date)"
    return f"date({column})"


def _provider_text() -> str:
    return "provider_id::text" if connection.vendor == "postgresql" else "provider_id"


def marginals_sql(where: str) -> str:
    """SELECT day, region, dimension, value, decision_us over dispatch_logs rows matching `where`, unpivoted."""
    day = day_sql()
    parts = [
        ("'total'", "''", "TRUE"),
        ("'outcome'", "outcome", "TRUE"),
        ("'subject'", "subject", "TRUE"),
        ("'grade_band'", "grade_band", "TRUE"),
        ("'provider'", _provider_text(), "provider_id IS NOT NULL"),
        ("'refusal'", "refusal_code", "refusal_code <> ''"),
        ("'override'", "'override'", "is_override"),
        ("'level'", "level", "level <> ''"),
    ]
    return " UNION ALL ".join(
        f"SELECT {day} AS day, region, {dimension} AS dimension, {value} AS value, decision_us "
        f"FROM dispatch_logs WHERE ({where}) AND {condition}"
        for dimension, value, condition in parts
    )


def rollup_fold(*, wait: bool = True, using: str = DEFAULT_DB_ALIAS) -> int:
    """Fold settled rows above the watermark into the rollups; returns the number of rows folded.

    With wait=False (analytics reads), a fold already running elsewhere is not waited for.
    """
    watermarks = RollupWatermark.objects.using(using)
    current, _ = watermarks.get_or_create(id=1)
    if settled_upto(current.last_id, using=using) <= current.last_id:
        return 0  # nothing to fold: no lock taken, nothing written (the usual case on a read)
    with transaction.atomic(using=using):
        mark = watermarks.select_for_update(skip_locked=not wait).filter(id=1).first()
        if mark is None:
            return 0
        upto = settled_upto(mark.last_id, using=using)
        if upto <= mark.last_id:
            return 0
        sql = (
            "INSERT INTO dispatch_rollups (day, region, dimension, value, count, decision_us_sum) "
            "SELECT day, region, dimension, value, COUNT(*), SUM(decision_us) FROM ("
            f"{marginals_sql('id > %s AND id <= %s')}"
            ") AS m WHERE TRUE GROUP BY day, region, dimension, value "
            "ON CONFLICT (day, region, dimension, value) DO UPDATE SET "
            "count = dispatch_rollups.count + EXCLUDED.count, "
            "decision_us_sum = dispatch_rollups.decision_us_sum + EXCLUDED.decision_us_sum"
        )
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM dispatch_logs WHERE id > %s AND id <= %s", [mark.last_id, upto])
            folded = int(cursor.fetchone()[0])
            cursor.execute(sql, [mark.last_id, upto] * 8)
        watermarks.filter(id=1).update(last_id=upto, updated_at=timezone.now())
    return folded
