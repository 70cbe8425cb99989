"""An administrator sees a provider cooling down on the provider health page and marks it healthy
with a reason, in a real browser (Playwright + Debian chromium, live server). Screenshots:
artifacts/admin_provider_health.png, artifacts/admin_provider_health_marked.png."""

from __future__ import annotations

import pytest
from django.utils import timezone

from authoring.demo import DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USERNAME, demo_world_load
from providers.health.services import provider_health_outcome
from providers.models import ModelProvider, ProviderHealthTransition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_administrator_marks_a_cooling_provider_healthy(live_server, page, artifacts_dir, settings):
    demo_world_load()
    settings.PROVIDER_HEALTH_FAILURES = 2
    openai = ModelProvider.objects.get(slug="openai-gpt4")
    for _ in range(2):
        provider_health_outcome(provider=openai, dispatched_at=timezone.now(), success=False, error_code="timeout")
    page.set_default_timeout(15_000)
    page.goto(live_server.url + "/admin/")
    page.fill("#id_username", DEMO_ADMIN_USERNAME)
    page.fill("#id_password", DEMO_ADMIN_PASSWORD)
    page.locator("input[type=submit]").click()
    page.get_by_role("link", name="Provider health").first.click()
    row = page.locator("#health-openai-gpt4")
    assert "cooling_down" in row.inner_text()
    page.screenshot(path=str(artifacts_dir / "admin_provider_health.png"), full_page=True)
    row.locator("input[name=reason]").fill("vendor confirmed the outage is over")
    with page.expect_navigation():
        row.locator("input[type=submit]").click()
    assert "openai-gpt4 is marked healthy." in page.locator(".messagelist").inner_text().lower()
    assert "Mark healthy" not in page.locator("#health-openai-gpt4").inner_text()
    assert "vendor confirmed the outage is over" in page.locator("#health-transitions").inner_text()
    page.screenshot(path=str(artifacts_dir / "admin_provider_health_marked.png"), full_page=True)
    changed_by = ProviderHealthTransition.objects.get(reason="marked_healthy").changed_by
    assert changed_by is not None and changed_by.username == DEMO_ADMIN_USERNAME
