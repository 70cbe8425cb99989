"""Per-client throttling, per-provider limits in dispatch, and what happens when Redis is down.

In-process here (the counts each test sees are its own); the cross-worker exactness against Redis
is proven with real gunicorn workers in test_limits_across_workers.py.
"""

from __future__ import annotations

import logging
import socket
import uuid

import pytest
import redis
from django.conf import settings

from api.testing import keyed_api
from audit.models import DispatchLog
from authoring.demo import DEMO_TEACHER_ID, demo_teacher_load, demo_world_load
from common.counters import counting as ratelimit
from providers.limits import provider_tokens_add, provider_usage
from providers.models import ModelProvider

pytestmark = pytest.mark.django_db
BASIC = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}


@pytest.fixture
def world():
    demo_world_load()


def passed_over(body: dict) -> dict[str, str]:
    return {step.get("slug", step["name"]): step["reason"] for step in body["explanation"]["passed_over"]}


def test_a_client_over_its_rate_gets_429_with_retry_after(world):
    api, _, _ = keyed_api("read", rate="3/min")
    statuses = [api.get("/providers?region=us_east").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    response = api.get("/providers?region=us_east")
    assert response.json()["error"]["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_each_client_has_its_own_count_and_the_default_rate_applies(world, settings):
    settings.API_CLIENT_DEFAULT_RATE = "2/min"
    first, _, _ = keyed_api("read")
    second, _, _ = keyed_api("read", rate="5/min")
    assert [first.get("/providers?region=us_east").status_code for _ in range(3)] == [200, 200, 429]
    assert [second.get("/providers?region=us_east").status_code for _ in range(3)] == [200, 200, 200]


def test_a_provider_at_its_rpm_is_passed_over_for_the_next_in_the_chain(world):
    ModelProvider.objects.filter(slug="openai-gpt4").update(requests_per_minute=2)
    api, _, _ = keyed_api("dispatch")
    bodies = [api.post("/dispatch", BASIC, format="json").json() for _ in range(3)]
    assert [b["provider_slug"] for b in bodies] == ["openai-gpt4", "openai-gpt4", "anthropic-claude"]
    assert passed_over(bodies[2]) == {"openai-gpt4": "rate_limited"}
    assert "rate limit" in bodies[2]["explanation"]["passed_over"][0]["detail"]
    openai = ModelProvider.objects.get(slug="openai-gpt4")
    assert provider_usage(provider_id=str(openai.id))["requests"] == 2


def test_tokens_reported_past_the_tpm_saturate_the_provider(world):
    openai = ModelProvider.objects.get(slug="openai-gpt4")
    api, _, _ = keyed_api("dispatch")
    assert api.post("/dispatch", BASIC, format="json").json()["provider_slug"] == "openai-gpt4"
    tpm = openai.tokens_per_minute
    for ref in ("app-a", "app-b"):  # two clients, each reporting past its share (half): the minute's tokens
        provider_tokens_add(provider_id=str(openai.id), tokens=tpm, client_ref=ref, tokens_per_minute=tpm)
    assert provider_usage(provider_id=str(openai.id))["tokens"] == tpm
    body = api.post("/dispatch", BASIC, format="json").json()
    assert body["provider_slug"] == "anthropic-claude"
    assert passed_over(body)["openai-gpt4"] == "rate_limited"


def test_every_provider_at_its_limit_is_a_refusal_naming_the_limit(world):
    ModelProvider.objects.update(requests_per_minute=1)
    api, _, _ = keyed_api("dispatch")
    slugs = []
    for _ in range(6):
        response = api.post("/dispatch", BASIC, format="json")
        if response.status_code != 200:
            break
        slugs.append(response.json()["provider_slug"])
    assert len(slugs) == len(set(slugs)) >= 2  # each compliant provider served once
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "no_compliant_provider"
    assert "rate_limited" in response.json()["error"]["message"]


def test_an_override_to_a_provider_at_its_limit_is_refused(world):
    demo_teacher_load()
    ModelProvider.objects.filter(slug="anthropic-claude").update(requests_per_minute=1)
    api, _, _ = keyed_api("dispatch", "override", teachers=[DEMO_TEACHER_ID])
    body = {
        **BASIC,
        "teacher_override": True,
        "override_provider_id": "anthropic-claude",
        "override_reason": "Student needs a model that explains fractions visually",
        "teacher_id": DEMO_TEACHER_ID,
    }
    assert api.post("/dispatch", body, format="json").status_code == 200
    refused = api.post("/dispatch", body, format="json")
    assert refused.status_code == 422 and "rate limit" in refused.json()["error"]["message"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_down(settings):
    """Settings pointing at a Redis that is not there (a closed port)."""
    url = f"redis://127.0.0.1:{closed_port()}/0"
    settings.REDIS_URL = url
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "down",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True},
        }
    }
    ratelimit.counters_reset()
    yield
    ratelimit.counters_reset()


