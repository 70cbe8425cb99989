"""Provider health: what the outcome service, dispatch and the admin call (the rules are in
`providers.health.machine`, the shared state in `providers.health.store`).

- A provider-side failure is an outcome with `success: false` and an `error_code` in
  `PROVIDER_FAILURE_CODES`; any other failure (e.g. a content filter) is recorded by the outcome
  service but says nothing about the provider's health. Every success counts.
- `provider_health_advance_due` (a background job, every PROVIDER_HEALTH_VIEW_SECONDS in every
  worker) moves each provider whose cooldown is over to probing, so that transition is recorded
  (row, signal, alert) when it happens, not at the next probe or report; the step is the atomic
  script's, so of the workers that run the job at once exactly one records it.
- Each transition (made by exactly one call, the script being atomic) is written as a
  `ProviderHealthTransition` row and sent as `providers.signals.provider_health_changed`, by the
  worker whose call made it. Writing the row never fails the report or the dispatch that made
  it (a database error is logged): health is a cache of outcomes, PostgreSQL its record.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction

from providers.health import store
from providers.health.machine import COOLING_DOWN, HealthConfig
from providers.models import ModelProvider, ProviderHealthTransition
from providers.signals import provider_health_changed

logger = logging.getLogger("dispatch.health")

# Outcome error codes that count as provider-side failures (docs/api.md).
PROVIDER_FAILURE_CODES = frozenset(
    {"timeout", "provider_error", "provider_unavailable", "rate_limited", "connection_error"}
)
OVERRIDE_FIELDS = (
    "health_failures_to_trip",
    "health_failure_rate_percent",
    "health_min_outcomes",
    "health_cooldown_seconds",
)


def health_config(
    *,
    failures_to_trip: int | None = None,
    failure_rate_percent: int | None = None,
    min_outcomes: int | None = None,
    cooldown_seconds: int | None = None,
) -> HealthConfig:
    """A provider's health rules: its overrides (None = the PROVIDER_HEALTH_* default)."""
    cooldown = cooldown_seconds or settings.PROVIDER_HEALTH_COOLDOWN_SECONDS
    return HealthConfig(
        failures_to_trip=failures_to_trip or settings.PROVIDER_HEALTH_FAILURES,
        rate_percent=failure_rate_percent or settings.PROVIDER_HEALTH_FAILURE_RATE_PERCENT,
        min_outcomes=min_outcomes or settings.PROVIDER_HEALTH_MIN_OUTCOMES,
        window_ms=settings.PROVIDER_HEALTH_WINDOW_SECONDS * 1000,
        cooldown_ms=cooldown * 1000,
        cooldown_cap_ms=max(settings.PROVIDER_HEALTH_COOLDOWN_MAX_SECONDS, cooldown) * 1000,
        probes=settings.PROVIDER_HEALTH_PROBES,
    )


def provider_health_config(provider: ModelProvider) -> HealthConfig:
    return health_config(
        failures_to_trip=provider.health_failures_to_trip,
        failure_rate_percent=provider.health_failure_rate_percent,
        min_outcomes=provider.health_min_outcomes,
        cooldown_seconds=provider.health_cooldown_seconds,
    )


def is_provider_failure(*, success: bool, error_code: str) -> bool:
    return not success and error_code in PROVIDER_FAILURE_CODES


def provider_health_outcome(
    *, provider: ModelProvider, dispatched_at: dt.datetime, success: bool, error_code: str
) -> None:
    """Count a reported outcome towards the provider's health (`provider` needs its
    health_* fields); failures that are not provider-side are ignored."""
    if not success and error_code not in PROVIDER_FAILURE_CODES:
        return
    change = store.outcome_record(
        provider_id=str(provider.pk),
        config=provider_health_config(provider),
        dispatched_ms=int(dispatched_at.timestamp() * 1000),
        ok=success,
    )
    _transition_record(provider_id=provider.pk, change=change)


def provider_health_probe(*, provider_id: str) -> bool:
    """Dispatch chose a provider that is probing (or whose cooldown is over): may it go there now?
    True for one of the round's few probes; False keeps it out of this decision (`unhealthy`)."""
    overrides = ModelProvider.objects.filter(pk=provider_id).values(*OVERRIDE_FIELDS).first() or {}
    config = health_config(
        failures_to_trip=overrides.get("health_failures_to_trip"),
        failure_rate_percent=overrides.get("health_failure_rate_percent"),
        min_outcomes=overrides.get("health_min_outcomes"),
        cooldown_seconds=overrides.get("health_cooldown_seconds"),
    )
    change = store.probe_record(provider_id=provider_id, config=config)
    _transition_record(provider_id=uuid.UUID(provider_id), change=change)
    if not change.admitted:  # this round's probes are taken: ask again after the view's interval
        store.probes_taken_note(provider_id)
    return change.admitted


