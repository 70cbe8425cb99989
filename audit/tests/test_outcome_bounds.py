"""Outcome reports are bounded (issue 12, finding 6): tokens and latency within OUTCOME_MAX_TOKENS and
OUTCOME_MAX_LATENCY_MS, refused with a 400 naming the field and the range, stated in the OpenAPI
schema, and analytics never grow by more than the bounds allow per report."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from api.testing import keyed_api
from audit.models import DispatchOutcome, ModelMetric, ModelMetricDaily
from authoring.demo import demo_world_load
from dispatch_site.settings import env_int
from providers.limits import provider_usage
from providers.models import ModelProvider

pytestmark = pytest.mark.django_db
EU = {"subject": "mathematics", "grade_band": "elementary", "region": "eu_west"}


@pytest.fixture
def api() -> APIClient:
    demo_world_load()
    return keyed_api("dispatch", "outcome", "analytics")[0]


def dispatched(api: APIClient) -> str:
    rid = str(uuid.uuid4())
    assert api.post(f"/dispatch?request_id={rid}", EU, format="json").status_code == 200
    return rid


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("input_tokens", 100_000_000, "from 0 to 1000000 (OUTCOME_MAX_TOKENS)"),  # the reviewer's report
        ("input_tokens", 1_000_001, "from 0 to 1000000 (OUTCOME_MAX_TOKENS)"),
        ("output_tokens", 1_000_001, "from 0 to 1000000 (OUTCOME_MAX_TOKENS)"),
        ("output_tokens", -1, "from 0 to 1000000 (OUTCOME_MAX_TOKENS)"),
        ("latency_ms", 600_001, "from 0 to 600000 (OUTCOME_MAX_LATENCY_MS)"),
    ],
)
def test_a_report_out_of_bounds_is_400_naming_the_field_and_range_and_changes_nothing(api, field, value, allowed):
    eu = ModelProvider.objects.get(slug="local-eu-provider")
    rid = dispatched(api)
    body = {"success": True, "latency_ms": 900, field: value}
    response = api.post(f"/dispatch/{rid}/outcome", body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and list(error["fields"]) == [field]
    assert allowed in error["fields"][field][0]
    assert not DispatchOutcome.objects.exists() and not ModelMetric.objects.exists()
    assert provider_usage(provider_id=str(eu.pk))["tokens"] == 0


def test_the_bounds_are_configurable_and_the_schema_states_them(api, settings):
    settings.OUTCOME_MAX_TOKENS = 5_000
    settings.OUTCOME_MAX_LATENCY_MS = 30_000
    rid = dispatched(api)
    over = api.post(
        f"/dispatch/{rid}/outcome", {"success": True, "latency_ms": 10, "input_tokens": 5_001}, format="json"
    )
    assert "from 0 to 5000 (OUTCOME_MAX_TOKENS)" in over.json()["error"]["fields"]["input_tokens"][0]
    slow = api.post(f"/dispatch/{rid}/outcome", {"success": True, "latency_ms": 30_001}, format="json")
    assert "from 0 to 30000 (OUTCOME_MAX_LATENCY_MS)" in slow.json()["error"]["fields"]["latency_ms"][0]
    at = {"success": True, "latency_ms": 30_000, "input_tokens": 5_000, "output_tokens": 5_000}
    assert api.post(f"/dispatch/{rid}/outcome", at, format="json").status_code == 201
    schema = APIClient().get("/schema", HTTP_ACCEPT="application/json").json()
    fields = schema["components"]["schemas"]["OutcomeRequest"]["properties"]
    for name, maximum in (("input_tokens", 5_000), ("output_tokens", 5_000), ("latency_ms", 30_000)):
        assert (fields[name]["minimum"], fields[name]["maximum"]) == (0, maximum)
        assert "OUTCOME_MAX" in fields[name]["description"]


def test_analytics_grow_by_at_most_the_bound_per_report(api, settings):
    eu = ModelProvider.objects.get(slug="local-eu-provider")
    bound = settings.OUTCOME_MAX_TOKENS
    rid = dispatched(api)
    huge = {"success": True, "latency_ms": 900, "input_tokens": 100_000_000, "output_tokens": 100_000_000}
    assert api.post(f"/dispatch/{rid}/outcome", huge, format="json").status_code == 400
    at_bound = {"success": True, "latency_ms": 900, "input_tokens": bound, "output_tokens": bound}
    assert api.post(f"/dispatch/{rid}/outcome", at_bound, format="json").status_code == 201
    figures = api.get("/analytics?region=eu_west&days=1").json()
    (provider,) = [p for p in figures["providers"] if p["provider_slug"] == "local-eu-provider"]
    assert (provider["input_tokens"], provider["output_tokens"]) == (bound, bound)
    cost = (bound * eu.cost_per_1k_input_tokens + bound * eu.cost_per_1k_output_tokens) / 1000
    assert Decimal(str(figures["total_cost"])) == cost
    assert ModelMetricDaily.objects.get().input_tokens == bound


def test_a_bound_outside_what_the_service_can_store_refuses_to_start(monkeypatch):
    monkeypatch.setenv("OUTCOME_MAX_LATENCY_MS", "900000")
    with pytest.raises(ImproperlyConfigured, match="OUTCOME_MAX_LATENCY_MS must be from 1 to 600000"):
        env_int("OUTCOME_MAX_LATENCY_MS", 600_000, low=1, high=600_000)
    monkeypatch.setenv("CLIENT_TOKEN_SHARE_PERCENT", "half")
    with pytest.raises(ImproperlyConfigured, match="CLIENT_TOKEN_SHARE_PERCENT must be a whole number"):
        env_int("CLIENT_TOKEN_SHARE_PERCENT", 50, low=1, high=100)
    monkeypatch.setenv("CLIENT_TOKEN_SHARE_PERCENT", "")
    assert env_int("CLIENT_TOKEN_SHARE_PERCENT", 50, low=1, high=100) == 50
