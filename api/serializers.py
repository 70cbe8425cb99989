"""Shapes of the dispatch, providers, validate and coverage endpoints, and the error shape every
endpoint answers with (checking shape only, no rules; `policies.presentation` builds the bodies)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from common.fields import JsonBoolean, NoNulText, StrictSerializer, choice_field
from vocabulary import GradeBand, Region, Subject


class ContextSerializer(StrictSerializer):
    subject = choice_field(Subject)
    grade_band = choice_field(GradeBand)
    region = choice_field(Region)


class DispatchRequestSerializer(ContextSerializer):
    teacher_override = JsonBoolean(required=False, default=False)
    override_provider_id = NoNulText(required=False, min_length=1, max_length=64, allow_blank=False)
    override_reason = NoNulText(required=False, max_length=2000, allow_blank=True, trim_whitespace=False)
    teacher_id = NoNulText(
        required=False,
        min_length=1,
        max_length=64,
        allow_blank=False,
        help_text="Required with teacher_override: the registered teacher's id (their profile's teacher id).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs.get("teacher_override"):
            missing = {}
            if not attrs.get("override_provider_id"):
                missing["override_provider_id"] = ["Required when teacher_override is true: a provider id or slug."]
            if not attrs.get("teacher_id"):
                missing["teacher_id"] = ["Required when teacher_override is true: the teacher's id (teacher_id)."]
            if missing:
                raise serializers.ValidationError(missing)
        else:
            stray = [name for name in ("override_provider_id", "override_reason", "teacher_id") if name in attrs]
            if stray:
                raise serializers.ValidationError(
                    {name: ["Only allowed when teacher_override is true."] for name in stray}
                )
        return attrs


class RequestIdSerializer(StrictSerializer):
    request_id = serializers.UUIDField(
        required=False, error_messages={"invalid": "Must be a UUID, e.g. 550e8400-e29b-41d4-a716-446655440000."}
    )


class RegionQuerySerializer(StrictSerializer):
    region = choice_field(Region)


class ProvidersQuerySerializer(RegionQuerySerializer):
    grade_band = choice_field(GradeBand, required=False)


class ValidateQuerySerializer(ContextSerializer):
    pass


class RateLimitsSerializer(serializers.Serializer):
    requests_per_minute = serializers.IntegerField()
    tokens_per_minute = serializers.IntegerField()


class CostSerializer(serializers.Serializer):
    per_1k_input_tokens = serializers.FloatField()
    per_1k_output_tokens = serializers.FloatField()


class PassedOverSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["policy", "provider"])
    id = serializers.CharField()
    name = serializers.CharField(help_text="What people read: a policy's name, or a provider's display name.")
    slug = serializers.CharField(required=False, help_text="Providers only: the provider's slug.")
    reason = serializers.CharField()
    detail = serializers.CharField()
    policy_id = serializers.CharField(required=False)
    next_probe_at = serializers.DateTimeField(
        required=False, help_text="reason `unhealthy`: when the provider will be probed again"
    )


class ExplanationSerializer(serializers.Serializer):
    level = serializers.CharField(allow_null=True)
    level_label = serializers.CharField(allow_blank=True)
    policy_id = serializers.CharField(allow_null=True)
    policy_name = serializers.CharField(allow_null=True)
    passed_over = PassedOverSerializer(many=True)
    degraded = serializers.BooleanField(help_text="served although unhealthy (see degraded_detail)")
    degraded_detail = serializers.CharField(required=False, help_text="why the decision is degraded")
    budget = serializers.CharField(
        required=False, help_text="Present when the client's spent budget routed to the cheapest provider: why."
    )


class BudgetSerializer(serializers.Serializer):
    """The calling client's spend budget for the current UTC period (present only when it has one)."""

    period = serializers.ChoiceField(choices=["day", "month"])
    limit = serializers.FloatField(help_text="In the currency of the provider prices")
    spent = serializers.FloatField(help_text="Cost of the client's outcomes reported in this period")
    remaining = serializers.FloatField()
    exhausted = serializers.BooleanField()


class AgreementSerializer(serializers.Serializer):
    """The data privacy agreement a decision relies on."""

    reference = serializers.CharField()
    expires_on = serializers.DateField(allow_null=True, help_text="Its last UTC date in force; null: no expiry")


class DecisionSerializer(serializers.Serializer):
    request_id = serializers.UUIDField()
    provider_id = serializers.UUIDField()
    provider_slug = serializers.CharField()
    provider_name = serializers.CharField()
    endpoint_url = serializers.URLField()
    template_ids = serializers.ListField(child=serializers.UUIDField())
    moderation_threshold = serializers.FloatField()
    policy_id = serializers.UUIDField()
    policy_name = serializers.CharField()
    allow_teacher_override = serializers.BooleanField()
    teacher_override = serializers.BooleanField()
    rate_limits = RateLimitsSerializer()
    estimated_cost = CostSerializer()
    region = serializers.CharField()
    data_center = serializers.CharField()
    agreement = AgreementSerializer(
        allow_null=True,
        help_text="The agreement the provider's compliance relies on (the region requires one, or the provider's "
        "minimum age is above the grade band's youngest age); null when none is needed",
    )
    explanation = ExplanationSerializer()
    degraded = serializers.BooleanField(
        help_text="true when every compliant provider was unhealthy (cooling down) and the first one serves anyway"
    )
    budget = BudgetSerializer(required=False)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(required=False)  # type: ignore[assignment]  # the error body's key
    region = serializers.CharField(required=False)
    rule = serializers.CharField(required=False)


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
    request_id = serializers.UUIDField(required=False)
    reason = serializers.CharField(required=False)


