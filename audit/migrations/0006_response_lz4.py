"""The stored response of an audit row is compressed with lz4 instead of pglz.

An accepted dispatch's row (its ~2-3 kB response with the explanation) is over PostgreSQL's 2 kB
TOAST threshold, so the server compresses the response on every such INSERT; lz4 does it for less
CPU than the default pglz, and reads it back faster (replays, the admin). Measured with
bench/insert_cost.py (pgbench, 4 clients, alternating rounds): 7,901 vs 7,571 and 8,166 vs 7,520
accepted-row INSERTs a second in two runs (docs/performance.md). Only rows written from now on use it; stored rows keep
pglz and read as before. A server built without lz4 keeps pglz (the column's setting is checked in
`audit/tests/test_storage.py`)."""

from django.db import migrations


def _lz4_available(cursor) -> bool:
    cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
    row = cursor.fetchone()
    return bool(row and row[0])


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if _lz4_available(cursor):
            cursor.execute("ALTER TABLE dispatch_logs ALTER COLUMN response SET COMPRESSION lz4")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("ALTER TABLE dispatch_logs ALTER COLUMN response SET COMPRESSION DEFAULT")


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_client_spend")]

    operations = [migrations.RunPython(forwards, backwards)]
