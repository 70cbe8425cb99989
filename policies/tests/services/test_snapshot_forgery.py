"""Redis is a cache, never a source of truth (issue 12, finding 1), on PostgreSQL + Redis.

An attacker with GET/SET/SCAN on Redis rewrites the snapshot rows a worker shared (eu_west opened
to every provider, its blocked list emptied) and forges the stamp mirror; every worker still
serves PostgreSQL's world, at PostgreSQL's version, the rejection is counted in /metrics and
logged once. The two-worker version of this attack: test_redis_forgery_across_workers.py.
"""

from __future__ import annotations

import logging
import time

import pytest
from django.core.cache import cache
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from authoring.demo import demo_world_load
from policies.engine import DispatchContext, resolve, why_not
from policies.models import RegionalRouting
from policies.snapshot import current_snapshot, snapshot_build, snapshot_forget
from policies.snapshot.cache import _state
from policies.snapshot.share import SHARE_RETRY_SECONDS, rows_key_name
from policies.snapshot.stamp import STAMP_KEY, stamp_token, stamp_version
from policies.tests.forgery import attacker, forge_rows, forge_stamp
from providers.models import ModelProvider

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
EU_MATH = DispatchContext("mathematics", "elementary", "eu_west")
# A process's own work between two version checks (a Redis SET and GET; on a busy machine a
# scheduling delay): what a "within SNAPSHOT_DB_CHECK_INTERVAL" deadline allows beyond the setting.
CHECK_MARGIN = 1.0
REJECTED = "dispatch_snapshot_share_rejected_total"
CORRECTED = "dispatch_snapshot_stamp_corrected_total"


@pytest.fixture
def shared(settings, require_postgres, require_redis):
    """The demo world, the stamp mirrored in Redis and snapshots shared there; the attacker's client."""
    settings.SNAPSHOT_STAMP_IN_REDIS = True
    settings.SNAPSHOT_SHARE_BUILDS = True
    settings.SNAPSHOT_DB_CHECK_INTERVAL = 60  # between PostgreSQL checks the mirror is all a worker reads
    cache.delete(STAMP_KEY)
    demo_world_load()
    client = attacker(settings.REDIS_URL)
    yield client
    cache.delete(STAMP_KEY)


STAMP = cache.make_key(STAMP_KEY)
PREFIX = cache.key_prefix  # the attack is aimed at this process's keys (the other xdist workers share Redis)


def metric(name: str) -> float:
    """A counter's value as GET /metrics serves it."""
    text = Client().get("/metrics").content.decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise AssertionError(f"{name} is not in /metrics")


def assert_follows_postgresql(snapshot) -> None:
    fresh = snapshot_build()
    assert snapshot.version == fresh.version == stamp_version()
    assert snapshot.rules == fresh.rules and snapshot.providers == fresh.providers
    assert snapshot.policies == fresh.policies
    us_only = ModelProvider.objects.get(slug="us-only-provider")
    assert why_not(snapshot, str(us_only.pk), "eu_west") is not None  # still blocked in eu_west
    provider = resolve(EU_MATH, snapshot).provider
    assert provider is not None and provider.slug == "local-eu-provider"


@pytest.mark.parametrize("how", ["keep-prefix", "plain", "garbage"])
def test_forged_rows_and_a_forged_stamp_never_change_what_a_worker_serves(shared, how, caplog):
    running = current_snapshot()  # built from PostgreSQL and shared
    token = stamp_token()
    before, corrected = metric(REJECTED), metric(CORRECTED)
    assert rows_key_name(token.key).encode() in forge_rows(shared, token.key, prefix=PREFIX, region="eu_west", how=how)
    assert STAMP.encode() in forge_stamp(shared, token.version + 1, prefix=PREFIX)

    # A running worker: the mirror says "moved", PostgreSQL says not; it keeps its snapshot.
    for _ in range(3):
        snapshot = current_snapshot()
        assert_follows_postgresql(snapshot)
        assert snapshot is running  # not even reloaded
    assert int(shared.get(STAMP)) == token.version  # the mirror was corrected, and that counted
    assert metric(CORRECTED) == corrected + 1

    # A new worker (gunicorn recycled one): it finds the forged rows and must refuse them.
    with caplog.at_level(logging.ERROR, logger="dispatch.snapshot"):
        snapshot_forget()
        assert_follows_postgresql(current_snapshot())
        assert metric(REJECTED) == before + 1
        forge_rows(shared, token.key, prefix=PREFIX, region="eu_west", how=how)  # the good rows re-shared: forged again
        snapshot_forget()
        assert_follows_postgresql(current_snapshot())
    assert metric(REJECTED) == before + 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "dispatch.snapshot"]
    assert len(errors) == 1, [r.getMessage() for r in errors]  # once per key, not per load
    assert token.key in errors[0].getMessage() and "rejected" in errors[0].getMessage()


