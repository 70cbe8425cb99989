"""A replay serves a stored decision only while its audit row still matches its digest.

The attack: with the database's owner (or a superuser) credentials, edit the stored response of a
decision (endpoint moved to another host), then retry the request with the same request_id and
body. The edited body must never be served: 500 `audit_row_tampered`, logged and counted.
"""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from django.db import DatabaseError, connection
from rest_framework.test import APIClient

from audit.models import DispatchLog
from audit.roles import two_roles
from audit.tests.factories import tamper
from authoring.demo import demo_world_load

pytestmark = pytest.mark.django_db(transaction=True)  # the owner edits committed rows, on its own connection
BASIC = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}
FORGED_ENDPOINT = "https://collector.attacker.example/v1/chat/completions"


@pytest.fixture
def api(keyed_api):
    demo_world_load()
    return keyed_api


def dispatch(api, request_id):
    return api.post(f"/dispatch?request_id={request_id}", BASIC, format="json")


def tampered_count() -> float:
    lines = APIClient().get("/metrics").content.decode().splitlines()
    return next((float(line.split()[-1]) for line in lines if line.startswith("audit_rows_tampered_total")), 0.0)


def test_a_replay_of_an_edited_row_is_refused_logged_and_counted(api, caplog):
    rid = uuid.uuid4()
    first = dispatch(api, rid)
    assert first.status_code == 200 and first.json()["endpoint_url"] != FORGED_ENDPOINT
    row = DispatchLog.objects.get(request_id=rid)
    forged = json.dumps({**first.json(), "endpoint_url": FORGED_ENDPOINT}, separators=(",", ":"))
    if two_roles():  # the service role itself cannot make the edit
        with pytest.raises(DatabaseError, match="permission denied"), connection.cursor() as cursor:
            cursor.execute("UPDATE dispatch_logs SET response = %s WHERE id = %s", [forged, row.pk])
    tamper("UPDATE dispatch_logs SET response = %s WHERE id = %s", [forged, row.pk])
    before = tampered_count()

    with caplog.at_level(logging.ERROR, logger="audit.integrity"):
        retry = dispatch(api, rid)

    assert retry.status_code == 500
    assert retry["Content-Type"] == "application/json"
    body = retry.json()
    assert body["error"]["code"] == "audit_row_tampered" and body["request_id"] == str(rid)
    assert "attacker" not in retry.content.decode() and "Traceback" not in retry.content.decode()
    assert "Idempotent-Replayed" not in retry
    logged = [r for r in caplog.records if r.name == "audit.integrity"]
    assert [r.levelno for r in logged] == [logging.ERROR]
    message = logged[0].getMessage()
    assert str(rid) in message and f"row id={row.pk}" in message and "attacker" not in message
    assert tampered_count() == before + 1
    assert DispatchLog.objects.filter(request_id=rid).count() == 1  # nothing written either


def test_an_edit_of_any_signed_column_is_refused_too(api):
    """Not only the response: a row pointed at another provider is just as unservable."""
    rid = uuid.uuid4()
    assert dispatch(api, rid).status_code == 200
    tamper("UPDATE dispatch_logs SET status_code = 422 WHERE id = %s", [DispatchLog.objects.get(request_id=rid).pk])
    assert dispatch(api, rid).json()["error"]["code"] == "audit_row_tampered"


def test_an_honest_row_still_replays_byte_for_byte(api):
    rid = uuid.uuid4()
    first, second = dispatch(api, rid), dispatch(api, rid)
    assert second.status_code == 200 and second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
