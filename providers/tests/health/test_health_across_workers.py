"""Provider health across two real gunicorn workers on PostgreSQL and Redis.

Failures reported for the provider a context resolves to move the next dispatches to its fallback
(reason `unhealthy`), whichever worker serves them; GET /providers/health shows it; after the
cooldown a probe goes to it and successful probes bring it back. With every compliant provider
cooling down the first compliant one serves, `degraded: true`; a blocked provider never does.

Waits are bounded by the settings under test: the view's staleness (VIEW s) and the cooldown
(COOLDOWN s), each plus a stated margin; `next_probe_at` has milliseconds, so the wait for it is exact.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from authoring.demo import demo_world_load
from clients.services import api_client_create
from dispatch_site.tests.servers import gunicorn_workers, request, served_by
from policies.models import RegionalRouting
from providers.models import ModelProvider, ProviderHealthTransition

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
BASIC = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}
VIEW = 0.3  # PROVIDER_HEALTH_VIEW_SECONDS: how stale a worker's view may be
MARGIN = 0.7  # scheduling on 2 shared cores
COOLDOWN = 3  # PROVIDER_HEALTH_COOLDOWN_SECONDS, also a probe round: the 4 dispatches after it fit in one


@pytest.fixture
def health_workers(request, require_postgres, require_redis, settings, tmp_path) -> Iterator[tuple[str, object]]:
    """Two gunicorn workers with test-sized health settings (the cooldown in seconds: the parameter)."""
    from django.db import connection

    cooldown = request.param
    log_path = tmp_path / "gunicorn.log"
    env = {
        "PROVIDER_HEALTH_FAILURES": "3",
        "PROVIDER_HEALTH_COOLDOWN_SECONDS": str(cooldown),
        "PROVIDER_HEALTH_PROBES": "2",
        "PROVIDER_HEALTH_VIEW_SECONDS": str(VIEW),
    }
    with gunicorn_workers(
        database=connection.settings_dict, redis_url=settings.REDIS_URL, log_path=log_path, env=env
    ) as base:
        yield base, log_path


def _client() -> str:
    _, key = api_client_create(name="health-app", scopes=["dispatch", "outcome", "read"], rate="10000/min")
    return key


def _report(base: str, key: str, request_id: str, *, success: bool, error_code: str = "") -> None:
    body: dict[str, object] = {"success": success, "latency_ms": 100, "input_tokens": 10, "output_tokens": 5}
    if error_code:
        body["error_code"] = error_code
    status, answer = request(f"{base}/dispatch/{request_id}/outcome", key, body)
    assert status == 201, answer


def _dispatch(base: str, key: str) -> dict:
    status, body = request(base + "/dispatch", key, BASIC)
    assert status == 200, body
    assert "degraded" in body
    return body


def _health(base: str, key: str) -> dict[str, dict]:
    status, body = request(base + "/providers/health", key)
    assert status == 200, body
    assert body["shared"] is True
    return {row["provider_slug"]: row for row in body["providers"]}


@pytest.mark.parametrize("health_workers", [COOLDOWN], indirect=True)
def test_failures_move_dispatches_to_the_fallback_then_probes_bring_the_provider_back(health_workers):
    base, log_path = health_workers
    demo_world_load()
    key = _client()
    first = _dispatch(base, key)
    assert first["provider_slug"] == "openai-gpt4"
    # A content filter says nothing about the provider's health; provider-side failures do.
    _report(base, key, first["request_id"], success=False, error_code="content_filter")
    for code in ("timeout", "provider_unavailable", "connection_error"):
        body = _dispatch(base, key)
        assert body["provider_slug"] == "openai-gpt4"
        _report(base, key, body["request_id"], success=False, error_code=code)

    time.sleep(VIEW + MARGIN)  # every worker's view is at most VIEW old
    with ThreadPoolExecutor(max_workers=4) as pool:
        moved = list(pool.map(lambda _: _dispatch(base, key), range(8)))
    for body in moved:
        assert body["provider_slug"] == "anthropic-claude" and body["degraded"] is False
        step = body["explanation"]["passed_over"][0]
        assert (step["slug"], step["reason"]) == ("openai-gpt4", "unhealthy")
        assert step["next_probe_at"] and "probed" in step["detail"]
    assert len(served_by(log_path, "/dispatch")) == 2, "both workers must have served dispatches"

    health = _health(base, key)
    openai = health["openai-gpt4"]
    assert openai["state"] == "cooling_down" and openai["next_probe_at"]
    assert health["anthropic-claude"]["state"] == "healthy"
    next_probe = dt.datetime.fromisoformat(openai["next_probe_at"].replace("Z", "+00:00"))
    trip = ProviderHealthTransition.objects.get(provider__slug="openai-gpt4", state="cooling_down")
    assert (trip.previous, trip.reason) == ("healthy", "consecutive_failures")

    time.sleep(max(0.0, (next_probe - dt.datetime.now(dt.UTC)).total_seconds()) + MARGIN)  # COOLDOWN + margin
    after = [_dispatch(base, key) for _ in range(4)]
    probes = [b for b in after if b["provider_slug"] == "openai-gpt4"]
    assert len(probes) == 2, [b["provider_slug"] for b in after]  # PROVIDER_HEALTH_PROBES
    for body in after:
        if body["provider_slug"] != "openai-gpt4":
            assert body["explanation"]["passed_over"][0]["reason"] == "unhealthy"
    assert _health(base, key)["openai-gpt4"]["state"] == "probing"
    for body in probes:
        _report(base, key, body["request_id"], success=True)

    assert _health(base, key)["openai-gpt4"]["state"] == "healthy"
    time.sleep(VIEW + MARGIN)
    back = [_dispatch(base, key) for _ in range(4)]
    assert {b["provider_slug"] for b in back} == {"openai-gpt4"}
    assert list(
        ProviderHealthTransition.objects.filter(provider__slug="openai-gpt4")
        .order_by("at", "id")
        .values_list("previous", "state")
    ) == [("healthy", "cooling_down"), ("cooling_down", "probing"), ("probing", "healthy")]


@pytest.mark.parametrize("health_workers", [60], indirect=True)
def test_with_every_compliant_provider_cooling_down_the_first_serves_degraded_and_a_blocked_one_never(
    health_workers,
):
    base, _ = health_workers
    demo_world_load()
    openai = ModelProvider.objects.get(slug="openai-gpt4")
    RegionalRouting.objects.get(region="us_east").blocked_providers.add(openai)  # moves the snapshot stamp
    key = _client()
    served: list[dict] = []
    for _ in range(30):  # trip each provider the context resolves to, until none is left healthy
        body = _dispatch(base, key)
        served.append(body)
        if body["degraded"]:
            break
        for _ in range(3):
            sick = _dispatch(base, key)
            served.append(sick)
            if sick["degraded"]:
                break
            _report(base, key, sick["request_id"], success=False, error_code="provider_error")
        time.sleep(VIEW + MARGIN)
    degraded = served[-1]
    assert degraded["degraded"] is True, [b["provider_slug"] for b in served]
    assert degraded["provider_slug"] == "anthropic-claude"  # the first compliant one of the chain
    assert "health never refuses" in degraded["explanation"]["degraded_detail"]
    assert {s["reason"] for s in degraded["explanation"]["passed_over"] if s["slug"] == "openai-gpt4"} != {"unhealthy"}
    assert all(b["provider_slug"] != "openai-gpt4" for b in served)  # blocked: never, degraded or not
    health = _health(base, key)
    assert health["anthropic-claude"]["state"] == health["microsoft-copilot"]["state"] == "cooling_down"


JOB = VIEW * 1.1  # the advance job's interval in each worker (PROVIDER_HEALTH_VIEW_SECONDS plus its jitter)


@pytest.mark.parametrize("health_workers", [2], indirect=True)
def test_the_end_of_a_cooldown_is_recorded_once_by_the_workers_job_without_any_dispatch(health_workers):
    """Both workers run the advance job; nobody dispatches or reports after the trip. The
    cooling_down -> probing transition is recorded within one job interval of the cooldown's
    end, exactly once, and /providers/health shows probing."""
    base, _ = health_workers
    demo_world_load()
    key = _client()
    for code in ("timeout", "provider_unavailable", "connection_error"):
        body = _dispatch(base, key)
        assert body["provider_slug"] == "openai-gpt4"
        _report(base, key, body["request_id"], success=False, error_code=code)
    trip = ProviderHealthTransition.objects.get(provider__slug="openai-gpt4", state="cooling_down")
    next_probe = dt.datetime.fromisoformat(trip.details["next_probe_at"].replace("Z", "+00:00"))

    time.sleep(max(0.0, (next_probe - dt.datetime.now(dt.UTC)).total_seconds()) + JOB + MARGIN)
    rows = list(ProviderHealthTransition.objects.filter(provider__slug="openai-gpt4").order_by("at", "id"))
    assert [(t.previous, t.state, t.reason) for t in rows] == [
        ("healthy", "cooling_down", "consecutive_failures"),
        ("cooling_down", "probing", "cooldown_over"),
    ]
    assert next_probe <= rows[1].at <= next_probe + dt.timedelta(seconds=JOB + MARGIN)
    assert _health(base, key)["openai-gpt4"]["state"] == "probing"
    time.sleep(JOB + MARGIN)  # every worker's job has run again since: still one row for this cooldown end
    assert ProviderHealthTransition.objects.filter(provider__slug="openai-gpt4", state="probing").count() == 1
