"""Admin for providers, their data privacy agreements and prompt templates: declarative; forms and
history come from authoring; an agreement's status is `providers.agreements`'s, on the service's
UTC date."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from authoring.admin.history import AuthoringHistoryAdmin
from authoring.forms import AgreementForm, ModelProviderForm, PromptTemplateForm
from common.clock import service_today
from providers.agreements import AgreementStatus, agreement_covers_filter, agreement_status, agreement_status_filter
from providers.models import Agreement, ModelProvider, PromptTemplate
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
    list_display = [
        "name",
        "slug",
        "vendor",
        "regions",
        "frameworks",
        "minimum_user_age",
        "is_active",
        "requests_per_minute",
    ]
    list_filter = ["is_active", HostingRegionFilter, "vendor"]
    search_fields = ["name", "slug", "vendor", "model_name"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "vendor", "model_name", "endpoint_url", "is_active"]}),
        (
            "Where it may serve",
            {
                "fields": [
                    "hosting_regions",
                    "compliance_frameworks",
                    ("encrypts_in_transit", "encrypts_at_rest"),
                    "minimum_user_age",
                ]
            },
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


class AgreementStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(AgreementStatus.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value in AgreementStatus.values:
            return queryset.filter(agreement_status_filter(value, today=service_today()))
        return queryset


class AgreementRegionFilter(admin.SimpleListFilter):
    """Agreements covering a region: those naming it, and those covering every region."""

    title = "region covered"
    parameter_name = "covers"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(Region.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value in Region.values:
            return queryset.filter(agreement_covers_filter(value))
        return queryset


@admin.register(Agreement)
class AgreementAdmin(AuthoringHistoryAdmin):
    form = AgreementForm
    list_display = ["reference", "provider", "covers", "signed_on", "expires_on", "min_age_covered", "status"]
    list_filter = [AgreementStatusFilter, "provider", AgreementRegionFilter]
    list_select_related = ["provider"]
    search_fields = ["reference", "provider__slug", "provider__name", "notes"]
    date_hierarchy = "expires_on"
    fieldsets = [
        (None, {"fields": ["reference", "provider", "regions"]}),
        ("In force", {"fields": [("signed_on", "expires_on"), "min_age_covered"]}),
        ("Document", {"fields": ["document_url", "notes"]}),
        ("This change", {"fields": ["change_reason", "confirm_coverage_loss"]}),
    ]

    @admin.display(description="regions")
    def covers(self, obj: Agreement) -> str:
        return ", ".join(obj.regions or []) or "every region"

    @admin.display(description="status")
    def status(self, obj: Agreement) -> str:
        return AgreementStatus(
            agreement_status(signed_on=obj.signed_on, expires_on=obj.expires_on, today=service_today())
        ).label
