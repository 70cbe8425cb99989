"""The resolution engine: pure Python, standard library only.

It decides which provider may serve a context, given a snapshot of the authored world. It never
touches the ORM, an HTTP request, settings or the clock, so the API, the admin simulator and the
teacher form all get the same answer for the same snapshot.
"""

from policies.engine.budget import budget_apply
from policies.engine.compliance import AgreementSpec, Judgement, ProviderSpec, RegionRule
from policies.engine.resolve import available_providers, judgement, resolve, resolve_override, why_not
from policies.engine.types import (
    LEVELS,
    BudgetState,
    Decision,
    DispatchContext,
    OverrideRequest,
    PassedOver,
    PolicySpec,
    Snapshot,
)

__all__ = [
    "LEVELS",
    "AgreementSpec",
    "BudgetState",
    "Decision",
    "DispatchContext",
    "Judgement",
    "OverrideRequest",
    "PassedOver",
    "PolicySpec",
    "ProviderSpec",
    "RegionRule",
    "Snapshot",
    "available_providers",
    "budget_apply",
    "judgement",
    "resolve",
    "resolve_override",
    "why_not",
]
