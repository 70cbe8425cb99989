"""One snapshot per request, one stamp move per authoring transaction.

A snapshot is taken by reading the stamp (SNAPSHOT_CHECK_INTERVAL is 0 in tests, and the Redis
mirror is off here), so the statements reading `policy_snapshot_stamp` count the snapshots a
request took.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from policies.engine import DispatchContext
from policies.models import SnapshotStamp
from policies.services import dispatch
from policies.snapshot import current_snapshot
from policies.tests.factories import make_policy, make_provider, make_rule

pytestmark = pytest.mark.django_db
MATH = DispatchContext("mathematics", "elementary", "us_east")
STAMP_READ = re.compile(r'FROM "policy_snapshot_stamp"')


@pytest.fixture(autouse=True)
def stamp_in_postgresql_only(settings):
    settings.SNAPSHOT_STAMP_IN_REDIS = False


def stamp_reads(queries: CaptureQueriesContext) -> int:
    return sum(1 for q in queries.captured_queries if STAMP_READ.search(q["sql"]))


def test_a_replayed_dispatch_reads_one_snapshot():
    a = make_provider("alpha")
    make_rule("us_east", frameworks=("FERPA",))
    make_policy("Math", a, subject="mathematics")
    rid = uuid.uuid4()
    dispatch(context=MATH, request_id=rid, fingerprint="fp")
    with CaptureQueriesContext(connection) as queries:
        replayed = dispatch(context=MATH, request_id=rid, fingerprint="fp")
    assert replayed.replayed and replayed.status == 200
    assert stamp_reads(queries) == 1  # the decision's snapshot also judges the replay's compliance


@pytest.mark.django_db(transaction=True)
def test_changes_in_one_transaction_move_the_stamp_once_unless_the_world_was_read_between():
    provider = make_provider("alpha")
    before = SnapshotStamp.objects.get(pk=1).version
    with transaction.atomic():
        provider.name = "Alpha one"
        provider.save()
        provider.name = "Alpha two"
        provider.save()
    assert SnapshotStamp.objects.get(pk=1).version == before + 1
    with transaction.atomic():
        provider.name = "Alpha three"
        provider.save()
        first = current_snapshot()
        provider.name = "Alpha four"
        provider.save()
        second = current_snapshot()
    assert second.version == first.version + 1 == before + 3  # one version never names two worlds
    assert second.providers[str(provider.pk)].name == "Alpha four"
