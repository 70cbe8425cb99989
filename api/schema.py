"""OpenAPI hooks: the Api-Key security scheme, 401/403/429 declared on every protected operation,
the HTTP server's 414 declared on every operation, and the dispatch body refusing unknown fields
(`additionalProperties: false`).

The dispatch body's cross-field rule (override fields only with `teacher_override: true`) is
stated in the field descriptions; OpenAPI 3.0 has no conditional keyword for it. Registered by
importing this module (`api.apps`).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension

_ERROR_REF = {"$ref": "#/components/schemas/Error"}

AUTH_RESPONSES = {
    "401": (
        "No API key, or an unknown or revoked one (`error.code` = `not_authenticated`, `invalid_api_key`, ...), "
        "or a key sent another way (`Bearer`, `X-API-Key`: `wrong_auth_scheme`). Send `Authorization: Api-Key <key>`.",
        {"WWW-Authenticate": {"schema": {"type": "string"}, "description": 'Api-Key realm="api"'}},
    ),
    "403": (
        "The key lacks the scope this request needs (`error.code` = `missing_scope`), or a staff session "
        "lacks that scope's permission (`missing_permission`).",
        {},
    ),
    "429": (
        "The client's rate limit is reached.",
        {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds until the window ends"}},
    ),
}


# gunicorn refuses a request line (method, path, query string, version) longer than its
# `limit_request_line` (gunicorn.conf.py) before the application sees it, with its own HTML page.
REQUEST_LINE_LIMIT = 4094
REQUEST_LINE_TOO_LONG = {
    "description": (
        f"The request line (method, path and query string) is over {REQUEST_LINE_LIMIT:,} bytes: the HTTP "
        "server refuses it before the application, with an HTML page (not the error shape). Shorten the query."
    ),
    "content": {"text/html": {"schema": {"type": "string"}}},
}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.access.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`: a key from admin or `manage.py create_api_client`.",
        }


def declare_auth_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every operation with a security requirement may
    answer 401, 403 and 429 in the error shape (schemathesis checks every status is declared)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    if "Error" not in schemas:
        return result
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or not operation.get("security"):
                continue
            responses = operation.setdefault("responses", {})
            for code, (description, headers) in AUTH_RESPONSES.items():
                if code in responses:
                    continue
                response: dict[str, Any] = {
                    "description": description,
                    "content": {"application/json": {"schema": _ERROR_REF}},
                }
                if headers:
                    response["headers"] = headers
                responses[code] = response
    return result


def declare_request_line_limit(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: any operation may answer the HTTP server's 414."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict):
                operation.setdefault("responses", {}).setdefault("414", REQUEST_LINE_TOO_LONG)
    return result


class DispatchRequestSchema(OpenApiSerializerExtension):
    target_class = "api.serializers.DispatchRequestSerializer"

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        return schema
