"""Audit rows built through the real insert (signed, one statement), with chosen times and contents;
and `tamper`, which changes them behind the application's back as the owner role could."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from django.db import connections, transaction
from django.utils import timezone

from audit.models import DispatchLog, Outcome
from audit.roles import owner_alias
from audit.services import dispatch_log_insert


def log_make(
    *, provider: Any = None, policy: Any = None, created_at: dt.datetime | None = None, **fields: Any
) -> DispatchLog:
    accepted = provider is not None
    values: dict[str, Any] = {
        "request_id": uuid.uuid4(),
        "client_ref": "",
        "created_at": created_at or timezone.now(),
        "fingerprint": "f" * 64,
        "subject": "mathematics",
        "grade_band": "elementary",
        "region": "us_east",
        "outcome": Outcome.ACCEPTED if accepted else Outcome.REFUSED,
        "status_code": 200 if accepted else 422,
        "refusal_code": "" if accepted else "no_compliant_provider",
        "level": "exact" if accepted else "",
        "policy_id": policy.pk if policy is not None else None,
        "provider_id": provider.pk if provider is not None else None,
        "decision_us": 120,
        "response": json.dumps({"explanation": {"level": "exact"}}),
    }
    values.update(fields)
    log = DispatchLog(**values)
    assert dispatch_log_insert(log=log)
    return log


def tamper(sql: str, params: list[Any]) -> None:
    """Run `sql` as the role owning the tables (the service role may not change audit rows): on
    PostgreSQL the owner switches off the append-only trigger around it, as an attacker holding the
    owner's (or a superuser's) credentials could. With two roles the test must be transactional:
    the owner's connection sees only committed rows."""
    alias = owner_alias()
    connection = connections[alias]
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE dispatch_logs DISABLE TRIGGER dispatch_logs_append_only")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # deferred foreign-key checks run now
            cursor.execute("ALTER TABLE dispatch_logs ENABLE TRIGGER dispatch_logs_append_only")
