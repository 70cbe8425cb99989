"""Shapes of the outcome and analytics endpoints (checking shape only)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from audit.models import LATENCY_MS_MAX
from dispatch_site.fields import NoNulText, StrictSerializer, choice_field
from providers.vocabulary import Region

MAX_TOKENS = 100_000_000


class StrictBooleanField(serializers.BooleanField):
    """JSON true/false only (no "yes", 1 or "true" strings): an outcome flag must be unambiguous."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer (no strings, floats or booleans)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class OutcomeRequestSerializer(StrictSerializer):
    success = StrictBooleanField(error_messages={"invalid": "Must be true or false."})
    latency_ms = StrictIntegerField(min_value=0, max_value=LATENCY_MS_MAX)
    input_tokens = StrictIntegerField(min_value=0, max_value=MAX_TOKENS, required=False, default=0)
    output_tokens = StrictIntegerField(min_value=0, max_value=MAX_TOKENS, required=False, default=0)
    error_code = NoNulText(max_length=64, required=False, allow_blank=True, default="")

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
