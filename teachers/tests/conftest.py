"""Teacher-test worlds: the demo world, its demo teacher, and a second teacher to keep apart."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from authoring.demo import DEMO_SCHOOL, DEMO_TEACHER_PASSWORD, DEMO_TEACHER_USERNAME, demo_teacher_load, demo_world_load
from teachers.models import TeacherProfile
from teachers.services import teacher_create

GOOD_REASON = "Student needs a model that explains fractions visually"


@pytest.fixture
def demo(db) -> TeacherProfile:
    demo_world_load()
    profile = demo_teacher_load()
    assert profile is not None
    return profile


@pytest.fixture
def other_teacher(demo) -> TeacherProfile:
    return teacher_create(username="bob", password="bob-password-123", external_id="t-bob", regions=["us_east"])


@pytest.fixture
def teacher_client(demo) -> Client:
    client = Client()
    assert client.login(username=DEMO_TEACHER_USERNAME, password=DEMO_TEACHER_PASSWORD)
    return client


@pytest.fixture
def api_client(db) -> APIClient:
    """A client app calling `POST /dispatch` with teacher overrides (the one place API access is set up),
    authorised for the teachers of the demo school."""
    from api.testing import keyed_api

    return keyed_api("dispatch", "override", name="teacher-app", schools=[DEMO_SCHOOL])[0]


def form_post(client: Client, **fields: str):
    data = {
        "subject": "mathematics",
        "grade_band": "elementary",
        "region": "us_east",
        "provider": "anthropic-claude",
        "justification": GOOD_REASON,
        "action": "submit",
        **fields,
    }
    return client.post("/teacher/override/", {k: v for k, v in data.items() if v is not None})
