"""Every read of the decision runtime: a preview of a decision, the providers a region may use,
what the override page offers a teacher, the coverage map. Each takes this worker's snapshot (or
the one the caller's request already holds) and runs the same engine as `POST /dispatch`, or reads
what it decided when the snapshot was built (the override offer), so the API, the admin tools
and the teacher pages cannot disagree. None writes anything: no audit row, no rate-limit count.

One snapshot per request: every result carries the snapshot it was computed from; a surface
making several reads passes it on (`snapshot=`), so one page never mixes two versions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from policies.engine import (
    Decision,
    DispatchContext,
    OverrideOptions,
    OverrideRequest,
    PassedOver,
    ProviderSpec,
    RegionRule,
    Snapshot,
    available_providers,
    resolve,
    resolve_override,
)
from policies.snapshot import current_snapshot
from vocabulary import GRADE_BAND_YOUNGEST_AGE, GradeBand, Region, Subject
from vocabulary.wording import label, reason_words, refusal_words


@dataclass(frozen=True, slots=True)
class Preview:
    """What dispatch would decide, without deciding (rate limits aside)."""

    decision: Decision
    snapshot: Snapshot


def decision_preview(
    *, context: DispatchContext, override: OverrideRequest | None = None, snapshot: Snapshot | None = None
) -> Preview:
    """Resolve `context` (with an optional override) as dispatch would; writes nothing."""
    snapshot = snapshot or current_snapshot()
    if override is None:
        return Preview(resolve(context, snapshot), snapshot)
    return Preview(resolve_override(context, snapshot, override), snapshot)


@dataclass(frozen=True, slots=True)
class OverrideOffer:
    """What the override page offers a teacher (`OverrideOptions`), read from one snapshot: the
    override is decided with the same one."""

    options: OverrideOptions
    snapshot: Snapshot


def override_offer(
    *, context: DispatchContext | None, region: str, grade_band: str = "", snapshot: Snapshot | None = None
) -> OverrideOffer:
    """The providers a teacher may ask for in `region` for `grade_band` (without one: the youngest
    band), but the policy's own choice for `context`, and that decision; writes nothing. Read from
    the snapshot, where every context was decided when it was built (`Snapshot.offer`)."""
    snapshot = snapshot or current_snapshot()
    return OverrideOffer(snapshot.offer(context, region, grade_band), snapshot)


@dataclass(frozen=True, slots=True)
class RegionProviders:
    """The providers that may serve a region for a grade band (active and compliant), and the others
    with why not. `grade_band` is the band judged: the one asked for, else the youngest band."""

    region: str
    grade_band: str
    rule: RegionRule | None
    available: list[ProviderSpec]
    unavailable: list[PassedOver]
    snapshot: Snapshot


def providers_available(*, region: str, grade_band: str = "", snapshot: Snapshot | None = None) -> RegionProviders:
    """Without a band, the answer for the youngest band (the strictest)."""
    snapshot = snapshot or current_snapshot()
    band = grade_band or youngest_band()
    available, unavailable = available_providers(snapshot, region, band)
    return RegionProviders(region, band, snapshot.rules.get(region), available, unavailable, snapshot)


def youngest_band() -> str:
    """The grade band with the youngest students (the first in vocabulary order among equals)."""
    return min(GradeBand.values, key=lambda band: GRADE_BAND_YOUNGEST_AGE[band])


@dataclass(frozen=True, slots=True)
class CoverageCell:
    subject: str
    grade_band: str
    region: str
    covered: bool
    level: str | None
    policy_id: str | None
    policy_name: str | None
    provider_id: str | None
    provider_slug: str | None
    provider_name: str | None
    refusal_code: str
    refusal_detail: str
    # The providers passed over and why, as (provider name, reason code): what a gap's cause is read from.
    passed_over: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        body = dataclasses.asdict(self)
        del body["passed_over"]  # the API's cell shape; the explanation is /policies/validate's
        return body


@dataclass(frozen=True, slots=True)
class GapGroup:
    """Contexts of one region left without a provider for one cause, in plain words."""

    region: str
    cause: str
    refusal_code: str
    contexts: list[tuple[str, str]]  # (subject, grade band)

    @property
    def sentence(self) -> str:
        count = len(self.contexts)
        return f"{self.cause}: {count} context{'s' if count != 1 else ''} in {label(self.region)}"


@dataclass(frozen=True, slots=True)
class CoverageMap:
    """What every (subject, grade band) context resolves to, in each region shown."""

    regions: list[str]
    cells: list[CoverageCell]
    snapshot: Snapshot

    @property
    def gaps(self) -> list[CoverageCell]:
        return coverage_gaps(self.cells)

    @property
    def gap_groups(self) -> list[GapGroup]:
        return gap_groups(self.cells)

    @property
    def refusing_regions(self) -> list[str]:
        """Every region (vocabulary order) where nothing may be served: no routing rule, or every context a gap."""
        shown = {r: [c for c in self.cells if c.region == r] for r in self.regions}
        return [
            r
            for r in Region.values
            if r not in self.snapshot.rules or (shown.get(r) and not any(c.covered for c in shown[r]))
        ]

    @property
    def unconfigured_regions(self) -> list[str]:
        """Regions (vocabulary order) with no routing rule: they refuse everything."""
        return [r for r in Region.values if r not in self.snapshot.rules]


def coverage_map(*, region: str | None = None, snapshot: Snapshot | None = None) -> CoverageMap:
    """One region's map, or every region that has a routing rule."""
    snapshot = snapshot or current_snapshot()
    regions = coverage_regions(snapshot, region)
    return CoverageMap(regions, coverage_grid(snapshot, regions=regions), snapshot)


