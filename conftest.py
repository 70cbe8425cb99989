"""Test-wide fixtures: a fresh snapshot per test, the two database roles, and the PostgreSQL/Redis gates.

Tests marked `postgres` need PostgreSQL (DATABASE_URL), and tests using `require_redis` need Redis
(REDIS_URL); outside CI they skip without them, and in CI (CI=true) they fail instead, so a green
CI run has really exercised them. `require_two_roles` does the same for DATABASE_OWNER_URL.
Browser tests (the `browser` marker, or pytest-playwright's `page`/`browser`/`context`) need
Debian's chromium: without it they skip with the reason on a laptop and fail under CI=true.

With DATABASE_OWNER_URL (two roles, as in .ci/run), the owner role creates and migrates the test
database, which applies the production grants (post_migrate), and every test's app code runs on
`default`, as the service role. The one thing the harness does as the owner is the flush that
ends a transactional test (TRUNCATE of every table, which the service role may not do): `default`
is made the owner's test mirror, so Django's TransactionTestCase flushes through `owner`.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API beside the ORM


def _two_roles() -> bool:
    from django.conf import settings

    return "owner" in settings.DATABASES


@pytest.fixture(scope="session")
def django_db_setup(
    request,
    django_test_environment,
    django_db_blocker,
    django_db_use_migrations,
    django_db_keepdb,
    django_db_createdb,
    django_db_modify_db_settings,
):
    """pytest-django's own set-up, except that with two roles the owner sets up the test database."""
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django.fixtures import _disable_migrations, _get_databases_for_setup

    if not django_db_use_migrations:
        _disable_migrations()
    keepdb = bool(django_db_keepdb and not django_db_createdb)
    aliases: Any
    aliases, serialized_aliases = _get_databases_for_setup(request.session.items)
    two_roles = _two_roles() and bool(aliases)
    if two_roles:  # one database, created and migrated by its owner; `default` joins it after
        aliases = (set(aliases) - {"default"}) | {"owner"}
        serialized_aliases = {"owner" if alias == "default" else alias for alias in serialized_aliases}
    with django_db_blocker.unblock():
        db_cfg = setup_databases(
            verbosity=request.config.option.verbose,
            interactive=False,
            aliases=aliases,
            serialized_aliases=serialized_aliases,
            keepdb=keepdb,
        )
        if two_roles:
            _service_joins_the_test_database()
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            if two_roles:
                _close("default")  # the owner drops the database: nobody else may be connected
            try:
                teardown_databases(db_cfg, verbosity=request.config.option.verbose)
            except Exception as exc:
                request.node.warn(pytest.PytestWarning(f"Error when trying to teardown test databases: {exc!r}"))


def _close(alias: str) -> None:
    from django.db import connections

    connection = connections[alias]
    connection.close()
    if hasattr(connection, "close_pool"):
        connection.close_pool()


def _service_joins_the_test_database() -> None:
    from django.db import connections
    from django.test import TestCase, TransactionTestCase

    name = connections["owner"].settings_dict["NAME"]
    service = connections["default"]
    _close("default")
    service.settings_dict["NAME"] = name  # the same dict as settings.DATABASES["default"]
    # Flushes go through the owner: TransactionTestCase flushes only non-mirror aliases.
    service.settings_dict["TEST"]["MIRROR"] = "owner"
    TransactionTestCase.databases = {"default", "owner"}
    TestCase.databases = {"default"}  # one transaction per test: the owner could not see its rows


@pytest.fixture(scope="session", autouse=True)
def _owner_url_stays_here():
    """Servers and scripts that tests start (bin/start, gunicorn, manage.py) are given their own
    DATABASE_URL; this run's DATABASE_OWNER_URL names another database and must not follow them."""
    from django.conf import settings

    assert settings.DATABASES  # read (the owner alias is configured) before the variable goes
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("DATABASE_OWNER_URL", raising=False)
        yield


@pytest.fixture
def require_two_roles():
    """Tests of the service role's refusals: they need DATABASE_OWNER_URL (two roles); fail in CI without."""
    if not _two_roles():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI must run this with two roles: DATABASE_OWNER_URL set (see .ci/run)")
        pytest.skip("needs two database roles: set DATABASE_OWNER_URL (never skipped in CI)")


@pytest.fixture(autouse=True)
def _fresh_snapshot():
    from policies.snapshot import snapshot_forget
    from policies.snapshot.share import share_reset
    from policies.snapshot.stamp import stamp_reset

    snapshot_forget()
    stamp_reset()
    share_reset()
    yield
    snapshot_forget()


