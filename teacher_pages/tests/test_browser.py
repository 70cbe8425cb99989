"""The teacher journey in a real browser (Playwright + Debian chromium against a live server).

The main journey runs with JavaScript switched off, since the pages must work without it; the
forged submission uses page scripting to edit the form's HTML, as a malicious user would.
Screenshots go to artifacts/ (teacher-*.png).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from audit.models import DispatchLog
from authoring.demo import DEMO_TEACHER_PASSWORD, DEMO_TEACHER_USERNAME, demo_teacher_load, demo_world_load
from policies.engine import DispatchContext
from teachers.services import override_submit, teacher_create
from teachers.tests.conftest import GOOD_REASON

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 375, "height": 740}


@pytest.fixture
def world():
    demo_world_load()
    demo_teacher_load()


def log_in(page, base_url, username=DEMO_TEACHER_USERNAME, password=DEMO_TEACHER_PASSWORD, shot=None):
    page.goto(base_url + "/teacher/override/")
    assert "/accounts/login/" in page.url  # anonymous: sent to the login page
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    if shot:
        page.screenshot(path=str(shot), full_page=True)
    page.get_by_role("button", name="Log in").click()


def choose_class(page, region="us_east"):
    page.get_by_label("Subject").select_option("mathematics")
    page.get_by_label("Grade band").select_option("elementary")
    page.get_by_label("Region").select_option(region)
    page.get_by_role("button", name="Show the policy's choice and the providers").click()


def test_teacher_journey_without_javascript(live_server, browser, artifacts_dir, world):
    teacher_create(username="bob", password="bob-password-123", external_id="t-bob", regions=["us_east"])
    override_submit(
        teacher_id="t-bob",
        context=DispatchContext("mathematics", "elementary", "us_east"),
        provider_ref="microsoft-copilot",
        justification="Bob's class reads Spanish texts aloud together",
        request_id=None,
        client_ref="web:teacher-form",
        acting_client_id=None,
    )
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, live_server.url, shot=artifacts_dir / "teacher-login.png")
    assert page.url.endswith("/teacher/override/")

    # A valid override: the policy's choice is shown for reference, then the chosen provider's configuration.
    choose_class(page)
    assert "OpenAI GPT-4" in page.locator("#policy-choice").inner_text()
    assert page.get_by_label("Region").locator("option").all_inner_texts() == ["US East", "EU West"]
    page.get_by_label("Provider").select_option("anthropic-claude")
    page.get_by_label("Justification").fill(GOOD_REASON)
    page.screenshot(path=str(artifacts_dir / "teacher-override-form.png"), full_page=True)
    page.get_by_role("button", name="Submit override").click()
    assert page.get_by_role("heading", name="Override accepted").is_visible()
    configuration = page.locator("#provider-configuration").inner_text()
    assert "Anthropic Claude" in configuration and "https://api.anthropic.com/v1/messages" in configuration
    page.screenshot(path=str(artifacts_dir / "teacher-override-accepted.png"), full_page=True)

    # A too-short justification: the error sits next to the field and is announced.
    page.get_by_role("link", name="Request another override").click()
    choose_class(page)
    page.get_by_label("Provider").select_option("microsoft-copilot")
    page.get_by_label("Justification").fill("too short")
    page.get_by_role("button", name="Submit override").click()
    field = page.locator("#id_justification")
    assert field.get_attribute("aria-invalid") == "true"
    assert "id_justification_error" in (field.get_attribute("aria-describedby") or "")
    assert "at least 20 characters" in page.locator("#id_justification_error").inner_text()
    assert "justification_too_short" in page.get_by_role("alert").inner_text()
    page.screenshot(path=str(artifacts_dir / "teacher-override-short-justification.png"), full_page=True)

    # Usable on a phone: nothing wider than the screen.
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(artifacts_dir / "teacher-override-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1100, "height": 800})

    # My overrides: exactly this teacher's two attempts, newest first; never Bob's.
    page.get_by_role("link", name="My overrides").first.click()
    page.wait_for_url("**/teacher/overrides/")  # counting rows does not wait for the page
    rows = page.locator("#overrides tbody tr")
    assert rows.count() == 2
    assert [rows.nth(i).get_attribute("data-outcome") for i in range(2)] == ["refused", "accepted"]
    assert "justification_too_short" in rows.nth(0).inner_text()
    assert "Microsoft Copilot" in rows.nth(0).inner_text() and "Anthropic Claude" in rows.nth(1).inner_text()
    assert "The justification is too short" in rows.nth(0).inner_text()  # plain words; the code as small print
    assert "Spanish" not in page.content()
    page.screenshot(path=str(artifacts_dir / "teacher-my-overrides.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(artifacts_dir / "teacher-my-overrides-phone.png"), full_page=True)
    context.close()


def test_forged_blocked_provider_is_refused_and_audited(live_server, page, artifacts_dir, world):
    log_in(page, live_server.url)
    choose_class(page, region="eu_west")
    # EU Sovereign LLM is the policy's own choice, the only one compliant in eu_west: nothing else to offer.
    assert page.get_by_label("Provider").locator("option").all_inner_texts() == ["Choose a provider"]
    assert "the only provider that may serve this region" in page.locator("#no-providers").inner_text()
    # Edit the page's HTML to offer the provider eu_west blocks, as a forged submission would.
    page.evaluate(
        """() => { const s = document.querySelector('#id_provider');
                   s.add(new Option('US-Only LLM', 'us-only-provider')); s.value = 'us-only-provider'; }"""
    )
    page.get_by_label("Justification").fill(GOOD_REASON)
    page.get_by_role("button", name="Submit override").click()
    assert "override_provider_not_compliant" in page.get_by_role("alert").inner_text()
    assert "us-only-provider is blocked in eu_west" in page.locator("#id_provider_error").inner_text()
    page.screenshot(path=str(artifacts_dir / "teacher-override-refused-blocked.png"), full_page=True)
    log = DispatchLog.objects.get(override_provider_ref="us-only-provider")
    assert (log.outcome, log.refusal_code, log.teacher_id, log.region) == (
        "refused",
        "override_provider_not_compliant",
        "demo-teacher",
        "eu_west",
    )
    assert log.provider_id is None


def test_signed_in_non_teacher_gets_403(live_server, page, artifacts_dir, world):
    get_user_model().objects.create_user(username="visitor", password="visitor-password-1")
    log_in(page, live_server.url, username="visitor", password="visitor-password-1")
    response = page.goto(live_server.url + "/teacher/override/")
    assert response is not None and response.status == 403
    assert page.get_by_role("heading", name="Access denied").is_visible()
    page.screenshot(path=str(artifacts_dir / "teacher-forbidden.png"), full_page=True)


PHONE_390 = {"width": 390, "height": 844}


def test_plain_words_local_times_and_a_phone(live_server, browser, artifacts_dir, world):
    """Finding 5 of issue 18: plain words (codes as small print), the browser's time zone, what an
    override does, no pointless choices, no submit that would be refused, My overrides on a 390 px phone."""
    from policies.models import DispatchPolicy

    context = browser.new_context(timezone_id="Asia/Tokyo", viewport=PHONE_390)
    page = context.new_page()
    log_in(page, live_server.url)
    choose_class(page)
    assert "one request only" in page.locator("#what-an-override-does").inner_text()
    offered = page.get_by_label("Provider").locator("option").all_inner_texts()
    assert "OpenAI GPT-4" not in offered and "Anthropic Claude" in offered  # the policy's choice is no override
    page.get_by_label("Provider").select_option("anthropic-claude")
    page.get_by_label("Justification").fill(GOOD_REASON)
    page.get_by_role("button", name="Submit override").click()
    assert "one-off" in page.locator("#what-an-override-does").inner_text()
    page.screenshot(path=str(artifacts_dir / "teacher-accepted-one-off-phone.png"), full_page=True)

    # A refused attempt, then My overrides at 390 px: no sideways scroll, outcome and reason in view.
    page.get_by_role("link", name="Request another override").click()
    choose_class(page)
    page.get_by_label("Provider").select_option("microsoft-copilot")
    page.get_by_label("Justification").fill("too short")
    page.get_by_role("button", name="Submit override").click()
    assert "Override refused: The justification is too short" in page.get_by_role("alert").inner_text()
    page.get_by_role("link", name="My overrides").first.click()
    page.wait_for_url("**/teacher/overrides/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_390["width"]
    first = page.locator("#overrides tbody tr").first
    for cell in (first.locator("td.outcome"), first.locator("td.reason")):
        box = cell.bounding_box()
        assert cell.is_visible() and box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE_390["width"]
    assert "Refused" in first.locator("td.outcome").inner_text()
    assert "The justification is too short" in first.locator("td.reason").inner_text()
    stamp = first.locator("time")
    shown, utc = stamp.inner_text(), stamp.get_attribute("title") or ""
    assert "UTC" in utc and "UTC" not in shown and "Tokyo" in shown  # the browser's zone, not the server's
    page.screenshot(path=str(artifacts_dir / "teacher-my-overrides-390.png"), full_page=True)

    # A policy that forbids overrides: the preview says so and the form offers no submit.
    from django.db import transaction

    from policies.snapshot.invalidation import stamp_bump

    with transaction.atomic():  # as an authoring save would: the row and the stamp together
        DispatchPolicy.objects.filter(name="Elementary Math - US East").update(allow_teacher_override=False)
        stamp_bump()
    page.get_by_role("link", name="New override").click()
    choose_class(page)
    assert "does not allow teacher overrides" in page.locator("#policy-choice").inner_text()
    assert page.get_by_role("button", name="Submit override").is_disabled()
    page.screenshot(path=str(artifacts_dir / "teacher-submit-blocked-phone.png"), full_page=True)
    context.close()
