"""The start page in a real browser (Playwright + Debian chromium against a live server)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_home_page_links_to_docs_and_admin(live_server, page, artifacts_dir):
    page.goto(live_server.url + "/")
    assert page.title() == "Model Dispatch Service"
    page.get_by_role("link", name="API documentation").click()
    page.wait_for_selector(".swagger-ui")
    page.screenshot(path=str(artifacts_dir / "docs.png"))
    assert "/docs" in page.url
