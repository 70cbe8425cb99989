"""Every 401, 403 and 429 leaves a trace: counted per client in /metrics and logged with who it
was, never the key (issue 12, finding 7h). Through the real API, login page and /metrics."""

from __future__ import annotations

import logging

import pytest
from django.test import Client
from rest_framework.test import APIClient

from api.testing import keyed_api
from authoring.demo import demo_world_load

pytestmark = pytest.mark.django_db
BASIC = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}


def refusals(client: str, status: int, code: str) -> float:
    """The access_refusals_total sample for these labels, as /metrics serves it (0 when absent)."""
    text = Client().get("/metrics").content.decode()
    line = f'access_refusals_total{{client="{client}",code="{code}",status="{status}"}}'
    return next((float(x.split()[-1]) for x in text.splitlines() if x.startswith(line)), 0.0)


@pytest.fixture
def world():
    demo_world_load()


def access_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "dispatch.access"]


def test_a_401_is_counted_as_anonymous_and_logged_without_the_key(world, caplog):
    before_missing = refusals("anonymous", 401, "not_authenticated")
    before_bad = refusals("anonymous", 401, "invalid_api_key")
    caplog.set_level(logging.WARNING, logger="dispatch.access")
    assert APIClient(REMOTE_ADDR="10.4.4.4").post("/dispatch", BASIC, format="json").status_code == 401
    forged = "mds_deadbeef_not-a-real-key-but-secret-looking"
    stranger = APIClient(REMOTE_ADDR="10.5.5.5")
    stranger.credentials(HTTP_AUTHORIZATION=f"Api-Key {forged}")
    assert stranger.get("/providers?region=us_east").status_code == 401
    assert refusals("anonymous", 401, "not_authenticated") == before_missing + 1
    assert refusals("anonymous", 401, "invalid_api_key") == before_bad + 1
    lines = access_lines(caplog)
    assert any("401 not_authenticated client=anonymous remote=10.4.4.4 POST /dispatch" in line for line in lines)
    assert any("401 invalid_api_key client=anonymous remote=10.5.5.5" in line for line in lines)
    assert not any("deadbeef" in line or forged in line for line in lines)


def test_a_403_and_a_throttle_429_are_counted_under_the_clients_name(world, caplog):
    api, client, key = keyed_api("read", rate="1/min")
    caplog.set_level(logging.WARNING, logger="dispatch.access")
    assert api.post("/dispatch", BASIC, format="json").status_code == 403  # no dispatch scope
    assert api.get("/providers?region=us_east").status_code == 200
    assert api.get("/providers?region=us_east").status_code == 429
    assert refusals(client.name, 403, "missing_scope") == 1
    assert refusals(client.name, 429, "throttled") == 1
    lines = access_lines(caplog)
    assert any(f"403 missing_scope client={client.name} " in line for line in lines)
    assert any(f"429 throttled client={client.name} " in line for line in lines)
    assert not any(key in line for line in lines)


def test_dispatchs_own_429_from_the_deferred_client_count_is_counted(world, caplog):
    api, client, _ = keyed_api("dispatch", rate="1/min")
    caplog.set_level(logging.WARNING, logger="dispatch.access")
    assert api.post("/dispatch", BASIC, format="json").status_code == 200
    assert api.post("/dispatch", BASIC, format="json").status_code == 429
    assert refusals(client.name, 429, "throttled") == 1
    assert any(f"429 throttled client={client.name} " in line and "/dispatch" in line for line in access_lines(caplog))


def test_a_staff_sessions_refusal_names_the_user_under_the_session_label(world, django_user_model, caplog):
    django_user_model.objects.create_user("plain", password="plain-password-1")  # signed in, not staff
    browser = APIClient()
    browser.login(username="plain", password="plain-password-1")
    before = refusals("session", 403, "permission_denied")
    caplog.set_level(logging.WARNING, logger="dispatch.access")
    assert browser.get("/providers?region=us_east").status_code == 403
    assert refusals("session", 403, "permission_denied") == before + 1
    assert any("client=session:plain " in line for line in access_lines(caplog))


def test_the_login_throttles_429_is_counted_and_logged(settings, django_user_model, caplog):
    settings.ADMIN_LOGIN_MAX_FAILURES = 1
    before = refusals("anonymous", 429, "login_throttled")
    caplog.set_level(logging.WARNING, logger="dispatch.access")
    browser = Client(REMOTE_ADDR="10.6.6.6")
    assert browser.post("/admin/login/", {"username": "root", "password": "wrong-1"}).status_code == 200
    assert browser.post("/admin/login/", {"username": "root", "password": "secret-guess-2"}).status_code == 429
    assert refusals("anonymous", 429, "login_throttled") == before + 1
    lines = access_lines(caplog)
    assert any("429 login_throttled client=anonymous (login as 'root') remote=10.6.6.6" in line for line in lines)
    assert not any("secret-guess-2" in line for line in lines)
