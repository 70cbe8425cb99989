"""resolve(context, snapshot) -> Decision: the resolution rules of the product, in one place.

Compliance itself (may this provider serve this region, for this grade band, on the snapshot's
date?) is judged when the snapshot is built, per region and band (`policies.engine.compliance`,
`Snapshot.judged`); resolution only reads those judgements (`judgements`, `why_not`), and a
decision names the agreement its provider relies on and carries its region's judgements.

1. Candidate policies: exact (subject + grade band + region), then subject + grade band, then
   subject only, then the default policy; within a level, higher priority first.
2. Each candidate's chain (primary, then fallbacks in order) is checked against the region's
   routing rule; the first compliant provider that is not at its rate limit and not unhealthy
   wins. Health (`unhealthy`, an input like saturation) never adds a provider and never refuses:
   when every compliant, unsaturated provider of every candidate is unhealthy, the first of them
   serves and the decision is `degraded`.
3. A policy whose chain yields nothing is passed over for the next candidate.
4. No routing rule for the region, or no compliant provider anywhere: a refusal.

Each context is walked once per snapshot without saturation or health and the decision kept in
`snapshot.compiled`; saturation and health can only change a decision whose provider is saturated
or unhealthy (every provider before it was non-compliant, which they do not change), so only then
is the context walked again with them.

An override is checked against the decision the same context would get without it: the caller
must be authorised to act for the teacher (first, so a caller that is not learns nothing about the
teacher, not even whether they exist), the teacher must be known and teach in the region (who may
ask comes before what is asked), the policy must allow overrides, the justification must be
meaningful (at least 20 visible characters, `visible_length`), and the provider must be
compliant in the region. A provider blocked in a region is never returned for that region.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Set
from types import MappingProxyType

from policies.engine.compliance import REASON_UNKNOWN, Judgement, ProviderSpec
from policies.engine.types import (
    BAND_UNKNOWN,
    LEVEL_DEFAULT,
    LEVEL_EXACT,
    LEVEL_SUBJECT,
    LEVEL_SUBJECT_GRADE,
    MIN_JUSTIFICATION_LENGTH,
    REASON_NO_COMPLIANT_PROVIDER,
    REASON_RATE_LIMITED,
    REASON_UNHEALTHY,
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
    PolicySpec,
    Snapshot,
)

_NO_SATURATION: frozenset[str] = frozenset()
_NO_HEALTH_ISSUES: Mapping[str, str] = MappingProxyType({})
_COMPILED_MAX = 100_000  # contexts kept per snapshot; the vocabulary allows a few hundred


def resolve(
    context: DispatchContext,
    snapshot: Snapshot,
    *,
    saturated: Set[str] = _NO_SATURATION,
    unhealthy: Mapping[str, str] = _NO_HEALTH_ISSUES,
    next_probe: Mapping[str, str] = _NO_HEALTH_ISSUES,
) -> Decision:
    """Decide which policy and provider serve `context`.

    `saturated` names providers currently at their rate limit; they are skipped like
    non-compliant ones, with their own reason. `unhealthy` names providers cooling down (id -> what
    the explanation says, e.g. when it will be probed; `next_probe`: id -> that time, ISO 8601):
    skipped too, unless every compliant one is (then the first serves, `degraded`).
    """
    decision = snapshot.compiled.get(context)
    if decision is None:
        decision = _walk(context, snapshot, _NO_SATURATION, _NO_HEALTH_ISSUES, _NO_HEALTH_ISSUES)
        if len(snapshot.compiled) < _COMPILED_MAX:
            snapshot.compiled[context] = decision
    if decision.provider is None or (decision.provider.id not in saturated and decision.provider.id not in unhealthy):
        return decision
    return _walk(context, snapshot, saturated, unhealthy, next_probe)


def candidate_policies(context: DispatchContext, snapshot: Snapshot) -> Iterator[tuple[str, PolicySpec]]:
    """Active policies that match `context` (rule 1), most specific level first, then by priority;
    lazily: resolution usually stops at the first one."""
    shapes = (
        (LEVEL_EXACT, (context.subject, context.grade_band, context.region)),
        (LEVEL_SUBJECT_GRADE, (context.subject, context.grade_band, "")),
        (LEVEL_SUBJECT, (context.subject, "", "")),
        (LEVEL_DEFAULT, ("", "", "")),
    )
    for level, shape in shapes:
        for policy in snapshot.by_shape.get(shape, ()):
            yield level, policy


def judgements(snapshot: Snapshot, region: str, grade_band: str = "") -> Mapping[str, Judgement] | None:
    """Every provider judged for a request of `grade_band` in `region` (None: no routing rule). Without
    a band, the youngest band's; a band the snapshot does not name is judged as age 0."""
    tables = snapshot.judged.get(region)
    if tables is None:
        return None
    table = tables.get(grade_band)
    return tables[BAND_UNKNOWN] if table is None else table


