"""Every admin list fits a 1280 px laptop, and the audit log reads in plain words.

One browser visits every change list the admin index links (demo world plus some traffic) at
1280 x 800 and asserts that nothing scrolls sideways: neither the page nor the list's table.
Screenshots: artifacts/admin_list_<app>_<model>.png, admin_dispatchlog_detail.png.
"""

from __future__ import annotations

import re

import pytest

from authoring.demo import demo_teacher_load, demo_world_load
from authoring.tests.browser.helpers import LAPTOP, admin_log_in, overflows
from policies.engine import DispatchContext
from teachers.services import override_submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def traffic():
    from api.testing import keyed_api

    demo_world_load()
    demo_teacher_load()
    api, _, _ = keyed_api(name="district-app")
    for region in ("us_east", "eu_west", "uk_south"):
        api.post(
            "/dispatch", {"subject": "mathematics", "grade_band": "early_childhood", "region": region}, format="json"
        )
    override_submit(
        teacher_id="demo-teacher",
        context=DispatchContext("mathematics", "elementary", "eu_west"),
        provider_ref="anthropic-claude",
        justification="The class reads long stories together aloud",
        request_id=None,
        client_ref="web:teacher-form",
        acting_client_id=None,
    )


def test_every_admin_list_fits_1280_px(live_server, browser, artifacts_dir, traffic, axe):
    page = browser.new_page(viewport=LAPTOP, bypass_csp=True)  # bypass: axe-core is injected
    page.set_default_timeout(15_000)
    admin_log_in(page, live_server.url)
    links = page.eval_on_selector_all("#content-main a", "els => els.map(e => e.getAttribute('href'))")
    lists = sorted({href for href in links if re.fullmatch(r"/admin/\w+/\w+/", href or "")})
    assert "/admin/policies/dispatchpolicy/" in lists and "/admin/audit/dispatchlog/" in lists
    for href in lists:
        page.goto(live_server.url + href)
        assert page.locator("#content").is_visible(), href
        page.screenshot(path=str(artifacts_dir / ("admin_list_" + href.strip("/").replace("/", "_")[6:] + ".png")))
        assert overflows(page) == [], href
        assert axe(page) == [], href

    # The key columns are there, in plain words.
    page.goto(live_server.url + "/admin/policies/dispatchpolicy/")
    headers = [
        (h.strip().splitlines() or [""])[-1].strip().lower()
        for h in page.locator("#result_list thead th").all_inner_texts()
    ]
    assert {"is active", "priority", "fallbacks"} <= set(headers)
    page.goto(live_server.url + "/admin/audit/dispatchlog/")
    headers = [
        (h.strip().splitlines() or [""])[-1].strip().lower()
        for h in page.locator("#result_list thead th").all_inner_texts()
    ]
    assert {"outcome", "provider or why refused", "override", "teacher id", "client ref"} <= set(headers)
    text = page.locator("#result_list").inner_text()
    assert "This region has no routing rule yet" in text and "region_not_configured" not in text
    assert "Early childhood (Pre-K to K)" in text and "early_childhood" not in text

    # One decision: plain words, links to its policy and provider, no raw JSON, no column names.
    page.locator("#result_list tbody tr", has_text="EU West").filter(has_text="Accepted").first.locator(
        "th a, td a"
    ).first.click()
    page.wait_for_load_state()
    content = page.locator("#content-main").inner_text()
    for jargon in ("Decision us", "Snapshot version", "Provider id", '"passed_over"', "None"):
        assert jargon not in content, jargon
    assert "is not on the region's list of allowed providers" in content
    assert (
        page.locator("a", has_text="EU Sovereign LLM")
        .first.get_attribute("href", timeout=1000)
        .startswith("/admin/providers/modelprovider/")
    )
    page.screenshot(path=str(artifacts_dir / "admin_dispatchlog_detail.png"), full_page=True)

    # Users' and groups' permission pickers no longer list the history tables.
    page.goto(live_server.url + "/admin/auth/group/add/")
    assert "historical" not in page.content().lower()
    page.close()


