"""Shapes of the outcome and analytics endpoints (checking shape only)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from audit.models import LATENCY_MS_MAX
from common.fields import JsonBoolean, NoNulText, StrictSerializer, choice_field, json_type
from vocabulary import Region


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer (no strings, floats or booleans)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            got = "a fraction" if isinstance(data, float) else json_type(data)
            raise serializers.ValidationError(f"{self.error_messages['invalid']} Got {got}.", code="invalid")
        return super().to_internal_value(data)


def bounded_integer(maximum: int, setting: str, **kwargs: Any) -> StrictIntegerField:
    """A JSON integer from 0 to `maximum` whose every error names that range and the setting that sets it."""
    allowed = f"Must be a whole number from 0 to {maximum} ({setting})."
    return StrictIntegerField(
        min_value=0,
        max_value=maximum,
        help_text=f"0 to {maximum} (the service's {setting}); larger is a 400 naming this field.",
        error_messages=dict.fromkeys(("invalid", "min_value", "max_value", "max_string_length"), allowed),
        **kwargs,
    )


class OutcomeRequestSerializer(StrictSerializer):
    """How the LLM call of an accepted dispatch went. Tokens and latency are bounded (see each field);
    a value outside its range is a 400 naming the field and the range."""

    # The bounds come from settings when the fields are built, so the OpenAPI schema states the ones
    # in force: one report can inflate neither analytics nor a provider's token count without limit.
    success = JsonBoolean()  # JSON true/false only (no "yes", 1 or "true" strings): unambiguous
    latency_ms = StrictIntegerField()  # bounded in get_fields
    input_tokens = StrictIntegerField(required=False, default=0)  # bounded in get_fields
    output_tokens = StrictIntegerField(required=False, default=0)  # bounded in get_fields
    error_code = NoNulText(max_length=64, required=False, allow_blank=True, default="")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        latency_max = min(settings.OUTCOME_MAX_LATENCY_MS, LATENCY_MS_MAX)  # the histogram's top bucket
        fields["latency_ms"] = bounded_integer(latency_max, "OUTCOME_MAX_LATENCY_MS")
        for name in ("input_tokens", "output_tokens"):
            fields[name] = bounded_integer(settings.OUTCOME_MAX_TOKENS, "OUTCOME_MAX_TOKENS", required=False, default=0)
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs["success"] and attrs.get("error_code"):
            raise serializers.ValidationError({"error_code": ["Only allowed when success is false."]})
        return attrs


class OutcomeSerializer(serializers.Serializer):
    request_id = serializers.UUIDField()
    provider_id = serializers.UUIDField()
    success = serializers.BooleanField()
    latency_ms = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    error_code = serializers.CharField()
    cost = serializers.FloatField()
    reported_at = serializers.DateTimeField()


class AnalyticsQuerySerializer(StrictSerializer):
    region = choice_field(Region, required=False)
    days = serializers.IntegerField(
        min_value=1,
        max_value=365,
        required=False,
        default=30,
        error_messages={
            "invalid": "Must be a whole number of days from 1 to 365.",
            "min_value": "Must be from 1 to 365.",
            "max_value": "Must be from 1 to 365.",
        },
    )


class ProviderFiguresSerializer(serializers.Serializer):
    provider_id = serializers.UUIDField()
    provider_slug = serializers.CharField(allow_null=True)
    provider_name = serializers.CharField(allow_null=True)
    dispatches = serializers.IntegerField(help_text="Accepted dispatches that named this provider")
    share = serializers.FloatField(allow_null=True, help_text="dispatches / all accepted dispatches")
    outcomes_reported = serializers.IntegerField()
    success_rate = serializers.FloatField(allow_null=True)
    average_latency_ms = serializers.IntegerField(allow_null=True)
    p95_latency_ms = serializers.IntegerField(allow_null=True, help_text="Upper bound of the p95 histogram bucket")
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cost = serializers.FloatField()


class AnalyticsSerializer(serializers.Serializer):
    region = serializers.CharField(allow_null=True)
    days = serializers.IntegerField()
    first_day = serializers.DateField(help_text="First UTC day of the window (today is the last)")
    total_requests = serializers.IntegerField(help_text="Dispatches decided (accepted and refused)")
    success_rate = serializers.FloatField(allow_null=True, help_text="Successful LLM calls / outcomes reported")
    teacher_override_rate = serializers.FloatField()
    most_used_subjects = serializers.DictField(child=serializers.IntegerField())
    most_used_grades = serializers.DictField(child=serializers.IntegerField())
    average_response_time_ms = serializers.IntegerField(allow_null=True, help_text="Mean reported LLM latency")
    accepted = serializers.IntegerField()
    refused = serializers.IntegerField()
    outcomes_reported = serializers.IntegerField()
    total_cost = serializers.FloatField()
    providers = ProviderFiguresSerializer(many=True)
