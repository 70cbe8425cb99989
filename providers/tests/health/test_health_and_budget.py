"""A spent budget on `cheapest` picks the cheapest *healthy* compliant provider: a cheaper one
cooling down is left out (the decision's own provider serves, not degraded); when every compliant
one is cooling down the cheapest of them serves, `degraded: true`; a blocked one never serves."""

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


def test_with_every_cheap_option_cooling_down_the_cheapest_compliant_serves_degraded(world, settings):  # noqa: F811
    settings.PROVIDER_HEALTH_FAILURES = 1
    settings.PROVIDER_HEALTH_VIEW_SECONDS = 0
    api, _ = budgeted("cheapest")
    for _ in range(2):
        status, body = dispatch(api)
        assert status == 200
        spend(api, body)
    for slug in ("cheap", "dear"):  # every compliant provider; `free` is cheaper still but blocked in us_east
        provider_health_outcome(
            provider=world[slug], dispatched_at=timezone.now(), success=False, error_code="provider_unavailable"
        )
    for _ in range(3):
        status, body = dispatch(api)
        assert status == 200 and body["provider_slug"] == "cheap" and body["degraded"] is True
        assert body["budget"]["exhausted"] is True
        explanation = body["explanation"]
        assert "cooling down: degraded" in explanation["budget"]
        assert "the cheapest compliant one (the client's budget is spent), cheap" in explanation["degraded_detail"]
        assert [(p["slug"], p["reason"]) for p in explanation["passed_over"]] == [("dear", "not_cheapest")]
