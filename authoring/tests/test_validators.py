"""Each authoring rule, alone: what it refuses and that its message says what to fix."""

from __future__ import annotations

from decimal import Decimal

import pytest

from authoring import services, validators
from policies.snapshot import snapshot_build
from policies.tests.factories import make_policy, make_provider, make_rule


@pytest.mark.parametrize(
    ("subject", "grade_band", "region", "field", "fix"),
    [
        ("", "", "us_east", "region", "also needs a subject and a grade band"),
        ("mathematics", "", "us_east", "region", "also needs a grade band"),
        ("", "elementary", "us_east", "region", "also needs a subject"),
        ("", "elementary", "", "grade_band", "A grade band needs a subject"),
    ],
)
def test_shape_outside_the_four_levels_is_refused(subject, grade_band, region, field, fix):
    problems = validators.policy_shape_problems(subject=subject, grade_band=grade_band, region=region)
    assert list(problems) == [field]
    assert fix in problems[field][0] and "four shapes" in problems[field][0]


@pytest.mark.parametrize(
    ("subject", "grade_band", "region"),
    [
        ("mathematics", "elementary", "us_east"),
        ("mathematics", "elementary", ""),
        ("mathematics", "", ""),
        ("", "", ""),
    ],
)
def test_the_four_levels_pass(subject, grade_band, region):
    assert validators.policy_shape_problems(subject=subject, grade_band=grade_band, region=region) == {}


@pytest.mark.parametrize("value", [Decimal("-0.01"), Decimal("1.001"), 2.0])
def test_moderation_threshold_outside_0_1_is_refused(value):
    problems = validators.moderation_threshold_problems(value)
    assert "between 0 and 1" in problems["moderation_threshold"][0]


@pytest.mark.parametrize("value", [Decimal("0"), Decimal("0.5"), Decimal("1"), None])
def test_moderation_threshold_inside_0_1_passes(value):
    assert validators.moderation_threshold_problems(value) == {}


def test_provider_repeated_in_a_chain_is_refused_naming_positions():
    problems = validators.chain_repeat_problems(primary="a", fallbacks=["b", "c", "b"])
    assert problems == {"fallback_providers": ["b is in the fallbacks more than once (positions 1 and 3); keep one."]}


def test_primary_repeated_in_the_fallbacks_is_refused():
    problems = validators.chain_repeat_problems(primary="a", fallbacks=["b", "a"])
    assert problems == {"fallback_providers": ["a is the primary provider; remove it from the fallbacks (position 2)."]}
    assert validators.chain_repeat_problems(primary="a", fallbacks=["b", "c"]) == {}


def test_routing_rule_that_allows_and_blocks_a_provider_is_refused():
    problems = validators.routing_rule_problems(allowed=["x", "y"], blocked=["y", "z"])
    assert problems == {
        "blocked_providers": ["y is both allowed and blocked in this region; remove it from one of the two lists."]
    }
    assert validators.routing_rule_problems(allowed=["x"], blocked=["z"]) == {}


