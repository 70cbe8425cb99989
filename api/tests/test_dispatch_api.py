"""POST /dispatch, GET /providers, GET /policies/validate through the real stack (APIClient)."""

from __future__ import annotations

import json
import uuid

import pytest

from audit.models import DispatchLog
from authoring.demo import demo_world_load
from providers.models import ModelProvider

pytestmark = pytest.mark.django_db
BASIC = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}


@pytest.fixture
def api(keyed_api):
    demo_world_load()
    return keyed_api


def post(api, body, request_id=None, raw=None):
    url = "/dispatch" + (f"?request_id={request_id}" if request_id else "")
    if raw is not None:
        return api.generic("POST", url, raw, content_type="application/json")
    return api.post(url, body, format="json")


def test_seed_basic_dispatch_returns_the_seed_fields_and_types(api):
    rid = uuid.uuid4()
    response = post(api, BASIC, rid)
    assert response.status_code == 200
    body = response.json()
    assert body["request_id"] == str(rid)
    uuid.UUID(body["provider_id"])
    uuid.UUID(body["policy_id"])
    assert body["provider_name"] == "OpenAI GPT-4"
    assert body["endpoint_url"] == "https://api.openai.com/v1/chat/completions"
    assert len(body["template_ids"]) == 2 and all(uuid.UUID(t) for t in body["template_ids"])
    assert body["moderation_threshold"] == 0.8
    assert body["allow_teacher_override"] is True
    assert body["rate_limits"] == {"requests_per_minute": 60, "tokens_per_minute": 100000}
    assert body["estimated_cost"] == {"per_1k_input_tokens": 0.03, "per_1k_output_tokens": 0.06}
    assert body["explanation"]["level"] == "exact"
    assert DispatchLog.objects.filter(request_id=rid).count() == 1


def test_missing_request_id_is_generated_and_returned(api):
    response = post(api, BASIC)
    rid = response.json()["request_id"]
    assert response["Request-Id"] == rid
    assert DispatchLog.objects.filter(request_id=uuid.UUID(rid)).exists()


def test_replay_returns_identical_bytes_and_writes_no_row(api):
    rid = uuid.uuid4()
    first, second = post(api, BASIC, rid), post(api, BASIC, rid)
    assert first.content == second.content
    assert second["Idempotent-Replayed"] == "true"
    assert DispatchLog.objects.count() == 1


def test_same_id_with_another_body_is_422_naming_the_conflict(api):
    rid = uuid.uuid4()
    post(api, BASIC, rid)
    response = post(api, {**BASIC, "grade_band": "middle"}, rid)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_conflict"
    assert "request_id" in response.json()["error"]["fields"]


def test_replay_after_the_provider_was_blocked_is_409(api):
    rid = uuid.uuid4()
    post(api, BASIC, rid)
    from policies.models import RegionalRouting

    RegionalRouting.objects.get(region="us_east").blocked_providers.add(ModelProvider.objects.get(slug="openai-gpt4"))
    response = post(api, BASIC, rid)
    assert response.status_code == 409
    assert response.json()["reason"] == "blocked_in_region"


def test_eu_west_never_gets_the_blocked_us_provider(api):
    body = post(api, {"subject": "science", "grade_band": "high", "region": "eu_west"}).json()
    assert body["provider_slug"] == "local-eu-provider"
    reasons = {step.get("slug", step["name"]): step["reason"] for step in body["explanation"]["passed_over"]}
    assert reasons["openai-gpt4"] == "not_in_allowed_list"


def test_region_without_routing_rule_is_refused_and_logged(api):
    response = post(api, {**BASIC, "region": "uk_south"})
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "region_not_configured",
        "message": "uk_south has no regional routing rule, so no provider may serve it",
        "region": "uk_south",
    }
    assert DispatchLog.objects.get().outcome == "refused"


