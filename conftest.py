"""Test-wide fixtures: a fresh snapshot per test, and the PostgreSQL/Redis gates.

Tests marked `postgres` need PostgreSQL (DATABASE_URL), and tests using `require_redis` need Redis
(REDIS_URL); outside CI they skip without them, and in CI (CI=true) they fail instead, so a green
CI run has really exercised them.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API beside the ORM


@pytest.fixture(autouse=True)
def _fresh_snapshot():
    from policies.snapshot import snapshot_forget
    from policies.snapshot_share import share_reset
    from policies.stamp import stamp_reset

    snapshot_forget()
    stamp_reset()
    share_reset()
    yield
    snapshot_forget()


@pytest.fixture(autouse=True)
def _fresh_rate_counts():
    """Each test starts with empty rate-limit counters and no cached API keys."""
    from clients.keys import principal_cache
    from dispatch_site.ratelimit import counters_reset

    counters_reset()
    principal_cache.clear()
    yield


@pytest.fixture
def keyed_api(db):
    """An APIClient sending a valid API key with every scope (see clients.testing for others)."""
    from clients.testing import keyed_api as make

    return make()[0]


def _on_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    ci = os.environ.get("CI", "").lower() == "true"
    for item in items:
        if "postgres" in item.keywords and not ci:
            from django.conf import settings

            if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
                item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (never skipped in CI)"))


@pytest.fixture
def require_postgres():
    if not _on_postgres():
        pytest.fail("this test needs PostgreSQL (DATABASE_URL=postgres://...)")


@pytest.fixture
def require_redis(settings):
    """Tests that need Redis: skip without REDIS_URL on a laptop; fail in CI (CI=true sets it)."""
    if not settings.REDIS_URL:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI must run this with REDIS_URL set")
        pytest.skip("needs Redis: set REDIS_URL (never skipped in CI)")


# Browser tests: pytest-playwright's `page`, driving Debian's chromium (no downloaded browsers).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def artifacts_dir():
    """Where browser tests write the screenshots an issue asks for (git-ignored)."""
    from pathlib import Path

    path = Path(__file__).resolve().parent / "artifacts"
    path.mkdir(exist_ok=True)
    return path
