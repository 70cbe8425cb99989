"""The Lua health script (what Redis runs) is the Python machine, step for step: both replay the
same random histories and must agree on every state, transition and probe admission."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from providers.health import machine
from providers.health.machine import HealthConfig, HealthState
from providers.health.script import FIELDS, HEALTH
from providers.health.store import config_args, state_decode
from providers.tests.health.test_machine import configs, events

pytestmark = pytest.mark.usefixtures("require_redis")


def test_the_encoding_names_every_field_of_the_state():
    assert tuple(HealthState.__dataclass_fields__) == FIELDS


@pytest.fixture
def health_script():
    from common.redis_client import redis_reset
    from providers.health.store import _redis

    redis_reset()
    client = _redis.client()
    assert client is not None
    key = f"test-health-script:{uuid.uuid4().hex}"
    yield client.register_script(HEALTH), key
    client.delete(key)


# Histories through every transition (random ones reach the rarer paths less often).
SCENARIOS = [
    # trip, probe after the cooldown, two successful probes: healthy again
    [("outcome", 1, 0, False)] * 3
    + [("probe", 5_000, 0, False), ("probe", 1, 0, False)]
    + [("outcome", 5, 0, True), ("outcome", 5, 0, True)],
    # trip, failed probe (cooldown doubled), again and again up to the cap, then a third probe refused
    [("outcome", 1, 0, False)] * 3
    + [("probe", 5_000, 0, False), ("outcome", 1, 0, False)] * 4
    + [("probe", 50_000, 0, False)]
    + [("probe", 1, 0, False)] * 3,
    # trip, the job's advance before and after the cooldown's end, then the probes
    [("outcome", 1, 0, False)] * 3
    + [("advance", 500, 0, False), ("advance", 600, 0, False), ("advance", 1, 0, False)]
    + [("probe", 1, 0, False), ("outcome", 1, 0, True), ("outcome", 1, 0, True)],
    # a failure rate over the window, late reports, an operator's reset
    [("outcome", 1, 0, i % 2 == 0) for i in range(8)] + [("outcome", 1, 9_000, False), ("mark", 1, 0, False)],
]


def replay(script, key: str, config: HealthConfig, history, start: int) -> None:
    state, now = HealthState(), start
    for kind, step, age, ok in history:
        now += step
        if kind == "outcome":
            expected, transition = machine.outcome_apply(state, config, now_ms=now, dispatched_ms=now - age, ok=ok)
            admitted = False
            args = ["outcome", "p", now, now - age, int(ok), *config_args(config)]
        elif kind == "probe":
            expected, admitted, transition = machine.probe_take(state, config, now_ms=now)
            args = ["probe", "p", now, 0, 0, *config_args(config)]
        elif kind == "advance":
            expected, transition = machine.advance(state, now_ms=now)
            admitted = False
            args = ["advance", "p", now]
        else:
            expected, transition = machine.mark_healthy(state, now_ms=now)
            admitted = False
            args = ["mark", "p", now]
        encoded, previous, reason, lua_admitted = script(keys=[key], args=args)
        assert state_decode(encoded) == expected, (kind, state)
        got = machine.Transition(previous.decode(), expected.state, reason.decode()) if previous else None
        assert got == transition
        assert bool(lua_admitted) == admitted
        state = expected


@pytest.mark.parametrize("history", SCENARIOS)
def test_lua_and_python_agree_on_every_transition(health_script, history):
    script, key = health_script
    config = HealthConfig(3, 50, 6, 10_000, 1_000, 4_000, 2)
    replay(script, key, config, history, start=1_764_000_000_000)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=configs, history=events, start=st.integers(1_000, 1_800_000_000_000))
def test_lua_and_python_agree_on_random_histories(health_script, config: HealthConfig, history, start):
    script, base_key = health_script
    replay(script, f"{base_key}:{uuid.uuid4().hex[:8]}", config, history, start)
