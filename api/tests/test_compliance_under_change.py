"""Compliance under change: a hypothesis state machine interleaves authoring and dispatching.

Steps: edit a policy's chain, switch a policy on or off, block or unblock a provider in a
region (the routing rule), dispatch, override, replay (same body) and reuse an id with another
body, all through the real API and models on the test database. After every step: no answer
named a provider blocked in its region at that moment (read from the database, not from our
model), and the audit log holds exactly one row per decision (replays and conflicts add none).
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from rest_framework.test import APIClient

from audit.models import DispatchLog
from policies.models import DispatchPolicy, PolicyFallback, RegionalRouting
from policies.snapshot import stamp_bump
from policies.tests.factories import make_policy, make_provider, make_rule
from providers.models import ModelProvider
from teachers.models import TeacherProfile
from teachers.services import teacher_create

EXAMPLES = int(os.environ.get("COMPLIANCE_EXAMPLES", "25"))
STEPS = 30
REGIONS = ("us_east", "eu_west")
CONTEXTS = [
    {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"},
    {"subject": "mathematics", "grade_band": "high", "region": "us_east"},
    {"subject": "science", "grade_band": "middle", "region": "us_east"},
    {"subject": "mathematics", "grade_band": "elementary", "region": "eu_west"},
    {"subject": "arts", "grade_band": "adult", "region": "eu_west"},
]
PROVIDERS = ("us-a", "us-b", "us-c", "eu-a", "eu-b")
TEACHERS = {"t-both": ["us_east", "eu_west"], "t-us": ["us_east"]}  # a teacher overrides only where they teach
POLICY_NAMES = ("Default", "Mathematics", "Elementary math US East")
JUSTIFICATION = "The student needs a model that explains fractions visually."
STATS: Counter[str] = Counter()


def world_reset(run: int) -> tuple[dict[str, str], dict[str, str]]:
    """A fresh small world for one run: three US and two EU providers, both regions ruled, three
    policies. The audit log is append-only and PROTECTs what it names, so earlier runs' providers
    and policies are switched off, not deleted. Returns (logical -> real slug, name -> policy id).
    """
    ModelProvider.objects.filter(is_active=True).update(is_active=False)
    DispatchPolicy.objects.filter(is_active=True).update(is_active=False)
    RegionalRouting.objects.all().delete()
    slugs = {logical: f"{logical}-{run}" for logical in PROVIDERS}
    us = [make_provider(slugs[logical]) for logical in PROVIDERS[:3]]
    eu = [make_provider(slugs[logical], regions=("eu_west",), frameworks=("GDPR",)) for logical in PROVIDERS[3:]]
    make_rule("us_east", frameworks=("FERPA",))
    make_rule("eu_west", residency=True, frameworks=("GDPR",))
    policies = [
        make_policy(f"Default {run}", us[0], eu[0], us[1], eu[1], us[2], allow_teacher_override=True),
        make_policy(
            f"Mathematics {run}", us[1], eu[1], us[0], subject="mathematics", priority=100, allow_teacher_override=True
        ),
        make_policy(
            f"Elementary math US East {run}", us[2], us[0], subject="mathematics", grade_band="elementary",
            region="us_east", priority=100, allow_teacher_override=True,
        ),
    ]  # fmt: skip
    for teacher_id, regions in TEACHERS.items():
        if not TeacherProfile.objects.filter(external_id=teacher_id).exists():
            teacher_create(username=teacher_id, password="teacher-pw-123", external_id=teacher_id, regions=regions)
    stamp_bump()  # the bulk switch-offs above sent no signals
    return slugs, {name: str(policy.pk) for name, policy in zip(POLICY_NAMES, policies, strict=True)}


def api_client() -> APIClient:
    """An APIClient with a key of every scope once API keys exist (access control), else plain."""
    if importlib.util.find_spec("clients") is None:
        return APIClient()
    from api.testing import keyed_api

    return keyed_api(rate="1000000/min", teachers=sorted(TEACHERS))[0]


def blocked_now(region: str) -> set[str]:
    rule = RegionalRouting.objects.filter(region=region).first()
    return {str(pk) for pk in rule.blocked_providers.values_list("pk", flat=True)} if rule else set()


class ComplianceUnderChange(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        STATS["runs"] += 1
        self.slugs, self.policy_ids = world_reset(STATS["runs"])
        self.api = api_client()
        self.audit_before = DispatchLog.objects.count()
        self.decisions = 0
        self.sent: list[tuple[str, dict[str, Any]]] = []  # (request_id, body) of every decision
        self.accepted: list[tuple[str, dict[str, Any], str, str]] = []  # (request_id, body, provider, region)

    def post(self, body: dict[str, Any], request_id: str) -> Any:
        response = self.api.post(f"/dispatch?request_id={request_id}", body, format="json")
        STATS[f"status_{response.status_code}"] += 1
        if response.status_code == 200:
            data = response.json()
            assert data["provider_id"] not in blocked_now(data["region"]), (
                f"{data['provider_slug']} is blocked in {data['region']} but was returned"
            )
            if response.get("Idempotent-Replayed") != "true":
                self.accepted.append((request_id, body, data["provider_id"], data["region"]))
        else:
            assert response.status_code in (409, 422), response.content
        return response

    # authoring -----------------------------------------------------------------------------
    @rule(slug=st.sampled_from(PROVIDERS), region=st.sampled_from(REGIONS), block=st.booleans())
    def block_or_unblock(self, slug: str, region: str, block: bool) -> None:
        rule = RegionalRouting.objects.get(region=region)
        provider = ModelProvider.objects.get(slug=self.slugs[slug])
        (rule.blocked_providers.add if block else rule.blocked_providers.remove)(provider)
        STATS["routing_changes"] += 1

    @rule(name=st.sampled_from(POLICY_NAMES), data=st.data())
    def edit_chain(self, name: str, data: st.DataObject) -> None:
        chain = data.draw(st.lists(st.sampled_from(PROVIDERS), min_size=1, max_size=4, unique=True))
        policy = DispatchPolicy.objects.get(pk=self.policy_ids[name])
        providers = {p.slug: p for p in ModelProvider.objects.filter(slug__in=[self.slugs[c] for c in chain])}
        policy.fallbacks.all().delete()
        policy.primary_provider = providers[self.slugs[chain[0]]]
        policy.save()
        PolicyFallback.objects.bulk_create(
            PolicyFallback(policy=policy, provider=providers[self.slugs[slug]], position=i)
            for i, slug in enumerate(chain[1:], 1)
        )
        STATS["policy_edits"] += 1

    @rule(name=st.sampled_from(POLICY_NAMES[1:]))
    def switch_policy(self, name: str) -> None:
        policy = DispatchPolicy.objects.get(pk=self.policy_ids[name])
        policy.is_active = not policy.is_active
        policy.save()
        STATS["policy_edits"] += 1

    # dispatching ---------------------------------------------------------------------------
    @rule(context=st.sampled_from(CONTEXTS))
    def dispatch(self, context: dict[str, str]) -> None:
        request_id = str(uuid.uuid4())
        self.post(context, request_id)
        self.decisions += 1
        self.sent.append((request_id, context))
        STATS["dispatches"] += 1

    @rule(context=st.sampled_from(CONTEXTS), slug=st.sampled_from(PROVIDERS), teacher=st.sampled_from(sorted(TEACHERS)))
    def override(self, context: dict[str, str], slug: str, teacher: str) -> None:
        body = {
            **context,
            "teacher_override": True,
            "override_provider_id": self.slugs[slug],
            "override_reason": JUSTIFICATION,
            "teacher_id": teacher,
        }
        request_id = str(uuid.uuid4())
        self.post(body, request_id)
        self.decisions += 1
        self.sent.append((request_id, body))
        STATS["overrides"] += 1

    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        if not self.sent:
            return
        request_id, body = data.draw(st.sampled_from(self.sent))
        response = self.post(body, request_id)
        if response.status_code == 200:
            assert response["Idempotent-Replayed"] == "true"
        STATS["replays"] += 1

    @rule(data=st.data())
    def block_then_replay(self, data: st.DataObject) -> None:
        """A stored decision whose provider is then blocked must not be replayed (409)."""
        if not self.accepted:
            return
        request_id, body, provider_id, region = data.draw(st.sampled_from(self.accepted))
        RegionalRouting.objects.get(region=region).blocked_providers.add(provider_id)
        response = self.post(body, request_id)
        assert response.status_code == 409, response.content
        assert response.json()["error"]["code"] == "replay_provider_not_compliant"
        STATS["routing_changes"] += 1
        STATS["replays"] += 1

    @rule(data=st.data())
    def reuse_id_with_another_body(self, data: st.DataObject) -> None:
        if not self.sent:
            return
        request_id, body = data.draw(st.sampled_from(self.sent))
        other = next(c for c in CONTEXTS if c != {k: body[k] for k in ("subject", "grade_band", "region")})
        response = self.post(other, request_id)
        assert response.status_code == 422 and response.json()["error"]["code"] == "idempotency_conflict"
        STATS["conflicts"] += 1

    @invariant()
    def one_audit_row_per_decision(self) -> None:
        STATS["steps"] += 1
        assert DispatchLog.objects.count() == self.audit_before + self.decisions


@pytest.mark.django_db
def test_no_blocked_provider_is_returned_and_every_decision_is_audited_while_the_world_changes():
    STATS.clear()
    run_state_machine_as_test(
        ComplianceUnderChange,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    print(
        "compliance-under-change: "
        f"{STATS['runs']} runs, {STATS['steps']} checked steps; {STATS['dispatches']} dispatches, "
        f"{STATS['overrides']} overrides, {STATS['replays']} replays, {STATS['conflicts']} id reuses; "
        f"{STATS['policy_edits']} policy edits, {STATS['routing_changes']} block/unblock; answers "
        f"{STATS['status_200']} x 200, {STATS['status_422']} x 422, {STATS['status_409']} x 409; "
        "0 blocked providers returned, audit rows == decisions after every step"
    )
    assert STATS["dispatches"] > 0 and STATS["routing_changes"] > 0
