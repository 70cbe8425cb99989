"""One table of override cases, each run through the teacher form AND `POST /dispatch`.

Both surfaces call `teachers.services.override_submit`, so for the same input they must give
the same outcome: the same status class, the same refusal rule, the same audit row (but for
the request id and the client) and the same decision body (but for the request id).
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from audit.models import DispatchLog
from authoring.demo import DEMO_SCHOOL, demo_world_load
from teachers.selectors import FORM_CLIENT_REF
from teachers.services import teacher_create
from teachers.tests.conftest import GOOD_REASON

pytestmark = pytest.mark.django_db
TEACHER_ID = "t-ada"
FORM_STATUS = {200: 302, 422: 422, 400: 400}  # an accepted form submission redirects to its result page
ROW_FIELDS = (
    "subject",
    "grade_band",
    "region",
    "outcome",
    "status_code",
    "refusal_code",
    "level",
    "policy_id",
    "provider_id",
    "is_override",
    "override_provider_ref",
    "override_reason",
    "teacher_id",
)

MATH = {"subject": "mathematics", "grade_band": "elementary"}
CASES = [
    # id, context + provider + justification, API status, refusal rule ("" = accepted), provider served
    ("accepted", {**MATH, "region": "us_east", "provider": "anthropic-claude"}, 200, "", "anthropic-claude"),
    ("accepted_eu", {**MATH, "region": "eu_west", "provider": "local-eu-provider"}, 200, "", "local-eu-provider"),
    (
        "blocked_in_region",
        {**MATH, "region": "eu_west", "provider": "us-only-provider"},
        422,
        "override_provider_not_compliant",
        None,
    ),
    (
        "not_in_allowed_list",
        {**MATH, "region": "eu_west", "provider": "openai-gpt4"},
        422,
        "override_provider_not_compliant",
        None,
    ),
    (
        "policy_forbids_override",
        {"subject": "science", "grade_band": "high", "region": "us_east", "provider": "anthropic-claude"},
        422,
        "override_not_allowed",
        None,
    ),
    (
        "justification_too_short",
        {**MATH, "region": "us_east", "provider": "anthropic-claude", "justification": "too short"},
        422,
        "justification_too_short",
        None,
    ),
    (
        "justification_blank",
        {**MATH, "region": "us_east", "provider": "anthropic-claude", "justification": ""},
        422,
        "justification_too_short",
        None,
    ),
    (
        "justification_invisible",  # 24 characters, none of them visible: refused alike on both surfaces
        {**MATH, "region": "us_east", "provider": "anthropic-claude", "justification": "\u200b\u2060\u3164" * 8},
        422,
        "justification_too_short",
        None,
    ),
    (
        "unknown_provider",
        {**MATH, "region": "us_east", "provider": "no-such-llm"},
        422,
        "override_provider_unknown",
        None,
    ),
    (
        "region_not_the_teachers",
        {**MATH, "region": "us_west", "provider": "google-gemini"},
        422,
        "teacher_region_not_allowed",
        None,
    ),
    (
        "region_without_routing_rule",
        {**MATH, "region": "uk_south", "provider": "anthropic-claude"},
        422,
        "region_not_configured",
        None,
    ),
    ("bad_subject", {"subject": "alchemy", "grade_band": "high", "region": "us_east", "provider": "x"}, 400, "", None),
    ("missing_provider", {**MATH, "region": "us_east", "provider": ""}, 400, "", None),
    (
        "nul_in_justification",
        {**MATH, "region": "us_east", "provider": "anthropic-claude", "justification": "a\x00" * 15},
        400,
        "",
        None,
    ),
]


@pytest.fixture
def ada(db):
    demo_world_load()
    teacher_create(
        username="ada",
        password="ada-password-123",
        external_id=TEACHER_ID,
        regions=["us_east", "eu_west", "uk_south"],
        school=DEMO_SCHOOL,  # the API client is authorised for its teachers
    )
    client = Client()
    assert client.login(username="ada", password="ada-password-123")
    return client


def through_form(client: Client, case: dict) -> tuple[int, DispatchLog | None]:
    data = {"justification": GOOD_REASON, **case, "action": "submit"}
    response = client.post("/teacher/override/", data)
    return response.status_code, DispatchLog.objects.filter(client_ref=FORM_CLIENT_REF).first()


def through_api(api_client, case: dict) -> tuple[int, dict, DispatchLog | None]:
    body = {
        "subject": case["subject"],
        "grade_band": case["grade_band"],
        "region": case["region"],
        "teacher_override": True,
        "override_reason": case.get("justification", GOOD_REASON),
        "teacher_id": TEACHER_ID,
    }
    if case["provider"]:
        body["override_provider_id"] = case["provider"]
    response = api_client.post("/dispatch", body, format="json")
    return response.status_code, response.json(), DispatchLog.objects.exclude(client_ref=FORM_CLIENT_REF).first()


def without_request_id(response_text: str) -> dict:
    body = json.loads(response_text)
    body.pop("request_id")
    return body


@pytest.mark.parametrize(("case", "api_status", "rule", "served"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_form_and_api_give_the_same_outcome(ada, api_client, case, api_status, rule, served):
    form_status, form_log = through_form(ada, case)
    status, body, api_log = through_api(api_client, case)

    assert status == api_status
    assert form_status == FORM_STATUS[api_status]
    if api_status == 400:  # bad shape: a field error on both surfaces, nothing written
        assert body["error"]["code"] == "invalid_input"
        assert form_log is None and api_log is None
        return
    assert form_log is not None and api_log is not None
    assert api_log.refusal_code == form_log.refusal_code == rule
    assert api_log.outcome == form_log.outcome == ("accepted" if not rule else "refused")
    if served:
        assert api_log.provider is not None
        assert body["provider_slug"] == served and api_log.provider.slug == served
    else:
        assert body["error"]["rule"] == rule
    assert {f: getattr(form_log, f) for f in ROW_FIELDS} == {f: getattr(api_log, f) for f in ROW_FIELDS}
    assert without_request_id(form_log.response) == without_request_id(api_log.response)
    assert DispatchLog.objects.count() == 2
