"""The audit trail's writers: the signed dispatch row, and the outcome reported for it.

`dispatch_log_insert` signs a decision's row (`row_digest`: HMAC-SHA256 with the audit key over
the row's canonical content) and writes it in the one statement that also settles idempotency;
`dispatch_log_stored` reads a stored row back for a replay, only if it still matches its digest
(`row_intact`) and was written for the same request body (its fingerprint). No model method
signs: the row is signed here, by the service that writes it.
Checkpoints, purge records and the verifier of the whole log are `audit.integrity`'s.

outcome_report(): record how the LLM call of one dispatch went, once, and roll it up atomically.
Rules that must stay true:
- One outcome per dispatch: `dispatch_outcomes` is keyed by the audit row's id and written with
  INSERT ... ON CONFLICT DO NOTHING RETURNING. A replay with the same body returns the stored
  outcome; another body is 409 `outcome_already_reported`. Refused dispatches have no LLM call:
  409 `dispatch_refused`.
- The rollups (`model_metrics` per hour, `model_metrics_daily` per day) are only added to, with
  INSERT ... ON CONFLICT DO UPDATE SET x = x + EXCLUDED.x, in the same transaction as the
  outcome row, so concurrent reports for one bucket add up exactly and a report is counted once.
- Buckets are the dispatch's time (not the report's), so outcomes line up with dispatch counts.
- Cost uses the provider's prices when the outcome is reported (stored with the outcome), and is
  added to the client's spend of the day and month in the same transaction (`audit.spend`).
- Tokens and latency are bounded by the API (OUTCOME_MAX_TOKENS, OUTCOME_MAX_LATENCY_MS), and the
  reporting client's tokens count against the provider's tokens_per_minute only up to its share
  (providers.limits), so one client's reports can neither inflate analytics without bound nor use
  up a provider for the others.
- A new outcome also counts towards the provider's health (providers.health: provider-side
  failure codes and successes; other failures say nothing about health), after the transaction.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone
from rest_framework import status

from audit.instruments import outcome_observe, tampered_row_observe
from audit.models import (
    LATENCY_BOUNDS_MS,
    DispatchLog,
    DispatchOutcome,
    ModelMetric,
    ModelMetricDaily,
    Outcome,
    latency_bucket_column,
)
from audit.spend import SpendBudget, client_spend_add
from common.errors import AuditRowTampered, DispatchError, IdempotencyConflict
from common.inserts import insert_ignoring_conflict
from providers.health.services import OVERRIDE_FIELDS as HEALTH_OVERRIDE_FIELDS
from providers.health.services import provider_health_outcome
from providers.limits import provider_tokens_add
from providers.models import ModelProvider

logger = logging.getLogger("audit.integrity")

# --- one row's signature ------------------------------------------------------------------------

DIGEST_VERSION = "v1"
# The signed content (v1): every column but the surrogate id (assigned by the database) and the
# digest. Fixed, not derived from the model: a column added later must not change old digests
# (sign it under a new DIGEST_VERSION instead).
DIGEST_FIELDS = (
    "request_id",
    "client_ref",
    "created_at",
    "fingerprint",
    "subject",
    "grade_band",
    "region",
    "outcome",
    "status_code",
    "refusal_code",
    "level",
    "policy_id",
    "provider_id",
    "is_override",
    "override_provider_ref",
    "override_reason",
    "teacher_id",
    "snapshot_version",
    "decision_us",
    "response",
)


def audit_key() -> bytes:
    return _derive_key(settings.AUDIT_HMAC_KEY, settings.SECRET_KEY)


@functools.lru_cache(maxsize=4)
def _derive_key(configured: str, secret: str) -> bytes:
    if configured:
        return configured.encode()
    return hmac.new(secret.encode(), b"model-dispatch audit log v1", hashlib.sha256).digest()


_PLAIN = (str, int, bool, type(None))


def audit_canonical(value: Any) -> Any:
    """A value as it is signed: the same whether it comes from a model or from a row read back."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return str(value)


def audit_sign(payload: str) -> str:
    """HMAC-SHA256 of `payload` with the audit key (rows here; checkpoints and purges in audit.integrity)."""
    return hmac.digest(audit_key(), payload.encode(), "sha256").hex()


def row_digest_values(values: dict[str, Any]) -> str:
    content = [DIGEST_VERSION, *(audit_canonical(values[name]) for name in DIGEST_FIELDS)]
    return audit_sign(json.dumps(content, separators=(",", ":"), ensure_ascii=False))


