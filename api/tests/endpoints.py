"""Every DRF API view the URLconf routes to, found by walking the resolver (so endpoints added
later are covered by the access tests without listing them here)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.views import APIView

PUBLIC = (SpectacularAPIView, SpectacularSwaggerView)
SAMPLE = {"uuid": str(uuid.UUID(int=1)), "int": "1", "slug": "x", "str": "x", "path": "x"}


@dataclass(frozen=True)
class Endpoint:
    path: str
    method: str
    view: type[APIView]

    @property
    def scope(self) -> str | None:
        return getattr(self.view, "required_scope", None)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _walk(patterns: list, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def _sample_path(route: str) -> str:
    route = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE.get(m.group(1) or "str", "x"), route)
    return "/" + route.lstrip("^").rstrip("$")


def api_endpoints() -> list[Endpoint]:
    found = []
    for route, callback in _walk(get_resolver().url_patterns):
        view = getattr(callback, "cls", None)
        if not (isinstance(view, type) and issubclass(view, APIView)) or issubclass(view, PUBLIC):
            continue
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(view, method):
                found.append(Endpoint(_sample_path(route), method.upper(), view))
    return sorted(found, key=str)
