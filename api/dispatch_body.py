"""The dispatch body's validated data, without building DRF's serializer for the common body.

`DispatchRequestSerializer` stays the one definition of the body (the OpenAPI schema and every
error message come from it). Building it costs a deep copy of its seven fields on every request,
more CPU than resolving the dispatch (issue 14, cProfile of the in-process call). So a plain
dispatch body (the three context codes, `teacher_override` absent or false, nothing else) whose
codes are exact, known strings is accepted here with the same validated data the serializer would
give; every other body (an override, anything wrong or unusual) goes to the serializer, so every
error is the serializer's own. `api/tests/test_dispatch_body.py` compares the two over generated
bodies.
"""

from __future__ import annotations

from typing import Any

from api.serializers import DispatchRequestSerializer
from vocabulary import GradeBand, Region, Subject

_SUBJECTS = frozenset(Subject.values)
_GRADE_BANDS = frozenset(GradeBand.values)
_REGIONS = frozenset(Region.values)
_CONTEXT = frozenset({"subject", "grade_band", "region"})
_CONTEXT_AND_FLAG = _CONTEXT | {"teacher_override"}


def _plain(data: Any) -> dict[str, Any] | None:
    """The validated data of a valid plain dispatch body, else None (the serializer decides)."""
    if type(data) is not dict:
        return None
    keys = data.keys()
    if keys != _CONTEXT and not (keys == _CONTEXT_AND_FLAG and data["teacher_override"] is False):
        return None
    subject, grade_band, region = data["subject"], data["grade_band"], data["region"]
    if (
        type(subject) is str
        and type(grade_band) is str
        and type(region) is str
        and subject in _SUBJECTS
        and grade_band in _GRADE_BANDS
        and region in _REGIONS
    ):
        return {"subject": subject, "grade_band": grade_band, "region": region, "teacher_override": False}
    return None


def dispatch_request_data(data: Any) -> dict[str, Any]:
    """`DispatchRequestSerializer(data=data)`'s validated data, or its ValidationError (a 400)."""
    plain = _plain(data)
    if plain is not None:
        return plain
    serializer = DispatchRequestSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    validated: dict[str, Any] = serializer.validated_data
    return validated