def test_with_redis_down_dispatch_keeps_working_degrades_limits_and_stays_compliant(world, redis_down, caplog):
    ModelProvider.objects.filter(slug="openai-gpt4").update(requests_per_minute=1)
    api, _, _ = keyed_api("dispatch", "read", rate="4/min")
    with caplog.at_level(logging.WARNING, logger="dispatch.ratelimit"):
        first = api.post("/dispatch", BASIC, format="json")
        second = api.post("/dispatch", BASIC, format="json")
        eu = api.post("/dispatch", {**BASIC, "region": "eu_west"}, format="json")
        statuses = [api.get("/providers?region=us_east").status_code for _ in range(2)]
    assert first.json()["provider_slug"] == "openai-gpt4"
    assert second.json()["provider_slug"] == "anthropic-claude"  # per-process count still limits
    assert eu.json()["provider_slug"] == "local-eu-provider"  # the blocked US provider never serves eu_west
    assert statuses == [200, 429]  # the client's 4/min, counted in this process
    warnings = [r for r in caplog.records if r.name == "dispatch.ratelimit" and "Redis unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not per request
    ready = api.get("/readyz").json()
    assert ready["checks"]["redis"] == "degraded"


def test_dispatch_counts_the_client_with_its_provider_reservation_and_429s_write_nothing(world):
    api, _, _ = keyed_api("dispatch", rate="3/min")
    responses = [api.post("/dispatch", BASIC, format="json") for _ in range(5)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429, 429]
    throttled = responses[-1]
    assert throttled.json()["error"]["code"] == "throttled"
    assert "Expected available in" in throttled.json()["error"]["message"]
    assert 1 <= int(throttled["Retry-After"]) <= 60
    assert DispatchLog.objects.count() == 3  # a 429 is decided before anything is written
    openai = ModelProvider.objects.get(slug="openai-gpt4")
    assert provider_usage(provider_id=str(openai.id))["requests"] == 3  # nor does it reserve the provider


def test_a_dispatch_that_ends_before_deciding_still_counts_against_the_client(world):
    api, _, _ = keyed_api("dispatch", rate="3/min")
    assert api.post("/dispatch", {**BASIC, "region": "mars"}, format="json").status_code == 400
    override = {**BASIC, "teacher_override": True, "override_provider_id": "anthropic-claude", "teacher_id": "t"}
    assert api.post("/dispatch", override, format="json").status_code == 403  # no override scope
    assert api.post("/dispatch", BASIC, format="json").status_code == 200
    assert api.post("/dispatch", BASIC, format="json").status_code == 429
    assert DispatchLog.objects.count() == 1


def test_a_refused_dispatch_counts_against_the_client_too(world):
    api, _, _ = keyed_api("dispatch", rate="2/min")
    no_rule = {**BASIC, "region": "ca_central"}  # no routing rule: a refusal, no provider to reserve
    assert [api.post("/dispatch", no_rule, format="json").status_code for _ in range(3)] == [422, 422, 429]
    assert DispatchLog.objects.filter(outcome="refused").count() == 2


class RedisCommands:
    """The commands clients send this test's Redis database, on this process's keys, while the block
    runs (not those a script runs), via MONITOR (which sees every database and every client: other
    test runs, and the suite's other xdist workers, may share the server and the database; each
    keeps its keys under its own cache prefix, which every command the service sends names)."""

    def __enter__(self) -> RedisCommands:
        # Its own connections, not the app's pool: MONITOR holds the connection it runs on, and the
        # end marker is sent on another one, opened before MONITOR starts.
        self.redis = redis.Redis.from_url(settings.REDIS_URL, single_connection_client=True)
        self.redis.ping()
        self.db = int(self.redis.connection_pool.connection_kwargs.get("db", 0))
        self.keys = f"{settings.CACHES['default'].get('KEY_PREFIX') or 'mds'}:"
        self.monitor = redis.Redis.from_url(settings.REDIS_URL).monitor()
        self.monitor.__enter__()  # MONITOR is on once its OK is read
        self.sent: list[str] = []
        return self

    def __exit__(self, *exc: object) -> None:
        marker = f"end-of-block-{uuid.uuid4().hex}"
        self.redis.echo(marker)
        for command in self.monitor.listen():
            if marker in command["command"]:
                break
            if command["client_type"] != "lua" and command["db"] == self.db and self.keys in command["command"]:
                self.sent.append(command["command"].split()[0].upper())
        self.monitor.__exit__(None, None, None)
        self.redis.close()


def test_a_warm_api_dispatch_costs_one_redis_round_trip(world, settings, require_redis):
    settings.SNAPSHOT_CHECK_INTERVAL = 60  # the stamp check (one GET per interval) is measured by the bench
    api, _, _ = keyed_api("dispatch", rate="100/min")
    assert api.post("/dispatch", BASIC, format="json").status_code == 200  # warm: key, snapshot, scripts
    with RedisCommands() as accepted_trips:
        accepted = api.post("/dispatch", BASIC, format="json")
    with RedisCommands() as refused_trips:
        refused = api.post("/dispatch", {**BASIC, "region": "ca_central"}, format="json")
    assert accepted.status_code == 200 and refused.status_code == 422
    assert accepted_trips.sent == ["EVALSHA"]  # the client's count and the provider's reservation: one script
    assert refused_trips.sent == ["EVALSHA"]  # a refusal reserves no provider: the client's count alone


def test_with_large_limits_a_busy_worker_dispatches_from_its_leases_without_a_round_trip(
    world, settings, require_redis
):
    settings.SNAPSHOT_CHECK_INTERVAL = 60
    ModelProvider.objects.update(requests_per_minute=100_000)
    api, _, _ = keyed_api("dispatch", rate="100000/min")
    for _ in range(10):  # leases of 1, 2, 4, 8 slots for the client and the provider
        assert api.post("/dispatch", BASIC, format="json").status_code == 200
    with RedisCommands() as trips:
        responses = [api.post("/dispatch", BASIC, format="json") for _ in range(4)]
    assert [r.status_code for r in responses] == [200] * 4
    assert trips.sent == []  # counted from slots already granted (and counted) in Redis
    openai = ModelProvider.objects.get(slug="openai-gpt4")
    assert provider_usage(provider_id=str(openai.id))["requests"] == 15  # 1 + 2 + 4 + 8 granted
