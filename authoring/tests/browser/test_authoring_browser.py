"""An administrator authors a policy in a real browser (Playwright + Debian chromium, live server).

Logs in, creates a policy with a two-provider fallback chain, is refused because no provider of
the chain may serve the policy's region, fixes it, changes it, sees both changes with their
reasons in the history, reverts, and checks the result in the simulator and the coverage map.
Then deactivates a provider, is shown the contexts that would lose their last compliant
provider, confirms, and sees them highlighted on the coverage map. Finally deletes a routing rule:
asked for a reason and shown the contexts lost, confirms. Screenshots go to artifacts/:
admin_index.png, admin_policy_refused.png, admin_history.png, admin_simulator.png, admin_provider_confirm.png,
admin_coverage_map.png, admin_delete_confirm.png.
"""

from __future__ import annotations

import pytest

from authoring.demo import DEMO_ADMIN_PASSWORD, DEMO_ADMIN_USERNAME, demo_world_load
from policies.models import DispatchPolicy, RegionalRouting
from providers.models import ModelProvider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def choose(page, select_id: str, text: str) -> None:
    """Pick `text` in the admin's autocomplete (select2) widget for <select id=select_id>."""
    page.locator(f"#{select_id} + .select2 .select2-selection").click()
    page.locator(".select2-container--open .select2-search__field").fill(text)
    page.locator(".select2-results__option", has_text=text).first.click()


def save(page) -> None:
    page.locator("input[name=_save]").click()
    page.wait_for_load_state()


