"""The demo teacher: teaches in us_east and eu_west, so the form offers two regions and eu_west's
blocked `us-only-provider` can be tried (and refused). The demo API client may act for them (and
only them), so the documented override example (docs/api.md) works.

Created only when no user has the demo teacher's username; an existing account (its password,
profile, regions, whether it is active) is never changed (issue 12, finding 4).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from authoring.demo.client import DEMO_CLIENT_NAME
from clients.models import ApiClient, TeacherAuthorisation
from clients.services import teacher_authorisation_grant
from teachers.models import TeacherProfile
from teachers.services import teacher_create

DEMO_TEACHER_USERNAME = "teacher"
DEMO_TEACHER_PASSWORD = "dispatch-demo-teacher"  # noqa: S105 - a documented demo credential
DEMO_TEACHER_ID = "demo-teacher"
DEMO_TEACHER_REGIONS = ["us_east", "eu_west"]
DEMO_SCHOOL = "Demo Elementary School"


@transaction.atomic
def demo_teacher_load() -> TeacherProfile | None:
    """The demo teacher's profile, created with its account when no user has the demo username;
    None when such a user exists without a teacher profile (it is left as it is)."""
    user = get_user_model().objects.filter(username=DEMO_TEACHER_USERNAME).first()
    if user is None:
        return teacher_create(
            username=DEMO_TEACHER_USERNAME,
            password=DEMO_TEACHER_PASSWORD,
            external_id=DEMO_TEACHER_ID,
            regions=DEMO_TEACHER_REGIONS,
            school=DEMO_SCHOOL,
            email="teacher@example.org",
        )
    return TeacherProfile.objects.filter(user=user).first()


@transaction.atomic
def demo_client_authorise(*, teacher: TeacherProfile) -> bool:
    """Authorise the demo client for the demo teacher, once: never again after an administrator
    withdrew it (its history remains), so a later seed_demo does not undo that decision. True when
    the authorisation was made now."""
    client = ApiClient.objects.filter(name=DEMO_CLIENT_NAME).first()
    if client is None or TeacherAuthorisation.history.filter(client_id=client.pk, teacher_id=teacher.pk).exists():
        return False
    teacher_authorisation_grant(client=client, teacher=teacher)
    return True