def provider_health_advance_due() -> int:
    """Move every provider whose cooldown is over to probing (the background job); returns how
    many transitions this call made (and recorded). One HGETALL when nothing is due."""
    now_ms = store.health_now_ms()
    done = 0
    for provider_id, state in store.health_states().items():
        if state.state != COOLING_DOWN or state.until_ms > now_ms:
            continue
        change = store.advance_record(provider_id=provider_id)
        if change.transition is not None:
            _transition_record(provider_id=uuid.UUID(provider_id), change=change)
            done += 1
    return done


def health_job_register() -> None:
    from common.background import job_register

    job_register(
        name="provider-health-advance",
        run=provider_health_advance_due,
        interval=max(0.2, float(getattr(settings, "PROVIDER_HEALTH_VIEW_SECONDS", 1.0))),
    )


def provider_health_mark_healthy(*, provider: ModelProvider, by: Any, reason: str) -> bool:
    """An operator's "mark healthy" (admin): audited as a transition row naming `by` and `reason`.
    False when the provider already was healthy (nothing to record)."""
    change = store.mark_record(provider_id=str(provider.pk))
    return _transition_record(provider_id=provider.pk, change=change, by=by, reason_text=reason)


@dataclass(frozen=True, slots=True)
class DispatchHealth:
    """What dispatch needs: providers to skip (id -> what the explanation says) and providers
    it may send a probe to (after asking, `provider_health_probe`)."""

    unhealthy: dict[str, str]
    probing: frozenset[str]
    next_probe: dict[str, str]  # id -> ISO time of the next probe (cooling down only)


NO_HEALTH_ISSUES = DispatchHealth({}, frozenset(), {})


def dispatch_health() -> DispatchHealth:
    """This worker's view (at most PROVIDER_HEALTH_VIEW_SECONDS old); the common case, every
    provider healthy, costs a clock read."""
    view = store.health_view()
    if not view:
        return NO_HEALTH_ISSUES
    now_ms = store.health_now_ms()
    unhealthy: dict[str, str] = {}
    next_probe: dict[str, str] = {}
    probing: set[str] = set()
    for provider_id, state in view.items():
        if state.state == COOLING_DOWN and state.until_ms > now_ms:
            when = ms_iso(state.until_ms)
            unhealthy[provider_id] = f"cooling down after provider-side failures; it will be probed from {when}"
            next_probe[provider_id] = when
        elif store.probes_taken(provider_id):
            unhealthy[provider_id] = PROBES_TAKEN
        else:
            probing.add(provider_id)
    return DispatchHealth(unhealthy, frozenset(probing), next_probe)


PROBES_TAKEN = "being probed (this round's probes are taken); it serves again once they succeed"


def ms_datetime(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def ms_iso(ms: int) -> str:
    return ms_datetime(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _transition_record(*, provider_id: uuid.UUID, change: store.Change, by: Any = None, reason_text: str = "") -> bool:
    transition = change.transition
    if transition is None:
        return False
    at = ms_datetime(change.state.since_ms)
    details: dict[str, Any] = {}
    if change.state.state == COOLING_DOWN:
        details["cooldown_seconds"] = change.state.cooldown_ms / 1000
        details["next_probe_at"] = ms_iso(change.state.until_ms)
    if reason_text:
        details["reason_text"] = reason_text
    if by is not None:
        details["by"] = getattr(by, "username", str(by))
    slug = ""
    try:
        with transaction.atomic():
            row = ProviderHealthTransition.objects.create(
                provider_id=provider_id,
                state=transition.state,
                previous=transition.previous,
                at=at,
                reason=transition.reason,
                details=details,
                changed_by=by if getattr(by, "pk", None) else None,
            )
            slug = ModelProvider.objects.filter(pk=provider_id).values_list("slug", flat=True).first() or ""
    except DatabaseError:
        logger.exception("provider %s health %s -> %s not recorded", provider_id, transition.previous, transition.state)
        return True
    logger.warning(
        "provider %s health: %s -> %s (%s)",
        slug or provider_id,
        transition.previous,
        transition.state,
        transition.reason,
    )
    provider_health_changed.send(
        sender=ProviderHealthTransition,
        provider_id=row.provider_id,
        provider_slug=slug,
        state=transition.state,
        previous=transition.previous,
        at=at,
        details={"reason": transition.reason, **details},
    )
    return True
