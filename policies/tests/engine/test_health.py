"""Health as an input of resolution: unhealthy providers are skipped (reason `unhealthy`, with when
they will be probed), health never adds a provider, never refuses, and degrades to the first
compliant provider when every compliant one is unhealthy."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from policies.engine import DispatchContext, OverrideRequest, resolve, resolve_override
from policies.engine.types import REASON_RATE_LIMITED, REASON_UNHEALTHY
from policies.tests.engine.test_properties import (
    PROVIDER_IDS,
    compliant,
    contexts,
    policies,
    providers,
    reference,
    rules,
)
from policies.tests.engine.worlds import policy, provider, rule, world

MATH = DispatchContext("mathematics", "elementary", "us_east")
WHEN = "2026-11-30T10:00:00Z"
COOLING = {"a": f"cooling down after provider-side failures; it will be probed from {WHEN}"}


def _world(*, blocked: tuple[str, ...] = ()):
    return world(
        [provider("a"), provider("b"), provider("c")],
        [policy("p", "a", "b", subject="mathematics"), policy("d", "c")],
        [rule("us_east", blocked=blocked)],
    )


def test_a_cooling_provider_is_passed_over_to_its_fallback_saying_when_it_will_be_probed():
    decision = resolve(MATH, _world(), unhealthy=COOLING, next_probe={"a": WHEN})
    assert decision.provider is not None and decision.provider.id == "b" and not decision.degraded
    step = decision.passed_over[0]
    assert (step.id, step.reason, step.next_probe_at) == ("a", REASON_UNHEALTHY, WHEN)
    assert WHEN in step.detail


def test_when_every_compliant_provider_of_every_candidate_is_unhealthy_the_first_serves_degraded():
    unhealthy = dict.fromkeys("abc", "cooling down")
    decision = resolve(MATH, _world(), unhealthy=unhealthy)
    assert decision.accepted and decision.degraded
    assert decision.provider is not None and decision.provider.id == "a"


def test_degraded_serves_the_first_compliant_one_never_a_blocked_one():
    unhealthy = dict.fromkeys("abc", "cooling down")
    decision = resolve(MATH, _world(blocked=("a",)), unhealthy=unhealthy)
    assert decision.provider is not None and decision.provider.id == "b" and decision.degraded
    assert decision.passed_over[0].id == "a" and decision.passed_over[0].reason != REASON_UNHEALTHY


def test_health_never_turns_a_refusal_into_an_answer():
    snapshot = _world(blocked=("a", "b", "c"))
    assert not resolve(MATH, snapshot, unhealthy=dict.fromkeys("abc", "cooling")).accepted


def test_a_saturated_provider_is_not_the_degraded_answer():
    decision = resolve(MATH, _world(), saturated={"a"}, unhealthy=dict.fromkeys("abc", "cooling"))
    assert decision.provider is not None and decision.provider.id == "b" and decision.degraded
    assert decision.passed_over[0].reason == REASON_RATE_LIMITED


def test_an_override_to_an_unhealthy_provider_is_served_degraded():
    override = OverrideRequest(provider_id="c", justification="the class needs this provider for its project")
    decision = resolve_override(MATH, _world(), override, unhealthy={"c": "cooling down"})
    assert decision.override_applied and decision.degraded


@settings(max_examples=200, deadline=None)
@given(providers(), policies(), rules(), contexts, st.sets(st.sampled_from(PROVIDER_IDS)))
def test_health_only_removes_providers_and_never_refuses(provs, pols, rls, context, sick):
    snapshot = world(provs, pols, rls)
    resolve(context, snapshot)  # compiled first, as in production
    decision = resolve(context, snapshot, unhealthy=dict.fromkeys(sick, "cooling down"))
    healthy_expected = reference(context, [p for p in provs if p.id not in sick], pols, rls)
    any_expected = reference(context, provs, pols, rls)
    by_rule = {r.region: r for r in rls}
    if decision.provider is not None:  # never a provider that may not serve the region
        assert compliant(decision.provider, by_rule.get(context.region))
    assert decision.accepted == (any_expected is not None)  # health never refuses, never adds
    assert decision == resolve(context, world(provs, pols, rls), unhealthy=dict.fromkeys(sick, "cooling down"))
    if decision.policy is None or decision.provider is None:
        return
    if healthy_expected is not None:
        assert not decision.degraded
        assert (decision.policy.id, decision.provider.id) == healthy_expected
    elif any_expected is not None:
        assert decision.degraded and (decision.policy.id, decision.provider.id) == any_expected
