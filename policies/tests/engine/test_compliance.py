"""The age and agreement rules (issue 16), one case per rule, and a property test against a
brute-force reading of the issue's text over random worlds: random provider minimum ages, random
agreements (regions, dates, ages covered), random bands and dates."""

from __future__ import annotations

import dataclasses
import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.engine import AgreementSpec, Decision, DispatchContext, OverrideRequest, ProviderSpec, Snapshot, resolve
from policies.engine.compliance import (
    REASON_BLOCKED,
    REASON_MINIMUM_AGE,
    REASON_NO_AGREEMENT,
    REASON_UNDER_13_FRAMEWORK,
)
from policies.engine.resolve import available_providers, resolve_override, why_not
from policies.tests.engine.worlds import policy, provider, rule

AGES = {"early_childhood": 3, "elementary": 6, "middle": 11, "high": 14, "adult": 18, "special": 3}
TODAY = datetime.date(2026, 11, 30)


def agreement(
    ref: str,
    pid: str,
    *,
    regions: tuple[str, ...] = (),
    signed: datetime.date = datetime.date(2026, 1, 1),
    expires: datetime.date | None = None,
    min_age: int = 0,
) -> AgreementSpec:
    return AgreementSpec(ref, pid, frozenset(regions), signed, expires, min_age)


def snap(providers, rules, agreements=(), *, on: datetime.date | None = TODAY, policies=()) -> Snapshot:
    return Snapshot(
        providers={p.id: p for p in providers},
        policies=tuple(policies),
        rules={r.region: r for r in rules},
        agreements=tuple(agreements),
        band_ages=AGES,
        on=on,
    )


def reason(snapshot: Snapshot, pid: str, region: str, band: str = "") -> str | None:
    found = why_not(snapshot, pid, region, band)
    return found[0] if found else None


def relied_on(decision: Decision) -> str | None:
    return decision.agreement.reference if decision.agreement else None


def teen_only(pid: str = "p") -> ProviderSpec:
    return dataclasses.replace(provider(pid), minimum_user_age=13)


# Rule 1: the band's youngest age is at least the provider's effective minimum age.
@pytest.mark.parametrize(
    ("band", "agreements", "why"),
    [
        ("high", (), None),  # 14 >= 13
        ("middle", (), REASON_MINIMUM_AGE),  # 11 < 13, no agreement
        ("middle", (agreement("A", "p", min_age=10),), None),  # the agreement lowers it to 10
        ("elementary", (agreement("A", "p", min_age=10),), REASON_MINIMUM_AGE),  # 6 < 10
        ("middle", (agreement("A", "p", min_age=10, regions=("eu_west",)),), REASON_MINIMUM_AGE),  # not here
        ("middle", (agreement("A", "p", min_age=10, expires=TODAY - datetime.timedelta(days=1)),), REASON_MINIMUM_AGE),
        ("middle", (agreement("A", "p", min_age=10, signed=TODAY + datetime.timedelta(days=1)),), REASON_MINIMUM_AGE),
        ("middle", (agreement("A", "other", min_age=0),), REASON_MINIMUM_AGE),  # another provider's
        ("middle", (agreement("A", "p", min_age=10, expires=TODAY),), None),  # its last day: still in force
    ],
)
def test_minimum_age_rule(band, agreements, why) -> None:
    snapshot = snap([teen_only()], [rule()], agreements)
    found = why_not(snapshot, "p", "us_east", band)
    assert (found[0] if found else None) == why


# Rule 2: a region that requires agreements needs one in force covering it and the band's age.
@pytest.mark.parametrize(
    ("band", "agreements", "why"),
    [
        ("high", (), REASON_NO_AGREEMENT),
        ("high", (agreement("A", "p"),), None),
        ("high", (agreement("A", "p", regions=("us_east",)),), None),
        ("high", (agreement("A", "p", regions=("eu_west",)),), REASON_NO_AGREEMENT),
        ("elementary", (agreement("A", "p", min_age=13),), REASON_NO_AGREEMENT),  # covers 13+, band starts at 6
        ("high", (agreement("A", "p", expires=TODAY - datetime.timedelta(days=1)),), REASON_NO_AGREEMENT),
    ],
)
def test_agreement_required_rule(band, agreements, why) -> None:
    snapshot = snap([provider("p")], [dataclasses.replace(rule(), agreement_required=True)], agreements)
    found = why_not(snapshot, "p", "us_east", band)
    assert (found[0] if found else None) == why