@pytest.mark.parametrize(
    ("body", "field", "needle"),
    [
        ({**BASIC, "subject": "math"}, "subject", "allowed values: mathematics"),
        ({**BASIC, "grade_band": 7}, "grade_band", "allowed values: early_childhood"),
        ({**BASIC, "region": "mars"}, "region", "allowed values: us_east"),
        ({"grade_band": "high", "region": "us_east"}, "subject", "required"),
        ({**BASIC, "colour": "blue"}, "colour", "Unknown field"),
        ({**BASIC, "teacher_override": "maybe"}, "teacher_override", "Expected true or false"),
        ({**BASIC, "teacher_override": True}, "override_provider_id", "Required when teacher_override"),
        (
            {
                **BASIC,
                "teacher_override": True,
                "override_provider_id": "anthropic-claude",
                "override_reason": "x" * 30,
            },
            "teacher_id",
            "Required when teacher_override is true: the teacher's id",
        ),
        ({**BASIC, "override_reason": "x"}, "override_reason", "Only allowed when teacher_override"),
        ({**BASIC, "teacher_override": True, "override_provider_id": "a\x00b"}, "override_provider_id", "NUL"),
        ({**BASIC, "subject": None}, "subject", "may not be null"),
    ],
)
def test_bad_body_is_400_naming_the_field_and_writes_nothing(api, body, field, needle):
    response = post(api, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert needle in " ".join(error["fields"][field])
    assert DispatchLog.objects.count() == 0


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        ("not json", 400, "parse_error"),
        ("[1, 2]", 400, "parse_error"),
        ('{"subject": NaN}', 400, "parse_error"),
        ("", 400, "invalid_input"),
        ("{" + '"pad": "' + "x" * 20000 + '"}', 413, "payload_too_large"),
    ],
)
def test_malformed_body_is_a_clear_4xx(api, raw, status, code):
    response = post(api, None, raw=raw)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert DispatchLog.objects.count() == 0


def test_non_json_content_type_is_415(api):
    response = api.generic("POST", "/dispatch", "subject=mathematics", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_malformed_request_id_is_400(api):
    response = post(api, BASIC, "not-a-uuid")
    assert response.status_code == 400
    assert "request_id" in response.json()["error"]["fields"]
    assert DispatchLog.objects.count() == 0


def test_providers_lists_only_compliant_providers_of_the_region(api):
    body = api.get("/providers?region=eu_west").json()
    assert [p["slug"] for p in body["providers"]] == ["local-eu-provider"]
    unavailable = {u["slug"]: u["reason"] for u in body["unavailable"]}
    assert unavailable["us-only-provider"] == "blocked_in_region"
    elementary = api.get("/providers?region=us_east&grade_band=elementary").json()
    assert elementary["grade_band"] == "elementary"
    assert {p["slug"] for p in elementary["providers"]} == {
        "openai-gpt4",
        "anthropic-claude",
        "microsoft-copilot",
        "us-only-provider",
    }
    # Issue 16: without a band, the youngest (early childhood, 3): OpenAI's agreement covers 5 and up.
    youngest = api.get("/providers?region=us_east").json()
    assert youngest["grade_band"] == "early_childhood"
    assert {p["slug"] for p in youngest["providers"]} == {"anthropic-claude", "microsoft-copilot", "us-only-provider"}
    assert {u["name"]: u["reason"] for u in youngest["unavailable"]}["openai-gpt4"] == "below_provider_minimum_age"


@pytest.mark.parametrize("query", ["", "?region=atlantis", "?region=us_east&extra=1"])
def test_providers_bad_query_is_400(api, query):
    response = api.get("/providers" + query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"


def test_validate_reports_what_a_context_resolves_to_and_writes_nothing(api):
    body = api.get("/policies/validate?subject=mathematics&grade_band=elementary&region=africa_south").json()
    assert body["valid"] is True
    assert body["level"] == "subject"
    assert body["provider_slug"] == "africa-local-provider"
    assert any("anthropic-claude" in p for p in body["problems"])
    assert DispatchLog.objects.count() == 0


def test_validate_names_what_is_wrong(api):
    body = api.get("/policies/validate?subject=science&grade_band=high&region=uk_south").json()
    assert body["valid"] is False
    assert body["problems"] == ["uk_south has no regional routing rule, so no provider may serve it"]
    response = api.get("/policies/validate?subject=science&grade_band=high")
    assert response.status_code == 400 and "region" in response.json()["error"]["fields"]


def test_unknown_path_is_a_json_404(api):
    response = api.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_schema_declares_the_dispatch_statuses(api):
    schema = api.get("/schema", HTTP_ACCEPT="application/json").json()
    responses = schema["paths"]["/dispatch"]["post"]["responses"]
    assert {"200", "400", "409", "413", "415", "422"} <= set(responses)


def test_docs_are_served_without_a_cdn(api):
    html = api.get("/docs").content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
    assert "/static/drf_spectacular_sidecar/" in html


def test_health_and_readiness(api):
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"


def test_response_body_is_compact_json(api):
    response = post(api, BASIC)
    assert response["Content-Type"] == "application/json"
    json.loads(response.content)


@pytest.mark.parametrize("value", [0, 1, "true", "yes"])
def test_teacher_override_takes_only_a_json_boolean(api, value):
    response = post(api, {**BASIC, "teacher_override": value})
    assert response.status_code == 400
    assert "Expected true or false" in response.json()["error"]["fields"]["teacher_override"][0]
    assert DispatchLog.objects.count() == 0