def test_genuine_rows_of_an_older_version_replayed_under_the_current_key_are_rejected(shared, caplog):
    current_snapshot()
    old = stamp_token()
    old_value = shared.get(rows_key_name(old.key))
    assert old_value is not None
    eu_west = RegionalRouting.objects.get(region="eu_west")
    eu_west.allowed_providers.add(ModelProvider.objects.get(slug="google-gemini"))  # committed: a new version
    new = stamp_token()
    assert new.version > old.version
    shared.set(rows_key_name(new.key), old_value)  # the old world, signed, under the new key
    before = metric(REJECTED)
    snapshot_forget()
    with caplog.at_level(logging.ERROR, logger="dispatch.snapshot"):
        snapshot = current_snapshot()
    assert snapshot.version == new.version
    assert snapshot.rules == snapshot_build().rules  # gemini allowed, as PostgreSQL now says
    assert metric(REJECTED) == before + 1
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1


def test_the_version_of_a_snapshot_comes_from_postgresql_never_from_the_mirror(shared, settings):
    settings.SNAPSHOT_SHARE_BUILDS = False  # built here: only the stamp passes through Redis
    current_snapshot()
    version = stamp_version()
    forge_stamp(shared, version + 1000, prefix=PREFIX)
    snapshot_forget()
    snapshot = current_snapshot()
    assert snapshot.version == version
    assert_follows_postgresql(snapshot)
    forge_stamp(shared, version + 1000, prefix=PREFIX)  # forged again and again: no reload, ever
    for _ in range(3):
        assert current_snapshot() is snapshot


def test_a_mirror_held_at_an_old_version_delays_a_change_by_at_most_the_db_check_interval(shared, settings):
    settings.SNAPSHOT_DB_CHECK_INTERVAL = interval = 0.3
    running = current_snapshot()
    old = running.version
    gemini = ModelProvider.objects.get(slug="google-gemini")
    RegionalRouting.objects.get(region="eu_west").blocked_providers.add(gemini)  # committed and published
    assert stamp_version() > old
    deadline = time.monotonic() + interval + CHECK_MARGIN
    while current_snapshot().version == old:
        forge_stamp(shared, old, prefix=PREFIX)  # held back before every check
        assert time.monotonic() < deadline, (
            f"the periodic PostgreSQL check did not correct the mirror within SNAPSHOT_DB_CHECK_INTERVAL"
            f" ({interval} s) + {CHECK_MARGIN} s margin"
        )
    assert_follows_postgresql(current_snapshot())


def test_a_claim_held_in_redis_delays_a_change_by_at_most_the_db_check_interval(shared, settings):
    """The attacker empties the new version's rows (SET ... PX 1) and holds its build claim: a
    worker serves its previous snapshot while "another worker builds", but not for long."""
    settings.SNAPSHOT_DB_CHECK_INTERVAL = interval = 0.3
    running, old = current_snapshot(), stamp_token()
    gemini = ModelProvider.objects.get(slug="google-gemini")
    RegionalRouting.objects.get(region="eu_west").blocked_providers.add(gemini)  # committed, shared, published
    new = stamp_token()
    rows = rows_key_name(new.key)
    shared.set(rows, b"-", px=1)  # gone in a millisecond
    shared.set(rows.replace("snapshot-rows:", "snapshot-claim:"), b"1")  # "being built", forever
    _state.update(snapshot=running, token=old)  # this worker still holds the previous version
    deadline = time.monotonic() + interval + CHECK_MARGIN
    while current_snapshot().version != new.version:
        assert time.monotonic() < deadline, (
            f"a claim held in Redis kept the worker on the old world past SNAPSHOT_DB_CHECK_INTERVAL"
            f" ({interval} s) + {CHECK_MARGIN} s margin"
        )
        time.sleep(SHARE_RETRY_SECONDS)
    assert_follows_postgresql(current_snapshot())