class RefusalSerializer(serializers.Serializer):
    request_id = serializers.UUIDField()
    error = ErrorDetailSerializer()
    explanation = ExplanationSerializer()
    agreement = AgreementSerializer(allow_null=True, required=False, help_text="Always null on a refusal")
    degraded = serializers.BooleanField(help_text="always false on a refusal: health never refuses")
    teacher_override = serializers.BooleanField(required=False)
    budget = BudgetSerializer(required=False)


class UnprocessableSerializer(RefusalSerializer):
    """A 422: a refusal (with its explanation) or a request_id reused with another body (without)."""

    explanation = ExplanationSerializer(required=False)
    degraded = serializers.BooleanField(required=False, help_text="false on a refusal (absent on a reused request_id)")


class ProviderSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    slug = serializers.CharField()
    name = serializers.CharField()
    endpoint_url = serializers.URLField()
    hosting_regions = serializers.ListField(child=serializers.CharField())
    compliance_frameworks = serializers.ListField(child=serializers.CharField())
    minimum_user_age = serializers.IntegerField(help_text="From its terms; 0 = none (an agreement may lower it)")
    rate_limits = RateLimitsSerializer()
    estimated_cost = CostSerializer()


class ProvidersResponseSerializer(serializers.Serializer):
    region = serializers.CharField()
    grade_band = serializers.CharField(help_text="The band judged: the one asked for, else the youngest band")
    data_center = serializers.CharField(allow_null=True)
    providers = ProviderSerializer(many=True)
    unavailable = PassedOverSerializer(many=True)


class ProviderHealthSerializer(serializers.Serializer):
    provider_id = serializers.UUIDField()
    provider_slug = serializers.CharField()
    state = serializers.ChoiceField(choices=["healthy", "cooling_down", "probing"])
    since = serializers.DateTimeField(allow_null=True, help_text="when the current state began (null: never changed)")
    failures = serializers.IntegerField(help_text="provider-side failures counted in the current window")
    outcomes = serializers.IntegerField(help_text="outcomes counted in the current window")
    next_probe_at = serializers.DateTimeField(allow_null=True, help_text="cooling down: when it will be probed")


class ProvidersHealthResponseSerializer(serializers.Serializer):
    shared = serializers.BooleanField(help_text="false while Redis is unavailable: this worker's own view")
    providers = ProviderHealthSerializer(many=True)


class ValidateResponseSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    subject = serializers.CharField()
    grade_band = serializers.CharField()
    region = serializers.CharField()
    level = serializers.CharField(allow_null=True)
    policy_id = serializers.CharField(allow_null=True)
    provider_id = serializers.CharField(allow_null=True)
    provider_slug = serializers.CharField(allow_null=True)
    agreement = AgreementSerializer(allow_null=True)
    provider_name = serializers.CharField(allow_null=True)
    problems = serializers.ListField(child=serializers.CharField())
    explanation = ExplanationSerializer()


class CoverageQuerySerializer(StrictSerializer):
    region = choice_field(Region, required=False)


class CoverageCellSerializer(serializers.Serializer):
    subject = serializers.CharField()
    grade_band = serializers.CharField()
    region = serializers.CharField()
    covered = serializers.BooleanField()
    level = serializers.CharField(allow_null=True)
    policy_id = serializers.CharField(allow_null=True)
    policy_name = serializers.CharField(allow_null=True)
    provider_id = serializers.CharField(allow_null=True)
    provider_slug = serializers.CharField(allow_null=True)
    provider_name = serializers.CharField(allow_null=True)
    refusal_code = serializers.CharField(allow_blank=True)
    refusal_detail = serializers.CharField(allow_blank=True)


class CoverageResponseSerializer(serializers.Serializer):
    regions = serializers.ListField(child=serializers.CharField())
    unconfigured_regions = serializers.ListField(child=serializers.CharField())
    contexts = serializers.IntegerField()
    gaps = serializers.IntegerField()
    snapshot_version = serializers.IntegerField()
    cells = CoverageCellSerializer(many=True)


# OpenAPI responses the operations share: bad input, a body too large, not JSON; the database down.
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Bad input: the fields at fault and what is allowed."),
    413: OpenApiResponse(ErrorSerializer, description="The body is larger than the limit."),
    415: OpenApiResponse(
        ErrorSerializer, description="The body is not sent as `Content-Type: application/json` (the message says)."
    ),
}
# Every operation: the database is down or stalled (`database_unavailable`, with Retry-After).
UNAVAILABLE = {
    503: OpenApiResponse(
        ErrorSerializer, description="The database is unavailable; retry with the same request_id (Retry-After)."
    )
}


def error_response(description: str) -> OpenApiResponse:
    """An error answer of an operation, in the error shape, with what it means there."""
    return OpenApiResponse(ErrorSerializer, description=description)
