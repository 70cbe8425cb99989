"""Property tests over random worlds: the engine never names a non-compliant provider, and it
agrees with a brute-force reading of the spec written independently of the engine's indexes."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.engine import (
    BudgetState,
    DispatchContext,
    OverrideRequest,
    PolicySpec,
    ProviderSpec,
    RegionRule,
    budget_apply,
    resolve,
)
from policies.engine.resolve import available_providers, resolve_override
from policies.tests.engine.worlds import world

SUBJECTS = ["mathematics", "science"]
GRADES = ["elementary", "high"]
REGIONS = ["us_east", "eu_west", "africa_south"]
FRAMEWORKS = ["FERPA", "GDPR", "POPIA"]
PROVIDER_IDS = [f"p{i}" for i in range(6)]


@st.composite
def providers(draw) -> list[ProviderSpec]:
    return [
        ProviderSpec(
            id=pid,
            slug=f"{pid}-slug",
            name=pid,
            endpoint_url="https://x.example",
            hosting_regions=frozenset(draw(st.sets(st.sampled_from(REGIONS)))),
            compliance_frameworks=frozenset(draw(st.sets(st.sampled_from(FRAMEWORKS)))),
            encrypts=draw(st.booleans()),
            active=draw(st.booleans()),
            requests_per_minute=60,
            tokens_per_minute=100,
            cost_per_1k_input=0.0,
            cost_per_1k_output=0.0,
        )
        for pid in PROVIDER_IDS
    ]


@st.composite
def rules(draw) -> list[RegionRule]:
    regions = draw(st.sets(st.sampled_from(REGIONS), min_size=1))
    return [
        RegionRule(
            region=region,
            data_center="dc",
            data_residency_required=draw(st.booleans()),
            encryption_required=draw(st.booleans()),
            audit_logging_required=True,
            allowed_providers=frozenset(draw(st.sets(st.sampled_from(PROVIDER_IDS), max_size=3))),
            blocked_providers=frozenset(draw(st.sets(st.sampled_from(PROVIDER_IDS), max_size=3))),
            compliance_frameworks=frozenset(draw(st.sets(st.sampled_from(FRAMEWORKS), max_size=1))),
        )
        for region in sorted(regions)
    ]


@st.composite
def policies(draw) -> list[PolicySpec]:
    result = []
    for i in range(draw(st.integers(0, 8))):
        shape = draw(st.sampled_from(["exact", "subject_grade", "subject", "default"]))
        subject = draw(st.sampled_from(SUBJECTS)) if shape != "default" else ""
        grade = draw(st.sampled_from(GRADES)) if shape in ("exact", "subject_grade") else ""
        region = draw(st.sampled_from(REGIONS)) if shape == "exact" else ""
        chain = draw(st.lists(st.sampled_from(PROVIDER_IDS), min_size=1, max_size=4, unique=True))
        result.append(
            PolicySpec(
                id=f"pol{i}",
                name=f"pol{i}",
                subject=subject,
                grade_band=grade,
                region=region,
                primary_provider_id=chain[0],
                fallback_provider_ids=tuple(chain[1:]),
                template_ids=(),
                moderation_threshold=0.5,
                allow_teacher_override=draw(st.booleans()),
                priority=draw(st.integers(0, 3)),
            )
        )
    return result


contexts = st.builds(DispatchContext, st.sampled_from(SUBJECTS), st.sampled_from(GRADES), st.sampled_from(REGIONS))


def compliant(p: ProviderSpec | None, r: RegionRule | None) -> bool:
    """The spec's definition, spelled out independently of the engine."""
    if p is None or r is None:
        return False
    return (
        p.active
        and p.id not in r.blocked_providers
        and (not r.allowed_providers or p.id in r.allowed_providers)
        and (not r.data_residency_required or r.region in p.hosting_regions)
        and (not r.encryption_required or p.encrypts)
        and r.compliance_frameworks <= p.compliance_frameworks
    )


def reference(context: DispatchContext, provs: list[ProviderSpec], pols: list[PolicySpec], rls: list[RegionRule]):
    by_id = {p.id: p for p in provs}
    region_rule = {r.region: r for r in rls}.get(context.region)
    if region_rule is None:
        return None
    levels = [
        lambda p: (p.subject, p.grade_band, p.region) == (context.subject, context.grade_band, context.region),
        lambda p: (p.subject, p.grade_band, p.region) == (context.subject, context.grade_band, ""),
        lambda p: (p.subject, p.grade_band, p.region) == (context.subject, "", ""),
        lambda p: (p.subject, p.grade_band, p.region) == ("", "", ""),
    ]
    for matches in levels:
        for pol in sorted((p for p in pols if matches(p)), key=lambda p: (-p.priority, p.name, p.id)):
            for pid in (pol.primary_provider_id, *pol.fallback_provider_ids):
                if compliant(by_id.get(pid), region_rule):
                    return pol.id, pid
    return None


@settings(max_examples=300, deadline=None)
@given(providers(), policies(), rules(), contexts)
def test_decision_is_compliant_and_matches_brute_force(provs, pols, rls, context):
    snapshot = world(provs, pols, rls)
    decision = resolve(context, snapshot)
    expected = reference(context, provs, pols, rls)
    if expected is None:
        assert not decision.accepted and decision.provider is None
    else:
        assert decision.accepted
        assert decision.policy is not None and decision.provider is not None
        assert (decision.policy.id, decision.provider.id) == expected
        assert compliant(decision.provider, snapshot.rules[context.region])


