"""The resolution rules, one case per rule, on plain data."""

from __future__ import annotations

import pytest

from policies.engine import (
    DispatchContext,
    OverrideOptions,
    OverrideRequest,
    Snapshot,
    compile_contexts,
    judgements,
    resolve,
    resolve_override,
    why_not,
)
from policies.engine.compliance import (
    REASON_BLOCKED,
    REASON_ENCRYPTION,
    REASON_FRAMEWORK,
    REASON_INACTIVE,
    REASON_NOT_ALLOWED,
    REASON_RESIDENCY,
)
from policies.engine.types import (
    BAND_UNKNOWN,
    MIN_JUSTIFICATION_LENGTH,
    REASON_NO_COMPLIANT_PROVIDER,
    REASON_RATE_LIMITED,
    REFUSAL_JUSTIFICATION,
    REFUSAL_NO_COMPLIANT_PROVIDER,
    REFUSAL_NO_POLICY,
    REFUSAL_OVERRIDE_NOT_ALLOWED,
    REFUSAL_OVERRIDE_PROVIDER_NOT_COMPLIANT,
    REFUSAL_OVERRIDE_PROVIDER_UNKNOWN,
    REFUSAL_REGION_NOT_CONFIGURED,
    REFUSAL_TEACHER_NOT_AUTHORISED,
    REFUSAL_TEACHER_REGION,
    REFUSAL_TEACHER_UNKNOWN,
)
from policies.tests.engine.worlds import policy, provider, rule, world

MATH = DispatchContext("mathematics", "elementary", "us_east")
NOT_AUTHORISED = REFUSAL_TEACHER_NOT_AUTHORISED
A, B, C = provider("a"), provider("b"), provider("c")


def all_levels() -> list:
    return [
        policy("exact", "a", subject="mathematics", grade_band="elementary", region="us_east"),
        policy("subject_grade", "b", subject="mathematics", grade_band="elementary"),
        policy("subject", "c", subject="mathematics"),
        policy("default", "a"),
    ]


@pytest.mark.parametrize(
    ("context", "expected_policy", "expected_level"),
    [
        (MATH, "exact", "exact"),
        (DispatchContext("mathematics", "elementary", "us_west"), "subject_grade", "subject_grade"),
        (DispatchContext("mathematics", "high", "us_east"), "subject", "subject"),
        (DispatchContext("science", "high", "us_east"), "default", "default"),
    ],
)
def test_each_level_matches_the_most_specific_policy(context, expected_policy, expected_level):
    snapshot = world([A, B, C], all_levels(), [rule("us_east"), rule("us_west")])
    decision = resolve(context, snapshot)
    assert decision.accepted
    assert decision.policy is not None and decision.policy.id == expected_policy
    assert decision.level == expected_level


def test_a_policy_for_another_region_is_not_a_candidate():
    snapshot = world(
        [A, B],
        [policy("eu", "a", subject="mathematics", grade_band="elementary", region="eu_west"), policy("default", "b")],
        [rule("us_east")],
    )
    decision = resolve(MATH, snapshot)
    assert decision.policy is not None and decision.policy.id == "default"


def test_higher_priority_wins_within_a_level():
    snapshot = world(
        [A, B],
        [
            policy("low", "a", subject="mathematics", priority=10),
            policy("high", "b", subject="mathematics", priority=90),
        ],
        [rule()],
    )
    decision = resolve(MATH, snapshot)
    assert decision.policy is not None and decision.policy.id == "high"
    assert decision.provider is not None and decision.provider.id == "b"


def test_fallbacks_are_tried_in_order():
    snapshot = world([A, B, C], [policy("p", "a", "b", "c")], [rule(blocked=("a",))])
    decision = resolve(MATH, snapshot)
    assert decision.provider is not None and decision.provider.id == "b"
    assert [(s.kind, s.id, s.reason) for s in decision.passed_over] == [("provider", "a", REASON_BLOCKED)]


@pytest.mark.parametrize(
    ("providers", "region_rule", "reason"),
    [
        ([provider("a")], rule(blocked=("a",)), REASON_BLOCKED),
        ([provider("a"), provider("b")], rule(allowed=("b",)), REASON_NOT_ALLOWED),
        ([provider("a", regions=("us_west",))], rule(residency=True), REASON_RESIDENCY),
        ([provider("a", encrypts=False)], rule(encryption=True), REASON_ENCRYPTION),
        ([provider("a", frameworks=("FERPA",))], rule(frameworks=("FERPA", "COPPA")), REASON_FRAMEWORK),
        ([provider("a", active=False)], rule(), REASON_INACTIVE),
    ],
)
def test_each_compliance_reason_passes_a_provider_over(providers, region_rule, reason):
    compliant = provider("z")
    snapshot = world([*providers, compliant], [policy("p", "a", "z")], [region_rule])
    if region_rule.allowed_providers:
        snapshot = world(
            [*providers, compliant], [policy("p", "a", "z")], [rule(allowed=(*region_rule.allowed_providers, "z"))]
        )
    decision = resolve(MATH, snapshot)
    assert decision.provider is not None and decision.provider.id == "z"
    assert decision.passed_over[0].reason == reason
    assert decision.passed_over[0].id == "a"


