"""How the runtime's answers read to the outside: one function per response shape.

Shapes: a decision (`decision_body`: the seed's fields, or a refusal naming why; with the
client's `budget` when it has one), its
explanation, one passed-over step, a provider (`provider_body`, with its rate limits and
estimated cost, which the decision also carries), a validation (`validation_body`) and the
coverage map (`coverage_body`). Shared by the API, the admin simulator and the teacher pages,
so they all describe a decision the same way; the API's serializers declare these shapes.
"""

from __future__ import annotations

from typing import Any

from policies.engine import AgreementSpec, BudgetState, Decision, PassedOver, ProviderSpec, Snapshot
from policies.selectors import CoverageMap, RegionProviders
from providers.health.selectors import ProviderHealthRow
from vocabulary.wording import LEVELS, REFUSALS

LEVEL_LABELS = LEVELS  # the one mapping of codes to words (vocabulary/wording.py)


def passed_over_dict(step: PassedOver) -> dict[str, Any]:
    """A policy or provider that was not taken, and why (`policy_id`: the chain it was in).

    `name` is always what people read (a policy's name, a provider's display name, as in
    `GET /providers`' list); a provider's slug is its `slug`."""
    if step.kind == "provider":
        names = {"name": step.provider_name or step.name, "slug": step.name}
    else:
        names = {"name": step.name}
    return {
        "kind": step.kind,
        "id": step.id,
        **names,
        "reason": step.reason,
        "detail": step.detail,
        **({"policy_id": step.policy_id} if step.policy_id else {}),
        **({"next_probe_at": step.next_probe_at} if step.next_probe_at else {}),
    }


def explanation_dict(decision: Decision) -> dict[str, Any]:
    return {
        "level": decision.level,
        "level_label": LEVEL_LABELS.get(decision.level or "", ""),
        "policy_id": decision.policy.id if decision.policy else None,
        "policy_name": decision.policy.name if decision.policy else None,
        "passed_over": [passed_over_dict(step) for step in decision.passed_over],
        "degraded": decision.degraded,
        **({"degraded_detail": degraded_detail(decision)} if decision.degraded else {}),
        **({"budget": decision.budget_rule} if decision.budget_rule else {}),
    }


def budget_dict(budget: BudgetState) -> dict[str, Any]:
    """A client's budget in a decision body: the current UTC period's limit, spend and what is left."""
    return {
        "period": budget.period,
        "limit": float(budget.limit),
        "spent": float(budget.spent),
        "remaining": float(budget.remaining),
        "exhausted": budget.exhausted,
    }


def agreement_dict(agreement: AgreementSpec | None) -> dict[str, Any] | None:
    """The agreement a decision relies on (`reference`, `expires_on` ISO or null), or None."""
    if agreement is None:
        return None
    return {
        "reference": agreement.reference,
        "expires_on": agreement.expires_on.isoformat() if agreement.expires_on else None,
    }


def degraded_detail(decision: Decision) -> str:
    slug = decision.provider.slug if decision.provider else ""
    if decision.override_applied:
        return f"the teacher's provider {slug} is unhealthy (cooling down) and is served anyway: health never refuses"
    which = "cheapest compliant one (the client's budget is spent)" if decision.budget_rule else "first compliant one"
    return (
        f"every compliant provider of every matching policy is unhealthy (cooling down), so the {which}, "
        f"{slug}, serves anyway: health never refuses a request"
    )


def rate_limits_dict(provider: ProviderSpec) -> dict[str, int]:
    return {"requests_per_minute": provider.requests_per_minute, "tokens_per_minute": provider.tokens_per_minute}


def estimated_cost_dict(provider: ProviderSpec) -> dict[str, float]:
    return {"per_1k_input_tokens": provider.cost_per_1k_input, "per_1k_output_tokens": provider.cost_per_1k_output}


def provider_body(provider: ProviderSpec) -> dict[str, Any]:
    """A provider as `GET /providers` lists it."""
    return {
        "id": provider.id,
        "slug": provider.slug,
        "name": provider.name,
        "endpoint_url": provider.endpoint_url,
        "hosting_regions": sorted(provider.hosting_regions),
        "compliance_frameworks": sorted(provider.compliance_frameworks),
        "minimum_user_age": provider.minimum_user_age,
        "rate_limits": rate_limits_dict(provider),
        "estimated_cost": estimated_cost_dict(provider),
    }


