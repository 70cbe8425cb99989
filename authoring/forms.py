"""Admin forms for everything an administrator authors. They check shape and call the authoring
validators (policies.authoring) and the what-if coverage comparison (authoring.coverage); they
write nothing themselves.

Every form asks for a change reason, kept with the history row of the save. Deactivating a
provider or tightening a routing rule in a way that leaves some context without a compliant
provider is refused until the administrator, shown the list of those contexts, ticks "confirm".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from authoring import services, validators
from authoring.coverage import (
    CoverageLoss,
    coverage_losses,
    coverage_losses_message,
    snapshot_with_agreement,
    snapshot_with_policy,
    snapshot_with_provider,
    snapshot_with_rule,
)
from policies.engine import AgreementSpec, PolicySpec, ProviderSpec, RegionRule, Snapshot
from policies.models import DispatchPolicy, RegionalRouting
from policies.snapshot import snapshot_build
from providers.models import Agreement, ModelProvider, PromptTemplate, provider_encrypts
from vocabulary import Framework, GradeBand, Region, Subject


def _raise_problems(form: forms.BaseForm, problems: validators.Problems) -> None:
    for field, messages in problems.items():
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)


def _historical(instance: Any) -> Any:
    """The simple-history row a form's instance was built from (the revert page), or None."""
    return getattr(instance, "_history", None)


