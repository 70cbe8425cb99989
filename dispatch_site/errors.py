"""One error hierarchy for the product, and its one mapping to JSON for the API.

Every API error has the shape {"error": {"code", "message", "fields"?}}; `fields` maps a field
name to what was wrong with it and, for choices, the allowed values. Every 401, 403 and 429 the
API answers is counted and logged by client (`dispatch_site.access_refusals`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from clients.keys import ClientPrincipal
from dispatch_site.access_refusals import ANONYMOUS, SESSION, access_refusal_record
from dispatch_site.outage import EXEMPT_PATHS, outage_active, outage_record
from dispatch_site.parsers import payload_too_large

logger = logging.getLogger("dispatch.errors")


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


class ClientThrottled(DispatchError):
    """The API client is over its rate (counted with the dispatch's provider reservation); the same
    429 that the throttle answers for other endpoints."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = "throttled"

    def __init__(self, retry_after_seconds: int):
        unit = "second" if retry_after_seconds == 1 else "seconds"  # DRF's own wording
        super().__init__(f"Request was throttled. Expected available in {retry_after_seconds} {unit}.")
        self.retry_after_seconds = retry_after_seconds


class DatabaseUnavailable(DispatchError):
    """The database did not answer in time (down, restarting, pool exhausted, statement timeout).

    Nothing was committed for the request, so the client may retry with the same request_id.
    """

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "database_unavailable"
    retry_after_seconds = 1


# Driver, pool and timeout failures all arrive as these (Django wraps psycopg's errors, and
# psycopg_pool.PoolTimeout is an OperationalError): a stall becomes a 503, never a 500.
DATABASE_DOWN_ERRORS = (OperationalError, InterfaceError)


def database_unavailable(request: HttpRequest, exc: Exception) -> DatabaseUnavailable:
    """Log a database outage (one line, no traceback) with its request id; the error to answer with."""
    outage_record(exc)
    logger.warning(
        "database unavailable on %s %s request_id=%s: %s: %s",
        request.method,
        request.path,
        request.GET.get("request_id", ""),
        type(exc).__name__,
        str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "",
    )
    return DatabaseUnavailable("The database is unavailable; retry shortly with the same request_id.")


def _unavailable_response(error: DatabaseUnavailable) -> JsonResponse:
    response = JsonResponse(error.body(), status=error.status_code)
    response["Retry-After"] = str(error.retry_after_seconds)
    return response


class DatabaseUnavailableMiddleware:
    """A database outage is the same JSON 503 outside the API too (admin, pages), and while this
    worker holds an outage (see `dispatch_site.outage`) requests get it at once."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if outage_active() and request.path not in EXEMPT_PATHS:
            return _unavailable_response(
                DatabaseUnavailable("The database is unavailable; retry shortly with the same request_id.")
            )
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_DOWN_ERRORS):
            return None
        return _unavailable_response(database_unavailable(request, exception))


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
    response = _api_error_response(exc, context)
    if response is not None and response.status_code in TRACED_STATUSES:
        error = response.data.get("error", {}) if isinstance(response.data, dict) else {}
        refusal_trace(context["request"], status=response.status_code, code=str(error.get("code", "")))
    return response


def _api_error_response(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DispatchError):
        headers = {"Retry-After": str(exc.retry_after_seconds)} if exc.retry_after_seconds is not None else None
        return Response(exc.body(), status=exc.status_code, headers=headers)
    if isinstance(exc, DATABASE_DOWN_ERRORS):
        error = database_unavailable(context["request"], exc)
        return Response(error.body(), status=error.status_code, headers={"Retry-After": str(error.retry_after_seconds)})
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):  # over DATA_UPLOAD_MAX_MEMORY_SIZE: Django would answer an HTML 400
        exc = payload_too_large()
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


TRACED_STATUSES = frozenset({401, 403, 429})


def refusal_trace(request: Any, *, status: int, code: str) -> None:
    """Count and log a 401/403/429 under the caller: its client name, `session`, or `anonymous`."""
    try:
        user = request.user  # authenticated already; a failed authentication left None
    except exceptions.APIException:
        user = None
    if isinstance(user, ClientPrincipal):
        client = who = user.name
    elif user is not None and getattr(user, "is_authenticated", False):
        client, who = SESSION, f"session:{user.get_username()}"
    else:
        client = who = ANONYMOUS
    access_refusal_record(
        client=client,
        who=who,
        status=status,
        code=code,
        method=request.method,
        path=request.path,
        remote_addr=request.META.get("REMOTE_ADDR", ""),
    )
