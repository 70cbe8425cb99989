"""One structured line per request (`LOG_FORMAT=json`; off by default).

Logger `dispatch.request`, level INFO, message `request`, fields: `request_id`, `client` (the API
client's name, `session` for a signed-in user, `anonymous`), `method`, `route` (the URL pattern,
e.g. `dispatch/<str:request_id>/outcome`, never the raw path or query), `status`, `duration_ms`.
Nothing from the headers or the body is logged: never a key, a token, a password or a
justification. The request id is the one the response names (`Request-Id`, as POST /dispatch
sets it), else the client's (in the path, as for an outcome, the `request_id` query or the
`Request-Id` header, when a UUID), else a new one; a 500 page names the same id.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from clients.keys import ClientPrincipal

logger = logging.getLogger("dispatch.request")
REQUEST_ID_ATTRIBUTE = "log_request_id"


def request_id_of(request: HttpRequest) -> str:
    """The client's request id (query or Request-Id header) when it is a UUID, else a new one;
    the same for the whole request once asked."""
    known = getattr(request, REQUEST_ID_ATTRIBUTE, None)
    if isinstance(known, str):
        return known
    match = request.resolver_match
    in_path = str(match.kwargs.get("request_id", "")) if match is not None else ""  # /dispatch/<id>/outcome
    for candidate in (in_path, request.GET.get("request_id", ""), request.headers.get("Request-Id", "")):
        try:
            found = str(uuid.UUID(candidate))
            break
        except ValueError:
            continue
    else:
        found = str(uuid.uuid4())
    setattr(request, REQUEST_ID_ATTRIBUTE, found)
    return found


def client_of(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if isinstance(user, ClientPrincipal):
        return user.name
    if user is not None and getattr(user, "is_authenticated", False):
        return "session"
    return "anonymous"


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        match = request.resolver_match
        request_id = response.get("Request-Id") or request_id_of(request)
        logger.info(
            "request",
            extra={
                "fields": {
                    "request_id": request_id,
                    "client": client_of(request),
                    "method": request.method,
                    "route": match.route if match is not None else None,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                }
            },
        )
        return response
