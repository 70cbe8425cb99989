"""Deployment checks (`manage.py check --deploy`) for what the audit app serves: /metrics.

Under DJANGO_ENV=production /metrics is refused until METRICS_TOKEN is set, so a missing token
is a warning (the metrics are silently unavailable), as is a token too short to resist guessing.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

METRICS_TOKEN_MIN_LENGTH = 24


@register(Tags.security, deploy=True)
def metrics_token_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    token = settings.METRICS_TOKEN
    if not token:
        return [
            Warning(
                "METRICS_TOKEN is not set: /metrics is refused (403) under DJANGO_ENV=production.",
                hint="Set METRICS_TOKEN to a long random value and give it to Prometheus as a bearer token.",
                id="audit.W001",
            )
        ]
    if len(token) < METRICS_TOKEN_MIN_LENGTH:
        return [
            Warning(
                f"METRICS_TOKEN is shorter than {METRICS_TOKEN_MIN_LENGTH} characters.",
                hint="Use a long random value, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'.",
                id="audit.W002",
            )
        ]
    return []
