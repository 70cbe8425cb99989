"""Issue 12's must-show: a Redis forgery against two gunicorn workers on PostgreSQL + Redis.

The workers talk to Redis as a password-protected ACL user (docker-compose.yml's rules); the
attacker is another ACL user with only GET, SET and SCAN, using a plain redis client. Round after
round it rewrites the shared rows of the current stamp (eu_west opened to every provider, its
blocked list emptied) and bumps the stamp mirror, then asks both workers for a dispatch, two
overrides, /providers and /coverage in eu_west. Every answer must be PostgreSQL's, over more than
one SNAPSHOT_DB_CHECK_INTERVAL, while workers are recycled (GUNICORN_MAX_REQUESTS) so fresh ones
load the shared rows and must refuse the forged ones. On the code before issue 12 eu_west
dispatched anthropic-claude and accepted an override to us-only-provider.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from authoring.demo import (
    DEMO_CLIENT_KEY,
    DEMO_TEACHER_ID,
    demo_client_authorise,
    demo_client_ensure,
    demo_teacher_load,
    demo_world_load,
)
from dispatch_site.tests.redis_users import ATTACKER_RULES, compose_service_rules, redis_user
from dispatch_site.tests.servers import request as call
from dispatch_site.tests.servers import served_by, server_prefix
from policies.engine import DispatchContext, resolve
from policies.snapshot import snapshot_build
from policies.snapshot.stamp import stamp_token
from policies.tests.forgery import attacker, forge_rows, forge_stamp, rows_keys

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
DB_CHECK_INTERVAL = 1.0  # the servers' SNAPSHOT_DB_CHECK_INTERVAL
MAX_REQUESTS = 25  # a worker is recycled after this many requests: fresh workers load shared rows
JOBS = 5  # requests per round
MIN_ROUNDS = 2 * MAX_REQUESTS // JOBS + 2  # enough requests that both workers are recycled mid-attack
# The attack lasts more than two PostgreSQL checks (the setting under test) plus a margin, so a
# worker's periodic check falls inside it at least twice whatever the machine's speed.
ATTACK_SECONDS = 2 * DB_CHECK_INTERVAL + 0.5
# Rounds are paced to fill that time in MIN_ROUNDS rounds (a fast machine waits between them), so
# the count stays bounded: at most about 200 requests.
ROUND_SECONDS = ATTACK_SECONDS / MIN_ROUNDS
MAX_ROUNDS = 40
EU = {"subject": "mathematics", "grade_band": "elementary", "region": "eu_west"}
OVERRIDE = {
    **EU,
    "teacher_override": True,
    "override_reason": "The class needs this provider for a reading exercise",
    "teacher_id": DEMO_TEACHER_ID,
}


@pytest.fixture
def servers(request, monkeypatch, settings, require_redis):
    """`two_workers`, as an ACL user limited to their keys (the fixture's prefix is `w2-...`), with a
    short PostgreSQL check and recycled workers; and the attacker's plain client."""
    with (
        redis_user(settings.REDIS_URL, keys="w2-*", rules=compose_service_rules()) as service,
        redis_user(settings.REDIS_URL, keys="*", rules=ATTACKER_RULES) as thief,
    ):
        monkeypatch.setenv("SNAPSHOT_DB_CHECK_INTERVAL", str(DB_CHECK_INTERVAL))
        monkeypatch.setenv("GUNICORN_MAX_REQUESTS", str(MAX_REQUESTS))
        settings.REDIS_URL = service.url  # what two_workers hands gunicorn
        base, log_path = request.getfixturevalue("two_workers")
        yield base, log_path, attacker(thief.url)


def test_a_redis_forgery_never_changes_a_dispatch_an_override_providers_or_coverage(servers):
    base, log_path, thief = servers
    prefix = server_prefix(log_path)  # the attack is aimed at these servers' keys only
    demo_world_load()
    teacher = demo_teacher_load()
    demo_client_ensure()
    assert teacher is not None and demo_client_authorise(teacher=teacher)  # the demo client acts for them
    world, token = snapshot_build(), stamp_token()  # PostgreSQL's world, as this process reads it
    provider = resolve(DispatchContext(**EU), world).provider
    assert provider is not None and provider.slug == "local-eu-provider"

    # Before the attack: both workers serve PostgreSQL's world and have shared its rows.
    baseline: list[tuple[int, dict]] = []
    # Two workers at least: one may already be recycled (MAX_REQUESTS counts the readiness polls too).
    for _ in range(10):  # until both workers have answered (a batch may land on one)
        with ThreadPoolExecutor(max_workers=4) as pool:
            baseline += pool.map(lambda _: call(f"{base}/coverage?region=eu_west", DEMO_CLIENT_KEY), range(4))
        if len(served_by(log_path, "/coverage")) >= 2:
            break
    assert len(served_by(log_path, "/coverage")) >= 2, log_path.read_text()[-3000:]
    coverage = baseline[0][1]
    assert all(answer == (200, coverage) for answer in baseline)
    assert coverage["snapshot_version"] == token.version
    assert {cell["provider_slug"] for cell in coverage["cells"]} <= {"local-eu-provider", None}
    providers = call(f"{base}/providers?region=eu_west", DEMO_CLIENT_KEY)
    assert providers[0] == 200
    assert [p["slug"] for p in providers[1]["providers"]] == ["local-eu-provider"]
    assert rows_keys(thief, token.key, prefix=prefix)  # shared, as the ACL user

    jobs = [
        ("/dispatch", EU, lambda status, body: status == 200 and body["provider_slug"] == provider.slug),
        *(
            (
                "/dispatch",
                {**OVERRIDE, "override_provider_id": slug},
                lambda status, body: status == 422 and body["error"]["code"] == "override_provider_not_compliant",
            )
            for slug in ("us-only-provider", "anthropic-claude")
        ),
        ("/providers?region=eu_west", None, lambda status, body: (status, body) == providers),
        ("/coverage?region=eu_west", None, lambda status, body: (status, body) == (200, coverage)),
    ]
    assert len(jobs) == JOBS
    attack_from = len(log_path.read_text())
    started, rounds, wrong = time.monotonic(), 0, []
    while rounds < MIN_ROUNDS or time.monotonic() - started < ATTACK_SECONDS:
        assert rounds < MAX_ROUNDS, f"{rounds} rounds in {time.monotonic() - started:.1f} s: the pacing failed"
        round_started = time.monotonic()
        assert forge_rows(thief, token.key, prefix=prefix, region="eu_west")
        assert forge_stamp(thief, token.version + 1 + rounds, prefix=prefix)
        with ThreadPoolExecutor(max_workers=JOBS) as pool:
            answers = list(pool.map(lambda job: call(base + job[0], DEMO_CLIENT_KEY, job[1]), jobs))
        wrong += [
            (path, status, body)
            for (path, _, ok), (status, body) in zip(jobs, answers, strict=True)
            if not ok(status, body)
        ]
        rounds += 1
        time.sleep(max(0.0, ROUND_SECONDS - (time.monotonic() - round_started)))
    assert wrong == [], wrong[:3]
    assert time.monotonic() - started >= ATTACK_SECONDS, "the attack ended before two SNAPSHOT_DB_CHECK_INTERVALs"

    log = log_path.read_text()
    during = set(re.findall(r"served-by=<?(\d+)>? \d+ /", log[attack_from:]))
    assert len(during) >= 3, f"served by {during}: both workers and at least one recycled one"
    assert "Redis unavailable" not in log  # the servers really worked through Redis, as their ACL user
    assert "rows in Redis for stamp" in log and "rejected" in log  # a fresh worker refused the forged rows