def test_coverage_headline_counts_refusing_regions_and_groups_gaps(live_server, browser, artifacts_dir):
    from authoring.services import authored_save
    from providers.models import ModelProvider

    demo_world_load()
    page = browser.new_page(viewport=LAPTOP, bypass_csp=True)  # bypass: axe-core is injected
    page.set_default_timeout(15_000)
    admin_log_in(page, live_server.url)
    page.goto(live_server.url + "/admin/coverage/")
    assert page.locator("#refusing-count").inner_text() == "5 of 10"  # the demo configures 5 regions
    assert "UK South" in page.locator("#coverage-summary").inner_text()
    page.screenshot(path=str(artifacts_dir / "admin_coverage_headline.png"))

    eu = ModelProvider.objects.get(slug="local-eu-provider")
    eu.is_active = False
    authored_save(instance=eu, reason="Contract paused")
    page.goto(live_server.url + "/admin/coverage/")
    assert page.locator("#refusing-count").inner_text() == "6 of 10"  # eu_west now refuses everything too
    causes = page.locator("#gap-causes li").all_inner_texts()
    assert causes == [  # the demo's US East also serves some contexts through it (its age-gap agreements)
        "EU Sovereign LLM is inactive: 48 contexts in EU West",
        "EU Sovereign LLM is inactive: 14 contexts in US East",
    ]
    assert overflows(page) == []
    page.screenshot(path=str(artifacts_dir / "admin_coverage_grouped_gaps.png"))
    page.close()


def test_refusal_at_the_top_hold_as_warning_and_recap(live_server, browser, artifacts_dir, axe):
    from policies.models import DispatchPolicy
    from providers.models import ModelProvider

    demo_world_load()
    page = browser.new_page(viewport=LAPTOP, bypass_csp=True)  # bypass: axe-core is injected
    page.set_default_timeout(15_000)
    admin_log_in(page, live_server.url)

    # A refused policy save: the reason is in view at the top, not ~1,000 px lower.
    policy = DispatchPolicy.objects.get(name="Elementary Math - US East")
    page.goto(live_server.url + f"/admin/policies/dispatchpolicy/{policy.pk}/change/")
    page.select_option("#id_region", "eu_west")
    page.fill("#id_change_reason", "Move to the EU")
    page.locator("input[name=_save]").click()
    page.wait_for_load_state()
    summary = page.locator("#refusal-summary")
    assert "No provider in this chain may serve eu_west" in summary.inner_text()
    box = summary.bounding_box()
    assert box is not None and box["y"] + box["height"] < LAPTOP["height"]  # seen without scrolling
    assert not page.get_by_text("Please correct the error below").is_visible()
    page.screenshot(path=str(artifacts_dir / "admin_policy_refused_top.png"))
    assert axe(page) == []

    # A coverage-loss hold: a warning listing what would be lost, not an error.
    provider = ModelProvider.objects.get(slug="africa-local-provider")
    page.goto(live_server.url + f"/admin/providers/modelprovider/{provider.pk}/change/")
    page.uncheck("#id_is_active")
    page.fill("#id_change_reason", "Vendor contract ended")
    page.locator("input[name=_save]").click()
    page.wait_for_load_state()
    hold = page.locator("#coverage-hold")
    assert hold.is_visible() and "48 contexts with no compliant provider" in hold.inner_text()
    assert "Africa South: 48 (Mathematics, Early childhood (Pre-K to K);" in hold.inner_text()
    assert not page.locator(".errornote").first.is_visible() and page.locator("#refusal-summary").count() == 0
    page.screenshot(path=str(artifacts_dir / "admin_coverage_hold_warning.png"))
    assert axe(page) == []

    # Confirmed: a recap with a link to the coverage map.
    page.check("#id_confirm_coverage_loss")
    page.locator("input[name=_save]").click()
    page.wait_for_load_state()
    recap = page.locator(".messagelist .warning")
    assert "48 context(s) now have no compliant provider (Africa South: 48)" in recap.inner_text()
    page.screenshot(path=str(artifacts_dir / "admin_coverage_loss_recap.png"))
    recap.get_by_role("link", name="See the coverage map").click()
    page.wait_for_load_state()
    assert page.url.endswith("/admin/coverage/")
    page.close()