def row_intact(values: dict[str, Any]) -> bool:
    """Whether a row read back with `.values("digest", *DIGEST_FIELDS)` matches its digest."""
    return hmac.compare_digest(values["digest"], row_digest_values(values))


def row_digest(log: DispatchLog) -> str:
    """The HMAC of an audit row's content (normalised so a row read back gives the same digest)."""
    values = {name: getattr(log, name) for name in DIGEST_FIELDS}
    if isinstance(values["request_id"], str):
        values["request_id"] = uuid.UUID(values["request_id"])
    return row_digest_values(values)


# --- the dispatch row ---------------------------------------------------------------------------


def dispatch_log_insert(*, log: DispatchLog) -> bool:
    """Insert `log` unless (client_ref, request_id) exists; True when this call wrote it.

    One statement on both PostgreSQL and SQLite (3.35+): INSERT ... ON CONFLICT DO NOTHING RETURNING.
    The row's HMAC digest (tamper evidence) is computed here, in Python, and goes in the same INSERT.
    """
    log.digest = row_digest(log)
    pk = insert_ignoring_conflict(log, conflict=("client_ref", "request_id"), returning="id")
    if pk is None:
        return False
    log.pk = pk
    return True


def dispatch_log_stored(*, client_ref: str, request_id: uuid.UUID, fingerprint: str) -> dict[str, Any]:
    """The stored row of (client_ref, request_id), every signed column, for a replay of the request
    whose body has `fingerprint`: only if it still matches its digest (else logged, counted, and
    AuditRowTampered: it is never served) and was written for that body (else IdempotencyConflict).
    So a replayed row has the request's own subject, grade band and region."""
    rows = DispatchLog.objects.values("id", "digest", *DIGEST_FIELDS)  # every signed column: replays only
    stored: dict[str, Any] = rows.get(client_ref=client_ref, request_id=request_id)
    if not row_intact(stored):
        tampered_row_observe()
        logger.error(
            "audit row failed its digest on replay, not served: row id=%s request_id=%s client=%s",
            stored["id"],
            request_id,
            client_ref or "-",
        )
        raise AuditRowTampered(
            f"the stored decision for request_id {request_id} failed its integrity check and is not served; "
            "operators have been alerted. Send a new request_id to decide again.",
            extra={"request_id": str(request_id)},
        )
    if stored["fingerprint"] != fingerprint:
        raise IdempotencyConflict(
            f"request_id {request_id} was already used with a different request body; "
            "use a new request_id for a new request",
            fields={"request_id": ["already used with a different body"]},
            extra={"request_id": str(request_id)},
        )
    return stored


class DispatchNotFound(DispatchError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "dispatch_not_found"


class DispatchRefused(DispatchError):
    status_code = status.HTTP_409_CONFLICT
    code = "dispatch_refused"


class OutcomeAlreadyReported(DispatchError):
    status_code = status.HTTP_409_CONFLICT
    code = "outcome_already_reported"


@dataclass(frozen=True, slots=True)
class OutcomeReport:
    success: bool
    latency_ms: int
    input_tokens: int = 0
    output_tokens: int = 0
    error_code: str = ""


@dataclass(frozen=True, slots=True)
class OutcomeResult:
    outcome: DispatchOutcome
    request_id: str
    created: bool


MICRO = Decimal("0.000001")


def outcome_cost(provider: ModelProvider, report: OutcomeReport) -> Decimal:
    cost = (
        Decimal(report.input_tokens) * provider.cost_per_1k_input_tokens
        + Decimal(report.output_tokens) * provider.cost_per_1k_output_tokens
    ) / 1000
    return cost.quantize(MICRO, rounding=ROUND_HALF_UP)


def latency_bucket(latency_ms: int) -> int:
    return next(bound for bound in LATENCY_BOUNDS_MS if latency_ms <= bound)


def _metric_add(model: type[models.Model], keys: dict[str, Any], counts: dict[str, Any]) -> None:
    """INSERT the bucket or add `counts` to it, atomically (one statement)."""
    meta = model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    key_fields: list[Any] = [meta.get_field(name) for name in keys]
    columns = [str(f.column) for f in key_fields] + list(counts)
    values = [f.get_db_prep_save(keys[f.name], connection) for f in key_fields]
    values += list(counts.values())
    updates = ", ".join(f"{quote(c)} = {table}.{quote(c)} + EXCLUDED.{quote(c)}" for c in counts)
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({', '.join(quote(str(f.column)) for f in key_fields)}) DO UPDATE SET {updates}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)


