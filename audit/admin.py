"""The audit log in admin: read-only, filterable, searchable by request id, exportable as CSV.

The CSV is opened in spreadsheets, and its text comes from API clients (`override_reason`,
`teacher_id`, ...): every text cell that a spreadsheet could read as a formula (starting with
=, +, -, @, tab or carriage return, or their fullwidth forms) gets a leading single quote, and
every cell is quoted (OWASP, "CSV Injection").
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from audit.models import AuditCheckpoint, AuditPurge, DispatchLog, DispatchOutcome
from vocabulary.wording import label, level_words, money, reason_words, refusal_words


class NamedValuesFilter(admin.AllValuesFieldListFilter):
    """Every value of a text field, with the empty text named ("(none)") rather than an empty link."""

    def choices(self, changelist: Any) -> Iterator[Any]:
        for choice in super().choices(changelist):
            display = str(choice["display"])
            if display == "" or display.startswith(" ("):
                choice["display"] = "(none)" + display
            yield choice


CSV_FIELDS = [
    "id",
    "created_at",
    "request_id",
    "client_ref",
    "region",
    "subject",
    "grade_band",
    "outcome",
    "status_code",
    "refusal_code",
    "level",
    "policy_id",
    "provider_id",
    "is_override",
    "override_provider_ref",
    "override_reason",
    "teacher_id",
    "decision_us",
    "snapshot_version",
]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False


class _Echo:
    def write(self, value: str) -> str:
        return value


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value: object) -> object:
    """`value` safe for a spreadsheet: text that could start a formula is prefixed with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class RefusalFilter(admin.SimpleListFilter):
    """Refused rows by why, in plain words (the codes that occur; accepted rows have none)."""

    title = "why refused"
    parameter_name = "refusal_code"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        refused = DispatchLog.objects.exclude(refusal_code="").order_by()
        codes = refused.values_list("refusal_code", flat=True).distinct()
        return [(code, refusal_words(code)) for code in sorted(codes)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[DispatchLog]) -> QuerySet[DispatchLog]:
        return queryset.filter(refusal_code=self.value()) if self.value() else queryset


def _admin_link(name: str, pk: object, text: str) -> SafeString:
    return format_html('<a href="{}">{}</a>', reverse(f"admin:{name}_change", args=[pk]), text)