def test_administrator_authors_a_policy_and_checks_it(live_server, page, artifacts_dir):
    demo_world_load()
    page.set_default_timeout(15_000)
    page.goto(live_server.url + "/admin/")
    page.fill("#id_username", DEMO_ADMIN_USERNAME)
    page.fill("#id_password", DEMO_ADMIN_PASSWORD)
    page.locator("input[type=submit]").click()
    assert "Model Dispatch Service administration" in page.content()
    groups = [g.strip().lower() for g in page.locator("#content-main .module caption").all_inner_texts()]
    assert groups[:4] == ["providers", "policies", "regions", "audit"]
    page.screenshot(path=str(artifacts_dir / "admin_index.png"), full_page=True)

    # Create: science / high / eu_west, primary + two fallbacks, none compliant in eu_west.
    page.goto(live_server.url + "/admin/policies/dispatchpolicy/add/")
    page.fill("#id_name", "Science - EU West")
    page.select_option("#id_subject", "science")
    page.select_option("#id_grade_band", "high")
    page.select_option("#id_region", "eu_west")
    page.fill("#id_moderation_threshold", "0.7")
    choose(page, "id_primary_provider", "openai-gpt4")
    page.fill("#id_fallbacks-0-position", "1")
    choose(page, "id_fallbacks-0-provider", "anthropic-claude")
    page.fill("#id_fallbacks-1-position", "2")
    choose(page, "id_fallbacks-1-provider", "microsoft-copilot")
    page.fill("#id_change_reason", "EU science pilot")
    save(page)
    error = page.locator(".errornote, .errorlist").first
    assert error.is_visible()
    assert "No provider in this chain may serve eu_west" in page.content()
    assert "providers compliant there: local-eu-provider" in page.content()
    page.screenshot(path=str(artifacts_dir / "admin_policy_refused.png"), full_page=True)
    assert not DispatchPolicy.objects.filter(name="Science - EU West").exists()

    # Fix: the second fallback becomes the EU provider.
    choose(page, "id_fallbacks-1-provider", "local-eu-provider")
    save(page)
    assert "was added successfully" in page.content()
    policy = DispatchPolicy.objects.get(name="Science - EU West")
    assert [p.slug for p in policy.chain()] == ["openai-gpt4", "anthropic-claude", "local-eu-provider"]

    # Change it once more, with a reason.
    page.goto(live_server.url + f"/admin/policies/dispatchpolicy/{policy.pk}/change/")
    page.fill("#id_moderation_threshold", "0.4")
    page.fill("#id_change_reason", "Looser moderation for the pilot")
    save(page)
    assert "was changed successfully" in page.content()

    # History: both versions with who and why, the change readable.
    page.goto(live_server.url + f"/admin/policies/dispatchpolicy/{policy.pk}/history/")
    history = page.locator("#change-history")
    assert "EU science pilot" in history.inner_text()
    assert "Looser moderation for the pilot" in history.inner_text()
    assert "0.700" in history.inner_text() and "0.400" in history.inner_text()
    page.screenshot(path=str(artifacts_dir / "admin_history.png"), full_page=True)

    # Revert to the first version (the oldest row), giving a reason.
    page.locator("#change-history tbody tr").last.locator("td").first.locator("a").click()
    page.wait_for_load_state()
    assert "anthropic-claude → local-eu-provider" in page.content()  # the chain that comes back
    page.fill("#id_change_reason", "Back to the reviewed threshold")
    page.locator("input[name=_save]").first.click()
    page.wait_for_load_state()
    policy.refresh_from_db()
    assert str(policy.moderation_threshold) == "0.700"
    assert [p.slug for p in policy.chain()] == ["openai-gpt4", "anthropic-claude", "local-eu-provider"]
    assert policy.history.latest().history_change_reason == "Back to the reviewed threshold"

    # Simulator: same engine as the API; the new policy serves science/high/eu_west.
    page.goto(live_server.url + "/admin/simulator/")
    page.select_option("#id_subject", "science")
    page.select_option("#id_grade_band", "high")
    page.select_option("#id_region", "eu_west")
    page.locator("input[name=simulate]").click()
    page.wait_for_load_state()
    verdict = page.locator("#verdict").inner_text()
    assert "Accepted: EU Sovereign LLM (local-eu-provider)" in verdict and "Science - EU West" in verdict
    decision = page.locator("#decision").inner_text()
    assert "0.7" in decision and "subject + grade band + region" in decision
    passed = page.locator("#passed-over").inner_text()
    assert "openai-gpt4" in passed and "anthropic-claude" in passed
    page.screenshot(path=str(artifacts_dir / "admin_simulator.png"), full_page=True)

    # Coverage map for eu_west: the cell shows the new policy and provider.
    page.goto(live_server.url + "/admin/coverage/?region=eu_west")
    cell = page.locator('td[data-context="science/high/eu_west"]')
    assert "local-eu-provider" in cell.inner_text() and "Science - EU West" in cell.inner_text()

    # Deactivating the only provider of africa_south: shown the contexts it leaves uncovered first.
    provider = ModelProvider.objects.get(slug="africa-local-provider")
    page.goto(live_server.url + f"/admin/providers/modelprovider/{provider.pk}/change/")
    page.uncheck("#id_is_active")
    page.fill("#id_change_reason", "Vendor contract ended")
    save(page)
    assert "This change leaves 48 context(s) with no compliant provider" in page.content()
    assert "africa_south: 48 (mathematics/early_childhood, mathematics/elementary" in page.content()
    assert "served today by africa-local-provider" in page.content()
    page.screenshot(path=str(artifacts_dir / "admin_provider_confirm.png"), full_page=True)
    provider.refresh_from_db()
    assert provider.is_active
    page.check("#id_confirm_coverage_loss")
    save(page)
    assert "was changed successfully" in page.content()

    # The coverage map of every configured region now highlights africa_south's gaps.
    page.goto(live_server.url + "/admin/coverage/")
    assert page.locator("table.coverage").count() == 5
    assert page.locator('table[data-region="africa_south"] td.gap').count() == 48
    assert page.locator('table[data-region="eu_west"] td.gap').count() == 0
    page.screenshot(path=str(artifacts_dir / "admin_coverage_map.png"), full_page=True)

    # Deleting eu_west's routing rule: the page asks why and lists what eu_west would lose.
    rule = RegionalRouting.objects.get(region="eu_west")
    page.goto(live_server.url + f"/admin/policies/regionalrouting/{rule.pk}/delete/")
    assert "Deleting it leaves 48 context(s) with no compliant provider" in page.content()
    page.fill("#id_change_reason", "Close the EU pilot")
    page.locator("input[type=submit]").click()
    page.wait_for_load_state()
    assert "Tick “Confirm coverage loss”" in page.content()
    assert RegionalRouting.objects.filter(pk=rule.pk).exists()
    page.check("#id_confirm_coverage_loss")
    page.screenshot(path=str(artifacts_dir / "admin_delete_confirm.png"), full_page=True)
    page.locator("input[type=submit]").click()
    page.wait_for_load_state()
    assert "was deleted successfully" in page.content()
    assert RegionalRouting.history.get(id=rule.pk, history_type="-").history_change_reason == "Close the EU pilot"
