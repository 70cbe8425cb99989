"""Where provider health lives: one Redis hash shared by every worker (each change ONE script call,
`providers.health.script`), else this process's memory (the same machine, `providers.health.machine`).

- Atomic: a report, a probe or a reset reads and writes the provider's state in one script, so
  two workers cannot both trip (or both recover) a provider; the one whose call made a transition
  is told so (and records it, `providers.health.services`).
- With Redis down (or not configured) each process keeps its own view (`health_shared()` is False,
  a warning is logged once per outage through `common.redis_client`, like the rate limits).
- Health is a cache of outcomes: it can only keep a provider out of a decision, never put one in.
- The dispatch path reads `health_view()`: this worker's copy of every provider that is not
  healthy, reread at most every PROVIDER_HEALTH_VIEW_SECONDS (one HGETALL per interval per worker,
  not per dispatch), and updated at once by this worker's own transitions. That interval is how
  stale a worker's view may be.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from common.redis_client import BACKOFF, REDIS_ERRORS, RedisUser
from providers.health import machine
from providers.health.machine import HealthConfig, HealthState, Transition
from providers.health.script import FIELDS, HEALTH

_redis = RedisUser("dispatch.health", "provider health is kept per process")
_state: dict[str, Any] = {"script": None, "client": None, "generation": ""}


@dataclass(frozen=True, slots=True)
class Change:
    state: HealthState
    transition: Transition | None
    admitted: bool = False  # probe: may this dispatch go to it


def health_now_ms() -> int:
    return int(time.time() * 1000)


def _key() -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "") or "mds"
    return f"{prefix}:health{_state['generation']}:state"


def _script() -> Any | None:
    client = _redis.client()
    if client is None:
        return None
    if _state["client"] is not client:
        _state.update(client=client, script=client.register_script(HEALTH))
    return _state["script"]


def health_shared() -> bool:
    """Whether health is shared through Redis right now (False: this process's own view)."""
    return bool(getattr(settings, "REDIS_URL", "")) and time.monotonic() >= BACKOFF.until


def state_decode(raw: str | bytes) -> HealthState:
    text = raw.decode() if isinstance(raw, bytes) else raw
    parts = text.split(",")
    return HealthState(parts[0], *(int(float(p)) for p in parts[1:]))


def config_args(config: HealthConfig) -> list[int]:
    return [
        config.failures_to_trip,
        config.rate_percent,
        config.min_outcomes,
        config.window_ms,
        config.cooldown_ms,
        config.cooldown_cap_ms,
        config.probes,
    ]


class _Local:
    """This process's states (without Redis), guarded by one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.states: dict[str, HealthState] = {}

    def apply(self, provider_id: str, step: Callable[[HealthState], Change]) -> Change:
        with self.lock:
            change = step(self.states.get(provider_id, HealthState()))
            self.states[provider_id] = change.state
            return change


_local = _Local()


def _remote(op: str, provider_id: str, now_ms: int, extra: list[Any]) -> Change | None:
    script = _script()
    if script is None:
        return None
    try:
        result = script(keys=[_key()], args=[op, provider_id, now_ms, *extra])
    except REDIS_ERRORS as exc:
        _redis.failed(exc)
        return None
    state = state_decode(result[0])
    previous = result[1].decode() if isinstance(result[1], bytes) else str(result[1])
    reason = result[2].decode() if isinstance(result[2], bytes) else str(result[2])
    transition = Transition(previous, state.state, reason) if previous else None
    return Change(state, transition, admitted=int(result[3]) == 1)


def outcome_record(*, provider_id: str, config: HealthConfig, dispatched_ms: int, ok: bool) -> Change:
    """A provider-side failure (`ok` False) or a success reported for `provider_id`."""
    now_ms = health_now_ms()
    change = _remote("outcome", provider_id, now_ms, [dispatched_ms, int(ok), *config_args(config)])
    if change is None:

        def step(current: HealthState) -> Change:
            return Change(*machine.outcome_apply(current, config, now_ms=now_ms, dispatched_ms=dispatched_ms, ok=ok))

        change = _local.apply(provider_id, step)
    _view_note(provider_id, change)
    return change


def probe_record(*, provider_id: str, config: HealthConfig) -> Change:
    """Ask to send one dispatch to a provider that is not healthy (`admitted`: a probe)."""
    now_ms = health_now_ms()
    change = _remote("probe", provider_id, now_ms, [0, 0, *config_args(config)])
    if change is None:

        def step(current: HealthState) -> Change:
            state, admitted, transition = machine.probe_take(current, config, now_ms=now_ms)
            return Change(state, transition, admitted)

        change = _local.apply(provider_id, step)
    _view_note(provider_id, change)
    return change


def advance_record(*, provider_id: str) -> Change:
    """The time-driven step alone (the background job): a cooldown that is over becomes probing.
    Atomic like every other step, so of all the workers that ask, one is told of the transition."""
    now_ms = health_now_ms()
    change = _remote("advance", provider_id, now_ms, [])
    if change is None:
        change = _local.apply(provider_id, lambda current: Change(*machine.advance(current, now_ms)))
    _view_note(provider_id, change)
    return change


def mark_record(*, provider_id: str) -> Change:
    """An operator's reset to healthy."""
    now_ms = health_now_ms()
    change = _remote("mark", provider_id, now_ms, [])
    if change is None:
        change = _local.apply(provider_id, lambda current: Change(*machine.mark_healthy(current, now_ms=now_ms)))
    _view_note(provider_id, change)
    return change


def health_states() -> dict[str, HealthState]:
    """Every provider with a recorded state (one HGETALL), or this process's own."""
    script = _script()
    if script is not None:
        try:
            raw = _state["client"].hgetall(_key())
        except REDIS_ERRORS as exc:
            _redis.failed(exc)
        else:
            return {(k.decode() if isinstance(k, bytes) else k): state_decode(v) for k, v in raw.items()}
    with _local.lock:
        return dict(_local.states)


class _View:
    """This worker's copy of the providers that are not healthy (see the module docstring)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.expires = 0.0
        self.unhealthy: dict[str, HealthState] = {}


_view = _View()


def health_view() -> dict[str, HealthState]:
    """The providers that are not healthy, as this worker last read them (at most
    PROVIDER_HEALTH_VIEW_SECONDS ago). Usually empty: then dispatch checks nothing."""
    if time.monotonic() < _view.expires:
        return _view.unhealthy
    unhealthy = {pid: s for pid, s in health_states().items() if s.state != machine.HEALTHY}
    with _view.lock:
        _view.unhealthy = unhealthy
        _view.expires = time.monotonic() + float(getattr(settings, "PROVIDER_HEALTH_VIEW_SECONDS", 1.0))
    return unhealthy


def _view_note(provider_id: str, change: Change) -> None:
    """This worker's own transitions reach its view at once."""
    if change.transition is None:
        return
    _probes_taken.pop(provider_id, None)
    with _view.lock:
        unhealthy = dict(_view.unhealthy)
        if change.state.state == machine.HEALTHY:
            unhealthy.pop(provider_id, None)
        else:
            unhealthy[provider_id] = change.state
        _view.unhealthy = unhealthy


# Providers whose probes this worker found taken, until when (monotonic): dispatch skips them
# without asking Redis again for PROVIDER_HEALTH_VIEW_SECONDS, so a probing provider costs at most
# one script call per worker and interval beyond its probes.
_probes_taken: dict[str, float] = {}


def probes_taken_note(provider_id: str) -> None:
    _probes_taken[provider_id] = time.monotonic() + float(getattr(settings, "PROVIDER_HEALTH_VIEW_SECONDS", 1.0))


def probes_taken(provider_id: str) -> bool:
    return _probes_taken.get(provider_id, 0.0) > time.monotonic()


def health_reset() -> None:
    """Forget every state (tests): a new Redis namespace, empty local states and view."""
    _state.update(script=None, client=None, generation=f":{uuid.uuid4().hex[:12]}")
    with _local.lock:
        _local.states.clear()
    with _view.lock:
        _view.unhealthy = {}
        _view.expires = 0.0
    _probes_taken.clear()


__all__ = [
    "FIELDS",
    "Change",
    "advance_record",
    "health_now_ms",
    "health_reset",
    "health_shared",
    "health_states",
    "health_view",
    "mark_record",
    "outcome_record",
    "probe_record",
    "probes_taken",
    "probes_taken_note",
]
