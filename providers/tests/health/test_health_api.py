"""Provider health through the API in one process: outcomes reported through
POST /dispatch/{id}/outcome trip a provider, GET /providers/health shows it, each transition is a
row and a signal, `degraded` is in every decision body, and without Redis each process keeps its
own view and says so."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest

from api.testing import keyed_api
from authoring.demo import demo_world_load
from clients.tests.test_limits import redis_down  # noqa: F401 - a fixture
from policies.engine import Decision, DispatchContext
from policies.presentation import decision_body
from policies.snapshot import current_snapshot
from providers.health.services import PROVIDER_FAILURE_CODES, provider_health_mark_healthy
from providers.models import ModelProvider, ProviderHealthTransition
from providers.signals import provider_health_changed

pytestmark = pytest.mark.django_db
BASIC = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}


@pytest.fixture
def world(settings):
    settings.PROVIDER_HEALTH_FAILURES = 2
    settings.PROVIDER_HEALTH_VIEW_SECONDS = 0  # in one process: no staleness to wait for
    demo_world_load()
    api, _, _ = keyed_api("dispatch", "outcome", "read")
    return api


@pytest.fixture
def signals():
    received: list[dict] = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    provider_health_changed.connect(receiver)
    yield received
    provider_health_changed.disconnect(receiver)


def _dispatch(api) -> dict:
    response = api.post("/dispatch", BASIC, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _fail(api, request_id: str, code: str) -> None:
    body = {"success": False, "latency_ms": 30, "error_code": code}
    assert api.post(f"/dispatch/{request_id}/outcome", body, format="json").status_code == 201


def _health(api) -> dict:
    response = api.get("/providers/health")
    assert response.status_code == 200
    return response.json()


def test_every_provider_is_listed_healthy_until_outcomes_say_otherwise(world, require_redis):
    body = _health(world)
    assert body["shared"] is True
    assert {row["provider_slug"] for row in body["providers"]} == set(
        ModelProvider.objects.values_list("slug", flat=True)
    )
    row = next(r for r in body["providers"] if r["provider_slug"] == "openai-gpt4")
    assert row == {
        "provider_id": str(ModelProvider.objects.get(slug="openai-gpt4").pk),
        "provider_slug": "openai-gpt4",
        "state": "healthy",
        "since": None,
        "failures": 0,
        "outcomes": 0,
        "next_probe_at": None,
    }


def test_provider_side_failures_trip_the_provider_record_a_row_and_send_the_signal(world, signals):
    for code in ("timeout", "rate_limited"):
        _fail(world, _dispatch(world)["request_id"], code)
    decision = _dispatch(world)
    assert decision["provider_slug"] == "anthropic-claude" and decision["degraded"] is False
    step = decision["explanation"]["passed_over"][0]
    assert (step["slug"], step["reason"]) == ("openai-gpt4", "unhealthy") and step["next_probe_at"]
    row = next(r for r in _health(world)["providers"] if r["provider_slug"] == "openai-gpt4")
    assert row["state"] == "cooling_down" and row["next_probe_at"] == step["next_probe_at"]
    transition = ProviderHealthTransition.objects.get()
    assert (transition.previous, transition.state, transition.reason) == (
        "healthy",
        "cooling_down",
        "consecutive_failures",
    )
    assert len(signals) == 1
    assert signals[0]["provider_slug"] == "openai-gpt4" and signals[0]["state"] == "cooling_down"
    assert signals[0]["provider_id"] == transition.provider_id and signals[0]["previous"] == "healthy"


def test_other_failures_are_recorded_but_say_nothing_about_health(world):
    assert "content_filter" not in PROVIDER_FAILURE_CODES
    for _ in range(4):
        _fail(world, _dispatch(world)["request_id"], "content_filter")
    assert _dispatch(world)["provider_slug"] == "openai-gpt4"
    row = next(r for r in _health(world)["providers"] if r["provider_slug"] == "openai-gpt4")
    assert (row["state"], row["outcomes"]) == ("healthy", 0)


def test_a_per_provider_override_replaces_the_default(world):
    ModelProvider.objects.filter(slug="openai-gpt4").update(health_failures_to_trip=4)
    for _ in range(3):
        _fail(world, _dispatch(world)["request_id"], "provider_error")
    assert _dispatch(world)["provider_slug"] == "openai-gpt4"  # 3 < its own 4
    row = next(r for r in _health(world)["providers"] if r["provider_slug"] == "openai-gpt4")
    assert (row["failures"], row["outcomes"]) == (3, 3)


def test_mark_healthy_is_audited_with_the_user_and_the_reason(world, admin_user, signals):
    for _ in range(2):
        _fail(world, _dispatch(world)["request_id"], "provider_error")
    openai = ModelProvider.objects.get(slug="openai-gpt4")
    assert provider_health_mark_healthy(provider=openai, by=admin_user, reason="vendor fixed the outage") is True
    assert _dispatch(world)["provider_slug"] == "openai-gpt4"
    mark = ProviderHealthTransition.objects.filter(reason="marked_healthy").get()
    assert mark.changed_by == admin_user and mark.details["reason_text"] == "vendor fixed the outage"
    assert provider_health_mark_healthy(provider=openai, by=admin_user, reason="again") is False  # already healthy
    assert [s["state"] for s in signals] == ["cooling_down", "healthy"]


def test_degraded_is_false_in_a_refusal_body():
    refused = Decision(
        context=DispatchContext("mathematics", "elementary", "us_east"), refusal_code="no_matching_policy"
    )
    body = decision_body(refused, current_snapshot(), request_id="00000000-0000-0000-0000-000000000001")
    assert body["degraded"] is False and body["explanation"]["degraded"] is False


def test_the_endpoint_and_degraded_are_in_the_schema(world):
    import yaml

    schema = yaml.safe_load(world.get("/schema").content)
    operation = schema["paths"]["/providers/health"]["get"]
    assert operation["operationId"] == "providers_health"
    components = schema["components"]["schemas"]
    assert "degraded" in components["Decision"]["required"] and "degraded" in components["Explanation"]["required"]
    assert "degraded" in components["Unprocessable"]["properties"]  # a refusal (absent: a reused request_id)
    assert set(components["ProviderHealth"]["properties"]) == {
        "provider_id",
        "provider_slug",
        "state",
        "since",
        "failures",
        "outcomes",
        "next_probe_at",
    }


def test_with_redis_down_each_process_keeps_its_own_view_and_says_so(world, redis_down, caplog):  # noqa: F811
    with caplog.at_level(logging.WARNING, logger="dispatch.health"):
        for _ in range(2):
            _fail(world, _dispatch(world)["request_id"], "connection_error")
        decision = _dispatch(world)
    assert decision["provider_slug"] == "anthropic-claude"
    body = _health(world)
    assert body["shared"] is False
    assert next(r for r in body["providers"] if r["provider_slug"] == "openai-gpt4")["state"] == "cooling_down"
    assert any("Redis unavailable" in r.getMessage() for r in caplog.records if r.name.startswith("dispatch."))


def test_the_background_job_records_the_end_of_a_cooldown_once_without_waiting_for_a_probe(
    world, signals, require_redis
):
    """A provider's own cooldown (1 s, its override) ends with nobody dispatching to it: the job
    (every worker runs it; the atomic script lets one of them make the move) records the
    cooling_down -> probing transition once, as a row and a signal, and the health API shows it."""
    from common.background import jobs_registered, jobs_run_due
    from providers.health.services import provider_health_advance_due

    assert "provider-health-advance" in jobs_registered()
    ModelProvider.objects.filter(slug="openai-gpt4").update(health_cooldown_seconds=1)
    for code in ("timeout", "provider_error"):
        _fail(world, _dispatch(world)["request_id"], code)
    trip = ProviderHealthTransition.objects.get(provider__slug="openai-gpt4")
    assert trip.state == "cooling_down" and trip.details["cooldown_seconds"] == 1
    assert provider_health_advance_due() == 0  # not over yet: nothing moves
    signals.clear()

    time.sleep(1 + 0.3)  # the cooldown plus a margin; no dispatch, no report meanwhile
    assert jobs_run_due(force=True)["provider-health-advance"] == 1
    assert provider_health_advance_due() == 0  # done once: a second pass (another worker) finds nothing
    moved = ProviderHealthTransition.objects.filter(provider__slug="openai-gpt4").exclude(pk=trip.pk)
    assert [(t.previous, t.state, t.reason) for t in moved] == [("cooling_down", "probing", "cooldown_over")]
    assert moved[0].at >= trip.at + dt.timedelta(seconds=1)
    assert [(s["previous"], s["state"], s["provider_slug"]) for s in signals] == [
        ("cooling_down", "probing", "openai-gpt4")
    ]
    row = next(r for r in _health(world)["providers"] if r["provider_slug"] == "openai-gpt4")
    assert row["state"] == "probing"
