"""How PostgreSQL stores an audit row: an accepted row's response (over the 2 kB TOAST threshold)
is compressed with lz4 (audit/migrations/0006_response_lz4.py), and reads back byte for byte."""

from __future__ import annotations

import pytest
from django.db import connection

from audit.models import DispatchLog
from policies.engine import DispatchContext
from policies.services import dispatch
from policies.tests.factories import make_policy, make_provider, make_rule

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _lz4_available() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        return bool(cursor.fetchone()[0])


def test_the_response_column_is_compressed_with_lz4(require_postgres):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attcompression FROM pg_attribute"
            " WHERE attrelid = 'dispatch_logs'::regclass AND attname = 'response'"
        )
        setting = cursor.fetchone()[0]
    assert setting == ("l" if _lz4_available() else "")  # "" is the server's default (pglz)


def test_a_long_accepted_response_is_stored_lz4_and_read_back_as_written(require_postgres):
    inactive = [make_provider(f"inactive-{n:02d}", active=False) for n in range(12)]
    make_rule("us_east", frameworks=("FERPA",))
    # each inactive provider before the one that serves is explained in the body: over 2 kB in all
    make_policy("Math", *inactive, make_provider("alpha"), subject="mathematics")
    result = dispatch(context=DispatchContext("mathematics", "elementary", "us_east"), fingerprint="fp")
    assert result.status == 200 and len(result.body_json) > 2500
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_column_compression(response) FROM dispatch_logs WHERE id = %s", [result.log_id])
        method = cursor.fetchone()[0]
    assert method == ("lz4" if _lz4_available() else "pglz")
    assert DispatchLog.objects.get(pk=result.log_id).response == result.body_json
