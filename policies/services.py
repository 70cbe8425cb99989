"""dispatch(): resolve a context and write its audit row, atomically and idempotently.

The one writer of decisions: the API and the teacher form (through the override service) both
call it; the engine decides, `audit.services` writes and signs the row.

The audit row is written by one `INSERT ... ON CONFLICT (client_ref, request_id) DO NOTHING
RETURNING id`: it both records the decision and settles idempotency, so a warm dispatch reads
nothing before it. When the insert finds the id taken, the stored row decides: first its digest
is checked (a row changed behind the application's back is never served: 500
`audit_row_tampered`, logged and counted); then same body, its stored response is replayed
(unless its provider is no longer compliant: 409); another body, 422. Concurrent requests with
one id wait on the unique index and all see the first row.

Per-provider rate limits (providers.limits) are applied here, outside the pure engine: the
chosen provider is reserved atomically; one at its limit is added to `saturated` and the context
resolved again, so the next compliant provider serves and the explanation says `rate_limited`.
An API client's own request count (`client_hit`, deferred by the throttle) is taken in the same
Redis round trip as that reservation; a client over its rate gets 429 and nothing is written. A
client past its share of a provider's tokens (providers.limits) finds that provider saturated for
its own requests only.

A client with a budget (`budget`: its terms, read with its key) has its spend of the current
period read from PostgreSQL (`audit.spend`, one indexed row; none for a client without one) and
passed to the engine (`budget_apply`): a spent budget refuses (`budget_exhausted`) or routes to the
cheapest compliant provider, and every decision body shows the budget.

Provider health (providers.health) enters like saturation: this worker's view of the providers that
are not healthy (reread at most every PROVIDER_HEALTH_VIEW_SECONDS, so a warm dispatch with every
provider healthy makes no extra round trip) is passed to the engine, which skips those cooling
down (`unhealthy`). A provider whose cooldown is over is chosen as usual, then asked for one of
its few probes (one round trip, only then); without one it is skipped like a cooling one. Health
never adds a provider and never refuses: when every compliant one is unhealthy the engine serves
the first, `degraded`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Set
from dataclasses import dataclass
from typing import Any, ParamSpec

from django.utils import timezone

from audit.instruments import dispatch_observe
from audit.models import DispatchLog, Outcome
from audit.services import dispatch_log_insert, dispatch_log_stored
from audit.spend import client_spend_current
from clients.keys import BudgetTerms
from common.counters import DeferredHit
from common.errors import DispatchError, ReplayNotCompliant
from common.tracing import tracer
from policies import telemetry
from policies.engine import (
    REASON_UNKNOWN,
    REFUSAL_REGION_NOT_CONFIGURED,
    BudgetState,
    Decision,
    DispatchContext,
    OverrideRequest,
    Snapshot,
    budget_apply,
    resolve,
    resolve_override,
)
from policies.presentation import decision_body
from policies.snapshot import current_snapshot
from providers.health.services import PROBES_TAKEN, dispatch_health, provider_health_probe
from providers.limits import dispatch_admit

STATUS_ACCEPTED = 200
STATUS_REFUSED = 422


@dataclass(frozen=True, slots=True)
class DispatchResult:
    request_id: str
    status: int
    body_json: str  # the exact response bytes, stored in the audit row
    replayed: bool
    decision: Decision | None  # None for a replay
    log_id: int  # the audit row (written now, or the stored one replayed)
    snapshot: Snapshot  # what this request read: a surface showing more reads the same

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.body_json)


def body_render(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def request_fingerprint(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


P = ParamSpec("P")


def traced(decide: Callable[P, DispatchResult]) -> Callable[P, DispatchResult]:
    """With tracing on (`common.tracing`), one `dispatch` span around `decide` with the decision's
    attributes (`policies.telemetry`); with it off, `decide` itself runs."""

    @functools.wraps(decide)
    def dispatch_traced(*args: P.args, **kwargs: P.kwargs) -> DispatchResult:
        tracer_ = tracer()
        if tracer_ is None:
            return decide(*args, **kwargs)
        with tracer_.start_as_current_span("dispatch") as span:
            override = kwargs.get("override")
            span.set_attributes(
                telemetry.request_attributes(
                    context=kwargs["context"],  # type: ignore[arg-type]  # keyword-only in `dispatch`
                    client_ref=str(kwargs.get("client_ref", "")),
                    override=bool(override),
                )
            )
            try:
                result = decide(*args, **kwargs)
            except DispatchError as exc:
                span.set_attributes({"mds.refusal_code": exc.code, "mds.status": exc.status_code})
                raise
            span.set_attributes(telemetry.result_attributes(result))
            return result

    return dispatch_traced


@traced
def dispatch(
    *,
    context: DispatchContext,
    override: OverrideRequest | None = None,
    request_id: uuid.UUID | None = None,
    client_ref: str = "",
    fingerprint: str,
    saturated: Set[str] = frozenset(),
    client_hit: DeferredHit | None = None,
    snapshot: Snapshot | None = None,
    budget: BudgetTerms | None = None,
) -> DispatchResult:
    """Decide `context` (with an optional teacher override) and audit it exactly once per request id.

    `client_hit`: the API client's request, counted here with the provider reservation (429 when
    it is over the client's rate: ClientThrottled, before anything is written). `snapshot`: the
    one this request already read (a page that showed the options first); else this worker's.
    `budget`: the API client's budget terms, if it has one. Traced by `traced`."""
    request_id = request_id or uuid.uuid4()
    started = time.perf_counter()
    snapshot = snapshot or current_snapshot()
    state = budget_state(client_ref=client_ref, terms=budget) if budget is not None else None
    decision = _decide(context, snapshot, override, saturated, client_hit, client_ref, state)
    body_json = body_render(decision_body(decision, snapshot, request_id=str(request_id)))
    status = STATUS_ACCEPTED if decision.accepted else STATUS_REFUSED
    log = DispatchLog(
        request_id=request_id,
        client_ref=client_ref,
        created_at=timezone.now(),
        fingerprint=fingerprint,
        subject=context.subject,
        grade_band=context.grade_band,
        region=context.region,
        outcome=Outcome.ACCEPTED if decision.accepted else Outcome.REFUSED,
        status_code=status,
        refusal_code=decision.refusal_code,
        level=decision.level or "",
        policy_id=uuid.UUID(decision.policy.id) if decision.policy else None,
        provider_id=uuid.UUID(decision.provider.id) if decision.provider else None,
        is_override=override is not None,
        override_provider_ref=override.provider_id[:64] if override else "",
        override_reason=override.justification if override else "",
        teacher_id=override.teacher_id[:64] if override else "",
        snapshot_version=snapshot.version,
        decision_us=int((time.perf_counter() - started) * 1_000_000),
        response=body_json,
    )
    # One statement in autocommit is its own transaction: wrapping it in atomic() cost a BEGIN
    # and a COMMIT round trip each (measured: bench/run.py). Inside a caller's transaction it joins it.
    inserted = dispatch_log_insert(log=log)
    dispatch_observe(log=log, replayed=not inserted)
    if inserted:
        return DispatchResult(
            str(request_id), status, body_json, replayed=False, decision=decision, log_id=log.pk, snapshot=snapshot
        )
    # A reused request id: the stored row is replayed, if intact and for the same body (else 500 or
    # 422: audit.services), so of this very context; and only while its provider may still serve it,
    # which this decision's judgements of the context's region and band tell (read as the engine's
    # `judgement` reads a table: read here, so the request does not call back into the engine).
    stored = dispatch_log_stored(client_ref=client_ref, request_id=request_id, fingerprint=fingerprint)
    if stored["outcome"] == Outcome.ACCEPTED and stored["provider_id"] is not None:
        provider_id = str(stored["provider_id"])
        why: tuple[str, str] | None
        if decision.judged is None:
            why = (REFUSAL_REGION_NOT_CONFIGURED, f"{context.region} has no regional routing rule")
        elif (judged := decision.judged.get(provider_id)) is None:
            why = (REASON_UNKNOWN, f"provider {provider_id} does not exist")
        else:
            why = judged.why
        if why is not None:
            raise ReplayNotCompliant(
                f"the stored decision for request_id {request_id} named a provider that may no longer "
                f"serve {stored['region']}: {why[1]}; send a new request_id to decide again",
                extra={"request_id": str(request_id), "reason": why[0]},
            )
    return DispatchResult(
        str(request_id),
        stored["status_code"],
        stored["response"],
        replayed=True,
        decision=None,
        log_id=stored["id"],
        snapshot=snapshot,
    )