def region_providers_body(providers: RegionProviders) -> dict[str, Any]:
    """`GET /providers`: who may serve a region (for a grade band), and the others with why not."""
    return {
        "region": providers.region,
        "grade_band": providers.grade_band,
        "data_center": providers.rule.data_center if providers.rule else None,
        "providers": [provider_body(p) for p in providers.available],
        "unavailable": [passed_over_dict(step) for step in providers.unavailable],
    }


def validation_body(decision: Decision) -> dict[str, Any]:
    """`GET /policies/validate`: whether a context resolves, to what, and what is wrong if not."""
    context = decision.context
    problems = [decision.refusal_detail] if decision.refusal_code else []
    problems += [f"{step.kind} {step.name}: {step.detail}" for step in decision.passed_over]
    return {
        "valid": decision.accepted,
        "subject": context.subject,
        "grade_band": context.grade_band,
        "region": context.region,
        "level": decision.level,
        "policy_id": decision.policy.id if decision.policy else None,
        "provider_id": decision.provider.id if decision.provider else None,
        "provider_slug": decision.provider.slug if decision.provider else None,
        "agreement": agreement_dict(decision.agreement),
        "provider_name": decision.provider.name if decision.provider else None,
        "problems": problems,
        "explanation": explanation_dict(decision),
    }


def coverage_body(coverage: CoverageMap) -> dict[str, Any]:
    """`GET /coverage`: every cell of the map, with the gaps counted."""
    return {
        "regions": coverage.regions,
        "unconfigured_regions": coverage.unconfigured_regions,
        "contexts": len(coverage.cells),
        "gaps": len(coverage.gaps),
        "snapshot_version": coverage.snapshot.version,
        "cells": [cell.as_dict() for cell in coverage.cells],
    }


def decision_body(decision: Decision, snapshot: Snapshot, *, request_id: str) -> dict[str, Any]:
    """The JSON body for a decision: accepted (seed fields) or refused (an error naming why)."""
    context = decision.context
    explanation = explanation_dict(decision)
    if not decision.accepted or decision.provider is None or decision.policy is None:
        body: dict[str, Any] = {
            "request_id": request_id,
            "error": {
                "code": decision.refusal_code,
                # every code the engine emits has words (vocabulary/tests/test_wording.py)
                "title": REFUSALS.get(decision.refusal_code, decision.refusal_code),
                "message": decision.refusal_detail,
                "region": context.region,
            },
            "explanation": explanation,
            "agreement": None,
            "degraded": False,
        }
        if decision.override is not None:
            body["teacher_override"] = True
            body["error"]["rule"] = decision.refusal_code
        if decision.budget is not None:
            body["budget"] = budget_dict(decision.budget)
        return body
    provider, policy = decision.provider, decision.policy
    accepted = {
        "request_id": request_id,
        "provider_id": provider.id,
        "provider_slug": provider.slug,
        "provider_name": provider.name,
        "endpoint_url": provider.endpoint_url,
        "template_ids": list(policy.template_ids),
        "moderation_threshold": policy.moderation_threshold,
        "policy_id": policy.id,
        "policy_name": policy.name,
        "allow_teacher_override": policy.allow_teacher_override,
        "teacher_override": decision.override_applied,
        "rate_limits": rate_limits_dict(provider),
        "estimated_cost": estimated_cost_dict(provider),
        "region": context.region,
        "data_center": decision.region_rule.data_center if decision.region_rule else "",
        "agreement": agreement_dict(decision.agreement),
        "explanation": explanation,
        "degraded": decision.degraded,
    }
    if decision.budget is not None:
        accepted["budget"] = budget_dict(decision.budget)
    return accepted


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z") if value is not None else None


def provider_health_body(rows: list[ProviderHealthRow], *, shared: bool) -> dict[str, Any]:
    """`GET /providers/health`: every provider's state; `shared` false while Redis is unavailable
    (this worker's own view)."""
    return {
        "shared": shared,
        "providers": [
            {
                "provider_id": row.provider_id,
                "provider_slug": row.provider_slug,
                "state": row.state,
                "since": _iso(row.since),
                "failures": row.failures,
                "outcomes": row.outcomes,
                "next_probe_at": _iso(row.next_probe_at),
            }
            for row in rows
        ],
    }