def test_compliant_provider_in_every_requirement_is_taken():
    rich = provider("a", regions=("eu_west",), frameworks=("GDPR", "ISO27001"))
    snapshot = world(
        [rich],
        [policy("p", "a")],
        [rule("eu_west", residency=True, encryption=True, allowed=("a",), frameworks=("GDPR",))],
    )
    decision = resolve(DispatchContext("science", "high", "eu_west"), snapshot)
    assert decision.provider == rich


def test_falls_through_to_a_less_specific_policy_when_a_chain_has_no_compliant_provider():
    snapshot = world(
        [A, B],
        [
            policy("exact", "a", subject="mathematics", grade_band="elementary", region="us_east"),
            policy("default", "b"),
        ],
        [rule(blocked=("a",))],
    )
    decision = resolve(MATH, snapshot)
    assert decision.policy is not None and decision.policy.id == "default"
    assert decision.level == "default"
    assert [(s.kind, s.id, s.reason) for s in decision.passed_over] == [
        ("provider", "a", REASON_BLOCKED),
        ("policy", "exact", REASON_NO_COMPLIANT_PROVIDER),
    ]


def test_no_compliant_provider_anywhere_is_a_refusal_naming_the_region():
    snapshot = world([A], [policy("p", "a")], [rule(blocked=("a",))])
    decision = resolve(MATH, snapshot)
    assert not decision.accepted
    assert decision.provider is None
    assert decision.refusal_code == REFUSAL_NO_COMPLIANT_PROVIDER
    assert "us_east" in decision.refusal_detail
    assert "blocked_in_region" in decision.refusal_detail


def test_region_without_routing_rule_fails_closed():
    snapshot = world([A], [policy("p", "a")], [rule("us_west")])
    decision = resolve(MATH, snapshot)
    assert decision.refusal_code == REFUSAL_REGION_NOT_CONFIGURED
    assert decision.provider is None


def test_no_matching_policy_is_a_refusal():
    snapshot = world([A], [policy("sci", "a", subject="science")], [rule()])
    assert resolve(MATH, snapshot).refusal_code == REFUSAL_NO_POLICY


def test_a_policy_with_a_shape_outside_the_four_levels_is_never_used():
    snapshot = world([A], [policy("odd", "a", grade_band="elementary")], [rule()])
    assert resolve(MATH, snapshot).refusal_code == REFUSAL_NO_POLICY


def test_rate_limited_provider_is_passed_over_with_its_own_reason():
    snapshot = world([A, B], [policy("p", "a", "b")], [rule()])
    decision = resolve(MATH, snapshot, saturated={"a"})
    assert decision.provider is not None and decision.provider.id == "b"
    assert decision.passed_over[0].reason == REASON_RATE_LIMITED


def test_provider_missing_from_the_snapshot_is_passed_over():
    snapshot = world([B], [policy("p", "ghost", "b")], [rule()])
    decision = resolve(MATH, snapshot)
    assert decision.provider is not None and decision.provider.id == "b"
    assert decision.passed_over[0].reason == "provider_unknown"


REASON = "Student needs a specialised science model for lab reports"


