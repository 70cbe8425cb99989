"""API clients: keys shown once and stored hashed, rotation, revocation, the command, the admin,
the audit row naming the client, and one client never seeing another's dispatch."""

from __future__ import annotations

import re
import time
import uuid
from importlib import import_module
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from api.testing import keyed_api
from audit.models import DispatchLog
from authoring.demo import DEMO_CLIENT_KEY, DEMO_TEACHER_ID, demo_teacher_load, demo_world_load
from clients.keys import key_hash
from clients.models import ApiClient
from clients.services import api_client_create, api_client_rotate

pytestmark = pytest.mark.django_db
BASIC = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}


def with_key(key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return api


def test_the_key_is_stored_only_as_a_hash():
    client, key = api_client_create(name="district-app", scopes=["dispatch"])
    row = ApiClient.objects.get(pk=client.pk)
    assert key.startswith(f"mds_{row.key_prefix}_") and len(key) > 50
    assert row.key_hash == key_hash(key) and key not in str(row.__dict__)


def test_rotation_replaces_the_key_and_revocation_refuses_it():
    demo_world_load()
    client, old = api_client_create(name="rotating-app", scopes=["read"])
    assert with_key(old).get("/providers?region=us_east").status_code == 200
    new = api_client_rotate(client=client)
    assert with_key(old).get("/providers?region=us_east").status_code == 401
    assert with_key(new).get("/providers?region=us_east").status_code == 200
    assert ApiClient.objects.get(pk=client.pk).rotated_at is not None


def test_revocation_in_another_worker_takes_effect_within_the_cache_time(settings):
    """Another worker revokes (a direct row update here): this process notices within API_KEY_CACHE_SECONDS."""
    # The setting under test: long enough that the "still cached" request comes within it on a
    # busy machine; the wait past it adds a margin for the cache's coarse clock.
    settings.API_KEY_CACHE_SECONDS = cache_seconds = 1.0
    demo_world_load()
    api, client, _ = keyed_api("read")
    assert api.get("/providers?region=us_east").status_code == 200
    ApiClient.objects.filter(pk=client.pk).update(is_active=False)
    assert api.get("/providers?region=us_east").status_code == 200  # still cached
    time.sleep(cache_seconds + 0.05)
    refused = api.get("/providers?region=us_east").json()
    assert refused["error"]["code"] == "revoked_api_key", f"revoked key served after API_KEY_CACHE_SECONDS: {refused}"


def test_create_api_client_prints_the_key_alone_on_its_last_line():
    demo_world_load()
    out, err = StringIO(), StringIO()
    call_command(
        "create_api_client", "lms-east", "--scopes", "dispatch", "read", "--rate", "6000/min", stdout=out, stderr=err
    )
    key = out.getvalue().strip().splitlines()[-1]
    assert " " not in key
    row = ApiClient.objects.get(name="lms-east")
    assert (row.scopes, row.rate) == (["dispatch", "read"], "6000/min")
    assert with_key(key).post("/dispatch", BASIC, format="json").status_code == 200
    with pytest.raises(CommandError, match="rate"):
        call_command("create_api_client", "bad-rate", "--scopes", "read", "--rate", "lots", stdout=out, stderr=err)
    with pytest.raises(CommandError, match="exists"):
        call_command("create_api_client", "lms-east", "--scopes", "read", stdout=out, stderr=err)


def test_seed_demo_creates_the_demo_client_and_prints_its_key():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=out)  # idempotent
    assert f"Api-Key {DEMO_CLIENT_KEY}" in out.getvalue()
    assert with_key(DEMO_CLIENT_KEY).post("/dispatch", BASIC, format="json").status_code == 200


def test_the_audit_row_names_the_client():
    demo_world_load()
    api, client, _ = keyed_api("dispatch")
    rid = api.post("/dispatch", BASIC, format="json").json()["request_id"]
    assert DispatchLog.objects.get(request_id=rid).client_ref == client.name


