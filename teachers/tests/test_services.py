"""override_submit and the teacher directory: every attempt is one audit row naming the teacher."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError

from audit.models import DispatchLog
from policies.engine import DispatchContext
from teachers.models import TeacherProfile
from teachers.services import override_submit, teacher_create
from teachers.tests.conftest import GOOD_REASON

pytestmark = pytest.mark.django_db
MATH_EAST = DispatchContext("mathematics", "elementary", "us_east")


def submit(teacher_id="demo-teacher", context=MATH_EAST, provider="anthropic-claude", reason=GOOD_REASON, **kw):
    return override_submit(
        teacher_id=teacher_id,
        context=context,
        provider_ref=provider,
        justification=reason,
        request_id=kw.get("request_id"),
        client_ref=kw.get("client_ref", "app-1"),
        acting_client_id=kw.get("acting_client_id"),
    )


def test_accepted_override_is_one_row_with_teacher_app_context_provider_and_reason(demo):
    result = submit()
    assert result.status == 200 and result.body["provider_slug"] == "anthropic-claude"
    assert result.body["teacher_override"] is True
    log = DispatchLog.objects.get()
    assert (log.outcome, log.is_override, log.teacher_id, log.client_ref) == ("accepted", True, "demo-teacher", "app-1")
    assert (log.subject, log.grade_band, log.region) == ("mathematics", "elementary", "us_east")
    assert log.provider is not None
    assert (log.override_provider_ref, log.override_reason, log.provider.slug) == (
        "anthropic-claude",
        GOOD_REASON,
        "anthropic-claude",
    )


def test_region_the_teacher_does_not_teach_in_is_refused_and_audited(demo):
    result = submit(context=DispatchContext("mathematics", "elementary", "us_west"), provider="google-gemini")
    assert result.status == 422
    assert result.body["error"]["rule"] == "teacher_region_not_allowed"
    assert "eu_west, us_east" in result.body["error"]["message"]
    log = DispatchLog.objects.get()
    assert (log.outcome, log.refusal_code, log.teacher_id) == ("refused", "teacher_region_not_allowed", "demo-teacher")


@pytest.mark.parametrize("make_unknown", ["missing", "inactive", "not_in_group"])
def test_unknown_inactive_or_ungrouped_teacher_is_refused_and_audited(demo, make_unknown):
    if make_unknown == "inactive":
        demo.user.is_active = False
        demo.user.save()
    elif make_unknown == "not_in_group":
        demo.user.groups.clear()
    teacher_id = "nobody" if make_unknown == "missing" else "demo-teacher"
    result = submit(teacher_id=teacher_id)
    assert result.status == 422 and result.body["error"]["rule"] == "teacher_unknown"
    assert DispatchLog.objects.get().teacher_id == teacher_id


def test_same_request_id_replays_without_a_second_row(demo):
    rid = uuid.uuid4()
    first, second = submit(request_id=rid), submit(request_id=rid)
    assert second.replayed and first.body_json == second.body_json
    assert DispatchLog.objects.count() == 1


def test_the_blocked_provider_is_never_accepted_for_its_region(demo):
    result = submit(context=DispatchContext("mathematics", "elementary", "eu_west"), provider="us-only-provider")
    assert result.status == 422
    assert result.body["error"]["rule"] == "override_provider_not_compliant"
    assert "blocked in eu_west" in result.body["error"]["message"]


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"regions": []}, "cannot be blank"),
        ({"regions": ["us_east", "mars"]}, "Unknown region(s): mars"),
        ({"regions": ["us_east", "us_east"]}, "once"),
        ({"external_id": "has space"}, "Letters, digits"),
        ({"external_id": ""}, "blank"),
    ],
)
def test_teacher_create_refuses_bad_profiles_and_writes_nothing(db, fields, needle):
    args = {"username": "carol", "password": "carol-password-123", "external_id": "t-carol", "regions": ["us_east"]}
    with pytest.raises(ValidationError) as caught:
        teacher_create(**{**args, **fields})
    assert needle in str(caught.value)
    assert not TeacherProfile.objects.exists()
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="carol").exists()


def test_teacher_create_puts_the_user_in_the_teachers_group(db):
    profile = teacher_create(username="dan", password="dan-password-123", external_id="t-dan", regions=["eu_west"])
    assert list(profile.user.groups.values_list("name", flat=True)) == ["Teachers"]