def _judgement_in(table: Mapping[str, Judgement] | None, provider_id: str, region: str) -> Judgement:
    """A provider's judgement in one of `Snapshot.judged`'s tables for `region` (None: the region
    has no routing rule), or why there is none. (A replay reads `Decision.judged` the same way in
    `policies.services.dispatch`, without a second call into the engine.)"""
    if table is None:
        return Judgement((REFUSAL_REGION_NOT_CONFIGURED, f"{region} has no regional routing rule"))
    found = table.get(provider_id)
    return Judgement((REASON_UNKNOWN, f"provider {provider_id} does not exist")) if found is None else found


def why_not(snapshot: Snapshot, provider_id: str, region: str, grade_band: str = "") -> tuple[str, str] | None:
    """Why a provider may not serve a region for a grade band (code, detail), or None when it may:
    the snapshot's judgement (`judgements`), or why there is none to read. Without a band, the
    answer for the youngest band (the strictest)."""
    return judgement(snapshot, provider_id, region, grade_band).why


def judgement(snapshot: Snapshot, provider_id: str, region: str, grade_band: str = "") -> Judgement:
    """`why_not` with the agreement a compliant provider relies on."""
    return _judgement_in(judgements(snapshot, region, grade_band), provider_id, region)


def _walk(
    context: DispatchContext,
    snapshot: Snapshot,
    saturated: Set[str],
    unhealthy: Mapping[str, str],
    next_probe: Mapping[str, str],
) -> Decision:
    """Walk the candidates in order to the first compliant, unsaturated, healthy provider; else
    the first compliant, unsaturated one that is unhealthy (degraded); else a refusal."""
    rule = snapshot.rules.get(context.region)
    if rule is None:
        return Decision(
            context=context,
            refusal_code=REFUSAL_REGION_NOT_CONFIGURED,
            refusal_detail=f"{context.region} has no regional routing rule, so no provider may serve it",
        )
    table = judgements(snapshot, context.region, context.grade_band) or {}
    passed: list[PassedOver] = []
    candidates = 0
    fallback: Decision | None = None  # the first compliant provider skipped only for its health
    for level, policy in candidate_policies(context, snapshot):
        candidates += 1
        for provider_id in policy.chain:
            provider = snapshot.providers.get(provider_id)
            judged = _judgement_in(table, provider_id, context.region)
            why = judged.why
            if why is None and provider_id in saturated:
                slug = provider.slug if provider else provider_id
                why = (REASON_RATE_LIMITED, f"{slug} is at its rate limit")
            if why is None and provider is not None and provider_id in unhealthy:
                if fallback is None:
                    fallback = Decision(
                        context=context,
                        policy=policy,
                        provider=provider,
                        level=level,
                        passed_over=tuple(passed),
                        region_rule=rule,
                        degraded=True,
                        agreement=judged.agreement,
                        judged=table,
                    )
                passed.append(
                    PassedOver(
                        kind="provider",
                        id=provider_id,
                        name=provider.slug,
                        reason=REASON_UNHEALTHY,
                        detail=f"{provider.slug} is {unhealthy[provider_id]}",
                        policy_id=policy.id,
                        next_probe_at=next_probe.get(provider_id, ""),
                        provider_name=provider.name,
                    )
                )
                continue
            if why is None and provider is not None:
                return Decision(
                    context=context,
                    policy=policy,
                    provider=provider,
                    level=level,
                    passed_over=tuple(passed),
                    region_rule=rule,
                    agreement=judged.agreement,
                    judged=table,
                )
            passed.append(
                PassedOver(
                    kind="provider",
                    id=provider_id,
                    name=provider.slug if provider else provider_id,
                    reason=why[0] if why else REASON_UNKNOWN,
                    detail=why[1] if why else "",
                    policy_id=policy.id,
                    provider_name=provider.name if provider else "",
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
    if fallback is not None:
        return fallback  # health never refuses: every compliant provider is unhealthy
    if not candidates:
        return Decision(
            context=context,
            passed_over=tuple(passed),
            region_rule=rule,
            judged=table,
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
        judged=table,
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
    unhealthy: Mapping[str, str] = _NO_HEALTH_ISSUES,
    next_probe: Mapping[str, str] = _NO_HEALTH_ISSUES,
) -> Decision:
    """Decide a teacher's override: the policy's decision with the teacher's provider, or a refusal.
    The teacher's provider is served even when unhealthy (health never refuses), `degraded`."""
    base = resolve(context, snapshot, saturated=saturated, unhealthy=unhealthy, next_probe=next_probe)
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
    judged = judgement(snapshot, provider.id, context.region, context.grade_band)
    why = judged.why
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
        agreement=judged.agreement,
        degraded=provider.id in unhealthy,
        judged=base.judged,
    )


# Letters and symbols (categories Lo, So) that render as nothing or as a blank.
BLANK_GRAPHICS = frozenset({"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"})


def visible_length(text: str) -> int:
    """How long a justification is, in characters a reader can see.

    Counted: every character except whitespace (Unicode's, including no-break and ideographic
    spaces), control and format characters (category C*: zero-width spaces and joiners, direction
    marks, soft hyphens, tags, byte-order marks, unassigned and private-use code points), combining
    marks (category M*: they only decorate a character that is counted on its own) and the letters
    and symbols Unicode draws as blanks (Hangul fillers, the blank Braille pattern). So twenty
    invisible or blank characters are a justification of length 0, and "café" written with a
    combining accent is 4 like its precomposed form.
    """
    return sum(
        1
        for char in text
        if not char.isspace() and char not in BLANK_GRAPHICS and unicodedata.category(char)[0] not in "CMZ"
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
        judged=base.judged,
    )


def _summary(passed: list[PassedOver]) -> str:
    reasons = sorted({p.reason for p in passed if p.kind == "provider"})
    return "providers passed over: " + ", ".join(reasons) if reasons else "no providers in their chains"


def available_providers(
    snapshot: Snapshot, region: str, grade_band: str = ""
) -> tuple[list[ProviderSpec], list[PassedOver]]:
    """Providers that may serve `region` for `grade_band` (by name), and the others with why not.
    Without a band, the answer for the youngest band."""
    available = snapshot.available_in(region, grade_band)
    unavailable: list[PassedOver] = []
    for provider in sorted(snapshot.providers.values(), key=lambda p: (p.name, p.slug)):
        why = why_not(snapshot, provider.id, region, grade_band)
        if why is not None:
            unavailable.append(
                PassedOver("provider", provider.id, provider.slug, why[0], why[1], provider_name=provider.name)
            )
    return list(available), unavailable


def compile_contexts(snapshot: Snapshot, contexts: Iterable[DispatchContext]) -> Snapshot:
    """Decide each of `contexts` now (without saturation or health issues) and keep the decisions in
    `snapshot.compiled`: what `resolve` would do on each one's first sight, done when the snapshot
    is built, so a read of the snapshot (`Snapshot.offer`) never runs the engine."""
    for context in contexts:
        snapshot.compiled[context] = _walk(context, snapshot, _NO_SATURATION, _NO_HEALTH_ISSUES, _NO_HEALTH_ISSUES)
    return snapshot
