"""Our pages work in a real browser under their Content-Security-Policy (no violations)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_docs_and_admin_render_under_the_csp_without_violations(live_server, page, artifacts_dir, django_user_model):
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.goto(live_server.url + "/docs")
    page.wait_for_selector(".opblock")  # Swagger UI ran (its init script is an external file)
    page.screenshot(path=str(artifacts_dir / "docs-csp.png"))
    django_user_model.objects.create_superuser("csp-admin", "a@example.org", "csp-admin-password-1")
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", "csp-admin")
    page.fill("#id_password", "csp-admin-password-1")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    page.goto(live_server.url + "/admin/clients/apiclient/add/")
    page.wait_for_selector("#id_name")
    page.screenshot(path=str(artifacts_dir / "admin-apiclient-add.png"))
    assert violations == []
