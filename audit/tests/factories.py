"""Audit rows built through the real insert (signed, one statement), with chosen times and contents."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from django.utils import timezone

from audit.models import DispatchLog, Outcome
from policies.services import dispatch_log_insert


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