def _counts(outcome: DispatchOutcome) -> dict[str, Any]:
    counts: dict[str, Any] = {
        "requests": 1,
        "successes": int(outcome.success),
        "failures": int(not outcome.success),
        "latency_ms_sum": outcome.latency_ms,
        "input_tokens": outcome.input_tokens,
        "output_tokens": outcome.output_tokens,
        "cost": outcome.cost,
    }
    hit = latency_bucket(outcome.latency_ms)
    for bound in LATENCY_BOUNDS_MS:
        counts[latency_bucket_column(bound)] = int(bound == hit)
    return counts


def outcome_report(
    *,
    client_ref: str,
    request_id: uuid.UUID,
    report: OutcomeReport,
    fingerprint: str,
    budget: SpendBudget | None = None,
) -> OutcomeResult:
    """Record `report` for the dispatch (client_ref, request_id) once; a same-body replay returns it.

    Its cost is added to the client's spend (`audit.spend`) in the same transaction; `budget`: the
    client's, whose 80 % / 100 % alerts that addition may raise."""
    log = (
        DispatchLog.objects.filter(client_ref=client_ref, request_id=request_id)
        .only("id", "outcome", "provider_id", "region", "subject", "grade_band", "created_at")
        .first()
    )
    if log is None:
        raise DispatchNotFound(
            f"no dispatch with request_id {request_id} for this client",
            fields={"request_id": ["no dispatch with this request_id"]},
        )
    if log.outcome != Outcome.ACCEPTED or log.provider_id is None:
        raise DispatchRefused(
            f"dispatch {request_id} was refused, so no LLM call was made and there is no outcome to report",
            fields={"request_id": ["this dispatch was refused"]},
        )
    provider = ModelProvider.objects.only(
        "cost_per_1k_input_tokens", "cost_per_1k_output_tokens", "tokens_per_minute", *HEALTH_OVERRIDE_FIELDS
    ).get(pk=log.provider_id)
    outcome = DispatchOutcome(
        dispatch_log_id=log.pk,
        provider_id=log.provider_id,
        reported_at=timezone.now(),
        success=report.success,
        latency_ms=report.latency_ms,
        input_tokens=report.input_tokens,
        output_tokens=report.output_tokens,
        error_code=report.error_code,
        cost=outcome_cost(provider, report),
        fingerprint=fingerprint,
    )
    with transaction.atomic():
        created = (
            insert_ignoring_conflict(outcome, conflict=("dispatch_log_id",), returning="dispatch_log_id") is not None
        )
        if created:
            counts = _counts(outcome)
            hour = log.created_at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
            _metric_add(
                ModelMetric,
                {
                    "provider": log.provider_id,
                    "subject": log.subject,
                    "grade_band": log.grade_band,
                    "region": log.region,
                    "bucket_start": hour,
                },
                counts,
            )
            _metric_add(
                ModelMetricDaily,
                {"provider": log.provider_id, "region": log.region, "day": hour.date()},
                counts,
            )
            client_spend_add(client_ref=client_ref, cost=outcome.cost, at=outcome.reported_at, budget=budget)
    if created:
        outcome_observe(region=log.region, success=report.success, latency_ms=report.latency_ms)
        # The provider's tokens-per-minute budget (providers.limits): dispatch passes it over once spent,
        # for everyone, or for this client alone once its own share is.
        provider_tokens_add(
            provider_id=str(log.provider_id),
            tokens=report.input_tokens + report.output_tokens,
            client_ref=client_ref,
            tokens_per_minute=provider.tokens_per_minute,
        )
        # The provider's health (providers.health): provider-side failures and successes steer routing.
        provider_health_outcome(
            provider=provider, dispatched_at=log.created_at, success=report.success, error_code=report.error_code
        )
        return OutcomeResult(outcome, str(request_id), created=True)
    stored = DispatchOutcome.objects.get(pk=log.pk)
    if stored.fingerprint != fingerprint:
        raise OutcomeAlreadyReported(
            f"an outcome with other values was already reported for request_id {request_id}; "
            "an outcome is reported once per dispatch",
            fields={"request_id": ["outcome already reported with other values"]},
        )
    return OutcomeResult(stored, str(request_id), created=False)
