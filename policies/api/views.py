"""Thin API views: check the shape, call one service or the engine, render."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clients.auth import acting_client_id, client_ref, require_scope
from clients.throttling import client_hit, client_hit_settle
from policies.api import serializers as s
from policies.coverage import coverage_gaps, coverage_grid, coverage_regions
from policies.engine import DispatchContext, available_providers, resolve
from policies.presentation import explanation_dict
from policies.services import dispatch, request_fingerprint
from policies.snapshot import current_snapshot
from providers.vocabulary import Region
from teachers.services import override_submit

ERRORS = {
    400: OpenApiResponse(s.ErrorSerializer, description="Bad input: the fields at fault and what is allowed."),
    413: OpenApiResponse(s.ErrorSerializer, description="The body is larger than the limit."),
    415: OpenApiResponse(s.ErrorSerializer, description="The body is not JSON."),
}
# Every operation: the database is down or stalled (`database_unavailable`, with Retry-After).
UNAVAILABLE = {
    503: OpenApiResponse(
        s.ErrorSerializer, description="The database is unavailable; retry with the same request_id (Retry-After)."
    )
}


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
                description="Refused (no compliant provider, override refused) or request_id reused with another body.",
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
        body = s.DispatchRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data: dict[str, Any] = body.validated_data
        context = DispatchContext(data["subject"], data["grade_band"], data["region"])
        if data["teacher_override"]:  # the one override service, shared with the teacher form
            require_scope(request, "override")
            result = override_submit(
                teacher_id=data["teacher_id"],
                context=context,
                provider_ref=data["override_provider_id"],
                justification=data.get("override_reason", ""),
                request_id=request_id,
                client_ref=client_ref(request),
                acting_client_id=acting_client_id(request),  # only for the teachers it is authorised for
                fingerprint=request_fingerprint(data),
                client_hit=client_hit(request),
            )
        else:
            result = dispatch(
                context=context,
                request_id=request_id,
                client_ref=client_ref(request),
                fingerprint=request_fingerprint(data),
                client_hit=client_hit(request),
            )
        response = HttpResponse(result.body_json, status=result.status, content_type="application/json")
        response["Request-Id"] = result.request_id
        if result.replayed:
            response["Idempotent-Replayed"] = "true"
        return response

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        client_hit_settle(request)  # a request that ended before dispatch counted it is counted here
        return super().finalize_response(request, response, *args, **kwargs)


class ProvidersView(APIView):
    required_scope = "read"

    @extend_schema(
        operation_id="providers_list",
        summary="Providers that may serve a region (active and compliant), and the others with why not",
        parameters=[s.RegionQuerySerializer],
        responses={200: s.ProvidersResponseSerializer, 400: ERRORS[400], **UNAVAILABLE},
    )
    def get(self, request: Request) -> Response:
        query = s.RegionQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        region = query.validated_data["region"]
        snapshot = current_snapshot()
        available, unavailable = available_providers(snapshot, region)
        rule = snapshot.rules.get(region)
        return Response(
            {
                "region": region,
                "data_center": rule.data_center if rule else None,
                "providers": [
                    {
                        "id": p.id,
                        "slug": p.slug,
                        "name": p.name,
                        "endpoint_url": p.endpoint_url,
                        "hosting_regions": sorted(p.hosting_regions),
                        "compliance_frameworks": sorted(p.compliance_frameworks),
                        "rate_limits": {
                            "requests_per_minute": p.requests_per_minute,
                            "tokens_per_minute": p.tokens_per_minute,
                        },
                        "estimated_cost": {
                            "per_1k_input_tokens": p.cost_per_1k_input,
                            "per_1k_output_tokens": p.cost_per_1k_output,
                        },
                    }
                    for p in available
                ],
                "unavailable": [
                    {"kind": u.kind, "id": u.id, "name": u.name, "reason": u.reason, "detail": u.detail}
                    for u in unavailable
                ],
            }
        )


class ValidateView(APIView):
    required_scope = "read"

    @extend_schema(
        operation_id="policies_validate",
        summary="Whether a context resolves, to what, and what is wrong if not (writes no audit row)",
        parameters=[s.ValidateQuerySerializer],
        responses={200: s.ValidateResponseSerializer, 400: ERRORS[400], **UNAVAILABLE},
    )
    def get(self, request: Request) -> Response:
        query = s.ValidateQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        context = DispatchContext(**query.validated_data)
        decision = resolve(context, current_snapshot())
        problems = [decision.refusal_detail] if decision.refusal_code else []
        problems += [f"{step.kind} {step.name}: {step.detail}" for step in decision.passed_over]
        return Response(
            {
                "valid": decision.accepted,
                "subject": context.subject,
                "grade_band": context.grade_band,
                "region": context.region,
                "level": decision.level,
                "policy_id": decision.policy.id if decision.policy else None,
                "provider_id": decision.provider.id if decision.provider else None,
                "provider_slug": decision.provider.slug if decision.provider else None,
                "problems": problems,
                "explanation": explanation_dict(decision),
            }
        )


class CoverageView(APIView):
    required_scope = "read"

    @extend_schema(
        operation_id="coverage",
        summary="Coverage map: what every subject x grade band context resolves to, per region (for monitoring)",
        description=(
            "One cell per region x subject x grade band, resolved by the same engine as /dispatch. "
            "`gaps` counts contexts with no compliant provider. Without `region`, every region that has "
            "a routing rule; `unconfigured_regions` lists the others (they refuse everything)."
        ),
        parameters=[s.CoverageQuerySerializer],
        responses={200: s.CoverageResponseSerializer, 400: ERRORS[400]},
    )
    def get(self, request: Request) -> Response:
        query = s.CoverageQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        snapshot = current_snapshot()
        regions = coverage_regions(snapshot, query.validated_data.get("region"))
        cells = coverage_grid(snapshot, regions=regions)
        return Response(
            {
                "regions": regions,
                "unconfigured_regions": [r for r in Region.values if r not in snapshot.rules],
                "contexts": len(cells),
                "gaps": len(coverage_gaps(cells)),
                "snapshot_version": snapshot.version,
                "cells": [cell.as_dict() for cell in cells],
            }
        )
