"""Each auth outcome on every API endpoint: no key, bad key, revoked key, missing scope, right scope."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from api.testing import keyed_api
from api.tests.endpoints import api_endpoints
from authoring.demo import DEMO_TEACHER_ID, demo_teacher_load, demo_world_load
from clients.models import SCOPE_PERMISSIONS, Scope
from clients.services import api_client_revoke

pytestmark = pytest.mark.django_db
ENDPOINTS = api_endpoints()


def call(api: APIClient, endpoint, **extra):
    return api.generic(endpoint.method, endpoint.path, "{}", content_type="application/json", **extra)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


def test_the_known_endpoints_are_found_and_each_declares_a_scope():
    names = {str(e) for e in ENDPOINTS}
    assert {"POST /dispatch", "GET /providers", "GET /policies/validate"} <= names
    for endpoint in ENDPOINTS:
        assert endpoint.scope in Scope.values, f"{endpoint} declares no valid required_scope"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_no_key_is_401_with_the_scheme(endpoint):
    response = call(APIClient(), endpoint)
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Api-Key")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
@pytest.mark.parametrize(
    "header",
    ["Api-Key mds_00000000_not-a-real-key", "Api-Key nonsense", "Api-Key ", "api-key a b"],
    ids=["unknown", "malformed", "empty", "two-words"],
)
def test_unknown_or_malformed_key_is_401(endpoint, header):
    response = call(APIClient(), endpoint, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"invalid_api_key", "authentication_failed"}
    assert response["WWW-Authenticate"].startswith("Api-Key")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_revoked_key_is_401(endpoint):
    api, client, _ = keyed_api()
    api_client_revoke(client=client)
    assert_error(call(api, endpoint), 401, "revoked_api_key")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_missing_scope_is_403_naming_it(endpoint):
    others = [s for s in Scope.values if s != endpoint.scope]
    api, _, _ = keyed_api(*others)
    error = assert_error(call(api, endpoint), 403, "missing_scope")
    assert repr(endpoint.scope) in error["message"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_the_right_scope_passes_access_control(endpoint):
    demo_world_load()
    api, _, _ = keyed_api(endpoint.scope)
    response = call(api, endpoint)
    assert response.status_code not in {401, 403, 429}, response.content[:300]


def grant(user, scope: str):
    """Give `user` the Django permission of `scope` (as an administrator would in admin)."""
    app_label, codename = SCOPE_PERMISSIONS[scope].split(".")
    user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return type(user).objects.get(pk=user.pk)  # a fresh instance: Django caches permissions per instance


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_a_teacher_session_is_refused_and_staff_need_the_scopes_permission(endpoint, django_user_model):
    demo_world_load()
    teacher = django_user_model.objects.create_user("teacher-1", password="pw-teacher-1")
    api = APIClient()
    api.force_login(teacher)
    assert_error(call(api, endpoint), 403, "permission_denied")
    staff = django_user_model.objects.create_user("staff-1", password="pw-staff-1", is_staff=True)
    api.force_login(staff)
    error = assert_error(call(api, endpoint), 403, "missing_permission")
    assert SCOPE_PERMISSIONS[endpoint.scope] in error["message"]
    for other in Scope.values:  # every other scope's permission is not enough
        if other != endpoint.scope:
            staff = grant(staff, other)
    assert_error(call(api, endpoint), 403, "missing_permission")
    grant(staff, endpoint.scope)
    assert call(api, endpoint).status_code not in {401, 403}
    superuser = django_user_model.objects.create_superuser("root-1", password="pw-root-1")
    api.force_login(superuser)
    assert call(api, endpoint).status_code not in {401, 403}


BASIC = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}
OVERRIDE = {
    **BASIC,
    "teacher_override": True,
    "override_provider_id": "anthropic-claude",
    "override_reason": "Student needs a model that explains fractions visually",
    "teacher_id": DEMO_TEACHER_ID,
}


def test_teacher_override_needs_the_override_scope():
    demo_world_load()
    demo_teacher_load()
    api, _, _ = keyed_api("dispatch")
    response = api.post("/dispatch", OVERRIDE, format="json")
    error = assert_error(response, 403, "missing_scope")
    assert "'override'" in error["message"]
    assert api.post("/dispatch", BASIC, format="json").status_code == 200
    api, _, _ = keyed_api("dispatch", "override", teachers=[DEMO_TEACHER_ID])
    response = api.post("/dispatch", OVERRIDE, format="json")
    assert response.status_code == 200 and response.json()["provider_slug"] == "anthropic-claude"


def test_public_endpoints_need_no_key():
    api = APIClient()
    assert api.get("/healthz").status_code == 200
    assert api.get("/readyz").status_code == 200
    assert api.get("/schema").status_code == 200
    assert api.get("/docs").status_code == 200
    assert api.get("/schema", HTTP_AUTHORIZATION="Api-Key wrong").status_code == 200


def test_schema_declares_the_scheme_and_401_403_429_on_every_operation():
    schema = APIClient().get("/schema", HTTP_ACCEPT="application/json").json()
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Api-Key <key>`: a key from admin or `manage.py create_api_client`.",
    }
    operations = [op for ops in schema["paths"].values() for op in ops.values()]
    assert len(operations) >= len(ENDPOINTS)
    for operation in operations:
        assert {"ApiKeyAuth": []} in operation["security"]
        assert {"401", "403", "429"} <= set(operation["responses"]), operation["operationId"]
