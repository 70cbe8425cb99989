"""Frozen value types the engine works on: data, the indexes built over it and reads of them
(`Snapshot.available_in`, `Snapshot.offer`); the rules are `compliance`'s and `resolve`'s.

A `Snapshot` is built once from the database (see `policies.snapshot`) and then shared by every
request of a worker. When it is built it judges, per region and grade band, whether each provider
is compliant (the rules are `policies.engine.compliance`'s: `judged`), and indexes the active
policies by their exact shape. Resolution (`policies.engine.resolve`) compiles each context once
per snapshot (the walk down its candidates, with no provider at its rate limit) and keeps the
result in `compiled`, so a warm resolve is one dictionary lookup whatever the number of policies;
`policies.snapshot` has every context of the vocabulary compiled when it builds the snapshot, so
a read of what a teacher may ask for (`Snapshot.offer`) is a lookup too.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from policies.engine.compliance import (
    AgreementSpec,
    Judgement,
    ProviderSpec,
    RegionRule,
    agreements_next_change,
    provider_judgement,
)

# Resolution levels, most specific first. A policy's level follows from which of its
# subject / grade band / region are set ("" means "any").
LEVEL_EXACT = "exact"
LEVEL_SUBJECT_GRADE = "subject_grade"
LEVEL_SUBJECT = "subject"
LEVEL_DEFAULT = "default"
LEVELS: tuple[str, ...] = (LEVEL_EXACT, LEVEL_SUBJECT_GRADE, LEVEL_SUBJECT, LEVEL_DEFAULT)

# Why a provider is passed over besides compliance (whose codes are `compliance.REASON_*`).
REASON_RATE_LIMITED = "rate_limited"
# Cooling down after provider-side failures (or its probes are taken): skipped unless every
# compliant provider is, then the first compliant one serves, `degraded`.
REASON_UNHEALTHY = "unhealthy"
# Why a policy is passed over.
REASON_NO_COMPLIANT_PROVIDER = "no_compliant_provider_in_chain"

# Why a whole request is refused.
REFUSAL_REGION_NOT_CONFIGURED = "region_not_configured"
REFUSAL_NO_POLICY = "no_matching_policy"
REFUSAL_NO_COMPLIANT_PROVIDER = "no_compliant_provider"
REFUSAL_OVERRIDE_NOT_ALLOWED = "override_not_allowed"
REFUSAL_JUSTIFICATION = "justification_too_short"
REFUSAL_OVERRIDE_PROVIDER_UNKNOWN = "override_provider_unknown"
REFUSAL_OVERRIDE_PROVIDER_NOT_COMPLIANT = "override_provider_not_compliant"
REFUSAL_TEACHER_UNKNOWN = "teacher_unknown"
REFUSAL_TEACHER_REGION = "teacher_region_not_allowed"
REFUSAL_TEACHER_NOT_AUTHORISED = "teacher_not_authorised"
REFUSAL_BUDGET_EXHAUSTED = "budget_exhausted"

# Why the policy's own provider is passed over when a spent budget routes to the cheapest.
REASON_NOT_CHEAPEST = "not_cheapest"
# What a client's spent budget does to its dispatches.
ON_EXHAUSTED_REFUSE = "refuse"
ON_EXHAUSTED_CHEAPEST = "cheapest"

MIN_JUSTIFICATION_LENGTH = 20
# The key of a region's judgements for a grade band the snapshot does not name: judged for age 0,
# the strictest (no grade band is spelled with a space).
BAND_UNKNOWN = " unknown"


def policy_level(subject: str, grade_band: str, region: str) -> str | None:
    """The level of a policy shape, or None for a shape outside the four allowed ones."""
    if subject and grade_band and region:
        return LEVEL_EXACT
    if subject and grade_band and not region:
        return LEVEL_SUBJECT_GRADE
    if subject and not grade_band and not region:
        return LEVEL_SUBJECT
    if not subject and not grade_band and not region:
        return LEVEL_DEFAULT
    return None


@dataclass(frozen=True, slots=True)
class DispatchContext:
    subject: str
    grade_band: str
    region: str


@dataclass(frozen=True, slots=True)
class OverrideRequest:
    """A teacher's request for another provider.

    `teacher_known` and `teacher_regions` come from the teacher directory, `client_authorised`
    from the API client's authorisations (is the caller allowed to act for this teacher?): the
    override service (`teachers.services.override_request`) always sets all three.
    `teacher_regions=None` means "no region restriction", for engine callers without a directory.
    """

    provider_id: str  # a provider's id or slug
    justification: str
    teacher_id: str = ""
    teacher_known: bool = True
    teacher_regions: frozenset[str] | None = None
    client_authorised: bool = True


class PolicySpec(NamedTuple):
    """An active policy. A NamedTuple, not a frozen dataclass like its neighbours: a snapshot holds
    one per policy and a worker makes 10,000 of them on every authoring change (about a third of
    the time; bench/run.py prints the load time), and a tuple is made ~5x faster."""

    id: str
    name: str
    subject: str  # "" means any
    grade_band: str
    region: str
    primary_provider_id: str
    fallback_provider_ids: tuple[str, ...]
    template_ids: tuple[str, ...]
    moderation_threshold: float
    allow_teacher_override: bool
    priority: int

    @property
    def level(self) -> str | None:
        return policy_level(self.subject, self.grade_band, self.region)

    @property
    def chain(self) -> tuple[str, ...]:
        return (self.primary_provider_id, *self.fallback_provider_ids)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The authored world at one version, for one UTC date, indexed for resolution.

    `policies` holds active policies only; inactive ones are dropped when the snapshot is built.
    `on` is the UTC date the snapshot judges agreements for (None: no agreement is in force);
    `band_ages` the youngest age of each grade band (a band it does not name counts as age 0, the
    strictest; "" means the youngest band). `valid_until` is the first date after `on` on which an
    agreement starts or ends: from then on the snapshot is wrong and must be rebuilt.
    """

    providers: Mapping[str, ProviderSpec]
    policies: tuple[PolicySpec, ...]
    rules: Mapping[str, RegionRule]
    version: int = 0
    agreements: tuple[AgreementSpec, ...] = ()
    band_ages: Mapping[str, int] = field(default_factory=dict)
    on: datetime.date | None = None
    # Derived indexes, computed in __post_init__.
    by_shape: Mapping[tuple[str, str, str], tuple[PolicySpec, ...]] = field(init=False, repr=False)
    by_slug: Mapping[str, ProviderSpec] = field(init=False, repr=False)
    by_provider_agreements: Mapping[str, tuple[AgreementSpec, ...]] = field(init=False, repr=False)
    valid_until: datetime.date | None = field(init=False, repr=False)
    # Every provider judged per region with a routing rule, then per grade band: each band of
    # `band_ages`, "" (the youngest band) and BAND_UNKNOWN (age 0). Built with the snapshot, so a
    # resolve only reads it (`policies.engine.resolve.judgements`); regions x (bands + 2) tables.
    judged: Mapping[str, Mapping[str, Mapping[str, Judgement]]] = field(init=False, repr=False, compare=False)
    # The providers that may serve, per region and band key of `judged` (by name, then slug): the
    # compliant ones of each table.
    available: Mapping[str, Mapping[str, tuple[ProviderSpec, ...]]] = field(init=False, repr=False, compare=False)
    # Per-context decisions without saturation or health issues: every context of the vocabulary
    # decided when the snapshot is built (`policies.engine.resolve.compile_contexts`), any other
    # one by `resolve` on first sight (the snapshot's meaning never changes). Bounded.
    compiled: dict[DispatchContext, Decision] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        grouped: dict[tuple[str, str, str], list[PolicySpec]] = {}
        for policy in self.policies:
            if policy.level is None:
                continue  # authoring refuses such shapes; never resolve with one
            grouped.setdefault((policy.subject, policy.grade_band, policy.region), []).append(policy)
        by_shape = {
            shape: tuple(sorted(group, key=lambda p: (-p.priority, p.name, p.id))) for shape, group in grouped.items()
        }
        by_provider: dict[str, list[AgreementSpec]] = {}
        for agreement in self.agreements:
            by_provider.setdefault(agreement.provider_id, []).append(agreement)
        object.__setattr__(self, "by_shape", by_shape)
        object.__setattr__(self, "by_slug", {p.slug: p for p in self.providers.values()})
        object.__setattr__(self, "by_provider_agreements", {k: tuple(v) for k, v in by_provider.items()})
        object.__setattr__(
            self, "valid_until", agreements_next_change(self.agreements, self.on) if self.on is not None else None
        )
        ages = {**self.band_ages, "": self.youngest_age(""), BAND_UNKNOWN: 0}
        judged = {
            region: {
                band: {
                    pid: provider_judgement(
                        p, rule, youngest_age=age, agreements=self.by_provider_agreements.get(pid, ()), on=self.on
                    )
                    for pid, p in self.providers.items()
                }
                for band, age in ages.items()
            }
            for region, rule in self.rules.items()
        }
        by_name = sorted(self.providers.values(), key=lambda p: (p.name, p.slug))
        available = {
            region: {band: tuple(p for p in by_name if table[p.id].why is None) for band, table in tables.items()}
            for region, tables in judged.items()
        }
        object.__setattr__(self, "judged", judged)
        object.__setattr__(self, "available", available)
        object.__setattr__(self, "compiled", {})

    def youngest_age(self, grade_band: str) -> int:
        """The youngest age of a grade band ("": the youngest band; unknown: 0, the strictest)."""
        if not grade_band:
            return min(self.band_ages.values(), default=0)
        return self.band_ages.get(grade_band, 0)

    def provider(self, key: str) -> ProviderSpec | None:
        """A provider by id or slug."""
        return self.providers.get(key) or self.by_slug.get(key)

    def available_in(self, region: str, grade_band: str = "") -> tuple[ProviderSpec, ...]:
        """The providers that may serve `region` for `grade_band`, by name (none without a routing
        rule). Without a band, the youngest band's; a band the snapshot does not name: age 0."""
        tables = self.available.get(region)
        if tables is None:
            return ()
        found = tables.get(grade_band)
        return tables[BAND_UNKNOWN] if found is None else found

    def offer(self, context: DispatchContext | None, region: str, grade_band: str = "") -> OverrideOptions:
        """What a teacher may ask for in `region` for `grade_band`: the providers that may serve but
        the one the policy chooses for `context` (its compiled decision: a read, the engine is not
        run), with that decision. `context` must be compiled (`compile_contexts`) or None."""
        available = self.available_in(region, grade_band)
        if context is None:
            return OverrideOptions(available, None, refused_ahead=False)
        reference = self.compiled.get(context)
        if reference is None:
            raise LookupError(f"{context} was not compiled with snapshot version {self.version}")
        chosen = reference.provider.id if reference.accepted and reference.provider else None
        return OverrideOptions(
            tuple(p for p in available if p.id != chosen), reference, refused_ahead=not reference.overridable
        )


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A client's budget for the current period, as dispatch read it (the spend is PostgreSQL's)."""

    period: str  # "day" | "month" (UTC)
    limit: Decimal
    spent: Decimal
    on_exhausted: str  # ON_EXHAUSTED_REFUSE | ON_EXHAUSTED_CHEAPEST

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.limit

    @property
    def remaining(self) -> Decimal:
        return max(Decimal(0), self.limit - self.spent)


@dataclass(frozen=True, slots=True)
class PassedOver:
    """One policy or provider that resolution considered and did not take."""

    kind: str  # "policy" or "provider"
    id: str
    name: str  # a policy's name; a provider's slug
    reason: str
    detail: str
    policy_id: str = ""  # for providers: the policy whose chain was being walked
    next_probe_at: str = ""  # unhealthy: when it will be probed (ISO 8601), if known
    provider_name: str = ""  # for providers: the display name (the API's `name`; the slug is its `slug`)


@dataclass(frozen=True, slots=True)
class Decision:
    context: DispatchContext
    policy: PolicySpec | None = None
    provider: ProviderSpec | None = None
    level: str | None = None
    passed_over: tuple[PassedOver, ...] = ()
    refusal_code: str = ""
    refusal_detail: str = ""
    override: OverrideRequest | None = None
    region_rule: RegionRule | None = None
    agreement: AgreementSpec | None = None  # the agreement the provider's compliance relies on
    # Served although unhealthy: every compliant provider of every candidate was cooling down.
    degraded: bool = False
    budget: BudgetState | None = None  # the client's, when it has one
    budget_rule: str = ""  # why a spent budget changed the provider (the explanation says so)
    # Every provider judged for this decision's region and grade band (None: the region has no
    # routing rule): what a replay of the same request checks its stored provider against.
    judged: Mapping[str, Judgement] | None = field(default=None, repr=False, compare=False)

    @property
    def accepted(self) -> bool:
        return self.provider is not None and not self.refusal_code

    @property
    def override_applied(self) -> bool:
        return self.accepted and self.override is not None

    @property
    def overridable(self) -> bool:
        """A teacher's override of this decision could be granted: it serves, by a policy that allows
        overrides (`resolve_override` refuses any other: the decision's refusal, or
        `override_not_allowed`)."""
        return self.accepted and self.policy is not None and self.policy.allow_teacher_override


@dataclass(frozen=True, slots=True)
class OverrideOptions:
    """What a teacher may ask for: the providers that may serve a region for a grade band, but the
    policy's own choice (that is no override), and the policy's decision for the class's context."""

    available: tuple[ProviderSpec, ...]
    reference: Decision | None  # None: the context is not complete yet
    # The reference refuses, or its policy allows no override: any override would be refused.
    refused_ahead: bool
