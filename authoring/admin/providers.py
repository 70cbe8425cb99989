"""Admin for providers and prompt templates: declarative; forms and history come from policies."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from authoring.admin.history import AuthoringHistoryAdmin
from authoring.forms import ModelProviderForm, PromptTemplateForm
from providers.models import ModelProvider, PromptTemplate
from vocabulary import Region


class HostingRegionFilter(admin.SimpleListFilter):
    title = "hosting region"
    parameter_name = "hosted_in"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(Region.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value in Region.values:
            return queryset.filter(hosting_regions__icontains=f'"{value}"')
        return queryset


@admin.register(ModelProvider)
class ModelProviderAdmin(AuthoringHistoryAdmin):
    form = ModelProviderForm
    list_display = ["name", "slug", "vendor", "regions", "frameworks", "is_active", "requests_per_minute"]
    list_filter = ["is_active", HostingRegionFilter, "vendor"]
    search_fields = ["name", "slug", "vendor", "model_name"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "vendor", "model_name", "endpoint_url", "is_active"]}),
        (
            "Where it may serve",
            {"fields": ["hosting_regions", "compliance_frameworks", ("encrypts_in_transit", "encrypts_at_rest")]},
        ),
        (
            "Limits and prices",
            {
                "fields": [
                    ("requests_per_minute", "tokens_per_minute"),
                    ("cost_per_1k_input_tokens", "cost_per_1k_output_tokens"),
                ]
            },
        ),
        (
            "Health (empty: the PROVIDER_HEALTH_* default; docs/reliability.md)",
            {
                "fields": [
                    ("health_failures_to_trip", "health_failure_rate_percent"),
                    ("health_min_outcomes", "health_cooldown_seconds"),
                ]
            },
        ),
        ("This change", {"fields": ["change_reason", "confirm_coverage_loss"]}),
    ]

    @admin.display(description="hosting regions")
    def regions(self, obj: ModelProvider) -> str:
        return ", ".join(obj.hosting_regions or [])

    @admin.display(description="frameworks")
    def frameworks(self, obj: ModelProvider) -> str:
        return ", ".join(obj.compliance_frameworks or [])


@admin.register(PromptTemplate)
class PromptTemplateAdmin(AuthoringHistoryAdmin):
    form = PromptTemplateForm
    list_display = ["slug", "name", "subject", "grade_band", "version", "is_active"]
    list_filter = ["is_active", "subject", "grade_band"]
    search_fields = ["slug", "name", "subject", "grade_band"]
    fieldsets = [
        (None, {"fields": ["slug", "name", ("subject", "grade_band"), "body", ("version", "is_active")]}),
        ("This change", {"fields": ["change_reason"]}),
    ]
