"""JSON types are not coerced (found by schemathesis): 0 is not false, 123 is not a teacher id."""

from __future__ import annotations

import pytest

from audit.models import DispatchLog
from authoring.demo import demo_world_load

pytestmark = pytest.mark.django_db
BASIC = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}
OVERRIDE = {**BASIC, "teacher_override": True, "override_provider_id": "anthropic-claude"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BASIC, "teacher_override": 0}, "teacher_override"),
        ({**BASIC, "teacher_override": "true"}, "teacher_override"),
        ({**OVERRIDE, "override_provider_id": 7}, "override_provider_id"),
        ({**OVERRIDE, "teacher_id": 123}, "teacher_id"),
        ({**OVERRIDE, "override_reason": 1.5}, "override_reason"),
        ({**OVERRIDE, "teacher_id": ""}, "teacher_id"),
    ],
)
def test_wrong_json_types_are_400_naming_the_field(keyed_api, body, field):
    demo_world_load()
    response = keyed_api.post("/dispatch", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert DispatchLog.objects.count() == 0


def test_the_schema_declares_unknown_fields_refused(keyed_api):
    schema = keyed_api.get("/schema", HTTP_ACCEPT="application/json").json()
    assert schema["components"]["schemas"]["DispatchRequest"]["additionalProperties"] is False
    assert schema["paths"]["/dispatch"]["post"]["parameters"][0]["schema"] == {"type": "string", "format": "uuid"}
