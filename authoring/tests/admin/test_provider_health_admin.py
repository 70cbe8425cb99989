"""The provider health page: state per provider with trips in the last 24 h, "mark healthy" with a
reason (audited with the user), refused without the permission, a form error for a short reason;
the dashboard tile and the provider form's health overrides."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from providers.health.services import provider_health_outcome
from providers.models import ModelProvider, ProviderHealthTransition

pytestmark = pytest.mark.django_db
URL = "/admin/provider-health/"


def _trip(slug: str, settings) -> ModelProvider:
    settings.PROVIDER_HEALTH_FAILURES = 2
    provider = ModelProvider.objects.get(slug=slug)
    for _ in range(2):
        provider_health_outcome(provider=provider, dispatched_at=timezone.now(), success=False, error_code="timeout")
    return provider


def test_the_page_shows_each_state_and_the_trips_of_the_last_24_hours(staff_client, settings):
    openai = _trip("openai-gpt4", settings)
    ProviderHealthTransition.objects.create(  # an old trip is not counted
        provider=openai,
        state="cooling_down",
        previous="healthy",
        at=timezone.now() - dt.timedelta(hours=25),
        reason="x",
    )
    page = staff_client.get(URL).content.decode()
    row = page.split('id="health-openai-gpt4"')[1].split("</tr>")[0]
    assert "cooling_down" in row and '<td class="trips">1</td>' in row and "Mark healthy" in row
    other = page.split('id="health-anthropic-claude"')[1].split("</tr>")[0]
    assert "healthy" in other and "Mark healthy" not in other
    assert "Provider health" in staff_client.get("/admin/").content.decode()  # linked from the index


def test_mark_healthy_records_the_user_and_the_reason(staff_client, settings):
    openai = _trip("openai-gpt4", settings)
    response = staff_client.post(URL, {"provider": str(openai.pk), "reason": "vendor status page is green"})
    assert response.status_code == 302
    mark = ProviderHealthTransition.objects.get(reason="marked_healthy")
    assert mark.changed_by is not None and mark.changed_by.username == "admin"
    assert (mark.previous, mark.state, mark.details["reason_text"]) == (
        "cooling_down",
        "healthy",
        "vendor status page is green",
    )
    assert "marked_healthy: vendor status page is green" in staff_client.get(URL).content.decode()


def test_a_short_reason_is_a_form_error_and_writes_nothing(staff_client, settings):
    openai = _trip("openai-gpt4", settings)
    response = staff_client.post(URL, {"provider": str(openai.pk), "reason": "ok"})
    assert response.status_code == 400
    assert "at least 10 characters" in response.content.decode()
    assert not ProviderHealthTransition.objects.filter(reason="marked_healthy").exists()


def test_viewing_needs_the_provider_view_permission_and_marking_the_change_one(client, django_user_model, settings):
    from authoring.demo import demo_world_load

    demo_world_load()
    openai = _trip("openai-gpt4", settings)
    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    client.force_login(user)
    assert client.get(URL).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_modelprovider"))
    user = django_user_model.objects.get(pk=user.pk)
    client.force_login(user)
    assert client.get(URL).status_code == 200
    assert client.post(URL, {"provider": str(openai.pk), "reason": "looks fine to me now"}).status_code == 403
    assert not ProviderHealthTransition.objects.filter(reason="marked_healthy").exists()


def test_the_dashboard_tile_counts_unhealthy_providers_and_trips(staff_client, settings):
    _trip("openai-gpt4", settings)
    tile = staff_client.get("/admin/audit/dashboard/").content.decode().split('id="health-tile"')[1].split("</div>")[0]
    assert "<strong>1</strong> of" in tile and "openai-gpt4: cooling_down" in tile


def test_the_provider_form_offers_the_health_overrides(staff_client):
    openai = ModelProvider.objects.get(slug="openai-gpt4")
    page = staff_client.get(f"/admin/providers/modelprovider/{openai.pk}/change/").content.decode()
    assert 'name="health_failure_rate_percent"' in page and 'name="health_cooldown_seconds"' in page
