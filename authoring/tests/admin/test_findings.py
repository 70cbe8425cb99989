"""The admin home's findings from the other features: unhealthy providers, spent budgets,
expiring agreements — each from real data, each linking to where to act."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.spend import SpendBudget, client_spend_add
from authoring import findings as registry
from authoring.demo import demo_world_load
from clients.models import ApiClient, ClientBudget
from common.clock import service_today
from providers.health.services import provider_health_outcome
from providers.models import Agreement, ModelProvider

pytestmark = pytest.mark.django_db


def _titles(check) -> list[str]:
    return [f.title for f in check()]


def test_a_provider_cooling_down_is_a_finding_linking_to_the_health_page(settings):
    settings.PROVIDER_HEALTH_FAILURES = 2
    settings.PROVIDER_HEALTH_VIEW_SECONDS = 0
    demo_world_load()
    assert registry.providers_unhealthy() == []
    provider = ModelProvider.objects.get(slug="openai-gpt4")
    for _ in range(2):
        provider_health_outcome(provider=provider, dispatched_at=timezone.now(), success=False, error_code="timeout")
    found = registry.providers_unhealthy()
    assert [f.title for f in found] == [f"{provider.name} is cooling down"]
    assert found[0].url == reverse("admin:provider-health")


def test_a_budget_at_80_percent_warns_and_a_spent_one_is_a_problem():
    demo_world_load()
    client = ApiClient.objects.create(name="district-lms", key_prefix="mds_findings", key_hash="0" * 64)
    ClientBudget.objects.create(client=client, amount=Decimal("1.00"), period="day", on_exhausted="refuse")
    now = timezone.now()
    budget = SpendBudget(amount=Decimal("1.00"), period="day")
    client_spend_add(client_ref="district-lms", cost=Decimal("0.50"), at=now, budget=budget)
    assert registry.budgets_spent() == []
    client_spend_add(client_ref="district-lms", cost=Decimal("0.35"), at=now, budget=budget)
    (warning,) = registry.budgets_spent()
    assert (warning.severity, warning.title) == (registry.WARNING, "district-lms has spent 85 % of its daily budget")
    client_spend_add(client_ref="district-lms", cost=Decimal("0.20"), at=now, budget=budget)
    (problem,) = registry.budgets_spent()
    assert problem.severity == registry.PROBLEM
    assert "dispatches are refused" in problem.detail
    assert problem.url == reverse("admin:clients_apiclient_change", args=[client.pk])


def test_an_agreement_ending_within_30_days_is_a_finding_with_a_renew_link():
    demo_world_load()
    today = service_today()
    expiring = Agreement.objects.filter(expires_on__gte=today, expires_on__lt=today + dt.timedelta(days=30))
    assert expiring.exists(), "the demo world has an agreement ending within 30 days"
    found = registry.agreements_expiring()
    assert {f.url for f in found} == {reverse("admin:providers_agreement_change", args=[a.pk]) for a in expiring}
    renewed = expiring.first()
    assert renewed is not None
    Agreement.objects.filter(pk=renewed.pk).update(expires_on=today + dt.timedelta(days=365))
    assert renewed.reference not in " ".join(_titles(registry.agreements_expiring))


def test_the_admin_home_shows_the_findings(admin_client):
    demo_world_load()
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert 'id="findings"' in page
    for agreement in Agreement.objects.filter(expires_on__lt=service_today() + dt.timedelta(days=30)):
        assert agreement.reference in page
