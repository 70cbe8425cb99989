"""Limits shared by every worker: two real gunicorn workers against PostgreSQL and Redis.

A client limited to N per minute gets exactly N through, whichever worker serves each request,
and a provider at its requests-per-minute limit is passed over to its fallback.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from authoring.demo import demo_world_load
from clients.services import api_client_create
from providers.models import ModelProvider

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
BASIC = {"subject": "mathematics", "grade_band": "elementary", "region": "us_east"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(url: str, key: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def two_workers(require_postgres, require_redis, tmp_path):
    db = connection.settings_dict
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}},
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CACHE_KEY_PREFIX": f"w2-{uuid.uuid4().hex[:10]}",  # counts of this test only
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_ACCESS_LOG": "-",
    }
    env.pop("DATABASE_TEST_NAME", None)
    log_path = tmp_path / "gunicorn.log"
    log = log_path.open("w")
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    process = subprocess.Popen(  # noqa: S603 - our own app
        [gunicorn, "-c", "gunicorn.conf.py", "--access-logformat", "served-by=%(p)s %(s)s %(U)s", "dispatch_site.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=1):  # noqa: S310
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, "gunicorn did not become ready"
                time.sleep(0.3)
        # Both workers up: healthz in parallel until two pids answered (a worker may still be booting).
        while len(served_by(log_path, "/healthz")) < 2:
            assert time.monotonic() < deadline, "the second worker did not start"
            with ThreadPoolExecutor(max_workers=4) as pool:
                list(pool.map(lambda _: urllib.request.urlopen(base + "/healthz", timeout=5).close(), range(8)))  # noqa: S310
        yield base, log_path
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        log.close()


def served_by(log_path: Path, path: str) -> set[str]:
    """The worker pids that served `path` (from the access log)."""
    return set(re.findall(rf"served-by=<?(\d+)>? \d+ {re.escape(path)}$", log_path.read_text(), re.MULTILINE))


def test_a_client_limit_of_n_lets_exactly_n_through_across_two_workers(two_workers):
    base, log_path = two_workers
    demo_world_load()
    _, key = api_client_create(name="limited-app", scopes=["read"], rate="7/min")
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: request(base + "/providers?region=us_east", key)[0], range(30)))
    assert statuses.count(200) == 7, statuses
    assert statuses.count(429) == 23, statuses
    assert len(served_by(log_path, "/providers")) == 2, "both workers must have served requests"


def test_a_provider_at_its_rpm_is_passed_over_to_its_fallback_across_two_workers(two_workers):
    base, log_path = two_workers
    demo_world_load()
    openai = ModelProvider.objects.get(slug="openai-gpt4")
    openai.requests_per_minute = 4
    openai.save()  # bumps the snapshot stamp, as an admin edit does
    _, key = api_client_create(name="busy-app", scopes=["dispatch"], rate="1000/min")
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: request(base + "/dispatch", key, BASIC), range(12)))
    assert {status for status, _ in results} == {200}
    slugs = [body["provider_slug"] for _, body in results]
    assert slugs.count("openai-gpt4") == 4 and slugs.count("anthropic-claude") == 8, slugs
    for _, body in results:
        if body["provider_slug"] == "anthropic-claude":
            assert {s["name"]: s["reason"] for s in body["explanation"]["passed_over"]} == {
                "openai-gpt4": "rate_limited"
            }
    assert len(served_by(log_path, "/dispatch")) == 2, log_path.read_text()
