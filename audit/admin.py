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

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import URLPattern, path
from django.utils.html import format_html

from audit.models import AuditCheckpoint, AuditPurge, DispatchLog, DispatchOutcome

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


@admin.register(DispatchLog)
class DispatchLogAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "request_id",
        "region",
        "subject",
        "grade_band",
        "provider",
        "outcome",
        "refusal_code",
        "is_override",
        "teacher_id",
        "client_ref",
    ]
    list_filter = [
        ("created_at", admin.DateFieldListFilter),
        "region",
        "subject",
        "grade_band",
        ("provider", admin.RelatedOnlyFieldListFilter),
        "outcome",
        "is_override",
        ("client_ref", admin.AllValuesFieldListFilter),
    ]
    search_fields = ["request_id"]
    search_help_text = "Exact request id (UUID), teacher id or client"
    list_select_related = ["provider"]
    show_full_result_count = False
    change_list_template = "admin/audit/dispatchlog/change_list.html"
    readonly_fields = ["explanation", "reported_outcome_display", *CSV_FIELDS, "fingerprint", "digest"]
    fieldsets = [
        ("Decision", {"fields": ["request_id", "created_at", "region", "subject", "grade_band", "outcome"]}),
        ("Explanation", {"fields": ["explanation"]}),
        ("Outcome reported by the app", {"fields": ["reported_outcome_display"]}),
        (
            "Record",
            {
                "fields": [
                    "id",
                    "client_ref",
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
                    "fingerprint",
                    "digest",
                ]
            },
        ),
    ]

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

    @admin.display(description="Explanation (the response returned)")
    def explanation(self, obj: DispatchLog) -> str:
        try:
            pretty = json.dumps(json.loads(obj.response), indent=2, ensure_ascii=False)
        except ValueError:
            pretty = obj.response
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', pretty)

    @admin.display(description="Outcome")
    def reported_outcome_display(self, obj: DispatchLog) -> str:
        outcome = DispatchOutcome.objects.filter(pk=obj.pk).first()
        if outcome is None:
            return "not reported"
        result = "success" if outcome.success else f"failure ({outcome.error_code or 'no code'})"
        return (
            f"{result}, {outcome.latency_ms} ms, {outcome.input_tokens} in / {outcome.output_tokens} out tokens, "
            f"cost {outcome.cost}, reported {outcome.reported_at:%Y-%m-%d %H:%M:%S} UTC"
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