def test_a_client_cannot_read_another_clients_dispatch_through_its_request_id():
    demo_world_load()
    demo_teacher_load()
    alice, a, _ = keyed_api("dispatch", "override", teachers=[DEMO_TEACHER_ID])
    bob, b, _ = keyed_api("dispatch")
    rid = uuid.uuid4()
    body = {
        **BASIC,
        "teacher_override": True,
        "override_provider_id": "anthropic-claude",
        "override_reason": "Student needs a model that explains fractions visually",
        "teacher_id": DEMO_TEACHER_ID,
    }
    first = alice.post(f"/dispatch?request_id={rid}", body, format="json")
    assert first.status_code == 200
    replay = alice.post(f"/dispatch?request_id={rid}", body, format="json")
    assert replay["Idempotent-Replayed"] == "true"
    # Bob reusing Alice's request id gets his own decision, never her stored response.
    theirs = bob.post(f"/dispatch?request_id={rid}", BASIC, format="json")
    assert theirs.status_code == 200 and "Idempotent-Replayed" not in theirs
    assert theirs.content != first.content and theirs.json()["provider_slug"] == "openai-gpt4"
    assert sorted(DispatchLog.objects.filter(request_id=rid).values_list("client_ref", flat=True)) == sorted(
        [a.name, b.name]
    )


def _statements(queries) -> list[str]:
    skip = ("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT", "ROLLBACK")
    return [q["sql"] for q in queries.captured_queries if not q["sql"].upper().startswith(skip)]


def test_a_warm_authenticated_dispatch_still_runs_at_most_two_statements():
    """The key lookup is one SELECT when the key is not cached; warm, it costs nothing."""
    demo_world_load()
    api, _, _ = keyed_api("dispatch")
    with CaptureQueriesContext(connection) as cold:
        assert api.post("/dispatch", BASIC, format="json").status_code == 200
    assert any("api_clients" in sql for sql in _statements(cold))
    with CaptureQueriesContext(connection) as warm:
        assert api.post("/dispatch", BASIC, format="json").status_code == 200
    statements = _statements(warm)
    assert len(statements) <= 2, statements
    assert not any("api_clients" in sql for sql in statements)
    assert statements[-1].upper().startswith("INSERT INTO")


def test_a_teacher_and_an_api_client_cannot_reach_the_admin(client, django_user_model):
    from django.contrib.auth.models import Group

    teacher = django_user_model.objects.create_user("ms-frizzle", password="magic-school-bus-1")
    teacher.groups.add(Group.objects.get_or_create(name="Teachers")[0])
    response = client.post("/admin/login/", {"username": "ms-frizzle", "password": "magic-school-bus-1"})
    assert response.status_code == 200 and b"staff account" in response.content  # refused by the admin form
    client.force_login(teacher)
    for path in ("/admin/", "/admin/clients/apiclient/", "/admin/audit/dispatchlog/"):
        assert client.get(path).status_code == 302  # to the login page
    _, _, key = keyed_api()
    api = APIClient()
    for path in ("/admin/", "/admin/clients/apiclient/"):
        response = api.get(path, HTTP_AUTHORIZATION=f"Api-Key {key}")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


# The teacher-authorisation inline's management form, with no rows.
NO_AUTHORISATIONS = {"teacher_authorisations-TOTAL_FORMS": "0", "teacher_authorisations-INITIAL_FORMS": "0"}
KEY_ON_PAGE = re.compile(r'<code class="api-key">(mds_[^<]+)</code>')


def shown_keys(response) -> list[str]:
    return KEY_ON_PAGE.findall(response.content.decode())


def test_admin_creates_a_client_showing_the_key_once_then_rotates_and_revokes(admin_client):
    demo_world_load()
    response = admin_client.post(
        "/admin/clients/apiclient/add/",
        {
            "name": "from-admin",
            "description": "",
            "scopes": ["read", "dispatch"],
            "rate": "100/min",
            "is_active": "on",
            **NO_AUTHORISATIONS,
        },
    )
    assert "shown once" in response.content.decode()
    [key] = shown_keys(response)
    assert with_key(key).get("/providers?region=us_east").status_code == 200
    row = ApiClient.objects.get(name="from-admin")
    assert key not in admin_client.get(f"/admin/clients/apiclient/{row.pk}/change/").content.decode()
    response = admin_client.post("/admin/clients/apiclient/", {"action": "rotate_keys", "_selected_action": [row.pk]})
    [new_key] = shown_keys(response)
    assert with_key(key).get("/providers?region=us_east").status_code == 401
    assert with_key(new_key).get("/providers?region=us_east").status_code == 200
    admin_client.post("/admin/clients/apiclient/", {"action": "revoke_keys", "_selected_action": [row.pk]})
    assert with_key(new_key).get("/providers?region=us_east").json()["error"]["code"] == "revoked_api_key"


