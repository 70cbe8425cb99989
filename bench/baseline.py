"""The bench's floor: validate the dispatch body with DRF and insert one audit row of the same width.

Mounted at /bench/baseline by the bench's own URLconf (bench/urls.py, under bench/settings.py);
the product's URLs never include it. It does no resolution, fingerprint or snapshot work, so
dispatch's cost above it is what the service adds to an audited write.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from api.serializers import DispatchRequestSerializer
from audit.models import DispatchLog, Outcome
from audit.services import dispatch_log_insert
from policies.models import DispatchPolicy

BASELINE_FINGERPRINT = "0" * 64
_reference: dict[str, Any] = {}


def _reference_row() -> dict[str, Any]:
    """Read once per process: a real (policy, provider) pair, so the row has the same foreign keys.
    The response width is the mean dispatch response width the bench measured (BENCH_BASELINE_WIDTH)."""
    if not _reference:
        policy = DispatchPolicy.objects.filter(is_active=True).values("id", "primary_provider_id").first()
        if policy is None:
            raise RuntimeError("the bench baseline needs at least one active policy")
        _reference.update(policy, width=getattr(settings, "BENCH_BASELINE_WIDTH", 1500))  # set by bench/settings.py
    return _reference


class BaselineView(APIView):
    # The floor is parsing, validation and the INSERT: no authentication, permission or throttle,
    # whatever the project's DRF defaults say (what those cost is part of dispatch's measured cost).
    authentication_classes: tuple[type, ...] = ()
    permission_classes = (AllowAny,)
    throttle_classes: tuple[type, ...] = ()

    def post(self, request: Request) -> HttpResponse:
        body = DispatchRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        raw_id = request.query_params.get("request_id")
        request_id = uuid.UUID(raw_id) if raw_id else uuid.uuid4()
        reference = _reference_row()
        text = json.dumps({"request_id": str(request_id), **data}, separators=(",", ":"))
        response = text[:-1] + ',"pad":"' + "x" * max(0, reference["width"] - len(text) - 9) + '"}'
        log = DispatchLog(
            request_id=request_id,
            created_at=timezone.now(),
            fingerprint=BASELINE_FINGERPRINT,
            subject=data["subject"],
            grade_band=data["grade_band"],
            region=data["region"],
            outcome=Outcome.ACCEPTED,
            status_code=200,
            level="exact",
            policy_id=reference["id"],
            provider_id=reference["primary_provider_id"],
            response=response,
        )
        dispatch_log_insert(log=log)  # signed, one INSERT, as dispatch writes its rows
        return HttpResponse(response, content_type="application/json")
