"""One-statement inserts that settle uniqueness themselves (PostgreSQL and SQLite 3.35+).

Every dispatch writes one audit row through here, so the statement is built once per model and
conflict key (not per row), the common value types (a str for a text column, an int for an integer
column, a UUID or an aware datetime on PostgreSQL...) skip the generic chain of Django's per-field
conversion for the same result, and on PostgreSQL the INSERT is sent with server-side binding as a
prepared statement (the connection's `prepare_threshold`, settings: DB_PREPARE_THRESHOLD): the server parses and
plans it once per connection, and psycopg does not quote 22 values into the SQL text each time.
`common/tests/test_inserts.py` checks the values equal Django's own conversion.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import connection, models
from django.db.backends.base.operations import BaseDatabaseOperations

Prepare = Callable[[Any], Any]
_TEXT = frozenset({"CharField", "TextField"})
_INTEGER = frozenset(
    {
        "IntegerField",
        "SmallIntegerField",
        "BigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "PositiveBigIntegerField",
    }
)


def _preparer(field: models.Field[Any, Any]) -> Prepare:
    """`field.get_db_prep_save(value, connection)`, with the common value types answered directly
    (each shortcut returns what Django's chain of to_python/get_prep_value/adapt_* returns for it)."""
    slow: Prepare = partial(field.get_db_prep_save, connection=connection)
    target = field.target_field if field.is_relation else field  # type: ignore[attr-defined]
    kind = target.get_internal_type()
    ops = connection.ops
    if kind in _TEXT:  # CharField.to_python returns any str (a TextChoices member too) as it is
        return lambda v: v if v is None or isinstance(v, str) else slow(v)
    if kind == "BooleanField":
        return lambda v: v if v is None or type(v) is bool else slow(v)
    if kind == "UUIDField" and connection.features.has_native_uuid_field:
        return lambda v: v if v is None or type(v) is uuid.UUID else slow(v)
    if kind in _INTEGER:
        if type(ops).adapt_integerfield_value is BaseDatabaseOperations.adapt_integerfield_value:
            return lambda v: v if v is None or type(v) is int else slow(v)
        typed = getattr(ops, "integerfield_type_map", {}).get(kind)  # psycopg 3: Int2, Int4, Int8...
        if typed is not None:
            return lambda v: typed(v) if type(v) is int else slow(v)
    if kind == "DateTimeField" and connection.vendor == "postgresql":  # aware datetimes go as they are
        return lambda v: v if type(v) is dt.datetime and v.utcoffset() is not None else slow(v)
    return slow


@dataclass(frozen=True, slots=True)
class _Statement:
    sql: str
    fields: tuple[models.Field[Any, Any], ...]
    attnames: tuple[str, ...]
    own_pre_save: tuple[bool, ...]  # the field computes its value (auto_now...): call pre_save
    prepare: tuple[Prepare, ...]


_statements: dict[tuple[type[models.Model], tuple[str, ...], str, str], _Statement] = {}


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
            prepare=tuple(_preparer(f) for f in fields),
        )
        _statements[key] = statement
    return statement


def insert_values(instance: models.Model, statement: _Statement) -> list[Any]:
    """The INSERT's parameters: what Django's `get_db_prep_save(pre_save(...))` gives for each field."""
    return [
        prepare(field.pre_save(instance, add=True) if own else getattr(instance, attname))
        for field, attname, own, prepare in zip(
            statement.fields, statement.attnames, statement.own_pre_save, statement.prepare, strict=True
        )
    ]


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
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    if not is_psycopg3:
        return connection.cursor()
    from django.db.backends.postgresql import base as postgresql

    wrapper: Any = connection  # Django's own steps of `connection.cursor()`, with another cursor class
    wrapper.ensure_connection()
    with wrapper.wrap_database_errors:
        return wrapper._prepare_cursor(postgresql.ServerBindingCursor(wrapper.connection))  # type: ignore[call-arg,unused-ignore]