# Rule 3: an under-13 band needs the region's under_13_frameworks too.
@pytest.mark.parametrize(
    ("band", "frameworks", "why"),
    [
        ("elementary", ("FERPA",), REASON_UNDER_13_FRAMEWORK),
        ("elementary", ("FERPA", "COPPA"), None),
        ("high", ("FERPA",), None),  # 14: not under 13
        ("adult", ("FERPA",), None),
        ("middle", ("FERPA",), REASON_UNDER_13_FRAMEWORK),  # 11
    ],
)
def test_under_13_frameworks_rule(band, frameworks, why) -> None:
    region = dataclasses.replace(rule(frameworks=("FERPA",)), under_13_frameworks=frozenset({"COPPA"}))
    snapshot = snap([provider("p", frameworks=frameworks)], [region])
    found = why_not(snapshot, "p", "us_east", band)
    assert (found[0] if found else None) == why


def test_without_a_band_the_youngest_band_is_judged() -> None:
    snapshot = snap([teen_only()], [rule()])
    assert reason(snapshot, "p", "us_east") == REASON_MINIMUM_AGE
    available, unavailable = available_providers(snapshot, "us_east")
    assert not available and unavailable[0].reason == REASON_MINIMUM_AGE
    assert [p.id for p in available_providers(snapshot, "us_east", "high")[0]] == ["p"]


def test_a_blocked_provider_stays_blocked_whatever_it_has_signed() -> None:
    snapshot = snap([provider("p")], [rule(blocked=("p",))], [agreement("A", "p")])
    assert reason(snapshot, "p", "us_east", "adult") == REASON_BLOCKED


def test_the_agreement_relied_on_is_the_one_ending_last() -> None:
    agreements = [
        agreement("A 2027", "p", expires=datetime.date(2027, 6, 30)),
        agreement("B none", "p"),  # no expiry ends last
        agreement("C 2028", "p", expires=datetime.date(2028, 6, 30)),
        agreement("D too old", "p", min_age=15),  # does not cover 14-year-olds
    ]
    snapshot = snap(
        [provider("p")],
        [dataclasses.replace(rule(), agreement_required=True)],
        agreements,
        policies=[policy("pol", "p")],
    )
    decision = resolve(DispatchContext("mathematics", "high", "us_east"), snapshot)
    assert relied_on(decision) == "B none"
    later = snap(
        [provider("p")],
        [dataclasses.replace(rule(), agreement_required=True)],
        agreements[:1] + agreements[2:],
        policies=[policy("pol", "p")],
    )
    assert relied_on(resolve(DispatchContext("mathematics", "high", "us_east"), later)) == "C 2028"


def test_no_agreement_is_named_when_none_is_needed() -> None:
    snapshot = snap([teen_only()], [rule()], [agreement("A", "p", min_age=10)], policies=[policy("pol", "p")])
    assert resolve(DispatchContext("mathematics", "high", "us_east"), snapshot).agreement is None  # 14 >= 13
    middle = resolve(DispatchContext("mathematics", "middle", "us_east"), snapshot)
    assert middle.accepted and relied_on(middle) == "A"  # 11 < 13: its terms need the agreement


def test_an_override_uses_the_same_rules_and_names_its_agreement() -> None:
    snapshot = snap(
        [provider("p"), teen_only("teen")],
        [rule()],
        [agreement("T", "teen", min_age=11)],
        policies=[policy("pol", "p")],
    )
    ask = OverrideRequest("teen", "the class needs this provider for a reason")
    elementary = resolve_override(DispatchContext("mathematics", "elementary", "us_east"), snapshot, ask)
    assert elementary.refusal_code == "override_provider_not_compliant" and "starts at 6" in elementary.refusal_detail
    middle = resolve_override(DispatchContext("mathematics", "middle", "us_east"), snapshot, ask)
    assert middle.override_applied and relied_on(middle) == "T"


def test_the_snapshot_knows_when_it_stops_being_true() -> None:
    agreements = [
        agreement("ends", "p", expires=TODAY),
        agreement("starts", "p", signed=TODAY + datetime.timedelta(days=5)),
        agreement("old", "p", expires=TODAY - datetime.timedelta(days=3)),
    ]
    assert snap([provider("p")], [rule()], agreements).valid_until == TODAY + datetime.timedelta(days=1)
    assert snap([provider("p")], [rule()], agreements[1:]).valid_until == TODAY + datetime.timedelta(days=5)
    assert snap([provider("p")], [rule()], agreements[2:]).valid_until is None


