"""Hostile request bodies get a 4xx JSON error naming the problem, never a 500 or an HTML page
(issue 12, finding 7a and 7b), on POST /dispatch and on the outcome endpoint."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings

from api.parsers import MAX_JSON_DEPTH
from api.testing import keyed_api
from authoring.demo import demo_world_load

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    demo_world_load()
    client = keyed_api()[0]
    client.raise_request_exception = False  # what a real client sees: the response, not the exception
    return client


def paths(api) -> list[str]:
    rid = str(uuid.uuid4())
    accepted = api.post(
        f"/dispatch?request_id={rid}",
        {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"},
        format="json",
    )
    assert accepted.status_code == 200
    return ["/dispatch", f"/dispatch/{rid}/outcome"]


@pytest.mark.parametrize("depth", [5_000, MAX_JSON_DEPTH + 1])  # 10 KB, past the decoder's recursion; just over
def test_a_deeply_nested_body_is_a_400_naming_the_nesting(api, depth):
    body = '{"subject": ' + "[" * depth + "]" * depth + "}"
    assert len(body) <= settings.DISPATCH_MAX_BODY_BYTES
    for path in paths(api):
        response = api.generic("POST", path, body, content_type="application/json")
        assert response.status_code == 400, (path, response.content[:200])
        error = response.json()["error"]
        assert error["code"] == "parse_error"
        assert f"more than {MAX_JSON_DEPTH} levels deep" in error["message"]


def test_an_out_of_range_number_is_a_400_not_infinity(api):
    for path in paths(api):
        response = api.generic("POST", path, '{"latency_ms": 1e400, "success": true}', content_type="application/json")
        assert response.status_code == 400
        assert "out of range" in response.json()["error"]["message"]


def test_a_body_over_djangos_upload_limit_is_the_json_413(api):
    body = '{"subject": "' + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10) + '"}'
    for path in paths(api):
        response = api.generic("POST", path, body, content_type="application/json")
        assert response.status_code == 413, (path, response.content[:200])
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"] == {
            "code": "payload_too_large",
            "message": f"The request body is larger than {settings.DISPATCH_MAX_BODY_BYTES} bytes.",
        }
