"""The audit log is append-only through the ORM, the admin, and (on PostgreSQL) the database itself."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from audit.models import AppendOnlyError, DispatchLog
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


def test_orm_create_signs_the_row(providers):
    from audit.integrity import row_digest

    row = DispatchLog.objects.create(
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
    assert row.digest and DispatchLog.objects.get(pk=row.pk).digest == row_digest(row)


@pytest.mark.postgres
def test_postgres_trigger_rejects_update_and_delete(require_postgres, providers):
    log = log_make(provider=providers["alpha"], policy=providers["policy"])
    for sql in ("UPDATE dispatch_logs SET region = 'eu_west' WHERE id = %s", "DELETE FROM dispatch_logs WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [log.pk])
    assert DispatchLog.objects.filter(pk=log.pk, region="us_east").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # real transactions: SET LOCAL must end with its own
def test_postgres_trigger_lets_only_the_purge_flag_delete(require_postgres, providers):
    log = log_make(provider=providers["alpha"], policy=providers["policy"])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL audit.allow_purge = 'on'")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            cursor.execute("UPDATE dispatch_logs SET region = 'eu_west' WHERE id = %s", [log.pk])
        cursor.execute("DELETE FROM dispatch_logs WHERE id = %s", [log.pk])
    assert not DispatchLog.objects.filter(pk=log.pk).exists()
    log2 = log_make()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM dispatch_logs WHERE id = %s", [log2.pk])  # the flag was transaction-local


def test_admin_offers_no_add_change_or_delete(admin_client, providers):
    log = log_make(provider=providers["alpha"], policy=providers["policy"])
    assert admin_client.get("/admin/audit/dispatchlog/add/").status_code == 403
    assert admin_client.get(f"/admin/audit/dispatchlog/{log.pk}/delete/").status_code == 403
    page = admin_client.get(f"/admin/audit/dispatchlog/{log.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    response = admin_client.post(f"/admin/audit/dispatchlog/{log.pk}/change/", {"region": "eu_west"})
    assert response.status_code == 403
    assert DispatchLog.objects.get(pk=log.pk).region == "us_east"
