"""Hardened settings: CSP on our pages, admin login throttled, no traceback to clients, deploy check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_our_pages_carry_a_content_security_policy(client, admin_client):
    for page in (client.get("/"), client.get("/docs"), client.get("/admin/login/"), admin_client.get("/admin/")):
        assert page.status_code == 200
        policy = page["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert page["X-Frame-Options"] == "DENY"
    assert "<script>" not in client.get("/docs").content.decode()  # the Swagger init script is a file
    assert "Content-Security-Policy" not in client.get("/healthz")  # JSON needs none


def test_admin_login_is_throttled_against_guessing(settings, django_user_model):
    settings.ADMIN_LOGIN_MAX_FAILURES = 3
    django_user_model.objects.create_superuser("root", "root@example.org", "the-right-password-1")
    browser = Client()
    for attempt in range(3):
        response = browser.post("/admin/login/", {"username": "root", "password": f"guess-{attempt}"})
        assert response.status_code == 200  # the form again: refused
    blocked = browser.post("/admin/login/", {"username": "root", "password": "the-right-password-1"})
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 0
    other_ip = Client(REMOTE_ADDR="10.9.9.9")  # the username is locked too, from any address
    assert other_ip.post("/admin/login/", {"username": "root", "password": "x"}).status_code == 429
    fresh = Client(REMOTE_ADDR="10.8.8.8")
    settings.ADMIN_LOGIN_MAX_FAILURES = 100
    assert fresh.post("/admin/login/", {"username": "root", "password": "the-right-password-1"}).status_code == 302


FULLWIDTH_TEACHER = "\uff54\uff45\uff41\uff43\uff48\uff45\uff52"  # "teacher" in fullwidth letters


@pytest.mark.parametrize("login", ["/admin/login/", "/accounts/login/"])  # the admin's and the teachers' page
@pytest.mark.parametrize("spelling", [FULLWIDTH_TEACHER, " " * 200 + "teacher"])
def test_a_locked_username_stays_locked_in_every_spelling_django_logs_in_with(
    settings, django_user_model, login, spelling
):
    settings.ADMIN_LOGIN_MAX_FAILURES = 3
    django_user_model.objects.create_user("teacher", password="the-right-password-1", is_staff=True)
    for attempt in range(3):  # from three addresses: only the username's count reaches the limit
        guess = Client(REMOTE_ADDR=f"10.1.1.{attempt}").post(login, {"username": "teacher", "password": f"g{attempt}"})
        assert guess.status_code == 200
    other_spelling = {"username": spelling, "password": "the-right-password-1"}
    blocked = Client(REMOTE_ADDR="10.2.2.2").post(login, other_spelling)
    assert blocked.status_code == 429
    settings.ADMIN_LOGIN_MAX_FAILURES = 100  # the spelling is the same account: it logs in once unlocked
    assert Client(REMOTE_ADDR="10.3.3.3").post(login, other_spelling).status_code == 302


@pytest.mark.urls("dispatch_site.tests.boom_urls")
def test_an_unhandled_error_is_json_without_a_traceback(settings):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    response = client.get("/boom")
    assert response.status_code == 500
    body = response.json()
    assert body["error"]["code"] == "server_error" and set(body) == {"error", "request_id"}
    assert b"secret-internal-detail" not in response.content and b"Traceback" not in response.content


def test_deploy_check_is_clean_under_production_settings_only_with_a_metrics_token():
    def deploy_check(metrics_token: str) -> subprocess.CompletedProcess[str]:
        env = {
            **{k: v for k, v in os.environ.items() if k not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "METRICS_TOKEN"}},
            "DJANGO_SETTINGS_MODULE": "dispatch_site.settings",
            "DJANGO_ENV": "production",
            "SECRET_KEY": "deploy-check-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG",
            "METRICS_TOKEN": metrics_token,
        }
        return subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    clean = deploy_check("deploy-check-metrics-token-0123456789abcdef")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    missing = deploy_check("")  # /metrics would be refused: the deployment check says why
    assert missing.returncode != 0 and "audit.W001" in missing.stderr and "METRICS_TOKEN" in missing.stderr
