"""In-process cost per request: Django's WSGI handler called directly, no server, no network.

CPU time (`time.process_time`) counts only this process's work, so it is far less disturbed by
other load on the machine than wall-clock rates: the dispatch/baseline CPU ratio is the cost
the service adds per request, on the same database and the same middleware stack.

The floor (bench/floor/) is measured the same way in a process of its own, with its own settings
(`python -m bench.inprocess --path /floor`, driven by `FloorMeter`): the same requests, the same
warm-up, the same number of calls per round, its rounds interleaved with the product's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.world import contexts

ROOT = Path(__file__).resolve().parent.parent
WARM_CALLS = 200


def _call(app: Any, path: str, context: tuple[str, str, str], api_key: str = "") -> str:
    body = json.dumps({"subject": context[0], "grade_band": context[1], "region": context[2]}).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": f"request_id={uuid.uuid4()}",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": "127.0.0.1",
    }
    if api_key:
        environ["HTTP_AUTHORIZATION"] = f"Api-Key {api_key}"
    status: list[str] = []
    response = app(environ, lambda s, h: status.append(s))
    b"".join(response)
    response.close()
    return status[0]


class Meter:
    """This process's Django (already set up), warmed on `paths`; `measure()` times one round of one path."""

    def __init__(self, paths: tuple[str, ...], *, calls: int, api_key: str = "") -> None:
        import logging
        import warnings

        from django.core.servers.basehttp import get_internal_wsgi_application

        warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic here
        logging.disable(logging.WARNING)  # refusals log a 4xx warning each; keep the terminal quiet
        self.app = get_internal_wsgi_application()  # WSGI_APPLICATION: what gunicorn serves
        self.calls, self.api_key = calls, api_key
        self.asks = contexts(max(calls, 500), seed=5)
        for path in paths:  # warm: snapshot, compiled contexts, prepared statements
            for n in range(WARM_CALLS):
                _call(self.app, path, self.asks[n], api_key)

    def measure(self, path: str) -> tuple[float, float]:
        """CPU and wall microseconds per request over `calls` requests to `path`."""
        c0, w0 = time.process_time(), time.perf_counter()
        for n in range(self.calls):
            _call(self.app, path, self.asks[n % len(self.asks)], self.api_key)
        return (time.process_time() - c0) / self.calls * 1e6, (time.perf_counter() - w0) / self.calls * 1e6

    def close(self) -> None:
        import logging

        logging.disable(logging.NOTSET)


def cpu_per_request(
    paths: tuple[str, ...],
    *,
    calls: int,
    rounds: int = 3,
    api_key: str = "",
    peers: dict[str, Callable[[], tuple[float, float]]] | None = None,
) -> dict[str, dict[str, float]]:
    """Median over alternating rounds of CPU and wall microseconds per request, per path.

    `peers` are measured in other processes (name -> one round there), in each round before the paths."""
    peers = peers or {}
    meter = Meter(paths, calls=calls, api_key=api_key)
    cpu: dict[str, list[float]] = {name: [] for name in (*peers, *paths)}
    wall: dict[str, list[float]] = {name: [] for name in (*peers, *paths)}
    for _ in range(rounds):
        for name, peer in peers.items():
            c, w = peer()
            cpu[name].append(c)
            wall[name].append(w)
        for path in paths:
            c, w = meter.measure(path)
            cpu[path].append(c)
            wall[path].append(w)
    meter.close()
    return {p: {"cpu_us": statistics.median(cpu[p]), "wall_us": statistics.median(wall[p])} for p in cpu}


class FloorMeter:
    """The floor's in-process figures, from a process of its own (the floor's settings and database).

    That process warms itself like `Meter` does, then answers each "round" line on its stdin with
    one round's CPU and wall microseconds per request as JSON."""

    def __init__(self, env: dict[str, str], *, path: str, calls: int, api_key: str = "") -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench.inprocess", "--path", path, "--calls", str(calls)],
            cwd=ROOT,
            env={**env, "BENCH_API_KEY": api_key},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self._line() != "ready":
            raise RuntimeError("the floor's in-process meter did not start")

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the floor's in-process meter exited ({self.process.wait()})")
        return line.strip()

    def measure(self) -> tuple[float, float]:
        assert self.process.stdin is not None
        self.process.stdin.write("round\n")
        self.process.stdin.flush()
        figures = json.loads(self._line())
        return float(figures["cpu_us"]), float(figures["wall_us"])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def main() -> int:
    """The floor's side of `FloorMeter` (run with DJANGO_SETTINGS_MODULE=bench.floor.settings)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--path", required=True)
    parser.add_argument("--calls", type=int, required=True)
    args = parser.parse_args()
    import django

    django.setup()
    meter = Meter((args.path,), calls=args.calls, api_key=os.environ.get("BENCH_API_KEY", ""))
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "round":
            cpu_us, wall_us = meter.measure(args.path)
            print(json.dumps({"cpu_us": cpu_us, "wall_us": wall_us}), flush=True)
    meter.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
