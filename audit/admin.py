from django.contrib import admin
from django.http import HttpRequest

from audit.models import DispatchLog


@admin.register(DispatchLog)
class DispatchLogAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "request_id",
        "region",
        "subject",
        "grade_band",
        "outcome",
        "refusal_code",
        "is_override",
        "teacher_id",
        "client_ref",
    ]
    list_filter = ["outcome", "region", "subject", "grade_band", "is_override"]
    search_fields = ["request_id", "teacher_id", "client_ref"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False
