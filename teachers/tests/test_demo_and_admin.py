"""seed_demo's demo teacher, and the admin's teacher profiles."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from teachers.models import TeacherProfile

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_the_demo_teacher_idempotently_and_prints_the_login(db):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=out)
    assert "user 'teacher' password 'dispatch-demo-teacher'" in out.getvalue()
    profile = TeacherProfile.objects.get()
    assert (profile.external_id, profile.regions) == ("demo-teacher", ["us_east", "eu_west"])
    assert Client().login(username="teacher", password="dispatch-demo-teacher")


def test_admin_saving_a_profile_makes_the_user_a_teacher_and_validates_regions(db):
    user_model = get_user_model()
    user_model.objects.create_superuser(username="root", password="root-password-1", email="r@example.org")
    eve = user_model.objects.create_user(username="eve", password="eve-password-123")
    client = Client()
    client.login(username="root", password="root-password-1")
    add = "/admin/teachers/teacherprofile/add/"
    assert client.get(add).status_code == 200
    missing = client.post(add, {"user": eve.pk, "external_id": "t-eve", "school": ""})
    assert missing.status_code == 200 and not TeacherProfile.objects.exists()
    response = client.post(add, {"user": eve.pk, "external_id": "t-eve", "regions": ["eu_west"], "school": "Lycée"})
    assert response.status_code == 302
    assert TeacherProfile.objects.get().regions == ["eu_west"]
    assert eve.groups.filter(name="Teachers").exists()
    eve_client = Client()
    eve_client.login(username="eve", password="eve-password-123")
    assert eve_client.get("/teacher/override/").status_code == 200
