"""Replay impact: the last days of real dispatches decided again against a candidate world.

`replay_impact(candidate, days=...)` reads the audit log in ONE pass: the database groups the rows
by context and the decision each got (`audit.selectors.dispatch_log_context_groups`, only those
columns); each distinct context is then resolved ONCE against the candidate snapshot with the same
engine as `POST /dispatch`, and every request falls in exactly one category, in this order:

1. `newly_refused`: accepted then, refused now;
2. `newly_accepted`: refused then, accepted now;
3. `provider_changed`: accepted both times, another provider;
4. `policy_changed`: the same provider, another policy;
5. `unchanged`: the rest (refused both times included).

Overrides are replayed as overrides: the provider the teacher asked for and whether their
justification was long enough (the same `visible_length` rule) are part of the context. Who may
ask (the API client's authorisation, the teacher directory and the teacher's regions) is not
authored, so a change request cannot change it: a request refused for one of those reasons is
refused again, without resolving. Rate limits are not replayed (a provider at its limit is a
matter of the minute, not of the world): a request that was served by a fallback because its
provider was saturated may count as `provider_changed` if the candidate world is unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from audit.models import Outcome
from audit.selectors import dispatch_log_context_groups, dispatch_log_request_ids
from policies.engine import Decision, DispatchContext, OverrideRequest, Snapshot, resolve, resolve_override
from policies.engine.resolve import visible_length
from policies.engine.types import (
    MIN_JUSTIFICATION_LENGTH,
    REFUSAL_TEACHER_NOT_AUTHORISED,
    REFUSAL_TEACHER_REGION,
    REFUSAL_TEACHER_UNKNOWN,
)

CATEGORIES: tuple[str, ...] = ("newly_refused", "newly_accepted", "provider_changed", "policy_changed", "unchanged")
JSON_ORDER: tuple[str, ...] = ("unchanged", "provider_changed", "policy_changed", "newly_refused", "newly_accepted")
SAMPLES_PER_CATEGORY = 5
DEFAULT_DAYS = 7
# Refusals about who asks, decided before the world is read: the same whatever a change request holds.
WHO_REFUSALS = frozenset({REFUSAL_TEACHER_NOT_AUTHORISED, REFUSAL_TEACHER_UNKNOWN, REFUSAL_TEACHER_REGION})
_LONG_ENOUGH = "x" * MIN_JUSTIFICATION_LENGTH  # stands for any justification that passed the rule


@dataclass(frozen=True, slots=True)
class ReplayContext:
    """What resolution needs of a request: its context, and for an override what was asked."""

    subject: str
    grade_band: str
    region: str
    is_override: bool = False
    override_provider_ref: str = ""
    justification_ok: bool = False
    who_refusal: str = ""  # a refusal about who asked (WHO_REFUSALS): replayed as it was


@dataclass(frozen=True, slots=True)
class Stored:
    """The decision a request got: accepted or not, by which provider and policy (ids as text)."""

    accepted: bool
    provider_id: str
    policy_id: str


@dataclass
class ReplayImpact:
    requests: int = 0
    contexts: int = 0  # distinct contexts resolved
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    by_region: dict[str, dict[str, int]] = field(default_factory=dict)
    samples: dict[str, list[str]] = field(default_factory=lambda: {c: [] for c in CATEGORIES})
    days: int = DEFAULT_DAYS

    @property
    def changed(self) -> int:
        return self.requests - self.counts["unchanged"]

    def as_json(self) -> dict[str, Any]:
        """The shape `manage.py replay_impact --json` prints (docs/changes.md)."""
        return {
            "requests": self.requests,
            "contexts": self.contexts,
            **{category: self.counts[category] for category in JSON_ORDER},
            "by_region": {region: dict(counts) for region, counts in sorted(self.by_region.items())},
            "samples": {category: list(ids) for category, ids in self.samples.items()},
        }


def replay_category(stored: Stored, now: Decision) -> str:
    """The one category of a request that got `stored` and would get `now`."""
    if stored.accepted and not now.accepted:
        return "newly_refused"
    if not stored.accepted and now.accepted:
        return "newly_accepted"
    if stored.accepted and now.provider is not None and now.provider.id != stored.provider_id:
        return "provider_changed"
    if stored.accepted and now.policy is not None and now.policy.id != stored.policy_id:
        return "policy_changed"
    return "unchanged"


def replay_decide(context: ReplayContext, snapshot: Snapshot) -> Decision:
    """What the candidate world decides for one distinct context (the engine of `POST /dispatch`)."""
    base = DispatchContext(context.subject, context.grade_band, context.region)
    if context.who_refusal:
        return Decision(context=base, refusal_code=context.who_refusal, refusal_detail="who asked: not authored")
    if not context.is_override:
        return resolve(base, snapshot)
    override = OverrideRequest(
        provider_id=context.override_provider_ref,
        justification=_LONG_ENOUGH if context.justification_ok else "",
    )
    return resolve_override(base, snapshot, override)


def replay_groups(groups: Iterable[tuple[Any, ...]], candidate: Snapshot, *, days: int = DEFAULT_DAYS) -> ReplayImpact:
    """Classify the audit log's groups (`audit.selectors.REPLAY_COLUMNS` tuples: one per context and
    decision got, with its count and two row ids) against `candidate`, resolving each distinct
    context once. The request ids of the samples are read afterwards, a few rows by primary key."""
    impact = ReplayImpact(days=days)
    decided: dict[ReplayContext, Decision] = {}
    justification_ok: dict[str, bool] = {}
    sample_rows: dict[str, list[int]] = {c: [] for c in CATEGORIES}
    for row in groups:
        subject, grade, region, is_override, ref, justification, who, outcome, provider, policy, count, first, last = (
            row
        )
        if is_override:
            ok = justification_ok.get(justification)
            if ok is None:
                ok = justification_ok[justification] = visible_length(justification) >= MIN_JUSTIFICATION_LENGTH
            context = ReplayContext(subject, grade, region, True, ref, ok, who)
        else:
            context = ReplayContext(subject, grade, region)
        decision = decided.get(context)
        if decision is None:
            decision = decided[context] = replay_decide(context, candidate)
        stored = Stored(outcome == Outcome.ACCEPTED, str(provider) if provider else "", str(policy) if policy else "")
        category = replay_category(stored, decision)
        impact.requests += count
        impact.counts[category] += count
        region_counts = impact.by_region.setdefault(region, dict.fromkeys(CATEGORIES, 0))
        region_counts[category] += count
        samples = sample_rows[category]
        for pk in dict.fromkeys((last, first)):
            if len(samples) < SAMPLES_PER_CATEGORY:
                samples.append(pk)
    impact.contexts = len(decided)
    names = dispatch_log_request_ids(pk for pks in sample_rows.values() for pk in pks)
    impact.samples = {category: [names[pk] for pk in pks if pk in names] for category, pks in sample_rows.items()}
    return impact


def replay_impact(candidate: Snapshot, *, days: int = DEFAULT_DAYS, now: dt.datetime | None = None) -> ReplayImpact:
    """The audit rows of the last `days` days (to `now`) replayed against `candidate`."""
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    since = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)
    return replay_groups(dispatch_log_context_groups(since=since, who_refusals=WHO_REFUSALS), candidate, days=days)
