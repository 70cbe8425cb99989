"""One error hierarchy for the product: a base error with a machine-readable code and the HTTP
status every surface maps it to (JSON for the API, a form error on pages, a message in admin).

Every API error has the shape {"error": {"code", "message", "fields"?}}; `fields` maps a field
name to what was wrong with it and, for choices, the allowed values (`error_body`). The API's
exception handler (`api.errors`) is the one place these become responses. An error only one
service raises may be defined beside it (`providers.limits.ClientThrottled`, `audit.services`,
`clients.services`); it is still a `DispatchError`, answered the same way.
"""

from __future__ import annotations

from typing import Any

from rest_framework import status


class DispatchError(Exception):
    """A domain error with a machine-readable code and the HTTP status the API answers with."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    code = "dispatch_error"
    retry_after_seconds: int | None = None  # sent as Retry-After when set

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


class AuditRowTampered(DispatchError):
    """A stored decision failed its integrity check (its digest) when about to be replayed: it is
    never served. The row was changed behind the application's back; operators run verify_audit_log."""

    status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    code = "audit_row_tampered"


class DatabaseUnavailable(DispatchError):
    """The database did not answer in time (down, restarting, pool exhausted, statement timeout).

    Nothing was committed for the request, so the client may retry with the same request_id.
    """

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "database_unavailable"
    retry_after_seconds = 1


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}
