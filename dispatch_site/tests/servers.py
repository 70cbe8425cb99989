"""Real servers for tests: free ports, readiness, and gunicorn with several workers on the test's
own PostgreSQL database and Redis (the `two_workers` fixture in conftest.py).

Tests that prove cross-worker behaviour (limits, snapshot sharing, background jobs that must run
once) start the product as it is served: gunicorn.conf.py, sync workers, production defaults.
"""

from __future__ import annotations

import contextlib
import hashlib
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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, seconds: float = 180) -> None:
    """Until `url` answers 200. bin/start migrates and seeds a new database first: on a machine busy
    with the rest of the suite that took over 60 s once, so the bound is generous (a hung start
    still fails, in at most `seconds`)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise AssertionError("the service did not become ready in time")


def request(url: str, key: str, body: dict | None = None) -> tuple[int, dict]:
    """One API call with an API key: (status, JSON body)."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def served_by(log_path: Path, path: str) -> set[str]:
    """The worker pids that served `path` (from the access log)."""
    return set(re.findall(rf"served-by=<?(\d+)>? \d+ {re.escape(path)}$", log_path.read_text(), re.MULTILINE))


def server_prefix(log_path: Path) -> str:
    """The cache key prefix of the servers `gunicorn_workers` starts with access log `log_path`
    (a test's own: its tmp_path is unique), so a test can aim at exactly its servers' keys."""
    return f"w2-{hashlib.sha256(str(log_path).encode()).hexdigest()[:10]}"


def _database_url(database: dict[str, Any]) -> str:
    host, port = database["HOST"] or "127.0.0.1", database["PORT"] or 5432
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    return f"postgres://{database['USER']}{password}@{host}:{port}/{database['NAME']}"


def _get(url: str) -> None:
    urllib.request.urlopen(url, timeout=5).close()  # noqa: S310 - loopback only


@contextlib.contextmanager
def gunicorn_workers(
    *, database: dict[str, Any], redis_url: str, log_path: Path, workers: int = 2, env: dict[str, str] | None = None
) -> Iterator[str]:
    """gunicorn with `workers` sync workers on `database` (a Django settings dict) and `redis_url`;
    yields its base URL once every worker has answered. Its access log names the serving pid."""
    port = free_port()
    server_env = {
        **{k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}},
        "DATABASE_URL": _database_url(database),
        "REDIS_URL": redis_url,
        "CACHE_KEY_PREFIX": server_prefix(log_path),  # counts of this test only
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_ACCESS_LOG": "-",
        **(env or {}),
    }
    for name in ("DATABASE_TEST_NAME", "DATABASE_OWNER_URL"):  # the server is the service, nothing more
        server_env.pop(name, None)
    log = log_path.open("w")
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    process = subprocess.Popen(  # noqa: S603 - our own app
        [gunicorn, "-c", "gunicorn.conf.py", "--access-logformat", "served-by=%(p)s %(s)s %(U)s", "dispatch_site.wsgi"],
        cwd=ROOT,
        env=server_env,
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
        # Every worker up: healthz in parallel until each pid answered (a worker may still be booting).
        while len(served_by(log_path, "/healthz")) < workers:
            assert time.monotonic() < deadline, "not every worker started"
            with ThreadPoolExecutor(max_workers=2 * workers) as pool:
                list(pool.map(lambda _: _get(base + "/healthz"), range(4 * workers)))
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        log.close()
