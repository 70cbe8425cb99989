"""The home page and the error pages: JSON for API clients, never a traceback."""

from __future__ import annotations

import logging
import sys

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.urls import Resolver404, resolve
from rest_framework.views import APIView

from common.errors import error_body
from dispatch_site.request_log import request_id_of

logger = logging.getLogger("dispatch.errors")


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


API_PREFIXES = ("/dispatch", "/providers", "/policies", "/coverage", "/analytics", "/schema", "/metrics")


def _wants_html(request: HttpRequest) -> bool:
    return "text/html" in request.headers.get("Accept", "") and not request.path.startswith(API_PREFIXES)


def _is_api(request: HttpRequest) -> bool:
    """Whether the path is the API's (a DRF view): its errors stay JSON whatever the client accepts."""
    try:
        view = resolve(request.path_info).func
    except Resolver404:
        return request.path.startswith(API_PREFIXES)
    view_class = getattr(view, "cls", None)
    return isinstance(view_class, type) and issubclass(view_class, APIView)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_html(request):
        return render(request, "404.html", status=404)
    return JsonResponse(error_body("not_found", f"No such path: {request.path}"), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """A 500 naming only a request id; the log line carries the same id (Django logs the traceback).

    A page (admin, teacher pages) asked for by a browser gets an HTML page; the API and any
    client that does not accept HTML get the JSON error. The page is rendered without the
    request's context processors, which may need the database that just failed."""
    request_id = _request_id(request)
    exc_type = sys.exc_info()[0]
    logger.error(
        "unhandled error on %s %s request_id=%s: %s",
        request.method,
        request.path,
        request_id,
        exc_type.__name__ if exc_type else "unknown",
    )
    if _wants_html(request) and not _is_api(request):
        html = loader.get_template("500.html").render({"request_id": request_id})
        return HttpResponse(html, status=500, content_type="text/html; charset=utf-8")
    body = error_body("server_error", "An internal error occurred; it has been logged under this request_id.")
    body["request_id"] = request_id
    return JsonResponse(body, status=500)


def _request_id(request: HttpRequest) -> str:
    """The client's request id (query or Request-Id header) when it is a UUID, else a new one (the
    same id the request's JSON log line carries)."""
    return request_id_of(request)
