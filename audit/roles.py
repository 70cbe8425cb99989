"""The two PostgreSQL roles: the owner's (migrate, purge, sealing) and the service's (everything else).

With DATABASE_OWNER_URL set (settings.py), the "owner" alias connects as the role that owns the
tables, and DATABASE_URL's role is the service's. What must stay true:
- The service role may SELECT and INSERT `dispatch_logs` (every column but `id`: ids come from
  the database) and `dispatch_outcomes`; only SELECT `audit_checkpoints`, `audit_purges` and
  `django_migrations`; SELECT, INSERT, UPDATE and DELETE every other table; USAGE and SELECT on
  sequences. It never holds UPDATE, DELETE or TRUNCATE on an audit table, owns nothing and is
  not a superuser (`service_role_grant` refuses to run otherwise). Sealing checkpoints and the
  purge therefore run as the owner (`owner_alias`).
- `service_role_grant` runs after every `migrate` on the owner alias (post_migrate, audit/apps.py)
  and is idempotent: every privilege on the owner's tables is revoked and granted again in one
  transaction, so a privilege granted by hand does not survive the next migrate, and the service
  never sees a half-applied set.
- Without DATABASE_OWNER_URL there is one role (SQLite, `make run`) and nothing here acts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, transaction

OWNER_ALIAS = "owner"

# Tables the service may not change freely: their privileges (all others: DML_PRIVILEGES).
SERVICE_TABLE_PRIVILEGES = {
    "dispatch_logs": "SELECT",  # + INSERT on every column but id (service_role_grant)
    "dispatch_outcomes": "SELECT, INSERT",
    "audit_checkpoints": "SELECT",
    "audit_purges": "SELECT",
    "django_migrations": "SELECT",
}
DML_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
SEQUENCE_PRIVILEGES = "USAGE, SELECT"


def two_roles() -> bool:
    return OWNER_ALIAS in settings.DATABASES


def owner_alias() -> str:
    """The alias that may seal, purge and migrate: the owner's when configured, else the one role's."""
    return OWNER_ALIAS if two_roles() else DEFAULT_DB_ALIAS


def service_role() -> str:
    return str(settings.DATABASES[DEFAULT_DB_ALIAS]["USER"])


_migrating: ContextVar[str | None] = ContextVar("audit_roles_migrating", default=None)


class MigrationRouter:
    """While `migrate` runs on the owner alias, the ORM of data migrations (which uses the default
    alias unless told otherwise) goes to that connection too; otherwise it routes nothing."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return _migrating.get()

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return _migrating.get()


@contextlib.contextmanager
def migrating_on(alias: str) -> Iterator[None]:
    token = _migrating.set(alias if alias != DEFAULT_DB_ALIAS else None)
    try:
        yield
    finally:
        _migrating.reset(token)


class RoleSetupError(ImproperlyConfigured):
    """The roles cannot give the guarantees: the service is a superuser, owns tables, or is missing."""


def _role_checks(cursor: Any, service: str) -> None:
    cursor.execute(
        "SELECT rolsuper, pg_has_role(rolname, current_user, 'MEMBER'), "
        "CASE WHEN to_regrole('pg_write_all_data') IS NULL THEN false "
        "ELSE pg_has_role(rolname, 'pg_write_all_data', 'MEMBER') END "
        "FROM pg_roles WHERE rolname = %s",
        [service],
    )
    row = cursor.fetchone()
    if row is None:
        raise RoleSetupError(f"the service role {service!r} (DATABASE_URL's user) does not exist: create it first")
    if row[0]:
        raise RoleSetupError(f"the service role {service!r} is a superuser: no privilege binds it; use a plain role")
    if row[1] or row[2]:
        raise RoleSetupError(
            f"the service role {service!r} is a member of the owner role or of pg_write_all_data: "
            "it would inherit the right to change audit rows"
        )
    cursor.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND pg_get_userbyid(c.relowner) = %s ORDER BY 1",
        [service],
    )
    owned = [name for (name,) in cursor.fetchall()]
    if owned:
        raise RoleSetupError(
            f"the service role {service!r} owns {', '.join(owned[:5])}: an owner may do anything to its tables; "
            f"as a superuser run REASSIGN OWNED BY {service} TO <owner role>, then migrate again"
        )


def service_role_grant(*, using: str = OWNER_ALIAS) -> int:
    """Give the service role exactly its privileges on the tables `using`'s role owns; the table count."""
    connection = connections[using]
    service = service_role()
    quote = connection.ops.quote_name
    with transaction.atomic(using=using), connection.cursor() as cursor:
        _role_checks(cursor, service)
        cursor.execute(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND pg_get_userbyid(c.relowner) = current_user "
            "AND c.relkind IN ('r', 'p', 'v', 'm', 'S') ORDER BY 1"
        )
        relations = cursor.fetchall()
        cursor.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass('dispatch_logs') "
            "AND attnum > 0 AND NOT attisdropped AND attname <> 'id' ORDER BY attnum"
        )
        log_columns = ", ".join(quote(name) for (name,) in cursor.fetchall())
        grantee = quote(service)
        statements = []
        for name, kind in relations:
            target = f"SEQUENCE {quote(name)}" if kind == "S" else f"TABLE {quote(name)}"
            privileges = SEQUENCE_PRIVILEGES if kind == "S" else SERVICE_TABLE_PRIVILEGES.get(name, DML_PRIVILEGES)
            statements.append(f"REVOKE ALL ON {target} FROM {grantee}")
            statements.append(f"GRANT {privileges} ON {target} TO {grantee}")
            if name == "dispatch_logs" and log_columns:
                statements.append(f"GRANT INSERT ({log_columns}) ON TABLE {quote(name)} TO {grantee}")
        if statements:
            cursor.execute(";\n".join(statements))  # one round trip; no parameters
    return sum(1 for _, kind in relations if kind != "S")
