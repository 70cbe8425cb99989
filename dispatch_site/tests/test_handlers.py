"""The WSGI handler gunicorn serves (dispatch_site.handlers): API calls made with an API key run the
short middleware chain and still get the security headers, the request id, the outage breaker and
their own JSON answers; pages, the admin and staff sessions on the API keep the whole chain (CSRF,
session, CSP, the login throttle). Called as gunicorn calls it, not through Django's test client
(which builds its own handler from MIDDLEWARE)."""

from __future__ import annotations

import io
import json
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client

from api.urls import urlpatterns as api_urls
from audit.models import DispatchLog
from authoring.demo import demo_world_load
from common.outage import _state, outage_forget
from dispatch_site.handlers import API_PATH, DispatchSiteHandler, api_key_middleware

pytestmark = pytest.mark.django_db
BASIC = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}


@pytest.fixture
def app() -> Iterator[DispatchSiteHandler]:
    """The handler, with the test's transaction kept open across requests (as Django's test client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield DispatchSiteHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


class Answer:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes):
        self.status_code = int(status.split()[0])
        self.headers = {name.lower(): value for name, value in headers if name.lower() != "set-cookie"}
        self.cookies = [value.split("=", 1)[0].strip() for name, value in headers if name.lower() == "set-cookie"]
        self.body = body

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def call(
    app: DispatchSiteHandler, method: str, path: str, *, body: bytes = b"", query: str = "", **meta: str
) -> Answer:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_TYPE": "application/json" if body else "",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "localhost",
        **meta,
    }
    started: list[Any] = []
    response = app(environ, lambda status, headers, *_: started.append((status, headers)))  # type: ignore[arg-type]
    try:
        content = b"".join(response)
    finally:
        response.close()
    return Answer(started[0][0], started[0][1], content)


def keyed(api_key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Api-Key {api_key}"}


@pytest.fixture
def api_key(keyed_api) -> str:
    demo_world_load()
    _, _, key = keyed_api
    return str(key)


@pytest.fixture
def keyed_api():
    from api.testing import keyed_api

    return keyed_api()


def test_the_short_chain_is_the_whole_chain_without_the_page_middleware():
    handler = DispatchSiteHandler()
    short = api_key_middleware()
    assert [m for m in settings.MIDDLEWARE if m not in settings.PAGE_ONLY_MIDDLEWARE] == short
    assert set(settings.MIDDLEWARE) >= settings.PAGE_ONLY_MIDDLEWARE
    for kept in (
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "common.outage.DatabaseUnavailableMiddleware",
    ):
        assert kept in short
    # The chains really differ: CSRF's view hook is only in the whole one.
    assert any("Csrf" in repr(hook) for hook in handler._view_middleware or ())  # type: ignore[attr-defined]
    assert not any("Csrf" in repr(hook) for hook in handler.api_key_chain._view_middleware or ())  # type: ignore[attr-defined]


def test_middleware_added_to_the_whole_chain_is_in_the_short_one(settings):
    """E.g. LOG_FORMAT=json's request log, inserted after the settings' MIDDLEWARE list."""
    settings.MIDDLEWARE = ["dispatch_site.request_log.RequestLogMiddleware", *settings.MIDDLEWARE]
    assert api_key_middleware()[0] == "dispatch_site.request_log.RequestLogMiddleware"
    DispatchSiteHandler()  # builds with it


def test_every_keyed_api_route_takes_the_short_chain_and_nothing_else_does():
    routes = {str(p.pattern) for p in api_urls} - {"schema", "docs"}
    samples = {route.replace("<str:request_id>", str(uuid.uuid4())) for route in routes}
    for sample in samples:
        assert API_PATH.fullmatch(f"/{sample}"), sample
    for page in ("/", "/admin/", "/admin/login/", "/schema", "/docs", "/dispatch/", "/teacher/", "/metrics"):
        assert not API_PATH.fullmatch(page), page


def test_a_keyed_dispatch_is_decided_audited_and_has_the_security_headers(app, api_key):
    request_id = str(uuid.uuid4())
    answer = call(
        app, "POST", "/dispatch", body=json.dumps(BASIC).encode(), query=f"request_id={request_id}", **keyed(api_key)
    )
    assert answer.status_code == 200, answer.body
    assert answer.header("Request-Id") == request_id
    assert json.loads(answer.body)["request_id"] == request_id
    for name, value in SECURITY_HEADERS.items():
        assert answer.header(name) == value, name
    assert answer.cookies == []  # no session, no CSRF cookie
    assert DispatchLog.objects.filter(request_id=request_id).count() == 1


def test_keyed_errors_keep_their_json_answers(app, api_key):
    bad = call(app, "POST", "/dispatch", body=b'{"subject": "x"}', **keyed(api_key))
    assert bad.status_code == 400 and json.loads(bad.body)["error"]["code"] == "invalid_input"
    assert bad.header("X-Frame-Options") == "DENY"
    wrong_key = call(app, "POST", "/dispatch", body=json.dumps(BASIC).encode(), **keyed("mds_nope_not-a-key"))
    assert wrong_key.status_code == 401 and wrong_key.header("WWW-Authenticate")
    assert not DispatchLog.objects.exists()


def test_the_outage_breaker_answers_keyed_calls_at_once(app, api_key):
    _state.update(down=True, until=float("inf"))
    try:
        answer = call(app, "POST", "/dispatch", body=json.dumps(BASIC).encode(), **keyed(api_key))
    finally:
        outage_forget()
    assert answer.status_code == 503
    assert json.loads(answer.body)["error"]["code"] == "database_unavailable"
    assert answer.header("Retry-After")


def test_pages_keep_csrf_session_and_csp(app):
    login = call(app, "GET", "/admin/login/")
    assert login.status_code == 200
    assert "csrftoken" in login.cookies
    assert login.header("Content-Security-Policy") == settings.CONTENT_SECURITY_POLICY
    assert login.header("X-Frame-Options") == "DENY"
    # A POST without the CSRF token is refused by the whole chain's CSRF check.
    forged = call(
        app,
        "POST",
        "/admin/login/",
        body=b"username=admin&password=x",
        CONTENT_TYPE="application/x-www-form-urlencoded",
    )
    assert forged.status_code == 403


def test_the_api_with_a_staff_session_keeps_the_whole_chain(app, admin_user):
    demo_world_load()
    client = Client()
    client.force_login(admin_user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    answer = call(app, "GET", "/providers", query="region=us_east", HTTP_COOKIE=cookie)
    assert answer.status_code == 200, answer.body  # the session authenticated it: the whole chain ran
    assert call(app, "GET", "/providers", query="region=us_east").status_code == 401
