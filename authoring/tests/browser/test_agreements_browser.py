"""Issue 16 in a real browser (Playwright + Debian chromium, live server): the compliance calendar on
the admin index, the agreements list with its status and filters, and the coverage map's age gap.
Screenshots go to artifacts/: admin_compliance_calendar.png, admin_agreements.png,
admin_coverage_age_gap.png."""

from __future__ import annotations

import pytest

from authoring.demo import DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USERNAME, demo_world_load
from providers.models import Agreement

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_administrator_sees_agreements_their_calendar_and_the_age_gap(live_server, page, artifacts_dir):
    demo_world_load()
    page.set_default_timeout(15_000)
    page.set_viewport_size({"width": 1700, "height": 1000})  # the lists' every column in the screenshots
    page.goto(live_server.url + "/admin/")
    page.fill("#id_username", DEMO_ADMIN_USERNAME)
    page.fill("#id_password", DEMO_ADMIN_PASSWORD)
    page.locator("input[type=submit]").click()

    calendar = page.locator("#compliance-calendar")
    assert calendar.is_visible()
    text = calendar.inner_text()
    assert "NDPA 2026 — OpenAI" in text and "in 20 days" in text and "science/elementary" in text
    page.screenshot(path=str(artifacts_dir / "admin_compliance_calendar.png"), full_page=True)
    calendar.locator("a.renew-link").first.click()
    page.wait_for_load_state()
    openai = Agreement.objects.get(reference="NDPA 2026 — OpenAI")
    assert page.url.endswith(f"/admin/providers/agreement/{openai.pk}/change/")
    assert openai.expires_on is not None and page.input_value("#id_expires_on") == openai.expires_on.isoformat()

    page.goto(live_server.url + "/admin/providers/agreement/")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == Agreement.objects.count()
    assert "Expiring within 30 days" in page.locator("#result_list").inner_text()
    assert page.locator("#changelist-filter").inner_text().count("region covered") == 1
    page.screenshot(path=str(artifacts_dir / "admin_agreements.png"), full_page=True)
    page.goto(live_server.url + "/admin/providers/agreement/?covers=us_west")
    assert "NDPA 2026 — OpenAI" not in page.locator("#result_list").inner_text()

    page.goto(live_server.url + "/admin/coverage/?region=us_east")
    gap = page.locator('[data-context="science/early_childhood/us_east"]')
    assert "gap" in (gap.get_attribute("class") or "")
    served = page.locator('[data-context="science/elementary/us_east"]')
    assert "openai-gpt4" in served.inner_text()
    page.screenshot(path=str(artifacts_dir / "admin_coverage_age_gap.png"), full_page=True)
