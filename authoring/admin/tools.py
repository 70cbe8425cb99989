"""Admin pages that read the authored world through the engine: the simulator and the coverage map.

Both read through `policies.selectors` (the same snapshot and engine as `POST /dispatch`), and
neither writes anything (no audit row: a simulation is not a dispatch). Both show the authored
policies, so a staff user needs the permission to view dispatch policies (403 otherwise); the
admin index links them only for such users.
"""

from __future__ import annotations

import json
import shlex
import time
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from authoring.forms import CoverageForm, SimulatorForm
from policies.engine import DispatchContext, OverrideRequest
from policies.presentation import LEVEL_LABELS, decision_body
from policies.selectors import coverage_map, decision_preview
from providers.models import PromptTemplate
from vocabulary import GradeBand, Region, Subject


def policy_tools_allowed(user: Any) -> bool:
    """Whether `user` may open the simulator and the coverage map: may view dispatch policies
    (the admin's own rule: the change permission implies viewing)."""
    return bool(user.has_perm("policies.view_dispatchpolicy") or user.has_perm("policies.change_dispatchpolicy"))


def _context(request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {**admin.site.each_context(request), "title": title, **extra}


TEACHER_PLACEHOLDER = "__TEACHER_ID__"


def simulation_curl(request: HttpRequest, data: dict[str, Any]) -> str:
    """The `POST /dispatch` this simulation stands for, as a curl command against this server.

    The key comes from `$KEY` (`Authorization: Api-Key $KEY`); an override also needs `$TEACHER_ID`
    (a teacher the key may act for: the simulator assumes one who teaches in the region)."""
    body: dict[str, Any] = {"subject": data["subject"], "grade_band": data["grade_band"], "region": data["region"]}
    provider = data.get("override_provider")
    if provider is not None:
        body |= {
            "teacher_override": True,
            "teacher_id": TEACHER_PLACEHOLDER,
            "override_provider_id": provider.slug,
            "override_reason": data.get("override_reason", ""),
        }
    quoted = shlex.quote(json.dumps(body, ensure_ascii=False)).replace(TEACHER_PLACEHOLDER, "'\"$TEACHER_ID\"'")
    return (
        f"curl -X POST {request.build_absolute_uri('/dispatch')} \\\n"
        '  -H "Authorization: Api-Key $KEY" -H "Content-Type: application/json" \\\n'
        f"  -d {quoted}"
    )


def simulator_view(request: HttpRequest) -> HttpResponse:
    if not policy_tools_allowed(request.user):
        raise PermissionDenied
    form = SimulatorForm(request.GET or None)
    result: dict[str, Any] | None = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        context = DispatchContext(data["subject"], data["grade_band"], data["region"])
        provider = data.get("override_provider")
        override = None
        if provider is not None:
            override = OverrideRequest(provider_id=provider.slug, justification=data.get("override_reason", ""))
        preview = decision_preview(context=context, override=override)
        decision, snapshot = preview.decision, preview.snapshot
        body = decision_body(decision, snapshot, request_id="simulation")
        body.pop("request_id", None)
        templates = PromptTemplate.objects.filter(pk__in=body.get("template_ids", [])).order_by("slug")
        result = {
            "templates": [t.slug for t in templates],
            "decision": decision,
            "body": body,
            "level_label": LEVEL_LABELS.get(decision.level or "", ""),
            "snapshot_version": snapshot.version,
            "curl": simulation_curl(request, data),
        }
    return TemplateResponse(
        request,
        "admin/policies/simulator.html",
        _context(request, "Policy simulator", form=form, result=result),
    )


def coverage_view(request: HttpRequest) -> HttpResponse:
    if not policy_tools_allowed(request.user):
        raise PermissionDenied
    form = CoverageForm(request.GET or None)
    region = form.cleaned_data["region"] if form.is_valid() else ""
    started = time.perf_counter()
    coverage = coverage_map(region=region or None)
    snapshot, regions, cells = coverage.snapshot, coverage.regions, coverage.cells
    labels = dict(Region.choices)
    by_key = {(c.region, c.subject, c.grade_band): c for c in cells}
    tables = [
        {
            "region": r,
            "label": labels.get(r, r),
            "configured": r in snapshot.rules,
            "rows": [
                {"subject": label, "cells": [by_key[(r, subject, band)] for band in GradeBand.values]}
                for subject, label in Subject.choices
            ],
        }
        for r in regions
    ]
    gaps = coverage.gaps
    unconfigured = [labels[r] for r in coverage.unconfigured_regions]
    refusing = [labels[r] for r in coverage.refusing_regions]
    return TemplateResponse(
        request,
        "admin/policies/coverage.html",
        _context(
            request,
            "Coverage map",
            form=form,
            tables=tables,
            grade_bands=GradeBand.choices,
            gaps=gaps,
            gap_groups=coverage.gap_groups,
            refusing=refusing if not region else [r for r in refusing if r == labels.get(region)],
            region_count=len(Region.values) if not region else 1,
            cell_count=len(cells),
            unconfigured=unconfigured if not region else [],
            level_labels=LEVEL_LABELS,
            snapshot_version=snapshot.version,
            elapsed_ms=(time.perf_counter() - started) * 1000,
        ),
    )
