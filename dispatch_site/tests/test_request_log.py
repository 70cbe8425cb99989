"""LOG_FORMAT=json (issue 18): one JSON line per request with its request id, client, method,
route, status and duration, and never a key, a token, a password or a justification."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid

import pytest
from django.conf import settings
from django.test import Client, override_settings
from rest_framework.test import APIClient

from api.testing import keyed_api
from authoring.demo import DEMO_TEACHER_ID, demo_teacher_load, demo_world_load
from clients.keys import key_prefix
from common.json_log import JsonFormatter
from dispatch_site.tests.servers import ROOT

pytestmark = pytest.mark.django_db
REQUEST_LOG = "dispatch_site.request_log.RequestLogMiddleware"
BASIC = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}
JUSTIFICATION = "Student needs a model that explains fractions visually, secret-ish words"
METRICS_TOKEN = "metrics-token-that-must-never-be-logged-0123456789"


def lines(caplog) -> list[dict]:
    """The request lines, as LOG_FORMAT=json writes them."""
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "dispatch.request"]


@override_settings(MIDDLEWARE=[REQUEST_LOG, *settings.MIDDLEWARE], METRICS_TOKEN=METRICS_TOKEN)
def test_one_line_per_request_with_its_fields_and_no_secret(caplog):
    demo_world_load()
    demo_teacher_load()
    api, client, key = keyed_api(teachers=[DEMO_TEACHER_ID])
    caplog.set_level(logging.INFO, logger="dispatch.request")
    request_id = str(uuid.uuid4())
    override = {
        **BASIC,
        "teacher_override": True,
        "override_provider_id": "anthropic-claude",
        "override_reason": JUSTIFICATION,
        "teacher_id": DEMO_TEACHER_ID,
    }
    assert api.post(f"/dispatch?request_id={request_id}", override, format="json").status_code == 200
    outcome = {"success": True, "latency_ms": 840, "input_tokens": 512, "output_tokens": 230}
    assert api.post(f"/dispatch/{request_id}/outcome", outcome, format="json").status_code == 201
    assert APIClient().post("/dispatch", BASIC, format="json", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}").status_code == 200
    assert Client().get("/no/such/page").status_code == 404
    login = {"username": "admin", "password": "dispatch-demo-admin-password-typed-in"}
    Client().post("/admin/login/", login)

    logged = lines(caplog)
    assert [(line["method"], line["route"], line["status"]) for line in logged] == [
        ("POST", "dispatch", 200),
        ("POST", "dispatch/<str:request_id>/outcome", 201),
        ("POST", "dispatch", 401),
        ("GET", "metrics", 200),
        ("GET", None, 404),
        ("POST", "admin/login/", 200),
    ]
    first = logged[0]
    assert first["request_id"] == request_id and first["client"] == client.name
    assert logged[1]["request_id"] == request_id  # the outcome is about the same dispatch
    assert logged[2]["client"] == "anonymous"
    assert set(first) == {
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "client",
        "method",
        "route",
        "status",
        "duration_ms",
    }
    for line in logged:
        uuid.UUID(line["request_id"])
        assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    text = "\n".join(json.dumps(line) for line in logged)
    secret_part = key.partition(f"{key_prefix(key)}_")[2]  # token_urlsafe: it may hold "_" itself
    assert len(secret_part) >= 40
    for secret in (key, secret_part, METRICS_TOKEN, JUSTIFICATION, "fractions", login["password"]):
        assert secret not in text


@override_settings(MIDDLEWARE=[REQUEST_LOG, *settings.MIDDLEWARE], DEBUG=False)
@pytest.mark.urls("dispatch_site.tests.crash_urls")
def test_a_500_names_the_request_id_of_its_log_line(caplog):
    caplog.set_level(logging.INFO, logger="dispatch.request")
    response = Client(raise_request_exception=False).get("/crash/api")
    assert response.status_code == 500
    (line,) = lines(caplog)
    assert line["status"] == 500 and line["request_id"] == response.json()["request_id"]


# WhiteNoise warns (a plain-text line) when staticfiles/ is not collected yet, as on a fresh clone.
NO_STATIC_WARNING = ["-W", "ignore:No directory at:UserWarning"]


def test_off_by_default_and_on_with_log_format_json():
    assert REQUEST_LOG not in settings.MIDDLEWARE  # the test settings, as the default
    script = (
        "import django, json, sys; django.setup()\n"
        "from django.test import Client\n"
        "Client().get('/healthz')\n"
        "Client().post('/dispatch', '{}', content_type='application/json', HTTP_AUTHORIZATION='Bearer mds_x_key')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DATABASE_OWNER_URL", "DATABASE_TEST_NAME"}}
    env |= {
        "DJANGO_SETTINGS_MODULE": "dispatch_site.settings",
        "LOG_FORMAT": "json",
        "REDIS_URL": "",
        "ALLOWED_HOSTS": "testserver",
    }
    result = subprocess.run(  # noqa: S603 - our own settings, a fresh process
        [sys.executable, *NO_STATIC_WARNING, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    records = [json.loads(line) for line in result.stderr.splitlines()]  # every line is JSON
    requests = [r for r in records if r["logger"] == "dispatch.request"]
    assert [(r["route"], r["status"]) for r in requests] == [("healthz", 200), ("dispatch", 401)]
    assert "mds_x_key" not in result.stderr
    env["LOG_FORMAT"] = "text"
    result = subprocess.run(  # noqa: S603
        [sys.executable, *NO_STATIC_WARNING, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "dispatch.request" not in result.stderr
