"""Errors never leak: with DEBUG off an unhandled exception is a JSON 500 naming only a request
id (logged with the same id), and a database outage is a JSON 503, on API views and plain views.
"""

from __future__ import annotations

import logging
import uuid

import pytest
from django.conf import settings
from django.test import Client, override_settings

from common.outage import outage_active, outage_forget
from dispatch_site.tests.crash_urls import SECRET_LOOKING

pytestmark = [pytest.mark.django_db, pytest.mark.urls("dispatch_site.tests.crash_urls")]

LEAKS = ("Traceback", 'File "', "RuntimeError", "KeyError", "hunter2", "/srv/app", "settings.py", "DATABASES")


def assert_no_leak(text: str) -> None:
    for marker in (*LEAKS, settings.SECRET_KEY, str(settings.BASE_DIR)):
        assert marker not in text, f"response leaks {marker!r}"


@pytest.fixture(autouse=True)
def _no_outage_held():
    outage_forget()
    yield
    outage_forget()


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


@override_settings(DEBUG=False)
@pytest.mark.parametrize("path", ["/crash/api", "/crash/page"])
def test_unhandled_exception_is_a_json_500_with_only_a_request_id_and_is_logged_with_it(client, path, caplog):
    request_id = str(uuid.uuid4())
    with caplog.at_level(logging.ERROR):
        response = client.get(f"{path}?request_id={request_id}")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body == {
        "error": {"code": "server_error", "message": body["error"]["message"]},
        "request_id": request_id,
    }
    assert_no_leak(response.content.decode())
    ours = [r for r in caplog.records if r.name == "dispatch.errors"]
    assert ours and request_id in ours[0].getMessage()


@override_settings(DEBUG=False)
def test_a_request_without_an_id_gets_one_in_the_500_and_the_log(client, caplog):
    with caplog.at_level(logging.ERROR):
        response = client.get("/crash/api", HTTP_REQUEST_ID="not-a-uuid <script>")
    request_id = response.json()["request_id"]
    uuid.UUID(request_id)
    assert any(request_id in r.getMessage() for r in caplog.records if r.name == "dispatch.errors")
    assert "<script>" not in response.content.decode()


@override_settings(DEBUG=False)
@pytest.mark.parametrize("path", ["/crash/db-api", "/crash/db-page"])
def test_database_outage_is_a_json_503_with_retry_after_and_no_driver_detail(client, path, caplog):
    request_id = str(uuid.uuid4())
    with caplog.at_level(logging.WARNING):
        response = client.get(f"{path}?request_id={request_id}")
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json()["error"]["code"] == "database_unavailable"
    assert_no_leak(response.content.decode())
    assert SECRET_LOOKING not in response.content.decode() and "10.0.0.5" not in response.content.decode()
    assert any(request_id in r.getMessage() for r in caplog.records if r.name == "dispatch.errors")


def test_the_crash_paths_exist_only_in_the_test_urlconf():
    from dispatch_site import urls

    assert not any("crash" in str(getattr(pattern, "pattern", "")) for pattern in urls.urlpatterns)


@override_settings(DEBUG=False)
def test_a_database_error_while_the_database_answers_is_a_503_for_that_request_only(client):
    """A saturated pool or one dropped connection is not an outage: no hold, the next request is served.
    (The hold itself, with PostgreSQL really stopped, is the PostgreSQL-restart drill in drills/.)"""
    from api.testing import keyed_api
    from authoring.demo import demo_world_load

    demo_world_load()
    api = keyed_api()[0]
    assert client.get("/crash/db-api").status_code == 503
    assert not outage_active()
    assert api.get("/providers?region=us_east").status_code == 200
    assert client.get("/readyz").status_code == 200


@override_settings(DEBUG=False)
def test_a_statement_timeout_is_a_503_but_not_an_outage(client):
    response = client.get("/crash/db-slow")
    assert response.status_code == 503 and response.json()["error"]["code"] == "database_unavailable"
    assert not outage_active()


@override_settings(DEBUG=False)
def test_a_page_asked_for_by_a_browser_gets_an_html_500_with_the_request_id(client, caplog):
    request_id = str(uuid.uuid4())
    with caplog.at_level(logging.ERROR):
        response = client.get(f"/crash/page?request_id={request_id}", HTTP_ACCEPT="text/html,application/xhtml+xml")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    text = response.content.decode()
    assert "<h1>Something went wrong on our side</h1>" in text and request_id in text
    assert_no_leak(text)
    assert any(request_id in r.getMessage() for r in caplog.records if r.name == "dispatch.errors")


@override_settings(DEBUG=False)
def test_the_api_keeps_its_json_500_even_for_a_browser(client):
    response = client.get("/crash/api", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "server_error"
