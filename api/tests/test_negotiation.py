"""The API's content negotiation answers every request as DRF's default does: the same renderer and
media type, or the same 404/406; it only skips DRF's parsing where the answer cannot differ."""

from __future__ import annotations

import itertools

import pytest
from django.http import Http404
from rest_framework.exceptions import APIException
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from api.negotiation import JsonFirstNegotiation
from api.parsers import StrictJSONParser

ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "application/json; indent=4",
    "application/*",
    "text/html",
    "text/html, */*;q=0.1",
    "application/xml",
    "application/vnd.oai.openapi",
    "",
    "APPLICATION/JSON",
]
QUERIES = ["", "request_id=1", "format=json", "format=api", "format=xml"]
RENDERER_SETS = [[JSONRenderer()], [JSONRenderer(), BrowsableAPIRenderer()], [BrowsableAPIRenderer(), JSONRenderer()]]


def answer(negotiation: DefaultContentNegotiation, request: Request, renderers, suffix) -> tuple:
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers, suffix)
    except (APIException, Http404) as exc:
        return ("error", type(exc), str(exc))
    return (type(renderer), media_type)


@pytest.mark.parametrize(
    ("accept", "query", "renderers", "suffix"),
    list(itertools.product(ACCEPTS, QUERIES, RENDERER_SETS, [None, "json", "api"])),
)
def test_the_same_renderer_and_media_type_as_drfs_negotiation(accept, query, renderers, suffix):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().post(f"/dispatch?{query}", **headers))
    assert answer(JsonFirstNegotiation(), request, renderers, suffix) == answer(
        DefaultContentNegotiation(), request, renderers, suffix
    )


def test_the_api_uses_it(settings):
    from rest_framework.settings import api_settings

    assert api_settings.DEFAULT_CONTENT_NEGOTIATION_CLASS is JsonFirstNegotiation


CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
]
PARSER_SETS = [[StrictJSONParser()], [JSONParser()], [FormParser(), StrictJSONParser()], []]


@pytest.mark.parametrize(("content_type", "parsers"), list(itertools.product(CONTENT_TYPES, PARSER_SETS)))
def test_the_same_parser_as_drfs_negotiation(content_type, parsers):
    request = Request(APIRequestFactory().generic("POST", "/dispatch", "{}", content_type=content_type))
    assert JsonFirstNegotiation().select_parser(request, parsers) is DefaultContentNegotiation().select_parser(
        request, parsers
    )
