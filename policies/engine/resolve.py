"""resolve(context, snapshot) -> Decision: the resolution rules of the product, in one place.

1. Candidate policies: exact (subject + grade band + region), then subject + grade band, then
   subject only, then the default policy; within a level, higher priority first.
2. Each candidate's chain (primary, then fallbacks in order) is checked against the region's
   routing rule; the first compliant provider that is not at its rate limit wins.
3. A policy whose chain yields nothing is passed over for the next candidate.
4. No routing rule for the region, or no compliant provider anywhere: a refusal.

Each context is walked once per snapshot without saturation and the decision kept in
`snapshot.compiled`; saturation can only change a decision whose provider is saturated (every
provider before it was non-compliant, which saturation does not change), so only then is the
context walked again with it.

An override is checked against the decision the same context would get without it: the caller
must be authorised to act for the teacher (first, so a caller that is not learns nothing about the
teacher, not even whether they exist), the teacher must be known and teach in the region (who may
ask comes before what is asked), the policy must allow overrides, the justification must be
meaningful (at least 20 visible characters, `policies.engine.text`), and the provider must be
compliant in the region. A provider blocked in a region is never returned for that region.
"""

from __future__ import annotations

from collections.abc import Set

from policies.engine.text import visible_length
from policies.engine.types import (
    MIN_JUSTIFICATION_LENGTH,
    REASON_NO_COMPLIANT_PROVIDER,
    REASON_RATE_LIMITED,
    REFUSAL_JUSTIFICATION,
    REFUSAL_NO_COMPLIANT_PROVIDER,
    REFUSAL_NO_POLICY,
    REFUSAL_OVERRIDE_NOT_ALLOWED,
    REFUSAL_OVERRIDE_PROVIDER_NOT_COMPLIANT,
    REFUSAL_OVERRIDE_PROVIDER_UNKNOWN,
    REFUSAL_REGION_NOT_CONFIGURED,
    REFUSAL_TEACHER_NOT_AUTHORISED,
    REFUSAL_TEACHER_REGION,
    REFUSAL_TEACHER_UNKNOWN,
    Decision,
    DispatchContext,
    OverrideRequest,
    PassedOver,
    ProviderSpec,
    Snapshot,
)

_NO_SATURATION: frozenset[str] = frozenset()
_COMPILED_MAX = 100_000  # contexts kept per snapshot; the vocabulary allows a few hundred


def resolve(
    context: DispatchContext,
    snapshot: Snapshot,
    *,
    saturated: Set[str] = _NO_SATURATION,
) -> Decision:
    """Decide which policy and provider serve `context`.

    `saturated` names providers currently at their rate limit; they are skipped like
    non-compliant ones, with their own reason.
    """
    decision = snapshot.compiled.get(context)
    if decision is None:
        decision = _walk(context, snapshot, _NO_SATURATION)
        if len(snapshot.compiled) < _COMPILED_MAX:
            snapshot.compiled[context] = decision
    if decision.provider is None or not saturated or decision.provider.id not in saturated:
        return decision
    return _walk(context, snapshot, saturated)


def _walk(context: DispatchContext, snapshot: Snapshot, saturated: Set[str]) -> Decision:
    """Walk the candidates in order to the first compliant, unsaturated provider."""
    rule = snapshot.rules.get(context.region)
    if rule is None:
        return Decision(
            context=context,
            refusal_code=REFUSAL_REGION_NOT_CONFIGURED,
            refusal_detail=f"{context.region} has no regional routing rule, so no provider may serve it",
        )
    table = snapshot.noncompliance[context.region]
    passed: list[PassedOver] = []
    candidates = 0
    for level, policy in snapshot.iter_candidates(context):
        candidates += 1
        for provider_id in policy.chain:
            provider = snapshot.providers.get(provider_id)
            why = table.get(provider_id, ("provider_unknown", f"provider {provider_id} does not exist"))
            if why is None and provider_id in saturated:
                slug = provider.slug if provider else provider_id
                why = (REASON_RATE_LIMITED, f"{slug} is at its rate limit")
            if why is None and provider is not None:
                return Decision(
                    context=context,
                    policy=policy,
                    provider=provider,
                    level=level,
                    passed_over=tuple(passed),
                    region_rule=rule,
                )
            passed.append(
                PassedOver(
                    kind="provider",
                    id=provider_id,
                    name=provider.slug if provider else provider_id,
                    reason=why[0] if why else "provider_unknown",
                    detail=why[1] if why else "",
                    policy_id=policy.id,
                )
            )
        passed.append(
            PassedOver(
                kind="policy",
                id=policy.id,
                name=policy.name,
                reason=REASON_NO_COMPLIANT_PROVIDER,
                detail=f"no provider of {policy.name!r} may serve {context.region}",
            )
        )
    if not candidates:
        return Decision(
            context=context,
            passed_over=tuple(passed),
            region_rule=rule,
            refusal_code=REFUSAL_NO_POLICY,
            refusal_detail=(
                f"no active policy matches {context.subject}/{context.grade_band}/{context.region} "
                "and there is no default policy"
            ),
        )
    return Decision(
        context=context,
        passed_over=tuple(passed),
        region_rule=rule,
        refusal_code=REFUSAL_NO_COMPLIANT_PROVIDER,
        refusal_detail=(
            f"no provider of the {candidates} matching policies is compliant in {context.region} ({_summary(passed)})"
        ),
    )


