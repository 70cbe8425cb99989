"""POST /dispatch/<request_id>/outcome: once per request, idempotent, rolled up exactly."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from api.testing import keyed_api
from audit.models import DispatchLog, DispatchOutcome, ModelMetric, ModelMetricDaily
from authoring.demo import demo_world_load

pytestmark = pytest.mark.django_db

BASIC = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}
REPORT = {"success": True, "latency_ms": 840, "input_tokens": 1000, "output_tokens": 500}


@pytest.fixture
def api():
    demo_world_load()
    return keyed_api()[0]


def dispatched(api: APIClient, body: dict | None = None) -> str:
    rid = str(uuid.uuid4())
    response = api.post(f"/dispatch?request_id={rid}", body or BASIC, format="json")
    assert response.status_code in (200, 422)
    return rid


def test_first_report_is_stored_and_rolled_up_with_cost_from_the_provider_prices(api):
    rid = dispatched(api)
    response = api.post(f"/dispatch/{rid}/outcome", REPORT, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    log = DispatchLog.objects.select_related("provider").get(request_id=rid)
    provider = log.provider
    assert provider is not None
    expected_cost = (1000 * provider.cost_per_1k_input_tokens + 500 * provider.cost_per_1k_output_tokens) / 1000
    assert body["request_id"] == rid and body["provider_id"] == str(provider.pk)
    assert Decimal(str(body["cost"])) == expected_cost.quantize(Decimal("0.000001"))
    outcome = DispatchOutcome.objects.get(pk=log.pk)
    assert outcome.success and outcome.latency_ms == 840
    hour = log.created_at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    metric = ModelMetric.objects.get(
        provider=provider, subject="mathematics", grade_band="elementary", bucket_start=hour
    )
    assert (metric.requests, metric.successes, metric.failures, metric.latency_ms_sum) == (1, 1, 0, 840)
    assert metric.latency_le_1000 == 1 and metric.latency_le_500 == 0
    assert (metric.input_tokens, metric.output_tokens, metric.cost) == (1000, 500, outcome.cost)
    daily = ModelMetricDaily.objects.get(provider=provider, region="us_east", day=hour.date())
    assert (daily.requests, daily.latency_le_1000, daily.cost) == (1, 1, outcome.cost)


def test_same_report_replayed_returns_the_stored_outcome_and_counts_once(api):
    rid = dispatched(api)
    first = api.post(f"/dispatch/{rid}/outcome", REPORT, format="json")
    again = api.post(f"/dispatch/{rid}/outcome", REPORT, format="json")
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert ModelMetric.objects.get().requests == 1


def test_other_report_for_the_same_request_is_409(api):
    rid = dispatched(api)
    api.post(f"/dispatch/{rid}/outcome", REPORT, format="json")
    response = api.post(
        f"/dispatch/{rid}/outcome", {**REPORT, "success": False, "error_code": "timeout"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "outcome_already_reported"
    assert ModelMetric.objects.get().failures == 0


def test_refused_dispatch_has_no_outcome(api):
    rid = dispatched(api, {**BASIC, "region": "sa_east"})
    assert DispatchLog.objects.get(request_id=rid).outcome == "refused"
    response = api.post(f"/dispatch/{rid}/outcome", REPORT, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "dispatch_refused"
    assert not DispatchOutcome.objects.exists()


def test_unknown_request_is_404_and_malformed_id_is_400(api):
    response = api.post(f"/dispatch/{uuid.uuid4()}/outcome", REPORT, format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "dispatch_not_found"
    response = api.post("/dispatch/not-a-uuid/outcome", REPORT, format="json")
    assert response.status_code == 400 and "request_id" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"latency_ms": 10}, "success"),
        ({"success": "yes", "latency_ms": 10}, "success"),
        ({"success": True}, "latency_ms"),
        ({"success": True, "latency_ms": -1}, "latency_ms"),
        ({"success": True, "latency_ms": 600_001}, "latency_ms"),
        ({"success": True, "latency_ms": "12"}, "latency_ms"),
        ({"success": True, "latency_ms": 1.5}, "latency_ms"),
        ({"success": True, "latency_ms": 10, "input_tokens": -3}, "input_tokens"),
        ({"success": True, "latency_ms": 10, "error_code": "timeout"}, "error_code"),
        ({"success": False, "latency_ms": 10, "error_code": "a\x00b"}, "error_code"),
        ({"success": True, "latency_ms": 10, "student_name": "x"}, "student_name"),
    ],
)
def test_bad_report_is_400_naming_the_field_and_writes_nothing(api, body, field):
    rid = dispatched(api)
    response = api.post(f"/dispatch/{rid}/outcome", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not DispatchOutcome.objects.exists() and not ModelMetric.objects.exists()


def test_outcome_endpoint_declares_its_scope():
    from api.analytics import AnalyticsView
    from api.outcome import OutcomeView

    assert OutcomeView.required_scope == "outcome" and AnalyticsView.required_scope == "analytics"
