"""How a Decision reads to the outside: the seed's response fields plus its explanation.

Shared by the API, the admin simulator and the teacher form, so they all describe a decision
the same way.
"""

from __future__ import annotations

from typing import Any

from policies.engine import Decision, Snapshot

LEVEL_LABELS = {
    "exact": "subject + grade band + region",
    "subject_grade": "subject + grade band, any region",
    "subject": "subject only",
    "default": "default policy",
}


def explanation_dict(decision: Decision) -> dict[str, Any]:
    return {
        "level": decision.level,
        "level_label": LEVEL_LABELS.get(decision.level or "", ""),
        "policy_id": decision.policy.id if decision.policy else None,
        "policy_name": decision.policy.name if decision.policy else None,
        "passed_over": [
            {
                "kind": step.kind,
                "id": step.id,
                "name": step.name,
                "reason": step.reason,
                "detail": step.detail,
                **({"policy_id": step.policy_id} if step.policy_id else {}),
            }
            for step in decision.passed_over
        ],
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
                "message": decision.refusal_detail,
                "region": context.region,
            },
            "explanation": explanation,
        }
        if decision.override is not None:
            body["teacher_override"] = True
            body["error"]["rule"] = decision.refusal_code
        return body
    provider, policy = decision.provider, decision.policy
    return {
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
        "rate_limits": {
            "requests_per_minute": provider.requests_per_minute,
            "tokens_per_minute": provider.tokens_per_minute,
        },
        "estimated_cost": {
            "per_1k_input_tokens": provider.cost_per_1k_input,
            "per_1k_output_tokens": provider.cost_per_1k_output,
        },
        "region": context.region,
        "data_center": decision.region_rule.data_center if decision.region_rule else "",
        "explanation": explanation,
    }
