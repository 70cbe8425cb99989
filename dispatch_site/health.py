"""Health endpoints for load balancers: /healthz (process alive), /readyz (can serve: DB, Redis)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse

from common.outage import outage_active

logger = logging.getLogger("dispatch.health")


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    if outage_active():  # this worker already knows (and re-checks every DB_OUTAGE_HOLD_SECONDS)
        checks["database"] = "unavailable"
    else:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            checks["database"] = "ok"
        except Exception as exc:  # any driver or pool error means "not ready"
            logger.warning("readyz: database unavailable: %s", exc)
            checks["database"] = "unavailable"
    if settings.REDIS_URL:
        try:
            client = cache.client.get_client()  # type: ignore[attr-defined]
            client.ping()
            checks["redis"] = "ok"
        except Exception as exc:  # Redis down degrades rate limits only; reported, not fatal
            logger.warning("readyz: redis unavailable: %s", exc)
            checks["redis"] = "degraded"
    ready = checks["database"] == "ok"
    return JsonResponse({"status": "ready" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
