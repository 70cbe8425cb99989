"""The administrators' dashboard and the Prometheus endpoint: thin views over selectors.

The dashboard summarises the audit log, so it needs what the audit log's admin needs: a staff
user allowed to view dispatch logs (403 otherwise; the admin index links it only for them).
"""

from __future__ import annotations

import csv
import datetime as dt
import hmac
import io
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView

from audit.admin import csv_cell
from audit.selectors import dashboard_data
from common.access_refusals import ANONYMOUS, access_refusal_record
from providers.health.selectors import provider_health_list
from vocabulary import Region


class DashboardFilterForm(forms.Form):
    """The same filters as GET /analytics: an optional known region, and 1-365 days."""

    region = forms.ChoiceField(choices=[("", "All regions"), *Region.choices], required=False)
    days = forms.IntegerField(min_value=1, max_value=365, initial=30, required=False)


def dashboard_allowed(user: Any) -> bool:
    """Whether `user` may open the dashboard: may view dispatch logs."""
    return bool(user.has_perm("audit.view_dispatchlog"))


def _filters(request: HttpRequest) -> tuple[DashboardFilterForm, str | None, int, int]:
    form = DashboardFilterForm(request.GET or None)
    region, days, status = None, 30, 200
    if form.is_bound:
        if form.is_valid():
            region = form.cleaned_data["region"] or None
            days = form.cleaned_data["days"] or 30
        else:
            status = 400
    return form, region, days, status


# What each chart shows, as CSV columns: chart -> (header, rows from the dashboard's data).
CHART_COLUMNS: dict[str, list[str]] = {
    "per_day": ["day", "accepted", "refused"],
    "override": ["day", "override_rate"],
    "regions": ["region", "dispatches"],
    "providers": ["provider", "dispatches"],
    "refusals": ["refusal_code", "refusals"],
    "latency": ["day", "average_latency_ms", "p95_latency_ms"],
    "cost": ["day", "cost"],
}


def chart_rows(chart: str, data: dict[str, Any]) -> list[list[Any]]:
    """The rows a chart draws (the same numbers, one row per bar, slice or point)."""
    days = data["days"]
    if chart == "per_day":
        return [list(row) for row in zip(days, data["accepted"], data["refused"], strict=True)]
    if chart == "override":
        return [[day, "" if rate is None else rate] for day, rate in zip(days, data["override_rate"], strict=True)]
    if chart in ("regions", "providers", "refusals"):
        return [[key, value] for key, value in data[chart].items()]
    if chart == "latency":
        return [
            [day, "" if avg is None else avg, "" if p95 is None else p95]
            for day, avg, p95 in zip(days, data["latency_avg_ms"], data["latency_p95_ms"], strict=True)
        ]
    return [list(row) for row in zip(days, data["cost"], strict=True)]


@staff_member_required
@require_GET
def dashboard_csv(request: HttpRequest) -> HttpResponse:
    """`?chart=<name>` plus the dashboard's filters: what that chart shows, as CSV."""
    if not dashboard_allowed(request.user):
        raise PermissionDenied
    chart = request.GET.get("chart", "")
    form, region, days, status = _filters(request)
    if chart not in CHART_COLUMNS or status != 200:
        allowed = ", ".join(CHART_COLUMNS)
        errors = "; ".join(f"{k}: {' '.join(str(m) for m in v)}" for k, v in form.errors.items())
        why = errors or f"chart must be one of: {allowed}"
        return HttpResponse(f"Bad request: {why}\n", status=400, content_type="text/plain; charset=utf-8")
    data = dashboard_data(region=region, days=days)
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    header = CHART_COLUMNS[chart]
    if chart == "cost":
        header = ["day", f"cost_{settings.COST_CURRENCY.lower()}"]
    writer.writerow(header)
    writer.writerows([[csv_cell(value) for value in row] for row in chart_rows(chart, data)])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    name = f"dashboard_{chart}_{region or 'all'}_{days}d.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@staff_member_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    if not dashboard_allowed(request.user):
        raise PermissionDenied
    form, region, days, status = _filters(request)
    today = dt.datetime.now(dt.UTC).date()
    context = {
        **admin.site.each_context(request),
        "title": "Dispatch dashboard",
        "form": form,
        "currency": settings.COST_CURRENCY,
        "first_day": today - dt.timedelta(days=days - 1),
        "last_day": today,
        "presets": [7, 30, 90, 365],
        "days": days,
        "region": region or "",
        "data": dashboard_data(region=region, days=days) if status == 200 else None,
        "health": _health_tile(),
    }
    return render(request, "audit/dashboard.html", context, status=status)


def _health_tile() -> dict[str, Any]:
    """The dashboard's provider health tile: who is not healthy, and trips in the last 24 h."""
    rows, shared = provider_health_list()
    return {
        "unhealthy": [row for row in rows if row.state != "healthy"],
        "trips_24h": sum(row.trips_24h for row in rows),
        "providers": len(rows),
        "shared": shared,
    }


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition (per-worker registries merged when PROMETHEUS_MULTIPROC_DIR is set).

    With METRICS_TOKEN set, only `Authorization: Bearer <token>` gets it. Without one it is open
    in development and refused under DJANGO_ENV=production (per-client counts, regions and
    error rates are not for the public); `check --deploy` warns about the missing token.
    """
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return _metrics_refused(request, 401, "metrics_token", "metrics need the bearer token (METRICS_TOKEN)")
    elif settings.PRODUCTION:
        return _metrics_refused(
            request, 403, "metrics_disabled", "metrics are off under DJANGO_ENV=production until METRICS_TOKEN is set"
        )
    return ExportToDjangoView(request)


def _metrics_refused(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    access_refusal_record(
        client=ANONYMOUS,
        who=ANONYMOUS,
        status=status,
        code=code,
        method=request.method or "",
        path=request.path,
        remote_addr=request.META.get("REMOTE_ADDR", ""),
    )
    return HttpResponse(message + "\n", status=status, content_type="text/plain")
