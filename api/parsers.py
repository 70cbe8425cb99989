"""The API's JSON parser: a size cap, and strict JSON (no NaN/Infinity, an object at the top,
nesting at most MAX_JSON_DEPTH deep).

Whatever the body, parsing ends in the data or a 400/413 naming the problem, never a 500: a
body nested too deep for the decoder (RecursionError) is a 400 like any other malformed body.
Bodies over Django's DATA_UPLOAD_MAX_MEMORY_SIZE never reach this parser (Django refuses to read
them); the API's exception handler answers those with the same 413 as `PayloadTooLarge`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

# The API's bodies are flat objects; 32 levels leaves room for any client and none for a bomb.
MAX_JSON_DEPTH = 32


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


def payload_too_large() -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than {settings.DISPATCH_MAX_BODY_BYTES} bytes.")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 decodes to inf: as invalid here as the literal Infinity
        raise ValueError(f"the number {text[:32]} is out of range")
    return value


def _too_deep(data: Any) -> bool:
    """Whether `data` nests lists/objects deeper than MAX_JSON_DEPTH (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class StrictJSONParser(JSONParser):
    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        limit = settings.DISPATCH_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise payload_too_large()
        too_deep = ParseError(f"The body nests arrays or objects more than {MAX_JSON_DEPTH} levels deep.")
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float)
        except RecursionError:
            raise too_deep from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"The body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ParseError("The body must be a JSON object.")
        if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _too_deep(data):  # cheap test first
            raise too_deep
        return data