@pytest.mark.django_db
class TestDatabaseRules:
    def test_second_active_policy_with_same_shape_and_priority_names_the_first(self):
        a = make_provider("a")
        make_policy("Math first", a, subject="mathematics", priority=5)
        problems = validators.policy_priority_problems(
            subject="mathematics", grade_band="", region="", priority=5, is_active=True
        )
        assert "'Math first'" in problems["priority"][0] and "choose another priority" in problems["priority"][0]
        # Another priority, an inactive draft, or the same policy being edited: fine.
        assert not validators.policy_priority_problems(
            subject="mathematics", grade_band="", region="", priority=6, is_active=True
        )
        assert not validators.policy_priority_problems(
            subject="mathematics", grade_band="", region="", priority=5, is_active=False
        )

    def test_region_scoped_chain_with_no_compliant_provider_is_refused_with_the_fix(self):
        us = make_provider("us-model", regions=("us_east",), frameworks=("GDPR",))
        eu = make_provider("eu-model", regions=("eu_west",), frameworks=("GDPR",))
        make_rule("eu_west", residency=True, frameworks=("GDPR",))
        snapshot = snapshot_build()
        problems = validators.chain_region_problems(region="eu_west", chain=[str(us.pk)], snapshot=snapshot)
        message = problems["fallback_providers"][0]
        assert "No provider in this chain may serve eu_west" in message
        assert "us-model is not hosted there" in message  # why each one fails
        assert "providers compliant there: eu-model" in message  # what would fix it
        assert not validators.chain_region_problems(region="eu_west", chain=[str(us.pk), str(eu.pk)], snapshot=snapshot)
        # Policies for any region are not checked against one region; inactive drafts are not checked.
        assert not validators.chain_region_problems(region="", chain=[str(us.pk)], snapshot=snapshot)
        assert not validators.chain_region_problems(
            region="eu_west", chain=[str(us.pk)], snapshot=snapshot, is_active=False
        )

    def test_region_without_routing_rule_says_to_add_it(self):
        a = make_provider("a")
        problems = validators.chain_region_problems(region="sa_east", chain=[str(a.pk)], snapshot=snapshot_build())
        assert "sa_east has no regional routing rule" in problems["region"][0]

    def test_policy_save_refuses_and_writes_nothing(self):
        a = make_provider("a")
        make_rule("us_east")
        policy = make_policy("P", a, subject="mathematics")
        before = policy.history.count()
        policy.moderation_threshold = Decimal("1.5")
        with pytest.raises(validators.AuthoringError) as error:
            services.policy_save(policy=policy, fallbacks=[a], templates=None, reason="try")
        assert set(error.value.problems) == {"moderation_threshold", "fallback_providers"}
        policy.refresh_from_db()
        assert policy.moderation_threshold == Decimal("0.8") and policy.history.count() == before

    def test_change_reason_is_required_by_services(self):
        a = make_provider("a")
        policy = make_policy("P", a, subject="mathematics")
        with pytest.raises(validators.AuthoringError) as error:
            services.policy_save(policy=policy, fallbacks=[], templates=None, reason="  ")
        assert "change_reason" in error.value.problems

    def test_unchanged_save_writes_no_history(self):
        a, b = make_provider("a"), make_provider("b")
        policy = make_policy("P", a, subject="mathematics")
        assert services.policy_save(policy=policy, fallbacks=[b], templates=None, reason="add b")
        count = policy.history.count()
        assert not services.policy_save(policy=policy, fallbacks=[b], templates=None, reason="again")
        assert policy.history.count() == count

    def test_revert_restores_fields_and_ordered_chain_and_is_validated(self):
        a, b, c = make_provider("a"), make_provider("b"), make_provider("c")
        rule = make_rule("us_east")
        policy = make_policy("P", a, subject="mathematics", grade_band="high", region="us_east")
        services.policy_save(policy=policy, fallbacks=[b, c], templates=None, reason="v1")
        v1 = policy.history.order_by("-history_date", "-history_id").first()
        policy.primary_provider, policy.priority = c, 7
        services.policy_save(policy=policy, fallbacks=[a], templates=None, reason="v2")
        services.policy_revert(policy=policy, version=v1, reason="undo v2")
        policy.refresh_from_db()
        assert [p.slug for p in policy.chain()] == ["a", "b", "c"] and policy.priority == 100
        # A version that would now leave its region with no compliant provider is refused.
        rule.blocked_providers.set([a, b, c])
        with pytest.raises(validators.AuthoringError):
            services.policy_revert(policy=policy, version=v1, reason="again")

    def test_duplicate_makes_an_inactive_copy_with_the_same_chain(self):
        a, b = make_provider("a"), make_provider("b")
        policy = make_policy("P", a, b, subject="mathematics")
        copy = services.policy_duplicate(policy=policy, reason="copy")
        assert copy.name == "Copy of P" and not copy.is_active
        assert [p.slug for p in copy.chain()] == ["a", "b"]

    def test_activating_a_clashing_policy_is_refused_all_or_nothing(self):
        a = make_provider("a")
        make_policy("Live", a, subject="mathematics", priority=5)
        ok = make_policy("Draft ok", a, subject="science", priority=5, is_active=False)
        clash = make_policy("Draft clash", a, subject="mathematics", priority=5, is_active=False)
        with pytest.raises(validators.AuthoringError) as error:
            services.policies_set_active(policies=[ok, clash], active=True, reason="go")
        assert "Draft clash" in error.value.problems
        ok.refresh_from_db()
        assert not ok.is_active
