"""Compliance: what a provider offers, what a region requires, and the rule that holds one against
the other.

`provider_noncompliance` is the one place a provider is judged for a region; a new rule (an age
limit, a signed agreement) is a field on `ProviderSpec` and on `RegionRule`, a reason code and a
check here. Every snapshot judges each (region, provider) pair once when it is built
(`Snapshot.noncompliance`), so resolution only reads that table. What must stay true: a provider
blocked in a region is never compliant there, whatever else it offers.
"""

from __future__ import annotations

from dataclasses import dataclass

# Why a provider may not serve a region (machine-readable codes).
REASON_UNKNOWN = "provider_unknown"
REASON_INACTIVE = "provider_inactive"
REASON_BLOCKED = "blocked_in_region"
REASON_NOT_ALLOWED = "not_in_allowed_list"
REASON_RESIDENCY = "not_hosted_in_region"
REASON_ENCRYPTION = "encryption_required"
REASON_FRAMEWORK = "missing_compliance_framework"


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