def resolve_override(
    context: DispatchContext,
    snapshot: Snapshot,
    override: OverrideRequest,
    *,
    saturated: Set[str] = _NO_SATURATION,
) -> Decision:
    """Decide a teacher's override: the policy's decision with the teacher's provider, or a refusal."""
    base = resolve(context, snapshot, saturated=saturated)
    if not override.client_authorised:
        return _refuse(
            base,
            override,
            REFUSAL_TEACHER_NOT_AUTHORISED,
            f"this client is not authorised to act for teacher {override.teacher_id!r}",
        )
    if not override.teacher_known:
        return _refuse(
            base, override, REFUSAL_TEACHER_UNKNOWN, f"no active teacher has teacher_id {override.teacher_id!r}"
        )
    if override.teacher_regions is not None and context.region not in override.teacher_regions:
        regions = ", ".join(sorted(override.teacher_regions)) or "none"
        return _refuse(
            base,
            override,
            REFUSAL_TEACHER_REGION,
            f"teacher {override.teacher_id!r} does not teach in {context.region} (their regions: {regions})",
        )
    if not base.accepted or base.policy is None:
        return _refuse(base, override, base.refusal_code, base.refusal_detail)
    if not base.policy.allow_teacher_override:
        return _refuse(
            base,
            override,
            REFUSAL_OVERRIDE_NOT_ALLOWED,
            f"policy {base.policy.name!r} does not allow teacher overrides",
        )
    if visible_length(override.justification) < MIN_JUSTIFICATION_LENGTH:
        return _refuse(
            base,
            override,
            REFUSAL_JUSTIFICATION,
            f"a justification of at least {MIN_JUSTIFICATION_LENGTH} characters is required"
            " (spaces and invisible characters do not count)",
        )
    provider = snapshot.provider(override.provider_id)
    if provider is None:
        return _refuse(
            base, override, REFUSAL_OVERRIDE_PROVIDER_UNKNOWN, f"no provider has id or slug {override.provider_id!r}"
        )
    why = snapshot.why_not(provider.id, context.region)
    if why is None and provider.id in saturated:
        why = (REASON_RATE_LIMITED, f"{provider.slug} is at its rate limit")
    if why is not None:
        return _refuse(base, override, REFUSAL_OVERRIDE_PROVIDER_NOT_COMPLIANT, why[1])
    return Decision(
        context=context,
        policy=base.policy,
        provider=provider,
        level=base.level,
        passed_over=base.passed_over,
        override=override,
        region_rule=base.region_rule,
    )


def _refuse(base: Decision, override: OverrideRequest, code: str, detail: str) -> Decision:
    return Decision(
        context=base.context,
        policy=base.policy,
        level=base.level,
        passed_over=base.passed_over,
        refusal_code=code,
        refusal_detail=detail,
        override=override,
        region_rule=base.region_rule,
    )


def _summary(passed: list[PassedOver]) -> str:
    reasons = sorted({p.reason for p in passed if p.kind == "provider"})
    return "providers passed over: " + ", ".join(reasons) if reasons else "no providers in their chains"


def available_providers(snapshot: Snapshot, region: str) -> tuple[list[ProviderSpec], list[PassedOver]]:
    """Providers that may serve `region` (by name), and the others with why not."""
    available: list[ProviderSpec] = []
    unavailable: list[PassedOver] = []
    for provider in sorted(snapshot.providers.values(), key=lambda p: (p.name, p.slug)):
        why = snapshot.why_not(provider.id, region)
        if why is None:
            available.append(provider)
        else:
            unavailable.append(PassedOver("provider", provider.id, provider.slug, why[0], why[1]))
    return available, unavailable
