"""Spend per client and period: what a client's reported outcomes cost in the current UTC day or month.

Rules that must stay true:
- Spend is added to only by `outcome_report`'s transaction (`client_spend_add`), one upsert for the
  day and the month rows, so concurrent reports add up exactly (the row lock serialises them) and a
  report is counted once. PostgreSQL is the truth; dispatch reads it (`client_spend_current`) only
  for a client with a budget, one indexed row.
- A report counts in the period of its report time (not the dispatch's): the spend of the current
  period only grows, so a threshold is crossed once.
- The 80 % and 100 % alerts of a budget fire once per client and period: the row remembers when
  each was raised (`alerted_80_at`, `alerted_100_at`), set by a conditional UPDATE.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection

from audit.models import ClientSpend, SpendPeriod
from audit.signals import client_budget_crossed

MICRO = Decimal("0.000001")
THRESHOLDS = (80, 100)  # percent of the budget at which an alert is raised


@dataclass(frozen=True, slots=True)
class SpendBudget:
    """A client's budget as the audit trail needs it: how much, per which period."""

    amount: Decimal
    period: str  # SpendPeriod


def period_start(period: str, at: dt.datetime) -> dt.date:
    """The first UTC day of the `period` that holds `at`."""
    day = at.astimezone(dt.UTC).date()
    return day.replace(day=1) if period == SpendPeriod.MONTH else day


def period_end(period: str, at: dt.datetime) -> dt.datetime:
    """When the `period` holding `at` ends (UTC midnight)."""
    start = period_start(period, at)
    if period == SpendPeriod.MONTH:
        following = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    else:
        following = start + dt.timedelta(days=1)
    return dt.datetime.combine(following, dt.time(), tzinfo=dt.UTC)


def _decimal(value: object) -> Decimal:
    return Decimal(str(value)).quantize(MICRO)


def client_spend_current(*, client_ref: str, period: str, at: dt.datetime) -> Decimal:
    """What `client_ref` has spent in the `period` holding `at` (one indexed row, or 0)."""
    spent = (
        ClientSpend.objects.filter(client_ref=client_ref, period=period, period_start=period_start(period, at))
        .values_list("spent", flat=True)
        .first()
    )
    return _decimal(spent or 0)


def client_spend_summary(*, at: dt.datetime, limit: int = 20) -> list[dict[str, Any]]:
    """Spend per client in the UTC day and month holding `at`, the biggest spenders this month first
    (the dashboard's table); two indexed reads of at most `limit` rows each."""
    month = {
        row.client_ref: row
        for row in ClientSpend.objects.filter(
            period=SpendPeriod.MONTH, period_start=period_start(SpendPeriod.MONTH, at)
        ).order_by("-spent", "client_ref")[:limit]
    }
    today = dict(
        ClientSpend.objects.filter(
            period=SpendPeriod.DAY, period_start=period_start(SpendPeriod.DAY, at), client_ref__in=list(month)
        ).values_list("client_ref", "spent")
    )
    return [
        {
            "client": ref,
            "today": round(float(today.get(ref) or 0), 6),
            "month": round(float(row.spent), 6),
            "outcomes_month": row.outcomes,
        }
        for ref, row in month.items()
    ]


def client_spend_add(
    *, client_ref: str, cost: Decimal, at: dt.datetime, budget: SpendBudget | None
) -> dict[str, Decimal]:
    """Add one outcome's `cost` to the client's day and month (call inside the outcome's
    transaction); the new totals by period. With a `budget`, raise its 80 % / 100 % alert (the
    `client_budget_crossed` signal, in this transaction) the first time its period reaches it."""
    table = ClientSpend._meta.db_table
    rows: list[str | dt.date | Decimal] = []
    for period in (SpendPeriod.DAY, SpendPeriod.MONTH):
        rows += [client_ref, period.value, period_start(period, at), cost]
    sql = (
        f"INSERT INTO {table} (client_ref, period, period_start, spent, outcomes) "
        "VALUES (%s, %s, %s, %s, 1), (%s, %s, %s, %s, 1) "
        f"ON CONFLICT (client_ref, period, period_start) DO UPDATE SET spent = {table}.spent + EXCLUDED.spent, "
        f"outcomes = {table}.outcomes + 1 "
        "RETURNING id, period, spent, alerted_80_at, alerted_100_at"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, rows)
        returned = cursor.fetchall()
    totals = {str(period): _decimal(spent) for _, period, spent, _, _ in returned}
    if budget is None:
        return totals
    for row_id, period, spent, alerted_80, alerted_100 in returned:
        if period != budget.period:
            continue
        spent_now = _decimal(spent)
        for threshold, alerted in zip(THRESHOLDS, (alerted_80, alerted_100), strict=True):
            if alerted is not None or spent_now * 100 < budget.amount * threshold:
                continue
            column = f"alerted_{threshold}_at"
            claimed = ClientSpend.objects.filter(pk=row_id, **{f"{column}__isnull": True}).update(**{column: at})
            if claimed:  # once per client and period, whatever the workers
                client_budget_crossed.send(
                    sender=ClientSpend,
                    client_ref=client_ref,
                    threshold=threshold,
                    period=period,
                    period_start=period_start(period, at),
                    limit=budget.amount,
                    spent=spent_now,
                    at=at,
                )
    return totals
