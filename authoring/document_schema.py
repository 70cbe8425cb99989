"""The shape of a policy-as-code document (PRODUCT.md, "Policy as code"): one serializer per entry.

Shape only: unknown keys, wrong types and values outside the vocabulary are refused here, naming
the key. Cross-references (slugs) and the authoring rules are checked by authoring.documents.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from clients.models import BudgetExhausted, BudgetPeriod
from clients.services import BUDGET_MAX
from common.fields import NoNulText, StrictSerializer, choice_field
from providers.models import AGE_MAX
from vocabulary import Framework, GradeBand, Region, Subject

HEALTH_OVERRIDES: dict[str, tuple[int, int]] = {  # document key -> allowed range (ModelProvider.health_<key>)
    "failures_to_trip": (1, 2**31 - 1),
    "failure_rate_percent": (1, 100),
    "min_outcomes": (1, 2**31 - 1),
    "cooldown_seconds": (1, 86_400),
}
# The order an import applies them.
SECTIONS = ("providers", "templates", "regions", "agreements", "policies", "budgets")


def _strict_dict(value: Any, keys: dict[str, Any], *, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise serializers.ValidationError(f"Must be a mapping with {', '.join(keys)}.")
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise serializers.ValidationError(f"Unknown key(s) {', '.join(unknown)}; allowed: {', '.join(keys)}.")
    for key, kind in keys.items():
        if key in value and (not isinstance(value[key], kind) or isinstance(value[key], bool) or value[key] < 0):
            raise serializers.ValidationError(f"{name}.{key} must be a non-negative number.")
    return value


class ProviderEntry(StrictSerializer):
    slug = serializers.SlugField(max_length=64)
    name = NoNulText(max_length=120)
    vendor = NoNulText(max_length=80, required=False, allow_blank=True)
    model_name = NoNulText(max_length=120, required=False, allow_blank=True)
    endpoint_url = serializers.URLField(max_length=500)
    hosting_regions = serializers.ListField(child=choice_field(Region), required=False)
    compliance_frameworks = serializers.ListField(child=choice_field(Framework), required=False)
    encryption = serializers.JSONField(required=False)
    active = serializers.BooleanField(required=False)
    rate_limits = serializers.JSONField(required=False)
    cost = serializers.JSONField(required=False)
    minimum_user_age = serializers.IntegerField(required=False, min_value=0, max_value=AGE_MAX)
    health = serializers.JSONField(required=False)

    def validate_encryption(self, value: Any) -> dict[str, bool]:
        if isinstance(value, bool):
            return {"in_transit": value, "at_rest": value}
        if (
            isinstance(value, dict)
            and set(value) == {"in_transit", "at_rest"}
            and all(isinstance(v, bool) for v in value.values())
        ):
            return value
        raise serializers.ValidationError("Must be true/false, or {in_transit: true/false, at_rest: true/false}.")

    def validate_rate_limits(self, value: Any) -> dict[str, Any]:
        value = _strict_dict(value, {"requests_per_minute": int, "tokens_per_minute": int}, name="rate_limits")
        if any(v == 0 for v in value.values()):
            raise serializers.ValidationError("Rate limits must be positive.")
        return value

    def validate_cost(self, value: Any) -> dict[str, Any]:
        return _strict_dict(
            value, {"per_1k_input_tokens": (int, float), "per_1k_output_tokens": (int, float)}, name="cost"
        )

    def validate_health(self, value: Any) -> dict[str, int | None]:
        """Per-provider health overrides: each a whole number in its range, or null (the default)."""
        if not isinstance(value, dict):
            raise serializers.ValidationError(f"Must be a mapping with {', '.join(HEALTH_OVERRIDES)}.")
        unknown = sorted(set(value) - set(HEALTH_OVERRIDES))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown key(s) {', '.join(unknown)}; allowed: {', '.join(HEALTH_OVERRIDES)}."
            )
        for key, (low, high) in HEALTH_OVERRIDES.items():
            number = value.get(key)
            if number is None:
                continue
            if not isinstance(number, int) or isinstance(number, bool) or not low <= number <= high:
                raise serializers.ValidationError(
                    f"health.{key} must be null (the default) or a whole number from {low} to {high}."
                )
        return value


class TemplateEntry(StrictSerializer):
    slug = serializers.SlugField(max_length=64)
    name = NoNulText(max_length=120)
    subject = choice_field(Subject, required=False, allow_null=True, allow_blank=True)
    grade_band = choice_field(GradeBand, required=False, allow_null=True, allow_blank=True)
    body = NoNulText(trim_whitespace=False)
    version = serializers.IntegerField(min_value=1, required=False)
    active = serializers.BooleanField(required=False)


class RegionEntry(StrictSerializer):
    region = choice_field(Region)
    data_center = NoNulText(max_length=120)
    data_residency_required = serializers.BooleanField(required=False)
    encryption_required = serializers.BooleanField(required=False)
    audit_logging_required = serializers.BooleanField(required=False)
    allowed_providers = serializers.ListField(child=serializers.SlugField(max_length=64), required=False)
    blocked_providers = serializers.ListField(child=serializers.SlugField(max_length=64), required=False)
    compliance_frameworks = serializers.ListField(child=choice_field(Framework), required=False)
    agreement_required = serializers.BooleanField(required=False)
    under_13_frameworks = serializers.ListField(child=choice_field(Framework), required=False)


class AgreementEntry(StrictSerializer):
    """A data privacy agreement: exactly these keys; matched on `reference`."""

    reference = NoNulText(max_length=160)
    provider = serializers.SlugField(max_length=64, help_text="The provider's slug")
    regions = serializers.ListField(child=choice_field(Region), required=False)
    signed_on = serializers.DateField(format="%Y-%m-%d", input_formats=["%Y-%m-%d"])
    expires_on = serializers.DateField(
        format="%Y-%m-%d", input_formats=["%Y-%m-%d"], required=False, allow_null=True, default=None
    )
    min_age_covered = serializers.IntegerField(required=False, min_value=0, max_value=AGE_MAX, default=0)
    document_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    notes = NoNulText(required=False, allow_blank=True, trim_whitespace=False, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs.get("expires_on") is not None and attrs["expires_on"] < attrs["signed_on"]:
            raise serializers.ValidationError({"expires_on": ["Must be on or after signed_on."]})
        return attrs


class PolicyEntry(StrictSerializer):
    name = NoNulText(max_length=160)
    subject = choice_field(Subject, required=False, allow_null=True, allow_blank=True)
    grade_band = choice_field(GradeBand, required=False, allow_null=True, allow_blank=True)
    region = choice_field(Region, required=False, allow_null=True, allow_blank=True)
    primary_provider_id = serializers.SlugField(max_length=64)
    fallback_provider_ids = serializers.ListField(child=serializers.SlugField(max_length=64), required=False)
    template_ids = serializers.ListField(child=serializers.SlugField(max_length=64), required=False)
    moderation_threshold = serializers.DecimalField(max_digits=6, decimal_places=3, required=False)
    allow_teacher_override = serializers.BooleanField(required=False)
    priority = serializers.IntegerField(required=False, min_value=-(2**31), max_value=2**31 - 1)
    active = serializers.BooleanField(required=False)


class BudgetEntry(StrictSerializer):
    """An API client's spend budget, matched on the client's name (its stable id, never its key).

    `amount` null removes the client's budget; an entry that is absent leaves it as it is."""

    client = serializers.SlugField(max_length=64, help_text="The API client's name")
    amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=6,
        allow_null=True,
        error_messages={
            "invalid": "Must be a number above 0 with at most 6 decimals, or null (no budget).",
            "max_decimal_places": "Must have at most 6 decimals.",
            "max_digits": f"Must be at most {BUDGET_MAX}.",
            "max_whole_digits": f"Must be at most {BUDGET_MAX}.",
        },
    )
    period = choice_field(BudgetPeriod, required=False)
    on_exhausted = choice_field(BudgetExhausted, required=False, default=BudgetExhausted.REFUSE)

    def validate_amount(self, value: Decimal | None) -> Decimal | None:
        if value is not None and not Decimal(0) < value <= BUDGET_MAX:
            raise serializers.ValidationError(
                f"Must be above 0 and at most {BUDGET_MAX} (or null: no budget), not {value}."
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs.get("amount") is not None and "period" not in attrs:
            allowed = ", ".join(BudgetPeriod.values)
            raise serializers.ValidationError({"period": [f"This field is required; allowed values: {allowed}."]})
        return attrs


ENTRY_SERIALIZERS: dict[str, type[StrictSerializer]] = {
    "providers": ProviderEntry,
    "templates": TemplateEntry,
    "regions": RegionEntry,
    "agreements": AgreementEntry,
    "policies": PolicyEntry,
    "budgets": BudgetEntry,
}
ENTRY_KEYS = {
    "providers": "slug",
    "templates": "slug",
    "regions": "region",
    "agreements": "reference",
    "policies": "name",
    "budgets": "client",
}
