"""Provider health, read: every provider's state now (GET /providers/health, the admin page, the
dashboard tile)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from providers.health import store
from providers.health.machine import COOLING_DOWN, HEALTHY, PROBING, HealthState
from providers.health.services import ms_datetime
from providers.models import HealthState as State
from providers.models import ModelProvider


@dataclass(frozen=True, slots=True)
class ProviderHealthRow:
    provider_id: str
    provider_slug: str
    provider_name: str
    state: str
    since: dt.datetime | None
    failures: int
    outcomes: int
    next_probe_at: dt.datetime | None
    trips_24h: int  # transitions to cooling_down in the last 24 h (PostgreSQL's record)


def provider_health_list() -> tuple[list[ProviderHealthRow], bool]:
    """Every provider's health now (by name), and whether the view is shared (Redis) or this
    process's own. A cooldown that is over reads `probing`: the next dispatch choosing it is a probe."""
    states = store.health_states()
    shared = store.health_shared()
    now_ms = store.health_now_ms()
    rows: list[ProviderHealthRow] = []
    since = timezone.now() - dt.timedelta(hours=24)
    providers = ModelProvider.objects.order_by("name", "slug").annotate(
        trips_24h=Count(
            "health_transitions",
            filter=Q(health_transitions__state=State.COOLING_DOWN, health_transitions__at__gte=since),
        )
    )
    for provider in providers.only("id", "slug", "name"):
        state = states.get(str(provider.pk), HealthState())
        name = state.state
        next_probe: dt.datetime | None = None
        if name == COOLING_DOWN:
            next_probe = ms_datetime(state.until_ms)
            if state.until_ms <= now_ms:
                name = PROBING  # the cooldown is over: the next dispatch that chooses it is a probe
        window_live = (
            state.state == HEALTHY
            and state.outcomes
            and now_ms < state.window_ms + (settings.PROVIDER_HEALTH_WINDOW_SECONDS * 1000)
        )
        rows.append(
            ProviderHealthRow(
                provider_id=str(provider.pk),
                provider_slug=provider.slug,
                provider_name=provider.name,
                state=name,
                since=ms_datetime(state.since_ms) if state.since_ms else None,
                failures=state.failures if window_live else 0,
                outcomes=state.outcomes if window_live else 0,
                next_probe_at=next_probe,
                trips_24h=provider.trips_24h,
            )
        )
    return rows, shared