def test_without_a_date_no_agreement_is_in_force() -> None:
    region = dataclasses.replace(rule(), agreement_required=True)
    world = snap([provider("p")], [region], [agreement("A", "p")], on=None)
    assert reason(world, "p", "us_east", "high") == REASON_NO_AGREEMENT


# The property: the engine agrees with a brute-force reading of the issue's text.
PROVIDER_IDS = ["p0", "p1", "p2", "p3"]
REGIONS = ["us_east", "eu_west"]
FRAMEWORKS = ["FERPA", "COPPA"]
BASE = datetime.date(2026, 6, 1)
days = st.integers(0, 30).map(lambda n: BASE + datetime.timedelta(days=n))


@st.composite
def worlds(draw) -> Snapshot:
    providers = [
        dataclasses.replace(
            provider(pid, regions=tuple(REGIONS), frameworks=tuple(draw(st.sets(st.sampled_from(FRAMEWORKS))))),
            minimum_user_age=draw(st.sampled_from([0, 0, 13, 18, 5])),
            active=draw(st.booleans()) or draw(st.booleans()),
        )
        for pid in PROVIDER_IDS
    ]
    rules = [
        dataclasses.replace(
            rule(region, blocked=tuple(draw(st.sets(st.sampled_from(PROVIDER_IDS), max_size=1)))),
            agreement_required=draw(st.booleans()),
            under_13_frameworks=frozenset(draw(st.sets(st.sampled_from(FRAMEWORKS), max_size=2))),
        )
        for region in REGIONS
    ]
    agreements = []
    for i in range(draw(st.integers(0, 6))):
        signed = draw(days)
        length = draw(st.one_of(st.none(), st.integers(0, 20)))
        expires = None if length is None else signed + datetime.timedelta(days=length)
        agreements.append(
            agreement(
                f"ref{i}",
                draw(st.sampled_from(PROVIDER_IDS)),
                regions=tuple(draw(st.sets(st.sampled_from(REGIONS), max_size=2))),
                signed=signed,
                expires=expires,
                min_age=draw(st.sampled_from([0, 3, 6, 10, 13, 16])),
            )
        )
    return snap(
        providers,
        rules,
        agreements,
        on=draw(days),
        policies=[policy("pol", *draw(st.permutations(PROVIDER_IDS)))],
    )


def reference_reading(world: Snapshot, pid: str, region: str, band: str) -> tuple[bool, str | None]:
    """Compliant or not, and the agreement relied on, read straight from the issue's bullets."""
    p, r, age, on = world.providers[pid], world.rules[region], AGES[band], world.on
    assert on is not None
    if not p.active or pid in r.blocked_providers:
        return False, None
    if not r.compliance_frameworks <= p.compliance_frameworks:
        return False, None
    mine = [
        a
        for a in world.agreements
        if a.provider_id == pid
        and a.signed_on <= on
        and (a.expires_on is None or on <= a.expires_on)
        and (not a.regions or region in a.regions)
    ]
    effective = min([p.minimum_user_age] + [a.min_age_covered for a in mine])
    if age < effective:
        return False, None
    covering = [a for a in mine if a.min_age_covered <= age]
    if r.agreement_required and not covering:
        return False, None
    if age < 13 and not r.under_13_frameworks <= p.compliance_frameworks:
        return False, None
    if not (r.agreement_required or p.minimum_user_age > age):
        return True, None
    ends = {a.reference: (a.expires_on or datetime.date.max) for a in covering}
    latest = max(ends.values())
    return True, min(ref for ref, end in ends.items() if end == latest)


@settings(max_examples=300, deadline=None)
@given(world=worlds(), region=st.sampled_from(REGIONS), band=st.sampled_from(sorted(AGES)))
def test_engine_agrees_with_the_issue_text(world: Snapshot, region: str, band: str) -> None:
    for pid in PROVIDER_IDS:
        ok, _relied = reference_reading(world, pid, region, band)
        why = why_not(world, pid, region, band)
        assert (why is None) == ok, (pid, why)
    decision = resolve(DispatchContext("mathematics", band, region), world)
    compliant_in_chain = [pid for pid in world.policies[0].chain if reference_reading(world, pid, region, band)[0]]
    if compliant_in_chain:
        assert decision.provider is not None and decision.provider.id == compliant_in_chain[0]
        expected = reference_reading(world, compliant_in_chain[0], region, band)[1]
        assert relied_on(decision) == expected
        assert decision.provider.id not in world.rules[region].blocked_providers  # never a blocked one
    else:
        assert not decision.accepted and decision.agreement is None
    available, _ = available_providers(world, region, band)
    assert not {p.id for p in available} & world.rules[region].blocked_providers
