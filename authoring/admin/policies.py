"""Admin for dispatch policies and regional routing rules: declarative; rules live in
policies.authoring (called by the forms and the services these classes delegate to)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from authoring import services, validators
from authoring.admin.history import AuthoringHistoryAdmin
from authoring.coverage import coverage_losses, snapshot_without_policies
from authoring.forms import DispatchPolicyForm, PolicyFallbackFormSet, RegionalRoutingForm
from policies.engine.types import policy_level
from policies.models import DispatchPolicy, PolicyFallback, RegionalRouting
from policies.presentation import LEVEL_LABELS
from providers.models import ModelProvider
from vocabulary.wording import label


class PolicyFallbackInline(admin.TabularInline):
    model = PolicyFallback
    formset = PolicyFallbackFormSet
    fields = ["position", "provider"]
    ordering = ["position"]
    autocomplete_fields = ["provider"]
    extra = 2
    verbose_name = "fallback"
    verbose_name_plural = "Fallback chain (tried in position order after the primary provider)"


class ChainProviderFilter(admin.SimpleListFilter):
    title = "provider (anywhere in the chain)"
    parameter_name = "provider"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(p.slug, p.name) for p in ModelProvider.objects.order_by("name").only("slug", "name")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if not value:
            return queryset
        in_chain = queryset.filter(fallbacks__provider__slug=value).values("pk")
        return queryset.filter(primary_provider__slug=value) | queryset.filter(pk__in=in_chain)


@admin.register(DispatchPolicy)
class DispatchPolicyAdmin(AuthoringHistoryAdmin):
    form = DispatchPolicyForm
    inlines = [PolicyFallbackInline]
    # Few, narrow columns so that "active", priority and the fallbacks fit 1280 px.
    list_display = ["name", "is_active", "priority", "matches", "primary", "chain"]
    list_filter = ["is_active", "subject", "grade_band", "region", ChainProviderFilter]
    search_fields = [
        "name",
        "subject",
        "grade_band",
        "region",
        "primary_provider__slug",
        "primary_provider__name",
        "fallbacks__provider__slug",
    ]
    list_select_related = ["primary_provider"]
    autocomplete_fields = ["primary_provider", "templates"]
    actions = ["activate", "deactivate", "duplicate"]
    fieldsets = [
        (None, {"fields": ["name", "is_active"]}),
        ("Which requests it matches", {"fields": [("subject", "grade_band", "region"), "priority"]}),
        (
            "What it decides",
            {
                "fields": [
                    "primary_provider",
                    "fallback_chain",
                    "templates",
                    "moderation_threshold",
                    "allow_teacher_override",
                ]
            },
        ),
        ("This change", {"fields": ["change_reason", "confirm_coverage_loss"]}),
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and getattr(obj, "_history", None) is not None:
            return fieldsets  # the revert page shows the chain of that version
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f != "fallback_chain"]}) for name, opts in fieldsets
        ]

    def get_formset_kwargs(self, request: HttpRequest, obj: Any, inline: Any, prefix: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, PolicyFallbackInline):
            kwargs["world"] = self.world(request)  # the chain is checked against the form's world
        return kwargs

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        chain = Prefetch("fallbacks", queryset=PolicyFallback.objects.select_related("provider").order_by("position"))
        return super().get_queryset(request).prefetch_related(chain)

    @admin.display(description="level")
    def level(self, obj: DispatchPolicy) -> str:
        return LEVEL_LABELS.get(policy_level(obj.subject, obj.grade_band, obj.region) or "", "invalid shape")

    @admin.display(description="matches", ordering="subject")
    def matches(self, obj: DispatchPolicy) -> str:
        parts = [
            label(obj.subject) if obj.subject else "any subject",
            label(obj.grade_band) if obj.grade_band else "any grade band",
            label(obj.region) if obj.region else "any region",
        ]
        return ", ".join(parts)

    @admin.display(description="provider", ordering="primary_provider__slug")
    def primary(self, obj: DispatchPolicy) -> str:
        return obj.primary_provider.slug

    @admin.display(description="fallbacks")
    def chain(self, obj: DispatchPolicy) -> str:
        return " → ".join(f.provider.slug for f in obj.fallbacks.all()) or "—"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if form.reverted_chain is not None:  # the revert page: no chain formset, the version's chain
            services.policy_save(
                policy=obj,
                fallbacks=form.reverted_chain,
                templates=form.cleaned_data.get("templates", []),
                reason=form.cleaned_data["change_reason"],
                user=request.user,
                snapshot=self.world(request)(),
            )
            form.save_m2m = lambda: None
        # Otherwise the policy is written with its chain in save_related, once the chain is known.

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if form.reverted_chain is not None:
            return
        chain: list[ModelProvider] = []
        for formset in formsets:
            if isinstance(formset, PolicyFallbackFormSet):
                chain = formset.ordered_providers()
            formset.save(commit=False)  # fills the change lists the admin log reads; the service writes
        services.policy_save(
            policy=form.instance,
            fallbacks=chain,
            templates=form.cleaned_data.get("templates", []),
            reason=form.cleaned_data["change_reason"],
            user=request.user,
            snapshot=self.world(request)(),
        )

    def _confirmed(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        *,
        action: str,
        title: str,
        intro: str,
        button: str,
        losses: Any = (),
    ) -> str | TemplateResponse:
        """The change reason once the administrator confirmed, else the confirmation page."""
        reason = " ".join(request.POST.get("change_reason", "").split())
        if request.POST.get("confirm") == "yes" and reason:
            return reason
        error = "Say why you are making this change; it is kept with the history." if "confirm" in request.POST else ""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "intro": intro,
            "button": button,
            "action": action,
            "queryset": queryset,
            "losses": list(losses),
            "error": error,
            "reason": reason,
        }
        return TemplateResponse(request, "admin/policies/policy_action_confirm.html", context)

    def _set_active(self, request: HttpRequest, queryset: QuerySet, active: bool) -> TemplateResponse | None:
        verb = "Activate" if active else "Deactivate"
        losses = []
        if not active:
            before = self.world(request)()
            losses = coverage_losses(before, snapshot_without_policies(before, [str(p.pk) for p in queryset]))
        reason = self._confirmed(
            request,
            queryset,
            action="activate" if active else "deactivate",
            title=f"{verb} policies",
            intro=f"{verb} these policies?" + (" Every rule is checked again; all or nothing." if active else ""),
            button=f"Yes, {verb.lower()}",
            losses=losses,
        )
        if isinstance(reason, TemplateResponse):
            return reason
        try:
            count = services.policies_set_active(
                policies=list(queryset), active=active, reason=reason, user=request.user, snapshot=self.world(request)()
            )
        except validators.AuthoringError as error:
            self.message_user(request, f"Nothing changed: {error.message}", messages.ERROR)
            return None
        self.message_user(request, f"{verb}d {count} {'policy' if count == 1 else 'policies'}.", messages.SUCCESS)
        return None

    @admin.action(description="Activate selected policies (re-checks every rule)")
    def activate(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        return self._set_active(request, queryset, True)

    @admin.action(description="Deactivate selected policies (shows contexts left uncovered)")
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        return self._set_active(request, queryset, False)

    @admin.action(description="Duplicate selected policies (copies start inactive)")
    def duplicate(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        reason = self._confirmed(
            request,
            queryset,
            action="duplicate",
            title="Duplicate policies",
            intro="Make an inactive copy of each of these policies (same chain and templates)?",
            button="Yes, duplicate",
        )
        if isinstance(reason, TemplateResponse):
            return reason
        try:
            copies = services.policies_duplicate(policies=list(queryset), reason=reason, user=request.user)
        except validators.AuthoringError as error:
            self.message_user(request, f"Nothing changed: {error.message}", messages.ERROR)
            return None
        copied = f"{len(copies)} inactive {'copy' if len(copies) == 1 else 'copies'}"
        self.message_user(request, f"Created {copied}; edit and activate them.", messages.SUCCESS)
        return None


@admin.register(RegionalRouting)
class RegionalRoutingAdmin(AuthoringHistoryAdmin):
    form = RegionalRoutingForm
    list_display = [
        "region",
        "data_center",
        "requires",
        "frameworks",
        "under_13",
        "allowed",
        "blocked",
    ]
    list_filter = [
        "data_residency_required",
        "encryption_required",
        "audit_logging_required",
        "agreement_required",
        "region",
    ]
    search_fields = ["region", "data_center", "allowed_providers__slug", "blocked_providers__slug"]
    autocomplete_fields = ["allowed_providers", "blocked_providers"]
    fieldsets = [
        (None, {"fields": ["region", "data_center"]}),
        (
            "Requirements",
            {
                "fields": [
                    "data_residency_required",
                    "encryption_required",
                    "audit_logging_required",
                    "compliance_frameworks",
                    "under_13_frameworks",
                    "agreement_required",
                ]
            },
        ),
        ("Providers", {"fields": ["allowed_providers", "blocked_providers"]}),
        ("This change", {"fields": ["change_reason", "confirm_coverage_loss"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("allowed_providers", "blocked_providers")

    @admin.display(description="requires")
    def requires(self, obj: RegionalRouting) -> str:
        """The yes/no requirements in one column (three boolean columns made the list scroll sideways)."""
        named = [
            ("data residency", obj.data_residency_required),
            ("encryption", obj.encryption_required),
            ("audit logging", obj.audit_logging_required),
            ("a signed agreement", obj.agreement_required),
        ]
        return ", ".join(name for name, required in named if required) or "—"

    @admin.display(description="frameworks")
    def frameworks(self, obj: RegionalRouting) -> str:
        return ", ".join(obj.compliance_frameworks or [])

    @admin.display(description="under 13 also")
    def under_13(self, obj: RegionalRouting) -> str:
        return ", ".join(obj.under_13_frameworks or []) or "—"

    @admin.display(description="allowed (empty = any)")
    def allowed(self, obj: RegionalRouting) -> str:
        return ", ".join(p.slug for p in obj.allowed_providers.all()) or "any"

    @admin.display(description="blocked")
    def blocked(self, obj: RegionalRouting) -> str:
        return ", ".join(p.slug for p in obj.blocked_providers.all()) or "—"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.routing_rule_save(
            rule=obj,
            allowed=list(form.cleaned_data.get("allowed_providers") or []),
            blocked=list(form.cleaned_data.get("blocked_providers") or []),
            reason=form.cleaned_data["change_reason"],
            user=request.user,
        )
        form.save_m2m = lambda: None
