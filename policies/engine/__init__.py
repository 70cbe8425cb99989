"""The resolution engine: pure Python, standard library only.

It decides which provider may serve a context, given a snapshot of the authored world. It never
touches the ORM, an HTTP request, settings or the clock, so the API, the admin simulator and the
teacher form all get the same answer for the same snapshot.
"""

from policies.engine.budget import budget_apply
from policies.engine.compliance import REASON_UNKNOWN, AgreementSpec, Judgement, ProviderSpec, RegionRule
from policies.engine.resolve import (
    available_providers,
    compile_contexts,
    judgement,
    judgements,
    resolve,
    resolve_override,
    why_not,
)
from policies.engine.types import (
    LEVELS,
    REFUSAL_REGION_NOT_CONFIGURED,
    BudgetState,
    Decision,
    DispatchContext,
    OverrideOptions,
    OverrideRequest,
    PassedOver,
    PolicySpec,
    Snapshot,
)

__all__ = [
    "LEVELS",
    "REASON_UNKNOWN",
    "REFUSAL_REGION_NOT_CONFIGURED",
    "AgreementSpec",
    "BudgetState",
    "Decision",
    "DispatchContext",
    "Judgement",
    "OverrideOptions",
    "OverrideRequest",
    "PassedOver",
    "PolicySpec",
    "ProviderSpec",
    "RegionRule",
    "Snapshot",
    "available_providers",
    "budget_apply",
    "compile_contexts",
    "judgement",
    "judgements",
    "resolve",
    "resolve_override",
    "why_not",
]
