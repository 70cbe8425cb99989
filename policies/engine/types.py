"""Frozen value types the engine works on.

A `Snapshot` is built once from the database (see `policies.snapshot`) and then shared by every
request of a worker. It pre-computes, per region, whether each provider is compliant, and
indexes the active policies by their exact shape. Resolution compiles each context once per
snapshot (the walk down its candidates, with no provider at its rate limit) and keeps the
result in `compiled`, so a warm resolve is one dictionary lookup whatever the number of policies.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

# Resolution levels, most specific first. A policy's level follows from which of its
# subject / grade band / region are set ("" means "any").
LEVEL_EXACT = "exact"
LEVEL_SUBJECT_GRADE = "subject_grade"
LEVEL_SUBJECT = "subject"
LEVEL_DEFAULT = "default"
LEVELS: tuple[str, ...] = (LEVEL_EXACT, LEVEL_SUBJECT_GRADE, LEVEL_SUBJECT, LEVEL_DEFAULT)

# Why a provider is passed over in a region (machine-readable codes).
REASON_UNKNOWN = "provider_unknown"
REASON_INACTIVE = "provider_inactive"
REASON_BLOCKED = "blocked_in_region"
REASON_NOT_ALLOWED = "not_in_allowed_list"
REASON_RESIDENCY = "not_hosted_in_region"
REASON_ENCRYPTION = "encryption_required"
REASON_FRAMEWORK = "missing_compliance_framework"
REASON_RATE_LIMITED = "rate_limited"
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

MIN_JUSTIFICATION_LENGTH = 20


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
    override service (`teachers.services.override_submit`) always sets all three.
    `teacher_regions=None` means "no region restriction", for engine callers without a directory.
    """

    provider_id: str  # a provider's id or slug
    justification: str
    teacher_id: str = ""
    teacher_known: bool = True
    teacher_regions: frozenset[str] | None = None
    client_authorised: bool = True


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    id: str
    slug: str
    name: str
    endpoint_url: str
    hosting_regions: frozenset[str]
    compliance_frameworks: frozenset[str]
    encrypts: bool
    active: bool
    requests_per_minute: int
    tokens_per_minute: int
    cost_per_1k_input: float
    cost_per_1k_output: float


@dataclass(frozen=True, slots=True)
class RegionRule:
    region: str
    data_center: str
    data_residency_required: bool
    encryption_required: bool
    audit_logging_required: bool
    allowed_providers: frozenset[str]  # provider ids; empty means any
    blocked_providers: frozenset[str]
    compliance_frameworks: frozenset[str]


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


def provider_noncompliance(provider: ProviderSpec | None, rule: RegionRule) -> tuple[str, str] | None:
    """Why `provider` may not serve `rule.region` (code, detail), or None when it may."""
    if provider is None:
        return REASON_UNKNOWN, "the provider does not exist"
    if not provider.active:
        return REASON_INACTIVE, f"{provider.slug} is inactive"
    if provider.id in rule.blocked_providers:
        return REASON_BLOCKED, f"{provider.slug} is blocked in {rule.region}"
    if rule.allowed_providers and provider.id not in rule.allowed_providers:
        return REASON_NOT_ALLOWED, f"{provider.slug} is not in {rule.region}'s allowed providers"
    if rule.data_residency_required and rule.region not in provider.hosting_regions:
        return REASON_RESIDENCY, f"{rule.region} requires data residency; {provider.slug} is not hosted there"
    if rule.encryption_required and not provider.encrypts:
        return REASON_ENCRYPTION, f"{rule.region} requires encryption; {provider.slug} does not encrypt"
    missing = rule.compliance_frameworks - provider.compliance_frameworks
    if missing:
        return REASON_FRAMEWORK, f"{rule.region} requires {', '.join(sorted(missing))}; {provider.slug} lacks it"
    return None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The authored world at one version, indexed for resolution.

    `policies` holds active policies only; inactive ones are dropped when the snapshot is built.
    """

    providers: Mapping[str, ProviderSpec]
    policies: tuple[PolicySpec, ...]
    rules: Mapping[str, RegionRule]
    version: int = 0
    # Derived indexes, computed in __post_init__.
    by_shape: Mapping[tuple[str, str, str], tuple[PolicySpec, ...]] = field(init=False, repr=False)
    by_slug: Mapping[str, ProviderSpec] = field(init=False, repr=False)
    noncompliance: Mapping[str, Mapping[str, tuple[str, str] | None]] = field(init=False, repr=False)
    # Per-context decisions without saturation, filled by `resolve` on first sight (a cache: the
    # snapshot's meaning never changes). Bounded: contexts come from a closed vocabulary.
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
        noncompliance = {
            region: {pid: provider_noncompliance(p, rule) for pid, p in self.providers.items()}
            for region, rule in self.rules.items()
        }
        object.__setattr__(self, "by_shape", by_shape)
        object.__setattr__(self, "by_slug", {p.slug: p for p in self.providers.values()})
        object.__setattr__(self, "noncompliance", noncompliance)
        object.__setattr__(self, "compiled", {})

    def provider(self, key: str) -> ProviderSpec | None:
        """A provider by id or slug."""
        return self.providers.get(key) or self.by_slug.get(key)

    def candidates(self, context: DispatchContext) -> list[tuple[str, PolicySpec]]:
        """Active policies that match `context`, most specific level first, then by priority."""
        return list(self.iter_candidates(context))

    def iter_candidates(self, context: DispatchContext) -> Iterator[tuple[str, PolicySpec]]:
        """Like `candidates`, lazily: resolution usually stops at the first one."""
        shapes = (
            (LEVEL_EXACT, (context.subject, context.grade_band, context.region)),
            (LEVEL_SUBJECT_GRADE, (context.subject, context.grade_band, "")),
            (LEVEL_SUBJECT, (context.subject, "", "")),
            (LEVEL_DEFAULT, ("", "", "")),
        )
        for level, shape in shapes:
            for policy in self.by_shape.get(shape, ()):
                yield level, policy

    def why_not(self, provider_id: str, region: str) -> tuple[str, str] | None:
        """Why a provider may not serve a region, from the precomputed table."""
        table = self.noncompliance.get(region)
        if table is None:
            return REFUSAL_REGION_NOT_CONFIGURED, f"{region} has no regional routing rule"
        if provider_id not in table:
            return REASON_UNKNOWN, f"provider {provider_id} does not exist"
        return table[provider_id]


@dataclass(frozen=True, slots=True)
class PassedOver:
    """One policy or provider that resolution considered and did not take."""

    kind: str  # "policy" or "provider"
    id: str
    name: str
    reason: str
    detail: str
    policy_id: str = ""  # for providers: the policy whose chain was being walked


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

    @property
    def accepted(self) -> bool:
        return self.provider is not None and not self.refusal_code

    @property
    def override_applied(self) -> bool:
        return self.accepted and self.override is not None
