"""One-statement inserts that settle uniqueness themselves (PostgreSQL and SQLite 3.35+)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models


def insert_ignoring_conflict(instance: models.Model, *, conflict: Sequence[str], returning: str) -> Any | None:
    """`INSERT instance ... ON CONFLICT (conflict) DO NOTHING RETURNING returning`.

    Returns the `returning` column of the new row, or None when a row with the same conflict key
    already existed (then nothing was written). Database-generated columns (auto ids) are left out.
    """
    meta = instance._meta
    fields = [f for f in meta.concrete_fields if not getattr(f, "db_returning", False)]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    values = [f.get_db_prep_save(f.pre_save(instance, add=True), connection) for f in fields]
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) "
        f"ON CONFLICT ({', '.join(quote(c) for c in conflict)}) DO NOTHING RETURNING {quote(returning)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    return None if row is None else row[0]
