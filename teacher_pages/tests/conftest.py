"""The teacher-test worlds (teachers/tests/conftest.py) serve the page tests too."""

from teachers.tests.conftest import api_client, demo, other_teacher, teacher_client  # noqa: F401
