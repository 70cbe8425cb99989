"""One-statement inserts that settle uniqueness themselves (PostgreSQL and SQLite 3.35+).

Every dispatch writes one audit row through here, so the statement is built once per model and
conflict key (not per row), a value whose database form is itself (a str for a text column, an int
for an integer column, a UUID for a uuid column on PostgreSQL...) skips Django's per-field
conversion, and on PostgreSQL the INSERT is sent with server-side binding as a prepared statement
(the connection's `prepare_threshold`, settings: DB_PREPARE_THRESHOLD): the server parses and
plans it once per connection, and psycopg does not quote 22 values into the SQL text each time.
`common/tests/test_inserts.py` checks the values equal Django's own conversion.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, models
from django.db.backends.base.operations import BaseDatabaseOperations

# Internal types whose database value is the Python value itself, for these exact types (Django's
# get_db_prep_save returns them unchanged: `to_python`/`int()`/`bool()` of such a value is itself).
_TEXT = frozenset({str, type(None)})
_INTEGER = frozenset({int, type(None)})
_PASS_THROUGH: dict[str, frozenset[type]] = {
    "CharField": _TEXT,
    "TextField": _TEXT,
    "BooleanField": frozenset({bool, type(None)}),
}
# Integers pass through only where the backend does not type them (psycopg 3 wraps them in Int2...).
_INTEGERS: dict[str, frozenset[type]] = {
    "IntegerField": _INTEGER,
    "SmallIntegerField": _INTEGER,
    "BigIntegerField": _INTEGER,
    "PositiveIntegerField": _INTEGER,
    "PositiveSmallIntegerField": _INTEGER,
    "PositiveBigIntegerField": _INTEGER,
}
_NATIVE_UUID = frozenset({uuid.UUID, type(None)})  # where the backend stores UUIDs natively


@dataclass(frozen=True, slots=True)
class _Statement:
    sql: str
    fields: tuple[models.Field[Any, Any], ...]
    attnames: tuple[str, ...]
    own_pre_save: tuple[bool, ...]  # the field computes its value (auto_now...): call pre_save
    plain: tuple[frozenset[type], ...]  # value types passed as they are


_statements: dict[tuple[type[models.Model], tuple[str, ...], str, str], _Statement] = {}


def _plain_types(field: models.Field[Any, Any]) -> frozenset[type]:
    target = field.target_field if field.is_relation else field  # type: ignore[attr-defined]
    kind = target.get_internal_type()
    if kind == "UUIDField":
        return _NATIVE_UUID if connection.features.has_native_uuid_field else frozenset()
    if kind in _INTEGERS:
        untyped = type(connection.ops).adapt_integerfield_value is BaseDatabaseOperations.adapt_integerfield_value
        return _INTEGERS[kind] if untyped else frozenset()
    return _PASS_THROUGH.get(kind, frozenset())


def _statement(model: type[models.Model], conflict: Sequence[str], returning: str) -> _Statement:
    key = (model, tuple(conflict), returning, connection.vendor)
    statement = _statements.get(key)
    if statement is None:
        meta = model._meta
        fields = tuple(f for f in meta.concrete_fields if not getattr(f, "db_returning", False))
        quote = connection.ops.quote_name
        columns = ", ".join(quote(str(f.column)) for f in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) "
            f"ON CONFLICT ({', '.join(quote(c) for c in conflict)}) DO NOTHING RETURNING {quote(returning)}"
        )
        statement = _Statement(
            sql=sql,
            fields=fields,
            attnames=tuple(f.attname for f in fields),
            own_pre_save=tuple(type(f).pre_save is not models.Field.pre_save for f in fields),
            plain=tuple(_plain_types(f) for f in fields),
        )
        _statements[key] = statement
    return statement


def insert_values(instance: models.Model, statement: _Statement) -> list[Any]:
    """The INSERT's parameters: what Django's `get_db_prep_save(pre_save(...))` gives for each field."""
    values = []
    for field, attname, own, plain in zip(
        statement.fields, statement.attnames, statement.own_pre_save, statement.plain, strict=True
    ):
        value = field.pre_save(instance, add=True) if own else getattr(instance, attname)
        values.append(value if type(value) in plain else field.get_db_prep_save(value, connection))
    return values


def insert_ignoring_conflict(instance: models.Model, *, conflict: Sequence[str], returning: str) -> Any | None:
    """`INSERT instance ... ON CONFLICT (conflict) DO NOTHING RETURNING returning`.

    Returns the `returning` column of the new row, or None when a row with the same conflict key
    already existed (then nothing was written). Database-generated columns (auto ids) are left out.
    """
    statement = _statement(type(instance), conflict, returning)
    values = insert_values(instance, statement)
    with _cursor() as cursor:
        cursor.execute(statement.sql, values)
        row = cursor.fetchone()
    return None if row is None else row[0]


def _cursor() -> Any:
    """A cursor of the connection (Django's wrapper: errors, query logging, execute wrappers); on
    PostgreSQL with psycopg 3, one binding parameters on the server, so the statement is prepared."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql.base import is_psycopg3

    if not is_psycopg3:
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(ServerBindingCursor(connection.connection))
