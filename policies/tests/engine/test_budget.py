"""What a client's budget does to a decision (policies.engine.budget), on plain data."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from policies.engine import (
    BudgetState,
    DispatchContext,
    OverrideRequest,
    ProviderSpec,
    budget_apply,
    resolve,
    resolve_override,
)
from policies.engine.types import REASON_NOT_CHEAPEST, REFUSAL_BUDGET_EXHAUSTED, REFUSAL_NO_COMPLIANT_PROVIDER
from policies.tests.engine.worlds import policy, provider, rule, world

MATH = DispatchContext("mathematics", "elementary", "us_east")


def priced(pid: str, per_1k_in: float, per_1k_out: float, **kwargs) -> ProviderSpec:
    return dataclasses.replace(provider(pid, **kwargs), cost_per_1k_input=per_1k_in, cost_per_1k_output=per_1k_out)


def budget(spent: str, *, on_exhausted: str = "cheapest", limit: str = "0.05") -> BudgetState:
    return BudgetState(period="day", limit=Decimal(limit), spent=Decimal(spent), on_exhausted=on_exhausted)


# dear: the policy's primary; cheap: the exact policy's fallback; cheapest: a default policy's fallback,
# blocked in us_east; budget_pick: the default policy's primary, cheaper than dear.
DEAR, CHEAP, BLOCKED = priced("dear", 0.03, 0.06), priced("cheap", 0.001, 0.002), priced("blocked", 0.0, 0.0)
MID = priced("mid", 0.002, 0.002)
SNAPSHOT = world(
    [DEAR, CHEAP, BLOCKED, MID],
    [
        policy("exact", "dear", "cheap", subject="mathematics", grade_band="elementary", region="us_east"),
        policy("default", "mid", "blocked"),
    ],
    [rule("us_east", blocked=("blocked",))],
)


def test_a_budget_not_spent_changes_nothing_and_rides_along():
    state = budget("0.049")
    decided = budget_apply(resolve(MATH, SNAPSHOT), SNAPSHOT, state)
    assert decided.provider == DEAR and decided.budget == state and not decided.budget_rule
    assert state.remaining == Decimal("0.001") and not state.exhausted


def test_spent_with_refuse_is_refused_budget_exhausted():
    state = budget("0.05", on_exhausted="refuse")
    decided = budget_apply(resolve(MATH, SNAPSHOT), SNAPSHOT, state)
    assert not decided.accepted and decided.provider is None
    assert decided.refusal_code == REFUSAL_BUDGET_EXHAUSTED and "day budget of 0.05" in decided.refusal_detail
    assert decided.budget is not None and decided.budget.exhausted and decided.budget.remaining == 0


def test_spent_with_cheapest_takes_the_cheapest_compliant_provider_of_every_matching_chain_never_a_blocked_one():
    decided = budget_apply(resolve(MATH, SNAPSHOT), SNAPSHOT, budget("0.06"))
    assert decided.accepted and decided.provider == CHEAP  # 0.003 < 0.004 < 0.09; blocked: 0
    assert decided.policy is not None and decided.policy.id == "exact"
    step = decided.passed_over[-1]
    assert (step.id, step.reason) == ("dear", REASON_NOT_CHEAPEST)
    assert "cheap-slug serves as the cheapest compliant provider" in decided.budget_rule


def test_cheapest_is_searched_in_lower_levels_too_and_names_that_policy():
    snapshot = world(
        [DEAR, MID],
        [policy("exact", "dear", subject="mathematics", grade_band="elementary", region="us_east"), policy("d", "mid")],
        [rule("us_east")],
    )
    decided = budget_apply(resolve(MATH, snapshot), snapshot, budget("1"))
    assert decided.provider == MID and decided.policy is not None and decided.policy.id == "d"
    assert decided.level == "default"


def test_cheapest_passes_over_a_provider_at_its_rate_limit():
    decided = budget_apply(resolve(MATH, SNAPSHOT), SNAPSHOT, budget("1"), saturated={"cheap"})
    assert decided.provider == MID


def test_the_policy_choice_already_cheapest_stays_and_says_so():
    snapshot = world([CHEAP, DEAR], [policy("p", "cheap", "dear")], [rule("us_east")])
    decided = budget_apply(resolve(MATH, snapshot), snapshot, budget("1"))
    assert decided.provider == CHEAP and not any(p.reason == REASON_NOT_CHEAPEST for p in decided.passed_over)
    assert "cheapest compliant" in decided.budget_rule


def test_cheapest_never_makes_a_refused_context_accepted():
    snapshot = world([BLOCKED], [policy("p", "blocked")], [rule("us_east", blocked=("blocked",))])
    decided = budget_apply(resolve(MATH, snapshot), snapshot, budget("1"))
    assert decided.refusal_code == REFUSAL_NO_COMPLIANT_PROVIDER and decided.provider is None


def test_an_override_on_a_spent_budget_is_refused_in_either_mode():
    override = OverrideRequest(provider_id="mid", justification="the class needs this model for a reason")
    for mode in ("refuse", "cheapest"):
        decided = budget_apply(resolve_override(MATH, SNAPSHOT, override), SNAPSHOT, budget("1", on_exhausted=mode))
        assert decided.refusal_code == REFUSAL_BUDGET_EXHAUSTED and not decided.accepted


def test_cheapest_leaves_out_an_unhealthy_provider_while_a_compliant_one_is_healthy():
    decided = budget_apply(resolve(MATH, SNAPSHOT), SNAPSHOT, budget("1"), unhealthy={"cheap"})
    assert decided.provider == MID and not decided.degraded


def test_when_every_cheap_option_is_cooling_down_the_cheapest_compliant_one_serves_degraded_never_a_blocked_one():
    """Health never refuses, and a spent budget still pays for the cheapest: every compliant provider
    cooling down, the walk is degraded (dear, first) and the budget takes the cheapest of them."""
    down = {"dear", "cheap", "mid"}
    walked = resolve(MATH, SNAPSHOT, unhealthy=dict.fromkeys(down, "cooling down"))
    assert walked.degraded and walked.provider == DEAR
    decided = budget_apply(walked, SNAPSHOT, budget("1"), unhealthy=down)
    assert decided.provider == CHEAP and decided.degraded  # not BLOCKED (free, blocked in us_east)
    assert [(p.id, p.reason) for p in decided.passed_over][-1] == ("dear", REASON_NOT_CHEAPEST)
    assert "cooling down: degraded" in decided.budget_rule
    saturated = budget_apply(walked, SNAPSHOT, budget("1"), saturated={"cheap"}, unhealthy=down)
    assert saturated.provider == MID and saturated.degraded
    healthy_mid = resolve(MATH, SNAPSHOT, unhealthy=dict.fromkeys({"dear", "cheap"}, "cooling down"))
    assert not healthy_mid.degraded  # mid (the default policy) is healthy: it serves, cheaper than dear
    assert budget_apply(healthy_mid, SNAPSHOT, budget("1"), unhealthy={"dear", "cheap"}).provider == MID
