"""The trigger on dispatch_logs loses its settable escape hatch (`SET LOCAL audit.allow_purge`,
which any session could turn on): UPDATE is always rejected, and a DELETE only for rows at or
below the `through_id` of a recorded purge (`audit_purges`, which only the owner role may write,
each record signed). Who may DELETE at all is decided by privileges first (audit/roles.py: the
service role may not); this trigger keeps the owner, or anyone granted DELETE by mistake, from
deleting rows no purge covers. The purge's own table is read schema-qualified, so a temporary
table of the same name cannot shadow it."""

from django.db import migrations

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION dispatch_logs_append_only() RETURNS trigger AS $$
DECLARE
    purged_through bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        EXECUTE format('SELECT coalesce(max(through_id), 0) FROM %I.audit_purges', TG_TABLE_SCHEMA)
            INTO purged_through;
        IF OLD.id <= purged_through THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'dispatch_logs is append-only: DELETE of row id=% rejected (no purge record covers it)', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION 'dispatch_logs is append-only: % of row id=% rejected', TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

# 0003's function, for migrating backwards.
PREVIOUS_SQL = """
CREATE OR REPLACE FUNCTION dispatch_logs_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND coalesce(current_setting('audit.allow_purge', true), '') = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'dispatch_logs is append-only: % of row id=% rejected', TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def _run(schema_editor, sql):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(sql)  # no parameters: the body's % signs are PL/pgSQL's


def forwards(apps, schema_editor):
    _run(schema_editor, TRIGGER_SQL)


def backwards(apps, schema_editor):
    _run(schema_editor, PREVIOUS_SQL)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_append_only")]

    operations = [migrations.RunPython(forwards, backwards)]
