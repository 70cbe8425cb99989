"""What a dispatch's span says (tracing: `common.tracing`; off by default).

One span, `dispatch`, per call of `policies.services.dispatch`, with the decision's attributes.
The GenAI semantic conventions are followed where they fit: the chosen provider is
`gen_ai.provider.name` (and the older `gen_ai.system`), its display name, which names the
model, `gen_ai.request.model`. The service decides who may serve an LLM call and makes none, so
the other `gen_ai.*` attributes (tokens, responses) do not apply; the decision is in `mds.*`:

- `mds.request_id`, `mds.client`: the request id; the client (`client_ref`: an API client's name
  or `staff:<user>`)
- `mds.subject`, `mds.grade_band`, `mds.region`: the context
- `mds.outcome`, `mds.status`: `accepted` / `refused` and the HTTP status; an error answer (429,
  409, 500) is the span's error, with its code in `mds.refusal_code`
- `mds.refusal_code`: why it was refused (`no_compliant_provider`, ...), or the error's code
- `mds.level`, `mds.policy.id`, `mds.policy.name`: the policy that decided, and how specific it was
- `mds.provider.id`, `mds.provider.slug`: the chosen provider
- `mds.passed_over`, `mds.fallback_used`: how many policies and providers were passed over;
  whether a provider was
- `mds.teacher_override`, `mds.replayed`: an override request; an idempotent replay
- `mds.degraded`: Redis is configured but backing off (rate limits count per process)
- `mds.snapshot_version`: the authored world the decision read

Never a key, a justification or a teacher's id.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from django.conf import settings

from common.redis_client import BACKOFF
from policies.engine import Decision, DispatchContext, Snapshot


class DispatchOutcome(Protocol):
    """What a span reads of `policies.services.DispatchResult` (a protocol, so this module does not
    import the service that imports it)."""

    @property
    def request_id(self) -> str: ...
    @property
    def status(self) -> int: ...
    @property
    def replayed(self) -> bool: ...
    @property
    def decision(self) -> Decision | None: ...
    @property
    def snapshot(self) -> Snapshot: ...
    @property
    def body(self) -> dict[str, Any]: ...


AttributeValue = str | bool | int | float


def request_attributes(*, context: DispatchContext, client_ref: str, override: bool) -> dict[str, AttributeValue]:
    """What is known before deciding."""
    return {
        "mds.subject": context.subject,
        "mds.grade_band": context.grade_band,
        "mds.region": context.region,
        "mds.client": client_ref,
        "mds.teacher_override": override,
        "mds.degraded": bool(getattr(settings, "REDIS_URL", "")) and time.monotonic() < BACKOFF.until,
    }


def result_attributes(result: DispatchOutcome) -> dict[str, AttributeValue]:
    """What was decided (or replayed)."""
    attributes: dict[str, AttributeValue] = {
        "mds.request_id": result.request_id,
        "mds.status": result.status,
        "mds.outcome": "accepted" if result.status == 200 else "refused",
        "mds.replayed": result.replayed,
        "mds.snapshot_version": result.snapshot.version,
    }
    decision = result.decision
    if decision is not None:
        attributes.update(decision_attributes(decision))
    else:  # a replay: the stored answer
        body: dict[str, Any] = result.body
        if body.get("provider_slug"):
            attributes.update(_provider(body["provider_id"], body["provider_slug"], body["provider_name"]))
        if "error" in body:
            attributes["mds.refusal_code"] = str(body["error"].get("code", ""))
    return attributes


def decision_attributes(decision: Decision) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        "mds.passed_over": len(decision.passed_over),
        "mds.fallback_used": any(step.kind == "provider" for step in decision.passed_over),
    }
    if decision.level:
        attributes["mds.level"] = decision.level
    if decision.policy is not None:
        attributes["mds.policy.id"] = decision.policy.id
        attributes["mds.policy.name"] = decision.policy.name
    if decision.refusal_code:
        attributes["mds.refusal_code"] = decision.refusal_code
    if decision.provider is not None:
        provider = decision.provider
        attributes.update(_provider(provider.id, provider.slug, provider.name))
    return attributes


def _provider(provider_id: str, slug: str, name: str) -> dict[str, AttributeValue]:
    return {
        "gen_ai.provider.name": slug,
        "gen_ai.system": slug,
        "gen_ai.request.model": name,
        "mds.provider.id": provider_id,
        "mds.provider.slug": slug,
    }
