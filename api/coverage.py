"""GET /coverage: what every subject x grade band context resolves to, per region (for monitoring)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import serializers as s
from api.serializers import ERRORS
from policies.presentation import coverage_body
from policies.selectors import coverage_map


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
        return Response(coverage_body(coverage_map(region=query.validated_data.get("region"))))