@admin.register(DispatchLog)
class DispatchLogAdmin(ReadOnlyAdmin):
    # Narrow, plain columns so the key ones (outcome, refusal, override, teacher, client) fit 1280 px.
    list_display = ["when", "context", "outcome_words", "served_or_refused", "override", "teacher_id", "client_ref"]
    list_display_links = ["when"]
    list_filter = [
        ("created_at", admin.DateFieldListFilter),
        "region",
        "subject",
        "grade_band",
        ("provider", admin.RelatedOnlyFieldListFilter),
        "outcome",
        RefusalFilter,
        "is_override",
        ("client_ref", NamedValuesFilter),
    ]
    search_fields = ["request_id"]
    search_help_text = "Exact request id (UUID), teacher id or client"
    list_select_related = ["provider"]
    show_full_result_count = False
    change_list_template = "admin/audit/dispatchlog/change_list.html"
    readonly_fields = [
        "explanation",
        "reported_outcome_display",
        "refusal_words",
        "level_display",
        "policy_link",
        "provider_link",
        "override_display",
        "decision_time",
        "snapshot_display",
        *CSV_FIELDS,
        "fingerprint",
        "digest",
    ]
    fieldsets = [
        (
            "Decision",
            {
                "fields": [
                    "request_id",
                    "created_at",
                    "region",
                    "subject",
                    "grade_band",
                    "outcome",
                    "refusal_words",
                    "provider_link",
                    "policy_link",
                    "level_display",
                ]
            },
        ),
        ("Explanation", {"fields": ["explanation"]}),
        ("Teacher override", {"fields": ["override_display", "teacher_id", "override_reason"]}),
        ("Outcome reported by the app", {"fields": ["reported_outcome_display"]}),
        (
            "Record",
            {
                "classes": ["collapse"],
                "fields": [
                    "id",
                    "client_ref",
                    "status_code",
                    "refusal_code",
                    "decision_time",
                    "snapshot_display",
                    "fingerprint",
                    "digest",
                ],
            },
        ),
    ]

    @admin.display(description="When (UTC)", ordering="created_at")
    def when(self, obj: DispatchLog) -> str:
        return f"{obj.created_at:%Y-%m-%d %H:%M:%S}"

    @admin.display(description="Class", ordering="region")
    def context(self, obj: DispatchLog) -> str:
        return f"{label(obj.subject)}, {label(obj.grade_band)}, {label(obj.region)}"

    @admin.display(description="Outcome", ordering="outcome")
    def outcome_words(self, obj: DispatchLog) -> str:
        return label(obj.outcome)

    @admin.display(description="Provider or why refused")
    def served_or_refused(self, obj: DispatchLog) -> str:
        if obj.provider_id is not None and obj.provider is not None:
            return obj.provider.name
        return refusal_words(obj.refusal_code)

    @admin.display(description="Override", ordering="is_override")
    def override(self, obj: DispatchLog) -> str:
        return obj.override_provider_ref if obj.is_override else ""

    @admin.display(description="Why refused")
    def refusal_words(self, obj: DispatchLog) -> str:
        if not obj.refusal_code:
            return "not refused"
        return format_html("{} <small>(<code>{}</code>)</small>", refusal_words(obj.refusal_code), obj.refusal_code)

    @admin.display(description="Provider")
    def provider_link(self, obj: DispatchLog) -> str:
        if obj.provider_id is None:
            return "none: the request was refused"
        return _admin_link("providers_modelprovider", obj.provider_id, str(obj.provider))

    @admin.display(description="Policy")
    def policy_link(self, obj: DispatchLog) -> str:
        if obj.policy_id is None:
            return "none matched"
        return _admin_link("policies_dispatchpolicy", obj.policy_id, str(obj.policy))

    @admin.display(description="Policy matched on")
    def level_display(self, obj: DispatchLog) -> str:
        return level_words(obj.level) or "—"

    @admin.display(description="Override")
    def override_display(self, obj: DispatchLog) -> str:
        if not obj.is_override:
            return "no: the policy's own choice was asked for"
        return f"yes: {obj.override_provider_ref} was asked for"

    @admin.display(description="Time to decide")
    def decision_time(self, obj: DispatchLog) -> str:
        return f"{obj.decision_us / 1000:.1f} ms"

    @admin.display(description="Policies in force (snapshot version)")
    def snapshot_display(self, obj: DispatchLog) -> str:
        return f"version {obj.snapshot_version}"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[DispatchLog], search_term: str
    ) -> tuple[QuerySet[DispatchLog], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(request_id=uuid.UUID(term)), False
        except ValueError:  # not a UUID: a teacher id or a client
            return queryset.filter(Q(teacher_id=term) | Q(client_ref=term)), False

    @admin.display(description="Explanation")
    def explanation(self, obj: DispatchLog) -> str:
        """The explanation the client received, as a readable list (the raw body is in the CSV export)."""
        try:
            body: dict[str, Any] = json.loads(obj.response)
        except ValueError:
            return format_html('<pre style="white-space: pre-wrap">{}</pre>', obj.response)
        explanation = body.get("explanation") or {}
        error = body.get("error") or {}
        lines: list[tuple[str, ...]] = []
        if error:
            lines.append((f"Refused: {refusal_words(error.get('code'))}", f" ({error.get('message', '')})"))
        elif body.get("provider_name"):
            lines.append((f"Served by {body['provider_name']}", f" (endpoint {body.get('endpoint_url', '')})"))
        if explanation.get("policy_name"):
            level = level_words(explanation.get("level"))
            lines.append((f"Policy: {explanation['policy_name']}", f", matched on {level}"))
        for step in explanation.get("passed_over", []):
            what = "Policy" if step.get("kind") == "policy" else "Provider"
            why = reason_words(step.get("reason"))
            lines.append((f"{what} {step.get('name')} passed over: it {why}", f" ({step.get('detail')})"))
        if not explanation.get("passed_over"):
            lines.append(("Nothing was passed over", ""))
        return format_html('<ul class="explanation">{}</ul>', format_html_join("", "<li>{}{}</li>", lines))

    @admin.display(description="Outcome")
    def reported_outcome_display(self, obj: DispatchLog) -> str:
        outcome = DispatchOutcome.objects.filter(pk=obj.pk).first()
        if outcome is None:
            return "not reported"
        result = "success" if outcome.success else f"failure ({outcome.error_code or 'no code'})"
        return (
            f"{result}, {outcome.latency_ms} ms, {outcome.input_tokens} in / {outcome.output_tokens} out tokens, "
            f"cost {money(outcome.cost, settings.COST_CURRENCY)}, reported {outcome.reported_at:%Y-%m-%d %H:%M:%S} UTC"
        )

    def get_urls(self) -> list[URLPattern]:
        export = path("export.csv", self.admin_site.admin_view(self.export_csv), name="audit_dispatchlog_export")
        return [export, *super().get_urls()]

    def export_csv(self, request: HttpRequest) -> StreamingHttpResponse:
        """The rows of the change list as filtered and searched (same query string), as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        rows = changelist.get_queryset(request).values_list(*CSV_FIELDS).iterator(chunk_size=2000)
        writer = csv.writer(_Echo(), quoting=csv.QUOTE_ALL)

        def lines() -> Iterator[str]:
            yield writer.writerow(CSV_FIELDS)
            for row in rows:
                yield writer.writerow([csv_cell(value) for value in row])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="dispatch_logs.csv"'
        return response


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyAdmin):
    list_display = ["seq", "first_id", "last_id", "row_count", "max_created_at", "created_at"]


@admin.register(AuditPurge)
class AuditPurgeAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "finished_at", "older_than_days", "cutoff", "through_id", "rows_deleted"]
