"""A spent budget on `cheapest` picks the cheapest *healthy* compliant provider: a cheaper one
cooling down is left out (the decision's own provider serves, not degraded), and a blocked one
never serves."""

from __future__ import annotations

import pytest
from django.utils import timezone

from api.tests.test_dispatch_budget import budgeted, dispatch, spend, world  # noqa: F401 - world is a fixture
from providers.health.services import provider_health_outcome

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_a_spent_budget_routes_to_the_cheapest_healthy_provider(world, settings):  # noqa: F811
    settings.PROVIDER_HEALTH_FAILURES = 1
    settings.PROVIDER_HEALTH_VIEW_SECONDS = 0  # one process: no staleness to wait for
    api, _ = budgeted("cheapest")
    status, first = dispatch(api)
    assert status == 200 and first["provider_slug"] == "dear"
    spend(api, first)
    spend(api, dispatch(api)[1])  # 0.084 of 0.05: spent
    status, cheapest = dispatch(api)
    assert status == 200 and cheapest["provider_slug"] == "cheap" and cheapest["degraded"] is False
    provider_health_outcome(provider=world["cheap"], dispatched_at=timezone.now(), success=False, error_code="timeout")
    status, body = dispatch(api)
    assert status == 200 and body["provider_slug"] == "dear" and body["degraded"] is False
    assert body["budget"]["exhausted"] is True
