"""The audit log is append-only through the ORM, the admin, and (on PostgreSQL) the database itself:
the service role's privileges (two roles, audit/roles.py) and the trigger, which even the owner meets."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from audit.integrity import checkpoint_seal, purge_signature
from audit.models import AppendOnlyError, AuditPurge, DispatchLog
from audit.roles import owner_alias, service_role
from audit.tests.factories import log_make

pytestmark = pytest.mark.django_db


def test_orm_refuses_to_update_or_delete_a_row(providers):
    log = log_make(provider=providers["alpha"], policy=providers["policy"])
    row = DispatchLog.objects.get(pk=log.pk)
    row.region = "eu_west"
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        row.delete()
    with pytest.raises(AppendOnlyError):
        DispatchLog.objects.filter(pk=log.pk).update(region="eu_west")
    with pytest.raises(AppendOnlyError):
        DispatchLog.objects.filter(pk=log.pk).delete()
    assert DispatchLog.objects.get(pk=log.pk).region == "us_east"


def test_the_service_that_writes_a_row_signs_it_and_the_model_refuses_an_unsigned_one(providers):
    from audit.services import dispatch_log_insert, row_digest

    fields = dict(
        created_at=log_make().created_at,
        fingerprint="a" * 64,
        subject="science",
        grade_band="high",
        region="us_west",
        outcome="refused",
        status_code=422,
        refusal_code="region_not_configured",
        response="{}",
    )
    row = DispatchLog(**fields)
    assert dispatch_log_insert(log=row)
    assert row.digest and DispatchLog.objects.get(pk=row.pk).digest == row_digest(row)
    with pytest.raises(AppendOnlyError):  # no logic in save(): it signs nothing, so it writes nothing unsigned
        DispatchLog.objects.create(**fields)


def _owner_sql(sql: str, params: list) -> None:
    """One statement as the role owning the tables (with one role, that role), in its own transaction."""
    alias = owner_alias()
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(sql, params)


def _purge_record(through_id: int) -> None:
    """A purge record as the owner writes one (signed) before deleting."""
    now = timezone.now()
    purge = AuditPurge(started_at=now, older_than_days=1, cutoff=now, through_id=through_id, signature="")
    purge.signature = purge_signature(purge)
    purge.save(force_insert=True, using=owner_alias())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # the owner's connection sees committed rows only
def test_postgres_trigger_rejects_update_and_delete_even_by_the_owner(require_postgres, providers):
    log = log_make(provider=providers["alpha"], policy=providers["policy"])
    for sql in ("UPDATE dispatch_logs SET region = 'eu_west' WHERE id = %s", "DELETE FROM dispatch_logs WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"):
            _owner_sql(sql, [log.pk])
    assert DispatchLog.objects.filter(pk=log.pk, region="us_east").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_purge_setting_no_longer_opens_the_trigger(require_postgres, providers):
    """`SET LOCAL audit.allow_purge = 'on'`, which any session may run, used to let a DELETE through."""
    log = log_make(provider=providers["alpha"], policy=providers["policy"])
    alias = owner_alias()
    with pytest.raises(DatabaseError, match="no purge record covers it"):  # noqa: SIM117
        with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
            cursor.execute("SET LOCAL audit.allow_purge = 'on'")
            cursor.execute("DELETE FROM dispatch_logs WHERE id = %s", [log.pk])
    assert DispatchLog.objects.filter(pk=log.pk).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_trigger_lets_a_delete_through_only_at_or_below_a_recorded_purge(require_postgres, providers):
    covered, above = log_make(), log_make()
    _purge_record(covered.pk)
    alias = owner_alias()
    with pytest.raises(DatabaseError, match="no purge record covers it"):  # noqa: SIM117
        with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
            # a temporary table of the same name does not stand in for the real record
            cursor.execute("CREATE TEMPORARY TABLE audit_purges (through_id bigint) ON COMMIT DROP")
            cursor.execute("INSERT INTO audit_purges VALUES (%s)", [10**12])
            cursor.execute("DELETE FROM dispatch_logs WHERE id = %s", [above.pk])
    _owner_sql("DELETE FROM dispatch_logs WHERE id = %s", [covered.pk])
    assert set(DispatchLog.objects.values_list("pk", flat=True)) == {above.pk}


# What the service role (DATABASE_URL's) is refused; each statement on the service's own connection.
SERVICE_REFUSED = [
    ("UPDATE dispatch_logs SET region = 'eu_west' WHERE id = {log}", "dispatch_logs"),
    ("UPDATE dispatch_logs SET response = '{{}}' WHERE id = {log}", "dispatch_logs"),
    ("DELETE FROM dispatch_logs WHERE id = {log}", "dispatch_logs"),
    ("TRUNCATE dispatch_logs CASCADE", "dispatch_logs"),
    ("SET LOCAL audit.allow_purge = 'on'; DELETE FROM dispatch_logs WHERE id = {log}", "dispatch_logs"),
    ("ALTER TABLE dispatch_logs DISABLE TRIGGER dispatch_logs_append_only", "must be owner of table dispatch_logs"),
    (
        "INSERT INTO dispatch_logs (id, request_id, client_ref, created_at, fingerprint, subject, grade_band, region, "
        "outcome, status_code, refusal_code, level, is_override, override_provider_ref, override_reason, teacher_id, "
        "snapshot_version, decision_us, response, digest) SELECT {log} + 100000, gen_random_uuid(), client_ref, "
        "created_at, fingerprint, subject, grade_band, region, outcome, status_code, refusal_code, level, is_override, "
        "override_provider_ref, override_reason, teacher_id, snapshot_version, decision_us, response, digest "
        "FROM dispatch_logs WHERE id = {log}",
        "dispatch_logs",  # ids come from the database: no row slipped into a gap of a sealed range
    ),
    ("UPDATE dispatch_outcomes SET latency_ms = 1", "dispatch_outcomes"),
    ("DELETE FROM dispatch_outcomes", "dispatch_outcomes"),
    ("TRUNCATE dispatch_outcomes", "dispatch_outcomes"),
    (
        "INSERT INTO audit_purges (started_at, older_than_days, cutoff, through_id, through_checkpoint, rows_deleted, "
        "requested_by, signature) VALUES (now(), 1, now(), 1000000000, 0, 0, '', '')",
        "audit_purges",  # a purge record is what lets the trigger pass a DELETE
    ),
    ("UPDATE audit_purges SET through_id = 1000000000", "audit_purges"),
    ("DELETE FROM audit_purges", "audit_purges"),
    (
        "INSERT INTO audit_checkpoints (seq, first_id, last_id, row_count, id_runs, chain, row_tags, max_created_at, "
        "created_at, prev_signature, signature) VALUES (999, 1, 1, 1, '[[1,1]]', '', '', now(), now(), '', '')",
        "audit_checkpoints",
    ),
    ("UPDATE audit_checkpoints SET row_count = 0", "audit_checkpoints"),
    ("DELETE FROM audit_checkpoints", "audit_checkpoints"),
    ("TRUNCATE audit_checkpoints", "audit_checkpoints"),
    ("DELETE FROM django_migrations", "django_migrations"),
]


@pytest.mark.postgres
def test_the_service_role_is_refused_every_change_to_the_audit_trail(require_postgres, require_two_roles, providers):
    log = log_make(provider=providers["alpha"], policy=providers["policy"])
    refused = []
    for sql, needle in SERVICE_REFUSED:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql.format(log=log.pk))
        except DatabaseError as exc:
            if needle in str(exc) and ("permission denied" in str(exc) or "must be owner" in str(exc)):
                refused.append(sql)
                continue
            raise
    assert refused == [sql for sql, _ in SERVICE_REFUSED]
    with pytest.raises(DatabaseError, match="permission denied for table audit_checkpoints"):
        checkpoint_seal(using="default")  # sealing: the owner's
    # what it may do: append (through the real insert) and read
    assert log_make().pk > log.pk and DispatchLog.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # migrate runs as the owner, on its own connection
def test_migrate_grants_the_service_role_exactly_its_privileges_again(require_postgres, require_two_roles, providers):
    """A privilege granted by hand does not survive the next migrate; the service keeps what it needs."""
    log = log_make(provider=providers["alpha"], policy=providers["policy"])
    _owner_sql(f"GRANT UPDATE, DELETE ON dispatch_logs TO {service_role()}", [])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE dispatch_logs SET decision_us = decision_us WHERE id = %s AND false", [log.pk])
    call_command("migrate", verbosity=0)
    with pytest.raises(DatabaseError, match="permission denied"), connection.cursor() as cursor:
        cursor.execute("UPDATE dispatch_logs SET decision_us = decision_us WHERE id = %s AND false", [log.pk])
    assert log_make().pk and DispatchLog.objects.count() == 2


def test_admin_offers_no_add_change_or_delete(admin_client, providers):
    log = log_make(provider=providers["alpha"], policy=providers["policy"])
    assert admin_client.get("/admin/audit/dispatchlog/add/").status_code == 403
    assert admin_client.get(f"/admin/audit/dispatchlog/{log.pk}/delete/").status_code == 403
    page = admin_client.get(f"/admin/audit/dispatchlog/{log.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    response = admin_client.post(f"/admin/audit/dispatchlog/{log.pk}/change/", {"region": "eu_west"})
    assert response.status_code == 403
    assert DispatchLog.objects.get(pk=log.pk).region == "us_east"