@pytest.fixture(autouse=True)
def _fresh_rate_counts():
    """Each test starts with empty rate-limit counters, every provider healthy and no cached API keys."""
    from clients.keys import principal_cache
    from common.counters import counters_reset
    from providers.health.store import health_reset

    counters_reset()
    health_reset()
    principal_cache.clear()
    yield


@pytest.fixture
def keyed_api(db):
    """An APIClient sending a valid API key with every scope (see api.testing for others)."""
    from api.testing import keyed_api as make

    return make()[0]


def _on_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def _ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def pytest_configure(config):
    """Each xdist worker keeps its Redis keys under its own cache prefix: the workers share one
    Redis, and a test that deletes, corrects or forges the snapshot stamp must not move another
    worker's (before any cache is opened or any test module reads the prefix)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    from django.conf import settings
    from django.core.cache import caches

    assert not caches.all(initialized_only=True), "a cache was opened before the per-worker prefix was set"
    default = settings.CACHES["default"]
    default["KEY_PREFIX"] = f"{default.get('KEY_PREFIX') or 'mds'}-{worker}"


def pytest_collection_modifyitems(config, items):
    ci = _ci()
    for item in items:
        if "postgres" in item.keywords and not ci:
            from django.conf import settings

            if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
                item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (never skipped in CI)"))
        if _needs_chromium(item) and not ci and not _chromium_present():
            item.add_marker(pytest.mark.skip(reason=f"browser test {_CHROMIUM_MISSING} (never skipped in CI)"))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Under CI=true a browser test without chromium fails, before its fixtures (live server) start."""
    if _ci() and _needs_chromium(item) and not _chromium_present():
        pytest.fail(f"CI must run this browser test, which {_CHROMIUM_MISSING} (.ci/run installs it)", pytrace=False)


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
# MDS_TEST_CHROMIUM exists for the gate's own test (dispatch_site/tests/test_browser_gate.py).
CHROMIUM = os.environ.get("MDS_TEST_CHROMIUM", "/usr/bin/chromium")
_CHROMIUM_MISSING = f"needs Debian's chromium at {CHROMIUM}: apt-get install -y chromium"
_BROWSER_FIXTURES = frozenset({"page", "browser", "context"})
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
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_ARGS}


def _chromium_present() -> bool:
    return os.access(CHROMIUM, os.X_OK)


def _needs_chromium(item: pytest.Item) -> bool:
    return item.get_closest_marker("browser") is not None or bool(
        _BROWSER_FIXTURES & set(getattr(item, "fixturenames", ()))
    )


AXE_VERSION = "4.14.1"  # bin/fetch-axe pins it, with its sha256
AXE_IMPACTS = ("serious", "critical")
_AXE_RUN = """async () => {
  // one run at a time in a page: the session-wide watch and a test's own axe(page) may overlap
  const run = (window.__axeRuns || Promise.resolve()).catch(() => null)
    .then(() => axe.run(document, { resultTypes: ["violations"] }));
  window.__axeRuns = run;
  const result = await run;
  return result.violations.filter(v => %s.includes(v.impact))
    .map(v => v.impact + " " + v.id + ": " + v.help + " @ "
              + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | "));
}"""


def _axe_script() -> Any:
    """axe.min.js's path (fetched through bin/fetch-axe when missing); skip (fail under CI=true) without it."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent
    script = root / ".cache" / "axe-core" / f"axe-{AXE_VERSION}.min.js"
    if not script.exists():
        subprocess.run([str(root / "bin" / "fetch-axe")], check=False, capture_output=True, timeout=120)  # noqa: S603
    if not script.exists():
        message = f"axe-core {AXE_VERSION} not available: run bin/fetch-axe (needs npm)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return script


def _axe_violations(page: Any, source: str) -> list[str]:
    """Run axe-core in the page. Injected through the DevTools protocol (page.evaluate), which the
    product's CSP does not govern, so pages keep their real CSP."""
    import json

    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(source + "\n;void 0")
    return list(page.evaluate(_AXE_RUN % json.dumps(list(AXE_IMPACTS))))


@pytest.fixture(scope="session")
def axe():
    """`axe(page)`: the page's serious and critical accessibility violations (axe-core, run in the page).

    axe.min.js comes from the npm registry through bin/fetch-axe (`make test` runs it) into
    .cache/axe-core/; without it the test skips, except under CI=true."""
    source = _axe_script().read_text()

    def check(page: Any) -> list[str]:
        return _axe_violations(page, source)

    return check


