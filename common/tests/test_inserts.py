"""The one-statement insert (common.inserts) binds exactly what Django's own conversion gives, reads
back as written, and on PostgreSQL is a prepared statement after DB_PREPARE_THRESHOLD runs."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import DispatchLog, Outcome
from audit.services import dispatch_log_insert, row_digest
from common.inserts import _statement, insert_values
from policies.models import DispatchPolicy
from providers.models import ModelProvider

pytestmark = pytest.mark.django_db
CONFLICT = ("client_ref", "request_id")


def rows() -> list[DispatchLog]:
    """Rows of every shape a dispatch writes: accepted, refused, an override; ids as UUIDs or text."""
    from authoring.demo import demo_world_load

    demo_world_load()
    provider = ModelProvider.objects.first()
    policy = DispatchPolicy.objects.first()
    assert provider is not None and policy is not None
    common = {"fingerprint": "f" * 64, "subject": "mathematics", "grade_band": "elementary", "region": "us_east"}
    return [
        DispatchLog(
            request_id=uuid.uuid4(),
            client_ref="client-a",
            created_at=timezone.now(),
            outcome=Outcome.ACCEPTED,
            status_code=200,
            level="exact",
            policy_id=policy.pk,
            provider_id=provider.pk,
            snapshot_version=7,
            decision_us=123,
            response='{"ok":true,"name":"é \\u0000-free"}',
            **common,
        ),
        DispatchLog(
            request_id=uuid.uuid4(),
            created_at=timezone.now() - dt.timedelta(days=1),
            outcome=Outcome.REFUSED,
            status_code=422,
            refusal_code="no_compliant_provider",
            response="{}",
            **common,
        ),
        DispatchLog(
            request_id=str(uuid.uuid4()),  # text ids are converted as Django would
            client_ref="staff:admin",
            created_at=timezone.now(),
            outcome=Outcome.ACCEPTED,
            status_code=200,
            policy_id=str(policy.pk),
            provider_id=str(provider.pk),
            is_override=True,
            override_provider_ref="openai-gpt4",
            override_reason="why " * 100,
            teacher_id="T-1",
            decision_us=0,
            response="{}",
            **common,
        ),
    ]


def test_the_bound_values_are_djangos_own_conversion():
    for log in rows():
        log.digest = row_digest(log)
        statement = _statement(DispatchLog, CONFLICT, "id")
        expected = [f.get_db_prep_save(f.pre_save(log, add=True), connection) for f in statement.fields]
        got = insert_values(log, statement)
        assert [type(v) for v in got] == [type(v) for v in expected]
        assert got == expected


def test_rows_read_back_as_written_and_signed():
    for log in rows():
        assert dispatch_log_insert(log=log)
        stored = DispatchLog.objects.get(pk=log.pk)
        assert str(stored.request_id) == str(log.request_id)
        assert stored.response == log.response and stored.override_reason == log.override_reason
        assert stored.digest == log.digest == row_digest(stored)
        assert not dispatch_log_insert(log=log)  # the same (client_ref, request_id): nothing written


def test_the_statement_is_built_once():
    first = _statement(DispatchLog, CONFLICT, "id")
    assert _statement(DispatchLog, CONFLICT, "id") is first
    assert first.sql.startswith('INSERT INTO "dispatch_logs"') or first.sql.startswith("INSERT INTO")
    assert len(DispatchLog._meta.concrete_fields) == 22  # the audit row: 22 columns
    assert len(first.fields) == 21  # every one but the generated id


def test_on_postgresql_the_insert_is_prepared(require_postgres):
    threshold = connection.settings_dict["OPTIONS"]["prepare_threshold"]
    assert 0 <= threshold < 100
    logs = rows()
    for _ in range(threshold + 1):
        log = logs[1]
        log.pk, log.request_id = None, uuid.uuid4()
        assert dispatch_log_insert(log=log)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any(statement.startswith("INSERT INTO") and "dispatch_log" in statement for statement in prepared), prepared
