"""An API client acts only for the teachers it is authorised for; staff need the override permission.

Issue 12, finding 3: a client with the `override` scope could act as any teacher (its overrides were
accepted, attributed to that teacher and listed in their "My overrides"), and so could any staff
session. Every test here goes through the real API, the teacher pages or the admin.
"""

from __future__ import annotations

import io
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from api.testing import keyed_api
from audit.models import DispatchLog
from authoring.demo import (
    DEMO_CLIENT_KEY,
    DEMO_CLIENT_NAME,
    DEMO_SCHOOL,
    DEMO_TEACHER_ID,
    demo_teacher_load,
    demo_world_load,
)
from clients.models import SCOPE_PERMISSIONS, TeacherAuthorisation
from clients.services import teacher_authorisation_withdraw
from teachers.models import TeacherProfile
from teachers.selectors import override_list
from teachers.services import teacher_create, teacher_profile_save

pytestmark = pytest.mark.django_db
REASON = "Student needs a model that explains fractions visually"


@pytest.fixture
def world():
    demo_world_load()
    demo_teacher_load()
    bob = teacher_create(
        username="bob", password="bob-password-123", external_id="t-bob", regions=["us_east"], school=DEMO_SCHOOL
    )
    carol = teacher_create(
        username="carol", password="carol-password-123", external_id="t-carol", regions=["us_east"], school="Hill High"
    )
    return bob, carol


def override(api: APIClient, teacher_id: str):
    rid = str(uuid.uuid4())
    body = {
        "subject": "mathematics",
        "grade_band": "elementary",
        "region": "us_east",
        "teacher_override": True,
        "override_provider_id": "anthropic-claude",
        "override_reason": REASON,
        "teacher_id": teacher_id,
    }
    return rid, api.post(f"/dispatch?request_id={rid}", body, format="json")


def assert_not_authorised(response, teacher_id: str) -> None:
    assert response.status_code == 422, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "teacher_not_authorised"
    assert f"not authorised to act for teacher {teacher_id!r}" in error["message"]


def my_overrides_page(username: str, password: str) -> str:
    browser = Client()
    assert browser.login(username=username, password=password)
    response = browser.get("/teacher/overrides/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_client_not_authorised_for_a_teacher_is_refused_audited_and_not_in_their_overrides(world):
    bob, _ = world
    api, client, _ = keyed_api("dispatch", "override", teachers=[DEMO_TEACHER_ID])
    rid, response = override(api, "t-bob")
    assert_not_authorised(response, "t-bob")
    log = DispatchLog.objects.get(request_id=rid)  # audited like every refusal, naming the rule
    assert (log.outcome, log.refusal_code, log.status_code) == ("refused", "teacher_not_authorised", 422)
    assert (log.client_ref, log.teacher_id, log.is_override, log.provider_id) == (client.name, "t-bob", True, None)
    assert not override_list(teacher=bob).exists()
    page = my_overrides_page("bob", "bob-password-123")
    assert client.name not in page and "Anthropic" not in page
    # A client with the scope and no authorisation at all (the default) acts for nobody.
    bare, _, _ = keyed_api("dispatch", "override")
    assert_not_authorised(override(bare, DEMO_TEACHER_ID)[1], DEMO_TEACHER_ID)


def test_a_client_not_authorised_learns_nothing_about_whether_a_teacher_exists(world):
    api, _, _ = keyed_api("dispatch", "override")
    assert_not_authorised(override(api, "t-nobody")[1], "t-nobody")  # not `teacher_unknown`
    assert_not_authorised(override(api, "t-carol")[1], "t-carol")


def test_a_client_authorised_for_a_teacher_acts_for_that_teacher_only(world):
    bob, _ = world
    api, client, _ = keyed_api("dispatch", "override", teachers=["t-bob"])
    rid, response = override(api, "t-bob")
    assert response.status_code == 200 and response.json()["provider_slug"] == "anthropic-claude"
    assert [log.request_id for log in override_list(teacher=bob)] == [uuid.UUID(rid)]
    assert client.name in my_overrides_page("bob", "bob-password-123")
    assert_not_authorised(override(api, DEMO_TEACHER_ID)[1], DEMO_TEACHER_ID)  # same school, not authorised


def test_a_client_authorised_for_a_school_acts_for_its_teachers_as_their_profiles_say(world):
    _, carol = world
    api, _, _ = keyed_api("dispatch", "override", schools=["  demo ELEMENTARY   school "])
    assert TeacherAuthorisation.objects.get().school == "demo ELEMENTARY school"  # spaces do not count, nor case
    assert override(api, DEMO_TEACHER_ID)[1].status_code == 200
    assert override(api, "t-bob")[1].status_code == 200
    assert_not_authorised(override(api, "t-carol")[1], "t-carol")  # Hill High
    carol.school = DEMO_SCHOOL  # carol moves to the school: covered from then on
    teacher_profile_save(profile=carol)
    assert override(api, "t-carol")[1].status_code == 200


def test_a_withdrawn_authorisation_refuses_the_next_override_and_stays_in_the_history(world):
    api, client, _ = keyed_api("dispatch", "override", teachers=["t-bob"])
    assert override(api, "t-bob")[1].status_code == 200
    teacher_authorisation_withdraw(authorisation=TeacherAuthorisation.objects.get(client=client))
    assert_not_authorised(override(api, "t-bob")[1], "t-bob")
    history = TeacherAuthorisation.history.filter(client_id=client.pk).order_by("history_date")
    assert [h.history_type for h in history] == ["+", "-"]


def grant(user, scope: str):
    app_label, codename = SCOPE_PERMISSIONS[scope].split(".")
    user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def test_staff_override_for_a_teacher_only_with_the_override_permission(world, django_user_model):
    staff = django_user_model.objects.create_user("registrar", password="pw-registrar-1", is_staff=True)
    grant(staff, "dispatch")
    api = APIClient()
    api.force_login(staff)
    rid, response = override(api, DEMO_TEACHER_ID)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "missing_permission" and "clients.use_override_api" in error["message"]
    assert not DispatchLog.objects.filter(request_id=rid).exists()  # refused before anything is decided
    plain = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}
    assert api.post("/dispatch", plain, format="json").status_code == 200  # its dispatch permission still works
    grant(staff, "override")
    api.force_login(django_user_model.objects.get(pk=staff.pk))
    rid, response = override(api, "t-bob")
    assert response.status_code == 200 and response.json()["provider_slug"] == "anthropic-claude"
    assert DispatchLog.objects.get(request_id=rid).client_ref == "staff:registrar"


