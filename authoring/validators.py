"""The authoring rules: what the back office refuses, in words that say what to fix.

Every surface that changes the authored world (admin forms and actions, revert, `import_policies`)
checks it with the validators here, so all of them refuse the same things with the same words.
A validator returns `Problems` (field name -> messages); a service (`authoring.services`) raises
`AuthoringError` carrying them and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from common.errors import DispatchError
from policies.engine import Snapshot, available_providers, why_not
from policies.engine.types import policy_level
from policies.models import DispatchPolicy
from providers.models import ModelProvider

Problems = dict[str, list[str]]

SHAPES_HELP = (
    "A policy has one of four shapes: subject + grade band + region; subject + grade band; "
    "subject only; or none of them (the default policy)."
)
CHANGE_REASON_MAX = 100  # simple-history's history_change_reason column


class AuthoringError(DispatchError):
    """A change the authoring rules refuse; `fields` maps each field to what to fix."""

    code = "authoring_invalid"

    def __init__(self, problems: Problems, message: str = ""):
        text = message or "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in problems.items())
        super().__init__(text, fields=problems)
        self.problems = problems


def problems_merge(*parts: Problems) -> Problems:
    merged: Problems = {}
    for part in parts:
        for field, messages in part.items():
            merged.setdefault(field, []).extend(messages)
    return merged


def policy_shape_problems(*, subject: str, grade_band: str, region: str) -> Problems:
    """Rule: a policy's subject / grade band / region form one of the four resolution levels."""
    if policy_level(subject, grade_band, region) is not None:
        return {}
    if region:
        missing = " and a ".join(
            name for name, value in (("subject", subject), ("grade band", grade_band)) if not value
        )
        return {
            "region": [f"A policy for one region also needs a {missing}: set it, or clear the region. {SHAPES_HELP}"]
        }
    return {"grade_band": [f"A grade band needs a subject: set the subject, or clear the grade band. {SHAPES_HELP}"]}


def moderation_threshold_problems(value: Decimal | float | None) -> Problems:
    """Rule: the moderation threshold lies in [0, 1]."""
    if value is None or 0 <= value <= 1:
        return {}
    return {"moderation_threshold": [f"Must be between 0 and 1 (e.g. 0.8); {value} is outside [0, 1]."]}


def shape_label(subject: str, grade_band: str, region: str) -> str:
    return ", ".join(
        f"{name} {value or 'any'}"
        for name, value in (("subject", subject), ("grade band", grade_band), ("region", region))
    )


def policy_priority_problems(
    *, subject: str, grade_band: str, region: str, priority: int | None, is_active: bool, exclude_id: Any = None
) -> Problems:
    """Rule: no two active policies share a shape and a priority (resolution order would be arbitrary)."""
    if not is_active or priority is None:
        return {}
    clash = (
        DispatchPolicy.objects.filter(
            is_active=True, subject=subject, grade_band=grade_band, region=region, priority=priority
        )
        .exclude(pk=exclude_id)
        .only("name")
        .first()
    )
    if clash is None:
        return {}
    return {
        "priority": [
            f"The active policy {clash.name!r} already has {shape_label(subject, grade_band, region)} and "
            f"priority {priority}: choose another priority, or deactivate one of the two."
        ]
    }


def chain_repeat_problems(*, primary: str, fallbacks: Sequence[str]) -> Problems:
    """Rule: a provider appears once in a chain (primary included). Providers are named by slug."""
    messages: list[str] = []
    if primary and primary in fallbacks:
        position = fallbacks.index(primary) + 1
        messages.append(f"{primary} is the primary provider; remove it from the fallbacks (position {position}).")
    seen: dict[str, list[int]] = {}
    for position, slug in enumerate(fallbacks, start=1):
        seen.setdefault(slug, []).append(position)
    for slug, positions in seen.items():
        if len(positions) > 1 and slug != primary:
            where = " and ".join(str(p) for p in positions)
            messages.append(f"{slug} is in the fallbacks more than once (positions {where}); keep one.")
    return {"fallback_providers": messages} if messages else {}


def chain_region_problems(
    *, region: str, chain: Sequence[str], snapshot: Snapshot, is_active: bool = True, grade_band: str = ""
) -> Problems:
    """Rule: an active policy scoped to a region has at least one provider compliant there for its
    grade band (ages and agreements included, on the snapshot's date; without a band, the youngest).

    `chain` holds provider ids (primary first); `snapshot` the providers and routing rules to check
    against (built from the database, or a what-if snapshot).
    """
    if not region or not is_active:
        return {}
    if region not in snapshot.rules:
        return {"region": [f"{region} has no regional routing rule, so no provider may serve it: add its rule first."]}
    reasons: list[str] = []
    for provider_id in chain:
        why = why_not(snapshot, provider_id, region, grade_band)
        if why is None:
            return {}
        reasons.append(why[1])
    available, _ = available_providers(snapshot, region, grade_band)
    students = f" (for {grade_band})" if grade_band else ""
    if available:
        hint = "providers compliant there: " + ", ".join(p.slug for p in available) + students
    else:
        hint = (
            f"no provider is compliant in {region}{students} today; fix its routing rule, the providers or "
            "their agreements first"
        )
    return {
        "fallback_providers": [
            f"No provider in this chain may serve {region}: {'; '.join(reasons)}. Make the primary or a "
            f"fallback a provider compliant in {region} ({hint}), or change the region."
        ]
    }


def routing_rule_problems(*, allowed: Iterable[str], blocked: Iterable[str]) -> Problems:
    """Rule: a routing rule does not both allow and block a provider (slugs)."""
    both = sorted(set(allowed) & set(blocked))
    if not both:
        return {}
    return {
        "blocked_providers": [
            f"{slug} is both allowed and blocked in this region; remove it from one of the two lists." for slug in both
        ]
    }


def policy_problems(
    *,
    policy: DispatchPolicy,
    fallbacks: Sequence[ModelProvider],
    snapshot: Snapshot,
) -> Problems:
    """Every policy rule at once, for services and the import (admin forms call the parts)."""
    primary = policy.primary_provider
    return problems_merge(
        policy_shape_problems(subject=policy.subject, grade_band=policy.grade_band, region=policy.region),
        moderation_threshold_problems(policy.moderation_threshold),
        policy_priority_problems(
            subject=policy.subject,
            grade_band=policy.grade_band,
            region=policy.region,
            priority=policy.priority,
            is_active=policy.is_active,
            exclude_id=policy.pk,
        ),
        chain_repeat_problems(primary=primary.slug, fallbacks=[p.slug for p in fallbacks]),
        chain_region_problems(
            region=policy.region,
            chain=[str(primary.pk), *(str(p.pk) for p in fallbacks)],
            snapshot=snapshot,
            is_active=policy.is_active,
            grade_band=policy.grade_band,
        ),
    )


def change_reason_clean(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise AuthoringError({"change_reason": ["Say why you are making this change; it is kept with the history."]})
    return reason[:CHANGE_REASON_MAX]