@settings(max_examples=200, deadline=None)
@given(providers(), policies(), rules(), contexts, st.sampled_from(PROVIDER_IDS))
def test_an_override_never_returns_a_non_compliant_provider(provs, pols, rls, context, wanted):
    snapshot = world(provs, pols, rls)
    decision = resolve_override(context, snapshot, OverrideRequest(wanted, "a justification long enough to count"))
    if decision.accepted:
        assert decision.provider is not None and decision.provider.id == wanted
        assert compliant(decision.provider, snapshot.rules[context.region])


@settings(max_examples=50, deadline=None)
@given(providers(), policies(), rules(), contexts, st.sampled_from(PROVIDER_IDS), st.sets(st.sampled_from(REGIONS)))
def test_an_override_is_accepted_only_in_a_region_the_teacher_teaches_in(provs, pols, rls, context, wanted, regions):
    snapshot = world(provs, pols, rls)
    override = OverrideRequest(wanted, "a justification long enough to count", "t1", teacher_regions=frozenset(regions))
    decision = resolve_override(context, snapshot, override)
    if context.region not in regions:
        assert not decision.accepted and decision.refusal_code == "teacher_region_not_allowed"
    elif decision.accepted:
        assert decision.provider is not None and decision.provider.id == wanted


@settings(max_examples=100, deadline=None)
@given(providers(), rules(), st.sampled_from(REGIONS))
def test_available_providers_are_exactly_the_compliant_ones(provs, rls, region):
    snapshot = world(provs, [], rls)
    available, unavailable = available_providers(snapshot, region)
    rule_ = snapshot.rules.get(region)
    assert {p.id for p in available} == {p.id for p in provs if compliant(p, rule_)}
    assert {u.id for u in unavailable} | {p.id for p in available} == set(PROVIDER_IDS)


@settings(max_examples=300, deadline=None)
@given(providers(), policies(), rules(), contexts, st.sets(st.sampled_from(PROVIDER_IDS)))
def test_a_compiled_context_decides_like_a_fresh_walk_under_any_saturation(provs, pols, rls, context, saturated):
    """resolve() keeps each context's unsaturated decision in the snapshot; with providers at their
    rate limit it must still decide exactly like the brute-force reading that skips them."""
    snapshot = world(provs, pols, rls)
    warm = resolve(context, snapshot)  # compiles the context
    assert context in snapshot.compiled and resolve(context, snapshot) is warm
    decision = resolve(context, snapshot, saturated=saturated)
    unsaturated = [p for p in provs if p.id not in saturated]
    expected = reference(context, unsaturated, pols, rls)
    if expected is None:
        assert not decision.accepted
    else:
        assert decision.policy is not None and decision.provider is not None
        assert (decision.policy.id, decision.provider.id) == expected
    fresh = resolve(context, world(provs, pols, rls), saturated=saturated)
    assert decision == fresh


@settings(max_examples=300, deadline=None)
@given(
    providers(),
    policies(),
    rules(),
    contexts,
    st.sets(st.sampled_from(PROVIDER_IDS)),
    st.lists(st.integers(0, 50), min_size=len(PROVIDER_IDS), max_size=len(PROVIDER_IDS)),
    st.sets(st.sampled_from(PROVIDER_IDS)),
)
def test_a_spent_budget_takes_the_cheapest_compliant_provider_of_the_matching_chains(
    provs, pols, rls, context, saturated, prices, unhealthy
):
    """Never a non-compliant (blocked) or saturated provider; the cheapest of every matching chain,
    healthy ones only unless every compliant one is unhealthy (then still `degraded`); and only when
    the policy's own walk would serve the context."""
    provs = [
        dataclasses.replace(p, cost_per_1k_input=price / 1000, cost_per_1k_output=price / 500)
        for p, price in zip(provs, prices, strict=True)
    ]
    snapshot = world(provs, pols, rls)
    spent = BudgetState(period="day", limit=Decimal("1"), spent=Decimal("1"), on_exhausted="cheapest")
    walked = resolve(context, snapshot, saturated=saturated, unhealthy=dict.fromkeys(unhealthy, "cooling down"))
    decision = budget_apply(walked, snapshot, spent, saturated=saturated, unhealthy=unhealthy)
    assert decision.accepted == walked.accepted and decision.degraded == walked.degraded
    if not decision.accepted:
        return
    assert decision.provider is not None and decision.provider.id not in saturated
    rule = snapshot.rules[context.region]
    assert compliant(decision.provider, rule)
    matching = [
        p
        for p in pols
        if (p.subject, p.grade_band, p.region)
        in {
            (context.subject, context.grade_band, context.region),
            (context.subject, context.grade_band, ""),
            (context.subject, "", ""),
            ("", "", ""),
        }
    ]
    by_id = {p.id: p for p in provs}
    candidates = {
        pid
        for pol in matching
        for pid in pol.chain
        if pid not in saturated and compliant(by_id.get(pid), rule) and (walked.degraded or pid not in unhealthy)
    }
    assert decision.degraded or decision.provider.id not in unhealthy
    price = lambda p: p.cost_per_1k_input + p.cost_per_1k_output  # noqa: E731
    assert price(decision.provider) == min(price(by_id[pid]) for pid in candidates)
