"""The WSGI handler: API calls made with an API key run a shorter middleware chain than pages.

An API call that sends `Authorization: Api-Key ...` to an API path is authenticated by that key
alone (`api.access.ApiKeyAuthentication` answers or refuses before DRF would look at a session),
and answers JSON: the page middleware (sessions, CSRF, authentication, messages, the admin login
throttle, history's request context, WhiteNoise's static files) has nothing to do there but costs
CPU on every dispatch (issue 14, measured by `make bench`). Such requests run
`api_key_middleware()`: MIDDLEWARE without settings.PAGE_ONLY_MIDDLEWARE (the security headers,
CommonMiddleware, X-Frame-Options, CSP for an HTML answer, the database-outage breaker, and the
request log with LOG_FORMAT=json); every other request, pages, the admin, and the API
with a staff session, runs the whole `MIDDLEWARE`.

Django's test client builds its own handler from MIDDLEWARE; `dispatch_site/tests/test_handlers.py`
calls this one as gunicorn does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponseBase

# The API's keyed endpoints (api/urls.py, without /schema and /docs, which are public pages).
API_PATH = re.compile(r"/(?:dispatch(?:/[^/]+/outcome)?|analytics|providers(?:/health)?|policies/validate|coverage)")


def api_key_request(request: HttpRequest) -> bool:
    """Whether `request` is an API call made with an API key (the short chain serves it)."""
    scheme = request.META.get("HTTP_AUTHORIZATION", "")[:8]
    return scheme.lower() == "api-key " and API_PATH.fullmatch(request.path_info) is not None


def api_key_middleware() -> list[str]:
    """The short chain: MIDDLEWARE, in its order, without the page-only middleware."""
    return [name for name in settings.MIDDLEWARE if name not in settings.PAGE_ONLY_MIDDLEWARE]


@contextmanager
def _middleware(names: list[str]) -> Iterator[None]:
    """settings.MIDDLEWARE as `names` while a chain is built (at start-up, before any request)."""
    whole = settings.MIDDLEWARE
    settings.MIDDLEWARE = names
    try:
        yield
    finally:
        settings.MIDDLEWARE = whole


class _ApiKeyChain(BaseHandler):
    """The chain of `api_key_middleware()` around the same URLconf and views."""

    def load_middleware(self, is_async: bool = False) -> None:
        with _middleware(api_key_middleware()):
            super().load_middleware(is_async)


class DispatchSiteHandler(WSGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self.api_key_chain = _ApiKeyChain()
        self.api_key_chain.load_middleware()

    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        if api_key_request(request):
            return self.api_key_chain.get_response(request)
        return super().get_response(request)
