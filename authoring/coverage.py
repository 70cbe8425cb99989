"""Coverage what-ifs: the contexts an authoring change would leave with no compliant provider.

Pure: it compares the coverage grid (`policies.selectors.coverage_grid`, the same engine as
`POST /dispatch`) of today's snapshot with that of a what-if snapshot (today's with one provider,
rule or policy replaced or removed), which is how authoring shows what a change would cost
before it is saved.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from policies.engine import AgreementSpec, PolicySpec, ProviderSpec, RegionRule, Snapshot
from policies.selectors import coverage_grid
from vocabulary import Region


@dataclass(frozen=True, slots=True)
class CoverageLoss:
    """A context that resolves today and would have no compliant provider after a change."""

    subject: str
    grade_band: str
    region: str
    provider_slug: str  # what serves it today
    policy_name: str
    refusal_detail: str  # why it would be refused

    def __str__(self) -> str:
        return (
            f"{self.subject} / {self.grade_band} / {self.region} (today {self.provider_slug} via "
            f"{self.policy_name!r}; after: {self.refusal_detail})"
        )


def coverage_losses(before: Snapshot, after: Snapshot) -> list[CoverageLoss]:
    """Contexts covered in `before` that `after` leaves without a compliant provider."""
    regions = [r for r in Region.values if r in before.rules]
    after_cells = {(c.subject, c.grade_band, c.region): c for c in coverage_grid(after, regions=regions)}
    losses: list[CoverageLoss] = []
    for cell in coverage_grid(before, regions=regions):
        later = after_cells[(cell.subject, cell.grade_band, cell.region)]
        if cell.covered and not later.covered:
            losses.append(
                CoverageLoss(
                    subject=cell.subject,
                    grade_band=cell.grade_band,
                    region=cell.region,
                    provider_slug=cell.provider_slug or "",
                    policy_name=cell.policy_name or "",
                    refusal_detail=later.refusal_detail,
                )
            )
    return losses


def snapshot_with_provider(snapshot: Snapshot, provider: ProviderSpec) -> Snapshot:
    """A what-if snapshot where `provider` (by id) is replaced or added."""
    providers = {**snapshot.providers, provider.id: provider}
    return _what_if(snapshot, providers=providers)


def snapshot_with_rule(snapshot: Snapshot, rule: RegionRule) -> Snapshot:
    """A what-if snapshot where the routing rule of `rule.region` is replaced or added."""
    rules = {**snapshot.rules, rule.region: rule}
    return _what_if(snapshot, rules=rules)


def snapshot_with_agreement(snapshot: Snapshot, agreement: AgreementSpec, *, replaces: str | None = None) -> Snapshot:
    """A what-if snapshot where agreement `replaces` (by reference; None: a new one) becomes `agreement`."""
    agreements = tuple(a for a in snapshot.agreements if a.reference not in (replaces, agreement.reference))
    return _what_if(snapshot, agreements=(*agreements, agreement))


def snapshot_without_agreement(snapshot: Snapshot, reference: str) -> Snapshot:
    """A what-if snapshot where agreement `reference` is gone."""
    return _what_if(snapshot, agreements=tuple(a for a in snapshot.agreements if a.reference != reference))


def snapshot_without_policies(snapshot: Snapshot, policy_ids: Iterable[str]) -> Snapshot:
    """A what-if snapshot where the given policies are inactive."""
    drop = set(policy_ids)
    policies = tuple(p for p in snapshot.policies if p.id not in drop)
    return _what_if(snapshot, policies=policies)


def snapshot_with_policy(snapshot: Snapshot, policy_id: str, policy: PolicySpec | None) -> Snapshot:
    """A what-if snapshot where policy `policy_id` is replaced by `policy` (None: inactive or gone)."""
    policies = tuple(p for p in snapshot.policies if p.id != policy_id) + ((policy,) if policy else ())
    return _what_if(snapshot, policies=policies)


def snapshot_without_rule(snapshot: Snapshot, region: str) -> Snapshot:
    """A what-if snapshot where `region` has no routing rule (so nothing may serve it)."""
    rules = {r: rule for r, rule in snapshot.rules.items() if r != region}
    return _what_if(snapshot, rules=rules)


def snapshot_without_provider(snapshot: Snapshot, provider_id: str) -> Snapshot:
    """A what-if snapshot where provider `provider_id` is gone: it serves nothing and no rule lists it."""
    providers = dict(snapshot.providers)
    if provider_id in providers:
        providers[provider_id] = dataclasses.replace(providers[provider_id], active=False)
    rules = {
        region: dataclasses.replace(
            rule,
            allowed_providers=rule.allowed_providers - {provider_id},
            blocked_providers=rule.blocked_providers - {provider_id},
        )
        for region, rule in snapshot.rules.items()
    }
    return _what_if(snapshot, providers=providers, rules=rules)


def _what_if(snapshot: Snapshot, **changes: Any) -> Snapshot:
    """`snapshot` with some of its providers, policies or rules replaced; the same version,
    agreements, grade band ages and date (a what-if never changes what day it is)."""
    return dataclasses.replace(snapshot, **changes)


def snapshot_on(snapshot: Snapshot, on: datetime.date) -> Snapshot:
    """A what-if snapshot of the same world judged on another UTC date (agreements start and end)."""
    return dataclasses.replace(snapshot, on=on)


LOSS_SHOWN = 6  # contexts listed per region in a message; the rest are counted


def coverage_losses_message(losses: Sequence[CoverageLoss], *, confirm: str = "Confirm coverage loss") -> str:
    """One sentence per region naming the contexts a change leaves uncovered, and how to go on."""
    by_region: dict[str, list[CoverageLoss]] = {}
    for loss in losses:
        by_region.setdefault(loss.region, []).append(loss)
    parts = []
    for region, items in by_region.items():
        names = [f"{item.subject}/{item.grade_band}" for item in items]
        shown = ", ".join(names[:LOSS_SHOWN]) + (
            f" and {len(names) - LOSS_SHOWN} more" if len(names) > LOSS_SHOWN else ""
        )
        today = ", ".join(sorted({item.provider_slug for item in items}))
        parts.append(f"{region}: {len(items)} ({shown}; served today by {today})")
    return (
        f"This change leaves {len(losses)} context(s) with no compliant provider. {'; '.join(parts)}. "
        f"Requests for them would be refused ({losses[0].refusal_detail}). Tick “{confirm}” to go on "
        "anyway, or change the policies or rules first."
    )


@dataclass(frozen=True, slots=True)
class CoverageChange:
    """A context whose coverage a change moves: lost, gained, or served by another provider."""

    subject: str
    grade_band: str
    region: str
    kind: str  # "lost", "gained" or "provider_changed"
    before: str  # provider slug (or the refusal) today
    after: str  # provider slug (or the refusal) after the change


def coverage_changes(before: Snapshot, after: Snapshot) -> list[CoverageChange]:
    """Every context of the vocabulary (regions with a rule on either side) that gains or loses its
    last compliant provider, or changes provider, between two snapshots."""
    regions = [r for r in Region.values if r in before.rules or r in after.rules]
    after_cells = {(c.subject, c.grade_band, c.region): c for c in coverage_grid(after, regions=regions)}
    changes: list[CoverageChange] = []
    for cell in coverage_grid(before, regions=regions):
        later = after_cells[(cell.subject, cell.grade_band, cell.region)]
        if cell.covered and not later.covered:
            kind = "lost"
        elif not cell.covered and later.covered:
            kind = "gained"
        elif cell.covered and later.covered and cell.provider_id != later.provider_id:
            kind = "provider_changed"
        else:
            continue
        changes.append(
            CoverageChange(
                subject=cell.subject,
                grade_band=cell.grade_band,
                region=cell.region,
                kind=kind,
                before=(cell.provider_slug or "") if cell.covered else f"refused ({cell.refusal_code})",
                after=(later.provider_slug or "") if later.covered else f"refused ({later.refusal_code})",
            )
        )
    return changes
