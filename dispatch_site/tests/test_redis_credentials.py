"""Redis behind a password-protected ACL user (REDIS_URL=redis://user:pass@host:port/db).

Every path to Redis (django-redis's cache, the rate-limit scripts, the stamp mirror, the shared
snapshot rows, /readyz) goes through the one connection pool built from REDIS_URL, so the user's
credentials reach all of them; the user has only the rules docker-compose.yml gives the service.
A wrong password degrades exactly as a Redis that is down: dispatch keeps serving compliant
decisions, limits count per process, /readyz says "degraded", never a 500.
"""

from __future__ import annotations

import logging
import socket
import uuid

import pytest
import redis
from django.conf import settings as django_settings

from api.testing import keyed_api
from authoring.demo import demo_world_load
from dispatch_site.tests.redis_users import compose_service_rules, redis_user, with_credentials
from policies.snapshot import current_snapshot, snapshot_forget
from policies.snapshot.stamp import stamp_token

pytestmark = pytest.mark.django_db(transaction=True)
EU = {"subject": "mathematics", "grade_band": "elementary", "region": "eu_west"}


@pytest.fixture
def service_user(require_redis):
    """A user with docker-compose's rules on its own key prefix; its keys are deleted afterwards."""
    prefix = f"acl{uuid.uuid4().hex[:10]}"
    admin = redis.Redis.from_url(django_settings.REDIS_URL)
    with redis_user(django_settings.REDIS_URL, keys=f"{prefix}:*", rules=compose_service_rules()) as user:
        yield user, prefix, admin
    keys = list(admin.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        admin.delete(*keys)


def serve_through(settings, url: str, prefix: str) -> None:
    """The app's settings for REDIS_URL=`url` (as dispatch_site.settings builds them)."""
    settings.REDIS_URL = url
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": url, "KEY_PREFIX": prefix}}
    settings.SNAPSHOT_STAMP_IN_REDIS = settings.SNAPSHOT_SHARE_BUILDS = True
    settings.SNAPSHOT_DB_CHECK_INTERVAL = 60


def redis_warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING and "unavailable" in r.getMessage().lower()]


def test_the_service_works_through_a_password_protected_acl_user(service_user, settings, caplog):
    user, prefix, admin = service_user
    serve_through(settings, user.url, prefix)
    with caplog.at_level(logging.INFO):
        demo_world_load()  # the commit shares the new rows and publishes the stamp, as this user
        api, _, _ = keyed_api("dispatch", "read", rate="4/min")
        dispatched = api.post("/dispatch", EU, format="json")
        refused = api.post("/dispatch", {**EU, "region": "mars"}, format="json")  # counted, no provider reserved
        statuses = [api.get("/providers?region=eu_west").status_code for _ in range(3)]
        ready = api.get("/readyz").json()
        snapshot_forget()  # another worker: loads the rows this user shared
        current_snapshot()
    assert dispatched.status_code == 200 and dispatched.json()["provider_slug"] == "local-eu-provider"
    assert refused.status_code == 400
    assert statuses == [200, 200, 429]  # 4/min counted in Redis
    assert ready["checks"] == {"database": "ok", "redis": "ok"}
    assert redis_warnings(caplog) == []
    assert any("policies from redis" in r.getMessage() for r in caplog.records)
    token = stamp_token()
    keys = {k.decode() for k in admin.scan_iter(match=f"{prefix}:*", count=1000)}
    assert f"{prefix}:1:snapshot-stamp" in keys and f"{prefix}:1:snapshot-rows:{token.key}" in keys
    assert any(k.startswith(f"{prefix}:rl") for k in keys), keys  # the rate-limit scripts' counters
    assert int(admin.get(f"{prefix}:1:snapshot-stamp")) == token.version


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("failure", ["wrong password", "Redis down"])
def test_a_wrong_password_degrades_exactly_as_redis_down(service_user, settings, caplog, failure):
    user, prefix, _ = service_user
    if failure == "wrong password":
        url = with_credentials(django_settings.REDIS_URL, user.name, "not-the-password")
    else:
        url = f"redis://127.0.0.1:{closed_port()}/0"
    serve_through(settings, url, prefix)
    with caplog.at_level(logging.WARNING):
        demo_world_load()  # a commit while Redis refuses us: nothing shared, nothing raised
        api, _, _ = keyed_api("dispatch", "read", rate="3/min")
        dispatched = api.post("/dispatch", EU, format="json")
        statuses = [api.get("/providers?region=eu_west").status_code for _ in range(3)]
        ready = api.get("/readyz")
    outcome = {
        "dispatch": (dispatched.status_code, dispatched.json().get("provider_slug")),
        "providers": statuses,  # the client's 3/min, counted in this process
        "readyz": (ready.status_code, ready.json()["checks"]),
        "warned": sorted({r.name for r in redis_warnings(caplog)}),
    }
    assert outcome == {
        "dispatch": (200, "local-eu-provider"),
        "providers": [200, 200, 429],
        "readyz": (200, {"database": "ok", "redis": "degraded"}),
        "warned": ["dispatch.health", "dispatch.ratelimit", "dispatch.snapshot"],
    }
