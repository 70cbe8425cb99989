"""Change approval in a real browser (Playwright + Debian chromium, live server), CHANGE_APPROVAL=required.

Alice deactivates a provider: the form's "Save" is "Propose change", its coverage rule asks her to
confirm as it always does, and the save becomes a change request (nothing live). Her own review
page tells her another administrator must review it. Bob opens it: the field-by-field diff, the
coverage impact and the replay impact of the requests dispatched before; he approves, and the
provider is inactive. Screenshots in artifacts/: change_proposal.png, change_review.png,
change_approved.png.
"""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Permission

from authoring.demo import demo_world_load
from authoring.models import ChangeRequest, ChangeState
from policies.engine import DispatchContext
from policies.services import dispatch
from providers.models import ModelProvider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(base + "/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "change-approval-test")
    page.locator("input[type=submit]").click()
    page.wait_for_load_state()


def test_a_proposal_is_reviewed_and_approved_by_another_administrator(
    live_server, page, artifacts_dir, settings, django_user_model
):
    settings.CHANGE_APPROVAL = "required"
    demo_world_load()
    perms = Permission.objects.filter(content_type__app_label__in=["policies", "providers", "authoring"])
    for name in ("alice", "bob"):
        user = django_user_model.objects.create_user(name, password="change-approval-test", is_staff=True)
        user.user_permissions.add(*perms)
    for subject, grade, region in [
        ("mathematics", "elementary", "us_east"),
        ("science", "high", "us_east"),
        ("arts", "middle", "us_east"),
        ("science", "high", "us_west"),
        ("mathematics", "high", "eu_west"),
    ]:
        dispatch(context=DispatchContext(subject, grade, region), request_id=uuid.uuid4(), fingerprint="browser")
    provider = ModelProvider.objects.get(slug="openai-gpt4")
    page.set_default_timeout(20_000)
    base = live_server.url

    login(page, base, "alice")
    page.goto(base + f"/admin/providers/modelprovider/{provider.pk}/change/")
    assert page.locator("input[name=_save]").get_attribute("value") == "Propose change"
    page.locator("#id_is_active").uncheck()
    page.fill("#id_change_reason", "OpenAI contract ends Friday")
    page.locator("input[name=_save]").click()
    page.wait_for_load_state()
    assert "Confirm coverage loss" in page.content()  # the same rule, the same message, as a save
    page.locator("#id_confirm_coverage_loss").check()
    page.screenshot(path=str(artifacts_dir / "change_proposal.png"), full_page=True)
    page.locator("input[name=_save]").click()
    page.wait_for_load_state()
    change = ChangeRequest.objects.get()
    assert page.url.endswith(f"/admin/authoring/changerequest/{change.pk}/change/")
    assert "another administrator must review it" in page.content()
    assert ModelProvider.objects.get(pk=provider.pk).is_active  # nothing live yet

    login(page, base, "bob")
    page.goto(base + f"/admin/authoring/changerequest/{change.pk}/change/")
    diff = page.locator("table.diff[data-entry='providers/openai-gpt4']")
    assert "active" in diff.inner_text() and "True" in diff.inner_text() and "False" in diff.inner_text()
    assert page.locator("#coverage-impact").is_visible() and page.locator("#replay-impact").is_visible()
    assert page.locator("#replay-table td[data-category=newly_refused]").inner_text() != "0"
    page.screenshot(path=str(artifacts_dir / "change_review.png"), full_page=True)
    page.locator("#id_decision_0").check()
    page.fill("#id_review_reason", "Replay checked: us_east falls back to anthropic-claude")
    page.locator("#review-form input[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("#change-state").inner_text() == "Published"
    assert page.locator("#change-review").inner_text().startswith("Approved by bob")
    page.screenshot(path=str(artifacts_dir / "change_approved.png"), full_page=True)
    change.refresh_from_db()
    assert change.state == ChangeState.PUBLISHED
    assert change.reviewer is not None and change.reviewer.get_username() == "bob"
    assert not ModelProvider.objects.get(pk=provider.pk).is_active
