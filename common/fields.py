"""Serializer building blocks that make bad input name the field and what is allowed.

A value of the wrong type is described in JSON's words, never Python's: `["elementary"]` for a
grade band is "Expected a string, got an array", not `"['elementary']" is not allowed`.
"""

from __future__ import annotations

from typing import Any

from django.db.models import TextChoices
from rest_framework import serializers


def json_type(value: Any) -> str:
    """What a decoded JSON value is, as a client developer would say it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "another type"


class JsonChoiceField(serializers.ChoiceField):
    """One of the allowed strings; anything but a string is refused by its JSON type (DRF's own
    ChoiceField would compare `str(value)`, so 5 could match "5" and a list prints as Python)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("wrong_type", got=json_type(data))
        return super().to_internal_value(data)


def choice_field(choices: type[TextChoices], **kwargs: Any) -> serializers.ChoiceField:
    allowed = ", ".join(choices.values)
    return JsonChoiceField(
        choices=choices.choices,
        error_messages={
            "invalid_choice": f'"{{input}}" is not allowed; allowed values: {allowed}.',
            "wrong_type": f"Expected a string, got {{got}}; allowed values: {allowed}.",
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

    default_error_messages = {"wrong_type": "Expected true or false, got {got}."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("wrong_type", got=json_type(data))
        return data


class NoNulText(serializers.CharField):
    """A JSON string that PostgreSQL can store: numbers are not coerced, NUL characters are refused."""

    default_error_messages = {"not_a_string": "Expected a string, got {got}."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string", got=json_type(data))
        value = super().to_internal_value(data)
        if "\x00" in value:
            raise serializers.ValidationError("NUL characters are not allowed.")
        return value
