"""Every read of the decision runtime: a preview of a decision, the providers a region may use, the
coverage map. Each takes this worker's snapshot (or the one the caller's request already holds)
and runs the same engine as `POST /dispatch`, so the API, the admin tools and the teacher pages
cannot disagree. None writes anything: no audit row, no rate-limit count.

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

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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
                    )
                )
    return cells


def coverage_gaps(cells: Iterable[CoverageCell]) -> list[CoverageCell]:
    return [cell for cell in cells if not cell.covered]
