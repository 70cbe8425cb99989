"""Content negotiation without the parsing for what nearly every API call sends.

DRF's `DefaultContentNegotiation` parses the Accept header and compares media types on every
request. An endpoint with the JSON renderer alone, asked with no Accept header, `*/*` or
`application/json` and no `?format=`, always gets the JSON renderer and `application/json` from
it: this answers that case at once and hands every other one to DRF (so a 406, or another
renderer of the schema endpoint, is exactly DRF's). Likewise for the parser of a body sent as
`application/json`. `api/tests/test_negotiation.py` compares them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request

_PLAIN_ACCEPT = frozenset({"*/*", "application/json"})


class JsonFirstNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str] | Any:
        renderers = renderers if isinstance(renderers, list) else list(renderers)  # DRF passes a list
        if (
            len(renderers) == 1
            and type(renderers[0]) is JSONRenderer
            and format_suffix is None
            and request.META.get("HTTP_ACCEPT", "*/*") in _PLAIN_ACCEPT
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], JSONRenderer.media_type
        return super().select_renderer(request, renderers, format_suffix)

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        """DRF's first parser whose media type matches; a body sent as exactly the one parser's
        media type (what every client sends) matches it without parsing the header."""
        parsers = parsers if isinstance(parsers, list) else list(parsers)  # DRF passes a list
        if len(parsers) == 1 and request.content_type == parsers[0].media_type:
            return parsers[0]
        return super().select_parser(request, parsers)
