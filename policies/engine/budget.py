"""What a client's spent budget does to a decision: refuse it, or route to the cheapest compliant provider.

`budget_apply(decision, snapshot, budget)` runs after resolution (and again after each pass over
a provider at its rate limit). Rules:
- A budget that is not spent changes nothing; the decision carries it so the body shows it.
- Spent, `refuse`: the request is refused with `budget_exhausted` (whatever it would have been).
- Spent, `cheapest`: among the chains of every policy matching the context (all levels), the
  compliant provider not at its rate limit with the lowest input + output price per 1k tokens
  (the first in resolution order on a tie) serves, under the policy whose chain holds it; the
  policy's own provider is passed over with `not_cheapest`. Health as in resolution: an unhealthy
  (cooling down) provider is left out, unless every compliant, unsaturated one is (the decision is
  `degraded`): then the cheapest of those serves, still `degraded` (health never refuses, and a
  spent budget still pays for the cheapest). A decision refused for compliance stays
  refused: a spent budget never adds a provider a region does not allow, and a provider blocked in a
  region is never returned for it.
- A teacher override on a spent budget is refused with `budget_exhausted` in either mode (the
  override names its provider; the budget may not pay for it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Set

from policies.engine.compliance import ProviderSpec
from policies.engine.resolve import candidate_policies, judgement, judgements
from policies.engine.types import (
    ON_EXHAUSTED_CHEAPEST,
    REASON_NOT_CHEAPEST,
    REFUSAL_BUDGET_EXHAUSTED,
    BudgetState,
    Decision,
    PassedOver,
    PolicySpec,
    Snapshot,
)


def price_per_1k(provider: ProviderSpec) -> float:
    """What the cheapest choice compares: input plus output price per 1k tokens."""
    return provider.cost_per_1k_input + provider.cost_per_1k_output


def budget_apply(
    decision: Decision,
    snapshot: Snapshot,
    budget: BudgetState,
    *,
    saturated: Set[str] = frozenset(),
    unhealthy: Set[str] = frozenset(),
) -> Decision:
    """`decision` as the client's `budget` leaves it (see the module's rules)."""
    if not budget.exhausted:
        return dataclasses.replace(decision, budget=budget)
    limit, used = budget.limit.normalize(), budget.spent.normalize()
    spent = f"the client's {budget.period} budget of {limit:f} is spent ({used:f})"
    if budget.on_exhausted != ON_EXHAUSTED_CHEAPEST or decision.override is not None:
        return dataclasses.replace(
            decision,
            provider=None,
            agreement=None,
            budget=budget,
            refusal_code=REFUSAL_BUDGET_EXHAUSTED,
            refusal_detail=f"{spent}; dispatch resumes when the period ends or the budget is raised",
        )
    if not decision.accepted or decision.provider is None or decision.policy is None:
        return dataclasses.replace(decision, budget=budget)
    # Degraded: every compliant, unsaturated provider is unhealthy, so health cannot narrow the choice.
    cheapest = _cheapest(decision, snapshot, saturated if decision.degraded else {*saturated, *unhealthy})
    chosen, policy, level = cheapest if cheapest is not None else (decision.provider, decision.policy, decision.level)
    degraded = " (every compliant provider is cooling down: degraded)" if decision.degraded else ""
    if chosen.id == decision.provider.id:
        return dataclasses.replace(
            decision,
            budget=budget,
            budget_rule=f"{spent}: {chosen.slug} serves as the cheapest compliant provider of the matching policies "
            f"({price_per_1k(chosen):g} per 1k input + output tokens){degraded}",
        )
    passed = PassedOver(
        kind="provider",
        id=decision.provider.id,
        name=decision.provider.slug,
        reason=REASON_NOT_CHEAPEST,
        detail=f"{spent}: {decision.provider.slug} costs {price_per_1k(decision.provider):g} per 1k input + output "
        f"tokens, {chosen.slug} {price_per_1k(chosen):g}",
        policy_id=decision.policy.id,
        provider_name=decision.provider.name,
    )
    return dataclasses.replace(
        decision,
        policy=policy,
        provider=chosen,
        agreement=judgement(snapshot, chosen.id, decision.context.region, decision.context.grade_band).agreement,
        level=level,
        passed_over=(*decision.passed_over, passed),
        budget=budget,
        budget_rule=f"{spent}: {chosen.slug} serves as the cheapest compliant provider of the matching policies "
        f"({price_per_1k(chosen):g} per 1k input + output tokens, in the chain of {policy.name!r}){degraded}",
    )


def _cheapest(
    decision: Decision, snapshot: Snapshot, saturated: Set[str]
) -> tuple[ProviderSpec, PolicySpec, str] | None:
    """The cheapest compliant, unsaturated provider of every matching policy's chain, with its policy
    and level; the first in resolution order on a tie."""
    table = judgements(snapshot, decision.context.region, decision.context.grade_band)
    if table is None:
        return None
    best: tuple[float, ProviderSpec, PolicySpec, str] | None = None
    for level, policy in candidate_policies(decision.context, snapshot):
        for provider_id in policy.chain:
            provider = snapshot.providers.get(provider_id)
            judged = table.get(provider_id)
            if provider is None or provider_id in saturated or judged is None or judged.why is not None:
                continue
            price = price_per_1k(provider)
            if best is None or price < best[0]:
                best = (price, provider, policy, level)
    return None if best is None else best[1:]
