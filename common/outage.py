"""Fail fast while the database is down, per worker.

A sync gunicorn worker that waits the pool timeout (3 s) on every request while PostgreSQL is
down serves a third of a request per second, and the queue behind it (health probes included)
grows until clients time out. So when a request meets a database outage, this worker:

- answers 503 at once for `DB_OUTAGE_HOLD_SECONDS`;
- then tries one direct connection (1 s connect timeout; refused is instant): still down, it
  holds again; up, it serves normally again;
- drops its connection pool when the outage starts: those connections died with the server,
  and a fresh pool connects at once instead of waiting out the old pool's reconnect back-off.

A statement timeout is not an outage (the server answered) and trips nothing. /healthz always
runs; /readyz answers 503 at once while this worker holds an outage.

The same JSON 503 answers every surface: the API's exception handler (`api.errors`) and, for the
admin and the pages, `DatabaseUnavailableMiddleware`, both through `database_unavailable`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, connections
from django.http import HttpRequest, HttpResponse, JsonResponse

from common.errors import DatabaseUnavailable

logger = logging.getLogger("dispatch.errors")

EXEMPT_PATHS = ("/healthz", "/readyz")  # they answer for themselves (readyz asks outage_active)
_lock = threading.Lock()
_state = {"until": 0.0, "down": False}


def outage_active() -> bool:
    """True while this worker answers 503 without trying the database."""
    if not _state["down"]:
        return False
    if time.monotonic() < _state["until"]:
        return True
    with _lock:  # hold over: one trial connection decides
        if not _state["down"] or time.monotonic() < _state["until"]:
            return bool(_state["down"])
        if database_reachable():
            _state["down"] = False
            logger.warning("database reachable again: serving")
            return False
        _state["until"] = time.monotonic() + settings.DB_OUTAGE_HOLD_SECONDS
        return True


def database_reachable() -> bool:
    """One direct connection with a 1 s timeout, outside the pool (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        return True
    import psycopg

    params = connection.get_connection_params()
    params.pop("pool", None)
    params["connect_timeout"] = 1
    try:
        psycopg.connect(**params).close()
    except Exception:  # refused, starting up, shutting down, timed out: all "not yet"
        return False
    return True


def outage_record(exc: BaseException) -> None:
    """Note a database failure met by a request; an outage starts this worker's hold."""
    if type(exc.__cause__).__name__ == "QueryCanceled":
        return  # statement timeout: the database is up, this query was slow
    if _state["down"] or database_reachable():
        return  # already held, or up (a saturated pool or a dropped connection is not an outage)
    with _lock:
        if _state["down"]:
            return
        _state["down"] = True
        _state["until"] = time.monotonic() + settings.DB_OUTAGE_HOLD_SECONDS
    logger.warning(
        "database outage: answering 503 without waiting, retrying every %.1f s", settings.DB_OUTAGE_HOLD_SECONDS
    )
    for conn in connections.all(initialized_only=True):
        if conn.in_atomic_block:
            continue  # never close under an open transaction (tests wrap each test in one)
        with contextlib.suppress(Exception):  # the connection is already broken; closing may fail too
            conn.close()
        close_pool = getattr(conn, "close_pool", None)  # PostgreSQL with a pool only
        if close_pool is not None:
            with contextlib.suppress(Exception):
                close_pool()


def outage_forget() -> None:
    with _lock:
        _state["down"] = False
        _state["until"] = 0.0


# Driver, pool and timeout failures all arrive as these (Django wraps psycopg's errors, and
# psycopg_pool.PoolTimeout is an OperationalError): a stall becomes a 503, never a 500.
DATABASE_DOWN_ERRORS = (OperationalError, InterfaceError)


def database_unavailable(request: HttpRequest, exc: Exception) -> DatabaseUnavailable:
    """Log a database outage (one line, no traceback) with its request id; the error to answer with."""
    outage_record(exc)
    logger.warning(
        "database unavailable on %s %s request_id=%s: %s: %s",
        request.method,
        request.path,
        request.GET.get("request_id", ""),
        type(exc).__name__,
        str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "",
    )
    return DatabaseUnavailable("The database is unavailable; retry shortly with the same request_id.")


def _unavailable_response(error: DatabaseUnavailable) -> JsonResponse:
    response = JsonResponse(error.body(), status=error.status_code)
    response["Retry-After"] = str(error.retry_after_seconds)
    return response


class DatabaseUnavailableMiddleware:
    """A database outage is the same JSON 503 outside the API too (admin, pages), and while this
    worker holds an outage requests get it at once."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if outage_active() and request.path not in EXEMPT_PATHS:
            return _unavailable_response(
                DatabaseUnavailable("The database is unavailable; retry shortly with the same request_id.")
            )
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_DOWN_ERRORS):
            return None
        return _unavailable_response(database_unavailable(request, exception))