def test_history_and_revert_wording(live_server, browser, artifacts_dir):
    from policies.models import DispatchPolicy

    demo_world_load()
    policy = DispatchPolicy.objects.get(name="Elementary Math - US East")
    page = browser.new_page(viewport=LAPTOP, bypass_csp=True)  # bypass: axe-core is injected
    page.set_default_timeout(15_000)
    admin_log_in(page, live_server.url)
    for threshold, reason in (("0.5", "Looser for the pilot"), ("0.3", "Even looser")):
        page.goto(live_server.url + f"/admin/policies/dispatchpolicy/{policy.pk}/change/")
        page.fill("#id_moderation_threshold", threshold)
        page.fill("#id_change_reason", reason)
        page.locator("input[name=_save]").click()
        page.wait_for_load_state()

    page.goto(live_server.url + f"/admin/policies/dispatchpolicy/{policy.pk}/history/")
    assert "click its name" in page.locator("#history-help").inner_text()
    assert "Choose a date" not in page.content()
    dates = page.locator("#change-history tbody tr td:nth-child(3)").all_inner_texts()
    assert dates and all(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", d.strip()) for d in dates), dates
    page.screenshot(path=str(artifacts_dir / "admin_history_wording.png"))

    page.locator("#change-history tbody tr").nth(1).locator("td").first.locator("a").click()  # "Looser for the pilot"
    page.wait_for_load_state()
    chain = page.locator("#id_fallback_chain")
    assert chain.evaluate("e => e.tagName") == "DIV"  # read as text, not an input that looks editable
    assert "anthropic-claude → microsoft-copilot" in chain.inner_text()
    page.screenshot(path=str(artifacts_dir / "admin_revert_page.png"))
    page.fill("#id_change_reason", "Back to the reviewed threshold")
    page.locator("input[name=_save]").first.click()
    page.wait_for_load_state()
    message = page.locator(".messagelist").inner_text()
    assert "was reverted to its version of" in message and "changed successfully" not in message
    assert page.url.endswith(f"/admin/policies/dispatchpolicy/{policy.pk}/history/")
    page.screenshot(path=str(artifacts_dir / "admin_reverted_message.png"))
    page.close()


def test_admin_home_findings_and_the_simulators_curl(live_server, browser, artifacts_dir, axe):
    import os
    import subprocess

    from api.testing import keyed_api
    from authoring.services import authored_save
    from providers.models import ModelProvider

    demo_world_load()
    api, _, key = keyed_api(name="curl-app")
    for _ in range(12):  # a refusal spike: uk_south has no routing rule
        api.post("/dispatch", {"subject": "arts", "grade_band": "high", "region": "uk_south"}, format="json")
    eu = ModelProvider.objects.get(slug="local-eu-provider")
    eu.is_active = False
    authored_save(instance=eu, reason="Contract paused")

    page = browser.new_page(viewport=LAPTOP, bypass_csp=True)  # bypass: axe-core is injected
    page.set_default_timeout(15_000)
    admin_log_in(page, live_server.url)
    found = page.locator("#findings li.finding")
    texts = found.all_inner_texts()
    assert any(t.startswith("EU West refuses every request") for t in texts), texts
    assert any("EU Sovereign LLM is inactive: 48 contexts in EU West" in t for t in texts), texts
    assert any(t.startswith("12 refusals in the last hour: This region has no routing rule yet") for t in texts), texts
    assert any(t.startswith("5 regions refuse every request: Canada Central") for t in texts), texts
    assert [f.get_attribute("data-severity") for f in found.all()][-1] == "warning"  # problems first
    page.screenshot(path=str(artifacts_dir / "admin_home_findings.png"), full_page=True)
    assert axe(page) == []
    found.filter(has_text="12 refusals").get_by_role("link").click()
    page.wait_for_load_state()
    assert page.locator("#result_list tbody tr").count() == 12

    # The simulator's curl, run as copied, answers what the simulation showed.
    page.goto(live_server.url + "/admin/simulator/?subject=mathematics&grade_band=elementary&region=us_east")
    assert "OpenAI GPT-4" in page.locator("#verdict").inner_text()
    command = page.locator("#curl").inner_text()
    assert "Api-Key $KEY" in command
    page.screenshot(path=str(artifacts_dir / "admin_simulator_curl.png"), full_page=True)
    run = subprocess.run(  # noqa: S603 - the page's own command, as an administrator would run it
        ["/bin/bash", "-c", command], env={**os.environ, "KEY": key}, capture_output=True, text=True, timeout=30
    )
    assert '"provider_slug":"openai-gpt4"' in run.stdout.replace(" ", ""), run.stdout + run.stderr
    page.close()


def test_admin_and_teacher_pages_have_no_serious_accessibility_violation(live_server, browser, artifacts_dir, axe):
    """axe-core on every kind of page the admin and teacher journeys show (lists, forms, history,
    compare, revert, simulator, coverage, dashboard, home; the teacher's login, form, preview,
    refusal, result and list): no serious or critical violation."""
    from authoring.demo import DEMO_TEACHER_PASSWORD, DEMO_TEACHER_USERNAME
    from policies.models import DispatchPolicy, RegionalRouting
    from providers.models import ModelProvider, PromptTemplate

    demo_world_load()
    demo_teacher_load()
    policy = DispatchPolicy.objects.get(name="Elementary Math - US East")
    provider = ModelProvider.objects.get(slug="openai-gpt4")
    page = browser.new_page(viewport=LAPTOP, bypass_csp=True)
    page.set_default_timeout(15_000)
    admin_log_in(page, live_server.url)
    found: dict[str, list[str]] = {}

    def visit(path: str) -> None:
        page.goto(live_server.url + path)
        page.wait_for_load_state()
        violations = axe(page)
        if violations:
            found[path] = violations

    version = policy.history.order_by("history_date").first()
    template, rule = PromptTemplate.objects.earliest("pk"), RegionalRouting.objects.earliest("pk")
    for path in (
        "/admin/",
        "/admin/policies/dispatchpolicy/",
        f"/admin/policies/dispatchpolicy/{policy.pk}/change/",
        "/admin/policies/dispatchpolicy/add/",
        f"/admin/policies/dispatchpolicy/{policy.pk}/history/",
        f"/admin/policies/dispatchpolicy/{policy.pk}/history/compare/",
        f"/admin/policies/dispatchpolicy/{policy.pk}/history/{version.pk}/",
        f"/admin/providers/modelprovider/{provider.pk}/change/",
        f"/admin/providers/prompttemplate/{template.pk}/change/",
        f"/admin/policies/regionalrouting/{rule.pk}/change/",
        "/admin/audit/dispatchlog/",
        "/admin/clients/apiclient/",
        "/admin/teachers/teacherprofile/",
        "/admin/simulator/?subject=science&grade_band=high&region=eu_west",
        "/admin/coverage/",
        "/admin/audit/dashboard/",
    ):
        visit(path)

    teacher = browser.new_page(viewport={"width": 390, "height": 844}, bypass_csp=True)
    teacher.goto(live_server.url + "/teacher/override/")
    if violations := axe(teacher):
        found["/accounts/login/"] = violations
    teacher.get_by_label("Username").fill(DEMO_TEACHER_USERNAME)
    teacher.get_by_label("Password").fill(DEMO_TEACHER_PASSWORD)
    teacher.get_by_role("button", name="Log in").click()
    teacher.get_by_label("Subject").select_option("mathematics")
    teacher.get_by_label("Grade band").select_option("elementary")
    teacher.get_by_label("Region").select_option("us_east")
    teacher.get_by_role("button", name="Show the policy's choice and the providers").click()
    if violations := axe(teacher):
        found["/teacher/override/ (preview)"] = violations
    teacher.get_by_label("Provider").select_option("anthropic-claude")
    teacher.get_by_label("Justification").fill("too short")
    teacher.get_by_role("button", name="Submit override").click()
    if violations := axe(teacher):
        found["/teacher/override/ (refused)"] = violations
    teacher.locator("#id_justification").fill("The class reads long stories together aloud")
    teacher.get_by_label("Provider").select_option("anthropic-claude")
    teacher.get_by_role("button", name="Submit override").click()
    if violations := axe(teacher):
        found["/teacher/overrides/<id>/"] = violations
    teacher.goto(live_server.url + "/teacher/overrides/")
    if violations := axe(teacher):
        found["/teacher/overrides/"] = violations
    teacher.close()
    page.close()
    assert found == {}, "\n".join(f"{path}: {v}" for path, vs in found.items() for v in vs)
