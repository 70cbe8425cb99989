"""OpenAPI for the dispatch body: unknown fields are refused (`additionalProperties: false`).

The cross-field rule (override fields only with `teacher_override: true`) is stated in the field
descriptions; OpenAPI 3.0 has no conditional keyword for it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension


class DispatchRequestSchema(OpenApiSerializerExtension):
    target_class = "policies.api.serializers.DispatchRequestSerializer"

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        return schema