def _decide(
    context: DispatchContext,
    snapshot: Snapshot,
    override: OverrideRequest | None,
    saturated: Set[str],
    client_hit: DeferredHit | None,
    client_ref: str,
    budget: BudgetState | None = None,
) -> Decision:
    """Resolve (and apply the client's budget), then reserve the chosen provider for `client_ref`; one
    at its rate limit (or at the client's share of its tokens) is passed over (re-resolve)."""
    skipped = set(saturated)
    health = dispatch_health()
    unhealthy = health.unhealthy
    while True:
        if override is None:
            decision = resolve(context, snapshot, saturated=skipped, unhealthy=unhealthy, next_probe=health.next_probe)
        else:
            decision = resolve_override(
                context, snapshot, override, saturated=skipped, unhealthy=unhealthy, next_probe=health.next_probe
            )
        if budget is not None:
            # The cheapest is chosen among healthy providers, or among the unhealthy ones when every
            # compliant one is (degraded); a spent budget's refusal is not degraded.
            decision = budget_apply(decision, snapshot, budget, saturated=skipped, unhealthy=unhealthy.keys())
            if decision.degraded and not decision.accepted:
                decision = dataclasses.replace(decision, degraded=False)
        provider = decision.provider
        if provider is None or provider.id in skipped:
            dispatch_admit(client_ref=client_ref, client_hit=client_hit)  # 429 when the client is over
            return decision
        if (
            provider.id in health.probing
            and not decision.degraded
            and provider.id not in unhealthy
            and not provider_health_probe(provider_id=provider.id)
        ):
            unhealthy = {**unhealthy, provider.id: PROBES_TAKEN}  # each pass removes one provider
            continue
        if dispatch_admit(
            client_ref=client_ref,
            client_hit=client_hit,
            provider_id=provider.id,
            requests_per_minute=provider.requests_per_minute,
            tokens_per_minute=provider.tokens_per_minute,
        ):
            return decision
        skipped.add(provider.id)  # at its limit: each pass removes one provider, so this ends


def budget_state(*, client_ref: str, terms: BudgetTerms) -> BudgetState:
    """The client's budget for the current period, with its spend read from PostgreSQL."""
    spent = client_spend_current(client_ref=client_ref, period=terms.period, at=timezone.now())
    return BudgetState(period=terms.period, limit=terms.amount, spent=spent, on_exhausted=terms.on_exhausted)