class AuthoringForm(forms.ModelForm):
    # Set by the admin when the save was refused as it was written (authoring.admin.base).
    refusal: validators.Problems = {}
    # The authored world the rules are checked against; the admin gives each request one, built
    # once (`AuthoringAdmin.world`), which its formsets and its service call share.
    world: Callable[[], Snapshot] = staticmethod(snapshot_build)

    change_reason = forms.CharField(
        max_length=validators.CHANGE_REASON_MAX,
        required=True,
        help_text="Why this change? Kept with the history, e.g. “Move EU maths to the EU provider (ticket 412)”.",
        error_messages={"required": "Say why you are making this change; it is kept with the history."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        version = _historical(self.instance)
        if version is not None and not self.is_bound:
            # Revert page: many-to-many lists as they were in that version, not as they are now.
            for name, field in self.fields.items():
                if isinstance(field, forms.ModelMultipleChoiceField) and hasattr(version, name):
                    rows = getattr(version, name).all()
                    target = field.queryset.model if field.queryset is not None else None
                    reverse = next(
                        f.name for f in rows.model._meta.fields if f.is_relation and f.related_model is target
                    )
                    self.initial[name] = [getattr(row, f"{reverse}_id") for row in rows]
            self.initial.setdefault("change_reason", f"Revert to the version of {version.history_date:%Y-%m-%d %H:%M}")

    def full_clean(self) -> None:
        super().full_clean()
        if not self.is_bound or not self.refusal:
            return
        for field, messages in self.refusal.items():
            target = field if field in self.fields else None
            shown = [str(message) for message in self.errors.get(target or "__all__", [])]
            for message in messages:
                if message not in shown:
                    self.add_error(target, message)


def _losses_message(losses: list[CoverageLoss]) -> str:
    return coverage_losses_message(losses)


class CoverageGuardMixin(forms.Form):
    confirm_coverage_loss = forms.BooleanField(
        required=False,
        label="Confirm coverage loss",
        help_text="Only needed when this change would leave some context with no compliant provider.",
    )

    def coverage_check(self, before: Snapshot, after: Snapshot) -> None:
        self.coverage_check_losses(coverage_losses(before, after))

    def coverage_check_losses(self, losses: list[CoverageLoss]) -> None:
        if losses and not self.cleaned_data.get("confirm_coverage_loss"):
            self.add_error("confirm_coverage_loss", _losses_message(losses))


class ModelProviderForm(CoverageGuardMixin, AuthoringForm):
    endpoint_url = forms.URLField(max_length=500, assume_scheme="https")
    hosting_regions = forms.MultipleChoiceField(
        choices=Region.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    compliance_frameworks = forms.MultipleChoiceField(
        choices=Framework.choices, required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ModelProvider
        fields = [
            "name",
            "slug",
            "vendor",
            "model_name",
            "endpoint_url",
            "hosting_regions",
            "compliance_frameworks",
            "encrypts_in_transit",
            "encrypts_at_rest",
            "is_active",
            "requests_per_minute",
            "tokens_per_minute",
            "cost_per_1k_input_tokens",
            "cost_per_1k_output_tokens",
            "minimum_user_age",
            "health_failures_to_trip",
            "health_failure_rate_percent",
            "health_min_outcomes",
            "health_cooldown_seconds",
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors or self.instance._state.adding:
            return data  # a new provider serves nothing yet: it cannot remove coverage
        before = self.world()
        spec = ProviderSpec(
            id=str(self.instance.pk),
            slug=data["slug"],
            name=data["name"],
            endpoint_url=data["endpoint_url"],
            hosting_regions=frozenset(data.get("hosting_regions") or ()),
            compliance_frameworks=frozenset(data.get("compliance_frameworks") or ()),
            encrypts=provider_encrypts(
                in_transit=bool(data.get("encrypts_in_transit")), at_rest=bool(data.get("encrypts_at_rest"))
            ),
            active=bool(data.get("is_active")),
            requests_per_minute=data["requests_per_minute"],
            tokens_per_minute=data["tokens_per_minute"],
            cost_per_1k_input=float(data["cost_per_1k_input_tokens"]),
            cost_per_1k_output=float(data["cost_per_1k_output_tokens"]),
            minimum_user_age=int(data.get("minimum_user_age") or 0),
        )
        self.coverage_check(before, snapshot_with_provider(before, spec))
        return data


class PromptTemplateForm(AuthoringForm):
    class Meta:
        model = PromptTemplate
        fields = ["slug", "name", "subject", "grade_band", "body", "version", "is_active"]


class RegionalRoutingForm(CoverageGuardMixin, AuthoringForm):
    compliance_frameworks = forms.MultipleChoiceField(
        choices=Framework.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    under_13_frameworks = forms.MultipleChoiceField(
        choices=Framework.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Required in addition when the grade band is under 13 (its youngest age is below 13), e.g. COPPA.",
    )

    class Meta:
        model = RegionalRouting
        fields = [
            "region",
            "data_center",
            "data_residency_required",
            "encryption_required",
            "audit_logging_required",
            "allowed_providers",
            "blocked_providers",
            "compliance_frameworks",
            "agreement_required",
            "under_13_frameworks",
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        allowed = list(data.get("allowed_providers") or [])
        blocked = list(data.get("blocked_providers") or [])
        _raise_problems(
            self, validators.routing_rule_problems(allowed=[p.slug for p in allowed], blocked=[p.slug for p in blocked])
        )
        if self.errors or "region" not in data:
            return data
        before = self.world()
        rule = RegionRule(
            region=data["region"],
            data_center=data.get("data_center", ""),
            data_residency_required=bool(data.get("data_residency_required")),
            encryption_required=bool(data.get("encryption_required")),
            audit_logging_required=bool(data.get("audit_logging_required")),
            allowed_providers=frozenset(str(p.pk) for p in allowed),
            blocked_providers=frozenset(str(p.pk) for p in blocked),
            compliance_frameworks=frozenset(data.get("compliance_frameworks") or ()),
            agreement_required=bool(data.get("agreement_required")),
            under_13_frameworks=frozenset(data.get("under_13_frameworks") or ()),
        )
        after = snapshot_with_rule(before, rule)
        if not self.instance._state.adding and self.instance.region != data["region"]:
            rules = {r: rule for r, rule in after.rules.items() if r != self.instance.region}
            after = dataclasses.replace(after, rules=rules)
        self.coverage_check(before, after)
        return data


class AgreementForm(CoverageGuardMixin, AuthoringForm):
    """A data privacy agreement; ending or narrowing one that some context relies on asks for
    confirmation, like any other change that removes coverage (judged today)."""

    regions = forms.MultipleChoiceField(
        choices=Region.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Regions it covers; none ticked means every region.",
    )
    document_url = forms.URLField(max_length=500, required=False, assume_scheme="https")

    class Meta:
        model = Agreement
        fields = [
            "reference",
            "provider",
            "regions",
            "signed_on",
            "expires_on",
            "min_age_covered",
            "document_url",
            "notes",
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        signed, expires = data.get("signed_on"), data.get("expires_on")
        if signed and expires and expires < signed:
            self.add_error(
                "expires_on", "An agreement cannot expire before it is signed: make it on or after the signing date."
            )
        if self.errors or data.get("provider") is None or signed is None:
            return data
        before = self.world()
        spec = AgreementSpec(
            reference=data["reference"],
            provider_id=str(data["provider"].pk),
            regions=frozenset(data.get("regions") or ()),
            signed_on=signed,
            expires_on=expires,
            min_age_covered=int(data.get("min_age_covered") or 0),
        )
        replaced = None if self.instance._state.adding else self.instance.reference
        self.coverage_check(before, snapshot_with_agreement(before, spec, replaces=replaced))
        return data


class DispatchPolicyForm(CoverageGuardMixin, AuthoringForm):
    """Policy fields; the chain is checked by `PolicyFallbackFormSet` (it sees both).

    On the revert page there is no chain formset: the chain kept with that version is shown
    read-only, validated here, and restored with the rest.
    """

    fallback_chain = forms.CharField(
        required=False,
        disabled=True,
        label="Fallback chain of this version",
        help_text="Restored, in this order, when you revert.",
    )

    class Meta:
        model = DispatchPolicy
        fields = [
            "name",
            "subject",
            "grade_band",
            "region",
            "primary_provider",
            "templates",
            "moderation_threshold",
            "allow_teacher_override",
            "priority",
            "is_active",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["subject"].help_text = "Empty means any subject. " + validators.SHAPES_HELP
        self.reverted_chain: list[ModelProvider] | None = None
        version = _historical(self.instance)
        if version is None:
            del self.fields["fallback_chain"]
            return
        try:
            self.reverted_chain = services.version_chain(version)
        except validators.AuthoringError as error:
            self.reverted_chain = []
            self.chain_error = error
        self.fields["fallback_chain"].initial = " → ".join(p.slug for p in self.reverted_chain) or "(none)"

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        subject, grade_band, region = (data.get(k) or "" for k in ("subject", "grade_band", "region"))
        problems = validators.problems_merge(
            validators.policy_shape_problems(subject=subject, grade_band=grade_band, region=region),
            validators.moderation_threshold_problems(data.get("moderation_threshold")),
            validators.policy_priority_problems(
                subject=subject,
                grade_band=grade_band,
                region=region,
                priority=data.get("priority"),
                is_active=bool(data.get("is_active")),
                exclude_id=self.instance.pk,
            ),
        )
        primary = data.get("primary_provider")
        if self.reverted_chain is not None and primary is not None:
            if hasattr(self, "chain_error"):
                problems = validators.problems_merge(problems, self.chain_error.problems)
            problems = validators.problems_merge(
                problems,
                chain_problems(
                    primary=primary,
                    fallbacks=self.reverted_chain,
                    region=region,
                    is_active=data["is_active"],
                    snapshot=self.world(),
                    grade_band=data.get("grade_band") or "",
                ),
            )
        if self.reverted_chain is not None and primary is not None and not problems and not self.errors:
            reverted = DispatchPolicy(
                pk=self.instance.pk,
                primary_provider=primary,
                **{
                    k: data.get(k)
                    for k in (
                        "name",
                        "subject",
                        "grade_band",
                        "region",
                        "moderation_threshold",
                        "allow_teacher_override",
                        "priority",
                        "is_active",
                    )
                },
            )
            reverted._state.adding = False
            self.coverage_check_losses(policy_change_losses(reverted, self.reverted_chain, before=self.world()))
        if problems:
            self._validate_unique = False  # our messages name the clash; skip the generic constraint text
            _raise_problems(self, {("__all__" if k == "fallback_providers" else k): v for k, v in problems.items()})
        return data


def chain_problems(
    *,
    primary: ModelProvider,
    fallbacks: list[ModelProvider],
    region: str,
    is_active: bool,
    snapshot: Snapshot,
    grade_band: str = "",
) -> validators.Problems:
    return validators.problems_merge(
        validators.chain_repeat_problems(primary=primary.slug, fallbacks=[p.slug for p in fallbacks]),
        validators.chain_region_problems(
            region=region,
            chain=[str(primary.pk), *(str(p.pk) for p in fallbacks)],
            snapshot=snapshot,
            is_active=is_active,
            grade_band=grade_band,
        ),
    )


class PolicyFallbackFormSet(BaseInlineFormSet):
    """The ordered fallback chain; checked together with the policy's primary and region."""

    def __init__(self, *args: Any, world: Callable[[], Snapshot] = snapshot_build, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.world = world  # the admin passes its request's (AuthoringAdmin.world)

    def ordered_providers(self) -> list[ModelProvider]:
        rows = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("DELETE") or data.get("provider") is None:
                continue
            rows.append((data.get("position") or 0, data["provider"]))
        return [provider for _, provider in sorted(rows, key=lambda row: row[0])]

    def clean(self) -> None:
        super().clean()
        if any(form.errors for form in self.forms):
            return
        policy = self.instance
        if policy.primary_provider_id is None:
            return
        problems = chain_problems(
            primary=policy.primary_provider,
            fallbacks=self.ordered_providers(),
            region=policy.region or "",
            is_active=policy.is_active,
            snapshot=self.world(),
            grade_band=policy.grade_band or "",
        )
        if problems:
            raise ValidationError([message for messages in problems.values() for message in messages])
        if self.data.get("confirm_coverage_loss") not in ("on", "true", "1") and not policy._state.adding:
            losses = policy_change_losses(policy, self.ordered_providers(), before=self.world())
            if losses:
                raise ValidationError(_losses_message(losses))


def policy_change_losses(
    policy: DispatchPolicy, fallbacks: list[ModelProvider], *, before: Snapshot
) -> list[CoverageLoss]:
    """Contexts an edited policy (unsaved values) would leave without a compliant provider, from `before`."""
    spec = PolicySpec(
        id=str(policy.pk),
        name=policy.name,
        subject=policy.subject or "",
        grade_band=policy.grade_band or "",
        region=policy.region or "",
        primary_provider_id=str(policy.primary_provider_id),
        fallback_provider_ids=tuple(str(p.pk) for p in fallbacks),
        template_ids=(),
        moderation_threshold=float(policy.moderation_threshold or 0),
        allow_teacher_override=policy.allow_teacher_override,
        priority=policy.priority or 0,
    )
    return coverage_losses(before, snapshot_with_policy(before, str(policy.pk), spec if policy.is_active else None))


class SimulatorForm(forms.Form):
    """A context to resolve, and optionally a teacher override to check against it."""

    subject = forms.ChoiceField(choices=Subject.choices)
    grade_band = forms.ChoiceField(choices=GradeBand.choices)
    region = forms.ChoiceField(choices=Region.choices)
    override_provider = forms.ModelChoiceField(
        queryset=ModelProvider.objects.order_by("name"),
        required=False,
        to_field_name="slug",
        help_text="Optional: simulate a teacher override to this provider.",
    )
    override_reason = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_override_reason(self) -> str:
        value = self.cleaned_data.get("override_reason", "")
        if "\x00" in value:
            raise ValidationError("NUL characters are not allowed.")
        return value


class CoverageForm(forms.Form):
    region = forms.ChoiceField(choices=[("", "All regions with a routing rule"), *Region.choices], required=False)
