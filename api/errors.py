"""The API's one exception handler: every error becomes the JSON shape of `common.errors`.

DRF's own exceptions (validation, authentication, permission, throttling, parse errors), the
product's `DispatchError`s and database outages all answer {"error": {"code", "message",
"fields"?}}. Every 401, 403 and 429 the API answers is counted and logged by client
(`common.access_refusals`).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from api.parsers import payload_too_large
from clients.keys import ClientPrincipal
from common.access_refusals import ANONYMOUS, SESSION, access_refusal_record
from common.errors import DispatchError, error_body
from common.outage import DATABASE_DOWN_ERRORS, database_unavailable


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
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        exc = unsupported_media_type(context["request"])
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


def unsupported_media_type(request: Any) -> exceptions.UnsupportedMediaType:
    """415 naming the one type the API reads, and what the request sent instead."""
    sent = request.META.get("CONTENT_TYPE", "").split(";")[0].strip()
    got = f'Content-Type "{sent[:100]}"' if sent else "no Content-Type"
    return exceptions.UnsupportedMediaType(
        sent, detail=f"Send the body as JSON with Content-Type: application/json (this request had {got})."
    )


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
