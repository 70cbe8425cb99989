"""GET /analytics: dispatch and outcome figures for the last `days` UTC days (one selector, rendered)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import audit_serializers as s
from api.serializers import error_response
from audit.selectors import analytics


class AnalyticsView(APIView):
    required_scope = "analytics"

    @extend_schema(
        operation_id="analytics",
        summary="Dispatch and outcome analytics for the last `days` UTC days, optionally for one region",
        parameters=[s.AnalyticsQuerySerializer],
        responses={
            200: s.AnalyticsSerializer,
            400: error_response("Unknown region, days outside 1-365, unknown parameter."),
            503: error_response("The database is unavailable; retry shortly (Retry-After)."),
        },
    )
    def get(self, request: Request) -> Response:
        query = s.AnalyticsQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        return Response(analytics(region=query.validated_data.get("region"), days=query.validated_data["days"]))