# Every admin and teacher page a browser test loads is checked by axe-core once per session (per
# xdist worker): the first time a path under these prefixes finishes loading, in any page of any
# test, axe runs in it; a serious or critical violation fails the test that loaded it, naming the
# page and the rules. Keyed on the path (not the query), so the cost is one axe run per page kind.
AXE_PREFIXES = ("/admin/", "/teacher/", "/accounts/")
_AXE_CHECKED: set[str] = set()


def _axe_log(path: str, violations: int) -> None:
    """artifacts/axe-checked-<xdist worker>.txt: each path checked and its violation count."""
    from pathlib import Path

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    log = Path(__file__).resolve().parent / "artifacts" / f"axe-checked-{worker}.txt"
    log.parent.mkdir(exist_ok=True)
    with log.open("a") as out:
        out.write(f"{path} {violations}\n")


AXE_SETTLE_SECONDS = 20  # at a test's end, how long a check still running may take to finish


class _AxeWatch:
    def __init__(self, source: str) -> None:
        self.source = source
        self.found: list[str] = []
        self.running: dict[Any, str] = {}  # page -> path being checked
        self.missed: dict[str, tuple[Any, str]] = {}  # path -> (context, URL): left before its check ended

    def attach(self, page: Any) -> None:
        page.on("load", lambda: self.check(page))

    def check(self, page: Any) -> None:
        from urllib.parse import urlsplit

        path = urlsplit(page.url).path
        if not path.startswith(AXE_PREFIXES) or path in _AXE_CHECKED or path in self.running.values():
            return
        self.running[page] = path
        try:
            violations = _axe_violations(page, self.source)
        except Exception:
            self.missed.setdefault(path, (page.context, page.url))
            return
        finally:
            self.running.pop(page, None)
        _AXE_CHECKED.add(path)
        _axe_log(path, len(violations))
        self.found.extend(f"{path}: {v}" for v in violations)

    def settle(self) -> None:
        """Let checks still running finish (each page's event loop turns while we wait on it)."""
        import time

        deadline = time.monotonic() + AXE_SETTLE_SECONDS
        while self.running and time.monotonic() < deadline:
            page = next(iter(self.running))
            try:
                page.wait_for_timeout(50)
            except Exception:
                self.running.pop(page, None)
        for path, (context, url) in list(self.missed.items()):
            # the test left the page before axe finished: open it again (GET) in the same session
            if path in _AXE_CHECKED:
                continue
            try:
                page = context.new_page()
                page.goto(url)
                self.check(page)  # returns at once when the page's own load event got there first
                deadline = time.monotonic() + AXE_SETTLE_SECONDS
                while page in self.running and time.monotonic() < deadline:
                    page.wait_for_timeout(50)
                page.close()
            except Exception:  # the context is closed: say so rather than pass silently
                _axe_log(path, -1)
        self.missed.clear()


_AXE_WATCH = pytest.StashKey[_AxeWatch]()


@pytest.fixture(autouse=True)
def _axe_every_page(request, monkeypatch):
    """Browser tests: attach the axe watch to every page opened, whichever way it is opened."""
    if not _needs_chromium(request.node):
        yield
        return
    from playwright.sync_api import Browser

    watch = request.node.stash[_AXE_WATCH] = _AxeWatch(_axe_script().read_text())
    new_context, new_page = Browser.new_context, Browser.new_page

    def watched_context(self: Any, *args: Any, **kwargs: Any) -> Any:
        context = new_context(self, *args, **kwargs)
        context.on("page", watch.attach)
        return context

    def watched_page(self: Any, *args: Any, **kwargs: Any) -> Any:
        page = new_page(self, *args, **kwargs)
        watch.attach(page)
        return page

    monkeypatch.setattr(Browser, "new_context", watched_context)
    monkeypatch.setattr(Browser, "new_page", watched_page)
    yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    watch = item.stash.get(_AXE_WATCH, None)
    if watch is not None:
        watch.settle()
        if watch.found:
            found = "\n".join(watch.found)
            pytest.fail(f"axe-core: serious or critical accessibility violations\n{found}", pytrace=False)
    return result


@pytest.fixture(scope="session")
def artifacts_dir():
    """Where browser tests write the screenshots an issue asks for (git-ignored)."""
    from pathlib import Path

    path = Path(__file__).resolve().parent / "artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def two_workers(require_postgres, require_redis, settings, tmp_path):
    """gunicorn with two sync workers on this test's database and Redis: (base URL, access log path).
    The log names the pid that served each request (`dispatch_site.tests.servers.served_by`)."""
    from django.db import connection

    from dispatch_site.tests.servers import gunicorn_workers

    log_path = tmp_path / "gunicorn.log"
    with gunicorn_workers(database=connection.settings_dict, redis_url=settings.REDIS_URL, log_path=log_path) as base:
        yield base, log_path
