"""POST /dispatch/{request_id}/outcome: how the LLM call of an accepted dispatch went (once per request).

Thin: checks the body's shape and calls the one outcome service (`audit.services.outcome_report`)."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import audit_serializers as s
from api.access import client_ref
from api.serializers import error_response
from audit.services import OutcomeReport, OutcomeResult, outcome_report
from audit.spend import SpendBudget
from clients.keys import ClientPrincipal
from policies.services import request_fingerprint


def _outcome_body(result: OutcomeResult) -> dict[str, Any]:
    o = result.outcome
    return {
        "request_id": result.request_id,
        "provider_id": str(o.provider_id),
        "success": o.success,
        "latency_ms": o.latency_ms,
        "input_tokens": o.input_tokens,
        "output_tokens": o.output_tokens,
        "error_code": o.error_code,
        "cost": float(o.cost),
        "reported_at": o.reported_at.isoformat().replace("+00:00", "Z"),
    }


class OutcomeView(APIView):
    required_scope = "outcome"  # API-client scope this endpoint needs (enforced by access control)

    @extend_schema(
        operation_id="dispatch_outcome",
        summary="Report how the LLM call of an accepted dispatch went (once per request)",
        parameters=[
            OpenApiParameter("request_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The dispatch's UUID.")
        ],
        request=s.OutcomeRequestSerializer,
        responses={
            201: s.OutcomeSerializer,
            200: OpenApiResponse(s.OutcomeSerializer, description="Replay of the same report: the stored outcome."),
            400: error_response("Bad input: the fields at fault and what is allowed."),
            404: error_response("No dispatch with this request_id for the calling client."),
            409: error_response("The dispatch was refused, or an outcome with other values was already reported."),
            413: error_response("The body is larger than the limit."),
            415: error_response("The body is not JSON."),
            503: error_response("The database is unavailable; retry with the same request_id (Retry-After)."),
        },
        examples=[
            OpenApiExample(
                "Successful call",
                value={"success": True, "latency_ms": 840, "input_tokens": 512, "output_tokens": 230},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request, request_id: str) -> Response:
        try:
            rid = uuid.UUID(request_id)
        except ValueError:
            raise serializers.ValidationError(
                {"request_id": ["Must be a UUID, e.g. 550e8400-e29b-41d4-a716-446655440000."]}
            ) from None
        body = s.OutcomeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data: dict[str, Any] = body.validated_data
        user = request.user
        terms = user.budget if isinstance(user, ClientPrincipal) else None
        result = outcome_report(
            client_ref=client_ref(request),  # a client reports (and replays) its own dispatches only
            request_id=rid,
            report=OutcomeReport(**data),
            fingerprint=request_fingerprint(data),
            budget=SpendBudget(terms.amount, terms.period) if terms is not None else None,  # its 80 % / 100 % alerts
        )
        response = Response(_outcome_body(result), status=201 if result.created else 200)
        if not result.created:
            response["Idempotent-Replayed"] = "true"
        return response
