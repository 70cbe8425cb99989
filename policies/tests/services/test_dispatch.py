"""dispatch(): one audit row per decision, refusals included; idempotent replays; staleness."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_redis import get_redis_connection

from audit.models import DispatchLog
from common.errors import IdempotencyConflict, ReplayNotCompliant
from policies.engine import DispatchContext, OverrideRequest
from policies.services import dispatch, request_fingerprint
from policies.snapshot import current_snapshot, snapshot_forget, snapshot_rows
from policies.snapshot.cache import _state
from policies.snapshot.share import SHARE_RETRY_SECONDS, share_claim, share_get, share_put
from policies.snapshot.stamp import STAMP_KEY, stamp_read, stamp_token, stamp_version
from policies.tests.factories import make_policy, make_provider, make_rule, make_template

pytestmark = pytest.mark.django_db
MATH = DispatchContext("mathematics", "elementary", "us_east")


@pytest.fixture
def world():
    a, b = make_provider("alpha"), make_provider("beta")
    rule = make_rule("us_east", frameworks=("FERPA",))
    tpl = make_template("math-basic")
    policy = make_policy("Math", a, b, templates=[tpl], subject="mathematics", allow_teacher_override=True)
    return {"a": a, "b": b, "rule": rule, "policy": policy, "tpl": tpl}


def run(context=MATH, override=None, request_id=None, fingerprint="fp"):
    return dispatch(context=context, override=override, request_id=request_id, fingerprint=fingerprint)


def test_accepted_decision_writes_one_row_with_the_response(world):
    result = run()
    assert result.status == 200
    assert result.body["provider_slug"] == "alpha"
    assert result.body["template_ids"] == [str(world["tpl"].id)]
    log = DispatchLog.objects.get()
    assert str(log.request_id) == result.request_id
    assert log.outcome == "accepted" and log.provider_id == world["a"].id and log.policy_id == world["policy"].id
    assert log.level == "subject"
    assert log.response == result.body_json


def test_refusal_is_logged_like_a_decision(world):
    world["rule"].blocked_providers.set([world["a"], world["b"]])
    result = run()
    assert result.status == 422
    assert result.body["error"]["code"] == "no_compliant_provider"
    assert "us_east" in result.body["error"]["message"]
    log = DispatchLog.objects.get()
    assert log.outcome == "refused" and log.refusal_code == "no_compliant_provider" and log.provider_id is None


def test_refused_override_is_logged_with_teacher_provider_reason_and_rule(world):
    override = OverrideRequest(provider_id="beta", justification="short", teacher_id="t-42")
    result = run(override=override)
    assert result.status == 422
    assert result.body["error"]["rule"] == "justification_too_short"
    log = DispatchLog.objects.get()
    assert (log.is_override, log.teacher_id, log.override_provider_ref, log.override_reason) == (
        True,
        "t-42",
        "beta",
        "short",
    )
    assert log.refusal_code == "justification_too_short"


def test_same_request_id_and_body_replays_without_a_second_row(world):
    rid = uuid.uuid4()
    first = run(request_id=rid)
    second = run(request_id=rid)
    assert second.replayed and not first.replayed
    assert second.body == first.body
    assert DispatchLog.objects.count() == 1


def test_same_request_id_with_another_body_is_a_conflict(world):
    rid = uuid.uuid4()
    run(request_id=rid, fingerprint=request_fingerprint({"a": 1}))
    with pytest.raises(IdempotencyConflict) as err:
        run(request_id=rid, fingerprint=request_fingerprint({"a": 2}))
    assert str(rid) in err.value.message
    assert DispatchLog.objects.count() == 1


def test_replay_of_a_provider_no_longer_compliant_is_409(world):
    rid = uuid.uuid4()
    assert run(request_id=rid).body["provider_slug"] == "alpha"
    world["rule"].blocked_providers.add(world["a"])
    with pytest.raises(ReplayNotCompliant) as err:
        run(request_id=rid)
    assert "blocked" in err.value.message
    assert DispatchLog.objects.count() == 1


def test_replay_after_the_region_lost_its_routing_rule_is_409_saying_so(world):
    rid = uuid.uuid4()
    assert run(request_id=rid).body["provider_slug"] == "alpha"
    world["rule"].delete()
    with pytest.raises(ReplayNotCompliant) as err:
        run(request_id=rid)
    assert err.value.extra["reason"] == "region_not_configured" and "us_east has no regional routing rule" in (
        err.value.message
    )
    assert DispatchLog.objects.count() == 1


def test_replay_of_an_unchanged_decision_is_served_from_its_row(world):
    rid = uuid.uuid4()
    first = run(request_id=rid)
    again = run(request_id=rid)
    assert again.replayed and again.body_json == first.body_json and again.log_id == first.log_id
    assert DispatchLog.objects.count() == 1


def test_authoring_change_is_seen_by_the_next_dispatch(world):
    assert run().body["provider_slug"] == "alpha"
    world["rule"].blocked_providers.add(world["a"])
    assert run().body["provider_slug"] == "beta"
    world["b"].is_active = False
    world["b"].save()
    assert run().status == 422


def test_warm_dispatch_runs_at_most_two_statements(world):
    run()  # warm the snapshot
    with CaptureQueriesContext(connection) as queries:
        run()
    statements = [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT", "ROLLBACK"))
    ]
    assert len(statements) <= 2, statements
    assert statements[-1].upper().startswith("INSERT INTO")
    assert DispatchLog.objects.count() == 2


def test_warm_dispatch_within_the_check_interval_runs_only_the_insert(world, settings):
    settings.SNAPSHOT_CHECK_INTERVAL = 60
    run()
    with CaptureQueriesContext(connection) as queries:
        run()
    statements = [
        q["sql"] for q in queries.captured_queries if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE"))
    ]
    assert len(statements) == 1 and statements[0].upper().startswith("INSERT INTO")


def test_snapshot_is_reused_while_the_stamp_is_unchanged(world):
    first = current_snapshot()
    assert current_snapshot() is first
    world["a"].save()
    assert current_snapshot() is not first


def _sql(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT", "ROLLBACK"))
    ]


@pytest.fixture
def redis_stamp(settings, require_redis):
    """The stamp mirrored in Redis (CI has Redis; on a laptop without REDIS_URL this skips)."""
    settings.SNAPSHOT_STAMP_IN_REDIS = True
    settings.SNAPSHOT_DB_CHECK_INTERVAL = 60
    cache.delete(STAMP_KEY)
    yield
    cache.delete(STAMP_KEY)


def test_warm_dispatch_with_the_stamp_in_redis_is_the_insert_alone_even_at_each_check(world, redis_stamp):
    run()  # warm: builds the snapshot, reads PostgreSQL once and mirrors the stamp
    for _ in range(3):  # SNAPSHOT_CHECK_INTERVAL is 0 in tests: every dispatch checks the stamp
        with CaptureQueriesContext(connection) as queries:
            run()
        statements = _sql(queries)
        assert len(statements) == 1 and statements[0].upper().startswith("INSERT INTO"), statements


def test_an_authoring_change_reaches_the_redis_mirror_on_commit(world, redis_stamp, django_capture_on_commit_callbacks):
    first = current_snapshot()
    with django_capture_on_commit_callbacks(execute=True):
        world["b"].save()
    assert current_snapshot() is not first
    assert int(get_redis_connection("default").get(cache.make_key(STAMP_KEY))) == stamp_version()


def test_a_mirror_that_disagrees_with_postgresql_is_corrected_at_the_backstop_check(world, redis_stamp, settings):
    snapshot = current_snapshot()
    get_redis_connection("default").set(cache.make_key(STAMP_KEY), snapshot.version + 1000)  # a bogus mirror
    settings.SNAPSHOT_DB_CHECK_INTERVAL = 0
    assert stamp_read()[0] == stamp_version()
    assert int(get_redis_connection("default").get(cache.make_key(STAMP_KEY))) == stamp_version()


@pytest.mark.django_db(transaction=True)
def test_a_version_built_by_one_worker_is_loaded_by_the_others_from_redis(world, redis_stamp, settings):
    """Committed state, two 'workers' in turn (this process, forgetting its snapshot in between)."""
    settings.SNAPSHOT_SHARE_BUILDS = True
    world["a"].save()  # a fresh version nobody has built
    built = current_snapshot()
    snapshot_forget()  # the second worker: no snapshot yet, same version
    with CaptureQueriesContext(connection) as queries:
        loaded = current_snapshot()
    assert not any("dispatch_policies" in sql for sql in _sql(queries)), _sql(queries)
    assert loaded is not built and loaded.version == built.version
    assert loaded.policies == built.policies and loaded.providers == built.providers and loaded.rules == built.rules


@pytest.mark.django_db(transaction=True)
def test_while_another_worker_builds_a_version_a_worker_serves_its_previous_snapshot(world, redis_stamp, settings):
    settings.SNAPSHOT_SHARE_BUILDS = True
    before = current_snapshot()
    world["b"].save()  # the committing process shares the new rows...
    version, key = stamp_token()
    client = get_redis_connection("default")
    client.delete(cache.make_key(f"snapshot-rows:{key}"), cache.make_key(f"snapshot-claim:{key}"))
    assert share_claim(key)  # ...pretend it did not: another worker claimed this version and is building it
    snapshot_forget()
    _state["snapshot"] = before  # this worker still holds the previous version
    assert current_snapshot() is before  # not blocked, not building a second time
    share_put(key, snapshot_rows())  # the other worker finished
    time.sleep(SHARE_RETRY_SECONDS)
    assert current_snapshot().version == version


@pytest.mark.django_db(transaction=True)
def test_the_committing_process_shares_the_new_rows_before_the_mirror_announces_them(world, redis_stamp, settings):
    settings.SNAPSHOT_SHARE_BUILDS = True
    world["a"].is_active = False
    world["a"].save()
    version, key = stamp_token()
    assert int(get_redis_connection("default").get(cache.make_key(STAMP_KEY))) == version
    assert share_get(key).rows == json.loads(json.dumps(snapshot_rows()))  # serving workers only load these
