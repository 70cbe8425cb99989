"""Tamper evidence: verify_audit_log passes on an honest log and names the first bad row otherwise."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from audit.integrity import Problem, VerifyReport, audit_log_verify, checkpoint_seal
from audit.models import AuditCheckpoint, DispatchLog
from audit.roles import owner_alias
from audit.services import row_digest
from audit.tests.factories import log_make, tamper

# Committed rows: sealing runs as the owner role, on its own connection (with two roles).
pytestmark = pytest.mark.django_db(transaction=True)


def first(report: VerifyReport) -> Problem:
    problem = report.first_problem
    assert problem is not None, "expected a problem"
    return problem


@pytest.fixture
def honest_log(providers, settled):
    logs = [log_make(provider=providers["alpha"], policy=providers["policy"]) for _ in range(7)]
    logs += [log_make(region="eu_west") for _ in range(3)]
    return logs


def test_digest_of_a_row_read_back_equals_the_digest_written(honest_log):
    for log in honest_log:
        stored = DispatchLog.objects.get(pk=log.pk)
        assert stored.digest == log.digest == row_digest(stored)


def test_honest_log_verifies_and_is_sealed_into_chained_checkpoints(honest_log, capsys):
    report = audit_log_verify()
    assert report.ok and report.rows == 10 and report.unsealed_rows == 10
    sealed = checkpoint_seal()
    assert [cp.row_count for cp in sealed] == [4, 4, 2]
    assert sealed[1].prev_signature == sealed[0].signature
    call_command("verify_audit_log")
    out = capsys.readouterr().out
    assert "audit log OK: 10 rows verified, 3 checkpoints" in out
    assert audit_log_verify().unsealed_rows == 0


def test_row_edited_with_raw_sql_is_named(honest_log):
    checkpoint_seal()
    victim = honest_log[5]
    tamper("UPDATE dispatch_logs SET region = %s WHERE id = %s", ["eu_west", victim.pk])
    tamper("UPDATE dispatch_logs SET decision_us = 1 WHERE id = %s", [honest_log[8].pk])
    report = audit_log_verify()
    assert report.first_problem is not None
    assert first(report).row_id == victim.pk
    assert f"row id={victim.pk}" in first(report).message and "altered" in first(report).message
    with pytest.raises(CommandError, match=f"first bad row: row id={victim.pk} "):
        call_command("verify_audit_log")


def test_unsealed_row_edited_is_named_too(honest_log):
    victim = honest_log[2]
    tamper("UPDATE dispatch_logs SET response = %s WHERE id = %s", ['{"forged": true}', victim.pk])
    assert first(audit_log_verify()).row_id == victim.pk
    sealed = checkpoint_seal()
    assert sum(cp.row_count for cp in sealed) == 2  # sealing stops before the bad row


def test_sealed_row_deleted_with_raw_sql_is_named(honest_log):
    checkpoint_seal()
    victim = honest_log[6]
    tamper("DELETE FROM dispatch_logs WHERE id = %s", [victim.pk])
    tamper("DELETE FROM dispatch_logs WHERE id = %s", [honest_log[9].pk])
    report = audit_log_verify()
    assert first(report).row_id == victim.pk
    assert "deleted" in first(report).message
    with pytest.raises(CommandError, match=f"row id={victim.pk} was deleted"):
        call_command("verify_audit_log", "--no-seal")


def test_row_inserted_into_a_sealed_range_is_named(honest_log, providers):
    checkpoint_seal()
    gap_id = honest_log[3].pk
    tamper("DELETE FROM dispatch_logs WHERE id = %s", [gap_id])
    forged = log_make(provider=providers["beta"], policy=providers["policy"])
    tamper("UPDATE dispatch_logs SET id = %s WHERE id = %s", [gap_id, forged.pk])
    problems = audit_log_verify().problems
    assert problems and problems[0].row_id == gap_id
    assert f"row id={gap_id} was replaced" in problems[0].message


def test_altered_checkpoint_is_detected(honest_log):
    checkpoint_seal()
    AuditCheckpoint.objects.using(owner_alias()).filter(seq=2).update(row_count=3)  # the service may not
    report = audit_log_verify()
    assert not report.ok and "checkpoint #2 was altered" in first(report).message
