"""Simulator, coverage map and the coverage-loss confirmation, through the admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import DispatchLog
from authoring.coverage import coverage_losses, snapshot_with_provider
from authoring.demo import demo_world_load
from policies.models import RegionalRouting
from policies.snapshot import snapshot_build
from providers.models import ModelProvider

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client, django_user_model):
    demo_world_load()
    client.force_login(django_user_model.objects.get(username="admin"))
    return client


def test_simulator_shows_decision_and_explanation_and_writes_no_log(admin):
    url = reverse("admin:simulator")
    page = admin.get(url, {"subject": "science", "grade_band": "high", "region": "eu_west"}).content.decode()
    assert "Accepted: EU Sovereign LLM (local-eu-provider)" in page
    assert "openai-gpt4 is not in eu_west" in page  # the default policy's primary, passed over with why
    assert "general-tutor" in page  # the decision's templates, by slug
    refused = admin.get(
        url,
        {
            "subject": "mathematics",
            "grade_band": "elementary",
            "region": "us_east",
            "override_provider": "google-gemini",
            "override_reason": "The student needs a model that explains fractions visually",
        },
    ).content.decode()
    assert "Refused (override_provider_not_compliant)" in refused
    assert DispatchLog.objects.count() == 0


def test_simulator_rejects_unknown_values_without_a_500(admin):
    response = admin.get(reverse("admin:simulator"), {"subject": "astrology", "grade_band": "high", "region": "x"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_simulator_and_coverage_need_staff(client):
    for name in ("admin:simulator", "admin:coverage"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_coverage_map_highlights_gaps(admin):
    RegionalRouting.objects.get(region="africa_south").blocked_providers.add(
        ModelProvider.objects.get(slug="africa-local-provider")
    )
    page = admin.get(reverse("admin:coverage")).content.decode()
    assert 'data-context="mathematics/elementary/us_east">openai-gpt4' in page
    assert 'class="gap" data-context="science/high/africa_south"' in page
    # 48 in africa_south, and issue 16's age gap in us_east: the 7 subjects only OpenAI serves there,
    # for the two bands starting at 3 (its agreement covers 5 and up).
    assert "<strong>62</strong> of 240 contexts have no compliant provider" in page


def test_what_if_deactivating_a_provider_lists_lost_contexts():
    demo_world_load()
    before = snapshot_build()
    eu = before.by_slug["local-eu-provider"]
    from dataclasses import replace

    losses = coverage_losses(before, snapshot_with_provider(before, replace(eu, active=False)))
    assert {loss.region for loss in losses} == {"eu_west"} and len(losses) == 48
    assert all(loss.provider_slug == "local-eu-provider" for loss in losses)


def provider_form(provider, **changes):
    data = {
        "name": provider.name,
        "slug": provider.slug,
        "vendor": provider.vendor,
        "model_name": provider.model_name,
        "endpoint_url": provider.endpoint_url,
        "hosting_regions": provider.hosting_regions,
        "compliance_frameworks": provider.compliance_frameworks,
        "encrypts_in_transit": "on",
        "encrypts_at_rest": "on",
        "is_active": "on",
        "requests_per_minute": provider.requests_per_minute,
        "tokens_per_minute": provider.tokens_per_minute,
        "cost_per_1k_input_tokens": provider.cost_per_1k_input_tokens,
        "cost_per_1k_output_tokens": provider.cost_per_1k_output_tokens,
        "minimum_user_age": provider.minimum_user_age,  # issue 16: the form's new field
        "change_reason": "vendor outage",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_deactivating_a_provider_asks_for_confirmation_listing_lost_contexts(admin):
    provider = ModelProvider.objects.get(slug="local-eu-provider")
    url = reverse("admin:providers_modelprovider_change", args=[provider.pk])
    response = admin.post(url, provider_form(provider, is_active=None))
    page = response.content.decode()
    assert response.status_code == 200
    assert "This change leaves 48 context(s) with no compliant provider" in page
    assert "eu_west: 48 (mathematics/early_childhood, mathematics/elementary" in page
    assert "served today by local-eu-provider" in page
    provider.refresh_from_db()
    assert provider.is_active
    response = admin.post(url, provider_form(provider, is_active=None, confirm_coverage_loss="on"))
    assert response.status_code == 302
    provider.refresh_from_db()
    assert not provider.is_active
    assert provider.history.latest().history_change_reason == "vendor outage"


def test_deactivating_a_provider_that_serves_nothing_needs_no_confirmation(admin):
    provider = ModelProvider.objects.get(slug="us-only-provider")
    url = reverse("admin:providers_modelprovider_change", args=[provider.pk])
    assert admin.post(url, provider_form(provider, is_active=None)).status_code == 302


def routing_form(rule, **changes):
    data = {
        "region": rule.region,
        "data_center": rule.data_center,
        "data_residency_required": "on" if rule.data_residency_required else None,
        "encryption_required": "on",
        "audit_logging_required": "on",
        "compliance_frameworks": rule.compliance_frameworks,
        "allowed_providers": [str(p.pk) for p in rule.allowed_providers.all()],
        "blocked_providers": [str(p.pk) for p in rule.blocked_providers.all()],
        "change_reason": "tighten",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_tightening_a_routing_rule_asks_for_confirmation(admin):
    rule = RegionalRouting.objects.get(region="us_west")
    url = reverse("admin:policies_regionalrouting_change", args=[rule.pk])
    versions = rule.history.count()
    response = admin.post(url, routing_form(rule, compliance_frameworks=["FERPA", "COPPA", "PDPA"]))
    assert response.status_code == 200
    assert "context(s) with no compliant provider" in response.content.decode()
    assert (
        admin.post(
            url, routing_form(rule, compliance_frameworks=["FERPA", "COPPA", "PDPA"], confirm_coverage_loss="on")
        ).status_code
        == 302
    )
    rule.refresh_from_db()
    assert "PDPA" in rule.compliance_frameworks
    assert rule.history.count() == versions + 1  # one row per save, m2m lists included
    assert rule.history.latest().history_change_reason == "tighten"


def test_routing_rule_that_allows_and_blocks_a_provider_is_refused(admin):
    rule = RegionalRouting.objects.get(region="eu_west")
    url = reverse("admin:policies_regionalrouting_change", args=[rule.pk])
    eu = str(ModelProvider.objects.get(slug="local-eu-provider").pk)
    response = admin.post(url, routing_form(rule, blocked_providers=[eu]))
    assert response.status_code == 200
    assert "local-eu-provider is both allowed and blocked" in response.content.decode()


def test_routing_rule_revert_restores_its_provider_lists(admin):
    rule = RegionalRouting.objects.get(region="us_west")
    url = reverse("admin:policies_regionalrouting_change", args=[rule.pk])
    gemini = ModelProvider.objects.get(slug="google-gemini")
    admin.post(url, routing_form(rule, change_reason="v1"))
    v1 = rule.history.latest()
    v1_allowed = sorted(str(row.modelprovider_id) for row in v1.allowed_providers.all())
    changed = routing_form(rule, blocked_providers=[str(gemini.pk)], allowed_providers=[], change_reason="v2")
    assert admin.post(url, {**changed, "confirm_coverage_loss": "on"}).status_code == 302
    assert list(rule.blocked_providers.all()) == [gemini] and not rule.allowed_providers.exists()
    revert_url = reverse("admin:policies_regionalrouting_simple_history", args=[rule.pk, v1.pk])
    page = admin.get(revert_url).content.decode()
    for pk in v1_allowed:  # the revert form shows that version's lists, not today's
        assert f'value="{pk}" selected' in page
    form = routing_form(rule, allowed_providers=v1_allowed, blocked_providers=[], change_reason="undo")
    response = admin.post(revert_url, {**form, "_save": "Revert"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not rule.blocked_providers.exists()
    assert sorted(str(p.pk) for p in rule.allowed_providers.all()) == v1_allowed
    assert rule.history.latest().history_change_reason == "undo"
