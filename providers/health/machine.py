"""The provider health state machine: pure (standard library only, the clock enters as `now_ms`).

States: `healthy` -> `cooling_down` -> `probing` -> `healthy` (or `cooling_down` again).

- A provider-side failure (`outcome_apply(ok=False)`) or a success (`ok=True`) counts only when
  its dispatch was made at or after the current state began (`dispatched_ms >= since_ms`): a late
  report about a call made before a trip or a recovery says nothing about the provider now.
- healthy: outcomes are counted in a fixed window (`window_ms`, started by its first outcome).
  It trips to cooling_down after `failures_to_trip` consecutive failures, or when at least
  `min_outcomes` outcomes of the window have a failure rate of at least `rate_percent` (judged at
  a failure: a success never trips).
- cooling_down: lasts `cooldown_ms` (the base on a trip from healthy; doubled, up to
  `cooldown_cap_ms`, on a failed probe). Outcomes change nothing. It becomes probing at the first
  event at or after `until_ms` (the next probe time).
- probing: up to `probe_limit` dispatches per round (`probe_take`; a round lasts the current
  cooldown, so probes whose outcomes are never reported do not block the provider for ever).
  `probe_limit` successes bring it back to healthy; one failure sends it back to cooling_down
  with the cooldown doubled (up to the cap).
- `mark_healthy`: an operator's reset to healthy (from any state).

Counters reset on every transition. `providers.health.script` is the same machine in Lua (what
Redis runs, atomically); a property test checks that both agree on random histories.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

HEALTHY = "healthy"
COOLING_DOWN = "cooling_down"
PROBING = "probing"
STATES = (HEALTHY, COOLING_DOWN, PROBING)

# Why a transition happened (ProviderHealthTransition.reason).
BY_CONSECUTIVE_FAILURES = "consecutive_failures"
BY_FAILURE_RATE = "failure_rate"
BY_COOLDOWN_OVER = "cooldown_over"
BY_PROBES_SUCCEEDED = "probes_succeeded"
BY_PROBE_FAILED = "probe_failed"
BY_MARKED_HEALTHY = "marked_healthy"


@dataclass(frozen=True, slots=True)
class HealthConfig:
    failures_to_trip: int  # N consecutive provider-side failures
    rate_percent: int  # R: a failure rate of at least R % ...
    min_outcomes: int  # ... over at least M outcomes of the window
    window_ms: int
    cooldown_ms: int  # the base cooldown
    cooldown_cap_ms: int  # doubling stops here (at least the base)
    probes: int  # dispatches per probe round, and successes needed to recover


@dataclass(frozen=True, slots=True)
class HealthState:
    state: str = HEALTHY
    since_ms: int = 0  # when the current state began
    until_ms: int = 0  # cooling_down: when probing may start (the next probe time)
    cooldown_ms: int = 0  # the cooldown of the last trip (0 while it never tripped since healthy)
    consecutive: int = 0  # consecutive provider-side failures (healthy)
    window_ms: int = 0  # when the current window began (0: none yet)
    outcomes: int = 0  # outcomes counted in the window
    failures: int = 0  # provider-side failures among them
    probes: int = 0  # probing: dispatches admitted in the current round
    round_ms: int = 0  # probing: when the current round began
    successes: int = 0  # probing: successful probes


@dataclass(frozen=True, slots=True)
class Transition:
    previous: str
    state: str
    reason: str


def advance(current: HealthState, now_ms: int) -> tuple[HealthState, Transition | None]:
    """The time-driven step: a cooldown that is over becomes probing."""
    if current.state == COOLING_DOWN and now_ms >= current.until_ms:
        return (
            HealthState(state=PROBING, since_ms=now_ms, cooldown_ms=current.cooldown_ms, round_ms=now_ms),
            Transition(COOLING_DOWN, PROBING, BY_COOLDOWN_OVER),
        )
    return current, None


def outcome_apply(
    current: HealthState, config: HealthConfig, *, now_ms: int, dispatched_ms: int, ok: bool
) -> tuple[HealthState, Transition | None]:
    """Apply one reported outcome: `ok` a success, else a provider-side failure."""
    current, moved = advance(current, now_ms)
    if moved is not None:
        return current, moved  # the report met the end of the cooldown: it is counted from the next one
    if dispatched_ms < current.since_ms:
        return current, None
    if current.state == HEALTHY:
        window_ms, outcomes, failures = current.window_ms, current.outcomes, current.failures
        if outcomes == 0 or now_ms >= window_ms + config.window_ms:
            window_ms, outcomes, failures = now_ms, 0, 0
        outcomes += 1
        failures += 0 if ok else 1
        consecutive = 0 if ok else current.consecutive + 1
        reason = ""
        if consecutive >= config.failures_to_trip:
            reason = BY_CONSECUTIVE_FAILURES
        elif not ok and outcomes >= config.min_outcomes and failures * 100 >= config.rate_percent * outcomes:
            reason = BY_FAILURE_RATE
        if reason:
            return _trip(now_ms, config.cooldown_ms), Transition(HEALTHY, COOLING_DOWN, reason)
        return (
            replace(current, consecutive=consecutive, window_ms=window_ms, outcomes=outcomes, failures=failures),
            None,
        )
    if current.state == PROBING:
        if not ok:
            cap = max(config.cooldown_cap_ms, config.cooldown_ms)
            cooldown = min(max(current.cooldown_ms, config.cooldown_ms) * 2, cap)
            return _trip(now_ms, cooldown), Transition(PROBING, COOLING_DOWN, BY_PROBE_FAILED)
        if current.successes + 1 >= config.probes:
            return HealthState(state=HEALTHY, since_ms=now_ms), Transition(PROBING, HEALTHY, BY_PROBES_SUCCEEDED)
        return replace(current, successes=current.successes + 1), None
    return current, None  # cooling_down: nothing to learn until the probes


def probe_take(
    current: HealthState, config: HealthConfig, *, now_ms: int
) -> tuple[HealthState, bool, Transition | None]:
    """May one dispatch go to this provider now? Always when healthy; while probing, up to
    `config.probes` per round; never while cooling down."""
    current, moved = advance(current, now_ms)
    if current.state == HEALTHY:
        return current, True, moved
    if current.state == COOLING_DOWN:
        return current, False, moved
    round_ms, probes = current.round_ms, current.probes
    if now_ms >= round_ms + max(current.cooldown_ms, config.cooldown_ms):
        round_ms, probes = now_ms, 0  # a new round: the last one's probes were never reported
    if probes >= config.probes:
        return current, False, moved
    return replace(current, round_ms=round_ms, probes=probes + 1), True, moved


def mark_healthy(current: HealthState, *, now_ms: int) -> tuple[HealthState, Transition | None]:
    """An operator's reset: healthy from now (no transition when it already was)."""
    if current.state == HEALTHY:
        return current, None
    return HealthState(state=HEALTHY, since_ms=now_ms), Transition(current.state, HEALTHY, BY_MARKED_HEALTHY)


def _trip(now_ms: int, cooldown_ms: int) -> HealthState:
    return HealthState(state=COOLING_DOWN, since_ms=now_ms, until_ms=now_ms + cooldown_ms, cooldown_ms=cooldown_ms)