@pytest.mark.parametrize(
    ("allow", "override", "code"),
    [
        (True, OverrideRequest("c", REASON), ""),
        (True, OverrideRequest("c-slug", REASON), ""),
        (False, OverrideRequest("c", REASON), REFUSAL_OVERRIDE_NOT_ALLOWED),
        (True, OverrideRequest("c", "too short"), REFUSAL_JUSTIFICATION),
        (True, OverrideRequest("c", "   " + "x" * 10 + "          "), REFUSAL_JUSTIFICATION),
        (True, OverrideRequest("nobody", REASON), REFUSAL_OVERRIDE_PROVIDER_UNKNOWN),
        (True, OverrideRequest("b", REASON), REFUSAL_OVERRIDE_PROVIDER_NOT_COMPLIANT),
        (True, OverrideRequest("c", REASON, "t1", teacher_regions=frozenset({"us_east"})), ""),
        (True, OverrideRequest("c", REASON, "t1", teacher_regions=frozenset({"eu_west"})), REFUSAL_TEACHER_REGION),
        (True, OverrideRequest("c", REASON, "t1", teacher_regions=frozenset()), REFUSAL_TEACHER_REGION),
        (True, OverrideRequest("c", REASON, "t9", teacher_known=False), REFUSAL_TEACHER_UNKNOWN),
        # who may ask is checked before what is asked
        (False, OverrideRequest("b", "short", "t1", teacher_regions=frozenset({"eu_west"})), REFUSAL_TEACHER_REGION),
        (True, OverrideRequest("c", REASON, "t1", client_authorised=False), REFUSAL_TEACHER_NOT_AUTHORISED),
        # the client's authorisation comes first: a client not authorised learns nothing about the teacher
        (True, OverrideRequest("c", REASON, "t9", teacher_known=False, client_authorised=False), NOT_AUTHORISED),
        (False, OverrideRequest("b", "short", "t1", False, frozenset(), client_authorised=False), NOT_AUTHORISED),
    ],
)
def test_override_rules(allow, override, code):
    snapshot = world([A, B, C], [policy("p", "a", override=allow)], [rule(blocked=("b",))])
    decision = resolve_override(MATH, snapshot, override)
    assert decision.refusal_code == code
    if code:
        assert decision.provider is None
        assert decision.override == override
    else:
        assert decision.provider is not None and decision.provider.id == "c"
        assert decision.override_applied
        assert decision.policy is not None and decision.policy.id == "p"


def test_a_client_not_authorised_for_the_teacher_is_refused_naming_the_teacher():
    snapshot = world([A, C], [policy("p", "a")], [rule()])
    decision = resolve_override(MATH, snapshot, OverrideRequest("c", REASON, "t-7", client_authorised=False))
    assert decision.refusal_code == REFUSAL_TEACHER_NOT_AUTHORISED and decision.provider is None
    assert decision.refusal_detail == "this client is not authorised to act for teacher 't-7'"


def test_override_of_a_context_that_cannot_resolve_is_refused_with_that_reason():
    snapshot = world([A, C], [policy("p", "a")], [rule(blocked=("a",))])
    decision = resolve_override(MATH, snapshot, OverrideRequest("c", REASON))
    assert decision.refusal_code == REFUSAL_NO_COMPLIANT_PROVIDER
    assert decision.provider is None


def test_teacher_region_refusal_names_the_teacher_and_their_regions():
    snapshot = world([A, C], [policy("p", "a")], [rule()])
    override = OverrideRequest("c", REASON, "t-7", teacher_regions=frozenset({"eu_west", "apac_singapore"}))
    decision = resolve_override(MATH, snapshot, override)
    assert decision.refusal_code == REFUSAL_TEACHER_REGION
    assert decision.refusal_detail == "teacher 't-7' does not teach in us_east (their regions: apac_singapore, eu_west)"


INVISIBLE = [
    "\u200b" * 25,  # zero-width spaces (format, Cf)
    "\u200d\u2060\ufeff\u00ad\u200e" * 5,  # joiner, word joiner, BOM, soft hyphen, LTR mark
    "\u0301" * 25,  # combining accents with nothing to sit on
    "\u3164\u115f\u1160\uffa0\u2800" * 5,  # Hangul fillers and the blank Braille pattern
    "\u00a0\u3000\u2003\u2028" * 6,  # no-break, ideographic, em space, line separator
    "x\u200b" * 19,  # 19 visible letters padded past 20 with zero-width spaces
    "e\u0301" * 12,  # 12 letters, each with a combining accent: 12 visible
    "a " * 15,  # spaces between letters do not count either
]


@pytest.mark.parametrize("justification", INVISIBLE, ids=[f"invisible{i}" for i in range(len(INVISIBLE))])
def test_a_justification_counts_visible_characters_only(justification):
    snapshot = world([A, B, C], [policy("p", "a")], [rule()])
    decision = resolve_override(MATH, snapshot, OverrideRequest("c", justification))
    assert len(justification) >= MIN_JUSTIFICATION_LENGTH
    assert decision.refusal_code == REFUSAL_JUSTIFICATION and decision.provider is None
    assert f"at least {MIN_JUSTIFICATION_LENGTH} characters" in decision.refusal_detail
    assert "invisible characters do not count" in decision.refusal_detail
    visible = OverrideRequest("c", "\u00e9" * 10 + "\u6570\u5b66" * 5)  # 20 visible: accents, CJK
    assert resolve_override(MATH, snapshot, visible).provider is not None


