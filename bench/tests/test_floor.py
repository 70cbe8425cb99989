"""The bench's independent floor (bench/floor/, issue 14): it is what the issue says, it stays equal
to the product where the comparison needs it, and it starts, validates and inserts on PostgreSQL.

Nothing here is timed: the figures come from `make bench`.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import urllib.error
import urllib.request
from types import ModuleType

import pytest

from bench.floor import vocabulary as floor_vocabulary
from bench.http_bench import ROOT, FloorStack, database_create, database_drop, floor_env, floor_migrate
from vocabulary import GradeBand, Region, Subject

DB_SETTINGS = (
    "DB_POOL_MIN_SIZE",
    "DB_POOL_MAX_SIZE",
    "DB_POOL_TIMEOUT",
    "DB_CONNECT_TIMEOUT",
    "DB_STATEMENT_TIMEOUT_MS",
)


def _settings_module(relative: str, alias: str) -> ModuleType:
    """A settings file executed afresh under the current environment (not the running settings)."""
    spec = importlib.util.spec_from_file_location(alias, ROOT / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_floor_vocabulary_equals_the_products_in_order():
    assert list(floor_vocabulary.SUBJECTS) == [s.value for s in Subject]
    assert list(floor_vocabulary.GRADE_BANDS) == [g.value for g in GradeBand]
    assert list(floor_vocabulary.REGIONS) == [r.value for r in Region]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"DB_POOL_MIN_SIZE": "2", "DB_POOL_MAX_SIZE": "7", "DB_POOL_TIMEOUT": "1.5", "DB_STATEMENT_TIMEOUT_MS": "1234"},
    ],
)
def test_floor_database_settings_equal_the_products(monkeypatch, overrides):
    for name in ("DJANGO_ENV", "DB_POOL", *DB_SETTINGS):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/any")
    for name, value in overrides.items():
        monkeypatch.setenv(name, value)
    product = _settings_module("dispatch_site/settings.py", "product_settings_fresh").DATABASES["default"]
    floor = _settings_module("bench/floor/settings.py", "floor_settings_fresh").DATABASES["default"]
    assert floor["ENGINE"] == product["ENGINE"] == "django.db.backends.postgresql"
    assert floor["CONN_MAX_AGE"] == product["CONN_MAX_AGE"] == 0
    assert floor["OPTIONS"] == product["OPTIONS"]  # pool sizes and timeout, connect and statement timeouts
    assert "pool" in floor["OPTIONS"]


def test_floor_is_the_bare_stack_the_issue_describes(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/any")
    floor = _settings_module("bench/floor/settings.py", "floor_settings_fresh")
    assert floor.INSTALLED_APPS == [
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "rest_framework",
        "bench.floor.apps.FloorConfig",
    ]
    assert floor.MIDDLEWARE == [
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
    ]
    drf = floor.REST_FRAMEWORK
    assert drf["DEFAULT_AUTHENTICATION_CLASSES"] == drf["DEFAULT_PERMISSION_CLASSES"] == []
    assert drf["DEFAULT_THROTTLE_CLASSES"] == []
    assert drf["DEFAULT_RENDERER_CLASSES"] == ["rest_framework.renderers.JSONRenderer"]
    assert drf["DEFAULT_PARSER_CLASSES"] == ["rest_framework.parsers.JSONParser"]
    # The product never mounts or imports it.
    for path in (ROOT / "dispatch_site").rglob("*.py"):
        assert "bench.floor" not in path.read_text(), path


def _server(settings) -> str:
    """The server as a role that may create databases: the owner when the suite runs as two roles."""
    db = settings.DATABASES.get("owner") or settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"


def _post(url: str, body: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 - our own loopback server
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _rows(server: str, database: str) -> list[tuple[str, str, str]]:
    import psycopg

    with psycopg.connect(f"{server}/{database}") as conn:
        return conn.execute("SELECT subject, grade_band, region FROM floor_rows").fetchall()


@pytest.mark.postgres
def test_floor_starts_validates_and_inserts_one_row(require_postgres, settings, tmp_path):
    import psycopg

    server = _server(settings)
    db = settings.DATABASES["default"]
    database = (db.get("TEST", {}).get("NAME") or f"test_{db['NAME']}") + "_floor"
    database_create(database, server=server)
    stack = FloorStack(database=database, workers=1, log_path=tmp_path / "gunicorn.log", server=server)
    try:
        floor_migrate(database, server=server)
        subprocess.run(  # the floor's migrations are complete, under its own settings
            [sys.executable, "-m", "django", "makemigrations", "--check", "--dry-run"],
            cwd=ROOT,
            env=floor_env(database, server=server),
            check=True,
            capture_output=True,
        )
        stack.start()  # gunicorn.conf.py, as the bench runs it
        url = stack.base + "/floor"
        valid = {"subject": "mathematics", "grade_band": "elementary", "region": "eu_west"}
        for field in valid:
            status, body = _post(url, {**valid, field: "astrology"})
            assert status == 400
            errors = json.loads(body)
            assert list(errors) == [field]
            assert "astrology" in errors[field][0] and "not a valid choice" in errors[field][0]
        assert _rows(server, database) == []

        status, body = _post(url, valid)
        assert status == 200
        assert 900 <= len(body) <= 1200  # about 1 KB
        answer = json.loads(body)
        assert {k: answer[k] for k in valid} == valid
        assert _rows(server, database) == [("mathematics", "elementary", "eu_west")]
        with psycopg.connect(f"{server}/{database}") as conn:
            columns = conn.execute(
                "SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'floor_rows'"
            ).fetchone()
            request_id = conn.execute("SELECT request_id::text FROM floor_rows").fetchone()
        assert columns == (11,)
        assert request_id == (answer["request_id"],)
    finally:
        stack.stop()
        database_drop(database, server=server)
