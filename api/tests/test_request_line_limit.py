"""The 414 the schema declares on every operation is what the served API answers: gunicorn refuses
a request line over its limit before the application, and serves one under it."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from django.db import connection

from api.schema import REQUEST_LINE_LIMIT
from clients.services import api_client_create
from dispatch_site.tests.servers import gunicorn_workers

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def get(url: str, key: str) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Api-Key {key}"})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.headers["Content-Type"], refused.read().decode()


def test_a_request_line_over_the_limit_is_the_servers_414_and_one_under_it_reaches_the_api(
    require_postgres, require_redis, settings, tmp_path
):
    _, key = api_client_create(name="long-queries", scopes=["analytics"])
    with gunicorn_workers(
        database=connection.settings_dict, redis_url=settings.REDIS_URL, log_path=tmp_path / "gunicorn.log", workers=1
    ) as base:
        path = "/analytics?region=eu_west&days="
        line = len(f"GET {path} HTTP/1.1")  # what gunicorn measures, besides the value
        over = get(base + path + "9" * (REQUEST_LINE_LIMIT + 1 - line), key)
        under = get(base + path + "9" * (REQUEST_LINE_LIMIT - 200 - line), key)

    assert over[0] == 414 and over[1] == "text/html", over
    assert "URI Too Long" in over[2]
    # Under the limit, the API itself reads the query and names the field it refuses.
    assert under[0] == 400 and under[1] == "application/json", under
    assert "days" in under[2]