def test_the_demo_client_acts_for_the_demo_teacher_only_and_seed_demo_keeps_a_withdrawal(world):
    call_command("seed_demo", stdout=io.StringIO())
    demo = APIClient()
    demo.credentials(HTTP_AUTHORIZATION=f"Api-Key {DEMO_CLIENT_KEY}")
    assert override(demo, DEMO_TEACHER_ID)[1].status_code == 200
    assert_not_authorised(override(demo, "t-bob")[1], "t-bob")
    authorisation = TeacherAuthorisation.objects.get(client__name=DEMO_CLIENT_NAME)
    assert authorisation.teacher == TeacherProfile.objects.get(external_id=DEMO_TEACHER_ID)
    teacher_authorisation_withdraw(authorisation=authorisation)  # an administrator's decision
    call_command("seed_demo", stdout=io.StringIO())
    assert not TeacherAuthorisation.objects.filter(client__name=DEMO_CLIENT_NAME).exists()
    assert_not_authorised(override(demo, DEMO_TEACHER_ID)[1], DEMO_TEACHER_ID)


def change_form(client_row, rows: list[dict[str, str]], initial: int = 0) -> dict[str, str]:
    """The client change form's data, with `rows` as the teacher-authorisation inline's rows."""
    data = {
        "description": client_row.description,
        "scopes": list(client_row.scopes),
        "rate": client_row.rate,
        "is_active": "on",
        "teacher_authorisations-TOTAL_FORMS": str(len(rows)),
        "teacher_authorisations-INITIAL_FORMS": str(initial),
    }
    for i, row in enumerate(rows):
        data |= {f"teacher_authorisations-{i}-{k}": v for k, v in row.items()}
        data[f"teacher_authorisations-{i}-client"] = str(client_row.pk)
    return data


def test_admin_authorises_a_client_by_school_and_by_teacher_and_shows_who_with_history(world, admin_client):
    bob, _ = world
    api, row, _ = keyed_api("dispatch", "override", name="district-lms")
    url = f"/admin/clients/apiclient/{row.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert "nobody: every teacher override this client asks for is refused" in page
    response = admin_client.post(
        url, change_form(row, [{"school": "Hill High", "teacher": ""}, {"school": "", "teacher": str(bob.pk)}])
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert override(api, "t-bob")[1].status_code == 200 and override(api, "t-carol")[1].status_code == 200
    assert_not_authorised(override(api, DEMO_TEACHER_ID)[1], DEMO_TEACHER_ID)
    page = admin_client.get(url).content.decode()
    assert "every teacher of Hill High; teacher(s) t-bob" in page
    assert page.count("<td>authorised</td>") == 2 and "<td>admin</td>" in page  # history: what, who
    school_row = TeacherAuthorisation.objects.get(school="Hill High")
    bob_row = TeacherAuthorisation.objects.get(teacher=bob)
    response = admin_client.post(
        url,
        change_form(
            row,
            [
                {"id": str(school_row.pk), "school": "Hill High", "teacher": "", "DELETE": "on"},
                {"id": str(bob_row.pk), "school": "", "teacher": str(bob.pk)},
            ],
            initial=2,
        ),
    )
    assert response.status_code == 302
    assert_not_authorised(override(api, "t-carol")[1], "t-carol")
    page = admin_client.get(url).content.decode()
    assert "<td>withdrawn</td><td>school Hill High</td><td>admin</td>" in page
    history = TeacherAuthorisation.history.filter(client_id=row.pk)
    assert {h.history_user.get_username() for h in history} == {"admin"}


def test_admin_refuses_a_row_naming_both_a_teacher_and_a_school_and_saves_nothing(world, admin_client):
    bob, _ = world
    _, row, _ = keyed_api("dispatch", "override")
    url = f"/admin/clients/apiclient/{row.pk}/change/"
    both = change_form(row, [{"school": "Hill High", "teacher": str(bob.pk)}])
    response = admin_client.post(url, both)
    assert response.status_code == 200 and "Name one teacher or one school" in response.content.decode()
    twice = change_form(row, [{"school": "Hill High", "teacher": ""}, {"school": "hill high", "teacher": ""}])
    response = admin_client.post(url, twice)
    assert response.status_code == 200 and "The school hill high is listed twice" in response.content.decode()
    assert not TeacherAuthorisation.objects.exists()
