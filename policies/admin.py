from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from policies.models import DispatchPolicy, PolicyFallback, RegionalRouting


class PolicyFallbackInline(admin.TabularInline):
    model = PolicyFallback
    extra = 1
    ordering = ["position"]


@admin.register(DispatchPolicy)
class DispatchPolicyAdmin(SimpleHistoryAdmin):
    list_display = ["name", "subject", "grade_band", "region", "primary_provider", "priority", "is_active"]
    list_filter = ["is_active", "subject", "grade_band", "region"]
    search_fields = ["name"]
    filter_horizontal = ["templates"]
    inlines = [PolicyFallbackInline]


@admin.register(RegionalRouting)
class RegionalRoutingAdmin(SimpleHistoryAdmin):
    list_display = ["region", "data_center", "data_residency_required", "encryption_required"]
    filter_horizontal = ["allowed_providers", "blocked_providers"]
