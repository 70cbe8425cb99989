"""Analytics reads: every figure is aggregated by the database from the rollups.

Dispatch counts come from `dispatch_rollups` (folded) plus the rows above the fold's watermark,
counted live in the same statement; outcome figures come from `model_metrics_daily`. Both are
bounded by days x regions x a few dozen values, so a read costs the same at 10k rows as at 1M.
A window of `days` is `days` UTC calendar days ending with `last` (today when not given), both
ends included: every read is bounded below and above, in SQL.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Case, CharField, Count, F, IntegerField, Max, Min, QuerySet, Sum, TextField, Value, When
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone

from audit.models import LATENCY_BOUNDS_MS, DispatchLog, ModelMetricDaily, RollupWatermark, latency_bucket_column
from audit.rollups import marginals_sql, rollup_fold
from audit.spend import client_spend_summary
from providers.models import ModelProvider
from vocabulary.wording import label


@dataclass(frozen=True, slots=True)
class Window:
    region: str | None
    days: int
    last: dt.date | None = None  # the window's last UTC day, included; None: today

    @property
    def last_day(self) -> dt.date:
        return self.last or timezone.now().astimezone(dt.UTC).date()

    @property
    def first_day(self) -> dt.date:
        return self.last_day - dt.timedelta(days=self.days - 1)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first_day, dt.time.min, tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        """The first instant after the window (exclusive upper bound)."""
        return dt.datetime.combine(self.last_day + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)


def dispatch_counts(window: Window, *, by_day: bool = False, by_region: bool = False) -> list[dict[str, Any]]:
    """Rows of {dimension, value, count, decision_us_sum[, day][, region]} for the window."""
    group = ["dimension", "value"] + (["day"] if by_day else []) + (["region"] if by_region else [])
    region_sql = " AND region = %s" if window.region else ""
    region_params: list[Any] = [window.region] if window.region else []
    # Rows above the watermark are counted live. The watermark read first gives the planner a
    # literal to range-scan the primary key with (a sub-select alone made it scan by date); the
    # sub-select, evaluated in this statement's snapshot, keeps a fold that commits in between
    # from being counted twice.
    mark = RollupWatermark.objects.filter(id=1).values_list("last_id", flat=True).first() or 0
    live_where = (
        "id > %s AND id > COALESCE((SELECT last_id FROM dispatch_rollup_watermark WHERE id = 1), 0) "
        "AND created_at >= %s AND created_at < %s" + region_sql
    )
    live_params: list[Any] = [mark, window.start, window.end, *region_params] * 8
    cols = ", ".join(group)
    sql = (
        f"SELECT {cols}, SUM(count) AS count, SUM(decision_us_sum) AS decision_us_sum FROM ("
        f"SELECT {cols}, count, decision_us_sum FROM dispatch_rollups WHERE day >= %s AND day <= %s{region_sql} "
        f"UNION ALL SELECT {cols}, 1 AS count, decision_us AS decision_us_sum "
        f"FROM ({marginals_sql(live_where)}) AS live"
        f") AS u GROUP BY {cols} ORDER BY {cols}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [window.first_day, window.last_day, *region_params, *live_params])
        names = [c[0] for c in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        row["count"] = int(row["count"])
        row["decision_us_sum"] = int(row["decision_us_sum"] or 0)
        if by_day and not isinstance(row["day"], dt.date):
            row["day"] = dt.date.fromisoformat(str(row["day"]))
    return rows


def _sums() -> dict[str, Any]:
    sums: dict[str, Any] = {
        name: Sum(name)
        for name in ("requests", "successes", "failures", "latency_ms_sum", "input_tokens", "output_tokens", "cost")
    }
    return sums


def _p95() -> Case:
    """The upper bound of the histogram bucket holding the 95th percentile (nearest rank), by the DB."""
    whens = []
    cumulative: Any = None
    for bound in LATENCY_BOUNDS_MS:
        column = Sum(latency_bucket_column(bound))
        cumulative = column if cumulative is None else cumulative + column
        whens.append(When(GreaterThanOrEqual(cumulative * 100, Sum("requests") * 95), then=Value(bound)))
    return Case(*whens, default=Value(None), output_field=IntegerField())


def _metrics(window: Window) -> QuerySet[ModelMetricDaily]:
    qs = ModelMetricDaily.objects.filter(day__gte=window.first_day, day__lte=window.last_day)
    return qs.filter(region=window.region) if window.region else qs


def provider_metrics(window: Window) -> list[dict[str, Any]]:
    rows = (
        _metrics(window)
        .values("provider_id")
        .annotate(p95_latency_ms=_p95())
        .annotate(**_sums())
        .filter(requests__gt=0)
        .order_by("provider_id")
    )
    return list(rows)  # type: ignore[arg-type]


def daily_metrics(window: Window) -> list[dict[str, Any]]:
    rows = _metrics(window).values("day").annotate(p95_latency_ms=_p95()).annotate(**_sums()).order_by("day")
    return list(rows)  # type: ignore[arg-type]


def total_metrics(window: Window) -> dict[str, Any]:
    return _metrics(window).aggregate(**_sums())


def _rate(part: int | float | Decimal, whole: int | float | Decimal | None) -> float | None:
    return round(float(part) / float(whole), 4) if whole else None


def _provider_key(value: str) -> str:
    return str(uuid.UUID(str(value)))


def analytics(*, region: str | None, days: int, last: dt.date | None = None) -> dict[str, Any]:
    """The seed's analytics shape plus per-provider figures, for one window (ending `last`, or today)."""
    rollup_fold(wait=False)
    window = Window(region, days, last)
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for row in dispatch_counts(window):
        counts[row["dimension"]][row["value"]] = row["count"]
    total = counts["total"].get("", 0)
    accepted = counts["outcome"].get("accepted", 0)
    dispatched = {_provider_key(k): v for k, v in counts["provider"].items()}
    totals = total_metrics(window)
    reported = int(totals["requests"] or 0)
    by_provider = {_provider_key(row["provider_id"]): row for row in provider_metrics(window)}
    ids = sorted(set(dispatched) | set(by_provider))
    names = {str(p.pk): p for p in ModelProvider.objects.filter(pk__in=ids).only("slug", "name")}
    providers = []
    for pid in sorted(ids, key=lambda i: (-dispatched.get(i, 0), i)):
        m = by_provider.get(pid, {})
        requests = int(m.get("requests") or 0)
        provider = names.get(pid)
        providers.append(
            {
                "provider_id": pid,
                "provider_slug": provider.slug if provider else None,
                "provider_name": provider.name if provider else None,
                "dispatches": dispatched.get(pid, 0),
                "share": _rate(dispatched.get(pid, 0), accepted),
                "outcomes_reported": requests,
                "success_rate": _rate(m.get("successes") or 0, requests),
                "average_latency_ms": round(m["latency_ms_sum"] / requests) if requests else None,
                "p95_latency_ms": m.get("p95_latency_ms"),
                "input_tokens": int(m.get("input_tokens") or 0),
                "output_tokens": int(m.get("output_tokens") or 0),
                "cost": round(float(m.get("cost") or 0), 6),
            }
        )
    return {
        "region": region,
        "days": days,
        "first_day": window.first_day.isoformat(),
        **({"last_day": window.last_day.isoformat()} if last else {}),
        "total_requests": total,
        "success_rate": _rate(totals["successes"] or 0, reported),
        "teacher_override_rate": _rate(counts["override"].get("override", 0), total) or 0.0,
        "most_used_subjects": _ranked(counts["subject"]),
        "most_used_grades": _ranked(counts["grade_band"]),
        "average_response_time_ms": round(totals["latency_ms_sum"] / reported) if reported else None,
        "accepted": accepted,
        "refused": counts["outcome"].get("refused", 0),
        "outcomes_reported": reported,
        "total_cost": round(float(totals["cost"] or 0), 6),
        "providers": providers,
    }


