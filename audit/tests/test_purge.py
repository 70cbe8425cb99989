"""purge_dispatch_logs: deletes old sealed rows in batches, keeps rollups, is recorded, keeps verification valid."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from django.utils import timezone

from api.testing import keyed_api
from audit.integrity import Problem, VerifyReport, audit_log_verify
from audit.models import AuditCheckpoint, AuditPurge, DispatchLog, DispatchOutcome, ModelMetric
from audit.purge import dispatch_logs_purge
from audit.roles import owner_alias
from audit.services import OutcomeReport, outcome_report
from audit.tests.factories import log_make, tamper
from policies.services import request_fingerprint

pytestmark = pytest.mark.django_db(transaction=True)  # the purge runs its own transactions


def first(report: VerifyReport) -> Problem:
    problem = report.first_problem
    assert problem is not None, "expected a problem"
    return problem


@pytest.fixture
def aged_log(providers, settled):
    now = timezone.now()
    old = []
    for i in range(10):
        log = log_make(provider=providers["alpha"], policy=providers["policy"], created_at=now - dt.timedelta(days=50))
        report = OutcomeReport(success=True, latency_ms=100 + i)
        outcome_report(
            client_ref="", request_id=log.request_id, report=report, fingerprint=request_fingerprint(asdict(report))
        )
        old.append(log)
    recent = [log_make(created_at=now - dt.timedelta(days=2)) for _ in range(3)]
    return old, recent


def test_purge_deletes_old_rows_keeps_rollups_and_verification(aged_log, capsys):
    old, recent = aged_log
    before = keyed_api()[0].get("/analytics?days=365").json()
    call_command("purge_dispatch_logs", "--older-than", "30", "--batch-size", "3")
    assert "purged 8 rows" in capsys.readouterr().out  # whole checkpoints of 4 rows; the third mixes old and new
    remaining = set(DispatchLog.objects.values_list("id", flat=True))
    assert remaining == {old[8].pk, old[9].pk, *(log.pk for log in recent)}
    assert DispatchOutcome.objects.count() == 2
    purge = AuditPurge.objects.get()
    assert purge.rows_deleted == 8 and purge.finished_at is not None and purge.through_id == old[7].pk
    assert ModelMetric.objects.get().requests == 10  # rollups kept
    after = keyed_api()[0].get("/analytics?days=365").json()
    assert after == before
    assert audit_log_verify().ok
    call_command("verify_audit_log")


def test_deleting_a_row_the_purge_did_not_cover_is_still_detected(aged_log):
    _old, recent = aged_log
    call_command("purge_dispatch_logs", "--older-than", "30")
    tamper("DELETE FROM dispatch_logs WHERE id = %s", [recent[0].pk])
    report = audit_log_verify()
    assert first(report).row_id == recent[0].pk


def test_forged_purge_record_is_detected(aged_log):
    call_command("purge_dispatch_logs", "--older-than", "30")
    AuditPurge.objects.using(owner_alias()).update(through_id=10**9)  # as the owner: the service may not
    with pytest.raises(CommandError, match="purge record"):
        call_command("verify_audit_log", "--no-seal")


def test_purge_argument_is_validated():
    with pytest.raises(CommandError, match="at least 1"):
        call_command("purge_dispatch_logs", "--older-than", "0")


@pytest.mark.postgres
def test_the_service_role_cannot_take_the_purge_path(require_postgres, require_two_roles, aged_log):
    """The purge is the owner's: as the service role it is refused before anything is deleted or recorded."""
    before = set(DispatchLog.objects.values_list("id", flat=True))
    with pytest.raises(DatabaseError, match="permission denied for table audit_"):
        dispatch_logs_purge(older_than_days=30, using="default")
    assert set(DispatchLog.objects.values_list("id", flat=True)) == before
    assert not AuditPurge.objects.exists() and not AuditCheckpoint.objects.exists()
    purge = dispatch_logs_purge(older_than_days=30)  # the owner's path (DATABASE_OWNER_URL)
    assert purge.rows_deleted == 8 and DispatchLog.objects.count() == len(before) - 8
    assert audit_log_verify().ok
