"""Serializer building blocks that make bad input name the field and what is allowed."""

from __future__ import annotations

from typing import Any

from django.db.models import TextChoices
from rest_framework import serializers


def choice_field(choices: type[TextChoices], **kwargs: Any) -> serializers.ChoiceField:
    allowed = ", ".join(choices.values)
    return serializers.ChoiceField(
        choices=choices.choices,
        error_messages={
            "invalid_choice": f'"{{input}}" is not allowed; allowed values: {allowed}.',
            "required": f"This field is required; allowed values: {allowed}.",
            "null": f"This field may not be null; allowed values: {allowed}.",
        },
        **kwargs,
    )


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, naming them, instead of silently dropping them."""

    def validate(self, attrs: Any) -> Any:
        initial = self.initial_data if isinstance(self.initial_data, dict) else {}
        unknown = sorted(set(initial) - set(self.fields))
        if unknown:
            allowed = ", ".join(sorted(self.fields))
            raise serializers.ValidationError(
                {name: [f"Unknown field; allowed fields: {allowed}."] for name in unknown}
            )
        return attrs


class JsonBoolean(serializers.BooleanField):
    """A JSON true or false only: DRF's BooleanField would also take 0, 1, "yes", "off"..."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class NoNulText(serializers.CharField):
    """A JSON string that PostgreSQL can store: numbers are not coerced, NUL characters are refused."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        value = super().to_internal_value(data)
        if "\x00" in value:
            raise serializers.ValidationError("NUL characters are not allowed.")
        return value
