"""The demo teacher (idempotent): teaches in us_east and eu_west, so the form offers two regions
and eu_west's blocked `us-only-provider` can be tried (and refused)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from teachers.models import TeacherProfile
from teachers.services import teacher_create, teacher_profile_save

DEMO_TEACHER_USERNAME = "teacher"
DEMO_TEACHER_PASSWORD = "dispatch-demo-teacher"  # noqa: S105 - a documented demo credential
DEMO_TEACHER_ID = "demo-teacher"
DEMO_TEACHER_REGIONS = ["us_east", "eu_west"]


@transaction.atomic
def demo_teacher_load() -> TeacherProfile:
    user = get_user_model().objects.filter(username=DEMO_TEACHER_USERNAME).first()
    if user is None:
        return teacher_create(
            username=DEMO_TEACHER_USERNAME,
            password=DEMO_TEACHER_PASSWORD,
            external_id=DEMO_TEACHER_ID,
            regions=DEMO_TEACHER_REGIONS,
            school="Demo Elementary School",
            email="teacher@example.org",
        )
    profile = TeacherProfile.objects.filter(user=user).first() or TeacherProfile(user=user)
    profile.external_id, profile.regions = DEMO_TEACHER_ID, DEMO_TEACHER_REGIONS
    profile.school = profile.school or "Demo Elementary School"
    return teacher_profile_save(profile=profile)
