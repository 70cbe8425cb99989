"""The health state machine (providers.health.machine): rules by example, then properties over
random histories of reports, probes and resets."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from providers.health import machine
from providers.health.machine import (
    COOLING_DOWN,
    HEALTHY,
    PROBING,
    HealthConfig,
    HealthState,
    mark_healthy,
    outcome_apply,
    probe_take,
)

CONFIG = HealthConfig(
    failures_to_trip=3,
    rate_percent=50,
    min_outcomes=6,
    window_ms=10_000,
    cooldown_ms=1_000,
    cooldown_cap_ms=4_000,
    probes=2,
)


def _fail(state: HealthState, now: int, dispatched: int | None = None) -> HealthState:
    return outcome_apply(state, CONFIG, now_ms=now, dispatched_ms=now if dispatched is None else dispatched, ok=False)[
        0
    ]


def _ok(state: HealthState, now: int) -> HealthState:
    return outcome_apply(state, CONFIG, now_ms=now, dispatched_ms=now, ok=True)[0]


def _tripped(now: int = 100) -> HealthState:
    state = HealthState()
    for i in range(3):
        state = _fail(state, now + i)
    return state


def test_n_consecutive_failures_start_a_cooldown_of_the_base_length():
    state = _fail(_fail(HealthState(), 1), 2)
    assert state.state == HEALTHY and state.consecutive == 2
    state, transition = outcome_apply(state, CONFIG, now_ms=3, dispatched_ms=3, ok=False)
    assert transition == machine.Transition(HEALTHY, COOLING_DOWN, machine.BY_CONSECUTIVE_FAILURES)
    assert (state.state, state.until_ms, state.cooldown_ms) == (COOLING_DOWN, 1_003, 1_000)


def test_a_success_resets_the_consecutive_count():
    state = _ok(_fail(_fail(HealthState(), 1), 2), 3)
    assert state.consecutive == 0 and state.state == HEALTHY
    assert _fail(_fail(state, 4), 5).state == HEALTHY


def test_a_failure_rate_over_enough_outcomes_trips_and_fewer_outcomes_do_not():
    state = HealthState()
    for i, ok in enumerate([True, False, True, False, True]):  # 2 of 5: under M
        state = outcome_apply(state, CONFIG, now_ms=i, dispatched_ms=i, ok=ok)[0]
    assert state.state == HEALTHY
    state, transition = outcome_apply(state, CONFIG, now_ms=6, dispatched_ms=6, ok=False)  # 3 of 6 = 50 %
    assert transition is not None and transition.reason == machine.BY_FAILURE_RATE


def test_the_window_restarts_after_its_length():
    state = HealthState()
    for i, ok in enumerate([True, False, True, False, True]):
        state = outcome_apply(state, CONFIG, now_ms=i, dispatched_ms=i, ok=ok)[0]
    state = _fail(state, 20_000)  # a new window: 1 of 1, under M
    assert state.state == HEALTHY and (state.outcomes, state.failures) == (1, 1)


def test_cooling_down_admits_nothing_until_the_next_probe_time_then_a_few_probes():
    state = _tripped()
    assert probe_take(state, CONFIG, now_ms=state.until_ms - 1)[1] is False
    state, admitted, transition = probe_take(state, CONFIG, now_ms=state.until_ms)
    assert admitted and transition == machine.Transition(COOLING_DOWN, PROBING, machine.BY_COOLDOWN_OVER)
    state, admitted, _ = probe_take(state, CONFIG, now_ms=state.since_ms + 1)
    assert admitted and state.probes == 2
    assert probe_take(state, CONFIG, now_ms=state.since_ms + 2)[1] is False  # this round's probes are taken


def test_probes_never_reported_free_a_new_round_after_the_cooldown():
    state = _tripped()
    state, _, _ = probe_take(state, CONFIG, now_ms=state.until_ms)
    state, _, _ = probe_take(state, CONFIG, now_ms=state.since_ms)
    assert probe_take(state, CONFIG, now_ms=state.since_ms + 999)[1] is False
    assert probe_take(state, CONFIG, now_ms=state.since_ms + 1_000)[1] is True


def test_successful_probes_bring_it_back_and_a_failed_one_doubles_the_cooldown_up_to_the_cap():
    state = _tripped()
    probing, _, _ = probe_take(state, CONFIG, now_ms=state.until_ms)
    healthy, transition = outcome_apply(
        _ok(probing, probing.since_ms + 1),
        CONFIG,
        now_ms=probing.since_ms + 2,
        dispatched_ms=probing.since_ms + 1,
        ok=True,
    )
    assert healthy.state == HEALTHY and transition is not None and transition.reason == machine.BY_PROBES_SUCCEEDED
    cooldowns = []
    for _ in range(4):
        state, _, _ = probe_take(state, CONFIG, now_ms=state.until_ms)
        state = _fail(state, state.since_ms + 1)
        cooldowns.append(state.cooldown_ms)
    assert cooldowns == [2_000, 4_000, 4_000, 4_000]


def test_reports_about_dispatches_made_before_the_state_began_say_nothing():
    state = _tripped(now=100)
    probing, _, _ = probe_take(state, CONFIG, now_ms=state.until_ms)
    late = outcome_apply(probing, CONFIG, now_ms=probing.since_ms + 5, dispatched_ms=50, ok=False)
    assert late == (probing, None)


def test_mark_healthy_resets_from_any_state_and_is_nothing_when_healthy():
    state = _tripped()
    healthy, transition = mark_healthy(state, now_ms=500)
    assert healthy == HealthState(state=HEALTHY, since_ms=500)
    assert transition == machine.Transition(COOLING_DOWN, HEALTHY, machine.BY_MARKED_HEALTHY)
    assert mark_healthy(healthy, now_ms=600) == (healthy, None)


# Properties over random histories ---------------------------------------------------------------

configs = st.builds(
    HealthConfig,
    failures_to_trip=st.integers(1, 6),
    rate_percent=st.integers(1, 100),
    min_outcomes=st.integers(1, 10),
    window_ms=st.integers(1, 5_000),
    cooldown_ms=st.integers(1, 3_000),
    cooldown_cap_ms=st.integers(1, 20_000),
    probes=st.integers(1, 4),
)
# (kind, time step, how long before now its dispatch was made, ok)
events = st.lists(
    st.tuples(
        st.sampled_from(["outcome"] * 5 + ["probe"] * 4 + ["mark", "advance"]),
        st.sampled_from([0, 1, 10, 700, 5_000]),  # bursts, and pauses longer than any cooldown
        st.sampled_from([0, 0, 0, 1, 2_000]),  # mostly fresh reports, some late ones
        st.booleans(),
    ),
    min_size=5,
    max_size=80,
)


def run(config: HealthConfig, history: list[tuple[str, int, int, bool]], start: int = 10_000):
    """Replay `history`; yield (before, event, after, transition, admitted)."""
    state, now = HealthState(), start
    for kind, step, age, ok in history:
        now += step
        before = state
        admitted = False
        if kind == "outcome":
            state, transition = outcome_apply(state, config, now_ms=now, dispatched_ms=now - age, ok=ok)
        elif kind == "probe":
            state, admitted, transition = probe_take(state, config, now_ms=now)
        elif kind == "advance":  # the background job: a cooldown that is over becomes probing
            state, transition = machine.advance(state, now_ms=now)
        else:
            state, transition = mark_healthy(state, now_ms=now)
        yield before, (kind, now, now - age, ok), state, transition, admitted


@settings(max_examples=100, deadline=None)
@given(configs, events)
def test_every_change_of_state_is_a_transition_and_only_the_allowed_ones(config, history):
    allowed = {
        (HEALTHY, COOLING_DOWN),
        (COOLING_DOWN, PROBING),
        (PROBING, HEALTHY),
        (PROBING, COOLING_DOWN),
        (COOLING_DOWN, HEALTHY),  # an operator's reset
    }
    for before, (kind, now, _, _), after, transition, _ in run(config, history):
        if before.state != after.state:
            assert transition is not None and (transition.previous, transition.state) == (before.state, after.state)
            assert (before.state, after.state) in allowed
            assert after.since_ms == now
        else:
            assert transition is None
        if transition is not None and transition.state == HEALTHY and kind != "mark":
            assert transition.previous == PROBING  # only probes bring a provider back by themselves


@settings(max_examples=100, deadline=None)
@given(configs, events)
def test_cooling_down_never_admits_a_dispatch_and_probing_admits_at_most_a_few_per_round(config, history):
    for before, (kind, now, _, _), after, _, admitted in run(config, history):
        if kind != "probe":
            continue
        if before.state == COOLING_DOWN and now < before.until_ms:
            assert not admitted and after == before
        if after.state == PROBING:
            assert after.probes <= config.probes
        if before.state == HEALTHY:
            assert admitted


@settings(max_examples=100, deadline=None)
@given(configs, events)
def test_cooldowns_start_at_the_base_double_on_failed_probes_and_stay_within_the_cap(config, history):
    cap = max(config.cooldown_cap_ms, config.cooldown_ms)
    for before, _, after, transition, _ in run(config, history):
        if transition is None or transition.state != COOLING_DOWN:
            continue
        assert config.cooldown_ms <= after.cooldown_ms <= cap
        assert after.until_ms == after.since_ms + after.cooldown_ms
        if transition.previous == HEALTHY:
            assert after.cooldown_ms == config.cooldown_ms
        else:
            assert after.cooldown_ms == min(max(before.cooldown_ms, config.cooldown_ms) * 2, cap)


@settings(max_examples=100, deadline=None)
@given(configs, events)
def test_a_healthy_provider_trips_exactly_when_a_threshold_is_reached(config, history):
    for before, (kind, now, dispatched, ok), _after, transition, _ in run(config, history):
        if kind != "outcome" or before.state != HEALTHY or dispatched < before.since_ms:
            continue
        consecutive = 0 if ok else before.consecutive + 1
        fresh = before.outcomes == 0 or now >= before.window_ms + config.window_ms
        outcomes = (0 if fresh else before.outcomes) + 1
        failures = (0 if fresh else before.failures) + (0 if ok else 1)
        trips = consecutive >= config.failures_to_trip or (
            not ok and outcomes >= config.min_outcomes and failures * 100 >= config.rate_percent * outcomes
        )
        assert (transition is not None) == trips
        if ok:
            assert transition is None  # a success never trips


@settings(max_examples=100, deadline=None)
@given(configs, events)
def test_a_report_about_a_dispatch_older_than_the_state_changes_nothing_but_the_clock(config, history):
    for before, (kind, now, dispatched, _), after, transition, _ in run(config, history):
        if kind != "outcome" or dispatched >= before.since_ms:
            continue
        moved, by_clock = machine.advance(before, now)
        assert (after, transition) == (moved, by_clock)
        assert replace(after) == after
