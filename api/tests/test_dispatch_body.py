"""The dispatch body's fast path gives up nothing: over generated bodies, good and bad, it answers
exactly as `DispatchRequestSerializer` does (the same validated data, the same errors, codes
included), and through the API the same 400 bodies; the OpenAPI schema still comes from the
serializer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from api.dispatch import _plain, dispatch_request_data
from api.errors import _flatten
from api.serializers import DispatchRequestSerializer
from common.errors import error_body
from vocabulary import GradeBand, Region, Subject

FIELDS = sorted(DispatchRequestSerializer().fields)
CODES = {"subject": Subject.values, "grade_band": GradeBand.values, "region": Region.values}


def _near(values: list[str]) -> st.SearchStrategy[Any]:
    """A code, or one almost like it (case, spaces, a prefix), or another JSON type."""
    return st.one_of(
        st.sampled_from(values),
        st.sampled_from(values).map(str.upper),
        st.sampled_from(values).map(lambda v: f" {v}"),
        st.sampled_from(values).map(lambda v: v[:-1]),
        st.sampled_from(sorted(set(Subject.values) | set(GradeBand.values) | set(Region.values))),
        JSON_SCALARS,
    )


JSON_SCALARS: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-2, max_value=2),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=6),
    st.just(""),
    st.just("\x00"),
    st.lists(st.integers(min_value=0, max_value=1), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(min_value=0, max_value=1), max_size=1),
)


@st.composite
def bodies(draw: st.DrawFn) -> Any:
    """Mostly near-valid dispatch bodies: each context field kept, dropped or changed; optional
    teacher_override (true, false or another type), override fields, unknown keys; rarely not a dict."""
    if draw(st.integers(min_value=0, max_value=30)) == 0:
        return draw(st.one_of(JSON_SCALARS, st.lists(st.just({}), max_size=1)))
    body: dict[str, Any] = {}
    for name, values in CODES.items():
        how = draw(st.sampled_from(["valid", "valid", "valid", "near", "absent"]))
        if how == "valid":
            body[name] = draw(st.sampled_from(values))
        elif how == "near":
            body[name] = draw(_near(values))
    flag = draw(st.sampled_from(["absent", "absent", "false", "true", "other"]))
    if flag != "absent":
        body["teacher_override"] = {"false": False, "true": True}.get(flag) if flag != "other" else draw(JSON_SCALARS)
    for name in ("override_provider_id", "override_reason", "teacher_id"):
        if draw(st.integers(min_value=0, max_value=3)) == 0:
            body[name] = draw(st.one_of(st.sampled_from(["openai-gpt4", "T-1", "why"]), JSON_SCALARS))
    if draw(st.integers(min_value=0, max_value=5)) == 0:
        body[draw(st.sampled_from(["extra", "Subject", "subject ", "request_id"]))] = draw(JSON_SCALARS)
    return body


def serializer_answer(data: Any) -> tuple[str, Any]:
    serializer = DispatchRequestSerializer(data=data)
    if serializer.is_valid():
        return "valid", dict(serializer.validated_data)
    return "invalid", serializer.errors


def fast_answer(data: Any) -> tuple[str, Any]:
    try:
        return "valid", dict(dispatch_request_data(data))
    except ValidationError as exc:
        return "invalid", exc.detail


def _coded(detail: Any) -> Any:
    """Error details with their codes, so equal answers mean equal messages and equal codes."""
    if isinstance(detail, dict):
        return {key: _coded(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_coded(item) for item in detail]
    return (str(detail), getattr(detail, "code", None))


@settings(max_examples=500, deadline=None)
@given(bodies())
def test_the_fast_path_answers_every_body_as_the_serializer_does(data):
    fast, slow = fast_answer(data), serializer_answer(data)
    assert fast[0] == slow[0], (data, fast, slow)
    assert _coded(fast[1]) == _coded(slow[1]), data


@settings(max_examples=500, deadline=None)
@given(bodies())
def test_the_fast_path_accepts_only_bodies_the_serializer_accepts_with_the_same_data(data):
    plain = _plain(data)
    if plain is not None:
        assert serializer_answer(data) == ("valid", plain)


def test_the_fast_path_takes_every_plain_valid_body():
    """Not vacuous: every valid context, with teacher_override absent or false, takes it."""
    taken = 0
    for subject in Subject.values:
        for grade_band in GradeBand.values:
            for region in Region.values:
                body = {"subject": subject, "grade_band": grade_band, "region": region}
                for data in (body, {**body, "teacher_override": False}):
                    assert _plain(data) == serializer_answer(data)[1]
                    taken += 1
    assert taken == 2 * len(Subject.values) * len(GradeBand.values) * len(Region.values)


def test_the_fast_path_knows_every_field_of_the_serializer():
    """A field added to the serializer must be thought about here (the fast path would refuse
    nothing new, but it must not accept a body the serializer now treats differently)."""
    known = ["grade_band", "override_provider_id", "override_reason", "region", "subject", "teacher_id"]
    assert [*known, "teacher_override"] == FIELDS
    fields = DispatchRequestSerializer().fields
    for name, values in CODES.items():
        choices: dict[str, str] = fields[name].choices  # type: ignore[attr-defined]
        assert sorted(str(key) for key in choices) == sorted(values)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=bodies())
def test_the_api_answers_bad_bodies_with_the_serializers_errors(keyed_api, data):
    from audit.models import DispatchLog

    kind, errors = serializer_answer(data)
    if kind == "valid" or not isinstance(data, dict):
        return  # decided and audited (test_dispatch_api); not an object: the parser's 400 (test_hostile_bodies)
    response = keyed_api.generic("POST", "/dispatch", json.dumps(data), content_type="application/json")
    assert response.status_code == 400
    detail = errors if isinstance(errors, dict) else {"non_field_errors": errors}
    fields = _flatten(detail)
    assert response.json() == error_body("invalid_input", f"Invalid input in: {', '.join(sorted(fields))}.", fields)
    assert not DispatchLog.objects.exists()


@pytest.mark.django_db
def test_the_schema_of_the_body_is_still_the_serializers(keyed_api):
    schema = keyed_api.get("/schema", HTTP_ACCEPT="application/json").json()
    body = schema["paths"]["/dispatch"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/DispatchRequest"}
    component = schema["components"]["schemas"]["DispatchRequest"]
    assert sorted(component["properties"]) == FIELDS
    assert sorted(component["required"]) == sorted(CODES)
