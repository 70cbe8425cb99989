"""The floor's one view: DRF validates three choices, Django inserts one row, DRF renders ~1 KB of JSON.

Deliberately the stock way, as a bare DRF project would write it: a `Serializer` built per request,
`Model.objects.create(...)`, a `Response` rendered by the JSON renderer. Making this faster would
lower the floor the product is measured against; it stays plain.
"""

from __future__ import annotations

import uuid

from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.floor.models import FloorRow
from bench.floor.vocabulary import GRADE_BANDS, REGIONS, SUBJECTS

# About 100 bytes of JSON in the row, and a response body of about 1 KB with the row's fields.
DETAIL = {"moderation_threshold": 0.8, "max_tokens": 1024, "templates": ["tutor-socratic", "hint-ladder"]}
TEMPLATES = [
    {
        "slug": f"template-{n}",
        "title": f"Prompt template number {n} for the floor",
        "version": n,
        "moderation_threshold": 0.8,
        "locale": "en",
    }
    for n in range(1, 6)
]


class FloorRequestSerializer(serializers.Serializer):
    subject = serializers.ChoiceField(choices=SUBJECTS)
    grade_band = serializers.ChoiceField(choices=GRADE_BANDS)
    region = serializers.ChoiceField(choices=REGIONS)


class FloorView(APIView):
    def post(self, request: Request) -> Response:
        body = FloorRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        row = FloorRow.objects.create(
            request_id=uuid.uuid4(),
            created_at=timezone.now(),
            subject=body.validated_data["subject"],
            grade_band=body.validated_data["grade_band"],
            region=body.validated_data["region"],
            provider="floor-provider",
            model_name="floor-model-1",
            priority=100,
            accepted=True,
            detail=DETAIL,
        )
        return Response(
            {
                "request_id": row.request_id,
                "created_at": row.created_at,
                "subject": row.subject,
                "grade_band": row.grade_band,
                "region": row.region,
                "provider": row.provider,
                "model_name": row.model_name,
                "priority": row.priority,
                "accepted": row.accepted,
                "detail": row.detail,
                "templates": TEMPLATES,
            }
        )
