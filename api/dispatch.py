"""POST /dispatch: decide which provider may serve an LLM call, and audit it (once per request id).

Thin: checks the body's shape, turns a teacher override into the request the engine judges
(`teachers.services.override_request`, as the teacher form does), then calls the one dispatch
service (`policies.services.dispatch`). The stored response bytes are returned as they are.

The body's validated data comes without building DRF's serializer for the common body:
`DispatchRequestSerializer` stays the one definition of the body (the OpenAPI schema and every
error message come from it), but building it costs a deep copy of its seven fields on every
request, more CPU than resolving the dispatch (issue 14, cProfile of the in-process call). So a
plain dispatch body (the three context codes, `teacher_override` absent or false, nothing else)
whose codes are exact, known strings is accepted here with the same validated data the serializer
would give; every other body (an override, anything wrong or unusual) goes to the serializer, so
every error is the serializer's own. `api/tests/test_dispatch_body.py` compares the two over
generated bodies.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from api import serializers as s
from api.access import client_hit_settle, request_caller
from api.serializers import ERRORS, UNAVAILABLE, DispatchRequestSerializer
from policies.engine import DispatchContext, OverrideRequest
from policies.services import dispatch, request_fingerprint
from teachers.services import override_request
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


def _request_id(query: dict[str, str]) -> uuid.UUID | None:
    """The optional `request_id` query parameter. The common shapes (none, or one valid UUID) skip
    building a serializer, which cost more than resolving; anything else gets its exact errors."""
    if not query:
        return None
    if query.keys() == {"request_id"}:
        try:
            return uuid.UUID(hex=query["request_id"])  # what DRF's UUIDField accepts from text
        except ValueError:
            pass
    serializer = s.RequestIdSerializer(data=query)
    serializer.is_valid(raise_exception=True)
    request_id: uuid.UUID | None = serializer.validated_data.get("request_id")
    return request_id


class DispatchView(APIView):
    required_scope = "dispatch"  # API-client scope this endpoint needs (enforced by access control)
    defers_client_hit = True  # the client's rate is counted with the provider reservation (one round trip)

    @extend_schema(
        operation_id="dispatch",
        summary="Decide which provider may serve an LLM call",
        parameters=[
            OpenApiParameter(
                "request_id",
                OpenApiTypes.UUID,
                description="UUID making the call idempotent; generated when missing.",
                required=False,
            )
        ],
        request=s.DispatchRequestSerializer,
        responses={
            200: s.DecisionSerializer,
            409: OpenApiResponse(
                s.ErrorSerializer, description="Replay of a decision whose provider is no longer compliant."
            ),
            422: OpenApiResponse(
                s.UnprocessableSerializer,
                description="Refused (no compliant provider, override refused, `budget_exhausted`: the client's "
                "budget is spent and it refuses) or request_id reused with another body.",
            ),
            500: OpenApiResponse(
                s.ErrorSerializer,
                description="`audit_row_tampered`: the stored decision of a replay failed its integrity check "
                "(changed behind the service's back); it is never served. Send a new request_id.",
            ),
            **ERRORS,
            **UNAVAILABLE,
        },
        examples=[
            OpenApiExample(
                "Basic dispatch",
                value={"subject": "mathematics", "grade_band": "elementary", "region": "us_east"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> HttpResponse:
        request_id = _request_id(request.query_params.dict())
        data = dispatch_request_data(request.data)  # the serializer's answer, without its cost for a plain body
        context = DispatchContext(data["subject"], data["grade_band"], data["region"])
        caller = request_caller(request, scope="override" if data["teacher_override"] else None)
        override: OverrideRequest | None = None
        if data["teacher_override"]:  # who it is for and whether this client may act for them, as the form asks
            override = override_request(
                teacher_id=data["teacher_id"],
                provider_ref=data["override_provider_id"],
                justification=data.get("override_reason", ""),
                acting_client_id=caller.acting_client_id,  # only for the teachers it is authorised for
            )
        result = dispatch(
            context=context,
            override=override,
            request_id=request_id,
            client_ref=caller.client_ref,
            fingerprint=request_fingerprint(data),
            client_hit=caller.client_hit,
            budget=caller.budget,
        )
        response = HttpResponse(result.body_json, status=result.status, content_type="application/json")
        response["Request-Id"] = result.request_id
        if result.replayed:
            response["Idempotent-Replayed"] = "true"
        return response

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        client_hit_settle(request)  # a request that ended before dispatch counted it is counted here
        return super().finalize_response(request, response, *args, **kwargs)
