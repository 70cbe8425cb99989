"""Compliance: what a provider offers, what a region requires, who the students are, and the rules
that hold one against the others.

`provider_noncompliance` judges a provider for a region (active, blocked, allowed, residency,
encryption, frameworks). `provider_judgement` adds the rules about students' ages and district
agreements, for a request of one grade band on one UTC date (the date is an input: no clock here):

1. the band's youngest age is at least the provider's *effective* minimum age: the smallest of its
   `minimum_user_age` and the `min_age_covered` of its agreements in force covering the region
   (`below_provider_minimum_age`);
2. when the region has `agreement_required`, the provider has an agreement in force covering the
   region with `min_age_covered` at most the band's youngest age (`no_agreement_in_force`);
3. when the band is under 13 (youngest age below 13), the provider is certified for every
   framework of the region's `under_13_frameworks` (`under_13_framework_missing`).

The checks run in that order, after `provider_noncompliance`'s, and the first failure is the
reason. An agreement is *relied on* only when compliance needs one (the region requires
agreements, or the provider's own minimum age is above the band's youngest age); the one named is,
among the provider's agreements in force covering the region with `min_age_covered` at most the
band's youngest age, the one that ends last (no expiry ends last; ties: the first reference in
alphabetical order). What must stay true: a provider blocked in a region is never compliant there,
whatever else it offers or has signed.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

# Why a provider may not serve a region (machine-readable codes).
REASON_UNKNOWN = "provider_unknown"
REASON_INACTIVE = "provider_inactive"
REASON_BLOCKED = "blocked_in_region"
REASON_NOT_ALLOWED = "not_in_allowed_list"
REASON_RESIDENCY = "not_hosted_in_region"
REASON_ENCRYPTION = "encryption_required"
REASON_FRAMEWORK = "missing_compliance_framework"
REASON_MINIMUM_AGE = "below_provider_minimum_age"
REASON_NO_AGREEMENT = "no_agreement_in_force"
REASON_UNDER_13_FRAMEWORK = "under_13_framework_missing"

UNDER_13_AGE = 13  # a band whose youngest age is below this is "under 13" (COPPA's line)

Reason = tuple[str, str]


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
    minimum_user_age: int = 0  # from the provider's terms; 0 = none


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
    agreement_required: bool = False
    under_13_frameworks: frozenset[str] = frozenset()  # required in addition when the band is under 13


@dataclass(frozen=True, slots=True)
class AgreementSpec:
    """A district's data privacy agreement with one provider."""

    reference: str
    provider_id: str
    regions: frozenset[str]  # empty = every region
    signed_on: datetime.date
    expires_on: datetime.date | None  # None = no expiry
    min_age_covered: int

    def in_force(self, on: datetime.date | None) -> bool:
        """In force on UTC dates from `signed_on` through `expires_on`, both included (never on no date)."""
        if on is None:
            return False
        return self.signed_on <= on and (self.expires_on is None or on <= self.expires_on)

    def covers(self, region: str) -> bool:
        return not self.regions or region in self.regions

    @property
    def ends_after(self) -> datetime.date:
        """The first date it is no longer in force (a late date for no expiry), for ordering."""
        if self.expires_on is None or self.expires_on == datetime.date.max:
            return datetime.date.max
        return self.expires_on + datetime.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Judgement:
    """A provider judged for a region, a band's youngest age and a date: why not (or None), and the
    agreement its compliance relies on (or None)."""

    why: Reason | None
    agreement: AgreementSpec | None = None


def provider_noncompliance(provider: ProviderSpec | None, rule: RegionRule) -> Reason | None:
    """Why `provider` may not serve `rule.region` whoever the students are (code, detail), or None."""
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


def provider_judgement(
    provider: ProviderSpec | None,
    rule: RegionRule,
    *,
    youngest_age: int,
    agreements: Iterable[AgreementSpec],
    on: datetime.date | None,
) -> Judgement:
    """Judge `provider` for a request in `rule.region` whose students may be as young as
    `youngest_age`, on UTC date `on`. `agreements` may hold anyone's; only the provider's count."""
    why = provider_noncompliance(provider, rule)
    if why is not None or provider is None:
        return Judgement(why)
    region = rule.region
    in_force = sorted(
        (a for a in agreements if a.provider_id == provider.id and a.in_force(on) and a.covers(region)),
        key=lambda a: a.reference,
    )
    effective = min([provider.minimum_user_age, *(a.min_age_covered for a in in_force)])
    if youngest_age < effective:
        return Judgement(
            (
                REASON_MINIMUM_AGE,
                f"{provider.slug} serves users aged {effective} or older in {region} (its terms: "
                f"{provider.minimum_user_age}; its agreements in force may lower that); this grade band "
                f"starts at {youngest_age}",
            )
        )
    usable = [a for a in in_force if a.min_age_covered <= youngest_age]
    if rule.agreement_required and not usable:
        return Judgement(
            (
                REASON_NO_AGREEMENT,
                f"{region} requires a data privacy agreement; {provider.slug} has none in force on "
                f"{on.isoformat() if on else 'this date'} covering {region} and students aged {youngest_age}",
            )
        )
    if youngest_age < UNDER_13_AGE:
        missing = rule.under_13_frameworks - provider.compliance_frameworks
        if missing:
            return Judgement(
                (
                    REASON_UNDER_13_FRAMEWORK,
                    f"{region} requires {', '.join(sorted(missing))} for students under 13; {provider.slug} lacks it",
                )
            )
    needs_agreement = rule.agreement_required or provider.minimum_user_age > youngest_age
    if not needs_agreement or not usable:
        return Judgement(None)
    return Judgement(None, max(usable, key=lambda a: a.ends_after))  # max keeps the first of equals


def agreements_next_change(agreements: Iterable[AgreementSpec], on: datetime.date) -> datetime.date | None:
    """The first UTC date after `on` on which an agreement starts or stops being in force (None: never)."""
    changes = [a.signed_on for a in agreements if a.signed_on > on]
    changes += [a.ends_after for a in agreements if a.expires_on is not None and a.ends_after > on]
    return min(changes, default=None)
