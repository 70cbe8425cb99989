"""The administrators' dashboard and the Prometheus endpoint: thin views over selectors.

The dashboard summarises the audit log, so it needs what the audit log's admin needs: a staff
user allowed to view dispatch logs (403 otherwise; the admin index links it only for them).
"""

from __future__ import annotations

import csv
import datetime as dt
import hmac
import io
from dataclasses import dataclass
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

MAX_RANGE_DAYS = 366


class DashboardFilterForm(forms.Form):
    """An optional known region, and either the last 1-365 days or a from/to range of UTC days
    (both included, from <= to, at most 366 days; it wins over `days`)."""

    region = forms.ChoiceField(choices=[("", "All regions"), *Region.choices], required=False)
    days = forms.IntegerField(min_value=1, max_value=365, initial=30, required=False)
    start = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="UTC day, included"
    )
    end = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="UTC day, included"
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if (start is None) != (end is None) and not self.errors.get("start") and not self.errors.get("end"):
            missing = "end" if end is None else "start"
            self.add_error(missing, "Give both From and To (or neither, for the last N days).")
        elif start and end:
            if start > end:
                self.add_error("end", f"To ({end.isoformat()}) must be on or after From ({start.isoformat()}).")
            elif (span := (end - start).days + 1) > MAX_RANGE_DAYS:
                self.add_error("end", f"A range is at most {MAX_RANGE_DAYS} days; this one is {span}.")
        return data


@dataclass(frozen=True)
class DashboardRange:
    region: str | None
    days: int
    last: dt.date | None  # None: ends today

    @property
    def query(self) -> str:
        """The range as a query string (for the CSV links)."""
        if self.last is not None:
            first = self.last - dt.timedelta(days=self.days - 1)
            text = f"start={first.isoformat()}&end={self.last.isoformat()}"
        else:
            text = f"days={self.days}"
        return text + (f"&region={self.region}" if self.region else "")


def dashboard_allowed(user: Any) -> bool:
    """Whether `user` may open the dashboard: may view dispatch logs."""
    return bool(user.has_perm("audit.view_dispatchlog"))


def _filters(request: HttpRequest) -> tuple[DashboardFilterForm, DashboardRange, int]:
    form = DashboardFilterForm(request.GET or None)
    chosen, status = DashboardRange(None, 30, None), 200
    if form.is_bound:
        if form.is_valid():
            data = form.cleaned_data
            region = data["region"] or None
            if data.get("start") and data.get("end"):
                chosen = DashboardRange(region, (data["end"] - data["start"]).days + 1, data["end"])
            else:
                chosen = DashboardRange(region, data["days"] or 30, None)
        else:
            status = 400
    return form, chosen, status


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
    form, chosen, status = _filters(request)
    if chart not in CHART_COLUMNS or status != 200:
        allowed = ", ".join(CHART_COLUMNS)
        errors = "; ".join(f"{k}: {' '.join(str(m) for m in v)}" for k, v in form.errors.items())
        why = errors or f"chart must be one of: {allowed}"
        return HttpResponse(f"Bad request: {why}\n", status=400, content_type="text/plain; charset=utf-8")
    data = dashboard_data(region=chosen.region, days=chosen.days, last=chosen.last)
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    header = CHART_COLUMNS[chart]
    if chart == "cost":
        header = ["day", f"cost_{settings.COST_CURRENCY.lower()}"]
    writer.writerow(header)
    writer.writerows([[csv_cell(value) for value in row] for row in chart_rows(chart, data)])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    span = f"{data['days'][0]}_{data['days'][-1]}" if chosen.last else f"{chosen.days}d"
    name = f"dashboard_{chart}_{chosen.region or 'all'}_{span}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@staff_member_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    if not dashboard_allowed(request.user):
        raise PermissionDenied
    form, chosen, status = _filters(request)
    last_day = chosen.last or dt.datetime.now(dt.UTC).date()
    context = {
        **admin.site.each_context(request),
        "title": "Dispatch dashboard",
        "form": form,
        "currency": settings.COST_CURRENCY,
        "first_day": last_day - dt.timedelta(days=chosen.days - 1),
        "last_day": last_day,
        "ends_today": chosen.last is None,
        "presets": [7, 30, 90, 365],
        "days": chosen.days if chosen.last is None else None,
        "region": chosen.region or "",
        "range_query": chosen.query,
        "data": dashboard_data(region=chosen.region, days=chosen.days, last=chosen.last) if status == 200 else None,
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
