"""One error hierarchy for the product, and its one mapping to JSON for the API.

Every API error has the shape {"error": {"code", "message", "fields"?}}; `fields` maps a field
name to what was wrong with it and, for choices, the allowed values.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger("dispatch.errors")


class DispatchError(Exception):
    """A domain error with a machine-readable code and the HTTP status the API answers with."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    code = "dispatch_error"

    def __init__(self, message: str, *, fields: dict[str, Any] | None = None, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error, **self.extra}


class IdempotencyConflict(DispatchError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "idempotency_conflict"


class ReplayNotCompliant(DispatchError):
    status_code = status.HTTP_409_CONFLICT
    code = "replay_provider_not_compliant"


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def _flatten(detail: Any) -> Any:
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    return str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DispatchError):
        return Response(exc.body(), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None  # unhandled: Django's 500 handler answers (JSON, no traceback)
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = _flatten(detail)
        names = ", ".join(sorted(fields))
        response.data = error_body("invalid_input", f"Invalid input in: {names}.", fields)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        response.data = error_body(codes if isinstance(codes, str) else str(exc.default_code), str(exc.detail))
    return response
