"""The teacher pages through Django's test client: access, the form's offers and errors, My overrides."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from audit.models import DispatchLog
from teachers.tests.conftest import GOOD_REASON, form_post

pytestmark = pytest.mark.django_db
PAGES = ["/teacher/", "/teacher/override/", "/teacher/overrides/", "/teacher/overrides/1/"]


def options(html: str, select_id: str) -> list[str]:
    select = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no select #{select_id}"
    return [v for v in re.findall(r'<option value="([^"]*)"', select.group(1)) if v]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_users_are_sent_to_the_login_page(demo, path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


@pytest.mark.parametrize("path", PAGES)
def test_signed_in_non_teachers_get_403(demo, path):
    get_user_model().objects.create_user(username="visitor", password="visitor-password-1")
    client = Client()
    client.login(username="visitor", password="visitor-password-1")
    response = client.get(path)
    assert response.status_code == 403
    assert b"Access denied" in response.content and b"Model Dispatch Service" in response.content


def test_a_teacher_removed_from_the_group_gets_403(demo, teacher_client):
    demo.user.groups.clear()
    assert teacher_client.get("/teacher/override/").status_code == 403


def test_forms_post_without_a_csrf_token_is_refused_and_writes_nothing(demo):
    client = Client(enforce_csrf_checks=True)
    client.login(username="teacher", password="dispatch-demo-teacher")
    response = form_post(client)
    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert not DispatchLog.objects.exists()


def test_login_page_is_the_products_own_and_logs_a_teacher_in(demo):
    client = Client()
    page = client.get("/accounts/login/?next=/teacher/overrides/")
    assert page.status_code == 200
    assert b"site.css" in page.content and b"Teachers: log in" in page.content and b"admin/css" not in page.content
    response = client.post(
        "/accounts/login/", {"username": "teacher", "password": "dispatch-demo-teacher", "next": "/teacher/overrides/"}
    )
    assert response.status_code == 302 and response["Location"] == "/teacher/overrides/"
    bad = Client().post("/accounts/login/", {"username": "teacher", "password": "wrong"})
    assert bad.status_code == 200 and b'role="alert"' in bad.content


def test_logout_is_a_post_and_ends_the_session(teacher_client):
    response = teacher_client.post("/accounts/logout/")
    assert response.status_code == 200 and b"You are logged out" in response.content
    assert teacher_client.get("/teacher/override/").status_code == 302


def test_form_offers_only_the_teachers_regions_and_the_regions_compliant_providers(teacher_client):
    html = teacher_client.get("/teacher/override/").content.decode()
    assert options(html, "id_region") == ["us_east", "eu_west"]
    # Issue 16: without a grade band the youngest band's providers (OpenAI's agreement covers 5 and up).
    assert options(html, "id_provider") == ["anthropic-claude", "microsoft-copilot", "us-only-provider"]
    elementary = teacher_client.get("/teacher/override/?grade_band=elementary").content.decode()
    assert options(elementary, "id_provider") == [
        "anthropic-claude",
        "microsoft-copilot",
        "openai-gpt4",
        "us-only-provider",
    ]
    eu = teacher_client.get("/teacher/override/?region=eu_west").content.decode()
    assert options(eu, "id_provider") == ["local-eu-provider"]
    forged = teacher_client.get("/teacher/override/?region=us_west").content.decode()
    assert "google-gemini" not in options(forged, "id_provider")


def test_showing_the_policys_choice_writes_nothing(teacher_client):
    response = teacher_client.post(
        "/teacher/override/",
        {"subject": "mathematics", "grade_band": "elementary", "region": "us_east", "action": "preview"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "OpenAI GPT-4" in html and "Elementary Math - US East" in html and "allows teacher overrides" in html
    assert not DispatchLog.objects.exists()
    science = teacher_client.get("/teacher/override/?subject=science&grade_band=high&region=us_east").content
    assert b"does not allow teacher overrides" in science


def test_valid_override_redirects_to_the_providers_configuration(teacher_client):
    response = form_post(teacher_client)
    log = DispatchLog.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/teacher/overrides/{log.pk}/"
    assert (log.outcome, log.client_ref, log.teacher_id) == ("accepted", "web:teacher-form", "demo-teacher")
    page = teacher_client.get(response["Location"]).content.decode()
    for text in ("Override accepted", "Anthropic Claude", "https://api.anthropic.com/v1/messages", "Virginia", "0.8"):
        assert text in page


def test_too_short_justification_is_a_field_error_announced_and_audited(teacher_client):
    response = form_post(teacher_client, justification="too short")
    html = response.content.decode()
    assert response.status_code == 422
    assert 'role="alert"' in html and "<title>Error:" in html
    found = re.search(r"<textarea[^>]*>", html)
    assert found is not None
    textarea = found.group(0)
    assert 'aria-invalid="true"' in textarea and "id_justification_error" in textarea
    assert 'id="id_justification_error"' in html and "at least 20 characters" in html
    log = DispatchLog.objects.get()
    assert (log.outcome, log.refusal_code, log.override_reason) == ("refused", "justification_too_short", "too short")


def test_forged_region_is_refused_by_the_service_next_to_the_region_field(teacher_client):
    response = form_post(teacher_client, region="us_west", provider="google-gemini")
    assert response.status_code == 422
    assert 'id="id_region_error"' in response.content.decode()
    log = DispatchLog.objects.get()
    assert (log.outcome, log.refusal_code, log.region) == ("refused", "teacher_region_not_allowed", "us_west")


def test_forged_blocked_provider_is_refused_next_to_the_provider_field(teacher_client):
    response = form_post(teacher_client, region="eu_west", provider="us-only-provider")
    html = response.content.decode()
    assert response.status_code == 422
    assert 'id="id_provider_error"' in html and "us-only-provider is blocked in eu_west" in html
    assert DispatchLog.objects.get().refusal_code == "override_provider_not_compliant"


def test_each_shown_form_carries_a_fresh_request_id_and_a_double_submit_writes_one_row(teacher_client):
    html = teacher_client.get("/teacher/override/").content.decode()
    found = re.search(r'name="request_id" value="([^"]+)"', html)
    assert found is not None
    rid = found.group(1)
    first = form_post(teacher_client, request_id=rid)
    second = form_post(teacher_client, request_id=rid)
    assert first["Location"] == second["Location"]
    assert DispatchLog.objects.count() == 1
    refused = form_post(teacher_client, request_id=rid, justification="short").content.decode()
    assert "already submitted with other values" in refused
    assert f'value="{rid}"' not in refused  # the re-shown form is a new attempt
    assert DispatchLog.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"subject": "alchemy"}, "subject"),
        ({"region": "mars"}, "region"),
        ({"provider": ""}, "provider"),
        ({"justification": "x" * 2001}, "justification"),
        ({"justification": "null \x00 byte in a long justification"}, "justification"),
    ],
)
def test_malformed_form_input_is_a_400_field_error_and_writes_nothing(teacher_client, fields, field):
    response = form_post(teacher_client, **fields)
    assert response.status_code == 400
    assert f'id="id_{field}_error"' in response.content.decode()
    assert not DispatchLog.objects.exists()


def test_my_overrides_lists_exactly_the_teachers_own_attempts_newest_first(teacher_client, other_teacher):
    form_post(teacher_client)
    form_post(teacher_client, justification="nope")
    bob = Client()
    bob.login(username="bob", password="bob-password-123")
    form_post(bob, justification="Bob's class needs a model for Spanish readers")
    html = teacher_client.get("/teacher/overrides/").content.decode()
    rows = re.findall(r'<tr data-outcome="(\w+)">', html)
    assert rows == ["refused", "accepted"]
    assert "Spanish readers" not in html
    bob_log = DispatchLog.objects.get(teacher_id="t-bob")
    assert teacher_client.get(f"/teacher/overrides/{bob_log.pk}/").status_code == 404
    assert bob.get(f"/teacher/overrides/{bob_log.pk}/").status_code == 200
    refused = DispatchLog.objects.get(teacher_id="demo-teacher", outcome="refused")
    page = teacher_client.get(f"/teacher/overrides/{refused.pk}/").content.decode()
    assert "Override refused" in page and "justification_too_short" in page and "nope" in page


def test_my_overrides_pages_by_25(demo, teacher_client):
    from policies.engine import DispatchContext
    from teachers.services import override_submit

    for _ in range(26):
        override_submit(
            teacher_id="demo-teacher",
            context=DispatchContext("mathematics", "elementary", "us_east"),
            provider_ref="anthropic-claude",
            justification=GOOD_REASON,
            request_id=None,
            client_ref="app-1",
            acting_client_id=None,
        )
    first = teacher_client.get("/teacher/overrides/").content.decode()
    second = teacher_client.get("/teacher/overrides/?page=2").content.decode()
    assert first.count("<tr data-outcome") == 25 and second.count("<tr data-outcome") == 1
    assert "Page 2 of 2" in second and "app-1" in second


def test_my_overrides_includes_attempts_apps_made_for_the_teacher(teacher_client, api_client):
    body = {
        "subject": "mathematics",
        "grade_band": "elementary",
        "region": "us_east",
        "teacher_override": True,
        "override_provider_id": "microsoft-copilot",
        "override_reason": GOOD_REASON,
        "teacher_id": "demo-teacher",
    }
    assert api_client.post("/dispatch", body, format="json").status_code == 200
    html = teacher_client.get("/teacher/overrides/").content.decode()
    assert "microsoft-copilot" in html and "Served by Microsoft Copilot" in html


def test_a_region_with_no_compliant_provider_says_so(demo, teacher_client):
    from policies.models import RegionalRouting
    from providers.models import ModelProvider

    RegionalRouting.objects.get(region="eu_west").blocked_providers.add(
        ModelProvider.objects.get(slug="local-eu-provider")
    )
    html = teacher_client.get("/teacher/override/?region=eu_west").content.decode()
    assert options(html, "id_provider") == []
    assert 'id="no-providers"' in html
    assert 'id="no-providers"' not in teacher_client.get("/teacher/override/").content.decode()


def test_resubmitting_a_page_whose_provider_was_since_blocked_says_so(teacher_client):
    from policies.models import RegionalRouting
    from providers.models import ModelProvider

    rid = "0b6d0f7e-8a51-4b7e-9a55-5f0c2f1b7c11"
    assert form_post(teacher_client, request_id=rid).status_code == 302
    claude = ModelProvider.objects.get(slug="anthropic-claude")
    RegionalRouting.objects.get(region="us_east").blocked_providers.add(claude)
    response = form_post(teacher_client, request_id=rid)
    assert response.status_code == 409
    assert "may no longer serve us_east" in response.content.decode()
    assert DispatchLog.objects.count() == 1


def test_teacher_login_is_throttled_against_guessing_like_the_admins(demo, settings):
    settings.ADMIN_LOGIN_MAX_FAILURES = 3
    guesser = Client(REMOTE_ADDR="10.7.7.7")
    for attempt in range(3):
        response = guesser.post("/accounts/login/", {"username": "teacher", "password": f"guess-{attempt}"})
        assert response.status_code == 200  # the form again: refused
    blocked = guesser.post("/accounts/login/", {"username": "teacher", "password": "dispatch-demo-teacher"})
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 0


STAMP_READ = re.compile(r'FROM "policy_snapshot_stamp"')


@pytest.mark.parametrize(
    "submit", [{"justification": "too short"}, {"action": "preview"}, None], ids=["refused", "preview", "page"]
)
def test_a_form_page_reads_one_snapshot(teacher_client, settings, submit):
    """The providers offered, the decision and the policy's own choice come from one snapshot
    (each snapshot taken reads the stamp: the check interval is 0 in tests)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from policies.snapshot import current_snapshot

    settings.SNAPSHOT_STAMP_IN_REDIS = False
    current_snapshot()  # warm: a snapshot taken is then one stamp read (a build reads it twice)
    with CaptureQueriesContext(connection) as queries:
        if submit is None:
            response = teacher_client.get("/teacher/override/?subject=mathematics&grade_band=elementary")
        else:
            response = form_post(teacher_client, **submit)
    assert response.status_code in (200, 422)
    assert 'id="policy-choice"' in response.content.decode()  # the policy's own choice is shown
    assert sum(1 for q in queries.captured_queries if STAMP_READ.search(q["sql"])) == 1
