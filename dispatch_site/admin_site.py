"""The admin site: named after the product, its index grouped the way an administrator thinks.

Groups: Providers (providers, prompt templates, the provider health page), Policies (dispatch
policies, the simulator, the coverage map), Regions (regional routing rules), Audit (whatever the
audit app registers, and the dashboard); any other app keeps its own group after them. A tool is
listed only for users whose permissions open it (the views check the same functions).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse

# (group name, [(app_label, model object_name), ...]) in display order.
GROUPS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Providers", [("providers", "ModelProvider"), ("providers", "Agreement"), ("providers", "PromptTemplate")]),
    ("Policies", [("policies", "DispatchPolicy")]),
    ("Regions", [("policies", "RegionalRouting")]),
]
AUDIT_APP = "audit"


class DispatchAdminSite(admin.AdminSite):
    site_header = "Model Dispatch Service administration"
    site_title = "Model Dispatch Service"
    index_title = "Authoring: providers, policies, regions, audit"

    def get_urls(self) -> list[URLResolver | URLPattern]:
        from authoring.admin import health, tools

        extra = [
            path("provider-health/", self.admin_view(health.provider_health_view), name="provider-health"),
            path("simulator/", self.admin_view(tools.simulator_view), name="simulator"),
            path("coverage/", self.admin_view(tools.coverage_view), name="coverage"),
        ]
        return extra + super().get_urls()

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        """The index, with the compliance calendar for those who may see agreements."""
        context = dict(extra_context or {})
        if request.user.has_perm("providers.view_agreement"):
            from authoring.calendar import compliance_calendar
            from common.clock import service_today
            from policies.snapshot import snapshot_build
            from providers.agreements import EXPIRING_WITHIN_DAYS

            today = service_today()
            context["compliance_calendar"] = compliance_calendar(snapshot=snapshot_build(on=today), today=today)
            context["calendar_days"] = EXPIRING_WITHIN_DAYS
        return super().index(request, context)

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        if app_label is not None:
            return super().get_app_list(request, app_label)
        apps = {app["app_label"]: app for app in super().get_app_list(request)}
        by_model = {(label, m["object_name"]): m for label, app in apps.items() for m in app["models"]}
        grouped: list[dict[str, Any]] = []
        used: set[tuple[str, str]] = set()
        from audit.views import dashboard_allowed
        from authoring.admin.health import provider_health_allowed
        from authoring.admin.tools import policy_tools_allowed

        for name, members in GROUPS:
            models = [by_model[key] for key in members if key in by_model]
            used.update(key for key in members if key in by_model)
            if name == "Providers" and provider_health_allowed(request.user):
                models.append(self._tool("Provider health", "admin:provider-health"))
            if name == "Policies" and policy_tools_allowed(request.user):
                models += [self._tool("Simulator", "admin:simulator"), self._tool("Coverage map", "admin:coverage")]
            if models:
                first = members[0][0]
                grouped.append(self._group(name, first, models, apps))
        if AUDIT_APP in apps:
            audit_models = list(apps[AUDIT_APP]["models"])
            if dashboard_allowed(request.user):
                audit_models.append(self._tool("Dashboard", "audit-dashboard"))
            grouped.append({**apps[AUDIT_APP], "name": "Audit", "models": audit_models})
            used.update((AUDIT_APP, m["object_name"]) for m in apps[AUDIT_APP]["models"])
        for label, app in apps.items():
            rest = [m for m in app["models"] if (label, m["object_name"]) not in used]
            if rest:
                grouped.append({**app, "models": rest})
        return grouped

    @staticmethod
    def _group(name: str, app_label: str, models: list[dict[str, Any]], apps: dict[str, Any]) -> dict[str, Any]:
        base = apps.get(app_label, {})
        return {
            "name": name,
            "app_label": app_label,
            "app_url": base.get("app_url", ""),
            "has_module_perms": True,
            "models": models,
        }

    @staticmethod
    def _tool(name: str, url_name: str) -> dict[str, Any]:
        return {
            "name": name,
            "object_name": name.replace(" ", ""),
            "perms": {"view": True},
            "admin_url": reverse(url_name),
            "add_url": None,
            "view_only": True,
        }
