"""/metrics is never public under production settings, and check --deploy says so (issue 12, 7g)."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.test import Client

pytestmark = pytest.mark.django_db


def test_production_refuses_metrics_without_a_token(settings):
    settings.PRODUCTION, settings.METRICS_TOKEN = True, ""
    response = Client().get("/metrics")
    assert response.status_code == 403
    assert "METRICS_TOKEN" in response.content.decode()
    assert "dispatch_decisions_total" not in response.content.decode()


def test_production_serves_metrics_to_the_token_only(settings):
    settings.PRODUCTION, settings.METRICS_TOKEN = True, "a-long-random-scrape-token-0123456789"
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    scrape = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer a-long-random-scrape-token-0123456789")
    assert scrape.status_code == 200 and "access_refusals_total" in scrape.content.decode()


def test_the_deploy_check_warns_about_a_missing_or_short_metrics_token(settings):
    def warnings(token: str) -> set[str | None]:
        settings.METRICS_TOKEN = token
        assert not {m.id for m in run_checks()} & {"audit.W001", "audit.W002"}  # a deployment check only
        return {m.id for m in run_checks(include_deployment_checks=True)} & {"audit.W001", "audit.W002"}

    assert warnings("") == {"audit.W001"}
    assert warnings("short") == {"audit.W002"}
    assert warnings("a-long-random-scrape-token-0123456789") == set()
