"""The home page and the error pages: JSON for API clients, never a traceback."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from dispatch_site.errors import error_body

logger = logging.getLogger("dispatch.errors")


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def _wants_html(request: HttpRequest) -> bool:
    return "text/html" in request.headers.get("Accept", "") and not request.path.startswith(
        ("/dispatch", "/providers", "/policies", "/schema")
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_html(request):
        return render(request, "404.html", status=404)
    return JsonResponse(error_body("not_found", f"No such path: {request.path}"), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    request_id = request.GET.get("request_id", "")
    logger.error("unhandled error on %s %s request_id=%s", request.method, request.path, request_id)
    return JsonResponse(error_body("server_error", "An internal error occurred; it has been logged."), status=500)