def coverage_regions(snapshot: Snapshot, region: str | None = None) -> list[str]:
    """The regions a map shows: one, or every region that has a routing rule (vocabulary order)."""
    if region:
        return [region]
    return [r for r in Region.values if r in snapshot.rules]


def coverage_grid(snapshot: Snapshot, *, regions: Sequence[str]) -> list[CoverageCell]:
    """One cell per region x subject x grade band, in vocabulary order (pure: any snapshot, also
    the back office's what-if snapshots)."""
    cells: list[CoverageCell] = []
    for region in regions:
        for subject in Subject.values:
            for grade_band in GradeBand.values:
                decision = resolve(DispatchContext(subject, grade_band, region), snapshot)
                policy, provider = decision.policy, decision.provider
                cells.append(
                    CoverageCell(
                        subject=subject,
                        grade_band=grade_band,
                        region=region,
                        covered=decision.accepted,
                        level=decision.level if decision.accepted else None,
                        policy_id=policy.id if policy and decision.accepted else None,
                        policy_name=policy.name if policy and decision.accepted else None,
                        provider_id=provider.id if provider else None,
                        provider_slug=provider.slug if provider else None,
                        provider_name=provider.name if provider else None,
                        refusal_code=decision.refusal_code,
                        refusal_detail=decision.refusal_detail,
                        passed_over=tuple(
                            (
                                snapshot.providers[step.id].name if step.id in snapshot.providers else step.name,
                                step.reason,
                            )
                            for step in decision.passed_over
                            if step.kind == "provider"
                        )
                        if not decision.accepted
                        else (),
                    )
                )
    return cells


def coverage_gaps(cells: Iterable[CoverageCell]) -> list[CoverageCell]:
    return [cell for cell in cells if not cell.covered]


# Reasons an administrator switched on for one provider (inactive, blocked here, at its limit): when
# one of them left a context without a provider, that provider is the cause, whatever else was
# passed over for standing reasons (not hosted there, not on the allowed list, ...).
_SWITCHED_OFF = ("provider_inactive", "provider_unknown", "rate_limited", "blocked_in_region")


def gap_cause(cell: CoverageCell) -> str:
    """Why a context has no provider, in plain words; contexts with the same cause group together."""
    if cell.refusal_code != "no_compliant_provider":
        return refusal_words(cell.refusal_code)
    off = sorted({f"{name} {reason_words(reason)}" for name, reason in cell.passed_over if reason in _SWITCHED_OFF})
    if off:
        return " and ".join(off)
    return "No provider in the matching policies' chains may serve this region"


def gap_groups(cells: Iterable[CoverageCell]) -> list[GapGroup]:
    """The gaps grouped by region and cause, largest first ("EU Sovereign LLM is inactive: 48 contexts in eu_west")."""
    groups: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
    for cell in coverage_gaps(cells):
        groups.setdefault((cell.region, gap_cause(cell), cell.refusal_code), []).append((cell.subject, cell.grade_band))
    found = [GapGroup(region, cause, code, contexts) for (region, cause, code), contexts in groups.items()]
    return sorted(found, key=lambda g: (-len(g.contexts), g.region, g.cause))
