"""The administrators' dashboard and the Prometheus endpoint: thin views over selectors.

The dashboard summarises the audit log, so it needs what the audit log's admin needs: a staff
user allowed to view dispatch logs (403 otherwise; the admin index links it only for them).
"""

from __future__ import annotations

import hmac
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


@staff_member_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    if not dashboard_allowed(request.user):
        raise PermissionDenied
    form = DashboardFilterForm(request.GET or None)
    region, days, status = None, 30, 200
    if form.is_bound:
        if form.is_valid():
            region = form.cleaned_data["region"] or None
            days = form.cleaned_data["days"] or 30
        else:
            status = 400
    context = {
        **admin.site.each_context(request),
        "title": "Dispatch dashboard",
        "form": form,
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