def test_a_new_key_is_shown_once_in_the_post_response_and_never_in_a_cookie_or_the_session(admin_client):
    """The key travels only in the (uncacheable) answer to the POST that made it (issue 12, 7f)."""

    def stored_anywhere(response, key: str) -> list[str]:
        """Where `key` is kept beyond this response: a cookie (decoded), the session, the messages."""
        places = []
        for name, morsel in response.cookies.items():
            value = morsel.value
            if key in morsel.OutputString():
                places.append(f"Set-Cookie {name}")
            if name == CookieStorage.cookie_name and value:
                reader = RequestFactory().get("/")
                reader.COOKIES[name] = value
                if any(key in str(message) for message in CookieStorage(reader)):
                    places.append("messages cookie")
        engine = import_module(settings.SESSION_ENGINE)
        session = engine.SessionStore(admin_client.cookies[settings.SESSION_COOKIE_NAME].value).load()
        if key in str(session):
            places.append("session")
        later = admin_client.get("/admin/clients/apiclient/")  # whatever messages are pending show here
        if key in later.content.decode():
            places.append("next page")
        return places

    response = admin_client.post(
        "/admin/clients/apiclient/add/",
        {"name": "lms-west", "description": "", "scopes": ["read"], "rate": "", "is_active": "on", **NO_AUTHORISATIONS},
    )
    assert response.status_code == 200  # the answer to the POST itself, not a redirect to a message
    [key] = shown_keys(response)
    assert response.content.decode().count(key) == 1
    assert "no-store" in response["Cache-Control"]
    assert stored_anywhere(response, key) == []
    row = ApiClient.objects.get(name="lms-west")
    assert row.key_hash == key_hash(key)
    rotated = admin_client.post("/admin/clients/apiclient/", {"action": "rotate_keys", "_selected_action": [row.pk]})
    assert rotated.status_code == 200 and "no-store" in rotated["Cache-Control"]
    [new_key] = shown_keys(rotated)
    assert new_key != key and rotated.content.decode().count(new_key) == 1
    assert stored_anywhere(rotated, new_key) == []


def test_admin_rejects_a_bad_rate(admin_client):
    response = admin_client.post(
        "/admin/clients/apiclient/add/",
        {"name": "bad", "scopes": ["read"], "rate": "fast", "is_active": "on", **NO_AUTHORISATIONS},
    )
    assert response.status_code == 200 and "N/period" in response.content.decode()
    assert not ApiClient.objects.filter(name="bad").exists()


REPORT = {"success": True, "latency_ms": 840, "input_tokens": 512, "output_tokens": 230}


def test_a_client_cannot_report_or_read_another_clients_outcome():
    demo_world_load()
    alice, _, _ = keyed_api("dispatch", "outcome")
    bob, _, _ = keyed_api("dispatch", "outcome")
    rid = alice.post("/dispatch", BASIC, format="json").json()["request_id"]
    assert alice.post(f"/dispatch/{rid}/outcome", REPORT, format="json").status_code == 201
    # Bob sending the same report would replay Alice's stored outcome if ids were not per client.
    for body in (REPORT, {**REPORT, "success": False, "error_code": "timeout"}):
        response = bob.post(f"/dispatch/{rid}/outcome", body, format="json")
        assert response.status_code == 404 and "request_id" not in response.json()
    assert alice.post(f"/dispatch/{rid}/outcome", REPORT, format="json")["Idempotent-Replayed"] == "true"


def test_reported_tokens_count_against_the_providers_tokens_per_minute():
    demo_world_load()
    from providers.models import ModelProvider

    ModelProvider.objects.filter(slug="openai-gpt4").update(tokens_per_minute=1000)
    api, _, _ = keyed_api("dispatch", "outcome")
    first = api.post("/dispatch", BASIC, format="json").json()
    assert first["provider_slug"] == "openai-gpt4"
    report = {**REPORT, "input_tokens": 700, "output_tokens": 300}
    assert api.post(f"/dispatch/{first['request_id']}/outcome", report, format="json").status_code == 201
    body = api.post("/dispatch", BASIC, format="json").json()
    assert body["provider_slug"] == "anthropic-claude"
    passed_over = body["explanation"]["passed_over"]
    assert {s.get("slug", s["name"]): s["reason"] for s in passed_over} == {"openai-gpt4": "rate_limited"}


def test_the_dashboard_is_for_administrators_only(client, admin_client, django_user_model):
    teacher = django_user_model.objects.create_user("teacher-2", password="teacher-2-password")
    client.force_login(teacher)
    assert client.get("/admin/audit/dashboard/").status_code == 302
    _, _, key = keyed_api("analytics")
    assert APIClient().get("/admin/audit/dashboard/", HTTP_AUTHORIZATION=f"Api-Key {key}").status_code == 302
    assert admin_client.get("/admin/audit/dashboard/").status_code == 200
