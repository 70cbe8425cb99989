"""Sign the rows written before digests existed, create the rollup watermark row, and on
PostgreSQL make dispatch_logs append-only with a trigger (DELETE allowed only to the retention
purge, which sets `SET LOCAL audit.allow_purge = 'on'` in its own transaction)."""

from django.db import migrations

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION dispatch_logs_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND coalesce(current_setting('audit.allow_purge', true), '') = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'dispatch_logs is append-only: % of row id=% rejected', TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS dispatch_logs_append_only ON dispatch_logs;
CREATE TRIGGER dispatch_logs_append_only BEFORE UPDATE OR DELETE ON dispatch_logs
    FOR EACH ROW EXECUTE FUNCTION dispatch_logs_append_only();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS dispatch_logs_append_only ON dispatch_logs;
DROP FUNCTION IF EXISTS dispatch_logs_append_only();
"""


def forwards(apps, schema_editor):
    from audit.services import DIGEST_FIELDS, row_digest_values

    connection = schema_editor.connection
    Log = apps.get_model("audit", "DispatchLog")
    unsigned = Log.objects.filter(digest="")
    rows = unsigned.values("id", *DIGEST_FIELDS).iterator(chunk_size=1000) if unsigned.exists() else iter(())
    for values in rows:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE dispatch_logs SET digest = %s WHERE id = %s", [row_digest_values(values), values["id"]]
            )
    apps.get_model("audit", "RollupWatermark").objects.get_or_create(id=1)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(TRIGGER_SQL)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_audit_trail")]

    operations = [migrations.RunPython(forwards, backwards)]
