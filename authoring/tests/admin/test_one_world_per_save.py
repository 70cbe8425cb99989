"""One admin policy save: the rules are checked against one snapshot build, and the stamp moves once.

The form, its fallback-chain formset and the service each checked against a snapshot built for
themselves (three builds), and each row written (the policy, its fallbacks, its templates) moved
the stamp (four moves, each with its commit hooks).
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from authoring.demo import demo_world_load
from policies.models import DispatchPolicy, SnapshotStamp
from providers.models import ModelProvider

pytestmark = pytest.mark.django_db(transaction=True)  # the save is its own transaction, as in production
BUILD = re.compile(r'FROM "regional_routing"(\s|$)')  # the routing rules: read by a snapshot build only
STAMP_MOVE = re.compile(r'UPDATE "policy_snapshot_stamp"')


def test_a_policy_save_builds_one_snapshot_and_moves_the_stamp_once(client, django_user_model, settings):
    settings.SNAPSHOT_SHARE_BUILDS = False  # the build after commit (with Redis) is not the save's checking
    demo_world_load()
    client.force_login(django_user_model.objects.get(username="admin"))
    policy = DispatchPolicy.objects.get(name="Elementary Math - US East")
    pk = {p.slug: str(p.pk) for p in ModelProvider.objects.all()}
    data = {
        "name": policy.name,
        "subject": policy.subject,
        "grade_band": policy.grade_band,
        "region": policy.region,
        "priority": "100",
        "primary_provider": pk["openai-gpt4"],
        "moderation_threshold": "0.7",
        "is_active": "on",
        "allow_teacher_override": "on",
        "change_reason": "One fallback only",
        "templates": [str(t.pk) for t in policy.templates.all()],
        "fallbacks-TOTAL_FORMS": "1",
        "fallbacks-INITIAL_FORMS": "0",
        "fallbacks-MIN_NUM_FORMS": "0",
        "fallbacks-MAX_NUM_FORMS": "1000",
        "fallbacks-0-position": "1",
        "fallbacks-0-provider": pk["anthropic-claude"],
    }
    before = SnapshotStamp.objects.get(pk=1).version
    with CaptureQueriesContext(connection) as queries:
        response = client.post(reverse("admin:policies_dispatchpolicy_change", args=[policy.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert [p.slug for p in DispatchPolicy.objects.get(pk=policy.pk).chain()] == ["openai-gpt4", "anthropic-claude"]
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum(1 for s in sql if BUILD.search(s)) == 1
    assert sum(1 for s in sql if STAMP_MOVE.search(s)) == 1
    assert SnapshotStamp.objects.get(pk=1).version == before + 1