def _mean(row: dict[str, Any] | None) -> int | None:
    return round(row["latency_ms_sum"] / row["requests"]) if row and row["requests"] else None


def _ranked(values: dict[str, int]) -> dict[str, int]:
    return dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0])))


def dashboard_data(*, region: str | None, days: int, last: dt.date | None = None) -> dict[str, Any]:
    """Series for the dashboard charts (per day, per region, per provider, refusals, latency, cost)."""
    summary = analytics(region=region, days=days, last=last)
    window = Window(region, days, last)
    day_list = [window.first_day + dt.timedelta(days=i) for i in range(days)]
    per_day: dict[str, dict[dt.date, int]] = defaultdict(dict)
    for row in dispatch_counts(window, by_day=True):
        key = row["dimension"] if row["dimension"] in {"total", "override"} else f"{row['dimension']}:{row['value']}"
        per_day[key][row["day"]] = row["count"]
    per_region = {
        row["region"]: row["count"] for row in dispatch_counts(window, by_region=True) if row["dimension"] == "total"
    }
    metrics = {row["day"]: row for row in daily_metrics(window)}
    refusals = {k.split(":", 1)[1]: sum(v.values()) for k, v in per_day.items() if k.startswith("refusal:")}
    return {
        "summary": summary,
        "days": [d.isoformat() for d in day_list],
        "accepted": [per_day["outcome:accepted"].get(d, 0) for d in day_list],
        "refused": [per_day["outcome:refused"].get(d, 0) for d in day_list],
        # A day without traffic has no rate (null: a gap in the line), not a 0 % rate.
        "override_rate": [
            _rate(per_day["override"].get(d, 0), per_day["total"].get(d, 0)) if per_day["total"].get(d) else None
            for d in day_list
        ],
        "regions": dict(sorted(per_region.items(), key=lambda kv: -kv[1])),
        "providers": {p["provider_slug"] or p["provider_id"]: p["dispatches"] for p in summary["providers"]},
        # Codes (regions, refusal codes) -> plain words, for the charts' labels; links keep the codes.
        "labels": {code: label(code) for code in [*per_region, *refusals]},
        "provider_ids": {p["provider_slug"] or p["provider_id"]: p["provider_id"] for p in summary["providers"]},
        "refusals": _ranked(refusals),
        "latency_avg_ms": [_mean(metrics.get(d)) for d in day_list],
        "latency_p95_ms": [metrics[d]["p95_latency_ms"] if d in metrics else None for d in day_list],
        "cost": [round(float(metrics[d]["cost"] or 0), 6) if d in metrics else 0.0 for d in day_list],
        "client_spend": client_spend_summary(at=timezone.now()),
    }


