"""GET /providers?region=&grade_band=: the providers that may serve a region for a grade band (without
one, the youngest band), and the others with why not.
GET /providers/health: every provider's health (providers.health)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import serializers as s
from api.serializers import ERRORS, UNAVAILABLE
from policies.presentation import provider_health_body, region_providers_body
from policies.selectors import providers_available
from providers.health.selectors import provider_health_list


class ProvidersView(APIView):
    required_scope = "read"

    @extend_schema(
        operation_id="providers_list",
        summary="Providers that may serve a region for a grade band (active and compliant; without a band, for "
        "the youngest band), and the others with why not",
        parameters=[s.ProvidersQuerySerializer],
        responses={200: s.ProvidersResponseSerializer, 400: ERRORS[400], **UNAVAILABLE},
    )
    def get(self, request: Request) -> Response:
        query = s.ProvidersQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        data = query.validated_data
        return Response(
            region_providers_body(providers_available(region=data["region"], grade_band=data.get("grade_band", "")))
        )


class ProvidersHealthView(APIView):
    required_scope = "read"

    @extend_schema(
        operation_id="providers_health",
        summary="Every provider's health: healthy, cooling_down (with when it will be probed) or probing",
        responses={200: s.ProvidersHealthResponseSerializer, **UNAVAILABLE},
    )
    def get(self, request: Request) -> Response:
        rows, shared = provider_health_list()
        return Response(provider_health_body(rows, shared=shared))
