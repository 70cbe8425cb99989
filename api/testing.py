"""Test helper: an APIClient that sends a fresh API key with the given scopes (all by default)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from rest_framework.test import APIClient

from clients.models import ApiClient, Scope
from clients.services import api_client_create, teacher_authorisation_grant


def keyed_api(
    *scopes: str, rate: str = "", name: str = "", teachers: Iterable[str] = (), schools: Iterable[str] = ()
) -> tuple[APIClient, ApiClient, str]:
    """(api, client row, key): `api` sends `Authorization: Api-Key <key>` on every request.

    `teachers` (teacher ids of existing profiles) and `schools`: whom the client may act for."""
    from teachers.models import TeacherProfile  # the teachers app builds on this one

    client, key = api_client_create(
        name=name or f"test-{uuid.uuid4().hex[:10]}", scopes=scopes or Scope.values, rate=rate
    )
    for teacher_id in teachers:
        teacher_authorisation_grant(client=client, teacher=TeacherProfile.objects.get(external_id=teacher_id))
    for school in schools:
        teacher_authorisation_grant(client=client, school=school)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return api, client, key
