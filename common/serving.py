"""Where the service listens, and the start banner's "ready" line (issue 18, finding 9).

The address comes from the environment as gunicorn.conf.py reads it: `BIND` when set, else
`HOST` (127.0.0.1) and `PORT` (8002). `bin/start` runs `python -m common.serving` in the
background just before it hands over to gunicorn: it polls `/readyz` and prints the ready line
only once the service answers there (gunicorn prints "Listening" seconds before a worker has
loaded the application), and gives up silently when the server it waits for has gone.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = "8002"
_WILDCARDS = {"0.0.0.0", "::", "[::]", ""}  # noqa: S104 - names of "every interface", not a bind


def bind_address(environ: Mapping[str, str] = os.environ) -> str:
    """What gunicorn binds: `BIND`, or `HOST:PORT`."""
    return environ.get("BIND") or f"{environ.get('HOST') or DEFAULT_HOST}:{environ.get('PORT') or DEFAULT_PORT}"


def base_url(environ: Mapping[str, str] = os.environ) -> str | None:
    """The URL a browser on this machine opens (a wildcard bind is reached on 127.0.0.1); None for
    a bind that is not TCP (a unix socket, several addresses)."""
    bind = bind_address(environ)
    if bind.startswith(("unix:", "fd://")) or " " in bind or "," in bind:
        return None
    host, _, port = bind.rpartition(":")
    if not port.isdigit():
        return None
    if host in _WILDCARDS:
        host = DEFAULT_HOST
    return f"http://{host}:{port}"


def answers(url: str, timeout: float = 2.0) -> bool:
    """Whether `url` answers 200 (a worker has loaded the application and reached the database)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our own address
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def ready_line(base: str) -> str:
    return (
        f"Model Dispatch Service ready: {base}/  (admin {base}/admin/, teacher form {base}/teacher/,"
        f" API docs {base}/docs)"
    )


def announce(base: str, *, server_pid: int, limit: float, interval: float = 0.25) -> bool:
    """Poll `base`/readyz until it answers, then print the ready line; False (and a line saying
    so) if it did not within `limit` seconds; False, silently, once `server_pid` is gone."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not _alive(server_pid):
            return False
        if answers(base + "/readyz"):
            print(ready_line(base), flush=True)
            return True
        time.sleep(interval)
    print(f"Model Dispatch Service still not answering at {base}/readyz after {limit:g} s", flush=True)
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the start banner's ready line once the service answers.")
    parser.add_argument("--server-pid", type=int, default=os.getppid(), help="stop waiting when it exits")
    parser.add_argument("--limit", type=float, default=300.0)
    args = parser.parse_args(argv)
    base = base_url()
    if base is None:
        print(f"Model Dispatch Service starting on {bind_address()} (not TCP: no readiness check)", flush=True)
        return 0
    print(f"Model Dispatch Service starting on {base}/ ... (the ready line follows once it answers)", flush=True)
    return 0 if announce(base, server_pid=args.server_pid, limit=args.limit) else 1


if __name__ == "__main__":
    sys.exit(main())