def test_the_snapshot_judges_every_region_and_band_when_built():
    strict = provider("strict")
    snapshot = Snapshot(
        providers={strict.id: strict},
        policies=(),
        rules={"us_east": rule("us_east"), "eu_west": rule("eu_west", residency=True)},
        band_ages={"elementary": 6, "high": 14},
    )
    assert set(snapshot.judged) == {"us_east", "eu_west"}  # a region without a rule has no judgements
    assert set(snapshot.judged["us_east"]) == {"elementary", "high", "", BAND_UNKNOWN}
    assert judgements(snapshot, "ap_south", "high") is None
    assert judgements(snapshot, "us_east", "high") is snapshot.judged["us_east"]["high"]
    assert judgements(snapshot, "us_east", "no_such_band") is snapshot.judged["us_east"][BAND_UNKNOWN]
    assert why_not(snapshot, "strict", "us_east", "high") is None
    blocked = why_not(snapshot, "strict", "eu_west", "high")
    assert blocked is not None and blocked[0] == REASON_RESIDENCY  # hosted in us_east only


def test_a_decision_carries_its_region_and_bands_judgements():
    snapshot = world([provider("a"), provider("b", regions=("eu_west",))], [policy("p", "a")], [rule(residency=True)])
    decision = resolve(MATH, snapshot)
    assert decision.accepted and decision.judged is judgements(snapshot, "us_east", "elementary")
    assert decision.judged is not None and decision.judged["a"].why is None and decision.judged["b"].why is not None
    assert resolve(DispatchContext("mathematics", "elementary", "eu_west"), snapshot).judged is None  # no rule
    refused = resolve_override(MATH, snapshot, OverrideRequest("b", "a justification long enough to count"))
    assert refused.refusal_code == REFUSAL_OVERRIDE_PROVIDER_NOT_COMPLIANT and refused.judged is decision.judged


@pytest.mark.parametrize(
    ("allow", "chosen", "offered", "refused_ahead"),
    [
        (True, "a", ["B", "C"], False),  # the policy's own choice is no override: not offered
        (False, "a", ["B", "C"], True),  # the policy allows none: any override would be refused
    ],
)
def test_the_offer_is_the_compliant_providers_but_the_policys_choice(allow, chosen, offered, refused_ahead):
    providers = [provider("c"), provider("b"), provider("a"), provider("x", regions=("eu_west",))]
    snapshot = compile_contexts(
        world(providers, [policy("p", "a", "b", override=allow)], [rule(residency=True)]), [MATH]
    )
    options = snapshot.offer(MATH, "us_east", "elementary")
    assert options.reference is snapshot.compiled[MATH] and options.reference.provider is not None
    assert options.reference.provider.id == chosen
    assert [p.name for p in options.available] == offered  # by name; x is not hosted in us_east
    assert options.refused_ahead is refused_ahead


def test_the_offer_without_a_context_or_a_compliant_policy():
    snapshot = compile_contexts(world([provider("a"), provider("b")], [policy("p", "x")], [rule()]), [MATH])
    partial = snapshot.offer(None, "us_east")
    assert partial.reference is None and not partial.refused_ahead and [p.id for p in partial.available] == ["a", "b"]
    refused = snapshot.offer(MATH, "us_east", "elementary")  # the chain's only provider does not exist
    assert refused.reference is not None and not refused.reference.accepted and refused.refused_ahead
    assert [p.id for p in refused.available] == ["a", "b"]
    assert snapshot.offer(None, "eu_west") == OverrideOptions((), None, refused_ahead=False)  # no routing rule


def test_the_offer_reads_compiled_decisions_only():
    snapshot = world([provider("a")], [policy("p", "a")], [rule()])
    with pytest.raises(LookupError, match="was not compiled"):
        snapshot.offer(MATH, "us_east", "elementary")
    assert not snapshot.compiled  # the read did not decide it


def test_compiling_decides_each_context_as_its_first_resolve_would():
    contexts = [
        MATH,
        DispatchContext("science", "high", "us_east"),
        DispatchContext("mathematics", "elementary", "eu_west"),
    ]
    providers = [provider("a"), provider("b", regions=("eu_west",))]
    policies = [policy("p", "a", "b"), policy("q", "b", subject="science")]
    compiled = compile_contexts(world(providers, policies, [rule(residency=True)]), contexts)
    fresh = world(providers, policies, [rule(residency=True)])
    assert list(compiled.compiled) == contexts
    assert [compiled.compiled[c] for c in contexts] == [resolve(c, fresh) for c in contexts]
    assert resolve(MATH, compiled) is compiled.compiled[MATH]  # a resolve reads it
