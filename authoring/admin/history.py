"""History in admin for every authored model: who changed what, when and why; a readable diff
between any two versions; revert (simple-history's revert page, with our forms and services).

Values read as an administrator knows them: providers and templates by name and slug, a
fallback chain as its ordered list ("1. a → 2. b"), not as raw ids.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.html import format_html
from simple_history.models import ModelChange
from simple_history.template_utils import HistoricalRecordContextHelper

from authoring import services
from authoring.admin.base import REVERTING, AuthoringAdmin


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list):  # JSON lists: regions, frameworks
        return ", ".join(str(item) for item in value) or "(none)"
    return str(value)


class ReadableHistoryHelper(HistoricalRecordContextHelper):
    def prepare_delta_change_value(self, change: ModelChange, value: Any) -> Any:
        if isinstance(value, list) and all(isinstance(row, dict) for row in value):  # many-to-many rows
            rows = value
            if rows and isinstance(rows[0], dict) and "position" in rows[0]:
                rows = sorted(rows, key=lambda row: row["position"])
                return " → ".join(f"{row['position']}. {_related(row)}" for row in rows) or "(none)"
            return ", ".join(sorted(_related(row) for row in rows)) or "(none)"
        return _text(value)


def _related(row: Any) -> str:
    if not isinstance(row, dict):
        return str(row)
    for key, value in row.items():
        if key not in ("id", "position", "policy", "dispatchpolicy", "regionalrouting") and value is not None:
            slug = getattr(value, "slug", None)
            return slug or str(value)
    return "?"


def version_diff(new: Any, old: Any, model: Any) -> list[dict[str, Any]]:
    """Field-by-field changes from `old` to `new` (historical rows), readable."""
    delta = new.diff_against(old, foreign_keys_are_objs=True)
    return ReadableHistoryHelper(model, new).context_for_delta_changes(delta)


class AuthoringHistoryAdmin(AuthoringAdmin):
    """History views and the change reason for the authoring admins."""

    history_list_display = ["compare"]
    object_history_template = "admin/policies/object_history.html"

    def response_change(self, request: HttpRequest, obj: Any) -> HttpResponse:
        """After a revert: say "reverted" (to which version), and show the history with its new row."""
        reverted = getattr(request, REVERTING, None)
        if reverted is None or getattr(request, "_authoring_proposal", None) is not None:
            return super().response_change(request, obj)  # a save, or a revert proposed for review
        self._coverage_recap(request)
        opts = self.model._meta
        self.message_user(
            request,
            f"The {opts.verbose_name} “{obj}” was reverted to its version of {reverted:%Y-%m-%d %H:%M} UTC. "
            "The revert is a new version in the history below; nothing before it was removed.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[obj.pk]))

    def get_historical_record_context_helper(self, request: HttpRequest, historical_record: Any) -> Any:
        return ReadableHistoryHelper(self.model, historical_record)

    def compare(self, record: Any) -> str:
        opts = self.model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_history_compare", args=[record.instance.pk])
        return format_html('<a href="{}?old={}">compare with current</a>', url, record.pk)

    compare.short_description = "Compare"  # type: ignore[attr-defined]

    def get_urls(self) -> list[URLResolver | URLPattern]:
        opts = self.model._meta
        extra = [
            path(
                "<path:object_id>/history/compare/",
                self.admin_site.admin_view(self.history_compare_view),
                name=f"{opts.app_label}_{opts.model_name}_history_compare",
            )
        ]
        return extra + super().get_urls()

    def history_compare_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is None or not self.has_view_or_change_permission(request, obj):
            raise Http404("No such object")
        versions = list(obj.history.select_related("history_user").order_by("-history_date", "-history_id"))
        if not versions:
            raise Http404("No history")
        by_id = {str(v.history_id): v for v in versions}
        new = by_id.get(request.GET.get("new", ""), versions[0])
        default_old = versions[1] if len(versions) > 1 else versions[0]
        old = by_id.get(request.GET.get("old", ""), default_old)
        if old.history_date > new.history_date:
            old, new = new, old
        changes = version_diff(new, old, self.model) if old is not new else []
        opts = self.model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": f"Compare versions: {obj}",
            "opts": opts,
            "object": obj,
            "versions": versions,
            "old": old,
            "new": new,
            "changes": changes,
            "history_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[obj.pk]),
            "revert_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_simple_history", args=[obj.pk, old.pk]),
        }
        return TemplateResponse(request, "admin/policies/history_compare.html", context)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.authored_save(instance=obj, reason=form.cleaned_data["change_reason"], user=request.user)
