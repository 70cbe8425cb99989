"""POST /dispatch: decide which provider may serve an LLM call, and audit it (once per request id).

Thin: checks the body's shape, then calls the one dispatch service (`policies.services.dispatch`),
or, for a teacher override, the one override service the teacher form also calls
(`teachers.services.override_submit`). The stored response bytes are returned as they are.
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
from api.dispatch_body import dispatch_request_data
from api.serializers import ERRORS, UNAVAILABLE
from policies.engine import DispatchContext
from policies.services import dispatch, request_fingerprint
from teachers.services import override_submit


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
        override = data["teacher_override"]
        caller = request_caller(request, scope="override" if override else None)
        if override:  # the one override service, shared with the teacher form
            result = override_submit(
                teacher_id=data["teacher_id"],
                context=context,
                provider_ref=data["override_provider_id"],
                justification=data.get("override_reason", ""),
                request_id=request_id,
                client_ref=caller.client_ref,
                acting_client_id=caller.acting_client_id,  # only for the teachers it is authorised for
                fingerprint=request_fingerprint(data),
                client_hit=caller.client_hit,
                budget=caller.budget,
            )
        else:
            result = dispatch(
                context=context,
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
