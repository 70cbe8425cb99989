"""What a client developer meets first (issue 18, finding 10): a key sent the wrong way is told
how to send it (and counted like any refusal); a body without the JSON content type is a 415
naming it; wrong types are described in JSON's words; `/providers` and the explanations use
`name` for what people read and `slug` for the slug; the OpenAPI schema offers API keys only."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client
from rest_framework.test import APIClient

from api.testing import keyed_api
from api.tests.endpoints import api_endpoints
from authoring.demo import demo_world_load
from dispatch_site.tests.test_access_refusals import refusals

pytestmark = pytest.mark.django_db
BASIC = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}


@pytest.fixture
def world():
    demo_world_load()


@pytest.fixture
def key(world):
    return keyed_api()[2]


@pytest.mark.parametrize("endpoint", api_endpoints(), ids=str)
@pytest.mark.parametrize(
    ("headers", "sent_as"),
    [
        ({"HTTP_AUTHORIZATION": "Bearer {key}"}, "the Bearer scheme"),
        ({"HTTP_AUTHORIZATION": "Token {key}"}, "the Token scheme"),
        ({"HTTP_X_API_KEY": "{key}"}, "an X-API-Key header"),
    ],
    ids=["bearer", "token", "x-api-key"],
)
def test_a_key_sent_another_way_is_a_401_that_says_how_to_send_it(endpoint, headers, sent_as, key, caplog):
    before = refusals("anonymous", 401, "wrong_auth_scheme")
    caplog.set_level(logging.WARNING, logger="dispatch.access")
    response = APIClient().generic(
        endpoint.method,
        endpoint.path,
        json.dumps(BASIC),
        content_type="application/json",
        **{name: value.format(key=key) for name, value in headers.items()},
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Api-Key")
    error = response.json()["error"]
    assert error["code"] == "wrong_auth_scheme"
    assert error["message"] == f"Send the API key as: Authorization: Api-Key <key> (this request used {sent_as})."
    assert key not in response.content.decode()
    assert refusals("anonymous", 401, "wrong_auth_scheme") == before + 1  # counted like every refusal
    lines = [r.getMessage() for r in caplog.records if r.name == "dispatch.access"]
    assert any("401 wrong_auth_scheme client=anonymous" in line for line in lines)
    assert not any(key in line for line in lines)


def test_the_right_scheme_still_wins_and_other_headers_are_left_alone(key):
    api = APIClient()
    response = api.post("/dispatch", BASIC, format="json", HTTP_AUTHORIZATION=f"Api-Key {key}", HTTP_X_API_KEY="x")
    assert response.status_code == 200
    response = api.post("/dispatch", BASIC, format="json", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    assert response.json()["error"]["code"] == "not_authenticated"  # not a key sent the wrong way


@pytest.mark.parametrize(
    ("content_type", "says"),
    [
        (None, "no Content-Type"),
        ("text/plain", 'Content-Type "text/plain"'),
        ("application/x-www-form-urlencoded", 'Content-Type "application/x-www-form-urlencoded"'),  # curl -d
    ],
)
def test_a_body_that_is_not_sent_as_json_is_a_415_naming_the_type(key, content_type, says):
    extra = {"CONTENT_TYPE": content_type} if content_type else {}
    response = Client().generic(
        "POST", "/dispatch", json.dumps(BASIC).encode(), HTTP_AUTHORIZATION=f"Api-Key {key}", **extra
    )
    if content_type is None:  # the test client fills one in; a raw request may carry none
        response = Client().post(
            "/dispatch", json.dumps(BASIC), content_type="", HTTP_AUTHORIZATION=f"Api-Key {key}", CONTENT_TYPE=""
        )
    assert response.status_code == 415
    error = response.json()["error"]
    assert error["code"] == "unsupported_media_type"
    assert error["message"] == f"Send the body as JSON with Content-Type: application/json (this request had {says})."


@pytest.mark.parametrize(
    ("field", "value", "message_start"),
    [
        ("grade_band", ["elementary"], "Expected a string, got an array; allowed values: early_childhood,"),
        ("subject", 5, "Expected a string, got a number; allowed values: mathematics,"),
        ("region", {"name": "us_east"}, "Expected a string, got an object; allowed values: us_east,"),
        ("region", True, "Expected a string, got a boolean; allowed values: us_east,"),
        ("teacher_override", "yes", "Expected true or false, got a string."),
        ("teacher_override", 1, "Expected true or false, got a number."),
    ],
)
def test_wrong_types_are_described_in_json_words(key, field, value, message_start):
    body = {**BASIC, field: value}
    response = APIClient().post("/dispatch", body, format="json", HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert response.status_code == 400
    (message,) = response.json()["error"]["fields"][field]
    assert message.startswith(message_start)
    assert "[" not in message and "{" not in message and "'" not in message  # no Python repr


def test_override_text_fields_and_outcome_fields_say_the_json_type_too(key):
    body = {**BASIC, "teacher_override": True, "override_provider_id": ["anthropic-claude"], "teacher_id": 7}
    fields = (
        APIClient()
        .post("/dispatch", body, format="json", HTTP_AUTHORIZATION=f"Api-Key {key}")
        .json()["error"]["fields"]
    )
    assert fields == {
        "override_provider_id": ["Expected a string, got an array."],
        "teacher_id": ["Expected a string, got a number."],
    }
    outcome = {"success": "true", "latency_ms": 12.5, "input_tokens": "5"}
    response = APIClient().post(
        "/dispatch/550e8400-e29b-41d4-a716-446655440000/outcome",
        outcome,
        format="json",
        HTTP_AUTHORIZATION=f"Api-Key {key}",
    )
    fields = response.json()["error"]["fields"]
    assert fields["success"] == ["Expected true or false, got a string."]
    assert fields["latency_ms"][0].endswith("Got a fraction.")
    assert fields["input_tokens"][0].endswith("Got a string.")


def test_providers_name_means_the_display_name_in_both_lists_and_the_slug_is_slug(key):
    body = APIClient().get("/providers?region=eu_west", HTTP_AUTHORIZATION=f"Api-Key {key}").json()
    (available,) = body["providers"]
    assert (available["slug"], available["name"]) == ("local-eu-provider", "EU Sovereign LLM")
    by_slug = {entry["slug"]: entry for entry in body["unavailable"]}
    assert by_slug["openai-gpt4"]["name"] == "OpenAI GPT-4"
    assert by_slug["openai-gpt4"]["reason"] == "not_in_allowed_list"
    for entry in body["unavailable"]:
        assert entry["name"] != entry["slug"]


def test_explanations_name_providers_by_display_name_with_their_slug(key):
    api = APIClient()
    body = api.get(
        "/policies/validate?subject=mathematics&grade_band=elementary&region=eu_west",
        HTTP_AUTHORIZATION=f"Api-Key {key}",
    ).json()
    providers = [step for step in body["explanation"]["passed_over"] if step["kind"] == "provider"]
    assert providers and all(step["slug"] != step["name"] for step in providers)
    names = {step["slug"]: step["name"] for step in providers}
    assert names["anthropic-claude"] == "Anthropic Claude"
    policies = [step for step in body["explanation"]["passed_over"] if step["kind"] == "policy"]
    assert all("slug" not in step for step in policies)
    assert body["provider_name"] == "EU Sovereign LLM" and body["provider_slug"] == "local-eu-provider"


def test_the_schema_offers_api_keys_only():
    schema = Client().get("/schema", HTTP_ACCEPT="application/json").json()
    assert set(schema["components"]["securitySchemes"]) == {"ApiKeyAuth"}
    for path in schema["paths"].values():
        for operation in path.values():
            for requirement in operation.get("security", []):
                assert set(requirement) <= {"ApiKeyAuth"}
    passed_over = schema["components"]["schemas"]["PassedOver"]["properties"]
    assert "slug" in passed_over and "display name" in passed_over["name"]["description"]
