"""GET /policies/validate: whether a context resolves, to what, and what is wrong if not (no audit row)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import serializers as s
from api.serializers import ERRORS, UNAVAILABLE
from policies.engine import DispatchContext
from policies.presentation import validation_body
from policies.selectors import decision_preview


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
        preview = decision_preview(context=DispatchContext(**query.validated_data))
        return Response(validation_body(preview.decision))
