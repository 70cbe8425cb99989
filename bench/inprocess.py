"""In-process cost per request: Django's WSGI handler called directly, no server, no network.

CPU time (`time.process_time`) counts only this process's work, so it is far less disturbed by
other load on the machine than wall-clock rates: the dispatch/baseline CPU ratio is the cost
the service adds per request, on the same database and the same middleware stack.
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import time
import uuid
from typing import Any

from bench.world import contexts


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


def cpu_per_request(
    paths: tuple[str, ...], *, calls: int, rounds: int = 3, api_key: str = ""
) -> dict[str, dict[str, float]]:
    """Median over alternating rounds of CPU and wall microseconds per request, per path."""
    import logging
    import warnings

    from django.core.handlers.wsgi import WSGIHandler

    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic here

    logging.disable(logging.WARNING)  # refusals log a 4xx warning each; keep the terminal quiet
    app = WSGIHandler()
    asks = contexts(max(calls, 500), seed=5)
    for path in paths:  # warm: snapshot, compiled contexts, prepared statements
        for n in range(200):
            _call(app, path, asks[n], api_key)
    cpu: dict[str, list[float]] = {p: [] for p in paths}
    wall: dict[str, list[float]] = {p: [] for p in paths}
    for _ in range(rounds):
        for path in paths:
            c0, w0 = time.process_time(), time.perf_counter()
            for n in range(calls):
                _call(app, path, asks[n % len(asks)], api_key)
            cpu[path].append((time.process_time() - c0) / calls * 1e6)
            wall[path].append((time.perf_counter() - w0) / calls * 1e6)
    logging.disable(logging.NOTSET)
    return {p: {"cpu_us": statistics.median(cpu[p]), "wall_us": statistics.median(wall[p])} for p in paths}