def refusals_by_code(*, since: dt.datetime, until: dt.datetime) -> dict[str, int]:
    """Refused decisions per refusal code in [since, until) (the admin home's spike check)."""
    rows = (
        DispatchLog.objects.filter(outcome="refused", created_at__gte=since, created_at__lt=until)
        .order_by()
        .values_list("refusal_code")
        .annotate(n=Count("id"))
    )
    return dict(rows)


# What a replay reads of the audit log (`dispatch_log_context_groups`), in this order.
REPLAY_COLUMNS = (
    "subject",
    "grade_band",
    "region",
    "is_override",
    "override_provider_ref",
    "justification",  # an override's justification ("" otherwise)
    "who_refusal",  # an override's refusal about who asked, when it is one of `who_refusals`
    "outcome",
    "provider_id",
    "policy_id",
    "requests",
    "first_id",
    "last_id",
)


def dispatch_log_context_groups(*, since: dt.datetime, who_refusals: Iterable[str]) -> Iterator[tuple[Any, ...]]:
    """The audit rows written since `since`, grouped by the database in ONE pass (a scan and a hash
    aggregate) by context and the decision each got: tuples of `REPLAY_COLUMNS` (ids as UUIDs, or
    None), with how many rows
    each group holds and two of their ids (`dispatch_log_request_ids` names them). Only the context
    and decision columns are read, never the response text."""
    rows = (
        DispatchLog.objects.filter(created_at__gte=since)
        .order_by()
        .annotate(
            justification=Case(
                When(is_override=True, then=F("override_reason")), default=Value(""), output_field=TextField()
            ),
            who_refusal=Case(
                When(is_override=True, refusal_code__in=list(who_refusals), then=F("refusal_code")),
                default=Value(""),
                output_field=CharField(),
            ),
        )
        .values(*REPLAY_COLUMNS[:10])
        .annotate(requests=Count("id"), first_id=Min("id"), last_id=Max("id"))
        .values_list(*REPLAY_COLUMNS)
    )
    return rows.iterator(chunk_size=10_000)


def dispatch_log_request_ids(ids: Iterable[int]) -> dict[int, str]:
    """The request ids of the given audit rows (by primary key)."""
    return {pk: str(rid) for pk, rid in DispatchLog.objects.filter(pk__in=list(ids)).values_list("pk", "request_id")}
