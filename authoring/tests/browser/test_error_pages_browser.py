"""In Chromium, as the administrator: a history URL with a malformed id is the site's 404 page,
and a server error on a page is an HTML page naming a reference, not the API's JSON (issue 18,
finding 7). Screenshots: artifacts/admin_malformed_id_404.png, artifacts/page_server_error_500.png.
"""

from __future__ import annotations

import pytest

from authoring.demo import DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USERNAME, demo_world_load

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, base: str) -> None:
    page.goto(base + "/admin/")
    page.fill("#id_username", DEMO_ADMIN_USERNAME)
    page.fill("#id_password", DEMO_ADMIN_PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_load_state()


def test_malformed_history_ids_are_the_404_page(live_server, page, artifacts_dir):
    demo_world_load()
    page.set_default_timeout(15_000)
    log_in(page, live_server.url)
    for path in (
        "/admin/policies/dispatchpolicy/not-a-uuid/history/",
        "/admin/providers/modelprovider/not-a-uuid/history/",
        "/admin/policies/dispatchpolicy/not-a-uuid/history/1/",
    ):
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 404, path
        assert page.locator("h1").inner_text() == "Page not found"
    page.screenshot(path=str(artifacts_dir / "admin_malformed_id_404.png"), full_page=True)


@pytest.mark.urls("dispatch_site.tests.crash_urls")
def test_a_crashing_page_is_an_html_page_with_a_reference(live_server, page, artifacts_dir):
    page.set_default_timeout(15_000)
    response = page.goto(live_server.url + "/crash/page")
    assert response is not None and response.status == 500
    assert response.headers["content-type"].startswith("text/html")
    assert page.locator("h1").inner_text() == "Something went wrong on our side"
    reference = page.locator("code").inner_text()
    assert len(reference) == 36  # the request id the log line carries
    assert "Traceback" not in page.content()
    page.screenshot(path=str(artifacts_dir / "page_server_error_500.png"), full_page=True)
